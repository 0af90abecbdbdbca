//! The figures the browser tests compare WebGPU with (`digits-cpu.json`) are the native CPU
//! path's, today: this test trains `check_run` on the CPU and fails when the file has gone
//! stale. `WGTRAIN_BLESS=1` rewrites it (say why in the commit). The native GPU path (when an
//! adapter is found) meets the same figures to the browser test's tolerance, which shows that
//! tolerance is what two paths of f32 arithmetic agree to.
#![cfg(not(target_arch = "wasm32"))]

use wgtrain::{Device, GpuOptions};
use wgtrain_web::{check_run, epoch_json};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/digits-cpu.json");
/// Between machines (AVX-512 or AVX2 gemm kernels sum in another order).
const SAME_PATH: f64 = 1e-6;
/// Between the CPU and a GPU path: what the browser test allows too.
const OTHER_PATH: f64 = 1e-5;
const EPOCHS: usize = 3;

fn run(device: Device) -> Vec<serde_json::Value> {
    let mut trainer = check_run(EPOCHS, device).unwrap();
    let fit = trainer.fit(|_| Ok(())).unwrap();
    fit.reports.iter().map(epoch_json).collect()
}

fn stored() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["epochs"].as_array().unwrap().clone()
}

/// Every figure of `got` within `tol` (relative, and absolute below 1) of `want`'s.
fn assert_close(got: &[serde_json::Value], want: &[serde_json::Value], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: epochs");
    for (g, w) in got.iter().zip(want) {
        for key in ["train_loss", "test_loss", "test_acc"] {
            let (a, b) = (g[key].as_f64().unwrap(), w[key].as_f64().unwrap());
            assert!(
                (a - b).abs() <= tol * b.abs().max(1.0),
                "{what}: epoch {} {key} {a} vs {b}",
                w["epoch"]
            );
        }
    }
}

#[test]
fn the_fixture_holds_the_native_cpu_paths_figures() {
    let got = run(Device::cpu());
    if std::env::var_os("WGTRAIN_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "what": "wgtrain_web::check_run(3 epochs) on the native CPU path",
            "epochs": got,
        }))
        .unwrap();
        std::fs::write(FIXTURE, text + "\n").unwrap();
    }
    let want = stored();
    assert_close(&got, &want, SAME_PATH, "CPU path against the fixture");
    // The run learns: the browser test's comparison means something.
    let first = want[0]["train_loss"].as_f64().unwrap();
    let last = want[EPOCHS - 1]["train_loss"].as_f64().unwrap();
    assert!(last < first, "the training loss fell: {first} -> {last}");
}

#[test]
fn the_native_gpu_path_meets_the_fixture_to_the_browser_tests_tolerance() {
    if std::env::var_os("WGTRAIN_SKIP_GPU").is_some() {
        eprintln!("skipped: WGTRAIN_SKIP_GPU is set");
        return;
    }
    let got = run(Device::Gpu(GpuOptions::default()));
    assert_close(
        &got,
        &stored(),
        OTHER_PATH,
        "native GPU path against the fixture",
    );
}
