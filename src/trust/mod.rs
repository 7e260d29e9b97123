//! Whole-file integrity and signatures (issue 18, docs/FORMAT.md "Image hash" and "Signature
//! block"): [`seal`] records, in the payload's IMAGE_HASH record, the SHA-256 of every byte of
//! the executable outside the payload and the regions those bytes make up (ELF header, program
//! headers, each section, the section header table, padding); [`check_image`] recomputes it for
//! `bundle verify` and names the damaged region. Signing is [`sign`]'s.
//!
//! The runtime never reads any of this: start-up checks the payload's own checksums (its index
//! and records, then each entry before use), as before.

pub mod sign;

use std::ops::Range;

use bundle_runtime::carrier;
use bundle_runtime::format::{self, record, ImageHash, ImageRegion, Payload, Record};
use sha2::{Digest, Sha256};

use crate::output::emit::{self, EmitError};

/// What is wrong with an executable's bytes outside its payload, or with its IMAGE_HASH record.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the executable is damaged outside the payload: {0}")]
    Damaged(String),
    #[error("the executable has no image hash (it was made before image hashes, or with --emit-c): rebuild it with this bundle")]
    NoHash,
    #[error("{0}")]
    Payload(format::FormatError),
}

/// The stub with `payload` attached ([`emit::attach`]) and an IMAGE_HASH record added to the
/// payload: the record's length is fixed before the executable is laid out, so filling it in
/// changes no byte outside the payload, and the hash it holds stays true.
pub fn seal(stub: &[u8], payload: &[u8]) -> Result<Vec<u8>, EmitError> {
    let internal = |what: &str| EmitError::Elf(format!("bundle internal error: {what}"));
    // The regions depend on the layout, which depends on the record's length (padding between
    // sections comes and goes with it). The record is given a length first; a shorter value is
    // brought to it with a filler region (length 0, ignored); a longer one, or one too close to
    // fill, gives the next round a longer record. The region count is bounded, so this settles.
    let mut target = ImageHash::join(&[0; 32], &[]).len();
    for _ in 0..8 {
        let sealed = format::with_record(payload, record::IMAGE_HASH, &vec![0; target])
            .map_err(|e| internal(&e.to_string()))?;
        let mut image = emit::attach(stub, &sealed)?;
        let range = carrier::locate(&image)
            .map_err(|e| internal(&format!("the payload is not found after attaching: {e}")))?
            .range;
        // The value's length depends on the regions only, not on their digests: the bytes are
        // hashed once, in the round that settles.
        let named = regions_of(&image, range.clone());
        let len = value_len(&named);
        if len == target || len + FILLER_HEAD <= target {
            let value = image_hash_value(&image, range.clone(), &named, target);
            debug_assert_eq!(value.len(), target);
            let sealed = format::with_record(payload, record::IMAGE_HASH, &value)
                .map_err(|e| internal(&e.to_string()))?;
            image[range].copy_from_slice(&sealed);
            return Ok(image);
        }
        target = len.max(target) + FILLER_HEAD + 16;
    }
    Err(internal("the image hash's regions do not settle"))
}

/// The bytes of `image` that the image hash covers: all of them but the payload and a
/// signature block at the end, in file order.
pub fn covered(image: &[u8], payload: Range<usize>) -> Vec<Range<usize>> {
    let end = image.len() - carrier::signature_block_len(image);
    let mut out = Vec::with_capacity(2);
    out.push(0..payload.start.min(end));
    if payload.end < end {
        out.push(payload.end..end);
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The SHA-256 of the bytes of `image` outside the payload (and outside a signature block).
pub fn image_hash(image: &[u8], payload: Range<usize>) -> [u8; 32] {
    let mut h = Sha256::new();
    for r in covered(image, payload) {
        h.update(&image[r]);
    }
    h.finalize().into()
}

/// Bytes of a filler region with an empty name.
const FILLER_HEAD: usize = 26;

/// The IMAGE_HASH record's value for `image`, whose payload is at `payload`, brought to `target`
/// bytes with a filler region (offset and length 0, its name spaces) when it is shorter by at
/// least [`FILLER_HEAD`]; otherwise as long as it is.
fn image_hash_value(
    image: &[u8],
    payload: Range<usize>,
    named: &[(Range<usize>, String)],
    target: usize,
) -> Vec<u8> {
    let hash = image_hash(image, payload);
    let mut regions = image_regions(named, Some(image));
    let len = ImageHash::join(&hash, &regions).len();
    let filler = vec![b' '; target.saturating_sub(len + FILLER_HEAD)];
    if len + FILLER_HEAD <= target {
        regions.push(ImageRegion { offset: 0, len: 0, digest: [0; 8], name: &filler });
    }
    ImageHash::join(&hash, &regions)
}

/// The length of the IMAGE_HASH value for `named` regions, without a filler.
fn value_len(named: &[(Range<usize>, String)]) -> usize {
    ImageHash::join(&[0; 32], &image_regions(named, None)).len()
}

/// The record's regions for `named`, with the digests of their bytes in `image` (zero without).
fn image_regions<'a>(
    named: &'a [(Range<usize>, String)],
    image: Option<&[u8]>,
) -> Vec<ImageRegion<'a>> {
    named
        .iter()
        .map(|(range, name)| ImageRegion {
            offset: range.start as u64,
            len: range.len() as u64,
            digest: image.map_or([0; 8], |i| digest8(&i[range.clone()])),
            name: name.as_bytes(),
        })
        .collect()
}

fn digest8(bytes: &[u8]) -> [u8; 8] {
    let d = Sha256::digest(bytes);
    let mut out = [0; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// The named regions that together make up the covered bytes of `image`: for an ELF file its
/// header, program header table, each section's bytes, the section header table, and what lies
/// between them as padding; for anything else, one region, the stub.
fn regions_of(image: &[u8], payload: Range<usize>) -> Vec<(Range<usize>, String)> {
    let mut marks: Vec<(usize, usize, String)> = Vec::new();
    let parsed = std::panic::catch_unwind(|| goblin::elf::Elf::parse(image).ok()).ok().flatten();
    if let Some(elf) = parsed {
        let h = &elf.header;
        marks.push((0, h.e_ehsize as usize, "ELF header".into()));
        let ph = h.e_phoff as usize;
        marks.push((
            ph,
            ph + h.e_phnum as usize * h.e_phentsize as usize,
            "program headers".into(),
        ));
        for s in &elf.section_headers {
            if s.sh_type == goblin::elf::section_header::SHT_NOBITS || s.sh_size == 0 {
                continue;
            }
            let name = elf.shdr_strtab.get_at(s.sh_name).unwrap_or("?");
            let start = s.sh_offset as usize;
            marks.push((
                start,
                start.saturating_add(s.sh_size as usize),
                format!("section {name}"),
            ));
        }
        let sh = h.e_shoff as usize;
        if sh != 0 {
            marks.push((
                sh,
                sh + h.e_shnum as usize * h.e_shentsize as usize,
                "section header table".into(),
            ));
        }
    }
    marks.sort_by_key(|m| (m.0, m.1));
    let mut out: Vec<(Range<usize>, String)> = Vec::new();
    for part in covered(image, payload) {
        let mut at = part.start;
        for (start, end, name) in &marks {
            let (start, end) = ((*start).max(at), (*end).min(part.end));
            if start >= end {
                continue;
            }
            if start > at {
                let after = out.last().map(|(_, n)| n.clone());
                out.push((at..start, padding(after.as_deref())));
            }
            out.push((start..end, name.clone()));
            at = end;
        }
        if at < part.end {
            let name = if marks.is_empty() {
                "stub".to_owned()
            } else {
                padding(out.last().map(|(_, n)| n.as_str()))
            };
            out.push((at..part.end, name));
        }
    }
    out
}

fn padding(after: Option<&str>) -> String {
    match after {
        Some(name) => format!("bytes after the {name}"),
        None => "bytes at the start of the file".into(),
    }
}

/// The IMAGE_HASH record of `payload`, if any.
pub fn recorded<'a>(payload: &Payload<'a>) -> Result<Option<ImageHash<'a>>, format::FormatError> {
    for r in payload.records() {
        if let Record::ImageHash(h) = r? {
            return Ok(Some(h));
        }
    }
    Ok(None)
}

/// Recomputes the image hash of `image` (payload at `payload`) and compares it with the one
/// `p` records; on a mismatch, names every region whose bytes changed.
pub fn check_image(
    image: &[u8],
    payload: Range<usize>,
    p: &Payload,
) -> Result<[u8; 32], ImageError> {
    let recorded = recorded(p).map_err(ImageError::Payload)?.ok_or(ImageError::NoHash)?;
    let stored = recorded.hash().ok_or_else(|| {
        ImageError::Payload(format::FormatError::BadRecord(
            "the IMAGE_HASH record is too short".into(),
        ))
    })?;
    let hash = image_hash(image, payload.clone());
    if &hash == stored {
        return Ok(hash);
    }
    let mut damaged = Vec::new();
    let mut expected_end = 0u64;
    for r in recorded.regions() {
        let r = r.map_err(ImageError::Payload)?;
        if r.len == 0 {
            continue; // a filler
        }
        let name = String::from_utf8_lossy(r.name);
        let at = format!("{name} (bytes {:#x}..{:#x})", r.offset, r.offset + r.len);
        let bytes = usize::try_from(r.offset)
            .ok()
            .zip(usize::try_from(r.len).ok())
            .and_then(|(o, l)| image.get(o..o.checked_add(l)?));
        match bytes {
            None => damaged.push(format!("{at}: missing, the file is truncated")),
            Some(b) if digest8(b) != r.digest => damaged.push(format!("{at} changed")),
            Some(_) => {}
        }
        expected_end = expected_end.max(r.offset + r.len);
    }
    let end = (image.len() - carrier::signature_block_len(image)) as u64;
    if damaged.is_empty() && end > expected_end.max(payload.end as u64) {
        damaged.push(format!(
            "{} bytes were appended after the end of the file (offset {:#x})",
            end - expected_end.max(payload.end as u64),
            expected_end.max(payload.end as u64)
        ));
    }
    if damaged.is_empty() {
        damaged.push("its bytes outside the payload do not match the recorded SHA-256".into());
    }
    Err(ImageError::Damaged(damaged.join("; ")))
}

/// Finds the payload of `image` as the runtime does, and failing that (a damaged ELF header or
/// section table), by its magic: so that `verify` can still read the IMAGE_HASH record and
/// name what is damaged around an intact payload.
pub fn find_payload(image: &[u8]) -> Option<(carrier::Carrier, Range<usize>)> {
    if let Ok(l) = carrier::locate(image) {
        return Some((l.carrier, l.range));
    }
    let magic = format::MAGIC;
    let mut at = 0;
    while let Some(i) = image.get(at..)?.windows(magic.len()).position(|w| w == magic) {
        let start = at + i;
        let len = image
            .get(start + 40..start + 48)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .and_then(|l| usize::try_from(l).ok());
        if let Some(range) = len.and_then(|l| Some(start..start.checked_add(l)?)) {
            if let Some(bytes) = image.get(range.clone()) {
                if Payload::parse(bytes).is_ok() {
                    return Some((carrier::Carrier::Section, range));
                }
            }
        }
        at = start + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_changes_nothing_outside_the_payload_but_the_record() {
        let mut w = format::Writer::new(3);
        w.add(format::NewEntry {
            name: vec![],
            chunkname: b"@main.lua".to_vec(),
            kind: format::Kind::LuaSource,
            flags: 0,
            data: b"print(1)".to_vec(),
        });
        let (payload, _) = w.finish().unwrap();
        let image = seal(crate::base::stub::EMBEDDED, &payload).unwrap();
        let located = carrier::locate(&image).unwrap();
        let p = Payload::parse(&image[located.range.clone()]).unwrap();
        p.verify_all().unwrap();
        check_image(&image, located.range.clone(), &p).unwrap();
        let regions: Vec<String> = recorded(&p)
            .unwrap()
            .unwrap()
            .regions()
            .map(|r| String::from_utf8_lossy(r.unwrap().name).into_owned())
            .collect();
        for want in ["ELF header", "program headers", "section .text", "section header table"] {
            assert!(regions.iter().any(|r| r == want), "{want} in {regions:?}");
        }
        // The regions and the payload cover the file exactly once.
        let mut covered: u64 =
            recorded(&p).unwrap().unwrap().regions().map(|r| r.unwrap().len).sum();
        covered += located.range.len() as u64;
        assert_eq!(covered, image.len() as u64);
        // A trailer (a stub that is not ELF) is one region, the stub.
        let image = seal(b"not an ELF stub", &payload).unwrap();
        let located = carrier::locate(&image).unwrap();
        let p = Payload::parse(&image[located.range.clone()]).unwrap();
        check_image(&image, located.range.clone(), &p).unwrap();
        let mut bad = image.clone();
        bad[2] ^= 1;
        let err = check_image(&bad, located.range, &p).unwrap_err().to_string();
        assert!(err.contains("stub (bytes 0x0..0xf) changed"), "{err}");
    }
}
