//! `trace` on the seed notebooks' own networks (examples/seeds): seed 002's worked example (a
//! 2-2-2 net, linear hidden layer, sigmoid outputs, E = Σ ½(ŷ - A)², one SGD step, α = 0.5) and
//! seed 003's 2-2-1 sigmoid net trained 100 epochs (loss ½(o - y)², lr 0.1). Each notebook's
//! cells are transliterated here, scalar by scalar under the notebook's own names, as the
//! independent computation the trace must reproduce.
//!
//! Settings that match the notebooks: loss `mse`, which is (1/m) Σ_i ½‖a_i - y_i‖², with one
//! row per step (m = 1) is exactly 002's E_total = E_1 + E_2 and 003's 0.5·(o - y)²; sgd with
//! no L2 term; rows and weights read in f64 from the CSV files, as numpy holds them.

use std::path::PathBuf;

use wgtrain::model::{Activation, Loss, Output};
use wgtrain::trace::{Format, Network, Settings, Source, Start, Trace, build_case, render, trace};

/// Same f64 formulas, summed in another order: agreement to a few ulp.
const SAME_F64: f64 = 1e-13;

fn seed_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/seeds")
        .join(name)
}

#[track_caller]
fn close(name: &str, got: f64, want: f64, rtol: f64) {
    assert!(
        got.is_finite() && (got - want).abs() <= rtol * want.abs(),
        "{name}: got {got:e}, want {want:e} (rel diff {:e}, tolerance {rtol:e})",
        (got - want).abs() / want.abs()
    );
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn seed_002() -> Trace {
    let case = build_case(
        &Source::Csv {
            path: seed_file("002-rows.csv"),
            targets: 2,
        },
        &Start::WeightsCsv(seed_file("002-weights.csv")),
        &Network {
            activation: Some(vec![Activation::Linear]),
            output: Some(Output::Sigmoid),
            loss: Some(Loss::Mse),
            ..Network::default()
        },
        &[],
    )
    .unwrap();
    let settings = Settings {
        lr: 0.5,
        ..Settings::default()
    };
    trace(&case, &settings, &[]).unwrap()
}

#[test]
fn seed_002_worked_example_is_reproduced_number_by_number() {
    // The notebook's cells, in its names.
    let (x1, x2) = (0.85, 0.5);
    let (w1, w2, w3, w4, w5, w6, w7, w8) = (0.75, 0.55, 0.05, 0.05, 0.05, 0.015, 0.85, 0.95);
    let (b1, b2, b3, b4) = (0.25, 0.15, 0.15, 0.25);
    let z1 = w1 * x1 + w2 * x2 + b1;
    let z2 = w3 * x1 + w4 * x2 + b2;
    let (a1, a2) = (z1, z2);
    let z3 = w5 * a1 + w6 * a2 + b3;
    let a3 = sigmoid(z3);
    let z4 = w7 * a1 + w8 * a2 + b4;
    let a4 = sigmoid(z4);
    let e_total = 0.5 * (0.01 - a3) * (0.01 - a3) + 0.5 * (0.99 - a4) * (0.99 - a4);
    let de1_nach_z3 = -(0.01 - a3) * (a3 * (1.0 - a3));
    let de2_nach_z4 = -(0.99 - a4) * (a4 * (1.0 - a4));
    let de_total_nach_w5 = de1_nach_z3 * a1;
    let de_total_nach_w6 = de1_nach_z3 * a2;
    let de_total_nach_w7 = de2_nach_z4 * a1;
    let de_total_nach_w8 = de2_nach_z4 * a2;
    let de_total_nach_a1 = de1_nach_z3 * w5 + de2_nach_z4 * w7;
    let de_total_nach_a2 = de1_nach_z3 * w6 + de2_nach_z4 * w8;
    let (da1_nach_z1, da2_nach_z2) = (1.0, 1.0); // linear hidden layer
    let de_total_nach_w1 = de_total_nach_a1 * da1_nach_z1 * x1;
    let de_total_nach_w2 = de_total_nach_a1 * da1_nach_z1 * x2;
    let de_total_nach_w3 = de_total_nach_a2 * da2_nach_z2 * x1;
    let de_total_nach_w4 = de_total_nach_a2 * da2_nach_z2 * x2;
    let neu = |w: f64, g: f64| w - 0.5 * g;

    let t = seed_002();
    let s = &t.steps[0];
    let (l1, l2) = (&s.layers[0], &s.layers[1]);
    close("Z1", l1.z.get(0, 0), z1, SAME_F64);
    close("Z2", l1.z.get(0, 1), z2, SAME_F64);
    close("A1", l1.a.get(0, 0), a1, SAME_F64);
    close("A2", l1.a.get(0, 1), a2, SAME_F64);
    close("Z3", l2.z.get(0, 0), z3, SAME_F64);
    close("Z4", l2.z.get(0, 1), z4, SAME_F64);
    close("A3", l2.a.get(0, 0), a3, SAME_F64);
    close("A4", l2.a.get(0, 1), a4, SAME_F64);
    close("E_total", s.loss.total, e_total, SAME_F64);
    assert_eq!(s.loss.l2, 0.0);
    close(
        "dE1_nach_Z3 = δ^[2]_1",
        l2.delta.analytic.get(0, 0),
        de1_nach_z3,
        SAME_F64,
    );
    close(
        "dE2_nach_Z4 = δ^[2]_2",
        l2.delta.analytic.get(0, 1),
        de2_nach_z4,
        SAME_F64,
    );
    // W^[2] = [[w5, w6], [w7, w8]], W^[1] = [[w1, w2], [w3, w4]]: row = unit.
    let grads = [
        (
            l2,
            [
                de_total_nach_w5,
                de_total_nach_w6,
                de_total_nach_w7,
                de_total_nach_w8,
            ],
        ),
        (
            l1,
            [
                de_total_nach_w1,
                de_total_nach_w2,
                de_total_nach_w3,
                de_total_nach_w4,
            ],
        ),
    ];
    let olds = [[w5, w6, w7, w8], [w1, w2, w3, w4]];
    for ((layer, want), old) in grads.iter().zip(olds) {
        for i in 0..4 {
            let (r, c) = (i / 2, i % 2);
            let name = format!("layer {} dE_total_nach_w[{r},{c}]", layer.layer);
            close(&name, layer.dw.analytic.get(r, c), want[i], SAME_F64);
            // The finite difference agrees to its own accuracy, and so says the trace.
            close(
                &format!("{name} fd"),
                layer.dw.finite_difference.get(r, c),
                want[i],
                1e-7,
            );
            close(
                &format!("{name} neu"),
                layer.new_w.get(r, c),
                neu(old[i], want[i]),
                SAME_F64,
            );
            close(
                &format!("{name} delta_w"),
                layer.step_w.get(r, c),
                -0.5 * want[i],
                1e-12,
            );
        }
        assert!(layer.dw.max_rel_diff < 1e-7, "{}", layer.dw.max_rel_diff);
        assert!(
            layer.delta.max_rel_diff < 1e-7,
            "{}",
            layer.delta.max_rel_diff
        );
    }
}

#[test]
fn seed_002_text_shows_the_notebook_numbers_at_print_precision_and_json_round_trips() {
    let t = seed_002();
    let (x1, x2) = (0.85, 0.5);
    let a1 = 0.75 * x1 + 0.55 * x2 + 0.25;
    let a2 = 0.05 * x1 + 0.05 * x2 + 0.15;
    let a3 = sigmoid(0.05 * a1 + 0.015 * a2 + 0.15);
    let text = render(&t, Format::Text, 10).unwrap();
    for (name, v) in [("A1", a1), ("A3", a3)] {
        let shown = wgtrain::trace::number(v, 10);
        assert!(text.contains(&shown), "{name} = {shown} is not in:\n{text}");
    }
    let md = render(&t, Format::Markdown, 6).unwrap();
    assert!(
        md.contains("| element | analytic | fd | rel diff |"),
        "{md}"
    );
    let json = render(&t, Format::Json, 6).unwrap();
    let back: Trace = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t, "the JSON does not round-trip every number");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let e = v["steps"][0]["loss"]["total"].as_f64().unwrap();
    assert_eq!(e.to_bits(), t.steps[0].loss.total.to_bits());
    let w5 = v["steps"][0]["layers"][1]["dw"]["analytic"][0][0]
        .as_f64()
        .unwrap();
    assert_eq!(
        w5.to_bits(),
        t.steps[0].layers[1].dw.analytic.get(0, 0).to_bits()
    );
}

/// Seed 003's epochs, transliterated: the loss of each epoch before its update. With
/// `as_printed`, the notebook's order: it updates weights_hidden_output first and then uses
/// the *updated* matrix to backpropagate into the hidden layer; without, textbook backprop
/// (every gradient from the weights before the step), which is what any trainer computes.
fn seed_003_losses(as_printed: bool) -> Vec<f64> {
    let r = [
        0.3745401188473625,
        0.9507143064099162,
        0.7319939418114051,
        0.5986584841970366,
        0.15601864044243652,
        0.15599452033620265,
    ];
    let mut wih = [[r[0], r[1]], [r[2], r[3]]];
    let mut who = [r[4], r[5]];
    let (mut bh, mut bo) = ([0.0, 0.0], 0.0);
    let (x, y, lr) = ([0.5, 0.6], 0.8, 0.1);
    let mut losses = Vec::new();
    for _ in 0..100 {
        let hin: Vec<f64> = (0..2)
            .map(|j| x[0] * wih[0][j] + x[1] * wih[1][j] + bh[j])
            .collect();
        let h: Vec<f64> = hin.iter().map(|&v| sigmoid(v)).collect();
        let o = sigmoid(h[0] * who[0] + h[1] * who[1] + bo);
        losses.push(0.5 * (o - y) * (o - y));
        let d = (o - y) * (o * (1.0 - o));
        let old = who;
        who = [who[0] - lr * h[0] * d, who[1] - lr * h[1] * d];
        let back = if as_printed { who } else { old };
        let dh: Vec<f64> = (0..2)
            .map(|j| d * back[j] * (h[j] * (1.0 - h[j])))
            .collect();
        for (i, row) in wih.iter_mut().enumerate() {
            for j in 0..2 {
                row[j] -= lr * x[i] * dh[j];
            }
        }
        bo -= lr * d;
        bh = [bh[0] - lr * dh[0], bh[1] - lr * dh[1]];
    }
    losses
}

/// The notebook's printed output, `Epoch [10/100], Loss: ...` to `Epoch [100/100]`.
const SEED_003_PRINTED: [f64; 10] = [
    0.024850926922809005,
    0.019815846923920258,
    0.015923917754564688,
    0.012899201199448299,
    0.010531406234111765,
    0.008662813808854386,
    0.007175820212663337,
    0.00598270229969578,
    0.005017757799181896,
    0.0042314681042219015,
];

#[test]
fn seed_003_hundred_epochs_match_the_notebook_and_its_one_deviation_is_explained() {
    let case = build_case(
        &Source::Csv {
            path: seed_file("003-rows.csv"),
            targets: 1,
        },
        &Start::WeightsCsv(seed_file("003-weights.csv")),
        &Network {
            activation: Some(vec![Activation::Sigmoid]),
            output: Some(Output::Sigmoid),
            loss: Some(Loss::Mse),
            ..Network::default()
        },
        &[],
    )
    .unwrap();
    let settings = Settings {
        steps: 100,
        lr: 0.1,
        ..Settings::default()
    };
    let t = trace(&case, &settings, &[]).unwrap();
    let got: Vec<f64> = t.steps.iter().map(|s| s.loss.total).collect();
    // The notebook's cells as printed reproduce its printed losses to the last digit: the
    // transliteration is faithful.
    let printed = seed_003_losses(true);
    for (k, &want) in SEED_003_PRINTED.iter().enumerate() {
        close(
            &format!("notebook epoch {}", 10 * (k + 1)),
            printed[10 * k + 9],
            want,
            1e-15,
        );
    }
    // The trace equals the notebook's computation with its update order fixed, every epoch.
    let textbook = seed_003_losses(false);
    for (e, (&g, &w)) in got.iter().zip(&textbook).enumerate() {
        close(&format!("epoch {} loss", e + 1), g, w, 1e-12);
    }
    // Epoch 1 is before any update: the notebook's own number, exactly.
    close("epoch 1 loss", got[0], printed[0], SAME_F64);
    // Later epochs differ from the printed ones by the notebook's update order alone: the
    // hidden layer's gradient taken through the already updated output weights, a relative
    // effect that grows from 1.4e-5 at epoch 10 to 2.0e-4 at epoch 100.
    for (k, &want) in SEED_003_PRINTED.iter().enumerate() {
        close(
            &format!("epoch {} vs printed", 10 * (k + 1)),
            got[10 * k + 9],
            want,
            2.5e-4,
        );
    }
    // Every gradient of every step agrees with its finite difference.
    let worst = t
        .steps
        .iter()
        .flat_map(|s| &s.layers)
        .map(|l| {
            l.dw.max_rel_diff
                .max(l.db.max_rel_diff)
                .max(l.delta.max_rel_diff)
        })
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "worst rel diff to fd {worst:e}");
}
