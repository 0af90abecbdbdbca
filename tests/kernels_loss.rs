//! loss_forward_backward and loss_stats (loss.wgsl) against their f64 CPU twins for every loss,
//! narrow and wide rows, argmax ties, and bitwise reproducibility.

mod common;

use common::kernels::{UNTOUCHED, UNWRITTEN, bytes, launch, loss_inputs, setup};
use common::{EXACT, TRANSCENDENTAL, assert_close};
use wgtrain::cpu::reference::{self, widen};
use wgtrain::gpu::GpuContext;
use wgtrain::model::Loss;
use wgtrain::testing::fast::argmax;
use wgtrain::testing::gpu::kernels::{Kernel, Kernels, loss_groups};
use wgtrain::testing::gpu::uniforms::{LossParams, StepInfo};

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

/// Class-weighted rows (a one-hot row times its class's weight, as `Config::class_weights`
/// trains them): the kernel's `p·Σy - y` gives w·(p - y), narrow and wide, as the f64 twin.
#[test]
fn cross_entropy_loss_with_class_weighted_rows_matches_reference() {
    let Some(g) = setup("cross_entropy_loss_with_class_weighted_rows_matches_reference") else {
        return;
    };
    for (i, &(m, n, slot)) in LOSS_CASES.iter().enumerate() {
        let (out, mut y) = loss_inputs(Loss::CrossEntropy, false, m, n, 200 + i as u64);
        let weights: Vec<f32> = (0..n).map(|c| 0.25 + 0.5 * c as f32).collect();
        for row in y.chunks_exact_mut(n) {
            let c = argmax(row);
            row[c] = weights[c];
        }
        for wide in [false, true] {
            let name = format!("weighted cross-entropy wide={wide} m {m} n {n}");
            check_loss_on(
                &g,
                &name,
                Loss::CrossEntropy,
                false,
                (m, n),
                slot,
                wide,
                &out,
                &y,
            );
        }
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
