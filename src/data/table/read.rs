//! The bytes of a tabular file as records: the file (gunzipped when named .gz) decoded to UTF-8
//! (UTF-16 by its byte-order mark, another encoding by name), streamed through the `csv` crate
//! (RFC 4180: quotes, embedded delimiters, CRLF) or split on runs of spaces, a byte-order mark
//! and comment lines dropped (the delimiter and decimal mark are guessed in `sniff`).
//!
//! Past 600 lines as one responsibility, bytes to records: opening, decoding, the record guard,
//! line ends and line numbers, and the cell-level number readers the sniff and fit share.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::Encoding;
use crate::error::{Error, Result};

/// The delimiter that stands for runs of spaces and tabs.
pub const SPACES: char = ' ';

/// The most bytes one record (one line, or several within quotes) may take: a wider one is
/// refused before the reader grows a buffer for it.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Cells that stand for a missing value (compared ignoring ASCII case): the usual ones, Excel's
/// `#N/A`, pandas' `<NA>` and `-nan`, MySQL's `\N`.
const MISSING: [&str; 11] = [
    "", "na", "n/a", "nan", "?", "null", "#n/a", "#na", "<na>", "-nan", "\\n",
];

/// Whether `cell` (trimmed) marks a missing value: empty, `NA`, `N/A`, `NaN`, `?`, `null`,
/// `#N/A`, `#NA`, `<NA>`, `-nan`, `\N`.
pub fn is_missing(cell: &str) -> bool {
    MISSING.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

/// `cell` as a number, reading a decimal comma when `decimal` is ','; None when it is not one
/// (missing markers are not numbers).
pub fn number(cell: &str, decimal: char) -> Option<f64> {
    if is_missing(cell) || cell.starts_with(['x', 'X']) {
        return None;
    }
    let first = cell.as_bytes()[0];
    if !(first.is_ascii_digit() || b"+-.,".contains(&first) || first == b'i' || first == b'I') {
        return None;
    }
    if decimal == ',' && cell.contains(',') {
        if cell.contains('.') || cell.matches(',').count() > 1 {
            return None;
        }
        return cell.replace(',', ".").parse().ok();
    }
    cell.parse().ok()
}

/// `cell` as a number with the decimal mark `decimal` and the thousands separator `thousands`:
/// a cell that groups its whole part's digits in threes with it (`1.234,5`, `16.231`, `1,234`,
/// `-12,345,678.9`) loses the separators; any other is read as `number` reads it.
pub fn number_in(cell: &str, decimal: char, thousands: Option<char>) -> Option<f64> {
    if let Some(t) = thousands
        && let Some(plain) = ungrouped(cell, decimal, t)
    {
        return plain.parse().ok();
    }
    number(cell, decimal)
}

/// `cell` without its thousands separators `t` and with '.' for its decimal mark, when it
/// writes a number so: an optional sign, 1 to 3 digits (not a leading 0), one or more groups of
/// `t` and 3 digits, then optionally `decimal` and digits. None otherwise.
pub(crate) fn ungrouped(cell: &str, decimal: char, t: char) -> Option<String> {
    if t == decimal {
        return None;
    }
    let (sign, rest) = match cell.strip_prefix(['-', '+']) {
        Some(r) => (&cell[..1], r),
        None => ("", cell),
    };
    let (whole, frac) = match rest.split_once(decimal) {
        Some((w, f)) => (w, Some(f)),
        None => (rest, None),
    };
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    // A space groups digits as the no-break spaces French and Swiss software write do.
    let mark = |c: char| c == t || (t == ' ' && SPACE_MARKS.contains(&c));
    let mut groups = whole.split(mark);
    let first = groups.next()?;
    let mut out = String::with_capacity(cell.len());
    out += sign;
    out += first;
    if !digits(first) || first.len() > 3 || (first.starts_with('0')) {
        return None;
    }
    let mut n = 0;
    for g in groups {
        if g.len() != 3 || !digits(g) {
            return None;
        }
        out += g;
        n += 1;
    }
    if n == 0 {
        return None;
    }
    if let Some(f) = frac {
        if !digits(f) {
            return None;
        }
        out.push('.');
        out += f;
    }
    Some(out)
}

/// Whether `cell` uses ',' as a decimal mark beyond doubt: `3,5`, `0,125`, `1.234,5` (a cell
/// like `12,345` could be a thousands separator instead, and says nothing).
pub(crate) fn decimal_comma(cell: &str) -> bool {
    if (ungrouped(cell, ',', '.').is_some() || ungrouped(cell, ',', ' ').is_some())
        && cell.contains(',')
    {
        return true;
    }
    cell.contains(',')
        && number(cell, '.').is_none()
        && number(cell, ',').is_some()
        && ungrouped(cell, '.', ',').is_none()
}

/// What keeps `cell` from reading as a number, when it is one written for people: a percent
/// sign (`45%`), a currency sign (`$12.50`), or thousands separators (`1,234.5`, or `1.234,5`
/// with a decimal comma). None otherwise.
pub(crate) fn formatted_number(cell: &str, decimal: char) -> Option<&'static str> {
    let plain = |c: &str| number(c.trim(), decimal).is_some();
    if let Some(rest) = cell.strip_suffix('%')
        && plain(rest)
    {
        return Some("a percent sign");
    }
    let currency = ['$', '€', '£', '¥'];
    if let Some(rest) = cell
        .strip_prefix(currency)
        .or_else(|| cell.strip_suffix(currency))
        && (plain(rest) || formatted_number(rest.trim(), decimal).is_some())
    {
        return Some("a currency sign");
    }
    let sep = if decimal == ',' { '.' } else { ',' };
    let (whole, _) = cell.split_once(decimal).unwrap_or((cell, ""));
    let groups: Vec<&str> = whole.trim_start_matches(['-', '+']).split(sep).collect();
    let grouped = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
    if grouped && plain(&cell.replace(sep, "")) {
        return Some("thousands separators");
    }
    ungrouped(cell, decimal, ' ').map(|_| "spaces grouping its digits")
}

/// The spaces that group digits: a space, a no-break space (U+00A0, French Excel and
/// LibreOffice) and a narrow no-break space (U+202F).
const SPACE_MARKS: [char; 3] = [' ', '\u{a0}', '\u{202f}'];

/// The columns' names from a file's first record: its cells when it is a `header`, with
/// `column N` for an empty one (pandas' index, R's row names); `column N` for all without.
pub(crate) fn header_names(first: &[String], header: bool) -> Vec<String> {
    first
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if header && !n.is_empty() {
                n.clone()
            } else {
                format!("column {}", i + 1)
            }
        })
        .collect()
}

/// The file's bytes, decoded: gunzipped when its name ends in .gz.
fn open(path: &Path) -> Result<Box<dyn Read>> {
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if let Some(bytes) = crate::files::given(path) {
        let bytes = std::io::Cursor::new(bytes);
        return Ok(if gz {
            Box::new(MultiGzDecoder::new(bytes))
        } else {
            Box::new(bytes)
        });
    }
    let meta =
        std::fs::metadata(path).map_err(|e| Error::data(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Error::data(
            path,
            "not a regular file (a folder, device or pipe): give a file",
        ));
    }
    let f = File::open(path).map_err(|e| Error::data(path, format!("cannot read: {e}")))?;
    Ok(if gz {
        Box::new(MultiGzDecoder::new(BufReader::new(f)))
    } else {
        Box::new(f)
    })
}

/// A reader that refuses a record longer than `MAX_RECORD_BYTES`: it counts the bytes since the
/// last line end outside quotes (with `quotes`) and fails past the limit, so a file without line
/// ends (or a gzip bomb of one) cannot make the parser grow a buffer without end.
pub(super) struct Guard<R> {
    inner: R,
    quotes: bool,
    /// The delimiter (for messages about a quote left open).
    delimiter: u8,
    /// The end of the input was reached.
    eof: bool,
    in_quotes: bool,
    since: usize,
    pub(super) tripped: bool,
    gz: bool,
    failed: Option<std::io::ErrorKind>,
    /// The byte that starts a comment line, whose quotes open nothing.
    comment: Option<u8>,
    in_comment: bool,
    /// The last byte read was a '\r' (given as '\n'): a '\n' right after it is dropped.
    after_cr: bool,
    /// The bytes given so far, and the last of them.
    pub(super) given: u64,
    pub(super) last: Option<u8>,
}

impl<R> Guard<R> {
    /// A guard over `inner`, counting quotes with `quotes`.
    pub(super) fn new(
        inner: R,
        quotes: bool,
        delimiter: char,
        gz: bool,
        comment: Option<char>,
    ) -> Guard<R> {
        Guard {
            inner,
            quotes,
            delimiter: delimiter as u8,
            eof: false,
            in_quotes: false,
            since: 0,
            tripped: false,
            gz,
            failed: None,
            comment: comment.map(|c| c as u8),
            in_comment: false,
            after_cr: false,
            given: 0,
            last: None,
        }
    }

    /// `buf` with every line end made '\n' in place (Windows' "\r\n", old Mac files' lone
    /// '\r'), so that lines are counted alike whatever wrote the file; its new length.
    fn one_line_end(&mut self, buf: &mut [u8]) -> usize {
        if !self.after_cr && !buf.contains(&b'\r') {
            return buf.len();
        }
        let mut out = 0;
        for i in 0..buf.len() {
            let b = buf[i];
            if b == b'\n' && self.after_cr {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            buf[out] = if self.after_cr { b'\n' } else { b };
            out += 1;
        }
        out
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = loop {
            let n = self
                .inner
                .read(buf)
                .inspect_err(|e| self.failed = Some(e.kind()))?;
            let kept = self.one_line_end(&mut buf[..n]);
            // A read of nothing but the '\n' of a "\r\n" is not the end of the input.
            if kept > 0 || n == 0 {
                break kept;
            }
        };
        self.eof |= n == 0 && !buf.is_empty();
        self.given += n as u64;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        for &b in &buf[..n] {
            if b == b'\n' && !self.in_quotes {
                self.since = 0;
                self.in_comment = false;
                continue;
            }
            if self.since == 0 && !self.in_quotes && self.comment == Some(b) {
                self.in_comment = true;
            }
            if self.quotes && b == b'"' && !self.in_comment {
                self.in_quotes = !self.in_quotes;
            }
            self.since += 1;
        }
        if self.since > MAX_RECORD_BYTES {
            self.tripped = true;
            return Err(std::io::Error::other("record too long"));
        }
        Ok(n)
    }
}

/// How a file's bytes become lines: their encoding and the mark of a comment line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Text {
    /// The encoding; None: UTF-8 (a byte-order mark, UTF-8's or UTF-16's, says otherwise).
    pub encoding: Option<Encoding>,
    /// Lines that start with this character are skipped.
    pub comment: Option<char>,
}

/// How a file's lines split into cells.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Format {
    /// ',', ';', '\t', or `SPACES` (runs of spaces and tabs).
    pub delimiter: char,
    /// '.' or ','.
    pub decimal: char,
    /// The encoding and the comment mark.
    pub text: Text,
}

/// A file's records, one at a time: `next` fills `record` and returns the line it starts on.
pub struct Records {
    path: PathBuf,
    inner: Inner,
    comment: Option<char>,
    /// The current record's cells.
    pub record: csv::StringRecord,
    line: usize,
}

enum Inner {
    Csv(csv::Reader<Guard<Box<dyn Read>>>),
    Spaces(BufReader<Guard<Box<dyn Read>>>, String),
}

impl Records {
    /// Opens `path` to read with `format`.
    pub fn open(path: &Path, format: Format) -> Result<Records> {
        let gz = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        let comment = format.text.comment;
        let guard = Guard::new(
            open_text(path, format.text.encoding)?.0,
            format.delimiter != SPACES,
            format.delimiter,
            gz,
            comment,
        );
        let inner = if format.delimiter == SPACES {
            Inner::Spaces(BufReader::new(guard), String::new())
        } else {
            Inner::Csv(
                csv::ReaderBuilder::new()
                    .delimiter(format.delimiter as u8)
                    .has_headers(false)
                    .flexible(true)
                    .trim(csv::Trim::All)
                    .comment(comment.map(|c| c as u8))
                    .from_reader(guard),
            )
        };
        Ok(Records {
            path: path.to_path_buf(),
            inner,
            comment,
            record: csv::StringRecord::new(),
            line: 0,
        })
    }

    /// The first record that is not blank, and its line number; an error for a file without
    /// one.
    pub fn first(&mut self) -> Result<usize> {
        self.next()?.ok_or_else(|| {
            Error::data(
                &self.path,
                "no data rows: the file is empty, or holds only blank lines",
            )
        })
    }

    /// The next record that is not blank (a line of spaces, or nothing), and its line number;
    /// None at the end of the file.
    pub fn next(&mut self) -> Result<Option<usize>> {
        loop {
            let got = match &mut self.inner {
                Inner::Csv(r) => {
                    let got = r.read_record(&mut self.record);
                    match got {
                        Ok(true) => {
                            self.line = record_line(r, &self.record);
                            Ok(true)
                        }
                        Ok(false) => Ok(false),
                        Err(e) => {
                            // The record's own line where the parser knows it (bad UTF-8).
                            let line = e
                                .position()
                                .map_or(self.line, |p| (p.line() as usize).saturating_sub(1));
                            Err(error(&self.path, line, e.to_string(), r.get_ref()))
                        }
                    }
                }
                Inner::Spaces(r, buf) => {
                    buf.clear();
                    match r.read_line(buf) {
                        Ok(0) => Ok(false),
                        Ok(_) => {
                            self.line += 1;
                            self.record.clear();
                            if self.comment.is_some_and(|c| buf.starts_with(c)) {
                                continue;
                            }
                            for cell in buf.split_ascii_whitespace() {
                                self.record.push_field(cell);
                            }
                            Ok(true)
                        }
                        Err(e) => {
                            let e = e.to_string();
                            Err(error(&self.path, self.line, e, r.get_ref()))
                        }
                    }
                }
            };
            if !got? {
                return Ok(None);
            }
            let blank = self.record.iter().all(str::is_empty) && self.record.len() <= 1;
            if !blank {
                return Ok(Some(self.line));
            }
        }
    }
}

/// The line the record just read starts on. The parser's own record position is where it
/// stood before skipping blank and comment lines, so it counts back from where the record ends
/// instead: less the line ends inside its cells, and its own, unless it ends the file without
/// one.
fn record_line(r: &csv::Reader<Guard<Box<dyn Read>>>, record: &csv::StringRecord) -> usize {
    let end = r.position();
    let inside: usize = record.iter().map(|c| c.matches('\n').count()).sum();
    let g = r.get_ref();
    let unterminated = end.byte() == g.given && g.last != Some(b'\n');
    (end.line() as usize).saturating_sub(inside + usize::from(!unterminated))
}

/// How a delimiter reads in messages: `','`, `';'`, tab, runs of spaces.
pub(crate) fn delimiter_name(d: char) -> String {
    match d {
        '\t' => "tab".to_string(),
        SPACES => "spaces".to_string(),
        d => format!("'{d}'"),
    }
}

impl Records {
    /// Why the current record, which starts on line `line`, does not have the cells the file's
    /// other lines have, when the record itself says: a comment line (its first cell starts
    /// with '#'), or a quote opened on its line and never closed (the parser then reads the
    /// rest of the file, delimiters and line ends included, as one cell). None otherwise.
    pub fn width_cause(&self, line: usize) -> Option<String> {
        let first = self.record.get(0).unwrap_or("");
        if first.starts_with('#') && self.comment != Some('#') {
            return Some(format!(
                "line {line} starts with '#': a comment line; the setting `comment` '#' skips the lines that start with it"
            ));
        }
        let Inner::Csv(r) = &self.inner else {
            return None;
        };
        let guard = r.get_ref();
        let delimiter = guard.delimiter;
        let open = guard.eof
            && guard.in_quotes
            && self
                .record
                .iter()
                .any(|c| c.contains('\n') || c.contains(delimiter as char));
        open.then(|| {
            let last = line + self.record.iter().map(|c| c.matches('\n').count()).sum::<usize>();
            format!(
                "a quote (\") opened on line {line} is never closed, so the rest of the file (lines {line} to {last}) reads as one cell; close the quote, or remove it"
            )
        })
    }
}

/// The cells of the first record of `path` that is not blank, split at `d`; 0 when it cannot
/// be read.
pub(crate) fn first_width(path: &Path, d: char, text: Text) -> usize {
    let format = Format {
        delimiter: d,
        decimal: '.',
        text,
    };
    let Ok(mut r) = Records::open(path, format) else {
        return 0;
    };
    match r.next() {
        Ok(Some(_)) => r.record.len(),
        _ => 0,
    }
}

/// A read error after line `line` of `path`, in words: a record too long, bad gzip data, bad
/// UTF-8 or the parser's own message.
fn error(path: &Path, line: usize, msg: String, guard: &Guard<Box<dyn Read>>) -> Error {
    {
        let at = line + 1;
        if guard.tripped {
            return Error::data(
                path,
                format!(
                    "line {at}: a record longer than {}: not a table of values (or a quote never closed)",
                    crate::memory::human(MAX_RECORD_BYTES as u64)
                ),
            );
        }
        if guard.gz && guard.failed.is_some() {
            return Error::data(path, format!("bad gzip data: {msg}"));
        }
        if msg.contains("UTF-8") || msg.contains("utf-8") {
            return Error::data(
                path,
                format!(
                    "line {at}: not valid UTF-8: a file saved in another encoding? the setting `encoding` windows-1252 reads Excel's \"CSV\" of Western Windows (and latin-1); give another by its name, or save the file as UTF-8"
                ),
            );
        }
        Error::data(path, format!("line {at}: {msg}"))
    }
}

/// `path`'s decoded bytes as UTF-8, and the encoding they were read in: a byte-order mark's
/// (UTF-8, UTF-16LE or UTF-16BE; dropped), else `encoding`, else UTF-8.
pub(crate) fn open_text(
    path: &Path,
    encoding: Option<Encoding>,
) -> Result<(Box<dyn Read>, Encoding)> {
    let mut r = BufReader::new(open(path)?);
    let b = r.fill_buf().map_err(|e| {
        let gz = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
        Error::data(
            path,
            if gz {
                format!("bad gzip data: {e}")
            } else {
                format!("cannot read: {e}")
            },
        )
    })?;
    let bom = encoding_rs::Encoding::for_bom(b);
    let used = match (bom, encoding) {
        (Some((e, _)), _) => e,
        (None, Some(e)) => e.0,
        (None, None) => encoding_rs::UTF_8,
    };
    let utf16 = used == encoding_rs::UTF_16LE || used == encoding_rs::UTF_16BE;
    if let Some(what) = not_text(b, utf16) {
        return Err(Error::data(path, what));
    }
    if used == encoding_rs::UTF_8 {
        if let Some((_, n)) = bom {
            r.consume(n);
        }
        return Ok((Box::new(r), Encoding(used)));
    }
    let decode = Decode {
        inner: r,
        decoder: used.new_decoder_with_bom_removal(),
        raw: vec![0; 1 << 15],
        out: Vec::new(),
        at: 0,
        done: false,
    };
    Ok((Box::new(decode), Encoding(used)))
}

/// Bytes a spreadsheet workbook starts with: a zip archive (.xlsx, .ods) and an OLE2 compound
/// file (Excel 97-2003's .xls).
const ZIP: &[u8] = b"PK\x03\x04";
const OLE2: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// What to do with a workbook: the sheet saved as CSV.
const SAVE_AS_CSV: &str =
    "save the sheet as CSV (in Excel: Save As, \"CSV UTF-8 (Comma delimited)\")";

/// Whether `path` opens as text (not a workbook or another binary file, `not_text`), read as
/// UTF-8 or by its byte-order mark.
pub fn is_text(path: &Path) -> bool {
    open_text(path, None).is_ok()
}

/// What a file that is not text is, from its first bytes (None: text, as far as they show): a
/// spreadsheet workbook, or another binary file (a NUL byte in its first 4 KiB, which no text
/// in UTF-8 or an 8-bit encoding holds; `utf16` text has them in every ASCII character).
fn not_text(first: &[u8], utf16: bool) -> Option<String> {
    if first.starts_with(ZIP) {
        return Some(format!(
            "a zip archive, such as an Excel workbook (.xlsx) or an OpenDocument sheet (.ods), not a CSV file: {SAVE_AS_CSV}"
        ));
    }
    if first.starts_with(OLE2) {
        return Some(format!(
            "an Excel 97-2003 workbook (.xls), not a CSV file: {SAVE_AS_CSV}"
        ));
    }
    // gzip's magic number; a name ending in .gz is gunzipped before this look.
    if first.starts_with(&[0x1f, 0x8b]) {
        return Some(
            "gzip-compressed: a name ending in .gz (data.csv.gz, data.tsv.gz) is read unpacked"
                .to_string(),
        );
    }
    (!utf16 && first.iter().take(4096).any(|&b| b == 0)).then(|| {
        "not text: it holds NUL bytes, as binary files do (an IDX file of images or labels, a spreadsheet workbook), not a CSV file; or UTF-16 text without its byte-order mark, which the setting `encoding` utf-16le (or utf-16be) reads".to_string()
    })
}

/// `inner`'s bytes in another encoding than UTF-8, read as UTF-8; malformed input (an unpaired
/// UTF-16 surrogate) is an error naming the encoding.
struct Decode<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    /// Decoded bytes not yet read, from `at`.
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> Read for Decode<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.raw)?;
            let last = n == 0;
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(n)
                .ok_or_else(|| std::io::Error::other("a decoded chunk too long"))?;
            self.out.resize(room, 0);
            let (result, _, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.raw[..n],
                &mut self.out,
                last,
            );
            if let encoding_rs::DecoderResult::Malformed(..) = result {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("not valid {}", self.decoder.encoding().name()),
                ));
            }
            self.out.truncate(written);
            self.at = 0;
            self.done = last;
        }
        let k = buf.len().min(self.out.len() - self.at);
        buf[..k].copy_from_slice(&self.out[self.at..self.at + k]);
        self.at += k;
        Ok(k)
    }
}
