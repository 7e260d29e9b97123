//! What the output is built for: the stub it starts from and how Lua is stored in it (the
//! bytecode flavour of that stub's LuaJIT). Plain data, importing nothing of the pipeline.

use std::borrow::Cow;
use std::path::PathBuf;

/// The machine the output runs on, as one build sees it: the stub it starts from (read and
/// checked once, by `stub::target`) and the ELF machine native code must be built for.
#[derive(Debug, Clone)]
pub struct Target {
    pub stub: Cow<'static, [u8]>,
    /// `e_machine` of the stub.
    pub machine: u16,
}

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
