//! Built-in datasets: xor (4 samples) and the embedded UCI digits with its fixed train/test split.

use flate2::read::MultiGzDecoder;
use std::io::Read;

use super::{Dataset, Split, Targets};
use crate::error::{Error, Result};
use std::path::Path;

/// 1797 rows of 64 pixels (0..16) then the label 0..9; see data/README.md.
const DIGITS_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");
/// The embedded file: rows of 64 pixels then the label, ','-separated, no header.
fn parse_digits(path: &Path) -> Result<Dataset> {
    let mut text = String::new();
    MultiGzDecoder::new(DIGITS_GZ)
        .read_to_string(&mut text)
        .map_err(|e| Error::data(path, format!("bad gzip data: {e}")))?;
    let (mut x, mut labels) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let bad = || Error::data(path, format!("line {}: not 65 numbers", i + 1));
        let cells: Vec<f32> = line
            .split(',')
            .map(|c| c.trim().parse::<f32>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        let (&label, pixels) = cells.split_last().ok_or_else(bad)?;
        if pixels.len() != DIGITS_DIM || !(0.0..10.0).contains(&label) {
            return Err(bad());
        }
        x.extend_from_slice(pixels);
        labels.push(label as u32);
    }
    let n = labels.len();
    Dataset::new(
        "digits",
        x,
        n,
        DIGITS_DIM,
        Targets::Classes {
            labels,
            n_classes: 10,
        },
    )
}

/// numpy.random.RandomState(0).permutation(1797): the benchmark reference's split.
const DIGITS_SPLIT: &str = include_str!("../../data/digits-split.txt");
const DIGITS_N: usize = 1797;
const DIGITS_TRAIN: usize = 1437;
const DIGITS_DIM: usize = 64;

/// x is (4, 2), targets (4, 1): the truth table of exclusive or.
pub(super) fn xor(targets: Option<usize>) -> Result<Split> {
    if !matches!(targets, None | Some(1)) {
        return Err(Error::usage("xor has exactly one target column"));
    }
    let x = vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let values = vec![0.0, 1.0, 1.0, 0.0];
    let train = Dataset::new("xor", x, 4, 2, Targets::Values { values, width: 1 })?;
    Ok(Split::new(train, None))
}

/// Train x is (1437, 64), test x (360, 64), pixels scaled to [0, 1], 10 classes.
pub(super) fn digits(targets: Option<usize>) -> Result<Split> {
    if targets.is_some() {
        return Err(Error::usage(
            "digits has class labels; target columns apply only to CSV files",
        ));
    }
    let path = Path::new("data/digits.csv.gz (embedded)");
    let mut all = parse_digits(path)?;
    if (all.n, all.dim, all.target_width()) != (DIGITS_N, DIGITS_DIM, 10) {
        return Err(Error::data(
            path,
            format!(
                "{} rows of {} pixels, {} classes; expected 1797, 64, 10",
                all.n,
                all.dim,
                all.target_width()
            ),
        ));
    }
    // Pixels are integers 0..16: keep them as bytes, scaled by 1/16 (exact in f32) when read.
    if let super::Inputs::F32(v) = &all.x {
        all.x = super::Inputs::U8 {
            data: v.iter().map(|&p| p.clamp(0.0, 16.0) as u8).collect(),
            scale: 1.0 / 16.0,
        };
    }
    let perm = digits_perm()?;
    let (train, test) = perm.split_at(DIGITS_TRAIN);
    let mut train = all.subset(train);
    let mut test = all.subset(test);
    train.name = "digits (train)".into();
    test.name = "digits (test)".into();
    Ok(Split::new(train, Some(test)))
}

/// The embedded permutation of 0..1797, checked to be one.
fn digits_perm() -> Result<Vec<usize>> {
    let path = Path::new("data/digits-split.txt (embedded)");
    let perm = DIGITS_SPLIT
        .split_whitespace()
        .map(|s| s.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::data(path, format!("not an index: {e}")))?;
    let mut seen = vec![false; DIGITS_N];
    for &i in &perm {
        if i >= DIGITS_N || std::mem::replace(&mut seen[i], true) {
            return Err(Error::data(
                path,
                format!("index {i} out of range or repeated"),
            ));
        }
    }
    if perm.len() != DIGITS_N {
        return Err(Error::data(
            path,
            format!("{} indices, expected {DIGITS_N}", perm.len()),
        ));
    }
    Ok(perm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(d: &Dataset) -> (&[u32], usize) {
        match &d.targets {
            Targets::Classes { labels, n_classes } => (labels, *n_classes),
            Targets::Values { .. } => panic!("expected classes"),
        }
    }

    #[test]
    fn digits_split_is_a_permutation_matching_numpy() {
        let perm = digits_perm().unwrap();
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().copied().eq(0..DIGITS_N));
        // numpy.random.RandomState(0).permutation(1797)[:3], [1437:1440], [-3:]
        assert_eq!(perm[..3], [1081, 1707, 927]);
        assert_eq!(perm[1437..1440], [1442, 455, 584]);
        assert_eq!(perm[1794..], [1653, 559, 684]);
    }

    #[test]
    fn digits_loads_1437_train_360_test_rows_scaled_to_unit_range() {
        let split = digits(None).unwrap();
        let test = split.test.unwrap();
        let train = split.train;
        assert_eq!(
            (train.n, train.dim, train.name.as_str()),
            (1437, 64, "digits (train)")
        );
        assert_eq!(
            (test.n, test.dim, test.name.as_str()),
            (360, 64, "digits (test)")
        );
        for d in [&train, &test] {
            let x = d.x.to_f32();
            assert_eq!(x.len(), d.n * 64);
            assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert!(x.contains(&1.0));
            let (labels, n_classes) = classes(d);
            assert_eq!(n_classes, 10);
            let mut counts = [0usize; 10];
            labels.iter().for_each(|&l| counts[l as usize] += 1);
            // About a tenth each: 1797 rows hold 174..183 of every digit.
            let (lo, hi) = (d.n / 10 * 2 / 3, d.n / 10 * 4 / 3);
            assert!(
                counts.iter().all(|&c| (lo..=hi).contains(&c)),
                "{} counts {counts:?}",
                d.name
            );
        }
        // Row 0 of the file (a 0, first pixels 0,0,5,13) is train row perm^-1(0).
        let perm = digits_perm().unwrap();
        let at = perm.iter().position(|&i| i == 0).unwrap();
        let mut row = [0.0; 64];
        if at < DIGITS_TRAIN {
            train.x.copy_row(at, &mut row);
        } else {
            test.x.copy_row(at - DIGITS_TRAIN, &mut row);
        }
        assert_eq!(row[..4], [0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
        assert!(digits(Some(1)).is_err());
    }

    #[test]
    fn xor_is_the_truth_table() {
        let split = xor(None).unwrap();
        assert!(split.test.is_none());
        let d = split.train;
        assert_eq!(
            (d.n, d.dim, d.target_width(), d.name.as_str()),
            (4, 2, 1, "xor")
        );
        let mut y = [0.0];
        let x = d.x.to_f32();
        for i in 0..4 {
            d.target_row(i, &mut y);
            let (a, b) = (x[2 * i], x[2 * i + 1]);
            assert_eq!(y[0], if a != b { 1.0 } else { 0.0 });
        }
        assert!(xor(Some(1)).is_ok());
        assert!(xor(Some(2)).is_err());
    }
}
