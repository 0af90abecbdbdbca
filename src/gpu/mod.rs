//! The GPU path: context (adapter, device, limits), the uniforms the shaders read, the kernels
//! and the choice of their matmul variant (tuning), buffers and read-back, the parameter layout,
//! the plan of one step's dispatches, and the trainer that keeps everything in GPU buffers.

// The modules below are crate-private: the session drives them, and the parity tests and
// benches reach them through `crate::testing`. Their items are documented where a reader of
// the code needs it (each kernel's shapes, each uniform record's shader); the lint for
// missing docs, which asks it of every public item, is not applied to them.
#[allow(missing_docs)]
pub(crate) mod buffer;
pub mod context;
#[allow(missing_docs)]
pub(crate) mod kernels;
#[allow(missing_docs)]
pub(crate) mod layout;
pub mod peak;
mod plan;
#[allow(missing_docs)]
pub(crate) mod trainer;
pub mod tuning;
#[allow(missing_docs)]
pub(crate) mod uniforms;

pub use context::{BackendChoice, GpuContext};
pub use kernels::MatmulVariant;
pub(crate) use trainer::GpuTrainer;
