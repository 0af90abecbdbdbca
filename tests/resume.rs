//! Resuming is exact: a run saved part-way (at an epoch's end, or inside an epoch) and resumed
//! from its checkpoint ends with the same parameter and optimiser-state bits as the run that
//! never stopped, on the fast CPU path and on the GPU, through the library and the command line.

mod common;

use std::path::Path;

use common::gpu;
use common::scratch::Scratch;
use wgtrain::checkpoint::{self, TrainingState};
use wgtrain::data::{self, Dataset};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::optim::{Decay, Method, OptimState, Optimizer, Schedule};
use wgtrain::testing::fast::CpuTrainer;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::{self, Backend, Course, Hyper, epoch_rng};
use wgtrain::train::Progress;

fn spec() -> Spec {
    Spec::new(
        vec![64, 32, 10],
        vec![Activation::Relu],
        Output::Softmax,
        Loss::CrossEntropy,
    )
    .unwrap()
}

/// Adam with λ, a per-epoch step decay and a warm-up across the first epoch boundary: every
/// piece of state a resume must restore changes each step.
fn setup() -> (Dataset, Hyper, OptimState, Course) {
    let split = data::load("digits", None).unwrap();
    let hp = Hyper {
        lr: 0.002,
        l2: 1e-4,
        batch: 32,
        epochs: 3,
        seed: 11,
    };
    let opt = Optimizer {
        beta1: 0.85,
        ..Optimizer::new(Method::Adam)
    };
    let plan = Course {
        schedule: Schedule {
            decay: Decay::Step {
                every: 1,
                gamma: 0.7,
            },
            warmup: 60,
        },
        start: Progress::default(),
    };
    (split.train, hp, OptimState::new(opt, &spec()), plan)
}

fn bits(p: &Params) -> Vec<u32> {
    p.layers
        .iter()
        .flat_map(|l| l.w.iter().chain(&l.b))
        .map(|v| v.to_bits())
        .collect()
}

fn state_bits(s: &OptimState) -> (u64, Vec<Vec<u32>>) {
    (s.step, s.slots.iter().map(bits).collect())
}

/// Runs the plan quietly, returning the per-epoch train losses.
fn run(backend: &mut dyn Backend, n: usize, hp: &Hyper, plan: &Course) -> Vec<f64> {
    train::run_planned(
        backend,
        n,
        hp,
        plan,
        true,
        &[],
        &wgtrain::StopToken::new(),
        &mut |_, _| Ok(wgtrain::train::Flow::Continue),
    )
    .unwrap()
    .iter()
    .map(|r| r.train_loss)
    .collect()
}

/// The run that never stops (three epochs), against: one epoch, `batches` steps of the second
/// (driven by hand, as a Ctrl-C would leave it), a checkpoint, and a fresh backend resumed
/// from it for two more epochs (the partial one counting as one).
fn check_mid_epoch_resume(name: &str, make: &dyn Fn(&Params, &Dataset) -> Box<dyn Backend>) {
    let (data, hp, fresh, plan) = setup();
    let spec = spec();
    let start = Params::init(&spec, hp.seed);
    let mut whole = make(&start, &data);
    whole.set_optimizer(&fresh).unwrap();
    run(whole.as_mut(), data.n, &hp, &plan);

    let per_epoch = data.n.div_ceil(hp.batch);
    let batches = 7;
    let mut first = make(&start, &data);
    first.set_optimizer(&fresh).unwrap();
    run(first.as_mut(), data.n, &Hyper { epochs: 1, ..hp }, &plan);
    let mut rng = epoch_rng(hp.seed);
    let mut perm: Vec<u32> = (0..data.n as u32).collect();
    rng.shuffle(&mut perm);
    rng.shuffle(&mut perm);
    let total = 3 * per_epoch;
    let lrs: Vec<f32> = (per_epoch..per_epoch + batches)
        .map(|s| plan.schedule.lr(hp.lr, s, 1, total))
        .collect();
    first
        .train_steps(
            &perm[..batches * hp.batch],
            &hp,
            &lrs,
            &wgtrain::StopToken::new(),
        )
        .unwrap();
    let progress = Progress {
        epoch: 1,
        batch: batches,
    };
    let s = Scratch::new(name);
    let file = s.path("mid-epoch.safetensors");
    let state = TrainingState {
        optim: first.optimizer_state().unwrap(),
        schedule: plan.schedule,
        lr: hp.lr,
        l2: hp.l2,
        batch: hp.batch,
        seed: hp.seed,
        progress,
        data: "digits".into(),
        train_rows: data.n,
        valid_split: None,
        stratified: false,
        class_weights: None,
        standardize: None,
        target_standardize: None,
        // Not this run's layout (digits is no CSV file): here only to be read back.
        label_column: Some(3),
        targets: Some(2),
        table: None,
    };
    checkpoint::save_training(&file, &spec, &first.params().unwrap(), &state).unwrap();
    // Two saves of one state are the same bytes (the header's metadata in a fixed order).
    let again = s.path("again.safetensors");
    checkpoint::save_training(&again, &spec, &first.params().unwrap(), &state).unwrap();
    assert!(
        std::fs::read(&file).unwrap() == std::fs::read(&again).unwrap(),
        "{name}: two saves of one state differ"
    );
    drop(first);

    let (got_spec, params, loaded) = checkpoint::load_training(&file).unwrap();
    assert_eq!(got_spec, spec, "{name}: architecture read back");
    let loaded = loaded.unwrap_or_else(|| panic!("{name}: no training state read back"));
    assert_eq!(loaded, state, "{name}: training state read back");
    let mut resumed = make(&params, &data);
    resumed.set_optimizer(&loaded.optim).unwrap();
    let plan2 = Course {
        start: loaded.progress,
        ..plan
    };
    run(resumed.as_mut(), data.n, &Hyper { epochs: 2, ..hp }, &plan2);

    assert_eq!(
        bits(&resumed.params().unwrap()),
        bits(&whole.params().unwrap()),
        "{name}: parameters after the resumed run differ from the uninterrupted run's"
    );
    assert_eq!(
        state_bits(&resumed.optimizer_state().unwrap()),
        state_bits(&whole.optimizer_state().unwrap()),
        "{name}: optimizer state after the resumed run differs from the uninterrupted run's"
    );
}

#[test]
fn resuming_inside_an_epoch_from_a_checkpoint_is_bitwise_exact_on_fast_cpu() {
    check_mid_epoch_resume("mid_epoch_cpu", &|p, d| {
        Box::new(CpuTrainer::new(&spec(), p.clone(), d, None, 32).unwrap())
    });
}

#[test]
fn resuming_inside_an_epoch_from_a_checkpoint_is_bitwise_exact_on_gpu() {
    let test = "resuming_inside_an_epoch_from_a_checkpoint_is_bitwise_exact_on_gpu";
    if gpu(test).is_none() {
        return;
    }
    check_mid_epoch_resume("mid_epoch_gpu", &|p, d| {
        let ctx = gpu(test).unwrap();
        Box::new(GpuTrainer::new(ctx, &spec(), p, d, None, 32).unwrap())
    });
}

/// Every tensor of a checkpoint by name, as bits.
fn tensors(path: &Path) -> Vec<(String, Vec<u32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut all: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| {
            let v = t
                .data()
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (name, v)
        })
        .collect();
    all.sort();
    all
}

/// (epoch, train loss as printed) of each epoch line of stdout.
fn losses(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let at = t.iter().position(|&w| w == "train").unwrap() + 2;
            (
                t[1].split('/').next().unwrap().to_string(),
                t[at].to_string(),
            )
        })
        .collect()
}

/// `wgtrain train ARGS --epochs 4` against `--epochs 2` then `--resume --epochs 2` (ARGS name
/// the device, which the resumed run is given again): the same
/// tensors bit for bit (parameters and optimizer state), and the resumed run prints epochs 3
/// and 4 with the uninterrupted run's losses.
fn check_cli_resume(name: &str, args: &[&str]) {
    let s = Scratch::new(name);
    let (whole, half, resumed) = (s.arg("whole"), s.arg("half"), s.arg("resumed"));
    let train = |extra: &[&str]| s.run(&[&["train"], args, extra].concat()).success_stdout();
    let out4 = train(&["--epochs", "4", "--save", &whole]);
    let out2 = train(&["--epochs", "2", "--save", &half]);
    // The device is not part of the run's settings: the resumed run picks it again.
    let device = args[args.iter().position(|&a| a == "--device").unwrap() + 1];
    let out_r = s
        .run(&[
            "train", "--resume", &half, "--epochs", "2", "--save", &resumed, "--device", device,
        ])
        .success_stdout();
    let (l4, l2, lr) = (losses(&out4), losses(&out2), losses(&out_r));
    assert_eq!(l4.len(), 4, "{name}: {out4}");
    assert_eq!(l2[..], l4[..2], "{name}: the first two epochs");
    assert!(
        out_r.starts_with("epoch   3/4") && out_r.contains("\nepoch   4/4"),
        "{name}: resumed run printed {out_r}"
    );
    assert_eq!(lr[..], l4[2..], "{name}: the resumed epochs' losses");
    let (a, b) = (tensors(&s.path("whole")), tensors(&s.path("resumed")));
    let names: Vec<&str> = a.iter().map(|t| t.0.as_str()).collect();
    assert!(
        names.iter().any(|n| n.starts_with("optim.")),
        "{name}: no optimizer state saved: {names:?}"
    );
    assert_eq!(
        names,
        b.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        "{name}: tensor names"
    );
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x.1 == y.1,
            "{name}: tensor {} differs between the 4-epoch run and 2 + 2 resumed",
            x.0
        );
    }
}

/// Adam with λ, a step decay and a warm-up over the first epoch boundary.
const ADAM_STEP: [&str; 15] = [
    "--optimizer",
    "adam",
    "--lr",
    "0.002",
    "--l2",
    "1e-4",
    "--schedule",
    "step",
    "--lr-step",
    "1",
    "--lr-gamma",
    "0.7",
    "--warmup",
    "60",
    "--hidden=32",
];

#[test]
fn four_epochs_equal_two_saved_and_two_resumed_bitwise_on_the_cpu_path() {
    let mut args = ADAM_STEP.to_vec();
    args.extend(["--device", "cpu"]);
    check_cli_resume("cli_cpu", &args);
}

#[test]
fn four_epochs_equal_two_saved_and_two_resumed_bitwise_on_the_gpu_path() {
    let test = "four_epochs_equal_two_saved_and_two_resumed_bitwise_on_the_gpu_path";
    if gpu(test).is_none() {
        return;
    }
    let mut args = ADAM_STEP.to_vec();
    args.extend(["--device", "gpu"]);
    check_cli_resume("cli_gpu", &args);
}

#[test]
fn nesterov_with_a_validation_split_resumes_bitwise_on_the_cpu_path() {
    check_cli_resume(
        "cli_nesterov",
        &[
            "--optimizer",
            "nesterov",
            "--momentum",
            "0.8",
            "--lr",
            "0.05",
            "--valid-split",
            "0.2",
            "--seed",
            "3",
            "--batch",
            "50",
            "--hidden",
            "16",
            "--device",
            "cpu",
        ],
    );
}

/// A cosine schedule spans the whole run, so a 4-epoch run stopped after epoch 2 (its epoch
/// callback fails after saving, as a Ctrl-C at that point would) and resumed for 2 more from the
/// checkpoint ends where the uninterrupted run does.
#[test]
fn cosine_adamw_run_stopped_after_epoch_two_resumes_to_the_same_bits() {
    let (data, hp, _, _) = setup();
    let spec = spec();
    let hp = Hyper { epochs: 4, ..hp };
    let opt = Optimizer {
        weight_decay: 0.05,
        ..Optimizer::new(Method::AdamW)
    };
    let plan = Course {
        schedule: Schedule {
            decay: Decay::Cosine,
            warmup: 10,
        },
        start: Progress::default(),
    };
    let start = Params::init(&spec, hp.seed);
    let make = |p: &Params, state: &OptimState| {
        let mut t = CpuTrainer::new(&spec, p.clone(), &data, None, hp.batch).unwrap();
        t.set_optimizer(state).unwrap();
        t
    };
    let mut whole = make(&start, &OptimState::new(opt, &spec));
    run(&mut whole, data.n, &hp, &plan);

    let s = Scratch::new("cosine");
    let file = s.path("epoch2.safetensors");
    let mut stopped = make(&start, &OptimState::new(opt, &spec));
    let err = train::run_planned(
        &mut stopped,
        data.n,
        &hp,
        &plan,
        true,
        &[],
        &wgtrain::StopToken::new(),
        &mut |r, b| {
            if r.epoch < 2 {
                return Ok(wgtrain::train::Flow::Continue);
            }
            let state = TrainingState {
                optim: b.optimizer_state()?,
                schedule: plan.schedule,
                lr: hp.lr,
                l2: hp.l2,
                batch: hp.batch,
                seed: hp.seed,
                progress: r.progress,
                data: "digits".into(),
                train_rows: data.n,
                valid_split: None,
                stratified: false,
                class_weights: None,
                standardize: None,
                target_standardize: None,
                label_column: None,
                targets: None,
                table: None,
            };
            checkpoint::save_training(&file, &spec, &b.params()?, &state)?;
            Err(wgtrain::Error::usage("stopped after epoch 2"))
        },
    );
    assert!(err.is_err(), "the run was not stopped");
    let (_, params, loaded) = checkpoint::load_training(&file).unwrap();
    let loaded = loaded.unwrap();
    assert_eq!(loaded.progress, Progress { epoch: 2, batch: 0 });
    let mut resumed = make(&params, &loaded.optim);
    let plan2 = Course {
        start: loaded.progress,
        ..plan
    };
    run(&mut resumed, data.n, &Hyper { epochs: 2, ..hp }, &plan2);
    assert_eq!(
        bits(&resumed.params().unwrap()),
        bits(&whole.params().unwrap()),
        "cosine: parameters after stop and resume differ from the uninterrupted run's"
    );
    assert_eq!(
        state_bits(&resumed.optimizer_state().unwrap()),
        state_bits(&whole.optimizer_state().unwrap()),
        "cosine: optimizer state after stop and resume differs from the uninterrupted run's"
    );
}

/// Ctrl-C in the middle of a run saves where it stopped (inside an epoch, most likely);
/// `--resume` for 2 more epochs then equals an uninterrupted run that long, whatever the point.
#[cfg(unix)]
#[test]
fn ctrl_c_then_resume_equals_the_uninterrupted_run_on_the_cpu_path() {
    use std::io::{BufRead, BufReader};
    let s = Scratch::new("ctrl_c");
    let (stopped, resumed, whole) = (s.arg("stopped"), s.arg("resumed"), s.arg("whole"));
    let args = [
        "--optimizer",
        "momentum",
        "--lr",
        "0.02",
        "--hidden",
        "256,256",
        "--batch",
        "8",
        "--device",
        "cpu",
    ];
    let mut child = s
        .command(
            &[
                &["train"][..],
                &args,
                &["--epochs", "100000", "--save", &stopped],
            ]
            .concat(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The first epoch line means the handler is installed and training is under way.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("epoch"), "{first}");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for _ in lines {}
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted run's exit status");
    let bytes = std::fs::read(s.path("stopped")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    let done: usize = meta["epoch"].parse().unwrap();
    let total = (done + 2).to_string();
    s.run(&[
        "train", "--resume", &stopped, "--epochs", "2", "--save", &resumed,
    ])
    .assert_success();
    s.run(
        &[
            &["train"][..],
            &args,
            &["--epochs", &total, "--save", &whole],
        ]
        .concat(),
    )
    .assert_success();
    let (a, b) = (tensors(&s.path("whole")), tensors(&s.path("resumed")));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x.0 == y.0 && x.1 == y.1,
            "tensor {} differs between the uninterrupted run and the one resumed after Ctrl-C at epoch {done} batch {}",
            x.0,
            meta["epoch_batches"]
        );
    }
}
