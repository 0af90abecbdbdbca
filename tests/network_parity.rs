//! Whole networks against the f64 reference: the GPU and fast CPU gradients of random networks
//! (depth 0-4, awkward widths, every activation and loss), and one SGD step with L2.

mod common;

use common::{NETWORK, assert_close, gpu, parameters, uniform};
use wgtrain::cpu::reference::{self, Net64, widen};
use wgtrain::data::{Dataset, Inputs, Targets};
use wgtrain::gpu::tuning::Setting;
use wgtrain::gpu::{GpuContext, MatmulVariant};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::Rng;
use wgtrain::testing::fast::CpuTrainer;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{Backend, Hyper};

/// The loss/output pairs a network can end in.
const HEADS: [(Loss, Output); 4] = [
    (Loss::CrossEntropy, Output::Softmax),
    (Loss::Bce, Output::Sigmoid),
    (Loss::Mse, Output::Linear),
    (Loss::Mse, Output::Sigmoid),
];

/// Widths that are not multiples of the 64-wide tile, one of them just over two tiles.
const WIDTHS: [usize; 5] = [1, 3, 17, 65, 130];

/// Rows in the gradient datasets, and the GPU trainer's batch: gradients are taken on 1, 257
/// and 300 of them, picked through a permutation.
const N_ROWS: usize = 320;
const BATCH: usize = 300;
const ROW_COUNTS: [usize; 3] = [1, 257, BATCH];

/// A network of `depth` hidden layers ending in `head`. Over depths 0..=4 every activation
/// appears (layer i of depth d uses `Activation::ALL[(d + i) % 5]`) and every width in WIDTHS.
fn network(head: (Loss, Output), depth: usize) -> Spec {
    let (loss, output) = head;
    let outputs = if loss == Loss::CrossEntropy {
        [2, 3, 10, 4, 2][depth]
    } else {
        [1, 3, 17, 1, 2][depth]
    };
    let mut sizes = vec![WIDTHS[(depth + 2) % 5]];
    sizes.extend((0..depth).map(|i| WIDTHS[(3 * depth + i) % 5]));
    sizes.push(outputs);
    let hidden = (0..depth)
        .map(|i| Activation::ALL[(depth + i) % 5])
        .collect();
    Spec::new(sizes, hidden, output, loss).unwrap()
}

fn describe(spec: &Spec) -> String {
    let hidden: Vec<_> = spec.hidden.iter().map(|a| a.name()).collect();
    format!(
        "{} {} sizes {:?} hidden {:?}",
        spec.loss, spec.output, spec.sizes, hidden
    )
}

/// `n` rows of inputs in [-1, 1] and targets that fit the loss: class labels for cross-entropy,
/// values in [0, 1] for bce and sigmoid mse, in [-1, 1] for linear mse. Returns the inputs too.
fn dataset(spec: &Spec, n: usize, seed: u64) -> (Dataset, Vec<f32>) {
    let (dim, width) = (spec.inputs(), spec.outputs());
    let x = uniform(seed, n * dim, -1.0, 1.0);
    let targets = match (spec.loss, spec.output) {
        (Loss::CrossEntropy, _) => {
            let mut rng = Rng::new(seed + 1);
            Targets::Classes {
                labels: (0..n).map(|_| rng.below(width) as u32).collect(),
                n_classes: width,
            }
        }
        (_, Output::Linear) => Targets::Values {
            values: uniform(seed + 1, n * width, -1.0, 1.0),
            width,
        },
        _ => Targets::Values {
            values: uniform(seed + 1, n * width, 0.0, 1.0),
            width,
        },
    };
    let data = Dataset::new("network parity", x.clone(), n, dim, targets).unwrap();
    (data, x)
}

/// The rows `rows` of a (n, width) matrix, widened to f64.
fn take_rows(all: &[f32], width: usize, rows: &[u32]) -> Vec<f64> {
    rows.iter()
        .flat_map(|&r| widen(&all[r as usize * width..(r as usize + 1) * width]))
        .collect()
}

/// A shuffled selection of `count` distinct rows of `n`.
fn pick_rows(n: usize, count: usize, seed: u64) -> Vec<u32> {
    let mut perm: Vec<u32> = (0..n as u32).collect();
    Rng::new(seed).shuffle(&mut perm);
    perm.truncate(count);
    perm
}

/// The reference's mean data loss and gradients on `rows` of `data`.
fn reference_gradients(
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    x: &[f32],
    rows: &[u32],
) -> (f64, Net64) {
    let xs = take_rows(x, spec.inputs(), rows);
    let ys = take_rows(&data.dense_targets(), spec.outputs(), rows);
    reference::gradients(spec, &Net64::from_params(params), &xs, &ys, rows.len(), 0.0)
}

/// Compares a path's mean loss and every layer's dW and db with the reference.
fn assert_gradients_close(name: &str, got: &(f64, Params), want: &(f64, Net64)) {
    assert_close(&format!("{name}: mean loss"), &[got.0], &[want.0], NETWORK);
    assert_eq!(got.1.layers.len(), want.1.w.len(), "{name}: layer count");
    for (l, layer) in got.1.layers.iter().enumerate() {
        assert_close(
            &format!("{name}: layer {l} dW"),
            &layer.w,
            &want.1.w[l],
            NETWORK,
        );
        assert_close(
            &format!("{name}: layer {l} db"),
            &layer.b,
            &want.1.b[l],
            NETWORK,
        );
    }
}

/// A GPU trainer with the matmul variant the adapter chooses (None) or a given one.
fn gpu_trainer(
    ctx: GpuContext,
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    batch: usize,
    variant: Option<MatmulVariant>,
) -> wgtrain::Result<GpuTrainer> {
    match variant {
        None => GpuTrainer::new(ctx, spec, params, data, None, batch),
        Some(v) => GpuTrainer::with_matmul(ctx, spec, params, data, None, batch, Setting::Force(v)),
    }
}

/// GPU gradients of every depth 0..=4 network ending in `head`, on 1, 257 and 300 rows, with
/// the adapter's matmul variant and then with the 128 one.
fn check_gpu_gradients(test: &str, head: (Loss, Output)) {
    for variant in [None, Some(MatmulVariant::Tile128)] {
        check_gpu_gradients_with(test, head, variant);
    }
}

fn check_gpu_gradients_with(test: &str, head: (Loss, Output), variant: Option<MatmulVariant>) {
    for depth in 0..=4 {
        let spec = network(head, depth);
        let seed = 1000 * (head.0.code() as u64 + 1) + 10 * depth as u64 + head.1 as u64;
        let params = parameters(&spec, seed);
        let (data, x) = dataset(&spec, N_ROWS, seed);
        let Some(ctx) = gpu(test) else {
            return;
        };
        let mut trainer = gpu_trainer(ctx, &spec, &params, &data, BATCH, variant)
            .unwrap_or_else(|e| panic!("{test}: {}: {e}", describe(&spec)));
        for count in ROW_COUNTS {
            let rows = pick_rows(N_ROWS, count, seed + count as u64);
            let name = format!(
                "gpu {} ({}) m {count} seed {seed}",
                describe(&spec),
                trainer.matmul_choice().describe()
            );
            let got = trainer
                .gradients(&rows)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = reference_gradients(&spec, &params, &data, &x, &rows);
            assert_gradients_close(&name, &got, &want);
        }
    }
}

#[test]
fn cross_entropy_softmax_network_gradients_on_gpu_match_reference() {
    check_gpu_gradients(
        "cross_entropy_softmax_network_gradients_on_gpu_match_reference",
        HEADS[0],
    );
}

#[test]
fn bce_sigmoid_network_gradients_on_gpu_match_reference() {
    check_gpu_gradients(
        "bce_sigmoid_network_gradients_on_gpu_match_reference",
        HEADS[1],
    );
}

#[test]
fn mse_linear_network_gradients_on_gpu_match_reference() {
    check_gpu_gradients(
        "mse_linear_network_gradients_on_gpu_match_reference",
        HEADS[2],
    );
}

#[test]
fn mse_sigmoid_network_gradients_on_gpu_match_reference() {
    check_gpu_gradients(
        "mse_sigmoid_network_gradients_on_gpu_match_reference",
        HEADS[3],
    );
}

#[test]
fn network_gradients_on_fast_cpu_match_reference_for_every_loss() {
    for head in HEADS {
        for depth in 0..=4 {
            let spec = network(head, depth);
            let seed = 2000 * (head.0.code() as u64 + 1) + 10 * depth as u64 + head.1 as u64;
            let params = parameters(&spec, seed);
            let (data, x) = dataset(&spec, N_ROWS, seed);
            // One thread, and three: rows, columns and layers shared out unevenly.
            for threads in [1, 3] {
                let mut trainer = CpuTrainer::new(&spec, params.clone(), &data, None, BATCH)
                    .and_then(|t| t.with_threads(threads))
                    .unwrap();
                for count in ROW_COUNTS {
                    let rows = pick_rows(N_ROWS, count, seed + count as u64);
                    let name = format!(
                        "fast cpu {threads} threads {} m {count} seed {seed}",
                        describe(&spec)
                    );
                    let got = trainer.gradients(&rows, 0.0);
                    let want = reference_gradients(&spec, &params, &data, &x, &rows);
                    assert_gradients_close(&name, &got, &want);
                }
            }
        }
    }
}

/// With l2 > 0 the fast CPU gradients gain 2λW on the weights and nothing on the biases, as the
/// reference's do. (Its loss is the data loss alone; the reference's objective adds λ‖W‖².)
#[test]
fn fast_cpu_gradients_with_l2_add_the_decay_term_to_weights_only() {
    let l2 = 0.01f32;
    for head in HEADS {
        let spec = network(head, 2);
        let seed = 2500 * (head.0.code() as u64 + 1) + head.1 as u64;
        let params = parameters(&spec, seed);
        let (data, x) = dataset(&spec, N_ROWS, seed);
        let mut trainer = CpuTrainer::new(&spec, params.clone(), &data, None, BATCH).unwrap();
        let rows = pick_rows(N_ROWS, BATCH, seed);
        let name = format!("fast cpu l2 {l2} {} m {BATCH} seed {seed}", describe(&spec));
        let (loss, got) = trainer.gradients(&rows, l2);
        let xs = take_rows(&x, spec.inputs(), &rows);
        let ys = take_rows(&data.dense_targets(), spec.outputs(), &rows);
        let net = Net64::from_params(&params);
        let (objective, want) = reference::gradients(&spec, &net, &xs, &ys, BATCH, l2 as f64);
        let data_loss = objective - net.l2_penalty(l2 as f64);
        assert_gradients_close(&name, &(loss, got), &(data_loss, want));
    }
}

/// One training step: a dataset of exactly one batch, trained for one epoch in a shuffled order
/// with l2 > 0, on `backend`; the batch loss, the parameters after the step and the step itself
/// (after - before, which NETWORK bounds too: lr <= 1 scales the gradient error down, and
/// rounding θ to f32 adds under 2e-7 < atol) must match `reference::train_step`.
fn check_one_step(
    name: &str,
    spec: &Spec,
    params: &Params,
    data: &Dataset,
    x: &[f32],
    perm: &[u32],
    backend: &mut dyn Backend,
) {
    let hp = Hyper {
        lr: 0.5,
        l2: 0.01,
        batch: perm.len(),
        epochs: 1,
        seed: 0,
    };
    let losses = backend
        .train_epoch(perm, &hp)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let after = backend.params().unwrap_or_else(|e| panic!("{name}: {e}"));
    let xs = take_rows(x, spec.inputs(), perm);
    let ys = take_rows(&data.dense_targets(), spec.outputs(), perm);
    let mut net = Net64::from_params(params);
    let want_loss = reference::train_step(
        spec,
        &mut net,
        &xs,
        &ys,
        perm.len(),
        hp.lr as f64,
        hp.l2 as f64,
    );
    assert_close(
        &format!("{name}: batch losses"),
        &losses,
        &[want_loss],
        NETWORK,
    );
    for (l, layer) in after.layers.iter().enumerate() {
        let before = &params.layers[l];
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
        let step = |new: &[f32], old: &[f32]| -> Vec<f64> {
            new.iter()
                .zip(old)
                .map(|(&a, &b)| a as f64 - b as f64)
                .collect()
        };
        let want_step = |new: &[f64], old: &[f32]| -> Vec<f64> {
            new.iter().zip(old).map(|(&a, &b)| a - b as f64).collect()
        };
        assert_close(
            &format!("{name}: layer {l} W step"),
            &step(&layer.w, &before.w),
            &want_step(&net.w[l], &before.w),
            NETWORK,
        );
        assert_close(
            &format!("{name}: layer {l} b step"),
            &step(&layer.b, &before.b),
            &want_step(&net.b[l], &before.b),
            NETWORK,
        );
    }
}

/// (depth, batch) of the one-step cases, run for every head.
const STEP_CASES: [(usize, usize); 3] = [(2, 300), (4, 37), (1, 1)];

#[test]
fn one_sgd_step_with_l2_on_gpu_matches_reference() {
    let test = "one_sgd_step_with_l2_on_gpu_matches_reference";
    for head in HEADS {
        for ((depth, batch), variant) in STEP_CASES
            .into_iter()
            .flat_map(|c| [(c, None), (c, Some(MatmulVariant::Tile128))])
        {
            let spec = network(head, depth);
            let seed = 3000 * (head.0.code() as u64 + 1) + 10 * depth as u64 + head.1 as u64;
            let params = parameters(&spec, seed);
            let (data, x) = dataset(&spec, batch, seed);
            let perm = pick_rows(batch, batch, seed + 1);
            let Some(ctx) = gpu(test) else {
                return;
            };
            let mut trainer = gpu_trainer(ctx, &spec, &params, &data, batch, variant)
                .unwrap_or_else(|e| panic!("{test}: {}: {e}", describe(&spec)));
            let name = format!(
                "gpu step {} ({}) batch {batch} seed {seed}",
                describe(&spec),
                trainer.matmul_choice().describe()
            );
            check_one_step(&name, &spec, &params, &data, &x, &perm, &mut trainer);
        }
    }
}

#[test]
fn one_sgd_step_with_l2_on_fast_cpu_matches_reference() {
    for head in HEADS {
        for (depth, batch) in STEP_CASES {
            let spec = network(head, depth);
            let seed = 4000 * (head.0.code() as u64 + 1) + 10 * depth as u64 + head.1 as u64;
            let params = parameters(&spec, seed);
            let (data, x) = dataset(&spec, batch, seed);
            let perm = pick_rows(batch, batch, seed + 1);
            let mut trainer = CpuTrainer::new(&spec, params.clone(), &data, None, batch).unwrap();
            let name = format!(
                "fast cpu step {} batch {batch} seed {seed}",
                describe(&spec)
            );
            check_one_step(&name, &spec, &params, &data, &x, &perm, &mut trainer);
        }
    }
}

/// Inputs kept as bytes (scaled on the fly; 33 per row, so rows straddle the GPU's u32 words
/// and the buffer needs padding) give the reference's gradients on the scaled values.
#[test]
fn byte_inputs_give_reference_gradients_on_gpu_and_fast_cpu() {
    let test = "byte_inputs_give_reference_gradients_on_gpu_and_fast_cpu";
    let spec = Spec::new(
        vec![33, 17, 10],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    let (n, seed, scale) = (301, 5000, 1.0f32 / 255.0);
    let params = parameters(&spec, seed);
    let mut rng = Rng::new(seed);
    let bytes: Vec<u8> = (0..n * spec.inputs())
        .map(|_| rng.below(256) as u8)
        .collect();
    let x: Vec<f32> = bytes.iter().map(|&b| b as f32 * scale).collect();
    let labels = (0..n).map(|_| rng.below(spec.outputs()) as u32).collect();
    let data = Dataset::with_inputs(
        "byte inputs",
        Inputs::U8 { data: bytes, scale },
        n,
        spec.inputs(),
        Targets::Classes {
            labels,
            n_classes: spec.outputs(),
        },
    )
    .unwrap();
    let mut cpu = CpuTrainer::new(&spec, params.clone(), &data, None, BATCH).unwrap();
    let mut gpu_trainer = gpu(test).map(|ctx| {
        GpuTrainer::new(ctx, &spec, &params, &data, None, BATCH)
            .unwrap_or_else(|e| panic!("{test}: {e}"))
    });
    for count in ROW_COUNTS {
        let rows = pick_rows(n, count, seed + count as u64);
        let want = reference_gradients(&spec, &params, &data, &x, &rows);
        let name = format!("byte inputs {} m {count} seed {seed}", describe(&spec));
        let got = cpu.gradients(&rows, 0.0);
        assert_gradients_close(&format!("fast cpu {name}"), &got, &want);
        if let Some(t) = gpu_trainer.as_mut() {
            let got = t
                .gradients(&rows)
                .unwrap_or_else(|e| panic!("gpu {name}: {e}"));
            assert_gradients_close(&format!("gpu {name}"), &got, &want);
        }
    }
}

/// Outputs far wider than the loss kernel's workgroup (thousands of classes, or of bce/mse
/// targets): its rows then run one workgroup each.
#[test]
fn networks_with_thousands_of_outputs_on_gpu_match_reference() {
    let test = "networks_with_thousands_of_outputs_on_gpu_match_reference";
    for (i, head) in HEADS.into_iter().enumerate() {
        let spec = Spec::new(vec![9, 17, 4999], vec![Activation::Tanh], head.1, head.0).unwrap();
        let seed = 5000 + i as u64;
        let params = parameters(&spec, seed);
        let (data, x) = dataset(&spec, 40, seed);
        let Some(ctx) = gpu(test) else {
            return;
        };
        let mut trainer = GpuTrainer::new(ctx, &spec, &params, &data, None, 37)
            .unwrap_or_else(|e| panic!("{test}: {}: {e}", describe(&spec)));
        for count in [1, 37] {
            let rows = pick_rows(40, count, seed + count as u64);
            let name = format!("gpu {} m {count} seed {seed}", describe(&spec));
            let got = trainer
                .gradients(&rows)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = reference_gradients(&spec, &params, &data, &x, &rows);
            assert_gradients_close(&name, &got, &want);
        }
    }
}
