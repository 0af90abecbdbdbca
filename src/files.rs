//! Files given as bytes instead of read from disk: how a program without a file system (a page
//! in a browser, where a dropped file is bytes) gives wgtrain a CSV file or a checkpoint. Inside
//! `with_files` (or around a future, `with_files_async`) every read of one of the given names,
//! by the table reader and the checkpoint loader, gets its bytes, with the same detection,
//! checks and messages as a file on disk; other names are read from disk as usual.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A file's name and its bytes.
pub type GivenFile = (PathBuf, Arc<[u8]>);

thread_local! {
    static GIVEN: std::cell::RefCell<Vec<GivenFile>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The bytes given for `path`, if any (the innermost `with_files` first).
pub(crate) fn given(path: &Path) -> Option<Arc<[u8]>> {
    GIVEN.with(|g| {
        g.borrow()
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
    })
}

/// Whether `path` names a given file.
pub(crate) fn is_given(path: &Path) -> bool {
    given(path).is_some()
}

/// Takes the given files off the list again when dropped (also when `f` panics).
struct Installed(usize);

impl Installed {
    fn new(files: &[GivenFile]) -> Installed {
        GIVEN.with(|g| g.borrow_mut().extend(files.iter().cloned()));
        Installed(files.len())
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        GIVEN.with(|g| {
            let mut g = g.borrow_mut();
            let keep = g.len().saturating_sub(self.0);
            g.truncate(keep);
        });
    }
}

/// Runs `f` with `files` readable by their names.
pub fn with_files<T>(files: &[GivenFile], f: impl FnOnce() -> T) -> T {
    let _installed = Installed::new(files);
    f()
}

/// `fut`, with `files` readable by their names whenever it runs (each poll).
pub fn with_files_async<F: Future>(files: Vec<GivenFile>, fut: F) -> WithFiles<F> {
    WithFiles {
        files,
        inner: Box::pin(fut),
    }
}

/// The future `with_files_async` returns.
pub struct WithFiles<F> {
    files: Vec<GivenFile>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for WithFiles<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _installed = Installed::new(&this.files);
        this.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_files_are_found_by_name_only_inside_the_scope_and_inner_ones_win() {
        let a: Arc<[u8]> = Arc::from(&b"a"[..]);
        let b: Arc<[u8]> = Arc::from(&b"b"[..]);
        let name = PathBuf::from("x.csv");
        assert!(given(&name).is_none());
        with_files(&[(name.clone(), a)], || {
            assert_eq!(&*given(&name).unwrap(), b"a");
            with_files(&[(name.clone(), b)], || {
                assert_eq!(&*given(&name).unwrap(), b"b");
            });
            assert_eq!(&*given(&name).unwrap(), b"a");
            assert!(given(Path::new("y.csv")).is_none());
        });
        assert!(given(&name).is_none());
    }

    #[test]
    fn a_future_sees_the_files_while_it_runs_and_not_after() {
        let name = PathBuf::from("m.safetensors");
        let files = vec![(name.clone(), Arc::from(&b"m"[..]))];
        let fut = with_files_async(files, async { given(Path::new("m.safetensors")).is_some() });
        assert!(pollster::block_on(fut));
        assert!(given(&name).is_none());
    }
}
