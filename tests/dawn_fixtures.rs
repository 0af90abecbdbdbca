//! Writes the fixtures scripts/dawn-check.mjs runs loss_forward_backward on under Dawn: the loss
//! module's WGSL as the host assembles it, and per case the inputs, the `LossParams` bytes, the
//! dispatch grid and the f64 reference's dz, per-row loss and argmax flag.
//! `#[ignore]`d (it checks nothing here); scripts/dawn-check.sh runs it with
//! `cargo test --release --test dawn_fixtures -- --ignored`, into $WGTRAIN_DAWN_FIXTURES or
//! target/dawn-fixtures.

mod common;

use std::path::PathBuf;

use common::uniform;
use serde_json::json;
use wgtrain::cpu::fast::argmax;
use wgtrain::cpu::reference::{self, widen};
use wgtrain::gpu::kernels::loss_groups;
use wgtrain::gpu::uniforms::LossParams;
use wgtrain::model::Loss;
use wgtrain::rng::Rng;

/// (loss, sigmoid_out, m, n): narrow rows (one thread each, n <= 64) and wide ones (a workgroup
/// each): just past the switch, not a multiple of 256, just past one workgroup, many classes.
const CASES: [(Loss, bool, usize, usize); 14] = [
    (Loss::CrossEntropy, false, 7, 10),
    (Loss::CrossEntropy, false, 3, 64),
    (Loss::CrossEntropy, false, 3, 65),
    (Loss::CrossEntropy, false, 4, 100),
    (Loss::CrossEntropy, false, 1, 257),
    (Loss::CrossEntropy, false, 3, 1000),
    (Loss::CrossEntropy, false, 3, 5000),
    (Loss::Bce, false, 5, 10),
    (Loss::Bce, false, 3, 100),
    (Loss::Bce, false, 3, 5000),
    (Loss::Mse, true, 5, 10),
    (Loss::Mse, true, 3, 1000),
    (Loss::Mse, false, 5, 10),
    (Loss::Mse, false, 3, 5000),
];

/// Outputs and targets as the loss kernel tests draw them: logits with one-hot targets for
/// cross-entropy, logits with targets in [0, 1] for bce, outputs in (0, 1) or [-2, 2] for mse.
fn inputs(loss: Loss, sigmoid_out: bool, m: usize, n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    match loss {
        Loss::CrossEntropy => {
            let mut rng = Rng::new(seed);
            let out = uniform(seed + 1, m * n, -4.0, 4.0);
            let mut y = vec![0.0; m * n];
            for i in 0..m {
                y[i * n + rng.below(n)] = 1.0;
            }
            (out, y)
        }
        Loss::Bce => (
            uniform(seed + 1, m * n, -6.0, 6.0),
            uniform(seed + 2, m * n, 0.0, 1.0),
        ),
        Loss::Mse if sigmoid_out => (
            uniform(seed + 1, m * n, 0.01, 0.99),
            uniform(seed + 2, m * n, 0.0, 1.0),
        ),
        Loss::Mse => (
            uniform(seed + 1, m * n, -2.0, 2.0),
            uniform(seed + 2, m * n, -2.0, 2.0),
        ),
    }
}

#[test]
#[ignore = "writes fixtures for scripts/dawn-check.sh; checks nothing by itself"]
fn write_dawn_fixtures() {
    let dir = std::env::var_os("WGTRAIN_DAWN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dawn-fixtures"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cases = vec![];
    for (i, &(loss, sigmoid_out, m, n)) in CASES.iter().enumerate() {
        let seed = 900 + i as u64;
        let (out, y) = inputs(loss, sigmoid_out, m, n, seed);
        let params = LossParams::new(m, n, loss.code(), sigmoid_out);
        let words: Vec<u32> = bytemuck::bytes_of(&params)
            .chunks(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let (out64, y64) = (widen(&out), widen(&y));
        let mut dz = vec![0.0; m * n];
        reference::loss_forward_backward(&mut dz, &out64, &y64, m, n, loss, sigmoid_out);
        let mut scratch = vec![0.0; n];
        let rows: Vec<(f64, f64)> = (0..m)
            .map(|r| {
                let row = r * n..(r + 1) * n;
                let l = reference::loss_forward_backward(
                    &mut scratch,
                    &out64[row.clone()],
                    &y64[row.clone()],
                    1,
                    n,
                    loss,
                    sigmoid_out,
                );
                let hit = argmax(&out[row.clone()]) == argmax(&y[row]);
                (l, hit as u8 as f64)
            })
            .collect();
        let (gx, gy, gz) = loss_groups(m, params.wide != 0);
        cases.push(json!({
            "name": format!("{loss} sigmoid_out={sigmoid_out} m {m} n {n} seed {seed}"),
            "m": m,
            "n": n,
            "wide": params.wide,
            "params_u32": words,
            "groups": [gx, gy, gz],
            "out": out,
            "y": y,
            "dz": dz,
            "row_loss": rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            "row_correct": rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        }));
    }
    // The loss module exactly as the host compiles it.
    let (_, module) = wgtrain::gpu::Kernel::LossForwardBackward.source();
    std::fs::write(dir.join("loss.wgsl"), module).unwrap();
    std::fs::write(
        dir.join("loss_cases.json"),
        serde_json::to_string(&json!({ "entry_point": "loss_forward_backward", "cases": cases }))
            .unwrap(),
    )
    .unwrap();
    println!("wrote {} cases to {}", CASES.len(), dir.display());
}
