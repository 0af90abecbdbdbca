//! The fast CPU path: f32, threaded GEMM (the gemm crate, AVX-512 where the CPU has it), bias +
//! activation in one pass over the output, plain SGD's update fused into the weight-gradient
//! GEMM (the other optimisers update from a gradient buffer), no allocation inside an epoch.

use rayon::prelude::*;

use crate::data::{Dataset, Inputs};
use crate::error::Result;
use crate::model::{Activation, Loss, Params, Spec};
use crate::optim::{Method, OptimState, Optimizer};
use crate::train::{Backend, EvalStats, Hyper};

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
        let by_rows = m >= n;
        let len = if by_rows { m } else { n };
        let parts = threads.min(len);
        let part = |p: usize| {
            let (lo, hi) = (len * p / parts, len * (p + 1) / parts);
            if by_rows {
                block.rows(lo, hi)
            } else {
                block.cols(lo, hi)
            }
        };
        rayon::scope(|s| {
            for p in 1..parts {
                let blk = part(p);
                s.spawn(move |_| unsafe { blk.run(alpha, beta, gemm::Parallelism::None) });
            }
            unsafe { part(0).run(alpha, beta, gemm::Parallelism::None) }
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
        match act {
            Activation::Linear => row.iter_mut().zip(b).for_each(|(o, &bb)| *o += bb),
            Activation::Relu => row
                .iter_mut()
                .zip(b)
                .for_each(|(o, &bb)| *o = (*o + bb).max(0.0)),
            _ => row
                .iter_mut()
                .zip(b)
                .for_each(|(o, &bb)| *o = act_forward(act, *o + bb)),
        }
    }
}

/// Writes the per-row loss gradient (divided by m) into dz and returns the summed loss and the
/// number of rows whose argmax matches the target's. out and y are (m, n).
fn loss_forward_backward(
    dz: &mut [f32],
    out: &[f32],
    y: &[f32],
    m: usize,
    n: usize,
    loss: Loss,
    sigmoid_out: bool,
) -> (f64, usize) {
    let inv_m = 1.0 / m as f32;
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

/// Elements per parallel chunk of an update: below it one thread does the whole tensor.
const UPDATE_CHUNK: usize = 1 << 15;

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
    let serial = |p: &mut [f32], v: &mut [f32], g: &[f32]| {
        for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
            let nv = mu * *v + g;
            *v = nv;
            let d = if nesterov { g + mu * nv } else { nv };
            *p -= lr * d;
        }
    };
    if param.len() < 2 * UPDATE_CHUNK {
        serial(param, velocity, grad);
    } else {
        param
            .par_chunks_mut(UPDATE_CHUNK)
            .zip(velocity.par_chunks_mut(UPDATE_CHUNK))
            .zip(grad.par_chunks(UPDATE_CHUNK))
            .for_each(|((p, v), g)| serial(p, v, g));
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
    let serial = |p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]| {
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            let q = if wd != 0.0 { *p * decay } else { *p };
            let mi = b1 * *m + (1.0 - b1) * g;
            let vi = b2 * *v + (1.0 - b2) * (g * g);
            *m = mi;
            *v = vi;
            *p = q - step_size * (mi / (vi.sqrt() / bias2_sqrt + eps));
        }
    };
    if param.len() < 2 * UPDATE_CHUNK {
        serial(param, m, v, grad);
    } else {
        param
            .par_chunks_mut(UPDATE_CHUNK)
            .zip(m.par_chunks_mut(UPDATE_CHUNK))
            .zip(v.par_chunks_mut(UPDATE_CHUNK))
            .zip(grad.par_chunks(UPDATE_CHUNK))
            .for_each(|(((p, m), v), g)| serial(p, m, v, g));
    }
}

/// Layer l's weights or biases.
fn tensor(p: &mut Params, l: usize, weights: bool) -> &mut Vec<f32> {
    if weights {
        &mut p.layers[l].w
    } else {
        &mut p.layers[l].b
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
    /// Two gradient buffers of (batch, max width), swapped layer by layer.
    dz: Vec<f32>,
    dx: Vec<f32>,
    db: Vec<f32>,
    /// The gathered batch's dense targets, (batch, outputs).
    y: Vec<f32>,
    /// The optimiser, its update count and its state (one set per `Method::slots` entry).
    optimizer: Optimizer,
    t: u64,
    state: Vec<Params>,
    /// The step's gradients (2λW included), for every optimiser but plain SGD.
    grad: Params,
    /// The threads the GEMMs split over; steps run inside it, so a split is a cheap hand-off
    /// between its workers rather than a wake-up from outside.
    pool: std::sync::Arc<rayon::ThreadPool>,
}

/// Dense target rows (one-hot for classes), (n, width).
pub fn dense_targets(d: &Dataset) -> Vec<f32> {
    let w = d.target_width();
    let mut y = vec![0.0; d.n * w];
    for i in 0..d.n {
        d.target_row(i, &mut y[i * w..(i + 1) * w]);
    }
    y
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
            .map(|d| (d.x.clone(), dense_targets(d), d.n))
            .collect();
        Self::with_data(
            spec,
            params,
            (train.x.clone(), dense_targets(train), train.n),
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
        let train_y = dense_targets(&train);
        let eval = eval
            .into_iter()
            .map(|d| {
                let y = dense_targets(&d);
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
            return Err(crate::Error::InvalidArgument(
                "--batch must be at least 1".into(),
            ));
        }
        let widest = *spec.sizes.iter().max().unwrap_or(&1);
        // Step buffers hold at most the rows a step can have, however large --batch is.
        let largest = eval.iter().map(|e| e.2).fold(train.2, usize::max);
        let rows = batch.min(largest).max(1);
        Ok(CpuTrainer {
            spec: spec.clone(),
            params,
            train_x: train.0,
            train_y: train.1,
            eval,
            batch,
            acts: spec.sizes.iter().map(|&s| vec![0.0; rows * s]).collect(),
            dz: vec![0.0; rows * widest],
            dx: vec![0.0; rows * widest],
            db: vec![0.0; widest],
            y: vec![0.0; rows * spec.outputs()],
            optimizer: Optimizer::default(),
            t: 0,
            state: Vec::new(),
            grad: Params { layers: Vec::new() },
            pool: std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("wgtrain-cpu-{i}"))
                    .build()
                    .map_err(|e| {
                        crate::Error::InvalidArgument(format!("cannot start CPU threads: {e}"))
                    })?,
            ),
        })
    }

    fn forward(&mut self, m: usize) {
        for l in 0..self.spec.n_layers() {
            let (k, n) = self.spec.layer_shape(l);
            let (before, after) = self.acts.split_at_mut(l + 1);
            let layer = &self.params.layers[l];
            matmul_forward(
                &mut after[0],
                &before[l],
                &layer.w,
                &layer.b,
                m,
                k,
                n,
                self.spec.layer_activation(l),
            );
        }
    }

    /// Forward, loss and gradient into `self.dz` for the m rows gathered into `acts[0]`, `y`.
    fn forward_loss(&mut self, m: usize) -> (f64, usize) {
        self.forward(m);
        let last = self.spec.n_layers();
        let n = self.spec.outputs();
        let sigmoid_out = self.spec.layer_activation(last - 1) == Activation::Sigmoid;
        loss_forward_backward(
            &mut self.dz,
            &self.acts[last],
            &self.y,
            m,
            n,
            self.spec.loss,
            sigmoid_out,
        )
    }

    /// Backward and update for the m rows whose loss gradient is in `self.dz`. With `grads`,
    /// writes the gradients there instead of updating.
    fn backward(&mut self, m: usize, lr: f32, l2: f32, mut grads: Option<&mut Params>) {
        for l in (0..self.spec.n_layers()).rev() {
            let (k, n) = self.spec.layer_shape(l);
            // dx = (dz·wᵀ) ∘ act'(a_{l-1}), with the weights before this step's update.
            if l > 0 {
                let w = &self.params.layers[l].w;
                sgemm(m, n, k, 1.0, (&self.dz, n, 1), (w, 1, n), 0.0, &mut self.dx);
                let act = self.spec.layer_activation(l - 1);
                for (d, &a) in self.dx[..m * k].iter_mut().zip(&self.acts[l][..m * k]) {
                    *d *= act_backward(act, a);
                }
            }
            let db = &mut self.db[..n];
            db.fill(0.0);
            for row in self.dz[..m * n].chunks_exact(n) {
                db.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
            }
            let x = &self.acts[l];
            match grads.as_deref_mut() {
                Some(g) => {
                    let g = &mut g.layers[l];
                    sgemm(k, m, n, 1.0, (x, 1, k), (&self.dz, n, 1), 0.0, &mut g.w);
                    for (gw, &w) in g.w.iter_mut().zip(&self.params.layers[l].w) {
                        *gw += 2.0 * l2 * w;
                    }
                    g.b.copy_from_slice(db);
                }
                None => {
                    // W ← (1 - 2·lr·λ)·W - lr·xᵀ·dz: the update fused into the GEMM.
                    let layer = &mut self.params.layers[l];
                    sgemm(
                        k,
                        m,
                        n,
                        -lr,
                        (x, 1, k),
                        (&self.dz, n, 1),
                        1.0 - 2.0 * lr * l2,
                        &mut layer.w,
                    );
                    layer
                        .b
                        .iter_mut()
                        .zip(db.iter())
                        .for_each(|(b, &g)| *b -= lr * g);
                }
            }
            if l > 0 {
                std::mem::swap(&mut self.dz, &mut self.dx);
            }
        }
    }

    /// Backward and update of one step of m rows whose loss gradient is in `self.dz`: plain
    /// SGD fused into the weight-gradient GEMM, the others from the gradient buffer.
    fn step(&mut self, m: usize, lr: f32, l2: f32) {
        self.t += 1;
        if self.optimizer.method == Method::Sgd {
            self.backward(m, lr, l2, None);
            return;
        }
        let mut g = std::mem::replace(&mut self.grad, Params { layers: Vec::new() });
        self.backward(m, 0.0, l2, Some(&mut g));
        let o = self.optimizer;
        let bias = o.bias_corrections(self.t);
        for l in 0..self.spec.n_layers() {
            for weights in [true, false] {
                let p = tensor(&mut self.params, l, weights);
                let dp = if weights {
                    &g.layers[l].w
                } else {
                    &g.layers[l].b
                };
                match o.method {
                    // Not reached (plain SGD takes the fused path), but correct.
                    Method::Sgd => p.iter_mut().zip(dp).for_each(|(p, g)| *p -= lr * g),
                    Method::Momentum | Method::Nesterov => momentum_update(
                        p,
                        tensor(&mut self.state[0], l, weights),
                        dp,
                        lr,
                        o.momentum,
                        o.method == Method::Nesterov,
                    ),
                    Method::Adam | Method::AdamW => {
                        let (ms, vs) = self.state.split_at_mut(1);
                        let wd = if weights { o.weight_decay } else { 0.0 };
                        adam_update(
                            p,
                            tensor(&mut ms[0], l, weights),
                            tensor(&mut vs[0], l, weights),
                            dp,
                            lr,
                            wd,
                            &o,
                            bias,
                        )
                    }
                }
            }
        }
        self.grad = g;
    }

    fn gather(&mut self, rows: &[u32]) -> usize {
        let d = self.spec.inputs();
        let w = self.spec.outputs();
        let m = rows.len();
        // Random rows of a large set: each is a cache miss, so the threads share them.
        let x = &self.train_x;
        self.acts[0][..m * d]
            .par_chunks_mut(d)
            .with_min_len(16)
            .zip(rows)
            .for_each(|(dst, &r)| x.copy_row(r as usize, dst));
        for (i, &r) in rows.iter().enumerate() {
            let r = r as usize;
            self.y[i * w..(i + 1) * w].copy_from_slice(&self.train_y[r * w..(r + 1) * w]);
        }
        m
    }

    /// The mean loss and gradients on the training rows `rows` (at most one batch), no update.
    pub fn gradients(&mut self, rows: &[u32], l2: f32) -> (f64, Params) {
        let m = self.gather(rows);
        let (loss, _) = self.forward_loss(m);
        let mut g = Params::zeros(&self.spec);
        self.backward(m, 0.0, l2, Some(&mut g));
        (loss / m as f64, g)
    }
}

impl Backend for CpuTrainer {
    fn describe(&self) -> String {
        "cpu (f32, gemm)".into()
    }

    fn train_steps(&mut self, perm: &[u32], hp: &Hyper, lrs: &[f32]) -> Result<Vec<f32>> {
        if hp.batch != self.batch {
            return Err(crate::Error::InvalidArgument(format!(
                "trainer built for batch {}, asked for {}",
                self.batch, hp.batch
            )));
        }
        let steps = perm.len().div_ceil(self.batch);
        if lrs.len() != steps {
            return Err(crate::Error::InvalidArgument(format!(
                "{} learning rates for {steps} steps",
                lrs.len()
            )));
        }
        let mut losses = Vec::with_capacity(steps);
        let pool = self.pool.clone();
        pool.install(|| {
            for (i, (rows, &lr)) in perm.chunks(self.batch).zip(lrs).enumerate() {
                if !losses.is_empty() && crate::train::stop_requested() {
                    break;
                }
                let m = self.gather(rows);
                // The next batch's rows are random rows of a large set: ask for them now, so
                // they arrive while this step computes.
                let d = self.spec.inputs();
                for &r in perm.chunks(self.batch).nth(i + 1).unwrap_or(&[]) {
                    self.train_x.prefetch_row(r as usize, d);
                }
                let (loss, _) = self.forward_loss(m);
                self.step(m, lr, hp.l2);
                losses.push((loss / m as f64) as f32);
                crate::train::note_steps(1);
            }
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
            return Err(crate::Error::InvalidArgument(format!(
                "no evaluation set {set}"
            )));
        }
        // Moved out for the loop, so the forward pass can borrow the trainer.
        let sets = std::mem::take(&mut self.eval);
        let (x, y, n) = &sets[set];
        let (d, w, n) = (self.spec.inputs(), self.spec.outputs(), *n);
        let mut stats = EvalStats::default();
        let mut start = 0;
        while start < n {
            let m = self.batch.min(n - start);
            for i in 0..m {
                x.copy_row(start + i, &mut self.acts[0][i * d..(i + 1) * d]);
            }
            self.y[..m * w].copy_from_slice(&y[start * w..(start + m) * w]);
            let (loss, correct) = self.forward_loss(m);
            stats.loss_sum += loss;
            stats.correct += correct;
            stats.n += m;
            start += m;
        }
        self.eval = sets;
        Ok(stats)
    }

    fn params(&mut self) -> Result<Params> {
        Ok(self.params.clone())
    }

    fn gradients(&mut self, rows: &[u32]) -> Result<(f64, Params)> {
        if rows.is_empty() || rows.len() > self.batch {
            return Err(crate::Error::InvalidArgument(format!(
                "gradients of {} rows with batch {}",
                rows.len(),
                self.batch
            )));
        }
        Ok(CpuTrainer::gradients(self, rows, 0.0))
    }
}
