//! What the format's unit tests share: a sample payload and ways to damage one.

use super::layout::{ENTRY_LEN, HEADER_LEN};
use super::{Kind, NewEntry, Writer};

pub(super) fn entry(name: &str, chunk: &str, kind: Kind, data: &[u8]) -> NewEntry {
    NewEntry { name: name.into(), chunkname: chunk.into(), kind, flags: 0, data: data.to_vec() }
}

/// A main script and two modules (`a`, compressed; `b.c`, stored), preloads `b.c` and `a`.
pub(super) fn sample() -> Vec<u8> {
    let mut w = Writer::new(3);
    w.add(entry("b.c", "@./b/c.lua", Kind::LuaBytecode, &[0x1b, b'L', b'J', 2, 0, 0, 0]));
    w.add(entry("", "@main.lua", Kind::LuaSource, b"print('hi')\n"));
    w.add(entry("a", "@./a.lua", Kind::LuaSource, "return 'x'\n".repeat(200).as_bytes()));
    w.preload("b.c");
    w.preload("a");
    w.finish().unwrap().0
}

/// Recomputes the checksums (the entries' and the footer's) after bytes were changed.
pub(super) fn reseal(bytes: &mut [u8]) {
    super::reseal(bytes).unwrap();
}

/// Byte offset of field `at` of index entry `i`.
pub(super) fn field(i: usize, at: usize) -> usize {
    HEADER_LEN + i * ENTRY_LEN + at
}

pub(super) fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}
