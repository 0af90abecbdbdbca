//! The optimiser and schedule flags end to end: Adam learns digits, bad values and resumes that
//! contradict their checkpoint fail with one clear message and write nothing, the help explains
//! each flag.

mod common;

use common::cli::{epochs, rejects, with_adapter};
use common::scratch::Scratch;

#[test]
fn adam_at_lr_0_001_trains_digits_to_95_percent_on_both_paths() {
    let test = "adam_digits";
    let s = Scratch::new(test);
    for device in ["cpu", "gpu"] {
        let run = s.run(&[
            "train",
            "--optimizer",
            "adam",
            "--lr",
            "0.001",
            "--device",
            device,
        ]);
        let Some(run) = with_adapter(test, run) else {
            continue;
        };
        run.assert_success();
        assert!(run.stderr.contains("optimizer: adam"), "{}", run.show());
        let acc = epochs(&run).last().and_then(|e| e.test_acc);
        assert!(
            acc.is_some_and(|a| a >= 95.0),
            "adam on {device}: {acc:?}% test accuracy\n{}",
            run.show()
        );
    }
}

#[test]
fn out_of_range_optimizer_values_are_rejected_naming_the_flag() {
    let s = Scratch::new("bad_values");
    for (args, needles) in [
        (
            &["--optimizer", "momentum", "--momentum", "-0.1"][..],
            &["--momentum", "[0, 1)"][..],
        ),
        (
            &["--optimizer", "momentum", "--momentum", "1"],
            &["--momentum"],
        ),
        (
            &["--optimizer", "nesterov", "--momentum", "0"],
            &["nesterov", "--momentum"],
        ),
        (
            &["--optimizer", "adam", "--beta1", "1"],
            &["--beta1", "[0, 1)"],
        ),
        (&["--optimizer", "adam", "--beta1", "-0.5"], &["--beta1"]),
        (&["--optimizer", "adam", "--beta2", "NaN"], &["--beta2"]),
        (&["--optimizer", "adam", "--beta2", "inf"], &["--beta2"]),
        (
            &["--optimizer", "adam", "--eps", "0"],
            &["--eps", "positive"],
        ),
        (&["--optimizer", "adamw", "--eps", "-1e-8"], &["--eps"]),
        (
            &["--optimizer", "adamw", "--weight-decay", "-0.01"],
            &["--weight-decay"],
        ),
        (
            &["--optimizer", "adamw", "--weight-decay", "inf"],
            &["--weight-decay"],
        ),
        (
            &["--optimizer", "rmsprop"],
            &["rmsprop", "sgd, momentum, nesterov, adam, adamw"],
        ),
        (&["--schedule", "linear"], &["linear", "--schedule"]),
        (&["--schedule", "step"], &["--lr-step"]),
        (&["--schedule", "step", "--lr-step", "0"], &["--lr-step"]),
        (
            &["--schedule", "step", "--lr-step", "2", "--lr-gamma", "0"],
            &["--lr-gamma", "(0, 1]"],
        ),
        (
            &["--schedule", "step", "--lr-step", "2", "--lr-gamma", "-0.5"],
            &["--lr-gamma"],
        ),
        (&["--warmup", "-3"], &["--warmup", "whole number"]),
        (&["--lr-step", "-1"], &["--lr-step", "whole number"]),
        (&["--lr", "-0.001", "--optimizer", "adam"], &["--lr"]),
        (&["--l2", "-1", "--optimizer", "nesterov"], &["--l2"]),
    ] {
        rejects(&s, args, needles);
    }
}

#[test]
fn flags_of_another_optimizer_or_schedule_are_rejected_not_ignored() {
    let s = Scratch::new("wrong_flags");
    for (args, needles) in [
        (&["--momentum", "0.9"][..], &["--momentum", "sgd"][..]),
        (
            &["--optimizer", "adam", "--momentum", "0.9"],
            &["--momentum", "adam"],
        ),
        (
            &["--optimizer", "momentum", "--beta1", "0.9"],
            &["--beta1", "momentum"],
        ),
        (&["--beta2", "0.99"], &["--beta2"]),
        (&["--optimizer", "nesterov", "--eps", "1e-6"], &["--eps"]),
        (
            &["--optimizer", "adam", "--weight-decay", "0.01"],
            &["--weight-decay", "adamw", "--l2"],
        ),
        (&["--weight-decay", "0"], &["--weight-decay"]),
        (&["--lr-gamma", "0.5"], &["--lr-gamma", "--schedule step"]),
        (
            &["--schedule", "cosine", "--lr-step", "3"],
            &["--lr-step", "cosine"],
        ),
    ] {
        rejects(&s, args, needles);
    }
}

/// A one-epoch Adam run saved to `name`, for the resume cases.
fn adam_checkpoint(s: &Scratch, name: &str) -> String {
    let path = s.arg(name);
    let args = [
        "train",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--schedule",
        "step",
        "--lr-step",
        "2",
        "--save",
        &path,
    ];
    s.run(&args).assert_success();
    path
}

#[test]
fn resume_rejects_flags_that_contradict_the_checkpoint() {
    let s = Scratch::new("contradict");
    let ckpt = adam_checkpoint(&s, "adam.safetensors");
    for (args, needles) in [
        (
            &["--lr", "0.01"][..],
            &["--lr 0.01", "0.001", "--resume"][..],
        ),
        (&["--optimizer", "sgd"], &["--optimizer sgd", "adam"]),
        (&["--optimizer", "adamw"], &["--optimizer adamw"]),
        (&["--beta1", "0.8"], &["--beta1 0.8", "0.9"]),
        (&["--momentum", "0.9"], &["--momentum", "adam"]),
        (&["--batch", "16"], &["--batch 16", "32"]),
        (&["--seed", "4"], &["--seed 4"]),
        (&["--l2", "0.001"], &["--l2 0.001"]),
        (&["--schedule", "cosine"], &["--schedule cosine", "step"]),
        (&["--lr-step", "3"], &["--lr-step 3"]),
        (&["--warmup", "10"], &["--warmup 10"]),
        (
            &["--valid-split", "0.1"],
            &["--valid-split", "no --valid-split"],
        ),
        (&["--hidden", "32"], &["--hidden 32", "64-64(relu)-10"]),
        (&["--activation", "tanh"], &["--activation tanh"]),
        (&["--loss", "mse"], &["--loss mse"]),
        (&["--data", "xor"], &["--data xor", "inputs"]),
        (&["--init", &ckpt], &["--init", "--resume"]),
    ] {
        let mut all = vec!["--resume", &ckpt];
        all.extend_from_slice(args);
        rejects(&s, &all, needles);
    }
}

#[test]
fn resume_accepts_flags_that_agree_with_the_checkpoint() {
    let s = Scratch::new("agree");
    let ckpt = adam_checkpoint(&s, "adam.safetensors");
    let out_path = s.arg("more.safetensors");
    let args = [
        "train",
        "--device",
        "cpu",
        "--resume",
        &ckpt,
        "--epochs",
        "1",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--hidden",
        "64",
        "--activation",
        "relu",
        "--batch",
        "32",
        "--beta2",
        "0.999",
        "--schedule",
        "step",
        "--lr-step",
        "2",
        "--save",
        &out_path,
    ];
    let run = s.run(&args);
    run.assert_success();
    assert!(run.stdout.starts_with("epoch   2/2"), "{}", run.show());
    assert!(
        run.stderr.contains("resuming") && run.stderr.contains("after epoch 1"),
        "{}",
        run.show()
    );
}

#[test]
fn resume_of_a_checkpoint_without_optimizer_state_points_to_init() {
    let s = Scratch::new("no_state");
    let spec = wgtrain::model::Spec::new(
        vec![64, 64, 10],
        vec![wgtrain::model::Activation::Relu],
        wgtrain::model::Output::Softmax,
        wgtrain::model::Loss::CrossEntropy,
    )
    .unwrap();
    let path = s.path("params-only.safetensors");
    wgtrain::checkpoint::save(&path, &spec, &wgtrain::model::Params::init(&spec, 1)).unwrap();
    let p = path.to_str().unwrap();
    rejects(&s, &["--resume", p], &["no optimizer state", "--init"]);
    let args = ["train", "--device", "cpu", "--epochs", "1", "--init", p];
    s.run(&args).assert_success();
}

#[test]
fn train_help_explains_every_optimizer_and_schedule_flag() {
    let s = Scratch::new("help");
    let out = s.run(&["train", "--help"]);
    out.assert_success();
    let help = &out.stdout;
    for word in [
        "--optimizer",
        "nesterov",
        "adamw",
        "θ -= lr·(g + μ·v)",
        "sqrt(v̂) + eps",
        "1-β1^t",
        "--momentum",
        "--beta1",
        "--beta2",
        "--eps",
        "--weight-decay",
        "--schedule",
        "lr·G^floor(e/N)",
        "cos(π·p)",
        "--lr-step",
        "--lr-gamma",
        "--warmup",
        "--resume",
    ] {
        assert!(
            help.contains(word),
            "{word} missing from train --help:\n{help}"
        );
    }
}
