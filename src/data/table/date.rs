//! Dates and datetimes in a table's cells: the written forms recognised (ISO 8601 `yyyy-mm-dd`,
//! `dd.mm.yyyy`, `mm/dd/yyyy`, `dd/mm/yyyy`, each with an optional time of day), which form a
//! column's cells share (`DateTally`, while the fit reads), and the numeric inputs one date
//! gives the network (`inputs`).

use std::f64::consts::TAU;

use serde::{Deserialize, Serialize};

use super::Kind;

/// Inputs of a date: the day number, the time of year (sine, cosine), the weekday.
pub const DATE_INPUTS: usize = 4;
/// Inputs a datetime adds: the time of day (sine, cosine).
pub const TIME_INPUTS: usize = 2;
/// A column is read as dates when at least this share of its cells that are not missing are
/// dates of one form (then every other cell is refused, naming its line); below, it is text.
pub const DATE_SHARE: f64 = 0.9;
const SECONDS_PER_DAY: f64 = 86_400.0;

/// How a column writes its dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateForm {
    /// ISO 8601, as pandas and R write dates: `2012-01-05`, `2010-01-01 10:00:00`,
    /// `2010-01-01T10:00:00+01:00`.
    #[serde(rename = "yyyy-mm-dd")]
    Iso,
    /// German (and most of Europe's) Excel: `05.01.2012`, `5.1.2012 10:00`.
    #[serde(rename = "dd.mm.yyyy")]
    DayDotMonth,
    /// US Excel: `1/5/2012`, `01/05/2012 10:00 AM`.
    #[serde(rename = "mm/dd/yyyy")]
    MonthSlashDay,
    /// British and French Excel: `05/01/2012`.
    #[serde(rename = "dd/mm/yyyy")]
    DaySlashMonth,
}

impl super::Table {
    /// One note per date column: its form, and the inputs it gives.
    pub fn date_notes(&self) -> Vec<String> {
        self.columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.kind {
                Kind::Date {
                    form, time, guessed, ..
                } => Some(format!(
                    "column {} ({:?}) read as dates written {}: {} inputs, the day number (days since 1970-01-01{}), the time of year as a sine and a cosine, the weekday (0 Monday to 6 Sunday){}{}",
                    i + 1,
                    c.name,
                    form.pattern(),
                    c.kind.inputs(),
                    if *time { ", the time of day its fraction" } else { "" },
                    if *time {
                        ", the time of day as a sine and a cosine"
                    } else {
                        ""
                    },
                    if *guessed {
                        "; no day is above 12, so the order of day and month is a guess: mm/dd/yyyy (the setting `day_first` reads them dd/mm/yyyy)"
                    } else {
                        ""
                    }
                )),
                _ => None,
            })
            .collect()
    }
}

/// Every form, in the order `DateTally` counts them.
const FORMS: [DateForm; 4] = [
    DateForm::Iso,
    DateForm::DayDotMonth,
    DateForm::MonthSlashDay,
    DateForm::DaySlashMonth,
];

impl DateForm {
    /// The form as people write it: `yyyy-mm-dd`, `dd.mm.yyyy`, `mm/dd/yyyy`, `dd/mm/yyyy`.
    pub fn pattern(self) -> &'static str {
        match self {
            DateForm::Iso => "yyyy-mm-dd",
            DateForm::DayDotMonth => "dd.mm.yyyy",
            DateForm::MonthSlashDay => "mm/dd/yyyy",
            DateForm::DaySlashMonth => "dd/mm/yyyy",
        }
    }
}

/// A date (and time of day) as written, with no time zone: a zone offset after an ISO time is
/// read past, so the time of day is the one written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moment {
    /// Days since 1970-01-01 (negative before).
    pub days: i64,
    /// Seconds into the day, 0 to 86400 (86400 only for a leap second).
    pub seconds: f64,
    /// The share of its year that had passed: 0 on 1 January at midnight, below 1.
    pub year_share: f64,
}

impl Moment {
    /// The weekday, 0 for Monday to 6 for Sunday.
    pub fn weekday(&self) -> i64 {
        // 1970-01-01 was a Thursday.
        (self.days + 3).rem_euclid(7)
    }
}

/// Days from 1970-01-01 to the date `y-m-d` of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A whole number of 1 to `max` ASCII digits.
fn digits(s: &str, max: usize) -> Option<u32> {
    (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `cell` as a date (and time) of `form`, or None when it is not one (a day the month does not
/// have, a month above 12, a year not of four digits, an hour above 23, ...).
pub fn parse(cell: &str, form: DateForm) -> Option<Moment> {
    let (date, time) = match form {
        DateForm::Iso => match cell.get(..10) {
            Some(d) if cell.len() > 10 => {
                let rest = &cell[10..];
                let time = rest.strip_prefix(['T', ' '])?;
                (d, Some(time))
            }
            _ => (cell, None),
        },
        _ => match cell.split_once(' ') {
            Some((d, t)) => (d, Some(t.trim_start())),
            None => (cell, None),
        },
    };
    let sep = match form {
        DateForm::Iso => '-',
        DateForm::DayDotMonth => '.',
        DateForm::MonthSlashDay | DateForm::DaySlashMonth => '/',
    };
    let mut parts = date.split(sep);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (y, m, d) = match form {
        DateForm::Iso => (a, b, c),
        DateForm::DayDotMonth | DateForm::DaySlashMonth => (c, b, a),
        DateForm::MonthSlashDay => (c, a, b),
    };
    if y.len() != 4 {
        return None;
    }
    let (y, m, d) = (i64::from(digits(y, 4)?), digits(m, 2)?, digits(d, 2)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let seconds = match time {
        Some(t) => time_of_day(t, form == DateForm::Iso)?,
        None => 0.0,
    };
    let days = days_from_civil(y, m, d);
    let year_len = if leap(y) { 366.0 } else { 365.0 };
    let year_share =
        ((days - days_from_civil(y, 1, 1)) as f64 + seconds / SECONDS_PER_DAY) / year_len;
    Some(Moment {
        days,
        seconds,
        year_share,
    })
}

/// Seconds into the day of `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff`, with ` AM`/` PM` after it, or
/// (`zone`: an ISO time) `Z` or an offset `+HH:MM`, `-HHMM` (read past).
fn time_of_day(t: &str, zone: bool) -> Option<f64> {
    let mut t = t.trim_end();
    let mut half = None;
    for (mark, pm) in [("AM", false), ("PM", true), ("am", false), ("pm", true)] {
        if let Some(rest) = t.strip_suffix(mark) {
            t = rest.trim_end();
            half = Some(pm);
            break;
        }
    }
    if zone && half.is_none() {
        if let Some(rest) = t.strip_suffix('Z') {
            t = rest;
        } else if let Some(at) = t.rfind(['+', '-']) {
            let offset = t[at + 1..].replace(':', "");
            digits(&offset, 4).filter(|_| offset.len() == 4 || offset.len() == 2)?;
            t = &t[..at];
        }
    }
    let mut parts = t.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (mut h, m) = (digits(h, 2)?, digits(m, 2)?);
    let s: f64 = match s {
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
            if whole.len() != 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            f64::from(digits(whole, 2)?) + format!("0.{frac}0").parse::<f64>().ok()?
        }
        None => 0.0,
    };
    match half {
        Some(pm) if (1..=12).contains(&h) => h = h % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => {}
    }
    (h <= 23 && m <= 59 && s < 61.0).then(|| f64::from(h * 3600 + m * 60) + s)
}

/// The network's inputs for `m`, the day number not yet less the column's offset: the day
/// number (days since 1970-01-01, the time of day as its fraction), the time of year as a sine
/// and a cosine (31 December beside 1 January), the weekday (0 Monday to 6 Sunday), and with
/// `time` the time of day as a sine and a cosine (23:59 beside 00:00). `DATE_INPUTS` values,
/// `DATE_INPUTS + TIME_INPUTS` with `time`.
pub fn inputs(m: &Moment, time: bool) -> ([f64; DATE_INPUTS + TIME_INPUTS], usize) {
    let year = TAU * m.year_share;
    let day = TAU * m.seconds / SECONDS_PER_DAY;
    let all = [
        m.days as f64 + m.seconds / SECONDS_PER_DAY,
        year.sin(),
        year.cos(),
        m.weekday() as f64,
        day.sin(),
        day.cos(),
    ];
    (all, DATE_INPUTS + if time { TIME_INPUTS } else { 0 })
}

/// What the fit learns of a column's cells as dates of each form.
#[derive(Default)]
pub struct DateTally {
    /// Cells that are not missing.
    pub cells: usize,
    forms: [FormTally; 4],
}

#[derive(Default)]
struct FormTally {
    dates: usize,
    /// A date with a time of day other than midnight.
    timed: bool,
    /// The sums of the inputs (with the time of day) over the dates, in f64.
    sums: [f64; DATE_INPUTS + TIME_INPUTS],
    /// The first cell that is no date of this form.
    first_miss: Option<(usize, String)>,
}

/// The form a date column's cells share, and what the fit stores of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Settled {
    /// The form.
    pub form: DateForm,
    /// Whether a cell has a time of day other than midnight (the time of day is then inputs).
    pub time: bool,
    /// The mean of the day numbers, rounded to a day (subtracted before the cast to f32).
    pub offset: f64,
    /// The mean of each input, the day number less `offset`.
    pub means: Vec<f32>,
    /// Slashed dates whose days are all 12 or less: read as `mm/dd/yyyy`, a guess.
    pub guessed: bool,
}

/// How a column failed to be dates although most of it is.
pub struct Stray {
    /// The form of most of its cells.
    pub form: DateForm,
    /// Its cells of that form, and all that are not missing.
    pub dates: usize,
    /// See `dates`.
    pub cells: usize,
    /// The first cell that is not such a date, and its line.
    pub line: usize,
    /// See `line`.
    pub cell: String,
    /// Every cell is a date written `mm/dd/yyyy`, which the setting `day_first` rules out.
    pub month_first: bool,
}

impl DateTally {
    /// Counts the cell `cell` (not missing) of line `line`.
    pub fn cell(&mut self, line: usize, cell: &str) {
        self.cells += 1;
        let plausible = cell.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && cell.contains(['-', '.', '/']);
        for (form, t) in FORMS.iter().zip(&mut self.forms) {
            match parse(cell, *form).filter(|_| plausible) {
                Some(m) => {
                    t.dates += 1;
                    t.timed |= m.seconds != 0.0;
                    let (v, _) = inputs(&m, true);
                    for (s, v) in t.sums.iter_mut().zip(v) {
                        *s += v;
                    }
                }
                None if t.first_miss.is_none() => t.first_miss = Some((line, cell.to_string())),
                None => {}
            }
        }
    }

    /// The form every cell is a date of (with slashes, `mm/dd/yyyy` unless a day above 12 shows
    /// `dd/mm/yyyy`, or with `day_first` always `dd/mm/yyyy`); `Err` with the first other cell
    /// when `DATE_SHARE` of the cells or more are dates of one form but not all; `Ok(None)`
    /// when the column is not dates.
    pub fn settle(&self, day_first: bool) -> Result<Option<Settled>, Stray> {
        if self.cells == 0 {
            return Ok(None);
        }
        // With the day first, month-first slashes are not a form the column may take.
        let allowed = |i: &usize| !(day_first && FORMS[*i] == DateForm::MonthSlashDay);
        let all = |i: usize| self.forms[i].dates == self.cells;
        if day_first && all(2) && !all(3) {
            let t = &self.forms[3];
            let (line, cell) = t.first_miss.clone().unwrap_or_default();
            return Err(Stray {
                form: DateForm::DaySlashMonth,
                dates: t.dates,
                cells: self.cells,
                line,
                cell,
                month_first: true,
            });
        }
        let (i, guessed) = match (0..FORMS.len()).filter(allowed).find(|&i| all(i)) {
            Some(2) => (2, all(3)),
            Some(i) => (i, false),
            None => {
                let (i, t) = self
                    .forms
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| allowed(i))
                    .max_by_key(|(_, t)| t.dates)
                    .unwrap_or((0, &self.forms[0]));
                if (t.dates as f64) < DATE_SHARE * self.cells as f64 {
                    return Ok(None);
                }
                let (line, cell) = t.first_miss.clone().unwrap_or_default();
                return Err(Stray {
                    form: FORMS[i],
                    dates: t.dates,
                    cells: self.cells,
                    line,
                    cell,
                    month_first: false,
                });
            }
        };
        let t = &self.forms[i];
        let n = t.dates as f64;
        let offset = (t.sums[0] / n).round();
        let count = DATE_INPUTS + if t.timed { TIME_INPUTS } else { 0 };
        let mut means: Vec<f32> = t.sums[..count].iter().map(|s| (s / n) as f32).collect();
        means[0] = (t.sums[0] / n - offset) as f32;
        Ok(Some(Settled {
            form: FORMS[i],
            time: t.timed,
            offset,
            means,
            guessed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        // 2012-01-05 is day 15344 (Python: date(2012,1,5).toordinal() - date(1970,1,1).toordinal()).
        assert_eq!(days_from_civil(2012, 1, 5), 15_344);
    }

    #[test]
    fn each_form_reads_its_own_dates_and_no_other() {
        let iso = parse("2012-01-05", DateForm::Iso).unwrap();
        assert_eq!((iso.days, iso.seconds), (15_344, 0.0));
        assert_eq!(iso.weekday(), 3, "2012-01-05 was a Thursday");
        for (cell, form) in [
            ("05.01.2012", DateForm::DayDotMonth),
            ("5.1.2012", DateForm::DayDotMonth),
            ("1/5/2012", DateForm::MonthSlashDay),
            ("05/01/2012", DateForm::DaySlashMonth),
        ] {
            assert_eq!(parse(cell, form), Some(iso), "{cell} as {form:?}");
        }
        assert_eq!(parse("2012-01-05", DateForm::DayDotMonth), None);
        assert_eq!(parse("13/01/2012", DateForm::MonthSlashDay), None);
        assert_eq!(parse("31.02.2012", DateForm::DayDotMonth), None);
        assert_eq!(parse("29.02.2011", DateForm::DayDotMonth), None);
        assert!(parse("29.02.2012", DateForm::DayDotMonth).is_some());
        assert_eq!(parse("12.01.20", DateForm::DayDotMonth), None);
        assert_eq!(parse("3.5", DateForm::DayDotMonth), None);
        assert_eq!(parse("2012-01-05x", DateForm::Iso), None);
    }

    #[test]
    fn times_of_day_in_every_written_form() {
        let at = |cell, form| parse(cell, form).map(|m| m.seconds);
        assert_eq!(at("2010-01-01 10:00:00", DateForm::Iso), Some(36_000.0));
        assert_eq!(at("2010-01-01T10:00", DateForm::Iso), Some(36_000.0));
        assert_eq!(at("2010-01-01T10:00:30.5Z", DateForm::Iso), Some(36_030.5));
        assert_eq!(
            at("2010-01-01T10:00:00+01:00", DateForm::Iso),
            Some(36_000.0)
        );
        assert_eq!(
            at("2010-01-01T10:00:00-0530", DateForm::Iso),
            Some(36_000.0)
        );
        assert_eq!(
            at("1/1/2010 10:00 PM", DateForm::MonthSlashDay),
            Some(79_200.0)
        );
        assert_eq!(
            at("1/1/2010 12:15 AM", DateForm::MonthSlashDay),
            Some(900.0)
        );
        assert_eq!(
            at("01.01.2010 23:59", DateForm::DayDotMonth),
            Some(86_340.0)
        );
        assert_eq!(at("01.01.2010 24:00", DateForm::DayDotMonth), None);
        assert_eq!(at("01.01.2010 13:00 PM", DateForm::DayDotMonth), None);
        assert_eq!(at("2010-01-01 10", DateForm::Iso), None);
    }

    #[test]
    fn inputs_put_the_year_and_the_day_on_circles() {
        let new_year = parse("2011-01-01", DateForm::Iso).unwrap();
        let (v, k) = inputs(&new_year, false);
        assert_eq!(k, DATE_INPUTS);
        assert_eq!(v[0], 14_975.0);
        assert_eq!((v[1], v[2]), (0.0, 1.0));
        assert_eq!(v[3], 5.0, "2011-01-01 was a Saturday");
        let eve = parse("2010-12-31 18:00", DateForm::Iso).unwrap();
        let (w, k) = inputs(&eve, true);
        assert_eq!(k, DATE_INPUTS + TIME_INPUTS);
        assert_eq!(w[0], 14_974.75);
        // Late on 31 December is close to 1 January on the year's circle.
        assert!((w[1] - v[1]).hypot(w[2] - v[2]) < 0.01, "{w:?}");
        // 18:00 is three quarters round the day's circle: sine -1, cosine 0.
        assert!((w[4] + 1.0).abs() < 1e-12 && w[5].abs() < 1e-12, "{w:?}");
    }

    #[test]
    fn a_column_settles_on_the_form_its_cells_share() {
        let tally = |cells: &[&str]| {
            let mut t = DateTally::default();
            for (i, c) in cells.iter().enumerate() {
                t.cell(i + 2, c);
            }
            t.settle(false)
        };
        let s = tally(&["5/6/1973", "5/13/1973"]).ok().flatten().unwrap();
        assert_eq!(
            (s.form, s.guessed, s.time),
            (DateForm::MonthSlashDay, false, false)
        );
        let s = tally(&["13/05/1973", "05/06/1973"]).ok().flatten().unwrap();
        assert_eq!((s.form, s.guessed), (DateForm::DaySlashMonth, false));
        let s = tally(&["05/06/1973", "06/07/1973"]).ok().flatten().unwrap();
        assert_eq!((s.form, s.guessed), (DateForm::MonthSlashDay, true));
        let s = tally(&["2012-01-01", "2012-01-03 12:00"])
            .ok()
            .flatten()
            .unwrap();
        assert!(s.time);
        assert_eq!(s.offset, 15_341.0);
        assert_eq!(s.means.len(), DATE_INPUTS + TIME_INPUTS);
        assert_eq!(s.means[0], 0.25);
        assert!(matches!(tally(&["red", "green"]), Ok(None)));
        assert!(matches!(tally(&["1.5", "2.5"]), Ok(None)));
        let mut cells = vec!["01.02.2020"; 19];
        cells.push("31.02.2020");
        let Err(stray) = tally(&cells) else {
            panic!("a column of dates with one impossible day is refused");
        };
        assert_eq!((stray.line, stray.cell.as_str()), (21, "31.02.2020"));
        assert_eq!((stray.dates, stray.cells), (19, 20));
    }
}
