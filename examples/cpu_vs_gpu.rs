//! One network, one seed, one set of batches on both training paths: the fast CPU path and a
//! GPU adapter. The losses agree to f32 rounding; the speeds are each path's own (on a software
//! adapter such as llvmpipe the GPU path is CPU emulation, so compare ratios, not GPU speed).
//!
//! `cargo run --release --example cpu_vs_gpu`

use wgtrain::data;
use wgtrain::{Config, Device, Model, Spec, Trainer};

/// One path's per-epoch training losses and its samples per second.
struct PathRun {
    device: String,
    losses: Vec<f64>,
    samples_per_sec: f64,
}

fn train_on(device: Device) -> wgtrain::Result<PathRun> {
    let split = data::load("digits", None)?;
    let spec = Spec::classifier(64, &[64], 10)?;
    let config = Config {
        epochs: 5,
        ..Config::default()
    };
    let mut trainer = Trainer::new(Model::init(spec, 0)?, split.train, config).device(device);
    if let Some(test) = split.test {
        trainer = trainer.test(test);
    }
    let device = trainer.open()?.description.clone();
    let fit = trainer.fit(|_| Ok(()))?;
    let seconds: f64 = fit.reports.iter().map(|r| r.seconds).sum();
    let samples: f64 = fit
        .reports
        .iter()
        .map(|r| r.samples_per_sec * r.seconds)
        .sum();
    Ok(PathRun {
        device,
        losses: fit.reports.iter().map(|r| r.train_loss).collect(),
        samples_per_sec: samples / seconds,
    })
}

/// Both paths; the largest relative difference between their losses.
fn run() -> wgtrain::Result<f64> {
    let cpu = train_on(Device::cpu())?;
    let gpu = train_on(Device::gpu())?;
    println!("epoch  {:>10}  {:>10}", "cpu loss", "gpu loss");
    let mut worst = 0f64;
    for (e, (c, g)) in cpu.losses.iter().zip(&gpu.losses).enumerate() {
        println!("{:>5}  {c:>10.6}  {g:>10.6}", e + 1);
        worst = worst.max((c - g).abs() / c.abs());
    }
    for p in [&cpu, &gpu] {
        println!("{:>12.0} samples/s  {}", p.samples_per_sec, p.device);
    }
    println!("largest relative loss difference {worst:.2e}");
    Ok(worst)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[test]
fn both_paths_end_at_the_same_losses() {
    match run() {
        Ok(worst) => assert!(worst < 2e-3, "losses differ by {worst:.2e}"),
        // As every GPU test: skipped only when asked for, never silently.
        Err(e @ wgtrain::Error::NoAdapter(_))
            if std::env::var("WGTRAIN_SKIP_GPU").is_ok_and(|v| v == "1") =>
        {
            eprintln!("SKIPPED both_paths_end_at_the_same_losses: {e}");
        }
        Err(e) => panic!("{e}. Set WGTRAIN_SKIP_GPU=1 to skip the GPU tests explicitly."),
    }
}
