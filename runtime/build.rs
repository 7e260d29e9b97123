//! Link settings of the stub.
//!
//! - The Lua C API is exported (a linker dynamic list: `lua_*`, `luaL_*`, `luaopen_*`,
//!   `luaJIT_*`, nothing else), so that C modules built for Lua 5.1/LuaJIT, which leave those
//!   symbols undefined, resolve them against the stub when it loads them.
//! - Lazy binding (`-z lazy`, as Debian builds `luajit`): with `-z now` the dynamic loader
//!   resolves every imported symbol before `main`, most of which a short program never calls;
//!   that costs about a tenth of a `hello` run (callgrind: 563k → 502k instructions). The price
//!   is the partial RELRO that luajit also has; the bundler's build.rs builds the stub with
//!   `-C relro-level=partial`, without which rustc's `-z now` wins over this flag.
//! - The host (`host/host.c`: luajit.c's frames and the start-up policy, shared with the C file
//!   of `bundle --emit-c`) is compiled against the headers of the vendored LuaJIT that mlua-sys
//!   built. mlua-sys does not publish where they are; its build script has run before this one
//!   (it `links = "lua"`), so they are found beside this script's own output directory.
//!   `BUNDLE_LUA_INCLUDE` names another directory.
//! - The static stub (`-C target-feature=+crt-static`, a static PIE with no `PT_INTERP`) has no
//!   dynamic loader: neither the export list nor lazy binding applies to it.
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=host");
    println!("cargo:rerun-if-env-changed=BUNDLE_LUA_INCLUDE");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    if std::env::var_os("CARGO_FEATURE_STUB").is_some() {
        compile_host(&out);
    }
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let static_link = features.split(',').any(|f| f == "crt-static");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") || static_link {
        return;
    }
    let list = out.join("lua-api.list");
    std::fs::write(&list, "{\n  lua_*;\n  luaL_*;\n  luaopen_*;\n  luaJIT_*;\n};\n")
        .expect("writing the dynamic list");
    println!("cargo:rustc-link-arg-bins=-Wl,--dynamic-list={}", list.display());
    println!("cargo:rustc-link-arg-bins=-Wl,-z,lazy");
}

/// Compiles host/host.c into a static library linked into the stub.
fn compile_host(out: &Path) {
    let include = lua_include_dir(out);
    cc::Build::new()
        .file("host/host.c")
        .include("host")
        .include(&include)
        .std("c99")
        .warnings(true)
        .extra_warnings(true)
        .compile("bundlehost");
    // The VM's version, for the stub's `.bundle_luajit` marker.
    let header = std::fs::read_to_string(include.join("luajit.h")).expect("reading luajit.h");
    let version = header
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#define LUAJIT_VERSION"))
        .find_map(|rest| {
            let rest = rest.strip_prefix([' ', '\t'])?.trim();
            rest.strip_prefix('"')?.strip_suffix('"').map(str::to_owned)
        })
        .expect("LUAJIT_VERSION in luajit.h");
    println!("cargo:rustc-env=BUNDLE_STUB_LUAJIT_VERSION={version}");
}

/// The directory holding the vendored LuaJIT's `lua.h`: `BUNDLE_LUA_INCLUDE`, else mlua-sys's
/// `OUT_DIR/include`, a sibling of ours (`<target>/<profile>/build/<package>-<hash>/out`); the
/// most recent one when several builds of mlua-sys sit there (all are the one locked version).
fn lua_include_dir(out: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("BUNDLE_LUA_INCLUDE") {
        return PathBuf::from(dir);
    }
    let build = out.parent().and_then(Path::parent).expect("OUT_DIR has a build/ parent");
    let found = std::fs::read_dir(build)
        .expect("listing the build directory")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("mlua-sys-"))
        .map(|e| e.path().join("out").join("include"))
        .filter(|dir| dir.join("lua.h").is_file())
        .max_by_key(|dir| std::fs::metadata(dir.join("lua.h")).and_then(|m| m.modified()).ok());
    found.unwrap_or_else(|| {
        panic!(
            "the vendored LuaJIT headers were not found under {} (mlua-sys-*/out/include); \
             set BUNDLE_LUA_INCLUDE",
            build.display()
        )
    })
}
