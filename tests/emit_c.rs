//! `--emit-c`: for every fixture app, the C file compiles warning-free with
//! `cc -std=c99 -Wall -Wextra -pedantic` against Debian's LuaJIT and the executable built by
//! `--cc` behaves as `luajit main.lua` does (the shared fixture runner, tests/common); static C modules from `--c-lib`; literals far beyond 4095 characters.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Every fixture through the C back end (`--emit-c --cc`), by the runner every back end shares
/// (tests/common `check_fixtures`): the C file also compiles warning-free under `cc_strict`.
#[test]
fn every_fixture_behaves_like_luajit() {
    check_fixtures(Backend::C);
}

#[test]
fn emitted_c_is_deterministic_and_source_mode_works() {
    let dir = tempdir();
    let big = "x".repeat(150_000);
    write_tree(
        dir.path(),
        &[
            ("main.lua", "local s = require('big')\nprint(#s, s:sub(1, 3))\n"),
            ("big.lua", &format!("return [[{big}]]\n")),
        ],
    );
    assert_eq!(bundle(dir.path(), &["main.lua", "--emit-c", "-o", "a.c", "-q"]).code, 0);
    let first = std::fs::read(dir.path().join("a.c")).unwrap();
    assert_eq!(bundle(dir.path(), &["main.lua", "--emit-c", "-o", "a.c", "-q"]).code, 0);
    assert!(first == std::fs::read(dir.path().join("a.c")).unwrap(), "same inputs, same C");
    assert_eq!(
        bundle(dir.path(), &["main.lua", "--emit-c", "-o", "s.c", "-q", "--source"]).code,
        0
    );
    for c in ["a.c", "s.c"] {
        let exe = dir.path().join(c.replace(".c", ""));
        cc_strict(&dir.path().join(c), &[], &exe);
        let r = run(hermetic(&mut Command::new(&exe)));
        assert_eq!(r.stdout, "150000\txxx\n", "{c}: {}", r.stderr);
    }
}

#[test]
fn static_c_module_from_an_archive_is_linked_and_required() {
    let dir = tempdir();
    let d = dir.path();
    let flags = run(Command::new("pkg-config").args(["--cflags", "luajit"])).stdout;
    std::fs::write(
        d.join("cmod.c"),
        "#include \"lua.h\"\n#include \"lauxlib.h\"\nstatic int twice(lua_State *L) { lua_pushnumber(L, 2 * luaL_checknumber(L, 1)); return 1; }\nint luaopen_cmod(lua_State *L) { lua_newtable(L); lua_pushcfunction(L, twice); lua_setfield(L, -2, \"twice\"); return 1; }\nint luaopen_cmod_extra(lua_State *L) { lua_pushliteral(L, \"extra\"); return 1; }\n",
    )
    .unwrap();
    let r = run(Command::new("cc")
        .current_dir(d)
        .args(["-c", "-fPIC", "cmod.c", "-o", "cmod.o"])
        .args(flags.split_whitespace()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(Command::new("ar").current_dir(d).args(["rcs", "libcmod.a", "cmod.o"])).code, 0);
    std::fs::write(d.join("main.lua"), "local m = require('cmod')\nprint(m.twice(21), require('cmod.extra'), package.loaded['cmod'] == m)\n").unwrap();
    let r = bundle(d, &["main.lua", "--emit-c", "-o", "app.c", "--c-lib", "libcmod.a"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("link with: cc -std=c99 -O2 app.c libcmod.a $(pkg-config --cflags --libs luajit) -o app"), "{}", r.stderr);
    let text = std::fs::read_to_string(d.join("app.c")).unwrap();
    assert!(
        text.contains("extern int luaopen_cmod(lua_State *L);") && text.contains("libcmod.a"),
        "header and externs"
    );
    cc_strict(&d.join("app.c"), &[d.join("libcmod.a")], &d.join("app"));
    let run_it = run(&mut Command::new(d.join("app")));
    assert_eq!(run_it.stdout, "42\textra\ttrue\n", "{}", run_it.stderr);
    // --cc does the same in one step.
    let r =
        bundle(d, &["main.lua", "--emit-c", "-o", "one.c", "--c-lib", "libcmod.a", "--cc", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(run(&mut Command::new(d.join("one"))).stdout, "42\textra\ttrue\n");
}

#[test]
fn emit_c_bad_inputs() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("main.lua"), "print(1)\n").unwrap();
    std::fs::write(d.join("text.a"), "not an archive").unwrap();
    std::fs::write(d.join("empty.c"), "int nothing(void) { return 0; }\n").unwrap();
    assert_eq!(
        run(Command::new("cc").current_dir(d).args(["-c", "empty.c", "-o", "empty.o"])).code,
        0
    );
    std::fs::write(d.join("dup.c"), "int luaopen_same(void *L) { (void)L; return 0; }\n").unwrap();
    assert_eq!(
        run(Command::new("cc").current_dir(d).args(["-c", "dup.c", "-o", "dup1.o"])).code,
        0
    );
    assert_eq!(
        run(Command::new("cc").current_dir(d).args(["-c", "dup.c", "-o", "dup2.o"])).code,
        0
    );
    for (args, code, needle) in [
        (vec!["--stub", "main.lua"], 2, "cannot be used with"),
        (vec!["--c-lib", "text.a"], 1, "not a static archive (.a) or an object file (.o)"),
        (vec!["--c-lib", "empty.o"], 1, "defines no luaopen_* function"),
        (
            vec!["--c-lib", "dup1.o", "--c-lib", "dup2.o"],
            1,
            "C module 'same' is defined by two --c-lib files",
        ),
        (vec!["--cc"], 2, "must end in .c"),
    ] {
        let out = if args.contains(&"--cc") { "app.x" } else { "app.c" };
        let mut full = vec!["main.lua", "--emit-c", "-o", out];
        full.extend(args.iter().copied());
        let r = bundle(d, &full);
        assert_eq!(r.code, code, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: expected {needle:?} in {}", r.stderr);
        assert!(!d.join(out).exists());
    }
    let r = bundle(d, &["main.lua", "--emit-c", "-o", "no/such/dir/app.c"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
}

#[test]
fn clang_compiles_it_too_when_installed() {
    if run(Command::new("sh").args(["-c", "command -v clang"])).code != 0 {
        eprintln!("SKIPPED clang_compiles_it_too_when_installed: no clang on this machine");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/multi_module");
    let out = tempdir();
    let c = out.path().join("app.c");
    assert_eq!(bundle(&dir, &["main.lua", "--emit-c", "-o", c.to_str().unwrap(), "-q"]).code, 0);
    let flags = run(Command::new("pkg-config").args(["--cflags", "--libs", "luajit"])).stdout;
    let r = run(Command::new("clang")
        .args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"])
        .arg(&c)
        .args(flags.split_whitespace())
        .arg("-o")
        .arg(out.path().join("app")));
    assert_eq!(r.code, 0, "clang: {}", r.stderr);
}

/// Issue 14, the hosts' drift: `--emit-c` honours `--sigpipe ignore` as the stub does, and both
/// hosts name themselves `bundle-app` when argv[0] is empty.
#[test]
fn issue14_c_host_honours_sigpipe_and_names_itself_like_the_stub() {
    let dir = tempdir();
    let d = dir.path();
    write_tree(
        d,
        &[(
            "main.lua",
            "for i = 1, 2000 do io.write(('x'):rep(100), '\\n') end\nio.stdout:flush()\nio.stderr:write('survived\\n')\nerror('boom')\n",
        )],
    );
    for (name, extra) in [("plain", vec![]), ("ignore", vec!["--sigpipe", "ignore"])] {
        let c = format!("{name}.c");
        let mut args = vec!["main.lua", "--emit-c", "-o", c.as_str(), "-q"];
        args.extend(extra.iter().copied());
        assert_eq!(bundle(d, &args).code, 0);
        let exe = d.join(name);
        cc_strict(&d.join(&c), &[], &exe);
        let stub = d.join(format!("{name}.stub"));
        let mut sargs = vec!["main.lua", "-o", stub.to_str().unwrap(), "-q"];
        sargs.extend(extra.iter().copied());
        assert_eq!(bundle(d, &sargs).code, 0);
        for bin in [&exe, &stub] {
            // A reader that goes away at once: without --sigpipe ignore, SIGPIPE ends the
            // program; with it, writes fail and the program goes on.
            let mut child = Command::new(bin)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            drop(child.stdout.take());
            let out = child.wait_with_output().unwrap();
            use std::os::unix::process::ExitStatusExt;
            let stderr = String::from_utf8_lossy(&out.stderr);
            if name == "ignore" {
                assert!(stderr.contains("survived"), "{}: {stderr}", bin.display());
            } else {
                assert_eq!(out.status.signal(), Some(13), "{}: {stderr}", bin.display());
            }
        }
        if name == "ignore" {
            use std::os::unix::process::CommandExt;
            let c_run = run(Command::new(&exe).arg0(""));
            let s_run = run(Command::new(&stub).arg0(""));
            assert!(c_run.stderr.contains("\nbundle-app: main.lua:4: boom"), "{}", c_run.stderr);
            assert!(s_run.stderr.contains("\nbundle-app: main.lua:4: boom"), "{}", s_run.stderr);
        }
    }
}

/// The bundler never refuses a program luajit runs (issue 12): with --emit-c, a shared-object C
/// module required only under pcall is left to package.cpath with a warning, and the program
/// behaves as under luajit; one needed at start is still refused.
#[test]
fn issue12_lazily_required_shared_c_modules_are_left_to_cpath() {
    let dir = tempdir();
    let d = dir.path();
    write_tree(
        d,
        &[(
            "main.lua",
            "local ok, json = pcall(require, 'cjson')\nprint(ok and json.encode({1, 2}) or 'no cjson')\n",
        )],
    );
    let r = bundle(d, &["main.lua", "--emit-c", "-o", "app.c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("C module 'cjson'") && r.stderr.contains("package.cpath"),
        "{}",
        r.stderr
    );
    cc_strict(&d.join("app.c"), &[], &d.join("app"));
    let got = run(Command::new(d.join("app")).env_remove("LUA_CPATH"));
    let want = run(Command::new(luajit()).current_dir(d).env_remove("LUA_CPATH").arg("main.lua"));
    assert_eq!((got.code, &got.stdout), (want.code, &want.stdout), "{}", got.stderr);
    std::fs::write(d.join("main.lua"), "print(require('cjson').encode({1}))\n").unwrap();
    let r = bundle(d, &["main.lua", "--emit-c", "-o", "app2.c"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot embed it"), "{}", r.stderr);
}
