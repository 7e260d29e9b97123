//! A corpus of real Lua programs, installed from Debian packages, bundled with no flags and run
//! side by side with `luajit`: luacheck, busted, ldoc, luarocks, a lua-http program (cqueues,
//! luaossl) and markdown.lua. Each is bundled from its installed main script, run from an empty
//! directory (holding only its input files) with `LUA_PATH`/`LUA_CPATH` pointing nowhere, and
//! must print the same stdout and stderr, exit with the same code and write the same files as
//! `luajit MAIN args` run with the system's default search path. docs/CORPUS.md records, for
//! each program, its package, module count, command and current result.
//!
//! A program that is not installed is a failure naming its Debian package (`.ci/run` installs
//! them all), never a skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The fixture directory of one program: its input files, copied into each run directory.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(name)
}

/// Fails, naming the Debian package, unless every file the program needs is installed.
fn need(package: &str, files: &[&str]) {
    let missing: Vec<&str> = files.iter().copied().filter(|f| !Path::new(f).exists()).collect();
    assert!(
        missing.is_empty(),
        "the corpus needs the Debian package {package} (apt-get install {package}; .ci/run \
         installs it): missing {missing:?}"
    );
}

/// Copies `from`'s tree into `to` (files and directories only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating a directory");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {from:?}: {e}")) {
        let entry = entry.expect("a directory entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copying {src:?}: {e}"));
        }
    }
}

/// Every file below `dir`, as (relative path, contents), sorted.
fn files_below(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                let bytes = std::fs::read(&path).unwrap_or_default();
                out.push((rel, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Names of the files present in only one of the lists or with different contents.
fn differing_files(a: &[(String, String)], b: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = a
        .iter()
        .filter(|f| !b.contains(f))
        .chain(b.iter().filter(|f| !a.contains(f)))
        .map(|f| f.0.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// One program of the corpus.
struct Program {
    /// Name of the executable `bundle` writes (some programs look at their own name).
    exe: &'static str,
    /// Debian package and the files that must be installed.
    package: &'static str,
    installed: &'static [&'static str],
    /// The main script: an installed file, or one in the fixture directory.
    main: PathBuf,
    /// Fixture directory copied into each run directory (`None`: the runs start empty).
    inputs: Option<&'static str>,
}

/// What one run did, normalised, plus the files it left in its directory.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    files: Vec<(String, String)>,
}

/// The longest a program may run: a hung program is a failure, not a hung test suite. The
/// coreutils `timeout` execs the program with the argv[0] it is given, so the program sees the
/// same name as when started directly.
const TIMEOUT_SECS: &str = "120";

/// A fresh run directory: always `<tempdir>/run`, so that both runs' paths have the same length
/// (luarocks underlines a heading holding the path) and normalise to the same `$DIR`.
fn run_dir(scratch: &Path, inputs: Option<&str>) -> PathBuf {
    let dir = scratch.join("run");
    match inputs {
        Some(name) => copy_tree(&fixture(name), &dir),
        None => std::fs::create_dir_all(&dir).expect("creating the run directory"),
    }
    dir
}

/// Normalises what legitimately differs between the two runs: the run directory (an absolute
/// path the programs print) becomes `$DIR`, and the program name that prefixes an uncaught
/// error (`luajit: ` against the executable's path) becomes `PROG: ` (common::normalize).
fn outcome(r: &Run, dir: &Path, prog: &str) -> Outcome {
    let dir_text = dir.display().to_string();
    let clean = |text: &str| normalize(text, prog).replace(&dir_text, "$DIR");
    Outcome {
        code: r.code,
        stdout: clean(&r.stdout),
        stderr: clean(&r.stderr),
        files: files_below(dir)
            .into_iter()
            .map(|(path, text)| (path, text.replace(&dir_text, "$DIR")))
            .collect(),
    }
}

impl Program {
    fn check_installed(&self) {
        let mut files: Vec<&str> = self.installed.to_vec();
        let main = self.main.to_str().expect("a UTF-8 path");
        if !main.starts_with(env!("CARGO_MANIFEST_DIR")) {
            files.push(main);
        }
        need(self.package, &files);
        luajit();
    }

    /// Bundles the program with no flags; returns the executable.
    fn bundle(&self, bin_dir: &Path) -> PathBuf {
        let out = bin_dir.join(self.exe);
        let (main, out_s) = (self.main.to_str().unwrap(), out.to_str().unwrap());
        let args = [main, "-o", out_s];
        // From the scratch directory: the bundler's own search path is the system's default.
        let r = bundle(bin_dir, &args);
        assert_eq!(
            r.code,
            0,
            "`bundle {}` failed (package {}):\n{}",
            args.join(" "),
            self.package,
            r.stderr
        );
        out
    }

    /// Runs `luajit MAIN args...` and the bundled executable on the same inputs, each in a run
    /// directory of its own (luajit with the system's default paths, the executable with none),
    /// each command in `commands` in turn, and asserts that they behave the same. Returns the
    /// executable's outcomes for extra checks.
    fn compare(&self, commands: &[&[&str]]) -> Vec<Outcome> {
        self.check_installed();
        let bin = tempdir();
        let exe = self.bundle(bin.path());
        let (want_scratch, got_scratch) = (tempdir(), tempdir());
        let want_dir = run_dir(want_scratch.path(), self.inputs);
        let got_dir = run_dir(got_scratch.path(), self.inputs);
        let luajit = luajit();
        let (luajit_s, exe_s) = (luajit.to_str().unwrap(), exe.to_str().unwrap());
        let mut outcomes = Vec::new();
        for args in commands {
            let mut want = Command::new("timeout");
            want.current_dir(&want_dir).args([TIMEOUT_SECS, luajit_s]).arg(&self.main).args(*args);
            for var in ["LUA_PATH", "LUA_PATH_5_1", "LUA_CPATH", "LUA_CPATH_5_1", "LUA_INIT"] {
                want.env_remove(var);
            }
            let want = outcome(&run(&mut want), &want_dir, luajit_s);
            let mut got = Command::new("timeout");
            hermetic(got.current_dir(&got_dir).args([TIMEOUT_SECS, exe_s]).args(*args));
            let got = outcome(&run(&mut got), &got_dir, exe_s);
            assert!(
                got == want,
                "`{} {}` bundled differs from luajit\n--- luajit: exit {}\n{}{}\n--- bundled: \
                 exit {}\n{}{}\n--- files that differ: {:?}",
                self.exe,
                args.join(" "),
                want.code,
                want.stdout,
                want.stderr,
                got.code,
                got.stdout,
                got.stderr,
                differing_files(&want.files, &got.files),
            );
            outcomes.push(got);
        }
        outcomes
    }
}

/// luacheck (lua-check): `require "luacheck.main"`; loads its 17 check stages by computed name,
/// `require("luacheck.stages." .. name)`, and its SHA-1 backend by
/// `require("luacheck.vendor.sha1." .. choose_ops())`; C module `lfs`.
#[test]
fn luacheck_reports_warnings() {
    let p = Program {
        exe: "luacheck",
        package: "lua-check",
        installed: &["/usr/share/lua/5.1/luacheck/main.lua"],
        main: "/usr/bin/luacheck".into(),
        inputs: Some("luacheck"),
    };
    let got = p
        .compare(&[&["--no-color", "bad.lua"], &["--no-color", "--formatter", "plain", "bad.lua"]]);
    // Three warnings: exit status 1.
    assert_eq!(got[0].code, 1, "{}", got[0].stderr);
    assert!(got[0].stdout.contains("Total: 3 warnings / 0 errors in 1 file"), "{}", got[0].stdout);
}

/// busted (lua-busted, with penlight, luassert, say, cliargs, term, system, mediator): over 100
/// modules; output handlers and test-file loaders by computed name
/// (`require('busted.outputHandlers.' .. output)`, `require('busted.modules.files.'..v)`);
/// penlight's `_G.pcall(_G.require, 'lfs')` and `local getmetatable, setmetatable, require =
/// getmetatable, setmetatable, require` (pl/tablex.lua:9); C modules lfs, term.core, system.core.
#[test]
fn busted_runs_a_spec_directory() {
    let p = Program {
        exe: "busted",
        package: "lua-busted",
        installed: &["/usr/share/lua/5.1/busted/runner.lua", "/usr/share/lua/5.1/pl/path.lua"],
        main: "/usr/bin/busted".into(),
        inputs: Some("busted"),
    };
    let got = p.compare(&[&["--output=TAP", "spec"]]);
    // One passing and one failing test.
    assert_eq!(got[0].code, 1, "{}", got[0].stdout);
    assert!(got[0].stdout.contains("ok 1 - arithmetic adds"), "{}", got[0].stdout);
}

/// ldoc (lua-ldoc): its built-in templates by computed name
/// (`pcall(require, 'ldoc.html.'..name:gsub('%.','_'))`) and library references
/// (`require('ldoc.builtin.'..tbl)`, a directory where 5 of 13 files are not valid Lua);
/// penlight's `pl.lapp` falls back to `require 'sip'` only when `pl.sip` is missing; markdown
/// through `pcall(require, 'markdown')`; C module lfs. `--testing` keeps the date out.
#[test]
fn ldoc_documents_a_module() {
    let p = Program {
        exe: "ldoc",
        package: "lua-ldoc",
        installed: &["/usr/share/lua/5.1/ldoc/html.lua", "/usr/share/lua/5.1/markdown.lua"],
        main: "/usr/bin/ldoc".into(),
        inputs: Some("ldoc"),
    };
    let got = p.compare(&[&["--testing", "-f", "markdown", "-d", "out", "src"]]);
    assert_eq!(got[0].code, 0, "{}", got[0].stderr);
    assert!(got[0].files.iter().any(|(path, _)| path == "out/index.html"), "{:?}", got[0].files);
}

/// luarocks: its subcommands as module names in a table of the main script, loaded with
/// `pcall(require, module)`; platform back ends by `pcall(require, patt:format(platform))`,
/// `patt` being a parameter; build back ends by `"luarocks.build." .. type`; over 60 modules.
/// Builds a one-module rock into a tree in the run directory, then lists the tree.
/// `--lua-dir=/usr` because luarocks otherwise derives the Lua installation from the
/// interpreter's `arg[-1]`, which only luajit has.
#[test]
fn luarocks_makes_and_lists_a_rock() {
    let p = Program {
        exe: "luarocks",
        package: "luarocks",
        installed: &[
            "/usr/share/lua/5.1/luarocks/cmd.lua",
            "/usr/share/lua/5.1/luarocks/fs/unix.lua",
        ],
        main: "/usr/bin/luarocks".into(),
        inputs: Some("luarocks"),
    };
    let got = p.compare(&[
        &["--lua-dir=/usr", "make", "--tree=tree", "hello-1.0-1.rockspec"],
        &["--lua-dir=/usr", "list", "--tree=tree"],
    ]);
    assert_eq!(got[1].code, 0, "{}", got[1].stderr);
    assert!(
        got[1].files.iter().any(|(path, _)| path == "tree/share/lua/5.1/hello.lua"),
        "{:?}",
        got[1].files
    );
}

/// lua-http on cqueues and luaossl: a server and a client in one event loop on a loopback port.
/// `_cqueues.so` serves `_cqueues`, `_cqueues.socket`, `_cqueues.errno`, ... and `_openssl.so`
/// serves `_openssl.digest`, `_openssl.ssl.context`, ...: one C library, many modules. lua-http
/// loads `http.zlib` with `pcall(require, "http.zlib")`, which needs `zlib` (not installed);
/// compat53 loads its C helpers with `pcall(require, "compat53.utf8")` and falls back silently,
/// so the demo prints which of the libraries' modules it loaded.
#[test]
fn lua_http_server_and_client() {
    let p = Program {
        exe: "http-demo",
        package: "lua-http",
        installed: &[
            "/usr/share/lua/5.1/http/server.lua",
            "/usr/lib/x86_64-linux-gnu/lua/5.1/_cqueues.so",
            "/usr/lib/x86_64-linux-gnu/lua/5.1/_openssl.so",
        ],
        main: fixture("http").join("main.lua"),
        inputs: None,
    };
    let got = p.compare(&[&[]]);
    assert_eq!(got[0].code, 0, "{}", got[0].stderr);
    assert!(got[0].stdout.ends_with("done\n"), "{}", got[0].stdout);
}

/// markdown.lua (lua-markdown), one file that is a library and, when `arg[0]` ends in
/// `markdown.lua`, a command: the executable keeps that name. Converts a file to HTML beside it.
#[test]
fn markdown_converts_a_file() {
    let p = Program {
        exe: "markdown.lua",
        package: "lua-markdown",
        installed: &[],
        main: "/usr/share/lua/5.1/markdown.lua".into(),
        inputs: Some("markdown"),
    };
    let got = p.compare(&[&["-i", "Corpus", "doc.md"]]);
    assert_eq!(got[0].code, 0, "{}", got[0].stderr);
    assert!(got[0].files.iter().any(|(path, _)| path == "doc.html"), "{:?}", got[0].files);
}
