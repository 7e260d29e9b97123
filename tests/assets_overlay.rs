//! The asset overlay (runtime/lua/assets.lua, issue 15) against the disk, before any host loads
//! it: `luajit` runs tests/lua/assets_overlay/driver.lua once with the overlay installed (through
//! its boot, runtime/lua/assets_boot.lua, which loads it on first use) over a fake `raw` (the
//! host's primitives over the data set in memory, as the contract at the top of assets.lua
//! says) and once on a real copy of the same files with no overlay. Every case of
//! tests/lua/assets_overlay/cases.lua must print the same through both: io, loadfile and dofile
//! (tracebacks included), require, luv in sync and callback forms, LuaFileSystem, error strings
//! for missing paths, the development override. Both Debian's luajit (the C host's library) and
//! the stub's own LuaJIT run it, as their io libraries differ in details. A last run checks what
//! the disk cannot show: refused writes, the `bundle/assets` module, how little `raw` is asked.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        let r = driver(&luajit(), &root, &["setup", utf8(&root)]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "driver.lua setup: {r:?}");
        Trees { _dir: dir, root }
    })
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// `LUAJIT driver.lua ARGS` in `cwd`, with luv and lfs reachable and nothing else on the paths.
fn driver(luajit: &Path, cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(luajit);
    cmd.current_dir(cwd)
        .arg(repo("tests/lua/assets_overlay/driver.lua"))
        .args(args)
        .env("LUA_PATH", "/nonexistent/?.lua")
        .env("LUA_CPATH", LUA_CPATH)
        .env("ASSETS_LUA", repo("runtime/lua/assets.lua"))
        .env("ASSETS_BOOT", repo("runtime/lua/assets_boot.lua"));
    for var in ["LUA_INIT", "LUA_INIT_5_1", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("BUNDLE_ASSETS_OVERRIDE");
    // A name of its own for what a run writes (the runs of the tests share the trees).
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    cmd.env("RUN_ID", RUNS.fetch_add(1, Ordering::Relaxed).to_string());
    let mut r = run(&mut cmd);
    let prog = utf8(luajit);
    r.stdout = normalize(&r.stdout, prog);
    r.stderr = normalize(&r.stderr, prog);
    r
}

/// Runs `section` over the assets (working directory fakecwd, absolute mounts under abs-fake,
/// which does not exist on disk).
fn fake(luajit: &Path, section: &str, extra: &[&str]) -> Run {
    let root = &trees().root;
    let (cwd, abs) = (root.join("fakecwd"), root.join("abs-fake"));
    let mut args = vec!["run", "fake", section, utf8(root), utf8(&cwd), utf8(&abs)];
    args.extend(extra);
    driver(luajit, &cwd, &args)
}

/// Runs `section` on the disk copy in `cwd`, absolute files under `abs`.
fn disk(luajit: &Path, section: &str, cwd: &str, abs: &str) -> Run {
    let root = &trees().root;
    let (cwd, abs) = (root.join(cwd), root.join(abs));
    driver(luajit, &cwd, &["run", "disk", section, utf8(root), utf8(&cwd), utf8(&abs)])
}

/// Runs `section` both ways (in parallel) and compares.
fn compare(luajit: &Path, section: &str, disk_cwd: &str, disk_abs: &str) {
    let (overlaid, on_disk) = std::thread::scope(|s| {
        let f = s.spawn(|| fake(luajit, section, &[]));
        (f.join().unwrap(), disk(luajit, section, disk_cwd, disk_abs))
    });
    assert_same(&format!("{section} [{}]", luajit.display()), &overlaid, &on_disk);
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
    compare(&luajit(), "main", "diskcwd", "abs-real");
}

#[test]
fn overlay_reads_like_the_disk_on_the_stubs_luajit() {
    compare(&reference_luajit(), "main", "diskcwd", "abs-real");
}

#[test]
fn override_directory_reads_like_the_disk() {
    compare(&luajit(), "override", "diskovr", "abs-real-ovr");
}

#[test]
fn writes_refused_api_module_and_raw_calls() {
    for (section, extra, cases) in [("expect", &[][..], 5), ("expect_noabs", &["noabs"][..], 1)] {
        let r = fake(&luajit(), section, extra);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{section}: {r:?}");
        assert!(r.stdout.ends_with("expect: 0 failure(s)\n"), "{section}:\n{}", r.stdout);
        assert_eq!(r.stdout.matches("\n== ").count() + 1, cases, "{section}:\n{}", r.stdout);
    }
}
