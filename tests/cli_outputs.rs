//! Output names and output streams: a legal name saves however long it is, a name that cannot
//! be written fails before training (too long, a folder), and a closed or full stdout neither
//! kills a run before it saves nor panics a command.

mod common;

use common::cli::rejects;
use common::scratch::Scratch;

#[test]
fn a_legal_255_byte_name_saves_although_its_temporary_name_would_be_longer() {
    let s = Scratch::new("long_name");
    let name = format!("{}.safetensors", "m".repeat(255 - ".safetensors".len()));
    assert_eq!(name.len(), 255);
    let path = s.arg(&name);
    s.run(&["train", "--device", "cpu", "--epochs", "1", "--save", &path])
        .assert_success();
    assert!(std::path::Path::new(&path).is_file());
    assert_eq!(
        s.files().len(),
        1,
        "a temporary file stayed: {:?}",
        s.files()
    );
}

#[test]
fn names_that_cannot_be_written_fail_before_training() {
    let s = Scratch::new("bad_names");
    let long = s.arg(&format!("{}.safetensors", "m".repeat(250)));
    let folder = format!("{}/", s.arg("model.safetensors"));
    let file = s.write("file.safetensors", "x");
    let in_file = format!("{file}/x.safetensors");
    // Over PATH_MAX (4096 on Linux) though each name is short: the rename at the save fails.
    let deep = format!("{}x.safetensors", "./".repeat(2500));
    for (args, needle) in [
        (
            vec!["--save", in_file.as_str()],
            "file.safetensors is a file, not a folder",
        ),
        (
            vec!["--save", deep.as_str()],
            "the path is 5013 bytes long; the system takes at most 4095",
        ),
        (
            vec!["--save", long.as_str()],
            "the file name is 262 bytes long",
        ),
        (
            vec!["--save", folder.as_str()],
            "names a folder, not a file",
        ),
        (
            vec!["--metrics", folder.as_str()],
            "names a folder, not a file",
        ),
    ] {
        let before = s.files();
        let mut all = vec!["train", "--device", "cpu", "--epochs", "3"];
        all.extend(args);
        s.run(&all).assert_clean_failure(&[needle]);
        assert_eq!(s.files(), before);
    }
    rejects(&s, &["--plot", &folder], &["names a folder, not a file"]);
}

/// A CPU run of 2000 epochs (seconds: long enough that what the test does next happens while it
/// trains, not after) saving to `save`, started, and its stdout after the first epoch's line.
fn started_run(
    s: &Scratch,
    save: &str,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
) {
    s.started(&[
        "train", "--device", "cpu", "--epochs", "2000", "--save", save,
    ])
}

#[test]
fn train_piped_into_head_keeps_training_and_saves() {
    let s = Scratch::new("closed_stdout");
    let save = s.arg("run.safetensors");
    // `| head -1`: the first line read, then the pipe closed while the run goes on.
    let (child, out) = started_run(&s, &save);
    drop(out);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "killed or failed: {:?}\n{err}",
        out.status
    );
    assert!(err.contains("saved"), "{err}");
    assert!(std::path::Path::new(&save).is_file());
}

#[test]
fn results_to_a_full_device_are_an_error_not_a_panic() {
    let s = Scratch::new("full_stdout");
    let model = s.arg("m.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--epochs", "1", "--save", &model,
    ])
    .assert_success();
    for args in [
        vec!["eval", "--model", model.as_str(), "--data", "digits"],
        vec![
            "eval",
            "--model",
            model.as_str(),
            "--data",
            "digits",
            "--json",
        ],
        vec!["predict", "--model", model.as_str(), "--input", "digits"],
        // These printed with println! and panicked (status 101).
        vec!["devices"],
        vec!["selftest", "--device", "cpu"],
        vec!["bench", "--task", "T3", "--device", "cpu"],
        vec!["bench", "--task", "T3", "--device", "cpu", "--json"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = s.command(&args).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("cannot write the results to standard output")
                && err.contains("No space left")
                && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_save_folder_removed_mid_run_rescues_the_model_and_fails() {
    let s = Scratch::new("removed_folder");
    let folder = s.path("out");
    std::fs::create_dir(&folder).unwrap();
    let save = s.arg("out/m.safetensors");
    let (child, mut out) = started_run(&s, &save);
    std::fs::remove_dir_all(&folder).unwrap();
    std::io::Read::read_to_string(&mut out, &mut String::new()).unwrap();
    let run = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    let rescued: Vec<String> = s
        .files()
        .into_iter()
        .filter(|f| f.starts_with("wgtrain-rescued-"))
        .collect();
    assert_eq!(rescued.len(), 1, "{:?}\n{err}", s.files());
    assert!(
        err.contains("the checkpoint could not be saved") && err.contains(&rescued[0]),
        "{err}"
    );
    // The rescued model is a whole run: eval reads it.
    s.run(&["eval", "--model", &rescued[0], "--data", "digits"])
        .assert_success();
}

#[test]
fn a_runs_data_is_found_from_any_folder_and_a_missing_file_is_said_to_be_missing() {
    let s = Scratch::new("data_paths");
    std::fs::create_dir(s.path("a")).unwrap();
    std::fs::create_dir(s.path("b")).unwrap();
    let csv = "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0.1,0.2,0\n0.9,0.1,1\n0.2,0.8,1\n0.8,0.9,0\n";
    std::fs::write(s.path("a/xor.csv"), csv).unwrap();
    // Trained from inside a/ with a relative path.
    let run = s.run_with(
        &[
            "train",
            "--device",
            "cpu",
            "--data",
            "xor.csv",
            "--epochs",
            "1",
            "--hidden",
            "4",
            "--save",
            "m.safetensors",
        ],
        |c| {
            c.current_dir(s.path("a"));
        },
    );
    run.assert_success();
    // --init from b/, without --data: the run's own file, not b/xor.csv (which does not exist).
    let init_from_b = || {
        let args = [
            "train",
            "--device",
            "cpu",
            "--init",
            "../a/m.safetensors",
            "--epochs",
            "1",
        ];
        s.run_with(&args, |c| {
            c.current_dir(s.path("b"));
        })
    };
    let run = init_from_b();
    run.assert_success();
    assert!(run.stderr.contains("xor.csv"), "{}", run.stderr);
    // A stored path that is gone is said to be missing.
    std::fs::remove_file(s.path("a/xor.csv")).unwrap();
    init_from_b().assert_clean_failure(&["xor.csv", "No such file"]);
    // So is an input named like a file that does not exist, whatever the command.
    s.run(&[
        "predict",
        "--model",
        "a/m.safetensors",
        "--input",
        "images-idx3-ubyte.gz",
    ])
    .assert_clean_failure(&["images-idx3-ubyte.gz: no such file or folder"]);
    s.run(&[
        "eval",
        "--model",
        "a/m.safetensors",
        "--data",
        "nowhere/test",
    ])
    .assert_clean_failure(&["nowhere/test: no such file or folder"]);
}

/// The bytes of `s`'s file `name`.
fn bytes(s: &Scratch, name: &str) -> Vec<u8> {
    std::fs::read(s.path(name)).unwrap()
}

#[test]
fn no_output_may_replace_a_file_the_run_reads() {
    let s = Scratch::new("outputs_onto_inputs");
    let csv = "a,b,y\n0.1,0.2,x\n0.3,0.1,z\n0.5,0.9,x\n0.7,0.4,z\n";
    for f in ["train.csv", "valid.csv", "test.csv"] {
        s.write(f, csv);
    }
    // A tiny IDX folder: 1 image of 1x1 and its label, for train and test.
    let images = [0u8, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7];
    let labels = [0u8, 0, 8, 1, 0, 0, 0, 1, 0];
    std::fs::create_dir(s.path("idx")).unwrap();
    for (f, b) in [
        ("idx/train-images-idx3-ubyte", &images[..]),
        ("idx/train-labels-idx1-ubyte", &labels[..]),
        ("idx/t10k-images-idx3-ubyte", &images[..]),
        ("idx/t10k-labels-idx1-ubyte", &labels[..]),
    ] {
        s.write(f, b);
    }
    let (train, valid, test) = (s.arg("train.csv"), s.arg("valid.csv"), s.arg("test.csv"));
    let (idx, labels_file) = (s.arg("idx"), s.arg("idx/train-labels-idx1-ubyte"));
    let base = ["train", "--device", "cpu", "--epochs", "1"];
    let cases: [(Vec<&str>, [&str; 2]); 4] = [
        (
            vec!["--data", &train, "--valid", &valid, "--save", &valid],
            ["--save", "is the same file as --valid"],
        ),
        (
            vec!["--data", &train, "--test", &test, "--metrics", &test],
            ["--metrics", "is the same file as --test"],
        ),
        (
            vec!["--data", &idx, "--metrics", &labels_file],
            ["--metrics", "is the same file as --data"],
        ),
        (
            vec!["--data", &idx, "--save", &labels_file],
            ["--save", "is the same file as --data"],
        ),
    ];
    for (args, needles) in cases {
        let before: Vec<Vec<u8>> = ["valid.csv", "test.csv", "idx/train-labels-idx1-ubyte"]
            .iter()
            .map(|f| bytes(&s, f))
            .collect();
        let mut all = base.to_vec();
        all.extend(args);
        s.run(&all).assert_error(&needles);
        let after: Vec<Vec<u8>> = ["valid.csv", "test.csv", "idx/train-labels-idx1-ubyte"]
            .iter()
            .map(|f| bytes(&s, f))
            .collect();
        assert_eq!(before, after, "an input changed");
    }
    // --init and --resume without --data read the data their run trained on: it is an input.
    let model = s.arg("m.safetensors");
    s.run(&[&base[..], &["--data", &train, "--save", &model]].concat())
        .assert_success();
    for start in ["--init", "--resume"] {
        s.run(&[&base[..], &[start, &model, "--metrics", &train]].concat())
            .assert_error(&["--metrics", "is the same file as --data"]);
        assert_eq!(bytes(&s, "train.csv"), csv.as_bytes());
    }
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_saved_file_keeps_the_mode_of_the_file_it_replaces() {
    let s = Scratch::new("keep_mode");
    let model = s.write("m.safetensors", "old");
    chmod(&s.path("m.safetensors"), 0o600);
    s.run(&[
        "train", "--device", "cpu", "--data", "xor", "--epochs", "1", "--save", &model,
    ])
    .assert_success();
    assert_eq!(mode(&s.path("m.safetensors")), 0o600);
    let out = s.write("p.csv", "old");
    chmod(&s.path("p.csv"), 0o640);
    s.run(&[
        "predict", "--model", &model, "--input", "xor", "--out", &out,
    ])
    .assert_success();
    assert_eq!(mode(&s.path("p.csv")), 0o640);
    assert_ne!(std::fs::read(&out).unwrap(), b"old");
}

/// `wgtrain ARGS` in `s` as a user who is not root: as is when the tests run so, else as
/// `nobody` (uid and gid 65534), owning the scratch folder and its files, as `cp` would be
/// refused a read-only file only when not root.
fn run_unprivileged(s: &Scratch, args: &[&str]) -> common::cli::Run {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid only reads the process's id.
    if unsafe { libc::geteuid() } != 0 {
        return s.run(args);
    }
    const NOBODY: u32 = 65534;
    std::os::unix::fs::chown(s.dir(), Some(NOBODY), Some(NOBODY)).unwrap();
    for f in s.files() {
        std::os::unix::fs::lchown(s.path(&f), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    s.run_with(args, |cmd| {
        cmd.uid(NOBODY).gid(NOBODY);
    })
}

#[test]
fn a_read_only_output_is_refused_before_training_naming_it() {
    let s = Scratch::new("read_only");
    let trained = s.arg("m.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--data", "xor", "--epochs", "1", "--save", &trained,
    ])
    .assert_success();
    let model = s.write("ro.safetensors", "mine");
    chmod(&s.path("ro.safetensors"), 0o400);
    let out = s.write("ro.csv", "mine");
    chmod(&s.path("ro.csv"), 0o400);
    let before = s.files();
    run_unprivileged(
        &s,
        &[
            "train", "--device", "cpu", "--data", "xor", "--epochs", "1", "--save", &model,
        ],
    )
    .assert_clean_failure(&["ro.safetensors: is read-only (mode 400)"]);
    run_unprivileged(
        &s,
        &[
            "predict", "--model", &trained, "--input", "xor", "--out", &out,
        ],
    )
    .assert_clean_failure(&["ro.csv: is read-only (mode 400)"]);
    assert_eq!(s.files(), before);
    assert_eq!(std::fs::read(&model).unwrap(), b"mine");
    assert_eq!(std::fs::read(&out).unwrap(), b"mine");
}

#[test]
fn a_link_to_a_regular_file_is_written_through_and_other_links_are_refused() {
    let s = Scratch::new("links");
    let link = |name: &str, to: &str| std::os::unix::fs::symlink(to, s.path(name)).unwrap();
    let real = s.arg("real.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--data", "xor", "--epochs", "1", "--save", &real,
    ])
    .assert_success();
    let first = std::fs::read(&real).unwrap();
    link("rl.safetensors", "real.safetensors");
    let rl = s.arg("rl.safetensors");
    s.run(&[
        "train", "--device", "cpu", "--epochs", "2", "--resume", &rl, "--save", &rl,
    ])
    .assert_success();
    assert!(
        s.path("rl.safetensors").is_symlink(),
        "the link was replaced"
    );
    assert_ne!(
        std::fs::read(&real).unwrap(),
        first,
        "the target was not written"
    );

    s.write("other.txt", "old");
    link("lo.csv", "other.txt");
    let lo = s.arg("lo.csv");
    s.run(&["predict", "--model", &real, "--input", "xor", "--out", &lo])
        .assert_success();
    assert!(s.path("lo.csv").is_symlink(), "the link was replaced");
    assert_ne!(std::fs::read(s.path("other.txt")).unwrap(), b"old");

    link("dangling.csv", "nowhere.csv");
    link("null.csv", "/dev/null");
    link("data.csv", "other.txt");
    let before = s.files();
    for (out, needle) in [
        (
            "dangling.csv",
            "is a symbolic link to nowhere.csv, which cannot be followed",
        ),
        ("null.csv", "not a regular file"),
    ] {
        s.run(&[
            "predict",
            "--model",
            &real,
            "--input",
            "xor",
            "--out",
            &s.arg(out),
        ])
        .assert_clean_failure(&[out, needle]);
    }
    // Same-file checks see through links: the metrics onto the checkpoint, through a link.
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--data",
        "xor",
        "--epochs",
        "1",
        "--save",
        &real,
        "--metrics",
        &rl,
    ])
    .assert_clean_failure(&["is the same file as"]);
    assert_eq!(s.files(), before);
}
