//! `bundle-stub`: the LuaJIT runtime every executable made by `bundle` starts as.
//!
//! At start-up it reads the payload out of its own executable (`/proc/self/exe`), verifies the
//! checksum before anything of it is loaded, then runs the program the way `luajit app.lua`
//! does (luajit.c is the model: `pmain`, `docall`, `traceback`, `report`):
//!
//! - the bundled modules are served by a searcher placed right after `package.preload`'s,
//!   decoded only when first required (start-up does not grow with the number of modules);
//! - `arg` and `...` as luajit builds them for a script, `arg[0]` being the executable;
//! - preloads are required in order, then the main chunk is called from a C frame with a
//!   traceback handler, so errors print as `progname: message` plus the same traceback;
//! - exit status 1 on an uncaught error; `os.exit` is LuaJIT's own (C `exit`, stdio flushed).
//!
//! It uses the raw C API of the vendored LuaJIT (through `mlua-sys`) rather than mlua's safe
//! layer: the frame structure has to be luajit.c's for tracebacks to match, and mlua's state
//! set-up costs more than the whole of luajit's start-up.
//!
//! A payload that is missing or damaged ends the process with [`EXIT_DAMAGED`] and one line on
//! stderr, before any Lua code runs.
#![no_main]

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fs::File;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

mod native;

use std::collections::HashMap;

use bundle_runtime::carrier::{self, LocateError};
use bundle_runtime::format::{Codec, Decoder, Entry, Kind, Payload};
use mlua_sys::{self as ffi, lua_State};

/// Exit status when the executable's payload is missing or damaged (sysexits' EX_DATAERR).
const EXIT_DAMAGED: c_int = 65;

/// Marks this binary as a stub, so the bundler can refuse other executables given to `--stub`.
#[used]
#[link_section = ".bundle_stub"]
static STUB_MARKER: [u8; 16] = bundle_runtime::STUB_MARKER;

/// The Lua side of start-up, shared with the `--emit-c` output.
const BOOT_LUA: &[u8] = include_bytes!("../lua/boot.lua");

extern "C-unwind" {
    // LuaJIT's own, not mlua-sys's Lua 5.1 compatibility version: its output ("[C]: at 0x...")
    // is what luajit prints.
    fn luaL_traceback(L: *mut lua_State, L1: *mut lua_State, msg: *const c_char, level: c_int);
    // Lua 5.1's resume (mlua-sys offers the 5.4 signature).
    #[link_name = "lua_resume"]
    fn lua_resume_51(L: *mut lua_State, narg: c_int) -> c_int;
    // LuaJIT's native loader with a mode ("b" bytecode only, "t" text only).
    fn luaL_loadbufferx(
        L: *mut lua_State,
        buff: *const c_char,
        sz: usize,
        name: *const c_char,
        mode: *const c_char,
    ) -> c_int;
}

/// Everything `pmain` needs, owned by `main` for the life of the Lua state.
struct Ctx<'a> {
    args: &'a [&'a CStr],
    progname: &'a CStr,
    payload: Payload<'static>,
    decoder: RefCell<Option<Decoder>>,
    /// Native libraries opened so far, by entry name: each is opened once.
    libraries: RefCell<HashMap<Vec<u8>, native::Handle>>,
    /// Native modules opened so far, by module name.
    modules: RefCell<HashMap<Vec<u8>, native::Handle>>,
    /// Set when pmain reported an error itself.
    failed: Cell<bool>,
}

/// The state that the SIGINT handler interrupts (luajit.c's `globalL`).
static GLOBAL_L: AtomicPtr<lua_State> = AtomicPtr::new(ptr::null_mut());

extern "C" {
    /// glibc's `stderr` stream: messages go through it, as luajit's do, so that they keep their
    /// order with what the program wrote to a buffered `io.stderr`.
    static mut stderr: *mut libc::FILE;
}

/// Writes `progname: msg` to C's stderr and flushes it, like luajit.c's `l_message`.
fn message(progname: &CStr, msg: &[u8]) {
    // SAFETY: `stderr` is glibc's initialised stream; fwrite/fflush take any byte buffer.
    unsafe {
        let err = stderr;
        let p = progname.to_bytes();
        libc::fwrite(p.as_ptr().cast(), 1, p.len(), err);
        libc::fwrite(b": ".as_ptr().cast(), 1, 2, err);
        libc::fwrite(msg.as_ptr().cast(), 1, msg.len(), err);
        libc::fwrite(b"\n".as_ptr().cast(), 1, 1, err);
        libc::fflush(err);
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

/// Reads and verifies the payload of the running executable: from memory when it was loaded
/// with the program, else from the executable file (a payload in a non-loaded section or a
/// trailer).
fn load_payload() -> Result<Payload<'static>, String> {
    let exe_name = || {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "its own executable".to_owned())
    };
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

/// The C entry point. `#![no_main]` skips Rust's runtime set-up: arguments arrive as the raw
/// bytes luajit sees, and signal dispositions stay as inherited (SIGPIPE included), as in luajit.
#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args: Vec<&CStr> = (0..usize::try_from(argc).unwrap_or(0))
        // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`.
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .collect();
    let progname = args.first().copied().filter(|a| !a.is_empty()).unwrap_or(c"bundle-app");
    let payload = match load_payload() {
        Ok(p) => p,
        Err(msg) => {
            message(progname, msg.as_bytes());
            return EXIT_DAMAGED;
        }
    };
    let ctx = Ctx {
        args: &args,
        progname,
        payload,
        decoder: RefCell::new(None),
        libraries: RefCell::new(HashMap::new()),
        modules: RefCell::new(HashMap::new()),
        failed: Cell::new(false),
    };
    match ctx.payload.ignore_sigpipe() {
        Ok(true) => native::ignore_sigpipe(),
        Ok(false) => {}
        Err(e) => {
            message(progname, format!("bundle payload: {e}").as_bytes());
            return EXIT_DAMAGED;
        }
    }
    let interpreter = match choose_interpreter(&ctx.payload) {
        Ok(i) => i,
        Err(e) => {
            message(progname, format!("bundle payload: {e}").as_bytes());
            return EXIT_DAMAGED;
        }
    };
    // Only shared references to `ctx` exist from here on: pmain and the searcher both reach it
    // through this one pointer.
    let ctx_ptr = ptr::from_ref(&ctx).cast_mut().cast::<c_void>();
    // SAFETY: plain LuaJIT C API use on a state this function owns; `ctx` outlives the state
    // (lua_close below runs the last finalizers that could reach the searcher).
    unsafe {
        let l = ffi::luaL_newstate();
        if l.is_null() {
            message(progname, b"cannot create state: not enough memory");
            return 1;
        }
        let run: unsafe extern "C-unwind" fn(*mut lua_State) -> c_int =
            if interpreter { pmain_interpreter } else { pmain };
        let status = ffi::lua_cpcall(l, run, ctx_ptr);
        report(l, progname, status);
        ffi::lua_close(l);
        c_int::from(status != 0 || ctx.failed.get())
    }
}

/// Whether to run the interpreter: always when there is no main script, and when the variable
/// named at bundle time (`--interpreter-env`) is set otherwise.
fn choose_interpreter(payload: &Payload) -> Result<bool, bundle_runtime::format::FormatError> {
    if payload.interpreter()?.is_none() {
        return Ok(false);
    }
    if payload.main()?.is_none() {
        return Ok(true);
    }
    Ok(match payload.interpreter_env()? {
        Some(name) => {
            use std::os::unix::ffi::OsStrExt;
            std::env::var_os(std::ffi::OsStr::from_bytes(name)).is_some()
        }
        None => false,
    })
}

/// luajit.c's `pmain`, for a program with a main script.
unsafe extern "C-unwind" fn pmain(l: *mut lua_State) -> c_int {
    // SAFETY: lua_cpcall passes main's `ctx` as the only argument, a light userdata.
    let ctx = unsafe { &*ffi::lua_touserdata(l, 1).cast::<Ctx>() };
    GLOBAL_L.store(l, Ordering::Relaxed);
    // SAFETY: the stack holds only the light userdata; every call below keeps it balanced.
    unsafe {
        ffi::lua_gc(l, ffi::LUA_GCSTOP, 0);
        ffi::luaL_openlibs(l);
        ffi::lua_gc(l, ffi::LUA_GCRESTART, -1);
        create_arg_table(l, ctx.args);
        install_searcher(l, ctx);
        match ctx.payload.preloads() {
            Ok(preloads) => {
                for name in preloads {
                    if dolibrary(l, ctx.progname, name) != 0 {
                        ctx.failed.set(true);
                        return 0;
                    }
                }
            }
            Err(e) => push_bytes(l, format!("bundle payload: {e}").as_bytes()),
        }
        let status = if ffi::lua_gettop(l) > 1 {
            // The payload error pushed above.
            ffi::LUA_ERRRUN
        } else {
            match ctx.payload.main() {
                Ok(Some(main)) => match load_entry(l, ctx, &main) {
                    Ok(()) => {
                        let narg = push_script_args(l);
                        docall(l, narg, false)
                    }
                    Err(msg) => {
                        push_bytes(l, msg.as_bytes());
                        ffi::LUA_ERRSYNTAX
                    }
                },
                Ok(None) => {
                    push_bytes(l, b"this executable has no main script");
                    ffi::LUA_ERRRUN
                }
                Err(e) => {
                    push_bytes(l, format!("bundle payload: {e}").as_bytes());
                    ffi::LUA_ERRRUN
                }
            }
        };
        if report(l, ctx.progname, status) != 0 {
            ctx.failed.set(true);
        }
    }
    0
}

/// `pmain` for the interpreter: runtime/lua/interp.lua does what luajit.c does, in a coroutine,
/// and yields to this host what needs C (opening the libraries, calling the user's code on the
/// main thread under `docall`). See the protocol at the top of interp.lua.
unsafe extern "C-unwind" fn pmain_interpreter(l: *mut lua_State) -> c_int {
    // SAFETY: lua_cpcall passes main's `ctx` as the only argument, a light userdata.
    let ctx = unsafe { &*ffi::lua_touserdata(l, 1).cast::<Ctx>() };
    GLOBAL_L.store(l, Ordering::Relaxed);
    let chunk = match ctx.payload.interpreter() {
        Ok(Some(chunk)) => chunk,
        Ok(None) => b"".as_slice(),
        Err(e) => {
            // SAFETY: a free slot is there for the message that report pops.
            unsafe { push_bytes(l, format!("bundle payload: {e}").as_bytes()) };
            ctx.failed.set(true);
            // SAFETY: the message is on top.
            unsafe { report(l, ctx.progname, ffi::LUA_ERRRUN) };
            return 0;
        }
    };
    // SAFETY: balanced stack use on `l` (slot 1 the userdata, slot 2 the coroutine, for the
    // whole run) and on the coroutine, whose stack only ever holds the values in transit.
    unsafe {
        // -E must take effect before the package library opens: with an argument that could be
        // -E (luajit.c reads any "-E..." as -E), interp.lua parses the options with only the
        // base and string libraries open and asks for the rest. Without one, which is the usual
        // case, everything opens once, now, and that request has nothing left to do.
        let maybe_noenv = ctx.args.iter().skip(1).any(|a| a.to_bytes().starts_with(b"-E"));
        let mut libs_open = !maybe_noenv;
        if libs_open {
            open_libraries(l, ctx, false);
        } else {
            for open in [ffi::luaopen_base as ffi::lua_CFunction, ffi::luaopen_string] {
                ffi::lua_pushcfunction(l, open);
                ffi::lua_call(l, 0, 0);
            }
        }
        let co = ffi::lua_newthread(l);
        if luaL_loadbufferx(
            co,
            chunk.as_ptr().cast(),
            chunk.len(),
            c"=interpreter".as_ptr(),
            ptr::null(),
        ) != 0
        {
            ffi::lua_xmove(co, l, 1);
            ctx.failed.set(true);
            report(l, ctx.progname, ffi::LUA_ERRSYNTAX);
            return 0;
        }
        push_host_table(co, ctx);
        let mut nargs = 1;
        loop {
            let status = lua_resume_51(co, nargs);
            let n = ffi::lua_gettop(co);
            if status == ffi::LUA_YIELD && n >= 1 {
                ffi::luaL_checkstack(l, n + ffi::LUA_MINSTACK, ptr::null());
                ffi::lua_xmove(co, l, n);
                let request = to_bytes(l, -n).unwrap_or_default().to_vec();
                ffi::lua_remove(l, -n);
                let top = ffi::lua_gettop(l) - (n - 1);
                let status = match request.as_slice() {
                    b"openlibs" => {
                        let noenv = ffi::lua_toboolean(l, -1) != 0;
                        ffi::lua_settop(l, top);
                        if !libs_open {
                            open_libraries(l, ctx, noenv);
                            libs_open = true;
                        }
                        nargs = 0;
                        continue;
                    }
                    b"docall" => docall(l, n - 2, false),
                    b"pcall" => ffi::lua_pcall(l, n - 2, ffi::LUA_MULTRET, 0),
                    other => {
                        let other = String::from_utf8_lossy(other);
                        push_bytes(l, format!("interpreter: unknown request '{other}'").as_bytes());
                        ffi::LUA_ERRRUN
                    }
                };
                let nres = ffi::lua_gettop(l) - top;
                ffi::luaL_checkstack(co, nres + 1, ptr::null());
                ffi::lua_pushinteger(co, ffi::lua_Integer::from(status));
                ffi::lua_xmove(l, co, nres);
                nargs = nres + 1;
            } else if status == 0 {
                if ffi::lua_tointeger(co, -1) != 0 {
                    ctx.failed.set(true);
                }
                return 0;
            } else {
                // A fault of the interpreter itself (or a yield from outside a coroutine).
                let msg = if status == ffi::LUA_YIELD {
                    c"attempt to yield from outside a coroutine".as_ptr()
                } else {
                    ffi::lua_tolstring(co, -1, ptr::null_mut())
                };
                luaL_traceback(l, co, msg, 0);
                ctx.failed.set(true);
                report(l, ctx.progname, ffi::LUA_ERRRUN);
                return 0;
            }
        }
    }
}

/// Opens the standard libraries (with LUA_NOENV set first for `noenv`, as luajit.c does for
/// -E) and installs the bundle's searcher.
///
/// # Safety
/// `l` is a valid state in a protected call; `ctx` outlives it.
unsafe fn open_libraries(l: *mut lua_State, ctx: &Ctx, noenv: bool) {
    // SAFETY: balanced stack use, as in pmain.
    unsafe {
        if noenv {
            ffi::lua_pushboolean(l, 1);
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, c"LUA_NOENV".as_ptr());
        }
        ffi::lua_gc(l, ffi::LUA_GCSTOP, 0);
        ffi::luaL_openlibs(l);
        ffi::lua_gc(l, ffi::LUA_GCRESTART, -1);
        install_searcher(l, ctx);
    }
}

/// The table interp.lua receives from its host.
///
/// # Safety
/// `l` is a valid state with free stack slots; `ctx` is the running program's.
unsafe fn push_host_table(l: *mut lua_State, ctx: &Ctx) {
    // SAFETY: balanced stack use: the table stays on top, every field value is set into it.
    unsafe {
        ffi::lua_createtable(l, 0, 6);
        if ctx.args.first().is_some_and(|a| !a.is_empty()) {
            push_bytes(l, ctx.progname.to_bytes());
            ffi::lua_setfield(l, -2, c"progname".as_ptr());
        }
        let argc = c_int::try_from(ctx.args.len()).unwrap_or(c_int::MAX);
        ffi::lua_createtable(l, argc, 1);
        for (i, a) in ctx.args.iter().enumerate() {
            push_bytes(l, a.to_bytes());
            ffi::lua_rawseti_(l, -2, c_int::try_from(i).unwrap_or(c_int::MAX));
        }
        ffi::lua_setfield(l, -2, c"argv".as_ptr());
        ffi::lua_pushinteger(l, ffi::lua_Integer::from(argc));
        ffi::lua_setfield(l, -2, c"argc".as_ptr());
        ffi::lua_pushboolean(l, c_int::from(libc::isatty(0) == 1));
        ffi::lua_setfield(l, -2, c"isatty".as_ptr());
        let preloads = ctx.payload.preloads().unwrap_or_default();
        ffi::lua_createtable(l, c_int::try_from(preloads.len()).unwrap_or(0), 0);
        for (i, name) in preloads.iter().enumerate() {
            push_bytes(l, name);
            ffi::lua_rawseti_(l, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
        }
        ffi::lua_setfield(l, -2, c"preloads".as_ptr());
    }
}

/// luajit.c's `handle_script`: the script's `...` are `arg[1..]` as they are now, after the
/// preloads (which may have changed `arg`). Returns how many were pushed.
///
/// # Safety
/// `l` is a valid state in a protected call.
unsafe fn push_script_args(l: *mut lua_State) -> c_int {
    // SAFETY: LuaJIT grows the stack on each push, as luajit.c relies on; the table and the
    // terminating nil are removed again.
    unsafe {
        let mut narg = 0;
        ffi::lua_getglobal_(l, c"arg".as_ptr());
        if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
            loop {
                narg += 1;
                ffi::lua_rawgeti_(l, -narg, narg);
                if ffi::lua_isnil(l, -1) != 0 {
                    break;
                }
            }
            ffi::lua_pop(l, 1);
            ffi::lua_remove(l, -narg);
            narg - 1
        } else {
            ffi::lua_pop(l, 1);
            0
        }
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

/// luajit.c's `createargtable` for a bundled program: `arg[0]` is the executable as invoked,
/// `arg[1..n]` its arguments.
///
/// # Safety
/// `l` is a valid state in a protected call.
unsafe fn create_arg_table(l: *mut lua_State, args: &[&CStr]) {
    let narg = c_int::try_from(args.len().saturating_sub(1)).unwrap_or(c_int::MAX);
    // SAFETY: balanced stack use: one table pushed, filled, and popped by setglobal.
    unsafe {
        ffi::lua_createtable(l, narg, 1);
        for (i, a) in args.iter().enumerate() {
            push_bytes(l, a.to_bytes());
            ffi::lua_rawseti_(l, -2, c_int::try_from(i).unwrap_or(c_int::MAX));
        }
        ffi::lua_setglobal(l, c"arg".as_ptr());
    }
}

/// Runs boot.lua with the bundle searcher as its argument, then appends [`hint`] to
/// `package.loaders`. The hint is appended here rather than by boot.lua (shared with the C file
/// of `--emit-c`), because boot.lua is parsed at every start: a Lua line there costs each run
/// of every program more than these few API calls.
///
/// # Safety
/// `l` is a valid state in a protected call; `ctx` outlives it.
unsafe fn install_searcher(l: *mut lua_State, ctx: &Ctx) {
    // SAFETY: balanced stack use; the light userdata points at `ctx`, which outlives the state.
    unsafe {
        if ffi::luaL_loadbuffer(l, BOOT_LUA.as_ptr().cast(), BOOT_LUA.len(), c"=boot".as_ptr()) != 0
        {
            ffi::lua_error(l);
        }
        ffi::lua_pushlightuserdata(l, ptr::from_ref(ctx).cast_mut().cast::<c_void>());
        ffi::lua_pushcclosure(l, searcher, 1);
        ffi::lua_call(l, 1, 0);
        // package.loaders[#package.loaders + 1] = hint (uses 3 stack slots).
        ffi::lua_getglobal_(l, c"package".as_ptr());
        ffi::lua_getfield(l, -1, c"loaders".as_ptr());
        let n = c_int::try_from(ffi::lua_objlen(l, -1)).unwrap_or(c_int::MAX - 1);
        ffi::lua_pushlightuserdata(l, ptr::from_ref(ctx).cast_mut().cast::<c_void>());
        ffi::lua_pushcclosure(l, hint, 1);
        ffi::lua_rawseti_(l, -2, n + 1);
        ffi::lua_pop(l, 2);
    }
}

/// The last searcher: finds nothing, but for `a.b.c` when the bundle holds
/// other modules under `a.b`, returns a line that ends require's "not found" message with the
/// flag that would have bundled it. Written in Rust, not Lua, so that start-up parses nothing
/// more for it.
unsafe extern "C-unwind" fn hint(l: *mut lua_State) -> c_int {
    // SAFETY: the upvalue is the `ctx` pointer set by install_searcher; the argument stays on
    // the stack while it is borrowed, and a non-string argument simply gets no hint.
    unsafe {
        let ctx = &*ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)).cast::<Ctx>();
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
    // SAFETY: the upvalue is the `ctx` pointer set by install_searcher; the name argument is a
    // string (luaL_checklstring raises otherwise, before anything is owned here) that stays on
    // the stack while it is borrowed.
    unsafe {
        let ctx = &*ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)).cast::<Ctx>();
        let mut len = 0;
        let name = ffi::luaL_checklstring(l, 1, &mut len);
        let name = std::slice::from_raw_parts(name.cast::<u8>(), len);
        match ctx.payload.module(name) {
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
            Ok(Some(entry)) => match load_entry(l, ctx, &entry) {
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

/// Decodes an entry (borrowing the shared decoder only for the call).
fn decode<'a>(ctx: &Ctx, entry: &Entry<'a>) -> Result<Cow<'a, [u8]>, String> {
    Ok(match entry.codec {
        Codec::Stored => Cow::Borrowed(entry.stored),
        Codec::Zstd => {
            let mut slot = ctx.decoder.borrow_mut();
            let decoder = match &mut *slot {
                Some(d) => d,
                empty @ None => empty.insert(Decoder::new().map_err(|e| e.to_string())?),
            };
            Cow::Owned(entry.decode_with(decoder).map_err(|e| e.to_string())?)
        }
    })
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
    let handle = native::open(name, &bytes, bundle_runtime::format::checksum(&bytes))
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
        ctx.payload.library_owner(entry).map_err(|e| e.to_string())?
    } else {
        *entry
    };
    let cached = ctx.modules.borrow().get(owner.name).copied();
    let handle = match cached {
        Some(h) => h,
        None => {
            open_needs(ctx, owner.name, 0)?;
            let bytes = decode(ctx, &owner)?;
            let h = native::open(owner.name, &bytes, bundle_runtime::format::checksum(&bytes))?;
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
unsafe fn load_entry(l: *mut lua_State, ctx: &Ctx, entry: &Entry) -> Result<(), String> {
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
    // it keeps. The checksum was verified at start-up, so bytecode is what the bundler wrote.
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

/// luajit.c's `traceback`: the message handler of every protected call of user code.
unsafe extern "C-unwind" fn traceback(l: *mut lua_State) -> c_int {
    // SAFETY: a Lua C function; stack slot 1 is the error object.
    unsafe {
        if ffi::lua_isstring(l, 1) == 0 {
            // Non-string error object? Try its __tostring metamethod.
            if ffi::lua_isnoneornil(l, 1) != 0
                || ffi::luaL_callmeta(l, 1, c"__tostring".as_ptr()) == 0
                || ffi::lua_isstring(l, -1) == 0
            {
                return 1;
            }
            ffi::lua_remove(l, 1);
        }
        luaL_traceback(l, l, ffi::lua_tolstring(l, 1, ptr::null_mut()), 1);
    }
    1
}

/// luajit.c's `lstop`: the hook the SIGINT handler installs.
unsafe extern "C-unwind" fn lstop(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    // SAFETY: called by LuaJIT as a hook on a running state.
    unsafe {
        ffi::lua_sethook(l, None, 0, 0);
        ffi::luaL_where(l, 0);
        push_bytes(l, b"interrupted!");
        ffi::lua_concat(l, 2);
        ffi::lua_error(l);
    }
}

/// luajit.c's `signal_set`: `sigaction` with no flags, so that a blocked read is interrupted
/// (no SA_RESTART, unlike `signal`).
fn set_sigint(handler: libc::sighandler_t) {
    // SAFETY: a zeroed sigaction with an empty mask and a valid handler is a valid argument.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, ptr::null_mut());
    }
}

/// luajit.c's `laction`: on SIGINT, make the running Lua code raise "interrupted!".
extern "C" fn laction(sig: c_int) {
    // SAFETY: restoring the default disposition and setting a hook is what luajit.c does from
    // its handler; lua_sethook only stores fields, which is why luajit deems it signal-safe.
    unsafe {
        let _ = sig;
        set_sigint(libc::SIG_DFL);
        let l = GLOBAL_L.load(Ordering::Relaxed);
        if !l.is_null() {
            let mask = ffi::LUA_MASKCALL | ffi::LUA_MASKRET | ffi::LUA_MASKCOUNT;
            ffi::lua_sethook(l, Some(lstop), mask, 1);
        }
    }
}

/// luajit.c's `docall`: calls the function below `narg` arguments with the traceback handler.
///
/// # Safety
/// `l` is valid, with the function and `narg` arguments on top of the stack.
unsafe fn docall(l: *mut lua_State, narg: c_int, clear: bool) -> c_int {
    // SAFETY: follows luajit.c's stack discipline exactly; the handler is a plain C function.
    unsafe {
        let base = ffi::lua_gettop(l) - narg;
        ffi::lua_pushcfunction(l, traceback);
        ffi::lua_insert(l, base);
        set_sigint(laction as extern "C" fn(c_int) as libc::sighandler_t);
        let status = ffi::lua_pcall(l, narg, if clear { 0 } else { ffi::LUA_MULTRET }, base);
        set_sigint(libc::SIG_DFL);
        ffi::lua_remove(l, base);
        if status != 0 {
            // Force a complete garbage collection in case of errors, as luajit does.
            ffi::lua_gc(l, ffi::LUA_GCCOLLECT, 0);
        }
        status
    }
}

/// luajit.c's `dolibrary`: `require(name)` through docall, errors reported.
///
/// # Safety
/// `l` is a valid state in a protected call.
unsafe fn dolibrary(l: *mut lua_State, progname: &CStr, name: &[u8]) -> c_int {
    // SAFETY: pushes `require` and its argument, which docall consumes.
    unsafe {
        ffi::lua_getglobal_(l, c"require".as_ptr());
        push_bytes(l, name);
        let status = docall(l, 1, true);
        report(l, progname, status)
    }
}

/// luajit.c's `report`: prints and pops the error object of a failed call.
///
/// # Safety
/// `l` is valid; when `status` is non-zero the error object is on top of the stack.
unsafe fn report(l: *mut lua_State, progname: &CStr, status: c_int) -> c_int {
    // SAFETY: reads and pops the value on top, which exists when status != 0.
    unsafe {
        if status != 0 && ffi::lua_isnil(l, -1) == 0 {
            let msg = to_bytes(l, -1).unwrap_or(b"(error object is not a string)");
            message(progname, msg);
            ffi::lua_pop(l, 1);
        }
    }
    status
}
