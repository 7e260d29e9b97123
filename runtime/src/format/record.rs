//! The records section (docs/FORMAT.md, "Records"): what a payload says besides its entries, as
//! a sequence of `tag: u16, len: u32, value`.
//!
//! Every record is one variant of [`Record`], and everything about it is that variant's arm in
//! the `match`es below: its tag ([`Record::tag`]), its name in messages, how its value reads
//! ([`Record::decode`]) and is written ([`Record::value`]), whether it may repeat, and what
//! `verify_all` checks of it alone ([`Record::check`]). Adding a record is a tag constant, a
//! variant and its arms here, and its row in docs/FORMAT.md; `Writer::record` writes it and
//! `Payload::records` reads it, so a dedicated writer method or accessor is a convenience.
//!
//! A tag with bit 15 set ([`OPTIONAL`]) is optional: readers that do not know it skip it. Any
//! other unknown tag makes the payload unreadable (docs/FORMAT.md, "Versioning rules").

use super::layout::{slice, u16_at, u32_at};
use super::{escaped, quoted, FormatError};

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
/// The asset overlay's boot (runtime/lua/assets_boot.lua, compiled), the chunk the host runs
/// before any user code when the program has assets. At most one; present exactly when some
/// entry is an asset, and then with an [`ASSETS_OVERLAY`] record.
pub const ASSETS: u16 = 0x0006;
/// Baked arguments: an entry point's name (empty: the program's default arguments, for the main
/// script and every entry point that has none of its own), then each argument preceded by a
/// NUL, as in [`NEEDS`]. An argument `...` marks where the user's arguments go (without one,
/// they go after). Repeatable, at most one per entry name.
pub const ARGS: u16 = 0x0007;
/// The name of the entry run when neither the executable's name nor its first argument names
/// one (an entry point, or the [`INTERPRETER_ENTRY`]). At most one.
pub const DEFAULT_ENTRY: u16 = 0x0008;
/// Hermetic mode, an empty value: no filesystem searchers, `LUA_PATH`/`LUA_CPATH` ignored,
/// `package.path` and `package.cpath` empty. At most one.
pub const HERMETIC: u16 = 0x0009;
/// The name of an entry that runs the [`INTERPRETER`] (`--entry lua=@interpreter`). At most
/// one; only with an INTERPRETER record.
pub const INTERPRETER_ENTRY: u16 = 0x000A;
/// The asset overlay itself (runtime/lua/assets.lua, compiled), which the boot ([`ASSETS`])
/// loads when the program first uses a file. [`SEALED`]: verified just before it is loaded, not
/// at start-up. At most one; present exactly when [`ASSETS`] is.
pub const ASSETS_OVERLAY: u16 = 0x400B;
/// The bill of materials (docs/FORMAT.md, "MANIFEST"): compact JSON describing where every
/// entry came from, for `bundle inspect`, `size` and `diff`. Optional: the runtime never reads
/// it; [`SEALED`]: so start-up never hashes it either. At most one.
pub const MANIFEST: u16 = 0xC012;
/// The SHA-256 of every byte of the executable outside the payload (and outside a signature
/// block), then the file regions it covers, each with a short digest of its own, so that
/// `bundle verify` can name the damaged one (docs/FORMAT.md, "Image hash"). At most one. The
/// runtime never reads it: start-up checks only the payload checksum.
pub const IMAGE_HASH: u16 = 0x0010;
/// An Ed25519 signature, stored after the payload at the very end of the file, never inside
/// it (docs/FORMAT.md, "Signature block"); optional: a reader that does not know it skips it.
pub const SIGNATURE: u16 = 0x8011;
/// The last 8 bytes of a file that ends with a signature block.
pub const SIGNATURE_MAGIC: [u8; 8] = *b"LJBNDSIG";
/// Bit marking a record that readers may ignore when they do not know it.
pub const OPTIONAL: u16 = 0x8000;
/// Bit marking a *sealed* record: its value is the XXH3-64 of the rest of it, then the rest (the
/// body, [`Sealed`]); the footer's checksum covers the tag, the length and that checksum but not
/// the body, which is verified when it is used (docs/FORMAT.md, "Sealed records"). For large
/// records that start-up does not need.
pub const SEALED: u16 = 0x4000;

/// Bytes before a record's value: tag (u16) and length (u32).
pub(super) const RECORD_HEAD: usize = 6;

/// One record, its value decoded (and borrowed from the payload, or from the writer's caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// [`PRELOAD`]: a module name.
    Preload(&'a [u8]),
    /// [`NEEDS`]: a native entry and the libraries it needs.
    Needs(Needs<'a>),
    /// [`SIGPIPE`]: whether the program ignores SIGPIPE (value `1`) or keeps the default
    /// disposition (`0`).
    Sigpipe { ignore: bool },
    /// [`INTERPRETER`]: the interpreter chunk, stored as is.
    Interpreter(&'a [u8]),
    /// [`INTERPRETER_ENV`]: the name of the environment variable that selects the interpreter.
    InterpreterEnv(&'a [u8]),
    /// [`ASSETS`]: the asset overlay's boot chunk.
    Assets(&'a [u8]),
    /// [`ASSETS_OVERLAY`]: the asset overlay's chunk, sealed.
    AssetsOverlay(Sealed<'a>),
    /// [`ARGS`]: an entry's baked arguments.
    Args(Args<'a>),
    /// [`DEFAULT_ENTRY`]: the name of the entry run by default.
    DefaultEntry(&'a [u8]),
    /// [`HERMETIC`]: the program serves only what it carries.
    Hermetic,
    /// [`INTERPRETER_ENTRY`]: the name of the entry that runs the interpreter.
    InterpreterEntry(&'a [u8]),
    /// [`MANIFEST`]: the bill of materials, JSON, sealed.
    Manifest(Sealed<'a>),
    /// [`IMAGE_HASH`]: the hash of the executable outside the payload, and its regions.
    ImageHash(ImageHash<'a>),
}

impl<'a> Record<'a> {
    /// The record's tag.
    pub fn tag(&self) -> u16 {
        match self {
            Record::Preload(_) => PRELOAD,
            Record::Needs(_) => NEEDS,
            Record::Sigpipe { .. } => SIGPIPE,
            Record::Interpreter(_) => INTERPRETER,
            Record::InterpreterEnv(_) => INTERPRETER_ENV,
            Record::Assets(_) => ASSETS,
            Record::AssetsOverlay(_) => ASSETS_OVERLAY,
            Record::Args(_) => ARGS,
            Record::DefaultEntry(_) => DEFAULT_ENTRY,
            Record::Hermetic => HERMETIC,
            Record::InterpreterEntry(_) => INTERPRETER_ENTRY,
            Record::Manifest(_) => MANIFEST,
            Record::ImageHash(_) => IMAGE_HASH,
        }
    }

    /// The record's name in docs/FORMAT.md and in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Record::Preload(_) => "PRELOAD",
            Record::Needs(_) => "NEEDS",
            Record::Sigpipe { .. } => "SIGPIPE",
            Record::Interpreter(_) => "INTERPRETER",
            Record::InterpreterEnv(_) => "INTERPRETER_ENV",
            Record::Assets(_) => "ASSETS",
            Record::AssetsOverlay(_) => "ASSETS_OVERLAY",
            Record::Args(_) => "ARGS",
            Record::DefaultEntry(_) => "DEFAULT_ENTRY",
            Record::Hermetic => "HERMETIC",
            Record::InterpreterEntry(_) => "INTERPRETER_ENTRY",
            Record::Manifest(_) => "MANIFEST",
            Record::ImageHash(_) => "IMAGE_HASH",
        }
    }

    /// Whether a payload may hold at most one record of this kind (NEEDS and ARGS: at most one
    /// per entry, which `verify_all` checks with the entries).
    pub fn at_most_once(&self) -> bool {
        match self {
            Record::Preload(_) | Record::Needs(_) | Record::Args(_) => false,
            Record::Sigpipe { .. }
            | Record::Interpreter(_)
            | Record::InterpreterEnv(_)
            | Record::Assets(_)
            | Record::AssetsOverlay(_)
            | Record::DefaultEntry(_)
            | Record::Hermetic
            | Record::InterpreterEntry(_)
            | Record::Manifest(_)
            | Record::ImageHash(_) => true,
        }
    }

    /// The record tagged `tag` with value `value`; `None` for an unknown optional record, which
    /// readers skip, and [`FormatError::UnknownRecord`] for an unknown required one. A value
    /// that the record cannot hold is a [`FormatError::BadRecord`].
    pub fn decode(tag: u16, value: &'a [u8]) -> Result<Option<Self>, FormatError> {
        let bad = |reason: String| Err(FormatError::BadRecord(reason));
        let sealed = |name: &str| match value.len() {
            n if n < Sealed::SUM_LEN => Err(FormatError::BadRecord(format!(
                "the {name} record holds {n} bytes, fewer than its checksum"
            ))),
            _ => Ok(Sealed(value)),
        };
        Ok(Some(match tag {
            PRELOAD => Record::Preload(value),
            NEEDS => Record::Needs(Needs(value)),
            SIGPIPE => match value {
                [0] => Record::Sigpipe { ignore: false },
                [1] => Record::Sigpipe { ignore: true },
                [other] => return bad(format!("the SIGPIPE record holds {other}, not 0 or 1")),
                _ => {
                    return bad(format!(
                        "the SIGPIPE record holds {} bytes, not one byte 0 or 1",
                        value.len()
                    ))
                }
            },
            INTERPRETER => Record::Interpreter(value),
            INTERPRETER_ENV => Record::InterpreterEnv(value),
            ASSETS => Record::Assets(value),
            ASSETS_OVERLAY => Record::AssetsOverlay(sealed("ASSETS_OVERLAY")?),
            ARGS => Record::Args(Args(value)),
            DEFAULT_ENTRY => Record::DefaultEntry(value),
            HERMETIC if value.is_empty() => Record::Hermetic,
            HERMETIC => {
                return bad(format!(
                    "the HERMETIC record holds {} bytes; its value is empty",
                    value.len()
                ))
            }
            INTERPRETER_ENTRY => Record::InterpreterEntry(value),
            MANIFEST => Record::Manifest(sealed("MANIFEST")?),
            IMAGE_HASH => Record::ImageHash(ImageHash(value)),
            t if t & OPTIONAL != 0 => return Ok(None),
            t => return Err(FormatError::UnknownRecord(t)),
        }))
    }

    /// The record's value as stored, what [`Record::decode`] reads back.
    pub fn value(&self) -> &'a [u8] {
        match *self {
            Record::Preload(v)
            | Record::Interpreter(v)
            | Record::InterpreterEnv(v)
            | Record::DefaultEntry(v)
            | Record::InterpreterEntry(v)
            | Record::Assets(v) => v,
            Record::Needs(Needs(v))
            | Record::Args(Args(v))
            | Record::Manifest(Sealed(v))
            | Record::AssetsOverlay(Sealed(v))
            | Record::ImageHash(ImageHash(v)) => v,
            Record::Hermetic => &[],
            Record::Sigpipe { ignore: false } => &[0],
            Record::Sigpipe { ignore: true } => &[1],
        }
    }

    /// What `verify_all` checks of the record by itself (what it names is checked against the
    /// entries there): a PRELOAD names a module, a NEEDS record an entry and non-empty library
    /// names, an INTERPRETER_ENV a possible environment variable (non-empty, no `=`, no NUL),
    /// a DEFAULT_ENTRY and an INTERPRETER_ENTRY a possible entry name (non-empty, no `/`, no
    /// NUL), an ARGS record the program (empty) or such a name; a sealed record's body matches
    /// its checksum.
    pub fn check(&self) -> Result<(), FormatError> {
        let bad = |reason: String| Err(FormatError::BadRecord(reason));
        match *self {
            Record::Preload([]) => bad("a PRELOAD record names no module".into()),
            Record::Needs(needs) if needs.entry().is_empty() => {
                bad("a NEEDS record names no entry".into())
            }
            Record::Needs(needs) if needs.libraries().any(|l| l.is_empty()) => bad(format!(
                "the NEEDS record of {} holds an empty library name",
                quoted(needs.entry())
            )),
            Record::InterpreterEnv(name)
                if name.is_empty() || name.contains(&b'=') || name.contains(&0) =>
            {
                bad(format!(
                    "the INTERPRETER_ENV record holds '{}', not an environment variable name",
                    escaped(name)
                ))
            }
            Record::DefaultEntry(name) | Record::InterpreterEntry(name) if !is_entry_name(name) => {
                bad(format!(
                    "the {} record holds '{}', not an entry name (non-empty, without '/')",
                    self.name(),
                    escaped(name)
                ))
            }
            Record::Args(args) if args.entry().contains(&b'/') => bad(format!(
                "the ARGS record for '{}' does not name an entry (an entry name has no '/')",
                escaped(args.entry())
            )),
            Record::ImageHash(h) => h.regions().try_for_each(|r| r.map(drop)),
            Record::Manifest(s) | Record::AssetsOverlay(s) => s.verified(self.name()).map(drop),
            Record::Preload(_)
            | Record::Needs(_)
            | Record::Sigpipe { .. }
            | Record::Interpreter(_)
            | Record::InterpreterEnv(_)
            | Record::Assets(_)
            | Record::Args(_)
            | Record::DefaultEntry(_)
            | Record::Hermetic
            | Record::InterpreterEntry(_) => Ok(()),
        }
    }
}

/// A NEEDS record's value as stored: the name of a native entry, then the names of the library
/// entries it needs loaded first, in load order, each preceded by a NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs<'a>(pub &'a [u8]);

impl<'a> Needs<'a> {
    /// The value that says native entry `entry` needs `libraries`.
    pub fn join(entry: &[u8], libraries: &[&[u8]]) -> Vec<u8> {
        let mut value = entry.to_vec();
        for l in libraries {
            value.push(0);
            value.extend_from_slice(l);
        }
        value
    }

    /// The native entry's name.
    pub fn entry(&self) -> &'a [u8] {
        self.0.split(|b| *b == 0).next().unwrap_or_default()
    }

    /// The libraries' names, in load order, as stored: an empty one is an error
    /// ([`Record::check`]) that the runtime passes over.
    pub fn libraries(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.split(|b| *b == 0).skip(1)
    }
}

/// Whether `name` can be an entry's name: non-empty, without `/` (which would make it a path
/// in the index) or NUL (which separates names in records).
pub(super) fn is_entry_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'/') && !name.contains(&0)
}

/// A sealed record's value as stored ([`SEALED`]): the XXH3-64 (seed 0, little-endian) of the
/// body, then the body. The footer's checksum skips the body, so nothing may use it before
/// [`Sealed::verified`] (the runtime: the asset overlay right before it is loaded; `bundle
/// verify`: every sealed record, [`Record::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed<'a>(pub &'a [u8]);

impl<'a> Sealed<'a> {
    /// Bytes before the body: its checksum.
    pub const SUM_LEN: usize = 8;

    /// The value that seals `body`.
    pub fn join(body: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::SUM_LEN + body.len());
        v.extend_from_slice(&super::checksum(body).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    /// The checksum stored before the body (0 for a value too short to hold one, which
    /// [`Record::decode`] refuses).
    pub fn stored(&self) -> u64 {
        self.0.first_chunk().map_or(0, |s| u64::from_le_bytes(*s))
    }

    /// The body, not verified: for what only shows or repairs it (`bundle inspect` on a damaged
    /// file, `format::reseal`), never for what uses it.
    pub fn unverified(&self) -> &'a [u8] {
        self.0.get(Self::SUM_LEN..).unwrap_or_default()
    }

    /// The body, once it matches its checksum; [`FormatError::RecordDamaged`] naming `record`
    /// (its name, [`Record::name`]) otherwise.
    pub fn verified(&self, record: &'static str) -> Result<&'a [u8], FormatError> {
        let (stored, body) = (self.stored(), self.unverified());
        let computed = super::checksum(body);
        if stored != computed {
            return Err(FormatError::RecordDamaged { record, stored, computed });
        }
        Ok(body)
    }
}

/// An ARGS record's value as stored: the name of an entry (empty for the program's default
/// arguments), then each baked argument preceded by a NUL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args<'a>(pub &'a [u8]);

impl<'a> Args<'a> {
    /// The argument that marks where the user's own arguments go.
    pub const SPLICE: &'static [u8] = b"...";

    /// The value that bakes `args` into entry `entry` (empty: the program's default).
    pub fn join(entry: &[u8], args: &[&[u8]]) -> Vec<u8> {
        Needs::join(entry, args)
    }

    /// The entry's name; empty for the program's default arguments.
    pub fn entry(&self) -> &'a [u8] {
        self.0.split(|b| *b == 0).next().unwrap_or_default()
    }

    /// The baked arguments, in order (empty ones included: `''` is an argument).
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.split(|b| *b == 0).skip(1)
    }
}

/// An IMAGE_HASH record's value as stored: the SHA-256 of the executable outside the payload
/// (32 bytes), then its regions, in file order, each `offset: u64, len: u64, digest: 8 bytes`
/// (the first 8 bytes of the SHA-256 of the region's bytes), `name_len: u16`, the name (UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHash<'a>(pub &'a [u8]);

/// One region of an [`ImageHash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRegion<'a> {
    pub offset: u64,
    pub len: u64,
    pub digest: [u8; 8],
    /// What the bytes are: `ELF header`, `program headers`, `section .text`, ...
    pub name: &'a [u8],
}

impl<'a> ImageHash<'a> {
    /// Bytes before the regions: the SHA-256 of the image.
    pub const HASH_LEN: usize = 32;

    /// The value that holds `hash` and `regions`.
    pub fn join(hash: &[u8; 32], regions: &[ImageRegion<'_>]) -> Vec<u8> {
        let mut value = hash.to_vec();
        for r in regions {
            value.extend_from_slice(&r.offset.to_le_bytes());
            value.extend_from_slice(&r.len.to_le_bytes());
            value.extend_from_slice(&r.digest);
            let name = &r.name[..r.name.len().min(u16::MAX as usize)];
            value.extend_from_slice(&(name.len() as u16).to_le_bytes());
            value.extend_from_slice(name);
        }
        value
    }

    /// The SHA-256 of the image; `None` when the value is too short to hold one.
    pub fn hash(&self) -> Option<&'a [u8; 32]> {
        self.0.get(..Self::HASH_LEN).and_then(|h| h.try_into().ok())
    }

    /// The regions, in order; an error for a value that does not hold a hash and whole regions.
    pub fn regions(&self) -> impl Iterator<Item = Result<ImageRegion<'a>, FormatError>> + 'a {
        let value = self.0;
        let mut at = if value.len() < Self::HASH_LEN { usize::MAX } else { Self::HASH_LEN };
        std::iter::from_fn(move || {
            if at == value.len() {
                return None;
            }
            let region = (|| {
                if at == usize::MAX {
                    return Err(FormatError::BadRecord(format!(
                        "the IMAGE_HASH record holds {} bytes, fewer than a SHA-256",
                        value.len()
                    )));
                }
                let what = "IMAGE_HASH region";
                let offset = super::layout::u64_at(value, at, what)?;
                let len = super::layout::u64_at(value, at + 8, what)?;
                let digest = super::layout::array::<8>(value, at + 16, what)?;
                let name_len = u16_at(value, at + 24, what)?;
                let name = slice(value, at as u64 + 26, name_len.into(), what)?;
                at += 26 + name.len();
                Ok(ImageRegion { offset, len, digest, name })
            })();
            if region.is_err() {
                at = value.len();
            }
            Some(region)
        })
    }
}

/// Appends one record, tag, length and value, to a records section.
pub(super) fn write(out: &mut Vec<u8>, tag: u16, value: &[u8]) -> Result<(), FormatError> {
    let len = u32::try_from(value.len()).map_err(|_| FormatError::TooLarge("a record"))?;
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// The records of a records section, in order, unknown optional ones skipped
/// ([`super::Payload::records`]). After an error (a record cut short, an unknown required one,
/// a value its record cannot hold) it ends.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    section: &'a [u8],
    at: usize,
}

impl<'a> Records<'a> {
    pub(super) fn new(section: &'a [u8]) -> Self {
        Records { section, at: 0 }
    }

    /// The next record's tag and value, and where the one after it starts.
    fn frame(&self) -> Result<(u16, &'a [u8], usize), FormatError> {
        let tag = u16_at(self.section, self.at, "record tag")?;
        let len = u32_at(self.section, self.at + 2, "record length")?;
        let start = self.at + RECORD_HEAD;
        let value = slice(self.section, start as u64, len.into(), "record value")?;
        Ok((tag, value, start + value.len()))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.at < self.section.len() {
            let decoded = self.frame().and_then(|(tag, value, next)| {
                self.at = next;
                Record::decode(tag, value)
            });
            match decoded {
                Ok(Some(record)) => return Some(Ok(record)),
                Ok(None) => continue,
                Err(e) => {
                    self.at = usize::MAX;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::testing::entry;
    use crate::format::{checksum, Kind, Payload, Writer, END_MAGIC, FOOTER_LEN, HEADER_LEN};

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

    /// Every record, written through the enum and read back through it, is what it was: the
    /// tag and value arms of each variant agree with its decode arm.
    #[test]
    fn issue14_records_round_trip_through_the_enum() {
        let needs = Needs::join(b"luv", &[b"libuv.so.1", b"libssl.so.3"]);
        let records = [
            Record::Preload(b"a.b"),
            Record::Needs(Needs(&needs)),
            Record::Needs(Needs(b"lonely")),
            Record::Sigpipe { ignore: true },
            Record::Sigpipe { ignore: false },
            Record::Interpreter(b"\x1bLJ\x02interp"),
            Record::InterpreterEnv(b"APP_LUA"),
        ];
        for r in &records {
            assert_eq!(Record::decode(r.tag(), r.value()), Ok(Some(*r)), "{}", r.name());
            assert_eq!(r.tag() & OPTIONAL, 0, "{} is required", r.name());
        }
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(1)"));
        for r in &records {
            w.record(*r);
        }
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        let read: Vec<Record> = p.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(read, records);
        // The fields a NEEDS value holds.
        let Record::Needs(n) = read[1] else { unreachable!() };
        assert_eq!(n.entry(), b"luv");
        assert_eq!(n.libraries().collect::<Vec<_>>(), [&b"libuv.so.1"[..], b"libssl.so.3"]);
        assert_eq!(Needs(b"lonely").libraries().count(), 0);
        // Distinct tags, and a name for each.
        let mut tags: Vec<u16> = records.iter().map(Record::tag).collect();
        tags.dedup();
        assert_eq!(tags, [PRELOAD, NEEDS, SIGPIPE, INTERPRETER, INTERPRETER_ENV]);
    }

    /// Issue 17's records, through the enum and back, and what each holds.
    #[test]
    fn issue17_records_round_trip_through_the_enum() {
        let web = Args::join(b"web", &[b"--port", b"${PORT:-8080}", b"...", b""]);
        let default = Args::join(b"", &[b"-v"]);
        let records = [
            Record::Args(Args(&web)),
            Record::Args(Args(&default)),
            Record::Args(Args(b"none")),
            Record::DefaultEntry(b"web"),
            Record::Hermetic,
            Record::InterpreterEntry(b"lua"),
        ];
        for r in &records {
            assert_eq!(Record::decode(r.tag(), r.value()), Ok(Some(*r)), "{}", r.name());
            assert_eq!(r.tag() & OPTIONAL, 0, "{} is required", r.name());
            assert_eq!(r.check(), Ok(()), "{}", r.name());
        }
        let tags: Vec<u16> = records.iter().map(Record::tag).collect();
        assert_eq!(tags, [ARGS, ARGS, ARGS, DEFAULT_ENTRY, HERMETIC, INTERPRETER_ENTRY]);
        assert_eq!((ARGS, DEFAULT_ENTRY, HERMETIC, INTERPRETER_ENTRY), (7, 8, 9, 10));
        let once: Vec<bool> = records.iter().map(Record::at_most_once).collect();
        assert_eq!(once, [false, false, false, true, true, true]);
        let Record::Args(a) = records[0] else { unreachable!() };
        assert_eq!(a.entry(), b"web");
        let args: Vec<&[u8]> = a.args().collect();
        assert_eq!(args, [&b"--port"[..], b"${PORT:-8080}", b"...", b""]);
        assert_eq!(Args(&default).entry(), b"");
        assert_eq!(Args(b"none").args().count(), 0);
        // Through a payload, in order.
        let mut w = Writer::new(3);
        w.add(entry("/web", "@web.lua", Kind::LuaSource, b"print(1)"));
        w.args(b"web", &[b"--port", b"${PORT:-8080}", b"...", b""]);
        w.args(b"", &[b"-v"]);
        w.args(b"none", &[]);
        w.default_entry(b"web");
        w.hermetic();
        w.interpreter_entry(b"lua");
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        let read: Vec<Record> = p.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(read, records);
    }

    #[test]
    fn issue17_what_the_new_records_cannot_hold() {
        assert_eq!(
            Record::decode(HERMETIC, b"x").unwrap_err().to_string(),
            "invalid payload record: the HERMETIC record holds 1 bytes; its value is empty"
        );
        for (r, want) in [
            (Record::DefaultEntry(b""), "the DEFAULT_ENTRY record holds '', not an entry name"),
            (Record::DefaultEntry(b"a/b"), "the DEFAULT_ENTRY record holds 'a/b', not an entry"),
            (Record::InterpreterEntry(b"a\0b"), "the INTERPRETER_ENTRY record holds 'a\\0b'"),
            (Record::Args(Args(b"/web\0x")), "the ARGS record for '/web' does not name an entry"),
        ] {
            let err = r.check().unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn issue14_a_record_its_variant_cannot_hold_is_refused_when_read() {
        assert_eq!(
            Record::decode(SIGPIPE, &[2]).unwrap_err().to_string(),
            "invalid payload record: the SIGPIPE record holds 2, not 0 or 1"
        );
        assert_eq!(
            Record::decode(SIGPIPE, &[]).unwrap_err().to_string(),
            "invalid payload record: the SIGPIPE record holds 0 bytes, not one byte 0 or 1"
        );
        assert_eq!(Record::decode(0x8042, b"x"), Ok(None));
        // MANIFEST is optional (old readers skip it), sealed, and round-trips.
        let value = Sealed::join(b"{}");
        let manifest = Record::Manifest(Sealed(&value));
        assert_eq!(Record::decode(manifest.tag(), manifest.value()), Ok(Some(manifest)));
        assert_ne!(MANIFEST & OPTIONAL, 0);
        assert_ne!(MANIFEST & SEALED, 0);
        assert_eq!(Record::decode(0x0042, b"x"), Err(FormatError::UnknownRecord(0x0042)));
    }
}
