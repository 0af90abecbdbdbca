//! The commands beside train, end to end, against hostile inputs and outputs: trace and
//! gradcheck refuse pipes and devices as their rows and weights files and networks too large
//! for them before any work; devices, selftest and bench report a full stdout as an error;
//! bench checks its plot's name before measuring; plot refuses a file with nothing to draw and
//! says which lines a later run replaced.

mod common;

use std::time::{Duration, Instant};

use common::cli::Run;
use common::scratch::Scratch;

/// `wgtrain ARGS` run to its end, or killed after `limit` (a failure naming the command: a
/// hang must fail the test, not stall it).
fn within(s: &Scratch, args: &[&str], limit: Duration) -> Run {
    let mut child = s
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("wgtrain {} still ran after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `wgtrain ARGS` with at most `bytes` of address space, as a `Run`.
fn limited(s: &Scratch, args: &[&str], bytes: u64) -> Run {
    let out = s.limited(args, bytes, &[]);
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn trace_and_gradcheck_refuse_a_pipe_or_a_device_as_rows_or_weights_at_once() {
    let s = Scratch::new("trace_pipes");
    let fifo = s.path("pipe.csv");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", s.path("zero.csv")).unwrap();
    let (fifo, zero) = (s.arg("pipe.csv"), s.arg("zero.csv"));
    let second = Duration::from_secs(10);
    for command in ["trace", "gradcheck"] {
        for file in [&fifo, &zero] {
            within(&s, &[command, "--rows", file], second)
                .assert_error(&[file, "not a regular file"]);
            within(&s, &[command, "--init", file], second)
                .assert_error(&[file, "not a regular file"]);
        }
    }
    // /dev/zero again under a 1 GiB address space: refused, not read until memory runs out.
    limited(&s, &["trace", "--rows", &zero], 1 << 30).assert_error(&["not a regular file"]);
}

#[test]
fn a_network_too_large_for_trace_is_refused_before_it_is_allocated() {
    let s = Scratch::new("trace_huge");
    let args = ["trace", "--hidden", "20000,20000", "--data", "digits"];
    let t0 = Instant::now();
    limited(&s, &args, 1 << 30).assert_error(&["--hidden", "at most 20000"]);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

#[test]
fn gradcheck_refuses_work_past_its_bound_with_both_figures_and_what_to_reduce() {
    let s = Scratch::new("gradcheck_work");
    let args = [
        "gradcheck",
        "--hidden",
        "1000,1000",
        "--data",
        "digits",
        "--device",
        "none",
    ];
    within(&s, &args, Duration::from_secs(20)).assert_error(&[
        "330 finite differences",
        "2.27e10",
        "limit of 1e10",
        "--per-layer",
        "fewer rows",
    ]);
}

#[test]
fn bench_checks_its_plot_name_before_measuring() {
    let s = Scratch::new("bench_plot_name");
    for mode in ["--gemm", "--sweep=batch"] {
        let args = ["bench", mode, "--device", "cpu", "--plot", "x.txt"];
        let run = within(&s, &args, Duration::from_secs(20));
        run.assert_error(&["--plot", "x.txt", ".svg or .png"]);
        assert!(
            !run.stderr.contains("GFLOP/s") && !run.stderr.contains("samples/s"),
            "measured before refusing:\n{}",
            run.show()
        );
    }
}

#[test]
fn plot_refuses_a_file_with_nothing_to_draw() {
    let s = Scratch::new("plot_nothing");
    let m = s.write(
        "m.jsonl",
        "{\"epoch\":1,\"train_loss\":null}\n{\"epoch\":2,\"train_loss\":null}\n",
    );
    s.run(&["plot", &m, "--out", "p.svg"])
        .assert_error(&["nothing to plot", "2 epochs hold no loss or accuracy"]);
    assert!(!s.path("p.svg").exists());
}

#[test]
fn plot_draws_the_later_lines_of_a_repeated_epoch_and_names_the_lines_replaced() {
    let s = Scratch::new("plot_repeated");
    // Epochs 1-3, then a run resumed from epoch 1 (or a second run appended): 2-3 again.
    let line = |e: usize, loss: f64| format!("{{\"epoch\":{e},\"train_loss\":{loss}}}\n");
    let body = [
        line(1, 1.0),
        line(2, 0.5),
        line(3, 0.25),
        line(2, 0.6),
        line(3, 0.3),
    ]
    .concat();
    let m = s.write("m.jsonl", body);
    let run = s.run(&["plot", &m, "--out", "p.svg"]);
    run.assert_success();
    assert!(
        run.stderr
            .contains("line 4 is epoch 2 again, after lines 2-3 (epochs 2-3)")
            && run.stderr.contains("drew 3 epochs"),
        "{}",
        run.show()
    );
}
