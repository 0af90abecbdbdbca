//! The backend-independent training loop and the records it hands out: per-epoch reports,
//! where a run stands, the stop token, what diverging means and what to change.
//!
//! The loop itself and the contract a training path fulfils (`Backend`, `Hyper`) are in
//! `driver`, crate-private: the session drives them, and the parity tests reach them through
//! `crate::testing`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{Error, Result};

pub(crate) mod driver;

pub(crate) use driver::{Backend, Course, EvalStats, Hyper, Role, run_planned_async};

/// How well outputs match value targets, over one target column or all of them.
#[derive(Clone, Debug, PartialEq)]
pub struct RegressionMetrics {
    /// Mean squared error, `Σ (a - y)² / n` (overall: the mean over targets, which is the mean
    /// over every output value).
    pub mse: f64,
    /// `sqrt(mse)` (overall: the root of the overall mse).
    pub rmse: f64,
    /// Mean absolute error, `Σ |a - y| / n` (overall: the mean over targets).
    pub mae: f64,
    /// Coefficient of determination, `1 - SS_res / SS_tot` with `SS_res = Σ (a - y)²` and
    /// `SS_tot = Σ (y - ȳ)²` over the set's rows; None when the target does not vary in the set
    /// (SS_tot = 0, where R² is undefined). Overall: the mean over the targets whose R² is
    /// defined (scikit-learn's `uniform_average`), None when none is.
    pub r2: Option<f64>,
}

/// A run's stop switch and step counter, shared by clones: whoever holds a clone (a signal
/// handler, a progress bar, another thread, the epoch callback) can ask the run to stop or read
/// how far it got.
///
/// - A stop during an epoch's steps lets the backend finish the step under way (GPU: the
///   submissions already queued); `fit` then reports that partial epoch (`interrupted`) and
///   returns.
/// - A stop between steps and the epoch's end (during its evaluation, or from the epoch
///   callback) ends the run at that epoch's end: no step of the next epoch is trained.
/// - A stopped token stays stopped until `reset`: `fit` on a session whose token is stopped
///   returns at once, training nothing, with `Fit::interrupted` set.
///
/// Each session has its own token, so stopping one session does not stop another.
#[derive(Clone, Debug, Default)]
pub struct StopToken {
    inner: std::sync::Arc<TokenState>,
}

#[derive(Debug, Default)]
struct TokenState {
    stop: AtomicBool,
    steps: AtomicUsize,
}

impl StopToken {
    /// A token that has not been stopped, with no steps counted.
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Asks the run to stop after the step under way (or at the end of the epoch whose
    /// evaluation or callback is under way). The token stays stopped until `reset`.
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
    }

    /// Whether `stop` was called on this token or a clone of it since the last `reset`.
    pub fn is_stopped(&self) -> bool {
        self.inner.stop.load(Ordering::SeqCst)
    }

    /// Withdraws the stop request, for this token and every clone, so the session's next `fit`
    /// trains again (from where the stopped one ended: `Trainer::progress`). The step count is
    /// kept.
    pub fn reset(&self) {
        self.inner.stop.store(false, Ordering::SeqCst);
    }

    /// Training steps run (CPU) or completed on the device (GPU) under this token: what a
    /// progress bar shows while an epoch runs.
    pub fn steps(&self) -> usize {
        self.inner.steps.load(Ordering::Relaxed)
    }

    /// Backends call this as steps complete.
    pub(crate) fn note_steps(&self, n: usize) {
        self.inner.steps.fetch_add(n, Ordering::Relaxed);
    }
}

/// Where a run stands: `epoch` epochs completed and `batch` batches of the next one done (an
/// interrupted epoch). A fresh run starts at zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Batches of the next epoch done.
    pub batch: usize,
}

impl Progress {
    /// Steps done at `batches_per_epoch` batches an epoch.
    pub fn steps(self, batches_per_epoch: usize) -> usize {
        self.epoch.saturating_mul(batches_per_epoch) + self.batch
    }

    /// Where a run that stood here stands after `steps` more steps, at `batches_per_epoch`
    /// batches an epoch.
    pub fn advanced(self, batches_per_epoch: usize, steps: usize) -> Progress {
        let per_epoch = batches_per_epoch.max(1);
        let done = self.steps(per_epoch).saturating_add(steps);
        Progress {
            epoch: done / per_epoch,
            batch: done % per_epoch,
        }
    }
}

/// What to change when training diverged (or its loss climbed far) at learning rate `lr`
/// with L2 coefficient `l2`. With lr·l2 over 1, the L2 term alone
/// (its gradient 2·l2·w) multiplies the weights by 1 − 2·lr·l2 < −1 at every plain SGD step,
/// which grows them without bound whatever the data: the l2 is named, with the largest that
/// is stable. Otherwise a lower learning rate, and a lower l2 when there is one.
pub fn divergence_advice(lr: f32, l2: f32) -> String {
    let (lr_f32, l2_f32) = (lr, l2);
    let (lr, l2) = (lr as f64, l2 as f64);
    if lr * l2 > 1.0 {
        return format!(
            "the weight decay is too strong for the learning rate: with the setting `l2` at {} and lr {}, each step multiplies the weights by 1 - 2·lr·l2 = {}, which grows them without bound; use an l2 below 1/lr = {}, or a lower learning rate",
            l2_f32,
            lr_f32,
            figure(1.0 - 2.0 * lr * l2),
            figure(1.0 / lr)
        );
    }
    let mut s = format!("try a lower learning rate (now {lr_f32:e})");
    if l2 > 0.0 {
        s += &format!(", or lower the setting `l2` (now {l2_f32})");
    }
    s
}

/// `v` in 4 significant digits.
fn figure(v: f64) -> String {
    format!("{}", format!("{v:.4e}").parse::<f64>().unwrap_or(v))
}

/// How far a cross-entropy target row's sum may be from 1: probabilities written with a few
/// decimals (0.333, 0.333, 0.334) and summed in f32.
const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// bce's targets are probabilities, and cross-entropy's value targets are rows of them (each
/// a distribution over the classes): a value target of `data` outside [0, 1] under `spec`'s
/// bce or cross-entropy loss, or a cross-entropy row not summing to 1, is an
/// `Error::InvalidData` naming its row (and column; `names`: the target columns' names, when
/// known), before any training or evaluation takes it for a divergence or a negative loss.
pub(crate) fn check_target_range(
    spec: &crate::model::Spec,
    data: &crate::data::Dataset,
    names: &[String],
) -> Result<()> {
    use crate::model::Loss;
    let crate::data::Targets::Values { values, width } = &data.targets else {
        return Ok(());
    };
    if *width == 0 || !matches!(spec.loss, Loss::Bce | Loss::CrossEntropy) {
        return Ok(());
    }
    if spec.loss == Loss::CrossEntropy {
        return check_distributions(data.name.as_str(), values, *width);
    }
    let Some(i) = values.iter().position(|v| !(0.0..=1.0).contains(v)) else {
        return Ok(());
    };
    let (row, column) = (i / width, i % width);
    let target = match names.get(column) {
        Some(n) if names.len() == *width => format!("target {n:?}"),
        _ => format!("target column {column} (0-based)"),
    };
    Err(Error::invalid_data(
        data.name.as_str(),
        Some(row),
        Some(column),
        format!(
            "{target} is {} on row {row} (0-based), but bce takes targets in [0, 1] (probabilities): scale the column into [0, 1], or use the setting `loss` mse for values of any size",
            values[i]
        ),
    ))
}

/// Each row of `values` (rows of `width`) of dataset `name` must be class probabilities:
/// values in [0, 1] that sum to 1; else an error naming the first row that is not.
fn check_distributions(name: &str, values: &[f32], width: usize) -> Result<()> {
    const ADVICE: &str = "cross-entropy takes each target row as class probabilities (values in [0, 1] summing to 1): give class labels, or use the setting `loss` mse (or bce) for other values";
    for (row, r) in values.chunks_exact(width).enumerate() {
        if let Some(column) = r.iter().position(|v| !(0.0..=1.0).contains(v)) {
            return Err(Error::invalid_data(
                name,
                Some(row),
                Some(column),
                format!(
                    "target column {column} (0-based) is {} on row {row} (0-based), but {ADVICE}",
                    r[column]
                ),
            ));
        }
        let sum: f64 = r.iter().map(|&v| f64::from(v)).sum();
        if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(Error::invalid_data(
                name,
                Some(row),
                None,
                format!("the targets of row {row} (0-based) sum to {sum}, but {ADVICE}"),
            ));
        }
    }
    Ok(())
}

/// A training loss this many times the run's first batch loss is worth a warning: the run is
/// climbing, not descending (a learning rate too high for the scale of the inputs or targets).
pub const LOSS_RISE_WARNING: f64 = 100.0;

/// One epoch's metrics. With a session that standardises its targets, the losses and metrics
/// are in the targets' original units (the training loss too for one target; see
/// `train_loss_standardized`).
#[derive(Clone, Debug)]
pub struct EpochReport {
    /// 1-based, counted over the whole run (resumed parts included).
    pub epoch: usize,
    /// The mean of the epoch's batch losses, each from its forward pass before its update
    /// (the data loss: no L2 term).
    pub train_loss: f64,
    /// `train_loss` is in standardised target units: a session that standardises several
    /// target columns, each by its own std, cannot map a batch's loss (one sum over the
    /// columns) back to the original units. False for one target (its loss is multiplied by
    /// std², exactly) and for runs that do not standardise their targets.
    pub train_loss_standardized: bool,
    /// Set on the first epoch of the run whose `train_loss` is over `LOSS_RISE_WARNING` times
    /// the loss of the run's first batch (both in the same units): that ratio. Later epochs
    /// leave it None, so the warning is given once.
    pub loss_rise: Option<f64>,
    /// Mean loss on the validation set after the epoch, when there is one.
    pub valid_loss: Option<f64>,
    /// Share of validation rows classified right (class targets only), in [0, 1].
    pub valid_accuracy: Option<f64>,
    /// MSE, RMSE, MAE and R² on the validation set (mse on value targets, in the targets'
    /// units; from a session only: `run_planned` leaves it None).
    pub valid_regression: Option<RegressionMetrics>,
    /// Mean loss on the test set: every epoch without a validation set, else after the last.
    pub test_loss: Option<f64>,
    /// Share of test rows classified right (class targets only), in [0, 1].
    pub test_accuracy: Option<f64>,
    /// As `valid_regression`, on the test set, whenever `test_loss` is given.
    pub test_regression: Option<RegressionMetrics>,
    /// Training time of the epoch: shuffle and steps, not evaluation.
    pub seconds: f64,
    /// Training rows per second of `seconds`.
    pub samples_per_sec: f64,
    /// Since training started, evaluation included.
    pub elapsed: f64,
    /// Batches trained in this epoch (fewer than a full epoch when it was interrupted).
    pub batches: usize,
    /// The stop token was stopped by the time this epoch's steps ended (Ctrl-C): the run ends
    /// with this report, of a partial epoch unless the stop came after its last step. A stop
    /// that comes later (from the callback given this report) also ends the run here, but
    /// this report, already handed out, does not say so: `Fit::interrupted` does.
    pub interrupted: bool,
    /// Where the run stands after this report: what a checkpoint saved now resumes from.
    pub progress: Progress,
}

impl EpochReport {
    /// One JSON object (the `--metrics` line): the fields above, with `valid_rmse`,
    /// `valid_r2`, `test_rmse`, `test_r2` from the regression metrics (null when there are none,
    /// and `*_r2` where R² is undefined).
    pub fn to_json(&self) -> String {
        let rmse = |m: &Option<RegressionMetrics>| m.as_ref().map(|m| m.rmse);
        let r2 = |m: &Option<RegressionMetrics>| m.as_ref().and_then(|m| m.r2);
        serde_json::json!({
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_loss_standardized": self.train_loss_standardized,
            "valid_loss": self.valid_loss,
            "valid_accuracy": self.valid_accuracy,
            "valid_rmse": rmse(&self.valid_regression),
            "valid_r2": r2(&self.valid_regression),
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "test_rmse": rmse(&self.test_regression),
            "test_r2": r2(&self.test_regression),
            "seconds": self.seconds,
            "samples_per_sec": self.samples_per_sec,
            "elapsed": self.elapsed,
        })
        .to_string()
    }
}

/// What an epoch's callback tells the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Train the next epoch.
    Continue,
    /// End the run after this epoch (early stopping).
    Stop,
}
