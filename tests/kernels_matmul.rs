//! The matmul kernels (matmul.wgsl: forward, backward weight with the bias gradient, backward
//! input) in every variant against their f64 CPU twins on the same f32 inputs, one test per
//! edge case of shape and grid.

mod common;

use common::kernels::{GRID_OF_64, OWN_GRID, UNTOUCHED, bytes, for_each_variant, launch, setup};
use common::matmul::{
    check_matmul_backward_input, check_matmul_backward_weight, check_matmul_forward,
};
use wgtrain::model::Activation;
use wgtrain::testing::gpu::kernels::{Kernel, Kernels, MatmulVariant};
use wgtrain::testing::gpu::uniforms::MatmulParams;

/// Shapes (M, K, N) below one 64×64 output tile.
const SMALLER_THAN_TILE: [(usize, usize, usize); 2] = [(1, 1, 1), (7, 13, 5)];
/// Shapes whose M, N or K spill a few elements into a further tile.
const NOT_TILE_MULTIPLES: [(usize, usize, usize); 2] = [(33, 65, 17), (65, 17, 129)];
/// Shapes that fill whole tiles exactly.
const EXACT_TILES: [(usize, usize, usize); 2] = [(64, 64, 64), (128, 32, 64)];
/// One very long dimension, the others tiny; K up to 1024.
const LONG_THIN: [(usize, usize, usize); 4] =
    [(1000, 3, 2), (2, 1000, 3), (3, 2, 1000), (1, 1024, 1)];

#[test]
fn matmul_forward_shapes_smaller_than_tile_match_reference() {
    let Some(mut g) = setup("matmul_forward_shapes_smaller_than_tile_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_forward(g, &SMALLER_THAN_TILE, OWN_GRID)
    });
}

#[test]
fn matmul_forward_shapes_not_multiple_of_tile_match_reference() {
    let Some(mut g) = setup("matmul_forward_shapes_not_multiple_of_tile_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_forward(g, &NOT_TILE_MULTIPLES, OWN_GRID)
    });
}

#[test]
fn matmul_forward_exact_tiles_match_reference() {
    let Some(mut g) = setup("matmul_forward_exact_tiles_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| check_matmul_forward(g, &EXACT_TILES, OWN_GRID));
}

#[test]
fn matmul_forward_long_thin_shapes_match_reference() {
    let Some(mut g) = setup("matmul_forward_long_thin_shapes_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| check_matmul_forward(g, &LONG_THIN, OWN_GRID));
}

#[test]
fn matmul_backward_weight_shapes_smaller_than_tile_match_reference() {
    let Some(mut g) = setup("matmul_backward_weight_shapes_smaller_than_tile_match_reference")
    else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &SMALLER_THAN_TILE, false, OWN_GRID)
    });
}

#[test]
fn matmul_backward_weight_shapes_not_multiple_of_tile_match_reference() {
    let Some(mut g) = setup("matmul_backward_weight_shapes_not_multiple_of_tile_match_reference")
    else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &NOT_TILE_MULTIPLES, false, OWN_GRID)
    });
}

#[test]
fn matmul_backward_weight_exact_tiles_match_reference() {
    let Some(mut g) = setup("matmul_backward_weight_exact_tiles_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &EXACT_TILES, false, OWN_GRID)
    });
}

#[test]
fn matmul_backward_weight_long_thin_shapes_match_reference() {
    let Some(mut g) = setup("matmul_backward_weight_long_thin_shapes_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &LONG_THIN, false, OWN_GRID)
    });
}

/// (M, K, N) for the bias gradient folded into matmul_backward_weight: one input feature (M = 1,
/// so one row of workgroups does it all), one batch row (K = 1), one output (N = 1), batches that
/// are not multiples of the 16-row k tile or of the 4 partial sums per column, and columns over
/// several workgroups.
const BIAS_SHAPES: [(usize, usize, usize); 7] = [
    (1, 300, 130),
    (130, 1, 70),
    (70, 300, 1),
    (3, 5, 2),
    (65, 17, 129),
    (2, 700, 200),
    (100, 1000, 3),
];

#[test]
fn matmul_backward_weight_bias_gradient_on_awkward_shapes_matches_reference() {
    let Some(mut g) =
        setup("matmul_backward_weight_bias_gradient_on_awkward_shapes_matches_reference")
    else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &BIAS_SHAPES, false, OWN_GRID)
    });
}

#[test]
fn matmul_backward_weight_accumulate_adds_to_earlier_chunks() {
    let Some(mut g) = setup("matmul_backward_weight_accumulate_adds_to_earlier_chunks") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &SMALLER_THAN_TILE, true, OWN_GRID)
    });
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &NOT_TILE_MULTIPLES, true, OWN_GRID)
    });
    for_each_variant(&mut g, |g| {
        check_matmul_backward_weight(g, &BIAS_SHAPES, true, OWN_GRID)
    });
}

#[test]
fn matmul_backward_input_shapes_smaller_than_tile_match_reference() {
    let Some(mut g) = setup("matmul_backward_input_shapes_smaller_than_tile_match_reference")
    else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_input(g, &SMALLER_THAN_TILE, OWN_GRID)
    });
}

#[test]
fn matmul_backward_input_shapes_not_multiple_of_tile_match_reference() {
    let Some(mut g) = setup("matmul_backward_input_shapes_not_multiple_of_tile_match_reference")
    else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_input(g, &NOT_TILE_MULTIPLES, OWN_GRID)
    });
}

#[test]
fn matmul_backward_input_exact_tiles_match_reference() {
    let Some(mut g) = setup("matmul_backward_input_exact_tiles_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_input(g, &EXACT_TILES, OWN_GRID)
    });
}

#[test]
fn matmul_backward_input_long_thin_shapes_match_reference() {
    let Some(mut g) = setup("matmul_backward_input_long_thin_shapes_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_backward_input(g, &LONG_THIN, OWN_GRID)
    });
}

/// Shapes spanning several 128-tiles, none a multiple of either tile, for the larger variant's
/// four 4×4 blocks per thread.
const SEVERAL_WIDE_TILES: [(usize, usize, usize); 2] = [(200, 37, 260), (129, 300, 131)];

#[test]
fn matmul_all_forms_over_several_wide_tiles_match_reference() {
    let Some(mut g) = setup("matmul_all_forms_over_several_wide_tiles_match_reference") else {
        return;
    };
    for_each_variant(&mut g, |g| {
        check_matmul_forward(g, &SEVERAL_WIDE_TILES, OWN_GRID);
        check_matmul_backward_weight(g, &SEVERAL_WIDE_TILES, false, OWN_GRID);
        check_matmul_backward_weight(g, &SEVERAL_WIDE_TILES, true, OWN_GRID);
        check_matmul_backward_input(g, &SEVERAL_WIDE_TILES, OWN_GRID);
    });
}

/// `matmul_groups` gives a grid of 64-tiles whatever the variant: the 128 variant's extra
/// workgroups must write nothing (c and db stay exact, NaN-prefilled outputs stay covered).
#[test]
fn matmul_all_forms_on_the_grid_of_64_tiles_match_reference_in_every_variant() {
    let Some(mut g) =
        setup("matmul_all_forms_on_the_grid_of_64_tiles_match_reference_in_every_variant")
    else {
        return;
    };
    for_each_variant(&mut g, |g| {
        for shapes in [&NOT_TILE_MULTIPLES[..], &SEVERAL_WIDE_TILES[..]] {
            check_matmul_forward(g, shapes, GRID_OF_64);
            check_matmul_backward_weight(g, shapes, false, GRID_OF_64);
            check_matmul_backward_weight(g, shapes, true, GRID_OF_64);
            check_matmul_backward_input(g, shapes, GRID_OF_64);
        }
    });
}

/// Buffers smaller than the shapes `params` gives: every matmul entry point, in every variant,
/// compiled with and without naga's runtime checks, writes nothing at all (its `fits_*` guard
/// against the bindings' arrayLength). This guard is what lets the matmul module run without
/// runtime checks (`GpuContext::shader_checks` off) whatever a caller binds; without it, the
/// in-range part of c would be written.
#[test]
fn matmul_bindings_smaller_than_params_write_nothing_in_every_variant_and_check_setting() {
    let test = "matmul_bindings_smaller_than_params_write_nothing";
    let (m, k, n) = (5usize, 7usize, 6usize);
    let f = |len: usize| vec![0.5f32; len];
    // (what is short, kernel, inputs' lengths, outputs' lengths)
    let cases: [(&str, Kernel, Vec<usize>, Vec<usize>); 10] = [
        (
            "nothing",
            Kernel::MatmulForward,
            vec![m * k, k * n, n],
            vec![m * n],
        ),
        (
            "nothing",
            Kernel::MatmulBackwardWeight,
            vec![k * m, k * n],
            vec![m * n, n],
        ),
        (
            "nothing",
            Kernel::MatmulBackwardInput,
            vec![m * k, n * k, m * n],
            vec![m * n],
        ),
        (
            "forward a",
            Kernel::MatmulForward,
            vec![m * k - 1, k * n, n],
            vec![m * n],
        ),
        (
            "forward b",
            Kernel::MatmulForward,
            vec![m * k, k * n - 1, n],
            vec![m * n],
        ),
        (
            "forward bias",
            Kernel::MatmulForward,
            vec![m * k, k * n, n - 1],
            vec![m * n],
        ),
        (
            "forward c",
            Kernel::MatmulForward,
            vec![m * k, k * n, n],
            vec![m * n - 1],
        ),
        // backward_weight binds no aux: a stored (K, M) and b (K, N), then c (M, N) and db (N).
        (
            "backward_weight db",
            Kernel::MatmulBackwardWeight,
            vec![k * m, k * n],
            vec![m * n, n - 1],
        ),
        (
            "backward_input b",
            Kernel::MatmulBackwardInput,
            vec![m * k, n * k - 1, m * n],
            vec![m * n],
        ),
        (
            "backward_input aux",
            Kernel::MatmulBackwardInput,
            vec![m * k, n * k, m * n - 1],
            vec![m * n],
        ),
    ];
    for shader_checks in [false, true] {
        let Some(mut ctx) = common::gpu(test) else {
            return;
        };
        ctx.shader_checks = shader_checks;
        let kernels = Kernels::with_matmul(&ctx, &MatmulVariant::ALL)
            .unwrap_or_else(|e| panic!("{test}: {e}"));
        let mut gpu = (ctx, kernels);
        for variant in MatmulVariant::ALL {
            gpu.1.set_matmul_variant(variant).unwrap();
            for (short, kernel, ins, outs) in &cases {
                let inputs: Vec<Vec<f32>> = ins.iter().map(|&len| f(len)).collect();
                let outputs: Vec<Vec<f32>> = outs.iter().map(|&len| vec![UNTOUCHED; len]).collect();
                let params = if *kernel == Kernel::MatmulBackwardWeight {
                    MatmulParams::new(m, n, k, 0)
                } else {
                    MatmulParams::new(m, n, k, Activation::Relu.code())
                };
                let got = launch(
                    &gpu,
                    *kernel,
                    &inputs.iter().map(|v| bytes(v)).collect::<Vec<_>>(),
                    &outputs.iter().map(|v| v.as_slice()).collect::<Vec<_>>(),
                    &params,
                    None,
                    gpu.1.matmul_groups(m, n).unwrap(),
                );
                for (o, (got, want)) in got.iter().zip(&outputs).enumerate() {
                    let written = got
                        .iter()
                        .zip(want)
                        .filter(|(g, w)| g.to_bits() != w.to_bits());
                    let written = written.count();
                    // The control (nothing short) must write every element: the harness works.
                    let expected = if *short == "nothing" { want.len() } else { 0 };
                    assert_eq!(
                        written,
                        expected,
                        "{test}: {short} short, variant {}, shader_checks {shader_checks}: output {o}: {got:?}",
                        variant.name()
                    );
                }
            }
        }
    }
}
