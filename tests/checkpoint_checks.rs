//! One validation of a checkpoint for every command that reads one: a stored input
//! standardisation that cannot be applied (a NaN mean, a std without its mean) is refused with
//! the same message by eval, predict and train --init, and evaluation, like prediction, says
//! when outputs overflow instead of reporting a loss of infinity.

mod common;

use common::checkpoint_file::write_checkpoint;
use common::scratch::Scratch;

/// A 2-2 softmax classifier's tensors, plus `extra`.
fn tensors(extra: &[(&str, Vec<f32>)]) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    let mut t = vec![
        ("layers.0.weight", vec![2, 2], vec![1.0, 0.0, 0.0, 1.0]),
        ("layers.0.bias", vec![2], vec![0.0, 0.0]),
    ];
    for (name, v) in extra {
        let name: &'static str = Box::leak(name.to_string().into_boxed_str());
        t.push((name, vec![v.len()], v.clone()));
    }
    t
}

const META: [(&str, &str); 4] = [
    ("sizes", "2,2"),
    ("hidden", ""),
    ("output", "softmax"),
    ("loss", "cross-entropy"),
];

#[test]
fn a_stored_standardisation_that_cannot_be_applied_is_refused_alike_by_every_command() {
    let s = Scratch::new("ckpt_checks");
    let data = s.write("d.csv", "0.5,0.5,0\n1.5,-0.5,1\n0.1,0.2,0\n");
    let cases = [
        (
            "nan_mean",
            tensors(&[
                ("input.mean", vec![f32::NAN, 0.0]),
                ("input.std", vec![1.0, 1.0]),
            ]),
            "input.mean holds NaN for input 0",
        ),
        (
            "std_only",
            tensors(&[("input.std", vec![1.0, 1.0])]),
            "holds only one of input.mean and input.std",
        ),
        (
            "mean_only",
            tensors(&[("input.mean", vec![0.0, 0.0])]),
            "holds only one of input.mean and input.std",
        ),
        (
            "zero_std",
            tensors(&[
                ("input.mean", vec![0.0, 0.0]),
                ("input.std", vec![1.0, 0.0]),
            ]),
            "input.std holds 0 for input 1",
        ),
    ];
    for (name, t, needle) in cases {
        let path = s.path(&format!("{name}.safetensors"));
        write_checkpoint(&path, META, &t);
        let model = path.to_str().unwrap();
        for args in [
            vec!["eval", "--model", model, "--data", &data],
            vec!["eval", "--model", model, "--data", &data, "--json"],
            vec!["predict", "--model", model, "--input", &data],
            vec![
                "train", "--device", "cpu", "--init", model, "--data", &data, "--epochs", "1",
            ],
        ] {
            s.run(&args).assert_clean_failure(&[needle, model]);
        }
    }
}

#[test]
fn evaluation_whose_outputs_overflow_names_the_row_as_predict_does() {
    let s = Scratch::new("eval_overflow");
    let path = s.path("huge.safetensors");
    let mut t = tensors(&[]);
    t[0].2 = vec![1e30, 0.0, 0.0, 1e30];
    write_checkpoint(&path, META, &t);
    let data = s.write("d.csv", "0.5,0.5,0\n1e10,-1e10,1\n");
    let model = path.to_str().unwrap();
    for args in [
        vec!["eval", "--model", model, "--data", &data],
        vec!["eval", "--model", model, "--data", &data, "--json"],
        vec!["predict", "--model", model, "--input", &data],
    ] {
        s.run(&args)
            .assert_clean_failure(&["output for row 1", "overflow"]);
    }
}

#[test]
fn a_checkpoint_whose_tensors_cannot_fit_beside_its_bytes_is_refused_not_aborted() {
    let s = Scratch::new("big_checkpoint");
    // 64-7700-7700-10: 59.9 million parameters, a 240 MB file. Under 400 MiB of address space
    // (wgtrain eval itself takes under 100 MB) the bytes fit and the decoded tensors beside them
    // do not: before, the decoding allocation aborted the process (SIGABRT).
    let spec = wgtrain::Spec::classifier(64, &[7700, 7700], 10).unwrap();
    let path = s.path("big.safetensors");
    wgtrain::Model::init(spec, 0).unwrap().save(&path).unwrap();
    let small = s.path("small.safetensors");
    let small_spec = wgtrain::Spec::classifier(64, &[16], 10).unwrap();
    wgtrain::Model::init(small_spec, 0)
        .unwrap()
        .save(&small)
        .unwrap();
    let limit = 400 << 20;
    let ok = s.limited(&["eval", "--model", small.to_str().unwrap()], limit, &[]);
    assert!(ok.status.success(), "{ok:?}");
    let out = s.limited(&["eval", "--model", path.to_str().unwrap()], limit, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("decoding the tensors of") && err.contains("may allocate only"),
        "{err}"
    );
}
