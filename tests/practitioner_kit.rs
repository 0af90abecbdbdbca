//! The practitioner's kit on a binary table (the churn fixture: an id column, a yes/no label):
//! eval's balanced accuracy, ROC AUC and log-loss against the same figures counted by hand from
//! predict's probabilities; a decision threshold in eval and predict; columns carried through
//! predict; numbers printed so that they read back as the same f32; a --keep-best run's
//! result is its saved model's.
#![cfg(feature = "cli")]

mod common;

use common::scratch::Scratch;
use common::tabular;

/// `wgtrain train` on the churn fixture's training file (written first) on the CPU path, its
/// label and id named, with `extra` flags.
fn train_churn(s: &Scratch, extra: &[&str]) -> common::cli::Run {
    let f = tabular::churn();
    s.write(f.train.0, &f.train.1);
    s.write(f.test.0, &f.test.1);
    let mut args = vec![
        "train", "--device", "cpu", "--data", f.train.0, "--label", "churned", "--ignore", "id",
    ];
    args.extend(extra);
    s.run(&args)
}

/// Trains the churn fixture for 10 epochs on the CPU path; the model's path.
fn churn_model(s: &Scratch) -> String {
    let model = s.arg("churn.safetensors");
    train_churn(s, &["--epochs", "10", "--save", &model, "--quiet"]).assert_success();
    model
}

/// The labels of the churn test file, as the class indices of `classes`.
fn labels(s: &Scratch, classes: &[String]) -> Vec<usize> {
    let text = std::fs::read_to_string(s.path(tabular::churn().test.0)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let label = l.rsplit(',').next().unwrap();
            classes.iter().position(|c| c == label).unwrap()
        })
        .collect()
}

/// predict's rows: the cells of each line after the header, and the header.
fn predictions(out: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = out.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// ROC AUC by counting every (positive, negative) pair, ties one half.
fn auc_by_pairs(p: &[f64], positive: &[bool]) -> f64 {
    let (mut won, mut pairs) = (0.0, 0.0);
    for (_, &pi) in p.iter().enumerate().filter(|&(i, _)| positive[i]) {
        for (_, &pj) in p.iter().enumerate().filter(|&(j, _)| !positive[j]) {
            pairs += 1.0;
            won += if pi > pj {
                1.0
            } else if pi == pj {
                0.5
            } else {
                0.0
            };
        }
    }
    won / pairs
}

#[test]
fn eval_figures_match_a_hand_count_from_predicts_probabilities() {
    let s = Scratch::new("kit_figures");
    let model = churn_model(&s);
    let test = tabular::churn().test.0;
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["eval", "--model", &model, "--data", test, "--json"];
        args.extend(extra);
        serde_json::from_str(s.run(&args).success_stdout().trim()).unwrap()
    };
    let e = json(&[]);
    let classes: Vec<String> = serde_json::from_value(e["classes"].clone()).unwrap();
    let y = labels(&s, &classes);
    let out = s
        .run(&[
            "predict", "--model", &model, "--input", test, "--keep", "id",
        ])
        .success_stdout();
    let (header, rows) = predictions(&out);
    assert_eq!(header[..2], ["id".to_string(), "class".to_string()]);
    // The ids come through in the file's order.
    let ids: Vec<String> = std::fs::read_to_string(s.path(test))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), ids);
    let p1: Vec<f64> = rows.iter().map(|r| r[3].parse().unwrap()).collect();
    let positive: Vec<bool> = y.iter().map(|&c| c == 1).collect();
    let auc = auc_by_pairs(&p1, &positive);
    // The same f32 probabilities on both sides; eval sorts, this counts pairs: exact.
    assert!(
        (e["roc_auc"].as_f64().unwrap() - auc).abs() < 1e-12,
        "eval's AUC {} against {auc} counted from predict",
        e["roc_auc"]
    );
    // Log-loss: eval from the logits in f64, here from the f32 probabilities predict printed
    // (each within an f32 rounding, ~6e-8 relative, of the exact softmax): 1e-5 covers the
    // logarithm of that rounding on a confident row.
    let log_loss: f64 = rows
        .iter()
        .zip(&y)
        .map(|(r, &c)| -r[2 + c].parse::<f64>().unwrap().ln())
        .sum::<f64>()
        / y.len() as f64;
    let got = e["log_loss"].as_f64().unwrap();
    assert!((got - log_loss).abs() < 1e-5, "{got} against {log_loss}");
    assert!((got - e["loss"].as_f64().unwrap()).abs() < 1e-12);
    // Balanced accuracy: the mean of the two recalls of predict's classes.
    let recall = |c: usize| {
        let of: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        of.iter().filter(|&&i| rows[i][1] == classes[c]).count() as f64 / of.len() as f64
    };
    let balanced = (recall(0) + recall(1)) / 2.0;
    assert!((e["balanced_accuracy"].as_f64().unwrap() - balanced).abs() < 1e-12);

    // A threshold: eval's confusion matrix counts predict's classes at the same threshold, and
    // predict calls a row the second class exactly when its probability reaches it.
    let t = "0.3";
    let at = json(&["--threshold", t]);
    assert_eq!(at["threshold"].as_f64(), Some(0.3));
    assert_eq!(at["roc_auc"], e["roc_auc"], "AUC does not depend on it");
    let out = s
        .run(&[
            "predict",
            "--model",
            &model,
            "--input",
            test,
            "--threshold",
            t,
        ])
        .success_stdout();
    let (_, rows) = predictions(&out);
    let mut confusion = vec![vec![0u64; 2]; 2];
    for (r, &c) in rows.iter().zip(&y) {
        let p: f64 = r[2].parse().unwrap();
        let class = classes.iter().position(|n| *n == r[0]).unwrap();
        assert_eq!(class == 1, p >= 0.3, "{r:?}");
        confusion[c][class] += 1;
    }
    let got: Vec<Vec<u64>> = serde_json::from_value(at["confusion"].clone()).unwrap();
    assert_eq!(got, confusion);
    assert_ne!(
        at["confusion"], e["confusion"],
        "a threshold of 0.3 moves some rows on this table"
    );
    let table = s
        .run(&["eval", "--model", &model, "--data", test])
        .success_stdout();
    for line in ["balanced accuracy ", "roc auc ", "log-loss "] {
        assert!(table.contains(line), "{line} missing from\n{table}");
    }
}

#[test]
fn predict_prints_each_number_in_the_fewest_digits_that_read_back_the_same() {
    let s = Scratch::new("kit_digits");
    let model = churn_model(&s);
    let out = s
        .run(&[
            "predict",
            "--model",
            &model,
            "--input",
            tabular::churn().test.0,
        ])
        .success_stdout();
    let (_, rows) = predictions(&out);
    for cell in rows.iter().flat_map(|r| &r[1..]) {
        let v: f32 = cell.parse().unwrap();
        // Shortest round trip: f32's own formatting of the parsed value gives the cell back.
        let again = if v != 0.0 && v.abs() < 1e-5 {
            format!("{v:e}")
        } else {
            v.to_string()
        };
        assert_eq!(*cell, again);
        assert!(v > 0.0, "a probability printed as {cell}");
    }
}

#[test]
fn threshold_and_keep_refuse_what_they_cannot_do() {
    let s = Scratch::new("kit_refuse");
    let model = churn_model(&s);
    let test = tabular::churn().test.0;
    s.run(&[
        "predict", "--model", &model, "--input", test, "--keep", "customer",
    ])
    .assert_error_line(&["--keep", "no column is named \"customer\"", "\"id\""]);
    s.run(&[
        "eval",
        "--model",
        &model,
        "--data",
        test,
        "--threshold",
        "1.5",
    ])
    .assert_error_line(&["--threshold", "between 0 and 1"]);
    let digits = s.arg("digits.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--epochs", "1", "--save", &digits, "--quiet",
    ])
    .assert_success();
    s.run(&["eval", "--model", &digits, "--threshold", "0.5"])
        .assert_error_line(&["--threshold", "two classes", "10 classes"]);
    s.run(&[
        "predict", "--model", &digits, "--input", "digits", "--keep", "id",
    ])
    .assert_error_line(&["--keep", "CSV"]);
}

#[test]
fn a_keep_best_run_reports_its_saved_models_test_figures() {
    let s = Scratch::new("kit_best");
    let f = tabular::churn();
    let model = s.arg("best.safetensors");
    let run = train_churn(
        &s,
        &[
            "--test",
            f.test.0,
            "--epochs",
            "40",
            "--lr",
            "0.3",
            "--valid-split",
            "0.25",
            "--keep-best",
            "--save",
            &model,
            "--quiet",
        ],
    );
    run.assert_success();
    let result = run.stdout.lines().last().unwrap();
    let epoch: usize = result
        .split("(epoch ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|e| e.parse().ok())
        .unwrap_or_else(|| panic!("no kept epoch in {result:?}"));
    assert!(
        run.stderr
            .contains(&format!("epoch {epoch}, the lowest validation loss")),
        "{}",
        run.show()
    );
    // The case the line exists for: the file holds an earlier epoch than the last one printed.
    assert!(epoch < 40, "{}", run.show());
    let e: serde_json::Value = serde_json::from_str(
        s.run(&["eval", "--model", &model, "--data", f.test.0, "--json"])
            .success_stdout()
            .trim(),
    )
    .unwrap();
    let acc = format!("accuracy {:.2}%", e["accuracy"].as_f64().unwrap() * 100.0);
    let loss = format!("loss {:.4}", e["loss"].as_f64().unwrap());
    assert!(
        result.contains(&acc) && result.contains(&loss),
        "{result:?} against the saved file's {acc}, {loss}"
    );
}

#[test]
fn class_weights_from_the_command_line_are_said_stored_and_checked() {
    let s = Scratch::new("kit_weights");
    let model = s.arg("w.safetensors");
    let run = train_churn(
        &s,
        &["--epochs", "2", "--class-weight", "yes=3", "--save", &model],
    );
    run.assert_success();
    assert!(
        run.stderr.contains("class weights: no 1.0000, yes 3.0000"),
        "{}",
        run.show()
    );
    s.run(&[
        "train",
        "--resume",
        &model,
        "--epochs",
        "1",
        "--class-weight",
        "balanced",
    ])
    .assert_error_line(&["--class-weight", "differs from the resumed run's"]);
    train_churn(&s, &["--class-weight", "maybe=2"]).assert_error_line(&[
        "--class-weight",
        "\"maybe\" is not a class",
        "no, yes",
    ]);
    let f = tabular::churn();
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        f.train.0,
        "--targets",
        "tenure",
        "--ignore",
        "id",
        "--class-weight",
        "balanced",
    ])
    .assert_error_line(&["--class-weight", "values"]);
}
