//! The f64 reference's gradients against central finite differences (the seeds' numerical
//! derivative), for every activation × loss, with and without L2.

mod common;
use common::*;

use wgtrain::cpu::reference::{Net64, gradients, objective, widen};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};

/// Central differences of the objective for every parameter.
fn numerical(spec: &Spec, net: &Net64, x: &[f64], y: &[f64], m: usize, l2: f64) -> Net64 {
    let h = 1e-6;
    let mut grad = net.clone();
    let mut probe = net.clone();
    for l in 0..spec.n_layers() {
        for i in 0..net.w[l].len() {
            let v = net.w[l][i];
            probe.w[l][i] = v + h;
            let up = objective(spec, &probe, x, y, m, l2);
            probe.w[l][i] = v - h;
            let down = objective(spec, &probe, x, y, m, l2);
            probe.w[l][i] = v;
            grad.w[l][i] = (up - down) / (2.0 * h);
        }
        for i in 0..net.b[l].len() {
            let v = net.b[l][i];
            probe.b[l][i] = v + h;
            let up = objective(spec, &probe, x, y, m, l2);
            probe.b[l][i] = v - h;
            let down = objective(spec, &probe, x, y, m, l2);
            probe.b[l][i] = v;
            grad.b[l][i] = (up - down) / (2.0 * h);
        }
    }
    grad
}

/// Dense targets that fit the loss: one-hot rows for cross-entropy, values in (0, 1) otherwise.
fn targets(loss: Loss, seed: u64, m: usize, n: usize) -> Vec<f64> {
    let u = uniform(seed, m * n, 0.05, 0.95);
    match loss {
        Loss::CrossEntropy => (0..m * n)
            .map(|i| {
                if i % n == (i / n * 7 + 3) % n {
                    1.0
                } else {
                    0.0
                }
            })
            .collect(),
        _ => widen(&u),
    }
}

fn check(spec: &Spec, seed: u64, l2: f64) {
    let m = 5;
    let params = Params::init(spec, seed);
    let mut net = Net64::from_params(&params);
    // Non-zero biases, so their gradients are exercised away from the origin.
    for (l, b) in net.b.iter_mut().enumerate() {
        for (i, v) in b.iter_mut().enumerate() {
            *v = 0.1 * ((i + l) as f64 * 0.7).sin();
        }
    }
    let x = widen(&uniform(seed + 1, m * spec.inputs(), -1.0, 1.0));
    let y = targets(spec.loss, seed + 2, m, spec.outputs());
    let (_, analytic) = gradients(spec, &net, &x, &y, m, l2);
    let numeric = numerical(spec, &net, &x, &y, m, l2);
    let name = format!("{} l2={l2} seed={seed}", spec.describe());
    for l in 0..spec.n_layers() {
        assert_close(
            &format!("{name} dW{l}"),
            &analytic.w[l],
            &numeric.w[l],
            FINITE_DIFF,
        );
        assert_close(
            &format!("{name} db{l}"),
            &analytic.b[l],
            &numeric.b[l],
            FINITE_DIFF,
        );
    }
}

fn heads() -> [(Output, Loss); 4] {
    [
        (Output::Softmax, Loss::CrossEntropy),
        (Output::Sigmoid, Loss::Bce),
        (Output::Linear, Loss::Mse),
        (Output::Sigmoid, Loss::Mse),
    ]
}

#[test]
fn reference_gradients_match_finite_differences_for_every_activation_and_loss() {
    for (k, act) in Activation::ALL.into_iter().enumerate() {
        for (j, (output, loss)) in heads().into_iter().enumerate() {
            let spec = Spec::new(vec![4, 6, 5, 3], vec![act, act], output, loss).unwrap();
            check(&spec, 100 + (k * 10 + j) as u64, 0.0);
        }
    }
}

#[test]
fn reference_gradients_include_l2_on_weights_only() {
    for (j, (output, loss)) in heads().into_iter().enumerate() {
        let spec = Spec::new(vec![3, 4, 2], vec![Activation::Tanh], output, loss).unwrap();
        check(&spec, 200 + j as u64, 0.03);
    }
}

#[test]
fn reference_gradients_without_hidden_layers_match_finite_differences() {
    for (j, (output, loss)) in heads().into_iter().enumerate() {
        let spec = Spec::new(vec![7, 3], vec![], output, loss).unwrap();
        check(&spec, 300 + j as u64, 0.01);
    }
}
