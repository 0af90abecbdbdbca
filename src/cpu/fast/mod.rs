//! The fast CPU path: f32, threaded GEMM (the gemm crate, AVX-512 where the CPU has it; its own
//! kernel for small products where the CPU has AVX2), bias + activation in one pass over the
//! output, plain SGD's update fused into the weight-gradient GEMM (the other optimisers update
//! from a gradient buffer), no allocation inside an epoch.
//!
//! `gemm` wraps the GEMM, `small` is the kernel for small products, `ops` holds the f32 twins of
//! the reference's ops, `step` lays out one step's phases and the job a thread runs on its part
//! of each, `trainer` owns the buffers and drives the steps, `team` is the set of threads that
//! runs them, `flush` the subnormal flushing they all run under.

mod flush;
mod gemm;
mod ops;
mod small;
mod step;
mod team;
mod trainer;

pub use gemm::sgemm;
pub use ops::{argmax, matmul_forward};
pub use trainer::CpuTrainer;
