//! The subcommands, one module each; `main.rs` parses and dispatches.

pub mod bench;
pub mod devices;
pub mod eval;
pub mod gradcheck;
pub mod plot;
pub mod selftest;
pub mod settings;
pub mod signals;
pub mod trace;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result, bail};

/// An error as the command line says it: each cause in turn, `a: b`, with the library's
/// setting names turned into the flags that set them (`lr must be...` becomes `--lr must be...`).
pub fn message(e: &anyhow::Error) -> String {
    e.chain()
        .map(|cause| match cause.downcast_ref::<wgtrain::Error>() {
            Some(wgtrain::Error::InvalidArgument {
                arg: Some(arg),
                msg,
            }) => {
                format!("{} {msg}", flag(arg))
            }
            Some(
                e @ (wgtrain::Error::Limit { .. }
                | wgtrain::Error::OutOfMemory(_)
                | wgtrain::Error::Shape(_)
                | wgtrain::Error::Diverged(_)),
            ) => e
                .to_string()
                .replace("a smaller batch", "a smaller --batch")
                .replace("a larger batch", "a larger --batch")
                .replace("or the CPU path", "or --device cpu")
                .replace("a lower learning rate", "a lower --lr"),
            Some(e @ wgtrain::Error::Data { .. }) => settings_as_flags(&e.to_string()),
            _ => cause.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// `msg` with each "the setting `NAME`" that a data error names turned into the flag.
fn settings_as_flags(msg: &str) -> String {
    let mut out = String::new();
    let mut rest = msg;
    while let Some(at) = rest.find("the setting `") {
        out += &rest[..at];
        let after = &rest[at + "the setting `".len()..];
        match after.find('`') {
            Some(end) => {
                out += &flag(&after[..end]);
                rest = &after[end + 1..];
            }
            None => {
                out += &rest[at..];
                rest = "";
            }
        }
    }
    out + rest
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

/// The GPU options of `--backend`, with the adapter `WGPU_ADAPTER_NAME` names and the matmul
/// choice of `WGTRAIN_MATMUL`; `WGTRAIN_SHADER_CHECKS=1` compiles every shader with naga's
/// runtime checks (`0` or unset: the guarded modules without them).
pub fn gpu_options(backend: wgtrain::gpu::BackendChoice) -> Result<wgtrain::GpuOptions> {
    let shader_checks = match std::env::var("WGTRAIN_SHADER_CHECKS").as_deref() {
        Err(_) | Ok("") | Ok("0") => false,
        Ok("1") => true,
        Ok(v) => bail!("WGTRAIN_SHADER_CHECKS={v}: expected 0 or 1"),
    };
    Ok(wgtrain::GpuOptions {
        backend,
        adapter: std::env::var("WGPU_ADAPTER_NAME")
            .ok()
            .filter(|n| !n.is_empty()),
        matmul: matmul_config()?,
        shader_checks,
    })
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

/// Sizes the CPU path's thread pool (`--threads`): None keeps one thread per core, or
/// `RAYON_NUM_THREADS`. Both are bounded by `MAX_THREADS`. Must run before anything uses the
/// pool.
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    use wgtrain::config::MAX_THREADS;
    let threads = match (threads, std::env::var("RAYON_NUM_THREADS")) {
        (Some(0), _) => bail!("--threads must be at least 1"),
        (Some(n), _) if n > MAX_THREADS => {
            bail!("--threads {n} is over the limit of {MAX_THREADS}")
        }
        (Some(n), _) => Some(n),
        (None, Ok(v)) => match v.trim().parse::<usize>() {
            // Rayon's own meaning of 0: one per core.
            Ok(n) if n <= MAX_THREADS => None,
            _ => bail!(
                "RAYON_NUM_THREADS={v}: expected a whole number of threads up to {MAX_THREADS}"
            ),
        },
        (None, Err(_)) => None,
    };
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("--threads {n}: cannot start the thread pool: {e}"))?;
    }
    Ok(())
}

/// Refuses a `WGPU_BACKEND` that names no backend (wgpu would silently search none).
pub fn check_backend_env() -> Result<()> {
    const NAMES: [&str; 10] = [
        "vulkan", "vk", "dx12", "d3d12", "metal", "mtl", "opengl", "gles", "gl", "webgpu",
    ];
    if let Ok(v) = std::env::var("WGPU_BACKEND") {
        for name in v.split(',') {
            if !NAMES.contains(&name.trim().to_lowercase().as_str()) {
                bail!(
                    "WGPU_BACKEND={v}: '{}' is not a backend name (vulkan, metal, dx12, gl, webgpu)",
                    name.trim()
                );
            }
        }
    }
    Ok(())
}

/// The GPU matmul choice: `WGTRAIN_MATMUL` (auto when unset), tuning results cached in
/// `$XDG_CACHE_HOME/wgtrain`, else `$HOME/.cache/wgtrain` (not cached when neither is set), and
/// split K as `WGTRAIN_SPLIT_K` says (`auto` when unset, `off`, or a workgroup count).
pub fn matmul_config() -> Result<wgtrain::gpu::tuning::MatmulConfig> {
    use wgtrain::gpu::tuning::{MatmulConfig, Setting, SplitK};
    let setting = match std::env::var("WGTRAIN_MATMUL") {
        Err(_) => Setting::Auto,
        Ok(v) => Setting::parse(&v).map_err(|_| {
            anyhow::anyhow!("WGTRAIN_MATMUL={v}: expected auto, rule, tune, 64 or 128")
        })?,
    };
    let nonempty = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    let cache_dir = nonempty("XDG_CACHE_HOME")
        .map(|d| d.join("wgtrain"))
        .or_else(|| nonempty("HOME").map(|h| h.join(".cache").join("wgtrain")));
    let split_k = match std::env::var("WGTRAIN_SPLIT_K") {
        Err(_) => SplitK::Auto,
        Ok(v) => SplitK::parse(&v).map_err(|_| {
            anyhow::anyhow!(
                "WGTRAIN_SPLIT_K={v}: expected auto, off or a number of workgroups from 1 to 65535"
            )
        })?,
    };
    Ok(MatmulConfig {
        setting,
        cache_dir,
        split_k,
    })
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
/// (`checkpoint::check_output`: its folder, its kind, its name, the temporary name a save uses).
pub fn check_writable(path: &Path) -> Result<()> {
    Ok(wgtrain::checkpoint::check_output(path)?)
}

/// What identifies a file: its device and inode when it exists, else its canonical path.
#[derive(PartialEq)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(std::path::PathBuf),
}

fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some(FileId::Inode(m.dev(), m.ino()));
    }
    if let Ok(p) = path.canonicalize() {
        return Some(FileId::Path(p));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(FileId::Path(
        dir.canonicalize().ok()?.join(path.file_name()?),
    ))
}

/// Fails when an output is the same file as an input or as another output (`--metrics m.st`
/// with `--init m.st` would turn the checkpoint into JSON). Each is `(flag, path)`.
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let Some(id) = file_id(out) else { continue };
        let earlier = outputs[..i].iter();
        for (other, path) in inputs.iter().chain(earlier) {
            if file_id(path).is_some_and(|o| o == id) {
                bail!(
                    "{flag} {} is the same file as {other} {}: choose another file name",
                    out.display(),
                    path.display()
                );
            }
        }
    }
    Ok(())
}
