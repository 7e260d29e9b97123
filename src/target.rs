//! What the output is built for: the stub it starts from and how Lua is stored in it (the
//! bytecode flavour of that stub's LuaJIT). Plain data, importing nothing of the pipeline.

use std::path::PathBuf;

/// How Lua units are stored in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// LuaJIT bytecode; `strip` drops debug info (line numbers, local names).
    Bytecode { strip: bool },
    /// The source text, syntax-checked.
    Source,
}

/// Which stub the executable starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubChoice {
    /// The stub built into this `bundle`.
    Embedded,
    /// A stub file given with `--stub`.
    File(PathBuf),
}
