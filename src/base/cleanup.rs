//! Temporary files (and traced programs) that must not outlive an interrupted `bundle`: a build
//! writes its output to a temporary file beside it (renamed into place at the end), `extract`
//! stages every file before renaming, and a `--trace` run works in a temporary directory,
//! running the program in its own process group. Dropping their guards removes them; SIGINT,
//! SIGTERM and SIGHUP, which skip every destructor, are caught here to remove them too before
//! the process ends with the signal's usual status. A signal that was ignored when `bundle`
//! started (`nohup`, a background job) stays ignored.
//!
//! The signal handler may only do async-signal-safe work: it reads a fixed table of slots, each
//! pointing at a path registered beforehand (a C string and whether it is a directory, leaked so
//! that a handler running on another thread never sees it freed), calls `unlink(2)` / `rmdir(2)`
//! on them, kills the traced process group, restores the default disposition and raises the
//! signal again.

use std::ffi::{c_int, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

/// How many temporary paths can be registered at once: a build holds a few, `extract` one per
/// file it writes. Past this, paths are only removed by their owners' normal clean-up.
const SLOTS: usize = 4096;

/// A registered path. Leaked on registration, never freed: the handler may read it at any time.
struct Entry {
    path: CString,
    dir: bool,
}

/// Registered paths, or null.
static PATHS: [AtomicPtr<Entry>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

/// Takes its path out of the table when dropped (the owner removes the file itself).
#[derive(Debug)]
pub struct Registered(Option<usize>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            // The entry itself stays allocated (see `Entry`): a few bytes per temporary file.
            PATHS[i].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

/// Registers `path` (a file, or a directory empty once its files are gone, with `dir`) for
/// removal if the process is interrupted. A full table or a path with a NUL byte is not
/// registered: the path is then only removed by its owner's normal clean-up.
pub fn register(path: &Path, dir: bool) -> Registered {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else { return Registered(None) };
    let entry: *mut Entry = Box::into_raw(Box::new(Entry { path, dir }));
    for (i, slot) in PATHS.iter().enumerate() {
        let free = std::ptr::null_mut();
        if slot.compare_exchange(free, entry, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return Registered(Some(i));
        }
    }
    // SAFETY: `entry` was never stored anywhere; take it back.
    drop(unsafe { Box::from_raw(entry) });
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
        for slot in &PATHS {
            let p = slot.load(Ordering::SeqCst);
            if p.is_null() {
                continue;
            }
            // SAFETY: a non-null slot points at a leaked, never-freed Entry; unlink and rmdir
            // are async-signal-safe.
            unsafe {
                let e = &*p;
                if e.dir == want_dir {
                    if want_dir {
                        libc::rmdir(e.path.as_ptr());
                    } else {
                        libc::unlink(e.path.as_ptr());
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

/// Installs the handler for SIGINT, SIGTERM and SIGHUP (once, at start-up), except for a
/// signal that is ignored already: `nohup bundle ...` keeps running after a hang-up, as other
/// tools do.
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction with a null new action only reads the current one; a zeroed
        // sigaction with an empty mask and a valid handler is a valid argument.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
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
        // Other tests of this process may hold slots meanwhile: fill the table until it refuses.
        let dir = tempfile::tempdir().unwrap();
        let mut guards = Vec::new();
        for i in 0..=SLOTS {
            let g = register(&dir.path().join(format!("f{i}")), i % 2 == 0);
            if g.0.is_none() {
                break;
            }
            guards.push(g);
        }
        assert!(guards.len() < SLOTS + 1, "a full table refuses");
        assert!(guards.len() + 64 >= SLOTS, "only {} slots were free", guards.len());
        drop(guards);
        assert!(register(&dir.path().join("again"), false).0.is_some());
    }
}
