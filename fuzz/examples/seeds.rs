//! Writes the seed corpora of the fuzz targets: a few small, valid payloads made with
//! `format::Writer`, plus (for `payload`) the same payload as a trailer and inside an ELF
//! `.bundle` section, so the fuzzer starts from both carriers.
//!
//! Run from `fuzz/`: `cargo run --example seeds` (writes `corpus/<target>/*.bin`).

use std::fs;
use std::path::Path;

use bundle_runtime::format::{
    flags, footer_checksum, record, Kind, NewEntry, Writer, END_MAGIC, FOOTER_LEN, HEADER_LEN,
    SECTION_NAME,
};

fn entry(name: &str, chunk: &str, kind: Kind, data: &[u8]) -> NewEntry {
    NewEntry { name: name.into(), chunkname: chunk.into(), kind, flags: 0, data: data.to_vec() }
}

/// A LuaJIT bytecode-looking blob (`ESC L J` header, then filler that compresses).
fn bytecode(n: usize) -> Vec<u8> {
    let mut b = vec![0x1b, b'L', b'J', 2, 0x02, 0x0a];
    b.extend((0..n).map(|i| (i % 7) as u8));
    b
}

fn finish(w: Writer) -> Vec<u8> {
    w.finish().expect("seed payload").0
}

fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();

    out.push(("empty", finish(Writer::new(3))));

    let mut w = Writer::new(3);
    w.add(entry("", "@main.lua", Kind::LuaSource, b"print('hi')\n"));
    out.push(("main_only", finish(w)));

    // The unit tests' sample: one compressed source, one stored bytecode, two preloads.
    let mut w = Writer::new(3);
    w.add(entry("b.c", "@./b/c.lua", Kind::LuaBytecode, &[0x1b, b'L', b'J', 2, 0, 0, 0]));
    w.add(entry("", "@main.lua", Kind::LuaSource, b"print('hi')\n"));
    w.add(entry("a", "@./a.lua", Kind::LuaSource, "return 'x'\n".repeat(200).as_bytes()));
    w.preload("b.c");
    w.preload("a");
    out.push(("sample", finish(w)));

    // Several modules, sources and bytecode, compressed and stored, no main script.
    let mut w = Writer::new(1);
    w.add(entry("util", "@./util.lua", Kind::LuaSource, b"local M = {}\nreturn M\n"));
    w.add(entry("util.str", "@./util/str.lua", Kind::LuaBytecode, &bytecode(600)));
    w.add(entry("net.http", "@./net/http.lua", Kind::LuaBytecode, &bytecode(8)));
    w.add(entry("z", "@./z.lua", Kind::LuaSource, "-- z\n".repeat(100).as_bytes()));
    w.add(entry("a.b.c", "@./a/b/c.lua", Kind::LuaSource, b""));
    w.preload("util");
    w.preload("net.http");
    out.push(("modules", finish(w)));

    // The other two kinds, a shared library the native module needs, SIGPIPE ignored.
    let mut w = Writer::new(3);
    w.add(entry("", "@main.lua", Kind::LuaBytecode, &bytecode(300)));
    w.add(entry("lfs", "lfs.so", Kind::Native, b"\x7fELF\x02\x01\x01\0fake"));
    w.add(NewEntry {
        flags: flags::LIBRARY,
        ..entry("libz.so.1", "libz.so.1", Kind::Native, "\x7fELF lib ".repeat(40).as_bytes())
    });
    w.asset(b"data.txt", 0o644, "asset ".repeat(50).into_bytes());
    w.needs(b"lfs", &[b"libz.so.1"]);
    w.ignore_sigpipe();
    w.assets_overlay(b"boot", b"overlay");
    w.manifest(b"{}");
    out.push(("kinds", finish(w)));

    // Records section with an unknown optional record (skipped), an unknown optional sealed one
    // (skipped; its body outside the footer's checksum), a preload, a needs, a sigpipe and an
    // unknown required record (an error), laid out by hand as in format.rs's tests.
    let mut records = Vec::new();
    for (tag, value) in [
        (0x8123u16, &b"x"[..]),
        (0xC123, b"\0\0\0\0\0\0\0\0body"),
        (record::PRELOAD, b"m"),
        (record::NEEDS, b"m\0liba.so\0\0libb.so"),
        (record::SIGPIPE, b"\x01"),
        (0x0042, b""),
    ] {
        records.extend_from_slice(&tag.to_le_bytes());
        records.extend_from_slice(&(value.len() as u32).to_le_bytes());
        records.extend_from_slice(value);
    }
    let mut bytes = finish(Writer::new(3));
    bytes.truncate(HEADER_LEN);
    bytes[24..28].copy_from_slice(&(records.len() as u32).to_le_bytes());
    let total = (HEADER_LEN + records.len() + FOOTER_LEN) as u64;
    bytes[40..48].copy_from_slice(&total.to_le_bytes());
    bytes.extend_from_slice(&records);
    let sum = footer_checksum(&bytes, HEADER_LEN);
    bytes.extend_from_slice(&sum.to_le_bytes());
    bytes.extend_from_slice(&total.to_le_bytes());
    bytes.extend_from_slice(&END_MAGIC);
    out.push(("records", bytes));

    out
}

/// A relocatable ELF64 file whose `.bundle` section holds `payload`.
fn elf_with_section(payload: &[u8]) -> Vec<u8> {
    use object::write::Object;
    use object::{Architecture, BinaryFormat, Endianness, SectionKind};
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let id =
        obj.add_section(Vec::new(), SECTION_NAME.as_bytes().to_vec(), SectionKind::ReadOnlyData);
    obj.append_section_data(id, payload, 1);
    obj.write().expect("seed ELF")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("corpus dir");
    let path = dir.join(format!("{name}.bin"));
    fs::write(&path, bytes).expect("write seed");
    println!("{} ({} bytes)", path.display(), bytes.len());
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let payloads = payloads();
    for (name, bytes) in &payloads {
        write(&root.join("payload"), name, bytes);
        write(&root.join("payload_checksummed"), name, bytes);
    }
    let sample = &payloads.iter().find(|(n, _)| *n == "sample").expect("sample").1;
    let mut trailer = b"\x7fELF not really an executable, then the payload: ".to_vec();
    trailer.extend_from_slice(sample);
    write(&root.join("payload"), "trailer", &trailer);
    write(&root.join("payload"), "elf_section", &elf_with_section(sample));
}
