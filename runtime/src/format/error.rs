//! Why a payload could not be read or written ([`FormatError`]), and how the names a payload
//! holds appear in messages ([`escaped`], [`quoted`], [`label`]).

use super::entry::is_main;
use super::VERSION;

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
    /// An entry's bytes differ from what its checksum says. `entry` is [`label`]'s form of the
    /// entry's name.
    #[error("{entry} is damaged: its checksum does not match its data (stored {stored:016x}, computed {computed:016x})")]
    EntryDamaged { entry: String, stored: u64, computed: u64 },
    /// A sealed record's body differs from what its checksum says (`record::Sealed`); `record`
    /// is the record's name (`ASSETS_OVERLAY`, `MANIFEST`).
    #[error("record {record} is damaged: its checksum does not match its data (stored {stored:016x}, computed {computed:016x})")]
    RecordDamaged { record: &'static str, stored: u64, computed: u64 },
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
    #[error(
        "the payload holds neither a main script, an entry point nor an interpreter: there is \
         nothing to run"
    )]
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

/// A name quoted for a message: `'a.b'`, or `'' (the main script)` for the main script's.
pub fn quoted(name: &[u8]) -> String {
    if is_main(name) {
        "'' (the main script)".to_owned()
    } else {
        format!("'{}'", escaped(name))
    }
}

/// How messages call the entry named `name`: `entry 'a.b'`, or `the main script`.
pub fn label(name: &[u8]) -> String {
    if is_main(name) {
        "the main script".to_owned()
    } else {
        format!("entry '{}'", escaped(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::testing::entry;
    use crate::format::{flags, Kind, NewEntry, Payload, Writer};

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
