//! `bundle MAIN --trace -- ARGS`: a real run of the program finds the modules static discovery
//! cannot see (computed names, Lua and C), its report names them and the files it read, and the
//! product then runs hermetically as `luajit main.lua ARGS` does. `--save-trace` and
//! `--modules-from` reproduce the same build without a run; bad input is one clear message and
//! nothing written; a run that hangs is stopped at `--trace-timeout`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs `bundle` in `dir` and asserts that it succeeded.
fn bundle_ok(dir: &Path, args: &[&str]) -> Run {
    let r = bundle(dir, args);
    assert_eq!(r.code, 0, "bundle {args:?} failed: {}", r.stderr);
    r
}

/// The lines of the `--trace` report in `stderr`.
fn report(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("bundle: --trace")).collect()
}

/// Asserts that `stderr` holds `line` as a whole line.
fn assert_line(stderr: &str, line: &str) {
    assert!(stderr.lines().any(|l| l == line), "expected the line {line:?} in:\n{stderr}");
}

/// The reference: `luajit main.lua ARGS` in `dir`, with luajit's default search path.
fn luajit_main(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(luajit());
    cmd.current_dir(dir).arg("main.lua").args(args);
    for var in ["LUA_PATH", "LUA_PATH_5_1", "LUA_CPATH", "LUA_CPATH_5_1", "LUA_INIT"] {
        cmd.env_remove(var);
    }
    run(&mut cmd)
}

/// Runs the product `exe` from an empty directory in which Lua finds nothing on disk.
fn hermetic_run(exe: &Path, args: &[&str]) -> Run {
    let empty = tempdir();
    run(hermetic(Command::new(exe).current_dir(empty.path()).args(args)))
}

/// A failed `bundle`: non-zero exit, one line on stderr containing every needle.
fn assert_error(r: &Run, needles: &[&str]) {
    assert_ne!(r.code, 0, "expected a failure; stderr: {}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line of error, got: {:?}", r.stderr);
    for needle in needles {
        assert!(r.stderr.contains(needle), "expected {needle:?} in {:?}", r.stderr);
    }
}

/// A program that loads its plugin by a name computed from its first argument; plugin `a`
/// requires a helper module of its own.
fn plugin_program() -> tempfile::TempDir {
    app(&[
        (
            "main.lua",
            "local name = table.concat({ \"plug\", arg[1] }, \".\")\nlocal p = require(name)\nprint(p.hello(), select('#', ...))\n",
        ),
        (
            "plug/a.lua",
            "local util = require(\"plug.util\")\nreturn { hello = function() return \"plugin a, \" .. util.twice(21) end }\n",
        ),
        ("plug/util.lua", "return { twice = function(n) return n * 2 end }\n"),
        ("plug/b.lua", "return { hello = function() return \"plugin b\" end }\n"),
    ])
}

#[test]
fn computed_plugin_name_is_found_by_the_trace_and_runs_hermetically() {
    let dir = plugin_program();
    let p = dir.path();
    let reference = luajit_main(p, &["a"]);
    assert_eq!(
        (reference.code, reference.stdout.as_str()),
        (0, "plugin a, 42\t1\n"),
        "{}",
        reference.stderr
    );

    let b = bundle_ok(p, &["main.lua", "-o", "app", "--trace", "--", "a"]);
    assert!(b.stdout.is_empty(), "the traced run's output is captured: {:?}", b.stdout);
    assert_line(
        &b.stderr,
        "bundle: --trace run 1 of main.lua exited with status 0; added 2 module(s) static discovery missed: plug.a, plug.util",
    );
    assert_line(
        &b.stderr,
        "bundle: --trace run 2 of main.lua exited with status 0; added nothing new",
    );
    assert!(!b.stderr.contains("plug.b"), "plug.b was never loaded: {}", b.stderr);

    let r = hermetic_run(&p.join("app"), &["a"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, reference.stdout.as_str()), "{}", r.stderr);
    // Only what the run loaded is packed: another plugin is not there.
    let other = hermetic_run(&p.join("app"), &["b"]);
    assert_eq!(luajit_main(p, &["b"]).stdout, "plugin b\t1\n");
    assert_eq!(other.code, 1, "{}", other.stderr);
    assert!(other.stderr.contains("module 'plug.b' not found"), "{}", other.stderr);

    // Without --trace, static discovery cannot follow the name: the product fails where luajit
    // works.
    bundle_ok(p, &["main.lua", "-o", "plain"]);
    let r = hermetic_run(&p.join("plain"), &["a"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{:?}", r.stdout);
    assert!(r.stderr.contains("module 'plug.a' not found"), "{}", r.stderr);
}

#[test]
fn a_run_that_exits_non_zero_still_gives_its_trace() {
    let dir = app(&[
        ("main.lua", "local p = require((\"plug\" .. \".a\"))\nprint(p)\nos.exit(3)\n"),
        ("plug/a.lua", "return \"A\"\n"),
    ]);
    let p = dir.path();
    let b = bundle_ok(p, &["main.lua", "-o", "app", "--trace", "--"]);
    assert_line(
        &b.stderr,
        "bundle: --trace run 1 of main.lua exited with status 3 (its trace is used all the same); added 1 module(s) static discovery missed: plug.a",
    );
    let reference = luajit_main(p, &[]);
    assert_eq!((reference.code, reference.stdout.as_str()), (3, "A\n"));
    let r = hermetic_run(&p.join("app"), &[]);
    assert_eq!((r.code, r.stdout.as_str()), (3, "A\n"), "{}", r.stderr);
}

#[test]
fn a_run_that_raises_an_error_still_gives_its_trace() {
    let dir = app(&[
        ("main.lua", "local p = require((\"plug\" .. \".a\"))\nprint(p)\nerror(\"boom\")\n"),
        ("plug/a.lua", "return \"A\"\n"),
    ]);
    let p = dir.path();
    let b = bundle_ok(p, &["main.lua", "-o", "app", "--trace", "--"]);
    assert_line(
        &b.stderr,
        "bundle: --trace run 1 of main.lua exited with status 1 (its trace is used all the same); added 1 module(s) static discovery missed: plug.a",
    );
    // The end of what the program wrote to stderr is shown, so the user sees why it failed.
    assert!(
        b.stderr.lines().any(|l| l.starts_with("bundle:   | ") && l.contains("main.lua:3: boom")),
        "{}",
        b.stderr
    );
    let r = hermetic_run(&p.join("app"), &[]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "A\n"), "{}", r.stderr);
    assert!(r.stderr.contains("main.lua:3: boom"), "{}", r.stderr);
}

#[test]
fn a_run_killed_by_a_signal_still_gives_its_trace() {
    let dir = app(&[
        (
            "main.lua",
            "local p = require((\"plug\" .. \".a\"))\nio.stdout:flush()\nos.execute(\"kill -KILL $PPID\")\nprint(p)\n",
        ),
        ("plug/a.lua", "return \"A\"\n"),
    ]);
    let b = bundle_ok(dir.path(), &["main.lua", "-o", "app", "--trace", "--"]);
    assert_line(
        &b.stderr,
        "bundle: --trace run 1 of main.lua was killed by signal 9 (its trace is used all the same); added 1 module(s) static discovery missed: plug.a",
    );
    assert!(dir.path().join("app").is_file());
}

#[test]
fn a_hanging_run_is_stopped_at_the_timeout_and_nothing_is_written() {
    for (i, program) in
        ["while true do end\n", "os.execute(\"sleep 30\")\nprint(\"never\")\n"].iter().enumerate()
    {
        let dir = app(&[("main.lua", program)]);
        let tmp = tempdir();
        let start = Instant::now();
        let r = run(bundle_cmd(
            dir.path(),
            &["main.lua", "-o", "app", "--trace", "--trace-timeout", "1", "--"],
        )
        .env("TMPDIR", tmp.path()));
        let took = start.elapsed();
        assert!(took < Duration::from_secs(10), "program {i}: bundle took {took:?}");
        assert_error(&r, &["--trace-timeout", "main.lua"]);
        assert_only(dir.path(), &["main.lua"]);
        assert_only(tmp.path(), &[]);
    }
}

/// The timeout bounds the traced run even when the program leaves a process behind that holds
/// its output open: a daemon started in the background must not keep `bundle` waiting.
#[test]
fn a_background_child_holding_the_output_does_not_outlast_the_timeout() {
    let dir = app(&[("main.lua", "os.execute(\"sleep 20 &\")\nprint(\"started\")\n")]);
    let start = Instant::now();
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "--trace", "--trace-timeout", "2", "--"]);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "bundle --trace-timeout 2 took {took:?} (waited for the background child); stderr: {}",
        r.stderr
    );
    if r.code == 0 {
        assert!(dir.path().join("app").is_file());
    } else {
        assert_error(&r, &["--trace-timeout"]);
        assert_only(dir.path(), &["main.lua"]);
    }
}

#[test]
fn the_traced_run_reads_end_of_file_on_stdin() {
    let dir = app(&[
        (
            "main.lua",
            "local s = io.read(\"*a\")\nlocal n = 0\nfor _ in io.lines() do n = n + 1 end\nlocal p = require((\"plug\" .. \".a\"))\nprint(#s, n, p)\n",
        ),
        ("plug/a.lua", "return \"A\"\n"),
    ]);
    // bundle's own stdin is a pipe that stays open: the traced run must not inherit it.
    let mut child = bundle_cmd(
        dir.path(),
        &["main.lua", "-o", "app", "--trace", "--trace-timeout", "20", "--"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start bundle");
    let held_open = child.stdin.take();
    let out = child.wait_with_output().expect("wait for bundle");
    drop(held_open);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_line(
        &stderr,
        "bundle: --trace run 1 of main.lua exited with status 0; added 1 module(s) static discovery missed: plug.a",
    );
    let r = hermetic_run(&dir.path().join("app"), &[]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\t0\tA\n"), "{}", r.stderr);
}

#[test]
fn files_read_are_listed_as_asset_candidates() {
    let dir = app(&[
        (
            "main.lua",
            r#"local f = assert(io.open("data.txt"))
local data = f:read("*a")
f:close()
local n = 0
for _ in io.lines("lines.txt") do n = n + 1 end
local conf = dofile("conf.lua")
local more = assert(loadfile("more.lua"))()
local w = assert(io.open("written.txt", "w"))
w:write("x")
w:close()
local p = require(("plug" .. ".a"))
print(#data, n, conf.x, more.y, p.z)
"#,
        ),
        (
            "plug/a.lua",
            "local f = assert(io.open(\"plug/assets.dat\", \"rb\"))\nf:close()\nreturn { z = 3 }\n",
        ),
        ("plug/assets.dat", "bin"),
        ("data.txt", "some data\n"),
        ("lines.txt", "1\n2\n3\n"),
        ("conf.lua", "return { x = 1 }\n"),
        ("more.lua", "return { y = 2 }\n"),
    ]);
    let p = dir.path();
    let b = bundle_ok(p, &["main.lua", "-o", "app", "--trace", "--"]);
    // Sorted, each once; a file opened for writing is not read, files read by a module count.
    assert_line(
        &b.stderr,
        "bundle: --trace: files the program read (asset candidates, not bundled): conf.lua, data.txt, lines.txt, more.lua, plug/assets.dat",
    );
    assert_eq!(luajit_main(p, &[]).stdout, "10\t3\t1\t2\t3\n");
    let r = run(hermetic(Command::new(p.join("app")).current_dir(p)));
    assert_eq!((r.code, r.stdout.as_str()), (0, "10\t3\t1\t2\t3\n"), "{}", r.stderr);
}

#[test]
fn saved_trace_rebuilds_the_same_program_and_is_deterministic() {
    let dir = plugin_program();
    let p = dir.path();
    bundle_ok(p, &["main.lua", "-o", "traced1", "--trace", "--save-trace", "mods1.txt", "--", "a"]);
    bundle_ok(p, &["main.lua", "-o", "traced2", "--trace", "--save-trace", "mods2.txt", "--", "a"]);
    let saved = std::fs::read(p.join("mods1.txt")).unwrap();
    assert!(saved == std::fs::read(p.join("mods2.txt")).unwrap(), "two traces of one run differ");
    assert!(
        std::fs::read(p.join("traced1")).unwrap() == std::fs::read(p.join("traced2")).unwrap(),
        "two traced builds of one run differ"
    );

    // Comments first, then NAME<TAB>FILE, sorted.
    let text = String::from_utf8(saved).unwrap();
    let (comments, entries): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|l| l.starts_with('#'));
    assert!(!comments.is_empty(), "{text}");
    assert!(text.lines().take(comments.len()).all(|l| l.starts_with('#')), "{text}");
    let names: Vec<&str> = entries.iter().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(names, ["plug.a", "plug.util"], "{text}");
    for (entry, file) in entries.iter().zip(["plug/a.lua", "plug/util.lua"]) {
        let (_, path) = entry.split_once('\t').expect("NAME<TAB>FILE");
        assert!(path.ends_with(file), "{entry:?}");
    }

    // Read back without a run: the same modules, the same executable.
    let list = bundle_ok(p, &["main.lua", "--modules-from", "mods1.txt", "--list"]);
    let rows: Vec<Vec<&str>> =
        list.stdout.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    let listed: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[2])).collect();
    assert_eq!(
        listed,
        [
            ("(main)", "main", "load-time"),
            ("plug.a", "lua", "traced"),
            ("plug.util", "lua", "traced")
        ],
        "{}",
        list.stdout
    );
    bundle_ok(p, &["main.lua", "-o", "fromlist", "--modules-from", "mods1.txt"]);
    assert!(
        std::fs::read(p.join("fromlist")).unwrap() == std::fs::read(p.join("traced1")).unwrap(),
        "--modules-from of a saved trace packs something else than the traced build"
    );
    let r = hermetic_run(&p.join("fromlist"), &["a"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "plugin a, 42\t1\n"), "{}", r.stderr);
}

#[test]
fn bad_trace_input_is_one_clear_message_and_nothing_written() {
    let dir = plugin_program();
    let p = dir.path();
    std::fs::write(p.join("bad.txt"), "# a comment\n\nplug.a\nnot a name\n").unwrap();
    let files = ["main.lua", "plug", "bad.txt"];

    let r = bundle(p, &["main.lua", "-o", "app", "--modules-from", "missing.txt"]);
    assert_error(&r, &["--modules-from", "missing.txt"]);
    assert_only(p, &files);

    let r = bundle(p, &["main.lua", "-o", "app", "--modules-from", "bad.txt"]);
    assert_error(&r, &["bad.txt:4:", "not a name"]);
    assert_only(p, &files);

    let r = bundle(p, &["main.lua", "-o", "app", "--trace"]);
    assert_error(&r, &["--trace", "`--`"]);
    assert_only(p, &files);

    let r = bundle(p, &["main.lua", "-o", "app", "--", "a"]);
    assert_error(&r, &["after `--`", "--trace"]);
    assert_only(p, &files);

    let r = bundle(p, &["main.lua", "-o", "app", "--save-trace", "m.txt", "--trace", "--", "a"]);
    assert_eq!(r.code, 0, "the good form of the same command: {}", r.stderr);
}

#[test]
fn a_c_module_loaded_by_a_computed_name_is_added() {
    let cjson = Path::new("/usr/lib/x86_64-linux-gnu/lua/5.1/cjson.so");
    assert!(cjson.is_file(), "Debian's lua-cjson is needed (apt-get install lua-cjson)");
    let dir = app(&[(
        "main.lua",
        "local n = \"cj\" .. \"son\"\nlocal json = require(n)\nprint(json.encode({ 1, 2, { a = true } }))\n",
    )]);
    let p = dir.path();
    let b = bundle_ok(p, &["main.lua", "-o", "app", "--trace", "--save-trace", "mods.txt", "--"]);
    assert_line(
        &b.stderr,
        "bundle: --trace run 1 of main.lua exited with status 0; added 1 module(s) static discovery missed: cjson (C)",
    );
    let saved = std::fs::read_to_string(p.join("mods.txt")).unwrap();
    assert!(saved.lines().any(|l| l == format!("cjson\t{}", cjson.display())), "{saved}");
    let reference = luajit_main(p, &[]);
    assert_eq!(reference.code, 0, "{}", reference.stderr);
    let r = hermetic_run(&p.join("app"), &[]);
    assert_eq!((r.code, r.stdout.as_str()), (0, reference.stdout.as_str()), "{}", r.stderr);
}

#[test]
fn child_processes_are_not_traced() {
    let dir = app(&[
        (
            "main.lua",
            "os.execute(\"luajit child.lua\")\nlocal p = io.popen(\"luajit child.lua\")\nio.write(\"child said: \", p:read(\"*a\"))\np:close()\n",
        ),
        ("child.lua", "print(require(\"child\" .. \"mod\"))\n"),
        ("childmod.lua", "return \"cm\"\n"),
    ]);
    let b = bundle_ok(dir.path(), &["main.lua", "-o", "app", "--trace", "--"]);
    assert_line(
        &b.stderr,
        "bundle: --trace: child processes the program started, if any, were not traced",
    );
    assert_line(
        &b.stderr,
        "bundle: --trace run 1 of main.lua exited with status 0; added nothing new",
    );
    assert!(!b.stderr.contains("childmod"), "{}", b.stderr);
    assert_eq!(report(&b.stderr).len(), 2, "{}", b.stderr);
}

/// `--save-trace` writes everything traced so far, a `--modules-from` list included, so that the
/// traces of several runs accumulate; it never overwrites that list itself.
#[test]
fn saved_traces_accumulate_across_runs_without_overwriting_the_input_list() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[
            ("main.lua", "print(require(table.concat({'plug', arg[1]}, '.')))\n"),
            ("plug/a.lua", "return 'A'"),
            ("plug/b.lua", "return 'B'"),
        ],
    );
    let d = dir.path();
    let r =
        bundle(d, &["main.lua", "-o", "app", "-q", "--trace", "--save-trace", "a.txt", "--", "a"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bundle(
        d,
        &[
            "main.lua",
            "-o",
            "app",
            "-q",
            "--modules-from",
            "a.txt",
            "--trace",
            "--save-trace",
            "ab.txt",
            "--",
            "b",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ab = std::fs::read_to_string(d.join("ab.txt")).unwrap();
    let names: Vec<&str> =
        ab.lines().filter(|l| !l.starts_with('#')).map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(names, ["plug.a", "plug.b"], "{ab}");
    assert!(ab.contains("plug.a\tplug/a.lua\n"), "paths relative to the current directory: {ab}");
    let before = std::fs::read(d.join("a.txt")).unwrap();
    let r = bundle(
        d,
        &[
            "main.lua",
            "-o",
            "app",
            "--modules-from",
            "a.txt",
            "--trace",
            "--save-trace",
            "a.txt",
            "--",
            "b",
        ],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--modules-from list"), "{}", r.stderr);
    assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), before, "the input list is untouched");
}
