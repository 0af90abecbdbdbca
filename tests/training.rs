//! Whole training runs: XOR converges, digits reaches 95% on both paths, the two paths agree
//! epoch by epoch, and two GPU runs with one seed are bitwise equal.

mod common;
use common::*;

use wgtrain::data::{self, Split};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::fast::CpuTrainer;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{self, Backend, Hyper};
use wgtrain::train::EpochReport;

/// Per-epoch mean losses of the GPU and CPU f32 paths: the same batches in the same order, but
/// different summation orders in every matmul, amplified a little by training.
const PATHS_AGREE: Tol = Tol {
    rtol: 2e-3,
    atol: 1e-5,
};

/// Trains with the test split (when `test`) evaluated every epoch.
fn run(backend: &mut dyn Backend, n: usize, hp: &Hyper, test: bool) -> Vec<EpochReport> {
    let roles: &[train::Role] = if test { &[train::Role::Test] } else { &[] };
    train::run(backend, n, hp, true, roles, &mut |_, _| {
        Ok(wgtrain::train::Flow::Continue)
    })
    .unwrap()
}

fn xor_spec() -> Spec {
    Spec::new(
        vec![2, 4, 1],
        vec![Activation::Sigmoid],
        Output::Sigmoid,
        Loss::Mse,
    )
    .unwrap()
}

fn xor_hyper() -> Hyper {
    Hyper {
        lr: 2.0,
        l2: 0.0,
        batch: 4,
        epochs: 2000,
        seed: 0,
    }
}

#[test]
fn xor_converges_on_the_cpu_path() {
    let split = data::load("xor", None).unwrap();
    let spec = xor_spec();
    let hp = xor_hyper();
    let mut t = CpuTrainer::new(
        &spec,
        Params::init(&spec, hp.seed),
        &split.train,
        None,
        hp.batch,
    )
    .unwrap();
    let reports = run(&mut t, 4, &hp, false);
    let last = reports.last().unwrap().train_loss;
    assert!(
        last < 0.01,
        "xor train loss {last} after {} epochs",
        hp.epochs
    );
}

#[test]
fn xor_converges_on_the_gpu_path() {
    let Some(ctx) = gpu("xor_converges_on_the_gpu_path") else {
        return;
    };
    let split = data::load("xor", None).unwrap();
    let spec = xor_spec();
    let hp = xor_hyper();
    let mut t = GpuTrainer::new(
        ctx,
        &spec,
        &Params::init(&spec, hp.seed),
        &split.train,
        None,
        hp.batch,
    )
    .unwrap();
    let reports = run(&mut t, 4, &hp, false);
    let last = reports.last().unwrap().train_loss;
    assert!(
        last < 0.01,
        "xor train loss {last} after {} epochs",
        hp.epochs
    );
}

fn digits() -> (Split, Spec, Hyper) {
    let split = data::load("digits", None).unwrap();
    let spec = Spec::new(
        vec![64, 64, 10],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    // 37 steps per epoch + a last batch of 29 rows (1437 = 44·32 + 29): the partial batch is trained.
    let hp = Hyper {
        lr: 0.1,
        l2: 1e-4,
        batch: 32,
        epochs: 10,
        seed: 7,
    };
    (split, spec, hp)
}

fn accuracy(r: &[EpochReport]) -> f64 {
    r.last().unwrap().test_accuracy.unwrap()
}

#[test]
fn digits_reaches_95_percent_on_both_paths_and_the_paths_agree_per_epoch() {
    let (split, spec, hp) = digits();
    let params = Params::init(&spec, hp.seed);
    let mut cpu = CpuTrainer::new(
        &spec,
        params.clone(),
        &split.train,
        split.test.as_ref(),
        hp.batch,
    )
    .unwrap();
    let cpu_reports = run(&mut cpu, split.train.n, &hp, true);
    assert!(
        accuracy(&cpu_reports) >= 0.95,
        "cpu test accuracy {}",
        accuracy(&cpu_reports)
    );
    let Some(ctx) = gpu("digits_reaches_95_percent_on_both_paths") else {
        return;
    };
    let mut gpu_t = GpuTrainer::new(
        ctx,
        &spec,
        &params,
        &split.train,
        split.test.as_ref(),
        hp.batch,
    )
    .unwrap();
    let gpu_reports = run(&mut gpu_t, split.train.n, &hp, true);
    assert!(
        accuracy(&gpu_reports) >= 0.95,
        "gpu test accuracy {}",
        accuracy(&gpu_reports)
    );
    let losses = |r: &[EpochReport]| r.iter().map(|e| e.train_loss).collect::<Vec<_>>();
    assert_close(
        "train loss per epoch, gpu vs cpu",
        &losses(&gpu_reports),
        &losses(&cpu_reports),
        PATHS_AGREE,
    );
    let test_losses =
        |r: &[EpochReport]| r.iter().map(|e| e.test_loss.unwrap()).collect::<Vec<_>>();
    assert_close(
        "test loss per epoch, gpu vs cpu",
        &test_losses(&gpu_reports),
        &test_losses(&cpu_reports),
        PATHS_AGREE,
    );
}

/// Standardised digits (bytes) stay bytes, with a scale and offset per feature, and both paths
/// train on them alike: the GPU's gather applies the same transform as the CPU's.
#[test]
fn standardised_byte_inputs_stay_bytes_and_the_paths_agree() {
    let (split, spec, mut hp) = digits();
    hp.epochs = 3;
    let z = wgtrain::data::standardize::Standardize::fit(&split.train);
    let train = z.apply_to(split.train.clone()).unwrap();
    let test = z.apply_to(split.test.clone().unwrap()).unwrap();
    assert!(
        matches!(train.x, wgtrain::data::Inputs::U8Affine { .. }),
        "standardised bytes were widened"
    );
    let params = Params::init(&spec, hp.seed);
    let mut cpu = CpuTrainer::new(&spec, params.clone(), &train, Some(&test), hp.batch).unwrap();
    let cpu_reports = run(&mut cpu, train.n, &hp, true);
    assert!(
        accuracy(&cpu_reports) >= 0.9,
        "cpu {}",
        accuracy(&cpu_reports)
    );
    let Some(ctx) = gpu("standardised_byte_inputs_stay_bytes_and_the_paths_agree") else {
        return;
    };
    let mut gpu_t = GpuTrainer::new(ctx, &spec, &params, &train, Some(&test), hp.batch).unwrap();
    let gpu_reports = run(&mut gpu_t, train.n, &hp, true);
    let losses = |r: &[EpochReport]| r.iter().map(|e| e.train_loss).collect::<Vec<_>>();
    assert_close(
        "standardised train loss per epoch, gpu vs cpu",
        &losses(&gpu_reports),
        &losses(&cpu_reports),
        PATHS_AGREE,
    );
}

#[test]
fn two_gpu_runs_with_one_seed_are_bitwise_equal() {
    let (split, spec, mut hp) = digits();
    hp.epochs = 3;
    let mut results = Vec::new();
    for run_index in 0..2 {
        let Some(ctx) = gpu("two_gpu_runs_with_one_seed_are_bitwise_equal") else {
            return;
        };
        let mut t = GpuTrainer::new(
            ctx,
            &spec,
            &Params::init(&spec, hp.seed),
            &split.train,
            split.test.as_ref(),
            hp.batch,
        )
        .unwrap();
        let reports = run(&mut t, split.train.n, &hp, true);
        let losses: Vec<u64> = reports.iter().map(|r| r.train_loss.to_bits()).collect();
        let params: Vec<u32> = t
            .params()
            .unwrap()
            .layers
            .iter()
            .flat_map(|l| l.w.iter().chain(&l.b).map(|v| v.to_bits()))
            .collect();
        results.push((run_index, losses, params));
    }
    assert_eq!(
        results[0].1, results[1].1,
        "train losses differ between two runs"
    );
    assert!(
        results[0].2 == results[1].2,
        "parameters differ between two runs"
    );
}

#[test]
fn different_seeds_give_different_runs() {
    // Guards the determinism test above against a trainer that ignores its inputs.
    let (split, spec, mut hp) = digits();
    hp.epochs = 1;
    let mut losses = Vec::new();
    for seed in [1, 2] {
        hp.seed = seed;
        let mut t = CpuTrainer::new(
            &spec,
            Params::init(&spec, seed),
            &split.train,
            None,
            hp.batch,
        )
        .unwrap();
        losses.push(run(&mut t, split.train.n, &hp, false)[0].train_loss);
    }
    assert_ne!(losses[0], losses[1]);
}
