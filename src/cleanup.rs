//! Temporary files (and traced programs) that must not outlive an interrupted `bundle`: a build
//! writes its output to a temporary file beside it (renamed into place at the end), and a
//! `--trace` run works in a temporary directory, running the program in its own process group. Dropping their guards removes them; SIGINT, SIGTERM and SIGHUP, which
//! skip every destructor, are caught here to remove them too before the process ends with the
//! signal's usual status.
//!
//! The signal handler may only do async-signal-safe work: it reads a fixed table of slots
//! holding C strings registered beforehand, calls `unlink(2)` / `rmdir(2)` on them, restores the
//! default disposition and raises the signal again.

use std::ffi::{c_char, c_int, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

/// How many temporary paths can be registered at once (a build holds at most a few).
const SLOTS: usize = 16;

/// Registered paths: a leaked `CString` each, or null; [`DIRS`] says which are directories.
static PATHS: [AtomicPtr<c_char>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];
static DIRS: [std::sync::atomic::AtomicBool; SLOTS] =
    [const { std::sync::atomic::AtomicBool::new(false) }; SLOTS];

/// Removes its path from the table when dropped (the owner removes the file itself).
#[derive(Debug)]
pub struct Registered(Option<usize>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            let p = PATHS[i].swap(std::ptr::null_mut(), Ordering::SeqCst);
            if !p.is_null() {
                // SAFETY: `p` came from CString::into_raw in `register` and was taken out of the
                // table, so nothing else can free it.
                drop(unsafe { CString::from_raw(p) });
            }
        }
    }
}

/// Registers `path` (a file, or an empty-once-cleaned directory with `dir`) for removal if the
/// process is interrupted. A full table or a path with a NUL byte is not registered: the path
/// is then only removed by its owner's normal clean-up.
pub fn register(path: &Path, dir: bool) -> Registered {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else { return Registered(None) };
    let raw = c.into_raw();
    for (i, slot) in PATHS.iter().enumerate() {
        let free = std::ptr::null_mut();
        if slot.compare_exchange(free, raw, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            // A signal between these two stores at worst unlinks a directory or rmdirs a file,
            // both of which fail harmlessly.
            DIRS[i].store(dir, Ordering::SeqCst);
            return Registered(Some(i));
        }
    }
    // SAFETY: `raw` was never stored anywhere; take it back.
    drop(unsafe { CString::from_raw(raw) });
    Registered(None)
}

/// The process group of a running traced program (0 when none), stopped with `bundle`.
static CHILD_GROUP: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Forgets the traced process group when dropped.
#[derive(Debug)]
pub struct Child;

impl Drop for Child {
    fn drop(&mut self) {
        CHILD_GROUP.store(0, Ordering::SeqCst);
    }
}

/// Records the process group `pgid` of a traced run, to be killed if `bundle` is interrupted.
pub fn child_group(pgid: i32) -> Child {
    CHILD_GROUP.store(pgid, Ordering::SeqCst);
    Child
}

extern "C" fn on_signal(sig: c_int) {
    let group = CHILD_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        // SAFETY: kill(2) is async-signal-safe; a negative pid names the traced process group.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    // Files first, then directories (which are then empty).
    for want_dir in [false, true] {
        for (i, slot) in PATHS.iter().enumerate() {
            let p = slot.load(Ordering::SeqCst);
            if !p.is_null() && DIRS[i].load(Ordering::SeqCst) == want_dir {
                // SAFETY: `p` is a valid C string registered above; unlink and rmdir are
                // async-signal-safe.
                unsafe {
                    if want_dir {
                        libc::rmdir(p);
                    } else {
                        libc::unlink(p);
                    }
                }
            }
        }
    }
    // SAFETY: restoring the default disposition and raising the signal again ends the process
    // as the signal would have (status 128 + sig for the shell); both are async-signal-safe.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once, at start-up).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with an empty mask and a valid handler is a valid argument.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_freed_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let guards: Vec<Registered> =
            (0..SLOTS).map(|i| register(&dir.path().join(format!("f{i}")), false)).collect();
        assert!(guards.iter().all(|g| g.0.is_some()));
        assert!(register(&dir.path().join("one more"), false).0.is_none(), "table full");
        drop(guards);
        assert!(register(&dir.path().join("again"), false).0.is_some());
    }
}
