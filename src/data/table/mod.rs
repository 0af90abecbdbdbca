//! Tabular files (CSV, optionally gzipped) as people have them, and the schema fitted to the
//! training file (`Table`: delimiter, decimal mark, column names and roles, categorical
//! vocabularies, imputation means, class names), which reads every later file (validation,
//! test, eval, predict) the same way and travels in the checkpoint.
//!
//! Past 600 lines because it holds the table's public record (`Table`, `Kind`, `Column`,
//! `CsvOptions` and their settings, each field documented) and the small readers every module
//! shares; the reading, fitting and describing live in the submodules.

mod apply;
mod date;
mod fit;
mod keep;
mod place;
mod read;
mod reading;
mod schema;
mod sniff;
mod stored;
mod text;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use date::{DATE_INPUTS, DATE_SHARE, DateForm, TIME_INPUTS};
pub use keep::Kept;
use place::{At, at_column, line_error, no_data_rows};
pub(crate) use read::header_names;
pub use read::{Format, SPACES, Text, is_missing, is_text, number, number_in};
pub use schema::{ColumnKind, ColumnSchema, DateSpan, Figures, Role, Schema};
pub use text::CsvText;

use super::Dataset;
use crate::error::{Error, Result};

/// A class column may hold at most this many classes.
pub const MAX_CLASSES: usize = 1 << 16;
/// A categorical feature may hold at most this many levels (one input each).
pub const MAX_LEVELS: usize = 1000;
/// Rows from which a column with more distinct values than half its rows is taken for an
/// identifier (a categorical feature) or a regression target (a class column).
pub const MIN_ROWS_FOR_DISTINCT_GUARD: usize = 20;
/// A numeric label with at least this many distinct integers, half of them in fewer than
/// `FEW_ROWS_PER_CLASS` rows, is taken for a regression target (diamonds' price), not classes.
pub const CONTINUOUS_LABEL_CLASSES: usize = 100;
/// See `CONTINUOUS_LABEL_CLASSES`.
pub const FEW_ROWS_PER_CLASS: usize = 5;
/// A numeric column whose mean is this many standard deviations from zero is read less its
/// mean (`Kind::Numeric::offset`): f32 keeps about 7 digits, so 1.7e12 + k (timestamps in
/// milliseconds) would otherwise lose k.
pub const OFFSET_RATIO: f64 = 1e4;
/// What a message about a missing label or target adds.
const DROP_HINT: &str =
    " (the setting `drop_missing_target` leaves such rows out, with a note saying how many)";
/// Bytes of distinct text values the fit keeps while it reads (beyond: too many levels).
const LEVEL_BYTES: usize = 64 << 20;
/// The delimiters a file may use: ',', ';', tab, '|' (psql's unaligned output, Hive) and runs
/// of spaces (`SPACES`).
pub(crate) const DELIMITERS: [char; 5] = [',', ';', '\t', '|', SPACES];
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

/// What to do with a missing feature value (empty, `NA`, `N/A`, `NaN`, `?`, `null`, `#N/A`,
/// `<NA>`, `\N`).
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

/// The thousands separator of a file's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Thousands {
    /// Found per column: the mark that is not the decimal mark ('.' with a decimal comma, else
    /// ','), read where a column's cells group their digits in threes with it and nothing makes
    /// that ambiguous (else the file is refused, naming the column, a line and both readings).
    #[default]
    Detect,
    /// None: a cell with one is not a number (with a decimal comma, '.' stays a decimal point).
    Off,
    /// This mark: ',', '.', '\'' or ' '.
    Mark(char),
}

impl std::str::FromStr for Thousands {
    type Err = Error;
    /// `none`, `detect`, `space`, or the one character.
    fn from_str(s: &str) -> Result<Thousands> {
        match s {
            "none" => Ok(Thousands::Off),
            "detect" => Ok(Thousands::Detect),
            "space" => Ok(Thousands::Mark(' ')),
            _ => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c @ (',' | '.' | '\'' | ' ')), None) => Ok(Thousands::Mark(c)),
                    _ => Err(Error::invalid(
                        "thousands",
                        format!("{s:?}: expected ',', '.', '\'', space or none"),
                    )),
                }
            }
        }
    }
}

/// A file's text encoding, by a name the WHATWG Encoding Standard (encoding_rs) knows: `utf-8`,
/// `utf-16le`, `utf-16be`, `windows-1252` (`cp1252`), `latin-1` (`latin1`, `iso-8859-1`: read as
/// windows-1252, its superset, as browsers do), `iso-8859-15`, `shift_jis`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding(&'static encoding_rs::Encoding);

impl Encoding {
    /// UTF-8, the default.
    pub const UTF_8: Encoding = Encoding(encoding_rs::UTF_8);

    /// Its name as the Encoding Standard writes it (`UTF-8`, `UTF-16LE`, `windows-1252`).
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

impl std::str::FromStr for Encoding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Encoding> {
        let label = s.trim().to_ascii_lowercase();
        let label = match label.as_str() {
            "latin-1" => "latin1",
            "utf8" => "utf-8",
            "utf16le" => "utf-16le",
            "utf16be" => "utf-16be",
            l => l,
        };
        encoding_rs::Encoding::for_label_no_replacement(label.as_bytes())
            .map(Encoding)
            .ok_or_else(|| {
                Error::invalid(
                    "encoding",
                    format!(
                        "{s:?}: not an encoding's name; expected utf-8, utf-16le, utf-16be, windows-1252, latin-1 or another of the WHATWG Encoding Standard's names"
                    ),
                )
            })
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to read a training file: all None/empty reads it as found (delimiter and decimal mark
/// guessed, the class label in the last column, missing values imputed).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvOptions {
    /// ',', ';', '\t', '|' or ' ' (runs of spaces); None: guessed from the first lines.
    pub delimiter: Option<char>,
    /// '.' or ','; None: ',' when the first lines hold numbers written so (never for ','-files).
    pub decimal: Option<char>,
    /// The thousands separator: found per column (default), none, or this mark.
    pub thousands: Thousands,
    /// Cells that stand for a missing value besides the usual ones (empty, NA, N/A, NaN, ?,
    /// null): `#N/A`, `-`, ... (compared exactly, after the cell's spaces are trimmed).
    pub na_values: Vec<String>,
    /// Rows whose label or target is missing are left out (and counted) instead of refused.
    pub drop_missing_target: bool,
    /// The file's encoding; None: UTF-8, or UTF-16 by its byte-order mark (a byte-order mark
    /// wins over a name).
    pub encoding: Option<Encoding>,
    /// Lines that start with this character are comments, skipped.
    pub comment: Option<char>,
    /// The class column; None: the last (unless `targets`).
    pub label: Option<Column>,
    /// Real-valued target columns instead of a class column.
    pub targets: Option<TargetColumns>,
    /// Columns that are neither inputs nor targets (identifiers).
    pub ignore: Vec<Column>,
    /// Missing feature values: imputed (default) or an error.
    pub missing: Missing,
    /// Columns read as inputs even when they look like a row index or an identifier (which
    /// are otherwise left out, `LeftOut`).
    pub features: Vec<Column>,
    /// A numeric label with many distinct values, most in few rows, is read as classes
    /// anyway (otherwise refused as a regression target).
    pub many_classes: bool,
    /// Dates written with slashes are `dd/mm/yyyy` (otherwise `mm/dd/yyyy` unless a day above
    /// 12 shows the day first); a column whose cells only read month first is then refused.
    pub day_first: bool,
    /// Whether the training file's first line is a header; None: it is when no cell of it is
    /// a number, or when its cells count the columns (`0,1,2,...` or `1,2,3,...`, pandas'
    /// names for a frame's numbered columns, three or more).
    pub header: Option<bool>,
}

/// What a column is to the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Kind {
    /// A numeric input, read as `value - offset`; a missing value is the training mean.
    Numeric {
        /// The training rows' mean less `offset`, the value of a missing cell.
        mean: f32,
        /// Subtracted (in f64) from every value before it becomes an f32: the column's mean
        /// when its values differ from each other in digits an f32 would lose (see
        /// `OFFSET_RATIO`), else 0.
        #[serde(default, skip_serializing_if = "is_zero")]
        offset: f64,
    },
    /// A categorical input, one-hot over `levels` (sorted); a missing or unseen value is all
    /// zeros.
    Categorical {
        /// The training rows' distinct values, sorted.
        levels: Vec<String>,
    },
    /// A date (or datetime) input, `DATE_INPUTS` numbers (`DATE_INPUTS + TIME_INPUTS` with
    /// `time`): the day number less `offset`, the time of year as a sine and a cosine, the
    /// weekday (0 Monday to 6 Sunday), and with `time` the time of day as a sine and a cosine;
    /// a missing cell gives `means`.
    Date {
        /// How the training file wrote the dates, which every later file must too.
        form: DateForm,
        /// Whether the time of day is inputs (a training cell had one other than midnight).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        time: bool,
        /// Subtracted (in f64) from the day number, days since 1970-01-01: the training rows'
        /// mean, rounded to a day.
        offset: f64,
        /// The training rows' mean of each input (the day number less `offset`).
        means: Vec<f32>,
        /// Slashed dates whose days were all 12 or less: read as `mm/dd/yyyy`, a guess the
        /// training notes say.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        guessed: bool,
    },
    /// The class label.
    Label,
    /// A real-valued target.
    Target,
    /// Read past.
    Ignored,
}

impl Kind {
    /// The network inputs the column gives: one for a number, one per level of a category,
    /// `DATE_INPUTS` for a date (`+ TIME_INPUTS` with a time), none for the rest.
    pub fn inputs(&self) -> usize {
        match self {
            Kind::Numeric { .. } => 1,
            Kind::Categorical { levels } => levels.len(),
            Kind::Date { time, .. } => DATE_INPUTS + if *time { TIME_INPUTS } else { 0 },
            _ => 0,
        }
    }

    /// Whether the column is an input of the network.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Kind::Numeric { .. } | Kind::Categorical { .. } | Kind::Date { .. }
        )
    }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Why the fit left out a column that no option named (its kind is then `Kind::Ignored`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftOut {
    /// The first header cell is empty: pandas' index (`to_csv()`) or R's row names
    /// (`write.csv`).
    Index,
    /// Whole numbers equal to the row numbers, 0..n-1 or 1..n (from
    /// `MIN_ROWS_FOR_DISTINCT_GUARD` rows).
    RowNumbers,
    /// Whole numbers, all different, under a name like an id (`id`, `ID`, `user_id`,
    /// `PassengerId`, `index`, `rownames`, `Unnamed: 0`).
    Identifier,
    /// Texts, all different (or more than `MAX_LEVELS` of them), in every row, under a name
    /// like an id (`C00001`, a customer code).
    TextIdentifier,
    /// No cell holds a value (all empty or missing): nothing to learn from, as after a
    /// trailing delimiter on every line.
    Empty,
}

impl LeftOut {
    /// Why, in words.
    pub fn reason(self) -> &'static str {
        match self {
            LeftOut::Index => {
                "its header cell is empty, as in pandas' index or R's row names: a row index"
            }
            LeftOut::RowNumbers => "it holds the row numbers: a row index",
            LeftOut::Identifier => {
                "it holds whole numbers, all different, under an identifier's name"
            }
            LeftOut::TextIdentifier => {
                "it holds a different text in every row, under an identifier's name"
            }
            LeftOut::Empty => {
                "every cell of it is empty or missing (a trailing delimiter on every line?)"
            }
        }
    }
}

/// One column of the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// The header's name, or `column N` without a header (or under an empty header cell).
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Why the fit left it out (`Kind::Ignored`) when no option named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
}

/// The schema fitted to a training file. Inputs are the feature columns in file order, a
/// numeric column one input, a categorical one an input per level; targets the class index
/// (`classes`) or the target columns in file order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// ',', ';', '\t', '|' or ' ' (runs of spaces).
    pub delimiter: char,
    /// '.' or ','.
    pub decimal: char,
    /// The thousands separator the training file's numbers were read with, if any (a file
    /// written with another delimiter uses the mark that is not its decimal mark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands: Option<char>,
    /// The training run was told its numbers have no thousands separator (`Thousands::Off`):
    /// other files' numbers are read so too. Otherwise, with `thousands` None, a later file's
    /// cell that groups its digits with the mark that is not its decimal mark is read so when
    /// nothing else can be meant (`1.234,5`) and refused when it could be either (`1.234`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thousands_off: bool,
    /// Cells read as missing besides the usual ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub na_values: Vec<String>,
    /// Rows whose label or target is missing are left out instead of refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop_missing_target: bool,
    /// The encoding given for the training file (`Encoding::name`), which every file is read
    /// in unless its byte-order mark says otherwise; None: UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Lines that start with this character are comments, skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<char>,
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
    /// Rows left out because their label or target is missing (`drop_missing_target`).
    pub dropped: usize,
}

/// The rows of a file read with a table.
#[derive(Clone, Debug)]
pub struct Rows {
    /// The dataset (inputs and targets), named after the file.
    pub data: Dataset,
    /// Imputed and unseen cells.
    pub counts: Counts,
    /// The file's columns (by header name) that the table has no place for, not read.
    pub unused: Vec<String>,
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

impl CsvOptions {
    /// How the options read a file's bytes as lines.
    pub fn text(&self) -> Text {
        Text {
            encoding: self.encoding,
            comment: self.comment,
        }
    }
}

impl Table {
    /// How this table reads a file's bytes as lines: its encoding and comment mark.
    pub fn text(&self) -> Text {
        Text {
            encoding: self.encoding.as_deref().and_then(|e| e.parse().ok()),
            comment: self.comment,
        }
    }

    /// Whether `cell` (trimmed) is missing: a usual marker or one of `na_values`.
    pub fn is_missing(&self, cell: &str) -> bool {
        is_missing(cell) || self.na_values.iter().any(|m| m == cell)
    }

    /// `cell` as a number, as this table reads a file's numbers (None also for a cell whose
    /// digit grouping could be read two ways: see `number_read`).
    pub fn number(&self, cell: &str) -> Option<f64> {
        self.number_read(cell, self.decimal, self.thousands)
            .ok()
            .flatten()
    }

    /// `cell` as a number of a file written with the `decimal` mark and `thousands` separator
    /// (`number_in`; None when it is not one). With no thousands separator from training, unless
    /// the training run was told there is none, a cell that groups its digits in threes with the
    /// other mark (`8.000` from a decimal-comma Excel, for a model trained on small numbers) is
    /// read without it when nothing else can be meant (`1.234,5`, `1.234.567`); when the mark
    /// could be a decimal point too (`1.234`) the error holds both readings, (grouped, point).
    pub(crate) fn number_read(
        &self,
        cell: &str,
        decimal: char,
        thousands: Option<char>,
    ) -> std::result::Result<Option<f64>, (String, String)> {
        let t = if decimal == ',' { '.' } else { ',' };
        if thousands.is_none()
            && !self.thousands_off
            && cell.contains(t)
            && let Some(plain) = read::ungrouped(cell, decimal, t)
        {
            if cell.contains(decimal) || cell.matches(t).count() > 1 {
                return Ok(plain.parse().ok());
            }
            return Err((plain, cell.replace(t, ".")));
        }
        Ok(number_in(cell, decimal, thousands))
    }

    /// Network inputs: one per numeric feature, one per level of a categorical one, those of
    /// each date (`Kind::inputs`).
    pub fn inputs(&self) -> usize {
        self.columns.iter().map(|c| c.kind.inputs()).sum()
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
                Kind::Categorical { levels } => out.extend(levels.iter().map(|_| true)),
                k => out.extend(std::iter::repeat_n(false, k.inputs())),
            }
        }
        out
    }

    /// The target columns' names, in file order (the network's outputs for a regression).
    pub fn target_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| c.kind == Kind::Target)
            .map(|c| c.name.clone())
            .collect()
    }

    /// The columns the fit left out on its own: 1-based position, name, why.
    pub fn left_out(&self) -> Vec<(usize, &str, LeftOut)> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.left_out.map(|w| (i + 1, c.name.as_str(), w)))
            .collect()
    }

    /// What a run says of the table before training: a note per column the fit left out on
    /// its own (`left_out_notes`), then one per date column (`date_notes`).
    pub fn notes(&self) -> Vec<String> {
        let mut notes = self.left_out_notes();
        notes.extend(self.date_notes());
        notes
    }

    /// One note per column the fit left out on its own, saying which, why, and the setting
    /// that reads it as an input after all.
    pub fn left_out_notes(&self) -> Vec<String> {
        self.left_out()
            .into_iter()
            .map(|(i, name, why)| {
                let named = match why {
                    LeftOut::Index => String::new(),
                    _ => format!(" ({name:?})"),
                };
                format!(
                    "column {i}{named} left out: {}; the setting `features` {i} reads it as an input",
                    why.reason()
                )
            })
            .collect()
    }

    /// The 1-based column of the class label, and its name.
    pub fn label(&self) -> Option<(usize, &str)> {
        self.columns
            .iter()
            .position(|c| c.kind == Kind::Label)
            .map(|i| (i + 1, self.columns[i].name.as_str()))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod date_tests;
