//! A training run's settings from the command line's values: the defaults for a new run, the
//! checkpoint's for a resumed one (where a value that contradicts the file is an error).

use std::fmt::Display;
use std::path::Path;

use wgtrain::checkpoint::{Arch, TrainingState};
use wgtrain::data::{Column, CsvOptions, Table, TargetColumns};
use wgtrain::error::{Error, Result};
use wgtrain::model::{Activation, Loss, Output, Spec};
use wgtrain::optim::{Decay, Method, Optimizer, Schedule};
use wgtrain::train::Hyper;

/// The run-setting flags of `wgtrain train`, `None` where not given.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub data: Option<String>,
    /// How to read a CSV file: label, targets, ignored columns, delimiter, decimal, missing.
    pub csv: CsvOptions,
    pub lr: Option<f32>,
    pub l2: Option<f32>,
    pub batch: Option<usize>,
    /// Epochs to train (after those in the checkpoint when resuming); always given.
    pub epochs: usize,
    pub seed: Option<u64>,
    pub optimizer: Option<Method>,
    pub momentum: Option<f32>,
    pub beta1: Option<f32>,
    pub beta2: Option<f32>,
    pub eps: Option<f32>,
    pub weight_decay: Option<f32>,
    /// `constant`, `step` or `cosine`.
    pub schedule: Option<String>,
    pub lr_step: Option<usize>,
    pub lr_gamma: Option<f32>,
    pub warmup: Option<usize>,
    pub valid_split: Option<f64>,
}

/// The run's validated settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub hp: Hyper,
    pub optimizer: Optimizer,
    pub schedule: Schedule,
    pub data: String,
    pub valid_split: Option<f64>,
    /// How to read a new run's CSV file.
    pub csv: CsvOptions,
    /// A resumed run's CSV schema, which reads its data (None: a new run, or one from before
    /// tables, read with `csv`).
    pub table: Option<Table>,
}

fn bad<T>(msg: String) -> Result<T> {
    Err(Error::usage(msg))
}

/// The CSV options of a resumed run: those given must agree with its table, or (a run from
/// before tables) with its stored label column and target count, which they default to.
fn resumed_csv(
    given: &CsvOptions,
    st: &TrainingState,
    file: &Path,
) -> Result<(CsvOptions, Option<Table>)> {
    let contradicts = |what: &str, msg: String| -> Result<(CsvOptions, Option<Table>)> {
        let what = super::flag(what);
        bad(format!(
            "{what} {msg} ({}): --resume reads the data as its run did; leave {what} out",
            file.display()
        ))
    };
    if let Some(t) = &st.table {
        return match t.check_options(given) {
            Ok(()) => Ok((given.clone(), Some(t.clone()))),
            Err(Error::InvalidArgument {
                arg: Some(what),
                msg,
            }) => contradicts(what, msg),
            Err(e) => Err(e),
        };
    }
    let legacy = |what: &str, given: String, had: Option<usize>| {
        let had = had.map_or(format!("no --{what}"), |v| format!("--{what} {v}"));
        bad(format!(
            "--{what} {given} contradicts {}, whose run has {had}: --resume continues that run with its settings; leave --{what} out",
            file.display()
        ))
    };
    let label = match &given.label {
        None => st.label_column,
        Some(Column::Number(n)) if st.targets.is_none() && Some(*n) == st.label_column => Some(*n),
        Some(c) => return legacy("label", c.to_string(), st.label_column),
    };
    let targets = match &given.targets {
        None => st.targets,
        Some(TargetColumns::Last(k)) if Some(*k) == st.targets => Some(*k),
        Some(TargetColumns::Last(k)) => return legacy("targets", k.to_string(), st.targets),
        Some(TargetColumns::Columns(c)) => {
            let c: Vec<String> = c.iter().map(ToString::to_string).collect();
            return legacy("targets", c.join(","), st.targets);
        }
    };
    let o = CsvOptions {
        label: label.map(Column::Number),
        targets: targets.map(TargetColumns::Last),
        ..given.clone()
    };
    Ok((o, None))
}

/// `given` (or `default`) for a new run; for a resumed one the checkpoint's value, which a
/// `given` value must equal.
fn pick<T: PartialEq + Display>(
    flag: &str,
    given: Option<T>,
    stored: Option<(T, &Path)>,
    default: T,
) -> Result<T> {
    match stored {
        None => Ok(given.unwrap_or(default)),
        Some((s, file)) => match given {
            Some(g) if g != s => bad(format!(
                "--{flag} {g} contradicts {}, whose run has --{flag} {s}: --resume continues that run with its settings; leave --{flag} out",
                file.display()
            )),
            _ => Ok(s),
        },
    }
}

impl Settings {
    /// The settings of a new run (`resume` None), or of the run saved in `resume`'s file.
    pub fn from_flags(a: &Flags, resume: Option<(&TrainingState, &Path)>) -> Result<Settings> {
        let optimizer = optimizer(a, resume)?;
        let schedule = schedule(a, resume)?;
        let hp = Hyper {
            lr: pick("lr", a.lr, resume.map(|(st, p)| (st.lr, p)), 0.1)?,
            l2: pick("l2", a.l2, resume.map(|(st, p)| (st.l2, p)), 0.0)?,
            batch: pick("batch", a.batch, resume.map(|(st, p)| (st.batch, p)), 32)?,
            epochs: a.epochs,
            seed: pick("seed", a.seed, resume.map(|(st, p)| (st.seed, p)), 0)?,
        };
        let valid_split = match resume {
            None => a.valid_split,
            Some((st, p)) => {
                if a.valid_split.is_some() && a.valid_split != st.valid_split {
                    let was = st.valid_split.map_or("no --valid-split".to_string(), |f| {
                        format!("--valid-split {f}")
                    });
                    return bad(format!(
                        "--valid-split contradicts {}, whose run has {was}: --resume continues that run with its settings; leave --valid-split out",
                        p.display()
                    ));
                }
                st.valid_split
            }
        };
        // The data may be named differently (a moved file); the row count is checked once loaded.
        let data = a
            .data
            .clone()
            .or_else(|| resume.map(|(st, p)| wgtrain::data::stored_source(&st.data, p)))
            .unwrap_or_else(|| "digits".into());
        hp.validate()?;
        optimizer.validate()?;
        schedule.validate()?;
        let (csv, table) = match resume {
            None => (a.csv.clone(), None),
            Some((st, p)) => resumed_csv(&a.csv, st, p)?,
        };
        Ok(Settings {
            hp,
            optimizer,
            schedule,
            data,
            valid_split,
            csv,
            table,
        })
    }
}

/// The optimizer and its hyper-parameters; a hyper-parameter its method does not use is an error.
fn optimizer(a: &Flags, resume: Option<(&TrainingState, &Path)>) -> Result<Optimizer> {
    let stored_opt = resume.map(|(st, _)| st.optim.optimizer);
    let method = pick(
        "optimizer",
        a.optimizer,
        resume.map(|(st, p)| (st.optim.optimizer.method, p)),
        Method::Sgd,
    )?;
    let only = |given: bool, flag: &str, applies: bool, to: &str| -> Result<()> {
        if given && !applies {
            return bad(format!(
                "--{flag} applies to {to}, but the optimizer is {method}"
            ));
        }
        Ok(())
    };
    only(
        a.momentum.is_some(),
        "momentum",
        method.uses_momentum(),
        "--optimizer momentum and nesterov",
    )?;
    for (flag, given) in [("beta1", a.beta1), ("beta2", a.beta2), ("eps", a.eps)] {
        only(
            given.is_some(),
            flag,
            method.is_adam(),
            "--optimizer adam and adamw",
        )?;
    }
    only(
        a.weight_decay.is_some(),
        "weight-decay",
        method == Method::AdamW,
        "--optimizer adamw (--l2 is the 2λW gradient term for every optimizer)",
    )?;
    let d = Optimizer::new(method);
    let value = |flag: &str, given: Option<f32>, get: fn(&Optimizer) -> f32| {
        pick(
            flag,
            given,
            stored_opt.zip(resume).map(|(o, (_, p))| (get(&o), p)),
            get(&d),
        )
    };
    Ok(Optimizer {
        method,
        momentum: value("momentum", a.momentum, |o| o.momentum)?,
        beta1: value("beta1", a.beta1, |o| o.beta1)?,
        beta2: value("beta2", a.beta2, |o| o.beta2)?,
        eps: value("eps", a.eps, |o| o.eps)?,
        weight_decay: value("weight-decay", a.weight_decay, |o| o.weight_decay)?,
    })
}

/// The learning-rate schedule; --lr-step and --lr-gamma only with --schedule step.
fn schedule(a: &Flags, resume: Option<(&TrainingState, &Path)>) -> Result<Schedule> {
    let schedule_name = pick(
        "schedule",
        a.schedule.clone(),
        resume.map(|(st, p)| (st.schedule.decay.name().to_string(), p)),
        "constant".to_string(),
    )?;
    if schedule_name != "step" {
        for (flag, given) in [
            ("lr-step", a.lr_step.is_some()),
            ("lr-gamma", a.lr_gamma.is_some()),
        ] {
            if given {
                return bad(format!(
                    "--{flag} applies to --schedule step, but the schedule is {schedule_name}"
                ));
            }
        }
    }
    let stored_step = resume.and_then(|(st, p)| match st.schedule.decay {
        Decay::Step { every, gamma } => Some(((every, gamma), p)),
        _ => None,
    });
    let decay = match schedule_name.as_str() {
        "step" => {
            let every = match (a.lr_step, resume) {
                (None, None) => {
                    return bad(
                        "--schedule step needs --lr-step N, the epochs between two decays".into(),
                    );
                }
                _ => pick(
                    "lr-step",
                    a.lr_step,
                    stored_step.map(|((e, _), p)| (e, p)),
                    a.lr_step.unwrap_or(0),
                )?,
            };
            let gamma = pick(
                "lr-gamma",
                a.lr_gamma,
                stored_step.map(|((_, g), p)| (g, p)),
                0.1,
            )?;
            Decay::Step { every, gamma }
        }
        "cosine" => Decay::Cosine,
        "constant" => Decay::Constant,
        other => {
            return bad(format!(
                "--schedule {other}: expected constant, step or cosine"
            ));
        }
    };
    Ok(Schedule {
        decay,
        warmup: pick(
            "warmup",
            a.warmup,
            resume.map(|(st, p)| (st.schedule.warmup, p)),
            0,
        )?,
    })
}

/// The architecture flags of `wgtrain train`, as given (comma lists unparsed), `None` where
/// not given.
#[derive(Clone, Debug, Default)]
pub struct ArchFlags {
    /// Hidden layer sizes, comma separated; empty for none.
    pub hidden: Option<String>,
    /// One activation for all hidden layers, or a comma list of one per layer.
    pub activation: Option<String>,
    pub output: Option<Output>,
    pub loss: Option<Loss>,
}

/// The items of a comma list (none for an empty string), each error naming `--{what}`.
pub fn parse_list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>>
where
    T::Err: Display,
{
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<T>()
                .map_err(|e| Error::usage(format!("--{what}: '{}': {e}", p.trim())))
        })
        .collect()
}

/// The hidden sizes of `--hidden`, none zero.
fn hidden_sizes(hidden: &str) -> Result<Vec<usize>> {
    let sizes: Vec<usize> = parse_list(hidden, "hidden")?;
    if sizes.contains(&0) {
        return bad(format!(
            "--hidden {hidden}: a hidden layer of zero units; every layer needs at least one"
        ));
    }
    Ok(sizes)
}

/// The activations of `--activation` for `layers` hidden layers (one given for all, or one each).
fn hidden_activations(activation: &str, layers: usize) -> Result<Vec<Activation>> {
    let acts: Vec<Activation> = parse_list(activation, "activation")?;
    match acts.len() {
        1 => Ok(vec![acts[0]; layers]),
        n if n == layers => Ok(acts),
        n => bad(format!(
            "--activation gives {n} activations for {layers} hidden layers: give one for all or one per layer"
        )),
    }
}

impl ArchFlags {
    /// A new run's network for data of `inputs` features and `outputs` targets (`classes`:
    /// the targets are class labels): 64 relu units, and the loss and output that fit the targets
    /// unless given.
    pub fn build(&self, inputs: usize, outputs: usize, classes: bool) -> Result<Spec> {
        let hidden = hidden_sizes(self.hidden.as_deref().unwrap_or("64"))?;
        let acts = hidden_activations(self.activation.as_deref().unwrap_or("relu"), hidden.len())?;
        let loss = self.loss.unwrap_or(if classes {
            Loss::CrossEntropy
        } else {
            Loss::Mse
        });
        if loss == Loss::CrossEntropy && !classes {
            return bad(
                "cross-entropy needs class labels, but --targets makes the targets real-valued: use --loss mse or bce".into(),
            );
        }
        let output = self.output.unwrap_or(loss.default_output());
        let mut sizes = vec![inputs];
        sizes.extend(hidden);
        sizes.push(outputs);
        Spec::new(sizes, acts, output, loss)
    }

    /// For a checkpoint `file` whose metadata gives the architecture (`spec`), the flags that
    /// are given must describe it; `why` says who takes it from the file ("--resume takes the
    /// architecture from the file"). Every flag that contradicts it is named.
    pub fn check(&self, spec: &Spec, file: &Path, why: &str) -> Result<()> {
        let n = spec.sizes.len();
        let mut wrong: Vec<(&str, String)> = Vec::new();
        if let Some(h) = &self.hidden
            && hidden_sizes(h)? != spec.sizes[1..n - 1]
        {
            wrong.push(("hidden", h.clone()));
        }
        if let Some(act) = &self.activation
            && hidden_activations(act, n - 2).ok().as_ref() != Some(&spec.hidden)
        {
            wrong.push(("activation", act.clone()));
        }
        if let Some(o) = self.output.filter(|&o| o != spec.output) {
            wrong.push(("output", o.to_string()));
        }
        if let Some(l) = self.loss.filter(|&l| l != spec.loss) {
            wrong.push(("loss", l.to_string()));
        }
        let given = |w: &[(&str, String)]| {
            w.iter()
                .map(|(f, v)| format!("--{f} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match wrong.as_slice() {
            [] => Ok(()),
            [(flag, _)] => bad(format!(
                "{} contradicts {}, which holds a {} network: {why}; leave --{flag} out",
                given(&wrong),
                file.display(),
                spec.describe()
            )),
            many => bad(format!(
                "{} contradict {}, which holds a {} network: {why}; leave them out",
                given(many),
                file.display(),
                spec.describe()
            )),
        }
    }

    /// For a checkpoint `file` without wgtrain's metadata, whose tensors chain to layer `sizes`:
    /// the flags must give what the shapes cannot (--activation when there are hidden layers;
    /// with `need_output`, --output or --loss), and --hidden, if given, must match them. Every
    /// missing or contradicting flag is named.
    pub fn check_plain(&self, sizes: &[usize], file: &Path, need_output: bool) -> Result<()> {
        let hidden = &sizes[1..sizes.len().saturating_sub(1).max(1)];
        let mut give = Vec::new();
        let mut wrong = Vec::new();
        if let Some(h) = &self.hidden
            && hidden_sizes(h)? != hidden
        {
            wrong.push(format!(
                "--hidden {h} contradicts the tensors' hidden sizes {}",
                if hidden.is_empty() {
                    "(none)".to_string()
                } else {
                    hidden
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                }
            ));
        }
        match &self.activation {
            None if !hidden.is_empty() => give.push(match hidden.len() {
                1 => "--activation (for its hidden layer)".to_string(),
                n => format!("--activation (one for its {n} hidden layers, or one each)"),
            }),
            Some(act) if !hidden.is_empty() => {
                if let Err(e) = hidden_activations(act, hidden.len()) {
                    wrong.push(e.to_string());
                }
            }
            _ => {}
        }
        match (self.output, self.loss) {
            (None, None) if need_output => give.push("--output or --loss".into()),
            (Some(Output::Sigmoid), None) if need_output => {
                give.push("--loss (output sigmoid fits bce and mse)".into())
            }
            _ => {}
        }
        if !give.is_empty() {
            wrong.insert(0, format!("give {}", give.join(" and ")));
        }
        if wrong.is_empty() {
            return Ok(());
        }
        let shape = sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-");
        bad(format!(
            "{} has no wgtrain metadata (a PyTorch state_dict?), so its layer sizes come from the tensors' shapes ({shape}) and the rest from the flags: {}",
            file.display(),
            wrong.join("; ")
        ))
    }

    /// The pieces of the architecture that are given, for the library to load a file of
    /// `hidden_layers` hidden layers with (one --activation for all of them is repeated).
    pub fn arch(&self, hidden_layers: usize) -> Result<Arch> {
        Ok(Arch {
            hidden: self.hidden.as_deref().map(hidden_sizes).transpose()?,
            activations: match &self.activation {
                Some(a) if hidden_layers > 0 => Some(hidden_activations(a, hidden_layers)?),
                _ => None,
            },
            output: self.output,
            loss: self.loss,
        })
    }
}

#[cfg(test)]
mod tests;
