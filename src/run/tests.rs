//! The settings of new and resumed runs: defaults, given values, and every contradiction
//! named (shown here with settings spelled as a command line's flags).

use std::path::Path;

use super::settings::{Reconciled, resumed_csv};
use super::*;
use crate::data::{Column, TargetColumns};
use crate::model::{Activation, Output, Spec};
use crate::optim::{Decay, Method, OptimState, Optimizer, Schedule};
use crate::train::Progress;

const FILE: &str = "run.safetensors";

fn spec() -> Spec {
    Spec::new(
        vec![2, 3, 2],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap()
}

fn new_run() -> Settings {
    Settings {
        epochs: Some(3),
        ..Settings::default()
    }
}

/// A run saved after 2 epochs of 1 batch each: adam (β2 0.99), step schedule, a held-out
/// validation set and a CSV layout, none of them the defaults.
fn stored() -> TrainingState {
    let optimizer = Optimizer {
        beta2: 0.99,
        ..Optimizer::new(Method::Adam)
    };
    let mut optim = OptimState::new(optimizer, &spec());
    optim.step = 2;
    TrainingState {
        optim,
        schedule: Schedule {
            decay: Decay::Step {
                every: 2,
                gamma: 0.5,
            },
            warmup: 5,
        },
        lr: 0.001,
        l2: 1e-4,
        batch: 16,
        seed: 7,
        progress: Progress { epoch: 2, batch: 0 },
        data: "my.csv".into(),
        train_rows: 4,
        valid_split: Some(0.1),
        stratified: true,
        class_weights: None,
        standardize: None,
        target_standardize: None,
        label_column: Some(1),
        targets: None,
        table: None,
    }
}

fn resume(s: &Settings) -> Result<Reconciled> {
    s.reconcile(Some((&stored(), Path::new(FILE))))
}

fn new(s: &Settings) -> Result<Reconciled> {
    s.reconcile(None)
}

/// The error as a command line shows it: `lr` as `--lr`.
fn message<T>(r: Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.show(|n| format!("--{}", n.replace('_', "-"))),
    }
}

#[test]
fn a_new_run_without_settings_gets_the_defaults() {
    let s = new(&new_run()).unwrap();
    let d = crate::config::Config::default();
    assert_eq!(s.config.optimizer, Optimizer::default());
    assert_eq!(s.config.schedule, Schedule::default());
    assert_eq!(
        (
            s.config.lr,
            s.config.l2,
            s.config.batch,
            s.config.epochs,
            s.config.seed
        ),
        (d.lr, d.l2, d.batch, 3, d.seed)
    );
    assert_eq!(s.valid_split, None);
}

#[test]
fn a_new_run_takes_its_settings() {
    let flags = Settings {
        optimizer: Some(Method::Nesterov),
        momentum: Some(0.5),
        schedule: Some(ScheduleName::Step),
        lr_step: Some(3),
        lr: Some(0.02),
        batch: Some(8),
        valid_split: Some(0.2),
        ..new_run()
    };
    let s = new(&flags).unwrap();
    assert_eq!(s.config.optimizer.method, Method::Nesterov);
    assert_eq!(s.config.optimizer.momentum, 0.5);
    assert_eq!(
        s.config.schedule.decay,
        Decay::Step {
            every: 3,
            gamma: 0.1
        }
    );
    assert_eq!((s.config.lr, s.config.batch), (0.02, 8));
    assert_eq!(s.valid_split, Some(0.2));
}

#[test]
fn a_resumed_run_without_settings_gets_the_checkpoints() {
    let st = stored();
    let s = resume(&new_run()).unwrap();
    assert_eq!(s.config.optimizer, st.optim.optimizer);
    assert_eq!(s.config.schedule, st.schedule);
    assert_eq!(
        (s.config.lr, s.config.l2, s.config.batch, s.config.seed),
        (st.lr, st.l2, st.batch, st.seed)
    );
    assert_eq!(
        s.config.epochs, 3,
        "epochs counts the epochs after the file's"
    );
    assert_eq!(s.valid_split, Some(0.1));
    let (csv, table) = resumed_csv(&CsvOptions::default(), &st, Path::new(FILE)).unwrap();
    assert_eq!(
        (csv.label, csv.targets, table),
        (Some(Column::Number(1)), None, None)
    );
}

#[test]
fn a_resumed_run_accepts_settings_equal_to_the_checkpoints() {
    let flags = Settings {
        optimizer: Some(Method::Adam),
        beta2: Some(0.99),
        lr: Some(0.001),
        batch: Some(16),
        schedule: Some(ScheduleName::Step),
        lr_gamma: Some(0.5),
        valid_split: Some(0.1),
        ..new_run()
    };
    let s = resume(&flags).unwrap();
    assert_eq!(s.config.optimizer, stored().optim.optimizer);
    let label = CsvOptions {
        label: Some(Column::Number(1)),
        ..CsvOptions::default()
    };
    resumed_csv(&label, &stored(), Path::new(FILE)).unwrap();
}

#[test]
fn a_flag_that_contradicts_the_checkpoint_is_an_error_naming_the_flag_and_the_file() {
    let cases: [(Settings, &str); 6] = [
        (
            Settings {
                lr: Some(0.5),
                ..new_run()
            },
            "--lr 0.5 contradicts run.safetensors, whose run has --lr 0.001",
        ),
        (
            Settings {
                optimizer: Some(Method::Sgd),
                ..new_run()
            },
            "--optimizer sgd contradicts run.safetensors, whose run has --optimizer adam",
        ),
        (
            Settings {
                beta2: Some(0.999),
                ..new_run()
            },
            "--beta2 0.999 contradicts run.safetensors, whose run has --beta2 0.99",
        ),
        (
            Settings {
                schedule: Some(ScheduleName::Cosine),
                ..new_run()
            },
            "--schedule cosine contradicts run.safetensors, whose run has --schedule step",
        ),
        (
            Settings {
                seed: Some(0),
                ..new_run()
            },
            "--seed 0 contradicts run.safetensors, whose run has --seed 7",
        ),
        (
            Settings {
                valid_split: Some(0.2),
                ..new_run()
            },
            "--valid-split 0.2 contradicts run.safetensors, whose run has --valid-split 0.1",
        ),
    ];
    for (flags, want) in cases {
        let got = message(resume(&flags));
        assert!(got.starts_with(want), "got: {got}\nwant: {want}...");
        assert!(got.ends_with("out"), "{got}");
    }
    let targets = CsvOptions {
        targets: Some(TargetColumns::Last(2)),
        ..CsvOptions::default()
    };
    let got = message(resumed_csv(&targets, &stored(), Path::new(FILE)));
    assert!(
        got.starts_with("--targets 2 contradicts run.safetensors, whose run has no --targets"),
        "{got}"
    );
}

#[test]
fn a_hyper_parameter_of_another_optimizer_is_an_error() {
    let flags = Settings {
        momentum: Some(0.5),
        ..new_run()
    };
    assert_eq!(
        message(resume(&flags)),
        "--momentum applies to --optimizer momentum and nesterov, but the optimizer is adam"
    );
    let flags = Settings {
        weight_decay: Some(0.1),
        optimizer: Some(Method::Adam),
        ..new_run()
    };
    assert!(message(new(&flags)).starts_with("--weight-decay applies"));
}

#[test]
fn an_unknown_schedule_name_is_an_error() {
    let e = message("linear".parse::<ScheduleName>());
    assert_eq!(e, "--schedule linear: expected constant, step or cosine");
}

#[test]
fn a_step_schedule_needs_lr_step_on_a_new_run_only() {
    let flags = Settings {
        schedule: Some(ScheduleName::Step),
        ..new_run()
    };
    assert_eq!(
        message(new(&flags)),
        "--schedule step needs --lr-step N, the epochs between two decays"
    );
    assert!(resume(&flags).is_ok());
    let flags = Settings {
        lr_gamma: Some(0.5),
        ..new_run()
    };
    assert_eq!(
        message(new(&flags)),
        "--lr-gamma applies to --schedule step, but the schedule is constant"
    );
}

#[test]
fn out_of_range_values_are_errors() {
    let flags = Settings {
        lr: Some(0.0),
        ..new_run()
    };
    assert!(message(new(&flags)).starts_with("--lr must be"));
    let flags = Settings {
        epochs: Some(0),
        ..new_run()
    };
    assert!(message(resume(&flags)).starts_with("--epochs must be"));
}

#[test]
fn a_new_network_gets_64_relu_units_and_the_loss_that_fits_the_targets() {
    let s = build(&Arch::default(), 4, 3, true, None).unwrap();
    assert_eq!(s.sizes, [4, 64, 3]);
    assert_eq!(s.hidden, [Activation::Relu]);
    assert_eq!((s.output, s.loss), (Output::Softmax, Loss::CrossEntropy));
    let s = build(&Arch::default(), 4, 3, false, None).unwrap();
    assert_eq!(s.loss, Loss::Mse);
    let zero = Arch {
        hidden: Some(vec![8, 0]),
        ..Arch::default()
    };
    assert!(
        message(build(&zero, 4, 3, true, None)).starts_with("--hidden 8,0: a hidden layer of zero")
    );
}

#[test]
fn an_architecture_that_contradicts_the_checkpoint_is_an_error() {
    let file = Path::new(FILE);
    let same = Arch {
        hidden: Some(vec![3]),
        activations: Some(vec![Activation::Relu]),
        loss: Some(Loss::CrossEntropy),
        output: None,
    };
    let why = "the setting `resume` takes the architecture from the file";
    check(&same, &spec(), file, why).unwrap();
    let other = Arch {
        hidden: Some(vec![4]),
        ..Arch::default()
    };
    assert!(
        message(check(&other, &spec(), file, why))
            .starts_with("--hidden 4 contradicts run.safetensors, which holds a 2-3(relu)-2")
    );
    let several = Arch {
        hidden: Some(vec![4]),
        activations: Some(vec![Activation::Tanh]),
        output: Some(Output::Sigmoid),
        loss: Some(Loss::CrossEntropy),
    };
    assert_eq!(
        message(check(&several, &spec(), file, why)),
        "--hidden 4, --activation tanh, --output sigmoid contradict run.safetensors, which holds a 2-3(relu)-2 softmax/cross-entropy network: --resume takes the architecture from the file; leave them out"
    );
}

#[test]
fn a_file_without_metadata_needs_every_missing_piece_named_at_once() {
    let file = Path::new("torch.safetensors");
    let sizes = [4, 8, 5, 3];
    let none = Arch::default();
    assert_eq!(
        message(check_plain(&none, &sizes, file, true)),
        "torch.safetensors has no wgtrain metadata (a PyTorch state_dict?), so its layer sizes come from the tensors' shapes (4-8-5-3) and the rest from the settings: give --activation (one for its 2 hidden layers, or one each) and --output or --loss"
    );
    // train chooses the loss from the data, so only the activations are missing there.
    assert!(
        message(check_plain(&none, &sizes, file, false))
            .ends_with("give --activation (one for its 2 hidden layers, or one each)")
    );
    let wrong = Arch {
        hidden: Some(vec![8, 6]),
        activations: Some(vec![Activation::Relu, Activation::Tanh, Activation::Relu]),
        output: Some(Output::Sigmoid),
        loss: None,
    };
    let m = message(check_plain(&wrong, &sizes, file, true));
    for needle in [
        "give --loss (output sigmoid fits bce and mse)",
        "--hidden 8,6 contradicts the tensors' hidden sizes 8,5",
        "--activation gives 3 activations for 2 hidden layers",
    ] {
        assert!(m.contains(needle), "{needle:?} not in {m}");
    }
    let enough = Arch {
        activations: Some(vec![Activation::Relu]),
        loss: Some(Loss::CrossEntropy),
        ..Arch::default()
    };
    check_plain(&enough, &sizes, file, true).unwrap();
    // No hidden layer: no activation to give.
    let linear = Arch {
        output: Some(Output::Linear),
        ..Arch::default()
    };
    check_plain(&linear, &[4, 2], file, true).unwrap();
    assert_eq!(
        expand(&enough, 2).unwrap().activations,
        Some(vec![Activation::Relu; 2])
    );
}
