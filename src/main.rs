//! The command line: parse, call the library, print.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use wgtrain::checkpoint;
use wgtrain::cpu::fast::CpuTrainer;
use wgtrain::data::{self, Targets};
use wgtrain::gpu::{BackendChoice, GpuContext, GpuTrainer, context};
use wgtrain::model::{Activation, Loss, Output, Params, Spec};
use wgtrain::train::{self, Backend, Hyper};

const LOSS_HELP: &str = "Loss, per batch of N samples (outputs a, targets y):
  cross-entropy  L = -(1/N) Σ_n log softmax(z_n)[y_n]   (softmax output; labels are class indices)
  bce            L = -(1/N) Σ_n Σ_k [y log a + (1-y) log(1-a)]   (sigmoid output, computed from logits)
  mse            L = (1/N) Σ_n ½‖a_n - y_n‖²   (linear or sigmoid output; gradient (a - y)/N)
Default: cross-entropy for class labels, mse for real-valued targets.";

#[derive(Parser)]
#[command(
    name = "wgtrain",
    version,
    about = "Train dense neural networks with WGSL compute shaders (wgpu), or on the CPU",
    long_about = "Train dense neural networks (multi-layer perceptrons) with every pass running as WGSL \
compute shaders through wgpu (Vulkan, Metal, DX12, GL), or on the CPU. A plain f64 CPU reference \
proves both paths right in the test suite."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network and report loss and accuracy per epoch.
    Train(Box<TrainArgs>),
    /// Run the benchmark tasks (T1-T4, as the PyTorch reference defines them) on the CPU and
    /// GPU paths, each result validated before it is timed; or sweep GEMM shapes (--gemm).
    Bench(BenchArgs),
    /// List every adapter wgpu finds, with the limits that matter for training.
    Devices {
        /// Which backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// Tasks, comma separated: T1 (Fashion-MNIST 784-128-10, batch 64, 3 epochs), T2
    /// (784-1024-1024-10, batch 1024, 1 epoch), T3 (digits 64-32-10, batch 32, 50 epochs), T4
    /// (784-4096-4096-10, batch 4096, 1 epoch: GPU-sized).
    #[arg(long, default_value = "T1,T2,T3")]
    task: String,
    /// Paths, comma separated: cpu, gpu. Default: cpu, and gpu when a hardware adapter exists
    /// (name gpu to use a software adapter such as llvmpipe).
    #[arg(long)]
    device: Option<String>,
    /// wgpu backend for the GPU path: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Sweep square and training-shaped matmuls instead, reporting GFLOP/s per size.
    #[arg(long)]
    gemm: bool,
    /// One JSON object per result on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct TrainArgs {
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
    /// Write one JSON object per epoch (epoch, train_loss, test_loss, test_accuracy, seconds,
    /// samples_per_sec, elapsed) to this file.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
}

fn parse_list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<T>()
                .map_err(|e| anyhow::anyhow!("--{what}: '{}': {e}", p.trim()))
        })
        .collect()
}

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
fn check_writable(path: &Path) -> Result<()> {
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

fn train_cmd(a: TrainArgs) -> Result<()> {
    let hp = Hyper {
        lr: a.lr,
        l2: a.l2,
        batch: a.batch,
        epochs: a.epochs,
        seed: a.seed,
    };
    hp.validate()?;
    for path in a.save.iter().chain(&a.metrics) {
        check_writable(path)?;
    }
    let split = data::load(&a.data, a.targets)?;
    let train_set = &split.train;
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
    let mut backend: Box<dyn Backend> = match open_gpu(&a.device, a.backend)? {
        Some(ctx) => Box::new(GpuTrainer::new(
            ctx,
            &spec,
            &params,
            train_set,
            split.test.as_ref(),
            a.batch,
        )?),
        None => Box::new(CpuTrainer::new(
            &spec,
            params,
            train_set,
            split.test.as_ref(),
            a.batch,
        )?),
    };
    eprintln!(
        "data: {} ({} train{}), network: {} ({} parameters)",
        a.data,
        train_set.n,
        split
            .test
            .as_ref()
            .map_or(String::new(), |t| format!(", {} test", t.n)),
        spec.describe(),
        spec.n_params()
    );
    eprintln!("device: {}", backend.describe());
    // Opened when the first epoch ends, so a run that fails before that writes nothing; then
    // one line appended and flushed per epoch, so a long run can be followed as it goes.
    let mut metrics_file: Option<std::io::BufWriter<std::fs::File>> = None;
    let metrics = a.metrics.clone();
    let epochs = hp.epochs;
    train::run(backend.as_mut(), train_set.n, &hp, classes, &mut |r| {
        let mut line = format!(
            "epoch {:>3}/{epochs}  train loss {:.4}",
            r.epoch, r.train_loss
        );
        if let Some(l) = r.test_loss {
            line += &format!("  test loss {l:.4}");
        }
        if let Some(acc) = r.test_accuracy {
            line += &format!("  test acc {:.2}%", acc * 100.0);
        }
        line += &format!("  {:.0} samples/s  {:.2} s", r.samples_per_sec, r.elapsed);
        println!("{line}");
        if let Some(path) = &metrics {
            let io = |err| wgtrain::Error::Io {
                path: path.clone(),
                err,
            };
            if metrics_file.is_none() {
                metrics_file = Some(std::io::BufWriter::new(
                    std::fs::File::create(path).map_err(io)?,
                ));
            }
            if let Some(f) = metrics_file.as_mut() {
                writeln!(f, "{}", r.to_json()).map_err(io)?;
                f.flush().map_err(io)?;
            }
        }
        Ok(())
    })?;
    if let Some(path) = &a.save {
        let p = backend.params()?;
        if !p.all_finite() {
            bail!(
                "the trained parameters are not finite; not saving {}",
                path.display()
            );
        }
        checkpoint::save(path, &spec, &p).with_context(|| format!("saving {}", path.display()))?;
        eprintln!("saved {}", path.display());
    }
    Ok(())
}

fn bench_cmd(a: BenchArgs) -> Result<()> {
    use wgtrain::bench;
    let devices: Vec<String> = match &a.device {
        Some(d) => parse_list(d, "device")?,
        None => {
            let mut d = vec!["cpu".to_string()];
            if context::pick_adapter(a.backend, false)?.is_some() {
                d.push("gpu".into());
            }
            d
        }
    };
    if let Some(bad) = devices.iter().find(|d| *d != "cpu" && *d != "gpu") {
        bail!("--device: unknown path '{bad}': expected cpu or gpu");
    }
    let explicit_gpu = a.device.is_some();
    let backend = a.backend;
    let open = move || -> wgtrain::Result<GpuContext> {
        if explicit_gpu {
            GpuContext::new(backend)
        } else {
            match context::pick_adapter(backend, false)? {
                Some(ad) => GpuContext::from_adapter(ad),
                None => Err(wgtrain::Error::Gpu("no hardware GPU adapter".into())),
            }
        }
    };
    if a.gemm {
        let gpu = if devices.iter().any(|d| d == "gpu") {
            let ctx = open()?;
            let kernels = wgtrain::gpu::Kernels::new(&ctx)?;
            Some((ctx, kernels))
        } else {
            None
        };
        if !a.json {
            println!(
                "{:<8} {:>6} {:>6} {:>6}  {:>10}  device",
                "form", "m", "k", "n", "GFLOP/s"
            );
        }
        for (form, m, k, n) in bench::gemm_shapes() {
            let mut results = Vec::new();
            if devices.iter().any(|d| d == "cpu") {
                results.push(bench::gemm_cpu(form, m, k, n));
            }
            if let Some((ctx, kernels)) = &gpu {
                results.push(bench::gemm_gpu(ctx, kernels, form, m, k, n)?);
            }
            for r in results {
                if a.json {
                    println!(
                        "{}",
                        serde_json::json!({"form": r.form, "m": r.m, "k": r.k, "n": r.n, "gflops": r.gflops, "device": r.device})
                    );
                } else {
                    println!(
                        "{:<8} {:>6} {:>6} {:>6}  {:>10.1}  {}",
                        r.form, r.m, r.k, r.n, r.gflops, r.device
                    );
                }
            }
        }
        return Ok(());
    }
    let tasks = a
        .task
        .split(',')
        .map(bench::Task::by_name)
        .collect::<wgtrain::Result<Vec<_>>>()?;
    let mut splits = std::collections::HashMap::new();
    let mut results = Vec::new();
    for task in tasks {
        if !splits.contains_key(task.data) {
            let t = std::time::Instant::now();
            let split = bench::load_data(task.data)?;
            eprintln!("loaded {} in {:.2} s", task.data, t.elapsed().as_secs_f64());
            splits.insert(task.data, split);
        }
        let split = &splits[task.data];
        for dev in &devices {
            let target = if dev == "cpu" {
                bench::Target::Cpu
            } else {
                bench::Target::Gpu(&open)
            };
            let r = bench::run_task(task, split, &target, &mut |line| eprintln!("{line}"))?;
            if a.json {
                println!("{}", r.to_json());
            }
            results.push(r);
        }
    }
    if !a.json {
        println!(
            "{:<4} {:>11} {:>9} {:>9} {:>8}  device",
            "task", "samples/s", "s/epoch", "GFLOP/s", "test acc"
        );
        for r in &results {
            println!(
                "{:<4} {:>11.0} {:>9.3} {:>9.1} {:>8.4}  {}",
                r.task, r.samples_per_sec, r.seconds_per_epoch, r.gflops, r.test_accuracy, r.device
            );
        }
        for task in bench::TASKS.iter() {
            let find = |p: &str| {
                results
                    .iter()
                    .find(|r| r.task == task.name && r.device.starts_with(p))
            };
            if let (Some(g), Some(c)) = (find("gpu"), find("cpu")) {
                println!(
                    "{}: GPU/CPU samples/s ratio {:.2}",
                    task.name,
                    g.samples_per_sec / c.samples_per_sec
                );
            }
        }
    }
    Ok(())
}

fn devices_cmd(backend: BackendChoice) -> Result<()> {
    let all = context::adapters(backend);
    if all.is_empty() {
        println!("no adapters found; {}", context::INSTALL_HINT);
        return Ok(());
    }
    let auto = context::pick_adapter(backend, false)?.map(|a| a.get_info());
    for (i, a) in all.iter().enumerate() {
        let info = a.get_info();
        let l = a.limits();
        let mark = if auto.as_ref() == Some(&info) {
            "  [--device auto]"
        } else if !context::is_hardware(&info) {
            "  [software: --device gpu only]"
        } else {
            ""
        };
        println!("{i}: {}{mark}", info.name);
        println!(
            "   backend {:?}, type {:?}, driver {} {}",
            info.backend, info.device_type, info.driver, info.driver_info
        );
        println!(
            "   max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB",
            l.max_storage_buffer_binding_size >> 20,
            l.max_buffer_size >> 20,
            l.max_compute_workgroup_storage_size >> 10
        );
        println!(
            "   invocations per workgroup {}, workgroup size {}x{}x{}, workgroups per dimension {}",
            l.max_compute_invocations_per_workgroup,
            l.max_compute_workgroup_size_x,
            l.max_compute_workgroup_size_y,
            l.max_compute_workgroup_size_z,
            l.max_compute_workgroups_per_dimension
        );
    }
    Ok(())
}

/// Quiets Vulkan loaders that complain about a missing XDG_RUNTIME_DIR.
fn prepare_environment() {
    #[cfg(unix)]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wgtrain-runtime-{}", std::process::id()));
        if std::fs::create_dir_all(&dir).is_ok()
            && std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).is_ok()
        {
            // SAFETY: called first thing in main, before any thread exists.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    }
}

fn main() {
    let cli = Cli::parse();
    prepare_environment();
    let result = match cli.command {
        Command::Train(a) => train_cmd(*a),
        Command::Bench(a) => bench_cmd(a),
        Command::Devices { backend } => devices_cmd(backend),
    };
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR")
        && std::path::Path::new(&dir).file_name().is_some_and(|n| {
            n.to_string_lossy() == format!("wgtrain-runtime-{}", std::process::id())
        })
    {
        let _ = std::fs::remove_dir(&dir);
    }
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
