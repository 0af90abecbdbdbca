//! `wgtrain selftest`: prints a line per check of `wgtrain::selftest` and fails when any failed.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};

use wgtrain::config::BackendChoice;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Path {
    Gpu,
    Cpu,
}

#[derive(Args)]
pub struct SelftestArgs {
    /// Which path to check: gpu (the adapter --backend and WGPU_ADAPTER_NAME pick, software
    /// ones included) or cpu.
    #[arg(long, default_value = "gpu")]
    device: Path,
    /// wgpu backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
}

pub fn run(args: SelftestArgs) -> Result<()> {
    // A check's line that cannot be written (stdout full or closed) ends the command with that
    // error once the checks under way return.
    let mut unwritten: Option<anyhow::Error> = None;
    let print = &mut |c: &wgtrain::selftest::Check| {
        if unwritten.is_none() {
            unwritten = super::write_stdout(&format!("{}\n", c.line())).err();
        }
    };
    let checks = match args.device {
        Path::Gpu => {
            let opts = super::gpu_options(args.backend)?;
            let ctx = opts.open()?;
            super::write_stdout(&format!("selftest on {}\n", ctx.describe()))?;
            drop(ctx);
            wgtrain::selftest::run_gpu(&opts, print)?
        }
        Path::Cpu => {
            super::write_stdout("selftest on the CPU path\n")?;
            wgtrain::selftest::run_cpu(print)?
        }
    };
    if let Some(e) = unwritten {
        return Err(e);
    }
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", checks.len());
    }
    super::write_stdout(&format!("all {} checks passed\n", checks.len()))
}
