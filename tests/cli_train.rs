//! Training through the `wgtrain` binary on the CPU path: the epoch lines it prints, what it
//! learns, `--threads`, and the `--metrics` file (its fields, its agreement with stdout, its
//! cost).

mod common;

use std::collections::BTreeSet;

use common::cli::{check_metrics, epochs, metrics, number};
use common::scratch::Scratch;
use common::{Tol, assert_close};

/// One or two threads split a step's work differently: 1e-4 relative allows for a changed f32
/// summation order.
const THREADS_AGREE: Tol = Tol {
    rtol: 1e-4,
    atol: 0.0,
};
/// Stdout prints losses to 4 decimals: half a unit in the last place.
const PRINTED_LOSS: Tol = Tol {
    rtol: 0.0,
    atol: 5e-5,
};
/// Stdout prints accuracy in percent to 2 decimals: half a unit in the last place.
const PRINTED_PERCENT: Tol = Tol {
    rtol: 0.0,
    atol: 5e-3,
};

#[test]
fn digits_on_the_cpu_prints_three_epoch_lines_and_passes_90_percent() {
    let s = Scratch::new("digits_cpu");
    let run = s.run(&["train", "--device", "cpu", "--epochs", "3"]);
    run.assert_success();
    let e = epochs(&run);
    assert_eq!(e.len(), 3, "{}", run.show());
    for (i, ep) in e.iter().enumerate() {
        assert_eq!((ep.epoch, ep.of), (i + 1, 3), "{ep:?}");
        assert!(ep.train_loss.is_finite() && ep.train_loss > 0.0, "{ep:?}");
        assert!(ep.test_loss.is_some_and(f64::is_finite), "{ep:?}");
        assert!(ep.test_acc.is_some(), "{ep:?}");
    }
    assert!(e[2].train_loss < e[0].train_loss, "{}", run.show());
    let acc = e[2].test_acc.unwrap();
    assert!(acc > 90.0, "final test accuracy {acc}%:\n{}", run.show());
    assert!(
        run.stderr
            .contains("data: digits (1437 train, 360 test), network: 64-64(relu)-10"),
        "{}",
        run.show()
    );
    assert!(run.stderr.contains("device: cpu"), "{}", run.show());
}

/// --threads sizes the CPU path: one thread trains the same network to the same losses as two
/// (the parts of a step do not depend on which thread runs them), and 0 is refused.
#[test]
fn threads_sets_the_cpu_path_size_and_zero_is_refused() {
    let s = Scratch::new("threads");
    let run = |threads: &str| {
        let r = s.run(&[
            "train",
            "--device",
            "cpu",
            "--hidden",
            "256",
            "--batch",
            "128",
            "--epochs",
            "2",
            "--threads",
            threads,
        ]);
        r.assert_success();
        epochs(&r)
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one.len(), 2);
    for (i, (a, b)) in one.iter().zip(&two).enumerate() {
        assert_close(
            &format!("epoch {} train loss, 2 threads vs 1", i + 1),
            &[b.train_loss],
            &[a.train_loss],
            THREADS_AGREE,
        );
    }
    s.run(&["train", "--device", "cpu", "--threads", "0"])
        .assert_clean_failure(&["--threads must be at least 1"]);
}

#[test]
fn metrics_file_has_one_json_object_per_epoch_matching_stdout() {
    let s = Scratch::new("metrics_digits");
    let m = s.arg("m.jsonl");
    let run = s.run(&["train", "--device", "cpu", "--epochs", "2", "--metrics", &m]);
    run.assert_success();
    let lines = check_metrics(&s.path("m.jsonl"), 2, true);
    for (o, e) in lines.iter().zip(epochs(&run)) {
        assert_close(
            "train_loss",
            &[number(o, "train_loss")],
            &[e.train_loss],
            PRINTED_LOSS,
        );
        assert_close(
            "test_loss",
            &[number(o, "test_loss")],
            &[e.test_loss.unwrap()],
            PRINTED_LOSS,
        );
        assert_close(
            "test_accuracy",
            &[100.0 * number(o, "test_accuracy")],
            &[e.test_acc.unwrap()],
            PRINTED_PERCENT,
        );
    }
    assert_eq!(s.files(), BTreeSet::from(["m.jsonl".to_string()]));
}

#[test]
fn metrics_test_fields_are_null_without_a_test_split() {
    let s = Scratch::new("metrics_null");
    let values = s.write("values.csv", b"x1,x2,y\n0,1,0.5\n1,0,1.5\n1,1,-0.25\n");
    let labels = s.write("labels.csv", b"0,1,1\n1,0,0\n1,1,1\n");
    let cases: [&[&str]; 3] = [
        &["--data", "xor"],
        &["--data", &values, "--targets", "1"],
        &["--data", &labels],
    ];
    for case in cases {
        let m = s.arg("m.jsonl");
        let mut args = vec!["train", "--device", "cpu", "--epochs", "2", "--metrics", &m];
        args.extend_from_slice(case);
        let run = s.run(&args);
        run.assert_success();
        check_metrics(&s.path("m.jsonl"), 2, false);
        assert!(
            epochs(&run)
                .iter()
                .all(|e| e.test_loss.is_none() && e.test_acc.is_none()),
            "{}",
            run.show()
        );
        std::fs::remove_file(s.path("m.jsonl")).unwrap();
    }
}

#[test]
fn metrics_file_costs_little_per_epoch() {
    let s = Scratch::new("metrics_cost");
    let m = s.arg("m.jsonl");
    let base = [
        "train", "--device", "cpu", "--data", "xor", "--epochs", "2000",
    ];
    let time = |extra: &[&str]| {
        let t = std::time::Instant::now();
        s.run(&[&base[..], extra].concat()).assert_success();
        t.elapsed().as_secs_f64()
    };
    let plain = time(&[]);
    let with = time(&["--metrics", &m]);
    assert_eq!(metrics(&s.path("m.jsonl")).len(), 2000);
    // 2000 tiny epochs take milliseconds; appending 2000 short lines should add well under half
    // a second, even on a loaded machine (the difference, not a ratio, so CPU load cancels).
    assert!(
        with - plain < 0.5,
        "--metrics made 2000 epochs take {with:.2} s instead of {plain:.3} s: the file is \
         rewritten whole and fsynced every epoch"
    );
}

#[test]
fn xor_with_four_sigmoid_units_learns_the_truth_table() {
    let s = Scratch::new("xor");
    for seed in ["0", "1", "2"] {
        let run = s.run(&[
            "train",
            "--data",
            "xor",
            "--hidden",
            "4",
            "--activation",
            "sigmoid",
            "--loss",
            "mse",
            "--output",
            "sigmoid",
            "--lr",
            "4",
            "--batch",
            "4",
            "--epochs",
            "3000",
            "--device",
            "cpu",
            "--seed",
            seed,
        ]);
        run.assert_success();
        assert!(
            run.stderr.contains("network: 2-4(sigmoid)-1 sigmoid/mse"),
            "{}",
            run.show()
        );
        let e = epochs(&run);
        assert_eq!(e.len(), 3000);
        // ½(a - y)² below 0.01 on every sample means |a - y| < 0.15: all four outputs right.
        // Seeds 0..20 all end below 0.0005 with these settings.
        assert!(
            e[2999].train_loss < 0.01 && e[2999].test_loss.is_none(),
            "seed {seed}: final {:?}, first {:?}",
            e[2999],
            e[0]
        );
    }
}

#[test]
fn help_lists_the_commands_and_train_help_gives_the_loss_formulas() {
    let s = Scratch::new("help");
    let top = s.run(&["--help"]);
    top.assert_success();
    for word in ["train", "devices"] {
        assert!(top.stdout.contains(word), "{word}:\n{}", top.show());
    }
    let train = s.run(&["train", "--help"]);
    train.assert_success();
    for word in [
        "cross-entropy",
        "bce",
        "mse",
        "½",
        "log softmax",
        "--init",
        "--save",
        "--metrics",
        "--device",
    ] {
        assert!(train.stdout.contains(word), "{word}:\n{}", train.show());
    }
}
