//! `wgtrain eval` and `wgtrain predict` end to end: they agree with what training reported, their
//! tables add up, predictions are probabilities whose argmax is the class, and bad input is a
//! clear error.

mod common;

use common::scratch::Scratch;
use common::{Tol, assert_close};

/// Eval's accuracy against training's last test accuracy, on the same 360 samples: one
/// borderline sample may fall the other way.
const ONE_SAMPLE_OF_360: Tol = Tol {
    rtol: 0.0,
    atol: 1.0 / 360.0,
};
/// Eval's loss against training's last test loss: the same parameters and samples, summed in
/// another order.
const SAME_LOSS: Tol = Tol {
    rtol: 1e-4,
    atol: 0.0,
};

/// Trains digits for 3 epochs on the CPU path; returns the model path and the last metrics line.
fn trained(s: &Scratch) -> (String, serde_json::Value) {
    let model = s.arg("m.safetensors");
    let metrics = s.arg("m.jsonl");
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "3",
        "--save",
        &model,
        "--metrics",
        &metrics,
    ])
    .assert_success();
    let text = std::fs::read_to_string(&metrics).unwrap();
    (
        model,
        serde_json::from_str(text.lines().last().unwrap()).unwrap(),
    )
}

#[test]
fn eval_agrees_with_training_and_its_tables_add_up() {
    let s = Scratch::new("agree");
    let (model, last) = trained(&s);
    let out = s
        .run(&["eval", "--model", &model, "--data", "digits", "--json"])
        .success_stdout();
    let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let n = e["n"].as_u64().unwrap() as usize;
    assert_eq!(n, 360, "digits' test split");
    let acc = e["accuracy"].as_f64().unwrap();
    assert_close(
        "eval accuracy vs training's last test accuracy",
        &[acc],
        &[last["test_accuracy"].as_f64().unwrap()],
        ONE_SAMPLE_OF_360,
    );
    assert_close(
        "eval loss vs training's last test loss",
        &[e["loss"].as_f64().unwrap()],
        &[last["test_loss"].as_f64().unwrap()],
        SAME_LOSS,
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
    let table = s
        .run(&["eval", "--model", &model, "--data", "digits"])
        .success_stdout();
    assert!(
        table.contains("confusion matrix") && table.contains("precision"),
        "{table}"
    );
}

#[test]
fn predict_gives_probabilities_whose_argmax_is_the_class() {
    let s = Scratch::new("predict");
    let (model, _) = trained(&s);
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
    s.write("f.csv", &features);
    s.write("l.csv", header + &labelled);
    let a = s
        .run(&["predict", "--model", &model, "--input", "f.csv"])
        .success_stdout();
    let b = s
        .run(&["predict", "--model", &model, "--input", "l.csv"])
        .success_stdout();
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
    s.run(&[
        "predict", "--model", &model, "--input", "f.csv", "--out", "p.csv",
    ])
    .assert_success();
    assert_eq!(std::fs::read_to_string(s.path("p.csv")).unwrap(), a);
}

#[test]
fn eval_and_predict_refuse_bad_input_clearly() {
    let s = Scratch::new("bad");
    let (model, _) = trained(&s);
    s.write("narrow.csv", "1,2,3\n4,5,6\n");
    s.run(&["predict", "--model", &model, "--input", "narrow.csv"])
        .assert_error(&["the model takes 64 inputs"]);
    s.write(
        "ragged.csv",
        format!("{}\n{}\n", ["1"; 64].join(","), ["1"; 63].join(",")),
    );
    s.run(&["predict", "--model", &model, "--input", "ragged.csv"])
        .assert_error(&["line 2"]);
    s.write("x-idx3-ubyte", [0u8, 0, 8, 1, 0, 0, 0, 1, 7]);
    s.run(&["predict", "--model", &model, "--input", "x-idx3-ubyte"])
        .assert_error(&["magic"]);
    s.run(&["eval", "--model", "missing.safetensors", "--data", "digits"])
        .assert_error(&["missing.safetensors"]);
    s.write("junk.safetensors", b"not a checkpoint at all");
    s.run(&["eval", "--model", "junk.safetensors", "--data", "digits"])
        .assert_error(&["junk.safetensors"]);
    s.write("wide.csv", format!("{},1\n", ["1"; 10].join(",")));
    s.run(&["eval", "--model", &model, "--data", "wide.csv"])
        .assert_error(&["takes 64"]);
    assert!(!s.path("p.csv").exists());
}

/// Features on wildly different scales: a big one that decides the class, a tiny constant-ish
/// one, a uniform one.
fn scaled_csv(s: &Scratch) -> String {
    let mut rng = wgtrain::testing::Rng::new(5);
    let mut text = String::from("a,b,c,label\n");
    for _ in 0..400 {
        let a = 1000.0 + 600.0 * (rng.next_f64() - 0.5);
        let b = -5.0 + 0.01 * rng.next_f64();
        let c = rng.next_f64();
        text += &format!("{a:.3},{b:.5},{c:.4},{}\n", (a > 1000.0) as u8);
    }
    s.write("scaled.csv", text)
}

#[test]
fn standardized_models_carry_their_statistics_into_eval_and_predict() {
    let s = Scratch::new("standardize");
    let csv = scaled_csv(&s);
    let model = s.arg("z.safetensors");
    s.run(&[
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
    ])
    .assert_success();
    let bytes = std::fs::read(&model).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8_lossy(&bytes[8..8 + header_len]);
    assert!(
        header.contains("input.mean") && header.contains("input.std"),
        "{header}"
    );
    let e: serde_json::Value = serde_json::from_str(
        s.run(&["eval", "--model", &model, "--data", &csv, "--json"])
            .success_stdout()
            .trim(),
    )
    .unwrap();
    // Raw inputs around 1000 fed to a network trained on standardised ones would give chance.
    let acc = e["accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.95,
        "eval accuracy {acc}: the statistics were not applied"
    );
    let preds = s
        .run(&["predict", "--model", &model, "--input", &csv])
        .success_stdout();
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
}

/// A CSV file with the class label first: `label,a,b,c`, the label 1 when c ≥ 5; all integers,
/// so reading a feature as the label would not fail to parse.
fn label_first_csv(s: &Scratch, features_only: bool) -> String {
    let mut rng = wgtrain::testing::Rng::new(9);
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
    s.write(if features_only { "x.csv" } else { "xy.csv" }, text)
}

/// A run with --label-column stores it in its table: eval and predict read the file the same
/// way without the flag (saying so), and --resume keeps it and refuses a different one.
#[test]
fn the_label_column_travels_with_the_model() {
    let s = Scratch::new("label-column");
    let csv = label_first_csv(&s, false);
    let features = label_first_csv(&s, true);
    let model = s.arg("l.safetensors");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train", "--data", &csv, "--device", "cpu", "--hidden", "8", "--epochs", "30",
            "--save", &model,
        ];
        args.extend_from_slice(extra);
        s.run(&args)
    };
    train(&["--label-column", "1"]).assert_success();
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--model", &model, "--data", &csv, "--json"];
        args.extend_from_slice(extra);
        s.run(&args)
    };
    let implicit = eval(&[]);
    assert!(
        implicit.stderr.contains("label \"column 1\""),
        "no note of the stored table: {}",
        implicit.stderr
    );
    let explicit = eval(&["--label-column", "1"]).success_stdout();
    assert_eq!(
        implicit.success_stdout(),
        explicit,
        "eval without the flag read the file differently"
    );
    let e: serde_json::Value = serde_json::from_str(explicit.trim()).unwrap();
    // Far above chance (0.5): the label was read from column 1. (Read from the last column,
    // the labels would be ten classes for a two-class model, or the fit would be lost.)
    assert!(e["accuracy"].as_f64().unwrap() > 0.8, "{e}");
    let predict = |input: &str| {
        s.run(&["predict", "--model", &model, "--input", input])
            .success_stdout()
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
        s.run(&args)
    };
    resume(&[]).assert_success();
    // --label-column is --label's old name.
    resume(&["--label-column", "4"]).assert_error(&["--label 4 contradicts"]);
}

#[test]
fn eval_and_predict_say_what_they_imputed_dropped_and_left_unread() {
    let s = Scratch::new("eval_notes");
    let rows: String = (0..12)
        .map(|i| format!("{},{},{}\n", i % 4, (i * 7) % 5, ["p", "q"][i % 2]))
        .collect();
    let train = s.write("tr.csv", format!("a,b,y\n{rows}"));
    let model = s.arg("tr.safetensors");
    s.run(&[
        "train", "--data", &train, "--device", "cpu", "--epochs", "2", "--save", &model,
    ])
    .assert_success();
    // A missing feature, a missing label, a column the model lacks.
    let file = s.write("ev.csv", "a,b,y,c\n,5,p,1\n3,4,,2\n1,1,q,3\n");
    s.run(&["eval", "--model", &model, "--data", &file])
        .assert_clean_failure(&[])
        .assert_error_line(&["line 3", "the label is missing", "--drop-missing-target"]);
    let run = s.run(&[
        "eval",
        "--model",
        &model,
        "--data",
        &file,
        "--drop-missing-target",
    ]);
    run.assert_success();
    for want in [
        "ev.csv: 1 row left out: the label or target is missing",
        "ev.csv: 1 missing value imputed",
        "ev.csv: not read, the model has no such column: \"c\"",
    ] {
        assert!(
            run.stderr.contains(want),
            "{want:?} not in:\n{}",
            run.show()
        );
    }
    let run = s.run(&["predict", "--model", &model, "--input", &file]);
    run.assert_success();
    for want in ["ev.csv: 1 missing value imputed", "no such column: \"c\""] {
        assert!(
            run.stderr.contains(want),
            "{want:?} not in:\n{}",
            run.show()
        );
    }
    // Not a CSV file: refused, not ignored.
    s.run(&[
        "eval",
        "--model",
        &model,
        "--data",
        "digits",
        "--drop-missing-target",
    ])
    .assert_clean_failure(&["--drop-missing-target", "applies to CSV files"]);
}

#[test]
fn a_kept_column_named_like_a_prediction_column_is_renamed_not_doubled() {
    let s = Scratch::new("keep_clash");
    let rows: String = (0..12)
        .map(|i| format!("{},{},{}\n", i % 4, (i * 7) % 5, ["a", "b"][i % 2]))
        .collect();
    let train = s.write("tr.csv", format!("x1,x2,class\n{rows}"));
    let model = s.arg("tr.safetensors");
    s.run(&[
        "train", "--data", &train, "--device", "cpu", "--epochs", "2", "--save", &model,
    ])
    .assert_success();
    // `class` twice read back as the true label where the prediction was meant.
    let run = s.run(&[
        "predict", "--model", &model, "--input", &train, "--keep", "class",
    ]);
    run.assert_success();
    let header = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(header, "class_kept,class,p_a,p_b", "{}", run.show());
    assert!(
        run.stderr
            .contains("the kept column \"class\" is written as \"class_kept\""),
        "{}",
        run.show()
    );
}
