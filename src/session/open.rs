//! Opening a session's device: the CPU path, a GPU adapter, or (`Device::Auto`) a hardware
//! adapter when there is one, else the CPU path and why.

use crate::config::{Config, Device, GpuOptions};
use crate::cpu::fast::CpuTrainer;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::gpu::layout::ParamLayout;
use crate::gpu::{GpuContext, GpuTrainer, context};
use crate::model::Spec;
use crate::train::Backend;
use crate::trained::Model;

/// Why `Device::Auto` trains on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub enum Fallback {
    /// Only a software adapter (named) was found: the CPU path is faster on the same cores.
    SoftwareAdapter(String),
    /// No adapter at all.
    NoAdapter,
}

/// The opened device: what it is, and why Auto chose the CPU.
#[derive(Clone, Debug)]
pub struct Opened {
    /// "cpu (f32, gemm)", or the GPU adapter with its backend and matmul variant.
    pub description: String,
    /// Set when `Device::Auto` chose the CPU path, saying why.
    pub fallback: Option<Fallback>,
}

/// The device a session trains on, opened before its data is moved anywhere: a GPU context
/// (with the options it was opened with), or the CPU path (and, under `Device::Auto`, why).
pub(super) struct Chosen<'a> {
    gpu: Option<(GpuContext, &'a GpuOptions)>,
    fallback: Option<Fallback>,
}

/// Opens `device`: the adapter and the GPU device (async: in a browser these are the waits),
/// or the CPU path. In a browser, WebGPU's adapter counts as hardware
/// (`context::is_hardware`), so `Auto` prefers it to the CPU path there.
pub(super) async fn open_device(device: &Device) -> Result<Chosen<'_>> {
    let (gpu, fallback) = match device {
        Device::Cpu { .. } => (None, None),
        Device::Gpu(opts) => (Some((opts.open_async().await?, opts)), None),
        Device::Auto { gpu, .. } => {
            match context::pick_named_async(gpu.backend, false, gpu.adapter.as_deref())
                .await?
                .filter(|a| gpu.adapter.is_some() || context::is_hardware(&a.get_info()))
            {
                Some(a) => (
                    Some((
                        gpu.with_checks(GpuContext::from_adapter_async(a).await?),
                        gpu,
                    )),
                    None,
                ),
                None => {
                    let software = context::pick_named_async(gpu.backend, true, None).await?;
                    let why = match software {
                        Some(a) => Fallback::SoftwareAdapter(a.get_info().name),
                        None => Fallback::NoAdapter,
                    };
                    (None, Some(why))
                }
            }
        }
    };
    Ok(Chosen { gpu, fallback })
}

/// Whether a new network's parameters (`spec`) fit one storage binding of the GPU `device`
/// would open (`Device::Gpu`, or `Device::Auto` where it finds a hardware adapter): asked of
/// the adapter before the parameters are allocated on the host, so that a network too wide
/// for the adapter is refused before gigabytes of memory are filled, with the message the GPU
/// trainer gives. Parameters within WebGPU's default binding size (128 MiB) fit every adapter
/// that meets the defaults and are not asked about; a device without an adapter is left for
/// opening it to name.
pub(crate) async fn check_params_fit(device: &Device, spec: &Spec) -> Result<()> {
    let bytes = ParamLayout::new(spec).total as u64 * 4;
    if bytes <= wgpu::Limits::default().max_storage_buffer_binding_size {
        return Ok(());
    }
    let adapter = match device {
        Device::Cpu { .. } => None,
        Device::Gpu(o) => context::pick_named_async(o.backend, true, o.adapter.as_deref()).await?,
        Device::Auto { gpu, .. } => {
            context::pick_named_async(gpu.backend, false, gpu.adapter.as_deref())
                .await?
                .filter(|a| gpu.adapter.is_some() || context::is_hardware(&a.get_info()))
        }
    };
    let Some(a) = adapter else {
        return Ok(());
    };
    context::check_binding_in(
        &context::required_limits(&a.limits()),
        "the parameters",
        bytes,
        ParamLayout::REMEDY,
    )
}

/// The backend on the `chosen` device (of `device`) holding `model` and the (prepared) data:
/// the GPU one uploads the data and drops the host copy, the CPU one takes it over.
pub(super) async fn open_backend(
    chosen: Chosen<'_>,
    device: &Device,
    model: &Model,
    train: Dataset,
    eval: Vec<Dataset>,
    config: &Config,
) -> Result<(Box<dyn Backend>, Opened)> {
    let threads = device.threads()?;
    let Chosen { gpu, fallback } = chosen;
    let backend: Box<dyn Backend> = match gpu {
        Some((ctx, opts)) => Box::new(open_gpu(ctx, opts, model, &train, &eval, config).await?),
        None => Box::new(open_cpu(threads, model, train, eval, config.batch)?),
    };
    let opened = Opened {
        description: backend.describe(),
        fallback,
    };
    Ok((backend, opened))
}

async fn open_gpu(
    ctx: GpuContext,
    opts: &GpuOptions,
    model: &Model,
    train: &Dataset,
    eval: &[Dataset],
    config: &Config,
) -> Result<GpuTrainer> {
    let eval: Vec<&Dataset> = eval.iter().collect();
    GpuTrainer::with_matmul_async(
        ctx,
        &model.spec,
        &model.params,
        train,
        &eval,
        config.batch,
        opts.matmul.clone(),
    )
    .await
}

/// The CPU path; with `threads`, its thread team sized in a pool of that many threads instead
/// of the process's default pool.
fn open_cpu(
    threads: Option<usize>,
    model: &Model,
    train: Dataset,
    eval: Vec<Dataset>,
    batch: usize,
) -> Result<CpuTrainer> {
    let build = || CpuTrainer::from_datasets(&model.spec, model.params.clone(), train, eval, batch);
    match threads {
        None => build(),
        Some(n) => crate::config::check_threads(n).and_then(|()| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::invalid("threads", format!("{n}: cannot start them: {e}")))?
                .install(build)
        }),
    }
}
