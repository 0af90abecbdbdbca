//! Datasets: built-in sets (xor, digits), IDX (MNIST family) and CSV files, one input matrix
//! each, kept as bytes where that is the data's form.
//!
//! One file past 600 lines: `Dataset` and its checks (what every path trusts), its hold-out
//! (per class), the source dispatcher `load_source`, and their tests; each format's reader is
//! its own module.

mod builtin;
pub mod idx;
pub mod standardize;
pub mod table;

pub use table::{
    Column, Counts, CsvOptions, CsvText, Encoding, Kept, LeftOut, Missing, Need, Schema, Table,
    TargetColumns, Thousands, is_text,
};

use crate::error::{Error, Result};
use std::path::Path;

/// A dataset's targets, one per sample: class labels or rows of real values.
#[derive(Clone, Debug)]
pub enum Targets {
    /// Class indices in 0..n_classes (cross-entropy, or one-hot for mse/bce).
    Classes {
        /// One label per sample, each below `n_classes`.
        labels: Vec<u32>,
        /// Number of classes; a network trained on them has as many outputs.
        n_classes: usize,
    },
    /// Real-valued targets, `width` per sample, row-major.
    Values {
        /// The targets, (n, width) row-major.
        values: Vec<f32>,
        /// Targets per sample; a network trained on them has as many outputs.
        width: usize,
    },
}

/// An input matrix, (n, dim) row-major: f32 values, or bytes scaled on the fly (images keep
/// their u8 form: a quarter of the memory, and what the GPU path uploads).
#[derive(Clone, Debug, PartialEq)]
pub enum Inputs {
    /// Values as they are, `n * dim` f32.
    F32(Vec<f32>),
    /// Value i is `data[i] as f32 * scale`.
    U8 {
        /// The raw bytes, `n * dim`.
        data: Vec<u8>,
        /// Factor from byte to value (1/255 for IDX images, 1/16 for digits).
        scale: f32,
    },
    /// Value i is `data[i] as f32 * scale[j] + offset[j]`, j = i % dim (scale.len() = dim):
    /// bytes standardised per feature (`--standardize` on images) without widening them.
    U8Affine {
        /// The raw bytes, `n * dim`.
        data: Vec<u8>,
        /// Per-feature factor, `dim` values.
        scale: Vec<f32>,
        /// Per-feature offset added after scaling, `dim` values.
        offset: Vec<f32>,
    },
}

impl Inputs {
    /// Number of values, `n * dim`.
    pub fn len(&self) -> usize {
        match self {
            Inputs::F32(v) => v.len(),
            Inputs::U8 { data, .. } | Inputs::U8Affine { data, .. } => data.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes row `r` of width `out.len()` into `out`.
    pub fn copy_row(&self, r: usize, out: &mut [f32]) {
        let d = out.len();
        match self {
            Inputs::F32(v) => out.copy_from_slice(&v[r * d..(r + 1) * d]),
            Inputs::U8 { data, scale } => {
                for (o, &b) in out.iter_mut().zip(&data[r * d..(r + 1) * d]) {
                    *o = b as f32 * scale;
                }
            }
            Inputs::U8Affine {
                data,
                scale,
                offset,
            } => {
                let bytes = &data[r * d..(r + 1) * d];
                for (((o, &b), s), a) in out.iter_mut().zip(bytes).zip(scale).zip(offset) {
                    *o = b as f32 * s + a;
                }
            }
        }
    }

    /// Hints the CPU to bring row `r` of width `dim` into cache (a no-op where there is no
    /// prefetch instruction): the trainer asks for the next batch's random rows ahead of time.
    pub fn prefetch_row(&self, r: usize, dim: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let (ptr, bytes) = match self {
                Inputs::F32(v) => (v[r * dim..].as_ptr() as *const i8, dim * 4),
                Inputs::U8 { data, .. } | Inputs::U8Affine { data, .. } => {
                    (data[r * dim..].as_ptr() as *const i8, dim)
                }
            };
            for off in (0..bytes).step_by(64) {
                // SAFETY: a prefetch never faults and reads nothing; the address is in the row.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.wrapping_add(off)) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (r, dim);
    }

    /// The first value (row, column, value) of the (n, `dim`) matrix that is not finite as the
    /// network sees it (bytes after their scale and offset); None when all are. One pass over
    /// f32 values; bytes are checked per column at their extremes (0 and 255, between which
    /// the value is monotonic), and only a column that can overflow is searched row by row.
    pub fn first_non_finite(&self, dim: usize) -> Option<(usize, usize, f32)> {
        let dim = dim.max(1);
        let safe = match self {
            Inputs::F32(v) => {
                let i = v.iter().position(|v| !v.is_finite())?;
                return Some((i / dim, i % dim, v[i]));
            }
            Inputs::U8 { scale, .. } => (255.0 * scale).is_finite() && scale.is_finite(),
            Inputs::U8Affine { scale, offset, .. } => scale
                .iter()
                .zip(offset)
                .all(|(s, a)| (255.0 * s + a).is_finite() && (0.0 * s + a).is_finite()),
        };
        if safe {
            return None;
        }
        let mut row = vec![0f32; dim];
        (0..self.len() / dim).find_map(|r| {
            self.copy_row(r, &mut row);
            let c = row.iter().position(|v| !v.is_finite())?;
            Some((r, c, row[c]))
        })
    }

    /// What is wrong when byte inputs standardised per feature (`U8Affine`) do not hold one
    /// scale and one offset for each of `dim` inputs; None when they do, or for other inputs.
    pub(crate) fn scales_misfit(&self, dim: usize) -> Option<String> {
        match self {
            Inputs::U8Affine { scale, offset, .. } if scale.len() != dim || offset.len() != dim => {
                Some(format!(
                    "{} scales and {} offsets for {dim} inputs",
                    scale.len(),
                    offset.len()
                ))
            }
            _ => None,
        }
    }

    /// All values as f32 (a copy for bytes).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Inputs::F32(v) => v.clone(),
            Inputs::U8 { data, scale } => data.iter().map(|&b| b as f32 * scale).collect(),
            Inputs::U8Affine { scale, .. } => {
                let mut out = vec![0f32; self.len()];
                for (r, row) in out.chunks_exact_mut(scale.len().max(1)).enumerate() {
                    self.copy_row(r, row);
                }
                out
            }
        }
    }

    /// The rows `idx` in that order.
    fn rows(&self, idx: &[usize], dim: usize) -> Inputs {
        let pick = |data: &[u8]| -> Vec<u8> {
            idx.iter()
                .flat_map(|&i| &data[i * dim..(i + 1) * dim])
                .copied()
                .collect()
        };
        match self {
            Inputs::F32(v) => Inputs::F32(
                idx.iter()
                    .flat_map(|&i| &v[i * dim..(i + 1) * dim])
                    .copied()
                    .collect(),
            ),
            Inputs::U8 { data, scale } => Inputs::U8 {
                data: pick(data),
                scale: *scale,
            },
            Inputs::U8Affine {
                data,
                scale,
                offset,
            } => Inputs::U8Affine {
                data: pick(data),
                scale: scale.clone(),
                offset: offset.clone(),
            },
        }
    }
}

/// Samples for training or evaluation: inputs `x` (n, dim) and one target per row. `new`
/// checks the parts; a dataset built through the public fields is checked by `check`, which
/// `fit`, `Model::evaluate` and `evaluate::evaluate` call before they use it.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// "digits (train)", "xor", "foo.csv".
    pub name: String,
    /// Inputs, (n, dim) row-major.
    pub x: Inputs,
    /// Number of samples (rows).
    pub n: usize,
    /// Inputs per sample: the network's input size.
    pub dim: usize,
    /// Class labels or real-valued targets, one per sample.
    pub targets: Targets,
}

impl Dataset {
    /// Checks that the parts fit: x is (n, dim), labels (n) below n_classes, values (n, width),
    /// every number finite, dim and the target width at least 1.
    pub fn new(
        name: impl Into<String>,
        x: Vec<f32>,
        n: usize,
        dim: usize,
        targets: Targets,
    ) -> Result<Dataset> {
        Self::with_inputs(name, Inputs::F32(x), n, dim, targets)
    }

    /// As `new`, for inputs of any form.
    pub fn with_inputs(
        name: impl Into<String>,
        x: Inputs,
        n: usize,
        dim: usize,
        targets: Targets,
    ) -> Result<Dataset> {
        let d = Dataset {
            name: name.into(),
            x,
            n,
            dim,
            targets,
        };
        d.check()?;
        Ok(d)
    }

    /// Checks what `new` checks, for a dataset however it was built (its fields are public):
    /// x is (n, dim) with dim >= 1 (and a byte matrix's scales fit dim), every input finite as
    /// the network sees it, one label per row below `n_classes` (at least 1, at most
    /// `model::MAX_PARAMS`: no network has more outputs), or (n, width)
    /// finite target values with width >= 1. The error is an `Error::InvalidData` naming the
    /// dataset and, for a value, its row and column. One pass over the inputs; the session's
    /// `open` (so `fit`), `Model::evaluate` and `evaluate::evaluate` call it on what they are
    /// given, so a dataset that does not fit is an error there, never a panic or a silent run.
    pub fn check(&self) -> Result<()> {
        let (name, n, dim) = (self.name.as_str(), self.n, self.dim);
        let bad = |row, column, msg: String| Err(Error::invalid_data(name, row, column, msg));
        if dim == 0 || n.checked_mul(dim) != Some(self.x.len()) {
            return bad(
                None,
                None,
                format!(
                    "x has {} values, expected n * dim = {n} * {dim} with dim >= 1",
                    self.x.len()
                ),
            );
        }
        if let Some(msg) = self.x.scales_misfit(dim) {
            return bad(None, None, msg);
        }
        if let Some((r, c, v)) = self.x.first_non_finite(dim) {
            return bad(
                Some(r),
                Some(c),
                format!("row {r}, column {c} (0-based) of x is {v}: inputs must be finite"),
            );
        }
        match &self.targets {
            Targets::Classes { labels, n_classes } => {
                if labels.len() != n || *n_classes == 0 {
                    return bad(
                        None,
                        None,
                        format!(
                            "{} labels for {n} rows, {n_classes} classes (need one label a row, at least one class)",
                            labels.len()
                        ),
                    );
                }
                if *n_classes > crate::model::MAX_PARAMS {
                    return bad(
                        None,
                        None,
                        format!(
                            "n_classes = {n_classes} is over {}, the most parameters (so outputs) a network may have",
                            crate::model::MAX_PARAMS
                        ),
                    );
                }
                if let Some(r) = labels.iter().position(|&l| l as usize >= *n_classes) {
                    return bad(
                        Some(r),
                        None,
                        format!(
                            "the label of row {r} (0-based) is {}, not below n_classes = {n_classes}",
                            labels[r]
                        ),
                    );
                }
            }
            Targets::Values { values, width } => {
                if *width == 0 || n.checked_mul(*width) != Some(values.len()) {
                    return bad(
                        None,
                        None,
                        format!(
                            "{} target values, expected n * width = {n} * {width} with width >= 1",
                            values.len()
                        ),
                    );
                }
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    let (r, c) = (i / width, i % width);
                    return bad(
                        Some(r),
                        Some(c),
                        format!(
                            "row {r}, target column {c} (0-based) is {}: targets must be finite",
                            values[i]
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    /// n_classes for Classes, width for Values: the network's output size.
    pub fn target_width(&self) -> usize {
        match &self.targets {
            Targets::Classes { n_classes, .. } => *n_classes,
            Targets::Values { width, .. } => *width,
        }
    }

    /// Every target row, dense (one-hot for classes): (n, target_width). `n · target_width`
    /// f32s: for a large set, `memory::check` them first, as `fit` does.
    pub fn dense_targets(&self) -> Vec<f32> {
        let w = self.target_width();
        let mut y = vec![0.0; self.n * w];
        for i in 0..self.n {
            self.target_row(i, &mut y[i * w..(i + 1) * w]);
        }
        y
    }

    /// Writes sample i's dense target row (one-hot for classes) into out (len target_width()).
    /// Panics if i >= n or out has the wrong length.
    pub fn target_row(&self, i: usize, out: &mut [f32]) {
        assert_eq!(out.len(), self.target_width(), "target_row: out length");
        match &self.targets {
            Targets::Classes { labels, .. } => {
                out.fill(0.0);
                out[labels[i] as usize] = 1.0;
            }
            Targets::Values { values, width } => {
                out.copy_from_slice(&values[i * width..(i + 1) * width]);
            }
        }
    }

    /// The rows `idx`, in that order, as a new dataset (same name). Panics if an index is >= n.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let x = self.x.rows(idx, self.dim);
        let targets = match &self.targets {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: idx.iter().map(|&i| labels[i]).collect(),
                n_classes: *n_classes,
            },
            Targets::Values { values, width } => Targets::Values {
                values: idx
                    .iter()
                    .flat_map(|&i| &values[i * width..(i + 1) * width])
                    .copied()
                    .collect(),
                width: *width,
            },
        };
        Dataset {
            name: self.name.clone(),
            x,
            n: idx.len(),
            dim: self.dim,
            targets,
        }
    }
}

impl Dataset {
    /// Holds out `fraction` of the rows (at least one, at most n - 1), chosen by a seeded shuffle
    /// and, for class targets, per class (`stratified`): each class gives its share of the
    /// held-out rows (largest remainders round), and a class of one row stays in training.
    /// Returns (the rest, the held-out rows).
    pub fn hold_out(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        self.hold_out_as(fraction, seed, true)
    }

    /// `hold_out`, per class only when `stratify` (runs saved before hold-outs were drawn per
    /// class resume with the plain shuffle they trained with). The dataset is checked first
    /// (`check`): its fields are public.
    pub fn hold_out_as(
        &self,
        fraction: f64,
        seed: u64,
        stratify: bool,
    ) -> Result<(Dataset, Dataset)> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::invalid(
                "valid_split",
                format!("must be between 0 and 1 (exclusive), got {fraction}"),
            ));
        }
        self.check()?;
        if self.n < 2 {
            return Err(Error::usage(format!(
                "{}: {} rows cannot be split into training and validation",
                self.name, self.n
            )));
        }
        let k = ((self.n as f64 * fraction).round() as usize).clamp(1, self.n - 1);
        let mut idx: Vec<usize> = (0..self.n).collect();
        crate::rng::Rng::new(seed ^ 0x7a11d).shuffle(&mut idx);
        let held = match (&self.targets, stratify) {
            (Targets::Classes { labels, n_classes }, true) => {
                // Four numbers a class: its rows, its exact share, its quota, its place.
                crate::memory::check(
                    &format!(
                        "holding out {}'s rows per class ({n_classes} classes)",
                        self.name
                    ),
                    (*n_classes as u64).saturating_mul(32),
                )?;
                per_class(&idx, labels, *n_classes, k)
            }
            _ => None,
        };
        let (held, rest): (Vec<usize>, Vec<usize>) = match held {
            Some(take) => idx.iter().copied().partition(|&i| take[i]),
            None => (idx[..k].to_vec(), idx[k..].to_vec()),
        };
        let mut valid = self.subset(&held);
        valid.name = format!("{} (validation)", self.name);
        Ok((self.subset(&rest), valid))
    }
}

/// Which rows to hold out, `k` in all, drawn per class: class c gives `k·n_c/n` rows rounded by
/// largest remainder (ties: the lower class), at most `n_c - 1`, its first ones in the shuffled
/// order `idx`. None when no class can give a row (every class a single row).
fn per_class(idx: &[usize], labels: &[u32], classes: usize, k: usize) -> Option<Vec<bool>> {
    let n = labels.len();
    let mut count = vec![0usize; classes];
    for &l in labels {
        count[l as usize] += 1;
    }
    let cap = |c: usize| count[c].saturating_sub(1);
    let exact: Vec<f64> = count.iter().map(|&c| (k * c) as f64 / n as f64).collect();
    let mut quota: Vec<usize> = (0..classes)
        .map(|c| (exact[c] as usize).min(cap(c)))
        .collect();
    let mut order: Vec<usize> = (0..classes).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (exact[a] - quota[a] as f64, exact[b] - quota[b] as f64);
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut left = k.saturating_sub(quota.iter().sum());
    // Hand out what rounding down left, one row per class in turn, while any class has room.
    while left > 0 {
        let before = left;
        for &c in &order {
            if left > 0 && quota[c] < cap(c) {
                quota[c] += 1;
                left -= 1;
            }
        }
        if left == before {
            break;
        }
    }
    if quota.iter().sum::<usize>() == 0 {
        return None;
    }
    let mut take = vec![false; n];
    for &i in idx {
        let c = labels[i] as usize;
        if quota[c] > 0 {
            quota[c] -= 1;
            take[i] = true;
        }
    }
    Some(take)
}

/// What `load` reads from a source: the training set and, where the source has one (the IDX
/// sets, digits), its test set; for a CSV file, the schema fitted to it.
#[derive(Clone, Debug)]
pub struct Split {
    /// The rows to train on (validation is held out of them later, when asked for).
    pub train: Dataset,
    /// The source's own test set; None for CSV files and xor.
    pub test: Option<Dataset>,
    /// The schema a CSV file was read with, which reads every other file of the run (and is
    /// stored in its checkpoints); None for the other sources.
    pub table: Option<Table>,
    /// Missing cells imputed and unseen categories in `train`.
    pub counts: Counts,
}

impl Split {
    /// A split without a table.
    pub fn new(train: Dataset, test: Option<Dataset>) -> Split {
        Split {
            train,
            test,
            table: None,
            counts: Counts::default(),
        }
    }
}

/// Whether `source` names a CSV file (.csv, .tsv, or either gzipped as .csv.gz, .tsv.gz; any
/// case): a tab-separated export (R's `write.table(sep = "\t")`, pandas' `sep="\t"`) is read as
/// a CSV file is, its delimiter found the same way.
pub fn is_csv(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    [".csv", ".csv.gz", ".tsv", ".tsv.gz"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Reads a CSV file (gunzipped when the name ends in .gz) as found: `targets` None = the last
/// column is the class label; Some(k) = the last k columns are real-valued targets.
pub fn load_csv(path: &Path, targets: Option<usize>) -> Result<Dataset> {
    let o = CsvOptions {
        targets: targets.map(TargetColumns::Last),
        ..CsvOptions::default()
    };
    Ok(Table::fit(path, &o)?.1.data)
}

/// `source`: "xor", "digits", "mnist", "fashion-mnist", a directory of IDX files, or a path to
/// a .csv (or .csv.gz) file.
/// `targets`: None = last column is an integer class label; Some(k) = last k columns are real targets.
pub fn load(source: &str, targets: Option<usize>) -> Result<Split> {
    load_with(source, targets, None)
}

/// As `load`, with `label_column` (1-based) naming a CSV file's class-label column when it is
/// not the last one.
pub fn load_with(
    source: &str,
    targets: Option<usize>,
    label_column: Option<usize>,
) -> Result<Split> {
    load_from(source, targets, label_column, &idx::default_roots())
}

/// As `load_with`, looking for named IDX sets (mnist, fashion-mnist, kmnist) in `ROOT/NAME` for
/// each of `roots`, in order.
pub fn load_from(
    source: &str,
    targets: Option<usize>,
    label_column: Option<usize>,
    roots: &[std::path::PathBuf],
) -> Result<Split> {
    let o = CsvOptions {
        targets: targets.map(TargetColumns::Last),
        label: label_column.map(Column::Number),
        ..CsvOptions::default()
    };
    load_source(source, &o, roots, None)
}

/// The built-in and named datasets: what a source names when it is not a path.
const NAMED: [&str; 5] = ["xor", "digits", "mnist", "fashion-mnist", "kmnist"];

/// A source that names a file or folder rather than a dataset: it has a folder separator or an
/// extension (`images-idx3-ubyte.gz`, `data/train`).
fn looks_like_a_path(source: &str) -> bool {
    !NAMED.contains(&source)
        && (source.contains(['/', std::path::MAIN_SEPARATOR])
            || Path::new(source).extension().is_some())
}

/// A training source as a checkpoint stores it: an existing file or folder by its absolute
/// path, so a run continued from another folder (`--init`, `--resume`) reads the same file;
/// a dataset's name as it is.
pub fn source_to_store(source: &str) -> String {
    if NAMED.contains(&source) {
        return source.to_string();
    }
    std::fs::canonicalize(source)
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| source.to_string())
}

/// The training source a checkpoint at `checkpoint` stored, resolved the same from any folder:
/// a name or an absolute path as it is; a relative path (a checkpoint from before paths were
/// stored absolute) relative to the checkpoint's own folder when it is there, else as given
/// (relative to the working folder), which a missing file then reports.
pub fn stored_source(stored: &str, checkpoint: &Path) -> String {
    let path = Path::new(stored);
    if NAMED.contains(&stored) || path.is_absolute() {
        return stored.to_string();
    }
    let beside = checkpoint.parent().map(|d| d.join(path));
    match beside {
        Some(b) if std::fs::symlink_metadata(&b).is_ok() => b.to_string_lossy().into_owned(),
        _ => stored.to_string(),
    }
}

/// Whether `source` names an IDX dataset: a named one, or a folder.
pub(crate) fn is_idx(source: &str) -> bool {
    matches!(source, "mnist" | "fashion-mnist" | "kmnist")
        || (!is_csv(source) && Path::new(source).is_dir())
}

/// Reads `source` (as `load_from`); a CSV file as the options `csv` say, the others refusing
/// any option but `targets` (k last columns, for xor and digits); an IDX set with `classes`
/// classes when given (refused for the other sources).
pub fn load_source(
    source: &str,
    csv: &CsvOptions,
    roots: &[std::path::PathBuf],
    classes: Option<usize>,
) -> Result<Split> {
    if classes.is_some() && !is_idx(source) {
        return Err(Error::invalid(
            "classes",
            "applies only to IDX datasets (a CSV label's classes are the values it holds)",
        ));
    }
    if is_csv(source) {
        let (table, rows) = Table::fit(Path::new(source), csv)?;
        return Ok(Split {
            train: rows.data,
            test: None,
            table: Some(table),
            counts: rows.counts,
        });
    }
    let only_csv = |what: &'static str, given: bool| {
        if given {
            Err(Error::invalid(what, "applies only to CSV files"))
        } else {
            Ok(())
        }
    };
    only_csv("label", csv.label.is_some())?;
    only_csv("ignore", !csv.ignore.is_empty())?;
    only_csv("delimiter", csv.delimiter.is_some())?;
    only_csv("decimal", csv.decimal.is_some())?;
    only_csv("missing", csv.missing != Missing::Mean)?;
    only_csv("thousands", csv.thousands != table::Thousands::Detect)?;
    only_csv("na_values", !csv.na_values.is_empty())?;
    only_csv("drop_missing_target", csv.drop_missing_target)?;
    only_csv("encoding", csv.encoding.is_some())?;
    only_csv("comment", csv.comment.is_some())?;
    only_csv("features", !csv.features.is_empty())?;
    only_csv("many_classes", csv.many_classes)?;
    only_csv("day_first", csv.day_first)?;
    let targets = match &csv.targets {
        None => None,
        Some(TargetColumns::Last(k)) => Some(*k),
        Some(TargetColumns::Columns(_)) => {
            return Err(Error::invalid(
                "targets",
                "names columns, which only CSV files have; give a count",
            ));
        }
    };
    let idx_only = |split: Result<Split>| {
        if targets.is_some() {
            return Err(Error::invalid(
                "targets",
                "applies only to CSV files: IDX datasets have class labels",
            ));
        }
        split
    };
    match source {
        "xor" => builtin::xor(targets),
        "digits" => builtin::digits(targets),
        "mnist" | "fashion-mnist" | "kmnist" => idx_only(idx::load_named(source, roots, classes)),
        _ if Path::new(source).is_dir() => idx_only(idx::load_dir(Path::new(source), classes)),
        _ if looks_like_a_path(source) && std::fs::symlink_metadata(source).is_err() => {
            Err(Error::data(source, "no such file or folder"))
        }
        _ if is_workbook(source) => Err(Error::data(
            source,
            "a spreadsheet workbook, not a CSV file: save the sheet as CSV (in Excel: Save As, \"CSV UTF-8 (Comma delimited)\"), then give that file",
        )),
        _ => Err(Error::usage(format!(
            "unknown dataset {source:?}: expected xor, digits, mnist, fashion-mnist, a directory of IDX files, or a path to a .csv or .tsv file (or .csv.gz, .tsv.gz)"
        ))),
    }
}

/// Whether `source` names a spreadsheet workbook (.xlsx, .xlsm, .xls, .ods), by its extension.
fn is_workbook(source: &str) -> bool {
    Path::new(source).extension().is_some_and(|e| {
        ["xlsx", "xlsm", "xls", "ods"]
            .iter()
            .any(|w| e.eq_ignore_ascii_case(w))
    })
}

#[cfg(test)]
mod tests {
    use super::{Dataset, Targets};

    /// 300 rows: 200 of class 0, 81 of class 1, 18 of class 2 and one of class 3.
    fn unbalanced() -> Dataset {
        let labels: Vec<u32> = (0..300u32)
            .map(|i| match i % 100 {
                _ if i == 299 => 3,
                0..=5 if i < 285 => 2,
                r if r < 33 => 1,
                _ => 0,
            })
            .collect();
        let x: Vec<f32> = (0..300).map(|i| i as f32).collect();
        let targets = Targets::Classes {
            labels,
            n_classes: 4,
        };
        Dataset::new("unbalanced", x, 300, 1, targets).unwrap()
    }

    fn counts(d: &Dataset) -> Vec<usize> {
        let Targets::Classes { labels, .. } = &d.targets else {
            panic!("class targets")
        };
        (0..4)
            .map(|c| labels.iter().filter(|&&l| l == c).count())
            .collect()
    }

    #[test]
    fn a_hold_out_draws_each_class_its_share_and_leaves_a_single_row_in_training() {
        let d = unbalanced();
        let all = counts(&d);
        assert_eq!(all, [200, 81, 18, 1]);
        for (fraction, seed) in [(0.2, 1), (0.1, 7), (0.5, 3), (0.01, 9)] {
            let (train, valid) = d.hold_out(fraction, seed).unwrap();
            let k = (300.0 * fraction).round() as usize;
            let (t, v) = (counts(&train), counts(&valid));
            assert_eq!(valid.n, k, "fraction {fraction}");
            for c in 0..4 {
                assert_eq!(t[c] + v[c], all[c]);
                let share = k as f64 * all[c] as f64 / 300.0;
                if all[c] > 1 {
                    // Largest remainders: within one row of the exact share.
                    assert!(
                        (v[c] as f64 - share).abs() < 1.0,
                        "class {c}: {v:?} for {share}"
                    );
                }
            }
            assert_eq!(v[3], 0, "the single row of class 3 stays in training");
            // Every row once.
            let mut xs: Vec<f32> = train.x.to_f32();
            xs.extend(valid.x.to_f32());
            xs.sort_by(f32::total_cmp);
            assert_eq!(xs, (0..300).map(|i| i as f32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_plain_hold_out_is_the_seeded_shuffles_first_rows_as_before() {
        let d = unbalanced();
        let (_, valid) = d.hold_out_as(0.2, 5, false).unwrap();
        let mut idx: Vec<usize> = (0..300).collect();
        crate::rng::Rng::new(5 ^ 0x7a11d).shuffle(&mut idx);
        let want: Vec<f32> = idx[..60].iter().map(|&i| i as f32).collect();
        assert_eq!(valid.x.to_f32(), want);
        // Stratified draws differ from it on this set: some class is off its share there.
        let (_, strat) = d.hold_out(0.2, 5).unwrap();
        assert_ne!(strat.x.to_f32(), want);
    }

    #[test]
    fn tab_separated_exports_are_csv_files_and_other_names_are_not() {
        for name in ["a.csv", "A.CSV", "b.csv.gz", "mpg-train.tsv", "c.TSV.gz"] {
            assert!(super::is_csv(name), "{name}");
        }
        for name in ["a.txt", "b.tsvx", "c.gz", "digits", "csv"] {
            assert!(!super::is_csv(name), "{name}");
        }
    }

    #[test]
    fn label_column_moves_the_label_and_rejects_columns_out_of_range() {
        let dir = std::env::temp_dir();
        let first = dir.join(format!("wgtrain-labelcol-{}.csv", std::process::id()));
        let last = dir.join(format!("wgtrain-labellast-{}.csv", std::process::id()));
        std::fs::write(&first, "y,a,b\n2,0.5,1.5\n0,2.5,3.5\n").unwrap();
        std::fs::write(&last, "a,b,y\n0.5,1.5,2\n2.5,3.5,0\n").unwrap();
        let a = load_with(first.to_str().unwrap(), None, Some(1))
            .unwrap()
            .train;
        let b = load_with(last.to_str().unwrap(), None, None).unwrap().train;
        assert_eq!(a.x.to_f32(), b.x.to_f32());
        // Labels 2 and 0: two classes.
        assert_eq!(a.target_width(), 2);
        let (mut ya, mut yb) = ([0.0; 2], [0.0; 2]);
        a.target_row(0, &mut ya);
        b.target_row(0, &mut yb);
        assert_eq!(ya, yb);
        let e = load_with(first.to_str().unwrap(), None, Some(4))
            .unwrap_err()
            .to_string();
        assert!(e.contains("label column 4: the file has 3 columns"), "{e}");
        assert!(load_with("digits", None, Some(1)).is_err());
        std::fs::remove_file(&first).unwrap();
        std::fs::remove_file(&last).unwrap();
    }
    use super::*;

    fn classes() -> Dataset {
        let x = vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]; // (3, 2)
        let targets = Targets::Classes {
            labels: vec![2, 0, 1],
            n_classes: 3,
        };
        Dataset::new("t", x, 3, 2, targets).unwrap()
    }

    #[test]
    fn target_row_is_one_hot_for_classes_and_a_copy_for_values() {
        let d = classes();
        let mut out = [9.0; 3];
        d.target_row(0, &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0]);
        let v = Targets::Values {
            values: vec![1.0, 2.0, 3.0, 4.0],
            width: 2,
        };
        let d = Dataset::new("v", vec![0.0, 1.0], 2, 1, v).unwrap();
        assert_eq!(d.target_width(), 2);
        let mut out = [0.0; 2];
        d.target_row(1, &mut out);
        assert_eq!(out, [3.0, 4.0]);
    }

    #[test]
    fn subset_takes_rows_in_the_given_order() {
        let s = classes().subset(&[2, 0, 2]);
        assert_eq!((s.n, s.dim, s.name.as_str()), (3, 2, "t"));
        assert_eq!(s.x.to_f32(), [4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
        match s.targets {
            Targets::Classes { labels, n_classes } => {
                assert_eq!((labels, n_classes), (vec![1, 2, 1], 3))
            }
            Targets::Values { .. } => panic!("expected classes"),
        }
    }

    #[test]
    fn new_rejects_parts_that_do_not_fit() {
        let c = |labels: Vec<u32>| Targets::Classes {
            labels,
            n_classes: 2,
        };
        assert!(Dataset::new("a", vec![0.0; 5], 3, 2, c(vec![0; 3])).is_err());
        assert!(Dataset::new("b", vec![0.0; 6], 3, 2, c(vec![0; 2])).is_err());
        assert!(Dataset::new("c", vec![0.0; 6], 3, 2, c(vec![0, 1, 2])).is_err());
        assert!(Dataset::new("d", vec![f32::NAN; 6], 3, 2, c(vec![0; 3])).is_err());
        assert!(Dataset::new("e", vec![], 0, 0, c(vec![])).is_err());
        let v = Targets::Values {
            values: vec![0.0; 5],
            width: 2,
        };
        assert!(Dataset::new("f", vec![0.0; 6], 3, 2, v).is_err());
    }

    #[test]
    fn load_rejects_unknown_sources() {
        let e = load("digit", None).err().unwrap().to_string();
        assert!(e.contains("unknown dataset"), "{e}");
        assert!(load("/no/such/file.csv", None).is_err());
    }
}
