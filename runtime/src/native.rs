//! Loading the native libraries of the payload (C modules and the shared libraries they need)
//! without a file on disk: each is written to an anonymous `memfd_create` file and `dlopen`ed
//! as `/proc/self/fd/N`. The descriptor stays open for the life of the process: were it closed,
//! its number could be reused for another library and glibc, which keys loaded objects by path,
//! would hand back the wrong one.
//!
//! Where memfds cannot be executed (a `noexec` policy, no `/proc`), the library is written once
//! to a private directory, `$XDG_RUNTIME_DIR/bundle-<uid>` or `/tmp/bundle-<uid>` (mode 0700,
//! owned by the user, checked), under a name keyed by its content hash, and reused by later
//! runs. `BUNDLE_NO_MEMFD=1` forces that path (for tests and for diagnosing a host).
//!
//! Every descriptor kept is close-on-exec and numbered 3 or above, so that a program started
//! with stdout closed does not write into a library's file.
//!
//! Libraries are opened `RTLD_NOW | RTLD_LOCAL`, as Lua's own C loader does; a dependency is
//! loaded before the module that needs it, and the module's `DT_NEEDED` entry then matches the
//! already-loaded library by its soname.

use std::ffi::{c_int, c_void, CStr, CString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// An open library handle, kept for the life of the process.
#[derive(Clone, Copy, Debug)]
pub struct Handle(*mut c_void);

/// The last `dlerror()` message.
#[cfg(not(target_feature = "crt-static"))]
fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown dynamic loader error".to_owned()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

/// A statically linked stub has no dynamic loader to give a library to (the bundler never packs
/// a C module into one; this guards a payload attached by other means).
#[cfg(target_feature = "crt-static")]
fn dlopen(_path: &CStr) -> Result<Handle, String> {
    Err("this executable is statically linked and cannot load C modules \
         (bundle it with --dynamic)"
        .to_owned())
}

#[cfg(not(target_feature = "crt-static"))]
fn dlopen(path: &CStr) -> Result<Handle, String> {
    // SAFETY: `path` is a valid C string; dlopen runs the library's constructors, which is what
    // loading a C module means.
    let h = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if h.is_null() {
        Err(dlerror())
    } else {
        Ok(Handle(h))
    }
}

/// `fd` itself if it is 3 or above; otherwise a close-on-exec duplicate at 3 or above, the
/// original closed (luajit, which opens no descriptor of its own, leaves 0-2 to the program).
fn above_stdio(fd: c_int) -> Result<c_int, String> {
    if fd > 2 {
        return Ok(fd);
    }
    // SAFETY: fcntl duplicates a descriptor this function owns; close releases the original.
    unsafe {
        let dup = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3);
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if dup < 0 {
            return Err(format!("duplicating the memfd: {err}"));
        }
        Ok(dup)
    }
}

/// A name usable in a file name or memfd label: the library's base name.
fn label(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
        .collect()
}

fn open_memfd(name: &[u8], bytes: &[u8]) -> Result<Handle, String> {
    let label = CString::new(label(name)).map_err(|e| e.to_string())?;
    // SAFETY: memfd_create takes a C string and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::memfd_create(label.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // The descriptor lives as long as the process: it must not take the place of a closed
    // stdin, stdout or stderr, or the program's output would go into the library's file.
    let fd = above_stdio(fd)?;
    // SAFETY: `fd` was just created and is owned here.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(bytes).map_err(|e| format!("writing the memfd: {e}"))?;
    let path = CString::new(format!("/proc/self/fd/{fd}")).map_err(|e| e.to_string())?;
    let handle = dlopen(&path)?;
    // Keep the descriptor open for the life of the process (see the module docs).
    let _ = file.into_raw_fd();
    Ok(handle)
}

/// The private directory of the fallback path, created 0700 if missing, refused if it is not a
/// real directory owned by this user and closed to others.
fn private_dir() -> Result<PathBuf, String> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let dir = base.join(format!("bundle-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("creating {}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(format!("{} is not a private directory of this user", dir.display()));
    }
    Ok(dir)
}

fn open_from_dir(name: &[u8], bytes: &[u8], hash: u64) -> Result<Handle, String> {
    let path = materialize(name, bytes, hash)?;
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    dlopen(&c)
}

/// A real file holding `bytes` (whose checksum is `hash`) in the private directory, named by
/// the checksum and `name`'s base name; written once, rewritten only if it differs.
pub fn materialize(name: &[u8], bytes: &[u8], hash: u64) -> Result<PathBuf, String> {
    let dir = private_dir()?;
    let path = dir.join(format!("{hash:016x}-{}", label(name)));
    let current = std::fs::read(&path).ok();
    if current.as_deref() != Some(bytes) {
        write_new(&dir, &path, bytes)?;
    }
    Ok(path)
}

/// Writes `bytes` to `path` through a temporary file in `dir` and a rename, so that a
/// concurrent run never maps a half-written library.
fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), String> {
    // A name no other process uses (pid alone can repeat across PID namespaces), created
    // exclusively: an existing file or symlink of that name is never written through.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(".tmp-{}-{nanos:x}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    let written = f.write_all(bytes).map_err(|e| format!("{}: {e}", tmp.display()));
    drop(f);
    let renamed = written
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display())));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// Opens a library from its bytes: from memory, else from the private directory.
pub fn open(name: &[u8], bytes: &[u8], hash: u64) -> Result<Handle, String> {
    let memfd = if std::env::var_os("BUNDLE_NO_MEMFD").is_some_and(|v| v == "1") {
        Err("disabled by BUNDLE_NO_MEMFD=1".to_owned())
    } else {
        open_memfd(name, bytes)
    };
    memfd.or_else(|first| {
        open_from_dir(name, bytes, hash)
            .map_err(|second| format!("from memory: {first}; from a private directory: {second}"))
    })
}

/// Looks up `symbol` in `handle`.
pub fn symbol(handle: Handle, symbol: &[u8]) -> Option<*mut c_void> {
    let c = CString::new(symbol).ok()?;
    // SAFETY: a live handle from dlopen and a valid C string.
    let p = unsafe { libc::dlsym(handle.0, c.as_ptr()) };
    (!p.is_null()).then_some(p)
}
