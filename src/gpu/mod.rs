//! The GPU path: context (adapter, device, limits), the uniforms the shaders read, the kernels
//! and the choice of their matmul variant (tuning), buffers and read-back, the parameter layout,
//! the plan of one step's dispatches, and the trainer that keeps everything in GPU buffers.

pub mod buffer;
pub mod context;
pub mod kernels;
pub mod layout;
pub mod peak;
mod plan;
pub mod trainer;
pub mod tuning;
pub mod uniforms;

pub use context::{BackendChoice, GpuContext};
pub use kernels::{Kernel, Kernels, MatmulVariant};
pub use trainer::GpuTrainer;
