//! Reading a payload: [`Payload::parse`] with the start-up checks (the runtime parses its
//! payload on every run, so this is on the start-up path and kept to what docs/FORMAT.md,
//! "Verification", lists for start-up: the fixed fields and the footer's checksum, which covers
//! the header, index, strings and records, never the entries' data), then lazy lookups of
//! entries and what the records say. Each entry is checked when it is read
//! ([`Payload::entry`]), its bytes against its own checksum before any use
//! ([`Entry::verified`]), and decoded only when loaded.

use std::cmp::Ordering;

use super::entry::is_main;
use super::layout::{self, declared_len, entry_bytes, footer_checksum, name_fields, slice, Header};
use super::layout::{IndexEntry, ENTRY_LEN, FOOTER_LEN, HEADER_LEN, MAX_RAW_LEN};
use super::record::{Record, Records};
use super::{escaped, label, quoted, Codec, Entry, FormatError, Kind};

/// A parsed payload: header checked, the checksum of header, index, strings and records
/// matched. Each entry's bytes are verified against its own checksum when first used, and
/// decoded lazily.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    pub(super) entry_count: usize,
    index: &'a [u8],
    strings: &'a [u8],
    records: &'a [u8],
    data: &'a [u8],
    pub(super) checksum: u64,
    pub(super) computed: u64,
}

/// An entry of an asset directory: its name and whether it is a directory itself.
pub type Child<'a> = (&'a [u8], bool);

impl<'a> Payload<'a> {
    /// Parses and verifies a payload that spans exactly `bytes`: structure, and the checksum of
    /// everything before the data section (header, index, strings, records). This is the only
    /// way the runtime reads a payload; its cost grows with the index, not with the entries'
    /// data. Entries are checked when read ([`Payload::entry`]), their bytes against their own
    /// checksum before any use ([`Entry::verified`], which [`Entry::decode`] calls), and
    /// [`Payload::verify_all`] runs every check on everything at once.
    ///
    /// That the index is sorted by name ([`Payload::check_order`]) is not checked here: the
    /// writer sorts it and the checksum covers it, so a damaged file cannot unsort it unseen,
    /// and a crafted one (its checksum recomputed) is a tampered file, which the checksum was
    /// never meant to catch (signatures are). On an unsorted index every read stays
    /// bounds-checked: a search may miss an entry, never read outside the payload.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let p = Self::parse_unverified(bytes)?;
        if p.checksum != p.computed {
            return Err(FormatError::ChecksumMismatch { stored: p.checksum, computed: p.computed });
        }
        Ok(p)
    }

    /// Parses the structure without insisting on the checksum, for `bundle inspect` to show
    /// what a damaged payload claims to hold ([`Payload::checksum_ok`] tells). Nothing read this
    /// way may be loaded as code.
    pub fn parse_unverified(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let header = Header::read(bytes)?;
        let total_len = header.total_len;
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
        let index_len = u64::from(header.entry_count) * ENTRY_LEN as u64;
        let (strings_len, records_len) = (header.strings_len.into(), header.records_len.into());
        let sum = [index_len, strings_len, records_len, header.data_len]
            .into_iter()
            .try_fold((HEADER_LEN + FOOTER_LEN) as u64, u64::checked_add);
        if sum != Some(total_len) {
            return Err(FormatError::BadHeader(
                "section lengths do not add up to the total length",
            ));
        }
        let body_len = total_len - FOOTER_LEN as u64;
        let stored = layout::u64_at(bytes, body_len as usize, "checksum")?;
        let data_start = total_len - FOOTER_LEN as u64 - header.data_len;
        let records_at = (HEADER_LEN as u64 + index_len + strings_len) as usize;
        let computed =
            footer_checksum(slice(bytes, 0, data_start, "checksummed bytes")?, records_at);
        let mut at = HEADER_LEN as u64;
        let mut take = |len: u64, what| {
            let s = slice(bytes, at, len, what);
            at += len;
            s
        };
        Ok(Payload {
            entry_count: header.entry_count as usize,
            index: take(index_len, "index")?,
            strings: take(strings_len, "strings")?,
            records: take(records_len, "records")?,
            data: take(header.data_len, "data")?,
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

    /// Whether the stored checksum matches the header, index, strings and records (always true
    /// after [`Payload::parse`]); entries' data have their own ([`Entry::verified`]).
    pub fn checksum_ok(&self) -> bool {
        self.checksum == self.computed
    }

    /// Offset of the data section from the start of the payload.
    pub(super) fn data_start(&self) -> u64 {
        (HEADER_LEN + self.index.len() + self.strings.len() + self.records.len()) as u64
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
        let raw = IndexEntry::read(entry_bytes(self.index, i)?);
        let kind =
            Kind::try_from(raw.kind).map_err(|_| bad(format!("unknown kind {}", raw.kind)))?;
        let codec =
            Codec::try_from(raw.codec).map_err(|_| bad(format!("unknown codec {}", raw.codec)))?;
        let flags = raw.flags;
        let known = super::flags::known(kind);
        if flags & !known != 0 {
            return Err(bad(format!("unknown flags are set ({:#06x})", flags & !known)));
        }
        if kind == Kind::Asset && name.first() != Some(&super::ASSET_PREFIX) {
            return Err(bad("an asset's name must start with '?'".into()));
        }
        let IndexEntry { data_off, stored_len, raw_len, checksum, .. } = raw;
        if raw_len > MAX_RAW_LEN {
            return Err(bad(format!("its decoded length, {raw_len} bytes, exceeds 4 GiB")));
        }
        if codec == Codec::Stored && raw_len != stored_len {
            return Err(bad(format!(
                "it is stored as is, yet its decoded length ({raw_len} bytes) differs from its \
                 stored length ({stored_len} bytes)"
            )));
        }
        let (chunk_off, chunk_len) = (raw.chunkname_off, raw.chunkname_len);
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
        let offset = self.data_start() + data_off;
        Ok(Entry { name, chunkname, kind, codec, flags, stored, raw_len, offset, checksum })
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
        let (off, len) = name_fields(raw)?;
        let off = usize::try_from(off).ok()?;
        self.strings.get(off..off.checked_add(len.into())?)
    }

    /// The name of entry `i`, or why it cannot be read.
    fn name_at(&self, i: usize) -> Result<&'a [u8], FormatError> {
        let bad = |reason: String| FormatError::BadEntry { index: i, reason };
        if i >= self.entry_count {
            return Err(bad(format!("the index has {} entries", self.entry_count)));
        }
        let raw = IndexEntry::read(entry_bytes(self.index, i)?);
        let (off, len) = (raw.name_off, raw.name_len);
        slice(self.strings, off.into(), len.into(), "entry name").map_err(|_| {
            bad(format!(
                "its name ({len} bytes at offset {off}) lies outside the string table ({} bytes)",
                self.strings.len()
            ))
        })
    }

    /// That the index is strictly sorted by name, which also rules out two entries of one name
    /// (two main scripts among them): binary search depends on it. Part of
    /// [`Payload::verify_all`]; not of [`Payload::parse`] (see there why). Per entry, two fields
    /// read and one comparison of names.
    pub fn check_order(&self) -> Result<(), FormatError> {
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

    /// The main script: the entry with the empty name, which sorts first. `None` for an
    /// interpreter build.
    pub fn main(&self) -> Result<Option<Entry<'a>>, FormatError> {
        if self.entry_count == 0 {
            return Ok(None);
        }
        let first = self.entry(0)?;
        Ok(first.is_main().then_some(first))
    }

    /// The module called `name`, by binary search of the sorted index. The main script, library
    /// and asset entries are not modules ([`Entry::is_module`]): none is ever found here, so
    /// `require` never loads an asset however it is named.
    pub fn module(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        Ok(self.lookup(name)?.filter(Entry::is_module))
    }

    /// Any entry called `name` but the main script.
    pub(super) fn lookup(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        if is_main(name) {
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

    /// The native module whose library serves the [`super::flags::SHARED`] entry `entry`: an
    /// entry that holds code itself, never another shared one. The name is read from `entry`'s
    /// data, verified first ([`Entry::verified`]).
    pub fn library_owner(&self, entry: &Entry<'a>) -> Result<Entry<'a>, FormatError> {
        let bad = |reason| FormatError::BadShared { name: escaped(entry.name), reason };
        if entry.kind != Kind::Native || entry.codec != Codec::Stored {
            return Err(bad("is not a stored native entry"));
        }
        match self.module(entry.verified()?)? {
            Some(owner) if owner.kind == Kind::Native && !owner.is_shared() => Ok(owner),
            _ => Err(bad("names no native module holding a library")),
        }
    }

    /// Whether any module's name starts with `prefix` (`a.b.` for the hint after "module 'a.b.c'
    /// not found"): a binary search for the first name not below it, then a short walk past
    /// entries that are not modules.
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
            if e.is_module() && e.name.len() > prefix.len() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The asset mounted at `key` (a normalised mount: `public/style.css`, `/etc/app.conf`).
    pub fn asset(&self, key: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        Ok(self.lookup(&super::asset_name(key))?.filter(|e| e.kind == Kind::Asset))
    }

    /// The index of the first entry whose name is not below `name`.
    fn lower_bound(&self, name: &[u8]) -> Result<usize, FormatError> {
        let (mut lo, mut hi) = (0, self.entry_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.name_of(mid)? < name {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Whether any asset has a relative mount, and whether any has an absolute one: two binary
    /// searches, whatever the number of assets (the host answers this at start-up).
    pub fn asset_roots(&self) -> Result<(bool, bool), FormatError> {
        let asset_at = |i: usize| -> Result<Option<&'a [u8]>, FormatError> {
            if i >= self.entry_count {
                return Ok(None);
            }
            let name = self.name_of(i)?;
            Ok(name.strip_prefix(&[super::ASSET_PREFIX]))
        };
        let absolute = asset_at(self.lower_bound(b"?/")?)?.is_some_and(|k| k.starts_with(b"/"));
        // Relative keys sort on both sides of the absolute ones ('.' < '/' < '0').
        let before = asset_at(self.lower_bound(b"?")?)?.is_some_and(|k| !k.starts_with(b"/"));
        let after = asset_at(self.lower_bound(b"?0")?)?.is_some();
        Ok((before || after, absolute))
    }

    /// The immediate children of the asset directory `dir` (`public`; `""` for the top of the
    /// relative mounts, `/` for that of the absolute ones), sorted by name, each with whether
    /// it is a directory; `None` when no asset lies under `dir`. Costs a binary search and a
    /// walk over the assets under `dir`, not over all of them.
    pub fn asset_children(&self, dir: &[u8]) -> Result<Option<Vec<Child<'a>>>, FormatError> {
        let mut prefix = super::asset_name(dir);
        if !dir.is_empty() && !dir.ends_with(b"/") {
            prefix.push(b'/');
        }
        let mut out: Vec<Child<'a>> = Vec::new();
        let mut i = self.lower_bound(&prefix)?;
        while i < self.entry_count {
            let name = self.name_of(i)?;
            let Some(rest) = name.strip_prefix(prefix.as_slice()) else { break };
            i += 1;
            // The top of the relative mounts excludes the absolute ones, and the other way round.
            if rest.is_empty() || (dir.is_empty() && rest.starts_with(b"/")) {
                continue;
            }
            let (child, is_dir) = match rest.iter().position(|b| *b == b'/') {
                Some(slash) => (&rest[..slash], true),
                None => (rest, false),
            };
            if child.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some((last, last_dir)) if *last == child => *last_dir |= is_dir,
                _ => out.push((child, is_dir)),
            }
        }
        // `a/b-x` sorts before `a/b/c`: the children come out by key, not by name.
        out.sort_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
        out.dedup_by(|later, first| later.0 == first.0);
        Ok((!out.is_empty()).then_some(out))
    }

    /// The entry point called `name` (`web`, stored as `/web`): a Lua chunk, found by binary
    /// search.
    pub fn entry_point(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        if name.is_empty() {
            return Ok(None);
        }
        let found = self.lookup(&super::entry_point_name(name))?;
        Ok(found.filter(|e| e.entry_name().is_some()))
    }

    /// The names of the entry points (without the `/`), sorted: a binary search to where they
    /// start and a walk over them, not over the whole index.
    pub fn entry_points(&self) -> Result<Vec<&'a [u8]>, FormatError> {
        let mut out = Vec::new();
        let mut i = self.lower_bound(&[super::ENTRY_PREFIX])?;
        while i < self.entry_count {
            let name = self.name_of(i)?;
            if name.first() != Some(&super::ENTRY_PREFIX) {
                break;
            }
            let e = self.entry(i)?;
            if let Some(n) = e.entry_name() {
                out.push(n);
            }
            i += 1;
        }
        Ok(out)
    }

    /// The packed shared library called `name` (an entry with the [`super::flags::LIBRARY`] bit).
    pub fn library(&self, name: &[u8]) -> Result<Option<Entry<'a>>, FormatError> {
        Ok(self.lookup(name)?.filter(Entry::is_library))
    }

    // -----------------------------------------------------------------------------------------
    // What the records say.

    /// The records section, in order, unknown optional records skipped; it ends after an error.
    pub fn records(&self) -> Records<'a> {
        Records::new(self.records)
    }

    /// What `pick` takes from the first record it takes something from.
    fn first<T>(&self, pick: impl Fn(Record<'a>) -> Option<T>) -> Result<Option<T>, FormatError> {
        for r in self.records() {
            if let Some(found) = pick(r?) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Module names to require before the main chunk, in order.
    pub fn preloads(&self) -> Result<Vec<&'a [u8]>, FormatError> {
        self.records()
            .filter_map(|r| match r {
                Ok(Record::Preload(name)) => Some(Ok(name)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    }

    /// The libraries native entry `name` needs loaded first, in order.
    pub fn needs(&self, name: &[u8]) -> Result<Vec<&'a [u8]>, FormatError> {
        let needs = self.first(|r| match r {
            Record::Needs(n) if n.entry() == name => Some(n),
            _ => None,
        })?;
        Ok(needs.map(|n| n.libraries().filter(|l| !l.is_empty()).collect()).unwrap_or_default())
    }

    /// Whether the program asked for SIGPIPE to be ignored.
    pub fn ignore_sigpipe(&self) -> Result<bool, FormatError> {
        let ignore = self.first(|r| match r {
            Record::Sigpipe { ignore } => Some(ignore),
            _ => None,
        })?;
        Ok(ignore == Some(true))
    }

    /// The interpreter chunk, if the executable has one.
    pub fn interpreter(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.first(|r| match r {
            Record::Interpreter(chunk) => Some(chunk),
            _ => None,
        })
    }

    /// The asset overlay's boot chunk ([`super::record::ASSETS`]), present when the program has
    /// assets.
    pub fn assets_boot(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.first(|r| match r {
            Record::Assets(boot) => Some(boot),
            _ => None,
        })
    }

    /// The asset overlay's chunk ([`super::record::ASSETS_OVERLAY`]), sealed: not verified by
    /// [`Payload::parse`], so [`super::Sealed::verified`] before it is used.
    pub fn assets_overlay(&self) -> Result<Option<super::Sealed<'a>>, FormatError> {
        self.first(|r| match r {
            Record::AssetsOverlay(o) => Some(o),
            _ => None,
        })
    }

    /// The baked arguments of entry `entry` (empty: the main script): its own ARGS record's,
    /// else the program's default (the ARGS record for the empty name), else `None`.
    pub fn args_for(&self, entry: &[u8]) -> Result<Option<Vec<&'a [u8]>>, FormatError> {
        let (mut own, mut default) = (None, None);
        for r in self.records() {
            if let Record::Args(a) = r? {
                if a.entry() == entry && own.is_none() {
                    own = Some(a);
                } else if a.entry().is_empty() && default.is_none() {
                    default = Some(a);
                }
            }
        }
        Ok(own.or(default).map(|a| a.args().collect()))
    }

    /// The name of the entry run when neither the executable's name nor its first argument
    /// names one.
    pub fn default_entry(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.first(|r| match r {
            Record::DefaultEntry(name) => Some(name),
            _ => None,
        })
    }

    /// Whether the program is hermetic (a HERMETIC record).
    pub fn hermetic(&self) -> Result<bool, FormatError> {
        Ok(self.first(|r| matches!(r, Record::Hermetic).then_some(()))?.is_some())
    }

    /// The name of the entry that runs the interpreter, if any.
    pub fn interpreter_entry(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.first(|r| match r {
            Record::InterpreterEntry(name) => Some(name),
            _ => None,
        })
    }

    /// The environment variable that selects the interpreter over the main script, if any.
    pub fn interpreter_env(&self) -> Result<Option<&'a [u8]>, FormatError> {
        self.first(|r| match r {
            Record::InterpreterEnv(name) => Some(name),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::flags;
    use crate::format::testing::{entry, field, reseal, sample};
    use crate::format::{checksum, NewEntry, Writer};

    #[test]
    fn issue14_an_asset_is_never_a_module() {
        let mut w = Writer::new(3);
        w.asset(b"config", 0o640, b"{}".to_vec());
        w.assets_overlay(b"boot", b"overlay");
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        assert!(p.module(b"config").unwrap().is_none());
        let asset = p.asset(b"config").unwrap().expect("the asset");
        assert_eq!((asset.asset_key(), asset.mode()), (Some(b"config".as_slice()), Some(0o640)));
        assert_eq!(p.assets_boot(), Ok(Some(b"boot".as_slice())));
        let overlay = p.assets_overlay().unwrap().unwrap();
        assert_eq!(overlay.verified("ASSETS_OVERLAY"), Ok(b"overlay".as_slice()));
    }

    /// A sealed record's body (the asset overlay, the MANIFEST) is outside the footer's
    /// checksum: damage there passes `parse` and is caught by `Sealed::verified` and
    /// `verify_all`, naming the record; damage to its tag, length or own checksum fails `parse`.
    #[test]
    fn issue19_sealed_record_bodies_are_verified_on_their_own() {
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(1)"));
        w.asset(b"config", 0o640, b"{}".to_vec());
        w.assets_overlay(b"boot", b"the overlay chunk");
        w.manifest(b"{\"schema\":1}");
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        p.verify_all().unwrap();
        // Without sealed records the footer's checksum is the XXH3-64 of what precedes the data.
        let plain = sample();
        let data_start = Payload::parse(&plain).unwrap().data_start() as usize;
        let body_end = plain.len() - FOOTER_LEN;
        assert_eq!(checksum(&plain[..data_start]).to_le_bytes(), plain[body_end..body_end + 8]);
        let find = |body: &[u8]| bytes.windows(body.len()).position(|w| w == body).unwrap();
        for (record, body) in
            [("ASSETS_OVERLAY", &b"the overlay chunk"[..]), ("MANIFEST", b"schema")]
        {
            let at = find(body);
            let mut damaged = bytes.clone();
            damaged[at + 2] ^= 1;
            let p = Payload::parse(&damaged).expect("start-up does not hash the body");
            let err = p.verify_all().unwrap_err();
            assert!(
                matches!(err, FormatError::RecordDamaged { record: r, .. } if r == record),
                "{err}"
            );
            assert!(err.to_string().starts_with(&format!("record {record} is damaged")), "{err}");
            // Resealed, it reads again.
            reseal(&mut damaged);
            Payload::parse(&damaged).unwrap().verify_all().unwrap();
            // The record's own checksum, and its length, are covered by the footer's.
            let body_at = if record == "MANIFEST" { at - 2 } else { at };
            for field_at in [body_at - 1, body_at - 9] {
                let mut damaged = bytes.clone();
                damaged[field_at] ^= 1;
                assert!(
                    matches!(Payload::parse(&damaged), Err(FormatError::ChecksumMismatch { .. })),
                    "{record}: byte {field_at}"
                );
            }
        }
        let overlay = p.assets_overlay().unwrap().unwrap();
        assert_eq!(overlay.verified("ASSETS_OVERLAY"), Ok(&b"the overlay chunk"[..]));
    }

    /// The hint for `require "conf.x"` is about modules: an asset under `conf.` is not one.
    #[test]
    fn issue14_an_asset_is_not_a_module_for_the_hint() {
        let mut w = Writer::new(3);
        w.asset(b"conf.json", 0o644, b"{}".to_vec());
        w.add(entry("util.str", "@./util/str.lua", Kind::LuaSource, b"return 1"));
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        assert!(!p.has_module_under(b"conf.").unwrap());
        assert!(p.has_module_under(b"util.").unwrap());
    }

    /// Issue 15: an asset directory lists its immediate children, sorted by name, directories
    /// once; the relative and absolute mounts are separate trees.
    #[test]
    fn issue15_asset_directories_list_their_children() {
        let mut w = Writer::new(3);
        for key in ["a/b/c", "a/b-x", "a/b/d", "a/e", "/etc/x.conf", "top"] {
            w.asset(key.as_bytes(), 0o644, key.as_bytes().to_vec());
        }
        w.assets_overlay(b"boot", b"overlay");
        w.interpreter(b"-- interp".to_vec(), None);
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        p.verify_all().unwrap();
        let names = |dir: &[u8]| p.asset_children(dir).unwrap();
        let a: Vec<(&[u8], bool)> = vec![(b"b", true), (b"b-x", false), (b"e", false)];
        assert_eq!(names(b"a"), Some(a));
        let top: Vec<(&[u8], bool)> = vec![(b"a", true), (b"top", false)];
        assert_eq!(names(b""), Some(top));
        let abs: Vec<(&[u8], bool)> = vec![(b"etc", true)];
        assert_eq!(names(b"/"), Some(abs));
        assert_eq!(names(b"a/e"), None, "a file has no children");
        assert_eq!(names(b"nothing"), None);
        assert_eq!(p.asset_roots().unwrap(), (true, true));
        assert!(p.asset(b"a/b").unwrap().is_none(), "a directory is not a file");
    }

    /// Issue 17: entry points are `/NAME` Lua chunks, found by name, listed in order, never
    /// modules; what the records say about them.
    #[test]
    fn issue17_entry_points_and_their_records() {
        let mut w = Writer::new(3);
        w.add(entry("worker", "@w.lua", Kind::LuaSource, b"return 1"));
        w.add(entry("/worker", "@worker.lua", Kind::LuaSource, b"print('w')"));
        w.add(entry("/web", "@web.lua", Kind::LuaBytecode, b"\x1bLJ\x02web"));
        w.add(entry("/release", "@release.lua", Kind::LuaSource, b"print('r')"));
        w.add(entry("a.b", "@a/b.lua", Kind::LuaSource, b"return 2"));
        w.asset(b"/etc/app.conf", 0o644, b"x".to_vec());
        w.assets_overlay(b"boot", b"overlay");
        w.args(b"", &[b"--all"]);
        w.args(b"web", &[b"--port", b"...", b"${PORT}"]);
        w.default_entry(b"web");
        w.interpreter(b"-- interp".to_vec(), None);
        w.interpreter_entry(b"lua");
        w.hermetic();
        let (bytes, _) = w.finish().unwrap();
        let p = Payload::parse(&bytes).unwrap();
        p.verify_all().unwrap();
        assert_eq!(p.entry_points().unwrap(), [&b"release"[..], b"web", b"worker"]);
        let web = p.entry_point(b"web").unwrap().expect("the web entry");
        assert_eq!((web.entry_name(), web.chunkname), (Some(&b"web"[..]), &b"@web.lua"[..]));
        assert!(!web.is_module() && !web.is_main());
        assert_eq!(p.entry_point(b"worker").unwrap().unwrap().chunkname, b"@worker.lua");
        assert_eq!(p.entry_point(b"nope").unwrap(), None);
        assert_eq!(p.entry_point(b"").unwrap(), None);
        // The module `worker` and the entry `/worker` are two things.
        assert_eq!(p.module(b"worker").unwrap().unwrap().chunkname, b"@w.lua");
        assert_eq!(p.module(b"/worker").unwrap(), None, "an entry point is not a module");
        assert!(p.module(b"/web").unwrap().is_none());
        assert_eq!(p.main().unwrap(), None);
        // Baked arguments: the entry's own, else the program's.
        let own: Vec<&[u8]> = vec![b"--port", b"...", b"${PORT}"];
        assert_eq!(p.args_for(b"web").unwrap(), Some(own));
        assert_eq!(p.args_for(b"worker").unwrap(), Some(vec![&b"--all"[..]]));
        assert_eq!(p.args_for(b"").unwrap(), Some(vec![&b"--all"[..]]));
        assert_eq!(p.default_entry().unwrap(), Some(&b"web"[..]));
        assert_eq!(p.interpreter_entry().unwrap(), Some(&b"lua"[..]));
        assert!(p.hermetic().unwrap());
        // A payload without them says so.
        let plain = sample();
        let p = Payload::parse(&plain).unwrap();
        assert!(p.entry_points().unwrap().is_empty());
        assert_eq!((p.args_for(b"").unwrap(), p.default_entry().unwrap()), (None, None));
        assert_eq!((p.hermetic().unwrap(), p.interpreter_entry().unwrap()), (false, None));
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.len(), 3);
        let main = p.main().unwrap().unwrap();
        assert!(main.is_main());
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

    /// Issue 19: a flip in the header, index, strings, records or footer fails `parse` (at
    /// start-up); a flip in an entry's data passes it, fails that entry's verification (before
    /// any use of its bytes, decoding included) and `verify_all`, and leaves every other entry
    /// readable.
    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = sample();
        let p = Payload::parse(&bytes).unwrap();
        let (data_start, data_end) = (p.data_start() as usize, bytes.len() - FOOTER_LEN);
        let owners: Vec<Entry> = p.entries().map(Result::unwrap).collect();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[i] ^= 1 << bit;
                let at = format!("flip of bit {bit} in byte {i}");
                if !(data_start..data_end).contains(&i) {
                    assert!(Payload::parse(&damaged).is_err(), "{at} went unnoticed at start-up");
                    continue;
                }
                let p = Payload::parse(&damaged).expect("data is not verified at start-up");
                let hit = owners
                    .iter()
                    .position(|e| {
                        (e.offset..e.offset + e.stored.len() as u64).contains(&(i as u64))
                    })
                    .expect("the entries' data fills the data section");
                for (n, e) in p.entries().map(Result::unwrap).enumerate() {
                    if n != hit {
                        assert_eq!(e.verified(), Ok(owners[n].stored), "{at}");
                        continue;
                    }
                    let err = || FormatError::EntryDamaged {
                        entry: label(e.name),
                        stored: e.checksum,
                        computed: checksum(e.stored),
                    };
                    assert_eq!(e.verified(), Err(err()), "{at}");
                    assert_eq!(e.decode(), Err(err()), "{at}");
                    assert_eq!(p.verify_all(), Err(err()), "{at}");
                }
            }
        }
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

    // ---- Issue 13, item 17: what `parse` refuses (the order of the index: `verify_all`, since
    // issue 19; the checksum covers it at start-up).

    #[test]
    fn issue13_verify_all_refuses_an_unsorted_index() {
        // sample(): (main), a, b.c. Swap the last two index entries.
        let mut bytes = sample();
        let (one, two) = (field(1, 0), field(2, 0));
        let saved = bytes[one..two].to_vec();
        bytes.copy_within(two..two + ENTRY_LEN, one);
        bytes[two..two + ENTRY_LEN].copy_from_slice(&saved);
        // Damage that unsorts it fails the checksum at start-up...
        assert!(matches!(
            Payload::parse(&bytes).unwrap_err(),
            FormatError::ChecksumMismatch { .. }
        ));
        // ... and an index unsorted with its checksum made to match is refused by verify_all
        // (`bundle verify`, `bundle inspect`), not at start-up.
        reseal(&mut bytes);
        let p = Payload::parse(&bytes).expect("the order is not checked at start-up");
        let err = p.verify_all().unwrap_err();
        assert_eq!(
            err,
            FormatError::Unsorted { index: 2, name: "'a'".into(), previous: "'b.c'".into() }
        );
        assert_eq!(
            err.to_string(),
            "payload index is not sorted by name: entry 2 ('a') comes after 'b.c'"
        );
        assert_eq!(p.check_order().unwrap_err(), err);
        // Searches stay in bounds: 'a' is missed (it sorts before where it stands), no panic.
        assert_eq!(p.module(b"b.c").unwrap().unwrap().name, b"b.c");
        let _ = p.module(b"a");
    }

    #[test]
    fn issue13_verify_all_refuses_duplicate_names() {
        let verified = |bytes: &[u8]| Payload::parse(bytes).unwrap().verify_all().unwrap_err();
        // Entry 2 (b.c) renamed to entry 1's name (a).
        let mut bytes = sample();
        let name = bytes[field(1, 0)..field(1, 6)].to_vec();
        bytes[field(2, 0)..field(2, 6)].copy_from_slice(&name);
        reseal(&mut bytes);
        assert_eq!(verified(&bytes), FormatError::DuplicateName("'a'".into()));
        // Two main scripts: entry 1's name made empty.
        let mut bytes = sample();
        bytes[field(1, 4)..field(1, 6)].copy_from_slice(&0u16.to_le_bytes());
        reseal(&mut bytes);
        assert_eq!(verified(&bytes).to_string(), "duplicate entry name '' (the main script)");
    }

    #[test]
    fn issue13_a_name_outside_the_string_table_is_an_error_when_read() {
        let mut bytes = sample();
        bytes[field(2, 0)..field(2, 4)].copy_from_slice(&1000u32.to_le_bytes());
        reseal(&mut bytes);
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.entry(2).unwrap_err(), p.verify_all().unwrap_err());
        assert_eq!(
            p.verify_all().unwrap_err().to_string(),
            "payload index entry 2 is invalid: its name (3 bytes at offset 1000) lies outside \
             the string table (31 bytes)"
        );
    }
}
