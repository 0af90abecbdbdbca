//! A run whose loss becomes non-finite stops with the epoch and batch and a hint to lower the
//! learning rate, exits non-zero without a panic, and leaves the last good checkpoint as it was.

use std::process::Command;

#[test]
fn divergence_names_where_and_keeps_the_last_good_checkpoint() {
    let dir = std::env::temp_dir().join(format!("wgtrain-diverge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wgtrain"))
            .args(args)
            .current_dir(&dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .output()
            .unwrap()
    };
    let good = run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--activation",
        "linear",
        "--save",
        "m.safetensors",
    ]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let before = std::fs::read(dir.join("m.safetensors")).unwrap();
    let bad = run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "3",
        "--activation",
        "linear",
        "--lr",
        "10000",
        "--init",
        "m.safetensors",
        "--save",
        "m.safetensors",
        "--checkpoint-every",
        "1",
    ]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("diverged") && err.contains("epoch 1, batch") && err.contains("lower --lr"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.join("m.safetensors")).unwrap(),
        before,
        "the good checkpoint was replaced"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
