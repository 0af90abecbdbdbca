//! `trace` on every activation, loss/output pair and optimiser: each gradient agrees with its
//! finite difference, the fast CPU path (and the GPU path) with the reference; and bad input is
//! an error naming what is wrong.

mod common;

use wgtrain::config::GpuOptions;
use wgtrain::cpu::reference::Net64;
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::optim::{Method, Optimizer};
use wgtrain::trace::{Case, PathChoice, Settings, Trace, trace};

/// The f64 reference against central differences with h = 1e-6: truncation O(h²), rounding
/// O(eps/h) of the loss.
const FD_REL: f64 = 1e-5;
/// f32 paths against f64 after three steps on a tiny net: rounding of inputs, weights and every op.
const PATH_ABS: f64 = 1e-4;

fn case(spec: Spec, seed: u64) -> Case {
    let (n, i, o) = (5, spec.inputs(), spec.outputs());
    let x: Vec<f64> = common::uniform(seed, n * i, -1.0, 1.0)
        .iter()
        .map(|&v| v as f64)
        .collect();
    let y: Vec<f64> = match spec.loss {
        Loss::CrossEntropy => (0..n * o)
            .map(|k| ((k / o + k % o) % o == 0) as u8 as f64)
            .collect(),
        _ => common::uniform(seed + 1, n * o, 0.05, 0.95)
            .iter()
            .map(|&v| v as f64)
            .collect(),
    };
    let params: Params = common::parameters(&spec, seed);
    Case {
        net: Net64::from_params(&params),
        spec,
        x,
        y,
        n,
    }
}

fn check(t: &Trace, what: &str) {
    for s in &t.steps {
        for l in &s.layers {
            for (q, c) in [("δ", &l.delta), ("∂E/∂W", &l.dw), ("∂E/∂b", &l.db)] {
                // Elements whose gradient is tiny against the layer's are held to an absolute
                // bound instead: their relative difference is the finite difference's noise.
                let scale = c.analytic.max_abs().max(1e-3);
                for (i, (&a, &f)) in c
                    .analytic
                    .data
                    .iter()
                    .zip(&c.finite_difference.data)
                    .enumerate()
                {
                    assert!(
                        (a - f).abs() <= FD_REL * a.abs().max(scale * 1e-2),
                        "{what}: step {} layer {} {q}[{i}]: analytic {a:e}, fd {f:e}",
                        s.step,
                        l.layer
                    );
                }
            }
        }
        for p in &s.paths {
            // The path's own forward pass is part of the comparison (its max_abs_diff): each
            // layer's output for every row, z where the path fuses the output activation.
            for (pl, l) in p.layers.iter().zip(&s.layers) {
                assert_eq!((pl.a.rows, pl.a.cols), (l.a.rows, l.a.cols), "{what}");
                let fused = l.layer == s.layers.len()
                    && (l.activation == "softmax"
                        || (l.activation == "sigmoid" && t.loss == "bce"));
                assert_eq!(
                    pl.a_is_z, fused,
                    "{what}: layer {} ({})",
                    l.layer, l.activation
                );
            }
            assert!(
                p.max_abs_diff <= PATH_ABS,
                "{what}: step {} {} differs by {:e} at {}",
                s.step,
                p.path,
                p.max_abs_diff,
                p.worst
            );
        }
    }
}

fn settings(method: Method) -> Settings {
    Settings {
        steps: 3,
        batch: 3,
        lr: 0.05,
        l2: 0.01,
        optimizer: Optimizer::new(method),
        ..Settings::default()
    }
}

#[test]
fn every_activation_loss_output_and_optimiser_is_traced_and_agrees() {
    let heads = [
        (Output::Softmax, Loss::CrossEntropy),
        (Output::Sigmoid, Loss::Bce),
        (Output::Sigmoid, Loss::Mse),
        (Output::Linear, Loss::Mse),
    ];
    let mut seed = 1;
    for act in Activation::ALL {
        for (output, loss) in heads {
            let spec = Spec::new(vec![3, 4, 3], vec![act], output, loss).unwrap();
            let t = trace(
                &case(spec, seed),
                &settings(Method::Sgd),
                &[PathChoice::Cpu],
            )
            .unwrap();
            check(&t, &format!("{act} {output}/{loss}"));
            assert_eq!(t.steps[0].paths.len(), 1);
            seed += 1;
        }
    }
    for method in Method::ALL {
        let spec = Spec::new(
            vec![2, 3, 2],
            vec![Activation::Tanh],
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap();
        let t = trace(&case(spec, 40), &settings(method), &[PathChoice::Cpu]).unwrap();
        check(&t, &format!("{method}"));
        let s = &t.steps[2];
        let names: Vec<&str> = s.layers[0].state.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, method.slots(), "{method}");
        assert_eq!(s.paths[0].layers[0].state.len(), method.slots().len());
        assert_eq!(s.bias_corrections.is_some(), method.is_adam(), "{method}");
        if let Some((t3, c1, c2)) = s.bias_corrections {
            assert_eq!(t3, 3);
            assert!((c1 - (1.0 - 0.9f32 as f64 * 0.9f32 as f64 * 0.9f32 as f64)).abs() < 1e-12);
            assert!(c2 > 0.0 && c2 < 0.003, "{c2}");
        }
        // The step is what moved the weights.
        let l = &s.layers[1];
        for i in 0..l.w.data.len() {
            assert!((l.w.data[i] + l.step_w.data[i] - l.new_w.data[i]).abs() < 1e-15);
        }
    }
}

#[test]
fn the_output_delta_is_p_minus_y_for_softmax_cross_entropy() {
    let spec = Spec::new(vec![2, 3], vec![], Output::Softmax, Loss::CrossEntropy).unwrap();
    let c = case(spec, 7);
    let t = trace(
        &c,
        &Settings {
            batch: 2,
            ..Settings::default()
        },
        &[],
    )
    .unwrap();
    let s = &t.steps[0];
    let last = &s.layers[0];
    assert!(s.output_delta.contains("p - y"), "{}", s.output_delta);
    for i in 0..2 {
        let p: f64 = (0..3).map(|k| last.a.get(i, k)).sum();
        assert!((p - 1.0).abs() < 1e-12, "softmax row {i} sums to {p}");
        for k in 0..3 {
            let want = (last.a.get(i, k) - s.y.get(i, k)) / 2.0;
            assert!((last.delta.analytic.get(i, k) - want).abs() < 1e-15);
        }
    }
}

#[test]
fn the_gpu_path_is_traced_beside_the_reference() {
    if common::adapter("the_gpu_path_is_traced_beside_the_reference").is_none() {
        return;
    }
    let opts = GpuOptions {
        adapter: std::env::var("WGPU_ADAPTER_NAME")
            .ok()
            .filter(|n| !n.is_empty()),
        ..GpuOptions::default()
    };
    let spec = Spec::new(
        vec![3, 5, 2],
        vec![Activation::Sigmoid],
        Output::Sigmoid,
        Loss::Mse,
    )
    .unwrap();
    let paths = [PathChoice::Cpu, PathChoice::Gpu(opts)];
    let t = trace(&case(spec, 11), &settings(Method::Adam), &paths).unwrap();
    assert!(t.skipped.is_empty(), "{:?}", t.skipped);
    let names: Vec<&str> = t.steps[0].paths.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["cpu", "gpu"]);
    check(&t, "gpu adam");
}

#[test]
fn bad_input_is_an_error_naming_what_is_wrong() {
    use wgtrain::trace::input::{parse_rows, read_weights_csv};
    let e = parse_rows("0.5,0.6:0.8; 0.1:0.2").unwrap_err().to_string();
    assert!(e.contains("rows") && e.contains("row 2"), "{e}");
    let e = parse_rows("0.5,x:1").unwrap_err().to_string();
    assert!(e.contains("'x' is not a finite number"), "{e}");
    let e = parse_rows("0.5,0.6").unwrap_err().to_string();
    assert!(e.contains("inputs : targets"), "{e}");
    let dir = common::scratch::Scratch::new("trace-bad-weights");
    let path = dir.path("w.csv");
    for (text, want) in [
        ("b1,0\n", "comes before the rows of W1"),
        ("W1,1,2\nW1,3\nb1,0,0\n", "its first row has 2"),
        ("W1,1,2\nb1,0,0\n", "b1 has 2 values"),
        ("V1,1\n", "names no tensor"),
        ("W1,1,2\nb1,0\nW2,1,2\nb2,0\n", "W2 rows have 2 values"),
        ("W1,1\n", "no b1 line"),
    ] {
        std::fs::write(&path, text).unwrap();
        let e = read_weights_csv(&path).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains("w.csv"), "{text:?}: {e}");
    }
    let spec = Spec::new(
        vec![100, 200, 10],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap();
    let e = trace(&case(spec, 3), &Settings::default(), &[]).unwrap_err();
    assert!(
        matches!(
            e,
            wgtrain::Error::InvalidArgument {
                arg: Some("hidden"),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("gradcheck"), "{e}");
    let spec = Spec::new(vec![2, 2], vec![], Output::Linear, Loss::Mse).unwrap();
    let e = trace(
        &case(spec, 3),
        &Settings {
            steps: 0,
            ..Settings::default()
        },
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            wgtrain::Error::InvalidArgument {
                arg: Some("steps"),
                ..
            }
        ),
        "{e}"
    );
}
