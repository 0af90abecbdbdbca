//! Reading files with a fitted table (`Table::read`): the file's own delimiter, its columns
//! laid over the table's, each row's cells read by their column's kind into the matrix.

use std::collections::HashMap;
use std::path::Path;

use super::read::{Records, delimiter_name};
use super::reading::{Layout, Reading};
use super::{Format, Kind, Need, Rows, Table, header_names, line_error, number_in};
use crate::error::{Error, Result};

impl Table {
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
                let decimal = super::sniff::sniff(path, Some(d), None, self.text())
                    .map_or('.', |f| f.decimal);
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
        let Opened {
            mut rec,
            first_line,
            format,
            thousands,
            layout,
        } = self.open(path, need)?;
        let header = layout.header;
        // The file's columns no table column reads, by name.
        let mut unused: Vec<String> = Vec::new();
        if header {
            let names = header_names(
                &rec.record.iter().map(String::from).collect::<Vec<_>>(),
                true,
            );
            unused = (0..names.len())
                .filter(|f| !layout.src.contains(&Some(*f)))
                .map(|f| names[f].clone())
                .collect();
        }
        let numbers = (format.decimal, thousands);
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
        let mut rows = reading.finish(first_line)?;
        rows.unused = unused;
        Ok(rows)
    }

    /// `path` opened to be read with this table (`read`, `Schema::read_by`): its format
    /// (`format_of`), its first line read, and how its columns meet the table's.
    pub(super) fn open(&self, path: &Path, need: Need) -> Result<Opened> {
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
        let layout = self.layout(&first, (format.decimal, thousands), need, &misfit)?;
        Ok(Opened {
            rec,
            first_line,
            format,
            thousands,
            layout,
        })
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
        // A first line that names the table's columns, in order, is a header even when its
        // names are numbers (pandas' `0,1,2,...`).
        let names_all = self.header
            && file_names.len() == self.columns.len()
            && file_names
                .iter()
                .zip(&self.columns)
                .all(|(c, t)| c == &t.name);
        let header = names_all || (!any_number && (self.header || names_match || has_numeric));
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
        let theirs = super::sniff::sniff(path, None, None, text).ok()?.delimiter;
        (theirs != self.delimiter
            && super::read::first_width(path, theirs, text)
                > super::read::first_width(path, self.delimiter, text))
        .then_some(theirs)
    }
}

/// Whether a column of this kind is the model's output: the label or a target.
pub(super) fn is_output(k: &Kind) -> bool {
    matches!(k, Kind::Label | Kind::Target)
}

/// A file opened with a table (`Table::open`): its records with the first line read (the
/// record at hand), that line's number, the format and thousands separator it is read with,
/// and its columns laid over the table's.
pub(super) struct Opened {
    pub(super) rec: Records,
    pub(super) first_line: usize,
    pub(super) format: Format,
    pub(super) thousands: Option<char>,
    pub(super) layout: Layout,
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
