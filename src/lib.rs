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
pub mod cli;
pub mod compile;
pub mod diag;
pub mod emit;
pub mod emit_c;
pub mod extract;
pub mod graph;
pub mod heroku;
pub mod inspect;
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
}

/// Runs the whole pipeline for `plan`, which must have an output.
pub fn build(plan: &plan::BuildPlan) -> Result<Report, Error> {
    let graph = graph::build(plan)?;
    if graph.has_errors() {
        return Err(Error::Diagnostics(graph.diagnostics));
    }
    let output = plan.output.clone().ok_or_else(|| Error::OutputIsModule("(none)".into()))?;
    // Discovered modules were not known to the plan: compare file identities with the output,
    // if it exists (a path can name the same file in many ways).
    if let Ok(out_meta) = std::fs::metadata(&output) {
        use std::os::unix::fs::MetadataExt;
        let same = |p: &Path| {
            std::fs::metadata(p)
                .is_ok_and(|m| m.dev() == out_meta.dev() && m.ino() == out_meta.ino())
        };
        if let Some(u) = graph.units.iter().find(|u| same(&u.path)) {
            return Err(Error::OutputIsModule(u.display.clone()));
        }
    }
    if let Some(c) = &plan.emit_c {
        return build_c(plan, &graph, c, &output);
    }
    let stub = stub::load(&plan.stub, plan.store)?;
    let compiled = compile::compile_all(&graph.units, plan.store, !plan.strict)?;
    let mut warnings = graph.diagnostics.clone();
    warnings.extend(compile::fallbacks(&graph.units, &compiled));
    let interpreter = compile_interpreter(plan)?;
    let (payload, totals) = pack::pack(&compiled, interpreter.as_ref(), &graph, plan)?;
    let exe = emit::attach(&stub, &payload)?;
    emit::write_atomically(&output, &exe)?;
    if let Some(depfile) = &plan.depfile {
        let files = graph.units.iter().filter(|u| !u.runtime);
        let mut deps: Vec<&Path> = files.map(|u| u.path.as_path()).collect();
        deps.extend(graph.libraries.values().map(|l| l.path.as_path()));
        if let plan::StubChoice::File(p) = &plan.stub {
            deps.push(p);
        }
        let text = make_rule(&output, &deps);
        emit::write_atomically(depfile, text.as_bytes()).map_err(|e| Error::Depfile {
            path: depfile.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    Ok(Report {
        output,
        modules: graph.units.iter().filter(|u| !u.is_main()).count(),
        totals,
        output_len: exe.len() as u64,
        warnings,
    })
}

/// The interpreter chunk (runtime/lua/interp.lua), if the plan has one, stored like the modules.
fn compile_interpreter(plan: &plan::BuildPlan) -> Result<Option<compile::Compiled>, Error> {
    if plan.interpreter.is_none() {
        return Ok(None);
    }
    let unit = graph::Unit {
        kind: graph::UnitKind::Lua,
        needs: Vec::new(),
        name: None,
        display: "runtime/lua/interp.lua (runtime)".into(),
        path: PathBuf::new(),
        chunkname: "=interpreter".into(),
        source: runtime_lua::interpreter_source(),
        origin: graph::Origin::Runtime,
        sites: Vec::new(),
        overrides: None,
        runtime: true,
        shares: None,
        when: graph::When::Runtime,
        syntax: None,
    };
    // Stripped whatever the program's setting: it is the runtime's code, loaded at every start
    // of the interpreter, and debug info would make that load a fifth slower.
    let store = match plan.store {
        plan::Store::Bytecode { .. } => plan::Store::Bytecode { strip: true },
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
) -> Result<Report, Error> {
    let clibs = &c.c_libs;
    let compiled = compile::compile_all(&graph.units, plan.store, !plan.strict)?;
    let mut warnings = graph.diagnostics.clone();
    warnings.extend(compile::fallbacks(&graph.units, &compiled));
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
    )?;
    emit::write_atomically_with_mode(output, text.as_bytes(), 0o644)?;
    if let Some(exe) = &c.compile_to {
        emit_c::compile(output, exe, clibs).map_err(Error::CCompile)?;
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
    })
}

/// A Make rule `target: deps...`, with spaces, `#`, `:` and `$` escaped as GNU make and ninja
/// read them.
pub fn make_rule(target: &Path, deps: &[&Path]) -> String {
    let esc = |p: &Path| {
        p.display()
            .to_string()
            .replace('$', "$$")
            .replace(' ', "\\ ")
            .replace('#', "\\#")
            .replace(':', "\\:")
    };
    let mut out = format!("{}:", esc(target));
    for d in deps {
        out.push_str(" \\\n  ");
        out.push_str(&esc(d));
    }
    out.push('\n');
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
            graph::Unpacked::Excluded => ("excluded", "-".to_owned()),
        };
        let by =
            first.map_or("-".to_owned(), |(u, line)| format!("{}:{line}", graph.units[u].display));
        let when = graph.asked(name).map_or("-".to_owned(), |w| w.to_string());
        rows.push([name.clone(), kind.to_owned(), when, "-".to_owned(), file, by]);
    }
    table::render(&rows, &[3])
}
