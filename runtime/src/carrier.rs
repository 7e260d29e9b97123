//! Finding the payload inside an executable file: the `.bundle` ELF section first (it survives
//! `strip`; since the payload is loaded with the program, it is also found through its
//! `PT_LOAD` program header when the section table is gone), then the trailer (the payload
//! appended to the end of the file). Used by the stub at
//! start-up on its own executable, and by the bundler to check stubs and inspect outputs.
//!
//! The stub maps its executable rather than reading it: only the pages of the ELF headers and of
//! the payload are ever touched, and nothing is copied.

use std::fs::File;
use std::io;

use object::read::elf::{ElfFile32, ElfFile64};
use object::{Object, ObjectSection};

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

/// Where a payload sits in an executable image; not yet parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub carrier: Carrier,
    /// Byte range of the payload within the image.
    pub range: std::ops::Range<usize>,
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

/// The file range of the ELF section called `name`, if `image` is an ELF file that has one.
pub fn elf_section_range(image: &[u8], name: &str) -> Option<(u64, u64)> {
    if let Ok(elf) = ElfFile64::<object::Endianness>::parse(image) {
        elf.section_by_name(name).and_then(|s| s.file_range())
    } else if let Ok(elf) = ElfFile32::<object::Endianness>::parse(image) {
        elf.section_by_name(name).and_then(|s| s.file_range())
    } else {
        None
    }
}

/// The file range of a read-only `PT_LOAD` segment that holds exactly one payload (its magic
/// first, its declared length the segment's): where the runtime finds its payload in memory,
/// found here in the file even when the section table is gone (`sstrip`, a truncated section
/// header table).
pub fn payload_segment_range(image: &[u8]) -> Option<(u64, u64)> {
    use object::read::elf::{FileHeader, ProgramHeader};
    fn scan<Elf: FileHeader>(image: &[u8]) -> Option<(u64, u64)> {
        let header = Elf::parse(image).ok()?;
        let endian = header.endian().ok()?;
        for ph in header.program_headers(endian, image).ok()? {
            if ph.p_type(endian) != object::elf::PT_LOAD {
                continue;
            }
            let offset: u64 = ph.p_offset(endian).into();
            let len: u64 = ph.p_filesz(endian).into();
            let start = usize::try_from(offset).ok()?;
            let head = image.get(start..start.checked_add(format::HEADER_LEN)?);
            let Some(head) = head else { continue };
            let declared = head.get(40..48).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
            if head[..8] == format::MAGIC && declared == Some(len) {
                return Some((offset, len));
            }
        }
        None
    }
    scan::<object::elf::FileHeader64<object::Endianness>>(image)
        .or_else(|| scan::<object::elf::FileHeader32<object::Endianness>>(image))
}

/// Finds the payload carried by the executable `image` (the whole file's bytes), checking only
/// that its extent is consistent; the caller verifies it with [`format::Payload::parse`].
pub fn locate(image: &[u8]) -> Result<Located, LocateError> {
    let file_len = image.len() as u64;
    let section = elf_section_range(image, format::SECTION_NAME);
    if let Some((offset, len)) = section.or_else(|| payload_segment_range(image)) {
        let range = offset.checked_add(len).filter(|end| *end <= file_len).map(|end| offset..end);
        return match range {
            Some(r) => {
                Ok(Located { carrier: Carrier::Section, range: r.start as usize..r.end as usize })
            }
            None => Err(LocateError::Damaged {
                carrier: Carrier::Section,
                source: format::FormatError::Truncated {
                    what: "section",
                    offset,
                    needed: len,
                    available: file_len.saturating_sub(offset),
                },
            }),
        };
    }
    // The trailer: the payload is the last `declared_len` bytes of the file, before a
    // signature block if there is one (docs/FORMAT.md, "Signature block").
    let image = &image[..image.len() - signature_block_len(image)];
    let file_len = image.len() as u64;
    let len = match format::declared_len(image) {
        Ok(len) => len,
        Err(format::FormatError::BadEndMagic | format::FormatError::Truncated { .. }) => {
            return Err(LocateError::NotFound)
        }
        Err(source) => return Err(LocateError::Damaged { carrier: Carrier::Trailer, source }),
    };
    if len > file_len || len < (format::HEADER_LEN + FOOTER_LEN) as u64 {
        return Err(LocateError::Damaged {
            carrier: Carrier::Trailer,
            source: format::FormatError::Truncated {
                what: "trailer payload",
                offset: 0,
                needed: len,
                available: file_len,
            },
        });
    }
    Ok(Located { carrier: Carrier::Trailer, range: (file_len - len) as usize..image.len() })
}

/// The length of the signature block that ends `image` (`bundle sign`, docs/FORMAT.md,
/// "Signature block"): a SIGNATURE record (tag, length, value), then the block's own length
/// (u64) and [`format::record::SIGNATURE_MAGIC`]. 0 when `image` does not end with a
/// well-formed one.
pub fn signature_block_len(image: &[u8]) -> usize {
    const TAIL: usize = 16;
    let Some(tail_at) = image.len().checked_sub(TAIL) else { return 0 };
    if image[tail_at + 8..] != format::record::SIGNATURE_MAGIC {
        return 0;
    }
    let declared = u64::from_le_bytes(image[tail_at..tail_at + 8].try_into().unwrap_or_default());
    let Some(start) = usize::try_from(declared).ok().and_then(|n| image.len().checked_sub(n))
    else {
        return 0;
    };
    let Some(head) = image.get(start..start + 6).filter(|_| start + 6 <= tail_at) else {
        return 0;
    };
    let tag = u16::from_le_bytes([head[0], head[1]]);
    let len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
    if tag == format::record::SIGNATURE && start + 6 + len == tail_at {
        image.len() - start
    } else {
        0
    }
}

/// Maps `file` read-only.
///
/// # Safety
/// The file must not be truncated or modified while the map is alive (the kernel refuses
/// writes to a running executable, which is what the stub maps).
pub unsafe fn map(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: forwarded to the caller.
    unsafe { memmap2::Mmap::map(file) }
}
