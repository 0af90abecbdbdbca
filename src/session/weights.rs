//! Class weights in the training loss (`Config::class_weights`): the weight of each class, and
//! the training rows' targets as their one-hot rows scaled by it. Cross-entropy's gradient on
//! every path is `p·Σy - y`, so a row of target `w·e_c` trains with `w·(p - e_c)` and counts
//! `w` times in the loss: no kernel needs to know the weights.

use crate::checkpoint::TrainingState;
use crate::config::{ClassWeights, Config};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::model::Loss;

/// The weight of each class for this run: the config's (resolved on the training rows), else a
/// resumed run's (checked as the config's are); None without weights. Refused for anything but
/// class labels under cross-entropy, and when a resumed run weighed its classes otherwise.
pub(super) fn resolve(
    config: &Config,
    resumed: Option<&TrainingState>,
    train: &Dataset,
    loss: Loss,
    names: Option<&[String]>,
) -> Result<Option<Vec<f32>>> {
    let stored = resumed.and_then(|s| s.class_weights.clone());
    let Some(cw) = &config.class_weights else {
        if let Some(w) = &stored {
            check_stored(w, train, loss)?;
        }
        return Ok(stored);
    };
    let Targets::Classes { labels, n_classes } = &train.targets else {
        return Err(Error::invalid(
            "class_weight",
            "weighs class labels; these targets are values",
        ));
    };
    if loss != Loss::CrossEntropy {
        return Err(Error::invalid(
            "class_weight",
            format!("weighs the cross-entropy loss; this network trains with {loss}"),
        ));
    }
    let w = cw.resolve(labels, *n_classes, names)?;
    if let Some(state) = resumed
        && state.class_weights.as_ref() != Some(&w)
    {
        return Err(Error::invalid(
            "class_weight",
            format!(
                "differs from the resumed run's ({})",
                state
                    .class_weights
                    .as_ref()
                    .map_or("none".to_string(), |s| list(s))
            ),
        ));
    }
    Ok(Some(w))
}

/// A resumed run's weights `w` must be what `Config::class_weights` would give for `train`
/// under `loss`: one positive finite weight per class, class labels under cross-entropy only.
/// A `TrainingState` built by hand, or read from a file edited since, gets an error that names
/// the resumed run's weights, never a panic or a negative loss.
fn check_stored(w: &[f32], train: &Dataset, loss: Loss) -> Result<()> {
    let bad = |msg: &str| {
        Error::usage(format!(
            "the resumed run's class weights [{}]: {msg}",
            list(w)
        ))
    };
    let Targets::Classes { labels, n_classes } = &train.targets else {
        return Err(bad("weigh class labels; these targets are values"));
    };
    if loss != Loss::CrossEntropy {
        return Err(bad(&format!(
            "weigh the cross-entropy loss; this network trains with {loss}"
        )));
    }
    match ClassWeights::Given(w.to_vec()).resolve(labels, *n_classes, None) {
        Err(Error::InvalidArgument { msg, .. }) => Err(bad(&msg)),
        r => r.map(drop),
    }
}

/// Class weights as a list for people: `0.5, 2`.
pub(crate) fn list(w: &[f32]) -> String {
    w.iter().map(f32::to_string).collect::<Vec<_>>().join(", ")
}

/// `train` with its class labels as dense target rows, each its class's one-hot row times the
/// class's weight.
pub(super) fn weigh(train: Dataset, w: &[f32]) -> Result<Dataset> {
    let Targets::Classes { labels, n_classes } = &train.targets else {
        return Ok(train);
    };
    let width = *n_classes;
    crate::memory::check(
        &format!("the weighted targets of {}", train.name),
        (labels.len() as u64)
            .saturating_mul(width as u64)
            .saturating_mul(4),
    )?;
    let mut values = vec![0f32; labels.len() * width];
    for (row, &l) in values.chunks_exact_mut(width).zip(labels) {
        row[l as usize] = w[l as usize];
    }
    Dataset::with_inputs(
        train.name,
        train.x,
        train.n,
        train.dim,
        Targets::Values { values, width },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Dataset {
        let targets = Targets::Classes {
            labels: vec![0, 0, 0, 1, 2, 0],
            n_classes: 3,
        };
        Dataset::new("three", vec![0.0; 6], 6, 1, targets).unwrap()
    }

    #[test]
    fn balanced_weights_make_each_class_weigh_as_much_and_the_rows_carry_them() {
        let config = Config {
            class_weights: Some(ClassWeights::Balanced),
            ..Config::default()
        };
        let w = resolve(&config, None, &three(), Loss::CrossEntropy, None)
            .unwrap()
            .unwrap();
        // 6 rows, 3 classes: 6 / (3·4), 6 / (3·1), 6 / (3·1).
        assert_eq!(w, [0.5, 2.0, 2.0]);
        let d = weigh(three(), &w).unwrap();
        let Targets::Values { values, width } = &d.targets else {
            panic!("dense targets")
        };
        assert_eq!(*width, 3);
        assert_eq!(&values[9..12], &[0.0, 2.0, 0.0], "row 3, class 1");
        let per_class: Vec<f32> = (0..3)
            .map(|c| values.iter().skip(c).step_by(3).sum())
            .collect();
        assert_eq!(per_class, [2.0, 2.0, 2.0]);
    }

    #[test]
    fn named_weights_find_their_classes_and_leave_the_others_at_one() {
        let names = ["no".to_string(), "yes".into(), "maybe".into()];
        let cw: ClassWeights = "yes=4, maybe = 0.5".parse().unwrap();
        let w = cw.resolve(&[0, 1, 2], 3, Some(&names)).unwrap();
        assert_eq!(w, [1.0, 4.0, 0.5]);
        let w = "2=3"
            .parse::<ClassWeights>()
            .unwrap()
            .resolve(&[0], 3, None);
        assert_eq!(w.unwrap(), [1.0, 1.0, 3.0]);
        let e = cw.resolve(&[0], 3, None).unwrap_err().to_string();
        assert!(
            e.contains("\"yes\" is not a class (the classes: 0 to 2)"),
            "{e}"
        );
        let e = "yes:4".parse::<ClassWeights>().unwrap_err().to_string();
        assert!(e.contains("NAME=WEIGHT"), "{e}");
        assert_eq!(
            "Balanced".parse::<ClassWeights>().unwrap(),
            ClassWeights::Balanced
        );
    }

    #[test]
    fn weights_are_refused_where_they_mean_nothing_or_differ_from_a_resumed_run() {
        let given = |w: Vec<f32>| Config {
            class_weights: Some(ClassWeights::Given(w)),
            ..Config::default()
        };
        let e = resolve(
            &given(vec![1.0, 2.0]),
            None,
            &three(),
            Loss::CrossEntropy,
            None,
        );
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("2 weights for 3 classes")
        );
        let e = resolve(
            &given(vec![1.0, 0.0, 1.0]),
            None,
            &three(),
            Loss::CrossEntropy,
            None,
        );
        assert!(e.unwrap_err().to_string().contains("class 1's weight is 0"));
        let e = resolve(&given(vec![1.0; 3]), None, &three(), Loss::Mse, None);
        assert!(e.unwrap_err().to_string().contains("cross-entropy"));
        let values = Dataset::new(
            "v",
            vec![0.0; 2],
            2,
            1,
            Targets::Values {
                values: vec![0.5, 1.0],
                width: 1,
            },
        )
        .unwrap();
        let e = resolve(&given(vec![1.0]), None, &values, Loss::CrossEntropy, None);
        assert!(e.unwrap_err().to_string().contains("values"));
    }
}
