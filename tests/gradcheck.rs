//! `gradcheck` passes on the built-in datasets' default networks on every path, and fails,
//! naming the layer and the path, when one path's gradient is deliberately broken (the
//! test-only `testing::Fault` hook, a stand-in for a broken kernel); the CLI exits non-zero then.

mod common;

use std::process::Command;

use wgtrain::config::GpuOptions;
use wgtrain::gradcheck::{Options, gradcheck};
use wgtrain::testing::{Fault, gradcheck_with_fault};
use wgtrain::trace::{Network, PathChoice, Source, Start, build_case};

fn gpu_options() -> GpuOptions {
    GpuOptions {
        adapter: std::env::var("WGPU_ADAPTER_NAME")
            .ok()
            .filter(|n| !n.is_empty()),
        ..GpuOptions::default()
    }
}

/// The CPU path, and the GPU path unless WGTRAIN_SKIP_GPU=1 asks to skip it (and no adapter).
fn paths(test: &str) -> Vec<PathChoice> {
    let mut p = vec![PathChoice::Cpu];
    if common::adapter(test).is_some() {
        p.push(PathChoice::Gpu(gpu_options()));
    }
    p
}

fn default_case(data: &str, rows: usize) -> wgtrain::trace::Case {
    let source = Source::Data {
        source: data.into(),
        targets: None,
        rows,
    };
    build_case(&source, &Start::Seed(0), &Network::default(), &[64]).unwrap()
}

#[test]
fn the_built_in_datasets_default_networks_pass_on_every_path() {
    let paths = paths("gradcheck built-in datasets");
    for (data, l2) in [("xor", 0.0), ("digits", 0.0), ("digits", 1e-3)] {
        let case = default_case(data, 32);
        let opts = Options {
            l2,
            ..Options::default()
        };
        let r = gradcheck(&case, &opts, &paths).unwrap();
        assert!(r.passed(), "{data}, λ {l2}:\n{}", r.table());
        assert_eq!(r.checks.len(), (paths.len() + 1) * case.spec.n_layers());
        assert!(r.checks.iter().all(|c| c.values > 0));
    }
}

#[test]
fn a_broken_gradient_fails_naming_its_layer_and_path() {
    let paths = paths("gradcheck broken gradient");
    let case = default_case("digits", 16);
    for path in paths.iter().map(|p| match p {
        PathChoice::Cpu => "cpu",
        PathChoice::Gpu(_) => "gpu",
    }) {
        for layer in [1, 2] {
            let fault = Fault {
                path: path.into(),
                layer,
                factor: 1.01,
            };
            let r = gradcheck_with_fault(&case, &Options::default(), &paths, &fault).unwrap();
            assert!(!r.passed(), "{path} layer {layer}:\n{}", r.table());
            let failures = r.failures();
            assert_eq!(failures.len(), 1, "{failures:?}");
            let want = format!("layer {layer} on the {path} path");
            assert!(failures[0].starts_with(&want), "{failures:?}");
            assert!(r.table().contains("FAIL"), "{}", r.table());
        }
    }
}

fn wgtrain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wgtrain"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A 2-5-2 network on xor, the CPU path beside the reference: a second's check.
const XOR_CPU: [&str; 7] = [
    "gradcheck",
    "--data",
    "xor",
    "--hidden",
    "5",
    "--device",
    "cpu",
];

#[test]
fn the_cli_exits_non_zero_on_a_failure_and_zero_on_a_pass() {
    let base = XOR_CPU;
    let (rc, out, err) = wgtrain(&base);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("gradcheck passed") && out.contains("tolerance 1e-5"),
        "{out}"
    );
    let mut broken = base.to_vec();
    broken.extend(["--break-gradient", "cpu:2"]);
    let (rc, out, err) = wgtrain(&broken);
    assert_eq!(rc, 1, "{out}{err}");
    assert!(
        err.contains("gradcheck failed: layer 2 on the cpu path"),
        "{err}"
    );
    assert!(out.contains("FAIL"), "{out}");
    let (rc, _, err) = wgtrain(&["gradcheck", "--data", "xor", "--per-layer", "0"]);
    assert_eq!(rc, 1);
    assert!(err.contains("--per-layer must be at least 1"), "{err}");
}

#[test]
fn json_holds_every_check_at_full_precision_and_the_verdict() {
    let mut base = XOR_CPU.to_vec();
    base.push("--json");
    let (rc, out, err) = wgtrain(&base);
    assert_eq!(rc, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(v["passed"], true, "{out}");
    let checks = v["checks"].as_array().unwrap();
    // The reference and the CPU path, two layers each.
    assert_eq!(checks.len(), 4, "{out}");
    for c in checks {
        let worst = c["worst_rel"].as_f64().unwrap();
        assert!(
            worst.is_finite() && worst <= c["tol"].as_f64().unwrap(),
            "{c}"
        );
        assert!(c["values"].as_u64().unwrap() > 0, "{c}");
    }
    // The table shows the same figures rounded; the JSON keeps them whole.
    let (_, table, _) = wgtrain(&base[..base.len() - 1]);
    let cpu2 = checks
        .iter()
        .find(|c| c["path"] == "cpu" && c["layer"] == 2)
        .unwrap();
    assert!(
        table.contains(cpu2["worst_at"].as_str().unwrap()),
        "{table}"
    );
    let mut broken = base.to_vec();
    broken.extend(["--break-gradient", "cpu:2"]);
    let (rc, out, err) = wgtrain(&broken);
    assert_eq!(rc, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["passed"], false);
    let failed: Vec<_> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_string(),
                c["layer"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(failed, vec![("cpu".to_string(), 2)], "{out}");
}
