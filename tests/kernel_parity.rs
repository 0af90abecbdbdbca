//! Every GPU kernel against its f64 CPU twin on the same f32 inputs, one test per edge case.

mod common;

use bytemuck::{Pod, Zeroable};
use common::{EXACT, MATMUL, TRANSCENDENTAL, Tol, assert_close, gpu, uniform};
use wgtrain::cpu::fast::argmax;
use wgtrain::cpu::reference::{self, widen};
use wgtrain::gpu::GpuContext;
use wgtrain::gpu::buffer::run_once;
use wgtrain::gpu::kernels::{
    Kernel, Kernels, MatmulVariant, WG_1D, grid_1d, loss_groups, matmul_groups,
};
use wgtrain::gpu::uniforms::{GatherParams, LossParams, MatmulParams, SgdParams, StepInfo};
use wgtrain::model::{Activation, Loss};
use wgtrain::rng::Rng;

/// θ - lr·(g + 2λθ) in f32 with |θ|, |g| <= 1 and lr <= 0.1: four roundings of terms below 1.2,
/// each at most 2⁻²⁴ of them, so 3e-7 absolute (f64 reference on the same f32 inputs).
const UPDATE: Tol = Tol {
    rtol: 0.0,
    atol: 3e-7,
};

/// Written into every output before a launch: a kernel that skips an element leaves a NaN, which
/// `assert_close` rejects, and one that accumulates into its output turns the element into NaN.
const UNWRITTEN: f32 = f32::NAN;

/// A value the kernel must leave alone (outside the rows or stats slot it owns).
const UNTOUCHED: f32 = -12345.0;

/// Shapes (M, K, N) below one 64×64 output tile.
const SMALLER_THAN_TILE: [(usize, usize, usize); 2] = [(1, 1, 1), (7, 13, 5)];
/// Shapes whose M, N or K spill a few elements into a further tile.
const NOT_TILE_MULTIPLES: [(usize, usize, usize); 2] = [(33, 65, 17), (65, 17, 129)];
/// Shapes that fill whole tiles exactly.
const EXACT_TILES: [(usize, usize, usize); 2] = [(64, 64, 64), (128, 32, 64)];
/// One very long dimension, the others tiny; K up to 1024.
const LONG_THIN: [(usize, usize, usize); 4] =
    [(1000, 3, 2), (2, 1000, 3), (3, 2, 1000), (1, 1024, 1)];

/// The context and every kernel, the matmul ones in every variant (the 64 one active).
fn setup(test: &str) -> Option<(GpuContext, Kernels)> {
    let ctx = gpu(test)?;
    let kernels =
        Kernels::with_matmul(&ctx, &MatmulVariant::ALL).unwrap_or_else(|e| panic!("{test}: {e}"));
    Some((ctx, kernels))
}

/// Runs `check` once with each matmul variant active, whatever the adapter would choose.
fn for_each_variant(g: &mut (GpuContext, Kernels), check: impl Fn(&(GpuContext, Kernels))) {
    for v in MatmulVariant::ALL {
        g.1.set_matmul_variant(v).unwrap();
        check(g);
    }
}

/// A matmul's workgroups: the active variant's own grid, or the grid of 64-tiles that
/// `matmul_groups` gives for any variant.
type Grid = fn(&Kernels, usize, usize) -> (u32, u32, u32);
const OWN_GRID: Grid = |k, m, n| k.matmul_groups(m, n).unwrap();
const GRID_OF_64: Grid = |_, m, n| matmul_groups(m, n).unwrap();

/// `64` or `128`, for test names.
fn variant(gpu: &(GpuContext, Kernels)) -> &'static str {
    gpu.1.matmul_variant().name()
}

fn bytes<T: Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// `run_once`, panicking with the kernel's name on a GPU error.
fn launch(
    (ctx, kernels): &(GpuContext, Kernels),
    kernel: Kernel,
    inputs: &[&[u8]],
    outputs: &[&[f32]],
    params: &impl Pod,
    step: Option<StepInfo>,
    groups: (u32, u32, u32),
) -> Vec<Vec<f32>> {
    run_once(ctx, kernels, kernel, inputs, outputs, params, step, groups)
        .unwrap_or_else(|e| panic!("{kernel:?}: {e}"))
}

/// A seed per (shape, activation), so every case draws different numbers.
fn seed_of(shape: (usize, usize, usize), salt: u64) -> u64 {
    let (m, k, n) = shape;
    ((m as u64) << 40) ^ ((k as u64) << 20) ^ (n as u64) ^ (salt << 56)
}

/// Plausible outputs of `act`: act(z) for z uniform in [-2, 2], rounded to f32. Relu gives
/// exact zeros for about half of them, leaky-relu small negatives.
fn activation_outputs(act: Activation, seed: u64, len: usize) -> Vec<f32> {
    uniform(seed, len, -2.0, 2.0)
        .iter()
        .map(|&z| reference::activation_forward(act, z as f64) as f32)
        .collect()
}

/// c (M, N) = act(x·w + b): x (M, K) in [-1, 1], w (K, N) scaled like Glorot so z is O(1).
fn check_matmul_forward(gpu: &(GpuContext, Kernels), shapes: &[(usize, usize, usize)], grid: Grid) {
    for &(m, k, n) in shapes {
        for act in Activation::ALL {
            let seed = seed_of((m, k, n), act.code() as u64);
            let x = uniform(seed, m * k, -1.0, 1.0);
            let s = (3.0 / k as f64).sqrt();
            let w = uniform(seed + 1, k * n, -s, s);
            let b = uniform(seed + 2, n, -0.5, 0.5);
            let got = launch(
                gpu,
                Kernel::MatmulForward,
                &[bytes(&x), bytes(&w), bytes(&b)],
                &[&vec![UNWRITTEN; m * n]],
                &MatmulParams::new(m, n, k, act.code()),
                None,
                grid(&gpu.1, m, n),
            );
            let mut want = vec![0.0; m * n];
            reference::matmul_forward(&mut want, &widen(&x), &widen(&w), &widen(&b), m, k, n, act);
            assert_close(
                &format!(
                    "matmul_forward variant {} {act} {m}x{k}x{n} seed {seed:#x}",
                    variant(gpu)
                ),
                &got[0],
                &want,
                MATMUL,
            );
        }
    }
}

/// c (M, N) = aᵀ·b and db (N) = Σ_k b[k, :], with a stored (K, M) (a batch of K input rows) and
/// b (K, N) (their dz, scaled by 1/K as a mean-loss gradient is). Overwriting: c and db start as
/// NaN. Accumulating (a later row chunk): they start as earlier chunks' sums, which must be kept.
fn check_matmul_backward_weight(
    gpu: &(GpuContext, Kernels),
    shapes: &[(usize, usize, usize)],
    accumulate: bool,
    grid: Grid,
) {
    for &(m, k, n) in shapes {
        let seed = seed_of((m, k, n), 7 + accumulate as u64);
        let x = uniform(seed, k * m, -1.0, 1.0);
        let dz = uniform(seed + 1, k * n, -1.0 / k as f64, 1.0 / k as f64);
        let (c0, db0) = if accumulate {
            (
                uniform(seed + 2, m * n, -1.0, 1.0),
                uniform(seed + 3, n, -1.0, 1.0),
            )
        } else {
            (vec![UNWRITTEN; m * n], vec![UNWRITTEN; n])
        };
        let got = launch(
            gpu,
            Kernel::MatmulBackwardWeight,
            &[bytes(&x), bytes(&dz)],
            &[&c0, &db0],
            &MatmulParams {
                accumulate: accumulate as u32,
                ..MatmulParams::new(m, n, k, 0)
            },
            None,
            grid(&gpu.1, m, n),
        );
        let mut want = vec![0.0; m * n];
        reference::matmul_backward_weight(&mut want, &widen(&x), &widen(&dz), k, m, n);
        let mut want_db = vec![0.0; n];
        reference::bias_backward(&mut want_db, &widen(&dz), k, n);
        if accumulate {
            want.iter_mut().zip(&c0).for_each(|(w, &c)| *w += c as f64);
            want_db
                .iter_mut()
                .zip(&db0)
                .for_each(|(w, &b)| *w += b as f64);
        }
        let name = format!(
            "matmul_backward_weight variant {} accumulate={accumulate} {m}x{k}x{n} seed {seed:#x}",
            variant(gpu)
        );
        assert_close(&format!("{name}: dw"), &got[0], &want, MATMUL);
        assert_close(&format!("{name}: db"), &got[1], &want_db, MATMUL);
    }
}

/// c (M, N) = (a·bᵀ) ∘ act'(aux): a (M, K) the next layer's dz, b stored (N, K) its weights,
/// aux (M, N) this layer's activation outputs.
fn check_matmul_backward_input(
    gpu: &(GpuContext, Kernels),
    shapes: &[(usize, usize, usize)],
    grid: Grid,
) {
    for &(m, k, n) in shapes {
        for act in Activation::ALL {
            let seed = seed_of((m, k, n), 8 + act.code() as u64);
            let dz = uniform(seed, m * k, -1.0, 1.0);
            let s = (3.0 / k as f64).sqrt();
            let w = uniform(seed + 1, n * k, -s, s);
            let a = activation_outputs(act, seed + 2, m * n);
            let got = launch(
                gpu,
                Kernel::MatmulBackwardInput,
                &[bytes(&dz), bytes(&w), bytes(&a)],
                &[&vec![UNWRITTEN; m * n]],
                &MatmulParams::new(m, n, k, act.code()),
                None,
                grid(&gpu.1, m, n),
            );
            // The reference names the layer's shapes: dz (m, n_ref), w (k_ref, n_ref), a (m, k_ref).
            let mut want = vec![0.0; m * n];
            reference::matmul_backward_input(
                &mut want,
                &widen(&dz),
                &widen(&w),
                &widen(&a),
                m,
                n,
                k,
                act,
            );
            assert_close(
                &format!(
                    "matmul_backward_input variant {} {act} {m}x{k}x{n} seed {seed:#x}",
                    variant(gpu)
                ),
                &got[0],
                &want,
                MATMUL,
            );
        }
    }
}

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

/// One gather case: `n_all` rows of x_all (n_all, dim) and y_all (n_all, ydim), `rows` of them
/// from `row_offset` on (through `perm` unless `identity`), into buffers two rows longer than
/// the batch whose last two rows must stay untouched.
struct Gather {
    n_all: usize,
    dim: usize,
    ydim: usize,
    rows: usize,
    row_offset: usize,
    identity: bool,
    groups: Option<(u32, u32, u32)>,
    seed: u64,
}

fn check_gather(gpu: &(GpuContext, Kernels), c: Gather) {
    let name = format!(
        "gather_rows identity={} n_all {} dim {} ydim {} rows {} row_offset {} seed {}",
        c.identity, c.n_all, c.dim, c.ydim, c.rows, c.row_offset, c.seed
    );
    let x_all = uniform(c.seed, c.n_all * c.dim, -1.0, 1.0);
    let y_all = uniform(c.seed + 1, c.n_all * c.ydim, -1.0, 1.0);
    let mut perm: Vec<u32> = (0..c.n_all as u32).collect();
    Rng::new(c.seed + 2).shuffle(&mut perm);
    let groups = c
        .groups
        .unwrap_or_else(|| grid_1d(c.rows * c.dim.max(c.ydim), WG_1D));
    let got = launch(
        gpu,
        Kernel::GatherRows,
        &[bytes(&perm), bytes(&x_all), bytes(&y_all), bytes(&[0f32])],
        &[
            &vec![UNTOUCHED; (c.rows + 2) * c.dim],
            &vec![UNTOUCHED; (c.rows + 2) * c.ydim],
        ],
        &GatherParams {
            dim: c.dim as u32,
            ydim: c.ydim as u32,
            identity: c.identity as u32,
            rows: c.rows as u32,
            ..Zeroable::zeroed()
        },
        Some(StepInfo {
            row_offset: c.row_offset as u32,
            slot: 0,
            lr: 0.0,
            ..Default::default()
        }),
        groups,
    );
    let mut want_x = vec![UNTOUCHED; (c.rows + 2) * c.dim];
    let mut want_y = vec![UNTOUCHED; (c.rows + 2) * c.ydim];
    for r in 0..c.rows {
        let src = if c.identity {
            c.row_offset + r
        } else {
            perm[c.row_offset + r] as usize
        };
        want_x[r * c.dim..(r + 1) * c.dim].copy_from_slice(&x_all[src * c.dim..(src + 1) * c.dim]);
        want_y[r * c.ydim..(r + 1) * c.ydim]
            .copy_from_slice(&y_all[src * c.ydim..(src + 1) * c.ydim]);
    }
    assert_close(&format!("{name}: x"), &got[0], &want_x, EXACT);
    assert_close(&format!("{name}: y"), &got[1], &want_y, EXACT);
}

#[test]
fn gather_rows_through_permutation_with_row_offset_is_exact() {
    let Some(g) = setup("gather_rows_through_permutation_with_row_offset_is_exact") else {
        return;
    };
    for (rows, row_offset) in [(1, 0), (13, 20), (37, 263)] {
        check_gather(
            &g,
            Gather {
                n_all: 300,
                dim: 7,
                ydim: 3,
                rows,
                row_offset,
                identity: false,
                groups: None,
                seed: 11 + rows as u64,
            },
        );
    }
}

#[test]
fn gather_rows_identity_with_row_offset_is_exact() {
    let Some(g) = setup("gather_rows_identity_with_row_offset_is_exact") else {
        return;
    };
    for (rows, row_offset) in [(1, 0), (13, 20), (37, 263)] {
        check_gather(
            &g,
            Gather {
                n_all: 300,
                dim: 7,
                ydim: 3,
                rows,
                row_offset,
                identity: true,
                groups: None,
                seed: 21 + rows as u64,
            },
        );
    }
}

#[test]
fn gather_rows_targets_wider_than_inputs_are_all_copied() {
    let Some(g) = setup("gather_rows_targets_wider_than_inputs_are_all_copied") else {
        return;
    };
    for identity in [false, true] {
        check_gather(
            &g,
            Gather {
                n_all: 500,
                dim: 1,
                ydim: 10,
                rows: 300,
                row_offset: 150,
                identity,
                groups: None,
                seed: 31,
            },
        );
    }
}

/// Bytes (n_all, dim) packed four per u32, rows straddling words since dim is odd: each is
/// widened and scaled by one f32 multiply, as the CPU does it.
#[test]
fn gather_rows_packed_bytes_are_widened_and_scaled_exactly() {
    let Some(g) = setup("gather_rows_packed_bytes_are_widened_and_scaled_exactly") else {
        return;
    };
    let (n_all, dim, ydim, scale) = (301, 7, 3, 1.0f32 / 255.0);
    for (rows, row_offset, identity) in [(1, 0, false), (37, 263, false), (300, 1, true)] {
        let seed = 51 + rows as u64;
        let name = format!(
            "gather_rows packed identity={identity} n_all {n_all} dim {dim} rows {rows} row_offset {row_offset} seed {seed}"
        );
        let mut rng = Rng::new(seed);
        let mut x_all: Vec<u8> = (0..n_all * dim).map(|_| rng.below(256) as u8).collect();
        x_all[..4].copy_from_slice(&[0, 255, 1, 254]);
        let y_all = uniform(seed + 1, n_all * ydim, -1.0, 1.0);
        let mut perm: Vec<u32> = (0..n_all as u32).collect();
        Rng::new(seed + 2).shuffle(&mut perm);
        let got = launch(
            &g,
            Kernel::GatherRows,
            &[bytes(&perm), &x_all, bytes(&y_all), bytes(&[0f32])],
            &[
                &vec![UNTOUCHED; (rows + 2) * dim],
                &vec![UNTOUCHED; (rows + 2) * ydim],
            ],
            &GatherParams {
                dim: dim as u32,
                ydim: ydim as u32,
                identity: identity as u32,
                packed: 1,
                scale,
                rows: rows as u32,
                ..Zeroable::zeroed()
            },
            Some(StepInfo {
                row_offset: row_offset as u32,
                slot: 0,
                lr: 0.0,
                ..Default::default()
            }),
            grid_1d(rows * dim.max(ydim), WG_1D),
        );
        let mut want_x = vec![UNTOUCHED; (rows + 2) * dim];
        let mut want_y = vec![UNTOUCHED; (rows + 2) * ydim];
        for r in 0..rows {
            let src = if identity {
                row_offset + r
            } else {
                perm[row_offset + r] as usize
            };
            for c in 0..dim {
                want_x[r * dim + c] = x_all[src * dim + c] as f32 * scale;
            }
            want_y[r * ydim..(r + 1) * ydim].copy_from_slice(&y_all[src * ydim..(src + 1) * ydim]);
        }
        assert_close(&format!("{name}: x"), &got[0], &want_x, EXACT);
        assert_close(&format!("{name}: y"), &got[1], &want_y, EXACT);
    }
}

/// Bytes standardised per feature (`packed` 2): each widened, times its feature's scale, plus
/// its offset, as `Inputs::U8Affine::copy_row` does on the CPU. Compared within 1 ulp-ish
/// (rtol 1e-6) rather than exactly: a shader compiler may fuse the multiply and the add.
#[test]
fn gather_rows_standardised_bytes_get_their_features_scale_and_offset() {
    let Some(g) = setup("gather_rows_standardised_bytes_get_their_features_scale_and_offset")
    else {
        return;
    };
    let (n_all, dim, ydim) = (301, 7, 3);
    let mut rng = Rng::new(61);
    let x_all: Vec<u8> = (0..n_all * dim).map(|_| rng.below(256) as u8).collect();
    let y_all = uniform(62, n_all * ydim, -1.0, 1.0);
    let scale = uniform(63, dim, 0.001, 0.1);
    let offset = uniform(64, dim, -3.0, 3.0);
    let inputs = wgtrain::data::Inputs::U8Affine {
        data: x_all.clone(),
        scale: scale.clone(),
        offset: offset.clone(),
    };
    let mut perm: Vec<u32> = (0..n_all as u32).collect();
    Rng::new(65).shuffle(&mut perm);
    for (rows, row_offset, identity) in [(1, 0, false), (37, 263, false), (300, 1, true)] {
        let name =
            format!("gather_rows affine identity={identity} rows {rows} row_offset {row_offset}");
        let got = launch(
            &g,
            Kernel::GatherRows,
            &[
                bytes(&perm),
                &x_all,
                bytes(&y_all),
                bytes(&[scale.clone(), offset.clone()].concat()),
            ],
            &[
                &vec![UNTOUCHED; (rows + 2) * dim],
                &vec![UNTOUCHED; (rows + 2) * ydim],
            ],
            &GatherParams {
                dim: dim as u32,
                ydim: ydim as u32,
                identity: identity as u32,
                packed: 2,
                rows: rows as u32,
                ..Zeroable::zeroed()
            },
            Some(StepInfo {
                row_offset: row_offset as u32,
                slot: 0,
                lr: 0.0,
                ..Default::default()
            }),
            grid_1d(rows * dim.max(ydim), WG_1D),
        );
        let mut want_x = vec![UNTOUCHED; (rows + 2) * dim];
        for r in 0..rows {
            let src = if identity {
                row_offset + r
            } else {
                perm[row_offset + r] as usize
            };
            inputs.copy_row(src, &mut want_x[r * dim..(r + 1) * dim]);
        }
        assert_close(
            &format!("{name}: x"),
            &got[0],
            &want_x,
            Tol {
                rtol: 1e-6,
                atol: 1e-6,
            },
        );
    }
}

#[test]
fn gather_rows_grid_stride_loop_covers_elements_beyond_the_dispatch() {
    let Some(g) = setup("gather_rows_grid_stride_loop_covers_elements_beyond_the_dispatch") else {
        return;
    };
    for identity in [false, true] {
        check_gather(
            &g,
            Gather {
                n_all: 700,
                dim: 17,
                ydim: 5,
                rows: 300,
                row_offset: 333,
                identity,
                groups: Some((1, 1, 1)),
                seed: 41,
            },
        );
    }
}

/// Outputs and dense targets for a loss: logits for cross-entropy (one-hot y) and bce (y in
/// [0, 1], a few exactly 0 or 1), outputs for mse (sigmoid outputs in (0, 1) when asked).
fn loss_inputs(
    loss: Loss,
    sigmoid_out: bool,
    m: usize,
    n: usize,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    match loss {
        Loss::CrossEntropy => {
            let out = uniform(seed + 1, m * n, -4.0, 4.0);
            let mut y = vec![0.0; m * n];
            for i in 0..m {
                y[i * n + rng.below(n)] = 1.0;
            }
            (out, y)
        }
        Loss::Bce => {
            let out = uniform(seed + 1, m * n, -6.0, 6.0);
            let mut y = uniform(seed + 2, m * n, 0.0, 1.0);
            for (i, t) in y.iter_mut().enumerate() {
                match i % 7 {
                    0 => *t = 0.0,
                    1 => *t = 1.0,
                    _ => {}
                }
            }
            (out, y)
        }
        Loss::Mse if sigmoid_out => {
            let out = activation_outputs(Activation::Sigmoid, seed + 1, m * n);
            (out, uniform(seed + 2, m * n, 0.0, 1.0))
        }
        Loss::Mse => (
            uniform(seed + 1, m * n, -2.0, 2.0),
            uniform(seed + 2, m * n, -2.0, 2.0),
        ),
    }
}

/// Runs the loss kernel on m rows of width n, one thread per row and then one workgroup per
/// row, and loss_stats into stats slot `slot`; checks dz, the loss sum and the correct count in
/// that slot, and that every other slot is untouched. Returns the stats of the last run.
fn check_loss(
    gpu: &(GpuContext, Kernels),
    loss: Loss,
    sigmoid_out: bool,
    m: usize,
    n: usize,
    slot: usize,
    seed: u64,
) -> Vec<f32> {
    let (out, y) = loss_inputs(loss, sigmoid_out, m, n, seed);
    let mut stats = vec![];
    for wide in [false, true] {
        let name = format!(
            "loss_forward_backward {loss} sigmoid_out={sigmoid_out} wide={wide} m {m} n {n} slot {slot} seed {seed}"
        );
        stats = check_loss_on(gpu, &name, loss, sigmoid_out, (m, n), slot, wide, &out, &y);
    }
    stats
}

/// One run of check_loss on given outputs and targets (m, n).
#[allow(clippy::too_many_arguments)]
fn check_loss_on(
    gpu: &(GpuContext, Kernels),
    name: &str,
    loss: Loss,
    sigmoid_out: bool,
    (m, n): (usize, usize),
    slot: usize,
    wide: bool,
    out: &[f32],
    y: &[f32],
) -> Vec<f32> {
    let params = LossParams {
        wide: wide as u32,
        ..LossParams::new(m, n, loss.code(), sigmoid_out)
    };
    let rows = launch(
        gpu,
        Kernel::LossForwardBackward,
        &[bytes(out), bytes(y)],
        &[&vec![UNWRITTEN; m * n], &vec![UNWRITTEN; 2 * m]],
        &params,
        None,
        loss_groups(m, wide),
    );
    let summed = launch(
        gpu,
        Kernel::LossStats,
        &[],
        &[&rows[1], &vec![UNTOUCHED; 2 * (slot + 2)]],
        &params,
        Some(StepInfo {
            row_offset: 0,
            slot: slot as u32,
            lr: 0.0,
            ..Default::default()
        }),
        (1, 1, 1),
    );
    let got = [rows[0].clone(), summed[1].clone()];
    let mut want_dz = vec![0.0; m * n];
    let want_sum = reference::loss_forward_backward(
        &mut want_dz,
        &widen(out),
        &widen(y),
        m,
        n,
        loss,
        sigmoid_out,
    );
    let correct = (0..m)
        .filter(|&i| argmax(&out[i * n..(i + 1) * n]) == argmax(&y[i * n..(i + 1) * n]))
        .count();
    assert_close(&format!("{name}: dz"), &got[0], &want_dz, TRANSCENDENTAL);
    let stats = &got[1];
    assert_close(
        &format!("{name}: loss sum"),
        &stats[2 * slot..2 * slot + 1],
        &[want_sum],
        TRANSCENDENTAL,
    );
    assert_close(
        &format!("{name}: correct count"),
        &stats[2 * slot + 1..2 * slot + 2],
        &[correct as f32],
        EXACT,
    );
    let mut others = stats.clone();
    others.drain(2 * slot..2 * slot + 2);
    assert_close(
        &format!("{name}: other stats slots"),
        &others,
        &vec![UNTOUCHED; others.len()],
        EXACT,
    );
    stats.clone()
}

/// (m, n, slot): one row, a few rows, exactly one workgroup, and rows beyond it so threads
/// stride over two and three rows before the tree reduction.
const LOSS_CASES: [(usize, usize, usize); 5] = [
    (1, 2, 0),
    (7, 10, 1),
    (256, 3, 2),
    (300, 10, 5),
    (700, 4, 3),
];

#[test]
fn cross_entropy_loss_with_one_hot_targets_matches_reference() {
    let Some(g) = setup("cross_entropy_loss_with_one_hot_targets_matches_reference") else {
        return;
    };
    for (i, &(m, n, slot)) in LOSS_CASES.iter().enumerate() {
        check_loss(&g, Loss::CrossEntropy, false, m, n, slot, 100 + i as u64);
    }
}

#[test]
fn bce_loss_with_targets_in_unit_interval_matches_reference() {
    let Some(g) = setup("bce_loss_with_targets_in_unit_interval_matches_reference") else {
        return;
    };
    for (i, &(m, n, slot)) in LOSS_CASES.iter().enumerate() {
        check_loss(&g, Loss::Bce, false, m, n, slot, 200 + i as u64);
        check_loss(&g, Loss::Bce, false, m, 1, slot, 250 + i as u64);
    }
}

#[test]
fn mse_loss_with_linear_output_matches_reference() {
    let Some(g) = setup("mse_loss_with_linear_output_matches_reference") else {
        return;
    };
    for (i, &(m, n, slot)) in LOSS_CASES.iter().enumerate() {
        check_loss(&g, Loss::Mse, false, m, n, slot, 300 + i as u64);
        check_loss(&g, Loss::Mse, false, m, 1, slot, 350 + i as u64);
    }
}

#[test]
fn mse_loss_with_sigmoid_output_matches_reference() {
    let Some(g) = setup("mse_loss_with_sigmoid_output_matches_reference") else {
        return;
    };
    for (i, &(m, n, slot)) in LOSS_CASES.iter().enumerate() {
        check_loss(&g, Loss::Mse, true, m, n, slot, 400 + i as u64);
    }
}

/// Rows of thousands of outputs (many classes), far wider than the 256-thread workgroup:
/// (m, n, slot).
const WIDE_LOSS_CASES: [(usize, usize, usize); 3] = [(3, 5000, 0), (70, 4999, 1), (1, 257, 2)];

#[test]
fn loss_rows_much_wider_than_the_workgroup_match_reference() {
    let Some(g) = setup("loss_rows_much_wider_than_the_workgroup_match_reference") else {
        return;
    };
    for (i, &(m, n, slot)) in WIDE_LOSS_CASES.iter().enumerate() {
        check_loss(&g, Loss::CrossEntropy, false, m, n, slot, 600 + i as u64);
        check_loss(&g, Loss::Bce, false, m, n, slot, 610 + i as u64);
        check_loss(&g, Loss::Mse, true, m, n, slot, 620 + i as u64);
    }
}

/// Equal maxima in a row: the first counts (as the CPU's argmax), in both modes, whichever
/// threads of a wide row hold them.
#[test]
fn loss_argmax_ties_go_to_the_first_maximum_in_both_modes() {
    let Some(g) = setup("loss_argmax_ties_go_to_the_first_maximum_in_both_modes") else {
        return;
    };
    let (m, n) = (4, 300);
    let (mut out, _) = loss_inputs(Loss::CrossEntropy, false, m, n, 700);
    let mut y = vec![0.0; m * n];
    for r in 0..m {
        // 5 and 261 fall to one thread of a wide row, 200 to another.
        for j in [5, 200, 261] {
            out[r * n + j] = 10.0;
        }
        y[r * n + if r % 2 == 0 { 200 } else { 5 }] = 1.0;
    }
    for wide in [false, true] {
        let name = format!("loss_forward_backward ties wide={wide} m {m} n {n}");
        let stats = check_loss_on(
            &g,
            &name,
            Loss::CrossEntropy,
            false,
            (m, n),
            0,
            wide,
            &out,
            &y,
        );
        assert_eq!(
            stats[1], 2.0,
            "{name}: rows whose first maximum is the label"
        );
    }
}

#[test]
fn loss_stats_are_bitwise_reproducible() {
    let Some(g) = setup("loss_stats_are_bitwise_reproducible") else {
        return;
    };
    for loss in [Loss::CrossEntropy, Loss::Bce, Loss::Mse] {
        let a = check_loss(&g, loss, false, 700, 10, 1, 500);
        let b = check_loss(&g, loss, false, 700, 10, 1, 500);
        let (a, b): (Vec<u32>, Vec<u32>) = (
            a.iter().map(|v| v.to_bits()).collect(),
            b.iter().map(|v| v.to_bits()).collect(),
        );
        assert_eq!(
            a, b,
            "{loss}: two runs on the same inputs gave different stats bits"
        );
    }
}

/// θ (len) -= lr·(g + 2λθ) with λ on [0, decay_end) only; θ and g in [-1, 1].
fn check_sgd(
    gpu: &(GpuContext, Kernels),
    len: usize,
    decay_end: usize,
    groups: Option<(u32, u32, u32)>,
) {
    let (lr, l2) = (0.1f32, 0.05f32);
    let seed = seed_of((len, decay_end, 0), 10);
    let grad = uniform(seed, len, -1.0, 1.0);
    let param = uniform(seed + 1, len, -1.0, 1.0);
    let got = launch(
        gpu,
        Kernel::SgdUpdate,
        &[bytes(&grad)],
        &[&param],
        &SgdParams {
            len: len as u32,
            decay_end: decay_end as u32,
            l2,
            _pad: 0,
        },
        Some(StepInfo {
            row_offset: 0,
            slot: 0,
            lr,
            ..Default::default()
        }),
        groups.unwrap_or_else(|| grid_1d(len, WG_1D)),
    );
    let mut want = widen(&param);
    let g = widen(&grad);
    let (w, b) = want.split_at_mut(decay_end);
    reference::sgd_update(w, &g[..decay_end], lr as f64, l2 as f64);
    reference::sgd_update(b, &g[decay_end..], lr as f64, 0.0);
    assert_close(
        &format!(
            "sgd_update len {len} decay_end {decay_end} lr {lr} l2 {l2} groups {groups:?} seed {seed:#x}"
        ),
        &got[0],
        &want,
        UPDATE,
    );
}

#[test]
fn sgd_update_decays_only_elements_before_decay_end() {
    let Some(g) = setup("sgd_update_decays_only_elements_before_decay_end") else {
        return;
    };
    for (len, decay_end) in [
        (1, 0),
        (1, 1),
        (257, 192),
        (1000, 700),
        (1000, 0),
        (1000, 1000),
    ] {
        check_sgd(&g, len, decay_end, None);
    }
}

#[test]
fn sgd_update_grid_stride_loop_covers_elements_beyond_the_dispatch() {
    let Some(g) = setup("sgd_update_grid_stride_loop_covers_elements_beyond_the_dispatch") else {
        return;
    };
    check_sgd(&g, 1000, 700, Some((1, 1, 1)));
    check_sgd(&g, 5000, 4100, Some((2, 1, 1)));
}
