//! What the fit's first read learns of each column, row by row (`Tally`, one `Stat` per
//! column: counts, the running mean, distinct values, dates, digit grouping), and the thousands
//! separator that settles on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use csv::StringRecord;

use super::super::date::DateTally;
use super::super::read::{delimiter_name, ungrouped};
use super::super::{
    At, CHECK_EVERY, DROP_HINT, Format, Kind, LEVEL_BYTES, LeftOut, MAX_CLASSES, MAX_LEVELS,
    MIN_ROWS_FOR_DISTINCT_GUARD, Missing, OFFSET_RATIO, Thousands, at_column, is_missing,
    line_error, number, number_in,
};
use super::{Roles, Source, id_like};
use crate::error::{Error, Result};

/// What the fit learns of one column while it reads.
#[derive(Default)]
pub(super) struct Stat {
    pub(super) numbers: usize,
    pub(super) texts: usize,
    pub(super) first_text: Option<(usize, String)>,
    pub(super) first_number: Option<(usize, String)>,
    pub(super) sum: f64,
    /// Welford's running mean and sum of squared deviations of the numbers, in f64 (the cells'
    /// values, before any cast to f32).
    pub(super) running_mean: f64,
    pub(super) m2: f64,
    pub(super) values: BTreeSet<String>,
    pub(super) overflow: bool,
    /// Rows whose cell is the row's number, counted from 0 and from 1.
    pub(super) row_numbers: [usize; 2],
    /// A column named like an id: its whole numbers while every cell is one (else None).
    pub(super) ids: Option<Vec<i64>>,
    /// A feature column no option named, under a name like an id's.
    pub(super) id_named: bool,
    /// The label's rows per value.
    pub(super) label_rows: BTreeMap<String, usize>,
    /// The first cell that groups its digits with the thousands candidate (`1.234`, `12,345`).
    pub(super) grouped: Option<(usize, String)>,
    /// A grouped cell could not be read another way (`1,234,567`, `1,234.5`, `1.234,5`).
    pub(super) grouped_sure: bool,
    /// The first number that uses the thousands candidate otherwise: as a decimal point (`3.5`
    /// in a decimal-comma file).
    pub(super) candidate_other: Option<(usize, String)>,
    /// The cells as dates of each form.
    pub(super) dates: DateTally,
}

/// How the fit reads numbers: the decimal mark, and the thousands separator it tries (the one
/// given, or with `detect` the mark that is not the decimal mark; None with `Thousands::Off`).
#[derive(Clone, Copy)]
pub(super) struct Numbers {
    decimal: char,
    thousands: Option<char>,
    detect: bool,
}

impl Numbers {
    pub(super) fn read(&self, cell: &str) -> Option<f64> {
        number_in(cell, self.decimal, self.thousands)
    }

    /// Whether `cell` shows the decimal mark in use beyond doubt (`3.5`, `1,234.5`; a
    /// decimal comma is only ever guessed from such a cell).
    fn shows_decimal(&self, cell: &str) -> bool {
        cell.contains(self.decimal)
            && (number(cell, self.decimal).is_some()
                || self
                    .thousands
                    .is_some_and(|t| ungrouped(cell, self.decimal, t).is_some()))
    }
}

impl Stat {
    /// Counts the number `v` of row `row` (0-based).
    fn number(&mut self, v: f64, row: usize) {
        self.numbers += 1;
        self.sum += v;
        let d = v - self.running_mean;
        self.running_mean += d / self.numbers as f64;
        self.m2 += d * (v - self.running_mean);
        for (k, n) in self.row_numbers.iter_mut().enumerate() {
            if v == (row + k) as f64 {
                *n += 1;
            }
        }
        if let Some(ids) = &mut self.ids {
            if v.fract() == 0.0 && v.abs() < 9e15 {
                ids.push(v as i64);
            } else {
                self.ids = None;
            }
        }
    }

    /// Notes how the number `cell` (on `line`) uses the thousands candidate `t`.
    fn thousands(&mut self, line: usize, cell: &str, n: Numbers) {
        let Some(t) = n.thousands.filter(|_| n.detect) else {
            return;
        };
        if !cell.contains(t) {
            return;
        }
        if ungrouped(cell, n.decimal, t).is_some() {
            // Another reading: t as the decimal mark, with one group and no decimal part.
            let other = if cell.contains(n.decimal) {
                None
            } else {
                number(&cell.replace(t, "."), '.').filter(|_| cell.matches(t).count() == 1)
            };
            self.grouped_sure |= other.is_none();
            if self.grouped.is_none() {
                self.grouped = Some((line, cell.to_string()));
            }
        } else if self.candidate_other.is_none() {
            self.candidate_other = Some((line, cell.to_string()));
        }
    }

    /// The (population) standard deviation of the numbers.
    fn std(&self) -> f64 {
        (self.m2 / self.numbers.max(1) as f64).max(0.0).sqrt()
    }

    /// The numeric feature: its mean (from the f64 values), read less that mean when the
    /// values sit `OFFSET_RATIO` standard deviations or more from zero.
    pub(super) fn numeric(&self) -> Kind {
        if self.numbers == 0 {
            return Kind::Numeric {
                mean: 0.0,
                offset: 0.0,
            };
        }
        let mean = self.sum / self.numbers as f64;
        let std = self.std();
        let offset = if std > 0.0 && mean.abs() > OFFSET_RATIO * std {
            mean
        } else {
            0.0
        };
        Kind::Numeric {
            mean: (mean - offset) as f32,
            offset,
        }
    }

    /// Why a feature column that no option named is left out, if it is: no value in any row,
    /// the row numbers (from `MIN_ROWS_FOR_DISTINCT_GUARD` rows), or all-different whole
    /// numbers or texts under an id's name (`ids` is only kept for those).
    pub(super) fn left_out(&self, rows: usize) -> Option<LeftOut> {
        if rows > 0 && self.numbers == 0 && self.texts == 0 {
            return Some(LeftOut::Empty);
        }
        if self.id_named
            && rows > 1
            && self.numbers == 0
            && self.texts == rows
            && (self.overflow || self.values.len() == rows)
        {
            return Some(LeftOut::TextIdentifier);
        }
        if self.numbers != rows || self.texts > 0 {
            return None;
        }
        if rows >= MIN_ROWS_FOR_DISTINCT_GUARD && self.row_numbers.contains(&rows) {
            return Some(LeftOut::RowNumbers);
        }
        let ids = self.ids.as_ref().filter(|ids| ids.len() == rows)?;
        let distinct: BTreeSet<i64> = ids.iter().copied().collect();
        (distinct.len() == rows).then_some(LeftOut::Identifier)
    }
}

/// How the fit reads the numbers of a file of `format` given the setting `thousands`: a mark
/// given must differ from the decimal mark and the delimiter (',' in a ','-file is in quotes).
pub(super) fn numbers(thousands: Thousands, format: Format) -> Result<Numbers> {
    let other = if format.decimal == ',' { '.' } else { ',' };
    let (thousands, detect) = match thousands {
        Thousands::Detect => (Some(other), true),
        Thousands::Off => (None, false),
        Thousands::Mark(t) if t == format.decimal => {
            return Err(Error::invalid(
                "thousands",
                format!("{t:?} is the decimal mark too: give the setting `decimal` {other:?}"),
            ));
        }
        Thousands::Mark(' ') if format.delimiter == super::super::SPACES => {
            return Err(Error::invalid(
                "thousands",
                "' ' cannot group digits in a file whose columns are separated by spaces",
            ));
        }
        Thousands::Mark(t) => (Some(t), false),
    };
    Ok(Numbers {
        decimal: format.decimal,
        thousands,
        detect,
    })
}

/// The thousands separator the training file's numbers are read with: the one given, or (to
/// detect) the candidate when a numeric column groups digits with it and nothing makes that
/// ambiguous. A column that also uses the candidate as a decimal point, or whose grouped cells
/// could each be a decimal number in a file whose decimal mark nothing shows (`12,345` among
/// whole numbers), is refused naming the column, a line, both readings and the settings.
pub(super) fn settle_thousands(
    path: &Path,
    stats: &[Stat],
    names: &[String],
    header: bool,
    n: Numbers,
    decimal_shown: bool,
) -> Result<Option<char>> {
    let Some(t) = n.thousands else {
        return Ok(None);
    };
    if !n.detect {
        return Ok(Some(t));
    }
    let mut used = false;
    for (c, s) in stats.iter().enumerate() {
        let Some((line, cell)) = &s.grouped else {
            continue;
        };
        if s.texts > 0 {
            continue;
        }
        let at = at_column(c, &names[c], header);
        let grouped = ungrouped(cell, n.decimal, t).unwrap_or_default();
        if let Some((other_line, other)) = &s.candidate_other {
            return Err(Error::data(
                path,
                format!(
                    "line {line}: {at}: {cell:?} reads as {grouped} with {t:?} as a thousands separator, but line {other_line} has {other:?}, which uses {t:?} as a decimal point: give the setting `thousands` {t:?} to read {t:?} as a thousands separator throughout, or the setting `thousands` none to read it as a decimal point"
                ),
            ));
        }
        if !s.grouped_sure && !decimal_shown {
            let decimal = number(&cell.replace(t, "."), '.').unwrap_or_default();
            return Err(Error::data(
                path,
                format!(
                    "line {line}: {at}: {cell:?} reads as {grouped} with {t:?} as a thousands separator or as {decimal} with {t:?} as the decimal mark, and no number of the file shows which: give the setting `thousands` {t:?} or the setting `decimal` {t:?}"
                ),
            ));
        }
        used = true;
    }
    Ok(used.then_some(t))
}

/// What the fit's first read learns, row by row: each column's statistics, the rows read and
/// dropped, whether the decimal mark shows, and the bytes the categories' levels take.
pub(super) struct Tally<'a> {
    file: &'a Source<'a>,
    roles: &'a [Option<Kind>],
    stats: Vec<Stat>,
    rows: usize,
    dropped: usize,
    /// The decimal mark is given, or in use beyond doubt (a ',' file's '.', a decimal comma).
    decimal_shown: bool,
    level_bytes: usize,
    /// Inputs per row, in the memory checks (a feature's, and the label's).
    data_width: usize,
}

impl<'a> Tally<'a> {
    /// Nothing counted yet; an id-like feature column's whole numbers are kept (to tell an
    /// identifier).
    pub(super) fn new(file: &'a Source<'a>, roles: &'a Roles) -> Tally<'a> {
        let stats = (0..file.width)
            .map(|c| {
                let id_named =
                    roles.roles[c].is_none() && !roles.kept.contains(&c) && id_like(&file.names[c]);
                Stat {
                    ids: id_named.then(Vec::new),
                    id_named,
                    ..Stat::default()
                }
            })
            .collect();
        let o = file.o;
        Tally {
            file,
            roles: &roles.roles,
            stats,
            rows: 0,
            dropped: 0,
            decimal_shown: o.decimal.is_some()
                || file.format.delimiter == ','
                || file.format.decimal == ',',
            level_bytes: 0,
            data_width: roles.roles.iter().filter(|r| r.is_none()).count() + 1,
        }
    }

    /// Whether `cell` marks a missing value (a usual marker, or one of the setting
    /// `na_values`).
    fn missing(&self, cell: &str) -> bool {
        is_missing(cell) || self.file.o.na_values.iter().any(|m| m == cell)
    }

    /// Counts the row `cells` (on `line`), each cell by its column's role; a row whose label
    /// or target is missing is dropped when the options say so.
    pub(super) fn row(&mut self, line: usize, cells: &StringRecord) -> Result<()> {
        if cells.len() != self.file.width {
            return Err(self.width_error(line, cells.len()));
        }
        let roles = self.roles;
        if self.file.o.drop_missing_target
            && roles.iter().zip(cells).any(|(r, cell)| {
                matches!(r, Some(Kind::Label | Kind::Target)) && self.missing(cell)
            })
        {
            self.dropped += 1;
            return Ok(());
        }
        for (c, cell) in cells.iter().enumerate() {
            let at = self.file.at(line, c);
            if !self.decimal_shown && roles[c] != Some(Kind::Ignored) {
                self.decimal_shown = self.file.numbers.shows_decimal(cell);
            }
            match &roles[c] {
                Some(Kind::Ignored) => {}
                Some(Kind::Target) => self.target(c, cell, &at)?,
                Some(Kind::Label) => self.label(c, cell, &at)?,
                _ => self.feature(c, cell, &at)?,
            }
        }
        self.rows += 1;
        let rows = self.rows;
        if rows.is_multiple_of(CHECK_EVERY) {
            crate::memory::check(
                &format!("reading {}: {rows} rows so far", self.file.path.display()),
                (rows as u64).saturating_mul(self.data_width as u64 * 4),
            )?;
        }
        Ok(())
    }

    /// The error for a row (on `line`) of `found` cells where the file has `width`: after a
    /// header, the first row's says the header and the rows disagree (or what the header line
    /// itself shows).
    fn width_error(&self, line: usize, found: usize) -> Error {
        let (file, width) = (self.file, self.file.width);
        if !(file.header && self.rows == 0) {
            return line_error(
                file.path,
                line,
                format!("{found} columns, expected {width}"),
            );
        }
        match &file.first_cause {
            Some(why) => Error::data(file.path, why.clone()),
            None => line_error(
                file.path,
                file.first_line,
                format!(
                    "the header names {width} columns, but the first data row (line {line}) has {found}: the header and the rows must have as many cells"
                ),
            ),
        }
    }

    /// Counts the target `cell` of column `c`; an error when it is missing or not a finite
    /// number.
    fn target(&mut self, c: usize, cell: &str, at: &At) -> Result<()> {
        let numbers = self.file.numbers;
        match numbers.read(cell) {
            Some(v) if v.is_finite() && (v as f32).is_finite() => {
                self.stats[c].thousands(at.line, cell, numbers);
                Ok(())
            }
            _ if self.missing(cell) => Err(at.error(format!("the target is missing{DROP_HINT}"))),
            Some(_) => Err(at.error(format!(
                "{cell:?} is not finite (infinite, or beyond f32 range)"
            ))),
            None => Err(at.error(format!("{cell:?} is not a number"))),
        }
    }

    /// Counts the label `cell` of column `c` among its values (up to `MAX_CLASSES`); an error
    /// when it is missing, saying so when a trailing delimiter emptied the last column.
    fn label(&mut self, c: usize, cell: &str, at: &At) -> Result<()> {
        if self.missing(cell) {
            let file = self.file;
            let by_default = c + 1 == file.width && file.o.label.is_none();
            // A header that names the last column says its empty cells are missing labels,
            // not a delimiter left at the end of every line.
            let unnamed = !file.header || file.names[c] == format!("column {}", c + 1);
            let trailing = cell.is_empty()
                && by_default
                && unnamed
                && file.format.delimiter != super::super::SPACES;
            if by_default && !unnamed {
                return Err(at.error(format!(
                    "the label is missing{DROP_HINT}; the label is the last column by default: name another with the setting `label`"
                )));
            }
            if trailing {
                return Err(line_error(
                    file.path,
                    at.line,
                    format!(
                        "{}, the last, is empty, and the label is taken from the last column: the line ends with {}, a trailing delimiter; remove it from the lines, or name the label column with the setting `label`",
                        at.column(),
                        delimiter_name(file.format.delimiter)
                    ),
                ));
            }
            return Err(at.error(format!("the label is missing{DROP_HINT}")));
        }
        let s = &mut self.stats[c];
        if let Some(n) = s.label_rows.get_mut(cell) {
            *n += 1;
        } else if s.label_rows.len() >= MAX_CLASSES {
            s.overflow = true;
        } else {
            s.label_rows.insert(cell.to_string(), 1);
        }
        Ok(())
    }

    /// Counts the feature `cell` of column `c`: a number, a text (and a date of each form it
    /// may be), a distinct value while there is room for them; an error for a value that is
    /// not finite, or a missing one when the setting `missing` is error.
    fn feature(&mut self, c: usize, cell: &str, at: &At) -> Result<()> {
        let (line, rows, numbers) = (at.line, self.rows, self.file.numbers);
        if self.missing(cell) {
            self.stats[c].ids = None;
            if self.file.o.missing == Missing::Error {
                return Err(at.error(format!(
                    "a missing value ({cell:?}), and the setting `missing` is error (mean imputes them)"
                )));
            }
            return Ok(());
        }
        let s = &mut self.stats[c];
        s.dates.cell(line, cell);
        match numbers.read(cell) {
            Some(v) if v.is_finite() && (v as f32).is_finite() => {
                s.number(v, rows);
                s.thousands(line, cell, numbers);
                if s.first_number.is_none() {
                    s.first_number = Some((line, cell.to_string()));
                }
            }
            Some(_) => {
                return Err(at.error(format!(
                    "{cell:?} is not finite (infinite, or beyond f32 range)"
                )));
            }
            None => {
                s.texts += 1;
                s.ids = None;
                if s.first_text.is_none() {
                    s.first_text = Some((line, cell.to_string()));
                }
            }
        }
        if !s.overflow && !s.values.contains(cell) {
            if s.values.len() >= MAX_LEVELS || self.level_bytes + cell.len() > LEVEL_BYTES {
                s.overflow = true;
            } else {
                self.level_bytes += cell.len();
                s.values.insert(cell.to_string());
            }
        }
        Ok(())
    }

    /// The statistics, the rows counted and whether the decimal mark showed; an error when
    /// no row was counted.
    pub(super) fn finish(self) -> Result<(Vec<Stat>, usize, bool)> {
        let path = self.file.path;
        if self.rows == 0 && self.dropped > 0 {
            return Err(Error::data(
                path,
                format!(
                    "no data rows: the label or target is missing on all {} rows, which the setting `drop_missing_target` leaves out",
                    self.dropped
                ),
            ));
        }
        if self.rows == 0 {
            let file = self.file;
            return Err(super::super::no_data_rows(
                path,
                file.header,
                file.first_line,
            ));
        }
        Ok((self.stats, self.rows, self.decimal_shown))
    }
}
