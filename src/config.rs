//! What a training session is told: the run's hyper-parameters (`Config`) and where it runs
//! (`Device`).

use crate::error::{Error, Result};
pub use crate::gpu::BackendChoice;
pub use crate::gpu::context::{INSTALL_HINT, no_adapter_hint};
use crate::gpu::tuning::{MatmulConfig, Setting, SplitK};
use crate::optim::{Optimizer, Schedule};
use crate::train::Hyper;

/// A run's hyper-parameters. `Default` gives plain SGD at lr 0.1, batch 32, 20 epochs, seed 0,
/// no L2 term, a constant rate and no early stopping.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The base learning rate, which `schedule` scales per step.
    pub lr: f32,
    /// λ of the L2 term λ‖W‖² (gradient 2λW, weights only), under every optimiser.
    pub l2: f32,
    /// Rows per step; a last partial batch is trained, not dropped.
    pub batch: usize,
    /// Epochs one `fit` trains.
    pub epochs: usize,
    /// Seeds each epoch's shuffle (and the validation hold-out).
    pub seed: u64,
    /// The update rule and its hyper-parameters (plain SGD by default).
    pub optimizer: Optimizer,
    /// How the learning rate changes over the run (constant by default).
    pub schedule: Schedule,
    /// Early stopping: end `fit` once the validation loss has not improved (gone below its
    /// lowest so far in this `fit`) for this many epochs; at least 1, and the session needs a
    /// validation set (the test set is not used to decide, so that its figures stay unbiased).
    /// A resumed run counts afresh. None: train every epoch.
    pub patience: Option<usize>,
    /// A classifier's class weights: each training row's cross-entropy counts its class's
    /// weight times. None: every row counts once. Validation and test losses stay unweighted.
    pub class_weights: Option<ClassWeights>,
}

/// How much each class's rows weigh in a classifier's training loss (`Config::class_weights`).
#[derive(Clone, Debug, PartialEq)]
pub enum ClassWeights {
    /// `n / (classes · n_c)` for a class of `n_c` of the `n` training rows (scikit-learn's
    /// "balanced"): every class weighs as much in all, and the mean row weight is 1. A class
    /// without training rows gets weight 1.
    Balanced,
    /// One weight per class, in class order: positive and finite.
    Given(Vec<f32>),
    /// Weights of the classes named (by class name, or by number for classes without names);
    /// the others weigh 1.
    Named(Vec<(String, f32)>),
}

impl std::str::FromStr for ClassWeights {
    type Err = Error;
    /// `balanced`, or `NAME=W,NAME=W,...`.
    fn from_str(s: &str) -> Result<ClassWeights> {
        if s.trim().eq_ignore_ascii_case("balanced") {
            return Ok(ClassWeights::Balanced);
        }
        let pair = |p: &str| {
            let (name, w) = p.rsplit_once('=').ok_or_else(|| {
                Error::invalid(
                    "class_weight",
                    format!("{p:?}: expected balanced, or NAME=WEIGHT pairs separated by commas"),
                )
            })?;
            let w: f32 = w.trim().parse().map_err(|_| {
                Error::invalid("class_weight", format!("{p:?}: {w:?} is not a number"))
            })?;
            Ok((name.trim().to_string(), w))
        };
        s.split(',')
            .map(pair)
            .collect::<Result<Vec<_>>>()
            .map(ClassWeights::Named)
    }
}

impl ClassWeights {
    /// The weight of each of `classes` classes for training rows with `labels`, the classes
    /// named `names` when they have names: checked (one positive finite weight per class,
    /// every name a class's).
    pub fn resolve(
        &self,
        labels: &[u32],
        classes: usize,
        names: Option<&[String]>,
    ) -> Result<Vec<f32>> {
        // A weight and a count a class.
        crate::memory::check(
            &format!("the weights of {classes} classes"),
            (classes as u64).saturating_mul(12),
        )?;
        match self {
            ClassWeights::Named(pairs) => {
                let mut w = vec![1.0; classes];
                for (name, v) in pairs {
                    let at = match names {
                        Some(n) => n.iter().position(|c| c == name),
                        None => name.parse::<usize>().ok().filter(|&c| c < classes),
                    };
                    let Some(c) = at else {
                        let known = match names {
                            Some(n) => n.join(", "),
                            None => format!("0 to {}", classes.saturating_sub(1)),
                        };
                        return Err(Error::invalid(
                            "class_weight",
                            format!("{name:?} is not a class (the classes: {known})"),
                        ));
                    };
                    w[c] = *v;
                }
                ClassWeights::Given(w).resolve(labels, classes, names)
            }
            ClassWeights::Balanced => {
                let mut count = vec![0usize; classes];
                for &l in labels {
                    if let Some(c) = count.get_mut(l as usize) {
                        *c += 1;
                    }
                }
                let n = labels.len() as f64;
                Ok(count
                    .iter()
                    .map(|&c| {
                        if c == 0 {
                            1.0
                        } else {
                            (n / (classes as f64 * c as f64)) as f32
                        }
                    })
                    .collect())
            }
            ClassWeights::Given(w) => {
                if w.len() != classes {
                    return Err(Error::invalid(
                        "class_weight",
                        format!("{} weights for {classes} classes", w.len()),
                    ));
                }
                if let Some((c, v)) = w
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !(v.is_finite() && **v > 0.0))
                {
                    return Err(Error::invalid(
                        "class_weight",
                        format!("class {c}'s weight is {v}: weights are positive finite numbers"),
                    ));
                }
                Ok(w.clone())
            }
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lr: 0.1,
            l2: 0.0,
            batch: 32,
            epochs: 20,
            seed: 0,
            optimizer: Optimizer::default(),
            schedule: Schedule::default(),
            patience: None,
            class_weights: None,
        }
    }
}

impl Config {
    /// Every value in range; an error naming the first that is not.
    pub fn validate(&self) -> Result<()> {
        self.hyper().validate()?;
        if self.patience == Some(0) {
            return Err(Error::invalid("patience", "must be at least 1"));
        }
        self.optimizer.validate()?;
        self.schedule.validate()
    }

    pub(crate) fn hyper(&self) -> Hyper {
        Hyper {
            lr: self.lr,
            l2: self.l2,
            batch: self.batch,
            epochs: self.epochs,
            seed: self.seed,
        }
    }
}

/// Most CPU threads a run may ask for: far beyond any machine's cores, small enough that
/// starting them is quick.
pub const MAX_THREADS: usize = 1024;

/// Which GPU and how to run on it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GpuOptions {
    /// The wgpu backends to search (`Auto`: all, or what `WGPU_BACKEND` names).
    pub backend: BackendChoice,
    /// Only an adapter whose name contains this (case-insensitive).
    pub adapter: Option<String>,
    /// How the matmul variant is chosen, and where tuning results are cached.
    pub matmul: MatmulConfig,
    /// Compile every shader with naga's runtime checks (`GpuContext::shader_checks`); off by
    /// default, since the modules compiled without them guard every access themselves.
    pub shader_checks: bool,
}

impl GpuOptions {
    /// Opens the adapter these options name: the one whose name contains `adapter`, else the
    /// best ranked on `backend`, software adapters included; `Error::NoAdapter` when none.
    /// Blocking: `open_async`.
    pub fn open(&self) -> Result<crate::gpu::GpuContext> {
        crate::blocking::block("GpuOptions::open_async", self.open_async())
    }

    /// `open`, awaited.
    pub async fn open_async(&self) -> Result<crate::gpu::GpuContext> {
        use crate::gpu::context;
        let adapter = context::pick_named_async(self.backend, true, self.adapter.as_deref())
            .await?
            .ok_or_else(|| {
                Error::NoAdapter(format!(
                    "no GPU adapter found; {}",
                    context::no_adapter_hint(self.backend)
                ))
            })?;
        Ok(self.with_checks(crate::gpu::GpuContext::from_adapter_async(adapter).await?))
    }

    /// The options for `backend` as the environment sets them: the adapter `WGPU_ADAPTER_NAME`
    /// names, the matmul choice of `WGTRAIN_MATMUL` (auto when unset: timed per network on a
    /// hardware adapter, cached in `$XDG_CACHE_HOME/wgtrain`, else `$HOME/.cache/wgtrain`) and
    /// `WGTRAIN_SPLIT_K` (auto, off or a workgroup count), and `WGTRAIN_SHADER_CHECKS=1`
    /// (naga's runtime checks in every shader; `0` or unset: none). A value that names nothing
    /// is an error naming the variable.
    pub fn from_env(backend: BackendChoice) -> Result<GpuOptions> {
        let var = |k: &str| std::env::var(k).ok();
        let shader_checks = match var("WGTRAIN_SHADER_CHECKS").as_deref() {
            None | Some("") | Some("0") => false,
            Some("1") => true,
            Some(v) => return Err(env_error("WGTRAIN_SHADER_CHECKS", v, "0 or 1")),
        };
        let setting = match var("WGTRAIN_MATMUL") {
            None => Setting::Auto,
            Some(v) => Setting::parse(&v)
                .map_err(|_| env_error("WGTRAIN_MATMUL", &v, "auto, rule, tune, 64 or 128"))?,
        };
        let nonempty = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
        };
        let cache_dir = nonempty("XDG_CACHE_HOME")
            .map(|d| d.join("wgtrain"))
            .or_else(|| nonempty("HOME").map(|h| h.join(".cache").join("wgtrain")));
        let split_k = match var("WGTRAIN_SPLIT_K") {
            None => SplitK::Auto,
            Some(v) => SplitK::parse(&v).map_err(|_| {
                env_error(
                    "WGTRAIN_SPLIT_K",
                    &v,
                    "auto, off or a number of workgroups from 1 to 65535",
                )
            })?,
        };
        Ok(GpuOptions {
            backend,
            adapter: var("WGPU_ADAPTER_NAME").filter(|n| !n.is_empty()),
            matmul: MatmulConfig {
                setting,
                cache_dir,
                split_k,
            },
            shader_checks,
        })
    }

    /// `ctx` with these options' `shader_checks`.
    pub fn with_checks(&self, mut ctx: crate::gpu::GpuContext) -> crate::gpu::GpuContext {
        ctx.shader_checks = self.shader_checks;
        ctx
    }
}

/// Where a session trains.
#[derive(Clone, Debug, PartialEq)]
pub enum Device {
    /// A hardware GPU adapter when there is one, else the CPU path (which is faster than a
    /// software adapter on the same cores).
    Auto {
        /// The GPU to look for, and how to run on it.
        gpu: GpuOptions,
        /// Threads of the CPU path when it is chosen (None: one per core).
        threads: Option<usize>,
    },
    /// The fast CPU path on `threads` threads (None: one per core).
    Cpu {
        /// At most `MAX_THREADS`; None: one per core.
        threads: Option<usize>,
    },
    /// A GPU adapter, software ones (llvmpipe) included.
    Gpu(GpuOptions),
}

impl Default for Device {
    fn default() -> Device {
        Device::Auto {
            gpu: GpuOptions::default(),
            threads: None,
        }
    }
}

impl Device {
    /// The CPU path on one thread per core.
    pub fn cpu() -> Device {
        Device::Cpu { threads: None }
    }

    /// Any GPU adapter, chosen and run with the default options.
    pub fn gpu() -> Device {
        Device::Gpu(GpuOptions::default())
    }

    /// The thread count asked for, checked against `MAX_THREADS`.
    pub(crate) fn threads(&self) -> Result<Option<usize>> {
        let threads = match self {
            Device::Auto { threads, .. } | Device::Cpu { threads } => *threads,
            Device::Gpu(_) => None,
        };
        match threads {
            Some(0) => Err(Error::invalid("threads", "must be at least 1")),
            Some(n) if n > MAX_THREADS => Err(Error::invalid(
                "threads",
                format!("{n} is over the limit of {MAX_THREADS}"),
            )),
            t => Ok(t),
        }
    }
}

/// `NAME=value: expected ...`.
fn env_error(name: &str, value: &str, expected: &str) -> Error {
    Error::usage(format!("{name}={value}: expected {expected}"))
}

/// Refuses a `WGPU_BACKEND` that names no backend (wgpu would silently search none).
pub fn check_backend_env() -> Result<()> {
    const NAMES: [&str; 10] = [
        "vulkan", "vk", "dx12", "d3d12", "metal", "mtl", "opengl", "gles", "gl", "webgpu",
    ];
    if let Ok(v) = std::env::var("WGPU_BACKEND") {
        for name in v.split(',') {
            if !NAMES.contains(&name.trim().to_lowercase().as_str()) {
                return Err(Error::usage(format!(
                    "WGPU_BACKEND={v}: '{}' is not a backend name (vulkan, metal, dx12, gl, webgpu)",
                    name.trim()
                )));
            }
        }
    }
    Ok(())
}

/// Sizes the process's CPU thread pool, which the CPU path, loading and evaluation share:
/// `threads`, else `RAYON_NUM_THREADS` (0: one per core), else one per core; either is
/// bounded by `MAX_THREADS`. Must run before anything uses the pool; a session's
/// `Device::Cpu { threads }` then need not size its own.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    let given = threads;
    let threads = match (threads, std::env::var("RAYON_NUM_THREADS")) {
        (Some(0), _) => return Err(Error::invalid("threads", "must be at least 1")),
        (Some(n), _) if n > MAX_THREADS => {
            return Err(Error::invalid(
                "threads",
                format!("{n} is over the limit of {MAX_THREADS}"),
            ));
        }
        (Some(n), _) => Some(n),
        (None, Ok(v)) => match v.trim().parse::<usize>() {
            // Rayon's own meaning of 0: one per core.
            Ok(0) => None,
            // Started here, budgeted like `threads`, rather than by rayon on first use.
            Ok(n) if n <= MAX_THREADS => Some(n),
            _ => {
                return Err(env_error(
                    "RAYON_NUM_THREADS",
                    &v,
                    &format!("a whole number of threads up to {MAX_THREADS}"),
                ));
            }
        },
        (None, Err(_)) => None,
    };
    if let Some(n) = threads {
        check_threads(n).map_err(|e| match (&e, given) {
            (Error::OutOfMemory(msg), None) => {
                Error::OutOfMemory(format!("RAYON_NUM_THREADS={n}: {msg}"))
            }
            (Error::OutOfMemory(msg), Some(_)) => Error::invalid("threads", msg.clone()),
            _ => e,
        })?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| {
                Error::invalid("threads", format!("{n}: cannot start the thread pool: {e}"))
            })?;
    }
    Ok(())
}

/// Refuses `n` worker threads whose address space the process cannot spare: each reserves its
/// stack (2 MiB, Rust's default) and, up to the C library's limit of 8 per core, a 64 MiB
/// malloc arena. Without this, a pool of 1024 threads under an address-space limit aborts when
/// a thread first allocates.
pub(crate) fn check_threads(n: usize) -> Result<()> {
    const STACK: u64 = 2 << 20;
    const ARENA: u64 = 64 << 20;
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as u64;
    let n = n as u64;
    crate::memory::check(
        &format!("{n} CPU threads (their stacks and malloc arenas)"),
        n * STACK + n.min(8 * cores) * ARENA,
    )
}
