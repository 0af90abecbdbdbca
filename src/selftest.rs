//! `wgtrain selftest`: the checks to run first on a new adapter. On the GPU: every matmul kernel
//! in every variant, unsplit and split K with its reduction, and the loss kernel on both of its
//! paths, on awkward shapes, against the f64 reference; whole-network gradients (gather, loss and
//! matmuls together, unsplit and split) against it; short
//! training runs with SGD, momentum and Adam (their update kernels) against the CPU path. On the
//! CPU: the fast path's gradients and training against the reference.
//!
//! One file because it is one list of checks with the shapes, tolerances and reporting they
//! share; each check is a function of a few dozen lines.

use crate::blocking::block;
use crate::config::GpuOptions;
use crate::cpu::fast::CpuTrainer;
use crate::cpu::reference::{self, Net64, widen};
use crate::data::{Dataset, Inputs, Targets};
use crate::error::Result;
use crate::gpu::buffer::{run_once_async, run_split_once_async};
use crate::gpu::kernels::{KSplit, Kernel, Kernels, MatmulVariant, SLICE_ALIGN, loss_groups};
use crate::gpu::tuning::{MatmulConfig, Setting, SplitK};
use crate::gpu::uniforms::{LossParams, MatmulParams};
use crate::gpu::{GpuContext, GpuTrainer};
use crate::model::{Activation, Loss, Output, Params, Spec};
use crate::optim::{Method, OptimState, Optimizer};
use crate::rng::Rng;
use crate::train::{Backend, Hyper};

/// `|got - want| <= atol + rtol * |want|` elementwise.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

/// f32 matmul against f64 accumulation, K <= 1024: rounding grows like sqrt(K)·eps·|terms|.
const MATMUL: Tol = Tol {
    rtol: 1e-4,
    atol: 1e-5,
};
/// exp/log and sigmoid: the adapter's transcendental functions differ from libm by a few ulp.
const TRANSCENDENTAL: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-6,
};
/// Whole-network f32 gradients against f64: errors compound through every layer.
const NETWORK: Tol = Tol {
    rtol: 1e-3,
    atol: 1e-5,
};
/// Per-step losses of two f32 paths: different summation orders, amplified a little by training.
const PATHS_AGREE: Tol = Tol {
    rtol: 2e-3,
    atol: 1e-5,
};

/// Shapes (M, K, N): below one tile, spilling into a further tile, exact tiles, long and thin.
const SHAPES: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (7, 13, 5),
    (33, 65, 17),
    (65, 17, 129),
    (128, 32, 64),
    (1000, 3, 2),
    (3, 2, 1000),
    (1, 1024, 1),
];

/// Shapes (M, K, N) whose k sum is split (split K): below a tile, spilling into further tiles,
/// one output over a long sum, long and thin, k not a multiple of 16.
const SPLIT_SHAPES: [(usize, usize, usize); 5] = [
    (7, 100, 5),
    (33, 65, 17),
    (65, 200, 129),
    (1, 1024, 1),
    (130, 777, 3),
];

/// One check's outcome: the worst element's error and that error as a share of its tolerance
/// (at most 1 to pass), how many values were compared, and whether any was not finite.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was checked, and on which variant or path.
    pub name: String,
    /// How many values were compared.
    pub values: usize,
    /// The largest |got - want| relative to its tolerance, as an absolute error.
    pub worst_error: f64,
    /// That error as a share of its tolerance, `atol + rtol * |want|`.
    pub worst_share: f64,
    /// Values that were NaN or infinite, or missing.
    pub non_finite: usize,
    /// The tolerance every value was held to.
    pub tol: Tol,
}

impl Check {
    fn new(name: impl Into<String>, tol: Tol) -> Check {
        Check {
            name: name.into(),
            values: 0,
            worst_error: 0.0,
            worst_share: 0.0,
            non_finite: 0,
            tol,
        }
    }

    /// Some values compared, all finite and within tolerance.
    pub fn passed(&self) -> bool {
        self.values > 0 && self.non_finite == 0 && self.worst_share <= 1.0
    }

    fn compare<G: Copy + Into<f64>, W: Copy + Into<f64>>(&mut self, got: &[G], want: &[W]) {
        if got.len() != want.len() {
            self.non_finite += got.len().abs_diff(want.len()).max(1);
        }
        for (&g, &w) in got.iter().zip(want) {
            let (g, w): (f64, f64) = (g.into(), w.into());
            self.values += 1;
            if !g.is_finite() || !w.is_finite() {
                self.non_finite += 1;
                continue;
            }
            let err = (g - w).abs();
            let share = err / (self.tol.atol + self.tol.rtol * w.abs());
            if share > self.worst_share {
                (self.worst_share, self.worst_error) = (share, err);
            }
        }
    }

    /// `ok   name   worst error 1.2e-7 (0.03 of rtol 1e-4 + atol 1e-5), 1234 values`.
    pub fn line(&self) -> String {
        let verdict = if self.passed() { "ok  " } else { "FAIL" };
        let finite = if self.non_finite > 0 {
            format!(", {} not finite or missing", self.non_finite)
        } else {
            String::new()
        };
        format!(
            "{verdict} {:<62} worst error {:.1e} ({:.3} of rtol {:e} + atol {:e}), {} values{finite}",
            self.name,
            self.worst_error,
            self.worst_share,
            self.tol.rtol,
            self.tol.atol,
            self.values
        )
    }
}

fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (lo + (hi - lo) * rng.next_f64()) as f32)
        .collect()
}

/// Every check on the GPU that `opts` opens; `report` gets each as it finishes.
pub fn run_gpu(opts: &GpuOptions, report: &mut dyn FnMut(&Check)) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    let mut done = |c: Check, checks: &mut Vec<Check>| {
        report(&c);
        checks.push(c);
    };
    // The kernels compiled both ways: without naga's runtime checks where the shaders guard
    // every access themselves (the default), and with them (GpuOptions::shader_checks).
    for shader_checks in [false, true] {
        let mut ctx = opts.open()?;
        ctx.shader_checks = shader_checks;
        let how = if shader_checks {
            "checked shaders"
        } else {
            "trusted shaders"
        };
        let kernel_checks = block("selftest::kernel_checks", kernel_checks(&ctx))?;
        for mut c in kernel_checks {
            c.name = format!("{}, {how}", c.name);
            done(c, &mut checks);
        }
    }
    // Every matmul unsplit, then every one split (a target no grid reaches).
    for variant in MatmulVariant::ALL {
        for split_k in [SplitK::Off, SplitK::Below(65535)] {
            for (label, spec) in specs() {
                let split = if split_k == SplitK::Off {
                    ""
                } else {
                    ", k split"
                };
                let v = variant.name();
                let name = format!("network gradients, {label}, matmul {v}{split}");
                let ctx = opts.open()?;
                let c = gradients_check(&name, &spec, |spec, params, d| {
                    let config = MatmulConfig {
                        setting: Setting::Force(variant),
                        split_k,
                        ..MatmulConfig::default()
                    };
                    let mut t = GpuTrainer::with_matmul(ctx, spec, params, d, None, d.n, config)?;
                    t.gradients(&rows(d.n))
                })?;
                done(c, &mut checks);
            }
        }
    }
    let (spec, d, params, hp) = training_case();
    for method in [Method::Sgd, Method::Momentum, Method::Adam] {
        let state = OptimState::new(Optimizer::new(method), &spec);
        let mut gpu = GpuTrainer::new(opts.open()?, &spec, &params, &d, None, hp.batch)?;
        let mut cpu = CpuTrainer::new(&spec, params.clone(), &d, None, hp.batch)?;
        gpu.set_optimizer(&state)?;
        cpu.set_optimizer(&state)?;
        let mut c = Check::new(
            format!(
                "training, {} {method:?} steps: GPU vs CPU path",
                steps(&d, &hp)
            ),
            PATHS_AGREE,
        );
        for epoch in 0..hp.epochs {
            let perm = permutation(d.n, epoch as u64);
            c.compare(&gpu.train_epoch(&perm, &hp)?, &cpu.train_epoch(&perm, &hp)?);
        }
        c.compare(&flat(&gpu.params()?), &flat(&cpu.params()?));
        done(c, &mut checks);
    }
    Ok(checks)
}

/// The kernels on `ctx` against the f64 reference: the three matmul forms in every variant,
/// unsplit and split in K, and the loss on every loss and both row paths. What `run_gpu`
/// runs first (twice: with and without naga's runtime checks), and what the browser tests run
/// on WebGPU.
pub async fn kernel_checks(ctx: &GpuContext) -> Result<Vec<Check>> {
    let mut kernels = Kernels::with_matmul_async(ctx, &MatmulVariant::ALL).await?;
    let mut checks = Vec::new();
    for variant in MatmulVariant::ALL {
        kernels.set_matmul_variant(variant)?;
        checks.extend(matmul_checks(ctx, &kernels, variant, false).await?);
        checks.extend(matmul_checks(ctx, &kernels, variant, true).await?);
    }
    checks.extend(loss_checks(ctx, &kernels).await?);
    Ok(checks)
}

/// Every check on the CPU path; `report` gets each as it finishes.
pub fn run_cpu(report: &mut dyn FnMut(&Check)) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for (label, spec) in specs() {
        let c = gradients_check(
            &format!("network gradients, {label}, CPU path"),
            &spec,
            |spec, params, d| {
                let mut t = CpuTrainer::new(spec, params.clone(), d, None, d.n)?;
                Ok(t.gradients(&rows(d.n), 0.0))
            },
        )?;
        report(&c);
        checks.push(c);
    }
    let (spec, d, params, hp) = training_case();
    let mut cpu = CpuTrainer::new(&spec, params.clone(), &d, None, hp.batch)?;
    let mut net = Net64::from_params(&params);
    let x = widen(&d.x.to_f32());
    let y = widen(&d.dense_targets());
    let mut c = Check::new(
        format!("training, {} steps: CPU losses vs f64", steps(&d, &hp)),
        PATHS_AGREE,
    );
    for epoch in 0..hp.epochs {
        let perm = permutation(d.n, epoch as u64);
        let got = cpu.train_epoch(&perm, &hp)?;
        let mut want = Vec::new();
        for batch in perm.chunks(hp.batch) {
            let (bx, by) = (pick(&x, batch, d.dim), pick(&y, batch, spec.outputs()));
            let lr = f64::from(hp.lr);
            let l2 = f64::from(hp.l2);
            want.push(reference::train_step(
                &spec,
                &mut net,
                &bx,
                &by,
                batch.len(),
                lr,
                l2,
            ));
        }
        c.compare(&got, &want);
    }
    report(&c);
    checks.push(c);
    Ok(checks)
}

/// The three matmul kernels of `variant` on every shape (and every activation where the kernel
/// applies one) against the f64 reference, one check per kernel; or with `split`, each split
/// into 2, 3 and one slice per 16 terms and reduced (reduce.wgsl), one check for all three.
async fn matmul_checks(
    ctx: &GpuContext,
    kernels: &Kernels,
    variant: MatmulVariant,
    split: bool,
) -> Result<Vec<Check>> {
    let v = variant.name();
    let mut forward = Check::new(format!("matmul_forward, matmul {v}"), MATMUL);
    let mut weight = Check::new(format!("matmul_backward_weight + bias, matmul {v}"), MATMUL);
    let mut input = Check::new(format!("matmul_backward_input, matmul {v}"), MATMUL);
    for (i, &(shape, split)) in matmul_cases(split).iter().enumerate() {
        let launch = Launch {
            ctx,
            kernels,
            split,
            groups: kernels.matmul_groups(shape.0, shape.2)?,
        };
        check_forward_and_input(&launch, i, shape, &mut forward, &mut input).await?;
        check_weight(&launch, i, shape, &mut weight).await?;
    }
    if split {
        return Ok(vec![merge_split(v, [&forward, &weight, &input])]);
    }
    Ok(vec![forward, weight, input])
}

/// The shapes `matmul_checks` runs, each with how its k sum is split: `SHAPES` unsplit, or
/// every one of `SPLIT_SHAPES` in 2, 3 and one slice per 16 terms.
fn matmul_cases(split: bool) -> Vec<((usize, usize, usize), KSplit)> {
    if split {
        SPLIT_SHAPES
            .iter()
            .flat_map(|&(m, k, n)| {
                [2, 3, k.div_ceil(SLICE_ALIGN)].map(|s| ((m, k, n), KSplit::slices(k, s)))
            })
            .collect()
    } else {
        SHAPES.iter().map(|&shape| (shape, KSplit::NONE)).collect()
    }
}

/// What one matmul case's kernel runs share: the adapter, the kernels, the split and the grid.
struct Launch<'a> {
    ctx: &'a GpuContext,
    kernels: &'a Kernels,
    split: KSplit,
    groups: (u32, u32, u32),
}

impl Launch<'_> {
    /// One kernel run, split as `split` says.
    async fn run(
        &self,
        kernel: Kernel,
        inputs: &[&[u8]],
        outputs: &[&[f32]],
        p: &MatmulParams,
    ) -> Result<Vec<Vec<f32>>> {
        let (ctx, kernels, split, groups) = (self.ctx, self.kernels, self.split, self.groups);
        if split == KSplit::NONE {
            run_once_async(ctx, kernels, kernel, inputs, outputs, p, None, groups).await
        } else {
            run_split_once_async(ctx, kernels, kernel, inputs, outputs, p, split, groups).await
        }
    }
}

/// An f32 slice's bytes, as a kernel's input.
fn bytes(v: &[f32]) -> Vec<u8> {
    bytemuck::cast_slice::<f32, u8>(v).to_vec()
}

/// Case `i` of shape (m, k, n), every activation: matmul_forward into `forward` and
/// matmul_backward_input into `input`, against the f64 reference.
async fn check_forward_and_input(
    launch: &Launch<'_>,
    i: usize,
    (m, k, n): (usize, usize, usize),
    forward: &mut Check,
    input: &mut Check,
) -> Result<()> {
    let s = (3.0 / k as f64).sqrt();
    for act in Activation::ALL {
        let seed = 1000 * i as u64 + u64::from(act.code());
        // c (M, N) = act(x·w + b).
        let x = uniform(seed, m * k, -1.0, 1.0);
        let w = uniform(seed + 1, k * n, -s, s);
        let b = uniform(seed + 2, n, -0.5, 0.5);
        let got = launch
            .run(
                Kernel::MatmulForward,
                &[&bytes(&x), &bytes(&w), &bytes(&b)],
                &[&vec![f32::NAN; m * n]],
                &MatmulParams::new(m, n, k, act.code()),
            )
            .await?;
        let mut want = vec![0.0; m * n];
        reference::matmul_forward(&mut want, &widen(&x), &widen(&w), &widen(&b), m, k, n, act);
        forward.compare(&got[0], &want);
        // c (M, N) = (dz·wᵀ) ∘ act'(a): dz (M, K), w stored (N, K), a (M, N).
        let dz = uniform(seed + 3, m * k, -1.0, 1.0);
        let wt = uniform(seed + 4, n * k, -s, s);
        let a: Vec<f32> = uniform(seed + 5, m * n, -2.0, 2.0)
            .iter()
            .map(|&z| reference::activation_forward(act, f64::from(z)) as f32)
            .collect();
        let got = launch
            .run(
                Kernel::MatmulBackwardInput,
                &[&bytes(&dz), &bytes(&wt), &bytes(&a)],
                &[&vec![f32::NAN; m * n]],
                &MatmulParams::new(m, n, k, act.code()),
            )
            .await?;
        let mut want = vec![0.0; m * n];
        let (dz, wt, a) = (widen(&dz), widen(&wt), widen(&a));
        reference::matmul_backward_input(&mut want, &dz, &wt, &a, m, n, k, act);
        input.compare(&got[0], &want);
    }
    Ok(())
}

/// Case `i` of shape (m, k, n): matmul_backward_weight and its bias sums into `weight`, against
/// the f64 reference.
async fn check_weight(
    launch: &Launch<'_>,
    i: usize,
    (m, k, n): (usize, usize, usize),
    weight: &mut Check,
) -> Result<()> {
    // dw (M, N) = xᵀ·dz and db (N) = Σ_k dz[k, :]: x stored (K, M), dz (K, N); once
    // overwriting, once adding to earlier sums (a later row chunk).
    for accumulate in [false, true] {
        let seed = 1000 * i as u64 + 500 + accumulate as u64;
        let x = uniform(seed, k * m, -1.0, 1.0);
        let dz = uniform(seed + 1, k * n, -1.0 / k as f64, 1.0 / k as f64);
        let (c0, db0) = if accumulate {
            (
                uniform(seed + 2, m * n, -1.0, 1.0),
                uniform(seed + 3, n, -1.0, 1.0),
            )
        } else {
            (vec![f32::NAN; m * n], vec![f32::NAN; n])
        };
        let got = launch
            .run(
                Kernel::MatmulBackwardWeight,
                &[&bytes(&x), &bytes(&dz)],
                &[&c0, &db0],
                &MatmulParams {
                    accumulate: accumulate as u32,
                    ..MatmulParams::new(m, n, k, 0)
                },
            )
            .await?;
        let mut want = vec![0.0; m * n];
        reference::matmul_backward_weight(&mut want, &widen(&x), &widen(&dz), k, m, n);
        let mut want_db = vec![0.0; n];
        reference::bias_backward(&mut want_db, &widen(&dz), k, n);
        if accumulate {
            want.iter_mut()
                .zip(&c0)
                .for_each(|(w, &c)| *w += f64::from(c));
            want_db
                .iter_mut()
                .zip(&db0)
                .for_each(|(w, &b)| *w += f64::from(b));
        }
        weight.compare(&got[0], &want);
        weight.compare(&got[1], &want_db);
    }
    Ok(())
}

/// One line for the three forms of variant `v`, each split and reduced.
fn merge_split(v: &str, forms: [&Check; 3]) -> Check {
    let mut all = Check::new(
        format!("split K: 3 matmul forms + reduce, matmul {v}"),
        MATMUL,
    );
    for c in forms {
        all.values += c.values;
        all.non_finite += c.non_finite;
        if c.worst_share > all.worst_share {
            (all.worst_share, all.worst_error) = (c.worst_share, c.worst_error);
        }
    }
    all
}

/// loss_forward_backward on every loss (mse after a linear and after a sigmoid output), rows
/// of 1 to 1000 outputs, one check per path (one thread per row, one workgroup per row): dz and
/// each row's loss against the f64 reference, and the argmax flag against the CPU's.
async fn loss_checks(ctx: &GpuContext, kernels: &Kernels) -> Result<Vec<Check>> {
    let cases = [
        (Loss::CrossEntropy, false),
        (Loss::Bce, false),
        (Loss::Mse, false),
        (Loss::Mse, true),
    ];
    let shapes = [(1, 1), (7, 3), (300, 10), (5, 70), (3, 1000)];
    let mut checks = Vec::new();
    for wide in [false, true] {
        let path = if wide {
            "one workgroup per row"
        } else {
            "one thread per row"
        };
        let mut c = Check::new(format!("loss_forward_backward, {path}"), TRANSCENDENTAL);
        for (i, &(loss, sigmoid_out)) in cases.iter().enumerate() {
            for (j, &(m, n)) in shapes.iter().enumerate() {
                let seed = 7000 + 100 * i as u64 + j as u64;
                let (out, y) = loss_inputs(loss, sigmoid_out, m, n, seed);
                let params = LossParams {
                    wide: wide as u32,
                    ..LossParams::new(m, n, loss.code(), sigmoid_out)
                };
                let bytes = |v: &[f32]| bytemuck::cast_slice::<f32, u8>(v).to_vec();
                let got = run_once_async(
                    ctx,
                    kernels,
                    Kernel::LossForwardBackward,
                    &[&bytes(&out), &bytes(&y)],
                    &[&vec![f32::NAN; m * n], &vec![f32::NAN; 2 * m]],
                    &params,
                    None,
                    loss_groups(m, wide),
                )
                .await?;
                let (out, y) = (widen(&out), widen(&y));
                let mut want_dz = vec![0.0; m * n];
                reference::loss_forward_backward(&mut want_dz, &out, &y, m, n, loss, sigmoid_out);
                c.compare(&got[0], &want_dz);
                let mut want_rows = Vec::with_capacity(2 * m);
                for r in 0..m {
                    let (o, t) = (&out[r * n..][..n], &y[r * n..][..n]);
                    let mut dz = vec![0.0; n];
                    want_rows.push(reference::loss_forward_backward(
                        &mut dz,
                        o,
                        t,
                        1,
                        n,
                        loss,
                        sigmoid_out,
                    ));
                    want_rows.push(f64::from(u8::from(argmax(o) == argmax(t))));
                }
                c.compare(&got[1], &want_rows);
            }
        }
        checks.push(c);
    }
    Ok(checks)
}

/// The first index of the largest value, as the CPU path and the shader break ties.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Outputs and dense targets of m rows of n: logits for cross-entropy (one-hot y) and bce (y in
/// [0, 1]), outputs for mse (in (0, 1) after a sigmoid).
fn loss_inputs(
    loss: Loss,
    sigmoid_out: bool,
    m: usize,
    n: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    match loss {
        Loss::CrossEntropy => {
            let mut rng = Rng::new(seed);
            let mut y = vec![0.0; m * n];
            for row in y.chunks_mut(n) {
                row[((rng.next_f64() * n as f64) as usize).min(n - 1)] = 1.0;
            }
            (uniform(seed + 1, m * n, -4.0, 4.0), y)
        }
        Loss::Bce => (
            uniform(seed + 1, m * n, -6.0, 6.0),
            uniform(seed + 2, m * n, 0.0, 1.0),
        ),
        Loss::Mse if sigmoid_out => (
            uniform(seed + 1, m * n, 0.01, 0.99),
            uniform(seed + 2, m * n, 0.0, 1.0),
        ),
        Loss::Mse => (
            uniform(seed + 1, m * n, -2.0, 2.0),
            uniform(seed + 2, m * n, -2.0, 2.0),
        ),
    }
}

const N: usize = 37;
const INPUTS: usize = 9;

/// Two networks: a softmax over 70 classes (the loss's wide-row path, one workgroup per row)
/// after ReLU, and a sigmoid output with squared error over 3 (one thread per row) after tanh.
fn specs() -> Vec<(&'static str, Spec)> {
    let wide = Spec::new(
        vec![INPUTS, 33, 70],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    );
    let narrow = Spec::new(
        vec![INPUTS, 17, 3],
        vec![Activation::Tanh],
        Output::Sigmoid,
        Loss::Mse,
    );
    vec![
        ("9-33-70 softmax", wide.expect("a valid spec")),
        ("9-17-3 sigmoid mse", narrow.expect("a valid spec")),
    ]
}

/// N rows of INPUTS bytes and a class each.
fn dataset(classes: usize) -> Dataset {
    let x: Vec<u8> = (0..N * INPUTS).map(|i| (i * 53 % 241) as u8).collect();
    let labels = (0..N).map(|i| ((i * 11) % classes) as u32).collect();
    Dataset::with_inputs(
        "selftest",
        Inputs::U8 {
            data: x,
            scale: 1.0 / 255.0,
        },
        N,
        INPUTS,
        Targets::Classes {
            labels,
            n_classes: classes,
        },
    )
    .expect("a valid data set")
}

/// Every row, last first (so the gather is not the identity).
fn rows(n: usize) -> Vec<u32> {
    (0..n as u32).rev().collect()
}

fn pick(all: &[f64], rows: &[u32], w: usize) -> Vec<f64> {
    rows.iter()
        .flat_map(|&r| all[r as usize * w..][..w].to_vec())
        .collect()
}

fn flat(p: &Params) -> Vec<f32> {
    p.layers
        .iter()
        .flat_map(|l| l.w.iter().chain(&l.b).copied())
        .collect()
}

/// The loss and every parameter's gradient over all rows of a batch, from `gradients`, against
/// the f64 reference.
fn gradients_check(
    name: &str,
    spec: &Spec,
    gradients: impl FnOnce(&Spec, &Params, &Dataset) -> Result<(f64, Params)>,
) -> Result<Check> {
    let d = dataset(spec.outputs());
    let mut params = Params::init(spec, 5);
    for (l, layer) in params.layers.iter_mut().enumerate() {
        layer.b = uniform(105 + l as u64, layer.b.len(), -0.5, 0.5);
    }
    let rows = rows(d.n);
    let x = pick(&widen(&d.x.to_f32()), &rows, INPUTS);
    let y = pick(&widen(&d.dense_targets()), &rows, spec.outputs());
    let (want_loss, want) =
        reference::gradients(spec, &Net64::from_params(&params), &x, &y, N, 0.0);
    let (got_loss, got) = gradients(spec, &params, &d)?;
    let mut c = Check::new(name, NETWORK);
    c.compare(&[got_loss], &[want_loss]);
    let want_flat: Vec<f64> = (0..spec.n_layers())
        .flat_map(|l| want.w[l].iter().chain(&want.b[l]).copied())
        .collect();
    c.compare(&flat(&got), &want_flat);
    Ok(c)
}

/// A 9-24-5 softmax network on N rows in batches of 8 (the last partial), 4 epochs.
fn training_case() -> (Spec, Dataset, Params, Hyper) {
    let spec = Spec::new(
        vec![INPUTS, 24, 5],
        vec![Activation::Tanh],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .expect("a valid spec");
    let params = Params::init(&spec, 9);
    let hp = Hyper {
        lr: 0.5,
        l2: 0.001,
        batch: 8,
        epochs: 4,
        seed: 0,
    };
    (spec, dataset(5), params, hp)
}

fn steps(d: &Dataset, hp: &Hyper) -> usize {
    d.n.div_ceil(hp.batch) * hp.epochs
}

fn permutation(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let mut p: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = (rng.next_f64() * (i + 1) as f64) as usize;
        p.swap(i, j.min(i));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_fails_past_its_tolerance_on_non_finite_values_and_when_empty() {
        let tol = Tol {
            rtol: 1e-3,
            atol: 1e-5,
        };
        let mut c = Check::new("within", tol);
        c.compare(&[1.0005f32, 0.0], &[1.0f64, 1e-5]);
        assert!(c.passed(), "{}", c.line());
        assert!(c.line().starts_with("ok "), "{}", c.line());
        let mut c = Check::new("past", tol);
        c.compare(&[1.002f32], &[1.0f64]);
        assert!(!c.passed() && c.line().starts_with("FAIL"), "{}", c.line());
        assert!(
            (c.worst_share - 0.002 / 0.00101).abs() < 1e-3,
            "{}",
            c.line()
        );
        let mut c = Check::new("nan", tol);
        c.compare(&[f32::NAN], &[1.0f64]);
        assert!(!c.passed(), "{}", c.line());
        let mut c = Check::new("short", tol);
        c.compare(&[1.0f32], &[1.0f64, 2.0]);
        assert!(!c.passed(), "{}", c.line());
        assert!(!Check::new("empty", tol).passed());
    }

    #[test]
    fn the_cpu_selftest_passes() {
        let mut lines = Vec::new();
        let checks = run_cpu(&mut |c| lines.push(c.line())).unwrap();
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(Check::passed), "{lines:#?}");
    }
}
