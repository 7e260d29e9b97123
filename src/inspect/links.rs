//! `bundle links APP DIR`: for every entry point NAME of APP (the interpreter entry too), a
//! symlink DIR/NAME → APP, so that each runs by its name, as busybox's applets do: the runtime
//! chooses the entry by the base name the executable was invoked by. The links are relative
//! (`web -> app`, `bin/web -> ../app`), so that the directory can move with the executable.
//!
//! Nothing is replaced: a file already at DIR/NAME is an error, unless it is APP itself or a
//! link to it (kept, so that running the command again is harmless). Every name is checked
//! before the first link is made, and a failure while making them removes the ones made.

use std::path::{Component, Path, PathBuf};

use super::InspectError;

/// Why the links were not made. Paths and names are shown with control characters escaped.
#[derive(Debug, thiserror::Error)]
pub enum LinksError {
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error("{}: has no entry points: build it with --entry NAME=FILE (one per program), e.g. bundle --entry web=web.lua --entry worker=worker.lua -o app", shown(.0))]
    NoEntries(PathBuf),
    #[error("{}: the entry '{}' is not a file name a link can have", shown(.0), .1.escape_debug())]
    BadName(PathBuf, String),
    #[error("{}: is not a directory", shown(.0))]
    NotADirectory(PathBuf),
    #[error("{}: already exists and is not a link to {}; remove it or choose another directory (nothing was linked)", shown(.0), shown(.1))]
    Exists(PathBuf, PathBuf),
    #[error("{}: {source}", shown(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn shown(p: &Path) -> String {
    p.display().to_string().escape_debug().to_string()
}

/// One link of [`links`]: where it is, and whether this run made it (or found it there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub path: PathBuf,
    pub made: bool,
}

/// Makes DIR/NAME → APP for every entry point NAME of `app` (see the module comment).
pub fn links(app: &Path, dir: &Path) -> Result<Vec<Link>, LinksError> {
    let report = super::verify(app)?;
    let names: Vec<&str> = report.payload.entry_points.iter().map(|e| e.name.as_str()).collect();
    if names.is_empty() {
        return Err(LinksError::NoEntries(app.to_path_buf()));
    }
    // The format allows any name without `/` or NUL; a link needs one plain path component.
    if let Some(bad) = names.iter().find(|n| matches!(**n, "" | "." | "..") || n.contains('/')) {
        return Err(LinksError::BadName(app.to_path_buf(), (*bad).to_owned()));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LinksError::Io { path, source }
    };
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => return Err(LinksError::NotADirectory(dir.to_path_buf())),
        Ok(_) => {}
        Err(_) => std::fs::create_dir_all(dir).map_err(io(dir))?,
    }
    let app_real = app.canonicalize().map_err(io(app))?;
    let dir_real = dir.canonicalize().map_err(io(dir))?;
    let target = relative(&app_real, &dir_real);
    let mut plan = Vec::new();
    for name in names {
        let path = dir.join(name);
        let made = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(io(&path)(e)),
            // APP itself (an executable called like its entry), or a link that leads to it.
            Ok(_) if path.canonicalize().ok().as_ref() == Some(&app_real) => false,
            Ok(_) => return Err(LinksError::Exists(path, app.to_path_buf())),
        };
        plan.push(Link { path, made });
    }
    let mut done: Vec<&Path> = Vec::new();
    for link in plan.iter().filter(|l| l.made) {
        if let Err(e) = std::os::unix::fs::symlink(&target, &link.path) {
            for p in done {
                let _ = std::fs::remove_file(p);
            }
            return Err(io(&link.path)(e));
        }
        done.push(&link.path);
    }
    Ok(plan)
}

/// `path` relative to the directory `dir` (both canonical): `app`, `../app`, `bin/app`.
fn relative(path: &Path, dir: &Path) -> PathBuf {
    let common = path.components().zip(dir.components()).take_while(|(a, b)| a == b).count();
    let ups = dir.components().skip(common).filter(|c| matches!(c, Component::Normal(_)));
    let mut out: PathBuf = ups.map(|_| Component::ParentDir).collect();
    out.extend(path.components().skip(common));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let r = |p: &str, d: &str| relative(Path::new(p), Path::new(d));
        assert_eq!(r("/srv/app", "/srv"), Path::new("app"));
        assert_eq!(r("/srv/app", "/srv/bin"), Path::new("../app"));
        assert_eq!(r("/srv/bin/app", "/srv"), Path::new("bin/app"));
        assert_eq!(r("/srv/app", "/"), Path::new("srv/app"));
        assert_eq!(r("/app", "/a/b"), Path::new("../../app"));
    }
}
