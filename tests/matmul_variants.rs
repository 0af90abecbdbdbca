//! The matmul variant per adapter: the choice (software rule, `WGTRAIN_MATMUL`, tuning), its
//! on-disk cache (written atomically, a corrupt or unreadable one ignored), what `describe()`
//! says. Kernel-level parity of every variant is in kernels_matmul.rs, and both variants through a
//! whole trainer with a batch split into row chunks in big_batch.rs.

mod common;

use common::gpu;
use common::scratch::Scratch;
use wgtrain::gpu::MatmulVariant;
use wgtrain::gpu::context::is_hardware;
use wgtrain::gpu::tuning::{
    CACHE_FILE, MatmulShape, Setting, cache_key, choose_inner, read_cache, step_shapes,
};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::testing::gpu::GpuTrainer;
use wgtrain::testing::train::Backend;

/// A small network's step: 64 rows through 8-16-3.
fn shapes() -> Vec<MatmulShape> {
    step_shapes(&[8, 16, 3], 64)
}

#[test]
fn wgtrain_matmul_values_parse_and_others_are_refused() {
    assert_eq!(Setting::parse("").unwrap(), Setting::Auto);
    assert_eq!(Setting::parse("auto").unwrap(), Setting::Auto);
    assert_eq!(Setting::parse("rule").unwrap(), Setting::Rule);
    assert_eq!(Setting::parse("tune").unwrap(), Setting::Tune);
    assert_eq!(
        Setting::parse("64").unwrap(),
        Setting::Force(MatmulVariant::Tile64)
    );
    assert_eq!(
        Setting::parse("128").unwrap(),
        Setting::Force(MatmulVariant::Tile128)
    );
    let err = Setting::parse("96").unwrap_err().to_string();
    assert!(
        err.starts_with("matmul '96'") && err.contains("128"),
        "{err}"
    );
}

#[test]
fn step_shapes_list_forward_weight_and_input_gradients_per_layer() {
    use wgtrain::testing::gpu::Kernel::*;
    let got: Vec<_> = shapes().iter().map(|s| (s.kernel, s.m, s.k, s.n)).collect();
    assert_eq!(
        got,
        [
            (MatmulForward, 64, 8, 16),
            (MatmulBackwardWeight, 8, 64, 16),
            (MatmulForward, 64, 16, 3),
            (MatmulBackwardWeight, 16, 64, 3),
            (MatmulBackwardInput, 64, 3, 16),
        ]
    );
}

#[test]
fn software_adapter_runs_the_64_variant_untuned_and_writes_no_cache() {
    let test = "software_adapter_runs_the_64_variant_untuned_and_writes_no_cache";
    let Some(ctx) = gpu(test) else { return };
    if is_hardware(&ctx.info) {
        eprintln!(
            "SKIPPED {test}: {} is not a software adapter",
            ctx.info.name
        );
        return;
    }
    let s = Scratch::new(test);
    let dir = s.dir();
    let (kernels, choice) = choose_inner(&ctx, &shapes(), Setting::Auto, Some(dir)).unwrap();
    assert_eq!(choice.variant, MatmulVariant::Tile64);
    assert_eq!(kernels.matmul_variant(), MatmulVariant::Tile64);
    assert!(choice.describe().contains("software adapter"), "{choice:?}");
    assert!(!dir.join(CACHE_FILE).exists(), "a cache was written");
}

#[test]
fn forced_variant_is_compiled_active_and_named() {
    let test = "forced_variant_is_compiled_active_and_named";
    let Some(ctx) = gpu(test) else { return };
    for v in MatmulVariant::ALL {
        let (kernels, choice) = choose_inner(&ctx, &shapes(), Setting::Force(v), None).unwrap();
        assert_eq!(kernels.matmul_variant(), v);
        assert_eq!(kernels.matmul_variants(), [v]);
        let d = choice.describe();
        assert!(d.contains(&v.describe()) && d.contains("forced"), "{d}");
    }
}

#[test]
fn tuning_times_every_variant_then_reuses_the_cached_choice() {
    let test = "tuning_times_every_variant_then_reuses_the_cached_choice";
    let Some(ctx) = gpu(test) else { return };
    let s = Scratch::new(test);
    let dir = s.dir();
    let (kernels, first) = choose_inner(&ctx, &shapes(), Setting::Tune, Some(dir)).unwrap();
    assert_eq!(kernels.matmul_variant(), first.variant);
    assert_eq!(kernels.matmul_variants(), MatmulVariant::ALL);
    assert!(first.reason.starts_with("tuned: "), "{first:?}");
    for v in MatmulVariant::ALL {
        assert!(
            first.reason.contains(&format!("{} ", v.name())) && first.reason.contains(" ms"),
            "{first:?}"
        );
    }
    let (entries, note) = read_cache(&dir.join(CACHE_FILE));
    assert_eq!(note, None);
    assert_eq!(
        entries,
        [(cache_key(&ctx.info, &shapes()), first.variant)],
        "the cache holds the one choice under the adapter and shapes"
    );
    let (kernels, again) = choose_inner(&ctx, &shapes(), Setting::Tune, Some(dir)).unwrap();
    assert_eq!(again.variant, first.variant);
    assert_eq!(
        kernels.matmul_variants(),
        [first.variant],
        "a cache hit compiles one variant"
    );
    assert!(again.reason.contains("cached in"), "{again:?}");
    // Another network on the same adapter is tuned on its own and kept beside the first.
    let other = step_shapes(&[5, 7], 3);
    choose_inner(&ctx, &other, Setting::Tune, Some(dir)).unwrap();
    let (entries, _) = read_cache(&dir.join(CACHE_FILE));
    assert_eq!(entries.len(), 2, "{entries:?}");
    let leftovers: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
}

#[test]
fn corrupt_cache_is_ignored_with_a_note_and_rewritten() {
    let test = "corrupt_cache_is_ignored_with_a_note_and_rewritten";
    let Some(ctx) = gpu(test) else { return };
    let s = Scratch::new(test);
    let dir = s.dir();
    let file = dir.join(CACHE_FILE);
    for garbage in [&b"no tab here\n"[..], b"key\t96\n", b"\xff\xfe\x00binary"] {
        std::fs::write(&file, garbage).unwrap();
        let (entries, note) = read_cache(&file);
        assert!(entries.is_empty(), "{entries:?}");
        let note = note.expect("a note for a corrupt cache");
        assert!(
            note.contains("ignoring") && note.contains(CACHE_FILE),
            "{note}"
        );
        let (_, choice) = choose_inner(&ctx, &shapes(), Setting::Tune, Some(dir)).unwrap();
        assert!(choice.reason.starts_with("tuned: "), "{choice:?}");
        let (entries, note) = read_cache(&file);
        assert_eq!(
            (entries.len(), note),
            (1, None),
            "the cache was not rewritten"
        );
    }
}

#[test]
fn unreadable_cache_is_ignored_and_training_goes_on() {
    let test = "unreadable_cache_is_ignored_and_training_goes_on";
    let Some(ctx) = gpu(test) else { return };
    let s = Scratch::new(test);
    let dir = s.dir();
    // A directory where the file should be: neither readable nor replaceable.
    std::fs::create_dir_all(dir.join(CACHE_FILE).join("x")).unwrap();
    let (entries, note) = read_cache(&dir.join(CACHE_FILE));
    assert!(entries.is_empty() && note.is_some(), "{entries:?} {note:?}");
    let (kernels, choice) = choose_inner(&ctx, &shapes(), Setting::Tune, Some(dir)).unwrap();
    assert_eq!(kernels.matmul_variant(), choice.variant);
    assert!(!choice.reason.contains("cached"), "{choice:?}");
}

#[test]
fn trainer_describes_its_matmul_choice() {
    let test = "trainer_describes_its_matmul_choice";
    let Some(ctx) = gpu(test) else { return };
    let d = wgtrain::data::load("xor", None).unwrap().train;
    let spec = Spec::new(
        vec![2, 4, 1],
        vec![Activation::Tanh],
        Output::Sigmoid,
        Loss::Mse,
    )
    .unwrap();
    let t = GpuTrainer::with_matmul(
        ctx,
        &spec,
        &Params::init(&spec, 1),
        &d,
        None,
        4,
        Setting::Rule,
    )
    .unwrap();
    let want = format!("matmul {}", t.matmul_choice().variant.describe());
    let described = t.describe();
    assert!(
        described.starts_with("gpu: ") && described.contains(&want) && described.contains("rule"),
        "{described}"
    );
}
