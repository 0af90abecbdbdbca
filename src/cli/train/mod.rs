//! `wgtrain train`: build the network from the data and the flags (or take both from a checkpoint
//! to resume), train, report, save.
//!
//! One file because it is one flow, read top to bottom: flags to settings, data and model (or a
//! resumed run), the session, the epoch loop's lines and bars, the final report and the saves;
//! the flags themselves are in `args`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::settings::{ArchFlags, Flags, Settings};
use super::signals::Watch;
use wgtrain::checkpoint::{self, Header, InputInfo, TrainingState};
use wgtrain::data::{
    self, Column, CsvOptions, Dataset, Need, Split, Table, TargetColumns, Targets,
};
use wgtrain::model::Loss;
use wgtrain::session::{Checkpoints, Fallback, Fit};
use wgtrain::train;
use wgtrain::{Config, Device, Model, Trainer};

mod args;

pub use args::TrainArgs;

/// Where an interrupted run saves when there is no --save.
const INTERRUPTED_FILE: &str = "wgtrain-interrupted.safetensors";

/// The device `--device`, `--threads` and `--backend` ask for, with the adapter that
/// `WGPU_ADAPTER_NAME` names and the matmul choice of `WGTRAIN_MATMUL`.
fn device(a: &TrainArgs) -> Result<Device> {
    let gpu = super::gpu_options(a.backend)?;
    Ok(match a.device.as_str() {
        "cpu" => Device::Cpu { threads: a.threads },
        "gpu" => Device::Gpu(gpu),
        _ => Device::Auto {
            gpu,
            threads: a.threads,
        },
    })
}

/// A one-character flag: `\t` and `tab` for a tab, `space` for ' '.
fn one_char(flag: &str, given: &Option<String>) -> Result<Option<char>> {
    let Some(s) = given else {
        return Ok(None);
    };
    let c = match s.as_str() {
        "\\t" | "tab" => '\t',
        "space" | "spaces" => ' ',
        _ => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                _ => bail!("--{flag} {s:?}: give one character"),
            }
        }
    };
    Ok(Some(c))
}

/// How to read a CSV file, from the CSV flags.
fn csv_options(a: &TrainArgs) -> Result<CsvOptions> {
    let list = |s: &Option<String>| -> wgtrain::Result<Vec<Column>> {
        s.iter()
            .flat_map(|s| s.split(','))
            .map(str::parse)
            .collect()
    };
    Ok(CsvOptions {
        delimiter: one_char("delimiter", &a.delimiter)?,
        decimal: one_char("decimal", &a.decimal)?,
        label: a.label.as_deref().map(str::parse).transpose()?,
        targets: a.targets.as_deref().map(str::parse).transpose()?,
        ignore: list(&a.ignore)?,
        missing: a.missing.as_deref().unwrap_or("mean").parse()?,
        features: list(&a.feature)?,
        many_classes: a.many_classes,
    })
}

/// The run-setting flags, for the library to check against the defaults or the checkpoint.
fn flags(a: &TrainArgs) -> Result<Flags> {
    Ok(Flags {
        data: a.data.clone(),
        csv: csv_options(a)?,
        lr: a.lr,
        l2: a.l2,
        batch: a.batch,
        epochs: a.epochs,
        seed: a.seed,
        optimizer: a.optimizer,
        momentum: a.momentum,
        beta1: a.beta1,
        beta2: a.beta2,
        eps: a.eps,
        weight_decay: a.weight_decay,
        schedule: a.schedule.clone(),
        lr_step: a.lr_step,
        lr_gamma: a.lr_gamma,
        warmup: a.warmup,
        valid_split: a.valid_split,
    })
}

fn arch_flags(a: &TrainArgs) -> ArchFlags {
    ArchFlags {
        hidden: a.hidden.clone(),
        activation: a.activation.clone(),
        output: a.output,
        loss: a.loss,
    }
}

/// A checkpoint to continue: its file, model and run state.
struct Resumed<'a> {
    path: &'a Path,
    model: Model,
    state: TrainingState,
}

/// The checkpoint of --resume, which must hold a run's state, not only parameters.
fn load_resumed(path: &Path) -> Result<Resumed<'_>> {
    let (spec, params, state) = checkpoint::load_training(path)?;
    let Some(state) = state else {
        bail!(
            "{}: holds parameters but no optimizer state or run settings (written by an older wgtrain), so it cannot be resumed: use --init {} to start a new run from its parameters",
            path.display(),
            path.display()
        );
    };
    let model = Model {
        spec,
        params,
        input: InputInfo {
            standardize: state.standardize.clone(),
            target_standardize: state.target_standardize.clone(),
            label_column: state.label_column,
            targets: state.targets,
            table: state.table.clone(),
        },
    };
    Ok(Resumed { path, model, state })
}

/// Why a run ended early, besides an error: the signal that stopped it, or a metrics file that
/// could not be written.
#[derive(Default)]
struct Ended {
    watch: Option<Watch>,
    metrics: Option<wgtrain::Error>,
}

/// `(flag, path)` when the path is given.
fn named<'a>(flag: &'a str, path: &'a Option<PathBuf>) -> Option<(&'a str, &'a Path)> {
    path.as_deref().map(|p| (flag, p))
}

/// Fails before any work when an output file cannot be written or --plot names no picture.
fn check_outputs(a: &TrainArgs) -> Result<()> {
    for path in a.save.iter().chain(&a.metrics).chain(&a.plot) {
        super::check_writable(path)?;
    }
    // --save may update the checkpoint it started from (written atomically, only with finite
    // parameters); nothing else may be an input or another output.
    let data = a.data.as_deref().map(Path::new).filter(|p| p.is_file());
    let data: Vec<(&str, &Path)> = data.map(|d| ("--data", d)).into_iter().collect();
    let save: Vec<(&str, &Path)> = a.save.iter().map(|p| ("--save", p.as_path())).collect();
    super::check_distinct(&data, &save)?;
    let inputs: Vec<(&str, &Path)> = data
        .iter()
        .chain(&save)
        .copied()
        .chain(named("--init", &a.init))
        .chain(named("--resume", &a.resume))
        .collect();
    let outputs: Vec<(&str, &Path)> = named("--metrics", &a.metrics)
        .into_iter()
        .chain(named("--plot", &a.plot))
        .collect();
    super::check_distinct(&inputs, &outputs)?;
    if let Some(p) = &a.plot
        && !p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg") || e.eq_ignore_ascii_case("png"))
    {
        bail!(
            "--plot {}: the file name must end in .svg or .png",
            p.display()
        );
    }
    if a.plot.is_some() {
        // Found out now, not after the run: the plot needs a font.
        wgtrain::plot::prepare_font(super::font().as_deref())?;
    }
    Ok(())
}

/// The model to train: the checkpoint's when resuming (the flags that are given must describe
/// it), else --init's (`init_model`), else a new network for the data with seeded parameters.
fn model(
    a: &TrainArgs,
    st: &Settings,
    resumed: Option<&Resumed>,
    init: Option<(&Path, &Header)>,
    train: &Dataset,
    table: Option<&Table>,
) -> Result<Model> {
    if let Some(r) = resumed {
        arch_flags(a).check(
            &r.model.spec,
            r.path,
            "--resume takes the architecture from the file",
        )?;
        if a.standardize && r.state.standardize.is_none() {
            bail!(
                "{}: its run did not standardise its inputs; --standardize cannot be added on --resume",
                r.path.display()
            );
        }
        if a.no_standardize_targets && r.state.target_standardize.is_some() {
            bail!(
                "{}: its run standardised its targets; --no-standardize-targets cannot be given on --resume",
                r.path.display()
            );
        }
        if a.no_standardize && r.state.standardize.is_some() {
            bail!(
                "{}: its run standardised its inputs; --no-standardize cannot take that away on --resume",
                r.path.display()
            );
        }
        return Ok(r.model.clone());
    }
    let classes = matches!(train.targets, Targets::Classes { .. });
    let mut model = match init {
        Some((path, header)) => init_model(a, path, header, train)?,
        None => Model::init(
            arch_flags(a).build(train.dim, train.target_width(), classes)?,
            st.hp.seed,
        )?,
    };
    model.input.table = table.cloned();
    if table.is_none() {
        // A legacy layout for sources without a table (built-in sets with --targets).
        model.input.targets = match &st.csv.targets {
            Some(data::TargetColumns::Last(k)) => Some(*k),
            _ => None,
        };
    }
    Ok(model)
}

/// The model of `--init`: the file's parameters and input standardisation, with the
/// architecture of its metadata (the flags that are given must agree), or for a file without
/// metadata of the tensors' shapes and the flags (`--activation`, and the loss and output as for
/// a new network).
fn init_model(a: &TrainArgs, path: &Path, header: &Header, train: &Dataset) -> Result<Model> {
    let flags = arch_flags(a);
    let hidden_layers = header.sizes.len().saturating_sub(2);
    let arch = match &header.spec {
        Some(spec) => {
            flags.check(spec, path, "--init takes the architecture from the file")?;
            flags.arch(hidden_layers)?
        }
        None => {
            flags.check_plain(&header.sizes, path, false)?;
            let mut arch = flags.arch(hidden_layers)?;
            let classes = matches!(train.targets, Targets::Classes { .. });
            let loss = arch.loss.unwrap_or(if classes {
                Loss::CrossEntropy
            } else {
                Loss::Mse
            });
            arch.output = arch.output.or(Some(loss.default_output()));
            arch.loss = Some(loss);
            arch
        }
    };
    let model = Model::load_with(path, &arch)?;
    let spec = &model.spec;
    if spec.inputs() != train.dim || spec.outputs() != train.target_width() {
        bail!(
            "{} holds a {} network ({} inputs, {} outputs), but {} has {} inputs and {} {}: give --data of its shape",
            path.display(),
            spec.describe(),
            spec.inputs(),
            spec.outputs(),
            a.data
                .as_deref()
                .or(header.data.as_deref())
                .unwrap_or("digits"),
            train.dim,
            train.target_width(),
            if matches!(train.targets, Targets::Classes { .. }) {
                "classes"
            } else {
                "targets"
            }
        );
    }
    Ok(model)
}

/// The training data: a resumed run's CSV file read with its table, else the source read as
/// the CSV flags say.
fn load(st: &Settings) -> Result<Split> {
    if let Some(t) = &st.table {
        let rows = t.read(Path::new(&st.data), Need::Targets, None)?;
        return Ok(Split {
            train: rows.data,
            test: None,
            table: Some(t.clone()),
            counts: rows.counts,
        });
    }
    Ok(data::load_source(&st.data, &st.csv, &super::data_roots())?)
}

/// A --valid or --test file, read with the training file's table.
fn extra_file(flag: &str, path: &Path, table: Option<&Table>) -> Result<Dataset> {
    let Some(t) = table else {
        bail!(
            "--{flag} {}: applies when --data is a CSV file",
            path.display()
        );
    };
    let rows = t.read(path, Need::Targets, None)?;
    if rows.counts.unseen > 0 {
        note!(
            "note: {}: {} categorical cells hold values the training file does not have; read as none of its levels",
            path.display(),
            rows.counts.unseen
        );
    }
    Ok(rows.data)
}

/// The session the flags describe: data, model, config, device, checkpoints, resumed state.
fn session(
    a: &TrainArgs,
    st: &Settings,
    resumed: Option<Resumed>,
    init: Option<&Header>,
) -> Result<(Trainer, Split)> {
    let Split {
        train,
        mut test,
        table,
        counts,
    } = load(st)?;
    let init = a.init.as_deref().zip(init);
    let model = model(a, st, resumed.as_ref(), init, &train, table.as_ref())?;
    // What `open` reports of the data; the rows go to the trainer.
    let summary = Split {
        train: train.subset(&[]),
        test: None,
        table: table.clone(),
        counts,
    };
    let config = Config {
        lr: st.hp.lr,
        l2: st.hp.l2,
        batch: st.hp.batch,
        epochs: st.hp.epochs,
        seed: st.hp.seed,
        optimizer: st.optimizer,
        schedule: st.schedule,
        patience: a.patience,
    };
    // --init's parameters were trained on inputs (and targets) as its file says: standardised
    // with its statistics, or raw when it has none (a PyTorch file), unless a flag says otherwise.
    let from_file = a.init.is_some().then(|| {
        (
            model.input.standardize.is_some(),
            model.input.target_standardize.is_some(),
        )
    });
    let mut t = Trainer::new(model, train, config)
        .source(wgtrain::data::source_to_store(&st.data))
        .device(device(a)?);
    if a.standardize || a.no_standardize {
        t = t.standardize(a.standardize);
    } else if let Some((inputs, _)) = from_file {
        t = t.standardize(inputs);
    }
    if a.no_standardize_targets {
        t = t.standardize_targets(false);
    } else if let Some((_, targets)) = from_file {
        t = t.standardize_targets(targets);
    }
    if let Some(path) = &a.test {
        test = Some(extra_file("test", path, table.as_ref())?);
    }
    if let Some(test) = test {
        t = t.test(test);
    }
    if let Some(path) = &a.valid {
        t = t.validation(extra_file("valid", path, table.as_ref())?);
    }
    if let Some(f) = st.valid_split {
        t = t.hold_out(f);
    }
    if let Some(path) = &a.save {
        t = t.checkpoints(Checkpoints {
            path: path.clone(),
            every: a.checkpoint_every,
            keep_best: a.keep_best,
        });
    }
    if let Some(r) = resumed {
        t = t.resume(r.state);
    }
    Ok((t, summary))
}

/// Opens the session's device and prints the lines that open a run: why the CPU, data and
/// network, device, optimizer, and where a resumed run continues.
fn open(a: &TrainArgs, st: &Settings, t: &mut Trainer, split: &Split) -> Result<()> {
    let opened = t.open()?.clone();
    match &opened.fallback {
        Some(Fallback::SoftwareAdapter(name)) => note!(
            "note: no hardware GPU adapter; training on the CPU path, which is faster than the software adapter '{name}' on the same cores (--device gpu uses it)"
        ),
        Some(Fallback::NoAdapter) => note!(
            "note: no GPU adapter found; training on the CPU path ({})",
            wgtrain::gpu::context::INSTALL_HINT
        ),
        None => {}
    }
    let [n_train, n_valid, n_test] = t.sizes().unwrap_or_default();
    let count = |n: usize, what: &str| {
        if n > 0 {
            format!(", {n} {what}")
        } else {
            String::new()
        }
    };
    let spec = t.spec();
    let imputed = match split.counts.imputed {
        0 => String::new(),
        1 => "; 1 missing value imputed".to_string(),
        k => format!("; {k} missing values imputed"),
    };
    note!(
        "data: {} ({n_train} train{}{}{imputed}), network: {} ({} parameters)",
        st.data,
        count(n_valid, "validation"),
        count(n_test, "test"),
        spec.describe(),
        spec.n_params()
    );
    if let Some(table) = &split.table {
        note!(
            "columns: {}{}",
            table.describe(),
            if t.model()?.input.standardize.is_some() {
                "; features standardised"
            } else {
                ""
            }
        );
        for (i, name, why) in table.left_out() {
            let named = match why {
                data::LeftOut::Index => String::new(),
                _ => format!(" ({name:?})"),
            };
            note!(
                "note: column {i}{named} left out: {}; --feature {i} reads it as an input",
                why.reason()
            );
        }
    }
    note!("device: {}", opened.description);
    let hp = &st.hp;
    note!(
        "optimizer: {}, lr {}{}, schedule {}",
        st.optimizer.describe(),
        hp.lr,
        if hp.l2 > 0.0 {
            format!(", l2 {}", hp.l2)
        } else {
            String::new()
        },
        st.schedule.describe()
    );
    if let Some(z) = &t.input().target_standardize {
        let figures = |v: &[f32]| {
            v.iter()
                .map(|x| format!("{x:.4}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        note!(
            "targets: standardised for training (mean {}, std {}); losses, metrics, eval and predict are in the targets' units{}",
            figures(&z.mean),
            figures(&z.std),
            if z.std.len() > 1 {
                ", except the training loss of several targets"
            } else {
                ""
            }
        );
    }
    if let Some(path) = &a.resume {
        let start = t.progress();
        note!(
            "resuming {} after epoch {}{}",
            path.display(),
            start.epoch,
            if start.batch > 0 {
                format!(" and {} batches of the next", start.batch)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Trains, printing a line and appending metrics as each epoch ends. The first SIGINT, SIGTERM
/// or SIGHUP stops the run after the step under way (the session then saves), a second one
/// exits at once.
/// A metrics file that cannot be written stops the run the same way (the session saves), and
/// is the error the command ends with.
fn fit(a: &TrainArgs, st: &Settings, t: &mut Trainer, ended: &mut Ended) -> Result<Fit> {
    let token = t.stop_token();
    ended.watch = Some(Watch::start(token.clone())?);
    // Opened when the first epoch ends, so a run that fails before that writes nothing; then
    // one line appended and flushed per epoch, so a long run can be followed as it goes.
    let mut metrics_file: Option<std::io::BufWriter<std::fs::File>> = None;
    // A resumed run appends to the metrics of the run it continues.
    let append = a.resume.is_some();
    let start = t.progress();
    let epochs = start.epoch + st.hp.epochs;
    let n_train = t.sizes().unwrap_or_default()[0];
    let bar = BatchBar::new(
        a.quiet,
        n_train.div_ceil(st.hp.batch),
        start.epoch,
        epochs,
        &token,
    );
    // The hint to standardise only where the inputs are not already (CSV runs are by default).
    let standardized = t.input().standardize.is_some();
    let fit = t.fit(|r| {
        let warning = r.loss_rise.map(|ratio| {
            format!(
                "warning: epoch {}'s training loss ({:.4}) is {ratio:.0} times the first batch's: the run is climbing, not learning; try a lower --lr (now {}){}",
                r.epoch,
                r.train_loss,
                st.hp.lr,
                if standardized {
                    ""
                } else {
                    ", or --standardize the inputs"
                }
            )
        });
        let warn = || {
            if let Some(w) = &warning {
                let _ = writeln!(std::io::stderr(), "{w}");
            }
        };
        if a.quiet {
            warn();
        } else {
            // Not println!: a terminal closed under a running job must not end it unsaved.
            bar.epoch_done(r.epoch, || {
                let _ = writeln!(std::io::stdout(), "{}", epoch_line(r, epochs));
                warn();
            });
        }
        if let Some(path) = &a.metrics
            && ended.metrics.is_none()
            && let Err(e) = append_metrics(&mut metrics_file, path, &r.to_json(), append)
        {
            ended.metrics = Some(e);
            token.stop();
        }
        Ok(())
    });
    bar.finish();
    Ok(fit?)
}

/// After training: the saves first (an interrupted run without --save saves to
/// `INTERRUPTED_FILE`), then the quiet run's last line, then the plot, so that nothing after
/// training can lose the model; an interrupted run exits with 128 + the signal.
fn finish(a: &TrainArgs, epochs: usize, t: &mut Trainer, fit: &Fit, ended: Ended) -> Result<()> {
    let say = |line: String| {
        let _ = writeln!(std::io::stderr(), "{line}");
    };
    let last = fit.reports.last();
    if let Some(e) = &fit.save_error {
        // The model is in the rescue file (fit wrote it, or failed saying so): say where first,
        // then the plot, then fail.
        let at = fit.rescued.as_ref().map_or(String::new(), |p| {
            format!(
                "; the model as it ended is in {} (--resume {} continues from there)",
                p.display(),
                p.display()
            )
        });
        say(format!("error: the checkpoint could not be saved: {e}{at}"));
        draw(a, fit)?;
        std::process::exit(1);
    }
    // The token stopped the run: within an epoch, at an epoch's end (a stop that came while it
    // was evaluated or printed), or before the first step.
    if fit.interrupted {
        let path = match &fit.saved {
            Some(p) => p.clone(),
            None => {
                let p = a
                    .save
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(INTERRUPTED_FILE));
                t.save(&p)?;
                p
            }
        };
        let at = t.progress();
        let when = if at.batch == 0 {
            format!("after epoch {}", at.epoch)
        } else {
            format!("in epoch {} after {} batches", at.epoch + 1, at.batch)
        };
        say(format!(
            "stopped {when}; parameters saved to {} (--resume {} continues from there)",
            path.display(),
            path.display()
        ));
    } else {
        if a.quiet
            && let Some(r) = last
        {
            let _ = writeln!(std::io::stdout(), "{}", epoch_line(r, epochs));
        }
        if let (Some(e), Some(p)) = (fit.stopped_early, a.patience) {
            say(format!(
                "stopped early after epoch {e} of {epochs}: the validation loss has not improved for {p} epochs{}",
                fit.best
                    .map_or(String::new(), |b| format!(" (lowest in epoch {b})"))
            ));
        }
        if let Some(path) = &fit.saved {
            match fit
                .kept
                .and_then(|k| fit.reports.iter().find(|r| r.epoch == k))
            {
                // --keep-best: the file holds that epoch, not the last one printed.
                Some(best) => {
                    let (what, loss, acc, reg) = match best.valid_loss {
                        Some(l) => ("validation", l, best.valid_accuracy, &best.valid_regression),
                        None => (
                            "test",
                            best.test_loss.unwrap_or(f64::NAN),
                            best.test_accuracy,
                            &best.test_regression,
                        ),
                    };
                    say(format!(
                        "saved {}: epoch {}, the lowest {what} loss ({loss:.4}{}{})",
                        path.display(),
                        best.epoch,
                        acc.map_or(String::new(), |a| format!(", accuracy {:.2}%", a * 100.0)),
                        reg.as_ref().map_or(String::new(), |m| format!(
                            ", rmse {}, r2 {}",
                            wgtrain::evaluate::figure(m.rmse),
                            m.r2.map_or("n/a".into(), |v| format!("{v:.4}"))
                        ))
                    ));
                }
                None => say(format!("saved {}", path.display())),
            }
        }
    }
    draw(a, fit)?;
    if let Some(e) = ended.metrics {
        return Err(e.into());
    }
    if fit.interrupted {
        std::process::exit(ended.watch.as_ref().map_or(130, Watch::exit_code));
    }
    Ok(())
}

/// --plot's picture of the run, when it has epochs.
fn draw(a: &TrainArgs, fit: &Fit) -> Result<()> {
    if let Some(path) = &a.plot
        && !fit.reports.is_empty()
    {
        let points: Vec<wgtrain::plot::Point> = fit.reports.iter().map(Into::into).collect();
        wgtrain::plot::draw(&points, path, super::font().as_deref())?;
        note!("plotted {}", path.display());
    }
    Ok(())
}

/// `wgtrain train`: the settings, then the session (data, network, device), the epochs, the
/// report.
pub fn run(a: TrainArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    if a.checkpoint_every == Some(0) {
        bail!("--checkpoint-every must be at least 1");
    }
    let resumed = a.resume.as_deref().map(load_resumed).transpose()?;
    let init = a.init.as_deref().map(checkpoint::inspect).transpose()?;
    let mut given = flags(&a)?;
    // --init without --data trains on the data the file's run did, read as that run read it.
    let mut init_table = None;
    if let (Some(h), None, Some(path)) = (&init, &a.data, &a.init)
        && let Some(d) = &h.data
    {
        let d = &wgtrain::data::stored_source(d, path);
        note!(
            "note: training on {d}, the data {}'s run trained on (--data to change)",
            path.display()
        );
        given.data = Some(d.clone());
        if h.table.is_some() {
            if given.csv != CsvOptions::default() {
                bail!(
                    "{}: its run's data is read with the CSV table stored in it; the CSV flags apply to a file given with --data",
                    path.display()
                );
            }
            init_table = h.table.clone();
        } else {
            // A file from before tables: its stored layout.
            given.csv.label = given.csv.label.or(h.label_column.map(Column::Number));
            given.csv.targets = given.csv.targets.or(h.targets.map(TargetColumns::Last));
        }
    }
    let mut st = Settings::from_flags(&given, resumed.as_ref().map(|r| (&r.state, r.path)))?;
    if init_table.is_some() {
        st.table = init_table;
    }
    if let (Some(p), None, None) = (a.patience, st.valid_split, &a.valid) {
        bail!(
            "--patience {p} stops on the validation loss, and this run has no validation set: add --valid-split F or --valid FILE"
        );
    }
    check_outputs(&a)?;
    let (mut t, split) = session(&a, &st, resumed, init.as_ref())?;
    open(&a, &st, &mut t, &split)?;
    let Some(epochs) = t.progress().epoch.checked_add(st.hp.epochs) else {
        bail!(
            "--epochs {}: with the {} epochs already trained, the count overflows",
            st.hp.epochs,
            t.progress().epoch
        );
    };
    let mut ended = Ended::default();
    let fit = fit(&a, &st, &mut t, &mut ended)?;
    finish(&a, epochs, &mut t, &fit, ended)
}

/// A progress bar over the batches of the current epoch, on stderr when it is a terminal (and
/// not --quiet); nothing otherwise. A thread follows the steps the backends note.
struct BatchBar {
    bar: Option<indicatif::ProgressBar>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BatchBar {
    fn new(
        quiet: bool,
        per_epoch: usize,
        first_epoch: usize,
        epochs: usize,
        token: &train::StopToken,
    ) -> BatchBar {
        use std::io::IsTerminal;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if quiet || !std::io::stderr().is_terminal() {
            return BatchBar { bar: None, stop };
        }
        let bar = indicatif::ProgressBar::new(per_epoch as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "epoch {msg} [{bar:40}] {pos}/{len} batches, eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("{}/{epochs}", first_epoch + 1));
        let (b, done) = (bar.clone(), stop.clone());
        let token = token.clone();
        std::thread::spawn(move || {
            let per_epoch = per_epoch.max(1);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let steps = token.steps();
                b.set_position((steps % per_epoch) as u64);
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        BatchBar {
            bar: Some(bar),
            stop,
        }
    }

    /// Prints an epoch's line above the bar and starts the next epoch's count.
    fn epoch_done(&self, epoch: usize, print: impl FnOnce()) {
        match &self.bar {
            Some(b) => {
                b.suspend(print);
                b.set_position(0);
                let epochs = b.message().split('/').nth(1).unwrap_or("").to_string();
                b.set_message(format!("{}/{epochs}", epoch + 1));
            }
            None => print(),
        }
    }

    fn finish(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// `rmse X  r2 Y` of regression metrics (`r2 n/a` where R² is undefined), after `what`.
fn regression_figures(what: &str, m: &wgtrain::evaluate::RegressionMetrics) -> String {
    format!(
        "  {what} rmse {}  {what} r2 {}",
        wgtrain::evaluate::figure(m.rmse),
        m.r2.map_or("n/a".into(), |v| format!("{v:.4}"))
    )
}

/// One epoch's line: losses, accuracies (classes) or RMSE and R² (regression), speed, elapsed
/// time.
fn epoch_line(r: &train::EpochReport, epochs: usize) -> String {
    let mut line = format!(
        "epoch {:>3}/{epochs}  train loss {:.4}{}",
        r.epoch,
        r.train_loss,
        if r.train_loss_standardized {
            " (standardized targets)"
        } else {
            ""
        }
    );
    for (what, loss, acc, reg) in [
        ("valid", r.valid_loss, r.valid_accuracy, &r.valid_regression),
        ("test", r.test_loss, r.test_accuracy, &r.test_regression),
    ] {
        if let Some(l) = loss {
            line += &format!("  {what} loss {l:.4}");
        }
        if let Some(acc) = acc {
            line += &format!("  {what} acc {:.2}%", acc * 100.0);
        }
        if let Some(m) = reg {
            line += &regression_figures(what, m);
        }
    }
    line + &format!("  {:.0} samples/s  {:.2} s", r.samples_per_sec, r.elapsed)
}

/// Appends `line` to the metrics file, opened on the first call: created afresh, or with
/// `append` (a resumed run) added to.
fn append_metrics(
    file: &mut Option<std::io::BufWriter<std::fs::File>>,
    path: &Path,
    line: &str,
    append: bool,
) -> wgtrain::Result<()> {
    let io = |err| wgtrain::Error::Io {
        path: path.to_path_buf(),
        err,
    };
    if file.is_none() {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(io)?;
        *file = Some(std::io::BufWriter::new(f));
    }
    if let Some(f) = file.as_mut() {
        writeln!(f, "{line}").map_err(io)?;
        f.flush().map_err(io)?;
    }
    Ok(())
}
