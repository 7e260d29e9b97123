//! Command-line flags, as parsed by clap. Nothing here touches the filesystem: [`crate::plan`]
//! turns these low-level arguments into a validated build plan.

use std::path::PathBuf;

use clap::Parser;

/// Turn a Lua program into one self-contained executable.
///
/// Scans nothing yet: modules are named with -m. The output runs on a machine with no Lua
/// installed and behaves as `luajit MAIN.lua` would.
#[derive(Debug, Parser)]
#[command(name = "bundle", version, about, long_about = None)]
pub struct Cli {
    /// The main Lua script.
    #[arg(value_name = "MAIN.lua")]
    pub main: PathBuf,

    /// Where to write the executable.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Add a module: `require("NAME")` loads FILE (repeatable).
    #[arg(short = 'm', long = "module", value_name = "NAME=FILE")]
    pub modules: Vec<String>,

    /// Require NAME before the main script runs, like `luajit -l NAME` (repeatable, in order).
    #[arg(short = 'l', long = "preload", value_name = "NAME")]
    pub preloads: Vec<String>,

    /// Drop debug information from the bytecode (smaller; tracebacks lose line numbers).
    #[arg(long, conflicts_with = "source")]
    pub strip: bool,

    /// Store Lua source text instead of bytecode (still syntax-checked at bundle time).
    #[arg(long)]
    pub source: bool,

    /// Use this stub instead of the one built into bundle.
    #[arg(long, value_name = "PATH")]
    pub stub: Option<PathBuf>,

    /// Print nothing on success.
    #[arg(short, long)]
    pub quiet: bool,
}
