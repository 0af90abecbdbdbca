//! The subcommands, one module each; `main.rs` parses and dispatches.

pub mod bench;
pub mod devices;
pub mod eval;
pub mod plot;
pub mod train;
