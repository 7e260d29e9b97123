//! Where every byte of a payload sits (docs/FORMAT.md, "Layout"): the magics, the version, the
//! sizes of the fixed parts, the header, one index entry and the footer field by field, and the
//! bounds-checked little-endian reads everything else in [`super`] goes through.
//!
//! The header and the index entry are each described once, as a struct whose `read` and `write`
//! sit side by side: the reader ([`super::read`]) and the writer ([`super::write`]) share them,
//! so the two cannot disagree about an offset.

use super::FormatError;

/// First 8 bytes of a payload.
pub const MAGIC: [u8; 8] = *b"LJBUNDLE";
/// Last 8 bytes of a payload.
pub const END_MAGIC: [u8; 8] = *b"LJBNDEND";
/// The only format version this code reads and writes.
pub const VERSION: u16 = 2;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 48;
/// Size of one index entry.
pub const ENTRY_LEN: usize = 48;
/// Size of the footer: checksum, total length, end magic.
pub const FOOTER_LEN: usize = 24;
/// Name of the ELF section that carries the payload.
pub const SECTION_NAME: &str = ".bundle";
/// Largest raw (decompressed) entry size accepted.
pub const MAX_RAW_LEN: u64 = 1 << 32;

// ---------------------------------------------------------------------------------------------
// Bounds-checked little-endian reads: nothing in the format module indexes payload bytes
// without one of these.

/// `len` bytes of `buf` from `offset`, or [`FormatError::Truncated`] naming `what`.
pub(super) fn slice<'a>(
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

pub(super) fn array<const N: usize>(
    buf: &[u8],
    offset: usize,
    what: &'static str,
) -> Result<[u8; N], FormatError> {
    let bytes = slice(buf, offset as u64, N as u64, what)?;
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    Ok(out)
}

pub(super) fn u16_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u16, FormatError> {
    array(buf, offset, what).map(u16::from_le_bytes)
}

pub(super) fn u32_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u32, FormatError> {
    array(buf, offset, what).map(u32::from_le_bytes)
}

pub(super) fn u64_at(buf: &[u8], offset: usize, what: &'static str) -> Result<u64, FormatError> {
    array(buf, offset, what).map(u64::from_le_bytes)
}

// ---------------------------------------------------------------------------------------------
// Header.

/// The header's variable fields (docs/FORMAT.md, "Header"); the others are fixed: magic,
/// version, `header_len`, and the flags and reserved fields, zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub entry_count: u32,
    pub strings_len: u32,
    pub records_len: u32,
    pub data_len: u64,
    pub total_len: u64,
}

impl Header {
    /// Reads the header at the start of `bytes` and checks its fixed fields, in the order a
    /// reader meets them: magic, version, header length, flags, reserved.
    pub fn read(bytes: &[u8]) -> Result<Header, FormatError> {
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
        let entry_count = u32_at(bytes, 16, "entry count")?;
        let strings_len = u32_at(bytes, 20, "strings length")?;
        let records_len = u32_at(bytes, 24, "records length")?;
        if u32_at(bytes, 28, "reserved")? != 0 {
            return Err(FormatError::BadHeader("reserved field is not zero"));
        }
        let data_len = u64_at(bytes, 32, "data length")?;
        let total_len = u64_at(bytes, 40, "total length")?;
        Ok(Header { entry_count, strings_len, records_len, data_len, total_len })
    }

    /// Where the data section starts: the bytes before it (header, index, strings, records)
    /// are what the footer's checksum covers. `None` if that overflows.
    pub fn data_start(&self) -> Option<u64> {
        self.records_at()?.checked_add(self.records_len.into())
    }

    /// Where the records section starts. `None` if that overflows.
    pub fn records_at(&self) -> Option<u64> {
        (HEADER_LEN as u64)
            .checked_add(u64::from(self.entry_count).checked_mul(ENTRY_LEN as u64)?)?
            .checked_add(self.strings_len.into())
    }

    /// Appends the [`HEADER_LEN`] bytes of the header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // flags
        out.extend_from_slice(&self.entry_count.to_le_bytes());
        out.extend_from_slice(&self.strings_len.to_le_bytes());
        out.extend_from_slice(&self.records_len.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // reserved
        out.extend_from_slice(&self.data_len.to_le_bytes());
        out.extend_from_slice(&self.total_len.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Index entry.

/// The [`ENTRY_LEN`] bytes of entry `i` of the index `index`.
pub(super) fn entry_bytes(index: &[u8], i: usize) -> Result<&[u8; ENTRY_LEN], FormatError> {
    let at = i.saturating_mul(ENTRY_LEN);
    index.get(at..).and_then(<[u8]>::first_chunk).ok_or(FormatError::Truncated {
        what: "index entry",
        offset: at as u64,
        needed: ENTRY_LEN as u64,
        available: index.len() as u64,
    })
}

/// The name fields of an index entry starting at `raw`: offset and length in the string table.
/// What searches and the start-up check of the order read, so kept apart from
/// [`IndexEntry::read`]; `None` if `raw` is shorter than the two fields.
pub(super) fn name_fields(raw: &[u8]) -> Option<(u32, u16)> {
    let &[a, b, c, d, e, f] = raw.first_chunk::<6>()?;
    Some((u32::from_le_bytes([a, b, c, d]), u16::from_le_bytes([e, f])))
}

/// One index entry's fields as stored (docs/FORMAT.md, "Index entry"), not yet checked: the
/// reader turns them into an [`super::Entry`], the writer fills them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IndexEntry {
    pub name_off: u32,
    pub name_len: u16,
    pub chunkname_len: u16,
    pub chunkname_off: u32,
    pub kind: u8,
    pub codec: u8,
    pub flags: u16,
    pub data_off: u64,
    pub stored_len: u64,
    pub raw_len: u64,
    /// XXH3-64 of the stored bytes.
    pub checksum: u64,
}

impl IndexEntry {
    /// Reads the fields of the entry whose [`ENTRY_LEN`] bytes are `raw`.
    pub fn read(raw: &[u8; ENTRY_LEN]) -> IndexEntry {
        let mut at = Fields(raw);
        IndexEntry {
            name_off: u32::from_le_bytes(at.take()),
            name_len: u16::from_le_bytes(at.take()),
            chunkname_len: u16::from_le_bytes(at.take()),
            chunkname_off: u32::from_le_bytes(at.take()),
            kind: u8::from_le_bytes(at.take()),
            codec: u8::from_le_bytes(at.take()),
            flags: u16::from_le_bytes(at.take()),
            data_off: u64::from_le_bytes(at.take()),
            stored_len: u64::from_le_bytes(at.take()),
            raw_len: u64::from_le_bytes(at.take()),
            checksum: u64::from_le_bytes(at.take()),
        }
    }

    /// Appends the [`ENTRY_LEN`] bytes of the entry to `out`, fields in the order
    /// [`IndexEntry::read`] takes them.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.name_off.to_le_bytes());
        out.extend_from_slice(&self.name_len.to_le_bytes());
        out.extend_from_slice(&self.chunkname_len.to_le_bytes());
        out.extend_from_slice(&self.chunkname_off.to_le_bytes());
        out.push(self.kind);
        out.push(self.codec);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.data_off.to_le_bytes());
        out.extend_from_slice(&self.stored_len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.checksum.to_le_bytes());
    }
}

/// Consecutive fixed-size fields of an index entry. The entry is an array of [`ENTRY_LEN`]
/// bytes and [`IndexEntry::read`] takes exactly that many, so no take comes up short (were one
/// to, it would read zeros, not panic).
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        match self.0.split_first_chunk::<N>() {
            Some((field, rest)) => {
                self.0 = rest;
                *field
            }
            None => [0; N],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Footer.

/// XXH3-64 (seed 0): the checksum the footer stores (of the header, index, strings and
/// records) and each index entry stores (of its stored bytes).
pub fn checksum(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The footer's checksum of `head`, a payload's header, index, strings and records (everything
/// before the data section), whose records section starts at `records_at`: the bytes of `head`
/// with the body of each sealed record left out ([`super::record::SEALED`]: its tag, length and
/// own checksum are in) form one or more spans, hashed in order with XXH3-64, the first with
/// seed 0 and each next one with the previous span's hash as its seed. Without sealed records
/// there is one span: the XXH3-64 of `head`. (A chain of one-shot hashes rather than one
/// streaming hash: the stub carries no streaming XXH3 code.) The records are walked by their
/// tag and length only, before anything is verified: damage to either changes the spans, and is
/// hashed itself, so it shows as a mismatch. A record cut short ends the walk (the rest is one
/// span), as does a `records_at` past the end.
pub fn footer_checksum(head: &[u8], records_at: usize) -> u64 {
    use super::record::{Sealed, RECORD_HEAD, SEALED};
    let mut at = records_at;
    let bodies = std::iter::from_fn(move || loop {
        let frame: &[u8; RECORD_HEAD] =
            head.get(at..at.checked_add(RECORD_HEAD)?)?.try_into().ok()?;
        let tag = u16::from_le_bytes([frame[0], frame[1]]);
        let len = u32::from_le_bytes([frame[2], frame[3], frame[4], frame[5]]) as usize;
        let start = at + RECORD_HEAD;
        let end = start.checked_add(len).filter(|e| *e <= head.len())?;
        at = end;
        if tag & SEALED != 0 && len >= Sealed::SUM_LEN {
            return Some(start + Sealed::SUM_LEN..end);
        }
    });
    let (mut sum, mut from) = (0, 0);
    for body in bodies {
        sum = xxhash_rust::xxh3::xxh3_64_with_seed(&head[from..body.start], sum);
        from = body.end;
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(&head[from..], sum)
}

/// Appends the footer to `out`, which holds everything before it: the footer's checksum of its
/// first `data_start` bytes (header, index, strings, records from `records_at`;
/// [`footer_checksum`]), `total_len`, the end magic.
pub(super) fn write_footer(
    out: &mut Vec<u8>,
    records_at: usize,
    data_start: usize,
    total_len: u64,
) {
    let sum = footer_checksum(out.get(..data_start).unwrap_or(out), records_at);
    out.extend_from_slice(&sum.to_le_bytes());
    out.extend_from_slice(&total_len.to_le_bytes());
    out.extend_from_slice(&END_MAGIC);
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
