//! Host memory: what the process may still allocate (the least of the machine's available
//! memory, its cgroup's limit and its address-space limit), so that a run or a file that
//! cannot fit is refused with both figures before anything large is allocated, rather than
//! aborting halfway.

use crate::error::{Error, Result};

/// Bytes the process may still allocate, where the platform says; None where it does not.
pub fn available() -> Option<u64> {
    [mem_available(), cgroup_room(), address_space_room()]
        .into_iter()
        .flatten()
        .min()
}

/// Refuses `bytes` for `what` when it exceeds what the process may allocate.
pub fn check(what: &str, bytes: u64) -> Result<()> {
    match available() {
        Some(room) if bytes > room => Err(Error::OutOfMemory(format!(
            "{what} needs {}, but this process may allocate only {} more (available memory, cgroup and address-space limits)",
            human(bytes),
            human(room)
        ))),
        _ => Ok(()),
    }
}

/// Reads a whole file: a regular file (a FIFO would block forever, a device never end) that
/// fits this process's memory, else an error naming it.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    if let Some(bytes) = crate::files::given(path) {
        return Ok(bytes.to_vec());
    }
    let io = |err| Error::Io {
        path: path.to_path_buf(),
        err,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(Error::data(
            path,
            "not a regular file (a folder, device or pipe): give a file",
        ));
    }
    check(&format!("reading {}", path.display()), meta.len())?;
    std::fs::read(path).map_err(io)
}

/// `bytes` for people: "3.4 GiB", "120 MiB", "512 KiB".
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", b / (1u64 << 30) as f64)
    } else if b >= (1u64 << 20) as f64 {
        format!("{:.0} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", (b / 1024.0).ceil())
    }
}

/// A `key:  N kB` line of a /proc file, in bytes.
#[cfg(target_os = "linux")]
fn proc_kb(file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

#[cfg(target_os = "linux")]
fn mem_available() -> Option<u64> {
    proc_kb("/proc/meminfo", "MemAvailable:")
}

/// cgroup v2's `memory.max` less `memory.current` (v1's limit and usage otherwise).
#[cfg(target_os = "linux")]
fn cgroup_room() -> Option<u64> {
    let read = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let (limit, used) = match read("/sys/fs/cgroup/memory.max") {
        Some(l) => (l, read("/sys/fs/cgroup/memory.current")?),
        None => (
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes")?,
        ),
    };
    Some(limit.saturating_sub(used))
}

/// RLIMIT_AS less the address space in use (VmSize).
#[cfg(target_os = "linux")]
fn address_space_room() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let used = proc_kb("/proc/self/status", "VmSize:")?;
    // rlim_t is u64 on 64-bit Linux, narrower on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    Some((lim.rlim_cur as u64).saturating_sub(used))
}

#[cfg(not(target_os = "linux"))]
fn mem_available() -> Option<u64> {
    None
}

#[cfg(not(target_os = "linux"))]
fn cgroup_room() -> Option<u64> {
    None
}

#[cfg(not(target_os = "linux"))]
fn address_space_room() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_the_machine_has_is_refused_with_both_figures() {
        let Some(room) = available() else {
            return; // not Linux: nothing to check against
        };
        let e = check("a test", room.saturating_mul(4).max(1 << 40))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("a test needs ") && e.contains("may allocate only"),
            "{e}"
        );
        check("a test", 1024).unwrap();
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert_eq!(human(120 << 20), "120 MiB");
        assert_eq!(human(1000), "1 KiB");
    }
}
