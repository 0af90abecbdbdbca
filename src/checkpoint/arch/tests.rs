//! Which tensors of a file are its layers, and the architecture they give.

use super::*;

fn entries<'a>(t: &'a [(&'a str, Vec<usize>)]) -> Vec<Entry<'a>> {
    t.iter()
        .map(|(name, shape)| Entry {
            name,
            dtype: Dtype::F32,
            shape: shape.clone(),
        })
        .collect()
}

#[test]
fn layer_names_split_into_prefix_index_and_kind() {
    assert_eq!(layer_name("0.weight"), Some(("", "0", true)));
    assert_eq!(layer_name("layers.12.bias"), Some(("layers.", "12", false)));
    assert_eq!(
        layer_name("net.layers.3.weight"),
        Some(("net.layers.", "3", true))
    );
    assert_eq!(layer_name("02.weight"), Some(("", "02", true)));
    assert_eq!(layer_name("fc1.weight"), None);
    assert_eq!(layer_name("weight"), None);
    assert_eq!(layer_name(".weight"), None);
    assert_eq!(layer_name("1.running_mean"), None);
}

#[test]
fn an_index_too_large_for_a_layer_number_is_not_a_layer() {
    let t = [
        ("0.weight", vec![2, 2]),
        ("0.bias", vec![2]),
        ("99999999999999999999999.weight", vec![2, 2]),
    ];
    let e = find(&entries(&t), None, true).err().unwrap();
    assert!(
        e.contains("not Linear layers: 99999999999999999999999.weight"),
        "{e}"
    );
}

#[test]
fn names_are_matched_as_written_and_two_spellings_of_one_layer_are_an_error() {
    // `02.*` alone: layer 2, its tensors named as the file names them.
    let t = [
        ("0.weight", vec![8, 4]),
        ("0.bias", vec![8]),
        ("02.weight", vec![3, 8]),
        ("02.bias", vec![3]),
    ];
    let found = find(&entries(&t), None, true).unwrap();
    let w: Vec<&str> = found.layers.iter().map(|l| l.weight.as_str()).collect();
    assert_eq!(w, ["0.weight", "02.weight"]);
    // `2.*` and `02.*` together: neither is dropped silently.
    let t = [
        ("0.weight", vec![8, 4]),
        ("0.bias", vec![8]),
        ("2.weight", vec![3, 8]),
        ("2.bias", vec![3]),
        ("02.weight", vec![5, 8]),
        ("02.bias", vec![5]),
    ];
    let e = find(&entries(&t), None, true).err().unwrap();
    assert!(e.contains("2.* and 02.* are both layer 2"), "{e}");
}

#[test]
fn sequential_names_with_gaps_read_in_index_order() {
    let t = [
        ("model.2.weight", vec![3, 8]),
        ("model.10.bias", vec![2]),
        ("model.0.bias", vec![8]),
        ("model.0.weight", vec![8, 4]),
        ("model.2.bias", vec![3]),
        ("model.10.weight", vec![2, 3]),
    ];
    let found = find(&entries(&t), None, true).unwrap();
    assert_eq!(found.sizes, [4, 8, 3, 2]);
    let w: Vec<&str> = found.layers.iter().map(|l| l.weight.as_str()).collect();
    assert_eq!(w, ["model.0.weight", "model.2.weight", "model.10.weight"]);
}

#[test]
fn every_missing_or_wrong_tensor_is_listed_at_once() {
    let t = [
        ("0.weight", vec![8, 4]),
        ("2.weight", vec![3, 7]),
        ("2.bias", vec![4]),
        ("4.bias", vec![3]),
        ("1.running_mean", vec![8]),
    ];
    let e = find(&entries(&t), None, true).err().unwrap();
    for needle in [
        "0.bias is missing",
        "2.weight [3, 7] takes 7 inputs, but 0.weight gives 8 outputs",
        "2.bias is [4], but 2.weight [3, 7] needs [3]",
        "4.weight is missing",
        "not Linear layers: 1.running_mean",
        "read as layers 0 (0.*), 1 (2.*), 2 (4.*)",
    ] {
        assert!(e.contains(needle), "{needle:?} not in: {e}");
    }
}

#[test]
fn two_prefixes_and_no_layers_are_errors_naming_what_was_found() {
    let t = [
        ("encoder.0.weight", vec![8, 4]),
        ("encoder.0.bias", vec![8]),
        ("decoder.0.weight", vec![4, 8]),
        ("decoder.0.bias", vec![4]),
    ];
    let e = find(&entries(&t), None, true).err().unwrap();
    assert!(e.contains("'decoder.' (0), 'encoder.' (0)"), "{e}");
    let t = [("fc1.weight", vec![8, 4]), ("fc1.bias", vec![8])];
    let e = find(&entries(&t), None, true).err().unwrap();
    assert!(
        e.contains("no layer tensors") && e.contains("found fc1.bias, fc1.weight"),
        "{e}"
    );
}

#[test]
fn metadata_layer_count_and_shapes_are_checked_naming_the_missing_keys() {
    let spec = Spec::classifier(4, &[8, 8], 3).unwrap();
    let t = [
        ("layers.0.weight", vec![8, 4]),
        ("layers.0.bias", vec![8]),
        ("layers.2.weight", vec![3, 8]),
        ("layers.2.bias", vec![3]),
    ];
    let e = find(&entries(&t), Some(&spec), false).err().unwrap();
    assert!(
        e.contains("give 3 layers, the file holds 2: missing layers.1.weight, layers.1.bias"),
        "{e}"
    );
    assert!(
        e.contains(
            "layers.2.weight is [3, 8], but the metadata's sizes 4,8,8,3 make layer 1 [8, 8]"
        ),
        "{e}"
    );
}

#[test]
fn other_dtypes_are_named() {
    let e = [
        Entry {
            name: "0.weight",
            dtype: Dtype::F64,
            shape: vec![8, 4],
        },
        Entry {
            name: "0.bias",
            dtype: Dtype::BF16,
            shape: vec![8],
        },
    ];
    let e = find(&e, None, true).err().unwrap();
    assert!(e.contains("0.weight is F64, not F32"), "{e}");
    assert!(e.contains("0.bias is BF16, not F32"), "{e}");
}

#[test]
fn the_callers_architecture_fills_what_shapes_cannot_give() {
    let arch = Arch {
        activations: Some(vec![Activation::Tanh]),
        loss: Some(Loss::CrossEntropy),
        ..Arch::default()
    };
    let spec = arch.spec(vec![4, 8, 5, 3]).unwrap();
    assert_eq!(spec.hidden, [Activation::Tanh, Activation::Tanh]);
    assert_eq!(spec.output, Output::Softmax);
    let none = Arch::default().spec(vec![4, 8, 3]).unwrap_err();
    assert_eq!(none.len(), 2, "{none:?}");
    assert!(
        none[0].contains("hidden activations are needed"),
        "{none:?}"
    );
    assert!(none[1].contains("output or the loss"), "{none:?}");
    let wrong = Arch {
        hidden: Some(vec![16]),
        activations: Some(vec![Activation::Relu; 2]),
        output: Some(Output::Sigmoid),
        loss: None,
    }
    .spec(vec![4, 8, 3])
    .unwrap_err();
    assert_eq!(wrong.len(), 3, "{wrong:?}");
    // No hidden layer: no activation needed.
    let linear = Arch {
        output: Some(Output::Linear),
        ..Arch::default()
    };
    assert_eq!(linear.spec(vec![4, 2]).unwrap().loss, Loss::Mse);
}

#[test]
fn differences_from_the_metadata_name_each_piece() {
    let spec = Spec::classifier(4, &[8], 3).unwrap();
    assert!(Arch::of(&spec).differences(&spec).is_empty());
    let one_for_all = Arch {
        activations: Some(vec![Activation::Relu]),
        ..Arch::default()
    };
    assert!(one_for_all.differences(&spec).is_empty());
    let d = Arch {
        hidden: Some(vec![16]),
        activations: Some(vec![Activation::Tanh]),
        output: Some(Output::Sigmoid),
        loss: Some(Loss::Bce),
    }
    .differences(&spec);
    assert_eq!(
        d,
        [
            "hidden 16 (the file: 8)",
            "activations tanh (the file: relu)",
            "output sigmoid (the file: softmax)",
            "loss bce (the file: cross-entropy)"
        ]
    );
}

#[test]
fn metadata_missing_keys_are_all_named_and_foreign_formats_read_as_plain() {
    let m = |kv: &[(&str, &str)]| -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(metadata_spec(&m(&[])), Ok(None));
    assert_eq!(metadata_spec(&m(&[("format", "pt")])), Ok(None));
    let e = metadata_spec(&m(&[("format", FORMAT), ("sizes", "4,3")])).unwrap_err();
    assert!(e.contains("no 'hidden', 'output', 'loss'"), "{e}");
    let e = metadata_spec(&m(&[("format", "wgtrain-9")])).unwrap_err();
    assert!(e.contains("another version"), "{e}");
    let spec = metadata_spec(&m(&[
        ("sizes", "4,8,3"),
        ("hidden", "relu"),
        ("output", "softmax"),
        ("loss", "cross-entropy"),
    ]))
    .unwrap();
    assert_eq!(spec, Some(Spec::classifier(4, &[8], 3).unwrap()));
}
