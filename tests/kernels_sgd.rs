//! sgd_update (sgd.wgsl) against its f64 CPU twin: decay only before decay_end, and a grid
//! smaller than the data.

mod common;

use common::kernels::{bytes, launch, seed_of, setup};
use common::{Tol, assert_close, uniform};
use wgtrain::cpu::reference::{self, widen};
use wgtrain::gpu::GpuContext;
use wgtrain::testing::gpu::kernels::{Kernel, Kernels, WG_1D, grid_1d};
use wgtrain::testing::gpu::uniforms::{SgdParams, StepInfo};

/// θ - lr·(g + 2λθ) in f32 with |θ|, |g| <= 1 and lr <= 0.1: four roundings of terms below 1.2,
/// each at most 2⁻²⁴ of them, so 3e-7 absolute (f64 reference on the same f32 inputs).
const UPDATE: Tol = Tol {
    rtol: 0.0,
    atol: 3e-7,
};

/// θ (len) -= lr·(g + 2λθ) with λ on [0, decay_end) only; θ and g in [-1, 1].
fn check_sgd(
    gpu: &(GpuContext, Kernels),
    len: usize,
    decay_end: usize,
    groups: Option<(u32, u32, u32)>,
) {
    let (lr, l2) = (0.1f32, 0.05f32);
    let seed = seed_of((len, decay_end, 0), 10);
    let grad = uniform(seed, len, -1.0, 1.0);
    let param = uniform(seed + 1, len, -1.0, 1.0);
    let got = launch(
        gpu,
        Kernel::SgdUpdate,
        &[bytes(&grad)],
        &[&param],
        &SgdParams {
            len: len as u32,
            decay_end: decay_end as u32,
            l2,
            _pad: 0,
        },
        Some(StepInfo {
            row_offset: 0,
            slot: 0,
            lr,
            ..Default::default()
        }),
        groups.unwrap_or_else(|| grid_1d(len, WG_1D)),
    );
    let mut want = widen(&param);
    let g = widen(&grad);
    let (w, b) = want.split_at_mut(decay_end);
    reference::sgd_update(w, &g[..decay_end], lr as f64, l2 as f64);
    reference::sgd_update(b, &g[decay_end..], lr as f64, 0.0);
    assert_close(
        &format!(
            "sgd_update len {len} decay_end {decay_end} lr {lr} l2 {l2} groups {groups:?} seed {seed:#x}"
        ),
        &got[0],
        &want,
        UPDATE,
    );
}

#[test]
fn sgd_update_decays_only_elements_before_decay_end() {
    let Some(g) = setup("sgd_update_decays_only_elements_before_decay_end") else {
        return;
    };
    for (len, decay_end) in [
        (1, 0),
        (1, 1),
        (257, 192),
        (1000, 700),
        (1000, 0),
        (1000, 1000),
    ] {
        check_sgd(&g, len, decay_end, None);
    }
}

#[test]
fn sgd_update_grid_stride_loop_covers_elements_beyond_the_dispatch() {
    let Some(g) = setup("sgd_update_grid_stride_loop_covers_elements_beyond_the_dispatch") else {
        return;
    };
    check_sgd(&g, 1000, 700, Some((1, 1, 1)));
    check_sgd(&g, 5000, 4100, Some((2, 1, 1)));
}
