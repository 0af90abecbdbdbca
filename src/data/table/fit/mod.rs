//! Fitting the schema to a training file (`Table::fit`): the file's first line, each column's
//! role from the options (`options`), what the rows say of each column (`tally`), then each
//! feature's kind (numeric, date or categorical, means and levels) and the class names.

mod options;
mod tally;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use options::{duplicates, resolve, roles};
use tally::{Numbers, Stat, Tally, numbers, settle_thousands};

use super::date::Stray;
use super::read::{Records, delimiter_name, formatted_number};
use super::sniff::sniff;
use super::{
    At, CONTINUOUS_LABEL_CLASSES, ColumnInfo, CsvOptions, FEW_ROWS_PER_CLASS, Format, Kind,
    LeftOut, MIN_ROWS_FOR_DISTINCT_GUARD, Need, Rows, Table, Thousands, at_column, header_names,
    line_error, number,
};
use crate::error::{Error, Result};

/// The error for column `at` of `path`, dates but for a cell (`Stray`).
fn stray(path: &Path, at: &str, e: Stray) -> Error {
    if e.month_first {
        return Error::data(
            path,
            format!(
                "line {}: {at}: {:?} is not a date written dd/mm/yyyy, which the setting `day_first` asks for, but every cell of the column is a date written mm/dd/yyyy: leave the setting `day_first` out, or the column with the setting `ignore`",
                e.line, e.cell
            ),
        );
    }
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

/// Columns a fit refused, each with its error.
pub(crate) type Refused = Vec<(usize, Error)>;

impl Table {
    /// Reads a training file as `o` says, fits the schema to it and returns both.
    /// Reads the file twice (the schema, then the rows), holding little more than the matrix.
    pub fn fit(path: &Path, o: &CsvOptions) -> Result<(Table, Rows)> {
        let (table, rows) = Self::fit_columns(path, o, None)?;
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

    /// `fit`'s table for describing the file (`Schema::of`): a column `fit` would refuse (an
    /// identifier, numbers written for people, a few stray texts among numbers or dates, a
    /// label that is no classes) is left out here and listed with `fit`'s error for it; the
    /// rows are counted, not read. Errors that are not one column's are `fit`'s.
    pub(crate) fn fit_describing(path: &Path, o: &CsvOptions) -> Result<(Table, usize, Refused)> {
        let mut refused = Vec::new();
        let (table, rows) = Self::fit_columns(path, o, Some(&mut refused))?;
        Ok((table, rows, refused))
    }

    /// The table `o` and the file's first line and rows give, and the rows counted; with
    /// `refused`, each column refusal goes there instead of failing the fit.
    fn fit_columns(
        path: &Path,
        o: &CsvOptions,
        refused: Option<&mut Refused>,
    ) -> Result<(Table, usize)> {
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
        let table = file.table(roles, stats, rows, thousands, refused)?;
        Ok((table, rows))
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
    /// The first line's cells.
    first: Vec<String>,
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
        let header = o
            .header
            .unwrap_or_else(|| first.iter().all(|c| numbers.read(c).is_none()) || counts(&first));
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
            first,
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
    /// (`rows` rows), the class names, the reading options. A column refused is an error, or
    /// with `refused` listed there and left out.
    fn table(
        &self,
        roles: Roles,
        stats: Vec<Stat>,
        rows: usize,
        thousands: Option<char>,
        mut refused: Option<&mut Refused>,
    ) -> Result<Table> {
        let o = self.o;
        let mut columns = Vec::with_capacity(self.width);
        let mut classes = None;
        let mut numeric_classes = false;
        for (c, (role, s)) in roles.roles.into_iter().zip(stats).enumerate() {
            let kind = match role {
                Some(Kind::Label) => self.classes(c, s, rows).map(|(names, numeric)| {
                    classes = Some(names);
                    numeric_classes = numeric;
                    Kind::Label
                }),
                Some(k) => Ok(k),
                None => self.feature(c, s, rows),
            };
            let kind = match (kind, refused.as_deref_mut()) {
                (Ok(k), _) => k,
                (Err(e), Some(list)) => {
                    list.push((c, e));
                    Kind::Ignored
                }
                (Err(e), None) => return Err(e),
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
            thousands_off: o.thousands == super::Thousands::Off,
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
        // A first line read as data (a cell of it is a number) whose label no other line has:
        // the header of a file with numbers for column names (years), more likely than a
        // class of one row.
        let first = &self.first[c];
        if !self.header
            && self.o.header.is_none()
            && number(first, decimal).is_none()
            && s.label_rows.get(first) == Some(&1)
            && rows > 2
        {
            return Err(line_error(
                self.path,
                self.first_line,
                format!(
                    "the label {first:?} of line {} appears on no other line: a header line with numbers among its names? the setting `header` yes reads it as one, `header` no as data",
                    self.first_line
                ),
            ));
        }
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
        if let Some(d) = s
            .dates
            .settle(self.o.day_first)
            .map_err(|e| stray(path, &at, e))?
        {
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
                    match what {
                        "thousands separators" => ", or give the setting `thousands`",
                        "spaces grouping its digits" => ", or give the setting `thousands` space",
                        _ => "",
                    }
                ),
            ));
        }
        if s.numbers >= s.texts {
            let (line, cell) = s.first_text.unwrap_or_default();
            let (nline, ncell) = s.first_number.unwrap_or_default();
            let hint = if line == self.first_line && !self.header {
                " (line 1 is read as data because a cell of it is a number; a header line names every column)"
            } else if !cell.bytes().any(|b| b.is_ascii_digit()) {
                " (if it marks a missing value, the setting `na_values` reads it as one)"
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
            "{width} column: need at least one input and the label (no ',', ';', tab, '|' or run of spaces splits the first lines into columns)"
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
    // Codes written with leading zeros (`07`, `01`) or integers beyond f64's exact ones are
    // names: as numbers, `07` and `7` would become one class, and `01` would come back as `1`.
    let codes = s.label_rows.keys().any(|v| {
        let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
        !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && ((digits.len() > 1 && digits.starts_with('0')) || digits.len() > 15)
    });
    let nums: Option<Vec<(f64, usize)>> = s
        .label_rows
        .iter()
        .map(|(v, &n)| number(v, decimal).map(|v| (v, n)))
        .collect::<Option<_>>()
        .filter(|_| !codes);
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

/// Whether a first line's cells count its columns, `0,1,2,...` or `1,2,3,...` after an
/// optional empty cell (pandas' header for a frame whose columns are numbered, its index
/// first), three or more: a header, though its cells are numbers.
fn counts(first: &[String]) -> bool {
    let cells = match first.first() {
        Some(c) if c.is_empty() => &first[1..],
        _ => first,
    };
    cells.len() >= 3
        && [0, 1].iter().any(|&from| {
            cells
                .iter()
                .enumerate()
                .all(|(i, c)| c.parse::<usize>().ok() == Some(i + from))
        })
}
