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

pub mod archive;
pub mod cleanup;
pub mod cli;
pub mod compile;
pub mod diag;
pub mod emit;
pub mod emit_c;
pub mod extract;
pub mod graph;
pub mod heroku;
pub mod input;
pub mod inspect;
pub mod lua;
pub mod native;
pub mod oci;
pub mod pack;
pub mod plan;
pub mod resolve;
pub mod runtime_lua;
pub mod scan;
pub mod stacks;
pub mod stub;
pub mod table;
pub mod target;
pub mod trace;
pub mod unit;

use std::path::{Path, PathBuf};

use diag::Diagnostic;

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
    #[error("cannot build the payload: {0}")]
    Pack(#[from] bundle_runtime::format::FormatError),
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
    #[error("output {0} is also an input (a module of the program); choose another output path")]
    OutputIsModule(String),
    #[error(transparent)]
    EmitC(#[from] emit_c::EmitCError),
    #[error("--cc: {0}")]
    CCompile(String),
    #[error(transparent)]
    Trace(#[from] trace::TraceError),
    #[error("cannot write the trace file {}: {source}", path.display())]
    SaveTrace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--trace: cannot prepare the traced executable: {0}")]
    TraceSetup(std::io::Error),
    #[error("cannot write the dependency file {}: {source}", path.display())]
    Depfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a finished build reports for the summary line.
#[derive(Debug)]
pub struct Report {
    pub output: PathBuf,
    pub modules: usize,
    pub totals: bundle_runtime::format::Totals,
    pub output_len: u64,
    /// Warnings to show.
    pub warnings: Vec<Diagnostic>,
    /// What `--trace` found, when it ran.
    pub trace: Option<TraceReport>,
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
        }
        out.push(
            "bundle: --trace: child processes the program started, if any, were not traced"
                .to_owned(),
        );
        out
    }
}

/// Rounds of `--trace` before giving up on a program whose every run loads something new.
const TRACE_ROUNDS: usize = 5;

/// Runs the traced rounds for `plan`, adding what each run loaded from outside the bundle to
/// `plan.traced`, until a run adds nothing.
fn trace_rounds(
    plan: &mut plan::BuildPlan,
    spec: &plan::TracePlan,
    target: &target::Target,
) -> Result<TraceReport, Error> {
    let main = plan.main.as_ref().map_or_else(String::new, |m| m.display.clone());
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
    for _ in 0..TRACE_ROUNDS {
        let graph = graph::build(plan, target)?;
        if graph.has_errors() {
            return Err(Error::Diagnostics(graph.diagnostics));
        }
        let mut compiled = compile::compile_all(&graph.units, plan.store, !plan.strict)?;
        let recorder = graph::Unit::shipped(
            Some(trace::RECORDER.to_owned()),
            "src/trace.lua (bundle)",
            "=bundle trace",
            trace::recorder_source(&log, &plan.search),
        );
        compiled.push(compiler.compile(&recorder, target::Store::Bytecode { strip: false })?);
        let mut traced_plan = plan.clone();
        traced_plan.preloads.insert(0, trace::RECORDER.to_owned());
        traced_plan.interpreter = None;
        let settings = pack::Settings {
            preloads: &traced_plan.preloads,
            ignore_sigpipe: traced_plan.ignore_sigpipe,
            interpreter: None,
        };
        let (payload, _) = pack::pack(&compiled, &graph, &settings)?;
        emit::write_atomically(
            &exe,
            &emit::attach(&target.stub, &payload)?,
            &emit::Inputs::default(),
        )?;
        let _ = std::fs::remove_file(&log);
        std::fs::write(&log, b"").map_err(Error::TraceSetup)?;
        let outcome = trace::run(&exe, &spec.args, &log, spec.timeout, &main)?;
        let known: std::collections::BTreeSet<&str> =
            plan.traced.iter().map(|t| t.name.as_str()).collect();
        let added: Vec<trace::Traced> = outcome
            .modules
            .iter()
            .filter(|m| !known.contains(m.name.as_str()))
            .filter(|m| m.name != trace::RECORDER)
            .filter(|m| !plan.excludes.iter().any(|p| graph::glob_match(p, &m.name)))
            .cloned()
            .collect();
        report.files.extend(outcome.files.iter().cloned());
        let done = added.is_empty();
        plan.traced.extend(added.iter().cloned());
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
    // The stub is read and checked once, for every round and the build.
    let target = stub::target(&plan.stub, plan.store)?;
    let mut traced_plan;
    let mut trace = None;
    let plan = match &plan.trace {
        Some(spec) => {
            traced_plan = plan.clone();
            trace = Some(trace_rounds(&mut traced_plan, spec, &target)?);
            &traced_plan
        }
        None => plan,
    };
    let (mut report, inputs) = build_planned(plan, &target)?;
    if let (Some(_), Some(spec)) = (&trace, &plan.trace) {
        if let Some(save) = &spec.save {
            let main = plan.main.as_ref().map_or("", |m| m.display.as_str());
            // Everything traced so far, --modules-from included, so that the traces of several
            // runs accumulate in one file.
            let text = trace::module_list(&plan.traced, main);
            emit::write_atomically_with_mode(save, text.as_bytes(), 0o644, &inputs).map_err(
                |e| Error::SaveTrace {
                    path: save.clone(),
                    source: std::io::Error::other(e.to_string()),
                },
            )?;
        }
    }
    report.trace = trace;
    Ok(report)
}

/// Every file the build reads: the main script, each module and library packed, the stub, the
/// `--c-lib` archives and the `--modules-from` list. No output may replace one of them.
fn inputs(plan: &plan::BuildPlan, graph: &graph::Graph) -> emit::Inputs {
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
    if let Some(c) = &plan.emit_c {
        for lib in &c.c_libs {
            inputs.add(&lib.file);
        }
    }
    inputs
}

/// The build proper, once the plan is final; returns the report and the build's inputs.
fn build_planned(
    plan: &plan::BuildPlan,
    target: &target::Target,
) -> Result<(Report, emit::Inputs), Error> {
    let graph = graph::build(plan, target)?;
    if graph.has_errors() {
        return Err(Error::Diagnostics(graph.diagnostics));
    }
    let output = plan.output.clone().ok_or_else(|| Error::OutputIsModule("(none)".into()))?;
    let inputs = inputs(plan, &graph);
    // Checked before any work, so that nothing is compiled for an output that cannot be written.
    inputs.check(&output)?;
    if let Some(d) = &plan.depfile {
        inputs.check(d).map_err(|e| Error::Depfile {
            path: d.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    // The depfile's text is made before anything is written, so that a path Make cannot
    // express fails the build with nothing written.
    let depfile_text = match &plan.depfile {
        Some(depfile) => Some(depfile_rule(plan, &graph, &output, depfile)?),
        None => None,
    };
    if let Some(c) = &plan.emit_c {
        let report = build_c(plan, &graph, c, &output, &inputs)?;
        write_depfile(plan, depfile_text, &inputs)?;
        return Ok((report, inputs));
    }
    let compiled = compile::compile_all(&graph.units, plan.store, !plan.strict)?;
    let mut warnings = graph.diagnostics.clone();
    warnings.extend(compile::fallbacks(&graph.units, &compiled));
    let interpreter = compile_interpreter(plan)?;
    let settings = pack::Settings {
        preloads: &plan.preloads,
        ignore_sigpipe: plan.ignore_sigpipe,
        interpreter: interpreter
            .as_ref()
            .zip(plan.interpreter.as_ref())
            .map(|(chunk, spec)| (chunk, spec.env.as_deref())),
    };
    let (payload, totals) = pack::pack(&compiled, &graph, &settings)?;
    let exe = emit::attach(&target.stub, &payload)?;
    emit::write_atomically(&output, &exe, &inputs)?;
    write_depfile(plan, depfile_text, &inputs)?;
    let report = Report {
        output,
        modules: graph.units.iter().filter(|u| !u.is_main()).count(),
        totals,
        output_len: exe.len() as u64,
        warnings,
        trace: None,
    };
    Ok((report, inputs))
}

/// The interpreter chunk (runtime/lua/interp.lua), if the plan has one, stored like the modules.
fn compile_interpreter(plan: &plan::BuildPlan) -> Result<Option<compile::Compiled>, Error> {
    if plan.interpreter.is_none() {
        return Ok(None);
    }
    let unit = graph::Unit::shipped(
        None,
        "runtime/lua/interp.lua (runtime)",
        "=interpreter",
        runtime_lua::interpreter_source(),
    );
    // Stripped whatever the program's setting: it is the runtime's code, loaded at every start
    // of the interpreter, and debug info would make that load a fifth slower.
    let store = match plan.store {
        target::Store::Bytecode { .. } => target::Store::Bytecode { strip: true },
        source => source,
    };
    Ok(Some(compile::Compiler::new()?.compile(&unit, store)?))
}

/// The `--emit-c` path: the same graph and compiled units, written as one C file.
fn build_c(
    plan: &plan::BuildPlan,
    graph: &graph::Graph,
    c: &plan::EmitC,
    output: &Path,
    inputs: &emit::Inputs,
) -> Result<Report, Error> {
    let clibs = &c.c_libs;
    let compiled = compile::compile_all(&graph.units, plan.store, !plan.strict)?;
    let mut warnings = graph.diagnostics.clone();
    warnings.extend(compile::fallbacks(&graph.units, &compiled));
    // A shared-object C module cannot be embedded in C source. One the program may never load
    // (required lazily, conditionally, under pcall) is left to package.cpath at run time, as
    // luajit would find it, with a warning; one it needs at start stays an error (generate).
    let (compiled, left): (Vec<_>, Vec<_>) =
        compiled.into_iter().zip(&graph.units).partition(|(c, u)| {
            c.kind != bundle_runtime::format::Kind::Native || u.when >= graph::When::Explicit
        });
    let compiled: Vec<compile::Compiled> = compiled.into_iter().map(|(c, _)| c).collect();
    for (_, u) in left {
        warnings.push(diag::Diagnostic::warning(format!(
            "C module '{}' ({}) is a shared object, which a C file cannot embed: it is needed only {}, so the program loads it from package.cpath when it requires it, as luajit would",
            u.label(),
            u.display,
            u.when
        ))
        .note("link its static library with --c-lib to make the program self-contained"));
    }
    let from = plan.main.as_ref().map_or("no main script (an interpreter)", |m| &m.display);
    let header = emit_c::header(from, output, clibs);
    let interpreter = compile_interpreter(plan)?;
    let env = plan.interpreter.as_ref().and_then(|i| i.env.as_deref());
    let text = emit_c::generate(
        &compiled,
        interpreter.as_ref().map(|c| (c, env)),
        &plan.preloads,
        clibs,
        &header,
        plan.ignore_sigpipe,
    )?;
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
            return Err(Error::CCompile(e));
        }
        written?;
    }
    Ok(Report {
        output: output.to_path_buf(),
        modules: graph.units.iter().filter(|u| !u.is_main()).count(),
        totals: bundle_runtime::format::Totals {
            entries: compiled.len(),
            raw: compiled.iter().map(|u| u.data.len() as u64).sum(),
            stored: text.len() as u64,
            payload: text.len() as u64,
        },
        output_len: text.len() as u64,
        warnings,
        trace: None,
    })
}

/// Writes the depfile, if the plan has one (`text` from [`depfile_rule`]).
fn write_depfile(
    plan: &plan::BuildPlan,
    text: Option<Vec<u8>>,
    inputs: &emit::Inputs,
) -> Result<(), Error> {
    if let (Some(depfile), Some(text)) = (&plan.depfile, text) {
        emit::write_atomically_with_mode(depfile, &text, 0o644, inputs).map_err(|e| {
            Error::Depfile { path: depfile.clone(), source: std::io::Error::other(e.to_string()) }
        })?;
    }
    Ok(())
}

/// The depfile's rule: the output and every file the build reads.
fn depfile_rule(
    plan: &plan::BuildPlan,
    graph: &graph::Graph,
    output: &Path,
    depfile: &Path,
) -> Result<Vec<u8>, Error> {
    let files = graph.units.iter().filter(|u| !u.runtime);
    let mut deps: Vec<&Path> = files.map(|u| u.path.as_path()).collect();
    deps.extend(graph.libraries.values().map(|l| l.path.as_path()));
    if let target::StubChoice::File(p) = &plan.stub {
        deps.push(p);
    }
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
            (true, _) => "main",
            (false, graph::UnitKind::Lua) => "lua",
            (false, graph::UnitKind::Native) => "c",
        };
        let by = match &u.origin {
            graph::Origin::Main => "-".to_owned(),
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
