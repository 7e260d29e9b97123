//! The interpreter (`bundle -o mylua` with no main script) against Debian's `luajit`: the same
//! command lines, stdin and environment through both, comparing stdout, stderr and the exit
//! code after normalising what legitimately differs (the program's path, C addresses, the
//! version banner, the CPU features in the JIT status line, and the searcher line that says a
//! module is not in the bundle).
//!
//! REPL sessions run through a pseudo-terminal (expectrl), also side by side with luajit.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;

/// Files every case can use, in the directory the cases run in.
const FILES: &[(&str, &str)] = &[
    ("s.lua", "print('script', ...)\nfor i = -3, #arg do print(i, arg[i]) end\n"),
    (
        "err.lua",
        "local function inner(x)\n  error('bad ' .. x)\nend\nlocal function outer()\n  inner('thing')\n  return 1\nend\nouter()\n",
    ),
    (
        "deep.lua",
        "local function f(n)\n  if n == 0 then error('deep') end\n  f(n - 1)\n  return n\nend\nf(40)\n",
    ),
    ("init.lua", "print('from the init file', arg and #arg)\n"),
    ("badsyntax.lua", "print('a')\nx = = 1\n"),
    ("exit.lua", "io.write('bye')\nos.exit(7)\n"),
    ("ret.lua", "return 1, 2, 3\n"),
    ("mods/greet.lua", "print('greet loaded', ...)\nreturn { hi = function(n) return 'hi ' .. n end }\n"),
    ("mods/failing.lua", "error('failing module')\n"),
];

/// The fixture directory and the interpreter built from it (with `greet` and `failing` inside).
fn setup() -> &'static (tempfile::TempDir, PathBuf) {
    static SETUP: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = tempdir();
        write_tree(dir.path(), FILES);
        let exe = dir.path().join("mylua");
        let r = bundle(
            dir.path(),
            &["-o", "mylua", "-m", "greet=mods/greet.lua", "-m", "failing=mods/failing.lua"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        (dir, exe)
    })
}

/// One invocation: arguments, stdin, extra environment.
struct Case {
    args: &'static [&'static str],
    stdin: &'static [u8],
    env: &'static [(&'static str, &'static str)],
    /// The output is text of LuaJIT's own tools, which differs between LuaJIT versions: only
    /// the exit code and the first line of each stream are compared.
    loose: bool,
}

const fn case(args: &'static [&'static str]) -> Case {
    Case { args, stdin: b"", env: &[], loose: false }
}

const fn with_stdin(args: &'static [&'static str], stdin: &'static [u8]) -> Case {
    Case { args, stdin, env: &[], loose: false }
}

const fn with_env(
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
) -> Case {
    Case { args, stdin: b"", env, loose: false }
}

/// Debian's luajit finds its jit.* tools on its default path only.
const LUAJIT_TOOLS: &[(&str, &str)] = &[("LUA_PATH", ";;")];

const CASES: &[Case] = &[
    // -e
    case(&["-e", "print(1)"]),
    case(&["-eprint(2)"]),
    case(&["-e", "print(arg[-2], arg[-1], arg[0], #arg, ...)"]),
    case(&["-e", "error('boom')"]),
    case(&["-e", "x = = 1"]),
    case(&["-e", "error({})"]),
    case(&["-e", "error(setmetatable({}, {__tostring = function() return 'custom' end}))"]),
    case(&["-e", "error(nil)"]),
    case(&["-e", "os.exit(3)"]),
    case(&["-e", "io.write('out') io.stderr:write('err')"]),
    case(&["-e", "print(debug.traceback('here'))"]),
    case(&["-e", "print(coroutine.running())"]),
    case(&["-e", "print(1)", "-e", "print(2)", "-e", "error('third')", "-e", "print(4)"]),
    // -l
    case(&["-l", "nosuch"]),
    case(&["-l", "greet", "-e", "print(greet, package.loaded.greet.hi('you'))"]),
    case(&["-lgreet"]),
    case(&["-l", "failing", "-e", "print('not reached')"]),
    // scripts and arg
    case(&["s.lua", "a", "b c", ""]),
    case(&["-e", "arg[1] = 'changed'", "s.lua", "a", "b"]),
    case(&["err.lua"]),
    case(&["deep.lua"]),
    case(&["badsyntax.lua"]),
    case(&["exit.lua"]),
    case(&["ret.lua"]),
    case(&["nonexistent.lua"]),
    case(&["mods"]),
    case(&["--", "s.lua", "-e", "x"]),
    case(&["-e", "print('e')", "--", "s.lua"]),
    case(&["--"]),
    case(&["--", "-"]),
    // stdin
    with_stdin(&["-"], b"print('from stdin', ...)\n"),
    with_stdin(&["-", "x", "y"], b"print('from stdin', ...)\n"),
    with_stdin(&[], b"print('no args, piped')\n"),
    with_stdin(&[], b"\x00\x01\xfe\xff garbage \x80\n"),
    with_stdin(&["-"], b"\x1bLJ\x02\x00garbage"),
    with_stdin(&[], b"error('piped error')\n"),
    // -i with piped input: prompts and results on stdout
    with_stdin(
        &["-i"],
        b"x = 6\n=x * 7\nfunction f(a)\nreturn a + 1\nend\nprint(f(1))\nerror('oops')\n",
    ),
    with_stdin(&["-i", "s.lua", "z"], b"=arg[1]\n"),
    with_stdin(&["-i"], b"=1, nil, 'three'\nreturn\n"),
    with_stdin(&["-i"], b"print = 5\n=1\n"),
    with_stdin(&["-i"], b"for i = 1, 2 do\n"),
    with_stdin(&["-e", "_PROMPT = 'P> ' _PROMPT2 = 'P>> '", "-i"], b"if true then\nend\n"),
    // LUA_INIT and -E
    with_env(&["-e", "print('e')"], &[("LUA_INIT", "print('init string')")]),
    with_env(&["-e", "print('e')"], &[("LUA_INIT", "@init.lua")]),
    with_env(&["-e", "print('e')"], &[("LUA_INIT", "@missing-init.lua")]),
    with_env(&["-e", "print('e')"], &[("LUA_INIT", "error('init fails')")]),
    with_env(&["-e", "print('e')"], &[("LUA_INIT_5_1", "print('5.1 init')")]),
    with_env(&["-E", "-e", "print('e')"], &[("LUA_INIT", "print('init string')")]),
    with_env(&["-E", "-e", "print(package.path:find('nonexistent', 1, true))"], &[]),
    with_env(&["s.lua", "q"], &[("LUA_INIT", "arg[1] = 'set by init'")]),
    // -v, -j, -O
    case(&["-v"]),
    case(&["-v", "-e", "print(1)"]),
    case(&["-O3", "-e", "print('O3')"]),
    case(&["-O-fold,+cse", "-e", "print('flags')"]),
    case(&["-Onosuchflag", "-e", "print('x')"]),
    case(&["-joff", "-e", "print((jit.status()))"]),
    case(&["-j", "on", "-e", "print((jit.status()))"]),
    with_env(&["-jnosuch"], LUAJIT_TOOLS),
    with_env(&["-jv", "-e", "for i = 1, 100 do end"], LUAJIT_TOOLS),
    with_env(&["-jv=/dev/stdout", "-e", "for i = 1, 100 do end"], LUAJIT_TOOLS),
    // -b
    Case { args: &["-b"], stdin: b"", env: LUAJIT_TOOLS, loose: true },
    with_env(&["-b", "nonexistent.lua", "out.raw"], LUAJIT_TOOLS),
    // bad options
    case(&["-x"]),
    case(&["-e"]),
    case(&["-l"]),
    case(&["-j"]),
    case(&["-iv"]),
    case(&["--x"]),
    case(&["-v", "-b", "s.lua"]),
];

/// What one side of a case did, normalised.
fn normalized(r: &Run, prog: &Path) -> (i32, String, String) {
    let fix = |text: &str| -> String {
        let text = text.replace(&prog.display().to_string(), "PROG");
        let mut out = String::new();
        for line in text.split_inclusive('\n') {
            if line.starts_with("\tno module '") && line.trim_end().ends_with("' in the bundle") {
                continue;
            }
            let line = mask_banner(line);
            out.push_str(&normalize(&line, "PROG"));
        }
        out
    };
    (r.code, fix(&r.stdout), fix(&r.stderr))
}

/// `LuaJIT <version> -- Copyright ...` → `BANNER`; `JIT: ON <features>` → `JIT: ON`.
fn mask_banner(line: &str) -> String {
    let mut line = line.to_owned();
    if let Some(at) = line.find("LuaJIT 2.") {
        if let Some(end) = line[at..].find("luajit.org/") {
            line.replace_range(at..at + end + "luajit.org/".len(), "BANNER");
        }
    }
    for state in ["JIT: ON", "JIT: OFF"] {
        if let Some(at) = line.find(state) {
            let end = line[at..].find('\n').map_or(line.len(), |e| at + e);
            line.replace_range(at..end, state);
        }
    }
    line
}

fn run_side(program: &Path, c: &Case, cwd: &Path) -> Run {
    let mut cmd = Command::new(program);
    cmd.args(c.args).current_dir(cwd);
    cmd.env("LUA_PATH", "./mods/?.lua;/nonexistent/?.lua").env("LUA_CPATH", "/nonexistent/?.so");
    for var in ["LUA_INIT", "LUA_INIT_5_1", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    for (k, v) in c.env {
        cmd.env(k, v);
    }
    run_with_stdin(&mut cmd, c.stdin)
}

fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Run {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    // The child may exit without reading: a broken pipe here is not the test's concern.
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().expect("waiting for the child");
    Run {
        code: out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn command_lines_behave_as_luajit() {
    assert!(CASES.len() >= 40, "the issue asks for at least 40 invocations");
    let (dir, exe) = setup();
    check_cases(dir.path(), exe);
}

/// The same cases through the interpreter of `bundle --emit-c`, compiled against Debian's
/// libluajit (whose own jit.* tools it then uses, as they match that VM).
#[test]
fn the_emitted_c_interpreter_behaves_as_luajit() {
    let (dir, _) = setup();
    let r = bundle(
        dir.path(),
        &[
            "--emit-c",
            "--cc",
            "-o",
            "clua.c",
            "-m",
            "greet=mods/greet.lua",
            "-m",
            "failing=mods/failing.lua",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_cases(dir.path(), &dir.path().join("clua"));
}

/// Issue 14: user code starts at luajit's stack depth, so a recursion overflows at the same
/// count: the interpreter's own coroutine is off the main stack, and its code runs with the JIT
/// off so that it does not count down the hot counters the user's loops share. Compared with
/// the luajit of the stub's own version (bundled interpreter) and Debian's (the C file built
/// against Debian's LuaJIT). With the JIT off, preludes that shift the stack by a slot or more
/// must give the same counts too. (With the JIT on, when a trace starts also depends on where
/// the allocator placed the user's functions, which no host can make equal to luajit's; the
/// issue's own command line is compared with the JIT on.)
#[test]
fn interpreter_starts_user_code_at_luajits_stack_depth() {
    let (dir, exe) = setup();
    let r = bundle(dir.path(), &["--emit-c", "--cc", "-o", "depth.c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let depth = "local n=0 local function f() n=n+1 f() end pcall(f) print(n)";
    let mut lines: Vec<Vec<String>> = vec![vec!["-e".into(), depth.into()]];
    for prelude in ["", "local a;", "local a, b;", "local a, b, c;", "for i = 1, 100 do end"] {
        lines.push(vec!["-joff".into(), "-e".into(), format!("{prelude} {depth}")]);
    }
    for (ours, oracle) in [(exe.clone(), reference_luajit()), (dir.path().join("depth"), luajit())]
    {
        for args in &lines {
            let theirs = run(Command::new(&oracle).args(args));
            let mine = run(Command::new(&ours).args(args));
            assert_eq!(theirs.code, 0, "{}", theirs.stderr);
            assert!(theirs.stdout.trim().parse::<u32>().is_ok_and(|n| n > 1000), "{theirs:?}");
            assert_eq!(mine.stdout, theirs.stdout, "{} {args:?}", ours.display());
        }
    }
}

/// Runs every case through luajit and `exe` in `dir`; panics listing the cases that differ.
fn check_cases(dir: &Path, exe: &Path) {
    let luajit = luajit();
    let mut failures = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let mut want = normalized(&run_side(&luajit, c, dir), &luajit);
        let mut got = normalized(&run_side(exe, c, dir), exe);
        if c.loose {
            for side in [&mut want, &mut got] {
                for text in [&mut side.1, &mut side.2] {
                    *text = text.lines().next().unwrap_or_default().to_owned();
                }
            }
        }
        if want != got {
            failures.push(format!(
                "case {i}: args {:?} stdin {:?} env {:?}\n--- luajit: exit {}\nstdout:\n{}\nstderr:\n{}\n--- interpreter: exit {}\nstdout:\n{}\nstderr:\n{}",
                c.args,
                String::from_utf8_lossy(c.stdin),
                c.env,
                want.0, want.1, want.2, got.0, got.1, got.2
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

#[test]
fn saved_bytecode_runs_under_luajit_like_the_source() {
    let (dir, exe) = setup();
    let scratch = tempdir();
    for (args, out) in [
        (vec!["-b", "s.lua"], "s.raw"),
        (vec!["-bg", "err.lua"], "err.raw"),
        (vec!["-b", "-e", "print('chunk', ...)"], "e.raw"),
    ] {
        let out_path = scratch.path().join(out);
        let mut cmd = Command::new(exe);
        cmd.args(&args).arg(&out_path).current_dir(dir.path());
        let r = run(&mut cmd);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{args:?}");
        let source = args.last().copied().expect("an input");
        let from_source = if args.contains(&"-e") {
            run(Command::new(luajit()).args(["-e", source, "x", "y"]).current_dir(dir.path()))
        } else {
            run(Command::new(luajit()).args([source, "x", "y"]).current_dir(dir.path()))
        };
        let from_bytecode =
            run(Command::new(luajit()).arg(&out_path).args(["x", "y"]).current_dir(dir.path()));
        let strip = |r: &Run, name: &str| {
            (r.code, r.stdout.replace(name, "IN"), r.stderr.replace(name, "IN"))
        };
        let src_name =
            if args.contains(&"-e") { "(command line)".to_owned() } else { source.to_owned() };
        let bc_name = out_path.display().to_string();
        // A stripped dump has no line info; only the -bg one keeps the file name.
        if args[0] == "-bg" {
            assert_eq!(strip(&from_bytecode, &bc_name).0, strip(&from_source, &src_name).0);
            assert!(
                from_bytecode.stderr.contains("err.lua:2: bad thing"),
                "{}",
                from_bytecode.stderr
            );
        } else if args.contains(&"-e") {
            assert_eq!(from_bytecode.stdout, "chunk\tx\ty\n");
        } else {
            assert_eq!(
                (from_bytecode.code, &from_bytecode.stdout),
                (from_source.code, &from_source.stdout.replace(&src_name, &bc_name))
            );
        }
    }
}

#[test]
fn bundled_modules_load_without_any_file() {
    let (_, exe) = setup();
    let elsewhere = tempdir();
    let mut cmd = Command::new(exe);
    cmd.args(["-l", "greet", "-e", "print(require('greet').hi('x'))"])
        .current_dir(elsewhere.path());
    let r = run(hermetic(&mut cmd));
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "greet loaded\tgreet\nhi x\n", "")
    );
    // The jit.* tools ship inside: -jv works with no LuaJIT installed (and no path to one).
    let mut cmd = Command::new(exe);
    cmd.args(["-jv", "-e", "for i = 1, 200 do end"]).current_dir(elsewhere.path());
    let r = run(hermetic(&mut cmd));
    assert!(r.stderr.contains("[TRACE   1 (command line):1 loop]"), "{r:?}");
}

#[test]
fn bundle_time_preloads_run_before_the_options() {
    let dir = tempdir();
    write_tree(dir.path(), FILES);
    let r = bundle(dir.path(), &["-o", "pre", "-m", "greet=mods/greet.lua", "-l", "greet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut cmd = Command::new(dir.path().join("pre"));
    cmd.args(["-e", "print(package.loaded.greet.hi('p'))"]).current_dir(dir.path());
    let r = run(hermetic(&mut cmd));
    assert_eq!((r.code, r.stdout.as_str()), (0, "greet loaded\tgreet\nhi p\n"));
}

#[test]
fn interpreter_env_switches_an_app_to_the_interpreter() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[("app.lua", "local g = require('mods.greet') print('app', g.hi('a'))\n")],
    );
    write_tree(dir.path(), FILES);
    let r = bundle(dir.path(), &["app.lua", "-o", "app", "--interpreter-env", "APP_LUA"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let app = dir.path().join("app");
    let r = run(hermetic(&mut Command::new(&app)));
    assert_eq!(r.stdout, "greet loaded\tmods.greet\napp\thi a\n");
    let mut cmd = Command::new(&app);
    cmd.env("APP_LUA", "1").args(["-e", "print(require('mods.greet').hi('i'), arg[0])"]);
    let r = run(hermetic(&mut cmd));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "greet loaded\tmods.greet\nhi i\tnil\n"),
        "{}",
        r.stderr
    );
    // Off by default: the variable means nothing to an app bundled without the option.
    let r = bundle(dir.path(), &["app.lua", "-o", "plain"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut cmd = Command::new(dir.path().join("plain"));
    cmd.env("APP_LUA", "1").args(["-e", "print('not an interpreter')"]);
    assert_eq!(run(hermetic(&mut cmd)).stdout, "greet loaded\tmods.greet\napp\thi a\n");
    // Bad uses of the option.
    let r = bundle(dir.path(), &["-o", "x", "--interpreter-env", "V"]);
    assert_ne!(r.code, 0);
    let r = bundle(dir.path(), &["app.lua", "-o", "x", "--interpreter-env", "A=B"]);
    assert!(r.code != 0 && r.stderr.contains("--interpreter-env A=B"), "{}", r.stderr);
    assert!(!dir.path().join("x").exists());
}

/// A scripted REPL session in a pseudo-terminal: (text to wait for, line to send); `None`
/// sends end-of-file. Returns the whole transcript and the exit code.
fn pty_session(program: &Path, steps: &[(&str, Option<&str>)]) -> (String, i32) {
    use expectrl::{ControlCode, Expect, Session};
    let mut cmd = Command::new(program);
    cmd.env("LUA_PATH", "mods/?.lua").env_remove("LUA_INIT").current_dir(&setup().0);
    let mut p = Session::spawn(cmd).expect("spawning in a pty");
    p.set_expect_timeout(Some(std::time::Duration::from_secs(20)));
    let mut transcript = Vec::new();
    for (wait, send) in steps {
        let found = p.expect(*wait).unwrap_or_else(|e| {
            panic!(
                "{}: waiting for {wait:?}: {e}\n{}",
                program.display(),
                String::from_utf8_lossy(&transcript)
            )
        });
        transcript.extend_from_slice(found.before());
        transcript.extend_from_slice(wait.as_bytes());
        match send {
            Some(line) => p.send_line(line).expect("sending a line"),
            None => p.send(ControlCode::EndOfTransmission).expect("sending EOF"),
        }
    }
    let rest = p.expect(expectrl::Eof).expect("the end of the session");
    transcript.extend_from_slice(rest.before());
    let code = match p.get_process().wait().expect("waiting for the REPL") {
        expectrl::process::unix::WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}"),
    };
    (String::from_utf8_lossy(&transcript).replace("\r\n", "\n"), code)
}

#[test]
fn the_repl_in_a_terminal_behaves_as_luajit() {
    let (_, exe) = setup();
    let steps: &[(&str, Option<&str>)] = &[
        ("> ", Some("function twice(x)")),
        (">> ", Some("  return 2 * x")),
        (">> ", Some("end")),
        ("> ", Some("=twice(21)")),
        ("> ", Some("error('oops')")),
        ("> ", Some("x = = 1")),
        ("> ", Some("=require('greet').hi('repl')")),
        ("> ", Some("print(1, nil, 'x')")),
        ("> ", None),
    ];
    let (want, want_code) = pty_session(&luajit(), steps);
    let (got, got_code) = pty_session(exe, steps);
    let fix = |t: &str| t.lines().map(|l| normalize(&mask_banner(l), "PROG")).collect::<Vec<_>>();
    assert_eq!(fix(&got), fix(&want));
    assert_eq!((got_code, want_code), (0, 0));
    assert!(
        got.contains("42") && got.contains("stdin:1: oops") && got.contains("hi repl"),
        "{got}"
    );
}

#[test]
fn programs_that_require_jit_tools_get_the_runtimes_own() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[(
            "main.lua",
            "local v = require('jit.v')\nv.on('/dev/stdout')\nfor i = 1, 100 do end\nv.off()\nprint('done')\n",
        )],
    );
    let r = bundle(dir.path(), &["main.lua", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "no warning about the tools' requires: {}", r.stderr);
    let mut cmd = Command::new(dir.path().join("app"));
    let got = run(hermetic(cmd.current_dir(dir.path())));
    let mut cmd = Command::new(luajit());
    cmd.arg("main.lua").current_dir(dir.path());
    let want = run(&mut cmd);
    assert_eq!((got.code, &got.stdout, &got.stderr), (want.code, &want.stdout, &want.stderr));
    assert!(got.stdout.contains("[TRACE   1 main.lua:3 loop]"), "{}", got.stdout);
}
