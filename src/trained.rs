//! A model: the architecture, its parameters and what it knows of its inputs (the
//! standardisation its run applied, the CSV table it read). It predicts, evaluates, saves and
//! loads itself, applying its own input transform, so a caller never has to.

use std::path::Path;

use crate::checkpoint::{self, InputInfo};
use crate::data::standardize::Standardize;
use crate::data::{Dataset, Inputs};
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
    /// `params` for `spec`, no input transform; an error when the shapes do not fit.
    pub fn new(spec: Spec, params: Params) -> Result<Model> {
        params.check_shapes(&spec)?;
        Ok(Model {
            spec,
            params,
            input: InputInfo::default(),
        })
    }

    /// A new network with seeded initial parameters (He-uniform weights, zero biases); an
    /// `Error::OutOfMemory` when the parameters alone cannot fit this process's memory.
    pub fn init(spec: Spec, seed: u64) -> Result<Model> {
        crate::memory::check(
            &format!("the parameters of a {} network", spec.describe()),
            spec.n_params() as u64 * 4,
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

    /// `data` as the network sees it: standardised when the model is.
    pub fn prepare(&self, data: Dataset) -> Result<Dataset> {
        match &self.input.standardize {
            Some(z) => z.apply_to(data),
            None => Ok(data),
        }
    }

    /// The outputs for `n` rows of raw inputs `x` (n, inputs), after the model's own input
    /// transform: probabilities for softmax and sigmoid outputs, values for linear ones.
    /// (n, outputs) row-major.
    pub fn predict(&self, x: &Inputs, n: usize) -> Result<Vec<f32>> {
        match &self.input.standardize {
            Some(z) => evaluate::predict(&self.spec, &self.params, &z.apply(x, n)?, n),
            None => evaluate::predict(&self.spec, &self.params, x, n),
        }
    }

    /// `predict` for f32 rows: `x` is (n, inputs) row-major, n = `x.len() / inputs`.
    pub fn predict_f32(&self, x: &[f32]) -> Result<Vec<f32>> {
        let d = self.spec.inputs();
        if !x.len().is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{} input values are not whole rows of {d}",
                x.len()
            )));
        }
        self.predict(&Inputs::F32(x.to_vec()), x.len() / d)
    }

    /// Loss, and for class targets accuracy, per-class metrics and the confusion matrix, on raw
    /// `data` (the model's input transform is applied here).
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation> {
        match &self.input.standardize {
            Some(z) => evaluate::evaluate(&self.spec, &self.params, &z.apply_to(data.clone())?),
            None => evaluate::evaluate(&self.spec, &self.params, data),
        }
    }
}
