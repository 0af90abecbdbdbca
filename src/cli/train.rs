//! `wgtrain train`: build the network from the data and the flags (or take both from a checkpoint
//! to resume), train, report, save.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use wgtrain::checkpoint::{self, TrainingState};
use wgtrain::cpu::fast::CpuTrainer;
use wgtrain::data::standardize::Standardize;
use wgtrain::data::{self, Dataset, Targets};
use wgtrain::gpu::{BackendChoice, GpuContext, GpuTrainer, context};
use wgtrain::model::{Loss, Output, Params, Spec};
use wgtrain::optim::{Method, OptimState};
use super::settings::{self, ArchFlags, Flags, Settings};
use wgtrain::train::{self, Backend, Plan, Progress, Role};

const LOSS_HELP: &str = "Loss, per batch of N samples (outputs a, targets y):
  cross-entropy  L = -(1/N) Σ_n log softmax(z_n)[y_n]   (softmax output; labels are class indices)
  bce            L = -(1/N) Σ_n Σ_k [y log a + (1-y) log(1-a)]   (sigmoid output, computed from logits)
  mse            L = (1/N) Σ_n ½‖a_n - y_n‖²   (linear or sigmoid output; gradient (a - y)/N)
Default: cross-entropy for class labels, mse for real-valued targets.";

const OPTIMIZER_HELP: &str =
    "The update rule (PyTorch's torch.optim definitions). With g = dθ + 2λθ (λ = --l2, \
weights only) and lr this step's rate (--lr scaled by --schedule):
  sgd       θ -= lr·g   (default; on the CPU fused into the weight-gradient GEMM)
  momentum  v = μ·v + g;  θ -= lr·v   (μ = --momentum, dampening 0, v starts at 0)
  nesterov  v = μ·v + g;  θ -= lr·(g + μ·v)
  adam      m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;  at update t = 1, 2, ...:
            θ -= lr·m̂ / (sqrt(v̂) + eps),  m̂ = m/(1-β1^t),  v̂ = v/(1-β2^t)
  adamw     θ *= 1 - lr·wd (wd = --weight-decay, weights only), then as adam
Adam's usual --lr is about 0.001.";

const SCHEDULE_HELP: &str =
    "How the learning rate changes over the run, per step s (0-based) of epoch e:
  constant  lr   (default)
  step      lr·G^floor(e/N)   (G = --lr-gamma, N = --lr-step epochs)
  cosine    lr·½(1 + cos(π·p)),  p from 0 after the warm-up to 1 at the end of the run
--warmup W multiplies either by (s+1)/W for the first W steps. With --resume the run is all of
its epochs, those before the checkpoint included.";

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Dataset: digits (built in: UCI handwritten digits, 1437 train / 360 test), xor, or a
    /// CSV file (optional header; last column an integer class label, or see --targets).
    /// [default: digits; with --resume the checkpoint's]
    #[arg(long)]
    data: Option<String>,
    /// The last K CSV columns are real-valued targets (for mse/bce) instead of one class label.
    #[arg(long, value_name = "K")]
    targets: Option<usize>,
    /// Hidden layer sizes, comma separated; an empty string means no hidden layer.
    /// [default: 64]
    #[arg(long)]
    hidden: Option<String>,
    /// Hidden activation(s): relu, sigmoid, tanh, leaky-relu (slope 0.01), linear; one for all
    /// hidden layers or a comma list, one per layer. [default: relu]
    #[arg(long)]
    activation: Option<String>,
    /// Output activation: softmax, sigmoid, linear. Default: the one that fits the loss.
    #[arg(long)]
    output: Option<Output>,
    #[arg(long, long_help = LOSS_HELP, help = "Loss: cross-entropy, bce, mse (see --help for the formulas)")]
    loss: Option<Loss>,
    /// Learning rate (the base rate --schedule scales). [default: 0.1]
    #[arg(long, allow_hyphen_values = true)]
    lr: Option<f32>,
    /// Mini-batch size; a last partial batch is trained, not dropped. [default: 32]
    #[arg(long, value_parser = count)]
    batch: Option<usize>,
    /// Epochs to train; with --resume, epochs to train after those in the checkpoint.
    #[arg(long, default_value_t = 20, value_parser = count)]
    epochs: usize,
    /// Seed of the initialisation and of each epoch's shuffle. [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// L2 regularisation: adds λ‖W‖² to the loss (gradient 2λW) under every optimizer; biases
    /// are not decayed. [default: 0]
    #[arg(long, value_name = "λ", allow_hyphen_values = true)]
    l2: Option<f32>,
    #[arg(
        long,
        value_name = "NAME",
        long_help = OPTIMIZER_HELP,
        help = "Optimizer: sgd, momentum, nesterov, adam, adamw (see --help for the updates) [default: sgd]"
    )]
    optimizer: Option<Method>,
    /// μ of --optimizer momentum and nesterov, in [0, 1). [default: 0.9]
    #[arg(long, value_name = "μ", allow_hyphen_values = true)]
    momentum: Option<f32>,
    /// Adam's decay of the gradient mean m, in [0, 1). [default: 0.9]
    #[arg(long, value_name = "β1", allow_hyphen_values = true)]
    beta1: Option<f32>,
    /// Adam's decay of the squared-gradient mean v, in [0, 1). [default: 0.999]
    #[arg(long, value_name = "β2", allow_hyphen_values = true)]
    beta2: Option<f32>,
    /// Adam's eps, added to sqrt(v̂) in the denominator, above 0. [default: 1e-8]
    #[arg(long, allow_hyphen_values = true)]
    eps: Option<f32>,
    /// AdamW's decoupled weight decay wd: θ *= 1 - lr·wd each step, weights only (biases are
    /// not decayed). Only with --optimizer adamw; use --l2 for the 2λW gradient term. [default: 0]
    #[arg(long, value_name = "wd", allow_hyphen_values = true)]
    weight_decay: Option<f32>,
    #[arg(
        long,
        value_name = "NAME",
        value_parser = ["constant", "step", "cosine"],
        long_help = SCHEDULE_HELP,
        help = "Learning-rate schedule: constant, step, cosine (see --help) [default: constant]"
    )]
    schedule: Option<String>,
    /// --schedule step: epochs between two decays by --lr-gamma (required with step).
    #[arg(long, value_name = "N", value_parser = count)]
    lr_step: Option<usize>,
    /// --schedule step: the factor of each decay, in (0, 1]. [default: 0.1]
    #[arg(long, value_name = "G", allow_hyphen_values = true)]
    lr_gamma: Option<f32>,
    /// Linear warm-up over the first N steps (batches): step s gets (s+1)/N of the rate.
    /// [default: 0, none]
    #[arg(long, value_name = "N", value_parser = count)]
    warmup: Option<usize>,
    /// auto: a hardware GPU adapter when there is one, else the CPU; gpu: any adapter,
    /// software ones (llvmpipe) included; cpu: the fast CPU path.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    device: String,
    /// Threads of the CPU path. [default: one per core, or RAYON_NUM_THREADS]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// wgpu backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Start a new run from the parameters in this safetensors checkpoint (must match the
    /// architecture); the optimizer starts afresh.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    init: Option<PathBuf>,
    /// Continue the run saved in this checkpoint (by --save, --checkpoint-every, --keep-best or
    /// Ctrl-C) exactly where it stopped: the architecture, optimizer and its state, schedule,
    /// --lr, --l2, --batch, --seed and --valid-split come from the file (a flag that contradicts
    /// it is an error), the shuffle continues, and --epochs more epochs are trained.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// Save the trained parameters as safetensors (torch.nn.Linear layout: weight [out, in]),
    /// with the optimizer state and what --resume needs.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Write one JSON object per epoch (epoch, train_loss, valid_loss, valid_accuracy,
    /// test_loss, test_accuracy, seconds, samples_per_sec, elapsed) to this file.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
    /// Hold out this fraction of the training data (seeded by --seed) for validation, reported
    /// every epoch; the test split is then used only for the final report.
    #[arg(long, value_name = "F")]
    valid_split: Option<f64>,
    /// Also save to --save every N epochs (atomically: a crash leaves the old or the new file).
    #[arg(long, value_name = "N", requires = "save")]
    checkpoint_every: Option<usize>,
    /// Save to --save only when the validation loss (the test loss without --valid-split)
    /// improves, so the file holds the best epoch's parameters.
    #[arg(long, requires = "save")]
    keep_best: bool,
    /// The CSV column (1-based) that holds the class label, when it is not the last one.
    #[arg(long, value_name = "N")]
    label_column: Option<usize>,
    /// Draw loss and accuracy per epoch into this picture (.svg or .png) when training ends.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Standardise every input feature, (x - mean) / std, with statistics from the training
    /// rows only; they are stored in the checkpoint, and eval and predict apply them too.
    #[arg(long)]
    standardize: bool,
    /// No per-epoch lines (errors and the final summary still print).
    #[arg(long, short)]
    quiet: bool,
}

/// Where an interrupted run saves when there is no --save.
const INTERRUPTED_FILE: &str = "wgtrain-interrupted.safetensors";

/// A count flag: a whole number, 0 or more (clap's own message for "-3" is about digits).
fn count(s: &str) -> std::result::Result<usize, String> {
    s.trim()
        .parse()
        .map_err(|_| "expected a whole number, 0 or more".to_string())
}

/// Picks the training path for `--device`, saying which and why.
fn open_gpu(device: &str, backend: BackendChoice) -> Result<Option<GpuContext>> {
    match device {
        "cpu" => Ok(None),
        "gpu" => Ok(Some(GpuContext::new(backend)?)),
        _ => match context::pick_adapter(backend, false)? {
            Some(a) => Ok(Some(GpuContext::from_adapter(a)?)),
            None => {
                let software = context::pick_adapter(backend, true)?.map(|a| a.get_info().name);
                match software {
                    Some(name) => eprintln!(
                        "note: no hardware GPU adapter; training on the CPU path, which is faster than the software adapter '{name}' on the same cores (--device gpu uses it)"
                    ),
                    None => eprintln!(
                        "note: no GPU adapter found; training on the CPU path ({})",
                        context::INSTALL_HINT
                    ),
                }
                Ok(None)
            }
        },
    }
}

/// The run-setting flags, for the library to check against the defaults or the checkpoint.
fn flags(a: &TrainArgs) -> Flags {
    Flags {
        data: a.data.clone(),
        targets: a.targets,
        label_column: a.label_column,
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
    }
}

fn arch_flags(a: &TrainArgs) -> ArchFlags {
    ArchFlags {
        hidden: a.hidden.clone(),
        activation: a.activation.clone(),
        output: a.output,
        loss: a.loss,
    }
}

/// A checkpoint to continue: its file, network, parameters and run state.
struct Resumed<'a> {
    path: &'a Path,
    spec: Spec,
    params: Params,
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
    Ok(Resumed {
        path,
        spec,
        params,
        state,
    })
}

/// Fails before any work when an output file cannot be written or --plot names no picture.
fn check_outputs(a: &TrainArgs) -> Result<()> {
    for path in a.save.iter().chain(&a.metrics).chain(&a.plot) {
        super::check_writable(path)?;
    }
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
    Ok(())
}

/// A run ready to train: the network, the backend that holds it and the data, and what every
/// save writes besides the parameters.
struct Prepared {
    spec: Spec,
    backend: Box<dyn Backend>,
    template: TrainingState,
    start: Progress,
    n_train: usize,
    classes: bool,
    roles: Vec<Role>,
}

/// The training split and the evaluation splits (validation first), standardised when the run
/// is, with the statistics used.
struct Splits {
    train: Dataset,
    valid: Option<Dataset>,
    test: Option<Dataset>,
    standardize: Option<Standardize>,
}

/// Loads the data, holds out the validation rows and standardises every split.
fn load_splits(a: &TrainArgs, st: &Settings, resumed: Option<&Resumed>) -> Result<Splits> {
    let split = data::load_with(&st.data, st.targets, st.label_column)?;
    let (train_set, valid_set) = match st.valid_split {
        Some(f) => {
            let (t, v) = split.train.hold_out(f, st.hp.seed)?;
            (t, Some(v))
        }
        None => (split.train, None),
    };
    // --standardize: statistics from the training rows only (a resumed run reuses its own),
    // applied to every split and stored in the checkpoint for eval and predict.
    let standardize = match resumed {
        Some(r) => {
            if a.standardize && r.state.standardize.is_none() {
                bail!(
                    "{}: its run did not standardise its inputs; --standardize cannot be added on --resume",
                    r.path.display()
                );
            }
            r.state.standardize.clone()
        }
        None => a.standardize.then(|| Standardize::fit(&train_set)),
    };
    Ok(match &standardize {
        Some(z) => Splits {
            train: z.apply_to(train_set)?,
            valid: valid_set.map(|v| z.apply_to(v)).transpose()?,
            test: split.test.map(|t| z.apply_to(t)).transpose()?,
            standardize,
        },
        None => Splits {
            train: train_set,
            valid: valid_set,
            test: split.test,
            standardize,
        },
    })
}

/// The network, its parameters, the optimizer state and where training starts: the
/// checkpoint's when resuming (checked against the flags and the data), else new ones.
fn network(
    a: &TrainArgs,
    st: &Settings,
    resumed: Option<Resumed>,
    train_set: &Dataset,
    classes: bool,
) -> Result<(Spec, Params, OptimState, Progress)> {
    Ok(match resumed {
        Some(r) => {
            arch_flags(a).check(&r.spec, r.path)?;
            settings::check_resumed_data(
                r.path,
                &r.spec,
                &r.state,
                &st.data,
                train_set,
                st.hp.batch,
            )?;
            (r.spec, r.params, r.state.optim, r.state.progress)
        }
        None => {
            let spec = arch_flags(a).build(train_set.dim, train_set.target_width(), classes)?;
            let params = match &a.init {
                Some(path) => checkpoint::load_for(path, &spec)?,
                None => Params::init(&spec, st.hp.seed),
            };
            let optim = OptimState::new(st.optimizer, &spec);
            (spec, params, optim, Progress::default())
        }
    })
}

/// The lines that open a run: data and network, device, optimizer, and where a resumed run
/// continues.
fn print_header(
    a: &TrainArgs,
    st: &Settings,
    data_line: &str,
    backend: &dyn Backend,
    start: Progress,
) {
    let hp = &st.hp;
    eprintln!("{data_line}");
    eprintln!("device: {}", backend.describe());
    eprintln!(
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
    if let Some(path) = &a.resume {
        eprintln!(
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
}

/// Loads the data, builds the network (or takes the checkpoint's), opens the device and prints
/// the run's header lines.
fn prepare(a: &TrainArgs, st: &Settings, resumed: Option<Resumed>) -> Result<Prepared> {
    let hp = &st.hp;
    let Splits {
        train: train_set,
        valid: valid_set,
        test: test_set,
        standardize,
    } = load_splits(a, st, resumed.as_ref())?;
    let classes = matches!(train_set.targets, Targets::Classes { .. });
    let (spec, params, optim, start) = network(a, st, resumed, &train_set, classes)?;
    if let Some(test) = &test_set
        && (test.dim != train_set.dim || test.target_width() != train_set.target_width())
    {
        bail!("the test split's shape does not match the training split's");
    }
    let count =
        |d: Option<&Dataset>, what: &str| d.map_or(String::new(), |d| format!(", {} {what}", d.n));
    let data_line = format!(
        "data: {} ({} train{}{}), network: {} ({} parameters)",
        st.data,
        train_set.n,
        count(valid_set.as_ref(), "validation"),
        count(test_set.as_ref(), "test"),
        spec.describe(),
        spec.n_params()
    );
    let n_train = train_set.n;
    let mut eval_sets = Vec::new();
    let mut roles = Vec::new();
    if let Some(v) = valid_set {
        eval_sets.push(v);
        roles.push(Role::Valid);
    }
    if let Some(t) = test_set {
        eval_sets.push(t);
        roles.push(Role::Test);
    }
    // Each device holds the data once: the GPU trainer uploads it and the loader's copy is
    // dropped; the CPU trainer takes the loader's copy over.
    let mut backend: Box<dyn Backend> = match open_gpu(&a.device, a.backend)? {
        Some(ctx) => {
            let gpu = GpuTrainer::with_matmul(
                ctx,
                &spec,
                &params,
                &train_set,
                &eval_sets,
                hp.batch,
                super::matmul_config()?,
            )?;
            drop((train_set, eval_sets));
            Box::new(gpu)
        }
        None => Box::new(CpuTrainer::from_datasets(
            &spec, params, train_set, eval_sets, hp.batch,
        )?),
    };
    backend.set_optimizer(&optim)?;
    print_header(a, st, &data_line, backend.as_ref(), start);
    // What a checkpoint saves besides the parameters; the optimizer state and the position are
    // filled in at each save.
    let template = TrainingState {
        optim,
        schedule: st.schedule,
        lr: hp.lr,
        l2: hp.l2,
        batch: hp.batch,
        seed: hp.seed,
        progress: start,
        data: st.data.clone(),
        train_rows: n_train,
        valid_split: st.valid_split,
        standardize,
        label_column: st.label_column,
        targets: st.targets,
    };
    Ok(Prepared {
        spec,
        backend,
        template,
        start,
        n_train,
        classes,
        roles,
    })
}

/// Trains `--epochs` epochs, printing a line, appending metrics and saving checkpoints as each
/// ends; the reports, and whether --keep-best saved an epoch.
fn train_epochs(
    a: &TrainArgs,
    st: &Settings,
    run: &mut Prepared,
) -> Result<(Vec<train::EpochReport>, bool)> {
    // Ctrl-C: the first asks training to stop after the current step (and save); a second one
    // ends the process at once.
    let token = train::StopToken::new();
    let handler = token.clone();
    let _ = ctrlc::set_handler(move || {
        if handler.is_stopped() {
            eprintln!("\ninterrupted again: exiting without saving");
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupted: finishing the step under way (on the GPU, the steps already submitted), then saving"
        );
        handler.stop();
    });
    // Opened when the first epoch ends, so a run that fails before that writes nothing; then
    // one line appended and flushed per epoch, so a long run can be followed as it goes.
    let mut metrics_file: Option<std::io::BufWriter<std::fs::File>> = None;
    let epochs = run.start.epoch + st.hp.epochs;
    let mut best = f64::INFINITY;
    let mut saved_best = false;
    let plan = Plan {
        schedule: st.schedule,
        start: run.start,
    };
    let bar = BatchBar::new(
        a.quiet,
        run.n_train.div_ceil(st.hp.batch),
        run.start.epoch,
        epochs,
        &token,
    );
    let (spec, template) = (&run.spec, &run.template);
    let reports = train::run_planned(
        run.backend.as_mut(),
        run.n_train,
        &st.hp,
        &plan,
        run.classes,
        &run.roles,
        &token,
        &mut |r, backend| {
            if !a.quiet {
                bar.epoch_done(r.epoch, || println!("{}", epoch_line(r, epochs)));
            }
            if let Some(path) = &a.metrics {
                append_metrics(&mut metrics_file, path, &r.to_json())?;
            }
            if let Some(path) = &a.save {
                let monitored = r.valid_loss.or(r.test_loss);
                if a.keep_best {
                    if let Some(l) = monitored.filter(|&l| l < best) {
                        best = l;
                        saved_best = true;
                        save(path, spec, backend, template, r.progress)?;
                    }
                } else if a.checkpoint_every.is_some_and(|n| r.epoch % n == 0) && !r.interrupted {
                    save(path, spec, backend, template, r.progress)?;
                }
            }
            Ok(())
        },
    );
    bar.finish();
    Ok((reports?, saved_best))
}

/// After training: the plot, then either the interrupted run's save and exit status 130, or
/// the quiet run's last line and the final save.
fn finish(
    a: &TrainArgs,
    st: &Settings,
    run: &mut Prepared,
    reports: &[train::EpochReport],
    saved_best: bool,
) -> Result<()> {
    if let Some(path) = &a.plot
        && !reports.is_empty()
    {
        let points: Vec<wgtrain::plot::Point> = reports.iter().map(Into::into).collect();
        wgtrain::plot::draw(&points, path)?;
        eprintln!("plotted {}", path.display());
    }
    let last = reports.last();
    if let Some(r) = last.filter(|r| r.interrupted) {
        let path = a
            .save
            .clone()
            .unwrap_or_else(|| PathBuf::from(INTERRUPTED_FILE));
        if !(a.keep_best && saved_best) {
            save(
                &path,
                &run.spec,
                run.backend.as_mut(),
                &run.template,
                r.progress,
            )?;
        }
        eprintln!(
            "stopped in epoch {} after {} batches; parameters saved to {} (--resume {} continues from there)",
            r.epoch,
            r.batches,
            path.display(),
            path.display()
        );
        std::process::exit(130);
    }
    if a.quiet
        && let Some(r) = last
    {
        println!("{}", epoch_line(r, run.start.epoch + st.hp.epochs));
    }
    if let Some(path) = &a.save {
        // With --keep-best the file already holds the best epoch; without an evaluation set to
        // pick it by, the last one is kept.
        if !a.keep_best || !saved_best {
            let progress = last.map_or(run.start, |r| r.progress);
            save(
                path,
                &run.spec,
                run.backend.as_mut(),
                &run.template,
                progress,
            )?;
        }
        eprintln!("saved {}", path.display());
    }
    Ok(())
}

/// `wgtrain train`: the settings, then the data, network and device, the epochs, the final save.
pub fn run(a: TrainArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    if a.checkpoint_every == Some(0) {
        bail!("--checkpoint-every must be at least 1");
    }
    let resumed = a.resume.as_deref().map(load_resumed).transpose()?;
    let st = Settings::from_flags(&flags(&a), resumed.as_ref().map(|r| (&r.state, r.path)))?;
    check_outputs(&a)?;
    let mut run = prepare(&a, &st, resumed)?;
    let (reports, saved_best) = train_epochs(&a, &st, &mut run)?;
    finish(&a, &st, &mut run, &reports, saved_best)
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

/// One epoch's line: losses, accuracies, speed, elapsed time.
fn epoch_line(r: &train::EpochReport, epochs: usize) -> String {
    let mut line = format!(
        "epoch {:>3}/{epochs}  train loss {:.4}",
        r.epoch, r.train_loss
    );
    for (what, loss, acc) in [
        ("valid", r.valid_loss, r.valid_accuracy),
        ("test", r.test_loss, r.test_accuracy),
    ] {
        if let Some(l) = loss {
            line += &format!("  {what} loss {l:.4}");
        }
        if let Some(acc) = acc {
            line += &format!("  {what} acc {:.2}%", acc * 100.0);
        }
    }
    line + &format!("  {:.0} samples/s  {:.2} s", r.samples_per_sec, r.elapsed)
}

fn append_metrics(
    file: &mut Option<std::io::BufWriter<std::fs::File>>,
    path: &Path,
    line: &str,
) -> wgtrain::Result<()> {
    let io = |err| wgtrain::Error::Io {
        path: path.to_path_buf(),
        err,
    };
    if file.is_none() {
        *file = Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(io)?,
        ));
    }
    if let Some(f) = file.as_mut() {
        writeln!(f, "{line}").map_err(io)?;
        f.flush().map_err(io)?;
    }
    Ok(())
}

/// Saves the backend's current parameters and optimizer state with the run's settings and
/// `progress`, refusing non-finite ones (the last good file stays).
fn save(
    path: &Path,
    spec: &Spec,
    backend: &mut dyn Backend,
    template: &TrainingState,
    progress: Progress,
) -> wgtrain::Result<()> {
    let p = backend.params()?;
    if !p.all_finite() {
        return Err(wgtrain::Error::Diverged(format!(
            "the parameters are not finite; not saving {}",
            path.display()
        )));
    }
    let state = TrainingState {
        optim: backend.optimizer_state()?,
        progress,
        ..template.clone()
    };
    checkpoint::save_training(path, spec, &p, &state)
}
