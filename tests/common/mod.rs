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

/// The plain `luajit` built from the very LuaJIT source the stub vendors (same VM, same
/// version), the second oracle: what depends on the VM's version (stack depth, the banner)
/// is compared with it. Built by build.rs with the stub.
pub fn reference_luajit() -> PathBuf {
    let path = env!("BUNDLE_REFERENCE_LUAJIT");
    assert!(
        !path.is_empty(),
        "no reference luajit: the stub was prebuilt (BUNDLE_STUB); build from source to run this test"
    );
    PathBuf::from(path)
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

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP GET to 127.0.0.1; returns (status line, body).
pub fn get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A server process that is killed when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` (a server printing "listening on port N" when ready) and waits for that line.
pub fn start(mut cmd: Command) -> Server {
    use std::io::BufRead;
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start the server");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("the server's first line");
    assert!(line.starts_with("listening on port"), "server said {line:?}");
    Server(child)
}

/// Path of `chroot`, if the tests may use it (root, and the kernel lets us).
pub fn chroot_available(root: &Path) -> Option<&'static str> {
    if !is_root() {
        return None;
    }
    let chroot = ["/usr/sbin/chroot", "/usr/bin/chroot", "/sbin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let probe =
        run(Command::new(chroot).arg(root).args(["/lib64/ld-linux-x86-64.so.2", "--version"]));
    (probe.code == 0).then_some(chroot)
}

/// Unmounts a directory on the way out.
pub struct Mounted(pub PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Mounts /proc under `root`, if allowed.
pub fn mount_proc(root: &Path) -> Option<Mounted> {
    std::fs::create_dir_all(root.join("proc")).ok()?;
    let r = run(Command::new("mount").args(["-t", "proc", "proc"]).arg(root.join("proc")));
    (r.code == 0).then(|| Mounted(root.join("proc")))
}

/// A fixture case: a directory of `tests/fixtures/` with `main.lua`, its modules, and an
/// optional `case.txt` of `module NAME=FILE`, `preload NAME` and `arg VALUE` lines (one argument
/// per line; `#` comments). One loader for every back end that runs the fixtures.
#[derive(Debug, Default)]
pub struct Case {
    pub modules: Vec<String>,
    pub preloads: Vec<String>,
    pub args: Vec<String>,
}

pub fn read_case(dir: &Path) -> Case {
    let mut case = Case::default();
    let Ok(text) = std::fs::read_to_string(dir.join("case.txt")) else { return case };
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.is_empty()) {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "module" => case.modules.push(value.to_owned()),
            "preload" => case.preloads.push(value.to_owned()),
            "arg" => case.args.push(value.to_owned()),
            other => panic!("{}: unknown case.txt key {other:?}", dir.display()),
        }
    }
    case
}

pub fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/fixtures")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.join("main.lua").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// A temporary directory holding `files`.
pub fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempdir();
    write_tree(dir.path(), files);
    dir
}

/// Bundles `main.lua` in `dir` (as `app.bin`) with `extra` flags and runs the result from an
/// empty directory with no Lua path; the run is empty when the build failed.
pub fn bundle_and_run(dir: &Path, extra: &[&str]) -> (Run, Run) {
    let out = dir.join("app.bin");
    let out_s = out.to_str().unwrap().to_owned();
    let mut args = vec!["main.lua", "-o", out_s.as_str()];
    args.extend(extra);
    let b = bundle(dir, &args);
    let elsewhere = tempdir();
    let r = if b.code == 0 {
        run(hermetic(Command::new(&out).current_dir(elsewhere.path())))
    } else {
        Run { code: -1, signal: None, stdout: String::new(), stderr: String::new() }
    };
    (b, r)
}

/// Nothing but the listed names in `dir`: no output, no temporary file left behind.
pub fn assert_only(dir: &Path, names: &[&str]) {
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want, "directory contents of {}", dir.display());
}
