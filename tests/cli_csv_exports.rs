//! CSV files as pandas and R write them, through the binary: pandas' index (an empty first
//! header cell), R's `write.csv` (a quoted `""` header cell over quoted row names, quoted
//! strings, NA) and numeric id or row-number columns are left out with a note naming each, and
//! eval and predict leave them out too; a numeric label that looks like a regression target
//! and duplicate header names are refused with what to do; millisecond timestamps train.

mod common;

use common::cli::rejects;
use common::scratch::Scratch;

/// A label the inputs decide: `yes` when 2·x1 - x2 + (red: 1) > 0, from a fixed pattern.
fn example(i: usize) -> (f64, f64, &'static str, &'static str) {
    let x1 = ((i * 37) % 101) as f64 / 50.0 - 1.0;
    let x2 = ((i * 53) % 89) as f64 / 44.0 - 1.0;
    let color = ["red", "green", "blue"][i % 3];
    let z = 2.0 * x1 - x2 + if color == "red" { 1.0 } else { 0.0 };
    (x1, x2, color, if z > 0.0 { "yes" } else { "no" })
}

/// Rows `order` of the example as pandas' `to_csv()` writes them: the index (the row labels
/// the frame kept through a split) under an empty header cell; without the label for
/// `predict` (`df.drop(columns="label").to_csv()`).
fn pandas(order: &[usize], label: bool) -> String {
    let mut text = String::from(if label {
        ",x1,x2,color,label\n"
    } else {
        ",x1,x2,color\n"
    });
    for &i in order {
        let (x1, x2, color, y) = example(i);
        text += &format!("{i},{x1},{x2},{color}");
        text += &if label {
            format!(",{y}\n")
        } else {
            "\n".into()
        };
    }
    text
}

/// The test accuracy `eval --json` gives for `model` on `data`.
fn accuracy(s: &Scratch, model: &str, data: &str) -> f64 {
    let out = s
        .run(&["eval", "--model", model, "--data", data, "--json"])
        .success_stdout();
    let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    e["accuracy"].as_f64().unwrap()
}

#[test]
fn a_pandas_export_with_its_index_trains_evaluates_and_predicts() {
    let s = Scratch::new("pandas_index");
    // A shuffled split, as train_test_split leaves the index.
    let order: Vec<usize> = (0..120).map(|i| (i * 43) % 120).collect();
    let train = s.write("train.csv", pandas(&order[..80], true));
    let test = s.write("test.csv", pandas(&order[80..], true));
    let new = s.write("new.csv", pandas(&order[80..], false));
    let model = s.arg("model.safetensors");
    let run = s.run(&[
        "train", "--data", &train, "--test", &test, "--device", "cpu", "--epochs", "30", "--save",
        &model,
    ]);
    run.assert_success();
    let notes: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("left out"))
        .collect();
    assert_eq!(
        notes,
        [
            "note: column 1 left out: its header cell is empty, as in pandas' index or R's row names: a row index; --feature 1 reads it as an input"
        ],
        "{}",
        run.show()
    );
    assert!(
        run.stderr
            .contains("2 numeric and 1 categorical (3 levels) feature columns, 1 ignored"),
        "{}",
        run.show()
    );
    assert!(accuracy(&s, &model, &test) >= 0.8);
    let preds = s
        .run(&["predict", "--model", &model, "--input", &new])
        .success_stdout();
    assert_eq!(preds.lines().count(), 41, "{preds}");
    // Insisting reads the index as an input.
    let run = s.run(&[
        "train",
        "--data",
        &train,
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--feature",
        "1",
    ]);
    run.assert_success();
    assert!(
        !run.stderr.contains("left out") && run.stderr.contains("3 numeric and 1 categorical"),
        "{}",
        run.show()
    );
}

#[test]
fn an_r_write_csv_export_with_row_names_quotes_and_na_trains() {
    let s = Scratch::new("r_write_csv");
    // write.csv(df): "" over the quoted row names, quoted strings, NA for a missing number.
    let r = |rows: std::ops::Range<usize>| {
        let mut text = String::from("\"\",\"x1\",\"x2\",\"color\",\"label\"\n");
        for i in rows {
            let (x1, x2, color, y) = example(i);
            let x2 = if i % 17 == 5 {
                "NA".to_string()
            } else {
                x2.to_string()
            };
            text += &format!("\"{}\",{x1},{x2},\"{color}\",\"{y}\"\n", i + 1);
        }
        text
    };
    let train = s.write("train.csv", r(0..80));
    let test = s.write("test.csv", r(80..120));
    let model = s.arg("model.safetensors");
    let run = s.run(&[
        "train", "--data", &train, "--test", &test, "--device", "cpu", "--epochs", "30", "--save",
        &model,
    ]);
    run.assert_success();
    assert!(
        run.stderr
            .contains("note: column 1 left out: its header cell is empty")
            && run
                .stderr
                .contains("(80 train, 40 test; 5 missing values imputed)"),
        "{}",
        run.show()
    );
    assert!(accuracy(&s, &model, &test) >= 0.8);
}

#[test]
fn numeric_id_and_row_number_columns_are_left_out_and_predict_leaves_them_out_too() {
    let s = Scratch::new("numeric_ids");
    let mut text = String::from("PassengerId,x1,x2,color,n,label\n");
    for i in 0..60 {
        let (x1, x2, color, y) = example(i);
        // Ids in a shuffled order, and the row numbers from 1.
        text += &format!("{},{x1},{x2},{color},{},{y}\n", 1000 + (i * 7) % 60, i + 1);
    }
    let train = s.write("train.csv", &text);
    let model = s.arg("model.safetensors");
    let run = s.run(&[
        "train", "--data", &train, "--device", "cpu", "--epochs", "2", "--save", &model,
    ]);
    run.assert_success();
    let notes: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("left out"))
        .collect();
    assert_eq!(
        notes,
        [
            "note: column 1 (\"PassengerId\") left out: it holds whole numbers, all different, under an identifier's name; --feature 1 reads it as an input",
            "note: column 5 (\"n\") left out: it holds the row numbers: a row index; --feature 5 reads it as an input",
        ],
        "{}",
        run.show()
    );
    assert!(
        run.stderr.contains("feature columns, 2 ignored"),
        "{}",
        run.show()
    );
    // Predict's file: without the id, the row numbers and the label; or with all of them.
    let new = s.write("new.csv", "color,x2,x1\nred,0.5,0.25\nblue,-1,0.75\n");
    let preds = s
        .run(&["predict", "--model", &model, "--input", &new])
        .success_stdout();
    assert_eq!(preds.lines().count(), 3, "{preds}");
    let again = s
        .run(&["predict", "--model", &model, "--input", &train])
        .success_stdout();
    assert_eq!(again.lines().count(), 61);
    let run = s.run(&[
        "train",
        "--data",
        &train,
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--feature",
        "PassengerId,n",
    ]);
    run.assert_success();
    assert!(!run.stderr.contains("left out"), "{}", run.show());
}

#[test]
fn a_label_that_looks_continuous_is_refused_with_the_regression_hint() {
    let s = Scratch::new("continuous_label");
    // Diamonds-like: 300 whole-dollar prices, each in two of 600 rows.
    let mut text = String::from("carat,depth,price\n");
    for i in 0..600 {
        let carat = 0.2 + (i % 300) as f64 / 100.0;
        text += &format!("{carat:.2},{},{}\n", 60 + i % 5, 326 + 17 * (i % 300));
    }
    let data = s.write("diamonds.csv", &text);
    rejects(
        &s,
        &["--data", &data, "--label", "price"],
        &[
            "column 3 (\"price\")",
            "300 different integers in 600 rows",
            "--targets price with --loss mse",
            "--many-classes",
        ],
    );
    s.run(&[
        "train",
        "--data",
        &data,
        "--targets",
        "price",
        "--loss",
        "mse",
        "--device",
        "cpu",
        "--epochs",
        "1",
    ])
    .assert_success();
    let run = s.run(&[
        "train",
        "--data",
        &data,
        "--label",
        "price",
        "--many-classes",
        "--device",
        "cpu",
        "--epochs",
        "1",
    ]);
    run.assert_success();
    assert!(run.stderr.contains("300 classes"), "{}", run.show());
}

#[test]
fn duplicate_header_names_are_refused_naming_both_positions() {
    let s = Scratch::new("duplicates");
    let mut text = String::from("a,x,b,x,y\n");
    for i in 0..30 {
        text += &format!("{},{},{},{},{}\n", i % 4, i % 5, i % 6, i % 7, i % 2);
    }
    let data = s.write("dup.csv", &text);
    rejects(
        &s,
        &["--data", &data],
        &[
            "dup.csv",
            "line 1",
            "columns 2 and 4 are both named \"x\"",
            "--ignore",
        ],
    );
    let model = s.arg("m.safetensors");
    s.run(&[
        "train", "--data", &data, "--ignore", "4", "--device", "cpu", "--epochs", "1", "--save",
        &model,
    ])
    .assert_success();
    // A test file with the columns in another order is read by name.
    let moved = s.write("moved.csv", "y,x,b,a,x\n1,2,3,1,9\n0,1,2,0,9\n");
    s.run(&["eval", "--model", &model, "--data", &moved])
        .assert_success();
}

#[test]
fn millisecond_timestamps_stay_informative() {
    let s = Scratch::new("timestamps");
    // 1.7e12 + k ms: one f32 step is 131072 ms, so cast first, every row reads the same.
    let mut text = String::from("time,label\n");
    for k in 0..200u64 {
        let late = if k >= 100 { "late" } else { "early" };
        text += &format!("{},{late}\n", 1_700_000_000_000u64 + k * 7);
    }
    let data = s.write("times.csv", &text);
    let model = s.arg("m.safetensors");
    s.run(&[
        "train", "--data", &data, "--device", "cpu", "--epochs", "40", "--save", &model,
    ])
    .assert_success();
    let acc = accuracy(&s, &model, &data);
    assert!(acc >= 0.9, "accuracy {acc}: the timestamps collapsed");
}
