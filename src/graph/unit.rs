//! The units of a program and how they are needed: plain data shared by the graph stage, which
//! makes them, and the compile and pack stages, which consume them. Imports only the scanner's
//! types.

use std::path::PathBuf;

use crate::graph::scan::{self, Site};

/// Why a unit is in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Main,
    /// The script of entry point `--entry NAME=FILE` (its unit is named `/NAME`).
    Entry(String),
    /// `-m NAME=FILE` or `-m NAME`.
    Explicit,
    /// `-m 'prefix.*'`.
    Glob(String),
    /// `-l NAME`.
    Preload,
    /// Shipped with the interpreter (`jit.*` tools for `-j` and `-b`), or needed by a runtime
    /// module under a computed name.
    Runtime,
    /// Loaded in a `--trace` run, or listed in a `--modules-from` file.
    Traced,
    /// Found by a require in unit `by`, at `line`.
    Required {
        by: usize,
        line: u32,
    },
}

/// What a unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    Lua,
    /// A C module (shared object), packed as is.
    Native,
}

/// A Lua file or C module to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub kind: UnitKind,
    /// For a native module, the packed libraries it needs.
    pub needs: Vec<String>,
    /// Module name; `None` for the main script, `/NAME` for entry point NAME's script.
    pub name: Option<String>,
    /// The file name for messages: as given, or relative to the current directory.
    pub display: String,
    /// Canonical path of the file read.
    pub path: PathBuf,
    /// Chunk name for `luaL_loadbuffer`: what `luajit main.lua` would show, as bytes (file
    /// names need not be UTF-8).
    pub chunkname: Vec<u8>,
    pub source: Vec<u8>,
    pub origin: Origin,
    /// The require sites found in it.
    pub sites: Vec<Site>,
    /// For an explicit `-m NAME=FILE`: the file discovery would have chosen instead, if different.
    pub overrides: Option<String>,
    /// Shipped by the runtime (src/base/runtime_lua.rs), not read from a file: `path` is empty.
    pub runtime: bool,
    /// For a C module whose code is in a library another unit packs (Lua's all-in-one loader:
    /// `_cqueues.socket` from `_cqueues.so`): that unit's module name. `source` is then empty.
    pub shares: Option<String>,
    /// How early the program may need it (set once the graph is complete).
    pub when: When,
    /// The scanner's complaint, for a Lua file it could not tokenize (its sites are unknown).
    pub syntax: Option<scan::ScanError>,
}

impl Unit {
    /// A Lua chunk the runtime or the bundler ships itself (not read from a file): the
    /// interpreter, the `--trace` recorder.
    pub fn shipped(name: Option<String>, display: &str, chunkname: &str, source: Vec<u8>) -> Unit {
        Unit {
            kind: UnitKind::Lua,
            needs: Vec::new(),
            name,
            display: display.to_owned(),
            path: PathBuf::new(),
            chunkname: chunkname.as_bytes().to_vec(),
            source,
            origin: Origin::Runtime,
            sites: Vec::new(),
            overrides: None,
            runtime: true,
            shares: None,
            when: When::Runtime,
            syntax: None,
        }
    }

    pub fn is_main(&self) -> bool {
        self.name.is_none()
    }

    /// For an entry point's script, the entry's name.
    pub fn entry(&self) -> Option<&str> {
        match &self.origin {
            Origin::Entry(name) => Some(name),
            _ => None,
        }
    }

    /// The name for tables: the module name, or `(main)`.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("(main)")
    }
}

/// How a require runs, as the scanner saw it, or how the graph came by a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// At the top level of the requiring file, unconditionally.
    Plain,
    /// In a branch, a loop body or after `and`/`or`.
    Conditional,
    /// Inside a function.
    Lazy,
    /// Under `pcall`/`xpcall`.
    Optional,
    /// Under the literal prefix of a computed name (`require("p." .. x)`).
    Inferred,
}

impl From<scan::SiteKind> for EdgeKind {
    fn from(k: scan::SiteKind) -> Self {
        match k {
            scan::SiteKind::Plain => EdgeKind::Plain,
            scan::SiteKind::Conditional => EdgeKind::Conditional,
            scan::SiteKind::Lazy => EdgeKind::Lazy,
            scan::SiteKind::Optional => EdgeKind::Optional,
        }
    }
}

impl std::fmt::Display for EdgeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EdgeKind::Plain => "plain",
            EdgeKind::Conditional => "conditional",
            EdgeKind::Lazy => "lazy",
            EdgeKind::Optional => "optional",
            EdgeKind::Inferred => "inferred",
        })
    }
}

/// How early a program may need a module, weakest first: the strongest chain of requires that
/// reaches it decides, and a chain is as weak as its weakest edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum When {
    /// Shipped with the interpreter (`jit.*` tools).
    Runtime,
    /// Only under the literal prefix of a computed name.
    #[default]
    Inferred,
    /// Loaded in a `--trace` run (or listed in `--modules-from`).
    Traced,
    /// Only under `pcall`: the program copes without it.
    Optional,
    /// Only inside functions, which may never be called.
    Lazy,
    /// Only in branches or loop bodies that may not run.
    Conditional,
    /// Named with `-m`: packed on request, loaded if the program asks.
    Explicit,
    /// A chain of plain requires from the main script or a preload: luajit loads it at start.
    LoadTime,
}

impl When {
    /// How strong a chain ending with an edge of `kind` from a module needed `self` is.
    pub fn through(self, kind: EdgeKind) -> When {
        let edge = match kind {
            EdgeKind::Plain => return self,
            EdgeKind::Conditional => When::Conditional,
            EdgeKind::Lazy => When::Lazy,
            EdgeKind::Optional => When::Optional,
            EdgeKind::Inferred => When::Inferred,
        };
        self.min(edge)
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            When::Runtime => "runtime",
            When::Inferred => "inferred",
            When::Traced => "traced",
            When::Optional => "optional",
            When::Lazy => "lazy",
            When::Conditional => "conditional",
            When::Explicit => "explicit",
            When::LoadTime => "load-time",
        })
    }
}
