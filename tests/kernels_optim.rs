//! momentum_update and adam_update (optim.wgsl) against their f64 twins: each update kernel over
//! several steps in a row (so the state carries) on awkward lengths, from zero state and from a
//! run in progress, and with grids smaller than the data.

mod common;

use common::kernels::{bytes, setup};
use common::{Tol, assert_close, uniform};
use wgtrain::cpu::reference::{self, widen};
use wgtrain::gpu::GpuContext;
use wgtrain::optim::{Method, Optimizer};
use wgtrain::testing::gpu::buffer::run_once;
use wgtrain::testing::gpu::kernels::{Kernel, Kernels, WG_1D, grid_1d};
use wgtrain::testing::gpu::uniforms::{OptimParams, StepInfo};

/// Parameters after three f32 updates against f64 ones from the same f32 start, |θ| <= 1,
/// lr <= 0.1: each update rounds a handful of terms below 1 (Adam's sqrt and divisions a few
/// ulp each on the adapter) and the state's rounding carries into the next step: ~10 roundings
/// of 2⁻²⁴ per step, three steps.
const UPDATE_STEPS: Tol = Tol {
    rtol: 0.0,
    atol: 2e-6,
};
/// Velocity and m: sums whose terms (|g| <= 1.05, μ·v up to ~3) cancel, so the error is
/// absolute: a few roundings of 2⁻²⁴·3 per step, three steps.
const FIRST_MOMENT_STEPS: Tol = Tol {
    rtol: 0.0,
    atol: 5e-7,
};
/// v: a sum of non-negative terms, so relative rounding only (a few ulp per step); v can be
/// ~1e-10, hence the tiny atol.
const SECOND_MOMENT_STEPS: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-12,
};

/// Awkward lengths and where the weights end: nothing decayed, all decayed, a boundary inside
/// a workgroup and one beyond the first.
const LENGTHS: [(usize, usize); 6] = [
    (1, 0),
    (1, 1),
    (257, 192),
    (1000, 700),
    (1000, 0),
    (1000, 1000),
];

/// The step's learning rates: a schedule changes lr between steps.
const LRS: [f32; 3] = [0.1, 0.05, 0.02];

/// The step uniform of training update `t` (1-based) at rate `lr`.
fn step_info(opt: &Optimizer, t: u64, lr: f32) -> StepInfo {
    let (bias1, bias2) = opt.bias_corrections(t);
    StepInfo {
        lr,
        t: t as u32,
        bias1,
        bias2,
        ..Default::default()
    }
}

/// One kernel case: `len` parameters of which the first `decay_end` are weights, the state
/// starting at zero (`first_t` = 1) or at plausible values of a run in progress.
struct Case {
    len: usize,
    decay_end: usize,
    first_t: u64,
    groups: Option<(u32, u32, u32)>,
    seed: u64,
}

impl Case {
    fn name(&self, opt: &Optimizer) -> String {
        format!(
            "{} len {} decay_end {} first t {} groups {:?} seed {}",
            opt.describe(),
            self.len,
            self.decay_end,
            self.first_t,
            self.groups,
            self.seed
        )
    }

    /// The parameters, and the state a run would have after `first_t - 1` updates: zero at the
    /// start, else momentum and m in ±0.1, v in [m², m² + 0.01] (v >= m² for a real run).
    fn start(&self, slots: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
        let param = uniform(self.seed, self.len, -1.0, 1.0);
        if self.first_t == 1 {
            return (param, vec![vec![0.0; self.len]; slots]);
        }
        let first = uniform(self.seed + 1, self.len, -0.1, 0.1);
        let extra = uniform(self.seed + 2, self.len, 0.0, 0.01);
        let second = first.iter().zip(&extra).map(|(m, e)| m * m + e).collect();
        (param, [first, second].into_iter().take(slots).collect())
    }

    fn grad(&self, step: usize) -> Vec<f32> {
        uniform(self.seed + 10 + step as u64, self.len, -1.0, 1.0)
    }

    fn groups(&self) -> (u32, u32, u32) {
        self.groups.unwrap_or_else(|| grid_1d(self.len, WG_1D))
    }
}

/// An f64 twin applied to (param, state..) slices, a gradient, and whether they are weights.
type Twin<'a> = dyn FnMut(&mut [&mut [f64]], &[f64], bool) + 'a;

/// Applies a twin over weights [0, decay_end) with λ (and wd) and biases after it without.
fn split_update(decay_end: usize, tensors: &mut [&mut Vec<f64>], grad: &[f64], update: &mut Twin) {
    let mut heads: Vec<&mut [f64]> = Vec::new();
    let mut tails: Vec<&mut [f64]> = Vec::new();
    for t in tensors.iter_mut() {
        let (h, tail) = t.split_at_mut(decay_end);
        heads.push(h);
        tails.push(tail);
    }
    update(&mut heads, &grad[..decay_end], true);
    update(&mut tails, &grad[decay_end..], false);
}

/// Three momentum_update launches in a row, the GPU's param and velocity fed back each time,
/// against the f64 twin carrying its own.
fn check_momentum(gpu: &(GpuContext, Kernels), nesterov: bool, c: Case) {
    let (ctx, kernels) = gpu;
    let opt = Optimizer {
        momentum: 0.9,
        ..Optimizer::new(if nesterov {
            Method::Nesterov
        } else {
            Method::Momentum
        })
    };
    let l2 = 0.05f32;
    let name = c.name(&opt);
    let (mut param, state) = c.start(1);
    let mut velocity = state[0].clone();
    let (mut want_p, mut want_v) = (widen(&param), widen(&velocity));
    for (s, &lr) in LRS.iter().enumerate() {
        let grad = c.grad(s);
        let t = c.first_t + s as u64;
        let got = run_once(
            ctx,
            kernels,
            Kernel::MomentumUpdate,
            &[bytes(&grad)],
            &[&param, &velocity],
            &OptimParams {
                len: c.len as u32,
                decay_end: c.decay_end as u32,
                l2,
                momentum: opt.momentum,
                nesterov: nesterov as u32,
                ..Default::default()
            },
            Some(step_info(&opt, t, lr)),
            c.groups(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        split_update(
            c.decay_end,
            &mut [&mut want_p, &mut want_v],
            &widen(&grad),
            &mut |ts, g, weights| {
                let [p, v] = ts else { unreachable!() };
                let lambda = if weights { l2 as f64 } else { 0.0 };
                reference::momentum_update(
                    p,
                    v,
                    g,
                    lr as f64,
                    lambda,
                    opt.momentum as f64,
                    nesterov,
                );
            },
        );
        assert_close(
            &format!("{name}: param after update t={t}"),
            &got[0],
            &want_p,
            UPDATE_STEPS,
        );
        assert_close(
            &format!("{name}: velocity after update t={t}"),
            &got[1],
            &want_v,
            FIRST_MOMENT_STEPS,
        );
        param = got[0].clone();
        velocity = got[1].clone();
    }
}

/// Three adam_update launches in a row (AdamW when `weight_decay` > 0), state fed back.
fn check_adam(gpu: &(GpuContext, Kernels), weight_decay: f32, c: Case) {
    let (ctx, kernels) = gpu;
    let opt = Optimizer {
        weight_decay,
        ..Optimizer::new(if weight_decay > 0.0 {
            Method::AdamW
        } else {
            Method::Adam
        })
    };
    let l2 = 0.05f32;
    let name = c.name(&opt);
    let (mut param, state) = c.start(2);
    let (mut m, mut v) = (state[0].clone(), state[1].clone());
    let (mut want_p, mut want_m, mut want_v) = (widen(&param), widen(&m), widen(&v));
    for (s, &lr) in LRS.iter().enumerate() {
        let grad = c.grad(s);
        let t = c.first_t + s as u64;
        let got = run_once(
            ctx,
            kernels,
            Kernel::AdamUpdate,
            &[bytes(&grad)],
            &[&param, &m, &v],
            &OptimParams {
                len: c.len as u32,
                decay_end: c.decay_end as u32,
                l2,
                weight_decay,
                beta1: opt.beta1,
                beta2: opt.beta2,
                eps: opt.eps,
                ..Default::default()
            },
            Some(step_info(&opt, t, lr)),
            c.groups(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        split_update(
            c.decay_end,
            &mut [&mut want_p, &mut want_m, &mut want_v],
            &widen(&grad),
            &mut |ts, g, weights| {
                let [p, m, v] = ts else { unreachable!() };
                let (lambda, wd) = if weights {
                    (l2 as f64, weight_decay as f64)
                } else {
                    (0.0, 0.0)
                };
                reference::adam_update(
                    p,
                    m,
                    v,
                    g,
                    lr as f64,
                    lambda,
                    wd,
                    (opt.beta1 as f64, opt.beta2 as f64),
                    opt.eps as f64,
                    t,
                );
            },
        );
        assert_close(
            &format!("{name}: param after update t={t}"),
            &got[0],
            &want_p,
            UPDATE_STEPS,
        );
        assert_close(
            &format!("{name}: m after update t={t}"),
            &got[1],
            &want_m,
            FIRST_MOMENT_STEPS,
        );
        assert_close(
            &format!("{name}: v after update t={t}"),
            &got[2],
            &want_v,
            SECOND_MOMENT_STEPS,
        );
        (param, m, v) = (got[0].clone(), got[1].clone(), got[2].clone());
    }
}

/// Every length, from zero state and from a run in progress.
fn cases(salt: u64) -> impl Iterator<Item = Case> {
    LENGTHS.into_iter().flat_map(move |(len, decay_end)| {
        [1, 8].map(|first_t| Case {
            len,
            decay_end,
            first_t,
            groups: None,
            seed: salt + 100 * len as u64 + decay_end as u64 + first_t,
        })
    })
}

/// Lengths beyond one and two workgroups' reach, with a boundary inside them.
fn grid_stride_cases(salt: u64) -> [Case; 2] {
    [
        Case {
            len: 1000,
            decay_end: 700,
            first_t: 8,
            groups: Some((1, 1, 1)),
            seed: salt + 1,
        },
        Case {
            len: 5000,
            decay_end: 4100,
            first_t: 1,
            groups: Some((2, 1, 1)),
            seed: salt + 2,
        },
    ]
}

#[test]
fn momentum_update_over_three_steps_decays_only_weights_and_matches_reference() {
    let Some(g) =
        setup("momentum_update_over_three_steps_decays_only_weights_and_matches_reference")
    else {
        return;
    };
    for c in cases(1000) {
        check_momentum(&g, false, c);
    }
}

#[test]
fn nesterov_momentum_update_over_three_steps_matches_reference() {
    let Some(g) = setup("nesterov_momentum_update_over_three_steps_matches_reference") else {
        return;
    };
    for c in cases(2000) {
        check_momentum(&g, true, c);
    }
}

#[test]
fn momentum_update_grid_stride_loop_covers_elements_beyond_the_dispatch() {
    let Some(g) = setup("momentum_update_grid_stride_loop_covers_elements_beyond_the_dispatch")
    else {
        return;
    };
    for (i, c) in grid_stride_cases(3000).into_iter().enumerate() {
        check_momentum(&g, i == 1, c);
    }
}

#[test]
fn adam_update_over_three_steps_with_bias_correction_matches_reference() {
    let Some(g) = setup("adam_update_over_three_steps_with_bias_correction_matches_reference")
    else {
        return;
    };
    for c in cases(4000) {
        check_adam(&g, 0.0, c);
    }
}

#[test]
fn adamw_update_decays_only_weights_and_matches_reference() {
    let Some(g) = setup("adamw_update_decays_only_weights_and_matches_reference") else {
        return;
    };
    for c in cases(5000) {
        check_adam(&g, 0.1, c);
    }
}

#[test]
fn adam_update_grid_stride_loop_covers_elements_beyond_the_dispatch() {
    let Some(g) = setup("adam_update_grid_stride_loop_covers_elements_beyond_the_dispatch") else {
        return;
    };
    for (i, c) in grid_stride_cases(6000).into_iter().enumerate() {
        check_adam(&g, if i == 0 { 0.0 } else { 0.1 }, c);
    }
}

// ---- whole training steps -------------------------------------------------------------------
