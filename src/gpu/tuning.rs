//! Which matmul variant an adapter runs: the caller's `Setting` (the CLI reads it from
//! `WGTRAIN_MATMUL`), else a rule for software adapters, else a short timing of every variant on
//! the network's own matmul shapes, cached in a folder the caller names, per adapter, driver,
//! backend and shapes.

use std::path::{Path, PathBuf};

use super::buffer::{run_once_async, run_timed_async};
use super::context::{GpuContext, is_hardware};
use super::kernels::{Kernel, Kernels, MatmulVariant};
use super::uniforms::MatmulParams;
use crate::blocking::block;
use crate::error::{Error, Result};

/// The cache file's name in the cache directory (one `key<TAB>variant` line per entry).
pub const CACHE_FILE: &str = "matmul-tuning-v1.tsv";
/// Seconds of timed repetitions aimed for per variant: enough to average over launch noise on
/// a real GPU, small enough that tuning stays well under a second.
const TUNE_SECONDS: f64 = 0.02;
/// Most timed repetitions of a step's matmuls per variant.
const MAX_REPS: usize = 20;

/// One matmul a training step runs: the kernel and its (m, k, n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    /// The matmul kernel: forward, weight gradient or input gradient.
    pub kernel: Kernel,
    /// Rows of the product C (m, n) = A (m, k) · B (k, n).
    pub m: usize,
    /// Length of the contracted dimension.
    pub k: usize,
    /// Columns of the product.
    pub n: usize,
}

/// The matmuls of one step of `rows` rows through layers of `sizes` (input first): per layer
/// the forward product, the weight gradient and, above the first layer, the input gradient.
pub fn step_shapes(sizes: &[usize], rows: usize) -> Vec<MatmulShape> {
    let mut shapes = Vec::new();
    for (l, w) in sizes.windows(2).enumerate() {
        let (fi, fo) = (w[0], w[1]);
        let s = |kernel, m, k, n| MatmulShape { kernel, m, k, n };
        shapes.push(s(Kernel::MatmulForward, rows, fi, fo));
        shapes.push(s(Kernel::MatmulBackwardWeight, fi, rows, fo));
        if l > 0 {
            shapes.push(s(Kernel::MatmulBackwardInput, rows, fo, fi));
        }
    }
    shapes
}

/// The variant chosen and why, for `describe()`.
#[derive(Clone, Debug, PartialEq)]
pub struct MatmulChoice {
    /// The tile variant the trainer's matmul kernels are built with.
    pub variant: MatmulVariant,
    /// How it was chosen: forced, by rule, tuned (with each variant's time) or from the cache.
    pub reason: String,
    /// Split K: a matmul whose grid has fewer workgroups than this is split (`SplitK`); None:
    /// never. The trainer resolves it; tuning leaves it None.
    pub split_below: Option<u32>,
}

impl MatmulChoice {
    /// `matmul 64x64 tiles, 4x4 per thread (software adapter, not tuned)`, then `, k split
    /// below 256 workgroups` when split K is on.
    pub fn describe(&self) -> String {
        let split = match self.split_below {
            Some(t) => format!(", k split below {t} workgroups"),
            None => String::new(),
        };
        format!(
            "matmul {} ({}){split}",
            self.variant.describe(),
            self.reason
        )
    }
}

/// When a matmul's sum over k is split across workgroups, so that a small layer's few output
/// tiles still fill a large GPU (docs/GPU-KERNELS.md, "Split K").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SplitK {
    /// Never on software adapters (their few cores are busy anyway); on hardware ones, below
    /// `kernels::SPLIT_TARGET` workgroups.
    #[default]
    Auto,
    /// Never.
    Off,
    /// Below this many workgroups, on any adapter.
    Below(u32),
}

impl SplitK {
    /// `auto` (or empty), `off`, or a number of workgroups from 1 to 65535.
    pub fn parse(s: &str) -> Result<SplitK> {
        match s {
            "" | "auto" => Ok(SplitK::Auto),
            "off" => Ok(SplitK::Off),
            _ => match s.parse::<u32>() {
                Ok(t @ 1..=65535) => Ok(SplitK::Below(t)),
                _ => Err(Error::invalid(
                    "split_k",
                    format!("'{s}': expected auto, off or a number of workgroups from 1 to 65535"),
                )),
            },
        }
    }

    /// The workgroup count below which matmuls are split on `info`'s adapter; None: never.
    pub fn target(self, info: &wgpu::AdapterInfo) -> Option<u32> {
        match self {
            SplitK::Auto if is_hardware(info) => Some(super::kernels::SPLIT_TARGET),
            SplitK::Auto | SplitK::Off => None,
            SplitK::Below(t) => Some(t),
        }
    }
}

/// How to choose the matmul variant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Setting {
    /// Rule for software adapters, tuning (or its cached result) for hardware ones.
    #[default]
    Auto,
    /// The rule, never tuning or the cache.
    Rule,
    /// Tuning (or its cached result) on any adapter, software ones included.
    Tune,
    /// This variant.
    Force(MatmulVariant),
}

impl Setting {
    /// `auto` (or empty), `rule`, `tune`, `64` or `128`.
    pub fn parse(s: &str) -> Result<Setting> {
        match s {
            "" | "auto" => Ok(Setting::Auto),
            "rule" => Ok(Setting::Rule),
            "tune" => Ok(Setting::Tune),
            _ => MatmulVariant::from_name(s)
                .map(Setting::Force)
                .ok_or_else(|| {
                    Error::invalid(
                        "matmul",
                        format!("'{s}': expected auto, rule, tune, 64 or 128"),
                    )
                }),
        }
    }
}

/// The rule without timing: the 64 variant on CPU emulations (llvmpipe) and unknown device
/// types, the 128 one on discrete and integrated GPUs. Not measured on any hardware GPU.
pub fn rule(info: &wgpu::AdapterInfo) -> MatmulVariant {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu => MatmulVariant::Tile128,
        _ => MatmulVariant::Tile64,
    }
}

/// The matmul choice a trainer is built with: how to choose, and the folder that caches tuning
/// results (None: tune on every construction, write nothing).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatmulConfig {
    /// How to choose the variant; `Auto` by default.
    pub setting: Setting,
    /// Folder of the tuning cache file `CACHE_FILE`; None: tune on every construction.
    pub cache_dir: Option<PathBuf>,
    /// When small matmuls split their sum over k; `Auto` by default.
    pub split_k: SplitK,
}

impl From<Setting> for MatmulConfig {
    fn from(setting: Setting) -> MatmulConfig {
        MatmulConfig {
            setting,
            ..MatmulConfig::default()
        }
    }
}

/// The kernels for a trainer whose steps run `shapes`, the matmul variant chosen as `setting`
/// says, the tuning cached in `cache_dir` (None: not cached).
pub fn choose_inner(
    ctx: &GpuContext,
    shapes: &[MatmulShape],
    setting: Setting,
    cache_dir: Option<&Path>,
) -> Result<(Kernels, MatmulChoice)> {
    block(
        "wgtrain::gpu::tuning::choose_inner_async",
        choose_inner_async(ctx, shapes, setting, cache_dir),
    )
}

/// `choose_inner`, awaited.
pub async fn choose_inner_async(
    ctx: &GpuContext,
    shapes: &[MatmulShape],
    setting: Setting,
    cache_dir: Option<&Path>,
) -> Result<(Kernels, MatmulChoice)> {
    let key = cache_key(&ctx.info, shapes);
    let file = cache_dir.map(|d| d.join(CACHE_FILE));
    let fixed = match setting {
        Setting::Force(v) => Some((v, "forced".to_string())),
        Setting::Rule => Some((rule(&ctx.info), "rule, not tuned".into())),
        Setting::Auto if !is_hardware(&ctx.info) => {
            Some((rule(&ctx.info), "software adapter, not tuned".into()))
        }
        Setting::Auto | Setting::Tune => file.as_ref().and_then(|file| {
            let (entries, note) = read_cache(file);
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            entries
                .iter()
                .find(|(k, _)| *k == key)
                .map(|&(_, v)| (v, format!("tuned earlier, cached in {}", file.display())))
        }),
    };
    if let Some((variant, reason)) = fixed {
        let choice = MatmulChoice {
            variant,
            reason,
            split_below: None,
        };
        return Ok((Kernels::with_matmul_async(ctx, &[variant]).await?, choice));
    }
    let mut kernels = Kernels::with_matmul_async(ctx, &MatmulVariant::ALL).await?;
    let (variant, times) = tune_async(ctx, &mut kernels, shapes).await?;
    let timing = times
        .iter()
        .map(|(v, t)| match t {
            Some(s) => format!("{} {:.3} ms", v.name(), s * 1e3),
            None => format!("{} failed validation", v.name()),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut reason = format!("tuned: a step's matmuls {timing}");
    if let Some(file) = &file {
        match write_cache(file, &key, variant) {
            Ok(()) => reason.push_str(&format!("; cached in {}", file.display())),
            Err(e) => eprintln!("note: could not cache the matmul tuning: {e}"),
        }
    }
    Ok((
        kernels,
        MatmulChoice {
            variant,
            reason,
            split_below: None,
        },
    ))
}

/// A variant and its seconds per step's matmuls (None: it failed validation).
pub type Timing = (MatmulVariant, Option<f64>);

/// Validates every compiled variant on one small exact case, then times a step's matmuls
/// (`shapes`) with each and leaves the fastest active. Returns it and, per variant, the seconds
/// per step (None: it failed validation and is never chosen). Blocking: `tune_async`.
pub fn tune(
    ctx: &GpuContext,
    kernels: &mut Kernels,
    shapes: &[MatmulShape],
) -> Result<(MatmulVariant, Vec<Timing>)> {
    block(
        "wgtrain::gpu::tuning::tune_async",
        tune_async(ctx, kernels, shapes),
    )
}

/// `tune`, awaited.
pub async fn tune_async(
    ctx: &GpuContext,
    kernels: &mut Kernels,
    shapes: &[MatmulShape],
) -> Result<(MatmulVariant, Vec<Timing>)> {
    let variants = kernels.matmul_variants().to_vec();
    let mut times = Vec::new();
    for &v in &variants {
        kernels.set_matmul_variant(v)?;
        if !validate(ctx, kernels).await? {
            times.push((v, None));
            continue;
        }
        let once = time_step(ctx, kernels, shapes, 1).await?;
        let reps = ((TUNE_SECONDS / once.max(1e-9)) as usize).clamp(1, MAX_REPS);
        let total = time_step(ctx, kernels, shapes, reps).await?;
        times.push((v, Some(total / reps as f64)));
    }
    let best = times
        .iter()
        .filter_map(|&(v, t)| t.map(|t| (v, t)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(v, _)| v)
        .ok_or_else(|| {
            Error::Gpu(format!(
                "{}: no matmul variant gave correct results",
                ctx.info.name
            ))
        })?;
    kernels.set_matmul_variant(best)?;
    Ok((best, times))
}

/// Seconds for `reps` dispatches of each of a step's matmul `shapes`, with the active variant.
async fn time_step(
    ctx: &GpuContext,
    kernels: &Kernels,
    shapes: &[MatmulShape],
    reps: usize,
) -> Result<f64> {
    let mut total = 0.0;
    for s in shapes {
        total += time_shape(ctx, kernels, *s, reps).await?;
    }
    Ok(total)
}

/// Seconds for `reps` dispatches of one matmul shape with the active variant.
async fn time_shape(
    ctx: &GpuContext,
    kernels: &Kernels,
    s: MatmulShape,
    reps: usize,
) -> Result<f64> {
    let third = if s.kernel == Kernel::MatmulBackwardInput {
        s.m * s.n
    } else {
        s.n
    };
    run_timed_async(
        ctx,
        kernels,
        s.kernel,
        &[s.m * s.k, s.k * s.n, third],
        s.m * s.n,
        &MatmulParams::new(s.m, s.n, s.k, 0),
        kernels.matmul_groups(s.m, s.n)?,
        reps,
    )
    .await
}

/// The active variant's forward product on small integers, which f32 holds exactly, against
/// the same product on the host: over two tiles of the larger variant in m and n, K not a
/// multiple of a k step.
async fn validate(ctx: &GpuContext, kernels: &Kernels) -> Result<bool> {
    let (m, k, n) = (130, 19, 129);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 - 2.0).collect();
    let bias: Vec<f32> = (0..n).map(|i| (i % 3) as f32).collect();
    let mut want = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>() + bias[j];
        }
    }
    let got = run_once_async(
        ctx,
        kernels,
        Kernel::MatmulForward,
        &[
            bytemuck::cast_slice(&a),
            bytemuck::cast_slice(&b),
            bytemuck::cast_slice(&bias),
        ],
        &[&vec![f32::NAN; m * n]],
        &MatmulParams::new(m, n, k, 0),
        None,
        kernels.matmul_groups(m, n)?,
    )
    .await?;
    Ok(got[0] == want)
}

/// The cache key: adapter name, driver, driver info, backend and the step's matmul shapes.
pub fn cache_key(info: &wgpu::AdapterInfo, shapes: &[MatmulShape]) -> String {
    let shapes: Vec<String> = shapes
        .iter()
        .map(|s| format!("{:?}:{}x{}x{}", s.kernel, s.m, s.k, s.n))
        .collect();
    format!(
        "{}|{}|{}|{:?}|{}",
        info.name,
        info.driver,
        info.driver_info,
        info.backend,
        shapes.join(",")
    )
    .replace(['\t', '\n', '\r'], " ")
}

/// The cache's entries, and a note when the file exists but cannot be read or parsed (then
/// nothing from it is used). A missing file is no note.
pub fn read_cache(file: &Path) -> (Vec<(String, MatmulVariant)>, Option<String>) {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (vec![], None),
        Err(e) => {
            return (
                vec![],
                Some(format!(
                    "ignoring the matmul tuning cache {}: {e}",
                    file.display()
                )),
            );
        }
    };
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parsed = line
            .split_once('\t')
            .and_then(|(k, v)| Some((k.to_string(), MatmulVariant::from_name(v)?)));
        match parsed {
            Some(e) => entries.push(e),
            None => {
                return (
                    vec![],
                    Some(format!(
                        "ignoring the matmul tuning cache {}: line {} is not `key<TAB>64|128`",
                        file.display(),
                        i + 1
                    )),
                );
            }
        }
    }
    (entries, None)
}

/// Sets `key` to `variant` in the cache, keeping the other readable entries: written to a
/// temporary file beside it and renamed over it, so a reader never sees half a file.
pub fn write_cache(file: &Path, key: &str, variant: MatmulVariant) -> Result<()> {
    let io = |e: std::io::Error| Error::Gpu(format!("{}: {e}", file.display()));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let (mut entries, _) = read_cache(file);
    entries.retain(|(k, _)| k != key);
    entries.push((key.to_string(), variant));
    let text: String = entries
        .iter()
        .map(|(k, v)| format!("{k}\t{}\n", v.name()))
        .collect();
    let tmp = file.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, file).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
