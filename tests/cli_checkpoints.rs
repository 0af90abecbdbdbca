//! Checkpoints written by the `wgtrain` binary: torch's layout (`layers.i.weight` is [out, in]),
//! the metadata, `--init` continuing from them, and an independent f64 forward pass over a saved
//! file reproducing the loss the tool reports for it.

mod common;

use common::checkpoint_file::SafeTensors;
use common::cli::{epochs, metrics, number};
use common::scratch::Scratch;
use common::{Tol, assert_close};

/// The CLI's f32 forward loss against this file's f64 forward pass on the same f32 parameters:
/// a few ulp per op over a 5-7-3 network, tanh from the platform libm.
const F64_FORWARD: Tol = Tol {
    rtol: 1e-5,
    atol: 0.0,
};

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
        // The forward pass below reads the raw rows; CSV runs standardise by default.
        "--no-standardize",
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
        "--no-standardize",
        "--metrics",
        m.to_str().unwrap(),
    ])
    .assert_success();
    let cli = number(&metrics(&m)[0], "train_loss");
    let want = cross_entropy_f64(&text, &st);
    assert_close(
        "train loss of the loaded checkpoint",
        &[cli],
        &[want],
        F64_FORWARD,
    );
}

#[test]
fn keep_best_says_which_epoch_the_file_holds() {
    let s = Scratch::new("keep_best_says");
    let save = s.arg("best.safetensors");
    // Without a validation split the test loss picks the epoch.
    let run = s.run(&[
        "train",
        "--device",
        "cpu",
        "--epochs",
        "8",
        "--lr",
        "0.9",
        "--save",
        &save,
        "--keep-best",
    ]);
    run.assert_success();
    let lines = common::cli::epochs(&run);
    let best = lines
        .iter()
        .min_by(|a, b| a.test_loss.unwrap().total_cmp(&b.test_loss.unwrap()))
        .unwrap();
    let want = format!(
        "saved {save}: epoch {}, the lowest test loss ({:.4}",
        best.epoch,
        best.test_loss.unwrap()
    );
    assert!(run.stderr.contains(&want), "want {want:?}\n{}", run.show());
}
