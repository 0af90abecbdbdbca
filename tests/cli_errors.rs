//! Bad flags and bad files given to `wgtrain train`: each fails cleanly (an `error:` line that
//! names the problem, no panic) and writes nothing; and every way out of the process removes
//! the runtime directory it made.

mod common;

use common::cli::rejects;
use common::scratch::Scratch;

/// A trained checkpoint of a digits network with `hidden` units.
fn checkpoint(s: &Scratch, name: &str, hidden: &str) -> String {
    let path = s.arg(name);
    s.run(&[
        "train", "--device", "cpu", "--epochs", "1", "--hidden", hidden, "--save", &path,
    ])
    .assert_success();
    path
}

#[test]
fn unknown_activation_is_rejected() {
    let s = Scratch::new("bad_activation");
    rejects(
        &s,
        &["--activation", "swish"],
        &["unknown activation 'swish'", "relu"],
    );
}

#[test]
fn unknown_loss_is_rejected() {
    let s = Scratch::new("bad_loss");
    rejects(&s, &["--loss", "hinge"], &["unknown loss 'hinge'", "mse"]);
}

#[test]
fn cross_entropy_with_a_sigmoid_output_is_rejected() {
    let s = Scratch::new("ce_sigmoid");
    rejects(
        &s,
        &["--loss", "cross-entropy", "--output", "sigmoid"],
        &["cross-entropy", "softmax", "sigmoid"],
    );
}

#[test]
fn non_positive_and_non_finite_learning_rates_are_rejected() {
    let s = Scratch::new("bad_lr");
    for lr in ["0", "-1", "nan", "inf"] {
        rejects(
            &s,
            &["--lr", lr],
            &["--lr must be a positive finite number"],
        );
    }
}

#[test]
fn numbers_beyond_f32_or_counts_beyond_usize_are_refused_as_written() {
    let s = Scratch::new("beyond_f32");
    let max = usize::MAX.to_string();
    let over = format!("{}0", usize::MAX);
    for (args, needles) in [
        (
            ["--lr", "1e309"],
            vec!["1e309 is beyond the range of an f32", "3.4028235e38"],
        ),
        (["--lr", "1e39"], vec!["1e39 is beyond the range of an f32"]),
        (
            ["--lr", "1e-320"],
            vec!["1e-320 is below the smallest positive f32", "1e-45"],
        ),
        (
            ["--l2", "1e300"],
            vec!["1e300 is beyond the range of an f32"],
        ),
        (
            ["--batch", "18446744073709551616"],
            vec!["expected a whole number from 1 to", max.as_str()],
        ),
        (
            ["--warmup", over.as_str()],
            vec!["expected a whole number from 0 to", max.as_str()],
        ),
    ] {
        let run = s.run(&[
            "train", "--device", "cpu", "--data", "xor", args[0], args[1],
        ]);
        run.assert_clean_failure(&needles);
        assert!(!run.stderr.contains("got inf") && !run.stderr.contains("got 0"));
    }
    // Numbers f32 can hold still pass the parser (1e-40 is a subnormal f32, 0 is written 0).
    for args in [["--lr", "1e38"], ["--lr", "1e-40"], ["--l2", "0.0e5"]] {
        s.run(&[
            "train", "--device", "cpu", "--data", "xor", "--epochs", "1", args[0], args[1],
        ])
        .assert_success();
    }
}

#[test]
fn cross_entropy_on_real_targets_names_the_data_not_a_flag_never_given() {
    let s = Scratch::new("ce_values");
    let run = s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        "xor",
        "--loss",
        "cross-entropy",
    ]);
    run.assert_clean_failure(&[
        "cross-entropy needs class labels",
        "targets of xor are real values",
    ]);
    assert!(!run.stderr.contains("--targets"), "{}", run.show());
}

#[test]
fn zero_batch_is_rejected() {
    let s = Scratch::new("zero_batch");
    rejects(&s, &["--batch", "0"], &["--batch must be at least 1"]);
}

#[test]
fn zero_epochs_is_rejected() {
    let s = Scratch::new("zero_epochs");
    rejects(&s, &["--epochs", "0"], &["--epochs must be at least 1"]);
}

#[test]
fn negative_l2_is_rejected() {
    let s = Scratch::new("negative_l2");
    rejects(&s, &["--l2", "-1"], &["--l2 must be zero or a positive"]);
}

#[test]
fn ragged_csv_names_the_line_and_column_counts() {
    let s = Scratch::new("ragged_csv");
    let csv = s.write("ragged.csv", b"1,2,0\n1,2,3,0\n");
    rejects(
        &s,
        &["--data", &csv],
        &["ragged.csv", "line 2", "4 columns, expected 3"],
    );
}

#[test]
fn non_numeric_csv_cell_names_the_line_and_cell() {
    let s = Scratch::new("non_numeric_csv");
    let csv = s.write("words.csv", b"1,2,0\n1,abc,1\n");
    rejects(
        &s,
        &["--data", &csv],
        &["words.csv", "line 2", "column 2", "\"abc\" is not a number"],
    );
}

/// Class labels are names (-1 is one); a label column of fractions is a regression target.
#[test]
fn fractional_csv_label_is_refused_as_a_regression_target() {
    let s = Scratch::new("negative_label");
    let csv = s.write("neg.csv", b"1,2,0\n1,2,-1.5\n");
    rejects(
        &s,
        &["--data", &csv],
        &["neg.csv", "not integers (like -1.5)", "--targets"],
    );
}

#[test]
fn missing_data_file_is_rejected() {
    let s = Scratch::new("missing_data");
    rejects(
        &s,
        &["--data", &s.arg("absent.csv")],
        &["absent.csv", "cannot read"],
    );
}

#[test]
fn init_from_a_different_architecture_says_both() {
    let s = Scratch::new("init_other_arch");
    let ckpt = checkpoint(&s, "h32.safetensors", "32");
    rejects(
        &s,
        &["--hidden", "16", "--init", &ckpt],
        &[
            "--hidden 16 contradicts",
            "h32.safetensors",
            "64-32(relu)-10",
            "--init takes the architecture from the file",
        ],
    );
}

#[test]
fn init_from_random_bytes_is_not_safetensors() {
    let s = Scratch::new("init_random");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..1000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let junk = s.write("junk.safetensors", &bytes);
    rejects(
        &s,
        &["--init", &junk],
        &["junk.safetensors", "not a safetensors file"],
    );
}

#[test]
fn init_from_a_truncated_checkpoint_is_rejected() {
    let s = Scratch::new("init_truncated");
    let ckpt = checkpoint(&s, "full.safetensors", "64");
    let bytes = std::fs::read(&ckpt).unwrap();
    for (name, len, why) in [
        ("half", bytes.len() / 2, "cut short"),
        ("short", bytes.len() - 4, "cut short"),
        ("tiny", 5, "not a safetensors file"),
    ] {
        let cut = s.write(&format!("{name}.safetensors"), &bytes[..len]);
        rejects(
            &s,
            &["--init", &cut],
            &[&format!("{name}.safetensors"), why],
        );
    }
}

#[test]
fn two_activations_for_one_hidden_layer_is_rejected() {
    let s = Scratch::new("two_activations");
    rejects(
        &s,
        &["--activation", "relu,tanh"],
        &["2 activations for 1 hidden layer"],
    );
}

#[test]
fn zero_hidden_units_is_rejected() {
    let s = Scratch::new("zero_hidden");
    rejects(&s, &["--hidden", "0"], &["zero"]);
    rejects(&s, &["--hidden", "64,0"], &["zero"]);
}

#[test]
fn init_of_a_missing_file_states_the_os_error_once() {
    let s = Scratch::new("init_missing");
    let before = s.files();
    let run = s.run(&[
        "train",
        "--device",
        "cpu",
        "--init",
        &s.arg("gone.safetensors"),
    ]);
    run.assert_clean_failure(&["gone.safetensors"]);
    let error = run.error_line();
    assert_eq!(
        error.matches("(os error").count(),
        1,
        "the OS error is repeated: {error}"
    );
    assert_eq!(s.files(), before);
}

#[test]
fn hidden_layer_too_large_to_allocate_is_an_error_not_a_crash() {
    let s = Scratch::new("huge_hidden");
    // 64·(2⁶⁴-1) wraps, and 64·10¹⁷ f32 are more bytes than isize::MAX: neither can be
    // allocated anywhere, so no memory is touched whichever way the tool handles them.
    for h in ["18446744073709551615", "100000000000000000"] {
        let before = s.files();
        let run = s.run(&["train", "--device", "cpu", "--epochs", "1", "--hidden", h]);
        run.assert_clean_failure(&[]);
        assert!(
            run.stderr.contains(h) || run.stderr.contains("hidden"),
            "the error names neither --hidden nor {h}:\n{}",
            run.show()
        );
        assert_eq!(s.files(), before);
    }
}

#[test]
fn huge_epoch_count_does_not_preallocate_a_report_per_epoch() {
    let s = Scratch::new("huge_epochs");
    // The metrics path cannot be written, so a run that starts training stops after epoch 1.
    let m = s.arg("no-such-dir/m.jsonl");
    let run = s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        "xor",
        "--epochs",
        "18446744073709551615",
        "--metrics",
        &m,
    ]);
    run.assert_clean_failure(&[]);
    assert!(
        run.stderr.contains("no-such-dir") || run.stderr.contains("--epochs"),
        "{}",
        run.show()
    );
}

/// Without XDG_RUNTIME_DIR the tool makes `$TMPDIR/wgtrain-runtime-<pid>` for the Vulkan
/// loader; every way out of the process must remove it again, or each run leaves one behind.
#[cfg(unix)]
#[test]
fn runtime_dir_made_for_the_vulkan_loader_is_removed_on_every_exit() {
    let s = Scratch::new("runtime_dir");
    let cases: [&[&str]; 5] = [
        &["train", "--device", "cpu", "--data", "xor", "--epochs", "1"],
        &["train", "--lr", "0"],
        &["train", "--loss", "hinge"],
        &["train", "--help"],
        &["--version"],
    ];
    for args in cases {
        let run = s.run_with(args, |cmd| {
            cmd.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", s.dir());
        });
        let left: Vec<String> = s
            .files()
            .into_iter()
            .filter(|f| f.starts_with("wgtrain-runtime-"))
            .collect();
        assert!(left.is_empty(), "left {left:?} behind:\n{}", run.show());
    }
}
