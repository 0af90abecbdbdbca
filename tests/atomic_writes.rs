//! Checkpoints are written to a temporary file and renamed into place: a process killed at any
//! moment leaves the previous checkpoint or the new one, never a torn file. Kills a training run
//! that saves every epoch at varied moments, many times, and loads what it left each time.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::scratch::Scratch;

#[test]
fn killing_a_run_mid_save_never_leaves_a_torn_checkpoint() {
    let s = Scratch::new("atomic");
    let ckpt = s.path("run.safetensors");
    let mut found = 0;
    let mut rng = wgtrain::testing::Rng::new(11);
    for round in 0..16 {
        // Adam state triples the file (about 3 MB): each save takes long enough to be hit.
        let mut child = s
            .command(&[
                "train",
                "--device",
                "cpu",
                "--hidden",
                "2048",
                "--epochs",
                "1000",
                "--batch",
                "512",
                "--optimizer",
                "adam",
                "--lr",
                "0.001",
                "--checkpoint-every",
                "1",
                "--save",
                ckpt.to_str().unwrap(),
            ])
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
}
