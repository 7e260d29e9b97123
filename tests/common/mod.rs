//! Shared harness for the integration tests: run the real `bundle`, run what it produced, and
//! run Debian's `luajit` (the oracle) on the same program; normalise what legitimately differs
//! (the program name in messages, addresses of C frames in tracebacks).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `bundle` binary under test.
pub fn bundle_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bundle"))
}

/// The reference interpreter. The tests need it: CI installs Debian's `luajit` package.
pub fn luajit() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join("luajit")).find(|p| p.is_file())
    });
    found.expect("luajit not found on PATH: the tests compare against it (apt-get install luajit)")
}

/// What a process did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Exit code; a death by signal is recorded as 128 + signal so that it never looks normal.
    pub code: i32,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    use std::os::unix::process::ExitStatusExt;
    // A file just written can be "busy" for a moment: another test thread may have forked
    // while holding it open for writing (the fd closes at that child's exec). Retry then.
    let mut attempt = 0;
    let out = loop {
        match cmd.stdin(Stdio::null()).output() {
            Err(e) if e.raw_os_error() == Some(26) && attempt < 100 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}")),
        }
    };
    Run {
        code: out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0)),
        signal: out.status.signal(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `bundle` with `args` in `cwd`, with no Lua search path from the environment.
pub fn bundle(cwd: &Path, args: &[&str]) -> Run {
    run(&mut bundle_cmd(cwd, args))
}

/// The command [`bundle`] runs, to add environment variables.
pub fn bundle_cmd(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bundle_bin());
    cmd.current_dir(cwd).args(args).env("NO_COLOR", "1");
    for var in ["LUA_PATH", "LUA_PATH_5_1", "LUA_CPATH", "LUA_CPATH_5_1", "LUA_INIT"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Writes `files` (path, contents) under `dir`, creating directories.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("a parent")).expect("creating directories");
        std::fs::write(&p, text).expect("writing a fixture file");
    }
}

/// Replaces `prog: ` at line starts with `PROG: ` and `[C]: at 0x1234` with `[C]: at 0xADDR`.
pub fn normalize(text: &str, prog: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let line = match line.strip_prefix(prog).and_then(|r| r.strip_prefix(": ")) {
            Some(rest) => format!("PROG: {rest}"),
            None => line.to_owned(),
        };
        out.push_str(&mask_addresses(&line));
    }
    out
}

fn mask_addresses(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i + 2]);
        rest = &rest[i + 2..];
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if hex >= 6 {
            out.push_str("ADDR");
        } else {
            out.push_str(&rest[..hex]);
        }
        rest = &rest[hex..];
    }
    out.push_str(rest);
    out
}

/// A scratch directory that is neither the fixture's nor the crate's.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("bundle-test-")
        .tempdir()
        .expect("creating a temporary directory")
}

/// An environment in which Lua finds nothing on disk.
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    cmd.env("LUA_PATH", "/nonexistent/?.lua")
        .env("LUA_CPATH", "/nonexistent/?.so")
        .env_remove("LUA_INIT")
}

/// Whether the tests run as root (chroot, mount, and files root can read whatever their mode).
pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.trim() == "0"
}

/// Writes an executable file (mode 0755).
pub fn write_exe(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).expect("writing an executable");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
}
