//! Reading files with a fitted table (`Table::read`), the table of a legacy model, checking a
//! table read from a checkpoint, and describing one for people.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::read::{Records, delimiter_name, formatted_number};
use super::{
    CHECK_EVERY, ColumnInfo, Counts, DROP_HINT, Format, Kind, MAX_LEVELS, Missing, Need, Rows,
    SPACES, Table, at_column, file_name, header_names, number, number_in,
};
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};

impl Table {
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
            left_out: None,
        };
        let mut columns: Vec<ColumnInfo> = (0..inputs)
            .map(|_| {
                column(Kind::Numeric {
                    mean: 0.0,
                    offset: 0.0,
                })
            })
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
            thousands: None,
            na_values: Vec::new(),
            drop_missing_target: false,
            encoding: None,
            comment: None,
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
                Kind::Numeric { mean, offset } if !mean.is_finite() || !offset.is_finite() => {
                    return bad(format!(
                        "column {:?} has the mean {mean} and the offset {offset}",
                        c.name
                    ));
                }
                Kind::Categorical { levels }
                    if levels.is_empty() || levels.len() > MAX_LEVELS + 1 =>
                {
                    return bad(format!("column {:?} has {} levels", c.name, levels.len()));
                }
                Kind::Date { offset, means, .. }
                    if means.len() != c.kind.inputs()
                        || !offset.is_finite()
                        || means.iter().any(|m| !m.is_finite()) =>
                {
                    return bad(format!(
                        "date column {:?} has the offset {offset} and {} means ({} inputs)",
                        c.name,
                        means.len(),
                        c.kind.inputs()
                    ));
                }
                _ => {}
            }
        }
        if self.inputs() == 0 {
            return bad("no input column".into());
        }
        if let Some(e) = &self.encoding
            && e.parse::<super::Encoding>().is_err()
        {
            return bad(format!("the encoding {e:?}, which is no encoding's name"));
        }
        Ok(())
    }

    /// One line for people: the columns and what they are.
    pub fn describe(&self) -> String {
        let numeric = self.count(|k| matches!(k, Kind::Numeric { .. }));
        let dates = self.count(|k| matches!(k, Kind::Date { .. }));
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
            "{delimiter}-separated{}{}{}, {numeric} numeric",
            if self.decimal == ',' {
                ", decimal comma"
            } else {
                ""
            },
            match self.thousands {
                Some(' ') => ", thousands separated by spaces".to_string(),
                Some(t) => format!(", thousands separator '{t}'"),
                None => String::new(),
            },
            if self.header {
                ", header"
            } else {
                ", no header"
            }
        );
        if let Some(e) = &self.encoding {
            s += &format!(", {e}");
        }
        if let Some(c) = self.comment {
            s += &format!(", comment lines '{c}'");
        }
        if dates > 0 {
            s += &format!(
                "{} {dates} date",
                if cats.is_empty() { " and" } else { "," }
            );
        }
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

    /// How `path` writes its cells: as the training file did, unless its own delimiter (guessed
    /// from its first lines) splits its first line into more cells; then its own delimiter and
    /// decimal mark, and the thousands separator that is not that decimal mark when the
    /// training file had one.
    pub(super) fn format_of(&self, path: &Path) -> (Format, Option<char>) {
        let own = Format {
            delimiter: self.delimiter,
            decimal: self.decimal,
            text: self.text(),
        };
        match self.other_delimiter(path) {
            Some(d) => {
                let decimal =
                    super::read::sniff(path, Some(d), None, self.text()).map_or('.', |f| f.decimal);
                let thousands = self
                    .thousands
                    .map(|_| if decimal == ',' { '.' } else { ',' });
                (
                    Format {
                        delimiter: d,
                        decimal,
                        text: self.text(),
                    },
                    thousands,
                )
            }
            None => (own, self.thousands),
        }
    }

    /// Reads `path` with this schema: columns matched by header name when the table and the
    /// file both have names, else by position; the file's own delimiter (`format_of`).
    /// `rows`: how many rows to expect (to allocate once), when known.
    pub fn read(&self, path: &Path, need: Need, rows: Option<usize>) -> Result<Rows> {
        let (format, thousands) = self.format_of(path);
        let num = |cell: &str| number_in(cell, format.decimal, thousands);
        let err = |line: usize, msg: String| Error::data(path, format!("line {line}: {msg}"));
        let mut rec = Records::open(path, format)?;
        let Some(first_line) = rec.next()? else {
            return Err(Error::data(
                path,
                "no data rows: the file is empty, or holds only blank lines",
            ));
        };
        let first: Vec<String> = rec.record.iter().map(String::from).collect();
        // The first line does not fit the table: a comment or an unclosed quote there, or a
        // file written with another delimiter, before the columns it lacks.
        let first_cause = rec.width_cause(first_line);
        let misfit = |msg: String| match &first_cause {
            Some(why) => Error::data(path, why.clone()),
            None => err(
                first_line,
                if format.delimiter == self.delimiter {
                    msg
                } else {
                    format!(
                        "{msg} (the file read as {}-separated)",
                        delimiter_name(format.delimiter)
                    )
                },
            ),
        };
        let any_number = first.iter().any(|c| num(c).is_some());
        // The file's columns by name, an empty header cell as `column N` the way the fit names
        // it (pandas' index), each name's positions in order: lookups, not scans, for wide
        // files.
        let file_names = header_names(&first, true);
        let mut file_columns: HashMap<&str, Vec<usize>> = HashMap::with_capacity(first.len());
        for (i, c) in file_names.iter().enumerate() {
            file_columns.entry(c.as_str()).or_default().push(i);
        }
        let names_match = self
            .columns
            .iter()
            .any(|t| file_columns.contains_key(t.name.as_str()));
        let has_numeric = self.count(|k| matches!(k, Kind::Numeric { .. })) > 0;
        let header = !any_number && (self.header || names_match || has_numeric);
        let by_name = header && self.header;
        // src[j]: the file's column for table column j, None when absent.
        let outputs_kind = |k: &Kind| matches!(k, Kind::Label | Kind::Target);
        let w = self.columns.len();
        let without = w - self.count(outputs_kind);
        let src: Vec<Option<usize>> = if by_name {
            let mut src = Vec::with_capacity(w);
            // A name the table has more than once (a checkpoint from before duplicates were
            // refused, or ones ignored by number) takes the file's same occurrence of it.
            let mut occurrence: HashMap<&str, usize> = HashMap::new();
            let mut table_names: HashMap<&str, usize> = HashMap::new();
            for c in &self.columns {
                *table_names.entry(c.name.as_str()).or_insert(0) += 1;
            }
            for (j, c) in self.columns.iter().enumerate() {
                let k = occurrence.entry(c.name.as_str()).or_insert(0);
                let at = file_columns.get(c.name.as_str());
                let found = at.and_then(|at| at.get(*k)).copied();
                *k += 1;
                let optional = c.kind == Kind::Ignored
                    || (outputs_kind(&c.kind) && matches!(need, Need::Features { .. }));
                let twice = at.filter(|at| at.len() > table_names[c.name.as_str()]);
                if let Some(at) = twice
                    && !optional
                {
                    return Err(err(
                        first_line,
                        format!(
                            "columns {} and {} are both named {:?}, column {} of the training file: rename or remove one, so that the column is known",
                            at[0] + 1,
                            at[1] + 1,
                            c.name,
                            j + 1
                        ),
                    ));
                }
                if found.is_none() && !optional {
                    return Err(misfit(format!(
                        "no column is named {:?}, column {} of the training file ({})",
                        c.name,
                        j + 1,
                        match c.kind {
                            Kind::Label => "the label",
                            Kind::Target => "a target",
                            _ => "an input",
                        }
                    )));
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
                return Err(misfit(match need {
                    Need::Targets => format!(
                        "{found} columns, but the model takes {features} inputs: give {w} columns, with {what} where the training file had it"
                    ),
                    Need::Features { .. } => format!(
                        "{found} columns, but the model takes {features} inputs: give {without} columns, or {w} with {what} where the training file had it"
                    ),
                }));
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
        // Features only: the label and target cells are read past.
        let labelled = need == Need::Targets
            && self.classes.is_some()
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
            if need == Need::Targets
                && self.drop_missing_target
                && self.columns.iter().zip(&src).any(|(c, s)| {
                    outputs_kind(&c.kind) && s.is_some_and(|s| self.is_missing(cells[s]))
                })
            {
                counts.dropped += 1;
                return Ok(());
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
                    Kind::Numeric { mean, offset } => {
                        if self.is_missing(cell) {
                            if self.missing == Missing::Error {
                                return Err(refuse_missing());
                            }
                            counts.imputed += 1;
                            x.push(*mean);
                            continue;
                        }
                        match num(cell) {
                            Some(v) if v.is_finite() && (v as f32).is_finite() => {
                                x.push((v - offset) as f32)
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
                                let why = formatted_number(cell, format.decimal).map_or(
                                    String::new(),
                                    |what| {
                                        format!(
                                            " (a number written with {what}: write the column as plain numbers)"
                                        )
                                    },
                                );
                                return Err(err(
                                    line,
                                    format!("{}: {cell:?} is not a number{why}", at()),
                                ));
                            }
                        }
                    }
                    Kind::Date {
                        form,
                        time,
                        offset,
                        means,
                        ..
                    } => {
                        if self.is_missing(cell) {
                            if self.missing == Missing::Error {
                                return Err(refuse_missing());
                            }
                            counts.imputed += 1;
                            x.extend_from_slice(means);
                            continue;
                        }
                        let Some(m) = super::date::parse(cell, *form) else {
                            return Err(err(
                                line,
                                format!(
                                    "{}: {cell:?} is not a date written {}, as the training file wrote the column",
                                    at(),
                                    form.pattern()
                                ),
                            ));
                        };
                        let (v, k) = super::date::inputs(&m, *time);
                        x.push((v[0] - offset) as f32);
                        x.extend(v[1..k].iter().map(|&v| v as f32));
                    }
                    Kind::Categorical { levels } => {
                        let start = x.len();
                        x.extend(std::iter::repeat_n(0.0, levels.len()));
                        if self.is_missing(cell) {
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
                        if self.is_missing(cell) {
                            return Err(err(
                                line,
                                format!("{}: the label is missing{DROP_HINT}", at()),
                            ));
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
                    Kind::Target if need != Need::Targets => {}
                    Kind::Target => match num(cell) {
                        Some(v) if v.is_finite() && (v as f32).is_finite() => values.push(v as f32),
                        _ if self.is_missing(cell) => {
                            return Err(err(
                                line,
                                format!("{}: the target is missing{DROP_HINT}", at()),
                            ));
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
            if rec.record.len() != width
                && let Some(why) = rec.width_cause(line)
            {
                return Err(Error::data(path, why));
            }
            let cells: Vec<&str> = rec.record.iter().collect();
            row(line, &cells)?;
        }
        if n == 0 {
            return Err(super::no_data_rows(path, header, first_line));
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

    /// The delimiter `path` is written with when it is not this table's: the one guessed from
    /// its first lines, when that one splits its first line into more cells than this table's.
    fn other_delimiter(&self, path: &Path) -> Option<char> {
        let text = self.text();
        let theirs = super::read::sniff(path, None, None, text).ok()?.delimiter;
        (theirs != self.delimiter
            && super::read::first_width(path, theirs, text)
                > super::read::first_width(path, self.delimiter, text))
        .then_some(theirs)
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
