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
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    let list = out.join("lua-api.list");
    std::fs::write(&list, "{\n  lua_*;\n  luaL_*;\n  luaopen_*;\n  luaJIT_*;\n};\n")
        .expect("writing the dynamic list");
    println!("cargo:rustc-link-arg-bins=-Wl,--dynamic-list={}", list.display());
    println!("cargo:rustc-link-arg-bins=-Wl,-z,lazy");
}
