//! Split K (matmul.wgsl's slices over k, reduce.wgsl's sums and epilogues): the rule that picks
//! the slices, every form in every variant against the f64 reference for several slice counts,
//! the shaders' guards against short partials buffers, whole-network gradients with every
//! matmul split, and `WGTRAIN_SPLIT_K` through the binary. Software adapters never split by
//! default, so every GPU case here forces it.

mod common;

use common::cli::{check_metrics, number, with_adapter};
use common::kernels::{UNTOUCHED, bytes, launch, setup, variant};
use common::matmul::{
    How, check_matmul_backward_input, check_matmul_backward_weight, check_matmul_forward,
};
use common::scratch::Scratch;
use common::{NETWORK, Tol, assert_close, gpu, parameters, uniform};
use wgtrain::cpu::reference::{self, Net64, widen};
use wgtrain::data::{Dataset, Targets};
use wgtrain::gpu::tuning::{MatmulConfig, Setting, SplitK};
use wgtrain::model::{Activation, Loss, Output, Spec};
use wgtrain::testing::Rng;
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::gpu::kernels::{
    KSplit, Kernel, MatmulVariant, SLICE_ALIGN, SPLIT_TARGET, WG_1D, grid_1d,
};
use wgtrain::testing::gpu::uniforms::{MatmulParams, ReduceParams};

/// Shapes (M, K, N) with k long enough to split: below a tile, spilling into further tiles, one
/// output element over a long sum, long and thin both ways, k not a multiple of 16.
const SHAPES: [(usize, usize, usize); 6] = [
    (7, 100, 5),
    (33, 65, 17),
    (65, 200, 129),
    (1, 1024, 1),
    (130, 777, 3),
    (3, 48, 200),
];

/// The slice counts asked of `KSplit::slices` per shape (each shape's k gives at least 2): two,
/// three, seven, and one slice per 16-term step (what the rule never exceeds; the last slice may
/// then be short).
const SLICES: [usize; 4] = [2, 3, 7, usize::MAX];

#[test]
fn the_split_rule_covers_k_in_whole_steps_and_only_splits_small_grids() {
    let v = MatmulVariant::Tile64;
    // T1's first forward product: 64x128 over 784 terms is 2 workgroups of 64-tiles.
    // 17 slices of 48 terms (docs/GPU-KERNELS.md says so); its weight gradient 2 of 32.
    let t1 = KSplit::plan(v, 64, 128, 784, SPLIT_TARGET, usize::MAX);
    assert_eq!((t1.splits, t1.kslice), (17, 48), "{t1:?}");
    let t1w = KSplit::plan(v, 784, 128, 64, SPLIT_TARGET, usize::MAX);
    assert_eq!((t1w.splits, t1w.kslice), (2, 32), "{t1w:?}");
    // A grid that already has the target's workgroups is not split.
    let big = KSplit::plan(v, 64 * 16, 64 * 16, 4096, SPLIT_TARGET, usize::MAX);
    assert_eq!(big, KSplit::NONE);
    // Fewer than 32 terms a slice is never asked for; too few terms is never split.
    assert_eq!(
        KSplit::plan(v, 1, 1, 63, SPLIT_TARGET, usize::MAX),
        KSplit::NONE
    );
    assert_eq!(KSplit::slices(16, 4), KSplit::NONE);
    // What the partials buffers hold bounds the slices.
    assert_eq!(KSplit::plan(v, 1, 1, 4096, SPLIT_TARGET, 1), KSplit::NONE);
    assert!(KSplit::plan(v, 1, 1, 4096, SPLIT_TARGET, 3).splits <= 3);
    let mut rng = Rng::new(5);
    for _ in 0..2000 {
        let (m, n, k) = (1 + rng.below(300), 1 + rng.below(300), 1 + rng.below(5000));
        let target = 1 + rng.below(1000) as u32;
        let most = 1 + rng.below(100);
        for v in MatmulVariant::ALL {
            let s = KSplit::plan(v, m, n, k, target, most);
            if s == KSplit::NONE {
                continue;
            }
            let (splits, kslice) = (s.splits as usize, s.kslice as usize);
            let what = format!("{m}x{n} over {k}, target {target}, most {most}: {s:?}");
            assert!(splits >= 2 && splits <= most, "{what}");
            assert_eq!(kslice % SLICE_ALIGN, 0, "{what}");
            assert!(kslice >= 32 && kslice <= k, "{what}");
            // Every term in exactly one slice, none empty.
            assert!((splits - 1) * kslice < k && k <= splits * kslice, "{what}");
            let t = v.tile() as usize;
            assert!(m.div_ceil(t) * n.div_ceil(t) < target as usize, "{what}");
        }
    }
}

#[test]
fn split_k_values_parse_and_others_are_refused() {
    assert_eq!(SplitK::parse("").unwrap(), SplitK::Auto);
    assert_eq!(SplitK::parse("auto").unwrap(), SplitK::Auto);
    assert_eq!(SplitK::parse("off").unwrap(), SplitK::Off);
    assert_eq!(SplitK::parse("300").unwrap(), SplitK::Below(300));
    for bad in ["0", "65536", "-1", "yes", "1e3"] {
        let e = SplitK::parse(bad).unwrap_err().to_string();
        assert!(e.contains("split_k") && e.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn split_matmuls_and_their_reductions_match_the_reference_in_every_variant() {
    let Some(mut gpu) = setup("split_matmuls_match_the_reference") else {
        return;
    };
    for v in MatmulVariant::ALL {
        gpu.1.set_matmul_variant(v).unwrap();
        for slices in SLICES {
            let how = How::Split(slices);
            check_matmul_forward(&gpu, &SHAPES, how);
            check_matmul_backward_input(&gpu, &SHAPES, how);
            for accumulate in [false, true] {
                check_matmul_backward_weight(&gpu, &SHAPES, accumulate, how);
            }
        }
    }
}

/// A split whose partials buffer is one element short, or whose slices are not whole steps, run
/// past k or stop short of it, writes nothing (matmul.wgsl's fits_split); a reduction given
/// fewer partials than its slices writes nothing either (reduce.wgsl's fits_parts).
#[test]
fn split_kernels_write_nothing_when_the_partials_do_not_fit() {
    let Some(mut gpu) = setup("split_kernels_write_nothing") else {
        return;
    };
    let (m, k, n) = (9, 100, 7);
    let x = uniform(1, m * k, -1.0, 1.0);
    let w = uniform(2, k * n, -1.0, 1.0);
    let b = uniform(3, n, -1.0, 1.0);
    let good = KSplit::slices(k, 3);
    let bad_splits = [
        (good, good.splits as usize * m * n - 1),
        (
            KSplit {
                kslice: good.kslice + 1,
                ..good
            },
            good.splits as usize * m * n,
        ),
        (KSplit { kslice: 0, ..good }, good.splits as usize * m * n),
        // Slices that stop short of k: 2 of 16 terms over 100 would leave 68 out.
        (
            KSplit {
                splits: 2,
                kslice: 16,
            },
            2 * m * n,
        ),
        (
            KSplit {
                splits: good.splits + 2,
                ..good
            },
            (good.splits as usize + 2) * m * n,
        ),
    ];
    for v in MatmulVariant::ALL {
        gpu.1.set_matmul_variant(v).unwrap();
        let groups = gpu.1.matmul_groups(m, n).unwrap();
        for (split, len) in bad_splits {
            let got = launch(
                &gpu,
                Kernel::MatmulForward,
                &[bytes(&x), bytes(&w), bytes(&b)],
                &[&vec![UNTOUCHED; len]],
                &MatmulParams::new(m, n, k, 0).split(split),
                None,
                (groups.0, groups.1, split.splits),
            );
            assert!(
                got[0].iter().all(|&v| v == UNTOUCHED),
                "variant {} split {split:?} into {len} floats wrote",
                variant(&gpu)
            );
        }
    }
    let parts = uniform(4, 3 * m * n - 1, -1.0, 1.0);
    let got = launch(
        &gpu,
        Kernel::ReduceForward,
        &[bytes(&parts), bytes(&b)],
        &[&vec![UNTOUCHED; m * n]],
        &ReduceParams::of(&MatmulParams::new(m, n, k, 0).split(good)),
        None,
        grid_1d(m * n, WG_1D),
    );
    assert!(got[0].iter().all(|&v| v == UNTOUCHED), "reduce wrote");
}

/// Every matmul of these networks split (a target no grid reaches), in both variants: the
/// gradients of 1, 37 and 200 rows against the f64 reference.
#[test]
fn network_gradients_with_every_matmul_split_match_the_reference() {
    let test = "network_gradients_split";
    let nets = [
        (
            vec![70, 33, 5],
            vec![Activation::Tanh],
            Output::Softmax,
            Loss::CrossEntropy,
        ),
        (
            vec![130, 65, 40, 1],
            vec![Activation::Relu, Activation::Sigmoid],
            Output::Linear,
            Loss::Mse,
        ),
    ];
    for (i, (sizes, hidden, output, loss)) in nets.into_iter().enumerate() {
        let spec = Spec::new(sizes, hidden, output, loss).unwrap();
        let params = parameters(&spec, 90 + i as u64);
        let n = 200;
        let (dim, width) = (spec.inputs(), spec.outputs());
        let x = uniform(91 + i as u64, n * dim, -1.0, 1.0);
        let targets = if loss == Loss::CrossEntropy {
            let mut rng = Rng::new(92);
            Targets::Classes {
                labels: (0..n).map(|_| rng.below(width) as u32).collect(),
                n_classes: width,
            }
        } else {
            Targets::Values {
                values: uniform(93, n * width, -1.0, 1.0),
                width,
            }
        };
        let data = Dataset::new("split", x.clone(), n, dim, targets).unwrap();
        for v in MatmulVariant::ALL {
            let Some(ctx) = gpu(test) else { return };
            let config = MatmulConfig {
                setting: Setting::Force(v),
                split_k: SplitK::Below(65535),
                ..MatmulConfig::default()
            };
            let mut t = GpuTrainer::with_matmul(ctx, &spec, &params, &data, None, n, config)
                .unwrap_or_else(|e| panic!("{test}: {e}"));
            let described = t.matmul_choice().describe();
            assert!(described.contains("k split below 65535"), "{described}");
            for count in [1, 37, 200] {
                let rows: Vec<u32> = (0..count as u32).map(|r| (r * 7) % n as u32).collect();
                let name = format!("{test} net {i} variant {} rows {count}", v.name());
                let (loss, grads) = t.gradients(&rows).unwrap_or_else(|e| panic!("{name}: {e}"));
                let pick = |all: &[f32], w: usize| -> Vec<f64> {
                    rows.iter()
                        .flat_map(|&r| widen(&all[r as usize * w..(r as usize + 1) * w]))
                        .collect()
                };
                let (xs, ys) = (pick(&x, dim), pick(&data.dense_targets(), width));
                let net = Net64::from_params(&params);
                let (want_loss, want) =
                    reference::gradients(&spec, &net, &xs, &ys, rows.len(), 0.0);
                assert_close(&format!("{name}: loss"), &[loss], &[want_loss], NETWORK);
                for (l, layer) in grads.layers.iter().enumerate() {
                    assert_close(&format!("{name}: dW{l}"), &layer.w, &want.w[l], NETWORK);
                    assert_close(&format!("{name}: db{l}"), &layer.b, &want.b[l], NETWORK);
                }
            }
        }
    }
}

/// Two epochs of digits with every matmul split and without: the device line says so, and the
/// losses agree as two f32 summation orders do (tests/cli_gpu.rs's CPU-GPU bound). A bad value
/// is refused naming the variable.
#[test]
fn wgtrain_split_k_trains_digits_to_the_unsplit_losses() {
    let test = "wgtrain_split_k";
    let s = Scratch::new(test);
    let args = ["train", "--epochs", "2", "--seed", "3", "--device", "gpu"];
    let mut losses = vec![];
    for (value, file) in [("off", "off.jsonl"), ("65535", "split.jsonl")] {
        let m = s.arg(file);
        let run = s.run_with(&[&args[..], &["--metrics", &m]].concat(), |c| {
            c.env("WGTRAIN_SPLIT_K", value);
        });
        let Some(run) = with_adapter(test, run) else {
            return;
        };
        run.assert_success();
        let device = run
            .stderr
            .lines()
            .find(|l| l.starts_with("device: "))
            .unwrap();
        assert_eq!(
            device.contains("k split below 65535 workgroups"),
            value != "off",
            "{}",
            run.show()
        );
        assert!(!device.contains("shader runtime checks"), "{device}");
        losses.push(check_metrics(&s.path(file), 2, true));
    }
    const SPLIT_LOSS: Tol = Tol {
        rtol: 1e-4,
        atol: 0.0,
    };
    for (i, (a, b)) in losses[0].iter().zip(&losses[1]).enumerate() {
        for key in ["train_loss", "test_loss"] {
            assert_close(
                &format!("epoch {} {key}, split vs unsplit", i + 1),
                &[number(b, key)],
                &[number(a, key)],
                SPLIT_LOSS,
            );
        }
    }
    // The device line also says when every shader keeps naga's runtime checks.
    let one = ["train", "--epochs", "1", "--device", "gpu"];
    let run = s.run_with(&one, |c| {
        c.env("WGTRAIN_SHADER_CHECKS", "1");
    });
    run.assert_success();
    assert!(
        run.stderr.contains(", shader runtime checks on"),
        "{}",
        run.show()
    );
    let run = s.run_with(&args, |c| {
        c.env("WGTRAIN_SPLIT_K", "many");
    });
    run.assert_error_line(&["WGTRAIN_SPLIT_K=many", "auto, off or a number"]);
}
