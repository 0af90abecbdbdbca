//! The CPU paths: the f64 reference that proves the others right, and the fast f32 trainer.

// Crate-private (the parity tests reach it through `crate::testing`); see `gpu` on the lint
// for missing docs.
#[allow(missing_docs)]
pub(crate) mod fast;
pub mod peak;
pub mod reference;
