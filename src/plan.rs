//! The validated build plan: command-line flags resolved into canonical paths, module names and
//! an output mode. Every check that needs no file contents happens here, before any work, so
//! that a bad invocation fails fast and leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::base::input::Input;
use crate::base::lua::{is_builtin, valid_module_name};
use crate::base::target::{LinkChoice, Store, StubChoice};
use crate::cli::{Cli, GraphArgs};
use crate::graph::assets::AssetSpec;
use crate::graph::resolve::SearchConfig;
use crate::graph::{ModuleSpec, Request};
use crate::project::cbuild::CModule;
use crate::project::rockspec::{Rockspec, Vars};

/// Everything the pipeline needs, checked, grouped by the stage that reads it.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    /// What decides the module graph: the graph stage's own input.
    pub graph: Request,
    /// `--interpreter-env NAME`: with a main script, run the interpreter when NAME is set.
    pub interpreter_env: Option<String>,
    /// How the program starts besides its code: the interpreter entry, the default entry,
    /// baked arguments, hermetic mode.
    pub start: StartPlan,
    /// `--trace`: run the program to find what it loads.
    pub trace: Option<TracePlan>,
    /// Files read besides the program's own (`--modules-from`): never overwritten.
    pub extra_inputs: Vec<PathBuf>,
    pub stub: StubChoice,
    /// `--static`, `--dynamic` or neither (src/output/linkage.rs decides).
    pub linkage: LinkChoice,
    pub store: Store,
    pub quiet: bool,
    /// `None` when nothing is to be written (`--list`, `why`).
    pub output: Option<OutputPlan>,
    /// `--asset`, `--asset-exclude`: the static files the program carries.
    pub assets: Vec<AssetSpec>,
    pub asset_excludes: Vec<String>,
    /// The LuaRocks project the program is, if any.
    pub project: Option<ProjectPlan>,
    /// What the user should know about how the plan was read (a rockspec picked up).
    pub notes: Vec<String>,
}

/// A LuaRocks project: `--rockspec FILE`, or the one rockspec beside the main script.
#[derive(Debug, Clone)]
pub struct ProjectPlan {
    pub rockspec: Rockspec,
    /// Its `builtin` C modules, compiled before the graph is built.
    pub c_modules: Vec<CModule>,
    /// The tree `--install-deps` installs into: `lua_modules/` beside the rockspec (LuaRocks'
    /// project tree), or the first `--tree`.
    pub tree: PathBuf,
    /// The trees its dependencies are checked in (those that exist at build time).
    pub trees: Vec<PathBuf>,
    pub install_deps: bool,
    pub rocks_server: Option<String>,
}

/// What is written, and how.
#[derive(Debug, Clone)]
pub struct OutputPlan {
    pub path: PathBuf,
    pub depfile: Option<PathBuf>,
    /// Ignore SIGPIPE in the program (`--sigpipe ignore`).
    pub ignore_sigpipe: bool,
    /// `--emit-c`: a C file instead of an executable.
    pub emit_c: Option<EmitC>,
    /// `--remap-path-prefix`: how recorded paths are rewritten.
    pub remap: crate::base::remap::Remap,
    /// `--max-size`: the largest executable the build may write.
    pub max_size: Option<u64>,
    /// The flags that shaped the program, normalised for the bill of materials.
    pub flags: Vec<String>,
    /// `--sign KEY`: the private key that signs the executable.
    pub sign: Option<PathBuf>,
}

/// The `--trace` settings.
#[derive(Debug, Clone)]
pub struct TracePlan {
    /// The arguments of the traced run.
    pub args: Vec<std::ffi::OsString>,
    pub timeout: std::time::Duration,
    /// `--save-trace`: where to write the modules it added.
    pub save: Option<PathBuf>,
}

/// `--entry NAME=@interpreter`, `--default`, `--args`, `--entry-args`, `--hermetic`. The entry
/// points' scripts are the graph's ([`Request::entries`]).
#[derive(Debug, Clone, Default)]
pub struct StartPlan {
    /// The entry that runs the interpreter (`--entry NAME=@interpreter`).
    pub interpreter_entry: Option<String>,
    /// `--default NAME`.
    pub default_entry: Option<String>,
    /// Baked arguments, split: the entry's name (empty: the program's default, `--args`) and
    /// its words, `...` marking where the user's arguments go.
    pub args: Vec<(String, Vec<String>)>,
    /// `--hermetic`.
    pub hermetic: bool,
}

/// The `--emit-c` settings.
#[derive(Debug, Clone)]
pub struct EmitC {
    /// The `--c-lib` specs (`FILE` or `NAME=FILE`), read by the C back end.
    pub c_libs: Vec<String>,
    /// `--cc`: compile to this executable too.
    pub compile_to: Option<PathBuf>,
}

/// A flag or path that cannot work; the message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{display}: no such file")]
    Missing { display: String },
    #[error("{display}: is a directory, expected a Lua file")]
    IsDirectory { display: String },
    #[error("{display}: is not a regular file (a device, FIFO or socket)")]
    NotAFile { display: String },
    #[error("{display}: {source}")]
    Inaccessible {
        display: String,
        #[source]
        source: std::io::Error,
    },
    #[error("-m {0}: expected NAME=FILE, NAME or 'prefix.*', e.g. -m lib.util=lib/util.lua")]
    ModuleSyntax(String),
    #[error(
        "-m {0}: '{1}' is not a valid module name (dot-separated, no spaces, no path separators)"
    )]
    ModuleName(String, String),
    #[error("-m {spec}: {source}")]
    ModuleFile {
        spec: String,
        #[source]
        source: Box<PlanError>,
    },
    #[error("-l {0}: not a valid module name")]
    PreloadName(String),
    #[error("module '{0}' is given twice with -m")]
    DuplicateModule(String),
    #[error("module '{0}' is built into the runtime and cannot be replaced with -m")]
    BuiltinModule(String),
    #[error("-I {0}: not a directory")]
    IncludeDir(String),
    #[error("--tree {0}: not a directory")]
    TreeDir(String),
    #[error("{0}: a directory searched for modules cannot contain '?' or ';' (a search template would replace '?' with the module name and split at ';', as LUA_PATH does); rename the directory or link it elsewhere")]
    TemplateChar(String),
    #[error("output {display}: the directory {dir} does not exist")]
    OutputDirMissing { display: String, dir: String },
    #[error("output {0}: is a directory")]
    OutputIsDirectory(String),
    #[error("output {0}: ends with '/', so it names a directory; give a file path")]
    OutputNamesDirectory(String),
    #[error("output {0}: is not a regular file (a device, FIFO or socket); give a file path (use --list to see the modules without writing anything)")]
    OutputNotAFile(String),
    #[error(
        "--cc: the output {0} must end in .c (the executable is written beside it, without .c)"
    )]
    CcNeedsDotC(String),
    #[error("--interpreter-env {0}: not a usable environment variable name")]
    InterpreterEnv(String),
    #[error(transparent)]
    Rockspec(Box<crate::project::rockspec::RockspecError>),
    #[error("{0}: no main script: the rockspec has no build.install.bin; give the main script (bundle MAIN.lua --rockspec {0})")]
    RockspecNoMain(String),
    #[error(
        "{0}: build.install.bin names several programs ({1}); give the one to build as MAIN.lua"
    )]
    RockspecSeveralMains(String, String),
    #[error("--install-deps needs a rockspec: give --rockspec FILE (or put the one rockspec beside the main script)")]
    InstallDepsWithoutRockspec,
    #[error("output {display} is inside the asset directory {dir}: the next build would embed it; write it elsewhere, or leave it out with --asset-exclude")]
    OutputInAssets { display: String, dir: String },
    #[error("output {display} is also an input ({what}); choose another output path")]
    OutputIsInput { display: String, what: String },
    #[error("{display}: {what} would be the same file as {other}; give each output its own path")]
    SameOutput { display: String, what: String, other: String },
    #[error(transparent)]
    ModulesFrom(crate::graph::trace::TraceError),
    #[error("--trace needs the program's arguments after `--` (e.g. `--trace -- spec/`, or `--trace --` for none)")]
    TraceWithoutDashDash,
    #[error("arguments after `--` are for --trace, which is not given")]
    ArgsWithoutTrace,
    #[error("{0}: MAIN.lua and --entry cannot be combined; make the main script an entry too (--entry main={0})")]
    MainWithEntries(String),
    #[error("--entry {0}: expected NAME=FILE or NAME=@interpreter, e.g. --entry web=web.lua")]
    EntrySyntax(String),
    #[error("--entry {0}: '{1}' is not an entry name: ASCII letters, digits, '_' and '-', 1 to 128 of them (Heroku's process-type rule; the name is also a file name for `bundle links` and a Procfile process type)")]
    EntryName(String, String),
    #[error("entry '{0}' is given twice with --entry")]
    DuplicateEntry(String),
    #[error("--entry {spec}: {source}")]
    EntryFile {
        spec: String,
        #[source]
        source: Box<PlanError>,
    },
    #[error(
        "--entry {0}=@interpreter: the interpreter is already the entry '{1}'; give it one name"
    )]
    TwoInterpreterEntries(String, String),
    #[error("--default {0}: {1}")]
    DefaultNoEntry(String, String),
    #[error(
        "--entry-args {0}: expected NAME='ARG ...', e.g. --entry-args worker='--queue jobs ...'"
    )]
    EntryArgsSyntax(String),
    #[error("--entry-args {0}: {1}")]
    EntryArgsNoEntry(String, String),
    #[error("--entry-args: entry '{0}' is given twice")]
    EntryArgsTwice(String),
    #[error("{flag}: {source}")]
    BakedArgs {
        flag: String,
        #[source]
        source: crate::base::shell::ShellError,
    },
}

impl PlanError {
    /// Whether the command line itself is wrong (exit status 2, as for clap's own errors),
    /// rather than a file it names.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            PlanError::ModuleSyntax(_)
                | PlanError::ModuleName(..)
                | PlanError::PreloadName(_)
                | PlanError::DuplicateModule(_)
                | PlanError::BuiltinModule(_)
                | PlanError::CcNeedsDotC(_)
                | PlanError::InterpreterEnv(_)
                | PlanError::TraceWithoutDashDash
                | PlanError::ArgsWithoutTrace
                | PlanError::TemplateChar(_)
                | PlanError::MainWithEntries(_)
                | PlanError::EntrySyntax(_)
                | PlanError::EntryName(..)
                | PlanError::DuplicateEntry(_)
                | PlanError::TwoInterpreterEntries(..)
                | PlanError::DefaultNoEntry(..)
                | PlanError::EntryArgsSyntax(_)
                | PlanError::EntryArgsNoEntry(..)
                | PlanError::EntryArgsTwice(_)
                | PlanError::BakedArgs { .. }
        )
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Canonicalizes an input file, with a message naming it when it is unusable.
fn input_file(path: &Path) -> Result<PathBuf, PlanError> {
    let display = display(path);
    let canonical = std::fs::canonicalize(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => PlanError::Missing { display: display.clone() },
        _ => PlanError::Inaccessible { display: display.clone(), source },
    })?;
    let meta = std::fs::metadata(&canonical)
        .map_err(|source| PlanError::Inaccessible { display: display.clone(), source })?;
    if meta.is_dir() {
        return Err(PlanError::IsDirectory { display });
    }
    if !meta.is_file() {
        return Err(PlanError::NotAFile { display });
    }
    Ok(canonical)
}

/// The output path with its directory canonicalized (the file itself may not exist yet).
fn output_path(path: &Path) -> Result<PathBuf, PlanError> {
    let display = display(path);
    // `newdir/` names a directory, whether or not it exists: never a file called `newdir`.
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(PlanError::OutputNamesDirectory(display));
    }
    let Some(file_name) = path.file_name() else {
        return Err(PlanError::OutputIsDirectory(display));
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&dir).ok().filter(|d| d.is_dir()).ok_or_else(|| {
        PlanError::OutputDirMissing { display: display.clone(), dir: dir.display().to_string() }
    })?;
    let out = dir.join(file_name);
    if out.is_dir() {
        return Err(PlanError::OutputIsDirectory(display));
    }
    // Outputs are written to a temporary file renamed over the target: a device, FIFO or
    // socket there (`-o /dev/null`) would be replaced by a regular file.
    if std::fs::metadata(&out).is_ok_and(|m| !m.is_file()) {
        return Err(PlanError::OutputNotAFile(display));
    }
    // If the output exists (possibly as a symlink to an input), compare what it points at.
    Ok(std::fs::canonicalize(&out).unwrap_or(out))
}

fn module_spec(spec: &str) -> Result<ModuleSpec, PlanError> {
    if let Some((name, file)) = spec.split_once('=') {
        if file.is_empty() {
            return Err(PlanError::ModuleSyntax(spec.to_owned()));
        }
        if !valid_module_name(name) {
            return Err(PlanError::ModuleName(spec.to_owned(), name.to_owned()));
        }
        if is_builtin(name) {
            return Err(PlanError::BuiltinModule(name.to_owned()));
        }
        let path = input_file(Path::new(file)).map_err(|source| PlanError::ModuleFile {
            spec: spec.to_owned(),
            source: Box::new(source),
        })?;
        return Ok(ModuleSpec::File {
            name: name.to_owned(),
            input: Input { display: file.to_owned(), path },
        });
    }
    if let Some(prefix) = spec.strip_suffix(".*") {
        if valid_module_name(prefix) {
            return Ok(ModuleSpec::Glob(prefix.to_owned()));
        }
    }
    if valid_module_name(spec) {
        if is_builtin(spec) {
            return Err(PlanError::BuiltinModule(spec.to_owned()));
        }
        return Ok(ModuleSpec::Name(spec.to_owned()));
    }
    Err(PlanError::ModuleSyntax(spec.to_owned()))
}

impl BuildPlan {
    /// Validates what decides the module graph; writes nothing.
    pub fn for_graph(main: Option<&Path>, args: &GraphArgs) -> Result<Self, PlanError> {
        let (graph, project, notes) = request_and_project(main, args, false, None)?;
        Ok(BuildPlan {
            graph,
            project,
            notes,
            interpreter_env: None,
            start: StartPlan::default(),
            trace: None,
            extra_inputs: args.modules_from.iter().cloned().collect(),
            stub: StubChoice::Embedded,
            linkage: LinkChoice::Auto,
            store: Store::Bytecode { strip: false },
            quiet: false,
            output: None,
            assets: Vec::new(),
            asset_excludes: Vec::new(),
        })
    }

    /// Validates the build flags against the filesystem.
    pub fn from_cli(cli: &Cli) -> Result<Self, PlanError> {
        let (entries, start) = entries_and_start(cli)?;
        // With entry points, the first script stands for the main script while the request
        // is made: modules are looked up from its directory, a rockspec beside it is found.
        let first = entries.iter().find_map(|(_, i)| i.as_ref()).map(|i| PathBuf::from(&i.display));
        let (mut graph, project, notes) = request_and_project(
            cli.main.as_deref().or(first.as_deref()),
            &cli.graph,
            cli.install_deps,
            cli.rocks_server.clone(),
        )?;
        if !entries.is_empty() {
            graph.main = None;
            graph.entries = entries.into_iter().filter_map(|(n, i)| Some((n, i?))).collect();
            graph.interpreter = start.interpreter_entry.is_some();
        }
        let interpreter_env = match &cli.interpreter_env {
            Some(env) if env.is_empty() || env.contains(['=', '\0']) => {
                return Err(PlanError::InterpreterEnv(env.clone()));
            }
            Some(env) => {
                graph.interpreter = true;
                Some(env.clone())
            }
            None => None,
        };
        let mut trace = match (cli.trace, cli.dash_dash || !cli.trace_args.is_empty()) {
            (true, false) => return Err(PlanError::TraceWithoutDashDash),
            (false, true) if !cli.trace_args.is_empty() => return Err(PlanError::ArgsWithoutTrace),
            (true, true) => Some(TracePlan {
                args: cli.trace_args.clone(),
                timeout: std::time::Duration::from_secs(cli.trace_timeout),
                save: None,
            }),
            _ => None,
        };
        let store = if cli.source { Store::Source } else { Store::Bytecode { strip: cli.strip } };
        let stub = match &cli.stub {
            Some(p) => StubChoice::File(input_file(p)?),
            None => StubChoice::Embedded,
        };
        let output = match (&cli.output, cli.list) {
            (Some(out), false) => Some(output_plan(cli, out, &graph, &stub, trace.as_mut())?),
            _ => None,
        };
        // The C file links the system's LuaJIT and uses its jit.* tools.
        graph.runtime_modules = output.as_ref().is_none_or(|o| o.emit_c.is_none());
        let mut extra_inputs: Vec<PathBuf> = cli.graph.modules_from.iter().cloned().collect();
        if let Some(p) = &project {
            // The rockspec and the C sources are read too: never overwritten, in the depfile.
            extra_inputs.push(p.rockspec.path.clone());
            for m in &p.c_modules {
                extra_inputs.extend(m.sources.iter().map(|s| m.root.join(s)));
            }
        }
        Ok(BuildPlan {
            graph,
            interpreter_env,
            start,
            trace,
            extra_inputs,
            stub,
            linkage: match (cli.static_link, cli.dynamic) {
                (true, _) => LinkChoice::Static,
                (_, true) => LinkChoice::Dynamic,
                _ => LinkChoice::Auto,
            },
            store,
            quiet: cli.quiet,
            output,
            assets: cli.assets.iter().map(|a| AssetSpec::parse(a)).collect(),
            asset_excludes: cli.asset_excludes.clone(),
            project,
            notes,
        })
    }
}

/// What `--entry NAME=@interpreter` names instead of a file.
pub const INTERPRETER_ENTRY: &str = "@interpreter";

/// The `--entry` flags, checked (`None` for the interpreter), and the rest of how the program
/// starts: `--default`, `--args`, `--entry-args`, `--hermetic`.
type Entries = Vec<(String, Option<Input>)>;

fn entries_and_start(cli: &Cli) -> Result<(Entries, StartPlan), PlanError> {
    let mut entries: Entries = Vec::new();
    let mut interpreter_entry: Option<String> = None;
    for spec in &cli.entries {
        if let Some(main) = &cli.main {
            return Err(PlanError::MainWithEntries(display(main)));
        }
        let Some((name, file)) = spec.split_once('=').filter(|(_, f)| !f.is_empty()) else {
            return Err(PlanError::EntrySyntax(spec.clone()));
        };
        // Heroku's process types (devcenter.heroku.com/articles/procfile: `^[-\w]{1,128}$`):
        // an entry is deployed as one, and its name is a file name in `bundle links`.
        if !crate::deploy::heroku::valid_process_type(name) {
            return Err(PlanError::EntryName(spec.clone(), name.to_owned()));
        }
        if entries.iter().any(|(n, _)| n == name) {
            return Err(PlanError::DuplicateEntry(name.to_owned()));
        }
        if file == INTERPRETER_ENTRY {
            if let Some(first) = &interpreter_entry {
                return Err(PlanError::TwoInterpreterEntries(name.to_owned(), first.clone()));
            }
            interpreter_entry = Some(name.to_owned());
            entries.push((name.to_owned(), None));
            continue;
        }
        let path = input_file(Path::new(file)).map_err(|source| PlanError::EntryFile {
            spec: spec.clone(),
            source: Box::new(source),
        })?;
        entries.push((name.to_owned(), Some(Input { display: file.to_owned(), path })));
    }
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let unknown = |name: &str| {
        if names.is_empty() {
            "there are no entries: name them with --entry NAME=FILE".to_owned()
        } else {
            format!("no entry is called '{name}' (entries: {})", names.join(", "))
        }
    };
    if let Some(d) = cli.default_entry.as_deref().filter(|d| !names.contains(d)) {
        return Err(PlanError::DefaultNoEntry(d.to_owned(), unknown(d)));
    }
    let mut args = Vec::new();
    if let Some(text) = &cli.args {
        let words = crate::base::shell::split(text).map_err(|source| PlanError::BakedArgs {
            flag: format!("--args {}", crate::base::shell::quote(text)),
            source,
        })?;
        args.push((String::new(), words));
    }
    for spec in &cli.entry_args {
        let Some((name, text)) = spec.split_once('=') else {
            return Err(PlanError::EntryArgsSyntax(spec.clone()));
        };
        if !names.contains(&name) {
            return Err(PlanError::EntryArgsNoEntry(spec.clone(), unknown(name)));
        }
        if args.iter().any(|(n, _)| n == name) {
            return Err(PlanError::EntryArgsTwice(name.to_owned()));
        }
        let words = crate::base::shell::split(text).map_err(|source| PlanError::BakedArgs {
            flag: format!("--entry-args {name}={}", crate::base::shell::quote(text)),
            source,
        })?;
        args.push((name.to_owned(), words));
    }
    let start = StartPlan {
        interpreter_entry,
        default_entry: cli.default_entry.clone(),
        args,
        hermetic: cli.hermetic,
    };
    Ok((entries, start))
}

/// The rockspec to read: `--rockspec FILE`, else the one `*.rockspec` beside the main script
/// (none, or several, is no rockspec), with a note saying it was picked up.
fn find_rockspec(
    main: Option<&Path>,
    args: &GraphArgs,
) -> Result<Option<(PathBuf, Option<String>)>, PlanError> {
    if let Some(r) = &args.rockspec {
        return Ok(Some((input_file(r)?, None)));
    }
    let Some(main) = main.filter(|_| !args.no_rockspec) else { return Ok(None) };
    let dir = match main.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(None) };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rockspec") && p.is_file())
        .collect();
    found.sort();
    match found.as_slice() {
        [one] => {
            let note = format!(
                "bundle: note: building the project of {} (found beside {}; --no-rockspec to ignore it)",
                display(one),
                display(main)
            );
            Ok(Some((input_file(one)?, Some(note))))
        }
        _ => Ok(None),
    }
}

/// The graph's request and the project, read together: a rockspec gives the main script
/// (`build.install.bin`) when none is given, its Lua modules, its C modules (compiled later),
/// and `lua_modules/` beside it as a tree.
fn request_and_project(
    main: Option<&Path>,
    args: &GraphArgs,
    install_deps: bool,
    rocks_server: Option<String>,
) -> Result<(Request, Option<ProjectPlan>, Vec<String>), PlanError> {
    let mut notes = Vec::new();
    let Some((path, note)) = find_rockspec(main, args)? else {
        if install_deps {
            return Err(PlanError::InstallDepsWithoutRockspec);
        }
        return Ok((request(main, args)?, None, notes));
    };
    notes.extend(note);
    let mut vars = Vars::new(crate::base::target::host_multiarch());
    // The Lua API headers come with the bundler (cbuild adds them): what a rockspec names by
    // these variables is already on the compiler's command line.
    for (name, value) in
        [("LUA_INCDIR", "."), ("LUA_LIBDIR", "."), ("LUA_BINDIR", "."), ("LUA", "luajit")]
    {
        vars.set(name, value);
    }
    for v in &args.vars {
        vars.assign(v).map_err(|e| PlanError::Rockspec(Box::new(e)))?;
    }
    let rockspec = crate::project::rockspec::load(&path, &vars)
        .map_err(|e| PlanError::Rockspec(Box::new(e)))?;
    let dir = rockspec.dir().to_path_buf();
    let main_from_bin;
    let main = match main {
        Some(m) => Some(m),
        None => {
            let bins: Vec<(&String, &String)> = rockspec.build.install.bin.iter().collect();
            match bins.as_slice() {
                [(_, file)] => {
                    main_from_bin = dir.join(file);
                    Some(main_from_bin.as_path())
                }
                [] => return Err(PlanError::RockspecNoMain(display(&path))),
                several => {
                    let names: Vec<String> = several.iter().map(|(n, _)| (*n).clone()).collect();
                    return Err(PlanError::RockspecSeveralMains(display(&path), names.join(", ")));
                }
            }
        }
    };
    let tree = match args.trees.first() {
        Some(t) if !dir.join("lua_modules").is_dir() => t.clone(),
        _ => dir.join("lua_modules"),
    };
    let mut args = args.clone();
    let mut c_modules = Vec::new();
    if let crate::project::rockspec::Backend::Builtin { modules } = &rockspec.build.backend {
        for (name, module) in modules {
            match module {
                crate::project::rockspec::Module::Lua { path } => {
                    args.modules.push(format!("{name}={}", dir.join(path).display()));
                }
                crate::project::rockspec::Module::C(c) => c_modules.push(CModule {
                    name: name.clone(),
                    root: dir.clone(),
                    sources: c.sources.iter().map(PathBuf::from).collect(),
                    defines: c.defines.clone(),
                    incdirs: c.incdirs.iter().map(PathBuf::from).collect(),
                    libraries: c.libraries.clone(),
                    libdirs: c.libdirs.iter().map(PathBuf::from).collect(),
                }),
            }
        }
    }
    // The project tree is searched first among the trees; it need not exist yet when
    // --install-deps is to create it.
    let lua_modules = dir.join("lua_modules");
    let mut request = request(main, &args)?;
    if lua_modules.is_dir() || install_deps {
        request.search.trees.insert(0, lua_modules.clone());
    }
    let mut trees: Vec<PathBuf> = request.search.trees.clone();
    trees.dedup();
    Ok((
        request,
        Some(ProjectPlan { rockspec, c_modules, tree, trees, install_deps, rocks_server }),
        notes,
    ))
}

/// The graph stage's input from the command line.
fn request(main: Option<&Path>, args: &GraphArgs) -> Result<Request, PlanError> {
    let main = match main {
        Some(m) => Some(Input { display: display(m), path: input_file(m)? }),
        None => None,
    };
    let root = match &main {
        Some(m) => m.path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/")),
        // An interpreter looks modules up from where it runs, as luajit does (./?.lua).
        None => std::env::current_dir()
            .map_err(|source| PlanError::Inaccessible { display: ".".into(), source })?,
    };
    let mut modules: Vec<ModuleSpec> = Vec::new();
    for spec in &args.modules {
        let spec = module_spec(spec)?;
        let name = match &spec {
            ModuleSpec::File { name, .. }
            | ModuleSpec::Name(name)
            | ModuleSpec::Native { name, .. } => Some(name),
            ModuleSpec::Glob(_) => None,
        };
        let twice = |m: &ModuleSpec| match m {
            ModuleSpec::File { name: n, .. }
            | ModuleSpec::Name(n)
            | ModuleSpec::Native { name: n, .. } => Some(n) == name,
            ModuleSpec::Glob(_) => false,
        };
        if let Some(name) = name.filter(|_| modules.iter().any(twice)) {
            return Err(PlanError::DuplicateModule(name.clone()));
        }
        modules.push(spec);
    }
    if let Some(p) = args.preloads.iter().find(|p| !valid_module_name(p)) {
        return Err(PlanError::PreloadName(p.clone()));
    }
    if let Some(d) = args.includes.iter().find(|d| !d.is_dir()) {
        return Err(PlanError::IncludeDir(display(d)));
    }
    // A search template is `DIR/?.lua`: a `?` in DIR would be replaced by the module name,
    // and a `;` would split the template, as in LUA_PATH.
    for d in args.includes.iter().chain(&args.trees) {
        if d.as_os_str().as_encoded_bytes().iter().any(|b| matches!(b, b'?' | b';')) {
            return Err(PlanError::TemplateChar(display(d)));
        }
    }
    if let Some(d) = args.trees.iter().find(|d| !d.is_dir()) {
        return Err(PlanError::TreeDir(display(d)));
    }
    let traced = match &args.modules_from {
        Some(f) => crate::graph::trace::read_module_list(f).map_err(PlanError::ModulesFrom)?,
        None => Vec::new(),
    };
    let search = SearchConfig {
        root: root.clone(),
        includes: args.includes.clone(),
        trees: args.trees.clone(),
        ..SearchConfig::default()
    }
    .with_env();
    Ok(Request {
        interpreter: main.is_none(),
        main,
        entries: Vec::new(),
        root,
        modules,
        preloads: args.preloads.clone(),
        excludes: args.excludes.clone(),
        no_libs: args.no_libs.clone(),
        search,
        allow_missing: args.allow_missing,
        strict: args.strict,
        traced,
        provided: Vec::new(),
        runtime_modules: true,
    })
}

/// What is written: the output path (never an input), the `--emit-c` settings, and the other
/// outputs of the build, each distinct from the rest. Sets where `--save-trace` writes.
fn output_plan(
    cli: &Cli,
    out: &Path,
    graph: &Request,
    stub: &StubChoice,
    trace: Option<&mut TracePlan>,
) -> Result<OutputPlan, PlanError> {
    let output = output_path(out)?;
    let inputs = (graph.main.iter().map(|m| (m.path.clone(), m.display.clone())))
        .chain(graph.entries.iter().map(|(_, e)| (e.path.clone(), e.display.clone())))
        .chain(graph.modules.iter().filter_map(|m| match m {
            ModuleSpec::File { input, .. } => Some((input.path.clone(), input.display.clone())),
            _ => None,
        }))
        .chain(match stub {
            StubChoice::File(p) => Some((p.clone(), format!("--stub {}", display(p)))),
            StubChoice::Embedded | StubChoice::EmbeddedStatic => None,
        });
    for (path, what) in inputs {
        if path == output {
            return Err(PlanError::OutputIsInput { display: display(out), what });
        }
    }
    // An output inside an asset directory would be embedded by the next build with the same
    // flags (an executable inside itself, growing each time), unless an exclude leaves it out.
    // (One that exists already is an asset of this build: the input check refuses it.)
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let excluded = cli.asset_excludes.iter().any(|g| crate::graph::glob_match(g, &name));
    for spec in cli.assets.iter().map(|a| AssetSpec::parse(a)) {
        let Ok(dir) = spec.source.canonicalize() else { continue };
        if dir.is_dir() && output.starts_with(&dir) && !excluded && !output.exists() {
            return Err(PlanError::OutputInAssets {
                display: display(out),
                dir: display(&spec.source),
            });
        }
    }
    let emit_c = if cli.emit_c {
        let compile_to = if cli.cc {
            match output.extension() {
                Some(e) if e == "c" => Some(output.with_extension("")),
                _ => return Err(PlanError::CcNeedsDotC(display(out))),
            }
        } else {
            None
        };
        Some(EmitC { c_libs: cli.c_libs.clone(), compile_to })
    } else {
        None
    };
    // The outputs of one build are distinct files: the output, the --cc executable, the
    // depfile and the --save-trace list (checked now, before anything is written).
    let mut outputs: Vec<(PathBuf, &str)> = vec![(output.clone(), "the output")];
    if let Some(exe) = emit_c.as_ref().and_then(|c| c.compile_to.clone()) {
        outputs.push((exe, "the --cc executable"));
    }
    for (path, what) in [(&cli.depfile, "the depfile"), (&cli.save_trace, "the --save-trace list")]
    {
        let Some(p) = path else { continue };
        let resolved = output_path(p)?;
        if let Some((_, other)) = outputs.iter().find(|(o, _)| *o == resolved) {
            return Err(PlanError::SameOutput {
                display: display(p),
                what: what.to_owned(),
                other: (*other).to_owned(),
            });
        }
        outputs.push((resolved, what));
    }
    if let (Some(save), Some(t)) = (&cli.save_trace, trace) {
        let saved = output_path(save)?;
        let main = graph.main.as_ref().map(|m| m.path.clone());
        let clash = if saved == output {
            Some("the output")
        } else if main.as_ref() == Some(&saved) {
            Some("the main script")
        } else if cli.depfile.as_deref().map(output_path).transpose()?.as_ref() == Some(&saved) {
            Some("the depfile")
        } else if cli.graph.modules_from.as_deref().and_then(|f| f.canonicalize().ok()).as_ref()
            == Some(&saved)
        {
            Some("the --modules-from list; write the merged list to another file")
        } else {
            None
        };
        if let Some(what) = clash {
            return Err(PlanError::OutputIsInput { display: display(save), what: what.into() });
        }
        t.save = Some(save.clone());
    }
    Ok(OutputPlan {
        path: output,
        depfile: cli.depfile.clone(),
        ignore_sigpipe: cli.sigpipe == crate::cli::Sigpipe::Ignore,
        emit_c,
        remap: crate::base::remap::Remap::new(cli.remap_path_prefix.clone()),
        max_size: cli.max_size,
        flags: build_flags(cli),
        sign: cli.sign.clone(),
    })
}

/// The flags that decide what the program is, for the bill of materials: a fixed order of
/// flags (each repeatable one in the order given), paths remapped, and nothing that names
/// where the output goes or how the build talks (`-o`, `--depfile`, `-q`, tracing's files).
fn build_flags(cli: &Cli) -> Vec<String> {
    let remap = crate::base::remap::Remap::new(cli.remap_path_prefix.clone());
    let path = |p: &std::path::Path| remap.text(p);
    let g = &cli.graph;
    let mut out = Vec::new();
    let mut push = |flag: &str, value: String| out.push(format!("{flag}={value}"));
    g.modules.iter().for_each(|m| push("--module", m.clone()));
    g.preloads.iter().for_each(|m| push("--preload", m.clone()));
    g.includes.iter().for_each(|d| push("--include", path(d)));
    g.trees.iter().for_each(|d| push("--tree", path(d)));
    g.excludes.iter().for_each(|x| push("--exclude", x.clone()));
    g.no_libs.iter().for_each(|x| push("--no-lib", x.clone()));
    if let Some(r) = &g.rockspec {
        push("--rockspec", path(r));
    }
    g.vars.iter().for_each(|v| push("--var", v.clone()));
    cli.entries.iter().for_each(|e| push("--entry", e.clone()));
    if let Some(d) = &cli.default_entry {
        push("--default", d.clone());
    }
    if let Some(a) = &cli.args {
        push("--args", a.clone());
    }
    cli.entry_args.iter().for_each(|a| push("--entry-args", a.clone()));
    if let Some(e) = &cli.interpreter_env {
        push("--interpreter-env", e.clone());
    }
    cli.assets.iter().for_each(|a| push("--asset", a.clone()));
    cli.asset_excludes.iter().for_each(|a| push("--asset-exclude", a.clone()));
    if cli.sigpipe == crate::cli::Sigpipe::Ignore {
        push("--sigpipe", "ignore".into());
    }
    for (on, flag) in [
        (cli.hermetic, "--hermetic"),
        (cli.strip, "--strip"),
        (cli.source, "--source"),
        (g.allow_missing, "--allow-missing"),
        (g.strict, "--strict"),
        (cli.stub.is_some(), "--stub"),
        (cli.static_link, "--static"),
        (cli.dynamic, "--dynamic"),
    ] {
        if on {
            out.push(flag.to_owned());
        }
    }
    out
}
