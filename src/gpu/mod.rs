//! The GPU path: context (adapter, device, limits), the uniforms the shaders read, the kernels
//! and the choice of their matmul variant (tuning), buffers and read-back, the parameter layout,
//! the plan of one step's dispatches, and the trainer that keeps everything in GPU buffers.

#[doc(hidden)]
pub mod buffer;
pub mod context;
#[doc(hidden)]
pub mod kernels;
#[doc(hidden)]
pub mod layout;
pub mod peak;
mod plan;
#[doc(hidden)]
pub mod trainer;
pub mod tuning;
#[doc(hidden)]
pub mod uniforms;

pub use context::{BackendChoice, GpuContext};
pub use kernels::MatmulVariant;
#[doc(hidden)]
pub use kernels::{Kernel, Kernels};
#[doc(hidden)]
pub use trainer::GpuTrainer;
