//! The subcommands, one module each; `main.rs` parses and dispatches.

pub mod bench;
pub mod devices;
pub mod eval;
pub mod plot;
pub mod train;

use std::path::Path;

use anyhow::{Result, bail};

/// Fails early when `path`'s folder does not exist, rather than after training.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "{}: the folder {} does not exist",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        bail!("{}: is a folder, not a file name", path.display());
    }
    Ok(())
}
