//! `--remap-path-prefix FROM=TO`: rewrites the start of the paths a build records (chunk names,
//! and so tracebacks; the bill of materials; the build flags), so that builds of one project
//! from different directories are byte-identical. rustc's convention
//! (<https://doc.rust-lang.org/rustc/remap-source-paths.html>): the value splits at its last
//! `=` (FROM may hold one, TO may not), and when several prefixes match, the last one given
//! wins. A prefix matches whole path components (`/src` is not a prefix of `/srcs/x`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The remappings, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remap {
    rules: Vec<(PathBuf, PathBuf)>,
}

/// Parses one `FROM=TO` (clap's value parser for `--remap-path-prefix`).
pub fn parse_rule(value: &str) -> Result<(PathBuf, PathBuf), String> {
    match value.rsplit_once('=') {
        Some((from, to)) if !from.is_empty() => Ok((PathBuf::from(from), PathBuf::from(to))),
        Some(_) => {
            Err(format!("'{value}': FROM is empty; expected FROM=TO, e.g. /home/me/app=/app"))
        }
        None => Err(format!("'{value}' has no '='; expected FROM=TO, e.g. /home/me/app=/app")),
    }
}

impl Remap {
    pub fn new(rules: Vec<(PathBuf, PathBuf)>) -> Self {
        Remap { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// These rules and `from` → `to` after them (so it wins where both apply).
    pub fn with_rule(&self, from: &Path, to: &Path) -> Remap {
        let mut rules = self.rules.clone();
        rules.push((from.to_path_buf(), to.to_path_buf()));
        Remap { rules }
    }

    /// `path` with the last matching prefix replaced; unchanged when none matches.
    pub fn path(&self, path: &Path) -> PathBuf {
        for (from, to) in self.rules.iter().rev() {
            if let Ok(rest) = path.strip_prefix(from) {
                return if rest.as_os_str().is_empty() { to.clone() } else { to.join(rest) };
            }
        }
        path.to_path_buf()
    }

    /// A chunk name (`@PATH`, or anything else, kept as is) with its path remapped.
    pub fn chunkname(&self, chunkname: &[u8]) -> Vec<u8> {
        match chunkname.strip_prefix(b"@") {
            Some(p) if !self.is_empty() => {
                let mapped = self.path(Path::new(OsStr::from_bytes(p)));
                [b"@".as_slice(), mapped.as_os_str().as_bytes()].concat()
            }
            _ => chunkname.to_vec(),
        }
    }

    /// A path for a record, remapped, as text (lossy for a name that is not UTF-8).
    pub fn text(&self, path: &Path) -> String {
        self.path(path).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_matching_rule_wins_on_whole_components() {
        let r = Remap::new(vec![
            parse_rule("/home/me=/h").unwrap(),
            parse_rule("/home/me/app=/app").unwrap(),
        ]);
        assert_eq!(r.path(Path::new("/home/me/app/x.lua")), Path::new("/app/x.lua"));
        assert_eq!(r.path(Path::new("/home/me/lib/y.lua")), Path::new("/h/lib/y.lua"));
        assert_eq!(r.path(Path::new("/home/meow/y.lua")), Path::new("/home/meow/y.lua"));
        assert_eq!(r.path(Path::new("/home/me/app")), Path::new("/app"));
        assert_eq!(r.chunkname(b"@/home/me/app/m.lua"), b"@/app/m.lua");
        assert_eq!(r.chunkname(b"@./m.lua"), b"@./m.lua");
        assert_eq!(r.chunkname(b"=stdin"), b"=stdin");
    }

    #[test]
    fn from_may_hold_an_equals_sign_to_may_not() {
        assert_eq!(parse_rule("/a=b=/c").unwrap(), (PathBuf::from("/a=b"), PathBuf::from("/c")));
        assert!(parse_rule("/a").unwrap_err().contains("no '='"));
        assert!(parse_rule("=/a").unwrap_err().contains("FROM is empty"));
    }
}
