//! A training set whose size is an exact multiple of the batch asks the GPU for the same work per
//! epoch as one with a tail batch: the same submissions, read-backs, plans, steps, dispatches and
//! primes, counted by the trainer (GpuCounters), never timed. Issue 17: on lavapipe the exact
//! multiple ran 3x slower per sample because its training kernels were only ever bound with one
//! batch shape, and lavapipe recompiled one of them at every dispatch.

mod common;
use common::*;

use wgtrain::data;
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::gpu::trainer::GpuCounters;
use wgtrain::testing::train::{Backend, Hyper};
use wgtrain::train::StopToken;

const BATCH: usize = 32;
const EPOCHS: usize = 3;

/// The counters' growth over each epoch (training and one evaluation pass) of digits 64-16-10
/// on its first `rows` training rows, evaluated on 40 test rows (a tail of 8).
fn counters_per_epoch(test: &str, rows: usize) -> Option<Vec<GpuCounters>> {
    let ctx = gpu(test)?;
    let split = data::load("digits", None).unwrap();
    let train = split.train.subset(&(0..rows).collect::<Vec<_>>());
    let eval = split.test.unwrap().subset(&(0..40).collect::<Vec<_>>());
    let spec = Spec::new(
        vec![64, 16, 10],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    let hp = Hyper {
        lr: 0.1,
        l2: 0.0,
        batch: BATCH,
        epochs: EPOCHS,
        seed: 3,
    };
    let params = Params::init(&spec, hp.seed);
    let mut t = GpuTrainer::new(ctx, &spec, &params, &train, Some(&eval), BATCH).unwrap();
    let perm: Vec<u32> = (0..rows as u32).collect();
    let lrs = vec![hp.lr; rows.div_ceil(BATCH)];
    let mut before = t.counters();
    let mut epochs = Vec::new();
    for _ in 0..EPOCHS {
        t.train_steps(&perm, &hp, &lrs, &StopToken::new()).unwrap();
        t.evaluate(0).unwrap();
        let now = t.counters();
        epochs.push(GpuCounters {
            submissions: now.submissions - before.submissions,
            read_backs: now.read_backs - before.read_backs,
            plans_built: now.plans_built - before.plans_built,
            steps: now.steps - before.steps,
            dispatches: now.dispatches - before.dispatches,
            primes: now.primes - before.primes,
        });
        before = now;
    }
    Some(epochs)
}

#[test]
fn an_exact_multiple_of_the_batch_does_the_same_gpu_work_per_epoch_as_a_tail_batch() {
    let test = "an_exact_multiple_of_the_batch_does_the_same_gpu_work_per_epoch_as_a_tail_batch";
    // 64 rows: two full steps; 63: a full step and a tail of 31.
    let Some(exact) = counters_per_epoch(test, 2 * BATCH) else {
        return;
    };
    let tail = counters_per_epoch(test, 2 * BATCH - 1).unwrap();
    for (e, (x, t)) in exact.iter().zip(&tail).enumerate() {
        assert_eq!(
            x,
            t,
            "epoch {}: 64 rows (no tail) did other GPU work than 63 rows (tail of 31)",
            e + 1
        );
    }
    // Both bind their training kernels with a second batch shape before the first step: the
    // tail's plan or one of a row fewer, with no workgroups, once.
    assert!(
        exact[0].primes > 0,
        "epoch 1 primed nothing: {:?}",
        exact[0]
    );
    for (e, x) in exact.iter().enumerate().skip(1) {
        assert_eq!(
            (x.plans_built, x.primes),
            (0, 0),
            "epoch {} built plans or primed again: {x:?}",
            e + 1
        );
        assert_eq!(x, &exact[1], "epoch {} differs from epoch 2", e + 1);
    }
}
