//! Issue 17, the bundler side: one executable, several programs, made from the command line
//! (`--entry`, `--default`, `--args`, `--entry-args`, `--hermetic`) and run through the stub
//! and the C back end: which entry runs (link name, first argument, default), what `arg` and
//! `...` hold compared with `luajit` running that entry's script with the same effective
//! arguments, baked arguments with and without `...` and `${VAR:-x}`, hermetic mode against a
//! hostile `LUA_PATH`; modules shared and judged per entry; `inspect`, `links`, the Heroku slug
//! (both processes run from its unpacked root filesystem) and the OCI image's `Cmd`; and every
//! bad input, refused with nothing written. tests/entries_runtime.rs drives the runtime side
//! with crafted payloads.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// What each entry's script prints: its name, its chunk name (as `debug.getinfo` sees it),
/// the shared module's answer, `arg[1..#arg]` and `...`, each a count and the values joined by
/// `|` (`arg[0]` is the executable by design, checked separately).
const PROBE: &str = r##"
local shared = require "shared"
local t = {}
for i = 1, #arg do t[#t + 1] = arg[i] end
print(NAME, debug.getinfo(1, "S").source, shared.hello(NAME), #arg, table.concat(t, "|"),
  select("#", ...), table.concat({ ... }, "|"))
"##;

/// The app: `web.lua`, `worker.lua`, `release.lua` (each the probe), and `shared.lua`, which
/// they all require at load time.
fn write_app(dir: &Path) {
    for name in ["web", "worker", "release"] {
        std::fs::write(dir.join(format!("{name}.lua")), format!("local NAME = {name:?}{PROBE}"))
            .unwrap();
    }
    std::fs::write(
        dir.join("shared.lua"),
        "return { hello = function(who) return 'shared:' .. who end }\n",
    )
    .unwrap();
}

/// The flags of the app every dispatch case runs.
const FLAGS: &[&str] = &[
    "--entry",
    "web=web.lua",
    "--entry",
    "worker=worker.lua",
    "--entry",
    "release=release.lua",
    "--default",
    "web",
    "--args",
    "--port ${PORT:-8080} ...",
    "--entry-args",
    "worker=-q 'a b'",
    "--entry-args",
    "release=--db=${DB_URL:-sqlite://x} ... --after",
];

/// The two back ends: the stub executable, and the C file compiled with `--cc` (and once more
/// as strictly as C99 allows).
#[derive(Debug, Clone, Copy)]
enum Back {
    Stub,
    C,
}

/// Bundles `flags` in `dir` through `back` as `dir/NAME` (the executable); the build must
/// succeed silently under `-q`.
fn build(dir: &Path, back: Back, name: &str, flags: &[&str]) -> PathBuf {
    let exe = dir.join(name);
    let c = dir.join(format!("{name}.c"));
    let out: Vec<&str> = match back {
        Back::Stub => vec!["-o", exe.to_str().unwrap()],
        Back::C => vec!["--emit-c", "--cc", "-o", c.to_str().unwrap()],
    };
    let r = bundle(dir, &[flags, &out, &["-q"]].concat());
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{back:?} {flags:?}");
    if let Back::C = back {
        cc_strict(&c, &[], &dir.join(format!("{name}-strict")));
    }
    exe
}

/// `luajit SCRIPT ARGS` in `dir`, where the app's modules resolve: the oracle.
fn luajit_run(dir: &Path, script: &str, args: &[&str]) -> Run {
    let mut cmd = Command::new(luajit());
    cmd.current_dir(dir).env("LUA_PATH", "./?.lua").env("LUA_CPATH", "/nonexistent/?.so");
    cmd.env_remove("LUA_INIT").arg(script).args(args);
    run(&mut cmd)
}

/// Runs `exe` with `args` and `env` from an empty directory with no Lua path of its own.
fn run_exe(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let elsewhere = tempdir();
    let mut cmd = Command::new(exe);
    hermetic(cmd.current_dir(elsewhere.path()).args(args));
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// A symlink `dir/name` to `target`.
fn link(dir: &Path, target: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(target, &path).unwrap();
    path
}

/// How the executable is called: by its own name, or through a link called this.
#[derive(Debug, Clone, Copy)]
enum Called {
    Itself,
    Link(&'static str),
}

/// One dispatch case: how the executable is called, its arguments and environment, the entry
/// that must run and the arguments its script must see.
type Case = (
    Called,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static [&'static str],
);

const CASES: &[Case] = &[
    // The first argument names the entry; it is consumed.
    (Called::Itself, &["worker", "x", "y"], &[], "worker", &["-q", "a b", "x", "y"]),
    (Called::Itself, &["release", "1"], &[], "release", &["--db=sqlite://x", "1", "--after"]),
    (
        Called::Itself,
        &["release"],
        &[("DB_URL", "pg://h/db")],
        "release",
        &["--db=pg://h/db", "--after"],
    ),
    // The default entry: neither the name nor the first argument names one.
    (Called::Itself, &[], &[], "web", &["--port", "8080"]),
    (
        Called::Itself,
        &["x", "--", "-e"],
        &[("PORT", "5000")],
        "web",
        &["--port", "5000", "x", "--", "-e"],
    ),
    // `:-` takes the default when the variable is set but empty, as sh does.
    (Called::Itself, &["web", "q"], &[("PORT", "")], "web", &["--port", "8080", "q"]),
    // The executable's name names the entry: its first argument is the program's.
    (Called::Link("worker"), &["web", "z"], &[], "worker", &["-q", "a b", "web", "z"]),
    (Called::Link("release"), &[], &[], "release", &["--db=sqlite://x", "--after"]),
    // A link whose name is no entry: the first argument chooses, as for the executable.
    (Called::Link("app-worker"), &["worker"], &[], "worker", &["-q", "a b"]),
];

#[test]
fn issue17_dispatch_and_arguments_are_luajits_for_each_entry() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    for back in [Back::Stub, Back::C] {
        let exe = build(d, back, "app", FLAGS);
        let links = tempdir();
        for (called, args, env, entry, seen) in CASES {
            let path = match called {
                Called::Itself => exe.clone(),
                Called::Link(name) => link(links.path(), &exe, name),
            };
            let got = run_exe(&path, args, env);
            let want = luajit_run(d, &format!("{entry}.lua"), seen);
            assert_eq!(want.code, 0, "the oracle: {want:?}");
            assert_eq!(got, want, "{back:?}: {called:?} {args:?} {env:?}");
        }
        // arg[0] is the executable as invoked, never the entry's name or its file.
        let worker = link(links.path(), &exe, "worker");
        let r = run_exe(&worker, &["-e"], &[]);
        assert!(
            r.stdout.starts_with("worker\t@worker.lua\tshared:worker\t3\t-q|a b|-e\t3"),
            "{r:?}"
        );
        let script = "io.write(arg[0], ' ', tostring(arg[-1]))";
        std::fs::write(d.join("arg0.lua"), script).unwrap();
        let arg0 = build(d, back, "arg0", &["--entry", "show=arg0.lua"]);
        let r = run_exe(&arg0, &["show"], &[]);
        assert_eq!(r.stdout, format!("{} nil", arg0.display()), "{back:?}");
    }
}

#[test]
fn issue17_without_a_default_an_unnamed_entry_is_a_usage_error() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    for back in [Back::Stub, Back::C] {
        let exe =
            build(d, back, "app", &["--entry", "web=web.lua", "--entry", "worker=worker.lua"]);
        for args in [&[][..], &["nope", "x"][..]] {
            let r = run_exe(&exe, args, &[]);
            assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{back:?} {args:?}");
            assert_eq!(
                r.stderr,
                format!("usage: {} ENTRY [ARGS...]\nentries: web worker\n", exe.display())
            );
        }
    }
}

/// Baked arguments without an entry point: the main script takes the program's, and an entry
/// with `--entry-args NAME=''` takes none of them.
#[test]
fn issue17_baked_arguments_for_a_main_script_and_an_empty_entry_args() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    for back in [Back::Stub, Back::C] {
        let main = build(d, back, "main", &["web.lua", "--args", "--x ${X:-1} ... -y"]);
        let r = run_exe(&main, &["a"], &[("X", "2")]);
        assert_eq!(r, luajit_run(d, "web.lua", &["--x", "2", "a", "-y"]), "{back:?}");
        let flags = ["--entry", "web=web.lua", "--args", "--baked", "--entry-args", "web="];
        let exe = build(d, back, "app", &flags);
        assert_eq!(run_exe(&exe, &["web", "a"], &[]), luajit_run(d, "web.lua", &["a"]));
    }
}

#[test]
fn issue17_hermetic_ignores_a_hostile_lua_path() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    // `plugin` is left to the filesystem (-x); `shared` is bundled.
    let script = r#"
print(require("shared").hello("h"), package.path == "", package.cpath == "")
print(pcall(require, "plugin"))
"#;
    std::fs::write(d.join("h.lua"), script).unwrap();
    let hostile = tempdir();
    for module in ["shared", "plugin"] {
        std::fs::write(hostile.path().join(format!("{module}.lua")), "return 'HOSTILE'").unwrap();
    }
    let lua_path = format!("{}/?.lua", hostile.path().display());
    let env = [("LUA_PATH", lua_path.as_str()), ("LUA_CPATH", "/nonexistent/?.so")];
    // (flags, first line, whether the hostile plugin loads)
    let cases: &[(&[&str], &str, bool)] = &[
        (&["--hermetic"], "shared:h\ttrue\ttrue\n", false),
        (&[], "shared:h\tfalse\tfalse\n", true),
    ];
    for back in [Back::Stub, Back::C] {
        for (extra, first, loads) in cases {
            let flags =
                [&["--entry", "h=h.lua", "--default", "h", "-x", "plugin"][..], extra].concat();
            let exe = build(d, back, "app", &flags);
            let r = run_exe(&exe, &[], &env);
            assert_eq!(r.code, 0, "{back:?} {extra:?}: {}", r.stderr);
            let (line1, line2) = r.stdout.split_at(r.stdout.find('\n').unwrap() + 1);
            assert_eq!(line1, *first, "{back:?} {extra:?}");
            if *loads {
                assert_eq!(line2, "true\tHOSTILE\n", "{back:?} {extra:?}");
            } else {
                assert!(line2.starts_with("false\tmodule 'plugin' not found"), "{back:?}: {line2}");
                assert!(!line2.contains("HOSTILE") && !line2.contains(&lua_path), "{line2}");
            }
        }
    }
}

/// Each entry's script is a root: what one of them needs at load time must be found (the chain
/// starts at that script), what it needs later only warns; a module several entries need is
/// packed once.
#[test]
fn issue17_every_entry_is_a_root_and_modules_are_shared() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    std::fs::write(d.join("broken.lua"), "local m = require 'nowhere'\n").unwrap();
    std::fs::write(d.join("lazy.lua"), "local function f() return require 'later' end\n").unwrap();
    let r = bundle(d, &["--entry", "web=web.lua", "--entry", "broken=broken.lua", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("broken.lua:1: module 'nowhere' not found"), "{}", r.stderr);
    assert_only(
        d,
        &["web.lua", "worker.lua", "release.lua", "shared.lua", "broken.lua", "lazy.lua"],
    );
    let r = bundle(d, &["--entry", "web=web.lua", "--entry", "lazy=lazy.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("lazy.lua:1: module 'later' not found"), "{}", r.stderr);
    assert!(r.stderr.contains("2 entries (web, lazy) + 1 module"), "{}", r.stderr);
    let list = bundle(d, &["--entry", "web=web.lua", "--entry", "worker=worker.lua", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rows: Vec<Vec<&str>> =
        list.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, ["NAME", "/web", "/worker", "shared"], "{}", list.stdout);
    assert_eq!(rows[1][1..3], ["entry", "load-time"]);
    assert_eq!(rows[2].last(), Some(&"worker"), "required by --entry worker: {}", list.stdout);
    assert!(rows[3].contains(&"web.lua:2"), "{}", list.stdout);
}

/// `inspect` lists the entries (human and JSON): name, script, baked arguments, the default
/// entry, the program's arguments and hermetic mode.
#[test]
fn issue17_inspect_lists_the_entries() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    let mut flags = FLAGS.to_vec();
    flags.extend(["--entry", "lua=@interpreter", "--entry-args", "lua=-e 'x=1' ...", "--hermetic"]);
    let exe = build(d, Back::Stub, "app", &flags);
    let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe).arg("--json"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let p = &v["payload"];
    assert_eq!(p["main"], serde_json::Value::Null);
    assert_eq!(p["default_entry"], "web");
    assert_eq!(p["hermetic"], true);
    assert_eq!(p["args"], serde_json::json!(["--port", "${PORT:-8080}", "..."]));
    assert_eq!(
        p["entry_points"],
        serde_json::json!([
            { "name": "lua", "chunkname": null, "interpreter": true, "args": ["-e", "x=1", "..."] },
            { "name": "release", "chunkname": "@release.lua", "interpreter": false,
              "args": ["--db=${DB_URL:-sqlite://x}", "...", "--after"] },
            { "name": "web", "chunkname": "@web.lua", "interpreter": false,
              "args": ["--port", "${PORT:-8080}", "..."] },
            { "name": "worker", "chunkname": "@worker.lua", "interpreter": false,
              "args": ["-q", "a b"] },
        ])
    );
    let names: Vec<&str> = p["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .filter(|n| !n.starts_with("jit."))
        .collect();
    assert_eq!(names, ["/release", "/web", "/worker", "shared"]);
    let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The header lines about entries.
    let mut shown: Vec<String> = r
        .stdout
        .lines()
        .filter(|l| {
            ["main ", "entry ", "default ", "args ", "hermetic "].iter().any(|p| l.starts_with(p))
        })
        .map(str::to_owned)
        .collect();
    // The table's names, kinds and chunk names (sizes depend on the VM; the interpreter's
    // jit.* tools on how the stub was built).
    let table = r.stdout.lines().skip_while(|l| !l.starts_with("NAME"));
    shown.extend(table.filter(|l| !l.starts_with("jit.") && !l.starts_with("total:")).map(|l| {
        let cells = l.split("  ").map(str::trim).filter(|c| !c.is_empty());
        cells.take(3).collect::<Vec<_>>().join(" | ")
    }));
    insta::assert_snapshot!("inspect_entries", shown.join("\n"));
}

/// `bundle links APP DIR`: one relative symlink per entry, each running its entry; again, it
/// keeps them; an existing file is never replaced, and nothing is linked then.
#[test]
fn issue17_links_make_one_symlink_per_entry() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    build(
        d,
        Back::Stub,
        "app",
        &["--entry", "web=web.lua", "--entry", "worker=worker.lua", "--entry", "lua=@interpreter"],
    );
    let links = |target: &str| {
        run(Command::new(bundle_bin()).current_dir(d).args(["links", "app", target]))
    };
    let r = links("bin");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "bin/lua\nbin/web\nbin/worker\n");
    for name in ["lua", "web", "worker"] {
        let l = d.join("bin").join(name);
        assert_eq!(std::fs::read_link(&l).unwrap(), Path::new("../app"), "{name}");
    }
    let r = run_exe(&d.join("bin/worker"), &["x"], &[]);
    assert_eq!(r, luajit_run(d, "worker.lua", &["x"]));
    let r = run_exe(&d.join("bin/lua"), &["-e", "print(require('shared').hello('lua'))"], &[]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "shared:lua\n"), "{}", r.stderr);
    // Again: the links are there already, nothing is made, nothing is an error.
    let r = links("bin");
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert!(r.stderr.contains("bin/web already links to app"), "{}", r.stderr);
    // In the executable's own directory: `web -> app`.
    let r = links(".");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_link(d.join("web")).unwrap(), Path::new("app"));
    // An existing file is never replaced, and then nothing is linked.
    std::fs::create_dir_all(d.join("other")).unwrap();
    std::fs::write(d.join("other/worker"), "mine").unwrap();
    let r = links("other");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("other/worker: already exists and is not a link to app"),
        "{}",
        r.stderr
    );
    assert_only(&d.join("other"), &["worker"]);
    assert_eq!(std::fs::read(d.join("other/worker")).unwrap(), b"mine");
    // A program of one main script has no entries to link.
    let main = build(d, Back::Stub, "single", &["web.lua"]);
    let r = run(Command::new(bundle_bin()).arg("links").arg(&main).arg(d.join("none")));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("has no entry points: build it with --entry NAME=FILE"),
        "{}",
        r.stderr
    );
    assert!(!d.join("none").exists());
    // Not a bundled executable.
    let r = links_of(d, "web.lua", "bin2");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not an executable made by bundle"), "{}", r.stderr);
}

fn links_of(dir: &Path, app: &str, target: &str) -> Run {
    run(Command::new(bundle_bin()).current_dir(dir).args(["links", app, target]))
}

/// A slug of a two-entry app: a Procfile line per entry, and each process, run as its line
/// says from `/app` of a root filesystem made of the slug and the glibc runtime a stack
/// provides, gives what luajit gives for that entry's script.
#[test]
fn issue17_slug_of_two_entries_runs_both_processes_from_its_root_filesystem() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    let flags = [
        "--entry",
        "web=web.lua",
        "--entry",
        "worker=worker.lua",
        "--entry",
        "lua=@interpreter",
        "--args",
        "--port ${PORT:-8080} ...",
    ];
    let exe = build(d, Back::Stub, "app", &flags);
    let r = run(Command::new(bundle_bin())
        .current_dir(d)
        .args(["heroku", "slug", "app", "-o", "slug.tgz"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "{\"web\":\"./app web\",\"worker\":\"./app worker\"}\n");
    let slug = tgz_entries(&std::fs::read(d.join("slug.tgz")).unwrap());
    let paths: Vec<&str> = slug.iter().map(|(p, _, _)| p.as_str()).collect();
    assert_eq!(paths, ["./app/", "./app/Procfile", "./app/app"]);
    let procfile = String::from_utf8(slug[1].2.clone()).unwrap();
    assert_eq!(procfile, "web: ./app web\nworker: ./app worker\n");
    // --process still replaces them all.
    let r = run(Command::new(bundle_bin()).current_dir(d).args([
        "heroku",
        "slug",
        "app",
        "-o",
        "s2.tgz",
        "--process",
        "web=./app web -x",
    ]));
    assert_eq!(r.stdout, "{\"web\":\"./app web -x\"}\n", "{}", r.stderr);

    // The root filesystem: the slug unpacked at /, as a dyno has it, with the runtime files a
    // stack image provides (the loader and the base libraries the executable needs).
    let root = d.join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    let r = run(Command::new("tar").arg("-xzf").arg(d.join("slug.tgz")).arg("-C").arg(&root));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(&exe).unwrap();
    for (path, data) in bundle::deploy::oci::runtime_files(&bytes).unwrap() {
        let to = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        write_exe(&to, &data);
    }
    let chroot = chroot_available(&root);
    if chroot.is_none() {
        eprintln!("NOTE issue17_slug...: chroot needs root; the processes run from the unpacked /app instead");
    }
    for line in procfile.lines() {
        let (kind, command) = line.split_once(": ").unwrap();
        let words: Vec<&str> = command.split(' ').collect();
        let mut cmd = Command::new(words[0]);
        cmd.args(&words[1..]).env_clear().env("PORT", "7000");
        if chroot.is_some() {
            let root = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: between fork and exec only async-signal-safe calls (chroot, chdir) on
            // data prepared before the fork.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                    if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/app".as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        } else {
            cmd.current_dir(root.join("app"));
        }
        let got = run(&mut cmd);
        let want = luajit_run(d, &format!("{kind}.lua"), &["--port", "7000"]);
        assert_eq!(got, want, "{line}");
    }
}

/// `bundle oci`: the entrypoint is the executable, `Cmd` the default entry (none without one,
/// with a note).
#[test]
fn issue17_oci_cmd_is_the_default_entry() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    let config = |image: &str| -> serde_json::Value {
        let bytes = std::fs::read(d.join(image)).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            files.insert(path, data);
        }
        let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let config = manifest[0]["Config"].as_str().unwrap();
        serde_json::from_slice::<serde_json::Value>(&files[config]).unwrap()["config"].clone()
    };
    let entries = ["--entry", "web=web.lua", "--entry", "worker=worker.lua"];
    build(d, Back::Stub, "app", &[&entries[..], &["--default", "worker"]].concat());
    let r = run(Command::new(bundle_bin()).current_dir(d).args(["oci", "app", "-o", "a.tar"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let c = config("a.tar");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/app/app"]));
    assert_eq!(c["Cmd"], serde_json::json!(["worker"]));
    build(d, Back::Stub, "nodefault", &entries);
    let r =
        run(Command::new(bundle_bin()).current_dir(d).args(["oci", "nodefault", "-o", "b.tar"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("has entry points but no default one"), "{}", r.stderr);
    assert_eq!(config("b.tar").get("Cmd"), None);
}

/// Every bad input: a clear message naming the flag, the exit status (2 for the command line,
/// 1 for a file), and nothing written.
#[test]
fn issue17_bad_inputs_are_refused_with_nothing_written() {
    let dir = tempdir();
    let d = dir.path();
    write_app(d);
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--entry", "web=web.lua", "--entry", "web=worker.lua"], 2, "entry 'web' is given twice with --entry"),
        (&["--entry", "web=missing.lua"], 1, "--entry web=missing.lua: missing.lua: no such file"),
        (&["--entry", "we/b=web.lua"], 2, "--entry we/b=web.lua: 'we/b' is not an entry name: ASCII letters, digits, '_' and '-'"),
        (&["--entry", "we b=web.lua"], 2, "'we b' is not an entry name"),
        (&["--entry", "wéb=web.lua"], 2, "'wéb' is not an entry name"),
        (&["--entry", "=web.lua"], 2, "'' is not an entry name"),
        (&["--entry", "web"], 2, "--entry web: expected NAME=FILE or NAME=@interpreter"),
        (&["--entry", "web="], 2, "--entry web=: expected NAME=FILE or NAME=@interpreter"),
        (&["--entry", "web=."], 1, "--entry web=.: .: is a directory"),
        (&["web.lua", "--entry", "worker=worker.lua"], 2, "web.lua: MAIN.lua and --entry cannot be combined"),
        (&["--entry", "a=@interpreter", "--entry", "b=@interpreter"], 2, "--entry b=@interpreter: the interpreter is already the entry 'a'"),
        (&["--entry", "web=web.lua", "--args", "a 'b"], 2, "--args 'a '\\''b': unbalanced quotes: the single quote opened at character 3 is never closed"),
        (&["--entry", "web=web.lua", "--args", "\"a"], 2, "unbalanced quotes: the double quote opened at character 1"),
        (&["--entry", "web=web.lua", "--args", "a\\"], 2, "ends with a backslash"),
        (&["--entry", "web=web.lua", "--args", "--port ${PORT"], 2, "'${PORT': '${' without a closing '}'"),
        (&["--entry", "web=web.lua", "--args", "--port=${PORT:-8080"], 2, "'--port=${PORT:-8080': '${' without a closing '}'"),
        (&["--entry", "web=web.lua", "--args", "${1X}"], 2, "'${1X}': a '${' begins neither ${VAR} nor ${VAR:-default}"),
        (&["--entry", "web=web.lua", "--args", "... a ..."], 2, "'...' (where the user's arguments go) appears more than once"),
        (&["--entry", "web=web.lua", "--entry-args", "web=a 'b"], 2, "--entry-args web='a '\\''b': unbalanced quotes"),
        (&["--entry", "web=web.lua", "--entry-args", "web=${X"], 2, "--entry-args web='${X': '${X': '${' without a closing '}'"),
        (&["--entry", "web=web.lua", "--default", "nope"], 2, "--default nope: no entry is called 'nope' (entries: web)"),
        (&["web.lua", "--default", "web"], 2, "--default web: there are no entries: name them with --entry NAME=FILE"),
        (&["--entry", "web=web.lua", "--entry-args", "nope=x"], 2, "--entry-args nope=x: no entry is called 'nope' (entries: web)"),
        (&["web.lua", "--entry-args", "web=x"], 2, "--entry-args web=x: there are no entries"),
        (&["--entry", "web=web.lua", "--entry-args", "web"], 2, "--entry-args web: expected NAME='ARG ...'"),
        (&["--entry", "web=web.lua", "--entry-args", "web=a", "--entry-args", "web=b"], 2, "--entry-args: entry 'web' is given twice"),
    ];
    let before = ["web.lua", "worker.lua", "release.lua", "shared.lua"];
    for (flags, code, message) in cases {
        for out in [&["-o", "app"][..], &["--emit-c", "-o", "app.c"][..]] {
            let r = bundle(d, &[flags, out].concat());
            assert_eq!(r.code, *code, "{flags:?}: {}", r.stderr);
            assert!(
                r.stderr.starts_with("bundle: error: ") && r.stderr.contains(message),
                "{flags:?}: expected {message:?} in {}",
                r.stderr
            );
            assert_eq!(r.stderr.lines().count(), 1, "{flags:?}: one line: {}", r.stderr);
            assert_only(d, &before);
        }
    }
}
