//! Issue 12, from the review of its scanner: discovery cases where `bundle` once disagreed with
//! luajit (each test states the program, what luajit does, and what bundle must do).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// luajit on `main.lua` in `dir`, with no Lua path but the directory's own.
fn luajit_in(dir: &Path) -> Run {
    run(Command::new(luajit())
        .current_dir(dir)
        .env("LUA_PATH", "./?.lua")
        .env("LUA_CPATH", "/nonexistent/?.so")
        .env_remove("LUA_INIT")
        .arg("main.lua"))
}

/// luajit runs the program with exit 0: bundle must build it (README: "bundle never refuses a
/// program that luajit runs"), and the executable must print the same.
fn assert_not_refused(files: &[(&str, &str)]) {
    let dir = app(files);
    let oracle = luajit_in(dir.path());
    assert_eq!(oracle.code, 0, "luajit runs it: {oracle:?}");
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "bundle refused a program luajit runs:\n{}", b.stderr);
    assert_eq!((r.code, r.stdout.as_str()), (0, oracle.stdout.as_str()), "{}", r.stderr);
}

/// The module `present` must be bundled: the executable, run elsewhere, prints like luajit.
fn assert_bundled(files: &[(&str, &str)]) {
    let dir = app(files);
    let oracle = luajit_in(dir.path());
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let list = bundle(dir.path(), &["main.lua", "--list"]);
    assert!(list.stdout.contains("present"), "'present' not in the bundle:\n{}", list.stdout);
    assert_eq!((r.code, r.stdout.as_str()), (oracle.code, oracle.stdout.as_str()), "{}", r.stderr);
}

// --- MISS: a module luajit loads is left out of the bundle -------------------------------------

/// `local require = require "x"`: the right-hand side is evaluated before the new local exists,
/// so it is the global require (dff08e0 found it; the one-by-one binding lost it).
#[test]
fn the_right_hand_side_of_a_local_named_require_is_the_real_require() {
    assert_bundled(&[
        ("present.lua", "return function(n) return 'loaded ' .. n end"),
        ("main.lua", "local require = require \"present\"\nprint(require('x'))\n"),
    ]);
}

/// A local declared in one `if` branch is not in scope in the `else` branch.
#[test]
fn a_local_in_an_if_branch_does_not_shadow_require_in_the_else_branch() {
    assert_bundled(&[
        ("present.lua", "return 'present'"),
        (
            "main.lua",
            "if os.getenv('BUNDLE_REVIEW_UNSET') then\n  local require = print\nelse\n  print(require 'present')\nend\n",
        ),
    ]);
}

// --- REFUSED: bundle errors on a program luajit runs -------------------------------------------

/// A local "constant" that is assigned again is not a constant: `require(backend)` loads
/// whatever the program chose (a computed name, as before this change).
#[test]
fn a_reassigned_local_string_is_not_a_literal_module_name() {
    assert_not_refused(&[
        ("dkjson.lua", "return { name = 'dkjson' }"),
        (
            "main.lua",
            "local backend = 'fastjson_not_installed'\nif not pcall(require, backend) then backend = 'dkjson' end\nprint(require(backend).name)\n",
        ),
    ]);
}

/// `x and (require "m")`, `x and not require "m"`, `x and f(require "m")`: the require is
/// still on the right of `and`, inside brackets or a unary operator.
#[test]
fn a_require_nested_in_the_right_operand_of_and_is_conditional() {
    for expr in [
        "x and (require 'absent_a')",
        "x and not require 'absent_b'",
        "x and tostring(require 'absent_c')",
        "x or { require 'absent_d' }",
    ] {
        let main =
            format!("local x = nil\nlocal m = {}\nprint('ok')\n", expr.replace("x or", "true or"));
        assert_not_refused(&[("main.lua", main.as_str())]);
    }
}

/// A module provided by the program itself through package.preload (what amalg/squish
/// output does) is not missing.
#[test]
fn a_module_the_program_puts_in_package_preload_is_not_missing() {
    assert_not_refused(&[(
        "main.lua",
        "package.preload['virtual.mod'] = function() return { v = 42 } end\nprint(require('virtual.mod').v)\n",
    )]);
}

/// Code after `do return end` never runs.
#[test]
fn a_require_after_an_early_return_at_top_level_is_not_load_time() {
    assert_not_refused(&[(
        "main.lua",
        "print('ok')\ndo return end\nrequire 'absent_after_return'\n",
    )]);
}

/// A global `require` replaced by the program: its calls are the program's own.
#[test]
fn a_global_require_replaced_by_the_program() {
    assert_not_refused(&[(
        "main.lua",
        "local orig = require\nrequire = function(n) if n == 'virtual' then return { v = 1 } end return orig(n) end\nprint(require('virtual').v)\n",
    )]);
}

/// A string that names a module is a hint only for packages the program requires; which file
/// is read first must not matter (here the mention comes before the require that makes `app`
/// a package of the program).
#[test]
fn a_mention_counts_whatever_the_order_of_the_files() {
    let dir = app(&[
        ("main.lua", "local cmds = { 'app.cmd.a' }\nrequire 'lib'\nprint(require(cmds[1]))\n"),
        ("lib.lua", "return require 'app.core'\n"),
        ("app/core.lua", "return 'core'\n"),
        ("app/cmd/a.lua", "return 'A'\n"),
    ]);
    let list = bundle(dir.path(), &["main.lua", "--list"]);
    let row = list.stdout.lines().find(|l| l.starts_with("app.cmd.a ")).expect(&list.stdout);
    assert!(row.contains("inferred"), "{row}");
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(r.stdout, "A\n", "{}", r.stderr);
}
