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

/// Rows `rows` of the example, its columns in `order` (names x1, x2, color, label), cells
/// joined by `d`, numbers with `decimal` as their decimal mark.
fn written(rows: std::ops::Range<usize>, order: [&str; 4], d: &str, decimal: char) -> String {
    let mut text = order.join(d) + "\n";
    for i in rows {
        let (x1, x2, color, y) = example(i);
        let cells: Vec<String> = order
            .iter()
            .map(|c| match *c {
                "x1" => x1.to_string().replace('.', &decimal.to_string()),
                "x2" => x2.to_string().replace('.', &decimal.to_string()),
                "color" => color.to_string(),
                _ => y.to_string(),
            })
            .collect();
        text += &(cells.join(d) + "\n");
    }
    text
}

#[test]
fn test_files_in_another_column_order_and_delimiter_score_as_the_original() {
    // Before, a ';' or tab test file was refused ("its delimiter is ';'", or "no column is
    // named x1"), and files were read as the training file's delimiter says.
    let s = Scratch::new("other_delimiter");
    let plain = ["x1", "x2", "color", "label"];
    let train = s.write("train.csv", written(0..90, plain, ",", '.'));
    let test = s.write("test.csv", written(90..130, plain, ",", '.'));
    let moved = ["label", "color", "x2", "x1"];
    let semi = s.write("test-semi.csv", written(90..130, moved, ";", ','));
    let tab = s.write("test-tab.csv", written(90..130, moved, "\t", '.'));
    let model = s.arg("model.safetensors");
    let metrics = s.arg("metrics.jsonl");
    s.run(&[
        "train",
        "--data",
        &train,
        "--test",
        &semi,
        "--device",
        "cpu",
        "--epochs",
        "30",
        "--save",
        &model,
        "--metrics",
        &metrics,
    ])
    .assert_success();
    let want = accuracy(&s, &model, &test);
    assert!(want >= 0.8, "accuracy {want}");
    for other in [&semi, &tab] {
        assert_eq!(accuracy(&s, &model, other), want, "{other}");
    }
    let last: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&metrics)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["test_accuracy"].as_f64().unwrap(), want);
    let predict = |input: &str| {
        s.run(&["predict", "--model", &model, "--input", input])
            .success_stdout()
    };
    assert_eq!(predict(&tab), predict(&test));
    // A test file with a needed column twice: named, with the file.
    let twice = s.write("twice.csv", "x1,x2,color,label,x2\n0.5,0.1,red,yes,0.2\n");
    s.run(&["eval", "--model", &model, "--data", &twice])
        .assert_error(&["twice.csv", "columns 2 and 5 are both named \"x2\""]);
}

/// A header and 40 rows of `amount` (written by `cell` from its value), `b` and a label that
/// `amount` decides (above 5,000 or not), cells joined by `d`.
fn amounts(d: &str, cell: impl Fn(f64) -> String) -> (String, Vec<f64>) {
    let mut text = ["amount", "b", "label"].join(d) + "\n";
    let mut values = Vec::new();
    for i in 0..40 {
        let v = 1000.0 + ((i * 37) % 40) as f64 * 250.5;
        values.push(v);
        let y = if v > 5000.0 { "high" } else { "low" };
        text += &[cell(v), (i % 3).to_string(), y.into()].join(d);
        text.push('\n');
    }
    (text, values)
}

/// `v` with ',' between thousands and '.' before two decimals: 12,345.50.
fn grouped(v: f64) -> String {
    let whole = v.trunc() as u64;
    let frac = format!("{:.2}", v.fract());
    format!("{},{:03}{}", whole / 1000, whole % 1000, &frac[1..])
}

#[test]
fn thousands_separators_are_read_at_their_scale() {
    let s = Scratch::new("thousands");
    // German Excel: ';', decimal comma, '.' between thousands (16.231 was read as 16.231).
    let (german, _) = amounts(";", |v| {
        grouped(v)
            .replace(',', " ")
            .replace('.', ",")
            .replace(' ', ".")
    });
    // pandas/Excel in English: quoted "1,234.5" in a ','-file (was refused, or a category).
    let (quoted, _) = amounts(",", |v| format!("\"{}\"", grouped(v)));
    // A tab file whose other numbers show '.' as the decimal mark.
    let (tab, _) = amounts("\t", |v| {
        if v > 5000.0 {
            grouped(v)
        } else {
            format!("{v:.2}")
        }
    });
    for (name, text, mark) in [
        (
            "german.csv",
            german,
            "decimal comma, thousands separator '.'",
        ),
        ("quoted.csv", quoted, "thousands separator ','"),
        ("tab.csv", tab, "thousands separator ','"),
    ] {
        let file = s.write(name, &text);
        let model = s.arg(&format!("{name}.safetensors"));
        let run = s.run(&[
            "train", "--data", &file, "--device", "cpu", "--epochs", "60", "--save", &model,
        ]);
        run.assert_success();
        assert!(
            run.stderr
                .contains(&format!("{mark}, header, 2 numeric feature columns")),
            "{name}: {}",
            run.show()
        );
        // The label is amount > 5000: read 1000 times too small, or as text, it is not
        // learnt from one numeric column.
        assert!(accuracy(&s, &model, &file) >= 0.9, "{name}");
    }
    // Tab-separated whole numbers and one 12,345: it could be either; the flags are named.
    let file = s.write("ambiguous.csv", "a\tb\ty\n1\t12,345\tp\n2\t7\tq\n3\t8\tp\n");
    rejects(
        &s,
        &["--data", &file],
        &[
            "line 2: column 2 (\"b\"): \"12,345\" reads as 12345",
            "or as 12.345",
            "--thousands ','",
            "--decimal ','",
        ],
    );
}

#[test]
fn na_values_and_rows_with_a_missing_label_are_read_as_asked() {
    let s = Scratch::new("na_values");
    let mut text = String::from("x1,x2,color,label\n");
    for i in 0..60 {
        let (x1, x2, color, y) = example(i);
        let x2 = if i % 10 == 3 {
            "None".into()
        } else {
            x2.to_string()
        };
        let color = if i % 15 == 4 { "-" } else { color };
        let y = if i % 20 == 7 { "NA" } else { y };
        text += &format!("{x1},{x2},{color},{y}\n");
    }
    let file = s.write("na.csv", &text);
    rejects(
        &s,
        &["--data", &file],
        &["line 9", "the label is missing", "--drop-missing-target"],
    );
    rejects(
        &s,
        &["--data", &file, "--drop-missing-target"],
        &[
            "\"None\" is not a number, but most of the column is",
            "--na-values",
        ],
    );
    let model = s.arg("model.safetensors");
    let run = s.run(&[
        "train",
        "--data",
        &file,
        "--na-values",
        "None,-",
        "--drop-missing-target",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--save",
        &model,
    ]);
    run.assert_success();
    assert!(
        run.stderr.contains("(57 train; 10 missing values imputed)")
            && run.stderr.contains(
                "na.csv: 3 rows left out: the label or target is missing (--drop-missing-target)"
            )
            && run
                .stderr
                .contains("2 numeric and 1 categorical (3 levels)"),
        "{}",
        run.show()
    );
    // eval reads the file as training did: the same cells missing, the same rows left out.
    let out = s
        .run(&["eval", "--model", &model, "--data", &file, "--json"])
        .success_stdout();
    let e: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(e["n"].as_u64(), Some(57), "{out}");
}
