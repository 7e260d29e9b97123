//! Compiles Lua units to LuaJIT bytecode with the same vendored LuaJIT the stub runs, so the
//! bytecode always matches its loader. `string.dump(f, "d")` makes the output deterministic;
//! `"sd"` also strips debug info. Syntax errors surface here, as `file:line: message`, before
//! anything is written.

use bundle_runtime::format::Kind;
use mlua::{Function, Lua};

use crate::base::target::Store;
use crate::graph::unit::Unit;

/// A unit ready for packing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    pub name: Option<String>,
    /// As bytes: file names need not be UTF-8.
    pub chunkname: Vec<u8>,
    pub kind: Kind,
    pub data: Vec<u8>,
    /// For a module luajit would not load at start whose source the parser rejects: the error.
    /// The source is then stored as is, so that loading it raises luajit's own message.
    pub rejected: Option<CompileError>,
    /// For a C module whose code is in another unit's library: that unit's module name.
    pub shares: Option<String>,
}

/// Why a unit could not be compiled.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CompileError {
    #[error("{display}:{line}: {message}")]
    Syntax { display: String, line: u32, message: String },
    #[error("{display}: is precompiled LuaJIT bytecode; bundle needs the Lua source")]
    Precompiled { display: String },
    #[error("{display}: {message}")]
    Other { display: String, message: String },
}

/// LuaJIT's `lj_debug_shortname` for `@` chunk names (LUA_IDSIZE = 60): how the chunk name
/// appears at the start of an error message.
pub fn chunk_id(chunkname: &[u8]) -> String {
    const LUA_IDSIZE: usize = 60;
    let Some(bytes) = chunkname.strip_prefix(b"@") else {
        return String::from_utf8_lossy(chunkname).into_owned();
    };
    if bytes.len() >= LUA_IDSIZE {
        let tail = &bytes[bytes.len() - (LUA_IDSIZE - 4)..];
        format!("...{}", String::from_utf8_lossy(tail))
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Splits LuaJIT's `chunkid:line: message` into line and message.
fn parse_syntax_error(unit: &Unit, raw: &str) -> CompileError {
    let id = chunk_id(&unit.chunkname);
    let parsed = raw.strip_prefix(id.as_str()).and_then(|r| r.strip_prefix(':')).and_then(|r| {
        let (line, message) = r.split_once(": ")?;
        Some((line.parse::<u32>().ok()?, message))
    });
    match parsed {
        Some((line, message)) => CompileError::Syntax {
            display: unit.display.clone(),
            line,
            message: message.to_owned(),
        },
        None => CompileError::Other { display: unit.display.clone(), message: raw.to_owned() },
    }
}

/// One LuaJIT state that compiles many units.
pub struct Compiler {
    lua: Lua,
    /// Lua's own `load`, which takes the chunk name as bytes (a file name need not be UTF-8).
    load: Function,
    dump: Function,
}

impl Compiler {
    pub fn new() -> Result<Self, CompileError> {
        let internal = |e: mlua::Error| CompileError::Other {
            display: "bundle internal error".into(),
            message: e.to_string(),
        };
        // Only source is ever loaded (ChunkMode::Text), so the safe constructor suffices.
        let lua = Lua::new();
        let string: mlua::Table = lua.globals().get("string").map_err(internal)?;
        let dump = string.get("dump").map_err(internal)?;
        let load = lua.globals().get("load").map_err(internal)?;
        Ok(Compiler { lua, load, dump })
    }

    /// Compiles (or, for [`Store::Source`], checks) one unit; a native module passes as is.
    pub fn compile(&self, unit: &Unit, store: Store) -> Result<Compiled, CompileError> {
        if unit.kind == crate::graph::unit::UnitKind::Native {
            return Ok(Compiled {
                name: unit.name.clone(),
                chunkname: unit.chunkname.clone(),
                kind: Kind::Native,
                data: unit.source.clone(),
                rejected: None,
                shares: unit.shares.clone(),
            });
        }
        let source = skip_bom(&unit.source);
        if source.first() == Some(&0x1b) {
            return Err(CompileError::Precompiled { display: unit.display.clone() });
        }
        let other = |e: mlua::Error| CompileError::Other {
            display: unit.display.clone(),
            message: e.to_string(),
        };
        // load(source, chunkname, "t"): text only, as LuaJIT's lexer reads it (BOM and `#!`
        // line skipped), the chunk name's bytes kept as they are.
        let source = self.lua.create_string(&unit.source).map_err(other)?;
        let name = self.lua.create_string(&unit.chunkname).map_err(other)?;
        let (function, message): (Option<Function>, Option<mlua::LuaString>) =
            self.load.call((source, name, "t")).map_err(other)?;
        let function = match function {
            Some(f) => f,
            None => {
                let message = message.map(|m| m.to_string_lossy()).unwrap_or_default();
                return Err(parse_syntax_error(unit, &message));
            }
        };
        let (kind, data) = match store {
            Store::Source => (Kind::LuaSource, unit.source.clone()),
            Store::Bytecode { strip } => {
                let mode = if strip { "sd" } else { "d" };
                let bytes: mlua::LuaString = self.dump.call((function, mode)).map_err(|e| {
                    CompileError::Other { display: unit.display.clone(), message: e.to_string() }
                })?;
                (Kind::LuaBytecode, bytes.as_bytes().to_vec())
            }
        };
        Ok(Compiled {
            name: unit.name.clone(),
            chunkname: unit.chunkname.clone(),
            kind,
            data,
            rejected: None,
            shares: None,
        })
    }

    /// [`Compiler::compile`], except that with `lenient`, a syntax error in a module that luajit
    /// would not load at start (and that was not named with `-m`) is not fatal: the module is
    /// stored as source, so that loading it raises luajit's own error. The bundler never
    /// refuses a program that luajit runs.
    pub fn compile_lenient(
        &self,
        unit: &Unit,
        store: Store,
        lenient: bool,
    ) -> Result<Compiled, CompileError> {
        match self.compile(unit, store) {
            Err(e @ CompileError::Syntax { .. })
                if lenient && unit.when < crate::graph::unit::When::Explicit =>
            {
                Ok(Compiled {
                    name: unit.name.clone(),
                    chunkname: unit.chunkname.clone(),
                    kind: Kind::LuaSource,
                    data: unit.source.clone(),
                    rejected: Some(e),
                    shares: None,
                })
            }
            other => other,
        }
    }
}

/// Warnings for the modules [`Compiler::compile_lenient`] stored as source after a syntax
/// error (the scanner has already warned about those it could not tokenize itself).
pub fn fallbacks(units: &[Unit], compiled: &[Compiled]) -> Vec<crate::base::diag::Diagnostic> {
    units
        .iter()
        .zip(compiled)
        .filter(|(u, _)| u.syntax.is_none())
        .filter_map(|(u, c)| {
            let e = c.rejected.as_ref()?;
            Some(
                crate::base::diag::Diagnostic::warning(format!(
                    "{e} (module '{}', needed only {})",
                    u.label(),
                    u.when
                ))
                .note("luajit raises this error when the module is loaded; it is bundled as source, so the program fails the same way at that point"),
            )
        })
        .collect()
}

/// The syntax errors that stop the build: in a module luajit loads at start (or named with
/// `-m`), or in any module under `--strict` (`lenient` false). The scanner found them; the real
/// parser gives the message, as luajit would print it.
pub fn check_syntax(units: &[Unit], lenient: bool) -> Result<(), CompileError> {
    let fatal = |u: &'_ Unit| !lenient || u.when >= crate::graph::unit::When::Explicit;
    let first = units.iter().find_map(|u| u.syntax.as_ref().filter(|_| fatal(u)).map(|e| (u, e)));
    let Some((unit, err)) = first else { return Ok(()) };
    Compiler::new()?.compile(unit, Store::Source)?;
    // The lexer rejected what the parser accepts: the lexer's message, with its line.
    Err(CompileError::Syntax {
        display: unit.display.clone(),
        line: err.line,
        message: err.message.clone(),
    })
}

fn skip_bom(s: &[u8]) -> &[u8] {
    s.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(s)
}

/// Compiles every unit, on as many threads as the machine has cores (one LuaJIT state each).
/// The result keeps the order of `units`; the first error in that order is reported.
pub fn compile_all(
    units: &[Unit],
    store: Store,
    lenient: bool,
) -> Result<Vec<Compiled>, CompileError> {
    let threads =
        std::thread::available_parallelism().map_or(1, |n| n.get()).min(units.len().max(1));
    // Tiny programs are not worth a thread.
    let total: usize = units.iter().map(|u| u.source.len()).sum();
    if threads == 1 || total < 256 * 1024 {
        let compiler = Compiler::new()?;
        return units.iter().map(|u| compiler.compile_lenient(u, store, lenient)).collect();
    }
    let chunk = units.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = units
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let compiler = Compiler::new()?;
                    part.iter()
                        .map(|u| compiler.compile_lenient(u, store, lenient))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(units.len());
        for h in handles {
            let part = h.join().map_err(|_| CompileError::Other {
                display: "bundle internal error".into(),
                message: "a compiler thread panicked".into(),
            })??;
            out.extend(part);
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(src: &str) -> Unit {
        Unit {
            name: Some("m".into()),
            display: "lib/m.lua".into(),
            path: "/app/lib/m.lua".into(),
            chunkname: b"@./lib/m.lua".to_vec(),
            source: src.as_bytes().to_vec(),
            origin: crate::graph::unit::Origin::Explicit,
            runtime: false,
            kind: crate::graph::unit::UnitKind::Lua,
            needs: Vec::new(),
            sites: Vec::new(),
            overrides: None,
            shares: None,
            when: crate::graph::unit::When::Explicit,
            syntax: None,
        }
    }

    #[test]
    fn bytecode_is_deterministic_and_loads() {
        let c = Compiler::new().unwrap();
        let src = "local t = {a=1, b=2, c={x=1,y=2}, 'z'}\nreturn function() return t end\n";
        let a = c.compile(&unit(src), Store::Bytecode { strip: false }).unwrap();
        let b =
            Compiler::new().unwrap().compile(&unit(src), Store::Bytecode { strip: false }).unwrap();
        assert_eq!(a.data, b.data);
        assert_eq!(a.kind, Kind::LuaBytecode);
        assert_eq!(&a.data[..3], b"\x1bLJ");
        let stripped = c.compile(&unit(src), Store::Bytecode { strip: true }).unwrap();
        assert!(stripped.data.len() < a.data.len());
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let c = Compiler::new().unwrap();
        let err = c.compile(&unit("local x = 1\nlocal = 2\n"), Store::Source).unwrap_err();
        assert_eq!(
            err,
            CompileError::Syntax {
                display: "lib/m.lua".into(),
                line: 2,
                message: "'<name>' expected near '='".into()
            }
        );
        assert_eq!(err.to_string(), "lib/m.lua:2: '<name>' expected near '='");
    }

    #[test]
    fn long_chunk_names_are_parsed_too() {
        let mut u = unit("x = = 1");
        u.chunkname = format!("@./{}/m.lua", "d".repeat(80)).into_bytes();
        let err = Compiler::new().unwrap().compile(&u, Store::Source).unwrap_err();
        assert!(matches!(err, CompileError::Syntax { line: 1, .. }), "{err:?}");
    }

    #[test]
    fn precompiled_input_is_refused() {
        let err = Compiler::new().unwrap().compile(&unit("\x1bLJ\x02"), Store::Source).unwrap_err();
        assert!(matches!(err, CompileError::Precompiled { .. }));
    }

    #[test]
    fn shebang_and_bom_keep_line_numbers() {
        let c = Compiler::new().unwrap();
        for src in ["#!/usr/bin/env luajit\nlocal = 1", "\u{feff}#!/bin/lua\nlocal = 1"] {
            let err = c.compile(&unit(src), Store::Source).unwrap_err();
            assert!(matches!(err, CompileError::Syntax { line: 2, .. }), "{err:?}");
        }
    }
}
