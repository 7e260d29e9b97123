//! Writing a payload: [`Writer`] collects [`NewEntry`]s and [`Record`]s and lays them out,
//! compressed and checksummed, as docs/FORMAT.md describes. Output depends only on the inputs
//! (reproducible builds): entries are sorted by name, records keep the order they were added in,
//! and nothing is iterated out of a hash map.

use super::layout::{
    checksum, footer_checksum, write_footer, Header, IndexEntry, ENTRY_LEN, FOOTER_LEN, HEADER_LEN,
};
use super::record::{self, Args, Needs, Record, Sealed};
use super::{label, quoted, Codec, FormatError, Kind};

/// An entry to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Module name; empty for the main script.
    pub name: Vec<u8>,
    pub chunkname: Vec<u8>,
    pub kind: Kind,
    /// [`super::flags`] bits.
    pub flags: u16,
    /// The decoded bytes.
    pub data: Vec<u8>,
}

impl NewEntry {
    /// Whether this is the main script.
    pub fn is_main(&self) -> bool {
        super::entry::is_main(&self.name)
    }
}

/// Collects entries and records and lays out a payload. Output depends only on the inputs:
/// entries are sorted by name and nothing is iterated out of a hash map.
#[derive(Debug, Default)]
pub struct Writer {
    entries: Vec<NewEntry>,
    /// (tag, value), in the order they are written. Tests put malformed ones here directly.
    pub(super) records: Vec<(u16, Vec<u8>)>,
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

    /// Adds a record, after those added before it.
    pub fn record(&mut self, record: Record<'_>) {
        self.records.push((record.tag(), record.value().to_vec()));
    }

    /// Adds a module to `require` before the main chunk ([`record::PRELOAD`]).
    pub fn preload(&mut self, name: impl Into<Vec<u8>>) {
        self.record(Record::Preload(&name.into()));
    }

    /// Records that native entry `entry` needs the library entries `libs` loaded first
    /// ([`record::NEEDS`]).
    pub fn needs(&mut self, entry: &[u8], libs: &[&[u8]]) {
        self.record(Record::Needs(Needs(&Needs::join(entry, libs))));
    }

    /// Adds the interpreter chunk and, for a program with a main script, the environment
    /// variable that selects it (see [`record::INTERPRETER`]).
    pub fn interpreter(&mut self, chunk: Vec<u8>, env: Option<&str>) {
        self.record(Record::Interpreter(&chunk));
        if let Some(env) = env {
            self.record(Record::InterpreterEnv(env.as_bytes()));
        }
    }

    /// Adds the file mounted at `key` with permission bits `mode`, and the overlay that lets the
    /// program read it (once, with the first asset; see [`record::ASSETS`]).
    pub fn asset(&mut self, key: &[u8], mode: u32, data: Vec<u8>) {
        let mode_bits = u16::try_from(mode & 0o7777).unwrap_or(0) << super::flags::MODE_SHIFT;
        self.entries.push(NewEntry {
            name: super::asset_name(key),
            chunkname: Vec::new(),
            kind: super::Kind::Asset,
            flags: mode_bits,
            data,
        });
    }

    /// Adds the asset overlay's boot ([`record::ASSETS`]) and the overlay chunk, sealed
    /// ([`record::ASSETS_OVERLAY`]).
    pub fn assets_overlay(&mut self, boot: &[u8], overlay: &[u8]) {
        self.record(Record::Assets(boot));
        self.record(Record::AssetsOverlay(Sealed(&Sealed::join(overlay))));
    }

    /// Adds the bill of materials, sealed ([`record::MANIFEST`]).
    pub fn manifest(&mut self, json: &[u8]) {
        self.record(Record::Manifest(Sealed(&Sealed::join(json))));
    }

    /// Bakes `args` into entry `entry`, or into the program when `entry` is empty (see
    /// [`record::ARGS`]); an argument `...` marks where the user's arguments go.
    pub fn args(&mut self, entry: &[u8], args: &[&[u8]]) {
        self.record(Record::Args(Args(&Args::join(entry, args))));
    }

    /// Names the entry run by default ([`record::DEFAULT_ENTRY`]).
    pub fn default_entry(&mut self, name: &[u8]) {
        self.record(Record::DefaultEntry(name));
    }

    /// Makes the program hermetic ([`record::HERMETIC`]).
    pub fn hermetic(&mut self) {
        self.record(Record::Hermetic);
    }

    /// Names the entry that runs the interpreter ([`record::INTERPRETER_ENTRY`]); the
    /// interpreter itself is [`Writer::interpreter`]'s.
    pub fn interpreter_entry(&mut self, name: &[u8]) {
        self.record(Record::InterpreterEntry(name));
    }

    /// Makes the program ignore SIGPIPE (see [`record::SIGPIPE`]).
    pub fn ignore_sigpipe(&mut self) {
        self.record(Record::Sigpipe { ignore: true });
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
        let compressed = compress_all(&self.entries, self.level)?;
        for (e, compressed) in self.entries.iter().zip(compressed) {
            let name_off = push_string(&mut strings, &e.name, "a module name")?;
            let chunk_off = push_string(&mut strings, &e.chunkname, "a chunk name")?;
            // Keep whichever is smaller: tiny entries often do not compress.
            let (codec, stored) = match compressed {
                Some(c) if c.len() < e.data.len() => (Codec::Zstd, c),
                _ => (Codec::Stored, e.data.clone()),
            };
            IndexEntry {
                name_off,
                name_len: len_u16(&e.name, "a module name")?,
                chunkname_len: len_u16(&e.chunkname, "a chunk name")?,
                chunkname_off: chunk_off,
                kind: e.kind as u8,
                codec: codec as u8,
                flags: e.flags,
                data_off: data.len() as u64,
                stored_len: stored.len() as u64,
                raw_len: e.data.len() as u64,
                checksum: checksum(&stored),
            }
            .write(&mut index);
            totals.raw += e.data.len() as u64;
            totals.stored += stored.len() as u64;
            data.extend_from_slice(&stored);
        }
        let mut records = Vec::new();
        for (tag, value) in &self.records {
            record::write(&mut records, *tag, value)?;
        }
        let to_u32 = |n: usize, what| u32::try_from(n).map_err(|_| FormatError::TooLarge(what));
        let total =
            (HEADER_LEN + index.len() + strings.len() + records.len() + data.len() + FOOTER_LEN)
                as u64;
        let mut out = Vec::with_capacity(total as usize);
        Header {
            entry_count: to_u32(self.entries.len(), "the entry count")?,
            strings_len: to_u32(strings.len(), "the string table")?,
            records_len: to_u32(records.len(), "the records section")?,
            data_len: data.len() as u64,
            total_len: total,
        }
        .write(&mut out);
        out.extend_from_slice(&index);
        out.extend_from_slice(&strings);
        let records_at = out.len();
        out.extend_from_slice(&records);
        let data_start = out.len();
        out.extend_from_slice(&data);
        write_footer(&mut out, records_at, data_start, total);
        totals.payload = total;
        Ok((out, totals))
    }
}

fn len_u16(s: &[u8], what: &'static str) -> Result<u16, FormatError> {
    u16::try_from(s.len()).map_err(|_| FormatError::TooLarge(what))
}

/// Each entry that may be compressed, compressed at `level` (`None` for the others), on as many
/// threads as the machine has when there is enough to share: each frame depends on its entry
/// alone, so the bytes are the same on one core or many.
fn compress_all(entries: &[NewEntry], level: i32) -> Result<Vec<Option<Vec<u8>>>, FormatError> {
    let compress_part = |part: &[NewEntry]| -> Result<Vec<Option<Vec<u8>>>, FormatError> {
        let mut cctx =
            zstd::bulk::Compressor::new(level).map_err(|e| FormatError::Zstd(e.to_string()))?;
        part.iter()
            .map(|e| {
                e.kind
                    .may_compress()
                    .then(|| {
                        cctx.compress(&e.data).map_err(|err| FormatError::Compress {
                            entry: label(&e.name),
                            reason: err.to_string(),
                        })
                    })
                    .transpose()
            })
            .collect()
    };
    let bytes: usize = entries.iter().map(|e| e.data.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || entries.len() < 2 || bytes < 256 * 1024 {
        return compress_part(entries);
    }
    let chunk = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            entries.chunks(chunk).map(|part| scope.spawn(move || compress_part(part))).collect();
        let mut out = Vec::with_capacity(entries.len());
        for part in parts {
            let part = part
                .join()
                .map_err(|_| FormatError::Zstd("a compressor thread panicked".into()))?;
            out.extend(part?);
        }
        Ok(out)
    })
}

fn push_string(strings: &mut Vec<u8>, s: &[u8], what: &'static str) -> Result<u32, FormatError> {
    len_u16(s, what)?;
    let off =
        u32::try_from(strings.len()).map_err(|_| FormatError::TooLarge("the string table"))?;
    strings.extend_from_slice(s);
    Ok(off)
}

/// `payload` (a whole, well-formed payload) with one more record, after its others: the
/// header's `records_len` and `total_len` and the footer follow. Entries' data offsets are
/// relative to the data section, so nothing else moves. How the bundler adds IMAGE_HASH to a
/// payload once it knows where the payload lands in the executable.
pub fn with_record(payload: &[u8], tag: u16, value: &[u8]) -> Result<Vec<u8>, FormatError> {
    let header = Header::read(payload)?;
    let records_at = header
        .records_at()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(FormatError::BadHeader("section lengths exceed the payload"))?;
    let records_end = header
        .data_start()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= payload.len().saturating_sub(FOOTER_LEN))
        .ok_or(FormatError::BadHeader("section lengths exceed the payload"))?;
    let body_end = payload.len() - FOOTER_LEN;
    let mut record = Vec::new();
    record::write(&mut record, tag, value)?;
    let records_len = u32::try_from(u64::from(header.records_len) + record.len() as u64)
        .map_err(|_| FormatError::TooLarge("the records section"))?;
    let total_len = header.total_len + record.len() as u64;
    let mut out = Vec::with_capacity(payload.len() + record.len());
    Header { records_len, total_len, ..header }.write(&mut out);
    out.extend_from_slice(&payload[HEADER_LEN..records_end]);
    out.extend_from_slice(&record);
    let data_start = out.len();
    out.extend_from_slice(&payload[records_end..body_end]);
    write_footer(&mut out, records_at, data_start, total_len);
    Ok(out)
}

/// Recomputes, in place, the checksums of a payload whose bytes were changed: each index
/// entry's from its data (an entry whose data lies outside the data section keeps its own),
/// each sealed record's from its body (the walk stops at a record cut short), then the
/// footer's; the header's and footer's total lengths are left as they are. For tests
/// and fuzzing, which damage a payload on purpose and need its checksums to hold, so that
/// what they exercise is past them.
pub fn reseal(payload: &mut [u8]) -> Result<(), FormatError> {
    let header = Header::read(payload)?;
    let data_start = header
        .data_start()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= payload.len().saturating_sub(FOOTER_LEN))
        .ok_or(FormatError::BadHeader("section lengths exceed the payload"))?;
    let body_end = payload.len() - FOOTER_LEN;
    for i in 0..header.entry_count as usize {
        let at = HEADER_LEN + i * ENTRY_LEN;
        let Some(raw) = payload.get(at..at + ENTRY_LEN).and_then(|r| r.first_chunk()) else {
            break;
        };
        let e = IndexEntry::read(raw);
        let range = usize::try_from(e.data_off)
            .ok()
            .zip(usize::try_from(e.stored_len).ok())
            .and_then(|(off, len)| {
                Some(data_start.checked_add(off)?..data_start + off.checked_add(len)?)
            })
            .filter(|r| r.end <= body_end);
        if let Some(range) = range {
            let sum = checksum(&payload[range]);
            payload[at + ENTRY_LEN - 8..at + ENTRY_LEN].copy_from_slice(&sum.to_le_bytes());
        }
    }
    let records_at = header.records_at().and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let mut at = records_at;
    while let Some(frame) = payload.get(at..data_start).and_then(|r| r.first_chunk::<6>()) {
        let tag = u16::from_le_bytes([frame[0], frame[1]]);
        let len = u32::from_le_bytes([frame[2], frame[3], frame[4], frame[5]]) as usize;
        let start = at + 6;
        let Some(end) = start.checked_add(len).filter(|e| *e <= data_start) else {
            break;
        };
        if tag & record::SEALED != 0 && len >= Sealed::SUM_LEN {
            let sum = checksum(&payload[start + Sealed::SUM_LEN..end]);
            payload[start..start + Sealed::SUM_LEN].copy_from_slice(&sum.to_le_bytes());
        }
        at = end;
    }
    let sum = footer_checksum(&payload[..data_start], records_at);
    payload[body_end..body_end + 8].copy_from_slice(&sum.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::testing::{entry, sample};

    /// Issue 18: a record added to a finished payload reads back after the others, and the
    /// entries, their data and the checksum all still hold.
    #[test]
    fn issue18_with_record_appends_a_record() {
        use crate::format::{record, ImageHash, ImageRegion, Payload, Record};
        let bytes = sample();
        let before = Payload::parse(&bytes).unwrap();
        let regions = [ImageRegion { offset: 0, len: 64, digest: [7; 8], name: b"ELF header" }];
        let value = ImageHash::join(&[9; 32], &regions);
        let after = with_record(&bytes, record::IMAGE_HASH, &value).unwrap();
        assert_eq!(after.len(), bytes.len() + 6 + value.len());
        let p = Payload::parse(&after).unwrap();
        p.verify_all().unwrap();
        let records: Vec<Record> = p.records().collect::<Result<_, _>>().unwrap();
        let Some(Record::ImageHash(h)) = records.last() else { panic!("{records:?}") };
        assert_eq!(h.hash(), Some(&[9; 32]));
        assert_eq!(h.regions().collect::<Result<Vec<_>, _>>().unwrap(), regions);
        assert_eq!(Record::decode(record::IMAGE_HASH, &value), Ok(Some(Record::ImageHash(*h))));
        for (a, b) in before.entries().zip(p.entries()) {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!((a.name, a.decode().unwrap()), (b.name, b.decode().unwrap()));
        }
        // A value too short for a hash, or with a region cut short, is refused by verify_all.
        for bad in [&value[..31], &value[..40]] {
            let err = Record::ImageHash(ImageHash(bad)).check().unwrap_err().to_string();
            assert!(err.contains("IMAGE_HASH"), "{err}");
        }
    }

    /// The hex example of docs/FORMAT.md, byte for byte: the spec cannot drift from the code.
    #[test]
    fn matches_the_documented_example() {
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(\"hi\")\n"));
        w.add(entry("m", "@./m.lua", Kind::LuaSource, b"return 1\n"));
        w.preload("m");
        let (bytes, _) = w.finish().unwrap();
        let doc = include_str!("../../../docs/FORMAT.md");
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
    fn duplicates_are_rejected() {
        let mut w = Writer::new(3);
        w.add(entry("a", "@./a.lua", Kind::LuaSource, b"1"));
        w.add(entry("a", "@./a/init.lua", Kind::LuaSource, b"2"));
        assert_eq!(w.finish().unwrap_err(), FormatError::DuplicateName("'a'".into()));
    }
}
