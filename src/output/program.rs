//! The program as every back end receives it: what `compile` made of the graph (the main chunk
//! or the entry points' scripts, the modules, the C modules and the libraries they need) and how
//! it starts (preloads, the interpreter, the SIGPIPE policy, the default entry, baked arguments,
//! hermetic mode). The executable back end packs it into a payload
//! (`pack`); the C back end writes it as literals (`emit_c`). Neither sees the graph or the plan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::compile::Compiled;
use crate::graph::Graph;

/// A shared library that travels with the program because a C module needs it.
#[derive(Debug, Clone)]
pub struct Library {
    /// Its `DT_NEEDED` name (`libssl.so.3`).
    pub name: String,
    /// Where it was found, for the chunk name.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// The interpreter the program carries (runtime/lua/interp.lua, compiled).
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub chunk: Compiled,
    /// `--interpreter-env`: with a main script, the variable that selects the interpreter.
    pub env: Option<String>,
}

/// How the program starts.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// Modules to require before the main chunk (`-l`), in order.
    pub preloads: Vec<String>,
    pub interpreter: Option<Interpreter>,
    /// `--sigpipe ignore`.
    pub ignore_sigpipe: bool,
    /// The entry that runs the interpreter (`--entry NAME=@interpreter`).
    pub interpreter_entry: Option<String>,
    /// The entry run when neither the executable's name nor its first argument names one.
    pub default_entry: Option<String>,
    /// Baked arguments: the entry's name (empty: the program's default) and the words, `...`
    /// marking where the user's arguments go.
    pub args: Vec<(String, Vec<String>)>,
    /// Serve only what the program carries (no filesystem searchers, empty paths).
    pub hermetic: bool,
}

/// The program's embedded files and the overlay that lets it read them.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// Sorted by mount.
    pub assets: Vec<crate::graph::assets::Asset>,
    /// The overlay and its boot, compiled; `None` exactly when there are no assets.
    pub overlay: Option<Overlay>,
}

/// The asset overlay, compiled (docs/ASSETS.md, "How they are stored").
#[derive(Debug, Clone)]
pub struct Overlay {
    /// runtime/lua/assets_boot.lua: what the host runs at start-up, stubs that load `chunk`
    /// on the program's first use of a file.
    pub boot: Compiled,
    /// runtime/lua/assets.lua.
    pub chunk: Compiled,
}

/// One program, ready for a back end.
#[derive(Debug, Clone)]
pub struct Program {
    /// The main chunk (no name) and the modules, in the graph's order.
    pub units: Vec<Compiled>,
    /// The static files (`--asset`).
    pub files: Files,
    pub libraries: Vec<Library>,
    /// Who needs which libraries: a library or C module name, and the library names, in the
    /// order they must be opened.
    pub needs: BTreeMap<String, Vec<String>>,
    pub start: Start,
    /// The bill of materials (`output::bom`), JSON; empty for none.
    pub manifest: Vec<u8>,
}

impl Program {
    /// The program made of `graph`'s units, compiled (`units`, in the graph's order).
    pub fn new(graph: &Graph, units: Vec<Compiled>, files: Files, start: Start) -> Self {
        let mut needs = BTreeMap::new();
        let libraries = graph
            .libraries
            .iter()
            .map(|(name, lib)| {
                if !lib.needs.is_empty() {
                    needs.insert(name.clone(), lib.needs.clone());
                }
                Library { name: name.clone(), path: lib.path.clone(), bytes: lib.bytes.clone() }
            })
            .collect();
        for u in graph.units.iter().filter(|u| !u.needs.is_empty()) {
            needs.insert(u.label().to_owned(), u.needs.clone());
        }
        Program { units, files, libraries, needs, start, manifest: Vec::new() }
    }

    /// The main chunk, if the program has a main script.
    pub fn main(&self) -> Option<&Compiled> {
        self.units.iter().find(|u| u.name.is_none())
    }

    /// The modules (every unit but the main chunk and the entry points' scripts).
    pub fn modules(&self) -> impl Iterator<Item = &Compiled> {
        self.units.iter().filter(|u| u.name.as_deref().is_some_and(|n| entry_name(n).is_none()))
    }

    /// The entry points' scripts, each with its entry's name (`web` for the unit `/web`).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Compiled)> {
        self.units.iter().filter_map(|u| Some((entry_name(u.name.as_deref()?)?, u)))
    }
}

/// The entry's name of a unit named as an entry point (`/web`), which no module name can be.
fn entry_name(unit_name: &str) -> Option<&str> {
    unit_name.strip_prefix(char::from(bundle_runtime::format::ENTRY_PREFIX))
}
