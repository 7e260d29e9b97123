//! Reading input files: every file `bundle` reads whole (scripts, modules, C libraries, stubs,
//! module lists) goes through [`read`], which accepts regular files only and caps their size,
//! so that `/dev/zero` as a script, a `LUA_PATH` entry or `--stub` is a clear error instead of
//! memory growing until the process is killed. luajit cannot load such inputs either: a FIFO or
//! device is not a module file.

use std::io::Read;
use std::path::{Path, PathBuf};

/// A file given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The path as the user wrote it, for messages.
    pub display: String,
    /// Canonical path.
    pub path: PathBuf,
}

/// The largest input read whole: far above any real Lua source, C module or stub, and below
/// what LuaJIT itself could load (its strings and chunks stay under 2 GiB).
pub const MAX_INPUT: u64 = 1 << 30;

/// Reads `path`, a regular file of at most [`MAX_INPUT`] bytes (following symlinks).
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a directory, device, FIFO or socket cannot be a Lua script or module)",
        ));
    }
    if meta.len() > MAX_INPUT {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {} MiB an input may have",
            meta.len(),
            MAX_INPUT >> 20
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The cap holds even if the file grows while it is read.
    file.take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(std::io::Error::other("the file grew past the input size limit while read"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused() {
        for p in ["/dev/zero", "/dev/null", "/"] {
            let err = read(Path::new(p)).unwrap_err().to_string();
            assert!(err.contains("not a regular file"), "{p}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.lua");
        std::fs::write(&f, "return 1").unwrap();
        assert_eq!(read(&f).unwrap(), b"return 1");
    }
}
