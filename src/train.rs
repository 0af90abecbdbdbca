//! The backend-independent training loop: hyper-parameters, per-epoch shuffling, the
//! learning rate of every step, metrics, resuming where a run stopped.
//!
//! One file past 600 lines: the `Backend` trait (blocking and async forms), the loop that
//! drives it (`run_planned_async`, with `run_planned` its blocking wrapper) and the records it
//! passes (reports, progress, the stop token) are one contract; splitting them would only
//! scatter it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use web_time::Instant;

use crate::blocking::{Pending, block, yield_now};
use crate::error::{Error, Result};
use crate::model::Params;
use crate::optim::{OptimState, Schedule};
use crate::rng::Rng;

#[doc(hidden)]
/// Mini-batch settings: `lr` is the base rate the schedule scales, `l2` the λ of the 2λW
/// gradient term (weights only) under every optimiser.
#[derive(Clone, Debug)]
pub struct Hyper {
    pub lr: f32,
    pub l2: f32,
    pub batch: usize,
    pub epochs: usize,
    pub seed: u64,
}

impl Hyper {
    /// lr positive and finite, l2 non-negative and finite, batch and epochs at least one.
    pub fn validate(&self) -> Result<()> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::invalid(
                "lr",
                format!("must be a positive finite number, got {}", self.lr),
            ));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(Error::invalid(
                "l2",
                format!("must be zero or a positive finite number, got {}", self.l2),
            ));
        }
        if self.batch == 0 {
            return Err(Error::invalid("batch", "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "must be at least 1"));
        }
        Ok(())
    }
}

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

#[doc(hidden)]
/// Summed loss and correct predictions over a dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalStats {
    pub loss_sum: f64,
    pub correct: usize,
    pub n: usize,
}

#[doc(hidden)]
/// What a training path provides; the loop below drives it.
pub trait Backend {
    /// The path and device, for the user.
    fn describe(&self) -> String;
    /// Trains on the training rows in the order `perm`, in batches of `hp.batch` (the last one
    /// partial when it does not divide), batch i with learning rate `lrs[i]` (one per batch),
    /// with the optimiser set by `set_optimizer` (plain SGD until then). Returns each batch's
    /// mean data loss, computed by its forward pass before its update; fewer than `lrs.len()`
    /// (but at least one) when `stop` is stopped. Completed steps are counted on `stop`.
    fn train_steps(
        &mut self,
        perm: &[u32],
        hp: &Hyper,
        lrs: &[f32],
        stop: &StopToken,
    ) -> Result<Vec<f32>>;
    /// One epoch (or what `perm` holds) at the constant rate `hp.lr`, without a stop token.
    fn train_epoch(&mut self, perm: &[u32], hp: &Hyper) -> Result<Vec<f32>> {
        let lrs = vec![hp.lr; perm.len().div_ceil(hp.batch.max(1))];
        self.train_steps(perm, hp, &lrs, &StopToken::new())
    }
    /// Replaces the optimiser and its state (`OptimState::new` for a fresh one).
    fn set_optimizer(&mut self, state: &OptimState) -> Result<()>;
    /// The optimiser and its current state (for a checkpoint).
    fn optimizer_state(&mut self) -> Result<OptimState>;
    /// Loss and correct predictions on evaluation set `set` (in the order the sets were given
    /// to the backend's constructor).
    fn evaluate(&mut self, set: usize) -> Result<EvalStats>;
    /// The current parameters.
    fn params(&mut self) -> Result<Params>;
    /// The mean data loss and its gradients (no L2 term) on the training rows `rows` (at most
    /// one batch), without an update: what the benchmark checks against the reference.
    fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)>;
    /// Each layer's output from the forward pass of the last `gradients` call, 1 to L, each
    /// (rows, n_l) row-major in the rows' order: a^\[l\] = act(z^\[l\]), except that where the
    /// output activation is fused into the loss (softmax; sigmoid under bce) the last is
    /// z^\[L\], the logits. What `trace` shows beside the reference's forward pass.
    fn activations(&mut self) -> Result<Vec<Vec<f32>>> {
        Err(Error::usage("this path does not keep its activations"))
    }

    // The async forms, which the training loop awaits. A path that never waits (the CPU)
    // keeps these defaults, futures ready at once; the GPU path's await the device, and its
    // blocking methods above wrap them.

    /// `train_steps`, awaited.
    fn train_steps_async<'a>(
        &'a mut self,
        perm: &'a [u32],
        hp: &'a Hyper,
        lrs: &'a [f32],
        stop: &'a StopToken,
    ) -> Pending<'a, Vec<f32>> {
        Box::pin(std::future::ready(self.train_steps(perm, hp, lrs, stop)))
    }
    /// `evaluate`, awaited.
    fn evaluate_async(&mut self, set: usize) -> Pending<'_, EvalStats> {
        Box::pin(std::future::ready(self.evaluate(set)))
    }
    /// `params`, awaited.
    fn params_async(&mut self) -> Pending<'_, Params> {
        Box::pin(std::future::ready(self.params()))
    }
    /// `optimizer_state`, awaited.
    fn optimizer_state_async(&mut self) -> Pending<'_, OptimState> {
        Box::pin(std::future::ready(self.optimizer_state()))
    }
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

#[doc(hidden)]
/// What an evaluation set given to a backend is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Evaluated every epoch (model selection, early stopping).
    Valid,
    /// Evaluated every epoch when there is no validation set; otherwise only for the final
    /// report (after the last epoch, or when training stops early).
    Test,
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

#[doc(hidden)]
/// How a run goes beyond `Hyper`: the learning-rate schedule, and where it starts (a resumed
/// run: the epochs before are replayed in the shuffle, the schedule and the epoch numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Course {
    pub schedule: Schedule,
    pub start: Progress,
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

/// bce's targets are probabilities: a value target of `data` outside [0, 1] under `spec`'s bce
/// loss is an `Error::InvalidData` naming its row and column (`names`: the target columns'
/// names, when known), before any training or evaluation takes it for a divergence.
pub(crate) fn check_target_range(
    spec: &crate::model::Spec,
    data: &crate::data::Dataset,
    names: &[String],
) -> Result<()> {
    let crate::data::Targets::Values { values, width } = &data.targets else {
        return Ok(());
    };
    if spec.loss != crate::model::Loss::Bce || *width == 0 {
        return Ok(());
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

#[doc(hidden)]
/// The shuffle order of every epoch comes from this seed, so all paths see the same batches.
pub fn epoch_rng(seed: u64) -> Rng {
    Rng::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5487_f1e5)
}

#[doc(hidden)]
/// Trains `hp.epochs` epochs of `n_train` rows at the constant rate `hp.lr` from the start:
/// `run_planned` with the default plan.
pub fn run(
    backend: &mut dyn Backend,
    n_train: usize,
    hp: &Hyper,
    classes: bool,
    roles: &[Role],
    on_epoch: &mut dyn FnMut(&mut EpochReport, &mut dyn Backend) -> Result<Flow>,
) -> Result<Vec<EpochReport>> {
    run_planned(
        backend,
        n_train,
        hp,
        &Course::default(),
        classes,
        roles,
        &StopToken::new(),
        on_epoch,
    )
}

#[doc(hidden)]
/// Trains `hp.epochs` epochs of `n_train` rows from `plan.start` (a partial epoch there counts
/// as one), calling `on_epoch` after each (with the backend, so it can save parameters; it may
/// amend the report before it is kept, and `Flow::Stop` ends the run there). Step s
/// (counted over the whole run) of epoch e gets `plan.schedule.lr(hp.lr, s, e, total)`, the
/// run ending after epoch `start.epoch + hp.epochs`. `classes` says whether accuracy means
/// anything (class targets); `roles` names the backend's evaluation sets. A non-finite loss
/// stops training with an error naming the epoch and batch. `stop`: stopped on entry, no step
/// is trained (no reports); stopped during an epoch's steps, the run ends after the current
/// step with a report of the partial epoch (`interrupted`); stopped after them (during the
/// evaluation or `on_epoch`), the run ends with that epoch. Blocking: `run_planned_async`.
#[allow(clippy::too_many_arguments)]
pub fn run_planned(
    backend: &mut dyn Backend,
    n_train: usize,
    hp: &Hyper,
    plan: &Course,
    classes: bool,
    roles: &[Role],
    stop: &StopToken,
    on_epoch: &mut dyn FnMut(&mut EpochReport, &mut dyn Backend) -> Result<Flow>,
) -> Result<Vec<EpochReport>> {
    block(
        "wgtrain::train::run_planned_async",
        run_planned_async(
            backend,
            n_train,
            hp,
            plan,
            classes,
            roles,
            stop,
            async |r: &mut EpochReport, b: &mut dyn Backend| on_epoch(r, b),
        ),
    )
}

#[doc(hidden)]
/// `run_planned`, awaited, with an async `on_epoch`. Between epochs it lets a browser's event
/// loop run (`yield_now`), so a page stays responsive on any path.
#[allow(clippy::too_many_arguments)]
pub async fn run_planned_async(
    backend: &mut dyn Backend,
    n_train: usize,
    hp: &Hyper,
    plan: &Course,
    classes: bool,
    roles: &[Role],
    stop: &StopToken,
    mut on_epoch: impl AsyncFnMut(&mut EpochReport, &mut dyn Backend) -> Result<Flow>,
) -> Result<Vec<EpochReport>> {
    hp.validate()?;
    plan.schedule.validate()?;
    if n_train == 0 {
        return Err(Error::usage("the training set is empty"));
    }
    if stop.is_stopped() {
        return Ok(Vec::new());
    }
    let per_epoch = n_train.div_ceil(hp.batch);
    let Course { schedule, start } = *plan;
    if start.batch >= per_epoch {
        return Err(Error::usage(format!(
            "cannot start at batch {} of an epoch of {per_epoch} batches",
            start.batch
        )));
    }
    let valid = roles.iter().position(|&r| r == Role::Valid);
    let test = roles.iter().position(|&r| r == Role::Test);
    let mut rng = epoch_rng(hp.seed);
    let mut perm: Vec<u32> = (0..n_train as u32).collect();
    // Each epoch shuffles the previous epoch's order, so a resumed run replays the shuffles.
    for _ in 0..start.epoch {
        rng.shuffle(&mut perm);
    }
    let total_steps = start
        .epoch
        .checked_add(hp.epochs)
        .and_then(|e| e.checked_mul(per_epoch))
        .filter(|&s| s <= u64::MAX as usize / 2)
        .ok_or_else(|| {
            Error::invalid(
                "epochs",
                format!(
                    "{}: with {} epochs done and {per_epoch} steps an epoch, the run's step count overflows",
                    hp.epochs, start.epoch
                ),
            )
        })?;
    let last_epoch = start.epoch + hp.epochs;
    let begin = Instant::now();
    let mut reports = Vec::new();
    // The run's first batch loss, and whether an epoch has climbed far above it yet.
    let mut first_loss: Option<f64> = None;
    let mut warned = false;
    for epoch in start.epoch + 1..=last_epoch {
        let t0 = Instant::now();
        rng.shuffle(&mut perm);
        let skip = if epoch == start.epoch + 1 {
            start.batch
        } else {
            0
        };
        let first = (epoch - 1) * per_epoch;
        let lrs: Vec<f32> = (first + skip..first + per_epoch)
            .map(|s| schedule.lr(hp.lr, s, epoch - 1, total_steps))
            .collect();
        let losses = backend
            .train_steps_async(&perm[skip * hp.batch..], hp, &lrs, stop)
            .await?;
        let seconds = t0.elapsed().as_secs_f64();
        if let Some(b) = losses.iter().position(|l| !l.is_finite()) {
            return Err(Error::Diverged(format!(
                "training diverged: the loss became {} in epoch {epoch}, batch {} of {}; {}",
                losses[b],
                skip + b + 1,
                per_epoch,
                divergence_advice(hp.lr, hp.l2)
            )));
        }
        let interrupted = stop.is_stopped();
        if losses.is_empty() {
            break;
        }
        let samples = (losses.len() * hp.batch).min(n_train - skip * hp.batch);
        let done = skip + losses.len();
        let progress = if done == per_epoch {
            Progress { epoch, batch: 0 }
        } else {
            Progress {
                epoch: epoch - 1,
                batch: done,
            }
        };
        let train_loss = losses.iter().map(|&l| l as f64).sum::<f64>() / losses.len() as f64;
        let start_loss = *first_loss.get_or_insert(losses[0] as f64);
        let loss_rise =
            (!warned && start_loss > 0.0 && train_loss > LOSS_RISE_WARNING * start_loss)
                .then(|| train_loss / start_loss);
        warned |= loss_rise.is_some();
        let (valid_loss, valid_accuracy) = measured(backend, valid, classes).await?;
        let last = epoch == last_epoch || interrupted;
        let (test_loss, test_accuracy) =
            measured(backend, test.filter(|_| valid.is_none() || last), classes).await?;
        let mut report = EpochReport {
            epoch,
            train_loss,
            train_loss_standardized: false,
            loss_rise,
            valid_loss,
            valid_accuracy,
            valid_regression: None,
            test_loss,
            test_accuracy,
            test_regression: None,
            seconds,
            samples_per_sec: samples as f64 / seconds,
            elapsed: begin.elapsed().as_secs_f64(),
            batches: losses.len(),
            interrupted,
            progress,
        };
        let flow = on_epoch(&mut report, backend).await?;
        reports.push(report);
        // A stop that came after the epoch's steps (in its evaluation or callback) ends the run
        // here, rather than after one step of the next epoch.
        if interrupted || flow == Flow::Stop || stop.is_stopped() {
            break;
        }
        yield_now().await;
    }
    Ok(reports)
}

/// The mean loss and (with `classes`) the accuracy on evaluation set `set`; None without one.
async fn measured(
    backend: &mut dyn Backend,
    set: Option<usize>,
    classes: bool,
) -> Result<(Option<f64>, Option<f64>)> {
    let Some(i) = set else {
        return Ok((None, None));
    };
    let s = backend.evaluate_async(i).await?;
    Ok((
        Some(s.loss_sum / s.n as f64),
        classes.then_some(s.correct as f64 / s.n as f64),
    ))
}
