//! The reference path: every op in f64, written to be obviously correct, named as the shader
//! entry points are. The tests prove the GPU and the fast CPU path against it.

use crate::model::{Activation, Loss, Params, Spec};
use crate::optim::{Method, Optimizer};

/// `act(z)`.
pub fn activation_forward(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Linear => z,
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Tanh => z.tanh(),
        Activation::LeakyRelu => {
            if z > 0.0 {
                z
            } else {
                0.01 * z
            }
        }
    }
}

/// `act'(z)` written in terms of the output `a = act(z)`.
pub fn activation_backward(act: Activation, a: f64) -> f64 {
    match act {
        Activation::Linear => 1.0,
        Activation::Relu => {
            if a > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Sigmoid => a * (1.0 - a),
        Activation::Tanh => 1.0 - a * a,
        Activation::LeakyRelu => {
            if a > 0.0 {
                1.0
            } else {
                0.01
            }
        }
    }
}

/// out = act(x·w + b). x is (m, k), w is (k, n), b is (n), out is (m, n).
pub fn matmul_forward(
    out: &mut [f64],
    x: &[f64],
    w: &[f64],
    b: &[f64],
    m: usize,
    k: usize,
    n: usize,
    act: Activation,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = b[j];
            for p in 0..k {
                s += x[i * k + p] * w[p * n + j];
            }
            out[i * n + j] = activation_forward(act, s);
        }
    }
}

/// dw = xᵀ·dz. x is (m, k), dz is (m, n), dw is (k, n). Overwrites dw.
pub fn matmul_backward_weight(dw: &mut [f64], x: &[f64], dz: &[f64], m: usize, k: usize, n: usize) {
    for p in 0..k {
        for j in 0..n {
            let mut s = 0.0;
            for i in 0..m {
                s += x[i * k + p] * dz[i * n + j];
            }
            dw[p * n + j] = s;
        }
    }
}

/// db = Σ_rows dz. dz is (m, n), db is (n). Overwrites db.
pub fn bias_backward(db: &mut [f64], dz: &[f64], m: usize, n: usize) {
    for (j, d) in db.iter_mut().enumerate() {
        *d = (0..m).map(|i| dz[i * n + j]).sum();
    }
}

/// dx = (dz·wᵀ) ∘ act'(a), the gradient on the previous layer's pre-activation.
/// dz is (m, n), w is (k, n), a (the previous layer's output) is (m, k), dx is (m, k).
pub fn matmul_backward_input(
    dx: &mut [f64],
    dz: &[f64],
    w: &[f64],
    a: &[f64],
    m: usize,
    k: usize,
    n: usize,
    act: Activation,
) {
    for i in 0..m {
        for p in 0..k {
            let mut s = 0.0;
            for j in 0..n {
                s += dz[i * n + j] * w[p * n + j];
            }
            dx[i * k + p] = s * activation_backward(act, a[i * k + p]);
        }
    }
}

/// Per-sample loss and the gradient on the last layer's pre-activation, for a batch of m rows of
/// width n. `out` holds the last matmul's output after `Spec::layer_activation` (logits for
/// softmax and bce, outputs for mse), `y` the dense targets (for cross-entropy a one-hot row
/// times the row's class weight, or any non-negative row). `dz` gets the gradient of the batch
/// mean loss (already divided by m); returns the summed (not averaged) loss of the m samples.
pub fn loss_forward_backward(
    dz: &mut [f64],
    out: &[f64],
    y: &[f64],
    m: usize,
    n: usize,
    loss: Loss,
    sigmoid_output: bool,
) -> f64 {
    let mut total = 0.0;
    for i in 0..m {
        let o = &out[i * n..(i + 1) * n];
        let t = &y[i * n..(i + 1) * n];
        let d = &mut dz[i * n..(i + 1) * n];
        match loss {
            Loss::CrossEntropy => {
                let max = o.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = o.iter().map(|&z| (z - max).exp()).sum();
                // log p_j = (z_j - max) - ln sum, the max never added back: at logits of 1e30,
                // max + ln 2 rounds to max and the loss of a tie would read 0, not ln 2.
                let log_sum = sum.ln();
                // ∂/∂z_j of -Σ_k y_k log p_k is p_j·Σ_k y_k - y_j: p - y for a one-hot row,
                // w·(p - y) for a class-weighted one (w·one-hot).
                let mass: f64 = t.iter().sum();
                for j in 0..n {
                    let log_p = (o[j] - max) - log_sum;
                    total -= t[j] * log_p;
                    d[j] = (log_p.exp() * mass - t[j]) / m as f64;
                }
            }
            Loss::Bce => {
                for j in 0..n {
                    let z = o[j];
                    total += z.max(0.0) - z * t[j] + (-z.abs()).exp().ln_1p();
                    d[j] = (activation_forward(Activation::Sigmoid, z) - t[j]) / m as f64;
                }
            }
            Loss::Mse => {
                for j in 0..n {
                    let e = o[j] - t[j];
                    total += 0.5 * e * e;
                    let da = if sigmoid_output {
                        o[j] * (1.0 - o[j])
                    } else {
                        1.0
                    };
                    d[j] = e * da / m as f64;
                }
            }
        }
    }
    total
}

/// θ -= lr·(dθ + 2λθ). Pass λ = 0 for biases.
pub fn sgd_update(param: &mut [f64], grad: &[f64], lr: f64, l2: f64) {
    for (p, g) in param.iter_mut().zip(grad) {
        *p -= lr * (g + 2.0 * l2 * *p);
    }
}

/// Heavy-ball momentum, PyTorch's SGD with dampening 0, for one tensor:
/// `g = dθ + 2λθ;  v = μ·v + g;  θ -= lr·v`, or with `nesterov` `θ -= lr·(g + μ·v)` (the new
/// v). v starts at zero, so the first update is plain SGD's. Pass λ = 0 for biases.
pub fn momentum_update(
    param: &mut [f64],
    velocity: &mut [f64],
    grad: &[f64],
    lr: f64,
    l2: f64,
    momentum: f64,
    nesterov: bool,
) {
    for ((p, v), dp) in param.iter_mut().zip(velocity.iter_mut()).zip(grad) {
        let g = dp + 2.0 * l2 * *p;
        *v = momentum * *v + g;
        *p -= lr * if nesterov { g + momentum * *v } else { *v };
    }
}

/// Adam, PyTorch's (bias-corrected), update number `t` (1-based), for one tensor:
/// `g = dθ + 2λθ;  θ *= 1 - lr·wd` (AdamW's decoupled decay, taken from θ before the step;
/// wd = 0 is Adam), `m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
/// θ -= lr·m̂ / (sqrt(v̂) + eps)` with `m̂ = m / (1-β1^t)`, `v̂ = v / (1-β2^t)`.
/// m and v start at zero. Pass λ = wd = 0 for biases.
pub fn adam_update(
    param: &mut [f64],
    m: &mut [f64],
    v: &mut [f64],
    grad: &[f64],
    lr: f64,
    l2: f64,
    weight_decay: f64,
    (beta1, beta2): (f64, f64),
    eps: f64,
    t: u64,
) {
    let bias1 = 1.0 - beta1.powf(t as f64);
    let bias2 = 1.0 - beta2.powf(t as f64);
    for (((p, m), v), dp) in param
        .iter_mut()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(grad)
    {
        let g = dp + 2.0 * l2 * *p;
        *p *= 1.0 - lr * weight_decay;
        *m = beta1 * *m + (1.0 - beta1) * g;
        *v = beta2 * *v + (1.0 - beta2) * g * g;
        *p -= lr * (*m / bias1) / ((*v / bias2).sqrt() + eps);
    }
}

/// All parameters in f64, layer by layer; weights (fan_in, fan_out).
#[derive(Clone, Debug)]
pub struct Net64 {
    /// Weights per layer, layer l (fan_in, fan_out) row-major.
    pub w: Vec<Vec<f64>>,
    /// Biases per layer, layer l (fan_out).
    pub b: Vec<Vec<f64>>,
}

impl Net64 {
    /// `p` widened to f64, exactly.
    pub fn from_params(p: &Params) -> Net64 {
        Net64 {
            w: p.layers.iter().map(|l| widen(&l.w)).collect(),
            b: p.layers.iter().map(|l| widen(&l.b)).collect(),
        }
    }

    /// The parameters rounded to f32 (round to nearest).
    pub fn to_params(&self) -> Params {
        Params {
            layers: self
                .w
                .iter()
                .zip(&self.b)
                .map(|(w, b)| crate::model::Layer {
                    w: w.iter().map(|&v| v as f32).collect(),
                    b: b.iter().map(|&v| v as f32).collect(),
                })
                .collect(),
        }
    }

    /// λ‖W‖² over all weights (biases are not decayed).
    pub fn l2_penalty(&self, l2: f64) -> f64 {
        l2 * self.w.iter().flatten().map(|v| v * v).sum::<f64>()
    }
}

/// `v` widened to f64, exactly.
pub fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// The outputs of every layer for a batch x of m rows: `acts[0]` is x, `acts[l+1]` layer l's.
pub fn forward(spec: &Spec, net: &Net64, x: &[f64], m: usize) -> Vec<Vec<f64>> {
    let mut acts = vec![x.to_vec()];
    for l in 0..spec.n_layers() {
        let (k, n) = spec.layer_shape(l);
        let mut out = vec![0.0; m * n];
        matmul_forward(
            &mut out,
            &acts[l],
            &net.w[l],
            &net.b[l],
            m,
            k,
            n,
            spec.layer_activation(l),
        );
        acts.push(out);
    }
    acts
}

/// The batch objective `mean loss + λ‖W‖²` and its gradient with respect to every parameter.
/// x is (m, inputs), y is (m, outputs) dense targets.
pub fn gradients(
    spec: &Spec,
    net: &Net64,
    x: &[f64],
    y: &[f64],
    m: usize,
    l2: f64,
) -> (f64, Net64) {
    let acts = forward(spec, net, x, m);
    let last = spec.n_layers() - 1;
    let n_out = spec.outputs();
    let mut dz = vec![0.0; m * n_out];
    let sigmoid_out = spec.layer_activation(last) == Activation::Sigmoid;
    let loss_sum = loss_forward_backward(
        &mut dz,
        &acts[last + 1],
        y,
        m,
        n_out,
        spec.loss,
        sigmoid_out,
    );
    let mut grads = Net64 {
        w: net.w.iter().map(|w| vec![0.0; w.len()]).collect(),
        b: net.b.iter().map(|b| vec![0.0; b.len()]).collect(),
    };
    for l in (0..spec.n_layers()).rev() {
        let (k, n) = spec.layer_shape(l);
        matmul_backward_weight(&mut grads.w[l], &acts[l], &dz, m, k, n);
        bias_backward(&mut grads.b[l], &dz, m, n);
        for (g, w) in grads.w[l].iter_mut().zip(&net.w[l]) {
            *g += 2.0 * l2 * w;
        }
        if l > 0 {
            let mut dx = vec![0.0; m * k];
            matmul_backward_input(
                &mut dx,
                &dz,
                &net.w[l],
                &acts[l],
                m,
                k,
                n,
                spec.layer_activation(l - 1),
            );
            dz = dx;
        }
    }
    (loss_sum / m as f64 + net.l2_penalty(l2), grads)
}

/// The objective alone (for finite differences).
pub fn objective(spec: &Spec, net: &Net64, x: &[f64], y: &[f64], m: usize, l2: f64) -> f64 {
    let acts = forward(spec, net, x, m);
    let last = spec.n_layers() - 1;
    let n_out = spec.outputs();
    let mut dz = vec![0.0; m * n_out];
    let sigmoid_out = spec.layer_activation(last) == Activation::Sigmoid;
    loss_forward_backward(
        &mut dz,
        &acts[last + 1],
        y,
        m,
        n_out,
        spec.loss,
        sigmoid_out,
    ) / m as f64
        + net.l2_penalty(l2)
}

/// An optimiser's state in f64: the updates done and one network-shaped tensor set per slot
/// of `Method::slots` (velocity; Adam's m and v).
#[derive(Clone, Debug)]
pub struct State64 {
    /// Updates done so far; the next one is Adam's t = `step + 1`.
    pub step: u64,
    /// One network-shaped set per `Method::slots` entry, in that order; empty for SGD.
    pub slots: Vec<Net64>,
}

impl State64 {
    /// Zero state of `opt` for networks shaped like `net`.
    pub fn new(opt: &Optimizer, net: &Net64) -> State64 {
        let zeros = Net64 {
            w: net.w.iter().map(|w| vec![0.0; w.len()]).collect(),
            b: net.b.iter().map(|b| vec![0.0; b.len()]).collect(),
        };
        State64 {
            step: 0,
            slots: vec![zeros; opt.method.slots().len()],
        }
    }
}

/// Layer l's weights or biases.
fn tensor(n: &mut Net64, l: usize, weights: bool) -> &mut Vec<f64> {
    if weights { &mut n.w[l] } else { &mut n.b[l] }
}

/// One step of `opt` on the batch, with λ on the weights only and AdamW's decay on the weights
/// only: returns the batch's mean data loss before the update.
pub fn optimizer_step(
    spec: &Spec,
    net: &mut Net64,
    state: &mut State64,
    x: &[f64],
    y: &[f64],
    m: usize,
    lr: f64,
    l2: f64,
    opt: &Optimizer,
) -> f64 {
    let (data_loss, g) = gradients(spec, net, x, y, m, 0.0);
    state.step += 1;
    let mu = opt.momentum as f64;
    let betas = (opt.beta1 as f64, opt.beta2 as f64);
    for l in 0..spec.n_layers() {
        for weights in [true, false] {
            let (p, dp, l2, wd) = if weights {
                (&mut net.w[l], &g.w[l], l2, opt.weight_decay as f64)
            } else {
                (&mut net.b[l], &g.b[l], 0.0, 0.0)
            };
            match opt.method {
                Method::Sgd => sgd_update(p, dp, lr, l2),
                Method::Momentum | Method::Nesterov => momentum_update(
                    p,
                    tensor(&mut state.slots[0], l, weights),
                    dp,
                    lr,
                    l2,
                    mu,
                    opt.method == Method::Nesterov,
                ),
                Method::Adam | Method::AdamW => {
                    let (ms, vs) = state.slots.split_at_mut(1);
                    adam_update(
                        p,
                        tensor(&mut ms[0], l, weights),
                        tensor(&mut vs[0], l, weights),
                        dp,
                        lr,
                        l2,
                        wd,
                        betas,
                        opt.eps as f64,
                        state.step,
                    )
                }
            }
        }
    }
    data_loss
}

/// One SGD step on the batch: returns the batch's mean data loss before the update.
pub fn train_step(
    spec: &Spec,
    net: &mut Net64,
    x: &[f64],
    y: &[f64],
    m: usize,
    lr: f64,
    l2: f64,
) -> f64 {
    let (obj, g) = gradients(spec, net, x, y, m, 0.0);
    let data_loss = obj;
    for l in 0..spec.n_layers() {
        sgd_update(&mut net.w[l], &g.w[l], lr, l2);
        sgd_update(&mut net.b[l], &g.b[l], lr, 0.0);
    }
    data_loss
}
