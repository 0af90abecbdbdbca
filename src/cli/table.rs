//! How to read a CSV file: the flags `train` and `schema` share, and the library's options they
//! become.

use anyhow::Result;
use clap::Args;

use wgtrain::data::{CsvOptions, CsvText};

/// The CSV flags.
#[derive(Args, Default)]
pub struct CsvArgs {
    /// CSV: the class column, by header name or 1-based number. Classes are its distinct
    /// values (names or integers), sorted. [default: the last column]
    #[arg(long, visible_alias = "label-column", value_name = "NAME|N")]
    pub label: Option<String>,
    /// CSV: real-valued target columns (for mse/bce) instead of a class label: K alone is the
    /// last K columns, else a comma list of names or numbers.
    #[arg(long, value_name = "NAME,...|K")]
    pub targets: Option<String>,
    /// CSV: columns that are neither inputs nor targets (identifiers, free text), comma
    /// separated names or numbers.
    #[arg(long, value_name = "NAME,...")]
    pub ignore: Option<String>,
    /// CSV: columns read as inputs even when they look like a row index or an identifier
    /// (an empty first header cell, the row numbers, or all-different whole numbers named like
    /// an id: otherwise left out with a note), comma separated names or numbers.
    #[arg(long, value_name = "NAME,...")]
    pub feature: Option<String>,
    /// CSV: read a numeric --label as classes even when it looks like a regression target
    /// (100 or more different integers, half of them in fewer than 5 rows; or more values than
    /// half the rows).
    #[arg(long)]
    pub many_classes: bool,
    /// CSV: the delimiter: ',', ';', tab (or \t), '|' or space (runs of spaces). [default: the one
    /// that splits the first lines most consistently]
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// CSV: the decimal mark, '.' or ','. [default: ',' when a ;-, tab- or space-separated file
    /// writes its numbers so]
    #[arg(long, value_name = "C")]
    pub decimal: Option<String>,
    /// CSV: the thousands separator: ',', '.', an apostrophe (') or space (a no-break space
    /// too), or none.
    /// [default: per column, the mark that is not the decimal mark where a column groups its digits in threes with it
    /// (1.234,5 and 16.231 in a decimal-comma file; "1,234.5" in a ','-file; 12,345 where
    /// other numbers show '.' as the decimal mark); a reading that could go either way is
    /// refused, naming the column, the line and both readings]
    #[arg(long, value_name = "C")]
    pub thousands: Option<String>,
    /// CSV: missing cells (empty, NA, N/A, NaN, ?, null, #N/A, <NA>, \N) in feature columns: mean (a number
    /// takes the training mean, a category none of its levels; counted on the data line) or
    /// error. A missing label or target is an error unless --drop-missing-target. [default:
    /// mean]
    #[arg(long, value_name = "HOW", value_parser = ["mean", "error"])]
    pub missing: Option<String>,
    /// CSV: more cells that mean a missing value, comma separated (e.g. 'None,-'), compared
    /// exactly; stored with the model, so eval and predict read them so too.
    #[arg(long, value_name = "LIST")]
    pub na_values: Option<String>,
    /// CSV: leave out the rows whose label or target is missing (in the training, validation
    /// and test files, and in eval's), with a note saying how many, instead of refusing them.
    #[arg(long)]
    pub drop_missing_target: bool,
    /// CSV: the file's text encoding: utf-8, windows-1252 (Excel's "CSV" on Western Windows),
    /// latin-1 (iso-8859-1, read as windows-1252, as browsers do), utf-16le, utf-16be, or
    /// another WHATWG name (iso-8859-15, shift_jis, ...); stored with the model, so eval and
    /// predict read their files so too. [default: UTF-8; UTF-16 when the file starts with its
    /// byte-order mark, which wins over a name]
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// CSV: lines that start with this character are comments, skipped (e.g. '#'); stored with
    /// the model, so eval and predict skip them too.
    #[arg(long, value_name = "C")]
    pub comment: Option<String>,
    /// CSV: dates written with slashes are dd/mm/yyyy (a column that only reads month first is
    /// then refused, naming a cell). [default: mm/dd/yyyy, unless a day above 12 shows the day
    /// first; a guess said in a note]
    #[arg(long)]
    pub day_first: bool,
    /// CSV: whether the training file's first line is a header: yes, no or auto. [default:
    /// auto: a header when no cell of it is a number, or when its cells count the columns
    /// (0,1,2,... or 1,2,3,...: pandas' names for numbered columns); later files' first lines
    /// are headers when they name the model's columns]
    #[arg(long, value_name = "yes|no|auto", value_parser = ["yes", "no", "auto"])]
    pub header: Option<String>,
}

/// A one-character flag: `\t` and `tab` for a tab, `space` for ' '.
/// The library's options for these flags (`CsvText`, which every face shares).
pub fn csv_options(a: &CsvArgs) -> Result<CsvOptions> {
    Ok(CsvText {
        label: a.label.clone(),
        targets: a.targets.clone(),
        ignore: a.ignore.clone(),
        features: a.feature.clone(),
        many_classes: a.many_classes,
        delimiter: a.delimiter.clone(),
        decimal: a.decimal.clone(),
        thousands: a.thousands.clone(),
        missing: a.missing.clone(),
        na_values: a.na_values.clone(),
        drop_missing_target: a.drop_missing_target,
        encoding: a.encoding.clone(),
        comment: a.comment.clone(),
        day_first: a.day_first,
        header: a.header.clone(),
    }
    .options()?)
}
