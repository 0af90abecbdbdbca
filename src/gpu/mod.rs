//! The GPU path: context (adapter, device, limits), the uniforms the shaders read, the kernels
//! and the choice of their matmul variant, buffers and read-back, and the trainer that keeps
//! everything in GPU buffers.

pub mod buffer;
pub mod context;
pub mod kernels;
pub mod peak;
pub mod trainer;
pub mod tuning;
pub mod uniforms;

pub use context::{BackendChoice, GpuContext};
pub use kernels::{Kernel, Kernels, MatmulVariant};
pub use trainer::GpuTrainer;
