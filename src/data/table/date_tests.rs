// Date columns through the fit, a fitted table read back from JSON, later files and the schema.
use super::date::{DateForm, inputs, parse};
use super::schema::{ColumnKind, Role};
use super::*;
use std::path::PathBuf;

fn temp(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("wgtrain-dates-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

/// `rows` of date, number, label: a date every 5 days from 2012-01-02, the label its season.
fn dated(rows: usize, date: impl Fn(i64, u32, u32) -> String, sep: &str) -> String {
    let mut text = format!("when{sep}x{sep}label\n");
    for i in 0..rows {
        let days = super::date::days_from_civil(2012, 1, 2) + 5 * i as i64;
        let (y, m, d) = civil(days);
        let label = if (4..=9).contains(&m) { "warm" } else { "cold" };
        text += &format!("{}{sep}{}{sep}{label}\n", date(y, m, d), i % 7);
    }
    text
}

/// The date `days` after 1970-01-01 (a reference independent of the parser: stepping).
fn civil(days: i64) -> (i64, u32, u32) {
    (0..days).fold((1970, 1, 1), |d, _| next(d))
}

fn next((y, m, d): (i64, u32, u32)) -> (i64, u32, u32) {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let len = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1];
    match (d < len, m < 12) {
        (true, _) => (y, m, d + 1),
        (false, true) => (y, m + 1, 1),
        (false, false) => (y + 1, 1, 1),
    }
}

#[test]
fn an_iso_date_column_is_four_numeric_inputs_and_reads_back_the_same() {
    let text = dated(60, |y, m, d| format!("{y}-{m:02}-{d:02}"), ",");
    let p = temp("iso.csv", &text);
    let (t, rows) = Table::fit(&p, &CsvOptions::default()).unwrap();
    let Kind::Date {
        form,
        time,
        offset,
        means,
        guessed,
    } = &t.columns[0].kind
    else {
        panic!("not a date column: {:?}", t.columns[0]);
    };
    assert_eq!((*form, *time, *guessed), (DateForm::Iso, false, false));
    assert_eq!((t.inputs(), means.len()), (5, 4));
    assert_eq!(t.one_hot(), [false; 5]);
    // 60 dates 5 days apart from day 15341: their mean is day 15341 + 147.5, rounded up.
    assert_eq!(*offset, 15_489.0);
    assert_eq!(means[0], -0.5);
    let x = rows.data.x.to_f32();
    let first = parse("2012-01-02", DateForm::Iso).unwrap();
    let (want, _) = inputs(&first, false);
    assert_eq!(x[0], (want[0] - offset) as f32);
    assert_eq!(x[1..4], [want[1] as f32, want[2] as f32, 0.0], "a Monday");
    assert_eq!(x[4], 0.0);
    // Through JSON (a checkpoint's metadata) and on a test file of other dates, the same.
    let json = serde_json::to_string(&t).unwrap();
    assert!(json.contains("\"form\":\"yyyy-mm-dd\""), "{json}");
    let back: Table = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
    back.validate().unwrap();
    let test = temp("iso-test.csv", "when,x,label\n2013-07-04,1,warm\n,2,cold\n");
    let r = back.read(&test, Need::Targets, None).unwrap();
    let july = inputs(&parse("2013-07-04", DateForm::Iso).unwrap(), false).0;
    let x = r.data.x.to_f32();
    assert_eq!(
        x[..4],
        [
            (july[0] - offset) as f32,
            july[1] as f32,
            july[2] as f32,
            3.0
        ]
    );
    assert_eq!(
        x[5..9],
        means[..],
        "a missing date takes the training means"
    );
    assert_eq!(r.counts.imputed, 1);
    let bad = temp("iso-bad.csv", "when,x,label\n04.07.2013,1,warm\n");
    let msg = back
        .read(&bad, Need::Targets, None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("line 2") && msg.contains("\"04.07.2013\" is not a date written yyyy-mm-dd"),
        "{msg}"
    );
    for f in [p, test, bad] {
        std::fs::remove_file(f).unwrap();
    }
    assert_eq!(back.date_notes().len(), 1);
    assert!(
        back.describe().contains("1 numeric and 1 date"),
        "{}",
        back.describe()
    );
}

#[test]
fn german_us_and_british_excel_dates_are_read_by_their_values() {
    let cases: [(&str, String, DateForm, bool); 4] = [
        (
            "de.csv",
            dated(40, |y, m, d| format!("{d:02}.{m:02}.{y}"), ";"),
            DateForm::DayDotMonth,
            false,
        ),
        (
            "us.csv",
            dated(40, |y, m, d| format!("{m}/{d}/{y}"), ","),
            DateForm::MonthSlashDay,
            false,
        ),
        (
            "uk.csv",
            dated(40, |y, m, d| format!("{d:02}/{m:02}/{y}"), ","),
            DateForm::DaySlashMonth,
            false,
        ),
        // Only the first of each month: no day above 12, month first guessed and said.
        (
            "guess.csv",
            "when,x,label\n01/02/2012,1,a\n01/03/2012,2,b\n01/04/2012,3,a\n".to_string(),
            DateForm::MonthSlashDay,
            true,
        ),
    ];
    for (name, text, want, want_guess) in cases {
        let p = temp(name, &text);
        let (t, _) = Table::fit(&p, &CsvOptions::default()).unwrap();
        std::fs::remove_file(&p).unwrap();
        let Kind::Date { form, guessed, .. } = &t.columns[0].kind else {
            panic!("{name}: not dates: {:?}", t.columns[0]);
        };
        assert_eq!((*form, *guessed), (want, want_guess), "{name}");
        let notes = t.notes();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains(want.pattern()), "{notes:?}");
        assert_eq!(notes[0].contains("a guess"), want_guess, "{notes:?}");
    }
}

#[test]
fn day_first_reads_slashed_dates_day_first_and_refuses_a_column_only_month_first_reads() {
    let day_first = CsvOptions {
        day_first: true,
        ..CsvOptions::default()
    };
    // No day above 12: day first as told, no guess, and the day number says so (1 February
    // 2012 is day 15371, where 2 January would be 15341).
    let p = temp(
        "first.csv",
        "when,x,label\n01/02/2012,1,a\n01/03/2012,2,b\n01/04/2012,3,a\n",
    );
    let (t, rows) = Table::fit(&p, &day_first).unwrap();
    let Kind::Date {
        form,
        guessed,
        offset,
        ..
    } = &t.columns[0].kind
    else {
        panic!("not dates: {:?}", t.columns[0]);
    };
    assert_eq!((*form, *guessed), (DateForm::DaySlashMonth, false));
    let first = f64::from(rows.data.x.to_f32()[0]) + offset;
    assert_eq!(first, super::date::days_from_civil(2012, 2, 1) as f64);
    assert!(!t.notes()[0].contains("a guess"), "{:?}", t.notes());
    // Resuming a run that read them month first with `day_first` contradicts it.
    let (us, _) = Table::fit(&p, &CsvOptions::default()).unwrap();
    std::fs::remove_file(&p).unwrap();
    let e = us.check_options(&day_first).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidArgument { arg: Some("day_first"), msg } if msg.contains("mm/dd/yyyy")),
        "{e}"
    );
    assert!(t.check_options(&day_first).is_ok());
    // Dates only month first reads (a day above 12 second): refused, naming a cell.
    let p = temp("us.csv", &dated(40, |y, m, d| format!("{m}/{d}/{y}"), ","));
    let e = Table::fit(&p, &day_first).unwrap_err().to_string();
    std::fs::remove_file(&p).unwrap();
    assert!(
        e.contains("is not a date written dd/mm/yyyy, which the setting `day_first` asks for")
            && e.contains("column 1 (\"when\")"),
        "{e}"
    );
}

#[test]
fn datetimes_add_the_time_of_day_and_a_stray_cell_is_refused_naming_its_line() {
    let mut text = String::from("at,y\n");
    for h in 0..30 {
        text += &format!("2010-01-{:02} {:02}:30:00,{h}\n", 1 + h / 24, h % 24);
    }
    let p = temp("times.csv", &text);
    let o = CsvOptions {
        targets: Some(TargetColumns::Last(1)),
        ..CsvOptions::default()
    };
    let (t, rows) = Table::fit(&p, &o).unwrap();
    std::fs::remove_file(&p).unwrap();
    assert!(matches!(t.columns[0].kind, Kind::Date { time: true, .. }));
    assert_eq!(t.inputs(), DATE_INPUTS + TIME_INPUTS);
    let x = rows.data.x.to_f32();
    // 06:30 on the first row 6: a quarter and a bit round the day's circle.
    let angle = std::f64::consts::TAU * 6.5 / 24.0;
    assert_eq!(
        x[6 * 6 + 4..6 * 6 + 6],
        [angle.sin() as f32, angle.cos() as f32]
    );
    let mut text = dated(30, |y, m, d| format!("{y}-{m:02}-{d:02}"), ",");
    text = text.replacen("2012-01-07", "2012-01-7x", 1);
    let p = temp("stray.csv", &text);
    let msg = Table::fit(&p, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    // The schema describes the column, a date refused, and gives the same error.
    let described = Schema::of(&p, &CsvOptions::default()).unwrap();
    assert_eq!(
        (described.columns[0].role, described.columns[0].kind),
        (Role::Refused, ColumnKind::Date)
    );
    let schema = described.refusal().unwrap().to_string();
    std::fs::remove_file(&p).unwrap();
    assert!(
        msg.contains("line 3: column 1 (\"when\"): \"2012-01-7x\" is not a date written yyyy-mm-dd, but 29 of the column's 30 cells are")
            && msg.contains("the setting `ignore`")
            && !msg.contains("identifier"),
        "{msg}"
    );
    assert_eq!(schema, msg);
}

#[test]
fn the_schema_shows_a_date_column_its_form_range_and_inputs() {
    // A second date column, "also", after the label, left out with the setting `ignore`.
    let text: String = dated(30, |y, m, d| format!("{d:02}.{m:02}.{y}"), ";")
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            0 => format!("{l};also\n"),
            _ => format!("{l};01.01.2000\n"),
        })
        .collect();
    let p = temp("schema.csv", &text);
    let o = CsvOptions {
        label: Some(Column::Name("label".into())),
        ignore: vec![Column::Name("also".into())],
        ..CsvOptions::default()
    };
    let s = Schema::of(&p, &o).unwrap();
    std::fs::remove_file(&p).unwrap();
    let when = &s.columns[0];
    assert_eq!(
        (when.role, when.kind, when.inputs),
        (Role::Input, ColumnKind::Date, 4)
    );
    let span = when.dates.as_ref().unwrap();
    assert_eq!(
        (span.form, span.first.as_str(), span.last.as_str()),
        ("dd.mm.yyyy", "02.01.2012", "26.05.2012")
    );
    assert_eq!(
        (s.columns[3].role, s.columns[3].kind),
        (Role::Ignored, ColumnKind::Date)
    );
    let lines = s.lines(|n| format!("--{n}"));
    assert!(
        lines[1].contains("02.01.2012 to 26.05.2012 (dd.mm.yyyy), 4 inputs"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("note: column 1 (\"when\") read as dates")),
        "{lines:#?}"
    );
}
