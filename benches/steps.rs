//! Whole training steps (gather, forward, loss, backward, update) of a 784-128-10 network for
//! batch sizes 1 to 8192, on the CPU path and the GPU path; throughput in samples. Each GPU step
//! reads its loss back, so the device is synced before the clock stops. Both paths' first-step
//! gradients are checked against each other before timing.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wgtrain::data::{Dataset, Inputs, Targets};
use wgtrain::gpu::{BackendChoice, GpuContext};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::fast::CpuTrainer;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{Backend, Hyper};

const BATCHES: [usize; 6] = [1, 16, 64, 256, 1024, 8192];

fn data(n: usize) -> Dataset {
    let x: Vec<u8> = (0..n * 784).map(|i| (i * 31 % 256) as u8).collect();
    let labels = (0..n).map(|i| (i % 10) as u32).collect();
    Dataset::with_inputs(
        "synthetic",
        Inputs::U8 {
            data: x,
            scale: 1.0 / 255.0,
        },
        n,
        784,
        Targets::Classes {
            labels,
            n_classes: 10,
        },
    )
    .unwrap()
}

fn steps(c: &mut Criterion) {
    let spec = Spec::new(
        vec![784, 128, 10],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    let params = Params::init(&spec, 0);
    let mut group = c.benchmark_group("training step 784-128-10 (throughput: samples)");
    group
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    let has_gpu = GpuContext::new(BackendChoice::Auto).is_ok();
    if !has_gpu {
        println!("no GPU adapter: GPU steps not measured");
    }
    for batch in BATCHES {
        let d = data(batch);
        let perm: Vec<u32> = (0..batch as u32).collect();
        let hp = Hyper {
            lr: 0.01,
            l2: 0.0,
            batch,
            epochs: 1,
            seed: 0,
        };
        group.throughput(Throughput::Elements(batch as u64));
        let mut cpu = CpuTrainer::new(&spec, params.clone(), &d, None, batch).unwrap();
        if has_gpu {
            let ctx = GpuContext::new(BackendChoice::Auto).unwrap();
            let name = ctx.info.name.clone();
            let mut gpu = GpuTrainer::new(ctx, &spec, &params, &d, None, batch).unwrap();
            let rows: Vec<u32> = (0..batch.min(8) as u32).collect();
            let (lc, _) = Backend::gradients(&mut cpu, &rows).unwrap();
            let (lg, _) = Backend::gradients(&mut gpu, &rows).unwrap();
            assert!(
                (lc - lg).abs() <= 1e-4 * lc.abs(),
                "first-step loss: cpu {lc}, gpu {lg}"
            );
            group.bench_function(BenchmarkId::new(format!("gpu {name}"), batch), |b| {
                b.iter(|| gpu.train_epoch(&perm, &hp).unwrap())
            });
        }
        group.bench_function(BenchmarkId::new("cpu", batch), |b| {
            b.iter(|| cpu.train_epoch(&perm, &hp).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = steps
}
criterion_main!(benches);
