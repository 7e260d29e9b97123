//! Micro-benchmarks of what the stub does at start-up with its payload (criterion):
//! parsing a 1 MB payload as start-up does (structure + the XXH3 checksum of its header, index
//! and records; the entries are checked one by one when used), finding a module in a 300-entry
//! index, and decoding one compressed module.
//!
//! `cargo bench --bench payload`

use bundle_runtime::format::{Kind, NewEntry, Payload, Writer};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

/// A payload of `n` modules of pseudo-random (incompressible-ish) Lua-like text.
fn payload(n: usize, module_len: usize) -> Vec<u8> {
    let mut w = Writer::new(3);
    let mut seed = 0x9e3779b97f4a7c15u64;
    for i in 0..n {
        let data: Vec<u8> = (0..module_len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b"abcdefghijklmnopqrstuvwxyz =(){}\n,.0123456789"[(seed % 45) as usize]
            })
            .collect();
        w.add(NewEntry {
            name: format!("mod.m{i}").into_bytes(),
            chunkname: format!("@./mod/m{i}.lua").into_bytes(),
            kind: Kind::LuaSource,
            flags: 0,
            data,
        });
    }
    w.finish().expect("payload").0
}

fn bench(c: &mut Criterion) {
    let big = payload(300, 5000);
    let mb = &big[..];
    assert!(mb.len() > 1_000_000 * 3 / 4, "about a megabyte: {}", mb.len());
    c.bench_function(&format!("verify {} KiB payload", mb.len() / 1024), |b| {
        b.iter(|| Payload::parse(black_box(mb)).expect("valid"))
    });
    let p = Payload::parse(mb).expect("valid");
    c.bench_function("find 1 of 300 modules", |b| {
        b.iter(|| p.module(black_box(b"mod.m217")).expect("ok"))
    });
    let entry = p.module(b"mod.m217").expect("ok").expect("present");
    let mut decoder = bundle_runtime::format::Decoder::new().expect("decoder");
    c.bench_function("decode one 5 KB module", |b| {
        b.iter(|| entry.decode_with(&mut decoder).expect("ok"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
