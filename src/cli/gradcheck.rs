//! `wgtrain gradcheck`: parses the network, rows and paths, calls `wgtrain::gradcheck` and
//! prints its table; exits non-zero when a layer fails on a path.

use anyhow::{Result, bail};
use clap::Args;

use wgtrain::config::BackendChoice;
use wgtrain::gradcheck::Options;
use wgtrain::testing::{Fault, gradcheck_with_fault};
use wgtrain::trace::Purpose;

use super::trace::{CaseArgs, Paths, paths};

#[derive(Args)]
pub struct GradcheckArgs {
    #[command(flatten)]
    case: CaseArgs,
    /// Rows taken from a --data source (the first ones).
    #[arg(long, default_value_t = 32)]
    samples: usize,
    /// λ of the L2 term λ‖W‖².
    #[arg(long, default_value_t = 0.0, value_name = "λ")]
    l2: f64,
    /// Weights (and biases) checked per layer: all when a layer has no more, else a seeded
    /// random pick of this many.
    #[arg(long, default_value_t = 64, value_name = "N")]
    per_layer: usize,
    /// Relative step h of the central differences.
    #[arg(long, default_value_t = 1e-6)]
    fd_step: f64,
    /// Paths to check beside the f64 reference.
    #[arg(long, default_value = "all")]
    device: Paths,
    /// wgpu backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// One JSON object instead of the table (every figure at full precision, `passed` for the
    /// whole); the exit status is the same.
    #[arg(long)]
    json: bool,
    /// Test-only: PATH:LAYER multiplies that path's weight gradient of that layer by 1.01,
    /// to prove a broken kernel fails the check.
    #[arg(long, hide = true, value_name = "PATH:LAYER")]
    break_gradient: Option<String>,
}

pub fn run(a: GradcheckArgs) -> Result<()> {
    let fault = match a.break_gradient.as_deref().map(|s| s.split_once(':')) {
        None => None,
        Some(Some((path, layer))) => Some(Fault {
            path: path.into(),
            layer: layer.parse()?,
            factor: 1.01,
        }),
        Some(None) => bail!("--break-gradient: expected PATH:LAYER"),
    };
    let opts = Options {
        l2: a.l2,
        per_layer: a.per_layer,
        seed: a.case.seed,
        fd_step: a.fd_step,
    };
    let case = a.case.case(a.samples, &[64], Purpose::Gradcheck(&opts))?;
    let paths = paths(a.device, a.backend)?;
    let report = match &fault {
        Some(f) => gradcheck_with_fault(&case, &opts, &paths, f)?,
        None => wgtrain::gradcheck::gradcheck(&case, &opts, &paths)?,
    };
    if a.json {
        super::write_stdout(&format!("{}\n", report.to_json()))?;
    } else {
        super::write_stdout(&report.table())?;
    }
    if a.device == Paths::Gpu && !report.skipped.is_empty() {
        bail!("--device gpu: {}", report.skipped.join("; "));
    }
    if !report.passed() {
        bail!("gradcheck failed: {}", report.failures().join("; "));
    }
    if a.json {
        return Ok(());
    }
    super::write_stdout("gradcheck passed\n")
}
