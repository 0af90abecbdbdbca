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
    let print = &mut |c: &wgtrain::selftest::Check| println!("{}", c.line());
    let checks = match args.device {
        Path::Gpu => {
            let opts = super::gpu_options(args.backend)?;
            let ctx = opts.open()?;
            println!("selftest on {}", ctx.describe());
            drop(ctx);
            wgtrain::selftest::run_gpu(&opts, print)?
        }
        Path::Cpu => {
            println!("selftest on the CPU path");
            wgtrain::selftest::run_cpu(print)?
        }
    };
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", checks.len());
    }
    println!("all {} checks passed", checks.len());
    Ok(())
}
