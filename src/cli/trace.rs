//! `wgtrain trace`: parses the rows, network and settings, calls `wgtrain::trace` and prints it.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use wgtrain::config::BackendChoice;
use wgtrain::optim::{Method, Optimizer};
use wgtrain::trace::{Format, Network, PathChoice, Purpose, Settings, Source, Start};
use wgtrain::{Activation, Loss, Output};

/// Which paths run beside the f64 reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Paths {
    /// The fast CPU path, and the GPU path when an adapter is found.
    All,
    /// The fast CPU path.
    Cpu,
    /// The GPU path (an error without an adapter).
    Gpu,
    /// The f64 reference alone.
    None,
}

/// The rows, the network and its starting weights: shared by trace and gradcheck.
#[derive(Args)]
pub struct CaseArgs {
    /// Data source as train reads it (xor, digits, mnist, a CSV or IDX path): its first
    /// --samples training rows. [default: xor]
    #[arg(long, conflicts_with = "rows")]
    pub data: Option<String>,
    /// Rows in f64 as written: inline `0.85,0.5:0.01,0.99; ...` (inputs : targets per row), or
    /// a .csv file whose last --targets columns are the targets.
    #[arg(long, value_name = "ROWS|FILE")]
    pub rows: Option<String>,
    /// With --data: the last K CSV columns are value targets; with a --rows file: the number
    /// of target columns [default: 1 for a --rows file; a class label for --data].
    #[arg(long, value_name = "K")]
    pub targets: Option<usize>,
    /// Starting weights: a safetensors checkpoint (its architecture too), or a weights .csv
    /// read in f64 (lines `W1,...` per unit of layer 1, `b1,...`, then W2, b2, ...).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_name = "N,...")]
    pub hidden: Option<String>,
    /// Hidden activation(s): relu, sigmoid, tanh, leaky-relu, linear; one, or one per layer.
    /// [default: relu]
    #[arg(long, value_name = "NAME,...")]
    pub activation: Option<String>,
    /// Output: softmax, sigmoid, linear [default: the one that fits the loss].
    #[arg(long)]
    pub output: Option<Output>,
    /// Loss: cross-entropy, bce, mse [default: cross-entropy for class labels, else mse].
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Seed of the starting weights when --init is not given.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl CaseArgs {
    /// The library's case: rows, network and starting weights.
    pub fn case(
        &self,
        samples: usize,
        default_hidden: &[usize],
        purpose: Purpose<'_>,
    ) -> Result<wgtrain::trace::Case> {
        let source = match (&self.data, &self.rows) {
            (_, Some(r)) if r.ends_with(".csv") => Source::Csv {
                path: PathBuf::from(r),
                targets: self.targets.unwrap_or(1),
            },
            (_, Some(r)) => {
                if self.targets.is_some() {
                    bail!(
                        "--targets is for a --data source or a --rows file; inline rows say their targets after ':'"
                    );
                }
                Source::Inline(r.clone())
            }
            (d, None) => Source::Data {
                source: d.clone().unwrap_or_else(|| "xor".into()),
                targets: self.targets,
                rows: samples,
            },
        };
        let start = match &self.init {
            None => Start::Seed(self.seed),
            Some(p) if p.extension().is_some_and(|e| e == "csv") => Start::WeightsCsv(p.clone()),
            Some(p) => Start::Checkpoint(p.clone()),
        };
        let network = Network {
            hidden: self.hidden.as_deref().map(sizes).transpose()?,
            activation: self
                .activation
                .as_deref()
                .map(|a| {
                    a.split(',')
                        .map(|s| s.parse::<Activation>())
                        .collect::<wgtrain::Result<Vec<_>>>()
                })
                .transpose()?,
            output: self.output,
            loss: self.loss,
        };
        Ok(wgtrain::trace::build_case_for(
            &source,
            &start,
            &network,
            default_hidden,
            purpose,
        )?)
    }
}

/// `4,3` as hidden sizes; an empty string is no hidden layer.
fn sizes(s: &str) -> Result<Vec<usize>> {
    if s.trim().is_empty() {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|v| match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("--hidden '{s}': expected sizes of at least 1, comma-separated"),
        })
        .collect()
}

#[derive(Args)]
pub struct TraceArgs {
    #[command(flatten)]
    case: CaseArgs,
    /// Rows taken from a --data source.
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// Steps to trace.
    #[arg(long, default_value_t = 1)]
    steps: usize,
    /// Rows per step [default: all the rows].
    #[arg(long)]
    batch: Option<usize>,
    /// Learning rate (f64; the f32 paths get it rounded).
    #[arg(long, default_value_t = 0.1, allow_hyphen_values = true)]
    lr: f64,
    /// λ of the L2 term λ‖W‖² (weights only).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "λ",
        allow_hyphen_values = true
    )]
    l2: f64,
    /// Update rule: sgd, momentum, nesterov, adam, adamw.
    #[arg(long, default_value = "sgd")]
    optimizer: Method,
    /// μ of momentum and nesterov.
    #[arg(long, default_value_t = 0.9, value_name = "μ")]
    momentum: f32,
    /// Adam's β1.
    #[arg(long, default_value_t = 0.9)]
    beta1: f32,
    /// Adam's β2.
    #[arg(long, default_value_t = 0.999)]
    beta2: f32,
    /// Adam's eps.
    #[arg(long, default_value_t = 1e-8)]
    eps: f32,
    /// AdamW's decoupled weight decay.
    #[arg(long, default_value_t = 0.0, value_name = "wd")]
    weight_decay: f32,
    /// Relative step h of the central differences.
    #[arg(long, default_value_t = 1e-6)]
    fd_step: f64,
    /// Paths to run beside the f64 reference.
    #[arg(long, default_value = "all")]
    device: Paths,
    /// wgpu backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Markdown tables instead of text.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// JSON: every number at full precision (keys in docs/TRACE.md).
    #[arg(long)]
    json: bool,
    /// Significant digits per number in the tables (1 to 17).
    #[arg(long, default_value_t = 6)]
    digits: usize,
}

/// The paths `device` asks for.
pub fn paths(device: Paths, backend: BackendChoice) -> Result<Vec<PathChoice>> {
    let gpu = || -> Result<PathChoice> { Ok(PathChoice::Gpu(super::gpu_options(backend)?)) };
    Ok(match device {
        Paths::All => vec![PathChoice::Cpu, gpu()?],
        Paths::Cpu => vec![PathChoice::Cpu],
        Paths::Gpu => vec![gpu()?],
        Paths::None => Vec::new(),
    })
}

pub fn run(a: TraceArgs) -> Result<()> {
    let case = a.case.case(a.samples, &[3], Purpose::Trace)?;
    let settings = Settings {
        steps: a.steps,
        batch: a.batch.unwrap_or(usize::MAX),
        lr: a.lr,
        l2: a.l2,
        optimizer: Optimizer {
            method: a.optimizer,
            momentum: a.momentum,
            beta1: a.beta1,
            beta2: a.beta2,
            eps: a.eps,
            weight_decay: a.weight_decay,
        },
        fd_step: a.fd_step,
    };
    let trace = wgtrain::trace::trace(&case, &settings, &paths(a.device, a.backend)?)?;
    if a.device == Paths::Gpu && !trace.skipped.is_empty() {
        bail!("--device gpu: {}", trace.skipped.join("; "));
    }
    let format = if a.json {
        Format::Json
    } else if a.markdown {
        Format::Markdown
    } else {
        Format::Text
    };
    super::write_stdout(&wgtrain::trace::render(&trace, format, a.digits)?)
}
