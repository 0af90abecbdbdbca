//! The contract a training path fulfils (`Backend`, driven with `Hyper`'s settings) and the
//! loop that drives it epoch by epoch (`run_planned_async`, with `run_planned` its blocking
//! wrapper): shuffling, each step's learning rate, evaluation, reports, resuming mid-epoch.

use web_time::Instant;

use super::{EpochReport, Flow, LOSS_RISE_WARNING, Progress, StopToken, divergence_advice};
use crate::blocking::{Pending, block, yield_now};
use crate::error::{Error, Result, check_non_negative, check_positive};
use crate::model::Params;
use crate::optim::{OptimState, Schedule};
use crate::rng::Rng;

/// Mini-batch settings: `lr` is the base rate the schedule scales, `l2` the λ of the 2λW
/// gradient term (weights only) under every optimiser.
#[derive(Clone, Debug)]
pub struct Hyper {
    /// The base learning rate.
    pub lr: f32,
    /// The L2 coefficient λ.
    pub l2: f32,
    /// Rows per batch (the last batch of an epoch may hold fewer).
    pub batch: usize,
    /// Epochs to train.
    pub epochs: usize,
    /// Seeds the shuffle of every epoch (`epoch_rng`).
    pub seed: u64,
}

impl Hyper {
    /// lr positive and finite, l2 non-negative and finite, batch and epochs at least one.
    pub fn validate(&self) -> Result<()> {
        check_positive("lr", self.lr)?;
        check_non_negative("l2", self.l2)?;
        if self.batch == 0 {
            return Err(Error::invalid("batch", "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(Error::invalid("epochs", "must be at least 1"));
        }
        Ok(())
    }
}

/// Summed loss and correct predictions over a dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalStats {
    /// The data loss summed over the rows.
    pub loss_sum: f64,
    /// Rows whose top output is their class (class targets; 0 otherwise).
    pub correct: usize,
    /// Rows evaluated.
    pub n: usize,
}

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

/// What an evaluation set given to a backend is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Evaluated every epoch (model selection, early stopping).
    Valid,
    /// Evaluated every epoch when there is no validation set; otherwise only for the final
    /// report (after the last epoch, or when training stops early).
    Test,
}

/// How a run goes beyond `Hyper`: the learning-rate schedule, and where it starts (a resumed
/// run: the epochs before are replayed in the shuffle, the schedule and the epoch numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Course {
    /// How each step's learning rate follows from the base rate.
    pub schedule: Schedule,
    /// Where the run starts (zero for a fresh run).
    pub start: Progress,
}

/// The shuffle order of every epoch comes from this seed, so all paths see the same batches.
pub fn epoch_rng(seed: u64) -> Rng {
    Rng::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5487_f1e5)
}

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
    let total_steps = step_count(hp, start, per_epoch)?;
    let valid = roles.iter().position(|&r| r == Role::Valid);
    let test = roles.iter().position(|&r| r == Role::Test);
    let mut rng = epoch_rng(hp.seed);
    let mut perm: Vec<u32> = (0..n_train as u32).collect();
    // Each epoch shuffles the previous epoch's order, so a resumed run replays the shuffles.
    for _ in 0..start.epoch {
        rng.shuffle(&mut perm);
    }
    let last_epoch = start.epoch + hp.epochs;
    let begin = Instant::now();
    let mut reports = Vec::new();
    let mut rise = LossRise::default();
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
        check_finite(&losses, hp, epoch, skip, per_epoch)?;
        let interrupted = stop.is_stopped();
        if losses.is_empty() {
            break;
        }
        let samples = (losses.len() * hp.batch).min(n_train - skip * hp.batch);
        let train_loss = losses.iter().map(|&l| l as f64).sum::<f64>() / losses.len() as f64;
        let (valid_loss, valid_accuracy) = measured(backend, valid, classes).await?;
        let last = epoch == last_epoch || interrupted;
        let (test_loss, test_accuracy) =
            measured(backend, test.filter(|_| valid.is_none() || last), classes).await?;
        let mut report = EpochReport {
            epoch,
            train_loss,
            train_loss_standardized: false,
            loss_rise: rise.check(losses[0] as f64, train_loss),
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
            progress: progress_after(epoch, skip + losses.len(), per_epoch),
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

/// The run's step count through its last epoch (what the schedule decays over), after checking
/// that `start` lies inside an epoch of `per_epoch` batches and that the count cannot overflow.
fn step_count(hp: &Hyper, start: Progress, per_epoch: usize) -> Result<usize> {
    if start.batch >= per_epoch {
        return Err(Error::usage(format!(
            "cannot start at batch {} of an epoch of {per_epoch} batches",
            start.batch
        )));
    }
    start
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
        })
}

/// A non-finite batch loss of `epoch` (its first `skip` batches not trained in this run) is
/// divergence: an error naming the epoch and batch, with what to change.
fn check_finite(
    losses: &[f32],
    hp: &Hyper,
    epoch: usize,
    skip: usize,
    per_epoch: usize,
) -> Result<()> {
    match losses.iter().position(|l| !l.is_finite()) {
        Some(b) => Err(Error::Diverged(format!(
            "training diverged: the loss became {} in epoch {epoch}, batch {} of {}; {}",
            losses[b],
            skip + b + 1,
            per_epoch,
            divergence_advice(hp.lr, hp.l2)
        ))),
        None => Ok(()),
    }
}

/// Where a run stands after `done` batches of `epoch` (of `per_epoch`).
fn progress_after(epoch: usize, done: usize, per_epoch: usize) -> Progress {
    if done == per_epoch {
        Progress { epoch, batch: 0 }
    } else {
        Progress {
            epoch: epoch - 1,
            batch: done,
        }
    }
}

/// The run's first batch loss, and whether an epoch has climbed far above it yet.
#[derive(Default)]
struct LossRise {
    first: Option<f64>,
    warned: bool,
}

impl LossRise {
    /// For an epoch whose first batch lost `batch_loss` and whose mean is `train_loss`: the
    /// ratio to the run's first batch loss, the first time it passes `LOSS_RISE_WARNING`.
    fn check(&mut self, batch_loss: f64, train_loss: f64) -> Option<f64> {
        let start = *self.first.get_or_insert(batch_loss);
        let rise = (!self.warned && start > 0.0 && train_loss > LOSS_RISE_WARNING * start)
            .then(|| train_loss / start);
        self.warned |= rise.is_some();
        rise
    }
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
