//! Your own data in, a trained model out: features as a `Vec<f32>` and labels as a `Vec<u32>`,
//! a network trained on them, predictions for new points, and a saved file that loads back to
//! the same predictions.
//!
//! `cargo run --release --example train_own_data [OUT.safetensors]`

use std::path::Path;

use wgtrain::data::{Dataset, Targets};
use wgtrain::{Config, Device, Model, Spec, Trainer};

/// Points in [-2, 2]²: class 1 inside the circle of radius 1.2, class 0 outside.
fn circle(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut uniform = || {
        // xorshift64*: enough randomness for an example, no extra dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut x = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = (4.0 * uniform() - 2.0, 4.0 * uniform() - 2.0);
        x.extend([a, b]);
        labels.push(u32::from(a * a + b * b < 1.44));
    }
    (x, labels)
}

/// Trains, predicts, saves to `out` and loads back; the held-out accuracy.
fn run(out: &Path) -> wgtrain::Result<f64> {
    let (x, labels) = circle(4000, 7);
    let data = Dataset::new(
        "circle",
        x,
        labels.len(),
        2,
        Targets::Classes {
            labels,
            n_classes: 2,
        },
    )?;
    // 20% of the rows, chosen by a seeded shuffle, for testing.
    let (train, test) = data.hold_out(0.2, 0)?;
    let spec = Spec::classifier(2, &[32, 32], 2)?;
    let config = Config {
        epochs: 40,
        ..Config::default()
    };
    // Device::default() is a hardware GPU when there is one, else the CPU path.
    let mut trainer = Trainer::new(Model::init(spec, 0)?, train, config)
        .test(test)
        .device(Device::default());
    println!("device: {}", trainer.open()?.description);
    let fit = trainer.fit(|r| {
        if r.epoch % 10 == 0 {
            println!(
                "epoch {:>2}  train loss {:.4}  test acc {:.2}%",
                r.epoch,
                r.train_loss,
                100.0 * r.test_accuracy.unwrap_or(0.0)
            );
        }
        Ok(())
    })?;
    let model = trainer.model()?;
    // Two new points, one inside the circle and one outside: (n, 2) row-major.
    let probs = model.predict_f32(&[0.1, -0.2, 1.8, 1.7])?;
    for (point, p) in ["(0.1, -0.2)", "(1.8, 1.7)"].iter().zip(probs.chunks(2)) {
        println!("{point}: P(inside) = {:.3}", p[1]);
    }
    model.save(out)?;
    let reloaded = Model::load(out)?;
    assert_eq!(reloaded.predict_f32(&[0.1, -0.2, 1.8, 1.7])?, probs);
    println!("saved {}", out.display());
    Ok(fit
        .reports
        .last()
        .and_then(|r| r.test_accuracy)
        .unwrap_or(0.0))
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "circle.safetensors".into());
    if let Err(e) = run(Path::new(&out)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[test]
fn trains_predicts_saves_and_loads() {
    let dir = std::env::temp_dir().join(format!("wgtrain-example-own-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let accuracy = run(&dir.join("circle.safetensors")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(accuracy > 0.95, "held-out accuracy {accuracy}");
}
