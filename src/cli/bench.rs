//! `wgtrain bench`: the benchmark tasks or the GEMM sweep, printed as a table or JSON.

use anyhow::{Result, bail};
use clap::Args;

use super::parse_list;
use wgtrain::bench::{Measure, Plan, Progress, Report};
use wgtrain::gpu::BackendChoice;

#[derive(Args)]
pub struct BenchArgs {
    /// Tasks, comma separated: T1 (Fashion-MNIST 784-128-10, batch 64, 3 epochs), T2
    /// (784-1024-1024-10, batch 1024, 1 epoch), T3 (digits 64-32-10, batch 32, 50 epochs), T4
    /// (784-4096-4096-10, batch 4096, 1 epoch: GPU-sized), T5 (digits 64-128-64-10, Adam lr
    /// 0.001, batch 32, 100 epochs: also the first and last ten epochs' speed).
    /// [default: T1,T2,T3; with --sweep: T1, or T3 when Fashion-MNIST is not installed]
    #[arg(long)]
    task: Option<String>,
    /// Paths, comma separated: cpu, gpu. Default: cpu, and gpu when a hardware adapter exists
    /// (name gpu to use a software adapter such as llvmpipe).
    #[arg(long)]
    device: Option<String>,
    /// Sweep the batch size instead (`batch`): each task's network trained at batch 16, 32, ...
    /// 8192 on every device, samples/s per point, and in words from which batch on the GPU
    /// path beats the CPU path here (or that it does not).
    #[arg(long, value_name = "WHAT", value_parser = ["batch"])]
    sweep: Option<String>,
    /// With --sweep: draw samples/s against batch size (log axes, a line per device, the
    /// crossover marked) into this .svg or .png file. With --gemm: GFLOP/s per shape, a bar
    /// per device, each device's measured peak as a dashed line.
    #[arg(long, value_name = "FILE")]
    plot: Option<std::path::PathBuf>,
    /// With --sweep: seconds spent on each device at most; the larger batches are left out
    /// once they are spent.
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    seconds: f64,
    /// wgpu backend for the GPU path: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Sweep square and training-shaped matmuls instead, reporting GFLOP/s per size.
    #[arg(long)]
    gemm: bool,
    /// One JSON object per result on stdout instead of a table (with --gemm, each as it is
    /// measured, its peak the one measured before the sweep).
    #[arg(long)]
    json: bool,
    /// Threads of the CPU path (and of its peak measurement): compare with the reference at
    /// the same count (`reference.sh T1 N`). [default: one per core, or RAYON_NUM_THREADS]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

pub fn run(a: BenchArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    if a.sweep.is_none() && !a.gemm && a.plot.is_some() {
        bail!("--plot draws a sweep: add --sweep batch or --gemm");
    }
    let json = a.json;
    // A JSON line that cannot be written (stdout full or closed) ends the command with that
    // error once the measurement under way returns.
    let mut unwritten: Option<anyhow::Error> = None;
    let report = plan(a)?.run(&mut |p| {
        if let Some(line) = show(json, p)
            && unwritten.is_none()
        {
            unwritten = super::write_stdout(&line).err();
        }
    })?;
    if let Some(e) = unwritten {
        return Err(e);
    }
    if !json {
        super::write_stdout(&report.table())?;
    } else if let Report::Tasks { .. } = report {
        // The GEMM sweep's and the batch sweep's JSON lines went out as each was measured.
        let lines: String = report
            .json_lines()
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        super::write_stdout(&lines)?;
    }
    Ok(())
}

/// The flags as the library's record: what to measure, the tasks, the paths, the GPU (the
/// adapter WGPU_ADAPTER_NAME names, else the best ranked), the data and the font.
fn plan(a: BenchArgs) -> Result<Plan> {
    let measure = if a.sweep.is_some() {
        Measure::BatchSweep {
            seconds: a.seconds,
            plot: a.plot,
        }
    } else if a.gemm {
        Measure::Gemm { plot: a.plot }
    } else {
        Measure::Tasks
    };
    let tasks = match &a.task {
        None => None,
        Some(t) if a.sweep.is_some() => Some(parse_list(t, "task")?),
        // Each name as given: an unknown one is quoted as it was written.
        Some(t) => Some(t.split(',').map(String::from).collect()),
    };
    Ok(Plan {
        measure,
        tasks,
        devices: a.device.map(|d| parse_list(&d, "device")).transpose()?,
        gpu: super::gpu_options(a.backend)?,
        data_roots: super::data_roots(),
        font: super::font(),
    })
}

/// What the run reports as it goes: progress on stderr; with `--json` the GEMM shapes and
/// sweep points as each is measured, returned as a line for stdout (a sweep point's progress
/// line stands aside).
fn show(json: bool, p: Progress<'_>) -> Option<String> {
    match p {
        Progress::Note(line) => eprintln!("{line}"),
        Progress::Skipped { path, why } => {
            eprintln!("{path}: skipped: {}", super::in_flags(why))
        }
        Progress::Gemm { result, peak } => {
            eprintln!("{}", result.progress_line());
            if json {
                return Some(format!("{}\n", result.to_json(peak)));
            }
        }
        Progress::Point(p) if json => return Some(format!("{}\n", p.to_json())),
        Progress::Point(p) => eprintln!("{}", p.progress_line()),
        _ => {}
    }
    None
}
