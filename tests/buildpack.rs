//! Issue 20, point 3: `bundle heroku buildpack -o DIR` writes a classic Heroku buildpack, and its
//! `bin/detect`, `bin/compile` and `bin/release` are run here as Heroku runs them: by path, with
//! a fresh build directory (a copy of the app), a fresh cache directory and an env directory
//! (one file per config var), an environment holding only a minimal PATH, and no network. The
//! executable compile leaves is then run from the build directory inside a bare root filesystem
//! (a dynamic loader and glibc, nothing else) and compared with `luajit` on the sources.
//!
//! Cases: a plain main.lua app (examples/hello); bundle.toml and BUNDLE_FLAGS; a rockspec with
//! a lua_modules tree (made by the real `luarocks make`) and a C module, compiled once and then
//! taken from CACHE_DIR (the second build has no C compiler at all); sources kept on request.
//! Bad input: no Lua entry, a syntax error, a bad bundle.toml, a refused flag.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The buildpack, written once for the whole test binary by `bundle heroku buildpack -o DIR`.
fn buildpack() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        // One per test process (a static is never dropped); those of finished runs go first.
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("buildpack-test-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = tmp.join(format!("buildpack-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let r = bundle(Path::new("."), &["heroku", "buildpack", "-o", dir.to_str().unwrap()]);
        assert_eq!(r.code, 0, "bundle heroku buildpack: {}", r.stderr);
        assert!(r.stderr.contains("heroku buildpacks:set"), "{}", r.stderr);
        dir
    })
}

/// Heroku's three directories for one build: BUILD_DIR (a copy of `app`), CACHE_DIR, ENV_DIR.
struct Build {
    _scratch: tempfile::TempDir,
    build: PathBuf,
    cache: PathBuf,
    env: PathBuf,
}

impl Build {
    fn new(app: &Path) -> Build {
        let scratch = tempdir();
        let s = scratch.path().canonicalize().unwrap();
        let build = s.join("build");
        copy_dir(app, &build);
        let (cache, env) = (s.join("cache"), s.join("env"));
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::create_dir_all(&env).unwrap();
        Build { _scratch: scratch, build, cache, env }
    }

    /// A config var, as Heroku leaves it in ENV_DIR.
    fn config(&self, var: &str, value: &str) {
        std::fs::write(self.env.join(var), value).unwrap();
    }

    /// `bin/STEP` with Heroku's arguments, in a cleared environment.
    fn step(&self, step: &str, extra_env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(buildpack().join("bin").join(step));
        cmd.env_clear().env("PATH", "/usr/bin:/bin").current_dir(&self.build);
        cmd.envs(extra_env.iter().copied());
        match step {
            "compile" => cmd.arg(&self.build).arg(&self.cache).arg(&self.env),
            _ => cmd.arg(&self.build),
        };
        run(&mut cmd)
    }

    /// The files left in BUILD_DIR, relative to it, sorted.
    fn files(&self) -> Vec<String> {
        let mut f: Vec<String> = files_under(&self.build)
            .iter()
            .map(|p| p.strip_prefix(&format!("{}/", self.build.display())).unwrap().to_owned())
            .collect();
        f.sort();
        f
    }
}

/// detect, compile and release of `b` must succeed; returns compile's output.
fn detect_compile_release(b: &Build, release_yaml: &str) -> Run {
    let d = b.step("detect", &[]);
    assert_eq!((d.code, d.stdout.as_str()), (0, "Lua (bundle)\n"), "detect: {}", d.stderr);
    let c = b.step("compile", &[]);
    assert_eq!(c.code, 0, "compile:\n{}\n{}", c.stdout, c.stderr);
    assert!(c.stdout.starts_with("-----> "), "{}", c.stdout);
    for line in c.stdout.lines().filter(|l| !l.is_empty()) {
        assert!(
            line.starts_with("-----> ") || line.starts_with("       "),
            "every line is a step or indented by 7 spaces: {line:?}\n{}",
            c.stdout
        );
    }
    let r = b.step("release", &[]);
    assert_eq!(r.code, 0, "release: {}", r.stderr);
    assert_eq!(r.stdout, release_yaml);
    c
}

/// Runs BUILD_DIR/`exe` ARGS inside a bare root filesystem, from its /app (as on a dyno); `None`
/// where this machine cannot make one (it says SKIPPED).
fn run_in_bare_root(test: &str, b: &Build, exe: &str, args: &[&str]) -> Option<Run> {
    let (root, _mounted, chroot) = bare_root(test)?;
    let app = root.path().join("app");
    copy_dir(&b.build, &app);
    // No shell in the bare root: the executable runs by its path, from / (it finds nothing on
    // disk either way).
    let r = run(Command::new(chroot)
        .arg(root.path())
        .arg(format!("/app/{exe}"))
        .args(args)
        .env_clear()
        .env("PORT", "5000"));
    Some(r)
}

/// `luajit` (the `reference` one, of the stub's version, or Debian's) on the sources in `dir`.
fn luajit_on(
    dir: &Path,
    program: &Path,
    script: &str,
    args: &[&str],
    path: &str,
    cpath: &str,
) -> Run {
    run(Command::new(program)
        .arg(script)
        .args(args)
        .current_dir(dir)
        .env("LUA_PATH", path)
        .env("LUA_CPATH", cpath)
        .env_remove("LUA_INIT"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

#[test]
fn the_buildpack_carries_this_bundle_and_execs_it_from_sh_scripts() {
    let dir = buildpack();
    let ours = std::fs::read(bundle_bin()).unwrap();
    assert!(std::fs::read(dir.join("bin/bundle")).unwrap() == ours, "bin/bundle is this bundle");
    for step in ["detect", "compile", "release"] {
        let text = std::fs::read_to_string(dir.join("bin").join(step)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{text}");
        assert!(text.contains(&format!("heroku buildpack-{step} \"$@\"")), "{text}");
        let sh = run(Command::new("sh").arg("-n").arg(dir.join("bin").join(step)));
        assert_eq!(sh.code, 0, "sh -n bin/{step}: {}", sh.stderr);
    }
    // Written again over itself (an update of the buildpack's repository): fine. Over a file it
    // did not write: refused, the file intact.
    let again = tempdir();
    let out = again.path().join("bp");
    let out_s = out.to_str().unwrap();
    assert_eq!(bundle(again.path(), &["heroku", "buildpack", "-o", out_s]).code, 0);
    assert_eq!(bundle(again.path(), &["heroku", "buildpack", "-o", out_s]).code, 0);
    std::fs::write(out.join("bin/detect"), "#!/bin/sh\necho mine\n").unwrap();
    let r = bundle(again.path(), &["heroku", "buildpack", "-o", out_s]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("bin/detect: already exists and was not written by"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(out.join("bin/detect")).unwrap(), "#!/bin/sh\necho mine\n");
}

#[test]
fn a_plain_main_lua_app_is_detected_bundled_released_and_runs_in_a_bare_root() {
    let test = "a_plain_main_lua_app_is_detected_bundled_released_and_runs_in_a_bare_root";
    let b = Build::new(&example("hello"));
    let c = detect_compile_release(&b, "---\ndefault_process_types:\n  web: ./app\n");
    assert!(c.stdout.contains("-----> Bundling the Lua app with bundle"), "{}", c.stdout);
    assert!(c.stdout.contains("\n       bundle main.lua -o app\n"), "{}", c.stdout);
    assert!(c.stdout.contains("\n       bundle: wrote app ("), "{}", c.stdout);
    assert!(c.stdout.contains("-----> Removed the sources"), "{}", c.stdout);
    assert_eq!(b.files(), ["app"], "only the executable is left:\n{}", c.stdout);
    let oracle = luajit_on(
        &example("hello"),
        &reference_luajit(),
        "main.lua",
        &["dyno"],
        "./?.lua",
        "/nonexistent/?.so",
    );
    assert_eq!(oracle.code, 0, "{}", oracle.stderr);
    if let Some(r) = run_in_bare_root(test, &b, "app", &["dyno"]) {
        assert_eq!((r.code, &r.stdout, &r.stderr), (0, &oracle.stdout, &oracle.stderr));
    }
}

#[test]
fn bundle_toml_and_bundle_flags_choose_main_flags_and_name() {
    let test = "bundle_toml_and_bundle_flags_choose_main_flags_and_name";
    let app = app(&[
        (
            "bundle.toml",
            "# The buildpack's configuration\nmain = \"web.lua\"\nflags = [\n  \"--asset\", \"data\", # embedded\n]\noutput = \"server\"\n",
        ),
        (
            "web.lua",
            "local util = require 'util'\nlocal f = assert(io.open('data/msg.txt'))\nprint(util.shout(f:read('*l')), ...)\n",
        ),
        ("util.lua", "return { shout = function(s) return s:upper() .. '!' end }\n"),
        ("data/msg.txt", "hello from an asset\n"),
        ("notes.txt", "not read by the build: stays\n"),
        ("main.lua", "print('not the main script: bundle.toml names web.lua')\n"),
    ]);
    let b = Build::new(app.path());
    b.config("BUNDLE_FLAGS", "--args 'baked \"two words\"' --sigpipe=ignore");
    let c = detect_compile_release(&b, "---\ndefault_process_types:\n  web: ./server\n");
    assert!(c.stdout.contains("-----> Reading bundle.toml\n"), "{}", c.stdout);
    assert!(
        c.stdout.contains("-----> BUNDLE_FLAGS: --args 'baked \"two words\"' --sigpipe=ignore\n"),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout.contains(
            "\n       bundle web.lua -o server --asset data --args 'baked \"two words\"' --sigpipe=ignore\n"
        ),
        "{}",
        c.stdout
    );
    // What the build read is gone (the asset too: it is inside); the rest stays.
    assert_eq!(b.files(), ["bundle.toml", "main.lua", "notes.txt", "server"], "{}", c.stdout);
    let oracle = luajit_on(
        app.path(),
        &luajit(),
        "web.lua",
        &["baked", "two words"],
        "./?.lua",
        "/nonexistent/?.so",
    );
    assert_eq!(oracle.stdout, "HELLO FROM AN ASSET!\tbaked\ttwo words\n", "{}", oracle.stderr);
    if let Some(r) = run_in_bare_root(test, &b, "server", &[]) {
        assert_eq!((r.code, &r.stdout, &r.stderr), (0, &oracle.stdout, &oracle.stderr));
    }
}

#[test]
fn sources_are_kept_when_told_so() {
    for how in ["env", "toml"] {
        let app = example("hello");
        let b = Build::new(&app);
        match how {
            "env" => b.config("BUNDLE_KEEP_SOURCES", "1\n"),
            _ => std::fs::write(b.build.join("bundle.toml"), "keep_sources = true\n").unwrap(),
        }
        let before = b.files();
        let c = b.step("compile", &[]);
        assert_eq!(c.code, 0, "{how}: {}{}", c.stdout, c.stderr);
        assert!(c.stdout.contains("-----> Keeping the sources"), "{}", c.stdout);
        let mut want = before.clone();
        want.push("app".into());
        want.sort();
        assert_eq!(b.files(), want, "{how}");
    }
}

/// The rockspec project: its own Lua module, its own C module (compiled from csrc/), its main
/// script as build.install.bin, and a dependency, strutil, installed in lua_modules/ by the real
/// `luarocks make` (as `luarocks install --tree lua_modules` would, then committed).
fn rockspec_app(scratch: &Path) -> PathBuf {
    let app = scratch.join("app");
    write_tree(
        &app,
        &[
            (
                "web-1.0-1.rockspec",
                r#"package = "web"
version = "1.0-1"
source = { url = "git+https://example.com/web.git" }
dependencies = { "lua >= 5.1", "strutil ~> 1.2" }
build = {
   type = "builtin",
   modules = {
      ["web.core"] = "src/web/core.lua",
      ["web.fast"] = { sources = { "csrc/fast.c" }, defines = { "FAST_BASE=40" }, incdirs = { "csrc/include" } },
   },
   install = { bin = { web = "bin/web.lua" } },
}
"#,
            ),
            (
                "bin/web.lua",
                "local core = require 'web.core'\nlocal fast = require 'web.fast'\nlocal strutil = require 'strutil'\nprint(core.banner(strutil.upper('web')), fast.answer(), strutil.version)\nprint(select('#', ...), ...)\n",
            ),
            ("src/web/core.lua", "return { banner = function(s) return '<' .. s .. '>' end }\n"),
            ("csrc/include/fast.h", "#define FAST_EXTRA 2\n"),
            (
                "csrc/fast.c",
                "#include <lua.h>\n#include <lauxlib.h>\n#include \"fast.h\"\nstatic int answer(lua_State *L) { lua_pushinteger(L, FAST_BASE + FAST_EXTRA); return 1; }\nint luaopen_web_fast(lua_State *L) { lua_newtable(L); lua_pushcfunction(L, answer); lua_setfield(L, -2, \"answer\"); return 1; }\n",
            ),
        ],
    );
    let rock = scratch.join("strutil");
    let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rocks/server");
    copy_dir(&server.join("strutil-1.2.0"), &rock);
    std::fs::copy(server.join("strutil-1.2.0-1.rockspec"), rock.join("strutil-1.2.0-1.rockspec"))
        .unwrap();
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let r = run(Command::new("luarocks")
        .args(["make", "--tree"])
        .arg(app.join("lua_modules"))
        .arg("strutil-1.2.0-1.rockspec")
        .current_dir(&rock)
        .env("HOME", &home)
        .env_remove("LUAROCKS_CONFIG"));
    assert_eq!(r.code, 0, "luarocks make: {}{}", r.stdout, r.stderr);
    app
}

#[test]
fn a_rockspec_app_with_lua_modules_and_a_c_module_uses_the_cache_the_second_time() {
    let test = "a_rockspec_app_with_lua_modules_and_a_c_module_uses_the_cache_the_second_time";
    let scratch = tempdir();
    let scratch = scratch.path().canonicalize().unwrap();
    let app = rockspec_app(&scratch);
    let release = "---\ndefault_process_types:\n  web: ./app\n";

    let first = Build::new(&app);
    let c = detect_compile_release(&first, release);
    assert!(
        c.stdout.contains("\n       bundle --rockspec web-1.0-1.rockspec -o app\n"),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout.contains("-----> Build cache: 1 compiled C module (1 new this build)"),
        "{}",
        c.stdout
    );
    assert_eq!(first.files(), ["app"], "rockspec, lua_modules and sources removed:\n{}", c.stdout);
    let cached: Vec<_> = std::fs::read_dir(first.cache.join("bundle-cbuild")).unwrap().collect();
    assert_eq!(cached.len(), 1, "one compiled module in CACHE_DIR");

    // A second push: a new BUILD_DIR, the same CACHE_DIR, and no C compiler at all (nothing on
    // PATH, which the bin/ scripts do not need): the module can only come from the cache.
    let second = Build::new(&app);
    copy_dir(&first.cache, &second.cache);
    let no_cc = [("PATH", "/nonexistent")];
    let c2 = second.step("compile", &no_cc);
    assert_eq!(c2.code, 0, "second compile:\n{}\n{}", c2.stdout, c2.stderr);
    assert!(
        c2.stdout.contains("-----> Build cache: 1 compiled C module (0 new this build)"),
        "{}",
        c2.stdout
    );
    // The same executable, byte for byte: the bill of materials names the compiled module
    // beside the rockspec, not in the temporary directory it was compiled into.
    let (one, two) = (
        std::fs::read(first.build.join("app")).unwrap(),
        std::fs::read(second.build.join("app")).unwrap(),
    );
    assert!(one == two, "two builds of the same sources differ");
    // Without the cache, the same compile needs the compiler, and says so.
    let third = Build::new(&app);
    let before = third.files();
    let c3 = third.step("compile", &no_cc);
    assert_eq!(c3.code, 1, "{}", c3.stdout);
    assert!(
        c3.stdout.contains("       bundle: error: web.fast: no C compiler found"),
        "{}",
        c3.stdout
    );
    assert_eq!(third.files(), before, "nothing written, nothing removed on failure");

    // The oracle: luajit on the sources, the C module compiled against the system's LuaJIT.
    let so_dir = scratch.join("so/web");
    std::fs::create_dir_all(&so_dir).unwrap();
    let cc = run(Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-DFAST_BASE=40", "-I/usr/include/luajit-2.1"])
        .arg("-Icsrc/include")
        .arg("csrc/fast.c")
        .arg("-o")
        .arg(so_dir.join("fast.so"))
        .current_dir(&app));
    assert_eq!(cc.code, 0, "{}", cc.stderr);
    let oracle = luajit_on(
        &app,
        &luajit(),
        "bin/web.lua",
        &["a", "b"],
        "src/?.lua;lua_modules/share/lua/5.1/?.lua",
        &format!("{}/?.so", scratch.join("so").display()),
    );
    assert_eq!(oracle.stdout, "<WEB>\t42\t1.2.0\n2\ta\tb\n", "{}", oracle.stderr);
    if let Some(r) = run_in_bare_root(test, &second, "app", &["a", "b"]) {
        assert_eq!((r.code, &r.stdout, &r.stderr), (0, &oracle.stdout, &oracle.stderr));
    }
}

#[test]
fn a_build_dir_without_a_lua_entry_is_not_detected() {
    let app = app(&[("README.md", "no Lua here\n"), ("lib/x.lua", "return 1\n")]);
    let b = Build::new(app.path());
    let d = b.step("detect", &[]);
    assert_eq!(d.code, 1, "{}", d.stdout);
    assert_eq!(d.stdout, "");
    assert!(d.stderr.contains("no Lua app in"), "{}", d.stderr);
    assert!(d.stderr.contains("main.lua, app.lua, server.lua"), "{}", d.stderr);
    let c = b.step("compile", &[]);
    assert_eq!(c.code, 1);
    assert!(c.stderr.starts_with(" !     no Lua app in"), "{}", c.stderr);
}

#[test]
fn a_syntax_error_fails_compile_with_heroku_indentation_and_keeps_the_sources() {
    let app = app(&[
        ("main.lua", "local m = require 'mod'\nprint(m)\n"),
        ("mod.lua", "local x = 1\nreturn { x = = 2 }\n"),
    ]);
    let b = Build::new(app.path());
    let before = b.files();
    let c = b.step("compile", &[]);
    assert_eq!(c.code, 1, "{}", c.stdout);
    let error = c.stdout.lines().find(|l| l.contains("mod.lua:2:")).unwrap_or_else(|| {
        panic!("the error names the file and line:\n{}", c.stdout);
    });
    assert!(
        error.starts_with("       bundle: error: ") || error.starts_with("       "),
        "{error:?}"
    );
    assert!(c.stdout.contains("       bundle: error: "), "{}", c.stdout);
    assert!(c.stderr.contains(" !     bundle failed (exit status: 1)"), "{}", c.stderr);
    assert_eq!(b.files(), before, "nothing written, nothing removed");
}

#[test]
fn a_bad_bundle_toml_names_the_file_and_line() {
    for (text, want) in [
        ("main = \"main.lua\"\nflags = \"--strip\"\n", "bundle.toml:2: `flags` must be an array of strings"),
        ("\nmian = \"main.lua\"\n", "bundle.toml:2: unknown key `mian`; bundle.toml takes main, flags, output, keep_sources"),
        ("flags = [\"--strip\",\n", "bundle.toml:1: the array opened on this line has no ']'"),
        ("output = \"../app\"\n", "bundle.toml:1: output = \"../app\": the executable's name must be"),
        ("main = \"nope.lua\"\n", "bundle.toml:1: main = \"nope.lua\": no such file in the app"),
        ("flags = [\"-o\", \"x\"]\n", "the flag -o (in bundle.toml or BUNDLE_FLAGS) is set by the buildpack"),
    ] {
        let app = app(&[("main.lua", "print 'hi'\n"), ("bundle.toml", text)]);
        let b = Build::new(app.path());
        let before = b.files();
        let c = b.step("compile", &[]);
        assert_eq!(c.code, 1, "{text:?}: {}", c.stdout);
        assert!(c.stderr.starts_with(&format!(" !     {want}")), "{text:?}: {}", c.stderr);
        assert_eq!(b.files(), before, "{text:?}: nothing written, nothing removed");
    }
    // A bad config var is named too.
    let app = app(&[("main.lua", "print 'hi'\n")]);
    let b = Build::new(app.path());
    b.config("BUNDLE_FLAGS", "--args 'unclosed");
    let c = b.step("compile", &[]);
    assert_eq!(c.code, 1);
    assert!(c.stderr.contains("BUNDLE_FLAGS (the config var, in "), "{}", c.stderr);
    assert!(c.stderr.contains("unbalanced quotes"), "{}", c.stderr);
    // And release without a compile says what is missing.
    let r = b.step("release", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no executable; bin/compile writes it"), "{}", r.stderr);
}
