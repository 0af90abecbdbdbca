//! The CSV reader: input = a mode byte, then the file's bytes. Mode bits 0-2: 0-3 class label
//! in the last column, 4-7 `targets` 0-3 (last columns); bit 3: the file is named .csv.gz;
//! bits 4-5: the delimiter guessed, or given as ';', tab or spaces; bit 6: missing = error;
//! bit 7: the label by name "y" instead. What `Table::fit` accepts must hold together: the
//! shapes, a table that validates and survives JSON, and the same rows when the file is read
//! again with the table (as a test file), and as predict reads it.
//! The reader takes a path, so the bytes go through a file in the temp dir (TMPDIR=/dev/shm
//! keeps it in memory).
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wgtrain::data::{Column, CsvOptions, Missing, Need, Table, TargetColumns};

#[global_allocator]
static ALLOC: wgtrain_fuzz::Capped = wgtrain_fuzz::Capped;

static PATHS: LazyLock<[PathBuf; 2]> = LazyLock::new(|| {
    let base = std::env::temp_dir().join(format!("wgtrain-fuzz-{}", std::process::id()));
    [base.with_extension("csv"), base.with_extension("csv.gz")]
});

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    let targets = match mode & 7 {
        k @ 4.. => Some(TargetColumns::Last(k as usize - 4)),
        _ => None,
    };
    let o = CsvOptions {
        delimiter: [None, Some(';'), Some('\t'), Some(' ')][(mode >> 4 & 3) as usize],
        missing: if mode & 64 != 0 {
            Missing::Error
        } else {
            Missing::Mean
        },
        label: (mode & 128 != 0 && targets.is_none()).then(|| Column::Name("y".into())),
        targets,
        ..CsvOptions::default()
    };
    let path = &PATHS[(mode >> 3 & 1) as usize];
    std::fs::write(path, text).expect("temp dir writable");
    let Ok((table, rows)) = Table::fit(path, &o) else {
        return;
    };
    let d = &rows.data;
    assert!(d.n >= 1 && d.dim >= 1);
    assert_eq!(d.x.len(), d.n * d.dim);
    assert_eq!((d.dim, d.target_width()), (table.inputs(), table.outputs()));
    table.validate().expect("a fitted table validates");
    let json = serde_json::to_string(&table).expect("a table encodes");
    assert_eq!(
        serde_json::from_str::<Table>(&json).expect("and decodes"),
        table
    );
    let again = table
        .read(path, Need::Targets, None)
        .expect("the training file reads again");
    assert_eq!(again.data.x, d.x);
    let features = table
        .read(path, Need::Features { strict: true }, None)
        .expect("and as predict reads it");
    assert_eq!(features.data.x, d.x);
});
