//! `wgtrain bench` through the binary: the GEMM sweep's JSON lines, written as each shape is
//! measured so that a sweep cut short by a timeout keeps what ran (scripts/gpu-bench.sh relies
//! on it).

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use common::scratch::Scratch;

#[test]
fn gemm_json_lines_are_written_as_each_shape_is_measured() {
    let s = Scratch::new("bench_gemm_json");
    let mut child = s
        .command(&[
            "bench",
            "--gemm",
            "--device",
            "cpu",
            "--json",
            "--threads",
            "1",
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
}
