//! The CSV loader: input = a mode byte (bits 0-2: 0-3 class labels, 4-7 `--targets` 0-3;
//! bit 3: the file is named .csv.gz), then the file's bytes. The parser is private to the
//! library, so the bytes go through a file in the temp dir (TMPDIR=/dev/shm keeps it in memory).
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

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
        k @ 4.. => Some(k as usize - 4),
        _ => None,
    };
    let path = &PATHS[(mode >> 3 & 1) as usize];
    std::fs::write(path, text).expect("temp dir writable");
    if let Ok(d) = wgtrain::data::load_csv(path, targets) {
        assert!(d.n >= 1 && d.dim >= 1);
        assert_eq!(d.x.len(), d.n * d.dim);
    }
});
