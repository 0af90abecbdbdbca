//! Shared test helpers: the one closeness checker, tolerances, seeded inputs, the GPU context,
//! the one scratch folder (in `scratch`), the one-kernel harness of the kernel parity tests (in
//! `kernels`) and its matmul checks (in `matmul`), the runner of the binary and readers of what
//! it prints (in `cli`), and a hand-written safetensors reader and writer (in
//! `checkpoint_file`).
// Every test binary compiles this whole module and each uses only part of it.
#![allow(dead_code)]

pub mod checkpoint_file;
pub mod diabetes;
// The binary, and so CARGO_BIN_EXE_wgtrain, exists only with the cli feature.
#[cfg(feature = "cli")]
pub mod cli;
pub mod kernels;
pub mod matmul;
pub mod scratch;
pub mod tabular;

use wgtrain::gpu::GpuContext;
use wgtrain::model::{Params, Spec};
use wgtrain::testing::Rng;

/// `|got - want| <= atol + rtol * |want|` elementwise.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    pub rtol: f64,
    pub atol: f64,
}

/// Elementwise ReLU, bias, gathers and copies: the same f32 operations in the same order.
pub const EXACT: Tol = Tol {
    rtol: 0.0,
    atol: 0.0,
};
/// sigmoid/tanh/exp: the adapter's transcendental functions differ from libm by a few ulp.
pub const TRANSCENDENTAL: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-6,
};
/// f32 matmul against f64 accumulation, K <= 1024: rounding grows like sqrt(K)·eps·|terms|.
pub const MATMUL: Tol = Tol {
    rtol: 1e-4,
    atol: 1e-5,
};
/// Whole-network f32 gradients against f64: errors compound through every layer.
pub const NETWORK: Tol = Tol {
    rtol: 1e-3,
    atol: 1e-5,
};
/// The f64 reference against central differences with h = 1e-6: truncation O(h²), rounding
/// O(eps/h) ≈ 1e-10 of the loss.
pub const FINITE_DIFF: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-8,
};

/// Fails with the worst element, both values and the violation count; rejects non-finite values.
#[track_caller]
pub fn assert_close<G: Copy + Into<f64>, W: Copy + Into<f64>>(
    name: &str,
    got: &[G],
    want: &[W],
    tol: Tol,
) {
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: {} values, expected {}",
        got.len(),
        want.len()
    );
    let mut worst: Option<(usize, f64)> = None;
    let mut violations = 0;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (g, w): (f64, f64) = (g.into(), w.into());
        assert!(g.is_finite(), "{name}[{i}]: got non-finite {g} (want {w})");
        assert!(w.is_finite(), "{name}[{i}]: want non-finite {w}");
        let excess = (g - w).abs() - (tol.atol + tol.rtol * w.abs());
        if excess > 0.0 {
            violations += 1;
            if worst.is_none_or(|(_, e)| excess > e) {
                worst = Some((i, excess));
            }
        }
    }
    if let Some((i, _)) = worst {
        let (g, w): (f64, f64) = (got[i].into(), want[i].into());
        panic!(
            "{name}: {violations} of {} values outside atol {} + rtol {}; worst at [{i}]: got {g:e}, want {w:e} (diff {:e})",
            got.len(),
            tol.atol,
            tol.rtol,
            (g - w).abs()
        );
    }
}

/// `n` uniform values in [lo, hi) from `seed`.
pub fn uniform(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| (lo + (hi - lo) * rng.next_f64()) as f32)
        .collect()
}

/// The GPU context for tests, on the adapter `adapter` finds, with wgtrain's usual limits.
pub fn gpu(test: &str) -> Option<GpuContext> {
    adapter(test).map(|a| GpuContext::from_adapter(a).unwrap())
}

/// The adapter for GPU tests: the best on the backends `WGPU_BACKEND` names (all when unset),
/// or the one whose name contains `WGPU_ADAPTER_NAME`, as the CLI picks (scripts/gpu-matrix.sh
/// runs the tests on each implementation this way). With no adapter this fails, saying how to
/// install one, unless WGTRAIN_SKIP_GPU=1 asks to skip: then it prints SKIPPED and returns None.
pub fn adapter(test: &str) -> Option<wgpu::Adapter> {
    let name = std::env::var("WGPU_ADAPTER_NAME")
        .ok()
        .filter(|n| !n.is_empty());
    let found =
        wgtrain::gpu::context::pick_named(wgtrain::gpu::BackendChoice::Auto, true, name.as_deref())
            .and_then(|a| {
                a.ok_or_else(|| {
                    wgtrain::Error::NoAdapter(format!(
                        "no GPU adapter found; {}",
                        wgtrain::gpu::context::INSTALL_HINT
                    ))
                })
            });
    match found {
        Ok(a) => Some(a),
        Err(e) if std::env::var("WGTRAIN_SKIP_GPU").is_ok_and(|v| v == "1") => {
            eprintln!("SKIPPED {test}: {e}");
            None
        }
        Err(e) => panic!("{test}: {e}. Set WGTRAIN_SKIP_GPU=1 to skip the GPU tests explicitly."),
    }
}

/// Seeded parameters with biases in [-0.5, 0.5] rather than zero, so a bias gradient or update
/// that is dropped or decayed shows. The weights are drawn here, not by `Params::init` (a
/// modelling choice that changed to Glorot-uniform in issue 16 part 8): the parity tests'
/// tolerances were set on these values, weights in `±sqrt(6/fan_in)` before relu-family layers
/// and `±sqrt(6/(fan_in+fan_out))` elsewhere, and Glorot's smaller weights shrink some gradients
/// of the six-layer sigmoid/linear stacks to the size of f32's summation error over 257 rows.
pub fn parameters(spec: &Spec, seed: u64) -> Params {
    use wgtrain::model::Activation;
    let mut rng = Rng::new(seed ^ 0x5eed_1417);
    let mut p = Params::zeros(spec);
    for (l, layer) in p.layers.iter_mut().enumerate() {
        let (fi, fo) = spec.layer_shape(l);
        let relu = l + 1 < spec.n_layers()
            && matches!(
                spec.layer_activation(l),
                Activation::Relu | Activation::LeakyRelu
            );
        let bound = if relu {
            (6.0 / fi as f64).sqrt()
        } else {
            (6.0 / (fi + fo) as f64).sqrt()
        };
        for w in layer.w.iter_mut() {
            *w = ((rng.next_f64() * 2.0 - 1.0) * bound) as f32;
        }
    }
    for (l, layer) in p.layers.iter_mut().enumerate() {
        layer.b = uniform(seed + 100 + l as u64, layer.b.len(), -0.5, 0.5);
    }
    p
}
