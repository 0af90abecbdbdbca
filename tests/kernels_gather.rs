//! gather_rows (gather.wgsl) against the CPU's row copies: through the permutation or in order,
//! f32, packed bytes and standardised bytes, exact.

mod common;

use bytemuck::Zeroable;
use common::kernels::{UNTOUCHED, bytes, launch, setup};
use common::{EXACT, Tol, assert_close, uniform};
use wgtrain::gpu::GpuContext;
use wgtrain::testing::Rng;
use wgtrain::testing::gpu::kernels::{Kernel, Kernels, WG_1D, grid_1d};
use wgtrain::testing::gpu::uniforms::{GatherParams, StepInfo};

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
