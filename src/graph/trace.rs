//! The run-time audit of `bundle MAIN --trace -- ARGS`: what a real run of the program loads
//! that static discovery missed, the files it reads that are not assets (with the `--asset`
//! flags that would embed them), and the module lists of `--save-trace` / `--modules-from`.
//!
//! This module runs one traced executable and reads back its log; [`crate::build`] drives the
//! rounds (build with the recorder as the first preload, run, add what was recorded, repeat until
//! nothing new appears). The recorder is src/trace.lua: it wraps the filesystem searchers of
//! `package.loaders` (the bundle's own searcher comes first, so only modules from outside the
//! bundle are seen) and `io.open`/`io.lines`/`loadfile`/`dofile` for read files.
//!
//! The traced run gets the build's search path, the arguments after `--`, the current directory
//! and environment of `bundle`, and end-of-file on stdin; it is stopped (its whole process group)
//! after the timeout. Child processes it starts are not traced.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::graph::resolve::SearchPath;

/// The module name under which the recorder is packed: not a name `require` could be asked for
/// by a program by accident.
pub const RECORDER: &str = "__bundle_trace";

const TEMPLATE: &str = include_str!("trace.lua");

/// A module listed by a traced run or a `--modules-from` file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Traced {
    pub name: String,
    /// The file it was loaded from, when known.
    pub file: Option<PathBuf>,
    /// `lua` or `c`, when known.
    pub kind: Option<String>,
}

/// What went wrong with a trace or a module list.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("--trace: cannot run the traced program: {0}")]
    Spawn(std::io::Error),
    #[error("--trace: the traced run of {main} did not finish within {secs} s and was stopped; raise --trace-timeout, or give arguments that make it end (nothing was written)")]
    Timeout { main: String, secs: u64 },
    #[error("--trace: cannot read the trace log {}: {source}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--modules-from {}: {source}", path.display())]
    ListRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    ListSyntax { path: PathBuf, line: usize, message: String },
}

/// How a traced run ended, and what it recorded.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The exit status, or `None` when a signal ended it.
    pub status: Option<i32>,
    pub signal: Option<i32>,
    /// Modules loaded from outside the bundle, sorted by name, each once.
    pub modules: Vec<Traced>,
    /// Files read, as the program named them, sorted, each once.
    pub files: Vec<String>,
    /// The last lines the program wrote to stderr, for the report of a failed run.
    pub stderr_tail: String,
}

/// A Lua string literal for any bytes (decimal escapes for everything but plain characters).
fn lua_string(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"/._-?;+,:= ".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03}"));
        }
    }
    out.push('"');
    out
}

/// A search path as `package.path` text, relative templates anchored where the build anchors
/// them (the main script's directory).
fn path_text(templates: &[crate::graph::resolve::Template]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let parts: Vec<Vec<u8>> =
        templates.iter().map(|t| t.expand("?").1.as_os_str().as_bytes().to_vec()).collect();
    parts.join(&b';')
}

/// The recorder's source, writing to `log` and searching `search`.
pub fn recorder_source(log: &Path, search: &SearchPath) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let values = format!(
        "{}, {}, {}",
        lua_string(log.as_os_str().as_bytes()),
        lua_string(&path_text(&search.lua)),
        lua_string(&path_text(&search.c))
    );
    TEMPLATE.replacen("@VALUES@", &values, 1).into_bytes()
}

/// Reads a pipe to its end in a thread, keeping at most the last `keep` bytes; the bytes arrive
/// on the returned channel at end-of-file.
fn drain(mut r: impl Read + Send + 'static, keep: usize) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * keep {
                kept.drain(..kept.len() - keep);
            }
        }
        if kept.len() > keep {
            kept.drain(..kept.len() - keep);
        }
        let _ = tx.send(kept);
    });
    rx
}

/// How long to wait for the program's output pipes to close once it has exited: a background
/// process it started may hold them open for ever, and is not ours to wait for.
const PIPE_GRACE: Duration = Duration::from_millis(300);

/// Runs `exe` with `args` (stdin at end-of-file, output captured), stops it after `timeout`,
/// and reads the recorder's log at `log`. `main` names the program in messages, in place of
/// the temporary executable's path.
pub fn run(
    exe: &Path,
    args: &[std::ffi::OsString],
    log: &Path,
    timeout: Duration,
    main: &str,
) -> Result<Outcome, TraceError> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout stops what it started too.
        .process_group(0)
        .spawn()
        .map_err(TraceError::Spawn)?;
    let group = crate::base::cleanup::child_group(child.id() as i32);
    let out = child.stdout.take().map(|o| drain(o, 0));
    let err = child.stderr.take().map(|e| drain(e, 4096));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(TraceError::Spawn)? {
            // Reaped: its group id may be reused from now on, so an interruption must not
            // signal it any more.
            drop(group);
            break status;
        }
        if start.elapsed() >= timeout {
            let pgid = child.id() as i32;
            // SAFETY: kill(2) with a negative pid signals the process group the child leads.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = child.wait();
            return Err(TraceError::Timeout { main: main.to_owned(), secs: timeout.as_secs() });
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = out.map(|rx| rx.recv_timeout(PIPE_GRACE));
    let stderr = err.and_then(|rx| rx.recv_timeout(PIPE_GRACE).ok()).unwrap_or_default();
    let text =
        std::fs::read(log).map_err(|source| TraceError::Log { path: log.to_path_buf(), source })?;
    let mut outcome = parse_log(&text);
    outcome.status = status.code();
    outcome.signal = status.signal();
    let stderr = String::from_utf8_lossy(&stderr).replace(&exe.display().to_string(), main);
    let lines: Vec<&str> = stderr.lines().collect();
    outcome.stderr_tail = lines[lines.len().saturating_sub(5)..].join("\n");
    Ok(outcome)
}

/// Parses the recorder's log (see src/trace.lua).
fn parse_log(text: &[u8]) -> Outcome {
    let mut outcome = Outcome::default();
    for line in String::from_utf8_lossy(text).lines() {
        let mut fields = line.split('\t');
        match fields.next() {
            Some("module") => {
                let (Some(name), kind) = (fields.next(), fields.next()) else {
                    continue;
                };
                // The file is the rest of the line: a path may hold a tab.
                let rest: Vec<&str> = fields.collect();
                let file = (!rest.is_empty()).then(|| rest.join("\t"));
                let file = file.as_deref();
                if crate::base::lua::valid_module_name(name) {
                    outcome.modules.push(Traced {
                        name: name.to_owned(),
                        kind: kind.map(str::to_owned),
                        file: file.filter(|f| !f.is_empty()).map(PathBuf::from),
                    });
                }
            }
            Some("file") => {
                let path: Vec<&str> = fields.collect();
                outcome.files.push(path.join("\t"));
            }
            _ => {}
        }
    }
    outcome.modules.sort();
    outcome.modules.dedup_by(|a, b| a.name == b.name);
    outcome.files.sort();
    outcome.files.dedup();
    outcome
}

/// The text of a `--save-trace` file: a comment, then `NAME<TAB>FILE` lines, sorted, each name
/// once. Relative files are relative to the current directory, where `bundle` reads them back.
pub fn module_list(modules: &[Traced], main: &str) -> String {
    let mut out = format!(
        "# Modules a traced run of {main} loaded from outside the bundle (bundle --save-trace).\n# Read back with --modules-from; one module per line: NAME, optionally a tab and its file.\n"
    );
    let mut sorted: Vec<&Traced> = modules.iter().collect();
    sorted.sort();
    sorted.dedup_by(|a, b| a.name == b.name);
    let cwd = std::env::current_dir().ok();
    for m in sorted {
        out.push_str(&m.name);
        if let Some(f) = &m.file {
            // Without `.` components, and relative to the current directory when below it, so
            // that a list committed with a project does not depend on where it was checked out.
            let clean: PathBuf = f.components().filter(|c| c.as_os_str() != ".").collect();
            let shown = cwd.as_deref().and_then(|c| clean.strip_prefix(c).ok()).unwrap_or(&clean);
            out.push('\t');
            out.push_str(&shown.display().to_string());
        }
        out.push('\n');
    }
    out
}

/// Reads a `--modules-from` file: blank lines and `#` comments are skipped; every other line is
/// a module name, optionally followed by a tab and the file it was loaded from.
pub fn read_module_list(path: &Path) -> Result<Vec<Traced>, TraceError> {
    let bytes = crate::base::input::read(path)
        .map_err(|source| TraceError::ListRead { path: path.to_path_buf(), source })?;
    let syntax = |line: usize, message: String| TraceError::ListSyntax {
        path: path.to_path_buf(),
        line,
        message,
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| syntax(1, "not UTF-8 text: expected one module name per line".into()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (name, file) = match line.split_once('\t') {
            Some((n, f)) => (n.trim(), Some(PathBuf::from(f))),
            None => (line.trim(), None),
        };
        if !crate::base::lua::valid_module_name(name) {
            return Err(syntax(
                i + 1,
                format!("'{name}' is not a module name (expected NAME, or NAME<TAB>FILE)"),
            ));
        }
        out.push(Traced { name: name.to_owned(), file, kind: None });
    }
    Ok(out)
}

/// Where a path the program opened lies, resolved lexically as the asset overlay resolves it
/// (runtime/lua/assets.lua, `find_key`: `.` and empty parts dropped, `..` applied): the path
/// relative to the working directory `cwd` when it lies in it (`""` for `cwd` itself), and
/// the absolute path.
fn place(path: &str, cwd: &Path) -> (Option<String>, String) {
    let cwd = cwd.to_string_lossy();
    let full = if path.starts_with('/') { path.to_owned() } else { format!("{cwd}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let abs = format!("/{}", parts.join("/"));
    let rel = if cwd == "/" {
        Some(abs[1..].to_owned())
    } else if abs == cwd {
        Some(String::new())
    } else {
        abs.strip_prefix(&format!("{cwd}/")).map(str::to_owned)
    };
    (rel, abs)
}

/// Whether `path`, as the program opened it in the working directory `cwd`, is one of the
/// assets mounted at `mounts` (or a directory of them): the traced executable carries the
/// build's assets, so such a read was served from the executable, not the disk.
pub fn is_asset(path: &str, mounts: &[&str], cwd: &Path) -> bool {
    let (rel, abs) = place(path, cwd);
    let under = |key: &str, m: &str| {
        m == key || (m.starts_with(key) && m.as_bytes().get(key.len()) == Some(&b'/'))
    };
    mounts.iter().any(|m| rel.as_deref().is_some_and(|r| !r.is_empty() && under(r, m)))
        || mounts.iter().any(|m| under(&abs, m))
}

/// `text` as one shell word: quoted when it holds anything but plain path characters.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The `--asset` flags that would embed `files` (paths as the program opened them, in the
/// working directory `cwd`): a file in `cwd` by its path relative to it, and by its top
/// directory when other files read share that directory (`--asset public`, which embeds the
/// whole directory, rather than one flag per file); a file outside `cwd` by its absolute path,
/// which is then its mount too. Only files that are regular files now: not what the program
/// could not open, and never the kernel's `/proc`, `/sys` or `/dev`. A path with `=` cannot be
/// a mount (the last `=` of `--asset` separates the mount), so it gets no flag.
pub fn asset_flags(files: &[String], cwd: &Path) -> Vec<String> {
    let kernel = |abs: &str| {
        ["/proc", "/sys", "/dev"]
            .iter()
            .any(|k| abs == *k || abs.strip_prefix(k).is_some_and(|r| r.starts_with('/')))
    };
    let mut inside: Vec<String> = Vec::new();
    let mut outside: Vec<String> = Vec::new();
    for f in files {
        let (rel, abs) = place(f, cwd);
        if kernel(&abs) || !Path::new(&abs).is_file() {
            continue;
        }
        match rel {
            Some(r) if !r.is_empty() => inside.push(r),
            _ => outside.push(abs),
        }
    }
    let top = |r: &str| r.split_once('/').map(|(t, _)| t.to_owned());
    let shared = |t: &str| inside.iter().filter(|o| top(o).as_deref() == Some(t)).count() > 1;
    let mut flags: Vec<String> = inside
        .iter()
        .map(|r| match top(r) {
            Some(t) if shared(&t) => t,
            _ => r.clone(),
        })
        .collect();
    // The working directory's files first, then the others; each sorted.
    flags.sort();
    outside.sort();
    flags.extend(outside);
    flags.dedup();
    flags.retain(|p| !p.contains('='));
    flags.into_iter().map(|p| format!("--asset {}", shell_word(&p))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_escape_everything_odd() {
        assert_eq!(lua_string(b"/tmp/a b.log"), "\"/tmp/a b.log\"");
        assert_eq!(lua_string(b"a\"\\\n\xff"), "\"a\\034\\092\\010\\255\"");
    }

    #[test]
    fn log_lines_are_parsed_sorted_and_deduplicated() {
        let log = b"module\tz.b\tlua\t/x/z/b.lua\nfile\tconf.json\nmodule\ta\tc\t\nmodule\tz.b\tlua\t/x/z/b.lua\nfile\tconf.json\ngarbage\nmodule\tbad name\tlua\t\n";
        let o = parse_log(log);
        let names: Vec<&str> = o.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "z.b"]);
        assert_eq!(o.modules[0].file, None);
        assert_eq!(o.modules[1].file.as_deref(), Some(Path::new("/x/z/b.lua")));
        assert_eq!(o.files, ["conf.json"]);
    }

    #[test]
    fn module_lists_round_trip_and_bad_lines_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mods.txt");
        let mods = vec![
            Traced { name: "b".into(), file: None, kind: None },
            Traced { name: "a.x".into(), file: Some("/l/a/x.lua".into()), kind: None },
        ];
        std::fs::write(&p, module_list(&mods, "main.lua")).unwrap();
        let back = read_module_list(&p).unwrap();
        assert_eq!(back.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["a.x", "b"]);
        std::fs::write(&p, "# c\n\nok\nnot a name\n").unwrap();
        let err = read_module_list(&p).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "mods.txt:4: 'not a name' is not a module name (expected NAME, or NAME<TAB>FILE)"
            ),
            "{err}"
        );
        let err = read_module_list(&dir.path().join("none")).unwrap_err().to_string();
        assert!(err.starts_with("--modules-from "), "{err}");
    }

    #[test]
    fn opened_paths_are_placed_as_the_overlay_resolves_them() {
        let cwd = Path::new("/srv/app");
        let p = |path: &str| place(path, cwd);
        assert_eq!(
            p("public/x.css"),
            (Some("public/x.css".into()), "/srv/app/public/x.css".into())
        );
        assert_eq!(p("./public//x.css").0.as_deref(), Some("public/x.css"));
        assert_eq!(p("/srv/app/public/x.css").0.as_deref(), Some("public/x.css"));
        assert_eq!(p("a/../b").0.as_deref(), Some("b"));
        assert_eq!(p("../other/y"), (None, "/srv/other/y".into()));
        assert_eq!(p("/srv/app"), (Some(String::new()), "/srv/app".into()));
        assert_eq!(p("/srv/application/z"), (None, "/srv/application/z".into()));
        assert_eq!(place("etc/x", Path::new("/")).0.as_deref(), Some("etc/x"));
    }

    #[test]
    fn reads_of_assets_are_recognised_by_relative_or_absolute_path() {
        let cwd = Path::new("/srv/app");
        let mounts = ["public/x.css", "/etc/app.conf"];
        for yes in [
            "public/x.css",
            "./public/x.css",
            "/srv/app/public/x.css",
            "public",
            "/etc/app.conf",
            "/etc/../etc/app.conf",
        ] {
            assert!(is_asset(yes, &mounts, cwd), "{yes}");
        }
        for no in ["public/y.css", "publi", "/srv/app", ".", "etc/app.conf", "/etc/app", "x.css"] {
            assert!(!is_asset(no, &mounts, cwd), "{no}");
        }
    }

    #[test]
    fn asset_flags_group_by_top_directory() {
        let t = tempfile::tempdir().unwrap();
        let cwd = t.path().join("app");
        for f in
            ["public/css/a.css", "public/b.js", "views/i.html", "conf.json", "my file.txt", "a=b"]
        {
            let p = cwd.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::write(t.path().join("shared.txt"), "x").unwrap();
        let files: Vec<String> = [
            "public/css/a.css",
            "./public/b.js",
            "views/i.html",
            "conf.json",
            "my file.txt",
            "a=b",
            "missing.txt",
            "public",
            "../shared.txt",
            "/proc/self/status",
            "/dev/null",
        ]
        .map(String::from)
        .to_vec();
        let shared = t.path().join("shared.txt").display().to_string();
        let want = [
            "--asset conf.json".to_owned(),
            "--asset 'my file.txt'".to_owned(),
            "--asset public".to_owned(),
            "--asset views/i.html".to_owned(),
            format!("--asset {shared}"),
        ];
        assert_eq!(asset_flags(&files, &cwd), want);
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
