//! Finding the payload inside an executable file: the `.bundle` ELF section first (it survives
//! `strip`), then the trailer (the payload appended to the end of the file). Used by the stub at
//! start-up on its own executable, and by the bundler to check stubs and inspect outputs.
//!
//! Only the bytes needed are read: the ELF header and section table (through `object`'s lazy
//! [`ReadCache`]), then the payload's own range.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use object::read::elf::{ElfFile32, ElfFile64};
use object::{Object, ObjectSection, ReadCache};

use crate::format::{self, FOOTER_LEN};

/// Where a payload was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// In the ELF section [`format::SECTION_NAME`].
    Section,
    /// Appended to the end of the file.
    Trailer,
}

impl std::fmt::Display for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Carrier::Section => "section",
            Carrier::Trailer => "trailer",
        })
    }
}

/// A payload read out of a file, not yet parsed.
#[derive(Debug)]
pub struct Located {
    pub carrier: Carrier,
    /// File offset of the payload's first byte.
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// Why no payload could be read.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("no bundle payload found (a bare stub, or not an executable made by bundle)")]
    NotFound,
    #[error("damaged bundle payload ({carrier} carrier): {source}")]
    Damaged {
        carrier: Carrier,
        #[source]
        source: format::FormatError,
    },
}

/// Whether the file contains an ELF section called `name`, and its file range if so.
pub fn elf_section_range(file: &File, name: &str) -> io::Result<Option<(u64, u64)>> {
    let cache = ReadCache::new(file);
    let range = if let Ok(elf) = ElfFile64::<object::Endianness, _>::parse(&cache) {
        elf.section_by_name(name).and_then(|s| s.file_range())
    } else if let Ok(elf) = ElfFile32::<object::Endianness, _>::parse(&cache) {
        elf.section_by_name(name).and_then(|s| s.file_range())
    } else {
        None
    };
    Ok(range)
}

fn read_range(file: &File, offset: u64, len: u64) -> Result<Vec<u8>, LocateError> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("payload larger than memory"))?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(len).map_err(io::Error::other)?;
    buf.resize(len, 0);
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Reads the payload carried by `file`, checking only that its length is consistent; the
/// caller verifies it with [`format::Payload::parse`].
pub fn locate(file: &File) -> Result<Located, LocateError> {
    let file_len = file.metadata()?.len();
    if let Some((offset, len)) = elf_section_range(file, format::SECTION_NAME)? {
        let damaged = |source| LocateError::Damaged { carrier: Carrier::Section, source };
        if offset.checked_add(len).is_none_or(|end| end > file_len) {
            return Err(damaged(format::FormatError::Truncated {
                what: "section",
                offset,
                needed: len,
                available: file_len.saturating_sub(offset),
            }));
        }
        let bytes = read_range(file, offset, len)?;
        return Ok(Located { carrier: Carrier::Section, offset, bytes });
    }
    // The trailer: the payload is the last `declared_len` bytes of the file.
    if file_len < FOOTER_LEN as u64 {
        return Err(LocateError::NotFound);
    }
    let footer = read_range(file, file_len - FOOTER_LEN as u64, FOOTER_LEN as u64)?;
    let len = match format::declared_len(&footer) {
        Ok(len) => len,
        Err(format::FormatError::BadEndMagic) => return Err(LocateError::NotFound),
        Err(source) => return Err(LocateError::Damaged { carrier: Carrier::Trailer, source }),
    };
    if len > file_len || len < FOOTER_LEN as u64 {
        return Err(LocateError::Damaged {
            carrier: Carrier::Trailer,
            source: format::FormatError::Truncated {
                what: "trailer payload",
                offset: file_len.saturating_sub(len),
                needed: len,
                available: file_len,
            },
        });
    }
    let offset = file_len - len;
    let bytes = read_range(file, offset, len)?;
    Ok(Located { carrier: Carrier::Trailer, offset, bytes })
}
