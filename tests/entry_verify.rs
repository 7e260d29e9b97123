//! Issue 19, point 4: the index is verified at start-up, each entry before its first use.
//!
//! - A flipped byte in an entry the program uses (the main script, a module, an asset read
//!   whole or by slices) ends the run with one line naming the entry and exit 65, before any of
//!   its bytes are used: no `pcall` catches it, and what ran before it stays as it was.
//! - A flipped byte in an entry the program never uses goes unnoticed at run time; `bundle
//!   verify` (and `bundle inspect`) find it, naming the entry.
//! - A flipped byte in the header, the index, the strings, the records or the footer fails at
//!   start-up, before anything runs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bundle_runtime::format::{Payload, ENTRY_LEN, FOOTER_LEN, HEADER_LEN};
use common::*;

const MAIN: &str = r#"print("start")
local ok, m = pcall(require, "used")
print(ok and m.value or "caught: " .. tostring(m))
local f = assert(io.open("data/used.txt", "rb"))
print(#f:read("*a"))
f:close()
local g = assert(io.open("data/blob.bin", "rb"))
local n = 0
while true do
  local s = g:read(1000)
  if not s then break end
  n = n + #s
end
g:close()
print(n)
if arg[1] == "all" then require("unused") end
"#;

/// The program: a main script that requires `used` and reads two assets (one compressed, one
/// stored raw and read by slices), and carries a module and an asset it never touches.
fn built() -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let text = "line of an asset\n".repeat(500);
    write_tree(
        dir.path(),
        &[
            ("main.lua", MAIN),
            ("used.lua", "return { value = 'used ok' }\n"),
            ("unused.lua", "print('unused ran')\nreturn {}\n"),
            ("data/used.txt", &text),
            ("data/unused.txt", &text),
        ],
    );
    // Incompressible: stored raw, read straight from the mapped payload.
    let blob: Vec<u8> =
        (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("data/blob.bin"), blob).unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q", "--asset", "data"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let app = dir.path().join("app");
    (dir, app)
}

/// What the intact program prints.
const OUTPUT: &str = "start\nused ok\n8500\n20000\n";

/// `image` with the byte at payload offset `at` flipped, written as `dir/name`.
fn flipped(dir: &Path, image: &[u8], name: &str, at: u64) -> PathBuf {
    let range = bundle_runtime::carrier::locate(image).unwrap().range;
    let mut bytes = image.to_vec();
    bytes[range.start + at as usize] ^= 0x20;
    let exe = dir.join(name);
    write_exe(&exe, &bytes);
    exe
}

/// A run that stopped for damage: one line naming the executable and `needle`, exit 65, no
/// signal, and exactly `stdout` printed before.
fn assert_stopped(exe: &Path, needle: &str, stdout: &str) {
    let r = run(Command::new(exe).current_dir(exe.parent().unwrap()));
    assert_eq!(r.signal, None, "{}: killed by a signal", exe.display());
    assert_eq!(r.code, 65, "{}: {:?}", exe.display(), r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
    assert!(r.stderr.contains("damaged bundle payload"), "{:?}", r.stderr);
    assert!(r.stderr.contains(needle), "expected {needle:?} in {:?}", r.stderr);
    let name = exe.file_name().unwrap().to_string_lossy();
    assert!(r.stderr.contains(name.as_ref()), "the message names the executable: {:?}", r.stderr);
    assert_eq!(r.stdout, stdout, "{}", exe.display());
}

/// `bundle verify` and `bundle inspect` refuse `exe`, naming `needle`.
fn assert_verify_refuses(exe: &Path, needle: &str) {
    for sub in ["verify", "inspect"] {
        let r = run(Command::new(bundle_bin()).arg(sub).arg(exe));
        assert_eq!((r.code, r.signal), (1, None), "{sub}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(needle), "{sub}: {needle:?} not in {:?}", r.stderr);
    }
}

#[test]
fn issue19_each_entry_is_verified_before_its_first_use() {
    let (dir, app) = built();
    let image = std::fs::read(&app).unwrap();
    let r = run(Command::new(&app).current_dir(dir.path()));
    assert_eq!((r.code, r.stdout.as_str()), (0, OUTPUT), "{}", r.stderr);
    let ok = run(Command::new(bundle_bin()).arg("verify").arg(&app));
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    let range = bundle_runtime::carrier::locate(&image).unwrap().range;
    let p = Payload::parse(&image[range]).unwrap();
    let mut seen = Vec::new();
    for (i, e) in p.entries().map(Result::unwrap).enumerate() {
        let name = String::from_utf8_lossy(e.name).into_owned();
        assert!(!e.stored.is_empty(), "{name}");
        let exe =
            flipped(dir.path(), &image, &format!("flip{i}"), e.offset + e.stored.len() as u64 / 2);
        let label =
            if e.is_main() { "the main script".to_owned() } else { format!("entry '{name}'") };
        let needle = format!("{label} is damaged: its checksum does not match its data");
        // (a) Used: stopped before the entry's bytes are used, whatever ran before.
        let before = match name.as_str() {
            "" => Some(""),
            "used" => Some("start\n"),
            "?data/used.txt" => Some("start\nused ok\n"),
            "?data/blob.bin" => Some("start\nused ok\n8500\n"),
            _ => None,
        };
        if let Some(before) = before {
            assert_stopped(&exe, &needle, before);
        } else {
            // (b) Unused: the program runs as built; verify finds the damage.
            let r = run(Command::new(&exe).current_dir(dir.path()));
            assert_eq!((r.code, r.stdout.as_str()), (0, OUTPUT), "{name}: {}", r.stderr);
            // Until the program reaches it.
            if name == "unused" {
                let mut cmd = Command::new(&exe);
                cmd.current_dir(dir.path()).arg("all");
                let r = run(&mut cmd);
                assert_eq!((r.code, r.stdout.as_str()), (65, OUTPUT), "{}", r.stderr);
                assert!(r.stderr.contains(&needle), "{}", r.stderr);
            }
        }
        assert_verify_refuses(&exe, &needle);
        seen.push(name);
    }
    for want in ["", "used", "unused", "?data/used.txt", "?data/blob.bin", "?data/unused.txt"] {
        assert!(seen.iter().any(|n| n == want), "no entry {want:?} in {seen:?}");
    }
}

#[test]
fn issue19_damage_outside_the_data_fails_at_start_up() {
    let (dir, app) = built();
    let image = std::fs::read(&app).unwrap();
    let range = bundle_runtime::carrier::locate(&image).unwrap().range;
    let total = range.len() as u64;
    let p = Payload::parse(&image[range]).unwrap();
    let data_start = p.entries().map(|e| e.unwrap().offset).min().unwrap();
    let index_end = (HEADER_LEN + p.len() * ENTRY_LEN) as u64;
    let places = [
        ("header", 20),
        ("an entry's name offset", HEADER_LEN as u64 + ENTRY_LEN as u64 + 1),
        ("an entry's checksum", HEADER_LEN as u64 + 2 * ENTRY_LEN as u64 - 3),
        ("strings", index_end + 2),
        ("records", data_start - 2),
        ("footer checksum", total - FOOTER_LEN as u64 + 1),
        ("footer length", total - 16),
    ];
    for (i, (what, at)) in places.into_iter().enumerate() {
        let exe = flipped(dir.path(), &image, &format!("start{i}"), at);
        let r = run(Command::new(&exe).current_dir(dir.path()));
        assert_eq!(r.signal, None, "{what}");
        assert_eq!(r.code, 65, "{what}: {:?}", r.stderr);
        assert!(r.stdout.is_empty(), "{what}: ran part of the program: {:?}", r.stdout);
        assert_eq!(r.stderr.lines().count(), 1, "{what}: {:?}", r.stderr);
        let r = run(Command::new(bundle_bin()).arg("verify").arg(&exe));
        assert_eq!(r.code, 1, "{what}: {}", r.stdout);
    }
}

/// Native entries (a C module and the library it needs, both packed) are verified before they
/// are written anywhere for the dynamic loader: a damaged one ends the run, exit 65, and no
/// file of it appears in the private directory of the fallback path.
#[test]
fn issue19_native_libraries_are_verified_before_they_are_loaded() {
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print('start')\nprint(pcall(require, 'luv'))\n")]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let app = dir.path().join("app");
    let image = std::fs::read(&app).unwrap();
    let range = bundle_runtime::carrier::locate(&image).unwrap().range;
    let p = Payload::parse(&image[range]).unwrap();
    let natives: Vec<_> = p
        .entries()
        .map(Result::unwrap)
        .filter(|e| e.kind == bundle_runtime::format::Kind::Native)
        .collect();
    let names: Vec<String> =
        natives.iter().map(|e| String::from_utf8_lossy(e.name).into_owned()).collect();
    assert!(names.iter().any(|n| n == "luv"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("libuv")), "{names:?}");
    for (i, e) in natives.iter().enumerate() {
        let name = &names[i];
        let exe = flipped(dir.path(), &image, &format!("native{i}"), e.offset + 100);
        let needle = format!("entry '{name}' is damaged");
        assert_stopped(&exe, &needle, "start\n");
        // The fallback path writes nothing of it either.
        let private = tempdir();
        let r = run(Command::new(&exe)
            .env("XDG_RUNTIME_DIR", private.path())
            .env("BUNDLE_NO_MEMFD", "1"));
        assert_eq!((r.code, r.stdout.as_str()), (65, "start\n"), "{}", r.stderr);
        let written: Vec<_> = walk(private.path());
        assert!(
            written.iter().all(|f| !f.contains(&common_label(name))),
            "{name} was written: {written:?}"
        );
        assert_verify_refuses(&exe, &needle);
    }
}

/// Every file under `dir`, as paths.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// The part of a library's file name the runtime takes from its entry name (native.rs's label).
fn common_label(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' })
        .collect()
}

/// Where `body` (a slice of `payload`) starts, as an offset into it.
fn offset_in(payload: &[u8], body: &[u8]) -> u64 {
    let at = body.as_ptr() as usize - payload.as_ptr() as usize;
    assert!(at + body.len() <= payload.len());
    at as u64
}

/// The bodies of the sealed records (docs/FORMAT.md, "Sealed records"): the asset overlay and
/// the MANIFEST, as (record name, offset of the body's middle byte in the payload).
fn sealed_bodies(image: &[u8]) -> Vec<(&'static str, u64)> {
    use bundle_runtime::format::Record;
    let range = bundle_runtime::carrier::locate(image).unwrap().range;
    let payload = &image[range];
    let p = Payload::parse(payload).unwrap();
    let mut out = Vec::new();
    for r in p.records() {
        let r = r.unwrap();
        if let Record::AssetsOverlay(s) | Record::Manifest(s) = r {
            let body = s.verified(r.name()).unwrap();
            assert!(body.len() > 100, "{}: {} bytes", r.name(), body.len());
            out.push((r.name(), offset_in(payload, body) + body.len() as u64 / 2));
        }
    }
    let names: Vec<_> = out.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["ASSETS_OVERLAY", "MANIFEST"]);
    out
}

/// The asset overlay and the MANIFEST are sealed records: start-up does not hash them. Damage
/// in the overlay stops a run that uses a file, before the overlay is loaded (exit 65, one
/// line naming the record), and not a run that never uses one; damage
/// in the MANIFEST, which the runtime never reads, stops no run. `bundle verify` and `bundle
/// inspect` check both, naming the record.
#[test]
fn issue19_sealed_records_are_verified_when_used() {
    let (dir, app) = built();
    let image = std::fs::read(&app).unwrap();
    // The same assets, and a main script that never uses a file.
    std::fs::write(dir.path().join("hello.lua"), "print('hello')\n").unwrap();
    let r = bundle(dir.path(), &["hello.lua", "-o", "hello", "-q", "--asset", "data"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hello = std::fs::read(dir.path().join("hello")).unwrap();

    for (i, (record, at)) in sealed_bodies(&image).into_iter().enumerate() {
        let needle = format!("record {record} is damaged: its checksum does not match its data");
        let exe = flipped(dir.path(), &image, &format!("sealed{i}"), at);
        if record == "ASSETS_OVERLAY" {
            // The first use of a file is the `io.open` (the `require` before it is served by
            // the bundle's own searcher, which needs no overlay).
            assert_stopped(&exe, &needle, "start\nused ok\n");
        } else {
            let r = run(Command::new(&exe).current_dir(dir.path()));
            assert_eq!((r.code, r.stdout.as_str()), (0, OUTPUT), "{record}: {}", r.stderr);
        }
        assert_verify_refuses(&exe, &needle);
    }
    for (i, (record, at)) in sealed_bodies(&hello).into_iter().enumerate() {
        let needle = format!("record {record} is damaged: its checksum does not match its data");
        let exe = flipped(dir.path(), &hello, &format!("hello_sealed{i}"), at);
        let r = run(Command::new(&exe).current_dir(dir.path()));
        assert_eq!((r.code, r.stdout.as_str()), (0, "hello\n"), "{record}: {}", r.stderr);
        assert_verify_refuses(&exe, &needle);
    }
    // The sealed record's own checksum, and its length, are covered at start-up.
    for (i, (record, at)) in sealed_bodies(&hello).into_iter().enumerate() {
        let range = bundle_runtime::carrier::locate(&hello).unwrap().range;
        let p = Payload::parse(&hello[range.clone()]).unwrap();
        let body = p
            .records()
            .map(Result::unwrap)
            .find_map(|r| match r {
                bundle_runtime::format::Record::AssetsOverlay(s)
                | bundle_runtime::format::Record::Manifest(s)
                    if r.name() == record =>
                {
                    Some(offset_in(&hello[range.clone()], s.unverified()))
                }
                _ => None,
            })
            .unwrap();
        assert!(body < at);
        // The value is the checksum (8 bytes) then the body, after the tag (2) and length (4).
        for (j, field) in [body - 11, body - 3].into_iter().enumerate() {
            // A byte of the length, then of the checksum.
            let exe = flipped(dir.path(), &hello, &format!("hello_head{i}_{j}"), field);
            let r = run(Command::new(&exe).current_dir(dir.path()));
            assert_eq!((r.code, r.stdout.as_str()), (65, ""), "{record}: {}", r.stderr);
            assert!(r.stderr.contains("damaged bundle payload"), "{}", r.stderr);
        }
    }
}
