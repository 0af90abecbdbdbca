//! The GPU path: context (adapter, device, limits), the kernels, and the trainer that keeps
//! everything in GPU buffers.

pub mod context;
pub mod kernels;
pub mod peak;
pub mod trainer;

pub use context::{BackendChoice, GpuContext};
pub use kernels::{Kernel, Kernels};
pub use trainer::GpuTrainer;
