//! `wgtrain bench` through the binary: the GEMM sweep's JSON lines, written as each shape is
//! measured so that a sweep cut short by a timeout keeps what ran (scripts/gpu-bench.sh relies
//! on it).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use common::scratch::Scratch;

#[test]
fn gemm_json_lines_are_written_as_each_shape_is_measured_and_the_sweep_is_drawn() {
    let s = Scratch::new("bench_gemm_json");
    let plot = s.arg("gemm.svg");
    let mut child = s
        .command(&[
            "bench",
            "--gemm",
            "--device",
            "cpu",
            "--json",
            "--threads",
            "1",
            "--plot",
            &plot,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let at_first = Instant::now();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let after_first = at_first.elapsed().as_secs_f64();
    assert!(status.success(), "{status}");
    // Every shape after the first (the sweep's largest take seconds each on one thread) runs
    // after the first line was out; printed at the end, the lines would all come within
    // milliseconds of the exit.
    assert!(
        after_first > 1.0,
        "the first line came {after_first:.3} s before the end: not streamed"
    );
    for line in std::iter::once(&first).chain(&rest) {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["form", "m", "k", "n", "gflops", "peak_gflops", "device"] {
            assert!(j.get(key).is_some(), "{key} missing in {line}");
        }
        assert!(j["gflops"].as_f64().unwrap() > 0.0, "{line}");
    }
    assert!(rest.len() >= 5, "{} lines", rest.len() + 1);
    // The picture: a bar per shape under its name, and the CPU's measured peak.
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("GFLOP/s per matmul shape"), "no title");
    for line in std::iter::once(&first).chain(&rest) {
        let j: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = format!(
            "{} {}x{}x{}",
            j["form"].as_str().unwrap(),
            j["m"],
            j["k"],
            j["n"]
        );
        assert!(svg.contains(&name), "{name} not in the picture");
    }
    assert!(
        svg.contains("cpu; dashed: its peak, "),
        "no peak in the legend"
    );
}

#[test]
fn the_batch_sweep_writes_a_point_per_batch_says_where_the_gpu_stands_and_draws_it() {
    let s = Scratch::new("bench_sweep");
    let plot = s.arg("sweep.svg");
    let run = s.run(&[
        "bench",
        "--sweep",
        "batch",
        "--task",
        "T3",
        "--device",
        "cpu",
        "--seconds",
        "30",
        "--json",
        "--plot",
        &plot,
    ]);
    run.assert_success();
    let stdout = &run.stdout;
    let points: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Digits has 1437 training rows: batches 16 to 1024.
    let batches: Vec<u64> = points
        .iter()
        .map(|p| p["batch"].as_u64().unwrap())
        .collect();
    assert_eq!(batches, [16, 32, 64, 128, 256, 512, 1024], "{stdout}");
    for p in &points {
        assert_eq!(p["task"], "T3");
        assert!(p["samples_per_sec"].as_f64().unwrap() > 0.0, "{p}");
        let (rows, batch) = (p["rows"].as_u64().unwrap(), p["batch"].as_u64().unwrap());
        assert!(rows % batch == 0 && rows <= 1437, "{p}");
    }
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("samples/s against batch size") && svg.contains("cpu (f32, gemm)"));
    // Asked for a sweep without the second path, it draws no crossover and says nothing of one.
    assert!(!svg.contains("crossover"), "{svg}");
}

#[test]
fn bench_says_why_a_path_was_left_out_and_plot_needs_a_sweep() {
    let s = Scratch::new("bench_args");
    // Without --device: cpu, and gpu only on a hardware adapter; otherwise it says why not.
    let run = s.run(&["bench", "--task", "T3"]);
    run.assert_success();
    let gpu_ran = run.stdout.lines().any(|l| l.contains("gpu:"));
    assert!(
        gpu_ran || run.stderr.contains("gpu: skipped: "),
        "the GPU path neither ran nor was said to be skipped:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let run = s.run(&["bench", "--plot", "x.svg"]);
    run.assert_clean_failure(&["--plot draws a sweep: add --sweep batch"]);
    let run = s.run(&["bench", "--sweep", "batch", "--seconds", "0"]);
    run.assert_clean_failure(&["--seconds: must be a positive number"]);
}
