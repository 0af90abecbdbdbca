//! The optimisers against their f64 twins through whole training steps: two epochs on the GPU
//! and the fast CPU path against `reference::optimizer_step`, for every optimiser, and the state
//! a backend is given reads back unchanged. The update kernels alone are in kernels_optim.rs.

mod common;

use common::{NETWORK, assert_close, gpu, parameters, uniform};
use wgtrain::cpu::reference::{self, Net64, State64, widen};
use wgtrain::data::{Dataset, Targets};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::optim::{Method, OptimState, Optimizer};
use wgtrain::testing::Rng;
use wgtrain::testing::fast::CpuTrainer;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{Backend, Hyper};

/// Every optimiser with non-default values where they matter, and its base learning rate.
fn optimizers() -> [(Optimizer, f32); 5] {
    let with = |method, f: fn(&mut Optimizer)| {
        let mut o = Optimizer::new(method);
        f(&mut o);
        o
    };
    [
        (Optimizer::new(Method::Sgd), 0.5),
        (with(Method::Momentum, |o| o.momentum = 0.8), 0.2),
        (with(Method::Nesterov, |o| o.momentum = 0.9), 0.1),
        (with(Method::Adam, |o| o.beta1 = 0.8), 0.01),
        (with(Method::AdamW, |o| o.weight_decay = 0.5), 0.01),
    ]
}

/// Two networks: ReLU into softmax over widths that miss the 64-wide tile, and tanh into a
/// sigmoid mse head.
fn networks() -> [Spec; 2] {
    [
        Spec::new(
            vec![17, 65, 3, 10],
            vec![Activation::Relu, Activation::LeakyRelu],
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap(),
        Spec::new(
            vec![5, 7, 2],
            vec![Activation::Tanh],
            Output::Sigmoid,
            Loss::Mse,
        )
        .unwrap(),
    ]
}

/// `n` rows in [-1, 1] with class labels (cross-entropy) or targets in [0, 1].
fn dataset(spec: &Spec, n: usize, seed: u64) -> (Dataset, Vec<f32>) {
    let (dim, width) = (spec.inputs(), spec.outputs());
    let x = uniform(seed, n * dim, -1.0, 1.0);
    let targets = if spec.loss == Loss::CrossEntropy {
        let mut rng = Rng::new(seed + 1);
        Targets::Classes {
            labels: (0..n).map(|_| rng.below(width) as u32).collect(),
            n_classes: width,
        }
    } else {
        Targets::Values {
            values: uniform(seed + 1, n * width, 0.0, 1.0),
            width,
        }
    };
    (
        Dataset::new("optim parity", x.clone(), n, dim, targets).unwrap(),
        x,
    )
}

fn take_rows(all: &[f32], width: usize, rows: &[u32]) -> Vec<f64> {
    rows.iter()
        .flat_map(|&r| widen(&all[r as usize * width..(r as usize + 1) * width]))
        .collect()
}

/// Rows, batch: epochs of three steps of 37, 37 and 16 rows (a partial last batch).
const ROWS: usize = 90;
const BATCH: usize = 37;

/// Six steps (two epochs of three, shuffled, a different lr each) with λ > 0 on `backend`,
/// from `params` and a fresh `opt`; losses, parameters, optimiser state and step count against
/// `reference::optimizer_step` run on the same batches.
fn check_steps(
    name: &str,
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    x: &[f32],
    (opt, lr): (Optimizer, f32),
    backend: &mut dyn Backend,
) {
    let hp = Hyper {
        lr,
        l2: 0.01,
        batch: BATCH,
        epochs: 1,
        seed: 0,
    };
    // Two epochs, each its own call: the update count must carry from one call to the next.
    let mut perms = Vec::new();
    let mut perm: Vec<u32> = (0..ROWS as u32).collect();
    let mut rng = Rng::new(7);
    for _ in 0..2 {
        rng.shuffle(&mut perm);
        perms.push(perm.clone());
    }
    let lrs = [[lr, 0.5 * lr, 0.25 * lr], [0.2 * lr, 0.1 * lr, 0.05 * lr]];
    backend
        .set_optimizer(&OptimState::new(opt, spec))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut losses = Vec::new();
    for (perm, lrs) in perms.iter().zip(&lrs) {
        losses.extend(
            backend
                .train_steps(perm, &hp, lrs, &wgtrain::train::StopToken::new())
                .unwrap_or_else(|e| panic!("{name}: {e}")),
        );
    }
    let after = backend.params().unwrap_or_else(|e| panic!("{name}: {e}"));
    let state = backend
        .optimizer_state()
        .unwrap_or_else(|e| panic!("{name}: {e}"));

    let y = data.dense_targets();
    let mut net = Net64::from_params(params);
    let mut want_state = State64::new(&opt, &net);
    let mut want_losses = Vec::new();
    for (perm, lrs) in perms.iter().zip(&lrs) {
        for (rows, &lr) in perm.chunks(BATCH).zip(lrs) {
            let xs = take_rows(x, spec.inputs(), rows);
            let ys = take_rows(&y, spec.outputs(), rows);
            want_losses.push(reference::optimizer_step(
                spec,
                &mut net,
                &mut want_state,
                &xs,
                &ys,
                rows.len(),
                lr as f64,
                hp.l2 as f64,
                &opt,
            ));
        }
    }
    assert_close(
        &format!("{name}: batch losses"),
        &losses,
        &want_losses,
        NETWORK,
    );
    assert_eq!(state.step, 6, "{name}: optimizer step count");
    assert_eq!(state.optimizer, opt, "{name}: optimizer");
    assert_eq!(
        state.slots.len(),
        opt.method.slots().len(),
        "{name}: state slots"
    );
    for (l, layer) in after.layers.iter().enumerate() {
        assert_close(
            &format!("{name}: layer {l} W"),
            &layer.w,
            &net.w[l],
            NETWORK,
        );
        assert_close(
            &format!("{name}: layer {l} b"),
            &layer.b,
            &net.b[l],
            NETWORK,
        );
        for (k, slot) in opt.method.slots().iter().enumerate() {
            let got = &state.slots[k].layers[l];
            let want = &want_state.slots[k];
            assert_close(
                &format!("{name}: layer {l} W {slot}"),
                &got.w,
                &want.w[l],
                NETWORK,
            );
            assert_close(
                &format!("{name}: layer {l} b {slot}"),
                &got.b,
                &want.b[l],
                NETWORK,
            );
        }
    }
}

#[test]
fn two_epochs_of_every_optimizer_on_fast_cpu_match_reference() {
    for (i, spec) in networks().iter().enumerate() {
        for (j, opt) in optimizers().into_iter().enumerate() {
            let seed = 7000 + 10 * i as u64 + j as u64;
            let params = parameters(spec, seed);
            let (data, x) = dataset(spec, ROWS, seed);
            // Two threads split the batch's 37 rows by rows, three by each GEMM's larger side.
            for threads in [1, 2, 3] {
                let mut t = CpuTrainer::new(spec, params.clone(), &data, None, BATCH)
                    .and_then(|t| t.with_threads(threads))
                    .unwrap();
                let name = format!(
                    "fast cpu {threads} threads {} {} seed {seed}",
                    spec.describe(),
                    opt.0.describe()
                );
                check_steps(&name, spec, &params, &data, &x, opt, &mut t);
            }
        }
    }
}

#[test]
fn two_epochs_of_every_optimizer_on_gpu_match_reference() {
    let test = "two_epochs_of_every_optimizer_on_gpu_match_reference";
    for (i, spec) in networks().iter().enumerate() {
        for (j, opt) in optimizers().into_iter().enumerate() {
            let seed = 8000 + 10 * i as u64 + j as u64;
            let params = parameters(spec, seed);
            let (data, x) = dataset(spec, ROWS, seed);
            let Some(ctx) = gpu(test) else {
                return;
            };
            let mut t = GpuTrainer::new(ctx, spec, &params, &data, None, BATCH)
                .unwrap_or_else(|e| panic!("{test}: {e}"));
            let name = format!("gpu {} {} seed {seed}", spec.describe(), opt.0.describe());
            check_steps(&name, spec, &params, &data, &x, opt, &mut t);
        }
    }
}

/// A state set on a backend reads back unchanged (what a checkpoint saves is what runs).
#[test]
fn optimizer_state_set_on_gpu_and_cpu_reads_back_bit_for_bit() {
    let test = "optimizer_state_set_on_gpu_and_cpu_reads_back_bit_for_bit";
    let spec = &networks()[0];
    let params = parameters(spec, 9000);
    let (data, _) = dataset(spec, ROWS, 9000);
    let mut state = OptimState::new(Optimizer::new(Method::AdamW), spec);
    state.step = 12345;
    for (k, slot) in state.slots.iter_mut().enumerate() {
        for (l, layer) in slot.layers.iter_mut().enumerate() {
            let seed = 9100 + 10 * k as u64 + l as u64;
            layer.w = uniform(seed, layer.w.len(), 0.0, 1.0);
            layer.b = uniform(seed + 5, layer.b.len(), 0.0, 1.0);
        }
    }
    let mut cpu = CpuTrainer::new(spec, params.clone(), &data, None, BATCH).unwrap();
    cpu.set_optimizer(&state).unwrap();
    assert_eq!(cpu.optimizer_state().unwrap(), state, "fast cpu");
    let Some(ctx) = gpu(test) else {
        return;
    };
    let mut g = GpuTrainer::new(ctx, spec, &params, &data, None, BATCH).unwrap();
    g.set_optimizer(&state).unwrap();
    assert_eq!(g.optimizer_state().unwrap(), state, "gpu");
}
