//! The GPU trainer: parameters, data, activations and gradients live in GPU buffers for the whole
//! run; a step is a fixed list of dispatches, an epoch is recorded at once and its losses are
//! read back once at its end.

use std::collections::HashMap;

use super::buffer::*;
use super::context::GpuContext;
use super::kernels::*;
use super::tuning::{self, MatmulChoice, MatmulConfig};
use super::uniforms::*;
use crate::data::{Dataset, Inputs};
use crate::error::{Error, Result};
use crate::model::{Activation, Layer, Params, Spec};
use crate::optim::{Method, OptimState, Optimizer};
use crate::train::{Backend, EvalStats, Hyper, StopToken};

/// The most steps recorded in one submission (see `run_steps`).
const STEPS_PER_SUBMIT: usize = 32;
/// The longest a submission of steps should run (see `run_steps`).
const SUBMIT_SECONDS: f64 = 0.5;
/// Parameter tensors start at multiples of this many floats (256 bytes), so each can be bound
/// on its own (`min_storage_buffer_offset_alignment` is at most 256).
const ALIGN_FLOATS: usize = 64;

/// Where each tensor lives in the flat parameter (and gradient, and optimiser state) buffer: all
/// weights first, then all biases, so weight decay covers `[0, decay_end)`.
#[derive(Clone, Debug)]
pub struct ParamLayout {
    pub w: Vec<(usize, usize)>,
    pub b: Vec<(usize, usize)>,
    pub decay_end: usize,
    pub total: usize,
}

impl ParamLayout {
    pub fn new(spec: &Spec) -> ParamLayout {
        let mut at = 0;
        let mut place = |len: usize| {
            let off = at;
            at = (at + len).next_multiple_of(ALIGN_FLOATS);
            (off, len)
        };
        let w: Vec<_> = (0..spec.n_layers())
            .map(|l| {
                let (i, o) = spec.layer_shape(l);
                place(i * o)
            })
            .collect();
        let decay_end_w = w.last().map_or(0, |&(o, l)| o + l);
        let b: Vec<_> = (0..spec.n_layers())
            .map(|l| place(spec.sizes[l + 1]))
            .collect();
        ParamLayout {
            w,
            b,
            decay_end: decay_end_w,
            total: at,
        }
    }

    fn pack(&self, p: &Params) -> Vec<f32> {
        let mut flat = vec![0.0; self.total];
        for (l, layer) in p.layers.iter().enumerate() {
            flat[self.w[l].0..][..self.w[l].1].copy_from_slice(&layer.w);
            flat[self.b[l].0..][..self.b[l].1].copy_from_slice(&layer.b);
        }
        flat
    }

    fn unpack(&self, flat: &[f32]) -> Params {
        Params {
            layers: self
                .w
                .iter()
                .zip(&self.b)
                .map(|(&(wo, wl), &(bo, bl))| Layer {
                    w: flat[wo..wo + wl].to_vec(),
                    b: flat[bo..bo + bl].to_vec(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    /// Gather from the training set, forward, loss, backward, update.
    Train,
    /// As Train without the update: leaves the gradients in the gradient buffer.
    Gradients,
    /// Gather from evaluation set i (in order), forward, loss.
    Eval(usize),
}

/// The dispatches of one step for a batch of `m` rows, with the uniforms they bind.
struct Plan {
    dispatches: Vec<Dispatch>,
    _uniforms: Vec<wgpu::Buffer>,
}

/// GPU buffers of one dataset: inputs and dense targets.
struct DataBufs {
    /// f32 bits, or bytes packed four per u32 (`packed` 1 or 2).
    x: wgpu::Buffer,
    /// gather.wgsl's `packed`: 0 f32, 1 bytes times `scale`, 2 bytes times a per-feature scale
    /// plus offset, both in `affine` (dim scales, then dim offsets).
    packed: u32,
    scale: f32,
    affine: wgpu::Buffer,
    y: wgpu::Buffer,
    n: usize,
}

pub struct GpuTrainer {
    ctx: GpuContext,
    kernels: Kernels,
    /// The matmul variant the kernels run, and why.
    matmul: MatmulChoice,
    spec: Spec,
    batch: usize,
    layout: ParamLayout,
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    train: DataBufs,
    /// The evaluation sets (validation, test), in the order given.
    eval: Vec<DataBufs>,
    perm: wgpu::Buffer,
    /// acts[0] the gathered input batch, acts[l+1] layer l's output: (batch, sizes[l]).
    acts: Vec<wgpu::Buffer>,
    /// dz[l]: gradient on layer l's pre-activation, (batch, sizes[l+1]).
    dz: Vec<wgpu::Buffer>,
    ybatch: wgpu::Buffer,
    /// Two floats (loss, correct) per row of a chunk, summed into `stats` by loss_stats.
    row_stats: wgpu::Buffer,
    /// Two floats (loss sum, correct) per step slot.
    stats: wgpu::Buffer,
    step: wgpu::Buffer,
    slots: usize,
    /// λ baked into the update's uniform.
    l2: f32,
    /// The optimiser (baked into the update's uniform), its update count, and its state
    /// buffers (one per `Method::slots` entry, laid out as `params`).
    optimizer: Optimizer,
    t: u64,
    state: Vec<wgpu::Buffer>,
    plans: HashMap<(usize, Mode), Plan>,
    /// Rows per chunk of a step: the batch, or fewer when its buffers would exceed a binding.
    chunk_rows: usize,
}

impl GpuTrainer {
    /// Uploads the parameters and data and allocates every buffer a step needs. Fails, naming
    /// the limit, when a buffer would not fit the adapter.
    pub fn new<'a>(
        ctx: GpuContext,
        spec: &Spec,
        params: &Params,
        train: &Dataset,
        eval: impl IntoIterator<Item = &'a Dataset>,
        batch: usize,
    ) -> Result<GpuTrainer> {
        GpuTrainer::with_matmul(
            ctx,
            spec,
            params,
            train,
            eval,
            batch,
            MatmulConfig::default(),
        )
    }

    /// As `new` (which chooses with `Setting::Auto` and caches nothing), with the matmul variant
    /// chosen and cached as `matmul` says.
    pub fn with_matmul<'a>(
        ctx: GpuContext,
        spec: &Spec,
        params: &Params,
        train: &Dataset,
        eval: impl IntoIterator<Item = &'a Dataset>,
        batch: usize,
        matmul: impl Into<MatmulConfig>,
    ) -> Result<GpuTrainer> {
        let matmul = matmul.into();
        params.check_shapes(spec)?;
        if batch == 0 {
            return Err(Error::invalid("batch", "must be at least 1"));
        }
        let layout = ParamLayout::new(spec);
        let f = 4u64;
        ctx.check_binding(
            "the parameters",
            layout.total as u64 * f,
            "use narrower layers, or the CPU path",
        )?;
        // Batch buffers hold at most the rows a step can have.
        let eval: Vec<&Dataset> = eval.into_iter().collect();
        let largest = eval.iter().map(|d| d.n).fold(train.n, usize::max);
        let rows = batch.min(largest).max(1);
        // Rows of one chunk: what fits one storage binding for the widest layer. A batch with
        // more rows runs as several chunks (see build_plan), so the batch size is bounded by
        // device memory, not by the binding limit.
        // (At least 2: the loss keeps two floats per row.)
        let widest = spec.sizes.iter().copied().max().unwrap_or(1).max(2) as u64;
        let per_binding = ctx.limits.max_storage_buffer_binding_size / (widest * f);
        if per_binding == 0 {
            ctx.check_binding(
                "one row of the widest layer",
                widest * f,
                "use narrower layers, or the CPU path",
            )?;
        }
        let chunk_rows = rows.min(per_binding as usize).max(1);
        let rows = chunk_rows;
        for (l, &s) in spec.sizes.iter().enumerate() {
            ctx.check_binding(
                &format!("layer {l}'s activations for {rows} rows"),
                (rows * s) as u64 * f,
                "use a smaller batch or narrower layers",
            )?;
        }
        // After the checks above: tuning allocates operands of the step's matmuls.
        let (kernels, matmul) = tuning::choose_inner(
            &ctx,
            &tuning::step_shapes(&spec.sizes, rows),
            matmul.setting,
            matmul.cache_dir.as_deref(),
        )?;
        let slots = train
            .n
            .div_ceil(batch)
            .max(eval.iter().map(|d| d.n.div_ceil(batch)).max().unwrap_or(0))
            .max(1);
        ctx.check_binding(
            "the per-step uniforms",
            slots as u64 * kernels.step_stride,
            "use a larger batch (fewer steps per epoch) or fewer rows",
        )?;
        let device = &ctx.device;
        let upload = |d: &Dataset, what: &str| -> Result<DataBufs> {
            let padded = |data: &[u8]| {
                let mut b = data.to_vec();
                b.resize(b.len().next_multiple_of(4).max(4), 0);
                b
            };
            let (bytes, packed, scale, affine): (Vec<u8>, u32, f32, Vec<f32>) = match &d.x {
                Inputs::F32(v) => (bytemuck::cast_slice(v).to_vec(), 0, 1.0, vec![0.0]),
                Inputs::U8 { data, scale } => (padded(data), 1, *scale, vec![0.0]),
                Inputs::U8Affine {
                    data,
                    scale,
                    offset,
                } => (padded(data), 2, 1.0, [&scale[..], &offset[..]].concat()),
            };
            // The whole set stays on the device: its size, not the batch, is what counts.
            let remedy = "the data set must fit one binding on this adapter: use fewer rows, or the CPU path";
            ctx.check_binding(
                &format!("the {what} inputs ({} x {})", d.n, d.dim),
                bytes.len() as u64,
                remedy,
            )?;
            let y = d.dense_targets();
            ctx.check_binding(&format!("the {what} targets"), (y.len() as u64) * f, remedy)?;
            Ok(DataBufs {
                x: storage_init(device, &format!("{what} x"), &bytes),
                packed,
                scale,
                affine: storage_init(
                    device,
                    &format!("{what} affine"),
                    bytemuck::cast_slice(&affine),
                ),
                y: storage_init(device, &format!("{what} y"), bytemuck::cast_slice(&y)),
                n: d.n,
            })
        };
        // Out of memory while allocating is an error that says so, not a later failure.
        let oom = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let train_bufs = upload(train, "training")?;
        let eval_bufs = eval
            .iter()
            .enumerate()
            .map(|(i, d)| upload(d, &format!("evaluation set {i}")))
            .collect::<Result<Vec<_>>>()?;
        let flat = layout.pack(params);
        let t = GpuTrainer {
            params: storage_init(device, "params", bytemuck::cast_slice(&flat)),
            grads: storage_zeroed(device, "grads", layout.total as u64 * f),
            perm: storage_zeroed(device, "perm", train.n as u64 * 4),
            acts: spec
                .sizes
                .iter()
                .map(|&s| storage_zeroed(device, "activations", (rows * s) as u64 * f))
                .collect(),
            dz: spec.sizes[1..]
                .iter()
                .map(|&s| storage_zeroed(device, "dz", (rows * s) as u64 * f))
                .collect(),
            ybatch: storage_zeroed(device, "y batch", (rows * spec.outputs()) as u64 * f),
            row_stats: storage_zeroed(device, "row stats", (rows * 2) as u64 * f),
            stats: storage_zeroed(device, "stats", slots as u64 * 2 * f),
            step: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("steps"),
                size: slots as u64 * kernels.step_stride,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            slots,
            chunk_rows,
            l2: 0.0,
            optimizer: Optimizer::default(),
            t: 0,
            state: Vec::new(),
            train: train_bufs,
            eval: eval_bufs,
            kernels,
            matmul,
            spec: spec.clone(),
            batch,
            layout,
            plans: HashMap::new(),
            ctx,
        };
        if let Some(e) = pollster::block_on(oom.pop()) {
            return Err(Error::OutOfMemory(format!(
                "out of GPU memory allocating the buffers for this network, batch and data ({e}): use a smaller batch or narrower layers, or the CPU path"
            )));
        }
        Ok(t)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    fn param_range(&self, (off, len): (usize, usize)) -> Range<'_> {
        Range {
            buffer: &self.params,
            offset: off as u64 * 4,
            size: len as u64 * 4,
        }
    }

    fn grad_range(&self, (off, len): (usize, usize)) -> Range<'_> {
        Range {
            buffer: &self.grads,
            offset: off as u64 * 4,
            size: len as u64 * 4,
        }
    }

    fn sized(buffer: &wgpu::Buffer, floats: usize) -> Range<'_> {
        Range {
            buffer,
            offset: 0,
            size: floats as u64 * 4,
        }
    }

    /// Fails when a kernel's threads would loop more often than the adapter runs a loop: llvmpipe
    /// silently ends every shader loop after 65535 iterations, which would give wrong sums.
    fn check_loops(&self, what: &str, iterations: usize) -> Result<()> {
        match self.ctx.max_loop_iterations() {
            Some(limit) if iterations as u64 > limit => Err(Error::Limit {
                what: format!("{what} for this batch (loop iterations per GPU thread)"),
                limit: "shader loop iterations",
                needed: iterations as u64,
                available: limit,
                advice: format!(
                    "{} silently ends longer loops, which would give wrong results: use a smaller batch or narrower layers, or the CPU path",
                    self.ctx.info.name
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Workgroups of an (m, n) matmul summing over k terms in the active variant, with the
    /// loop check.
    fn matmul_grid(&self, m: usize, n: usize, k: usize) -> Result<(u32, u32, u32)> {
        let variant = self.kernels.matmul_variant();
        self.check_loops(
            &format!("a {m}x{n} matmul over {k} terms"),
            variant.loop_iterations(k),
        )?;
        variant.groups(m, n)
    }

    /// The matmul variant the kernels run, and why.
    pub fn matmul_choice(&self) -> &MatmulChoice {
        &self.matmul
    }

    /// Builds the dispatch list of one step of `m` rows.
    fn build_plan(&self, m: usize, mode: Mode) -> Result<Plan> {
        let device = &self.ctx.device;
        let k = &self.kernels;
        let spec = &self.spec;
        let n_layers = spec.n_layers();
        let mut uniforms = Vec::new();
        let mut dispatches = Vec::new();
        let mut add = |kernel: Kernel, ranges: Vec<Range>, params_buf: wgpu::Buffer, groups| {
            let mut r = ranges;
            r.push(Range::whole(&params_buf));
            if kernel.uses_step() {
                r.push(Range::whole(&self.step));
            }
            dispatches.push(Dispatch {
                kernel,
                bind_group: k.bind(device, kernel, &r),
                groups,
            });
            uniforms.push(params_buf);
        };
        let data = match mode {
            Mode::Eval(i) => &self.eval[i],
            _ => &self.train,
        };
        let (dim, ydim) = (spec.inputs(), spec.outputs());
        // A batch wider than one storage binding allows runs as row chunks: each chunk's
        // gradients are added to the earlier ones' (and its loss to the step's stats), then
        // one update follows, so the step is the whole batch's.
        let rows = m;
        for r0 in (0..rows).step_by(self.chunk_rows) {
            let m = self.chunk_rows.min(rows - r0);
            let later = (r0 > 0) as u32;
            add(
                Kernel::GatherRows,
                vec![
                    Range::whole(&self.perm),
                    Range::whole(&data.x),
                    Range::whole(&data.y),
                    Range::whole(&data.affine),
                    Self::sized(&self.acts[0], m * dim),
                    Self::sized(&self.ybatch, m * ydim),
                ],
                uniform(
                    device,
                    "gather",
                    &GatherParams {
                        dim: dim as u32,
                        ydim: ydim as u32,
                        identity: matches!(mode, Mode::Eval(_)) as u32,
                        packed: data.packed,
                        scale: data.scale,
                        offset: r0 as u32,
                        rows: m as u32,
                        _pad: 0,
                    },
                ),
                grid_1d(m * dim.max(ydim), WG_1D),
            );
            for l in 0..n_layers {
                let (fi, fo) = spec.layer_shape(l);
                add(
                    Kernel::MatmulForward,
                    vec![
                        Self::sized(&self.acts[l], m * fi),
                        self.param_range(self.layout.w[l]),
                        self.param_range(self.layout.b[l]),
                        Self::sized(&self.acts[l + 1], m * fo),
                    ],
                    uniform(
                        device,
                        "forward",
                        &MatmulParams::new(m, fo, fi, spec.layer_activation(l).code()),
                    ),
                    self.matmul_grid(m, fo, fi)?,
                );
            }
            let last = n_layers - 1;
            let loss = LossParams {
                batch: rows as u32,
                accumulate: later,
                ..LossParams::new(
                    m,
                    ydim,
                    spec.loss.code(),
                    spec.layer_activation(last) == Activation::Sigmoid,
                )
            };
            let wide = loss.wide != 0;
            // Loop iterations per thread: a row's ~5 passes over its outputs for the rows a
            // thread owns, or per row a workgroup owns three strided passes and three trees.
            self.check_loops(
                "the loss",
                if wide {
                    m.div_ceil(65535) * (3 * ydim.div_ceil(WG_1D as usize) + 26)
                } else {
                    m.div_ceil(65535 * WG_1D as usize) * (5 * ydim + 2)
                },
            )?;
            add(
                Kernel::LossForwardBackward,
                vec![
                    Self::sized(&self.acts[n_layers], m * ydim),
                    Self::sized(&self.ybatch, m * ydim),
                    Self::sized(&self.dz[last], m * ydim),
                    Self::sized(&self.row_stats, m * 2),
                ],
                uniform(device, "loss", &loss),
                loss_groups(m, wide),
            );
            self.check_loops("the loss sum", m.div_ceil(WG_1D as usize) + 10)?;
            add(
                Kernel::LossStats,
                vec![
                    Self::sized(&self.row_stats, m * 2),
                    Range::whole(&self.stats),
                ],
                uniform(device, "loss stats", &loss),
                (1, 1, 1),
            );
            if matches!(mode, Mode::Eval(_)) {
                continue;
            }
            for l in (0..n_layers).rev() {
                let (fi, fo) = spec.layer_shape(l);
                if l > 0 {
                    add(
                        Kernel::MatmulBackwardInput,
                        vec![
                            Self::sized(&self.dz[l], m * fo),
                            self.param_range(self.layout.w[l]),
                            Self::sized(&self.acts[l], m * fi),
                            Self::sized(&self.dz[l - 1], m * fi),
                        ],
                        uniform(
                            device,
                            "backward input",
                            &MatmulParams::new(m, fi, fo, spec.layer_activation(l - 1).code()),
                        ),
                        self.matmul_grid(m, fi, fo)?,
                    );
                }
                add(
                    Kernel::MatmulBackwardWeight,
                    vec![
                        Self::sized(&self.acts[l], m * fi),
                        Self::sized(&self.dz[l], m * fo),
                        self.grad_range(self.layout.w[l]),
                        self.grad_range(self.layout.b[l]),
                    ],
                    uniform(
                        device,
                        "backward weight",
                        &MatmulParams {
                            accumulate: later,
                            ..MatmulParams::new(fi, fo, m, 0)
                        },
                    ),
                    self.matmul_grid(fi, fo, m)?,
                );
            }
        }
        if mode == Mode::Train {
            let (len, decay_end) = (self.layout.total as u32, self.layout.decay_end as u32);
            let mut ranges = vec![Range::whole(&self.grads), Range::whole(&self.params)];
            ranges.extend(self.state.iter().map(Range::whole));
            let o = &self.optimizer;
            let (kernel, params_buf) = match o.method {
                Method::Sgd => (
                    Kernel::SgdUpdate,
                    uniform(
                        device,
                        "sgd",
                        &SgdParams {
                            len,
                            decay_end,
                            l2: self.l2,
                            _pad: 0,
                        },
                    ),
                ),
                method => {
                    let optim = OptimParams {
                        len,
                        decay_end,
                        l2: self.l2,
                        momentum: o.momentum,
                        nesterov: (method == Method::Nesterov) as u32,
                        weight_decay: o.weight_decay,
                        beta1: o.beta1,
                        beta2: o.beta2,
                        eps: o.eps,
                        _pad: [0; 3],
                    };
                    let kernel = if method.is_adam() {
                        Kernel::AdamUpdate
                    } else {
                        Kernel::MomentumUpdate
                    };
                    (kernel, uniform(device, method.name(), &optim))
                }
            };
            add(
                kernel,
                ranges,
                params_buf,
                grid_1d(self.layout.total, WG_1D),
            );
        }
        Ok(Plan {
            dispatches,
            _uniforms: uniforms,
        })
    }

    fn ensure_plan(&mut self, m: usize, mode: Mode) -> Result<()> {
        if !self.plans.contains_key(&(m, mode)) {
            let plan = self.build_plan(m, mode)?;
            self.plans.insert((m, mode), plan);
        }
        Ok(())
    }

    /// Writes the step uniforms for batches over `n` rows (training step s with learning rate
    /// `lrs[s]` and the optimiser's next update count), runs each step's plan, and reads the
    /// (loss sum, correct) pairs back: one host round trip for the whole pass.
    fn run_steps(
        &mut self,
        n: usize,
        mode: Mode,
        lrs: &[f32],
        stop: &StopToken,
    ) -> Result<Vec<(f64, usize, usize)>> {
        let steps = n.div_ceil(self.batch);
        if steps == 0 {
            return Ok(vec![]);
        }
        if steps > self.slots {
            return Err(Error::Gpu(format!(
                "{steps} steps but {} step slots",
                self.slots
            )));
        }
        let train = mode == Mode::Train;
        if train && lrs.len() != steps {
            return Err(Error::usage(format!(
                "{} learning rates for {steps} steps",
                lrs.len()
            )));
        }
        let stride = self.kernels.step_stride as usize;
        let size = std::mem::size_of::<StepInfo>();
        let mut bytes = vec![0u8; steps * stride];
        for s in 0..steps {
            let mut info = StepInfo {
                row_offset: (s * self.batch) as u32,
                slot: s as u32,
                ..StepInfo::default()
            };
            if train {
                let t = self.t + s as u64 + 1;
                info.lr = lrs[s];
                info.t = t.min(u32::MAX as u64) as u32;
                (info.bias1, info.bias2) = self.optimizer.bias_corrections(t);
            }
            bytes[s * stride..s * stride + size].copy_from_slice(bytemuck::bytes_of(&info));
        }
        self.ctx.queue.write_buffer(&self.step, 0, &bytes);
        let full = self.batch.min(n);
        let tail = n - (steps - 1) * self.batch;
        self.ensure_plan(full, mode)?;
        self.ensure_plan(tail, mode)?;
        // Steps go in submissions of `chunk` steps, at most two in flight: the device always
        // has the next one queued, and the host knows within two submissions how far it got
        // (progress counts executed steps; a stop request ends the pass within two). `chunk`
        // starts at one and doubles while a submission takes under SUBMIT_SECONDS / 4, up to
        // STEPS_PER_SUBMIT, and halves when one takes over SUBMIT_SECONDS.
        let mut done = 0;
        let mut chunk = 1;
        let mut in_flight: Option<(wgpu::SubmissionIndex, usize)> = None;
        let mut since = std::time::Instant::now();
        while done < steps {
            if train && done > 0 && stop.is_stopped() {
                break;
            }
            let end = (done + chunk).min(steps);
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                for s in done..end {
                    let m = if s + 1 == steps { tail } else { full };
                    let plan = &self.plans[&(m, mode)];
                    self.kernels.record(&mut pass, &plan.dispatches, s as u32);
                }
            }
            let index = self.ctx.queue.submit([enc.finish()]);
            if let Some((previous, n)) = in_flight.replace((index, end - done)) {
                self.ctx.wait_for(previous)?;
                if train {
                    stop.note_steps(n);
                }
                let took = since.elapsed().as_secs_f64();
                since = std::time::Instant::now();
                if took < SUBMIT_SECONDS / 4.0 {
                    chunk = (chunk * 2).min(STEPS_PER_SUBMIT);
                } else if took > SUBMIT_SECONDS {
                    chunk = (chunk / 2).max(1);
                }
            }
            done = end;
        }
        if train {
            self.t += done as u64;
        }
        if done == 0 {
            return Ok(vec![]);
        }
        let raw = read_back(&self.ctx, &self.stats, 0, done as u64 * 8)?;
        if let (true, Some((_, n))) = (train, in_flight) {
            stop.note_steps(n);
        }
        Ok((0..done)
            .map(|s| {
                let m = if s + 1 == steps { tail } else { full };
                (raw[2 * s] as f64, raw[2 * s + 1] as usize, m)
            })
            .collect())
    }

    /// The mean loss and the gradients of the data loss (no L2 term) on the training rows
    /// `rows` (at most one batch), without an update.
    pub fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        if rows.is_empty() || rows.len() > self.batch {
            return Err(Error::usage(format!(
                "gradients of {} rows with batch {}",
                rows.len(),
                self.batch
            )));
        }
        self.ctx
            .queue
            .write_buffer(&self.perm, 0, bytemuck::cast_slice(rows));
        let stats = self.run_steps(rows.len(), Mode::Gradients, &[], &StopToken::new())?;
        let flat = read_back(&self.ctx, &self.grads, 0, self.layout.total as u64 * 4)?;
        Ok((stats[0].0 / rows.len() as f64, self.layout.unpack(&flat)))
    }

    /// Drops the train plans: the update's uniform carries λ and the optimiser, and binds the
    /// state buffers.
    fn forget_train_plans(&mut self) {
        self.plans.retain(|(_, mode), _| *mode != Mode::Train);
    }
}

impl Backend for GpuTrainer {
    fn describe(&self) -> String {
        format!("gpu: {}, {}", self.ctx.describe(), self.matmul.describe())
    }

    fn train_steps(
        &mut self,
        perm: &[u32],
        hp: &Hyper,
        lrs: &[f32],
        stop: &StopToken,
    ) -> Result<Vec<f32>> {
        if hp.batch != self.batch {
            return Err(Error::usage(format!(
                "trainer built for batch {}, asked for {}",
                self.batch, hp.batch
            )));
        }
        if perm.len() > self.train.n {
            return Err(Error::Shape(format!(
                "permutation of {} rows for {} training rows",
                perm.len(),
                self.train.n
            )));
        }
        if hp.l2 != self.l2 {
            self.forget_train_plans();
            self.l2 = hp.l2;
        }
        if perm.is_empty() {
            return Ok(vec![]);
        }
        self.ctx
            .queue
            .write_buffer(&self.perm, 0, bytemuck::cast_slice(perm));
        let stats = self.run_steps(perm.len(), Mode::Train, lrs, stop)?;
        Ok(stats
            .iter()
            .map(|&(sum, _, m)| (sum / m as f64) as f32)
            .collect())
    }

    fn evaluate(&mut self, set: usize) -> Result<EvalStats> {
        let n = self
            .eval
            .get(set)
            .ok_or_else(|| Error::usage(format!("no evaluation set {set}")))?
            .n;
        let stats = self.run_steps(n, Mode::Eval(set), &[], &StopToken::new())?;
        let mut e = EvalStats::default();
        for (sum, correct, m) in stats {
            e.loss_sum += sum;
            e.correct += correct;
            e.n += m;
        }
        Ok(e)
    }

    fn params(&mut self) -> Result<Params> {
        let flat = read_back(&self.ctx, &self.params, 0, self.layout.total as u64 * 4)?;
        Ok(self.layout.unpack(&flat))
    }

    fn set_optimizer(&mut self, state: &OptimState) -> Result<()> {
        state.optimizer.validate()?;
        state.check(&self.spec)?;
        let names = state.optimizer.method.slots();
        let mut buffers = Vec::with_capacity(names.len());
        for (slot, name) in state.slots.iter().zip(names) {
            let what = format!("the optimizer state '{name}'");
            self.ctx.check_binding(
                &what,
                self.layout.total as u64 * 4,
                "use narrower layers, or the CPU path",
            )?;
            let flat = self.layout.pack(slot);
            buffers.push(storage_init(
                &self.ctx.device,
                &what,
                bytemuck::cast_slice(&flat),
            ));
        }
        self.state = buffers;
        self.optimizer = state.optimizer;
        self.t = state.step;
        self.forget_train_plans();
        Ok(())
    }

    fn optimizer_state(&mut self) -> Result<OptimState> {
        let slots = self
            .state
            .iter()
            .map(|b| {
                read_back(&self.ctx, b, 0, self.layout.total as u64 * 4)
                    .map(|flat| self.layout.unpack(&flat))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(OptimState {
            optimizer: self.optimizer,
            step: self.t,
            slots,
        })
    }

    fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        GpuTrainer::gradients(self, rows)
    }
}
