//! `wgtrain schema` and the CSV reader's encodings and comment lines, through the binary: a line
//! per column and the file's format (or JSON), train's refusal for a file train refuses; a
//! windows-1252 file refused naming the line and `--encoding`, then read with it, and eval and
//! predict reading their files so from the model; a UTF-16 file read by its byte-order mark;
//! comment lines refused naming `--comment`, then skipped everywhere. `schema --model`: a file
//! as a model's eval or predict reads it, and their refusal.
#![cfg(feature = "cli")]

mod common;

use common::cli::rejects;
use common::scratch::Scratch;
use common::tabular;

/// Rows of a city (text with non-ASCII letters), a number and a label they decide.
fn cities(rows: usize) -> String {
    let mut text = String::from("ville,x,y\n");
    for i in 0..rows {
        let city = ["Zürich", "Genève", "Köln"][i % 3];
        let x = (i * 7) % 11;
        text += &format!("{city},{x},{}\n", if x > 5 { "oui" } else { "non" });
    }
    text
}

/// `text` in windows-1252 (every character of `cities` is in it).
fn windows_1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect()
}

#[test]
fn schema_shows_a_line_per_column_then_the_file() {
    let s = Scratch::new("schema_lines");
    let churn = tabular::churn();
    let file = s.write(churn.train.0, &churn.train.1);
    let rows = churn.train.1.lines().count() - 1;
    let out = s.run(&["schema", &file, "--ignore", "id"]).success_stdout();
    let lines: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = churn.train.1.lines().next().unwrap().split(',').collect();
    assert_eq!(lines.len(), 1 + header.len() + 2, "{out}");
    assert!(lines[0].starts_with("column  name"), "{out}");
    for (k, name) in header.iter().enumerate() {
        let words: Vec<&str> = lines[1 + k].split_whitespace().collect();
        assert_eq!(words[..2], [(k + 1).to_string().as_str(), name], "{out}");
    }
    assert!(lines[1].contains("ignored (--ignore)"), "{out}");
    let label = lines[header.len()];
    assert!(
        label.contains("label") && label.contains("2 classes: no, yes"),
        "{out}"
    );
    let file_line = lines[1 + header.len()];
    for want in [
        "','-separated",
        "decimal mark '.'",
        "a header line",
        "UTF-8",
        &format!("{rows} rows"),
    ] {
        assert!(file_line.contains(want), "{want:?} not in:\n{out}");
    }
    // The JSON: the same reading, every column's role and kind.
    let json = s
        .run(&["schema", &file, "--ignore", "id", "--json"])
        .success_stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["rows"].as_u64(), Some(rows as u64));
    let roles: Vec<&str> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    let mut want = vec!["ignored"];
    want.extend(std::iter::repeat_n("input", header.len() - 2));
    want.push("label");
    assert_eq!(roles, want);
    assert_eq!(v["columns"][0]["why"], "the setting `ignore`");
}

#[test]
fn schema_describes_every_column_train_refuses_then_fails_as_train_does() {
    let s = Scratch::new("schema_refused");
    let churn = tabular::churn();
    // Its customer codes under the name `id` are left out on their own (a text identifier);
    // under another name they are refused.
    let file = s.write(churn.train.0, &churn.train.1);
    let out = s.run(&["schema", &file]).success_stdout();
    let first = out.lines().nth(1).unwrap();
    assert!(
        first.starts_with("     1  id  ") && first.contains("left out (identifier)"),
        "{out}"
    );
    let text = churn.train.1.replacen("id,", "code,", 1);
    let file = s.write("codes.csv", &text);
    let schema = s.run(&["schema", &file]);
    schema.assert_error(&["an identifier rather than a category", "--ignore"]);
    let train = s.run(&["train", "--data", &file, "--device", "cpu"]);
    assert_eq!(schema.error_line(), train.error_line());
    // Every column is still described, the refused one with train's reason.
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let lines: Vec<&str> = schema.stdout.lines().collect();
    assert!(lines.len() > header.len(), "{}", schema.show());
    assert!(
        lines[1].starts_with("     1  code  ") && lines[1].contains("refused (see below)"),
        "{}",
        schema.show()
    );
    let line = train.error_line();
    let reason = line
        .strip_prefix(&format!("error: {file}: "))
        .unwrap_or_else(|| panic!("{line:?} does not start with the file"));
    assert!(
        lines.contains(&format!("refused: {reason}").as_str()),
        "no \"refused: {reason}\"\n{}",
        schema.show()
    );

    // Two columns refused, a feature and the label: both listed, in order, also in the JSON.
    let mut text = String::from("name,price,size,y\n");
    for i in 0..40 {
        let price = if i == 3 {
            "\"1,234.5\"".to_string()
        } else {
            format!("{}", 100 + i)
        };
        text += &format!("Person {i},{price},{},{}.5\n", i % 7, i);
    }
    let two = s.write("two.csv", text);
    let schema = s.run(&["schema", &two, "--label", "y", "--thousands", "none"]);
    let refused: Vec<&str> = schema
        .stdout
        .lines()
        .filter(|l| l.starts_with("refused: "))
        .collect();
    assert_eq!(refused.len(), 3, "{}", schema.show());
    assert!(
        refused[0].contains("column 1 (\"name\")"),
        "{}",
        schema.show()
    );
    assert!(
        refused[1].contains("column 2 (\"price\")") && refused[1].contains("thousands"),
        "{}",
        schema.show()
    );
    assert!(
        refused[2].contains("the label") && refused[2].contains("not integers"),
        "{}",
        schema.show()
    );
    let train = s.run(&[
        "train",
        "--data",
        &two,
        "--label",
        "y",
        "--thousands",
        "none",
        "--device",
        "cpu",
    ]);
    assert_eq!(schema.error_line(), train.error_line());
    let json = s.run(&[
        "schema",
        &two,
        "--label",
        "y",
        "--thousands",
        "none",
        "--json",
    ]);
    assert!(!json.status.success(), "{}", json.show());
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let roles: Vec<(&str, &str)> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["role"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("refused", "text"),
            ("refused", "numeric"),
            ("input", "numeric"),
            ("refused", "numeric")
        ],
        "{}",
        json.show()
    );
    assert!(
        v["columns"][1]["why"]
            .as_str()
            .unwrap()
            .contains("thousands")
    );
}

#[test]
fn a_windows_1252_file_is_refused_naming_the_encoding_then_read_with_it_everywhere() {
    let s = Scratch::new("encoding_1252");
    let file = s.write("villes.csv", windows_1252(&cities(60)));
    rejects(
        &s,
        &["--data", &file],
        &[
            "villes.csv: line 2: not valid UTF-8",
            "--encoding windows-1252",
        ],
    );
    let model = s.arg("model.safetensors");
    let run = s.run(&[
        "train",
        "--data",
        &file,
        "--encoding",
        "windows-1252",
        "--device",
        "cpu",
        "--epochs",
        "40",
        "--save",
        &model,
    ]);
    run.assert_success();
    assert!(run.stderr.contains(", windows-1252"), "{}", run.show());
    // The same rows in UTF-8 train to the same losses.
    let utf8 = s.write("villes-utf8.csv", cities(60));
    let same = s.run(&[
        "train", "--data", &utf8, "--device", "cpu", "--epochs", "40",
    ]);
    same.assert_success();
    // The last epoch's line without its speed and time.
    let last = |out: &str| -> Vec<String> {
        let line = out.lines().last().unwrap_or_default();
        line.split("  ")
            .take_while(|w| !w.contains("samples/s"))
            .map(String::from)
            .collect()
    };
    assert!(last(&run.stdout).len() >= 3, "{}", run.show());
    assert_eq!(last(&run.stdout), last(&same.stdout));
    // eval and predict read the file in the stored encoding, no flag given.
    let eval = s
        .run(&["eval", "--model", &model, "--data", &file, "--json"])
        .success_stdout();
    let e: serde_json::Value = serde_json::from_str(eval.trim()).unwrap();
    assert!(e["accuracy"].as_f64().unwrap() > 0.9, "{eval}");
    let predict = s
        .run(&["predict", "--model", &model, "--input", &file])
        .success_stdout();
    assert_eq!(predict.lines().count(), 61, "{predict}");
    // schema names it.
    let out = s
        .run(&["schema", &file, "--encoding", "latin-1"])
        .success_stdout();
    assert!(
        out.contains("Zürich") && out.contains("windows-1252"),
        "{out}"
    );
}

#[test]
fn a_utf16_file_is_read_by_its_byte_order_mark() {
    let s = Scratch::new("encoding_utf16");
    let mut bytes = vec![0xff, 0xfe];
    for u in cities(30).encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    let file = s.write("excel.csv", bytes);
    let out = s.run(&["schema", &file]).success_stdout();
    assert!(out.contains("UTF-16LE") && out.contains("Genève"), "{out}");
    s.run(&["train", "--data", &file, "--device", "cpu", "--epochs", "2"])
        .assert_success();
}

#[test]
fn comment_lines_are_refused_naming_the_flag_then_skipped_everywhere() {
    let s = Scratch::new("comment_lines");
    let text = format!("# exported 2024-01-01\n{}# end\n", cities(60));
    let file = s.write("villes.csv", &text);
    rejects(
        &s,
        &["--data", &file],
        &["line 1 starts with '#'", "--comment '#'"],
    );
    let model = s.arg("model.safetensors");
    s.run(&[
        "train",
        "--data",
        &file,
        "--comment",
        "#",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--save",
        &model,
    ])
    .assert_success();
    let new = s.write(
        "new.csv",
        "# to predict\nville,x\nKöln,3\n# more\nZürich,9\n",
    );
    let predict = s
        .run(&["predict", "--model", &model, "--input", &new])
        .success_stdout();
    assert_eq!(predict.lines().count(), 3, "{predict}");
    let out = s.run(&["schema", &file, "--comment", "#"]).success_stdout();
    assert!(
        out.contains("comment lines '#'") && out.contains("60 rows"),
        "{out}"
    );
}

#[test]
fn train_help_names_the_encoding_and_comment_flags() {
    let s = Scratch::new("encoding_help");
    let help = s.run(&["train", "--help"]).success_stdout();
    for want in ["--encoding <NAME>", "windows-1252", "--comment <C>"] {
        assert!(help.contains(want), "{want:?} not in train --help");
    }
    let help = s.run(&["schema", "--help"]).success_stdout();
    for want in ["--encoding <NAME>", "--label", "--json"] {
        assert!(help.contains(want), "{want:?} not in schema --help");
    }
}

#[test]
fn day_first_reads_slashed_dates_day_first_in_schema_and_train_and_resume_keeps_it() {
    let s = Scratch::new("schema_day_first");
    // The first of each month: no day above 12, so without --day-first the order is a guess.
    let mut text = String::from("when,x,y\n");
    for i in 0..24 {
        let (m, y) = (i % 12 + 1, 2012 + i / 12);
        text += &format!("01/{m:02}/{y},{},{}\n", i % 5, ["a", "b"][i % 2]);
    }
    let file = s.write("uk.csv", &text);
    let guess = s.run(&["schema", &file]).success_stdout();
    assert!(
        guess.contains("read as dates written mm/dd/yyyy") && guess.contains("--day-first"),
        "{guess}"
    );
    let told = s.run(&["schema", &file, "--day-first"]).success_stdout();
    assert!(
        told.contains("read as dates written dd/mm/yyyy") && !told.contains("a guess"),
        "{told}"
    );
    let model = s.arg("uk.safetensors");
    s.run(&[
        "train", "--data", &file, "--device", "cpu", "--epochs", "1", "--save", &model,
    ])
    .assert_success();
    let resumed = s.run(&[
        "train",
        "--resume",
        &model,
        "--day-first",
        "--epochs",
        "1",
        "--device",
        "cpu",
    ]);
    resumed.assert_error(&["--day-first", "mm/dd/yyyy"]);
}

#[test]
fn schema_with_a_model_reads_the_file_as_eval_or_predict_would() {
    let s = Scratch::new("schema_model");
    let file = s.write("villes.csv", cities(60));
    let model = s.arg("model.safetensors");
    s.run(&[
        "train", "--data", &file, "--device", "cpu", "--epochs", "5", "--save", &model,
    ])
    .assert_success();
    // The training file: eval's reading, the model's roles.
    let out = s
        .run(&["schema", "--model", &model, &file])
        .success_stdout();
    assert!(out.contains("read as `wgtrain eval --model"), "{out}");
    let roles: Vec<&str> = out
        .lines()
        .skip(1)
        .take(3)
        .map(|l| l.split_whitespace().nth(2).unwrap_or_default())
        .collect();
    assert_eq!(roles, ["input", "input", "label"], "{out}");
    // No label, another order, a column the model does not have: predict's reading.
    let mut text = String::from("extra,x,ville\n");
    for i in 0..5 {
        text += &format!("e{i},{i},Köln\n");
    }
    let other = s.write("autres.csv", text);
    let out = s
        .run(&["schema", "--model", &model, &other])
        .success_stdout();
    for want in [
        "read as `wgtrain predict --model",
        "unused (not in the model)",
        "not in the file, not needed to predict: y",
        "5 rows",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    // A cell eval cannot read: the description, then eval's error (exit 1).
    let bad = s.write("bad.csv", "ville,x,y\nKöln,1,oui\nKöln,abc,non\n");
    let run = s.run(&["schema", "--model", &model, &bad]);
    assert!(run.stdout.contains("refused: line 3"), "{}", run.show());
    run.assert_clean_failure(&[])
        .assert_error_line(&["bad.csv: line 3", "\"abc\" is not a number"]);
    // The CSV flags are a training file's: refused beside a model, but for eval's --label N
    // and --targets K, which take numbers.
    s.run(&["schema", "--model", &model, &file, "--delimiter", ";"])
        .assert_clean_failure(&[])
        .assert_error_line(&["--model: the model's table says how its files are read"]);
    s.run(&["schema", "--model", &model, &file, "--label", "y"])
        .assert_clean_failure(&[])
        .assert_error_line(&["--label y: beside --model, the label column's number"]);
    // A model not trained on a table reads bare numbers by position, the label last, as eval
    // and predict do; a file of other columns is their error.
    let digits = s.arg("digits.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--epochs", "1", "--save", &digits,
    ])
    .assert_success();
    let pixels = (0..3)
        .map(|r| format!("{},{r}\n", vec!["4"; 64].join(",")))
        .collect::<String>();
    let pixels = s.write("pixels.csv", pixels);
    let out = s
        .run(&["schema", "--model", &digits, &pixels])
        .success_stdout();
    for want in [
        "   64  column 64  input",
        "   65  column 65  label",
        "network: 64 inputs, 10 outputs",
        "read as `wgtrain eval --model",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
    s.run(&["schema", "--model", &digits, &file])
        .assert_clean_failure(&[])
        .assert_error_line(&["villes.csv"]);
    // Its label first: --label 1, as eval takes it, and eval reads the file so.
    let first = (0..3)
        .map(|r| format!("{r},{}\n", vec!["4"; 64].join(",")))
        .collect::<String>();
    let first = s.write("first.csv", first);
    let out = s
        .run(&["schema", "--model", &digits, &first, "--label", "1"])
        .success_stdout();
    let role = |out: &str, column: &str| {
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.len() > 3 && w[0] == column)
            .map(|w| w[3].to_string())
    };
    assert_eq!(role(&out, "1").as_deref(), Some("label"), "{out}");
    assert_eq!(role(&out, "65").as_deref(), Some("input"), "{out}");
    s.run(&["eval", "--model", &digits, "--data", &first, "--label", "1"])
        .assert_success();
    // Without it the last column is the label: 4 is a class, the 0, 1, 2 a pixel.
    let out = s
        .run(&["schema", "--model", &digits, &first])
        .success_stdout();
    assert_eq!(role(&out, "1").as_deref(), Some("input"), "{out}");
    assert_eq!(role(&out, "65").as_deref(), Some("label"), "{out}");
}
