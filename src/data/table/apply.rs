//! Reading files with a fitted table (`Table::read`), the table of a legacy model, checking a
//! table read from a checkpoint, and describing one for people.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use csv::StringRecord;

use super::read::{Records, delimiter_name, formatted_number};
use super::{
    At, CHECK_EVERY, ColumnInfo, Counts, DROP_HINT, DateForm, Format, Kind, MAX_LEVELS, Missing,
    Need, Rows, SPACES, Table, file_name, header_names, line_error, number, number_in,
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
        let mut rec = Records::open(path, format)?;
        let first_line = rec.first()?;
        let first: Vec<String> = rec.record.iter().map(String::from).collect();
        let misfit = Misfit {
            path,
            line: first_line,
            cause: rec.width_cause(first_line),
            read_as: (format.delimiter != self.delimiter).then_some(format.delimiter),
        };
        let numbers = (format.decimal, thousands);
        let layout = self.layout(&first, numbers, need, &misfit)?;
        let header = layout.header;
        let mut reading = Reading::new(self, path, need, rows, numbers, layout)?;
        if !header {
            reading.row(first_line, &rec.record)?;
        }
        while let Some(line) = rec.next()? {
            if rec.record.len() != reading.width
                && let Some(why) = rec.width_cause(line)
            {
                return Err(Error::data(path, why));
            }
            reading.row(line, &rec.record)?;
        }
        reading.finish(first_line)
    }

    /// Whether the file's `first` record is a header line, and the file's column for each of
    /// the table's (None when absent): by name when both have names, else by position.
    /// `numbers`: the file's decimal mark and thousands separator.
    fn layout(
        &self,
        first: &[String],
        (decimal, thousands): (char, Option<char>),
        need: Need,
        misfit: &Misfit,
    ) -> Result<Layout> {
        let any_number = first
            .iter()
            .any(|c| number_in(c, decimal, thousands).is_some());
        // The file's columns by name, an empty header cell as `column N` the way the fit names
        // it (pandas' index), each name's positions in order: lookups, not scans, for wide
        // files.
        let file_names = header_names(first, true);
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
        let src = if header && self.header {
            self.by_name(&file_columns, need, misfit)?
        } else {
            self.by_position(first.len(), need, misfit)?
        };
        Ok(Layout {
            header,
            src,
            width: first.len(),
        })
    }

    /// The file's column for each of the table's, matched by the header's names (positions in
    /// `file_columns`); an error when one the read needs is absent, or named twice.
    fn by_name(
        &self,
        file_columns: &HashMap<&str, Vec<usize>>,
        need: Need,
        misfit: &Misfit,
    ) -> Result<Vec<Option<usize>>> {
        let mut src = Vec::with_capacity(self.columns.len());
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
                || (is_output(&c.kind) && matches!(need, Need::Features { .. }));
            let twice = at.filter(|at| at.len() > table_names[c.name.as_str()]);
            if let Some(at) = twice
                && !optional
            {
                return Err(line_error(
                    misfit.path,
                    misfit.line,
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
                return Err(misfit.error(format!(
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
        Ok(src)
    }

    /// The file's column for each of the table's, by position in a file of `found` columns:
    /// all the table's, or (reading features) all but the label or targets.
    fn by_position(&self, found: usize, need: Need, misfit: &Misfit) -> Result<Vec<Option<usize>>> {
        let w = self.columns.len();
        let without = w - self.count(is_output);
        let with_outputs = found == w;
        if !(with_outputs || (found == without && matches!(need, Need::Features { .. }))) {
            let features = self.count(|k| !is_output(k) && *k != Kind::Ignored);
            let what = match &self.classes {
                Some(_) => "the label".to_string(),
                None => format!("{} target columns", w - without),
            };
            return Err(misfit.error(match need {
                Need::Targets => format!(
                    "{found} columns, but the model takes {features} inputs: give {w} columns, with {what} where the training file had it"
                ),
                Need::Features { .. } => format!(
                    "{found} columns, but the model takes {features} inputs: give {without} columns, or {w} with {what} where the training file had it"
                ),
            }));
        }
        let mut k = 0;
        Ok(self
            .columns
            .iter()
            .map(|c| {
                if !with_outputs && is_output(&c.kind) {
                    None
                } else {
                    k += 1;
                    Some(k - 1)
                }
            })
            .collect())
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

/// Whether a column of this kind is the model's output: the label or a target.
fn is_output(k: &Kind) -> bool {
    matches!(k, Kind::Label | Kind::Target)
}

/// Why the file's first line does not fit the table: a comment or an unclosed quote there
/// (`cause`), or a file written with another delimiter (`read_as`), before the columns it lacks.
struct Misfit<'a> {
    path: &'a Path,
    /// The first line's number.
    line: usize,
    cause: Option<String>,
    /// The file's delimiter, when not the table's.
    read_as: Option<char>,
}

impl Misfit<'_> {
    /// The error `msg` says of the first line, or the cause the line itself shows.
    fn error(&self, msg: String) -> Error {
        match (&self.cause, self.read_as) {
            (Some(why), _) => Error::data(self.path, why.clone()),
            (None, None) => line_error(self.path, self.line, msg),
            (None, Some(d)) => line_error(
                self.path,
                self.line,
                format!("{msg} (the file read as {}-separated)", delimiter_name(d)),
            ),
        }
    }
}

/// How a file's columns meet a table's.
struct Layout {
    /// The file's first line is a header.
    header: bool,
    /// src[j]: the file's column for table column j, None when absent.
    src: Vec<Option<usize>>,
    /// The file's cells per row.
    width: usize,
}

/// A read in progress (`Table::read`): the lookups each row uses, the rows so far (inputs,
/// labels or target values) and the counts.
struct Reading<'a> {
    table: &'a Table,
    path: &'a Path,
    need: Need,
    /// The file's first line is a header.
    header: bool,
    /// src[j]: the file's column for table column j, None when absent.
    src: Vec<Option<usize>>,
    /// The file's cells per row.
    width: usize,
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
    fn new(
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
    fn row(&mut self, line: usize, cells: &StringRecord) -> Result<()> {
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
        match number_in(cell, self.decimal, self.thousands) {
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
        match number_in(cell, self.decimal, self.thousands) {
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
    fn finish(self, first_line: usize) -> Result<Rows> {
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
        })
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
