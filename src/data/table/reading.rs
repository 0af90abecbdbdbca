//! A read with a fitted table in progress (`Reading`, for `Table::read`): each row's cells,
//! by their column's kind, into the inputs and the labels or target values, with the counts of
//! cells imputed, unseen and rows dropped.

use std::collections::HashMap;
use std::path::Path;

use csv::StringRecord;

use super::apply::is_output;
use super::read::formatted_number;
use super::{
    At, CHECK_EVERY, Counts, DROP_HINT, DateForm, Kind, Missing, Need, Rows, Table, file_name,
    line_error, number,
};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};

/// How a file's columns meet a table's.
pub(super) struct Layout {
    /// The file's first line is a header.
    pub(super) header: bool,
    /// src[j]: the file's column for table column j, None when absent.
    pub(super) src: Vec<Option<usize>>,
    /// The file's cells per row.
    pub(super) width: usize,
}

/// A read in progress (`Table::read`): the lookups each row uses, the rows so far (inputs,
/// labels or target values) and the counts.
pub(super) struct Reading<'a> {
    table: &'a Table,
    path: &'a Path,
    need: Need,
    /// The file's first line is a header.
    header: bool,
    /// src[j]: the file's column for table column j, None when absent.
    src: Vec<Option<usize>>,
    /// The file's cells per row.
    pub(super) width: usize,
    /// The file's decimal mark and thousands separator.
    decimal: char,
    thousands: Option<char>,
    class_index: HashMap<&'a str, u32>,
    /// Per table column, a categorical one's level indices.
    level_index: Vec<HashMap<&'a str, usize>>,
    /// The labels are read (else, features only: the label and target cells are read past).
    labelled: bool,
    /// The rows expected, when known.
    expected: Option<usize>,
    /// Inputs per row, and label or target values per row.
    dim: usize,
    width_out: usize,
    x: Vec<f32>,
    labels: Vec<u32>,
    values: Vec<f32>,
    counts: Counts,
    /// Rows read.
    n: usize,
}

impl<'a> Reading<'a> {
    /// The lookups for reading with `table`, and room for `rows` rows when known (checked
    /// against the memory the process may use).
    pub(super) fn new(
        table: &'a Table,
        path: &'a Path,
        need: Need,
        rows: Option<usize>,
        (decimal, thousands): (char, Option<char>),
        Layout { header, src, width }: Layout,
    ) -> Result<Reading<'a>> {
        let class_index: HashMap<&str, u32> = table
            .classes
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        let level_index: Vec<HashMap<&str, usize>> = table
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
        let labelled = need == Need::Targets
            && table.classes.is_some()
            && src
                .iter()
                .zip(&table.columns)
                .any(|(s, c)| s.is_some() && c.kind == Kind::Label);
        let dim = table.inputs();
        let width_out = if table.classes.is_some() {
            1
        } else {
            table.outputs()
        };
        let mut x: Vec<f32> = Vec::new();
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
        Ok(Reading {
            table,
            path,
            need,
            header,
            src,
            width,
            decimal,
            thousands,
            class_index,
            level_index,
            labelled,
            expected: rows,
            dim,
            width_out,
            x,
            labels: Vec::new(),
            values: Vec::new(),
            counts: Counts::default(),
            n: 0,
        })
    }
}

impl Reading<'_> {
    /// Reads the row `cells` (on `line`): each column's cells by its kind, the row left out
    /// when its label or target is missing and the table says to drop such rows.
    pub(super) fn row(&mut self, line: usize, cells: &StringRecord) -> Result<()> {
        if cells.len() != self.width {
            return Err(line_error(
                self.path,
                line,
                format!("{} columns, expected {}", cells.len(), self.width),
            ));
        }
        self.make_room()?;
        if self.drops(cells) {
            self.counts.dropped += 1;
            return Ok(());
        }
        let table = self.table;
        for (j, c) in table.columns.iter().enumerate() {
            let Some(s) = self.src[j] else { continue };
            let cell = &cells[s];
            let at = At {
                path: self.path,
                line,
                index: s,
                name: &c.name,
                header: self.header,
            };
            match &c.kind {
                Kind::Ignored => {}
                Kind::Numeric { mean, offset } => self.numeric(cell, *mean, *offset, &at)?,
                Kind::Date {
                    form,
                    time,
                    offset,
                    means,
                    ..
                } => self.date(cell, *form, *time, *offset, means, &at)?,
                Kind::Categorical { levels } => self.categorical(j, cell, levels, &at)?,
                Kind::Label if self.labelled => self.label(cell, &at)?,
                Kind::Label => {}
                Kind::Target if self.need == Need::Targets => self.target(cell, &at)?,
                Kind::Target => {}
            }
        }
        self.count_row()
    }

    /// Room for one more row, or an error saying memory ran out.
    fn make_room(&mut self) -> Result<()> {
        if self.x.try_reserve(self.dim).is_err()
            || self.values.try_reserve(self.width_out).is_err()
            || self.labels.try_reserve(1).is_err()
        {
            return Err(Error::OutOfMemory(format!(
                "the rows of {}: no memory for row {}",
                self.path.display(),
                self.n + 1
            )));
        }
        Ok(())
    }

    /// Whether the row `cells` is left out: its label or a target is missing, and the table
    /// drops such rows.
    fn drops(&self, cells: &StringRecord) -> bool {
        let t = self.table;
        self.need == Need::Targets
            && t.drop_missing_target
            && t.columns
                .iter()
                .zip(&self.src)
                .any(|(c, s)| is_output(&c.kind) && s.is_some_and(|s| t.is_missing(&cells[s])))
    }

    /// Whether the feature `cell` is missing (then counted as imputed); an error when it is
    /// and the table's setting `missing` is error.
    fn imputed(&mut self, cell: &str, at: &At) -> Result<bool> {
        if !self.table.is_missing(cell) {
            return Ok(false);
        }
        if self.table.missing == Missing::Error {
            return Err(at.error(format!(
                "a missing value ({cell:?}), and the setting `missing` is error (mean imputes them)"
            )));
        }
        self.counts.imputed += 1;
        Ok(true)
    }

    /// A numeric feature's input: the cell less the column's offset, or its mean when missing.
    fn numeric(&mut self, cell: &str, mean: f32, offset: f64, at: &At) -> Result<()> {
        if self.imputed(cell, at)? {
            self.x.push(mean);
            return Ok(());
        }
        match self.number(cell, at)? {
            Some(v) if v.is_finite() && (v as f32).is_finite() => {
                self.x.push((v - offset) as f32);
                Ok(())
            }
            Some(_) => Err(at.error(format!(
                "{cell:?} is not finite (infinite, or beyond f32 range)"
            ))),
            None => {
                let why = formatted_number(cell, self.decimal).map_or(String::new(), |what| {
                    format!(" (a number written with {what}: write the column as plain numbers)")
                });
                Err(at.error(format!("{cell:?} is not a number{why}")))
            }
        }
    }

    /// The number `cell` as the file writes it (`Table::number_read`), or the error naming
    /// both readings of a cell whose digit grouping could be read two ways.
    fn number(&self, cell: &str, at: &At) -> Result<Option<f64>> {
        self.table
            .number_read(cell, self.decimal, self.thousands)
            .map_err(|(grouped, point)| {
                let t = if self.decimal == ',' { '.' } else { ',' };
                at.error(format!(
                    "{cell:?} reads as {grouped} with {t:?} as a thousands separator or as {point} with {t:?} as a decimal point, and the training file's numbers group no digits to show which: write it without the separator, or train with the setting `thousands` {t:?} (or none)"
                ))
            })
    }

    /// A date feature's inputs (`date::inputs`, the day number less `offset`), or the
    /// column's `means` when missing.
    fn date(
        &mut self,
        cell: &str,
        form: DateForm,
        time: bool,
        offset: f64,
        means: &[f32],
        at: &At,
    ) -> Result<()> {
        if self.imputed(cell, at)? {
            self.x.extend_from_slice(means);
            return Ok(());
        }
        let Some(m) = super::date::parse(cell, form) else {
            return Err(at.error(format!(
                "{cell:?} is not a date written {}, as the training file wrote the column",
                form.pattern()
            )));
        };
        let (v, k) = super::date::inputs(&m, time);
        self.x.push((v[0] - offset) as f32);
        self.x.extend(v[1..k].iter().map(|&v| v as f32));
        Ok(())
    }

    /// A categorical feature's inputs (of table column `j`): one per level, 1 for the cell's;
    /// all 0 when missing or unseen in training (an error reading features strictly).
    fn categorical(&mut self, j: usize, cell: &str, levels: &[String], at: &At) -> Result<()> {
        let start = self.x.len();
        self.x.extend(std::iter::repeat_n(0.0, levels.len()));
        if self.imputed(cell, at)? {
            return Ok(());
        }
        if let Some(&i) = self.level_index[j].get(cell) {
            self.x[start + i] = 1.0;
        } else if self.need == (Need::Features { strict: true }) {
            return Err(at.error(format!(
                "{cell:?} is not one of the column's values in training ({})",
                preview(levels)
            )));
        } else {
            self.counts.unseen += 1;
        }
        Ok(())
    }

    /// The class of the label `cell`; an error when it is missing or a class training did not
    /// see.
    fn label(&mut self, cell: &str, at: &At) -> Result<()> {
        if self.table.is_missing(cell) {
            return Err(at.error(format!("the label is missing{DROP_HINT}")));
        }
        let name = self.table.class_name(cell);
        match self.class_index.get(name.as_str()) {
            Some(&i) => {
                self.labels.push(i);
                Ok(())
            }
            None => Err(at.error(format!(
                "label {cell:?} was not seen in training (its classes: {})",
                preview(self.table.classes.as_deref().unwrap_or_default())
            ))),
        }
    }

    /// The target `cell`'s value; an error when it is missing or not a finite number.
    fn target(&mut self, cell: &str, at: &At) -> Result<()> {
        match self.number(cell, at)? {
            Some(v) if v.is_finite() && (v as f32).is_finite() => {
                self.values.push(v as f32);
                Ok(())
            }
            _ if self.table.is_missing(cell) => {
                Err(at.error(format!("the target is missing{DROP_HINT}")))
            }
            _ => Err(at.error(format!("{cell:?} is not a finite number"))),
        }
    }

    /// Counts a row read: more rows than expected is an error (the file changed), and every
    /// `CHECK_EVERY` rows of a file of unknown length the memory so far is checked.
    fn count_row(&mut self) -> Result<()> {
        self.n += 1;
        let n = self.n;
        if self.expected.is_some_and(|r| n > r) {
            return Err(Error::data(
                self.path,
                "changed while it was read: more rows the second time",
            ));
        }
        if n.is_multiple_of(CHECK_EVERY) && self.expected.is_none() {
            crate::memory::check(
                &format!("reading {}: {n} rows so far", self.path.display()),
                (n as u64).saturating_mul((self.dim + self.width_out) as u64 * 8),
            )?;
        }
        Ok(())
    }

    /// The rows read as a dataset (an error for none after the first line, `first_line`): the
    /// labels or target values read, or, reading features only, targets no one reads.
    pub(super) fn finish(self, first_line: usize) -> Result<Rows> {
        let n = self.n;
        if n == 0 {
            return Err(super::no_data_rows(self.path, self.header, first_line));
        }
        let t = self.table;
        let targets = match &t.classes {
            Some(c) if self.labelled => Targets::Classes {
                labels: self.labels,
                n_classes: c.len(),
            },
            _ if !self.values.is_empty() => Targets::Values {
                values: self.values,
                width: t.outputs(),
            },
            // Features only: targets no one reads.
            Some(c) => Targets::Classes {
                labels: vec![0; n],
                n_classes: c.len(),
            },
            None => Targets::Values {
                values: vec![0.0; n * t.outputs().max(1)],
                width: t.outputs().max(1),
            },
        };
        let data = Dataset::new(file_name(self.path), self.x, n, self.dim, targets)?;
        Ok(Rows {
            data,
            counts: self.counts,
            unused: Vec::new(),
        })
    }
}

impl Table {
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
