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
    if loss == Loss::CrossEntropy && n > 0 {
        // exp(z - max) once per element, into dz: the row maxima subtracted first, then one
        // pass over the whole block, which vectorises (a row is often only ten wide).
        for (d, o) in dz[..m * n].chunks_exact_mut(n).zip(out.chunks_exact(n)) {
            let max = o.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            d.iter_mut().zip(o).for_each(|(d, &z)| *d = z - max);
        }
        dz[..m * n]
            .iter_mut()
            .for_each(|d| *d = exp_nonpositive(*d));
    }
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
                // d holds exp(z - max) (above): p = e/Σe. The shader computes exp(z - log Σe)
                // instead, a second exp per element; the two differ by an ulp or two.
                let sum: f32 = d.iter().sum();
                let log_sum = sum.ln() + max;
                // p·Σy - y: p - y for one-hot rows (Σy is exactly 1), w·(p - y) for rows of
                // class weight w.
                let mass: f32 = t.iter().sum();
                let scale = mass / sum;
                for j in 0..n {
                    row -= t[j] * (o[j] - log_sum);
                    d[j] = (d[j] * scale - t[j]) * inv_m;
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

/// e^x for x ≤ 0 (a softmax's z - max), to f32 precision (within 2 ulp of the correctly
/// rounded value; 0 below -87.3, where e^x leaves f32's normal range): Cody-Waite reduction to
/// x = n·ln2 + r, |r| ≤ ln2/2, then e^r by its degree-6 minimax polynomial (Cephes' expf) and
/// 2^n from the exponent bits. Branch-free, so a row's worth vectorises, where libm's expf is
/// a call per element. NaN stays NaN.
#[inline]
pub(super) fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding and subtracting it rounds to the nearest integer (x ≥ -126 here).
    const ROUND: f32 = 12_582_912.0;
    let under = x < -87.33;
    let x = if under { -87.33 } else { x };
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    // n's two's complement sits in t's low mantissa bits: 2^n = (n + 127) << 23, integer ops
    // only (a float-to-int cast saturates, which costs more than the rest).
    let n_bits = t.to_bits().wrapping_sub(ROUND.to_bits());
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    if under { 0.0 } else { e * scale }
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
    let Some(&first) = v.first() else { return 0 };
    let (mut best, mut top) = (0, first);
    for (i, &x) in v.iter().enumerate().skip(1) {
        if x > top {
            (best, top) = (i, x);
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

#[cfg(test)]
mod tests {
    use super::exp_nonpositive;

    /// Distance in ulps between two finite non-negative f32s.
    fn ulps(a: f32, b: f32) -> u32 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn exp_nonpositive_is_within_two_ulp_of_the_rounded_value() {
        let mut worst = (0, 0.0);
        let mut x = 0.0f32;
        // Every 1/4096 from 0 down to -87.3, and the ends.
        while x > -87.3 {
            let want = (x as f64).exp() as f32;
            let d = ulps(exp_nonpositive(x), want);
            if d > worst.0 {
                worst = (d, x);
            }
            x -= 1.0 / 4096.0;
        }
        assert!(worst.0 <= 2, "{} ulp at x = {}", worst.0, worst.1);
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-0.0), 1.0);
        assert_eq!(exp_nonpositive(-100.0), 0.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }
}
