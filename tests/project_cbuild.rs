//! C modules compiled from source (issue 16, point 2; src/project/cbuild.rs): a module with
//! defines, an include directory and two sources, compiled as a shared object against the
//! stub's LuaJIT headers, packed and loaded by the real stub, and compared with `luajit` loading
//! the same file from `package.cpath`; byte-identical rebuilds; compiler errors with the module
//! name and file:line; a missing `luaopen_*`; the static archive of `--emit-c --c-lib`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bundle::project::cbuild::{compile_shared, compile_static, CModule, Problem};
use common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures_c").join(name)
}

fn machine() -> u16 {
    bundle::base::native::machine_of(bundle::base::stub::EMBEDDED).expect("the stub is ELF")
}

/// The greet module as a rockspec would give it, rooted at `root` (a copy of the fixture).
fn greet(root: &Path) -> CModule {
    CModule {
        name: "greet.core".into(),
        root: root.to_path_buf(),
        sources: vec!["src/greet.c".into(), "src/twice.c".into()],
        defines: vec!["GREETING=\"Hello\"".into(), "LOUD".into()],
        incdirs: vec!["include".into()],
        ..CModule::default()
    }
}

/// Copies fixture `name` into a fresh directory.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let r = run(Command::new("cp")
        .arg("-R")
        .arg(format!("{}/.", fixture(name).display()))
        .arg(dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

#[test]
fn a_compiled_module_runs_in_the_stub_as_under_luajit() {
    let dir = copy_fixture("greet");
    let d = dir.path();
    let built = compile_shared(&greet(d), machine()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built.display, "src/greet.c");
    assert_eq!(built.name, "greet.core");
    std::fs::create_dir_all(d.join("c/greet")).unwrap();
    std::fs::write(d.join("c/greet/core.so"), &built.bytes).unwrap();
    // Nothing of the build machine's paths in the library.
    let tmp = std::env::temp_dir();
    for needle in [d.to_str().unwrap(), tmp.to_str().unwrap(), "bundle-cc-"] {
        assert!(
            !built.bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in the library"
        );
    }

    let r = bundle(d, &["main.lua", "-o", "app", "-q", "-I", "c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let elsewhere = tempdir();
    let got = run(hermetic(Command::new(d.join("app")).current_dir(elsewhere.path())));
    let want = run(Command::new(luajit())
        .current_dir(d)
        .env("LUA_CPATH", "c/?.so")
        .env("LUA_PATH", "/nonexistent/?.lua")
        .arg("main.lua"));
    assert_eq!(want.code, 0, "luajit: {}", want.stderr);
    assert_eq!(want.stdout, "Hello, world!\tHello, Lua!\t42\ttrue\tsrc/greet.c\nstring\ttrue\n");
    assert_eq!((got.code, got.stdout.as_str()), (0, want.stdout.as_str()), "{}", got.stderr);
}

#[test]
fn the_same_spec_gives_the_same_bytes() {
    // Two copies of the sources, so that neither the root nor the temporary directory leaks;
    // a second apart, so that __TIME__ would differ without SOURCE_DATE_EPOCH.
    let (a, b) = (copy_fixture("greet"), copy_fixture("greet"));
    let first = compile_shared(&greet(a.path()), machine()).unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = compile_shared(&greet(b.path()), machine()).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.bytes == second.bytes, "two builds of one spec differ");
    let again = compile_shared(&greet(a.path()), machine()).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.bytes == again.bytes, "two builds in one root differ");
    let s1 = compile_static(&greet(a.path())).unwrap_or_else(|e| panic!("{e}"));
    let s2 = compile_static(&greet(b.path())).unwrap_or_else(|e| panic!("{e}"));
    assert!(s1.archive == s2.archive, "two static builds differ");
}

#[test]
fn a_source_that_does_not_compile_names_the_module_and_the_line() {
    let dir = copy_fixture("broken");
    let spec = CModule {
        name: "broken".into(),
        root: dir.path().to_path_buf(),
        sources: vec!["src/broken.c".into()],
        ..CModule::default()
    };
    for err in [compile_shared(&spec, machine()).unwrap_err(), compile_static(&spec).unwrap_err()] {
        let text = err.to_string();
        assert!(text.starts_with("broken: src/broken.c does not compile:\n"), "{text}");
        assert!(text.contains("src/broken.c:4:"), "{text}");
        assert!(text.contains("undeclared_thing"), "{text}");
        assert!(!text.contains(dir.path().to_str().unwrap()), "{text}");
        assert!(!text.contains("bundle-cc-"), "{text}");
    }
}

#[test]
fn a_header_missing_from_the_incdirs_is_a_compile_error() {
    let dir = copy_fixture("greet");
    let spec = CModule { incdirs: vec![], ..greet(dir.path()) };
    let text = compile_shared(&spec, machine()).unwrap_err().to_string();
    assert!(text.starts_with("greet.core: src/greet.c does not compile:\n"), "{text}");
    assert!(text.contains("src/greet.c:5:") && text.contains("greet.h"), "{text}");
    let spec = CModule { incdirs: vec!["inc".into()], ..greet(dir.path()) };
    let text = compile_shared(&spec, machine()).unwrap_err().to_string();
    assert_eq!(text, "greet.core: include directory inc (incdirs) does not exist");
}

#[test]
fn a_module_name_without_its_luaopen_function_is_refused() {
    let dir = copy_fixture("greet");
    let spec = CModule { name: "greet.other".into(), ..greet(dir.path()) };
    let err = compile_shared(&spec, machine()).unwrap_err();
    assert!(matches!(&err.problem, Problem::NoLuaopen(s) if s == "luaopen_greet_other"), "{err}");
    assert!(err.to_string().starts_with("greet.other: no source defines luaopen_greet_other"));
    let err = compile_static(&spec).unwrap_err();
    assert!(matches!(&err.problem, Problem::NoLuaopen(s) if s == "luaopen_greet_other"), "{err}");
}

#[test]
fn a_missing_library_is_a_link_error_naming_it() {
    let dir = copy_fixture("greet");
    let spec = CModule { libraries: vec!["bundle_no_such_lib".into()], ..greet(dir.path()) };
    let text = compile_shared(&spec, machine()).unwrap_err().to_string();
    assert!(text.starts_with("greet.core: it cannot be linked:\n"), "{text}");
    assert!(text.contains("bundle_no_such_lib"), "{text}");
}

#[test]
fn another_machine_is_refused() {
    let dir = copy_fixture("greet");
    let other = if machine() == 183 { 62 } else { 183 };
    let text = compile_shared(&greet(dir.path()), other).unwrap_err().to_string();
    assert!(
        text.starts_with(
            "greet.core: the compiled library cannot be loaded by the stub: built for"
        ),
        "{text}"
    );
}

#[test]
fn the_static_archive_links_into_an_emit_c_program() {
    let dir = copy_fixture("greet");
    let d = dir.path();
    let built = compile_static(&greet(d)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built.file_name, "libgreet_core.a");
    std::fs::write(d.join(&built.file_name), &built.archive).unwrap();
    let r = bundle(
        d,
        &["main.lua", "--emit-c", "-o", "app.c", "--c-lib", "libgreet_core.a", "--cc", "-q"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = run(hermetic(&mut Command::new(d.join("app"))));
    assert_eq!(
        (got.code, got.stdout.as_str()),
        (0, "Hello, world!\tHello, Lua!\t42\ttrue\tsrc/greet.c\nstring\ttrue\n"),
        "{}",
        got.stderr
    );
}
