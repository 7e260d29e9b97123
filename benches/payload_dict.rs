//! Payload size against decoding cost (issue 19, last point): the modules of a program stored
//! as today (one zstd frame each), with a zstd dictionary trained on the program's own modules
//! (stored once, every module still its own frame), and as one zstd stream. For each, the bytes
//! stored and what decoding costs the stub: the one-time set-up of a run (a decompression
//! context, plus loading the dictionary) and the time to decode one module.
//!
//! `benches/payload_dict.sh` feeds it the modules of the 300-module app (benches/gen_apps.py) as
//! the bundler stores them (`bundle extract`); by hand:
//!
//! `cargo bench --bench payload_dict -- DIR [DIR...]`   (every file below each DIR is a module)
//!
//! Timings are the thread's CPU time (the minimum over rounds of many repetitions), on whatever
//! machine runs it; the sizes are exact. Training a dictionary is bundle time, also shown.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::DecoderDictionary;
use zstd::zstd_safe::CParameter;

/// The bundler's level (src/output/pack.rs, `ZSTD_LEVEL`).
const LEVEL: i32 = 5;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("reading a module directory")
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// CPU time of this thread: the machine is shared, and time spent descheduled is not the
/// decoder's.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The least CPU time per call of `f` over 9 rounds of `reps` calls.
fn time(reps: u32, mut f: impl FnMut()) -> Duration {
    (0..9)
        .map(|_| {
            let start = cpu_now();
            for _ in 0..reps {
                f();
            }
            (cpu_now() - start) / reps
        })
        .min()
        .unwrap_or_default()
}

/// Each module its own frame, as the writer stores it: the frame, or the raw bytes when
/// compressing does not make them smaller. `None` for a raw one.
fn frames(modules: &[Vec<u8>], cctx: &mut Compressor) -> Vec<Option<Vec<u8>>> {
    modules
        .iter()
        .map(|m| {
            let c = cctx.compress(m).expect("compressing");
            (c.len() < m.len()).then_some(c)
        })
        .collect()
}

fn stored(modules: &[Vec<u8>], frames: &[Option<Vec<u8>>]) -> usize {
    modules.iter().zip(frames).map(|(m, f)| f.as_ref().map_or(m.len(), Vec::len)).sum()
}

/// Time to decode every module once, one after the other, with `dctx` (per module: divide).
fn decode_all(
    modules: &[Vec<u8>],
    frames: &[Option<Vec<u8>>],
    dctx: &mut Decompressor,
) -> Duration {
    let mut out = Vec::with_capacity(modules.iter().map(Vec::len).max().unwrap_or(0));
    time(20, || {
        for (m, f) in modules.iter().zip(frames) {
            out.clear();
            match f {
                Some(f) => {
                    dctx.decompress_to_buffer(black_box(f), &mut out).expect("decoding");
                }
                None => out.extend_from_slice(m),
            }
            black_box(&out);
        }
    })
}

fn us(d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6)
}

fn main() {
    let dirs: Vec<PathBuf> =
        std::env::args().skip(1).filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: cargo bench --bench payload_dict -- DIR... (benches/payload_dict.sh)");
        return;
    }
    let mut paths = Vec::new();
    for d in &dirs {
        files(d, &mut paths);
    }
    let modules: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("reading")).collect();
    let n = modules.len() as u32;
    let raw: usize = modules.iter().map(Vec::len).sum();
    println!("{} modules, {raw} bytes raw (zstd level {LEVEL})", modules.len());
    println!();
    println!(
        "| layout | dictionary | stored | total | set-up per run | decode all {n} | per module |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");

    // (a) Today: one frame per module, no dictionary.
    let mut cctx = Compressor::new(LEVEL).expect("cctx");
    let plain = frames(&modules, &mut cctx);
    let plain_size = stored(&modules, &plain);
    let setup = time(2000, || drop(black_box(Decompressor::new().expect("dctx"))));
    let mut dctx = Decompressor::new().expect("dctx");
    let all = decode_all(&modules, &plain, &mut dctx);
    println!(
        "| per module (today) | - | {plain_size} | {plain_size} | {} | {} | {} |",
        us(setup),
        us(all),
        us(all / n)
    );

    // (b) A dictionary trained on the modules themselves, stored once.
    let samples: &[Vec<u8>] = &modules;
    for dict_size in [4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 110 << 10] {
        let trained = cpu_now();
        let Ok(dict) = zstd::dict::from_samples(samples, dict_size) else {
            println!("| dictionary {dict_size} | training failed | | | | | |");
            continue;
        };
        let training = cpu_now() - trained;
        let mut cctx = Compressor::with_dictionary(LEVEL, &dict).expect("cctx");
        // The dictionary is the payload's, so its ID in every frame says nothing.
        cctx.set_parameter(CParameter::DictIdFlag(false)).expect("dictid");
        let framed = frames(&modules, &mut cctx);
        let size = stored(&modules, &framed);
        // Per run: a context and the dictionary digested once (what a stub would do at the
        // first require; a copy: the by-reference form is zstd-rs's `experimental` feature).
        let setup = time(200, || {
            let d = DecoderDictionary::copy(black_box(&dict));
            let dctx = Decompressor::with_prepared_dictionary(&d).expect("dctx");
            drop(black_box(dctx));
        });
        let prepared = DecoderDictionary::copy(&dict);
        let mut dctx = Decompressor::with_prepared_dictionary(&prepared).expect("dctx");
        let all = decode_all(&modules, &framed, &mut dctx);
        println!(
            "| per module + dictionary (trained in {:.0} ms) | {} | {size} | {} | {} | {} | {} |",
            training.as_secs_f64() * 1e3,
            dict.len(),
            size + dict.len(),
            us(setup),
            us(all),
            us(all / n)
        );
    }

    // (c) One stream: every module decoded to reach any of them.
    let joined: Vec<u8> = modules.concat();
    for level in [LEVEL, 19] {
        let stream = zstd::bulk::compress(&joined, level).expect("compressing");
        let mut dctx = Decompressor::new().expect("dctx");
        let mut out = Vec::with_capacity(joined.len());
        let all = time(20, || {
            out.clear();
            dctx.decompress_to_buffer(black_box(&stream), &mut out).expect("decoding");
        });
        println!(
            "| one stream (level {level}) | - | {} | {} | {} | {} | (all at once) |",
            stream.len(),
            stream.len(),
            us(setup),
            us(all)
        );
    }
}
