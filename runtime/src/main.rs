//! `bundle-stub`: the LuaJIT runtime every executable made by `bundle` starts as.
//!
//! This file is the stub's payload side: it finds the payload in its own executable (in
//! memory, else through `/proc/self/exe`), verifies the checksum of its index and records
//! before anything of it is loaded and each entry's own checksum before that entry's bytes are
//! first used ([`verified`], [`decode`]), and serves what the payload holds: the main chunk, the
//! interpreter, the `-l` preloads and the bundled modules, decoded only when first required
//! (start-up does not grow with the number of modules, nor with their size), C modules loaded
//! from memory (`native`).
//!
//! Running the program the way `luajit app.lua` does (luajit.c's `pmain`, `docall`,
//! `traceback`, `report`, SIGINT, how `arg` is built, which program or interpreter runs, where
//! the searcher sits) is the host's, `runtime/host/host.c`, written once in C and shared with
//! the C file of `bundle --emit-c`. It uses the raw C API of the vendored LuaJIT (through
//! `mlua-sys`) rather than mlua's safe layer: the frames have to be luajit.c's for tracebacks
//! to match, and mlua's state set-up costs more than the whole of luajit's start-up.
//!
//! A payload that is missing or damaged ends the process with [`EXIT_DAMAGED`] and one line on
//! stderr, before any Lua code runs; an entry found damaged when the program first uses it ends
//! the process the same way ([`damaged`]), before any of its bytes are used.
#![no_main]

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, c_int, c_void, CString};
use std::fs::File;
use std::ptr;

mod assets;
mod native;
mod trace;

use bundle_runtime::carrier::{self, LocateError};
use bundle_runtime::format::{Codec, Decoder, Entry, FormatError, Kind, Payload, Record};
use mlua_sys::{self as ffi, lua_State};

/// Exit status when the executable's payload is missing or damaged (sysexits' EX_DATAERR).
const EXIT_DAMAGED: c_int = 65;

/// Marks this binary as a stub, so the bundler can refuse other executables given to `--stub`.
#[used]
#[link_section = ".bundle_stub"]
static STUB_MARKER: [u8; 16] = bundle_runtime::STUB_MARKER;

/// The stub's LuaJIT version, in its `.bundle_luajit` section: the bundler ships its `jit.*`
/// tools only to a stub whose VM they were made for.
#[used]
#[link_section = ".bundle_luajit"]
static LUAJIT_VERSION: [u8; LUAJIT_VERSION_STR.len()] = bytes_of(LUAJIT_VERSION_STR);
const LUAJIT_VERSION_STR: &str = env!("BUNDLE_STUB_LUAJIT_VERSION");

/// The bytes of `s` as an array (for a `static` in a link section).
const fn bytes_of<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// A payload primitive of host.h: pushes one value and returns 0, or pushes a message and
/// returns a `LUA_ERR*` status.
type PushFn = unsafe extern "C-unwind" fn(*mut lua_State, *mut c_void) -> c_int;

/// A payload primitive about one entry (host.h's `bundle_entry_fn`): pushes one value and
/// returns 0, returns -1 having pushed nothing, or pushes a message and returns a `LUA_ERR*`.
type EntryFn = unsafe extern "C-unwind" fn(*mut lua_State, *mut c_void, *const c_char) -> c_int;

/// `struct bundle_host` of runtime/host/host.h, field for field.
#[repr(C)]
struct Host {
    argc: c_int,
    argv: *const *const c_char,
    has_main: c_int,
    has_interpreter: c_int,
    interpreter_env: *const c_char,
    ignore_sigpipe: c_int,
    nentries: c_int,
    entries: *const *const c_char,
    interpreter_entry: *const c_char,
    default_entry: *const c_char,
    hermetic: c_int,
    has_args: c_int,
    static_exe: c_int,
    load_main: PushFn,
    load_interpreter: PushFn,
    push_preloads: PushFn,
    load_entry: EntryFn,
    push_args: EntryFn,
    push_assets: PushFn,
    searcher: ffi::lua_CFunction,
    hint: ffi::lua_CFunction,
    trace: Option<extern "C" fn(*mut c_void, *const c_char)>,
    ud: *mut c_void,
}

extern "C-unwind" {
    /// Runs the program (runtime/host/host.c); returns the exit status.
    fn bundle_host_main(host: *const Host) -> c_int;
    /// Writes `progname: msg` to stderr, progname chosen from argv[0] as the host does.
    fn bundle_host_message(argv0: *const c_char, msg: *const c_char, len: usize);
    // LuaJIT's native loader with a mode ("b" bytecode only, "t" text only).
    fn luaL_loadbufferx(
        L: *mut lua_State,
        buff: *const c_char,
        sz: usize,
        name: *const c_char,
        mode: *const c_char,
    ) -> c_int;
}

/// What the payload callbacks need, owned by `main` for the life of the Lua state.
struct Ctx {
    payload: Payload<'static>,
    decoder: RefCell<Option<Decoder>>,
    /// Native libraries opened so far, by entry name: each is opened once.
    libraries: RefCell<HashMap<Vec<u8>, native::Handle>>,
    /// Native modules opened so far, by module name.
    modules: RefCell<HashMap<Vec<u8>, native::Handle>>,
    /// The compressed asset decoded last (key, bytes), for reads by slices.
    last_asset: RefCell<Option<(Vec<u8>, Vec<u8>)>>,
    /// BUNDLE_ASSETS_OVERRIDE as it was at start-up (read then, used when the overlay loads).
    asset_override: RefCell<Option<std::ffi::OsString>>,
    /// Stored entries whose bytes matched their checksum, by (offset, length, checksum): an
    /// asset read by slices is hashed once, not at every slice.
    verified: RefCell<HashSet<(u64, usize, u64)>>,
    /// `argv[0]`, for the message of a damaged entry.
    argv0: *const c_char,
}

/// The C entry point. `#![no_main]` skips Rust's runtime set-up: arguments arrive as the raw
/// bytes luajit sees, and signal dispositions stay as inherited (SIGPIPE included), as in luajit.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let argv0 = if argc > 0 {
        // SAFETY: the C runtime passes `argc` valid pointers in `argv`.
        unsafe { *argv }
    } else {
        ptr::null()
    };
    let fail = |msg: &str| {
        // SAFETY: argv0 is NULL or argv[0]; the message pointer and length describe `msg`.
        unsafe { bundle_host_message(argv0, msg.as_ptr().cast(), msg.len()) };
        EXIT_DAMAGED
    };
    trace::init();
    let payload = match load_payload() {
        Ok(p) => p,
        Err(msg) => return fail(&msg),
    };
    if trace::on() {
        trace::line(&format!(
            "payload found, index verified: {} entries, {} bytes",
            payload.len(),
            payload.total_len()
        ));
    }
    let facts = match Facts::read(&payload) {
        Ok(f) => f,
        Err(e) => return fail(&format!("bundle payload: {e}")),
    };
    let entry_ptrs: Vec<*const c_char> = facts.entries.iter().map(|e| e.as_ptr()).collect();
    let c_ptr = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    let ctx = Ctx {
        payload,
        decoder: RefCell::new(None),
        libraries: RefCell::new(HashMap::new()),
        modules: RefCell::new(HashMap::new()),
        last_asset: RefCell::new(None),
        asset_override: RefCell::new(None),
        verified: RefCell::new(HashSet::new()),
        argv0,
    };
    let host = Host {
        argc,
        argv,
        has_main: c_int::from(facts.has_main),
        has_interpreter: c_int::from(facts.has_interpreter),
        interpreter_env: c_ptr(&facts.interpreter_env),
        ignore_sigpipe: c_int::from(facts.ignore_sigpipe),
        nentries: c_int::try_from(entry_ptrs.len()).unwrap_or(0),
        entries: if entry_ptrs.is_empty() { ptr::null() } else { entry_ptrs.as_ptr() },
        interpreter_entry: c_ptr(&facts.interpreter_entry),
        default_entry: c_ptr(&facts.default_entry),
        hermetic: c_int::from(facts.hermetic),
        has_args: c_int::from(facts.has_args),
        static_exe: c_int::from(cfg!(target_feature = "crt-static")),
        load_main,
        load_interpreter,
        push_preloads,
        load_entry,
        push_args,
        push_assets: assets::push,
        searcher,
        hint,
        trace: if trace::on() { Some(trace::phase) } else { None },
        // Only shared references to `ctx` exist from here on: every callback reaches it
        // through this one pointer.
        ud: ptr::from_ref(&ctx).cast_mut().cast::<c_void>(),
    };
    // SAFETY: `host` matches host.h's struct; `ctx`, `facts`, `entry_ptrs` and argv outlive the
    // call, which closes the Lua state (and with it every callback's use of `ud`) before it
    // returns.
    unsafe { bundle_host_main(&host) }
}

/// What the host is told at start-up, read from the records in one pass (docs/FORMAT.md,
/// "Records"): a program with none of issue 17's records allocates nothing here.
#[derive(Default)]
struct Facts {
    has_main: bool,
    has_interpreter: bool,
    interpreter_env: Option<CString>,
    ignore_sigpipe: bool,
    /// The entry points' names, sorted (as the index is).
    entries: Vec<CString>,
    interpreter_entry: Option<CString>,
    default_entry: Option<CString>,
    hermetic: bool,
    has_args: bool,
}

impl Facts {
    fn read(payload: &Payload) -> Result<Facts, FormatError> {
        let mut f = Facts { has_main: payload.main()?.is_some(), ..Facts::default() };
        // The first record of each kind counts, as `Payload`'s accessors read them; a name with
        // a NUL (which verify_all refuses) names nothing here.
        let name = |slot: &mut Option<CString>, value: &[u8]| {
            if slot.is_none() {
                *slot = Some(CString::new(value).unwrap_or_default());
            }
        };
        let mut sigpipe = None;
        for r in payload.records() {
            match r? {
                Record::Interpreter(_) => f.has_interpreter = true,
                Record::InterpreterEnv(v) => name(&mut f.interpreter_env, v),
                Record::Sigpipe { ignore } => {
                    sigpipe.get_or_insert(ignore);
                }
                Record::InterpreterEntry(v) => name(&mut f.interpreter_entry, v),
                Record::DefaultEntry(v) => name(&mut f.default_entry, v),
                Record::Hermetic => f.hermetic = true,
                Record::Args(_) => f.has_args = true,
                Record::Preload(_) | Record::Needs(_) | Record::Assets(_) => {}
                // Sealed: verified right before it loads, on the program's first use of a file.
                Record::AssetsOverlay(_) => {}
                // The bill of materials is for `bundle inspect`, never read at run time.
                Record::Manifest(_) => {}
                // The image hash is for `bundle verify`: start-up checks only the payload.
                Record::ImageHash(_) => {}
            }
        }
        f.ignore_sigpipe = sigpipe == Some(true);
        f.entries =
            payload.entry_points()?.into_iter().filter_map(|n| CString::new(n).ok()).collect();
        Ok(f)
    }
}

/// The `Ctx` behind a callback's `ud`.
///
/// # Safety
/// `ud` is the pointer `main` put in [`Host`].
unsafe fn ctx<'a>(ud: *mut c_void) -> &'a Ctx {
    // SAFETY: see the contract; `main` keeps the `Ctx` alive while the state runs.
    unsafe { &*ud.cast::<Ctx>() }
}

/// Pushes a message and returns `status`, for a callback that failed.
///
/// # Safety
/// `l` is a valid state with a free stack slot.
unsafe fn fail_with(l: *mut lua_State, msg: &[u8], status: c_int) -> c_int {
    // SAFETY: per the contract.
    unsafe { push_bytes(l, msg) };
    status
}

/// host.h's `load_main`: pushes the main chunk.
unsafe extern "C-unwind" fn load_main(l: *mut lua_State, ud: *mut c_void) -> c_int {
    // SAFETY: called by the host with main's `ud` and a state with a free slot.
    unsafe {
        let ctx = ctx(ud);
        match ctx.payload.main() {
            Ok(Some(main)) => match load_chunk(l, ctx, &main) {
                Ok(()) => 0,
                Err(msg) => fail_with(l, msg.as_bytes(), ffi::LUA_ERRSYNTAX),
            },
            Ok(None) => fail_with(l, b"this executable has no main script", ffi::LUA_ERRRUN),
            Err(e) => fail_with(l, format!("bundle payload: {e}").as_bytes(), ffi::LUA_ERRRUN),
        }
    }
}

/// host.h's `load_interpreter`: pushes runtime/lua/interp.lua's chunk.
unsafe extern "C-unwind" fn load_interpreter(l: *mut lua_State, ud: *mut c_void) -> c_int {
    // SAFETY: called by the host with main's `ud`; the buffer and length describe the chunk,
    // which luaL_loadbufferx copies.
    unsafe {
        let ctx = ctx(ud);
        match ctx.payload.interpreter() {
            Ok(chunk) => {
                let chunk = chunk.unwrap_or_default();
                luaL_loadbufferx(
                    l,
                    chunk.as_ptr().cast(),
                    chunk.len(),
                    c"=interpreter".as_ptr(),
                    ptr::null(),
                )
            }
            Err(e) => fail_with(l, format!("bundle payload: {e}").as_bytes(), ffi::LUA_ERRRUN),
        }
    }
}

/// The bytes of the C string `s`.
///
/// # Safety
/// `s` is a valid NUL-terminated string that outlives the result.
unsafe fn c_bytes<'a>(s: *const c_char) -> &'a [u8] {
    // SAFETY: per the contract.
    unsafe { std::ffi::CStr::from_ptr(s) }.to_bytes()
}

/// host.h's `load_entry`: pushes the chunk of entry point `entry`, or returns -1 if there is
/// none.
unsafe extern "C-unwind" fn load_entry(
    l: *mut lua_State,
    ud: *mut c_void,
    entry: *const c_char,
) -> c_int {
    // SAFETY: called by the host with main's `ud`, a state with a free slot and a C string.
    unsafe {
        let ctx = ctx(ud);
        match ctx.payload.entry_point(c_bytes(entry)) {
            Ok(Some(e)) => match load_chunk(l, ctx, &e) {
                Ok(()) => 0,
                Err(msg) => fail_with(l, msg.as_bytes(), ffi::LUA_ERRSYNTAX),
            },
            Ok(None) => -1,
            Err(e) => fail_with(l, format!("bundle payload: {e}").as_bytes(), ffi::LUA_ERRRUN),
        }
    }
}

/// host.h's `push_args`: a table of the baked arguments of exactly `entry` ("" the program's),
/// as stored, or -1 if it has none.
unsafe extern "C-unwind" fn push_args(
    l: *mut lua_State,
    ud: *mut c_void,
    entry: *const c_char,
) -> c_int {
    // SAFETY: called by the host with main's `ud`, a state with a free slot and a C string;
    // balanced stack use, one table left on top.
    unsafe {
        let ctx = ctx(ud);
        let entry = c_bytes(entry);
        let mut found = None;
        for r in ctx.payload.records() {
            match r {
                Ok(Record::Args(a)) if a.entry() == entry => {
                    found = Some(a);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    return fail_with(l, format!("bundle payload: {e}").as_bytes(), ffi::LUA_ERRRUN)
                }
            }
        }
        let Some(args) = found else { return -1 };
        ffi::lua_createtable(l, 0, 0);
        for (i, a) in args.args().enumerate() {
            push_bytes(l, a);
            ffi::lua_rawseti_(l, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
        }
        0
    }
}

/// host.h's `push_preloads`: a table of the `-l` module names, in order.
unsafe extern "C-unwind" fn push_preloads(l: *mut lua_State, ud: *mut c_void) -> c_int {
    // SAFETY: called by the host with main's `ud`; balanced stack use, one table left on top.
    unsafe {
        match ctx(ud).payload.preloads() {
            Ok(names) => {
                ffi::lua_createtable(l, c_int::try_from(names.len()).unwrap_or(0), 0);
                for (i, name) in names.iter().enumerate() {
                    push_bytes(l, name);
                    ffi::lua_rawseti_(l, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
                }
                0
            }
            Err(e) => fail_with(l, format!("bundle payload: {e}").as_bytes(), ffi::LUA_ERRRUN),
        }
    }
}

/// The payload in this process's memory, if the bundler made it loadable: a read-only
/// `PT_LOAD` segment of the main program holding exactly one payload (magic first, declared
/// length equal to the segment's). The kernel, or ld.so for `ld.so ./app`, mapped it with the
/// program, so finding it needs no file: it works without /proc, through ld.so, and for an
/// execute-only file.
#[cfg(target_pointer_width = "64")]
fn payload_in_memory() -> Option<&'static [u8]> {
    use bundle_runtime::format::{HEADER_LEN, MAGIC};
    unsafe extern "C" fn first_object(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: glibc passes a valid dl_phdr_info whose program headers are mapped for the
        // life of the object, here the main program, which is never unloaded; `data` is the
        // `found` slot below.
        unsafe {
            let found = &mut *data.cast::<Option<&'static [u8]>>();
            let info = &*info;
            let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum));
            for ph in phdrs {
                if ph.p_type != libc::PT_LOAD
                    || ph.p_flags != libc::PF_R
                    || ph.p_filesz < HEADER_LEN as u64
                    || ph.p_filesz != ph.p_memsz
                {
                    continue;
                }
                let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
                let Ok(len) = usize::try_from(ph.p_filesz) else { continue };
                // A header that straddles a page boundary (4 KiB or more: checking at 4 KiB is
                // enough) has its second part on a page that a file truncated in between does
                // not back: reading it would fault (SIGBUS). A mapped page missing means the
                // file is truncated, whichever segment it belongs to.
                let head_end = start.wrapping_add(HEADER_LEN - 1);
                if head_end / 4096 != start / 4096 && !backed(head_end as *const u8) {
                    *found = Some(&[]);
                    break;
                }
                let head = std::slice::from_raw_parts(start as *const u8, HEADER_LEN);
                let declared = u64::from_le_bytes(head[40..48].try_into().unwrap_or_default());
                if head[..8] == MAGIC && declared == ph.p_filesz {
                    // A truncated file maps pages past its end, which fault (SIGBUS) when read:
                    // a missing last page means the payload is not all there.
                    if backed(start.wrapping_add(len - 1) as *const u8) {
                        *found = Some(std::slice::from_raw_parts(start as *const u8, len));
                    } else {
                        *found = Some(&[]);
                    }
                    break;
                }
            }
        }
        // Only the first object, the main program.
        1
    }
    let mut found: Option<&'static [u8]> = None;
    // SAFETY: the callback only reads what glibc hands it and writes `found`, which outlives
    // the call.
    unsafe { libc::dl_iterate_phdr(Some(first_object), ptr::from_mut(&mut found).cast()) };
    found
}

#[cfg(not(target_pointer_width = "64"))]
fn payload_in_memory() -> Option<&'static [u8]> {
    None
}

/// Whether the mapped byte at `last` can be read without a fault: asks the kernel to populate
/// its page (`MADV_POPULATE_READ`, Linux 5.14, which fails with EFAULT where a read would raise
/// SIGBUS), or, on older kernels, to copy it into a pipe (EFAULT instead of a signal).
#[cfg(target_pointer_width = "64")]
fn backed(last: *const u8) -> bool {
    /// From linux/mman.h; not in the libc crate for every target.
    const MADV_POPULATE_READ: c_int = 22;
    // SAFETY: sysconf, madvise on a range of our own mapping (populating only reads), pipe2,
    // write of one byte the kernel copies (or refuses with EFAULT), close of our descriptors.
    unsafe {
        let page = usize::try_from(libc::sysconf(libc::_SC_PAGESIZE)).unwrap_or(4096).max(1);
        let addr = (last as usize) & !(page - 1);
        if libc::madvise(addr as *mut c_void, page, MADV_POPULATE_READ) == 0 {
            return true;
        }
        if std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT) {
            return false;
        }
        let mut fds = [0 as c_int; 2];
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return true;
        }
        let ok = libc::write(fds[1], last.cast(), 1) == 1;
        libc::close(fds[0]);
        libc::close(fds[1]);
        ok
    }
}

/// The running executable's path, for messages (readlink is not free: only on the way out).
fn exe_name() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "its own executable".to_owned())
}

/// Reads the payload of the running executable and verifies its header, index and records
/// (its entries are verified when first used): from memory when it was loaded with the
/// program, else from the executable file (a payload in a non-loaded section or a trailer).
fn load_payload() -> Result<Payload<'static>, String> {
    if let Some(bytes) = payload_in_memory() {
        if bytes.is_empty() {
            return Err(format!(
                "{}: damaged bundle payload: the file is shorter than its program headers say (truncated)",
                exe_name()
            ));
        }
        return Payload::parse(bytes).map_err(|source| {
            let e = LocateError::Damaged { carrier: carrier::Carrier::Section, source };
            format!("{}: {e}", exe_name())
        });
    }
    // The path is resolved only for messages: readlink is not free on the start-up path.
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", exe_name());
    let file = match File::open("/proc/self/exe") {
        Ok(f) => f,
        Err(_) => std::env::current_exe().and_then(File::open).map_err(|e| {
            format!("cannot read its own executable to find the bundle payload: {e}")
        })?,
    };
    // SAFETY: this is the running executable, which the kernel protects from writes (ETXTBSY).
    let map = unsafe { carrier::map(&file) }.map_err(|e| fail(&e))?;
    // The map lives as long as the process: leaking it gives the 'static borrow the searcher needs.
    let image: &'static [u8] = Box::leak(Box::new(map));
    let located = carrier::locate(image).map_err(|e| fail(&e))?;
    let bytes =
        image.get(located.range.clone()).ok_or_else(|| fail(&"payload range out of bounds"))?;
    Payload::parse(bytes)
        .map_err(|source| fail(&LocateError::Damaged { carrier: located.carrier, source }))
}

/// The last searcher: finds nothing, but for `a.b.c` when the bundle holds
/// other modules under `a.b`, returns a line that ends require's "not found" message with the
/// flag that would have bundled it. Written in Rust, not Lua, so that start-up parses nothing
/// more for it.
unsafe extern "C-unwind" fn hint(l: *mut lua_State) -> c_int {
    // SAFETY: the upvalue is the `ctx` pointer the host gives every searcher; the argument stays on
    // the stack while it is borrowed, and a non-string argument simply gets no hint.
    unsafe {
        let ctx = ctx(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)));
        let Some(name) = to_bytes(l, 1) else { return 0 };
        let Some(dot) = name.iter().rposition(|&c| c == b'.').filter(|&d| d > 0) else {
            return 0;
        };
        let prefix = &name[..=dot];
        if !ctx.payload.has_module_under(prefix).unwrap_or(false) {
            return 0;
        }
        let (parent, name) = (String::from_utf8_lossy(&name[..dot]), String::from_utf8_lossy(name));
        let line = format!(
            "\n\tbundle: this executable holds other modules under '{parent}'; rebuild with -m '{parent}.*' (or -m {name}, or --trace -- ARGS) to include '{name}'"
        );
        push_bytes(l, line.as_bytes());
        1
    }
}

/// The searcher for bundled modules (Lua 5.1 manual §5.3, `package.loaders`): returns the
/// module's chunk, or a string saying why the bundle does not have it.
unsafe extern "C-unwind" fn searcher(l: *mut lua_State) -> c_int {
    // SAFETY: see search; when it fails, the message is on the stack and nothing owned by Rust
    // is left in this frame for the error to unwind past.
    unsafe {
        match search(l) {
            Ok(n) => n,
            Err(()) => ffi::lua_error(l),
        }
    }
}

/// The searcher's work. `Err` means an error message was pushed, to be raised by the caller.
///
/// # Safety
/// Called from [`searcher`] only.
unsafe fn search(l: *mut lua_State) -> Result<c_int, ()> {
    // SAFETY: the upvalue is the `ctx` pointer the host gives every searcher; the name argument is a
    // string (luaL_checklstring raises otherwise, before anything is owned here) that stays on
    // the stack while it is borrowed.
    unsafe {
        let ctx = ctx(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)));
        let mut len = 0;
        let name = ffi::luaL_checklstring(l, 1, &mut len);
        let name = std::slice::from_raw_parts(name.cast::<u8>(), len);
        let started = trace::on().then(trace::now_ns);
        let found = ctx.payload.module(name);
        if let (Some(t0), Ok(Some(entry))) = (started, &found) {
            // The line is printed before loading, with the lookup's time; the load's own time
            // shows as the gap to the next line.
            trace::line(&format!(
                "require '{}': found in the bundle ({}, {} bytes stored, {} decoded) in {} us; loading",
                String::from_utf8_lossy(name),
                entry.kind,
                entry.stored.len(),
                entry.raw_len,
                trace::us(trace::now_ns().saturating_sub(t0))
            ));
        }
        match found {
            Ok(Some(entry)) if entry.kind == Kind::Native => match load_native(ctx, &entry) {
                Ok(open) => {
                    ffi::lua_pushcfunction(l, open);
                    Ok(1)
                }
                Err(msg) => {
                    let what = entry.display_name();
                    push_bytes(
                        l,
                        format!("error loading C module '{what}' from the bundle:\n\t{msg}")
                            .as_bytes(),
                    );
                    Err(())
                }
            },
            Ok(Some(entry)) => match load_chunk(l, ctx, &entry) {
                Ok(()) => Ok(1),
                Err(msg) => {
                    let what = entry.display_name();
                    push_bytes(
                        l,
                        format!("error loading module '{what}' from the bundle:\n\t{msg}")
                            .as_bytes(),
                    );
                    Err(())
                }
            },
            Ok(None) => {
                let mut msg = b"\n\tno module '".to_vec();
                msg.extend_from_slice(name);
                msg.extend_from_slice(b"' in the bundle");
                push_bytes(l, &msg);
                Ok(1)
            }
            Err(e) => {
                push_bytes(l, format!("bundle payload: {e}").as_bytes());
                Err(())
            }
        }
    }
}

/// Ends the process for an entry (or a sealed record) whose bytes do not match its checksum, as a damaged payload
/// ends it at start-up: one line on stderr naming the executable and the entry, exit status
/// [`EXIT_DAMAGED`]. Not a Lua error: a `pcall` around `require` or `io.open` must not let the
/// program go on past damage. C's stdio is flushed (what the program printed stays printed);
/// the Lua state is not closed, as with `os.exit`.
pub(crate) fn damaged(ctx: &Ctx, e: &FormatError) -> ! {
    let msg = format!("{}: damaged bundle payload: {e}", exe_name());
    // SAFETY: argv0 is NULL or argv[0]; the message pointer and length describe `msg`.
    unsafe { bundle_host_message(ctx.argv0, msg.as_ptr().cast(), msg.len()) };
    std::process::exit(EXIT_DAMAGED)
}

/// `r`, with a damaged entry ending the process ([`damaged`]) and any other error as a message.
fn checked<T>(ctx: &Ctx, r: Result<T, FormatError>) -> Result<T, String> {
    match r {
        Ok(v) => Ok(v),
        Err(e @ (FormatError::EntryDamaged { .. } | FormatError::RecordDamaged { .. })) => {
            damaged(ctx, &e)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The stored bytes of `entry`, verified against its checksum the first time they are asked
/// for in this run ([`Entry::verified`]); a mismatch ends the process ([`damaged`]).
pub(crate) fn verified<'a>(ctx: &Ctx, entry: &Entry<'a>) -> &'a [u8] {
    let key = (entry.offset, entry.stored.len(), entry.checksum);
    if ctx.verified.borrow().contains(&key) {
        return entry.stored;
    }
    match entry.verified() {
        Ok(bytes) => {
            ctx.verified.borrow_mut().insert(key);
            bytes
        }
        Err(e) => damaged(ctx, &e),
    }
}

/// Decodes an entry (borrowing the shared decoder only for the call), its bytes verified
/// first: [`verified`] for a stored entry, [`Entry::decode_with`] for a compressed one.
fn decode<'a>(ctx: &Ctx, entry: &Entry<'a>) -> Result<Cow<'a, [u8]>, String> {
    Ok(match entry.codec {
        Codec::Stored => Cow::Borrowed(verified(ctx, entry)),
        Codec::Zstd => {
            let mut slot = ctx.decoder.borrow_mut();
            let decoder = match &mut *slot {
                Some(d) => d,
                empty @ None => empty.insert(Decoder::new().map_err(|e| e.to_string())?),
            };
            let decoded = entry.decode_with(decoder);
            drop(slot);
            Cow::Owned(checked(ctx, decoded)?)
        }
    })
}

/// The key a library's file is kept under in the private directory (docs/NATIVE.md): the
/// XXH3-64 of its bytes, which for a stored entry is its checksum, already computed.
fn content_hash(entry: &Entry, bytes: &[u8]) -> u64 {
    match entry.codec {
        Codec::Stored => entry.checksum,
        Codec::Zstd => bundle_runtime::format::checksum(bytes),
    }
}

/// Opens the packed library `name` and, first, the libraries it needs.
fn open_library(ctx: &Ctx, name: &[u8], depth: usize) -> Result<(), String> {
    if ctx.libraries.borrow().contains_key(name) {
        return Ok(());
    }
    let shown = String::from_utf8_lossy(name);
    if depth > 32 {
        return Err(format!("library dependencies nest too deep at {shown}"));
    }
    open_needs(ctx, name, depth)?;
    let entry = ctx
        .payload
        .library(name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the bundle lacks the library {shown}"))?;
    let bytes = decode(ctx, &entry)?;
    let handle = native::open(name, &bytes, content_hash(&entry, &bytes))
        .map_err(|e| format!("{shown}: {e}"))?;
    ctx.libraries.borrow_mut().insert(name.to_vec(), handle);
    Ok(())
}

/// Opens every library that native entry `name` needs, in the recorded order.
fn open_needs(ctx: &Ctx, name: &[u8], depth: usize) -> Result<(), String> {
    for dep in ctx.payload.needs(name).map_err(|e| e.to_string())? {
        open_library(ctx, dep, depth + 1)?;
    }
    Ok(())
}

/// Opens a native module's library (once: a module required again after
/// `package.loaded[name] = nil` reuses its handle, as luajit's loader gets the same handle back
/// from dlopen) and returns its `luaopen_*` function. A module served by another module's
/// library (the all-in-one loader's case, [`flags::SHARED`]) opens that library, once for all
/// the modules it serves, as lib_package.c's `LOADLIB:` registry does.
///
/// [`flags::SHARED`]: bundle_runtime::format::flags::SHARED
fn load_native(ctx: &Ctx, entry: &Entry) -> Result<ffi::lua_CFunction, String> {
    let owner = if entry.flags & bundle_runtime::format::flags::SHARED != 0 {
        checked(ctx, ctx.payload.library_owner(entry))?
    } else {
        *entry
    };
    let cached = ctx.modules.borrow().get(owner.name).copied();
    let handle = match cached {
        Some(h) => h,
        None => {
            open_needs(ctx, owner.name, 0)?;
            let bytes = decode(ctx, &owner)?;
            let h = native::open(owner.name, &bytes, content_hash(&owner, &bytes))?;
            ctx.modules.borrow_mut().insert(owner.name.to_vec(), h);
            h
        }
    };
    let symbol = bundle_runtime::luaopen_symbol(entry.name);
    let f = native::symbol(handle, &symbol)
        .ok_or_else(|| format!("no {} in the library", String::from_utf8_lossy(&symbol)))?;
    // SAFETY: a `luaopen_*` function has the lua_CFunction signature by the Lua C API contract
    // (the bundler checked that the symbol exists; its type is the module author's promise).
    Ok(unsafe { std::mem::transmute::<*mut c_void, ffi::lua_CFunction>(f) })
}

/// Decodes `entry` and pushes its loaded chunk, or returns the error message.
///
/// # Safety
/// `l` is a valid state with a free stack slot.
unsafe fn load_chunk(l: *mut lua_State, ctx: &Ctx, entry: &Entry) -> Result<(), String> {
    // The kind decides what the loader accepts: bytecode is never taken for source nor the
    // other way round, and other kinds are not Lua chunks at all.
    let mode = match entry.kind {
        Kind::LuaBytecode => c"b",
        Kind::LuaSource => c"t",
        other => return Err(format!("entry of kind {other} is not a Lua chunk")),
    };
    let code = decode(ctx, entry)?;
    let chunkname =
        CString::new(entry.chunkname).map_err(|_| "chunk name contains NUL".to_owned())?;
    // SAFETY: buffer and length describe `code`; luaL_loadbuffer runs protected and copies what
    // it keeps. `decode` verified the entry's checksum, so bytecode is what the bundler wrote.
    let status = unsafe {
        luaL_loadbufferx(l, code.as_ptr().cast(), code.len(), chunkname.as_ptr(), mode.as_ptr())
    };
    if status == 0 {
        return Ok(());
    }
    // SAFETY: on failure the error message is on top of the stack.
    let msg =
        unsafe { to_bytes(l, -1) }.map(String::from_utf8_lossy).unwrap_or_default().into_owned();
    // SAFETY: pops the error message pushed by luaL_loadbuffer.
    unsafe { ffi::lua_pop(l, 1) };
    Err(msg)
}

/// The bytes of the string (or number) at `idx`, if it is one.
///
/// # Safety
/// `l` is valid; the returned slice must not outlive the value on the stack.
unsafe fn to_bytes<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0;
    // SAFETY: lua_tolstring returns NULL or a pointer to `len` bytes owned by the Lua value.
    unsafe {
        let p = ffi::lua_tolstring(l, idx, &mut len);
        (!p.is_null()).then(|| std::slice::from_raw_parts(p.cast::<u8>(), len))
    }
}

/// Pushes a Lua string with the given bytes.
///
/// # Safety
/// `l` is a valid state with a free stack slot.
unsafe fn push_bytes(l: *mut lua_State, s: &[u8]) {
    // SAFETY: the pointer and length describe `s`; Lua copies the bytes.
    unsafe { ffi::lua_pushlstring_(l, s.as_ptr().cast(), s.len()) };
}
