//! `wgtrain eval` and `wgtrain predict`: a saved model on a dataset, with the architecture taken
//! from the checkpoint, or for a file without wgtrain's metadata (PyTorch's) from its tensors'
//! shapes and the flags.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use wgtrain::model::{Loss, Output};
use wgtrain::{Model, run};

/// The architecture of a model file without wgtrain's metadata, such as PyTorch's
/// `save_file(model.state_dict())`; with the metadata, only checked against it.
#[derive(Args)]
pub struct ArchArgs {
    /// For a file without wgtrain metadata: the hidden activation(s), relu, sigmoid, tanh,
    /// leaky-relu, linear (one for all hidden layers or a comma list). The layer sizes come from
    /// the tensors' shapes.
    #[arg(long)]
    activation: Option<String>,
    /// For a file without wgtrain metadata: the output activation, softmax, sigmoid, linear
    /// (default: the one that fits --loss).
    #[arg(long)]
    output: Option<Output>,
    /// For a file without wgtrain metadata: the loss, cross-entropy, bce, mse (default: the one
    /// that fits --output; sigmoid needs it).
    #[arg(long)]
    loss: Option<Loss>,
    /// Hidden layer sizes, comma separated: only checked against the file, whose tensors give
    /// them.
    #[arg(long)]
    hidden: Option<String>,
}

/// The model in `path`: the architecture from its metadata (the flags that are given must
/// agree), or without metadata from its tensors' shapes and the flags.
fn load(path: &Path, a: &ArchArgs) -> Result<Model> {
    let arch = super::arch(&a.hidden, &a.activation, a.output, a.loss)?;
    let (model, note) = wgtrain::run::load_model(path, &arch)?;
    if let Some(n) = note {
        eprintln!("note: {n}");
    }
    Ok(model)
}

#[derive(Args)]
pub struct EvalArgs {
    /// The model to evaluate: a checkpoint of `wgtrain train --save`, or a safetensors file of
    /// Linear layers without wgtrain metadata (see --activation).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    arch: ArchArgs,
    /// Dataset, as for `train --data`: digits, mnist, fashion-mnist, an IDX folder, a CSV file.
    #[arg(long, default_value = "digits")]
    data: String,
    /// A CSV file is read with the model's table (its columns, categories and class names, from
    /// the training file); for a model saved without one: the last K CSV columns are
    /// real-valued targets. Default: the training run's.
    #[arg(long, value_name = "K")]
    targets: Option<usize>,
    /// For a model saved without a table: the CSV column (1-based) that holds the class label.
    /// Default: the training run's, else the last column.
    #[arg(long, visible_alias = "label-column", value_name = "N")]
    label: Option<usize>,
    /// Which part: test (the default when the data has a test split), train, or all.
    #[arg(long, value_parser = ["test", "train", "all"])]
    split: Option<String>,
    /// A CSV file: leave out the rows whose label or target is missing, with a note saying how
    /// many, instead of refusing them (a model trained with it does so already).
    #[arg(long)]
    drop_missing_target: bool,
    /// One JSON object (loss, accuracy, balanced accuracy, ROC AUC, log-loss, confusion
    /// matrix, per-class metrics) instead of tables; numbers at full precision.
    #[arg(long)]
    json: bool,
    /// For a classifier of two classes: predict the second class (the positive one, class 1)
    /// when its probability is at least P, instead of the more probable class. The accuracy,
    /// confusion matrix and per-class figures follow it; ROC AUC and log-loss do not.
    #[arg(long, value_name = "P")]
    threshold: Option<f64>,
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let model = load(&a.model, &a.arch)?;
    let part = a.split.as_deref().map(str::parse).transpose()?;
    let rows = run::eval_rows(
        &model,
        &a.data,
        a.label,
        a.targets,
        part,
        &super::data_roots(),
        a.drop_missing_target,
    )?;
    for n in &rows.notes {
        eprintln!("note: {}", super::in_flags(n));
    }
    let e = model.evaluate_with(&rows.set, decision(a.threshold))?;
    let names = model.input.table.as_ref().and_then(|t| t.classes.clone());
    let text = if a.json {
        format!("{}\n", e.to_json_named(names.as_deref()))
    } else {
        format!(
            "model {} ({})\ndata {}{}\n{}",
            a.model.display(),
            model.spec.describe(),
            a.data,
            rows.part.map_or(String::new(), |p| format!(" ({p})")),
            e.to_table_named(names.as_deref())
        )
    };
    super::write_stdout(&text)
}

#[derive(Args)]
pub struct PredictArgs {
    /// The model to predict with: a checkpoint of `wgtrain train --save`, or a safetensors file
    /// of Linear layers without wgtrain metadata (see --activation).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    arch: ArchArgs,
    /// The samples: a CSV file (one sample per row, read with the model's table: columns by
    /// header name, or the inputs in training order with or without the label or target
    /// columns, which are ignored), an IDX image file (e.g. t10k-images-idx3-ubyte.gz, pixels
    /// scaled by 1/255), or a dataset name or folder as for `train --data` (its test split
    /// when it has one).
    #[arg(long, value_name = "FILE")]
    input: String,
    /// Write the CSV here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// A categorical value the training file did not have is an error (default: read as none
    /// of the column's levels, all-zero inputs, with a count on stderr).
    #[arg(long)]
    strict: bool,
    /// For a classifier of two classes: predict the second class (class 1) when its
    /// probability is at least P, instead of the more probable class.
    #[arg(long, value_name = "P")]
    threshold: Option<f64>,
    /// Columns of the input CSV (by header name, comma separated or repeated) written first in
    /// each output row as the file has them, such as an id: the rows stay matched to their
    /// predictions.
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    keep: Vec<String>,
}

/// The class decision `--threshold` asks for.
fn decision(threshold: Option<f64>) -> wgtrain::evaluate::Decision {
    threshold.map_or(wgtrain::evaluate::Decision::Argmax, |t| {
        wgtrain::evaluate::Decision::Threshold(t)
    })
}

pub fn predict(a: PredictArgs) -> Result<()> {
    let model = load(&a.model, &a.arch)?;
    if let Some(out) = &a.out {
        super::check_writable(out)?;
        let input = Path::new(&a.input);
        super::check_distinct(
            &[("--model", &a.model), ("--input", input)],
            &[("--out", out)],
        )?;
    }
    let decision = decision(a.threshold);
    if model.spec.output == Output::Softmax {
        decision.check(model.spec.outputs())?;
    } else if a.threshold.is_some() {
        decision.check(1)?;
    }
    let rows = run::predict_rows(&model, &a.input, a.strict, &a.keep, &super::data_roots())?;
    for note in &rows.notes {
        eprintln!("note: {}", super::in_flags(note));
    }
    let n = rows.n;
    let probs = model.predict(&rows.x, n)?;
    let csv = run::predictions_csv_with(&model, &probs, decision, &rows.kept);
    match &a.out {
        Some(path) => {
            run::write_atomic(path, csv.as_bytes())?;
            eprintln!("wrote {n} predictions to {}", path.display());
        }
        None => super::write_stdout(&csv)?,
    }
    Ok(())
}

impl EvalArgs {
    /// The model file (for the error hint `main` gives).
    pub fn model(&self) -> &std::path::Path {
        &self.model
    }
}

impl PredictArgs {
    /// The model file (for the error hint `main` gives).
    pub fn model(&self) -> &std::path::Path {
        &self.model
    }
}
