//! CSV files (optionally gzipped): an optional header, numeric cells, the target in the last column(s).

use super::{Dataset, Inputs, Targets};
use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// Labels must be below this, so one stray large label cannot ask for a huge one-hot output.
const MAX_CLASSES: usize = 1 << 16;

/// Reads a CSV file (gunzipped when the name ends in .gz). `targets`: None = the last column is
/// an integer class label; Some(k) = the last k columns are real-valued targets.
/// The dataset's x is (rows, columns - 1) or (rows, columns - k).
pub fn load_csv(path: &Path, targets: Option<usize>) -> Result<Dataset> {
    let text = read_text(path)?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    parse(path, name, &text, targets)
}

/// As `load_csv` with the class label in column `column` (1-based) instead of the last one:
/// that column is moved to the end of every row before parsing.
pub fn load_csv_label_at(path: &Path, column: usize) -> Result<Dataset> {
    let text = read_text(path)?;
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&text); // UTF-8 byte-order mark
    let text = std::str::from_utf8(text).map_err(|_| Error::data(path, "not valid UTF-8"))?;
    let mut moved = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            moved.push('\n');
            continue;
        }
        let mut cells: Vec<&str> = line.split(',').collect();
        if column == 0 || column > cells.len() {
            return Err(Error::data(
                path,
                format!(
                    "line {}: the label is column {column}, but the row has {} columns",
                    i + 1,
                    cells.len()
                ),
            ));
        }
        let label = cells.remove(column - 1);
        cells.push(label);
        moved.push_str(&cells.join(","));
        moved.push('\n');
    }
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    parse_moved(path, name, moved.as_bytes(), None, Some(column))
}

/// Where a CSV file's columns other than the inputs are: a class label in column `label_column`
/// (1-based; None: the last), or `targets` real-valued columns last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The 1-based column of the class label; None: the last column. Unused with `targets`.
    pub label_column: Option<usize>,
    /// Some(k): the last k columns are real-valued targets, and `label_column` is not used.
    pub targets: Option<usize>,
}

/// Reads samples to predict on: a CSV of `inputs` columns (features only), or with the label or
/// target columns `layout` places (ignored); optional header, gunzipped when named .gz.
/// Returns the inputs (n, dim), n and dim.
pub fn load_features(path: &Path, inputs: usize, layout: Layout) -> Result<(Inputs, usize, usize)> {
    let extra = layout.targets.unwrap_or(1);
    // 0-based columns that are not inputs, when a row has them.
    let skipped = |c: usize| match (layout.targets, layout.label_column) {
        (Some(_), _) => c >= inputs,
        (None, Some(l)) => c + 1 == l,
        (None, None) => c == inputs,
    };
    if let Some(l) = layout.label_column
        && !(1..=inputs + 1).contains(&l)
    {
        return Err(Error::data(
            path,
            format!(
                "the model's label column {l} is outside rows of {} columns",
                inputs + 1
            ),
        ));
    }
    let what = match (layout.targets, layout.label_column) {
        (Some(k), _) => format!("{k} target columns last"),
        (None, Some(l)) => format!("the label in column {l}"),
        (None, None) => "a label last".to_string(),
    };
    let text = read_text(path)?;
    let err = |line: usize, msg: String| Error::data(path, format!("line {line}: {msg}"));
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&text); // UTF-8 byte-order mark
    let text = std::str::from_utf8(text).map_err(|_| Error::data(path, "not valid UTF-8"))?;
    let mut x = Vec::new();
    let mut cols = 0;
    let mut n = 0;
    for (i, s) in text.lines().map(str::trim).enumerate() {
        let line = i + 1;
        if s.is_empty() {
            continue;
        }
        let found = s.split(',').count();
        if cols == 0 {
            if found != inputs && found != inputs + extra {
                return Err(err(
                    line,
                    format!(
                        "{found} columns, but the model takes {inputs} inputs (give {inputs} columns, or {} with {what})",
                        inputs + extra
                    ),
                ));
            }
            cols = found;
            if line == 1 && is_header(s).map_err(|m| err(line, m))? {
                continue;
            }
        }
        if found != cols {
            return Err(err(line, format!("{found} columns, expected {cols}")));
        }
        let with_extra = cols == inputs + extra;
        for (c, cell) in s.split(',').enumerate() {
            if with_extra && skipped(c) {
                continue;
            }
            let v = number(cell.trim()).map_err(|m| err(line, format!("column {}: {m}", c + 1)))?;
            x.push(v);
        }
        n += 1;
    }
    if n == 0 {
        return Err(Error::data(path, "no data rows"));
    }
    Ok((Inputs::F32(x), n, inputs))
}

/// A CSV file's text, gunzipped when its name ends in .gz.
fn read_text(path: &Path) -> Result<Vec<u8>> {
    let bytes = crate::memory::read_file(path).map_err(|e| match e {
        Error::Io { err, .. } => Error::data(path, format!("cannot read: {err}")),
        e => e,
    })?;
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if gz {
        gunzip(path, &bytes, inflate_limit())
    } else {
        Ok(bytes)
    }
}

/// The most a gzipped CSV file may inflate to: half of what this process may still allocate
/// (8 GiB where that is unknown), the other half for the matrix parsed from it. A small file
/// that inflates without end (a gzip bomb) fails with a message, not by exhausting memory.
fn inflate_limit() -> u64 {
    crate::memory::available().map_or(8 << 30, |room| room / 2)
}

/// Decompresses gzip data (one or more members) of at most `limit` bytes; `path` names the
/// source in errors.
pub(super) fn gunzip(path: &Path, bytes: &[u8], limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Error::data(path, format!("bad gzip data: {e}")))?;
    if out.len() as u64 > limit {
        return Err(Error::data(
            path,
            format!(
                "inflates to more than {} (the limit here: half of what this process may allocate): too large to load",
                crate::memory::human(limit)
            ),
        ));
    }
    Ok(out)
}

/// Parses CSV text into a dataset named `name`; `path` names the source in errors.
pub(super) fn parse(
    path: &Path,
    name: String,
    text: &[u8],
    targets: Option<usize>,
) -> Result<Dataset> {
    parse_moved(path, name, text, targets, None)
}

/// As `parse`, for text whose class label was moved to the end of each row from column
/// `moved_from` (1-based): errors name the column as the file has it.
fn parse_moved(
    path: &Path,
    name: String,
    text: &[u8],
    targets: Option<usize>,
    moved_from: Option<usize>,
) -> Result<Dataset> {
    if targets == Some(0) {
        return Err(Error::usage(format!(
            "{}: the number of target columns must be at least 1",
            path.display()
        )));
    }
    let err = |line: usize, msg: String| Error::data(path, format!("line {line}: {msg}"));
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text); // UTF-8 byte-order mark
    let n_targets = targets.unwrap_or(1);
    let mut cols = 0; // columns per row: from the header, else the first data row
    let mut x = Vec::new();
    let mut labels = Vec::new();
    let mut values = Vec::new();
    let mut n = 0;
    let mut blank = None; // the first blank line: allowed only at the end
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let s = std::str::from_utf8(raw)
            .map_err(|_| err(line, "not valid UTF-8".into()))?
            .trim();
        if s.is_empty() {
            blank = blank.or(Some(line));
            continue;
        }
        if let Some(b) = blank {
            return Err(err(b, "blank line".into()));
        }
        let found = s.split(',').count();
        if cols == 0 {
            cols = found;
            if cols <= n_targets {
                return Err(match targets {
                    None => err(
                        line,
                        format!("{cols} column: need at least one input and the label"),
                    ),
                    Some(k) => err(
                        line,
                        format!(
                            "{cols} columns: {k} target columns need at least {} columns",
                            k as u128 + 1
                        ),
                    ),
                });
            }
            if line == 1 && is_header(s).map_err(|m| err(line, m))? {
                continue;
            }
        }
        if found != cols {
            return Err(err(line, format!("{found} columns, expected {cols}")));
        }
        let dim = cols - n_targets;
        // The file's own 1-based column of cell c (0-based) of the row as parsed.
        let column = |c: usize| match moved_from {
            Some(l) if c + 1 == cols => l,
            Some(l) if c + 1 >= l => c + 2,
            _ => c + 1,
        };
        for (c, cell) in s.split(',').enumerate() {
            let cell = cell.trim();
            let at = |msg: String| err(line, format!("column {}: {msg}", column(c)));
            if c < dim || targets.is_some() {
                let v = number(cell).map_err(at)?;
                if c < dim { x.push(v) } else { values.push(v) }
            } else {
                labels.push(label(cell).map_err(at)?);
            }
        }
        n += 1;
    }
    if n == 0 {
        return Err(Error::data(path, "no data rows"));
    }
    let targets = match targets {
        None => {
            let max = labels.iter().copied().max().unwrap_or(0) as usize;
            let mut seen = vec![false; max + 1];
            labels.iter().for_each(|&l| seen[l as usize] = true);
            let distinct = seen.iter().filter(|&&s| s).count();
            if n >= MIN_ROWS_FOR_CLASS_GUARD && distinct > n / 2 {
                return Err(Error::data(
                    path,
                    format!(
                        "the label column holds {distinct} different values in {n} rows: more like a regression target than class labels; load it as 1 real-valued target column, with the mse loss"
                    ),
                ));
            }
            Targets::Classes {
                labels,
                n_classes: (max + 1).max(2),
            }
        }
        Some(width) => Targets::Values { values, width },
    };
    Dataset::new(name, x, n, cols - n_targets, targets)
}

/// Line 1 is a header when none of its cells is a number; a line mixing names and numbers is
/// an error naming the first name (a typo such as `O.3` in the first data row would otherwise
/// drop that row without a word).
fn is_header(s: &str) -> std::result::Result<bool, String> {
    let cells: Vec<&str> = s.split(',').map(str::trim).collect();
    let numeric = |c: &&str| c.parse::<f64>().is_ok();
    let names = cells
        .iter()
        .filter(|c| !c.is_empty() && !numeric(c))
        .count();
    if names == 0 {
        return Ok(false);
    }
    match cells.iter().position(numeric) {
        None => Ok(true),
        Some(num) => {
            let name = cells
                .iter()
                .position(|c| !c.is_empty() && !numeric(c))
                .unwrap_or(0);
            Err(format!(
                "column {}: {:?} is not a number, but column {} is {:?}: a header line names every column, a data line has numbers only",
                name + 1,
                cells[name],
                num + 1,
                cells[num]
            ))
        }
    }
}

fn number(cell: &str) -> Result<f32, String> {
    if cell.is_empty() {
        return Err("empty cell".into());
    }
    let v: f32 = cell
        .parse()
        .map_err(|_| format!("{cell:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!(
            "{cell:?} is not finite (NaN, infinite, or beyond f32 range)"
        ));
    }
    Ok(v)
}

/// Rows from which a label column with more distinct values than half the rows is taken for
/// a regression target that was read as classes (a 347-class softmax that learns nothing).
const MIN_ROWS_FOR_CLASS_GUARD: usize = 20;

fn label(cell: &str) -> Result<u32, String> {
    if cell.is_empty() {
        return Err("empty cell".into());
    }
    let v: f64 = cell
        .parse()
        .map_err(|_| format!("label {cell:?} is not a number"))?;
    if !(v >= 0.0 && v.fract() == 0.0) {
        return Err(format!("label {cell:?} is not a non-negative integer"));
    }
    if v >= MAX_CLASSES as f64 {
        return Err(format!(
            "label {cell:?} is too large (at most {})",
            MAX_CLASSES - 1
        ));
    }
    Ok(v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn csv(text: &str, targets: Option<usize>) -> Result<Dataset> {
        parse(Path::new("t.csv"), "t.csv".into(), text.as_bytes(), targets)
    }

    #[test]
    fn gzip_that_inflates_past_the_limit_is_refused_not_held() {
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![b'0'; 100_000]).unwrap();
        let gz = enc.finish().unwrap();
        let p = Path::new("bomb.csv.gz");
        let e = gunzip(p, &gz, 1000).unwrap_err().to_string();
        assert!(
            e.contains("bomb.csv.gz") && e.contains("inflates to more than"),
            "{e}"
        );
        assert_eq!(gunzip(p, &gz, 100_000).unwrap().len(), 100_000);
    }

    /// The error message, which must name the file and the given line.
    fn fails_at(text: &str, targets: Option<usize>, line: usize) -> String {
        let msg = match csv(text, targets) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        };
        assert!(msg.starts_with("t.csv: "), "{msg}");
        assert!(
            msg.contains(&format!("line {line}:")),
            "want line {line}: {msg}"
        );
        msg
    }

    fn labels(d: &Dataset) -> (&[u32], usize) {
        match &d.targets {
            Targets::Classes { labels, n_classes } => (labels, *n_classes),
            Targets::Values { .. } => panic!("expected classes"),
        }
    }

    /// A file under the temp dir, unique to this process and test.
    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("wgtrain-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn a_label_column_of_mostly_distinct_integers_is_refused_as_a_regression_target() {
        // Diabetes-like targets in the hundreds: 40 rows, 40 different integers.
        let text: String = (0..40)
            .map(|i| format!("{i}.5,{}\n", 100 + 7 * i))
            .collect();
        let msg = csv(&text, None).unwrap_err().to_string();
        assert!(
            msg.contains("40 different values in 40 rows") && msg.contains("regression"),
            "{msg}"
        );
        assert_eq!(csv(&text, Some(1)).unwrap().n, 40);
        // Ten classes over 40 rows are classes.
        let text: String = (0..40).map(|i| format!("{i}.5,{}\n", i % 10)).collect();
        assert_eq!(labels(&csv(&text, None).unwrap()).1, 10);
    }

    #[test]
    fn a_first_line_mixing_names_and_numbers_is_an_error_not_a_dropped_row() {
        // A typo (O.3, letter O) in the first data row used to make it a header, dropped.
        let msg = fails_at("1,O.3,0\n2,0.5,1\n", None, 1);
        assert!(
            msg.contains("column 2: \"O.3\" is not a number, but column 1 is \"1\""),
            "{msg}"
        );
        let msg = fails_at("0x10,2,1\n", None, 1);
        assert!(msg.contains("\"0x10\""), "{msg}");
        // A header names every column; a byte-order mark before it is not a name.
        let d = csv("\u{feff}a,b,label\n1,2,0\n3,4,1\n", None).unwrap();
        assert_eq!(d.n, 2);
    }

    #[test]
    fn errors_name_the_column_the_file_has_and_huge_counts_do_not_wrap() {
        let p = temp("moved.csv", b"0,1,2,3,4\n1,2,x,4,5\n");
        // The label is column 1; the bad cell is column 3 of the file.
        let msg = load_csv_label_at(&p, 1).unwrap_err().to_string();
        assert!(msg.contains("line 2: column 3:"), "{msg}");
        std::fs::remove_file(&p).unwrap();
        let msg = fails_at("1,2\n", Some(usize::MAX), 1);
        assert!(
            msg.contains("need at least 18446744073709551616 columns"),
            "{msg}"
        );
    }

    #[test]
    fn header_is_skipped_whitespace_trimmed_trailing_blank_lines_ignored() {
        let d = csv("a, b ,label\r\n 1.5, 2 ,1\r\n3,4e0,0\n\n  \n", None).unwrap();
        assert_eq!((d.n, d.dim), (2, 2));
        assert_eq!(d.x.to_f32(), [1.5, 2.0, 3.0, 4.0]);
        assert_eq!(labels(&d), (&[1, 0][..], 2));
    }

    #[test]
    fn numeric_first_line_is_data_and_n_classes_is_max_label_plus_one() {
        let d = csv("1,2,0\n3,4,4\n", None).unwrap();
        assert_eq!(d.n, 2);
        assert_eq!(labels(&d), (&[0, 4][..], 5));
        assert_eq!(labels(&csv("1,0\n2,0\n", None).unwrap()).1, 2);
        assert_eq!(labels(&csv("1,3.0\n", None).unwrap()).0, [3]);
    }

    #[test]
    fn targets_k_takes_the_last_k_columns_as_values() {
        let d = csv("x,y1,y2\n1,0.5,-2\n2,1.5,3\n", Some(2)).unwrap();
        assert_eq!((d.n, d.dim, d.target_width()), (2, 1, 2));
        assert_eq!(d.x.to_f32(), [1.0, 2.0]);
        let mut row = [0.0; 2];
        d.target_row(1, &mut row);
        assert_eq!(row, [1.5, 3.0]);
        fails_at("1,2\n", Some(2), 1);
        assert!(csv("1,2\n", Some(0)).is_err());
    }

    #[test]
    fn ragged_row_says_columns_found_and_expected() {
        let msg = fails_at("1,2,0\n1,2,3,0\n", None, 2);
        assert!(msg.contains("4 columns, expected 3"), "{msg}");
        fails_at("a,b,c\n1,2\n", None, 2);
    }

    #[test]
    fn bad_cells_name_the_line() {
        let msg = fails_at("1,2,0\n1,abc,1\n", None, 2);
        assert!(msg.contains("\"abc\""), "{msg}");
        assert!(fails_at("1,2,0\n1,,1\n", None, 2).contains("empty cell"));
        assert!(fails_at("1,,0\n", None, 1).contains("empty cell"));
        fails_at("1,2,0\n3,NaN,1\n", None, 2);
        fails_at("1,2,0\n1,2,0\n1,inf,1\n", None, 3);
        fails_at("1,1e39,0\n", None, 1);
        fails_at("1,2,0\n\n3,4,1\n", None, 2);
        fails_at("1,2,0.5\n", None, 1);
        fails_at("1,2,-1\n", None, 1);
        fails_at("1,2,1e9\n", None, 1);
        fails_at("1,2,0\n1,2,1\n1,2,\n", None, 3);
        fails_at("5\n", None, 1);
    }

    #[test]
    fn blank_lines_may_only_end_the_file() {
        let trailing = format!("1,2,0\n{}", " \n\u{3000}\r\n".repeat(50_000));
        assert_eq!(csv(&trailing, None).unwrap().n, 1);
        let msg = fails_at("1,2,0\n\n \n1,2,1\n\n", None, 2);
        assert!(msg.contains("blank line"), "{msg}");
    }

    #[test]
    fn empty_input_and_header_only_have_no_data_rows() {
        for text in ["", "\n\n", "a,b,c\n"] {
            let msg = csv(text, None).err().unwrap().to_string();
            assert!(msg.contains("no data rows"), "{msg}");
        }
    }

    #[test]
    fn garbage_bytes_return_errors_not_panics() {
        let bytes = [0xff, 0xfe, b',', b'\n', 0, 1, 2, b',', b'1'];
        assert!(parse(Path::new("g"), "g".into(), &bytes, None).is_err());
        assert!(parse(Path::new("g"), "g".into(), &bytes, Some(3)).is_err());
    }

    #[test]
    fn files_plain_gzipped_missing_and_bad_gzip() {
        let text = "f1,f2,y\n0,1,1\n1,0,0\n";
        let plain = temp("plain.csv", text.as_bytes());
        let d = load_csv(&plain, None).unwrap();
        assert_eq!(
            (d.n, d.dim, d.name.as_str()),
            (2, 2, plain.file_name().unwrap().to_str().unwrap())
        );

        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        let gz = temp("ok.csv.gz", &enc.finish().unwrap());
        assert_eq!(load_csv(&gz, None).unwrap().x, d.x);

        let bad = temp("bad.csv.gz", b"not gzip at all");
        let msg = load_csv(&bad, None).err().unwrap().to_string();
        assert!(
            msg.contains("bad gzip") && msg.contains("bad.csv.gz"),
            "{msg}"
        );

        let missing = std::env::temp_dir().join("wgtrain-no-such-file.csv");
        let msg = load_csv(&missing, None).err().unwrap().to_string();
        assert!(
            msg.contains("cannot read") && msg.contains("no-such-file"),
            "{msg}"
        );
        for p in [plain, gz, bad] {
            std::fs::remove_file(p).unwrap();
        }
    }
}
