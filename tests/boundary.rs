//! The library's boundary: what reaches `fit`, `predict` and `evaluate` is checked there, however
//! it was built (a `Dataset` or `Model` through its public fields), with an error naming the
//! dataset, row and column; and the stop token's contract (stopped until `reset`, a stopped
//! `fit` trains nothing, a stop from the callback ends at that epoch, `progress()` right after
//! an error, a callback's own error handed back in `Error::Callback`). CPU path for speed; the
//! GPU path where the check must come before the device.

mod common;

use wgtrain::data::{Dataset, Inputs, Targets};
use wgtrain::train::Progress;
use wgtrain::{Activation, Config, Device, Error, Loss, Model, Output, Spec, Trainer};

const N: usize = 64;
const DIM: usize = 4;
const CLASSES: usize = 3;
const BATCH: usize = 16;
const PER_EPOCH: usize = N / BATCH;

/// `N` seeded rows of `DIM` inputs in [-1, 1], the class the argmax of the first three, built
/// through the public fields (no `Dataset::new`), so nothing was checked.
fn raw() -> Dataset {
    let x = common::uniform(7, N * DIM, -1.0, 1.0);
    let labels = x
        .chunks_exact(DIM)
        .map(|r| (0..CLASSES).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap() as u32)
        .collect();
    Dataset {
        name: "blobs".into(),
        x: Inputs::F32(x),
        n: N,
        dim: DIM,
        targets: Targets::Classes {
            labels,
            n_classes: CLASSES,
        },
    }
}

fn spec() -> Spec {
    Spec::classifier(DIM, &[8], CLASSES).unwrap()
}

fn trainer(data: Dataset, epochs: usize, device: Device) -> Trainer {
    let config = Config {
        epochs,
        batch: BATCH,
        ..Config::default()
    };
    Trainer::new(Model::init(spec(), 0).unwrap(), data, config).device(device)
}

/// The error `fit` gives on `data`; a run that trains is a failure.
fn fit_error(data: Dataset, device: Device) -> Error {
    let mut t = trainer(data, 2, device);
    match t.fit(|_| Ok(())) {
        Err(e) => e,
        Ok(f) => panic!("trained {} epochs on an invalid dataset", f.reports.len()),
    }
}

/// `e` is an `InvalidData` on dataset "blobs" at `row`, `column`, its message containing `says`.
fn assert_invalid_data(e: &Error, row: Option<usize>, column: Option<usize>, says: &str) {
    match e {
        Error::InvalidData {
            dataset,
            row: r,
            column: c,
            ..
        } => {
            assert_eq!((dataset.as_str(), *r, *c), ("blobs", row, column), "{e}");
            assert!(e.to_string().contains(says), "{e}");
        }
        other => panic!("expected InvalidData, got {other:?}"),
    }
}

#[test]
fn a_label_beyond_the_classes_is_an_error_naming_its_row() {
    let mut d = raw();
    if let Targets::Classes { labels, .. } = &mut d.targets {
        labels[37] = 9;
    }
    let e = fit_error(d.clone(), Device::cpu());
    assert_invalid_data(
        &e,
        Some(37),
        None,
        "row 37 (0-based) is 9, not below n_classes = 3",
    );
    // evaluate, too, checks what it is given.
    let e = Model::init(spec(), 0).unwrap().evaluate(&d).unwrap_err();
    assert_invalid_data(&e, Some(37), None, "is 9");
}

#[test]
fn a_class_count_no_network_can_have_is_an_error_not_an_abort() {
    for n_classes in [1 << 40, usize::MAX] {
        let mut d = raw();
        d.targets = Targets::Classes {
            labels: vec![0; N],
            n_classes,
        };
        let e = Dataset::new("blobs", vec![0.0; N * DIM], N, DIM, d.targets.clone()).unwrap_err();
        assert_invalid_data(
            &e,
            None,
            None,
            "the most parameters (so outputs) a network may have",
        );
        let e = d.hold_out(0.25, 0).unwrap_err();
        assert_invalid_data(&e, None, None, &format!("n_classes = {n_classes} is over"));
        let mut t = trainer(d, 1, Device::cpu()).hold_out(0.25);
        let e = t.fit(|_| Ok(())).unwrap_err();
        assert_invalid_data(&e, None, None, &format!("n_classes = {n_classes} is over"));
    }
    // Weights of more classes than memory holds: refused before the per-class arrays.
    let e = wgtrain::ClassWeights::Balanced
        .resolve(&[0, 1], 1 << 40, None)
        .unwrap_err();
    assert!(matches!(e, Error::OutOfMemory(_)), "{e:?}");
}

#[test]
fn a_short_x_is_an_error_naming_the_lengths() {
    let mut d = raw();
    if let Inputs::F32(x) = &mut d.x {
        x.truncate(N * DIM - 3);
    }
    let e = fit_error(d, Device::cpu());
    assert_invalid_data(
        &e,
        None,
        None,
        "x has 253 values, expected n * dim = 64 * 4",
    );
}

#[test]
fn a_short_label_list_is_an_error_not_a_panic() {
    let mut d = raw();
    if let Targets::Classes { labels, .. } = &mut d.targets {
        labels.pop();
    }
    let e = fit_error(d, Device::cpu());
    assert_invalid_data(&e, None, None, "63 labels for 64 rows");
}

#[test]
fn nan_in_x_is_an_error_naming_the_row_and_column() {
    let mut d = raw();
    if let Inputs::F32(x) = &mut d.x {
        x[21 * DIM + 2] = f32::NAN;
    }
    let e = fit_error(d, Device::cpu());
    assert_invalid_data(
        &e,
        Some(21),
        Some(2),
        "row 21, column 2 (0-based) of x is NaN",
    );
}

#[test]
fn bytes_that_overflow_after_their_scale_are_an_error_naming_the_row_and_column() {
    let mut d = raw();
    let mut data = vec![1u8; N * DIM];
    data[5 * DIM + 1] = 255;
    d.x = Inputs::U8 { data, scale: 1e37 };
    let e = fit_error(d, Device::cpu());
    assert_invalid_data(
        &e,
        Some(5),
        Some(1),
        "row 5, column 1 (0-based) of x is inf",
    );
}

#[test]
fn an_infinite_validation_input_is_an_error_naming_the_validation_set() {
    let mut v = raw();
    v.name = "held".into();
    if let Inputs::F32(x) = &mut v.x {
        x[3] = f32::INFINITY;
    }
    let mut t = trainer(raw(), 1, Device::cpu()).validation(v);
    match t.fit(|_| Ok(())) {
        Err(Error::InvalidData {
            dataset,
            row: Some(0),
            column: Some(3),
            ..
        }) => assert_eq!(dataset, "held"),
        other => panic!("{:?}", other.map(|f| f.reports.len())),
    }
}

#[test]
fn an_empty_test_set_is_an_error_not_a_nan_loss() {
    let mut empty = raw();
    (empty.n, empty.x) = (0, Inputs::F32(vec![]));
    empty.targets = Targets::Classes {
        labels: vec![],
        n_classes: CLASSES,
    };
    let mut t = trainer(raw(), 1, Device::cpu()).test(empty);
    let e = t.fit(|_| Ok(())).unwrap_err();
    assert_invalid_data(&e, None, None, "has no rows");
}

#[test]
fn nan_in_x_on_the_gpu_path_is_an_error_before_anything_trains() {
    let Some(_) = common::gpu("nan_in_x_on_the_gpu_path_is_an_error_before_anything_trains") else {
        return;
    };
    let mut d = raw();
    if let Inputs::F32(x) = &mut d.x {
        x[63 * DIM] = f32::NAN;
    }
    let mut t = trainer(d, 2, Device::gpu());
    let token = t.stop_token();
    let e = t.fit(|_| Ok(())).unwrap_err();
    assert_invalid_data(
        &e,
        Some(63),
        Some(0),
        "row 63, column 0 (0-based) of x is NaN",
    );
    assert_eq!(token.steps(), 0);
}

#[test]
fn init_and_new_check_the_spec_before_allocating() {
    let spec = |sizes: Vec<usize>, hidden: Vec<Activation>| Spec {
        sizes,
        hidden,
        output: Output::Softmax,
        loss: Loss::CrossEntropy,
    };
    let cases = [
        (
            "sizes that overflow",
            spec(vec![1 << 62, 2], vec![]),
            "parameters",
        ),
        (
            "over MAX_PARAMS",
            spec(vec![33000, 33000], vec![]),
            "1073741824 parameters",
        ),
        (
            "a zero-width layer",
            spec(vec![2, 0, 2], vec![Activation::Relu]),
            "zero",
        ),
        (
            "a missing activation",
            spec(vec![2, 3, 2], vec![]),
            "1 hidden layers but 0 hidden activations",
        ),
    ];
    let params = Model::init(Spec::classifier(2, &[3], 2).unwrap(), 0)
        .unwrap()
        .params;
    for (what, s, says) in cases {
        let e = Model::init(s.clone(), 0).map(drop).unwrap_err().to_string();
        assert!(e.contains(says), "{what}: init: {e}");
        let e = Model::new(s, params.clone())
            .map(drop)
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{what}: new: {e}");
    }
    // The figure of any spec is a number, not an overflow.
    let huge = spec(vec![1 << 62, 1 << 62, 2], vec![Activation::Relu]);
    assert!(
        huge.flops_per_sample() > 1e37,
        "{}",
        huge.flops_per_sample()
    );
}

#[test]
fn a_model_whose_public_fields_disagree_is_an_error_not_a_panic() {
    let good = Model::init(spec(), 0).unwrap();
    // Parameters of another network.
    let mut other = good.clone();
    other.params = Model::init(Spec::classifier(DIM, &[9], CLASSES).unwrap(), 0)
        .unwrap()
        .params;
    // A spec with no layers at all.
    let mut empty = good.clone();
    empty.spec.sizes.clear();
    // A hidden layer without an activation.
    let mut unmatched = good.clone();
    unmatched.spec.hidden.clear();
    // Input statistics for another input count.
    let mut stats = good.clone();
    stats.input.standardize = Some(wgtrain::data::standardize::Standardize {
        mean: vec![0.0; DIM + 1],
        std: vec![1.0; DIM + 1],
    });
    for (what, m) in [
        ("parameters", other),
        ("sizes", empty),
        ("hidden", unmatched),
        ("standardize", stats),
    ] {
        assert!(m.check().is_err(), "{what}");
        let row = vec![0.5; DIM];
        assert!(m.predict_f32(&row).is_err(), "{what}: predict");
        assert!(m.evaluate(&raw()).is_err(), "{what}: evaluate");
        let config = Config {
            epochs: 1,
            batch: BATCH,
            ..Config::default()
        };
        let mut t = Trainer::new(m, raw(), config).device(Device::cpu());
        let token = t.stop_token();
        assert!(t.fit(|_| Ok(())).is_err(), "{what}: fit");
        assert_eq!(token.steps(), 0, "{what}: trained");
    }
}

#[test]
fn a_model_with_non_finite_parameters_is_refused_before_training() {
    let mut m = Model::init(spec(), 0).unwrap();
    m.params.layers[1].b[2] = f32::NAN;
    let config = Config {
        epochs: 1,
        batch: BATCH,
        ..Config::default()
    };
    let mut t = Trainer::new(m, raw(), config).device(Device::cpu());
    let e = t.fit(|_| Ok(())).unwrap_err();
    assert!(
        e.to_string()
            .contains("layer 1 bias 2 (0-based) is not finite"),
        "{e}"
    );
    assert_eq!(t.stop_token().steps(), 0);
}

#[test]
fn predict_on_a_non_finite_input_is_an_error_naming_the_row_and_column() {
    for hidden in [Activation::Relu, Activation::Tanh] {
        let spec = Spec::new(
            vec![DIM, 8, CLASSES],
            vec![hidden],
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap();
        let m = Model::init(spec, 0).unwrap();
        let mut x = vec![0.25; 3 * DIM];
        x[DIM + 3] = f32::NAN;
        match m.predict_f32(&x) {
            Err(
                e @ Error::InvalidData {
                    row: Some(1),
                    column: Some(3),
                    ..
                },
            ) => assert!(e.to_string().contains("row 1, column 3"), "{e}"),
            other => panic!("{hidden}: {other:?}"),
        }
        // The free function, too.
        let e = wgtrain::evaluate::predict(&m.spec, &m.params, &Inputs::F32(x), 3).unwrap_err();
        assert!(matches!(e, Error::InvalidData { row: Some(1), .. }), "{e}");
    }
}

#[test]
fn fit_with_a_stopped_token_returns_at_once_without_a_step() {
    let mut t = trainer(raw(), 3, Device::cpu());
    let token = t.stop_token();
    token.stop();
    let fit = t.fit(|_| panic!("no epoch may end")).unwrap();
    assert!(fit.interrupted);
    assert!(fit.reports.is_empty());
    assert_eq!(token.steps(), 0);
    assert_eq!(t.progress(), Progress::default());
}

#[test]
fn a_stop_from_the_callback_ends_at_that_epoch_without_a_partial_one() {
    let mut t = trainer(raw(), 5, Device::cpu());
    let token = t.stop_token();
    let fit = t
        .fit(|r| {
            if r.epoch == 2 {
                token.stop();
            }
            Ok(())
        })
        .unwrap();
    assert!(fit.interrupted);
    let epochs: Vec<(usize, usize, bool)> = fit
        .reports
        .iter()
        .map(|r| (r.epoch, r.batches, r.interrupted))
        .collect();
    assert_eq!(epochs, [(1, PER_EPOCH, false), (2, PER_EPOCH, false)]);
    assert_eq!(token.steps(), 2 * PER_EPOCH);
    assert_eq!(t.progress(), Progress { epoch: 2, batch: 0 });
}

#[test]
fn a_stop_from_the_callback_on_the_gpu_path_ends_at_that_epoch() {
    let Some(_) = common::gpu("a_stop_from_the_callback_on_the_gpu_path_ends_at_that_epoch") else {
        return;
    };
    let mut t = trainer(raw(), 5, Device::gpu());
    let token = t.stop_token();
    let fit = t
        .fit(|r| {
            if r.epoch == 1 {
                token.stop();
            }
            Ok(())
        })
        .unwrap();
    assert!(fit.interrupted);
    assert_eq!(fit.reports.len(), 1);
    assert_eq!(token.steps(), PER_EPOCH);
    assert_eq!(t.progress(), Progress { epoch: 1, batch: 0 });
}

#[test]
fn a_stopped_token_stays_stopped_until_reset_and_the_run_then_goes_on() {
    let mut t = trainer(raw(), 2, Device::cpu());
    let token = t.stop_token();
    let first = t
        .fit(|_| {
            token.stop();
            Ok(())
        })
        .unwrap();
    assert_eq!((first.reports.len(), first.interrupted), (1, true));
    // Still stopped: the next fit trains nothing.
    let again = t.fit(|_| Ok(())).unwrap();
    assert!(again.interrupted && again.reports.is_empty());
    assert_eq!(token.steps(), PER_EPOCH);
    token.reset();
    assert!(!token.is_stopped() && !t.stop_token().is_stopped());
    let rest = t.fit(|_| Ok(())).unwrap();
    assert!(!rest.interrupted);
    let epochs: Vec<usize> = rest.reports.iter().map(|r| r.epoch).collect();
    assert_eq!(epochs, [2, 3], "2 more epochs after the first");
    assert_eq!(token.steps(), 3 * PER_EPOCH, "the step count is kept");
    assert_eq!(t.progress(), Progress { epoch: 3, batch: 0 });
}

/// A caller's own error type, as an embedding program would have.
#[derive(Debug, PartialEq)]
struct LogFull {
    epoch: usize,
}

impl std::fmt::Display for LogFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the log is full at epoch {}", self.epoch)
    }
}

impl std::error::Error for LogFull {}

#[test]
fn a_callback_error_leaves_progress_at_the_epoch_it_came_in() {
    let mut t = trainer(raw(), 5, Device::cpu());
    let e = t
        .fit(|r| {
            if r.epoch == 3 {
                return Err(Error::callback(LogFull { epoch: r.epoch }));
            }
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(e, Error::Callback(_)), "{e:?}");
    assert_eq!(t.progress(), Progress { epoch: 3, batch: 0 });
    assert_eq!(t.stop_token().steps(), 3 * PER_EPOCH);
}

#[test]
fn a_callback_error_travels_back_in_its_own_variant() {
    let mut t = trainer(raw(), 5, Device::cpu());
    let e = t
        .fit(|r| {
            if r.epoch == 2 {
                return Err(Error::callback(LogFull { epoch: 2 }));
            }
            Ok(())
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "the log is full at epoch 2");
    match e {
        Error::Callback(b) => assert_eq!(b.downcast_ref::<LogFull>(), Some(&LogFull { epoch: 2 })),
        other => panic!("{other:?}"),
    }
    // An io::Error through `map_err(Error::callback)`, and a plain message.
    let mut t = trainer(raw(), 1, Device::cpu());
    let e = t
        .fit(|_| {
            let missing = std::env::temp_dir().join("wgtrain-boundary-no-such-folder/log");
            std::fs::write(missing, "epoch").map_err(Error::callback)
        })
        .unwrap_err();
    let Error::Callback(b) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        b.downcast_ref::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::NotFound)
    );
    let mut t = trainer(raw(), 1, Device::cpu());
    let e = t.fit(|_| Err(Error::callback("enough"))).unwrap_err();
    assert!(matches!(&e, Error::Callback(_)) && e.to_string() == "enough");
}

#[test]
fn outputs_beyond_memory_are_refused_before_they_are_allocated() {
    // 1 input, a million outputs: a million rows' outputs are 4 TB; a million classes'
    // confusion matrix 8 TB.
    let wide = Spec::regressor(1, &[], 1_000_000).unwrap();
    let e = Model::init(wide, 0)
        .unwrap()
        .predict_f32(&vec![0.5; 1_000_000])
        .unwrap_err();
    assert!(matches!(e, Error::OutOfMemory(_)), "{e:?}");
    let classes = Spec::classifier(1, &[], 1_000_000).unwrap();
    let two = Dataset::new(
        "two",
        vec![0.5, -0.5],
        2,
        1,
        Targets::Classes {
            labels: vec![0, 1],
            n_classes: 2,
        },
    )
    .unwrap();
    let e = Model::init(classes, 0).unwrap().evaluate(&two).unwrap_err();
    assert!(matches!(e, Error::OutOfMemory(_)), "{e:?}");
}

#[test]
fn byte_inputs_without_a_scale_per_input_are_refused_by_predict() {
    let model = Model::init(spec(), 0).unwrap();
    for (scale, offset) in [(vec![1.0], vec![0.0]), (vec![], vec![])] {
        let x = Inputs::U8Affine {
            data: vec![7; 2 * DIM],
            scale: scale.clone(),
            offset,
        };
        let e = model.predict(&x, 2).unwrap_err();
        let says = format!(
            "{} scales and {} offsets for {DIM} inputs",
            scale.len(),
            scale.len()
        );
        match &e {
            Error::InvalidData { dataset, .. } if dataset == "the inputs" => {
                assert!(e.to_string().contains(&says), "{e}")
            }
            other => panic!("expected InvalidData, got {other:?}"),
        }
    }
}

#[test]
fn evaluating_no_rows_is_an_error_as_fitting_them_is() {
    let mut d = raw();
    d.x = Inputs::F32(vec![]);
    d.n = 0;
    d.targets = Targets::Classes {
        labels: vec![],
        n_classes: CLASSES,
    };
    let e = Model::init(spec(), 0).unwrap().evaluate(&d).unwrap_err();
    assert_invalid_data(&e, None, None, "has no rows");
}

#[test]
fn a_non_finite_parameter_is_refused_by_new_predict_and_evaluate_naming_the_tensor() {
    let good = Model::init(spec(), 0).unwrap();
    let mut params = good.params.clone();
    // Layer 0 is ReLU: a NaN weight there can give finite outputs that mean nothing.
    params.layers[0].w[2 * 8 + 5] = f32::NAN;
    let e = Model::new(spec(), params.clone()).unwrap_err().to_string();
    assert!(
        e.contains("layers.0.weight (input 2, output 5) is NaN"),
        "{e}"
    );
    let mut built = good.clone();
    built.params = params;
    let e = built.predict_f32(&[0.5; DIM]).unwrap_err();
    assert!(matches!(e, Error::Diverged(_)), "{e:?}");
    assert!(e.to_string().contains("layers.0.weight"), "{e}");
    let e = built.evaluate(&raw()).unwrap_err();
    assert!(e.to_string().contains("layers.0.weight"), "{e}");
    let mut bias = good;
    bias.params.layers[1].b[1] = f32::INFINITY;
    let e = bias.predict_f32(&[0.5; DIM]).unwrap_err().to_string();
    assert!(e.contains("layers.1.bias 1 is inf"), "{e}");
}

#[test]
fn checkpoints_every_zero_epochs_is_refused_as_the_run_plan_refuses_it() {
    let dir = std::env::temp_dir().join(format!("wgtrain-every0-{}", std::process::id()));
    let mut t = trainer(raw(), 2, Device::cpu()).checkpoints(wgtrain::session::Checkpoints {
        path: dir.join("never.safetensors"),
        every: Some(0),
        keep_best: false,
    });
    let token = t.stop_token();
    match t.fit(|_| Ok(())) {
        Err(Error::InvalidArgument {
            arg: Some("checkpoint_every"),
            msg,
        }) => assert_eq!(msg, "must be at least 1"),
        other => panic!("expected checkpoint_every refused, got {other:?}"),
    }
    assert_eq!(token.steps(), 0);
}

#[test]
fn cross_entropy_value_targets_that_are_not_probabilities_are_refused_naming_the_row() {
    let soft = |values: Vec<f32>| {
        let mut d = raw();
        d.targets = Targets::Values {
            values,
            width: CLASSES,
        };
        d
    };
    let mut ok = [0.2, 0.3, 0.5].repeat(N);
    let e = fit_error(
        soft({
            let mut v = ok.clone();
            v[3 * 5 + 1] = -0.5;
            v
        }),
        Device::cpu(),
    );
    assert_invalid_data(
        &e,
        Some(5),
        Some(1),
        "target column 1 (0-based) is -0.5 on row 5",
    );
    let mut half = ok.clone();
    half[3 * 9..3 * 10].copy_from_slice(&[0.2, 0.2, 0.1]);
    let e = fit_error(soft(half.clone()), Device::cpu());
    assert_invalid_data(
        &e,
        Some(9),
        None,
        "the targets of row 9 (0-based) sum to 0.5",
    );
    let e = Model::init(spec(), 0)
        .unwrap()
        .evaluate(&soft(half))
        .unwrap_err();
    assert_invalid_data(&e, Some(9), None, "class probabilities");
    // Probabilities as written with a few decimals train.
    ok[..3].copy_from_slice(&[0.333, 0.333, 0.334]);
    let mut t = trainer(soft(ok), 1, Device::cpu());
    let fit = t.fit(|_| Ok(())).unwrap();
    assert!(fit.reports[0].train_loss > 0.0);
}

#[test]
fn evaluation_of_a_tie_at_huge_logits_costs_ln_2_not_0() {
    // Logits (1e30, 1e30): p = (1/2, 1/2), whatever the true class.
    let mut m = Model::init(Spec::classifier(1, &[], 2).unwrap(), 0).unwrap();
    m.params.layers[0].w = vec![1e30, 1e30];
    let one = Dataset::new(
        "tie",
        vec![1.0],
        1,
        1,
        Targets::Classes {
            labels: vec![0],
            n_classes: 2,
        },
    )
    .unwrap();
    assert_eq!(m.predict_f32(&[1.0]).unwrap(), [0.5, 0.5]);
    let e = m.evaluate(&one).unwrap();
    let ln2 = std::f64::consts::LN_2;
    assert!((e.loss - ln2).abs() < 1e-12, "loss {}", e.loss);
    let log_loss = e.log_loss.unwrap();
    assert!((log_loss - ln2).abs() < 1e-12, "log_loss {log_loss}");
}

#[test]
fn an_adapter_name_that_matches_none_says_how_the_library_lists_them() {
    let options = wgtrain::GpuOptions {
        adapter: Some("no-such-adapter-anywhere".into()),
        ..wgtrain::GpuOptions::default()
    };
    match options.open().err() {
        Some(Error::NoAdapter(msg)) => {
            assert!(
                msg.contains(
                    "no adapter's name contains 'no-such-adapter-anywhere' (the adapters: "
                ) && msg.contains("`gpu::adapters` lists them"),
                "{msg}"
            );
            assert!(
                !msg.contains("wgtrain devices"),
                "a command in the library's words: {msg}"
            );
        }
        other => panic!("expected NoAdapter, got {other:?}"),
    }
}
