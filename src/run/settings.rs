//! A run's settings as given, reconciled: the defaults (`Config::default()`) for a new run, the
//! checkpoint's for a resumed one, where a given value that contradicts the file is an error
//! naming the setting and the file.

use std::fmt::Display;
use std::path::Path;

use crate::checkpoint::TrainingState;
use crate::config::{ClassWeights, Config};
use crate::data::{Column, CsvOptions, Table, TargetColumns};
use crate::error::{Error, Result};
use crate::optim::{Decay, Method, Optimizer, Schedule};

/// The learning-rate schedules by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleName {
    /// The base rate throughout.
    Constant,
    /// Decayed every `lr_step` epochs by `lr_gamma`.
    Step,
    /// Cosine annealing to 0 over the run.
    Cosine,
}

impl ScheduleName {
    fn name(self) -> &'static str {
        match self {
            ScheduleName::Constant => "constant",
            ScheduleName::Step => "step",
            ScheduleName::Cosine => "cosine",
        }
    }
}

impl Display for ScheduleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ScheduleName {
    type Err = Error;
    fn from_str(s: &str) -> Result<ScheduleName> {
        match s {
            "constant" => Ok(ScheduleName::Constant),
            "step" => Ok(ScheduleName::Step),
            "cosine" => Ok(ScheduleName::Cosine),
            _ => Err(Error::invalid(
                "schedule",
                format!("{s}: expected constant, step or cosine"),
            )),
        }
    }
}

/// Epochs a run on a CSV table trains when none are given: 20 epochs of a few hundred rows are
/// 100-250 steps, short of what scikit-learn's default MLP reaches on such tables (issue 16
/// part 8: README "Against scikit-learn on small tables"); 40 came within 0.004 of it on the
/// mean over ten public tables, where 30, 50, 60 and 80 did worse, without overfitting the
/// larger ones (8,000-10,000 rows).
pub const TABLE_EPOCHS: usize = 40;

/// A run's training settings as given, `None` where not given: a new run then takes
/// `Config::default()`'s value, a resumed one its checkpoint's (and a given value must equal it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Epochs to train (after those in the checkpoint when resuming); None: `TABLE_EPOCHS`
    /// when the training data is a CSV table, else `Config::default()`'s.
    pub epochs: Option<usize>,
    /// The base learning rate.
    pub lr: Option<f32>,
    /// λ of the L2 term.
    pub l2: Option<f32>,
    /// Rows per step.
    pub batch: Option<usize>,
    /// Seeds the initialisation, the shuffle and the hold-out.
    pub seed: Option<u64>,
    /// The update rule.
    pub optimizer: Option<Method>,
    /// μ of momentum and Nesterov (only with those).
    pub momentum: Option<f32>,
    /// Adam's β1 (only with adam and adamw).
    pub beta1: Option<f32>,
    /// Adam's β2 (only with adam and adamw).
    pub beta2: Option<f32>,
    /// Adam's eps (only with adam and adamw).
    pub eps: Option<f32>,
    /// AdamW's decoupled weight decay (only with adamw).
    pub weight_decay: Option<f32>,
    /// The learning-rate schedule.
    pub schedule: Option<ScheduleName>,
    /// Epochs between two decays of the step schedule (needed by a new run's step schedule).
    pub lr_step: Option<usize>,
    /// The factor of each decay of the step schedule.
    pub lr_gamma: Option<f32>,
    /// Warm-up steps.
    pub warmup: Option<usize>,
    /// The fraction of the training rows held out for validation.
    pub valid_split: Option<f64>,
    /// Early stopping after this many epochs without a better validation loss.
    pub patience: Option<usize>,
    /// Class weights of a classifier's training loss (a resumed run keeps its own).
    pub class_weight: Option<ClassWeights>,
}

/// A resumed run: its state and its file.
pub(super) type Resumed<'a> = Option<(&'a TrainingState, &'a Path)>;

/// The settings in force: the session's config and the held-out fraction.
pub(super) struct Reconciled {
    pub config: Config,
    pub valid_split: Option<f64>,
}

fn bad<T>(arg: &'static str, msg: String) -> Result<T> {
    Err(Error::invalid(arg, msg))
}

/// "`v` contradicts FILE, whose run has `had`: ... leave it out", blaming `arg`.
fn contradicts<T>(arg: &'static str, given: impl Display, had: &str, file: &Path) -> Result<T> {
    bad(
        arg,
        format!(
            "{given} contradicts {}, whose run has {had}: the setting `resume` continues that run with its settings; leave the setting `{arg}` out",
            file.display()
        ),
    )
}

/// `given` (or `default`) for a new run; for a resumed one the checkpoint's value, which a
/// `given` value must equal.
fn pick<T: PartialEq + Display>(
    arg: &'static str,
    given: Option<T>,
    stored: Option<(T, &Path)>,
    default: T,
) -> Result<T> {
    match stored {
        None => Ok(given.unwrap_or(default)),
        Some((s, file)) => match given {
            Some(g) if g != s => contradicts(arg, g, &format!("the setting `{arg}` {s}"), file),
            _ => Ok(s),
        },
    }
}

impl Settings {
    /// The config of a new run (`resume` None), or of the run saved in `resume`'s file, every
    /// value checked.
    pub(super) fn reconcile(&self, resume: Resumed) -> Result<Reconciled> {
        let d = Config::default();
        let optimizer = self.optimizer(resume)?;
        let schedule = self.schedule(resume)?;
        let config = Config {
            lr: pick("lr", self.lr, resume.map(|(st, p)| (st.lr, p)), d.lr)?,
            l2: pick("l2", self.l2, resume.map(|(st, p)| (st.l2, p)), d.l2)?,
            batch: pick(
                "batch",
                self.batch,
                resume.map(|(st, p)| (st.batch, p)),
                d.batch,
            )?,
            // A table's count, when the data turns out to be one, is set once it is read.
            epochs: self.epochs.unwrap_or(d.epochs),
            seed: pick(
                "seed",
                self.seed,
                resume.map(|(st, p)| (st.seed, p)),
                d.seed,
            )?,
            optimizer,
            schedule,
            patience: self.patience,
            class_weights: self.class_weight.clone(),
        };
        let valid_split = match resume {
            None => self.valid_split,
            Some((st, p)) => {
                if self.valid_split.is_some() && self.valid_split != st.valid_split {
                    let was = st
                        .valid_split
                        .map_or("no setting `valid_split`".to_string(), |f| {
                            format!("the setting `valid_split` {f}")
                        });
                    let given = self.valid_split.map_or(String::new(), |f| f.to_string());
                    return contradicts("valid_split", given, &was, p);
                }
                st.valid_split
            }
        };
        config.hyper().validate()?;
        config.optimizer.validate()?;
        config.schedule.validate()?;
        Ok(Reconciled {
            config,
            valid_split,
        })
    }

    /// The optimizer and its hyper-parameters; a hyper-parameter its method does not use is an
    /// error.
    fn optimizer(&self, resume: Resumed) -> Result<Optimizer> {
        let stored_opt = resume.map(|(st, _)| st.optim.optimizer);
        let method = pick(
            "optimizer",
            self.optimizer,
            resume.map(|(st, p)| (st.optim.optimizer.method, p)),
            Method::Sgd,
        )?;
        let only = |given: bool, arg: &'static str, applies: bool, to: &str| -> Result<()> {
            if given && !applies {
                return bad(
                    arg,
                    format!("applies to {to}, but the optimizer is {method}"),
                );
            }
            Ok(())
        };
        only(
            self.momentum.is_some(),
            "momentum",
            method.uses_momentum(),
            "the setting `optimizer` momentum and nesterov",
        )?;
        for (arg, given) in [
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("eps", self.eps),
        ] {
            only(
                given.is_some(),
                arg,
                method.is_adam(),
                "the setting `optimizer` adam and adamw",
            )?;
        }
        only(
            self.weight_decay.is_some(),
            "weight_decay",
            method == Method::AdamW,
            "the setting `optimizer` adamw (the setting `l2` is the 2λW gradient term for every optimizer)",
        )?;
        let d = Optimizer::new(method);
        let value = |arg: &'static str, given: Option<f32>, get: fn(&Optimizer) -> f32| {
            pick(
                arg,
                given,
                stored_opt.zip(resume).map(|(o, (_, p))| (get(&o), p)),
                get(&d),
            )
        };
        Ok(Optimizer {
            method,
            momentum: value("momentum", self.momentum, |o| o.momentum)?,
            beta1: value("beta1", self.beta1, |o| o.beta1)?,
            beta2: value("beta2", self.beta2, |o| o.beta2)?,
            eps: value("eps", self.eps, |o| o.eps)?,
            weight_decay: value("weight_decay", self.weight_decay, |o| o.weight_decay)?,
        })
    }

    /// The learning-rate schedule; `lr_step` and `lr_gamma` only with the step schedule.
    fn schedule(&self, resume: Resumed) -> Result<Schedule> {
        let stored_name = |d: Decay| match d {
            Decay::Constant => ScheduleName::Constant,
            Decay::Step { .. } => ScheduleName::Step,
            Decay::Cosine => ScheduleName::Cosine,
        };
        let name = pick(
            "schedule",
            self.schedule,
            resume.map(|(st, p)| (stored_name(st.schedule.decay), p)),
            ScheduleName::Constant,
        )?;
        if name != ScheduleName::Step {
            for (arg, given) in [
                ("lr_step", self.lr_step.is_some()),
                ("lr_gamma", self.lr_gamma.is_some()),
            ] {
                if given {
                    return bad(
                        arg,
                        format!(
                            "applies to the setting `schedule` step, but the schedule is {name}"
                        ),
                    );
                }
            }
        }
        let stored_step = resume.and_then(|(st, p)| match st.schedule.decay {
            Decay::Step { every, gamma } => Some(((every, gamma), p)),
            _ => None,
        });
        let decay = match name {
            ScheduleName::Step => {
                let every = match (self.lr_step, resume) {
                    (None, None) => {
                        return bad(
                            "schedule",
                            "step needs the setting `lr_step` N, the epochs between two decays"
                                .into(),
                        );
                    }
                    _ => pick(
                        "lr_step",
                        self.lr_step,
                        stored_step.map(|((e, _), p)| (e, p)),
                        self.lr_step.unwrap_or(0),
                    )?,
                };
                let gamma = pick(
                    "lr_gamma",
                    self.lr_gamma,
                    stored_step.map(|((_, g), p)| (g, p)),
                    0.1,
                )?;
                Decay::Step { every, gamma }
            }
            ScheduleName::Cosine => Decay::Cosine,
            ScheduleName::Constant => Decay::Constant,
        };
        Ok(Schedule {
            decay,
            warmup: pick(
                "warmup",
                self.warmup,
                resume.map(|(st, p)| (st.schedule.warmup, p)),
                0,
            )?,
        })
    }
}

/// The CSV options of a resumed run: those given must agree with its table, or (a run from
/// before tables) with its stored label column and target count, which they default to.
pub(super) fn resumed_csv(
    given: &CsvOptions,
    st: &TrainingState,
    file: &Path,
) -> Result<(CsvOptions, Option<Table>)> {
    if let Some(t) = &st.table {
        return match t.check_options(given) {
            Ok(()) => Ok((given.clone(), Some(t.clone()))),
            Err(Error::InvalidArgument {
                arg: Some(what),
                msg,
            }) => bad(
                what,
                format!(
                    "{msg} ({}): the setting `resume` reads the data as its run did; leave the setting `{what}` out",
                    file.display()
                ),
            ),
            Err(e) => Err(e),
        };
    }
    let had = |what: &str, had: Option<usize>| {
        had.map_or(format!("no setting `{what}`"), |v| {
            format!("the setting `{what}` {v}")
        })
    };
    let label = match &given.label {
        None => st.label_column,
        Some(Column::Number(n)) if st.targets.is_none() && Some(*n) == st.label_column => Some(*n),
        Some(c) => return contradicts("label", c, &had("label", st.label_column), file),
    };
    let targets = match &given.targets {
        None => st.targets,
        Some(TargetColumns::Last(k)) if Some(*k) == st.targets => Some(*k),
        Some(TargetColumns::Last(k)) => {
            return contradicts("targets", k, &had("targets", st.targets), file);
        }
        Some(TargetColumns::Columns(c)) => {
            let c: Vec<String> = c.iter().map(ToString::to_string).collect();
            return contradicts("targets", c.join(","), &had("targets", st.targets), file);
        }
    };
    let o = CsvOptions {
        label: label.map(Column::Number),
        targets: targets.map(TargetColumns::Last),
        ..given.clone()
    };
    Ok((o, None))
}
