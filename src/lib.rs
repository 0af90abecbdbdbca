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
//! A session on your own data (the CPU path here; `Device::default()` takes a hardware GPU when
//! there is one):
//!
//! ```
//! use wgtrain::data::{Dataset, Targets};
//! use wgtrain::{Config, Device, Model, Spec, Trainer};
//!
//! # fn main() -> wgtrain::Result<()> {
//! // Four rows of two features, the XOR of their signs as the class: x is (4, 2) row-major.
//! let x = vec![-1.0, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0];
//! let labels = vec![0, 1, 1, 0];
//! let data = Dataset::new("xor", x, 4, 2, Targets::Classes { labels, n_classes: 2 })?;
//! let config = Config { lr: 0.5, batch: 4, epochs: 300, ..Config::default() };
//! let spec = Spec::classifier(2, &[8], 2)?; // 2-8(relu)-2 softmax/cross-entropy
//! let mut trainer = Trainer::new(Model::init(spec, 1)?, data, config).device(Device::cpu());
//! let fit = trainer.fit(|_epoch| Ok(()))?;
//! assert!(fit.reports.last().unwrap().train_loss < 0.1);
//! let probs = trainer.model()?.predict_f32(&[-1.0, 1.0])?; // one row: P(class 0), P(class 1)
//! assert!(probs[1] > 0.9);
//! # Ok(()) }
//! ```
//!
//! The session: `Trainer` (with `Config` and `Device`) trains a `Model` and hands each epoch's
//! `EpochReport` to a callback; a `StopToken` ends it early; `Model` predicts, evaluates, saves
//! and loads, applying its own input standardisation. `data` loads datasets (IDX, CSV, the
//! built-in digits and xor), `checkpoint` reads and writes safetensors, `evaluate` measures a
//! model, `bench` runs the benchmark tasks, `plot` (feature `plot`) draws a run's metrics,
//! `trace` shows every number of a few steps of a small network beside its finite difference,
//! and `gradcheck` checks every path's gradients on a user's network against them.
//! Below them, `cpu::reference` computes each op in f64 and proves the two training paths right:
//! the fast CPU path and the GPU path, whose kernels, buffers and trainer are crate-private;
//! the parity tests reach them through one module, `testing` (hidden from these docs, not a
//! stable API). Errors are one `Error` a caller can match on.

pub mod bench;
pub(crate) mod blocking;
pub mod checkpoint;
pub mod config;
pub mod cpu;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod files;
pub mod gpu;
pub mod gradcheck;
pub mod memory;
pub mod model;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
pub(crate) mod rng;
pub mod run;
pub mod selftest;
pub mod session;
#[doc(hidden)]
pub mod testing;
pub mod trace;
pub mod train;
pub mod trained;

pub use config::{ClassWeights, Config, Device, GpuOptions};
pub use data::Dataset;
pub use error::{Error, Result};
pub use model::{Activation, Loss, Output, Spec};
pub use optim::{Method, Optimizer, Schedule};
pub use run::{Run, RunPlan};
pub use session::{Checkpoints, Fit, Trainer};
pub use train::{EpochReport, StopToken};
pub use trained::Model;

/// The README and the guides in docs/ as doctests: each Rust block in them compiles and runs
/// under `cargo test --doc` (their shell examples run in `tests/readme.rs`).
#[cfg(doctest)]
mod readme_doctests {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/BENCHMARKS.md")]
    struct Benchmarks;
    #[doc = include_str!("../docs/BROWSER.md")]
    struct Browser;
    #[doc = include_str!("../docs/CLI.md")]
    struct Cli;
    #[doc = include_str!("../docs/DATASETS.md")]
    struct Datasets;
    #[doc = include_str!("../docs/FORMATS.md")]
    struct Formats;
    #[doc = include_str!("../docs/GPU-KERNELS.md")]
    struct GpuKernels;
    #[doc = include_str!("../docs/HOW-IT-WORKS.md")]
    struct HowItWorks;
    #[doc = include_str!("../docs/INTEROP.md")]
    struct Interop;
    #[doc = include_str!("../docs/LIBRARY.md")]
    struct Library;
    #[doc = include_str!("../docs/MATH.md")]
    struct Math;
    #[doc = include_str!("../docs/RELIABILITY.md")]
    struct Reliability;
    #[doc = include_str!("../docs/TESTING.md")]
    struct Testing;
    #[doc = include_str!("../docs/TRACE.md")]
    struct Trace;
}
