//! End-to-end tests of the `wgtrain` binary: training on the CPU and GPU paths, checkpoints,
//! metrics files, help text, and every bad argument failing cleanly with nothing written.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};

use serde_json::Value;

/// CPU and GPU train losses after two epochs on digits: both are f32 with different summation
/// orders, and 90 SGD steps amplify the rounding differences (observed ~1e-7 relative).
const CPU_GPU_LOSS_RTOL: f64 = 1e-4;
/// The CLI's f32 forward loss against this file's f64 forward pass on the same f32 parameters:
/// a few ulp per op over a 5-7-3 network, tanh from the platform libm.
const F64_FORWARD_RTOL: f64 = 1e-5;

/// A fresh directory per test (name and process id), removed on drop. It is also the child's
/// working directory and XDG_RUNTIME_DIR, so nothing lands anywhere else.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("wgtrain-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Scratch { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The absolute path of `name`, as a command-line argument.
    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// Writes `bytes` to `name` and returns its path as an argument.
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.path(name), bytes).unwrap();
        self.arg(name)
    }

    /// Every name in the directory, hidden temporary files included.
    fn files(&self) -> BTreeSet<String> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, |_| {})
    }

    /// As `run`, with `env` adjusting the child's environment last.
    fn run_with(&self, args: &[&str], env: impl FnOnce(&mut Command)) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wgtrain"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env("XDG_RUNTIME_DIR", &self.dir)
            .env("RUST_BACKTRACE", "0");
        env(&mut cmd);
        let out = cmd.output().unwrap();
        Run {
            args: args.iter().map(|s| s.to_string()).collect(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One finished `wgtrain` process.
struct Run {
    args: Vec<String>,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The command, its status and both streams, for failure messages.
    fn show(&self) -> String {
        format!(
            "wgtrain {}\n  status: {}\n--- stdout\n{}--- stderr\n{}---",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }

    #[track_caller]
    fn assert_success(&self) -> &Run {
        assert!(self.status.success(), "expected success:\n{}", self.show());
        self
    }

    /// A refusal, not a crash: exit code 1 or 2 (clap's usage errors), never 101 (a panic) or a
    /// signal (an abort), with an `error:` line on stderr that contains every needle.
    #[track_caller]
    fn assert_clean_failure(&self, needles: &[&str]) {
        match self.status.code() {
            Some(0) => panic!("expected a failure:\n{}", self.show()),
            Some(101) => panic!("panicked (exit 101) instead of an error:\n{}", self.show()),
            None => panic!("killed by a signal instead of an error:\n{}", self.show()),
            Some(_) => {}
        }
        assert!(
            !self.stderr.contains("panicked"),
            "a panic message on stderr:\n{}",
            self.show()
        );
        assert!(
            self.stderr.lines().any(|l| l.starts_with("error:")),
            "no `error:` line on stderr:\n{}",
            self.show()
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr does not mention {needle:?}:\n{}",
                self.show()
            );
        }
    }
}

/// One `epoch i/n ...` line of stdout.
#[derive(Debug)]
struct Epoch {
    epoch: usize,
    of: usize,
    train_loss: f64,
    test_loss: Option<f64>,
    /// Percent, as printed.
    test_acc: Option<f64>,
}

/// The number after the words `key` in a whitespace-split line, `%` stripped.
fn value_after(tokens: &[&str], key: &[&str]) -> Option<f64> {
    let i = tokens.windows(key.len()).position(|w| w == key)? + key.len();
    let v = tokens.get(i)?.trim_end_matches('%');
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{key:?} followed by {v:?}")),
    )
}

/// Parses stdout, which must hold nothing but epoch lines.
#[track_caller]
fn epochs(run: &Run) -> Vec<Epoch> {
    run.stdout
        .lines()
        .map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            assert!(
                t.first() == Some(&"epoch") && t.len() > 1,
                "not an epoch line: {line:?}\n{}",
                run.show()
            );
            let (epoch, of) = t[1].split_once('/').expect("epoch i/n");
            Epoch {
                epoch: epoch.parse().unwrap(),
                of: of.parse().unwrap(),
                train_loss: value_after(&t, &["train", "loss"])
                    .unwrap_or_else(|| panic!("no train loss in {line:?}")),
                test_loss: value_after(&t, &["test", "loss"]),
                test_acc: value_after(&t, &["test", "acc"]),
            }
        })
        .collect()
}

/// The `--metrics` file: one JSON object per line, nothing else.
#[track_caller]
fn metrics(path: &std::path::Path) -> Vec<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "metrics file ends mid-line: {text:?}");
    text.lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(o)) => o,
            other => panic!("metrics line {l:?} is not a JSON object: {other:?}"),
        })
        .collect()
}

fn number(o: &serde_json::Map<String, Value>, key: &str) -> f64 {
    o.get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{key} is not a number in {o:?}"))
}

/// `|got - want| <= atol + rtol |want|`, both finite.
#[track_caller]
fn assert_close(name: &str, got: f64, want: f64, rtol: f64, atol: f64) {
    assert!(
        got.is_finite() && want.is_finite(),
        "{name}: got {got}, want {want}"
    );
    assert!(
        (got - want).abs() <= atol + rtol * want.abs(),
        "{name}: got {got:e}, want {want:e} (diff {:e}, allowed {atol:e} + {rtol:e}·|want|)",
        (got - want).abs()
    );
}

/// The GPU convention of tests/common: a run that needed an adapter and found none fails with
/// how to install one, unless WGTRAIN_SKIP_GPU=1, which prints SKIPPED and returns None.
#[track_caller]
fn with_adapter(test: &str, run: Run) -> Option<Run> {
    let none = run.stdout.contains("no adapters found") || run.stderr.contains("no GPU adapter");
    if !none {
        return Some(run);
    }
    if std::env::var("WGTRAIN_SKIP_GPU").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED {test}: no GPU adapter");
        return None;
    }
    panic!(
        "{test}: no GPU adapter. On Debian/Ubuntu `apt-get install -y mesa-vulkan-drivers libvulkan1` \
         installs Mesa's lavapipe; set WGTRAIN_SKIP_GPU=1 to skip the GPU tests explicitly.\n{}",
        run.show()
    );
}

/// (name, dtype, shape, data offsets) of one tensor in a safetensors header.
type TensorEntry = (String, String, Vec<usize>, (usize, usize));

/// A parsed safetensors file: the header object and the data region after it.
struct SafeTensors {
    header: serde_json::Map<String, Value>,
    data: Vec<u8>,
}

impl SafeTensors {
    /// 8-byte little-endian header length, the JSON header, then the tensor bytes.
    #[track_caller]
    fn read(path: &std::path::Path) -> SafeTensors {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.len() >= 8, "{} bytes", bytes.len());
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert!(
            8 + n <= bytes.len(),
            "header of {n} bytes in {}",
            bytes.len()
        );
        let header = match serde_json::from_slice(&bytes[8..8 + n]) {
            Ok(Value::Object(o)) => o,
            other => panic!("header is not a JSON object: {other:?}"),
        };
        SafeTensors {
            header,
            data: bytes[8 + n..].to_vec(),
        }
    }

    fn metadata(&self, key: &str) -> &str {
        self.header["__metadata__"][key]
            .as_str()
            .unwrap_or_else(|| panic!("metadata {key:?} missing: {:?}", self.header))
    }

    /// The tensor names with their (dtype, shape, data offsets).
    fn tensors(&self) -> Vec<TensorEntry> {
        self.header
            .iter()
            .filter(|(k, _)| *k != "__metadata__")
            .map(|(k, v)| {
                let shape = v["shape"].as_array().expect("shape");
                let off = v["data_offsets"].as_array().expect("data_offsets");
                (
                    k.clone(),
                    v["dtype"].as_str().expect("dtype").to_string(),
                    shape.iter().map(|d| d.as_u64().unwrap() as usize).collect(),
                    (
                        off[0].as_u64().unwrap() as usize,
                        off[1].as_u64().unwrap() as usize,
                    ),
                )
            })
            .collect()
    }

    /// Checks names, F32, shapes and that the offsets tile the data region exactly.
    #[track_caller]
    fn assert_layout(&self, want: &[(&str, &[usize])]) {
        let mut got = self.tensors();
        let names: BTreeSet<&str> = got.iter().map(|t| t.0.as_str()).collect();
        let want_names: BTreeSet<&str> = want.iter().map(|w| w.0).collect();
        assert_eq!(names, want_names, "tensor names");
        for (name, shape) in want {
            let t = got.iter().find(|t| t.0 == *name).unwrap();
            assert_eq!(t.1, "F32", "{name} dtype");
            assert_eq!(t.2, *shape, "{name} shape");
            let bytes = 4 * shape.iter().product::<usize>();
            assert_eq!(t.3.1 - t.3.0, bytes, "{name} offsets {:?}", t.3);
        }
        got.sort_by_key(|t| t.3);
        let mut at = 0;
        for t in &got {
            assert_eq!(t.3.0, at, "{} starts at {}, expected {at}", t.0, t.3.0);
            at = t.3.1;
        }
        assert_eq!(at, self.data.len(), "tensors do not cover the data region");
    }

    fn f32s(&self, name: &str) -> Vec<f64> {
        let (_, _, _, (a, b)) = self.tensors().into_iter().find(|t| t.0 == name).unwrap();
        self.data[a..b]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect()
    }
}

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
    for (a, b) in one.iter().zip(&two) {
        assert!(
            (a.train_loss - b.train_loss).abs() <= 1e-4 * a.train_loss,
            "1 thread {a:?}, 2 threads {b:?}"
        );
    }
    s.run(&["train", "--device", "cpu", "--threads", "0"])
        .assert_clean_failure(&["--threads must be at least 1"]);
}

#[test]
fn save_writes_torch_layout_and_init_resumes_from_the_trained_weights() {
    let s = Scratch::new("save_init");
    let ckpt = s.arg("digits.safetensors");
    let first = s.run(&[
        "train", "--device", "cpu", "--hidden", "48", "--epochs", "3", "--save", &ckpt,
    ]);
    first.assert_success();
    assert!(first.stderr.contains("saved "), "{}", first.show());

    let st = SafeTensors::read(&s.path("digits.safetensors"));
    st.assert_layout(&[
        ("layers.0.weight", &[48, 64]),
        ("layers.0.bias", &[48]),
        ("layers.1.weight", &[10, 48]),
        ("layers.1.bias", &[10]),
    ]);
    assert_eq!(st.metadata("format"), "wgtrain-1");
    assert_eq!(st.metadata("sizes"), "64,48,10");
    assert_eq!(st.metadata("hidden"), "relu");
    assert_eq!(st.metadata("output"), "softmax");
    assert_eq!(st.metadata("loss"), "cross-entropy");
    assert!(st.f32s("layers.0.weight").iter().all(|v| v.is_finite()));
    assert!(
        st.f32s("layers.1.bias").iter().any(|&v| v != 0.0),
        "biases never trained"
    );

    let second = s.run(&[
        "train", "--device", "cpu", "--hidden", "48", "--epochs", "1", "--init", &ckpt,
    ]);
    second.assert_success();
    let (a, b) = (epochs(&first), epochs(&second));
    // Starting from three trained epochs, the next epoch's loss is below even the third one's.
    assert!(
        b[0].train_loss < a[2].train_loss && a[2].train_loss < a[0].train_loss,
        "fresh run {:?}, resumed run {:?}",
        a.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
        b[0].train_loss
    );
}

/// 30 rows of 5 inputs and a class label in 0..3, with a header, from a fixed LCG.
fn small_classes_csv() -> String {
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::from("a,b,c,d,e,label\n");
    for _ in 0..30 {
        let x: Vec<f64> = (0..5).map(|_| next() * 2.0 - 1.0).collect();
        let label = if x[0] + x[1] > 0.5 {
            2
        } else if x[2] > 0.0 {
            1
        } else {
            0
        };
        for v in &x {
            text += &format!("{v:.3},");
        }
        text += &format!("{label}\n");
    }
    text
}

/// Mean cross-entropy of a 5-7(tanh)-3 network read as torch.nn.Linear ([out, in]) in f64.
fn cross_entropy_f64(csv: &str, st: &SafeTensors) -> f64 {
    let (w0, b0) = (st.f32s("layers.0.weight"), st.f32s("layers.0.bias"));
    let (w1, b1) = (st.f32s("layers.1.weight"), st.f32s("layers.1.bias"));
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .map(|c| c.parse::<f32>().unwrap() as f64)
                .collect()
        })
        .collect();
    let total: f64 = rows
        .iter()
        .map(|r| {
            let h: Vec<f64> = (0..7)
                .map(|o| (b0[o] + (0..5).map(|i| w0[o * 5 + i] * r[i]).sum::<f64>()).tanh())
                .collect();
            let z: Vec<f64> = (0..3)
                .map(|o| b1[o] + (0..7).map(|i| w1[o * 7 + i] * h[i]).sum::<f64>())
                .collect();
            let mx = z.iter().cloned().fold(f64::MIN, f64::max);
            let lse = mx + z.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
            lse - z[r[5] as usize]
        })
        .sum();
    total / rows.len() as f64
}

#[test]
fn saved_weights_are_out_by_in_as_an_independent_forward_pass_confirms() {
    let s = Scratch::new("out_by_in");
    let text = small_classes_csv();
    let csv = s.write("small.csv", text.as_bytes());
    let ckpt = s.arg("small.safetensors");
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        &csv,
        "--hidden",
        "7",
        "--activation",
        "tanh",
        "--lr",
        "0.5",
        "--batch",
        "8",
        "--epochs",
        "5",
        "--save",
        &ckpt,
    ])
    .assert_success();
    let st = SafeTensors::read(&s.path("small.safetensors"));
    st.assert_layout(&[
        ("layers.0.weight", &[7, 5]),
        ("layers.0.bias", &[7]),
        ("layers.1.weight", &[3, 7]),
        ("layers.1.bias", &[3]),
    ]);
    assert_eq!(
        (st.metadata("sizes"), st.metadata("hidden")),
        ("5,7,3", "tanh")
    );
    // One batch of all 30 rows: the epoch's train loss is the forward loss of the loaded
    // parameters, computed before the batch's update.
    let m = s.path("m.jsonl");
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        &csv,
        "--hidden",
        "7",
        "--activation",
        "tanh",
        "--batch",
        "30",
        "--epochs",
        "1",
        "--init",
        &ckpt,
        "--metrics",
        m.to_str().unwrap(),
    ])
    .assert_success();
    let cli = number(&metrics(&m)[0], "train_loss");
    let want = cross_entropy_f64(&text, &st);
    assert_close(
        "train loss of the loaded checkpoint",
        cli,
        want,
        F64_FORWARD_RTOL,
        0.0,
    );
}

const METRIC_KEYS: [&str; 9] = [
    "epoch",
    "train_loss",
    "valid_loss",
    "valid_accuracy",
    "test_loss",
    "test_accuracy",
    "seconds",
    "samples_per_sec",
    "elapsed",
];

/// Checks every line's keys and types; returns the lines.
#[track_caller]
fn check_metrics(
    path: &std::path::Path,
    epochs: usize,
    has_test: bool,
) -> Vec<serde_json::Map<String, Value>> {
    let lines = metrics(path);
    assert_eq!(lines.len(), epochs, "{lines:?}");
    for (i, o) in lines.iter().enumerate() {
        let keys: BTreeSet<&str> = o.keys().map(String::as_str).collect();
        assert_eq!(keys, METRIC_KEYS.into_iter().collect(), "line {}", i + 1);
        assert_eq!(o["epoch"].as_u64(), Some(i as u64 + 1), "{o:?}");
        for k in ["train_loss", "seconds", "samples_per_sec", "elapsed"] {
            let v = number(o, k);
            assert!(v.is_finite() && v >= 0.0, "{k} = {v}");
        }
        assert!(number(o, "samples_per_sec") > 0.0, "{o:?}");
        if has_test {
            assert!(number(o, "test_loss") > 0.0, "{o:?}");
            let acc = number(o, "test_accuracy");
            assert!((0.0..=1.0).contains(&acc), "{o:?}");
        } else {
            assert!(o["test_loss"].is_null(), "{o:?}");
            assert!(o["test_accuracy"].is_null(), "{o:?}");
        }
    }
    lines
}

#[test]
fn metrics_file_has_one_json_object_per_epoch_matching_stdout() {
    let s = Scratch::new("metrics_digits");
    let m = s.arg("m.jsonl");
    let run = s.run(&["train", "--device", "cpu", "--epochs", "2", "--metrics", &m]);
    run.assert_success();
    let lines = check_metrics(&s.path("m.jsonl"), 2, true);
    for (o, e) in lines.iter().zip(epochs(&run)) {
        // stdout rounds to 4 decimals (loss) and 2 (percent).
        assert_close(
            "train_loss",
            number(o, "train_loss"),
            e.train_loss,
            0.0,
            5e-5,
        );
        assert_close(
            "test_loss",
            number(o, "test_loss"),
            e.test_loss.unwrap(),
            0.0,
            5e-5,
        );
        assert_close(
            "test_accuracy",
            100.0 * number(o, "test_accuracy"),
            e.test_acc.unwrap(),
            0.0,
            5e-3,
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
fn gpu_trains_digits_names_the_adapter_and_matches_the_cpu_losses() {
    let test = "gpu_digits";
    let s = Scratch::new(test);
    let Some(devices) = with_adapter(test, s.run(&["devices"])) else {
        return;
    };
    devices.assert_success();
    let (gm, cm) = (s.arg("gpu.jsonl"), s.arg("cpu.jsonl"));
    let args = ["train", "--epochs", "2", "--seed", "7", "--metrics"];
    let Some(gpu) = with_adapter(
        test,
        s.run(&[&args[..], &[gm.as_str(), "--device", "gpu"]].concat()),
    ) else {
        return;
    };
    gpu.assert_success();
    let device = gpu
        .stderr
        .lines()
        .find(|l| l.starts_with("device: "))
        .unwrap_or_else(|| panic!("no device line:\n{}", gpu.show()));
    assert!(device.starts_with("device: gpu: "), "{device}");
    let names: Vec<&str> = devices
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(_, n)| n.split("  [").next().unwrap())
        })
        .collect();
    assert!(
        names.iter().any(|n| device.contains(n)),
        "{device:?} names none of the adapters {names:?}"
    );
    let e = epochs(&gpu);
    assert_eq!(e.len(), 2, "{}", gpu.show());
    assert!(e[1].test_acc.is_some_and(|a| a > 80.0), "{}", gpu.show());

    let cpu = s.run(&[&args[..], &[cm.as_str(), "--device", "cpu"]].concat());
    cpu.assert_success();
    let g = check_metrics(&s.path("gpu.jsonl"), 2, true);
    let c = check_metrics(&s.path("cpu.jsonl"), 2, true);
    for (i, (g, c)) in g.iter().zip(&c).enumerate() {
        for k in ["train_loss", "test_loss"] {
            assert_close(
                &format!("epoch {} {k}, gpu vs cpu", i + 1),
                number(g, k),
                number(c, k),
                CPU_GPU_LOSS_RTOL,
                0.0,
            );
        }
    }
}

/// Writes a wgtrain safetensors checkpoint by hand (not through the tool's writer): metadata,
/// then `(name, shape, values)` tensors in order, the header padded to 8 bytes.
fn write_checkpoint(
    path: &std::path::Path,
    meta: [(&str, &str); 4],
    tensors: &[(&str, Vec<usize>, Vec<f32>)],
) {
    let mut header = serde_json::Map::new();
    let mut m: serde_json::Map<String, Value> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    m.insert("format".into(), "wgtrain-1".into());
    header.insert("__metadata__".into(), Value::Object(m));
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let mut h = serde_json::to_vec(&Value::Object(header)).unwrap();
    h.resize(h.len().next_multiple_of(8), b' ');
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend(h);
    bytes.extend(data);
    std::fs::write(path, bytes).unwrap();
}

/// Trains `args` on the CPU and on the GPU with `--metrics`; the two runs' train losses, or
/// None when the test is skipped for want of an adapter.
fn cpu_and_gpu_losses(test: &str, s: &Scratch, args: &[&str]) -> Option<[Vec<f64>; 2]> {
    let mut out = [vec![], vec![]];
    for (i, device) in ["cpu", "gpu"].into_iter().enumerate() {
        let m = s.arg(&format!("{device}.jsonl"));
        let run = s.run(&[args, &["--device", device, "--metrics", &m]].concat());
        let run = with_adapter(test, run)?;
        if device == "gpu" && run.stderr.contains("silently ends longer loops") {
            // An adapter that cuts long loops short (llvmpipe) must refuse, not sum part of it.
            run.assert_clean_failure(&["shader loop iterations is 65535", "--device cpu"]);
            eprintln!("{test}: the adapter limits loops; refused as it should be");
            return None;
        }
        run.assert_success();
        out[i] = metrics(&s.path(&format!("{device}.jsonl")))
            .iter()
            .map(|o| number(o, "train_loss"))
            .collect();
    }
    Some(out)
}

/// Mesa's llvmpipe/lavapipe ends every loop of a shader invocation once 65535 iterations have
/// run in total (LP_MAX_TGSI_LOOP_ITERATIONS, shared by all loops), silently. The tiled matmul
/// spends several per 16-wide K tile (its tile-loading loops count too), so on lavapipe (Mesa
/// 22.3) a reduction over more than 37445 terms drops the rest. The tests below reduce over
/// more than 65535 × 16 terms, beyond the limit even at one iteration per 16-wide tile: on
/// such an adapter wgtrain must refuse with an error, elsewhere the sums must be exact.
const LONG_REDUCTION: usize = 1_100_000;

/// Epoch-2 loss after one exact full-batch step of the batch test: a plain f32 running sum of
/// 1.1M equal gradient terms is off by 0.5% (9.5e-6 in this loss), so allow 100× that; a sum
/// that stops at 65535 × 16 rows leaves at least 0.05.
const LONG_SUM_LOSS: f64 = 1e-3;

#[test]
fn gpu_forward_sums_every_term_of_a_long_fan_in() {
    let test = "gpu_long_fan_in";
    let s = Scratch::new(test);
    const K: usize = LONG_REDUCTION;
    let mut row = "1,".repeat(K);
    row += "0\n";
    let csv = s.write("wide.csv", row.as_bytes());
    let ckpt = s.path("ones.safetensors");
    write_checkpoint(
        &ckpt,
        [
            ("sizes", &format!("{K},1")),
            ("hidden", ""),
            ("output", "linear"),
            ("loss", "mse"),
        ],
        &[
            ("layers.0.weight", vec![1, K], vec![1.0; K]),
            ("layers.0.bias", vec![1], vec![0.0]),
        ],
    );
    // One sample, x = 1s, w = 1s, y = 0: the output is K (integers below 2²⁴ add exactly in
    // f32), the loss ½K².
    let args = [
        "train",
        "--data",
        &csv,
        "--targets",
        "1",
        "--hidden",
        "",
        "--init",
        ckpt.to_str().unwrap(),
        "--batch",
        "1",
        "--epochs",
        "1",
    ];
    let Some([cpu, gpu]) = cpu_and_gpu_losses(test, &s, &args) else {
        return;
    };
    let want = 0.5 * (K as f64) * (K as f64);
    assert_close("cpu loss ½(Σ 1·1)²", cpu[0], want, 1e-6, 0.0);
    assert_close(
        &format!(
            "gpu loss ½(Σ 1·1)² (the output is {}, want {K})",
            (2.0 * gpu[0]).sqrt()
        ),
        gpu[0],
        want,
        1e-6,
        0.0,
    );
}

#[test]
fn gpu_gradients_sum_every_row_of_a_long_batch() {
    let test = "gpu_long_batch";
    let s = Scratch::new(test);
    const M: usize = LONG_REDUCTION;
    let csv = s.write("ones.csv", "1,1\n".repeat(M).as_bytes());
    let ckpt = s.path("zero.safetensors");
    write_checkpoint(
        &ckpt,
        [
            ("sizes", "1,1"),
            ("hidden", ""),
            ("output", "linear"),
            ("loss", "mse"),
        ],
        &[
            ("layers.0.weight", vec![1, 1], vec![0.0]),
            ("layers.0.bias", vec![1], vec![0.0]),
        ],
    );
    // y = w·1 + b from w = b = 0 towards 1: the full-batch gradient is -1 for both, so one step
    // of lr ½ lands on y = 1 and epoch 2's loss is 0 up to f32 rounding.
    let m = M.to_string();
    let args = [
        "train",
        "--data",
        &csv,
        "--targets",
        "1",
        "--hidden",
        "",
        "--init",
        ckpt.to_str().unwrap(),
        "--batch",
        &m,
        "--epochs",
        "2",
        "--lr",
        "0.5",
    ];
    let Some([cpu, gpu]) = cpu_and_gpu_losses(test, &s, &args) else {
        return;
    };
    for (device, l) in [("cpu", &cpu), ("gpu", &gpu)] {
        assert_close(&format!("{device} epoch 1 loss"), l[0], 0.5, 1e-6, 0.0);
        assert!(
            l[1] < LONG_SUM_LOSS,
            "{device}: epoch 2 loss {:e}, output {:.5}: one full-batch step of lr ½ lands on \
             y = 1; gradients summed over only part of the {M} rows fall short",
            l[1],
            1.0 - (2.0 * l[1]).sqrt()
        );
    }
}

#[test]
fn gpu_with_no_adapter_says_how_to_install_one() {
    let s = Scratch::new("no_adapter");
    rejects(
        &s,
        &["--device", "gpu", "--backend", "metal"],
        &["no GPU adapter", "mesa-vulkan-drivers"],
    );
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

/// Runs `train` with `args` plus a --save and a --metrics path (on the CPU unless `args` pick
/// a device), and checks that it fails cleanly naming every needle and leaves the directory as
/// it was: no checkpoint, no metrics, no temporary file.
#[track_caller]
fn rejects(s: &Scratch, args: &[&str], needles: &[&str]) {
    let before = s.files();
    let (save, metrics) = (s.arg("out.safetensors"), s.arg("out.jsonl"));
    let mut all = vec!["train", "--save", &save, "--metrics", &metrics];
    if !args.contains(&"--device") {
        all.extend(["--device", "cpu"]);
    }
    all.extend_from_slice(args);
    let run = s.run(&all);
    run.assert_clean_failure(needles);
    assert_eq!(
        s.files(),
        before,
        "files written by a rejected run:\n{}",
        run.show()
    );
}

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

#[test]
fn negative_csv_label_is_rejected() {
    let s = Scratch::new("negative_label");
    let csv = s.write("neg.csv", b"1,2,0\n1,2,-1\n");
    rejects(
        &s,
        &["--data", &csv],
        &[
            "neg.csv",
            "line 2",
            "label \"-1\" is not a non-negative integer",
        ],
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
        &["h32.safetensors", "64-32(relu)-10", "64-16(relu)-10"],
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
    for (name, len) in [
        ("half", bytes.len() / 2),
        ("short", bytes.len() - 4),
        ("tiny", 5),
    ] {
        let cut = s.write(&format!("{name}.safetensors"), &bytes[..len]);
        rejects(
            &s,
            &["--init", &cut],
            &[&format!("{name}.safetensors"), "not a safetensors file"],
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
    let error = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap();
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
            cmd.env_remove("XDG_RUNTIME_DIR").env("TMPDIR", &s.dir);
        });
        let left: Vec<String> = s
            .files()
            .into_iter()
            .filter(|f| f.starts_with("wgtrain-runtime-"))
            .collect();
        assert!(left.is_empty(), "left {left:?} behind:\n{}", run.show());
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

#[test]
fn devices_lists_an_adapter_with_its_limits() {
    let test = "devices";
    let s = Scratch::new(test);
    let Some(run) = with_adapter(test, s.run(&["devices"])) else {
        return;
    };
    run.assert_success();
    assert!(run.stdout.starts_with("0: "), "{}", run.show());
    for word in [
        "max storage binding",
        "max buffer",
        "workgroups per dimension",
    ] {
        assert!(run.stdout.contains(word), "{word}:\n{}", run.show());
    }
}
