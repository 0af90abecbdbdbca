//! Where a cell or a line of a tabular file is, in messages: "line N: column C (\"name\"): ...".

use std::path::Path;

use crate::error::Error;

/// "column 3 (\"age\")" or "column 3".
pub(super) fn at_column(c: usize, name: &str, header: bool) -> String {
    if header {
        format!("column {} ({name:?})", c + 1)
    } else {
        format!("column {}", c + 1)
    }
}

/// "line N: MSG" as an error about `path`.
pub(super) fn line_error(path: &Path, line: usize, msg: String) -> Error {
    Error::data(path, format!("line {line}: {msg}"))
}

/// Where a cell is, for messages: the file, its line, and its column (0-based, with its name
/// when the file has a `header`).
pub(super) struct At<'a> {
    pub(super) path: &'a Path,
    pub(super) line: usize,
    pub(super) index: usize,
    pub(super) name: &'a str,
    pub(super) header: bool,
}

impl At<'_> {
    /// The column in words: "column 3 (\"age\")", or "column 3" without a header.
    pub(super) fn column(&self) -> String {
        at_column(self.index, self.name, self.header)
    }

    /// "line N: column C (\"name\"): MSG" as an error about the file.
    pub(super) fn error(&self, msg: String) -> Error {
        line_error(self.path, self.line, format!("{}: {msg}", self.column()))
    }
}

/// A file of `path` with no data rows: after a header line (`header`, at `first_line`) or at
/// all.
pub(super) fn no_data_rows(path: &Path, header: bool, first_line: usize) -> Error {
    Error::data(
        path,
        if header {
            format!("no data rows: line {first_line} is a header line, and no line follows it")
        } else {
            "no data rows".to_string()
        },
    )
}
