//! Native C modules inside the executable: Debian's lua-cjson, lua-lpeg, lua-socket and
//! lua-luv (with libuv, a non-system library it needs) loaded from memory; the example HTTP
//! server in a bare root filesystem; lua-cqueues, one C library serving several modules, with
//! libssl and libcrypto packed, serving requests in a bare root filesystem; SIGPIPE policy; and
//! bad shared objects at bundle time.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn example_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/server")
}

fn bundle_server(out: &Path, extra: &[&str]) {
    let out = out.to_str().unwrap();
    let mut args = vec!["main.lua", "-o", out, "-q"];
    args.extend(extra);
    let r = bundle(&example_server(), &args);
    assert_eq!(r.code, 0, "bundling the example server: {}", r.stderr);
}

#[test]
fn c_modules_round_trip_from_memory() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[(
            "main.lua",
            r#"local cjson = require("cjson")
local doc = cjson.decode('{"list":[1,2,3],"name":"x"}')
print(cjson.encode(doc.list), doc.name, cjson.encode({ nested = { true, false } }))
local lpeg = require("lpeg")
local digits = lpeg.C(lpeg.R("09") ^ 1)
print(lpeg.match(digits, "12345abc"), lpeg.version ~= nil)
local socket = require("socket")
print(type(socket.gettime()), socket._VERSION ~= nil, type(socket.tcp()))
local uv = require("luv")
print(type(uv.version()), uv.hrtime() > 0)
"#,
        )],
    );
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = bundle(dir.path(), &["--list", "main.lua"]);
    for row in ["cjson ", "lpeg ", "socket.core ", "luv ", "libuv.so.1 "] {
        assert!(list.stdout.lines().any(|l| l.starts_with(row)), "{row} missing:\n{}", list.stdout);
    }
    let elsewhere = tempdir();
    let got = run(hermetic(Command::new(dir.path().join("app")).current_dir(elsewhere.path())));
    let want = run(Command::new(luajit()).current_dir(dir.path()).arg("main.lua"));
    assert_eq!(want.code, 0, "luajit: {}", want.stderr);
    assert_eq!((got.code, got.stdout.as_str()), (0, want.stdout.as_str()), "{}", got.stderr);
}

#[test]
fn memfd_path_writes_no_file_and_the_fallback_is_reused() {
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print(require('cjson').encode({1, 2}))\n")]);
    assert_eq!(bundle(dir.path(), &["main.lua", "-o", "app", "-q"]).code, 0);
    let runtime_dir = tempdir();
    let exe = dir.path().join("app");
    let r = run(Command::new(&exe).env("XDG_RUNTIME_DIR", runtime_dir.path()));
    assert_eq!((r.code, r.stdout.as_str()), (0, "[1,2]\n"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_dir(runtime_dir.path()).unwrap().count(),
        0,
        "the memfd path wrote a file"
    );
    // Forced fallback: a private directory, written once and reused.
    let fallback =
        |r: &Run| assert_eq!((r.code, r.stdout.as_str()), (0, "[1,2]\n"), "{}", r.stderr);
    let mut cmd = Command::new(&exe);
    cmd.env("XDG_RUNTIME_DIR", runtime_dir.path()).env("BUNDLE_NO_MEMFD", "1");
    fallback(&run(&mut cmd));
    let private = std::fs::read_dir(runtime_dir.path())
        .unwrap()
        .next()
        .expect("a private directory")
        .unwrap()
        .path();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o700);
    let files: Vec<PathBuf> =
        std::fs::read_dir(&private).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let mtime = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fallback(&run(&mut cmd));
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        mtime,
        "the copy is reused"
    );
}

#[test]
fn example_server_answers_and_survives_resetting_clients() {
    let dir = tempdir();
    let exe = dir.path().join("server");
    bundle_server(&exe, &[]);
    let port = free_port();
    let mut cmd = Command::new(&exe);
    hermetic(cmd.current_dir(dir.path()).env("PORT", port.to_string()));
    let _server = start(cmd);
    assert_eq!(get(port, "/"), ("HTTP/1.1 200 OK".into(), "hello from a single binary\n".into()));
    let (status, body) = get(port, "/json");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        body.contains("\"server\":\"bundle-example\"") && body.contains("\"ok\":true"),
        "{body}"
    );
    assert_eq!(get(port, "/echo?x=1").1, "{\"query\":\"x=1\"}");
    assert_eq!(get(port, "/nope").0, "HTTP/1.1 404 Not Found");
    // 2,000 clients that send a request and reset the connection at once.
    use std::os::fd::AsRawFd;
    for _ in 0..2000 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = s.write_all(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n");
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: a valid socket and a correctly sized option value.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                std::ptr::from_ref(&linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    assert_eq!(get(port, "/").0, "HTTP/1.1 200 OK", "the server still answers");
}

#[test]
fn example_server_runs_in_a_bare_root_filesystem() {
    if !is_root() {
        eprintln!("SKIPPED example_server_runs_in_a_bare_root_filesystem: chroot needs root");
        return;
    }
    let Some((root, _mounted, chroot)) = bare_root("example_server_runs_in_a_bare_root_filesystem")
    else {
        return;
    };
    let r = root.path();
    bundle_server(&r.join("server"), &[]);
    let port = free_port();
    let mut cmd = Command::new(chroot);
    cmd.arg(r).arg("/server").env_clear().env("PORT", port.to_string());
    let _server = start(cmd);
    assert_eq!(get(port, "/").0, "HTTP/1.1 200 OK");
    let (_, body) = get(port, "/json");
    assert!(body.contains("\"ok\":true"), "{body}");
    assert_eq!(
        std::fs::read_dir(r.join("tmp")).unwrap().count(),
        0,
        "memfd path: nothing written in the root"
    );
    let files: Vec<String> = files_under(r);
    assert!(
        !files.iter().any(|f| f.contains("lua") || f.contains("libuv")),
        "the root holds no Lua: {files:?}"
    );
}

#[test]
fn sigpipe_policy() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[(
            "main.lua",
            "if arg[1] == 'child' then os.execute('grep SigIgn /proc/self/status') return end\nfor i = 1, 200000 do io.write('line ', i, '\\n') end\nio.stderr:write('finished\\n')\n",
        )],
    );
    for (flag, name) in [("default", "dflt"), ("ignore", "ign")] {
        let r = bundle(dir.path(), &["main.lua", "-o", name, "-q", "--sigpipe", flag]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    // Writing into a pipe whose reader is gone.
    let piped = |exe: &str| {
        let cmd = format!(
            "{} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
            dir.path().join(exe).display()
        );
        run(Command::new("bash").args(["-c", &cmd]))
    };
    let luajit_status = run(Command::new("bash").args([
        "-c",
        &format!(
            "{} {} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
            luajit().display(),
            dir.path().join("main.lua").display()
        ),
    ]));
    let dflt = piped("dflt");
    assert_eq!(
        dflt.stdout.trim(),
        luajit_status.stdout.trim(),
        "default: as luajit (killed by SIGPIPE)"
    );
    assert_eq!(dflt.stdout.trim(), "141");
    let ign = piped("ign");
    assert_eq!(ign.stdout.trim(), "0", "ignore: the program goes on");
    assert!(ign.stderr.contains("finished"), "{}", ign.stderr);
    // A child process starts with the default disposition: bit 13 (SIGPIPE) not in SigIgn.
    let child = run(Command::new(dir.path().join("ign")).arg("child"));
    let mask = child
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|m| u64::from_str_radix(m, 16).ok())
        .expect("SigIgn mask");
    assert_eq!(mask & (1 << 12), 0, "SIGPIPE ignored in the child: {}", child.stdout);
}

/// Compiles `source` into a shared object with the system C compiler.
fn cc_shared(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    std::fs::write(&c, source).unwrap();
    let out = dir.join(name);
    let r = run(Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&out).arg(&c).args(extra));
    assert_eq!(r.code, 0, "cc: {}", r.stderr);
    out
}

#[test]
fn bad_shared_objects_are_refused_at_bundle_time() {
    let dir = tempdir();
    let d = dir.path();
    std::fs::create_dir_all(d.join("c")).unwrap();
    // Not ELF.
    std::fs::write(d.join("c/text.so"), "not a library").unwrap();
    // Wrong architecture: an aarch64 object.
    {
        use object::write::{Object, StreamingBuffer};
        let mut obj = Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::Aarch64,
            object::Endianness::Little,
        );
        obj.add_symbol(object::write::Symbol {
            name: b"luaopen_arm".to_vec(),
            value: 0,
            size: 0,
            kind: object::SymbolKind::Text,
            scope: object::SymbolScope::Dynamic,
            weak: false,
            section: object::write::SymbolSection::Undefined,
            flags: object::SymbolFlags::None,
        });
        let mut bytes = Vec::new();
        obj.emit(&mut StreamingBuffer::new(&mut bytes)).unwrap();
        std::fs::write(d.join("c/arm.so"), bytes).unwrap();
    }
    // No luaopen_* function.
    cc_shared(&d.join("c"), "noopen.so", "int something(void) { return 1; }\n", &[]);
    // A NEEDED library that this machine does not have.
    cc_shared(
        &d.join("c"),
        "libgone.so.1",
        "int gone(void) { return 2; }\n",
        &["-Wl,-soname,libgone.so.1"],
    );
    cc_shared(
        &d.join("c"),
        "needsgone.so",
        "int gone(void);\nint luaopen_needsgone(void *L) { (void)L; return gone(); }\n",
        &["-L", d.join("c").to_str().unwrap(), "-l:libgone.so.1"],
    );
    std::fs::remove_file(d.join("c/libgone.so.1")).unwrap();
    // One shared object under two names.
    cc_shared(&d.join("c"), "twice.so", "int luaopen_twice(void *L) { (void)L; return 0; }\nint luaopen_again(void *L) { (void)L; return 0; }\n", &[]);
    std::os::unix::fs::symlink(d.join("c/twice.so"), d.join("c/again.so")).unwrap();

    for (main, needle) in [
        ("require('text')", "C module 'text' at c/text.so: not an ELF shared object"),
        ("require('arm')", "C module 'arm' at c/arm.so: built for aarch64, but the stub is x86_64"),
        (
            "require('noopen')",
            "C module 'noopen' at c/noopen.so: it does not export luaopen_noopen",
        ),
        ("require('needsgone')", "it needs libgone.so.1, which cannot be found on this machine"),
    ] {
        std::fs::write(d.join("main.lua"), format!("{main}\n")).unwrap();
        let r = bundle(d, &["main.lua", "-o", "app", "-I", "c"]);
        assert_eq!(r.code, 1, "{main}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{main}: expected {needle:?} in\n{}", r.stderr);
        assert!(!d.join("app").exists());
    }
    // One shared object under two names (issue 12): packed once, both modules served from it.
    std::fs::write(d.join("main.lua"), "require('twice')\nrequire('again')\n").unwrap();
    let r = bundle(d, &["main.lua", "-o", "app", "-q", "-I", "c"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list = bundle(d, &["main.lua", "--list", "-I", "c"]);
    assert!(
        list.stdout.lines().any(|l| l.starts_with("again ") && l.contains("(in twice)")),
        "{}",
        list.stdout
    );
    // --no-lib leaves the library to the target machine: the build then succeeds.
    std::fs::write(d.join("main.lua"), "require('needsgone')\n").unwrap();
    let r = bundle(d, &["main.lua", "-o", "app", "-q", "-I", "c", "--no-lib", "libgone.so.1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn the_stub_exports_exactly_the_lua_c_api() {
    let dir = tempdir();
    let stub = dir.path().join("stub");
    std::fs::write(&stub, bundle::base::stub::EMBEDDED).unwrap();
    let r = run(Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&stub));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut exported = 0;
    for line in r.stdout.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // Num: Value Size Type Bind Vis Ndx Name
        if cols.len() < 8 || cols[6] == "UND" || cols[6] == "Ndx" || cols[4] == "LOCAL" {
            continue;
        }
        let name = cols[7].split('@').next().unwrap_or_default();
        assert!(
            ["lua_", "luaL_", "luaopen_", "luaJIT_"].iter().any(|p| name.starts_with(p)),
            "unexpected export {name}"
        );
        exported += 1;
    }
    assert!(exported > 100, "the Lua C API is exported ({exported} symbols)");
}

#[test]
fn when_memory_and_directory_both_fail_require_says_why() {
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print(pcall(require, 'cjson'))\n")]);
    assert_eq!(bundle(dir.path(), &["main.lua", "-o", "app", "-q"]).code, 0);
    // The private directory's name is taken by a file: the fallback must refuse it.
    let runtime_dir = tempdir();
    let uid = run(Command::new("id").arg("-u")).stdout.trim().to_owned();
    std::fs::write(runtime_dir.path().join(format!("bundle-{uid}")), "not a directory").unwrap();
    let r = run(Command::new(dir.path().join("app"))
        .env("XDG_RUNTIME_DIR", runtime_dir.path())
        .env("BUNDLE_NO_MEMFD", "1"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("false\terror loading C module 'cjson' from the bundle:"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("from memory: disabled by BUNDLE_NO_MEMFD=1"), "{}", r.stdout);
    assert!(r.stdout.contains("is not a private directory of this user"), "{}", r.stdout);
}

#[test]
fn libraries_come_from_memory_and_modules_load_once() {
    let dir = tempdir();
    write_tree(
        dir.path(),
        &[(
            "main.lua",
            r#"for i = 1, 20 do package.loaded.cjson = nil; require("cjson") end
require("luv")
local maps = io.open("/proc/self/maps"):read("*a")
local function count(p) local n = 0 for _ in maps:gmatch(p) do n = n + 1 end return n end
print("cjson mappings", count("memfd:cjson") <= 6)
print("libuv from disk", count("/lib/[%w_-]*/libuv") + count("/usr/lib/[%w_-]*/libuv"))
print("libuv from memory", count("memfd:libuv") > 0)
"#,
        )],
    );
    assert_eq!(bundle(dir.path(), &["main.lua", "-o", "app", "-q"]).code, 0);
    let r = run(hermetic(&mut Command::new(dir.path().join("app"))));
    assert_eq!(
        r.stdout, "cjson mappings\ttrue\nlibuv from disk\t0\nlibuv from memory\ttrue\n",
        "{}",
        r.stderr
    );
}

#[test]
fn a_library_without_a_matching_soname_is_refused() {
    let dir = tempdir();
    let c = dir.path().join("c");
    std::fs::create_dir_all(&c).unwrap();
    cc_shared(&c, "libhelper.so", "int helper(void) { return 42; }\n", &[]);
    cc_shared(
        &c,
        "usehelper.so",
        "int helper(void);\nint luaopen_usehelper(void *L) { (void)L; return helper(); }\n",
        &["-L", c.to_str().unwrap(), "-l:libhelper.so", "-Wl,-rpath,$ORIGIN"],
    );
    std::fs::write(dir.path().join("main.lua"), "require('usehelper')\n").unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-I", "c"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("whose SONAME is missing"), "{}", r.stderr);
}

/// Debian's lua-cqueues: one C library, `_cqueues.so`, serves `_cqueues`, `_cqueues.socket`,
/// `_cqueues.signal`, ... (Lua 5.1's all-in-one loader) and needs libssl.so.3 and libcrypto.so.3.
const CQUEUES_SO: &str = "/usr/lib/x86_64-linux-gnu/lua/5.1/_cqueues.so";

/// Whether Debian's lua-cqueues is installed (.ci/run installs it).
fn have_cqueues(test: &str) -> bool {
    let found =
        Path::new(CQUEUES_SO).exists() && Path::new("/usr/share/lua/5.1/cqueues.lua").exists();
    if !found {
        eprintln!("SKIPPED {test}: lua-cqueues is not installed (apt-get install lua-cqueues)");
    }
    found
}

/// A small HTTP/1.0 server on cqueues: each connection in its own coroutine, SIGTERM received
/// through a signalfd (cqueues.signal) ends it with a last line on stdout.
const CQUEUES_SERVER: &str = r#"local cqueues = require("cqueues")
local socket = require("cqueues.socket")
local signal = require("cqueues.signal")
local errno = require("cqueues.errno")

signal.block(signal.SIGTERM)
local srv = socket.listen("127.0.0.1", tonumber(os.getenv("PORT")) or 0)
local _, _, port = srv:localname()
io.stdout:write("listening on port ", port, "\n")
io.stdout:flush()

local cq = cqueues.new()
local served = 0

local function respond(con, status, body)
  con:write("HTTP/1.0 ", status, "\r\nContent-Type: text/plain\r\nContent-Length: ", #body,
    "\r\nConnection: close\r\n\r\n", body)
end

-- The distinct files mapped into this process, one per line.
local function mapped()
  local seen, names = {}, {}
  for line in io.lines("/proc/self/maps") do
    local name = line:match("^%S+ %S+ %S+ %S+ %S+%s+(/.*)$")
    if name and not seen[name] then
      seen[name] = true
      names[#names + 1] = name
    end
  end
  table.sort(names)
  return table.concat(names, "\n") .. "\n"
end

local function handle(con)
  con:setmode("t", "b")
  con:onerror(function(_, _, why) return why end)
  local line = con:read("*l")
  local path = line and line:match("^GET (%S+) HTTP/1%.%d\r?$")
  repeat local header = con:read("*l") until not header or header == "" or header == "\r"
  if not path then
    respond(con, "400 Bad Request", "bad request\n")
  elseif path == "/" then
    respond(con, "200 OK", "hello from cqueues\n")
  elseif path:match("^/errno/%u+$") then
    local code = errno[path:match("%u+$")]
    respond(con, "200 OK", code and (code .. " " .. errno.strerror(code) .. "\n") or "unknown\n")
  elseif path == "/count" then
    respond(con, "200 OK", "served " .. served .. "\n")
  elseif path == "/mapped" then
    respond(con, "200 OK", mapped())
  else
    respond(con, "404 Not Found", "no " .. path .. "\n")
  end
  served = served + 1
  con:flush()
  con:close()
end

cq:wrap(function()
  for con in srv:clients() do
    cq:wrap(handle, con)
  end
end)
cq:wrap(function()
  local sig = signal.listen(signal.SIGTERM):wait()
  io.stdout:write("signal ", sig, ": served ", served, " requests\n")
  io.stdout:flush()
  os.exit(0)
end)
assert(cq:loop())
"#;

/// Sends `request` to 127.0.0.1:`port` and reads the answer until the server closes.
fn exchange(port: u16, request: &[u8]) -> String {
    use std::io::Read;
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    text
}

/// An HTTP/1.0 answer as the cqueues server writes it.
fn http10(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn cqueues_server_runs_in_a_bare_root_filesystem_with_its_ssl_libraries_packed() {
    let test = "cqueues_server_runs_in_a_bare_root_filesystem_with_its_ssl_libraries_packed";
    if !have_cqueues(test) {
        return;
    }
    if !is_root() {
        eprintln!("SKIPPED {test}: chroot needs root");
        return;
    }
    // No Lua, no cqueues, no libssl, no libcrypto in it.
    let Some((root, _mounted, chroot)) = bare_root(test) else { return };
    let r = root.path();
    // Bundled with no flags: discovery finds cqueues on the default path by itself.
    let src = tempdir();
    write_tree(src.path(), &[("server.lua", CQUEUES_SERVER)]);
    let out = r.join("server");
    let b = bundle(src.path(), &["server.lua", "-o", out.to_str().unwrap()]);
    assert_eq!(b.code, 0, "bundling the cqueues server: {}", b.stderr);
    let files = files_under(r);
    assert!(
        !files.iter().any(|f| ["lua", "cqueues", "ssl", "crypto"].iter().any(|n| f.contains(n))),
        "the root holds no Lua, no cqueues, no OpenSSL: {files:?}"
    );

    let mut cmd = Command::new(chroot);
    cmd.arg(r).arg("/server").env_clear().env("PORT", free_port().to_string());
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start the server");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut server = Server(child);
    let mut line = String::new();
    use std::io::BufRead;
    stdout.read_line(&mut line).expect("the server's first line");
    let port: u16 = line
        .strip_prefix("listening on port ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("server said {line:?}"));

    // A client that connects and says nothing yet: the event loop must serve others meanwhile.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    slow.write_all(b"GET /errno/ECONN").unwrap();
    assert_eq!(get(port, "/"), ("HTTP/1.0 200 OK".into(), "hello from cqueues\n".into()));
    assert_eq!(
        exchange(port, b"GET /errno/EPIPE HTTP/1.0\r\n\r\n"),
        http10("200 OK", "32 Broken pipe\n")
    );
    assert_eq!(
        exchange(port, b"GET /errno/ENOENT HTTP/1.0\r\nHost: x\r\n\r\n"),
        http10("200 OK", "2 No such file or directory\n")
    );
    assert_eq!(
        exchange(port, b"GET /nope HTTP/1.0\r\n\r\n"),
        http10("404 Not Found", "no /nope\n")
    );
    assert_eq!(exchange(port, b"junk\r\n\r\n"), http10("400 Bad Request", "bad request\n"));
    // Now the slow client finishes its request.
    slow.write_all(b"REFUSED HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Read::read_to_string(&mut slow, &mut answer).expect("the slow client's answer");
    assert_eq!(answer, http10("200 OK", "111 Connection refused\n"));
    assert_eq!(get(port, "/count").1, "served 6\n");

    // Inside the root, cqueues and OpenSSL are mapped from memory, each once.
    let (status, mapped) = get(port, "/mapped");
    assert_eq!(status, "HTTP/1.0 200 OK");
    let mapped: Vec<&str> = mapped.lines().collect();
    for lib in ["_cqueues", "libssl.so.3", "libcrypto.so.3"] {
        let names: Vec<&&str> = mapped.iter().filter(|m| m.contains(lib)).collect();
        assert_eq!(names.len(), 1, "{lib} is mapped under one name: {mapped:?}");
        assert!(names[0].starts_with("/memfd:"), "{lib} comes from memory: {mapped:?}");
    }
    for name in &mapped {
        assert!(
            name.starts_with("/memfd:") || *name == "/server" || name.starts_with("/lib"),
            "unexpected file mapped: {name} in {mapped:?}"
        );
    }

    // SIGTERM reaches the program through cqueues.signal; it says so and exits 0.
    // SAFETY: kill(2) on the pid of a child that has not been reaped yet.
    assert_eq!(unsafe { libc::kill(server.0.id() as libc::pid_t, libc::SIGTERM) }, 0);
    let status = server.0.wait().expect("the server exits");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "signal 15: served 8 requests\n");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(
        std::fs::read_dir(r.join("tmp")).unwrap().count(),
        0,
        "memfd path: nothing written in the root"
    );
}

/// Several modules of `_cqueues.so` at work in one event loop: sockets, signals, errno and a
/// condition variable. With a file name as argument it also copies /proc/self/maps there.
const CQUEUES_PROGRAM: &str = r#"local cqueues = require("cqueues")
local socket = require("cqueues.socket")
local signal = require("cqueues.signal")
local errno = require("cqueues.errno")
local condition = require("cqueues.condition")

local cq = cqueues.new()
local results = {}

-- An echo server on a loopback port and three clients.
local srv = socket.listen("127.0.0.1", 0)
local _, host, port = srv:localname()
cq:wrap(function()
  for _ = 1, 3 do
    local con = srv:accept()
    cq:wrap(function()
      for line in con:lines("*l") do con:write(line:upper(), "\n") end
      con:close()
    end)
  end
  srv:close()
end)
for i = 1, 3 do
  cq:wrap(function()
    local con = socket.connect(host, port)
    con:write("ping ", i, "\n")
    con:flush()
    con:shutdown("w")
    results["echo " .. i] = con:read("*l")
    con:close()
  end)
end

-- A signal raised and received through a signalfd.
signal.block(signal.SIGUSR1)
local listener = signal.listen(signal.SIGUSR1)
cq:wrap(function()
  signal.raise(signal.SIGUSR1)
  results.signal = listener:wait(5) == signal.SIGUSR1
end)

-- A refused connection, reported as an errno.
local closed = socket.listen("127.0.0.1", 0)
local _, _, closed_port = closed:localname()
closed:close()
cq:wrap(function()
  local con = socket.connect("127.0.0.1", closed_port)
  con:onerror(function(_, _, why) return why end)
  local ok, err = con:connect(5)
  results.refused = tostring(ok) .. " " .. tostring(err == errno.ECONNREFUSED) .. " " .. errno.strerror(err)
end)

-- A condition variable wakes a waiting coroutine.
local cond = condition.new()
cq:wrap(function()
  results.condition = cond:wait(5)
end)
cq:wrap(function()
  cqueues.sleep(0.01)
  cond:signal()
end)

assert(cq:loop())
for _, k in ipairs({ "echo 1", "echo 2", "echo 3", "signal", "refused", "condition" }) do
  print(k, results[k])
end
print("EAGAIN", errno.EAGAIN, errno.strerror(errno.EAGAIN))

if arg[1] then
  local out = assert(io.open(arg[1], "w"))
  out:write(assert(io.open("/proc/self/maps")):read("*a"))
  out:close()
end
io.stderr:write("done\n")
os.exit(3)
"#;

/// One line of /proc/self/maps: (permissions, offset, device:inode, path).
type Mapping = (String, String, String, String);

/// The file-backed mappings of `maps` whose path contains `needle`.
fn mappings(maps: &str, needle: &str) -> Vec<Mapping> {
    maps.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let path = f.get(5..)?.join(" ");
            path.contains(needle)
                .then(|| (f[1].to_owned(), f[2].to_owned(), format!("{}:{}", f[3], f[4]), path))
        })
        .collect()
}

/// How `lib`'s mappings in the bundled program (`got`) compare with luajit's (`want`): one
/// object, from memory, laid out exactly as the loader lays out the file on disk.
fn assert_mapped_once_from_memory(lib: &str, got: &str, want: &str) {
    let ours = mappings(got, lib);
    let theirs = mappings(want, lib);
    let paths: std::collections::BTreeSet<&str> = ours.iter().map(|m| m.3.as_str()).collect();
    let inodes: std::collections::BTreeSet<&str> = ours.iter().map(|m| m.2.as_str()).collect();
    assert_eq!(paths.len(), 1, "{lib}: one mapping name, not {paths:?}");
    assert_eq!(inodes.len(), 1, "{lib}: one object, not {inodes:?}");
    let path = paths.first().unwrap();
    assert!(
        path.starts_with("/memfd:") && !path.starts_with("/usr/lib") && !path.starts_with("/lib"),
        "{lib} comes from memory, not from {path}"
    );
    let layout = |m: &[Mapping]| -> Vec<(String, String)> {
        m.iter().map(|(perms, offset, _, _)| (perms.clone(), offset.clone())).collect()
    };
    assert!(!theirs.is_empty(), "luajit maps {lib} too:\n{want}");
    assert_eq!(layout(&ours), layout(&theirs), "{lib}: loaded once, as luajit loads the file");
}

#[test]
fn cqueues_library_serves_several_modules_packed_once() {
    if !have_cqueues("cqueues_library_serves_several_modules_packed_once") {
        return;
    }
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", CQUEUES_PROGRAM)]);
    let b = bundle(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(b.code, 0, "{}", b.stderr);

    // --list: the other modules are rows "(in _cqueues)".
    let list = bundle(dir.path(), &["main.lua", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    for module in ["_cqueues.socket", "_cqueues.signal", "_cqueues.errno", "_cqueues.condition"] {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{module} ")) && l.contains("(in _cqueues)")),
            "{module} in _cqueues:\n{}",
            list.stdout
        );
    }

    // inspect --json: the library once, in `_cqueues`; the others name it.
    let inspect = bundle(dir.path(), &["inspect", "app", "--json"]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let json: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let entries = json["payload"]["entries"].as_array().expect("entries");
    let entry = |name: &str| {
        let found: Vec<&serde_json::Value> = entries.iter().filter(|e| e["name"] == name).collect();
        assert_eq!(found.len(), 1, "one entry {name}:\n{}", inspect.stdout);
        found[0]
    };
    let so_size = std::fs::metadata(CQUEUES_SO).unwrap().len();
    let owner = entry("_cqueues");
    assert_eq!(owner["kind"], "native");
    assert_eq!(owner["raw"], so_size, "_cqueues holds the library");
    assert!(owner.get("shares").is_none(), "{owner}");
    let sharers: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with("_cqueues.")))
        .collect();
    for e in &sharers {
        assert_eq!(e["kind"], "native", "{e}");
        assert_eq!(e["shares"], "_cqueues", "{e}");
        assert!(e["raw"].as_u64().unwrap() < 1024, "no second copy of the library: {e}");
    }
    let names: Vec<&str> = sharers.iter().map(|e| e["name"].as_str().unwrap()).collect();
    for module in ["_cqueues.socket", "_cqueues.signal", "_cqueues.errno", "_cqueues.condition"] {
        assert!(names.contains(&module), "{module} in {names:?}");
    }
    let big = entries.iter().filter(|e| e["raw"].as_u64().unwrap_or(0) == so_size).count();
    assert_eq!(big, 1, "the library is packed once:\n{}", inspect.stdout);
    // Its own dependencies are packed libraries, not left to the target.
    for lib in ["libssl.so.3", "libcrypto.so.3"] {
        let e = entry(lib);
        assert_eq!(e["kind"], "native", "{e}");
        let path = e["chunkname"].as_str().unwrap().trim_start_matches('@');
        assert_eq!(e["raw"], std::fs::metadata(path).unwrap().len(), "{e}");
        let external = &json["payload"]["external_libraries"];
        assert!(
            !external.as_array().unwrap().iter().any(|x| x == lib),
            "{lib} is external: {external}"
        );
    }

    // Run from an empty directory with no Lua path, against luajit on the same program.
    let elsewhere = tempdir();
    let got_maps = elsewhere.path().join("maps.bundle");
    let want_maps = elsewhere.path().join("maps.luajit");
    let got = run(hermetic(
        Command::new(dir.path().join("app")).current_dir(elsewhere.path()).arg(&got_maps),
    ));
    let want = run(Command::new(luajit()).current_dir(dir.path()).arg("main.lua").arg(&want_maps));
    assert_eq!(want.code, 3, "luajit: {}", want.stderr);
    assert!(want.stdout.starts_with("echo 1\tPING 1\necho 2\tPING 2\n"), "{}", want.stdout);
    assert!(want.stdout.contains("refused\tnil true Connection refused\n"), "{}", want.stdout);
    assert_eq!(
        (got.code, got.stdout.as_str(), got.stderr.as_str()),
        (want.code, want.stdout.as_str(), want.stderr.as_str())
    );

    // Inside the program: _cqueues is one object, from memory; so are libssl and libcrypto.
    let got_maps = std::fs::read_to_string(&got_maps).unwrap();
    let want_maps = std::fs::read_to_string(&want_maps).unwrap();
    assert_mapped_once_from_memory("cqueues", &got_maps, &want_maps);
    assert_mapped_once_from_memory("libssl", &got_maps, &want_maps);
    assert_mapped_once_from_memory("libcrypto", &got_maps, &want_maps);
}

/// Issue 13, item 6: with stdout closed, loading a C module must not give its memory file
/// descriptor 1: the program's writes then fail as under luajit instead of going into the file.
#[test]
fn issue13_descriptors_stay_above_stdio_when_stdout_is_closed() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("main.lua"),
        "local cjson = require 'cjson'\nio.stdout:write(cjson.encode({1}), '\\n')\nlocal ok, err = io.stdout:flush()\nio.stderr:write('flush ', tostring(ok), ' ', tostring(err), '\\n')\n",
    )
    .unwrap();
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let closed = |cmd: &mut Command| {
        use std::os::unix::process::CommandExt;
        // SAFETY: close(2) in the child before exec; nothing else runs there.
        unsafe {
            cmd.pre_exec(|| {
                libc::close(1);
                Ok(())
            })
        };
        run(cmd.current_dir(dir.path()))
    };
    let got = closed(hermetic(&mut Command::new(dir.path().join("app"))));
    let want = closed(Command::new(luajit()).arg("main.lua"));
    assert_eq!(got.stderr, want.stderr);
    assert_eq!(got.stderr, "flush nil Bad file descriptor\n");
    assert_eq!(got.code, want.code);
}
