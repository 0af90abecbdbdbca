//! The constants the shaders and the Rust side share, read from the WGSL source text: activation
//! and loss codes, the 1-D workgroup size and the matmul tile. A shader compiles whatever value
//! it is given, so only a comparison like this catches a code that drifted on one side.

use wgtrain::model::{self, Activation, Loss};
use wgtrain::testing::gpu::kernels::{MATMUL_TILE, SLICE_ALIGN, WG_1D};

const ACTIVATION: &str = include_str!("../shaders/activation.wgsl");
const LOSS: &str = include_str!("../shaders/loss.wgsl");
const MATMUL: &str = include_str!("../shaders/matmul.wgsl");
const ONE_DIMENSIONAL: [(&str, &str); 5] = [
    ("gather.wgsl", include_str!("../shaders/gather.wgsl")),
    ("reduce.wgsl", include_str!("../shaders/reduce.wgsl")),
    ("loss.wgsl", LOSS),
    ("sgd.wgsl", include_str!("../shaders/sgd.wgsl")),
    ("optim.wgsl", include_str!("../shaders/optim.wgsl")),
];

/// Every module-scope `const NAME: u32 = Nu;` of `src` whose name starts with `prefix`, sorted.
fn u32_consts(src: &str, prefix: &str) -> Vec<(String, u32)> {
    let mut found: Vec<(String, u32)> = src
        .lines()
        .filter_map(|line| {
            let (name, value) = line.strip_prefix("const ")?.split_once(": u32 = ")?;
            let value = value.strip_suffix("u;")?;
            let value = value
                .parse()
                .unwrap_or_else(|e| panic!("{line}: not a u32 literal ({e})"));
            name.starts_with(prefix).then(|| (name.to_string(), value))
        })
        .collect();
    found.sort();
    found
}

fn sorted(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
    let mut v: Vec<_> = pairs.iter().map(|&(n, c)| (n.to_string(), c)).collect();
    v.sort();
    v
}

#[test]
fn activation_codes_in_wgsl_match_the_rust_constants() {
    let rust = [
        ("ACT_LINEAR", model::ACT_LINEAR),
        ("ACT_RELU", model::ACT_RELU),
        ("ACT_SIGMOID", model::ACT_SIGMOID),
        ("ACT_TANH", model::ACT_TANH),
        ("ACT_LEAKY_RELU", model::ACT_LEAKY_RELU),
    ];
    assert_eq!(
        u32_consts(ACTIVATION, "ACT_"),
        sorted(&rust),
        "activation.wgsl"
    );
    let codes: Vec<u32> = Activation::ALL.iter().map(|a| a.code()).collect();
    let want: Vec<u32> = rust.iter().map(|r| r.1).collect();
    assert_eq!(codes, want, "Activation::code() in Activation::ALL order");
}

#[test]
fn loss_codes_in_wgsl_match_the_rust_constants() {
    let rust = [
        ("LOSS_CROSS_ENTROPY", model::LOSS_CROSS_ENTROPY),
        ("LOSS_BCE", model::LOSS_BCE),
        ("LOSS_MSE", model::LOSS_MSE),
    ];
    assert_eq!(u32_consts(LOSS, "LOSS_"), sorted(&rust), "loss.wgsl");
    let codes: Vec<u32> = [Loss::CrossEntropy, Loss::Bce, Loss::Mse]
        .iter()
        .map(|l| l.code())
        .collect();
    let want: Vec<u32> = rust.iter().map(|r| r.1).collect();
    assert_eq!(codes, want, "Loss::code()");
}

#[test]
fn workgroup_size_and_matmul_tiles_in_wgsl_match_the_rust_constants() {
    for (file, src) in ONE_DIMENSIONAL {
        assert_eq!(
            u32_consts(src, "WG"),
            sorted(&[("WG", WG_1D)]),
            "{file}: WG against WG_1D"
        );
    }
    let tile = u32_consts(MATMUL, "TILE");
    assert!(
        tile.contains(&("TILE".to_string(), MATMUL_TILE)),
        "matmul.wgsl: TILE against MATMUL_TILE in {tile:?}"
    );
    assert!(
        tile.contains(&("TILE_K".to_string(), SLICE_ALIGN as u32)),
        "matmul.wgsl: TILE_K against SLICE_ALIGN (split-K slices are whole k steps) in {tile:?}"
    );
}
