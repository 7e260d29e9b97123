//! Embedded files end to end (issue 15, `--asset PATH[=MOUNT]`): programs that read files run
//! through Debian's `luajit` with the files on disk, and through every back end with the files
//! embedded and absent from disk; stdout, stderr (normalised as tests/common does) and the exit
//! code must be the same.
//!
//! The cases are a table ([`RELATIVE`], [`ABSOLUTE`], [`NUL_LINES`]): each program is one
//! generated `main.lua` holding all its cases, run as `main.lua CASE [ABS]`, so that each back
//! end is built once per program (the C file compiled once) and every case is a process of its
//! own. The back ends:
//!
//! - the stub executable (`bundle main.lua -o app --asset ...`), run from an empty directory
//!   with no Lua search path (luv and lfs packed from memory);
//! - the C file (`--emit-c --cc`, compiled against Debian's libluajit), run the same way, with
//!   luv and lfs left to `package.cpath` (`-x`): --emit-c cannot carry shared objects;
//! - the interpreter (`bundle -o lj --asset ...`, no main script), run as `lj main.lua CASE`
//!   from a directory that holds `main.lua` and nothing else.
//!
//! Relative mounts run in a directory without the files; the absolute mount is a temporary path
//! that holds the files while `luajit` runs and is emptied before the bundled programs run.
//! Every process runs as an unprivileged user (nobody, when the tests run as root) over
//! read-only files, so that writes are refused on disk as they are in the executable.
//!
//! `ASSETS_E2E_SHOW=1 cargo test --test assets_e2e -- --nocapture` prints what every bundled
//! run printed.
//!
//! Also here: how assets are stored (raw when zstd cannot shrink them), and the example server
//! (examples/server) serving `public/` and `templates/` embedded, from an empty directory and
//! from a bare root filesystem as tests/native.rs makes one, against the same server run by
//! `luajit` from its directory.

mod common;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// Where Debian's lua-luv and lua-filesystem put luv.so and lfs.so (.ci/run installs them).
const LUA_CPATH: &str = "/usr/lib/x86_64-linux-gnu/lua/5.1/?.so";

/// The size of the incompressible asset (2 MiB).
const BIG: usize = 2 << 20;

// ------------------------------------------------------------------------------------------------
// The data set.

/// One file of the data set: path under the program's directory, bytes, permission bits.
struct File {
    path: &'static str,
    bytes: Vec<u8>,
    mode: u32,
}

fn text(path: &'static str, s: &str) -> File {
    File { path, bytes: s.as_bytes().to_vec(), mode: 0o444 }
}

/// Deterministic bytes that zstd cannot shrink (xorshift64).
fn incompressible(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// FNV-1a, 32 bits, as the `fnv` of the generated main.lua prints it.
fn fnv(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0x811c_9dc5_u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(16_777_619));
    format!("{h:08x}")
}

fn big_bin() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| incompressible(BIG))
}

/// Everything under `data/`: read-only files (one executable), a subdirectory tree, Lua chunks
/// (a module, a runtime error, a syntax error); with `big`, the 2 MiB incompressible binary and
/// two text files over 1 MiB (read by chunks, stored compressed).
fn data_files(big: bool) -> Vec<File> {
    let mut files = vec![
        text("data/hello.txt", "hello, assets\n"),
        text("data/lines.txt", "first line\nsecond line\n\n  fourth\r\nlast line, no newline"),
        text("data/nums.txt", "  42 -3.5e2 0x1F\n.5 +7 1e3x 9e nan -inf 0x 12 inf"),
        File {
            path: "data/bin.dat",
            bytes: (0..=255u8).chain(0..=255u8).collect(),
            mode: 0o444,
        },
        text("data/empty.txt", ""),
        File { path: "data/run.sh", bytes: b"#!/bin/sh\necho run\n".to_vec(), mode: 0o555 },
        text("data/sub/deep/leaf.txt", "leaf\n"),
        text("data/sub/note.txt", "note\n"),
        text(
            "data/lib/util.lua",
            "local arg1 = ...\nlocal M = { name = \"util\", arg = arg1 }\n\nfunction M.add(a, b)\n  return a + b\nend\n\nreturn M\n",
        ),
        text(
            "data/lib/bad.lua",
            "local function inner(x)\n  error(\"bad asset: \" .. x)\nend\nlocal function outer(x)\n  inner(x)\n  return x\nend\nouter(\"boom\")\n",
        ),
        text("data/lib/syntax.lua", "local x = 1\nx = = 2\n"),
        text("data/lib/env.lua", "return x, y\n"),
        text("data/lib/multi.lua", "return 1, \"two\", nil\n"),
    ];
    if big {
        files.push(File { path: "data/big.bin", bytes: big_bin().to_vec(), mode: 0o444 });
        files.push(File { path: "data/huge.txt", bytes: lines(1_250_000, huge_line), mode: 0o444 });
        files.push(File {
            path: "data/huge2.txt",
            bytes: lines(1_100_000, huge2_line),
            mode: 0o444,
        });
    }
    files
}

/// Lines `line(1)`, `line(2)`... until there are more than `size` bytes: text over the 1 MiB
/// the overlay fetches whole, which zstd compresses.
fn lines(size: usize, line: fn(usize) -> String) -> Vec<u8> {
    let mut out = String::new();
    for i in 1.. {
        if out.len() > size {
            break;
        }
        out.push_str(&line(i));
    }
    out.into_bytes()
}

fn huge_line(i: usize) -> String {
    format!("{i:06} {}\n", "x".repeat(i % 40))
}

fn huge2_line(i: usize) -> String {
    format!("{} {}\n", i * 7, "abcdefghij".repeat(6))
}

// ------------------------------------------------------------------------------------------------
// The table of cases.

/// One case: the body of a function of main.lua, and what it must do.
struct Case {
    name: &'static str,
    lua: &'static str,
    /// What the bundled programs must print (stdout, exit 0, no stderr) when `luajit` cannot be
    /// the oracle (`require "bundle/assets"`); `None`: what `luajit` does with the files on disk.
    expect: Option<fn() -> String>,
    /// Files (under the data set's root, as (path, text)) that BUNDLE_ASSETS_OVERRIDE holds for
    /// the bundled run, and that replace the originals on disk for luajit's.
    overrides: &'static [(&'static str, &'static str)],
    /// Files (path, text) on disk in the bundled program's working directory: those at an
    /// embedded path are shadowed by it, the others are read from disk and listed beside the
    /// embedded ones. For luajit, the latter are added beside the originals.
    disk: &'static [(&'static str, &'static str)],
}

impl Case {
    /// Whether luajit runs the case over a changed copy of the files.
    fn patched(&self) -> bool {
        !self.overrides.is_empty() || !self.disk.is_empty()
    }
}

/// A program: its data set, how `data/` is mounted, its cases.
struct Program {
    name: &'static str,
    /// `--asset data=ABS/data` (ABS a temporary directory, passed as arg[2]) instead of
    /// `--asset data`.
    absolute: bool,
    /// Its files.
    data: fn() -> Vec<File>,
    cases: &'static [Case],
}

const fn case(name: &'static str, lua: &'static str) -> Case {
    Case { name, lua, expect: None, overrides: &[], disk: &[] }
}

/// What main.lua starts with: `ABS`, and helpers the cases print with.
const PRELUDE: &str = r##"-- Generated by tests/assets_e2e.rs: `main.lua CASE [ABS]` runs one case.
local ABS = arg[2]
local CASES = {}

-- A value as the cases print it: strings quoted, control characters as \ddd.
local function q(v)
  if type(v) ~= "string" then return tostring(v) end
  return '"' .. (v:gsub('[%c"\\]', function(c) return ("\\%d"):format(c:byte()) end)) .. '"'
end

-- Prints its arguments (all of them, nils included) separated by " | ".
local function show(...)
  local t = {}
  for i = 1, select("#", ...) do t[i] = q((select(i, ...))) end
  print(table.concat(t, " | "))
end

-- The message of the error f(...) raises, or "no error".
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  if ok then return "no error" end
  return err
end

-- FNV-1a (32 bits) of s, as 8 hex digits.
local function fnv(s)
  local bxor, tobit, lshift, byte = bit.bxor, bit.tobit, bit.lshift, string.byte
  local h = -2128831035
  for i = 1, #s do
    h = bxor(h, byte(s, i))
    h = tobit(h * 403 + lshift(h, 24))
  end
  return bit.tohex(h)
end

-- The sorted "name:type" entries of a luv scandir request.
local function listing(uv, req)
  if not req then return "no request" end
  local out = {}
  while true do
    local name, t = uv.fs_scandir_next(req)
    if not name then break end
    out[#out + 1] = name .. ":" .. tostring(t)
  end
  table.sort(out)
  return table.concat(out, " ")
end

-- The sorted names lfs.dir gives.
local function lfs_names(lfs, path)
  local out = {}
  for name in lfs.dir(path) do out[#out + 1] = name end
  table.sort(out)
  return table.concat(out, " ")
end

-- A path made relative to `dir` when it lies under it.
local function under(dir, p)
  if type(p) == "string" and p:sub(1, #dir + 1) == dir .. "/" then return "./" .. p:sub(#dir + 2) end
  return p
end

-- Runs the steps one after the other, each given the function that starts the next.
local function chain(steps)
  local function go(i)
    if steps[i] then steps[i](function() go(i + 1) end) end
  end
  go(1)
end
"##;

const DISPATCH: &str = r##"
local case = CASES[arg[1]]
if not case then
  io.stderr:write("main.lua: no case ", tostring(arg[1]), "\n")
  os.exit(99)
end
case()
"##;

/// main.lua of `program`: the prelude, one function per case, the dispatch on arg[1].
fn main_lua(program: &Program) -> String {
    let mut s = String::from(PRELUDE);
    for case in program.cases {
        let _ = write!(s, "\nCASES[{:?}] = function()\n{}end\n", case.name, case.lua);
    }
    s.push_str(DISPATCH);
    s
}

static RELATIVE: Program = Program {
    name: "relative",
    absolute: false,
    data: || data_files(true),
    cases: &[
        case(
            "read all",
            r##"local f = assert(io.open("data/hello.txt"))
show(io.type(f), f:read("*a"), f:read("*a"), f:read("*l"), f:read(0), f:read(1))
show(f:close(), io.type(f), tostring(f))
f = assert(io.open("data/hello.txt"))
show(tostring(f), f:setvbuf("no"), f:setvbuf("full", 1024), f:flush(), f:read(5), io.close(f), io.type(42))
f = assert(io.open("data/empty.txt", "rb"))
show(f:read("*a"), f:read("*l"), f:read(0), f:read("*n"))
f:close()
"##,
        ),
        case(
            "read lines",
            r##"local f = assert(io.open("data/lines.txt", "rb"))
show(f:read("*l"), f:read("*L"), f:read("l"), f:read("L"), f:read(), f:read("*l"), f:read("*l"))
f:seek("set")
show(f:read("*L", "*L", "*L", "*L", "*L", "*L"))
f:seek("set")
show(f:read(5, 0, "*l", 3, "*a", "*a", 1))
f:close()
"##,
        ),
        case(
            "read numbers",
            r##"local f = assert(io.open("data/nums.txt"))
local got = {}
for _ = 1, 16 do
  got[#got + 1] = q(f:read("*n"))
  got[#got + 1] = q(f:read(1))
end
print(table.concat(got, " "))
f:seek("set", 0)
show(f:read("*n", "n", "*n", "*n", "*n", "*n", "*n"))
f:close()
"##,
        ),
        case(
            "read counts and binary",
            r##"local f = assert(io.open("data/bin.dat", "rb"))
local s = f:read(300)
show(#s, s:byte(1), s:byte(14), s:byte(256), s:byte(300), f:seek())
show(#f:read("*a"), f:read(1), f:read(0), f:read("*a"))
f:seek("set", 10)
show(f:read(0), f:read(3), f:seek("cur"))
f:close()
"##,
        ),
        case(
            "seek",
            r##"local f = assert(io.open("data/hello.txt"))
show(f:seek(), f:seek("end"), f:seek("set", 7), f:read(6))
show(f:seek("cur", -6), f:read("*l"), f:seek("cur"))
show(f:seek("end", -7), f:read("*a"))
show(f:seek("set", -1))
show(f:seek("set", 100), f:read(1), f:read("*a"), f:seek())
show(raised(f.seek, f, "sideways"))
show(raised(function() local r = f:seek("set", {}) return r end))
f:close()
"##,
        ),
        case(
            "file lines",
            r##"local f = assert(io.open("data/lines.txt"))
for l in f:lines() do show(l) end
show(io.type(f), f:read("*a"))
f:seek("set")
for a, b in f:lines(4, "*l") do show(a, b) end
f:close()
"##,
        ),
        case(
            "closed files",
            r##"local f = assert(io.open("data/hello.txt"))
show(f:close())
show(io.type(f), tostring(f))
show(raised(f.read, f))
show(raised(f.lines, f))
show(raised(f.seek, f))
show(raised(f.close, f))
show(raised(io.close, f))
show(raised(function() local s = f:read("*l") return s end))
local g = assert(io.open("data/lines.txt"))
local it = g:lines()
show(it())
g:close()
show(raised(it))
"##,
        ),
        case(
            "io.lines",
            r##"for l in io.lines("data/lines.txt") do show(l) end
for l in io.lines("data/lines.txt", "*L") do show(l) end
for a, b in io.lines("data/nums.txt", "*n", "*n") do show(a, b) end
for c in io.lines("data/hello.txt", 5) do show(c) end
show(raised(io.lines, "data/missing.txt"))
show(raised(function() for _ in io.lines("data/missing.txt") do end end))
"##,
        ),
        case(
            "open modes",
            r##"for _, mode in ipairs({ "w", "a", "r+", "w+", "a+", "wb", "wx", "rb+", "rw", "z", "" }) do
  show(mode, io.open("data/hello.txt", mode))
end
show(io.open("data/sub", "w"))
local f = assert(io.open("data/hello.txt", "r"))
show(f:write("x"))
show(f:write(""))
show(f:read("*a"))
f:close()
"##,
        ),
        case(
            "loadfile and dofile",
            r##"local chunk, err = loadfile("data/lib/util.lua")
show(type(chunk), err)
local m = chunk("via loadfile")
show(m.name, m.arg, m.add(2, 3))
local info = debug.getinfo(m.add, "S")
show(info.source, info.short_src, info.linedefined, info.what)
local m2 = dofile("data/lib/util.lua")
show(m2.name, m2.arg, m2 ~= m)
show(loadfile("data/lib/syntax.lua"))
show(raised(dofile, "data/lib/syntax.lua"))
show(loadfile("data/lib/env.lua", "t", { x = 1, y = "y" })())
show(loadfile("data/lib/util.lua", "b"))
show(select("#", dofile("data/lib/multi.lua")), dofile("data/lib/multi.lua"))
"##,
        ),
        case(
            "runtime error in an embedded chunk",
            r##"print("before")
io.stdout:flush()
dofile("data/lib/bad.lua")
print("never")
"##,
        ),
        case(
            "traceback through loadfile",
            r##"local f = assert(loadfile("data/lib/bad.lua"))
show(xpcall(f, debug.traceback))
"##,
        ),
        // Issue 19: the overlay loads on first use; stubs stand in its place from the start.
        case(
            "issue19 functions saved before the first use read embedded files",
            r##"local open, lines, iotype, load, run = io.open, io.lines, io.type, loadfile, dofile
local f = assert(open("data/hello.txt"))
show(iotype(f), f:read("*a"), io.open == open, io.type == iotype, loadfile == load, dofile == run)
f:close()
for l in lines("data/lines.txt") do show(l) end
show(load("data/lib/env.lua")())
show(raised(run, "data/lib/bad.lua"))
"##,
        ),
        case(
            "issue19 io.open wrapped before the first use",
            r##"local open = io.open
io.open = function(p, m) return open(p, m) end
local f = assert(io.open("data/hello.txt"))
show(io.type(f), f:read("*l"))
f:close()
"##,
        ),
        case(
            "issue19 first calls that raise",
            r##"show(raised(io.open))
show(raised(io.open, "data/hello.txt", {}))
show(io.type(io.stdout), io.type(42), raised(io.close, 42))
show(select(2, xpcall(function() local f = io.lines({}) return f end, debug.traceback)))
"##,
        ),
        case(
            "issue19 a searcher inserted before the first require",
            r##"local n = #package.loaders
table.insert(package.loaders, 1, function(name) return "\n\tno custom " .. name end)
package.path = "./data/lib/?.lua;" .. package.path
local m = require("util")
show(m.name, #package.loaders == n + 1, debug.getinfo(m.add, "S").source)
"##,
        ),
        case(
            "missing files",
            r##"show(io.open("data/missing.txt"))
show(io.open("data/hello.txt/"))
show(io.open("nodir/missing.txt", "rb"))
show(loadfile("data/missing.lua"))
show(raised(dofile, "data/missing.lua"))
show(raised(io.lines, "data/missing.txt"))
"##,
        ),
        case(
            "require along package.path",
            r##"package.path = "./data/lib/?.lua;" .. package.path
local m = require("util")
show(m.name, m.arg, package.loaded.util == m, debug.getinfo(m.add, "S").source)
show(raised(require, "syntax"))
show(raised(require, "bad"))
"##,
        ),
        case(
            "luv sync",
            r##"local uv = require("luv")
local fd = assert(uv.fs_open("data/hello.txt", "r", 438))
local st = uv.fs_fstat(fd)
show(st.type, st.size, ("%o"):format(st.mode))
show(uv.fs_read(fd, 5, 0), uv.fs_read(fd, 100), uv.fs_read(fd, 100), uv.fs_read(fd, 4, 7))
show(uv.fs_close(fd))
show(uv.fs_read(fd, 1))
for _, p in ipairs({ "data/hello.txt", "data/sub", "data/run.sh", "data/missing.txt", "data/hello.txt/" }) do
  local s, err, code = uv.fs_stat(p)
  if s then
    show(p, s.type, s.type == "file" and s.size or "-", ("%o"):format(s.mode % 4096))
  else
    show(p, s, err, code)
  end
  local l = uv.fs_lstat(p)
  show(p, l and l.type)
end
for _, m in ipairs({ "r", "w", "x", "rx", 4, 2 }) do
  show(m, uv.fs_access("data/hello.txt", m), uv.fs_access("data/run.sh", m), uv.fs_access("data/sub", m))
end
show(uv.fs_access("data/missing.txt", "r"))
show(listing(uv, uv.fs_scandir("data")))
show(listing(uv, uv.fs_scandir("data/sub")))
show(uv.fs_scandir("data/hello.txt"))
show(uv.fs_scandir("data/missing"))
local cwd = uv.cwd()
for _, p in ipairs({ "data/hello.txt", "data/sub/../lines.txt", "data/sub", "./data" }) do
  local r, err = uv.fs_realpath(p)
  show(p, under(cwd, r), err)
end
show(uv.fs_realpath("data/missing.txt"))
show(uv.fs_open("data/hello.txt", "w", 438))
show(uv.fs_open("data/missing.txt", "r", 438))
fd = assert(uv.fs_open("data/lines.txt", 0, 0))
show(uv.fs_read(fd, 0, 0), uv.fs_read(fd, 6, 50), uv.fs_read(fd, 10, 1000), uv.fs_close(fd))
fd = assert(uv.fs_open("data/sub", "r", 0))
show(uv.fs_fstat(fd).type, uv.fs_read(fd, 10, 0))
show(uv.fs_close(fd))
"##,
        ),
        case(
            "luv async",
            r##"local uv = require("luv")
local fd, size
chain({
  function(nxt) uv.fs_open("data/lines.txt", "r", 438, function(err, f) fd = f show("open", err, type(f)) nxt() end) end,
  function(nxt) uv.fs_fstat(fd, function(err, st) size = st.size show("fstat", err, st.type, st.size) nxt() end) end,
  function(nxt) uv.fs_read(fd, size, 0, function(err, data) show("read", err, data) nxt() end) end,
  function(nxt) uv.fs_read(fd, 6, 11, function(err, data) show("read at", err, data) nxt() end) end,
  function(nxt) uv.fs_close(fd, function(err, ok) show("close", err, ok) nxt() end) end,
  function(nxt) uv.fs_stat("data/sub", function(err, st) show("stat", err, st.type) nxt() end) end,
  function(nxt) uv.fs_lstat("data/hello.txt", function(err, st) show("lstat", err, st.type, st.size) nxt() end) end,
  function(nxt) uv.fs_access("data/hello.txt", "r", function(err, ok) show("access r", err, ok) nxt() end) end,
  function(nxt) uv.fs_access("data/hello.txt", "w", function(err, ok) show("access w", err, ok) nxt() end) end,
  function(nxt) uv.fs_scandir("data/sub", function(err, req) show("scandir", err, listing(uv, req)) nxt() end) end,
  function(nxt) uv.fs_realpath("data/hello.txt", function(err, p) show("realpath", err, under(uv.cwd(), p)) nxt() end) end,
  function(nxt) uv.fs_open("data/missing.txt", "r", 438, function(err, f) show("open missing", err, f) nxt() end) end,
  function(nxt) uv.fs_stat("data/missing.txt", function(err, st) show("stat missing", err, st) nxt() end) end,
  function(nxt) uv.fs_open("data/hello.txt", "w", 438, function(err, f) show("open w", err, f) nxt() end) end,
})
show("before run")
uv.run()
show("after run")
"##,
        ),
        case(
            "lfs",
            r##"local lfs = require("lfs")
local a = lfs.attributes("data/hello.txt")
show(a.mode, a.size, a.permissions, a.nlink)
show(lfs.attributes("data/hello.txt", "size"), lfs.attributes("data/sub", "mode"), lfs.attributes("data/run.sh", "permissions"))
show(lfs.symlinkattributes("data/hello.txt", "mode"), lfs.symlinkattributes("data/sub").mode)
show(lfs.attributes("data/missing.txt"))
show(lfs.attributes("data/hello.txt/"))
show(lfs_names(lfs, "data"))
show(lfs_names(lfs, "data/sub"))
show(raised(lfs.dir, "data/missing"))
show(raised(lfs.dir, "data/hello.txt"))
"##,
        ),
        case(
            "misuse",
            r##"local f = assert(io.open("data/hello.txt"))
show(raised(f.read, f, "*x"))
show(raised(f.read, f, {}))
show(f:read(1.9), f:seek("cur", 1.7), f:read(2))
show(raised(f.seek, f, 5))
show(raised(io.open, "data/hello.txt", {}))
show(raised(io.open))
show(raised(io.lines, "data/hello.txt", "*x"))
show(raised(function() for _ in io.lines("data/hello.txt", "*x") do end end))
show(raised(io.type))
f:close()
show(raised(f.write, f, "x"))
local uv = require("luv")
show(raised(uv.fs_open, "data/hello.txt", "q", 0))
local req = uv.fs_scandir("data/sub")
while uv.fs_scandir_next(req) do end
show(uv.fs_scandir_next(req))
local lfs = require("lfs")
show(raised(lfs.attributes, "data/hello.txt", "bogus"))
local t = {}
lfs.attributes("data/hello.txt", t)
show(t.size, t.mode)
-- Uncaught, from a method of an embedded file: the traceback names it as luajit does.
f = assert(io.open("data/hello.txt"))
f:write({})
"##,
        ),
        case(
            "path forms",
            r##"local cwd = require("luv").cwd()
local base = cwd:match("[^/]+$")
for i, p in ipairs({ "./data/hello.txt", "data//hello.txt", "data/./sub/../hello.txt",
  cwd .. "/data/hello.txt", "../" .. base .. "/data/hello.txt", "data/sub/deep/../../hello.txt",
  "data/sub/deep/leaf.txt", "./data/sub/deep/../note.txt", "data/../data/missing.txt" }) do
  local f, err, code = io.open(p)
  show(i, f and f:read("*l"), err and err:sub(-25), code)
  if f then f:close() end
end
"##,
        ),
        case(
            "directories read as files",
            r##"local f, err, code = io.open("data/sub")
show(io.type(f), err, code)
if f then
  show(f:read("*a"))
  show(f:read("*l"))
  show(f:read(1))
  f:close()
end
show(raised(function() for _ in io.lines("data/sub") do end end))
show(loadfile("data/sub"))
show(raised(dofile, "data/sub"))
"##,
        ),
        case(
            "large files by chunks",
            r##"local f = assert(io.open("data/huge.txt"))
local n, len = 0, 0
for l in f:lines() do n = n + 1; len = len + #l end
show(n, len, f:seek())
f:seek("set", 65530)
show(f:read(12), f:read("*l"), f:seek())
f:seek("set", 65536 * 3 - 3)
show(f:read("*L"), f:read("*n"), f:read(3))
f:seek("set", 0)
local s = f:read(70000)
show(#s, fnv(s), #f:read(200000), fnv(f:read("*a")), f:seek())
f:close()
-- Two large compressed files read alternately, by lines and by numbers.
local a, b = assert(io.open("data/huge.txt")), assert(io.open("data/huge2.txt"))
local sum, got = 0, 0
while true do
  local x = b:read("*n")
  local rest = b:read("*l")
  local l = a:read("*l")
  if not x then break end
  sum = sum + x
  if l and rest then got = got + #l + #rest end
end
show(sum, got, b:read("*a"), a:seek(), b:seek())
a:close()
b:close()
"##,
        ),
        case(
            "2 MiB binary",
            r##"local f = assert(io.open("data/big.bin", "rb"))
local s = f:read("*a")
show(#s, fnv(s), f:read(1), f:seek("end"))
f:seek("set", 1048570)
local mid = f:read(12)
show(#mid, fnv(mid), f:seek())
f:close()
"##,
        ),
        Case {
            name: "development override",
            lua: r##"show(assert(io.open("data/hello.txt")):read("*a"))
for l in io.lines("data/hello.txt") do show(l) end
show(assert(io.open("data/lines.txt")):read("*l"))
local m = dofile("data/lib/util.lua")
show(m.name, m.add(1, 2))
local uv = require("luv")
show(uv.fs_stat("data/hello.txt").size, uv.fs_stat("data/lines.txt").size)
local lfs = require("lfs")
show(lfs.attributes("data/hello.txt", "size"))
"##,
            expect: None,
            overrides: &[
                ("data/hello.txt", "overridden on disk\n"),
                (
                    "data/lib/util.lua",
                    "return { name = 'util, overridden', add = function(a, b) return a * b end }\n",
                ),
            ],
            disk: &[],
        },
        Case {
            name: "shadowing and merging",
            lua: r##"show(assert(io.open("data/hello.txt")):read("*a"))
show(assert(io.open("data/disk-only.txt")):read("*a"))
show(assert(io.open("data/sub/disk.txt")):read("*a"))
for l in io.lines("data/disk-only.txt") do show(l) end
local uv = require("luv")
show(uv.fs_stat("data/hello.txt").size, uv.fs_stat("data/disk-only.txt").size)
show(listing(uv, uv.fs_scandir("data")))
show(listing(uv, uv.fs_scandir("data/sub")))
local lfs = require("lfs")
show(lfs_names(lfs, "data/sub"))
show(lfs.attributes("data/hello.txt", "size"), lfs.attributes("data/disk-only.txt", "size"))
"##,
            expect: None,
            overrides: &[],
            disk: &[
                ("data/hello.txt", "the disk's version, shadowed\n"),
                ("data/disk-only.txt", "only on disk\n"),
                ("data/sub/disk.txt", "on disk, in an embedded directory\n"),
            ],
        },
        Case {
            name: "bundle/assets",
            lua: r##"local assets = require("bundle/assets")
show(assets.read("data/hello.txt"))
show(assets.read("data/missing.txt"))
show(assets.read("data/sub"))
show(table.concat(assets.list("data"), ","))
show(table.concat(assets.list("data/sub"), ","))
show(assets.list("data/hello.txt"))
local st = assets.stat("data/run.sh")
show(st.type, st.size, ("%o"):format(st.mode))
st = assets.stat("data/sub")
show(st.type, st.size, ("%o"):format(st.mode))
local f = assets.open("data/lines.txt")
show(io.type(f), f:read("*L"), f:close(), io.type(f))
local p = assets.path("data/hello.txt")
local real = assert(io.open(p, "rb"))
show(p:sub(1, 1), real:read("*a"))
real:close()
show(raised(assets.read, 42))
local big = assets.read("data/big.bin")
show(#big, fnv(big), big == assert(io.open("data/big.bin", "rb")):read("*a"))
"##,
            expect: Some(|| {
                [
                    r##""hello, assets\10""##,
                    r##"nil | "data/missing.txt: No such file or directory" | 2"##,
                    r##"nil | "data/sub: Is a directory" | 21"##,
                    r##""big.bin,bin.dat,empty.txt,hello.txt,huge.txt,huge2.txt,lib,lines.txt,nums.txt,run.sh,sub""##,
                    r##""deep,note.txt""##,
                    r##"nil | "data/hello.txt: Not a directory" | 20"##,
                    r##""file" | 19 | "555""##,
                    r##""directory" | 0 | "755""##,
                    r##""file" | "first line\10" | true | "closed file""##,
                    r##""/" | "hello, assets\10""##,
                    r##""bad argument #1 to '?' (string expected, got number)""##,
                    &format!("{BIG} | \"{}\" | true", fnv(big_bin())),
                ]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect()
            }),
            overrides: &[],
            disk: &[],
        },
    ],
};

static ABSOLUTE: Program = Program {
    name: "absolute",
    absolute: true,
    data: || data_files(false),
    cases: &[
        case(
            "absolute io",
            r##"local f = assert(io.open(ABS .. "/data/hello.txt"))
show(io.type(f), f:read("*l"), f:seek("set", 7), f:read("*a"), f:close())
for l in io.lines(ABS .. "/data/lines.txt") do show(l) end
f = assert(io.open(ABS .. "/data/sub/../nums.txt"))
show(f:read("*n", "*n", "*n"))
f:close()
show(io.open(ABS .. "/data/hello.txt", "w"))
show(io.open(ABS .. "/data/hello.txt", "a+"))
show(io.open(ABS .. "/data/missing.txt"))
show(io.open(ABS .. "/data/hello.txt/"))
show(io.open("data/hello.txt"))
"##,
        ),
        case(
            "absolute loadfile and dofile",
            r##"local m = assert(loadfile(ABS .. "/data/lib/util.lua"))("abs")
show(m.arg, m.add(20, 22), debug.getinfo(m.add, "S").source == "@" .. ABS .. "/data/lib/util.lua")
show(select("#", dofile(ABS .. "/data/lib/multi.lua")))
show((loadfile(ABS .. "/data/lib/syntax.lua")))
show(loadfile(ABS .. "/data/lib/missing.lua"))
dofile(ABS .. "/data/lib/bad.lua")
"##,
        ),
        case(
            "absolute luv",
            r##"local uv = require("luv")
local fd = assert(uv.fs_open(ABS .. "/data/bin.dat", "r", 438))
local data = uv.fs_read(fd, 600, 0)
show(#data, data:byte(1), data:byte(512), uv.fs_fstat(fd).size, uv.fs_close(fd))
local st = uv.fs_stat(ABS .. "/data/run.sh")
show(st.type, st.size, ("%o"):format(st.mode % 4096))
show(uv.fs_lstat(ABS .. "/data/sub").type, uv.fs_access(ABS .. "/data/run.sh", "rx"), uv.fs_access(ABS .. "/data/hello.txt", "w"))
show(listing(uv, uv.fs_scandir(ABS .. "/data")))
show(listing(uv, uv.fs_scandir(ABS .. "/data/sub/deep")))
show(uv.fs_realpath(ABS .. "/data/sub/../hello.txt") == ABS .. "/data/hello.txt")
show(uv.fs_stat(ABS .. "/data/missing.txt"))
-- One request after the other: two in flight complete in either order, on disk as embedded.
uv.fs_stat(ABS .. "/data/lines.txt", function(err, s)
  show("async stat", err, s.size)
  uv.fs_scandir(ABS .. "/data/sub", function(err2, req) show("async scandir", err2, listing(uv, req)) end)
end)
uv.run()
"##,
        ),
        case(
            "absolute lfs",
            r##"local lfs = require("lfs")
show(lfs.attributes(ABS .. "/data/hello.txt", "size"), lfs.attributes(ABS .. "/data/sub", "mode"))
show(lfs.attributes(ABS .. "/data/run.sh").permissions)
show(lfs_names(lfs, ABS .. "/data"))
show(lfs_names(lfs, ABS))
show(lfs.attributes(ABS .. "/data/missing.txt"))
"##,
        ),
        Case {
            name: "absolute override",
            lua: r##"show(assert(io.open(ABS .. "/data/hello.txt")):read("*a"))
show(assert(io.open(ABS .. "/data/lines.txt")):read("*l"))
show(require("luv").fs_stat(ABS .. "/data/hello.txt").size)
"##,
            expect: None,
            overrides: &[("data/hello.txt", "absolute, overridden\n")],
            disk: &[],
        },
    ],
};

/// Lines holding NUL bytes. LuaJIT reads a line with fgets and measures it with strlen
/// (lib_io.c, io_file_readline): a NUL ends what one fgets call gave, the next call's text is
/// appended, and a line that starts with NUL gives nothing. Odd, but it is what `luajit` does
/// with the file on disk, and the embedded file must read the same.
static NUL_LINES: Program = Program {
    name: "nul-lines",
    absolute: false,
    data: || {
        vec![File { path: "data/nul.txt", bytes: b"ab\0cd\nef\n\0gh\nij\n".to_vec(), mode: 0o444 }]
    },
    cases: &[case(
        "lines with NUL bytes",
        r##"for l in io.lines("data/nul.txt") do show(l) end
local f = assert(io.open("data/nul.txt", "rb"))
show(f:read("*L"), f:seek())
show(f:read("*l"), f:seek())
show(f:read("*a"))
f:close()
"##,
    )],
};

// ------------------------------------------------------------------------------------------------
// The harness.

/// Whether the tests run as root (asked once).
fn root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(is_root)
}

/// Runs `cmd` as nobody when the tests run as root: root may write read-only files, and the
/// cases compare what a program that cannot is told.
fn unprivileged(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if root() {
        cmd.uid(65534).gid(65534);
    }
    cmd
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A directory every user may enter (0755: temporary directories are 0700), so that the runs
/// as nobody reach what is in it.
fn mkdir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    chmod(path, 0o755);
    path.to_owned()
}

/// Writes `bytes` at `dir/rel` with `mode`, creating readable directories.
fn put(dir: &Path, rel: &str, bytes: &[u8], mode: u32) {
    let path = dir.join(rel);
    let mut parent = path.parent().expect("a parent");
    let mut missing = Vec::new();
    while !parent.exists() {
        missing.push(parent.to_owned());
        parent = parent.parent().expect("a parent");
    }
    for d in missing.iter().rev() {
        mkdir(d);
    }
    if path.exists() {
        std::fs::remove_file(&path).unwrap(); // read-only: replace, do not write through
    }
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    chmod(&path, mode);
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// A program written, built for one back end, ready to run its cases.
struct Built {
    program: &'static Program,
    _base: tempfile::TempDir,
    /// main.lua and data/: the bundler's input.
    src: PathBuf,
    /// luajit's working directory: `src` (relative program), or one holding main.lua alone.
    oracle_dir: PathBuf,
    /// The absolute program's mount point (arg[2]); it holds data/ only while luajit runs.
    abs: Option<PathBuf>,
    /// The executable, or what building it said.
    exe: Result<PathBuf, String>,
    backend: Backend,
    /// Where the bundled program runs each case: an empty directory, or one holding the case's
    /// `disk` files (and, for the interpreter, main.lua).
    run_dirs: Vec<PathBuf>,
    /// XDG_RUNTIME_DIR for every run (where `assets.path` writes).
    xdg: PathBuf,
    /// BUNDLE_ASSETS_OVERRIDE of each case that has overrides.
    override_dirs: Vec<Option<PathBuf>>,
}

impl Built {
    fn new(program: &'static Program, backend: Backend) -> Built {
        let base = tempdir();
        let b = std::fs::canonicalize(base.path()).expect("canonical temporary directory");
        chmod(&b, 0o755);
        let src = mkdir(&b.join("src"));
        put(&src, "main.lua", main_lua(program).as_bytes(), 0o444);
        for f in (program.data)() {
            put(&src, f.path, &f.bytes, f.mode);
        }
        let abs = program.absolute.then(|| mkdir(&b.join("abs")));
        let oracle_dir = match abs {
            Some(_) => {
                let dir = mkdir(&b.join("oracle"));
                put(&dir, "main.lua", main_lua(program).as_bytes(), 0o444);
                dir
            }
            None => src.clone(),
        };
        let asset = match &abs {
            Some(abs) => format!("data={}/data", utf8(abs)),
            None => "data".to_owned(),
        };
        let out = mkdir(&b.join("out"));
        let run_dir = mkdir(&b.join("run"));
        let xdg = b.join("xdg");
        std::fs::create_dir(&xdg).unwrap();
        chmod(&xdg, 0o777);
        let exe = match backend {
            Backend::Stub => {
                let exe = out.join("app");
                bundle_ok(&src, &["main.lua", "-o", utf8(&exe), "--asset", &asset]).map(|_| exe)
            }
            Backend::C => {
                let c = out.join("app.c");
                let args =
                    ["main.lua", "-x", "luv", "-x", "lfs", "--emit-c", "--cc", "-o", utf8(&c)];
                let mut args = args.to_vec();
                args.extend(["--asset", &asset]);
                bundle_ok(&src, &args).map(|_| out.join("app"))
            }
            Backend::Interpreter => {
                let exe = out.join("lj");
                bundle_ok(&src, &["-o", utf8(&exe), "--asset", &asset]).map(|_| exe)
            }
            Backend::StubSource | Backend::Dynamic => unreachable!("not a back end of these tests"),
        };
        let mut run_dirs = Vec::new();
        for (i, case) in program.cases.iter().enumerate() {
            let dir = if case.disk.is_empty() {
                run_dir.clone()
            } else {
                mkdir(&b.join(format!("run-{i}")))
            };
            assert!(case.disk.is_empty() || abs.is_none(), "disk files are for relative mounts");
            for (path, text) in case.disk {
                put(&dir, path, text.as_bytes(), 0o444);
            }
            if backend == Backend::Interpreter && !dir.join("main.lua").exists() {
                put(&dir, "main.lua", main_lua(program).as_bytes(), 0o444);
            }
            run_dirs.push(dir);
        }
        let mut override_dirs = Vec::new();
        for (i, case) in program.cases.iter().enumerate() {
            if case.overrides.is_empty() {
                override_dirs.push(None);
                continue;
            }
            let dir = mkdir(&b.join(format!("override-{i}")));
            for (path, text) in case.overrides {
                let rel = match &abs {
                    Some(abs) => format!("{}/{path}", utf8(abs).trim_start_matches('/')),
                    None => (*path).to_owned(),
                };
                put(&dir, &rel, text.as_bytes(), 0o444);
            }
            override_dirs.push(Some(dir));
        }
        Built {
            program,
            _base: base,
            src,
            oracle_dir,
            abs,
            exe,
            backend,
            run_dirs,
            xdg,
            override_dirs,
        }
    }

    fn args<'a>(&'a self, case: &'a Case) -> Vec<&'a str> {
        let mut args = vec![case.name];
        if let Some(abs) = &self.abs {
            args.push(utf8(abs));
        }
        args
    }

    /// What `luajit main.lua CASE` does in `cwd`.
    fn luajit(&self, case: &Case, cwd: &Path) -> Run {
        let lj = luajit();
        let mut cmd = Command::new(&lj);
        cmd.current_dir(cwd).arg("main.lua").args(self.args(case));
        lua_env(&mut cmd, LUA_CPATH, &self.xdg);
        normalized(run(unprivileged(&mut cmd)), &lj)
    }

    /// What luajit does for every case, with the files on disk: for its run, each case's
    /// overrides are put in place of the originals and its disk-only files beside them, then
    /// the originals are put back.
    fn oracles(&self) -> Vec<Option<Run>> {
        let files = (self.program.data)();
        let disk = self.abs.clone().unwrap_or_else(|| self.src.clone());
        if self.abs.is_some() {
            for f in &files {
                put(&disk, f.path, &f.bytes, f.mode);
            }
        }
        let cases: Vec<&Case> = self.program.cases.iter().collect();
        let mut out = parallel(&cases, |case| {
            (case.expect.is_none() && !case.patched()).then(|| self.luajit(case, &self.oracle_dir))
        });
        let embedded = |path: &str| files.iter().find(|f| f.path == path);
        for (i, case) in cases.iter().enumerate().filter(|(_, c)| c.patched()) {
            let added: Vec<&(&str, &str)> =
                case.disk.iter().filter(|(path, _)| embedded(path).is_none()).collect();
            for (path, text) in case.overrides.iter().chain(added.iter().copied()) {
                put(&disk, path, text.as_bytes(), 0o444);
            }
            out[i] = Some(self.luajit(case, &self.oracle_dir));
            for (path, _) in case.overrides {
                let f = embedded(path).expect("an override of an embedded file");
                put(&disk, f.path, &f.bytes, f.mode);
            }
            for (path, _) in added {
                std::fs::remove_file(disk.join(path)).expect("removing a disk-only file");
            }
        }
        if self.abs.is_some() {
            std::fs::remove_dir_all(disk.join("data")).expect("emptying the absolute mount");
        }
        out
    }

    /// What the bundled program does for case `i`.
    fn bundled(&self, i: usize, exe: &Path) -> Run {
        let case = &self.program.cases[i];
        let mut cmd = Command::new(exe);
        if self.backend == Backend::Interpreter {
            cmd.arg("main.lua");
        }
        cmd.current_dir(&self.run_dirs[i]).args(self.args(case));
        let cpath = if self.backend == Backend::Stub { "/nonexistent/?.so" } else { LUA_CPATH };
        lua_env(&mut cmd, cpath, &self.xdg);
        if let Some(dir) = &self.override_dirs[i] {
            cmd.env("BUNDLE_ASSETS_OVERRIDE", dir);
        }
        normalized(run(unprivileged(&mut cmd)), exe)
    }
}

/// `bundle ARGS -q` in `cwd`: Ok, or the failure as text.
fn bundle_ok(cwd: &Path, args: &[&str]) -> Result<(), String> {
    let mut all = args.to_vec();
    all.push("-q");
    let r = bundle(cwd, &all);
    if r.code == 0 && r.stderr.is_empty() {
        Ok(())
    } else {
        Err(format!("bundle {} (exit {}):\n{}", all.join(" "), r.code, r.stderr))
    }
}

/// The environment of every run: no Lua path but the C path given, no LUA_INIT, no override.
fn lua_env(cmd: &mut Command, cpath: &str, xdg: &Path) {
    cmd.env("LUA_PATH", "/nonexistent/?.lua").env("LUA_CPATH", cpath).env("XDG_RUNTIME_DIR", xdg);
    for var in ["LUA_INIT", "LUA_INIT_5_1", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    cmd.env_remove("BUNDLE_ASSETS_OVERRIDE");
}

fn normalized(mut r: Run, program: &Path) -> Run {
    let prog = utf8(program);
    r.stdout = normalize(&r.stdout, prog);
    r.stderr = normalize(&r.stderr, prog);
    r
}

/// `f` over `items` on a few threads, results in order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Runs every case of `program` through each of `backends` and compares each with luajit (or
/// its expectation): all must be the same.
fn check(program: &'static Program, backends: &[Backend]) {
    let mut failures = Vec::new();
    for &backend in backends {
        failures.extend(differences(program, backend));
    }
    let names: Vec<&str> = backends.iter().map(|b| b.name()).collect();
    assert!(
        failures.is_empty(),
        "{} of the {} case(s) of the {} program differ through the {} back end(s):\n{}",
        failures.len(),
        program.cases.len() * backends.len(),
        program.name,
        names.join(", "),
        failures.join("\n")
    );
}

/// The cases of `program` whose run through `backend` differs from luajit's (or from their
/// expectation), each described.
fn differences(program: &'static Program, backend: Backend) -> Vec<String> {
    let built = Built::new(program, backend);
    let exe = match &built.exe {
        Ok(exe) => exe.clone(),
        Err(e) => {
            return vec![format!("{} [{}]: building failed: {e}", program.name, backend.name())]
        }
    };
    let oracles = built.oracles();
    let indices: Vec<usize> = (0..program.cases.len()).collect();
    let got = parallel(&indices, |&i| built.bundled(i, &exe));
    let mut failures = Vec::new();
    if std::env::var_os("ASSETS_E2E_SHOW").is_some() {
        for (case, g) in program.cases.iter().zip(&got) {
            eprintln!(
                "== {} [{}] exit {}\n{}{}",
                case.name,
                backend.name(),
                g.code,
                g.stdout,
                g.stderr
            );
        }
    }
    for ((case, want), got) in program.cases.iter().zip(oracles).zip(got) {
        let (want, who) = match (want, case.expect) {
            (Some(w), _) => (w, "luajit, files on disk"),
            (None, Some(expect)) => {
                (Run { code: 0, signal: None, stdout: expect(), stderr: String::new() }, "expected")
            }
            (None, None) => unreachable!("a case without an oracle"),
        };
        assert!(
            !want.stderr.contains("main.lua: no case"),
            "{}: the case did not run under luajit: {want:?}",
            case.name
        );
        if got.signal.is_some() || got != want {
            failures.push(format!(
                "== {} [{}]\n-- {who} (exit {}):\n{}{}-- bundled, files embedded (exit {}):\n{}{}",
                case.name,
                backend.name(),
                want.code,
                want.stdout,
                want.stderr,
                got.code,
                got.stdout,
                got.stderr
            ));
        }
    }
    failures
}

#[test]
fn relative_mounts_read_as_the_disk_does_through_the_stub() {
    check(&RELATIVE, &[Backend::Stub]);
}

#[test]
fn relative_mounts_read_as_the_disk_does_through_the_c_file() {
    check(&RELATIVE, &[Backend::C]);
}

#[test]
fn relative_mounts_read_as_the_disk_does_through_the_interpreter() {
    check(&RELATIVE, &[Backend::Interpreter]);
}

#[test]
fn absolute_mount_reads_as_the_disk_does_through_the_stub() {
    check(&ABSOLUTE, &[Backend::Stub]);
}

#[test]
fn absolute_mount_reads_as_the_disk_does_through_the_c_file() {
    check(&ABSOLUTE, &[Backend::C]);
}

#[test]
fn absolute_mount_reads_as_the_disk_does_through_the_interpreter() {
    check(&ABSOLUTE, &[Backend::Interpreter]);
}

/// runtime/lua/assets.lua's readline keeps NUL bytes in lines, where luajit's fgets-based
/// reading does not (see [`NUL_LINES`]).
#[test]
fn issue15_lines_with_nul_bytes_read_as_luajit_reads_them() {
    check(&NUL_LINES, &[Backend::Stub, Backend::C]);
}

/// An incompressible asset is stored raw (read straight from the mapped executable), a
/// compressible one with zstd.
#[test]
fn incompressible_assets_are_stored_raw_and_text_compressed() {
    let dir = tempdir();
    let d = dir.path();
    put(d, "main.lua", b"print(#assert(io.open('data/big.bin', 'rb')):read('*a'))\n", 0o644);
    for f in data_files(true) {
        put(d, f.path, &f.bytes, f.mode);
    }
    let b = bundle(d, &["main.lua", "-o", "app", "-q", "--asset", "data"]);
    assert_eq!((b.code, b.stderr.as_str()), (0, ""), "{b:?}");
    let inspect = bundle(d, &["inspect", "app", "--json"]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let json: serde_json::Value = serde_json::from_str(&inspect.stdout).expect("inspect --json");
    let assets = json["payload"]["assets"].as_array().expect("payload.assets");
    let asset = |mount: &str| {
        assets
            .iter()
            .find(|a| a["mount"] == mount)
            .unwrap_or_else(|| panic!("{mount} in {assets:?}"))
    };
    let big = asset("data/big.bin");
    assert_eq!((big["codec"].as_str(), big["size"].as_u64()), (Some("stored"), Some(BIG as u64)));
    assert_eq!(big["stored"].as_u64(), Some(BIG as u64), "{big}");
    let huge = asset("data/huge.txt");
    assert_eq!(huge["codec"], "zstd", "{huge}");
    assert!(huge["stored"].as_u64() < huge["size"].as_u64(), "{huge}");
}

// ------------------------------------------------------------------------------------------------
// The example server with its files embedded.

fn example_server() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/server")
}

/// The requests both servers get, in this order (the server counts them: /hello and /json say
/// how many it has served). The traversal is sent as is, not normalised by a client.
const ROUTES: &[&str] = &[
    "/",
    "/index.html",
    "/static/style.css",
    "/static/logo.png",
    "/hello?name=A%26B+%3Cc%3E",
    "/hello",
    "/echo?x=1",
    "/static/missing.css",
    "/static/",
    "/static/../main.lua",
    "/nope",
    "/json",
];

/// One HTTP GET: (status line, Content-Type, body bytes).
fn fetch(port: u16, path: &str) -> (String, String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("response");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head.lines().next().unwrap_or_default().to_owned();
    let ctype =
        head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap_or_default().to_owned();
    (status, ctype, answer[split + 4..].to_vec())
}

/// Every route of [`ROUTES`] on both servers: the same status, type and body (/json compared
/// as JSON: the key order of cjson's output follows the VM's table layout).
fn compare_servers(bundled: u16, luajit: u16) {
    for route in ROUTES {
        let (want, got) = (fetch(luajit, route), fetch(bundled, route));
        if *route == "/json" {
            let json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).expect("JSON");
            assert_eq!((&got.0, &got.1), (&want.0, &want.1), "{route}");
            assert_eq!(json(&got.2), json(&want.2), "{route}");
        } else {
            assert_eq!(
                (&got.0, &got.1, String::from_utf8_lossy(&got.2)),
                (&want.0, &want.1, String::from_utf8_lossy(&want.2)),
                "{route}: the bundled server differs from luajit's"
            );
            assert_eq!(got.2, want.2, "{route}: bodies differ in bytes");
        }
    }
    // What luajit served is the files themselves.
    let public = example_server().join("public");
    for (route, file) in [("/static/logo.png", "logo.png"), ("/index.html", "index.html")] {
        let (status, _, body) = fetch(bundled, route);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body, std::fs::read(public.join(file)).unwrap(), "{route}");
    }
    let (_, _, hello) = fetch(bundled, "/hello?name=A%26B+%3Cc%3E");
    let hello = String::from_utf8(hello).unwrap();
    assert!(hello.contains("<h1>Hello, A&amp;B &lt;c&gt;!</h1>"), "{hello}");
}

/// `luajit main.lua` in examples/server, on $PORT: the files on disk.
fn luajit_server() -> (Server, u16) {
    let port = free_port();
    let mut cmd = Command::new(luajit());
    cmd.current_dir(example_server()).arg("main.lua").env("PORT", port.to_string());
    for var in ["LUA_PATH", "LUA_CPATH", "LUA_INIT", "LUA_PATH_5_1", "LUA_CPATH_5_1"] {
        cmd.env_remove(var);
    }
    (start(cmd), port)
}

/// `bundle main.lua -o OUT --asset public --asset templates` in examples/server.
fn bundle_server_with_files(out: &Path) {
    let args = ["main.lua", "-o", utf8(out), "-q", "--asset", "public", "--asset", "templates"];
    let r = bundle(&example_server(), &args);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "bundling the example server: {r:?}");
}

#[test]
fn example_server_serves_its_embedded_files_as_luajit_serves_them_from_disk() {
    let dir = tempdir();
    let exe = dir.path().join("server");
    bundle_server_with_files(&exe);
    let elsewhere = tempdir();
    let port = free_port();
    let mut cmd = Command::new(&exe);
    hermetic(cmd.current_dir(elsewhere.path()).env("PORT", port.to_string()));
    let _bundled = start(cmd);
    let (_luajit, luajit_port) = luajit_server();
    compare_servers(port, luajit_port);
}

#[test]
fn example_server_serves_its_embedded_files_in_a_bare_root_filesystem() {
    let test = "example_server_serves_its_embedded_files_in_a_bare_root_filesystem";
    if !is_root() {
        eprintln!("SKIPPED {test}: chroot needs root");
        return;
    }
    let Some((root, _mounted, chroot)) = bare_root(test) else { return };
    let r = root.path();
    bundle_server_with_files(&r.join("server"));
    let files: Vec<String> =
        files_under(r).iter().map(|f| f.trim_start_matches(utf8(r)).to_owned()).collect();
    assert!(
        !files.iter().any(|f| ["public", "templates", ".html", ".css", ".png", "lua", "libuv"]
            .iter()
            .any(|n| f.contains(n))),
        "the root holds no copy of the files, no Lua: {files:?}"
    );
    let port = free_port();
    let mut cmd = Command::new(chroot);
    cmd.arg(r).arg("/server").env_clear().env("PORT", port.to_string());
    let _bundled = start(cmd);
    let (_luajit, luajit_port) = luajit_server();
    compare_servers(port, luajit_port);
    assert_eq!(std::fs::read_dir(r.join("tmp")).unwrap().count(), 0, "nothing written in the root");
}

/// A file mounted where other assets make a directory (`--asset one.txt=m --asset data=m/x`)
/// is two assets claiming one path, as two files at one mount are: the bundler must refuse it
/// (exit 1, naming both, nothing written). Accepted, the program sees `m` as a file (io.open,
/// uv.fs_stat) that has files under it (`io.open("m/x/p.txt")` opens), which no disk can hold.
#[test]
fn issue15_a_file_mounted_where_assets_make_a_directory_is_refused() {
    let dir = app(&[
        ("main.lua", "print(io.open('m'):read('*a'))\n"),
        ("one.txt", "one\n"),
        ("data/p.txt", "p\n"),
    ]);
    let p = dir.path();
    for flags in [
        ["--asset", "one.txt=m", "--asset", "data=m/x"],
        ["--asset", "data=m/x", "--asset", "one.txt=m"],
        ["--asset", "one.txt=m", "--asset", "data/p.txt=m/p.txt"],
    ] {
        let mut args = vec!["main.lua", "-o", "app", "-q"];
        args.extend(flags);
        let r = bundle(p, &args);
        assert_eq!(r.code, 1, "{flags:?} must be refused: {r:?}");
        assert!(r.stderr.contains("one.txt") && r.stderr.contains(" m"), "{flags:?}: {r:?}");
        assert!(!p.join("app").exists(), "{flags:?}: nothing written");
    }
}
