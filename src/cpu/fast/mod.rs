//! The fast CPU path: f32, threaded GEMM (the gemm crate, AVX-512 where the CPU has it), bias +
//! activation in one pass over the output, plain SGD's update fused into the weight-gradient
//! GEMM (the other optimisers update from a gradient buffer), no allocation inside an epoch.

use std::sync::Mutex;

mod team;

use crate::data::{Dataset, Inputs};
use crate::error::Result;
use crate::model::{Activation, Loss, Params, Spec};
use crate::optim::{Method, OptimState, Optimizer};
use crate::train::{Backend, EvalStats, Hyper, StopToken};
use std::time::Instant;
use team::{Member, Schedule, Team};

/// Below this many multiply-adds a GEMM runs on one thread: handing work over costs more.
const PARALLEL_MIN_MACS: usize = 1 << 18;
/// From this many multiply-adds on, the gemm crate's own threading (which shares packed
/// panels between threads) beats splitting the output into one block per thread.
const INTERNAL_PARALLEL_MIN_MACS: usize = 1 << 30;

/// Raw operands of one GEMM block, sent to a worker thread.
#[derive(Clone, Copy)]
struct Block {
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    a_rs: usize,
    a_cs: usize,
    b: *const f32,
    b_rs: usize,
    b_cs: usize,
    c: *mut f32,
    c_rs: usize,
}

/// Rows and columns of an output.
type Rect = (std::ops::Range<usize>, std::ops::Range<usize>);

// SAFETY: blocks of one GEMM write disjoint parts of c and only read a and b, which outlive the
// scope that runs them.
unsafe impl Send for Block {}
// SAFETY: shared only to be copied into the blocks above.
unsafe impl Sync for Block {}

impl Block {
    /// Rows `r0..r1` of the output.
    fn rows(self, r0: usize, r1: usize) -> Block {
        Block {
            m: r1 - r0,
            a: self.a.wrapping_add(r0 * self.a_rs),
            c: self.c.wrapping_add(r0 * self.c_rs),
            ..self
        }
    }

    /// Columns `c0..c1` of the output.
    fn cols(self, c0: usize, c1: usize) -> Block {
        Block {
            n: c1 - c0,
            b: self.b.wrapping_add(c0 * self.b_cs),
            c: self.c.wrapping_add(c0),
            ..self
        }
    }

    /// Part `p` of `parts` of the output: a share of its rows when it has at least as many
    /// rows as columns, else of its columns; with the rectangle of c it covers, as
    /// (rows, columns). None when the share is empty.
    fn part(self, p: usize, parts: usize) -> Option<(Block, Rect)> {
        let by_rows = self.m >= self.n;
        let len = if by_rows { self.m } else { self.n };
        let (lo, hi) = (len * p / parts, len * (p + 1) / parts);
        if lo == hi {
            return None;
        }
        Some(if by_rows {
            (self.rows(lo, hi), (lo..hi, 0..self.n))
        } else {
            (self.cols(lo, hi), (0..self.m, lo..hi))
        })
    }

    /// c = alpha·a·b + beta·c. gemm's convention is dst = alpha·dst + beta·lhs·rhs.
    ///
    /// # Safety
    /// Every pointer must address the block's elements under its strides.
    unsafe fn run(self, alpha: f32, beta: f32, parallelism: gemm::Parallelism) {
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                self.c,
                1,
                self.c_rs as isize,
                beta != 0.0,
                self.a,
                self.a_cs as isize,
                self.a_rs as isize,
                self.b,
                self.b_cs as isize,
                self.b_rs as isize,
                beta,
                alpha,
                false,
                false,
                false,
                parallelism,
            )
        }
    }
}

/// c = alpha·a·b + beta·c with explicit strides. `a` is (m, k), `b` is (k, n), each given as
/// (slice, row stride, column stride); `c` is (m, n) row-major. The slices are checked to cover
/// every element the strides address. Medium sizes are split into one block of output rows (or
/// columns) per thread of the current rayon pool; small ones run on the calling thread.
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (&[f32], usize, usize),
    b: (&[f32], usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    assert!(a.0.len() >= extent(m, k, a.1, a.2), "sgemm: a too short");
    assert!(b.0.len() >= extent(k, n, b.1, b.2), "sgemm: b too short");
    assert!(c.len() >= m * n, "sgemm: c too short");
    if m == 0 || n == 0 {
        return;
    }
    let block = Block {
        m,
        k,
        n,
        a: a.0.as_ptr(),
        a_rs: a.1,
        a_cs: a.2,
        b: b.0.as_ptr(),
        b_rs: b.1,
        b_cs: b.2,
        c: c.as_mut_ptr(),
        c_rs: n,
    };
    let macs = m * n * k;
    let threads = rayon::current_num_threads();
    // SAFETY (all three): the asserts above show every element the strides address lies inside
    // its slice; the blocks of a split cover disjoint rows or columns of c, which is borrowed
    // uniquely for the whole call (the scope joins every block before returning).
    if macs < PARALLEL_MIN_MACS || threads == 1 {
        unsafe { block.run(alpha, beta, gemm::Parallelism::None) }
    } else if macs >= INTERNAL_PARALLEL_MIN_MACS {
        unsafe { block.run(alpha, beta, gemm::Parallelism::Rayon(threads)) }
    } else {
        rayon::scope(|s| {
            for p in 1..threads {
                if let Some((blk, _)) = block.part(p, threads) {
                    s.spawn(move |_| unsafe { blk.run(alpha, beta, gemm::Parallelism::None) });
                }
            }
            if let Some((blk, _)) = block.part(0, threads) {
                unsafe { blk.run(alpha, beta, gemm::Parallelism::None) }
            }
        });
    }
}

#[inline]
fn act_forward(act: Activation, z: f32) -> f32 {
    match act {
        Activation::Linear => z,
        Activation::Relu => z.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        Activation::Tanh => z.tanh(),
        Activation::LeakyRelu => {
            if z > 0.0 {
                z
            } else {
                0.01 * z
            }
        }
    }
}

#[inline]
fn act_backward(act: Activation, a: f32) -> f32 {
    match act {
        Activation::Linear => 1.0,
        Activation::Relu => (a > 0.0) as u32 as f32,
        Activation::Sigmoid => a * (1.0 - a),
        Activation::Tanh => 1.0 - a * a,
        Activation::LeakyRelu => {
            if a > 0.0 {
                1.0
            } else {
                0.01
            }
        }
    }
}

/// out = act(x·w + b): x (m, k), w (k, n), b (n), out (m, n).
pub fn matmul_forward(
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    act: Activation,
) {
    sgemm(m, k, n, 1.0, (x, k, 1), (w, n, 1), 0.0, out);
    for row in out[..m * n].chunks_exact_mut(n) {
        bias_activation(row, b, act);
    }
}

/// o = act(o + b), elementwise.
fn bias_activation(o: &mut [f32], b: &[f32], act: Activation) {
    match act {
        Activation::Linear => o.iter_mut().zip(b).for_each(|(o, &bb)| *o += bb),
        Activation::Relu => o
            .iter_mut()
            .zip(b)
            .for_each(|(o, &bb)| *o = (*o + bb).max(0.0)),
        _ => o
            .iter_mut()
            .zip(b)
            .for_each(|(o, &bb)| *o = act_forward(act, *o + bb)),
    }
}

/// Writes the per-row loss gradient (times `inv_m`, one over the batch's rows) into dz and
/// returns the summed loss and the number of rows whose argmax matches the target's. out and y
/// are (m, n).
fn loss_forward_backward(
    dz: &mut [f32],
    out: &[f32],
    y: &[f32],
    (m, n): (usize, usize),
    inv_m: f32,
    loss: Loss,
    sigmoid_out: bool,
) -> (f64, usize) {
    let mut total = 0.0f64;
    let mut correct = 0;
    for i in 0..m {
        let o = &out[i * n..(i + 1) * n];
        let t = &y[i * n..(i + 1) * n];
        let d = &mut dz[i * n..(i + 1) * n];
        if argmax(o) == argmax(t) {
            correct += 1;
        }
        let mut row = 0.0f32;
        match loss {
            Loss::CrossEntropy => {
                let max = o.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = o.iter().map(|&z| (z - max).exp()).sum();
                let log_sum = sum.ln() + max;
                for j in 0..n {
                    row -= t[j] * (o[j] - log_sum);
                    d[j] = ((o[j] - log_sum).exp() - t[j]) * inv_m;
                }
            }
            Loss::Bce => {
                for j in 0..n {
                    let z = o[j];
                    row += z.max(0.0) - z * t[j] + (-z.abs()).exp().ln_1p();
                    d[j] = (act_forward(Activation::Sigmoid, z) - t[j]) * inv_m;
                }
            }
            Loss::Mse => {
                for j in 0..n {
                    let e = o[j] - t[j];
                    row += 0.5 * e * e;
                    let da = if sigmoid_out {
                        o[j] * (1.0 - o[j])
                    } else {
                        1.0
                    };
                    d[j] = e * da * inv_m;
                }
            }
        }
        total += row as f64;
    }
    (total, correct)
}

/// `v = μ·v + g;  θ -= lr·v`, or `θ -= lr·(g + μ·v)` with `nesterov`; `grad` already holds the
/// 2λθ term. The f32 twin of `reference::momentum_update`, in the shader's operation order.
fn momentum_update(
    param: &mut [f32],
    velocity: &mut [f32],
    grad: &[f32],
    lr: f32,
    mu: f32,
    nesterov: bool,
) {
    for ((p, v), &g) in param.iter_mut().zip(velocity.iter_mut()).zip(grad) {
        let nv = mu * *v + g;
        *v = nv;
        let d = if nesterov { g + mu * nv } else { nv };
        *p -= lr * d;
    }
}

/// Adam's update with the bias corrections `(1-β1^t, 1-β2^t)` and AdamW's decay `wd` (0 for
/// biases and Adam); `grad` already holds the 2λθ term. The f32 twin of
/// `reference::adam_update`, in the shader's operation order.
fn adam_update(
    param: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    grad: &[f32],
    lr: f32,
    wd: f32,
    opt: &Optimizer,
    (bias1, bias2): (f32, f32),
) {
    let (b1, b2, eps) = (opt.beta1, opt.beta2, opt.eps);
    let step_size = lr / bias1;
    let bias2_sqrt = bias2.sqrt();
    let decay = 1.0 - lr * wd;
    for (((p, m), v), &g) in param
        .iter_mut()
        .zip(m.iter_mut())
        .zip(v.iter_mut())
        .zip(grad)
    {
        let q = if wd != 0.0 { *p * decay } else { *p };
        let mi = b1 * *m + (1.0 - b1) * g;
        let vi = b2 * *v + (1.0 - b2) * (g * g);
        *m = mi;
        *v = vi;
        *p = q - step_size * (mi / (vi.sqrt() / bias2_sqrt + eps));
    }
}

/// Index of the first largest value.
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The fast CPU trainer: parameters, the data, and every buffer one step needs, allocated once.
pub struct CpuTrainer {
    spec: Spec,
    params: Params,
    train_x: Inputs,
    train_y: Vec<f32>,
    /// Evaluation sets (validation, test): inputs, dense targets, rows.
    eval: Vec<(Inputs, Vec<f32>, usize)>,
    batch: usize,
    /// acts[0] is the gathered input batch, acts[l+1] layer l's output; each (batch, width).
    acts: Vec<Vec<f32>>,
    /// Each layer's output gradient, (batch, width), and bias gradient.
    dz: Vec<Vec<f32>>,
    db: Vec<Vec<f32>>,
    /// Each layer's weights transposed, (fan_out, fan_in), kept in step with `params` by the
    /// updates: the input gradient dZ·Wᵀ reads it row by row, ~20% faster than reading W
    /// transposed in place. Empty for the first layer, which has no input gradient.
    wt: Vec<Vec<f32>>,
    /// The gathered batch's dense targets, (batch, outputs).
    y: Vec<f32>,
    /// The optimiser, its update count and its state (one set per `Method::slots` entry).
    optimizer: Optimizer,
    t: u64,
    state: Vec<Params>,
    /// The step's gradients (2λW included), for every optimiser but plain SGD.
    grad: Params,
    /// The threads a step is shared among: one per core, or `RAYON_NUM_THREADS`.
    team: Team,
    /// Whether a step's work is large enough to share among the team's threads.
    shared: bool,
    /// When to run a shared step on the team, and when all its parts on this thread.
    schedule: Schedule,
    /// The phases of a step (`phases`), by [by_rows][backward].
    phases: [[Vec<Phase>; 2]; 2],
}

impl CpuTrainer {
    pub fn new<'a>(
        spec: &Spec,
        params: Params,
        train: &Dataset,
        eval: impl IntoIterator<Item = &'a Dataset>,
        batch: usize,
    ) -> Result<CpuTrainer> {
        let eval = eval
            .into_iter()
            .map(|d| (d.x.clone(), d.dense_targets(), d.n))
            .collect();
        Self::with_data(
            spec,
            params,
            (train.x.clone(), train.dense_targets(), train.n),
            eval,
            batch,
        )
    }

    /// As `new`, taking the datasets over instead of copying them, so the data is held once.
    pub fn from_datasets(
        spec: &Spec,
        params: Params,
        train: Dataset,
        eval: Vec<Dataset>,
        batch: usize,
    ) -> Result<CpuTrainer> {
        let train_y = train.dense_targets();
        let eval = eval
            .into_iter()
            .map(|d| {
                let y = d.dense_targets();
                (d.x, y, d.n)
            })
            .collect();
        Self::with_data(spec, params, (train.x, train_y, train.n), eval, batch)
    }

    /// `train` and each evaluation set as (inputs, dense targets, rows).
    fn with_data(
        spec: &Spec,
        params: Params,
        train: (Inputs, Vec<f32>, usize),
        eval: Vec<(Inputs, Vec<f32>, usize)>,
        batch: usize,
    ) -> Result<CpuTrainer> {
        params.check_shapes(spec)?;
        if batch == 0 {
            return Err(crate::Error::invalid("batch", "must be at least 1"));
        }
        // Step buffers hold at most the rows a step can have, however large --batch is.
        let largest = eval.iter().map(|e| e.2).fold(train.2, usize::max);
        let rows = batch.min(largest).max(1);
        let macs: usize = (0..spec.n_layers())
            .map(|l| spec.layer_shape(l))
            .map(|(k, n)| k * n)
            .sum();
        let wt = params
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let (k, n) = spec.layer_shape(l);
                let mut t = vec![0.0; if l == 0 { 0 } else { k * n }];
                if l > 0 {
                    // SAFETY: t holds n·k floats and is this function's alone.
                    unsafe { transpose_rows(&layer.w, (k, n), 0, t.as_mut_ptr()) };
                }
                t
            })
            .collect();
        Ok(CpuTrainer {
            spec: spec.clone(),
            params,
            train_x: train.0,
            train_y: train.1,
            eval,
            batch,
            acts: spec.sizes.iter().map(|&s| vec![0.0; rows * s]).collect(),
            dz: spec.sizes[1..]
                .iter()
                .map(|&s| vec![0.0; rows * s])
                .collect(),
            db: spec.sizes[1..].iter().map(|&s| vec![0.0; s]).collect(),
            wt,
            y: vec![0.0; rows * spec.outputs()],
            optimizer: Optimizer::default(),
            t: 0,
            state: Vec::new(),
            grad: Params { layers: Vec::new() },
            team: Team::new(rayon::current_num_threads())
                .map_err(|e| crate::Error::usage(format!("cannot start CPU threads: {e}")))?,
            shared: rows * macs >= PARALLEL_MIN_MACS,
            schedule: Schedule::default(),
            phases: [false, true].map(|r| [false, true].map(|b| phases(spec.n_layers(), r, b))),
        })
    }

    /// Shares every step among `threads` threads, however small the network (1: every step on
    /// the calling thread). By default a trainer uses one thread per core, or
    /// `RAYON_NUM_THREADS`, and only for networks large enough to gain from it.
    pub fn with_threads(mut self, threads: usize) -> Result<CpuTrainer> {
        self.team = Team::new(threads)
            .map_err(|e| crate::Error::usage(format!("cannot start CPU threads: {e}")))?;
        self.shared = threads > 1;
        Ok(self)
    }

    /// Trains on `batches` in turn, batch i with learning rate `lrs[i]`, reporting each step's
    /// summed loss to `done`; stops early, after at least one step, when `stop` is stopped.
    fn train_batches(
        &mut self,
        batches: &[&[u32]],
        lrs: &[f32],
        l2: f32,
        stop: &StopToken,
        done: &mut dyn FnMut(usize, f64),
    ) {
        let opt = self.optimizer;
        let t0 = self.t;
        let mut grad = std::mem::replace(&mut self.grad, Params { layers: Vec::new() });
        let sgd = opt.method == Method::Sgd;
        let steps = self.drive(
            (!sgd).then_some(&mut grad),
            l2,
            true,
            |i| {
                let rows = *batches.get(i)?;
                if i > 0 && stop.is_stopped() {
                    return None;
                }
                let lr = lrs[i];
                let update = if sgd {
                    Update::Sgd { lr }
                } else {
                    let bias = opt.bias_corrections(t0 + i as u64 + 1);
                    Update::Optim { lr, opt, bias }
                };
                Some(Step {
                    m: rows.len(),
                    rows: Rows::Train(rows),
                    next: batches.get(i + 1).copied().unwrap_or(&[]),
                    update,
                })
            },
            &mut |i, (loss, _)| done(i, loss),
        );
        self.t = t0 + steps as u64;
        self.grad = grad;
    }

    /// Runs steps until `step(i)` gives none, reporting each step's summed loss and rows
    /// predicted right to `done`; returns the number of steps run. `grad` receives the
    /// gradients of `Update::Grads` and `Update::Optim` steps; `backward` runs the backward
    /// phases at all.
    ///
    /// Each step is a list of phases, each phase shared out into the same parts (one per team
    /// member). With the team, every member runs its part of a phase and they meet at a barrier
    /// before the next; without it (a network too small to share, or the team slower than one
    /// thread just now because other programs hold the cores), the calling thread runs every
    /// part in turn. Both compute exactly the same thing.
    fn drive<'s>(
        &mut self,
        grad: Option<&mut Params>,
        l2: f32,
        backward: bool,
        mut step: impl FnMut(usize) -> Option<Step<'s>>,
        done: &mut dyn FnMut(usize, (f64, usize)),
    ) -> usize {
        let raws = |p: &mut Params, weights: bool| -> Vec<Raw> {
            p.layers
                .iter_mut()
                .map(|l| Raw::new(if weights { &mut l.w } else { &mut l.b }))
                .collect()
        };
        let (gw, gb) = match grad {
            Some(g) => (raws(g, true), raws(g, false)),
            None => (Vec::new(), Vec::new()),
        };
        let parts = if self.shared { self.team.threads() } else { 1 };
        let job = Job {
            spec: &self.spec,
            train: (&self.train_x, &self.train_y),
            eval: &self.eval,
            l2,
            acts: self.acts.iter_mut().map(|a| Raw::new(a)).collect(),
            dz: self.dz.iter_mut().map(|d| Raw::new(d)).collect(),
            db: self.db.iter_mut().map(|d| Raw::new(d)).collect(),
            wt: self.wt.iter_mut().map(|t| Raw::new(t)).collect(),
            y: Raw::new(&mut self.y),
            w: raws(&mut self.params, true),
            b: raws(&mut self.params, false),
            gw,
            gb,
            slots: self
                .state
                .iter_mut()
                .map(|s| (raws(s, true), raws(s, false)))
                .collect(),
            results: (0..parts).map(|_| Mutex::new((0.0, 0))).collect(),
        };
        let mut i = 0;
        while let Some(s) = step(i) {
            let phases = &self.phases[by_rows(s.m, parts) as usize][backward as usize];
            assert!(
                s.m <= self.y.len() / self.spec.outputs(),
                "step larger than its buffers"
            );
            let team = parts > 1 && self.schedule.use_team();
            let start = Instant::now();
            if team {
                self.team.run(&|me: &Member| {
                    for &phase in phases {
                        if phase == Phase::Barrier {
                            me.barrier();
                        } else {
                            job.phase(&s, phase, (me.index, parts));
                        }
                    }
                });
            } else {
                // Phase by phase, every part in turn: the barriers hold by construction.
                for &phase in phases.iter().filter(|&&p| p != Phase::Barrier) {
                    for index in 0..parts {
                        job.phase(&s, phase, (index, parts));
                    }
                }
            }
            // Only full training steps are timed: they all do the same work.
            if parts > 1 && backward && s.m == self.batch {
                self.schedule.record(team, start.elapsed().as_secs_f64());
            }
            let results = job.results.iter().map(|r| *r.lock().unwrap());
            done(
                i,
                results.fold((0.0, 0), |(l, c), (dl, dc)| (l + dl, c + dc)),
            );
            i += 1;
        }
        i
    }

    /// The mean loss and gradients on the training rows `rows` (at most one batch), no update.
    pub fn gradients(&mut self, rows: &[u32], l2: f32) -> (f64, Params) {
        let mut g = Params::zeros(&self.spec);
        let mut loss = 0.0;
        let step = Step {
            m: rows.len(),
            rows: Rows::Train(rows),
            next: &[],
            update: Update::Grads,
        };
        let mut once = Some(step);
        self.drive(Some(&mut g), l2, true, |_| once.take(), &mut |_, r| {
            loss = r.0
        });
        (loss / rows.len() as f64, g)
    }
}

/// The phases of a step, in order, with the barriers a team needs between them: gather, each
/// layer's forward pass, the loss; with `backward`, each layer's input gradient from the last
/// down (but the first layer's), then every layer's update.
///
/// With `by_rows` every phase up to the updates works on the part's own rows of the batch (the
/// GEMMs split by rows), reading only rows the same part wrote: they follow one another with no
/// barrier. Otherwise each GEMM splits along its larger side and each phase waits for the one
/// before. The updates need all rows of the gradients, so they come after a barrier; each
/// touches one layer's parameters (and reads only the part it writes), so they need none
/// between them.
fn phases(layers: usize, by_rows: bool, backward: bool) -> Vec<Phase> {
    let mut p = vec![Phase::Gather];
    let then = |p: &mut Vec<Phase>, phase| {
        if !by_rows {
            p.push(Phase::Barrier);
        }
        p.push(phase);
    };
    for l in 0..layers {
        then(&mut p, Phase::Forward(l));
    }
    then(&mut p, Phase::Loss);
    if backward {
        for l in (1..layers).rev() {
            then(&mut p, Phase::InputGrad(l));
        }
        p.push(Phase::Barrier);
        p.extend((0..layers).rev().map(Phase::Update));
    }
    p
}

/// Rows of a step each part needs at least for the step to be shared out by rows.
const ROWS_PER_PART: usize = 16;

/// Whether a step of m rows in `parts` parts splits its GEMMs by rows (see `phases`).
fn by_rows(m: usize, parts: usize) -> bool {
    parts > 1 && m >= parts * ROWS_PER_PART
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Gather,
    Forward(usize),
    Loss,
    InputGrad(usize),
    Update(usize),
    /// A team's members wait for each other here.
    Barrier,
}

/// A buffer that the parts of a phase write in disjoint pieces, each read by other parts only
/// in a later phase.
#[derive(Clone, Copy)]
struct Raw {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: a Raw points into a buffer that `CpuTrainer::drive` borrows mutably for as long as
// any step runs; the parts keep to the contract of `part` and `read`.
unsafe impl Send for Raw {}
// SAFETY: as above.
unsafe impl Sync for Raw {}

impl Raw {
    fn new(v: &mut [f32]) -> Raw {
        Raw {
            ptr: v.as_mut_ptr(),
            len: v.len(),
        }
    }

    /// Elements lo..hi, to write.
    ///
    /// # Safety
    /// No other part reads or writes them in this phase.
    unsafe fn part<'a>(self, lo: usize, hi: usize) -> &'a mut [f32] {
        assert!(lo <= hi && hi <= self.len, "part out of range");
        // SAFETY: in bounds (above); exclusive by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(lo), hi - lo) }
    }

    /// Elements lo..hi, to read.
    ///
    /// # Safety
    /// No part writes them in this phase.
    unsafe fn read<'a>(self, lo: usize, hi: usize) -> &'a [f32] {
        assert!(lo <= hi && hi <= self.len, "part out of range");
        // SAFETY: in bounds (above); unwritten by the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr.add(lo), hi - lo) }
    }
}

/// Where a step's rows come from.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// Training rows by index (a batch of the epoch's permutation).
    Train(&'a [u32]),
    /// Evaluation set `.0` from row `.1` on.
    Eval(usize, usize),
}

/// What a step does after the forward pass and the loss.
#[derive(Clone, Copy)]
enum Update {
    /// Nothing: evaluation.
    None,
    /// The gradients (2λW included) into the gradient buffers.
    Grads,
    /// Plain SGD, fused into the weight-gradient GEMM.
    Sgd { lr: f32 },
    /// The gradients into the gradient buffers, then the optimiser's update from them.
    Optim {
        lr: f32,
        opt: Optimizer,
        bias: (f32, f32),
    },
}

/// One step: m rows from `rows`, the next batch's rows to prefetch, and what to update.
struct Step<'a> {
    m: usize,
    rows: Rows<'a>,
    next: &'a [u32],
    update: Update,
}

/// What every part of every step sees: the shapes, the data, and raw views of every buffer.
/// Within a phase each element is written by one part only; whatever a phase reads was written
/// in an earlier phase.
struct Job<'a> {
    spec: &'a Spec,
    train: (&'a Inputs, &'a [f32]),
    eval: &'a [(Inputs, Vec<f32>, usize)],
    l2: f32,
    acts: Vec<Raw>,
    /// Each layer's output gradient (the last's from the loss) and bias gradient.
    dz: Vec<Raw>,
    db: Vec<Raw>,
    /// Each layer's weights transposed (see `CpuTrainer::wt`).
    wt: Vec<Raw>,
    y: Raw,
    w: Vec<Raw>,
    b: Vec<Raw>,
    /// Gradients per layer, for `Update::Grads` and `Update::Optim`.
    gw: Vec<Raw>,
    gb: Vec<Raw>,
    /// Optimiser state per slot: (weights, biases) per layer.
    slots: Vec<(Vec<Raw>, Vec<Raw>)>,
    /// Summed loss and rows right, per part.
    results: Vec<Mutex<(f64, usize)>>,
}

/// This part's block of a GEMM over the batch rows: a share of the rows when the step splits by
/// rows, else of the output's larger side.
fn split(block: Block, s: &Step, part: Part) -> Option<(Block, Rect)> {
    if !by_rows(s.m, part.1) {
        return block.part(part.0, part.1);
    }
    let (lo, hi) = share(block.m, part);
    (lo < hi).then(|| (block.rows(lo, hi), (lo..hi, 0..block.n)))
}

/// Part `.0` of `.1` equal parts.
type Part = (usize, usize);

/// The half-open range of `0..len` that part `index` of `parts` takes, in index order.
fn share(len: usize, (index, parts): Part) -> (usize, usize) {
    (len * index / parts, len * (index + 1) / parts)
}

impl Job<'_> {
    fn phase(&self, s: &Step, phase: Phase, part: Part) {
        match phase {
            Phase::Gather => self.gather(s, part),
            Phase::Forward(l) => self.forward(s, l, part),
            Phase::Loss => self.loss(s, part),
            Phase::InputGrad(l) => self.input_grad(s, l, part),
            Phase::Barrier => {}
            Phase::Update(l) => {
                let (k, n) = self.spec.layer_shape(l);
                let (r0, r1) = share(k, part);
                if r0 < r1 {
                    // SAFETY: rows r0..r1 of the layer's weights (and of their gradients and
                    // state) are this part's; x and dz were written in earlier phases.
                    unsafe { self.update_weights(s, l, (r0, r1)) };
                }
                let (c0, c1) = share(n, part);
                if c0 < c1 {
                    // SAFETY: columns c0..c1 of the biases and of db are this part's.
                    unsafe { self.update_biases(s, l, (c0, c1)) };
                }
            }
        }
    }

    /// This part's share of the batch rows (inputs scaled to f32, dense targets), and of the
    /// next batch's rows to prefetch: random rows of a large set arrive while this step runs.
    fn gather(&self, s: &Step, part: Part) {
        let (d, w) = (self.spec.inputs(), self.spec.outputs());
        let (lo, hi) = share(s.m, part);
        // SAFETY: rows lo..hi of the batch are this part's alone in this phase.
        let (xs, ys) = unsafe {
            (
                self.acts[0].part(lo * d, hi * d),
                self.y.part(lo * w, hi * w),
            )
        };
        match s.rows {
            Rows::Train(rows) => {
                let (x, y) = self.train;
                for ((&r, xr), yr) in rows[lo..hi]
                    .iter()
                    .zip(xs.chunks_exact_mut(d))
                    .zip(ys.chunks_exact_mut(w))
                {
                    let r = r as usize;
                    x.copy_row(r, xr);
                    yr.copy_from_slice(&y[r * w..(r + 1) * w]);
                }
            }
            Rows::Eval(set, start) => {
                let (x, y, _) = &self.eval[set];
                for (i, xr) in xs.chunks_exact_mut(d).enumerate() {
                    x.copy_row(start + lo + i, xr);
                }
                ys.copy_from_slice(&y[(start + lo) * w..(start + hi) * w]);
            }
        }
        let (plo, phi) = share(s.next.len(), part);
        for &r in &s.next[plo..phi] {
            self.train.0.prefetch_row(r as usize, d);
        }
    }

    /// Layer l's GEMM, shared out by output rows or columns, with bias and activation applied
    /// to the part's block as soon as it is computed.
    fn forward(&self, s: &Step, l: usize, part: Part) {
        let (k, n) = self.spec.layer_shape(l);
        let (x, out) = (self.acts[l], self.acts[l + 1]);
        let block = Block {
            m: s.m,
            k,
            n,
            a: x.ptr,
            a_rs: k,
            a_cs: 1,
            b: self.w[l].ptr,
            b_rs: n,
            b_cs: 1,
            c: out.ptr,
            c_rs: n,
        };
        if let Some((blk, (rows, cols))) = split(block, s, part) {
            // SAFETY: this part's block of the output; the inputs and weights were written in
            // earlier phases and nobody writes them in this one.
            unsafe { blk.run(1.0, 0.0, gemm::Parallelism::None) };
            let b = unsafe { self.b[l].read(cols.start, cols.end) };
            for r in rows {
                // SAFETY: as above.
                let o = unsafe { out.part(r * n + cols.start, r * n + cols.end) };
                bias_activation(o, b, self.spec.layer_activation(l));
            }
        }
    }

    /// The loss and its gradient for this part's share of the rows, into `dz`.
    fn loss(&self, s: &Step, part: Part) {
        let (m, n) = (s.m, self.spec.outputs());
        let last = self.spec.n_layers();
        let (lo, hi) = share(m, part);
        // SAFETY: the outputs and targets were written in earlier phases and are read-only in
        // this one; rows lo..hi of dz are this part's.
        let (out, y, dz) = unsafe {
            (
                self.acts[last].read(lo * n, hi * n),
                self.y.read(lo * n, hi * n),
                self.dz[last - 1].part(lo * n, hi * n),
            )
        };
        let sigmoid_out = self.spec.layer_activation(last - 1) == Activation::Sigmoid;
        let r = loss_forward_backward(
            dz,
            out,
            y,
            (hi - lo, n),
            1.0 / m as f32,
            self.spec.loss,
            sigmoid_out,
        );
        *self.results[part.0].lock().unwrap() = r;
    }

    /// Layer l's input gradient dx = (dz·wᵀ) ∘ act'(a_{l-1}), with the weights before this
    /// step's update (which comes in a later phase).
    fn input_grad(&self, s: &Step, l: usize, part: Part) {
        let (k, n) = self.spec.layer_shape(l);
        let (dz, dx) = (self.dz[l], self.dz[l - 1]);
        let block = Block {
            m: s.m,
            k: n,
            n: k,
            a: dz.ptr,
            a_rs: n,
            a_cs: 1,
            b: self.wt[l].ptr,
            b_rs: k,
            b_cs: 1,
            c: dx.ptr,
            c_rs: k,
        };
        if let Some((blk, (rows, cols))) = split(block, s, part) {
            // SAFETY: this part's block of dx; dz and wᵀ were written in earlier phases.
            unsafe { blk.run(1.0, 0.0, gemm::Parallelism::None) };
            let act = self.spec.layer_activation(l - 1);
            for r in rows {
                let (lo, hi) = (r * k + cols.start, r * k + cols.end);
                // SAFETY: as above; the activations are read-only in this phase.
                let (d, a) = unsafe { (dx.part(lo, hi), self.acts[l].read(lo, hi)) };
                for (d, &a) in d.iter_mut().zip(a) {
                    *d *= act_backward(act, a);
                }
            }
        }
    }

    /// Rows r0..r1 of layer l's weights: W ← (1 - 2·lr·λ)·W - lr·xᵀ·dz fused into the GEMM for
    /// plain SGD; otherwise the gradient xᵀ·dz + 2λW, and the optimiser's update from it.
    ///
    /// # Safety
    /// Rows r0..r1 of the layer's weights, gradients and optimiser state are the caller's alone
    /// in this phase; the layer's input and dz are complete and nobody writes them.
    unsafe fn update_weights(&self, s: &Step, l: usize, (r0, r1): (usize, usize)) {
        let (k, n) = self.spec.layer_shape(l);
        let dz = self.dz[l];
        let block = |c: Raw| {
            Block {
                m: k,
                k: s.m,
                n,
                a: self.acts[l].ptr,
                a_rs: 1,
                a_cs: k,
                b: dz.ptr,
                b_rs: n,
                b_cs: 1,
                c: c.ptr,
                c_rs: n,
            }
            .rows(r0, r1)
        };
        let (lo, hi) = (r0 * n, r1 * n);
        match s.update {
            Update::None => {}
            Update::Sgd { lr } => unsafe {
                block(self.w[l]).run(-lr, 1.0 - 2.0 * lr * self.l2, gemm::Parallelism::None)
            },
            Update::Grads | Update::Optim { .. } => {
                unsafe { block(self.gw[l]).run(1.0, 0.0, gemm::Parallelism::None) };
                let (w, g) = unsafe { (self.w[l].part(lo, hi), self.gw[l].part(lo, hi)) };
                for (g, &w) in g.iter_mut().zip(w.iter()) {
                    *g += 2.0 * self.l2 * w;
                }
                if let Update::Optim { lr, opt, bias } = s.update {
                    let state = |s: usize| match self.slots.get(s) {
                        Some((sw, _)) => unsafe { sw[l].part(lo, hi) },
                        None => &mut [],
                    };
                    optimize(&opt, lr, bias, opt.weight_decay, w, g, state(0), state(1));
                }
            }
        }
        if l > 0 && matches!(s.update, Update::Sgd { .. } | Update::Optim { .. }) {
            // SAFETY: rows r0..r1 of w are this part's and final for the step; columns r0..r1
            // of wᵀ are this part's alone (other parts write other columns), read only by the
            // next step.
            unsafe {
                let rows = self.w[l].read(lo, hi);
                assert_eq!(self.wt[l].len, k * n, "transposed weights");
                transpose_rows(rows, (k, n), r0, self.wt[l].ptr);
            }
        }
    }

    /// Columns c0..c1 of layer l's biases: db = Σ_rows dz, then the update (or gradient).
    ///
    /// # Safety
    /// Columns c0..c1 of the layer's biases, their gradients, state and of `db` are the
    /// caller's alone in this phase; dz is complete and nobody writes it.
    unsafe fn update_biases(&self, s: &Step, l: usize, (c0, c1): (usize, usize)) {
        let n = self.spec.layer_shape(l).1;
        let dz = self.dz[l];
        let db = unsafe { self.db[l].part(c0, c1) };
        db.fill(0.0);
        for r in 0..s.m {
            let row = unsafe { dz.read(r * n + c0, r * n + c1) };
            db.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
        }
        let b = unsafe { self.b[l].part(c0, c1) };
        match s.update {
            Update::None => {}
            Update::Sgd { lr } => b.iter_mut().zip(db.iter()).for_each(|(b, &g)| *b -= lr * g),
            Update::Grads | Update::Optim { .. } => {
                let g = unsafe { self.gb[l].part(c0, c1) };
                g.copy_from_slice(db);
                if let Update::Optim { lr, opt, bias } = s.update {
                    let state = |s: usize| match self.slots.get(s) {
                        Some((_, sb)) => unsafe { sb[l].part(c0, c1) },
                        None => &mut [],
                    };
                    optimize(&opt, lr, bias, 0.0, b, g, state(0), state(1));
                }
            }
        }
    }
}

/// Writes `rows`, rows r0.. of a (k, n) matrix w, as columns r0.. of `wt`, its (n, k)
/// transpose, in blocks of 16 columns of w so the 16 rows of `wt` being written stay in cache.
///
/// # Safety
/// `wt` addresses n·k floats, and nothing else touches the columns written meanwhile.
unsafe fn transpose_rows(rows: &[f32], (k, n): (usize, usize), r0: usize, wt: *mut f32) {
    let r1 = r0 + rows.len() / n.max(1);
    assert!(rows.len() == (r1 - r0) * n && r1 <= k);
    for j0 in (0..n).step_by(16) {
        let j1 = (j0 + 16).min(n);
        for i in r0..r1 {
            let row = &rows[(i - r0) * n + j0..(i - r0) * n + j1];
            for (j, &v) in (j0..j1).zip(row) {
                // SAFETY: j < n and i < k, so j·k + i < n·k (the caller's contract).
                unsafe { *wt.add(j * k + i) = v };
            }
        }
    }
}

/// The optimiser's update of one part of a tensor from its gradient; `s0`, `s1` are the same
/// part of its state slots (empty where the method has fewer).
fn optimize(
    opt: &Optimizer,
    lr: f32,
    bias: (f32, f32),
    wd: f32,
    p: &mut [f32],
    g: &[f32],
    s0: &mut [f32],
    s1: &mut [f32],
) {
    match opt.method {
        // Not reached (plain SGD takes the fused path), but correct.
        Method::Sgd => p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g),
        Method::Momentum | Method::Nesterov => {
            momentum_update(p, s0, g, lr, opt.momentum, opt.method == Method::Nesterov)
        }
        Method::Adam | Method::AdamW => adam_update(p, s0, s1, g, lr, wd, opt, bias),
    }
}

impl Backend for CpuTrainer {
    fn describe(&self) -> String {
        "cpu (f32, gemm)".into()
    }

    fn train_steps(
        &mut self,
        perm: &[u32],
        hp: &Hyper,
        lrs: &[f32],
        stop: &StopToken,
    ) -> Result<Vec<f32>> {
        if hp.batch != self.batch {
            return Err(crate::Error::usage(format!(
                "trainer built for batch {}, asked for {}",
                self.batch, hp.batch
            )));
        }
        let steps = perm.len().div_ceil(self.batch);
        if lrs.len() != steps {
            return Err(crate::Error::usage(format!(
                "{} learning rates for {steps} steps",
                lrs.len()
            )));
        }
        let mut losses = Vec::with_capacity(steps);
        let batches: Vec<&[u32]> = perm.chunks(self.batch).collect();
        self.train_batches(&batches, lrs, hp.l2, stop, &mut |i, loss| {
            losses.push((loss / batches[i].len() as f64) as f32);
            stop.note_steps(1);
        });
        Ok(losses)
    }

    fn set_optimizer(&mut self, state: &OptimState) -> Result<()> {
        state.optimizer.validate()?;
        state.check(&self.spec)?;
        self.optimizer = state.optimizer;
        self.t = state.step;
        self.state = state.slots.clone();
        self.grad = if state.optimizer.method == Method::Sgd {
            Params { layers: Vec::new() }
        } else {
            Params::zeros(&self.spec)
        };
        Ok(())
    }

    fn optimizer_state(&mut self) -> Result<OptimState> {
        Ok(OptimState {
            optimizer: self.optimizer,
            step: self.t,
            slots: self.state.clone(),
        })
    }

    fn evaluate(&mut self, set: usize) -> Result<EvalStats> {
        if set >= self.eval.len() {
            return Err(crate::Error::usage(format!("no evaluation set {set}")));
        }
        let (n, batch) = (self.eval[set].2, self.batch);
        let mut stats = EvalStats::default();
        let step = |i: usize| {
            let start = i * batch;
            (start < n).then(|| Step {
                m: batch.min(n - start),
                rows: Rows::Eval(set, start),
                next: &[],
                update: Update::None,
            })
        };
        self.drive(None, 0.0, false, step, &mut |_, (loss, correct)| {
            stats.loss_sum += loss;
            stats.correct += correct;
        });
        stats.n = n;
        Ok(stats)
    }

    fn params(&mut self) -> Result<Params> {
        Ok(self.params.clone())
    }

    fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        if rows.is_empty() || rows.len() > self.batch {
            return Err(crate::Error::usage(format!(
                "gradients of {} rows with batch {}",
                rows.len(),
                self.batch
            )));
        }
        Ok(CpuTrainer::gradients(self, rows, 0.0))
    }
}
