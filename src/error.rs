//! The library's error type: one enum, each message naming what was wrong and what to change.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line or API argument that cannot work (unknown name, zero batch, bad lr).
    #[error("{0}")]
    InvalidArgument(String),
    /// A data file that cannot be read or parsed.
    #[error("{path}: {msg}")]
    Data { path: PathBuf, msg: String },
    /// A checkpoint that cannot be read, or does not fit the network.
    #[error("{path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    /// Tensors whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// No adapter, a limit exceeded, a device error.
    #[error("{0}")]
    Gpu(String),
    /// Training produced a non-finite loss or parameter.
    #[error("{0}")]
    Diverged(String),
    /// The OS error is part of the message, not a `source`, so `{:#}` prints it once.
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
}

impl Error {
    pub fn data(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::Data {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
