//! One step of the fast path: its phases in order (gather, forward, loss, input gradients,
//! updates) and the job every thread runs on its part of each phase.

use std::sync::Mutex;

use super::gemm::{Block, Rect};
use super::ops::{
    activation_backward, bias_activation, loss_forward_backward, optimize, transpose_rows,
};
use crate::data::Inputs;
use crate::model::{Activation, Spec};
use crate::optim::Optimizer;

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
pub(super) fn phases(layers: usize, by_rows: bool, backward: bool) -> Vec<Phase> {
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
            then(&mut p, Phase::MatmulBackwardInput(l));
        }
        p.push(Phase::Barrier);
        p.extend((0..layers).rev().map(Phase::Update));
    }
    p
}

/// Rows of a step each part needs at least for the step to be shared out by rows.
const ROWS_PER_PART: usize = 16;

/// Whether a step of m rows in `parts` parts splits its GEMMs by rows (see `phases`).
pub(super) fn by_rows(m: usize, parts: usize) -> bool {
    parts > 1 && m >= parts * ROWS_PER_PART
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Phase {
    Gather,
    Forward(usize),
    Loss,
    MatmulBackwardInput(usize),
    Update(usize),
    /// A team's members wait for each other here.
    Barrier,
}

/// A buffer that the parts of a phase write in disjoint pieces, each read by other parts only
/// in a later phase.
#[derive(Clone, Copy)]
pub(super) struct Raw {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: a Raw points into a buffer that `CpuTrainer::drive` borrows mutably for as long as
// any step runs; the parts keep to the contract of `part` and `read`.
unsafe impl Send for Raw {}
// SAFETY: as above.
unsafe impl Sync for Raw {}

impl Raw {
    pub(super) fn new(v: &mut [f32]) -> Raw {
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
pub(super) enum BatchRows<'a> {
    /// Training rows by index (a batch of the epoch's permutation).
    Train(&'a [u32]),
    /// Evaluation set `.0` from row `.1` on.
    Eval(usize, usize),
}

/// What a step does after the forward pass and the loss.
#[derive(Clone, Copy)]
pub(super) enum Update {
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
pub(super) struct Step<'a> {
    pub(super) m: usize,
    pub(super) rows: BatchRows<'a>,
    pub(super) next: &'a [u32],
    pub(super) update: Update,
}

/// What every part of every step sees: the shapes, the data, and raw views of every buffer.
/// Within a phase each element is written by one part only; whatever a phase reads was written
/// in an earlier phase.
pub(super) struct Job<'a> {
    pub(super) spec: &'a Spec,
    pub(super) train: (&'a Inputs, &'a [f32]),
    pub(super) eval: &'a [(Inputs, Vec<f32>, usize)],
    pub(super) l2: f32,
    pub(super) acts: Vec<Raw>,
    /// Each layer's output gradient (the last's from the loss) and bias gradient.
    pub(super) dz: Vec<Raw>,
    pub(super) db: Vec<Raw>,
    /// Each layer's weights transposed (see `CpuTrainer::wt`).
    pub(super) wt: Vec<Raw>,
    pub(super) y: Raw,
    pub(super) w: Vec<Raw>,
    pub(super) b: Vec<Raw>,
    /// Gradients per layer, for `Update::Grads` and `Update::Optim`.
    pub(super) gw: Vec<Raw>,
    pub(super) gb: Vec<Raw>,
    /// Optimiser state per slot: (weights, biases) per layer.
    pub(super) slots: Vec<(Vec<Raw>, Vec<Raw>)>,
    /// Summed loss and rows right, per part.
    pub(super) results: Vec<Mutex<(f64, usize)>>,
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
pub(super) type Part = (usize, usize);

/// The half-open range of `0..len` that part `index` of `parts` takes, in index order.
fn share(len: usize, (index, parts): Part) -> (usize, usize) {
    (len * index / parts, len * (index + 1) / parts)
}

impl Job<'_> {
    pub(super) fn phase(&self, s: &Step, phase: Phase, part: Part) {
        match phase {
            Phase::Gather => self.gather(s, part),
            Phase::Forward(l) => self.forward(s, l, part),
            Phase::Loss => self.loss(s, part),
            Phase::MatmulBackwardInput(l) => self.matmul_backward_input(s, l, part),
            Phase::Barrier => {}
            Phase::Update(l) => {
                let (k, n) = self.spec.layer_shape(l);
                let (r0, r1) = share(k, part);
                if r0 < r1 {
                    // SAFETY: rows r0..r1 of the layer's weights (and of their gradients and
                    // state) are this part's; x and dz were written in earlier phases.
                    unsafe { self.matmul_backward_weight(s, l, (r0, r1)) };
                }
                let (c0, c1) = share(n, part);
                if c0 < c1 {
                    // SAFETY: columns c0..c1 of the biases and of db are this part's.
                    unsafe { self.bias_backward(s, l, (c0, c1)) };
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
            BatchRows::Train(rows) => {
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
            BatchRows::Eval(set, start) => {
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
    fn matmul_backward_input(&self, s: &Step, l: usize, part: Part) {
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
                    *d *= activation_backward(act, a);
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
    unsafe fn matmul_backward_weight(&self, s: &Step, l: usize, (r0, r1): (usize, usize)) {
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
    unsafe fn bias_backward(&self, s: &Step, l: usize, (c0, c1): (usize, usize)) {
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
