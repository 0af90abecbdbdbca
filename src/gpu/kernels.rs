//! The compute pipelines: one per WGSL entry point (the matmul ones per variant), the binding
//! table each entry point's bind group layout is built from, and the dispatch grids (the matmul
//! ones, variants and split K, in `grid`).

use std::num::NonZeroU64;

use super::context::GpuContext;
use super::uniforms::{STEP_SLOT, StepInfo};
use crate::blocking::block;
use crate::error::{Error, Result};

/// Matches `TILE` in matmul.wgsl: the smaller variant's tile, whose grid covers every variant.
pub const MATMUL_TILE: u32 = 64;
/// Matches `WG` in gather.wgsl, loss.wgsl, sgd.wgsl and optim.wgsl.
pub const WG_1D: u32 = 256;
/// Most workgroups one dimension may hold (`max_compute_workgroups_per_dimension` floor).
const MAX_GROUPS: u32 = 65535;

/// Every entry point, named as in the WGSL and the CPU reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    MatmulForward,
    MatmulBackwardWeight,
    MatmulBackwardInput,
    /// The second dispatch of a split-K matmul (reduce.wgsl): each form's partials added up
    /// and its epilogue applied.
    ReduceForward,
    ReduceBackwardWeight,
    ReduceBackwardInput,
    GatherRows,
    LossForwardBackward,
    LossStats,
    SgdUpdate,
    MomentumUpdate,
    AdamUpdate,
}

mod grid;

pub use grid::{KSplit, MatmulVariant, SLICE_ALIGN, SPLIT_TARGET};

/// A binding's kind, in binding order.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Slot {
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
    /// Whether every access of this kernel's module is guarded in the shader itself, against
    /// the bindings' real lengths (`arrayLength`), so the module may be compiled without naga's
    /// runtime checks (`GpuContext::shader_checks` off): the matmul, SGD and optimiser modules.
    /// gather.wgsl indexes by the permutation's contents and loss.wgsl by the step uniform's
    /// slot, which the host keeps in range, not the shader: those keep their checks.
    pub fn guards_every_access(self) -> bool {
        self.is_matmul()
            || matches!(
                self,
                Kernel::ReduceForward
                    | Kernel::ReduceBackwardWeight
                    | Kernel::ReduceBackwardInput
                    | Kernel::SgdUpdate
                    | Kernel::MomentumUpdate
                    | Kernel::AdamUpdate
            )
    }

    /// Every kernel, in the order the pipeline cache compiles them.
    pub const ALL: [Kernel; 12] = [
        Kernel::MatmulForward,
        Kernel::MatmulBackwardWeight,
        Kernel::MatmulBackwardInput,
        Kernel::ReduceForward,
        Kernel::ReduceBackwardWeight,
        Kernel::ReduceBackwardInput,
        Kernel::GatherRows,
        Kernel::LossForwardBackward,
        Kernel::LossStats,
        Kernel::SgdUpdate,
        Kernel::MomentumUpdate,
        Kernel::AdamUpdate,
    ];

    pub fn entry(self) -> &'static str {
        match self {
            Kernel::MatmulForward => "matmul_forward",
            Kernel::MatmulBackwardWeight => "matmul_backward_weight",
            Kernel::MatmulBackwardInput => "matmul_backward_input",
            Kernel::ReduceForward => "reduce_forward",
            Kernel::ReduceBackwardWeight => "reduce_backward_weight",
            Kernel::ReduceBackwardInput => "reduce_backward_input",
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
            Kernel::ReduceForward | Kernel::ReduceBackwardInput => {
                &[Read, Read, Write, Gap, Uniform]
            }
            Kernel::ReduceBackwardWeight => &[Read, Read, Write, Write, Uniform],
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

    /// The reduction that completes this matmul form's split-K dispatch.
    pub fn reduction(self) -> Option<Kernel> {
        match self {
            Kernel::MatmulForward => Some(Kernel::ReduceForward),
            Kernel::MatmulBackwardWeight => Some(Kernel::ReduceBackwardWeight),
            Kernel::MatmulBackwardInput => Some(Kernel::ReduceBackwardInput),
            _ => None,
        }
    }

    pub fn uses_step(self) -> bool {
        self.slots().contains(&Step)
    }

    /// (binding number, kind) of the bindings this kernel's layout has.
    pub(super) fn bindings(self) -> impl Iterator<Item = (u32, Slot)> {
        self.slots()
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != Gap)
            .map(|(i, s)| (i as u32, *s))
    }

    /// The module this kernel's entry point is compiled from, as the pipeline cache assembles
    /// it (file name, source): the shared step uniform or activation functions, then the op's
    /// own file.
    pub fn source(self) -> (&'static str, &'static str) {
        const MATMUL: &str = concat!(
            include_str!("../../shaders/activation.wgsl"),
            include_str!("../../shaders/matmul.wgsl")
        );
        const REDUCE: &str = concat!(
            include_str!("../../shaders/activation.wgsl"),
            include_str!("../../shaders/reduce.wgsl")
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
            Kernel::ReduceForward | Kernel::ReduceBackwardWeight | Kernel::ReduceBackwardInput => {
                ("reduce.wgsl", REDUCE)
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

/// `f()` inside a validation error scope: its value, or the error the scope caught, naming
/// `what` was being done. Awaited, so a browser reports the error too (it only answers
/// asynchronously).
pub(super) async fn scoped<T>(
    device: &wgpu::Device,
    what: &str,
    f: impl FnOnce() -> T,
) -> Result<T> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    match scope.pop().await {
        None => Ok(value),
        Some(e) => Err(Error::Gpu(format!("{what}: {e}"))),
    }
}

impl Kernels {
    /// Every kernel, the matmul ones in `variant` (`tuning::rule` gives the adapter's usual
    /// one; a trainer may tune instead).
    pub fn new(ctx: &GpuContext, variant: MatmulVariant) -> Result<Kernels> {
        Kernels::with_matmul(ctx, &[variant])
    }

    /// Every kernel, the matmul ones in each of `variants` (at least one); the first is active
    /// (blocking: `with_matmul_async`).
    pub fn with_matmul(ctx: &GpuContext, variants: &[MatmulVariant]) -> Result<Kernels> {
        block(
            "Kernels::with_matmul_async",
            Kernels::with_matmul_async(ctx, variants),
        )
    }

    /// `with_matmul`, awaited.
    pub async fn with_matmul_async(
        ctx: &GpuContext,
        variants: &[MatmulVariant],
    ) -> Result<Kernels> {
        if variants.is_empty() {
            return Err(Error::usage("no matmul variant to compile"));
        }
        check_limits(&ctx.limits)?;
        let device = &ctx.device;
        let mut pipelines = Vec::new();
        let mut layouts = Vec::new();
        let mut modules: Vec<(&str, wgpu::ShaderModule)> = Vec::new();
        for kernel in Kernel::ALL {
            let (file, src) = kernel.source();
            if !modules.iter().any(|(f, _)| *f == file) {
                modules.push((file, compile_module(ctx, kernel, file, src).await?));
            }
            let module = &modules.iter().find(|(f, _)| *f == file).unwrap().1;
            let entries = layout_entries(kernel);
            let layout = scoped(device, &format!("laying out {}", kernel.entry()), || {
                device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(kernel.entry()),
                    entries: &entries,
                })
            })
            .await?;
            let built = build_pipelines(device, kernel, variants, &layout, module).await?;
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
        for d in dispatches {
            self.set_dispatch(pass, d, slot);
            let (x, y, z) = d.groups;
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// As `record`, but every dispatch has no workgroups: the pipelines are bound with these
    /// dispatches' uniforms and nothing runs. Mesa's lavapipe (22.3) specialises a compute
    /// pipeline on the uniform values bound with it and, while that pays, recompiles it at every
    /// dispatch; the first bind whose values do not pay ends that for good. A pass primed with a
    /// second batch shape's plan (GpuTrainer::run_steps) compiles each kernel once.
    pub fn prime(&self, pass: &mut wgpu::ComputePass, dispatches: &[Dispatch], slot: u32) {
        for d in dispatches {
            self.set_dispatch(pass, d, slot);
            pass.dispatch_workgroups(0, 0, 0);
        }
    }

    /// Sets `d`'s pipeline and bind group (the step uniform at `slot`).
    fn set_dispatch(&self, pass: &mut wgpu::ComputePass, d: &Dispatch, slot: u32) {
        let offset = [(slot as u64 * self.step_stride) as u32];
        let variant = if d.kernel.is_matmul() { self.active } else { 0 };
        pass.set_pipeline(&self.pipelines[Self::index(d.kernel)][variant]);
        let dynamic: &[u32] = if d.kernel.uses_step() { &offset } else { &[] };
        pass.set_bind_group(0, &d.bind_group, dynamic);
    }
}

/// Compiles `file`'s module (which `kernel` is compiled from) in a validation scope: with naga's
/// runtime checks, or without them when `ctx.shader_checks` is off and the module guards every
/// access itself.
async fn compile_module(
    ctx: &GpuContext,
    kernel: Kernel,
    file: &'static str,
    src: &'static str,
) -> Result<wgpu::ShaderModule> {
    let device = &ctx.device;
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some(file),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    };
    scoped(device, &format!("compiling {file}"), || {
        if ctx.shader_checks || !kernel.guards_every_access() {
            device.create_shader_module(desc)
        } else {
            // SAFETY: `guards_every_access` lists only modules whose every buffer
            // access is guarded against the binding's own length (arrayLength)
            // and every workgroup or private index is within its array by
            // construction; every loop ends (counters rise by a positive stride to
            // a bound at most a binding's length, far below u32::MAX) and every
            // divisor is a non-zero constant or tested for zero first.
            // Checked again by the parity tests and `wgtrain selftest` on both
            // settings. See docs/GPU-KERNELS.md, "Runtime checks".
            unsafe {
                device.create_shader_module_trusted(desc, wgpu::ShaderRuntimeChecks::unchecked())
            }
        }
    })
    .await
}

/// The bind group layout entries of `kernel`'s bindings (gaps left out).
fn layout_entries(kernel: Kernel) -> Vec<wgpu::BindGroupLayoutEntry> {
    kernel
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
        .collect()
}

/// `kernel`'s pipelines on `layout`, each in a validation scope: one per matmul variant of
/// `variants` for a matmul kernel, else one.
async fn build_pipelines(
    device: &wgpu::Device,
    kernel: Kernel,
    variants: &[MatmulVariant],
    layout: &wgpu::BindGroupLayout,
    module: &wgpu::ShaderModule,
) -> Result<Vec<wgpu::ComputePipeline>> {
    let entry_points: Vec<String> = if kernel.is_matmul() {
        variants.iter().map(|v| v.entry(kernel)).collect()
    } else {
        vec![kernel.entry().to_string()]
    };
    let mut built = Vec::new();
    for entry in &entry_points {
        built.push(
            scoped(device, &format!("building {entry}"), || {
                let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(entry),
                    bind_group_layouts: &[Some(layout)],
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
            })
            .await?,
        );
    }
    Ok(built)
}

/// Fails with `Error::Limit` naming the first per-stage binding limit a kernel's layout exceeds
/// (a downlevel adapter offers 4 storage buffers per stage; gather_rows binds 6).
fn check_limits(limits: &wgpu::Limits) -> Result<()> {
    for kernel in Kernel::ALL {
        let count = |kinds: &[Slot]| kernel.bindings().filter(|(_, s)| kinds.contains(s)).count();
        for (limit, needed, available) in [
            (
                "max_storage_buffers_per_shader_stage",
                count(&[Read, Write]),
                limits.max_storage_buffers_per_shader_stage,
            ),
            (
                "max_uniform_buffers_per_shader_stage",
                count(&[Uniform, Step]),
                limits.max_uniform_buffers_per_shader_stage,
            ),
            (
                "max_dynamic_uniform_buffers_per_pipeline_layout",
                count(&[Step]),
                limits.max_dynamic_uniform_buffers_per_pipeline_layout,
            ),
        ] {
            if needed as u64 > u64::from(available) {
                return Err(Error::Limit {
                    what: format!("the {} kernel's bindings", kernel.entry()),
                    limit,
                    needed: needed as u64,
                    available: available.into(),
                    advice: "this adapter cannot run wgtrain's kernels: use the CPU path".into(),
                });
            }
        }
    }
    Ok(())
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

/// Workgroups of loss_forward_backward over m rows: one per row when `wide` (rows beyond the
/// dispatch limit are strided over), else one thread per row.
pub fn loss_groups(m: usize, wide: bool) -> (u32, u32, u32) {
    if wide {
        (m.clamp(1, MAX_GROUPS as usize) as u32, 1, 1)
    } else {
        grid_1d(m, WG_1D)
    }
}
