//! `trace`: every number of a few training steps of a small network, in one notation, in f64,
//! each gradient beside its central finite difference, and the same quantities from the paths
//! that train (the fast CPU path, the GPU path) with their largest difference to the reference.
//!
//! The notation (layers l = 1..L, m rows per step, W^\[l\] stored (n_l, n_{l-1}) as the
//! notebooks write it):
//! ```text
//! a^[0] = X                                   (m, n_0)   the step's input rows
//! z^[l] = a^[l-1]·W^[l]ᵀ + b^[l]              (m, n_l)
//! a^[l] = g_l(z^[l])                          (m, n_l)   g_L: the output (softmax, sigmoid, linear)
//! E     = (1/m) Σ_i loss(a^[L]_i, y_i) + λ Σ_l ‖W^[l]‖²   data term + L2 term
//! δ^[l] = ∂E/∂z^[l]                           (m, n_l)   δ^[L] from the loss (p - y fused)
//! δ^[l] = (δ^[l+1]·W^[l+1]) ∘ g_l'(z^[l])
//! ∂E/∂W^[l] = δ^[l]ᵀ·a^[l-1] + 2λW^[l],  ∂E/∂b^[l] = Σ_i δ^[l]_i
//! ```
//! The numbers come from `cpu::reference` (its forward, loss, backward and update functions);
//! the finite differences perturb one value at a time and evaluate E afresh in f64.
//!
//! Past 600 lines because the public record types (each field documented, as `--json` keys)
//! live beside the one step that fills them; the paths, input files and output are elsewhere.

mod case;
mod compare;
pub mod input;
mod matrix;
mod render;

use serde::{Deserialize, Serialize};

use crate::cpu::reference::{self, Net64, State64};
use crate::error::{Error, Result, check_non_negative, check_positive};
use crate::model::{Activation, Loss, Output, Spec};
use crate::optim::Optimizer;

pub use case::{Network, Purpose, Source, Start, build_case, build_case_for};
pub(crate) use compare::dataset;
pub use compare::{PathChoice, PathLayer, PathSlot, PathStep};
pub use matrix::Matrix;
pub use render::{Format, NOTATION, number, render};

/// Most parameters `trace` computes in full: a central difference costs two forward passes per
/// parameter, so the work grows with the square of the network.
pub const MAX_PARAMS: usize = 20_000;
/// Most rows one step may hold.
pub const MAX_ROWS: usize = 1024;

/// What to trace: a network, its starting parameters and the rows it trains on, all f64.
#[derive(Clone, Debug)]
pub struct Case {
    /// The architecture.
    pub spec: Spec,
    /// The starting parameters (`Net64` stores W as (fan_in, fan_out), the transpose of W^\[l\]).
    pub net: Net64,
    /// Input rows, (n, inputs) row-major.
    pub x: Vec<f64>,
    /// Dense targets, (n, outputs) row-major: one-hot rows for cross-entropy.
    pub y: Vec<f64>,
    /// Rows.
    pub n: usize,
}

impl Case {
    /// Checks that the parts fit: the spec, the parameters' shapes, x (n, inputs) and y
    /// (n, outputs), every number finite.
    pub fn check(&self) -> Result<()> {
        let spec = &self.spec;
        spec.check()?;
        if self.net.w.len() != self.net.b.len() {
            return Err(Error::Shape(format!(
                "the parameters hold {} weight matrices and {} bias vectors: one of each per layer",
                self.net.w.len(),
                self.net.b.len()
            )));
        }
        self.net.to_params().check_shapes(spec)?;
        if self.n == 0 {
            return Err(Error::invalid("rows", "must hold at least one row"));
        }
        let values = |width: usize| {
            self.n.checked_mul(width).ok_or_else(|| {
                Error::Shape(format!(
                    "{} rows of {width} values overflow the address space",
                    self.n
                ))
            })
        };
        if self.x.len() != values(spec.inputs())? {
            return Err(Error::Shape(format!(
                "{} input values for {} rows of {} inputs",
                self.x.len(),
                self.n,
                spec.inputs()
            )));
        }
        if self.y.len() != values(spec.outputs())? {
            return Err(Error::Shape(format!(
                "{} target values for {} rows of {} outputs",
                self.y.len(),
                self.n,
                spec.outputs()
            )));
        }
        let params = self.net.w.iter().chain(&self.net.b).flatten();
        if let Some(v) = self
            .x
            .iter()
            .chain(&self.y)
            .chain(params)
            .find(|v| !v.is_finite())
        {
            return Err(Error::usage(format!(
                "the rows and parameters must be finite, got {v}"
            )));
        }
        Ok(())
    }
}

/// How to train the traced steps. The learning rate is constant, and step s (0-based) takes
/// rows `s·batch ..` in order, wrapping around (no shuffle), so the steps are reproducible.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Steps to trace, at least 1.
    pub steps: usize,
    /// Rows per step, at least 1 (the case's rows when larger).
    pub batch: usize,
    /// The learning rate, in f64 (the f32 paths get it rounded).
    pub lr: f64,
    /// λ of the L2 term λ‖W‖² (weights only).
    pub l2: f64,
    /// The update rule.
    pub optimizer: Optimizer,
    /// Relative step of the central differences: h = `fd_step`·max(1, |θ|).
    pub fd_step: f64,
}

impl Default for Settings {
    /// One step of plain SGD, lr 0.1, all rows, no L2 term, h = 1e-6.
    fn default() -> Settings {
        Settings {
            steps: 1,
            batch: usize::MAX,
            lr: 0.1,
            l2: 0.0,
            optimizer: Optimizer::default(),
            fd_step: 1e-6,
        }
    }
}

impl Settings {
    /// Every value in range; an error naming the first that is not.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            return Err(Error::invalid("steps", "must be at least 1"));
        }
        if self.steps > 10_000 {
            return Err(Error::invalid("steps", "must be at most 10000"));
        }
        if self.batch == 0 {
            return Err(Error::invalid("batch", "must be at least 1"));
        }
        check_positive("lr", self.lr)?;
        check_non_negative("l2", self.l2)?;
        if !(self.fd_step.is_finite() && self.fd_step > 0.0 && self.fd_step < 1.0) {
            return Err(Error::invalid(
                "fd_step",
                format!("must be in (0, 1), got {}", self.fd_step),
            ));
        }
        self.optimizer.validate()
    }
}

/// An analytic gradient beside its central finite difference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checked {
    /// The analytic value (backpropagation in f64).
    pub analytic: Matrix,
    /// `(E(θ + h) - E(θ - h)) / 2h` per element.
    pub finite_difference: Matrix,
    /// `|analytic - fd| / max(|analytic|, |fd|)` per element, 0 where both are 0.
    pub rel_diff: Matrix,
    /// The largest of `rel_diff`.
    pub max_rel_diff: f64,
}

impl Checked {
    fn new(analytic: Matrix, finite_difference: Matrix) -> Checked {
        let rel: Vec<f64> = analytic
            .data
            .iter()
            .zip(&finite_difference.data)
            .map(|(&a, &f)| rel_diff(a, f))
            .collect();
        let max_rel_diff = rel.iter().cloned().fold(0.0, f64::max);
        let rel_diff = Matrix::new(analytic.rows, analytic.cols, rel);
        Checked {
            analytic,
            finite_difference,
            rel_diff,
            max_rel_diff,
        }
    }
}

/// `|a - b| / max(|a|, |b|)`, 0 when both are 0.
pub fn rel_diff(a: f64, b: f64) -> f64 {
    let scale = a.abs().max(b.abs());
    if scale == 0.0 {
        0.0
    } else {
        (a - b).abs() / scale
    }
}

/// One optimiser state tensor of a layer after the update (`v` of momentum; Adam's `m`, `v`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// The checkpoint name: `momentum`, `m` or `v`.
    pub name: String,
    /// Its value for W^\[l\], (n_l, n_{l-1}).
    pub w: Matrix,
    /// Its value for b^\[l\], (1, n_l).
    pub b: Matrix,
}

/// Everything about layer l in one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStep {
    /// l, 1-based: layer 1 takes the inputs.
    pub layer: usize,
    /// g_l: the hidden activation, or the output (`softmax`, `sigmoid`, `linear`).
    pub activation: String,
    /// W^\[l\] before the update, (n_l, n_{l-1}).
    pub w: Matrix,
    /// b^\[l\] before the update, (1, n_l).
    pub b: Matrix,
    /// a^\[l-1\], the layer's input, (m, n_{l-1}).
    pub a_prev: Matrix,
    /// z^\[l\] = a^\[l-1\]·W^\[l\]ᵀ + b^\[l\], (m, n_l).
    pub z: Matrix,
    /// a^\[l\] = g_l(z^\[l\]), (m, n_l).
    pub a: Matrix,
    /// δ^\[l\] = ∂E/∂z^\[l\], (m, n_l), beside its finite difference (z^\[l\] perturbed).
    pub delta: Checked,
    /// ∂E/∂W^\[l\], (n_l, n_{l-1}), the L2 term 2λW^\[l\] included.
    pub dw: Checked,
    /// ∂E/∂b^\[l\], (1, n_l).
    pub db: Checked,
    /// The optimiser's state after the update (empty for SGD).
    pub state: Vec<Slot>,
    /// W^\[l\] after minus before the update.
    pub step_w: Matrix,
    /// b^\[l\] after minus before the update.
    pub step_b: Matrix,
    /// W^\[l\] after the update.
    pub new_w: Matrix,
    /// b^\[l\] after the update.
    pub new_b: Matrix,
}

/// The objective E of a step, in parts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossParts {
    /// (1/m) Σ_i loss(a^\[L\]_i, y_i).
    pub data: f64,
    /// λ Σ_l ‖W^\[l\]‖².
    pub l2: f64,
    /// data + l2.
    pub total: f64,
}

/// One traced step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// s, 1-based.
    pub step: usize,
    /// The rows it trained on, 0-based indices into the case's rows.
    pub rows: Vec<usize>,
    /// The targets y of those rows, (m, n_L), dense.
    pub y: Matrix,
    /// E before the update.
    pub loss: LossParts,
    /// How δ^\[L\] follows from the loss, e.g. `δ^[L] = (p - y)/m (softmax and cross-entropy fused)`.
    pub output_delta: String,
    /// Adam's update count t and bias corrections (1 - β1^t, 1 - β2^t); None for other rules.
    pub bias_corrections: Option<(u64, f64, f64)>,
    /// Per layer, 1 to L.
    pub layers: Vec<LayerStep>,
    /// The same step on each path that trains, against these numbers.
    pub paths: Vec<PathStep>,
}

/// A whole trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The network, e.g. `2-2(linear)-2 sigmoid/mse`.
    pub network: String,
    /// Layer sizes n_0 .. n_L.
    pub sizes: Vec<usize>,
    /// The loss's name.
    pub loss: String,
    /// The update rule, e.g. `sgd` or `adam (β1 0.9, β2 0.999, eps 1e-8)`.
    pub optimizer: String,
    /// The learning rate.
    pub lr: f64,
    /// λ.
    pub l2: f64,
    /// The relative step of the finite differences.
    pub fd_step: f64,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Paths asked for that could not run (no adapter), each with the reason.
    pub skipped: Vec<String>,
}

/// Refuses a network of more than `MAX_PARAMS` parameters (`build_case_for` asks before it
/// allocates them).
pub fn check_size(spec: &Spec) -> Result<()> {
    if spec.n_params() > MAX_PARAMS {
        return Err(Error::invalid(
            "hidden",
            format!(
                "gives {} ({} parameters); trace computes a finite difference for every parameter and prints them all, so it takes at most {MAX_PARAMS}: use narrower layers, or gradcheck, which checks a sample of each layer's parameters (up to its own bound on work)",
                spec.describe(),
                spec.n_params()
            ),
        ));
    }
    Ok(())
}

/// Traces `settings.steps` steps of `case` on the f64 reference, and on each of `paths`.
/// A GPU path whose adapter cannot be opened is noted in `Trace::skipped`, not an error.
pub fn trace(case: &Case, settings: &Settings, paths: &[PathChoice]) -> Result<Trace> {
    case.check()?;
    settings.validate()?;
    check_size(&case.spec)?;
    let spec = &case.spec;
    let m = settings.batch.min(case.n);
    if m > MAX_ROWS {
        return Err(Error::invalid(
            "batch",
            format!("gives {m} rows per step; trace prints every row and takes at most {MAX_ROWS}"),
        ));
    }
    let (mut runners, skipped) = compare::open(case, settings, m, paths)?;
    let mut net = case.net.clone();
    let mut state = State64::new(&settings.optimizer, &net);
    let mut steps = Vec::with_capacity(settings.steps);
    for s in 0..settings.steps {
        let rows: Vec<usize> = (0..m).map(|i| (s * m + i) % case.n).collect();
        let x = pick(&case.x, &rows, spec.inputs());
        let y = pick(&case.y, &rows, spec.outputs());
        let mut step = one_step(spec, &mut net, &mut state, &x, &y, m, settings)?;
        step.step = s + 1;
        step.y = Matrix::new(m, spec.outputs(), y);
        for r in &mut runners {
            step.paths.push(r.step(&rows, &step, settings)?);
        }
        step.rows = rows;
        steps.push(step);
    }
    Ok(Trace {
        network: spec.describe(),
        sizes: spec.sizes.clone(),
        loss: spec.loss.to_string(),
        optimizer: settings.optimizer.describe(),
        lr: settings.lr,
        l2: settings.l2,
        fd_step: settings.fd_step,
        steps,
        skipped,
    })
}

/// The rows `rows` of a (n, w) matrix.
fn pick(all: &[f64], rows: &[usize], w: usize) -> Vec<f64> {
    rows.iter()
        .flat_map(|&r| all[r * w..][..w].to_vec())
        .collect()
}

/// g_l's name for layer l (0-based): the hidden activation, or the output.
fn activation_name(spec: &Spec, l: usize) -> String {
    if l + 1 < spec.n_layers() {
        spec.hidden[l].to_string()
    } else {
        spec.output.to_string()
    }
}

/// a^\[L\] from the reference's last output `z`: softmax and the bce sigmoid are fused into the
/// loss on every path, so there the reference's forward stops at the logits and g_L is applied
/// here; mse's sigmoid and a linear output are applied already.
fn output_activation(spec: &Spec, z: &[f64], m: usize) -> Vec<f64> {
    let n = spec.outputs();
    match spec.output {
        _ if spec.layer_activation(spec.n_layers() - 1) != Activation::Linear => z.to_vec(),
        Output::Linear => z.to_vec(),
        Output::Sigmoid => z
            .iter()
            .map(|&v| reference::activation_forward(Activation::Sigmoid, v))
            .collect(),
        Output::Softmax => {
            let mut p = vec![0.0; m * n];
            for (row, out) in z.chunks(n).zip(p.chunks_mut(n)) {
                let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = row.iter().map(|&v| (v - max).exp()).sum();
                for (o, &v) in out.iter_mut().zip(row) {
                    *o = (v - max).exp() / sum;
                }
            }
            p
        }
    }
}

/// How δ^\[L\] follows from the loss and output.
fn output_delta_formula(spec: &Spec) -> String {
    match (spec.loss, spec.output) {
        (Loss::CrossEntropy, _) => {
            "δ^[L] = (p - y)/m, p = softmax(z^[L]): softmax and cross-entropy fused".into()
        }
        (Loss::Bce, _) => "δ^[L] = (σ(z^[L]) - y)/m: sigmoid and binary cross-entropy fused".into(),
        (Loss::Mse, Output::Sigmoid) => {
            "δ^[L] = (a^[L] - y) ∘ a^[L](1 - a^[L]) / m: loss ½‖a - y‖² through the sigmoid".into()
        }
        (Loss::Mse, _) => "δ^[L] = (a^[L] - y)/m: loss ½‖a - y‖², linear output".into(),
    }
}

/// z^\[l\] for every layer, and the outputs of every layer as the reference's forward gives them
/// (`acts[l]` is a^\[l\], with the logits for a fused last layer).
fn forward_z(spec: &Spec, net: &Net64, x: &[f64], m: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let acts = reference::forward(spec, net, x, m);
    let zs = (0..spec.n_layers())
        .map(|l| {
            let (k, n) = spec.layer_shape(l);
            let mut z = vec![0.0; m * n];
            let lin = Activation::Linear;
            reference::matmul_forward(&mut z, &acts[l], &net.w[l], &net.b[l], m, k, n, lin);
            z
        })
        .collect();
    (zs, acts)
}

/// E from layer l's pre-activation z on (layers l.. of the network), for the finite
/// differences of δ^\[l\].
fn objective_from_z(
    spec: &Spec,
    net: &Net64,
    l: usize,
    z: &[f64],
    y: &[f64],
    m: usize,
    l2: f64,
) -> f64 {
    let mut a: Vec<f64> = z
        .iter()
        .map(|&v| reference::activation_forward(spec.layer_activation(l), v))
        .collect();
    for j in l + 1..spec.n_layers() {
        let (k, n) = spec.layer_shape(j);
        let mut out = vec![0.0; m * n];
        let act = spec.layer_activation(j);
        reference::matmul_forward(&mut out, &a, &net.w[j], &net.b[j], m, k, n, act);
        a = out;
    }
    let last = spec.n_layers() - 1;
    let sigmoid_out = spec.layer_activation(last) == Activation::Sigmoid;
    let mut dz = vec![0.0; a.len()];
    let n = spec.outputs();
    reference::loss_forward_backward(&mut dz, &a, y, m, n, spec.loss, sigmoid_out) / m as f64
        + net.l2_penalty(l2)
}

/// The central difference of `f` at `v[i]` with a step relative to the value.
fn central(v: &mut [f64], i: usize, rel_h: f64, mut f: impl FnMut(&[f64]) -> f64) -> f64 {
    let x0 = v[i];
    let h = rel_h * x0.abs().max(1.0);
    v[i] = x0 + h;
    let up = f(v);
    v[i] = x0 - h;
    let down = f(v);
    v[i] = x0;
    (up - down) / (2.0 * h)
}

/// Every δ^\[l\] of the batch: `deltas[l]` is (m, n_l), the gradient of E on z^\[l\].
fn backward(spec: &Spec, net: &Net64, acts: &[Vec<f64>], y: &[f64], m: usize) -> Vec<Vec<f64>> {
    let last = spec.n_layers() - 1;
    let n_out = spec.outputs();
    let mut dz = vec![0.0; m * n_out];
    let sigmoid_out = spec.layer_activation(last) == Activation::Sigmoid;
    reference::loss_forward_backward(
        &mut dz,
        &acts[last + 1],
        y,
        m,
        n_out,
        spec.loss,
        sigmoid_out,
    );
    let mut deltas = vec![Vec::new(); spec.n_layers()];
    for l in (0..spec.n_layers()).rev() {
        if l > 0 {
            let (k, n) = spec.layer_shape(l);
            let mut dx = vec![0.0; m * k];
            let act = spec.layer_activation(l - 1);
            reference::matmul_backward_input(&mut dx, &dz, &net.w[l], &acts[l], m, k, n, act);
            deltas[l] = std::mem::replace(&mut dz, dx);
        } else {
            deltas[0] = std::mem::take(&mut dz);
        }
    }
    deltas
}

/// The step's rows: inputs x (m, inputs) and targets y (m, outputs).
struct Batch<'a> {
    x: &'a [f64],
    y: &'a [f64],
    m: usize,
}

/// The reference's forward and backward of one step, before the update.
struct Pass {
    /// z^\[l\] per layer.
    zs: Vec<Vec<f64>>,
    /// The outputs of every layer, as `forward_z` gives them.
    acts: Vec<Vec<f64>>,
    /// δ^\[l\] per layer.
    deltas: Vec<Vec<f64>>,
}

/// One step on the reference: forward, loss, backward with finite differences, update.
fn one_step(
    spec: &Spec,
    net: &mut Net64,
    state: &mut State64,
    x: &[f64],
    y: &[f64],
    m: usize,
    st: &Settings,
) -> Result<Step> {
    let batch = Batch { x, y, m };
    let (zs, acts) = forward_z(spec, net, x, m);
    let data = reference::objective(spec, net, x, y, m, 0.0);
    let l2 = net.l2_penalty(st.l2);
    let deltas = backward(spec, net, &acts, y, m);
    let pass = Pass { zs, acts, deltas };
    let mut layers: Vec<LayerStep> = (0..spec.n_layers())
        .map(|l| layer_before_update(spec, net, &batch, &pass, st, l))
        .collect();
    let old = net.clone();
    let opt = &st.optimizer;
    reference::optimizer_step(spec, net, state, x, y, m, st.lr, st.l2, opt);
    if !net.w.iter().chain(&net.b).flatten().all(|v| v.is_finite()) {
        return Err(Error::Diverged(format!(
            "the update of step {} made a parameter non-finite: use a lower learning rate",
            state.step
        )));
    }
    record_update(spec, net, &old, state, st, &mut layers);
    Ok(Step {
        step: 0,
        rows: Vec::new(),
        y: Matrix::new(0, 0, Vec::new()),
        loss: LossParts {
            data,
            l2,
            total: data + l2,
        },
        output_delta: output_delta_formula(spec),
        bias_corrections: bias_corrections(st, state),
        layers,
        paths: Vec::new(),
    })
}

/// Layer l's step up to the update: its parameters, forward values, and δ, ∂E/∂W, ∂E/∂b each
/// beside its finite difference (the update's fields left empty for `record_update`).
fn layer_before_update(
    spec: &Spec,
    net: &Net64,
    batch: &Batch,
    pass: &Pass,
    st: &Settings,
    l: usize,
) -> LayerStep {
    let (k, n) = spec.layer_shape(l);
    let (acts, zs, m) = (&pass.acts, &pass.zs, batch.m);
    let (dw, db) = param_gradients(spec, net, pass, m, st, l);
    let (fd_w, fd_b) = param_differences(spec, net, batch, st, l);
    let fd_delta = delta_difference(spec, net, batch, &zs[l], st, l);
    let a = if l == spec.n_layers() - 1 {
        output_activation(spec, &acts[l + 1], m)
    } else {
        acts[l + 1].clone()
    };
    LayerStep {
        layer: l + 1,
        activation: activation_name(spec, l),
        w: Matrix::transposed(k, n, &net.w[l]),
        b: Matrix::row(&net.b[l]),
        a_prev: Matrix::new(m, k, acts[l].clone()),
        z: Matrix::new(m, n, zs[l].clone()),
        a: Matrix::new(m, n, a),
        delta: Checked::new(
            Matrix::new(m, n, pass.deltas[l].clone()),
            Matrix::new(m, n, fd_delta),
        ),
        dw: Checked::new(
            Matrix::transposed(k, n, &dw),
            Matrix::transposed(k, n, &fd_w),
        ),
        db: Checked::new(Matrix::row(&db), Matrix::row(&fd_b)),
        state: Vec::new(),
        step_w: Matrix::new(0, 0, Vec::new()),
        step_b: Matrix::new(0, 0, Vec::new()),
        new_w: Matrix::new(0, 0, Vec::new()),
        new_b: Matrix::new(0, 0, Vec::new()),
    }
}

/// ∂E/∂W (fan_in, fan_out), the L2 term included, and ∂E/∂b of layer l from δ.
fn param_gradients(
    spec: &Spec,
    net: &Net64,
    pass: &Pass,
    m: usize,
    st: &Settings,
    l: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (k, n) = spec.layer_shape(l);
    let mut dw = vec![0.0; k * n];
    reference::matmul_backward_weight(&mut dw, &pass.acts[l], &pass.deltas[l], m, k, n);
    for (g, w) in dw.iter_mut().zip(&net.w[l]) {
        *g += 2.0 * st.l2 * w;
    }
    let mut db = vec![0.0; n];
    reference::bias_backward(&mut db, &pass.deltas[l], m, n);
    (dw, db)
}

/// The central differences of E at every weight and every bias of layer l.
fn param_differences(
    spec: &Spec,
    net: &Net64,
    batch: &Batch,
    st: &Settings,
    l: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (k, n) = spec.layer_shape(l);
    let Batch { x, y, m } = *batch;
    let mut probe = net.clone();
    let fd_w: Vec<f64> = (0..k * n)
        .map(|i| {
            let mut w = std::mem::take(&mut probe.w[l]);
            let g = central(&mut w, i, st.fd_step, |w| {
                let mut p = probe.clone();
                p.w[l] = w.to_vec();
                reference::objective(spec, &p, x, y, m, st.l2)
            });
            probe.w[l] = w;
            g
        })
        .collect();
    let fd_b: Vec<f64> = (0..n)
        .map(|i| {
            let mut b = std::mem::take(&mut probe.b[l]);
            let g = central(&mut b, i, st.fd_step, |b| {
                let mut p = probe.clone();
                p.b[l] = b.to_vec();
                reference::objective(spec, &p, x, y, m, st.l2)
            });
            probe.b[l] = b;
            g
        })
        .collect();
    (fd_w, fd_b)
}

/// The central differences of E at every element of z^\[l\] (`z`): δ^\[l\]'s check.
fn delta_difference(
    spec: &Spec,
    net: &Net64,
    batch: &Batch,
    z: &[f64],
    st: &Settings,
    l: usize,
) -> Vec<f64> {
    let (_, n) = spec.layer_shape(l);
    let Batch { y, m, .. } = *batch;
    let mut z = z.to_vec();
    (0..m * n)
        .map(|i| {
            central(&mut z, i, st.fd_step, |z| {
                objective_from_z(spec, net, l, z, y, m, st.l2)
            })
        })
        .collect()
}

/// Fills each layer's update fields: the step taken (new minus `old`), the new parameters and
/// the optimiser's state after the update.
fn record_update(
    spec: &Spec,
    net: &Net64,
    old: &Net64,
    state: &State64,
    st: &Settings,
    layers: &mut [LayerStep],
) {
    let names = st.optimizer.method.slots();
    for (l, layer) in layers.iter_mut().enumerate() {
        let (k, n) = spec.layer_shape(l);
        let diff = |new: &[f64], old: &[f64]| -> Vec<f64> {
            new.iter().zip(old).map(|(a, b)| a - b).collect()
        };
        layer.step_w = Matrix::transposed(k, n, &diff(&net.w[l], &old.w[l]));
        layer.step_b = Matrix::row(&diff(&net.b[l], &old.b[l]));
        layer.new_w = Matrix::transposed(k, n, &net.w[l]);
        layer.new_b = Matrix::row(&net.b[l]);
        layer.state = names
            .iter()
            .zip(&state.slots)
            .map(|(name, s)| Slot {
                name: name.to_string(),
                w: Matrix::transposed(k, n, &s.w[l]),
                b: Matrix::row(&s.b[l]),
            })
            .collect();
    }
}

/// Adam's update count t and bias corrections (1 - β1^t, 1 - β2^t) after the update; None for
/// other rules.
fn bias_corrections(st: &Settings, state: &State64) -> Option<(u64, f64, f64)> {
    st.optimizer.method.is_adam().then(|| {
        let t = state.step;
        let c = |beta: f32| 1.0 - (beta as f64).powf(t as f64);
        (t, c(st.optimizer.beta1), c(st.optimizer.beta2))
    })
}
