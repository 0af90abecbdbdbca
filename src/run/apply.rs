//! A trained model applied to data, as `eval` and `predict` do it: the rows a source gives for
//! the model (a CSV file read with the model's own table), and the predictions as CSV.

use std::path::{Path, PathBuf};

use crate::data::{self, Dataset, Inputs, Need, Table, Targets};
use crate::error::{Error, Result};
use crate::model::{Output, Spec};
use crate::trained::Model;

/// Which part of a source with a test split to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The test split.
    Test,
    /// The training split.
    Train,
    /// Both, as one set.
    All,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Test => "test",
            Part::Train => "train",
            Part::All => "all",
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Part {
    type Err = Error;
    fn from_str(s: &str) -> Result<Part> {
        match s {
            "test" => Ok(Part::Test),
            "train" => Ok(Part::Train),
            "all" => Ok(Part::All),
            _ => Err(Error::invalid(
                "split",
                format!("{s}: expected test, train or all"),
            )),
        }
    }
}

/// What `eval_rows` read.
#[derive(Clone, Debug)]
pub struct EvalRows {
    /// The rows, checked against the model's inputs.
    pub set: Dataset,
    /// The part of a source with splits (None: a CSV file, read whole).
    pub part: Option<Part>,
    /// What the reading settled that a user should know, settings named as "the setting
    /// `NAME`".
    pub notes: Vec<String>,
}

/// How a CSV file is read for `model`: its own table, or for a model saved without one,
/// numbers only with the label column or target count given, else stored, else the last
/// column.
fn table_for(
    model: &Model,
    label: Option<usize>,
    targets: Option<usize>,
    notes: &mut Vec<String>,
) -> Result<Table> {
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
    let mut layout = |what: &str, given: Option<usize>, stored: Option<usize>| {
        if given.is_none()
            && let Some(v) = stored
        {
            notes.push(format!(
                "reading CSV files with the setting `{what}` {v}, as the model's training run did"
            ));
        }
        given.or(stored)
    };
    let targets = layout("targets", targets, model.input.targets);
    let label = layout("label", label, model.input.label_column);
    let targets = match (targets, spec.output) {
        (None, Output::Linear) => Some(spec.outputs()),
        (t, _) => t,
    };
    Table::legacy(spec.inputs(), spec.outputs(), label, targets)
}

/// The rows of `source` to evaluate `model` on: a CSV file read whole with the model's table
/// (`label` and `targets` for a model saved without one), or a dataset's `part` (default: its
/// test split when it has one); named IDX sets are looked for in `roots`.
pub fn eval_rows(
    model: &Model,
    source: &str,
    label: Option<usize>,
    targets: Option<usize>,
    part: Option<Part>,
    roots: &[PathBuf],
) -> Result<EvalRows> {
    let mut notes = Vec::new();
    let (set, part) = if data::is_csv(source) {
        if part.is_some_and(|p| p != Part::All) {
            return Err(Error::invalid(
                "split",
                format!(
                    "applies to datasets with a test split; {source} is one file, evaluated whole"
                ),
            ));
        }
        let table = table_for(model, label, targets, &mut notes)?;
        if model.input.table.is_some() {
            notes.push(format!(
                "reading {source} as the model's training file was read: {}",
                table.describe()
            ));
        }
        let rows = table.read(Path::new(source), Need::Targets, None)?;
        if rows.counts.dropped > 0 {
            notes.push(super::dropped_note(source, rows.counts.dropped));
        }
        if rows.counts.unseen > 0 {
            notes.push(format!(
                "{source}: {} categorical cells hold values the training file does not have; read as none of its levels",
                rows.counts.unseen
            ));
        }
        (rows.data, None)
    } else {
        let split = data::load_from(source, targets, label, roots)?;
        let part = part.unwrap_or(if split.test.is_some() {
            Part::Test
        } else {
            Part::Train
        });
        let set = match (part, split.test) {
            (Part::Test, Some(t)) => t,
            (Part::Test, None) => {
                return Err(Error::invalid(
                    "split",
                    format!("test: {source} has no test split; evaluate train or all"),
                ));
            }
            (Part::Train, _) | (Part::All, None) => split.train,
            (Part::All, Some(t)) => concat(split.train, t)?,
        };
        (set, Some(part))
    };
    check_width(&model.spec, set.dim, source)?;
    Ok(EvalRows { set, part, notes })
}

/// Train and test rows as one set.
fn concat(a: Dataset, b: Dataset) -> Result<Dataset> {
    let name = format!("{} (all)", a.name);
    let (n, dim) = (a.n + b.n, a.dim);
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
    let targets = match (a.targets, b.targets) {
        (
            Targets::Classes {
                mut labels,
                n_classes,
            },
            Targets::Classes {
                labels: more,
                n_classes: k,
            },
        ) => {
            labels.extend(more);
            Targets::Classes {
                labels,
                n_classes: n_classes.max(k),
            }
        }
        (Targets::Values { mut values, width }, Targets::Values { values: more, .. }) => {
            values.extend(more);
            Targets::Values { values, width }
        }
        _ => {
            return Err(Error::usage(
                "the train and test splits have different kinds of targets",
            ));
        }
    };
    Dataset::with_inputs(name, x, n, dim, targets)
}

fn check_width(spec: &Spec, dim: usize, what: &str) -> Result<()> {
    if dim != spec.inputs() {
        return Err(Error::usage(format!(
            "{what}: {dim} inputs per sample, but the model ({}) takes {}",
            spec.describe(),
            spec.inputs()
        )));
    }
    Ok(())
}

/// Rows to predict on for `model`: a CSV file (read with the model's table; `strict`: a
/// category the training file did not have is an error), an IDX image file, or a dataset
/// name or folder (its test split when it has one). The inputs, their row count, and notes.
pub fn predict_rows(
    model: &Model,
    input: &str,
    strict: bool,
    roots: &[PathBuf],
) -> Result<(Inputs, usize, Vec<String>)> {
    let inputs = model.spec.inputs();
    let path = Path::new(input);
    let lower = input.to_ascii_lowercase();
    let mut notes = Vec::new();
    let check_dim = |dim: usize| {
        if dim != inputs {
            return Err(Error::usage(format!(
                "{input}: {dim} values per sample, but the model takes {inputs}"
            )));
        }
        Ok(())
    };
    if path.is_file() && (lower.contains("idx3-ubyte") || lower.ends_with(".idx")) {
        let (data, n, dim) = data::idx::load_images(path)?;
        check_dim(dim)?;
        return Ok((data, n, notes));
    }
    if (path.is_file() || crate::files::is_given(path)) && data::is_csv(input) {
        let table = table_for(model, None, None, &mut notes)?;
        let rows = table.read(path, Need::Features { strict }, None)?;
        if rows.counts.unseen > 0 {
            notes.push(format!(
                "{input}: {} categorical cells hold values the training file does not have; read as none of their column's levels (the setting `strict` refuses them)",
                rows.counts.unseen
            ));
        }
        check_dim(rows.data.dim)?;
        return Ok((rows.data.x, rows.data.n, notes));
    }
    let split = data::load_from(input, None, None, roots)?;
    let set = split.test.unwrap_or(split.train);
    check_dim(set.dim)?;
    Ok((set.x, set.n, notes))
}

/// A CSV cell: quoted (with its quotes doubled) when it holds a comma, a quote or a line end.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `model`'s outputs `probs` (from `Model::predict`, one row per sample) as CSV with a header:
/// for a classifier the class (by name when the model's table has them) then each class's
/// probability; otherwise each output, named after its target column when known.
pub fn predictions_csv(model: &Model, probs: &[f32]) -> String {
    let spec = &model.spec;
    let w = spec.outputs();
    let classify = spec.output == Output::Softmax;
    let table = model.input.table.as_ref();
    let class_names = table
        .and_then(|t| t.classes.clone())
        .filter(|c| c.len() == w);
    // A regression table's target columns, by name.
    let target_names: Option<Vec<String>> =
        table.map(|t| t.target_names()).filter(|n| n.len() == w);
    let names: Vec<String> = (0..w)
        .map(|j| match (&class_names, &target_names) {
            (Some(c), _) => quote(&format!("p_{}", c[j])),
            (None, Some(t)) if !classify => quote(&t[j]),
            _ if classify || spec.output == Output::Sigmoid => format!("p{j}"),
            _ => format!("y{j}"),
        })
        .collect();
    let mut csv = if classify {
        format!("class,{}\n", names.join(","))
    } else {
        format!("{}\n", names.join(","))
    };
    for row in probs.chunks_exact(w.max(1)) {
        let values: Vec<String> = row.iter().map(|v| format!("{v:.6}")).collect();
        if classify {
            let class = crate::cpu::fast::argmax(row);
            let class = match &class_names {
                Some(c) => quote(&c[class]),
                None => class.to_string(),
            };
            csv += &format!("{class},{}\n", values.join(","));
        } else {
            csv += &format!("{}\n", values.join(","));
        }
    }
    csv
}
