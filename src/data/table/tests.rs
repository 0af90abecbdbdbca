// The table's unit tests: one file, as the table's modules share their fixtures (past 600 lines
// because each CSV export the reader must take is a case here).
use super::*;
use crate::data::Targets;
use flate2::{Compression, write::GzEncoder};
use std::io::Write;
use std::path::PathBuf;

/// A file under the temp dir, unique to this process and call (tests run in parallel, and
/// some give files the same name).
fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("wgtrain-table-{}-{n}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

fn fit_with(name: &str, text: &str, o: &CsvOptions) -> Result<(Table, Rows)> {
    let p = temp(name, text.as_bytes());
    let r = Table::fit(&p, o);
    std::fs::remove_file(&p).unwrap();
    r
}

fn fit(name: &str, text: &str) -> (Table, Dataset) {
    let (t, r) = fit_with(name, text, &CsvOptions::default()).unwrap();
    (t, r.data)
}

/// The error's message, which must name the file and contain every one of `want`.
fn fails(name: &str, text: &str, o: &CsvOptions, want: &[&str]) -> String {
    let msg = match fit_with(name, text, o) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e.to_string(),
    };
    for w in want {
        assert!(msg.contains(w), "want {w:?} in: {msg}");
    }
    msg
}

fn labels(d: &Dataset) -> (&[u32], usize) {
    match &d.targets {
        Targets::Classes { labels, n_classes } => (labels, *n_classes),
        Targets::Values { .. } => panic!("expected classes"),
    }
}

#[test]
fn quotes_embedded_delimiters_crlf_and_a_byte_order_mark_are_read() {
    let text = "\u{feff}\"a, the first\",b,label\r\n\"1.5\",2,\"x, y\"\r\n3,4,z\r\n";
    let (t, d) = fit("quotes.csv", text);
    assert_eq!((t.delimiter, t.header), (',', true));
    assert_eq!(t.columns[0].name, "a, the first");
    assert_eq!(d.x.to_f32(), [1.5, 2.0, 3.0, 4.0]);
    assert_eq!(t.classes.as_deref().unwrap(), ["x, y", "z"]);
    assert_eq!(labels(&d).0, [0, 1]);
}

#[test]
fn errors_name_the_right_line_whatever_ends_the_lines() {
    // Before, Windows' CRLF files were one line low, old Mac files' lone CRs all "line 1",
    // and a row after blank lines took the line of the first blank.
    for (name, text, line) in [
        ("lf.csv", "a,b,y\n1,2,x\n3,4,y\n1,2,x\n3,O.4,y\n", 5),
        (
            "crlf.csv",
            "a,b,y\r\n1,2,x\r\n3,4,y\r\n1,2,x\r\n3,O.4,y\r\n",
            5,
        ),
        ("cr.csv", "a,b,y\r1,2,x\r3,4,y\r1,2,x\r3,O.4,y\r", 5),
        ("blank.csv", "a,b,y\n\n\n1,2,x\n3,4,y\n1,2,x\n3,O.4,y", 7),
        (
            "crlf-blank.csv",
            "a,b,y\r\n\r\n1,2,x\r\n3,4,y\r\n1,2,x\r\n3,O.4,y",
            6,
        ),
        (
            "quoted.csv",
            "a,b,y\r\n1,2,\"x\r\ny\"\r\n3,4,y\r\n1,2,x\r\n3,O.4,y\r\n",
            6,
        ),
    ] {
        fails(
            name,
            text,
            &CsvOptions::default(),
            &[&format!("line {line}: column 2"), "\"O.4\""],
        );
    }
    // A CR-only file reads as its lines, a quoted line end inside a cell as '\n'.
    let (t, d) = fit("cr-ok.csv", "a,b,y\r1,2,x\r3,4,y\r1,2,x\r3,5,y\r");
    assert_eq!((t.header, d.n), (true, 4));
    let ragged = "a,b,y\r\n1,2,x\r\n3,4,y\r\n1,2\r\n3,4,y\r\n";
    fails("ragged.csv", ragged, &CsvOptions::default(), &["line 4"]);
}

#[test]
fn a_pipe_separated_file_from_psql_or_hive_is_read() {
    // psql -A writes '|' between cells; it was refused as a file of one column.
    let (t, d) = fit("pipe.csv", "age|income|y\n30|1.5|p\n40|2.5|q\n50|3.5|p\n");
    assert_eq!((t.delimiter, d.n, d.dim), ('|', 3, 2));
    assert_eq!(first_inputs(&d), [30.0, 40.0, 50.0]);
    let o = CsvOptions {
        delimiter: Some('|'),
        ..CsvOptions::default()
    };
    let (t, _) = fit_with("pipe-given.csv", "a|b|y\n1|2|p\n3|4|q\n", &o).unwrap();
    assert_eq!(t.delimiter, '|');
    let json = serde_json::to_string(&t).unwrap();
    let back: Table = serde_json::from_str(&json).unwrap();
    back.validate().unwrap();
}

#[test]
fn a_header_of_numbers_is_read_as_pandas_writes_it_or_as_told() {
    // pandas' to_csv of a frame with numbered columns: `0,1,2,3`. It was data, its `3` a class.
    let rows: String = (0..12)
        .map(|i| format!("0.{i},1.{i},2.{i},{}.0\n", i % 2))
        .collect();
    let (t, d) = fit("pd-numbered.csv", &format!("0,1,2,3\n{rows}"));
    assert!(t.header);
    assert_eq!(
        (d.n, t.classes.as_deref().unwrap()),
        (12, &["0".to_string(), "1".into()][..])
    );
    // Later files with the same names read them as a header too.
    let p = temp(
        "pd-numbered-later.csv",
        format!("0,1,2,3\n{rows}").as_bytes(),
    );
    let again = t.read(&p, Need::Targets, None).unwrap();
    std::fs::remove_file(&p).unwrap();
    assert_eq!(again.data.n, 12);
    // With the index written: an empty cell first, then 0, 1, 2, ...
    let indexed: String = rows
        .lines()
        .enumerate()
        .map(|(i, r)| format!("{i},{r}\n"))
        .collect();
    let (t, d) = fit("pd-indexed.csv", &format!(",0,1,2,3\n{indexed}"));
    assert!(t.header);
    assert_eq!((d.n, d.dim), (12, 3));
    // Told: the same line as data.
    let o = CsvOptions {
        header: Some(false),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("pd-no.csv", &format!("0,1,2,1\n{rows}"), &o).unwrap();
    assert!(!t.header);
    assert_eq!(r.data.n, 13);
    // Years as column names: the label of line 1 is on no other line.
    let years: String = (0..12)
        .map(|i| format!("r{},{i},{},{}\n", i % 3, i + 1, ["yes", "no"][i % 2]))
        .collect();
    fails(
        "years.csv",
        &format!("region,2019,2020,grew\n{years}"),
        &CsvOptions::default(),
        &[
            "line 1",
            "the label \"grew\" of line 1 appears on no other line",
            "the setting `header` yes",
        ],
    );
    let o = CsvOptions {
        header: Some(true),
        ..CsvOptions::default()
    };
    let (t, _) = fit_with(
        "years-yes.csv",
        &format!("region,2019,2020,grew\n{years}"),
        &o,
    )
    .unwrap();
    assert_eq!(t.classes.as_deref().unwrap(), ["no", "yes"]);
}

#[test]
fn delimiters_are_detected_and_decimal_commas_read() {
    for (name, text) in [
        ("semi.csv", "a;b;label\n1,5;2;x\n3;4,25;y\n"),
        ("tab.csv", "a\tb\tlabel\n1,5\t2\tx\n3\t4,25\ty\n"),
        ("spaces.csv", "a  b   label\n 1,5 2 x\n3    4,25  y\n"),
    ] {
        let (t, d) = fit(name, text);
        assert_eq!(t.decimal, ',', "{name}");
        assert_eq!(d.x.to_f32(), [1.5, 2.0, 3.0, 4.25], "{name}");
    }
    // Decimal-comma rows split as many ways at ',' as at ';': ';' wins the tie.
    let (t, d) = fit("tie.csv", "1,5;2,5;a\n3,5;4,5;b\n");
    assert_eq!((t.delimiter, t.decimal), (';', ','));
    assert_eq!(d.x.to_f32(), [1.5, 2.5, 3.5, 4.5]);
    // A ','-file keeps '.' as its decimal mark.
    let (t, _) = fit("comma.csv", "a,b,y\n1.5,2,p\n3,4,q\n");
    assert_eq!((t.delimiter, t.decimal), (',', '.'));
    // Given: used as it is.
    let o = CsvOptions {
        delimiter: Some(';'),
        decimal: Some('.'),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("given.csv", "1.5;2;a\n3;4;b\n", &o).unwrap();
    assert_eq!((t.delimiter, r.data.dim), (';', 2));
    let o = CsvOptions {
        delimiter: Some(':'),
        ..CsvOptions::default()
    };
    let e = fit_with("colon.csv", "1:2\n", &o).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument {
                arg: Some("delimiter"),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_header_with_fewer_cells_than_the_rows_is_blamed_on_the_header() {
    let msg = fails(
        "short.csv",
        "a,b\n1,2,x\n3,4,y\n",
        &CsvOptions::default(),
        &["line 1:", "header names 2 columns", "line 2) has 3"],
    );
    assert!(
        msg.starts_with(&std::env::temp_dir().display().to_string()),
        "{msg}"
    );
    fails(
        "ragged.csv",
        "1,2,x\n3,4,5,y\n",
        &CsvOptions::default(),
        &["line 2:", "4 columns, expected 3"],
    );
}

#[test]
fn workbooks_and_binary_files_are_refused_saying_what_they_are() {
    let cases: [(&str, Vec<u8>, &[&str]); 3] = [
        (
            "book.csv",
            b"PK\x03\x04\x14\x00\x06\x00rest of a zip".to_vec(),
            &[
                "a zip archive",
                "Excel workbook (.xlsx)",
                "save the sheet as CSV",
            ],
        ),
        (
            "old.csv",
            [
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1][..],
                b"more",
            ]
            .concat(),
            &["Excel 97-2003 workbook (.xls)", "save the sheet as CSV"],
        ),
        (
            "labels.csv",
            [&[0u8, 0, 8, 1, 0, 0, 0, 3][..], &[1, 2, 3]].concat(),
            &["not text", "NUL bytes", "IDX file"],
        ),
    ];
    for (name, bytes, want) in cases {
        let p = temp(name, &bytes);
        let r = Table::fit(&p, &CsvOptions::default());
        let schema = Schema::of(&p, &CsvOptions::default());
        let text = super::is_text(&p);
        std::fs::remove_file(&p).unwrap();
        let msg = r.expect_err("refused").to_string();
        for w in want {
            assert!(msg.contains(w), "{name}: want {w:?} in: {msg}");
        }
        assert_eq!(schema.err().map(|e| e.to_string()), Some(msg));
        assert!(!text, "{name}");
    }
    // UTF-16 text has a NUL in every ASCII character: read, not refused.
    let text = "a,b,y\n1,2,p\n3,4,q\n5,6,p\n";
    let le: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let p = temp("utf16-nul.csv", &le);
    let r = Table::fit(&p, &CsvOptions::default());
    let text_file = super::is_text(&p);
    std::fs::remove_file(&p).unwrap();
    assert!(r.is_ok() && text_file, "{:?}", r.err());
    // Without its mark: refused naming the setting that reads it, then read with it.
    let p = temp("utf16-no-bom.csv", &le[2..]);
    let refused = Table::fit(&p, &CsvOptions::default()).expect_err("NUL bytes");
    let o = CsvOptions {
        encoding: Some("utf-16le".parse().unwrap()),
        ..CsvOptions::default()
    };
    let r = Table::fit(&p, &o);
    std::fs::remove_file(&p).unwrap();
    assert!(
        refused
            .to_string()
            .contains("the setting `encoding` utf-16le"),
        "{refused}"
    );
    assert!(r.is_ok(), "{:?}", r.err());
    // A gzip file not named .gz: said so, not "NUL bytes".
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(b"a,b,y\n1,2,p\n3,4,q\n").unwrap();
    let p = temp("packed.csv", &gz.finish().unwrap());
    let e = Table::fit(&p, &CsvOptions::default()).expect_err("gzip");
    std::fs::remove_file(&p).unwrap();
    assert!(
        e.to_string()
            .contains("gzip-compressed: a name ending in .gz"),
        "{e}"
    );
}

#[test]
fn a_typo_in_a_numeric_column_is_an_error_naming_line_and_column() {
    // In a data row under a header.
    fails(
        "typo.csv",
        "a,b,y\n1,0.5,p\n2,O.3,q\n3,0.25,p\n",
        &CsvOptions::default(),
        &[
            "line 3:",
            "column 2 (\"b\")",
            "\"O.3\" is not a number, but most of the column is",
        ],
    );
    // In the first line of a file without a header: not a header, not a dropped row.
    fails(
        "typo1.csv",
        "1,O.3,0\n2,0.5,1\n3,0.5,1\n",
        &CsvOptions::default(),
        &[
            "line 1:",
            "column 2:",
            "\"O.3\"",
            "a header line names every column",
        ],
    );
    // A column of text is categorical, not an error.
    let (t, d) = fit("cat.csv", "size,w,y\nS,1,a\nM,2,b\nL,3,a\nM,4,b\n");
    assert_eq!(
        t.columns[0].kind,
        Kind::Categorical {
            levels: vec!["L".into(), "M".into(), "S".into()]
        }
    );
    assert_eq!(d.dim, 4);
    assert_eq!(&d.x.to_f32()[..4], [0.0, 0.0, 1.0, 1.0]);
    assert_eq!(t.one_hot(), [true, true, true, false]);
}

#[test]
fn missing_values_are_imputed_and_counted_or_refused() {
    let text = "a,c,y\n1,red,p\nNA,,q\n3,blue,p\n?,red,q\n";
    let (t, r) = fit_with("na.csv", text, &CsvOptions::default()).unwrap();
    assert_eq!(
        t.columns[0].kind,
        Kind::Numeric {
            mean: 2.0,
            offset: 0.0
        }
    );
    assert_eq!(r.counts.imputed, 3);
    // a, blue, red
    assert_eq!(
        r.data.x.to_f32(),
        [1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 1.0, 0.0, 2.0, 0.0, 1.0]
    );
    let o = CsvOptions {
        missing: Missing::Error,
        ..CsvOptions::default()
    };
    fails(
        "na-error.csv",
        text,
        &o,
        &["line 3:", "column 1 (\"a\")", "missing value"],
    );
    fails(
        "na-label.csv",
        "a,y\n1,p\n2,NA\n3,q\n",
        &CsvOptions::default(),
        &["line 3:", "column 2 (\"y\")", "the label is missing"],
    );
    let o = CsvOptions {
        targets: Some(TargetColumns::Last(1)),
        ..CsvOptions::default()
    };
    fails(
        "na-target.csv",
        "a,y\n1,0.5\n2,\n",
        &o,
        &["line 3:", "the target is missing"],
    );
}

#[test]
fn labels_one_to_k_give_k_classes_sorted_as_numbers() {
    let (t, d) = fit("1k.csv", "0.1,1\n0.2,2\n0.3,10\n0.4,2.0\n");
    assert_eq!(t.classes.as_deref().unwrap(), ["1", "2", "10"]);
    assert_eq!(labels(&d), (&[0, 1, 2, 1][..], 3));
    // A non-integer label, or mostly distinct ones, is a regression target.
    fails(
        "float.csv",
        "1,0.5\n2,1.5\n",
        &CsvOptions::default(),
        &["not integers", "targets", "mse"],
    );
    let text: String = (0..40)
        .map(|i| format!("{i}.5,{}\n", 100 + 7 * i))
        .collect();
    fails(
        "distinct.csv",
        &text,
        &CsvOptions::default(),
        &["40 different values in 40 rows", "regression"],
    );
    fails(
        "one.csv",
        "1,a\n2,a\n",
        &CsvOptions::default(),
        &["one value"],
    );
}

#[test]
fn label_codes_with_leading_zeros_or_beyond_f64_stay_as_written() {
    // Before, 07 and 7 became one class and 01 came back as 1.
    let (t, d) = fit("codes.csv", "0.1,7\n0.2,07\n0.3,08\n0.4,7\n");
    assert_eq!(t.classes.as_deref().unwrap(), ["07", "08", "7"]);
    assert!(!t.numeric_classes);
    assert_eq!(labels(&d), (&[2, 0, 1, 2][..], 3));
    let (t, _) = fit("codes2.csv", "0.1,01\n0.2,02\n0.3,10\n0.4,01\n");
    assert_eq!(t.classes.as_deref().unwrap(), ["01", "02", "10"]);
    // Integers past 2^53 are names, not "numbers that are not integers".
    let (t, _) = fit(
        "big.csv",
        "0.1,9007199254740993\n0.2,9007199254740992\n0.3,9007199254740993\n",
    );
    assert_eq!(
        t.classes.as_deref().unwrap(),
        ["9007199254740992", "9007199254740993"]
    );
}

#[test]
fn columns_go_by_name_or_number_and_ids_are_refused_unless_ignored() {
    // `ref`, not `id`: texts under an id's name are left out on their own (a text identifier).
    let mut text = String::from("ref,species,x,y\n");
    for i in 0..30 {
        // x from 10: the row numbers (0..29) would be left out as an index.
        text += &format!("row{i},{},{},{}\n", ["cat", "dog"][i % 2], i + 10, i * 2);
    }
    let refused = fails(
        "ids.csv",
        &text,
        &CsvOptions {
            label: Some(Column::Name("species".into())),
            ..CsvOptions::default()
        },
        &["column 1 (\"ref\")", "30 different text values", "ignore"],
    );
    assert!(refused.contains("identifier"), "{refused}");
    let o = CsvOptions {
        label: Some(Column::Name("species".into())),
        ignore: vec![Column::Number(1)],
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("ids.csv", &text, &o).unwrap();
    assert_eq!((r.data.dim, t.outputs()), (2, 2));
    assert_eq!(t.label(), Some((2, "species")));
    let o = CsvOptions {
        targets: Some("x,y".parse().unwrap()),
        ignore: vec![Column::Name("ref".into())],
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("ids.csv", &text, &o).unwrap();
    assert_eq!((r.data.dim, r.data.target_width()), (2, 2));
    assert!(t.classes.is_none());
    let e = fit_with(
        "ids.csv",
        &text,
        &CsvOptions {
            label: Some(Column::Name("kind".into())),
            ..CsvOptions::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument { arg: Some("label"), msg } if msg.contains("ref, species, x, y")),
        "{e}"
    );
}

#[test]
fn other_files_are_read_with_the_training_schema() {
    let (t, _) = fit("train.csv", "a,c,y\n1,red,p\n2,blue,q\n3,red,p\n");
    // Columns by name, in another order, with an unseen category.
    let p = temp("test.csv", b"y,c,a\nq,green,5\np,red,NA\n");
    let r = t.read(&p, Need::Targets, None).unwrap();
    assert_eq!(r.data.x.to_f32(), [5.0, 0.0, 0.0, 2.0, 0.0, 1.0]);
    assert_eq!(labels(&r.data).0, [1, 0]);
    assert_eq!(
        r.counts,
        Counts {
            imputed: 1,
            unseen: 1,
            dropped: 0
        }
    );
    let strict = t
        .read(&p, Need::Features { strict: true }, None)
        .unwrap_err()
        .to_string();
    assert!(
        strict.contains("line 2:") && strict.contains("\"green\""),
        "{strict}"
    );
    // A label never seen in training.
    std::fs::write(&p, "a,c,y\n1,red,r\n").unwrap();
    let e = t.read(&p, Need::Targets, None).unwrap_err().to_string();
    assert!(
        e.contains("label \"r\" was not seen in training (its classes: p, q)"),
        "{e}"
    );
    // Features only, by position.
    std::fs::write(&p, "4,blue\n").unwrap();
    let r = t.read(&p, Need::Features { strict: false }, None).unwrap();
    assert_eq!(r.data.x.to_f32(), [4.0, 1.0, 0.0]);
    assert!(t.read(&p, Need::Targets, None).is_err());
    std::fs::remove_file(&p).unwrap();
    // The table survives JSON.
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<Table>(&json).unwrap(), t);
    t.validate().unwrap();
}

#[test]
fn gzipped_files_stream_and_bad_or_long_input_is_refused() {
    let text = "f1,f2,y\n0,1,1\n1,0,0\n";
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = temp("ok.csv.gz", &enc.finish().unwrap());
    let (_, r) = Table::fit(&gz, &CsvOptions::default()).unwrap();
    assert_eq!((r.data.n, r.data.dim), (2, 2));
    let bad = temp("bad.csv.gz", b"not gzip at all");
    let msg = Table::fit(&bad, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bad gzip") && msg.contains("bad.csv.gz"),
        "{msg}"
    );
    // A bomb of one endless line: refused at the record limit, not held whole.
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    let chunk = vec![b'1'; 1 << 20];
    for _ in 0..(read::MAX_RECORD_BYTES >> 20) + 2 {
        enc.write_all(&chunk).unwrap();
    }
    let bomb = temp("bomb.csv.gz", &enc.finish().unwrap());
    let msg = Table::fit(&bomb, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bomb.csv.gz") && msg.contains("a record longer than"),
        "{msg}"
    );
    let missing = std::env::temp_dir().join("wgtrain-no-such-file.csv");
    let msg = Table::fit(&missing, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("cannot read") && msg.contains("no-such-file"),
        "{msg}"
    );
    for p in [gz, bad, bomb] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn rows_beyond_memory_are_refused_with_the_file_named() {
    let (t, _) = fit("mem.csv", "a,y\n1,p\n2,q\n");
    let p = temp("mem2.csv", b"a,y\n1,p\n");
    let e = t.read(&p, Need::Targets, Some(usize::MAX / 8)).unwrap_err();
    assert!(matches!(e, Error::OutOfMemory(_)), "{e}");
    assert!(e.to_string().contains("mem2.csv"), "{e}");
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn blank_lines_garbage_and_empty_files() {
    let (_, d) = fit("blank.csv", "1,2,0\n\n  \n3,4,1\n\n");
    assert_eq!(d.n, 2);
    for text in ["", "\n\n", "a,b,c\n"] {
        fails("empty.csv", text, &CsvOptions::default(), &["no data rows"]);
    }
    fails("one.csv", "5\n6\n", &CsvOptions::default(), &["1 column"]);
    let p = temp(
        "garbage.csv",
        &[0xff, 0xfe, b',', b'\n', 0, 1, 2, b',', b'1'],
    );
    assert!(Table::fit(&p, &CsvOptions::default()).is_err());
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn a_file_read_again_with_its_own_table_gives_the_same_rows() {
    for (name, text) in [
        ("empty-names.csv", ",,\nx,y,p\nz,y,q\n"),
        ("quoted-label.csv", "v,y\n1,\"1,0\"\n2,2\n"),
        ("cats.csv", "c,y\nred,p\nblue,q\n"),
    ] {
        let p = temp(name, text.as_bytes());
        let (t, r) = Table::fit(&p, &CsvOptions::default()).unwrap();
        let again = t.read(&p, Need::Targets, None).unwrap();
        assert_eq!(
            (again.data.n, &again.data.x),
            (r.data.n, &r.data.x),
            "{name}"
        );
        std::fs::remove_file(&p).unwrap();
    }
}

#[test]
fn the_table_travels_in_the_checkpoint_and_a_bad_one_is_refused() {
    use crate::checkpoint::{InputInfo, load_model, save_model};
    use crate::model::Spec;
    let (t, r) = fit_with(
        "ckpt.csv",
        "a,c,y\n1,red,p\n2,blue,q\n",
        &CsvOptions::default(),
    )
    .unwrap();
    let spec = Spec::classifier(r.data.dim, &[3], t.outputs()).unwrap();
    let params = crate::model::Params::init(&spec, 1);
    let input = InputInfo {
        table: Some(t.clone()),
        ..InputInfo::default()
    };
    let p = std::env::temp_dir().join(format!("wgtrain-table-{}.safetensors", std::process::id()));
    save_model(&p, &spec, &params, &input).unwrap();
    assert_eq!(load_model(&p).unwrap().2.table, Some(t.clone()));
    // A table whose classes do not fit the network is refused on save.
    let mut three = t.clone();
    three.classes = Some(vec!["p".into(), "q".into(), "r".into()]);
    let wrong = InputInfo {
        table: Some(three),
        ..InputInfo::default()
    };
    assert!(save_model(&p, &spec, &params, &wrong).is_err());
    // One with two label columns validates no more.
    let mut two = t;
    two.columns[0].kind = Kind::Label;
    assert!(two.validate().is_err());
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn a_categorical_column_holds_at_most_max_levels() {
    // Each level twice, so the identifier guard (more distinct values than half the rows)
    // does not fire first: MAX_LEVELS levels are taken, one more is refused.
    let csv = |levels: usize| {
        let mut s = String::from("colour,y\n");
        for i in 0..2 * levels {
            s.push_str(&format!("c{},{}\n", i % levels, i % 2));
        }
        s
    };
    let (t, _) = fit("levels-max", &csv(MAX_LEVELS));
    assert!(
        t.describe().contains(&format!("({MAX_LEVELS} levels)")),
        "{}",
        t.describe()
    );
    fails(
        "levels-over",
        &csv(MAX_LEVELS + 1),
        &CsvOptions::default(),
        &[&format!("more than {MAX_LEVELS} different text values")],
    );
}

/// `(label, name)` rows of `n` lines under `header`, from `row(i)`.
fn rows(header: &str, n: usize, row: impl Fn(usize) -> String) -> String {
    let mut text = format!("{header}\n");
    for i in 0..n {
        text += &row(i);
        text += "\n";
    }
    text
}

#[test]
fn a_pandas_index_or_r_row_names_are_left_out_and_later_files_leave_them_out_too() {
    // pandas' to_csv(): an empty first header cell over the index 0..n-1.
    let pandas = ",a,b,label\n0,1.5,x,p\n1,2.5,y,q\n2,0.5,x,p\n3,3.5,y,q\n";
    let (t, d) = fit("pandas.csv", pandas);
    assert_eq!(t.columns[0].kind, Kind::Ignored);
    assert_eq!(t.left_out(), [(1, "column 1", LeftOut::Index)]);
    assert_eq!(d.dim, 3);
    assert_eq!(&d.x.to_f32()[..3], [1.5, 1.0, 0.0]);
    // A test file with its own index (a split keeps the original row labels), one without it,
    // and one for predict without the label: each reads the same inputs.
    for (name, text, need) in [
        (
            "pandas-test.csv",
            ",a,b,label\n17,1.5,y,q\n4,2.5,x,p\n",
            Need::Targets,
        ),
        (
            "no-index.csv",
            "a,b,label\n1.5,y,q\n2.5,x,p\n",
            Need::Targets,
        ),
        (
            "predict.csv",
            ",b,a\n17,y,1.5\n4,x,2.5\n",
            Need::Features { strict: true },
        ),
    ] {
        let p = temp(name, text.as_bytes());
        let r = t.read(&p, need, None).unwrap();
        assert_eq!(r.data.x.to_f32(), [1.5, 0.0, 1.0, 2.5, 1.0, 0.0], "{name}");
        std::fs::remove_file(&p).unwrap();
    }
    // R's write.csv: a quoted empty first cell, quoted row names (here car names, which would
    // otherwise be refused as an identifier), quoted strings, NA.
    let r = rows("\"\",\"mpg\",\"am\",\"cyl\"", 24, |i| {
        let mpg = if i == 3 {
            "NA".to_string()
        } else {
            format!("{}", 15 + i)
        };
        let am = ["\"manual\"", "\"auto\""][i % 2];
        format!("\"car {i}\",{mpg},{am},{}", [4, 6, 8][i % 3])
    });
    let (t, rr) = fit_with("r.csv", &r, &CsvOptions::default()).unwrap();
    assert_eq!(t.left_out(), [(1, "column 1", LeftOut::Index)]);
    assert_eq!((rr.data.dim, rr.counts.imputed), (3, 1));
    assert_eq!(t.classes.as_deref().unwrap(), ["4", "6", "8"]);
    // Named as an input, the column is read.
    let o = CsvOptions {
        features: vec![Column::Number(1)],
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("pandas.csv", pandas, &o).unwrap();
    assert_eq!((t.left_out().len(), r.data.dim), (0, 4));
    // An empty header cell that is not the first is an input as before.
    let (t, _) = fit("inner.csv", "a,,label\n1,2,p\n3,4,q\n");
    assert!(t.left_out().is_empty());
}

#[test]
fn row_numbers_are_left_out_from_twenty_rows() {
    // The row numbers, from 1, under any name.
    let text = rows("n,w,y", 30, |i| {
        format!("{},{},{}", i + 1, (i * 7) % 11, i % 2)
    });
    let (t, d) = fit("rownumbers.csv", &text);
    assert_eq!(t.left_out(), [(1, "n", LeftOut::RowNumbers)]);
    assert_eq!(d.dim, 1);
    // Under twenty rows they may be a feature.
    let short = rows("n,w,y", 10, |i| format!("{i},{},{}", (i * 7) % 11, i % 2));
    assert!(fit("short.csv", &short).0.left_out().is_empty());
}

#[test]
fn whole_numbers_all_different_under_an_id_name_are_left_out() {
    // All-different whole numbers named like an id, in any order; each name in turn.
    for name in [
        "id",
        "ID",
        "PassengerId",
        "customer_id",
        "Unnamed: 0",
        "index",
    ] {
        let text = rows(&format!("w,{name},y"), 8, |i| {
            format!("{},{},{}", i % 3, 1000 + (i * 5) % 8, i % 2)
        });
        let (t, d) = fit("id.csv", &text);
        assert_eq!(t.left_out(), [(2, name, LeftOut::Identifier)], "{name}");
        assert_eq!(d.dim, 1, "{name}");
    }
    // Not every id-like name holds ids: repeated values, or a fraction, keep the column.
    for (name, cell) in [("store_id", "1"), ("id", "2.5")] {
        let text = rows(&format!("w,{name},y"), 8, |i| {
            let v = if i == 4 {
                cell.to_string()
            } else {
                i.to_string()
            };
            format!("{},{v},{}", i % 3, i % 2)
        });
        assert!(fit("notid.csv", &text).0.left_out().is_empty(), "{name}");
    }
    for name in ["Paid", "valid", "width", "UUID"] {
        assert!(!fit::id_like(name), "{name}");
    }
}

#[test]
fn a_column_without_a_value_is_left_out() {
    // A column without a value (a trailing delimiter on every line, or all NA): left out.
    let o = CsvOptions {
        label: Some(Column::Name("y".into())),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("trailing.csv", "a,b,y,\n1,2,x,\n3,4,z,\n5,6,x,\n", &o).unwrap();
    assert_eq!(t.left_out(), [(4, "column 4", LeftOut::Empty)]);
    assert_eq!(r.data.dim, 2);
    let (t, _) = fit("na.csv", "a,notes,y\n1,NA,x\n2,,z\n3,NA,x\n");
    assert_eq!(t.left_out(), [(2, "notes", LeftOut::Empty)]);
}

#[test]
fn text_codes_one_per_row_under_an_id_name_are_left_out() {
    // Text codes, one per row, under an id's name: left out too; under another name refused;
    // codes that repeat (a store's) stay a category, and a missing code keeps the column.
    let codes = |name: &str, code: fn(usize) -> String| {
        rows(&format!("w,{name},y"), 8, move |i| {
            format!("{},{},{}", i % 3, code(i), i % 2)
        })
    };
    for name in ["id", "customer_id", "CustomerID"] {
        let (t, d) = fit("codes.csv", &codes(name, |i| format!("C{i:05}")));
        assert_eq!(t.left_out(), [(2, name, LeftOut::TextIdentifier)], "{name}");
        assert_eq!(d.dim, 1, "{name}");
    }
    fails(
        "named.csv",
        &rows("w,name,y", 30, |i| format!("{},C{i:05},{}", i % 3, i % 2)),
        &CsvOptions::default(),
        &["an identifier rather than a category"],
    );
    let (t, d) = fit("stores.csv", &codes("store_id", |i| format!("S{}", i % 2)));
    assert!(t.left_out().is_empty());
    assert_eq!(d.dim, 1 + 2);
    let (t, _) = fit(
        "gap.csv",
        &codes("id", |i| {
            if i == 3 {
                "NA".into()
            } else {
                format!("C{i:05}")
            }
        }),
    );
    assert!(t.left_out().is_empty());
}

#[test]
fn an_id_left_out_is_said_when_nothing_else_is_left_and_predict_reads_without_it() {
    // When the id is all there is, the error says so, and how to keep it.
    fails(
        "only-id.csv",
        &rows("id,y", 8, |i| format!("{},{}", 100 + i, i % 2)),
        &CsvOptions::default(),
        &[
            "no input column is left",
            "column 1 (\"id\")",
            "the setting `features`",
        ],
    );
    // The stored table reads the id-less predict file, and the fit's options resume.
    let text = rows("id,w,y", 8, |i| format!("{},{},{}", 100 + i, i % 3, i % 2));
    let (t, _) = fit("ids.csv", &text);
    let p = temp("ids-predict.csv", b"w\n1\n2\n");
    let r = t.read(&p, Need::Features { strict: true }, None).unwrap();
    assert_eq!(r.data.x.to_f32(), [1.0, 2.0]);
    std::fs::remove_file(&p).unwrap();
    let o = CsvOptions {
        features: vec![Column::Name("id".into())],
        ..CsvOptions::default()
    };
    let e = t.check_options(&o).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidArgument {
                arg: Some("features"),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_numeric_label_that_looks_continuous_is_refused_unless_many_classes() {
    // 300 prices, each in two of 600 rows: not more than half the rows, but a regression.
    let text = rows("carat,price", 600, |i| {
        format!("{}.{},{}", i % 5, i % 10, 326 + 17 * (i % 300))
    });
    fails(
        "price.csv",
        &text,
        &CsvOptions::default(),
        &[
            "column 2 (\"price\")",
            "300 different integers in 600 rows",
            "the setting `targets`",
            "mse",
            "the setting `many_classes`",
        ],
    );
    let o = CsvOptions {
        many_classes: true,
        ..CsvOptions::default()
    };
    let (t, _) = fit_with("price.csv", &text, &o).unwrap();
    assert_eq!(t.outputs(), 300);
    // Many classes with rows enough each, or few classes, are classes.
    let text = rows("x,class", 1500, |i| format!("{},{}", i % 7, i % 150));
    assert_eq!(fit("classes.csv", &text).0.outputs(), 150);
    // More values than half the rows: insisting keeps them too.
    let text = rows("x,y", 40, |i| format!("{},{}", i % 4, 100 + i));
    fails(
        "distinct.csv",
        &text,
        &CsvOptions::default(),
        &["40 different values in 40 rows", "many_classes"],
    );
    assert_eq!(fit_with("distinct.csv", &text, &o).unwrap().0.outputs(), 40);
}

#[test]
fn duplicate_header_names_are_refused_naming_both_positions_unless_ignored_by_number() {
    let text = "a,b,a,y\n1,2,3,p\n4,5,6,q\n7,8,9,p\n";
    let msg = fails(
        "dup.csv",
        text,
        &CsvOptions::default(),
        &[
            "line 1:",
            "columns 1 and 3 are both named \"a\"",
            "the setting `ignore`",
        ],
    );
    assert!(msg.contains("dup.csv"), "{msg}");
    // By name the first is meant no more than the second.
    let by_name = CsvOptions {
        ignore: vec![Column::Name("a".into())],
        ..CsvOptions::default()
    };
    fails("dup.csv", text, &by_name, &["columns 1 and 3"]);
    let o = CsvOptions {
        ignore: vec![Column::Number(3)],
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("dup.csv", text, &o).unwrap();
    assert_eq!(r.data.x.to_f32(), [1.0, 2.0, 4.0, 5.0, 7.0, 8.0]);
    // Later files: the same layout, or another order, read by name.
    for (name, text) in [
        ("dup-same.csv", "a,b,a,y\n1,2,3,p\n"),
        ("dup-order.csv", "y,b,a,a\np,2,1,3\n"),
    ] {
        let p = temp(name, text.as_bytes());
        let r = t.read(&p, Need::Targets, None).unwrap();
        assert_eq!(r.data.x.to_f32(), [1.0, 2.0], "{name}");
        std::fs::remove_file(&p).unwrap();
    }
}

#[test]
fn statistics_are_taken_in_f64_so_timestamps_and_tiny_scales_stay_informative() {
    // Milliseconds since 1970: 1.7e12 + k, where an f32 step is 131072.
    let text = rows("ts,y", 40, |k| {
        format!("{},{}", 1_700_000_000_000u64 + k as u64, k / 20)
    });
    let (t, d) = fit("ts.csv", &text);
    let Kind::Numeric { mean, offset } = t.columns[0].kind else {
        panic!("{:?}", t.columns[0].kind)
    };
    assert_eq!((mean, offset), (0.0, 1_700_000_000_019.5));
    let x = d.x.to_f32();
    let want: Vec<f32> = (0..40).map(|k| k as f32 - 19.5).collect();
    assert_eq!(x, want);
    let s = crate::data::standardize::Standardize::fit(&d);
    assert!((s.std[0] - 11.543).abs() < 1e-3, "{:?}", s.std);
    // A missing timestamp takes the mean: 0 after the offset; the table travels with it.
    let p = temp("ts-test.csv", b"ts,y\n1700000000000,0\nNA,1\n");
    let r = t.read(&p, Need::Targets, None).unwrap();
    assert_eq!(r.data.x.to_f32(), [-19.5, 0.0]);
    std::fs::remove_file(&p).unwrap();
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(serde_json::from_str::<Table>(&json).unwrap(), t);
    // A column of ordinary numbers keeps no offset, and its JSON no field for one.
    let (t, _) = fit("plain.csv", "a,y\n1,p\n2,q\n");
    assert_eq!(
        t.columns[0].kind,
        Kind::Numeric {
            mean: 1.5,
            offset: 0.0
        }
    );
    assert!(!serde_json::to_string(&t).unwrap().contains("offset"));
}

/// The first column of `d`'s inputs (each row `dim` wide).
fn first_inputs(d: &Dataset) -> Vec<f32> {
    d.x.to_f32().chunks(d.dim).map(|r| r[0]).collect()
}

#[test]
fn german_thousands_separators_are_read_at_their_scale() {
    // A German Excel export: ';', decimal comma, '.' grouping thousands in prices and in the
    // target. Before, 16.231 was read as 16.231, 1000 times too small.
    let text = "preis;gewicht;wert\n16.231;0,5;1.234,5\n850;1,25;12,5\n1.000.000;2;3\n";
    let o = CsvOptions {
        targets: Some(TargetColumns::Last(1)),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("german.csv", text, &o).unwrap();
    assert_eq!((t.delimiter, t.decimal, t.thousands), (';', ',', Some('.')));
    assert_eq!(first_inputs(&r.data), [16231.0, 850.0, 1e6]);
    let Targets::Values { values, .. } = &r.data.targets else {
        panic!("expected values")
    };
    assert_eq!(values, &[1234.5, 12.5, 3.0]);
    // Later files are read so too, and the table says it.
    assert!(
        t.describe().contains("thousands separator '.'"),
        "{}",
        t.describe()
    );
    let p = temp("german-test.csv", b"preis;gewicht;wert\n2.500;1;1.000,5\n");
    let again = t.read(&p, Need::Targets, None).unwrap();
    std::fs::remove_file(&p).unwrap();
    assert_eq!(first_inputs(&again.data), [2500.0]);
    // '.' as a thousands separator in one cell and as a decimal point in another of the
    // column: refused, naming both lines and the settings.
    fails(
        "german-mixed.csv",
        "preis;gewicht;y\n16.231;0,5;a\n3.5;1,25;b\n",
        &CsvOptions::default(),
        &[
            "line 2:",
            "column 1 (\"preis\")",
            "\"16.231\" reads as 16231",
            "line 3 has \"3.5\"",
            "the setting `thousands` '.'",
            "the setting `thousands` none",
        ],
    );
    // With none, '.' stays a decimal point, as before.
    let o = CsvOptions {
        thousands: Thousands::Off,
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("german-none.csv", "p;g;y\n16.231;0,5;a\n3.5;1,25;b\n", &o).unwrap();
    assert_eq!(t.thousands, None);
    assert_eq!(first_inputs(&r.data), [16.231, 3.5]);
}

#[test]
fn a_later_files_grouped_numbers_are_read_or_refused_never_read_as_decimals() {
    // Trained on a decimal-comma file whose numbers group no digits: no thousands separator.
    let text = "alter;einkommen;y\n30;850,5;ja\n60;900;nein\n45;12,25;ja\n";
    let (t, _) = fit_with("german-small.csv", text, &CsvOptions::default()).unwrap();
    assert_eq!(
        (t.decimal, t.thousands, t.thousands_off),
        (',', None, false)
    );
    let read = |name: &str, text: &str, t: &Table| {
        let p = temp(name, text.as_bytes());
        let r = t.read(&p, Need::Targets, None);
        std::fs::remove_file(&p).unwrap();
        r
    };
    // German Excel's 8.000 is 8000 or 8: refused with both readings. Before, it read as 8.
    let e = read("german-later.csv", "alter;einkommen;y\n30;8.000;ja\n", &t)
        .unwrap_err()
        .to_string();
    for want in [
        "line 2",
        "column 2 (\"einkommen\")",
        "\"8.000\" reads as 8000 with '.' as a thousands separator or as 8.000 with '.' as a decimal point",
        "the setting `thousands` '.'",
    ] {
        assert!(e.contains(want), "{want:?} not in: {e}");
    }
    // What can only be grouping is read so; the schema's figures agree.
    let later = "alter;einkommen;y\n30;1.234,5;ja\n40;2.000.000;nein\n50;3.5;ja\n";
    let r = read("german-sure.csv", later, &t).unwrap();
    let incomes: Vec<f32> = r.data.x.to_f32().chunks(r.data.dim).map(|r| r[1]).collect();
    let offset = match t.columns[1].kind {
        Kind::Numeric { offset, .. } => offset as f32,
        ref k => panic!("{k:?}"),
    };
    assert_eq!(incomes, [1234.5 - offset, 2e6 - offset, 3.5 - offset]);
    assert_eq!(t.number("1.234,5"), Some(1234.5));
    assert_eq!(t.number("8.000"), None);
    // Told there are none, '.' is a decimal point in later files too.
    let o = CsvOptions {
        thousands: Thousands::Off,
        ..CsvOptions::default()
    };
    let (t, _) = fit_with("german-off.csv", text, &o).unwrap();
    assert!(t.thousands_off);
    let r = read(
        "german-off-later.csv",
        "alter;einkommen;y\n30;8.000;ja\n",
        &t,
    )
    .unwrap();
    assert_eq!(r.data.x.to_f32()[1], 8.0 - offset);
    // A '.'-decimal table: 12,345 in a ';'-file could be either too.
    let (t, _) = fit("dot.csv", "a;b;y\n1.5;2;p\n3;4.25;q\n");
    let e = read("dot-later.csv", "a;b;y\n12,345;2;p\n", &t)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"12,345\" reads as 12345 with ',' as a thousands separator"),
        "{e}"
    );
    let r = read("dot-sure.csv", "a;b;y\n\"12,345.5\";2;p\n", &t).unwrap();
    assert!(r.data.x.to_f32()[0] > 12000.0, "{:?}", r.data.x.to_f32());
}

#[test]
fn no_break_spaces_grouping_digits_are_named_and_read_as_told() {
    // French Excel and LibreOffice group thousands with a no-break space (U+00A0) or a narrow
    // one (U+202F): they were "an identifier", and --thousands space took only ' '.
    let rows: String = (0..30)
        .map(|i| {
            let sp = if i % 2 == 0 { '\u{a0}' } else { '\u{202f}' };
            format!(
                "{}{sp}{:03},{};{}\n",
                10 + i,
                7 * i,
                i % 10,
                ["oui", "non"][i % 2]
            )
        })
        .collect();
    let text = format!("montant;y\n{rows}");
    fails(
        "fr.csv",
        &text,
        &CsvOptions::default(),
        &[
            "spaces grouping its digits",
            "the setting `thousands` space",
        ],
    );
    let o = CsvOptions {
        thousands: Thousands::Mark(' '),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("fr-space.csv", &text, &o).unwrap();
    assert_eq!((t.decimal, t.thousands), (',', Some(' ')));
    assert_eq!(first_inputs(&r.data)[..2], [10000.0, 11007.1]);
}

#[test]
fn quoted_thousands_in_a_comma_file_are_numbers_not_categories() {
    let text = "amount,b,y\n\"1,234.5\",1,p\n\"12,000\",2,q\n7.25,3,p\n";
    let (t, d) = fit("quoted.csv", text);
    assert_eq!(t.thousands, Some(','));
    assert!(
        matches!(t.columns[0].kind, Kind::Numeric { .. }),
        "{:?}",
        t.columns[0]
    );
    assert_eq!(first_inputs(&d), [1234.5, 12000.0, 7.25]);
    // Told there are none: the grouped cells are not numbers, and the message names the
    // setting.
    let o = CsvOptions {
        thousands: Thousands::Off,
        ..CsvOptions::default()
    };
    let rows: String = (0..30)
        .map(|i| format!("\"{},{:03}.5\",{},{}\n", i + 1, i * 7, i % 3, i % 2))
        .collect();
    fails(
        "quoted-none.csv",
        &format!("amount,b,y\n{rows}"),
        &o,
        &["thousands separators", "the setting `thousands`"],
    );
}

#[test]
fn one_grouped_cell_in_a_tab_file_never_flips_its_decimal_mark() {
    // Before, the one "12,345" made the whole file decimal-comma: 123.5 read as 123.5 still,
    // but 12,345 as 12.345.
    let text = "a\tb\ty\n123.5\t12,345\tp\n2.25\t7\tq\n3\t8\tp\n";
    let (t, d) = fit("tab-grouped.csv", text);
    assert_eq!(
        (t.delimiter, t.decimal, t.thousands),
        ('\t', '.', Some(','))
    );
    assert_eq!(d.x.to_f32(), [123.5, 12345.0, 2.25, 7.0, 3.0, 8.0]);
    // Nothing in the file shows the decimal mark: both readings named, and both settings.
    let text = "a\tb\ty\n1\t12,345\tp\n2\t7\tq\n3\t8\tp\n";
    fails(
        "tab-ambiguous.csv",
        text,
        &CsvOptions::default(),
        &[
            "line 2:",
            "column 2 (\"b\")",
            "reads as 12345 with ',' as a thousands separator or as 12.345 with ',' as the decimal mark",
            "the setting `thousands` ','",
            "the setting `decimal` ','",
        ],
    );
    // Either setting settles it.
    let o = CsvOptions {
        thousands: Thousands::Mark(','),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("tab-thousands.csv", text, &o).unwrap();
    assert_eq!((t.decimal, t.thousands), ('.', Some(',')));
    assert_eq!(r.data.x.to_f32()[1], 12345.0);
    let o = CsvOptions {
        decimal: Some(','),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("tab-decimal.csv", text, &o).unwrap();
    assert_eq!((t.decimal, t.thousands), (',', None));
    assert_eq!(r.data.x.to_f32()[1], 12.345);
    // Several groups cannot be a decimal comma: read without a setting; so in ';' and
    // space-separated files.
    for (name, text) in [
        ("tab-millions.csv", "a\tb\ty\n1\t1,234,567\tp\n2\t7\tq\n"),
        ("semi-millions.csv", "a;b;y\n1;1,234,567;p\n2;7;q\n"),
        ("space-millions.csv", "a b y\n1 1,234,567 p\n2 7 q\n"),
    ] {
        let (t, d) = fit(name, text);
        assert_eq!((t.decimal, t.thousands), ('.', Some(',')), "{name}");
        assert_eq!(d.x.to_f32()[1], 1234567.0, "{name}");
    }
}

#[test]
fn other_files_have_their_own_delimiter_and_are_matched_by_name() {
    let (t, _) = fit("by-name.csv", "a;b;c;y\n1,5;2;10;p\n3;4,5;20;q\n5;6;30;p\n");
    assert_eq!((t.delimiter, t.decimal), (';', ','));
    // Another delimiter, another decimal mark, another column order.
    let p = temp("by-name-test.csv", b"y,c,b,a\nq,40,8.5,7\np,50,1,2.5\n");
    let r = t.read(&p, Need::Targets, None).unwrap();
    assert_eq!(r.data.x.to_f32(), [7.0, 8.5, 40.0, 2.5, 1.0, 50.0]);
    assert_eq!(labels(&r.data).0, [1, 0]);
    // A needed column twice: refused, naming the column and the file.
    std::fs::write(&p, "y,c,b,a,b\nq,40,8.5,7,1\n").unwrap();
    let e = t.read(&p, Need::Targets, None).unwrap_err().to_string();
    assert!(
        e.contains("by-name-test.csv")
            && e.contains("columns 3 and 5 are both named \"b\", column 2 of the training file"),
        "{e}"
    );
    // A needed column missing: named, with the file.
    std::fs::write(&p, "y\tc\ta\nq\t40\t7\n").unwrap();
    let e = t.read(&p, Need::Targets, None).unwrap_err().to_string();
    assert!(
        e.contains("by-name-test.csv") && e.contains("no column is named \"b\""),
        "{e}"
    );
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn na_values_are_missing_and_travel_with_the_table() {
    // Excel's, pandas' and MySQL's markers are missing without being named.
    let text = "a,y\n1,p\n#N/A,q\n<NA>,p\n\\N,q\n-nan,p\n5,q\n";
    let (_, r) = fit_with("na-default.csv", text, &CsvOptions::default()).unwrap();
    assert_eq!((r.counts.imputed, r.data.n), (4, 6));
    let text = "a,c,y\n1,red,p\nNone,-,q\n3,blue,p\n";
    fails(
        "na-values-off.csv",
        text,
        &CsvOptions::default(),
        &[
            "line 3:",
            "column 1 (\"a\")",
            "\"None\" is not a number",
            "if it marks a missing value, the setting `na_values` reads it as one",
        ],
    );
    let o = CsvOptions {
        na_values: vec!["None".into(), "-".into()],
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("na-values.csv", text, &o).unwrap();
    assert_eq!(r.counts.imputed, 2);
    // blue, red: '-' is no level of its own.
    assert_eq!(
        t.columns[1].kind,
        Kind::Categorical {
            levels: vec!["blue".into(), "red".into()]
        }
    );
    assert_eq!(first_inputs(&r.data), [1.0, 2.0, 3.0]);
    let json = serde_json::to_string(&t).unwrap();
    let back: Table = serde_json::from_str(&json).unwrap();
    let p = temp("na-values-test.csv", b"a,c,y\nNone,red,q\n");
    let again = back.read(&p, Need::Targets, None).unwrap();
    std::fs::remove_file(&p).unwrap();
    assert_eq!(
        (again.counts.imputed, first_inputs(&again.data)[0]),
        (1, 2.0)
    );
}

#[test]
fn rows_with_a_missing_target_are_dropped_and_counted_when_asked() {
    let text = "a,y\n1,p\n2,NA\n3,q\n4,\n5,p\n";
    fails(
        "drop-off.csv",
        text,
        &CsvOptions::default(),
        &["line 3:", "the label is missing"],
    );
    let o = CsvOptions {
        drop_missing_target: true,
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("drop.csv", text, &o).unwrap();
    assert_eq!((r.data.n, r.counts.dropped), (3, 2));
    assert_eq!(first_inputs(&r.data), [1.0, 3.0, 5.0]);
    assert_eq!(labels(&r.data).0, [0, 1, 0]);
    // Targets too, and later files drop theirs; predict's features keep every row.
    let o = CsvOptions {
        targets: Some(TargetColumns::Last(1)),
        na_values: vec!["-".into()],
        drop_missing_target: true,
        ..CsvOptions::default()
    };
    let (t2, r) = fit_with("drop-t.csv", "a,v\n1,0.5\n2,-\n3,1.5\n", &o).unwrap();
    assert_eq!((r.data.n, r.counts.dropped), (2, 1));
    let p = temp("drop-test.csv", b"a,y\n1,NA\n2,q\n");
    let again = t.read(&p, Need::Targets, None).unwrap();
    assert_eq!((again.data.n, again.counts.dropped), (1, 1));
    let all = t.read(&p, Need::Features { strict: false }, None).unwrap();
    assert_eq!((all.data.n, all.counts.dropped), (2, 0));
    std::fs::remove_file(&p).unwrap();
    assert!(t2.drop_missing_target);
    // Every row dropped: said so.
    fails(
        "drop-all.csv",
        "a,y\n1,NA\n2,\n",
        &CsvOptions {
            drop_missing_target: true,
            ..CsvOptions::default()
        },
        &["the label or target is missing on all 2 rows"],
    );
}

/// Rows of a city (text with non-ASCII letters), a number and a yes/no label.
fn cities(rows: usize) -> String {
    let mut text = String::from("ville,x,y\n");
    for i in 0..rows {
        let city = ["Zürich", "Genève", "Köln"][i % 3];
        text += &format!("{city},{},{}\n", i % 7, ["oui", "non"][i % 2]);
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
fn a_windows_1252_file_is_refused_naming_the_line_and_read_with_its_encoding() {
    let bytes = windows_1252(&cities(12));
    let p = temp("cp1252.csv", &bytes);
    let msg = Table::fit(&p, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    for want in [
        "line 2: not valid UTF-8",
        "the setting `encoding` windows-1252",
    ] {
        assert!(msg.contains(want), "want {want:?} in: {msg}");
    }
    let (utf8, want) = fit("cities-utf8.csv", &cities(12));
    for name in ["windows-1252", "latin-1", "ISO-8859-1", "cp1252"] {
        let o = CsvOptions {
            encoding: Some(name.parse().unwrap()),
            ..CsvOptions::default()
        };
        let (t, r) = Table::fit(&p, &o).unwrap();
        assert_eq!(t.columns, utf8.columns, "{name}");
        assert_eq!(r.data.x.to_f32(), want.x.to_f32(), "{name}");
        assert_eq!(t.encoding.as_deref(), Some("windows-1252"), "{name}");
        // Stored: a later file is read in it (eval, predict).
        let again = t.read(&p, Need::Targets, None).unwrap();
        assert_eq!(again.data.x.to_f32(), want.x.to_f32());
        // Given again, it must agree.
        t.check_options(&o).unwrap();
        let utf = CsvOptions {
            encoding: Some(Encoding::UTF_8),
            ..CsvOptions::default()
        };
        assert!(t.check_options(&utf).is_err());
    }
    assert!("klingon".parse::<Encoding>().is_err());
    std::fs::remove_file(&p).unwrap();
}

#[test]
fn a_utf16_file_is_read_by_its_byte_order_mark() {
    let text = cities(12);
    let (utf8, want) = fit("cities-utf8b.csv", &text);
    let le: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let be: Vec<u8> = [0xfe, 0xff]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    for (name, bytes) in [("utf16le.csv", le), ("utf16be.csv", be)] {
        let p = temp(name, &bytes);
        let (t, r) = Table::fit(&p, &CsvOptions::default()).unwrap();
        assert_eq!(t.columns, utf8.columns, "{name}");
        assert_eq!(r.data.x.to_f32(), want.x.to_f32(), "{name}");
        // The mark is the file's, not the table's: nothing stored.
        assert_eq!(t.encoding, None);
        let s = Schema::of(&p, &CsvOptions::default()).unwrap();
        assert!(s.encoding.starts_with("UTF-16"), "{name}: {}", s.encoding);
        std::fs::remove_file(&p).unwrap();
    }
}

#[test]
fn comment_lines_are_skipped_when_asked_and_the_mark_travels_with_the_table() {
    let text = "# exported by hand\na,b,y\n1,2,p\n# a \"quoted note\n3,4,q\n5,6,p\n";
    let msg = fails(
        "comment-refused.csv",
        text,
        &CsvOptions::default(),
        &["line 1 starts with '#'", "the setting `comment` '#'"],
    );
    assert!(!msg.contains("grep"), "{msg}");
    let o = CsvOptions {
        comment: Some('#'),
        ..CsvOptions::default()
    };
    let (t, r) = fit_with("comment.csv", text, &o).unwrap();
    assert_eq!(t.comment, Some('#'));
    assert!(t.header);
    assert_eq!(r.data.x.to_f32(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A later file's comment lines are skipped too, and its errors name its own lines.
    let p = temp("comment-test.csv", b"a,b,y\n# note\n7,8,q\n9,10\n");
    let msg = t.read(&p, Need::Targets, None).unwrap_err().to_string();
    assert!(msg.contains("line 4: 2 columns, expected 3"), "{msg}");
    std::fs::remove_file(&p).unwrap();
    // Space-separated files too.
    let (t, r) = fit_with(
        "comment.txt.csv",
        "a b y\n% note\n1 2 p\n3 4 q\n",
        &CsvOptions {
            comment: Some('%'),
            ..CsvOptions::default()
        },
    )
    .unwrap();
    assert_eq!((t.delimiter, r.data.n), (SPACES, 2));
    // Not the delimiter, not a letter.
    fails(
        "comment-delim.csv",
        "a;b;y\n1;2;p\n",
        &CsvOptions {
            comment: Some(';'),
            ..CsvOptions::default()
        },
        &["comment ';'", "the file's delimiter too"],
    );
    fails(
        "comment-letter.csv",
        "a,b,y\n1,2,p\n",
        &CsvOptions {
            comment: Some('c'),
            ..CsvOptions::default()
        },
        &["comment 'c'", "not a letter"],
    );
}

#[test]
fn the_schema_gives_each_column_its_role_kind_figures_missing_and_an_example() {
    let mut text = String::from("id,n,age,color,note,label\n");
    let ages: Vec<f64> = (0..30)
        .map(|i| 20.0 + ((i * 7) % 23) as f64 + 0.5)
        .collect();
    for (i, age) in ages.iter().enumerate() {
        let color = if i % 5 == 3 {
            "NA"
        } else {
            ["red", "blue"][i % 2]
        };
        text += &format!(
            "u{i},{i},{age},{color},free text {i},{}\n",
            ["yes", "no"][(i / 2) % 2]
        );
    }
    let o = CsvOptions {
        ignore: vec![Column::Name("id".into()), Column::Name("note".into())],
        ..CsvOptions::default()
    };
    let p = temp("schema.csv", text.as_bytes());
    let s = Schema::of(&p, &o).unwrap();
    std::fs::remove_file(&p).unwrap();
    let role_kind: Vec<(usize, &str, Role, ColumnKind)> = s
        .columns
        .iter()
        .map(|c| (c.position, c.name.as_str(), c.role, c.kind))
        .collect();
    assert_eq!(
        role_kind,
        [
            (1, "id", Role::Ignored, ColumnKind::Identifier),
            (2, "n", Role::Ignored, ColumnKind::Identifier),
            (3, "age", Role::Input, ColumnKind::Numeric),
            (4, "color", Role::Input, ColumnKind::Categorical),
            (5, "note", Role::Ignored, ColumnKind::Text),
            (6, "label", Role::Label, ColumnKind::Categorical),
        ]
    );
    assert_eq!(s.columns[0].why.as_deref(), Some("the setting `ignore`"));
    assert_eq!(
        s.columns[1].why.as_deref(),
        Some(LeftOut::RowNumbers.reason())
    );
    // The figures against a two-pass f64 reference.
    let n = ages.len() as f64;
    let mean = ages.iter().sum::<f64>() / n;
    let std = (ages.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
    let f = s.columns[2].figures.unwrap();
    assert_eq!((f.min, f.max), (20.5, 42.5));
    assert!(
        (f.mean - mean).abs() <= 1e-12 * mean,
        "{} vs {mean}",
        f.mean
    );
    assert!((f.std - std).abs() <= 1e-12 * std, "{} vs {std}", f.std);
    assert_eq!(s.columns[2].example.as_deref(), Some("20.5"));
    let color = &s.columns[3];
    assert_eq!(color.missing, 6);
    assert_eq!(color.levels.as_deref().unwrap(), ["blue", "red"]);
    assert_eq!(color.inputs, 2);
    assert_eq!(s.columns[5].levels.as_deref().unwrap(), ["no", "yes"]);
    assert_eq!(
        (s.delimiter, s.decimal, s.thousands, s.header, s.rows),
        (',', '.', None, true, 30)
    );
    assert_eq!((s.encoding.as_str(), s.inputs, s.outputs), ("UTF-8", 3, 2));
    assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
    // Lines: one heading, one per column, the file, the network, the note.
    let lines = s.lines(|n| format!("--{n}"));
    assert_eq!(lines.len(), 1 + 6 + 2 + 1, "{lines:#?}");
    assert!(lines[1].contains("ignored (--ignore)"), "{}", lines[1]);
    assert!(lines[2].contains("left out (row numbers)"), "{}", lines[2]);
    assert!(
        lines[7].contains("','-separated") && lines[7].contains("30 rows"),
        "{}",
        lines[7]
    );
}

#[test]
fn the_schema_of_a_refused_file_is_the_training_runs_error() {
    let text = "a,b\n1,x\n2,y\n3,\n";
    let p = temp("schema-refused.csv", text.as_bytes());
    let fit = Table::fit(&p, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    let schema = Schema::of(&p, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_file(&p).unwrap();
    assert_eq!(schema, fit);
    assert!(fit.contains("line 4"), "{fit}");
}
