//! Fitting the schema to a training file (`Table::fit`): each column's role from the options,
//! what the rows say of each feature (numeric or categorical, means and levels), the class
//! names; and checking options given again against a fitted table (`Table::check_options`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use super::date::{DateTally, Stray};
use csv::StringRecord;

use super::read::{Records, delimiter_name, formatted_number, sniff, ungrouped};
use super::{
    At, CHECK_EVERY, CONTINUOUS_LABEL_CLASSES, Column, ColumnInfo, CsvOptions, DROP_HINT,
    FEW_ROWS_PER_CLASS, Format, Kind, LEVEL_BYTES, LeftOut, MAX_CLASSES, MAX_LEVELS,
    MIN_ROWS_FOR_DISTINCT_GUARD, Missing, Need, OFFSET_RATIO, Rows, Table, TargetColumns,
    Thousands, at_column, header_names, is_missing, line_error, number, number_in,
};
use crate::error::{Error, Result};

/// What the fit learns of one column while it reads.
#[derive(Default)]
struct Stat {
    numbers: usize,
    texts: usize,
    first_text: Option<(usize, String)>,
    first_number: Option<(usize, String)>,
    sum: f64,
    /// Welford's running mean and sum of squared deviations of the numbers, in f64 (the cells'
    /// values, before any cast to f32).
    running_mean: f64,
    m2: f64,
    values: BTreeSet<String>,
    overflow: bool,
    /// Rows whose cell is the row's number, counted from 0 and from 1.
    row_numbers: [usize; 2],
    /// A column named like an id: its whole numbers while every cell is one (else None).
    ids: Option<Vec<i64>>,
    /// The label's rows per value.
    label_rows: BTreeMap<String, usize>,
    /// The first cell that groups its digits with the thousands candidate (`1.234`, `12,345`).
    grouped: Option<(usize, String)>,
    /// A grouped cell could not be read another way (`1,234,567`, `1,234.5`, `1.234,5`).
    grouped_sure: bool,
    /// The first number that uses the thousands candidate otherwise: as a decimal point (`3.5`
    /// in a decimal-comma file).
    candidate_other: Option<(usize, String)>,
    /// The cells as dates of each form.
    dates: DateTally,
}

/// How the fit reads numbers: the decimal mark, and the thousands separator it tries (the one
/// given, or with `detect` the mark that is not the decimal mark; None with `Thousands::Off`).
#[derive(Clone, Copy)]
struct Numbers {
    decimal: char,
    thousands: Option<char>,
    detect: bool,
}

impl Numbers {
    fn read(&self, cell: &str) -> Option<f64> {
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
    fn numeric(&self) -> Kind {
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

    /// Why a feature column that no option named is left out, if it is: the row numbers
    /// (from `MIN_ROWS_FOR_DISTINCT_GUARD` rows), or all-different whole numbers under an id's
    /// name (`ids` is only kept for those).
    fn left_out(&self, rows: usize) -> Option<LeftOut> {
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
fn numbers(thousands: Thousands, format: super::Format) -> Result<Numbers> {
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
        Thousands::Mark(' ') if format.delimiter == super::SPACES => {
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
fn settle_thousands(
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

/// The error for column `at` of `path`, dates but for a cell (`Stray`).
fn stray(path: &Path, at: &str, e: Stray) -> Error {
    Error::data(
        path,
        format!(
            "line {}: {at}: {:?} is not a date written {}, but {} of the column's {} cells are: correct the cell, make it empty (a missing value), or leave the column out with the setting `ignore`",
            e.line,
            e.cell,
            e.form.pattern(),
            e.dates,
            e.cells
        ),
    )
}

/// Whether `name` reads like an identifier's: `id`, `ID`, `Id`, `idx`, `index`, `*_id`,
/// `*-id`, `*.id`, `* id`, `customerId`/`PassengerID`, `rownames`, `row_id`, `Unnamed: 0`
/// (pandas reading back a file written with its index).
pub(crate) fn id_like(name: &str) -> bool {
    let name = name.trim();
    let lower = name.to_ascii_lowercase();
    const NAMES: [&str; 9] = [
        "id",
        "idx",
        "index",
        "row",
        "rowid",
        "rownames",
        "row.names",
        "row_names",
        "rowname",
    ];
    if NAMES.contains(&lower.as_str()) || lower.starts_with("unnamed:") {
        return true;
    }
    if ["_id", "-id", ".id", " id"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        return true;
    }
    // camelCase: PassengerId, customerID.
    let before = name.len().saturating_sub(2);
    (name.ends_with("Id") || name.ends_with("ID"))
        && name[..before]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_lowercase())
}

/// Header names must differ, but for columns ignored by number: the first pair that does not
/// is an error naming both positions.
fn duplicates(path: &Path, line: usize, names: &[String], o: &CsvOptions) -> Result<()> {
    let by_number: BTreeSet<usize> = o
        .ignore
        .iter()
        .filter_map(|c| match c {
            Column::Number(n) => Some(*n),
            Column::Name(_) => None,
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if by_number.contains(&(i + 1)) {
            continue;
        }
        if let Some(j) = seen.insert(n.as_str(), i + 1) {
            return Err(Error::data(
                path,
                format!(
                    "line {line}: columns {j} and {} are both named {n:?}: rename one, or leave one out by its number with the setting `ignore`",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
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
            if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(s)) {
                return Error::invalid(
                    what,
                    format!(
                        "{s:?}: no column has that name, but {n:?} differs only in case (names are matched exactly)"
                    ),
                );
            }
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
    for c in &o.features {
        let i = resolve(c, names, header, "features")?;
        if roles[i].is_some() {
            return Err(Error::invalid(
                "features",
                format!(
                    "column {} ({:?}) is the label, a target or ignored",
                    i + 1,
                    names[i]
                ),
            ));
        }
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
        let (file, mut rec) = Source::open(path, o)?;
        let mut roles = Roles::new(&file, rec.record[0].is_empty())?;
        let mut tally = Tally::new(&file, &roles);
        if !file.header {
            tally.row(file.first_line, &rec.record)?;
        }
        while let Some(line) = rec.next()? {
            if rec.record.len() != file.width
                && let Some(why) = rec.width_cause(line)
            {
                return Err(Error::data(path, why));
            }
            tally.row(line, &rec.record)?;
        }
        drop(rec);
        let (stats, rows, decimal_shown) = tally.finish()?;
        let thousands = settle_thousands(
            path,
            &stats,
            &file.names,
            file.header,
            file.numbers,
            decimal_shown,
        )?;
        roles.leave_out(&file, &stats, rows)?;
        let table = file.table(roles, stats, rows, thousands)?;
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
        let given = match o.thousands {
            Thousands::Detect => None,
            Thousands::Off => Some(None),
            Thousands::Mark(t) => Some(Some(t)),
        };
        if let Some(t) = given.filter(|&t| t != self.thousands) {
            let show = |t: Option<char>| t.map_or("none".to_string(), |t| format!("{t:?}"));
            return contradicts("thousands", show(t), show(self.thousands));
        }
        if !o.na_values.is_empty() && o.na_values != self.na_values {
            return contradicts(
                "na_values",
                format!("{:?}", o.na_values),
                format!("{:?}", self.na_values),
            );
        }
        if let Some(e) = o.encoding {
            let had = self.encoding.as_deref().unwrap_or("UTF-8");
            if e.name() != had {
                return contradicts("encoding", e.name().to_string(), had.to_string());
            }
        }
        if let Some(c) = o.comment.filter(|&c| Some(c) != self.comment) {
            let had = self
                .comment
                .map_or("no comment mark".to_string(), |c| format!("{c:?}"));
            return contradicts("comment", format!("{c:?}"), had);
        }
        if o.drop_missing_target && !self.drop_missing_target {
            return contradicts(
                "drop_missing_target",
                "true".into(),
                "rows with a missing label or target refused".into(),
            );
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
        for c in &o.features {
            if index(c, "features")
                .ok()
                .is_none_or(|i| !self.columns[i].kind.is_input())
            {
                return contradicts("features", c.to_string(), "it as no input".into());
            }
        }
        Ok(())
    }
}

/// The training file as its first line shows it: how its cells split and read as numbers, and
/// its columns' names.
struct Source<'a> {
    path: &'a Path,
    o: &'a CsvOptions,
    format: Format,
    numbers: Numbers,
    /// The first line's number, and why it lacks cells when the line itself says.
    first_line: usize,
    first_cause: Option<String>,
    /// The first line is a header (no cell of it is a number).
    header: bool,
    names: Vec<String>,
    /// Cells per row.
    width: usize,
}

impl<'a> Source<'a> {
    /// Opens `path` as `o` says (the delimiter and decimal mark guessed where not given) and
    /// reads its first record: the file's records, left at that one. An error for a file
    /// without two columns, or with a header that names two alike.
    fn open(path: &'a Path, o: &'a CsvOptions) -> Result<(Source<'a>, Records)> {
        let hint = match o.thousands {
            Thousands::Mark(',') => Some('.'),
            Thousands::Mark('.') => Some(','),
            _ => None,
        };
        let format = sniff(path, o.delimiter, o.decimal.or(hint), o.text())?;
        let numbers = numbers(o.thousands, format)?;
        let mut rec = Records::open(path, format)?;
        let first_line = rec.first()?;
        let first: Vec<String> = rec.record.iter().map(String::from).collect();
        let first_cause = rec.width_cause(first_line);
        if first.len() < 2 {
            return Err(too_narrow(path, o, first_line, first.len(), first_cause));
        }
        let header = first.iter().all(|c| numbers.read(c).is_none());
        let names = header_names(&first, header);
        if header {
            duplicates(path, first_line, &names, o)?;
        }
        let file = Source {
            path,
            o,
            format,
            numbers,
            first_line,
            first_cause,
            header,
            width: first.len(),
            names,
        };
        Ok((file, rec))
    }

    /// Where column `c` is, for messages on `line`.
    fn at(&self, line: usize, c: usize) -> At<'_> {
        At {
            path: self.path,
            line,
            index: c,
            name: &self.names[c],
            header: self.header,
        }
    }

    /// The table fitted: each column's kind from its role and its cells' statistics `stats`
    /// (`rows` rows), the class names, the reading options.
    fn table(
        &self,
        roles: Roles,
        stats: Vec<Stat>,
        rows: usize,
        thousands: Option<char>,
    ) -> Result<Table> {
        let o = self.o;
        let mut columns = Vec::with_capacity(self.width);
        let mut classes = None;
        let mut numeric_classes = false;
        for (c, (role, s)) in roles.roles.into_iter().zip(stats).enumerate() {
            let kind = match role {
                Some(Kind::Label) => {
                    let (names, numeric) = self.classes(c, s, rows)?;
                    classes = Some(names);
                    numeric_classes = numeric;
                    Kind::Label
                }
                Some(k) => k,
                None => self.feature(c, s, rows)?,
            };
            columns.push(ColumnInfo {
                name: self.names[c].clone(),
                kind,
                left_out: roles.left_out[c],
            });
        }
        Ok(Table {
            delimiter: self.format.delimiter,
            decimal: self.format.decimal,
            thousands,
            na_values: o.na_values.clone(),
            drop_missing_target: o.drop_missing_target,
            encoding: o
                .encoding
                .filter(|&e| e != super::Encoding::UTF_8)
                .map(|e| e.name().to_string()),
            comment: o.comment,
            header: self.header,
            columns,
            classes,
            numeric_classes,
            missing: o.missing,
        })
    }

    /// The class names of the label, column `c` (`class_names`), with the hint that says how
    /// to read it as a target instead.
    fn classes(&self, c: usize, s: Stat, rows: usize) -> Result<(Vec<String>, bool)> {
        let name = &self.names[c];
        let at = at_column(c, name, self.header);
        let plain = self.header && !name.contains([' ', ',', '"', '\'']);
        let col = if plain {
            name.clone()
        } else {
            (c + 1).to_string()
        };
        let hint = format!(
            "load it as real-valued targets (the setting `targets` {col} with the setting `loss` mse)"
        );
        let (decimal, many) = (self.format.decimal, self.o.many_classes);
        class_names(self.path, &at, &hint, s, rows, decimal, many)
    }

    /// The kind of the feature column `c`, from its cells' statistics `s`: numeric when every
    /// cell is a number, else dates, else categorical; an error for a column of numbers
    /// written for people, numbers with a few stray texts, or texts too many to be categories.
    fn feature(&self, c: usize, s: Stat, rows: usize) -> Result<Kind> {
        if s.texts == 0 {
            return Ok(s.numeric());
        }
        let (path, decimal) = (self.path, self.format.decimal);
        let at = at_column(c, &self.names[c], self.header);
        if let Some(d) = s.dates.settle().map_err(|e| stray(path, &at, e))? {
            return Ok(Kind::Date {
                form: d.form,
                time: d.time,
                offset: d.offset,
                means: d.means,
                guessed: d.guessed,
            });
        }
        if let Some(what) = s
            .first_text
            .as_ref()
            .and_then(|(_, cell)| formatted_number(cell, decimal))
            && !s.overflow
            && s.values
                .iter()
                .all(|v| number(v, decimal).is_some() || formatted_number(v, decimal).is_some())
        {
            let (line, cell) = s.first_text.unwrap_or_default();
            return Err(line_error(
                path,
                line,
                format!(
                    "{at}: {cell:?} is a number written with {what}, which a table of values does not read as one: write the column as plain numbers (in Excel, a Number format without them){}",
                    if what == "thousands separators" {
                        ", or give the setting `thousands`"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if s.numbers >= s.texts {
            let (line, cell) = s.first_text.unwrap_or_default();
            let (nline, ncell) = s.first_number.unwrap_or_default();
            let hint = if line == self.first_line && !self.header {
                " (line 1 is read as data because a cell of it is a number; a header line names every column)"
            } else {
                ""
            };
            return Err(line_error(
                path,
                line,
                format!(
                    "{at}: {cell:?} is not a number, but most of the column is (line {nline} has {ncell:?}){hint}"
                ),
            ));
        }
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
        Ok(Kind::Categorical {
            levels: s.values.into_iter().collect(),
        })
    }
}

/// The error for a file whose first line (`first_line`, with `width` cells, and why it lacks
/// cells when the line itself says) is not two columns or more: the cause, a delimiter given
/// that does not split the file when another does, or no delimiter splitting it.
fn too_narrow(
    path: &Path,
    o: &CsvOptions,
    first_line: usize,
    width: usize,
    first_cause: Option<String>,
) -> Error {
    if let Some(why) = first_cause {
        return Error::data(path, why);
    }
    if let Some(given) = o.delimiter
        && let Ok(guess) = sniff(path, None, o.decimal, o.text())
        && guess.delimiter != given
        && super::read::first_width(path, guess.delimiter, o.text()) >= 2
    {
        return Error::invalid(
            "delimiter",
            format!(
                "is {}, which does not split line {first_line} of {} into columns; the file looks {}-separated: give that, or leave the setting out to have it guessed",
                delimiter_name(given),
                path.display(),
                delimiter_name(guess.delimiter)
            ),
        );
    }
    line_error(
        path,
        first_line,
        format!(
            "{width} column: need at least one input and the label (no ',', ';', tab or run of spaces splits the first lines into columns)"
        ),
    )
}

/// What each column is before the rows are read: its role from the options (None: a
/// feature), the features read whatever they look like, and the columns left out and why.
struct Roles {
    roles: Vec<Option<Kind>>,
    /// Columns named by the setting `features`.
    kept: BTreeSet<usize>,
    left_out: Vec<Option<LeftOut>>,
}

impl Roles {
    /// The roles the options give `file`'s columns; a first column with an empty header cell
    /// (`first_empty`: pandas' index) is left out unless kept.
    fn new(file: &Source, first_empty: bool) -> Result<Roles> {
        let (names, header, o) = (&file.names, file.header, file.o);
        let mut roles = roles(names, header, o)?;
        let kept: BTreeSet<usize> = o
            .features
            .iter()
            .map(|c| resolve(c, names, header, "features"))
            .collect::<Result<_>>()?;
        let mut left_out: Vec<Option<LeftOut>> = vec![None; file.width];
        if header && first_empty && roles[0].is_none() && !kept.contains(&0) {
            roles[0] = Some(Kind::Ignored);
            left_out[0] = Some(LeftOut::Index);
        }
        Ok(Roles {
            roles,
            kept,
            left_out,
        })
    }

    /// Leaves out the features no option named that the rows show to be row numbers or
    /// identifiers (`Stat::left_out`); an error when no input column is left.
    fn leave_out(&mut self, file: &Source, stats: &[Stat], rows: usize) -> Result<()> {
        for (c, s) in stats.iter().enumerate() {
            if self.roles[c].is_none()
                && !self.kept.contains(&c)
                && let Some(why) = s.left_out(rows)
            {
                self.roles[c] = Some(Kind::Ignored);
                self.left_out[c] = Some(why);
            }
        }
        if self.roles.iter().all(Option::is_some)
            && let Some(c) = self.left_out.iter().position(Option::is_some)
        {
            return Err(Error::data(
                file.path,
                format!(
                    "no input column is left: {} is left out because {}; read it as an input with the setting `features`",
                    at_column(c, &file.names[c], file.header),
                    self.left_out[c].map_or("", LeftOut::reason)
                ),
            ));
        }
        Ok(())
    }
}

/// What the fit's first read learns, row by row: each column's statistics, the rows read and
/// dropped, whether the decimal mark shows, and the bytes the categories' levels take.
struct Tally<'a> {
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
    fn new(file: &'a Source<'a>, roles: &'a Roles) -> Tally<'a> {
        let stats = (0..file.width)
            .map(|c| Stat {
                ids: (roles.roles[c].is_none()
                    && !roles.kept.contains(&c)
                    && id_like(&file.names[c]))
                .then(Vec::new),
                ..Stat::default()
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
    fn row(&mut self, line: usize, cells: &StringRecord) -> Result<()> {
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
            let trailing = cell.is_empty()
                && c + 1 == file.width
                && file.o.label.is_none()
                && file.format.delimiter != super::SPACES;
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
    fn finish(self) -> Result<(Vec<Stat>, usize, bool)> {
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
            return Err(super::no_data_rows(path, file.header, file.first_line));
        }
        Ok((self.stats, self.rows, self.decimal_shown))
    }
}

/// The class names of the label column `at` of `path`, sorted, and whether they are integers;
/// an error when the column looks like a regression target (unless `many_classes`): numbers
/// that are not integers, more values than half the rows, or `CONTINUOUS_LABEL_CLASSES`
/// integers or more, half of them in fewer than `FEW_ROWS_PER_CLASS` rows. `regression` says
/// how to load it as targets instead.
fn class_names(
    path: &Path,
    at: &str,
    regression: &str,
    s: Stat,
    rows: usize,
    decimal: char,
    many_classes: bool,
) -> Result<(Vec<String>, bool)> {
    let hint = format!("{regression}, or keep it as classes with the setting `many_classes`");
    let nums: Option<Vec<(f64, usize)>> = s
        .label_rows
        .iter()
        .map(|(v, &n)| number(v, decimal).map(|v| (v, n)))
        .collect();
    let (names, counts, numeric) = match nums {
        Some(nums) => {
            if let Some((v, _)) = nums
                .iter()
                .find(|(v, _)| v.fract() != 0.0 || v.abs() >= 1e15)
            {
                return Err(Error::data(
                    path,
                    format!(
                        "the label, {at}, holds numbers that are not integers (like {v}): more like a regression target than class labels; {regression}"
                    ),
                ));
            }
            let mut by_class: BTreeMap<i64, usize> = BTreeMap::new();
            for (v, n) in nums {
                *by_class.entry(v as i64).or_insert(0) += n;
            }
            let names = by_class.keys().map(|v| v.to_string()).collect::<Vec<_>>();
            (names, by_class.into_values().collect::<Vec<_>>(), true)
        }
        None => {
            let (names, counts) = s.label_rows.into_iter().unzip();
            (names, counts, false)
        }
    };
    let distinct = names.len();
    if s.overflow || (!many_classes && rows >= MIN_ROWS_FOR_DISTINCT_GUARD && distinct > rows / 2) {
        return Err(Error::data(
            path,
            format!(
                "the label column holds {}{distinct} different values in {rows} rows: more like a regression target than class labels; {}",
                if s.overflow { "more than " } else { "" },
                if s.overflow { regression } else { &hint }
            ),
        ));
    }
    let few = counts.iter().filter(|&&n| n < FEW_ROWS_PER_CLASS).count();
    if numeric && !many_classes && distinct >= CONTINUOUS_LABEL_CLASSES && 2 * few >= distinct {
        return Err(Error::data(
            path,
            format!(
                "the label, {at}, holds {distinct} different integers in {rows} rows, {few} of them in fewer than {FEW_ROWS_PER_CLASS} rows: more like a regression target than class labels; {hint}"
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
