//! `wgtrain eval` and `wgtrain predict`: a saved model on a dataset, with the architecture taken
//! from the checkpoint, or for a file without wgtrain's metadata (PyTorch's) from its tensors'
//! shapes and the flags.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use wgtrain::Model;
use wgtrain::checkpoint;
use wgtrain::data::{self, Dataset, Inputs, Need, Table, idx};
use wgtrain::evaluate::Evaluation;
use wgtrain::model::{Loss, Output, Spec};

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
    /// One JSON object (loss, accuracy, confusion matrix, per-class metrics) instead of tables.
    #[arg(long)]
    json: bool,
}

/// The table a CSV file is read with for `model`: its own, or for a model saved without one,
/// numbers only with the label column or target count given, else stored, else the last
/// column (said on stderr).
fn table_for(model: &Model, label: Option<usize>, targets: Option<usize>) -> Result<Table> {
    let spec = &model.spec;
    if let Some(t) = &model.input.table {
        if label.is_some() || targets.is_some() {
            let o = data::CsvOptions {
                label: label.map(data::Column::Number),
                targets: targets.map(data::TargetColumns::Last),
                missing: t.missing,
                ..data::CsvOptions::default()
            };
            t.check_options(&o)?;
        }
        return Ok(t.clone());
    }
    let layout = |flag: &str, given: Option<usize>, stored: Option<usize>| {
        if given.is_none()
            && let Some(v) = stored
        {
            eprintln!("note: reading CSV files with --{flag} {v}, as the model's training run did");
        }
        given.or(stored)
    };
    let targets = layout("targets", targets, model.input.targets);
    let label = layout("label", label, model.input.label_column);
    let targets = match (targets, spec.output) {
        (None, Output::Linear) => Some(spec.outputs()),
        (t, _) => t,
    };
    Ok(Table::legacy(
        spec.inputs(),
        spec.outputs(),
        label,
        targets,
    )?)
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let model = load(&a.model, &a.arch)?;
    let spec = &model.spec;
    let (set, part) = if data::is_csv(&a.data) {
        if a.split.as_deref().is_some_and(|s| s != "all") {
            bail!(
                "--split applies to datasets with a test split; {} is one file, evaluated whole",
                a.data
            );
        }
        let table = table_for(&model, a.label, a.targets)?;
        if model.input.table.is_some() {
            eprintln!(
                "note: reading {} as the model's training file was read: {}",
                a.data,
                table.describe()
            );
        }
        let rows = table.read(Path::new(&a.data), Need::Targets, None)?;
        if rows.counts.unseen > 0 {
            eprintln!(
                "note: {}: {} categorical cells hold values the training file does not have; read as none of its levels",
                a.data, rows.counts.unseen
            );
        }
        (rows.data, None)
    } else {
        let split = data::load_from(&a.data, a.targets, a.label, &super::data_roots())?;
        let part = a.split.clone().unwrap_or(if split.test.is_some() {
            "test".into()
        } else {
            "train".into()
        });
        let set = match (part.as_str(), split.test) {
            ("test", Some(t)) => t,
            ("test", None) => bail!("{} has no test split: use --split train or all", a.data),
            ("train", _) => split.train,
            (_, Some(t)) => concat(split.train, t)?,
            (_, None) => split.train,
        };
        (set, Some(part))
    };
    check_width(spec, set.dim, &a.data)?;
    let e = model.evaluate(&set)?;
    let names = model.input.table.as_ref().and_then(|t| t.classes.clone());
    let text = if a.json {
        format!("{}\n", with_names_json(&e, names.as_deref()))
    } else {
        format!(
            "model {} ({})\ndata {}{}\n{}",
            a.model.display(),
            spec.describe(),
            a.data,
            part.map_or(String::new(), |p| format!(" ({p})")),
            with_names_table(&e, names.as_deref())
        )
    };
    super::write_stdout(&text)
}

/// The evaluation's JSON with the class names: `classes` (a list) and `name` in each
/// `per_class` entry.
fn with_names_json(e: &Evaluation, names: Option<&[String]>) -> String {
    let json = e.to_json();
    let Some(names) = names else {
        return json;
    };
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&json) else {
        return json;
    };
    if let Some(per) = v.get_mut("per_class").and_then(|p| p.as_array_mut()) {
        for (c, m) in per.iter_mut().enumerate() {
            if let (Some(m), Some(n)) = (m.as_object_mut(), names.get(c)) {
                m.insert("name".into(), n.clone().into());
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("classes".into(), names.to_vec().into());
    }
    v.to_string()
}

/// The evaluation's tables with class names in place of class numbers.
fn with_names_table(e: &Evaluation, names: Option<&[String]>) -> String {
    let table = e.to_table();
    let (Some(names), Some(at)) = (names, table.find("\n\nclass  precision")) else {
        return table;
    };
    let w = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(5, 24);
    let name = |c: usize| -> String {
        let n = names.get(c).map_or(c.to_string(), Clone::clone);
        n.chars().take(24).collect()
    };
    let mut s = table[..at].to_string();
    s += &format!("\n\n{:>w$}  precision  recall      f1  support\n", "class");
    for (c, m) in e.per_class.iter().enumerate() {
        s += &format!(
            "{:>w$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}\n",
            name(c),
            m.precision,
            m.recall,
            m.f1,
            m.support
        );
    }
    let cw = w.max(6);
    s += &format!(
        "\nconfusion matrix (rows: true class, columns: predicted)\n{:>w$} ",
        ""
    );
    for c in 0..e.confusion.len() {
        s += &format!(" {:>cw$}", name(c));
    }
    s.push('\n');
    for (t, row) in e.confusion.iter().enumerate() {
        s += &format!("{:>w$} ", name(t));
        for v in row {
            s += &format!(" {v:>cw$}");
        }
        s.push('\n');
    }
    s
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
}

/// Rows of `input` for `model`; a CSV file is read with the model's table.
fn predict_inputs(input: &str, model: &Model, strict: bool) -> Result<(Inputs, usize)> {
    let inputs = model.spec.inputs();
    let path = Path::new(input);
    let lower = input.to_ascii_lowercase();
    if path.is_file() && (lower.contains("idx3-ubyte") || lower.ends_with(".idx")) {
        let (data, n, dim) = idx::load_images(path)?;
        check_dim(dim, inputs, input)?;
        return Ok((data, n));
    }
    if path.is_file() && data::is_csv(input) {
        let table = table_for(model, None, None)?;
        let rows = table.read(path, Need::Features { strict }, None)?;
        if rows.counts.unseen > 0 {
            eprintln!(
                "note: {input}: {} categorical cells hold values the training file does not have; read as none of their column's levels (--strict refuses them)",
                rows.counts.unseen
            );
        }
        check_dim(rows.data.dim, inputs, input)?;
        return Ok((rows.data.x, rows.data.n));
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
    if let Some(out) = &a.out {
        super::check_writable(out)?;
        let input = Path::new(&a.input);
        super::check_distinct(
            &[("--model", &a.model), ("--input", input)],
            &[("--out", out)],
        )?;
    }
    let (x, n) = predict_inputs(&a.input, &model, a.strict)?;
    let probs = model.predict(&x, n)?;
    let w = spec.outputs();
    let mut csv = String::new();
    let classify = spec.output == Output::Softmax;
    let class_names = model
        .input
        .table
        .as_ref()
        .and_then(|t| t.classes.clone())
        .filter(|c| c.len() == w);
    // A regression table's target columns, by name.
    let target_names: Option<Vec<String>> = model
        .input
        .table
        .as_ref()
        .map(|t| t.target_names())
        .filter(|n| n.len() == w);
    let names: Vec<String> = (0..w)
        .map(|j| match (&class_names, &target_names) {
            (Some(c), _) => quote(&format!("p_{}", c[j])),
            (None, Some(t)) if !classify => quote(&t[j]),
            _ if classify || spec.output == Output::Sigmoid => format!("p{j}"),
            _ => format!("y{j}"),
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
            let class = match &class_names {
                Some(c) => quote(&c[class]),
                None => class.to_string(),
            };
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
        None => super::write_stdout(&csv)?,
    }
    Ok(())
}

/// A CSV cell: quoted (with its quotes doubled) when it holds a comma, a quote or a line end.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
