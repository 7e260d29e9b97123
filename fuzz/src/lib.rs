//! Shared code of the fuzz targets: what each target does with a payload, and the rewrite that
//! makes the checksums of an arbitrary input match (the footer's and each entry's).
//!
//! `format.rs` promises that nothing in it panics on any input; the targets check that, and a
//! few cheap consistency properties on top (see the `assert!`s), among them that a payload
//! `Payload::verify_all` accepts is one every read of the runtime succeeds on.

use bundle_runtime::carrier;
use bundle_runtime::format::{self, flags, Decoder, Payload, END_MAGIC, FOOTER_LEN, HEADER_LEN};

/// Module names looked up in every parsed payload besides the ones it holds.
const SYNTHETIC_NAMES: &[&[u8]] = &[b"", b"a", b"b.c", b"main", b"zz", b"\x00", b"\xff\xff\xff"];

/// Runs the whole input through the carrier lookup and the payload parser.
pub fn exercise(data: &[u8]) {
    // The carrier lookup promises a range inside the image: index it directly so a range that
    // is not would panic here.
    if let Ok(located) = carrier::locate(data) {
        exercise_payload(&data[located.range]);
    }
    exercise_payload(data);
}

/// Parses `bytes` as a payload and, when that succeeds, reads everything in it. Also reads
/// whatever `parse_unverified` (what `bundle inspect` uses on damaged files) accepts, which
/// reaches the same code without the checksum.
pub fn exercise_payload(bytes: &[u8]) {
    if let Ok(p) = Payload::parse(bytes) {
        assert!(p.checksum_ok(), "parse accepted a payload whose checksum does not match");
        read_all(&p, bytes.len());
        found_by_search(&p);
        verify_all(&p);
    } else if let Ok(p) = Payload::parse_unverified(bytes) {
        read_all(&p, bytes.len());
        assert!(p.verify_all().is_err(), "verify_all accepted what parse refuses");
    }
}

/// On a sorted index, binary search finds every entry that reads, unless an entry it passes on
/// the way does not read (an error, never a wrong `None`). `parse` does not check the order
/// (the checksum covers it against damage): on an unsorted index a search may miss an entry.
fn found_by_search(p: &Payload<'_>) {
    if p.check_order().is_err() {
        return;
    }
    // What some lookup serves: a module, a library, an asset, a named entry point. Others (an
    // entry point without a name, a Lua entry with the LIBRARY flag, which verify_all refuses)
    // are found by no search.
    let searchable = |e: &format::Entry<'_>| {
        let library = e.flags & flags::LIBRARY != 0 && e.kind == format::Kind::Native;
        let entry_point = e.entry_name().is_some_and(|n| !n.is_empty());
        !e.name.is_empty() && (e.is_module() || library || e.asset_key().is_some() || entry_point)
    };
    for entry in p.entries().flatten().filter(searchable) {
        if let Ok(found) = search(p, &entry) {
            assert_eq!(found, Some(entry), "binary search missed an entry of a sorted index");
        }
    }
}

/// The search the runtime makes for an entry of this kind: a library, an asset (by its mount
/// key), an entry point (by its name), or a module.
fn search<'a>(
    p: &Payload<'a>,
    entry: &format::Entry<'a>,
) -> Result<Option<format::Entry<'a>>, format::FormatError> {
    if entry.flags & flags::LIBRARY != 0 && entry.kind == format::Kind::Native {
        p.library(entry.name)
    } else if let Some(key) = entry.asset_key() {
        p.asset(key)
    } else if let Some(name) = entry.entry_name() {
        p.entry_point(name)
    } else {
        p.module(entry.name)
    }
}

/// `verify_all`: when it accepts a payload, every read the runtime can make of it succeeds.
fn verify_all(p: &Payload<'_>) {
    if p.verify_all().is_err() {
        return;
    }
    let mut decoder = Decoder::new().expect("a zstd context");
    let mut mains = 0;
    for entry in p.entries() {
        let entry = entry.expect("verify_all accepted an entry that does not read");
        let data =
            entry.decode_with(&mut decoder).expect("verify_all accepted an undecodable entry");
        assert_eq!(data.len() as u64, entry.raw_len);
        if entry.name.is_empty() {
            mains += 1;
            assert!(
                matches!(entry.kind, format::Kind::LuaSource | format::Kind::LuaBytecode),
                "verify_all accepted a main script that is not Lua"
            );
            continue;
        }
        let found = search(p, &entry);
        assert_eq!(found, Ok(Some(entry)), "verify_all accepted an entry search does not find");
        if entry.flags & flags::SHARED != 0 {
            p.library_owner(&entry).expect("verify_all accepted a shared entry without owner");
        }
        if entry.kind == format::Kind::Native && entry.flags & flags::SHARED == 0 {
            for lib in p.needs(entry.name).expect("verify_all accepted unreadable records") {
                let found = p.library(lib).expect("verify_all accepted an unreadable library");
                assert!(found.is_some(), "verify_all accepted a NEEDS record naming nothing");
            }
        }
    }
    assert!(mains <= 1, "verify_all accepted two main scripts");
    assert_eq!(p.main().map(|m| m.is_some()), Ok(mains == 1));
    p.preloads().expect("verify_all accepted unreadable records");
    p.ignore_sigpipe().expect("verify_all accepted unreadable records");
    let interpreter = p.interpreter().expect("verify_all accepted unreadable records");
    let entry_points = p.entry_points().expect("verify_all accepted an unreadable index");
    assert!(
        mains == 1 || interpreter.is_some() || !entry_points.is_empty(),
        "verify_all accepted nothing to run"
    );
    p.interpreter_env().expect("verify_all accepted unreadable records");
    // The sealed records' bodies were verified by verify_all: the runtime's check passes.
    p.assets_boot().expect("verify_all accepted unreadable records");
    if let Some(overlay) = p.assets_overlay().expect("verify_all accepted unreadable records") {
        overlay.verified("ASSETS_OVERLAY").expect("verify_all accepted a damaged overlay");
    }
}

/// Every read a parsed payload offers.
fn read_all(p: &Payload<'_>, input_len: usize) {
    let _ = (p.len(), p.is_empty(), p.checksum(), p.checksum_ok());
    assert_eq!(p.total_len(), input_len as u64, "total_len differs from the parsed length");
    let mut decoder = Decoder::new().ok();
    let mut names = Vec::new();
    for entry in p.entries() {
        let Ok(entry) = entry else { continue };
        names.push(entry.name);
        let _ = entry.display_name();
        if let Ok(out) = entry.decode() {
            assert_eq!(out.len() as u64, entry.raw_len, "decode returned the wrong length");
            if let Some(d) = decoder.as_mut() {
                // A reused context must give the same bytes as a fresh one.
                assert_eq!(entry.decode_with(d).ok(), Some(out), "decode_with differs from decode");
            }
        }
    }
    for name in names.iter().copied().chain(SYNTHETIC_NAMES.iter().copied()) {
        if let Ok(Some(found)) = p.module(name) {
            assert_eq!(found.name, name, "module() returned an entry of another name");
            assert_eq!(found.flags & flags::LIBRARY, 0, "module() returned a library");
        }
        if let Ok(Some(found)) = p.library(name) {
            assert_eq!(found.name, name, "library() returned an entry of another name");
            assert_ne!(found.flags & flags::LIBRARY, 0, "library() returned a module");
        }
        let _ = p.needs(name);
    }
    if let Ok(Some(main)) = p.main() {
        assert!(main.name.is_empty(), "main() returned a named entry");
    }
    let _ = p.preloads();
    let _ = p.ignore_sigpipe();
    let _ = p.assets_boot();
    if let Ok(Some(overlay)) = p.assets_overlay() {
        let _ = overlay.verified("ASSETS_OVERLAY");
    }
    // `records()` must end: after an error it returns `None`.
    let mut records = p.records();
    for _ in 0..=input_len {
        if records.next().is_none() {
            break;
        }
    }
    assert!(records.next().is_none(), "records() does not terminate");
    let _ = p.entry(p.len());
}

/// Rewrites `data` in place so that the header's total length and the footer (checksum,
/// total length, end magic) are consistent with its length, and each entry's checksum with its
/// data and each sealed record's with its body (`format::reseal`, when the header reads); inputs shorter than a header and a footer
/// are left alone. What is left for the parser to reject is the rest of the header and the
/// section lengths, which the fuzzer can learn from the comparisons.
pub fn fix_checksum(data: &mut [u8]) {
    if data.len() < HEADER_LEN + FOOTER_LEN {
        return;
    }
    let total = data.len() as u64;
    data[40..48].copy_from_slice(&total.to_le_bytes());
    let body = data.len() - FOOTER_LEN;
    data[body + 8..body + 16].copy_from_slice(&total.to_le_bytes());
    data[body + 16..].copy_from_slice(&END_MAGIC);
    if format::reseal(data).is_err() {
        // A header that does not read (or sections past the end): the old rule, so that the
        // footer still matches something.
        let sum = format::checksum(&data[..body]);
        data[body..body + 8].copy_from_slice(&sum.to_le_bytes());
    }
}
