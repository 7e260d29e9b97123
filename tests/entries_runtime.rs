//! Issue 17, the runtime side: one executable, several programs. Payloads are crafted with the
//! format's `Writer` and attached to the embedded stub (no bundler flags involved), then run:
//! which entry runs (link name, first argument, default, usage and exit 2), what `arg` and `...`
//! hold (compared with `luajit` running the entry's script with the effective arguments), baked
//! arguments with and without `...` and `${VAR:-x}` expansion, hermetic mode against a hostile
//! `LUA_PATH`, and the interpreter as an entry. The C back end's host is the same host.c; it is
//! driven through the CLI at the end, when the bundler can make such a program.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bundle_runtime::format::{entry_point_name, Kind, NewEntry, Writer};
use common::*;

/// What every entry's script prints: its name, then `arg[1..#arg]`, then `...`, each as a
/// count and the values joined by `|` (`arg[0]` differs by design: the executable, not the
/// script; it is checked separately).
const PROBE: &str = r##"
local t = {}
for i = 1, #arg do t[#t + 1] = arg[i] end
print(NAME, #arg, table.concat(t, "|"), select("#", ...), table.concat({ ... }, "|"))
"##;

/// A command line and what it must run: (executable, arguments, environment, the entry, the
/// arguments that entry must see).
type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);

/// The script of entry `name`: [`PROBE`] with its name.
fn script(name: &str) -> String {
    format!("local NAME = {name:?}\n{PROBE}")
}

fn lua(name: &[u8], chunk: &str, text: &str) -> NewEntry {
    NewEntry {
        name: name.to_vec(),
        chunkname: format!("@{chunk}").into_bytes(),
        kind: Kind::LuaSource,
        flags: 0,
        data: text.as_bytes().to_vec(),
    }
}

/// Writes `dir/NAME.lua` with the probe for each entry and adds it as an entry point.
fn entries(w: &mut Writer, dir: &Path, names: &[&str]) {
    for name in names {
        let file = format!("{name}.lua");
        std::fs::write(dir.join(&file), script(name)).unwrap();
        w.add(lua(&entry_point_name(name.as_bytes()), &file, &script(name)));
    }
}

/// The stub with the payload `build` writes, as `dir/name`.
fn app(dir: &Path, name: &str, build: impl FnOnce(&mut Writer)) -> PathBuf {
    let mut w = Writer::new(3);
    build(&mut w);
    let (payload, _) = w.finish().unwrap();
    bundle_runtime::format::Payload::parse(&payload).unwrap().verify_all().unwrap();
    let bytes = bundle::output::emit::attach(bundle::base::stub::EMBEDDED, &payload).unwrap();
    let exe = dir.join(name);
    write_exe(&exe, &bytes);
    exe
}

/// A symlink `dir/link` to `target`.
fn link(dir: &Path, target: &Path, link: &str) -> PathBuf {
    let path = dir.join(link);
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(target, &path).unwrap();
    path
}

/// Runs `exe` (as `./NAME` from `dir`) with `args` and `env`, with Lua's own environment
/// variables cleared.
fn run_in(dir: &Path, exe: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(format!("./{exe}"));
    cmd.current_dir(dir).args(args).env_remove("LUA_INIT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// What `luajit ENTRY.lua ARGS` prints from `dir`.
fn oracle(dir: &Path, entry: &str, args: &[&str]) -> Run {
    let r = run(Command::new(luajit()).current_dir(dir).arg(format!("{entry}.lua")).args(args));
    assert_eq!(r.code, 0, "luajit {entry}.lua: {}", r.stderr);
    r
}

#[test]
fn issue17_dispatch_by_link_name_first_argument_and_default() {
    let dir = tempdir();
    let d = dir.path();
    app(d, "app", |w| entries(w, d, &["web", "worker", "release"]));
    app(d, "dflt", |w| {
        entries(w, d, &["web", "worker"]);
        w.default_entry(b"worker");
    });
    let app_path = d.join("app");
    link(d, &app_path, "worker");
    link(d, &d.join("dflt"), "web");
    // (executable, its arguments, the entry that must run, the arguments it must see)
    let cases: &[(&str, &[&str], &str, &[&str])] = &[
        ("app", &["web", "a", "b c"], "web", &["a", "b c"]),
        ("app", &["worker"], "worker", &[]),
        ("app", &["release", "--", "-x", ""], "release", &["--", "-x", ""]),
        // The link's name wins over the first argument, which stays the program's.
        ("worker", &["web", "q"], "worker", &["web", "q"]),
        ("worker", &[], "worker", &[]),
        // Only the first argument names an entry.
        ("app", &["web", "worker"], "web", &["worker"]),
        // The default entry: nothing consumed.
        ("dflt", &["a", "b"], "worker", &["a", "b"]),
        ("dflt", &[], "worker", &[]),
        ("dflt", &["web", "a"], "web", &["a"]),
        ("web", &["worker"], "web", &["worker"]),
    ];
    for (exe, args, entry, seen) in cases {
        let mine = run_in(d, exe, args, &[]);
        let want = oracle(d, entry, seen);
        assert_eq!((mine.code, &mine.stderr), (0, &String::new()), "{exe} {args:?}");
        assert_eq!(mine.stdout, want.stdout, "{exe} {args:?}");
    }
    // arg[0] is the executable as invoked, whichever way the entry was chosen.
    let probe = "print(arg[0], arg[-1])";
    app(d, "zero", |w| w.add(lua(&entry_point_name(b"zero"), "zero.lua", probe)));
    link(d, &d.join("zero"), "again");
    assert_eq!(run_in(d, "zero", &["zero", "x"], &[]).stdout, "./zero\tnil\n");
    assert_eq!(run_in(d, "again", &["zero"], &[]).stdout, "./again\tnil\n");
}

#[test]
fn issue17_no_entry_named_prints_the_usage_and_exits_2() {
    let dir = tempdir();
    let d = dir.path();
    app(d, "app", |w| {
        entries(w, d, &["worker", "web"]);
        w.interpreter(include_bytes!("../runtime/lua/interp.lua").to_vec(), None);
        w.interpreter_entry(b"lua");
    });
    for args in [&[][..], &["nope", "web"][..], &["WEB"][..], &[""][..]] {
        let r = run_in(d, "app", args, &[]);
        assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr,
            "usage: ./app ENTRY [ARGS...]\nentries: lua (the Lua interpreter) web worker\n",
            "{args:?}"
        );
    }
}

#[test]
fn issue17_a_main_script_with_entries_runs_when_none_is_named() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("main.lua"), script("main")).unwrap();
    app(d, "app", |w| {
        w.add(lua(b"", "main.lua", &script("main")));
        entries(w, d, &["web"]);
    });
    assert_eq!(run_in(d, "app", &["x"], &[]).stdout, oracle(d, "main", &["x"]).stdout);
    assert_eq!(run_in(d, "app", &["web", "x"], &[]).stdout, oracle(d, "web", &["x"]).stdout);
}

#[test]
fn issue17_an_entry_point_is_not_a_module() {
    let dir = tempdir();
    let d = dir.path();
    app(d, "app", |w| {
        w.add(lua(b"", "main.lua", "print(pcall(require, '/web'))"));
        w.add(lua(&entry_point_name(b"web"), "web.lua", "return 'web chunk'"));
    });
    let r = run_in(d, "app", &[], &[]);
    assert!(r.stdout.starts_with("false\tmodule '/web' not found"), "{r:?}");
}

#[test]
fn issue17_baked_arguments_splice_and_expand() {
    let dir = tempdir();
    let d = dir.path();
    app(d, "app", |w| {
        entries(w, d, &["web", "worker", "plain"]);
        w.args(b"web", &[b"--port", b"${PORT:-8080}", b"...", b"--tail=${TAIL}"]);
        w.args(b"", &[b"-v", b"pre${PORT:-1}post", b"$PORT", b"${PORT", b"${1X}", b"${P-x}"]);
        w.args(b"plain", &[b"..."]);
    });
    app(d, "main", |w| {
        w.add(lua(b"", "web.lua", &script("web")));
        w.args(b"", &[b"first", b"${HOME_OF_TEST:-~}", b"..."]);
    });
    // (executable, arguments, environment, entry, the arguments it must see)
    let cases: &[Case] = &[
        // With `...`: the user's arguments go there; ${PORT:-8080} takes its default.
        ("app", &["web", "a", "b"], &[], "web", &["--port", "8080", "a", "b", "--tail="]),
        ("app", &["web"], &[("PORT", "99"), ("TAIL", "t")], "web", &["--port", "99", "--tail=t"]),
        // `:-` takes the default when the variable is empty too.
        ("app", &["web", "x"], &[("PORT", "")], "web", &["--port", "8080", "x", "--tail="]),
        // The user's own arguments never expand, nor a second `...`.
        (
            "app",
            &["web", "${PORT}", "..."],
            &[("PORT", "1")],
            "web",
            &["--port", "1", "${PORT}", "...", "--tail="],
        ),
        // Without `...`: after the baked ones (the program's, for an entry without its own).
        // Only ${VAR} and ${VAR:-default} expand, anywhere in an argument.
        (
            "app",
            &["worker", "u"],
            &[],
            "worker",
            &["-v", "pre1post", "$PORT", "${PORT", "${1X}", "${P-x}", "u"],
        ),
        (
            "app",
            &["worker"],
            &[("PORT", "7")],
            "worker",
            &["-v", "pre7post", "$PORT", "${PORT", "${1X}", "${P-x}"],
        ),
        // Its own `...` alone: exactly the user's arguments.
        ("app", &["plain", "a", ""], &[], "plain", &["a", ""]),
        // A program with only a main script.
        ("main", &["z"], &[("HOME_OF_TEST", "/h")], "web", &["first", "/h", "z"]),
        ("main", &[], &[], "web", &["first", "~"]),
    ];
    for (exe, args, env, entry, seen) in cases {
        let mine = run_in(d, exe, args, env);
        assert_eq!((mine.code, &mine.stderr), (0, &String::new()), "{exe} {args:?}");
        assert_eq!(mine.stdout, oracle(d, entry, seen).stdout, "{exe} {args:?} {env:?}");
    }
}

#[test]
fn issue17_hermetic_mode_serves_only_what_the_executable_carries() {
    let dir = tempdir();
    let d = dir.path();
    let evil = d.join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::write(evil.join("shared.lua"), "return 'EVIL'").unwrap();
    std::fs::write(evil.join("diskonly.lua"), "return 'DISK'").unwrap();
    std::fs::write(evil.join("init.lua"), "print('LUA_INIT ran')").unwrap();
    // Also in the working directory, where luajit's default ./?.lua looks.
    std::fs::write(d.join("diskonly.lua"), "return 'CWD'").unwrap();
    let probe = r#"
print(require("shared"))
print(pcall(require, "diskonly"))
print(package.path == "", package.cpath == "", #package.loaders)
"#;
    let build = |hermetic: bool| {
        move |w: &mut Writer| {
            w.add(lua(&entry_point_name(b"run"), "run.lua", probe));
            w.add(lua(b"shared", "shared.lua", "return 'bundled'"));
            w.interpreter(include_bytes!("../runtime/lua/interp.lua").to_vec(), None);
            w.interpreter_entry(b"lua");
            if hermetic {
                w.hermetic();
            }
        }
    };
    app(d, "sealed", build(true));
    app(d, "open", build(false));
    let hostile = [
        ("LUA_PATH", format!("{}/?.lua;;", evil.display())),
        ("LUA_CPATH", format!("{}/?.so;;", evil.display())),
        ("LUA_INIT", format!("@{}/init.lua", evil.display())),
    ];
    let env: Vec<(&str, &str)> = hostile.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sealed = run_in(d, "sealed", &["run"], &env);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let lines: Vec<&str> = sealed.stdout.lines().collect();
    assert_eq!(lines[0], "bundled", "{}", sealed.stdout);
    assert!(lines[1].starts_with("false\tmodule 'diskonly' not found"), "{}", sealed.stdout);
    assert!(!sealed.stdout.contains("no file"), "no filesystem searcher: {}", sealed.stdout);
    assert_eq!(lines.last(), Some(&"true\ttrue\t3"), "{}", sealed.stdout);
    // The control: without hermetic mode the same environment reaches the disk.
    let open = run_in(d, "open", &["run"], &env);
    assert!(open.stdout.contains("true\tDISK"), "{}", open.stdout);
    // The interpreter entry too: no LUA_INIT, no LUA_PATH, no ./?.lua.
    let code = "print(pcall(require, 'diskonly')) print(require'shared', package.path == '')";
    let r = run_in(d, "sealed", &["lua", "-e", code], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("LUA_INIT ran"), "{}", r.stdout);
    assert!(r.stdout.starts_with("false\tmodule 'diskonly' not found"), "{}", r.stdout);
    assert!(r.stdout.ends_with("bundled\ttrue\n"), "{}", r.stdout);
    let r = run_in(d, "open", &["lua", "-e", code], &env);
    assert!(r.stdout.starts_with("LUA_INIT ran\ntrue\tDISK"), "{}", r.stdout);
}

#[test]
fn issue17_the_interpreter_as_an_entry_is_luajits_command_line() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::write(d.join("s.lua"), script("s")).unwrap();
    app(d, "app", |w| {
        entries(w, d, &["web"]);
        w.interpreter(include_bytes!("../runtime/lua/interp.lua").to_vec(), None);
        w.interpreter_entry(b"lua");
    });
    app(d, "baked", |w| {
        entries(w, d, &["web"]);
        w.interpreter(include_bytes!("../runtime/lua/interp.lua").to_vec(), None);
        w.interpreter_entry(b"lua");
        w.args(b"lua", &[b"-e", b"X = '${X:-none}'", b"..."]);
        w.args(b"", &[b"--never-for-the-interpreter"]);
        w.default_entry(b"lua");
    });
    link(d, &d.join("app"), "lua");
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("app", &["lua", "-e", "print(1, ...)"], &["-e", "print(1, ...)"]),
        ("app", &["lua", "s.lua", "a", "b"], &["s.lua", "a", "b"]),
        (
            "lua",
            &["-e", "print(#arg, arg[0])", "s.lua", "x"],
            &["-e", "print(#arg, arg[0])", "s.lua", "x"],
        ),
        ("baked", &["-e", "print(X)"], &["-e", "X = 'none'", "-e", "print(X)"]),
        ("baked", &["lua", "s.lua", "q"], &["-e", "X = 'none'", "s.lua", "q"]),
    ];
    for (exe, args, luajit_args) in cases {
        let mine = run_in(d, exe, args, &[]);
        let theirs = run(Command::new(luajit()).current_dir(d).args(*luajit_args));
        assert_eq!((mine.code, &mine.stdout), (theirs.code, &theirs.stdout), "{exe} {args:?}");
        assert_eq!(mine.stderr, "", "{exe} {args:?}");
    }
    // The entry points still run, the program's default arguments included.
    let r = run_in(d, "baked", &["web", "a"], &[]);
    assert_eq!(r.stdout, oracle(d, "web", &["--never-for-the-interpreter", "a"]).stdout);
}

/// Both hosts through the CLI: the stub and the C file of `--emit-c --cc` (compiled against
/// Debian's LuaJIT) give what luajit gives for each entry's script with the effective
/// arguments, and the same usage, for the same command lines.
#[test]
fn issue17_both_hosts_choose_and_start_entries_alike() {
    let dir = tempdir();
    let d = dir.path();
    for name in ["web", "worker"] {
        std::fs::write(d.join(format!("{name}.lua")), script(name)).unwrap();
    }
    // A name the bundler cannot see, so that the module stays on disk.
    let release = "local name = 'disk' .. 'only' print(pcall(require, name))";
    std::fs::write(d.join("release.lua"), release).unwrap();
    std::fs::write(d.join("diskonly.lua"), "return 'DISK'").unwrap();
    let flags = [
        "--entry",
        "web=web.lua",
        "--entry",
        "worker=worker.lua",
        "--entry",
        "release=release.lua",
        "--entry",
        "lua=@interpreter",
        "--entry-args",
        "web=--port ${PORT:-8080} ... --tail",
        "--args",
        "-v",
        "--hermetic",
    ];
    let stub = bundle(d, &[&flags[..], &["-o", "app"]].concat());
    assert_eq!(stub.code, 0, "{}", stub.stderr);
    let c = bundle(d, &[&flags[..], &["--emit-c", "--cc", "-o", "capp.c"]].concat());
    assert_eq!(c.code, 0, "{}", c.stderr);
    for exe in ["app", "capp"] {
        let path = d.join(exe);
        // A link whose name is no entry: the first argument still chooses.
        let worker = format!("{exe}-worker");
        link(d, &path, &worker);
        // A link called `worker`, in a directory of its own per host.
        let linked = d.join("links").join(exe);
        std::fs::create_dir_all(&linked).unwrap();
        link(&linked, &path, "worker");
        let cases: &[Case] = &[
            (exe, &["web", "a"], &[], "web", &["--port", "8080", "a", "--tail"]),
            (exe, &["web"], &[("PORT", "5")], "web", &["--port", "5", "--tail"]),
            (exe, &["worker", "x", "y"], &[], "worker", &["-v", "x", "y"]),
            (&worker, &["worker", "x"], &[], "worker", &["-v", "x"]),
        ];
        for (e, args, env, entry, seen) in cases {
            let mine = run_in(d, e, args, env);
            assert_eq!((mine.code, &mine.stderr), (0, &String::new()), "{e} {args:?}");
            assert_eq!(mine.stdout, oracle(d, entry, seen).stdout, "{e} {args:?}");
        }
        let r = run(Command::new("./worker").current_dir(&linked).args(["web", "1"]));
        assert_eq!(r.stdout, oracle(d, "worker", &["-v", "web", "1"]).stdout, "{exe}");
        // Hermetic: diskonly.lua in the working directory is not found.
        let r = run_in(d, exe, &["release"], &[("LUA_PATH", "./?.lua")]);
        assert!(r.stdout.starts_with("false\tmodule 'diskonly' not found"), "{exe}: {r:?}");
        let r = run_in(d, exe, &["lua", "-e", "print(package.path == '', select('#', ...))"], &[]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "true\t0\n"), "{exe}: {}", r.stderr);
        let r = run_in(d, exe, &["nope"], &[]);
        assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{exe}");
        assert_eq!(
            r.stderr,
            format!(
                "usage: ./{exe} ENTRY [ARGS...]\nentries: lua (the Lua interpreter) release web \
                 worker\n"
            ),
            "{exe}"
        );
    }
}
