//! Hostile inputs and signals, one test per cause: a trained model is never lost (SIGTERM,
//! SIGHUP, a metrics file that cannot be written), nothing that existed is destroyed (outputs
//! that are inputs, devices, unwritable folders), and nothing hangs or grows without bound
//! (devices and pipes as inputs, thread counts, absurd metrics, overflowing epoch counts).

mod common;

use std::time::{Duration, Instant};

use common::cli::{epochs, rejects};
use common::scratch::Scratch;

/// A one-epoch CPU run saved to `name` (with `extra` flags); its path.
fn trained(s: &Scratch, name: &str, extra: &[&str]) -> String {
    let path = s.arg(name);
    let mut args = vec!["train", "--device", "cpu", "--epochs", "1", "--save", &path];
    args.extend_from_slice(extra);
    s.run(&args).assert_success();
    path
}

/// Sends `signal` to a long CPU run once it has printed its first epoch, then waits for it.
fn signalled_run(s: &Scratch, signal: i32, args: &[&str]) -> std::process::Output {
    let mut all = vec!["train", "--device", "cpu", "--epochs", "100000"];
    all.extend_from_slice(args);
    let (child, mut out) = s.started(&all);
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn sigterm_and_sighup_finish_the_step_save_and_exit_128_plus_the_signal() {
    for (signal, name, code) in [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
    ] {
        let s = Scratch::new(&format!("signal{signal}"));
        let save = s.arg("run.safetensors");
        let out = signalled_run(&s, signal, &["--save", &save]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}: finishing the step")) && err.contains("saved to"),
            "{err}"
        );
        // The saved run resumes.
        s.run(&[
            "train", "--device", "cpu", "--resume", &save, "--epochs", "1",
        ])
        .assert_success();
    }
}

#[test]
fn a_signal_without_save_saves_to_the_interrupted_file() {
    let s = Scratch::new("signal_nosave");
    let out = signalled_run(&s, libc::SIGTERM, &[]);
    assert_eq!(out.status.code(), Some(143));
    let first = s.path("wgtrain-interrupted.safetensors");
    let before = std::fs::read(&first).unwrap();
    // A second interrupted run keeps the first one's model: it saves under the next free name.
    let out = signalled_run(&s, libc::SIGTERM, &["--seed", "7"]);
    assert_eq!(out.status.code(), Some(143));
    assert_eq!(std::fs::read(&first).unwrap(), before);
    let second = s.path("wgtrain-interrupted-2.safetensors");
    assert!(second.is_file());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wgtrain-interrupted-2.safetensors"), "{err}");
}

#[test]
fn an_output_that_is_an_input_or_another_output_is_refused_before_any_work() {
    let s = Scratch::new("same_file");
    let model = trained(&s, "m.safetensors", &[]);
    let before = std::fs::read(&model).unwrap();
    for args in [
        vec!["train", "--init", &model, "--metrics", &model],
        vec!["train", "--resume", &model, "--plot", &model],
        vec![
            "predict", "--model", &model, "--input", "digits", "--out", &model,
        ],
    ] {
        s.run(&args).assert_clean_failure(&["is the same file as"]);
        assert_eq!(std::fs::read(&model).unwrap(), before, "{args:?}");
    }
    // Two outputs of one run: --save and --metrics.
    let x = s.arg("x.out");
    s.run(&["train", "--device", "cpu", "--save", &x, "--metrics", &x])
        .assert_clean_failure(&["--metrics", "is the same file as --save"]);
    assert!(!s.path("x.out").exists());
}

#[test]
fn a_destination_that_is_not_a_regular_file_is_not_replaced() {
    let s = Scratch::new("not_regular");
    let model = trained(&s, "m.safetensors", &[]);
    let fifo = s.path("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let fifo = fifo.to_str().unwrap().to_string();
    s.run(&[
        "predict", "--model", &model, "--input", "digits", "--out", &fifo,
    ])
    .assert_clean_failure(&["not a regular file"]);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
}

#[test]
fn a_save_folder_that_cannot_be_written_fails_before_training() {
    // /proc refuses new files even to root, which CI runs as.
    let s = Scratch::new("unwritable");
    let t0 = Instant::now();
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--save",
        "/proc/wgtrain-test.safetensors",
    ])
    .assert_clean_failure(&["the folder /proc cannot be written"]);
    assert!(t0.elapsed() < Duration::from_secs(5), "it trained first");
}

#[test]
fn inputs_that_are_devices_or_pipes_are_refused_without_reading() {
    let s = Scratch::new("devices_in");
    let fifo = s.path("pipe.csv");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap().to_string();
    for args in [
        vec!["eval", "--model", "/dev/zero"],
        vec!["eval", "--model", &fifo],
        vec!["train", "--device", "cpu", "--data", &fifo],
        vec!["plot", "/dev/zero", "--out", "p.svg"],
    ] {
        let t0 = Instant::now();
        s.run(&args).assert_clean_failure(&["not a regular file"]);
        assert!(t0.elapsed() < Duration::from_secs(10), "{args:?} took long");
    }
}

#[test]
fn thread_counts_are_bounded() {
    let s = Scratch::new("threads");
    rejects(
        &s,
        &["--threads", "100000"],
        &["--threads 100000 is over the limit"],
    );
    let run = s.run_with(&["train", "--device", "cpu", "--epochs", "1"], |c| {
        c.env("RAYON_NUM_THREADS", "100000");
    });
    run.assert_clean_failure(&["RAYON_NUM_THREADS=100000"]);
}

#[test]
fn an_unknown_wgpu_backend_is_an_error_not_an_empty_list() {
    let s = Scratch::new("backend_env");
    let run = s.run_with(&["devices"], |c| {
        c.env("WGPU_BACKEND", "foo");
    });
    run.assert_clean_failure(&["WGPU_BACKEND=foo", "not a backend name"]);
}

#[test]
fn metrics_that_cannot_be_plotted_are_errors_naming_the_line() {
    let s = Scratch::new("plot_values");
    for (body, needle) in [
        (
            "{\"epoch\":1,\"train_loss\":0}\n{\"epoch\":2,\"train_loss\":1.7e308}\n",
            "line 2: \"train_loss\" is 1.7e+308",
        ),
        (
            "{\"epoch\":1,\"train_loss\":\"abc\"}\n",
            "line 1: \"train_loss\" is \"abc\"",
        ),
    ] {
        let m = s.write("m.jsonl", body);
        let t0 = Instant::now();
        s.run(&["plot", &m, "--out", "p.svg"])
            .assert_clean_failure(&[needle]);
        assert!(t0.elapsed() < Duration::from_secs(10));
    }
}

#[test]
fn a_font_that_cannot_be_used_fails_before_training() {
    let s = Scratch::new("font");
    let save = s.arg("m.safetensors");
    let run = s.run_with(
        &[
            "train", "--device", "cpu", "--plot", "p.svg", "--save", &save,
        ],
        |c| {
            c.env("WGTRAIN_FONT", "/dev/zero");
        },
    );
    run.assert_clean_failure(&["WGTRAIN_FONT", "not a regular file"]);
    assert!(epochs(&run).is_empty() && !s.path("m.safetensors").exists());
}

#[test]
fn resume_appends_to_its_metrics_and_overflowing_epochs_are_refused() {
    let s = Scratch::new("resume_metrics");
    let (save, m) = (s.arg("m.safetensors"), s.arg("m.jsonl"));
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--save",
        &save,
        "--metrics",
        &m,
    ])
    .assert_success();
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--resume",
        &save,
        "--epochs",
        "1",
        "--metrics",
        &m,
    ])
    .assert_success();
    let lines = common::cli::metrics(&s.path("m.jsonl"));
    let got: Vec<f64> = lines
        .iter()
        .map(|o| common::cli::number(o, "epoch"))
        .collect();
    assert_eq!(got, [1.0, 2.0, 3.0]);
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--resume",
        &save,
        "--epochs",
        "18446744073709551615",
    ])
    .assert_clean_failure(&["--epochs 18446744073709551615", "overflow"]);
}

#[test]
fn a_metrics_file_on_a_full_disk_stops_the_run_which_saves_then_fails() {
    // A 12 KiB tmpfs fills after a few dozen metrics lines. Mounting needs root, as CI runs.
    let s = Scratch::new("full_disk");
    let mnt = s.path("full");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=12k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|st| st.success());
    if !mounted {
        assert!(
            std::env::var("WGTRAIN_SKIP_ROOT").is_ok_and(|v| v == "1"),
            "cannot mount a small tmpfs (needs root); WGTRAIN_SKIP_ROOT=1 skips this test"
        );
        eprintln!("SKIPPED a_metrics_file_on_a_full_disk_stops_the_run_which_saves_then_fails");
        return;
    }
    let save = s.arg("m.safetensors");
    let metrics = mnt.join("m.jsonl");
    let run = s.run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "500",
        "--save",
        &save,
        "--metrics",
        metrics.to_str().unwrap(),
    ]);
    // The line that did not fit is cut back off: every line is whole JSON.
    let text = std::fs::read_to_string(&metrics).unwrap();
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    run.assert_clean_failure(&["No space left on device"]);
    assert!(run.stderr.contains("parameters saved to"), "{}", run.show());
    assert!(text.is_empty() || text.ends_with('\n'), "torn: {text:?}");
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    s.run(&["eval", "--model", &save]).assert_success();
}

#[test]
fn a_resumed_run_cuts_a_torn_last_metrics_line_before_adding_its_own() {
    let s = Scratch::new("torn_metrics");
    let (save, metrics) = (s.arg("m.safetensors"), s.arg("m.jsonl"));
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--save",
        &save,
        "--metrics",
        &metrics,
    ])
    .assert_success();
    // What a full disk leaves: half a line.
    let mut text = std::fs::read_to_string(s.path("m.jsonl")).unwrap();
    text += "{\"epoch\":3,\"train_lo";
    std::fs::write(s.path("m.jsonl"), &text).unwrap();
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--resume",
        &save,
        "--epochs",
        "1",
        "--metrics",
        &metrics,
    ])
    .assert_success();
    let epochs: Vec<u64> = std::fs::read_to_string(s.path("m.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["epoch"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(epochs, [1, 2, 3]);
    s.run(&["plot", &metrics, "--out", &s.arg("m.svg")])
        .assert_success();
}

#[test]
fn a_file_size_limit_fails_the_save_with_a_message_instead_of_killing_the_run() {
    use std::os::unix::process::CommandExt;
    let s = Scratch::new("fsize");
    let mut cmd = s.command(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "1",
        "--hidden",
        "256",
        "--save",
        "big.safetensors",
    ]);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 40 << 10,
                rlim_max: 40 << 10,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Before, SIGXFSZ killed it mid-write (status 153), leaving a temporary file.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
    let left: Vec<_> = std::fs::read_dir(s.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Overwrites the first f32 of tensor `name` in the safetensors file `path` with `value`.
fn poke(path: &std::path::Path, name: &str, value: f32) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize + 8 + n;
    bytes[start..start + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn checkpoints_of_an_unknown_format_or_with_impossible_adam_state_are_refused() {
    let s = Scratch::new("bad_state");
    let save = trained(
        &s,
        "adam.safetensors",
        &["--optimizer", "adam", "--lr", "0.001"],
    );
    let good = std::fs::read(&save).unwrap();
    // Same length, another format.
    let mut future = good.clone();
    let at = good.windows(9).position(|w| w == b"wgtrain-1").unwrap();
    future[at + 8] = b'9';
    let future = s.write("future.safetensors", &future);
    s.run(&["eval", "--model", &future])
        .assert_clean_failure(&["format 'wgtrain-9'"]);
    poke(&s.path("adam.safetensors"), "optim.layers.0.bias.v", -1.0);
    s.run(&[
        "train", "--device", "cpu", "--resume", &save, "--epochs", "1",
    ])
    .assert_clean_failure(&[
        "the optimizer state holds a negative second moment: optim.layers.0.bias.v[0] is -1",
        "never negative",
    ]);
}

#[test]
fn outputs_that_overflow_are_an_error_naming_the_row_not_nan_probabilities() {
    let s = Scratch::new("overflow");
    let model = s.path("huge.safetensors");
    let spec = wgtrain::Spec::classifier(2, &[], 2).unwrap();
    let mut m = wgtrain::Model::init(spec, 0).unwrap();
    m.params.layers[0].w.fill(1e30);
    m.save(&model).unwrap();
    let input = s.write("x.csv", "0.5,0.5\n1e10,-1e10\n");
    s.run(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        &input,
    ])
    .assert_clean_failure(&["output for row", "overflow"]);
}

#[test]
fn a_save_removes_the_temporary_files_of_saves_killed_before_and_only_those() {
    let s = Scratch::new("stale_tmp");
    // A process id that is not running (kill(pid, 0) fails).
    let dead = (400_000..4_000_000)
        // SAFETY: signal 0 only asks whether the process exists.
        .find(|&p| unsafe { libc::kill(p, 0) } != 0)
        .unwrap();
    let stale = s.write(
        &format!(".m.safetensors.wgtrain-tmp{dead}"),
        vec![0u8; 1024],
    );
    let alive = s.write(
        &format!(".m.safetensors.wgtrain-tmp{}", std::process::id()),
        vec![0u8; 16],
    );
    // A user's own file that merely looks like a temporary name: not wgtrain's to remove.
    let users = s.write(&format!(".m.safetensors.tmp{dead}"), b"my notes");
    trained(&s, "m.safetensors", &[]);
    let exists = |p: &str| std::path::Path::new(p).exists();
    assert!(!exists(&stale), "the dead save's file stayed");
    assert!(exists(&alive), "a live process's file went");
    assert!(
        exists(&users),
        "a user's file was removed as a stale temporary file"
    );
}

#[test]
fn a_network_that_fits_the_parameter_cap_but_not_memory_is_refused_with_both_figures() {
    let s = Scratch::new("memory");
    // The CPU path only: on the GPU path, an adapter's binding limit (lavapipe's 128 MiB)
    // may refuse these 3.6 GB of parameters first (the test below).
    let args = [
        "train",
        "--device",
        "cpu",
        "--hidden",
        "30000,30000",
        "--epochs",
        "1",
    ];
    let out = s.limited(&args, 4 << 30, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("needs") && err.contains("may allocate only") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn a_network_wider_than_the_gpus_binding_is_refused_before_its_parameters_are_allocated() {
    let Some(ctx) = common::gpu("parameters over the binding limit") else {
        return;
    };
    // 3.6 GB of parameters (the largest network under the parameter cap), under 2 GiB of
    // address space. Were they allocated on the host first, the memory check would refuse
    // them ("may allocate only"); the adapter's binding limit is asked before.
    let bytes = (64 * 30_000 + 30_000 * 30_000 + 30_000 * 10) as u64 * 4;
    if bytes <= ctx.max_binding() {
        eprintln!(
            "SKIPPED: {} binds {} bytes, more than the largest network's parameters",
            ctx.info.name,
            ctx.max_binding()
        );
        return;
    }
    drop(ctx);
    let s = Scratch::new("binding");
    let args = [
        "train",
        "--device",
        "gpu",
        "--hidden",
        "30000,30000",
        "--epochs",
        "1",
    ];
    let out = s.limited(&args, 2 << 30, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the parameters (one storage binding) needs")
            && err.contains("max_storage_buffer_binding_size")
            && !err.contains("may allocate only"),
        "{err}"
    );
}

#[test]
fn class_targets_too_large_as_a_dense_matrix_are_refused_with_both_figures() {
    let s = Scratch::new("many_classes");
    // 60,000 rows of 30,000 classes: one-hot targets of 6.7 GiB, under 4 GiB of address space.
    let mut csv = String::from("x,label\n");
    for i in 0..60_000 {
        csv += &format!("{},{}\n", (i * 7) % 13, i % 30_000);
    }
    let data = s.write("many.csv", csv);
    let args = [
        "train",
        "--data",
        &data,
        "--many-classes",
        "--epochs",
        "1",
        "--device",
        "cpu",
    ];
    let out = s.limited(&args, 4 << 30, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("as a 60000 x 30000 matrix needs") && err.contains("may allocate only"),
        "{err}"
    );
}

#[test]
fn more_threads_than_memory_allows_are_refused_from_the_flag_and_the_environment() {
    let s = Scratch::new("threads");
    let run = ["train", "--epochs", "1", "--device", "cpu"];
    // 1024 threads reserve about 3 GiB of stacks and malloc arenas; 1 GiB of address space.
    let env = s.limited(&run, 1 << 30, &[("RAYON_NUM_THREADS", "1024")]);
    let flag = s.limited(&[&run[..], &["--threads", "1024"]].concat(), 1 << 30, &[]);
    for (out, needle) in [(env, "RAYON_NUM_THREADS=1024: "), (flag, "--threads 1024")] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(needle) && err.contains("may allocate only"),
            "{err}"
        );
    }
    // Two threads from the environment train as before under the same limit.
    let two = s.limited(&run, 1 << 30, &[("RAYON_NUM_THREADS", "2")]);
    assert!(two.status.success(), "{two:?}");
}
