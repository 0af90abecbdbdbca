//! A `Case` from what a user names: the rows (a data source `train` reads, rows written inline,
//! a CSV file read in f64), the network (sizes and activations, or a checkpoint's) and its
//! starting weights (seeded, a checkpoint, or a weights CSV read in f64).

use std::path::PathBuf;

use super::Case;
use super::input::{self, TraceRows};
use crate::cpu::reference::{Net64, widen};
use crate::data::Targets;
use crate::error::{Error, Result};
use crate::model::{Activation, Loss, Output, Params, Spec};
use crate::trained::Model;

/// Where the rows come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A data source as `train` reads it (`xor`, `digits`, a CSV or IDX path), `targets` as
    /// `data::load` takes it; the first `rows` rows of its training set, as f32 widened.
    Data {
        /// The source's name or path.
        source: String,
        /// None: a class label per row; Some(k): the last k columns are values.
        targets: Option<usize>,
        /// How many rows to take, from the first.
        rows: usize,
    },
    /// Rows written inline (`input::parse_rows`), in f64 as written.
    Inline(String),
    /// A CSV file read in f64 (`input::read_rows_csv`), its last `targets` columns the targets.
    Csv {
        /// The file.
        path: PathBuf,
        /// Target columns at the end of each line.
        targets: usize,
    },
}

/// Where the starting parameters come from.
#[derive(Clone, Debug)]
pub enum Start {
    /// `Params::init` with this seed (He or Glorot uniform, zero biases).
    Seed(u64),
    /// A safetensors checkpoint as `Model::load` reads it: its architecture and weights (f32,
    /// widened exactly), its input standardisation applied to `Source::Data` rows.
    Checkpoint(PathBuf),
    /// A weights CSV read in f64 (`input::read_weights_csv`): it gives the layer sizes.
    WeightsCsv(PathBuf),
}

/// The architecture as the user gives it; None fields take their defaults (or a checkpoint's).
#[derive(Clone, Debug, Default)]
pub struct Network {
    /// Hidden layer sizes (default: `default_hidden`).
    pub hidden: Option<Vec<usize>>,
    /// One activation for every hidden layer, or one per layer (default relu).
    pub activation: Option<Vec<Activation>>,
    /// The output (default: the one that fits the loss).
    pub output: Option<Output>,
    /// The loss (default: cross-entropy for class labels, mse for values).
    pub loss: Option<Loss>,
}

impl Network {
    /// The spec for `inputs` and `outputs`, `classes` saying whether the targets are labels.
    /// Errors name the setting to change.
    pub fn spec(
        &self,
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        classes: bool,
    ) -> Result<Spec> {
        let loss = self.loss.unwrap_or(if classes {
            Loss::CrossEntropy
        } else {
            Loss::Mse
        });
        let output = self.output.unwrap_or(loss.default_output());
        let acts = match self.activation.as_deref() {
            None => vec![Activation::Relu; hidden.len()],
            Some([one]) => vec![*one; hidden.len()],
            Some(list) if list.len() == hidden.len() => list.to_vec(),
            Some(list) => {
                return Err(Error::invalid(
                    "activation",
                    format!(
                        "gives {} activations for {} hidden layers: give one for all or one per layer",
                        list.len(),
                        hidden.len()
                    ),
                ));
            }
        };
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(outputs);
        Spec::new(sizes, acts, output, loss)
    }

    fn given(&self) -> Option<&'static str> {
        [
            ("hidden", self.hidden.is_some()),
            ("activation", self.activation.is_some()),
            ("output", self.output.is_some()),
            ("loss", self.loss.is_some()),
        ]
        .into_iter()
        .find(|(_, g)| *g)
        .map(|(n, _)| n)
    }
}

/// The rows of `source`, and whether their targets are class labels.
fn rows(source: &Source, model: Option<&Model>) -> Result<(TraceRows, bool)> {
    match source {
        Source::Inline(text) => Ok((input::parse_rows(text)?, false)),
        Source::Csv { path, targets } => Ok((input::read_rows_csv(path, *targets)?, false)),
        Source::Data {
            source,
            targets,
            rows,
        } => {
            if *rows == 0 {
                return Err(Error::invalid("samples", "must be at least 1"));
            }
            let train = crate::data::load(source, *targets)?.train;
            let idx: Vec<usize> = (0..train.n.min(*rows)).collect();
            let mut d = train.subset(&idx);
            if let Some(model) = model {
                d = model.prepare(d)?;
            }
            let classes = matches!(d.targets, Targets::Classes { .. });
            Ok((
                TraceRows {
                    x: widen(&d.x.to_f32()),
                    y: widen(&d.dense_targets()),
                    n: d.n,
                    inputs: d.dim,
                    width: d.target_width(),
                },
                classes,
            ))
        }
    }
}

/// What a case is built for, so that a network too large for it is refused before its
/// parameters are allocated.
#[derive(Clone, Copy, Debug)]
pub enum Purpose<'a> {
    /// Any use: only what this process can allocate bounds the network.
    Any,
    /// `trace`: at most `MAX_PARAMS` parameters (`check_size`).
    Trace,
    /// `gradcheck` with these options: its finite differences within `gradcheck::MAX_WORK`
    /// (`gradcheck::check_work`).
    Gradcheck(&'a crate::gradcheck::Options),
}

impl Purpose<'_> {
    /// Refuses `spec` on `rows` rows when it is too large for this purpose, or its parameters
    /// (f32 and f64 copies, and the f32 copy `Case::check` makes) cannot be allocated.
    fn admit(self, spec: &Spec, rows: usize) -> Result<()> {
        match self {
            Purpose::Any => {}
            Purpose::Trace => super::check_size(spec)?,
            Purpose::Gradcheck(opts) => crate::gradcheck::check_work(spec, rows, opts)?,
        }
        let bytes = (spec.n_params() as u64).saturating_mul(16);
        crate::memory::check(&format!("the parameters of {}", spec.describe()), bytes)
    }
}

/// The case `source`, `start` and `network` name, checked (`Case::check`). `default_hidden` is
/// the hidden sizes when neither `network` nor the start gives them. Only what this process can
/// allocate bounds the network: `build_case_for` also refuses one too large for `trace` or
/// `gradcheck` before its parameters are allocated.
pub fn build_case(
    source: &Source,
    start: &Start,
    network: &Network,
    default_hidden: &[usize],
) -> Result<Case> {
    build_case_for(source, start, network, default_hidden, Purpose::Any)
}

/// As `build_case`, the network refused before its parameters are allocated when it is too
/// large for `purpose`.
pub fn build_case_for(
    source: &Source,
    start: &Start,
    network: &Network,
    default_hidden: &[usize],
    purpose: Purpose<'_>,
) -> Result<Case> {
    let model = match start {
        Start::Checkpoint(path) => {
            if let Some(name) = network.given() {
                return Err(Error::invalid(
                    name,
                    format!(
                        "comes from the checkpoint {} given as the starting weights: leave it out",
                        path.display()
                    ),
                ));
            }
            Some(Model::load(path)?)
        }
        _ => None,
    };
    let (rows, classes) = rows(source, model.as_ref())?;
    let (spec, net) = match start {
        Start::Checkpoint(_) => {
            let model = model.expect("loaded above");
            purpose.admit(&model.spec, rows.n)?;
            (model.spec.clone(), Net64::from_params(&model.params))
        }
        Start::WeightsCsv(path) => {
            let (sizes, net) = input::read_weights_csv(path)?;
            let hidden = &sizes[1..sizes.len() - 1];
            if network.hidden.as_deref().is_some_and(|h| h != hidden) {
                return Err(Error::invalid(
                    "hidden",
                    format!(
                        "does not match the weights in {}, whose hidden sizes are {hidden:?}: leave it out",
                        path.display()
                    ),
                ));
            }
            let spec = network.spec(sizes[0], hidden, sizes[sizes.len() - 1], classes)?;
            purpose.admit(&spec, rows.n)?;
            (spec, net)
        }
        Start::Seed(seed) => {
            let hidden = network.hidden.as_deref().unwrap_or(default_hidden);
            let spec = network.spec(rows.inputs, hidden, rows.width, classes)?;
            purpose.admit(&spec, rows.n)?;
            let net = Net64::from_params(&Params::init(&spec, *seed));
            (spec, net)
        }
    };
    if spec.inputs() != rows.inputs || spec.outputs() != rows.width {
        return Err(Error::Shape(format!(
            "the network {} takes {} inputs and gives {} outputs, but the rows have {} inputs and {} targets",
            spec.describe(),
            spec.inputs(),
            spec.outputs(),
            rows.inputs,
            rows.width
        )));
    }
    let case = Case {
        spec,
        net,
        x: rows.x,
        y: rows.y,
        n: rows.n,
    };
    case.check()?;
    Ok(case)
}
