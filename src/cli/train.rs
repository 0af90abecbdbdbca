//! `wgtrain train`: build the network from the data and the flags, train, report, save.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use super::parse_list;
use wgtrain::checkpoint;
use wgtrain::cpu::fast::CpuTrainer;
use wgtrain::data::{self, Targets};
use wgtrain::gpu::{BackendChoice, GpuContext, GpuTrainer, context};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::train::{self, Backend, Hyper, Role};

const LOSS_HELP: &str = "Loss, per batch of N samples (outputs a, targets y):
  cross-entropy  L = -(1/N) Σ_n log softmax(z_n)[y_n]   (softmax output; labels are class indices)
  bce            L = -(1/N) Σ_n Σ_k [y log a + (1-y) log(1-a)]   (sigmoid output, computed from logits)
  mse            L = (1/N) Σ_n ½‖a_n - y_n‖²   (linear or sigmoid output; gradient (a - y)/N)
Default: cross-entropy for class labels, mse for real-valued targets.";

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Dataset: digits (built in: UCI handwritten digits, 1437 train / 360 test), xor, or a
    /// CSV file (optional header; last column an integer class label, or see --targets).
    #[arg(long, default_value = "digits")]
    data: String,
    /// The last K CSV columns are real-valued targets (for mse/bce) instead of one class label.
    #[arg(long, value_name = "K")]
    targets: Option<usize>,
    /// Hidden layer sizes, comma separated; an empty string means no hidden layer.
    #[arg(long, default_value = "64")]
    hidden: String,
    /// Hidden activation(s): relu, sigmoid, tanh, leaky-relu (slope 0.01), linear; one for all
    /// hidden layers or a comma list, one per layer.
    #[arg(long, default_value = "relu")]
    activation: String,
    /// Output activation: softmax, sigmoid, linear. Default: the one that fits the loss.
    #[arg(long)]
    output: Option<Output>,
    #[arg(long, long_help = LOSS_HELP, help = "Loss: cross-entropy, bce, mse (see --help for the formulas)")]
    loss: Option<Loss>,
    /// Learning rate of plain SGD.
    #[arg(long, default_value_t = 0.1)]
    lr: f32,
    /// Mini-batch size; a last partial batch is trained, not dropped.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Seed of the initialisation and of each epoch's shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// L2 regularisation: adds λ‖W‖² to the loss (gradient 2λW); biases are not decayed.
    #[arg(long, default_value_t = 0.0, value_name = "λ")]
    l2: f32,
    /// auto: a hardware GPU adapter when there is one, else the CPU; gpu: any adapter,
    /// software ones (llvmpipe) included; cpu: the fast CPU path.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    device: String,
    /// wgpu backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Start from the parameters in this safetensors checkpoint (must match the architecture).
    #[arg(long, value_name = "FILE")]
    init: Option<PathBuf>,
    /// Save the trained parameters as safetensors (torch.nn.Linear layout: weight [out, in]).
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
    /// No per-epoch lines (errors and the final summary still print).
    #[arg(long, short)]
    quiet: bool,
}

/// Where an interrupted run saves when there is no --save.
const INTERRUPTED_FILE: &str = "wgtrain-interrupted.safetensors";

fn build_spec(a: &TrainArgs, inputs: usize, outputs: usize, classes: bool) -> Result<Spec> {
    let hidden: Vec<usize> = parse_list(&a.hidden, "hidden")?;
    if hidden.contains(&0) {
        bail!(
            "--hidden {}: a hidden layer of zero units; every layer needs at least one",
            a.hidden
        );
    }
    let acts: Vec<Activation> = parse_list(&a.activation, "activation")?;
    let acts = match acts.len() {
        1 => vec![acts[0]; hidden.len()],
        n if n == hidden.len() => acts,
        n => bail!(
            "--activation gives {n} activations for {} hidden layers: give one for all or one per layer",
            hidden.len()
        ),
    };
    let loss = a.loss.unwrap_or(if classes {
        Loss::CrossEntropy
    } else {
        Loss::Mse
    });
    if loss == Loss::CrossEntropy && !classes {
        bail!(
            "cross-entropy needs class labels, but --targets makes the targets real-valued: use --loss mse or bce"
        );
    }
    let output = a.output.unwrap_or(loss.default_output());
    let mut sizes = vec![inputs];
    sizes.extend(hidden);
    sizes.push(outputs);
    Ok(Spec::new(sizes, acts, output, loss)?)
}

/// Fails early when `path`'s folder does not exist, rather than after training.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!("{}: is a folder, not a file name", path.display());
    }
    Ok(())
}

/// Picks the training path for `--device`, saying which and why.
pub fn open_gpu(device: &str, backend: BackendChoice) -> Result<Option<GpuContext>> {
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

pub fn run(a: TrainArgs) -> Result<()> {
    let hp = Hyper {
        lr: a.lr,
        l2: a.l2,
        batch: a.batch,
        epochs: a.epochs,
        seed: a.seed,
    };
    hp.validate()?;
    if a.checkpoint_every == Some(0) {
        bail!("--checkpoint-every must be at least 1");
    }
    for path in a.save.iter().chain(&a.metrics) {
        check_writable(path)?;
    }
    let split = data::load(&a.data, a.targets)?;
    let (train_set, valid_set) = match a.valid_split {
        Some(f) => {
            let (t, v) = split.train.hold_out(f, a.seed)?;
            (t, Some(v))
        }
        None => (split.train, None),
    };
    let classes = matches!(train_set.targets, Targets::Classes { .. });
    let spec = build_spec(&a, train_set.dim, train_set.target_width(), classes)?;
    if let Some(test) = &split.test
        && (test.dim != train_set.dim || test.target_width() != train_set.target_width())
    {
        bail!("the test split's shape does not match the training split's");
    }
    let params = match &a.init {
        Some(path) => checkpoint::load_for(path, &spec)?,
        None => Params::init(&spec, a.seed),
    };
    let mut eval_sets = Vec::new();
    let mut roles = Vec::new();
    if let Some(v) = &valid_set {
        eval_sets.push(v);
        roles.push(Role::Valid);
    }
    if let Some(t) = &split.test {
        eval_sets.push(t);
        roles.push(Role::Test);
    }
    let mut backend: Box<dyn Backend> = match open_gpu(&a.device, a.backend)? {
        Some(ctx) => Box::new(GpuTrainer::new(
            ctx,
            &spec,
            &params,
            &train_set,
            eval_sets.iter().copied(),
            a.batch,
        )?),
        None => Box::new(CpuTrainer::new(
            &spec,
            params,
            &train_set,
            eval_sets.iter().copied(),
            a.batch,
        )?),
    };
    let count = |d: Option<&wgtrain::data::Dataset>, what: &str| {
        d.map_or(String::new(), |d| format!(", {} {what}", d.n))
    };
    eprintln!(
        "data: {} ({} train{}{}), network: {} ({} parameters)",
        a.data,
        train_set.n,
        count(valid_set.as_ref(), "validation"),
        count(split.test.as_ref(), "test"),
        spec.describe(),
        spec.n_params()
    );
    eprintln!("device: {}", backend.describe());
    // Ctrl-C: the first asks training to stop after the current step (and save); a second one
    // ends the process at once.
    let _ = ctrlc::set_handler(|| {
        if train::stop_requested() {
            eprintln!("\ninterrupted again: exiting without saving");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: finishing the current step, then saving");
        train::request_stop();
    });
    // Opened when the first epoch ends, so a run that fails before that writes nothing; then
    // one line appended and flushed per epoch, so a long run can be followed as it goes.
    let mut metrics_file: Option<std::io::BufWriter<std::fs::File>> = None;
    let epochs = hp.epochs;
    let mut best = f64::INFINITY;
    let mut saved_best = false;
    let reports = train::run(
        backend.as_mut(),
        train_set.n,
        &hp,
        classes,
        &roles,
        &mut |r, backend| {
            if !a.quiet {
                println!("{}", epoch_line(r, epochs));
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
                        save(path, &spec, backend)?;
                    }
                } else if a.checkpoint_every.is_some_and(|n| r.epoch % n == 0) && !r.interrupted {
                    save(path, &spec, backend)?;
                }
            }
            Ok(())
        },
    )?;
    let last = reports.last();
    if let Some(r) = last.filter(|r| r.interrupted) {
        let path = a
            .save
            .clone()
            .unwrap_or_else(|| PathBuf::from(INTERRUPTED_FILE));
        if !(a.keep_best && saved_best) {
            save(&path, &spec, backend.as_mut())?;
        }
        eprintln!(
            "stopped in epoch {} after {} batches; parameters saved to {}",
            r.epoch,
            r.batches,
            path.display()
        );
        std::process::exit(130);
    }
    if a.quiet
        && let Some(r) = last
    {
        println!("{}", epoch_line(r, epochs));
    }
    if let Some(path) = &a.save {
        // With --keep-best the file already holds the best epoch; without an evaluation set to
        // pick it by, the last one is kept.
        if !a.keep_best || !saved_best {
            save(path, &spec, backend.as_mut())?;
        }
        eprintln!("saved {}", path.display());
    }
    Ok(())
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

/// Saves the backend's current parameters, refusing non-finite ones (the last good file stays).
fn save(path: &Path, spec: &Spec, backend: &mut dyn Backend) -> wgtrain::Result<()> {
    let p = backend.params()?;
    if !p.all_finite() {
        return Err(wgtrain::Error::Diverged(format!(
            "the parameters are not finite; not saving {}",
            path.display()
        )));
    }
    checkpoint::save(path, spec, &p)
}
