//! Writes the fixtures scripts/dawn-check.mjs runs every entry point of every shader on under
//! Dawn: each module's WGSL as the host assembles it (`Kernel::source`), and per case the entry
//! point, its bindings (inputs, the `Params` and `Step` uniforms' bytes, outputs with their
//! starting values), the dispatch grid, and the f64 reference's expected outputs with the
//! tolerance the kernel tests hold them to; split K's two halves each alone (the slices' raw
//! partials, the reductions on given partials). Awkward shapes: below one tile or workgroup,
//! spilling into the next, long and thin, wide loss rows, grid-stride loops with fewer
//! workgroups than elements. `#[ignore]`d (it checks nothing here); scripts/dawn-check.sh runs it with
//! `cargo test --release --test dawn_fixtures -- --ignored`, into $WGTRAIN_DAWN_FIXTURES or
//! target/dawn-fixtures.

mod common;

use std::path::PathBuf;

use bytemuck::Pod;
use common::kernels::{UNTOUCHED, activation_outputs, loss_inputs, seed_of};
use common::{EXACT, MATMUL, TRANSCENDENTAL, Tol, uniform};
use serde_json::{Value, json};
use wgtrain::cpu::reference::{self, widen};
use wgtrain::model::{Activation, Loss};
use wgtrain::optim::{Method, Optimizer};
use wgtrain::testing::Rng;
use wgtrain::testing::fast::argmax;
use wgtrain::testing::gpu::Kernel;
use wgtrain::testing::gpu::kernels::{KSplit, MatmulVariant, WG_1D, grid_1d, loss_groups};
use wgtrain::testing::gpu::uniforms::{
    GatherParams, LossParams, MatmulParams, OptimParams, ReduceParams, SgdParams, StepInfo,
};

/// Matmul shapes (M, K, N) as `wgtrain selftest` runs them: one element, below one tile, spilling
/// into a further tile, exact tiles, long and thin both ways, one long sum.
const MATMUL_SHAPES: [(usize, usize, usize); 8] = [
    (1, 1, 1),
    (7, 13, 5),
    (33, 65, 17),
    (65, 17, 129),
    (128, 32, 64),
    (1000, 3, 2),
    (3, 2, 1000),
    (1, 1024, 1),
];

const ACTIVATIONS: [Activation; 5] = [
    Activation::Relu,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::LeakyRelu,
    Activation::Linear,
];

/// Bytes widened and scaled per feature (`packed` 2): b·scale + offset in f32, which an adapter
/// may fuse into one rounding or not, against the f64 value: a rounding or two of 2⁻²⁴.
const WIDENED: Tol = Tol {
    rtol: 1e-6,
    atol: 1e-6,
};
/// A sum of up to 1000 row losses in a fixed-order f32 tree against f64: ~10 roundings of 2⁻²⁴
/// relative (all terms are non-negative); the correct counts are integers, exact.
const STATS_SUM: Tol = Tol {
    rtol: 1e-5,
    atol: 0.0,
};
/// Parameters after one f32 update against f64 from the same f32 state, |θ| <= 1, lr <= 0.1
/// (tests/kernels_optim.rs, whose three-step bound this is): a handful of roundings below 1.
const UPDATE: Tol = Tol {
    rtol: 0.0,
    atol: 2e-6,
};
/// Velocity and Adam's m: sums whose terms cancel, so the error is absolute (kernels_optim.rs).
const FIRST_MOMENT: Tol = Tol {
    rtol: 0.0,
    atol: 5e-7,
};
/// Adam's v: non-negative terms, relative rounding only (kernels_optim.rs).
const SECOND_MOMENT: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-12,
};

/// One dispatch of one entry point and what its outputs must hold.
struct Case {
    name: String,
    /// None for shaders outside the training pipeline (peak.wgsl).
    kernel: Option<Kernel>,
    module: &'static str,
    entry: String,
    bindings: Vec<Value>,
    groups: (u32, u32, u32),
}

impl Case {
    fn new(name: String, kernel: Kernel, entry: String, groups: (u32, u32, u32)) -> Case {
        Case {
            name,
            kernel: Some(kernel),
            module: kernel.source().0,
            entry,
            bindings: vec![],
            groups,
        }
    }

    fn read(mut self, binding: u32, data: &[f32]) -> Case {
        self.bindings
            .push(json!({"binding": binding, "kind": "read", "f32": data}));
        self
    }

    fn read_u32(mut self, binding: u32, data: &[u32]) -> Case {
        self.bindings
            .push(json!({"binding": binding, "kind": "read", "u32": data}));
        self
    }

    /// A read_write binding starting as `init` (None: NaN everywhere, so an element the kernel
    /// leaves unwritten fails), checked against `want` (None: not checked).
    fn write(mut self, binding: u32, label: &str, init: Init, want: Option<(&[f64], Tol)>) -> Case {
        let mut b = json!({"binding": binding, "kind": "write", "label": label});
        match init {
            Init::Unwritten(len) => b["len"] = json!(len),
            Init::Values(v) => b["f32"] = json!(v),
        }
        if let Some((want, tol)) = want {
            b["expect"] = json!(want);
            b["tol"] = json!({"rtol": tol.rtol, "atol": tol.atol});
        }
        self.bindings.push(b);
        self
    }

    fn uniform(mut self, binding: u32, params: &impl Pod) -> Case {
        self.bindings
            .push(json!({"binding": binding, "kind": "uniform", "u32": words(params)}));
        self
    }

    /// The per-step uniform, bound as the host binds it: a window of one `StepInfo` moved by a
    /// dynamic offset (the slot after the first).
    fn step(mut self, binding: u32, step: StepInfo) -> Case {
        self.bindings
            .push(json!({"binding": binding, "kind": "step", "u32": words(&step)}));
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "module": self.module,
            "entry": self.entry,
            "bindings": self.bindings,
            "groups": [self.groups.0, self.groups.1, self.groups.2],
        })
    }
}

enum Init<'a> {
    Unwritten(usize),
    Values(&'a [f32]),
}

fn words(p: &impl Pod) -> Vec<u32> {
    bytemuck::bytes_of(p)
        .chunks(4)
        .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn matmul_entry(form: &str, variant: MatmulVariant) -> String {
    match variant {
        MatmulVariant::Tile64 => form.to_string(),
        MatmulVariant::Tile128 => format!("{form}_128"),
    }
}

/// The three matmul forms in both variants on every shape, the forward one through each
/// activation in turn, each on its variant's own grid.
fn matmul_cases() -> Vec<Case> {
    let mut cases = vec![];
    for variant in MatmulVariant::ALL {
        for (i, &(m, k, n)) in MATMUL_SHAPES.iter().enumerate() {
            let act = ACTIVATIONS[i % ACTIVATIONS.len()];
            let seed = seed_of((m, k, n), 40);
            let groups = variant.groups(m, n).unwrap();
            let shape = format!("{m}x{k}x{n}");

            let a = uniform(seed, m * k, -1.0, 1.0);
            let b = uniform(seed + 1, k * n, -1.0, 1.0);
            let bias = uniform(seed + 2, n, -0.5, 0.5);
            let mut want = vec![0.0; m * n];
            reference::matmul_forward(
                &mut want,
                &widen(&a),
                &widen(&b),
                &widen(&bias),
                m,
                k,
                n,
                act,
            );
            let entry = matmul_entry("matmul_forward", variant);
            cases.push(
                Case::new(
                    format!("{entry} {shape} {act:?}"),
                    Kernel::MatmulForward,
                    entry,
                    groups,
                )
                .read(0, &a)
                .read(1, &b)
                .read(2, &bias)
                .write(3, "c", Init::Unwritten(m * n), Some((&want, MATMUL)))
                .uniform(5, &MatmulParams::new(m, n, k, act.code())),
            );

            // c (M, N) = aᵀ·b with a stored (K, M), b (K, N); db = column sums of b.
            let at = uniform(seed + 3, k * m, -1.0, 1.0);
            let b = uniform(seed + 4, k * n, -1.0, 1.0);
            let mut want_c = vec![0.0; m * n];
            reference::matmul_backward_weight(&mut want_c, &widen(&at), &widen(&b), k, m, n);
            let mut want_db = vec![0.0; n];
            reference::bias_backward(&mut want_db, &widen(&b), k, n);
            let entry = matmul_entry("matmul_backward_weight", variant);
            cases.push(
                Case::new(
                    format!("{entry} {shape}"),
                    Kernel::MatmulBackwardWeight,
                    entry,
                    groups,
                )
                .read(0, &at)
                .read(1, &b)
                .write(3, "c", Init::Unwritten(m * n), Some((&want_c, MATMUL)))
                .write(4, "db", Init::Unwritten(n), Some((&want_db, MATMUL)))
                .uniform(5, &MatmulParams::new(m, n, k, 0)),
            );

            // c (M, N) = (a·bᵀ) ∘ act'(aux) with a (M, K), b stored (N, K), aux (M, N).
            let a = uniform(seed + 5, m * k, -1.0, 1.0);
            let bt = uniform(seed + 6, n * k, -1.0, 1.0);
            let aux = activation_outputs(act, seed + 7, m * n);
            let mut want = vec![0.0; m * n];
            reference::matmul_backward_input(
                &mut want,
                &widen(&a),
                &widen(&bt),
                &widen(&aux),
                m,
                n,
                k,
                act,
            );
            let entry = matmul_entry("matmul_backward_input", variant);
            cases.push(
                Case::new(
                    format!("{entry} {shape} {act:?}"),
                    Kernel::MatmulBackwardInput,
                    entry,
                    groups,
                )
                .read(0, &a)
                .read(1, &bt)
                .read(2, &aux)
                .write(3, "c", Init::Unwritten(m * n), Some((&want, MATMUL)))
                .uniform(5, &MatmulParams::new(m, n, k, act.code())),
            );
        }
    }
    cases
}

/// Split-K shapes (M, K, N, slices asked of `KSplit::slices`), k >= 48: one element over a long
/// sum in four equal slices, below a tile with a short last slice (48 + 48 + 4), spilling into
/// further tiles (48 + 17; 64·3 + 8), long and thin both ways (272·2 + 233; 16·3).
const SPLIT_SHAPES: [(usize, usize, usize, usize); 6] = [
    (1, 1024, 1, 4),
    (7, 100, 5, 3),
    (33, 65, 17, 2),
    (65, 200, 129, 4),
    (130, 777, 3, 3),
    (3, 48, 200, 3),
];

/// What the split dispatch of a matmul form writes, in f64: slice z's raw sums over k in
/// [z·kslice, min(K, (z+1)·kslice)), c[z·M·N + row·N + col], and (the weight form's) the bias
/// partials db[z·N + col] = Σ b[k, col] over the same k. Operands as the form stores them: a is
/// (M, K), or (K, M) for the weight form; b is (K, N), or (N, K) for the input-gradient form.
fn slice_partials(
    kernel: Kernel,
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    split: KSplit,
) -> (Vec<f64>, Vec<f64>) {
    let lhs = |i: usize, p: usize| match kernel {
        Kernel::MatmulBackwardWeight => a[p * m + i] as f64,
        _ => a[i * k + p] as f64,
    };
    let rhs = |p: usize, j: usize| match kernel {
        Kernel::MatmulBackwardInput => b[j * k + p] as f64,
        _ => b[p * n + j] as f64,
    };
    let (s, q) = (split.splits as usize, split.kslice as usize);
    let mut c = vec![0.0; s * m * n];
    let mut db = vec![0.0; s * n];
    for z in 0..s {
        let terms = z * q..k.min((z + 1) * q);
        for i in 0..m {
            for j in 0..n {
                c[z * m * n + i * n + j] = terms.clone().map(|p| lhs(i, p) * rhs(p, j)).sum();
            }
        }
        for (j, d) in db[z * n..(z + 1) * n].iter_mut().enumerate() {
            *d = terms.clone().map(|p| rhs(p, j)).sum();
        }
    }
    (c, db)
}

/// Σ_z part[z·len + i] in f64, slice 0 first.
fn sum_slices(part: &[f32], splits: usize, len: usize) -> Vec<f64> {
    (0..len)
        .map(|i| (0..splits).map(|z| part[z * len + i] as f64).sum())
        .collect()
}

/// Asserts the helper's partials add up to the reference's unsplit product (all in f64), so a
/// wrong operand layout in `slice_partials` fails here rather than as a kernel mismatch.
fn check_partials(what: &str, part: &[f64], whole: &[f64], splits: usize) {
    let len = whole.len();
    for (i, &w) in whole.iter().enumerate() {
        let s: f64 = (0..splits).map(|z| part[z * len + i]).sum();
        assert!(
            (s - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{what}: [{i}] {s} != {w}"
        );
    }
}

/// The split dispatches alone (matmul.wgsl with params.splits > 1), every form in both variants,
/// on the grid (gx, gy, S): the S·M·N partials (and the weight form's S·N bias partials) start
/// as NaN, so a slice that skips an element fails. The weight form's odd shapes set
/// `accumulate`, which a split dispatch must ignore (its reduction accumulates).
fn split_matmul_cases() -> Vec<Case> {
    let mut cases = vec![];
    for variant in MatmulVariant::ALL {
        for (i, &(m, k, n, slices)) in SPLIT_SHAPES.iter().enumerate() {
            let split = KSplit::slices(k, slices);
            let s = split.splits as usize;
            assert!(s > 1, "{m}x{k}x{n} in {slices}: {split:?}");
            let act = ACTIVATIONS[i % ACTIVATIONS.len()];
            let seed = seed_of((m, k, n), 60);
            let (gx, gy, _) = variant.groups(m, n).unwrap();
            let groups = (gx, gy, split.splits);
            let shape = format!("{m}x{k}x{n} split {s} x {}", split.kslice);
            let params = MatmulParams::new(m, n, k, act.code()).split(split);

            // Forward: a (M, K), b (K, N); the bias is bound (and checked for length) only.
            let a = uniform(seed, m * k, -1.0, 1.0);
            let b = uniform(seed + 1, k * n, -1.0, 1.0);
            let bias = uniform(seed + 2, n, -0.5, 0.5);
            let (want, _) = slice_partials(Kernel::MatmulForward, &a, &b, (m, k, n), split);
            let mut whole = vec![0.0; m * n];
            let (a64, b64) = (widen(&a), widen(&b));
            let zero = vec![0.0; n];
            reference::matmul_forward(&mut whole, &a64, &b64, &zero, m, k, n, Activation::Linear);
            check_partials(&shape, &want, &whole, s);
            let entry = matmul_entry("matmul_forward", variant);
            cases.push(
                Case::new(
                    format!("{entry} {shape} {act:?} partials"),
                    Kernel::MatmulForward,
                    entry,
                    groups,
                )
                .read(0, &a)
                .read(1, &b)
                .read(2, &bias)
                .write(
                    3,
                    "parts",
                    Init::Unwritten(s * m * n),
                    Some((&want, MATMUL)),
                )
                .uniform(5, &params),
            );

            // Weight gradient: a stored (K, M), b (K, N); bias partials in binding 4.
            let accumulate = i % 2 == 1;
            let at = uniform(seed + 3, k * m, -1.0, 1.0);
            let b = uniform(seed + 4, k * n, -1.0, 1.0);
            let (want, want_db) =
                slice_partials(Kernel::MatmulBackwardWeight, &at, &b, (m, k, n), split);
            let mut whole = vec![0.0; m * n];
            let b64 = widen(&b);
            reference::matmul_backward_weight(&mut whole, &widen(&at), &b64, k, m, n);
            check_partials(&shape, &want, &whole, s);
            let mut whole_db = vec![0.0; n];
            reference::bias_backward(&mut whole_db, &b64, k, n);
            check_partials(&shape, &want_db, &whole_db, s);
            let entry = matmul_entry("matmul_backward_weight", variant);
            cases.push(
                Case::new(
                    format!("{entry} {shape} accumulate={accumulate} partials"),
                    Kernel::MatmulBackwardWeight,
                    entry,
                    groups,
                )
                .read(0, &at)
                .read(1, &b)
                .write(
                    3,
                    "parts",
                    Init::Unwritten(s * m * n),
                    Some((&want, MATMUL)),
                )
                .write(
                    4,
                    "db parts",
                    Init::Unwritten(s * n),
                    Some((&want_db, MATMUL)),
                )
                .uniform(
                    5,
                    &MatmulParams {
                        accumulate: accumulate as u32,
                        ..params
                    },
                ),
            );

            // Input gradient: a (M, K), b stored (N, K); aux (M, N) bound and length-checked.
            let a = uniform(seed + 5, m * k, -1.0, 1.0);
            let bt = uniform(seed + 6, n * k, -1.0, 1.0);
            let aux = activation_outputs(act, seed + 7, m * n);
            let (want, _) = slice_partials(Kernel::MatmulBackwardInput, &a, &bt, (m, k, n), split);
            let mut whole = vec![0.0; m * n];
            let ones = vec![1.0; m * n];
            reference::matmul_backward_input(
                &mut whole,
                &widen(&a),
                &widen(&bt),
                &ones,
                m,
                n,
                k,
                Activation::Linear,
            );
            check_partials(&shape, &want, &whole, s);
            let entry = matmul_entry("matmul_backward_input", variant);
            cases.push(
                Case::new(
                    format!("{entry} {shape} {act:?} partials"),
                    Kernel::MatmulBackwardInput,
                    entry,
                    groups,
                )
                .read(0, &a)
                .read(1, &bt)
                .read(2, &aux)
                .write(
                    3,
                    "parts",
                    Init::Unwritten(s * m * n),
                    Some((&want, MATMUL)),
                )
                .uniform(5, &params),
            );
        }
    }
    cases
}

/// Reductions (M, N, S): one element, below a workgroup, spilling into a second, many
/// workgroups, thin both ways, up to 7 partials.
const REDUCE_SHAPES: [(usize, usize, usize); 6] = [
    (1, 1, 2),
    (7, 5, 3),
    (33, 17, 2),
    (65, 129, 4),
    (130, 3, 7),
    (3, 300, 3),
];

/// reduce.wgsl's three entry points alone on given partials (f32 in [-1, 1]), each on
/// `grid_1d(M·N)` and, for one shape, on a single workgroup (the grid-stride loops; n > 256,
/// so the weight form's bias loop strides too). Expected: the f64 sum over slices, then the
/// epilogue in f64. Tolerance MATMUL: S <= 7 f32 additions of terms <= 1 err by ~1e-6 absolute
/// at worst, and the adapter's sigmoid/tanh by a few ulp (TRANSCENDENTAL, rtol 1e-5 + atol 1e-6,
/// is within MATMUL's rtol 1e-4 + atol 1e-5).
fn reduce_cases() -> Vec<Case> {
    let mut cases = vec![];
    let shapes = REDUCE_SHAPES
        .iter()
        .map(|&shape| (shape, false))
        .chain([((33, 300, 3), true)]);
    for (i, ((m, n, s), single)) in shapes.enumerate() {
        let act = ACTIVATIONS[i % ACTIVATIONS.len()];
        let seed = seed_of((m, s, n), 70);
        let mn = m * n;
        let groups = if single {
            (1, 1, 1)
        } else {
            grid_1d(mn, WG_1D)
        };
        let shape = format!("{m}x{n} of {s} partials groups {}", groups.0);
        let reduce_params = |act: Activation, accumulate: bool| {
            ReduceParams::of(&MatmulParams {
                splits: s as u32,
                accumulate: accumulate as u32,
                ..MatmulParams::new(m, n, 0, act.code())
            })
        };
        let part = uniform(seed, s * mn, -1.0, 1.0);
        let sum = sum_slices(&part, s, mn);

        // c = act(Σ part + bias[col]).
        let bias = uniform(seed + 1, n, -0.5, 0.5);
        let want: Vec<f64> = (0..mn)
            .map(|idx| reference::activation_forward(act, sum[idx] + bias[idx % n] as f64))
            .collect();
        cases.push(
            Case::new(
                format!("reduce_forward {shape} {act:?}"),
                Kernel::ReduceForward,
                "reduce_forward".into(),
                groups,
            )
            .read(0, &part)
            .read(1, &bias)
            .write(2, "c", Init::Unwritten(mn), Some((&want, MATMUL)))
            .uniform(4, &reduce_params(act, false)),
        );

        // c = Σ part · act'(aux), aux plausible outputs of act.
        let aux = activation_outputs(act, seed + 2, mn);
        let want: Vec<f64> = (0..mn)
            .map(|idx| sum[idx] * reference::activation_backward(act, aux[idx] as f64))
            .collect();
        cases.push(
            Case::new(
                format!("reduce_backward_input {shape} {act:?}"),
                Kernel::ReduceBackwardInput,
                "reduce_backward_input".into(),
                groups,
            )
            .read(0, &part)
            .read(1, &aux)
            .write(2, "c", Init::Unwritten(mn), Some((&want, MATMUL)))
            .uniform(4, &reduce_params(act, false)),
        );

        // c = Σ part, db = Σ bias partials; or both added to what c and db held.
        let bias_parts = uniform(seed + 3, s * n, -1.0, 1.0);
        let db_sum = sum_slices(&bias_parts, s, n);
        for accumulate in [false, true] {
            let (c0, db0) = (
                uniform(seed + 4, mn, -1.0, 1.0),
                uniform(seed + 5, n, -1.0, 1.0),
            );
            let add = |sums: &[f64], before: &[f32]| -> Vec<f64> {
                sums.iter()
                    .zip(before)
                    .map(|(&v, &b)| if accumulate { v + b as f64 } else { v })
                    .collect()
            };
            let (want, want_db) = (add(&sum, &c0), add(&db_sum, &db0));
            let (c_init, db_init) = if accumulate {
                (Init::Values(&c0), Init::Values(&db0))
            } else {
                (Init::Unwritten(mn), Init::Unwritten(n))
            };
            cases.push(
                Case::new(
                    format!("reduce_backward_weight {shape} accumulate={accumulate}"),
                    Kernel::ReduceBackwardWeight,
                    "reduce_backward_weight".into(),
                    groups,
                )
                .read(0, &part)
                .read(1, &bias_parts)
                .write(2, "c", c_init, Some((&want, MATMUL)))
                .write(3, "db", db_init, Some((&want_db, MATMUL)))
                .uniform(4, &reduce_params(Activation::Linear, accumulate)),
            );
        }
    }
    cases
}

/// gather_rows: f32 rows, bytes times a scale, bytes standardised per feature; through a
/// permutation or in order; a row offset from the step and one from the params; odd widths (the
/// bytes of a row straddle u32 words); two rows past the batch that must stay untouched; one
/// case on a single workgroup (the grid-stride loop).
fn gather_cases() -> Vec<Case> {
    // (n, dim, ydim, rows, packed, identity, single workgroup)
    let shapes = [
        (10, 3, 1, 4, 0, false, false),
        (300, 13, 10, 257, 0, false, true),
        (50, 7, 2, 9, 1, false, false),
        (600, 785, 10, 300, 1, false, false),
        (40, 5, 3, 17, 2, false, false),
        (40, 5, 3, 17, 2, true, false),
        (1000, 1, 1, 999, 1, true, true),
    ];
    let mut cases = vec![];
    for (i, &(n, dim, ydim, rows, packed, identity, single)) in shapes.iter().enumerate() {
        let seed = 700 + i as u64;
        let (row_offset, offset) = (1usize, (n - rows - 1).min(2));
        let mut rng = Rng::new(seed);
        let mut perm: Vec<u32> = (0..n as u32).collect();
        for j in (1..n).rev() {
            perm.swap(j, rng.below(j + 1));
        }
        let y_all = uniform(seed + 1, n * ydim, -1.0, 1.0);
        let scale = 1.0f32 / 255.0;
        let affine: Vec<f32> = uniform(seed + 2, dim, 0.001, 0.1)
            .into_iter()
            .chain(uniform(seed + 3, dim, -2.0, 2.0))
            .collect();
        let (x_all, value): (Vec<u32>, Box<dyn Fn(usize) -> f64>) = if packed == 0 {
            let x = uniform(seed + 4, n * dim, -3.0, 3.0);
            let bits = x.iter().map(|v| v.to_bits()).collect();
            (bits, Box::new(move |e| x[e] as f64))
        } else {
            let bytes: Vec<u8> = (0..n * dim).map(|_| rng.below(256) as u8).collect();
            let mut words = vec![0u32; (n * dim).div_ceil(4)];
            for (e, &b) in bytes.iter().enumerate() {
                words[e / 4] |= (b as u32) << (8 * (e % 4));
            }
            let affine = affine.clone();
            (
                words,
                Box::new(move |e| {
                    let (b, j) = (bytes[e] as f64, e % dim);
                    if packed == 1 {
                        b * scale as f64
                    } else {
                        b * affine[j] as f64 + affine[dim + j] as f64
                    }
                }),
            )
        };
        let src = |r: usize| {
            let at = row_offset + offset + r;
            if identity { at } else { perm[at] as usize }
        };
        let mut want_x = vec![UNTOUCHED as f64; (rows + 2) * dim];
        let mut want_y = vec![UNTOUCHED as f64; (rows + 2) * ydim];
        for r in 0..rows {
            for j in 0..dim {
                want_x[r * dim + j] = value(src(r) * dim + j);
            }
            for j in 0..ydim {
                want_y[r * ydim + j] = y_all[src(r) * ydim + j] as f64;
            }
        }
        let params = GatherParams {
            dim: dim as u32,
            ydim: ydim as u32,
            identity: identity as u32,
            packed,
            scale,
            offset: offset as u32,
            rows: rows as u32,
            _pad: 0,
        };
        let groups = if single {
            (1, 1, 1)
        } else {
            grid_1d(rows * dim.max(ydim), WG_1D)
        };
        let x_tol = if packed == 0 { EXACT } else { WIDENED };
        cases.push(
            Case::new(
                format!(
                    "gather_rows n {n} dim {dim} ydim {ydim} rows {rows} packed {packed} identity {identity} groups {}",
                    groups.0
                ),
                Kernel::GatherRows,
                "gather_rows".into(),
                groups,
            )
            .read_u32(0, &perm)
            .read_u32(1, &x_all)
            .read(2, &y_all)
            .read(3, &affine)
            .write(
                4,
                "x",
                Init::Values(&vec![UNTOUCHED; (rows + 2) * dim]),
                Some((&want_x, x_tol)),
            )
            .write(
                5,
                "y",
                Init::Values(&vec![UNTOUCHED; (rows + 2) * ydim]),
                Some((&want_y, EXACT)),
            )
            .uniform(6, &params)
            .step(
                7,
                StepInfo {
                    row_offset: row_offset as u32,
                    ..Default::default()
                },
            ),
        );
    }
    cases
}

/// (loss, sigmoid_out, m, n): narrow rows (one thread each, n <= 64) and wide ones (a workgroup
/// each): just past the switch, not a multiple of 256, just past one workgroup, many classes.
const LOSS_CASES: [(Loss, bool, usize, usize); 15] = [
    (Loss::CrossEntropy, false, 7, 10),
    (Loss::CrossEntropy, false, 300, 3),
    (Loss::CrossEntropy, false, 3, 64),
    (Loss::CrossEntropy, false, 3, 65),
    (Loss::CrossEntropy, false, 4, 100),
    (Loss::CrossEntropy, false, 1, 257),
    (Loss::CrossEntropy, false, 3, 1000),
    (Loss::CrossEntropy, false, 3, 5000),
    (Loss::Bce, false, 5, 10),
    (Loss::Bce, false, 3, 100),
    (Loss::Bce, false, 3, 5000),
    (Loss::Mse, true, 5, 10),
    (Loss::Mse, true, 3, 1000),
    (Loss::Mse, false, 5, 10),
    (Loss::Mse, false, 3, 5000),
];

/// loss_forward_backward on every loss, both paths; loss_stats over fewer rows than its
/// workgroup and several times more, overwriting and accumulating into a slot past the first.
fn loss_cases() -> Vec<Case> {
    let mut cases = vec![];
    for (i, &(loss, sigmoid_out, m, n)) in LOSS_CASES.iter().enumerate() {
        let seed = 900 + i as u64;
        let (out, y) = loss_inputs(loss, sigmoid_out, m, n, seed);
        let params = LossParams::new(m, n, loss.code(), sigmoid_out);
        let (out64, y64) = (widen(&out), widen(&y));
        let mut dz = vec![0.0; m * n];
        reference::loss_forward_backward(&mut dz, &out64, &y64, m, n, loss, sigmoid_out);
        let mut scratch = vec![0.0; n];
        let mut row_stats = vec![];
        for r in 0..m {
            let row = r * n..(r + 1) * n;
            row_stats.push(reference::loss_forward_backward(
                &mut scratch,
                &out64[row.clone()],
                &y64[row.clone()],
                1,
                n,
                loss,
                sigmoid_out,
            ));
            row_stats.push((argmax(&out[row.clone()]) == argmax(&y[row])) as u8 as f64);
        }
        let wide = params.wide != 0;
        cases.push(
            Case::new(
                format!(
                    "loss_forward_backward {loss} sigmoid_out={sigmoid_out} m {m} n {n} wide={wide}"
                ),
                Kernel::LossForwardBackward,
                "loss_forward_backward".into(),
                loss_groups(m, wide),
            )
            .read(0, &out)
            .read(1, &y)
            .write(2, "dz", Init::Unwritten(m * n), Some((&dz, TRANSCENDENTAL)))
            .write(
                3,
                "row_stats",
                Init::Unwritten(2 * m),
                Some((&row_stats, TRANSCENDENTAL)),
            )
            .uniform(5, &params),
        );
    }
    for (i, &(m, accumulate)) in [(1, false), (100, false), (1000, false), (300, true)]
        .iter()
        .enumerate()
    {
        let seed = 950 + i as u64;
        let mut rng = Rng::new(seed);
        let losses = uniform(seed, m, 0.0, 5.0);
        let row_stats: Vec<f32> = losses
            .iter()
            .flat_map(|&l| [l, rng.below(2) as f32])
            .collect();
        let slot = 2;
        let mut stats = vec![UNTOUCHED; 2 * 4];
        let before = [3.5f32, 7.0];
        if accumulate {
            stats[2 * slot..2 * slot + 2].copy_from_slice(&before);
        }
        let mut want: Vec<f64> = stats.iter().map(|&v| v as f64).collect();
        for c in 0..2 {
            let sum: f64 = (0..m).map(|r| row_stats[2 * r + c] as f64).sum();
            want[2 * slot + c] = if accumulate {
                before[c] as f64 + sum
            } else {
                sum
            };
        }
        let mut params = LossParams::new(m, 10, Loss::CrossEntropy.code(), false);
        params.accumulate = accumulate as u32;
        cases.push(
            Case::new(
                format!("loss_stats m {m} accumulate={accumulate} slot {slot}"),
                Kernel::LossStats,
                "loss_stats".into(),
                (1, 1, 1),
            )
            .write(
                3,
                "row_stats",
                Init::Values(&row_stats),
                Some((&widen(&row_stats), EXACT)),
            )
            .write(4, "stats", Init::Values(&stats), Some((&want, STATS_SUM)))
            .uniform(5, &params)
            .step(
                6,
                StepInfo {
                    slot: slot as u32,
                    ..Default::default()
                },
            ),
        );
    }
    cases
}

/// An optimiser's f64 update of some tensors from the gradient, `weights` saying whether decay
/// applies.
type Update<'a> = &'a mut dyn FnMut(&mut [&mut [f64]], &[f64], bool);

/// `update(tensors, grad, weights)` on [0, decay_end) with weights = true, then on the rest.
fn split_update(decay_end: usize, tensors: &mut [&mut Vec<f64>], grad: &[f64], update: Update) {
    let (mut head, mut tail): (Vec<&mut [f64]>, Vec<&mut [f64]>) = tensors
        .iter_mut()
        .map(|t| t.split_at_mut(decay_end))
        .unzip();
    update(&mut head, &grad[..decay_end], true);
    update(&mut tail, &grad[decay_end..], false);
}

/// sgd_update, momentum_update (heavy ball and Nesterov) and adam_update (Adam and AdamW), one
/// update from a non-zero state: one element, a decay boundary inside a workgroup and past the
/// first, nothing or everything decayed, a grid-stride loop on one workgroup.
fn optimizer_cases() -> Vec<Case> {
    // (len, decay_end, single workgroup)
    let lengths = [
        (1, 1, false),
        (257, 192, false),
        (1000, 700, false),
        (1000, 0, true),
        (600, 600, true),
    ];
    let (lr, l2) = (0.05f32, 0.01f32);
    let mut cases = vec![];
    for (i, &(len, decay_end, single)) in lengths.iter().enumerate() {
        let seed = 800 + 10 * i as u64;
        let groups = if single {
            (1, 1, 1)
        } else {
            grid_1d(len, WG_1D)
        };
        let grad = uniform(seed, len, -1.0, 1.0);
        let param = uniform(seed + 1, len, -1.0, 1.0);
        let m1 = uniform(seed + 2, len, -1.0, 1.0);
        let m2 = uniform(seed + 3, len, 0.0, 0.01);
        let g64 = widen(&grad);
        let shape = format!("len {len} decay_end {decay_end} groups {}", groups.0);
        let lambda = |weights: bool| if weights { l2 as f64 } else { 0.0 };

        let mut want = widen(&param);
        split_update(decay_end, &mut [&mut want], &g64, &mut |t, g, w| {
            reference::sgd_update(t[0], g, lr as f64, lambda(w))
        });
        let step = StepInfo {
            lr,
            t: 1,
            ..Default::default()
        };
        cases.push(
            Case::new(
                format!("sgd_update {shape}"),
                Kernel::SgdUpdate,
                "sgd_update".into(),
                groups,
            )
            .read(0, &grad)
            .write(1, "param", Init::Values(&param), Some((&want, UPDATE)))
            .uniform(
                2,
                &SgdParams {
                    len: len as u32,
                    decay_end: decay_end as u32,
                    l2,
                    _pad: 0,
                },
            )
            .step(3, step),
        );

        for nesterov in [false, true] {
            let mut opt = Optimizer::new(Method::Momentum);
            opt.momentum = 0.9;
            let (mut want_p, mut want_v) = (widen(&param), widen(&m1));
            split_update(
                decay_end,
                &mut [&mut want_p, &mut want_v],
                &g64,
                &mut |t, g, w| {
                    let [p, v] = t else { unreachable!() };
                    reference::momentum_update(
                        p,
                        v,
                        g,
                        lr as f64,
                        lambda(w),
                        0.9f32 as f64,
                        nesterov,
                    )
                },
            );
            cases.push(
                Case::new(
                    format!("momentum_update nesterov={nesterov} {shape}"),
                    Kernel::MomentumUpdate,
                    "momentum_update".into(),
                    groups,
                )
                .read(0, &grad)
                .write(1, "param", Init::Values(&param), Some((&want_p, UPDATE)))
                .write(
                    2,
                    "velocity",
                    Init::Values(&m1),
                    Some((&want_v, FIRST_MOMENT)),
                )
                .uniform(
                    4,
                    &OptimParams {
                        len: len as u32,
                        decay_end: decay_end as u32,
                        l2,
                        momentum: opt.momentum,
                        nesterov: nesterov as u32,
                        ..Default::default()
                    },
                )
                .step(5, step),
            );
        }

        for weight_decay in [0.0f32, 0.01] {
            let opt = Optimizer::new(Method::Adam);
            let t = 3;
            let (bias1, bias2) = opt.bias_corrections(t);
            let (mut want_p, mut want_m, mut want_v) = (widen(&param), widen(&m1), widen(&m2));
            split_update(
                decay_end,
                &mut [&mut want_p, &mut want_m, &mut want_v],
                &g64,
                &mut |ts, g, w| {
                    let [p, m, v] = ts else { unreachable!() };
                    let wd = if w { weight_decay as f64 } else { 0.0 };
                    reference::adam_update(
                        p,
                        m,
                        v,
                        g,
                        lr as f64,
                        lambda(w),
                        wd,
                        (opt.beta1 as f64, opt.beta2 as f64),
                        opt.eps as f64,
                        t,
                    )
                },
            );
            cases.push(
                Case::new(
                    format!("adam_update weight_decay {weight_decay} t {t} {shape}"),
                    Kernel::AdamUpdate,
                    "adam_update".into(),
                    groups,
                )
                .read(0, &grad)
                .write(1, "param", Init::Values(&param), Some((&want_p, UPDATE)))
                .write(2, "m", Init::Values(&m1), Some((&want_m, FIRST_MOMENT)))
                .write(3, "v", Init::Values(&m2), Some((&want_v, SECOND_MOMENT)))
                .uniform(
                    4,
                    &OptimParams {
                        len: len as u32,
                        decay_end: decay_end as u32,
                        l2,
                        weight_decay,
                        beta1: opt.beta1,
                        beta2: opt.beta2,
                        eps: opt.eps,
                        ..Default::default()
                    },
                )
                .step(
                    5,
                    StepInfo {
                        lr,
                        t: t as u32,
                        bias1,
                        bias2,
                        ..Default::default()
                    },
                ),
            );
        }
    }
    cases
}

/// fma_peak (peak.wgsl, which `wgtrain bench` measures the adapter with): with b = 0 every chain
/// becomes c after one FMA, so with c = -1/32 each thread's sum of its 8 chains' 4 lanes is
/// exactly -1 and the store its condition normally never allows happens: io[2 + thread] =
/// 8c = -0.25 for every thread of two workgroups; the three elements after stay untouched.
fn peak_case() -> Case {
    let threads = 2 * WG_1D as usize;
    let c = -1.0f32 / 32.0;
    let mut io = vec![UNTOUCHED; 2 + threads + 3];
    io[0] = 0.0;
    io[1] = c;
    let mut want: Vec<f64> = io.iter().map(|&v| v as f64).collect();
    for w in &mut want[2..2 + threads] {
        *w = 8.0 * c as f64;
    }
    Case {
        name: format!("fma_peak b 0 c {c}: every one of {threads} threads stores"),
        kernel: None,
        module: "peak.wgsl",
        entry: "fma_peak".into(),
        bindings: vec![],
        groups: (2, 1, 1),
    }
    .write(0, "io", Init::Values(&io), Some((&want, EXACT)))
}

#[test]
#[ignore = "writes fixtures for scripts/dawn-check.sh; checks nothing by itself"]
fn write_dawn_fixtures() {
    let dir = std::env::var_os("WGTRAIN_DAWN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dawn-fixtures"));
    std::fs::create_dir_all(&dir).unwrap();
    // Most telling first: the matmul variants, their split-K halves, then the gather, the losses, the updates.
    let cases: Vec<Case> = [
        matmul_cases(),
        split_matmul_cases(),
        reduce_cases(),
        gather_cases(),
        loss_cases(),
        optimizer_cases(),
        vec![peak_case()],
    ]
    .into_iter()
    .flatten()
    .collect();
    // A kernel added to Kernel::ALL without cases here fails the writer, so dawn-check cannot
    // pass while missing an entry point.
    for kernel in Kernel::ALL {
        assert!(
            cases.iter().any(|c| c.kernel == Some(kernel)),
            "no Dawn case for {kernel:?}: add its cases to tests/dawn_fixtures.rs"
        );
    }
    let mut modules = serde_json::Map::new();
    for kernel in Kernel::ALL {
        let (file, source) = kernel.source();
        std::fs::write(dir.join(file), source).unwrap();
        modules.insert(file.to_string(), json!(file));
    }
    std::fs::write(dir.join("peak.wgsl"), include_str!("../shaders/peak.wgsl")).unwrap();
    modules.insert("peak.wgsl".into(), json!("peak.wgsl"));
    let entries: std::collections::BTreeSet<&str> =
        cases.iter().map(|c| c.entry.as_str()).collect();
    std::fs::write(
        dir.join("cases.json"),
        serde_json::to_string(&json!({
            "modules": modules,
            "cases": cases.iter().map(Case::to_json).collect::<Vec<_>>(),
        }))
        .unwrap(),
    )
    .unwrap();
    println!(
        "wrote {} cases of {} entry points to {}",
        cases.len(),
        entries.len(),
        dir.display()
    );
}
