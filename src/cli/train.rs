//! `wgtrain train`: build the network from the data and the flags (or take both from a checkpoint
//! to resume), train, report, save.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use super::settings::{ArchFlags, Flags, Settings};
use wgtrain::checkpoint::{self, InputInfo, TrainingState};
use wgtrain::data::{self, Dataset, Targets};
use wgtrain::gpu::BackendChoice;
use wgtrain::model::{Loss, Output, Params};
use wgtrain::optim::Method;
use wgtrain::session::{Checkpoints, Fallback, Fit};
use wgtrain::train;
use wgtrain::{Config, Device, GpuOptions, Model, Trainer};

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

/// The device `--device`, `--threads` and `--backend` ask for, with the adapter that
/// `WGPU_ADAPTER_NAME` names and the matmul choice of `WGTRAIN_MATMUL`.
fn device(a: &TrainArgs) -> Result<Device> {
    let gpu = GpuOptions {
        backend: a.backend,
        adapter: std::env::var("WGPU_ADAPTER_NAME")
            .ok()
            .filter(|n| !n.is_empty()),
        matmul: super::matmul_config()?,
    };
    Ok(match a.device.as_str() {
        "cpu" => Device::Cpu { threads: a.threads },
        "gpu" => Device::Gpu(gpu),
        _ => Device::Auto {
            gpu,
            threads: a.threads,
        },
    })
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
            label_column: state.label_column,
            targets: state.targets,
        },
    };
    Ok(Resumed { path, model, state })
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

/// The model to train: the checkpoint's when resuming (the flags that are given must describe
/// it), else a new network for the data, from --init's parameters or seeded ones.
fn model(
    a: &TrainArgs,
    st: &Settings,
    resumed: Option<&Resumed>,
    train: &Dataset,
) -> Result<Model> {
    if let Some(r) = resumed {
        arch_flags(a).check(&r.model.spec, r.path)?;
        if a.standardize && r.state.standardize.is_none() {
            bail!(
                "{}: its run did not standardise its inputs; --standardize cannot be added on --resume",
                r.path.display()
            );
        }
        return Ok(r.model.clone());
    }
    let classes = matches!(train.targets, Targets::Classes { .. });
    let spec = arch_flags(a).build(train.dim, train.target_width(), classes)?;
    let params = match &a.init {
        Some(path) => checkpoint::load_for(path, &spec)?,
        None => Params::init(&spec, st.hp.seed),
    };
    let mut model = Model::new(spec, params)?;
    model.input.label_column = st.label_column;
    model.input.targets = st.targets;
    Ok(model)
}

/// The session the flags describe: data, model, config, device, checkpoints, resumed state.
fn session(a: &TrainArgs, st: &Settings, resumed: Option<Resumed>) -> Result<Trainer> {
    let split = data::load_with(&st.data, st.targets, st.label_column)?;
    let model = model(a, st, resumed.as_ref(), &split.train)?;
    let config = Config {
        lr: st.hp.lr,
        l2: st.hp.l2,
        batch: st.hp.batch,
        epochs: st.hp.epochs,
        seed: st.hp.seed,
        optimizer: st.optimizer,
        schedule: st.schedule,
    };
    let mut t = Trainer::new(model, split.train, config)
        .source(st.data.clone())
        .device(device(a)?)
        .standardize(a.standardize);
    if let Some(test) = split.test {
        t = t.test(test);
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
    Ok(t)
}

/// Opens the session's device and prints the lines that open a run: why the CPU, data and
/// network, device, optimizer, and where a resumed run continues.
fn open(a: &TrainArgs, st: &Settings, t: &mut Trainer) -> Result<()> {
    let opened = t.open()?.clone();
    match &opened.fallback {
        Some(Fallback::SoftwareAdapter(name)) => eprintln!(
            "note: no hardware GPU adapter; training on the CPU path, which is faster than the software adapter '{name}' on the same cores (--device gpu uses it)"
        ),
        Some(Fallback::NoAdapter) => eprintln!(
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
    let spec = &t.model()?.spec;
    eprintln!(
        "data: {} ({n_train} train{}{}), network: {} ({} parameters)",
        st.data,
        count(n_valid, "validation"),
        count(n_test, "test"),
        spec.describe(),
        spec.n_params()
    );
    eprintln!("device: {}", opened.description);
    let hp = &st.hp;
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
        let start = t.progress();
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
    Ok(())
}

/// Trains, printing a line and appending metrics as each epoch ends; the first Ctrl-C stops the
/// run after the step under way (the session then saves), a second one exits at once.
fn fit(a: &TrainArgs, st: &Settings, t: &mut Trainer) -> Result<Fit> {
    let token = t.stop_token();
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
    let fit = t.fit(|r| {
        if !a.quiet {
            bar.epoch_done(r.epoch, || println!("{}", epoch_line(r, epochs)));
        }
        if let Some(path) = &a.metrics {
            append_metrics(&mut metrics_file, path, &r.to_json())?;
        }
        Ok(())
    });
    bar.finish();
    Ok(fit?)
}

/// After training: the plot, then either the interrupted run's save and exit status 130, or
/// the quiet run's last line.
fn finish(a: &TrainArgs, epochs: usize, t: &mut Trainer, fit: &Fit) -> Result<()> {
    if let Some(path) = &a.plot
        && !fit.reports.is_empty()
    {
        let points: Vec<wgtrain::plot::Point> = fit.reports.iter().map(Into::into).collect();
        wgtrain::plot::draw(&points, path)?;
        eprintln!("plotted {}", path.display());
    }
    let last = fit.reports.last();
    if let Some(r) = last.filter(|r| r.interrupted) {
        let path = match &fit.saved {
            Some(p) => p.clone(),
            None => {
                let p = PathBuf::from(INTERRUPTED_FILE);
                t.save(&p)?;
                p
            }
        };
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
        println!("{}", epoch_line(r, epochs));
    }
    if let Some(path) = &fit.saved {
        eprintln!("saved {}", path.display());
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
    let st = Settings::from_flags(&flags(&a), resumed.as_ref().map(|r| (&r.state, r.path)))?;
    check_outputs(&a)?;
    let mut t = session(&a, &st, resumed)?;
    open(&a, &st, &mut t)?;
    let epochs = t.progress().epoch + st.hp.epochs;
    let fit = fit(&a, &st, &mut t)?;
    finish(&a, epochs, &mut t, &fit)
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
