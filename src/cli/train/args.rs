//! `wgtrain train`'s flags and their help.

use std::path::PathBuf;

use clap::Args;

use wgtrain::config::BackendChoice;
use wgtrain::model::{Loss, Output};
use wgtrain::optim::Method;

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
    /// Dataset: digits (built in: UCI handwritten digits, 1437 train / 360 test), xor, mnist,
    /// fashion-mnist or kmnist (IDX files, looked for in $WGTRAIN_DATA/NAME, ./data/NAME,
    /// ~/.cache/wgtrain/NAME, /usr/share/datasets/NAME), a folder of the four IDX files, or a
    /// CSV file (.csv, .tsv, or gzipped .csv.gz, .tsv.gz: ',', ';', tab, '|' or space separated, detected; a header line
    /// or none; the class label in the last column unless --label or --targets; text columns
    /// one-hot encoded, missing cells imputed; features standardised unless --no-standardize).
    /// [default: digits; with --resume the checkpoint's]
    #[arg(long)]
    pub(super) data: Option<String>,
    /// IDX: the class count K; every label must be below it, and classes without rows are
    /// allowed. [default: the largest label + 1; a top class of a handful of rows beside
    /// thousands (one label 10 among MNIST's 0-9) is refused as a corrupt label]
    #[arg(long, value_name = "K")]
    pub(super) classes: Option<usize>,
    #[command(flatten)]
    pub(super) csv: super::super::table::CsvArgs,
    /// CSV: a validation file, read with the training file's columns and categories, reported
    /// every epoch (instead of --valid-split).
    #[arg(long, value_name = "FILE", conflicts_with = "valid_split")]
    pub(super) valid: Option<PathBuf>,
    /// CSV: a test file, read with the training file's columns and categories, reported after
    /// the last epoch (every epoch without a validation set).
    #[arg(long, value_name = "FILE")]
    pub(super) test: Option<PathBuf>,
    /// Hidden layer sizes, comma separated; an empty string means no hidden layer.
    /// [default: 64]
    #[arg(long)]
    pub(super) hidden: Option<String>,
    /// Hidden activation(s): relu, sigmoid, tanh, leaky-relu (slope 0.01), linear; one for all
    /// hidden layers or a comma list, one per layer. [default: relu]
    #[arg(long)]
    pub(super) activation: Option<String>,
    /// Output activation: softmax, sigmoid, linear. Default: the one that fits the loss.
    #[arg(long)]
    pub(super) output: Option<Output>,
    #[arg(long, long_help = LOSS_HELP, help = "Loss: cross-entropy, bce, mse (see --help for the formulas)")]
    pub(super) loss: Option<Loss>,
    /// Learning rate (the base rate --schedule scales). [default: 0.1]
    #[arg(long, allow_hyphen_values = true, value_parser = real)]
    pub(super) lr: Option<f32>,
    /// Mini-batch size; a last partial batch is trained, not dropped. [default: 32]
    #[arg(long, value_parser = positive_count)]
    pub(super) batch: Option<usize>,
    /// Epochs to train; with --resume, epochs to train after those in the checkpoint.
    /// [default: 40 on a CSV file, else 20]
    #[arg(long, value_parser = positive_count)]
    pub(super) epochs: Option<usize>,
    /// Seed of the initialisation and of each epoch's shuffle. [default: 0]
    #[arg(long)]
    pub(super) seed: Option<u64>,
    /// L2 regularisation: adds λ‖W‖² to the loss (gradient 2λW) under every optimizer; biases
    /// are not decayed. [default: 0]
    #[arg(long, value_name = "λ", allow_hyphen_values = true, value_parser = real)]
    pub(super) l2: Option<f32>,
    #[arg(
        long,
        value_name = "NAME",
        long_help = OPTIMIZER_HELP,
        help = "Optimizer: sgd, momentum, nesterov, adam, adamw (see --help for the updates) [default: sgd]"
    )]
    pub(super) optimizer: Option<Method>,
    /// μ of --optimizer momentum and nesterov, in [0, 1). [default: 0.9]
    #[arg(long, value_name = "μ", allow_hyphen_values = true, value_parser = real)]
    pub(super) momentum: Option<f32>,
    /// Adam's decay of the gradient mean m, in [0, 1). [default: 0.9]
    #[arg(long, value_name = "β1", allow_hyphen_values = true, value_parser = real)]
    pub(super) beta1: Option<f32>,
    /// Adam's decay of the squared-gradient mean v, in [0, 1). [default: 0.999]
    #[arg(long, value_name = "β2", allow_hyphen_values = true, value_parser = real)]
    pub(super) beta2: Option<f32>,
    /// Adam's eps, added to sqrt(v̂) in the denominator, above 0. [default: 1e-8]
    #[arg(long, allow_hyphen_values = true, value_parser = real)]
    pub(super) eps: Option<f32>,
    /// AdamW's decoupled weight decay wd: θ *= 1 - lr·wd each step, weights only (biases are
    /// not decayed). Only with --optimizer adamw; use --l2 for the 2λW gradient term. [default: 0]
    #[arg(long, value_name = "wd", allow_hyphen_values = true, value_parser = real)]
    pub(super) weight_decay: Option<f32>,
    #[arg(
        long,
        value_name = "NAME",
        value_parser = ["constant", "step", "cosine"],
        long_help = SCHEDULE_HELP,
        help = "Learning-rate schedule: constant, step, cosine (see --help) [default: constant]"
    )]
    pub(super) schedule: Option<String>,
    /// --schedule step: epochs between two decays by --lr-gamma (required with step).
    #[arg(long, value_name = "N", value_parser = positive_count)]
    pub(super) lr_step: Option<usize>,
    /// --schedule step: the factor of each decay, in (0, 1]. [default: 0.1]
    #[arg(long, value_name = "G", allow_hyphen_values = true, value_parser = real)]
    pub(super) lr_gamma: Option<f32>,
    /// Linear warm-up over the first N steps (batches): step s gets (s+1)/N of the rate.
    /// [default: 0, none]
    #[arg(long, value_name = "N", value_parser = count)]
    pub(super) warmup: Option<usize>,
    /// auto: a hardware GPU adapter when there is one, else the CPU; gpu: any adapter,
    /// software ones (llvmpipe) included; cpu: the fast CPU path.
    #[arg(long, default_value = "auto", value_parser = ["auto", "gpu", "cpu"])]
    pub(super) device: String,
    /// Threads of the CPU path. [default: one per core, or RAYON_NUM_THREADS]
    #[arg(long, value_name = "N")]
    pub(super) threads: Option<usize>,
    /// wgpu backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    pub(super) backend: BackendChoice,
    /// Start a new run from the parameters in this safetensors file; the optimizer starts
    /// afresh. A wgtrain checkpoint gives the architecture (flags that contradict it are an
    /// error), its input standardisation and, without --data, its run's data. A file without
    /// wgtrain metadata (PyTorch: save_file(model.state_dict()), layers named 0.weight, 0.bias,
    /// 2.weight, ... or layers.0.weight, ...) gives the layer sizes; --activation is then needed
    /// and the loss and output are chosen as for a new network.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub(super) init: Option<PathBuf>,
    /// Continue the run saved in this checkpoint (by --save, --checkpoint-every, --keep-best or
    /// Ctrl-C) exactly where it stopped: the architecture, optimizer and its state, schedule,
    /// --lr, --l2, --batch, --seed and --valid-split come from the file (a flag that contradicts
    /// it is an error), the shuffle continues, and --epochs more epochs are trained.
    #[arg(long, value_name = "FILE")]
    pub(super) resume: Option<PathBuf>,
    /// Save the trained parameters as safetensors (torch.nn.Linear layout: weight [out, in]),
    /// with the optimizer state and what --resume needs.
    #[arg(long, value_name = "FILE")]
    pub(super) save: Option<PathBuf>,
    /// Write one JSON object per epoch (epoch, train_loss, train_loss_standardized, valid_loss,
    /// valid_accuracy, valid_rmse, valid_r2, test_loss, test_accuracy, test_rmse, test_r2,
    /// seconds, samples_per_sec, elapsed) to this file.
    #[arg(long, value_name = "FILE")]
    pub(super) metrics: Option<PathBuf>,
    /// Hold out this fraction of the training data (seeded by --seed) for validation, reported
    /// every epoch; the test split is then used only for the final report.
    #[arg(long, value_name = "F")]
    pub(super) valid_split: Option<f64>,
    /// Also save to --save every N epochs (atomically: a crash leaves the old or the new file).
    #[arg(long, value_name = "N", requires = "save")]
    pub(super) checkpoint_every: Option<usize>,
    /// Save to --save only when the validation loss (the test loss without --valid-split)
    /// improves, so the file holds the best epoch's parameters.
    #[arg(long, requires = "save")]
    pub(super) keep_best: bool,
    /// Draw loss and accuracy per epoch into this picture (.svg or .png) when training ends.
    #[arg(long, value_name = "FILE")]
    pub(super) plot: Option<PathBuf>,
    /// Standardise every input feature, (x - mean) / std, with statistics from the training
    /// rows only; they are stored in the checkpoint, and eval and predict apply them too.
    /// The default for CSV files (one-hot columns are left as they are); images keep their
    /// /255 scaling unless this is given.
    #[arg(long, conflicts_with = "no_standardize")]
    pub(super) standardize: bool,
    /// Train a CSV regression (--targets, mse, linear output) on its targets as they are. By
    /// default a new run standardises them, (y - mean) / std per target column with the training
    /// rows' statistics, stored in the checkpoint (target.mean, target.std) and mapped back
    /// everywhere: every printed figure, eval and predict are in the targets' units.
    #[arg(long)]
    pub(super) no_standardize_targets: bool,
    /// Stop when the validation loss has not improved for N epochs (needs a validation set:
    /// --valid-split or --valid). A resumed run counts afresh.
    #[arg(long, value_name = "N", value_parser = count)]
    pub(super) patience: Option<usize>,
    /// Weigh a classifier's training rows by class: `balanced` (each class weighs as much in
    /// all: n / (classes · rows of the class), scikit-learn's rule) or NAME=W pairs separated
    /// by commas (class names, or numbers for unnamed classes; the others weigh 1). For
    /// imbalanced data, with `eval`'s balanced accuracy and `--threshold`. The training loss
    /// printed is the weighted one; validation and test losses are not weighted. Stored, so a
    /// resumed run keeps it.
    #[arg(long, value_name = "balanced|NAME=W,...")]
    pub(super) class_weight: Option<String>,
    /// Feed CSV features to the network as they are in the file.
    #[arg(long)]
    pub(super) no_standardize: bool,
    /// No per-epoch lines (errors and the final summary still print).
    #[arg(long, short)]
    pub(super) quiet: bool,
}

/// A count flag: a whole number, 0 or more (clap's own message for "-3" is about digits).
fn count(s: &str) -> std::result::Result<usize, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 0 to {}", usize::MAX))
}

/// A count flag that must be 1 or more (the library says so of a 0): text that is no such
/// number is refused with the range the flag takes.
fn positive_count(s: &str) -> std::result::Result<usize, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 1 to {}", usize::MAX))
}

/// A real-valued flag, an f32: a number written beyond f32's range (1e39, which f32 reads as
/// inf) or so small that it reads as 0 (1e-50) is refused as written, saying why, rather than
/// checked later as the inf or 0 the user never wrote.
fn real(s: &str) -> std::result::Result<f32, String> {
    let v: f32 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number".to_string())?;
    let text = s.trim().trim_start_matches(['+', '-']).to_ascii_lowercase();
    let written_inf = text.starts_with("inf");
    let mantissa = text.split('e').next().unwrap_or("");
    if v.is_infinite() && !written_inf {
        return Err(format!(
            "{s} is beyond the range of an f32 (at most {:e} in magnitude)",
            f32::MAX
        ));
    }
    if v == 0.0 && mantissa.chars().any(|c| ('1'..='9').contains(&c)) {
        return Err(format!(
            "{s} is below the smallest positive f32 ({:e}) and would read as 0",
            f32::from_bits(1)
        ));
    }
    Ok(v)
}
