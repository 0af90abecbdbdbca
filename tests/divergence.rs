//! A run whose loss becomes non-finite stops with the epoch and batch and a hint to lower the
//! learning rate, exits non-zero without a panic, and leaves the last good checkpoint as it was.

mod common;

use common::scratch::Scratch;

#[test]
fn divergence_names_where_and_keeps_the_last_good_checkpoint() {
    let s = Scratch::new("diverge");
    s.run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "2",
        "--activation",
        "linear",
        "--save",
        "m.safetensors",
    ])
    .assert_success();
    let before = std::fs::read(s.path("m.safetensors")).unwrap();
    s.run(&[
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
    ])
    .assert_error(&["diverged", "epoch 1, batch", "lower --lr"]);
    assert_eq!(
        std::fs::read(s.path("m.safetensors")).unwrap(),
        before,
        "the good checkpoint was replaced"
    );
}
