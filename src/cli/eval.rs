//! `wgtrain eval` and `wgtrain predict`: a saved model on a dataset, with the architecture taken
//! from the checkpoint, or for a file without wgtrain's metadata (PyTorch's) from its tensors'
//! shapes and the flags.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use wgtrain::Model;
use wgtrain::checkpoint;
use wgtrain::data::{self, Dataset, Inputs, idx};
use wgtrain::model::{Loss, Output, Spec};

use super::settings::ArchFlags;

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
    let flags = ArchFlags {
        hidden: a.hidden.clone(),
        activation: a.activation.clone(),
        output: a.output,
        loss: a.loss,
    };
    let bytes = wgtrain::memory::read_file(path)?;
    let header = checkpoint::inspect_bytes(path, &bytes)?;
    match &header.spec {
        Some(spec) => flags.check(spec, path, "its metadata gives the architecture")?,
        None => flags.check_plain(&header.sizes, path, true)?,
    }
    let arch = flags.arch(header.sizes.len().saturating_sub(2))?;
    let (spec, params, input) = checkpoint::load_model_bytes_with(path, &bytes, &arch)?;
    if header.spec.is_none() {
        let layers: Vec<String> = header.layers.iter().map(|l| l.join("/")).collect();
        eprintln!(
            "note: {} has no wgtrain metadata: read {} as a {} network",
            path.display(),
            layers.join(", "),
            spec.describe()
        );
    }
    Ok(Model {
        spec,
        params,
        input,
    })
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
    /// The last K CSV columns are real-valued targets (as for `train --targets`). Default: the
    /// training run's.
    #[arg(long, value_name = "K")]
    targets: Option<usize>,
    /// The CSV column (1-based) that holds the class label, when it is not the last one.
    /// Default: the training run's.
    #[arg(long, value_name = "N")]
    label_column: Option<usize>,
    /// Which part: test (the default when the data has a test split), train, or all.
    #[arg(long, value_parser = ["test", "train", "all"])]
    split: Option<String>,
    /// One JSON object (loss, accuracy, confusion matrix, per-class metrics) instead of tables.
    #[arg(long)]
    json: bool,
}

/// `given`, else the training run's `stored` value (said on stderr, as the file is read by it).
fn layout(flag: &str, given: Option<usize>, stored: Option<usize>) -> Option<usize> {
    if given.is_none()
        && let Some(v) = stored
    {
        eprintln!("note: reading CSV files with --{flag} {v}, as the model's training run did");
    }
    given.or(stored)
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let model = load(&a.model, &a.arch)?;
    let spec = &model.spec;
    let (label_column, targets) = (model.input.label_column, model.input.targets);
    let is_csv = {
        let lower = a.data.to_ascii_lowercase();
        lower.ends_with(".csv") || lower.ends_with(".csv.gz")
    };
    let (targets, label_column) = if is_csv {
        (
            layout("targets", a.targets, targets),
            layout("label-column", a.label_column, label_column),
        )
    } else {
        (a.targets, a.label_column)
    };
    let split = data::load_from(&a.data, targets, label_column, &super::data_roots())?;
    let part = a.split.as_deref().unwrap_or(if split.test.is_some() {
        "test"
    } else {
        "train"
    });
    let set = match (part, split.test) {
        ("test", Some(t)) => t,
        ("test", None) => bail!("{} has no test split: use --split train or all", a.data),
        ("train", _) => split.train,
        (_, Some(t)) => concat(split.train, t)?,
        (_, None) => split.train,
    };
    check_width(spec, set.dim, &a.data)?;
    let e = model.evaluate(&set)?;
    if a.json {
        println!("{}", e.to_json());
    } else {
        println!(
            "model {} ({})\ndata {} ({part})",
            a.model.display(),
            spec.describe(),
            a.data
        );
        print!("{}", e.to_table());
    }
    Ok(())
}

/// Train and test rows as one set.
fn concat(a: Dataset, b: Dataset) -> Result<Dataset> {
    let all: Vec<usize> = (0..a.n).collect();
    let mut joined = a.subset(&all);
    let x = match (a.x, b.x) {
        (
            Inputs::U8 { mut data, scale },
            Inputs::U8 {
                data: more,
                scale: s2,
            },
        ) if scale == s2 => {
            data.extend(more);
            Inputs::U8 { data, scale }
        }
        (
            Inputs::U8Affine {
                mut data,
                scale,
                offset,
            },
            Inputs::U8Affine {
                data: more,
                scale: s2,
                offset: o2,
            },
        ) if scale == s2 && offset == o2 => {
            data.extend(more);
            Inputs::U8Affine {
                data,
                scale,
                offset,
            }
        }
        (x, y) => Inputs::F32([x.to_f32(), y.to_f32()].concat()),
    };
    let targets = match (joined.targets, b.targets) {
        (
            data::Targets::Classes {
                mut labels,
                n_classes,
            },
            data::Targets::Classes {
                labels: more,
                n_classes: k,
            },
        ) => {
            labels.extend(more);
            data::Targets::Classes {
                labels,
                n_classes: n_classes.max(k),
            }
        }
        (
            data::Targets::Values { mut values, width },
            data::Targets::Values { values: more, .. },
        ) => {
            values.extend(more);
            data::Targets::Values { values, width }
        }
        _ => bail!("the train and test splits have different kinds of targets"),
    };
    joined = Dataset::with_inputs(
        format!("{} (all)", joined.name),
        x,
        a.n + b.n,
        joined.dim,
        targets,
    )?;
    Ok(joined)
}

fn check_width(spec: &Spec, dim: usize, what: &str) -> Result<()> {
    if dim != spec.inputs() {
        bail!(
            "{what}: {dim} inputs per sample, but the model ({}) takes {}",
            spec.describe(),
            spec.inputs()
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct PredictArgs {
    /// The model to predict with: a checkpoint of `wgtrain train --save`, or a safetensors file
    /// of Linear layers without wgtrain metadata (see --activation).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    arch: ArchArgs,
    /// The samples: a CSV file (one sample per row: the model's inputs only, or the inputs with
    /// the label or target columns where the training run had them, which are ignored), an IDX image file (e.g. t10k-images-idx3-ubyte.gz,
    /// pixels scaled by 1/255), or a dataset name or folder as for `train --data` (its test
    /// split when it has one).
    #[arg(long, value_name = "FILE")]
    input: String,
    /// Write the CSV here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Rows of `input` for a model with `inputs` inputs; a CSV file's other columns are where
/// `layout` (the training run's) says.
fn predict_inputs(
    input: &str,
    inputs: usize,
    layout: data::csv::Layout,
) -> Result<(Inputs, usize)> {
    let path = Path::new(input);
    let lower = input.to_ascii_lowercase();
    if path.is_file() && (lower.contains("idx3-ubyte") || lower.ends_with(".idx")) {
        let (data, n, dim) = idx::load_images(path)?;
        check_dim(dim, inputs, input)?;
        return Ok((data, n));
    }
    if path.is_file() && (lower.ends_with(".csv") || lower.ends_with(".csv.gz")) {
        let (x, n, dim) = data::csv::load_features(path, inputs, layout)?;
        check_dim(dim, inputs, input)?;
        return Ok((x, n));
    }
    let split = data::load_from(input, None, None, &super::data_roots())?;
    let set = split.test.unwrap_or(split.train);
    check_dim(set.dim, inputs, input)?;
    Ok((set.x, set.n))
}

fn check_dim(dim: usize, inputs: usize, input: &str) -> Result<()> {
    if dim != inputs {
        bail!("{input}: {dim} values per sample, but the model takes {inputs}");
    }
    Ok(())
}

pub fn predict(a: PredictArgs) -> Result<()> {
    let model = load(&a.model, &a.arch)?;
    let spec = &model.spec;
    let (label_column, targets) = (model.input.label_column, model.input.targets);
    if let Some(out) = &a.out {
        super::check_writable(out)?;
        let input = Path::new(&a.input);
        super::check_distinct(
            &[("--model", &a.model), ("--input", input)],
            &[("--out", out)],
        )?;
    }
    let layout = data::csv::Layout {
        label_column,
        targets,
    };
    let (x, n) = predict_inputs(&a.input, spec.inputs(), layout)?;
    let probs = model.predict(&x, n)?;
    let w = spec.outputs();
    let mut csv = String::new();
    let classify = spec.output == Output::Softmax;
    let names: Vec<String> = (0..w)
        .map(|j| {
            if classify || spec.output == Output::Sigmoid {
                format!("p{j}")
            } else {
                format!("y{j}")
            }
        })
        .collect();
    csv += &if classify {
        format!("class,{}\n", names.join(","))
    } else {
        format!("{}\n", names.join(","))
    };
    for row in probs.chunks_exact(w) {
        let values: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
        if classify {
            let class = wgtrain::cpu::fast::argmax(row);
            csv += &format!("{class},{}\n", values.join(","));
        } else {
            csv += &format!("{}\n", values.join(","));
        }
    }
    match &a.out {
        Some(path) => {
            checkpoint::write_atomic(path, csv.as_bytes())?;
            eprintln!("wrote {n} predictions to {}", path.display());
        }
        None => std::io::stdout()
            .write_all(csv.as_bytes())
            .context("writing to stdout")?,
    }
    Ok(())
}
