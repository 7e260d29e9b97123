//! The asset overlay (runtime/lua/assets.lua, issue 15) against the disk, before any host loads
//! it: Debian's `luajit` runs tests/lua/assets_overlay/driver.lua once with the overlay installed
//! over a fake `raw` (the host's primitives over the data set in memory, as the contract at the
//! top of assets.lua says) and once on a real copy of the same files with no overlay. Every case
//! of tests/lua/assets_overlay/cases.lua must print the same through both: io, loadfile and
//! dofile (tracebacks included), luv in sync and callback forms, LuaFileSystem, error strings for
//! missing paths, the development override. A last run checks what the disk cannot show: refused
//! writes, the `bundle/assets` module, and how little `raw` is asked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// Where Debian's lua-luv and lua-filesystem put luv.so and lfs.so (.ci/run installs them).
const LUA_CPATH: &str = "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The trees `driver.lua setup` writes, under one canonical temporary directory (the cases
/// print paths relative to it, so no symlink may hide in it).
struct Trees {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn trees() -> &'static Trees {
    static TREES: OnceLock<Trees> = OnceLock::new();
    TREES.get_or_init(|| {
        let dir = tempdir();
        let root = std::fs::canonicalize(dir.path()).expect("canonical temporary directory");
        let r = driver(&root, &["setup", utf8(&root)]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "driver.lua setup: {r:?}");
        Trees { _dir: dir, root }
    })
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// `luajit driver.lua ARGS` in `cwd`, with luv and lfs reachable and nothing else on the paths.
fn driver(cwd: &Path, args: &[&str]) -> Run {
    let luajit = luajit();
    let mut cmd = Command::new(&luajit);
    cmd.current_dir(cwd)
        .arg(repo("tests/lua/assets_overlay/driver.lua"))
        .args(args)
        .env("LUA_PATH", "/nonexistent/?.lua")
        .env("LUA_CPATH", LUA_CPATH)
        .env("ASSETS_LUA", repo("runtime/lua/assets.lua"));
    for var in ["LUA_INIT", "LUA_INIT_5_1", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("BUNDLE_ASSETS_OVERRIDE");
    let mut r = run(&mut cmd);
    let prog = utf8(&luajit);
    r.stdout = normalize(&r.stdout, prog);
    r.stderr = normalize(&r.stderr, prog);
    r
}

/// Runs `section` over the assets (working directory fakecwd, absolute mounts under abs-fake,
/// which does not exist on disk).
fn fake(section: &str, extra: &[&str]) -> Run {
    let root = &trees().root;
    let (cwd, abs) = (root.join("fakecwd"), root.join("abs-fake"));
    let mut args = vec!["run", "fake", section, utf8(root), utf8(&cwd), utf8(&abs)];
    args.extend(extra);
    driver(&cwd, &args)
}

/// Runs `section` on the disk copy in `cwd`, absolute files under `abs`.
fn disk(section: &str, cwd: &str, abs: &str) -> Run {
    let root = &trees().root;
    let (cwd, abs) = (root.join(cwd), root.join(abs));
    driver(&cwd, &["run", "disk", section, utf8(root), utf8(&cwd), utf8(&abs)])
}

/// The output of each case, by the name its "== " line gives.
fn cases(out: &str) -> Vec<(String, String)> {
    out.split("== ")
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (name, body) = c.split_once('\n').unwrap_or((c, ""));
            (name.to_owned(), body.to_owned())
        })
        .collect()
}

fn assert_same(section: &str, overlaid: &Run, on_disk: &Run) {
    for (side, r) in [("overlay", overlaid), ("disk", on_disk)] {
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{section} [{side}] failed: {r:?}");
    }
    let (got, want) = (cases(&overlaid.stdout), cases(&on_disk.stdout));
    assert!(want.len() >= 3, "{section}: the disk side ran no cases: {on_disk:?}");
    let names = |c: &[(String, String)]| c.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want), "{section}: not the same cases ran");
    let differing: Vec<String> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g.1 != w.1)
        .map(|((name, g), (_, w))| format!("== {name}\n-- with the assets:\n{g}-- on disk:\n{w}"))
        .collect();
    assert!(
        differing.is_empty(),
        "{} case(s) of {section} differ from the disk:\n{}",
        differing.len(),
        differing.join("\n")
    );
}

#[test]
fn overlay_reads_like_the_disk() {
    let (overlaid, on_disk) = std::thread::scope(|s| {
        let f = s.spawn(|| fake("main", &[]));
        (f.join().unwrap(), disk("main", "diskcwd", "abs-real"))
    });
    assert_same("main", &overlaid, &on_disk);
}

#[test]
fn override_directory_reads_like_the_disk() {
    let (overlaid, on_disk) = std::thread::scope(|s| {
        let f = s.spawn(|| fake("override", &[]));
        (f.join().unwrap(), disk("override", "diskovr", "abs-real-ovr"))
    });
    assert_same("override", &overlaid, &on_disk);
}

#[test]
fn writes_refused_api_module_and_raw_calls() {
    for (section, extra, cases) in [("expect", &[][..], 5), ("expect_noabs", &["noabs"][..], 1)] {
        let r = fake(section, extra);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{section}: {r:?}");
        assert!(r.stdout.ends_with("expect: 0 failure(s)\n"), "{section}:\n{}", r.stdout);
        assert_eq!(r.stdout.matches("\n== ").count() + 1, cases, "{section}:\n{}", r.stdout);
    }
}
