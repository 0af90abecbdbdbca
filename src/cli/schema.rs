//! `wgtrain schema FILE`: how a training run would read a CSV file, column by column; with
//! `--model`, how that model's eval or predict would.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use wgtrain::data::CsvOptions;

use super::table::{CsvArgs, csv_options};

#[derive(Args)]
pub struct SchemaArgs {
    /// The CSV file (.csv, .tsv, or gzipped .csv.gz, .tsv.gz).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Describe the file as this model reads it instead: as `eval` does when the file has the
    /// model's label or target columns, else as `predict` does. Each column's role and kind
    /// are the model's (its training file's), `unused` where the model has no such column; the
    /// figures are this file's (a model saved without a table: numbers by position, the label
    /// last, as eval and predict read them). The CSV flags do not apply: the model's table
    /// says how its files are read; only a model saved without one takes --label N and
    /// --targets K, as eval does
    #[arg(long, value_name = "MODEL")]
    model: Option<PathBuf>,
    #[command(flatten)]
    csv: CsvArgs,
    /// One JSON object instead of the lines: the file's `delimiter`, `decimal`, `thousands`,
    /// `header`, `encoding`, `comment`, `rows`, `dropped`, `inputs`, `outputs`, `notes`, and
    /// `columns`, each with `position`, `name`, `role`, `why`, `kind`, `inputs`, `levels`,
    /// `distinct`, `figures` (`min`, `max`, `mean`, `std`), `missing`, `example`; a column
    /// train refuses has the role `refused` and train's reason as `why` (exit 1). With
    /// --model: a column the model lacks has the role `unused`, and `refused` is eval's or
    /// predict's error when they refuse the file (exit 1).
    #[arg(long)]
    json: bool,
}

/// Prints the schema the library describes, every column a training run would refuse
/// included; then, when there is one, fails with the run's error for the first (exit 1).
pub fn run(a: SchemaArgs) -> Result<()> {
    let options = csv_options(&a.csv)?;
    let schema = match &a.model {
        None => wgtrain::data::Schema::of(&a.file, &options)?,
        Some(m) => {
            let (label, targets) = model_layout(options)?;
            let model = wgtrain::Model::load(m)?;
            let (mut schema, by) = wgtrain::run::schema_for(&model, &a.file, label, targets)?;
            schema.notes.insert(
                0,
                format!("read as `wgtrain {by} --model {}` reads it", m.display()),
            );
            schema
        }
    };
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

/// The CSV flags that apply beside --model, as eval takes them: --label N (a column number) and
/// --targets K (the last K columns), for a model saved without a table. Every other CSV flag
/// describes a training file: the model's table says how its files are read.
fn model_layout(options: CsvOptions) -> Result<(Option<usize>, Option<usize>)> {
    use wgtrain::data::{Column, TargetColumns};
    let rest = CsvOptions {
        label: None,
        targets: None,
        ..options.clone()
    };
    if rest != CsvOptions::default() {
        anyhow::bail!(
            "--model: the model's table says how its files are read; the CSV flags other than --label N and --targets K describe a training file"
        );
    }
    let label = match options.label {
        None => None,
        Some(Column::Number(n)) => Some(n),
        Some(Column::Name(n)) => anyhow::bail!(
            "--label {n}: beside --model, the label column's number (1-based), as eval takes it"
        ),
    };
    let targets = match options.targets {
        None => None,
        Some(TargetColumns::Last(k)) => Some(k),
        Some(TargetColumns::Columns(_)) => anyhow::bail!(
            "--targets: beside --model, the number K of target columns (the last K), as eval takes it"
        ),
    };
    Ok((label, targets))
}
