//! What the parity tests, the benches and the fuzz targets reach below the session, in one
//! place: the GPU path's kernels, buffers, uniforms, parameter layout and trainer, the fast CPU
//! trainer, the training loop and the contract a path fulfils, the seeded generator every
//! test draws its data from, and gradcheck's fault hook.
//!
//! Not a stable API: these are the crate's internals, `pub(crate)` everywhere else, and they
//! change with the code. A program that trains, predicts or evaluates uses the session
//! (`Trainer`, `Model`, `RunPlan`) instead.

/// The GPU path's internals (`crate::gpu`'s private modules).
pub mod gpu {
    /// Buffers, uploads and read-back (`gpu::buffer`).
    pub mod buffer {
        pub use crate::gpu::buffer::*;
    }
    /// The compiled kernels and their launchers (`gpu::kernels`).
    pub mod kernels {
        pub use crate::gpu::kernels::*;
    }
    /// Where each layer's parameters lie in the GPU buffers (`gpu::layout`).
    pub mod layout {
        pub use crate::gpu::layout::*;
    }
    /// The trainer that keeps parameters, activations and gradients in GPU buffers.
    pub mod trainer {
        pub use crate::gpu::trainer::*;
    }
    /// The uniform records the shaders read (`gpu::uniforms`).
    pub mod uniforms {
        pub use crate::gpu::uniforms::*;
    }
    pub use crate::gpu::kernels::{Kernel, Kernels};
    pub use crate::gpu::trainer::GpuTrainer;
}

/// The fast CPU path's trainer and kernels (`cpu::fast`).
pub mod fast {
    pub use crate::cpu::fast::*;
}

/// The training loop (`train::driver`): the `Backend` contract, `Hyper`, and `run_planned`.
pub mod train {
    pub use crate::train::driver::*;
}

pub use crate::rng::Rng;

/// A deliberate error in one path's gradient, a stand-in for a broken kernel, so that a test
/// can prove `gradcheck` fails and names the layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// `reference`, `cpu` or `gpu`.
    pub path: String,
    /// The layer, 1-based.
    pub layer: usize,
    /// The factor its weight gradient is multiplied by.
    pub factor: f64,
}

/// `gradcheck::gradcheck` with `fault` applied to its path's weight gradient of its layer.
pub fn gradcheck_with_fault(
    case: &crate::trace::Case,
    opts: &crate::gradcheck::Options,
    paths: &[crate::trace::PathChoice],
    fault: &Fault,
) -> crate::Result<crate::gradcheck::Report> {
    crate::gradcheck::gradcheck_faulty(case, opts, paths, Some(fault))
}
