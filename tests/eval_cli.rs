//! `wgtrain eval` and `wgtrain predict` end to end: they agree with what training reported, their
//! tables add up, predictions are probabilities whose argmax is the class, and bad input is a
//! clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgtrain-eval-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn wgtrain(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgtrain"))
        .args(args)
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", dir)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A refusal, not a crash, with `needle` in the message.
fn refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "expected exit 1: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// Trains digits for 3 epochs on the CPU path; returns the model path and the last metrics line.
fn trained(dir: &Path) -> (String, serde_json::Value) {
    let model = dir.join("m.safetensors").display().to_string();
    let metrics = dir.join("m.jsonl").display().to_string();
    ok(&wgtrain(
        dir,
        &[
            "train",
            "--device",
            "cpu",
            "--epochs",
            "3",
            "--save",
            &model,
            "--metrics",
            &metrics,
        ],
    ));
    let text = std::fs::read_to_string(&metrics).unwrap();
    (
        model,
        serde_json::from_str(text.lines().last().unwrap()).unwrap(),
    )
}

#[test]
fn eval_agrees_with_training_and_its_tables_add_up() {
    let dir = scratch("agree");
    let (model, last) = trained(&dir);
    let out = ok(&wgtrain(
        &dir,
        &["eval", "--model", &model, "--data", "digits", "--json"],
    ));
    let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let n = e["n"].as_u64().unwrap() as usize;
    assert_eq!(n, 360, "digits' test split");
    let acc = e["accuracy"].as_f64().unwrap();
    assert!(
        (acc - last["test_accuracy"].as_f64().unwrap()).abs() <= 1.0 / 360.0,
        "eval {acc} vs training {last}"
    );
    let loss = e["loss"].as_f64().unwrap();
    let trained_loss = last["test_loss"].as_f64().unwrap();
    assert!(
        (loss - trained_loss).abs() <= 1e-4 * trained_loss,
        "eval loss {loss} vs training {trained_loss}"
    );
    let confusion: Vec<Vec<u64>> = serde_json::from_value(e["confusion"].clone()).unwrap();
    let total: u64 = confusion.iter().flatten().sum();
    let diagonal: u64 = (0..10).map(|c| confusion[c][c]).sum();
    assert_eq!(total as usize, n);
    assert!((diagonal as f64 / n as f64 - acc).abs() < 1e-12);
    for (c, m) in e["per_class"].as_array().unwrap().iter().enumerate() {
        let support = confusion[c].iter().sum::<u64>();
        assert_eq!(m["support"].as_u64().unwrap(), support);
        let recall = confusion[c][c] as f64 / support as f64;
        assert!(
            (m["recall"].as_f64().unwrap() - recall).abs() < 1e-12,
            "class {c}"
        );
    }
    let table = ok(&wgtrain(
        &dir,
        &["eval", "--model", &model, "--data", "digits"],
    ));
    assert!(
        table.contains("confusion matrix") && table.contains("precision"),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_gives_probabilities_whose_argmax_is_the_class() {
    let dir = scratch("predict");
    let (model, _) = trained(&dir);
    // The same three samples with and without a label column, and with a header.
    let rows = ["0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3,15,2,0,11,8,0,0,4,12,0,0,8,8,0,0,5,8,0,0,9,8,0,0,4,11,0,1,12,7,0,0,2,14,5,10,12,0,0,0,0,6,13,10,0,0,0";
        3];
    let features: String = rows.iter().map(|r| format!("{r}\n")).collect();
    let labelled: String = rows.iter().map(|r| format!("{r},0\n")).collect();
    let header = format!(
        "{},label\n",
        (0..64)
            .map(|i| format!("p{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    std::fs::write(dir.join("f.csv"), &features).unwrap();
    std::fs::write(dir.join("l.csv"), header + &labelled).unwrap();
    let a = ok(&wgtrain(
        &dir,
        &["predict", "--model", &model, "--input", "f.csv"],
    ));
    let b = ok(&wgtrain(
        &dir,
        &["predict", "--model", &model, "--input", "l.csv"],
    ));
    assert_eq!(a, b, "a label column must be ignored");
    let mut lines = a.lines();
    assert!(lines.next().unwrap().starts_with("class,p0,"));
    let mut count = 0;
    for line in lines {
        let v: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        let p = &v[1..];
        assert_eq!(p.len(), 10);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{line}");
        let argmax = (0..10).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        assert_eq!(v[0] as usize, argmax, "{line}");
        count += 1;
    }
    assert_eq!(count, 3);
    // --out: the same CSV in a file.
    ok(&wgtrain(
        &dir,
        &[
            "predict", "--model", &model, "--input", "f.csv", "--out", "p.csv",
        ],
    ));
    assert_eq!(std::fs::read_to_string(dir.join("p.csv")).unwrap(), a);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn eval_and_predict_refuse_bad_input_clearly() {
    let dir = scratch("bad");
    let (model, _) = trained(&dir);
    std::fs::write(dir.join("narrow.csv"), "1,2,3\n4,5,6\n").unwrap();
    refused(
        &wgtrain(
            &dir,
            &["predict", "--model", &model, "--input", "narrow.csv"],
        ),
        "the model takes 64 inputs",
    );
    std::fs::write(
        dir.join("ragged.csv"),
        format!("{}\n{}\n", ["1"; 64].join(","), ["1"; 63].join(",")),
    )
    .unwrap();
    refused(
        &wgtrain(
            &dir,
            &["predict", "--model", &model, "--input", "ragged.csv"],
        ),
        "line 2",
    );
    std::fs::write(dir.join("x-idx3-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 1, 7]).unwrap();
    refused(
        &wgtrain(
            &dir,
            &["predict", "--model", &model, "--input", "x-idx3-ubyte"],
        ),
        "magic",
    );
    refused(
        &wgtrain(
            &dir,
            &["eval", "--model", "missing.safetensors", "--data", "digits"],
        ),
        "missing.safetensors",
    );
    std::fs::write(dir.join("junk.safetensors"), b"not a checkpoint at all").unwrap();
    refused(
        &wgtrain(
            &dir,
            &["eval", "--model", "junk.safetensors", "--data", "digits"],
        ),
        "junk.safetensors",
    );
    std::fs::write(dir.join("wide.csv"), format!("{},1\n", ["1"; 10].join(","))).unwrap();
    refused(
        &wgtrain(&dir, &["eval", "--model", &model, "--data", "wide.csv"]),
        "takes 64",
    );
    assert!(!dir.join("p.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Features on wildly different scales: a big one that decides the class, a tiny constant-ish
/// one, a uniform one.
fn scaled_csv(dir: &Path) -> PathBuf {
    let mut rng = wgtrain::rng::Rng::new(5);
    let mut text = String::from("a,b,c,label\n");
    for _ in 0..400 {
        let a = 1000.0 + 600.0 * (rng.next_f64() - 0.5);
        let b = -5.0 + 0.01 * rng.next_f64();
        let c = rng.next_f64();
        text += &format!("{a:.3},{b:.5},{c:.4},{}\n", (a > 1000.0) as u8);
    }
    let path = dir.join("scaled.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn standardized_models_carry_their_statistics_into_eval_and_predict() {
    let dir = scratch("standardize");
    let csv = scaled_csv(&dir).display().to_string();
    let model = dir.join("z.safetensors").display().to_string();
    ok(&wgtrain(
        &dir,
        &[
            "train",
            "--data",
            &csv,
            "--device",
            "cpu",
            "--hidden",
            "8",
            "--epochs",
            "40",
            "--standardize",
            "--save",
            &model,
        ],
    ));
    let bytes = std::fs::read(&model).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&bytes[8..8 + header_len]);
    assert!(
        header.contains("input.mean") && header.contains("input.std"),
        "{header}"
    );
    let e: serde_json::Value = serde_json::from_str(
        ok(&wgtrain(
            &dir,
            &["eval", "--model", &model, "--data", &csv, "--json"],
        ))
        .trim(),
    )
    .unwrap();
    // Raw inputs around 1000 fed to a network trained on standardised ones would give chance.
    let acc = e["accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.95,
        "eval accuracy {acc}: the statistics were not applied"
    );
    let preds = ok(&wgtrain(
        &dir,
        &["predict", "--model", &model, "--input", &csv],
    ));
    let text = std::fs::read_to_string(&csv).unwrap();
    let labels: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    let classes: Vec<&str> = preds
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let agree = labels.iter().zip(&classes).filter(|(a, b)| a == b).count();
    assert!(
        agree as f64 / labels.len() as f64 > 0.95,
        "predict agrees on {agree} of {}",
        labels.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A CSV file with the class label first: `label,a,b,c`, the label 1 when c ≥ 5; all integers,
/// so reading a feature as the label would not fail to parse.
fn label_first_csv(dir: &Path, features_only: bool) -> PathBuf {
    let mut rng = wgtrain::rng::Rng::new(9);
    let mut text = String::new();
    for _ in 0..300 {
        let v: Vec<u32> = (0..3).map(|_| (rng.next_f64() * 10.0) as u32).collect();
        let label = (v[2] >= 5) as u32;
        text += &if features_only {
            format!("{},{},{}\n", v[0], v[1], v[2])
        } else {
            format!("{label},{},{},{}\n", v[0], v[1], v[2])
        };
    }
    let path = dir.join(if features_only { "x.csv" } else { "xy.csv" });
    std::fs::write(&path, text).unwrap();
    path
}

/// A run with --label-column stores it: eval and predict read the file the same way without
/// the flag (saying so), and --resume keeps it and refuses a different one.
#[test]
fn the_label_column_travels_with_the_model() {
    let dir = scratch("label-column");
    let csv = label_first_csv(&dir, false).display().to_string();
    let features = label_first_csv(&dir, true).display().to_string();
    let model = dir.join("l.safetensors").display().to_string();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train", "--data", &csv, "--device", "cpu", "--hidden", "8", "--epochs", "30",
            "--save", &model,
        ];
        args.extend_from_slice(extra);
        wgtrain(&dir, &args)
    };
    ok(&train(&["--label-column", "1"]));
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--model", &model, "--data", &csv, "--json"];
        args.extend_from_slice(extra);
        wgtrain(&dir, &args)
    };
    let implicit = eval(&[]);
    assert!(
        String::from_utf8_lossy(&implicit.stderr).contains("--label-column 1"),
        "no note of the stored layout: {}",
        String::from_utf8_lossy(&implicit.stderr)
    );
    let explicit = ok(&eval(&["--label-column", "1"]));
    assert_eq!(
        ok(&implicit),
        explicit,
        "eval without the flag read the file differently"
    );
    let e: serde_json::Value = serde_json::from_str(explicit.trim()).unwrap();
    // Far above chance (0.5): the label was read from column 1. (Read from the last column,
    // the labels would be ten classes for a two-class model, or the fit would be lost.)
    assert!(e["accuracy"].as_f64().unwrap() > 0.8, "{e}");
    let predict = |input: &str| {
        ok(&wgtrain(
            &dir,
            &["predict", "--model", &model, "--input", input],
        ))
    };
    let (with_label, without) = (predict(&csv), predict(&features));
    let differ = with_label
        .lines()
        .zip(without.lines())
        .position(|(a, b)| a != b);
    assert!(
        differ.is_none() && with_label.lines().count() == 301,
        "predict on the labelled file did not skip the label column (first difference at line {differ:?})"
    );
    // --resume continues with the stored layout, and refuses another.
    let resume = |extra: &[&str]| {
        let mut args = vec![
            "train", "--resume", &model, "--epochs", "1", "--device", "cpu",
        ];
        args.extend_from_slice(extra);
        wgtrain(&dir, &args)
    };
    ok(&resume(&[]));
    refused(
        &resume(&["--label-column", "4"]),
        "--label-column 4 contradicts",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
