//! The GPU path: context (adapter, device, limits), the kernels and the choice of their matmul
//! variant, and the trainer that keeps everything in GPU buffers.

pub mod context;
pub mod kernels;
pub mod peak;
pub mod trainer;
pub mod tuning;

pub use context::{BackendChoice, GpuContext};
pub use kernels::{Kernel, Kernels, MatmulVariant};
pub use trainer::GpuTrainer;
