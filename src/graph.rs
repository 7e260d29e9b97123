//! The module graph: the transitive closure of `require` from the main script, the `-m` modules
//! and the `-l` preloads, each module read once under each name it is required by, with the
//! provenance of every edge (which file, which line) for diagnostics, `--list` and `why`.
//!
//! Cycles are fine: a name is resolved once, whatever requires it again. Modules the runtime
//! provides are never looked up; excluded ones (`-x`) are left to the filesystem at run time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, Snippet};
use crate::plan::{is_builtin, BuildPlan, ModuleSpec};
use crate::resolve::{Found, NotFound};
use crate::scan::{self, Site, SiteKind};
use crate::Error;

/// Why a unit is in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Main,
    /// `-m NAME=FILE` or `-m NAME`.
    Explicit,
    /// `-m 'prefix.*'`.
    Glob(String),
    /// `-l NAME`.
    Preload,
    /// Shipped with the interpreter (`jit.*` tools for `-j` and `-b`), or needed by a runtime
    /// module under a computed name.
    Runtime,
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

/// A Lua file or C module to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub kind: UnitKind,
    /// For a native module, the packed libraries it needs.
    pub needs: Vec<String>,
    /// Module name; `None` for the main script.
    pub name: Option<String>,
    /// The file name for messages: as given, or relative to the current directory.
    pub display: String,
    /// Canonical path of the file read.
    pub path: PathBuf,
    /// Chunk name for `luaL_loadbuffer`: what `luajit main.lua` would show.
    pub chunkname: String,
    pub source: Vec<u8>,
    pub origin: Origin,
    /// The require sites found in it.
    pub sites: Vec<Site>,
    /// For an explicit `-m NAME=FILE`: the file discovery would have chosen instead, if different.
    pub overrides: Option<String>,
    /// Shipped by the runtime (src/runtime_lua.rs), not read from a file: `path` is empty.
    pub runtime: bool,
}

impl Unit {
    pub fn is_main(&self) -> bool {
        self.name.is_none()
    }

    /// The name for tables: the module name, or `(main)`.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or("(main)")
    }
}

/// A name required somewhere that is not packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpacked {
    /// Not found anywhere on the search path.
    Missing,
    /// A C module (packing them is not supported yet).
    CModule(String),
    /// Left out with `-x`.
    Excluded,
}

/// One literal require: unit `from` requires `name` at `line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub name: String,
    pub line: u32,
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
    /// Warnings (and errors, when [`Graph::has_errors`]).
    pub diagnostics: Vec<Diagnostic>,
}

impl Graph {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// `main.lua:3 → lib/db.lua:10`: how unit `i` was reached, ending at `file:line` of `site`.
    pub fn chain(&self, unit: usize, line: Option<u32>) -> String {
        let mut parts = Vec::new();
        if let Some(line) = line {
            parts.push(format!("{}:{line}", self.units[unit].display));
        }
        let mut at = unit;
        let mut guard = 0;
        while let Origin::Required { by, line } = self.units[at].origin {
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
            _ => {}
        }
        parts.reverse();
        parts.join(" → ")
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
            _ => None,
        });
        if let Some(root) = root {
            out.push(chain_text(Some(root), path, target));
        }
        for e in self.edges.iter().filter(|e| e.name == at) {
            let from = &self.units[e.from];
            let hop = format!("{}:{}", from.display, e.line);
            if path.contains(&hop) {
                continue;
            }
            path.push(hop);
            match &from.name {
                None => out.push(chain_text(None, path, target)),
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
pub fn chunkname(root: &Path, path: &Path, is_main: bool) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if is_main => format!("@{}", rel.display()),
        Ok(rel) => format!("@./{}", rel.display()),
        Err(_) => format!("@{}", path.display()),
    }
}

struct Builder<'p> {
    plan: &'p BuildPlan,
    /// ELF machine of the stub: native code must match it.
    machine: u16,
    graph: Graph,
    by_name: BTreeMap<String, usize>,
    /// Names not packed so far, asked for by optional sites only.
    optional_only: std::collections::BTreeSet<String>,
    /// The current directory, for display paths (looked up once).
    cwd: Option<PathBuf>,
}

impl Builder<'_> {
    fn read(&self, path: &Path, display: &str) -> Result<Vec<u8>, Error> {
        if path.is_dir() {
            return Err(Error::Read {
                path: display.into(),
                source: std::io::Error::other("is a directory, expected a Lua file"),
            });
        }
        std::fs::read(path).map_err(|source| Error::Read { path: display.into(), source })
    }

    fn add(&mut self, mut unit: Unit) -> Result<usize, Error> {
        let scanned = match unit.kind {
            UnitKind::Native => Ok(Vec::new()),
            UnitKind::Lua => scan::scan(&unit.source),
        };
        unit.sites = match scanned {
            Ok(sites) => sites,
            Err(e) => {
                // The real parser has the authoritative message for what the lexer rejected.
                let probe = crate::compile::Compiler::new()?;
                probe.compile(&unit, crate::plan::Store::Source)?;
                return Err(crate::compile::CompileError::Syntax {
                    display: unit.display,
                    line: e.line,
                    message: e.message,
                }
                .into());
            }
        };
        let idx = self.graph.units.len();
        if let Some(name) = &unit.name {
            self.by_name.insert(name.clone(), idx);
        }
        self.graph.units.push(unit);
        Ok(idx)
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

    /// Resolves `name` through the search path and adds it; diagnostics for what cannot be.
    /// `from` is the requiring unit and site, `None` for `-m NAME` and `-l NAME`.
    fn require(
        &mut self,
        name: &str,
        origin: Origin,
        from: Option<(usize, &Site)>,
    ) -> Result<(), Error> {
        if let Some((unit, site)) = from {
            self.graph.edges.push(Edge { from: unit, name: name.to_owned(), line: site.line });
        }
        let optional = from.is_some_and(|(_, s)| s.kind == SiteKind::Optional);
        // A name that only optional sites have asked for so far was let off with a warning: a
        // plain require of it must be judged again (and fail) whatever the order of the sites.
        if !optional && self.optional_only.remove(name) {
            self.graph.unpacked.remove(name);
        }
        if is_builtin(name)
            || self.plan.provided.iter().any(|p| p == name)
            || self.by_name.contains_key(name)
            || self.graph.unpacked.contains_key(name)
        {
            return Ok(());
        }
        let first = from.map(|(u, s)| (u, s.line));
        if self.plan.excludes.iter().any(|p| glob_match(p, name)) {
            self.graph.unpacked.insert(name.to_owned(), (Unpacked::Excluded, first));
            return Ok(());
        }
        if self.plan.runtime_modules {
            if let Some(source) = crate::runtime_lua::jit_module(name) {
                let file = format!("jit/{}.lua", &name["jit.".len()..]);
                self.add(Unit {
                    kind: UnitKind::Lua,
                    needs: Vec::new(),
                    name: Some(name.to_owned()),
                    display: format!("{file} (runtime)"),
                    path: PathBuf::new(),
                    chunkname: format!("@{file}"),
                    source: source.to_vec(),
                    origin,
                    sites: Vec::new(),
                    overrides: None,
                    runtime: true,
                })?;
                for extra in crate::runtime_lua::computed_requires(name, self.machine) {
                    self.require(extra, Origin::Runtime, None)?;
                }
                return Ok(());
            }
        }
        if optional {
            self.optional_only.insert(name.to_owned());
        }
        let headline = |what: &str| match from {
            Some((u, s)) => format!("{}: {what}", self.graph.chain(u, Some(s.line))),
            None => what.to_owned(),
        };
        match self.plan.search.resolve(name) {
            Ok(Found::Lua { shown, path }) => {
                let path = lexical_absolute(&path);
                let display = display_path(&path, self.cwd.as_deref());
                if path.is_dir() {
                    let d = Diagnostic::error(headline(&format!(
                        "module '{name}' resolves to {shown}, which is a directory"
                    )))
                    .note("luajit would fail to load it too: remove the directory or rename the module");
                    self.push_diag(d, from, "required here");
                    return Ok(());
                }
                let source = self.read(&path, &display)?;
                let unit = Unit {
                    kind: UnitKind::Lua,
                    needs: Vec::new(),
                    name: Some(name.to_owned()),
                    display,
                    path,
                    chunkname: format!("@{shown}"),
                    source,
                    origin,
                    sites: Vec::new(),
                    overrides: None,
                    runtime: false,
                };
                self.add(unit)?;
            }
            Ok(Found::C { shown, path }) => {
                let added = self.add_native(name, &shown, &path, origin);
                if let Err(problem) = added {
                    let what = format!("C module '{name}' at {shown}: {problem}");
                    let mut d = Diagnostic::error(match from {
                        Some((u, s)) => format!("{}: {what}", self.graph.chain(u, Some(s.line))),
                        None => what,
                    });
                    if optional {
                        d.severity = crate::diag::Severity::Warning;
                        d = d
                            .note("the require is protected by pcall: the program runs without it");
                    } else {
                        d = d.note("leave it out with -x NAME to load it from disk at run time");
                    }
                    self.graph.unpacked.insert(name.to_owned(), (Unpacked::CModule(shown), first));
                    self.push_diag(d, from, "required here");
                }
            }
            Err(NotFound { tried }) => {
                let mut d = Diagnostic::error(headline(&format!("module '{name}' not found")))
                    .note(format!("searched: {}", tried.join(", ")));
                if optional {
                    d.severity = crate::diag::Severity::Warning;
                    d = d.note("the require is protected by pcall: the program runs without it");
                } else if self.plan.allow_missing {
                    d.severity = crate::diag::Severity::Warning;
                } else {
                    d = d.note("add a directory with -I DIR or --tree DIR, name the file with -m NAME=FILE, or pass --allow-missing");
                }
                self.graph.unpacked.insert(name.to_owned(), (Unpacked::Missing, first));
                self.push_diag(d, from, "required here");
            }
        }
        Ok(())
    }

    /// Checks and adds a C module and, transitively, the libraries it needs.
    fn add_native(
        &mut self,
        name: &str,
        shown: &str,
        path: &Path,
        origin: Origin,
    ) -> Result<(), String> {
        // The path as opened decides `$ORIGIN` (the dynamic loader does not resolve symlinks);
        // the canonical path decides identity: one object reached through a symlink is still one.
        let opened = lexical_absolute(path);
        let path = path.canonicalize().unwrap_or_else(|_| opened.clone());
        if let Some(other) = self.graph.units.iter().find(|u| {
            u.kind == UnitKind::Native && u.path.canonicalize().ok().as_ref() == Some(&path)
        }) {
            return Err(format!(
                "the same shared object is also required as '{}': loading it twice would make two copies of its state; require it by one name",
                other.label()
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read it: {e}"))?;
        let object = crate::native::check(
            &bytes,
            self.machine,
            Some(&bundle_runtime::luaopen_symbol(name.as_bytes())),
        )?;
        let needs = self.add_libraries(name, &object, &opened, &[])?;
        let display = display_path(&opened, self.cwd.as_deref());
        self.add(Unit {
            kind: UnitKind::Native,
            needs,
            name: Some(name.to_owned()),
            display,
            path: opened,
            chunkname: format!("@{shown}"),
            source: bytes,
            origin,
            sites: Vec::new(),
            overrides: None,
            runtime: false,
        })
        .map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Resolves and adds the non-base libraries `object` (at `path`, as opened) needs; returns
    /// their names. `inherited` holds the RPATH directories of the objects that led here.
    fn add_libraries(
        &mut self,
        who: &str,
        object: &crate::native::Object,
        path: &Path,
        inherited: &[PathBuf],
    ) -> Result<Vec<String>, String> {
        let origin = path.parent().unwrap_or(Path::new("/"));
        let mut chain = object.rpath_dirs(origin);
        chain.extend(inherited.iter().cloned());
        let mut needs = Vec::new();
        for lib in &object.needed {
            if crate::native::is_base_system(lib) || self.plan.no_libs.iter().any(|n| n == lib) {
                continue;
            }
            needs.push(lib.clone());
            if self.graph.libraries.contains_key(lib) {
                continue;
            }
            let found = crate::native::find_library(lib, object, origin, inherited).map_err(|dirs| {
                format!(
                    "it needs {lib}, which cannot be found on this machine (searched: {}); install it, or leave it out with --no-lib {lib}",
                    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
                )
            })?;
            let bytes = std::fs::read(&found).map_err(|e| format!("{}: {e}", found.display()))?;
            let lib_object = crate::native::check(&bytes, self.machine, None)
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

    fn push_diag(&mut self, d: Diagnostic, from: Option<(usize, &Site)>, label: &str) {
        let d = match from {
            Some((u, s)) => d.at(self.snippet(u, s, label)),
            None => d,
        };
        self.graph.diagnostics.push(d);
    }

    /// Scans unit `i` and follows its requires.
    fn follow(&mut self, i: usize) -> Result<(), Error> {
        let sites = self.graph.units[i].sites.clone();
        for site in &sites {
            match &site.name {
                Some(bytes) => match std::str::from_utf8(bytes) {
                    Ok(name) if crate::plan::valid_module_name(name) => self.require(
                        name,
                        Origin::Required { by: i, line: site.line },
                        Some((i, site)),
                    )?,
                    _ => {
                        let d = Diagnostic::warning(format!(
                            "{}: '{}' is not a module name this bundler can look up",
                            self.graph.chain(i, Some(site.line)),
                            String::from_utf8_lossy(bytes)
                        ));
                        self.push_diag(d, Some((i, site)), "required here");
                    }
                },
                // The runtime's own modules are complete by construction (computed_requires).
                None if self.graph.units[i].runtime => {}
                None => {
                    let d = Diagnostic::warning(format!(
                        "{}:{}:{}: require with a name computed at run time",
                        self.graph.units[i].display, site.line, site.col
                    ))
                    .note("the module it loads is not known at bundle time and will not be bundled")
                    .note("bundle what it may load with -m NAME, -m NAME=FILE or -m 'prefix.*'");
                    self.push_diag(d, Some((i, site)), "not a literal module name");
                }
            }
        }
        Ok(())
    }
}

/// Builds the graph for `plan`: reads and scans every file reached.
pub fn build(plan: &BuildPlan) -> Result<Graph, Error> {
    let cwd = std::env::current_dir().ok().map(|c| lexical_absolute(&c));
    let machine = crate::stub::machine(&plan.stub)?;
    let mut b = Builder {
        plan,
        machine,
        graph: Graph::default(),
        by_name: BTreeMap::new(),
        optional_only: Default::default(),
        cwd,
    };
    if let Some(main) = &plan.main {
        let source = b.read(&main.path, &main.display)?;
        b.add(Unit {
            kind: UnitKind::Lua,
            needs: Vec::new(),
            name: None,
            display: main.display.clone(),
            path: main.path.clone(),
            chunkname: chunkname(&plan.root, &main.path, true),
            source,
            origin: Origin::Main,
            sites: Vec::new(),
            overrides: None,
            runtime: false,
        })?;
    }
    // Explicit modules first, so that they win over discovery.
    for spec in &plan.modules {
        match spec {
            ModuleSpec::File { name, input } => {
                let source = b.read(&input.path, &input.display)?;
                let discovered = match plan.search.resolve(name) {
                    Ok(Found::Lua { shown, path })
                        if path.canonicalize().ok().as_ref() != Some(&input.path) =>
                    {
                        Some(shown)
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
                })?;
            }
            ModuleSpec::Name(name) => b.require(name, Origin::Explicit, None)?,
            ModuleSpec::Glob(prefix) => {
                let names = plan.search.modules_under(prefix);
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
    if plan.interpreter.is_some() && plan.runtime_modules {
        // A bundle built without LuaJIT's tools (BUNDLE_STUB, see build.rs) has none to pack:
        // its interpreter then says that jit.* modules are not installed, as luajit would.
        let shipped = crate::runtime_lua::INTERPRETER_TOOLS.iter();
        for tool in shipped.filter(|t| crate::runtime_lua::jit_module(t).is_some()) {
            b.require(tool, Origin::Runtime, None)?;
        }
    }
    let mut i = 0;
    while i < b.graph.units.len() {
        b.follow(i)?;
        i += 1;
    }
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
        assert_eq!(chunkname(root, Path::new("/app/main.lua"), true), "@main.lua");
        assert_eq!(chunkname(root, Path::new("/app/lib/util.lua"), false), "@./lib/util.lua");
        assert_eq!(
            chunkname(root, Path::new("/usr/share/lua/5.1/x.lua"), false),
            "@/usr/share/lua/5.1/x.lua"
        );
    }
}
