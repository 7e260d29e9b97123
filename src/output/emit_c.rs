//! `--emit-c`: the program as one C file (cfromlua's output mode): every module as C string
//! literals, the host the stub runs too (`runtime/host/host.c`, with `host.h` in place of its
//! `#include`) and the C back end's payload side (`runtime/host/payload_c.c`). Static C modules
//! (`--c-lib FILE.a|FILE.o`) are found by their `luaopen_*` symbols (read with `object`, no
//! `nm`) and served by the bundle's searcher, as the stub serves its C modules.
//!
//! Literals: C99 guarantees string literals of 4095 characters (after concatenation), so each
//! module is split into parts of at most [`PART`] bytes, each its own array; `lua_load` reads
//! them in sequence through a reader. Bytes outside printable ASCII are written as three-digit
//! octal escapes, `?` as `\?` (no trigraphs): the output compiles warning-free under
//! `-std=c99 -Wall -Wextra -pedantic`. The output depends only on the inputs.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};

use crate::compile::Compiled;
use crate::output::program::Program;

/// The host shared with the stub, and its header.
const HOST_C: &str = include_str!("../../runtime/host/host.c");
const HOST_H: &str = include_str!("../../runtime/host/host.h");
/// The payload side, with a `/* @@DATA@@ */` marker where the tables go.
const PAYLOAD_C: &str = include_str!("../../runtime/host/payload_c.c");
/// Largest part of a module in one literal (C99 guarantees 4095).
pub const PART: usize = 4000;

/// Why no C file was made.
#[derive(Debug, thiserror::Error)]
pub enum EmitCError {
    #[error("{}: {reason}", path.display())]
    CLib { path: PathBuf, reason: String },
    #[error("C module '{0}' is defined by two --c-lib files ({1} and {2})")]
    Duplicate(String, String, String),
    /// `--cc`: compiling the C file failed.
    #[error("--cc: {0}")]
    Cc(String),
    #[error("C module '{name}' ({file}) is a shared object: --emit-c cannot embed it; link its static library with --c-lib")]
    SharedObject { name: String, file: String },
}

/// A static C module: module name, `luaopen_*` symbol, and the file that defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CLib {
    pub name: String,
    pub symbol: String,
    pub file: PathBuf,
}

/// The `luaopen_*` functions defined by an archive or object file: `FILE`, or `NAME=FILE` to
/// choose the module name of its single `luaopen_*` function.
pub fn read_clib(spec: &str) -> Result<Vec<CLib>, EmitCError> {
    let (forced, file) = match spec.split_once('=') {
        Some((name, file)) if !name.contains('/') => (Some(name.to_owned()), PathBuf::from(file)),
        _ => (None, PathBuf::from(spec)),
    };
    let fail = |reason: String| EmitCError::CLib { path: file.clone(), reason };
    let bytes = crate::base::input::read(&file).map_err(|e| fail(e.to_string()))?;
    let mut symbols: Vec<String> = Vec::new();
    if let Ok(archive) = ArchiveFile::parse(&*bytes) {
        for member in archive.members() {
            let member = member.map_err(|e| fail(format!("damaged archive: {e}")))?;
            let data = member.data(&*bytes).map_err(|e| fail(format!("damaged archive: {e}")))?;
            if let Ok(obj) = object::File::parse(data) {
                symbols.extend(luaopen_symbols(&obj));
            }
        }
    } else if let Ok(obj) = object::File::parse(&*bytes) {
        if obj.kind() != object::ObjectKind::Relocatable {
            return Err(fail(
                "not a static archive or an object file (a shared object? use it without --emit-c)"
                    .into(),
            ));
        }
        symbols.extend(luaopen_symbols(&obj));
    } else {
        return Err(fail("not a static archive (.a) or an object file (.o)".into()));
    }
    symbols.sort();
    symbols.dedup();
    if symbols.is_empty() {
        return Err(fail("defines no luaopen_* function".into()));
    }
    match forced {
        Some(name) if symbols.len() == 1 => {
            Ok(vec![CLib { name, symbol: symbols.remove(0), file: file.clone() }])
        }
        Some(_) => Err(fail(format!(
            "defines {} luaopen_* functions; NAME=FILE needs exactly one",
            symbols.len()
        ))),
        None => Ok(symbols
            .into_iter()
            .map(|s| CLib {
                name: s["luaopen_".len()..].replace('_', "."),
                symbol: s,
                file: file.clone(),
            })
            .collect()),
    }
}

/// Defined, global `luaopen_*` symbols that are C functions (C++-mangled names are not).
fn luaopen_symbols(obj: &object::File) -> Vec<String> {
    obj.symbols()
        .filter(|s| s.is_definition() && s.is_global())
        .filter_map(|s| s.name().ok().map(str::to_owned))
        .filter(|n| n.starts_with("luaopen_") && n.len() > "luaopen_".len())
        .collect()
}

/// Reads every `--c-lib` and refuses a module defined twice.
pub fn read_clibs(specs: &[String]) -> Result<Vec<CLib>, EmitCError> {
    let mut all: Vec<CLib> = Vec::new();
    for spec in specs {
        for lib in read_clib(spec)? {
            if let Some(other) = all.iter().find(|o| o.name == lib.name) {
                return Err(EmitCError::Duplicate(
                    lib.name,
                    other.file.display().to_string(),
                    lib.file.display().to_string(),
                ));
            }
            all.push(lib);
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}

/// Writes `bytes` as a C string literal body.
fn escape(out: &mut String, bytes: &[u8]) {
    let mut col = 0;
    out.push('"');
    for &b in bytes {
        if col >= 72 {
            // Adjacent literals concatenate: keep source lines short.
            out.push_str("\"\n  \"");
            col = 0;
        }
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'?' => out.push_str("\\?"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
        col += 1;
    }
    out.push('"');
}

/// A blob: the parts, their lengths, and the initializer naming them.
fn blob(out: &mut String, id: &str, data: &[u8]) -> String {
    let parts: Vec<&[u8]> =
        if data.is_empty() { vec![&[][..]] } else { data.chunks(PART).collect() };
    for (i, part) in parts.iter().enumerate() {
        let _ = write!(out, "static const char {id}_p{i}[] =\n  ");
        escape(out, part);
        out.push_str(";\n");
    }
    let names: Vec<String> = (0..parts.len()).map(|i| format!("{id}_p{i}")).collect();
    let lens: Vec<String> = parts.iter().map(|p| format!("{}u", p.len())).collect();
    let _ = writeln!(out, "static const char *const {id}_parts[] = {{ {} }};", names.join(", "));
    let _ = writeln!(out, "static const size_t {id}_lens[] = {{ {} }};", lens.join(", "));
    format!("{{ {id}_parts, {id}_lens, {}u }}", parts.len())
}

fn c_string(s: &str) -> String {
    c_bytes(s.as_bytes())
}

fn c_bytes(b: &[u8]) -> String {
    let mut out = String::new();
    escape(&mut out, b);
    out
}

/// The C file for `program`, with the static C modules `clibs`, after `header`.
pub fn generate(program: &Program, clibs: &[CLib], header: &str) -> Result<String, EmitCError> {
    let start = &program.start;
    let (preloads, ignore_sigpipe) = (&start.preloads, start.ignore_sigpipe);
    let interpreter = start.interpreter.as_ref().map(|i| (&i.chunk, i.env.as_deref()));
    if let Some(u) = program.units.iter().find(|u| u.kind == bundle_runtime::format::Kind::Native) {
        return Err(EmitCError::SharedObject {
            name: u.name.clone().unwrap_or_default(),
            file: String::from_utf8_lossy(u.chunkname.strip_prefix(b"@").unwrap_or(&u.chunkname))
                .into_owned(),
        });
    }
    let mut data = String::new();
    // Entry points' scripts are modules of the table too, named `/NAME` as in the payload's
    // index (payload_c.c finds them there; its searcher never serves a name with `/`).
    let mut modules: Vec<&Compiled> =
        program.modules().chain(program.entries().map(|(_, u)| u)).collect();
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    let entry = |out: &mut String, id: &str, u: &Compiled| {
        let init = blob(out, id, &u.data);
        let bytecode = u.kind == bundle_runtime::format::Kind::LuaBytecode;
        format!(
            "{{ {}, {}, {}, {init} }}",
            c_string(u.name.as_deref().unwrap_or("")),
            c_bytes(&u.chunkname),
            i32::from(bytecode)
        )
    };
    let mut inits = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        inits.push(entry(&mut data, &format!("bundle_m{i}"), m));
    }
    let main = program.main().map(|m| entry(&mut data, "bundle_main_blob", m));
    let _ = writeln!(data, "\nstatic const bundle_module bundle_modules[] = {{");
    if inits.is_empty() {
        data.push_str(
            "  { \"\", \"\", 0, { NULL, NULL, 0u } } /* unused: C99 has no empty arrays */\n",
        );
    }
    for i in &inits {
        let _ = writeln!(data, "  {i},");
    }
    let _ = writeln!(data, "}};\nstatic const size_t bundle_nmodules = {}u;", inits.len());
    match main {
        Some(m) => {
            let _ = writeln!(data, "static const bundle_module bundle_main_module = {m};");
            data.push_str("static const bundle_module *const bundle_main = &bundle_main_module;\n");
        }
        None => data.push_str("static const bundle_module *const bundle_main = NULL;\n"),
    }
    let quoted: Vec<String> = preloads.iter().map(|p| c_string(p)).collect();
    let _ = writeln!(
        data,
        "static const char *const bundle_preloads[] = {{ {} }};\nstatic const size_t bundle_npreloads = {}u;",
        if quoted.is_empty() { "NULL".to_owned() } else { quoted.join(", ") },
        preloads.len()
    );
    for c in clibs {
        let _ = writeln!(data, "extern int {}(lua_State *L);", c.symbol);
    }
    let mut sorted: Vec<&CLib> = clibs.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let clib_inits: Vec<String> =
        sorted.iter().map(|c| format!("{{ {}, {} }}", c_string(&c.name), c.symbol)).collect();
    let _ = writeln!(
        data,
        "static const bundle_clib bundle_clibs[] = {{ {} }};\nstatic const size_t bundle_nclibs = {}u;",
        if clib_inits.is_empty() { "{ NULL, NULL }".to_owned() } else { clib_inits.join(", ") },
        clibs.len()
    );
    let _ =
        writeln!(data, "static const int bundle_ignore_sigpipe = {};", i32::from(ignore_sigpipe));
    match interpreter {
        Some((chunk, env)) => {
            let init = blob(&mut data, "bundle_interpreter_blob", &chunk.data);
            let _ = writeln!(
                data,
                "static const bundle_blob bundle_interpreter_chunk = {init};\nstatic const bundle_blob *const bundle_interpreter = &bundle_interpreter_chunk;\nstatic const char bundle_interpreter_env[] = {};",
                c_string(env.unwrap_or_default())
            );
        }
        None => data.push_str(
            "static const bundle_blob *const bundle_interpreter = NULL;\nstatic const char bundle_interpreter_env[] = \"\";\n",
        ),
    }
    entry_tables(&mut data, start);
    let assets = &program.files.assets;
    let mut asset_inits = Vec::new();
    for (i, a) in assets.iter().enumerate() {
        let init = blob(&mut data, &format!("bundle_a{i}"), &a.bytes);
        asset_inits.push(format!(
            "{{ {}, 0{:o}u, {}u, {init} }}",
            c_string(&a.mount),
            a.mode & 0o7777,
            a.bytes.len()
        ));
    }
    let _ = writeln!(
        data,
        "static const bundle_asset bundle_assets[] = {{ {} }};\nstatic const size_t bundle_nassets = {}u;",
        if asset_inits.is_empty() {
            "{ \"\", 0u, 0u, { NULL, NULL, 0u } }".to_owned()
        } else {
            asset_inits.join(",\n  ")
        },
        assets.len()
    );
    match &program.files.overlay {
        Some(overlay) => {
            let boot = blob(&mut data, "bundle_assets_boot_blob", &overlay.boot.data);
            let chunk = blob(&mut data, "bundle_assets_overlay_blob", &overlay.chunk.data);
            let _ = writeln!(
                data,
                "static const bundle_blob bundle_assets_boot_chunk = {boot};\nstatic const bundle_blob *const bundle_assets_boot = &bundle_assets_boot_chunk;\nstatic const bundle_blob bundle_assets_overlay_chunk = {chunk};\nstatic const bundle_blob *const bundle_assets_overlay = &bundle_assets_overlay_chunk;"
            );
        }
        None => data.push_str(
            "static const bundle_blob *const bundle_assets_boot = NULL;\nstatic const bundle_blob *const bundle_assets_overlay = NULL;\n",
        ),
    }
    let host = HOST_C.replacen("#include \"host.h\"\n", HOST_H, 1);
    let payload = PAYLOAD_C.replacen("/* @@DATA@@ */", &data, 1);
    Ok(format!("{header}{host}\n{payload}"))
}

/// payload_c.c's tables of how an entry is chosen and started (under `BUNDLE_ENTRY_TABLES`):
/// `bundle_args` (each entry's baked arguments as stored, `""` for the program's) and
/// `bundle_nargs`, `bundle_default_entry`, `bundle_interpreter_entry` (NULL for none) and
/// `bundle_hermetic`.
fn entry_tables(data: &mut String, start: &crate::output::program::Start) {
    data.push_str("#define BUNDLE_ENTRY_TABLES 1\n");
    let mut sets = Vec::new();
    for (i, (entry, args)) in start.args.iter().enumerate() {
        let words = if args.is_empty() {
            "NULL".to_owned()
        } else {
            let quoted: Vec<String> = args.iter().map(|a| c_string(a)).collect();
            let _ = writeln!(
                data,
                "static const char *const bundle_args{i}[] = {{ {} }};",
                quoted.join(", ")
            );
            format!("bundle_args{i}")
        };
        sets.push(format!("{{ {}, {words}, {}u }}", c_string(entry), args.len()));
    }
    let _ = writeln!(
        data,
        "static const bundle_argset bundle_args[] = {{ {} }};\nstatic const size_t bundle_nargs = {}u;",
        if sets.is_empty() { "{ \"\", NULL, 0u }".to_owned() } else { sets.join(", ") },
        sets.len()
    );
    let name = |n: &Option<String>| n.as_deref().map_or("NULL".to_owned(), c_string);
    let _ = writeln!(
        data,
        "static const char *const bundle_default_entry = {};\nstatic const char *const bundle_interpreter_entry = {};\nstatic const int bundle_hermetic = {};",
        name(&start.default_entry),
        name(&start.interpreter_entry),
        i32::from(start.hermetic)
    );
}

/// The link line for `c_file`: the file, the `--c-lib` files, LuaJIT's flags.
pub fn link_line(c_file: &Path, clibs: &[CLib]) -> String {
    let name = c_file.file_name().map_or("app.c".into(), |n| n.to_string_lossy().into_owned());
    let exe = name.strip_suffix(".c").unwrap_or("app");
    let mut files: Vec<String> = clibs.iter().map(|c| c.file.display().to_string()).collect();
    files.dedup();
    let libs: String = files.iter().map(|f| format!(" {f}")).collect();
    format!("cc -std=c99 -O2 {name}{libs} $(pkg-config --cflags --libs luajit) -o {exe}")
}

/// The header comment: how the file was made and how to compile it.
pub fn header(main: &str, c_file: &Path, clibs: &[CLib]) -> String {
    format!(
        "/* Generated by bundle {} from {}: the program as one C file.\n * Compile with:\n *   {}\n * It needs LuaJIT 2.1's headers and library (Debian: libluajit-5.1-dev). */\n\n",
        env!("CARGO_PKG_VERSION"),
        comment_safe(main),
        comment_safe(&link_line(c_file, clibs))
    )
}

/// `text` made safe inside a C block comment: no `*/` to end it early, no line break or other
/// control character (which a file name may hold) to break the comment's layout.
fn comment_safe(text: &str) -> String {
    text.replace("*/", "*\\/").chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The compiler command line for `c_file` → `exe`, with LuaJIT's flags from pkg-config.
pub fn compile(c_file: &Path, exe: &Path, clibs: &[CLib]) -> Result<(), EmitCError> {
    let fail = |m: String| EmitCError::Cc(m);
    let pkg = std::process::Command::new("pkg-config")
        .args(["--cflags", "--libs", "luajit"])
        .output()
        .map_err(|e| {
            fail(format!("pkg-config is needed to find LuaJIT's headers and library: {e}"))
        })?;
    if !pkg.status.success() {
        return Err(fail("no LuaJIT development files found (pkg-config luajit failed): install libluajit-5.1-dev".into()));
    }
    let flags = String::from_utf8_lossy(&pkg.stdout).into_owned();
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .opt_level(2)
        .target(&triple)
        .host(&triple)
        .try_get_compiler()
        .map_err(|e| fail(format!("no C compiler found: {e}")))?;
    let mut cmd = compiler.to_command();
    cmd.arg("-std=c99").arg(c_file);
    let mut files: Vec<&Path> = clibs.iter().map(|c| c.file.as_path()).collect();
    files.dedup();
    cmd.args(files);
    cmd.args(flags.split_whitespace()).arg("-o").arg(exe);
    let out = cmd.output().map_err(|e| fail(format!("running the C compiler: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "the C compiler failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_end_the_header_comment() {
        let h = header("a*/b\nc.lua", Path::new("x*/y.c"), &[]);
        assert_eq!(h.matches("*/").count(), 1, "only the comment's own end: {h}");
        assert!(h.contains("a*\\/b?c.lua"), "{h}");
    }

    #[test]
    fn escapes_are_portable() {
        let mut s = String::new();
        escape(&mut s, b"a\"b\\c?\n\x00\x1b9");
        assert_eq!(s, r#""a\"b\\c\?\012\000\0339""#);
    }

    #[test]
    fn parts_stay_within_c99_limits() {
        let mut s = String::new();
        let init = blob(&mut s, "x", &vec![b'a'; PART * 2 + 1]);
        assert_eq!(init, "{ x_parts, x_lens, 3u }");
        assert!(s.contains("static const size_t x_lens[] = { 4000u, 4000u, 1u };"));
    }
}
