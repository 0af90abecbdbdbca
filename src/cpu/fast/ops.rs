//! The fast path's f32 ops, each the twin of a `cpu::reference` function in the shader's order
//! of operations: activations, `matmul_forward` with bias and activation, the loss, the
//! optimisers' updates, argmax, and the transpose that keeps Wᵀ in step with W.

use super::gemm::sgemm;
use crate::model::{Activation, Loss};
use crate::optim::{Method, Optimizer};

#[inline]
pub(super) fn activation_forward(act: Activation, z: f32) -> f32 {
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

#[inline]
pub(super) fn activation_backward(act: Activation, a: f32) -> f32 {
    match act {
        Activation::Linear => 1.0,
        Activation::Relu => (a > 0.0) as u32 as f32,
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

/// out = act(x·w + b): x (m, k), w (k, n), b (n), out (m, n).
pub fn matmul_forward(
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    act: Activation,
) {
    sgemm(m, k, n, 1.0, (x, k, 1), (w, n, 1), 0.0, out);
    for row in out[..m * n].chunks_exact_mut(n) {
        bias_activation(row, b, act);
    }
}

/// o = act(o + b), elementwise.
pub(super) fn bias_activation(o: &mut [f32], b: &[f32], act: Activation) {
    match act {
        Activation::Linear => o.iter_mut().zip(b).for_each(|(o, &bb)| *o += bb),
        Activation::Relu => o
            .iter_mut()
            .zip(b)
            .for_each(|(o, &bb)| *o = (*o + bb).max(0.0)),
        _ => o
            .iter_mut()
            .zip(b)
            .for_each(|(o, &bb)| *o = activation_forward(act, *o + bb)),
    }
}

/// Writes the per-row loss gradient (times `inv_m`, one over the batch's rows) into dz and
/// returns the summed loss and the number of rows whose argmax matches the target's. out and y
/// are (m, n).
pub(super) fn loss_forward_backward(
    dz: &mut [f32],
    out: &[f32],
    y: &[f32],
    (m, n): (usize, usize),
    inv_m: f32,
    loss: Loss,
    sigmoid_out: bool,
) -> (f64, usize) {
    let mut total = 0.0f64;
    let mut correct = 0;
    for i in 0..m {
        let o = &out[i * n..(i + 1) * n];
        let t = &y[i * n..(i + 1) * n];
        let d = &mut dz[i * n..(i + 1) * n];
        if argmax(o) == argmax(t) {
            correct += 1;
        }
        let mut row = 0.0f32;
        match loss {
            Loss::CrossEntropy => {
                let max = o.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = o.iter().map(|&z| (z - max).exp()).sum();
                let log_sum = sum.ln() + max;
                // p·Σy - y: p - y for one-hot rows (Σy is exactly 1), w·(p - y) for rows of
                // class weight w.
                let mass: f32 = t.iter().sum();
                for j in 0..n {
                    row -= t[j] * (o[j] - log_sum);
                    d[j] = ((o[j] - log_sum).exp() * mass - t[j]) * inv_m;
                }
            }
            Loss::Bce => {
                for j in 0..n {
                    let z = o[j];
                    row += z.max(0.0) - z * t[j] + (-z.abs()).exp().ln_1p();
                    d[j] = (activation_forward(Activation::Sigmoid, z) - t[j]) * inv_m;
                }
            }
            Loss::Mse => {
                for j in 0..n {
                    let e = o[j] - t[j];
                    row += 0.5 * e * e;
                    let da = if sigmoid_out {
                        o[j] * (1.0 - o[j])
                    } else {
                        1.0
                    };
                    d[j] = e * da * inv_m;
                }
            }
        }
        total += row as f64;
    }
    (total, correct)
}

/// `v = μ·v + g;  θ -= lr·v`, or `θ -= lr·(g + μ·v)` with `nesterov`; `grad` already holds the
/// 2λθ term. The f32 twin of `reference::momentum_update`, in the shader's operation order.
pub(super) fn momentum_update(
    param: &mut [f32],
    velocity: &mut [f32],
    grad: &[f32],
    lr: f32,
    mu: f32,
    nesterov: bool,
) {
    for ((p, v), &g) in param.iter_mut().zip(velocity.iter_mut()).zip(grad) {
        let nv = mu * *v + g;
        *v = nv;
        let d = if nesterov { g + mu * nv } else { nv };
        *p -= lr * d;
    }
}

/// Adam's update with the bias corrections `(1-β1^t, 1-β2^t)` and AdamW's decay `wd` (0 for
/// biases and Adam); `grad` already holds the 2λθ term. The f32 twin of
/// `reference::adam_update`, in the shader's operation order.
pub(super) fn adam_update(
    param: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grad: &[f32],
    lr: f32,
    wd: f32,
    opt: &Optimizer,
    (bias1, bias2): (f32, f32),
) {
    let (b1, b2, eps) = (opt.beta1, opt.beta2, opt.eps);
    let step_size = lr / bias1;
    let bias2_sqrt = bias2.sqrt();
    let decay = 1.0 - lr * wd;
    for (((p, m), v), &g) in param
        .iter_mut()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(grad)
    {
        let q = if wd != 0.0 { *p * decay } else { *p };
        let mi = b1 * *m + (1.0 - b1) * g;
        let vi = b2 * *v + (1.0 - b2) * (g * g);
        *m = mi;
        *v = vi;
        *p = q - step_size * (mi / (vi.sqrt() / bias2_sqrt + eps));
    }
}

/// Index of the first largest value.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Writes `rows`, rows r0.. of a (k, n) matrix w, as columns r0.. of `wt`, its (n, k)
/// transpose, in blocks of 16 columns of w so the 16 rows of `wt` being written stay in cache.
///
/// # Safety
/// `wt` addresses n·k floats, and nothing else touches the columns written meanwhile.
pub(super) unsafe fn transpose_rows(rows: &[f32], (k, n): (usize, usize), r0: usize, wt: *mut f32) {
    let r1 = r0 + rows.len() / n.max(1);
    assert!(rows.len() == (r1 - r0) * n && r1 <= k);
    for j0 in (0..n).step_by(16) {
        let j1 = (j0 + 16).min(n);
        for i in r0..r1 {
            let row = &rows[(i - r0) * n + j0..(i - r0) * n + j1];
            for (j, &v) in (j0..j1).zip(row) {
                // SAFETY: j < n and i < k, so j·k + i < n·k (the caller's contract).
                unsafe { *wt.add(j * k + i) = v };
            }
        }
    }
}

/// The optimiser's update of one part of a tensor from its gradient; `s0`, `s1` are the same
/// part of its state slots (empty where the method has fewer).
pub(super) fn optimize(
    opt: &Optimizer,
    lr: f32,
    bias: (f32, f32),
    wd: f32,
    p: &mut [f32],
    g: &[f32],
    s0: &mut [f32],
    s1: &mut [f32],
) {
    match opt.method {
        // Not reached (plain SGD takes the fused path), but correct.
        Method::Sgd => p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g),
        Method::Momentum | Method::Nesterov => {
            momentum_update(p, s0, g, lr, opt.momentum, opt.method == Method::Nesterov)
        }
        Method::Adam | Method::AdamW => adam_update(p, s0, s1, g, lr, wd, opt, bias),
    }
}
