//! Issue 16 end to end, with the real `luarocks` (Debian's package) and a local rocks server
//! the tests make from tests/rocks/server: each rock's sources archived with `tar`, packed with
//! `luarocks pack` (a `.src.rock` holds the rockspec and the archive, so nothing is fetched
//! later), and indexed with `luarocks-admin make-manifest`. The server holds a pure-Lua rock
//! (`strutil`, at 1.2.0 and 2.0.0), a `builtin` C rock with a define, an include directory and
//! a `platforms.linux` override (`cgreet`), and a rock its Makefile builds (`lpegish`).
//!
//! - The proof: tests/rocks/app (its own Lua and C modules, the three rocks as dependencies
//!   with version constraints) is built with `bundle --rockspec app-1.0-1.rockspec
//!   --install-deps --rocks-server DIR -o app`; `./app` runs in a bare root filesystem and does
//!   what `luajit` does running the app against the installed tree (the app itself installed
//!   there by `luarocks make`); so does the `--emit-c --cc` build.
//! - The other direction: `bundle rockspec main.lua` for tests/rocks/tool passes `luarocks
//!   lint`, and `luarocks make` with it installs the program and its dependencies from the
//!   server; bundle builds the program back from it.
//! - Bad input: each case of the issue exits 1 with a message saying what is wrong and leaves
//!   every file of the project as it was.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bundle::project::manifest::Tree;
use common::*;

/// tests/rocks: one directory per project, and the rocks of the server.
fn rocks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rocks")
}

/// Every file under `dir` with its contents, by path relative to `dir` (directories too, with
/// no contents): what "left as it was" compares.
fn snapshot(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(format!("{rel}/"), None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A scratch directory for one test, with a home of its own for luarocks (no user
/// configuration, no cache shared with other tests or the user).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let s = Scratch { dir: tempdir() };
        std::fs::create_dir(s.home()).unwrap();
        s
    }

    /// Canonical, so that paths compare with what bundle and luarocks print.
    fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A copy of the project tests/rocks/NAME.
    fn project(&self, name: &str) -> PathBuf {
        let dir = self.path().join(name);
        copy_dir(&rocks().join(name), &dir);
        dir
    }

    /// `luarocks ARGS` (or `luarocks-admin`) in `cwd`; panics with its output on failure.
    fn luarocks(&self, program: &str, cwd: &Path, args: &[&str]) -> String {
        let r = run(Command::new(program)
            .args(args)
            .current_dir(cwd)
            .env("HOME", self.home())
            .env_remove("LUAROCKS_CONFIG"));
        let text = format!("{}{}", r.stdout, r.stderr);
        assert_eq!(r.code, 0, "{program} {args:?} failed:\n{text}");
        text
    }

    /// `bundle ARGS` in `cwd`, with this scratch's home (for the luarocks it runs).
    fn bundle(&self, cwd: &Path, args: &[&str]) -> Run {
        run(bundle_cmd(cwd, args).env("HOME", self.home()).env_remove("LUAROCKS_CONFIG"))
    }

    /// The local rocks server: every rock of tests/rocks/server archived, packed as a
    /// `.src.rock` and indexed.
    fn server(&self) -> PathBuf {
        let dist = self.path().join("dist");
        let server = self.path().join("server");
        std::fs::create_dir_all(&dist).unwrap();
        std::fs::create_dir_all(&server).unwrap();
        let sources = rocks().join("server");
        for (dir, rockspec) in [
            ("strutil-1.2.0", "strutil-1.2.0-1.rockspec"),
            ("strutil-2.0.0", "strutil-2.0.0-1.rockspec"),
            ("cgreet-1.0", "cgreet-1.0-1.rockspec"),
            ("lpegish-0.9", "lpegish-0.9-1.rockspec"),
        ] {
            let tar = run(Command::new("tar")
                .arg("czf")
                .arg(dist.join(format!("{dir}.tar.gz")))
                .arg("-C")
                .arg(&sources)
                .arg(dir));
            assert_eq!(tar.code, 0, "tar {dir}: {}", tar.stderr);
            // source.url must be absolute for luarocks pack, which fetches from a directory
            // of its own.
            let text = std::fs::read_to_string(sources.join(rockspec)).unwrap();
            let spec = dist.join(rockspec);
            std::fs::write(&spec, text.replace("@DIST@", utf8(&dist))).unwrap();
            self.luarocks("luarocks", &server, &["pack", utf8(&spec)]);
        }
        self.luarocks("luarocks-admin", &server, &["make-manifest", utf8(&server)]);
        server
    }
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// The search path variables of `luajit` for the tree at `tree`, and nothing else.
fn tree_env<'c>(cmd: &'c mut Command, tree: &Path) -> &'c mut Command {
    let t = utf8(tree);
    cmd.env("LUA_PATH", format!("{t}/share/lua/5.1/?.lua;{t}/share/lua/5.1/?/init.lua"))
        .env("LUA_CPATH", format!("{t}/lib/lua/5.1/?.so"));
    for var in ["LUA_INIT", "LUA_INIT_5_1", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    cmd
}

/// `luajit SCRIPT ARGS` in `cwd` against the tree, normalised as the bundled runs are.
fn luajit_with_tree(cwd: &Path, tree: &Path, script: &Path, args: &[&str]) -> Run {
    let luajit = luajit();
    let mut cmd = Command::new(&luajit);
    tree_env(cmd.current_dir(cwd), tree).arg(script).args(args);
    normalized(run(&mut cmd), utf8(&luajit))
}

fn normalized(mut r: Run, prog: &str) -> Run {
    r.stdout = normalize(&r.stdout, prog);
    r.stderr = normalize(&r.stderr, prog);
    r
}

/// An executable run from an empty directory with no Lua search path, normalised.
fn run_hermetic(exe: &Path, args: &[&str]) -> Run {
    let elsewhere = tempdir();
    let mut cmd = Command::new(exe);
    hermetic(cmd.current_dir(elsewhere.path()).args(args));
    normalized(run(&mut cmd), utf8(exe))
}

/// The arguments the app runs with: a greeting, an error with a traceback, an exit status.
const APP_CASES: [&[&str]; 3] = [&["you"], &["fail"], &["x", "3"]];

/// The issue's proof.
#[test]
fn issue16_rockspec_app_with_installed_deps_runs_as_luajit_with_the_tree() {
    let test = "issue16_rockspec_app_with_installed_deps_runs_as_luajit_with_the_tree";
    let s = Scratch::new();
    let server = s.server();
    let project = s.project("app");
    let tree = project.join("lua_modules");

    let b = s.bundle(
        &project,
        &[
            "--rockspec",
            "app-1.0-1.rockspec",
            "--install-deps",
            "--rocks-server",
            utf8(&server),
            "-o",
            "app",
        ],
    );
    assert_eq!(b.code, 0, "bundle --install-deps: {}", b.stderr);
    // LuaRocks' progress is streamed to stderr; stdout stays empty.
    assert!(b.stdout.is_empty(), "{b:?}");
    assert!(b.stderr.contains("cgreet 1.0-1 is now installed"), "{}", b.stderr);
    assert!(b.stderr.contains("bundle: wrote app"), "{}", b.stderr);
    // What luarocks installed: `strutil ~> 1.2` took 1.2.0, not the server's 2.0.0.
    let installed = Tree::open(&tree).unwrap();
    for (rock, version) in [("strutil", "1.2.0-1"), ("cgreet", "1.0-1"), ("lpegish", "0.9-1")] {
        let versions: Vec<&str> =
            installed.versions(rock).iter().map(|i| i.version.as_str()).collect();
        assert_eq!(versions, [version], "{rock} in {}", tree.display());
    }

    // --emit-c: the tree's C rock is a shared object, which a C file cannot embed; the build
    // fails, and leaves nothing, not even the static archive of the app's own C module it
    // had written beside the C file.
    let before = snapshot(&project);
    let c = s.bundle(
        &project,
        &["--rockspec", "app-1.0-1.rockspec", "--emit-c", "--cc", "-o", "appc.c"],
    );
    assert_eq!(c.code, 1, "{c:?}");
    assert!(
        c.stderr.contains("C module 'cgreet'")
            && c.stderr.contains("lib/lua/5.1/cgreet.so")
            && c.stderr.contains("--c-lib"),
        "{}",
        c.stderr
    );
    assert_eq!(snapshot(&project), before, "a failed --emit-c build leaves no file");
    // With the rock's static library, as the message says.
    let cgreet_a = static_cgreet(s.path().as_path());
    let clib = format!("cgreet={}", utf8(&cgreet_a));
    let c = s.bundle(
        &project,
        &["--rockspec", "app-1.0-1.rockspec", "--emit-c", "--cc", "-o", "appc.c", "--c-lib", &clib],
    );
    assert_eq!(c.code, 0, "bundle --emit-c: {}", c.stderr);
    assert!(project.join("appc.c.clibs/libapp_fast.a").is_file());

    // The oracle: the app installed into the same tree by luarocks (from a copy of its
    // sources: `luarocks make` builds in place, and its app/fast.so would need ./app to be a
    // directory), run by luajit.
    let sources = s.path().join("app-sources");
    copy_dir(&rocks().join("app"), &sources);
    s.luarocks("luarocks", &sources, &["make", "--tree", utf8(&tree), "app-1.0-1.rockspec"]);
    let main = project.join("bin/app.lua");
    let bare = bare_root(test);
    if let Some((root, _, _)) = &bare {
        std::fs::copy(project.join("app"), root.path().join("app")).unwrap();
    }
    for args in APP_CASES {
        let want = luajit_with_tree(&project, &tree, &main, args);
        assert!(want.stdout.contains("hello, "), "the oracle ran: {want:?}");
        assert!(want.stdout.contains("\tlinux\n"), "cgreet's linux override: {want:?}");
        assert!(want.stdout.contains("fast\t42\tlinux"), "app.fast's linux override: {want:?}");
        let got = match &bare {
            Some((root, _, chroot)) => {
                let mut cmd = Command::new(chroot);
                cmd.arg(root.path()).arg("/app").args(args).env_clear();
                normalized(run(&mut cmd), "/app")
            }
            None => run_hermetic(&project.join("app"), args),
        };
        assert_eq!(got, want, "./app {args:?} against luajit with {}", tree.display());
        let got = run_hermetic(&project.join("appc"), args);
        assert_eq!(got, want, "./appc (--emit-c) {args:?} against luajit");
    }
    if let Some((root, _, _)) = &bare {
        assert_eq!(std::fs::read_dir(root.path().join("tmp")).unwrap().count(), 0);
    }
}

/// cgreet's static library, compiled as luarocks compiled its shared one (the rockspec's
/// defines with the Linux override, its include directory), against the system's LuaJIT.
fn static_cgreet(dir: &Path) -> PathBuf {
    let src = rocks().join("server/cgreet-1.0");
    let flags = run(Command::new("pkg-config").args(["--cflags", "luajit"]));
    assert_eq!(flags.code, 0, "pkg-config luajit: {}", flags.stderr);
    let object = dir.join("cgreet.o");
    let cc = run(Command::new("cc")
        .args(["-c", "-O2", "-DCGREET_GREETING=\"hello\"", "-DCGREET_LINUX", "-Icsrc/include"])
        .args(flags.stdout.split_whitespace())
        .arg("csrc/cgreet.c")
        .arg("-o")
        .arg(&object)
        .current_dir(&src));
    assert_eq!(cc.code, 0, "cc cgreet.c: {}", cc.stderr);
    let archive = dir.join("libcgreet.a");
    let ar = run(Command::new("ar").arg("rcs").arg(&archive).arg(&object));
    assert_eq!(ar.code, 0, "ar: {}", ar.stderr);
    archive
}

/// The other direction: a program and its lua_modules/ give a rockspec that luarocks accepts
/// and installs, and that bundle builds the program from.
#[test]
fn issue16_bundle_rockspec_output_passes_lint_and_luarocks_make_installs_it() {
    let s = Scratch::new();
    let server = s.server();
    let project = s.project("tool");
    for (rock, version) in [("strutil", "1.2.0"), ("cgreet", "1.0"), ("lpegish", "0.9")] {
        s.luarocks(
            "luarocks",
            &project,
            &["install", "--tree", "lua_modules", "--only-server", utf8(&server), rock, version],
        );
    }
    let args = ["rockspec", "main.lua", "--tree", "lua_modules", "--package", "tool", "--version"];
    // Printed without -o. The tree is given relative: its modules must still be told from the
    // program's own (they were listed as build.modules, pointing into lua_modules/).
    let printed = s.bundle(&project, &[&args[..], &["1.0-1"]].concat());
    assert_eq!(printed.code, 0, "bundle rockspec: {}", printed.stderr);
    let text = &printed.stdout;
    for line in [
        "package = \"tool\"",
        "version = \"1.0-1\"",
        "\"strutil ~> 1.2\",",
        "\"cgreet ~> 1.0\",",
        "\"lpegish ~> 0.9\",",
        "[\"lib.util\"] = \"lib/util.lua\",",
        "[\"tool\"] = \"main.lua\",",
    ] {
        assert!(text.contains(line), "{line} not in:\n{text}");
    }
    assert!(!text.contains("lua_modules"), "tree modules taken as the program's own:\n{text}");
    assert!(!printed.stderr.contains("warning"), "{}", printed.stderr);
    // Written with -o, the same text (the rockspec's directory is the current one).
    let written =
        s.bundle(&project, &[&args[..], &["1.0-1", "-o", "tool-1.0-1.rockspec"]].concat());
    assert_eq!(written.code, 0, "bundle rockspec -o: {}", written.stderr);
    assert!(written.stdout.is_empty(), "{written:?}");
    let file = std::fs::read_to_string(project.join("tool-1.0-1.rockspec")).unwrap();
    assert_eq!(&file, text);

    s.luarocks("luarocks", &project, &["lint", "tool-1.0-1.rockspec"]);
    let installed = project.join("installed");
    s.luarocks(
        "luarocks",
        &project,
        &[
            "make",
            "--tree",
            utf8(&installed),
            "--only-server",
            utf8(&server),
            "tool-1.0-1.rockspec",
        ],
    );
    let t = Tree::open(&installed).unwrap();
    let tool = &t.versions("tool")[0];
    assert_eq!(tool.version.as_str(), "1.0-1");
    assert_eq!(tool.commands["tool"], "tool");
    assert!(t.module_path("lib.util").unwrap().is_file());
    assert_eq!(t.versions("strutil")[0].version.as_str(), "1.2.0-1");
    // The installed program, run by luajit against that tree.
    let want = "TOOL TOOL\nhello, tool!\tlinux\tmake\n";
    let script = t.rock_dir("tool", &tool.version).join("bin/tool");
    let got = luajit_with_tree(&project, &installed, &script, &[]);
    assert_eq!((got.code, got.stdout.as_str()), (0, want), "{got:?}");

    // And back: bundle builds the program from the rockspec it wrote.
    let b = s.bundle(&project, &["--rockspec", "tool-1.0-1.rockspec", "-o", "tool", "-q"]);
    assert_eq!(b.code, 0, "bundle --rockspec tool-1.0-1.rockspec: {}", b.stderr);
    let got = run_hermetic(&project.join("tool"), &[]);
    assert_eq!((got.code, got.stdout.as_str()), (0, want), "{got:?}");
}

/// Runs `bundle ARGS` in a copy of the project tests/rocks/NAME (after `prepare`), expects it to
/// fail with exit status 1 and to leave every file as it was; returns what it printed.
fn refused(
    s: &Scratch,
    name: &str,
    args: &[&str],
    prepare: impl FnOnce(&Path),
    env: &[(&str, &str)],
) -> Run {
    let project = s.project(name);
    prepare(&project);
    let before = snapshot(&project);
    let mut cmd = bundle_cmd(&project, args);
    cmd.env("HOME", s.home()).env_remove("LUAROCKS_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{name}: bundle {args:?} must fail: {r:?}");
    assert!(r.stderr.contains("bundle: error: "), "{name}: {}", r.stderr);
    assert!(!r.stderr.contains("bundle-cc-"), "{name}: a temporary path shown: {}", r.stderr);
    assert_eq!(snapshot(&project), before, "{name}: bundle {args:?} changed the project");
    r
}

const STUB: &[&str] = &["--rockspec", "app-1.0-1.rockspec", "-o", "app"];
const EMIT_C: &[&str] = &["--rockspec", "app-1.0-1.rockspec", "--emit-c", "--cc", "-o", "app.c"];

#[test]
fn issue16_bad_rockspec_syntax_error_names_file_and_line() {
    let s = Scratch::new();
    let r = refused(&s, "bad-syntax", STUB, |_| {}, &[]);
    assert!(
        r.stderr
            .contains("app-1.0-1.rockspec:6: '}' expected (to close '{' at line 4) near 'modules'"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue16_bad_rockspec_calling_os_execute_is_refused() {
    let s = Scratch::new();
    let r = refused(&s, "bad-os-execute", STUB, |_| {}, &[]);
    assert!(
        r.stderr.contains(
            "app-1.0-1.rockspec:4: the rockspec calls os.execute, which a rockspec may not"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn issue16_bad_unknown_build_type() {
    let s = Scratch::new();
    let r = refused(&s, "bad-build-type", STUB, |_| {}, &[]);
    assert!(
        r.stderr.contains("app-1.0-1.rockspec: unknown build type \"scons\"; LuaRocks' build types are builtin, make, cmake, command and none"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue16_bad_c_source_names_the_module_and_the_line() {
    let s = Scratch::new();
    for args in [STUB, EMIT_C] {
        let r = refused(&s, "bad-c-source", args, |_| {}, &[]);
        let e = &r.stderr;
        assert!(e.contains("bundle: error: app.native: csrc/native.c does not compile:"), "{e}");
        assert!(e.contains("csrc/native.c:4:"), "the compiler's file:line: {e}");
        std::fs::remove_dir_all(s.path().join("bad-c-source")).unwrap();
    }
}

#[test]
fn issue16_bad_missing_luaopen_symbol() {
    let s = Scratch::new();
    for args in [STUB, EMIT_C] {
        let r = refused(&s, "bad-luaopen", args, |_| {}, &[]);
        assert!(
            r.stderr.contains("app.native: no source defines luaopen_app_native, the function require calls for this module name"),
            "{args:?}: {}",
            r.stderr
        );
        std::fs::remove_dir_all(s.path().join("bad-luaopen")).unwrap();
    }
}

/// The C module's archive is written beside the C file before the graph is built: a build
/// that fails afterwards must take it away again.
#[test]
fn issue16_failed_emit_c_build_leaves_no_static_archive() {
    let s = Scratch::new();
    let r = refused(&s, "late-failure", EMIT_C, |_| {}, &[]);
    assert!(r.stderr.contains("module 'not.installed' not found"), "{}", r.stderr);
    // An existing archive directory (an earlier build's) is kept, with its files.
    let r = refused(
        &s,
        "late-failure",
        EMIT_C,
        |p| write_tree(p, &[("app.c.clibs/libother.a", "!<arch>\n")]),
        &[],
    );
    assert!(r.stderr.contains("not.installed"), "{}", r.stderr);
}

#[test]
fn issue16_bad_unsatisfiable_version_constraint() {
    let s = Scratch::new();
    let server = s.server();
    let install_strutil = |p: &Path| {
        s.luarocks(
            "luarocks",
            p,
            &[
                "install",
                "--tree",
                "lua_modules",
                "--only-server",
                utf8(&server),
                "strutil",
                "1.2.0",
            ],
        );
    };
    // Without --install-deps: what is installed, and the flag that would install the rest.
    let r = refused(&s, "bad-constraint", STUB, install_strutil, &[]);
    let e = &r.stderr;
    assert!(e.contains("app-1.0-1.rockspec: a dependency is not satisfied in"), "{e}");
    assert!(
        e.contains("strutil >= 5.0: installed is 1.2.0-1 (in ")
            && e.contains("lua_modules), which does not satisfy it"),
        "{e}"
    );
    assert!(e.contains("install them with --install-deps"), "{e}");
    // With it: no rock on the server satisfies it either; luarocks says so, and bundle names
    // the command that failed.
    std::fs::remove_dir_all(s.path().join("bad-constraint")).unwrap();
    let mut args = STUB.to_vec();
    args.extend(["--install-deps", "--rocks-server", utf8(&server)]);
    let r = refused(&s, "bad-constraint", &args, install_strutil, &[]);
    let e = &r.stderr;
    assert!(e.contains("strutil >= 5.0"), "luarocks' own message: {e}");
    assert!(
        e.contains("bundle: error: luarocks failed (exit status: 1); the command was: ")
            && e.contains(&format!(
                "install --only-deps --tree {}",
                utf8(&s.path().join("bad-constraint/lua_modules"))
            ))
            && e.contains(&format!("--only-server {}", utf8(&server))),
        "{e}"
    );
}

#[test]
fn issue16_bad_install_deps_without_luarocks() {
    let s = Scratch::new();
    // A PATH with nothing on it: a rockspec without C modules needs no tool of its own.
    let empty = s.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let mut args = STUB.to_vec();
    args.push("--install-deps");
    let r = refused(&s, "pure", &args, |_| {}, &[("PATH", utf8(&empty))]);
    assert!(
        r.stderr.contains("--install-deps runs luarocks, which is not installed (not found on PATH); install it (Debian: apt-get install luarocks)"),
        "{}",
        r.stderr
    );
}

#[test]
fn issue16_bad_rocks_server_that_does_not_answer() {
    let s = Scratch::new();
    let url = format!("http://127.0.0.1:{}", free_port());
    let mut args = STUB.to_vec();
    args.extend(["--install-deps", "--rocks-server", &url]);
    let r = refused(&s, "pure", &args, |_| {}, &[]);
    let e = &r.stderr;
    assert!(e.contains(&url), "luarocks' own message: {e}");
    assert!(
        e.contains("bundle: error: luarocks failed (exit status: 1); the command was: ")
            && e.contains("install --only-deps --tree ")
            && e.contains(&format!("--only-server {url} ")),
        "{e}"
    );
}
