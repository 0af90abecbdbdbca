//! Guessing how a tabular file writes its cells from its first lines (`sniff`): the delimiter
//! that splits them most consistently, and the decimal mark its numbers show.

use std::io::Read;
use std::path::Path;

use super::read::{Guard, SPACES, decimal_comma, number, open_text};
use super::{DELIMITERS, Format, Text};
use crate::error::{Error, Result};

/// Lines looked at to guess the delimiter and the decimal mark.
const SNIFF_LINES: usize = 50;
/// Bytes looked at to guess the delimiter and the decimal mark.
const SNIFF_BYTES: usize = 64 << 10;

/// The delimiter and decimal mark of `path`, those given kept: the delimiter among ',', ';',
/// tab and runs of spaces that splits the first lines most consistently into 2 or more cells
/// (then into the most cells that are numbers; ties go to ';', then ',', tab, spaces), and a
/// decimal comma when a cell of the first lines is a number written with one beyond doubt
/// (`decimal_comma`; never for ','): one `12,345` may be a thousands separator, and does not
/// turn the file's other numbers into decimal-comma ones.
pub fn sniff(
    path: &Path,
    delimiter: Option<char>,
    decimal: Option<char>,
    text: Text,
) -> Result<Format> {
    check_given(delimiter, decimal, text)?;
    if let (Some(delimiter), Some(decimal)) = (delimiter, decimal) {
        return format(delimiter, decimal, text);
    }
    let sample = sample(path, text)?;
    let (delimiter, rows) = best_split(&sample, delimiter, decimal, text.comment);
    let decimal = decimal.unwrap_or_else(|| {
        let comma = delimiter != ',' && rows.iter().flatten().any(|c| decimal_comma(c));
        if comma { ',' } else { '.' }
    });
    if delimiter == ',' && decimal == ',' {
        // Given a decimal comma, the file still splits best at ',': reading it so would train
        // on numbers cut in two and save a table no command can read back.
        return Err(Error::data(
            path,
            "the setting `decimal` is ',', but the file is ','-separated (its lines split best at ','), and a ','-separated file cannot write numbers with a decimal comma: leave the setting `decimal` out, or give the setting `delimiter` if the file is ';'- or tab-separated",
        ));
    }
    format(delimiter, decimal, text)
}

/// The delimiter, decimal mark and comment mark given: each one a reader knows, and not
/// clashing with each other.
fn check_given(delimiter: Option<char>, decimal: Option<char>, text: Text) -> Result<()> {
    if let Some(d) = delimiter
        && !DELIMITERS.contains(&d)
    {
        return Err(Error::invalid(
            "delimiter",
            format!("{d:?}: expected ',', ';', a tab, '|' or ' ' (runs of spaces)"),
        ));
    }
    if let Some(d) = decimal
        && ![',', '.'].contains(&d)
    {
        return Err(Error::invalid(
            "decimal",
            format!("{d:?}: expected '.' or ','"),
        ));
    }
    if delimiter == Some(',') && decimal == Some(',') {
        return Err(Error::invalid(
            "decimal",
            "',' cannot be the decimal mark of a ','-separated file",
        ));
    }
    if let Some(c) = text.comment
        && (!c.is_ascii_graphic() || c.is_ascii_alphanumeric() || c == '"' || delimiter == Some(c))
    {
        return Err(Error::invalid(
            "comment",
            format!(
                "{c:?}: expected one ASCII mark that is not a letter, a digit, a quote or the delimiter ('#', '%', ...)"
            ),
        ));
    }
    Ok(())
}

/// The format of `delimiter` and `decimal`; an error when the comment mark is the delimiter.
fn format(delimiter: char, decimal: char, text: Text) -> Result<Format> {
    if text.comment == Some(delimiter) {
        return Err(Error::invalid(
            "comment",
            format!(
                "{delimiter:?} is the file's delimiter too: give the setting `delimiter`, or another comment mark"
            ),
        ));
    }
    Ok(Format {
        delimiter,
        decimal,
        text,
    })
}

/// The first `SNIFF_BYTES` of `path` as text, cut after their last whole line when the file
/// is longer.
fn sample(path: &Path, text: Text) -> Result<String> {
    let mut sample = Vec::new();
    let mut r = Guard::new(
        open_text(path, text.encoding)?.0,
        false,
        ',',
        false,
        text.comment,
    );
    let read = (&mut r).take(SNIFF_BYTES as u64).read_to_end(&mut sample);
    if let Err(e) = read
        && !r.tripped
    {
        let gz = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        return Err(Error::data(
            path,
            if gz {
                format!("bad gzip data: {e}")
            } else {
                format!("cannot read: {e}")
            },
        ));
    }
    if sample.len() == SNIFF_BYTES
        && let Some(end) = sample.iter().rposition(|&b| b == b'\n')
    {
        sample.truncate(end + 1);
    }
    Ok(String::from_utf8_lossy(&sample).into_owned())
}

/// The delimiter (the one given, or the best of ';', ',', tab and spaces) that splits the
/// `sample`'s lines most consistently, then into the most numbers (read with `decimal`, or the
/// mark the delimiter leaves), then into the most cells; and the rows as it splits them.
fn best_split(
    sample: &str,
    delimiter: Option<char>,
    decimal: Option<char>,
    comment: Option<char>,
) -> (char, Vec<Vec<String>>) {
    let candidates: Vec<char> = match delimiter {
        Some(d) => vec![d],
        None => vec![';', ',', '\t', '|', SPACES],
    };
    // (delimiter, (consistent rows, numeric cells, width), the rows as it splits them)
    type Candidate = (char, (usize, i64, usize), Vec<Vec<String>>);
    let mut best: Option<Candidate> = None;
    for &d in &candidates {
        let dec = decimal.unwrap_or(if d == ',' { '.' } else { ',' });
        let rows = split(sample, d, comment);
        let Some(width) = mode(rows.iter().map(Vec::len)) else {
            continue;
        };
        if width < 2 && delimiter.is_none() {
            continue;
        }
        let consistent = rows.iter().filter(|r| r.len() == width).count();
        let numbers = rows
            .iter()
            .skip(1)
            .flatten()
            .filter(|c| number(c, dec).is_some())
            .count() as i64;
        let score = (consistent, numbers, width);
        if best.as_ref().is_none_or(|(_, s, _)| score > *s) {
            best = Some((d, score, rows));
        }
    }
    best.map_or((',', vec![]), |(d, _, rows)| (d, rows))
}

/// The cells of the first `SNIFF_LINES` records of `text` that are not blank or comment lines
/// (starting with `comment`), split at `d` (quotes honoured) or at runs of spaces; one parser
/// for them all (building one costs more than splitting a line).
fn split(text: &str, d: char, comment: Option<char>) -> Vec<Vec<String>> {
    if d == SPACES {
        return text
            .lines()
            .filter(|l| !comment.is_some_and(|c| l.starts_with(c)))
            .map(|l| {
                l.split_ascii_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|r| !r.is_empty())
            .take(SNIFF_LINES)
            .collect();
    }
    let mut r = csv::ReaderBuilder::new()
        .delimiter(d as u8)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(comment.map(|c| c as u8))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    // Records that are blank or not UTF-8 count too, so this ends.
    for _ in 0..SNIFF_LINES * 4 {
        match r.read_record(&mut rec) {
            Ok(true) if rec.len() <= 1 && rec.iter().all(str::is_empty) => {}
            Ok(true) => rows.push(rec.iter().map(String::from).collect()),
            Ok(false) => break,
            Err(_) => {}
        }
        if rows.len() == SNIFF_LINES {
            break;
        }
    }
    rows
}

/// The most frequent value (the largest among equals); None for none.
fn mode(it: impl Iterator<Item = usize>) -> Option<usize> {
    let mut counts = std::collections::BTreeMap::new();
    for v in it {
        *counts.entry(v).or_insert(0usize) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|&(v, c)| (c, v))
        .map(|(v, _)| v)
}
