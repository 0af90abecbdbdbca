//! Regression through the library: targets in the hundreds train at the default learning rate
//! once the session standardises them (and diverge without), every figure and prediction is in
//! the targets' units, the checkpoint keeps the statistics, a resumed run must keep them;
//! early stopping on the validation loss; the warning on a climbing training loss.

mod common;

use common::checkpoint_file::write_checkpoint;
use common::scratch::Scratch;
use wgtrain::checkpoint;
use wgtrain::data::standardize::Standardize;
use wgtrain::data::{Dataset, Targets};
use wgtrain::model::{Activation, Loss, Output};
use wgtrain::session::Checkpoints;
use wgtrain::{Config, Device, Error, Model, Spec, Trainer};

/// Figures computed twice from the same parameters and rows by the same f64 code.
const SAME_SUMS: f64 = 1e-12;
/// A training loss multiplied by std² against the same run on targets standardised by hand:
/// the same f32 steps on the same values, the product rounded once more in f64.
const TIMES_STD2: f64 = 1e-9;

fn diabetes_like(n: usize, seed: u64) -> Dataset {
    common::diabetes::dataset(n, seed)
}

fn regressor(inputs: usize, outputs: usize) -> Spec {
    Spec::new(
        vec![inputs, 64, outputs],
        vec![Activation::Relu],
        Output::Linear,
        Loss::Mse,
    )
    .unwrap()
}

fn close(what: &str, got: f64, want: f64, rtol: f64) {
    assert!(
        (got - want).abs() <= rtol * want.abs(),
        "{what}: got {got}, want {want}"
    );
}

/// The default config (SGD, lr 0.1, batch 32) for `epochs` epochs on 400 rows, inputs
/// standardised, targets as `scaled` says, the 100 rows of another seed as the test set.
fn diabetes_session(scaled: bool, epochs: usize) -> Trainer {
    Trainer::new(
        Model::init(regressor(10, 1), 0).unwrap(),
        diabetes_like(400, 1),
        Config {
            epochs,
            ..Config::default()
        },
    )
    .test(diabetes_like(100, 2))
    .standardize(true)
    .standardize_targets(scaled)
    .device(Device::cpu())
}

#[test]
fn targets_in_the_hundreds_train_at_the_default_lr_only_when_standardised() {
    let test = diabetes_like(100, 2);
    let mut t = diabetes_session(true, 20);
    let fit = t.fit(|_| Ok(())).unwrap();
    let model = t.model().unwrap();
    let e = model.evaluate(&test).unwrap();
    let r2 = e.regression.as_ref().unwrap().r2.unwrap();
    assert!(r2 > 0.5, "held-out R² {r2}: {e:?}");
    // The reports' test figures are the model's own evaluation: in the targets' units.
    let last = fit.reports.last().unwrap();
    close("test loss", last.test_loss.unwrap(), e.loss, SAME_SUMS);
    let m = last.test_regression.as_ref().unwrap();
    close(
        "test rmse",
        m.rmse,
        e.regression.as_ref().unwrap().rmse,
        SAME_SUMS,
    );
    close("test r2", m.r2.unwrap(), r2, SAME_SUMS);
    close(
        "loss is ½·MSE",
        e.loss,
        0.5 * e.regression.unwrap().mse,
        SAME_SUMS,
    );
    assert!(!last.train_loss_standardized);

    let mut raw = diabetes_session(false, 20);
    match raw.fit(|_| Ok(())) {
        Err(Error::Diverged(msg)) => assert!(msg.contains("epoch 1"), "{msg}"),
        Ok(_) => {
            let r2 = raw
                .model()
                .unwrap()
                .evaluate(&test)
                .unwrap()
                .regression
                .unwrap()
                .r2;
            panic!("unscaled targets trained at lr 0.1 to R² {r2:?}: the test shows nothing");
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_training_loss_is_std_squared_times_the_loss_on_standardised_targets() {
    let mut t = diabetes_session(true, 3);
    t.open().unwrap();
    let z = t.input().target_standardize.clone().unwrap();
    let fit = t.fit(|_| Ok(())).unwrap();
    // The same run on targets standardised by hand, the session told nothing of it.
    let mut data = diabetes_like(400, 1);
    if let Targets::Values { values, .. } = &mut data.targets {
        values
            .iter_mut()
            .for_each(|y| *y = (*y - z.mean[0]) / z.std[0]);
    }
    let mut by_hand = Trainer::new(
        Model::init(regressor(10, 1), 0).unwrap(),
        data,
        Config {
            epochs: 3,
            ..Config::default()
        },
    )
    .standardize(true)
    .device(Device::cpu());
    let plain = by_hand.fit(|_| Ok(())).unwrap();
    let s2 = (z.std[0] as f64).powi(2);
    for (a, b) in fit.reports.iter().zip(&plain.reports) {
        close("train loss", a.train_loss, b.train_loss * s2, TIMES_STD2);
    }
    assert_eq!(fit.reports.len(), 3);
}

#[test]
fn a_saved_model_keeps_the_target_statistics_and_predicts_in_the_targets_units() {
    let s = Scratch::new("target_stats");
    let test = diabetes_like(100, 2);
    let mut t = diabetes_session(true, 5);
    t.fit(|_| Ok(())).unwrap();
    let model = t.model().unwrap();
    let path = s.path("m.safetensors");
    model.save(&path).unwrap();
    let file = common::checkpoint_file::SafeTensors::read(&path);
    let z = model.input.target_standardize.clone().unwrap();
    assert_eq!(file.f32s("target.mean"), vec![z.mean[0] as f64]);
    assert_eq!(file.f32s("target.std"), vec![z.std[0] as f64]);
    assert!(z.mean[0] > 100.0 && z.std[0] > 30.0, "{z:?}");
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded, model);
    let Targets::Values { values: y, .. } = &test.targets else {
        unreachable!()
    };
    let p = loaded.predict(&test.x, test.n).unwrap();
    // The predictions' own RMSE against the raw targets is the evaluation's: both in the
    // targets' units.
    let mse = p
        .iter()
        .zip(y)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum::<f64>()
        / test.n as f64;
    let e = loaded.evaluate(&test).unwrap().regression.unwrap();
    close("predict's mse", mse, e.mse, 1e-6);
    assert!(
        e.rmse < 80.0,
        "rmse {} for targets of std {}",
        e.rmse,
        z.std[0]
    );
}

#[test]
fn a_checkpoint_with_a_bad_target_std_or_on_a_classifier_is_refused() {
    let s = Scratch::new("bad_target_std");
    let layers = |out: usize| {
        vec![
            ("layers.0.weight", vec![out, 1], vec![1.0; out]),
            ("layers.0.bias", vec![out], vec![0.0; out]),
        ]
    };
    let meta = |out: &'static str, loss: &'static str| {
        [
            ("sizes", if out == "linear" { "1,1" } else { "1,2" }),
            ("hidden", ""),
            ("output", out),
            ("loss", loss),
        ]
    };
    for (std, want) in [
        (
            0.0,
            "target.std holds a value that is not positive and finite",
        ),
        (
            f32::NAN,
            "target.std holds a value that is not positive and finite",
        ),
        (
            -2.0,
            "target.std holds a value that is not positive and finite",
        ),
    ] {
        let path = s.path("m.safetensors");
        let mut t = layers(1);
        t.push(("target.mean", vec![1], vec![5.0]));
        t.push(("target.std", vec![1], vec![std]));
        write_checkpoint(&path, meta("linear", "mse"), &t);
        let err = Model::load(&path).unwrap_err().to_string();
        assert!(err.contains(want), "std {std}: {err}");
    }
    let path = s.path("half.safetensors");
    let mut t = layers(1);
    t.push(("target.std", vec![1], vec![2.0]));
    write_checkpoint(&path, meta("linear", "mse"), &t);
    let err = Model::load(&path).unwrap_err().to_string();
    assert!(err.contains("tensor target.mean is missing"), "{err}");

    let path = s.path("softmax.safetensors");
    let mut t = layers(2);
    t.push(("target.mean", vec![2], vec![0.0; 2]));
    t.push(("target.std", vec![2], vec![1.0; 2]));
    write_checkpoint(&path, meta("softmax", "cross-entropy"), &t);
    let err = Model::load(&path).unwrap_err().to_string();
    assert!(err.contains("need a linear output under mse"), "{err}");

    let mut m = Model::init(Spec::classifier(1, &[], 2).unwrap(), 0).unwrap();
    let z = Standardize {
        mean: vec![0.0; 2],
        std: vec![1.0; 2],
    };
    match m.set_target_standardize(Some(z)) {
        Err(Error::InvalidArgument {
            arg: Some("target_standardize"),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_resumed_run_keeps_its_target_statistics_and_refuses_a_model_without_them() {
    let s = Scratch::new("resume_targets");
    let path = s.path("run.safetensors");
    let mut t = diabetes_session(true, 2).checkpoints(Checkpoints {
        path: path.clone(),
        every: None,
        keep_best: false,
    });
    let first = t.fit(|_| Ok(())).unwrap();
    let (spec, params, state) = checkpoint::load_training(&path).unwrap();
    let state = state.unwrap();
    let z = t.input().target_standardize.clone();
    assert!(z.is_some());
    assert_eq!(state.target_standardize, z);
    let resumed_model = |with: bool| {
        let mut m = Model::new(spec.clone(), params.clone()).unwrap();
        m.set_standardize(state.standardize.clone()).unwrap();
        if with {
            m.set_target_standardize(state.target_standardize.clone())
                .unwrap();
        }
        m
    };
    let session = |m: Model| {
        Trainer::new(
            m,
            diabetes_like(400, 1),
            Config {
                epochs: 1,
                ..Config::default()
            },
        )
        .test(diabetes_like(100, 2))
        .device(Device::cpu())
        .resume(state.clone())
    };
    let mut ok = session(resumed_model(true));
    let more = ok.fit(|_| Ok(())).unwrap();
    assert_eq!(more.reports[0].epoch, 3);
    // Still in the targets' units: the test loss of epoch 3 is near that of epoch 2.
    let (before, after) = (
        first.reports[1].test_loss.unwrap(),
        more.reports[0].test_loss.unwrap(),
    );
    assert!(
        after < 3.0 * before && after > before / 3.0,
        "{before} then {after}"
    );
    match session(resumed_model(false)).open().err() {
        Some(Error::InvalidArgument {
            arg: Some("standardize_targets"),
            msg,
        }) => assert!(msg.contains("differs from the resumed run's"), "{msg}"),
        e => panic!("{e:?}"),
    }
    match session(resumed_model(false))
        .standardize_targets(true)
        .open()
        .err()
    {
        Some(Error::InvalidArgument {
            arg: Some("standardize_targets"),
            msg,
        }) => assert!(msg.contains("cannot be added to a resumed run"), "{msg}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn patience_stops_after_that_many_epochs_without_a_lower_validation_loss() {
    let s = Scratch::new("patience");
    let path = s.path("best.safetensors");
    let patience = 3;
    let mut t = Trainer::new(
        Model::init(regressor(10, 1), 0).unwrap(),
        diabetes_like(400, 1),
        Config {
            epochs: 500,
            patience: Some(patience),
            ..Config::default()
        },
    )
    .hold_out(0.2)
    .test(diabetes_like(100, 2))
    .standardize(true)
    .standardize_targets(true)
    .checkpoints(Checkpoints {
        path: path.clone(),
        every: None,
        keep_best: true,
    })
    .device(Device::cpu());
    let fit = t.fit(|_| Ok(())).unwrap();
    let last = fit.reports.last().unwrap();
    let stopped = fit
        .stopped_early
        .expect("500 epochs without early stopping");
    assert_eq!(stopped, last.epoch);
    assert_eq!(fit.reports.len(), stopped);
    // The best epoch is the one with the lowest validation loss, `patience` epochs back, and
    // no epoch since came below it.
    let losses: Vec<f64> = fit.reports.iter().map(|r| r.valid_loss.unwrap()).collect();
    let best = fit.best.unwrap();
    let lowest = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], lowest, "{losses:?}");
    assert_eq!(stopped - best, patience, "{losses:?}");
    assert_eq!(fit.kept, Some(best));
    // The stopping epoch reports the test set, which the run would otherwise show only after
    // its last epoch.
    assert!(
        last.test_loss.is_some() && last.test_regression.is_some(),
        "{last:?}"
    );
    assert!(
        fit.reports[..stopped - 1]
            .iter()
            .all(|r| r.test_loss.is_none())
    );
    // The file holds the best epoch: its validation loss is that epoch's.
    let kept = Model::load(&path).unwrap();
    let valid = diabetes_like(400, 1).hold_out(0.2, 0).unwrap().1;
    close(
        "the kept model's validation loss",
        kept.evaluate(&valid).unwrap().loss,
        lowest,
        1e-6,
    );
}

#[test]
fn patience_needs_a_validation_set_and_at_least_one_epoch() {
    let session = |patience: usize| {
        Trainer::new(
            Model::init(regressor(10, 1), 0).unwrap(),
            diabetes_like(50, 1),
            Config {
                patience: Some(patience),
                ..Config::default()
            },
        )
        .test(diabetes_like(20, 2))
        .device(Device::cpu())
    };
    for (p, want) in [(2, "no validation set"), (0, "must be at least 1")] {
        match session(p).open().err() {
            Some(Error::InvalidArgument {
                arg: Some("patience"),
                msg,
            }) => assert!(msg.contains(want), "{msg}"),
            e => panic!("{e:?}"),
        }
    }
    session(2).hold_out(0.2).open().unwrap();
}

/// One linear unit `a = w·x + b` on rows x = 1, y = 1 at batch 1: each step multiplies the error
/// by 1 - 2·lr, so lr 1.25 makes it -1.5 times larger every step (the loss 2.25 times), finite
/// for many epochs of 8 steps.
#[test]
fn the_first_epoch_100_times_above_the_first_batch_loss_is_flagged_once() {
    let spec = Spec::new(vec![1, 1], vec![], Output::Linear, Loss::Mse).unwrap();
    let model = Model::init(spec, 3).unwrap();
    let e0 = (model.params.layers[0].w[0] + model.params.layers[0].b[0] - 1.0) as f64;
    let first = 0.5 * e0 * e0;
    assert!(first > 1e-3, "initial error {e0}");
    let data = Dataset::new(
        "ones",
        vec![1.0; 8],
        8,
        1,
        Targets::Values {
            values: vec![1.0; 8],
            width: 1,
        },
    )
    .unwrap();
    let config = Config {
        lr: 1.25,
        batch: 1,
        epochs: 5,
        ..Config::default()
    };
    let mut t = Trainer::new(model, data, config).device(Device::cpu());
    let fit = t.fit(|_| Ok(())).unwrap();
    let flagged: Vec<usize> = fit
        .reports
        .iter()
        .filter(|r| r.loss_rise.is_some())
        .map(|r| r.epoch)
        .collect();
    let want = fit
        .reports
        .iter()
        .find(|r| r.train_loss > 100.0 * first)
        .map(|r| r.epoch)
        .expect("the loss never climbed 100x");
    assert_eq!(flagged, vec![want], "{:?}", fit.reports);
    assert!(
        want > 1,
        "the first epoch already climbed: the test does not show the rule"
    );
    let r = &fit.reports[want - 1];
    close("ratio", r.loss_rise.unwrap(), r.train_loss / first, 1e-6);
    assert!(fit.reports.iter().all(|r| r.train_loss.is_finite()));
}
