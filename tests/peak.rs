//! The measured fp32 peak of the GPU, against which `wgtrain bench` reports its matmuls.

mod common;

use common::gpu;

/// The FMA shader runs, and the figure is plausible: more than a slow software adapter's tenth
/// of a GFLOP/s, less than any card's few hundred TFLOP/s. A shader the compiler emptied would
/// report absurdly high; one that failed would not report.
#[test]
fn the_gpu_peak_measures_a_plausible_rate() {
    let Some(ctx) = gpu("the_gpu_peak_measures_a_plausible_rate") else {
        return;
    };
    let gflops = wgtrain::gpu::peak::measure(&ctx).unwrap();
    assert!(
        gflops > 0.1 && gflops < 1e6,
        "{gflops} GFLOP/s on {}",
        ctx.info.name
    );
}
