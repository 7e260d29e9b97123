//! End to end: every case in `tests/fixtures/` is run by `luajit main.lua` (in the fixture's
//! directory, which is how its requires resolve) and through every back end: bundled (bytecode
//! and source) and run from another directory with LUA_PATH/LUA_CPATH pointing nowhere, and run
//! by a bundled interpreter (no main script) as `luajit` would run it; stdout, stderr and the
//! exit code must be the same. tests/emit_c.rs runs the same fixtures through the C back end,
//! with the same loader (tests/common).
//!
//! A case is a directory with `main.lua`, its modules, and an optional `case.txt`:
//! `module NAME=FILE`, `preload NAME` and `arg VALUE` lines (one argument per line).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn oracle(dir: &Path, case: &Case) -> Run {
    let luajit = luajit();
    let prog = luajit.to_str().expect("utf-8 luajit path");
    let mut cmd = Command::new(&luajit);
    cmd.current_dir(dir)
        .env("LUA_PATH", "./?.lua;./?/init.lua")
        .env("LUA_CPATH", "/nonexistent/?.so");
    cmd.env_remove("LUA_INIT");
    for p in &case.preloads {
        cmd.args(["-l", p]);
    }
    cmd.arg("main.lua").args(&case.args);
    let mut r = run(&mut cmd);
    r.stdout = normalize(&r.stdout, prog);
    r.stderr = normalize(&r.stderr, prog);
    r
}

fn bundled(dir: &Path, case: &Case, extra: &[&str]) -> Run {
    let out = tempdir();
    let exe = out.path().join("app");
    let exe_str = exe.to_str().expect("utf-8 temp path");
    let mut args = vec!["main.lua", "-o", exe_str, "-q"];
    for m in &case.modules {
        args.extend(["-m", m]);
    }
    for p in &case.preloads {
        args.extend(["-l", p]);
    }
    args.extend(extra);
    let b = bundle(dir, &args);
    assert_eq!(b.code, 0, "bundling {} failed: {}", dir.display(), b.stderr);
    assert!(b.stderr.is_empty(), "-q must silence the summary, got {:?}", b.stderr);
    // Run from a directory that holds nothing of the program.
    let elsewhere = tempdir();
    let mut cmd = Command::new(&exe);
    hermetic(cmd.current_dir(elsewhere.path()).args(&case.args));
    let mut r = run(&mut cmd);
    r.stdout = normalize(&r.stdout, exe_str);
    r.stderr = normalize(&r.stderr, exe_str);
    r
}

fn check_all(extra: &[&str]) {
    let mut failures = Vec::new();
    let cases = fixtures();
    assert!(cases.len() >= 15, "the fixture corpus went missing");
    for dir in &cases {
        let case = read_case(dir);
        let want = oracle(dir, &case);
        let got = bundled(dir, &case, extra);
        assert_eq!(got.signal, None, "{}: killed by a signal", dir.display());
        if want != got {
            failures.push(format!(
                "== {} {extra:?}\n-- luajit (exit {}):\n{}{}\n-- bundled (exit {}):\n{}{}",
                dir.file_name().unwrap_or_default().to_string_lossy(),
                want.code,
                want.stdout,
                want.stderr,
                got.code,
                got.stdout,
                got.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ from luajit:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A searcher wrapper that logs every module luajit actually loads from a Lua file.
const RECORDER: &str = r#"
local log = assert(io.open(os.getenv("BUNDLE_TRACE_FILE"), "w"))
local lua_searcher = package.loaders[2]
package.loaders[2] = function(name)
  local found = lua_searcher(name)
  if type(found) == "function" then log:write(name, "\n"); log:flush() end
  return found
end
"#;

/// The modules `luajit` loads when it runs the case.
fn traced(dir: &Path, case: &Case) -> Vec<String> {
    let trace = tempdir();
    let file = trace.path().join("trace");
    let mut cmd = Command::new(luajit());
    cmd.current_dir(dir).env("LUA_PATH", "./?.lua;./?/init.lua").env("BUNDLE_TRACE_FILE", &file);
    cmd.args(["-e", RECORDER]);
    for p in &case.preloads {
        cmd.args(["-l", p]);
    }
    cmd.arg("main.lua").args(&case.args);
    run(&mut cmd);
    let mut names: Vec<String> =
        std::fs::read_to_string(&file).unwrap_or_default().lines().map(str::to_owned).collect();
    names.sort();
    names.dedup();
    names
}

/// The modules `bundle --list` finds statically.
fn listed(dir: &Path, case: &Case) -> Vec<String> {
    let mut args = vec!["--list", "main.lua"];
    for m in &case.modules {
        args.extend(["-m", m]);
    }
    for p in &case.preloads {
        args.extend(["-l", p]);
    }
    let r = bundle(dir, &args);
    assert_eq!(r.code, 0, "--list failed in {}: {}", dir.display(), r.stderr);
    r.stdout
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let (name, kind) = (cols.next()?, cols.next()?);
            (kind == "lua").then(|| name.to_owned())
        })
        .collect()
}

/// The static scan finds every module a real run loads (it may find more: lazy requires of
/// functions that are never called, optional modules).
#[test]
fn static_discovery_covers_every_module_luajit_loads() {
    let mut total = 0;
    for dir in fixtures() {
        let case = read_case(&dir);
        let found = listed(&dir, &case);
        let loaded = traced(&dir, &case);
        for name in &loaded {
            assert!(
                found.contains(name),
                "{}: luajit loaded '{name}', bundle --list did not find it",
                dir.display()
            );
        }
        total += loaded.len();
    }
    assert!(total >= 20, "the trace recorded too few modules ({total}): is the recorder working?");
}

/// The interpreter back end: `bundle -o mylua` with no main script behaves as `luajit` itself,
/// so it runs each fixture as the oracle does, from the fixture's directory.
#[test]
fn the_bundled_interpreter_runs_every_fixture_like_luajit() {
    let out = tempdir();
    let interp = out.path().join("mylua");
    let b = bundle(out.path(), &["-o", interp.to_str().unwrap(), "-q"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let prog = interp.to_str().unwrap();
    let mut failures = Vec::new();
    for dir in fixtures() {
        let case = read_case(&dir);
        let want = oracle(&dir, &case);
        let mut cmd = Command::new(&interp);
        cmd.current_dir(&dir)
            .env("LUA_PATH", "./?.lua;./?/init.lua")
            .env("LUA_CPATH", "/nonexistent/?.so")
            .env_remove("LUA_INIT");
        for p in &case.preloads {
            cmd.args(["-l", p]);
        }
        let mut got = run(cmd.arg("main.lua").args(&case.args));
        got.stdout = normalize(&got.stdout, prog);
        // The interpreter's own searcher adds one line to "module not found" messages.
        got.stderr = normalize(&got.stderr, prog)
            .lines()
            .filter(|l| !l.trim_start().starts_with("no module '") || !l.ends_with("in the bundle"))
            .map(|l| format!("{l}\n"))
            .collect();
        if want != got {
            failures.push(format!(
                "== {}\n-- luajit: {want:?}\n-- interpreter: {got:?}",
                dir.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{} case(s) differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn bytecode_bundles_behave_like_luajit() {
    check_all(&[]);
}

#[test]
fn source_bundles_behave_like_luajit() {
    check_all(&["--source"]);
}
