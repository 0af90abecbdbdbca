//! The README and docs/ as a test: every shell example in them (```sh blocks, and the `$ `
//! lines of ```text/```console transcripts), run in document order in one scratch folder with
//! the built binary first on PATH, must exit 0; and every output line a transcript shows that
//! does not depend on the machine (not `device:`, not samples/s or seconds) must appear, in
//! order, in what the command printed, to the digits shown. A command that cannot run here
//! is skipped with its reason printed. Their Rust blocks run as doctests (src/lib.rs).
#![cfg(feature = "cli")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::wgtrain_bin;
use common::scratch::Scratch;
use common::tabular;

/// The documents, in the order a reader follows them: later commands read what earlier ones
/// wrote (docs/TRACE.md's gradcheck the model docs/CLI.md trained).
const DOCS: &[&str] = &[
    "README.md",
    "docs/CLI.md",
    "docs/LIBRARY.md",
    "docs/DATASETS.md",
    "docs/FORMATS.md",
    "docs/TRACE.md",
    "docs/MATH.md",
    "docs/HOW-IT-WORKS.md",
    "docs/TESTING.md",
    "docs/BROWSER.md",
    "docs/RELIABILITY.md",
    "docs/BENCHMARKS.md",
    "docs/GPU-KERNELS.md",
    "docs/INTEROP.md",
];

/// Inputs no command of the documents makes and this test cannot either: a command that
/// names one is skipped with the reason.
const NOT_HERE: &[(&str, &str)] = &[
    (
        "diabetes-",
        "needs scikit-learn's diabetes set exported by hand, as the text says",
    ),
    (
        "torch.safetensors",
        "needs a file PyTorch saved (scripts/torch-interop.py runs that direction)",
    ),
    (
        "tuned.safetensors",
        "needs a file PyTorch saved (scripts/torch-interop.py runs that direction)",
    ),
];

/// One command of a document and the output lines it shows (none for most ```sh lines).
#[derive(Debug)]
struct Example {
    /// `FILE:LINE`, for messages.
    place: String,
    command: String,
    shown: Vec<String>,
}

/// A command with its `\` continuation lines joined.
fn join_continued(
    lines: &mut std::iter::Peekable<impl Iterator<Item = (usize, String)>>,
) -> Option<(usize, String)> {
    let (n, first) = lines.next()?;
    let mut cmd = first;
    while cmd.trim_end().ends_with('\\') {
        let Some((_, next)) = lines.next() else { break };
        cmd = format!(
            "{} {}",
            cmd.trim_end().trim_end_matches('\\').trim_end(),
            next.trim()
        );
    }
    Some((n, cmd))
}

/// The examples of one markdown text, in order. A ```sh or ```bash block is one command a
/// line (comments and blank lines aside); a ```text or ```console block whose lines start
/// with `$ ` is a transcript, each `$ ` line a command and the lines after it its output; a
/// ```text block right after a ```sh block of one command is that command's output.
fn examples(file: &str, text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut lines = text.lines().map(String::from).enumerate().peekable();
    // The last ```sh block had exactly one command, and nothing but blank lines came since.
    let mut single_sh: Option<usize> = None;
    while let Some((_, line)) = lines.next() {
        let Some(lang) = line.strip_prefix("```") else {
            if !line.trim().is_empty() {
                single_sh = None;
            }
            continue;
        };
        let lang = lang.trim().split(',').next().unwrap_or("").to_string();
        let mut block = Vec::new();
        for (j, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            block.push((j + 1, l));
        }
        let place = |n: usize| format!("{file}:{n}");
        match lang.as_str() {
            "sh" | "bash" => {
                let before = out.len();
                let mut it = block.into_iter().peekable();
                while let Some((n, cmd)) = join_continued(&mut it) {
                    let t = cmd.trim();
                    if t.is_empty() || t.starts_with('#') {
                        continue;
                    }
                    out.push(Example {
                        place: place(n),
                        command: t.to_string(),
                        shown: Vec::new(),
                    });
                }
                single_sh = (out.len() == before + 1).then_some(out.len() - 1);
            }
            "text" | "console" if block.iter().any(|(_, l)| l.starts_with("$ ")) => {
                let mut it = block.into_iter().peekable();
                while let Some((n, l)) = join_continued(&mut it) {
                    if let Some(cmd) = l.strip_prefix("$ ") {
                        out.push(Example {
                            place: place(n),
                            command: cmd.trim().to_string(),
                            shown: Vec::new(),
                        });
                    } else if let Some(last) = out.last_mut() {
                        last.shown.push(l);
                    }
                }
                single_sh = None;
            }
            "text" | "console" => {
                if let Some(k) = single_sh.take() {
                    out[k].shown = block.into_iter().map(|(_, l)| l).collect();
                }
            }
            _ => single_sh = None,
        }
    }
    out
}

/// A shown or printed line as compared: whitespace collapsed, an epoch line without its
/// speed and time (`1135407 samples/s  0.02 s`); None for a line that depends on the machine
/// or the moment, or is an elision.
fn comparable(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let first = *words.first()?;
    if matches!(first, "..." | "…" | "device:")
        || line.starts_with("note: no hardware GPU adapter")
        || line.starts_with("selftest on")
    {
        return None;
    }
    let keep = match words.iter().position(|w| *w == "samples/s") {
        Some(p) if first == "epoch" => p.saturating_sub(1),
        _ => words.len(),
    };
    Some(words[..keep].join(" "))
}

/// Every comparable shown line in `printed`, in order; the first missing one otherwise.
fn compare(shown: &[String], printed: &str) -> Result<(), String> {
    let printed: Vec<String> = printed.lines().filter_map(comparable).collect();
    let mut at = 0;
    for want in shown.iter().filter_map(|l| comparable(l)) {
        match printed[at..].iter().position(|got| *got == want) {
            Some(p) => at += p + 1,
            None => return Err(format!("shown line not printed (in order): {want:?}")),
        }
    }
    Ok(())
}

/// Why this command does not run here, or None when it does.
fn skip_reason(command: &str) -> Option<String> {
    let program = command.split_whitespace().next().unwrap_or("");
    if program == "cargo" && !command.starts_with("cargo run --release -- ") {
        return Some("a cargo build, test, install or bench: what runs this test".into());
    }
    if !matches!(program, "wgtrain" | "cargo" | "cat" | "head") {
        return Some(format!("`{program}` is not a wgtrain command"));
    }
    if let Some((_, why)) = NOT_HERE.iter().find(|(name, _)| command.contains(name)) {
        return Some((*why).into());
    }
    let task_needs_fashion = command
        .split_whitespace()
        .skip_while(|w| *w != "--task")
        .nth(1)
        .is_some_and(|t| t.split(',').any(|t| matches!(t, "T1" | "T2" | "T4")));
    // `fashion` also names the files its runs write (fashion.jsonl, fashion.safetensors).
    let long = std::env::var("WGTRAIN_README_LONG").is_ok_and(|v| v == "1");
    // The GEMM sweep and the tasks on a GPU path: minutes on a software adapter.
    if command.starts_with("wgtrain bench") && command.contains("gpu") && !long {
        return Some(
            "a GPU benchmark takes minutes on llvmpipe: WGTRAIN_README_LONG=1 runs it".into(),
        );
    }
    if command.contains("fashion") || task_needs_fashion {
        if !fashion_mnist_installed() {
            return Some(
                "needs Fashion-MNIST, not installed (apt-get install dataset-fashion-mnist)".into(),
            );
        }
        // Minutes on 2 cores (a GPU run on llvmpipe, the benchmark tasks): asked for only.
        if !long {
            return Some("Fashion-MNIST runs take minutes: WGTRAIN_README_LONG=1 runs them".into());
        }
    }
    None
}

/// Where `--data fashion-mnist` looks, as docs/DATASETS.md lists it (./data is the scratch
/// folder's copy of the repository's, which has none).
fn fashion_mnist_installed() -> bool {
    let mut dirs = vec![PathBuf::from("/usr/share/datasets/fashion-mnist")];
    if let Some(d) = std::env::var_os("WGTRAIN_DATA") {
        dirs.push(Path::new(&d).join("fashion-mnist"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push(Path::new(&h).join(".cache/wgtrain/fashion-mnist"));
    }
    dirs.iter().any(|d| d.is_dir())
}

/// The scratch folder as the repository's folder looks to a reader who has run the quick
/// start: its data and seed files, `wgtrain` first on PATH, and the CSV fixtures the text
/// writes with `cargo test` (written here from the same generator).
struct Workspace {
    scratch: Scratch,
    path: String,
}

impl Workspace {
    fn new(name: &str) -> Workspace {
        let scratch = Scratch::new(name);
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["data", "examples/seeds"] {
            let to = scratch.path(dir);
            std::fs::create_dir_all(&to).unwrap();
            for e in std::fs::read_dir(repo.join(dir)).unwrap() {
                let e = e.unwrap();
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
        std::fs::create_dir_all(scratch.path("fixtures")).unwrap();
        for f in tabular::all() {
            for (name, text) in [&f.train, &f.test] {
                scratch.write(&format!("fixtures/{name}"), text);
            }
        }
        let bin = scratch.path(".bin");
        std::fs::create_dir_all(&bin).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(wgtrain_bin(), bin.join("wgtrain")).unwrap();
        let path = match std::env::var_os("PATH") {
            Some(p) => format!("{}:{}", bin.display(), p.to_string_lossy()),
            None => bin.display().to_string(),
        };
        Workspace { scratch, path }
    }

    /// Runs one example: Ok(None) when it ran and printed what it shows, Ok(Some(reason))
    /// when skipped, Err(what went wrong) otherwise.
    fn run(&self, ex: &Example) -> Result<Option<String>, String> {
        let command = match ex.command.strip_prefix("cargo run --release -- ") {
            Some(args) => format!("wgtrain {args}"),
            None => ex.command.clone(),
        };
        if let Some(why) = skip_reason(&command) {
            return Ok(Some(why));
        }
        // `cat FILE` with its content shown is how a text gives a file: write it first.
        if let Some(file) = command.strip_prefix("cat ") {
            let file = self.scratch.path(file.trim());
            if !file.exists() && !ex.shown.is_empty() {
                std::fs::write(&file, ex.shown.join("\n") + "\n").unwrap();
            }
        }
        let out = Command::new("bash")
            .args(["-o", "pipefail", "-c", &format!("exec 2>&1\n{command}")])
            .current_dir(self.scratch.dir())
            .env("PATH", &self.path)
            .env("XDG_RUNTIME_DIR", self.scratch.dir())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stdout);
        // A pipeline's reader that stops early (`| head -4`) ends the writer by SIGPIPE.
        let piped_out = command.contains('|') && out.status.code() == Some(141);
        if !out.status.success() && !piped_out {
            let no_adapter = printed.contains("no GPU adapter");
            if no_adapter && std::env::var("WGTRAIN_SKIP_GPU").is_ok_and(|v| v == "1") {
                return Ok(Some("no GPU adapter (WGTRAIN_SKIP_GPU=1)".into()));
            }
            let hint = if no_adapter {
                "\n(no GPU adapter: `apt-get install -y mesa-vulkan-drivers libvulkan1` installs \
                 Mesa's lavapipe; WGTRAIN_SKIP_GPU=1 skips such commands explicitly)"
            } else {
                ""
            };
            return Err(format!("exited with {}{hint}\n{printed}", out.status));
        }
        compare(&ex.shown, &printed).map_err(|e| format!("{e}\n--- printed:\n{printed}"))?;
        Ok(None)
    }
}

/// Runs every example of `docs` (name, text) in order in one workspace; the failures, each
/// with its place, command and reason.
fn run_docs(name: &str, docs: &[(&str, String)]) -> (usize, Vec<String>) {
    let ws = Workspace::new(name);
    let (mut ran, mut failures) = (0, Vec::new());
    for (file, text) in docs {
        for ex in examples(file, text) {
            let t = std::time::Instant::now();
            match ws.run(&ex) {
                Ok(None) => {
                    ran += 1;
                    eprintln!(
                        "ran     {} ({:.1} s): {}",
                        ex.place,
                        t.elapsed().as_secs_f64(),
                        ex.command
                    );
                }
                Ok(Some(why)) => eprintln!("SKIPPED {}: {}: {why}", ex.place, ex.command),
                Err(e) => {
                    eprintln!("FAILED  {}: {}", ex.place, ex.command);
                    failures.push(format!("{}: {}\n{e}", ex.place, ex.command));
                }
            }
        }
    }
    (ran, failures)
}

#[test]
fn every_shell_example_of_the_readme_and_docs_runs_as_written() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs: Vec<(&str, String)> = DOCS
        .iter()
        .map(|f| (*f, std::fs::read_to_string(repo.join(f)).unwrap()))
        .collect();
    let (ran, failures) = run_docs("readme", &docs);
    assert!(
        failures.is_empty(),
        "{} of the documents' commands failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The quick start's run, the CLI page's list, the CSV walk-through, trace, resume: far more
    // than this; a parser that finds nothing must not pass.
    assert!(ran >= 25, "only {ran} commands ran");
}

#[test]
fn every_markdown_file_in_docs_is_followed() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for e in std::fs::read_dir(repo.join("docs")).unwrap() {
        let name = format!("docs/{}", e.unwrap().file_name().to_string_lossy());
        if name.ends_with(".md") {
            assert!(DOCS.contains(&name.as_str()), "{name} is not in DOCS");
        }
    }
}

#[test]
fn the_quick_start_keeps_the_test_command_ci_runs() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let commands: Vec<String> = examples("README.md", &readme.unwrap())
        .into_iter()
        .map(|e| e.command)
        .collect();
    for want in ["cargo run --release -- train", "cargo test --release"] {
        assert!(
            commands.iter().any(|c| c.starts_with(want)),
            "{want:?} not among the README's commands {commands:?}"
        );
    }
}

#[test]
fn the_extractor_finds_commands_transcripts_and_outputs() {
    let text = "intro\n```sh\nwgtrain devices   # all\n# a comment\nwgtrain train \\\n  --epochs 1\n```\n\
                ```text\n$ wgtrain eval --model m\nloss 0.5\n...\n$ cat x.csv\na,b\n```\n\
                ```sh\nwgtrain train --quiet\n```\n\n```text\nepoch 1/1  train loss 1.0\n```\n";
    let ex = examples("t.md", text);
    let got: Vec<(&str, &str, usize)> = ex
        .iter()
        .map(|e| (e.place.as_str(), e.command.as_str(), e.shown.len()))
        .collect();
    assert_eq!(
        got,
        [
            ("t.md:3", "wgtrain devices   # all", 0),
            ("t.md:5", "wgtrain train --epochs 1", 0),
            ("t.md:9", "wgtrain eval --model m", 2),
            ("t.md:12", "cat x.csv", 1),
            ("t.md:16", "wgtrain train --quiet", 1),
        ]
    );
}

#[test]
fn an_epoch_line_compares_without_its_speed_and_time() {
    let shown = ["epoch  20/20  train loss 0.1058  test loss 0.0957  test acc 97.50%  1135407 samples/s  0.02 s".to_string()];
    let same = "epoch  20/20  train loss 0.1058  test loss 0.0957  test acc 97.50%  99 samples/s  1.50 s\n";
    assert_eq!(compare(&shown, same), Ok(()));
    let other = "epoch  20/20  train loss 0.1059  test loss 0.0957  test acc 97.50%  99 samples/s  1.50 s\n";
    assert!(compare(&shown, other).is_err());
}

/// The test can fail: a document whose command is refused, and one whose shown output is
/// not what the command prints, each fail with the place and the reason.
#[test]
fn a_broken_example_fails() {
    let bad_flag = "```sh\nwgtrain train --no-such-flag\n```\n".to_string();
    let (ran, failures) = run_docs("readme_bad_flag", &[("bad.md", bad_flag)]);
    assert_eq!(ran, 0);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("bad.md:2: wgtrain train --no-such-flag\nexited with"),
        "{}",
        failures[0]
    );

    let wrong_loss = "```text\n$ wgtrain train --device cpu --epochs 2\n\
                      epoch   2/2  train loss 1.0896  test loss 0.7407  test acc 88.89%  1 samples/s  0.00 s\n```\n"
        .to_string();
    let (ran, failures) = run_docs("readme_bad_output", &[("bad.md", wrong_loss)]);
    assert_eq!(ran, 0);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("shown line not printed"),
        "{}",
        failures[0]
    );

    let right_loss = "```text\n$ wgtrain train --device cpu --epochs 2\n\
                      epoch   2/2  train loss 1.0897  test loss 0.7407  test acc 88.89%  1 samples/s  0.00 s\n```\n"
        .to_string();
    let (ran, failures) = run_docs("readme_good_output", &[("good.md", right_loss)]);
    assert_eq!((ran, failures.len()), (1, 0), "{failures:?}");
}
