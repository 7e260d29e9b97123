//! The program's static files (`--asset PATH[=MOUNT]`, `--asset-exclude GLOB`): every file of
//! each tree, checked and read, with the path the program will open it by at run time.
//!
//! A mount is the path as the program names it: relative (`public/style.css`, resolved against
//! the working directory at run time, as `io.open` resolves it) or absolute (`/etc/app.conf`).
//! Without `=MOUNT`, the path as written is the mount. Mounts are normalised (`./` and repeated
//! slashes dropped) and never contain `..`; every file is a regular file or a symlink to one
//! inside its own tree, at most 4 GiB, with a UTF-8 name. Whatever breaks one of these rules is
//! an error naming the path, found before anything is written.

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::graph::glob_match;

/// The largest asset: the payload records sizes in 32 bits.
pub const MAX_ASSET: u64 = u32::MAX as u64;

/// One `--asset` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSpec {
    /// The file or directory, as written.
    pub source: PathBuf,
    /// `=MOUNT`, if given.
    pub mount: Option<String>,
}

impl AssetSpec {
    /// `PATH` or `PATH=MOUNT`. A path that itself contains `=` is given as `PATH=` followed by
    /// its mount (the last `=` separates).
    pub fn parse(spec: &str) -> AssetSpec {
        match spec.rsplit_once('=') {
            Some((source, mount)) if !source.is_empty() => {
                AssetSpec { source: PathBuf::from(source), mount: Some(mount.to_owned()) }
            }
            _ => AssetSpec { source: PathBuf::from(spec), mount: None },
        }
    }
}

/// A file the program carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The run-time path: relative (`public/style.css`) or absolute (`/etc/app.conf`).
    pub mount: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// Permission bits (`0o644`).
    pub mode: u32,
    pub bytes: Vec<u8>,
}

/// Why the assets cannot be collected; each names the path concerned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AssetError {
    #[error("--asset {0}: no such file or directory")]
    Missing(String),
    #[error("--asset {path}: cannot read it: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("--asset {path}: is a {what}; an asset is a regular file or a directory of them")]
    NotAFile { path: String, what: &'static str },
    #[error("--asset {path}: a symlink to {target}, outside the tree {root}; copy the file in, or add it with its own --asset")]
    SymlinkOutside { path: String, target: String, root: String },
    #[error("--asset {path}: {size} bytes, more than the 4 GiB an asset may have")]
    TooLarge { path: String, size: u64 },
    #[error("--asset {0}: the name is not UTF-8; rename the file")]
    NotUtf8(String),
    #[error("--asset {spec}: the mount '{mount}' contains '..'; give a mount inside the working directory or an absolute one")]
    DotDot { spec: String, mount: String },
    #[error("--asset {spec}: empty mount; give a path after '='")]
    EmptyMount { spec: String },
    #[error("the asset {file} is mounted at {mount}, where {other} (at {inner}) needs a directory; mount one of them elsewhere")]
    FileIsDirectory { mount: String, file: String, inner: String, other: String },
    #[error("two assets claim the path {mount}: {first} and {second}")]
    Duplicate { mount: String, first: String, second: String },
}

/// The mount as a normalised path: `./` parts and repeated or trailing slashes dropped; `None`
/// if it has a `..` part.
fn normalise(mount: &str) -> Option<String> {
    let absolute = mount.starts_with('/');
    let mut parts = Vec::new();
    for part in mount.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    Some(if absolute { format!("/{joined}") } else { joined })
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// Every asset of `specs`, minus the files whose mount or source path matches an exclude
/// glob, sorted by mount.
pub fn collect(specs: &[AssetSpec], excludes: &[String]) -> Result<Vec<Asset>, AssetError> {
    let mut by_mount: BTreeMap<String, Asset> = BTreeMap::new();
    for spec in specs {
        let written = shown(&spec.source);
        let spec_text = match &spec.mount {
            Some(m) => format!("{written}={m}"),
            None => written.clone(),
        };
        let mount = spec.mount.clone().unwrap_or_else(|| written.clone());
        if mount.is_empty() {
            return Err(AssetError::EmptyMount { spec: spec_text });
        }
        let Some(mount) = normalise(&mount) else {
            return Err(AssetError::DotDot { spec: spec_text, mount });
        };
        if mount.is_empty() || mount == "/" {
            return Err(AssetError::EmptyMount { spec: spec_text });
        }
        let meta = std::fs::metadata(&spec.source).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AssetError::Missing(written.clone()),
            _ => AssetError::Unreadable { path: written.clone(), reason: e.to_string() },
        })?;
        let mut found = Vec::new();
        if meta.is_dir() {
            let root = spec.source.canonicalize().map_err(|e| AssetError::Unreadable {
                path: written.clone(),
                reason: e.to_string(),
            })?;
            walk(&spec.source, &root, &mount, &mut found)?;
        } else {
            check_file(&spec.source, &meta)?;
            found.push((mount, spec.source.clone()));
        }
        for (mount, file) in found {
            let excluded = excludes.iter().any(|g| {
                glob_match(g, &mount)
                    || glob_match(g, &shown(&file))
                    || file.file_name().is_some_and(|n| glob_match(g, &n.to_string_lossy()))
            });
            if excluded {
                continue;
            }
            if let Some(first) = by_mount.get(&mount) {
                return Err(AssetError::Duplicate {
                    mount,
                    first: shown(&first.file),
                    second: shown(&file),
                });
            }
            let asset = read(&file, mount.clone())?;
            by_mount.insert(mount, asset);
        }
    }
    // A file cannot also be a directory: `m` and `m/x` would make the program see a file under
    // a file.
    for mount in by_mount.keys() {
        let under = format!("{mount}/");
        if let Some((inner, asset)) = by_mount.range(under.clone()..).next() {
            if inner.starts_with(&under) {
                return Err(AssetError::FileIsDirectory {
                    mount: mount.clone(),
                    file: shown(&by_mount[mount].file),
                    inner: inner.clone(),
                    other: shown(&asset.file),
                });
            }
        }
    }
    Ok(by_mount.into_values().collect())
}

/// The files under `dir` (whose canonical path is `root`), each with its mount under `mount`.
fn walk(
    dir: &Path,
    root: &Path,
    mount: &str,
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), AssetError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| AssetError::Unreadable { path: shown(dir), reason: e.to_string() })?;
    let mut children: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|e| AssetError::Unreadable { path: shown(dir), reason: e.to_string() })?;
        children.push(entry.path());
    }
    // The order of the tree, not of the directory: the same output on every machine.
    children.sort();
    for path in children {
        let name = path.file_name().unwrap_or_default();
        let Some(name) = name.to_str() else { return Err(AssetError::NotUtf8(shown(&path))) };
        let child_mount = format!("{mount}/{name}");
        let link = std::fs::symlink_metadata(&path)
            .map_err(|e| AssetError::Unreadable { path: shown(&path), reason: e.to_string() })?;
        if link.file_type().is_symlink() {
            // A link is followed only while it stays in the tree.
            let target = path.canonicalize().map_err(|e| AssetError::Unreadable {
                path: shown(&path),
                reason: e.to_string(),
            })?;
            if !target.starts_with(root) {
                return Err(AssetError::SymlinkOutside {
                    path: shown(&path),
                    target: shown(&target),
                    root: shown(root),
                });
            }
        }
        let meta = std::fs::metadata(&path)
            .map_err(|e| AssetError::Unreadable { path: shown(&path), reason: e.to_string() })?;
        if meta.is_dir() {
            if link.file_type().is_symlink() {
                // A link to a directory of the same tree: its files are there already.
                continue;
            }
            walk(&path, root, &child_mount, out)?;
        } else {
            check_file(&path, &meta)?;
            out.push((child_mount, path));
        }
    }
    Ok(())
}

/// A regular file of at most [`MAX_ASSET`] bytes.
fn check_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), AssetError> {
    let ft = meta.file_type();
    let what = if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "device"
    } else if !ft.is_file() {
        "special file"
    } else {
        ""
    };
    if !what.is_empty() {
        return Err(AssetError::NotAFile { path: shown(path), what });
    }
    if meta.len() > MAX_ASSET {
        return Err(AssetError::TooLarge { path: shown(path), size: meta.len() });
    }
    if path.to_str().is_none() {
        return Err(AssetError::NotUtf8(shown(path)));
    }
    Ok(())
}

fn read(file: &Path, mount: String) -> Result<Asset, AssetError> {
    let unreadable =
        |e: std::io::Error| AssetError::Unreadable { path: shown(file), reason: e.to_string() };
    let meta = std::fs::metadata(file).map_err(unreadable)?;
    let bytes = std::fs::read(file).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_ASSET {
        return Err(AssetError::TooLarge { path: shown(file), size: bytes.len() as u64 });
    }
    Ok(Asset { mount, file: file.to_path_buf(), mode: meta.permissions().mode() & 0o7777, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (f, text) in [
            ("public/style.css", "body{}"),
            ("public/js/app.js", "x()"),
            ("public/.hidden", "h"),
            ("views/index.html", "<p>"),
        ] {
            let p = t.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        t
    }

    #[test]
    fn mounts_default_to_the_path_as_written() {
        let t = tree();
        let public = t.path().join("public");
        let specs = [
            AssetSpec { source: public.clone(), mount: Some("./public/".into()) },
            AssetSpec::parse(&format!("{}=tpl", t.path().join("views/index.html").display())),
        ];
        let assets = collect(&specs, &["*.js".into()]).unwrap();
        let mounts: Vec<&str> = assets.iter().map(|a| a.mount.as_str()).collect();
        assert_eq!(mounts, ["public/.hidden", "public/style.css", "tpl"]);
        assert_eq!(assets[1].bytes, b"body{}");
        let abs = [AssetSpec { source: public, mount: Some("/srv//www".into()) }];
        let assets = collect(&abs, &[]).unwrap();
        assert_eq!(assets[0].mount, "/srv/www/.hidden");
    }

    #[test]
    fn bad_inputs_name_the_path() {
        let t = tree();
        let p = |s: &str| t.path().join(s);
        let dd = collect(&[AssetSpec { source: p("public"), mount: Some("../x".into()) }], &[]);
        assert!(matches!(dd, Err(AssetError::DotDot { .. })), "{dd:?}");
        let twice = collect(
            &[
                AssetSpec { source: p("public/style.css"), mount: Some("a".into()) },
                AssetSpec { source: p("views/index.html"), mount: Some("a".into()) },
            ],
            &[],
        );
        assert!(matches!(twice, Err(AssetError::Duplicate { .. })), "{twice:?}");
        std::os::unix::fs::symlink("/etc/hostname", p("public/link")).unwrap();
        let out = collect(&[AssetSpec { source: p("public"), mount: None }], &[]).unwrap_err();
        assert!(matches!(out, AssetError::SymlinkOutside { .. }), "{out}");
        assert!(out.to_string().contains("public/link"), "{out}");
        std::fs::remove_file(p("public/link")).unwrap();
        std::os::unix::fs::symlink(p("public/style.css"), p("public/same.css")).unwrap();
        let ok = collect(&[AssetSpec { source: p("public"), mount: Some("w".into()) }], &[]);
        assert!(ok.unwrap().iter().any(|a| a.mount == "w/same.css" && a.bytes == b"body{}"));
        let fifo = p("public/pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = collect(&[AssetSpec { source: p("public"), mount: None }], &[]).unwrap_err();
        assert!(matches!(e, AssetError::NotAFile { what: "FIFO", .. }), "{e}");
        std::fs::remove_file(&fifo).unwrap();
        let odd = t.path().join(std::ffi::OsStr::from_bytes(b"public/x\xff.txt"));
        std::fs::write(&odd, "x").unwrap();
        let e = collect(&[AssetSpec { source: p("public"), mount: None }], &[]).unwrap_err();
        assert!(matches!(e, AssetError::NotUtf8(_)), "{e}");
        let missing = collect(&[AssetSpec { source: p("nope"), mount: None }], &[]).unwrap_err();
        assert_eq!(missing, AssetError::Missing(p("nope").display().to_string()));
    }
}
