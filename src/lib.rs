//! `bundle`: turns a Lua program into one self-contained executable.
//!
//! The command line (`cli`) is parsed into a validated [`plan::BuildPlan`]; the pipeline then
//! runs one stage per module, each a function from plain data to plain data:
//!
//! - [`graph`]: the set of Lua units to pack (main script + modules), read from disk;
//! - [`compile`]: each unit → LuaJIT bytecode (or checked source), syntax errors reported here;
//! - [`pack`]: the payload (`bundle_runtime::format`, zstd per entry);
//! - [`emit`]: stub + payload → executable, written atomically.
//!
//! [`stub`] provides the host stub embedded at build time (or one given with `--stub`).

pub mod base;
pub mod cli;
pub mod compile;
pub mod deploy;
pub mod graph;
pub mod inspect;
pub mod output;
pub mod plan;
pub mod project;
pub mod trust;

use std::path::{Path, PathBuf};

use base::diag::{self, Diagnostic};
use base::{cleanup, runtime_lua, stub, table, target};
use graph::trace;
use output::{emit, emit_c, pack, program};

/// Everything that can go wrong while bundling; each message names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Problems found in the module graph, rendered with their source lines.
    #[error("{} error(s) in the module graph", .0.iter().filter(|d| d.is_error()).count())]
    Diagnostics(Vec<Diagnostic>),
    #[error(transparent)]
    Compile(#[from] compile::CompileError),
    #[error(transparent)]
    Stub(#[from] stub::StubError),
    #[error(transparent)]
    Linkage(#[from] output::linkage::LinkageError),
    #[error("cannot build the payload: {0}")]
    Pack(#[from] bundle_runtime::format::FormatError),
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
    #[error(transparent)]
    Sign(#[from] trust::sign::SignError),
    #[error("no output was given (-o FILE)")]
    NoOutput,
    #[error(transparent)]
    EmitC(#[from] emit_c::EmitCError),
    #[error(transparent)]
    Trace(#[from] trace::TraceError),
    #[error(transparent)]
    Asset(#[from] graph::assets::AssetError),
    #[error(transparent)]
    Graph(graph::GraphError),
    #[error(transparent)]
    Luarocks(#[from] project::luarocks::LuarocksError),
    #[error(transparent)]
    Manifest(#[from] project::manifest::ManifestError),
    #[error("{source}{hint}")]
    Dependencies { source: Box<project::manifest::DependencyError>, hint: String },
    #[error(transparent)]
    CBuild(#[from] project::cbuild::CBuildError),
    #[error(transparent)]
    Generate(Box<project::generate::GenerateError>),
    #[error("cannot write the trace file {}: {source}", path.display())]
    SaveTrace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--trace: cannot prepare the traced executable: {0}")]
    TraceSetup(std::io::Error),
    #[error("{} would be {size} bytes, more than --max-size {max}; where the bytes go:\n{table}", path.display())]
    TooLarge { path: PathBuf, size: u64, max: u64, table: String },
    #[error(transparent)]
    Sizes(#[from] inspect::InspectError),
    #[error("cannot write the dependency file {}: {source}", path.display())]
    Depfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<graph::GraphError> for Error {
    fn from(e: graph::GraphError) -> Self {
        match e {
            graph::GraphError::Read { path, source } => Error::Read { path, source },
            graph::GraphError::Diagnostics(d) => Error::Diagnostics(d),
            other => Error::Graph(other),
        }
    }
}

/// What a finished build reports for the summary line.
#[derive(Debug)]
pub struct Report {
    pub output: PathBuf,
    pub modules: usize,
    /// Bytes of the program's compiled code and libraries.
    pub raw: u64,
    /// What the back end stored them as: the payload's entries, or the C file's literals.
    pub stored: u64,
    pub output_len: u64,
    /// Warnings to show.
    pub warnings: Vec<Diagnostic>,
    /// What `--trace` found, when it ran.
    pub trace: Option<TraceReport>,
    /// `--emit-c`: the command that compiles and links the C file.
    pub link_line: Option<String>,
    /// How the executable is linked and why (not for `--emit-c` or `--stub`).
    pub linkage: Option<output::linkage::Decision>,
    /// Where the executable's bytes go (not for `--emit-c`).
    pub sizes: Option<inspect::size::Sizes>,
}

/// What the rounds of `--trace` found.
#[derive(Debug, Default)]
pub struct TraceReport {
    /// Each round: how the run ended and the modules it added.
    pub rounds: Vec<(trace::Outcome, Vec<trace::Traced>)>,
    /// Every file the program read, as it named them (asset candidates).
    pub files: Vec<String>,
}

impl TraceReport {
    /// The report lines, for stderr.
    pub fn lines(&self, main: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, (o, added)) in self.rounds.iter().enumerate() {
            let ended = match (o.status, o.signal) {
                (Some(0), _) => "exited with status 0".to_owned(),
                (Some(code), _) => {
                    format!("exited with status {code} (its trace is used all the same)")
                }
                (None, Some(sig)) => {
                    format!("was killed by signal {sig} (its trace is used all the same)")
                }
                (None, None) => "ended".to_owned(),
            };
            let what = if added.is_empty() {
                "nothing new".to_owned()
            } else {
                let names: Vec<String> = added
                    .iter()
                    .map(|m| match &m.kind {
                        Some(k) if k == "c" => format!("{} (C)", m.name),
                        _ => m.name.clone(),
                    })
                    .collect();
                format!("{} module(s) static discovery missed: {}", added.len(), names.join(", "))
            };
            out.push(format!("bundle: --trace run {} of {main} {ended}; added {what}", i + 1));
            if o.status != Some(0) && !o.stderr_tail.is_empty() {
                for l in o.stderr_tail.lines() {
                    out.push(format!("bundle:   | {l}"));
                }
            }
        }
        if !self.files.is_empty() {
            out.push(format!(
                "bundle: --trace: files the program read (asset candidates, not bundled): {}",
                self.files.join(", ")
            ));
            // Traced runs start in bundle's own working directory.
            let cwd = std::env::current_dir().unwrap_or_default();
            let flags = trace::asset_flags(&self.files, &cwd);
            if !flags.is_empty() {
                out.push(format!("bundle: --trace: to embed them, add: {}", flags.join(" ")));
            }
        }
        out.push(
            "bundle: --trace: child processes the program started, if any, were not traced"
                .to_owned(),
        );
        out
    }
}

/// The module of the asset read API (runtime/lua/assets.lua): a name with `/`, which no
/// module of the program can have.
pub const ASSETS_MODULE: &str = "bundle/assets";

/// Rounds of `--trace` before giving up on a program whose every run loads something new.
const TRACE_ROUNDS: usize = 5;

/// The module graph of `request`, with the syntax errors that stop a build raised (the real
/// parser's message). The caller checks `has_errors` for the graph's own verdicts.
pub fn discover(request: &graph::Request, target: &target::Target) -> Result<graph::Graph, Error> {
    let graph = graph::build(request, target)?;
    compile::check_syntax(&graph.units, !request.strict).map_err(|e| located(&graph, e))?;
    Ok(graph)
}

/// A compile error, a syntax error shown with its source line.
fn located(graph: &graph::Graph, e: compile::CompileError) -> Error {
    match e {
        compile::CompileError::Syntax { display, line, message } => {
            Error::Diagnostics(vec![syntax_diagnostic(graph, &display, line, &message)])
        }
        other => Error::Compile(other),
    }
}

/// A syntax error as a diagnostic with its source line: the caret under the token the parser
/// names (`near 'y'`), else under the whole line.
fn syntax_diagnostic(graph: &graph::Graph, display: &str, line: u32, message: &str) -> Diagnostic {
    let d = Diagnostic::error(format!("{display}:{line}: {message}"));
    let Some(unit) = graph.units.iter().find(|u| u.display == display) else { return d };
    let source = &unit.source;
    let mut start = 0;
    for _ in 1..line {
        match source[start..].iter().position(|b| *b == b'\n') {
            Some(i) => start += i + 1,
            None => return d,
        }
    }
    let end = source[start..].iter().position(|b| *b == b'\n').map_or(source.len(), |i| start + i);
    let near = message
        .rsplit_once("near '")
        .and_then(|(_, rest)| rest.strip_suffix('\''))
        .filter(|t| !t.is_empty());
    let span = near
        .and_then(|t| {
            let text = &source[start..end];
            text.windows(t.len())
                .position(|w| w == t.as_bytes())
                .map(|i| start + i..start + i + t.len())
        })
        .unwrap_or(start..end.max(start + usize::from(end == start)).min(source.len().max(start)));
    d.at(diag::Snippet {
        display: display.to_owned(),
        source: source.clone(),
        span,
        label: "here".to_owned(),
    })
}

/// [`discover`], failing on the graph's errors.
fn discover_ok(request: &graph::Request, target: &target::Target) -> Result<graph::Graph, Error> {
    let graph = discover(request, target)?;
    if graph.has_errors() {
        return Err(Error::Diagnostics(graph.diagnostics));
    }
    Ok(graph)
}

/// Runs the traced rounds for `plan`, adding what each run loaded from outside the bundle to
/// `request.traced`, until a run adds nothing.
fn trace_rounds(
    plan: &plan::BuildPlan,
    request: &mut graph::Request,
    files: &program::Files,
    spec: &plan::TracePlan,
    target: &target::Target,
) -> Result<TraceReport, Error> {
    let main = request.main.as_ref().map_or_else(String::new, |m| m.display.clone());
    let dir =
        tempfile::Builder::new().prefix("bundle-trace").tempdir().map_err(Error::TraceSetup)?;
    let exe = dir.path().join("traced");
    let log = dir.path().join("trace.log");
    // Removed on an interrupting signal too (TempDir's destructor would not run).
    let _cleanup = [
        cleanup::register(dir.path(), true),
        cleanup::register(&exe, false),
        cleanup::register(&log, false),
    ];
    let compiler = compile::Compiler::new()?;
    let mut report = TraceReport::default();
    let mounts: Vec<&str> = files.assets.iter().map(|a| a.mount.as_str()).collect();
    // The traced run's working directory, against which it opens relative paths.
    let cwd = std::env::current_dir().unwrap_or_default();
    for _ in 0..TRACE_ROUNDS {
        let graph = discover_ok(request, target)?;
        let mut compiled = compile::compile_all(&graph.units, plan.store, !request.strict)
            .map_err(|e| located(&graph, e))?;
        let recorder = graph::Unit::shipped(
            Some(trace::RECORDER.to_owned()),
            "src/graph/trace.lua (bundle)",
            "=bundle trace",
            trace::recorder_source(&log, &graph.search),
        );
        compiled.push(compiler.compile(&recorder, target::Store::Bytecode { strip: false })?);
        // The traced executable runs the main script (never the interpreter), the recorder
        // required first.
        let mut preloads = request.preloads.clone();
        preloads.insert(0, trace::RECORDER.to_owned());
        let start = program::Start {
            preloads,
            interpreter: None,
            ignore_sigpipe: plan.output.as_ref().is_some_and(|o| o.ignore_sigpipe),
            ..program::Start::default()
        };
        let program = program::Program::new(&graph, compiled, files.clone(), start);
        let (payload, _) = pack::pack(&program)?;
        emit::write_atomically(
            &exe,
            &emit::attach(&target.stub, &payload)?,
            &emit::Inputs::default(),
        )?;
        let _ = std::fs::remove_file(&log);
        std::fs::write(&log, b"").map_err(Error::TraceSetup)?;
        let outcome = trace::run(&exe, &spec.args, &log, spec.timeout, &main)?;
        let known: std::collections::BTreeSet<&str> =
            request.traced.iter().map(|t| t.name.as_str()).collect();
        let added: Vec<trace::Traced> = outcome
            .modules
            .iter()
            .filter(|m| !known.contains(m.name.as_str()))
            .filter(|m| m.name != trace::RECORDER)
            .filter(|m| !request.excludes.iter().any(|p| graph::glob_match(p, &m.name)))
            .cloned()
            .collect();
        // The traced executable carries the assets: a read of one is already embedded.
        report
            .files
            .extend(outcome.files.iter().filter(|f| !trace::is_asset(f, &mounts, &cwd)).cloned());
        let done = added.is_empty();
        request.traced.extend(added.iter().cloned());
        report.rounds.push((outcome, added));
        if done {
            break;
        }
    }
    report.files.sort();
    report.files.dedup();
    Ok(report)
}

/// Runs the whole pipeline for `plan`, which must have an output: the `--trace` rounds first,
/// if asked for, then the build with what they found.
pub fn build(plan: &plan::BuildPlan) -> Result<Report, Error> {
    let output = plan.output.as_ref().ok_or(Error::NoOutput)?;
    // The stub is read and checked once, for every round and the build.
    let mut target = stub::target(&plan.stub, plan.store)?;
    let mut request = plan.graph.clone();
    // The C back end's static C modules provide their modules: never looked up.
    let mut clibs = match &output.emit_c {
        Some(c) => emit_c::read_clibs(&c.c_libs)?,
        None => Vec::new(),
    };
    // A LuaRocks project: its dependencies installed and checked, its C modules compiled.
    let mut warnings = Vec::new();
    let _built = match &plan.project {
        Some(project) => Some(prepare_project(
            project,
            &mut request,
            &target,
            Some(output),
            &mut clibs,
            &mut warnings,
        )?),
        None => None,
    };
    request.provided.extend(clibs.iter().map(|c| c.name.clone()));
    // The static files, checked and read before anything is compiled or written; with them,
    // the runtime provides their read API.
    let files = files(plan)?;
    if files.overlay.is_some() {
        request.provided.push(ASSETS_MODULE.to_owned());
    }
    let trace = match &plan.trace {
        Some(spec) => Some(trace_rounds(plan, &mut request, &files, spec, &target)?),
        None => None,
    };
    let mut graph = discover_ok(&request, &target)?;
    // Static or dynamic: decided once the program's C code is known (the --trace rounds, if
    // any, ran the dynamic stub).
    let linkage = match (&plan.stub, &output.emit_c) {
        (target::StubChoice::Embedded, None) => {
            let decision = output::linkage::decide(
                plan.linkage,
                &graph,
                request.interpreter,
                stub::has_static(),
            )?;
            if decision.linkage == target::Linkage::Static {
                target = stub::target(&target::StubChoice::EmbeddedStatic, plan.store)?;
            }
            Some(decision)
        }
        _ => None,
    };
    // --remap-path-prefix: chunk names (tracebacks, and the bytecode's debug info) remapped
    // before anything is compiled.
    for u in &mut graph.units {
        u.chunkname = output.remap.chunkname(&u.chunkname);
    }
    let inputs = inputs(plan, &graph, &clibs, &files);
    // Checked before any work, so that nothing is compiled for an output that cannot be written.
    inputs.check(&output.path)?;
    if let Some(d) = &output.depfile {
        inputs.check(d).map_err(|e| Error::Depfile {
            path: d.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    // The depfile's text is made before anything is written, so that a path Make cannot
    // express fails the build with nothing written.
    let depfile_text = match &output.depfile {
        Some(depfile) => Some(depfile_rule(plan, &graph, &clibs, &files, &output.path, depfile)?),
        None => None,
    };
    let compiled = compile::compile_all(&graph.units, plan.store, !request.strict)
        .map_err(|e| located(&graph, e))?;
    warnings.splice(0..0, graph.diagnostics.iter().cloned());
    warnings.extend(compile::fallbacks(&graph.units, &compiled));
    let start = program::Start {
        preloads: request.preloads.clone(),
        interpreter: interpreter(plan)?,
        ignore_sigpipe: output.ignore_sigpipe,
        interpreter_entry: plan.start.interpreter_entry.clone(),
        default_entry: plan.start.default_entry.clone(),
        args: plan.start.args.clone(),
        hermetic: plan.start.hermetic,
    };
    let mut report = match &output.emit_c {
        Some(c) => {
            let (compiled, left) = c_back_end_units(&graph, compiled);
            warnings.extend(left);
            let program = program::Program::new(&graph, compiled, files, start);
            build_c(&request, &program, c, &clibs, &output.path, &inputs)?
        }
        None => {
            let roots = bom_roots(&request.search, &target);
            // The project's C modules are compiled into a temporary directory: the bill of
            // materials names them beside the rockspec instead, so that two builds of the
            // same sources are byte-identical.
            let remap = match (&_built, &plan.project) {
                (Some(built), Some(project)) => {
                    let root = project.rockspec.path.parent().unwrap_or(Path::new("."));
                    output.remap.with_rule(built.dir.path(), &output.remap.path(root))
                }
                _ => output.remap.clone(),
            };
            let bom =
                output::bom::build(&graph, &files, &roots, &remap, &target.luajit, &output.flags);
            let mut program = program::Program::new(&graph, compiled, files, start);
            program.manifest = bom.encode();
            for lib in &mut program.libraries {
                lib.path = output.remap.path(&lib.path);
            }
            let (payload, totals) = pack::pack(&program)?;
            let exe = trust::seal(&target.stub, &payload)?;
            // Signed before it is written: the output appears signed or not at all.
            let exe = match &output.sign {
                Some(key) => trust::sign::sign_file_bytes(&exe, key)?,
                None => exe,
            };
            let sizes = inspect::size::sizes_with(&output.path, &exe, false)?;
            if let Some(max) = output.max_size.filter(|max| exe.len() as u64 > *max) {
                return Err(Error::TooLarge {
                    path: output.path.clone(),
                    size: exe.len() as u64,
                    max,
                    table: sizes.render(),
                });
            }
            let mut inputs = inputs.clone();
            if let Some(key) = &output.sign {
                inputs.add(key);
            }
            emit::write_atomically(&output.path, &exe, &inputs)?;
            Report {
                output: output.path.clone(),
                modules: program.modules().count(),
                raw: totals.raw,
                stored: totals.stored,
                output_len: exe.len() as u64,
                warnings: Vec::new(),
                trace: None,
                link_line: None,
                linkage,
                sizes: Some(sizes),
            }
        }
    };
    if let (Some(depfile), Some(text)) = (&output.depfile, depfile_text) {
        emit::write_atomically_with_mode(depfile, &text, 0o644, &inputs).map_err(|e| {
            Error::Depfile { path: depfile.clone(), source: std::io::Error::other(e.to_string()) }
        })?;
    }
    if let Some(save) = plan.trace.as_ref().and_then(|t| t.save.as_ref()) {
        let main = request.main.as_ref().map_or("", |m| m.display.as_str());
        // Everything traced so far, --modules-from included, so that the traces of several
        // runs accumulate in one file.
        let text = trace::module_list(&request.traced, main);
        emit::write_atomically_with_mode(save, text.as_bytes(), 0o644, &inputs).map_err(|e| {
            Error::SaveTrace { path: save.clone(), source: std::io::Error::other(e.to_string()) }
        })?;
    }
    report.warnings = warnings;
    report.trace = trace;
    Ok(report)
}

/// The places modules are looked up from, for the bill of materials: the main script's
/// directory, the `-I` roots, the directories of `LUA_PATH`/`LUA_CPATH` templates, and the
/// LuaRocks trees with the rock (and its installed rockspec's licence) of each module.
fn bom_roots(
    search: &graph::resolve::SearchConfig,
    target: &target::Target,
) -> Vec<output::bom::Root> {
    use output::bom::Root;
    use std::os::unix::ffi::OsStrExt;
    let mut roots =
        vec![Root { kind: "main", dir: search.root.clone(), rocks: Default::default() }];
    roots.extend(search.includes.iter().map(|d| Root {
        kind: "include",
        dir: d.clone(),
        rocks: Default::default(),
    }));
    for var in [&search.env_path, &search.env_cpath].into_iter().flatten() {
        for template in var.split(|b| *b == b';') {
            // `/opt/lua/?.lua` → `/opt/lua`: the part before the first `?`, up to a `/`.
            let head = template.split(|b| *b == b'?').next().unwrap_or_default();
            let Some(end) = head.iter().rposition(|b| *b == b'/') else { continue };
            let dir = Path::new(std::ffi::OsStr::from_bytes(&head[..end]));
            if dir.is_absolute() {
                roots.push(Root {
                    kind: "path",
                    dir: dir.to_path_buf(),
                    rocks: Default::default(),
                });
            }
        }
    }
    for tree in &search.trees {
        roots.push(Root {
            kind: "tree",
            dir: tree.clone(),
            rocks: project::manifest::rocks_by_module(tree, target.multiarch)
                .into_iter()
                .map(|(m, (name, version, license))| {
                    (m, output::bom::Rock { name, version, license })
                })
                .collect(),
        });
    }
    roots
}

/// The module graph of `plan` for what writes nothing (`--list`, `why`, `bundle rockspec`): the
/// project's dependencies checked and its C modules compiled first, as the build does, so that
/// they are in the graph. The returned guard holds the compiled modules while the graph is used.
pub fn discover_plan(plan: &plan::BuildPlan) -> Result<(graph::Graph, Option<impl Drop>), Error> {
    let target = stub::target(&plan.stub, plan.store)?;
    let mut request = plan.graph.clone();
    let mut warnings = Vec::new();
    let built = match &plan.project {
        Some(project) => Some(prepare_project(
            project,
            &mut request,
            &target,
            None,
            &mut Vec::new(),
            &mut warnings,
        )?),
        None => None,
    };
    let mut graph = discover(&request, &target)?;
    graph.diagnostics.extend(warnings);
    Ok((graph, built))
}

/// A `builtin` rockspec for the program of `plan` (`bundle rockspec`), its paths relative to
/// `dir` (where the rockspec will be): the program's own Lua modules (those under the main
/// script's directory, outside every tree), the main script as `build.install.bin`, and as
/// dependencies the rocks that provide the modules found in LuaRocks trees, pinned with `~>` at
/// the installed versions. Returns the text and warnings for what a rockspec cannot express.
pub fn rockspec_for(
    plan: &plan::BuildPlan,
    dir: &Path,
    package: &str,
    version: &str,
) -> Result<(String, Vec<Diagnostic>), Error> {
    use project::{generate, manifest};
    let (graph, _built) = discover_plan(plan)?;
    if graph.has_errors() {
        return Err(Error::Diagnostics(graph.diagnostics));
    }
    let mut warnings = graph.diagnostics.clone();
    let mut trees = Vec::new();
    for t in &plan.graph.search.trees {
        if t.is_dir() {
            trees.push(manifest::Tree::open(t)?);
        }
    }
    let root = &plan.graph.root;
    let mut program = generate::Program {
        package: package.to_owned(),
        version: version.to_owned(),
        ..generate::Program::default()
    };
    for u in graph.units.iter().filter(|u| !u.runtime) {
        let rel = relative_to(&u.path, dir);
        if u.is_main() {
            // The command LuaRocks installs is named after the rock.
            program.bin.insert(package.to_owned(), rel);
            continue;
        }
        let Some(name) = u.name.clone() else { continue };
        if let Some(tree) = trees.iter().find(|t| u.path.starts_with(&t.root)) {
            match tree.provider(&name) {
                Some(rock) => {
                    program.dependencies.insert(rock.name.clone(), rock.version.clone());
                }
                None => warnings.push(Diagnostic::warning(format!(
                    "module '{name}' ({}) is in the tree {} but no installed rock lists it: add its rock to dependencies by hand",
                    u.display,
                    tree.root.display()
                ))),
            }
        } else if u.kind == graph::UnitKind::Native {
            warnings.push(Diagnostic::warning(format!(
                "C module '{name}' ({}) was found compiled, not as sources: add its rock to dependencies, or its sources to build.modules, by hand",
                u.display
            )));
        } else if u.path.starts_with(root) {
            program.lua_modules.insert(name, rel);
        } else {
            warnings.push(Diagnostic::warning(format!(
                "module '{name}' comes from {}, outside the program and every LuaRocks tree: add the rock that provides it to dependencies by hand",
                u.display
            )));
        }
    }
    let text = generate::rockspec(&program).map_err(|e| Error::Generate(Box::new(e)))?;
    Ok((text, warnings))
}

/// `path` relative to the directory `dir` (both absolute): `lib/x.lua`, `../src/x.lua`.
fn relative_to(path: &Path, dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let common = path.components().zip(dir.components()).take_while(|(a, b)| a == b).count();
    let ups = dir.components().count() - common;
    let mut out = PathBuf::new();
    for _ in 0..ups {
        out.push("..");
    }
    for c in path.components().skip(common) {
        out.push(c);
    }
    out.to_string_lossy().into_owned()
}

/// The project's part of the build, before the graph: `--install-deps` runs luarocks into the
/// project tree; the dependencies are checked against the trees (a missing one is an error
/// that suggests `--install-deps`); the C modules are compiled, for the executable as shared
/// objects added to the request (in the returned directory, which must outlive the build),
/// for `--emit-c` as static archives written beside the C file and linked like `--c-lib`.
fn prepare_project(
    project: &plan::ProjectPlan,
    request: &mut graph::Request,
    target: &target::Target,
    output: Option<&plan::OutputPlan>,
    clibs: &mut Vec<emit_c::CLib>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<ProjectBuilt, Error> {
    use project::{cbuild, luarocks, manifest};
    let rockspec = &project.rockspec;
    if project.install_deps {
        luarocks::install_deps(&rockspec.path, &project.tree, project.rocks_server.as_deref())?;
        if !request.search.trees.contains(&project.tree) {
            request.search.trees.insert(0, project.tree.clone());
        }
    }
    let mut trees = Vec::new();
    for t in project.trees.iter().chain(std::iter::once(&project.tree)) {
        if t.is_dir() {
            // Compared once opened: a tree's root is absolute, `--tree` may be relative.
            let tree = manifest::Tree::open(t)?;
            if !trees.iter().any(|x: &manifest::Tree| x.root == tree.root) {
                trees.push(tree);
            }
        }
    }
    let runtime = manifest::Runtime::new(Some(&target.luajit));
    manifest::check(rockspec, &trees, &runtime).map_err(|source| Error::Dependencies {
        source: Box::new(source),
        hint: if project.install_deps {
            String::new()
        } else {
            "; install them with --install-deps (and --rocks-server URL|DIR), or give their tree with --tree DIR".into()
        },
    })?;
    let dir =
        tempfile::Builder::new().prefix("bundle-cbuild").tempdir().map_err(Error::TraceSetup)?;
    let mut built = ProjectBuilt {
        dir,
        before: output.and_then(|o| file_identity(&o.path)),
        output: output.map(|o| o.path.clone()).unwrap_or_default(),
        created: Vec::new(),
    };
    for m in &project.c_modules {
        if let Some(output) = output.filter(|o| o.emit_c.is_some()) {
            let archive = cbuild::compile_static(m)?;
            push_compiler_warnings(warnings, &archive.name, &archive.warnings);
            // Beside the C file, where its link line names it: `app.c` → `app.c.clibs/`.
            let mut libs_dir = output.path.clone().into_os_string();
            libs_dir.push(".clibs");
            let libs_dir = PathBuf::from(libs_dir);
            if !libs_dir.exists() {
                built.created.push(libs_dir.clone());
            }
            std::fs::create_dir_all(&libs_dir)
                .map_err(|source| Error::Read { path: libs_dir.clone(), source })?;
            let file = libs_dir.join(&archive.file_name);
            if !file.exists() {
                built.created.push(file.clone());
            }
            emit::write_atomically_with_mode(
                &file,
                &archive.archive,
                0o644,
                &emit::Inputs::default(),
            )?;
            let spec = format!("{}={}", m.name, file.display());
            clibs.extend(emit_c::read_clib(&spec)?);
        } else {
            let shared = compile_shared_cached(m, target)?;
            push_compiler_warnings(warnings, &shared.name, &shared.warnings);
            let file = built.dir.path().join(format!("{}.so", shared.name));
            std::fs::write(&file, &shared.bytes)
                .map_err(|source| Error::Read { path: file.clone(), source })?;
            request.modules.push(graph::ModuleSpec::Native {
                name: shared.name.clone(),
                input: base::input::Input { display: shared.display.clone(), path: file },
            });
        }
    }
    Ok(built)
}

/// A project's C module as a shared object, from the build cache when `BUNDLE_CBUILD_CACHE`
/// names one (the Heroku buildpack points it at CACHE_DIR; docs/deploy.md): a file
/// `<key>.so` there, the key a SHA-256 of what the compilation reads that bundle can name
/// ([`cbuild_cache_key`]). A cached object is checked as a compiled one is; one that fails the
/// check, or a cache that cannot be written, only means compiling.
fn compile_shared_cached(
    m: &project::cbuild::CModule,
    target: &target::Target,
) -> Result<project::cbuild::Built, Error> {
    use project::cbuild;
    let Some(dir) = std::env::var_os("BUNDLE_CBUILD_CACHE").filter(|d| !d.is_empty()) else {
        return Ok(cbuild::compile_shared(m, target.machine)?);
    };
    let file = Path::new(&dir).join(format!("{}.so", cbuild_cache_key(m, target)));
    if let Ok(bytes) = std::fs::read(&file) {
        let symbol = bundle_runtime::luaopen_symbol(m.name.as_bytes());
        if base::native::check(&bytes, target.machine, Some(&symbol)).is_ok() {
            let display = m.sources.first().map(|s| s.display().to_string()).unwrap_or_default();
            return Ok(cbuild::Built {
                name: m.name.clone(),
                bytes,
                display,
                warnings: String::new(),
            });
        }
    }
    let built = cbuild::compile_shared(m, target.machine)?;
    let _ = std::fs::create_dir_all(&dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(&dir))
        .and_then(|tmp| {
            std::fs::write(tmp.path(), &built.bytes)?;
            tmp.persist(&file).map(drop).map_err(|e| e.error)
        });
    Ok(built)
}

/// The build cache's key for `m`: this bundle executable (its compiler flags and LuaJIT
/// headers), the target machine, `CC`/`CFLAGS`/`CPPFLAGS`/`LDFLAGS`/`SOURCE_DATE_EPOCH`, the
/// module's rockspec entry, its sources' contents, and every file beside a source and under an
/// include directory. A header reached some other way (`#include "../x.h"`) is not covered.
/// Paths count relative to the rockspec's directory, which the compiler maps away (a Heroku
/// BUILD_DIR is new at every build); with `libdirs`, whose absolute paths go into the object
/// as its rpath, the directory counts too.
fn cbuild_cache_key(m: &project::cbuild::CModule, target: &target::Target) -> String {
    use sha2::Digest;
    use std::os::unix::ffi::OsStrExt;
    let mut h = sha2::Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&std::env::current_exe().and_then(std::fs::read).unwrap_or_default());
    field(&target.machine.to_le_bytes());
    field(target.luajit.as_bytes());
    for var in ["CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "SOURCE_DATE_EPOCH"] {
        field(std::env::var_os(var).unwrap_or_default().as_bytes());
    }
    let spec = (&m.name, &m.sources, &m.defines, &m.incdirs, &m.libraries, &m.libdirs);
    field(format!("{spec:?}").as_bytes());
    if !m.libdirs.is_empty() {
        field(m.root.as_os_str().as_bytes());
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let mut dirs: Vec<(PathBuf, bool)> = m.incdirs.iter().map(|d| (m.root.join(d), true)).collect();
    for s in &m.sources {
        files.push(m.root.join(s));
        dirs.extend(m.root.join(s).parent().map(|d| (d.to_path_buf(), false)));
    }
    while let Some((dir, deep)) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() && deep => dirs.push((e.path(), true)),
                Ok(t) if t.is_file() => files.push(e.path()),
                _ => {}
            }
        }
    }
    files.sort();
    files.dedup();
    for f in files {
        field(f.strip_prefix(&m.root).unwrap_or(&f).as_os_str().as_bytes());
        field(&std::fs::read(&f).unwrap_or_default());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`prepare_project`] leaves to the rest of the build: the directory of the compiled
/// shared objects, and the static archives it wrote beside the C file. Those are outputs: if
/// the build ends without writing the C file (an error after this stage, or in it), the
/// archives and the directory that did not exist before are removed when this is dropped, so
/// that a failed build leaves no file behind.
struct ProjectBuilt {
    dir: tempfile::TempDir,
    /// The output, and its identity before the build: written, it is a new file (renamed into
    /// place), so an unchanged identity means the build did not write it.
    output: PathBuf,
    before: Option<(u64, u64)>,
    /// Created here, in order (the directory before its files).
    created: Vec<PathBuf>,
}

impl Drop for ProjectBuilt {
    fn drop(&mut self) {
        if self.created.is_empty() || file_identity(&self.output) != self.before {
            return;
        }
        for path in self.created.iter().rev() {
            let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir(path));
        }
    }
}

/// A file's device and inode, if it exists.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// What a compiler printed although it succeeded, as a warning naming the module.
fn push_compiler_warnings(warnings: &mut Vec<Diagnostic>, module: &str, text: &str) {
    if !text.trim().is_empty() {
        warnings.push(Diagnostic::warning(format!(
            "C module '{module}': the compiler warned:\n{}",
            text.trim_end()
        )));
    }
}

/// Every file the build reads: the main script, each module and library packed, the stub, the
/// `--c-lib` archives and the `--modules-from` list. No output may replace one of them.
fn inputs(
    plan: &plan::BuildPlan,
    graph: &graph::Graph,
    clibs: &[emit_c::CLib],
    files: &program::Files,
) -> emit::Inputs {
    let mut inputs = emit::Inputs::default();
    for u in graph.units.iter().filter(|u| !u.runtime) {
        inputs.add(&u.path);
    }
    for lib in graph.libraries.values() {
        inputs.add(&lib.path);
    }
    if let target::StubChoice::File(p) = &plan.stub {
        inputs.add(p);
    }
    for f in plan.extra_inputs.iter() {
        inputs.add(f);
    }
    for lib in clibs {
        inputs.add(&lib.file);
    }
    for a in &files.assets {
        inputs.add(&a.file);
    }
    inputs
}

/// The `--asset` files, and the overlay that reads them (compiled like the interpreter).
fn files(plan: &plan::BuildPlan) -> Result<program::Files, Error> {
    let assets = graph::assets::collect(&plan.assets, &plan.asset_excludes)?;
    if assets.is_empty() {
        return Ok(program::Files::default());
    }
    // The host runs the boot at start-up; it loads the overlay on the first use of a file.
    let compiler = compile::Compiler::new()?;
    let unit = |label, source| graph::Unit::shipped(None, label, "=[C]", source);
    let chunk = compiler.compile(
        &unit("runtime/lua/assets.lua (runtime)", runtime_lua::assets_source()),
        runtime_store(plan.store),
    )?;
    let boot = compiler.compile(
        &unit("runtime/lua/assets_boot.lua (runtime)", runtime_lua::assets_boot_source()),
        runtime_store(plan.store),
    )?;
    Ok(program::Files { assets, overlay: Some(program::Overlay { boot, chunk }) })
}

/// How the runtime's own Lua (interpreter, asset overlay) is stored: stripped bytecode whatever
/// the program's setting (it is loaded at every start, and debug info would make that load a
/// fifth slower), or source with `--source`.
fn runtime_store(store: target::Store) -> target::Store {
    match store {
        target::Store::Bytecode { .. } => target::Store::Bytecode { strip: true },
        source => source,
    }
}

/// The interpreter (runtime/lua/interp.lua), if the plan has one, stored like the modules.
fn interpreter(plan: &plan::BuildPlan) -> Result<Option<program::Interpreter>, Error> {
    if !plan.graph.interpreter {
        return Ok(None);
    }
    let unit = graph::Unit::shipped(
        None,
        "runtime/lua/interp.lua (runtime)",
        "=interpreter",
        runtime_lua::interpreter_source(),
    );
    let chunk = compile::Compiler::new()?.compile(&unit, runtime_store(plan.store))?;
    Ok(Some(program::Interpreter { chunk, env: plan.interpreter_env.clone() }))
}

/// What the C back end can embed of the compiled units, and warnings for the rest: a
/// shared-object C module cannot go into C source. One the program may never load (required
/// lazily, conditionally, under pcall) is left to package.cpath at run time, as luajit would find
/// it; one it needs at start stays an error (`emit_c::generate`).
fn c_back_end_units(
    graph: &graph::Graph,
    compiled: Vec<compile::Compiled>,
) -> (Vec<compile::Compiled>, Vec<Diagnostic>) {
    let (kept, left): (Vec<_>, Vec<_>) =
        compiled.into_iter().zip(&graph.units).partition(|(c, u)| {
            c.kind != bundle_runtime::format::Kind::Native || u.when >= graph::When::Explicit
        });
    let warnings = left
        .into_iter()
        .map(|(_, u)| {
            diag::Diagnostic::warning(format!(
                "C module '{}' ({}) is a shared object, which a C file cannot embed: it is needed only {}, so the program loads it from package.cpath when it requires it, as luajit would",
                u.label(),
                u.display,
                u.when
            ))
            .note("link its static library with --c-lib to make the program self-contained")
        })
        .collect();
    (kept.into_iter().map(|(c, _)| c).collect(), warnings)
}

/// The C back end: `program` written as one C file, compiled too with `--cc`.
fn build_c(
    request: &graph::Request,
    program: &program::Program,
    c: &plan::EmitC,
    clibs: &[emit_c::CLib],
    output: &Path,
    inputs: &emit::Inputs,
) -> Result<Report, Error> {
    let entries: Vec<String> =
        request.entries.iter().map(|(n, i)| format!("{n}={}", i.display)).collect();
    let from = match &request.main {
        Some(m) => m.display.clone(),
        None if !entries.is_empty() => format!("the entries {}", entries.join(", ")),
        None => "no main script (an interpreter)".to_owned(),
    };
    let header = emit_c::header(&from, output, clibs);
    let text = emit_c::generate(program, clibs, &header)?;
    if let Some(exe) = &c.compile_to {
        inputs.check(exe)?;
    }
    emit::write_atomically_with_mode(output, text.as_bytes(), 0o644, inputs)?;
    if let Some(exe) = &c.compile_to {
        // The compiler writes a temporary file beside the executable, renamed into place.
        let mut failure = None;
        let written = emit::write_with(exe, 0o755, inputs, |tmp| {
            emit_c::compile(output, tmp, clibs).map_err(|e| {
                failure = Some(e);
                std::io::Error::other("the C compiler failed")
            })
        });
        if let Some(e) = failure {
            return Err(e.into());
        }
        written?;
    }
    Ok(Report {
        output: output.to_path_buf(),
        modules: program.modules().count(),
        raw: program.units.iter().map(|u| u.data.len() as u64).sum(),
        // The C literals the program's code became.
        stored: text.len() as u64,
        output_len: text.len() as u64,
        warnings: Vec::new(),
        trace: None,
        link_line: Some(emit_c::link_line(output, clibs)),
        linkage: None,
        sizes: None,
    })
}

/// The depfile's rule: the output and every file the build reads.
fn depfile_rule(
    plan: &plan::BuildPlan,
    graph: &graph::Graph,
    clibs: &[emit_c::CLib],
    files: &program::Files,
    output: &Path,
    depfile: &Path,
) -> Result<Vec<u8>, Error> {
    // C modules built from source appear by their sources (the project's extra inputs), not by
    // the temporary shared object.
    let built = |u: &&graph::Unit| {
        u.kind == graph::UnitKind::Native
            && plan
                .project
                .as_ref()
                .is_some_and(|p| p.c_modules.iter().any(|m| Some(&m.name) == u.name.as_ref()))
    };
    let units = graph.units.iter().filter(|u| !u.runtime).filter(|u| !built(u));
    let mut deps: Vec<&Path> = units.map(|u| u.path.as_path()).collect();
    deps.extend(graph.libraries.values().map(|l| l.path.as_path()));
    if let target::StubChoice::File(p) = &plan.stub {
        deps.push(p);
    }
    deps.extend(clibs.iter().map(|c| c.file.as_path()));
    deps.extend(plan.extra_inputs.iter().map(PathBuf::as_path));
    deps.extend(files.assets.iter().map(|a| a.file.as_path()));
    deps.dedup();
    // Make has no way to write a newline in a file name.
    if let Some(bad) =
        deps.iter().chain([&output]).find(|p| p.as_os_str().as_encoded_bytes().contains(&b'\n'))
    {
        return Err(Error::Depfile {
            path: depfile.to_path_buf(),
            source: std::io::Error::other(format!(
                "{bad:?} has a newline in its name, which a Make rule cannot express"
            )),
        });
    }
    Ok(make_rule(output, &deps))
}

/// A Make rule `target: deps...`, with spaces, `#`, `:` and `$` escaped as GNU make and ninja
/// read them.
/// Paths are written as their bytes (a file name need not be UTF-8; Make reads bytes).
pub fn make_rule(target: &Path, deps: &[&Path]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let esc = |out: &mut Vec<u8>, p: &Path| {
        for &b in p.as_os_str().as_bytes() {
            match b {
                b'$' => out.extend_from_slice(b"$$"),
                b' ' | b'#' | b':' => out.extend_from_slice(&[b'\\', b]),
                _ => out.push(b),
            }
        }
    };
    let mut out = Vec::new();
    esc(&mut out, target);
    out.push(b':');
    for d in deps {
        out.extend_from_slice(b" \\\n  ");
        esc(&mut out, d);
    }
    out.push(b'\n');
    out
}

/// The `--list` table: every module with its kind, when the program may load it (the strongest
/// chain of requires: load-time, conditional, lazy, optional, inferred, traced...), its size,
/// file and first requirer.
pub fn list_table(graph: &graph::Graph) -> String {
    let mut rows: Vec<[String; 6]> =
        vec![["NAME", "KIND", "WHEN", "SIZE", "FILE", "REQUIRED BY"].map(String::from)];
    for u in &graph.units {
        let kind = match (u.is_main(), u.kind) {
            _ if u.entry().is_some() => "entry",
            (true, _) => "main",
            (false, graph::UnitKind::Lua) => "lua",
            (false, graph::UnitKind::Native) => "c",
        };
        let by = match &u.origin {
            graph::Origin::Main => "-".to_owned(),
            graph::Origin::Entry(name) => format!("--entry {name}"),
            graph::Origin::Explicit => match &u.overrides {
                Some(shadowed) => format!("-m (overrides {shadowed})"),
                None => "-m".to_owned(),
            },
            graph::Origin::Glob(p) => format!("-m '{p}'"),
            graph::Origin::Preload => "-l".to_owned(),
            graph::Origin::Runtime => "(interpreter)".to_owned(),
            graph::Origin::Traced => "--trace".to_owned(),
            graph::Origin::Required { by, line } => format!("{}:{line}", graph.units[*by].display),
        };
        let (size, file) = match &u.shares {
            Some(owner) => ("0".to_owned(), format!("{} (in {owner})", u.display)),
            None => (u.source.len().to_string(), u.display.clone()),
        };
        rows.push([u.label().to_owned(), kind.to_owned(), u.when.to_string(), size, file, by]);
    }
    for (name, lib) in &graph.libraries {
        rows.push([
            name.clone(),
            "lib".to_owned(),
            "-".to_owned(),
            lib.bytes.len().to_string(),
            lib.path.display().to_string(),
            format!("needed by {}", lib.needed_by),
        ]);
    }
    for (name, (what, first)) in &graph.unpacked {
        let (kind, file) = match what {
            graph::Unpacked::Missing { .. } => ("missing", "-".to_owned()),
            graph::Unpacked::CModule { shown, .. } => ("c (not packed)", shown.clone()),
            graph::Unpacked::Directory { shown, .. } => ("unloadable", shown.clone()),
            graph::Unpacked::Provided { by: (u, line) } => {
                ("provided", format!("package.preload at {}:{line}", graph.units[*u].display))
            }
            graph::Unpacked::Excluded => ("excluded", "-".to_owned()),
        };
        let by =
            first.map_or("-".to_owned(), |(u, line)| format!("{}:{line}", graph.units[u].display));
        let when = graph.asked(name).map_or("-".to_owned(), |w| w.to_string());
        rows.push([name.clone(), kind.to_owned(), when, "-".to_owned(), file, by]);
    }
    table::render(&rows, &[3])
}
