//! Compiles a rockspec's C modules from source (issue 16, point 2) with the `cc` crate's idea of
//! this machine's C compiler:
//!
//! - [`compile_shared`]: a position-independent shared object against the headers of the
//!   stub's own LuaJIT (embedded in this bundler by build.rs), not linked with any Lua library:
//!   its `lua_*` symbols resolve against the stub, which exports the Lua C API (runtime/build.rs).
//!   The result is checked as any C module is (`base::native::check`: ELF, machine, `luaopen_*`)
//!   and packed and loaded from memory as today (docs/NATIVE.md).
//! - [`compile_static`]: for `--emit-c`, a static archive of objects compiled against the
//!   system's LuaJIT headers (`pkg-config --cflags luajit`), the LuaJIT the C file links.
//!
//! The compiler runs in the spec's root directory with the paths as the rockspec gives them, so
//! that its diagnostics already say `src/foo.c:3:5: ...`; the temporary directory is mapped out
//! of what it prints. The same spec gives byte-identical outputs (see [`reproducibility_flags`]).
//! Command lines follow LuaRocks' `builtin` back end (luarocks/build/builtin.lua: `-I` of Lua's
//! headers before the module's, `-L` and `-Wl,-rpath` per `libdirs`, `-l` per `libraries`).

use std::path::{Path, PathBuf};
use std::process::Command;

use include_dir::{include_dir, Dir};

use crate::base::native::{self, NativeError};

/// The C API headers of the stub's LuaJIT (`lua.h`, `lauxlib.h`, ...), copied by build.rs;
/// empty when this bundler was built with a prebuilt stub and no `BUNDLE_LUAJIT_DIR`.
static LUAJIT_HEADERS: Dir<'static> = include_dir!("$OUT_DIR/luajit/include");

/// One C module of a rockspec (`build.modules` of the `builtin` type, as a string or a table).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CModule {
    /// The module name `require` uses (`foo.core`): it decides the `luaopen_*` symbol.
    pub name: String,
    /// The directory the other paths are relative to (the rockspec's).
    pub root: PathBuf,
    /// The C files, in order.
    pub sources: Vec<PathBuf>,
    /// Preprocessor definitions, `NAME` or `NAME=VALUE` (passed as one argument, unquoted).
    pub defines: Vec<String>,
    /// Include directories (`-I`), searched after the Lua headers'.
    pub incdirs: Vec<PathBuf>,
    /// Libraries to link (`-l NAME`).
    pub libraries: Vec<String>,
    /// Library directories (`-L DIR`, and `-Wl,-rpath` so that `bundle` finds the libraries the
    /// module needs when it packs them).
    pub libdirs: Vec<PathBuf>,
}

/// A shared object compiled from a [`CModule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The module name.
    pub name: String,
    /// The ELF shared object.
    pub bytes: Vec<u8>,
    /// A stable name for messages and listings: the first source as the rockspec gives it
    /// (`src/foo.c`), never the temporary file.
    pub display: String,
    /// What the compiler and linker printed although they succeeded (warnings), paths as in
    /// [`CBuildError`]; empty when they were silent.
    pub warnings: String,
}

/// A static archive compiled from a [`CModule`], for `--emit-c --c-lib`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltStatic {
    /// The module name.
    pub name: String,
    /// The `ar` archive (deterministic mode: no dates, owners or modes), with a symbol index.
    pub archive: Vec<u8>,
    /// A file name for it: `lib` + the `luaopen_` suffix + `.a` (`libfoo_core.a`).
    pub file_name: String,
    /// As [`Built::display`].
    pub display: String,
    /// As [`Built::warnings`].
    pub warnings: String,
}

/// Why a C module could not be built; the message starts with the module's name.
#[derive(Debug, thiserror::Error)]
#[error("{module}: {problem}")]
pub struct CBuildError {
    pub module: String,
    pub problem: Problem,
}

/// What went wrong, completing "MODULE: ...".
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("the module has no sources")]
    NoSources,
    #[error("source file {0} not found")]
    MissingSource(String),
    #[error("include directory {0} (incdirs) does not exist")]
    MissingIncdir(String),
    #[error("library directory {0} (libdirs) does not exist")]
    MissingLibdir(String),
    #[error("define {0:?} is not NAME or NAME=VALUE with NAME a C identifier")]
    BadDefine(String),
    #[error("library {0:?} is not a library name (as for -l NAME)")]
    BadLibrary(String),
    #[error(
        "this bundle was built without LuaJIT's headers (a prebuilt stub, BUNDLE_STUB, without \
         BUNDLE_LUAJIT_DIR), so it cannot compile C modules; build bundle from source, or give \
         BUNDLE_LUAJIT_DIR a directory holding lua.h, lauxlib.h, lualib.h, luaconf.h and luajit.h"
    )]
    NoLuaHeaders,
    #[error("no C compiler found ({0}); install one (Debian: gcc) or name it with CC")]
    NoCompiler(String),
    #[error(
        "no LuaJIT development files found for --emit-c ({0}); install libluajit-5.1-dev and \
         pkg-config"
    )]
    NoSystemLuaJit(String),
    #[error("{file} does not compile:\n{diagnostics}")]
    Compile { file: String, diagnostics: String },
    #[error("it cannot be linked:\n{0}")]
    Link(String),
    #[error("the archiver failed:\n{0}")]
    Archive(String),
    #[error(
        "no source defines {0}, the function require calls for this module name; check the \
         module's name in the rockspec against the C code's `int {0}(lua_State *L)`"
    )]
    NoLuaopen(String),
    #[error("the compiled library cannot be loaded by the stub: {0}")]
    Check(NativeError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Compiles `spec` into a shared object for the stub of ELF machine `machine`
/// (`Target::machine`), against the stub's LuaJIT headers.
pub fn compile_shared(spec: &CModule, machine: u16) -> Result<Built, CBuildError> {
    let fail = |problem| CBuildError { module: spec.name.clone(), problem };
    check_spec(spec).map_err(fail)?;
    if LUAJIT_HEADERS.get_file("lua.h").is_none() {
        return Err(fail(Problem::NoLuaHeaders));
    }
    let work = Work::new().map_err(fail)?;
    let include = work.dir.path().join("include");
    write_headers(&include).map_err(fail)?;
    let include = include.to_string_lossy().into_owned();
    let tool = compiler(spec, &work, true).map_err(fail)?;
    let mut warnings = String::new();
    let objects = compile_objects(spec, &work, &tool, &[format!("-I{include}")], &mut warnings)
        .map_err(fail)?;
    let so = work.dir.path().join("module.so");
    let mut link = tool.to_command();
    link.current_dir(root_dir(spec)).arg("-shared").arg("-o").arg(&so).args(&objects);
    for dir in &spec.libdirs {
        let abs = spec.root.join(dir);
        link.arg(format!("-L{}", dir.display()));
        link.arg(format!("-Wl,-rpath,{}", abs.display()));
    }
    for lib in &spec.libraries {
        link.arg(format!("-l{lib}"));
    }
    // No build id (a hash of the rest, but not wanted in a reproducible artefact either way),
    // no symbol table: the loader needs only the dynamic symbols.
    link.args(["-Wl,--build-id=none", "-s"]);
    let out = run(&mut link, spec, &work).map_err(fail)?;
    if !out.ok {
        return Err(fail(Problem::Link(out.text)));
    }
    append(&mut warnings, &out.text);
    let bytes = std::fs::read(&so).map_err(|e| fail(io("reading the linked library", e)))?;
    let symbol = bundle_runtime::luaopen_symbol(spec.name.as_bytes());
    match native::check(&bytes, machine, Some(&symbol)) {
        Ok(_) => {}
        Err(NativeError::NoSymbol(s)) => return Err(fail(Problem::NoLuaopen(s))),
        Err(e) => return Err(fail(Problem::Check(e))),
    }
    Ok(Built { name: spec.name.clone(), bytes, display: display_of(spec), warnings })
}

/// Compiles `spec` into a static archive for `--emit-c` (`--c-lib`), against the system's
/// LuaJIT headers (`pkg-config --cflags luajit`): the C file links that LuaJIT.
pub fn compile_static(spec: &CModule) -> Result<BuiltStatic, CBuildError> {
    let fail = |problem| CBuildError { module: spec.name.clone(), problem };
    check_spec(spec).map_err(fail)?;
    let pkg = Command::new("pkg-config")
        .args(["--cflags", "luajit"])
        .output()
        .map_err(|e| fail(Problem::NoSystemLuaJit(format!("running pkg-config: {e}"))))?;
    if !pkg.status.success() {
        let why = String::from_utf8_lossy(&pkg.stderr).trim().to_owned();
        return Err(fail(Problem::NoSystemLuaJit(format!("pkg-config luajit: {why}"))));
    }
    let lua_flags: Vec<String> =
        String::from_utf8_lossy(&pkg.stdout).split_whitespace().map(str::to_owned).collect();
    let work = Work::new().map_err(fail)?;
    let tool = compiler(spec, &work, false).map_err(fail)?;
    let mut warnings = String::new();
    let objects = compile_objects(spec, &work, &tool, &lua_flags, &mut warnings).map_err(fail)?;
    let symbol = bundle_runtime::luaopen_symbol(spec.name.as_bytes());
    let mut defined = false;
    for object in &objects {
        let bytes = std::fs::read(object).map_err(|e| fail(io("reading an object file", e)))?;
        defined |= defines_symbol(&bytes, &symbol);
    }
    if !defined {
        return Err(fail(Problem::NoLuaopen(String::from_utf8_lossy(&symbol).into_owned())));
    }
    let archive = work.dir.path().join("module.a");
    let mut ar = archiver(&work).map_err(fail)?;
    // c: create, r: insert, s: symbol index, D: deterministic (zero dates, uids and modes).
    ar.arg("crsD").arg(&archive).args(&objects);
    let out = run(&mut ar, spec, &work).map_err(fail)?;
    if !out.ok {
        return Err(fail(Problem::Archive(out.text)));
    }
    let bytes = std::fs::read(&archive).map_err(|e| fail(io("reading the archive", e)))?;
    let stem = String::from_utf8_lossy(&symbol["luaopen_".len()..]).into_owned();
    Ok(BuiltStatic {
        name: spec.name.clone(),
        archive: bytes,
        file_name: format!("lib{stem}.a"),
        display: display_of(spec),
        warnings,
    })
}

/// A temporary directory for one build, and the text it stands for in what is printed.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Result<Self, Problem> {
        let dir = tempfile::Builder::new()
            .prefix("bundle-cc-")
            .tempdir()
            .map_err(|e| io("creating a temporary directory", e))?;
        std::fs::create_dir(dir.path().join("obj"))
            .map_err(|e| io("creating a temporary directory", e))?;
        Ok(Work { dir })
    }
}

/// Adds a tool's `text` to `warnings`, one tool's output per line block.
fn append(warnings: &mut String, text: &str) {
    if !text.is_empty() {
        if !warnings.is_empty() {
            warnings.push('\n');
        }
        warnings.push_str(text);
    }
}

fn io(what: &str, source: std::io::Error) -> Problem {
    Problem::Io { what: what.to_owned(), source }
}

/// Checks what the compiler would otherwise report less clearly.
fn check_spec(spec: &CModule) -> Result<(), Problem> {
    if spec.sources.is_empty() {
        return Err(Problem::NoSources);
    }
    for source in &spec.sources {
        if !spec.root.join(source).is_file() {
            return Err(Problem::MissingSource(shown(&spec.root, source)));
        }
    }
    for dir in &spec.incdirs {
        if !spec.root.join(dir).is_dir() {
            return Err(Problem::MissingIncdir(shown(&spec.root, dir)));
        }
    }
    for dir in &spec.libdirs {
        if !spec.root.join(dir).is_dir() {
            return Err(Problem::MissingLibdir(shown(&spec.root, dir)));
        }
    }
    for define in &spec.defines {
        parse_define(define)?;
    }
    for lib in &spec.libraries {
        if lib.is_empty() || lib.starts_with('-') || lib.contains(char::is_whitespace) {
            return Err(Problem::BadLibrary(lib.clone()));
        }
    }
    Ok(())
}

/// `NAME` or `NAME=VALUE` → (NAME, VALUE).
fn parse_define(define: &str) -> Result<(&str, Option<&str>), Problem> {
    let (name, value) = match define.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (define, None),
    };
    let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        return Err(Problem::BadDefine(define.to_owned()));
    }
    Ok((name, value))
}

/// `path` as the rockspec gives it, or relative to the root when it is an absolute path under
/// it.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// The directory the compiler runs in: the root (`.` when it is empty).
fn root_dir(spec: &CModule) -> &Path {
    if spec.root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &spec.root
    }
}

fn display_of(spec: &CModule) -> String {
    spec.sources.first().map(|s| shown(&spec.root, s)).unwrap_or_default()
}

/// Writes the embedded LuaJIT headers to `dir`.
fn write_headers(dir: &Path) -> Result<(), Problem> {
    std::fs::create_dir_all(dir).map_err(|e| io("writing LuaJIT's headers", e))?;
    for file in LUAJIT_HEADERS.files() {
        let name = file.path().file_name().unwrap_or(file.path().as_os_str());
        std::fs::write(dir.join(name), file.contents())
            .map_err(|e| io("writing LuaJIT's headers", e))?;
    }
    Ok(())
}

/// A `cc::Build` for this machine that prints nothing for cargo and reads nothing of cargo's
/// environment (this is not a build script): `CC` and `CFLAGS` still count.
fn base_build(work: &Work) -> cc::Build {
    let triple = host_triple();
    let mut build = cc::Build::new();
    build
        .cargo_metadata(false)
        .cargo_warnings(false)
        .cargo_output(false)
        .emit_rerun_if_env_changed(false)
        .inherit_rustflags(false)
        .inherit_trim_paths(false)
        .target(&triple)
        .host(&triple)
        .out_dir(work.dir.path());
    build
}

/// This machine's target triple, as `cc` names it: the compiler it finds is this machine's.
fn host_triple() -> String {
    let env = if cfg!(target_env = "musl") { "musl" } else { "gnu" };
    let arch = match std::env::consts::ARCH {
        "x86" => "i686",
        other => other,
    };
    format!("{arch}-unknown-linux-{env}")
}

/// The compiler with the module's flags (`-O2`, no debug information, the defines), the
/// reproducibility flags, PIC when `pic`.
fn compiler(spec: &CModule, work: &Work, pic: bool) -> Result<cc::Tool, Problem> {
    let mut build = base_build(work);
    build.opt_level(2).debug(false).pic(pic).warnings(false);
    for define in &spec.defines {
        let (name, value) = parse_define(define)?;
        build.define(name, value);
    }
    // `cc` names a compiler without running it: one that does not exist is reported by `run`.
    build.try_get_compiler().map_err(|e| Problem::NoCompiler(e.to_string()))
}

fn archiver(work: &Work) -> Result<Command, Problem> {
    base_build(work).try_get_archiver().map_err(|e| Problem::NoCompiler(e.to_string()))
}

/// Flags that keep the build's own paths, dates and tool versions out of the output, for
/// GCC and Clang (other compilers get none): the temporary directory and the root mapped away
/// in `__FILE__` and anything else that records a path (`-ffile-prefix-map`), no compiler
/// version in `.comment` (`-fno-ident`), a fixed seed for GCC's generated names
/// (`-frandom-seed`), uncoloured diagnostics. `SOURCE_DATE_EPOCH` (see [`run`]) fixes
/// `__DATE__` and `__TIME__`.
fn reproducibility_flags(tool: &cc::Tool, spec: &CModule, work: &Work) -> Vec<String> {
    if !tool.is_like_gnu() && !tool.is_like_clang() {
        return Vec::new();
    }
    let mut flags = vec![
        format!("-ffile-prefix-map={}=/bundle", work.dir.path().display()),
        "-fno-ident".to_owned(),
        "-fdiagnostics-color=never".to_owned(),
    ];
    if spec.root.is_absolute() {
        flags.push(format!("-ffile-prefix-map={}=.", spec.root.display()));
    }
    if tool.is_like_gnu() {
        flags.push(format!("-frandom-seed={}", spec.name));
    }
    flags
}

/// Compiles each source to `obj/<stem>.o` (deduplicated by index), in the root directory, with
/// `lua_flags` (the Lua headers' `-I`) before the module's include directories.
fn compile_objects(
    spec: &CModule,
    work: &Work,
    tool: &cc::Tool,
    lua_flags: &[String],
    warnings: &mut String,
) -> Result<Vec<PathBuf>, Problem> {
    let repro = reproducibility_flags(tool, spec, work);
    let mut objects: Vec<PathBuf> = Vec::new();
    for (i, source) in spec.sources.iter().enumerate() {
        let stem = source.file_stem().map_or("source".into(), |s| s.to_string_lossy());
        let mut object = work.dir.path().join("obj").join(format!("{stem}.o"));
        if objects.contains(&object) {
            object = work.dir.path().join("obj").join(format!("{stem}-{i}.o"));
        }
        let mut cmd = tool.to_command();
        cmd.current_dir(root_dir(spec)).args(&repro).args(lua_flags);
        for dir in &spec.incdirs {
            cmd.arg(format!("-I{}", dir.display()));
        }
        cmd.arg("-c").arg(source).arg("-o").arg(&object);
        let out = run(&mut cmd, spec, work)?;
        if !out.ok {
            return Err(Problem::Compile {
                file: shown(&spec.root, source),
                diagnostics: out.text,
            });
        }
        append(warnings, &out.text);
        objects.push(object);
    }
    Ok(objects)
}

/// What a tool printed (stdout then stderr, paths mapped by [`map_paths`]) and whether it
/// succeeded.
struct Output {
    ok: bool,
    text: String,
}

/// Runs `cmd` with `SOURCE_DATE_EPOCH` fixed (unless the caller's environment sets it: the
/// reproducible-builds.org convention), so that `__DATE__` and `__TIME__` do not change.
fn run(cmd: &mut Command, spec: &CModule, work: &Work) -> Result<Output, Problem> {
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        cmd.env("SOURCE_DATE_EPOCH", "0");
    }
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.output().map_err(|e| Problem::NoCompiler(format!("running {tool}: {e}")))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let mut text = map_paths(&text, &spec.root, work.dir.path()).trim_end().to_owned();
    if !out.status.success() && text.trim().is_empty() {
        text = format!("{tool} failed ({}) and printed nothing", out.status);
    }
    Ok(Output { ok: out.status.success(), text })
}

/// `text` with the temporary directory's headers shown as `<LuaJIT>/lua.h`, its other files
/// by their names, and the root's absolute path as relative paths.
fn map_paths(text: &str, root: &Path, temp: &Path) -> String {
    let temp = temp.to_string_lossy();
    let root = root.to_string_lossy();
    let mut text = text
        .replace(&format!("{temp}/include/"), "<LuaJIT>/")
        .replace(&format!("{temp}/obj/"), "")
        .replace(&format!("{temp}/"), "");
    // Only an absolute root: a relative one is how the compiler already prints the paths.
    if root.starts_with('/') && root != "/" {
        text = text.replace(&format!("{}/", root.trim_end_matches('/')), "");
    }
    text
}

/// Whether the relocatable object `bytes` defines global symbol `symbol`.
fn defines_symbol(bytes: &[u8], symbol: &[u8]) -> bool {
    use object::{Object, ObjectSymbol};
    let Ok(file) = object::File::parse(bytes) else { return false };
    file.symbols()
        .any(|s| s.is_definition() && s.is_global() && s.name_bytes().is_ok_and(|n| n == symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defines_are_names_with_optional_values() {
        assert_eq!(parse_define("X").unwrap(), ("X", None));
        assert_eq!(parse_define("_V2=\"1.0\"").unwrap(), ("_V2", Some("\"1.0\"")));
        assert_eq!(parse_define("A=").unwrap(), ("A", Some("")));
        for bad in ["", "=1", "2X", "A B", "-DX"] {
            assert!(matches!(parse_define(bad), Err(Problem::BadDefine(_))), "{bad}");
        }
    }

    #[test]
    fn printed_paths_leave_the_temporary_directory_out() {
        let text = "In file included from /tmp/bundle-cc-x/include/lauxlib.h:12,\n\
                    /home/me/proj/src/a.c:3:1: error: x\n\
                    /usr/bin/ld: /tmp/bundle-cc-x/obj/a.o: in function `f'\n";
        assert_eq!(
            map_paths(text, Path::new("/home/me/proj"), Path::new("/tmp/bundle-cc-x")),
            "In file included from <LuaJIT>/lauxlib.h:12,\nsrc/a.c:3:1: error: x\n\
             /usr/bin/ld: a.o: in function `f'\n"
        );
    }

    #[test]
    fn spec_problems_are_found_before_compiling() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.c"), "").unwrap();
        let base = CModule {
            name: "m".into(),
            root: dir.path().to_path_buf(),
            sources: vec!["a.c".into()],
            ..CModule::default()
        };
        let err = |spec: CModule| check_spec(&spec).unwrap_err().to_string();
        assert_eq!(err(CModule { sources: vec![], ..base.clone() }), "the module has no sources");
        assert_eq!(
            err(CModule { sources: vec!["b.c".into()], ..base.clone() }),
            "source file b.c not found"
        );
        assert_eq!(
            err(CModule { incdirs: vec!["inc".into()], ..base.clone() }),
            "include directory inc (incdirs) does not exist"
        );
        assert_eq!(
            err(CModule { libdirs: vec![dir.path().join("lib")], ..base.clone() }),
            "library directory lib (libdirs) does not exist"
        );
        assert!(err(CModule { libraries: vec!["-lz".into()], ..base.clone() }).contains("-lz"));
        assert!(check_spec(&base).is_ok());
    }
}
