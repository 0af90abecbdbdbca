//! The metrics reader behind `wgtrain plot`: input = a metrics file's bytes. Whatever it
//! accepts must be drawable: epochs at least 1, every value finite and in the plotted ranges.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: wgtrain_fuzz::Capped = wgtrain_fuzz::Capped;

fuzz_target!(|data: &[u8]| {
    let Ok(metrics) = wgtrain::plot::parse_metrics(Path::new("fuzz.jsonl"), data) else {
        return;
    };
    let points = metrics.points;
    assert!(points.windows(2).all(|w| w[0].epoch < w[1].epoch));
    assert!(!points.is_empty());
    let max = wgtrain::plot::MAX_PLOTTED;
    for p in points {
        assert!(p.epoch.is_finite() && p.epoch >= 1.0);
        for v in [p.train_loss, p.valid_loss, p.test_loss].into_iter().flatten() {
            assert!(v.is_finite() && v.abs() <= max);
        }
        for a in [p.valid_accuracy, p.test_accuracy].into_iter().flatten() {
            assert!((0.0..=1.0).contains(&a));
        }
    }
});
