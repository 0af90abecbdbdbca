//! The settings of new and resumed runs: defaults, flags, and every contradiction named.

use super::*;
use wgtrain::data::{Column, CsvOptions, TargetColumns};
use wgtrain::optim::OptimState;
use wgtrain::train::Progress;

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

fn new_run() -> Flags {
    Flags {
        epochs: 3,
        ..Flags::default()
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
        standardize: None,
        target_standardize: None,
        label_column: Some(1),
        targets: None,
        table: None,
    }
}

fn resume(flags: &Flags) -> Result<Settings> {
    Settings::from_flags(flags, Some((&stored(), Path::new(FILE))))
}

fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
    crate::cli::message(&r.unwrap_err().into())
}

#[test]
fn a_new_run_without_flags_gets_the_defaults() {
    let s = Settings::from_flags(&new_run(), None).unwrap();
    assert_eq!(s.optimizer, Optimizer::default());
    assert_eq!(s.schedule, Schedule::default());
    assert_eq!(
        (s.hp.lr, s.hp.l2, s.hp.batch, s.hp.epochs, s.hp.seed),
        (0.1, 0.0, 32, 3, 0)
    );
    assert_eq!(s.data, "digits");
    assert_eq!(
        (s.valid_split, s.csv.clone(), s.table),
        (None, CsvOptions::default(), None)
    );
}

#[test]
fn a_new_run_takes_its_flags() {
    let flags = Flags {
        optimizer: Some(Method::Nesterov),
        momentum: Some(0.5),
        schedule: Some("step".into()),
        lr_step: Some(3),
        lr: Some(0.02),
        batch: Some(8),
        valid_split: Some(0.2),
        csv: CsvOptions {
            targets: Some(TargetColumns::Last(2)),
            ..CsvOptions::default()
        },
        ..new_run()
    };
    let s = Settings::from_flags(&flags, None).unwrap();
    assert_eq!(s.optimizer.method, Method::Nesterov);
    assert_eq!(s.optimizer.momentum, 0.5);
    assert_eq!(
        s.schedule.decay,
        Decay::Step {
            every: 3,
            gamma: 0.1
        }
    );
    assert_eq!((s.hp.lr, s.hp.batch), (0.02, 8));
    assert_eq!(
        (s.valid_split, s.csv.targets),
        (Some(0.2), Some(TargetColumns::Last(2)))
    );
}

#[test]
fn a_resumed_run_without_flags_gets_the_checkpoints_settings() {
    let st = stored();
    let s = resume(&new_run()).unwrap();
    assert_eq!(s.optimizer, st.optim.optimizer);
    assert_eq!(s.schedule, st.schedule);
    assert_eq!(
        (s.hp.lr, s.hp.l2, s.hp.batch, s.hp.seed),
        (st.lr, st.l2, st.batch, st.seed)
    );
    assert_eq!(
        s.hp.epochs, 3,
        "--epochs counts the epochs after the file's"
    );
    assert_eq!(s.data, "my.csv");
    assert_eq!(
        (s.valid_split, s.csv.label, s.csv.targets),
        (Some(0.1), Some(Column::Number(1)), None)
    );
}

#[test]
fn a_resumed_run_accepts_flags_equal_to_the_checkpoints() {
    let flags = Flags {
        optimizer: Some(Method::Adam),
        beta2: Some(0.99),
        lr: Some(0.001),
        batch: Some(16),
        schedule: Some("step".into()),
        lr_gamma: Some(0.5),
        valid_split: Some(0.1),
        csv: CsvOptions {
            label: Some(Column::Number(1)),
            ..CsvOptions::default()
        },
        data: Some("moved.csv".into()),
        ..new_run()
    };
    let s = resume(&flags).unwrap();
    assert_eq!(s.optimizer, stored().optim.optimizer);
    assert_eq!(s.data, "moved.csv", "the data may have moved");
}

#[test]
fn a_flag_that_contradicts_the_checkpoint_is_an_error_naming_the_flag_and_the_file() {
    let cases: [(Flags, &str); 7] = [
        (
            Flags {
                lr: Some(0.5),
                ..new_run()
            },
            "--lr 0.5 contradicts run.safetensors, whose run has --lr 0.001",
        ),
        (
            Flags {
                optimizer: Some(Method::Sgd),
                ..new_run()
            },
            "--optimizer sgd contradicts run.safetensors, whose run has --optimizer adam",
        ),
        (
            Flags {
                beta2: Some(0.999),
                ..new_run()
            },
            "--beta2 0.999 contradicts run.safetensors, whose run has --beta2 0.99",
        ),
        (
            Flags {
                schedule: Some("cosine".into()),
                ..new_run()
            },
            "--schedule cosine contradicts run.safetensors, whose run has --schedule step",
        ),
        (
            Flags {
                seed: Some(0),
                ..new_run()
            },
            "--seed 0 contradicts run.safetensors, whose run has --seed 7",
        ),
        (
            Flags {
                valid_split: Some(0.2),
                ..new_run()
            },
            "--valid-split contradicts run.safetensors, whose run has --valid-split 0.1",
        ),
        (
            Flags {
                csv: CsvOptions {
                    targets: Some(TargetColumns::Last(2)),
                    ..CsvOptions::default()
                },
                ..new_run()
            },
            "--targets 2 contradicts run.safetensors, whose run has no --targets",
        ),
    ];
    for (flags, want) in cases {
        let got = message(resume(&flags));
        assert!(got.starts_with(want), "got: {got}\nwant: {want}...");
        assert!(got.ends_with("out"), "{got}");
    }
}

#[test]
fn a_hyper_parameter_of_another_optimizer_is_an_error() {
    let flags = Flags {
        momentum: Some(0.5),
        ..new_run()
    };
    assert_eq!(
        message(resume(&flags)),
        "--momentum applies to --optimizer momentum and nesterov, but the optimizer is adam"
    );
    let flags = Flags {
        weight_decay: Some(0.1),
        optimizer: Some(Method::Adam),
        ..new_run()
    };
    assert!(message(Settings::from_flags(&flags, None)).starts_with("--weight-decay applies"));
}

#[test]
fn an_unknown_schedule_name_is_an_error() {
    let e = Settings::from_flags(
        &Flags {
            schedule: Some("linear".into()),
            ..new_run()
        },
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--schedule linear: expected constant, step or cosine"),
        "{e}"
    );
}

#[test]
fn a_step_schedule_needs_lr_step_on_a_new_run_only() {
    let flags = Flags {
        schedule: Some("step".into()),
        ..new_run()
    };
    assert_eq!(
        message(Settings::from_flags(&flags, None)),
        "--schedule step needs --lr-step N, the epochs between two decays"
    );
    assert!(resume(&flags).is_ok());
    let flags = Flags {
        lr_gamma: Some(0.5),
        ..new_run()
    };
    assert_eq!(
        message(Settings::from_flags(&flags, None)),
        "--lr-gamma applies to --schedule step, but the schedule is constant"
    );
}

#[test]
fn out_of_range_values_are_errors() {
    let flags = Flags {
        lr: Some(0.0),
        ..new_run()
    };
    assert!(message(Settings::from_flags(&flags, None)).starts_with("--lr must be"));
    let flags = Flags {
        epochs: 0,
        ..new_run()
    };
    assert!(message(resume(&flags)).starts_with("--epochs must be"));
}

#[test]
fn a_new_network_gets_64_relu_units_and_the_loss_that_fits_the_targets() {
    let s = ArchFlags::default().build(4, 3, true).unwrap();
    assert_eq!(s.sizes, [4, 64, 3]);
    assert_eq!(s.hidden, [Activation::Relu]);
    assert_eq!((s.output, s.loss), (Output::Softmax, Loss::CrossEntropy));
    let s = ArchFlags::default().build(4, 3, false).unwrap();
    assert_eq!(s.loss, Loss::Mse);
    let flags = ArchFlags {
        hidden: Some("8, 0".into()),
        ..ArchFlags::default()
    };
    assert!(message(flags.build(4, 3, true)).starts_with("--hidden 8, 0: a hidden layer of zero"));
}

#[test]
fn an_architecture_flag_that_contradicts_the_checkpoint_is_an_error() {
    let file = Path::new(FILE);
    let same = ArchFlags {
        hidden: Some("3".into()),
        activation: Some("relu".into()),
        loss: Some(Loss::CrossEntropy),
        output: None,
    };
    let why = "--resume takes the architecture from the file";
    same.check(&spec(), file, why).unwrap();
    let other = ArchFlags {
        hidden: Some("4".into()),
        ..ArchFlags::default()
    };
    assert!(
        message(other.check(&spec(), file, why))
            .starts_with("--hidden 4 contradicts run.safetensors, which holds a 2-3(relu)-2")
    );
    let several = ArchFlags {
        hidden: Some("4".into()),
        activation: Some("tanh".into()),
        output: Some(Output::Sigmoid),
        loss: Some(Loss::CrossEntropy),
    };
    assert_eq!(
        message(several.check(&spec(), file, why)),
        "--hidden 4, --activation tanh, --output sigmoid contradict run.safetensors, which holds a 2-3(relu)-2 softmax/cross-entropy network: --resume takes the architecture from the file; leave them out"
    );
}

#[test]
fn a_file_without_metadata_needs_every_missing_flag_named_at_once() {
    let file = Path::new("torch.safetensors");
    let sizes = [4, 8, 5, 3];
    let none = ArchFlags::default();
    assert_eq!(
        message(none.check_plain(&sizes, file, true)),
        "torch.safetensors has no wgtrain metadata (a PyTorch state_dict?), so its layer sizes come from the tensors' shapes (4-8-5-3) and the rest from the flags: give --activation (one for its 2 hidden layers, or one each) and --output or --loss"
    );
    // train chooses the loss from the data, so only --activation is missing there.
    assert!(
        message(none.check_plain(&sizes, file, false))
            .ends_with("give --activation (one for its 2 hidden layers, or one each)")
    );
    let wrong = ArchFlags {
        hidden: Some("8,6".into()),
        activation: Some("relu,tanh,relu".into()),
        output: Some(Output::Sigmoid),
        loss: None,
    };
    let m = message(wrong.check_plain(&sizes, file, true));
    for needle in [
        "give --loss (output sigmoid fits bce and mse)",
        "--hidden 8,6 contradicts the tensors' hidden sizes 8,5",
        "--activation gives 3 activations for 2 hidden layers",
    ] {
        assert!(m.contains(needle), "{needle:?} not in {m}");
    }
    let enough = ArchFlags {
        activation: Some("relu".into()),
        loss: Some(Loss::CrossEntropy),
        ..ArchFlags::default()
    };
    enough.check_plain(&sizes, file, true).unwrap();
    // No hidden layer: no activation to give.
    let linear = ArchFlags {
        output: Some(Output::Linear),
        ..ArchFlags::default()
    };
    linear.check_plain(&[4, 2], file, true).unwrap();
    assert_eq!(
        enough.arch(2).unwrap().activations,
        Some(vec![Activation::Relu; 2])
    );
}
