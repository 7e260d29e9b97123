//! The runtime side of `bundle`: the payload format (shared with the bundler) and the lookup of
//! a payload inside an executable. The stub binary (`src/main.rs`, feature `stub`) builds on it.
//!
//! Dependencies are few on purpose: every executable `bundle` produces carries this crate.
//! `object` (read-only ELF, lazily through `ReadCache`), `zstd` (decoding), `xxhash-rust`
//! (the checksum), `thiserror`; the stub adds `mlua-sys` for the vendored LuaJIT.

pub mod carrier;
pub mod format;

/// Bytes the stub carries in its `.bundle_stub` section so the bundler can tell a stub from any
/// other executable: a fixed prefix, then the payload format version it reads.
pub const STUB_MARKER: [u8; 16] = *b"bundle-stub\0fmt\x01";
/// Name of the ELF section holding [`STUB_MARKER`].
pub const STUB_SECTION: &str = ".bundle_stub";
