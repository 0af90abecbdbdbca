//! `wgtrain train`: build the network from the data and the flags (or take both from a checkpoint
//! to resume), train, report, save.
//!
//! One file because it is one flow, read top to bottom: flags to settings, data and model (or a
//! resumed run), the session, the epoch loop's lines and bars, the final report and the saves;
//! the flags themselves are in `args`.

use std::io::Write;

use anyhow::Result;

use super::signals::Watch;
use wgtrain::Device;
use wgtrain::run::{Data, Finished, Outputs, Run, RunPlan, Settings, Start};
use wgtrain::session::{Checkpoints, Fallback, Fit};
use wgtrain::train;

mod args;

pub use args::TrainArgs;

/// The device `--device` and `--backend` ask for, with the adapter that `WGPU_ADAPTER_NAME`
/// names and the matmul choice of `WGTRAIN_MATMUL`. `--threads` sized the process's pool
/// (`set_threads`), which the CPU path then uses: no second pool.
fn device(a: &TrainArgs) -> Result<Device> {
    let gpu = super::gpu_options(a.backend)?;
    Ok(match a.device.as_str() {
        "cpu" => Device::cpu(),
        "gpu" => Device::Gpu(gpu),
        _ => Device::Auto { gpu, threads: None },
    })
}

/// The run the flags describe, for the library to check and open.
fn plan(a: &TrainArgs) -> Result<RunPlan> {
    let start = match (&a.init, &a.resume) {
        (Some(p), _) => Start::Init(p.clone()),
        (None, Some(p)) => Start::Resume(p.clone()),
        (None, None) => Start::New,
    };
    let file = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| Data::Source(p.to_string_lossy().into_owned()))
    };
    let on = |yes: bool, no: bool| (yes || no).then_some(yes);
    Ok(RunPlan {
        start,
        data: a.data.clone().map(Data::Source),
        valid: file(&a.valid),
        test: file(&a.test),
        csv: super::table::csv_options(&a.csv)?,
        arch: super::arch(&a.hidden, &a.activation, a.output, a.loss)?,
        settings: Settings {
            epochs: a.epochs,
            lr: a.lr,
            l2: a.l2,
            batch: a.batch,
            seed: a.seed,
            optimizer: a.optimizer,
            momentum: a.momentum,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            weight_decay: a.weight_decay,
            schedule: a.schedule.as_deref().map(str::parse).transpose()?,
            lr_step: a.lr_step,
            lr_gamma: a.lr_gamma,
            warmup: a.warmup,
            valid_split: a.valid_split,
            patience: a.patience,
            class_weight: a.class_weight.as_deref().map(str::parse).transpose()?,
        },
        standardize: on(a.standardize, a.no_standardize),
        standardize_targets: a.no_standardize_targets.then_some(false),
        device: device(a)?,
        outputs: Outputs {
            checkpoint: a.save.clone().map(|path| Checkpoints {
                path,
                every: a.checkpoint_every,
                keep_best: a.keep_best,
            }),
            metrics: a.metrics.clone(),
            plot: a.plot.clone(),
            font: super::font(),
        },
        data_roots: super::data_roots(),
        classes: a.classes,
    })
}

/// The lines that open a run: the plan's notes, why the CPU, data and network, device,
/// optimizer, and where a resumed run continues.
fn opening(run: &mut Run, a: &TrainArgs) -> Result<()> {
    let resumed = a.resume.as_deref();
    for n in run.notes() {
        note!("note: {}", super::in_flags(n));
    }
    let (name, table, counts) = (
        run.data_name().to_string(),
        run.table().cloned(),
        run.counts(),
    );
    let opened = run.trainer().open()?.clone();
    fallback_note(opened.fallback.as_ref(), a);
    // The data and the network, with the table's columns and notes when the data is a table.
    let t = run.trainer();
    let [n_train, n_valid, n_test] = t.sizes().unwrap_or_default();
    let spec = t.spec();
    let imputed = match counts.imputed {
        0 => String::new(),
        1 => "; 1 missing value imputed".to_string(),
        k => format!("; {k} missing values imputed"),
    };
    note!(
        "data: {name} ({n_train} train{}{}{imputed}), network: {} ({} parameters)",
        count(n_valid, "validation"),
        count(n_test, "test"),
        spec.describe(),
        spec.n_params()
    );
    if let Some(table) = &table {
        note!(
            "columns: {}{}",
            table.describe(),
            if t.input().standardize.is_some() {
                "; features standardised"
            } else {
                ""
            }
        );
        for n in table.notes() {
            note!("note: {}", super::in_flags(&n));
        }
    }
    note!("device: {}", opened.description);
    training_notes(run);
    if let Some(path) = resumed {
        let start = run.trainer().progress();
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

/// Why a run asked to pick its device trains on the CPU, when it does.
fn fallback_note(fallback: Option<&Fallback>, a: &TrainArgs) {
    match fallback {
        Some(Fallback::SoftwareAdapter(name)) => note!(
            "note: no hardware GPU adapter; training on the CPU path, which is faster than the software adapter '{name}' on the same cores (--device gpu uses it)"
        ),
        Some(Fallback::NoAdapter) => note!(
            "note: no GPU adapter found; training on the CPU path ({})",
            super::in_flags(&wgtrain::config::no_adapter_hint(a.backend))
        ),
        None => {}
    }
}

/// `, N what` for a set of `n` rows, nothing for an empty one.
fn count(n: usize, what: &str) -> String {
    if n > 0 {
        format!(", {n} {what}")
    } else {
        String::new()
    }
}

/// How the run trains: the optimizer and schedule, the class weights and the targets'
/// standardisation where there are any.
fn training_notes(run: &mut Run) {
    let t = run.trainer();
    let c = t.config();
    note!(
        "optimizer: {}, lr {}{}, schedule {}",
        c.optimizer.describe(),
        c.lr,
        if c.l2 > 0.0 {
            format!(", l2 {}", c.l2)
        } else {
            String::new()
        },
        c.schedule.describe()
    );
    if let Some(w) = t.class_weights() {
        let names = t.input().table.as_ref().and_then(|t| t.classes.clone());
        let each: Vec<String> = w
            .iter()
            .enumerate()
            .map(|(c, w)| {
                let name = names.as_ref().and_then(|n| n.get(c)).cloned();
                format!("{} {w:.4}", name.unwrap_or_else(|| c.to_string()))
            })
            .collect();
        note!(
            "class weights: {} (each training row's loss counts its class's weight)",
            each.join(", ")
        );
    }
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
}

/// Trains, printing a line as each epoch ends (the run appends the metrics). The first SIGINT,
/// SIGTERM or SIGHUP stops the run after the step under way (the session then saves), a second
/// one exits at once.
fn fit(a: &TrainArgs, run: &mut Run, watch: &mut Option<Watch>) -> Result<Finished> {
    let epochs = run.last_epoch();
    let t = run.trainer();
    let token = t.stop_token();
    *watch = Some(Watch::start(token.clone())?);
    let start = t.progress();
    let n_train = t.sizes().unwrap_or_default()[0];
    let (lr, batch, l2) = (t.config().lr, t.config().batch, t.config().l2);
    let bar = BatchBar::new(
        a.quiet,
        n_train.div_ceil(batch),
        start.epoch,
        epochs,
        &token,
    );
    // The hint to standardise only where the inputs are not already (CSV runs are by default).
    let standardized = t.input().standardize.is_some();
    let end = run.fit(|r| {
        let warning = r.loss_rise.map(|ratio| {
            let advice = if lr * l2 > 1.0 {
                super::in_flags(&train::divergence_advice(lr, l2))
                    .replace("a lower learning rate", "a lower --lr")
            } else {
                format!("try a lower --lr (now {lr})")
            };
            format!(
                "warning: epoch {}'s training loss ({:.4}) is {ratio:.0} times the first batch's: the run is climbing, not learning; {advice}{}",
                r.epoch,
                r.train_loss,
                if standardized || lr * l2 > 1.0 {
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
        Ok(())
    });
    bar.finish();
    Ok(end?)
}

/// After training: the saves first (an interrupted run without --save saves to the library's
/// `INTERRUPTED_FILE`), then the quiet run's last line, then the plot, so that nothing after
/// training can lose the model; an interrupted run exits with 128 + the signal.
fn finish(a: &TrainArgs, run: &mut Run, end: Finished, watch: Option<Watch>) -> Result<()> {
    let say = |line: String| {
        let _ = writeln!(std::io::stderr(), "{line}");
    };
    let Finished {
        fit,
        metrics_error,
        kept_test,
    } = end;
    let epochs = run.last_epoch();
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
        draw(run, &fit)?;
        std::process::exit(1);
    }
    // The token stopped the run: within an epoch, at an epoch's end (a stop that came while it
    // was evaluated or printed), or before the first step.
    if fit.interrupted {
        let path = run.save_stopped(&fit)?;
        let at = run.trainer().progress();
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
            && let Some(r) = fit.reports.last()
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
            say(saved_line(path, &fit));
        }
        // The saved model's test figures, when the file holds an earlier epoch than the last
        // line printed (for the last one, that line has them already).
        let last = fit.reports.last().map(|r| r.epoch);
        if let (Some(e), Some(k)) = (&kept_test, fit.kept.filter(|&k| Some(k) != last)) {
            let _ = writeln!(std::io::stdout(), "{}", kept_line(e, k));
        }
    }
    draw(run, &fit)?;
    if let Some(e) = metrics_error {
        return Err(e.into());
    }
    if fit.interrupted {
        std::process::exit(watch.as_ref().map_or(130, Watch::exit_code));
    }
    Ok(())
}

/// "saved FILE", and with --keep-best which epoch the file holds (not the last one printed).
fn saved_line(path: &std::path::Path, fit: &Fit) -> String {
    let Some(best) = fit
        .kept
        .and_then(|k| fit.reports.iter().find(|r| r.epoch == k))
    else {
        return format!("saved {}", path.display());
    };
    let (what, loss, acc, reg) = match best.valid_loss {
        Some(l) => ("validation", l, best.valid_accuracy, &best.valid_regression),
        None => (
            "test",
            best.test_loss.unwrap_or(f64::NAN),
            best.test_accuracy,
            &best.test_regression,
        ),
    };
    format!(
        "saved {}: epoch {}, the lowest {what} loss ({loss:.4}{}{})",
        path.display(),
        best.epoch,
        acc.map_or(String::new(), |a| format!(", accuracy {:.2}%", a * 100.0)),
        reg.as_ref().map_or(String::new(), |m| format!(
            ", rmse {}, r2 {}",
            wgtrain::evaluate::figure(m.rmse),
            m.r2.map_or("n/a".into(), |v| format!("{v:.4}"))
        ))
    )
}

/// The result of a --keep-best run with a test set: the saved model's figures on it (the
/// epochs' lines above end with the last epoch's).
fn kept_line(e: &wgtrain::evaluate::Evaluation, epoch: usize) -> String {
    let mut s = format!("test, the saved model (epoch {epoch}): loss {:.4}", e.loss);
    if let Some(a) = e.accuracy {
        s += &format!("  accuracy {:.2}%", a * 100.0);
    }
    if let Some(b) = e.balanced_accuracy {
        s += &format!("  balanced accuracy {:.2}%", b * 100.0);
    }
    if let Some(m) = &e.regression {
        s += &format!(
            "  rmse {}  r2 {}",
            wgtrain::evaluate::figure(m.rmse),
            m.r2.map_or("n/a".into(), |v| format!("{v:.4}"))
        );
    }
    s
}

/// --plot's picture of the run, when it has epochs.
fn draw(run: &Run, fit: &Fit) -> Result<()> {
    if let Some(path) = run.draw(fit)? {
        note!("plotted {}", path.display());
    }
    Ok(())
}

/// `wgtrain train`: the plan, checked and opened by the library, then the epochs, the report.
pub fn run(a: TrainArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    let mut run = plan(&a)?.open()?;
    opening(&mut run, &a)?;
    let mut watch = None;
    let end = fit(&a, &mut run, &mut watch)?;
    finish(&a, &mut run, end, watch)
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
