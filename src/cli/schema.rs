//! `wgtrain schema FILE`: how a training run would read a CSV file, column by column.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::table::{CsvArgs, csv_options};

#[derive(Args)]
pub struct SchemaArgs {
    /// The CSV file (.csv, .tsv, or gzipped .csv.gz, .tsv.gz).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    csv: CsvArgs,
    /// One JSON object instead of the lines: the file's `delimiter`, `decimal`, `thousands`,
    /// `header`, `encoding`, `comment`, `rows`, `dropped`, `inputs`, `outputs`, `notes`, and
    /// `columns`, each with `position`, `name`, `role`, `why`, `kind`, `inputs`, `levels`,
    /// `distinct`, `figures` (`min`, `max`, `mean`, `std`), `missing`, `example`; a column
    /// train refuses has the role `refused` and train's reason as `why` (exit 1).
    #[arg(long)]
    json: bool,
}

/// Prints the schema the library describes, every column a training run would refuse
/// included; then, when there is one, fails with the run's error for the first (exit 1).
pub fn run(a: SchemaArgs) -> Result<()> {
    let schema = wgtrain::data::Schema::of(&a.file, &csv_options(&a.csv)?)?;
    let text = if a.json {
        serde_json::to_string_pretty(&schema)? + "\n"
    } else {
        schema.lines(super::flag).join("\n") + "\n"
    };
    super::write_stdout(&text)?;
    match schema.refusal() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
