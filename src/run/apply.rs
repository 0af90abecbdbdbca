//! A trained model applied to data, as `eval` and `predict` do it: the rows a source gives for
//! the model (a CSV file read with the model's own table), and the predictions as CSV.

use std::path::{Path, PathBuf};

use crate::data::{self, Dataset, Inputs, Need, Table, Targets};
use crate::error::{Error, Result};
use crate::evaluate::Decision;
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
/// test split when it has one); named IDX sets are looked for in `roots`. With
/// `drop_missing_target` a CSV file's rows without a label or target are left out (counted in
/// a note) as the model's training run may have left its own out, instead of refused.
pub fn eval_rows(
    model: &Model,
    source: &str,
    label: Option<usize>,
    targets: Option<usize>,
    part: Option<Part>,
    roots: &[PathBuf],
    drop_missing_target: bool,
) -> Result<EvalRows> {
    let mut notes = Vec::new();
    if drop_missing_target && !data::is_csv(source) {
        return Err(Error::invalid(
            "drop_missing_target",
            format!("applies to CSV files; {source} is not one"),
        ));
    }
    let (set, part) = if data::is_csv(source) {
        if part.is_some_and(|p| p != Part::All) {
            return Err(Error::invalid(
                "split",
                format!(
                    "applies to datasets with a test split; {source} is one file, evaluated whole"
                ),
            ));
        }
        let mut table = table_for(model, label, targets, &mut notes)?;
        table.drop_missing_target |= drop_missing_target;
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
        notes.extend(read_notes(source, &rows));
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

/// What `predict_rows` read.
#[derive(Clone, Debug)]
pub struct PredictRows {
    /// The inputs, `n` rows of the model's width.
    pub x: Inputs,
    /// How many rows.
    pub n: usize,
    /// The columns asked to be carried through, their cells row for row (empty when none
    /// were asked for).
    pub kept: data::Kept,
    /// What the reading settled that a user should know.
    pub notes: Vec<String>,
}

/// Rows to predict on for `model`: a CSV file (read with the model's table; `strict`: a
/// category the training file did not have is an error; `keep`: columns of the file, by
/// header name, carried through as written), an IDX image file, or a dataset name or folder
/// (its test split when it has one).
pub fn predict_rows(
    model: &Model,
    input: &str,
    strict: bool,
    keep: &[String],
    roots: &[PathBuf],
) -> Result<PredictRows> {
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
    let csv = (path.is_file() || crate::files::is_given(path)) && data::is_csv(input);
    if !keep.is_empty() && !csv {
        return Err(Error::invalid(
            "keep",
            format!(
                "{input}: columns are carried through from a CSV file with a header; this is not one"
            ),
        ));
    }
    let rows = |x: Inputs, n: usize, kept: data::Kept, notes: Vec<String>| PredictRows {
        x,
        n,
        kept,
        notes,
    };
    if path.is_file() && (lower.contains("idx3-ubyte") || lower.ends_with(".idx")) {
        let (data, n, dim) = data::idx::load_images(path)?;
        check_dim(dim)?;
        return Ok(rows(data, n, data::Kept::default(), notes));
    }
    if csv {
        let table = table_for(model, None, None, &mut notes)?;
        let read = table.read(path, Need::Features { strict }, None)?;
        if read.counts.unseen > 0 {
            notes.push(format!(
                "{input}: {} categorical cells hold values the training file does not have; read as none of their column's levels (the setting `strict` refuses them)",
                read.counts.unseen
            ));
        }
        notes.extend(read_notes(input, &read));
        check_dim(read.data.dim)?;
        let kept = if keep.is_empty() {
            data::Kept::default()
        } else {
            let mut kept = table.kept(path, keep, read.data.n)?;
            apart_from_outputs(model, &mut kept.names, &mut notes);
            kept
        };
        return Ok(rows(read.data.x, read.data.n, kept, notes));
    }
    let split = data::load_from(input, None, None, roots)?;
    let set = split.test.unwrap_or(split.train);
    check_dim(set.dim)?;
    Ok(rows(set.x, set.n, data::Kept::default(), notes))
}

/// What a read of `source` did that the numbers do not show: the missing cells it imputed, the
/// columns it left unread.
fn read_notes(source: &str, rows: &crate::data::table::Rows) -> Vec<String> {
    let mut notes = Vec::new();
    match rows.counts.imputed {
        0 => {}
        1 => notes.push(format!(
            "{source}: 1 missing value imputed (a number the training mean, a category none of its levels)"
        )),
        k => notes.push(format!(
            "{source}: {k} missing values imputed (a number the training mean, a category none of its levels)"
        )),
    }
    if !rows.unused.is_empty() {
        let names: Vec<String> = rows.unused.iter().map(|n| format!("{n:?}")).collect();
        notes.push(format!(
            "{source}: not read, the model has no such column: {}",
            names.join(", ")
        ));
    }
    notes
}

/// How `model` reads the CSV file `path`, column by column (`Schema::read_by`): as eval reads
/// it when the file has the model's label or target columns, else as predict does (unseen
/// categories read as none of their levels); with which, "eval" or "predict". A model saved
/// without a table (not trained on a CSV file, or a PyTorch `state_dict`) reads a CSV file as
/// eval and predict do: numbers by position, the label column its training run stored, else
/// the last, or as `label` (a 1-based column) and `targets` (the last K columns) say, as they
/// do for `eval_rows`; a model with a table checks them against it.
pub fn schema_for(
    model: &Model,
    path: &Path,
    label: Option<usize>,
    targets: Option<usize>,
) -> Result<(data::Schema, &'static str)> {
    let mut notes = Vec::new();
    let table = table_for(model, label, targets, &mut notes)?;
    let (mut schema, by) = match data::Schema::read_by(path, &table, Need::Targets) {
        Ok(s) => (s, "eval"),
        Err(e) => match data::Schema::read_by(path, &table, Need::Features { strict: false }) {
            Ok(s) => (s, "predict"),
            Err(_) => return Err(e),
        },
    };
    schema.notes.splice(0..0, notes);
    Ok((schema, by))
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
/// probability; otherwise each output, named after its target column when known. Numbers in
/// their shortest form that reads back as the same f32.
pub fn predictions_csv(model: &Model, probs: &[f32]) -> String {
    predictions_csv_with(model, probs, Decision::Argmax, &data::Kept::default())
}

/// Kept column names that a prediction column also has (`--keep class`, a regression's target
/// kept beside its prediction) renamed `NAME_kept`, with a note: two columns of one name read
/// back as the first (pandas renames the second `NAME.1`), the true value for the prediction.
fn apart_from_outputs(model: &Model, names: &mut [String], notes: &mut Vec<String>) {
    let outputs = output_names(model);
    for name in names.iter_mut() {
        if outputs.contains(name) {
            let kept = format!("{name}_kept");
            notes.push(format!(
                "the kept column {name:?} is written as {kept:?}: a prediction column has its name"
            ));
            *name = kept;
        }
    }
}

/// The class names of `model`'s table, when it has one per output.
fn class_names(model: &Model) -> Option<Vec<String>> {
    let w = model.spec.outputs();
    let table = model.input.table.as_ref();
    table
        .and_then(|t| t.classes.clone())
        .filter(|c| c.len() == w)
}

/// The names of the columns `predictions_csv` writes for `model`'s outputs: `class` and each
/// class's `p_NAME` (`pJ` without names) for a classifier; else each target column's name, or
/// `pJ` (sigmoid) or `yJ`.
pub fn output_names(model: &Model) -> Vec<String> {
    let spec = &model.spec;
    let w = spec.outputs();
    let classify = spec.output == Output::Softmax;
    let table = model.input.table.as_ref();
    let class_names = class_names(model);
    let target_names: Option<Vec<String>> =
        table.map(|t| t.target_names()).filter(|n| n.len() == w);
    let mut names = Vec::with_capacity(w + 1);
    if classify {
        names.push("class".to_string());
    }
    names.extend((0..w).map(|j| match (&class_names, &target_names) {
        (Some(c), _) => format!("p_{}", c[j]),
        (None, Some(t)) if !classify => t[j].clone(),
        _ if classify || spec.output == Output::Sigmoid => format!("p{j}"),
        _ => format!("y{j}"),
    }));
    names
}

/// `predictions_csv` with the class decided by `decision` (a threshold for a classifier of two
/// classes: see `Decision::check`) and the `kept` columns first, as the input file wrote them.
pub fn predictions_csv_with(
    model: &Model,
    probs: &[f32],
    decision: Decision,
    kept: &data::Kept,
) -> String {
    let w = model.spec.outputs();
    let classify = model.spec.output == Output::Softmax;
    let class_names = class_names(model);
    let mut names: Vec<String> = kept.names.iter().map(|n| quote(n)).collect();
    names.extend(output_names(model).iter().map(|n| quote(n)));
    let mut csv = names.join(",") + "\n";
    let mut cells: Vec<String> = Vec::with_capacity(names.len());
    for (i, row) in probs.chunks_exact(w.max(1)).enumerate() {
        cells.clear();
        if !kept.names.is_empty() {
            cells.extend(kept.row(i).iter().map(|c| quote(c)));
        }
        if classify {
            let class = decision.class(row);
            cells.push(match &class_names {
                Some(c) => quote(&c[class]),
                None => class.to_string(),
            });
        }
        cells.extend(row.iter().map(|&v| shortest(v)));
        csv += &cells.join(",");
        csv.push('\n');
    }
    csv
}

/// `v` in the fewest digits that read back as the same f32 (Rust's `Display` and `LowerExp`
/// both give those): plain between 1e-5 and 1e16, in exponent form outside, so a probability of
/// 1e-30 is not thirty zeros long.
pub(crate) fn shortest(v: f32) -> String {
    if v == 0.0 || !v.is_finite() || (1e-5..1e16).contains(&v.abs()) {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}
