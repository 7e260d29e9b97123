//! The validated build plan: command-line flags resolved into canonical paths, module names and
//! an output mode. Every check that needs no file contents happens here, before any work, so
//! that a bad invocation fails fast and leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::cli::Cli;

/// Modules the runtime itself provides: never looked up, never packed.
pub const BUILTIN_MODULES: &[&str] = &[
    "_G",
    "bit",
    "coroutine",
    "debug",
    "ffi",
    "io",
    "jit",
    "jit.opt",
    "jit.profile",
    "jit.util",
    "math",
    "os",
    "package",
    "string",
    "table",
];

/// How Lua units are stored in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// LuaJIT bytecode; `strip` drops debug info (line numbers, local names).
    Bytecode { strip: bool },
    /// The source text, syntax-checked.
    Source,
}

/// Which stub the executable starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubChoice {
    /// The stub built into this `bundle`.
    Embedded,
    /// A stub file given with `--stub`.
    File(PathBuf),
}

/// A Lua file to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Module name (`a.b`); `None` for the main script.
    pub name: Option<String>,
    /// The path as the user wrote it, for messages.
    pub display: String,
    /// Canonical path.
    pub path: PathBuf,
}

/// Everything the pipeline needs, checked.
#[derive(Debug, Clone)]
pub struct BuildPlan {
    pub main: Input,
    /// Directory of the main script: chunk names are relative to it.
    pub root: PathBuf,
    pub modules: Vec<Input>,
    pub preloads: Vec<String>,
    pub output: PathBuf,
    pub stub: StubChoice,
    pub store: Store,
    pub quiet: bool,
}

/// A flag or path that cannot work; the message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{display}: no such file")]
    Missing { display: String },
    #[error("{display}: is a directory, expected a Lua file")]
    IsDirectory { display: String },
    #[error("{display}: {source}")]
    Inaccessible {
        display: String,
        #[source]
        source: std::io::Error,
    },
    #[error("-m {0}: expected NAME=FILE, e.g. -m lib.util=lib/util.lua")]
    ModuleSyntax(String),
    #[error(
        "-m {0}: '{1}' is not a valid module name (dot-separated, no spaces, no path separators)"
    )]
    ModuleName(String, String),
    #[error("module '{0}' is given twice with -m")]
    DuplicateModule(String),
    #[error("module '{0}' is built into the runtime and cannot be replaced with -m")]
    BuiltinModule(String),
    #[error("-l {0}: the module is not in the bundle (add it with -m {0}=FILE)")]
    PreloadMissing(String),
    #[error("output {display}: the directory {dir} does not exist")]
    OutputDirMissing { display: String, dir: String },
    #[error("output {0}: is a directory")]
    OutputIsDirectory(String),
    #[error("output {display} is also an input ({what}); choose another output path")]
    OutputIsInput { display: String, what: String },
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
    Ok(canonical)
}

/// A module name as `require` would receive it: non-empty dot-separated parts, none of them
/// empty, no path separators or characters that cannot appear in a file name template.
pub fn valid_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| !c.is_whitespace() && !matches!(c, '/' | '\\' | '?' | ';' | '\0'))
        })
}

/// The output path with its directory canonicalized (the file itself may not exist yet).
fn output_path(path: &Path) -> Result<PathBuf, PlanError> {
    let display = display(path);
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
    // If the output exists (possibly as a symlink to an input), compare what it points at.
    Ok(std::fs::canonicalize(&out).unwrap_or(out))
}

impl BuildPlan {
    /// Validates the flags against the filesystem.
    pub fn from_cli(cli: &Cli) -> Result<Self, PlanError> {
        let main_path = input_file(&cli.main)?;
        let root = main_path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        let main = Input { name: None, display: display(&cli.main), path: main_path };

        let mut modules: Vec<Input> = Vec::new();
        for spec in &cli.modules {
            let Some((name, file)) = spec.split_once('=') else {
                return Err(PlanError::ModuleSyntax(spec.clone()));
            };
            if file.is_empty() {
                return Err(PlanError::ModuleSyntax(spec.clone()));
            }
            if !valid_module_name(name) {
                return Err(PlanError::ModuleName(spec.clone(), name.to_owned()));
            }
            if BUILTIN_MODULES.contains(&name) {
                return Err(PlanError::BuiltinModule(name.to_owned()));
            }
            if modules.iter().any(|m| m.name.as_deref() == Some(name)) {
                return Err(PlanError::DuplicateModule(name.to_owned()));
            }
            let path = input_file(Path::new(file))?;
            modules.push(Input { name: Some(name.to_owned()), display: file.to_owned(), path });
        }

        for p in &cli.preloads {
            let bundled = modules.iter().any(|m| m.name.as_deref() == Some(p.as_str()));
            if !bundled && !BUILTIN_MODULES.contains(&p.as_str()) {
                return Err(PlanError::PreloadMissing(p.clone()));
            }
        }

        let output = output_path(&cli.output)?;
        let stub = match &cli.stub {
            Some(p) => StubChoice::File(input_file(p)?),
            None => StubChoice::Embedded,
        };
        let inputs = std::iter::once(&main)
            .chain(&modules)
            .map(|i| (i.path.clone(), i.display.clone()))
            .chain(match &stub {
                StubChoice::File(p) => Some((p.clone(), format!("--stub {}", display(p)))),
                StubChoice::Embedded => None,
            });
        for (path, what) in inputs {
            if path == output {
                return Err(PlanError::OutputIsInput { display: display(&cli.output), what });
            }
        }

        let store = if cli.source { Store::Source } else { Store::Bytecode { strip: cli.strip } };
        Ok(BuildPlan {
            main,
            root,
            modules,
            preloads: cli.preloads.clone(),
            output,
            stub,
            store,
            quiet: cli.quiet,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        for ok in ["a", "a.b", "socket.core", "lib_x.y-z", "ü"] {
            assert!(valid_module_name(ok), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a/b", "a b", "a?", "a;b"] {
            assert!(!valid_module_name(bad), "{bad:?}");
        }
    }
}
