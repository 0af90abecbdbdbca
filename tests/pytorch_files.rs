//! Safetensors files as PyTorch writes them (`save_file(model.state_dict())` of an
//! `nn.Sequential` of Linear layers: `0.weight`, `0.bias`, `2.weight`, `2.bias`, no wgtrain
//! metadata), read with the architecture from the caller (the library's `Model::load_with`, the
//! CLI's --activation/--output/--loss) and checked against an independent f64 forward pass;
//! errors that list every missing key; flags that contradict a file's metadata; `--init` taking
//! the architecture (and the data, found by its stored path) from a wgtrain file.
//! `scripts/torch-interop.py` checks the same against PyTorch itself.

mod common;

use common::checkpoint_file::write_safetensors;
use common::cli::{epochs, metrics, number, rejects};
use common::scratch::Scratch;
use common::{Tol, assert_close, uniform};
use wgtrain::checkpoint::Arch;
use wgtrain::{Activation, Loss, Model, Output};

/// wgtrain's f32 forward pass of a 4-8-3 network against f64 on the same f32 values: a few
/// ulp per op, exp from the platform libm.
const F32_FORWARD: Tol = Tol {
    rtol: 1e-5,
    atol: 1e-7,
};
/// `predict` prints six decimals: half a unit of the last (5e-7) plus the f32 forward's error.
const PRINTED: Tol = Tol {
    rtol: 0.0,
    atol: 1e-6,
};

const IN: usize = 4;
const HID: usize = 8;
const OUT: usize = 3;

/// `nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3))`'s parameters, weights [out, in].
struct Net {
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

fn net(seed: u64) -> Net {
    Net {
        w1: uniform(seed, HID * IN, -1.0, 1.0),
        b1: uniform(seed + 1, HID, -0.5, 0.5),
        w2: uniform(seed + 2, OUT * HID, -1.0, 1.0),
        b2: uniform(seed + 3, OUT, -0.5, 0.5),
    }
}

/// The tensors under `names` (first weight, first bias, second weight, second bias).
fn tensors<'a>(n: &Net, names: [&'a str; 4]) -> Vec<(&'a str, Vec<usize>, Vec<f32>)> {
    vec![
        (names[0], vec![HID, IN], n.w1.clone()),
        (names[1], vec![HID], n.b1.clone()),
        (names[2], vec![OUT, HID], n.w2.clone()),
        (names[3], vec![OUT], n.b2.clone()),
    ]
}

const SEQUENTIAL: [&str; 4] = ["0.weight", "0.bias", "2.weight", "2.bias"];

/// softmax(W2 relu(W1 x + b1) + b2) per row of `x` (rows of IN), in f64.
fn forward_f64(n: &Net, x: &[f32]) -> Vec<f64> {
    let f = |v: f32| v as f64;
    x.chunks_exact(IN)
        .flat_map(|r| {
            let h: Vec<f64> = (0..HID)
                .map(|o| {
                    let z =
                        f(n.b1[o]) + (0..IN).map(|i| f(n.w1[o * IN + i]) * f(r[i])).sum::<f64>();
                    z.max(0.0)
                })
                .collect();
            let z: Vec<f64> = (0..OUT)
                .map(|o| f(n.b2[o]) + (0..HID).map(|i| f(n.w2[o * HID + i]) * h[i]).sum::<f64>())
                .collect();
            let mx = z.iter().copied().fold(f64::MIN, f64::max);
            let e: Vec<f64> = z.iter().map(|v| (v - mx).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.into_iter().map(move |v| v / sum)
        })
        .collect()
}

/// Rows of `x` as CSV lines (shortest round-trip f32 text, so the tool reads the same values),
/// each followed by `label(row)` when given.
fn csv(x: &[f32], header: Option<&str>, label: Option<&dyn Fn(usize) -> usize>) -> String {
    let mut text = header.map_or(String::new(), |h| format!("{h}\n"));
    for (i, r) in x.chunks_exact(IN).enumerate() {
        let cells: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        text += &cells.join(",");
        if let Some(l) = label {
            text += &format!(",{}", l(i));
        }
        text += "\n";
    }
    text
}

fn relu_softmax() -> Arch {
    Arch {
        activations: Some(vec![Activation::Relu]),
        loss: Some(Loss::CrossEntropy),
        ..Arch::default()
    }
}

#[test]
fn a_plain_sequential_file_predicts_what_an_f64_forward_pass_gives() {
    let s = Scratch::new("plain_predict");
    let n = net(11);
    write_safetensors(&s.path("torch.safetensors"), &[], &tensors(&n, SEQUENTIAL));
    let x = uniform(12, 25 * IN, -2.0, 2.0);
    s.write("x.csv", csv(&x, None, None));
    let want = forward_f64(&n, &x);

    let run = s.run(&[
        "predict",
        "--model",
        "torch.safetensors",
        "--input",
        "x.csv",
        "--activation",
        "relu",
        "--output",
        "softmax",
    ]);
    run.assert_success();
    assert!(
        run.stderr.contains(
            "read 0.weight/0.bias, 2.weight/2.bias as a 4-8(relu)-3 softmax/cross-entropy network"
        ),
        "{}",
        run.show()
    );
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("class,p0,p1,p2"));
    let (mut classes, mut probs) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        classes.push(cells[0].parse::<usize>().unwrap());
        probs.extend(cells[1..].iter().map(|c| c.parse::<f64>().unwrap()));
    }
    assert_close("predict's probabilities", &probs, &want, PRINTED);
    let argmax: Vec<usize> = want
        .chunks_exact(OUT)
        .map(|p| (0..OUT).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap())
        .collect();
    assert_eq!(classes, argmax);
}

#[test]
fn the_library_reads_sequential_names_under_any_prefix_as_one_model() {
    let s = Scratch::new("plain_library");
    let n = net(21);
    let x = uniform(22, 9 * IN, -2.0, 2.0);
    let want = forward_f64(&n, &x);
    let namings: [[&str; 4]; 4] = [
        SEQUENTIAL,
        [
            "model.0.weight",
            "model.0.bias",
            "model.2.weight",
            "model.2.bias",
        ],
        [
            "net.layers.1.weight",
            "net.layers.1.bias",
            "net.layers.3.weight",
            "net.layers.3.bias",
        ],
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias",
        ],
    ];
    for (k, names) in namings.iter().enumerate() {
        let path = s.path(&format!("n{k}.safetensors"));
        write_safetensors(&path, &[], &tensors(&n, *names));
        let model =
            Model::load_with(&path, &relu_softmax()).unwrap_or_else(|e| panic!("{names:?}: {e}"));
        assert_eq!(model.describe(), "4-8(relu)-3 softmax/cross-entropy");
        let got = model.predict_f32(&x).unwrap();
        assert_close(
            &format!("{} probabilities", names[0]),
            &got,
            &want,
            F32_FORWARD,
        );
    }
    // Saved by wgtrain, the file carries the architecture: a plain load reads it.
    let model = Model::load_with(&s.path("n0.safetensors"), &relu_softmax()).unwrap();
    let saved = s.path("saved.safetensors");
    model.save(&saved).unwrap();
    let again = Model::load(&saved).unwrap();
    assert_eq!(again, model);

    // Without the architecture, the error says what is needed and how the names were read.
    let e = Model::load(&s.path("n0.safetensors"))
        .unwrap_err()
        .to_string();
    for needle in [
        "n0.safetensors",
        "no wgtrain metadata",
        "the hidden activations are needed",
        "the output or the loss is needed",
        "read as layers 0 = 0.weight, 0.bias; 1 = 2.weight, 2.bias of sizes 4-8-3",
    ] {
        assert!(e.contains(needle), "{needle:?} not in: {e}");
    }
}

#[test]
fn every_missing_or_wrong_key_is_listed_at_once() {
    let s = Scratch::new("missing_keys");
    let n = net(31);
    // nn.Sequential(Linear, BatchNorm1d, Linear, ReLU, Linear) with 0.bias and 4.weight lost
    // and 2.bias of the wrong length.
    write_safetensors(
        &s.path("broken.safetensors"),
        &[],
        &[
            ("0.weight", vec![HID, IN], n.w1.clone()),
            ("1.running_mean", vec![HID], n.b1.clone()),
            ("2.weight", vec![OUT, HID], n.w2.clone()),
            ("2.bias", vec![HID], n.b1.clone()),
            ("4.bias", vec![OUT], n.b2.clone()),
        ],
    );
    s.write("x.csv", csv(&uniform(32, 2 * IN, -1.0, 1.0), None, None));
    let args = [
        "--model",
        "broken.safetensors",
        "--activation",
        "relu",
        "--output",
        "softmax",
    ];
    let needles = [
        "broken.safetensors",
        "0.bias is missing",
        "2.bias is [8], but 2.weight [3, 8] needs [3]",
        "4.weight is missing",
        "tensors that are not Linear layers: 1.running_mean",
        "read as layers 0 (0.*), 1 (2.*), 2 (4.*)",
    ];
    s.run(&[&["predict", "--input", "x.csv"][..], &args].concat())
        .assert_error(&needles);
    s.run(&[&["eval", "--data", "x.csv"][..], &args].concat())
        .assert_error(&needles);

    // A wgtrain file whose metadata says three layers, holding two: both keys of the missing
    // one are named.
    let meta = [
        ("format", "wgtrain-1"),
        ("sizes", "4,8,8,3"),
        ("hidden", "relu,relu"),
        ("output", "softmax"),
        ("loss", "cross-entropy"),
    ];
    write_safetensors(
        &s.path("gap.safetensors"),
        &meta,
        &tensors(
            &n,
            [
                "layers.0.weight",
                "layers.0.bias",
                "layers.2.weight",
                "layers.2.bias",
            ],
        ),
    );
    s.run(&["predict", "--model", "gap.safetensors", "--input", "x.csv"])
        .assert_error(&[
            "gap.safetensors",
            "the metadata's sizes 4,8,8,3 give 3 layers, the file holds 2: missing layers.1.weight, layers.1.bias",
        ]);
    // Metadata with keys missing names them all.
    write_safetensors(
        &s.path("partial.safetensors"),
        &meta[..2],
        &tensors(&n, SEQUENTIAL),
    );
    s.run(&[
        "predict",
        "--model",
        "partial.safetensors",
        "--input",
        "x.csv",
    ])
    .assert_error(&["the metadata has no 'hidden', 'output', 'loss'"]);
    // No flags for a plain file: every one it needs is named.
    write_safetensors(&s.path("torch.safetensors"), &[], &tensors(&n, SEQUENTIAL));
    s.run(&[
        "predict",
        "--model",
        "torch.safetensors",
        "--input",
        "x.csv",
    ])
    .assert_error(&[
        "torch.safetensors has no wgtrain metadata",
        "(4-8-3)",
        "give --activation (for its hidden layer) and --output or --loss",
    ]);
}

/// A wgtrain file of `net`'s parameters: 4-8(relu)-3 softmax/cross-entropy, with metadata.
fn wgtrain_file(s: &Scratch, name: &str, n: &Net) -> String {
    let plain = s.path("plain-for-wgtrain.safetensors");
    write_safetensors(&plain, &[], &tensors(n, SEQUENTIAL));
    Model::load_with(&plain, &relu_softmax())
        .unwrap()
        .save(&s.path(name))
        .unwrap();
    s.arg(name)
}

#[test]
fn flags_that_contradict_a_files_metadata_are_errors_naming_each() {
    let s = Scratch::new("contradict");
    let n = net(41);
    let file = wgtrain_file(&s, "m.safetensors", &n);
    let x = uniform(42, 30 * IN, -1.0, 1.0);
    s.write("x.csv", csv(&x, None, Some(&|i| i % OUT)));
    s.run(&[
        "predict",
        "--model",
        &file,
        "--input",
        "x.csv",
        "--hidden",
        "16",
        "--activation",
        "tanh",
    ])
    .assert_error(&[
        "--hidden 16, --activation tanh contradict",
        "m.safetensors, which holds a 4-8(relu)-3 softmax/cross-entropy network",
        "leave them out",
    ]);
    s.run(&["eval", "--model", &file, "--data", "x.csv", "--loss", "mse"])
        .assert_error(&["--loss mse contradicts", "leave --loss out"]);
    // Flags that agree are accepted.
    s.run(&[
        "eval",
        "--model",
        &file,
        "--data",
        "x.csv",
        "--hidden",
        "8",
        "--activation",
        "relu",
        "--loss",
        "cross-entropy",
    ])
    .assert_success();
    rejects(
        &s,
        &["--init", &file, "--data", "x.csv", "--activation", "tanh"],
        &[
            "--activation tanh contradicts",
            "--init takes the architecture from the file",
        ],
    );
    // The library names each difference too.
    let e = Model::load_with(
        &s.path("m.safetensors"),
        &Arch {
            hidden: Some(vec![16]),
            output: Some(Output::Sigmoid),
            ..Arch::default()
        },
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "hidden 16 (the file: 8)",
        "output sigmoid (the file: softmax)",
    ] {
        assert!(e.contains(needle), "{needle:?} not in: {e}");
    }
}

#[test]
fn init_from_a_plain_file_needs_the_activation_and_starts_from_its_weights() {
    let s = Scratch::new("init_plain");
    let n = net(51);
    write_safetensors(&s.path("torch.safetensors"), &[], &tensors(&n, SEQUENTIAL));
    let x = uniform(52, 30 * IN, -1.0, 1.0);
    let label = |i: usize| (i * 7) % OUT;
    s.write("x.csv", csv(&x, Some("a,b,c,d,label"), Some(&label)));
    let base = [
        "--device",
        "cpu",
        "--data",
        "x.csv",
        "--init",
        "torch.safetensors",
        "--batch",
        "30",
        "--epochs",
        "1",
    ];
    rejects(&s, &base, &["give --activation (for its hidden layer)"]);
    rejects(
        &s,
        &["--init", "torch.safetensors", "--activation", "relu"],
        &[
            "torch.safetensors holds a 4-8(relu)-3 softmax/cross-entropy network (4 inputs, 3 outputs), but digits has 64 inputs and 10 classes",
        ],
    );
    let run = s.run(
        &[
            &["train"][..],
            &base,
            &["--activation", "relu", "--metrics", "m.jsonl"],
        ]
        .concat(),
    );
    run.assert_success();
    assert!(
        run.stderr
            .contains("network: 4-8(relu)-3 softmax/cross-entropy"),
        "{}",
        run.show()
    );
    // One batch of all rows: the epoch's train loss is the loaded parameters' forward loss.
    let p = forward_f64(&n, &x);
    let want = (0..30).map(|i| -p[i * OUT + label(i)].ln()).sum::<f64>() / 30.0;
    let got = number(&metrics(&s.path("m.jsonl"))[0], "train_loss");
    assert_close(
        "train loss from the plain file",
        &[got],
        &[want],
        F32_FORWARD,
    );
}

#[test]
fn init_without_data_trains_on_the_file_its_run_trained_on() {
    let s = Scratch::new("readme_init");
    let x = uniform(61, 40 * IN, -1.0, 1.0);
    let text = csv(
        &x,
        Some("a,b,c,d,label"),
        Some(&|i| usize::from(x[i * IN] > 0.0)),
    );
    s.write("my.csv", text);
    // A run on a CSV file, then --init from its checkpoint without --data.
    let first = s.run(&[
        "train",
        "--data",
        "my.csv",
        "--hidden",
        "128,64",
        "--activation",
        "relu,tanh",
        "--l2",
        "1e-4",
        "--save",
        "model.safetensors",
    ]);
    first.assert_success();
    let second = s.run(&[
        "train",
        "--init",
        "model.safetensors",
        "--metrics",
        "run.jsonl",
    ]);
    second.assert_success();
    // The run's file by its absolute path, as the checkpoint stores it (found from any folder).
    let stored = std::fs::canonicalize(s.path("my.csv")).unwrap();
    for needle in [
        format!(
            "note: training on {}, the data model.safetensors's run trained on",
            stored.display()
        ),
        "network: 4-128(relu)-64(tanh)-2 softmax/cross-entropy".into(),
    ] {
        assert!(
            second.stderr.contains(&needle),
            "{needle:?}:\n{}",
            second.show()
        );
    }
    // It starts from the trained weights: its first epoch is below the fresh run's first.
    let (a, b) = (epochs(&first), metrics(&s.path("run.jsonl")));
    let b0 = number(&b[0], "train_loss");
    assert!(
        b0 < a[0].train_loss,
        "fresh first epoch {}, --init first epoch {b0}",
        a[0].train_loss
    );
}
