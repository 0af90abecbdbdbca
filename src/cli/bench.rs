//! `wgtrain bench`: the benchmark tasks or the GEMM sweep, printed as a table or JSON.

use anyhow::{Result, bail};
use clap::Args;

use super::parse_list;
use wgtrain::Device;
use wgtrain::gpu::{BackendChoice, context};

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

/// The paths to run: `--device`'s, else cpu and, with a hardware adapter, gpu (saying why not
/// when there is none).
fn paths(a: &BenchArgs) -> Result<Vec<String>> {
    let devices: Vec<String> = match &a.device {
        Some(d) => parse_list(d, "device")?,
        None => {
            let mut d = vec!["cpu".to_string()];
            if context::pick_adapter(a.backend, false)?.is_some() {
                d.push("gpu".into());
            } else {
                let why = match context::pick_adapter(a.backend, true)? {
                    Some(s) => format!(
                        "the only adapter is the software one '{}' (CPU emulation; --device cpu,gpu uses it)",
                        s.get_info().name
                    ),
                    None => format!(
                        "no adapter; {}",
                        super::in_flags(&context::no_adapter_hint(a.backend))
                    ),
                };
                eprintln!("gpu: skipped: {why}");
            }
            d
        }
    };
    if let Some(bad) = devices.iter().find(|d| *d != "cpu" && *d != "gpu") {
        bail!("--device: unknown path '{bad}': expected cpu or gpu");
    }
    Ok(devices)
}

pub fn run(a: BenchArgs) -> Result<()> {
    super::set_threads(a.threads)?;
    if a.sweep.is_none() && !a.gemm && a.plot.is_some() {
        bail!("--plot draws a sweep: add --sweep batch or --gemm");
    }
    if a.gemm
        && let Some(p) = &a.plot
    {
        super::check_writable(p)?;
        wgtrain::plot::prepare_font(super::font().as_deref())?;
    }
    let devices = paths(&a)?;
    // The adapter: WGPU_ADAPTER_NAME's, else the best ranked (a hardware one when there is one,
    // which is when the default list has gpu).
    let gpu = super::gpu_options(a.backend)?;
    if a.sweep.is_some() {
        return sweep(&a, &devices, &gpu);
    }
    let open = || gpu.open();
    // The measured fp32 peaks, CPU and GPU, for the share of them each result reaches:
    // measured before and after the runs, keeping the higher, since whatever else runs on the
    // machine can only make a measurement low.
    let want_cpu = devices.iter().any(|d| d == "cpu");
    let want_gpu = devices.iter().any(|d| d == "gpu");
    let before = measure_peaks((want_cpu, want_gpu), &open)?;
    let mut task_results = Vec::new();
    let (mut gemm_results, mut software_gpu) = (Vec::new(), false);
    if a.gemm {
        (gemm_results, software_gpu) = gemm_sweep(&a, (want_cpu, want_gpu), &open, before)?;
    } else {
        task_results = run_tasks(&a, &devices, &gpu)?;
    }
    let after = measure_peaks((want_cpu, want_gpu), &open)?;
    let peaks = report_peaks(before, after, want_cpu);
    let share = |device: &str, gflops: f64| share_of(peak_of(device, peaks), gflops);
    if a.gemm {
        if let Some(path) = &a.plot {
            draw_gemm(&gemm_results, peaks, software_gpu, path)?;
        }
        // JSON lines went out during the sweep.
        if !a.json {
            print_gemm(&gemm_results, &share);
        }
        return Ok(());
    }
    if a.json {
        for r in &task_results {
            let mut j: serde_json::Value = serde_json::from_str(&r.to_json())?;
            j["peak_gflops"] = serde_json::json!(peak_of(&r.device, peaks));
            println!("{j}");
        }
    } else {
        print_tasks(&task_results, &share);
    }
    Ok(())
}

/// The fp32 peaks (CPU GFLOP/s, GPU GFLOP/s) of the paths asked for (`want`: cpu, gpu), each
/// measured now; `None` for a path not asked for or a CPU without a measurement.
fn measure_peaks(
    (want_cpu, want_gpu): (bool, bool),
    open: &dyn Fn() -> wgtrain::Result<wgtrain::gpu::GpuContext>,
) -> Result<(Option<f64>, Option<f64>)> {
    let cpu = want_cpu
        .then(|| wgtrain::cpu::peak::measure(rayon::current_num_threads()))
        .flatten();
    let gpu = if want_gpu {
        Some(wgtrain::gpu::peak::measure(&open()?)?)
    } else {
        None
    };
    Ok((cpu.map(|p| p.gflops), gpu))
}

/// The tasks `--task` names (T1, T2, T3 by default), each trained on every path in `devices`,
/// each data set loaded once and its load time on stderr.
fn run_tasks(
    a: &BenchArgs,
    devices: &[String],
    gpu: &wgtrain::GpuOptions,
) -> Result<Vec<wgtrain::bench::BenchResult>> {
    use wgtrain::bench;
    let tasks = a
        .task
        .as_deref()
        .unwrap_or("T1,T2,T3")
        .split(',')
        .map(bench::Task::by_name)
        .collect::<wgtrain::Result<Vec<_>>>()?;
    let mut task_results = Vec::new();
    let mut splits = std::collections::HashMap::new();
    for task in tasks {
        if !splits.contains_key(task.data) {
            let t = std::time::Instant::now();
            let split = bench::load_data(task.data, &super::data_roots())?;
            eprintln!("loaded {} in {:.2} s", task.data, t.elapsed().as_secs_f64());
            splits.insert(task.data, split);
        }
        let split = &splits[task.data];
        for dev in devices {
            let device = if dev == "cpu" {
                Device::cpu()
            } else {
                Device::Gpu(gpu.clone())
            };
            let r = bench::run_task(task, split, &device, &mut |line| eprintln!("{line}"))?;
            task_results.push(r);
        }
    }
    Ok(task_results)
}

/// The higher of the peaks measured `before` and `after` the runs, per path (CPU, GPU), each
/// said on stderr (the CPU's lack of one too, when the CPU path ran: `want_cpu`).
fn report_peaks(
    before: (Option<f64>, Option<f64>),
    after: (Option<f64>, Option<f64>),
    want_cpu: bool,
) -> (Option<f64>, Option<f64>) {
    let max = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let (peak, gpu_peak) = (max(before.0, after.0), max(before.1, after.1));
    match peak {
        Some(p) => eprintln!(
            "cpu fp32 peak: {p:.0} GFLOP/s (vector FMA on {} thread(s), measured)",
            rayon::current_num_threads()
        ),
        None if want_cpu => eprintln!("cpu fp32 peak: not measured on this CPU"),
        None => {}
    }
    if let Some(p) = gpu_peak {
        eprintln!("gpu fp32 peak: {p:.0} GFLOP/s (FMA shader, measured)");
    }
    (peak, gpu_peak)
}

/// The peak of `device`'s path among (CPU, GPU): CPU results name the CPU path; every other
/// result is the GPU path's.
fn peak_of(device: &str, (cpu, gpu): (Option<f64>, Option<f64>)) -> Option<f64> {
    if device.starts_with("cpu") { cpu } else { gpu }
}

/// `gflops` as a share of `peak` ("-" without one).
fn share_of(peak: Option<f64>, gflops: f64) -> String {
    match peak {
        Some(p) if gflops < 0.1 * p => format!("{:.1}%", 100.0 * gflops / p),
        Some(p) => format!("{:.0}%", 100.0 * gflops / p),
        None => "-".into(),
    }
}

/// The `--gemm` results as a table, each with its share of its path's peak (`share`).
fn print_gemm(results: &[wgtrain::bench::GemmResult], share: &dyn Fn(&str, f64) -> String) {
    println!(
        "{:<8} {:>6} {:>6} {:>6}  {:>10} {:>6}  device",
        "form", "m", "k", "n", "GFLOP/s", "peak"
    );
    for r in results {
        println!(
            "{:<8} {:>6} {:>6} {:>6}  {:>10.1} {:>6}  {}",
            r.form,
            r.m,
            r.k,
            r.n,
            r.gflops,
            share(&r.device, r.gflops),
            r.device
        );
    }
}

/// The task results as a table, each path's share of its peak (`share`), the first and last
/// ten epochs where a task has them, and each task's paths compared in words.
fn print_tasks(results: &[wgtrain::bench::BenchResult], share: &dyn Fn(&str, f64) -> String) {
    use wgtrain::bench;
    println!(
        "{:<4} {:>11} {:>9} {:>9} {:>6} {:>8}  device",
        "task", "samples/s", "s/epoch", "GFLOP/s", "peak", "test acc"
    );
    for r in results {
        println!(
            "{:<4} {:>11.0} {:>9.3} {:>9.1} {:>6} {:>8.4}  {}",
            r.task,
            r.samples_per_sec,
            r.seconds_per_epoch,
            r.gflops,
            share(&r.device, r.gflops),
            r.test_accuracy,
            r.device
        );
    }
    for r in results {
        if let Some((first, last)) = r.first_last {
            println!(
                "{} {}: first {span} epochs {first:.0} samples/s, last {span} {last:.0} ({:.2}x)",
                r.task,
                r.device,
                last / first,
                span = bench::SPAN
            );
        }
    }
    for task in bench::TASKS.iter() {
        let find = |p: &str| {
            results
                .iter()
                .find(|r| r.task == task.name && r.device.starts_with(p))
        };
        if let (Some(g), Some(c)) = (find("gpu"), find("cpu")) {
            println!(
                "{}: {}",
                task.name,
                compare(g.samples_per_sec, c.samples_per_sec)
            );
        }
    }
}

/// `--gemm`: every shape on the CPU and GPU paths asked for (`want`: cpu, gpu), progress on
/// stderr and, with `--json`, a line per result as it is measured (with the peaks measured
/// `before`, so a sweep cut short keeps what ran). The results, and whether the GPU was a
/// software adapter.
fn gemm_sweep(
    a: &BenchArgs,
    (want_cpu, want_gpu): (bool, bool),
    open: &dyn Fn() -> wgtrain::Result<wgtrain::gpu::GpuContext>,
    before: (Option<f64>, Option<f64>),
) -> Result<(Vec<wgtrain::bench::GemmResult>, bool)> {
    use wgtrain::bench;
    let mut software = false;
    let gpu = if want_gpu {
        let ctx = open()?;
        // WGTRAIN_MATMUL=64 or =128 sweeps that variant; otherwise the adapter's rule.
        let variant = match super::gpu_options(a.backend)?.matmul.setting {
            wgtrain::gpu::tuning::Setting::Force(v) => v,
            _ => wgtrain::gpu::tuning::rule(&ctx.info),
        };
        software = !context::is_hardware(&ctx.info);
        Some(bench::GemmGpu::new(ctx, variant)?)
    } else {
        None
    };
    let mut results = Vec::new();
    for (form, m, k, n) in bench::gemm_shapes() {
        if want_cpu {
            results.push(bench::gemm_cpu(form, m, k, n));
        }
        if let Some(gpu) = &gpu {
            results.push(bench::gemm_gpu(gpu, form, m, k, n)?);
        }
        let r: &bench::GemmResult = results.last().expect("a device ran");
        eprintln!(
            "  {} {m}x{k}x{n}: {:.1} GFLOP/s ({})",
            r.form, r.gflops, r.device
        );
        if a.json {
            let peak = if r.device.starts_with("cpu") {
                before.0
            } else {
                before.1
            };
            println!("{}", gemm_json(r, peak));
        }
    }
    Ok((results, software))
}

/// `--gemm --plot`: the results against the peaks measured (CPU, GPU), each device's peak
/// being its path's; a software adapter's bars are labelled as CPU emulation.
fn draw_gemm(
    results: &[wgtrain::bench::GemmResult],
    (cpu, gpu): (Option<f64>, Option<f64>),
    software: bool,
    path: &std::path::Path,
) -> Result<()> {
    let mut peaks: Vec<(String, f64)> = Vec::new();
    for r in results {
        let peak = if r.device.starts_with("cpu") {
            cpu
        } else {
            gpu
        };
        if let Some(p) = peak
            && !peaks.iter().any(|(d, _)| *d == r.device)
        {
            peaks.push((r.device.clone(), p));
        }
    }
    let note = if software {
        "The GPU bars are a software adapter: CPU emulation, not GPU speed."
    } else {
        ""
    };
    wgtrain::plot::draw_gemm(results, &peaks, note, path, super::font().as_deref())?;
    eprintln!("drew the GEMM sweep into {}", path.display());
    Ok(())
}

/// One `--gemm --json` line: the shape, its GFLOP/s, the path's peak and the device.
fn gemm_json(r: &wgtrain::bench::GemmResult, peak: Option<f64>) -> serde_json::Value {
    serde_json::json!({
        "form": r.form, "m": r.m, "k": r.k, "n": r.n, "gflops": r.gflops,
        "peak_gflops": peak, "device": r.device,
    })
}

/// The GPU path's speed against the CPU path's, in words.
fn compare(gpu: f64, cpu: f64) -> String {
    let r = gpu / cpu;
    if r >= 1.0 {
        format!("the GPU path trains {r:.2}x as many samples/s as the CPU path")
    } else {
        format!(
            "the GPU path trains {r:.2}x the CPU path's samples/s (the CPU path is {:.1}x faster here)",
            1.0 / r
        )
    }
}

/// `bench --sweep batch`: the points as they are measured (JSON lines or progress), then a
/// table, the crossover in words, and the picture.
fn sweep(a: &BenchArgs, devices: &[String], gpu: &wgtrain::GpuOptions) -> Result<()> {
    use wgtrain::bench;
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        bail!(
            "--seconds: must be a positive number of seconds, got {}",
            a.seconds
        );
    }
    if let Some(p) = &a.plot {
        super::check_writable(p)?;
        wgtrain::plot::prepare_font(super::font().as_deref())?;
    }
    let roots = super::data_roots();
    let names: Vec<String> = match &a.task {
        Some(t) => parse_list(t, "task")?,
        None => vec!["T1".into()],
    };
    let devices: Vec<wgtrain::Device> = devices
        .iter()
        .map(|d| match d.as_str() {
            "cpu" => Device::cpu(),
            _ => Device::Gpu(gpu.clone()),
        })
        .collect();
    let mut all = Vec::new();
    for name in names {
        let mut task = bench::Task::by_name(&name)?;
        let split = match bench::load_data(task.data, &roots) {
            Err(e) if a.task.is_none() => {
                task = bench::Task::by_name("T3")?;
                eprintln!(
                    "note: sweeping T3 (the built-in digits): T1's {} ({e})",
                    bench::TASKS[0].data
                );
                bench::load_data(task.data, &roots)?
            }
            other => other?,
        };
        let points = bench::sweep_batch(
            task,
            &split,
            &devices,
            a.seconds,
            &mut |line| eprintln!("{line}"),
            &mut |p| sweep_point(a.json, p),
        )?;
        let gpu = points
            .iter()
            .find(|p| !p.device.starts_with("cpu"))
            .map(|p| p.device.clone());
        let marked = say_crossover(task.name, &points, gpu.as_deref());
        if let Some(path) = &a.plot {
            let target = if all.is_empty() {
                path.clone()
            } else {
                path.with_file_name(format!(
                    "{}-{}",
                    task.name,
                    path.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                ))
            };
            draw_sweep(&points, marked, gpu.as_deref(), &target)?;
        }
        all.extend(points);
    }
    if !a.json {
        print_sweep(&all);
    }
    Ok(())
}

/// One sweep point as it is measured: a JSON line on stdout (`json`), else progress on stderr.
fn sweep_point(json: bool, p: &wgtrain::bench::SweepPoint) {
    if json {
        println!("{}", p.to_json());
    } else {
        eprintln!(
            "  {} batch {:>5}: {:>10.0} samples/s  {}",
            p.task, p.batch, p.samples_per_sec, p.device
        );
    }
}

/// Where the GPU path (`gpu`, the device that is not the CPU) overtakes the CPU path in task
/// `name`'s points, in words on stderr when both ran; the batch to mark on the plot, if any.
fn say_crossover(
    name: &str,
    points: &[wgtrain::bench::SweepPoint],
    gpu: Option<&str>,
) -> Option<usize> {
    use wgtrain::bench::{self, Crossover};
    let cpu = points
        .iter()
        .find(|p| p.device.starts_with("cpu"))
        .map(|p| p.device.clone());
    let mut marked = None;
    if let (Some(c), Some(g)) = (&cpu, gpu) {
        let words = match bench::crossover(points, c, g) {
            Crossover::At(b) => {
                marked = Some(b);
                format!("{name}: the GPU path overtakes the CPU path from batch {b} on")
            }
            Crossover::Never { best_ratio, at } => format!(
                "{name}: the GPU path does not overtake the CPU path here (at best {best_ratio:.2}x its samples/s, at batch {at})"
            ),
            Crossover::Unknown => format!("{name}: no batch ran on both paths"),
        };
        eprintln!("{words}");
    }
    marked
}

/// `--sweep --plot`: one task's points into `target`, the crossover `marked`; a software GPU
/// adapter's line (`gpu` names the device) is labelled as CPU emulation.
fn draw_sweep(
    points: &[wgtrain::bench::SweepPoint],
    marked: Option<usize>,
    gpu: Option<&str>,
    target: &std::path::Path,
) -> Result<()> {
    let software = gpu.is_some_and(|g| g.contains("Cpu"));
    let note = if software {
        "The GPU line is a software adapter: CPU emulation, not GPU speed."
    } else {
        ""
    };
    wgtrain::plot::draw_sweep(points, marked, note, target, super::font().as_deref())?;
    eprintln!("drew the sweep into {}", target.display());
    Ok(())
}

/// The sweep's points as a table.
fn print_sweep(all: &[wgtrain::bench::SweepPoint]) {
    println!("{:<4} {:>6} {:>11}  device", "task", "batch", "samples/s");
    for p in all {
        println!(
            "{:<4} {:>6} {:>11.0}  {}",
            p.task, p.batch, p.samples_per_sec, p.device
        );
    }
}
