//! The `wgtrain` binary end to end: running it in a test's scratch folder, what a finished run
//! must show (success, or a clean refusal that writes nothing), and readers of what it prints
//! and writes (epoch lines and the metrics file).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use serde_json::Value;

use super::scratch::Scratch;

/// The `wgtrain` binary: `$WGTRAIN_BIN`; else one beside this test binary or in its parent
/// folder (cargo's target/release/deps layout, or test binaries carried in a `tests/` folder
/// next to `wgtrain` to another machine by scripts/gpu-bench.sh); else the path cargo built it
/// at, which exists only on the build machine.
pub fn wgtrain_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WGTRAIN_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let name = format!("wgtrain{}", std::env::consts::EXE_SUFFIX);
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wgtrain")))
}

impl Scratch {
    /// `wgtrain ARGS` with `env` run to its end with at most `bytes` of address space
    /// (RLIMIT_AS, for the child only, never the test runner).
    #[cfg(unix)]
    #[allow(dead_code)]
    pub fn limited(&self, args: &[&str], bytes: u64, env: &[(&str, &str)]) -> std::process::Output {
        use std::os::unix::process::CommandExt;
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.output().unwrap()
    }

    /// `wgtrain ARGS` in this directory, not yet started: for runs that are spawned and killed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(wgtrain_bin());
        cmd.args(args)
            .current_dir(self.dir())
            .env("XDG_RUNTIME_DIR", self.dir())
            .env("RUST_BACKTRACE", "0");
        cmd
    }

    /// `wgtrain ARGS` started with its stdout and stderr piped, and its stdout after the first
    /// line, which must be an epoch's: for runs that a test acts on while they train.
    pub fn started(
        &self,
        args: &[&str],
    ) -> (
        std::process::Child,
        std::io::BufReader<std::process::ChildStdout>,
    ) {
        use std::io::BufRead;
        let mut child = self
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        assert!(first.starts_with("epoch"), "{first}");
        (child, out)
    }

    /// Runs `wgtrain ARGS` to the end.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, |_| {})
    }

    /// As `run`, with `env` adjusting the child's environment last.
    pub fn run_with(&self, args: &[&str], env: impl FnOnce(&mut Command)) -> Run {
        let mut cmd = self.command(args);
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

/// One finished `wgtrain` process.
pub struct Run {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The command, its status and both streams, for failure messages.
    pub fn show(&self) -> String {
        format!(
            "wgtrain {}\n  status: {}\n--- stdout\n{}--- stderr\n{}---",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        assert!(self.status.success(), "expected success:\n{}", self.show());
        self
    }

    /// Stdout of a run that must have succeeded.
    #[track_caller]
    pub fn success_stdout(self) -> String {
        self.assert_success();
        self.stdout
    }

    /// The first `error:` line of stderr.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no `error:` line on stderr:\n{}", self.show()))
    }

    /// A refusal, not a crash: exit code 1 (the tool's error) or 2 (clap's usage errors), never
    /// 101 (a panic) or a signal (an abort), with an `error:` line on stderr and every needle
    /// somewhere in stderr.
    #[track_caller]
    pub fn assert_clean_failure(&self, needles: &[&str]) -> &Run {
        match self.status.code() {
            Some(0) => panic!("expected a failure:\n{}", self.show()),
            Some(101) => panic!("panicked (exit 101) instead of an error:\n{}", self.show()),
            None => panic!("killed by a signal instead of an error:\n{}", self.show()),
            Some(1 | 2) => {}
            Some(c) => panic!("exit {c}, expected 1 or 2:\n{}", self.show()),
        }
        assert!(
            !self.stderr.contains("panicked"),
            "a panic message on stderr:\n{}",
            self.show()
        );
        self.error_line();
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr does not mention {needle:?}:\n{}",
                self.show()
            );
        }
        self
    }

    /// A clean failure from the tool itself (exit 1, not a usage error) whose `error:` line
    /// names every needle.
    #[track_caller]
    pub fn assert_error(&self, needles: &[&str]) -> &Run {
        self.assert_clean_failure(&[]);
        assert_eq!(
            self.status.code(),
            Some(1),
            "expected exit 1:\n{}",
            self.show()
        );
        self.assert_error_line(needles)
    }

    /// Every needle in the first `error:` line.
    #[track_caller]
    pub fn assert_error_line(&self, needles: &[&str]) -> &Run {
        let error = self.error_line();
        for needle in needles {
            assert!(
                error.contains(needle),
                "{needle:?} not in the error:\n{}",
                self.show()
            );
        }
        self
    }
}

/// Runs `train` with `args` plus a --save and a --metrics path (on the CPU unless `args` pick
/// a device), and checks that it fails cleanly with every needle in its `error:` line and
/// leaves the directory as it was: no checkpoint, no metrics, no temporary file.
#[track_caller]
pub fn rejects(s: &Scratch, args: &[&str], needles: &[&str]) {
    let before = s.files();
    let (save, metrics) = (s.arg("out.safetensors"), s.arg("out.jsonl"));
    let mut all = vec!["train", "--save", &save, "--metrics", &metrics];
    if !args.contains(&"--device") {
        all.extend(["--device", "cpu"]);
    }
    all.extend_from_slice(args);
    let run = s.run(&all);
    run.assert_clean_failure(&[]).assert_error_line(needles);
    assert_eq!(
        s.files(),
        before,
        "files written by a rejected run:\n{}",
        run.show()
    );
}

/// The GPU convention of tests/common: a run that needed an adapter and found none fails with
/// how to install one, unless WGTRAIN_SKIP_GPU=1, which prints SKIPPED and returns None.
#[track_caller]
pub fn with_adapter(test: &str, run: Run) -> Option<Run> {
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

/// One `epoch i/n ...` line of stdout.
#[derive(Debug)]
pub struct Epoch {
    pub epoch: usize,
    pub of: usize,
    pub train_loss: f64,
    pub test_loss: Option<f64>,
    /// Percent, as printed.
    pub test_acc: Option<f64>,
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
pub fn epochs(run: &Run) -> Vec<Epoch> {
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

/// One line of the `--metrics` file.
pub type Metrics = serde_json::Map<String, Value>;

/// The `--metrics` file: one JSON object per line, nothing else.
#[track_caller]
pub fn metrics(path: &Path) -> Vec<Metrics> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "metrics file ends mid-line: {text:?}");
    text.lines()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(o)) => o,
            other => panic!("metrics line {l:?} is not a JSON object: {other:?}"),
        })
        .collect()
}

#[track_caller]
pub fn number(o: &Metrics, key: &str) -> f64 {
    o.get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{key} is not a number in {o:?}"))
}

pub const METRIC_KEYS: [&str; 14] = [
    "epoch",
    "train_loss",
    "train_loss_standardized",
    "valid_loss",
    "valid_accuracy",
    "valid_rmse",
    "valid_r2",
    "test_loss",
    "test_accuracy",
    "test_rmse",
    "test_r2",
    "seconds",
    "samples_per_sec",
    "elapsed",
];

/// Checks every line's keys and types; returns the lines.
#[track_caller]
pub fn check_metrics(path: &Path, epochs: usize, has_test: bool) -> Vec<Metrics> {
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
