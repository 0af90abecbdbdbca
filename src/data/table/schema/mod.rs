//! A CSV file described before training (`Schema::of`): the table the training run would fit,
//! each column's role and kind with its statistics (f64, from the cells), and how the file is
//! written: what `wgtrain schema` prints. Or described as a trained model's table reads it for
//! eval or predict (`Schema::read_by`, `wgtrain schema --model`).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use super::date::{self, DateTally};
use super::read::{Records, delimiter_name, open_text};
use super::{
    CsvOptions, Format, Kind, LeftOut, MAX_LEVELS, MIN_ROWS_FOR_DISTINCT_GUARD, Table, file_name,
};
use crate::error::{Error, Result};

mod model;

/// Values of a list shown in a line.
const SHOWN_VALUES: usize = 6;
/// Characters of an example value shown in a line.
const SHOWN_CHARS: usize = 24;

/// What a column is to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A feature.
    Input,
    /// The class label.
    Label,
    /// A real-valued target.
    Target,
    /// Read past (`why` says why).
    Ignored,
    /// A column a training run refuses (`why` is its error): the file does not train until
    /// it is left out, read otherwise, or corrected.
    Refused,
    /// Read past by a model's table (`Schema::read_by`): the table has no column of its name
    /// (or, without names, its position).
    Unused,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Numbers.
    Numeric,
    /// A few distinct values: one input each for a feature, the classes of a label.
    Categorical,
    /// Dates or datetimes of one written form (`Kind::Date`): numeric inputs, never an
    /// identifier.
    Date,
    /// A row index or an identifier: about one value per row.
    Identifier,
    /// Free text (values with spaces), about one value per row.
    Text,
    /// No values: every cell empty or missing.
    Empty,
}

/// A numeric column's figures, in f64 over its cells that are not missing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Figures {
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// The mean.
    pub mean: f64,
    /// The (population) standard deviation.
    pub std: f64,
}

/// The dates of a column.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DateSpan {
    /// How they are written.
    pub form: &'static str,
    /// The earliest, as written.
    pub first: String,
    /// The latest, as written.
    pub last: String,
}

/// One column of the file, as the training run would read it (or a model's table: `read_by`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnSchema {
    /// 1-based.
    pub position: usize,
    /// The header's name, or `column N`.
    pub name: String,
    /// What it is to the network.
    pub role: Role,
    /// Why an ignored column is: "the setting `ignore`", or the reason the fit left it out;
    /// why an unused one is (the model's table has no such column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What it holds.
    pub kind: ColumnKind,
    /// The network inputs it gives.
    pub inputs: usize,
    /// A categorical input's levels, the label's classes (sorted as the model orders them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<String>>,
    /// Different values among its cells that are not missing (counted up to `MAX_LEVELS` + 1).
    pub distinct: usize,
    /// A numeric column's range, mean and standard deviation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<Figures>,
    /// A date column's form (`yyyy-mm-dd`, `dd.mm.yyyy`, `mm/dd/yyyy`, `dd/mm/yyyy`), earliest
    /// and latest cell, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dates: Option<DateSpan>,
    /// Cells that are missing (empty, NA, ..., or one of the setting `na_values`).
    pub missing: usize,
    /// The first cell that is not missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// Cells read as numbers, and cells that are not (nor missing).
    #[serde(skip)]
    numbers: usize,
    #[serde(skip)]
    texts: usize,
}

/// A CSV file described: its columns, how it is written, what the network gets of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schema {
    /// The file, as given.
    pub file: String,
    /// One per column, in order.
    pub columns: Vec<ColumnSchema>,
    /// ',', ';', '\t' or ' ' (runs of spaces).
    pub delimiter: char,
    /// '.' or ','.
    pub decimal: char,
    /// The thousands separator its numbers are read with, if any.
    pub thousands: Option<char>,
    /// Whether its first line names the columns.
    pub header: bool,
    /// The encoding it is read in (`UTF-8`, `UTF-16LE`, `windows-1252`, ...).
    pub encoding: String,
    /// The mark of its comment lines, if given.
    pub comment: Option<char>,
    /// Data rows read (those left out not counted).
    pub rows: usize,
    /// Rows left out because their label or target is missing (the setting
    /// `drop_missing_target`).
    pub dropped: usize,
    /// Network inputs and outputs.
    pub inputs: usize,
    /// See `inputs`.
    pub outputs: usize,
    /// One per column the fit left out on its own, then one per date column (`Table::notes`);
    /// for a model's table, what the read settled.
    pub notes: Vec<String>,
    /// For a model's table (`Schema::read_by`): the read's error, when it refuses the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// What is counted of a column while the file is read again.
#[derive(Default)]
struct Tally {
    missing: usize,
    numbers: usize,
    texts: usize,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
    values: BTreeSet<String>,
    spaces: bool,
    example: Option<String>,
    /// The cells as dates of each form (what an ignored column holds).
    dates: DateTally,
    /// A date column's earliest and latest cell, with their moments.
    span: Option<[((i64, f64), String); 2]>,
}

impl Tally {
    fn cell(&mut self, cell: &str, table: &Table, kind: &Kind) {
        if table.is_missing(cell) {
            self.missing += 1;
            return;
        }
        if self.example.is_none() {
            self.example = Some(cell.to_string());
        }
        self.dates.cell(0, cell);
        if let Kind::Date { form, .. } = kind
            && let Some(m) = date::parse(cell, *form)
        {
            let at = ((m.days, m.seconds), cell.to_string());
            match &mut self.span {
                None => self.span = Some([at.clone(), at]),
                Some([first, last]) => {
                    if at.0 < first.0 {
                        *first = at;
                    } else if at.0 > last.0 {
                        *last = at;
                    }
                }
            }
        }
        if self.values.len() <= MAX_LEVELS && !self.values.contains(cell) {
            self.values.insert(cell.to_string());
        }
        match table.number(cell).filter(|v| v.is_finite()) {
            Some(v) => {
                if self.numbers == 0 {
                    (self.min, self.max) = (v, v);
                }
                self.numbers += 1;
                self.min = self.min.min(v);
                self.max = self.max.max(v);
                let d = v - self.mean;
                self.mean += d / self.numbers as f64;
                self.m2 += d * (v - self.mean);
            }
            None => {
                self.texts += 1;
                self.spaces |= cell.contains(char::is_whitespace);
            }
        }
    }

    fn figures(&self) -> Option<Figures> {
        (self.numbers > 0 && self.texts == 0).then(|| Figures {
            min: self.min,
            max: self.max,
            mean: self.mean,
            std: (self.m2 / self.numbers as f64).max(0.0).sqrt(),
        })
    }
}

impl Schema {
    /// Fits the table to `path` as a training run with the options `o` would, and describes
    /// the file with it. A column the run would refuse is described too, with role `Refused`
    /// and the run's error as `why` (`Schema::refusal` gives it as the error); an error that is
    /// not one column's (no such file, a ragged row, no input column left) is the run's.
    pub fn of(path: &Path, o: &CsvOptions) -> Result<Schema> {
        let (table, n, refused) = Table::fit_describing(path, o)?;
        let (_, encoding) = open_text(path, o.encoding)?;
        let format = Format {
            delimiter: table.delimiter,
            decimal: table.decimal,
            text: table.text(),
        };
        let mut tallies: Vec<Tally> = table.columns.iter().map(|_| Tally::default()).collect();
        let mut rec = Records::open(path, format)?;
        let mut first = true;
        let mut dropped = 0;
        while rec.next()?.is_some() {
            if std::mem::take(&mut first) && table.header {
                continue;
            }
            let cells: Vec<&str> = rec.record.iter().collect();
            let drop = table.drop_missing_target
                && table.columns.iter().zip(&cells).any(|(c, cell)| {
                    matches!(c.kind, Kind::Label | Kind::Target) && table.is_missing(cell)
                });
            if drop {
                dropped += 1;
                continue;
            }
            for ((t, cell), c) in tallies.iter_mut().zip(&cells).zip(&table.columns) {
                t.cell(cell, &table, &c.kind);
            }
        }
        let mut columns: Vec<ColumnSchema> = table
            .columns
            .iter()
            .zip(tallies)
            .enumerate()
            .map(|(i, (c, t))| column(&table, i, c, t, n))
            .collect();
        for (c, e) in refused {
            let column = &mut columns[c];
            column.role = Role::Refused;
            column.why = Some(match e {
                Error::Data { msg, .. } => msg,
                e => e.to_string(),
            });
            // Mostly numbers (some written for people, or a few stray texts): numeric, not
            // the identifier its many distinct cells would make an ignored column.
            if column.numbers > 0 && column.numbers >= column.texts {
                column.kind = ColumnKind::Numeric;
            }
        }
        Ok(Schema {
            file: path.display().to_string(),
            columns,
            delimiter: table.delimiter,
            decimal: table.decimal,
            thousands: table.thousands,
            header: table.header,
            encoding: encoding.name().to_string(),
            comment: table.comment,
            rows: n,
            dropped,
            inputs: table.inputs(),
            outputs: table.outputs(),
            notes: table.notes(),
            refused: None,
        })
    }

    /// The description for people: a line per column under a heading, then the file's line,
    /// the network's, and the notes; each setting named as `setting` names it (the CLI's
    /// flags; `|s| format!("the setting `{s}`")` for the library's words).
    pub fn lines(&self, setting: impl Fn(&str) -> String) -> Vec<String> {
        let named = |s: &str| crate::error::name_settings(s, &setting);
        let mut table: Vec<[String; 7]> = vec![
            [
                "column", "name", "role", "kind", "missing", "values", "example",
            ]
            .map(String::from),
        ];
        for c in &self.columns {
            table.push([
                c.position.to_string(),
                c.name.clone(),
                named(&role(c)),
                format!("{:?}", c.kind).to_lowercase(),
                c.missing.to_string(),
                values(c),
                c.example.as_deref().map_or(String::new(), shorten),
            ]);
        }
        let widths: Vec<usize> = (0..7)
            .map(|k| {
                table
                    .iter()
                    .map(|r| r[k].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out: Vec<String> = table
            .iter()
            .map(|r| {
                let cells: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(k, (cell, &w))| match k {
                        0 | 4 => format!("{cell:>w$}"),
                        _ => format!("{cell:<w$}"),
                    })
                    .collect();
                cells.join("  ").trim_end().to_string()
            })
            .collect();
        let name = file_name(Path::new(&self.file));
        out.push(named(&format!(
            "file: {name}: {}-separated, decimal mark '{}', {}, {}, {}{}, {} rows{}",
            delimiter_name(self.delimiter),
            self.decimal,
            match self.thousands {
                Some(' ') => "thousands separated by spaces".to_string(),
                Some(t) => format!("thousands separator '{t}'"),
                None => "no thousands separator".to_string(),
            },
            if self.header {
                "a header line"
            } else {
                "no header line (columns go by number)"
            },
            self.encoding,
            self.comment
                .map_or(String::new(), |c| format!(", comment lines '{c}'")),
            self.rows,
            match self.dropped {
                0 => String::new(),
                d => format!(
                    " ({d} more left out: the label or target is missing, the setting `drop_missing_target`)"
                ),
            }
        )));
        out.push(format!(
            "network: {} inputs, {} outputs",
            self.inputs, self.outputs
        ));
        out.extend(self.notes.iter().map(|n| format!("note: {}", named(n))));
        out.extend(
            self.columns
                .iter()
                .filter(|c| c.role == Role::Refused)
                .filter_map(|c| c.why.as_deref())
                .chain(self.refused.as_deref())
                .map(|why| format!("refused: {}", named(why))),
        );
        out
    }

    /// The error a training run on the file gives for its first refused column, or a model's
    /// read for the file (`read_by`), if any.
    pub fn refusal(&self) -> Option<Error> {
        self.columns
            .iter()
            .find(|c| c.role == Role::Refused)
            .map(|c| c.why.clone().unwrap_or_default())
            .or_else(|| self.refused.clone())
            .map(|why| Error::data(&self.file, why))
    }
}

/// Column `i` of `table` (`c`) described from what was counted of it (`t`) in `rows` rows.
fn column(table: &Table, i: usize, c: &super::ColumnInfo, t: Tally, rows: usize) -> ColumnSchema {
    let distinct = t.values.len();
    // More values than a category has (the fit's rule), or a different one in every row.
    let many = distinct > MAX_LEVELS
        || (rows >= MIN_ROWS_FOR_DISTINCT_GUARD && 2 * distinct > rows)
        || (rows > 2 && distinct == rows);
    let figures = t.figures();
    let (role, why, kind, levels) = match &c.kind {
        Kind::Numeric { .. } => (Role::Input, None, ColumnKind::Numeric, None),
        Kind::Date { .. } => (Role::Input, None, ColumnKind::Date, None),
        Kind::Categorical { levels } => (
            Role::Input,
            None,
            ColumnKind::Categorical,
            Some(levels.clone()),
        ),
        Kind::Label => (
            Role::Label,
            None,
            ColumnKind::Categorical,
            table.classes.clone(),
        ),
        Kind::Target => (Role::Target, None, ColumnKind::Numeric, None),
        Kind::Ignored => {
            let why = c.left_out.map_or("the setting `ignore`".to_string(), |w| {
                w.reason().to_string()
            });
            let kind = if c.left_out == Some(LeftOut::Empty) {
                ColumnKind::Empty
            } else if c.left_out.is_some() {
                ColumnKind::Identifier
            } else if t.dates.cells > 0 && !matches!(t.dates.settle(false), Ok(None)) {
                // Dates, or dates but for a few stray cells (a column the fit refused).
                ColumnKind::Date
            } else if figures.is_some() {
                ColumnKind::Numeric
            } else if many && t.spaces {
                ColumnKind::Text
            } else if many {
                ColumnKind::Identifier
            } else {
                ColumnKind::Categorical
            };
            (Role::Ignored, Some(why), kind, None)
        }
    };
    ColumnSchema {
        position: i + 1,
        name: c.name.clone(),
        role,
        why,
        kind,
        inputs: c.kind.inputs(),
        levels,
        distinct,
        figures: figures.filter(|_| kind == ColumnKind::Numeric),
        dates: match (&c.kind, t.span) {
            (Kind::Date { form, .. }, Some([first, last])) => Some(DateSpan {
                form: form.pattern(),
                first: first.1,
                last: last.1,
            }),
            _ => None,
        },
        missing: t.missing,
        example: t.example,
        numbers: t.numbers,
        texts: t.texts,
    }
}

/// A column's role in a line: `ignored (the setting `ignore`)`, `left out (identifier)`.
fn role(c: &ColumnSchema) -> String {
    match c.role {
        Role::Input => "input".into(),
        Role::Label => "label".into(),
        Role::Target => "target".into(),
        Role::Ignored if c.why.as_deref() == Some("the setting `ignore`") => {
            "ignored (the setting `ignore`)".into()
        }
        Role::Ignored => match c.why.as_deref() {
            Some(w)
                if w == LeftOut::Identifier.reason() || w == LeftOut::TextIdentifier.reason() =>
            {
                "left out (identifier)".into()
            }
            Some(w) if w == LeftOut::RowNumbers.reason() => "left out (row numbers)".into(),
            Some(w) if w == LeftOut::Empty.reason() => "left out (empty)".into(),
            _ => "left out (row index)".into(),
        },
        Role::Refused => "refused (see below)".into(),
        Role::Unused => "unused (not in the model)".into(),
    }
}

/// A column's values in a line: levels or classes, range, mean and std, or how many.
fn values(c: &ColumnSchema) -> String {
    if let Some(levels) = &c.levels {
        let what = if c.role == Role::Label {
            "classes"
        } else {
            "levels"
        };
        let shown: Vec<&str> = levels
            .iter()
            .take(SHOWN_VALUES)
            .map(String::as_str)
            .collect();
        return format!(
            "{} {what}: {}{}",
            levels.len(),
            shown.join(", "),
            if levels.len() > SHOWN_VALUES {
                ", ..."
            } else {
                ""
            }
        );
    }
    if let Some(d) = &c.dates {
        return format!(
            "{} to {} ({}), {} inputs",
            d.first, d.last, d.form, c.inputs
        );
    }
    if let Some(f) = &c.figures {
        return format!(
            "{} to {}, mean {}, std {}",
            f.min,
            f.max,
            figure(f.mean),
            figure(f.std)
        );
    }
    if c.distinct > MAX_LEVELS {
        return format!("more than {MAX_LEVELS} different");
    }
    format!("{} different", c.distinct)
}

/// A mean or deviation to 4 significant digits (an integer as it is).
fn figure(v: f64) -> String {
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        return format!("{v}");
    }
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.decimals$}")
}

/// A cell cut to `SHOWN_CHARS` characters.
fn shorten(cell: &str) -> String {
    if cell.chars().count() <= SHOWN_CHARS {
        return cell.to_string();
    }
    let cut: String = cell.chars().take(SHOWN_CHARS - 3).collect();
    format!("{cut}...")
}
