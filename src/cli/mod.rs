//! The subcommands, one module each; `main.rs` parses and dispatches.

pub mod bench;
pub mod devices;
pub mod eval;
pub mod gradcheck;
pub mod plot;
pub mod schema;
pub mod selftest;
pub mod signals;
pub mod table;
pub mod trace;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result};

/// An error as the command line says it: each cause in turn, `a: b`, with the library's
/// setting names turned into the flags that set them (`lr must be...` becomes `--lr must be...`).
pub fn message(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| match cause.downcast_ref::<wgtrain::Error>() {
            Some(
                e @ (wgtrain::Error::Limit { .. }
                | wgtrain::Error::OutOfMemory(_)
                | wgtrain::Error::Shape(_)
                | wgtrain::Error::Diverged(_)),
            ) => e
                .show(flag)
                .replace("a smaller batch", "a smaller --batch")
                .replace("a larger batch", "a larger --batch")
                .replace("or the CPU path", "or --device cpu")
                .replace("a lower learning rate", "a lower --lr"),
            Some(e) => e.show(flag),
            _ => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// For an error reading a table (a `.csv` or `.tsv` file, gzipped or not, that exists and is
/// text: a workbook's error says what to do itself), where
/// to look next: `wgtrain schema` shows how each of its columns is read (`--model`: how that
/// model reads them, for eval and predict).
pub fn schema_hint(e: &anyhow::Error, model: Option<&std::path::Path>) -> Option<String> {
    e.chain()
        .find_map(|cause| match cause.downcast_ref::<wgtrain::Error>() {
            Some(wgtrain::Error::Data { path, .. }) => {
                let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
                let table = [".csv", ".tsv", ".csv.gz", ".tsv.gz"]
                    .iter()
                    .any(|ext| name.ends_with(ext));
                (table && path.is_file() && wgtrain::data::is_text(path)).then(|| match model {
                    None => format!(
                        "`wgtrain schema {}` shows how each of its columns is read",
                        path.display()
                    ),
                    Some(m) => format!(
                        "`wgtrain schema --model {} {}` shows how the model reads each of its columns",
                        m.display(),
                        path.display()
                    ),
                })
            }
            _ => None,
        })
}

/// A library note with its settings spelled as flags.
pub fn in_flags(note: &str) -> String {
    wgtrain::error::name_settings(note, flag)
}

/// The items of a comma list (none for an empty string), each error naming `--{what}`.
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

/// The architecture flags, as given (`None` where not given).
pub fn arch(
    hidden: &Option<String>,
    activation: &Option<String>,
    output: Option<wgtrain::Output>,
    loss: Option<wgtrain::Loss>,
) -> Result<wgtrain::run::Arch> {
    Ok(wgtrain::run::Arch {
        hidden: hidden
            .as_deref()
            .map(|h| parse_list(h, "hidden"))
            .transpose()?,
        activations: activation
            .as_deref()
            .map(|a| parse_list(a, "activation"))
            .transpose()?,
        output,
        loss,
    })
}

/// The flag (or environment variable) that sets the library's setting `arg`: `label_column`
/// is `--label-column`, `font` is `WGTRAIN_FONT`, `table` the model's CSV table.
pub fn flag(arg: &str) -> String {
    match arg {
        "font" => "WGTRAIN_FONT".into(),
        "matmul" => "WGTRAIN_MATMUL".into(),
        "split_k" => "WGTRAIN_SPLIT_K".into(),
        "table" => "the model's CSV table:".into(),
        "features" => "--feature".into(),
        "shader_checks" => "WGTRAIN_SHADER_CHECKS".into(),
        _ => format!("--{}", arg.replace('_', "-")),
    }
}

/// The GPU options of `--backend` and the environment (`GpuOptions::from_env`).
pub fn gpu_options(backend: wgtrain::config::BackendChoice) -> Result<wgtrain::GpuOptions> {
    Ok(wgtrain::GpuOptions::from_env(backend)?)
}

/// Where named IDX datasets are looked for: `$WGTRAIN_DATA`, `./data`, `~/.cache/wgtrain`,
/// `/usr/share/datasets`.
pub fn data_roots() -> Vec<std::path::PathBuf> {
    use std::path::PathBuf;
    let mut roots = Vec::new();
    if let Some(d) = std::env::var_os("WGTRAIN_DATA").filter(|v| !v.is_empty()) {
        roots.push(PathBuf::from(d));
    }
    roots.push(PathBuf::from("data"));
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        roots.push(PathBuf::from(home).join(".cache/wgtrain"));
    }
    roots.push(PathBuf::from("/usr/share/datasets"));
    roots
}

/// The plots' font: `WGTRAIN_FONT` when set, else the library's usual locations.
pub fn font() -> Option<std::path::PathBuf> {
    std::env::var_os("WGTRAIN_FONT")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
}

/// Sizes the CPU path's thread pool (`--threads`, else `RAYON_NUM_THREADS`) for the whole
/// process (`config::set_threads`). Must run before anything uses the pool.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    Ok(wgtrain::config::set_threads(threads)?)
}

/// Writes a command's result to stdout, flushed: a full device (`> /dev/full`) or another write
/// error is an error saying so, not a panic in println!.
pub fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write the results to standard output")
}

/// Fails early, before any work, when `path` cannot be the command's output
/// (`run::check_output`: its folder, its kind, its name, the temporary name a save uses).
pub fn check_writable(path: &Path) -> Result<()> {
    Ok(wgtrain::run::check_output(path)?)
}

/// Fails when an output is the same file as an input or as another output. Each is
/// `(flag, path)`.
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    Ok(wgtrain::run::check_distinct(inputs, outputs)?)
}
