//! The stub's side of embedded files (docs/ASSETS.md): the primitives that
//! runtime/lua/assets.lua builds the read API and the overlay on, over the payload's asset
//! entries. Keys are normalised mount paths (`public/style.css`, `/etc/app.conf`); the Lua side
//! turns the program's paths into keys.
//!
//! Nothing here runs for a program without assets: the host asks [`push`] at start-up, which
//! answers "none" from the payload's records without building anything.

use std::ffi::{c_int, c_void};
use std::ptr;

use mlua_sys::{self as ffi, lua_State};

use crate::{ctx, decode, luaL_loadbufferx, push_bytes, Ctx};

/// host.h's `push_assets`: the overlay's boot chunk (runtime/lua/assets_boot.lua) and the
/// function that loads the overlay ([`overlay`]), or -1 without assets. Nothing else is built
/// at start-up: the boot runs at every start of a program with assets, the overlay only once
/// the program uses a file (issue 19).
///
/// # Safety
/// Called by the host with main's `ud` and a state with free slots.
pub unsafe extern "C-unwind" fn push(l: *mut lua_State, ud: *mut c_void) -> c_int {
    // SAFETY: per the contract; balanced stack use: the chunk and the function are left on top.
    unsafe {
        let c = ctx(ud);
        let chunk = match c.payload.assets_boot() {
            Ok(Some(boot)) => boot,
            Ok(None) => return -1,
            Err(e) => {
                push_bytes(l, format!("bundle payload: {e}").as_bytes());
                return ffi::LUA_ERRRUN;
            }
        };
        // The development override is the environment's at start-up, whenever the overlay loads.
        *c.asset_override.borrow_mut() =
            std::env::var_os("BUNDLE_ASSETS_OVERRIDE").filter(|d| !d.is_empty());
        // Named "=[C]": the overlay's wrappers stand where C functions stood (io.open,
        // dofile...), and tracebacks name them as luajit names those.
        let status =
            luaL_loadbufferx(l, chunk.as_ptr().cast(), chunk.len(), c"=[C]".as_ptr(), ptr::null());
        if status != 0 {
            return status;
        }
        ffi::lua_pushlightuserdata(l, ud);
        ffi::lua_pushcclosure(l, overlay, 1);
        0
    }
}

/// The boot's `overlay()` → the overlay chunk (runtime/lua/assets.lua), loaded and named "=[C]"
/// as the boot is, and `raw`, the table of primitives it takes: what the boot calls on the
/// program's first use of a file. The chunk is a sealed record (docs/FORMAT.md, "Sealed
/// records"), which start-up does not verify: it is verified here, before it is loaded, and a
/// mismatch ends the process as a damaged entry does ([`crate::damaged`]).
unsafe extern "C-unwind" fn overlay(l: *mut lua_State) -> c_int {
    // SAFETY: upvalue 1 is main's `ud`; the chunk borrows the payload, mapped for the whole
    // run; pushes the function and the table, or raises the load's message.
    unsafe {
        let ud = ffi::lua_touserdata(l, ffi::lua_upvalueindex(1));
        let c = ctx(ud);
        let chunk = match c.payload.assets_overlay() {
            Ok(Some(sealed)) => match sealed.verified("ASSETS_OVERLAY") {
                Ok(chunk) => chunk,
                Err(e) => crate::damaged(c, &e),
            },
            Ok(None) => &[][..],
            Err(e) => return raise(l, format!("bundle payload: {e}")),
        };
        let status =
            luaL_loadbufferx(l, chunk.as_ptr().cast(), chunk.len(), c"=[C]".as_ptr(), ptr::null());
        if status != 0 {
            ffi::lua_error(l);
        }
        ffi::lua_createtable(l, 0, 8);
        let functions: [(&std::ffi::CStr, ffi::lua_CFunction); 5] = [
            (c"stat", stat),
            (c"read", read),
            (c"list", list),
            (c"cwd", cwd),
            (c"materialize", materialize),
        ];
        for (name, f) in functions {
            ffi::lua_pushlightuserdata(l, ud);
            ffi::lua_pushcclosure(l, f, 1);
            ffi::lua_setfield(l, -2, name.as_ptr());
        }
        // Which trees exist, without listing them: the overlay's load does not grow with the
        // assets.
        let (relative, absolute) = c.payload.asset_roots().unwrap_or((true, true));
        ffi::lua_pushboolean(l, c_int::from(relative));
        ffi::lua_setfield(l, -2, c"relative".as_ptr());
        ffi::lua_pushboolean(l, c_int::from(absolute));
        ffi::lua_setfield(l, -2, c"absolute".as_ptr());
        if let Some(dir) = c.asset_override.borrow().as_ref() {
            push_bytes(l, dir.as_encoded_bytes());
            ffi::lua_setfield(l, -2, c"override".as_ptr());
        }
        2
    }
}

/// The `Ctx` of a primitive (its upvalue) and its key argument.
///
/// # Safety
/// `l` is in a call of one of the closures made by [`push`].
unsafe fn args<'a>(l: *mut lua_State) -> (&'a Ctx, &'a [u8]) {
    // SAFETY: upvalue 1 is main's `ud`; luaL_checklstring raises (before anything is owned
    // here) unless argument 1 is a string, which stays on the stack while borrowed.
    unsafe {
        let c = ctx(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)));
        let mut len = 0;
        let p = ffi::luaL_checklstring(l, 1, &mut len);
        (c, std::slice::from_raw_parts(p.cast::<u8>(), len))
    }
}

/// Raises `msg` as a Lua error (an index that does not read: verified at start, so not
/// expected; a damaged asset's bytes end the process instead, `crate::damaged`).
///
/// # Safety
/// `l` is in a Lua C function.
unsafe fn raise(l: *mut lua_State, msg: String) -> c_int {
    // SAFETY: nothing owned by Rust is left in the caller's frame once `msg` is pushed.
    unsafe {
        push_bytes(l, msg.as_bytes());
        drop(msg);
        ffi::lua_error(l)
    }
}

/// `raw.stat(key)` → kind, size, mode; nothing when `key` is not embedded.
unsafe extern "C-unwind" fn stat(l: *mut lua_State) -> c_int {
    // SAFETY: see `args`; pushes at most three values.
    unsafe {
        let (c, key) = args(l);
        match c.payload.asset(key) {
            Ok(Some(e)) => {
                push_bytes(l, b"file");
                ffi::lua_pushnumber(l, e.raw_len as f64);
                ffi::lua_pushinteger(l, ffi::lua_Integer::from(e.mode().unwrap_or(0o644)));
                3
            }
            Ok(None) => match c.payload.asset_children(key) {
                Ok(Some(_)) => {
                    push_bytes(l, b"directory");
                    ffi::lua_pushinteger(l, 0);
                    ffi::lua_pushinteger(l, 0o755);
                    3
                }
                Ok(None) => 0,
                Err(e) => raise(l, format!("bundle payload: {e}")),
            },
            Err(e) => raise(l, format!("bundle payload: {e}")),
        }
    }
}

/// `raw.read(key [, offset [, length]])` → the file's bytes (or the slice); nil if not an
/// embedded file. A raw-stored asset is copied straight from the mapped payload into the
/// Lua string; a compressed one is decoded first.
unsafe extern "C-unwind" fn read(l: *mut lua_State) -> c_int {
    // SAFETY: see `args`; the slice pushed borrows the payload (mapped for the whole run) or
    // the decoded buffer, which lives until after the push.
    unsafe {
        let (c, key) = args(l);
        let entry = match c.payload.asset(key) {
            Ok(Some(e)) => e,
            Ok(None) => {
                ffi::lua_pushnil(l);
                return 1;
            }
            Err(e) => return raise(l, format!("bundle payload: {e}")),
        };
        let offset = ffi::luaL_optinteger(l, 2, 0).max(0) as usize;
        let length = if ffi::lua_isnoneornil(l, 3) != 0 {
            usize::MAX
        } else {
            ffi::luaL_checkinteger(l, 3).max(0) as usize
        };
        if entry.codec == bundle_runtime::format::Codec::Stored {
            // Straight from the mapped payload into the Lua string, once verified (the first
            // read of the asset hashes it; a damaged one ends the process).
            let bytes = crate::verified(c, &entry);
            let start = offset.min(bytes.len());
            let end = start.saturating_add(length).min(bytes.len());
            push_bytes(l, &bytes[start..end]);
            return 1;
        }
        // A compressed asset read by slices (luv, large files read in chunks) is decoded once:
        // the last one decoded is kept.
        let mut cache = c.last_asset.borrow_mut();
        if cache.as_ref().is_none_or(|(k, _)| k.as_slice() != key) {
            match decode(c, &entry) {
                Ok(b) => *cache = Some((key.to_vec(), b.into_owned())),
                Err(msg) => {
                    drop(cache);
                    return raise(l, format!("asset {}: {msg}", String::from_utf8_lossy(key)));
                }
            }
        }
        let bytes = cache.as_ref().map_or(&[][..], |(_, b)| b.as_slice());
        let start = offset.min(bytes.len());
        let end = start.saturating_add(length).min(bytes.len());
        push_bytes(l, &bytes[start..end]);
        1
    }
}

/// `raw.list(key)` → names, kinds of the immediate children of an embedded directory.
unsafe extern "C-unwind" fn list(l: *mut lua_State) -> c_int {
    // SAFETY: see `args`; two tables pushed and filled.
    unsafe {
        let (c, key) = args(l);
        let children = match c.payload.asset_children(key) {
            Ok(Some(children)) => children,
            Ok(None) => return 0,
            Err(e) => return raise(l, format!("bundle payload: {e}")),
        };
        let n = c_int::try_from(children.len()).unwrap_or(c_int::MAX);
        ffi::lua_createtable(l, n, 0);
        ffi::lua_createtable(l, n, 0);
        for (i, (name, is_dir)) in children.iter().enumerate() {
            let i = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            push_bytes(l, name);
            ffi::lua_rawseti_(l, -3, i);
            push_bytes(l, if *is_dir { b"directory" } else { b"file" });
            ffi::lua_rawseti_(l, -2, i);
        }
        2
    }
}

/// `raw.cwd()` → the working directory, or nil, message.
unsafe extern "C-unwind" fn cwd(l: *mut lua_State) -> c_int {
    // SAFETY: pushes one or two values.
    unsafe {
        match std::env::current_dir() {
            Ok(dir) => {
                push_bytes(l, dir.as_os_str().as_encoded_bytes());
                1
            }
            Err(e) => {
                ffi::lua_pushnil(l);
                push_bytes(l, e.to_string().as_bytes());
                2
            }
        }
    }
}

/// `raw.materialize(key)` → a real file with the asset's bytes, or nil, message.
unsafe extern "C-unwind" fn materialize(l: *mut lua_State) -> c_int {
    // SAFETY: see `args`; pushes one or two values.
    unsafe {
        let (c, key) = args(l);
        let result = match c.payload.asset(key) {
            Ok(Some(e)) => decode(c, &e).and_then(|bytes| {
                let hash = bundle_runtime::format::checksum(&bytes);
                crate::native::materialize(key, &bytes, hash)
            }),
            Ok(None) => Err("not an embedded file".to_owned()),
            Err(e) => Err(format!("bundle payload: {e}")),
        };
        match result {
            Ok(path) => {
                push_bytes(l, path.as_os_str().as_encoded_bytes());
                1
            }
            Err(msg) => {
                ffi::lua_pushnil(l);
                push_bytes(l, msg.as_bytes());
                2
            }
        }
    }
}
