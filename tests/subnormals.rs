//! The fast CPU path flushes subnormal f32 values to zero (as GPUs do): a long Adam run with L2
//! on the digits, whose dead ReLU rows drive weights and Adam's first moment through the
//! subnormal range (where every operation costs a microcode assist), ends with none left in its
//! parameters or optimiser state, and the caller's thread gets its own floating-point mode back.
//! Counted, not timed: without the flush this run's checkpoint held hundreds of subnormals.

use wgtrain::data::{self, Targets};
use wgtrain::optim::{Method, Optimizer};
use wgtrain::{Config, Device, Model, Spec, Trainer};

/// Nonzero values smaller in magnitude than the smallest normal f32.
fn subnormals(v: &[f32]) -> usize {
    v.iter().filter(|x| x.is_subnormal()).count()
}

/// Half the smallest normal f32, computed at run time: subnormal under IEEE, 0 when flushed.
fn half_of_smallest_normal() -> f32 {
    std::hint::black_box(f32::MIN_POSITIVE) * std::hint::black_box(0.5)
}

#[test]
fn a_long_adam_run_with_l2_leaves_no_subnormal_in_parameters_or_moments() {
    let split = data::load("digits", None).unwrap();
    assert!(matches!(split.train.targets, Targets::Classes { .. }));
    let config = Config {
        lr: 0.001,
        l2: 1e-3,
        batch: 32,
        epochs: 40,
        optimizer: Optimizer::new(Method::Adam),
        ..Config::default()
    };
    let spec = Spec::classifier(64, &[128, 64], 10).unwrap();
    let dir = std::env::temp_dir().join(format!("wgtrain-subnormals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("adam.safetensors");
    let mut trainer =
        Trainer::new(Model::init(spec, 0).unwrap(), split.train, config).device(Device::cpu());
    let fit = trainer.fit(|_| Ok(())).unwrap();
    assert_eq!(fit.reports.len(), 40);
    assert!(
        half_of_smallest_normal() > 0.0,
        "fit changed the calling thread's floating-point mode: it must restore it"
    );
    trainer.save(&path).unwrap();
    let (_, params, state) = wgtrain::checkpoint::load_training(&path).unwrap();
    let state = state.expect("a training checkpoint");
    let mut found = Vec::new();
    for (l, layer) in params.layers.iter().enumerate() {
        found.push((format!("layer {l} weights"), subnormals(&layer.w)));
        found.push((format!("layer {l} biases"), subnormals(&layer.b)));
    }
    for (s, slot) in state.optim.slots.iter().enumerate() {
        for (l, layer) in slot.layers.iter().enumerate() {
            let n = subnormals(&layer.w) + subnormals(&layer.b);
            found.push((format!("optimiser slot {s} layer {l}"), n));
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    let bad: Vec<_> = found.iter().filter(|(_, n)| *n > 0).collect();
    assert!(
        bad.is_empty(),
        "subnormal values left after training: {bad:?}"
    );
}
