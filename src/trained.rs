//! A model: the architecture, its parameters and what it knows of its inputs (the
//! standardisation its run applied to inputs and targets, the CSV table it read). It predicts,
//! evaluates, saves and loads itself, applying its own transforms, so a caller never has to:
//! inputs are raw, outputs and figures are in the targets' units.

use std::path::Path;

use crate::checkpoint::{self, Arch, InputInfo};
use crate::data::standardize::Standardize;
use crate::data::{Dataset, Inputs, Targets};
use crate::error::{Error, Result};
use crate::evaluate::{self, Evaluation};
use crate::model::{Params, Spec};

/// A network and its parameters, with the input transform it was trained under.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The architecture: layer sizes, activations, output and loss.
    pub spec: Spec,
    /// Each layer's weights (in, out) and biases, f32.
    pub params: Params,
    /// The standardisation applied to every input before the network sees it, and the CSV
    /// table (columns, categories, class names) its training file had.
    pub input: InputInfo,
}

impl Model {
    /// `params` for `spec`, no input transform; an error when the spec is not one `Spec::new`
    /// takes (`Spec::check`), the shapes do not fit or a parameter is not finite (naming it).
    pub fn new(spec: Spec, params: Params) -> Result<Model> {
        spec.check()?;
        params.check_shapes(&spec)?;
        if let Some(bad) = params.first_non_finite() {
            return Err(Error::usage(format!(
                "the parameter {bad}: a model needs finite parameters"
            )));
        }
        Ok(Model {
            spec,
            params,
            input: InputInfo::default(),
        })
    }

    /// A new network with seeded initial parameters (Glorot-uniform weights, zero biases); an
    /// error when the spec is not one `Spec::new` takes (`Spec::check`: sizes, activations,
    /// `MAX_PARAMS`), an `Error::OutOfMemory` when the parameters alone cannot fit this
    /// process's memory.
    pub fn init(spec: Spec, seed: u64) -> Result<Model> {
        spec.check()?;
        crate::memory::check(
            &format!("the parameters of a {} network", spec.describe()),
            (spec.n_params() as u64).saturating_mul(4),
        )?;
        let params = Params::init(&spec, seed);
        Ok(Model {
            spec,
            params,
            input: InputInfo::default(),
        })
    }

    /// Loads a checkpoint (`Model::save`'s or a training run's), with its input transform.
    pub fn load(path: &Path) -> Result<Model> {
        let (spec, params, input) = checkpoint::load_model(path)?;
        Ok(Model {
            spec,
            params,
            input,
        })
    }

    /// Loads a checkpoint with or without wgtrain's metadata: without it (a PyTorch `state_dict`
    /// saved with safetensors, layers named `{N}.weight`/`{N}.bias` as `nn.Sequential` names
    /// them or `layers.{i}.*`), the layer sizes come from the tensors' shapes and the rest from
    /// `arch` (hidden activations, output or loss); with it, what `arch` gives must agree.
    pub fn load_with(path: &Path, arch: &Arch) -> Result<Model> {
        let (spec, params, input) = checkpoint::load_model_with(path, arch)?;
        Ok(Model {
            spec,
            params,
            input,
        })
    }

    /// Saves the architecture, the parameters and the input transform as safetensors (weights in
    /// `torch.nn.Linear`'s [out, in] layout), atomically. Non-finite parameters are refused, so
    /// a diverged run never replaces a good file.
    pub fn save(&self, path: &Path) -> Result<()> {
        if !self.params.all_finite() {
            return Err(Error::Diverged(format!(
                "the parameters are not finite; not saving {}",
                path.display()
            )));
        }
        checkpoint::save_model(path, &self.spec, &self.params, &self.input)
    }

    /// Checks that the parts fit, however the model was built (its fields are public): the
    /// spec as `Spec::new` checks it, one weight matrix and bias of the spec's shapes per layer,
    /// an input standardisation of one finite mean and one positive finite std per input, a
    /// target standardisation as `set_target_standardize` requires, a CSV table with the
    /// network's inputs and outputs. `predict`, `evaluate` and the session's `open` call it, so
    /// a model whose parts disagree is an error there (`Error::Shape` for a size), never a
    /// panic. Non-finite parameters pass here (`predict` and `evaluate` refuse them as an
    /// `Error::Diverged` naming the tensor; the session refuses to train them).
    pub fn check(&self) -> Result<()> {
        self.spec.check()?;
        self.params.check_shapes(&self.spec)?;
        let (inputs, outputs) = (self.spec.inputs(), self.spec.outputs());
        if let Some(z) = &self.input.standardize {
            if z.mean.len() != inputs || z.std.len() != inputs {
                return Err(Error::Shape(format!(
                    "the model's input standardisation has {} means and {} stds for a network of {inputs} inputs",
                    z.mean.len(),
                    z.std.len()
                )));
            }
            if let Some(j) = z.mean.iter().position(|m| !m.is_finite()) {
                return Err(Error::usage(format!(
                    "the model's input standardisation: the mean of input {j} is {}",
                    z.mean[j]
                )));
            }
            if let Some(j) = z.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(Error::usage(format!(
                    "the model's input standardisation: the std of input {j} is {}, not positive and finite",
                    z.std[j]
                )));
            }
        }
        if let Some(z) = &self.input.target_standardize {
            checkpoint::check_target_standardize(&self.spec, z)
                .map_err(|m| Error::invalid("target_standardize", m))?;
        }
        if let Some(t) = &self.input.table
            && (t.inputs() != inputs || t.outputs() != outputs)
        {
            return Err(Error::Shape(format!(
                "the model's CSV table has {} inputs and {} outputs, the network is {}",
                t.inputs(),
                t.outputs(),
                self.spec.describe()
            )));
        }
        Ok(())
    }

    /// "784-128(relu)-10 softmax/cross-entropy".
    pub fn describe(&self) -> String {
        self.spec.describe()
    }

    /// Sets the input standardisation; an error when it is not one mean and std per input.
    pub fn set_standardize(&mut self, z: Option<Standardize>) -> Result<()> {
        if let Some(z) = &z
            && (z.mean.len() != self.spec.inputs() || z.std.len() != self.spec.inputs())
        {
            return Err(Error::Shape(format!(
                "standardisation of {} features for a network of {} inputs",
                z.mean.len(),
                self.spec.inputs()
            )));
        }
        self.input.standardize = z;
        Ok(())
    }

    /// Sets the target standardisation; an error unless it is one finite mean and one positive
    /// finite std per output of a linear-output mse network.
    pub fn set_target_standardize(&mut self, z: Option<Standardize>) -> Result<()> {
        if let Some(z) = &z {
            checkpoint::check_target_standardize(&self.spec, z)
                .map_err(|m| Error::invalid("target_standardize", m))?;
        }
        self.input.target_standardize = z;
        Ok(())
    }

    /// `data` as the network sees it: inputs standardised when the model standardises them,
    /// value targets too when it standardises those.
    pub fn prepare(&self, data: Dataset) -> Result<Dataset> {
        self.prepare_targets(self.prepare_inputs(data)?)
    }

    /// `data` with the inputs as the network sees them, the targets as they are.
    pub(crate) fn prepare_inputs(&self, data: Dataset) -> Result<Dataset> {
        match &self.input.standardize {
            Some(z) => z.apply_to(data),
            None => Ok(data),
        }
    }

    /// `data` with value targets standardised when the model standardises them: `(y - mean) /
    /// std` per column.
    pub(crate) fn prepare_targets(&self, data: Dataset) -> Result<Dataset> {
        let (Some(z), Targets::Values { values, width }) =
            (&self.input.target_standardize, &data.targets)
        else {
            return Ok(data);
        };
        if z.mean.len() != *width {
            return Err(Error::Shape(format!(
                "{} has {width} target columns, the target standardisation {}",
                data.name,
                z.mean.len()
            )));
        }
        let mut values = values.clone();
        for row in values.chunks_exact_mut(*width) {
            for ((y, m), s) in row.iter_mut().zip(&z.mean).zip(&z.std) {
                *y = (*y - m) / s;
            }
        }
        let width = *width;
        Dataset::with_inputs(
            data.name,
            data.x,
            data.n,
            data.dim,
            Targets::Values { values, width },
        )
    }

    /// The outputs for `n` rows of raw inputs `x` (n, inputs), after the model's own input
    /// transform: probabilities for softmax and sigmoid outputs, values for linear ones, in the
    /// targets' original units when the model standardised its targets. (n, outputs)
    /// row-major.
    ///
    /// Checked first: the model (`check`) and its parameters finite, `x` holding `n` rows (and,
    /// for `Inputs::U8Affine`, one scale and offset per input), every input finite (an
    /// `Error::InvalidData` naming the row and column of the first that is not), and the
    /// outputs within this process's memory (`Error::OutOfMemory`).
    pub fn predict(&self, x: &Inputs, n: usize) -> Result<Vec<f32>> {
        self.check()?;
        let d = self.spec.inputs();
        if n.checked_mul(d) != Some(x.len()) {
            return Err(Error::Shape(format!(
                "{} input values for {n} rows of {d}",
                x.len()
            )));
        }
        if let Some(msg) = x.scales_misfit(d) {
            return Err(Error::invalid_data("the inputs", None, None, msg));
        }
        if let Some((r, c, v)) = x.first_non_finite(d) {
            return Err(Error::invalid_data(
                "the inputs",
                Some(r),
                Some(c),
                format!("row {r}, column {c} (0-based) is {v}: inputs must be finite"),
            ));
        }
        let mut out = match &self.input.standardize {
            Some(z) => evaluate::predict(&self.spec, &self.params, &z.apply(x, n)?, n)?,
            None => evaluate::predict(&self.spec, &self.params, x, n)?,
        };
        if let Some(z) = &self.input.target_standardize {
            let w = self.spec.outputs();
            evaluate::unscale_outputs(z, &mut out, w)?;
            if let Some(i) = out.iter().position(|v| !v.is_finite()) {
                return Err(Error::Diverged(format!(
                    "the model's output for row {} (0-based) is {} in the targets' units: it overflows f32",
                    i / w,
                    out[i]
                )));
            }
        }
        Ok(out)
    }

    /// `predict` for f32 rows: `x` is (n, inputs) row-major, n = `x.len() / inputs`.
    pub fn predict_f32(&self, x: &[f32]) -> Result<Vec<f32>> {
        self.check()?;
        let d = self.spec.inputs();
        if !x.len().is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{} input values are not whole rows of {d}",
                x.len()
            )));
        }
        self.predict(&Inputs::F32(x.to_vec()), x.len() / d)
    }

    /// Loss, and for class targets accuracy, per-class metrics and the confusion matrix, for
    /// value targets MSE, RMSE, MAE and R², on raw `data` (the model's input transform is
    /// applied here, and every figure is in the units of `data`'s targets).
    /// The targets are named after the model's table's target columns, when it has them.
    /// Checked first: the model (`check`) and its parameters finite, the dataset
    /// (`Dataset::check`: lengths, labels below the class count, finite inputs and targets; at
    /// least one row), and memory for the outputs, as in `predict`; outputs that overflow f32 are an
    /// `Error::Diverged` naming the row, as in `predict`, never a loss of infinity.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation> {
        self.evaluate_with(data, evaluate::Decision::Argmax)
    }

    /// `evaluate` with a classifier's classes decided by `decision`: for a model of two
    /// classes, `Decision::Threshold(t)` predicts the second class from a probability of `t`
    /// (an `Error::Invalid` naming the setting `threshold` for other models).
    pub fn evaluate_with(
        &self,
        data: &Dataset,
        decision: evaluate::Decision,
    ) -> Result<Evaluation> {
        self.check()?;
        data.check()?;
        let names = self.input.table.as_ref().map(|t| t.target_names());
        crate::train::check_target_range(&self.spec, data, names.as_deref().unwrap_or(&[]))?;
        let z = self.input.target_standardize.as_ref();
        let mut e = match &self.input.standardize {
            Some(s) => {
                let data = s.apply_to(data.clone())?;
                evaluate::evaluate_with(&self.spec, &self.params, &data, z, decision)
            }
            None => evaluate::evaluate_with(&self.spec, &self.params, data, z, decision),
        }?;
        if !e.loss.is_finite() {
            // What predict says of the same rows (the row whose output overflows), or else this.
            self.predict(&data.x, data.n)?;
            return Err(Error::Diverged(format!(
                "the model's loss on {} is {}: its outputs overflow f32",
                data.name, e.loss
            )));
        }
        if let Some(t) = &self.input.table {
            let names = t.target_names();
            if names.len() == e.per_target.len() {
                e.target_names = names;
            }
        }
        Ok(e)
    }
}
