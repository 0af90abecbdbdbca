//! Which column is what, from the options: header names that must differ, columns named by
//! name or number, each column's role; and options given again checked against a fitted
//! table (`Table::check_options`).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use super::super::date::DateForm;
use super::super::{Column, CsvOptions, Kind, Table, TargetColumns, Thousands};
use crate::error::{Error, Result};

/// Header names must differ, but for columns ignored by number: the first pair that does not
/// is an error naming both positions.
pub(super) fn duplicates(path: &Path, line: usize, names: &[String], o: &CsvOptions) -> Result<()> {
    let by_number: BTreeSet<usize> = o
        .ignore
        .iter()
        .filter_map(|c| match c {
            Column::Number(n) => Some(*n),
            Column::Name(_) => None,
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if by_number.contains(&(i + 1)) {
            continue;
        }
        if let Some(j) = seen.insert(n.as_str(), i + 1) {
            return Err(Error::data(
                path,
                format!(
                    "line {line}: columns {j} and {} are both named {n:?}: rename one, or leave one out by its number with the setting `ignore`",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// The 0-based index `c` names among `names` (`header`: they are the file's).
pub(super) fn resolve(
    c: &Column,
    names: &[String],
    header: bool,
    what: &'static str,
) -> Result<usize> {
    match c {
        Column::Number(n) if (1..=names.len()).contains(n) => Ok(n - 1),
        Column::Number(n) => Err(Error::invalid(
            what,
            format!("column {n}: the file has {} columns", names.len()),
        )),
        Column::Name(s) if !header => Err(Error::invalid(
            what,
            format!(
                "{s:?}: the file has no header line, so its columns go by number (1 to {})",
                names.len()
            ),
        )),
        Column::Name(s) => names.iter().position(|n| n == s).ok_or_else(|| {
            if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(s)) {
                return Error::invalid(
                    what,
                    format!(
                        "{s:?}: no column has that name, but {n:?} differs only in case (names are matched exactly)"
                    ),
                );
            }
            let shown: Vec<&str> = names.iter().take(20).map(String::as_str).collect();
            Error::invalid(
                what,
                format!(
                    "{s:?}: no column has that name (the header has {}{})",
                    shown.join(", "),
                    if names.len() > 20 { ", ..." } else { "" }
                ),
            )
        }),
    }
}

/// Each column's role from the options: Label, Target, Ignored, or None for a feature.
pub(super) fn roles(names: &[String], header: bool, o: &CsvOptions) -> Result<Vec<Option<Kind>>> {
    let w = names.len();
    let mut roles: Vec<Option<Kind>> = vec![None; w];
    match (&o.targets, &o.label) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "label",
                "names a class column; it cannot be combined with targets (real-valued columns)",
            ));
        }
        (Some(TargetColumns::Last(0)), None) => {
            return Err(Error::invalid(
                "targets",
                "0: the number of target columns must be at least 1",
            ));
        }
        (Some(TargetColumns::Columns(cs)), None) if cs.is_empty() => {
            return Err(Error::invalid("targets", "names no column"));
        }
        (Some(TargetColumns::Last(k)), None) => {
            if *k >= w {
                return Err(Error::invalid(
                    "targets",
                    format!(
                        "{k}: the file has {w} columns, and {k} target columns need at least {} (one input)",
                        *k as u128 + 1
                    ),
                ));
            }
            for r in &mut roles[w - k..] {
                *r = Some(Kind::Target);
            }
        }
        (Some(TargetColumns::Columns(cs)), None) => {
            for c in cs {
                let i = resolve(c, names, header, "targets")?;
                if roles[i].is_some() {
                    return Err(Error::invalid(
                        "targets",
                        format!("names column {} twice", i + 1),
                    ));
                }
                roles[i] = Some(Kind::Target);
            }
        }
        (None, label) => {
            let i = match label {
                Some(c) => resolve(c, names, header, "label")?,
                None => w - 1,
            };
            roles[i] = Some(Kind::Label);
        }
    }
    for c in &o.ignore {
        let i = resolve(c, names, header, "ignore")?;
        if roles[i].is_some() {
            return Err(Error::invalid(
                "ignore",
                format!("column {} ({:?}) is the label or a target", i + 1, names[i]),
            ));
        }
        roles[i] = Some(Kind::Ignored);
    }
    for c in &o.features {
        let i = resolve(c, names, header, "features")?;
        if roles[i].is_some() {
            return Err(Error::invalid(
                "features",
                format!(
                    "column {} ({:?}) is the label, a target or ignored",
                    i + 1,
                    names[i]
                ),
            ));
        }
    }
    if roles.iter().all(Option::is_some) {
        return Err(Error::usage(
            "no input column is left: the file's columns are all labels, targets or ignored",
        ));
    }
    Ok(roles)
}

/// The error for the option `what`, given as `given`, where the run's table `had` another.
fn contradicts(what: &'static str, given: String, had: String) -> Result<()> {
    Err(Error::invalid(
        what,
        format!("{given} contradicts the run's table, which has {had}"),
    ))
}

impl Table {
    /// Reading options given again (resuming a run) must be the ones this table was fitted
    /// with; the first that is not is an error naming it.
    pub fn check_options(&self, o: &CsvOptions) -> Result<()> {
        self.check_reading(o)?;
        self.check_columns(o)
    }

    /// The options of how cells read (delimiter, marks, missing values, encoding, comment),
    /// against this table's.
    fn check_reading(&self, o: &CsvOptions) -> Result<()> {
        if let Some(d) = o.delimiter.filter(|&d| d != self.delimiter) {
            return contradicts(
                "delimiter",
                format!("{d:?}"),
                format!("{:?}", self.delimiter),
            );
        }
        if let Some(d) = o.decimal.filter(|&d| d != self.decimal) {
            return contradicts("decimal", format!("{d:?}"), format!("{:?}", self.decimal));
        }
        let given = match o.thousands {
            Thousands::Detect => None,
            Thousands::Off => Some(None),
            Thousands::Mark(t) => Some(Some(t)),
        };
        if let Some(t) = given.filter(|&t| t != self.thousands) {
            let show = |t: Option<char>| t.map_or("none".to_string(), |t| format!("{t:?}"));
            return contradicts("thousands", show(t), show(self.thousands));
        }
        if !o.na_values.is_empty() && o.na_values != self.na_values {
            return contradicts(
                "na_values",
                format!("{:?}", o.na_values),
                format!("{:?}", self.na_values),
            );
        }
        if let Some(e) = o.encoding {
            let had = self.encoding.as_deref().unwrap_or("UTF-8");
            if e.name() != had {
                return contradicts("encoding", e.name().to_string(), had.to_string());
            }
        }
        if let Some(c) = o.comment.filter(|&c| Some(c) != self.comment) {
            let had = self
                .comment
                .map_or("no comment mark".to_string(), |c| format!("{c:?}"));
            return contradicts("comment", format!("{c:?}"), had);
        }
        if o.day_first
            && let Some(c) = self.columns.iter().find(
                |c| matches!(c.kind, Kind::Date { form, .. } if form == DateForm::MonthSlashDay),
            )
        {
            return contradicts(
                "day_first",
                "true".into(),
                format!("dates read mm/dd/yyyy in column {:?}", c.name),
            );
        }
        if o.drop_missing_target && !self.drop_missing_target {
            return contradicts(
                "drop_missing_target",
                "true".into(),
                "rows with a missing label or target refused".into(),
            );
        }
        if o.missing != self.missing {
            return contradicts(
                "missing",
                format!("{:?}", o.missing).to_lowercase(),
                format!("{:?}", self.missing).to_lowercase(),
            );
        }
        Ok(())
    }

    /// The options that name columns (label, targets, ignored, features), against this
    /// table's columns.
    fn check_columns(&self, o: &CsvOptions) -> Result<()> {
        let names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
        let index = |c: &Column, what| resolve(c, &names, self.header, what);
        if let Some(l) = &o.label {
            let had = self.label().map_or("no label column".into(), |(i, n)| {
                format!("the label in column {i} ({n:?})")
            });
            if self.label().map(|(i, _)| i - 1) != index(l, "label").ok() {
                return contradicts("label", l.to_string(), had);
            }
        }
        let targets: Vec<usize> = (0..self.columns.len())
            .filter(|&i| self.columns[i].kind == Kind::Target)
            .collect();
        if let Some(t) = &o.targets {
            let given: Vec<usize> = match t {
                TargetColumns::Last(k) => {
                    (self.columns.len().saturating_sub(*k)..self.columns.len()).collect()
                }
                TargetColumns::Columns(cs) => {
                    cs.iter().filter_map(|c| index(c, "targets").ok()).collect()
                }
            };
            if given != targets {
                let t = match t {
                    TargetColumns::Last(k) => k.to_string(),
                    TargetColumns::Columns(cs) => cs
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let had = if targets.is_empty() {
                    "no target columns".to_string()
                } else {
                    format!(
                        "target columns {:?}",
                        targets.iter().map(|i| i + 1).collect::<Vec<_>>()
                    )
                };
                return contradicts("targets", t, had);
            }
        }
        for c in &o.ignore {
            if index(c, "ignore")
                .ok()
                .is_none_or(|i| self.columns[i].kind != Kind::Ignored)
            {
                return contradicts(
                    "ignore",
                    c.to_string(),
                    "it as a column that is read".into(),
                );
            }
        }
        for c in &o.features {
            if index(c, "features")
                .ok()
                .is_none_or(|i| !self.columns[i].kind.is_input())
            {
                return contradicts("features", c.to_string(), "it as no input".into());
            }
        }
        Ok(())
    }
}
