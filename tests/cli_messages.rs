//! Errors that name their real cause, as a stranger meets them: a comment line, an unclosed quote, a divergence caused by l2 or by bce targets
//! outside [0, 1], a backend this platform lacks, a damaged checkpoint, class names that only
//! differ after 24 characters. Each test asserts the words that name the cause, which the
//! messages before this file's fixes did not have.

mod common;

use common::cli::rejects;
use common::scratch::Scratch;

/// A header and `n` rows of three inputs and a class `x` or `y`, cells joined by `d`.
fn table(n: usize, d: &str) -> String {
    let mut s = ["a", "b", "c", "label"].join(d) + "\n";
    for i in 0..n {
        let (a, b, c) = (
            (i * 37 % 101) as f64 / 101.0,
            (i * 53 % 89) as f64 / 89.0,
            (i * 17 % 23) as f64 / 23.0,
        );
        let y = if a + b > 1.0 { "x" } else { "y" };
        s += &[a.to_string(), b.to_string(), c.to_string(), y.into()].join(d);
        s.push('\n');
    }
    s
}

#[test]
fn a_comment_line_is_named_with_its_line_and_what_to_do() {
    let s = Scratch::new("msg_comment");
    let top = s.write(
        "top.csv",
        format!("# exported by a tool\n{}", table(40, ",")),
    );
    rejects(
        &s,
        &["--data", &top],
        &[
            "line 1 starts with '#': a comment line",
            "--comment '#' skips the lines that start with it",
        ],
    );
    let mut lines: Vec<String> = table(40, ",").lines().map(String::from).collect();
    lines.insert(11, "# a note".into());
    let middle = s.write("middle.csv", lines.join("\n") + "\n");
    rejects(
        &s,
        &["--data", &middle],
        &["line 12 starts with '#': a comment line"],
    );
}

#[test]
fn an_unclosed_quote_is_named_with_the_line_it_opens_on() {
    let s = Scratch::new("msg_quote");
    let mut lines: Vec<String> = table(40, ",").lines().map(String::from).collect();
    lines[5].insert(0, '"');
    let file = s.write("quote.csv", lines.join("\n") + "\n");
    rejects(
        &s,
        &["--data", &file],
        &[
            "a quote (\") opened on line 6 is never closed",
            "lines 6 to 41",
        ],
    );
    // On the header line too, where it left one column.
    lines[5].remove(0);
    lines[0].insert(0, '"');
    let header = s.write("header.csv", lines.join("\n") + "\n");
    rejects(
        &s,
        &["--data", &header],
        &["a quote (\") opened on line 1 is never closed"],
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_backend_this_platform_lacks_is_named_not_a_missing_driver() {
    let s = Scratch::new("msg_backend");
    let train = s.write("train.csv", table(20, ","));
    let args = [
        "train", "--device", "gpu", "--data", &train, "--epochs", "1",
    ];
    let run = s.run_with(&args, |c| {
        c.env("WGPU_BACKEND", "dx12");
    });
    run.assert_error(&[
        "WGPU_BACKEND=\"dx12\" asks for dx12, which is not available on linux",
        "the backends here are vulkan and gl",
    ]);
    assert!(!run.stderr.contains("lavapipe"), "{}", run.show());
    let mut flag = args.to_vec();
    flag.extend(["--backend", "metal"]);
    s.run(&flag).assert_error(&[
        "--backend asks for metal, which is not available on linux",
        "vulkan and gl",
    ]);
    // --device auto says so in its note as it falls back to the CPU path.
    let auto = s.run_with(&["train", "--data", &train, "--epochs", "1"], |c| {
        c.env("WGPU_BACKEND", "dx12");
    });
    auto.assert_success();
    assert!(
        auto.stderr
            .contains("dx12, which is not available on linux"),
        "{}",
        auto.show()
    );
}

#[test]
fn a_divergence_caused_by_l2_names_l2_not_the_learning_rate() {
    let s = Scratch::new("msg_l2");
    let train = s.write("train.csv", table(40, ","));
    let run = s.run(&[
        "train", "--device", "cpu", "--data", &train, "--l2", "1e6", "--epochs", "5",
    ]);
    run.assert_error(&[
        "training diverged",
        "the weight decay is too strong for the learning rate: with --l2 at 1000000 and lr 0.1",
        "use an l2 below 1/lr = 10",
    ]);
    let warning = run
        .stderr
        .lines()
        .find(|l| l.starts_with("warning: epoch"))
        .unwrap_or_else(|| panic!("no climbing warning:\n{}", run.show()));
    assert!(
        warning.contains("the weight decay is too strong") && !warning.contains("--standardize"),
        "{}",
        run.show()
    );
}

#[test]
fn bce_targets_outside_0_1_are_refused_before_training_naming_column_and_row() {
    let s = Scratch::new("msg_bce");
    let mut text = String::from("a,b,p\n");
    for i in 0..30 {
        let (a, b) = ((i % 7) as f64 / 7.0, (i % 5) as f64 / 5.0);
        // Row 3 holds a percentage where a probability belongs.
        let p = if i == 3 { 85.0 } else { (a + b) / 2.0 };
        text += &format!("{a},{b},{p}\n");
    }
    let file = s.write("probs.csv", text);
    rejects(
        &s,
        &["--data", &file, "--targets", "p", "--loss", "bce"],
        &[
            "probs.csv: target \"p\" is 85 on row 3 (0-based)",
            "bce takes targets in [0, 1]",
            "--loss mse",
        ],
    );
    // The same rows under mse train.
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        &file,
        "--targets",
        "p",
        "--loss",
        "mse",
        "--epochs",
        "1",
    ])
    .assert_success();
}

/// A trained checkpoint of a small table network, and the table's path.
fn trained(s: &Scratch) -> (String, String) {
    let train = s.write("train.csv", table(40, ","));
    let model = s.arg("m.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--data", &train, "--epochs", "1", "--save", &model,
    ])
    .assert_success();
    (model, train)
}

#[test]
fn a_truncated_checkpoint_is_called_cut_short_not_another_format() {
    let s = Scratch::new("msg_truncated");
    let (model, train) = trained(&s);
    let bytes = std::fs::read(&model).unwrap();
    let header = s.write("header.safetensors", &bytes[..300]);
    let tensors = s.write("tensors.safetensors", &bytes[..bytes.len() - 10]);
    for cut in [&header, &tensors] {
        s.run(&["eval", "--model", cut, "--data", &train])
            .assert_error(&["cut short: its header says the file holds", "truncated"]);
    }
    let want = format!(
        "the file holds {} bytes, but it has {}",
        bytes.len(),
        bytes.len() - 10
    );
    s.run(&[
        "train", "--device", "cpu", "--resume", &tensors, "--epochs", "1",
    ])
    .assert_error(&[&want]);
}

#[test]
fn a_csv_given_as_the_model_is_called_a_text_file() {
    let s = Scratch::new("msg_csv_model");
    let (_, train) = trained(&s);
    s.run(&["eval", "--model", &train, "--data", &train])
        .assert_error(&["train.csv: a text file (a table of data?), not a checkpoint"]);
    s.run(&["predict", "--model", &train, "--input", &train])
        .assert_error(&["a text file (a table of data?), not a checkpoint"]);
    let empty = s.write("empty.safetensors", "");
    s.run(&["eval", "--model", &empty, "--data", &train])
        .assert_error(&["an empty file, not a checkpoint"]);
}

#[test]
fn numbers_written_for_people_are_named_not_called_identifiers() {
    let s = Scratch::new("msg_formatted");
    type Cell = fn(usize) -> String;
    // Thousands separators are read by default now (tests/cli_csv_exports.rs); told there are
    // none, the cells are named as numbers written with them.
    let cases: [(&str, Cell, &str, &[&str]); 3] = [
        (
            "thousands",
            |i| format!("\"{},{:03}.5\"", i + 1, i * 7),
            "thousands separators",
            &["--thousands", "none"],
        ),
        ("percent", |i| format!("{i}.5%"), "a percent sign", &[]),
        ("currency", |i| format!("${i}.50"), "a currency sign", &[]),
    ];
    for (name, cell, what, flags) in cases {
        let mut text = String::from("amount,b,label\n");
        // Each row its own value, as amounts are: before, "an identifier".
        for i in 0..30 {
            let y = if i % 2 == 0 { "x" } else { "y" };
            text += &format!("{},{},{y}\n", cell(i), i % 3);
        }
        let file = s.write(&format!("{name}.csv"), text);
        let mut args = vec!["--data", &file];
        args.extend(flags);
        rejects(
            &s,
            &args,
            &[
                &format!("is a number written with {what}"),
                "write the column as plain numbers",
            ],
        );
    }
}

#[test]
fn a_trailing_delimiter_is_named_not_a_missing_label() {
    let s = Scratch::new("msg_trailing");
    let text: String = table(30, ",").lines().map(|l| format!("{l},\n")).collect();
    let file = s.write("trailing.csv", text);
    rejects(
        &s,
        &["--data", &file],
        &["the line ends with ',', a trailing delimiter", "--label"],
    );
    // A header that names the last column: an empty cell there is a missing label (Titanic's
    // Embarked), and removing "the trailing delimiter" would have shifted the row.
    let titanic = "PassengerId,Survived,Age,Embarked\n1,0,22,S\n2,1,38,C\n3,1,,\n4,1,35,S\n";
    let file = s.write("titanic.csv", titanic);
    let run = s.run(&["train", "--data", &file]);
    run.assert_clean_failure(&[
        "line 4",
        "the label is missing",
        "the last column by default: name another with --label",
    ]);
    assert!(!run.stderr.contains("trailing delimiter"), "{}", run.show());
}

#[test]
fn a_utf16_file_is_read_as_its_byte_order_mark_says() {
    // It was refused ("save it as UTF-8"); the reader now decodes UTF-16 (tests/cli_schema.rs).
    let s = Scratch::new("msg_utf16");
    let mut bytes = vec![0xff, 0xfe];
    for u in table(20, ",").encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    let file = s.write("excel.csv", bytes);
    s.run(&["train", "--data", &file, "--device", "cpu", "--epochs", "1"])
        .assert_success();
}

#[test]
fn a_given_delimiter_that_splits_nothing_names_the_one_that_does() {
    let s = Scratch::new("msg_given_delimiter");
    let file = s.write("train.csv", table(20, ","));
    rejects(
        &s,
        &["--data", &file, "--delimiter", ";"],
        &[
            "--delimiter is ';', which does not split line 1",
            "looks ','-separated",
        ],
    );
}

#[test]
fn a_column_name_in_another_case_is_pointed_at() {
    let s = Scratch::new("msg_label_case");
    let file = s.write("train.csv", table(20, ","));
    rejects(
        &s,
        &["--data", &file, "--label", "LABEL"],
        &["--label \"LABEL\"", "\"label\" differs only in case"],
    );
}

#[test]
fn a_file_of_a_header_alone_says_so() {
    let s = Scratch::new("msg_header_only");
    let train = s.write("train.csv", table(30, ","));
    let header = s.write("header.csv", "a,b,c,label\n");
    let empty = s.write("empty.csv", "\n\n");
    rejects(
        &s,
        &["--data", &header],
        &["line 1 is a header line, and no line follows it"],
    );
    rejects(
        &s,
        &["--data", &train, "--test", &header],
        &["header.csv: no data rows: line 1 is a header line"],
    );
    rejects(&s, &["--data", &empty], &["the file is empty"]);
}

#[test]
fn a_folder_of_csv_files_as_the_data_is_named_not_called_missing_idx_files() {
    let s = Scratch::new("csv_folder");
    std::fs::create_dir(s.path("tables")).unwrap();
    s.write("tables/train.csv", table(20, ","));
    s.write("tables/test.csv", table(10, ","));
    rejects(
        &s,
        &["--data", &s.arg("tables")],
        &["a folder of CSV files (2 of them, test.csv first), not of IDX files"],
    );
}

#[test]
fn a_decimal_comma_on_a_file_that_splits_at_commas_is_refused_before_training() {
    let s = Scratch::new("decimal_comma");
    let data = s.write("c.csv", table(12, ","));
    // Before, this trained and saved a model that eval, predict, --init and --resume refused.
    rejects(
        &s,
        &["--data", &data, "--decimal", ","],
        &["--decimal is ',', but the file is ','-separated"],
    );
}

#[test]
fn init_on_data_whose_columns_or_classes_differ_is_refused_naming_both() {
    let s = Scratch::new("init_columns");
    let train = s.write("a.csv", table(20, ","));
    let model = s.arg("m.safetensors");
    let mut run = vec!["train", "--device", "cpu", "--epochs", "1", "-q"];
    s.run(&[&run[..], &["--data", &train, "--save", &model]].concat())
        .assert_success();
    // The same numbers, the columns a and b swapped: before, it trained on them with a's
    // weights and standardisation applied to b.
    let swapped = table(20, ",").replacen("a,b,c", "b,a,c", 1);
    let swapped = s.write("swapped.csv", swapped);
    let other_classes = table(20, ",").replace(",x\n", ",z\n");
    let other_classes = s.write("classes.csv", other_classes);
    run.extend(["--init", &model]);
    s.run(&[&run[..], &["--data", &swapped]].concat())
        .assert_error(&[
            "trained on the inputs a, b, c in this order",
            "gives b, a, c",
        ]);
    s.run(&[&run[..], &["--data", &other_classes]].concat())
        .assert_error(&["trained on the classes x, y", "has y, z"]);
    // The same columns and classes: trains.
    s.run(&[&run[..], &["--data", &train]].concat())
        .assert_success();
}

#[test]
fn a_table_error_points_to_schema_and_other_errors_do_not() {
    let s = Scratch::new("msg_schema_hint");
    let mut lines: Vec<String> = table(40, ",").lines().map(String::from).collect();
    lines[5].insert(0, '"');
    let file = s.write("quote.csv", lines.join("\n") + "\n");
    let hint = format!("hint: `wgtrain schema {file}` shows how each of its columns is read");
    let run = s.run(&["train", "--data", &file, "--device", "cpu"]);
    assert!(
        !run.status.success() && run.stderr.contains(&hint),
        "no {hint:?}\n{}",
        run.show()
    );
    // eval and predict read their file as the model says, and point to schema with it.
    let good = s.write("good.csv", table(40, ","));
    let model = s.arg("m.safetensors");
    s.run(&[
        "train", "--data", &good, "--device", "cpu", "--epochs", "1", "--save", &model,
    ])
    .assert_success();
    let hint = format!(
        "hint: `wgtrain schema --model {model} {file}` shows how the model reads each of its columns"
    );
    for command in [
        vec!["eval", "--model", &model, "--data", &file],
        vec!["predict", "--model", &model, "--input", &file],
    ] {
        let run = s.run(&command);
        assert!(
            !run.status.success() && run.stderr.contains(&hint),
            "{}: no {hint:?}\n{}",
            command[0],
            run.show()
        );
    }
    // Not for a workbook (its error says what to do), by content or by name.
    let book = s.write("book.csv", b"PK\x03\x04 a zip archive");
    let run = s.run(&["train", "--data", &book, "--device", "cpu"]);
    run.assert_error(&["book.csv: a zip archive", "save the sheet as CSV"]);
    assert!(!run.stderr.contains("hint:"), "{}", run.show());
    let xlsx = s.write("book.xlsx", b"PK\x03\x04 a zip archive");
    let run = s.run(&["train", "--data", &xlsx, "--device", "cpu"]);
    run.assert_error(&["book.xlsx: a spreadsheet workbook", "save the sheet as CSV"]);
    assert!(!run.stderr.contains("hint:"), "{}", run.show());
    // Not for a file that is not there, nor for an error that is not a table's.
    let missing = s.arg("missing.csv");
    let run = s.run(&["train", "--data", &missing, "--device", "cpu"]);
    assert!(!run.status.success(), "{}", run.show());
    assert!(!run.stderr.contains("hint:"), "{}", run.show());
    let run = s.run(&["train", "--data", &good, "--device", "cpu", "--lr", "-1"]);
    assert!(!run.status.success(), "{}", run.show());
    assert!(!run.stderr.contains("hint:"), "{}", run.show());
}

/// An IDX file: magic (type u8, `dims.len()` dimensions), the dimensions, the bytes.
fn idx_file(kind: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, kind];
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(data);
    v
}

#[test]
fn a_stray_idx_label_is_refused_naming_classes_which_then_trains_and_resumes() {
    let s = Scratch::new("msg_idx_stray");
    std::fs::create_dir(s.path("set")).unwrap();
    // 300 training images of 1x1 pixel, labels 0-2 (100 each); the test labels hold one 3.
    let n = 300u32;
    let pixels: Vec<u8> = (0..n).map(|i| (i * 85 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    s.write(
        "set/train-images-idx3-ubyte",
        idx_file(3, &[n, 1, 1], &pixels),
    );
    s.write("set/train-labels-idx1-ubyte", idx_file(1, &[n], &labels));
    s.write(
        "set/t10k-images-idx3-ubyte",
        idx_file(3, &[3, 1, 1], &[0, 85, 170]),
    );
    s.write("set/t10k-labels-idx1-ubyte", idx_file(1, &[3], &[0, 1, 3]));
    let set = s.arg("set");
    rejects(
        &s,
        &["--data", &set],
        &[
            "t10k-labels-idx1-ubyte",
            "label 3 of row 2 (0-based)",
            "a corrupt label?",
            "--classes 4",
        ],
    );
    let model = s.arg("m.safetensors");
    let base = ["train", "--device", "cpu", "--epochs", "1"];
    s.run(
        &[
            &base[..],
            &["--data", &set, "--classes", "4", "--save", &model],
        ]
        .concat(),
    )
    .assert_success();
    // Resumed, the run's data is read with its model's class count.
    s.run(&[&base[..], &["--resume", &model, "--save", &model]].concat())
        .assert_success();
    // A CSV's classes are its label's values: the setting is refused there.
    let csv = s.write("t.csv", table(20, ","));
    rejects(
        &s,
        &["--data", &csv, "--classes", "3"],
        &["--classes applies only to IDX datasets"],
    );
}
