//! What a run watches after each epoch: its best epoch so far and its patience (`Watch`), and
//! whether its checkpoints save (`save_due`).

use crate::session::Checkpoints;
use crate::train::EpochReport;

/// A run's best epoch so far, by the validation loss (the test loss without a validation
/// set), and its patience.
pub(super) struct Watch {
    pub(super) best: f64,
    pub(super) best_epoch: Option<usize>,
    pub(super) patience: Option<usize>,
    /// The epoch the run started after, and the one it ends at.
    pub(super) start: usize,
    pub(super) last_epoch: usize,
}

impl Watch {
    /// A run of `epochs` epochs after the `start` done, stopping after `patience` epochs
    /// without improving (None: never).
    pub(super) fn new(patience: Option<usize>, start: usize, epochs: usize) -> Watch {
        Watch {
            best: f64::INFINITY,
            best_epoch: None,
            patience,
            start,
            last_epoch: start + epochs,
        }
    }

    /// Notes epoch `r`: whether it improved on the best, and whether the run stops after it
    /// (patience epochs without improving, before the last epoch, not interrupted).
    pub(super) fn observe(&mut self, r: &EpochReport) -> (bool, bool) {
        let criterion = r.valid_loss.or(r.test_loss);
        let improved = criterion.is_some_and(|l| l < self.best);
        if let Some(l) = criterion.filter(|_| improved) {
            self.best = l;
            self.best_epoch = Some(r.epoch);
        }
        let stop = self.patience.is_some_and(|p| {
            r.epoch < self.last_epoch
                && !r.interrupted
                && r.epoch - self.best_epoch.unwrap_or(self.start) >= p
        });
        (improved, stop)
    }
}

/// Whether `c` saves after epoch `r` (which `improved` on the best or not): its best epoch,
/// or every N epochs that ran whole.
pub(super) fn save_due(c: &Checkpoints, r: &EpochReport, improved: bool) -> bool {
    if c.keep_best {
        improved
    } else {
        c.every.is_some_and(|n| n > 0 && r.epoch.is_multiple_of(n)) && !r.interrupted
    }
}
