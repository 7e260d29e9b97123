//! The module graph: the transitive closure of `require` from the main script, the `-m` modules
//! and the `-l` preloads, each module read once under each name it is required by, with the
//! provenance of every edge (which file, which line) for diagnostics, `--list` and `why`.
//!
//! Cycles are fine: a name is resolved once, whatever requires it again. Modules the runtime
//! provides are never looked up; excluded ones (`-x`) are left to the filesystem at run time.
//!
//! Whether a missing module stops the build follows what luajit would do. Every edge has a kind
//! ([`EdgeKind`]); a module is *needed at load time* ([`When::LoadTime`]) when a chain of plain
//! (top-level, unconditional) requires reaches it from the main script or a `-l` preload. Only a
//! module needed at load time that cannot be packed is an error, since luajit would fail at start
//! too; any other is a warning saying what happens without it, unless `--strict`. The verdicts
//! are given once the whole graph is known ([`Builder::judge`]), so the order of the requires in
//! the files never matters.
//!
//! A computed name with a literal prefix (`require("plugins." .. x)`) brings in every module
//! under the prefix on the search path, as `-m 'plugins.*'` would (an *inferred* edge). One C
//! library serving several modules (`_cqueues.so` for `_cqueues.socket`, ...) is packed once;
//! the other modules refer to it ([`Unit::shares`]), as Lua's C loaders open it once.

pub mod assets;
pub mod resolve;
pub mod scan;
pub mod trace;
pub mod unit;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::base::diag::{Diagnostic, Snippet};
use crate::base::input::Input;
use crate::base::lua::is_builtin;
use crate::graph::resolve::{Found, NotFound, SearchConfig, SearchPath};
use crate::graph::scan::{Site, Target};
pub use crate::graph::unit::{EdgeKind, Origin, Unit, UnitKind, When};

/// A shared library that native modules need, packed beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Packed libraries it needs itself.
    pub needs: Vec<String>,
    /// The first module (or library) that needed it.
    pub needed_by: String,
}

/// A name required somewhere that is not packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpacked {
    /// Not found anywhere on the search path: every file name tried.
    Missing { tried: Vec<String> },
    /// A C module that cannot be packed (`shown` as found, and why not).
    CModule { shown: String, problem: String },
    /// The search path leads to a directory or a device (`shown`), which luajit cannot load
    /// either; `problem` says which.
    Directory { shown: String, problem: &'static str },
    /// Not on the search path, but the program provides it itself, assigning
    /// `package.preload[name]` in unit `by.0` at line `by.1`.
    Provided { by: (usize, u32) },
    /// Left out with `-x`.
    Excluded,
}

/// One require: unit `from` requires `name` at `line`, through its site number `site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub name: String,
    pub line: u32,
    pub kind: EdgeKind,
    pub site: usize,
}

/// The result of the graph stage.
#[derive(Debug, Default)]
pub struct Graph {
    /// The main script first, then modules in discovery order.
    pub units: Vec<Unit>,
    pub edges: Vec<Edge>,
    /// Names required but not packed, with the first unit and line requiring them.
    pub unpacked: BTreeMap<String, (Unpacked, Option<(usize, u32)>)>,
    /// Shared libraries needed by the native modules, by `DT_NEEDED` name.
    pub libraries: BTreeMap<String, Library>,
    /// Warnings and notes (and errors, when [`Graph::has_errors`]).
    pub diagnostics: Vec<Diagnostic>,
    /// The search path modules were resolved on (the request's, for the target's machine).
    pub search: SearchPath,
    /// For each unit, the edge that gave it its [`When`] (none for roots).
    best_in: Vec<Option<usize>>,
    /// For each name not packed, the strongest way it is asked for.
    asked: BTreeMap<String, When>,
}

impl Graph {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// `main.lua:3 → lib/db.lua:10`: how unit `unit` was reached (by its strongest chain, once
    /// the graph is complete; by discovery before), ending at `file:line` of a site in it.
    pub fn chain(&self, unit: usize, line: Option<u32>) -> String {
        let mut parts = Vec::new();
        if let Some(line) = line {
            parts.push(format!("{}:{line}", self.units[unit].display));
        }
        let mut at = unit;
        let mut guard = 0;
        loop {
            let hop = match self.best_in.get(at).copied().flatten() {
                Some(e) => Some((self.edges[e].from, self.edges[e].line)),
                None => match self.units[at].origin {
                    Origin::Required { by, line } if self.best_in.is_empty() => Some((by, line)),
                    _ => None,
                },
            };
            let Some((by, line)) = hop else { break };
            parts.push(format!("{}:{line}", self.units[by].display));
            at = by;
            guard += 1;
            if guard > self.units.len() {
                break;
            }
        }
        match &self.units[at].origin {
            Origin::Explicit if at != unit || line.is_none() => {
                parts.push(format!("-m {}", self.units[at].label()))
            }
            Origin::Glob(p) => parts.push(format!("-m '{p}'")),
            Origin::Preload => parts.push(format!("-l {}", self.units[at].label())),
            Origin::Traced => parts.push("--trace".to_owned()),
            _ => {}
        }
        parts.reverse();
        parts.join(" → ")
    }

    /// How strongly a name that is not packed is asked for (see [`When`]).
    pub fn asked(&self, name: &str) -> Option<When> {
        self.asked.get(name).copied()
    }

    /// The unit packed under module name `name`.
    pub fn unit(&self, name: &str) -> Option<usize> {
        self.units.iter().position(|u| u.name.as_deref() == Some(name))
    }

    /// Every chain of requires from a root (main script, `-m`, `-l`) to `name` (at most 100).
    pub fn chains_to(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.walk_back(name, name, &mut Vec::new(), &mut out);
        out.sort();
        out
    }

    /// Depth-first from `at` back to the roots, `path` holding the hops walked so far.
    fn walk_back(&self, target: &str, at: &str, path: &mut Vec<String>, out: &mut Vec<String>) {
        const LIMIT: usize = 100;
        if out.len() >= LIMIT {
            return;
        }
        let root = self.units.iter().find(|u| u.name.as_deref() == Some(at)).and_then(|u| match &u
            .origin
        {
            Origin::Explicit => Some(format!("-m {at}")),
            Origin::Glob(p) => Some(format!("-m '{p}'")),
            Origin::Preload => Some(format!("-l {at}")),
            Origin::Runtime => Some("(interpreter)".to_owned()),
            Origin::Traced => Some("--trace".to_owned()),
            _ => None,
        });
        if let Some(root) = root {
            out.push(chain_text(Some(root), path, target));
        }
        for e in self.edges.iter().filter(|e| e.name == at) {
            let from = &self.units[e.from];
            let hop = match e.kind {
                EdgeKind::Plain => format!("{}:{}", from.display, e.line),
                kind => format!("{}:{} ({kind})", from.display, e.line),
            };
            if path.contains(&hop) {
                continue;
            }
            path.push(hop);
            match &from.name {
                None => out.push(chain_text(None, path, target)),
                Some(_) if matches!(from.origin, Origin::Entry(_)) => {
                    out.push(chain_text(None, path, target))
                }
                Some(parent) if !path.is_empty() && parent != target => {
                    self.walk_back(target, parent, path, out)
                }
                Some(_) => {}
            }
            path.pop();
        }
    }
}

fn chain_text(root: Option<String>, path: &[String], target: &str) -> String {
    root.into_iter()
        .chain(path.iter().rev().cloned())
        .chain([target.to_owned()])
        .collect::<Vec<_>>()
        .join(" → ")
}

/// `*` matches any run of characters (dots included); everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// A path for messages: relative to the current directory when below it.
pub fn display_path(path: &Path, cwd: Option<&Path>) -> String {
    match cwd.and_then(|c| path.strip_prefix(c).ok()) {
        Some(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// `path` made absolute and without `.` components, without touching the filesystem (symlinks
/// are kept: what matters here is the name the user would recognise).
fn lexical_absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    abs.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

/// The chunk name of a file given explicitly (`-m NAME=FILE`, the main script): what luajit run
/// from the main script's directory would show — `@main.lua`, `@./lib/util.lua` through the
/// default `./?.lua` template, or the absolute path for a file elsewhere.
pub fn chunkname(root: &Path, path: &Path, is_main: bool) -> Vec<u8> {
    let (prefix, rest): (&[u8], &Path) = match path.strip_prefix(root) {
        Ok(rel) if is_main => (b"@", rel),
        Ok(rel) => (b"@./", rel),
        Err(_) => (b"@", path),
    };
    [prefix, rest.as_os_str().as_bytes()].concat()
}

/// The chunk name of a script luajit runs (the main script, an entry point's): `luajit
/// /usr/bin/tool` names the chunk by the path as given, and so does the bundle when given an
/// absolute path; a relative one is named as luajit run from its directory names it.
pub fn script_chunkname(script: &Input) -> Vec<u8> {
    if Path::new(&script.display).is_absolute() {
        format!("@{}", script.display).into_bytes()
    } else {
        let dir = script.path.parent().unwrap_or(Path::new("/"));
        chunkname(dir, &script.path, true)
    }
}

/// The unit (and payload entry) name of entry point `name`: `/web`, which no module name can
/// be (`bundle_runtime::format::entry_point_name`).
pub fn entry_unit_name(name: &str) -> String {
    String::from_utf8_lossy(&bundle_runtime::format::entry_point_name(name.as_bytes())).into_owned()
}

/// `@` and the bytes of `shown`: the chunk name of a file found on the search path.
fn at(shown: &[u8]) -> Vec<u8> {
    [b"@".as_slice(), shown].concat()
}

/// Why no graph was built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Problems found in the module graph, rendered with their source lines.
    #[error("{} error(s) in the module graph", .0.iter().filter(|d| d.is_error()).count())]
    Diagnostics(Vec<Diagnostic>),
    /// A C module built from source cannot be packed.
    #[error("C module '{name}': {problem}")]
    Built { name: String, problem: String },
}

/// One `-m` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSpec {
    /// `-m NAME=FILE`.
    File { name: String, input: Input },
    /// `-m NAME`: looked up on the search path.
    Name(String),
    /// `-m 'prefix.*'`: every module below the prefix.
    Glob(String),
    /// A C module built from source (a rockspec's): the shared object at `input.path`, shown
    /// (in messages, listings and its chunk name) as `input.display`.
    Native { name: String, input: Input },
}

/// What decides the module graph: the graph stage's whole input, checked by the plan.
#[derive(Debug, Clone)]
pub struct Request {
    /// The main script; `None` for an interpreter, or for a program of entry points.
    pub main: Option<Input>,
    /// The entry points' scripts (`--entry NAME=FILE`), each a root as the main script is:
    /// name and file.
    pub entries: Vec<(String, Input)>,
    /// Whether the output carries the interpreter (which brings its own modules).
    pub interpreter: bool,
    /// Directory of the main script, or of the first entry point's script (the current
    /// directory for an interpreter): modules are looked up from it.
    pub root: PathBuf,
    pub modules: Vec<ModuleSpec>,
    pub preloads: Vec<String>,
    pub excludes: Vec<String>,
    /// Libraries (`DT_NEEDED` names) not to pack.
    pub no_libs: Vec<String>,
    /// The search path, as configured; the target completes it (its multiarch C directory).
    pub search: SearchConfig,
    pub allow_missing: bool,
    /// `--strict`: every missing or unresolvable require is an error.
    pub strict: bool,
    /// Modules a traced run loaded (`--trace`, `--modules-from`): packed like `-m NAME`, but a
    /// missing one is only a warning.
    pub traced: Vec<trace::Traced>,
    /// Modules something other than a file provides (`--c-lib`): never looked up.
    pub provided: Vec<String>,
    /// Whether `jit.*` tools come from the runtime (src/base/runtime_lua.rs), matched to the
    /// stub's VM; not for `--emit-c`, whose program links the system's LuaJIT and uses its tools.
    pub runtime_modules: bool,
}

struct Builder<'p> {
    request: &'p Request,
    /// The machine the output runs on: native code must match it, libraries are found as its
    /// loader would.
    target: &'p crate::base::target::Target,
    graph: Graph,
    by_name: BTreeMap<String, usize>,
    /// Missing names asked for by a root (`-m`, `-l`, a traced module), with how it asked.
    missing_roots: BTreeMap<String, When>,
    /// `modules_under` answers, by package (several sites often share a prefix).
    under: BTreeMap<String, Vec<String>>,
    /// The top-level packages the program requires by literal names: a string that mentions a
    /// module of one of them is taken as a hint ([`Target::Mention`]).
    packages: std::collections::BTreeSet<String>,
    /// Mention sites `(unit, site)`, followed once every unit reached so far has been scanned,
    /// so that the packages they are checked against do not depend on the order of the files.
    mentions: Vec<(usize, usize)>,
    /// Modules the program provides itself (`package.preload[name] = ...`): never missing.
    provided: BTreeMap<String, (usize, u32)>,
    /// The current directory, for display paths (looked up once).
    cwd: Option<PathBuf>,
    /// Units before this index have been scanned ([`Builder::scan_pending`]).
    scanned: usize,
}

/// The root kind of an origin that is not a require.
fn root_when(origin: &Origin) -> Option<When> {
    match origin {
        Origin::Main | Origin::Entry(_) | Origin::Preload => Some(When::LoadTime),
        Origin::Explicit | Origin::Glob(_) => Some(When::Explicit),
        Origin::Runtime => Some(When::Runtime),
        Origin::Traced => Some(When::Traced),
        Origin::Required { .. } => None,
    }
}

/// What happens at run time without a module needed `when`, for the warning's note.
fn consequence(when: When, name: &str) -> String {
    let fails = format!("luajit's \"module '{name}' not found\" error");
    match when {
        When::Optional => {
            "the require is protected by pcall: the program runs without it".to_owned()
        }
        When::Lazy => format!(
            "it is required only inside a function: the program runs, and raises {fails} if that function is called"
        ),
        When::Conditional => format!(
            "it is required only in a branch or loop that may not run: the program runs, and raises {fails} if that code runs"
        ),
        When::Explicit => format!(
            "it is required by a module named with -m, which the program may never load: loading that module raises {fails}"
        ),
        When::Traced => format!(
            "a traced run loaded it, but it cannot be found now: the program raises {fails} where that run loaded it"
        ),
        When::Inferred | When::Runtime | When::LoadTime => {
            format!("the program raises {fails} if it ever requires it")
        }
    }
}

impl Builder<'_> {
    fn read(&self, path: &Path, display: &str) -> Result<Vec<u8>, GraphError> {
        if path.is_dir() {
            return Err(GraphError::Read {
                path: display.into(),
                source: std::io::Error::other("is a directory, expected a Lua file"),
            });
        }
        crate::base::input::read(path)
            .map_err(|source| GraphError::Read { path: display.into(), source })
    }

    /// Adds `unit`, to be scanned with the others added before it is followed
    /// ([`Builder::scan_pending`]).
    fn add(&mut self, unit: Unit) -> usize {
        let idx = self.graph.units.len();
        if let Some(name) = &unit.name {
            self.by_name.insert(name.clone(), idx);
        }
        self.graph.units.push(unit);
        idx
    }

    fn snippet(&self, unit: usize, site: &Site, label: &str) -> Snippet {
        let u = &self.graph.units[unit];
        Snippet {
            display: u.display.clone(),
            source: u.source.clone(),
            span: site.span.clone(),
            label: label.into(),
        }
    }

    /// Resolves `name` through the search path and adds it; what cannot be packed is recorded
    /// in `unpacked` and judged later. `from` is the requiring unit, its site number and the
    /// edge kind; `None` for roots (`-m NAME`, `-l NAME`, traced modules).
    fn require(
        &mut self,
        name: &str,
        origin: Origin,
        from: Option<(usize, usize, EdgeKind)>,
    ) -> Result<(), GraphError> {
        let first = from.map(|(u, s, _)| (u, self.graph.units[u].sites[s].line));
        if let Some((unit, site, kind)) = from {
            let line = self.graph.units[unit].sites[site].line;
            self.graph.edges.push(Edge { from: unit, name: name.to_owned(), line, kind, site });
        }
        if is_builtin(name)
            || self.request.provided.iter().any(|p| p == name)
            || self.by_name.contains_key(name)
        {
            return Ok(());
        }
        if self.graph.unpacked.contains_key(name) {
            if let Some(w) = root_when(&origin).filter(|_| from.is_none()) {
                let slot = self.missing_roots.entry(name.to_owned()).or_insert(w);
                *slot = (*slot).max(w);
            }
            return Ok(());
        }
        if self.request.excludes.iter().any(|p| glob_match(p, name)) {
            self.graph.unpacked.insert(name.to_owned(), (Unpacked::Excluded, first));
            return Ok(());
        }
        if self.request.runtime_modules {
            if let Some(source) = crate::base::runtime_lua::jit_module(name) {
                let file = format!("jit/{}.lua", &name["jit.".len()..]);
                self.add(Unit {
                    kind: UnitKind::Lua,
                    needs: Vec::new(),
                    name: Some(name.to_owned()),
                    display: format!("{file} (runtime)"),
                    path: PathBuf::new(),
                    chunkname: format!("@{file}").into_bytes(),
                    source: source.to_vec(),
                    origin,
                    sites: Vec::new(),
                    overrides: None,
                    runtime: true,
                    shares: None,
                    when: When::default(),
                    syntax: None,
                });
                for extra in crate::base::runtime_lua::computed_requires(name, self.target.machine)
                {
                    self.require(extra, Origin::Runtime, None)?;
                }
                return Ok(());
            }
        }
        let root = if from.is_none() { root_when(&origin) } else { None };
        match self.graph.search.resolve(name) {
            Ok(Found::Lua { shown, path }) => {
                let path = lexical_absolute(&path);
                let display = display_path(&path, self.cwd.as_deref());
                let problem = match std::fs::metadata(&path) {
                    Ok(m) if m.is_dir() => Some("is a directory"),
                    Ok(m) if !m.is_file() => {
                        Some("is not a regular file (a device, FIFO or socket)")
                    }
                    _ => None,
                };
                if let Some(problem) = problem {
                    let shown = crate::graph::resolve::lossy(&shown).into_owned();
                    let what = Unpacked::Directory { shown, problem };
                    self.graph.unpacked.insert(name.to_owned(), (what, first));
                    if let Some(w) = root {
                        self.missing_roots.insert(name.to_owned(), w);
                    }
                    return Ok(());
                }
                let source = self.read(&path, &display)?;
                self.add(Unit {
                    kind: UnitKind::Lua,
                    needs: Vec::new(),
                    name: Some(name.to_owned()),
                    display,
                    path,
                    chunkname: at(&shown),
                    source,
                    origin,
                    sites: Vec::new(),
                    overrides: None,
                    runtime: false,
                    shares: None,
                    when: When::default(),
                    syntax: None,
                });
            }
            Ok(Found::C { shown, path }) => {
                if let Err(problem) = self.add_native(name, &shown, &path, origin) {
                    let shown = crate::graph::resolve::lossy(&shown).into_owned();
                    self.unpackable(name, shown, problem, first, root);
                }
            }
            Err(NotFound { tried }) => {
                self.graph.unpacked.insert(name.to_owned(), (Unpacked::Missing { tried }, first));
                if let Some(w) = root {
                    self.missing_roots.insert(name.to_owned(), w);
                }
            }
        }
        Ok(())
    }

    fn unpackable(
        &mut self,
        name: &str,
        shown: String,
        problem: String,
        first: Option<(usize, u32)>,
        root: Option<When>,
    ) {
        self.graph.unpacked.insert(name.to_owned(), (Unpacked::CModule { shown, problem }, first));
        if let Some(w) = root {
            self.missing_roots.insert(name.to_owned(), w);
        }
    }

    /// Checks and adds a C module and, transitively, the libraries it needs. A library that
    /// another unit already packs (Lua's all-in-one loader finds `_cqueues.so` for
    /// `_cqueues.socket`) is not packed again: the module refers to that unit, so that the
    /// runtime opens the library once, as lib_package.c's `LOADLIB:` registry does.
    fn add_native(
        &mut self,
        name: &str,
        shown: &[u8],
        path: &Path,
        origin: Origin,
    ) -> Result<(), String> {
        // The path as opened decides `$ORIGIN` (the dynamic loader does not resolve symlinks);
        // the canonical path decides identity: one object reached through a symlink is still one.
        let opened = lexical_absolute(path);
        let canonical = path.canonicalize().unwrap_or_else(|_| opened.clone());
        let symbol = bundle_runtime::luaopen_symbol(name.as_bytes());
        let owner = self.graph.units.iter().position(|u| {
            u.kind == UnitKind::Native
                && u.shares.is_none()
                && u.path.canonicalize().ok().as_ref() == Some(&canonical)
        });
        if let Some(owner) = owner {
            let o = &self.graph.units[owner];
            crate::base::native::check(&o.source, self.target.machine, Some(&symbol))
                .map_err(|e| e.to_string())?;
            let (shares, display) = (o.name.clone(), o.display.clone());
            self.add(Unit {
                kind: UnitKind::Native,
                needs: Vec::new(),
                name: Some(name.to_owned()),
                display,
                path: opened,
                chunkname: at(shown),
                source: Vec::new(),
                origin,
                sites: Vec::new(),
                overrides: None,
                runtime: false,
                shares,
                when: When::default(),
                syntax: None,
            });
            return Ok(());
        }
        let bytes =
            crate::base::input::read(&canonical).map_err(|e| format!("cannot read it: {e}"))?;
        let object = crate::base::native::check(&bytes, self.target.machine, Some(&symbol))
            .map_err(|e| e.to_string())?;
        let needs = self.add_libraries(name, &object, &opened, &[])?;
        let display = display_path(&opened, self.cwd.as_deref());
        self.add(Unit {
            kind: UnitKind::Native,
            needs,
            name: Some(name.to_owned()),
            display,
            path: opened,
            chunkname: at(shown),
            source: bytes,
            origin,
            sites: Vec::new(),
            overrides: None,
            runtime: false,
            shares: None,
            when: When::default(),
            syntax: None,
        });
        Ok(())
    }
    /// Resolves and adds the non-base libraries `object` (at `path`, as opened) needs; returns
    /// their names. `inherited` holds the RPATH directories of the objects that led here.
    fn add_libraries(
        &mut self,
        who: &str,
        object: &crate::base::native::Object,
        path: &Path,
        inherited: &[PathBuf],
    ) -> Result<Vec<String>, String> {
        let origin = path.parent().unwrap_or(Path::new("/"));
        let mut chain = object.rpath_dirs(origin);
        chain.extend(inherited.iter().cloned());
        let mut needs = Vec::new();
        for lib in &object.needed {
            if crate::base::native::is_base_system(lib)
                || self.request.no_libs.iter().any(|n| n == lib)
            {
                continue;
            }
            needs.push(lib.clone());
            if self.graph.libraries.contains_key(lib) {
                continue;
            }
            let found = crate::base::native::find_library(lib, object, origin, inherited, &self.target.libraries).map_err(|dirs| {
                format!(
                    "it needs {lib}, which cannot be found on this machine (searched: {}); install it, or leave it out with --no-lib {lib}",
                    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            })?;
            let bytes = crate::base::input::read(&found)
                .map_err(|e| format!("{}: {e}", found.display()))?;
            let lib_object = crate::base::native::check(&bytes, self.target.machine, None)
                .map_err(|e| format!("it needs {lib} ({}), which is {e}", found.display()))?;
            // Loaded from memory, a library is found for the modules that need it by its SONAME
            // only: one without (or with another) SONAME would never be matched.
            if lib_object.soname.as_deref() != Some(lib.as_str()) {
                return Err(format!(
                    "it needs {lib} ({}), whose SONAME is {}: a library loaded from memory is matched by its SONAME, so it cannot be packed; leave it out with --no-lib {lib}",
                    found.display(),
                    lib_object.soname.as_deref().map_or("missing".to_owned(), |s| format!("'{s}'"))
                ));
            }
            // Insert first: a cycle between libraries then ends here.
            self.graph.libraries.insert(
                lib.clone(),
                Library {
                    path: found.clone(),
                    bytes,
                    needs: Vec::new(),
                    needed_by: who.to_owned(),
                },
            );
            let sub = self.add_libraries(lib, &lib_object, &found, &chain)?;
            if let Some(l) = self.graph.libraries.get_mut(lib) {
                l.needs = sub;
            }
        }
        Ok(needs)
    }

    /// Adds `d`, shown at site `site` of unit `unit` when given.
    fn push_diag(&mut self, d: Diagnostic, at: Option<(usize, usize)>, label: &str) {
        let d = match at {
            Some((u, s)) => {
                let site = self.graph.units[u].sites[s].clone();
                d.at(self.snippet(u, &site, label))
            }
            None => d,
        };
        self.graph.diagnostics.push(d);
    }

    /// An error under `--strict`, a warning otherwise.
    fn strict_or_warning(&self, message: String) -> Diagnostic {
        if self.request.strict {
            Diagnostic::error(message).note("--strict makes every unresolvable require an error")
        } else {
            Diagnostic::warning(message)
        }
    }

    /// Follows the requires of unit `i`.
    /// Scans the Lua units added since the last call, on as many threads as the machine has
    /// when there is enough source to share (a file's sites do not depend on any other's, so
    /// the graph is the same however they are shared out). A file the lexer rejects is judged
    /// once the graph is complete: an error if luajit would load it at start, a warning
    /// otherwise (see judge).
    fn scan_pending(&mut self) {
        let pending = &mut self.graph.units[self.scanned..];
        self.scanned += pending.len();
        let scan_one = |u: &mut Unit| {
            if u.kind == UnitKind::Lua {
                match scan::scan(&u.source) {
                    Ok(sites) => u.sites = sites,
                    Err(e) => u.syntax = Some(e),
                }
            }
        };
        let bytes: usize = pending.iter().map(|u| u.source.len()).sum();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || pending.len() < 2 || bytes < 64 * 1024 {
            pending.iter_mut().for_each(scan_one);
            return;
        }
        let chunk = pending.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for part in pending.chunks_mut(chunk) {
                scope.spawn(move || part.iter_mut().for_each(scan_one));
            }
        });
    }

    fn follow(&mut self, i: usize) -> Result<(), GraphError> {
        if i >= self.scanned {
            self.scan_pending();
        }
        // The packages this file requires by name count for the mentions in it, wherever the
        // require is in the file.
        for site in &self.graph.units[i].sites {
            if let Some(top) = site.name().and_then(|n| n.split(|&c| c == b'.').next()) {
                self.packages.insert(String::from_utf8_lossy(top).into_owned());
            }
        }
        for s in 0..self.graph.units[i].sites.len() {
            let site = self.graph.units[i].sites[s].clone();
            let kind = EdgeKind::from(site.kind);
            let by = Origin::Required { by: i, line: site.line };
            match &site.target {
                Target::Literal(bytes) => match std::str::from_utf8(bytes) {
                    Ok(name) if crate::base::lua::valid_module_name(name) => {
                        self.require(name, by, Some((i, s, kind)))?
                    }
                    // A name the runtime provides, which no file could (`bundle/assets`).
                    Ok(name) if self.request.provided.iter().any(|p| p == name) => {}
                    _ => {
                        let d = self.strict_or_warning(format!(
                            "{}: '{}' is not a module name this bundler can look up",
                            self.graph.chain(i, Some(site.line)),
                            String::from_utf8_lossy(bytes)
                        ));
                        self.push_diag(d, Some((i, s)), "required here");
                    }
                },
                // Each value the local may hold, none of them for sure.
                Target::OneOf(names) => {
                    let kind = match kind {
                        EdgeKind::Plain => EdgeKind::Conditional,
                        other => other,
                    };
                    for bytes in names {
                        let name = String::from_utf8_lossy(bytes).into_owned();
                        if crate::base::lua::valid_module_name(&name) {
                            let by = Origin::Required { by: i, line: site.line };
                            self.require(&name, by, Some((i, s, kind)))?;
                        }
                    }
                }
                Target::Prefix(prefix) => self.prefix(i, s, prefix)?,
                Target::Mention { .. } => self.mentions.push((i, s)),
                Target::Loadlib => {}
                Target::Provides(name) => {
                    let name = String::from_utf8_lossy(name).into_owned();
                    self.provided.entry(name).or_insert((i, site.line));
                }
                // The runtime's own modules are complete by construction (computed_requires).
                Target::Computed | Target::Value if self.graph.units[i].runtime => {}
                Target::Computed | Target::Value => {
                    let u = &self.graph.units[i];
                    let what = if site.target == Target::Value {
                        "require used as a value: what it loads is not known here"
                    } else {
                        "require with a name computed at run time"
                    };
                    let d = self
                        .strict_or_warning(format!(
                            "{}:{}:{}: {what}",
                            u.display, site.line, site.col
                        ))
                        .note("the module it loads is not known at bundle time and will not be bundled")
                        .note("bundle what it may load with -m NAME or -m 'prefix.*', or record a run with --trace -- ARGS");
                    self.push_diag(d, Some((i, s)), "not a literal module name");
                }
            }
        }
        Ok(())
    }

    /// A computed name with a literal prefix at site `s` of unit `i`: every module under the
    /// prefix on the search path, as `-m 'prefix.*'` would add, with one note for the site.
    fn prefix(&mut self, i: usize, s: usize, prefix: &[u8]) -> Result<(), GraphError> {
        let site = self.graph.units[i].sites[s].clone();
        let at = format!("{}:{}:{}", self.graph.units[i].display, site.line, site.col);
        let text = String::from_utf8_lossy(prefix).into_owned();
        // The package is what precedes the last dot: `a.b.` and `a.b.x_` both look in `a.b`.
        let package = text.rfind('.').map(|dot| &text[..dot]).unwrap_or("");
        if !crate::base::lua::valid_module_name(package) {
            let d = self
                .strict_or_warning(format!(
                    "{at}: require with a name computed at run time from the prefix '{text}', which names no package to look in"
                ))
                .note("bundle what it may load with -m NAME or -m 'prefix.*', or record a run with --trace -- ARGS");
            self.push_diag(d, Some((i, s)), "computed module name");
            return Ok(());
        }
        if !self.under.contains_key(package) {
            let found = self.graph.search.modules_under(package);
            self.under.insert(package.to_owned(), found);
        }
        let names: Vec<String> = self.under[package]
            .iter()
            .filter(|n| n.starts_with(&text) && n.len() > text.len())
            .cloned()
            .collect();
        if names.is_empty() {
            let d = self
                .strict_or_warning(format!(
                    "{at}: require(\"{text}\" .. …): no module under '{package}' on the search path starts with '{text}'"
                ))
                .note("the module it loads is not known at bundle time and will not be bundled");
            self.push_diag(d, Some((i, s)), "computed module name");
            return Ok(());
        }
        let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
        let more = if names.len() > shown.len() { ", …" } else { "" };
        self.graph.diagnostics.push(Diagnostic::note_only(format!(
            "{at}: require(\"{text}\" .. …): bundling the {} module{} found under '{text}' ({}{more})",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            shown.join(", ")
        )));
        for name in names {
            let by = Origin::Required { by: i, line: site.line };
            self.require(&name, by, Some((i, s, EdgeKind::Inferred)))?;
        }
        Ok(())
    }

    /// A string literal of unit `i` (site `s`) that reads as a module name, or a format for
    /// one: when it names a module of a package the program requires, that module (or every
    /// module under the format's prefix) is bundled, as an inferred edge. Nothing is said of
    /// mentions that name nothing: most strings with dots are not module names.
    fn mention(&mut self, i: usize, s: usize, text: &[u8], prefix: bool) -> Result<(), GraphError> {
        let Ok(text) = std::str::from_utf8(text) else { return Ok(()) };
        let top = text.split('.').next().unwrap_or("");
        if !self.packages.contains(top) || self.graph.units[i].runtime {
            return Ok(());
        }
        let line = self.graph.units[i].sites[s].line;
        let by = || Origin::Required { by: i, line };
        if !prefix {
            let known = self.by_name.contains_key(text) || self.graph.unpacked.contains_key(text);
            if !known
                && crate::base::lua::valid_module_name(text)
                && self.graph.search.resolve(text).is_ok()
            {
                self.require(text, by(), Some((i, s, EdgeKind::Inferred)))?;
            }
            return Ok(());
        }
        let package = text.trim_end_matches('.');
        if !self.under.contains_key(package) {
            let found = self.graph.search.modules_under(package);
            self.under.insert(package.to_owned(), found);
        }
        let names: Vec<String> = self.under[package]
            .iter()
            .filter(|n| !self.by_name.contains_key(*n))
            .cloned()
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let site = &self.graph.units[i].sites[s];
        self.graph.diagnostics.push(Diagnostic::note_only(format!(
            "{}:{}:{}: the string \"{text}%s\" names modules: bundling the {} module{} under '{package}'",
            self.graph.units[i].display,
            site.line,
            site.col,
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        )));
        for name in names {
            self.require(&name, by(), Some((i, s, EdgeKind::Inferred)))?;
        }
        Ok(())
    }

    /// Gives every unit its [`When`]: roots by their origin, others by their strongest chain.
    fn settle(&mut self) {
        let n = self.graph.units.len();
        let mut when: Vec<Option<When>> =
            self.graph.units.iter().map(|u| root_when(&u.origin)).collect();
        let mut best_in = vec![None; n];
        let mut changed = true;
        while changed {
            changed = false;
            for (ei, e) in self.graph.edges.iter().enumerate() {
                let (Some(from), Some(&to)) = (when[e.from], self.by_name.get(&e.name)) else {
                    continue;
                };
                let w = Some(from.through(e.kind));
                if w > when[to] {
                    when[to] = w;
                    best_in[to] = Some(ei);
                    changed = true;
                }
            }
        }
        for (u, w) in self.graph.units.iter_mut().zip(&when) {
            u.when = w.unwrap_or_default();
        }
        self.graph.best_in = best_in;
    }

    /// The strongest way `name` (not packed) is asked for: by a root, or by the edge returned.
    fn strongest_ask(&self, name: &str) -> (Option<When>, Option<usize>) {
        let mut best: (Option<When>, Option<usize>) = (self.missing_roots.get(name).copied(), None);
        for (ei, e) in self.graph.edges.iter().enumerate().filter(|(_, e)| e.name == name) {
            let w = Some(self.graph.units[e.from].when.through(e.kind));
            if w > best.0 {
                best = (w, Some(ei));
            }
        }
        best
    }

    /// The verdicts: every name that could not be packed, and every file the lexer rejected,
    /// is an error when luajit would need it at start (or it was asked for with `-m`/`-l`, or
    /// `--strict`), a warning saying what happens without it otherwise.
    fn judge(&mut self) -> Result<(), GraphError> {
        let unpacked: Vec<(String, Unpacked)> =
            self.graph.unpacked.iter().map(|(n, (what, _))| (n.clone(), what.clone())).collect();
        let mut verdicts = Vec::new();
        for (name, what) in unpacked {
            if what == Unpacked::Excluded {
                if let (Some(w), _) = self.strongest_ask(&name) {
                    self.graph.asked.insert(name.clone(), w);
                }
                continue;
            }
            // The program puts it in package.preload (or package.loaded) itself.
            if let Some(&at) = self.provided.get(&name) {
                if let Some(slot) = self.graph.unpacked.get_mut(&name) {
                    slot.0 = Unpacked::Provided { by: at };
                }
                continue;
            }
            let (when, edge) = self.strongest_ask(&name);
            let when = when.unwrap_or_default();
            self.graph.asked.insert(name.clone(), when);
            let root = edge.is_none();
            let fatal = self.request.strict
                || (!self.request.allow_missing
                    && (when == When::LoadTime || (root && when == When::Explicit)));
            let headline = |what: String| match edge {
                Some(e) => {
                    let e = &self.graph.edges[e];
                    format!("{}: {what}", self.graph.chain(e.from, Some(e.line)))
                }
                None => what,
            };
            let mut d = match &what {
                Unpacked::Missing { tried } => {
                    Diagnostic::error(headline(format!("module '{name}' not found")))
                        .note(format!("searched: {}", tried.join(", ")))
                }
                Unpacked::CModule { shown, problem } => {
                    Diagnostic::error(headline(format!("C module '{name}' at {shown}: {problem}")))
                }
                Unpacked::Directory { shown, problem } => Diagnostic::error(headline(format!(
                    "module '{name}' resolves to {shown}, which {problem}"
                ))),
                Unpacked::Excluded | Unpacked::Provided { .. } => continue,
            };
            if !fatal {
                d.severity = crate::base::diag::Severity::Warning;
                if !self.request.allow_missing || when < When::LoadTime {
                    d = d.note(consequence(when, &name));
                }
            } else if self.request.strict && when < When::LoadTime && !root {
                d = d.note(format!("--strict: {}", consequence(when, &name)));
            } else if matches!(what, Unpacked::CModule { .. }) {
                d = d.note("leave it out with -x NAME to load it from disk at run time");
            } else if matches!(what, Unpacked::Directory { .. }) {
                d = d.note(
                    "luajit would fail to load it too: fix the search path, or rename the module or the file",
                );
            } else {
                d = d.note("add a directory with -I DIR or --tree DIR, name the file with -m NAME=FILE, or pass --allow-missing");
            }
            let order = edge.unwrap_or(usize::MAX);
            verdicts.push((
                order,
                d,
                edge.map(|e| (self.graph.edges[e].from, self.graph.edges[e].site)),
            ));
        }
        verdicts.sort_by_key(|(order, _, _)| *order);
        for (_, d, at) in verdicts {
            self.push_diag(d, at, "required here");
        }
        for i in 0..self.graph.units.len() {
            let Some(err) = self.graph.units[i].syntax.clone() else { continue };
            let u = &self.graph.units[i];
            if u.when >= When::Explicit || self.request.strict {
                // An error, raised by the compile stage with the real parser's message
                // (compile::check_syntax).
                continue;
            }
            let d = Diagnostic::warning(format!(
                "{}: {}:{}: {} (the module is needed only {})",
                self.graph.chain(i, None),
                u.display,
                err.line,
                err.message,
                u.when
            ))
            .note("luajit raises this error when the module is loaded; it is bundled as source, so the program fails the same way at that point");
            self.graph.diagnostics.push(d);
        }
        Ok(())
    }
}

/// Builds the graph for `request`: reads and scans every file reached, then judges what is
/// missing.
pub fn build(request: &Request, target: &crate::base::target::Target) -> Result<Graph, GraphError> {
    let plan = request;
    let cwd = std::env::current_dir().ok().map(|c| lexical_absolute(&c));
    let mut b = Builder {
        request,
        target,
        graph: Graph {
            search: SearchPath::new(&request.search, target.multiarch),
            ..Graph::default()
        },
        by_name: BTreeMap::new(),
        missing_roots: BTreeMap::new(),
        under: BTreeMap::new(),
        packages: Default::default(),
        mentions: Vec::new(),
        provided: BTreeMap::new(),
        cwd,
        scanned: 0,
    };
    // The main script, or the entry points' scripts: the roots luajit would run.
    let scripts = plan.main.iter().map(|m| (None, m));
    let entries = plan.entries.iter().map(|(name, input)| (Some(name), input));
    for (entry, script) in scripts.chain(entries) {
        let source = b.read(&script.path, &script.display)?;
        let (name, origin) = match entry {
            Some(e) => (Some(entry_unit_name(e)), Origin::Entry(e.clone())),
            None => (None, Origin::Main),
        };
        b.add(Unit {
            kind: UnitKind::Lua,
            needs: Vec::new(),
            name,
            display: script.display.clone(),
            path: script.path.clone(),
            chunkname: script_chunkname(script),
            source,
            origin,
            sites: Vec::new(),
            overrides: None,
            runtime: false,
            shares: None,
            when: When::LoadTime,
            syntax: None,
        });
    }
    // Explicit modules first, so that they win over discovery.
    for spec in &plan.modules {
        match spec {
            ModuleSpec::File { name, input } => {
                let source = b.read(&input.path, &input.display)?;
                let discovered = match b.graph.search.resolve(name) {
                    Ok(Found::Lua { shown, path })
                        if path.canonicalize().ok().as_ref() != Some(&input.path) =>
                    {
                        Some(crate::graph::resolve::lossy(&shown).into_owned())
                    }
                    _ => None,
                };
                b.add(Unit {
                    kind: UnitKind::Lua,
                    needs: Vec::new(),
                    name: Some(name.clone()),
                    display: input.display.clone(),
                    path: input.path.clone(),
                    chunkname: chunkname(&plan.root, &input.path, false),
                    source,
                    origin: Origin::Explicit,
                    sites: Vec::new(),
                    overrides: discovered,
                    runtime: false,
                    shares: None,
                    when: When::Explicit,
                    syntax: None,
                });
            }
            ModuleSpec::Name(name) => b.require(name, Origin::Explicit, None)?,
            ModuleSpec::Native { name, input } => {
                let shown = input.display.as_bytes();
                if let Err(problem) = b.add_native(name, shown, &input.path, Origin::Explicit) {
                    return Err(GraphError::Built { name: name.clone(), problem });
                }
                if let Some(&i) = b.by_name.get(name.as_str()) {
                    b.graph.units[i].display = input.display.clone();
                    b.graph.units[i].when = When::Explicit;
                }
            }
            ModuleSpec::Glob(prefix) => {
                let names = b.graph.search.modules_under(prefix);
                if names.is_empty() {
                    b.graph.diagnostics.push(Diagnostic::warning(format!(
                        "-m '{prefix}.*' matches no module on the search path"
                    )));
                }
                for name in names {
                    b.require(&name, Origin::Glob(format!("{prefix}.*")), None)?;
                }
            }
        }
    }
    for p in &plan.preloads {
        b.require(p, Origin::Preload, None)?;
    }
    for t in &plan.traced {
        // A module the program found through a path of its own making (package.path changed at
        // run time) is taken from the file the traced run loaded it from.
        let lua_file = t.file.as_ref().filter(|f| {
            f.extension().is_some_and(|e| e == "lua")
                && f.is_file()
                && !b.by_name.contains_key(&t.name)
        });
        match lua_file {
            Some(file) if b.graph.search.resolve(&t.name).is_err() => {
                let path = lexical_absolute(file);
                let display = display_path(&path, b.cwd.as_deref());
                let source = b.read(&path, &display)?;
                b.add(Unit {
                    kind: UnitKind::Lua,
                    needs: Vec::new(),
                    name: Some(t.name.clone()),
                    display,
                    chunkname: at(file.as_os_str().as_bytes()),
                    path,
                    source,
                    origin: Origin::Traced,
                    sites: Vec::new(),
                    overrides: None,
                    runtime: false,
                    shares: None,
                    when: When::Traced,
                    syntax: None,
                });
            }
            _ => b.require(&t.name, Origin::Traced, None)?,
        }
    }
    if plan.interpreter && plan.runtime_modules && !target.jit_tools {
        b.graph.diagnostics.push(
            Diagnostic::warning(format!(
                "the stub's VM ({}) is not the LuaJIT this bundle was built with ({}): the interpreter gets no jit.* tools (-jv, -jdump, -jp, -b), which must match their VM",
                if target.luajit.is_empty() { "unknown" } else { &target.luajit },
                crate::base::runtime_lua::luajit_version(),
            ))
            .note("build bundle with that stub's LuaJIT (BUNDLE_STUB and BUNDLE_LUAJIT_DIR, see build.rs) to ship its tools"),
        );
    }
    if plan.interpreter && plan.runtime_modules && target.jit_tools {
        // A bundle built without LuaJIT's tools (BUNDLE_STUB, see build.rs) has none to pack:
        // its interpreter then says that jit.* modules are not installed, as luajit would.
        let shipped = crate::base::runtime_lua::INTERPRETER_TOOLS.iter();
        for tool in shipped.filter(|t| crate::base::runtime_lua::jit_module(t).is_some()) {
            b.require(tool, Origin::Runtime, None)?;
        }
    }
    // Every unit reached is scanned and followed; then the mentions, which may reach more.
    let mut i = 0;
    loop {
        while i < b.graph.units.len() {
            b.follow(i)?;
            i += 1;
        }
        let mentions = std::mem::take(&mut b.mentions);
        if mentions.is_empty() {
            break;
        }
        for (u, s) in mentions {
            if let Target::Mention { text, prefix } = b.graph.units[u].sites[s].target.clone() {
                b.mention(u, s, &text, prefix)?;
            }
        }
    }
    b.settle();
    b.scan_pending();
    b.judge()?;
    Ok(b.graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("a.*", "a.b"));
        assert!(glob_match("a.*", "a.b.c"));
        assert!(!glob_match("a.*", "a"));
        assert!(glob_match("*", "anything.at.all"));
        assert!(glob_match("*.test", "x.y.test"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("a*c", "abbbc"));
    }

    #[test]
    fn chunknames_follow_luajit() {
        let root = Path::new("/app");
        assert_eq!(chunkname(root, Path::new("/app/main.lua"), true), b"@main.lua");
        assert_eq!(chunkname(root, Path::new("/app/lib/util.lua"), false), b"@./lib/util.lua");
        assert_eq!(
            chunkname(root, Path::new("/usr/share/lua/5.1/x.lua"), false),
            b"@/usr/share/lua/5.1/x.lua"
        );
    }
}
