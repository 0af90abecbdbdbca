//! The library's error type: one enum a caller can match on, each message naming what was wrong
//! (a setting, a limit, a file) and what to change, in the library's terms: the CLI turns a
//! setting's name into its flag.

use std::path::PathBuf;

/// Everything the library can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An argument that cannot work (unknown name, zero batch, bad lr). `arg` names it as the
    /// library's config does (`lr`, `batch`, `hidden`, `label_column`), when one argument is to
    /// blame; `msg` says what is wrong and reads on after the name.
    #[error("{}{msg}", arg.map_or(String::new(), |a| format!("{a} ")))]
    InvalidArgument {
        /// The setting to blame, as the library names it; None when no one setting is.
        arg: Option<&'static str>,
        /// What is wrong, reading on after the name.
        msg: String,
    },
    /// A data file that cannot be read or parsed.
    #[error("{path}: {msg}")]
    Data {
        /// The file (or the built-in set's name).
        path: PathBuf,
        /// What is wrong with it, and where (line, column, record).
        msg: String,
    },
    /// A dataset or input matrix given to the library whose parts do not fit (lengths, a label
    /// not below the class count) or that holds a value training cannot use (NaN, infinity).
    /// `fit`, `predict` and `evaluate` check what they are given before any work, so a
    /// `Dataset` built by hand through its public fields gets this error, never a panic.
    #[error("{dataset}: {msg}")]
    InvalidData {
        /// The dataset's name ("digits (train)", "foo.csv"), or "the inputs" for `predict`'s.
        dataset: String,
        /// The row (sample) to blame, 0-based, when one is.
        row: Option<usize>,
        /// The column of that row to blame (an input or target column), 0-based, when one is.
        column: Option<usize>,
        /// What is wrong, and where.
        msg: String,
    },
    /// A checkpoint that cannot be read, or does not fit the network.
    #[error("{path}: {msg}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        msg: String,
    },
    /// Tensors whose shapes do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// No GPU adapter was found (the message says how to install one).
    #[error("{0}")]
    NoAdapter(String),
    /// A buffer or dispatch over one of the adapter's limits: `limit` is wgpu's name for it,
    /// `needed` and `available` in its unit (bytes, workgroups, iterations).
    #[error(
        "{what} needs {}, but this adapter's {limit} is {}: {advice}",
        amount(limit, *needed),
        amount(limit, *available)
    )]
    Limit {
        /// What needs more than the adapter allows ("layer 1's activations for 4096 rows").
        what: String,
        /// wgpu's name for the limit (`max_storage_buffer_binding_size`), or a driver's.
        limit: &'static str,
        /// How much `what` needs.
        needed: u64,
        /// How much the adapter allows.
        available: u64,
        /// What to change so that it fits.
        advice: String,
    },
    /// The device ran out of memory.
    #[error("{0}")]
    OutOfMemory(String),
    /// The device was lost (driver reset, GPU removed).
    #[error("the GPU device was lost: {0}")]
    DeviceLost(String),
    /// Any other GPU error (a validation or driver error).
    #[error("{0}")]
    Gpu(String),
    /// Training produced a non-finite loss or parameter.
    #[error("{0}")]
    Diverged(String),
    /// The error a `fit` callback returned as its own (`Error::callback(e)`), handed back as it
    /// was given: match on this variant and `downcast_ref` the box to get the caller's type
    /// back. Its message and source are the caller's error's own.
    #[error(transparent)]
    Callback(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The OS error is part of the message, not a `source`, so `{:#}` prints it once.
    #[error("{path}: {err}")]
    Io {
        /// The file read or written.
        path: PathBuf,
        /// What the operating system said.
        err: std::io::Error,
    },
}

/// A limit's figure in its unit: MiB for the byte sizes, a plain count otherwise.
fn amount(limit: &str, n: u64) -> String {
    if limit.ends_with("_size") {
        format!("{} MiB", n.div_ceil(1 << 20))
    } else {
        n.to_string()
    }
}

impl Error {
    /// `arg` cannot work: `msg` reads on after its name (`"must be at least 1"`).
    pub fn invalid(arg: &'static str, msg: impl Into<String>) -> Error {
        Error::InvalidArgument {
            arg: Some(arg),
            msg: msg.into(),
        }
    }

    /// Arguments that cannot work together, or a request that cannot, with no one argument to
    /// blame.
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::InvalidArgument {
            arg: None,
            msg: msg.into(),
        }
    }

    /// A data file `path` that cannot be read or parsed, `msg` saying why.
    pub fn data(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::Data {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// A caller's own error from a `fit` callback: anything that is a `std::error::Error +
    /// Send + Sync` (an `io::Error`, your own type, an `anyhow::Error`), or a `String` or `&str`.
    /// `fit` ends at once and returns it as `Error::Callback`, untouched:
    ///
    /// ```no_run
    /// # fn demo(trainer: &mut wgtrain::Trainer) -> wgtrain::Result<()> {
    /// use std::io::Write;
    /// let mut log = std::fs::File::create("losses.txt").map_err(wgtrain::Error::callback)?;
    /// let fit = trainer.fit(|r| {
    ///     writeln!(log, "{} {}", r.epoch, r.train_loss).map_err(wgtrain::Error::callback)
    /// });
    /// if let Err(wgtrain::Error::Callback(e)) = &fit {
    ///     let io: Option<&std::io::Error> = e.downcast_ref();
    ///     eprintln!("the log failed: {io:?}; the run stands at {:?}", trainer.progress());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn callback(err: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Error {
        Error::Callback(err.into())
    }

    /// Dataset `dataset` is invalid at `row`, `column` (either None when none is to blame).
    pub(crate) fn invalid_data(
        dataset: impl Into<String>,
        row: Option<usize>,
        column: Option<usize>,
        msg: impl Into<String>,
    ) -> Error {
        Error::InvalidData {
            dataset: dataset.into(),
            row,
            column,
            msg: msg.into(),
        }
    }

    /// The message with every setting named as `name` spells it: the blamed `arg` first, and
    /// each "the setting `NAME`" (or "no setting `NAME`") in the text. A command line passes
    /// its flags (`lr` as `--lr`); `to_string()` is `show(|n| n.to_string())` with the phrases
    /// kept.
    pub fn show(&self, name: impl Fn(&str) -> String) -> String {
        let text = match self {
            Error::InvalidArgument { arg: Some(a), msg } => format!("{} {msg}", name(a)),
            e => e.to_string(),
        };
        name_settings(&text, name)
    }

    /// A checkpoint `path` that cannot be read or does not fit, `msg` saying why.
    pub fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Error {
        Error::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

/// `msg` with each "the setting `NAME`" as `name(NAME)` and each "no setting `NAME`" as
/// "no " and `name(NAME)`.
pub fn name_settings(msg: &str, name: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = msg;
    loop {
        let next = ["the setting `", "no setting `"]
            .iter()
            .filter_map(|p| rest.find(p).map(|at| (at, *p)))
            .min();
        let Some((at, phrase)) = next else { break };
        let after = &rest[at + phrase.len()..];
        let Some(end) = after.find('`') else { break };
        out += &rest[..at];
        if phrase.starts_with("no") {
            out += "no ";
        }
        out += &name(&after[..end]);
        rest = &after[end + 1..];
    }
    out + rest
}

/// The library's result: `Error` unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `v`, the setting `arg`, must be a positive finite number: else the error that says so.
pub(crate) fn check_positive<T: Into<f64> + std::fmt::Display + Copy>(
    arg: &'static str,
    v: T,
) -> Result<()> {
    let x: f64 = v.into();
    if x.is_finite() && x > 0.0 {
        return Ok(());
    }
    Err(Error::invalid(
        arg,
        format!("must be a positive finite number, got {v}"),
    ))
}

/// `v`, the setting `arg`, must be zero or a positive finite number: else the error that says so.
pub(crate) fn check_non_negative<T: Into<f64> + std::fmt::Display + Copy>(
    arg: &'static str,
    v: T,
) -> Result<()> {
    let x: f64 = v.into();
    if x.is_finite() && x >= 0.0 {
        return Ok(());
    }
    Err(Error::invalid(
        arg,
        format!("must be zero or a positive finite number, got {v}"),
    ))
}
