//! `BUNDLE_TRACE=startup`: one line per start-up phase on stderr, each with the microseconds
//! since `main` (docs/STARTUP.md): payload located and verified, Lua state opened, libraries
//! and searchers installed, each module the bundle's searcher serves (its kind, stored size and
//! decode time), each C module or library opened from memory, the main chunk called.
//!
//! Off (the variable unset or another value), the whole cost is one `getenv` at start and one
//! relaxed atomic load where a line could be printed.

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

extern "C" {
    /// glibc's `stderr` stream.
    static mut stderr: *mut libc::FILE;
}

static ON: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Reads `BUNDLE_TRACE` once, at the start of `main`.
pub fn init() {
    // SAFETY: getenv with a valid C string; the result is only read before any thread exists.
    let value = unsafe { libc::getenv(c"BUNDLE_TRACE".as_ptr()) };
    if value.is_null() {
        return;
    }
    // SAFETY: a non-null getenv result is a NUL-terminated string.
    if unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes() == b"startup" {
        let _ = START.set(Instant::now());
        ON.store(true, Ordering::Relaxed);
    }
}

/// Whether tracing is on.
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Nanoseconds since [`init`].
pub fn now_ns() -> u64 {
    START.get().map_or(0, |s| u64::try_from(s.elapsed().as_nanos()).unwrap_or(u64::MAX))
}

/// `ns` in whole microseconds, rounded. Integers only: formatting an `f64` would link core's
/// float printing (about 10 KB) into every stub for the sake of this trace.
pub fn us(ns: u64) -> u64 {
    ns.saturating_add(500) / 1000
}

/// Prints one trace line (only call when [`on`]).
pub fn line(text: &str) {
    let text = format!("bundle: trace {:8} us  {text}\n", us(now_ns()));
    // SAFETY: C's stderr stream, as the host's messages use, so that the lines keep their order
    // with them; fwrite takes any byte buffer.
    unsafe {
        libc::fwrite(text.as_ptr().cast(), 1, text.len(), stderr);
    }
}

/// host.h's `trace`: a phase the C host reached.
pub extern "C" fn phase(_ud: *mut c_void, what: *const std::ffi::c_char) {
    // SAFETY: the host passes a NUL-terminated literal.
    let what = unsafe { std::ffi::CStr::from_ptr(what) }.to_string_lossy();
    line(&what);
}
