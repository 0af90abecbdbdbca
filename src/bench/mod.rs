//! `wgtrain bench`: the benchmark tasks T1–T5 (defined as in the PyTorch reference), each result
//! validated (first-step gradients against the f64 reference, final accuracy) before its time is
//! trusted, a GEMM sweep, and a batch-size sweep (`sweep`). `Plan` runs any of them whole, the
//! fp32 peaks measured beside them, and hands back a `Report` to print as a table or JSON.

use web_time::Instant;

use crate::config::{Config, Device};
use crate::cpu::fast::sgemm;
use crate::cpu::reference::{self, Net64};
use crate::data::{self, Dataset, Split};
use crate::error::{Error, Result};
use crate::gpu::buffer::run_timed;
use crate::gpu::kernels::{Kernel, Kernels};
use crate::gpu::uniforms::MatmulParams;
use crate::gpu::{GpuContext, MatmulVariant};
use crate::model::{Activation, Loss, Output, Params, Spec};
use crate::optim::{Method, Optimizer};
use crate::session::Trainer;
use crate::train::Backend;
use crate::trained::Model;

mod plan;
mod report;
mod sweep;

pub use plan::{Measure, Plan, Progress};
pub use report::{Peaks, Report};
pub use sweep::{Crossover, SweepPoint, crossover, sweep_batch};

/// One benchmark task: ReLU hidden layers, softmax cross-entropy, Glorot init, plain SGD or
/// Adam with PyTorch's defaults (β1 0.9, β2 0.999, ε 1e-8).
#[derive(Clone, Debug)]
pub struct Task {
    /// Task name, `"T1"` to `"T5"`; `by_name` matches it case-insensitively.
    pub name: &'static str,
    /// The dataset trained and tested on, as `data::load` names it (`"fashion-mnist"`, `"digits"`).
    pub data: &'static str,
    /// Layer sizes, inputs first: `[inputs, hidden.., classes]`.
    pub sizes: &'static [usize],
    /// The update rule, with its default hyper-parameters.
    pub method: Method,
    /// Learning rate, constant over the run.
    pub lr: f32,
    /// Rows per mini-batch.
    pub batch: usize,
    /// Epochs trained; the reported time per epoch is their median.
    pub epochs: usize,
    /// Lowest test accuracy that counts as a valid run (the reference reaches a few points more).
    pub min_accuracy: f64,
}

/// The benchmark tasks: T1 a small Fashion-MNIST network, T2 and T4 wide ones (1024 and 4096
/// units, batches as wide), T3 the built-in digits set for many epochs, T5 the long run with
/// the optimiser most people use (Adam, 100 epochs: does the speed hold to the end?).
pub const TASKS: [Task; 5] = [
    Task {
        name: "T1",
        data: "fashion-mnist",
        sizes: &[784, 128, 10],
        method: Method::Sgd,
        lr: 0.1,
        batch: 64,
        epochs: 3,
        min_accuracy: 0.80,
    },
    Task {
        name: "T2",
        data: "fashion-mnist",
        sizes: &[784, 1024, 1024, 10],
        method: Method::Sgd,
        lr: 0.05,
        batch: 1024,
        epochs: 1,
        min_accuracy: 0.60,
    },
    Task {
        name: "T3",
        data: "digits",
        sizes: &[64, 32, 10],
        method: Method::Sgd,
        lr: 0.1,
        batch: 32,
        epochs: 50,
        min_accuracy: 0.95,
    },
    Task {
        name: "T4",
        data: "fashion-mnist",
        sizes: &[784, 4096, 4096, 10],
        method: Method::Sgd,
        lr: 0.05,
        batch: 4096,
        epochs: 1,
        min_accuracy: 0.60,
    },
    Task {
        name: "T5",
        data: "digits",
        sizes: &[64, 128, 64, 10],
        method: Method::Adam,
        lr: 0.001,
        batch: 32,
        epochs: 100,
        min_accuracy: 0.95,
    },
];

/// From this many epochs on, a result also gives the median of the first and of the last
/// `SPAN` epochs, to show whether the speed holds to the end of the run.
pub const SPAN_MIN_EPOCHS: usize = 20;
/// Epochs in each of those spans.
pub const SPAN: usize = 10;

impl Task {
    /// The task called `name` (case-insensitive, surrounding spaces ignored); a usage error that
    /// lists the valid names otherwise.
    pub fn by_name(name: &str) -> Result<&'static Task> {
        TASKS
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                Error::usage(format!(
                    "unknown task '{name}': expected T1, T2, T3, T4 or T5"
                ))
            })
    }

    /// The task's network: ReLU after every hidden layer, softmax outputs, cross-entropy loss.
    pub fn spec(&self) -> Spec {
        let hidden = vec![Activation::Relu; self.sizes.len() - 2];
        Spec::new(
            self.sizes.to_vec(),
            hidden,
            Output::Softmax,
            Loss::CrossEntropy,
        )
        .expect("benchmark tasks are valid networks")
    }
}

/// A validated measurement.
#[derive(Clone, Debug)]
pub struct BenchResult {
    /// The task's name, `"T1"` to `"T5"`.
    pub task: &'static str,
    /// The training path and device, as the session describes it.
    pub device: String,
    /// Training rows per second over the median epoch.
    pub samples_per_sec: f64,
    /// Median over epochs.
    pub seconds_per_epoch: f64,
    /// Achieved GFLOP/s: `Spec::flops_per_sample` × `samples_per_sec` / 1e9.
    pub gflops: f64,
    /// Test-set accuracy after the last epoch, a fraction in [0, 1].
    pub test_accuracy: f64,
    /// Largest relative deviation of the first step's gradients from the f64 reference.
    pub first_step_error: f64,
    /// For tasks of `SPAN_MIN_EPOCHS` epochs or more: training rows per second over the median
    /// of the first `SPAN` epochs, and of the last `SPAN`.
    pub first_last: Option<(f64, f64)>,
}

impl BenchResult {
    /// One JSON object holding every field under its own name.
    pub fn to_json(&self) -> String {
        self.json().to_string()
    }

    /// `to_json`'s object, before it is written out.
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "task": self.task,
            "device": self.device,
            "samples_per_sec": self.samples_per_sec,
            "seconds_per_epoch": self.seconds_per_epoch,
            "gflops": self.gflops,
            "test_accuracy": self.test_accuracy,
            "first_step_error": self.first_step_error,
            "first10_samples_per_sec": self.first_last.map(|f| f.0),
            "last10_samples_per_sec": self.first_last.map(|f| f.1),
        })
    }
}

/// First-step gradients may differ from the f64 reference by f32 rounding only.
const FIRST_STEP_RTOL: f64 = 1e-3;
const FIRST_STEP_ATOL: f64 = 1e-5;
/// Rows in the first-step check: enough to cover every unit, few enough for the f64 reference
/// to finish in seconds on T4.
const CHECK_ROWS: usize = 8;

/// Compares `backend`'s gradients on the first rows of `train` with the f64 reference; returns
/// the worst `|got - want| / (atol + rtol |want|)` ratio, an error when it exceeds 1.
pub(crate) fn check_first_step(
    backend: &mut dyn Backend,
    spec: &Spec,
    params: &Params,
    train: &Dataset,
) -> Result<f64> {
    let rows: Vec<u32> = (0..CHECK_ROWS.min(train.n) as u32).collect();
    let m = rows.len();
    let (d, w) = (spec.inputs(), spec.outputs());
    let mut x = vec![0f32; m * d];
    let mut y = vec![0f32; m * w];
    for (i, &r) in rows.iter().enumerate() {
        train.x.copy_row(r as usize, &mut x[i * d..(i + 1) * d]);
        train.target_row(r as usize, &mut y[i * w..(i + 1) * w]);
    }
    let net = Net64::from_params(params);
    let (want_loss, want) = reference::gradients(
        spec,
        &net,
        &reference::widen(&x),
        &reference::widen(&y),
        m,
        0.0,
    );
    let (got_loss, got) = backend.gradients(&rows)?;
    let mut worst =
        ((got_loss - want_loss).abs()) / (FIRST_STEP_ATOL + FIRST_STEP_RTOL * want_loss.abs());
    for l in 0..spec.n_layers() {
        let pairs = got.layers[l]
            .w
            .iter()
            .zip(&want.w[l])
            .chain(got.layers[l].b.iter().zip(&want.b[l]));
        for (&g, &r) in pairs {
            let ratio = (g as f64 - r).abs() / (FIRST_STEP_ATOL + FIRST_STEP_RTOL * r.abs());
            if !ratio.is_finite() {
                worst = f64::INFINITY;
            } else {
                worst = worst.max(ratio);
            }
        }
    }
    if worst > 1.0 {
        return Err(Error::Gpu(format!(
            "{}: first-step gradients differ from the f64 reference by {worst:.1}x the tolerance (rtol {FIRST_STEP_RTOL}, atol {FIRST_STEP_ATOL}): not timing a wrong result",
            backend.describe()
        )));
    }
    Ok(worst)
}

/// Runs `task` on `device` (a `Trainer` session, as `wgtrain train` runs): validates the first
/// step, trains, validates the accuracy.
pub fn run_task(
    task: &'static Task,
    split: &Split,
    device: &Device,
    log: &mut dyn FnMut(&str),
) -> Result<BenchResult> {
    let spec = task.spec();
    let params = Params::init(&spec, 0);
    let test = split
        .test
        .as_ref()
        .ok_or_else(|| Error::usage(format!("{}: no test split", task.data)))?;
    let train = &split.train;
    if train.dim != spec.inputs() || train.target_width() != spec.outputs() {
        return Err(Error::Shape(format!(
            "{} has {} inputs and {} classes; task {} needs {} and {}",
            task.data,
            train.dim,
            train.target_width(),
            task.name,
            spec.inputs(),
            spec.outputs()
        )));
    }
    let config = Config {
        lr: task.lr,
        batch: task.batch,
        epochs: task.epochs,
        optimizer: Optimizer::new(task.method),
        ..Config::default()
    };
    let model = Model::new(spec.clone(), params.clone())?;
    let mut session = Trainer::new(model, train.clone(), config)
        .test(test.clone())
        .device(device.clone());
    let device = session.open()?.description.clone();
    let first_step_error = check_first_step(session.backend()?, &spec, &params, train)?;
    let mut seconds = Vec::new();
    let fit = session.fit(|r| {
        log(&format!(
            "  {} {device}: epoch {}/{} {:.2} s, train loss {:.4}",
            task.name, r.epoch, task.epochs, r.seconds, r.train_loss
        ));
        seconds.push(r.seconds);
        Ok(())
    })?;
    let accuracy = fit
        .reports
        .last()
        .and_then(|r| r.test_accuracy)
        .unwrap_or(0.0);
    if accuracy < task.min_accuracy {
        return Err(Error::Diverged(format!(
            "{} on {device}: test accuracy {:.4} is below {:.2}: not reporting the time of a run that did not learn",
            task.name, accuracy, task.min_accuracy
        )));
    }
    let first_last = (seconds.len() >= SPAN_MIN_EPOCHS).then(|| {
        let (first, last) = (&seconds[..SPAN], &seconds[seconds.len() - SPAN..]);
        (
            train.n as f64 / median(first),
            train.n as f64 / median(last),
        )
    });
    let median = median(&seconds);
    let sps = train.n as f64 / median;
    Ok(BenchResult {
        task: task.name,
        device,
        samples_per_sec: sps,
        seconds_per_epoch: median,
        gflops: spec.flops_per_sample() * sps / 1e9,
        test_accuracy: accuracy,
        first_step_error,
        first_last,
    })
}

/// The median of `v` (the upper one of an even count), NaN-free input assumed.
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Loads a task's dataset, named IDX sets looked for in `ROOT/NAME` for each of `roots`.
pub fn load_data(name: &str, roots: &[std::path::PathBuf]) -> Result<Split> {
    data::load_from(name, None, None, roots)
}

/// One GEMM measurement.
#[derive(Clone, Debug)]
pub struct GemmResult {
    /// `"cpu"`, or the adapter's name and the matmul variant that ran.
    pub device: String,
    /// Which product the shape comes from: `"square"`, `"X·W"` (forward), `"Xᵀ·dZ"` (weight
    /// gradient) or `"dZ·Wᵀ"` (input gradient).
    pub form: &'static str,
    /// Rows of the product: C (m, n) = A (m, k) · B (k, n).
    pub m: usize,
    /// Length of the contracted dimension.
    pub k: usize,
    /// Columns of the product.
    pub n: usize,
    /// Achieved GFLOP/s, counting 2·m·k·n flops per GEMM.
    pub gflops: f64,
}

impl GemmResult {
    /// One JSON object: the shape, its GFLOP/s, its path's peak `peak_gflops` (null without
    /// one) and the device.
    pub fn to_json(&self, peak_gflops: Option<f64>) -> String {
        serde_json::json!({
            "form": self.form, "m": self.m, "k": self.k, "n": self.n, "gflops": self.gflops,
            "peak_gflops": peak_gflops, "device": self.device,
        })
        .to_string()
    }

    /// One line of progress, indented: the shape, its GFLOP/s and the device.
    pub fn progress_line(&self) -> String {
        format!(
            "  {} {}x{}x{}: {:.1} GFLOP/s ({})",
            self.form, self.m, self.k, self.n, self.gflops, self.device
        )
    }
}

/// The shapes swept: squares, then the training matmuls of T1, T2 and T3 (forward X·W, weight
/// gradient Xᵀ·dZ, input gradient dZ·Wᵀ).
pub fn gemm_shapes() -> Vec<(&'static str, usize, usize, usize)> {
    let mut v: Vec<_> = [128, 256, 512, 1024, 2048]
        .iter()
        .map(|&s| ("square", s, s, s))
        .collect();
    for t in &TASKS[..3] {
        for w in t.sizes.windows(2) {
            let (fi, fo, b) = (w[0], w[1], t.batch);
            v.push(("X·W", b, fi, fo));
            v.push(("Xᵀ·dZ", fi, b, fo));
            v.push(("dZ·Wᵀ", b, fo, fi));
        }
    }
    v
}

/// Times `f` (one GEMM of `macs` multiply-adds) until about half a second has passed.
fn time_gflops(macs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut reps = 0usize;
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < 0.5 || reps < 3 {
        f();
        reps += 1;
    }
    2.0 * macs as f64 * reps as f64 / t.elapsed().as_secs_f64() / 1e9
}

/// The CPU GEMM on one shape and form.
pub fn gemm_cpu(form: &'static str, m: usize, k: usize, n: usize) -> GemmResult {
    let a = vec![0.5f32; m * k];
    let b = vec![0.25f32; k * n];
    let mut c = vec![0f32; m * n];
    let gflops = time_gflops(m * n * k, || match form {
        // a stored (k, m) for Xᵀ·dZ; b stored (n, k) for dZ·Wᵀ.
        "Xᵀ·dZ" => sgemm(m, k, n, 1.0, (&a, 1, m), (&b, n, 1), 0.0, &mut c),
        "dZ·Wᵀ" => sgemm(m, k, n, 1.0, (&a, k, 1), (&b, 1, k), 0.0, &mut c),
        _ => sgemm(m, k, n, 1.0, (&a, k, 1), (&b, n, 1), 0.0, &mut c),
    });
    GemmResult {
        device: "cpu".into(),
        form,
        m,
        k,
        n,
        gflops,
    }
}

/// A GPU set up for the GEMM sweep: its context and the matmul kernels of one variant.
pub struct GemmGpu {
    ctx: GpuContext,
    kernels: Kernels,
}

impl GemmGpu {
    /// Compiles the matmul kernels of `variant` on `ctx`.
    pub fn new(ctx: GpuContext, variant: MatmulVariant) -> Result<GemmGpu> {
        let kernels = Kernels::with_matmul(&ctx, &[variant])?;
        Ok(GemmGpu { ctx, kernels })
    }

    /// The device the sweep runs on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }
}

/// The GPU matmul kernels on one shape and form: dispatches recorded back to back in one
/// submission, the device waited for before the clock stops.
pub fn gemm_gpu(
    gpu: &GemmGpu,
    form: &'static str,
    m: usize,
    k: usize,
    n: usize,
) -> Result<GemmResult> {
    let (ctx, kernels) = (&gpu.ctx, &gpu.kernels);
    let kernel = match form {
        "Xᵀ·dZ" => Kernel::MatmulBackwardWeight,
        "dZ·Wᵀ" => Kernel::MatmulBackwardInput,
        _ => Kernel::MatmulForward,
    };
    let aux = if kernel == Kernel::MatmulBackwardInput {
        m * n
    } else {
        n
    };
    let params = MatmulParams::new(m, n, k, 0);
    let groups = kernels.matmul_groups(m, n)?;
    let time = |reps| {
        run_timed(
            ctx,
            kernels,
            kernel,
            &[m * k, k * n, aux],
            m * n,
            &params,
            groups,
            reps,
        )
    };
    // Enough repetitions for ~0.2 s at the adapter's likely speed, measured once first.
    let reps = ((0.2 / time(1)?.max(1e-6)) as usize).clamp(1, 1000);
    let secs = time(reps)?;
    Ok(GemmResult {
        device: format!(
            "{} (matmul {})",
            ctx.info.name,
            kernels.matmul_variant().describe()
        ),
        form,
        m,
        k,
        n,
        gflops: 2.0 * (m * n * k) as f64 * reps as f64 / secs / 1e9,
    })
}
