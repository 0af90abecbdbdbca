//! Optimisers (SGD, momentum, Nesterov, Adam, AdamW), their state, and learning-rate schedules.
//!
//! The update rules are PyTorch's `torch.optim` ones; with `g = dθ + 2λθ` (λ = `--l2`, weights
//! only) and the step's learning rate `lr` from the schedule:
//! ```text
//! sgd        θ -= lr·g
//! momentum   v = μ·v + g;  θ -= lr·v                        (dampening 0; v starts at 0)
//! nesterov   v = μ·v + g;  θ -= lr·(g + μ·v)
//! adam       m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²      (update t = 1, 2, ...)
//!            θ -= (lr / (1-β1^t))·m / (sqrt(v) / sqrt(1-β2^t) + eps)
//! adamw      θ *= 1 - lr·wd (weights only), then as adam
//! ```
//! The update kernels are `sgd_update`, `momentum_update` (nesterov too) and `adam_update` (adamw
//! too), with f64 twins of the same names in `cpu::reference`.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result, check_non_negative, check_positive};
use crate::model::{Params, Spec};

/// Which update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Plain SGD, `θ -= lr·g`; no state.
    Sgd,
    /// Heavy-ball momentum (PyTorch's SGD with momentum μ, dampening 0); one velocity slot.
    Momentum,
    /// Nesterov momentum (PyTorch's `nesterov=True`); one velocity slot, μ > 0.
    Nesterov,
    /// Adam with bias correction; slots m and v.
    Adam,
    /// Adam with decoupled weight decay on the weights; slots m and v.
    AdamW,
}

impl Method {
    /// Every method; `FromStr` looks names up among them.
    pub const ALL: [Method; 5] = [
        Method::Sgd,
        Method::Momentum,
        Method::Nesterov,
        Method::Adam,
        Method::AdamW,
    ];

    /// The name `FromStr`, `Display`, the CLI and checkpoints use: `sgd`, `momentum`, `nesterov`,
    /// `adam` or `adamw`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sgd => "sgd",
            Method::Momentum => "momentum",
            Method::Nesterov => "nesterov",
            Method::Adam => "adam",
            Method::AdamW => "adamw",
        }
    }

    /// The state tensors each parameter carries, by their checkpoint names, in the order of
    /// `OptimState::slots`.
    pub fn slots(self) -> &'static [&'static str] {
        match self {
            Method::Sgd => &[],
            Method::Momentum | Method::Nesterov => &["momentum"],
            Method::Adam | Method::AdamW => &["m", "v"],
        }
    }

    /// Whether the method keeps a velocity and reads `Optimizer::momentum` (momentum, nesterov).
    pub fn uses_momentum(self) -> bool {
        matches!(self, Method::Momentum | Method::Nesterov)
    }

    /// Whether the method is Adam or AdamW: moments m and v, the betas and eps.
    pub fn is_adam(self) -> bool {
        matches!(self, Method::Adam | Method::AdamW)
    }
}

impl FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == s.trim())
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown optimizer '{s}': expected one of sgd, momentum, nesterov, adam, adamw"
                ))
            })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An update rule and its hyper-parameters (the learning rate and λ are `train::Hyper`'s).
/// Fields a method does not use are ignored by it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Optimizer {
    /// The update rule.
    pub method: Method,
    /// μ of momentum and nesterov.
    pub momentum: f32,
    /// β1, decay of Adam's first-moment average m; in [0, 1), default 0.9.
    pub beta1: f32,
    /// β2, decay of Adam's second-moment average v; in [0, 1), default 0.999.
    pub beta2: f32,
    /// Added to sqrt(v̂) in Adam's denominator.
    pub eps: f32,
    /// AdamW's decoupled weight decay (weights only).
    pub weight_decay: f32,
}

impl Default for Optimizer {
    /// Plain SGD; the other fields hold PyTorch's defaults (μ 0.9 as the common choice).
    fn default() -> Optimizer {
        Optimizer {
            method: Method::Sgd,
            momentum: 0.9,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl Optimizer {
    /// `method` with the default hyper-parameters.
    pub fn new(method: Method) -> Optimizer {
        Optimizer {
            method,
            ..Optimizer::default()
        }
    }

    /// Every value the method uses must be finite and in range: μ and the betas in [0, 1),
    /// nesterov needs μ > 0, eps > 0, the weight decay >= 0.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &'static str, v: f32| {
            if v.is_finite() && (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(name, format!("must be in [0, 1), got {v}")))
            }
        };
        match self.method {
            Method::Sgd => {}
            Method::Momentum => unit("momentum", self.momentum)?,
            Method::Nesterov => {
                unit("momentum", self.momentum)?;
                if self.momentum == 0.0 {
                    return Err(Error::invalid(
                        "momentum",
                        "must be above 0 for the nesterov optimizer",
                    ));
                }
            }
            Method::Adam | Method::AdamW => {
                unit("beta1", self.beta1)?;
                unit("beta2", self.beta2)?;
                check_positive("eps", self.eps)?;
            }
        }
        check_non_negative("weight_decay", self.weight_decay)?;
        if self.weight_decay != 0.0 && self.method != Method::AdamW {
            return Err(Error::invalid(
                "weight_decay",
                format!(
                    "is AdamW's decoupled decay, but the optimizer is {}: use the adamw optimizer, or l2 for the 2λW gradient term",
                    self.method
                ),
            ));
        }
        Ok(())
    }

    /// Adam's bias corrections `(1 - β1^t, 1 - β2^t)` of update `t` (1-based), in f64 rounded
    /// to f32: computed once per step on the host and handed to every path the same.
    pub fn bias_corrections(&self, t: u64) -> (f32, f32) {
        let c = |beta: f32| (1.0 - (beta as f64).powf(t as f64)) as f32;
        (c(self.beta1), c(self.beta2))
    }

    /// E.g. `adam (β1 0.9, β2 0.999, eps 1e-8)`.
    pub fn describe(&self) -> String {
        match self.method {
            Method::Sgd => "sgd".into(),
            Method::Momentum | Method::Nesterov => format!("{} (μ {})", self.method, self.momentum),
            Method::Adam => format!(
                "adam (β1 {}, β2 {}, eps {:e})",
                self.beta1, self.beta2, self.eps
            ),
            Method::AdamW => format!(
                "adamw (β1 {}, β2 {}, eps {:e}, weight decay {})",
                self.beta1, self.beta2, self.eps, self.weight_decay
            ),
        }
    }

    /// The checkpoint metadata: `optimizer` and the values the method uses. f32 values are
    /// written in their shortest exact form, so they read back bit for bit.
    pub fn to_metadata(&self, meta: &mut HashMap<String, String>) {
        meta.insert("optimizer".into(), self.method.name().into());
        let mut put = |k: &str, v: f32| {
            meta.insert(k.into(), v.to_string());
        };
        if self.method.uses_momentum() {
            put("momentum", self.momentum);
        }
        if self.method.is_adam() {
            put("beta1", self.beta1);
            put("beta2", self.beta2);
            put("eps", self.eps);
            put("weight_decay", self.weight_decay);
        }
    }

    /// Reads what `to_metadata` wrote; `None` when there is no `optimizer` key.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Option<Optimizer>> {
        let Some(name) = meta.get("optimizer") else {
            return Ok(None);
        };
        let mut o = Optimizer::new(name.parse()?);
        if o.method.uses_momentum() {
            o.momentum = number(meta, "momentum")?;
        }
        if o.method.is_adam() {
            o.beta1 = number(meta, "beta1")?;
            o.beta2 = number(meta, "beta2")?;
            o.eps = number(meta, "eps")?;
            o.weight_decay = number(meta, "weight_decay")?;
        }
        o.validate()?;
        Ok(Some(o))
    }
}

/// The metadata value `key` parsed as a `T`.
pub fn number<T: FromStr>(meta: &HashMap<String, String>, key: &str) -> Result<T> {
    let v = meta
        .get(key)
        .ok_or_else(|| Error::usage(format!("metadata has no '{key}'")))?;
    v.trim()
        .parse()
        .map_err(|_| Error::usage(format!("metadata '{key}' is not a valid number: {v:?}")))
}

/// An optimiser with its state: the number of updates done (Adam's t) and, per slot of
/// `Method::slots`, one tensor per parameter tensor (shaped as `Params`, weights (fan_in,
/// fan_out)), zero at the start.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimState {
    /// The update rule and its hyper-parameters.
    pub optimizer: Optimizer,
    /// Updates done so far; the next one is Adam's t = `step + 1`.
    pub step: u64,
    /// One parameter-shaped set per `Method::slots` entry, in that order; empty for SGD.
    pub slots: Vec<Params>,
}

impl OptimState {
    /// The state of `optimizer` before its first update, for a network `spec`.
    pub fn new(optimizer: Optimizer, spec: &Spec) -> OptimState {
        OptimState {
            optimizer,
            step: 0,
            slots: optimizer
                .method
                .slots()
                .iter()
                .map(|_| Params::zeros(spec))
                .collect(),
        }
    }

    /// One slot per `Method::slots` entry, each shaped like `spec`'s parameters, all finite.
    pub fn check(&self, spec: &Spec) -> Result<()> {
        let want = self.optimizer.method.slots();
        if self.slots.len() != want.len() {
            return Err(Error::Shape(format!(
                "optimizer {} keeps {} state tensors per parameter, got {}",
                self.optimizer.method,
                want.len(),
                self.slots.len()
            )));
        }
        for (slot, name) in self.slots.iter().zip(want) {
            slot.check_shapes(spec)
                .map_err(|e| Error::Shape(format!("optimizer state '{name}': {e}")))?;
            for (l, layer) in slot.layers.iter().enumerate() {
                for (part, values) in [("weight", &layer.w), ("bias", &layer.b)] {
                    let tensor = || format!("optim.layers.{l}.{part}.{name}");
                    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                        return Err(Error::usage(format!(
                            "the optimizer state holds a non-finite value: {}[{i}] is {}",
                            tensor(),
                            values[i]
                        )));
                    }
                    // Adam's v is a running mean of squares: a negative one would make
                    // sqrt(v̂) NaN.
                    if *name == "v"
                        && let Some(i) = values.iter().position(|&v| v < 0.0)
                    {
                        return Err(Error::usage(format!(
                            "the optimizer state holds a negative second moment: {}[{i}] is {}, but Adam's v is a running mean of squared gradients, never negative",
                            tensor(),
                            values[i]
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// How the learning rate decays over the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decay {
    /// The base rate throughout, after any warm-up (`--schedule constant`, the default).
    Constant,
    /// `lr·gamma^floor(epoch / every)` (PyTorch's StepLR, stepped once per epoch).
    Step {
        /// Epochs between decays, at least 1 (`--lr-step`).
        every: usize,
        /// Factor applied at each decay, in (0, 1] (`--lr-gamma`).
        gamma: f32,
    },
    /// `lr·½(1 + cos(π·p))`, p going from 0 at the first step after the warm-up to 1 at the
    /// end of the run (PyTorch's CosineAnnealingLR to 0, stepped once per step).
    Cosine,
}

impl Decay {
    /// The name `--schedule` takes and checkpoints store: `constant`, `step` or `cosine`.
    pub fn name(self) -> &'static str {
        match self {
            Decay::Constant => "constant",
            Decay::Step { .. } => "step",
            Decay::Cosine => "cosine",
        }
    }
}

/// A learning-rate schedule: a decay, with an optional linear warm-up over the first `warmup`
/// steps that multiplies it (step s, 0-based, gets the factor (s+1)/warmup).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// How the rate decays over the run.
    pub decay: Decay,
    /// Warm-up steps (`--warmup`), 0 for none.
    pub warmup: usize,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            decay: Decay::Constant,
            warmup: 0,
        }
    }
}

impl Schedule {
    /// A step decay every at least one epoch by a factor in (0, 1].
    pub fn validate(&self) -> Result<()> {
        if let Decay::Step { every, gamma } = self.decay {
            if every == 0 {
                return Err(Error::invalid(
                    "lr_step",
                    "must be at least 1 (epochs between decays)",
                ));
            }
            if !(gamma.is_finite() && gamma > 0.0 && gamma <= 1.0) {
                return Err(Error::invalid(
                    "lr_gamma",
                    format!("must be in (0, 1], got {gamma}"),
                ));
            }
        }
        Ok(())
    }

    /// The learning rate of step `step` (0-based, counted over the whole run, resumed parts
    /// included), which lies in epoch `epoch` (0-based), of a run of `total` steps; `base` is
    /// `--lr`. Computed in f64 and rounded once, on the host, for every path alike.
    pub fn lr(&self, base: f32, step: usize, epoch: usize, total: usize) -> f32 {
        let decay = match self.decay {
            Decay::Constant => 1.0,
            Decay::Step { every, gamma } => (gamma as f64).powf((epoch / every.max(1)) as f64),
            Decay::Cosine => {
                let start = self.warmup.min(total);
                let span = total - start;
                let p = if span == 0 {
                    0.0
                } else {
                    (step.saturating_sub(start) as f64 / span as f64).min(1.0)
                };
                0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        };
        let warm = if step < self.warmup {
            (step + 1) as f64 / self.warmup as f64
        } else {
            1.0
        };
        (base as f64 * decay * warm) as f32
    }

    /// E.g. `cosine, 100 warm-up steps`.
    pub fn describe(&self) -> String {
        let mut s = match self.decay {
            Decay::Step { every, gamma } => format!("step (×{gamma} every {every} epochs)"),
            d => d.name().to_string(),
        };
        if self.warmup > 0 {
            s += &format!(", {} warm-up steps", self.warmup);
        }
        s
    }

    /// The checkpoint metadata: `schedule`, `warmup`, and `lr_step`, `lr_gamma` for a step decay.
    pub fn to_metadata(&self, meta: &mut HashMap<String, String>) {
        meta.insert("schedule".into(), self.decay.name().into());
        meta.insert("warmup".into(), self.warmup.to_string());
        if let Decay::Step { every, gamma } = self.decay {
            meta.insert("lr_step".into(), every.to_string());
            meta.insert("lr_gamma".into(), gamma.to_string());
        }
    }

    /// Reads what `to_metadata` wrote; an error when `schedule` is missing or unknown, or the
    /// schedule is invalid.
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Schedule> {
        let decay = match meta.get("schedule").map(String::as_str) {
            Some("constant") => Decay::Constant,
            Some("cosine") => Decay::Cosine,
            Some("step") => Decay::Step {
                every: number(meta, "lr_step")?,
                gamma: number(meta, "lr_gamma")?,
            },
            Some(other) => {
                return Err(Error::usage(format!(
                    "metadata 'schedule' is {other:?}: expected constant, step or cosine"
                )));
            }
            None => return Err(Error::usage("metadata has no 'schedule'")),
        };
        let s = Schedule {
            decay,
            warmup: number(meta, "warmup")?,
        };
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests;
