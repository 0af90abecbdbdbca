//! The IDX loader on four files as stored: input = a flags byte (bit i: file i is gzipped),
//! three u16 little-endian lengths (train images, train labels, test images), then the files'
//! bytes; the test labels take the rest.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: wgtrain_fuzz::Capped = wgtrain_fuzz::Capped;

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut lens = [0usize; 3];
    for len in &mut lens {
        let Some((l, tail)) = rest.split_first_chunk::<2>() else {
            return;
        };
        *len = u16::from_le_bytes(*l) as usize;
        rest = tail;
    }
    let mut parts: Vec<&[u8]> = Vec::with_capacity(4);
    for len in lens {
        let (part, tail) = rest.split_at(len.min(rest.len()));
        parts.push(part);
        rest = tail;
    }
    parts.push(rest);
    let paths: Vec<PathBuf> = FILES
        .iter()
        .enumerate()
        .map(|(i, f)| match flags >> i & 1 {
            1 => PathBuf::from(format!("{f}.gz")),
            _ => PathBuf::from(f),
        })
        .collect();
    let file = |i: usize| (paths[i].as_path(), parts[i]);
    if let Ok(split) =
        wgtrain::data::idx::load_bytes("fuzz", [file(0), file(1), file(2), file(3)], None)
    {
        let test = split.test.expect("IDX sets have a test split");
        assert_eq!(split.train.x.len(), split.train.n * split.train.dim);
        assert_eq!(test.x.len(), test.n * test.dim);
        assert_eq!(split.train.dim, test.dim);
    }
});
