//! The index (docs/FORMAT.md, "Index entry"): what an entry holds ([`Kind`]) and how each kind
//! is treated, the entry [`flags`], which entry is the main script, and [`Entry`], an index
//! entry as read.

use std::ffi::CStr;

use super::{Codec, FormatError};

/// Whether `name` is the main script's: the main script is the entry with the empty name, which
/// sorts before every other (docs/FORMAT.md, "Index entry"). The one place that says so:
/// everything else asks this or [`Entry::is_main`].
pub(super) fn is_main(name: &[u8]) -> bool {
    name.is_empty()
}

tags! {
    /// What an entry holds: the index's `kind` byte. One source of truth for the tag values
    /// (the `tags!` list); how each kind is treated is its row in `Kind::rules`. Adding a kind
    /// is a line here, its row there and its section in docs/FORMAT.md.
    pub enum Kind: u8, unknown: FormatError::UnknownKind {
        /// Lua source text, loaded with `luaL_loadbuffer` in mode `"t"`.
        LuaSource = 1, "lua-source";
        /// LuaJIT bytecode as written by `string.dump`, loaded in mode `"b"`.
        LuaBytecode = 2, "lua-bytecode";
        /// A native shared library (C module or one of its dependencies), loaded by the dynamic
        /// loader.
        Native = 3, "native";
        /// Opaque data made available to the program; never loaded as code.
        Asset = 4, "asset";
    }
}

/// How one kind of entry is treated, by reader and writer alike.
#[derive(Debug, Clone, Copy)]
struct Rules {
    /// How LuaJIT loads it, if it is a Lua chunk (and so may be the main script).
    chunk: Option<ChunkMode>,
    /// Whether `require` may find it (a native entry only without the `LIBRARY` flag).
    module: bool,
    /// Whether the writer tries zstd on it (it keeps whichever is smaller).
    compress: bool,
}

impl Kind {
    /// The kinds' rules, one row each.
    const fn rules(self) -> Rules {
        use ChunkMode::{Binary, Text};
        match self {
            Kind::LuaSource => Rules { chunk: Some(Text), module: true, compress: true },
            Kind::LuaBytecode => Rules { chunk: Some(Binary), module: true, compress: true },
            // Loading a native entry copies it into memory for the dynamic loader anyway, and
            // decompressing it first costs more start-up time than the bytes are worth.
            Kind::Native => Rules { chunk: None, module: true, compress: false },
            Kind::Asset => Rules { chunk: None, module: false, compress: true },
        }
    }

    /// How LuaJIT must load an entry of this kind, `None` if it is not a Lua chunk.
    pub const fn chunk_mode(self) -> Option<ChunkMode> {
        self.rules().chunk
    }

    /// Whether an entry of this kind is a Lua chunk (source or bytecode).
    pub const fn is_lua(self) -> bool {
        self.rules().chunk.is_some()
    }

    /// Whether `require` may find an entry of this kind ([`Entry::is_module`]).
    pub const fn is_module(self) -> bool {
        self.rules().module
    }

    /// Whether the writer may store an entry of this kind compressed.
    pub const fn may_compress(self) -> bool {
        self.rules().compress
    }
}

/// How LuaJIT loads a Lua chunk: each mode refuses the other's chunks, so bytecode is never
/// taken for source nor the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkMode {
    /// Source text, mode `"t"`.
    Text,
    /// LuaJIT bytecode, mode `"b"`.
    Binary,
}

impl ChunkMode {
    /// The mode argument of `luaL_loadbufferx`.
    pub const fn as_cstr(self) -> &'static CStr {
        match self {
            ChunkMode::Text => c"t",
            ChunkMode::Binary => c"b",
        }
    }

    /// Why LuaJIT would refuse `chunk` in this mode, judged by its first bytes (LuaJIT's own
    /// test: bytecode starts with ESC `LJ`), or `None`.
    pub(super) fn refuses(self, chunk: &[u8]) -> Option<&'static str> {
        match self {
            ChunkMode::Binary if !chunk.starts_with(b"\x1bLJ") => {
                Some("it is marked as LuaJIT bytecode but does not start with its signature")
            }
            ChunkMode::Text if chunk.first() == Some(&0x1b) => {
                Some("it is marked as Lua source but starts like bytecode (ESC)")
            }
            _ => None,
        }
    }
}

/// Bits of an index entry's `flags` field.
pub mod flags {
    /// A shared library that native modules need: loaded on their behalf, never by `require`.
    pub const LIBRARY: u16 = 0x0001;
    /// A native module whose code is in another native module's library (Lua's all-in-one
    /// loader: `_cqueues.socket` served by `_cqueues.so`). The entry's data is the name of the
    /// entry that holds the library; its `luaopen_*` function is looked up in that library, which
    /// is opened once for all the modules it serves.
    pub const SHARED: u16 = 0x0002;
    /// Every bit version 1 defines for code entries.
    pub const KNOWN: u16 = LIBRARY | SHARED;
    /// In an asset entry: the file's permission bits (`mode & 0o7777`), shifted left by
    /// [`MODE_SHIFT`]. An asset has no other flag.
    pub const MODE: u16 = 0xFFF0;
    /// Where the permission bits start in an asset entry's flags.
    pub const MODE_SHIFT: u16 = 4;

    /// The bits an entry of `kind` may have.
    pub const fn known(kind: super::Kind) -> u16 {
        match kind {
            super::Kind::Asset => MODE,
            _ => KNOWN,
        }
    }
}

/// The first byte of an asset entry's name, followed by its mount key (`?public/style.css`,
/// `?/etc/app.conf`): module names cannot contain `?`, so assets and modules never share a
/// name, and the assets sort together.
pub const ASSET_PREFIX: u8 = b'?';

/// The entry name of the asset mounted at `key`.
pub fn asset_name(key: &[u8]) -> Vec<u8> {
    let mut name = Vec::with_capacity(key.len() + 1);
    name.push(ASSET_PREFIX);
    name.extend_from_slice(key);
    name
}

/// The first byte of an entry point's name, followed by the entry's name (`/web`): module names
/// cannot contain `/`, so entry points and modules never share a name, and the entry points
/// sort together. The main script (the empty name) is the single-entry form.
pub const ENTRY_PREFIX: u8 = b'/';

/// The index name of the entry point called `name` (`web` is stored as `/web`).
pub fn entry_point_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 1);
    out.push(ENTRY_PREFIX);
    out.extend_from_slice(name);
    out
}

/// One index entry, borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Module name (`a.b`); empty for the main script.
    pub name: &'a [u8],
    /// Chunk name given to `luaL_loadbuffer` (`@./a/b.lua`).
    pub chunkname: &'a [u8],
    pub kind: Kind,
    pub codec: Codec,
    /// [`flags`] bits.
    pub flags: u16,
    /// The stored (possibly compressed) bytes.
    pub stored: &'a [u8],
    /// Size after decoding.
    pub raw_len: u64,
    /// Offset of the stored bytes from the start of the payload.
    pub offset: u64,
    /// XXH3-64 of the stored bytes, as the index records it ([`Entry::verified`] checks it).
    pub checksum: u64,
}

impl<'a> Entry<'a> {
    /// Whether this is the main script.
    pub fn is_main(&self) -> bool {
        is_main(self.name)
    }

    /// The stored bytes, once they match the entry's checksum; else
    /// [`FormatError::EntryDamaged`] naming the entry. Every use of an entry's bytes goes
    /// through this first ([`Entry::decode`] does): the payload's own checksum, verified at
    /// start-up, covers the index but not the entries' data.
    pub fn verified(&self) -> Result<&'a [u8], FormatError> {
        let computed = super::checksum(self.stored);
        if computed != self.checksum {
            return Err(FormatError::EntryDamaged {
                entry: super::label(self.name),
                stored: self.checksum,
                computed,
            });
        }
        Ok(self.stored)
    }

    /// Whether it has the [`flags::LIBRARY`] bit: a library loaded on behalf of native modules.
    pub fn is_library(&self) -> bool {
        self.flags & flags::LIBRARY != 0
    }

    /// Whether it has the [`flags::SHARED`] bit: a native module whose code another entry holds.
    pub fn is_shared(&self) -> bool {
        self.flags & flags::SHARED != 0
    }

    /// Whether `require` may find it: neither the main script, an entry point nor a library,
    /// and of a kind that is a module (an asset never is, however it is named).
    pub fn is_module(&self) -> bool {
        !self.is_main()
            && self.entry_name().is_none()
            && !self.is_library()
            && self.kind.is_module()
    }

    /// For an entry point (a Lua chunk named [`ENTRY_PREFIX`] + its name), the entry's name.
    pub fn entry_name(&self) -> Option<&'a [u8]> {
        match self.kind.is_lua() {
            true => self.name.strip_prefix(&[ENTRY_PREFIX]),
            false => None,
        }
    }

    /// For an asset, its mount key (the name without [`ASSET_PREFIX`]).
    pub fn asset_key(&self) -> Option<&[u8]> {
        match self.kind {
            Kind::Asset => self.name.strip_prefix(&[ASSET_PREFIX]),
            _ => None,
        }
    }

    /// For an asset, its permission bits.
    pub fn mode(&self) -> Option<u32> {
        (self.kind == Kind::Asset)
            .then_some(u32::from((self.flags & flags::MODE) >> flags::MODE_SHIFT))
    }

    /// The name for messages: the module name, escaped ([`super::escaped`]), or `(main)`.
    pub fn display_name(&self) -> String {
        if self.is_main() {
            "(main)".to_owned()
        } else {
            super::escaped(self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for k in [Kind::LuaSource, Kind::LuaBytecode, Kind::Native, Kind::Asset] {
            assert_eq!(Kind::try_from(k as u8), Ok(k));
        }
        for c in [Codec::Stored, Codec::Zstd] {
            assert_eq!(Codec::try_from(c as u8), Ok(c));
        }
        assert_eq!(Kind::try_from(0), Err(FormatError::UnknownKind(0)));
        assert_eq!(Codec::try_from(9), Err(FormatError::UnknownCodec(9)));
        // Every value the list declares, and nothing else, reads back.
        for v in 0..=u8::MAX {
            match Kind::try_from(v) {
                Ok(k) => assert!(Kind::ALL.contains(&k) && k as u8 == v),
                Err(e) => assert_eq!(e, FormatError::UnknownKind(v)),
            }
            match Codec::try_from(v) {
                Ok(c) => assert!(Codec::ALL.contains(&c) && c as u8 == v),
                Err(e) => assert_eq!(e, FormatError::UnknownCodec(v)),
            }
        }
        assert_eq!(Kind::ALL.len(), 4);
        assert_eq!(Kind::LuaBytecode.to_string(), "lua-bytecode");
    }

    #[test]
    fn issue14_each_kind_is_treated_by_its_rules() {
        assert_eq!(Kind::LuaSource.chunk_mode(), Some(ChunkMode::Text));
        assert_eq!(Kind::LuaBytecode.chunk_mode(), Some(ChunkMode::Binary));
        assert!(!Kind::Native.is_lua() && !Kind::Native.may_compress());
        assert!(!Kind::Asset.is_module() && !Kind::Asset.is_lua());
        assert_eq!(ChunkMode::Binary.refuses(b"\x1bLJ\x02"), None);
        assert!(ChunkMode::Binary.refuses(b"return 1").is_some());
        assert!(ChunkMode::Text.refuses(b"\x1bLJ").is_some());
    }
}
