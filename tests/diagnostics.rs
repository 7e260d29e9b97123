//! Snapshots of the diagnostics people read when a build goes wrong: a module missing at load
//! time with the chain of requires that needs it, syntax errors, a lazily required module that
//! is missing (a warning) and the same under `--strict` (an error), bad `-m` flags.
//!
//! Each build runs in a temporary directory with relative paths and a Lua search path set to
//! `./?.lua` / `./?.so`, so that the `searched:` lines do not depend on the machine's multiarch
//! directories; a path of the temporary directory that still shows is replaced by `[TMP]`.
//! Each snapshot starts with the exit code.

mod common;

use std::path::Path;

use common::*;

/// `bundle ARGS` in `dir` with a search path of the directory only.
fn build(dir: &Path, args: &[&str]) -> Run {
    run(bundle_cmd(dir, args).env("LUA_PATH", "./?.lua").env("LUA_CPATH", "./?.so"))
}

/// The exit code and stderr up to the summary line (whose sizes depend on the stub's build),
/// with the temporary directory masked.
fn shown(dir: &Path, r: &Run) -> String {
    let stderr: Vec<&str> =
        r.stderr.lines().take_while(|l| !l.starts_with("bundle: wrote")).collect();
    let text = format!("exit {}\n{}", r.code, stderr.join("\n"));
    let tmp = dir.to_str().expect("a utf-8 temporary path");
    text.replace(tmp, "[TMP]")
}

#[test]
fn missing_module_at_load_time_names_the_chain_of_requires() {
    let dir = app(&[
        ("main.lua", "local a = require('lib.a')\nprint(a)\n"),
        ("lib/a.lua", "local b = require('lib.b')\nreturn b\n"),
        ("lib/b.lua", "local x = 1\nreturn require('lib.gone') + x\n"),
    ]);
    let r = build(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_only(dir.path(), &["main.lua", "lib"]);
    insta::assert_snapshot!("missing_module_chain", shown(dir.path(), &r));
}

#[test]
fn syntax_error_in_the_main_script_names_file_and_line() {
    let dir = app(&[("main.lua", "print('a')\nlocal t = {\n  x = 1\n  y = 2\n}\n")]);
    let r = build(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_only(dir.path(), &["main.lua"]);
    insta::assert_snapshot!("syntax_error_main", shown(dir.path(), &r));
}

#[test]
fn syntax_error_in_a_module_loaded_at_start_names_file_and_line() {
    let dir = app(&[
        ("main.lua", "local m = require('lib.m')\nprint(m)\n"),
        ("lib/m.lua", "local function f(\n  return 1\nend\nreturn f\n"),
    ]);
    let r = build(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    insta::assert_snapshot!("syntax_error_module", shown(dir.path(), &r));
}

const LAZY: &str =
    "local function later()\n  return require('not.there')\nend\nprint('ok', type(later))\n";

#[test]
fn lazily_required_missing_module_is_a_warning_and_the_program_runs() {
    let dir = app(&[("main.lua", LAZY)]);
    let r = build(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("\nbundle: wrote app "), "{}", r.stderr);
    insta::assert_snapshot!("lazy_missing_warning", shown(dir.path(), &r));
    let ran = run(hermetic(&mut std::process::Command::new(dir.path().join("app"))));
    assert_eq!(ran.stdout, "ok\tfunction\n", "{}", ran.stderr);
}

#[test]
fn strict_makes_the_lazy_warning_an_error() {
    let dir = app(&[("main.lua", LAZY)]);
    let r = build(dir.path(), &["main.lua", "-o", "app", "--strict"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_only(dir.path(), &["main.lua"]);
    insta::assert_snapshot!("strict_failure", shown(dir.path(), &r));
}

/// A malformed `-m` is a usage error (exit 2) that says what the flag takes; a well-formed one
/// naming a file that does not exist is an input error (exit 1).
#[test]
fn bad_module_flags_say_what_the_flag_takes() {
    let dir = app(&[("main.lua", "print(1)\n")]);
    let mut shown_all = Vec::new();
    for flag in [&["-m", "bad name"][..], &["-m", "=x.lua"], &["-m", "a=nothere.lua"], &["-m"]] {
        let mut args = vec!["main.lua", "-o", "app"];
        args.extend(flag);
        let r = build(dir.path(), &args);
        assert_ne!(r.code, 0, "{flag:?}");
        let quoted: Vec<String> = flag
            .iter()
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a.to_string() })
            .collect();
        let line = format!("$ bundle main.lua -o app {}", quoted.join(" "));
        shown_all.push(format!("{line}\n{}", shown(dir.path(), &r)));
    }
    assert_only(dir.path(), &["main.lua"]);
    insta::assert_snapshot!("bad_module_flags", shown_all.join("\n\n"));
}
