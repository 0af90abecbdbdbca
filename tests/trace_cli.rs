//! `wgtrain trace` end to end: the seed 002 example as docs/CLI.md shows it, --json parsed back
//! with the documented keys, --markdown, and errors naming the flag to change.

use std::process::Command;

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

const SEED_002: [&str; 15] = [
    "trace",
    "--rows",
    "examples/seeds/002-rows.csv",
    "--targets",
    "2",
    "--init",
    "examples/seeds/002-weights.csv",
    "--activation",
    "linear",
    "--output",
    "sigmoid",
    "--loss",
    "mse",
    "--lr",
    "0.5",
];

#[test]
fn seed_002_json_has_the_documented_keys_and_the_notebook_loss() {
    let mut args = SEED_002.to_vec();
    args.extend(["--device", "cpu", "--json"]);
    let (rc, out, err) = wgtrain(&args);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // E_total of the notebook: ½(0.01 - A3)² + ½(0.99 - A4)², computed here from its cells.
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    let (a1, a2) = (
        0.75 * 0.85 + 0.55 * 0.5 + 0.25,
        0.05 * 0.85 + 0.05 * 0.5 + 0.15,
    );
    let (a3, a4) = (
        sig(0.05 * a1 + 0.015 * a2 + 0.15),
        sig(0.85 * a1 + 0.95 * a2 + 0.25),
    );
    let e_total = 0.5 * (0.01 - a3) * (0.01 - a3) + 0.5 * (0.99 - a4) * (0.99 - a4);
    let step = &v["steps"][0];
    let got = step["loss"]["total"].as_f64().unwrap();
    assert!((got - e_total).abs() <= 1e-15, "{got} vs {e_total}");
    for key in [
        "w", "b", "a_prev", "z", "a", "delta", "dw", "db", "state", "step_w", "step_b", "new_w",
        "new_b",
    ] {
        assert!(!step["layers"][1][key].is_null(), "no key {key}");
    }
    for key in ["analytic", "finite_difference", "rel_diff", "max_rel_diff"] {
        assert!(!step["layers"][1]["dw"][key].is_null(), "no key dw.{key}");
    }
    let path = &step["paths"][0];
    assert_eq!(path["name"], "cpu");
    assert!(path["max_abs_diff"].as_f64().unwrap() < 1e-6, "{path}");
}

#[test]
fn markdown_and_text_state_the_notation_once() {
    let mut args = SEED_002.to_vec();
    args.extend(["--device", "none", "--markdown", "--steps", "2"]);
    let (rc, out, err) = wgtrain(&args);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.matches("Notation").count(), 1, "{out}");
    assert!(out.contains("## step 2"), "{out}");
    assert!(
        out.contains("| element | analytic | fd | rel diff |"),
        "{out}"
    );
}

#[test]
fn bad_input_names_the_flag() {
    let (rc, _, err) = wgtrain(&["trace", "--rows", "0.5,0.6"]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("--rows") && err.contains("inputs : targets"),
        "{err}"
    );
    let (rc, _, err) = wgtrain(&["trace", "--data", "digits", "--hidden", "500"]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("--hidden") && err.contains("gradcheck"),
        "{err}"
    );
    let (rc, _, err) = wgtrain(&["trace", "--data", "xor", "--steps", "0"]);
    assert_eq!(rc, 1);
    assert!(err.contains("--steps must be at least 1"), "{err}");
    let (rc, _, err) = wgtrain(&["trace", "--rows", "0.5:1", "--init", "no-such.csv"]);
    assert_eq!(rc, 1);
    assert!(err.contains("no-such.csv"), "{err}");
}
