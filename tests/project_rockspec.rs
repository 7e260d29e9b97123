//! Issue 16, the library part: rockspecs read as LuaRocks reads them (`bundle::project`).
//!
//! Realistic rockspecs (a pure-Lua rock, a `builtin` C rock with defines, include directories,
//! an external library and a `platforms.linux` override, a `make` rock, an app depending on all
//! three) are read and checked against trees; bad ones give messages naming the file and line.
//! The real `luarocks` (Debian's package) is the oracle: it installs the same rocks into a
//! tree whose manifest is then read back, its compiler command lines show the flags the
//! `builtin` rock is read with, and it lints the rockspec `generate` writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use bundle::project::eval::EvalError;
use bundle::project::generate::{self, Program};
use bundle::project::manifest::{self, Provision, Runtime, Tree};
use bundle::project::rockspec::{self, Backend, CModule, Module, RockspecError, Tool, Vars};
use bundle::project::version::Version;

/// A pure-Lua rock, as they are usually written (local variables, concatenation).
const STRUTIL: &str = r#"-- strutil: string helpers.
local tag = "1.2.0"
package = "strutil"
version = tag .. "-1"
source = {
   url = "git+https://example.com/strutil.git",
   tag = "v" .. tag,
}
description = {
   summary = "String helpers",
   detailed = [[
      Splitting and trimming.
   ]],
   homepage = "https://example.com/strutil",
   license = "MIT",
}
dependencies = {
   "lua >= 5.1, < 5.5",
}
build = {
   type = "builtin",
   modules = {
      strutil = "src/strutil.lua",
      ["strutil.split"] = "src/strutil/split.lua",
   },
   copy_directories = { "doc" },
}
"#;

/// A `builtin` C rock: two sources, a define, an include directory, zlib as an external
/// dependency, and a Linux override of the defines.
const FASTCRC: &str = r#"package = "fastcrc"
version = "1.0-1"
source = { url = "https://example.com/fastcrc-1.0.tar.gz" }
description = { summary = "CRC32 through zlib", license = "MIT" }
dependencies = { "lua >= 5.1" }
external_dependencies = {
   ZLIB = { header = "zlib.h", library = "z" },
}
build = {
   type = "builtin",
   modules = {
      fastcrc = {
         sources = { "csrc/fastcrc.c", "csrc/table.c" },
         defines = { "FASTCRC_VERSION=\"1.0\"" },
         incdirs = { "csrc/include", "$(ZLIB_INCDIR)" },
         libdirs = { "$(ZLIB_LIBDIR)" },
         libraries = { "z" },
      },
      ["fastcrc.util"] = "lua/fastcrc/util.lua",
   },
   platforms = {
      linux = {
         modules = {
            fastcrc = {
               defines = { "FASTCRC_VERSION=\"1.0\"", "FASTCRC_LINUX" },
            },
         },
      },
      windows = {
         modules = { fastcrc = { defines = { "FASTCRC_WINDOWS" } } },
      },
   },
}
"#;

const FASTCRC_C: &str = r#"#include <lua.h>
#include <lauxlib.h>
#include <zlib.h>
#include "fastcrc.h"
static int crc(lua_State *L) {
  size_t n; const char *s = luaL_checklstring(L, 1, &n);
  lua_pushnumber(L, (lua_Number)crc32(0L, (const Bytef *)s, (uInt)n));
  return 1;
}
int luaopen_fastcrc(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, crc); lua_setfield(L, -2, "crc32");
  lua_pushstring(L, FASTCRC_VERSION); lua_setfield(L, -2, "version");
#ifdef FASTCRC_LINUX
  lua_pushboolean(L, 1); lua_setfield(L, -2, "linux");
#endif
  return 1;
}
"#;

/// A rock its own Makefile builds and installs.
const LPEGISH: &str = r#"package = "lpegish"
version = "0.9-1"
source = { url = "https://example.com/lpegish-0.9.tar.gz" }
description = { summary = "Built by make", license = "MIT" }
build = {
   type = "make",
   build_variables = { CFLAGS = "$(CFLAGS)" },
   install_variables = { LUADIR = "$(LUADIR)" },
}
"#;

const LPEGISH_MAKEFILE: &str = "all:\n\t@echo built\n\ninstall:\n\tmkdir -p $(LUADIR)\n\tcp lpegish.lua $(LUADIR)/lpegish.lua\n";

/// The app: depends on the three, installs its main script as a command.
const APP: &str = r#"rockspec_format = "3.0"
package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
description = { summary = "The app", license = "MIT" }
dependencies = {
   "lua >= 5.1",
   "strutil ~> 1.2",
   "fastcrc >= 1.0, < 2.0",
   "lpegish == 0.9",
}
build = {
   type = "builtin",
   modules = { ["app.core"] = "src/app/core.lua" },
   install = { bin = { app = "bin/app.lua" } },
}
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Variables that find no external library on this machine.
fn isolated() -> Vars {
    let mut vars = Vars::new("x86_64-linux-gnu");
    vars.prefixes = vec![PathBuf::from("/nonexistent-prefix")];
    vars
}

/// A prefix holding a fake zlib (header and library), as `ZLIB_DIR` would name it.
fn fake_zlib(dir: &Path) -> PathBuf {
    let prefix = dir.join("zlib-prefix");
    write(&prefix, "include/zlib.h", "");
    write(&prefix, "lib/libz.so.1", "");
    prefix
}

fn luarocks() -> &'static str {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("luarocks").is_file()));
    assert!(
        found,
        "luarocks not found on PATH: these tests use it as the oracle (apt-get install luarocks)"
    );
    "luarocks"
}

/// `luarocks ARGS` in `dir`, with a home of its own (no user config, no cache shared between
/// tests); panics with its output on failure.
fn run_luarocks(dir: &Path, args: &[&str]) -> String {
    let home = dir.join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(luarocks())
        .args(args)
        .current_dir(dir)
        .env("HOME", &home)
        .env_remove("LUAROCKS_CONFIG")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "luarocks {args:?} failed:\n{text}");
    text
}

#[test]
fn pure_lua_rock() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "strutil-1.2.0-1.rockspec", STRUTIL);
    let r = rockspec::load(&path, &isolated()).unwrap();
    assert_eq!((r.name(), r.version.as_str()), ("strutil".to_owned(), "1.2.0-1"));
    assert_eq!(r.file_name(), "strutil-1.2.0-1.rockspec");
    assert_eq!(r.dir(), dir.path());
    let source = r.source.as_ref().unwrap();
    assert_eq!(source.tag.as_deref(), Some("v1.2.0"));
    assert_eq!(r.description.license.as_deref(), Some("MIT"));
    assert!(r.description.detailed.as_deref().unwrap().contains("Splitting"));
    assert_eq!(r.dependencies.len(), 1);
    assert_eq!(r.dependencies[0].to_string(), "lua >= 5.1, < 5.5");
    let Backend::Builtin { modules } = &r.build.backend else { panic!("{:?}", r.build) };
    assert_eq!(modules.len(), 2);
    assert_eq!(modules["strutil.split"], Module::Lua { path: "src/strutil/split.lua".into() });
    assert_eq!(r.build.copy_directories, ["doc"]);
}

#[test]
fn builtin_c_rock_with_linux_override() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "fastcrc-1.0-1.rockspec", FASTCRC);
    let prefix = fake_zlib(dir.path());
    let mut vars = isolated();
    vars.set("ZLIB_DIR", prefix.to_str().unwrap());
    let r = rockspec::load(&path, &vars).unwrap();
    let Backend::Builtin { modules } = &r.build.backend else { panic!() };
    let Module::C(c) = &modules["fastcrc"] else { panic!() };
    let p = prefix.display();
    assert_eq!(
        c,
        &CModule {
            sources: vec!["csrc/fastcrc.c".into(), "csrc/table.c".into()],
            // linux's list replaced the base one element by element; windows' did not apply.
            defines: vec!["FASTCRC_VERSION=\"1.0\"".into(), "FASTCRC_LINUX".into()],
            incdirs: vec!["csrc/include".into(), format!("{p}/include")],
            libraries: vec!["z".into()],
            libdirs: vec![format!("{p}/lib")],
        }
    );
    assert_eq!(modules["fastcrc.util"], Module::Lua { path: "lua/fastcrc/util.lua".into() });
    assert_eq!(r.external_dependencies["ZLIB"].header.as_deref(), Some("zlib.h"));
    assert_eq!(r.variables["ZLIB_DIR"], p.to_string());
    assert_eq!(r.variables["ZLIB_INCDIR"], format!("{p}/include"));

    // Without ZLIB_DIR, the prefixes searched are named, and the variables to set.
    let e = rockspec::load(&path, &isolated()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: external dependency ZLIB: header zlib.h not found in /nonexistent-prefix/include; install it (its development package), or say where it is with ZLIB_DIR=<prefix> or ZLIB_INCDIR=<directory>",
            path.display()
        )
    );
    // A header without its library.
    std::fs::remove_file(prefix.join("lib/libz.so.1")).unwrap();
    let e = rockspec::load(&path, &vars).unwrap_err().to_string();
    assert!(e.contains("library z (libz.a, libz.so, libz.so.*) not found in"), "{e}");
    assert!(e.contains("ZLIB_LIBDIR=<directory>"), "{e}");
    // The directories may be given one by one.
    let mut vars = isolated();
    vars.set("ZLIB_INCDIR", prefix.join("include").to_str().unwrap());
    vars.set("ZLIB_LIBDIR", "/opt/z/lib");
    let e = rockspec::load(&path, &vars).unwrap_err().to_string();
    assert!(e.contains("not found in /opt/z/lib;"), "{e}");
}

#[test]
fn make_rock_is_taken_from_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "lpegish-0.9-1.rockspec", LPEGISH);
    let r = rockspec::load(&path, &isolated()).unwrap();
    assert_eq!(r.build.backend, Backend::FromTree { tool: Tool::Make });
    assert_eq!(Tool::Make.as_str(), "make");
    assert!(r.dependencies.is_empty());
}

/// A manifest as `luarocks` writes it, for the three rocks at the given versions.
fn manifest_text(strutil: &str, fastcrc: &str, lpegish: &str) -> String {
    let entry = |modules: &str| {
        format!("{{ {{ arch = \"installed\", commands = {{}}, dependencies = {{}}, modules = {{ {modules} }} }} }}")
    };
    format!(
        r#"commands = {{}}
dependencies = {{}}
modules = {{
   strutil = {{ "strutil/{strutil}" }},
   ["strutil.split"] = {{ "strutil/{strutil}" }},
   fastcrc = {{ "fastcrc/{fastcrc}" }},
   lpegish = {{ "lpegish/{lpegish}" }},
}}
repository = {{
   strutil = {{ ["{strutil}"] = {} }},
   fastcrc = {{ ["{fastcrc}"] = {} }},
   lpegish = {{ ["{lpegish}"] = {} }},
}}
"#,
        entry(r#"strutil = "strutil.lua", ["strutil.split"] = "strutil/split.lua""#),
        entry(r#"fastcrc = "fastcrc.so""#),
        entry(r#"lpegish = "lpegish.lua""#),
    )
}

fn tree_with(dir: &Path, name: &str, manifest: &str) -> Tree {
    let root = dir.join(name);
    write(&root, manifest::MANIFEST, manifest);
    Tree::open(&root).unwrap()
}

#[test]
fn app_depends_on_all_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "app-1.0-1.rockspec", APP);
    let app = rockspec::load(&path, &isolated()).unwrap();
    assert_eq!(app.build.install.bin["app"], "bin/app.lua");
    let runtime = Runtime::new(Some("LuaJIT 2.1.1700008891"));

    let good = tree_with(dir.path(), "good", &manifest_text("1.2.3-1", "1.0-1", "0.9-1"));
    assert_eq!(good.provider("strutil.split").unwrap().to_string(), "strutil 1.2.3-1");
    assert_eq!(
        good.module_path("strutil.split").unwrap(),
        dir.path().join("good/share/lua/5.1/strutil/split.lua")
    );
    assert_eq!(
        good.module_path("fastcrc").unwrap(),
        dir.path().join("good/lib/lua/5.1/fastcrc.so")
    );
    let met = manifest::check(&app, std::slice::from_ref(&good), &runtime).unwrap();
    let by: Vec<String> = met
        .iter()
        .map(|s| match &s.by {
            Provision::Runtime(v) => format!("{} runtime {v}", s.dependency.name),
            Provision::Tree { version, .. } => format!("{} {version}", s.dependency.name),
        })
        .collect();
    assert_eq!(by, ["lua runtime 5.1-1", "strutil 1.2.3-1", "fastcrc 1.0-1", "lpegish 0.9-1"]);

    // An empty tree (no manifest yet) and one with versions that do not fit.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = Tree::open(&empty).unwrap();
    let old = tree_with(dir.path(), "old", &manifest_text("1.3.0-1", "2.0-1", "0.9.1-1"));
    let e = manifest::check(&app, &[empty, old], &runtime).unwrap_err();
    let root = dir.path().join("old");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: dependencies are not satisfied in {} (and the runtime):\n  \
             strutil ~> 1.2: installed is 1.3.0-1 (in {r}), which does not satisfy it\n  \
             fastcrc >= 1.0, < 2.0: installed is 2.0-1 (in {r}), which does not satisfy it\n  \
             lpegish == 0.9: installed is 0.9.1-1 (in {r}), which does not satisfy it",
            path.display(),
            format_args!("{}, {}", dir.path().join("empty").display(), root.display()),
            r = root.display(),
        )
    );
}

#[test]
fn unsatisfiable_constraint() {
    let dir = tempfile::tempdir().unwrap();
    let text = APP
        .replace("\"lua >= 5.1\"", "\"lua >= 5.3\"")
        .replace("strutil ~> 1.2", "strutil >= 2.0, < 1.0");
    let path = write(dir.path(), "app-1.0-1.rockspec", &text);
    let app = rockspec::load(&path, &isolated()).unwrap();
    let good = tree_with(dir.path(), "good", &manifest_text("1.2.3-1", "1.0-1", "0.9-1"));
    let e = manifest::check(&app, &[good], &Runtime::new(None)).unwrap_err();
    assert_eq!(e.unsatisfied.len(), 2);
    let text = e.to_string();
    assert!(
        text.contains("lua >= 5.3: installed is 5.1-1 (the runtime's), which does not satisfy it"),
        "{text}"
    );
    assert!(text.contains("strutil >= 2.0, < 1.0: installed is 1.2.3-1"), "{text}");
}

/// Reads a rockspec text from a file named `t-1.0-1.rockspec` in a temporary directory; the
/// error's text with the directory left out.
fn error_of(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t-1.0-1.rockspec", text);
    let e = rockspec::load(&path, &isolated()).expect_err("the rockspec should be refused");
    e.to_string().replace(&format!("{}/", dir.path().display()), "")
}

#[test]
fn syntax_error_names_file_and_line() {
    let e = error_of("package = \"t\"\nversion = \"1.0-1\"\nbuild = {\n  type = \"builtin\"\n  modules = {}\n}\n");
    assert_eq!(e, "t-1.0-1.rockspec:5: '}' expected (to close '{' at line 3) near 'modules'");
}

#[test]
fn os_execute_is_refused_with_its_line() {
    let e = error_of("package = \"t\"\nversion = \"1.0-1\"\nos.execute(\"rm -rf /\")\n");
    assert!(
        e.starts_with("t-1.0-1.rockspec:3: the rockspec calls os.execute, which a rockspec may not: bundle evaluates it as data, with no standard library"),
        "{e}"
    );
    // Whatever the library.
    for (code, name) in [
        ("io.open('/etc/passwd')", "io.open"),
        ("require 'socket'", "require"),
        ("dofile('x.lua')", "dofile"),
        ("local f = load('return 1')", "load"),
        ("setmetatable({}, {})", "setmetatable"),
        ("print(getfenv(1))", "getfenv"),
    ] {
        let e = error_of(&format!("package = \"t\"\n{code}\n"));
        assert!(
            e.starts_with(&format!("t-1.0-1.rockspec:2: the rockspec calls {name},")),
            "{code}: {e}"
        );
    }
    // A read that is never called is refused too, once the file has run.
    let e = error_of("local home = os.getenv\npackage = \"t\"\n");
    assert!(e.starts_with("t-1.0-1.rockspec:1: the rockspec reads os.getenv,"), "{e}");
    // String methods are not reachable either.
    let e = error_of("package = (\"t\"):rep(3)\n");
    assert!(e.starts_with("t-1.0-1.rockspec:1: the rockspec uses the string method 'rep',"), "{e}");
}

#[test]
fn unknown_build_type() {
    let e = error_of("package = \"t\"\nversion = \"1.0-1\"\nbuild = { type = \"scons\" }\n");
    assert_eq!(
        e,
        "t-1.0-1.rockspec: unknown build type \"scons\"; LuaRocks' build types are builtin, make, cmake, command and none (a custom back end of a luarocks-build-* rock is not supported)"
    );
}

#[test]
fn endless_loops_and_memory_are_bounded() {
    let e = error_of("package = \"t\"\nwhile true do\nend\n");
    assert!(e.starts_with("t-1.0-1.rockspec:2: the rockspec ran for more than"), "{e}");
    let e = error_of("local function f() return f() end\nf()\n");
    assert!(e.starts_with("t-1.0-1.rockspec:1: the rockspec ran for more than"), "{e}");
    let e = error_of("local s = 'x'\nfor i = 1, 40 do s = s .. s end\n");
    assert_eq!(e, "t-1.0-1.rockspec: the rockspec used more than 64 MiB of memory and was stopped");
    let e = error_of("local t = {}\nt.t = t\nbuild = t\n");
    assert!(e.contains("nests tables more than 64 deep"), "{e}");
}

#[test]
fn runtime_errors_and_plain_lua() {
    let e = error_of("package = \"t\"\nversion = nil .. \"-1\"\n");
    assert_eq!(e, "t-1.0-1.rockspec:2: attempt to concatenate a nil value");
    // A known global read before it is set is nil, as in LuaRocks.
    let e = error_of("source = { url = \"x/\" .. package }\n");
    assert_eq!(e, "t-1.0-1.rockspec:1: attempt to concatenate global 'package' (a nil value)");
    // Functions, locals, loops and a `#!` line are fine.
    let dir = tempfile::tempdir().unwrap();
    let text = "#!/usr/bin/env lua\nlocal function v(n) return n .. \"-1\" end\npackage = \"t\"\nversion = v(\"1.0\")\nlocal mods = {}\nfor _, m in ipairs and {} or {} do end\nfor i = 1, 3 do mods[\"m\" .. i] = \"src/m\" .. i .. \".lua\" end\nbuild = { type = \"builtin\", modules = mods }\n";
    let path = write(dir.path(), "t-1.0-1.rockspec", text);
    let e = rockspec::load(&path, &isolated()).unwrap_err().to_string();
    // `ipairs` is not there either; the line counts the `#!` line.
    assert!(e.ends_with("t-1.0-1.rockspec:6: the rockspec reads ipairs, which a rockspec may not: bundle evaluates it as data, with no standard library (no io, os, require, load, dofile or string methods), as LuaRocks gives it an empty environment"), "{e}");
    let path = write(
        dir.path(),
        "t-1.0-1.rockspec",
        &text.replace("for _, m in ipairs and {} or {} do end\n", ""),
    );
    let r = rockspec::load(&path, &isolated()).unwrap();
    assert_eq!(r.version.as_str(), "1.0-1");
    let Backend::Builtin { modules } = &r.build.backend else { panic!() };
    assert_eq!(modules.keys().collect::<Vec<_>>(), ["m1", "m2", "m3"]);
}

#[test]
fn bad_fields_are_named() {
    let e = error_of("package = \"t\"\nversion = \"1.0-1\"\ndependencies = { \"lua >= 5.1\", \"foo => 2\" }\nbuild = { type = \"none\" }\n");
    assert!(e.starts_with("t-1.0-1.rockspec: dependencies[2]: bad version constraint '=> 2': '=>' is not an operator"), "{e}");
    let e = error_of("package = \"t\"\nversion = 1\n");
    assert_eq!(e, "t-1.0-1.rockspec: version must be a string, not a number");
    let e = error_of("version = \"1.0-1\"\n");
    assert_eq!(e, "t-1.0-1.rockspec: package is missing; a rockspec must set it");
    let e = error_of("package = \"t\" version = \"1.0-1\" build = { type = \"builtin\", modules = { \"a.lua\" } }");
    assert!(
        e.starts_with("t-1.0-1.rockspec: build.modules[1] must be keyed by a module name"),
        "{e}"
    );
    let e = std::fs::read("/nonexistent/x.rockspec")
        .map(|_| ())
        .map_err(|source| EvalError::Read { path: "/nonexistent/x.rockspec".into(), source });
    assert!(e.is_err());
    let e = rockspec::load(Path::new("/nonexistent/x.rockspec"), &isolated()).unwrap_err();
    assert!(matches!(e, RockspecError::Eval(EvalError::Read { .. })), "{e}");
}

/// The rockspec of tests/corpus/luarocks (a real one `luarocks make` installs).
#[test]
fn corpus_rockspec() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/luarocks/hello-1.0-1.rockspec");
    let r = rockspec::load(&path, &isolated()).unwrap();
    assert_eq!(r.name(), "hello");
    let Backend::Builtin { modules } = &r.build.backend else { panic!() };
    assert_eq!(modules["hello"], Module::Lua { path: "src/hello.lua".into() });
    assert!(r.dependencies[0].matches(&Version::parse("5.1-1")));
}

/// `gcc -print-multiarch`, as LuaRocks asks it.
fn multiarch() -> String {
    Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The real LuaRocks installs the three rocks into a tree: the manifest it writes is read back,
/// the app's dependencies are met there, and the compiler command lines it printed for the C
/// rock carry exactly the flags read from the rockspec with this machine's zlib.
#[test]
fn luarocks_installs_the_rocks_as_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tree = d.join("tree");
    let tree_arg = tree.to_str().unwrap();

    let strutil = d.join("strutil");
    write(&strutil, "strutil-1.2.0-1.rockspec", STRUTIL);
    write(&strutil, "src/strutil.lua", "return {}\n");
    write(&strutil, "src/strutil/split.lua", "return {}\n");
    write(&strutil, "doc/index.md", "strutil\n");
    run_luarocks(&strutil, &["make", "--tree", tree_arg, "strutil-1.2.0-1.rockspec"]);

    let fastcrc = d.join("fastcrc");
    let spec = write(&fastcrc, "fastcrc-1.0-1.rockspec", FASTCRC);
    write(&fastcrc, "csrc/fastcrc.c", FASTCRC_C);
    write(&fastcrc, "csrc/table.c", "int fastcrc_table;\n");
    write(&fastcrc, "csrc/include/fastcrc.h", "#define FASTCRC_H 1\n");
    write(&fastcrc, "lua/fastcrc/util.lua", "return {}\n");
    let printed = run_luarocks(&fastcrc, &["make", "--tree", tree_arg, "fastcrc-1.0-1.rockspec"]);

    let lpegish = d.join("lpegish");
    write(&lpegish, "lpegish-0.9-1.rockspec", LPEGISH);
    write(&lpegish, "Makefile", LPEGISH_MAKEFILE);
    write(&lpegish, "lpegish.lua", "return {}\n");
    run_luarocks(&lpegish, &["make", "--tree", tree_arg, "lpegish-0.9-1.rockspec"]);

    // The C rock as bundle reads it, with this machine's zlib where LuaRocks found it.
    let r = rockspec::load(&spec, &Vars::new(&multiarch())).unwrap();
    let Backend::Builtin { modules } = &r.build.backend else { panic!() };
    let Module::C(c) = &modules["fastcrc"] else { panic!() };
    let compile = printed
        .lines()
        .find(|l| l.contains("-c csrc/fastcrc.c"))
        .unwrap_or_else(|| panic!("no compiler line for csrc/fastcrc.c in:\n{printed}"));
    // LuaRocks passes each flag as one shell word, quoted.
    let flags: Vec<String> = c
        .defines
        .iter()
        .map(|d| format!("-D{d}"))
        .chain(c.incdirs.iter().map(|i| format!("-I{i}")))
        .collect();
    let unquoted = compile.replace('\'', "").replace("\\\"", "\"");
    for flag in &flags {
        assert!(unquoted.contains(flag.as_str()), "{flag} not in: {compile}");
    }
    let link = printed.lines().find(|l| l.contains("-o fastcrc.so")).unwrap();
    for libdir in &c.libdirs {
        assert!(link.contains(&format!("-L{libdir}")), "{libdir} not in: {link}");
    }
    assert!(link.contains("-lz"), "{link}");

    // The tree LuaRocks wrote.
    let t = Tree::open(&tree).unwrap();
    assert_eq!(t.provider("fastcrc").unwrap().to_string(), "fastcrc 1.0-1");
    assert!(t.module_path("fastcrc").unwrap().is_file());
    assert!(t.module_path("fastcrc.util").unwrap().is_file());
    assert!(t.module_path("strutil.split").unwrap().is_file());
    // The make rock's installed modules are in the manifest like any other's.
    let lp = &t.versions("lpegish")[0];
    assert_eq!(lp.modules["lpegish"], "lpegish.lua");
    assert!(t.module_path("lpegish").unwrap().is_file());
    assert!(t.rock_dir("lpegish", &lp.version).join("lpegish-0.9-1.rockspec").is_file());

    let app = write(d, "app/app-1.0-1.rockspec", APP);
    let app = rockspec::load(&app, &isolated()).unwrap();
    let met = manifest::check(&app, &[t], &Runtime::new(Some("LuaJIT 2.1.0-beta3"))).unwrap();
    assert_eq!(met.len(), 4);
}

/// `generate` writes a rockspec that `luarocks lint` accepts and `luarocks make` installs,
/// and that bundle reads back as what it was given.
#[test]
fn generated_rockspec_passes_luarocks_lint_and_installs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "main.lua", "local core = require 'app.core'\nprint(core.greet('you'))\n");
    write(d, "src/app/core.lua", "return { greet = function(n) return 'hello ' .. n end }\n");
    write(d, "src/app/tiny.c", "#include <lua.h>\nint luaopen_app_tiny(lua_State *L) { lua_pushinteger(L, TINY); return 1; }\n");
    let program = Program {
        package: "app".into(),
        version: "dev-1".into(),
        lua_modules: [("app.core".to_owned(), "src/app/core.lua".to_owned())].into(),
        c_modules: [(
            "app.tiny".to_owned(),
            CModule {
                sources: vec!["src/app/tiny.c".into()],
                defines: vec!["TINY=42".into()],
                ..CModule::default()
            },
        )]
        .into(),
        bin: [("app".to_owned(), "main.lua".to_owned())].into(),
        dependencies: [
            ("strutil".to_owned(), Version::parse("1.2.3-1")),
            ("luajit".to_owned(), Version::parse("2.1.0-1")),
            ("edge".to_owned(), Version::parse("scm-1")),
        ]
        .into(),
        ..Program::default()
    };
    let text = generate::rockspec(&program).unwrap();
    // Deterministic.
    assert_eq!(text, generate::rockspec(&program.clone()).unwrap());
    assert!(text.contains("\"strutil ~> 1.2\","), "{text}");
    assert!(text.contains("\"edge\", -- installed: scm-1"), "{text}");
    assert!(!text.contains("luajit"), "{text}");
    assert_eq!(text.matches("-- FIXME").count(), 4, "{text}");
    let name = generate::file_name(&program);
    let path = write(d, &name, &text);
    run_luarocks(d, &["lint", &name]);

    // Read back.
    let r = rockspec::load(&path, &isolated()).unwrap();
    assert_eq!(r.build.install.bin["app"], "main.lua");
    let Backend::Builtin { modules } = &r.build.backend else { panic!() };
    assert_eq!(modules["app.core"], Module::Lua { path: "src/app/core.lua".into() });
    assert_eq!(modules["app.tiny"], Module::C(program.c_modules["app.tiny"].clone()));
    let deps: Vec<String> = r.dependencies.iter().map(ToString::to_string).collect();
    assert_eq!(deps, ["lua ~> 5.1", "edge", "strutil ~> 1.2"]);

    // Installs, once its dependencies are out of the way (they are not on any server here).
    let alone = Program { dependencies: Default::default(), ..program };
    write(d, &name, &generate::rockspec(&alone).unwrap());
    let tree = d.join("tree");
    run_luarocks(d, &["make", "--tree", tree.to_str().unwrap(), &name]);
    let t = Tree::open(&tree).unwrap();
    assert!(t.module_path("app.core").unwrap().is_file());
    assert!(t.module_path("app.tiny").unwrap().is_file());
    assert_eq!(t.versions("app")[0].commands["app"], "app");
    assert!(tree.join("bin/app").is_file());
}
