//! Payload format v1: the bytes a bundled executable carries, read by the stub runtime and
//! written by the bundler. `docs/FORMAT.md` is the normative specification; this module is its
//! only implementation.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header (48) | index (entry_count × 40) | strings | records | data | footer (24)
//! ```
//!
//! The footer ends with its own magic and repeats the total length, so a payload can be found
//! from its last byte: that is what lets the same bytes ride in an ELF section or at the end of
//! a file. An XXH3-64 checksum over everything before the footer is verified by
//! [`Payload::parse`] before any entry can be read. LuaJIT does not verify bytecode, so a flipped
//! bit in a bytecode entry could crash the process; the checksum is what makes a damaged
//! executable report an error instead.
//!
//! Every read of payload bytes goes through a bounds-checked helper; nothing here indexes a
//! slice with an unchecked offset, and nothing here panics on any input.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// First 8 bytes of a payload.
pub const MAGIC: [u8; 8] = *b"LJBUNDLE";
/// Last 8 bytes of a payload.
pub const END_MAGIC: [u8; 8] = *b"LJBNDEND";
/// The only format version this code reads and writes.
pub const VERSION: u16 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 48;
/// Size of one index entry.
pub const ENTRY_LEN: usize = 40;
/// Size of the footer: checksum, total length, end magic.
pub const FOOTER_LEN: usize = 24;
/// Name of the ELF section that carries the payload.
pub const SECTION_NAME: &str = ".bundle";
/// Largest raw (decompressed) entry size accepted.
pub const MAX_RAW_LEN: u64 = 1 << 32;
/// Entries up to this size are decompressed in one shot into a buffer reserved from the
/// declared size; larger ones are streamed, so that a hostile header cannot make the runtime
/// reserve more than this up front.
const ONE_SHOT_LIMIT: usize = 16 << 20;

/// Why a payload could not be read or written. Names read from a payload appear in messages
/// through [`escaped`]: a crafted payload can hold any bytes, control characters included.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("payload is truncated: {what} needs {needed} bytes at offset {offset}, only {available} present")]
    Truncated { what: &'static str, offset: u64, needed: u64, available: u64 },
    #[error("payload does not start with the bundle magic (not a bundle payload, or damaged)")]
    BadMagic,
    #[error("payload does not end with the bundle end marker (truncated or damaged)")]
    BadEndMagic,
    #[error("payload format version {0} is not supported by this runtime (it reads version {VERSION}); rebuild with a matching bundle")]
    UnsupportedVersion(u16),
    #[error("payload header is inconsistent: {0}")]
    BadHeader(&'static str),
    #[error("payload checksum mismatch (stored {stored:016x}, computed {computed:016x}): the file is damaged")]
    ChecksumMismatch { stored: u64, computed: u64 },
    /// An index entry whose name cannot even be read (otherwise: [`FormatError::InvalidEntry`]).
    #[error("payload index entry {index} is invalid: {reason}")]
    BadEntry { index: usize, reason: String },
    /// `entry` is [`label`]'s form of the entry's name.
    #[error("{entry} is invalid: {reason}")]
    InvalidEntry { entry: String, reason: String },
    #[error("unknown entry kind {0}")]
    UnknownKind(u8),
    #[error("unknown entry codec {0}")]
    UnknownCodec(u8),
    #[error("payload record with tag {0:#06x} is required but not understood by this runtime")]
    UnknownRecord(u16),
    /// A record that is understood but malformed, or that names what the payload lacks.
    #[error("invalid payload record: {0}")]
    BadRecord(String),
    /// `entry` is [`label`]'s form of the entry's name.
    #[error("{entry} could not be decompressed: {reason}")]
    Decompress { entry: String, reason: String },
    #[error("cannot create a zstd context: {0}")]
    Zstd(String),
    /// `entry` is [`label`]'s form of the entry's name.
    #[error("{entry} could not be compressed: {reason}")]
    Compress { entry: String, reason: String },
    /// The quoted, escaped name ([`quoted`]).
    #[error("duplicate entry name {0}")]
    DuplicateName(String),
    /// Index position and quoted names ([`quoted`]) of the first pair out of order.
    #[error("payload index is not sorted by name: entry {index} ({name}) comes after {previous}")]
    Unsorted { index: usize, name: String, previous: String },
    #[error("the payload holds neither a main script nor an interpreter: there is nothing to run")]
    NothingToRun,
    #[error("{0} is too large for the payload format")]
    TooLarge(&'static str),
    /// `name` is escaped ([`escaped`]).
    #[error("shared native entry '{name}' {reason}")]
    BadShared { name: String, reason: &'static str },
}

/// `bytes` as text fit for a one-line message: valid UTF-8 is kept, except control and other
/// invisible characters, backslashes and single quotes, which are escaped as Rust writes them
/// (`\n`, `\u{1b}`, `\\`, `\'`); bytes that are not UTF-8 are written `\xNN`.
pub fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push(c),
                c => out.extend(c.escape_debug()),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A name quoted for a message: `'a.b'`, or `'' (the main script)` for the empty name.
pub fn quoted(name: &[u8]) -> String {
    if name.is_empty() {
        "'' (the main script)".to_owned()
    } else {
        format!("'{}'", escaped(name))
    }
}

/// How messages call the entry named `name`: `entry 'a.b'`, or `the main script`.
pub fn label(name: &[u8]) -> String {
    if name.is_empty() {
        "the main script".to_owned()
    } else {
        format!("entry '{}'", escaped(name))
    }
}

/// What an entry holds. One source of truth for the tag values: see [`Kind::try_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Lua source text, loaded with `luaL_loadbuffer`.
    LuaSource = 1,
    /// LuaJIT bytecode as written by `string.dump`.
    LuaBytecode = 2,
    /// A native shared library (C module or one of its dependencies).
    Native = 3,
    /// Opaque data made available to the program.
    Asset = 4,
}

impl TryFrom<u8> for Kind {
    type Error = FormatError;
    fn try_from(v: u8) -> Result<Self, FormatError> {
        [Kind::LuaSource, Kind::LuaBytecode, Kind::Native, Kind::Asset]
            .into_iter()
            .find(|k| *k as u8 == v)
            .ok_or(FormatError::UnknownKind(v))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::LuaSource => "lua-source",
            Kind::LuaBytecode => "lua-bytecode",
            Kind::Native => "native",
            Kind::Asset => "asset",
        })
    }
}

/// How an entry's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as is.
    Stored = 0,
    /// One zstd frame.
    Zstd = 1,
}

impl TryFrom<u8> for Codec {
    type Error = FormatError;
    fn try_from(v: u8) -> Result<Self, FormatError> {
        [Codec::Stored, Codec::Zstd]
            .into_iter()
            .find(|c| *c as u8 == v)
            .ok_or(FormatError::UnknownCodec(v))
    }
}

/// Tags of the records section. A tag with bit 15 set is optional: readers that do not know it
/// skip it. Any other unknown tag makes the payload unreadable (see docs/FORMAT.md, versioning).
pub mod record {
    /// A module to `require` before the main chunk runs; repeatable, in order.
    pub const PRELOAD: u16 = 0x0001;
    /// The packed libraries a native entry needs loaded first: the entry's name, then each
    /// library entry's name, NUL-separated, in load order. One record per native entry.
    pub const NEEDS: u16 = 0x0002;
    /// SIGPIPE policy of the program, one byte: 0 default disposition (as luajit), 1 ignored
    /// (writes to a closed peer fail with EPIPE instead of ending the process).
    pub const SIGPIPE: u16 = 0x0003;
    /// The interpreter (runtime/lua/interp.lua, compiled): the chunk the stub runs instead of a
    /// main script, `luajit`'s command line. At most one.
    pub const INTERPRETER: u16 = 0x0004;
    /// With a main script: the environment variable that, when set, makes the executable run
    /// the [`INTERPRETER`] instead (`bundle --interpreter-env NAME`). At most one.
    pub const INTERPRETER_ENV: u16 = 0x0005;
    /// Bit marking a record that readers may ignore when they do not know it.
    pub const OPTIONAL: u16 = 0x8000;
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
    /// Every bit version 1 defines.
    pub const KNOWN: u16 = LIBRARY | SHARED;
}

// ---------------------------------------------------------------------------------------------
// Bounds-checked little-endian reads.

fn slice<'a>(
    buf: &'a [u8],
    offset: u64,
    len: u64,
    what: &'static str,
) -> Result<&'a [u8], FormatError> {
    let truncated =
        || FormatError::Truncated { what, offset, needed: len, available: buf.len() as u64 };
    let start = usize::try_from(offset).map_err(|_| truncated())?;
    let len_usize = usize::try_from(len).map_err(|_| truncated())?;
    let end = start.checked_add(len_usize).ok_or_else(truncated)?;
    buf.get(start..end).ok_or_else(truncated)
}

fn array<const N: usize>(
    buf: &[u8],
    offset: usize,
    what: &'static str,
) -> Result<[u8; N], FormatError> {
    let bytes = slice(buf, offset as u64, N as u64, what)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

fn u16_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u16, FormatError> {
    array(buf, offset, what).map(u16::from_le_bytes)
}

fn u32_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u32, FormatError> {
    array(buf, offset, what).map(u32::from_le_bytes)
}

fn u64_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u64, FormatError> {
    array(buf, offset, what).map(u64::from_le_bytes)
}

/// The XXH3-64 checksum the footer stores.
pub fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// Reads the footer at the end of `tail` and returns the total payload length it declares:
/// the payload occupies the last `len` bytes of whatever `tail` ends. Used to find a payload
/// appended to a file (the trailer carrier) and to check a section's contents.
pub fn declared_len(tail: &[u8]) -> Result<u64, FormatError> {
    let Some(footer_at) = tail.len().checked_sub(FOOTER_LEN) else {
        return Err(FormatError::Truncated {
            what: "footer",
            offset: 0,
            needed: FOOTER_LEN as u64,
            available: tail.len() as u64,
        });
    };
    if array::<8>(tail, footer_at + 16, "end magic")? != END_MAGIC {
        return Err(FormatError::BadEndMagic);
    }
    u64_at(tail, footer_at + 8, "footer length")
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// A verified payload: header checked, checksum matched. Entries are decoded lazily.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    entry_count: usize,
    index: &'a [u8],
    strings: &'a [u8],
    records: &'a [u8],
    data: &'a [u8],
    checksum: u64,
    computed: u64,
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
}

impl<'a> Payload<'a> {
    /// Parses and verifies a payload that spans exactly `bytes`: structure, checksum, and that
    /// the index is strictly sorted by name. This is the only way the runtime reads a payload;
    /// entries are checked when read ([`Payload::entry`]) and decoded when loaded, and
    /// [`Payload::verify_all`] runs every check on everything at once.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let p = Self::parse_unverified(bytes)?;
        if p.checksum != p.computed {
            return Err(FormatError::ChecksumMismatch { stored: p.checksum, computed: p.computed });
        }
        p.check_order()?;
        Ok(p)
    }

    /// Parses the structure without insisting on the checksum, for `bundle inspect` to show
    /// what a damaged payload claims to hold ([`Payload::checksum_ok`] tells). Nothing read this
    /// way may be loaded as code.
    pub fn parse_unverified(bytes: &'a [u8]) -> Result<Self, FormatError> {
        if array::<8>(bytes, 0, "magic")? != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = u16_at(bytes, 8, "version")?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        if usize::from(u16_at(bytes, 10, "header length")?) != HEADER_LEN {
            return Err(FormatError::BadHeader("header length is not 48"));
        }
        if u32_at(bytes, 12, "flags")? != 0 {
            return Err(FormatError::BadHeader("unknown flags are set"));
        }
        let entry_count = u32_at(bytes, 16, "entry count")? as u64;
        let strings_len = u32_at(bytes, 20, "strings length")? as u64;
        let records_len = u32_at(bytes, 24, "records length")? as u64;
        if u32_at(bytes, 28, "reserved")? != 0 {
            return Err(FormatError::BadHeader("reserved field is not zero"));
        }
        let data_len = u64_at(bytes, 32, "data length")?;
        let total_len = u64_at(bytes, 40, "total length")?;
        if total_len != bytes.len() as u64 {
            return Err(FormatError::Truncated {
                what: "payload",
                offset: 0,
                needed: total_len,
                available: bytes.len() as u64,
            });
        }
        let declared = declared_len(bytes)?;
        if declared != total_len {
            return Err(FormatError::BadHeader("header and footer disagree on the length"));
        }
        let index_len = entry_count * ENTRY_LEN as u64;
        let sum = [index_len, strings_len, records_len, data_len]
            .into_iter()
            .try_fold((HEADER_LEN + FOOTER_LEN) as u64, u64::checked_add);
        if sum != Some(total_len) {
            return Err(FormatError::BadHeader(
                "section lengths do not add up to the total length",
            ));
        }
        let body_len = total_len - FOOTER_LEN as u64;
        let stored = u64_at(bytes, body_len as usize, "checksum")?;
        let computed = checksum(slice(bytes, 0, body_len, "checksummed bytes")?);
        let mut at = HEADER_LEN as u64;
        let mut take = |len: u64, what| {
            let s = slice(bytes, at, len, what);
            at += len;
            s
        };
        Ok(Payload {
            entry_count: entry_count as usize,
            index: take(index_len, "index")?,
            strings: take(strings_len, "strings")?,
            records: take(records_len, "records")?,
            data: take(data_len, "data")?,
            checksum: stored,
            computed,
        })
    }

    /// Number of entries, main script included.
    pub fn len(&self) -> usize {
        self.entry_count
    }

    /// Whether the payload has no entries at all.
    pub fn is_empty(&self) -> bool {
        self.entry_count == 0
    }

    /// The stored checksum.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// Whether the stored checksum matches the bytes (always true after [`Payload::parse`]).
    pub fn checksum_ok(&self) -> bool {
        self.checksum == self.computed
    }

    /// Total length of the payload in bytes.
    pub fn total_len(&self) -> u64 {
        (HEADER_LEN
            + self.index.len()
            + self.strings.len()
            + self.records.len()
            + self.data.len()
            + FOOTER_LEN) as u64
    }

    /// Entry `i` of the sorted index, its fields checked: known kind, codec and flags, decoded
    /// length within the limit (and equal to the stored length when stored as is), name, chunk
    /// name and data inside their sections.
    pub fn entry(&self, i: usize) -> Result<Entry<'a>, FormatError> {
        let name = self.name_of(i)?;
        let bad = |reason: String| FormatError::InvalidEntry { entry: label(name), reason };
        let raw = slice(self.index, (i * ENTRY_LEN) as u64, ENTRY_LEN as u64, "index entry")?;
        let chunk_len = u16_at(raw, 6, "chunkname length")?;
        let chunk_off = u32_at(raw, 8, "chunkname offset")?;
        let [kind, codec] = array::<2>(raw, 12, "kind and codec")?;
        let kind = Kind::try_from(kind).map_err(|_| bad(format!("unknown kind {kind}")))?;
        let codec = Codec::try_from(codec).map_err(|_| bad(format!("unknown codec {codec}")))?;
        let flags = u16_at(raw, 14, "flags")?;
        if flags & !flags::KNOWN != 0 {
            return Err(bad(format!("unknown flags are set ({:#06x})", flags & !flags::KNOWN)));
        }
        let data_off = u64_at(raw, 16, "data offset")?;
        let stored_len = u64_at(raw, 24, "stored length")?;
        let raw_len = u64_at(raw, 32, "raw length")?;
        if raw_len > MAX_RAW_LEN {
            return Err(bad(format!("its decoded length, {raw_len} bytes, exceeds 4 GiB")));
        }
        if codec == Codec::Stored && raw_len != stored_len {
            return Err(bad(format!(
                "it is stored as is, yet its decoded length ({raw_len} bytes) differs from its \
                 stored length ({stored_len} bytes)"
            )));
        }
        let chunkname = slice(self.strings, chunk_off.into(), chunk_len.into(), "chunk name")
            .map_err(|_| {
                bad(format!(
                    "its chunk name ({chunk_len} bytes at offset {chunk_off}) lies outside the \
                     string table ({} bytes)",
                    self.strings.len()
                ))
            })?;
        let stored = slice(self.data, data_off, stored_len, "entry data").map_err(|_| {
            bad(format!(
                "its data ({stored_len} bytes at offset {data_off}) lies outside the data section \
                 ({} bytes)",
                self.data.len()
            ))
        })?;
        let offset = (HEADER_LEN + self.index.len() + self.strings.len() + self.records.len())
            as u64
            + data_off;
        Ok(Entry { name, chunkname, kind, codec, flags, stored, raw_len, offset })
    }

    /// The name of entry `i`, the one field that searches and the start-up check of the order
    /// read; [`Payload::name_at`] says what is wrong with a name that does not read.
    fn name_of(&self, i: usize) -> Result<&'a [u8], FormatError> {
        let raw = i.checked_mul(ENTRY_LEN).and_then(|at| self.index.get(at..));
        match raw.and_then(|raw| self.name_in(raw)) {
            Some(name) => Ok(name),
            None => self.name_at(i),
        }
    }

    /// The name an index entry starting at `raw` refers to, if it lies in the string table: two
    /// fields and a range, the fast path of [`Payload::name_of`].
    fn name_in(&self, raw: &[u8]) -> Option<&'a [u8]> {
        let &[a, b, c, d, e, f] = raw.first_chunk::<6>()?;
        let off = usize::try_from(u32::from_le_bytes([a, b, c, d])).ok()?;
        let len = usize::from(u16::from_le_bytes([e, f]));
        self.strings.get(off..off.checked_add(len)?)
    }

    /// The name of entry `i`, or why it cannot be read.
    fn name_at(&self, i: usize) -> Result<&'a [u8], FormatError> {
        let bad = |reason: String| FormatError::BadEntry { index: i, reason };
        if i >= self.entry_count {
            return Err(bad(format!("the index has {} entries", self.entry_count)));
        }
        let raw = slice(self.index, (i * ENTRY_LEN) as u64, ENTRY_LEN as u64, "index entry")?;
        let off = u32_at(raw, 0, "name offset")?;
        let len = u16_at(raw, 4, "name length")?;
        slice(self.strings, off.into(), len.into(), "entry name").map_err(|_| {
            bad(format!(
                "its name ({len} bytes at offset {off}) lies outside the string table ({} bytes)",
                self.strings.len()
            ))
        })
    }

    /// That the index is strictly sorted by name, which also rules out two entries of one name
    /// (two main scripts among them): binary search depends on it. Run by [`Payload::parse`] at
    /// every start, so kept to the minimum: per entry, two fields read and one comparison of
    /// names.
    fn check_order(&self) -> Result<(), FormatError> {
        let mut previous: Option<&[u8]> = None;
        for (i, raw) in self.index.chunks_exact(ENTRY_LEN).enumerate() {
            let name = match self.name_in(raw) {
                Some(name) => name,
                None => self.name_at(i)?,
            };
            if let Some(previous) = previous {
                match previous.cmp(name) {
                    Ordering::Less => {}
                    Ordering::Equal => return Err(FormatError::DuplicateName(quoted(name))),
                    Ordering::Greater => {
                        return Err(FormatError::Unsorted {
                            index: i,
                            name: quoted(name),
                            previous: quoted(previous),
                        })
                    }
                }
            }
            previous = Some(name);
        }
        Ok(())
    }

    /// All entries in index order.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry<'a>, FormatError>> + '_ {
        (0..self.entry_count).map(|i| self.entry(i))
    }

    /// The module called `name`, by binary search of the sorted index. The empty name is the
    /// main script, and library and asset entries are not modules: none is ever found here, so
    /// `require` never loads an asset however it is named.
    pub fn module(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        Ok(self.lookup(name)?.filter(|e| e.flags & flags::LIBRARY == 0 && e.kind != Kind::Asset))
    }

    /// Any entry called `name` (not the main script).
    fn lookup(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        if name.is_empty() {
            return Ok(None);
        }
        // Names only on the way; the entry found is the one read in full.
        let (mut lo, mut hi) = (0, self.entry_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name_of(mid)?.cmp(name) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return self.entry(mid).map(Some),
            }
        }
        Ok(None)
    }

    /// The native module whose library serves the [`flags::SHARED`] entry `entry`: an entry
    /// that holds code itself, never another shared one.
    pub fn library_owner(&self, entry: &Entry<'a>) -> Result<Entry<'a>, FormatError> {
        let bad = |reason| FormatError::BadShared { name: escaped(entry.name), reason };
        if entry.kind != Kind::Native || entry.codec != Codec::Stored {
            return Err(bad("is not a stored native entry"));
        }
        match self.module(entry.stored)? {
            Some(owner) if owner.kind == Kind::Native && owner.flags & flags::SHARED == 0 => {
                Ok(owner)
            }
            _ => Err(bad("names no native module holding a library")),
        }
    }

    /// Whether any module's name starts with `prefix` (`a.b.` for the hint after "module 'a.b.c'
    /// not found"): a binary search for the first name not below it, then a short walk past
    /// library entries.
    pub fn has_module_under(&self, prefix: &[u8]) -> Result<bool, FormatError> {
        let (mut lo, mut hi) = (0, self.entry_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.name_of(mid)? < prefix {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for i in lo..self.entry_count {
            let e = self.entry(i)?;
            if !e.name.starts_with(prefix) {
                break;
            }
            if e.flags & flags::LIBRARY == 0 && e.name.len() > prefix.len() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The packed shared library called `name` (an entry with the [`flags::LIBRARY`] bit).
    pub fn library(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        Ok(self.lookup(name)?.filter(|e| e.flags & flags::LIBRARY != 0))
    }

    /// The libraries native entry `name` needs loaded first, in order.
    pub fn needs(&self, name: &[u8]) -> Result<Vec<&'a [u8]>, FormatError> {
        for r in self.records() {
            let (tag, value) = r?;
            if tag == record::NEEDS {
                let mut parts = value.split(|b| *b == 0);
                if parts.next() == Some(name) {
                    return Ok(parts.filter(|p| !p.is_empty()).collect());
                }
            }
        }
        Ok(Vec::new())
    }

    /// Whether the program asked for SIGPIPE to be ignored.
    pub fn ignore_sigpipe(&self) -> Result<bool, FormatError> {
        Ok(self.record(record::SIGPIPE)?.is_some_and(|v| v.first() == Some(&1)))
    }

    /// The interpreter chunk, if the executable has one.
    pub fn interpreter(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.record(record::INTERPRETER)
    }

    /// The environment variable that selects the interpreter over the main script, if any.
    pub fn interpreter_env(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.record(record::INTERPRETER_ENV)
    }

    /// The value of the first record tagged `tag`.
    fn record(&self, tag: u16) -> Result<Option<&'a [u8]>, FormatError> {
        for r in self.records() {
            let (t, value) = r?;
            if t == tag {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// The main script: the entry with the empty name, which sorts first. `None` for an
    /// interpreter build.
    pub fn main(&self) -> Result<Option<Entry<'a>>, FormatError> {
        if self.entry_count == 0 {
            return Ok(None);
        }
        let first = self.entry(0)?;
        Ok(first.name.is_empty().then_some(first))
    }

    /// The records section as `(tag, value)` pairs, unknown optional records skipped.
    pub fn records(&self) -> impl Iterator<Item = Result<(u16, &'a [u8]), FormatError>> + '_ {
        let mut at = 0usize;
        std::iter::from_fn(move || loop {
            if at >= self.records.len() {
                return None;
            }
            let item = (|| {
                let tag = u16_at(self.records, at, "record tag")?;
                let len = u32_at(self.records, at + 2, "record length")?;
                let value = slice(self.records, at as u64 + 6, len.into(), "record value")?;
                Ok((tag, value))
            })();
            match item {
                Ok((tag, value)) => {
                    at += 6 + value.len();
                    match tag {
                        record::PRELOAD
                        | record::NEEDS
                        | record::SIGPIPE
                        | record::INTERPRETER
                        | record::INTERPRETER_ENV => return Some(Ok((tag, value))),
                        t if t & record::OPTIONAL != 0 => continue,
                        t => {
                            at = usize::MAX;
                            return Some(Err(FormatError::UnknownRecord(t)));
                        }
                    }
                }
                Err(e) => {
                    at = usize::MAX;
                    return Some(Err(e));
                }
            }
        })
    }

    /// Module names to require before the main chunk, in order.
    pub fn preloads(&self) -> Result<Vec<&'a [u8]>, FormatError> {
        self.records()
            .filter_map(|r| match r {
                Ok((record::PRELOAD, v)) => Some(Ok(v)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    /// Every check there is, for `bundle verify` and `bundle inspect`; the first problem found is
    /// the error. What [`Payload::parse`] checks at start-up (structure, checksum, order of the
    /// index), then what the runtime would find only when the program reaches it: every entry
    /// read ([`Payload::entry`]) and decoded in full to its `raw_len`, its kind and flags
    /// consistent (at most one main script, of Lua source or bytecode; `LIBRARY` and `SHARED`
    /// only on native entries, never both; a `SHARED` entry served by a native module that holds
    /// code, see [`Payload::library_owner`]; bytecode that starts with LuaJIT's signature and
    /// source that does not; no NUL in a Lua chunk name), every record readable and
    /// well-formed, every name a record holds resolved (NEEDS: a native entry holding code, then
    /// library entries, without cycles and at most [`MAX_LIBRARY_DEPTH`] deep), and something to
    /// run. docs/FORMAT.md, "Verification", lists the same. Not for the start-up path: it
    /// decodes everything.
    pub fn verify_all(&self) -> Result<(), FormatError> {
        if !self.checksum_ok() {
            return Err(FormatError::ChecksumMismatch {
                stored: self.checksum,
                computed: self.computed,
            });
        }
        self.check_order()?;
        let mut decoder = Decoder::new()?;
        for i in 0..self.entry_count {
            self.check_entry(&self.entry(i)?, &mut decoder)?;
        }
        self.check_records()
    }

    /// One entry's consistency and content (see [`Payload::verify_all`]).
    fn check_entry(&self, e: &Entry<'a>, decoder: &mut Decoder) -> Result<(), FormatError> {
        let bad = |reason: String| Err(FormatError::InvalidEntry { entry: label(e.name), reason });
        let lua = matches!(e.kind, Kind::LuaSource | Kind::LuaBytecode);
        let (library, shared) = (e.flags & flags::LIBRARY != 0, e.flags & flags::SHARED != 0);
        if library && shared {
            return bad("it has both the LIBRARY and the SHARED flag".into());
        }
        if (library || shared) && e.kind != Kind::Native {
            let flag = if library { "LIBRARY" } else { "SHARED" };
            return bad(format!("it has the {flag} flag but is of kind {}, not native", e.kind));
        }
        if e.name.is_empty() && !lua {
            return bad(format!("it is of kind {}, not Lua source or bytecode", e.kind));
        }
        if lua && e.chunkname.contains(&0) {
            return bad("its chunk name contains a NUL byte".into());
        }
        if shared {
            self.library_owner(e)?;
        }
        let data = e.decode_with(decoder)?;
        match e.kind {
            Kind::LuaBytecode if !data.starts_with(b"\x1bLJ") => {
                bad("it is marked as LuaJIT bytecode but does not start with its signature".into())
            }
            Kind::LuaSource if data.first() == Some(&0x1b) => {
                bad("it is marked as Lua source but starts like bytecode (ESC)".into())
            }
            _ => Ok(()),
        }
    }

    /// The records, and the names they hold (see [`Payload::verify_all`]).
    fn check_records(&self) -> Result<(), FormatError> {
        let bad = |reason: String| Err(FormatError::BadRecord(reason));
        let mut needs: BTreeMap<&'a [u8], Vec<&'a [u8]>> = BTreeMap::new();
        let (mut sigpipe, mut interpreter, mut env) = (0usize, 0usize, 0usize);
        for r in self.records() {
            let (tag, value) = r?;
            match tag {
                record::PRELOAD if value.is_empty() => {
                    return bad("a PRELOAD record names no module".into())
                }
                record::NEEDS => {
                    let mut parts = value.split(|b| *b == 0);
                    let owner = parts.next().unwrap_or_default();
                    if owner.is_empty() {
                        return bad("a NEEDS record names no entry".into());
                    }
                    let who = quoted(owner);
                    match self.lookup(owner)? {
                        Some(e) if e.kind == Kind::Native && e.flags & flags::SHARED == 0 => {}
                        Some(_) => {
                            return bad(format!(
                                "the NEEDS record of {who} is for an entry that is not a native \
                                 module or library holding code"
                            ))
                        }
                        None => {
                            return bad(format!(
                                "the NEEDS record of {who} is for an entry the payload lacks"
                            ))
                        }
                    }
                    let libs: Vec<&'a [u8]> = parts.collect();
                    for lib in &libs {
                        if lib.is_empty() {
                            return bad(format!(
                                "the NEEDS record of {who} holds an empty library name"
                            ));
                        }
                        if self.library(lib)?.is_none() {
                            return bad(format!(
                                "the NEEDS record of {who} names the library {}, which the payload \
                                 lacks (no native entry with the LIBRARY flag has that name)",
                                quoted(lib)
                            ));
                        }
                    }
                    if needs.insert(owner, libs).is_some() {
                        return bad(format!("there are two NEEDS records for {who}"));
                    }
                }
                record::SIGPIPE => {
                    sigpipe += 1;
                    match value {
                        [0 | 1] => {}
                        [other] => {
                            return bad(format!("the SIGPIPE record holds {other}, not 0 or 1"))
                        }
                        _ => {
                            return bad(format!(
                                "the SIGPIPE record holds {} bytes, not one byte 0 or 1",
                                value.len()
                            ))
                        }
                    }
                }
                record::INTERPRETER => interpreter += 1,
                record::INTERPRETER_ENV => {
                    env += 1;
                    if value.is_empty() || value.contains(&b'=') || value.contains(&0) {
                        return bad(format!(
                            "the INTERPRETER_ENV record holds '{}', not an environment variable \
                             name",
                            escaped(value)
                        ));
                    }
                }
                _ => {}
            }
        }
        for (count, what) in
            [(sigpipe, "SIGPIPE"), (interpreter, "INTERPRETER"), (env, "INTERPRETER_ENV")]
        {
            if count > 1 {
                return bad(format!("there are {count} {what} records; at most one is allowed"));
            }
        }
        let main = self.main()?.is_some();
        if env > 0 && interpreter == 0 {
            return bad("an INTERPRETER_ENV record comes without an INTERPRETER record".into());
        }
        if env > 0 && !main {
            return bad("an INTERPRETER_ENV record comes without a main script".into());
        }
        if !main && interpreter == 0 {
            return Err(FormatError::NothingToRun);
        }
        let mut heights = BTreeMap::new();
        let mut chain = Vec::new();
        for lib in needs.values().flatten() {
            library_height(lib, &needs, &mut heights, &mut chain)?;
        }
        Ok(())
    }
}

/// How deep the runtime follows NEEDS records from a native module: its libraries are at depth
/// 1, theirs at 2, and so on; a library deeper than this is an error (it also ends a cycle).
pub const MAX_LIBRARY_DEPTH: usize = 32;

/// The number of libraries on the longest NEEDS chain that starts at `lib` (itself included),
/// checked against [`MAX_LIBRARY_DEPTH`] for `lib` at depth `chain.len() + 1`; an error for a
/// cycle. `heights` remembers what is done, so each library is walked once.
fn library_height<'a>(
    lib: &'a [u8],
    needs: &BTreeMap<&'a [u8], Vec<&'a [u8]>>,
    heights: &mut BTreeMap<&'a [u8], usize>,
    chain: &mut Vec<&'a [u8]>,
) -> Result<usize, FormatError> {
    let shown = |chain: &[&[u8]], last: &[u8]| {
        chain.iter().chain([&last]).map(|n| quoted(n)).collect::<Vec<_>>().join(" -> ")
    };
    let height = match heights.get(lib) {
        Some(h) => *h,
        None => {
            if let Some(at) = chain.iter().position(|n| *n == lib) {
                return Err(FormatError::BadRecord(format!(
                    "the NEEDS records form a cycle: {}",
                    shown(&chain[at..], lib)
                )));
            }
            if chain.len() >= MAX_LIBRARY_DEPTH {
                return Err(FormatError::BadRecord(format!(
                    "libraries need each other more than {MAX_LIBRARY_DEPTH} deep: {}",
                    shown(chain, lib)
                )));
            }
            chain.push(lib);
            let mut height = 1;
            for dep in needs.get(lib).into_iter().flatten() {
                height = height.max(1 + library_height(dep, needs, heights, chain)?);
            }
            chain.pop();
            heights.insert(lib, height);
            height
        }
    };
    if chain.len() + height > MAX_LIBRARY_DEPTH {
        return Err(FormatError::BadRecord(format!(
            "libraries need each other more than {MAX_LIBRARY_DEPTH} deep, below {}",
            shown(chain, lib)
        )));
    }
    Ok(height)
}

impl Entry<'_> {
    /// The name for messages: the module name, escaped ([`escaped`]), or `(main)`.
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            "(main)".to_owned()
        } else {
            escaped(self.name)
        }
    }

    /// Decodes the entry into a fresh buffer.
    pub fn decode(&self) -> Result<Vec<u8>, FormatError> {
        self.decode_with(&mut Decoder::new()?)
    }

    /// Decodes the entry with a reusable decoder (one decompression context for many entries).
    /// The result has exactly `raw_len` bytes, or this is an error; a zstd entry must be exactly
    /// one frame that states its decoded size, and that size must be `raw_len`.
    pub fn decode_with(&self, decoder: &mut Decoder) -> Result<Vec<u8>, FormatError> {
        let fail = |reason: String| FormatError::Decompress { entry: label(self.name), reason };
        let no_memory = |_| fail(format!("not enough memory for {} bytes", self.raw_len));
        let raw_len = usize::try_from(self.raw_len)
            .map_err(|_| fail(format!("{} bytes are too many for this machine", self.raw_len)))?;
        if self.codec == Codec::Zstd {
            // The frame states its own size: a mismatch is a damaged entry, found before a
            // possibly huge allocation. And it is the entry's only content: nothing may follow it.
            match zstd::zstd_safe::get_frame_content_size(self.stored) {
                Ok(Some(n)) if n == self.raw_len => {}
                Ok(Some(n)) => {
                    return Err(fail(format!(
                        "its zstd frame holds {n} bytes, the index says {}",
                        self.raw_len
                    )))
                }
                Ok(None) => return Err(fail("its zstd frame does not state its size".into())),
                Err(_) => return Err(fail("its data does not start with a zstd frame".into())),
            }
            match zstd::zstd_safe::find_frame_compressed_size(self.stored) {
                Ok(n) if n == self.stored.len() => {}
                Ok(n) => {
                    return Err(fail(match self.stored.len().saturating_sub(n) {
                        1 => "1 byte follows its zstd frame".to_owned(),
                        more => format!("{more} bytes follow its zstd frame"),
                    }))
                }
                Err(code) => {
                    return Err(fail(format!(
                        "its zstd frame is damaged ({})",
                        zstd::zstd_safe::get_error_name(code)
                    )))
                }
            }
        }
        let mut out = Vec::new();
        let damaged = |e: std::io::Error| fail(format!("its zstd frame is damaged ({e})"));
        match self.codec {
            Codec::Stored => {
                out.try_reserve_exact(raw_len).map_err(no_memory)?;
                out.extend_from_slice(self.stored);
            }
            // One-shot into a buffer of the declared size: the fast path for module-sized entries.
            Codec::Zstd if raw_len <= ONE_SHOT_LIMIT => {
                out.try_reserve_exact(raw_len).map_err(no_memory)?;
                decoder.0.decompress_to_buffer(self.stored, &mut out).map_err(damaged)?;
            }
            // Larger: stream, so that memory grows with what the frame really produces, not with
            // what a (possibly hostile) header claims. Found by fuzzing: a 12-byte frame
            // declaring 3 GiB made the one-shot path reserve 3 GiB.
            Codec::Zstd => {
                use std::io::Read;
                let stream =
                    zstd::stream::read::Decoder::with_buffer(self.stored).map_err(damaged)?;
                stream.take(self.raw_len + 1).read_to_end(&mut out).map_err(damaged)?;
            }
        }
        if out.len() as u64 != self.raw_len {
            return Err(fail(format!(
                "it decodes to {} bytes, the index says {}",
                out.len(),
                self.raw_len
            )));
        }
        Ok(out)
    }
}

/// A reusable zstd decompression context.
pub struct Decoder(zstd::bulk::Decompressor<'static>);

impl Decoder {
    pub fn new() -> Result<Self, FormatError> {
        zstd::bulk::Decompressor::new().map(Decoder).map_err(|e| FormatError::Zstd(e.to_string()))
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// An entry to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Module name; empty for the main script.
    pub name: Vec<u8>,
    pub chunkname: Vec<u8>,
    pub kind: Kind,
    /// [`flags`] bits.
    pub flags: u16,
    /// The decoded bytes.
    pub data: Vec<u8>,
}

/// Collects entries and records and lays out a payload. Output depends only on the inputs:
/// entries are sorted by name and nothing is iterated out of a hash map.
#[derive(Debug, Default)]
pub struct Writer {
    entries: Vec<NewEntry>,
    /// (tag, value), in the order they are written.
    records: Vec<(u16, Vec<u8>)>,
    level: i32,
}

/// Sizes of what [`Writer::finish`] wrote, for the bundler's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub entries: usize,
    pub raw: u64,
    pub stored: u64,
    pub payload: u64,
}

impl Writer {
    /// A writer compressing with zstd at `level` (0 means zstd's default).
    pub fn new(level: i32) -> Self {
        Writer { level, ..Writer::default() }
    }

    pub fn add(&mut self, entry: NewEntry) {
        self.entries.push(entry);
    }

    pub fn preload(&mut self, name: impl Into<Vec<u8>>) {
        self.records.push((record::PRELOAD, name.into()));
    }

    /// Records that native entry `entry` needs the library entries `libs` loaded first.
    pub fn needs(&mut self, entry: &[u8], libs: &[&[u8]]) {
        let mut value = entry.to_vec();
        for l in libs {
            value.push(0);
            value.extend_from_slice(l);
        }
        self.records.push((record::NEEDS, value));
    }

    /// Adds the interpreter chunk and, for a program with a main script, the environment
    /// variable that selects it (see [`record::INTERPRETER`]).
    pub fn interpreter(&mut self, chunk: Vec<u8>, env: Option<&str>) {
        self.records.push((record::INTERPRETER, chunk));
        if let Some(env) = env {
            self.records.push((record::INTERPRETER_ENV, env.as_bytes().to_vec()));
        }
    }

    /// Makes the program ignore SIGPIPE (see [`record::SIGPIPE`]).
    pub fn ignore_sigpipe(&mut self) {
        self.records.push((record::SIGPIPE, vec![1]));
    }

    /// Lays out, compresses and checksums the payload.
    pub fn finish(mut self) -> Result<(Vec<u8>, Totals), FormatError> {
        self.entries.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = self.entries.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(FormatError::DuplicateName(quoted(&w[0].name)));
        }
        let mut strings = Vec::new();
        let mut data = Vec::new();
        let mut index = Vec::with_capacity(self.entries.len() * ENTRY_LEN);
        let mut totals = Totals { entries: self.entries.len(), ..Totals::default() };
        let mut cctx = zstd::bulk::Compressor::new(self.level)
            .map_err(|e| FormatError::Zstd(e.to_string()))?;
        for e in &self.entries {
            let name_off = push_string(&mut strings, &e.name, "a module name")?;
            let chunk_off = push_string(&mut strings, &e.chunkname, "a chunk name")?;
            // Native libraries are stored as they are: loading one copies it into memory for the
            // dynamic loader, and decompressing it first would cost more than the size saved.
            // Otherwise keep whichever is smaller; tiny entries often do not compress.
            let compressed = match e.kind {
                Kind::Native => None,
                _ => Some(cctx.compress(&e.data).map_err(|err| FormatError::Compress {
                    entry: label(&e.name),
                    reason: err.to_string(),
                })?),
            };
            let (codec, stored) = match compressed {
                Some(c) if c.len() < e.data.len() => (Codec::Zstd, c),
                _ => (Codec::Stored, e.data.clone()),
            };
            index.extend_from_slice(&name_off.to_le_bytes());
            index.extend_from_slice(&len_u16(&e.name, "a module name")?.to_le_bytes());
            index.extend_from_slice(&len_u16(&e.chunkname, "a chunk name")?.to_le_bytes());
            index.extend_from_slice(&chunk_off.to_le_bytes());
            index.push(e.kind as u8);
            index.push(codec as u8);
            index.extend_from_slice(&e.flags.to_le_bytes());
            index.extend_from_slice(&(data.len() as u64).to_le_bytes());
            index.extend_from_slice(&(stored.len() as u64).to_le_bytes());
            index.extend_from_slice(&(e.data.len() as u64).to_le_bytes());
            totals.raw += e.data.len() as u64;
            totals.stored += stored.len() as u64;
            data.extend_from_slice(&stored);
        }
        let mut records = Vec::new();
        for (tag, value) in &self.records {
            records.extend_from_slice(&tag.to_le_bytes());
            let len = u32::try_from(value.len()).map_err(|_| FormatError::TooLarge("a record"))?;
            records.extend_from_slice(&len.to_le_bytes());
            records.extend_from_slice(value);
        }
        let to_u32 = |n: usize, what| u32::try_from(n).map_err(|_| FormatError::TooLarge(what));
        let total =
            (HEADER_LEN + index.len() + strings.len() + records.len() + data.len() + FOOTER_LEN)
                as u64;
        let mut out = Vec::with_capacity(total as usize);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&to_u32(self.entries.len(), "the entry count")?.to_le_bytes());
        out.extend_from_slice(&to_u32(strings.len(), "the string table")?.to_le_bytes());
        out.extend_from_slice(&to_u32(records.len(), "the records section")?.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&index);
        out.extend_from_slice(&strings);
        out.extend_from_slice(&records);
        out.extend_from_slice(&data);
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&END_MAGIC);
        totals.payload = total;
        Ok((out, totals))
    }
}

fn len_u16(s: &[u8], what: &'static str) -> Result<u16, FormatError> {
    u16::try_from(s.len()).map_err(|_| FormatError::TooLarge(what))
}

fn push_string(strings: &mut Vec<u8>, s: &[u8], what: &'static str) -> Result<u32, FormatError> {
    len_u16(s, what)?;
    let off =
        u32::try_from(strings.len()).map_err(|_| FormatError::TooLarge("the string table"))?;
    strings.extend_from_slice(s);
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, chunk: &str, kind: Kind, data: &[u8]) -> NewEntry {
        NewEntry { name: name.into(), chunkname: chunk.into(), kind, flags: 0, data: data.to_vec() }
    }

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(3);
        w.add(entry("b.c", "@./b/c.lua", Kind::LuaBytecode, &[0x1b, b'L', b'J', 2, 0, 0, 0]));
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print('hi')\n"));
        w.add(entry("a", "@./a.lua", Kind::LuaSource, "return 'x'\n".repeat(200).as_bytes()));
        w.preload("b.c");
        w.preload("a");
        w.finish().unwrap().0
    }

    #[test]
    fn issue14_an_asset_is_never_a_module() {
        let mut w = Writer::new(3);
        w.add(NewEntry {
            name: b"config".to_vec(),
            chunkname: b"config.json".to_vec(),
            kind: Kind::Asset,
            flags: 0,
            data: b"{}".to_vec(),
        });
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        assert!(p.module(b"config").unwrap().is_none());
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.len(), 3);
        let main = p.main().unwrap().unwrap();
        assert_eq!(main.chunkname, b"@main.lua");
        assert_eq!(main.decode().unwrap(), b"print('hi')\n");
        let a = p.module(b"a").unwrap().unwrap();
        assert_eq!(a.codec, Codec::Zstd, "repetitive text compresses");
        assert_eq!(a.decode().unwrap(), "return 'x'\n".repeat(200).as_bytes());
        let bc = p.module(b"b.c").unwrap().unwrap();
        assert_eq!(bc.kind, Kind::LuaBytecode);
        assert_eq!(bc.codec, Codec::Stored, "tiny data is stored");
        assert_eq!(bc.decode().unwrap(), [0x1b, b'L', b'J', 2, 0, 0, 0]);
        assert_eq!(p.module(b"zz").unwrap(), None);
        assert_eq!(p.module(b"").unwrap(), None, "the main script is not a module");
        assert_eq!(p.preloads().unwrap(), vec![&b"b.c"[..], &b"a"[..]]);
        assert_eq!(declared_len(&bytes).unwrap(), bytes.len() as u64);
    }

    /// The hex example of docs/FORMAT.md, byte for byte: the spec cannot drift from the code.
    #[test]
    fn matches_the_documented_example() {
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(\"hi\")\n"));
        w.add(entry("m", "@./m.lua", Kind::LuaSource, b"return 1\n"));
        w.preload("m");
        let (bytes, _) = w.finish().unwrap();
        let doc = include_str!("../../docs/FORMAT.md");
        let hex: String = doc
            .lines()
            .skip_while(|l| *l != "## Hex example")
            .filter(|l| l.len() > 10 && l.as_bytes()[8] == b':' && l.starts_with("000000"))
            .map(|l| l[10..50].replace(' ', ""))
            .collect();
        let documented: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(bytes, documented);
    }

    #[test]
    fn deterministic_regardless_of_insertion_order() {
        let mut w = Writer::new(3);
        w.add(entry("a", "@./a.lua", Kind::LuaSource, "return 'x'\n".repeat(200).as_bytes()));
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print('hi')\n"));
        w.add(entry("b.c", "@./b/c.lua", Kind::LuaBytecode, &[0x1b, b'L', b'J', 2, 0, 0, 0]));
        w.preload("b.c");
        w.preload("a");
        assert_eq!(w.finish().unwrap().0, sample());
    }

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
    }

    #[test]
    fn libraries_needs_and_sigpipe() {
        let mut w = Writer::new(3);
        w.add(entry("luv", "@luv.so", Kind::Native, b"\x7fELF module"));
        w.add(NewEntry {
            flags: flags::LIBRARY,
            ..entry("libuv.so.1", "@libuv.so.1", Kind::Native, b"\x7fELF lib")
        });
        w.needs(b"luv", &[b"libuv.so.1"]);
        w.ignore_sigpipe();
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        assert!(p.module(b"luv").unwrap().is_some());
        assert_eq!(p.module(b"libuv.so.1").unwrap(), None, "a library is not a module");
        assert_eq!(p.library(b"libuv.so.1").unwrap().unwrap().flags, flags::LIBRARY);
        assert_eq!(p.library(b"luv").unwrap(), None);
        assert_eq!(p.needs(b"luv").unwrap(), vec![&b"libuv.so.1"[..]]);
        assert!(p.needs(b"other").unwrap().is_empty());
        assert!(p.ignore_sigpipe().unwrap());
    }

    /// A zstd frame whose header declares 3 GiB but that holds nothing: decoding fails without
    /// reserving the declared size (regression: fuzz/regressions/oom-zstd-frame-declares-3gib.bin).
    #[test]
    fn a_lying_frame_header_does_not_allocate_its_claim() {
        // Magic, frame header descriptor (FCS 4 bytes, single segment), size 3 GiB, then one
        // last, empty raw block.
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa0];
        frame.extend_from_slice(&(3u32 << 30).to_le_bytes());
        frame.extend_from_slice(&[0x01, 0x00, 0x00]);
        let e = Entry {
            name: b"x",
            chunkname: b"@x",
            kind: Kind::LuaSource,
            codec: Codec::Zstd,
            flags: 0,
            stored: &frame,
            raw_len: 3 << 30,
            offset: 0,
        };
        // zstd itself refuses a window this large when streaming; either way, an error and no
        // 3 GiB reservation (the one-shot path is the one that reserved it).
        let err = e.decode().unwrap_err();
        assert!(matches!(err, FormatError::Decompress { .. }), "{err}");
    }

    #[test]
    fn empty_payload() {
        let (bytes, totals) = Writer::new(3).finish().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + FOOTER_LEN);
        assert_eq!(totals.entries, 0);
        let p = Payload::parse(&bytes).unwrap();
        assert!(p.is_empty());
        assert_eq!(p.main().unwrap(), None);
    }

    #[test]
    fn duplicates_are_rejected() {
        let mut w = Writer::new(3);
        w.add(entry("a", "@./a.lua", Kind::LuaSource, b"1"));
        w.add(entry("a", "@./a/init.lua", Kind::LuaSource, b"2"));
        assert_eq!(w.finish().unwrap_err(), FormatError::DuplicateName("'a'".into()));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample();
        for len in 0..bytes.len() {
            assert!(Payload::parse(&bytes[..len]).is_err(), "prefix of {len} bytes parsed");
            assert!(
                Payload::parse(&bytes[bytes.len() - len..]).is_err(),
                "suffix of {len} bytes parsed"
            );
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[i] ^= 1 << bit;
                assert!(
                    Payload::parse(&damaged).is_err(),
                    "flip of bit {bit} in byte {i} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn unknown_required_record_is_an_error_and_optional_is_skipped() {
        // Hand-build records: one optional unknown (skipped), then one required unknown.
        let mut bytes = Writer::new(3).finish().unwrap().0;
        let mut records = Vec::new();
        for tag in [0x8123u16, 0x0042] {
            records.extend_from_slice(&tag.to_le_bytes());
            records.extend_from_slice(&1u32.to_le_bytes());
            records.push(7);
        }
        bytes.truncate(HEADER_LEN);
        bytes[24..28].copy_from_slice(&(records.len() as u32).to_le_bytes());
        let total = (HEADER_LEN + records.len() + FOOTER_LEN) as u64;
        bytes[40..48].copy_from_slice(&total.to_le_bytes());
        bytes.extend_from_slice(&records);
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        bytes.extend_from_slice(&total.to_le_bytes());
        bytes.extend_from_slice(&END_MAGIC);
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.preloads(), Err(FormatError::UnknownRecord(0x0042)));
    }

    #[test]
    fn interpreter_records_round_trip() {
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(1)"));
        w.interpreter(b"-- interp".to_vec(), Some("APP_LUA"));
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.interpreter().unwrap(), Some(&b"-- interp"[..]));
        assert_eq!(p.interpreter_env().unwrap(), Some(&b"APP_LUA"[..]));
        assert!(p.main().unwrap().is_some());
        let (bytes, _) = Writer::new(3).finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!((p.interpreter().unwrap(), p.interpreter_env().unwrap()), (None, None));
    }

    // ---- Issue 13, item 17: what `parse` and `verify_all` refuse; item 18: readable messages.

    /// Recomputes the checksum after the bytes before the footer were changed.
    fn reseal(bytes: &mut [u8]) {
        let body = bytes.len() - FOOTER_LEN;
        let sum = checksum(&bytes[..body]);
        bytes[body..body + 8].copy_from_slice(&sum.to_le_bytes());
    }

    /// Byte offset of field `at` of index entry `i`.
    fn field(i: usize, at: usize) -> usize {
        HEADER_LEN + i * ENTRY_LEN + at
    }

    fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
        bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn get_u64(bytes: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn issue13_parse_refuses_an_unsorted_index() {
        // sample(): (main), a, b.c. Swap the last two index entries.
        let mut bytes = sample();
        let (one, two) = (field(1, 0), field(2, 0));
        let saved = bytes[one..two].to_vec();
        bytes.copy_within(two..two + ENTRY_LEN, one);
        bytes[two..two + ENTRY_LEN].copy_from_slice(&saved);
        reseal(&mut bytes);
        let err = Payload::parse(&bytes).unwrap_err();
        assert_eq!(
            err,
            FormatError::Unsorted { index: 2, name: "'a'".into(), previous: "'b.c'".into() }
        );
        assert_eq!(
            err.to_string(),
            "payload index is not sorted by name: entry 2 ('a') comes after 'b.c'"
        );
        // What inspect reads without the checksum still shows it; verify_all refuses it too.
        let p = Payload::parse_unverified(&bytes).unwrap();
        assert_eq!(p.verify_all().unwrap_err(), err);
    }

    #[test]
    fn issue13_parse_refuses_duplicate_names() {
        // Entry 2 (b.c) renamed to entry 1's name (a).
        let mut bytes = sample();
        let name = bytes[field(1, 0)..field(1, 6)].to_vec();
        bytes[field(2, 0)..field(2, 6)].copy_from_slice(&name);
        reseal(&mut bytes);
        assert_eq!(Payload::parse(&bytes).unwrap_err(), FormatError::DuplicateName("'a'".into()));
        // Two main scripts: entry 1's name made empty.
        let mut bytes = sample();
        bytes[field(1, 4)..field(1, 6)].copy_from_slice(&0u16.to_le_bytes());
        reseal(&mut bytes);
        let err = Payload::parse(&bytes).unwrap_err();
        assert_eq!(err.to_string(), "duplicate entry name '' (the main script)");
    }

    #[test]
    fn issue13_a_name_outside_the_string_table_fails_parse() {
        let mut bytes = sample();
        bytes[field(2, 0)..field(2, 4)].copy_from_slice(&1000u32.to_le_bytes());
        reseal(&mut bytes);
        assert_eq!(
            Payload::parse(&bytes).unwrap_err().to_string(),
            "payload index entry 2 is invalid: its name (3 bytes at offset 1000) lies outside \
             the string table (31 bytes)"
        );
    }

    #[test]
    fn issue13_a_wrong_decoded_length_is_found_by_verify_all() {
        // Entry 1 (a) is one zstd frame: the index claims one byte more than the frame holds.
        let mut bytes = sample();
        let raw = get_u64(&bytes, field(1, 32));
        put_u64(&mut bytes, field(1, 32), raw + 1);
        reseal(&mut bytes);
        let p = Payload::parse(&bytes).expect("entries are decoded only when loaded");
        let err = p.verify_all().unwrap_err();
        let want = format!(
            "entry 'a' could not be decompressed: its zstd frame holds {raw} bytes, the index \
             says {}",
            raw + 1
        );
        assert_eq!(err.to_string(), want);
        // Loading it (what the runtime does on require) fails the same way.
        let a = p.module(b"a").unwrap().unwrap();
        assert_eq!(a.decode_with(&mut Decoder::new().unwrap()).unwrap_err().to_string(), want);

        // A stored entry (b.c, entry 2) whose raw length is not its stored length.
        let mut bytes = sample();
        put_u64(&mut bytes, field(2, 32), 6);
        reseal(&mut bytes);
        let err = Payload::parse(&bytes).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry 'b.c' is invalid: it is stored as is, yet its decoded length (6 bytes) \
             differs from its stored length (7 bytes)"
        );

        // A zstd entry whose data goes on after the frame (here into b.c's data).
        let mut bytes = sample();
        let stored = get_u64(&bytes, field(1, 24));
        put_u64(&mut bytes, field(1, 24), stored + 1);
        reseal(&mut bytes);
        let err = Payload::parse(&bytes).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry 'a' could not be decompressed: 1 byte follows its zstd frame"
        );
    }

    /// A payload with a main script, a native module with a library, an interpreter; `edit`
    /// changes the writer first.
    fn native_payload(edit: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(1)\n"));
        w.add(entry("luv", "@luv.so", Kind::Native, b"\x7fELF module"));
        w.add(NewEntry {
            flags: flags::LIBRARY,
            ..entry("libuv.so.1", "@libuv.so.1", Kind::Native, b"\x7fELF lib")
        });
        w.add(NewEntry {
            flags: flags::SHARED,
            ..entry("luv.extra", "@luv.so", Kind::Native, b"luv")
        });
        w.needs(b"luv", &[b"libuv.so.1"]);
        w.interpreter(b"\x1bLJ\x02interp".to_vec(), Some("APP_LUA"));
        w.ignore_sigpipe();
        edit(&mut w);
        w.finish().unwrap().0
    }

    fn library(name: &str) -> NewEntry {
        NewEntry { flags: flags::LIBRARY, ..entry(name, "@lib", Kind::Native, b"\x7fELF") }
    }

    /// A native module `other` that needs `lib00.so`, which needs `lib01.so`... `n` libraries.
    fn chain_of_libraries(w: &mut Writer, n: usize) {
        w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
        let names: Vec<String> = (0..n).map(|i| format!("lib{i:02}.so")).collect();
        w.needs(b"other", &[names[0].as_bytes()]);
        for n in &names {
            w.add(library(n));
        }
        for pair in names.windows(2) {
            w.needs(pair[0].as_bytes(), &[pair[1].as_bytes()]);
        }
    }

    #[test]
    fn issue13_verify_all_resolves_every_reference() {
        let ok = native_payload(|_| {});
        Payload::parse(&ok).unwrap().verify_all().expect("a well-formed payload verifies");
        let deep = native_payload(|w| chain_of_libraries(w, MAX_LIBRARY_DEPTH));
        Payload::parse(&deep).unwrap().verify_all().expect("32 libraries deep is what loads");
        Payload::parse(&sample()).unwrap().verify_all().expect("the sample verifies");
        let main = |w: &mut Writer| w.add(entry("", "@m.lua", Kind::LuaSource, b"x()"));
        type Edit = Box<dyn Fn(&mut Writer)>;
        let cases: Vec<(&str, Edit, &str)> = vec![
            (
                "NEEDS names a missing library",
                Box::new(|w| w.needs(b"luv.extra2", &[b"libnope.so.1"])),
                "invalid payload record: the NEEDS record of 'luv.extra2' is for an entry the \
                 payload lacks",
            ),
            (
                "NEEDS names a missing library",
                Box::new(|w| {
                    w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
                    w.needs(b"other", &[b"libnope.so.1"]);
                }),
                "invalid payload record: the NEEDS record of 'other' names the library \
                 'libnope.so.1', which the payload lacks (no native entry with the LIBRARY flag \
                 has that name)",
            ),
            (
                "NEEDS names a module as a library",
                Box::new(|w| {
                    w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
                    w.needs(b"other", &[b"luv"]);
                }),
                "names the library 'luv', which the payload lacks",
            ),
            (
                "NEEDS for a SHARED entry",
                Box::new(|w| w.needs(b"luv.extra", &[b"libuv.so.1"])),
                "the NEEDS record of 'luv.extra' is for an entry that is not a native module or \
                 library holding code",
            ),
            (
                "NEEDS for a Lua entry",
                Box::new(|w| w.needs(b"", &[b"libuv.so.1"])),
                "a NEEDS record names no entry",
            ),
            (
                "two NEEDS for one entry",
                Box::new(|w| w.needs(b"luv", &[b"libuv.so.1"])),
                "there are two NEEDS records for 'luv'",
            ),
            (
                "an empty library name",
                Box::new(|w| {
                    w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
                    w.records.push((record::NEEDS, b"other\0libuv.so.1\0".to_vec()));
                }),
                "the NEEDS record of 'other' holds an empty library name",
            ),
            (
                "a cycle of libraries",
                Box::new(|w| {
                    w.add(library("liba.so"));
                    w.add(library("libb.so"));
                    w.needs(b"libuv.so.1", &[b"liba.so"]);
                    w.needs(b"liba.so", &[b"libb.so"]);
                    w.needs(b"libb.so", &[b"liba.so"]);
                }),
                "the NEEDS records form a cycle: 'libb.so' -> 'liba.so' -> 'libb.so'",
            ),
            (
                "libraries 33 deep",
                Box::new(|w| chain_of_libraries(w, 33)),
                "libraries need each other more than 32 deep",
            ),
            (
                "SHARED names a missing module",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.so", Kind::Native, b"nope")
                    })
                }),
                "shared native entry 's' names no native module holding a library",
            ),
            (
                "SHARED names a library",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.so", Kind::Native, b"libuv.so.1")
                    })
                }),
                "shared native entry 's' names no native module holding a library",
            ),
            (
                "SHARED names a SHARED entry",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.so", Kind::Native, b"luv.extra")
                    })
                }),
                "shared native entry 's' names no native module holding a library",
            ),
            (
                "SHARED on Lua source",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.lua", Kind::LuaSource, b"luv")
                    })
                }),
                "entry 's' is invalid: it has the SHARED flag but is of kind lua-source, not \
                 native",
            ),
            (
                "LIBRARY and SHARED",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED | flags::LIBRARY,
                        ..entry("s", "@s.so", Kind::Native, b"luv")
                    })
                }),
                "entry 's' is invalid: it has both the LIBRARY and the SHARED flag",
            ),
            (
                "LIBRARY on an asset",
                Box::new(|w| {
                    w.add(NewEntry { flags: flags::LIBRARY, ..entry("d", "@d", Kind::Asset, b"") })
                }),
                "entry 'd' is invalid: it has the LIBRARY flag but is of kind asset, not native",
            ),
            (
                "bytecode without the signature",
                Box::new(|w| w.add(entry("b", "@b.lua", Kind::LuaBytecode, b"return 1"))),
                "entry 'b' is invalid: it is marked as LuaJIT bytecode but does not start with \
                 its signature",
            ),
            (
                "source that is bytecode",
                Box::new(|w| w.add(entry("b", "@b.lua", Kind::LuaSource, b"\x1bLJ\x02"))),
                "entry 'b' is invalid: it is marked as Lua source but starts like bytecode",
            ),
            (
                "a NUL in a chunk name",
                Box::new(|w| w.add(entry("b", "@b\0.lua", Kind::LuaSource, b"return 1"))),
                "entry 'b' is invalid: its chunk name contains a NUL byte",
            ),
            (
                "two SIGPIPE records",
                Box::new(|w| w.ignore_sigpipe()),
                "invalid payload record: there are 2 SIGPIPE records; at most one is allowed",
            ),
            (
                "a SIGPIPE record of 2",
                Box::new(|w| w.records[3].1 = vec![2]),
                "invalid payload record: the SIGPIPE record holds 2, not 0 or 1",
            ),
            (
                "two INTERPRETER records",
                Box::new(|w| w.records.push((record::INTERPRETER, b"x".to_vec()))),
                "there are 2 INTERPRETER records; at most one is allowed",
            ),
            (
                "an INTERPRETER_ENV with '='",
                Box::new(|w| w.records[2].1 = b"A=B".to_vec()),
                "the INTERPRETER_ENV record holds 'A=B', not an environment variable name",
            ),
            (
                "an empty PRELOAD",
                Box::new(|w| w.preload("")),
                "invalid payload record: a PRELOAD record names no module",
            ),
            (
                "an unknown required record",
                Box::new(|w| w.records.push((0x0042, Vec::new()))),
                "payload record with tag 0x0042 is required but not understood by this runtime",
            ),
        ];
        for (what, edit, want) in &cases {
            let bytes = native_payload(|w| edit(w));
            let p = Payload::parse(&bytes).unwrap_or_else(|e| panic!("{what}: parse: {e}"));
            let err = p.verify_all().expect_err(what).to_string();
            assert!(err.contains(want), "{what}: {err}");
        }
        // The records the interpreter needs, and something to run.
        let mut w = Writer::new(3);
        w.records.push((record::INTERPRETER_ENV, b"APP".to_vec()));
        main(&mut w);
        let err = Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid payload record: an INTERPRETER_ENV record comes without an INTERPRETER record"
        );
        let mut w = Writer::new(3);
        w.interpreter(b"-- interp".to_vec(), Some("APP"));
        let err = Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid payload record: an INTERPRETER_ENV record comes without a main script"
        );
        let mut w = Writer::new(3);
        w.interpreter(b"-- interp".to_vec(), None);
        Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().expect("interpreter only");
        let empty = Writer::new(3).finish().unwrap().0;
        assert_eq!(Payload::parse(&empty).unwrap().verify_all(), Err(FormatError::NothingToRun));
        // A main script that is not Lua.
        let mut w = Writer::new(3);
        w.add(entry("", "@main", Kind::Asset, b"data"));
        let err = Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the main script is invalid: it is of kind asset, not Lua source or bytecode"
        );
    }

    #[test]
    fn issue13_messages_speak_to_users() {
        // No Option's Debug form: a frame that does not state its size, and one that does.
        let frame = zstd::bulk::compress(&b"x".repeat(100), 3).unwrap();
        let mut e = Entry {
            name: b"m",
            chunkname: b"@m",
            kind: Kind::LuaSource,
            codec: Codec::Zstd,
            flags: 0,
            stored: &frame,
            raw_len: 94,
            offset: 0,
        };
        assert_eq!(
            e.decode().unwrap_err().to_string(),
            "entry 'm' could not be decompressed: its zstd frame holds 100 bytes, the index says 94"
        );
        let mut no_size = Vec::new();
        let mut enc = zstd::stream::write::Encoder::new(&mut no_size, 3).unwrap();
        enc.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut enc, b"abc").unwrap();
        enc.finish().unwrap();
        e.stored = &no_size;
        e.raw_len = 3;
        assert_eq!(
            e.decode().unwrap_err().to_string(),
            "entry 'm' could not be decompressed: its zstd frame does not state its size"
        );
        e.stored = b"not zstd";
        e.name = b"";
        assert_eq!(
            e.decode().unwrap_err().to_string(),
            "the main script could not be decompressed: its data does not start with a zstd frame"
        );
        for err in [
            FormatError::BadEntry { index: 0, reason: String::new() },
            FormatError::Zstd(String::new()),
        ] {
            assert!(!format!("{err}").contains("Some("), "{err}");
        }
    }

    #[test]
    fn issue13_names_in_messages_are_escaped() {
        assert_eq!(escaped(b"a.b"), "a.b");
        assert_eq!(escaped(b"caf\xc3\xa9 \"q\""), "caf\u{e9} \"q\"");
        assert_eq!(escaped(b"\x1b[2J\n\t\0'\\\xff\x7f"), "\\u{1b}[2J\\n\\t\\0\\'\\\\\\xff\\u{7f}");
        assert_eq!(escaped("\u{202e}".as_bytes()), "\\u{202e}");
        let name = b"evil\x1b]0;pwned\x07\nname";
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(1)"));
        w.add(NewEntry {
            name: name.to_vec(),
            chunkname: b"@x".to_vec(),
            kind: Kind::LuaBytecode,
            flags: 0,
            data: b"return 1".to_vec(),
        });
        w.add(NewEntry { flags: flags::SHARED, ..entry("s\r", "@s.so", Kind::Native, b"nope") });
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        let err = p.verify_all().unwrap_err().to_string();
        assert_eq!(
            err,
            "entry 'evil\\u{1b}]0;pwned\\u{7}\\nname' is invalid: it is marked as LuaJIT bytecode \
             but does not start with its signature"
        );
        assert!(!err.chars().any(char::is_control), "{err:?}");
        let e = p.module(name).unwrap().unwrap();
        assert_eq!(e.display_name(), "evil\\u{1b}]0;pwned\\u{7}\\nname");
        let s = p.module(b"s\r").unwrap().unwrap();
        assert_eq!(
            p.library_owner(&s).unwrap_err().to_string(),
            "shared native entry 's\\r' names no native module holding a library"
        );
        let mut w = Writer::new(3);
        w.add(entry("\x1b", "@a", Kind::LuaSource, b"1"));
        w.add(entry("\x1b", "@b", Kind::LuaSource, b"2"));
        assert_eq!(w.finish().unwrap_err().to_string(), "duplicate entry name '\\u{1b}'");
    }
}
