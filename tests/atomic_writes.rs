//! Checkpoints are written to a temporary file and renamed into place: a process killed at any
//! moment leaves the previous checkpoint or the new one, never a torn file. Kills a training run
//! that saves every epoch at varied moments, many times, and loads what it left each time.

use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn killing_a_run_mid_save_never_leaves_a_torn_checkpoint() {
    let dir = std::env::temp_dir().join(format!("wgtrain-atomic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("run.safetensors");
    let mut found = 0;
    let mut rng = wgtrain::rng::Rng::new(11);
    for round in 0..16 {
        // Adam state triples the file (about 3 MB): each save takes long enough to be hit.
        let mut child = Command::new(env!("CARGO_BIN_EXE_wgtrain"))
            .args([
                "train", "--device", "cpu", "--hidden", "2048", "--epochs", "1000", "--batch",
                "512",
            ])
            .args([
                "--optimizer",
                "adam",
                "--lr",
                "0.001",
                "--checkpoint-every",
                "1",
                "--save",
            ])
            .arg(&ckpt)
            .current_dir(&dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + rng.below(500) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        if ckpt.exists() {
            found += 1;
            let loaded = wgtrain::checkpoint::load_training(&ckpt);
            assert!(
                loaded.is_ok(),
                "round {round}: the checkpoint left by a killed run does not load: {:?}",
                loaded.err()
            );
            assert!(
                loaded.unwrap().2.is_some(),
                "round {round}: training state missing"
            );
        }
    }
    // Rounds killed before the first save prove nothing; most must have had a file to check.
    assert!(
        found >= 8,
        "only {found} of 16 rounds left a checkpoint to check"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
