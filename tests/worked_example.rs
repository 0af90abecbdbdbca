//! The seeds' worked example (notebook 002, "Backpropagation"): a 2-2-2 network, linear hidden
//! layer, sigmoid outputs, loss Σ ½(t - o)², one SGD step with lr 0.5, on every path.

mod common;
use common::*;

use wgtrain::cpu::reference::{Net64, gradients, train_step};
use wgtrain::data::{Dataset, Targets};
use wgtrain::model::{Activation, Layer, Loss, Output, Params, Spec};
use wgtrain::testing::fast::CpuTrainer;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{Backend, Hyper};

const LOSS: f64 = 0.16358131775834533;
/// w1..w8 in the notebook's naming.
const GRAD_W: [f64; 8] = [
    -0.01446871218615803,
    -0.008511007168328253,
    -0.020832919586792523,
    -0.01225465858046619,
    0.15595919242018072,
    0.02917946180764671,
    -0.032454177985143794,
    -0.0060720720101236775,
];
/// b1, b2 (hidden), b3, b4 (outputs).
const GRAD_B: [f64; 4] = [
    -0.017022014336656507,
    -0.02450931716093238,
    0.13415844509262856,
    -0.027917572460338748,
];
const W: [f64; 8] = [0.75, 0.55, 0.05, 0.05, 0.05, 0.015, 0.85, 0.95];
const B: [f64; 4] = [0.25, 0.15, 0.15, 0.25];
const LR: f64 = 0.5;
/// The notebook's figures are f64; the f32 paths round the inputs and every op to 24 bits.
const F32_PATH: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-7,
};
/// The reference runs in f64 on the same numbers: agreement to rounding.
const F64_PATH: Tol = Tol {
    rtol: 1e-12,
    atol: 1e-15,
};

fn spec() -> Spec {
    Spec::new(
        vec![2, 2, 2],
        vec![Activation::Linear],
        Output::Sigmoid,
        Loss::Mse,
    )
    .unwrap()
}

/// Our weights are (fan_in, fan_out): w[i * out + o] is the weight from input i to unit o.
/// w1 (x1→h1), w2 (x2→h1), w3 (x1→h2), w4 (x2→h2); w5 (h1→o1), w6 (h2→o1), w7 (h1→o2), w8 (h2→o2).
fn to_ours(w: &[f64; 8]) -> [[f64; 4]; 2] {
    [[w[0], w[2], w[1], w[3]], [w[4], w[6], w[5], w[7]]]
}

fn params() -> Params {
    let w = to_ours(&W);
    Params {
        layers: (0..2)
            .map(|l| Layer {
                w: w[l].iter().map(|&v| v as f32).collect(),
                b: B[2 * l..2 * l + 2].iter().map(|&v| v as f32).collect(),
            })
            .collect(),
    }
}

fn dataset() -> Dataset {
    let values = Targets::Values {
        values: vec![0.01, 0.99],
        width: 2,
    };
    Dataset::new("worked example", vec![0.85, 0.5], 1, 2, values).unwrap()
}

fn expected_grads() -> Params {
    let g = to_ours(&GRAD_W);
    Params {
        layers: (0..2)
            .map(|l| Layer {
                w: g[l].iter().map(|&v| v as f32).collect(),
                b: GRAD_B[2 * l..2 * l + 2].iter().map(|&v| v as f32).collect(),
            })
            .collect(),
    }
}

/// After one step: every parameter minus lr × its gradient (w5 and b3 spelled out by the issue).
fn expected_after_step() -> Vec<f64> {
    let (w, g) = (to_ours(&W), to_ours(&GRAD_W));
    let mut out = Vec::new();
    for l in 0..2 {
        out.extend((0..4).map(|i| w[l][i] - LR * g[l][i]));
        out.extend((0..2).map(|i| B[2 * l + i] - LR * GRAD_B[2 * l + i]));
    }
    out
}

fn flatten(p: &Params) -> Vec<f64> {
    p.layers
        .iter()
        .flat_map(|l| l.w.iter().chain(&l.b).map(|&v| v as f64))
        .collect()
}

#[test]
fn worked_example_after_step_matches_the_issue_figures() {
    let after = expected_after_step();
    // w5 is layer 1's weight (h1→o1) = index 6 (layer 0 has 4 weights + 2 biases); b3 index 10.
    assert_close("w5 after", &after[6..7], &[-0.027979596210090357], F64_PATH);
    assert_close("b3 after", &after[10..11], &[0.08292077745368572], F64_PATH);
}

#[test]
fn worked_example_reference_path() {
    let spec = spec();
    let p = params();
    let net = Net64::from_params(&p);
    let x = [0.85, 0.5];
    let y = [0.01, 0.99];
    let (loss, g) = gradients(&spec, &net, &x, &y, 1, 0.0);
    assert_close("loss", &[loss], &[LOSS], F32_PATH);
    let want = expected_grads();
    for l in 0..2 {
        assert_close(&format!("dW{l}"), &g.w[l], &want.layers[l].w, F32_PATH);
        assert_close(&format!("db{l}"), &g.b[l], &want.layers[l].b, F32_PATH);
    }
    let mut stepped = net.clone();
    train_step(&spec, &mut stepped, &x, &y, 1, LR, 0.0);
    let got: Vec<f64> = (0..2)
        .flat_map(|l| {
            stepped.w[l]
                .iter()
                .chain(&stepped.b[l])
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    // The inputs were rounded to f32 (params() goes through f32), hence the f32 tolerance.
    assert_close(
        "params after one step",
        &got,
        &expected_after_step(),
        F32_PATH,
    );
}

fn check_backend(name: &str, backend: &mut dyn Backend, grads: (f64, Params)) {
    let (loss, g) = grads;
    assert_close(&format!("{name} loss"), &[loss], &[LOSS], F32_PATH);
    let want = expected_grads();
    for l in 0..2 {
        assert_close(
            &format!("{name} dW{l}"),
            &g.layers[l].w,
            &want.layers[l].w,
            F32_PATH,
        );
        assert_close(
            &format!("{name} db{l}"),
            &g.layers[l].b,
            &want.layers[l].b,
            F32_PATH,
        );
    }
    let hp = Hyper {
        lr: LR as f32,
        l2: 0.0,
        batch: 1,
        epochs: 1,
        seed: 0,
    };
    let losses = backend.train_epoch(&[0], &hp).unwrap();
    assert_close(&format!("{name} step loss"), &losses, &[LOSS], F32_PATH);
    let after = flatten(&backend.params().unwrap());
    assert_close(
        &format!("{name} params after one step"),
        &after,
        &expected_after_step(),
        F32_PATH,
    );
}

#[test]
fn worked_example_fast_cpu_path() {
    let data = dataset();
    let mut t = CpuTrainer::new(&spec(), params(), &data, None, 1).unwrap();
    let g = t.gradients(&[0], 0.0);
    check_backend("cpu", &mut t, g);
}

#[test]
fn worked_example_gpu_path() {
    let Some(ctx) = gpu("worked_example_gpu_path") else {
        return;
    };
    let data = dataset();
    let mut t = GpuTrainer::new(ctx, &spec(), &params(), &data, None, 1).unwrap();
    let g = t.gradients(&[0]).unwrap();
    check_backend("gpu", &mut t, g);
}
