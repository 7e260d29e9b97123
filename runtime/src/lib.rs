//! The runtime side of `bundle`: the payload format (shared with the bundler) and the lookup of
//! a payload inside an executable. The stub binary (`src/main.rs`, feature `stub`) builds on it.
//!
//! Dependencies are few on purpose: every executable `bundle` produces carries this crate.
//! `object` (read-only ELF, lazily through `ReadCache`), `zstd` (decoding), `xxhash-rust`
//! (the checksum), `thiserror`; the stub adds `mlua-sys` for the vendored LuaJIT.

pub mod carrier;
pub mod format;

/// Bytes the stub carries in its `.bundle_stub` section so the bundler can tell a stub from any
/// other executable: a fixed prefix, then the payload format version it reads
/// ([`format::VERSION`]), so that `bundle --stub` refuses a stub of another format at bundle
/// time instead of writing a payload it would refuse at run time.
pub const STUB_MARKER: [u8; 16] = {
    let mut marker = *b"bundle-stub\0fmt\0";
    assert!(format::VERSION <= 0xff, "the marker holds the format version in one byte");
    marker[15] = format::VERSION as u8;
    marker
};
/// Name of the ELF section holding [`STUB_MARKER`].
pub const STUB_SECTION: &str = ".bundle_stub";

/// Name of the ELF section holding the stub's LuaJIT version (`LuaJIT 2.1.1788856981`, from
/// the `luajit.h` it was compiled with): the bundler ships its `jit.*` tools to an interpreter
/// only when they are that VM's.
pub const LUAJIT_SECTION: &str = ".bundle_luajit";

/// The `luaopen_*` function Lua's C loader calls for module `name`: the part after the first
/// `-` (Lua 5.1 manual §5.3, `package.loaders`), dots replaced by underscores.
pub fn luaopen_symbol(name: &[u8]) -> Vec<u8> {
    let name = match name.iter().position(|b| *b == b'-') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    let mut sym = b"luaopen_".to_vec();
    sym.extend(name.iter().map(|b| if *b == b'.' { b'_' } else { *b }));
    sym
}

#[cfg(test)]
mod tests {
    #[test]
    fn luaopen_symbols_follow_the_manual() {
        assert_eq!(super::luaopen_symbol(b"cjson"), b"luaopen_cjson");
        assert_eq!(super::luaopen_symbol(b"socket.core"), b"luaopen_socket_core");
        assert_eq!(super::luaopen_symbol(b"a.v1-b.c"), b"luaopen_b_c");
    }
}
