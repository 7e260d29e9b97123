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

pub mod cli;
pub mod compile;
pub mod emit;
pub mod graph;
pub mod pack;
pub mod plan;
pub mod scan;
pub mod stub;

use std::path::PathBuf;

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
    #[error(transparent)]
    Compile(#[from] compile::CompileError),
    #[error(transparent)]
    Stub(#[from] stub::StubError),
    #[error("cannot build the payload: {0}")]
    Pack(#[from] bundle_runtime::format::FormatError),
    #[error(transparent)]
    Emit(#[from] emit::EmitError),
}

/// What a finished build reports for the summary line.
#[derive(Debug, Clone)]
pub struct Report {
    pub output: PathBuf,
    pub modules: usize,
    pub totals: bundle_runtime::format::Totals,
    pub output_len: u64,
}

/// Runs the whole pipeline for `plan`.
pub fn build(plan: &plan::BuildPlan) -> Result<Report, Error> {
    let units = graph::collect(plan)?;
    let compiled = compile::compile_all(&units, plan.store)?;
    let (payload, totals) = pack::pack(&compiled, &plan.preloads)?;
    let stub = stub::load(&plan.stub)?;
    let exe = emit::attach(&stub, &payload)?;
    emit::write_atomically(&plan.output, &exe)?;
    Ok(Report {
        output: plan.output.clone(),
        modules: units.iter().filter(|u| !u.is_main()).count(),
        totals,
        output_len: exe.len() as u64,
    })
}
