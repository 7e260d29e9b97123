//! End to end: every case in `tests/fixtures/` runs through every back end (the stub
//! executable with bytecode and with source, the C executable, the bundled interpreter) and is
//! compared with `luajit main.lua` run in the fixture's directory: stdout, stderr and the exit
//! code must be the same. The loader, the runner and the rules (flags, environment,
//! normalisation) are one, in tests/common (`check_fixtures`); the C back end's test is in
//! tests/emit_c.rs with the rest of `--emit-c`.
//!
//! A case is a directory with `main.lua`, its modules, and an optional `case.txt` (see
//! `common::Case`): `module NAME=FILE`, `preload NAME`, `arg VALUE` and `skip BACKEND REASON`.

mod common;

use common::*;

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
fn traced(case: &Case) -> Vec<String> {
    let trace = tempdir();
    let file = trace.path().join("trace");
    let mut cmd = luajit_cmd(case, &["-e", RECORDER]);
    run(cmd.env("BUNDLE_TRACE_FILE", &file));
    let mut names: Vec<String> =
        std::fs::read_to_string(&file).unwrap_or_default().lines().map(str::to_owned).collect();
    names.sort();
    names.dedup();
    names
}

/// The modules `bundle --list` finds statically.
fn listed(case: &Case) -> Vec<String> {
    let flags = case.bundle_flags();
    let mut args = vec!["--list", "main.lua"];
    args.extend(flags.iter().map(String::as_str));
    let r = bundle(&case.dir, &args);
    assert_eq!(r.code, 0, "--list failed in {}: {}", case.dir.display(), r.stderr);
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
        let found = listed(&case);
        let loaded = traced(&case);
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

/// The default build: statically linked for every fixture that loads no C code.
#[test]
fn bytecode_bundles_behave_like_luajit() {
    check_fixtures(Backend::Stub);
}

#[test]
fn dynamically_linked_bundles_behave_like_luajit() {
    check_fixtures(Backend::Dynamic);
}

#[test]
fn source_bundles_behave_like_luajit() {
    check_fixtures(Backend::StubSource);
}

/// The interpreter back end: `bundle -o lj` with no main script behaves as `luajit` itself,
/// so it runs each fixture as the oracle does, from the fixture's directory.
#[test]
fn the_bundled_interpreter_runs_every_fixture_like_luajit() {
    check_fixtures(Backend::Interpreter);
}
