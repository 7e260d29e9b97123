//! `BUNDLE_TRACE=startup` (docs/STARTUP.md): the phases in order on stderr, through the stub
//! and the C file; nothing at all without the variable (or with another value).

mod common;

use std::process::Command;

use common::*;

const PHASES: &[&str] =
    &["Lua state opened", "standard libraries opened, searchers installed", "main chunk loaded"];

fn positions(stderr: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| stderr.find(n).unwrap_or_else(|| panic!("{n:?} not traced in {stderr:?}")))
        .collect()
}

#[test]
fn startup_phases_are_traced_in_order_by_both_hosts() {
    let dir =
        app(&[("main.lua", "print(require('lib.util').x)\n"), ("lib/util.lua", "return {x=42}\n")]);
    let d = dir.path();
    let r = bundle(d, &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bundle(d, &["main.lua", "--emit-c", "--cc", "-o", "appc.c", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for exe in ["app", "appc"] {
        let quiet = run(hermetic(Command::new(d.join(exe)).current_dir(d)));
        assert_eq!((quiet.code, quiet.stdout.as_str(), quiet.stderr.as_str()), (0, "42\n", ""));
        let other =
            run(hermetic(Command::new(d.join(exe)).current_dir(d).env("BUNDLE_TRACE", "yes")));
        assert_eq!(other.stderr, "", "only BUNDLE_TRACE=startup traces");
        let traced =
            run(hermetic(Command::new(d.join(exe)).current_dir(d).env("BUNDLE_TRACE", "startup")));
        assert_eq!((traced.code, traced.stdout.as_str()), (0, "42\n"), "{}", traced.stderr);
        assert!(
            traced.stderr.lines().all(|l| l.starts_with("bundle: trace ")),
            "{}",
            traced.stderr
        );
        let at = positions(&traced.stderr, PHASES);
        assert!(at.windows(2).all(|w| w[0] < w[1]), "phases out of order: {}", traced.stderr);
        if exe == "app" {
            let at = positions(
                &traced.stderr,
                &[
                    "payload found, index verified",
                    "Lua state opened",
                    "require 'lib.util': found in the bundle (lua-bytecode",
                ],
            );
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{}", traced.stderr);
        }
    }
}

/// Issue 19: a program with assets gets the overlay's stubs at start-up, and the overlay itself
/// (runtime/lua/assets.lua) is loaded on the first use of a file only: never for a program
/// that touches no file (its require of a bundled module included), after the main chunk for
/// one that opens its asset.
#[test]
fn issue19_asset_overlay_is_loaded_on_first_use_only() {
    let dir = app(&[
        (
            "main.lua",
            "local m = require('lib.m')\nif arg[1] then print(io.open('one.txt'):read('*l')) else print(m) end\n",
        ),
        ("lib/m.lua", "return 'hi'\n"),
        ("one.txt", "tiny\n"),
    ]);
    let d = dir.path();
    let r = bundle(d, &["main.lua", "-o", "app", "-q", "--asset", "one.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r =
        bundle(d, &["main.lua", "--emit-c", "--cc", "-o", "appc.c", "-q", "--asset", "one.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Hermetic: package.path is empty, so a require does not look among the assets either.
    let r = bundle(d, &["main.lua", "-o", "apph", "-q", "--asset", "one.txt", "--hermetic"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(d.join("one.txt")).unwrap(); // read from the executable, not the disk
    for exe in ["app", "appc", "apph"] {
        let traced = |args: &[&str]| {
            let mut cmd = Command::new(d.join(exe));
            cmd.args(args).current_dir(d).env("BUNDLE_TRACE", "startup");
            run(hermetic(&mut cmd))
        };
        let quiet = traced(&[]);
        assert_eq!((quiet.code, quiet.stdout.as_str()), (0, "hi\n"), "{}", quiet.stderr);
        let at = positions(
            &quiet.stderr,
            &["asset overlay installed (loaded on first use)", "main chunk loaded"],
        );
        assert!(at[0] < at[1], "{}", quiet.stderr);
        assert!(!quiet.stderr.contains("asset overlay loaded"), "{exe}: {}", quiet.stderr);
        let reads = traced(&["read"]);
        assert_eq!((reads.code, reads.stdout.as_str()), (0, "tiny\n"), "{}", reads.stderr);
        let at = positions(
            &reads.stderr,
            &[
                "asset overlay installed (loaded on first use)",
                "main chunk loaded",
                "asset overlay loaded (first use of a file)",
            ],
        );
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{exe}: {}", reads.stderr);
    }
}

/// Runs `exe` with `args` in `dir`, traced, `input` on stdin.
fn traced_with_stdin(dir: &std::path::Path, exe: &str, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = hermetic(Command::new(dir.join(exe)).current_dir(dir))
        .env("BUNDLE_TRACE", "startup")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the interpreter");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        signal: None,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const HOST_RUNS_IT: &str = "interpreter: the host runs the command line, interp.lua not loaded";
const INTERP_LOADED: &str = "interpreter: interp.lua loaded for this command line";

/// Issue 19, point 3: the interpreter loads runtime/lua/interp.lua (the REPL, -b, -j, -O) only
/// for a command line that needs it; -e, -l, -v and scripts run in the host alone, through
/// both hosts. What it does either way is tested against luajit in tests/interpreter.rs.
#[test]
fn issue19_the_interpreter_loads_interp_lua_only_when_the_command_line_needs_it() {
    let dir = app(&[("s.lua", "print('script', ...)\n"), ("m.lua", "print('module')\n")]);
    let d = dir.path();
    let r = bundle(d, &["-o", "lj", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = bundle(d, &["--emit-c", "--cc", "-o", "ljc.c", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for exe in ["lj", "ljc"] {
        let cases: &[(&[&str], &str, &str, bool)] = &[
            (&["-e", "print(1)"], "", "1\n", false),
            (&["s.lua", "a"], "", "script\ta\n", false),
            (&["-E", "-lm", "-e", "print(#arg)", "--", "s.lua"], "", "module\n0\nscript\n", false),
            (&["-"], "print('stdin')", "stdin\n", false),
            (&[], "print('piped')", "piped\n", false),
            (&["-v"], "print('not run')", "LuaJIT 2.1", false),
            (&["-v", "-e", "print(3)"], "", "LuaJIT 2.1", false),
            (&["-e", "x = 1", "-i"], "=x + 41\n", "42\n", true),
            (&["-O3", "-e", "print(2)"], "", "2\n", true),
            (&["-x"], "", "", true),
        ];
        for (args, input, out, loaded) in cases {
            let r = traced_with_stdin(d, exe, args, input);
            assert!(r.stdout.contains(out), "{exe} {args:?}: {}\n{}", r.stdout, r.stderr);
            assert!(!r.stdout.contains("not run"), "{exe} {args:?}: {}", r.stdout);
            let (want, not) =
                if *loaded { (INTERP_LOADED, HOST_RUNS_IT) } else { (HOST_RUNS_IT, INTERP_LOADED) };
            assert!(
                r.stderr.contains(want) && !r.stderr.contains(not),
                "{exe} {args:?}: {}",
                r.stderr
            );
        }
    }
    // The jit.* tools the stub's interpreter packs: -b and -jv load interp.lua, and work.
    let r = traced_with_stdin(d, "lj", &["-b", "-l", "s.lua"], "");
    assert!(r.stdout.contains("-- BYTECODE -- s.lua"), "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(INTERP_LOADED), "{}", r.stderr);
    let r = traced_with_stdin(d, "lj", &["-jv", "-e", "for i = 1, 300 do end"], "");
    assert!(r.stderr.contains("[TRACE   1 (command line):1 loop]"), "{}", r.stderr);
    assert!(r.stderr.contains(INTERP_LOADED), "{}", r.stderr);
}
