//! `bundle heroku slug`: a Heroku slug from a bundled executable, following "Creating slugs from
//! scratch" (devcenter.heroku.com/articles/platform-api-deploying-slugs): a gzipped tarball whose
//! entries live under `./app/`, the executable at mode 0755, and a `Procfile`. The bytes depend
//! only on the inputs: sorted entries, fixed times and owners, a gzip header without a time.

use std::path::Path;

use crate::inspect;
use crate::stacks::{self, Stack};

/// Why no slug was made.
#[derive(Debug, thiserror::Error)]
pub enum HerokuError {
    #[error("{0}")]
    Invalid(String),
    #[error("{}: not a bundled executable ({reason}); build it first: bundle app.lua -o app", path.display())]
    NotBundled { path: std::path::PathBuf, reason: String },
    #[error("{0}")]
    Stack(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One process type of the Procfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub kind: String,
    pub command: String,
}

/// Heroku's rule for process type names: `^[-\w]{1,128}$`.
pub fn valid_process_type(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.chars().all(|c| c == '-' || c == '_' || c.is_alphanumeric())
}

/// Parses `TYPE=COMMAND`.
pub fn parse_process(spec: &str) -> Result<Process, HerokuError> {
    let (kind, command) = spec.split_once('=').ok_or_else(|| {
        HerokuError::Invalid(format!(
            "--process {spec}: expected TYPE=COMMAND, e.g. web='./server'"
        ))
    })?;
    if !valid_process_type(kind) {
        return Err(HerokuError::Invalid(format!(
            "--process {spec}: '{kind}' is not a process type Heroku accepts (letters, digits, '-' and '_', at most 128)"
        )));
    }
    if command.trim().is_empty() || command.contains('\n') {
        return Err(HerokuError::Invalid(format!(
            "--process {spec}: the command must be one non-empty line"
        )));
    }
    Ok(Process { kind: kind.to_owned(), command: command.to_owned() })
}

/// The processes to declare: the ones given, or `web: ./<binary name>`.
pub fn processes(binary: &Path, given: &[String]) -> Result<Vec<Process>, HerokuError> {
    let mut out: Vec<Process> = Vec::new();
    for spec in given {
        let p = parse_process(spec)?;
        if out.iter().any(|q| q.kind == p.kind) {
            return Err(HerokuError::Invalid(format!("process type '{}' is given twice", p.kind)));
        }
        out.push(p);
    }
    if out.is_empty() {
        out.push(Process { kind: "web".into(), command: format!("./{}", file_name(binary)?) });
    }
    Ok(out)
}

fn file_name(binary: &Path) -> Result<String, HerokuError> {
    binary.file_name().and_then(|n| n.to_str()).map(str::to_owned).ok_or_else(|| {
        HerokuError::Invalid(format!("{}: needs a UTF-8 file name", binary.display()))
    })
}

/// The `process_types` object of the Platform API's slug creation, as JSON.
pub fn process_types_json(processes: &[Process]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = processes
        .iter()
        .map(|p| (p.kind.clone(), serde_json::Value::String(p.command.clone())))
        .collect();
    serde_json::Value::Object(map)
}

/// Checks that `binary` is an intact bundled executable that runs on `stack` (if given), and
/// returns its bytes.
pub fn checked_binary(binary: &Path, stack: Option<Stack>) -> Result<Vec<u8>, HerokuError> {
    let report = inspect::verify(binary).map_err(|e| HerokuError::NotBundled {
        path: binary.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(stack) = stack {
        stacks::check(&report, stack).map_err(HerokuError::Stack)?;
    }
    std::fs::read(binary).map_err(|source| HerokuError::Io { path: binary.to_path_buf(), source })
}

/// The stack called `name`, or an error listing the known ones.
pub fn stack(name: &str) -> Result<Stack, HerokuError> {
    stacks::find(name).ok_or_else(|| {
        HerokuError::Invalid(format!("unknown stack '{name}' (known: {})", stacks::names()))
    })
}

/// A header whose name is exactly `path` (the tar crate's path setter would drop the leading
/// `./`, which Heroku's slug layout has).
fn header(
    path: &str,
    mode: u32,
    size: u64,
    kind: tar::EntryType,
) -> Result<tar::Header, HerokuError> {
    let mut h = tar::Header::new_gnu();
    let name = &mut h.as_old_mut().name;
    if path.len() >= name.len() {
        return Err(HerokuError::Invalid(format!("file name too long for the slug: {path}")));
    }
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    let _ = h.set_username("");
    let _ = h.set_groupname("");
    h.set_cksum();
    Ok(h)
}

/// The slug: `./app/`, `./app/Procfile`, `./app/<binary>`, gzipped, deterministic.
pub fn slug(
    binary_name: &str,
    binary: &[u8],
    processes: &[Process],
) -> Result<Vec<u8>, HerokuError> {
    let io = |e: std::io::Error| HerokuError::Invalid(format!("building the slug: {e}"));
    let procfile: String =
        processes.iter().map(|p| format!("{}: {}\n", p.kind, p.command)).collect();
    let gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let dir = header("./app/", 0o755, 0, tar::EntryType::Directory)?;
    tar.append(&dir, std::io::empty()).map_err(io)?;
    let mut entries: Vec<(String, u32, &[u8])> = vec![
        (format!("./app/{binary_name}"), 0o755, binary),
        ("./app/Procfile".to_owned(), 0o644, procfile.as_bytes()),
    ];
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, mode, data) in entries {
        let h = header(&path, mode, data.len() as u64, tar::EntryType::Regular)?;
        tar.append(&h, data).map_err(io)?;
    }
    let gz = tar.into_inner().map_err(io)?;
    gz.finish().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_types_follow_herokus_rule() {
        assert!(valid_process_type("web"));
        assert!(valid_process_type("worker-2_x"));
        assert!(!valid_process_type(""));
        assert!(!valid_process_type("we b"));
        assert!(!valid_process_type(&"x".repeat(129)));
        assert!(parse_process("web").is_err());
        assert!(parse_process("web=").is_err());
        assert_eq!(parse_process("worker=./app worker").unwrap().command, "./app worker");
    }

    #[test]
    fn slug_is_deterministic_and_laid_out_under_app() {
        let procs = vec![Process { kind: "web".into(), command: "./server".into() }];
        let a = slug("server", b"\x7fELF...", &procs).unwrap();
        assert_eq!(a, slug("server", b"\x7fELF...", &procs).unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&a[..]));
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            seen.push((path, h.mode().unwrap(), h.mtime().unwrap()));
        }
        assert_eq!(
            seen,
            vec![
                ("./app/".to_owned(), 0o755, 0),
                ("./app/Procfile".to_owned(), 0o644, 0),
                ("./app/server".to_owned(), 0o755, 0)
            ]
        );
    }
}
