//! The paths that train (fast CPU, GPU) run the traced steps on their own, in f32; each step
//! reads back their loss, gradients, new parameters and optimiser state beside the reference's.

use serde::{Deserialize, Serialize};

use super::{Case, Matrix, Settings, Step};
use crate::config::GpuOptions;
use crate::cpu::fast::CpuTrainer;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::gpu::GpuTrainer;
use crate::model::{Params, Spec};
use crate::optim::OptimState;
use crate::train::{Backend, Hyper, StopToken};

/// A path to run beside the reference.
#[derive(Clone, Debug)]
pub enum PathChoice {
    /// The fast CPU path (f32, gemm).
    Cpu,
    /// The GPU path on the adapter these options open.
    Gpu(GpuOptions),
}

/// One state tensor of a path's optimiser after the update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathSlot {
    /// `momentum`, `m` or `v`.
    pub name: String,
    /// For W^\[l\], (n_l, n_{l-1}).
    pub w: Matrix,
    /// For b^\[l\], (1, n_l).
    pub b: Matrix,
}

/// A path's numbers for layer l of one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathLayer {
    /// l, 1-based.
    pub layer: usize,
    /// The layer's output from the path's forward pass, (rows, n_l): a^\[l\], or for an output
    /// layer whose activation the paths fuse into the loss (softmax; sigmoid under bce)
    /// z^\[L\], compared with the reference's z^\[L\] then.
    pub a: Matrix,
    /// `a` holds z^\[l\]: the path fuses this layer's activation into the loss.
    pub a_is_z: bool,
    /// ∂E/∂W^\[l\] from the path (its data gradient, plus 2λW^\[l\] of its own weights in f64).
    pub dw: Matrix,
    /// ∂E/∂b^\[l\].
    pub db: Matrix,
    /// W^\[l\] after the path's update.
    pub new_w: Matrix,
    /// b^\[l\] after the path's update.
    pub new_b: Matrix,
    /// The path's optimiser state after the update.
    pub state: Vec<PathSlot>,
    /// The largest |path - reference| over this layer's gradients, new parameters and state.
    pub max_abs_diff: f64,
}

/// One step as a path computed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathStep {
    /// `cpu` or `gpu`.
    pub name: String,
    /// The path and device, e.g. `cpu (f32, gemm)`.
    pub path: String,
    /// The data term of E, from the path's forward pass.
    pub loss: f64,
    /// Per layer, 1 to L.
    pub layers: Vec<PathLayer>,
    /// The largest |path - reference| of the step: loss, gradients, parameters, state.
    pub max_abs_diff: f64,
    /// Where that difference is, e.g. `layer 2 ∂E/∂W[2,1]` (1-based, row = unit).
    pub worst: String,
}

/// A path's trainer, fed the traced rows step by step.
pub(super) struct Runner {
    name: &'static str,
    backend: Box<dyn Backend>,
    spec: Spec,
}

/// Opens each path of `paths` on the case's rows; a GPU path that cannot open an adapter is
/// returned as a skipped note instead.
pub(super) fn open(
    case: &Case,
    st: &Settings,
    m: usize,
    paths: &[PathChoice],
) -> Result<(Vec<Runner>, Vec<String>)> {
    let spec = &case.spec;
    let params = case.net.to_params();
    let data = dataset(case)?;
    let state = OptimState::new(st.optimizer, spec);
    let (mut runners, mut skipped) = (Vec::new(), Vec::new());
    for p in paths {
        let (name, mut backend): (_, Box<dyn Backend>) = match p {
            PathChoice::Cpu => (
                "cpu",
                Box::new(CpuTrainer::new(spec, params.clone(), &data, None, m)?),
            ),
            PathChoice::Gpu(opts) => match opts.open() {
                Ok(ctx) => (
                    "gpu",
                    Box::new(GpuTrainer::new(ctx, spec, &params, &data, None, m)?),
                ),
                Err(e @ Error::NoAdapter(_)) => {
                    skipped.push(format!("gpu path: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        backend.set_optimizer(&state)?;
        runners.push(Runner {
            name,
            backend,
            spec: spec.clone(),
        });
    }
    Ok((runners, skipped))
}

/// The case's rows as the paths read them: f32 inputs, dense f32 targets.
pub(crate) fn dataset(case: &Case) -> Result<Dataset> {
    let x = case.x.iter().map(|&v| v as f32).collect();
    let values = case.y.iter().map(|&v| v as f32).collect();
    let width = case.spec.outputs();
    Dataset::new(
        "trace",
        x,
        case.n,
        case.spec.inputs(),
        Targets::Values { values, width },
    )
}

/// Tracks the largest difference and where it is.
struct Worst {
    diff: f64,
    at: String,
}

impl Worst {
    fn see(&mut self, got: &Matrix, want: &Matrix, what: &str) -> f64 {
        let mut layer_max = 0.0f64;
        for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
            let d = (g - w).abs();
            let d = if d.is_nan() { f64::INFINITY } else { d };
            layer_max = layer_max.max(d);
            if d > self.diff || (self.at.is_empty() && d >= self.diff) {
                self.diff = d;
                let cols = want.cols.max(1);
                self.at = format!("{what}[{},{}]", i / cols + 1, i % cols + 1);
            }
        }
        layer_max
    }
}

impl Runner {
    /// Trains the step on `rows` and reads back what it computed, against `reference`.
    pub(super) fn step(
        &mut self,
        rows: &[usize],
        reference: &Step,
        st: &Settings,
    ) -> Result<PathStep> {
        let spec = &self.spec;
        let rows32: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
        let before = self.backend.params()?;
        let (loss, grads) = self.backend.gradients(&rows32)?;
        let acts = self.backend.activations()?;
        let hp = Hyper {
            lr: st.lr as f32,
            l2: st.l2 as f32,
            batch: rows.len(),
            epochs: 1,
            seed: 0,
        };
        self.backend
            .train_steps(&rows32, &hp, &[hp.lr], &StopToken::new())?;
        let after = self.backend.params()?;
        let state = self.backend.optimizer_state()?;
        let mut worst = Worst {
            diff: (loss - reference.loss.data).abs(),
            at: "loss".into(),
        };
        let mut layers = Vec::with_capacity(spec.n_layers());
        for (l, want) in reference.layers.iter().enumerate() {
            let (k, n) = spec.layer_shape(l);
            let t = |v: &[f32]| Matrix::transposed(k, n, &widen(v));
            let dw_data: Vec<f64> = grads.layers[l]
                .w
                .iter()
                .zip(&before.layers[l].w)
                .map(|(&g, &w)| g as f64 + 2.0 * st.l2 * w as f64)
                .collect();
            // The paths apply the output layer's activation in the loss where they fuse it
            // (softmax; sigmoid under bce): that layer's kernel then writes z.
            let logits = l + 1 == spec.n_layers()
                && spec.output != crate::model::Output::Linear
                && spec.layer_activation(l) == crate::model::Activation::Linear;
            let mut layer = PathLayer {
                layer: l + 1,
                a: Matrix::new(rows.len(), n, widen(&acts[l])),
                a_is_z: logits,
                dw: Matrix::transposed(k, n, &dw_data),
                db: Matrix::row(&widen(&grads.layers[l].b)),
                new_w: t(&after.layers[l].w),
                new_b: Matrix::row(&widen(&after.layers[l].b)),
                state: slots(&state, l, k, n),
                max_abs_diff: 0.0,
            };
            let name = |q: &str| format!("layer {} {q}", l + 1);
            let (want_a, a_name) = if logits {
                (&want.z, "z")
            } else {
                (&want.a, "a")
            };
            let mut d = worst.see(&layer.a, want_a, &name(a_name));
            d = d.max(worst.see(&layer.dw, &want.dw.analytic, &name("∂E/∂W")));
            d = d.max(worst.see(&layer.db, &want.db.analytic, &name("∂E/∂b")));
            d = d.max(worst.see(&layer.new_w, &want.new_w, &name("new W")));
            d = d.max(worst.see(&layer.new_b, &want.new_b, &name("new b")));
            for (got, want) in layer.state.iter().zip(&want.state) {
                d = d.max(worst.see(&got.w, &want.w, &name(&format!("{} (W)", got.name))));
                d = d.max(worst.see(&got.b, &want.b, &name(&format!("{} (b)", got.name))));
            }
            layer.max_abs_diff = d;
            layers.push(layer);
        }
        Ok(PathStep {
            name: self.name.into(),
            path: self.backend.describe(),
            loss,
            layers,
            max_abs_diff: worst.diff,
            worst: worst.at,
        })
    }
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Layer l's tensors of each optimiser slot.
fn slots(state: &OptimState, l: usize, k: usize, n: usize) -> Vec<PathSlot> {
    let names = state.optimizer.method.slots();
    names
        .iter()
        .zip(&state.slots)
        .map(|(name, p): (&&str, &Params)| PathSlot {
            name: name.to_string(),
            w: Matrix::transposed(k, n, &widen(&p.layers[l].w)),
            b: Matrix::row(&widen(&p.layers[l].b)),
        })
        .collect()
}
