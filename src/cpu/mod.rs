//! The CPU paths: the f64 reference that proves the others right, and the fast f32 trainer.

#[doc(hidden)]
pub mod fast;
pub mod peak;
pub mod reference;
