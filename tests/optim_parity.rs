//! The optimisers against their f64 twins: each update kernel over several steps in a row (so
//! the state carries) on awkward lengths, and two epochs of whole training steps on the GPU and
//! the fast CPU path against `reference::optimizer_step`, for every optimiser.

mod common;

use bytemuck::Pod;
use common::{NETWORK, Tol, assert_close, gpu, parameters, uniform};
use wgtrain::cpu::fast::CpuTrainer;
use wgtrain::cpu::reference::{self, Net64, State64, widen};
use wgtrain::data::{Dataset, Targets};
use wgtrain::gpu::buffer::run_once;
use wgtrain::gpu::kernels::{Kernel, Kernels, WG_1D, grid_1d};
use wgtrain::gpu::tuning;
use wgtrain::gpu::uniforms::{OptimParams, StepInfo};
use wgtrain::gpu::{GpuContext, GpuTrainer};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::optim::{Method, OptimState, Optimizer};
use wgtrain::rng::Rng;
use wgtrain::train::{Backend, Hyper};

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

fn setup(test: &str) -> Option<(GpuContext, Kernels)> {
    let ctx = gpu(test)?;
    let kernels =
        Kernels::new(&ctx, tuning::rule(&ctx.info)).unwrap_or_else(|e| panic!("{test}: {e}"));
    Some((ctx, kernels))
}

fn bytes<T: Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

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

/// Every optimiser with non-default values where they matter, and its base learning rate.
fn optimizers() -> [(Optimizer, f32); 5] {
    let with = |method, f: fn(&mut Optimizer)| {
        let mut o = Optimizer::new(method);
        f(&mut o);
        o
    };
    [
        (Optimizer::new(Method::Sgd), 0.5),
        (with(Method::Momentum, |o| o.momentum = 0.8), 0.2),
        (with(Method::Nesterov, |o| o.momentum = 0.9), 0.1),
        (with(Method::Adam, |o| o.beta1 = 0.8), 0.01),
        (with(Method::AdamW, |o| o.weight_decay = 0.5), 0.01),
    ]
}

/// Two networks: ReLU into softmax over widths that miss the 64-wide tile, and tanh into a
/// sigmoid mse head.
fn networks() -> [Spec; 2] {
    [
        Spec::new(
            vec![17, 65, 3, 10],
            vec![Activation::Relu, Activation::LeakyRelu],
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap(),
        Spec::new(
            vec![5, 7, 2],
            vec![Activation::Tanh],
            Output::Sigmoid,
            Loss::Mse,
        )
        .unwrap(),
    ]
}

/// `n` rows in [-1, 1] with class labels (cross-entropy) or targets in [0, 1].
fn dataset(spec: &Spec, n: usize, seed: u64) -> (Dataset, Vec<f32>) {
    let (dim, width) = (spec.inputs(), spec.outputs());
    let x = uniform(seed, n * dim, -1.0, 1.0);
    let targets = if spec.loss == Loss::CrossEntropy {
        let mut rng = Rng::new(seed + 1);
        Targets::Classes {
            labels: (0..n).map(|_| rng.below(width) as u32).collect(),
            n_classes: width,
        }
    } else {
        Targets::Values {
            values: uniform(seed + 1, n * width, 0.0, 1.0),
            width,
        }
    };
    (
        Dataset::new("optim parity", x.clone(), n, dim, targets).unwrap(),
        x,
    )
}

fn take_rows(all: &[f32], width: usize, rows: &[u32]) -> Vec<f64> {
    rows.iter()
        .flat_map(|&r| widen(&all[r as usize * width..(r as usize + 1) * width]))
        .collect()
}

/// Rows, batch: epochs of three steps of 37, 37 and 16 rows (a partial last batch).
const ROWS: usize = 90;
const BATCH: usize = 37;

/// Six steps (two epochs of three, shuffled, a different lr each) with λ > 0 on `backend`,
/// from `params` and a fresh `opt`; losses, parameters, optimiser state and step count against
/// `reference::optimizer_step` run on the same batches.
fn check_steps(
    name: &str,
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    x: &[f32],
    (opt, lr): (Optimizer, f32),
    backend: &mut dyn Backend,
) {
    let hp = Hyper {
        lr,
        l2: 0.01,
        batch: BATCH,
        epochs: 1,
        seed: 0,
    };
    // Two epochs, each its own call: the update count must carry from one call to the next.
    let mut perms = Vec::new();
    let mut perm: Vec<u32> = (0..ROWS as u32).collect();
    let mut rng = Rng::new(7);
    for _ in 0..2 {
        rng.shuffle(&mut perm);
        perms.push(perm.clone());
    }
    let lrs = [[lr, 0.5 * lr, 0.25 * lr], [0.2 * lr, 0.1 * lr, 0.05 * lr]];
    backend
        .set_optimizer(&OptimState::new(opt, spec))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut losses = Vec::new();
    for (perm, lrs) in perms.iter().zip(&lrs) {
        losses.extend(
            backend
                .train_steps(perm, &hp, lrs, &wgtrain::train::StopToken::new())
                .unwrap_or_else(|e| panic!("{name}: {e}")),
        );
    }
    let after = backend.params().unwrap_or_else(|e| panic!("{name}: {e}"));
    let state = backend
        .optimizer_state()
        .unwrap_or_else(|e| panic!("{name}: {e}"));

    let y = data.dense_targets();
    let mut net = Net64::from_params(params);
    let mut want_state = State64::new(&opt, &net);
    let mut want_losses = Vec::new();
    for (perm, lrs) in perms.iter().zip(&lrs) {
        for (rows, &lr) in perm.chunks(BATCH).zip(lrs) {
            let xs = take_rows(x, spec.inputs(), rows);
            let ys = take_rows(&y, spec.outputs(), rows);
            want_losses.push(reference::optimizer_step(
                spec,
                &mut net,
                &mut want_state,
                &xs,
                &ys,
                rows.len(),
                lr as f64,
                hp.l2 as f64,
                &opt,
            ));
        }
    }
    assert_close(
        &format!("{name}: batch losses"),
        &losses,
        &want_losses,
        NETWORK,
    );
    assert_eq!(state.step, 6, "{name}: optimizer step count");
    assert_eq!(state.optimizer, opt, "{name}: optimizer");
    assert_eq!(
        state.slots.len(),
        opt.method.slots().len(),
        "{name}: state slots"
    );
    for (l, layer) in after.layers.iter().enumerate() {
        assert_close(
            &format!("{name}: layer {l} W"),
            &layer.w,
            &net.w[l],
            NETWORK,
        );
        assert_close(
            &format!("{name}: layer {l} b"),
            &layer.b,
            &net.b[l],
            NETWORK,
        );
        for (k, slot) in opt.method.slots().iter().enumerate() {
            let got = &state.slots[k].layers[l];
            let want = &want_state.slots[k];
            assert_close(
                &format!("{name}: layer {l} W {slot}"),
                &got.w,
                &want.w[l],
                NETWORK,
            );
            assert_close(
                &format!("{name}: layer {l} b {slot}"),
                &got.b,
                &want.b[l],
                NETWORK,
            );
        }
    }
}

#[test]
fn two_epochs_of_every_optimizer_on_fast_cpu_match_reference() {
    for (i, spec) in networks().iter().enumerate() {
        for (j, opt) in optimizers().into_iter().enumerate() {
            let seed = 7000 + 10 * i as u64 + j as u64;
            let params = parameters(spec, seed);
            let (data, x) = dataset(spec, ROWS, seed);
            // Two threads split the batch's 37 rows by rows, three by each GEMM's larger side.
            for threads in [1, 2, 3] {
                let mut t = CpuTrainer::new(spec, params.clone(), &data, None, BATCH)
                    .and_then(|t| t.with_threads(threads))
                    .unwrap();
                let name = format!(
                    "fast cpu {threads} threads {} {} seed {seed}",
                    spec.describe(),
                    opt.0.describe()
                );
                check_steps(&name, spec, &params, &data, &x, opt, &mut t);
            }
        }
    }
}

#[test]
fn two_epochs_of_every_optimizer_on_gpu_match_reference() {
    let test = "two_epochs_of_every_optimizer_on_gpu_match_reference";
    for (i, spec) in networks().iter().enumerate() {
        for (j, opt) in optimizers().into_iter().enumerate() {
            let seed = 8000 + 10 * i as u64 + j as u64;
            let params = parameters(spec, seed);
            let (data, x) = dataset(spec, ROWS, seed);
            let Some(ctx) = gpu(test) else {
                return;
            };
            let mut t = GpuTrainer::new(ctx, spec, &params, &data, None, BATCH)
                .unwrap_or_else(|e| panic!("{test}: {e}"));
            let name = format!("gpu {} {} seed {seed}", spec.describe(), opt.0.describe());
            check_steps(&name, spec, &params, &data, &x, opt, &mut t);
        }
    }
}

/// A state set on a backend reads back unchanged (what a checkpoint saves is what runs).
#[test]
fn optimizer_state_set_on_gpu_and_cpu_reads_back_bit_for_bit() {
    let test = "optimizer_state_set_on_gpu_and_cpu_reads_back_bit_for_bit";
    let spec = &networks()[0];
    let params = parameters(spec, 9000);
    let (data, _) = dataset(spec, ROWS, 9000);
    let mut state = OptimState::new(Optimizer::new(Method::AdamW), spec);
    state.step = 12345;
    for (k, slot) in state.slots.iter_mut().enumerate() {
        for (l, layer) in slot.layers.iter_mut().enumerate() {
            let seed = 9100 + 10 * k as u64 + l as u64;
            layer.w = uniform(seed, layer.w.len(), 0.0, 1.0);
            layer.b = uniform(seed + 5, layer.b.len(), 0.0, 1.0);
        }
    }
    let mut cpu = CpuTrainer::new(spec, params.clone(), &data, None, BATCH).unwrap();
    cpu.set_optimizer(&state).unwrap();
    assert_eq!(cpu.optimizer_state().unwrap(), state, "fast cpu");
    let Some(ctx) = gpu(test) else {
        return;
    };
    let mut g = GpuTrainer::new(ctx, spec, &params, &data, None, BATCH).unwrap();
    g.set_optimizer(&state).unwrap();
    assert_eq!(g.optimizer_state().unwrap(), state, "gpu");
}
