//! Buffers on the device: storage and uniform buffers made from host data, read-back to the
//! host, and the one-kernel harness (`run_once`, `run_timed`) the parity tests and benches use.

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::kernels::{Dispatch, Kernel, Kernels, Range, Slot, scoped};
use super::uniforms::StepInfo;
use crate::blocking::block;
use crate::error::{Error, Result};

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

/// Copies `size` bytes at `offset` of `buffer` back to the host (submit, map, wait; blocking:
/// `read_back_async`).
pub fn read_back(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<Vec<f32>> {
    block(
        "wgtrain::gpu::buffer::read_back_async",
        read_back_async(ctx, buffer, offset, size),
    )
}

/// `read_back`, awaited: natively the device is polled until the copy is mapped, in a browser
/// (which polls it itself) the mapping is awaited.
pub async fn read_back_async(
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
    #[cfg(not(target_arch = "wasm32"))]
    ctx.wait()?;
    let mapped = rx.receive().await;
    // Work after an out-of-memory or validation error, or a lost device, cannot be trusted.
    ctx.check_fault("running the GPU work")?;
    match mapped {
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
/// per-step uniform (slot 0). Returns the read_write bindings' contents afterwards (blocking:
/// `run_once_async`).
#[allow(clippy::too_many_arguments)]
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
    block(
        "wgtrain::gpu::buffer::run_once_async",
        run_once_async(ctx, kernels, kernel, inputs, outputs, params, step, groups),
    )
}

/// `run_once`, awaited.
#[allow(clippy::too_many_arguments)]
pub async fn run_once_async(
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
    let bind_group = scoped(device, "binding", || kernels.bind(device, kernel, &ranges)).await?;
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
    let mut got = Vec::with_capacity(outs.len());
    for (b, o) in outs.iter().zip(outputs) {
        let mut v = read_back_async(ctx, b, 0, (o.len().max(1) * 4) as u64).await?;
        v.truncate(o.len());
        got.push(v);
    }
    Ok(got)
}

/// Runs a matmul kernel with its k split (`split`, at least 2 slices) on host data, as the
/// trainer does: the split dispatch into fresh partials buffers (NaN-filled, so a slice that
/// writes nothing shows), then its reduction into `outputs` (c, and db for the weight gradient,
/// with their initial contents). `inputs` are the unsplit kernel's read bindings (a, b, and aux
/// for the forward and input-gradient forms); `groups` its (x, y) grid. Returns c (and db).
#[allow(clippy::too_many_arguments)]
pub fn run_split_once(
    ctx: &GpuContext,
    kernels: &Kernels,
    kernel: Kernel,
    inputs: &[&[u8]],
    outputs: &[&[f32]],
    params: &super::uniforms::MatmulParams,
    split: super::kernels::KSplit,
    groups: (u32, u32, u32),
) -> Result<Vec<Vec<f32>>> {
    block(
        "wgtrain::gpu::buffer::run_split_once_async",
        run_split_once_async(ctx, kernels, kernel, inputs, outputs, params, split, groups),
    )
}

/// `run_split_once`, awaited.
#[allow(clippy::too_many_arguments)]
pub async fn run_split_once_async(
    ctx: &GpuContext,
    kernels: &Kernels,
    kernel: Kernel,
    inputs: &[&[u8]],
    outputs: &[&[f32]],
    params: &super::uniforms::MatmulParams,
    split: super::kernels::KSplit,
    (gx, gy, _): (u32, u32, u32),
) -> Result<Vec<Vec<f32>>> {
    let reduce = kernel
        .reduction()
        .ok_or_else(|| Error::usage(format!("{kernel:?} is not a matmul kernel")))?;
    let p = params.split(split);
    let (m, n, s) = (p.m as usize, p.n as usize, split.splits as usize);
    let parts = vec![f32::NAN; s * m * n];
    let bias_parts = vec![f32::NAN; s * n];
    let scratch: &[&[f32]] = if reduce == Kernel::ReduceBackwardWeight {
        &[&parts, &bias_parts]
    } else {
        &[&parts]
    };
    let got = run_once_async(
        ctx,
        kernels,
        kernel,
        inputs,
        scratch,
        &p,
        None,
        (gx, gy, split.splits),
    )
    .await?;
    let mut reads: Vec<&[u8]> = vec![bytemuck::cast_slice(&got[0])];
    match got.get(1) {
        Some(b) => reads.push(bytemuck::cast_slice(b)),
        None => reads.push(inputs.get(2).copied().unwrap_or_default()),
    }
    run_once_async(
        ctx,
        kernels,
        reduce,
        &reads,
        outputs,
        &super::uniforms::ReduceParams::of(&p),
        None,
        super::kernels::grid_1d(m * n, super::kernels::WG_1D),
    )
    .await
}

/// Times `reps` back-to-back dispatches of a kernel in the matmul layout, in one submission:
/// `inputs` gives the float count of each of its three operands (a, b, and aux or db) in the
/// forms' order, `output` that of c; matmul_backward_weight binds its third operand as db. Buffers
/// and the bind group are made, and one dispatch run, before the clock starts; the device is
/// waited for before it stops. Returns seconds (blocking: `run_timed_async`).
#[allow(clippy::too_many_arguments)]
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
    block(
        "wgtrain::gpu::buffer::run_timed_async",
        run_timed_async(ctx, kernels, kernel, inputs, output, params, groups, reps),
    )
}

/// `run_timed`, awaited.
#[allow(clippy::too_many_arguments)]
pub async fn run_timed_async(
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
            Slot::Uniform => Some(Range::whole(&par)),
            Slot::Write => c.take().or_else(|| operands.next()).map(Range::whole),
            _ => operands.next().map(Range::whole),
        })
        .collect::<Option<_>>()
        .ok_or_else(|| Error::Gpu(format!("{kernel:?}: too few operands to time it")))?;
    let bind_group = scoped(device, "binding", || kernels.bind(device, kernel, &ranges)).await?;
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
        ctx.submit(enc.finish())
    };
    ctx.finished(submit(1)).await?;
    let t = web_time::Instant::now();
    ctx.finished(submit(reps)).await?;
    Ok(t.elapsed().as_secs_f64())
}
