//! A training run's settings from the command line's values: the defaults for a new run, the
//! checkpoint's for a resumed one (where a value that contradicts the file is an error).

use std::fmt::Display;
use std::path::Path;

use wgtrain::checkpoint::TrainingState;
use wgtrain::error::{Error, Result};
use wgtrain::model::{Activation, Loss, Output, Spec};
use wgtrain::optim::{Decay, Method, Optimizer, Schedule};
use wgtrain::train::Hyper;

/// The run-setting flags of `wgtrain train`, `None` where not given.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub data: Option<String>,
    pub targets: Option<usize>,
    pub label_column: Option<usize>,
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
    pub label_column: Option<usize>,
    pub targets: Option<usize>,
}

fn bad<T>(msg: String) -> Result<T> {
    Err(Error::usage(msg))
}

/// An optional setting: `given` for a new run; for a resumed one the checkpoint's, which a
/// `given` value must equal.
fn pick_layout(
    flag: &str,
    given: Option<usize>,
    stored: Option<(Option<usize>, &Path)>,
) -> Result<Option<usize>> {
    match stored {
        None => Ok(given),
        Some((s, p)) => {
            if given.is_some() && given != s {
                let was = s.map_or(format!("no --{flag}"), |v| format!("--{flag} {v}"));
                return bad(format!(
                    "--{flag} {} contradicts {}, whose run has {was}: --resume continues that run with its settings; leave --{flag} out",
                    given.unwrap_or_default(),
                    p.display()
                ));
            }
            Ok(s)
        }
    }
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
            .or_else(|| resume.map(|(st, _)| st.data.clone()))
            .unwrap_or_else(|| "digits".into());
        hp.validate()?;
        optimizer.validate()?;
        schedule.validate()?;
        Ok(Settings {
            hp,
            optimizer,
            schedule,
            data,
            valid_split,
            label_column: pick_layout(
                "label-column",
                a.label_column,
                resume.map(|(st, p)| (st.label_column, p)),
            )?,
            targets: pick_layout("targets", a.targets, resume.map(|(st, p)| (st.targets, p)))?,
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

    /// With --resume, the flags that are given must describe the checkpoint `file`'s network.
    pub fn check(&self, spec: &Spec, file: &Path) -> Result<()> {
        let n = spec.sizes.len();
        let contradicts = |flag: &str, value: &str| -> Result<()> {
            bad(format!(
                "--{flag} {value} contradicts {}, which holds a {} network: --resume takes the architecture from the file; leave --{flag} out",
                file.display(),
                spec.describe()
            ))
        };
        if let Some(h) = &self.hidden
            && hidden_sizes(h)? != spec.sizes[1..n - 1]
        {
            contradicts("hidden", h)?;
        }
        if let Some(act) = &self.activation
            && hidden_activations(act, n - 2)? != spec.hidden
        {
            contradicts("activation", act)?;
        }
        if let Some(o) = self.output.filter(|&o| o != spec.output) {
            contradicts("output", o.name())?;
        }
        if let Some(l) = self.loss.filter(|&l| l != spec.loss) {
            contradicts("loss", l.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgtrain::optim::OptimState;
    use wgtrain::train::Progress;

    const FILE: &str = "run.safetensors";

    fn spec() -> Spec {
        Spec::new(
            vec![2, 3, 2],
            vec![Activation::Relu],
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap()
    }

    fn new_run() -> Flags {
        Flags {
            epochs: 3,
            ..Flags::default()
        }
    }

    /// A run saved after 2 epochs of 1 batch each: adam (β2 0.99), step schedule, a held-out
    /// validation set and a CSV layout, none of them the defaults.
    fn stored() -> TrainingState {
        let optimizer = Optimizer {
            beta2: 0.99,
            ..Optimizer::new(Method::Adam)
        };
        let mut optim = OptimState::new(optimizer, &spec());
        optim.step = 2;
        TrainingState {
            optim,
            schedule: Schedule {
                decay: Decay::Step {
                    every: 2,
                    gamma: 0.5,
                },
                warmup: 5,
            },
            lr: 0.001,
            l2: 1e-4,
            batch: 16,
            seed: 7,
            progress: Progress { epoch: 2, batch: 0 },
            data: "my.csv".into(),
            train_rows: 4,
            valid_split: Some(0.1),
            standardize: None,
            label_column: Some(1),
            targets: None,
        }
    }

    fn resume(flags: &Flags) -> Result<Settings> {
        Settings::from_flags(flags, Some((&stored(), Path::new(FILE))))
    }

    fn message<T: std::fmt::Debug>(r: Result<T>) -> String {
        crate::cli::message(&r.unwrap_err().into())
    }

    #[test]
    fn a_new_run_without_flags_gets_the_defaults() {
        let s = Settings::from_flags(&new_run(), None).unwrap();
        assert_eq!(s.optimizer, Optimizer::default());
        assert_eq!(s.schedule, Schedule::default());
        assert_eq!(
            (s.hp.lr, s.hp.l2, s.hp.batch, s.hp.epochs, s.hp.seed),
            (0.1, 0.0, 32, 3, 0)
        );
        assert_eq!(s.data, "digits");
        assert_eq!(
            (s.valid_split, s.label_column, s.targets),
            (None, None, None)
        );
    }

    #[test]
    fn a_new_run_takes_its_flags() {
        let flags = Flags {
            optimizer: Some(Method::Nesterov),
            momentum: Some(0.5),
            schedule: Some("step".into()),
            lr_step: Some(3),
            lr: Some(0.02),
            batch: Some(8),
            valid_split: Some(0.2),
            targets: Some(2),
            ..new_run()
        };
        let s = Settings::from_flags(&flags, None).unwrap();
        assert_eq!(s.optimizer.method, Method::Nesterov);
        assert_eq!(s.optimizer.momentum, 0.5);
        assert_eq!(
            s.schedule.decay,
            Decay::Step {
                every: 3,
                gamma: 0.1
            }
        );
        assert_eq!((s.hp.lr, s.hp.batch), (0.02, 8));
        assert_eq!((s.valid_split, s.targets), (Some(0.2), Some(2)));
    }

    #[test]
    fn a_resumed_run_without_flags_gets_the_checkpoints_settings() {
        let st = stored();
        let s = resume(&new_run()).unwrap();
        assert_eq!(s.optimizer, st.optim.optimizer);
        assert_eq!(s.schedule, st.schedule);
        assert_eq!(
            (s.hp.lr, s.hp.l2, s.hp.batch, s.hp.seed),
            (st.lr, st.l2, st.batch, st.seed)
        );
        assert_eq!(
            s.hp.epochs, 3,
            "--epochs counts the epochs after the file's"
        );
        assert_eq!(s.data, "my.csv");
        assert_eq!(
            (s.valid_split, s.label_column, s.targets),
            (Some(0.1), Some(1), None)
        );
    }

    #[test]
    fn a_resumed_run_accepts_flags_equal_to_the_checkpoints() {
        let flags = Flags {
            optimizer: Some(Method::Adam),
            beta2: Some(0.99),
            lr: Some(0.001),
            batch: Some(16),
            schedule: Some("step".into()),
            lr_gamma: Some(0.5),
            valid_split: Some(0.1),
            label_column: Some(1),
            data: Some("moved.csv".into()),
            ..new_run()
        };
        let s = resume(&flags).unwrap();
        assert_eq!(s.optimizer, stored().optim.optimizer);
        assert_eq!(s.data, "moved.csv", "the data may have moved");
    }

    #[test]
    fn a_flag_that_contradicts_the_checkpoint_is_an_error_naming_the_flag_and_the_file() {
        let cases: [(Flags, &str); 7] = [
            (
                Flags {
                    lr: Some(0.5),
                    ..new_run()
                },
                "--lr 0.5 contradicts run.safetensors, whose run has --lr 0.001",
            ),
            (
                Flags {
                    optimizer: Some(Method::Sgd),
                    ..new_run()
                },
                "--optimizer sgd contradicts run.safetensors, whose run has --optimizer adam",
            ),
            (
                Flags {
                    beta2: Some(0.999),
                    ..new_run()
                },
                "--beta2 0.999 contradicts run.safetensors, whose run has --beta2 0.99",
            ),
            (
                Flags {
                    schedule: Some("cosine".into()),
                    ..new_run()
                },
                "--schedule cosine contradicts run.safetensors, whose run has --schedule step",
            ),
            (
                Flags {
                    seed: Some(0),
                    ..new_run()
                },
                "--seed 0 contradicts run.safetensors, whose run has --seed 7",
            ),
            (
                Flags {
                    valid_split: Some(0.2),
                    ..new_run()
                },
                "--valid-split contradicts run.safetensors, whose run has --valid-split 0.1",
            ),
            (
                Flags {
                    targets: Some(2),
                    ..new_run()
                },
                "--targets 2 contradicts run.safetensors, whose run has no --targets",
            ),
        ];
        for (flags, want) in cases {
            let got = message(resume(&flags));
            assert!(got.starts_with(want), "got: {got}\nwant: {want}...");
            assert!(got.ends_with("out"), "{got}");
        }
    }

    #[test]
    fn a_hyper_parameter_of_another_optimizer_is_an_error() {
        let flags = Flags {
            momentum: Some(0.5),
            ..new_run()
        };
        assert_eq!(
            message(resume(&flags)),
            "--momentum applies to --optimizer momentum and nesterov, but the optimizer is adam"
        );
        let flags = Flags {
            weight_decay: Some(0.1),
            optimizer: Some(Method::Adam),
            ..new_run()
        };
        assert!(message(Settings::from_flags(&flags, None)).starts_with("--weight-decay applies"));
    }

    #[test]
    fn an_unknown_schedule_name_is_an_error() {
        let e = Settings::from_flags(
            &Flags {
                schedule: Some("linear".into()),
                ..new_run()
            },
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--schedule linear: expected constant, step or cosine"),
            "{e}"
        );
    }

    #[test]
    fn a_step_schedule_needs_lr_step_on_a_new_run_only() {
        let flags = Flags {
            schedule: Some("step".into()),
            ..new_run()
        };
        assert_eq!(
            message(Settings::from_flags(&flags, None)),
            "--schedule step needs --lr-step N, the epochs between two decays"
        );
        assert!(resume(&flags).is_ok());
        let flags = Flags {
            lr_gamma: Some(0.5),
            ..new_run()
        };
        assert_eq!(
            message(Settings::from_flags(&flags, None)),
            "--lr-gamma applies to --schedule step, but the schedule is constant"
        );
    }

    #[test]
    fn out_of_range_values_are_errors() {
        let flags = Flags {
            lr: Some(0.0),
            ..new_run()
        };
        assert!(message(Settings::from_flags(&flags, None)).starts_with("--lr must be"));
        let flags = Flags {
            epochs: 0,
            ..new_run()
        };
        assert!(message(resume(&flags)).starts_with("--epochs must be"));
    }

    #[test]
    fn a_new_network_gets_64_relu_units_and_the_loss_that_fits_the_targets() {
        let s = ArchFlags::default().build(4, 3, true).unwrap();
        assert_eq!(s.sizes, [4, 64, 3]);
        assert_eq!(s.hidden, [Activation::Relu]);
        assert_eq!((s.output, s.loss), (Output::Softmax, Loss::CrossEntropy));
        let s = ArchFlags::default().build(4, 3, false).unwrap();
        assert_eq!(s.loss, Loss::Mse);
        let flags = ArchFlags {
            hidden: Some("8, 0".into()),
            ..ArchFlags::default()
        };
        assert!(
            message(flags.build(4, 3, true)).starts_with("--hidden 8, 0: a hidden layer of zero")
        );
    }

    #[test]
    fn an_architecture_flag_that_contradicts_the_checkpoint_is_an_error() {
        let file = Path::new(FILE);
        let same = ArchFlags {
            hidden: Some("3".into()),
            activation: Some("relu".into()),
            loss: Some(Loss::CrossEntropy),
            output: None,
        };
        same.check(&spec(), file).unwrap();
        let other = ArchFlags {
            hidden: Some("4".into()),
            ..ArchFlags::default()
        };
        assert!(
            message(other.check(&spec(), file))
                .starts_with("--hidden 4 contradicts run.safetensors, which holds a 2-3(relu)-2")
        );
    }
}
