//! The one-kernel harness shared by the kernel parity tests (tests/kernels_*.rs): every kernel
//! compiled, the matmul ones in every variant, a launcher that names the kernel on failure, and
//! the sentinels written into outputs.

use bytemuck::Pod;
use wgtrain::cpu::reference;
use wgtrain::gpu::GpuContext;
use wgtrain::model::{Activation, Loss};
use wgtrain::testing::Rng;
use wgtrain::testing::gpu::buffer::run_once;
use wgtrain::testing::gpu::kernels::{Kernel, Kernels, MatmulVariant, matmul_groups};
use wgtrain::testing::gpu::uniforms::StepInfo;

use super::{gpu, uniform};

/// Written into every output before a launch: a kernel that skips an element leaves a NaN, which
/// `assert_close` rejects, and one that accumulates into its output turns the element into NaN.
pub const UNWRITTEN: f32 = f32::NAN;

/// A value the kernel must leave alone (outside the rows or stats slot it owns).
pub const UNTOUCHED: f32 = -12345.0;

/// The context and every kernel, the matmul ones in every variant (the 64 one active).
pub fn setup(test: &str) -> Option<(GpuContext, Kernels)> {
    let ctx = gpu(test)?;
    let kernels =
        Kernels::with_matmul(&ctx, &MatmulVariant::ALL).unwrap_or_else(|e| panic!("{test}: {e}"));
    Some((ctx, kernels))
}

/// Runs `check` once with each matmul variant active, whatever the adapter would choose.
pub fn for_each_variant(g: &mut (GpuContext, Kernels), check: impl Fn(&(GpuContext, Kernels))) {
    for v in MatmulVariant::ALL {
        g.1.set_matmul_variant(v).unwrap();
        check(g);
    }
}

/// A matmul's workgroups: the active variant's own grid, or the grid of 64-tiles that
/// `matmul_groups` gives for any variant.
pub type Grid = fn(&Kernels, usize, usize) -> (u32, u32, u32);
pub const OWN_GRID: Grid = |k, m, n| k.matmul_groups(m, n).unwrap();
pub const GRID_OF_64: Grid = |_, m, n| matmul_groups(m, n).unwrap();

/// `64` or `128`, for test names.
pub fn variant(gpu: &(GpuContext, Kernels)) -> &'static str {
    gpu.1.matmul_variant().name()
}

pub fn bytes<T: Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// `run_once`, panicking with the kernel's name on a GPU error.
pub fn launch(
    (ctx, kernels): &(GpuContext, Kernels),
    kernel: Kernel,
    inputs: &[&[u8]],
    outputs: &[&[f32]],
    params: &impl Pod,
    step: Option<StepInfo>,
    groups: (u32, u32, u32),
) -> Vec<Vec<f32>> {
    run_once(ctx, kernels, kernel, inputs, outputs, params, step, groups)
        .unwrap_or_else(|e| panic!("{kernel:?}: {e}"))
}

/// A seed per (shape, activation), so every case draws different numbers.
pub fn seed_of(shape: (usize, usize, usize), salt: u64) -> u64 {
    let (m, k, n) = shape;
    ((m as u64) << 40) ^ ((k as u64) << 20) ^ (n as u64) ^ (salt << 56)
}

/// Plausible outputs of `act`: act(z) for z uniform in [-2, 2], rounded to f32. Relu gives
/// exact zeros for about half of them, leaky-relu small negatives.
pub fn activation_outputs(act: Activation, seed: u64, len: usize) -> Vec<f32> {
    uniform(seed, len, -2.0, 2.0)
        .iter()
        .map(|&z| reference::activation_forward(act, z as f64) as f32)
        .collect()
}

/// Outputs and dense targets for a loss (tests/kernels_loss.rs, and the Dawn fixtures): logits for cross-entropy (one-hot y) and bce (y in
/// [0, 1], a few exactly 0 or 1), outputs for mse (sigmoid outputs in (0, 1) when asked).
pub fn loss_inputs(
    loss: Loss,
    sigmoid_out: bool,
    m: usize,
    n: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    match loss {
        Loss::CrossEntropy => {
            let out = uniform(seed + 1, m * n, -4.0, 4.0);
            let mut y = vec![0.0; m * n];
            for i in 0..m {
                y[i * n + rng.below(n)] = 1.0;
            }
            (out, y)
        }
        Loss::Bce => {
            let out = uniform(seed + 1, m * n, -6.0, 6.0);
            let mut y = uniform(seed + 2, m * n, 0.0, 1.0);
            for (i, t) in y.iter_mut().enumerate() {
                match i % 7 {
                    0 => *t = 0.0,
                    1 => *t = 1.0,
                    _ => {}
                }
            }
            (out, y)
        }
        Loss::Mse if sigmoid_out => {
            let out = activation_outputs(Activation::Sigmoid, seed + 1, m * n);
            (out, uniform(seed + 2, m * n, 0.0, 1.0))
        }
        Loss::Mse => (
            uniform(seed + 1, m * n, -2.0, 2.0),
            uniform(seed + 2, m * n, -2.0, 2.0),
        ),
    }
}
