//! Resuming a saved run: the data must be the rows it trained on, its position must fit them.

use crate::checkpoint::TrainingState;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::Spec;

/// The training split `train` (loaded as `data`) must be the one the run saved in `state`
/// (network `spec`) trained on, and its position fit `batch`.
pub(super) fn check_resumed_data(
    data: &str,
    spec: &Spec,
    state: &TrainingState,
    train: &Dataset,
    batch: usize,
) -> Result<()> {
    if spec.inputs() != train.dim || spec.outputs() != train.target_width() {
        return Err(Error::invalid(
            "data",
            format!(
                "{data} has {} inputs and {} targets, but the resumed run holds a {} network",
                train.dim,
                train.target_width(),
                spec.describe()
            ),
        ));
    }
    if state.train_rows != train.n {
        return Err(Error::invalid(
            "data",
            format!(
                "{data} gives {} training rows, but the resumed run trained on {}: resuming needs the same training data",
                train.n, state.train_rows
            ),
        ));
    }
    let per_epoch = train.n.div_ceil(batch);
    let p = state.progress;
    if p.batch >= per_epoch || state.optim.step != p.steps(per_epoch) as u64 {
        return Err(Error::usage(format!(
            "inconsistent training state: {} optimizer steps at epoch {} batch {}, with {per_epoch} batches an epoch",
            state.optim.step, p.epoch, p.batch
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Device};
    use crate::model::{Activation, Loss, Output};
    use crate::optim::{Method, OptimState, Optimizer, Schedule};
    use crate::session::Trainer;
    use crate::train::Progress;
    use crate::trained::Model;

    fn spec() -> Spec {
        Spec::new(
            vec![2, 3, 1],
            vec![Activation::Relu],
            Output::Linear,
            Loss::Mse,
        )
        .unwrap()
    }

    /// A run saved after 2 epochs of 1 batch each (4 rows, batch 16).
    fn stored() -> TrainingState {
        let mut optim = OptimState::new(Optimizer::new(Method::Adam), &spec());
        optim.step = 2;
        TrainingState {
            optim,
            schedule: Schedule::default(),
            lr: 0.001,
            l2: 0.0,
            batch: 16,
            seed: 7,
            progress: Progress { epoch: 2, batch: 0 },
            data: "xor".into(),
            train_rows: 4,
            valid_split: None,
            stratified: false,
            class_weights: None,
            standardize: None,
            target_standardize: None,
            label_column: None,
            targets: None,
            table: None,
        }
    }

    fn message(r: Result<()>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn resumed_data_must_have_the_runs_shape_rows_and_position() {
        let train = crate::data::load("xor", None).unwrap().train;
        let st = stored();
        check_resumed_data("xor", &spec(), &st, &train, 16).unwrap();
        let wide = Spec::new(
            vec![2, 3, 2],
            vec![Activation::Relu],
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap();
        assert!(
            message(check_resumed_data("xor", &wide, &st, &train, 16)).starts_with(
                "data xor has 2 inputs and 1 targets, but the resumed run holds a 2-3(relu)-2 softmax/cross-entropy network"
            )
        );
        let fewer = TrainingState {
            train_rows: 5,
            ..stored()
        };
        assert!(
            message(check_resumed_data("xor", &spec(), &fewer, &train, 16))
                .starts_with("data xor gives 4 training rows, but the resumed run trained on 5")
        );
        assert!(
            message(check_resumed_data("xor", &spec(), &st, &train, 2))
                .starts_with("inconsistent training state")
        );
    }

    #[test]
    fn a_resumed_session_whose_config_differs_from_the_run_names_the_setting() {
        let train = crate::data::load("xor", None).unwrap().train;
        let model = Model::init(spec(), 0).unwrap();
        let config = Config {
            lr: 0.001,
            batch: 16,
            seed: 7,
            optimizer: Optimizer::new(Method::Adam),
            ..Config::default()
        };
        let mut same = Trainer::new(model.clone(), train.clone(), config.clone())
            .device(Device::cpu())
            .resume(stored());
        same.open().unwrap();
        assert_eq!(same.progress(), Progress { epoch: 2, batch: 0 });
        // Each setting in its own words, not Rust's Debug form.
        let held = TrainingState {
            valid_split: Some(0.25),
            ..stored()
        };
        let mut t = Trainer::new(model.clone(), train.clone(), config.clone())
            .device(Device::cpu())
            .resume(held);
        let e = t.open().err().unwrap().to_string();
        assert_eq!(e, "valid_split none differs from the resumed run's 0.25");
        let sgd = Config {
            optimizer: Optimizer::new(Method::Sgd),
            ..config.clone()
        };
        let mut t = Trainer::new(model.clone(), train.clone(), sgd)
            .device(Device::cpu())
            .resume(stored());
        let e = t.open().err().unwrap().to_string();
        assert!(
            e.starts_with("optimizer sgd differs from the resumed run's adam (β1 0.9"),
            "{e}"
        );
        let other = Config { lr: 0.5, ..config };
        let mut t = Trainer::new(model, train, other)
            .device(Device::cpu())
            .resume(stored());
        match t.open().err() {
            Some(Error::InvalidArgument {
                arg: Some("lr"),
                msg,
            }) => {
                assert_eq!(msg, "0.5 differs from the resumed run's 0.001")
            }
            e => panic!("{e:?}"),
        }
    }
}
