//! `bundle extract FILE -d DIR`: writes the entries of a verified payload back to files: Lua
//! source as `.lua`, bytecode as `.luac` (loadable by `luajit`), native libraries as they were,
//! assets (`--asset`) at their mounts with their permission bits.
//!
//! The file names come from the payload, which may have been crafted: every path is checked to
//! stay inside DIR (no absolute path, no `..`, no symlink on the way), and existing files are
//! only replaced with `--force`. All checks run before the first file is written.

use std::path::{Component, Path, PathBuf};

use bundle_runtime::carrier;
use bundle_runtime::format::{Entry, Kind, Payload};

/// Why nothing (or not everything) was extracted.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Payload {
        path: PathBuf,
        #[source]
        source: carrier::LocateError,
    },
    #[error(
        "entry '{entry}': its path {path:?} would leave the output directory; nothing extracted"
    )]
    Escapes { entry: String, path: String },
    #[error("{}: is a symbolic link; refusing to write through it", .0.display())]
    Symlink(PathBuf),
    #[error("{}: already exists (use --force to overwrite)", .0.display())]
    Exists(PathBuf),
    #[error("two entries would be written to {}", .0.display())]
    Collision(PathBuf),
    #[error("{reason}; nothing extracted")]
    Refused { reason: String },
}

/// The relative path an entry is written to: by module name (`a.b` → `a/b.lua`, as the
/// `./?.lua` template finds it; unique, since names are), the main script and the entry points'
/// scripts by the file name of their chunk names (as luajit would run them from the directory).
/// Bytecode gets `.luac`, a native library keeps its file name.
pub fn entry_path(e: &Entry) -> String {
    let chunk = String::from_utf8_lossy(e.chunkname).into_owned();
    let name = String::from_utf8_lossy(e.name).into_owned();
    let base = if name.is_empty() || e.entry_name().is_some() {
        chunk
            .rsplit('/')
            .next()
            .filter(|f| !f.is_empty() && *f != "@")
            .map_or("main.lua".to_owned(), |f| f.trim_start_matches('@').to_owned())
    } else if e.kind == Kind::Native {
        if e.flags & bundle_runtime::format::flags::LIBRARY != 0 {
            name.clone()
        } else {
            format!("{}.so", name.replace('.', "/"))
        }
    } else {
        format!("{}.lua", name.replace('.', "/"))
    };
    match e.kind {
        Kind::LuaBytecode => match base.strip_suffix(".lua") {
            Some(stem) => format!("{stem}.luac"),
            None => format!("{base}.luac"),
        },
        _ => base,
    }
}

/// The relative path an asset is written to: its mount key, an absolute mount without its
/// leading `/` (`public/style.css` → `public/style.css`, `/etc/app.conf` → `etc/app.conf`).
/// `None` unless every part is a plain name: verification refuses other keys already, and they
/// are refused here again because this is what decides where a file lands.
pub fn asset_path(key: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let rel = key.strip_prefix(b"/").unwrap_or(key);
    let plain = !rel.is_empty()
        && rel.split(|b| *b == b'/').all(|p| !matches!(p, b"" | b"." | b"..") && !p.contains(&0));
    plain.then(|| PathBuf::from(std::ffi::OsStr::from_bytes(rel)))
}

/// Checks that `rel` is a plain relative path and joins it to `dir`.
fn safe_join(dir: &Path, rel: &Path, entry: &str) -> Result<PathBuf, ExtractError> {
    let escapes =
        || ExtractError::Escapes { entry: entry.to_owned(), path: rel.display().to_string() };
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(escapes());
    }
    Ok(dir.join(rel))
}

/// Refuses a symlink anywhere between `dir` (exclusive) and `target` (inclusive).
fn check_no_symlink(dir: &Path, target: &Path) -> Result<(), ExtractError> {
    let mut at = target.to_path_buf();
    while at != dir {
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(ExtractError::Symlink(at));
        }
        if !at.pop() {
            break;
        }
    }
    Ok(())
}

/// Extracts every entry of `file` under `dir`; returns the files written.
pub fn extract(file: &Path, dir: &Path, force: bool) -> Result<Vec<PathBuf>, ExtractError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExtractError::Io { path, source }
    };
    let bytes = crate::base::input::read(file).map_err(io(file))?;
    let payload_err = |source| ExtractError::Payload { path: file.to_path_buf(), source };
    let located = carrier::locate(&bytes).map_err(payload_err)?;
    let damaged =
        |source| payload_err(carrier::LocateError::Damaged { carrier: located.carrier, source });
    let payload = Payload::parse(&bytes[located.range.clone()]).map_err(damaged)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(ExtractError::Symlink(dir.to_path_buf()));
    }
    // Plan every write first: a refusal leaves the directory as it was. Each planned file:
    // where, what, and its permission bits.
    let inputs = crate::output::emit::Inputs::of([file]);
    let mut plan: Vec<(PathBuf, Entry, u32)> = Vec::new();
    // Entries that land where an earlier one does (`--asset lib` with module `lib.util`
    // stored as source): allowed only with the same bytes, checked once decoded.
    let mut again: Vec<(usize, Entry)> = Vec::new();
    for e in payload.entries() {
        let e = e.map_err(damaged)?;
        let (rel, mode) = match e.asset_key() {
            // setuid, setgid and sticky bits are not restored: a payload is not trusted to
            // hand them out.
            Some(key) => {
                let rel = asset_path(key).ok_or_else(|| ExtractError::Escapes {
                    entry: e.display_name(),
                    path: String::from_utf8_lossy(key).into_owned(),
                })?;
                (rel, e.mode().unwrap_or(0o644) & 0o777)
            }
            // A module served by another entry's library has no bytes of its own to write.
            None if e.is_shared() => continue,
            None => (PathBuf::from(entry_path(&e)), 0o644),
        };
        let target = safe_join(dir, &rel, &e.display_name())?;
        check_no_symlink(dir, &target)?;
        if let Some(first) = plan.iter().position(|(t, _, _)| *t == target) {
            again.push((first, e));
            continue;
        }
        if !force && std::fs::symlink_metadata(&target).is_ok() {
            return Err(ExtractError::Exists(target));
        }
        // With --force too, every target is checked before anything is written: not the
        // executable itself (through a link), not a directory, FIFO or device.
        inputs.check(&target).map_err(|e| ExtractError::Refused { reason: e.to_string() })?;
        plan.push((target, e, mode));
    }
    // Decode everything before the first write: an undecodable entry leaves nothing behind.
    let mut decoded = Vec::with_capacity(plan.len());
    for (target, e, mode) in plan {
        decoded.push((target, e.decode().map_err(damaged)?, mode));
    }
    for (first, e) in again {
        let (target, data, _) = &decoded[first];
        if e.decode().map_err(damaged)? != *data {
            return Err(ExtractError::Collision(target.clone()));
        }
    }
    // Two phases: every file is first written to a temporary file beside its target; only when
    // all are written are they renamed into place (a rename never writes through an existing
    // link). A failure in the first phase removes the temporary files and the directories made.
    let mut made_dirs: Vec<PathBuf> = Vec::new();
    let mut registered = Vec::new();
    let mut staged = Vec::with_capacity(decoded.len());
    let staging = (|| {
        for (target, data, mode) in &decoded {
            let parent = target.parent().unwrap_or(dir);
            let mut missing = Vec::new();
            let mut at = parent;
            while !at.exists() && at.starts_with(dir) {
                missing.push(at.to_path_buf());
                at = at.parent().unwrap_or(dir);
            }
            std::fs::create_dir_all(parent).map_err(io(parent))?;
            for d in missing.into_iter().rev() {
                // Removed on an interruption too, once empty.
                registered.push(crate::base::cleanup::register(&d, true));
                made_dirs.push(d);
            }
            let mut tmp = tempfile::Builder::new()
                .prefix(".bundle-")
                .tempfile_in(parent)
                .map_err(io(parent))?;
            let _registered = crate::base::cleanup::register(tmp.path(), false);
            std::io::Write::write_all(&mut tmp, data).map_err(io(target))?;
            staged.push((tmp, target.clone(), *mode, _registered));
        }
        Ok(())
    })();
    if let Err(e) = staging {
        drop(staged);
        for d in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
        return Err(e);
    }
    let mut written = Vec::new();
    for (tmp, target, mode, _registered) in staged {
        // Checked again right before the rename: the directory may have changed meanwhile.
        check_no_symlink(dir, &target)?;
        inputs.check(&target).map_err(|e| ExtractError::Refused { reason: e.to_string() })?;
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode));
        tmp.persist(&target)
            .map_err(|e| ExtractError::Io { path: target.clone(), source: e.error })?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundle_runtime::format::Codec;

    fn entry<'a>(name: &'a [u8], chunk: &'a [u8], kind: Kind) -> Entry<'a> {
        Entry {
            name,
            chunkname: chunk,
            kind,
            codec: Codec::Stored,
            flags: 0,
            stored: b"",
            raw_len: 0,
            offset: 0,
            checksum: 0,
        }
    }

    #[test]
    fn paths_follow_chunk_names() {
        assert_eq!(entry_path(&entry(b"", b"@main.lua", Kind::LuaBytecode)), "main.luac");
        assert_eq!(entry_path(&entry(b"", b"@src/app.lua", Kind::LuaSource)), "app.lua");
        assert_eq!(entry_path(&entry(b"/web", b"@web.lua", Kind::LuaBytecode)), "web.luac");
        assert_eq!(entry_path(&entry(b"/w", b"@/srv/bin/w.lua", Kind::LuaSource)), "w.lua");
        assert_eq!(entry_path(&entry(b"a.b", b"@./a/b.lua", Kind::LuaSource)), "a/b.lua");
        // By name: `pkg` and `pkg.init` cannot collide, `../shared/u.lua` cannot escape.
        assert_eq!(entry_path(&entry(b"p", b"@./p/init.lua", Kind::LuaBytecode)), "p.luac");
        assert_eq!(
            entry_path(&entry(b"p.init", b"@./p/init.lua", Kind::LuaBytecode)),
            "p/init.luac"
        );
        assert_eq!(entry_path(&entry(b"u", b"@../shared/u.lua", Kind::LuaBytecode)), "u.luac");
        assert_eq!(
            entry_path(&entry(b"socket.core", b"@/usr/lib/core.so", Kind::Native)),
            "socket/core.so"
        );
    }

    #[test]
    fn escaping_paths_are_refused() {
        let dir = Path::new("/out");
        for bad in ["../x.lua", "a/../../x", "/etc/passwd", "", "./x"] {
            assert!(safe_join(dir, Path::new(bad), "m").is_err(), "{bad:?}");
        }
        assert_eq!(safe_join(dir, Path::new("a/b.lua"), "m").unwrap(), Path::new("/out/a/b.lua"));
    }

    #[test]
    fn assets_land_at_their_mounts_inside_the_directory() {
        let p = |k: &[u8]| asset_path(k).map(|p| p.display().to_string());
        assert_eq!(p(b"public/style.css").as_deref(), Some("public/style.css"));
        assert_eq!(p(b"/etc/app.conf").as_deref(), Some("etc/app.conf"));
        for bad in [
            &b""[..],
            b"/",
            b"//etc/x",
            b"../x",
            b"a/../../x",
            b"/..",
            b"a/./b",
            b"a//b",
            b"a/",
            b".",
            b"a\0b",
        ] {
            assert_eq!(p(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// A payload whose asset key climbs out (which verification would refuse, but extract
    /// reads only what start-up checks) is refused by extract itself, with nothing written.
    #[test]
    fn a_crafted_asset_key_with_dot_dot_is_refused() {
        let t = tempfile::tempdir().unwrap();
        for key in [&b"../escaped"[..], b"/../../escaped", b"ok/../../escaped"] {
            let mut w = bundle_runtime::format::Writer::new(1);
            w.add(bundle_runtime::format::NewEntry {
                name: Vec::new(),
                chunkname: b"@main.lua".to_vec(),
                kind: Kind::LuaSource,
                flags: 0,
                data: b"print(1)".to_vec(),
            });
            w.asset(key, 0o644, b"x".to_vec());
            w.assets_overlay(b"return", b"return {}");
            let (payload, _) = w.finish().unwrap();
            let exe = t.path().join("app");
            let bytes = crate::output::emit::attach(b"not an ELF stub", &payload).unwrap();
            std::fs::write(&exe, bytes).unwrap();
            let out = t.path().join("out/deeper");
            let err = extract(&exe, &out, true).unwrap_err();
            assert!(matches!(err, ExtractError::Escapes { .. }), "{err}");
            assert!(err.to_string().contains("escaped"), "{err}");
            assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
            assert!(!t.path().join("escaped").exists() && !t.path().join("out/escaped").exists());
        }
    }
}
