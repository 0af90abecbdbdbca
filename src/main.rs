//! The command line: parse, call the library, print.

use clap::{Parser, Subcommand};

use wgtrain::config::BackendChoice;

/// `eprintln!` that never panics: a closed or full stderr loses the line, never the run.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;

#[derive(Parser)]
#[command(
    name = "wgtrain",
    version,
    about = "Train dense neural networks with WGSL compute shaders (wgpu), or on the CPU",
    long_about = "Train dense neural networks (multi-layer perceptrons) with every pass running as WGSL \
compute shaders through wgpu (Vulkan, Metal, DX12, GL), or on the CPU. A plain f64 CPU reference \
proves both paths right in the test suite.",
    after_long_help = "Environment:
  RAYON_NUM_THREADS  threads of the CPU path (default: one per core)
  WGPU_BACKEND       wgpu backends to search with --backend auto (vulkan, metal, dx12, gl)
  WGTRAIN_MATMUL     GPU matmul variant: auto (default: timed per network on a hardware
                     adapter, cached in ~/.cache/wgtrain), rule, tune, 64 or 128
  WGTRAIN_FONT       TrueType font for plots (default: DejaVu Sans where installed)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a network and report loss and accuracy per epoch.
    Train(Box<cli::train::TrainArgs>),
    /// Run the benchmark tasks (T1-T5, as the PyTorch reference defines them) on the CPU and
    /// GPU paths, each result validated before it is timed; or sweep GEMM shapes (--gemm).
    ///
    /// Reports samples/s, seconds per epoch and GFLOP/s, and that rate as a share of the
    /// path's fp32 peak, which it measures before and after the runs (independent FMA chains
    /// on every CPU thread, or an FMA shader on the GPU) since no API reports it. The machine's
    /// other load can only lower a figure: compare paths or tools in one run, or interleaved.
    Bench(cli::bench::BenchArgs),
    /// Evaluate a saved model on a dataset: loss, accuracy, per-class precision/recall/F1 and
    /// the confusion matrix.
    Eval(cli::eval::EvalArgs),
    /// Show how `train` would read a CSV file: each column's role (input, label, target,
    /// ignored and why), kind, levels or range, mean and std, missing cells and an example;
    /// then the file's delimiter, decimal and thousands marks, header, encoding and rows. Takes
    /// train's CSV flags; a file train would refuse gets train's error. With --model: how that
    /// model's eval or predict would read the file, and their error if they refuse it.
    Schema(Box<cli::schema::SchemaArgs>),
    /// Predict with a saved model: class and probabilities (or outputs) per sample, as CSV.
    Predict(cli::eval::PredictArgs),
    /// Draw loss and accuracy per epoch from a --metrics file (SVG or PNG).
    Plot(cli::plot::PlotArgs),
    /// Check this machine's GPU (or CPU) path against the f64 reference: the matmul kernels in
    /// every variant and the loss kernel on awkward shapes, whole-network gradients, short
    /// training runs (SGD, momentum, Adam) against the CPU path. One line per check; exits
    /// non-zero when any fails.
    Selftest(cli::selftest::SelftestArgs),
    /// Show every number of a few training steps of a small network: forward, loss, backward
    /// (each gradient beside its central finite difference), the update, and the same step on
    /// the fast CPU and GPU paths. Text, --markdown or --json; docs/TRACE.md has the keys.
    Trace(Box<cli::trace::TraceArgs>),
    /// Check the analytic gradients of the f64 reference, the fast CPU path and the GPU path
    /// against central finite differences on your network and rows: the worst relative error
    /// per layer and path, pass or fail at a stated tolerance; exits non-zero on a failure.
    Gradcheck(Box<cli::gradcheck::GradcheckArgs>),
    /// List every adapter wgpu finds, with the limits that matter for training.
    Devices {
        /// Which backend to search: auto (honours WGPU_BACKEND), vulkan, metal, dx12, gl.
        #[arg(long, default_value = "auto")]
        backend: BackendChoice,
    },
}

/// Quiets Vulkan loaders that complain about a missing XDG_RUNTIME_DIR, and lets a closed pipe
/// (`wgtrain predict ... | head`) end the process quietly, as it does for other Unix tools,
/// instead of a panic in println!. Not for `train` (`closed_pipe_ends`: false): a run whose
/// output is cut (`wgtrain train | head -1`) keeps training and saves, its lines lost.
fn prepare_environment(closed_pipe_ends: bool) {
    // SAFETY: setting a signal's disposition before any thread exists. A file-size limit
    // (`ulimit -f`) then fails the write with EFBIG, which takes the full-disk path (stop,
    // save or rescue, a message) instead of killing the process mid-write.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    #[cfg(unix)]
    if closed_pipe_ends {
        // SAFETY: restoring the default disposition of SIGPIPE before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
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
    prepare_environment(!matches!(cli.command, Command::Train(_)));
    // The commands whose table errors point to `wgtrain schema` (eval's and predict's to
    // `wgtrain schema --model`, with their model).
    let reads_tables = match &cli.command {
        Command::Train(_) => Some(None),
        Command::Eval(a) => Some(Some(a.model().to_path_buf())),
        Command::Predict(a) => Some(Some(a.model().to_path_buf())),
        _ => None,
    };
    let uses_gpu = matches!(
        cli.command,
        Command::Train(_)
            | Command::Bench(_)
            | Command::Selftest(_)
            | Command::Trace(_)
            | Command::Gradcheck(_)
            | Command::Devices { .. }
    );
    let result = match wgtrain::config::check_backend_env().map_err(anyhow::Error::from) {
        Err(e) if uses_gpu => Err(e),
        _ => Ok(()),
    }
    .and_then(|()| match cli.command {
        Command::Train(a) => cli::train::run(*a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Eval(a) => cli::eval::eval(a),
        Command::Predict(a) => cli::eval::predict(a),
        Command::Schema(a) => cli::schema::run(*a),
        Command::Plot(a) => cli::plot::run(a),
        Command::Selftest(a) => cli::selftest::run(a),
        Command::Trace(a) => cli::trace::run(*a),
        Command::Gradcheck(a) => cli::gradcheck::run(*a),
        Command::Devices { backend } => cli::devices::run(backend),
    });
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR")
        && std::path::Path::new(&dir).file_name().is_some_and(|n| {
            n.to_string_lossy() == format!("wgtrain-runtime-{}", std::process::id())
        })
    {
        let _ = std::fs::remove_dir(&dir);
    }
    if let Err(e) = result {
        note!("error: {}", cli::message(&e));
        if let Some(model) = reads_tables
            && let Some(hint) = cli::schema_hint(&e, model.as_deref())
        {
            note!("hint: {hint}");
        }
        std::process::exit(1);
    }
}
