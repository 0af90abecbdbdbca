//! The browser tests: in headless Chromium on its WebGPU adapter (SwiftShader here), through
//! wasm-bindgen-test-runner and chromedriver:
//! `cargo test -p wgtrain-web --target wasm32-unknown-unknown` (see .cargo/config.toml and
//! web/webdriver.json; scripts/browser-tests.sh sets it up).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use wgtrain::gpu::{BackendChoice, GpuContext, context};
use wgtrain::{Device, GpuOptions};
use wgtrain_web::{check_run, epoch_json};

wasm_bindgen_test_configure!(run_in_browser);

/// The native CPU path's figures for `check_run(3)` (kept current by tests/cpu_fixture.rs).
const FIXTURE: &str = include_str!("digits-cpu.json");
/// What the native GPU path meets too (tests/cpu_fixture.rs).
const OTHER_PATH: f64 = 1e-5;

#[wasm_bindgen_test]
async fn the_browser_offers_a_webgpu_adapter_and_auto_trains_on_it() {
    let ctx = GpuContext::new_async(BackendChoice::Auto).await.unwrap();
    assert!(
        context::is_browser(&ctx.info),
        "adapter: {}",
        ctx.describe()
    );
    let mut trainer = check_run(1, Device::default()).unwrap();
    let opened = trainer.open_async().await.unwrap();
    assert!(
        opened.fallback.is_none(),
        "Auto fell back: {:?}",
        opened.fallback
    );
    assert!(
        opened.description.starts_with("gpu:"),
        "{}",
        opened.description
    );
}

#[wasm_bindgen_test]
async fn every_kernel_matches_the_f64_reference_on_webgpu() {
    let ctx = GpuContext::new_async(BackendChoice::Auto).await.unwrap();
    let checks = wgtrain::selftest::kernel_checks(&ctx).await.unwrap();
    assert!(checks.len() >= 8, "{} checks", checks.len());
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.line())
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[wasm_bindgen_test]
async fn a_digits_run_on_webgpu_has_the_native_cpu_paths_losses() {
    let want: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let want = want["epochs"].as_array().unwrap();
    let mut trainer = check_run(want.len(), Device::Gpu(GpuOptions::default())).unwrap();
    let mut seen = 0;
    let fit = trainer
        .fit_async(|_| {
            seen += 1;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(seen, want.len(), "a report per epoch, as it ended");
    for (r, w) in fit.reports.iter().zip(want) {
        let got = epoch_json(r);
        for key in ["train_loss", "test_loss", "test_acc"] {
            let (a, b) = (got[key].as_f64().unwrap(), w[key].as_f64().unwrap());
            assert!(
                (a - b).abs() <= OTHER_PATH * b.abs().max(1.0),
                "epoch {} {key}: WebGPU {a}, native CPU {b}",
                r.epoch
            );
        }
    }
    assert_eq!(fit.reports.len(), want.len());
}

#[wasm_bindgen_test]
async fn blocking_calls_in_a_browser_are_errors_that_name_the_async_method() {
    let mut trainer = check_run(1, Device::Gpu(GpuOptions::default())).unwrap();
    let e = trainer.fit(|_| Ok(())).unwrap_err().to_string();
    assert!(e.contains("fit_async"), "{e}");
    // The async form still works after the refusal.
    let fit = trainer.fit_async(|_| Ok(())).await.unwrap();
    assert_eq!(fit.reports.len(), 1);
}

#[wasm_bindgen_test]
async fn the_stop_token_ends_an_async_run() {
    let mut trainer = check_run(5, Device::Gpu(GpuOptions::default())).unwrap();
    let stop = trainer.stop_token();
    let fit = trainer
        .fit_async(|r| {
            if r.epoch == 2 {
                stop.stop();
            }
            Ok(())
        })
        .await
        .unwrap();
    assert!(fit.interrupted);
    assert_eq!(fit.reports.len(), 2);
}
