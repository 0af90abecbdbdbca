#![warn(missing_docs)]
//! wgtrain: dense neural networks trained with WGSL compute shaders through wgpu, proved right
//! against a plain CPU reference.
//!
//! One training step, on every path:
//! ```text
//! forward   A_l = act_l(A_{l-1}·W_l + b_l)              matmul_forward (bias + activation fused)
//! loss      L, dZ_L = loss_forward_backward(A_L, Y)     softmax/bce on logits, mse on outputs
//! backward  dW_l = A_{l-1}ᵀ·dZ_l, db_l = Σ_rows dZ_l     matmul_backward_weight (db in the same pass)
//!           dZ_{l-1} = (dZ_l·W_lᵀ) ∘ act'(A_{l-1})       matmul_backward_input (derivative fused)
//! update    θ -= lr·(dθ + 2λθ)   (λ on weights only)    sgd_update
//!           or momentum / Nesterov / Adam / AdamW        momentum_update, adam_update
//! ```
//!
//! `cpu::reference` computes each op in f64 and proves the others right; `cpu::fast` and `gpu`
//! are the two training paths behind `train::Backend`; `train` drives epochs, `data` loads
//! datasets, `checkpoint` reads and writes safetensors, `settings` turns flags into a run's
//! settings (checked against a resumed checkpoint), `evaluate` and `plot` serve the CLI.

pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod cpu;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod gpu;
pub mod model;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
#[doc(hidden)]
pub mod rng;
pub mod session;
pub mod train;
pub mod trained;

pub use config::{Config, Device, GpuOptions};
pub use data::Dataset;
pub use error::{Error, Result};
pub use model::{Activation, Loss, Output, Spec};
pub use optim::{Method, Optimizer, Schedule};
pub use session::{Checkpoints, Fit, Trainer};
pub use train::{EpochReport, StopToken};
pub use trained::Model;
