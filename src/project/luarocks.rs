//! Running the real `luarocks` for a project (`--install-deps`): `luarocks install --only-deps
//! --tree TREE [--only-server SERVER] ROCKSPEC`, its output streamed to stderr (stdout stays
//! the bundler's), its failure reported with the command it ran.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why the dependencies could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum LuarocksError {
    #[error("--install-deps runs luarocks, which is not installed (not found on PATH); install it (Debian: apt-get install luarocks), or install the dependencies into {tree} yourself")]
    NotInstalled { tree: String },
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("luarocks failed ({status}); the command was: {command}")]
    Failed { command: String, status: String },
}

/// `luarocks` on PATH.
fn find() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|d| d.join("luarocks")).find(|p| p.is_file())
}

/// A shell-like rendering of `args`, for messages.
fn shown(args: &[&std::ffi::OsStr]) -> String {
    args.iter()
        .map(|a| {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\".contains(c)) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Installs the dependencies of `rockspec` into `tree` (created if missing), from `server`
/// only when given.
pub fn install_deps(
    rockspec: &Path,
    tree: &Path,
    server: Option<&str>,
) -> Result<(), LuarocksError> {
    let tree_text = tree.display().to_string();
    let luarocks = find().ok_or(LuarocksError::NotInstalled { tree: tree_text })?;
    let mut args: Vec<&std::ffi::OsStr> = vec![
        luarocks.as_os_str(),
        "install".as_ref(),
        "--only-deps".as_ref(),
        "--tree".as_ref(),
        tree.as_os_str(),
    ];
    if let Some(s) = server {
        args.push("--only-server".as_ref());
        args.push(s.as_ref());
    }
    args.push(rockspec.as_os_str());
    let command = shown(&args);
    // LuaRocks' progress goes to stderr with the bundler's messages; stdout is the program's.
    let stderr = std::io::stderr();
    let out = {
        use std::os::fd::AsFd;
        stderr.as_fd().try_clone_to_owned().map(Stdio::from).unwrap_or_else(|_| Stdio::inherit())
    };
    let status = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::inherit())
        .status()
        .map_err(|source| LuarocksError::Spawn { command: command.clone(), source })?;
    if !status.success() {
        return Err(LuarocksError::Failed { command, status: status.to_string() });
    }
    Ok(())
}
