//! Before a run reads or writes anything: every output creatable (`checkpoint::check_output`)
//! and distinct from every input the run reads and from every other output.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file a command reads or writes, as its errors name it: `what` is shown as is ("the
/// setting `valid`", or a command line's own words).
pub type Named<'a> = (&'a str, &'a Path);

/// What identifies a file: its device and inode when it exists, else its canonical path.
#[derive(PartialEq)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
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

/// Fails when an output is the same file as an input or as an earlier output (a metrics file
/// onto the checkpoint it starts from would turn it into JSON), naming both.
pub fn check_distinct(inputs: &[Named], outputs: &[Named]) -> Result<()> {
    for (i, (what, out)) in outputs.iter().enumerate() {
        let Some(id) = file_id(out) else { continue };
        for (other, path) in inputs.iter().chain(&outputs[..i]) {
            if file_id(path).is_some_and(|o| o == id) {
                return Err(Error::usage(format!(
                    "{what} {} is the same file as {other} {}: choose another file name",
                    out.display(),
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// The files a data source reads: the file, every file of a folder (an IDX folder's four and
/// whatever lies beside them), or for a named IDX set the folder it would be read from.
pub(super) fn source_files(source: &str, roots: &[PathBuf]) -> Vec<PathBuf> {
    let path = Path::new(source);
    let folder = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default()
    };
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    if path.is_dir() {
        return folder(path);
    }
    if matches!(source, "mnist" | "fashion-mnist" | "kmnist") {
        let dirs = crate::data::idx::search_paths(source, roots);
        if let Some(dir) = dirs.iter().find(|d| d.is_dir()) {
            return folder(dir);
        }
    }
    Vec::new()
}
