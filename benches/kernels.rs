//! GEMM kernels: the GPU matmul entry points and the CPU GEMM, throughput in flop (2·m·n·k per
//! call, reported by criterion as "elements"). The GPU side records the dispatches back to back
//! in one submission and waits for the device before the clock stops; nothing is read back.
//! Each kernel's result is checked against the CPU once before it is timed.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wgtrain::gpu::tuning;
use wgtrain::gpu::{BackendChoice, GpuContext};
use wgtrain::testing::fast::sgemm;
use wgtrain::testing::gpu::buffer::{run_once, run_timed};
use wgtrain::testing::gpu::kernels::{Kernel, Kernels};
use wgtrain::testing::gpu::uniforms::MatmulParams;

const SHAPES: [(usize, usize, usize); 4] = [
    (64, 784, 128),
    (256, 256, 256),
    (1024, 784, 1024),
    (1024, 1024, 1024),
];

fn gpu() -> Option<(GpuContext, Kernels)> {
    let ctx = GpuContext::new(BackendChoice::Auto).ok()?;
    let kernels = Kernels::new(&ctx, tuning::rule(&ctx.info)).ok()?;
    Some((ctx, kernels))
}

/// The forward kernel's output on small integers against the CPU GEMM: exact in f32.
fn validate(ctx: &GpuContext, kernels: &Kernels, (m, k, n): (usize, usize, usize)) {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 2.0).collect();
    let mut want = vec![0f32; m * n];
    sgemm(m, k, n, 1.0, (&a, k, 1), (&b, n, 1), 0.0, &mut want);
    let params = MatmulParams::new(m, n, k, 0);
    let got = run_once(
        ctx,
        kernels,
        Kernel::MatmulForward,
        &[
            bytemuck::cast_slice(&a),
            bytemuck::cast_slice(&b),
            bytemuck::cast_slice(&vec![0f32; n]),
        ],
        &[&vec![f32::NAN; m * n]],
        &params,
        None,
        kernels.matmul_groups(m, n).unwrap(),
    )
    .unwrap();
    assert_eq!(
        got[0], want,
        "matmul_forward {m}x{k}x{n} differs from the CPU GEMM"
    );
}

fn kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul (throughput: flop)");
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    for (m, k, n) in SHAPES {
        group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; k * n];
        let mut out = vec![0f32; m * n];
        group.bench_function(
            BenchmarkId::new("cpu sgemm", format!("{m}x{k}x{n}")),
            |bench| bench.iter(|| sgemm(m, k, n, 1.0, (&a, k, 1), (&b, n, 1), 0.0, &mut out)),
        );
    }
    match gpu() {
        Some((ctx, kernels)) => {
            println!("adapter: {}", ctx.describe());
            for shape in SHAPES {
                validate(&ctx, &kernels, shape);
            }
            for (m, k, n) in SHAPES {
                group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
                for (kernel, name, (mm, kk, nn)) in [
                    (Kernel::MatmulForward, "gpu matmul_forward", (m, k, n)),
                    (
                        Kernel::MatmulBackwardWeight,
                        "gpu matmul_backward_weight",
                        (m, k, n),
                    ),
                    (
                        Kernel::MatmulBackwardInput,
                        "gpu matmul_backward_input",
                        (m, k, n),
                    ),
                ] {
                    let aux = if kernel == Kernel::MatmulBackwardInput {
                        mm * nn
                    } else {
                        nn
                    };
                    let params = MatmulParams::new(mm, nn, kk, 0);
                    let groups = kernels.matmul_groups(mm, nn).unwrap();
                    group.bench_function(BenchmarkId::new(name, format!("{m}x{k}x{n}")), |bench| {
                        bench.iter_custom(|iters| {
                            let secs = run_timed(
                                &ctx,
                                &kernels,
                                kernel,
                                &[mm * kk, kk * nn, aux],
                                mm * nn,
                                &params,
                                groups,
                                iters as usize,
                            )
                            .unwrap();
                            Duration::from_secs_f64(secs)
                        })
                    });
                }
            }
        }
        None => println!("no GPU adapter: GPU kernels not measured"),
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = kernels
}
criterion_main!(benches);
