//! Columns carried through `predict` as the file writes them (an id, a name): the cells of
//! columns named in the file's header, row for row with the rows `Table::read` gives.

use std::path::Path;

use super::Table;
use super::read::{Records, header_names};
use crate::error::{Error, Result};

/// Cells of columns carried through, as the file writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// The columns' names, as given.
    pub names: Vec<String>,
    /// The cells, row-major: `names.len()` per row.
    pub cells: Vec<String>,
}

impl Kept {
    /// Row `i`'s cells.
    pub fn row(&self, i: usize) -> &[String] {
        let w = self.names.len();
        &self.cells[i * w..(i + 1) * w]
    }
}

impl Table {
    /// The cells of the columns `names` of `path`, read as `read` reads it (its delimiter,
    /// encoding and comment mark): found by name in the file's header, each once. Meant for
    /// `Table::read(path, Need::Features { .. }, ..)`, which keeps every row; `rows` is how
    /// many that read gave, and a file that gives another count is an error rather than
    /// cells beside the wrong predictions.
    pub fn kept(&self, path: &Path, names: &[String], rows: usize) -> Result<Kept> {
        let (format, _) = self.format_of(path);
        let mut rec = Records::open(path, format)?;
        if rec.next()?.is_none() {
            return Err(Error::data(path, "no data rows: the file is empty"));
        }
        let first: Vec<String> = rec.record.iter().map(String::from).collect();
        let header = header_names(&first, true);
        let mut at = Vec::with_capacity(names.len());
        for name in names {
            let found: Vec<usize> = (0..header.len()).filter(|&i| header[i] == *name).collect();
            match found[..] {
                [i] => at.push(i),
                [] => {
                    return Err(Error::invalid(
                        "keep",
                        format!(
                            "{}: no column is named {name:?} in its first line (its columns: {})",
                            path.display(),
                            names_list(&header)
                        ),
                    ));
                }
                [a, b, ..] => {
                    return Err(Error::invalid(
                        "keep",
                        format!(
                            "{}: columns {} and {} are both named {name:?}",
                            path.display(),
                            a + 1,
                            b + 1
                        ),
                    ));
                }
            }
        }
        let mut cells = Vec::new();
        let mut n = 0;
        while rec.next()?.is_some() {
            n += 1;
            cells.extend(
                at.iter()
                    .map(|&i| rec.record.get(i).unwrap_or_default().to_string()),
            );
        }
        if n != rows {
            return Err(Error::data(
                path,
                format!(
                    "{n} rows below its header, but {rows} were read as samples: the columns kept (the setting `keep`) need a header line naming them"
                ),
            ));
        }
        Ok(Kept {
            names: names.to_vec(),
            cells,
        })
    }
}

/// Up to 12 column names, quoted, then how many more.
fn names_list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(12).map(|n| format!("{n:?}")).collect();
    match names.len().saturating_sub(12) {
        0 => shown.join(", "),
        more => format!("{}, and {more} more", shown.join(", ")),
    }
}
