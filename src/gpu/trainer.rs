//! The GPU trainer: parameters, data, activations and gradients live in GPU buffers for the whole
//! run; a step is a fixed list of dispatches (`plan`), an epoch is recorded at once and its losses
//! are read back once at its end.
//!
//! Past 600 lines as one object: the GPU trainer's buffers, its step encoding and read-backs.

use std::collections::{HashMap, HashSet};

use super::buffer::{read_back_async, storage_init, storage_zeroed};
use super::context::{GpuContext, Submitted};
use super::kernels::{KSplit, Kernel, Kernels};
use super::layout::ParamLayout;
use super::plan::{DataBufs, Mode, Planner, StepBuffers, StepPlan};
use super::tuning::{self, MatmulChoice, MatmulConfig};
use super::uniforms::StepInfo;
use crate::blocking::{Pending, block};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::{Params, Spec};
use crate::optim::{OptimState, Optimizer};
use crate::train::{Backend, EvalStats, Hyper, StopToken};

/// The most steps recorded in one submission (see `run_steps`).
const STEPS_PER_SUBMIT: usize = 32;
/// The longest a submission of steps should run (see `run_steps`).
const SUBMIT_SECONDS: f64 = 0.5;
/// Most floats split K's partials buffers hold (64 MiB): a bigger split is cut to fit. The
/// default target needs at most 2·256 of the 128 variant's tiles, 8.4 M floats.
const MAX_PARTIALS: usize = 1 << 24;

/// What a trainer has asked of the device since it was made. Tests compare runs by these (the
/// same pass with and without a tail batch must do the same work), never by time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GpuCounters {
    /// Submissions of steps (a read-back's own submission is counted in `read_backs`).
    pub submissions: u64,
    /// Copies to the host, each a submission and a wait.
    pub read_backs: u64,
    /// Step plans built: a bind group and a uniform buffer per dispatch.
    pub plans_built: u64,
    /// Steps run, and the dispatches that ran them.
    pub steps: u64,
    pub dispatches: u64,
    /// Dispatches bound with no workgroups to prime a pass's kernels (see `prime_rows`).
    pub primes: u64,
}

pub struct GpuTrainer {
    ctx: GpuContext,
    kernels: Kernels,
    /// The matmul variant the kernels run, and why.
    matmul: MatmulChoice,
    spec: Spec,
    batch: usize,
    layout: ParamLayout,
    train: DataBufs,
    /// The evaluation sets (validation, test), in the order given.
    eval: Vec<DataBufs>,
    /// Parameters, gradients, the batch's activations and gradients, stats, step uniforms and
    /// the optimiser's state.
    bufs: StepBuffers,
    slots: usize,
    /// λ baked into the update's uniform.
    l2: f32,
    /// The optimiser (baked into the update's uniform) and its update count.
    optimizer: Optimizer,
    t: u64,
    plans: HashMap<(usize, Mode), StepPlan>,
    /// The (full batch, mode) passes whose kernels have been primed (see `prime_rows`).
    primed: HashSet<(usize, Mode)>,
    /// Rows per chunk of a step: the batch, or fewer when its buffers would exceed a binding.
    chunk_rows: usize,
    /// Rows of the last `gradients` call, whose forward pass the activation buffers hold
    /// (until a later pass overwrites them: then None).
    last_rows: Option<usize>,
    counters: GpuCounters,
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
    /// chosen and cached as `matmul` says (blocking: `with_matmul_async`).
    pub fn with_matmul<'a>(
        ctx: GpuContext,
        spec: &Spec,
        params: &Params,
        train: &Dataset,
        eval: impl IntoIterator<Item = &'a Dataset>,
        batch: usize,
        matmul: impl Into<MatmulConfig>,
    ) -> Result<GpuTrainer> {
        let eval: Vec<&Dataset> = eval.into_iter().collect();
        block(
            "GpuTrainer::with_matmul_async",
            GpuTrainer::with_matmul_async(ctx, spec, params, train, &eval, batch, matmul.into()),
        )
    }

    /// `with_matmul`, awaited.
    pub async fn with_matmul_async(
        ctx: GpuContext,
        spec: &Spec,
        params: &Params,
        train: &Dataset,
        eval: &[&Dataset],
        batch: usize,
        matmul: MatmulConfig,
    ) -> Result<GpuTrainer> {
        params.check_shapes(spec)?;
        if batch == 0 {
            return Err(Error::invalid("batch", "must be at least 1"));
        }
        let layout = ParamLayout::new(spec);
        let f = 4u64;
        ctx.check_binding(
            "the parameters",
            layout.total as u64 * f,
            ParamLayout::REMEDY,
        )?;
        // Batch buffers hold at most the rows a step can have.
        let largest = eval.iter().map(|d| d.n).fold(train.n, usize::max);
        let chunk_rows = chunk_rows(&ctx, spec, batch.min(largest).max(1))?;
        let rows = chunk_rows;
        // After the checks above: tuning allocates operands of the step's matmuls.
        let shapes = tuning::step_shapes(&spec.sizes, rows);
        let (kernels, mut choice) =
            tuning::choose_inner_async(&ctx, &shapes, matmul.setting, matmul.cache_dir.as_deref())
                .await?;
        choice.split_below = matmul.split_k.target(&ctx.info);
        let matmul = choice;
        let (parts, bias_parts) = match matmul.split_below {
            Some(target) => split_partials(&kernels, &shapes, target),
            None => (1, 1),
        };
        let slots = step_slots(train, eval, batch);
        ctx.check_binding(
            "the per-step uniforms",
            slots as u64 * kernels.step_stride,
            "use a larger batch (fewer steps per epoch) or fewer rows",
        )?;
        // Out of memory while allocating is an error that says so, not a later failure.
        let oom = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let train_bufs = DataBufs::upload(&ctx, train, "training")?;
        let eval_bufs = eval
            .iter()
            .enumerate()
            .map(|(i, d)| DataBufs::upload(&ctx, d, &format!("evaluation set {i}")))
            .collect::<Result<Vec<_>>>()?;
        let sizes = BufferSizes {
            rows,
            train_rows: train.n,
            slots,
            step_stride: kernels.step_stride,
            parts,
            bias_parts,
        };
        let bufs = step_buffers(&ctx.device, spec, &layout, params, &sizes);
        let t = GpuTrainer {
            bufs,
            slots,
            chunk_rows,
            last_rows: None,
            l2: 0.0,
            optimizer: Optimizer::default(),
            t: 0,
            train: train_bufs,
            eval: eval_bufs,
            kernels,
            matmul,
            spec: spec.clone(),
            batch,
            layout,
            plans: HashMap::new(),
            primed: HashSet::new(),
            counters: GpuCounters::default(),
            ctx,
        };
        if let Some(e) = oom.pop().await {
            return Err(Error::OutOfMemory(format!(
                "out of GPU memory allocating the buffers for this network, batch and data ({e}): use a smaller batch or narrower layers, or the CPU path"
            )));
        }
        Ok(t)
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The matmul variant the kernels run, and why.
    pub fn matmul_choice(&self) -> &MatmulChoice {
        &self.matmul
    }

    /// What this trainer has asked of the device so far.
    pub fn counters(&self) -> GpuCounters {
        self.counters
    }

    /// Copies `floats` floats of `buffer` to the host.
    async fn read_floats(&mut self, buffer: &wgpu::Buffer, floats: usize) -> Result<Vec<f32>> {
        self.counters.read_backs += 1;
        read_back_async(&self.ctx, buffer, 0, floats as u64 * 4).await
    }

    fn ensure_plan(&mut self, m: usize, mode: Mode) -> Result<()> {
        if !self.plans.contains_key(&(m, mode)) {
            let plan = Planner {
                ctx: &self.ctx,
                kernels: &self.kernels,
                spec: &self.spec,
                layout: &self.layout,
                bufs: &self.bufs,
                train: &self.train,
                eval: &self.eval,
                chunk_rows: self.chunk_rows,
                l2: self.l2,
                optimizer: &self.optimizer,
                split_below: self.matmul.split_below,
            }
            .build(m, mode)?;
            self.plans.insert((m, mode), plan);
            self.counters.plans_built += 1;
        }
        Ok(())
    }

    /// The rows of the plan that primes a pass of `full`-row steps (and a `tail`-row last step)
    /// before its first step, the first time such a pass runs: the tail's, or with no tail one of
    /// a row fewer (built here); None when already primed or `full` is 1.
    ///
    /// Why: Mesa's lavapipe (22.3) specialises a compute pipeline on the uniform values it is
    /// bound with; while that shrinks the shader enough it recompiles it (NIR and LLVM) at every
    /// dispatch, and the first bind whose values do not stops that for good. A pass with a tail
    /// binds its kernels with the tail's sizes and soon runs each compiled once; without a tail
    /// (1,408 digits rows, batch 32) matmul_backward_input was recompiled at every step, 3x
    /// slower per sample. Bound once with another shape and no workgroups (Kernels::prime), both
    /// compile each kernel once, from the first step; nothing runs, so no number changes.
    fn prime_rows(&mut self, full: usize, tail: usize, mode: Mode) -> Result<Option<usize>> {
        if full < 2 || self.primed.contains(&(full, mode)) {
            return Ok(None);
        }
        let rows = if tail < full { tail } else { full - 1 };
        self.ensure_plan(rows, mode)?;
        self.primed.insert((full, mode));
        Ok(Some(rows))
    }

    /// Writes the step uniforms for batches over `n` rows (training step s with learning rate
    /// `lrs[s]` and the optimiser's next update count), runs each step's plan, and reads the
    /// (loss sum, correct) pairs back: one host round trip for the whole pass.
    async fn run_steps(
        &mut self,
        n: usize,
        mode: Mode,
        lrs: &[f32],
        stop: &StopToken,
    ) -> Result<Vec<(f64, usize, usize)>> {
        self.last_rows = None;
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
        self.write_step_uniforms(steps, train, lrs);
        let full = self.batch.min(n);
        let tail = n - (steps - 1) * self.batch;
        self.ensure_plan(full, mode)?;
        self.ensure_plan(tail, mode)?;
        let prime = self.prime_rows(full, tail, mode)?;
        let shape = PassShape {
            steps,
            full,
            tail,
            mode,
        };
        let (done, in_flight) = self.submit_steps(&shape, prime, stop).await?;
        if train {
            self.t += done as u64;
        }
        if done == 0 {
            return Ok(vec![]);
        }
        let stats = self.bufs.stats.clone();
        let raw = self.read_floats(&stats, done * 2).await?;
        if let (true, Some((_, n))) = (train, in_flight) {
            stop.note_steps(n);
        }
        Ok((0..done)
            .map(|s| (raw[2 * s] as f64, raw[2 * s + 1] as usize, shape.rows(s)))
            .collect())
    }

    /// Writes the uniforms of a pass's `steps` steps: each step's row offset and slot, and when
    /// training its learning rate `lrs[s]` and the optimiser's next update count.
    fn write_step_uniforms(&mut self, steps: usize, train: bool, lrs: &[f32]) {
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
        self.ctx.queue.write_buffer(&self.bufs.step, 0, &bytes);
    }

    /// Submits the pass's steps (primed first with the `prime` rows' plan, if any) and returns
    /// how many were submitted and the last submission with its step count, not yet waited
    /// for. A stop request ends a training pass early.
    ///
    /// Steps go in submissions of `chunk` steps, at most two in flight: the device always
    /// has the next one queued, and the host knows within two submissions how far it got
    /// (progress counts executed steps; a stop request ends the pass within two). `chunk`
    /// starts at one and doubles while a submission takes under SUBMIT_SECONDS / 4, up to
    /// STEPS_PER_SUBMIT, and halves when one takes over SUBMIT_SECONDS.
    async fn submit_steps(
        &mut self,
        shape: &PassShape,
        mut prime: Option<usize>,
        stop: &StopToken,
    ) -> Result<(usize, Option<(Submitted, usize)>)> {
        let train = shape.mode == Mode::Train;
        let steps = shape.steps;
        let mut done = 0;
        let mut chunk = 1;
        let mut in_flight: Option<(Submitted, usize)> = None;
        let mut since = web_time::Instant::now();
        while done < steps {
            if train && done > 0 && stop.is_stopped() {
                break;
            }
            let end = (done + chunk).min(steps);
            let commands = self.encode_steps(shape, done..end, prime.take());
            let submitted = self.ctx.submit(commands);
            self.counters.submissions += 1;
            self.counters.steps += (end - done) as u64;
            if let Some((previous, n)) = in_flight.replace((submitted, end - done)) {
                self.ctx.finished(previous).await?;
                if train {
                    stop.note_steps(n);
                }
                let took = since.elapsed().as_secs_f64();
                since = web_time::Instant::now();
                chunk = next_chunk(chunk, took);
            }
            done = end;
        }
        Ok((done, in_flight))
    }

    /// One compute pass recording steps `range` of the pass, primed first with the `prime`
    /// rows' plan when given.
    fn encode_steps(
        &mut self,
        shape: &PassShape,
        range: std::ops::Range<usize>,
        prime: Option<usize>,
    ) -> wgpu::CommandBuffer {
        let mode = shape.mode;
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            if let Some(rows) = prime {
                let plan = &self.plans[&(rows, mode)];
                self.kernels.prime(&mut pass, &plan.dispatches, 0);
                self.counters.primes += plan.dispatches.len() as u64;
            }
            for s in range {
                let plan = &self.plans[&(shape.rows(s), mode)];
                self.kernels.record(&mut pass, &plan.dispatches, s as u32);
                self.counters.dispatches += plan.dispatches.len() as u64;
            }
        }
        enc.finish()
    }

    /// The mean loss and the gradients of the data loss (no L2 term) on the training rows
    /// `rows` (at most one batch), without an update (blocking: `gradients_async`).
    pub fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        block("GpuTrainer::gradients_async", self.gradients_async(rows))
    }

    /// `gradients`, awaited.
    pub async fn gradients_async(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        if rows.is_empty() || rows.len() > self.batch {
            return Err(Error::usage(format!(
                "gradients of {} rows with batch {}",
                rows.len(),
                self.batch
            )));
        }
        self.ctx
            .queue
            .write_buffer(&self.bufs.perm, 0, bytemuck::cast_slice(rows));
        let stats = self
            .run_steps(rows.len(), Mode::Gradients, &[], &StopToken::new())
            .await?;
        self.last_rows = Some(rows.len());
        let grads = self.bufs.grads.clone();
        let flat = self.read_floats(&grads, self.layout.total).await?;
        Ok((stats[0].0 / rows.len() as f64, self.layout.unpack(&flat)))
    }

    /// Each layer's output of the last `gradients` call's forward pass (`Backend::activations`).
    pub async fn activations_async(&mut self) -> Result<Vec<Vec<f32>>> {
        let rows = self
            .last_rows
            .ok_or_else(|| Error::usage("no gradients were taken, so there are no activations"))?;
        if rows > self.chunk_rows {
            return Err(Error::usage(format!(
                "the last gradients' {rows} rows ran in chunks of {}: only the last chunk's activations are kept",
                self.chunk_rows
            )));
        }
        let mut out = Vec::with_capacity(self.spec.n_layers());
        let sizes = self.spec.sizes.clone();
        for (l, &n) in sizes.iter().enumerate().skip(1) {
            let buffer = self.bufs.acts[l].clone();
            out.push(self.read_floats(&buffer, rows * n).await?);
        }
        Ok(out)
    }

    /// Drops the train plans (and their primes): the update's uniform carries λ and the
    /// optimiser, and binds the state buffers.
    fn forget_train_plans(&mut self) {
        self.plans.retain(|(_, mode), _| *mode != Mode::Train);
        self.primed.retain(|(_, mode)| *mode != Mode::Train);
    }
}

impl Backend for GpuTrainer {
    /// `gpu: adapter, matmul ...`, then `, shader runtime checks on` when every module was
    /// compiled with naga's checks (`GpuOptions::shader_checks`).
    fn describe(&self) -> String {
        let checks = if self.ctx.shader_checks {
            ", shader runtime checks on"
        } else {
            ""
        };
        format!(
            "gpu: {}, {}{checks}",
            self.ctx.describe(),
            self.matmul.describe()
        )
    }

    fn train_steps(
        &mut self,
        perm: &[u32],
        hp: &Hyper,
        lrs: &[f32],
        stop: &StopToken,
    ) -> Result<Vec<f32>> {
        block(
            "Backend::train_steps_async",
            self.steps(perm, hp, lrs, stop),
        )
    }

    fn train_steps_async<'a>(
        &'a mut self,
        perm: &'a [u32],
        hp: &'a Hyper,
        lrs: &'a [f32],
        stop: &'a StopToken,
    ) -> Pending<'a, Vec<f32>> {
        Box::pin(self.steps(perm, hp, lrs, stop))
    }

    fn evaluate(&mut self, set: usize) -> Result<EvalStats> {
        block("Backend::evaluate_async", self.eval_set(set))
    }

    fn evaluate_async(&mut self, set: usize) -> Pending<'_, EvalStats> {
        Box::pin(self.eval_set(set))
    }

    fn params(&mut self) -> Result<Params> {
        block("Backend::params_async", self.read_params())
    }

    fn params_async(&mut self) -> Pending<'_, Params> {
        Box::pin(self.read_params())
    }

    fn optimizer_state(&mut self) -> Result<OptimState> {
        block(
            "Backend::optimizer_state_async",
            self.read_optimizer_state(),
        )
    }

    fn optimizer_state_async(&mut self) -> Pending<'_, OptimState> {
        Box::pin(self.read_optimizer_state())
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
        self.bufs.state = buffers;
        self.optimizer = state.optimizer;
        self.t = state.step;
        self.forget_train_plans();
        Ok(())
    }

    fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        GpuTrainer::gradients(self, rows)
    }

    fn activations(&mut self) -> Result<Vec<Vec<f32>>> {
        block("GpuTrainer::activations_async", self.activations_async())
    }
}

/// The bodies of the `Backend` methods that wait for the device, awaited.
impl GpuTrainer {
    async fn steps(
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
            .write_buffer(&self.bufs.perm, 0, bytemuck::cast_slice(perm));
        let stats = self.run_steps(perm.len(), Mode::Train, lrs, stop).await?;
        Ok(stats
            .iter()
            .map(|&(sum, _, m)| (sum / m as f64) as f32)
            .collect())
    }

    async fn eval_set(&mut self, set: usize) -> Result<EvalStats> {
        let n = self
            .eval
            .get(set)
            .ok_or_else(|| Error::usage(format!("no evaluation set {set}")))?
            .n;
        let stats = self
            .run_steps(n, Mode::Eval(set), &[], &StopToken::new())
            .await?;
        let mut e = EvalStats::default();
        for (sum, correct, m) in stats {
            e.loss_sum += sum;
            e.correct += correct;
            e.n += m;
        }
        Ok(e)
    }

    async fn read_params(&mut self) -> Result<Params> {
        let params = self.bufs.params.clone();
        let flat = self.read_floats(&params, self.layout.total).await?;
        Ok(self.layout.unpack(&flat))
    }

    async fn read_optimizer_state(&mut self) -> Result<OptimState> {
        let mut slots = Vec::with_capacity(self.bufs.state.len());
        for b in self.bufs.state.clone() {
            let flat = self.read_floats(&b, self.layout.total).await?;
            slots.push(self.layout.unpack(&flat));
        }
        Ok(OptimState {
            optimizer: self.optimizer,
            step: self.t,
            slots,
        })
    }
}

/// The steps of one pass: how many, the rows of a full step and of the last, and the plans' mode.
struct PassShape {
    steps: usize,
    full: usize,
    tail: usize,
    mode: Mode,
}

impl PassShape {
    /// Rows of step `s`: the tail's for the last step, else a full batch.
    fn rows(&self, s: usize) -> usize {
        if s + 1 == self.steps {
            self.tail
        } else {
            self.full
        }
    }
}

/// The next submission's step count after one of `chunk` steps took `took` seconds: doubled
/// (up to STEPS_PER_SUBMIT) under SUBMIT_SECONDS / 4, halved (down to one) over SUBMIT_SECONDS.
fn next_chunk(chunk: usize, took: f64) -> usize {
    if took < SUBMIT_SECONDS / 4.0 {
        (chunk * 2).min(STEPS_PER_SUBMIT)
    } else if took > SUBMIT_SECONDS {
        (chunk / 2).max(1)
    } else {
        chunk
    }
}

/// Step slots (and stats pairs) a trainer needs: the most steps of a pass over the training set
/// or an evaluation set, at least one.
fn step_slots(train: &Dataset, eval: &[&Dataset], batch: usize) -> usize {
    train
        .n
        .div_ceil(batch)
        .max(eval.iter().map(|d| d.n.div_ceil(batch)).max().unwrap_or(0))
        .max(1)
}

/// What a trainer's step buffers hold (see `step_buffers`).
struct BufferSizes {
    /// Rows of one chunk of a step: the activations, dz, y batch and row stats.
    rows: usize,
    /// Rows of the training set: the permutation.
    train_rows: usize,
    /// Step slots: the stats pairs and the per-step uniforms.
    slots: usize,
    /// Dynamic offset stride of the step uniform.
    step_stride: u64,
    /// Floats of split K's partials and bias partials.
    parts: usize,
    bias_parts: usize,
}

/// Allocates the step buffers (the parameters uploaded from `params`, everything else zeroed,
/// no optimiser state yet), in this order.
fn step_buffers(
    device: &wgpu::Device,
    spec: &Spec,
    layout: &ParamLayout,
    params: &Params,
    sizes: &BufferSizes,
) -> StepBuffers {
    let f = 4u64;
    let rows = sizes.rows;
    let flat = layout.pack(params);
    StepBuffers {
        params: storage_init(device, "params", bytemuck::cast_slice(&flat)),
        grads: storage_zeroed(device, "grads", layout.total as u64 * f),
        perm: storage_zeroed(device, "perm", sizes.train_rows as u64 * 4),
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
        stats: storage_zeroed(device, "stats", sizes.slots as u64 * 2 * f),
        step: device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("steps"),
            size: sizes.slots as u64 * sizes.step_stride,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        }),
        state: Vec::new(),
        partials: storage_zeroed(device, "split-K partials", sizes.parts as u64 * f),
        bias_partials: storage_zeroed(device, "split-K bias partials", sizes.bias_parts as u64 * f),
    }
}

/// Rows of one chunk of a step of `rows` rows: what fits one storage binding for the widest
/// layer of `spec` (at least 2 floats: the loss keeps two per row). A batch with more rows runs
/// as several chunks (see `build_plan`), so the batch size is bounded by device memory, not by
/// the binding limit. An error when one row of the widest layer, or a layer's activations for a
/// chunk, exceed the binding.
fn chunk_rows(ctx: &GpuContext, spec: &Spec, rows: usize) -> Result<usize> {
    let f = 4u64;
    let widest = spec.sizes.iter().copied().max().unwrap_or(1).max(2) as u64;
    let per_binding = ctx.max_binding() / (widest * f);
    if per_binding == 0 {
        ctx.check_binding(
            "one row of the widest layer",
            widest * f,
            "use narrower layers, or the CPU path",
        )?;
    }
    let rows = rows.min(per_binding as usize).max(1);
    for (l, &s) in spec.sizes.iter().enumerate() {
        ctx.check_binding(
            &format!("layer {l}'s activations for {rows} rows"),
            (rows * s) as u64 * f,
            "use a smaller batch or narrower layers",
        )?;
    }
    Ok(rows)
}

/// Split K's partials (floats) and bias partials: what the largest split of the step's
/// matmuls `shapes` needs below `target`, within `MAX_PARTIALS` (a plan's splits are cut to
/// what these hold; evaluation batches are no larger).
fn split_partials(
    kernels: &Kernels,
    shapes: &[tuning::MatmulShape],
    target: u32,
) -> (usize, usize) {
    let (mut parts, mut bias_parts) = (1, 1);
    for s in shapes {
        let most = MAX_PARTIALS / (s.m * s.n).max(1);
        let split = KSplit::plan(kernels.matmul_variant(), s.m, s.n, s.k, target, most);
        let slices = split.splits as usize;
        if slices > 1 {
            parts = parts.max(slices * s.m * s.n);
            if s.kernel == Kernel::MatmulBackwardWeight {
                bias_parts = bias_parts.max(slices * s.n);
            }
        }
    }
    (parts, bias_parts)
}
