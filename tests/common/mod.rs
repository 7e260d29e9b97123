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

/// Where the fixtures live: one directory per case.
pub fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture directories of `tests/fixtures/`, sorted: each holds a `main.lua`.
pub fn fixtures() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_root())
        .expect("tests/fixtures")
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| p.join("main.lua").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// One way to turn a fixture into something that runs. Every back end runs every fixture and
/// is compared with `luajit main.lua ARGS` run in the fixture's directory ([`oracle`]), unless
/// the fixture's `case.txt` declares it not applicable with a `skip BACKEND REASON` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `bundle main.lua -o app`: the stub executable carrying bytecode, run from an empty
    /// directory with no Lua search path.
    Stub,
    /// The same with `--dynamic`: the dynamically linked stub (`Stub` is the static one for
    /// every fixture that loads no C code).
    Dynamic,
    /// The same with `--source`: the payload carries the source text.
    StubSource,
    /// `bundle main.lua --emit-c --cc -o app.c`: one C file compiled against Debian's
    /// libluajit, run as the stub is. The C file must also compile warning-free with
    /// [`cc_strict`].
    C,
    /// `bundle -o lj` with no main script: an interpreter, run as `lj main.lua ARGS` from the
    /// fixture's directory with the oracle's environment.
    Interpreter,
}

impl Backend {
    pub const ALL: [Backend; 5] =
        [Backend::Stub, Backend::Dynamic, Backend::StubSource, Backend::C, Backend::Interpreter];

    /// The name `case.txt` uses for it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Stub => "stub",
            Backend::Dynamic => "dynamic",
            Backend::StubSource => "stub-source",
            Backend::C => "c",
            Backend::Interpreter => "interpreter",
        }
    }

    fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// A fixture case: a directory of `tests/fixtures/` with `main.lua`, its modules, and an
/// optional `case.txt` of lines (`#` starts a comment line):
///
/// - `module NAME=FILE`: passed to the bundler as `-m NAME=FILE`;
/// - `preload NAME`: `-l NAME`, for the bundler, the interpreter and the oracle;
/// - `arg VALUE`: one argument of the program (the rest of the line, spaces included);
/// - `skip BACKEND REASON`: the back end (`stub`, `dynamic`, `stub-source`, `c`, `interpreter`) cannot
///   run this case, and why. The runner never skips a case on its own.
///
/// One loader for every back end that runs the fixtures ([`check_fixtures`]).
#[derive(Debug, Default)]
pub struct Case {
    pub dir: PathBuf,
    pub modules: Vec<String>,
    pub preloads: Vec<String>,
    pub args: Vec<String>,
    /// Back ends declared not applicable, each with its reason.
    pub skips: Vec<(Backend, String)>,
}

impl Case {
    /// The directory's name.
    pub fn name(&self) -> String {
        self.dir.file_name().unwrap_or_default().to_string_lossy().into_owned()
    }

    /// Why `backend` cannot run this case, if the case file says it cannot.
    pub fn skip_reason(&self, backend: Backend) -> Option<&str> {
        self.skips.iter().find(|(b, _)| *b == backend).map(|(_, why)| why.as_str())
    }

    /// The bundler's `-m` and `-l` flags for this case.
    pub fn bundle_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for m in &self.modules {
            flags.extend(["-m".to_owned(), m.clone()]);
        }
        for p in &self.preloads {
            flags.extend(["-l".to_owned(), p.clone()]);
        }
        flags
    }
}

pub fn read_case(dir: &Path) -> Case {
    let mut case = Case { dir: dir.to_owned(), ..Case::default() };
    let Ok(text) = std::fs::read_to_string(dir.join("case.txt")) else { return case };
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#') && !l.is_empty()) {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "module" => case.modules.push(value.to_owned()),
            "preload" => case.preloads.push(value.to_owned()),
            "arg" => case.args.push(value.to_owned()),
            "skip" => {
                let (name, reason) = value.split_once(' ').unwrap_or((value, ""));
                let backend = Backend::from_name(name).unwrap_or_else(|| {
                    panic!("{}: skip names no back end: {name:?}", dir.display())
                });
                assert!(
                    !reason.trim().is_empty(),
                    "{}: `skip {name}` needs a reason after the back end",
                    dir.display()
                );
                assert!(
                    case.skip_reason(backend).is_none(),
                    "{}: back end {name} skipped twice",
                    dir.display()
                );
                case.skips.push((backend, reason.trim().to_owned()));
            }
            other => panic!("{}: unknown case.txt key {other:?}", dir.display()),
        }
    }
    case
}

/// `luajit [-l PRELOAD]... main.lua ARGS` in the fixture's directory, where its requires resolve
/// (`./?.lua;./?/init.lua`, no C path, no LUA_INIT). `pre` comes before the preloads.
pub fn luajit_cmd(case: &Case, pre: &[&str]) -> Command {
    lua_cmd(&luajit(), case, pre)
}

/// The oracle's command line with another program in luajit's place.
fn lua_cmd(program: &Path, case: &Case, pre: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(&case.dir)
        .env("LUA_PATH", "./?.lua;./?/init.lua")
        .env("LUA_CPATH", "/nonexistent/?.so");
    for var in ["LUA_INIT", "LUA_INIT_5_1", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    cmd.args(pre);
    for p in &case.preloads {
        cmd.args(["-l", p]);
    }
    cmd.arg("main.lua").args(&case.args);
    cmd
}

/// What `luajit` does with the case, normalised.
pub fn oracle(case: &Case) -> Run {
    let luajit = luajit();
    normalized(run(&mut luajit_cmd(case, &[])), &luajit)
}

fn normalized(mut r: Run, program: &Path) -> Run {
    let prog = program.to_str().expect("a utf-8 program path");
    r.stdout = normalize(&r.stdout, prog);
    r.stderr = normalize(&r.stderr, prog);
    r
}

/// Compiles the C file `c` (with extra objects) into `exe` as strictly as a C99 compiler can
/// be asked: `-std=c99 -Wall -Wextra -pedantic -Werror`, against Debian's libluajit.
pub fn cc_strict(c: &Path, extra: &[PathBuf], exe: &Path) {
    let flags = run(Command::new("pkg-config").args(["--cflags", "--libs", "luajit"]));
    assert_eq!(flags.code, 0, "pkg-config luajit: install libluajit-5.1-dev");
    let mut cmd = Command::new("cc");
    cmd.args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O1"]).arg(c).args(extra);
    cmd.args(flags.stdout.split_whitespace()).arg("-o").arg(exe);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "cc {}: {}", c.display(), r.stderr);
}

/// What one back end needs once for all cases: the interpreter is built once.
pub struct Prepared {
    backend: Backend,
    scratch: tempfile::TempDir,
}

impl Prepared {
    pub fn new(backend: Backend) -> Prepared {
        let scratch = tempdir();
        if backend == Backend::Interpreter {
            let lj = scratch.path().join("lj");
            let b = bundle(scratch.path(), &["-o", lj.to_str().expect("utf-8 temp path"), "-q"]);
            assert_eq!(b.code, 0, "building the interpreter: {}", b.stderr);
            assert!(b.stderr.is_empty(), "-q must silence the summary, got {:?}", b.stderr);
        }
        Prepared { backend, scratch }
    }

    /// Runs `case` through the back end and returns what it did, normalised as the oracle is.
    /// The bundler must succeed and, under `-q`, say nothing.
    pub fn run(&self, case: &Case) -> Run {
        let out = tempdir();
        let exe = match self.backend {
            Backend::Interpreter => {
                let lj = self.scratch.path().join("lj");
                return normalized(run(&mut lua_cmd(&lj, case, &[])), &lj);
            }
            Backend::Stub | Backend::Dynamic | Backend::StubSource => {
                let exe = out.path().join("app");
                let extra: &[&str] = match self.backend {
                    Backend::StubSource => &["--source"],
                    Backend::Dynamic => &["--dynamic"],
                    _ => &[],
                };
                self.bundle(case, &["-o", exe.to_str().expect("utf-8 temp path")], extra);
                exe
            }
            Backend::C => {
                let c = out.path().join("app.c");
                let c_s = c.to_str().expect("utf-8 temp path");
                self.bundle(case, &["--emit-c", "--cc", "-o", c_s], &[]);
                cc_strict(&c, &[], &out.path().join("app-strict"));
                out.path().join("app")
            }
        };
        // Run from a directory that holds nothing of the program.
        let elsewhere = tempdir();
        let mut cmd = Command::new(&exe);
        hermetic(cmd.current_dir(elsewhere.path()).args(&case.args));
        normalized(run(&mut cmd), &exe)
    }

    fn bundle(&self, case: &Case, output: &[&str], extra: &[&str]) {
        let flags = case.bundle_flags();
        let mut args = vec!["main.lua"];
        args.extend(output);
        args.push("-q");
        args.extend(flags.iter().map(String::as_str));
        args.extend(extra);
        let b = bundle(&case.dir, &args);
        let (name, backend) = (case.name(), self.backend.name());
        assert_eq!(b.code, 0, "{name} [{backend}]: bundling failed: {}", b.stderr);
        assert!(b.stderr.is_empty(), "{name} [{backend}]: -q must silence the summary: {b:?}");
    }
}

/// Runs every fixture through `backend` and compares each with [`oracle`]: stdout, stderr and
/// the exit code must be the same. Cases run in parallel (the C back end compiles each).
/// Returns the names of the cases run; the ones whose `case.txt` skips the back end are not.
pub fn check_fixtures(backend: Backend) -> Vec<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let cases: Vec<Case> = fixtures().iter().map(|d| read_case(d)).collect();
    assert!(cases.len() >= 20, "the fixture corpus went missing");
    let prepared = Prepared::new(backend);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get()).min(8);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if case.skip_reason(backend).is_some() {
                        continue;
                    }
                    let (want, got) = (oracle(case), prepared.run(case));
                    results.lock().unwrap().push((case.name(), want, got));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut failures = Vec::new();
    for (name, want, got) in &results {
        if got.signal.is_some() {
            failures.push(format!("== {name} [{}]: killed by a signal: {got:?}", backend.name()));
        } else if want != got {
            failures.push(format!(
                "== {name}\n-- luajit (exit {}):\n{}{}\n-- {} (exit {}):\n{}{}",
                want.code,
                want.stdout,
                want.stderr,
                backend.name(),
                got.code,
                got.stdout,
                got.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ from luajit through the {} back end:\n{}",
        failures.len(),
        backend.name(),
        failures.join("\n")
    );
    results.into_iter().map(|(name, ..)| name).collect()
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

/// The dynamic loader and glibc runtime files of this machine, for a bare root filesystem.
fn glibc_runtime_files() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "aarch64" => &[
            "/lib/ld-linux-aarch64.so.1",
            "/lib/aarch64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libm.so.6",
            "/lib/aarch64-linux-gnu/libdl.so.2",
            "/lib/aarch64-linux-gnu/libpthread.so.0",
            "/lib/aarch64-linux-gnu/libgcc_s.so.1",
        ],
        _ => &[
            "/lib64/ld-linux-x86-64.so.2",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/x86_64-linux-gnu/libm.so.6",
            "/lib/x86_64-linux-gnu/libdl.so.2",
            "/lib/x86_64-linux-gnu/libpthread.so.0",
            "/lib/x86_64-linux-gnu/libgcc_s.so.1",
        ],
    }
}

/// A bare root filesystem for `test`: only the dynamic loader and the glibc runtime files, a
/// `/tmp` and a mounted `/proc`; with the chroot command to enter it. `None` (after saying
/// SKIPPED) where this machine cannot make one (not root, no /proc mount, chroot refused).
pub fn bare_root(test: &str) -> Option<(tempfile::TempDir, Mounted, &'static str)> {
    if !is_root() {
        eprintln!("SKIPPED {test} (bare root part): chroot needs root");
        return None;
    }
    let root = tempdir();
    let r = root.path();
    for lib in glibc_runtime_files() {
        let to = r.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir in the root");
        std::fs::copy(lib, &to).unwrap_or_else(|e| panic!("copying {lib}: {e}"));
    }
    std::fs::create_dir_all(r.join("tmp")).expect("mkdir /tmp in the root");
    let Some(mounted) = mount_proc(r) else {
        eprintln!("SKIPPED {test} (bare root part): cannot mount /proc here");
        return None;
    };
    let Some(chroot) = chroot_available(r) else {
        eprintln!("SKIPPED {test} (bare root part): chroot refused");
        return None;
    };
    Some((root, mounted, chroot))
}

/// Every file under `dir` but /proc, as paths.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.ends_with("proc") {
            continue;
        }
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

/// The entries of a gzipped tarball (a Heroku slug): path, mode, contents.
pub fn tgz_entries(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for e in archive.entries().expect("a tar archive") {
        let mut e = e.expect("a tar entry");
        let path = String::from_utf8(e.path_bytes().into_owned()).expect("a UTF-8 path");
        let mode = e.header().mode().expect("a mode");
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).expect("the entry's bytes");
        out.push((path, mode, data));
    }
    out
}

/// One request an HTTP double ([`http_double`]) received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a double answers: status line, extra headers, body.
pub type Reply = (&'static str, Vec<(String, String)>, String);

/// An HTTP/1.1 double on loopback: every request is logged and answered by `handler` (given
/// the request and the double's port), one request per connection.
pub fn http_double(
    handler: impl Fn(&Seen, u16) -> Reply + Send + 'static,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    use std::io::{BufRead, BufReader, Read, Write};
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, path) =
                (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    break;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let req = Seen { method, path, headers, body };
            let (status, extra, reply) = handler(&req, port);
            let head = req.method == "HEAD";
            log.lock().unwrap().push(req);
            let mut text = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                if head { 0 } else { reply.len() }
            );
            for (k, v) in extra {
                text.push_str(&format!("{k}: {v}\r\n"));
            }
            text.push_str("\r\n");
            if !head {
                text.push_str(&reply);
            }
            let _ = stream.write_all(text.as_bytes());
        }
    });
    (port, seen)
}

pub fn ok(status: &'static str) -> Reply {
    (status, Vec::new(), String::new())
}

/// Copies the directory `from` to `to` (created), recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
