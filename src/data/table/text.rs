//! How to read a CSV file, as a person types it (a command line's flags, a page's fields): every
//! setting as text, turned into `CsvOptions` here so that every face reads it alike and its
//! errors name the setting ("the setting `delimiter`"), never a flag or a field.

use super::{Column, CsvOptions, Thousands};
use crate::error::{Error, Result};

/// The CSV settings as text; None (or false) where not given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsvText {
    /// The class label column: a header name or a 1-based number.
    pub label: Option<String>,
    /// Value target columns (names or numbers, comma separated) or a count K of last columns.
    pub targets: Option<String>,
    /// Columns to leave out (names or numbers, comma separated).
    pub ignore: Option<String>,
    /// Columns to read as inputs although the reader would leave them out.
    pub features: Option<String>,
    /// Allow a label with many classes.
    pub many_classes: bool,
    /// One character, or `tab` / `\t`, `space` / `spaces`.
    pub delimiter: Option<String>,
    /// `.` or `,`.
    pub decimal: Option<String>,
    /// `,`, `.`, `'`, `space`, `none` or `detect`.
    pub thousands: Option<String>,
    /// `mean` or `error`.
    pub missing: Option<String>,
    /// Cells read as missing besides the usual markers, comma separated.
    pub na_values: Option<String>,
    /// Leave out rows whose label or target is missing.
    pub drop_missing_target: bool,
    /// An encoding's name (UTF-8 by default; a BOM is followed).
    pub encoding: Option<String>,
    /// Lines starting with this character are skipped.
    pub comment: Option<String>,
    /// Dates with slashes are dd/mm/yyyy.
    pub day_first: bool,
    /// Whether the first line is a header: `yes` or `no`; None (or `auto`): found.
    pub header: Option<String>,
}

impl CsvText {
    /// The options these settings give, or an error naming the setting that cannot be read.
    pub fn options(&self) -> Result<CsvOptions> {
        let columns = |s: &Option<String>| -> Result<Vec<Column>> {
            s.iter()
                .flat_map(|s| s.split(','))
                .map(str::parse)
                .collect()
        };
        Ok(CsvOptions {
            delimiter: one_char("delimiter", &self.delimiter)?,
            decimal: one_char("decimal", &self.decimal)?,
            label: self.label.as_deref().map(str::parse).transpose()?,
            targets: self.targets.as_deref().map(str::parse).transpose()?,
            ignore: columns(&self.ignore)?,
            missing: self.missing.as_deref().unwrap_or("mean").parse()?,
            features: columns(&self.features)?,
            many_classes: self.many_classes,
            day_first: self.day_first,
            thousands: match self.thousands.as_deref() {
                None => Thousands::Detect,
                Some(t) => t.parse()?,
            },
            na_values: self
                .na_values
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            drop_missing_target: self.drop_missing_target,
            encoding: self.encoding.as_deref().map(str::parse).transpose()?,
            comment: one_char("comment", &self.comment)?,
            header: match self.header.as_deref() {
                None | Some("auto") => None,
                Some("yes") => Some(true),
                Some("no") => Some(false),
                Some(h) => {
                    return Err(Error::invalid(
                        "header",
                        format!("{h:?}: expected yes, no or auto"),
                    ));
                }
            },
        })
    }
}

/// One character: `tab` (or `\t`) and `space` (or `spaces`) by name.
fn one_char(setting: &'static str, given: &Option<String>) -> Result<Option<char>> {
    let Some(s) = given.as_deref() else {
        return Ok(None);
    };
    let c = match s {
        "\\t" | "tab" => '\t',
        "space" | "spaces" => ' ',
        _ => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => {
                    return Err(Error::invalid(
                        setting,
                        format!("{s:?}: give one character"),
                    ));
                }
            }
        }
    };
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_settings_become_options_and_a_bad_one_is_named() {
        let o = CsvText {
            delimiter: Some("tab".into()),
            label: Some("species".into()),
            na_values: Some("#N/A, -,".into()),
            thousands: Some("none".into()),
            ..CsvText::default()
        }
        .options()
        .unwrap();
        assert_eq!(o.delimiter, Some('\t'));
        assert_eq!(o.label, Some("species".parse().unwrap()));
        assert_eq!(o.na_values, vec!["#N/A".to_string(), "-".to_string()]);
        assert_eq!(o.thousands, Thousands::Off);
        assert_eq!(CsvText::default().options().unwrap(), CsvOptions::default());
        // Given empty is not "not given": it names the setting.
        let e = CsvText {
            delimiter: Some(String::new()),
            ..CsvText::default()
        }
        .options()
        .unwrap_err();
        assert!(e.to_string().contains("delimiter"), "{e}");
        let e = CsvText {
            comment: Some("##".into()),
            ..CsvText::default()
        }
        .options()
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    arg: Some("comment"),
                    ..
                }
            ),
            "{e}"
        );
    }
}
