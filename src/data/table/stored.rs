//! A table as stored and shown: the table of a legacy model, checking a table read from a
//! checkpoint, and describing one for people.

use std::collections::BTreeSet;

use super::{ColumnInfo, DELIMITERS, Kind, MAX_LEVELS, Missing, SPACES, Table};
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
            thousands_off: false,
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
        if !DELIMITERS.contains(&self.delimiter)
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
}
