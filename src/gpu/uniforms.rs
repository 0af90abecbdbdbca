//! The `#[repr(C)]` mirrors of the shaders' `Params` and `Step` uniforms, each with a size
//! assertion, and the constants that decide their fields.

use bytemuck::{Pod, Zeroable};

/// Bytes per slot of the per-step uniform (and its dynamic offset stride at least this).
pub const STEP_SLOT: u64 = 256;

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
    /// Split K (`KSplit`): slices of k, the dispatch's z dimension (0 or 1: not split;
    /// c and db then receive each slice's raw partial sums for `ReduceParams`' kernels).
    pub splits: u32,
    /// k terms per slice, a multiple of 16.
    pub kslice: u32,
    pub _pad: u32,
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
            splits: 1,
            kslice: 0,
            _pad: 0,
        }
    }

    /// These params with k split as `split` says.
    pub fn split(self, split: KSplit) -> MatmulParams {
        MatmulParams {
            splits: split.splits,
            kslice: split.kslice,
            ..self
        }
    }
}

/// How a matmul's sum over k is split across workgroups (matmul.wgsl, "Split K"); chosen by
/// `KSplit::plan` and `KSplit::slices` (kernels' grid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KSplit {
    /// Slices, the dispatch's z dimension; 1: not split.
    pub splits: u32,
    /// k terms per slice (a multiple of 16), the last slice takes what is left; 0 when not split.
    pub kslice: u32,
}

/// `Params` of reduce.wgsl: the second dispatch of a matmul whose k was split.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct ReduceParams {
    pub m: u32,
    pub n: u32,
    pub splits: u32,
    pub act: u32,
    /// reduce_backward_weight only: 1 adds to c and db, 0 overwrites them.
    pub accumulate: u32,
    pub _pad: [u32; 3],
}

impl ReduceParams {
    /// The reduction of the split matmul `p` describes.
    pub fn of(p: &MatmulParams) -> ReduceParams {
        ReduceParams {
            m: p.m,
            n: p.n,
            splits: p.splits.max(1),
            act: p.act,
            accumulate: p.accumulate,
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
const _: () = assert!(std::mem::size_of::<ReduceParams>() == 32);
const _: () = assert!(std::mem::size_of::<GatherParams>() == 32);
const _: () = assert!(std::mem::size_of::<LossParams>() == 32);
const _: () = assert!(std::mem::size_of::<SgdParams>() == 16);
const _: () = assert!(std::mem::size_of::<OptimParams>() == 48);
const _: () = assert!(std::mem::size_of::<StepInfo>() == 32);
const _: () = assert!(std::mem::size_of::<StepInfo>() as u64 <= STEP_SLOT);
