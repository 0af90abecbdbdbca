//! Regression through the `wgtrain` binary: a CSV with targets in the hundreds trains at the
//! default learning rate with its targets standardised (and diverges without), the epoch lines,
//! `--metrics`, `eval` and `predict` are in the targets' units; `--patience` with
//! `--keep-best`; the warning on a climbing training loss.

mod common;

use common::cli::{Metrics, Run, metrics, number};
use common::diabetes;
use common::scratch::Scratch;

/// Printed figures have 4 decimals: half a unit in the last place.
const PRINTED: f64 = 5e-5;

/// The number after the words `key` in `line`.
fn after(line: &str, key: &str) -> Option<f64> {
    let rest = line.split(&format!("{key} ")).nth(1)?;
    rest.split(|c: char| c.is_whitespace() || c == ',' || c == ')')
        .next()?
        .parse()
        .ok()
}

/// The epoch lines of stdout (nothing else is printed there).
fn epoch_lines(run: &Run) -> Vec<&str> {
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.iter().all(|l| l.starts_with("epoch ")),
        "{}",
        run.show()
    );
    lines
}

fn write_sets(s: &Scratch) {
    s.write("train.csv", diabetes::csv(400, 1));
    s.write("test.csv", diabetes::csv(100, 2));
}

const TRAIN: [&str; 8] = [
    "train",
    "--data",
    "train.csv",
    "--targets",
    "1",
    "--device",
    "cpu",
    "--valid-split=0.2",
];

#[test]
fn a_csv_regression_trains_at_the_default_lr_and_reports_in_the_targets_units() {
    let s = Scratch::new("csv_regression");
    write_sets(&s);
    // 20 epochs, not a table's default 40 (tests/run_plan.rs checks that default): this test's
    // subject is the default learning rate and the units, and its R² floor was set on 20
    // epochs. At 40 the 80 held-out rows' R² drifts from 0.43 to 0.39 as the net fits the noise
    // (sd 40); on this generator's fixture pair (400/100 rows, seeds 0-4, 2026-12-07) 40 epochs
    // score R² 0.598 and 20 score 0.615, against scikit-learn's default MLP 0.600.
    let args = [
        &TRAIN[..],
        &[
            "--epochs",
            "20",
            "--save",
            "m.safetensors",
            "--metrics",
            "m.jsonl",
        ],
    ]
    .concat();
    let run = s.run(&args);
    run.assert_success();
    assert!(
        run.stderr
            .contains("targets: standardised for training (mean "),
        "{}",
        run.show()
    );
    let lines = epoch_lines(&run);
    assert_eq!(lines.len(), 20, "{}", run.show());
    let m: Vec<Metrics> = metrics(&s.path("m.jsonl"));
    for (line, o) in lines.iter().zip(&m) {
        let (loss, rmse, r2) = (
            after(line, "valid loss").unwrap(),
            after(line, "valid rmse").unwrap(),
            after(line, "valid r2").unwrap(),
        );
        assert!(
            (number(o, "valid_rmse") - rmse).abs() <= PRINTED,
            "{line}\n{o:?}"
        );
        assert!(
            (number(o, "valid_r2") - r2).abs() <= PRINTED,
            "{line}\n{o:?}"
        );
        assert!(
            (number(o, "valid_loss") - loss).abs() <= PRINTED,
            "{line}\n{o:?}"
        );
        // One target: the loss is ½·MSE = ½·rmse².
        let (l, r) = (number(o, "valid_loss"), number(o, "valid_rmse"));
        assert!((l - 0.5 * r * r).abs() <= 1e-9 * l, "{o:?}");
        assert_eq!(o["train_loss_standardized"], false);
        assert!(
            o["test_rmse"].is_null() && o["valid_accuracy"].is_null(),
            "{o:?}"
        );
    }
    let last = lines.last().unwrap();
    assert!(after(last, "valid r2").unwrap() > 0.4, "{}", run.show());
    assert!(
        after(last, "train loss").unwrap() > 100.0,
        "not in the targets' units: {last}"
    );

    let eval = s.run(&["eval", "--model", "m.safetensors", "--data", "test.csv"]);
    eval.assert_success();
    let out = &eval.stdout;
    let line = |key: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} line:\n{}", eval.show()))
    };
    assert!(
        line("loss").ends_with("(½·MSE, the mse training loss)"),
        "{}",
        eval.show()
    );
    let figure = |key: &str| after(line(key), key).unwrap();
    let (mse, rmse, r2) = (figure("mse"), figure("rmse"), figure("r2"));
    assert!(r2 > 0.5 && r2 < 1.0, "{}", eval.show());
    assert!(
        figure("mae") > 0.0 && figure("mae") <= rmse,
        "{}",
        eval.show()
    );
    assert!(
        (figure("loss") - mse / 2.0).abs() <= PRINTED,
        "{}",
        eval.show()
    );

    let json = s.run(&[
        "eval",
        "--model",
        "m.safetensors",
        "--data",
        "test.csv",
        "--json",
    ]);
    let e: serde_json::Value = serde_json::from_str(json.success_stdout().trim()).unwrap();
    let get = |k: &str| e[k].as_f64().unwrap_or_else(|| panic!("{k} in {e}"));
    assert!((get("rmse") - rmse).abs() <= PRINTED && (get("r2") - r2).abs() <= PRINTED);
    assert!(
        (get("loss") - get("mse") / 2.0).abs() <= 1e-12 * get("mse"),
        "{e}"
    );
    assert_eq!(e["per_target"].as_array().map(Vec::len), Some(1), "{e}");

    // predict writes the targets' units: its RMSE against the file's targets is eval's.
    let p = s.run(&["predict", "--model", "m.safetensors", "--input", "test.csv"]);
    let preds: Vec<f64> = p
        .success_stdout()
        .lines()
        .skip(1)
        .map(|l| l.parse().unwrap())
        .collect();
    let truth: Vec<f64> = diabetes::rows(100, 2)
        .iter()
        .map(|(_, y)| format!("{y:.3}").parse().unwrap())
        .collect();
    assert_eq!(preds.len(), truth.len());
    let mse_p = preds
        .iter()
        .zip(&truth)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / truth.len() as f64;
    assert!(
        (mse_p.sqrt() - get("rmse")).abs() <= 1e-4 * get("rmse"),
        "predict's rmse {} against eval's {}",
        mse_p.sqrt(),
        get("rmse")
    );
}

#[test]
fn without_target_standardisation_the_same_run_diverges() {
    let s = Scratch::new("csv_regression_raw");
    write_sets(&s);
    s.run(&[&TRAIN[..], &["--no-standardize-targets"]].concat())
        .assert_error(&["diverged", "epoch 1", "lower --lr"]);
}

#[test]
fn patience_stops_early_and_keep_best_names_the_kept_epoch_and_its_figures() {
    let s = Scratch::new("patience");
    write_sets(&s);
    let args = [
        &TRAIN[..],
        &[
            "--epochs",
            "300",
            "--patience",
            "3",
            "--keep-best",
            "--save",
            "best.safetensors",
        ],
    ]
    .concat();
    let run = s.run(&args);
    run.assert_success();
    let lines = epoch_lines(&run);
    let stop = run
        .stderr
        .lines()
        .find(|l| l.starts_with("stopped early after epoch "))
        .unwrap_or_else(|| panic!("no early stop:\n{}", run.show()));
    let stopped: usize = after(stop, "after epoch").unwrap() as usize;
    let best: usize = after(stop, "lowest in epoch").unwrap() as usize;
    assert!(
        stop.contains(&format!(
            "of 300: the validation loss has not improved for 3 epochs (lowest in epoch {best})"
        )),
        "{stop}"
    );
    assert_eq!(lines.len(), stopped, "{}", run.show());
    assert_eq!(stopped - best, 3, "{}", run.show());
    let valid: Vec<f64> = lines
        .iter()
        .map(|l| after(l, "valid loss").unwrap())
        .collect();
    let lowest = valid.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(valid[best - 1], lowest, "{}", run.show());
    let kept_line = lines[best - 1];
    let saved = format!(
        "saved best.safetensors: epoch {best}, the lowest validation loss ({:.4}, rmse {:.4}, r2 {:.4})",
        lowest,
        after(kept_line, "valid rmse").unwrap(),
        after(kept_line, "valid r2").unwrap()
    );
    assert!(
        run.stderr.contains(&saved),
        "want {saved:?}\n{}",
        run.show()
    );
}

#[test]
fn patience_without_a_validation_set_or_of_zero_is_refused() {
    let s = Scratch::new("patience_refused");
    write_sets(&s);
    let no_valid = &TRAIN[..TRAIN.len() - 1];
    s.run(&[no_valid, &["--patience", "3"]].concat())
        .assert_error(&["--patience 3", "no validation set", "--valid-split"]);
    s.run(&[&TRAIN[..], &["--patience", "0"]].concat())
        .assert_error(&["--patience must be at least 1"]);
}

#[test]
fn a_climbing_training_loss_warns_once_on_stderr() {
    // One linear unit on rows x = 1, y = 1 at batch 1 and lr 1.25: each step multiplies the
    // error by -1.5, so the loss climbs 2.25 times a step and stays finite for 5 epochs. The
    // values are raw (standardising a constant column would leave nothing to climb).
    let s = Scratch::new("climbing");
    s.write("ones.csv", "x,y\n".to_string() + &"1,1\n".repeat(8));
    let run = s.run(&[
        "train",
        "--data",
        "ones.csv",
        "--targets",
        "1",
        "--hidden",
        "",
        "--lr",
        "1.25",
        "--batch",
        "1",
        "--epochs",
        "5",
        "--device",
        "cpu",
        "--no-standardize",
        "--no-standardize-targets",
    ]);
    run.assert_success();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: epoch "))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.show());
    assert!(
        warnings[0].contains("times the first batch's")
            && warnings[0].contains("try a lower --lr (now 1.25), or --standardize the inputs"),
        "{}",
        run.show()
    );
}

#[test]
fn a_resumed_regression_keeps_its_target_statistics() {
    let s = Scratch::new("resume_regression");
    write_sets(&s);
    let first = s.run(&[&TRAIN[..], &["--epochs", "3", "--save", "run.safetensors"]].concat());
    first.assert_success();
    let stats = |run: &Run| {
        run.stderr
            .lines()
            .find(|l| l.starts_with("targets: standardised for training"))
            .unwrap_or_else(|| panic!("{}", run.show()))
            .to_string()
    };
    let more = s.run(&[
        "train",
        "--resume",
        "run.safetensors",
        "--epochs",
        "1",
        "--device",
        "cpu",
    ]);
    more.assert_success();
    assert_eq!(stats(&more), stats(&first));
    let before = after(epoch_lines(&first)[2], "valid loss").unwrap();
    let lines = epoch_lines(&more);
    assert!(lines[0].starts_with("epoch   4/4"), "{}", more.show());
    let now = after(lines[0], "valid loss").unwrap();
    assert!(
        now < 3.0 * before && now > before / 3.0,
        "{before} then {now}"
    );
    s.run(&[
        "train",
        "--resume",
        "run.safetensors",
        "--no-standardize-targets",
        "--device",
        "cpu",
    ])
    .assert_error(&[
        "run.safetensors",
        "its run standardised its targets; --standardize-targets off cannot take that away on --resume",
    ]);
}
