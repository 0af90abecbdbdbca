//! A training session: a model, its data, a `Config` and a `Device`. `fit` trains the config's
//! epochs and hands each epoch's report to a callback; checkpoints (every N epochs, or the best
//! epoch only), resuming a saved run and stopping through a `StopToken` are part of it.
//!
//! One file because `Trainer` is one state machine (given, opened, running, resumed) whose
//! methods each check the state the others leave; opening the data and device is in `open`,
//! reading a saved run back in `resume`, class weights in `weights`, the best epoch, patience
//! and the save schedule in `watch`.

use std::path::{Path, PathBuf};

mod open;
mod resume;
mod watch;
mod weights;

pub(crate) use open::check_params_fit;
pub use open::{Fallback, Opened};

use crate::blocking::block;
use crate::checkpoint::{self, InputInfo, TrainingState};
use crate::config::{Config, Device};
use crate::data::standardize::Standardize;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::evaluate::{self, Evaluation};
use crate::model::{Loss, Output, Spec};
use crate::optim::OptimState;
use crate::train::{self, Backend, Course, EpochReport, Flow, Progress, Role, StopToken};
use crate::trained::Model;
use watch::{Watch, save_due};

/// Where a session saves while it trains.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoints {
    /// The file, written atomically (a crash leaves the old file or the new one).
    pub path: PathBuf,
    /// Also save after every N-th epoch (ignored with `keep_best`).
    pub every: Option<usize>,
    /// Save only when the validation loss (the test loss without a validation set) improves, so
    /// the file holds the best epoch; without an evaluation set, the last epoch is kept.
    pub keep_best: bool,
}

impl Checkpoints {
    /// `every` must be at least 1 when given (0 would never save mid-run): else the error that
    /// names it as the setting `checkpoint_every`. `fit` checks it on entry.
    pub fn check(&self) -> Result<()> {
        if self.every == Some(0) {
            return Err(Error::invalid("checkpoint_every", "must be at least 1"));
        }
        Ok(())
    }
}

/// What one `fit` did.
#[derive(Clone, Debug)]
pub struct Fit {
    /// One per epoch trained (the last one partial when the run was stopped during its steps;
    /// none when the token was stopped before `fit`).
    pub reports: Vec<EpochReport>,
    /// The session's stop token was stopped when `fit` returned: the run ended there (after
    /// the step under way, or at the end of the epoch whose evaluation or callback saw the
    /// stop, or at once, training nothing, when it was stopped before `fit`). It stays stopped
    /// until `StopToken::reset`. `Trainer::progress` says where the run stands.
    pub interrupted: bool,
    /// With `keep_best`: the epoch whose parameters the checkpoint holds, when one improved.
    pub kept: Option<usize>,
    /// The epoch with the lowest validation loss (the test loss without a validation set) in
    /// this `fit`; None without an evaluation set.
    pub best: Option<usize>,
    /// With `Config::patience`: the epoch after which the run stopped because the validation
    /// loss had not improved for that many epochs (before its last epoch); None when it trained
    /// every epoch.
    pub stopped_early: Option<usize>,
    /// The checkpoint written, if any.
    pub saved: Option<PathBuf>,
    /// A save to `Checkpoints::path` failed (its folder removed, the disk full, permissions
    /// changed while it trained): why. The run stopped at the end of the epoch whose save
    /// failed, and the model as it ended was written to `rescued` instead, when it could be.
    /// `fit` still returns `Ok`, so the reports are not lost with the file; a caller that must
    /// not go on as if saved checks this.
    pub save_error: Option<String>,
    /// Where the model went when its checkpoint could not be written: `RESCUE_FILE` (with the
    /// process id) in the working folder, else in the temporary folder.
    pub rescued: Option<PathBuf>,
}

impl Fit {
    /// A `fit` whose token was stopped before it began: nothing trained.
    fn not_started() -> Fit {
        Fit {
            reports: Vec::new(),
            interrupted: true,
            kept: None,
            best: None,
            stopped_early: None,
            saved: None,
            save_error: None,
            rescued: None,
        }
    }
}

/// The file name (before `-{pid}.safetensors`) a model goes to when its checkpoint cannot be
/// written.
pub const RESCUE_FILE: &str = "wgtrain-rescued";

/// A session's data as given, before `open` holds out, standardises and uploads it.
struct Given {
    train: Dataset,
    valid: Option<Dataset>,
    test: Option<Dataset>,
}

/// A session's data prepared for the device (`Trainer::prepare`), and the run's settings.
struct Prepared {
    train: Dataset,
    /// The evaluation sets, in `roles`' order.
    eval: Vec<Dataset>,
    optim: OptimState,
    template: TrainingState,
    progress: Progress,
    classes: bool,
    roles: Vec<Role>,
    sizes: [usize; 3],
    host: Vec<Dataset>,
}

/// The sets `prepare_sets` readies for the device: the training rows, the evaluation sets in
/// `roles`' order, and a regression's evaluation sets as given.
struct Sets {
    train: Dataset,
    eval: Vec<Dataset>,
    roles: Vec<Role>,
    host: Vec<Dataset>,
}

/// A session whose device holds the model and the data.
struct Running {
    backend: Box<dyn Backend>,
    opened: Opened,
    /// Every save's settings; the optimiser state and position are filled in at each save.
    template: TrainingState,
    progress: Progress,
    classes: bool,
    roles: Vec<Role>,
    sizes: [usize; 3],
    /// For mse on value targets: the evaluation sets (as `roles`) with inputs as the network
    /// sees them and targets as given; empty otherwise.
    host: Vec<Dataset>,
}

/// A training session. Build it with `new` and the builder methods, then `fit`.
///
/// ```no_run
/// use wgtrain::{Config, Device, Model, Trainer};
/// # fn main() -> wgtrain::Result<()> {
/// let split = wgtrain::data::load("digits", None)?;
/// let spec = wgtrain::Spec::classifier(64, &[64], 10)?;
/// let mut trainer = Trainer::new(Model::init(spec, 0)?, split.train, Config::default())
///     .test(split.test.unwrap())
///     .device(Device::cpu());
/// let fit = trainer.fit(|r| Ok(println!("epoch {} loss {:.4}", r.epoch, r.train_loss)))?;
/// trainer.model()?.save("digits.safetensors".as_ref())?;
/// # Ok(()) }
/// ```
pub struct Trainer {
    model: Model,
    config: Config,
    device: Device,
    given: Option<Given>,
    hold_out: Option<f64>,
    standardize: Option<bool>,
    standardize_targets: Option<bool>,
    source: Option<String>,
    resume: Option<TrainingState>,
    checkpoints: Option<Checkpoints>,
    stop: StopToken,
    /// Prepared, the device not yet opened.
    prepared: Option<Prepared>,
    run: Option<Running>,
}

impl Trainer {
    /// A session training `model` (a new one from `Model::init`, or a loaded one) on `train`.
    /// Nothing is checked or allocated until `open` or `fit`.
    pub fn new(model: Model, train: Dataset, config: Config) -> Trainer {
        Trainer {
            model,
            config,
            device: Device::default(),
            given: Some(Given {
                train,
                valid: None,
                test: None,
            }),
            hold_out: None,
            standardize: None,
            standardize_targets: None,
            source: None,
            resume: None,
            checkpoints: None,
            stop: StopToken::new(),
            prepared: None,
            run: None,
        }
    }

    /// Evaluated every epoch; what keep-best selects by.
    pub fn validation(mut self, valid: Dataset) -> Trainer {
        if let Some(g) = &mut self.given {
            g.valid = Some(valid);
        }
        self
    }

    /// Evaluated every epoch when there is no validation set, else only after the last.
    pub fn test(mut self, test: Dataset) -> Trainer {
        if let Some(g) = &mut self.given {
            g.test = Some(test);
        }
        self
    }

    /// Holds out this fraction of the training rows (seeded by the config's seed) as the
    /// validation set.
    pub fn hold_out(mut self, fraction: f64) -> Trainer {
        self.hold_out = Some(fraction);
        self
    }

    /// Standardises every input feature with statistics of the training rows (after the
    /// hold-out), unless the model already carries a standardisation; the model keeps it, so
    /// its `predict`, `evaluate` and saved files apply it too. `false` turns it off. Without a
    /// call, a new run standardises when the model has a table (tabular data: features on
    /// any scale), and not otherwise (images keep their /255 scaling); a resumed run keeps
    /// what it did. One-hot inputs of categorical columns are left as they are (mean 0, std 1).
    pub fn standardize(mut self, yes: bool) -> Trainer {
        self.standardize = Some(yes);
        self
    }

    /// Standardises the targets of a regression, `(y - mean) / std` per target column with
    /// statistics of the training rows (after the hold-out), unless the model already carries a
    /// target standardisation. Applies only to value targets under mse with a linear output
    /// (otherwise it does nothing). The network then trains on standardised targets (so targets
    /// in the hundreds train at the usual learning rates) while every figure stays in the
    /// targets' units: the model keeps the statistics and maps its outputs back, so its
    /// `predict`, `evaluate` and saved files are in original units, and so are the validation and
    /// test losses and metrics of the epoch reports; the training loss is too for one target
    /// (see `EpochReport::train_loss_standardized` for several). Without a call: on in a new
    /// run whose model has a table (tabular data), off otherwise.
    pub fn standardize_targets(mut self, yes: bool) -> Trainer {
        self.standardize_targets = Some(yes);
        self
    }

    /// Where to train (default: `Device::Auto`, a hardware GPU when there is one).
    pub fn device(mut self, device: Device) -> Trainer {
        self.device = device;
        self
    }

    /// The name the training data is loaded by (`data::load`'s source), recorded in checkpoints
    /// so a resumed run can find it again. Default: the training set's name.
    pub fn source(mut self, name: impl Into<String>) -> Trainer {
        self.source = Some(name.into());
        self
    }

    /// Saves while training, as `checkpoints` says, and once more when `fit` ends (unless the
    /// file already holds the best epoch).
    pub fn checkpoints(mut self, checkpoints: Checkpoints) -> Trainer {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Continues the run saved with `state` (from `checkpoint::load_training`) exactly where it
    /// stopped: its optimiser state, its position, the shuffle it was in. The model must be the
    /// checkpoint's and the config its run's (epochs aside: `fit` trains that many more); the
    /// training data must be the same rows.
    pub fn resume(mut self, state: TrainingState) -> Trainer {
        self.resume = Some(state);
        self
    }

    /// A clone of this session's stop token: `stop()` on it, from any thread (a signal handler),
    /// ends `fit` after the step under way, with a report of the partial epoch; from the epoch
    /// callback, at the end of that epoch. The token stays stopped (and a later `fit` trains
    /// nothing) until `reset()`.
    pub fn stop_token(&self) -> StopToken {
        self.stop.clone()
    }

    /// The model being trained, with its current parameters (blocking: `model_async`).
    pub fn model(&mut self) -> Result<Model> {
        block("Trainer::model_async", self.model_async())
    }

    /// `model`, awaited.
    pub async fn model_async(&mut self) -> Result<Model> {
        if let Some(run) = &mut self.run {
            self.model.params = run.backend.params_async().await?;
        }
        Ok(self.model.clone())
    }

    /// The network being trained (without reading its parameters back).
    pub fn spec(&self) -> &Spec {
        &self.model.spec
    }

    /// Where training stands: epochs done, and batches of the next. Right after any `fit`,
    /// one that failed included: after an error in a callback, a save or an evaluation, the
    /// epoch it came in is counted (its steps were trained); after a divergence, the steps of
    /// the epoch that diverged; after a device error in the middle of the steps, the steps
    /// known to have completed. `model()` and `save()` then give the parameters at that point.
    pub fn progress(&self) -> Progress {
        self.run.as_ref().map_or_else(
            || {
                self.resume
                    .as_ref()
                    .map_or_else(Progress::default, |s| s.progress)
            },
            |r| r.progress,
        )
    }

    /// The class weights the training loss uses, once open (`Config::class_weights` resolved
    /// on the training rows, or a resumed run's); None: unweighted.
    pub fn class_weights(&self) -> Option<&[f32]> {
        self.run.as_ref()?.template.class_weights.as_deref()
    }

    /// Rows of the training, validation and test sets, once open.
    pub fn sizes(&self) -> Option<[usize; 3]> {
        self.run.as_ref().map(|r| r.sizes)
    }

    /// What the model knows of its inputs and targets: the standardisations it applies (those
    /// `open` fits included, once open) and the CSV layout.
    pub fn input(&self) -> &InputInfo {
        &self.model.input
    }

    /// The config in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Prepares the data (hold-out, standardisation), checks it against the model and the
    /// resumed run, opens the device and moves the model and the data onto it. `fit` does this
    /// when it has not been done; calling it first tells which device was opened (blocking:
    /// `open_async`).
    pub fn open(&mut self) -> Result<&Opened> {
        block("Trainer::open_async", self.open_async())?;
        Ok(&self.run.as_ref().expect("opened above").opened)
    }

    /// `open`, awaited. The data is prepared and checked first (kept in the session), then
    /// the device opened (the adapter and device requests, where a browser waits), so a
    /// blocking call refused in a browser, or a future dropped while the device opens, leaves
    /// a session that opens when asked again; one dropped later, while the data is being moved
    /// to the device, leaves a session that can only be rebuilt.
    pub async fn open_async(&mut self) -> Result<&Opened> {
        if self.run.is_none() {
            if self.prepared.is_none() {
                self.prepared = Some(self.prepare()?);
            }
            let device = self.device.clone();
            let chosen = open::open_device(&device).await?;
            let p = self
                .prepared
                .take()
                .ok_or_else(|| Error::usage("the session failed to open before"))?;
            let (mut backend, opened) =
                open::open_backend(chosen, &device, &self.model, p.train, p.eval, &self.config)
                    .await?;
            backend.set_optimizer(&p.optim)?;
            self.run = Some(Running {
                backend,
                opened,
                template: p.template,
                progress: p.progress,
                classes: p.classes,
                roles: p.roles,
                sizes: p.sizes,
                host: p.host,
            });
        }
        Ok(&self.run.as_ref().expect("opened above").opened)
    }

    /// Checks the config, the data and the resumed run, holds out, standardises and prepares
    /// the data for the device, and checks it fits memory: everything before the device.
    fn prepare(&mut self) -> Result<Prepared> {
        self.config.validate()?;
        if let Some(c) = &self.checkpoints {
            c.check()?;
        }
        let given = self
            .given
            .take()
            .ok_or_else(|| Error::usage("the session failed to open before"))?;
        let Given { train, valid, test } = given;
        self.check_given(&train, valid.as_ref(), test.as_ref())?;
        // A resumed run holds out what it trained without; new runs draw per class.
        let stratified = self.resume.as_ref().is_none_or(|r| r.stratified);
        let (train, valid) = self.split_validation(train, valid, stratified)?;
        let regression = self.fit_standardisations(&train)?;
        let spec = self.model.spec.clone();
        let source = self.source.clone().unwrap_or_else(|| train.name.clone());
        if let Some(state) = &self.resume {
            self.check_resumed(state, &source, &train)?;
        }
        let target_names = self.model.input.table.as_ref().map(|t| t.target_names());
        for d in [Some(&train), valid.as_ref(), test.as_ref()]
            .into_iter()
            .flatten()
        {
            check_fits(&spec, d)?;
            crate::train::check_target_range(&spec, d, target_names.as_deref().unwrap_or(&[]))?;
        }
        let (optim, progress) = match &self.resume {
            Some(state) => (state.optim.clone(), state.progress),
            None => (
                OptimState::new(self.config.optimizer, &spec),
                Progress::default(),
            ),
        };
        let classes = matches!(train.targets, Targets::Classes { .. });
        let class_names = self
            .model
            .input
            .table
            .as_ref()
            .and_then(|t| t.classes.clone());
        let class_weights = weights::resolve(
            &self.config,
            self.resume.as_ref(),
            &train,
            spec.loss,
            class_names.as_deref(),
        )?;
        let template = TrainingState {
            optim: optim.clone(),
            schedule: self.config.schedule,
            lr: self.config.lr,
            l2: self.config.l2,
            batch: self.config.batch,
            seed: self.config.seed,
            progress,
            data: source,
            train_rows: train.n,
            valid_split: self.hold_out,
            stratified,
            class_weights: class_weights.clone(),
            standardize: self.model.input.standardize.clone(),
            target_standardize: self.model.input.target_standardize.clone(),
            label_column: self.model.input.label_column,
            targets: self.model.input.targets,
            table: self.model.input.table.clone(),
        };
        let sizes = [
            train.n,
            valid.as_ref().map_or(0, |d| d.n),
            test.as_ref().map_or(0, |d| d.n),
        ];
        let sets = self.prepare_sets(train, valid, test, regression, class_weights.as_deref())?;
        self.check_memory(sizes[0].min(self.config.batch))?;
        Ok(Prepared {
            train: sets.train,
            eval: sets.eval,
            optim,
            template,
            progress,
            classes,
            roles: sets.roles,
            sizes,
            host: sets.host,
        })
    }

    /// The training rows and the validation set: the one given, or `hold_out` of the training
    /// rows (per class when `stratified`); an error for both, or for patience without either.
    fn split_validation(
        &self,
        train: Dataset,
        valid: Option<Dataset>,
        stratified: bool,
    ) -> Result<(Dataset, Option<Dataset>)> {
        let (train, valid) = match (self.hold_out, valid) {
            (Some(_), Some(_)) => {
                return Err(Error::usage(
                    "a validation set and a held-out fraction: give one of the two",
                ));
            }
            (Some(f), None) => {
                let (t, v) = train.hold_out_as(f, self.config.seed, stratified)?;
                (t, Some(v))
            }
            (None, v) => (train, v),
        };
        if self.config.patience.is_some() && valid.is_none() {
            return Err(Error::invalid(
                "patience",
                "stops on the validation loss, and this run has no validation set: give one, or hold out part of the training rows",
            ));
        }
        Ok((train, valid))
    }

    /// The sets as the device takes them: standardised, targets dense (the training rows'
    /// weighted by class when `class_weights`), each within memory; a regression's evaluation sets
    /// also kept with their targets as given (`host`): each epoch measures them in the
    /// targets' units.
    fn prepare_sets(
        &self,
        train: Dataset,
        valid: Option<Dataset>,
        test: Option<Dataset>,
        regression: bool,
        class_weights: Option<&[f32]>,
    ) -> Result<Sets> {
        let mut eval = Vec::new();
        let mut roles = Vec::new();
        let mut host = Vec::new();
        for (set, role) in [(valid, Role::Valid), (test, Role::Test)] {
            if let Some(d) = set {
                let d = self.model.prepare_inputs(d)?;
                if regression {
                    host.push(d.clone());
                }
                eval.push(self.model.prepare_targets(d)?);
                roles.push(role);
            }
        }
        let train = self.model.prepare(train)?;
        let train = match class_weights {
            Some(w) => weights::weigh(train, w)?,
            None => train,
        };
        // Both paths take each set's targets as a dense (rows, outputs) matrix (one-hot for
        // classes): 30,000 classes of 60,000 rows would be 7.2 GB.
        for d in std::iter::once(&train).chain(&eval) {
            crate::memory::check(
                &format!(
                    "the targets of {} as a {} x {} matrix",
                    d.name,
                    d.n,
                    d.target_width()
                ),
                (d.n as u64)
                    .saturating_mul(d.target_width() as u64)
                    .saturating_mul(4),
            )?;
        }
        Ok(Sets {
            train,
            eval,
            roles,
            host,
        })
    }

    /// Fits the input standardisation (and a regression's target standardisation) to the
    /// training rows where the session asks for one the model does not carry yet; refuses one
    /// a resumed run did not have, or turning off one the model carries. Whether the targets
    /// are a regression's values (mse on value targets).
    fn fit_standardisations(&mut self, train: &Dataset) -> Result<bool> {
        let standardize = self
            .standardize
            .unwrap_or(self.model.input.table.is_some() && self.resume.is_none());
        if standardize && self.model.input.standardize.is_none() {
            if self.resume.is_some() {
                return Err(Error::invalid(
                    "standardize",
                    "cannot be added to a resumed run that did not standardise its inputs",
                ));
            }
            let mut z = Standardize::fit(train);
            if let Some(t) = &self.model.input.table {
                for (j, one_hot) in t.one_hot().into_iter().enumerate() {
                    if one_hot && j < z.mean.len() {
                        (z.mean[j], z.std[j]) = (0.0, 1.0);
                    }
                }
            }
            self.model.set_standardize(Some(z))?;
        } else if self.standardize == Some(false) && self.model.input.standardize.is_some() {
            return Err(Error::invalid(
                "standardize",
                "is off, but the model already standardises its inputs (a resumed run, or a model that carries statistics)",
            ));
        }
        let regression =
            self.model.spec.loss == Loss::Mse && matches!(train.targets, Targets::Values { .. });
        // Unset: on for tabular data (a model with a CSV table) in a new run.
        let standardize_targets = self
            .standardize_targets
            .unwrap_or(self.model.input.table.is_some() && self.resume.is_none());
        if standardize_targets
            && regression
            && self.model.spec.output == Output::Linear
            && self.model.input.target_standardize.is_none()
        {
            if self.resume.is_some() {
                return Err(Error::invalid(
                    "standardize_targets",
                    "cannot be added to a resumed run that did not standardise its targets",
                ));
            }
            self.model
                .set_target_standardize(Some(fit_targets(train)))?;
        }
        Ok(regression)
    }

    /// The session's boundary, before anything uses what it was given: the model's parts fit
    /// (`Model::check`) and its parameters are finite; each dataset fits (`Dataset::check`:
    /// lengths, labels, finite values) and has rows. On both paths: nothing reaches a backend
    /// unchecked.
    fn check_given(
        &self,
        train: &Dataset,
        valid: Option<&Dataset>,
        test: Option<&Dataset>,
    ) -> Result<()> {
        self.model.check()?;
        for (l, layer) in self.model.params.layers.iter().enumerate() {
            let w = layer.w.iter().position(|v| !v.is_finite());
            let b = layer.b.iter().position(|v| !v.is_finite());
            if w.is_some() || b.is_some() {
                let (what, i) = w.map_or(("bias", b), |i| ("weight", Some(i)));
                return Err(Error::usage(format!(
                    "the model's layer {l} {what} {} (0-based) is not finite: a model to train needs finite parameters",
                    i.unwrap_or(0)
                )));
            }
        }
        for d in [Some(train), valid, test].into_iter().flatten() {
            d.check()?;
            if d.n == 0 {
                return Err(Error::invalid_data(
                    d.name.as_str(),
                    None,
                    None,
                    "has no rows: training and evaluation need at least one",
                ));
            }
        }
        Ok(())
    }

    /// Refuses a run whose host memory cannot fit: on the CPU path the trainer's copy of the
    /// parameters, their transposed copy, the gradients and optimiser state, and the
    /// activations of a step of `rows` rows; on the GPU path the parameters' upload copy.
    fn check_memory(&self, rows: usize) -> Result<()> {
        let spec = &self.model.spec;
        let p = spec.n_params() as u64;
        let cpu = !matches!(self.device, Device::Gpu(_));
        let copies = if cpu {
            let slots = self.config.optimizer.method.slots().len() as u64;
            let grads = u64::from(self.config.optimizer.method != crate::optim::Method::Sgd);
            2 + slots + grads
        } else {
            1
        };
        let units: u64 = spec.sizes.iter().map(|&s| s as u64).sum();
        let bytes = p
            .saturating_mul(copies)
            .saturating_add((rows as u64).saturating_mul(units).saturating_mul(4))
            .saturating_mul(4);
        crate::memory::check(
            &format!(
                "training a {} network ({} parameters) at batch {}",
                spec.describe(),
                spec.n_params(),
                self.config.batch
            ),
            bytes,
        )
    }

    /// The resumed run's settings must be this session's, its data the same rows.
    fn check_resumed(&self, state: &TrainingState, source: &str, train: &Dataset) -> Result<()> {
        let c = &self.config;
        let split = |f: &Option<f64>| f.map_or("none".to_string(), |f| f.to_string());
        differs("lr", &c.lr, &state.lr, f32::to_string)?;
        differs("l2", &c.l2, &state.l2, f32::to_string)?;
        differs("batch", &c.batch, &state.batch, usize::to_string)?;
        differs("seed", &c.seed, &state.seed, u64::to_string)?;
        let optimizer = &state.optim.optimizer;
        differs("optimizer", &c.optimizer, optimizer, |o| o.describe())?;
        differs("schedule", &c.schedule, &state.schedule, |s| s.describe())?;
        differs("valid_split", &self.hold_out, &state.valid_split, split)?;
        if self.model.input.standardize != state.standardize {
            return Err(Error::invalid(
                "standardize",
                "differs from the resumed run's input standardisation",
            ));
        }
        if self.model.input.target_standardize != state.target_standardize {
            return Err(Error::invalid(
                "standardize_targets",
                "differs from the resumed run's target standardisation",
            ));
        }
        if self.model.input.table != state.table {
            return Err(Error::invalid(
                "table",
                "differs from the resumed run's: the data must be read with the run's CSV schema",
            ));
        }
        resume::check_resumed_data(source, &self.model.spec, state, train, c.batch)
    }

    /// Trains `config.epochs` epochs (after those already done), calling `on_epoch` with each
    /// epoch's report, saving as `checkpoints` says.
    ///
    /// - Checked before anything is opened or trained: the config, the model (`Model::check`,
    ///   finite parameters) and every dataset given (`Dataset::check`: lengths, labels below
    ///   the class count, finite inputs and targets, an error naming the dataset, row and
    ///   column), against the network too; on both paths.
    /// - The stop token (`stop_token`): stopped before `fit`, it returns at once, training and
    ///   saving nothing (`Fit::interrupted`, no reports); stopped during an epoch's steps, the run
    ///   ends after the step under way (the report of the partial epoch is the last); stopped
    ///   from `on_epoch` (or during the epoch's evaluation), at the end of that epoch. The
    ///   checkpoint is then saved as at the end of a run.
    /// - `on_epoch`'s error ends the run at once (nothing more is saved) and is returned as it
    ///   is: return your own as `Err(Error::callback(e))` and match `Error::Callback`
    ///   (`Error::callback` shows how).
    /// - A non-finite loss is an `Error::Diverged` naming the epoch and batch, and leaves the
    ///   last good checkpoint.
    /// - After any error, `progress()` says where the run stands.
    ///
    /// With `Config::patience` it ends after the epoch where the validation loss has not
    /// improved for that many epochs (the test set, if any, is evaluated then); `Fit` says where.
    ///
    /// Blocking: `fit_async` is the same run, awaited.
    pub fn fit(&mut self, on_epoch: impl FnMut(&EpochReport) -> Result<()>) -> Result<Fit> {
        block("Trainer::fit_async", self.fit_async(on_epoch))
    }

    /// `fit`, awaited: in a browser, the run on WebGPU that never blocks the page (it awaits
    /// the device, and lets the event loop run between epochs); natively, the same steps and
    /// numbers as `fit`, which waits for the device on the calling thread. `on_epoch` is called
    /// as each epoch ends; the stop token (`stop_token`) ends the run from anywhere, a
    /// JavaScript handler included.
    pub async fn fit_async(
        &mut self,
        mut on_epoch: impl FnMut(&EpochReport) -> Result<()>,
    ) -> Result<Fit> {
        if self.stop.is_stopped() {
            return Ok(Fit::not_started());
        }
        self.open_async().await?;
        let steps_before = self.stop.steps();
        let run = self.run.as_mut().expect("opened above");
        let hp = self.config.hyper();
        let plan = Course {
            schedule: self.config.schedule,
            start: run.progress,
        };
        let mut watch = Watch::new(self.config.patience, plan.start.epoch, hp.epochs);
        let spec = &self.model.spec;
        let target_z = self.model.input.target_standardize.as_ref();
        let checkpoints = self.checkpoints.as_ref();
        let mut kept = None;
        let mut stopped_early = None;
        let mut save_error = None;
        let Running {
            backend,
            template,
            classes,
            roles,
            sizes,
            host,
            ..
        } = run;
        let sets = EvalSets {
            spec,
            target_z,
            host,
            valid: roles.iter().position(|&r| r == Role::Valid),
            test: roles.iter().position(|&r| r == Role::Test),
            classes: *classes,
        };
        let reports = train::run_planned_async(
            backend.as_mut(),
            sizes[0],
            &hp,
            &plan,
            *classes,
            roles,
            &self.stop,
            async |r: &mut EpochReport, backend: &mut dyn Backend| {
                let (improved, stop) = sets.complete(r, backend, &mut watch).await?;
                if stop {
                    stopped_early = Some(r.epoch);
                }
                on_epoch(r)?;
                let flow = if stop { Flow::Stop } else { Flow::Continue };
                let Some(c) = checkpoints.filter(|c| save_due(c, r, improved)) else {
                    return Ok(flow);
                };
                match save_state(&c.path, spec, backend, template, r.progress).await {
                    Ok(()) => {
                        if c.keep_best {
                            kept = Some(r.epoch);
                        }
                        Ok(flow)
                    }
                    // Training on with nowhere to save would only lose more: the run ends here
                    // and `fit` rescues the model.
                    Err(e) if rescuable(&e) => {
                        save_error = Some(e.to_string());
                        Ok(Flow::Stop)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await;
        // The backends count each step they complete on the token: what the run has trained,
        // whether or not it ended in an error.
        let trained = self.stop.steps().wrapping_sub(steps_before);
        run.progress = match &reports {
            Ok(r) => r.last().map_or(plan.start, |last| last.progress),
            Err(_) => plan
                .start
                .advanced(sizes[0].div_ceil(hp.batch.max(1)), trained),
        };
        let reports = reports?;
        let mut fit = Fit {
            reports,
            kept,
            best: watch.best_epoch,
            stopped_early,
            save_error,
            interrupted: false,
            ..Fit::not_started()
        };
        self.final_save(&mut fit).await?;
        // After the save: a stop that came while it wrote is said too.
        fit.interrupted = self.stop.is_stopped();
        Ok(fit)
    }

    /// The run's last save into its checkpoint file (unless it kept its best epoch there, or
    /// a save during the run failed), into `fit.saved`; when saving failed for a reason a
    /// rescue file gets round, the model written there instead (`fit.rescued`).
    async fn final_save(&mut self, fit: &mut Fit) -> Result<()> {
        let Some(c) = self.checkpoints.clone() else {
            return Ok(());
        };
        if fit.save_error.is_none() && !(c.keep_best && fit.kept.is_some()) {
            match self.save_async(&c.path).await {
                Err(e) if rescuable(&e) => fit.save_error = Some(e.to_string()),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
        }
        if fit.save_error.is_some() {
            fit.kept = None;
            fit.rescued = Some(self.rescue().await?);
        } else {
            fit.saved = Some(c.path);
        }
        Ok(())
    }

    /// Writes the model, as `save` does, to a new `RESCUE_FILE-{pid}[-n].safetensors` in the
    /// working folder or else the temporary folder; its path. The error, when neither can be
    /// written, names both.
    async fn rescue(&mut self) -> Result<PathBuf> {
        let mut tried = Vec::new();
        for dir in [PathBuf::from("."), std::env::temp_dir()] {
            let pid = std::process::id();
            let free = (0..100)
                .map(|n| match n {
                    0 => dir.join(format!("{RESCUE_FILE}-{pid}.safetensors")),
                    n => dir.join(format!("{RESCUE_FILE}-{pid}-{n}.safetensors")),
                })
                .find(|p| std::fs::symlink_metadata(p).is_err());
            let Some(path) = free else { continue };
            match self.save_async(&path).await {
                Ok(()) => return Ok(path),
                Err(e) => tried.push(e.to_string()),
            }
        }
        Err(Error::usage(format!(
            "the checkpoint could not be written, nor a rescue copy: {}",
            tried.join("; ")
        )))
    }

    /// Saves the current parameters with the optimiser state and everything `resume` needs to
    /// continue from here. Non-finite parameters are refused (the last good file stays).
    /// Blocking: `save_async`.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        block("Trainer::save_async", self.save_async(path))
    }

    /// `save`, awaited (the parameters are read back from the device before the file is
    /// written).
    pub async fn save_async(&mut self, path: &Path) -> Result<()> {
        self.open_async().await?;
        let run = self.run.as_mut().expect("opened above");
        save_state(
            path,
            &self.model.spec,
            run.backend.as_mut(),
            &run.template,
            run.progress,
        )
        .await
    }

    /// The checkpoint `save_async` would write, as bytes (`name` is what errors name): the
    /// parameters, the optimiser state and everything a resumed run needs. A browser offers
    /// them as a download; `wgtrain eval`, `predict`, `--init` and `--resume` read the file.
    pub async fn checkpoint_bytes_async(&mut self, name: &Path) -> Result<Vec<u8>> {
        self.open_async().await?;
        let run = self.run.as_mut().expect("opened above");
        let (params, state) =
            saved_state(name, run.backend.as_mut(), &run.template, run.progress).await?;
        checkpoint::training_bytes(name, &self.model.spec, &params, &state)
    }

    /// The training path, for checks that reach below the session (the benchmark's gradient
    /// check against the f64 reference).
    pub(crate) fn backend(&mut self) -> Result<&mut dyn Backend> {
        self.open()?;
        Ok(self.run.as_mut().expect("opened above").backend.as_mut())
    }
}

/// What the session adds to the loop's evaluation of an epoch: losses and regression metrics
/// in the targets' own units (`host`: the evaluation sets as given, for mse on value targets),
/// and the test set's final evaluation when patience ends the run.
struct EvalSets<'a> {
    spec: &'a Spec,
    target_z: Option<&'a Standardize>,
    host: &'a [Dataset],
    valid: Option<usize>,
    test: Option<usize>,
    classes: bool,
}

impl EvalSets<'_> {
    /// Completes `r` and tells `watch`: whether the epoch improved the validation loss, and
    /// whether patience ends the run here.
    async fn complete(
        &self,
        r: &mut EpochReport,
        backend: &mut dyn Backend,
        watch: &mut Watch,
    ) -> Result<(bool, bool)> {
        let (spec, target_z, host) = (self.spec, self.target_z, self.host);
        in_target_units(r, target_z);
        if let Some(i) = self.valid.filter(|_| !host.is_empty()) {
            let e = measure(spec, backend, &host[i], target_z).await?;
            r.valid_loss = Some(e.loss);
            r.valid_regression = e.regression;
        }
        let (improved, stop) = watch.observe(r);
        if let Some(i) = self.test.filter(|_| stop && r.test_loss.is_none()) {
            // The run ends here, so the test set gets its final evaluation now.
            let s = backend.evaluate_async(i).await?;
            r.test_loss = Some(s.loss_sum / s.n.max(1) as f64);
            r.test_accuracy = self.classes.then_some(s.correct as f64 / s.n.max(1) as f64);
        }
        if let Some(i) = self
            .test
            .filter(|_| !host.is_empty() && r.test_loss.is_some())
        {
            let e = measure(spec, backend, &host[i], target_z).await?;
            r.test_loss = Some(e.loss);
            r.test_regression = e.regression;
        }
        Ok((improved, stop))
    }
}

/// A save that failed for where it writes (a file system error, a folder gone), not for what
/// it writes (non-finite parameters, which no other file would take either).
fn rescuable(e: &Error) -> bool {
    !matches!(e, Error::Diverged(_))
}

/// A resumed run's setting `arg` must equal this session's: `ours` against the run's `theirs`.
fn differs<T: PartialEq>(
    arg: &'static str,
    ours: &T,
    theirs: &T,
    show: impl Fn(&T) -> String,
) -> Result<()> {
    if ours == theirs {
        Ok(())
    } else {
        Err(Error::invalid(
            arg,
            format!(
                "{} differs from the resumed run's {}",
                show(ours),
                show(theirs)
            ),
        ))
    }
}

/// `data` must have the model's inputs, and targets that fit its outputs.
fn check_fits(spec: &Spec, data: &Dataset) -> Result<()> {
    if data.dim != spec.inputs() || data.target_width() != spec.outputs() {
        return Err(Error::Shape(format!(
            "{} has {} inputs and {} {}, but the network is {}",
            data.name,
            data.dim,
            data.target_width(),
            if matches!(data.targets, Targets::Classes { .. }) {
                "classes"
            } else {
                "targets"
            },
            spec.describe()
        )));
    }
    Ok(())
}

/// Saves `backend`'s parameters and optimiser state with `template`'s settings at `progress`,
/// refusing non-finite parameters.
async fn save_state(
    path: &Path,
    spec: &Spec,
    backend: &mut dyn Backend,
    template: &TrainingState,
    progress: Progress,
) -> Result<()> {
    let (p, state) = saved_state(path, backend, template, progress).await?;
    checkpoint::save_training(path, spec, &p, &state)
}

/// `backend`'s parameters and the run's state at `progress` with `template`'s settings, as a
/// save to `path` writes them; non-finite parameters refused.
async fn saved_state(
    path: &Path,
    backend: &mut dyn Backend,
    template: &TrainingState,
    progress: Progress,
) -> Result<(crate::model::Params, TrainingState)> {
    let p = backend.params_async().await?;
    if !p.all_finite() {
        return Err(Error::Diverged(format!(
            "the parameters are not finite; not saving {}",
            path.display()
        )));
    }
    let state = TrainingState {
        optim: backend.optimizer_state_async().await?,
        progress,
        ..template.clone()
    };
    Ok((p, state))
}

/// A report's training loss in the targets' units: a loss on targets standardised by one std is
/// std² times the loss in their units; with several columns it stays standardised, and says so.
fn in_target_units(r: &mut EpochReport, z: Option<&Standardize>) {
    match z.map(|z| z.std.as_slice()) {
        Some([s]) => r.train_loss *= (*s as f64) * (*s as f64),
        Some(_) => r.train_loss_standardized = true,
        None => {}
    }
}

/// The backend's current parameters on `data` (inputs as the network sees them, targets as
/// given), in the targets' units.
async fn measure(
    spec: &Spec,
    backend: &mut dyn Backend,
    data: &Dataset,
    target_z: Option<&Standardize>,
) -> Result<Evaluation> {
    evaluate::evaluate_scaled(spec, &backend.params_async().await?, data, target_z)
}

/// Mean and (population) standard deviation of each target column of `d`'s value targets,
/// accumulated in f64; a column that never varies keeps std 1. Class targets: no columns.
fn fit_targets(d: &Dataset) -> Standardize {
    let Targets::Values { values, width } = &d.targets else {
        return Standardize {
            mean: vec![],
            std: vec![],
        };
    };
    let n = (values.len() / width).max(1) as f64;
    let column = |t: usize| values.iter().skip(t).step_by(*width).map(|&v| v as f64);
    let mut z = Standardize {
        mean: vec![],
        std: vec![],
    };
    for t in 0..*width {
        let mean = column(t).sum::<f64>() / n;
        let var = column(t).map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let s = var.sqrt();
        z.mean.push(mean as f32);
        z.std.push(if s > 1e-12 && (s as f32) > 0.0 {
            s as f32
        } else {
            1.0
        });
    }
    z
}
