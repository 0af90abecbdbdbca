//! The dispatch list of one step, built once per (rows, mode) and replayed every step: per row
//! chunk the gather, each layer's forward pass, the loss and each layer's backward pass; then the
//! optimiser's update.

use super::buffer::{storage_init, uniform};
use super::context::GpuContext;
use super::kernels::{Dispatch, KSplit, Kernel, Kernels, Range, WG_1D, grid_1d, loss_groups};
use super::layout::ParamLayout;
use super::uniforms::{
    GatherParams, LossParams, MatmulParams, OptimParams, ReduceParams, SgdParams,
};
use crate::data::{Dataset, Inputs};
use crate::error::{Error, Result};
use crate::model::{Activation, Spec};
use crate::optim::{Method, Optimizer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Mode {
    /// Gather from the training set, forward, loss, backward, update.
    Train,
    /// As Train without the update: leaves the gradients in the gradient buffer.
    Gradients,
    /// Gather from evaluation set i (in order), forward, loss.
    Eval(usize),
}

/// The dispatches of one step for a batch of `m` rows, with the uniforms they bind.
pub(super) struct StepPlan {
    pub(super) dispatches: Vec<Dispatch>,
    _uniforms: Vec<wgpu::Buffer>,
}

/// GPU buffers of one dataset: inputs and dense targets.
pub(super) struct DataBufs {
    /// f32 bits, or bytes packed four per u32 (`packed` 1 or 2).
    pub(super) x: wgpu::Buffer,
    /// gather.wgsl's `packed`: 0 f32, 1 bytes times `scale`, 2 bytes times a per-feature scale
    /// plus offset, both in `affine` (dim scales, then dim offsets).
    pub(super) packed: u32,
    pub(super) scale: f32,
    pub(super) affine: wgpu::Buffer,
    pub(super) y: wgpu::Buffer,
    pub(super) n: usize,
}

impl DataBufs {
    /// Uploads one data set whole: its inputs (f32, or bytes packed four per u32) and dense
    /// targets. Fails, naming the limit, when either exceeds one binding.
    pub(super) fn upload(ctx: &GpuContext, d: &Dataset, what: &str) -> Result<DataBufs> {
        let (device, f) = (&ctx.device, 4u64);
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
        let remedy =
            "the data set must fit one binding on this adapter: use fewer rows, or the CPU path";
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
    }
}

/// The buffers every step binds besides the data sets, allocated once by the trainer.
pub(super) struct StepBuffers {
    pub(super) params: wgpu::Buffer,
    pub(super) grads: wgpu::Buffer,
    pub(super) perm: wgpu::Buffer,
    /// acts[0] the gathered input batch, acts[l+1] layer l's output: (batch, sizes[l]).
    pub(super) acts: Vec<wgpu::Buffer>,
    /// dz[l]: gradient on layer l's pre-activation, (batch, sizes[l+1]).
    pub(super) dz: Vec<wgpu::Buffer>,
    pub(super) ybatch: wgpu::Buffer,
    /// Two floats (loss, correct) per row of a chunk, summed into `stats` by loss_stats.
    pub(super) row_stats: wgpu::Buffer,
    /// Two floats (loss sum, correct) per step slot.
    pub(super) stats: wgpu::Buffer,
    pub(super) step: wgpu::Buffer,
    /// The optimiser's state buffers (one per `Method::slots` entry, laid out as `params`).
    pub(super) state: Vec<wgpu::Buffer>,
    /// Split K's partial sums: S·m·n floats of a split matmul's slices, and S·n of its bias
    /// partials (one float each when nothing is split). Their sizes bound the slices.
    pub(super) partials: wgpu::Buffer,
    pub(super) bias_partials: wgpu::Buffer,
}

/// What a plan is built from: the trainer's kernels, shapes and buffers, and the settings the
/// update's uniform bakes in.
pub(super) struct Planner<'a> {
    pub(super) ctx: &'a GpuContext,
    pub(super) kernels: &'a Kernels,
    pub(super) spec: &'a Spec,
    pub(super) layout: &'a ParamLayout,
    pub(super) bufs: &'a StepBuffers,
    pub(super) train: &'a DataBufs,
    pub(super) eval: &'a [DataBufs],
    /// Rows per chunk of a step: the batch, or fewer when its buffers would exceed a binding.
    pub(super) chunk_rows: usize,
    pub(super) l2: f32,
    pub(super) optimizer: &'a Optimizer,
    /// Split K: matmuls whose grid has fewer workgroups are split; None: never.
    pub(super) split_below: Option<u32>,
}

/// One row chunk of a step: rows `[offset, offset + m)` of a batch of `batch` rows.
#[derive(Clone, Copy)]
struct Chunk {
    offset: usize,
    m: usize,
    batch: usize,
}

impl Chunk {
    /// 1 for every chunk after the first: its gradients and loss add to the earlier ones'.
    fn later(self) -> u32 {
        (self.offset > 0) as u32
    }
}

/// The first `floats` floats of `buffer`.
fn sized(buffer: &wgpu::Buffer, floats: usize) -> Range<'_> {
    Range {
        buffer,
        offset: 0,
        size: floats as u64 * 4,
    }
}

impl Planner<'_> {
    /// The dispatch list of one step of `m` rows. A batch wider than one storage binding allows
    /// runs as row chunks: each chunk's gradients are added to the earlier ones' (and its loss to
    /// the step's stats), then one update follows, so the step is the whole batch's.
    pub(super) fn build(&self, m: usize, mode: Mode) -> Result<StepPlan> {
        let mut plan = StepPlan {
            dispatches: Vec::new(),
            _uniforms: Vec::new(),
        };
        for offset in (0..m).step_by(self.chunk_rows) {
            let chunk = Chunk {
                offset,
                m: self.chunk_rows.min(m - offset),
                batch: m,
            };
            self.gather(&mut plan, chunk, mode);
            self.forward(&mut plan, chunk)?;
            self.loss(&mut plan, chunk)?;
            if !matches!(mode, Mode::Eval(_)) {
                self.backward(&mut plan, chunk)?;
            }
        }
        if mode == Mode::Train {
            self.update(&mut plan);
        }
        Ok(plan)
    }

    /// Appends a dispatch of `kernel` binding `ranges`, then its uniform `params_buf`, then the
    /// step uniform if the kernel reads it.
    fn add(
        &self,
        plan: &mut StepPlan,
        kernel: Kernel,
        ranges: Vec<Range>,
        params_buf: wgpu::Buffer,
        groups: (u32, u32, u32),
    ) {
        let mut r = ranges;
        r.push(Range::whole(&params_buf));
        if kernel.uses_step() {
            r.push(Range::whole(&self.bufs.step));
        }
        plan.dispatches.push(Dispatch {
            kernel,
            bind_group: self.kernels.bind(&self.ctx.device, kernel, &r),
            groups,
        });
        plan._uniforms.push(params_buf);
    }

    /// The chunk's input rows and dense targets, from the training set (through the
    /// permutation) or, in order, from an evaluation set.
    fn gather(&self, plan: &mut StepPlan, c: Chunk, mode: Mode) {
        let data = match mode {
            Mode::Eval(i) => &self.eval[i],
            _ => self.train,
        };
        let (dim, ydim) = (self.spec.inputs(), self.spec.outputs());
        let b = self.bufs;
        self.add(
            plan,
            Kernel::GatherRows,
            vec![
                Range::whole(&b.perm),
                Range::whole(&data.x),
                Range::whole(&data.y),
                Range::whole(&data.affine),
                sized(&b.acts[0], c.m * dim),
                sized(&b.ybatch, c.m * ydim),
            ],
            uniform(
                &self.ctx.device,
                "gather",
                &GatherParams {
                    dim: dim as u32,
                    ydim: ydim as u32,
                    identity: matches!(mode, Mode::Eval(_)) as u32,
                    packed: data.packed,
                    scale: data.scale,
                    offset: c.offset as u32,
                    rows: c.m as u32,
                    _pad: 0,
                },
            ),
            grid_1d(c.m * dim.max(ydim), WG_1D),
        );
    }

    /// Each layer's matmul_forward, bias and activation fused: acts[l+1] = act(acts[l]·W + b).
    fn forward(&self, plan: &mut StepPlan, c: Chunk) -> Result<()> {
        let (spec, b, m) = (self.spec, self.bufs, c.m);
        for l in 0..spec.n_layers() {
            let (fi, fo) = spec.layer_shape(l);
            self.matmul(
                plan,
                Kernel::MatmulForward,
                [
                    sized(&b.acts[l], m * fi),
                    self.param_range(self.layout.w[l]),
                ],
                Some(self.param_range(self.layout.b[l])),
                sized(&b.acts[l + 1], m * fo),
                None,
                MatmulParams::new(m, fo, fi, spec.layer_activation(l).code()),
            )?;
        }
        Ok(())
    }

    /// The loss and its gradient on the last layer's output (loss_forward_backward), then the
    /// chunk's loss and correct count summed into the step's stats slot (loss_stats).
    fn loss(&self, plan: &mut StepPlan, c: Chunk) -> Result<()> {
        let (spec, b, m) = (self.spec, self.bufs, c.m);
        let n_layers = spec.n_layers();
        let ydim = spec.outputs();
        let last = n_layers - 1;
        let loss = LossParams {
            batch: c.batch as u32,
            accumulate: c.later(),
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
        let device = &self.ctx.device;
        self.add(
            plan,
            Kernel::LossForwardBackward,
            vec![
                sized(&b.acts[n_layers], m * ydim),
                sized(&b.ybatch, m * ydim),
                sized(&b.dz[last], m * ydim),
                sized(&b.row_stats, m * 2),
            ],
            uniform(device, "loss", &loss),
            loss_groups(m, wide),
        );
        self.check_loops("the loss sum", m.div_ceil(WG_1D as usize) + 10)?;
        self.add(
            plan,
            Kernel::LossStats,
            vec![sized(&b.row_stats, m * 2), Range::whole(&b.stats)],
            uniform(device, "loss stats", &loss),
            (1, 1, 1),
        );
        Ok(())
    }

    /// From the last layer down: the input gradient dz[l-1] = (dz[l]·Wᵀ) ∘ act'(acts[l])
    /// (matmul_backward_input, above the first layer), then dW = acts[l]ᵀ·dz[l] and db
    /// (matmul_backward_weight), overwriting in the first chunk and adding in later ones.
    fn backward(&self, plan: &mut StepPlan, c: Chunk) -> Result<()> {
        let (spec, b, m) = (self.spec, self.bufs, c.m);
        for l in (0..spec.n_layers()).rev() {
            let (fi, fo) = spec.layer_shape(l);
            if l > 0 {
                self.matmul(
                    plan,
                    Kernel::MatmulBackwardInput,
                    [sized(&b.dz[l], m * fo), self.param_range(self.layout.w[l])],
                    Some(sized(&b.acts[l], m * fi)),
                    sized(&b.dz[l - 1], m * fi),
                    None,
                    MatmulParams::new(m, fi, fo, spec.layer_activation(l - 1).code()),
                )?;
            }
            self.matmul(
                plan,
                Kernel::MatmulBackwardWeight,
                [sized(&b.acts[l], m * fi), sized(&b.dz[l], m * fo)],
                None,
                self.grad_range(self.layout.w[l]),
                Some(self.grad_range(self.layout.b[l])),
                MatmulParams {
                    accumulate: c.later(),
                    ..MatmulParams::new(fi, fo, m, 0)
                },
            )?;
        }
        Ok(())
    }

    /// The optimiser's update of every parameter from the gradient buffer, λ and the
    /// optimiser's settings baked into its uniform.
    fn update(&self, plan: &mut StepPlan) {
        let device = &self.ctx.device;
        let b = self.bufs;
        let (len, decay_end) = (self.layout.total as u32, self.layout.decay_end as u32);
        let mut ranges = vec![Range::whole(&b.grads), Range::whole(&b.params)];
        ranges.extend(b.state.iter().map(Range::whole));
        let o = self.optimizer;
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
        self.add(
            plan,
            kernel,
            ranges,
            params_buf,
            grid_1d(self.layout.total, WG_1D),
        );
    }

    fn param_range(&self, (off, len): (usize, usize)) -> Range<'_> {
        Range {
            buffer: &self.bufs.params,
            offset: off as u64 * 4,
            size: len as u64 * 4,
        }
    }

    fn grad_range(&self, (off, len): (usize, usize)) -> Range<'_> {
        Range {
            buffer: &self.bufs.grads,
            offset: off as u64 * 4,
            size: len as u64 * 4,
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

    /// Appends the matmul `kernel` of `p`'s (m, n, k) in the active variant: operands a and b,
    /// aux (the bias or act's input; None for the weight gradient), output c and the bias
    /// gradient db (the weight gradient only). One dispatch, or with split K (small grids,
    /// `split_below`) the split dispatch into the partials buffers and its reduction into c
    /// and db.
    #[allow(clippy::too_many_arguments)]
    fn matmul(
        &self,
        plan: &mut StepPlan,
        kernel: Kernel,
        [a, b]: [Range; 2],
        aux: Option<Range>,
        c: Range,
        db: Option<Range>,
        p: MatmulParams,
    ) -> Result<()> {
        let (m, n, k) = (p.m as usize, p.n as usize, p.k as usize);
        let variant = self.kernels.matmul_variant();
        let split = self.split(m, n, k, db.is_some());
        self.check_loops(
            &format!("a {m}x{n} matmul over {k} terms"),
            variant.loop_iterations(split.terms(k)),
        )?;
        let (gx, gy, _) = variant.groups(m, n)?;
        let device = &self.ctx.device;
        let name = kernel.entry();
        if split.splits == 1 {
            let ranges = [a, b].into_iter().chain(aux).chain([c]).chain(db).collect();
            self.add(plan, kernel, ranges, uniform(device, name, &p), (gx, gy, 1));
            return Ok(());
        }
        let s = split.splits as usize;
        let parts = sized(&self.bufs.partials, s * m * n);
        let bias_parts = db.map(|_| sized(&self.bufs.bias_partials, s * n));
        let p = p.split(split);
        let ranges = [a, b]
            .into_iter()
            .chain(aux)
            .chain([parts])
            .chain(bias_parts)
            .collect();
        self.add(
            plan,
            kernel,
            ranges,
            uniform(device, name, &p),
            (gx, gy, split.splits),
        );
        let reduce = kernel.reduction().expect("a matmul kernel");
        let groups = grid_1d(m * n, WG_1D);
        let per_thread = (m * n).div_ceil(groups.0 as usize * WG_1D as usize);
        self.check_loops(
            &format!("the reduction of a {m}x{n} matmul split {s} ways"),
            (per_thread + n.div_ceil(groups.0 as usize * WG_1D as usize)) * s,
        )?;
        let ranges = [parts]
            .into_iter()
            .chain(aux.or(bias_parts))
            .chain([c])
            .chain(db)
            .collect();
        self.add(
            plan,
            reduce,
            ranges,
            uniform(device, reduce.entry(), &ReduceParams::of(&p)),
            groups,
        );
        Ok(())
    }

    /// How an (m, n) matmul over k terms is split: not at all without `split_below`, else as
    /// `KSplit::plan` says within what the partials buffers hold (`bias`: its bias partials too).
    fn split(&self, m: usize, n: usize, k: usize, bias: bool) -> KSplit {
        let Some(target) = self.split_below else {
            return KSplit::NONE;
        };
        let floats = |b: &wgpu::Buffer| (b.size() / 4) as usize;
        let mut most = floats(&self.bufs.partials) / (m * n).max(1);
        if bias {
            most = most.min(floats(&self.bufs.bias_partials) / n.max(1));
        }
        KSplit::plan(self.kernels.matmul_variant(), m, n, k, target, most)
    }
}
