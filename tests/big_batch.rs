//! Batches wider than one storage binding: with the binding limit forced low, the GPU trainer
//! runs each step as row chunks and must still compute the whole batch's gradients, loss and
//! update (checked against the f64 reference), and say so clearly when not even one row fits.

mod common;

use common::{NETWORK, assert_close, gpu};
use wgtrain::cpu::reference::{self, Net64, widen};
use wgtrain::data::{Dataset, Inputs, Targets};
use wgtrain::gpu::tuning::Setting;
use wgtrain::gpu::{GpuContext, MatmulVariant};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{Backend, Hyper};

const N: usize = 300;
/// 16 floats (the widest layer) × 64 rows: batches of 300 run as 4 chunks of 64 and one of 44.
const LOW_LIMIT: u64 = 16 * 4 * 64;

fn spec() -> Spec {
    Spec::new(
        vec![8, 16, 3],
        vec![Activation::Tanh],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap()
}

fn data() -> Dataset {
    let x: Vec<u8> = (0..N * 8).map(|i| (i * 37 % 251) as u8).collect();
    let labels = (0..N).map(|i| ((i * 7) % 3) as u32).collect();
    Dataset::with_inputs(
        "bytes",
        Inputs::U8 {
            data: x,
            scale: 1.0 / 255.0,
        },
        N,
        8,
        Targets::Classes {
            labels,
            n_classes: 3,
        },
    )
    .unwrap()
}

fn limited(test: &str, limit: u64) -> Option<GpuContext> {
    let mut ctx = gpu(test)?;
    ctx.limits.max_storage_buffer_binding_size = limit;
    Some(ctx)
}

fn flat(p: &Params) -> Vec<f32> {
    p.layers
        .iter()
        .flat_map(|l| l.w.iter().chain(&l.b).copied())
        .collect()
}

#[test]
fn batch_split_across_bindings_gives_the_whole_batch_gradients_and_step() {
    for variant in [MatmulVariant::Tile64, MatmulVariant::Tile128] {
        split_batch_matches_reference(variant);
    }
}

/// The whole batch's gradients (twice, bit for bit), evaluation loss and one SGD step, through
/// row chunks, with the matmul `variant`.
fn split_batch_matches_reference(variant: MatmulVariant) {
    let test = "batch_split_across_bindings_gives_the_whole_batch_gradients_and_step";
    let Some(ctx) = limited(test, LOW_LIMIT) else {
        return;
    };
    let (spec, d) = (spec(), data());
    let params = Params::init(&spec, 3);
    let force = Setting::Force(variant);
    let mut t = GpuTrainer::with_matmul(ctx, &spec, &params, &d, [&d], N, force).unwrap();
    let described = t.describe();
    assert!(
        described.contains(&format!("matmul {}", variant.describe())),
        "{described}"
    );
    let rows: Vec<u32> = (0..N as u32).rev().collect();
    let x = widen(&d.x.to_f32());
    let y = widen(&d.dense_targets());
    let pick = |all: &[f64], w: usize| {
        rows.iter()
            .flat_map(|&r| all[r as usize * w..][..w].to_vec())
            .collect::<Vec<_>>()
    };
    let net = Net64::from_params(&params);
    let (want_loss, want) = reference::gradients(&spec, &net, &pick(&x, 8), &pick(&y, 3), N, 0.0);
    let (got_loss, got) = t.gradients(&rows).unwrap();
    let (again_loss, again) = t.gradients(&rows).unwrap();
    let bits = |p: &Params| flat(p).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert!(
        got_loss.to_bits() == again_loss.to_bits() && bits(&got) == bits(&again),
        "{variant:?}: two runs gave different gradient bits"
    );
    assert_close("chunked loss", &[got_loss], &[want_loss], NETWORK);
    for l in 0..2 {
        assert_close(
            &format!("chunked dW{l}"),
            &got.layers[l].w,
            &want.w[l],
            NETWORK,
        );
        assert_close(
            &format!("chunked db{l}"),
            &got.layers[l].b,
            &want.b[l],
            NETWORK,
        );
    }
    // The evaluation set (the same rows in order) through chunks: the summed loss.
    let e = t.evaluate(0).unwrap();
    let (eval_loss, _) = reference::gradients(&spec, &net, &x, &y, N, 0.0);
    assert_eq!(e.n, N);
    assert_close(
        "chunked evaluation loss",
        &[e.loss_sum / N as f64],
        &[eval_loss],
        NETWORK,
    );
    // One SGD step over the whole batch.
    let hp = Hyper {
        lr: 0.5,
        l2: 0.01,
        batch: N,
        epochs: 1,
        seed: 0,
    };
    let losses = t.train_epoch(&rows, &hp).unwrap();
    let mut stepped = net.clone();
    let step_loss = reference::train_step(
        &spec,
        &mut stepped,
        &pick(&x, 8),
        &pick(&y, 3),
        N,
        0.5,
        0.01,
    );
    assert_close("chunked step loss", &losses, &[step_loss as f32], NETWORK);
    let want_params: Vec<f64> = flat(&stepped.to_params())
        .iter()
        .map(|&v| v as f64)
        .collect();
    assert_close(
        "parameters after a chunked step",
        &flat(&t.params().unwrap()),
        &want_params,
        NETWORK,
    );
}

#[test]
fn a_binding_too_small_for_one_row_is_refused_naming_the_limit() {
    let test = "a_binding_too_small_for_one_row_is_refused_naming_the_limit";
    let Some(ctx) = limited(test, 32) else { return };
    let (spec, d) = (spec(), data());
    let err = GpuTrainer::new(ctx, &spec, &Params::init(&spec, 0), &d, None, N)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("max_storage_buffer_binding_size"), "{err}");
}

/// A data set larger than one binding is refused with advice about the data, not the batch.
#[test]
fn a_data_set_larger_than_a_binding_is_refused_with_advice_about_the_data() {
    let test = "a_data_set_larger_than_a_binding_is_refused_with_advice_about_the_data";
    // Room for the parameters and chunks of rows, not for 4000 × 8 input bytes.
    let Some(ctx) = limited(test, 16 << 10) else {
        return;
    };
    let n = 4000;
    let d = Dataset::with_inputs(
        "bytes",
        Inputs::U8 {
            data: vec![7; n * 8],
            scale: 1.0 / 255.0,
        },
        n,
        8,
        Targets::Classes {
            labels: vec![1; n],
            n_classes: 3,
        },
    )
    .unwrap();
    let spec = spec();
    let err = GpuTrainer::new(ctx, &spec, &Params::init(&spec, 0), &d, None, 64)
        .err()
        .expect("must fail")
        .to_string();
    assert!(
        err.contains("the training targets") || err.contains("the training inputs (4000 x 8)"),
        "{err}"
    );
    assert!(err.contains("use fewer rows"), "{err}");
}
