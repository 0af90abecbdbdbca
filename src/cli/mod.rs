//! The subcommands, one module each; `main.rs` parses and dispatches.

pub mod bench;
pub mod devices;
pub mod eval;
pub mod plot;
pub mod train;

use anyhow::Result;

pub fn parse_list<T: std::str::FromStr>(s: &str, what: &str) -> Result<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<T>()
                .map_err(|e| anyhow::anyhow!("--{what}: '{}': {e}", p.trim()))
        })
        .collect()
}
