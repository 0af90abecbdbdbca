//! The compute pipelines: one per WGSL entry point (the matmul ones per variant), with their
//! `Params` mirrors, bind group layouts and dispatch sizes, and a one-shot runner the parity
//! tests use.

use std::num::NonZeroU64;

use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

use super::context::GpuContext;
use crate::error::{Error, Result};

/// Matches `TILE` in matmul.wgsl: the smaller variant's tile, whose grid covers every variant.
pub const MATMUL_TILE: u32 = 64;
/// Matches `WG` in gather.wgsl, loss.wgsl, sgd.wgsl and optim.wgsl.
pub const WG_1D: u32 = 256;
/// Bytes per slot of the per-step uniform (and its dynamic offset stride at least this).
pub const STEP_SLOT: u64 = 256;
/// Most workgroups one dimension may hold (`max_compute_workgroups_per_dimension` floor).
const MAX_GROUPS: u32 = 65535;

/// `Params` of matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub act: u32,
    /// matmul_backward_weight only: 1 adds the product to c and the column sums to db (the
    /// later row chunks of a batch split across bindings), 0 overwrites both.
    pub accumulate: u32,
    pub _pad: [u32; 3],
}

impl MatmulParams {
    /// c (m, n) from a sum over k terms, overwriting c.
    pub fn new(m: usize, n: usize, k: usize, act: u32) -> MatmulParams {
        MatmulParams {
            m: m as u32,
            n: n as u32,
            k: k as u32,
            act,
            accumulate: 0,
            _pad: [0; 3],
        }
    }
}

/// `Params` of gather.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct GatherParams {
    pub dim: u32,
    pub ydim: u32,
    pub identity: u32,
    /// 0: x_all holds f32 bits; 1: bytes (four per u32), each times `scale`; 2: bytes, each
    /// times its feature's scale plus its offset (the `affine` binding).
    pub packed: u32,
    pub scale: f32,
    /// Rows `[offset, offset + rows)` of the step's batch (one row chunk, or all of it).
    pub offset: u32,
    pub rows: u32,
    pub _pad: u32,
}

/// `Params` of loss.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct LossParams {
    pub m: u32,
    pub n: u32,
    pub loss: u32,
    pub sigmoid_out: u32,
    /// The batch's rows, N in the gradient's 1/N (more than m when a batch is split into row
    /// chunks).
    pub batch: u32,
    /// loss_stats: 1 adds to the stats slot (later chunks of a split batch), 0 overwrites it.
    pub accumulate: u32,
    /// loss_forward_backward: 1 runs one workgroup per row (see `loss_groups`), 0 one thread.
    pub wide: u32,
    pub _pad: u32,
}

impl LossParams {
    /// A whole batch of m rows.
    pub fn new(m: usize, n: usize, loss: u32, sigmoid_out: bool) -> LossParams {
        LossParams {
            m: m as u32,
            n: n as u32,
            loss,
            sigmoid_out: sigmoid_out as u32,
            batch: m as u32,
            accumulate: 0,
            wide: (n > LOSS_WIDE_FROM) as u32,
            _pad: 0,
        }
    }
}

/// Outputs per row above which loss_forward_backward gives each row a workgroup of 256
/// threads instead of one thread: a thread loops over its row about five times.
pub const LOSS_WIDE_FROM: usize = 64;

/// Workgroups of loss_forward_backward over m rows: one per row when `wide` (rows beyond the
/// dispatch limit are strided over), else one thread per row.
pub fn loss_groups(m: usize, wide: bool) -> (u32, u32, u32) {
    if wide {
        (m.clamp(1, MAX_GROUPS as usize) as u32, 1, 1)
    } else {
        grid_1d(m, WG_1D)
    }
}

/// `Params` of sgd.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct SgdParams {
    pub len: u32,
    pub decay_end: u32,
    pub l2: f32,
    pub _pad: u32,
}

/// `Params` of optim.wgsl, shared by `momentum_update` and `adam_update`; each reads its own
/// fields (the other's may be anything).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct OptimParams {
    pub len: u32,
    pub decay_end: u32,
    pub l2: f32,
    /// μ of momentum_update.
    pub momentum: f32,
    /// momentum_update: 1 for Nesterov's update, 0 for heavy ball.
    pub nesterov: u32,
    /// adam_update: AdamW's decoupled decay; 0 for Adam.
    pub weight_decay: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub _pad: [u32; 3],
}

/// `Step` of step.wgsl: one per training step, at `slot * step_stride` in the step buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StepInfo {
    /// Where the step's rows start in the epoch's permutation (each kernel's params say how
    /// many rows it handles: the batch, or one row chunk of it).
    pub row_offset: u32,
    pub slot: u32,
    pub lr: f32,
    /// The optimiser's update count, 1-based (0 outside training steps).
    pub t: u32,
    /// Adam's `1 - β1^t` and `1 - β2^t` (`Optimizer::bias_corrections`).
    pub bias1: f32,
    pub bias2: f32,
    pub _pad: [u32; 2],
}

const _: () = assert!(std::mem::size_of::<MatmulParams>() == 32);
const _: () = assert!(std::mem::size_of::<GatherParams>() == 32);
const _: () = assert!(std::mem::size_of::<LossParams>() == 32);
const _: () = assert!(std::mem::size_of::<SgdParams>() == 16);
const _: () = assert!(std::mem::size_of::<OptimParams>() == 48);
const _: () = assert!(std::mem::size_of::<StepInfo>() == 32);
const _: () = assert!(std::mem::size_of::<StepInfo>() as u64 <= STEP_SLOT);

/// Every entry point, named as in the WGSL and the CPU reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    MatmulForward,
    MatmulBackwardWeight,
    MatmulBackwardInput,
    GatherRows,
    LossForwardBackward,
    LossStats,
    SgdUpdate,
    MomentumUpdate,
    AdamUpdate,
}

/// The matmul kernels' variants (matmul.wgsl): the same three forms and epilogues with another
/// tile size and register blocking, chosen per adapter (`super::tuning`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatmulVariant {
    /// 64×64 tile of c, k steps of 16, 4×4 outputs per thread: `matmul_*`.
    Tile64,
    /// 128×128 tile of c, k steps of 8, 8×8 outputs per thread: `matmul_*_128`.
    Tile128,
}

impl MatmulVariant {
    pub const ALL: [MatmulVariant; 2] = [MatmulVariant::Tile64, MatmulVariant::Tile128];

    /// The side of the square tile of c one workgroup computes.
    pub fn tile(self) -> u32 {
        match self {
            MatmulVariant::Tile64 => 64,
            MatmulVariant::Tile128 => 128,
        }
    }

    /// `64` or `128`, as `Setting::parse` and the tuning cache spell it.
    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Tile64 => "64",
            MatmulVariant::Tile128 => "128",
        }
    }

    pub fn from_name(s: &str) -> Option<MatmulVariant> {
        MatmulVariant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// `64x64 tiles, 4x4 per thread`.
    pub fn describe(self) -> String {
        let (t, r) = match self {
            MatmulVariant::Tile64 => (64, 4),
            MatmulVariant::Tile128 => (128, 8),
        };
        format!("{t}x{t} tiles, {r}x{r} per thread")
    }

    fn entry(self, kernel: Kernel) -> String {
        match self {
            MatmulVariant::Tile64 => kernel.entry().to_string(),
            MatmulVariant::Tile128 => format!("{}_128", kernel.entry()),
        }
    }

    /// Loop iterations a thread runs for a matmul summing over k terms (llvmpipe counts them
    /// all, nested or not): per k step the step loop, two load loops of 4 and the product
    /// loop; then the epilogues and the bias sum.
    pub fn loop_iterations(self, k: usize) -> usize {
        match self {
            MatmulVariant::Tile64 => k.div_ceil(16) * 25 + 32,
            MatmulVariant::Tile128 => k.div_ceil(8) * 17 + 96,
        }
    }

    /// Workgroups for an (m, n) output; an error when a dimension exceeds the dispatch limit.
    pub fn groups(self, m: usize, n: usize) -> Result<(u32, u32, u32)> {
        let t = self.tile() as usize;
        let (gx, gy) = (n.div_ceil(t), m.div_ceil(t));
        if gx > MAX_GROUPS as usize || gy > MAX_GROUPS as usize {
            return Err(Error::Limit {
                what: format!("a {m}x{n} matmul ({gx}x{gy} workgroups)"),
                limit: "max_compute_workgroups_per_dimension",
                needed: gx.max(gy) as u64,
                available: MAX_GROUPS as u64,
                advice: "use a smaller batch or narrower layers".into(),
            });
        }
        Ok((gx as u32, gy as u32, 1))
    }
}

/// A binding's kind, in binding order.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Read,
    Write,
    Uniform,
    /// The per-step uniform, with a dynamic offset.
    Step,
    /// A binding number another entry point of the module uses: left out of this layout.
    Gap,
}
use Slot::*;

impl Kernel {
    const ALL: [Kernel; 9] = [
        Kernel::MatmulForward,
        Kernel::MatmulBackwardWeight,
        Kernel::MatmulBackwardInput,
        Kernel::GatherRows,
        Kernel::LossForwardBackward,
        Kernel::LossStats,
        Kernel::SgdUpdate,
        Kernel::MomentumUpdate,
        Kernel::AdamUpdate,
    ];

    fn entry(self) -> &'static str {
        match self {
            Kernel::MatmulForward => "matmul_forward",
            Kernel::MatmulBackwardWeight => "matmul_backward_weight",
            Kernel::MatmulBackwardInput => "matmul_backward_input",
            Kernel::GatherRows => "gather_rows",
            Kernel::LossForwardBackward => "loss_forward_backward",
            Kernel::LossStats => "loss_stats",
            Kernel::SgdUpdate => "sgd_update",
            Kernel::MomentumUpdate => "momentum_update",
            Kernel::AdamUpdate => "adam_update",
        }
    }

    fn slots(self) -> &'static [Slot] {
        match self {
            Kernel::MatmulForward | Kernel::MatmulBackwardInput => {
                &[Read, Read, Read, Write, Gap, Uniform]
            }
            Kernel::MatmulBackwardWeight => &[Read, Read, Gap, Write, Write, Uniform],
            Kernel::GatherRows => &[Read, Read, Read, Read, Write, Write, Uniform, Step],
            Kernel::LossForwardBackward => &[Read, Read, Write, Write, Gap, Uniform, Gap],
            Kernel::LossStats => &[Gap, Gap, Gap, Write, Write, Uniform, Step],
            Kernel::SgdUpdate => &[Read, Write, Uniform, Step],
            Kernel::MomentumUpdate => &[Read, Write, Write, Gap, Uniform, Step],
            Kernel::AdamUpdate => &[Read, Write, Write, Write, Uniform, Step],
        }
    }

    pub fn is_matmul(self) -> bool {
        matches!(
            self,
            Kernel::MatmulForward | Kernel::MatmulBackwardWeight | Kernel::MatmulBackwardInput
        )
    }

    pub fn uses_step(self) -> bool {
        self.slots().contains(&Step)
    }

    /// (binding number, kind) of the bindings this kernel's layout has.
    fn bindings(self) -> impl Iterator<Item = (u32, Slot)> {
        self.slots()
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != Gap)
            .map(|(i, s)| (i as u32, *s))
    }

    fn source(self) -> (&'static str, &'static str) {
        const MATMUL: &str = concat!(
            include_str!("../../shaders/activation.wgsl"),
            include_str!("../../shaders/matmul.wgsl")
        );
        const GATHER: &str = concat!(
            include_str!("../../shaders/step.wgsl"),
            include_str!("../../shaders/gather.wgsl")
        );
        const LOSS: &str = concat!(
            include_str!("../../shaders/step.wgsl"),
            include_str!("../../shaders/loss.wgsl")
        );
        const SGD: &str = concat!(
            include_str!("../../shaders/step.wgsl"),
            include_str!("../../shaders/sgd.wgsl")
        );
        const OPTIM: &str = concat!(
            include_str!("../../shaders/step.wgsl"),
            include_str!("../../shaders/optim.wgsl")
        );
        match self {
            Kernel::MatmulForward | Kernel::MatmulBackwardWeight | Kernel::MatmulBackwardInput => {
                ("matmul.wgsl", MATMUL)
            }
            Kernel::GatherRows => ("gather.wgsl", GATHER),
            Kernel::LossForwardBackward | Kernel::LossStats => ("loss.wgsl", LOSS),
            Kernel::SgdUpdate => ("sgd.wgsl", SGD),
            Kernel::MomentumUpdate | Kernel::AdamUpdate => ("optim.wgsl", OPTIM),
        }
    }
}

/// A buffer range to bind.
#[derive(Clone, Copy)]
pub struct Range<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
}

impl<'a> Range<'a> {
    pub fn whole(buffer: &'a wgpu::Buffer) -> Range<'a> {
        Range {
            buffer,
            offset: 0,
            size: buffer.size(),
        }
    }
}

/// One recorded dispatch.
pub struct Dispatch {
    pub kernel: Kernel,
    pub bind_group: wgpu::BindGroup,
    pub groups: (u32, u32, u32),
}

/// All pipelines, compiled once per device: the matmul kernels in one or more variants, one of
/// them active (what `record` dispatches).
pub struct Kernels {
    /// Per kernel: one pipeline, or for the matmul kernels one per entry of `variants`.
    pipelines: Vec<Vec<wgpu::ComputePipeline>>,
    layouts: Vec<wgpu::BindGroupLayout>,
    variants: Vec<MatmulVariant>,
    active: usize,
    /// Dynamic offset stride of the step uniform.
    pub step_stride: u64,
}

fn scoped<T>(device: &wgpu::Device, what: &str, f: impl FnOnce() -> T) -> Result<T> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    match pollster::block_on(scope.pop()) {
        None => Ok(value),
        Some(e) => Err(Error::Gpu(format!("{what}: {e}"))),
    }
}

impl Kernels {
    /// Every kernel, the matmul ones in the variant the adapter's rule picks (`tuning::rule`;
    /// a trainer may tune instead).
    pub fn new(ctx: &GpuContext) -> Result<Kernels> {
        Kernels::with_matmul(ctx, &[super::tuning::rule(&ctx.info)])
    }

    /// Every kernel, the matmul ones in each of `variants` (at least one); the first is active.
    pub fn with_matmul(ctx: &GpuContext, variants: &[MatmulVariant]) -> Result<Kernels> {
        if variants.is_empty() {
            return Err(Error::usage("no matmul variant to compile"));
        }
        let device = &ctx.device;
        let mut pipelines = Vec::new();
        let mut layouts = Vec::new();
        let mut modules: Vec<(&str, wgpu::ShaderModule)> = Vec::new();
        for kernel in Kernel::ALL {
            let (file, src) = kernel.source();
            if !modules.iter().any(|(f, _)| *f == file) {
                let module = scoped(device, &format!("compiling {file}"), || {
                    device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(file),
                        source: wgpu::ShaderSource::Wgsl(src.into()),
                    })
                })?;
                modules.push((file, module));
            }
            let module = &modules.iter().find(|(f, _)| *f == file).unwrap().1;
            let entries: Vec<_> = kernel
                .bindings()
                .map(|(binding, s)| wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: match s {
                        Read | Write | Gap => wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Storage {
                                read_only: s == Read,
                            },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        Uniform | Step => wgpu::BindingType::Buffer {
                            ty: wgpu::BufferBindingType::Uniform,
                            has_dynamic_offset: s == Step,
                            min_binding_size: None,
                        },
                    },
                    count: None,
                })
                .collect();
            let layout = scoped(device, &format!("laying out {}", kernel.entry()), || {
                device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(kernel.entry()),
                    entries: &entries,
                })
            })?;
            let entry_points: Vec<String> = if kernel.is_matmul() {
                variants.iter().map(|v| v.entry(kernel)).collect()
            } else {
                vec![kernel.entry().to_string()]
            };
            let mut built = Vec::new();
            for entry in &entry_points {
                built.push(scoped(device, &format!("building {entry}"), || {
                    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(entry),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
                    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                        label: Some(entry),
                        layout: Some(&pl),
                        module,
                        entry_point: Some(entry),
                        compilation_options: wgpu::PipelineCompilationOptions {
                            // Every kernel writes its workgroup memory before reading it; zeroing
                            // it makes GL compile tiled kernels in ~30 s instead of 0.1 s.
                            zero_initialize_workgroup_memory: false,
                            ..Default::default()
                        },
                        cache: None,
                    })
                })?);
            }
            layouts.push(layout);
            pipelines.push(built);
        }
        let align = ctx.limits.min_uniform_buffer_offset_alignment as u64;
        Ok(Kernels {
            pipelines,
            layouts,
            variants: variants.to_vec(),
            active: 0,
            step_stride: STEP_SLOT.max(align),
        })
    }

    /// The matmul variant `record` dispatches.
    pub fn matmul_variant(&self) -> MatmulVariant {
        self.variants[self.active]
    }

    /// The matmul variants compiled.
    pub fn matmul_variants(&self) -> &[MatmulVariant] {
        &self.variants
    }

    /// Makes `variant` the one `record` dispatches; an error when it was not compiled. Bind
    /// groups stay valid (all variants share the layouts).
    pub fn set_matmul_variant(&mut self, variant: MatmulVariant) -> Result<()> {
        self.active = self
            .variants
            .iter()
            .position(|&v| v == variant)
            .ok_or_else(|| {
                Error::usage(format!(
                    "matmul variant {} was not compiled",
                    variant.describe()
                ))
            })?;
        Ok(())
    }

    /// Workgroups of an (m, n) matmul output for the active variant.
    pub fn matmul_groups(&self, m: usize, n: usize) -> Result<(u32, u32, u32)> {
        self.matmul_variant().groups(m, n)
    }

    fn index(kernel: Kernel) -> usize {
        Kernel::ALL.iter().position(|&k| k == kernel).unwrap()
    }

    /// A bind group for `kernel` from ranges in binding order (gaps skipped); the step uniform
    /// (if the kernel has one) is bound with a window of one `StepInfo`, moved by the dynamic
    /// offset at dispatch.
    pub fn bind(&self, device: &wgpu::Device, kernel: Kernel, ranges: &[Range]) -> wgpu::BindGroup {
        assert_eq!(
            ranges.len(),
            kernel.bindings().count(),
            "{:?}: wrong binding count",
            kernel
        );
        let entries: Vec<_> = ranges
            .iter()
            .zip(kernel.bindings())
            .map(|(r, (binding, s))| wgpu::BindGroupEntry {
                binding,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: r.buffer,
                    offset: r.offset,
                    size: NonZeroU64::new(if s == Step {
                        std::mem::size_of::<StepInfo>() as u64
                    } else {
                        r.size
                    }),
                }),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.entry()),
            layout: &self.layouts[Self::index(kernel)],
            entries: &entries,
        })
    }

    /// Records `dispatches` into one compute pass; `slot` picks the step uniform's slot.
    pub fn record(&self, pass: &mut wgpu::ComputePass, dispatches: &[Dispatch], slot: u32) {
        let offset = [(slot as u64 * self.step_stride) as u32];
        for d in dispatches {
            let variant = if d.kernel.is_matmul() { self.active } else { 0 };
            pass.set_pipeline(&self.pipelines[Self::index(d.kernel)][variant]);
            let dynamic: &[u32] = if d.kernel.uses_step() { &offset } else { &[] };
            pass.set_bind_group(0, &d.bind_group, dynamic);
            let (x, y, z) = d.groups;
            pass.dispatch_workgroups(x, y, z);
        }
    }
}

/// Workgroups for a (m, n) matmul output on the grid of 64-tiles, which every variant accepts
/// (the 128 variant's workgroups past the output return at once); an error when a dimension
/// exceeds the dispatch limit. `Kernels::matmul_groups` gives the active variant's own grid.
pub fn matmul_groups(m: usize, n: usize) -> Result<(u32, u32, u32)> {
    MatmulVariant::Tile64.groups(m, n)
}

/// Workgroups for a grid-stride loop over `count` items.
pub fn grid_1d(count: usize, wg: u32) -> (u32, u32, u32) {
    (
        count.div_ceil(wg as usize).clamp(1, MAX_GROUPS as usize) as u32,
        1,
        1,
    )
}

/// A storage buffer holding `data`.
pub fn storage_init(device: &wgpu::Device, label: &str, data: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: data,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
    })
}

/// A zeroed storage buffer of `bytes` (at least 4).
pub fn storage_zeroed(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A uniform buffer holding one `Params`.
pub fn uniform(device: &wgpu::Device, label: &str, value: &impl Pod) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// Copies `size` bytes at `offset` of `buffer` back to the host (submit, map, wait).
pub fn read_back(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<Vec<f32>> {
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read back"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
    ctx.queue.submit([enc.finish()]);
    let slice = staging.slice(..);
    let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.wait()?;
    // Work after an out-of-memory or validation error, or a lost device, cannot be trusted.
    ctx.check_fault("running the GPU work")?;
    match pollster::block_on(rx.receive()) {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            ctx.check_fault("reading results back")?;
            return Err(Error::Gpu(format!("reading results back failed: {e}")));
        }
        None => {
            return Err(Error::Gpu(
                "reading results back failed: the device was lost".into(),
            ));
        }
    }
    let data = slice
        .get_mapped_range()
        .map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?;
    let out = bytemuck::cast_slice(&data).to_vec();
    drop(data);
    staging.unmap();
    Ok(out)
}

/// Runs one kernel once on host data, for the parity tests: `inputs` fill the read bindings,
/// `outputs` gives each read_write binding's initial contents, `params` the uniform, `step` the
/// per-step uniform (slot 0). Returns the read_write bindings' contents afterwards.
pub fn run_once(
    ctx: &GpuContext,
    kernels: &Kernels,
    kernel: Kernel,
    inputs: &[&[u8]],
    outputs: &[&[f32]],
    params: &impl Pod,
    step: Option<StepInfo>,
    groups: (u32, u32, u32),
) -> Result<Vec<Vec<f32>>> {
    let device = &ctx.device;
    let ins: Vec<_> = inputs
        .iter()
        .map(|d| {
            let mut v = d.to_vec();
            v.resize(v.len().max(4).next_multiple_of(4), 0);
            storage_init(device, "input", &v)
        })
        .collect();
    let outs: Vec<_> = outputs
        .iter()
        .map(|d| {
            let mut v = d.to_vec();
            if v.is_empty() {
                v.push(0.0);
            }
            storage_init(device, "output", bytemuck::cast_slice(&v))
        })
        .collect();
    let par = uniform(device, "params", params);
    let step_buf = uniform(device, "step", &step.unwrap_or_default());
    let mut ranges: Vec<Range> = ins.iter().chain(&outs).map(Range::whole).collect();
    ranges.push(Range::whole(&par));
    if kernel.uses_step() {
        ranges.push(Range::whole(&step_buf));
    }
    let bind_group = scoped(device, "binding", || kernels.bind(device, kernel, &ranges))?;
    let mut enc = device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        kernels.record(
            &mut pass,
            &[Dispatch {
                kernel,
                bind_group,
                groups,
            }],
            0,
        );
    }
    ctx.queue.submit([enc.finish()]);
    outs.iter()
        .zip(outputs)
        .map(|(b, o)| {
            read_back(ctx, b, 0, (o.len().max(1) * 4) as u64).map(|mut v| {
                v.truncate(o.len());
                v
            })
        })
        .collect()
}

/// Times `reps` back-to-back dispatches of a kernel in the matmul layout, in one submission:
/// `inputs` gives the float count of each of its three operands (a, b, and aux or db) in the
/// forms' order, `output` that of c; matmul_backward_weight binds its third operand as db. Buffers
/// and the bind group are made, and one dispatch run, before the clock starts; the device is
/// waited for before it stops. Returns seconds.
pub fn run_timed(
    ctx: &GpuContext,
    kernels: &Kernels,
    kernel: Kernel,
    inputs: &[usize],
    output: usize,
    params: &impl Pod,
    groups: (u32, u32, u32),
    reps: usize,
) -> Result<f64> {
    let device = &ctx.device;
    let ins: Vec<_> = inputs
        .iter()
        .map(|&n| {
            storage_init(
                device,
                "input",
                bytemuck::cast_slice(&vec![0.5f32; n.max(1)]),
            )
        })
        .collect();
    let out = storage_zeroed(device, "output", output as u64 * 4);
    let par = uniform(device, "params", params);
    // Reads take the operands in order; the first write is c, a further one the next operand.
    let mut operands = ins.iter();
    let mut c = Some(&out);
    let ranges: Vec<Range> = kernel
        .bindings()
        .map(|(_, s)| match s {
            Uniform => Some(Range::whole(&par)),
            Write => c.take().or_else(|| operands.next()).map(Range::whole),
            _ => operands.next().map(Range::whole),
        })
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Gpu(format!("{kernel:?}: too few operands to time it")))?;
    let bind_group = scoped(device, "binding", || kernels.bind(device, kernel, &ranges))?;
    let dispatch = [Dispatch {
        kernel,
        bind_group,
        groups,
    }];
    let submit = |n: usize| {
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..n {
                kernels.record(&mut pass, &dispatch, 0);
            }
        }
        ctx.queue.submit([enc.finish()]);
        ctx.wait()
    };
    submit(1)?;
    let t = std::time::Instant::now();
    submit(reps)?;
    Ok(t.elapsed().as_secs_f64())
}
