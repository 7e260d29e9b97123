//! Automatic require discovery: resolution order, search-path sources, globs, excludes, and the
//! diagnostics users read (snapshot-tested).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn luajit_in(dir: &Path, lua_path: &str) -> Run {
    run(Command::new(luajit())
        .current_dir(dir)
        .env("LUA_PATH", lua_path)
        .env_remove("LUA_INIT")
        .arg("main.lua"))
}

#[test]
fn missing_module_shows_chain_caret_and_paths() {
    let dir = app(&[
        ("main.lua", "local config = {}\n\nlocal db = require('lib.db')\nprint(db)\n"),
        ("lib/db.lua", "-- database access\nlocal M = {}\n\n\n\n\n\n\n\nlocal pg = require(\"pgmoon\")\nreturn M\n"),
    ]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1);
    assert!(!dir.path().join("app").exists());
    insta::assert_snapshot!("missing_module", r.stderr);
}

#[test]
fn optional_missing_module_is_a_warning_and_the_fallback_runs() {
    let dir = app(&[(
        "main.lua",
        "local ok, json = pcall(require, 'cjson_missing')\nprint(ok and 'json' or 'fallback')\n",
    )]);
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    insta::assert_snapshot!(
        "optional_missing",
        b.stderr
            .lines()
            .take_while(|l| !l.starts_with("bundle: wrote"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(r.stdout, "fallback\n");
}

#[test]
fn non_literal_requires_are_warnings_with_hints() {
    let dir = app(&[
        ("main.lua", "local name = 'plug.a'\nlocal m = require(name)\nlocal req = require\nlocal n = require('plug.' .. 'b')\nlocal o = require(os.getenv('NOPE') or 'plug.a')\nprint(m, n)\n"),
        ("plug/a.lua", "return 'A'"),
        ("plug/b.lua", "return 'B'"),
    ]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warnings: Vec<&str> =
        r.stderr.lines().take_while(|l| !l.starts_with("bundle: wrote")).collect();
    insta::assert_snapshot!("non_literal", warnings.join("\n"));
    // A local constant and a literal prefix are followed: the bundle runs as it is.
    let (b, run) = bundle_and_run(dir.path(), &["-q"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(run.stdout, "A\tB\n", "{}", run.stderr);
    // The glob is the answer for the rest: the dynamic requires then work in the bundle.
    let (b, run) = bundle_and_run(dir.path(), &["-q", "-m", "plug.*"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(run.stdout, "A\tB\n", "{}", run.stderr);
}

#[test]
fn allow_missing_builds_and_fails_at_run_time_like_luajit() {
    let dir = app(&[("main.lua", "print('start')\nlocal x = require('absent')\n")]);
    let (b, r) = bundle_and_run(dir.path(), &["--allow-missing"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("warning: main.lua:2: module 'absent' not found"), "{}", b.stderr);
    assert_eq!((r.code, r.stdout.as_str()), (1, "start\n"));
    assert!(r.stderr.contains("module 'absent' not found:"), "{}", r.stderr);
    assert!(r.stderr.contains("no module 'absent' in the bundle"), "{}", r.stderr);
}

#[test]
fn resolution_order_matches_luajit() {
    // `shared` exists in the app directory, in -I vendor, in LUA_PATH's dir and in the tree;
    // `inc` in vendor, env and tree; `envmod` in env and tree; `treemod` only in the tree.
    let dir = app(&[
        (
            "app/main.lua",
            "print('shared', require('shared'))\nprint('inc', require('inc'))\nprint('envmod', require('envmod'))\nprint('treemod', require('treemod'))\n",
        ),
        ("app/shared.lua", "return 'app'"),
        ("vendor/shared.lua", "return 'vendor'"),
        ("vendor/inc.lua", "return 'vendor'"),
        ("env/shared.lua", "return 'env'"),
        ("env/inc.lua", "return 'env'"),
        ("env/envmod.lua", "return 'env'"),
        ("tree/share/lua/5.1/shared.lua", "return 'tree'"),
        ("tree/share/lua/5.1/inc.lua", "return 'tree'"),
        ("tree/share/lua/5.1/envmod.lua", "return 'tree'"),
        ("tree/share/lua/5.1/treemod/init.lua", "return 'tree'"),
    ]);
    let root = dir.path();
    let env = root.join("env/?.lua");
    let mut cmd =
        bundle_cmd(root, &["app/main.lua", "-o", "out", "-q", "-I", "vendor", "--tree", "tree"]);
    let b = run(cmd.env("LUA_PATH", format!("{};;", env.display())));
    assert_eq!(b.code, 0, "{}", b.stderr);
    let got = run(hermetic(&mut Command::new(root.join("out"))));
    // luajit with the equivalent path, in the same order.
    let lua_path = format!(
        "./?.lua;./?/init.lua;{v}/?.lua;{v}/?/init.lua;{e};{t}/?.lua;{t}/?/init.lua",
        v = root.join("vendor").display(),
        e = env.display(),
        t = root.join("tree/share/lua/5.1").display()
    );
    let want = luajit_in(&root.join("app"), &lua_path);
    assert_eq!(
        want.stdout, "shared\tapp\ninc\tvendor\nenvmod\tenv\ntreemod\ttree\n",
        "{}",
        want.stderr
    );
    assert_eq!(got.stdout, want.stdout, "{}", got.stderr);
}

#[test]
fn double_semicolon_expands_to_luajit_default_path() {
    let dir = app(&[("main.lua", "require('nowhere')\n")]);
    let mut cmd = bundle_cmd(dir.path(), &["main.lua", "-o", "app"]);
    let r = run(cmd.env("LUA_PATH", "/opt/x/?.lua;;").env("LUA_CPATH", ";;"));
    assert_eq!(r.code, 1);
    let searched =
        r.stderr.lines().find(|l| l.contains("searched:")).unwrap_or_default().to_owned();
    insta::assert_snapshot!("double_semicolon", searched);
}

#[test]
fn lua_path_wins_over_lua_path_5_1_as_in_luajit() {
    let dir = app(&[
        ("main.lua", "print(require('m'))\n"),
        ("a/m.lua", "return 'a'"),
        ("b/m.lua", "return 'b'"),
    ]);
    let a = dir.path().join("a/?.lua");
    let b = dir.path().join("b/?.lua");
    // luajit reads LUA_PATH only.
    let want = run(Command::new(luajit())
        .current_dir(dir.path())
        .env("LUA_PATH", &a)
        .env("LUA_PATH_5_1", &b)
        .arg("main.lua"));
    assert_eq!(want.stdout, "a\n");
    let mut cmd = bundle_cmd(dir.path(), &["main.lua", "-o", "app", "-q"]);
    let r = run(cmd.env("LUA_PATH", &a).env("LUA_PATH_5_1", &b));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(hermetic(&mut Command::new(dir.path().join("app")))).stdout, want.stdout);
    // LUA_PATH unset: the _5_1 name is used (LuaRocks sets it).
    let mut cmd = bundle_cmd(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(run(cmd.env("LUA_PATH_5_1", &b)).code, 0);
    assert_eq!(run(hermetic(&mut Command::new(dir.path().join("app")))).stdout, "b\n");
}

#[test]
fn a_plain_require_of_a_missing_module_fails_even_after_an_optional_one() {
    for main in [
        "local ok = pcall(require, 'nothere')\nrequire 'nothere'\n",
        "require 'nothere'\nlocal ok = pcall(require, 'nothere')\n",
    ] {
        let dir = app(&[("main.lua", main)]);
        let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
        assert_eq!(r.code, 1, "{main:?}: {}", r.stderr);
        assert!(r.stderr.contains("error: main.lua:"), "{}", r.stderr);
    }
}

#[test]
fn globs_and_excludes() {
    let dir = app(&[
        (
            "main.lua",
            "local a = require('lib.a')\nlocal ok, b = pcall(require, 'lib.b')\nprint(a, ok, b)\n",
        ),
        ("lib/a.lua", "return 'a'"),
        ("lib/b.lua", "return 'b from disk'"),
    ]);
    // Excluded: not bundled; at run time it loads from disk when the path finds it.
    let (b, r) = bundle_and_run(dir.path(), &["-q", "-x", "lib.b"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(r.stdout.starts_with("a\tfalse\tmodule 'lib.b' not found"), "{}", r.stdout);
    let from_disk = run(Command::new(dir.path().join("app.bin"))
        .current_dir(dir.path())
        .env("LUA_PATH", "./?.lua")
        .env_remove("LUA_INIT"));
    assert_eq!(from_disk.stdout, "a\ttrue\tb from disk\n");
    let list = bundle(dir.path(), &["--list", "main.lua", "-x", "lib.*"]);
    let row = list.stdout.lines().find(|l| l.starts_with("lib.a ")).unwrap_or_default();
    assert_eq!(row.split_whitespace().nth(1), Some("excluded"), "{}", list.stdout);
    // A glob that matches nothing is a warning.
    let r = bundle(dir.path(), &["main.lua", "-o", "x", "-m", "nothing.here.*"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("warning: -m 'nothing.here.*' matches no module"), "{}", r.stderr);
}

#[test]
fn explicit_module_wins_and_list_says_so() {
    let dir = app(&[
        ("main.lua", "print(require('lib.a'))\n"),
        ("lib/a.lua", "return 'discovered'"),
        ("other/a.lua", "return 'explicit'"),
    ]);
    let (b, r) = bundle_and_run(dir.path(), &["-q", "-m", "lib.a=other/a.lua"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(r.stdout, "explicit\n");
    let list = bundle(dir.path(), &["--list", "main.lua", "-m", "lib.a=other/a.lua"]);
    insta::assert_snapshot!("list_override", list.stdout);
}

#[test]
fn module_path_that_is_a_directory() {
    let dir = app(&[("main.lua", "require('weird')\n"), ("weird.lua/keep", "")]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("module 'weird' resolves to ./weird.lua, which is a directory"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("app").exists());
}

#[test]
fn unterminated_long_string_reports_like_the_parser() {
    let dir = app(&[
        ("main.lua", "require('lib.bad')\n"),
        ("lib/bad.lua", "local x = 1\nlocal s = [==[ never\nclosed ]]\n"),
    ]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1);
    // One diagnostic (the message, the source line with its caret) and the summary line.
    let first = r.stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: lib/bad.lua:"), "{}", r.stderr);
    assert!(r.stderr.lines().last().unwrap_or_default().starts_with("bundle: error: "));
    // LuaJIT reports the line where it gave up, with its own wording.
    let want = run(Command::new(luajit()).current_dir(dir.path()).arg("lib/bad.lua"));
    let luajit_msg = want
        .stderr
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches(|c| c != ':')
        .trim_start_matches(": ");
    assert!(r.stderr.contains(luajit_msg), "bundle: {} / luajit: {}", r.stderr, want.stderr);
}

#[test]
fn non_utf8_sources_work() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("main.lua"),
        b"local m = require('latin1')\nprint(#m.s, m.s:byte(1))\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("latin1.lua"), b"-- caf\xe9\nreturn { s = '\xe9t\xe9' }\n")
        .unwrap();
    let (b, r) = bundle_and_run(dir.path(), &["-q"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(r.stdout, luajit_in(dir.path(), "./?.lua").stdout);
    assert_eq!(r.stdout, "3\t233\n");
}

#[test]
fn depfile_lists_every_file_read() {
    let dir = app(&[
        ("main.lua", "require('a')\n"),
        ("a.lua", "require('b.c')"),
        ("b/c.lua", "return 1"),
    ]);
    let r = bundle(dir.path(), &["main.lua", "-o", "out", "-q", "--depfile", "out.d"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(dir.path().join("out.d")).unwrap();
    let root = dir.path().canonicalize().unwrap();
    assert!(text.starts_with(&format!("{}:", root.join("out").display())), "{text}");
    for f in ["main.lua", "a.lua", "b/c.lua"] {
        assert!(text.contains(&root.join(f).display().to_string()), "{f} missing from {text}");
    }
}

#[test]
fn why_prints_every_chain() {
    let dir = app(&[
        ("main.lua", "require('a')\nrequire('b')\n"),
        ("a.lua", "return require('shared')"),
        ("b.lua", "\nreturn require('shared')"),
        ("shared.lua", "return 1"),
    ]);
    let r = bundle(dir.path(), &["why", "shared", "main.lua"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "main.lua:1 → a.lua:1 → shared\nmain.lua:2 → b.lua:2 → shared\n");
    let r = bundle(dir.path(), &["why", "nothing", "main.lua"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("'nothing' is not required by main.lua"));
}

#[test]
fn generated_apps_bundle_without_any_module_flag() {
    // The workloads of the benchmarks (benches/gen_apps.py): generated twice, to check that the
    // generator is deterministic, then bundled and compared with luajit.
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen_apps.py");
    let generate = || {
        let root = tempdir();
        let g = run(Command::new("python3").arg(&gen).arg(root.path()));
        assert_eq!(g.code, 0, "python3 {}: {}", gen.display(), g.stderr);
        root
    };
    let root = generate();
    let again = generate();
    for (dir, count, mains) in
        [("app", 20, &["main.lua"][..]), ("big", 300, &["main.lua", "main10.lua"])]
    {
        let list = std::fs::read_to_string(root.path().join(dir).join("MODULES.txt")).unwrap();
        assert_eq!(list.lines().count(), count, "{dir}/MODULES.txt");
        for file in list.lines().chain(["MODULES.txt"]).chain(mains.iter().copied()) {
            let read = |r: &Path| std::fs::read(r.join(dir).join(file)).unwrap();
            assert!(read(root.path()) == read(again.path()), "{dir}/{file} differs between runs");
        }
    }
    for (dir, main, count) in
        [("app", "main.lua", 20), ("big", "main.lua", 300), ("big", "main10.lua", 10)]
    {
        let d = root.path().join(dir);
        let r = bundle(&d, &[main, "-o", "bundled", "-q"]);
        assert_eq!(r.code, 0, "{dir}/{main}: {}", r.stderr);
        let got = run(hermetic(&mut Command::new(d.join("bundled"))));
        let want = run(Command::new(luajit())
            .current_dir(&d)
            .env("LUA_PATH", "./?.lua;./?/init.lua")
            .arg(main));
        assert_eq!(got, want, "{dir}/{main}");
        assert!(want.stdout.starts_with(&format!("modules={count} checksum=")), "{}", want.stdout);
    }
}

/// Runs `main.lua` with luajit from `dir`, arguments `args`, its directory on the path.
fn luajit_args(dir: &Path, args: &[&str]) -> Run {
    run(Command::new(luajit())
        .current_dir(dir)
        .env("LUA_PATH", "./?.lua;./?/init.lua")
        .env("LUA_CPATH", "/nonexistent/?.so")
        .env_remove("LUA_INIT")
        .arg("main.lua")
        .args(args))
}

/// Issue 12: a module missing only inside a function, a branch, a loop or under pcall is a
/// warning with its chain and consequence; the build succeeds and the program behaves as
/// under luajit, failing only where luajit fails.
#[test]
fn issue12_lazily_required_missing_modules_are_warnings() {
    let dir = app(&[
        (
            "main.lua",
            "local tls = require('lib.tls')\nif arg[1] == 'cond' then require('absent_cond') end\nfor _ = 1, 0 do require('absent_loop') end\nprint('start', tls.enabled())\nif arg[1] == 'tls' then tls.wrap() end\n",
        ),
        (
            "lib/tls.lua",
            "local M = {}\nfunction M.enabled() return false end\nfunction M.wrap() return require('openssl_absent').wrap() end\nreturn M\n",
        ),
    ]);
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    for needle in [
        "warning: main.lua:1 → lib/tls.lua:3: module 'openssl_absent' not found",
        "it is required only inside a function",
        "warning: main.lua:2: module 'absent_cond' not found",
        "it is required only in a branch or loop that may not run",
        "warning: main.lua:3: module 'absent_loop' not found",
    ] {
        assert!(b.stderr.contains(needle), "{needle:?} in {}", b.stderr);
    }
    let want = luajit_args(dir.path(), &[]);
    assert_eq!((r.code, &r.stdout, &r.stderr), (want.code, &want.stdout, &want.stderr));
    // Where the code runs, the product fails exactly where luajit does.
    let out = dir.path().join("app.bin");
    for arg in ["tls", "cond"] {
        let got = run(hermetic(Command::new(&out).arg(arg).current_dir(dir.path())));
        let want = luajit_args(dir.path(), &[arg]);
        assert_eq!(got.code, want.code, "{arg}: {}", got.stderr);
        assert_eq!(got.stdout, want.stdout, "{arg}");
        let first =
            |s: &str| s.lines().next().unwrap_or("").split_once(": ").map(|x| x.1.to_owned());
        assert_eq!(first(&got.stderr), first(&want.stderr), "{arg}");
    }
}

#[test]
fn issue12_load_time_missing_module_is_still_an_error_and_strict_makes_all_errors() {
    let dir = app(&[
        ("main.lua", "require('lib.a')\nlocal function f() return require('lazy_absent') end\n"),
        ("lib/a.lua", "return require('deep_absent')\n"),
    ]);
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("error: main.lua:1 → lib/a.lua:1: module 'deep_absent' not found"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("warning: main.lua:2: module 'lazy_absent' not found"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("app").exists());
    // --strict: the lazy one is an error too; --allow-missing: both are warnings.
    std::fs::write(dir.path().join("lib/a.lua"), "return 1\n").unwrap();
    let strict = bundle(dir.path(), &["main.lua", "-o", "app", "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stderr);
    assert!(
        strict.stderr.contains("error: main.lua:2: module 'lazy_absent' not found"),
        "{}",
        strict.stderr
    );
    assert!(!dir.path().join("app").exists());
    let lenient = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(lenient.code, 0, "{}", lenient.stderr);
    let both = bundle(dir.path(), &["main.lua", "--list", "--strict", "--allow-missing"]);
    assert_eq!(both.code, 2, "conflicting flags: {}", both.stderr);
}

#[test]
fn issue12_the_same_name_required_lazily_and_at_load_time_is_an_error_in_any_order() {
    for main in [
        "local function f() return require('gone') end\nrequire('gone')\n",
        "require('gone')\nlocal function f() return require('gone') end\n",
    ] {
        let dir = app(&[("main.lua", main)]);
        let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
        assert_eq!(r.code, 1, "{main}: {}", r.stderr);
        assert!(r.stderr.contains("error: main.lua:"), "{}", r.stderr);
    }
}

#[test]
fn issue12_g_require_pcall_g_require_xpcall_and_aliases_are_followed() {
    let dir = app(&[
        (
            "main.lua",
            "local a = _G.require('mods.a')\nlocal ok, b = _G.pcall(_G.require, 'mods.b')\nlocal ok2, c = xpcall(require, debug.traceback, 'mods.c')\nlocal req = require\nlocal d = req 'mods.d'\nlocal require = require\nlocal e = package.loaded['mods.e'] or require 'mods.e'\nprint(a, b, c, d, e)\n",
        ),
        ("mods/a.lua", "return 'A'"),
        ("mods/b.lua", "return 'B'"),
        ("mods/c.lua", "return 'C'"),
        ("mods/d.lua", "return 'D'"),
        ("mods/e.lua", "return 'E'"),
    ]);
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(!b.stderr.contains("warning"), "no warning expected: {}", b.stderr);
    assert_eq!(r.stdout, "A\tB\tC\tD\tE\n", "{}", r.stderr);
    let list = bundle(dir.path(), &["main.lua", "--list"]);
    let when = |name: &str| {
        let row = list.stdout.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap();
        row.split_whitespace().nth(2).unwrap().to_owned()
    };
    assert_eq!(when("mods.a"), "load-time");
    assert_eq!(when("mods.b"), "optional");
    assert_eq!(when("mods.c"), "optional");
    assert_eq!(when("mods.d"), "load-time");
    assert_eq!(when("mods.e"), "conditional");
}

#[test]
fn issue12_a_literal_prefix_bundles_every_module_under_it_with_one_note_per_site() {
    let dir = app(&[
        (
            "main.lua",
            "local stages = {}\nfor _, name in ipairs({'one', 'two'}) do\n  stages[#stages + 1] = require('app.stages.' .. name)\nend\nlocal fmt = require(('app.fmt.%s'):format(arg[1] or 'plain'))\nprint(stages[1], stages[2], fmt)\nlocal ok = pcall(require, 'nothing.here.' .. tostring(arg[2]))\n",
        ),
        ("app/stages/one.lua", "return 1"),
        ("app/stages/two.lua", "return 2"),
        ("app/stages/deep/three.lua", "return require('app.stages.helper_absent')"),
        ("app/fmt/plain.lua", "return 'plain'"),
        ("app/fmt/json.lua", "return 'json'"),
    ]);
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("note: main.lua:3:25: require(\"app.stages.\" .. …): bundling the 3 modules found under 'app.stages.'"), "{}", b.stderr);
    assert!(
        b.stderr
            .contains("note: main.lua:5:13: require(\"app.fmt.\" .. …): bundling the 2 modules"),
        "{}",
        b.stderr
    );
    assert!(b.stderr.contains("warning: main.lua:7:18: require(\"nothing.here.\" .. …): no module under 'nothing.here'"), "{}", b.stderr);
    // Found through the prefix only: a missing module below is a warning, not an error.
    assert!(b.stderr.contains("warning: main.lua:3 → app/stages/deep/three.lua:1: module 'app.stages.helper_absent' not found"), "{}", b.stderr);
    assert_eq!(r.stdout, "1\t2\tplain\n", "{}", r.stderr);
    let out = dir.path().join("app.bin");
    let json = run(hermetic(Command::new(&out).arg("json")));
    assert_eq!(json.stdout, "1\t2\tjson\n", "{}", json.stderr);
    // The run-time hint names the flag for a module the prefix did not cover.
    let missing = run(hermetic(Command::new(&out).arg("xml")));
    assert_eq!(missing.code, 1);
    let lines: Vec<&str> = missing.stderr.lines().collect();
    let hint = lines
        .iter()
        .position(|l| l.contains("bundle: this executable holds other modules under 'app.fmt'"))
        .expect(&missing.stderr);
    assert!(lines[hint].contains("-m 'app.fmt.*'"), "{}", lines[hint]);
    assert_eq!(lines[hint + 1], "stack traceback:", "the hint ends require's message");
    assert!(lines[0].ends_with("module 'app.fmt.xml' not found:"), "{}", lines[0]);
}

#[test]
fn issue12_a_syntax_error_in_a_lazily_loaded_module_is_luajits_error_at_run_time() {
    let dir = app(&[
        ("main.lua", "print('start')\nif arg[1] then require('broken') end\nprint('end')\n"),
        ("broken.lua", "local x = = 1\n"),
        ("lua53.lua", "return 7 // 2\n"),
    ]);
    std::fs::write(dir.path().join("main.lua"), "print('start')\nif arg[1] == 'b' then require('broken') end\nif arg[1] == 'c' then require('lua53') end\nprint('end')\n").unwrap();
    let (b, r) = bundle_and_run(dir.path(), &[]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(b.stderr.contains("broken.lua:1: unexpected symbol near '='"), "{}", b.stderr);
    assert!(b.stderr.contains("lua53.lua:1: unexpected symbol near '/'"), "{}", b.stderr);
    assert_eq!(r.stdout, "start\nend\n");
    let out = dir.path().join("app.bin");
    for arg in ["b", "c"] {
        let got = run(hermetic(Command::new(&out).arg(arg).current_dir(dir.path())));
        let want = luajit_args(dir.path(), &[arg]);
        assert_eq!(got.code, want.code, "{arg}");
        assert_eq!(got.stdout, want.stdout, "{arg}");
        let msg = |s: &str| s.lines().nth(1).unwrap_or("").to_owned();
        assert_eq!(msg(&got.stderr), msg(&want.stderr), "{arg}: {}", got.stderr);
    }
    let strict = bundle(dir.path(), &["main.lua", "-o", "app2", "--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.stderr);
}

/// Issue 13, item 5: the executable's own package.path/cpath include the distribution's
/// directories, as Debian's luajit and `bundle` do: a module left out with `-x`, or loaded by a
/// name computed at run time, is found where luajit finds it.
#[test]
fn issue13_runtime_search_path_has_the_distribution_directories() {
    let dir = app(&[(
        "main.lua",
        "print(package.path)\nprint(package.cpath)\nlocal json = require('cj' .. 'son')\nprint(json.encode({1, 2}))\nprint(require('socket').VERSION ~= nil)\n",
    )]);
    let out = dir.path().join("app.bin");
    let b = bundle(dir.path(), &["main.lua", "-o", out.to_str().unwrap(), "-x", "socket", "-q"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let elsewhere = tempdir();
    let clean = |c: &mut Command| {
        c.current_dir(elsewhere.path()).env_remove("LUA_PATH").env_remove("LUA_CPATH");
        c.env_remove("LUA_PATH_5_1").env_remove("LUA_CPATH_5_1").env_remove("LUA_INIT");
    };
    let mut got = Command::new(&out);
    clean(&mut got);
    let got = run(&mut got);
    let mut want = Command::new(luajit());
    clean(&mut want);
    let want = run(want.arg(dir.path().join("main.lua")));
    assert_eq!(got.code, 0, "{}", got.stderr);
    let lines: Vec<&str> = got.stdout.lines().collect();
    assert!(lines[0].contains("/usr/share/lua/5.1/?.lua"), "{}", lines[0]);
    assert!(
        lines[1].contains("/usr/lib/x86_64-linux-gnu/lua/5.1/?.so")
            || !cfg!(target_arch = "x86_64"),
        "{}",
        lines[1]
    );
    // Besides LuaJIT's own version directory, the paths are Debian's.
    let debian = |s: &str| s.replace("luajit-2.1.0-beta3", "luajit-2.1");
    assert_eq!(debian(&want.stdout), got.stdout);
}
