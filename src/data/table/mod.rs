//! Tabular files (CSV, optionally gzipped) as people have them, and the schema fitted to the
//! training file (`Table`: delimiter, decimal mark, column names and roles, categorical
//! vocabularies, imputation means, class names), which reads every later file (validation,
//! test, eval, predict) the same way and travels in the checkpoint.

mod read;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use read::{Format, SPACES, is_missing, number};
use read::{Records, sniff};

use super::{Dataset, Targets};
use crate::error::{Error, Result};

/// A class column may hold at most this many classes.
pub const MAX_CLASSES: usize = 1 << 16;
/// A categorical feature may hold at most this many levels (one input each).
pub const MAX_LEVELS: usize = 1000;
/// Rows from which a column with more distinct values than half its rows is taken for an
/// identifier (a categorical feature) or a regression target (a class column).
pub const MIN_ROWS_FOR_DISTINCT_GUARD: usize = 20;
/// Bytes of distinct text values the fit keeps while it reads (beyond: too many levels).
const LEVEL_BYTES: usize = 64 << 20;
/// Rows between two checks of the matrix being built against the memory left.
const CHECK_EVERY: usize = 1 << 16;

/// A column, by its header name or its 1-based number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// The header's name for it.
    Name(String),
    /// Its position, 1-based.
    Number(usize),
}

impl std::str::FromStr for Column {
    type Err = Error;
    /// A whole number is a column number (1-based), anything else a name.
    fn from_str(s: &str) -> Result<Column> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::usage("an empty column name"));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Column::Number(n)),
                _ => Err(Error::usage(format!(
                    "column {s}: columns are numbered from 1"
                ))),
            };
        }
        Ok(Column::Name(s.to_string()))
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Column::Name(n) => write!(f, "{n:?}"),
            Column::Number(n) => write!(f, "{n}"),
        }
    }
}

/// The columns that hold real-valued targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetColumns {
    /// The last k columns.
    Last(usize),
    /// These columns (the targets are in the file's order).
    Columns(Vec<Column>),
}

impl std::str::FromStr for TargetColumns {
    type Err = Error;
    /// `K` (a whole number alone): the last K columns; else a comma list of names or numbers.
    fn from_str(s: &str) -> Result<TargetColumns> {
        let s = s.trim();
        if !s.contains(',') && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<usize>() {
                Ok(k) if k >= 1 => Ok(TargetColumns::Last(k)),
                _ => Err(Error::invalid(
                    "targets",
                    format!("{s}: the number of target columns must be at least 1"),
                )),
            };
        }
        Ok(TargetColumns::Columns(
            s.split(',').map(str::parse).collect::<Result<_>>()?,
        ))
    }
}

/// What to do with a missing feature value (empty, NA, N/A, NaN, ?, null).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Numbers take the training mean; categories none of their levels (all-zero inputs).
    #[default]
    Mean,
    /// A missing value is an error naming its line and column.
    Error,
}

impl std::str::FromStr for Missing {
    type Err = Error;
    fn from_str(s: &str) -> Result<Missing> {
        match s {
            "mean" => Ok(Missing::Mean),
            "error" => Ok(Missing::Error),
            _ => Err(Error::invalid(
                "missing",
                format!("{s:?}: expected mean or error"),
            )),
        }
    }
}

/// How to read a training file: all None/empty reads it as found (delimiter and decimal mark
/// guessed, the class label in the last column, missing values imputed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvOptions {
    /// ',', ';', '\t' or ' ' (runs of spaces); None: guessed from the first lines.
    pub delimiter: Option<char>,
    /// '.' or ','; None: ',' when the first lines hold numbers written so (never for ','-files).
    pub decimal: Option<char>,
    /// The class column; None: the last (unless `targets`).
    pub label: Option<Column>,
    /// Real-valued target columns instead of a class column.
    pub targets: Option<TargetColumns>,
    /// Columns that are neither inputs nor targets (identifiers).
    pub ignore: Vec<Column>,
    /// Missing feature values: imputed (default) or an error.
    pub missing: Missing,
}

/// What a column is to the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Kind {
    /// A numeric input; a missing value is the training mean.
    Numeric {
        /// The training rows' mean, the value of a missing cell.
        mean: f32,
    },
    /// A categorical input, one-hot over `levels` (sorted); a missing or unseen value is all
    /// zeros.
    Categorical {
        /// The training rows' distinct values, sorted.
        levels: Vec<String>,
    },
    /// The class label.
    Label,
    /// A real-valued target.
    Target,
    /// Read past.
    Ignored,
}

/// One column of the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// The header's name, or `column N` without a header.
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// The schema fitted to a training file. Inputs are the feature columns in file order, a
/// numeric column one input, a categorical one an input per level; targets the class index
/// (`classes`) or the target columns in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// ',', ';', '\t' or ' ' (runs of spaces).
    pub delimiter: char,
    /// '.' or ','.
    pub decimal: char,
    /// Whether the training file had a header line (then other files' columns are matched by
    /// name when they have one too).
    pub header: bool,
    /// Every column of the training file, in order.
    pub columns: Vec<ColumnInfo>,
    /// The class names, sorted (numerically when all are numbers); None for value targets.
    pub classes: Option<Vec<String>>,
    /// Whether every class name is an integer (a file's `3.0` is then class `3`).
    pub numeric_classes: bool,
    /// What a missing feature value does.
    pub missing: Missing,
}

/// What reading a file with a table gave besides the rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Feature cells that were missing and imputed.
    pub imputed: usize,
    /// Categorical cells whose value the training file never had (all-zero inputs).
    pub unseen: usize,
}

/// The rows of a file read with a table.
#[derive(Clone, Debug)]
pub struct Rows {
    /// The dataset (inputs and targets), named after the file.
    pub data: Dataset,
    /// Imputed and unseen cells.
    pub counts: Counts,
}

/// Which columns a file read with a table must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Features and the label or targets (training, validation, test, eval).
    Targets,
    /// Features; the label or target columns may be there (and are read past) or not
    /// (predict). With `strict`, an unseen category is an error.
    Features {
        /// An unseen category is an error rather than all-zero inputs.
        strict: bool,
    },
}

/// The file name of `path` (the whole path without one).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// "column 3 (\"age\")" or "column 3".
fn at_column(c: usize, name: &str, header: bool) -> String {
    if header {
        format!("column {} ({name:?})", c + 1)
    } else {
        format!("column {}", c + 1)
    }
}

/// What the fit learns of one column while it reads.
#[derive(Default)]
struct Stat {
    numbers: usize,
    texts: usize,
    first_text: Option<(usize, String)>,
    first_number: Option<(usize, String)>,
    sum: f64,
    values: BTreeSet<String>,
    overflow: bool,
}

/// The 0-based index `c` names among `names` (`header`: they are the file's).
fn resolve(c: &Column, names: &[String], header: bool, what: &'static str) -> Result<usize> {
    match c {
        Column::Number(n) if (1..=names.len()).contains(n) => Ok(n - 1),
        Column::Number(n) => Err(Error::invalid(
            what,
            format!("column {n}: the file has {} columns", names.len()),
        )),
        Column::Name(s) if !header => Err(Error::invalid(
            what,
            format!(
                "{s:?}: the file has no header line, so its columns go by number (1 to {})",
                names.len()
            ),
        )),
        Column::Name(s) => names.iter().position(|n| n == s).ok_or_else(|| {
            let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
            Error::invalid(
                what,
                format!(
                    "{s:?}: no column has that name (the header has {}{})",
                    shown.join(", "),
                    if names.len() > 20 { ", ..." } else { "" }
                ),
            )
        }),
    }
}

/// Each column's role from the options: Label, Target, Ignored, or None for a feature.
fn roles(names: &[String], header: bool, o: &CsvOptions) -> Result<Vec<Option<Kind>>> {
    let w = names.len();
    let mut roles: Vec<Option<Kind>> = vec![None; w];
    match (&o.targets, &o.label) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "label",
                "names a class column; it cannot be combined with targets (real-valued columns)",
            ));
        }
        (Some(TargetColumns::Last(0)), None) => {
            return Err(Error::invalid(
                "targets",
                "0: the number of target columns must be at least 1",
            ));
        }
        (Some(TargetColumns::Columns(cs)), None) if cs.is_empty() => {
            return Err(Error::invalid("targets", "names no column"));
        }
        (Some(TargetColumns::Last(k)), None) => {
            if *k >= w {
                return Err(Error::invalid(
                    "targets",
                    format!(
                        "{k}: the file has {w} columns, and {k} target columns need at least {} (one input)",
                        *k as u128 + 1
                    ),
                ));
            }
            for r in &mut roles[w - k..] {
                *r = Some(Kind::Target);
            }
        }
        (Some(TargetColumns::Columns(cs)), None) => {
            for c in cs {
                let i = resolve(c, names, header, "targets")?;
                if roles[i].is_some() {
                    return Err(Error::invalid(
                        "targets",
                        format!("names column {} twice", i + 1),
                    ));
                }
                roles[i] = Some(Kind::Target);
            }
        }
        (None, label) => {
            let i = match label {
                Some(c) => resolve(c, names, header, "label")?,
                None => w - 1,
            };
            roles[i] = Some(Kind::Label);
        }
    }
    for c in &o.ignore {
        let i = resolve(c, names, header, "ignore")?;
        if roles[i].is_some() {
            return Err(Error::invalid(
                "ignore",
                format!("column {} ({:?}) is the label or a target", i + 1, names[i]),
            ));
        }
        roles[i] = Some(Kind::Ignored);
    }
    if roles.iter().all(Option::is_some) {
        return Err(Error::usage(
            "no input column is left: the file's columns are all labels, targets or ignored",
        ));
    }
    Ok(roles)
}

impl Table {
    /// Reads a training file as `o` says, fits the schema to it and returns both.
    /// Reads the file twice (the schema, then the rows), holding little more than the matrix.
    pub fn fit(path: &Path, o: &CsvOptions) -> Result<(Table, Rows)> {
        let format = sniff(path, o.delimiter, o.decimal)?;
        let err = |line: usize, msg: String| Error::data(path, format!("line {line}: {msg}"));
        let mut rec = Records::open(path, format)?;
        let Some(first_line) = rec.next()? else {
            return Err(Error::data(path, "no data rows"));
        };
        let first: Vec<String> = rec.record.iter().map(String::from).collect();
        let width = first.len();
        if width < 2 {
            return Err(err(
                first_line,
                format!(
                    "{width} column: need at least one input and the label (no ',', ';', tab or run of spaces splits the first lines into columns)"
                ),
            ));
        }
        let header = first.iter().all(|c| number(c, format.decimal).is_none());
        let names: Vec<String> = (0..width)
            .map(|i| match first.get(i).filter(|n| header && !n.is_empty()) {
                Some(n) => n.clone(),
                None => format!("column {}", i + 1),
            })
            .collect();
        let roles = roles(&names, header, o)?;
        let mut stats: Vec<Stat> = (0..width).map(|_| Stat::default()).collect();
        let mut rows = 0usize;
        let mut level_bytes = 0usize;
        let data_width = roles.iter().filter(|r| r.is_none()).count() + 1;
        let mut row = |line: usize,
                       cells: &mut dyn Iterator<Item = &str>,
                       found: usize|
         -> Result<()> {
            if found != width {
                return Err(if header && rows == 0 {
                    err(
                        first_line,
                        format!(
                            "the header names {width} columns, but the first data row (line {line}) has {found}: the header and the rows must have as many cells"
                        ),
                    )
                } else {
                    err(line, format!("{found} columns, expected {width}"))
                });
            }
            for (c, cell) in cells.enumerate() {
                let at = || at_column(c, &names[c], header);
                let s = &mut stats[c];
                match &roles[c] {
                    Some(Kind::Ignored) => {}
                    Some(Kind::Target) => match number(cell, format.decimal) {
                        Some(v) if v.is_finite() && (v as f32).is_finite() => {}
                        _ if is_missing(cell) => {
                            return Err(err(line, format!("{}: the target is missing", at())));
                        }
                        Some(_) => {
                            return Err(err(
                                line,
                                format!(
                                    "{}: {cell:?} is not finite (infinite, or beyond f32 range)",
                                    at()
                                ),
                            ));
                        }
                        None => {
                            return Err(err(line, format!("{}: {cell:?} is not a number", at())));
                        }
                    },
                    Some(Kind::Label) => {
                        if is_missing(cell) {
                            return Err(err(line, format!("{}: the label is missing", at())));
                        }
                        if !s.overflow && !s.values.contains(cell) {
                            if s.values.len() > MAX_CLASSES {
                                s.overflow = true;
                            } else {
                                s.values.insert(cell.to_string());
                            }
                        }
                    }
                    _ => {
                        if is_missing(cell) {
                            if o.missing == Missing::Error {
                                return Err(err(
                                    line,
                                    format!(
                                        "{}: a missing value ({cell:?}), and the setting `missing` is error (mean imputes them)",
                                        at()
                                    ),
                                ));
                            }
                            continue;
                        }
                        match number(cell, format.decimal) {
                            Some(v) if v.is_finite() && (v as f32).is_finite() => {
                                s.numbers += 1;
                                s.sum += v;
                                if s.first_number.is_none() {
                                    s.first_number = Some((line, cell.to_string()));
                                }
                            }
                            Some(_) => {
                                return Err(err(
                                    line,
                                    format!(
                                        "{}: {cell:?} is not finite (infinite, or beyond f32 range)",
                                        at()
                                    ),
                                ));
                            }
                            None => {
                                s.texts += 1;
                                if s.first_text.is_none() {
                                    s.first_text = Some((line, cell.to_string()));
                                }
                            }
                        }
                        if !s.overflow && !s.values.contains(cell) {
                            if s.values.len() > MAX_LEVELS || level_bytes + cell.len() > LEVEL_BYTES
                            {
                                s.overflow = true;
                            } else {
                                level_bytes += cell.len();
                                s.values.insert(cell.to_string());
                            }
                        }
                    }
                }
            }
            rows += 1;
            if rows.is_multiple_of(CHECK_EVERY) {
                crate::memory::check(
                    &format!("reading {}: {rows} rows so far", path.display()),
                    (rows as u64).saturating_mul(data_width as u64 * 4),
                )?;
            }
            Ok(())
        };
        if !header {
            row(first_line, &mut first.iter().map(String::as_str), width)?;
        }
        while let Some(line) = rec.next()? {
            let found = rec.record.len();
            row(line, &mut rec.record.iter(), found)?;
        }
        drop(rec);
        if rows == 0 {
            return Err(Error::data(path, "no data rows"));
        }
        let mut columns = Vec::with_capacity(width);
        let mut classes = None;
        let mut numeric_classes = false;
        for (c, (role, s)) in roles.into_iter().zip(stats).enumerate() {
            let name = names[c].clone();
            let at = at_column(c, &name, header);
            let kind = match role {
                Some(Kind::Label) => {
                    let (names, numeric) = class_names(path, &at, s, rows, format.decimal)?;
                    classes = Some(names);
                    numeric_classes = numeric;
                    Kind::Label
                }
                Some(k) => k,
                None if s.texts > 0 && s.numbers >= s.texts => {
                    let (line, cell) = s.first_text.unwrap_or_default();
                    let (nline, ncell) = s.first_number.unwrap_or_default();
                    let hint = if line == first_line && !header {
                        " (line 1 is read as data because a cell of it is a number; a header line names every column)"
                    } else {
                        ""
                    };
                    return Err(err(
                        line,
                        format!(
                            "{at}: {cell:?} is not a number, but most of the column is (line {nline} has {ncell:?}){hint}"
                        ),
                    ));
                }
                None if s.texts > 0 => {
                    let distinct = s.values.len();
                    if s.overflow || (rows >= MIN_ROWS_FOR_DISTINCT_GUARD && distinct > rows / 2) {
                        return Err(Error::data(
                            path,
                            format!(
                                "{at} holds {}{distinct} different text values in {rows} rows: an identifier rather than a category; leave it out with the setting `ignore`",
                                if s.overflow { "more than " } else { "" }
                            ),
                        ));
                    }
                    Kind::Categorical {
                        levels: s.values.into_iter().collect(),
                    }
                }
                None => Kind::Numeric {
                    mean: if s.numbers > 0 {
                        (s.sum / s.numbers as f64) as f32
                    } else {
                        0.0
                    },
                },
            };
            columns.push(ColumnInfo { name, kind });
        }
        let table = Table {
            delimiter: format.delimiter,
            decimal: format.decimal,
            header,
            columns,
            classes,
            numeric_classes,
            missing: o.missing,
        };
        let rows_read = table.read(path, Need::Targets, Some(rows))?;
        if rows_read.data.n != rows {
            return Err(Error::data(
                path,
                format!(
                    "changed while it was read: {rows} rows, then {}",
                    rows_read.data.n
                ),
            ));
        }
        Ok((table, rows_read))
    }

    /// The table of a model saved before tables existed: every column a number, the class
    /// label (`outputs` classes, named by their index) in column `label_column` (1-based; None:
    /// the last), or with `targets` that many value columns last; ','-separated, nothing
    /// missing.
    pub fn legacy(
        inputs: usize,
        outputs: usize,
        label_column: Option<usize>,
        targets: Option<usize>,
    ) -> Result<Table> {
        let column = |kind| ColumnInfo {
            name: String::new(),
            kind,
        };
        let mut columns: Vec<ColumnInfo> = (0..inputs)
            .map(|_| column(Kind::Numeric { mean: 0.0 }))
            .collect();
        let classes = match targets {
            Some(k) => {
                columns.extend((0..k).map(|_| column(Kind::Target)));
                None
            }
            None => {
                let at = label_column.unwrap_or(inputs + 1);
                if !(1..=inputs + 1).contains(&at) {
                    return Err(Error::invalid(
                        "label",
                        format!("column {at} is outside rows of {} columns", inputs + 1),
                    ));
                }
                columns.insert(at - 1, column(Kind::Label));
                Some((0..outputs).map(|c| c.to_string()).collect())
            }
        };
        for (i, c) in columns.iter_mut().enumerate() {
            c.name = format!("column {}", i + 1);
        }
        Ok(Table {
            delimiter: ',',
            decimal: '.',
            header: false,
            columns,
            classes,
            numeric_classes: true,
            missing: Missing::Error,
        })
    }

    /// Checks a table read from a file: the delimiter and decimal mark, one label column exactly
    /// when there are class names (two or more, distinct), levels and means that can be used.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::invalid("table", msg));
        if ![',', ';', '\t', SPACES].contains(&self.delimiter)
            || ![',', '.'].contains(&self.decimal)
            || (self.delimiter == ',' && self.decimal == ',')
        {
            return bad(format!(
                "delimiter {:?} with decimal mark {:?}",
                self.delimiter, self.decimal
            ));
        }
        let labels = self.count(|k| *k == Kind::Label);
        let targets = self.count(|k| *k == Kind::Target);
        match &self.classes {
            Some(c) => {
                let distinct: BTreeSet<&String> = c.iter().collect();
                if labels != 1 || targets != 0 || c.len() < 2 || distinct.len() != c.len() {
                    return bad(format!(
                        "{labels} label columns, {targets} target columns and {} class names ({} distinct)",
                        c.len(),
                        distinct.len()
                    ));
                }
            }
            None if labels != 0 || targets == 0 => {
                return bad(format!(
                    "{labels} label columns and {targets} target columns without class names"
                ));
            }
            None => {}
        }
        for c in &self.columns {
            match &c.kind {
                Kind::Numeric { mean } if !mean.is_finite() => {
                    return bad(format!("column {:?} has the mean {mean}", c.name));
                }
                Kind::Categorical { levels }
                    if levels.is_empty() || levels.len() > MAX_LEVELS + 1 =>
                {
                    return bad(format!("column {:?} has {} levels", c.name, levels.len()));
                }
                _ => {}
            }
        }
        if self.inputs() == 0 {
            return bad("no input column".into());
        }
        Ok(())
    }

    /// Network inputs: one per numeric feature, one per level of a categorical one.
    pub fn inputs(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match &c.kind {
                Kind::Numeric { .. } => 1,
                Kind::Categorical { levels } => levels.len(),
                _ => 0,
            })
            .sum()
    }

    /// Network outputs: the classes, or the target columns.
    pub fn outputs(&self) -> usize {
        match &self.classes {
            Some(c) => c.len(),
            None => self.count(|k| *k == Kind::Target),
        }
    }

    fn count(&self, f: impl Fn(&Kind) -> bool) -> usize {
        self.columns.iter().filter(|c| f(&c.kind)).count()
    }

    /// For each network input, whether it is one level of a categorical column (0 or 1, left
    /// as it is by standardisation).
    pub fn one_hot(&self) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.inputs());
        for c in &self.columns {
            match &c.kind {
                Kind::Numeric { .. } => out.push(false),
                Kind::Categorical { levels } => out.extend(levels.iter().map(|_| true)),
                _ => {}
            }
        }
        out
    }

    /// One line for people: the columns and what they are.
    pub fn describe(&self) -> String {
        let numeric = self.count(|k| matches!(k, Kind::Numeric { .. }));
        let cats: Vec<usize> = self
            .columns
            .iter()
            .filter_map(|c| match &c.kind {
                Kind::Categorical { levels } => Some(levels.len()),
                _ => None,
            })
            .collect();
        let ignored = self.count(|k| *k == Kind::Ignored);
        let delimiter = match self.delimiter {
            '\t' => "tab".to_string(),
            SPACES => "spaces".to_string(),
            d => format!("'{d}'"),
        };
        let mut s = format!(
            "{delimiter}-separated{}{}, {numeric} numeric",
            if self.decimal == ',' {
                ", decimal comma"
            } else {
                ""
            },
            if self.header {
                ", header"
            } else {
                ", no header"
            }
        );
        if !cats.is_empty() {
            let levels: Vec<String> = cats.iter().map(|l| l.to_string()).collect();
            s += &format!(
                " and {} categorical ({} levels)",
                cats.len(),
                levels.join(", ")
            );
        }
        s += " feature columns";
        if ignored > 0 {
            s += &format!(", {ignored} ignored");
        }
        match &self.classes {
            Some(c) => {
                let label = self.columns.iter().find(|c| c.kind == Kind::Label);
                let shown: Vec<&str> = c.iter().take(8).map(String::as_str).collect();
                s += &format!(
                    "; label {:?}, {} classes ({}{})",
                    label.map_or("", |c| c.name.as_str()),
                    c.len(),
                    shown.join(", "),
                    if c.len() > 8 { ", ..." } else { "" }
                );
            }
            None => {
                let t: Vec<&str> = self
                    .columns
                    .iter()
                    .filter(|c| c.kind == Kind::Target)
                    .map(|c| c.name.as_str())
                    .collect();
                s += &format!("; targets {}", t.join(", "));
            }
        }
        s
    }

    /// The 1-based column of the class label, and its name.
    pub fn label(&self) -> Option<(usize, &str)> {
        self.columns
            .iter()
            .position(|c| c.kind == Kind::Label)
            .map(|i| (i + 1, self.columns[i].name.as_str()))
    }

    /// Reading options given again (resuming a run) must be the ones this table was fitted
    /// with; the first that is not is an error naming it.
    pub fn check_options(&self, o: &CsvOptions) -> Result<()> {
        let names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let index = |c: &Column, what| resolve(c, &names, self.header, what);
        let contradicts = |what: &'static str, given: String, had: String| {
            Err(Error::invalid(
                what,
                format!("{given} contradicts the run's table, which has {had}"),
            ))
        };
        if let Some(d) = o.delimiter.filter(|&d| d != self.delimiter) {
            return contradicts(
                "delimiter",
                format!("{d:?}"),
                format!("{:?}", self.delimiter),
            );
        }
        if let Some(d) = o.decimal.filter(|&d| d != self.decimal) {
            return contradicts("decimal", format!("{d:?}"), format!("{:?}", self.decimal));
        }
        if o.missing != self.missing {
            return contradicts(
                "missing",
                format!("{:?}", o.missing).to_lowercase(),
                format!("{:?}", self.missing).to_lowercase(),
            );
        }
        if let Some(l) = &o.label {
            let had = self.label().map_or("no label column".into(), |(i, n)| {
                format!("the label in column {i} ({n:?})")
            });
            if self.label().map(|(i, _)| i - 1) != index(l, "label").ok() {
                return contradicts("label", l.to_string(), had);
            }
        }
        let targets: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].kind == Kind::Target)
            .collect();
        if let Some(t) = &o.targets {
            let given: Vec<usize> = match t {
                TargetColumns::Last(k) => {
                    (self.columns.len().saturating_sub(*k)..self.columns.len()).collect()
                }
                TargetColumns::Columns(cs) => {
                    cs.iter().filter_map(|c| index(c, "targets").ok()).collect()
                }
            };
            if given != targets {
                let t = match t {
                    TargetColumns::Last(k) => k.to_string(),
                    TargetColumns::Columns(cs) => cs
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let had = if targets.is_empty() {
                    "no target columns".to_string()
                } else {
                    format!(
                        "target columns {:?}",
                        targets.iter().map(|i| i + 1).collect::<Vec<_>>()
                    )
                };
                return contradicts("targets", t, had);
            }
        }
        for c in &o.ignore {
            if index(c, "ignore")
                .ok()
                .is_none_or(|i| self.columns[i].kind != Kind::Ignored)
            {
                return contradicts(
                    "ignore",
                    c.to_string(),
                    "it as a column that is read".into(),
                );
            }
        }
        Ok(())
    }

    /// Reads `path` with this schema: columns matched by header name when the table and the
    /// file both have names, else by position. `rows`: how many rows to expect (to allocate
    /// once), when known.
    pub fn read(&self, path: &Path, need: Need, rows: Option<usize>) -> Result<Rows> {
        let format = Format {
            delimiter: self.delimiter,
            decimal: self.decimal,
        };
        let err = |line: usize, msg: String| Error::data(path, format!("line {line}: {msg}"));
        let mut rec = Records::open(path, format)?;
        let Some(first_line) = rec.next()? else {
            return Err(Error::data(path, "no data rows"));
        };
        let first: Vec<String> = rec.record.iter().map(String::from).collect();
        let any_number = first.iter().any(|c| number(c, self.decimal).is_some());
        // The file's columns by name (the first of each): lookups, not scans, for wide files.
        let mut file_columns: HashMap<&str, usize> = HashMap::with_capacity(first.len());
        for (i, c) in first.iter().enumerate().rev() {
            file_columns.insert(c.as_str(), i);
        }
        let names_match = self
            .columns
            .iter()
            .any(|t| file_columns.contains_key(t.name.as_str()));
        let has_numeric = self.count(|k| matches!(k, Kind::Numeric { .. })) > 0;
        let header = !any_number && (self.header || names_match || has_numeric);
        fn unique<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
            let mut seen = BTreeSet::new();
            names.all(|n| seen.insert(n))
        }
        let by_name = header
            && self.header
            && unique(self.columns.iter().map(|c| c.name.as_str()))
            && unique(first.iter().map(String::as_str));
        // src[j]: the file's column for table column j, None when absent.
        let outputs_kind = |k: &Kind| matches!(k, Kind::Label | Kind::Target);
        let w = self.columns.len();
        let without = w - self.count(outputs_kind);
        let src: Vec<Option<usize>> = if by_name {
            let mut src = Vec::with_capacity(w);
            for (j, c) in self.columns.iter().enumerate() {
                let found = file_columns.get(c.name.as_str()).copied();
                let optional = c.kind == Kind::Ignored
                    || (outputs_kind(&c.kind) && matches!(need, Need::Features { .. }));
                if found.is_none() && !optional {
                    return Err(err(
                        first_line,
                        format!(
                            "no column is named {:?}, column {} of the training file ({})",
                            c.name,
                            j + 1,
                            match c.kind {
                                Kind::Label => "the label",
                                Kind::Target => "a target",
                                _ => "an input",
                            }
                        ),
                    ));
                }
                src.push(found);
            }
            src
        } else {
            let found = first.len();
            let with_outputs = found == w;
            if !(with_outputs || (found == without && matches!(need, Need::Features { .. }))) {
                let features = self.count(|k| !outputs_kind(k) && *k != Kind::Ignored);
                let what = match &self.classes {
                    Some(_) => "the label".to_string(),
                    None => format!("{} target columns", w - without),
                };
                return Err(err(
                    first_line,
                    match need {
                        Need::Targets => format!(
                            "{found} columns, but the model takes {features} inputs: give {w} columns, with {what} where the training file had it"
                        ),
                        Need::Features { .. } => format!(
                            "{found} columns, but the model takes {features} inputs: give {without} columns, or {w} with {what} where the training file had it"
                        ),
                    },
                ));
            }
            let mut k = 0;
            self.columns
                .iter()
                .map(|c| {
                    if !with_outputs && outputs_kind(&c.kind) {
                        None
                    } else {
                        k += 1;
                        Some(k - 1)
                    }
                })
                .collect()
        };
        let width = first.len();
        let dim = self.inputs();
        let class_index: HashMap<&str, u32> = self
            .classes
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        let level_index: Vec<HashMap<&str, usize>> = self
            .columns
            .iter()
            .map(|c| match &c.kind {
                Kind::Categorical { levels } => levels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.as_str(), i))
                    .collect(),
                _ => HashMap::new(),
            })
            .collect();
        let labelled = self.classes.is_some()
            && src
                .iter()
                .zip(&self.columns)
                .any(|(s, c)| s.is_some() && c.kind == Kind::Label);
        let width_out = if self.classes.is_some() {
            1
        } else {
            self.outputs()
        };
        let mut x: Vec<f32> = Vec::new();
        let mut labels: Vec<u32> = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        if let Some(r) = rows {
            let bytes = (r as u64).saturating_mul((dim + width_out) as u64 * 4);
            crate::memory::check(&format!("the rows of {}", path.display()), bytes)?;
            x.try_reserve_exact(r.saturating_mul(dim)).map_err(|_| {
                Error::OutOfMemory(format!(
                    "the rows of {}: {r} rows of {dim} inputs",
                    path.display()
                ))
            })?;
        }
        let mut counts = Counts::default();
        let mut n = 0usize;
        let mut cells: Vec<&str> = Vec::with_capacity(width);
        let mut row = |line: usize, cells: &[&str]| -> Result<()> {
            if cells.len() != width {
                return Err(err(
                    line,
                    format!("{} columns, expected {width}", cells.len()),
                ));
            }
            if x.try_reserve(dim).is_err()
                || values.try_reserve(width_out).is_err()
                || labels.try_reserve(1).is_err()
            {
                return Err(Error::OutOfMemory(format!(
                    "the rows of {}: no memory for row {}",
                    path.display(),
                    n + 1
                )));
            }
            for (j, c) in self.columns.iter().enumerate() {
                let Some(s) = src[j] else { continue };
                let cell = cells[s];
                let at = || at_column(s, &c.name, header);
                let refuse_missing = || {
                    err(
                        line,
                        format!(
                            "{}: a missing value ({cell:?}), and the setting `missing` is error (mean imputes them)",
                            at()
                        ),
                    )
                };
                match &c.kind {
                    Kind::Ignored => {}
                    Kind::Numeric { mean } => {
                        if is_missing(cell) {
                            if self.missing == Missing::Error {
                                return Err(refuse_missing());
                            }
                            counts.imputed += 1;
                            x.push(*mean);
                            continue;
                        }
                        match number(cell, self.decimal) {
                            Some(v) if v.is_finite() && (v as f32).is_finite() => x.push(v as f32),
                            Some(_) => {
                                return Err(err(
                                    line,
                                    format!(
                                        "{}: {cell:?} is not finite (infinite, or beyond f32 range)",
                                        at()
                                    ),
                                ));
                            }
                            None => {
                                return Err(err(
                                    line,
                                    format!("{}: {cell:?} is not a number", at()),
                                ));
                            }
                        }
                    }
                    Kind::Categorical { levels } => {
                        let start = x.len();
                        x.extend(std::iter::repeat_n(0.0, levels.len()));
                        if is_missing(cell) {
                            if self.missing == Missing::Error {
                                return Err(refuse_missing());
                            }
                            counts.imputed += 1;
                        } else if let Some(&i) = level_index[j].get(cell) {
                            x[start + i] = 1.0;
                        } else if need == (Need::Features { strict: true }) {
                            return Err(err(
                                line,
                                format!(
                                    "{}: {cell:?} is not one of the column's values in training ({})",
                                    at(),
                                    preview(levels)
                                ),
                            ));
                        } else {
                            counts.unseen += 1;
                        }
                    }
                    Kind::Label => {
                        if !labelled {
                            continue;
                        }
                        if is_missing(cell) {
                            return Err(err(line, format!("{}: the label is missing", at())));
                        }
                        let name = self.class_name(cell);
                        match class_index.get(name.as_str()) {
                            Some(&i) => labels.push(i),
                            None => {
                                return Err(err(
                                    line,
                                    format!(
                                        "{}: label {cell:?} was not seen in training (its classes: {})",
                                        at(),
                                        preview(self.classes.as_deref().unwrap_or_default())
                                    ),
                                ));
                            }
                        }
                    }
                    Kind::Target => match number(cell, self.decimal) {
                        Some(v) if v.is_finite() && (v as f32).is_finite() => values.push(v as f32),
                        _ if is_missing(cell) => {
                            return Err(err(line, format!("{}: the target is missing", at())));
                        }
                        _ => {
                            return Err(err(
                                line,
                                format!("{}: {cell:?} is not a finite number", at()),
                            ));
                        }
                    },
                }
            }
            n += 1;
            if rows.is_some_and(|r| n > r) {
                return Err(Error::data(
                    path,
                    "changed while it was read: more rows the second time",
                ));
            }
            if n.is_multiple_of(CHECK_EVERY) && rows.is_none() {
                crate::memory::check(
                    &format!("reading {}: {n} rows so far", path.display()),
                    (n as u64).saturating_mul((dim + width_out) as u64 * 8),
                )?;
            }
            Ok(())
        };
        if !header {
            cells.extend(first.iter().map(String::as_str));
            row(first_line, &cells)?;
        }
        while let Some(line) = rec.next()? {
            let cells: Vec<&str> = rec.record.iter().collect();
            row(line, &cells)?;
        }
        if n == 0 {
            return Err(Error::data(path, "no data rows"));
        }
        let targets = match &self.classes {
            Some(c) if labelled => Targets::Classes {
                labels,
                n_classes: c.len(),
            },
            _ if !values.is_empty() => Targets::Values {
                values,
                width: self.outputs(),
            },
            // Features only: targets no one reads.
            Some(c) => Targets::Classes {
                labels: vec![0; n],
                n_classes: c.len(),
            },
            None => Targets::Values {
                values: vec![0.0; n * self.outputs().max(1)],
                width: self.outputs().max(1),
            },
        };
        let data = Dataset::new(file_name(path), x, n, dim, targets)?;
        Ok(Rows { data, counts })
    }

    /// The class name a label cell stands for: the integer it holds when the classes are
    /// numbers (`3.0` is `3`), else the cell.
    fn class_name(&self, cell: &str) -> String {
        if self.numeric_classes
            && let Some(v) = number(cell, self.decimal)
            && v.fract() == 0.0
            && v.abs() < 1e15
        {
            return format!("{}", v as i64);
        }
        cell.to_string()
    }
}

/// The first values of a list, for messages.
fn preview(v: &[String]) -> String {
    let shown: Vec<&str> = v.iter().take(10).map(String::as_str).collect();
    format!(
        "{}{}",
        shown.join(", "),
        if v.len() > 10 { ", ..." } else { "" }
    )
}

/// The class names of the label column `at` of `path`, sorted, and whether they are integers;
/// an error when the column looks like a regression target.
fn class_names(
    path: &Path,
    at: &str,
    s: Stat,
    rows: usize,
    decimal: char,
) -> Result<(Vec<String>, bool)> {
    let hint = "load it as real-valued targets (the setting `targets`), with the mse loss";
    let nums: Option<Vec<f64>> = s.values.iter().map(|v| number(v, decimal)).collect();
    let (names, numeric) = match nums {
        Some(mut nums) => {
            if let Some(v) = nums.iter().find(|v| v.fract() != 0.0 || v.abs() >= 1e15) {
                return Err(Error::data(
                    path,
                    format!(
                        "the label, {at}, holds numbers that are not integers (like {v}): more like a regression target than class labels; {hint}"
                    ),
                ));
            }
            nums.sort_by(f64::total_cmp);
            nums.dedup();
            (
                nums.iter()
                    .map(|&v| format!("{}", v as i64))
                    .collect::<Vec<_>>(),
                true,
            )
        }
        None => (s.values.into_iter().collect::<Vec<_>>(), false),
    };
    let distinct = names.len();
    if s.overflow || (rows >= MIN_ROWS_FOR_DISTINCT_GUARD && distinct > rows / 2) {
        return Err(Error::data(
            path,
            format!(
                "the label column holds {}{distinct} different values in {rows} rows: more like a regression target than class labels; {hint}",
                if s.overflow { "more than " } else { "" }
            ),
        ));
    }
    if distinct < 2 {
        return Err(Error::data(
            path,
            format!(
                "the label, {at}, holds one value ({}): a classifier needs two classes or more",
                names.join("")
            ),
        ));
    }
    Ok((names, numeric))
}

#[cfg(test)]
mod tests;
