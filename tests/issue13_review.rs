//! Issue 13, from the review of its reliability changes: each test guards a bug the review found
//! (extract --force refusals, many staged files interrupted, outputs clashing with the --cc
//! executable, a crafted stub, an ignored SIGHUP).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// A program requiring `n` modules, bundled to `dir/app`.
fn app_with_modules(dir: &Path, n: usize) {
    let mut main = String::new();
    for i in 1..=n {
        std::fs::write(dir.join(format!("m{i}.lua")), format!("return {i}\n")).unwrap();
        main.push_str(&format!("require 'm{i}'\n"));
    }
    std::fs::write(dir.join("main.lua"), main).unwrap();
    let r = bundle(dir, &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn temp_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".bundle-") {
            found.push(name);
        }
        if e.file_type().unwrap().is_dir() {
            found.extend(temp_files(&e.path()));
        }
    }
    found
}

/// README: "`extract` decodes every entry and writes every file to a temporary name before the
/// first rename: a refusal or a bad entry leaves the directory as it was". With `--force`, a
/// target that is a FIFO (or a directory) is refused only in the rename loop, after earlier
/// entries were already renamed over existing files (src/inspect/extract.rs, `inputs.check` in the
/// second phase).
#[test]
fn extract_force_refusal_leaves_the_directory_as_it_was() {
    let dir = tempdir();
    app_with_modules(dir.path(), 9);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("main.luac"), "OLD").unwrap();
    let fifo = out.join("m9.luac");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let r = bundle(dir.path(), &["extract", "app", "-d", "out", "--force"]);
    assert_eq!(r.code, 1, "refused: {r:?}");
    assert_eq!(std::fs::read(out.join("main.luac")).unwrap(), b"OLD", "main.luac replaced: {r:?}");
    assert!(!out.join("m1.luac").exists(), "m1.luac written although extract failed: {r:?}");
}

/// The signal handler's table has 16 slots (src/base/cleanup.rs `SLOTS`), and `extract` registers one
/// per staged file: with more entries, an interrupted extract leaves `.bundle-*` files behind.
/// strace injects SIGINT at the first rename, when every file is staged.
#[test]
fn interrupted_extract_of_many_entries_leaves_no_temporary_file() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("strace not installed: skipped");
        return;
    }
    let dir = tempdir();
    app_with_modules(dir.path(), 20);
    let r = run(Command::new("strace")
        .current_dir(dir.path())
        .args(["-f", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2"])
        .args(["-e", "inject=rename,renameat,renameat2:signal=SIGINT:when=1"])
        .arg(bundle_bin())
        .args(["extract", "app", "-d", "out"]));
    assert_eq!(r.code, 130, "interrupted by SIGINT: {r:?}");
    let left = temp_files(&dir.path().join("out"));
    assert!(left.is_empty(), "temporary files left after SIGINT: {left:?}");
}

/// `nohup bundle ...` (SIGHUP ignored on entry) is killed by SIGHUP: cleanup::install replaces
/// an inherited SIG_IGN with its handler (gcc, make, sort keep a signal that was ignored).
#[test]
fn an_ignored_sighup_stays_ignored() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[("main.lua", "local t = os.time() while os.time() - t < 2 do end print('done')\n")],
    );
    let mut cmd = bundle_cmd(dir.path(), &["main.lua", "-o", "app", "--trace", "--"]);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    // SAFETY: signal(2) is async-signal-safe; this is what nohup does before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nohup'd build killed by SIGHUP: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("app").exists());
}

fn cc_works() -> bool {
    Command::new("pkg-config").args(["--exists", "luajit"]).status().is_ok_and(|s| s.success())
}

/// `--emit-c -o app.c --cc --depfile app`: the plan compares the depfile with the C file only,
/// not with the `--cc` executable (src/plan.rs), so the executable just compiled is replaced by
/// the depfile and the build reports success.
#[test]
fn depfile_never_replaces_the_cc_executable() {
    if !cc_works() {
        eprintln!("no LuaJIT development files: skipped");
        return;
    }
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print('hello')\n")]);
    let r =
        bundle(dir.path(), &["main.lua", "--emit-c", "-o", "app.c", "--cc", "--depfile", "app"]);
    let app = dir.path().join("app");
    if r.code == 0 {
        let mode = std::fs::metadata(&app).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "app is the depfile, not the executable: {r:?}");
    }
}

/// The same with `--save-trace app`.
#[test]
fn save_trace_never_replaces_the_cc_executable() {
    if !cc_works() {
        eprintln!("no LuaJIT development files: skipped");
        return;
    }
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print('hello')\n")]);
    let r = bundle(
        dir.path(),
        &["main.lua", "--emit-c", "-o", "app.c", "--cc", "--trace", "--save-trace", "app", "--"],
    );
    let app = dir.path().join("app");
    if r.code == 0 {
        let mode = std::fs::metadata(&app).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "app is the trace list, not the executable: {r:?}");
    }
}

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// A `--stub` whose program header has p_vaddr + p_memsz past 2^64 makes `emit::attach`
/// overflow (src/output/emit.rs, the fold over segments): a panic, and since `main` is an
/// `extern "C"` function, an abort (SIGABRT) rather than an error. The stub is made from a
/// bundled executable: its payload's PT_LOAD turned back into the PT_NOTE it was, its `.bundle`
/// section renamed, and GNU_STACK given an address near the top.
#[test]
fn a_crafted_stub_is_an_error_not_a_crash() {
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print(1)\n")]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut b = std::fs::read(dir.path().join("app")).unwrap();
    let phoff = u64_at(&b, 0x20) as usize;
    let (phentsize, phnum) = (u16_at(&b, 0x36), u16_at(&b, 0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let p_offset = u64_at(&b, o + 8) as usize;
        if p_type == 1 && b[p_offset..p_offset + 8] == bundle_runtime::format::MAGIC {
            b[o..o + 4].copy_from_slice(&4u32.to_le_bytes()); // PT_NOTE again
        }
        if p_type == 0x6474_e551 {
            b[o + 16..o + 24].copy_from_slice(&0xffff_ffff_ffff_f000u64.to_le_bytes());
            b[o + 40..o + 48].copy_from_slice(&0x2000u64.to_le_bytes());
        }
    }
    let (shoff, shentsize, shstrndx) =
        (u64_at(&b, 0x28) as usize, u16_at(&b, 0x3a), u16_at(&b, 0x3e));
    let strtab = shoff + shstrndx * shentsize;
    let (str_off, str_len) = (u64_at(&b, strtab + 24) as usize, u64_at(&b, strtab + 32) as usize);
    let names = &mut b[str_off..str_off + str_len];
    let at = names.windows(9).position(|w| w == b"\0.bundle\0").expect(".bundle in .shstrtab");
    names[at + 1..at + 8].copy_from_slice(b".bundlx");
    std::fs::write(dir.path().join("stub"), &b).unwrap();
    let r = bundle(dir.path(), &["main.lua", "--stub", "stub", "-o", "out"]);
    assert!(r.signal.is_none() && r.code == 1, "crafted stub: {r:?}");
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}
