//! The library's training session as a Rust program uses it: two runs in one process, the first
//! stopped by its token; a model that applies its own standardisation through save and load;
//! the same network on the CPU and the GPU path.

mod common;

use common::scratch::Scratch;
use wgtrain::data::{self, Dataset, Targets};
use wgtrain::session::Checkpoints;
use wgtrain::{Config, Device, Error, Model, Spec, Trainer};

/// Per-epoch mean losses of the GPU and CPU f32 paths (as in tests/training.rs): the same
/// batches in the same order, different summation orders in every matmul, amplified a little
/// by training.
const PATHS_AGREE: common::Tol = common::Tol {
    rtol: 2e-3,
    atol: 1e-5,
};

fn digits() -> (Dataset, Dataset) {
    let split = data::load("digits", None).unwrap();
    (split.train, split.test.unwrap())
}

fn config(epochs: usize) -> Config {
    Config {
        epochs,
        ..Config::default()
    }
}

#[test]
fn two_fits_in_one_process_the_first_stopped_by_its_token_the_second_to_the_end() {
    let (train, test) = digits();
    let spec = Spec::classifier(64, &[32], 10).unwrap();
    let per_epoch = train.n.div_ceil(32);
    let mut first = Trainer::new(
        Model::init(spec.clone(), 0).unwrap(),
        train.clone(),
        config(5),
    )
    .test(test.clone())
    .device(Device::cpu());
    let token = first.stop_token();
    let stopped = first
        .fit(|r| {
            if r.epoch == 1 {
                token.stop();
            }
            Ok(())
        })
        .unwrap();
    assert!(stopped.interrupted);
    assert_eq!(
        stopped.reports.len(),
        1,
        "a stop from the callback ends the run at the end of epoch 1"
    );
    assert_eq!(token.steps(), per_epoch);

    let mut second = Trainer::new(Model::init(spec, 0).unwrap(), train, config(3))
        .test(test)
        .device(Device::cpu());
    let done = second.fit(|_| Ok(())).unwrap();
    assert!(!done.interrupted, "a stopped session stopped the next one");
    assert_eq!(done.reports.len(), 3);
    assert!(done.reports.iter().all(|r| r.batches == per_epoch));
    assert_eq!(second.stop_token().steps(), 3 * per_epoch);
    assert!(!second.stop_token().is_stopped());
}

#[test]
fn a_stop_from_another_thread_ends_the_run_after_the_step_under_way() {
    let (train, test) = digits();
    let spec = Spec::classifier(64, &[32], 10).unwrap();
    let mut t = Trainer::new(Model::init(spec, 0).unwrap(), train, config(1000))
        .test(test)
        .device(Device::cpu());
    let token = t.stop_token();
    let stopper = std::thread::spawn(move || {
        while token.steps() < 100 {
            std::thread::yield_now();
        }
        token.stop();
    });
    let fit = t.fit(|_| Ok(())).unwrap();
    stopper.join().unwrap();
    assert!(fit.interrupted);
    assert!(fit.reports.len() < 1000);
}

/// Two features on scales 1e-3 and 1e3; the class is which of them is larger in its own units.
fn unscaled(n: usize, seed: u64) -> Dataset {
    let u = common::uniform(seed, 2 * n, -1.0, 1.0);
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for r in u.chunks_exact(2) {
        x.extend([r[0] * 1e-3, r[1] * 1e3]);
        labels.push((r[0] > r[1]) as u32);
    }
    Dataset::new(
        "unscaled",
        x,
        n,
        2,
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )
    .unwrap()
}

#[test]
fn a_standardised_model_applies_its_transform_in_predict_evaluate_save_and_load() {
    let s = Scratch::new("standardised");
    let path = s.path("model.safetensors");
    let spec = Spec::classifier(2, &[16], 2).unwrap();
    let mut t = Trainer::new(Model::init(spec, 1).unwrap(), unscaled(512, 1), config(20))
        .standardize(true)
        .device(Device::cpu());
    t.fit(|_| Ok(())).unwrap();
    let model = t.model().unwrap();
    let z = model
        .input
        .standardize
        .clone()
        .expect("the model keeps its statistics");
    assert!(z.std[1] > 100.0 * z.std[0], "{z:?}");
    let test = unscaled(256, 2);
    let e = model.evaluate(&test).unwrap();
    assert!(e.accuracy.unwrap() > 0.9, "raw inputs: {:?}", e.accuracy);
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert_eq!(loaded, model);
    let raw = test.x.to_f32();
    let got = loaded.predict_f32(&raw).unwrap();
    let by_hand = wgtrain::evaluate::predict(
        &model.spec,
        &model.params,
        &z.apply(&test.x, test.n).unwrap(),
        test.n,
    )
    .unwrap();
    assert_eq!(got, by_hand);
}

#[test]
fn keep_best_saves_the_best_epoch_and_says_which() {
    let s = Scratch::new("keep_best");
    let path = s.path("best.safetensors");
    let (train, test) = digits();
    let spec = Spec::classifier(64, &[32], 10).unwrap();
    let mut t = Trainer::new(Model::init(spec, 0).unwrap(), train, config(4))
        .test(test.clone())
        .device(Device::cpu())
        .checkpoints(Checkpoints {
            path: path.clone(),
            every: None,
            keep_best: true,
        });
    let fit = t.fit(|_| Ok(())).unwrap();
    let kept = fit.kept.expect("some epoch improved");
    let best = fit
        .reports
        .iter()
        .min_by(|a, b| a.test_loss.unwrap().total_cmp(&b.test_loss.unwrap()))
        .unwrap();
    assert_eq!(kept, best.epoch);
    let e = Model::load(&path).unwrap().evaluate(&test).unwrap();
    assert!(
        (e.loss - best.test_loss.unwrap()).abs() < 1e-5,
        "{} vs {best:?}",
        e.loss
    );
}

#[test]
fn bad_settings_are_errors_naming_the_setting() {
    let (train, _) = digits();
    let spec = Spec::classifier(64, &[8], 10).unwrap();
    for (config, want) in [
        (
            Config {
                lr: -1.0,
                ..Config::default()
            },
            "lr",
        ),
        (
            Config {
                batch: 0,
                ..Config::default()
            },
            "batch",
        ),
    ] {
        let mut t = Trainer::new(Model::init(spec.clone(), 0).unwrap(), train.clone(), config)
            .device(Device::cpu());
        match t.fit(|_| Ok(())) {
            Err(Error::InvalidArgument { arg: Some(a), .. }) => assert_eq!(a, want),
            other => panic!("{want}: {:?}", other.map(|f| f.reports.len())),
        }
    }
    let mut t =
        Trainer::new(Model::init(spec, 0).unwrap(), train, Config::default()).device(Device::Cpu {
            threads: Some(100_000),
        });
    assert!(matches!(
        t.open().err(),
        Some(Error::InvalidArgument {
            arg: Some("threads"),
            ..
        })
    ));
}

#[test]
fn the_same_session_on_the_gpu_ends_at_the_cpu_losses() {
    let Some(_) = common::gpu("the_same_session_on_the_gpu_ends_at_the_cpu_losses") else {
        return;
    };
    let (train, test) = digits();
    let spec = Spec::classifier(64, &[32], 10).unwrap();
    let losses = |device: Device| -> Vec<f64> {
        let mut t = Trainer::new(
            Model::init(spec.clone(), 3).unwrap(),
            train.clone(),
            config(3),
        )
        .test(test.clone())
        .device(device);
        let fit = t.fit(|_| Ok(())).unwrap();
        fit.reports.iter().map(|r| r.train_loss).collect()
    };
    let cpu = losses(Device::cpu());
    let gpu = losses(Device::gpu());
    common::assert_close("train loss", &gpu, &cpu, PATHS_AGREE);
}

#[test]
fn a_checkpoint_that_cannot_be_written_mid_run_ends_the_run_and_the_model_is_rescued() {
    let (train, _) = digits();
    let s = Scratch::new("session_rescue");
    let folder = s.path("gone");
    std::fs::create_dir(&folder).unwrap();
    let path = folder.join("m.safetensors");
    let spec = Spec::classifier(64, &[16], 10).unwrap();
    let mut t = Trainer::new(Model::init(spec, 0).unwrap(), train, config(10))
        .device(Device::cpu())
        .checkpoints(Checkpoints {
            path: path.clone(),
            every: Some(2),
            keep_best: false,
        });
    // The folder is removed after the first epoch: the save after the second fails.
    let fit = t
        .fit(|r| {
            if r.epoch == 1 {
                std::fs::remove_dir_all(&folder).unwrap();
            }
            Ok(())
        })
        .unwrap();
    let rescued = fit.rescued.clone().expect("a rescue file");
    let error = fit.save_error.clone().expect("the save's error");
    assert_eq!(
        fit.reports.len(),
        2,
        "the run ends at the epoch whose save failed"
    );
    assert!(fit.saved.is_none());
    assert!(error.contains("m.safetensors"), "{error}");
    let loaded = Model::load(&rescued);
    std::fs::remove_file(&rescued).ok();
    let loaded = loaded.unwrap();
    assert_eq!(
        loaded.params,
        t.model().unwrap().params,
        "the rescue holds the model as it ended"
    );
    assert!(
        rescued
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(wgtrain::session::RESCUE_FILE)
    );
}
