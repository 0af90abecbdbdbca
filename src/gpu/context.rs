//! The wgpu context: instance, adapter choice, device and the limits training depends on.

use crate::blocking::block;
use crate::error::{Error, Result};

/// Work given to the queue (`GpuContext::submit`), to wait for with `GpuContext::finished`.
pub struct Submitted {
    index: wgpu::SubmissionIndex,
    /// In a browser: told when the queue has done this submission.
    #[cfg(target_arch = "wasm32")]
    done: futures_intrusive::channel::shared::OneshotReceiver<()>,
}

/// Which wgpu backend to search; `Auto` searches all of them, or those wgpu's own
/// `WGPU_BACKEND` names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// Every backend, or only those `WGPU_BACKEND` names when it is set (`auto`).
    #[default]
    Auto,
    /// Vulkan (`vulkan`), which Mesa's lavapipe software adapter also uses.
    Vulkan,
    /// Metal (`metal`): macOS and iOS.
    Metal,
    /// Direct3D 12 (`dx12`): Windows.
    Dx12,
    /// OpenGL / GLES (`gl`).
    Gl,
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "vulkan" => Ok(Self::Vulkan),
            "metal" => Ok(Self::Metal),
            "dx12" => Ok(Self::Dx12),
            "gl" => Ok(Self::Gl),
            _ => Err(Error::usage(format!(
                "unknown backend '{s}': expected auto, vulkan, metal, dx12 or gl"
            ))),
        }
    }
}

/// How to install a software adapter, for every "no adapter" message.
pub const INSTALL_HINT: &str = "on Debian/Ubuntu, `apt-get install -y mesa-vulkan-drivers libvulkan1` installs Mesa's lavapipe, a software Vulkan adapter";

/// The backends `backend` searches: `Auto` all, or those `WGPU_BACKEND` names.
fn backends(backend: BackendChoice) -> wgpu::Backends {
    match backend {
        BackendChoice::Auto => wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()),
        BackendChoice::Vulkan => wgpu::Backends::VULKAN,
        BackendChoice::Metal => wgpu::Backends::METAL,
        BackendChoice::Dx12 => wgpu::Backends::DX12,
        BackendChoice::Gl => wgpu::Backends::GL,
    }
}

/// The names of `b`'s backends as `--backend` spells them, joined with "and".
fn backend_names(b: wgpu::Backends) -> String {
    let names: Vec<&str> = [
        (wgpu::Backends::VULKAN, "vulkan"),
        (wgpu::Backends::METAL, "metal"),
        (wgpu::Backends::DX12, "dx12"),
        (wgpu::Backends::GL, "gl"),
    ]
    .into_iter()
    .filter(|(f, _)| b.contains(*f))
    .map(|(_, n)| n)
    .collect();
    match names.split_last() {
        None => "none".into(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// What to do when no adapter was found on `backend`: when it (or, under `Auto`,
/// `WGPU_BACKEND`) asks only for backends this build does not have on this platform (dx12 on
/// Linux), that, with the backends it has; else how to install a software adapter.
pub fn no_adapter_hint(backend: BackendChoice) -> String {
    let here = wgpu::Instance::enabled_backend_features()
        & (wgpu::Backends::VULKAN
            | wgpu::Backends::METAL
            | wgpu::Backends::DX12
            | wgpu::Backends::GL);
    let wanted = backends(backend);
    if !(wanted & here).is_empty() {
        return INSTALL_HINT.to_string();
    }
    let os = std::env::consts::OS;
    let env = std::env::var("WGPU_BACKEND").unwrap_or_default();
    match backend {
        BackendChoice::Auto if wanted.is_empty() => format!(
            "WGPU_BACKEND={env:?} names no backend wgpu knows; set it to one of {} (the backends on {os}), or unset it",
            backend_names(here)
        ),
        BackendChoice::Auto => format!(
            "WGPU_BACKEND={env:?} asks for {}, which is not available on {os}: the backends here are {}; set WGPU_BACKEND to one of them, or unset it",
            backend_names(wanted),
            backend_names(here)
        ),
        _ => format!(
            "the setting `backend` asks for {}, which is not available on {os}: the backends here are {} (auto searches them all)",
            backend_names(wanted),
            backend_names(here)
        ),
    }
}

fn instance(backend: BackendChoice) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends(backend);
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu finds on the chosen backends (blocking: `adapters_async`).
pub fn adapters(backend: BackendChoice) -> Result<Vec<wgpu::Adapter>> {
    block("wgtrain::gpu::context::adapters_async", async {
        Ok(adapters_async(backend).await)
    })
}

/// Every adapter wgpu finds on the chosen backends; in a browser, the one WebGPU offers.
pub async fn adapters_async(backend: BackendChoice) -> Vec<wgpu::Adapter> {
    let inst = instance(backend);
    inst.enumerate_adapters(wgpu::Backends::all()).await
}

/// Whether the adapter is one a browser's WebGPU gives: browsers hide the device type and
/// name (wgpu reports `Other` or `Cpu` and an empty name), so there it counts as a GPU.
pub fn is_browser(info: &wgpu::AdapterInfo) -> bool {
    info.backend == wgpu::Backend::BrowserWebGpu
}

/// Whether an adapter is real hardware (or a virtual GPU), as opposed to a CPU emulation. A
/// browser's WebGPU adapter counts as hardware: the browser does not say what it runs on, and
/// it is the GPU a page can use (`is_browser`).
pub fn is_hardware(info: &wgpu::AdapterInfo) -> bool {
    is_browser(info)
        || matches!(
            info.device_type,
            wgpu::DeviceType::DiscreteGpu
                | wgpu::DeviceType::IntegratedGpu
                | wgpu::DeviceType::VirtualGpu
        )
}

fn rank(info: &wgpu::AdapterInfo) -> u32 {
    let ty = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 1,
        wgpu::DeviceType::Cpu => 0,
    };
    // Prefer Vulkan/Metal/DX12 over GL for the same device.
    ty * 2 + u32::from(info.backend != wgpu::Backend::Gl)
}

/// The best adapter on `backend`: the highest ranked (discrete > integrated > virtual > other >
/// cpu), software adapters only when `allow_software`. None when nothing fits.
pub fn pick_adapter(backend: BackendChoice, allow_software: bool) -> Result<Option<wgpu::Adapter>> {
    pick_named(backend, allow_software, None)
}

/// As `pick_adapter`; with `name`, the first adapter whose name contains it (case-insensitive),
/// software or not, and an error when none does (blocking: `pick_named_async`).
pub fn pick_named(
    backend: BackendChoice,
    allow_software: bool,
    name: Option<&str>,
) -> Result<Option<wgpu::Adapter>> {
    block(
        "wgtrain::gpu::context::pick_named_async",
        pick_named_async(backend, allow_software, name),
    )
}

/// `pick_named`, awaited.
pub async fn pick_named_async(
    backend: BackendChoice,
    allow_software: bool,
    name: Option<&str>,
) -> Result<Option<wgpu::Adapter>> {
    let all = adapters_async(backend).await;
    if let Some(want) = name {
        let want_lc = want.to_lowercase();
        let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
        let found = all
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&want_lc));
        return match found {
            Some(a) => Ok(Some(a)),
            None => Err(Error::NoAdapter(format!(
                "no adapter's name contains '{want}' (the adapters: {}; `gpu::adapters` lists them with their details)",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            ))),
        };
    }
    Ok(all
        .into_iter()
        .filter(|a| allow_software || is_hardware(&a.get_info()))
        .max_by_key(|a| rank(&a.get_info())))
}

/// A device and queue on one adapter, created once and passed to everything that runs kernels.
pub struct GpuContext {
    /// The logical device: creates buffers, pipelines and command encoders.
    pub device: wgpu::Device,
    /// The device's queue: takes the recorded command buffers and buffer writes.
    pub queue: wgpu::Queue,
    /// The adapter's name, backend, device type and driver.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was opened with (`required_limits`).
    pub limits: wgpu::Limits,
    /// Compile every shader module with naga's runtime checks (bounds clamping, loop bounding,
    /// division guards). Off (the default): the modules that guard every access themselves
    /// (`Kernel::guards_every_access`) are compiled without them, which real GPUs run faster;
    /// on: every module is checked, to rule the trusted modules out when results look wrong.
    pub shader_checks: bool,
    /// The first error wgpu reported outside an error scope, or the device-lost reason: work
    /// after it cannot be trusted, so the next read-back fails with it.
    fault: std::sync::Arc<std::sync::Mutex<Option<Fault>>>,
}

/// What went wrong outside an error scope.
#[derive(Clone, Debug)]
enum Fault {
    OutOfMemory,
    Lost(String),
    Other(String),
}

/// The largest storage binding wgtrain binds: every byte offset into it fits a u32, which the
/// shaders' u32 indices and the byte addresses of naga's HLSL assume, even on adapters that
/// report larger bindings (Metal does). Rows beyond it run as chunks (`GpuTrainer`).
pub const MAX_BINDING: u64 = (u32::MAX as u64) & !3;

/// The limits wgtrain opens a device with: WebGPU's defaults, which every kernel fits, with the
/// buffer and binding sizes raised to the adapter's (the binding capped at `MAX_BINDING`) so big
/// layers and batches fit, and lowered wherever the adapter offers less than the default (a
/// downlevel adapter opens; `Kernels` then refuses what does not fit, naming the limit).
pub fn required_limits(adapter: &wgpu::Limits) -> wgpu::Limits {
    let defaults = wgpu::Limits::default();
    wgpu::Limits {
        max_storage_buffer_binding_size: adapter
            .max_storage_buffer_binding_size
            .clamp(defaults.max_storage_buffer_binding_size, MAX_BINDING),
        max_buffer_size: adapter.max_buffer_size.max(defaults.max_buffer_size),
        ..defaults
    }
    .or_worse_values_from(adapter)
}

/// `GpuContext::check_binding` against `limits` (a device's, or `required_limits` of an
/// adapter not opened yet).
pub(crate) fn check_binding_in(
    limits: &wgpu::Limits,
    what: &str,
    bytes: u64,
    remedy: &str,
) -> Result<()> {
    let bind = limits.max_storage_buffer_binding_size.min(MAX_BINDING);
    let buf = limits.max_buffer_size;
    if bytes > bind {
        return Err(Error::Limit {
            what: format!("{what} (one storage binding)"),
            limit: "max_storage_buffer_binding_size",
            needed: bytes,
            available: bind,
            advice: remedy.to_string(),
        });
    }
    if bytes > buf {
        return Err(Error::Limit {
            what: what.to_string(),
            limit: "max_buffer_size",
            needed: bytes,
            available: buf,
            advice: remedy.to_string(),
        });
    }
    Ok(())
}

impl GpuContext {
    /// Opens `adapter` with `required_limits`: the adapter's buffer sizes, WebGPU's defaults
    /// for everything else (blocking: `from_adapter_async`).
    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<GpuContext> {
        block(
            "GpuContext::from_adapter_async",
            GpuContext::from_adapter_async(adapter),
        )
    }

    /// `from_adapter`, awaited.
    pub async fn from_adapter_async(adapter: wgpu::Adapter) -> Result<GpuContext> {
        let limits = required_limits(&adapter.limits());
        GpuContext::with_limits_async(adapter, limits).await
    }

    /// Opens `adapter` with exactly `limits` (each within what the adapter offers; blocking:
    /// `with_limits_async`).
    pub fn with_limits(adapter: wgpu::Adapter, limits: wgpu::Limits) -> Result<GpuContext> {
        block(
            "GpuContext::with_limits_async",
            GpuContext::with_limits_async(adapter, limits),
        )
    }

    /// `with_limits`, awaited.
    pub async fn with_limits_async(
        adapter: wgpu::Adapter,
        limits: wgpu::Limits,
    ) -> Result<GpuContext> {
        let info = adapter.get_info();
        let desc = wgpu::DeviceDescriptor {
            label: Some("wgtrain"),
            required_features: wgpu::Features::empty(),
            required_limits: limits,
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&desc)
            .await
            .map_err(|e| Error::Gpu(format!("cannot open {}: {e}", info.name)))?;
        let limits = device.limits();
        let fault = std::sync::Arc::new(std::sync::Mutex::new(None::<Fault>));
        let record = |fault: &std::sync::Arc<std::sync::Mutex<Option<Fault>>>, what: Fault| {
            if let Ok(mut f) = fault.lock() {
                f.get_or_insert(what);
            }
        };
        let f = fault.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e| {
            let what = match e {
                wgpu::Error::OutOfMemory { .. } => Fault::OutOfMemory,
                e => Fault::Other(format!("GPU error: {e}")),
            };
            record(&f, what);
        }));
        let f = fault.clone();
        device.set_device_lost_callback(move |reason, msg| {
            record(&f, Fault::Lost(format!("{reason:?}: {msg}")));
        });
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            shader_checks: false,
            fault,
        })
    }

    /// The best adapter on `backend`, software ones included (`--device gpu`; blocking:
    /// `new_async`).
    pub fn new(backend: BackendChoice) -> Result<GpuContext> {
        block("GpuContext::new_async", GpuContext::new_async(backend))
    }

    /// `new`, awaited.
    pub async fn new_async(backend: BackendChoice) -> Result<GpuContext> {
        match pick_named_async(backend, true, None).await? {
            Some(a) => GpuContext::from_adapter_async(a).await,
            None => Err(Error::NoAdapter(format!(
                "no GPU adapter found; {}",
                no_adapter_hint(backend)
            ))),
        }
    }

    /// `name (backend, type)`; in a browser, which names no adapter, "the browser's WebGPU
    /// adapter (type)".
    pub fn describe(&self) -> String {
        if is_browser(&self.info) && self.info.name.is_empty() {
            return format!("the browser's WebGPU adapter ({:?})", self.info.device_type);
        }
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// The largest storage binding to create: the device's limit, at most `MAX_BINDING`.
    pub fn max_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(MAX_BINDING)
    }

    /// Fails with `Error::Limit` when `what` (of `bytes`) exceeds one storage binding or buffer,
    /// naming the limit and saying by how much and what would help (`remedy`).
    pub fn check_binding(&self, what: &str, bytes: u64, remedy: &str) -> Result<()> {
        check_binding_in(&self.limits, what, bytes, remedy)
    }

    /// How many iterations the adapter runs a shader loop before silently ending it, where that
    /// is known to be limited: Mesa's llvmpipe (`LP_MAX_TGSI_LOOP_ITERATIONS`, 65535).
    pub fn max_loop_iterations(&self) -> Option<u64> {
        let name = format!("{} {}", self.info.name, self.info.driver).to_lowercase();
        name.contains("llvmpipe").then_some(65535)
    }

    /// The recorded fault, if any, as an error naming what was being done.
    pub fn check_fault(&self, doing: &str) -> Result<()> {
        match self.fault.lock().ok().and_then(|f| f.clone()) {
            Some(Fault::OutOfMemory) => Err(Error::OutOfMemory(format!(
                "{doing}: the GPU ran out of memory: use a smaller batch or narrower layers"
            ))),
            Some(Fault::Lost(why)) => Err(Error::DeviceLost(format!("{doing}: {why}"))),
            Some(Fault::Other(msg)) => Err(Error::Gpu(format!("{doing}: {msg}"))),
            None => Ok(()),
        }
    }

    /// Submits `commands`; `finished` then waits for them.
    pub fn submit(&self, commands: wgpu::CommandBuffer) -> Submitted {
        let index = self.queue.submit([commands]);
        #[cfg(target_arch = "wasm32")]
        {
            // Registered now, the queue's callback fires when this submission (and those
            // before it) is done, not also the later ones.
            let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            Submitted { index, done: rx }
        }
        #[cfg(not(target_arch = "wasm32"))]
        Submitted { index }
    }

    /// Until `work` has finished on the device: natively a blocking wait (`wait_for`), in a
    /// browser (which polls the device itself) an await of the queue's callback. Then any
    /// recorded fault, as an error.
    pub async fn finished(&self, work: Submitted) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        self.wait_for(work.index)?;
        #[cfg(target_arch = "wasm32")]
        {
            let _ = work.index;
            if work.done.receive().await.is_none() {
                self.check_fault("running the GPU work")?;
                return Err(Error::DeviceLost("the GPU work never finished".into()));
            }
        }
        Ok(())
    }

    /// Blocks until the submission `index` has finished on the device.
    pub fn wait_for(&self, index: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))
    }

    /// Blocks until all submitted work has finished on the device.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))
    }
}
