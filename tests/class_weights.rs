//! Class weights (`Config::class_weights`, `train --class-weight`): the weighted cross-entropy's
//! gradient against central finite differences of its loss, the CPU and GPU paths training the
//! same weighted session to the same losses, a minority class found more often with balanced
//! weights, and the weights kept through a checkpoint.

mod common;

use common::scratch::Scratch;
use wgtrain::cpu::reference;
use wgtrain::data::{Dataset, Targets};
use wgtrain::model::Loss;
use wgtrain::session::Checkpoints;
use wgtrain::{ClassWeights, Config, Device, Model, Spec, Trainer};

/// The CPU and GPU f32 paths' per-epoch losses (as in tests/session.rs): the same batches in
/// the same order, different summation orders in every matmul.
const PATHS_AGREE: common::Tol = common::Tol {
    rtol: 2e-3,
    atol: 1e-5,
};

/// 600 rows of two inputs, one class in ten: class 1 where x0 + x1 passes a high threshold,
/// with label noise, so that an unweighted network leans to class 0.
fn imbalanced() -> Dataset {
    let mut rng = wgtrain::testing::Rng::new(5);
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..600 {
        let (a, b) = (rng.next_f64() * 2.0 - 1.0, rng.next_f64() * 2.0 - 1.0);
        let noise = (rng.next_f64() - 0.5) * 0.8;
        labels.push(u32::from(a + b + noise > 1.1));
        x.extend([a as f32, b as f32]);
    }
    let targets = Targets::Classes {
        labels,
        n_classes: 2,
    };
    Dataset::new("imbalanced", x, 600, 2, targets).unwrap()
}

fn weighted(epochs: usize, w: Option<ClassWeights>) -> Config {
    Config {
        epochs,
        class_weights: w,
        ..Config::default()
    }
}

#[test]
fn a_weighted_rows_gradient_is_its_weight_times_the_loss_slope() {
    // Two rows of three logits; row 0 of class 2 weighs 2.5, row 1 of class 0 weighs 0.4.
    let out = [0.3, -1.2, 2.0, 1.5, 0.1, -0.7];
    let y = [0.0, 0.0, 2.5, 0.4, 0.0, 0.0];
    let (m, n) = (2, 3);
    let mut dz = vec![0.0; 6];
    let loss = |o: &[f64]| {
        let mut scratch = vec![0.0; 6];
        reference::loss_forward_backward(&mut scratch, o, &y, m, n, Loss::CrossEntropy, false)
            / m as f64
    };
    reference::loss_forward_backward(&mut dz, &out, &y, m, n, Loss::CrossEntropy, false);
    let h = 1e-6;
    for j in 0..6 {
        let (mut up, mut down) = (out, out);
        up[j] += h;
        down[j] -= h;
        let slope = (loss(&up) - loss(&down)) / (2.0 * h);
        // Central differences of a smooth f64 function at h = 1e-6: error ~h² plus rounding
        // ~1e-16/h.
        assert!(
            (dz[j] - slope).abs() < 1e-8,
            "logit {j}: gradient {} against the loss's slope {slope}",
            dz[j]
        );
    }
    // And the weight scales the unweighted row's gradient.
    let one_hot = [0.0, 0.0, 1.0];
    let mut plain = vec![0.0; 3];
    reference::loss_forward_backward(
        &mut plain,
        &out[..3],
        &one_hot,
        1,
        3,
        Loss::CrossEntropy,
        false,
    );
    let mut heavy = vec![0.0; 3];
    reference::loss_forward_backward(
        &mut heavy,
        &out[..3],
        &y[..3],
        1,
        3,
        Loss::CrossEntropy,
        false,
    );
    for j in 0..3 {
        assert!((heavy[j] - 2.5 * plain[j]).abs() < 1e-15);
    }
}

#[test]
fn the_same_weighted_session_on_the_gpu_ends_at_the_cpu_losses() {
    let Some(_) = common::gpu("the_same_weighted_session_on_the_gpu_ends_at_the_cpu_losses") else {
        return;
    };
    let spec = Spec::classifier(2, &[16], 2).unwrap();
    let losses = |device: Device| -> Vec<f64> {
        let config = weighted(3, Some(ClassWeights::Balanced));
        let mut t = Trainer::new(Model::init(spec.clone(), 3).unwrap(), imbalanced(), config)
            .device(device);
        let fit = t.fit(|_| Ok(())).unwrap();
        fit.reports.iter().map(|r| r.train_loss).collect()
    };
    let cpu = losses(Device::cpu());
    let gpu = losses(Device::gpu());
    common::assert_close("weighted train loss", &gpu, &cpu, PATHS_AGREE);
}

#[test]
fn balanced_weights_find_more_of_the_minority_class() {
    let spec = Spec::classifier(2, &[16], 2).unwrap();
    let recall = |w: Option<ClassWeights>| -> f64 {
        let mut t = Trainer::new(
            Model::init(spec.clone(), 1).unwrap(),
            imbalanced(),
            weighted(30, w),
        )
        .device(Device::cpu());
        t.fit(|_| Ok(())).unwrap();
        let e = t.model().unwrap().evaluate(&imbalanced()).unwrap();
        e.per_class[1].recall
    };
    let (plain, balanced) = (recall(None), recall(Some(ClassWeights::Balanced)));
    assert!(
        balanced > plain + 0.1,
        "class 1's recall: {plain:.3} unweighted, {balanced:.3} balanced"
    );
}

#[test]
fn a_checkpoint_keeps_the_weights_and_a_resumed_run_trains_with_them() {
    let s = Scratch::new("class_weights_resume");
    let file = s.path("w.safetensors");
    let spec = Spec::classifier(2, &[8], 2).unwrap();
    let w = ClassWeights::Given(vec![0.5, 4.0]);
    let mut t = Trainer::new(
        Model::init(spec, 2).unwrap(),
        imbalanced(),
        weighted(2, Some(w.clone())),
    )
    .device(Device::cpu())
    .checkpoints(Checkpoints {
        path: file.clone(),
        every: None,
        keep_best: false,
    });
    t.fit(|_| Ok(())).unwrap();
    assert_eq!(t.class_weights(), Some(&[0.5, 4.0][..]));
    let (spec, params, state) = wgtrain::checkpoint::load_training(&file).unwrap();
    let state = state.unwrap();
    assert_eq!(state.class_weights.as_deref(), Some(&[0.5, 4.0][..]));
    // Resumed without weights given: the file's.
    let model = Model::new(spec.clone(), params.clone()).unwrap();
    let mut resumed = Trainer::new(model, imbalanced(), weighted(1, None))
        .device(Device::cpu())
        .resume(state.clone());
    resumed.open().unwrap();
    assert_eq!(resumed.class_weights(), Some(&[0.5, 4.0][..]));
    // Other weights: refused, naming the setting.
    let model = Model::new(spec, params).unwrap();
    let mut other = Trainer::new(
        model,
        imbalanced(),
        weighted(1, Some(ClassWeights::Balanced)),
    )
    .device(Device::cpu())
    .resume(state);
    let e = other.open().unwrap_err().to_string();
    assert!(
        e.contains("class_weight") && e.contains("resumed run"),
        "{e}"
    );
}

/// `path`'s safetensors metadata with `key` set to `value`, as an edited file would have it.
fn set_metadata(path: &std::path::Path, key: &str, value: &str) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header["__metadata__"][key] = value.into();
    let mut h = serde_json::to_vec(&header).unwrap();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(&bytes[8 + n..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn stored_weights_that_do_not_fit_the_run_are_refused_naming_the_file_or_the_state() {
    let s = Scratch::new("class_weights_stored");
    let file = s.path("w.safetensors");
    let spec = Spec::classifier(2, &[4], 2).unwrap();
    let mut t = Trainer::new(
        Model::init(spec, 2).unwrap(),
        imbalanced(),
        weighted(1, None),
    )
    .device(Device::cpu())
    .checkpoints(Checkpoints {
        path: file.clone(),
        every: None,
        keep_best: false,
    });
    t.fit(|_| Ok(())).unwrap();
    let (spec, params, state) = wgtrain::checkpoint::load_training(&file).unwrap();
    let state = state.unwrap();
    let model = Model::new(spec, params).unwrap();
    // An edited file: one weight for two classes.
    let edited = s.path("one.safetensors");
    std::fs::copy(&file, &edited).unwrap();
    set_metadata(&edited, "class_weights", "1");
    let e = wgtrain::checkpoint::load_training(&edited)
        .expect_err("one weight for two classes")
        .to_string();
    assert!(
        e.contains("one.safetensors") && e.contains("1 weights for 2 classes"),
        "{e}"
    );
    // A state built by hand: each refused on open, not a panic or a negative loss.
    for (w, needle) in [
        (vec![], "0 weights for 2 classes"),
        (vec![1.0], "1 weights for 2 classes"),
        (vec![-5.0, 1.0], "class 0's weight is -5"),
        (vec![f32::NAN, 1.0], "class 0's weight is NaN"),
    ] {
        let st = wgtrain::checkpoint::TrainingState {
            class_weights: Some(w.clone()),
            ..state.clone()
        };
        let mut r = Trainer::new(model.clone(), imbalanced(), weighted(1, None))
            .device(Device::cpu())
            .resume(st);
        let e = r.fit(|_| Ok(())).expect_err("refused").to_string();
        assert!(
            e.contains("the resumed run's class weights") && e.contains(needle),
            "{w:?}: {e}"
        );
    }
    // A regression run: weights mean nothing there.
    let values = Dataset::new(
        "r",
        vec![1.0, 2.0, 3.0, 4.0],
        2,
        2,
        Targets::Values {
            values: vec![1.0, 2.0],
            width: 1,
        },
    )
    .unwrap();
    let reg = Model::init(Spec::regressor(2, &[4], 1).unwrap(), 0).unwrap();
    let mut r = Trainer::new(reg.clone(), values.clone(), weighted(1, None))
        .device(Device::cpu())
        .checkpoints(Checkpoints {
            path: s.path("r.safetensors"),
            every: None,
            keep_best: false,
        });
    r.fit(|_| Ok(())).unwrap();
    let (_, params, st) = wgtrain::checkpoint::load_training(&s.path("r.safetensors")).unwrap();
    let st = wgtrain::checkpoint::TrainingState {
        class_weights: Some(vec![5.0]),
        ..st.unwrap()
    };
    let mut r = Trainer::new(
        Model::new(reg.spec.clone(), params).unwrap(),
        values,
        weighted(1, None),
    )
    .device(Device::cpu())
    .resume(st);
    let e = r.fit(|_| Ok(())).expect_err("refused").to_string();
    assert!(e.contains("these targets are values"), "{e}");
}
