//! The matmul kernels' checks against their f64 CPU twins on the same f32 inputs, one per form,
//! shared by tests/kernels_matmul.rs (one dispatch on a chosen grid) and tests/split_k.rs (the
//! split dispatch and its reduction, `run_split_once`).

use wgtrain::cpu::reference::{self, widen};
use wgtrain::gpu::GpuContext;
use wgtrain::model::Activation;
use wgtrain::testing::gpu::buffer::run_split_once;
use wgtrain::testing::gpu::kernels::{KSplit, Kernel, Kernels};
use wgtrain::testing::gpu::uniforms::MatmulParams;

use super::kernels::{Grid, UNWRITTEN, activation_outputs, bytes, launch, seed_of, variant};
use super::{MATMUL, assert_close, uniform};

/// How a check runs each matmul: one dispatch on a grid, or split into at most this many
/// slices of k (`KSplit::slices`; `usize::MAX`: one per 16-term step) and reduced.
#[derive(Clone, Copy)]
pub enum How {
    Grid(Grid),
    Split(usize),
}

impl From<Grid> for How {
    fn from(grid: Grid) -> How {
        How::Grid(grid)
    }
}

impl How {
    /// Runs `kernel` on host data as this says, panicking with its name on a GPU error.
    pub fn launch(
        self,
        gpu: &(GpuContext, Kernels),
        kernel: Kernel,
        inputs: &[&[u8]],
        outputs: &[&[f32]],
        params: &MatmulParams,
    ) -> Vec<Vec<f32>> {
        let (m, n, k) = (params.m as usize, params.n as usize, params.k as usize);
        match self {
            How::Grid(grid) => launch(
                gpu,
                kernel,
                inputs,
                outputs,
                params,
                None,
                grid(&gpu.1, m, n),
            ),
            How::Split(slices) => {
                let (ctx, kernels) = gpu;
                let split = KSplit::slices(k, slices);
                let groups = kernels.matmul_groups(m, n).unwrap();
                run_split_once(ctx, kernels, kernel, inputs, outputs, params, split, groups)
                    .unwrap_or_else(|e| panic!("{kernel:?} split {split:?}: {e}"))
            }
        }
    }

    /// `` or ` split 3 x 48`, for failure messages.
    pub fn describe(self, k: usize) -> String {
        match self {
            How::Grid(_) => String::new(),
            How::Split(slices) => {
                let s = KSplit::slices(k, slices);
                format!(" split {} x {}", s.splits, s.kslice)
            }
        }
    }
}

/// c (M, N) = act(x·w + b): x (M, K) in [-1, 1], w (K, N) scaled like Glorot so z is O(1).
pub fn check_matmul_forward(
    gpu: &(GpuContext, Kernels),
    shapes: &[(usize, usize, usize)],
    how: impl Into<How>,
) {
    let how = how.into();
    for &(m, k, n) in shapes {
        for act in Activation::ALL {
            let seed = seed_of((m, k, n), act.code() as u64);
            let x = uniform(seed, m * k, -1.0, 1.0);
            let s = (3.0 / k as f64).sqrt();
            let w = uniform(seed + 1, k * n, -s, s);
            let b = uniform(seed + 2, n, -0.5, 0.5);
            let got = how.launch(
                gpu,
                Kernel::MatmulForward,
                &[bytes(&x), bytes(&w), bytes(&b)],
                &[&vec![UNWRITTEN; m * n]],
                &MatmulParams::new(m, n, k, act.code()),
            );
            let mut want = vec![0.0; m * n];
            reference::matmul_forward(&mut want, &widen(&x), &widen(&w), &widen(&b), m, k, n, act);
            assert_close(
                &format!(
                    "matmul_forward variant {}{} {act} {m}x{k}x{n} seed {seed:#x}",
                    variant(gpu),
                    how.describe(k)
                ),
                &got[0],
                &want,
                MATMUL,
            );
        }
    }
}

/// c (M, N) = aᵀ·b and db (N) = Σ_k b[k, :], with a stored (K, M) (a batch of K input rows) and
/// b (K, N) (their dz, scaled by 1/K as a mean-loss gradient is). Overwriting: c and db start as
/// NaN. Accumulating (a later row chunk): they start as earlier chunks' sums, which must be kept.
pub fn check_matmul_backward_weight(
    gpu: &(GpuContext, Kernels),
    shapes: &[(usize, usize, usize)],
    accumulate: bool,
    how: impl Into<How>,
) {
    let how = how.into();
    for &(m, k, n) in shapes {
        let seed = seed_of((m, k, n), 7 + accumulate as u64);
        let x = uniform(seed, k * m, -1.0, 1.0);
        let dz = uniform(seed + 1, k * n, -1.0 / k as f64, 1.0 / k as f64);
        let (c0, db0) = if accumulate {
            (
                uniform(seed + 2, m * n, -1.0, 1.0),
                uniform(seed + 3, n, -1.0, 1.0),
            )
        } else {
            (vec![UNWRITTEN; m * n], vec![UNWRITTEN; n])
        };
        let got = how.launch(
            gpu,
            Kernel::MatmulBackwardWeight,
            &[bytes(&x), bytes(&dz)],
            &[&c0, &db0],
            &MatmulParams {
                accumulate: accumulate as u32,
                ..MatmulParams::new(m, n, k, 0)
            },
        );
        let mut want = vec![0.0; m * n];
        reference::matmul_backward_weight(&mut want, &widen(&x), &widen(&dz), k, m, n);
        let mut want_db = vec![0.0; n];
        reference::bias_backward(&mut want_db, &widen(&dz), k, n);
        if accumulate {
            want.iter_mut().zip(&c0).for_each(|(w, &c)| *w += c as f64);
            want_db
                .iter_mut()
                .zip(&db0)
                .for_each(|(w, &b)| *w += b as f64);
        }
        let name = format!(
            "matmul_backward_weight variant {}{} accumulate={accumulate} {m}x{k}x{n} seed {seed:#x}",
            variant(gpu),
            how.describe(k)
        );
        assert_close(&format!("{name}: dw"), &got[0], &want, MATMUL);
        assert_close(&format!("{name}: db"), &got[1], &want_db, MATMUL);
    }
}

/// c (M, N) = (a·bᵀ) ∘ act'(aux): a (M, K) the next layer's dz, b stored (N, K) its weights,
/// aux (M, N) this layer's activation outputs.
pub fn check_matmul_backward_input(
    gpu: &(GpuContext, Kernels),
    shapes: &[(usize, usize, usize)],
    how: impl Into<How>,
) {
    let how = how.into();
    for &(m, k, n) in shapes {
        for act in Activation::ALL {
            let seed = seed_of((m, k, n), 8 + act.code() as u64);
            let dz = uniform(seed, m * k, -1.0, 1.0);
            let s = (3.0 / k as f64).sqrt();
            let w = uniform(seed + 1, n * k, -s, s);
            let a = activation_outputs(act, seed + 2, m * n);
            let got = how.launch(
                gpu,
                Kernel::MatmulBackwardInput,
                &[bytes(&dz), bytes(&w), bytes(&a)],
                &[&vec![UNWRITTEN; m * n]],
                &MatmulParams::new(m, n, k, act.code()),
            );
            // The reference names the layer's shapes: dz (m, n_ref), w (k_ref, n_ref), a (m, k_ref).
            let mut want = vec![0.0; m * n];
            reference::matmul_backward_input(
                &mut want,
                &widen(&dz),
                &widen(&w),
                &widen(&a),
                m,
                n,
                k,
                act,
            );
            assert_close(
                &format!(
                    "matmul_backward_input variant {}{} {act} {m}x{k}x{n} seed {seed:#x}",
                    variant(gpu),
                    how.describe(k)
                ),
                &got[0],
                &want,
                MATMUL,
            );
        }
    }
}
