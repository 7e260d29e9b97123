//! Issue 19, point 2: the statically linked stub. A program that loads no C code is linked
//! statically by default (glibc inside, no `PT_INTERP`); `--static`/`--dynamic` force the
//! choice; a C module asked for at run time fails with an error that names `--dynamic`; the
//! executable runs in a root filesystem that holds nothing else; `inspect`, the stack check
//! and `bundle oci` treat it as the self-contained file it is.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Whether `exe` asks for a dynamic loader.
fn has_interp(exe: &Path) -> bool {
    let bytes = std::fs::read(exe).unwrap();
    goblin::elf::Elf::parse(&bytes).unwrap().interpreter.is_some()
}

/// Bundles `main.lua` of `dir` to `dir/app` with `extra` flags; returns the run.
fn build(dir: &Path, extra: &[&str]) -> (Run, PathBuf) {
    let exe = dir.join("app");
    let mut args = vec!["main.lua", "-o", "app"];
    args.extend(extra);
    (bundle(dir, &args), exe)
}

/// Runs `exe` and `luajit main.lua` with `args` in `dir`; both must agree on stdout, stderr
/// and exit status (program names normalised).
fn same_as_luajit(dir: &Path, exe: &Path, args: &[&str]) -> Run {
    let ours = normalize_run(run(Command::new(exe).current_dir(dir).args(args)), exe);
    let lj = luajit();
    let theirs =
        normalize_run(run(Command::new(&lj).current_dir(dir).arg("main.lua").args(args)), &lj);
    assert_eq!(ours.stdout, theirs.stdout, "stdout");
    assert_eq!(ours.stderr, theirs.stderr, "stderr");
    assert_eq!(ours.code, theirs.code, "exit status");
    ours
}

fn normalize_run(mut r: Run, prog: &Path) -> Run {
    let name = prog.to_string_lossy();
    r.stdout = normalize(&r.stdout, &name);
    r.stderr = normalize(&r.stderr, &name);
    r
}

const PURE: &str = r##"
local greet = require "greet"
print(greet(arg[1] or "world"), #arg, select("#", ...))
io.stderr:write("to stderr\n")
if arg[2] == "fail" then error("failed on purpose") end
os.exit(tonumber(arg[3]) or 0)
"##;

#[test]
fn a_pure_lua_program_is_static_by_default_and_behaves_like_luajit() {
    let dir = app(&[("main.lua", PURE), ("greet.lua", "return function(n) return 'hi ' .. n end")]);
    let (b, exe) = build(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("static)"), "the summary names the linkage: {}", b.stderr);
    assert!(!has_interp(&exe), "a static executable has no PT_INTERP");
    for args in [&[][..], &["you", "x", "3"], &["a", "fail"]] {
        same_as_luajit(dir.path(), &exe, args);
    }
    // The same program with --dynamic has a dynamic loader, and behaves the same.
    let (b, exe) = build(dir.path(), &["--dynamic"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("dynamic)"), "{}", b.stderr);
    assert!(has_interp(&exe));
    same_as_luajit(dir.path(), &exe, &["a", "fail"]);
}

#[test]
fn what_loads_c_code_makes_the_build_dynamic_and_says_why() {
    let cases = [
        ("local ffi = require 'ffi'\nprint(type(ffi.C))\n", "main.lua:1 requires \"ffi\""),
        ("local f = package.loadlib\nprint(type(f))\n", "main.lua:1 uses package.loadlib"),
        ("local lfs = require 'lfs'\nprint(type(lfs.currentdir()))\n", "C module lfs"),
        (
            "local ok = pcall(require, 'l' .. 'fs')\nprint(ok)\n",
            "main.lua:1 requires a name computed at run time",
        ),
        (
            "local ok = pcall(require, 'not.here')\nprint(ok)\n",
            "not.here is left to the run-time search",
        ),
    ];
    for (src, why) in cases {
        let dir = app(&[("main.lua", src)]);
        let (b, exe) = build(dir.path(), &[]);
        assert_eq!(b.code, 0, "{src}: {}", b.stderr);
        assert!(b.stderr.contains("dynamic because") && b.stderr.contains(why), "{}", b.stderr);
        assert!(has_interp(&exe), "{src}");
        same_as_luajit(dir.path(), &exe, &[]);
    }
    // A module left out with -x is loaded from the machine it runs on: maybe a C module.
    let dir = app(&[("main.lua", "print(require('socket').VERSION ~= nil)\n")]);
    let (b, exe) = build(dir.path(), &["-x", "socket"]);
    assert!(b.stderr.contains("-x socket leaves it to the run-time search"), "{}", b.stderr);
    same_as_luajit(dir.path(), &exe, &[]);
    // The interpreter may load any C module.
    let dir = tempdir();
    let b = bundle(dir.path(), &["-o", "lj"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("carries the interpreter"), "{}", b.stderr);
    assert!(has_interp(&dir.path().join("lj")));
}

#[test]
fn static_with_a_c_module_is_a_clear_error_and_writes_nothing() {
    let dir = app(&[("main.lua", "local lfs = require 'lfs'\nprint(lfs)\n")]);
    let (b, exe) = build(dir.path(), &["--static"]);
    assert_eq!(b.code, 1, "{}", b.stderr);
    assert!(
        b.stderr.contains("--static: lfs is a C module")
            && b.stderr.contains("lfs.so")
            && b.stderr.contains("-x lfs"),
        "{}",
        b.stderr
    );
    assert!(!exe.exists(), "no output is left behind");
    // Conflicting flags are refused by the command line.
    for flags in [&["--static", "--dynamic"][..], &["--static", "--stub", "main.lua"]] {
        let (b, _) = build(dir.path(), flags);
        assert_eq!(b.code, 2, "{flags:?}: {}", b.stderr);
        assert!(b.stderr.contains("cannot be used with"), "{}", b.stderr);
    }
}

/// `--static` with modules found at run time: pure Lua loads from disk as usual; a C module
/// fails with an error naming `--dynamic`; a missing one reads exactly as luajit's message.
#[test]
fn a_static_executable_loads_lua_from_disk_and_names_dynamic_for_c_modules() {
    let src = r#"
local name = ...
local ok, err = pcall(require, name)
print(ok, err)
local lib = package["load" .. "lib"]
print(lib("/usr/lib/x86_64-linux-gnu/lua/5.1/lfs.so", "luaopen_lfs"))
"#;
    let dir = app(&[("main.lua", src), ("ondisk.lua", "return 'from disk'")]);
    let (b, _) = build(dir.path(), &[]);
    assert!(b.stderr.contains("dynamic because"), "{}", b.stderr);
    let (b, exe) = build(dir.path(), &["--static"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(!has_interp(&exe), "{}", b.stderr);
    // From the program's directory: ./ondisk.lua is on package.path.
    let r = run(Command::new(&exe).current_dir(dir.path()).arg("ondisk"));
    assert!(r.stdout.starts_with("true\tfrom disk\n"), "{}", r.stdout);
    for module in ["lfs", "lpeg.x"] {
        let r = run(Command::new(&exe).current_dir(dir.path()).arg(module));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stdout.contains(&format!("false\terror loading module '{module}' from file '"))
                && r.stdout.contains("statically linked and cannot load C modules")
                && r.stdout.contains("--dynamic"),
            "{}",
            r.stdout
        );
    }
    assert!(r_line_absent(&exe, dir.path()), "package.loadlib fails as Lua does without dlopen");
    // A module found nowhere: the message lists the same files as luajit's, plus the bundle.
    let ours = run(Command::new(&exe).current_dir(dir.path()).arg("nosuch.mod"));
    let theirs =
        run(Command::new(luajit()).current_dir(dir.path()).args(["main.lua", "nosuch.mod"]));
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains("no file") && !l.contains("luajit-2.1"))
            .map(str::to_owned)
            .collect()
    };
    assert!(!lines(&theirs.stdout).is_empty());
    assert_eq!(lines(&ours.stdout), lines(&theirs.stdout));
}

fn r_line_absent(exe: &Path, dir: &Path) -> bool {
    let r = run(Command::new(exe).current_dir(dir).arg("lfs"));
    r.stdout.lines().any(|l| {
        l.starts_with("nil\t") && l.ends_with("\tabsent") && l.contains("bundle it with --dynamic")
    })
}

#[test]
fn a_static_executable_runs_in_an_empty_root_filesystem() {
    let dir = app(&[("main.lua", PURE), ("greet.lua", "return function(n) return 'hi ' .. n end")]);
    let (b, exe) = build(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    if !is_root() {
        eprintln!(
            "SKIPPED a_static_executable_runs_in_an_empty_root_filesystem: chroot needs root"
        );
        return;
    }
    let root = tempdir();
    std::fs::copy(&exe, root.path().join("app")).unwrap();
    assert_eq!(files_under(root.path()).len(), 1, "the root holds the executable alone");
    let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot");
    let r = run(Command::new(chroot).arg(root.path()).args(["/app", "there", "fail", "7"]));
    assert_eq!(r.stdout, "hi there\t3\t3\n");
    assert!(
        r.stderr.contains("to stderr\n") && r.stderr.contains("failed on purpose"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("stack traceback:"), "{}", r.stderr);
    assert_eq!(r.code, 1);
}

#[test]
fn inspect_stacks_and_oci_see_a_self_contained_file() {
    let dir = app(&[("main.lua", "print('hi')")]);
    let (b, exe) = build(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("statically linked"), "{}", r.stdout);
    let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe).arg("--json"));
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["executable"]["interpreter"], serde_json::Value::Null, "{}", r.stdout);
    assert_eq!(json["executable"]["needed"], serde_json::json!([]), "{}", r.stdout);
    for stack in ["heroku-22", "heroku-24"] {
        let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe).args(["--stack", stack]));
        assert_eq!(r.code, 0, "{stack}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("runs on {stack}")), "{}", r.stderr);
    }
    // The image's layer holds the executable and no library.
    let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
        "oci",
        "app",
        "-o",
        "image.tar",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let unpacked = dir.path().join("image");
    std::fs::create_dir_all(&unpacked).unwrap();
    let t = run(Command::new("tar")
        .arg("-xf")
        .arg(dir.path().join("image.tar"))
        .arg("-C")
        .arg(&unpacked));
    assert_eq!(t.code, 0, "{}", t.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let layer = std::fs::read(unpacked.join(manifest[0]["Layers"][0].as_str().unwrap())).unwrap();
    let files: Vec<String> = tgz_entries(&layer)
        .into_iter()
        .filter(|(name, _, bytes)| !name.ends_with('/') && !bytes.is_empty())
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(files, ["app/app"], "the layer ships the executable alone");
}
