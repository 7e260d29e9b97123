-- Embedded files ("assets", issue 15): the read API `require "bundle/assets"` and the transparent
-- overlay that lets the standard library, luv and LuaFileSystem read embedded files as if they
-- were on disk. Shared by the Rust stub and the C host of `bundle --emit-c`.
--
-- The host does not run this chunk: it runs runtime/lua/assets_boot.lua at start-up, which
-- loads this one (raw.overlay(): stripped, named "=[C]") when the program first needs it (its
-- first io.open, require of a module among the assets, luv or lfs...): its functions then
-- stand in tracebacks and error positions exactly where the C functions they wrap stood
-- ("[C]: in function 'dofile'"), since the boot's stubs tail-call them. The chunk receives one
-- argument, `o`: the host's primitives (`o.raw`), and the originals the boot captured at
-- start-up (o.open, o.lines, o.type, o.close, o.loadfile, o.dofile, o.searchers: the entries
-- of package.loaders; o.io, o.package). It installs nothing itself: it returns its functions
-- (open, lines, type, close, loadfile, dofile, preload, searchers[i] in the place of
-- o.searchers[i], patchers[name]) for the boot's stubs to call. Every path `raw` takes is a
-- key: a normalised mount path, relative ("public/css/site.css": no "./", "..", empty or "."
-- parts, no trailing "/") or absolute ("/etc/app/x.conf"); "" is not a key.
--   raw.stat(key)        -> kind, size, mode: kind "file" or "directory" (a directory exists when
--                           an asset lies under it; size 0, mode 0755); nothing if not embedded
--   raw.read(key [, offset [, length]]) -> the file's bytes (the whole, or the slice from the
--                           0-based offset, clipped at the end); nil if not an embedded file
--   raw.list(key)        -> names, kinds: the immediate children of an embedded directory sorted
--                           by name, kinds "file"/"directory"; nil if not one. raw.list("") is the
--                           top of the relative mounts, raw.list("/") that of the absolute ones
--   raw.cwd()            -> the working directory (getcwd), or nil, message
--   raw.materialize(key) -> a real path holding the file's bytes, or nil, message
--   raw.override         -> BUNDLE_ASSETS_OVERRIDE at start, or nil
--   raw.overlay()        -> this chunk, loaded (what the boot calls on the first use of a file)
--   raw.trace(phase)     -> (only with BUNDLE_TRACE=startup) prints a start-up trace line
--   raw.mtime            -> (optional) the time stat reports for embedded files, in seconds since
--                           the epoch; 0 when absent
--   raw.relative, raw.absolute -> (optional) whether any relative / absolute mount exists,
--                           answered without listing (start-up must not grow with the assets);
--                           when absent, raw.list("") and raw.list("/") tell
--
-- Paths. A user path is resolved as open(2) resolves it: relative mounts lie in the working
-- directory of the moment, absolute mounts at their absolute path. ".." is resolved lexically.
-- The working directory is asked for only when it matters (absolute mounts exist, or the path is
-- absolute or climbs with ".."), so a path that is not embedded costs a normalisation and at most
-- two raw.stat calls. Every other path goes to the original function, untouched.
--
-- Development override. When BUNDLE_ASSETS_OVERRIDE names a directory (raw.override), a file on
-- disk at OVERRIDE/K (relative key K) or OVERRIDE/A (absolute key /A) is used instead of the
-- embedded file K or /A, read afresh at each use so that edits show without rebuilding. Only
-- embedded files are shadowed (not new files, not directory listings), and write modes stay
-- refused. It is for development: nothing changes in production unless the variable is set.
--
-- What is overlaid (embedded files shadow the disk; directory listings merge both):
--   io.open (read modes give a read-only in-memory file; write, append and update modes fail as
--   opening a read-only file does: nil, "<path>: Permission denied", 13), io.lines, io.type,
--   io.close, loadfile and dofile (chunk name "@" .. path, as luajit names a file); when required,
--   luv's fs_open, fs_read, fs_close, fs_fstat, fs_stat, fs_lstat, fs_access, fs_scandir,
--   fs_scandir_next, fs_realpath and fs_sendfile (sync and callback forms, the callbacks always
--   from the loop; embedded files get descriptors from 0x40000000 up, which the kernel never
--   hands out), and LuaFileSystem's attributes, symlinkattributes and dir. luv and lfs are
--   patched in the module table their loader returns (package.loaders is wrapped for those
--   names), never loaded from here. require finds Lua files among the assets along package.path,
--   as it finds them on disk.
--
-- Errors read as luajit's: same messages, same error numbers, and a function given a bad
-- argument raises from its own frame (see argmsg), so messages carry the caller's position and
-- tracebacks show the wrapper where the C function stood.
--
-- Not overlaid: io.input/io.output with a path, os.rename/os.remove, luv's fs_opendir/readdir
-- and its other path functions, lfs's other functions; paths under an embedded file ("f.txt/x")
-- are left to the disk.
local o = ...
local raw = o.raw

local type, select, tostring, tonumber = type, select, tostring, tonumber
local error, pcall = error, pcall
local pairs, ipairs, setmetatable, getmetatable = pairs, ipairs, setmetatable, getmetatable
local newproxy, load, unpack = newproxy, load, unpack
local byte, char, sub, find, match, gmatch, gsub = string.byte, string.char, string.sub,
  string.find, string.match, string.gmatch, string.gsub
local lower, format = string.lower, string.format
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local getinfo = debug and debug.getinfo
local io, package = o.io, o.package

local raw_stat, raw_read, raw_list, raw_cwd = raw.stat, raw.read, raw.list, raw.cwd
local override = raw.override
if override == "" then override = nil end
local MTIME = tonumber(raw.mtime) or 0

local SLASH = 47
local WHOLE = 1048576 -- a file up to this size is fetched whole, at its first read
local CHUNK = 65536 -- bytes a larger one is fetched by, for line and number reads
local DIR_MODE = 493 -- 0755
local S_IFREG, S_IFDIR = 32768, 16384
local FD_BASE = 0x40000000

local function nonempty(t) return type(t) == "table" and t[1] ~= nil end
-- Which trees exist: the host's answer (two binary searches), else a listing of each top.
local has_rel, has_abs = raw.relative, raw.absolute
if has_rel == nil then has_rel = nonempty(raw_list("")) end
if has_abs == nil then has_abs = nonempty(raw_list("/")) end

-- The original functions, as the program started with them (captured by the boot).
local o_open, o_lines, o_type, o_close = o.open, o.lines, o.type, o.close
local o_loadfile, o_dofile = o.loadfile, o.dofile

-- What the boot's stubs call.
local M = {}

---------------------------------------------------------------------------------------------------
-- Errors as the C functions raise them (lj_err_argmsg: the name the caller used, the argument
-- number less one for a method call, the caller's position).

local function pass(...) return ... end

-- The type name of argument `i` of `n` given, as "got ..." says it.
local function got(v, i, n)
  if i > n then return "no value" end
  return type(v)
end

-- Errors are raised the way a C function raises them, so that messages and tracebacks read as
-- luajit's: the function the user called ends with `return error(msg, 1)`, a tail call, which
-- puts the error in that function's frame and the position at the user's line. Helpers never
-- raise; they return nil and the message.

-- "bad argument #narg to 'name' (msg)" for the function `level` frames above argmsg (1, the
-- default: argmsg's caller), named as its caller named it; a method call counts its arguments
-- from the one after self (lj_err_argmsg).
local function argmsg(narg, msg, level)
  local info = getinfo and getinfo((level or 1) + 1, "n")
  local name, what = "?", nil
  if info and info.name then name, what = info.name, info.namewhat end
  if what == "method" then
    narg = narg - 1
    if narg == 0 then return format("calling '%s' on bad self (%s)", name, msg) end
  end
  return format("bad argument #%d to '%s' (%s)", narg, name, msg)
end

-- lj_lib_checkstr: a string, or a number (converted); else nil and the message.
local function checkstr(v, i, n)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  return nil, argmsg(i, "string expected, got " .. got(v, i, n), 2)
end

-- lj_lib_optstr: like checkstr, but nil or absent give nil.
local function optstr(v, i, n)
  local t = type(v)
  if t == "string" or v == nil then return v end
  if t == "number" then return tostring(v) end
  return nil, argmsg(i, "string expected, got " .. got(v, i, n), 2)
end

-- luaL_checkinteger: a number or a numeric string, truncated; else nil and the message.
local function checkint(v, i, n)
  local x = tonumber(v)
  if x == nil or (type(v) ~= "number" and type(v) ~= "string") then
    return nil, argmsg(i, "number expected, got " .. got(v, i, n), 2)
  end
  return x >= 0 and floor(x) or -floor(-x)
end

---------------------------------------------------------------------------------------------------
-- Resolving user paths to keys.

-- Whether `path` is already a relative key: no leading or trailing "/", no empty, "." or ".."
-- part. Most paths a program opens are; they need no splitting.
local function plain(path)
  if byte(path, 1) == SLASH or byte(path, -1) == SLASH or find(path, "//", 1, true) then
    return false
  end
  if not find(path, ".", 1, true) then return true end
  return not (path == "." or path == ".." or find(path, "^%.%.?/") or find(path, "/%.%.?/")
    or find(path, "/%.%.?$"))
end

-- The parts of `path` joined by "/", without empty and "." parts and with ".." applied; nil
-- when ".." climbs above the start of a relative path.
local function clean(path)
  local parts, n = {}, 0
  local absolute = byte(path, 1) == SLASH
  for part in gmatch(path, "[^/]+") do
    if part == ".." then
      if n > 0 then
        n = n - 1
      elseif not absolute then
        return nil
      end
    elseif part ~= "." then
      n = n + 1
      parts[n] = part
    end
  end
  return concat(parts, "/", 1, n)
end

-- `rel` (a relative key or "") under the directory `cwd`.
local function under(cwd, rel)
  if rel == "" then return cwd end
  if cwd == "/" then return "/" .. rel end
  return cwd .. "/" .. rel
end

local function stat_key(key)
  if key == "" then
    if has_rel then return "directory", 0, DIR_MODE end
    return nil
  elseif key == "/" then
    if has_abs then return "directory", 0, DIR_MODE end
    return nil
  end
  return raw_stat(key)
end

-- The asset `path` names: key, kind, size, mode; or nil. A relative path is tried as a relative
-- key first, then (when absolute mounts exist) under the working directory; an absolute path
-- as a relative key when it lies in the working directory ("" for the directory itself), then
-- as an absolute key.
local function find_key(path)
  if path == "" then return nil end
  local norm, cwd
  if byte(path, 1) ~= SLASH then
    if plain(path) then
      norm = path
    else
      norm = clean(path)
    end
    if norm then
      local kind, size, mode = stat_key(norm)
      if kind then return norm, kind, size, mode end
      if not has_abs then return nil end
      cwd = raw_cwd()
      if not cwd then return nil end
      local abs = under(cwd, norm)
      kind, size, mode = stat_key(abs)
      if kind then return abs, kind, size, mode end
      return nil
    end
    -- ".." climbs out of the working directory: resolve against it.
    cwd = raw_cwd()
    if not cwd then return nil end
    norm = clean(cwd .. "/" .. path)
  else
    norm = clean(path)
  end
  local abs = "/" .. norm
  if has_rel then
    cwd = cwd or raw_cwd()
    local rel
    if cwd == "/" then
      rel = norm
    elseif cwd == abs then
      rel = ""
    elseif cwd and sub(abs, 1, #cwd + 1) == cwd .. "/" then
      rel = sub(abs, #cwd + 2)
    end
    if rel then
      local kind, size, mode = stat_key(rel)
      if kind then return rel, kind, size, mode end
    end
  end
  if has_abs then
    local kind, size, mode = stat_key(abs)
    if kind then return abs, kind, size, mode end
  end
  return nil
end

-- The disk path that overrides key `key`, when there is a regular file there.
local function override_file(key)
  local p = byte(key, 1) == SLASH and override .. key or override .. "/" .. key
  local f = o_open(p, "rb")
  if not f then return nil end
  local ok, _, code = f:read(0)
  f:close()
  if ok == nil and code then return nil end -- a directory
  return p
end

-- What `path` names among the assets: key, kind, size, mode and the overriding disk path, or
-- nil. kind is "file", "directory", or "notdir" for a file named with a trailing "/".
local function lookup(path)
  local key, kind, size, mode = find_key(path)
  if not key then return nil end
  if kind == "file" then
    if byte(path, -1) == SLASH then return key, "notdir" end
    if override then
      local p = override_file(key)
      if p then return key, kind, size, mode, p end
    end
  end
  return key, kind, size or 0, mode or (kind == "directory" and DIR_MODE or 420)
end

-- The absolute path of key `key` (for realpath).
local function absolute_of(key)
  if byte(key, 1) == SLASH then return key end
  local cwd = raw_cwd()
  if not cwd then return nil end
  return under(cwd, key)
end

-- The whole contents of a file on disk (an override), or nil.
local function slurp(p)
  local f = o_open(p, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The contents of a found asset (the override's when there is one).
local function contents(key, ovr)
  if ovr then
    local s = slurp(ovr)
    if s then return s end
  end
  return raw_read(key) or ""
end

-- A stable inode number for a key (stat tables want one; programs compare them).
local function ino_of(key)
  local h = 5381
  for i = 1, #key do h = (h * 33 + byte(key, i)) % 2147483647 end
  return h + 1
end

-- The process's effective user and group (files it would have extracted belong to it).
local uid, gid
local function ids()
  if uid == nil then
    uid, gid = 0, 0
    local s = slurp("/proc/self/status")
    if s then
      uid = tonumber(match(s, "\nUid:%s+%d+%s+(%d+)")) or 0
      gid = tonumber(match(s, "\nGid:%s+%d+%s+(%d+)")) or 0
    end
  end
  return uid, gid
end

---------------------------------------------------------------------------------------------------
-- In-memory read-only files, behaving like LuaJIT's FILE* objects (lib_io.c).

local files = setmetatable({}, { __mode = "k" }) -- userdata -> state
local proto = newproxy(true)
local FILE = getmetatable(proto)

-- A new file reading asset `key` of `size` bytes; a directory when `dir`.
local function newfile(key, size, dir, autoclose)
  local u = newproxy(proto)
  files[u] = { key = key, size = size, pos = 0, dir = dir, autoclose = autoclose }
  return u
end

-- The state of the open file given as argument 1, or nil and io_tofile's message.
local function tofile(u, n)
  local st = files[u]
  if not st then return nil, argmsg(1, "FILE* expected, got " .. got(u, 1, n), 2) end
  if st.closed then return nil, "attempt to use a closed file" end
  return st
end

-- The buffered bytes holding offset `pos` (< size): the buffer and the offset of its first
-- byte. A small file is fetched whole once; a large one a chunk at a time, so that reading it
-- by lines never holds more than a chunk (raw.read slices what the host holds).
local function chunk(st, pos)
  local buf = st.buf
  if buf and pos >= st.boff and pos < st.boff + #buf then return buf, st.boff end
  if st.size <= WHOLE then
    buf = raw_read(st.key) or ""
    st.buf, st.boff = buf, 0
    return buf, 0
  end
  buf = raw_read(st.key, pos, CHUNK) or ""
  st.buf, st.boff = buf, pos
  return buf, pos
end

-- Bytes [pos, pos + n) of the file (pos < size), clipped at its end.
local function bytes(st, pos, n)
  if n <= CHUNK or st.size <= WHOLE then
    local buf, boff = chunk(st, pos)
    if pos + n <= boff + #buf or boff + #buf >= st.size then
      return sub(buf, pos - boff + 1, pos - boff + n)
    end
  end
  return raw_read(st.key, pos, n) or ""
end

local function byte_at(st, pos)
  if pos >= st.size then return nil end
  local buf, boff = chunk(st, pos)
  return byte(buf, pos - boff + 1)
end

-- A line as LuaJIT reads it (lib_io.c, io_file_readline): fgets segments, each up to and
-- including a "\n", of which only the part before the first NUL counts (strlen); the line ends
-- with the first segment whose counted part ends in "\n", or at the end of the file. So a NUL
-- hides the rest of its segment, "\n" included: "ab\0cd\nef\n" is the one line "abef".
-- Returns the line (with its "\n" when `keep`), or nil at the end.
local function readline(st, keep)
  local pos, size = st.pos, st.size
  if pos >= size then return nil end
  local parts, n = {}, 0
  while pos < size do
    local buf, boff = chunk(st, pos)
    if #buf == 0 then break end
    local i = pos - boff + 1
    local j = find(buf, "\n", i, true)
    local seg = sub(buf, i, j or #buf)
    pos = boff + (j or #buf)
    local nul = find(seg, "\0", 1, true)
    if nul then
      n = n + 1
      parts[n] = sub(seg, 1, nul - 1)
    else
      n = n + 1
      parts[n] = seg
      if j then
        st.pos = pos
        local line = concat(parts, "", 1, n)
        return keep and line or sub(line, 1, -2)
      end
    end
  end
  st.pos = pos
  -- At the end, nothing counted is no line at all (LuaJIT's `ok` stays 0).
  local line = concat(parts, "", 1, n)
  if line == "" then return nil end
  return line
end

local SPACE = { [32] = true, [9] = true, [10] = true, [11] = true, [12] = true, [13] = true }
local function isdigit(c) return c and c >= 48 and c <= 57 end
local function isxdigit(c)
  return c and (isdigit(c) or (c >= 97 and c <= 102) or (c >= 65 and c <= 70))
end
local function lowerc(c) return c and c >= 65 and c <= 90 and c + 32 or c end

-- The longest prefix of `s` that strtod converts, converted; nil if none.
local function strtod(s)
  for i = #s, 1, -1 do
    local x = tonumber(sub(s, 1, i))
    if x then return x end
  end
  return nil
end

-- fscanf("%lf") as glibc does it (vfscanf-internal.c): skips white space, consumes the longest
-- prefix of a number (pushing back one character), then converts it. Returns the number or nil;
-- the position ends where glibc leaves it.
local function readnum(st)
  local pos = st.pos
  local c = byte_at(st, pos)
  while c and SPACE[c] do
    pos = pos + 1
    c = byte_at(st, pos)
  end
  local function fail()
    st.pos = pos
    return nil
  end
  if not c then return fail() end
  local buf, nb = {}, 0
  local function add(x)
    nb = nb + 1
    buf[nb] = x
  end
  local function nextc()
    pos = pos + 1
    c = byte_at(st, pos)
    return c
  end
  local sign = 0
  if c == 45 or c == 43 then
    sign = 1
    add(c)
    if not nextc() then return fail() end
  end
  local lc = lowerc(c)
  if lc == 110 or lc == 105 then -- "nan", "inf", "infinity"
    local word = lc == 110 and "nan" or "inf"
    for k = 2, 3 do
      if lowerc(nextc()) ~= byte(word, k) then
        if c then pos = pos + 1 end -- the mismatching character is consumed
        return fail()
      end
    end
    pos = pos + 1
    if word == "inf" and lowerc(byte_at(st, pos)) == 105 then
      for k = 1, 5 do
        local d = lowerc(byte_at(st, pos))
        if d ~= byte("inity", k) then
          if d then pos = pos + 1 end
          return fail()
        end
        pos = pos + 1
      end
    end
    st.pos = pos
    local v = word == "nan" and 0 / 0 or huge
    if sign == 1 and buf[1] == 45 then v = -v end
    return v
  end
  local hex, got_digit, got_dot, got_e = false, false, false, false
  local exp = 101 -- 'e'
  if c == 48 then
    add(c)
    if nextc() then
      if lowerc(c) == 120 then
        add(c)
        hex, exp = true, 112 -- 'p'
        nextc()
      else
        got_digit = true
      end
    end
  end
  while c do
    if isdigit(c) then
      add(c)
      got_digit = true
    elseif not got_e and hex and isxdigit(c) then
      add(c)
      got_digit = true
    elseif got_e and buf[nb] == exp and (c == 45 or c == 43) then
      add(c)
    elseif got_digit and not got_e and lowerc(c) == exp then
      add(exp)
      got_e, got_dot = true, true
    elseif not got_dot and c == 46 then
      add(c)
      got_dot = true
    else
      break -- pushed back
    end
    nextc()
  end
  st.pos = pos
  if nb == sign or (hex and nb == 2 + sign) then return nil end
  local s = {}
  for k = 1, nb do s[k] = char(buf[k]) end
  return strtod(concat(s))
end

-- io_file_read: reads the formats from argument `first` (of `n` given) on. Returns the results
-- (a table and their count: one per format read, the last nil on failure), or nil, 0 and an
-- error message. `level` is the reading function's level from here.
local function file_read(st, first, n, level, ...)
  if st.dir then return { nil, "Is a directory", 21 }, 3 end
  if n < first then return { readline(st, false) }, 1 end
  local out, k = {}, 0
  for i = first, n do
    local f = select(i, ...)
    local v
    if type(f) == "string" then
      local p = f
      if byte(p, 1) == 42 then p = sub(p, 2) end -- '*'
      local c = byte(p, 1)
      if c == 110 then -- 'n'
        v = readnum(st)
      elseif c == 108 or c == 76 then -- 'l', 'L'
        v = readline(st, c == 76)
      elseif c == 97 then -- 'a'
        if st.pos < st.size then
          v = bytes(st, st.pos, st.size - st.pos)
          st.pos = st.size
        else
          v = ""
        end
      else
        return nil, 0, argmsg(i, "invalid format", level + 1)
      end
    elseif type(f) == "number" then
      local m = f >= 0 and floor(f) or -floor(-f)
      if m > 0 then
        if st.pos < st.size then
          v = bytes(st, st.pos, m)
          st.pos = st.pos + #v
        end
      elseif st.pos < st.size then
        v = ""
      end
    else
      return nil, 0, argmsg(i, "invalid option", level + 1)
    end
    k = k + 1
    out[k] = v
    if v == nil then break end
  end
  return out, k
end

-- An iterator over the lines (or the given formats) of a file, io_file_iter; an io.lines
-- iterator closes the file at the end.
local function file_iter(u, ...)
  local fmts, nf = { ... }, select("#", ...)
  return function()
    local st = files[u]
    if st.closed then return error("attempt to use a closed file", 1) end
    if st.dir then return error("Is a directory", 1) end
    local out, k, err = file_read(st, 1, nf, 1, unpack(fmts, 1, nf))
    if err then return error(err, 1) end
    if out[1] == nil and st.autoclose then
      st.closed, st.buf = true, nil
      return
    end
    return unpack(out, 1, k)
  end
end

function FILE.read(...)
  local n = select("#", ...)
  local st, err = tofile((...), n)
  if not st then return error(err, 1) end
  local out, k
  out, k, err = file_read(st, 2, n, 1, ...)
  if err then return error(err, 1) end
  return unpack(out, 1, k)
end

function FILE.lines(...)
  local st, err = tofile((...), select("#", ...))
  if not st then return error(err, 1) end
  return file_iter(...)
end

function FILE.close(...)
  local st, err = tofile((...), select("#", ...))
  if not st then return error(err, 1) end
  st.closed, st.buf = true, nil
  return true
end

-- Whether this LuaJIT's seek takes a numeric string as its offset (newer 2.1 releases convert
-- it, 2.1.0-beta3 refuses it): asked once, of the real stderr.
local seek_strings
local function seek_takes_strings()
  if seek_strings == nil then
    local stderr = io.stderr
    seek_strings = pcall(stderr.seek, stderr, "cur", "0")
  end
  return seek_strings
end

function FILE.seek(...)
  local n = select("#", ...)
  local u, whence, offset = ...
  local st, err = tofile(u, n)
  if not st then return error(err, 1) end
  local w
  w, err = optstr(whence, 2, n)
  if err then return error(err, 1) end
  w = w or "cur"
  local base
  if w == "set" then
    base = 0
  elseif w == "cur" then
    base = st.pos
  elseif w == "end" then
    base = st.size
  else
    return error(argmsg(2, "invalid option '" .. w .. "'"), 1)
  end
  local ofs = offset
  if type(ofs) == "string" and seek_takes_strings() then ofs = tonumber(ofs) or ofs end
  if ofs == nil then
    ofs = 0
  elseif type(ofs) ~= "number" then
    return error(argmsg(3, "number expected, got " .. got(offset, 3, n)), 1)
  end
  ofs = ofs >= 0 and floor(ofs) or -floor(-ofs)
  if base + ofs < 0 then return nil, "Invalid argument", 22 end
  st.pos = base + ofs
  return st.pos
end

-- fwrite on a stream opened for reading fails with EBADF; writing nothing succeeds.
function FILE.write(...)
  local n = select("#", ...)
  local st, err = tofile((...), n)
  if not st then return error(err, 1) end
  local ok = true
  for i = 2, n do
    local v = select(i, ...)
    local t = type(v)
    if t ~= "string" and t ~= "number" then
      return error(argmsg(i, "string expected, got " .. got(v, i, n)), 1)
    end
    if #tostring(v) > 0 then ok = false end
  end
  if ok then return true end
  return nil, "Bad file descriptor", 9
end

function FILE.flush(...)
  local st, err = tofile((...), select("#", ...))
  if not st then return error(err, 1) end
  return true
end

function FILE.setvbuf(...)
  local n = select("#", ...)
  local u, mode = ...
  local st, err = tofile(u, n)
  if not st then return error(err, 1) end
  local m
  m, err = checkstr(mode, 2, n)
  if err then return error(err, 1) end
  if m ~= "full" and m ~= "line" and m ~= "no" then
    return error(argmsg(2, "invalid option '" .. m .. "'"), 1)
  end
  return true
end

-- "file (0x...)": the address tostring gives the userdata itself.
local function file_tostring(u)
  local st = files[u]
  if not st or st.closed then return "file (closed)" end
  FILE.__tostring = nil
  local s = tostring(u)
  FILE.__tostring = file_tostring
  return "file (" .. (match(s, "0x%x+") or s) .. ")"
end
FILE.__tostring = file_tostring
function FILE.__gc() end
FILE.__index = FILE

---------------------------------------------------------------------------------------------------
-- io, loadfile, dofile.

-- glibc's fopen mode: "r" without "+" reads; "r+", "w", "a" write; anything else is EINVAL.
local function mode_kind(mode)
  local c = sub(mode, 1, 1)
  if c ~= "r" and c ~= "w" and c ~= "a" then return nil end
  local rest = sub(mode, 2, 7)
  if c == "r" and not find(rest, "+", 1, true) then return "read" end
  return find(rest, "x", 1, true) and "excl" or "write"
end

function M.open(...)
  local n = select("#", ...)
  local path, mode = ...
  local p, err = checkstr(path, 1, n)
  if err then return error(err, 1) end
  local m
  m, err = optstr(mode, 2, n)
  if err then return error(err, 1) end
  local key, kind, size, _, ovr = lookup(p)
  if not key then return o_open(path, mode) end
  local how = mode_kind(m or "r")
  if not how then return o_open(path, mode) end
  if how == "read" then
    if kind == "notdir" then return nil, p .. ": Not a directory", 20 end
    if ovr then return o_open(ovr, mode) end
    if kind == "directory" then
      local f = o_open(path, mode)
      if f then return f end
      return newfile(key, 0, true)
    end
    return newfile(key, size, false)
  end
  if kind == "notdir" then return nil, p .. ": Not a directory", 20 end
  if how == "excl" then return nil, p .. ": File exists", 17 end
  if kind == "directory" then return nil, p .. ": Is a directory", 21 end
  return nil, p .. ": Permission denied", 13
end

function M.lines(...)
  local n = select("#", ...)
  local path = ...
  if path == nil then return o_lines(...) end
  local p, err = checkstr(path, 1, n)
  if err then return error(err, 1) end
  local key, kind, size, _, ovr = lookup(p)
  if key and not ovr then
    if kind == "notdir" then return error(argmsg(1, p .. ": Not a directory"), 1) end
    local u = newfile(key, kind == "file" and size or 0, kind == "directory", true)
    return file_iter(u, select(2, ...))
  end
  -- The original, under pcall: its argument error names no function; name it as luajit would.
  local ok, it = pcall(o_lines, ovr or path, select(2, ...))
  if ok then return it end
  local narg, msg = match(tostring(it), "^bad argument #(%d+) to '[^']*' %((.*)%)$")
  if narg then return error(argmsg(tonumber(narg), msg), 1) end
  return error(it, 1)
end

function M.type(...)
  local v = ...
  local st = files[v]
  if st then return st.closed and "closed file" or "file" end
  if select("#", ...) == 0 then return error(argmsg(1, "value expected"), 1) end
  return o_type(v)
end

function M.close(...)
  local n = select("#", ...)
  local f = ...
  if n == 0 then return o_close() end
  local st = files[f]
  if st then
    if st.closed then return error("attempt to use a closed file", 1) end
    st.closed, st.buf = true, nil
    return true
  end
  local t = o_type(f)
  if t == nil then return error(argmsg(1, "FILE* expected, got " .. got(f, 1, n)), 1) end
  if t == "closed file" then return error("attempt to use a closed file", 1) end
  return o_close(f)
end

-- luaL_loadfilex on an asset: the same parser over the same bytes with the same chunk name.
local function load_asset(p, key, kind, ovr, mode, env)
  if kind == "directory" then return nil, "cannot read " .. p .. ": Is a directory" end
  if kind == "notdir" then return nil, "cannot open " .. p end
  local f, err = load(contents(key, ovr), "@" .. p, mode, env)
  if f then return f end
  return nil, err
end

function M.loadfile(...)
  local n = select("#", ...)
  local path, mode, env = ...
  local p, err = optstr(path, 1, n)
  if err then return error(err, 1) end
  if p then
    local _
    _, err = optstr(mode, 2, n)
    if err then return error(err, 1) end
    local key, kind, _, _, ovr = lookup(p)
    if key then return load_asset(p, key, kind, ovr, mode, env) end
  end
  return o_loadfile(...)
end

-- lj_cf_dofile: load or raise the message as is, then call with the results passed through.
-- The chunk is not tail-called, so that this frame stands where the C dofile stood.
function M.dofile(...)
  local n = select("#", ...)
  local path = ...
  local p, err = optstr(path, 1, n)
  if err then return error(err, 1) end
  if p == nil then return o_dofile() end
  local key, kind, _, _, ovr = lookup(p)
  local f
  if key then
    f, err = load_asset(p, key, kind, ovr)
  else
    f, err = o_loadfile(p)
  end
  if not f then return error(err, 0) end
  return pass(f())
end

---------------------------------------------------------------------------------------------------
-- Directory listings: the embedded entries of `key` merged with `disk` (name -> type, or nil),
-- embedded shadowing the same names. Returns sorted names and their types.

local function merged(key, disk)
  local types = {}
  if disk then
    for name, t in pairs(disk) do types[name] = t end
  end
  local names, kinds = raw_list(key)
  if names then
    for i = 1, #names do types[names[i]] = kinds[i] end
  end
  local out = {}
  for name in pairs(types) do out[#out + 1] = name end
  sort(out)
  local ts = {}
  for i = 1, #out do ts[i] = types[out[i]] end
  return out, ts
end

---------------------------------------------------------------------------------------------------
-- The read API: require "bundle/assets".

local api = {}

-- The message for a path argument that is not a string, if it is not.
local function badpath(path, n)
  if type(path) == "string" then return nil end
  local msg = argmsg(1, "string expected, got " .. got(path, 1, n), 2) -- not a tail call
  return msg
end

-- read(path) -> the bytes of an embedded file | nil, message, errno
function api.read(...)
  local path = ...
  local err = badpath(path, select("#", ...))
  if err then return error(err, 1) end
  local key, kind, _, _, ovr = lookup(path)
  if not key then return nil, path .. ": No such file or directory", 2 end
  if kind == "directory" then return nil, path .. ": Is a directory", 21 end
  if kind == "notdir" then return nil, path .. ": Not a directory", 20 end
  return contents(key, ovr)
end

-- open(path) -> a read-only file object (io.type says "file") | nil, message, errno
function api.open(...)
  local path = ...
  local err = badpath(path, select("#", ...))
  if err then return error(err, 1) end
  local key, kind, size, _, ovr = lookup(path)
  if not key then return nil, path .. ": No such file or directory", 2 end
  if kind == "directory" then return nil, path .. ": Is a directory", 21 end
  if kind == "notdir" then return nil, path .. ": Not a directory", 20 end
  if ovr then return o_open(ovr, "rb") end
  return newfile(key, size, false)
end

-- list(dir) -> the sorted names in an embedded directory | nil, message, errno
function api.list(...)
  local path = ...
  local err = badpath(path, select("#", ...))
  if err then return error(err, 1) end
  local key, kind = lookup(path)
  if not key then return nil, path .. ": No such file or directory", 2 end
  if kind ~= "directory" then return nil, path .. ": Not a directory", 20 end
  local names = raw_list(key) or {}
  local out = {}
  for i = 1, #names do out[i] = names[i] end
  return out
end

-- stat(path) -> { type = "file" | "directory", size = bytes, mode = permission bits } | nil,
-- message, errno
function api.stat(...)
  local path = ...
  local err = badpath(path, select("#", ...))
  if err then return error(err, 1) end
  local key, kind, size, mode, ovr = lookup(path)
  if not key then return nil, path .. ": No such file or directory", 2 end
  if kind == "notdir" then return nil, path .. ": Not a directory", 20 end
  if ovr then
    local f = o_open(ovr, "rb")
    if f then
      size = f:seek("end")
      f:close()
    end
  end
  return { type = kind, size = size, mode = mode }
end

-- path(name) -> a real path holding the file's bytes, for APIs that want a path (the host
-- writes it once into a private content-addressed directory) | nil, message
function api.path(...)
  local path = ...
  local err = badpath(path, select("#", ...))
  if err then return error(err, 1) end
  local key, kind, _, _, ovr = lookup(path)
  if not key then return nil, path .. ": No such file or directory", 2 end
  if kind == "directory" then return nil, path .. ": Is a directory", 21 end
  if kind == "notdir" then return nil, path .. ": Not a directory", 20 end
  if ovr then return ovr end
  return raw.materialize(key)
end

function M.preload() return api end

---------------------------------------------------------------------------------------------------
-- luv (libuv bindings, src/fs.c of luv 1.44): the fs functions on embedded paths and descriptors.

local UV_MSG = {
  ENOENT = "no such file or directory",
  ENOTDIR = "not a directory",
  EISDIR = "illegal operation on a directory",
  EACCES = "permission denied",
  EEXIST = "file already exists",
  EBADF = "bad file descriptor",
}

-- luv's error triple; the path is in the message when the request had one.
local function uv_error(name, path)
  local msg = name .. ": " .. UV_MSG[name]
  if path then msg = msg .. ": " .. path end
  return nil, msg, name
end

local UV_FLAGS = {
  r = 0, rs = 1052672, sr = 1052672, ["r+"] = 2, ["rs+"] = 1052674, ["sr+"] = 1052674,
  w = 577, wx = 705, xw = 705, ["w+"] = 578, ["wx+"] = 706, ["xw+"] = 706,
  a = 1089, ax = 1217, xa = 1217, ["a+"] = 1090, ["ax+"] = 1218, ["xa+"] = 1218,
}

local function is_callable(v)
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__call ~= nil then return type(mt.__call) == "function" end
  return type(v) == "function"
end

-- luv_check_continuation: nil (sync) or a callable; else false and the message.
local function continuation(v, i, n)
  if v == nil then return nil end
  if is_callable(v) then return v end
  return false, argmsg(i, "function or callable table expected, got " .. got(v, i, n), 2)
end

local function bitset(x, b) return floor(x / b) % 2 == 1 end

local patched = setmetatable({}, { __mode = "k" })

local function patch_luv(uv)
  if patched[uv] then return end
  local o = {}
  for _, name in ipairs({ "fs_open", "fs_read", "fs_close", "fs_fstat", "fs_stat", "fs_lstat",
    "fs_access", "fs_scandir", "fs_scandir_next", "fs_realpath", "new_timer" }) do
    o[name] = uv[name]
    if type(o[name]) ~= "function" then return end -- not luv
  end
  patched[uv] = true

  local fds, next_fd = {}, FD_BASE
  local scans = setmetatable({}, { __mode = "k" })

  -- Calls cb(...) from the loop, never from here (a 0 ms timer, closed before the call).
  local function later(cb, ...)
    local args, n = { ... }, select("#", ...)
    local t = o.new_timer()
    t:start(0, 0, function()
      t:close()
      cb(unpack(args, 1, n))
    end)
    return newproxy(false)
  end

  -- Delivers a result: returned (sync) or passed to cb as (nil, ...) (async); an error (nil,
  -- message, name) reaches cb as its message alone.
  local function deliver(cb, ok, a, b)
    if not cb then
      if ok == nil then return nil, a, b end
      return ok
    end
    if ok == nil then return later(cb, a) end
    return later(cb, nil, ok)
  end

  local function timespec() return { sec = MTIME, nsec = 0 } end

  local function stat_table(key, kind, size, mode)
    local dir = kind == "directory"
    local u, g
    if type(uv.getuid) == "function" and type(uv.getgid) == "function" then
      u, g = uv.getuid(), uv.getgid()
    else
      u, g = ids()
    end
    return {
      dev = 0, mode = (dir and S_IFDIR or S_IFREG) + mode, nlink = dir and 2 or 1, uid = u,
      gid = g, rdev = 0, ino = ino_of(key), size = size, blksize = 4096,
      blocks = floor((size + 4095) / 4096) * 8, flags = 0, gen = 0, atime = timespec(),
      mtime = timespec(), ctime = timespec(), birthtime = timespec(),
      type = dir and "directory" or "file",
    }
  end

  -- The directory on disk at `path`, if there is one (then it answers for itself).
  local function disk_dir(path)
    local s = o.fs_stat(path)
    return s and s.type == "directory"
  end

  uv.fs_open = function(...)
    local n = select("#", ...)
    local path, flags, mode, cb = ...
    local p, err = checkstr(path, 1, n)
    if err then return error(err, 1) end
    local key, kind, size, fmode, ovr = lookup(p)
    if not key then return o.fs_open(...) end
    if ovr then return o.fs_open(ovr, flags, mode, cb) end
    local fl
    if type(flags) == "number" then
      fl = floor(flags)
    elseif type(flags) == "string" then
      fl = UV_FLAGS[flags]
      if not fl then return error("Unknown file open flag '" .. flags .. "'", 1) end
    else
      return error(argmsg(2, "Expected string or integer for file open mode"), 1)
    end
    local _
    _, err = checkint(mode, 3, n)
    if err then return error(err, 1) end
    cb, err = continuation(cb, 4, n)
    if err then return error(err, 1) end
    local acc = fl % 4
    if kind == "notdir" then return deliver(cb, uv_error("ENOTDIR", p)) end
    if bitset(fl, 64) and bitset(fl, 128) then return deliver(cb, uv_error("EEXIST", p)) end
    if kind == "directory" and acc ~= 0 then return deliver(cb, uv_error("EISDIR", p)) end
    if acc ~= 0 or bitset(fl, 512) then return deliver(cb, uv_error("EACCES", p)) end
    local fd = next_fd
    next_fd = next_fd + 1
    fds[fd] = { key = key, kind = kind, size = size, mode = fmode, pos = 0 }
    return deliver(cb, fd)
  end

  uv.fs_read = function(...)
    local n = select("#", ...)
    local fd, len, a3, a4 = ...
    local f = fds[fd]
    if not f then return o.fs_read(...) end
    local err
    len, err = checkint(len, 2, n)
    if err then return error(err, 1) end
    local offset, cb = -1, nil
    if is_callable(a3) and a4 == nil then
      cb = a3
    else
      if a3 ~= nil then
        offset, err = checkint(a3, 3, n)
        if err then return error(err, 1) end
      end
      cb, err = continuation(a4, 4, n)
      if err then return error(err, 1) end
    end
    if f.kind == "directory" then return deliver(cb, uv_error("EISDIR")) end
    local at = offset >= 0 and offset or f.pos
    local data = ""
    if len > 0 and at < f.size then data = raw_read(f.key, at, len) or "" end
    if offset < 0 then f.pos = at + #data end
    return deliver(cb, data)
  end

  uv.fs_close = function(...)
    local n = select("#", ...)
    local fd, cb = ...
    if not fds[fd] then return o.fs_close(...) end
    local err
    cb, err = continuation(cb, 2, n)
    if err then return error(err, 1) end
    fds[fd] = nil
    return deliver(cb, true)
  end

  -- sendfile(2) from an asset: its bytes written to out_fd (fs_write's result is sendfile's).
  if type(uv.fs_sendfile) == "function" and type(uv.fs_write) == "function" then
    local o_sendfile, o_write = uv.fs_sendfile, uv.fs_write
    uv.fs_sendfile = function(...)
      local n = select("#", ...)
      local out_fd, in_fd, in_offset, length, cb = ...
      local f = fds[in_fd]
      if not f then return o_sendfile(...) end
      local ofs, len, err
      ofs, err = checkint(in_offset, 3, n)
      if err then return error(err, 1) end
      len, err = checkint(length, 4, n)
      if err then return error(err, 1) end
      cb, err = continuation(cb, 5, n)
      if err then return error(err, 1) end
      if f.kind == "directory" then return deliver(cb, uv_error("EISDIR")) end
      local data = ""
      if len > 0 and ofs < f.size then data = raw_read(f.key, ofs, len) or "" end
      return o_write(out_fd, data, -1, cb)
    end
  end

  uv.fs_fstat = function(...)
    local n = select("#", ...)
    local fd, cb = ...
    local f = fds[fd]
    if not f then return o.fs_fstat(...) end
    local err
    cb, err = continuation(cb, 2, n)
    if err then return error(err, 1) end
    return deliver(cb, stat_table(f.key, f.kind, f.size, f.mode))
  end

  local function make_stat(orig)
    return function(...)
      local n = select("#", ...)
      local path, cb = ...
      local p, err = checkstr(path, 1, n)
      if err then return error(err, 1) end
      local key, kind, size, mode, ovr = lookup(p)
      if not key then return orig(...) end
      if ovr then return orig(ovr, cb) end
      cb, err = continuation(cb, 2, n)
      if err then return error(err, 1) end
      if kind == "notdir" then return deliver(cb, uv_error("ENOTDIR", p)) end
      if kind == "directory" and disk_dir(p) then return deliver(cb, orig(p)) end
      return deliver(cb, stat_table(key, kind, size, mode))
    end
  end
  uv.fs_stat = make_stat(o.fs_stat)
  uv.fs_lstat = make_stat(o.fs_lstat)

  uv.fs_access = function(...)
    local n = select("#", ...)
    local path, amode, cb = ...
    local p, err = checkstr(path, 1, n)
    if err then return error(err, 1) end
    local key, kind, _, mode, ovr = lookup(p)
    if not key then return o.fs_access(...) end
    if ovr then return o.fs_access(ovr, amode, cb) end
    local want = 0
    if type(amode) == "number" then
      want = floor(amode)
    elseif type(amode) == "string" then
      for i = 1, #amode do
        local c = lower(sub(amode, i, i))
        if c == "r" then
          want = want + (bitset(want, 4) and 0 or 4)
        elseif c == "w" then
          want = want + (bitset(want, 2) and 0 or 2)
        elseif c == "x" then
          want = want + (bitset(want, 1) and 0 or 1)
        else
          return error(argmsg(2, "Unknown character in access mode string"), 1)
        end
      end
    else
      return error(argmsg(2, "Expected string or integer for file access mode check"), 1)
    end
    cb, err = continuation(cb, 3, n)
    if err then return error(err, 1) end
    if kind == "directory" and disk_dir(p) then return o.fs_access(p, amode, cb) end
    -- Embedded files are read-only; executable when a mode bit says so.
    local ok = kind ~= "notdir" and not bitset(want, 2)
      and (not bitset(want, 1) or floor(mode / 64) % 2 == 1 or floor(mode / 8) % 2 == 1
        or mode % 2 == 1)
    if cb then return later(cb, nil, ok) end
    return ok
  end

  -- The merged entries of an embedded directory, as a scandir request.
  local function scan(p, key)
    local disk
    local req = o.fs_scandir(p)
    if req then
      disk = {}
      while true do
        local name, t = o.fs_scandir_next(req)
        if not name then break end
        disk[name] = t or false
      end
    end
    local names, types = merged(key, disk)
    local r = newproxy(false)
    scans[r] = { names = names, types = types, i = 0 }
    return r
  end

  uv.fs_scandir = function(...)
    local n = select("#", ...)
    local path, cb = ...
    local p, err = checkstr(path, 1, n)
    if err then return error(err, 1) end
    local key, kind = lookup(p)
    if not key then return o.fs_scandir(...) end
    cb, err = continuation(cb, 2, n)
    if err then return error(err, 1) end
    if kind ~= "directory" then return deliver(cb, uv_error("ENOTDIR", p)) end
    return deliver(cb, scan(p, key))
  end

  uv.fs_scandir_next = function(...)
    local s = scans[(...)]
    if not s then return o.fs_scandir_next(...) end
    local i = s.i + 1
    local name = s.names[i]
    if name == nil then return end
    s.i = i
    local t = s.types[i]
    if t then return name, t end
    return name
  end

  uv.fs_realpath = function(...)
    local n = select("#", ...)
    local path, cb = ...
    local p, err = checkstr(path, 1, n)
    if err then return error(err, 1) end
    local key, kind = lookup(p)
    if not key then return o.fs_realpath(...) end
    cb, err = continuation(cb, 2, n)
    if err then return error(err, 1) end
    if kind == "notdir" then return deliver(cb, uv_error("ENOTDIR", p)) end
    if kind == "directory" and disk_dir(p) then return o.fs_realpath(p, cb) end
    local abs = absolute_of(key)
    if not abs then return deliver(cb, uv_error("ENOENT", p)) end
    return deliver(cb, abs)
  end
end

---------------------------------------------------------------------------------------------------
-- LuaFileSystem (lfs.c of 1.8): attributes, symlinkattributes and dir on embedded paths.

local function perm_string(mode)
  local s, bits = {}, "rwxrwxrwx"
  for i = 1, 9 do
    local b = 2 ^ (9 - i)
    s[i] = floor(mode / b) % 2 == 1 and sub(bits, i, i) or "-"
  end
  return concat(s)
end

local function patch_lfs(lfs)
  if patched[lfs] then return end
  local o = {}
  for _, name in ipairs({ "attributes", "symlinkattributes", "dir" }) do
    o[name] = lfs[name]
    if type(o[name]) ~= "function" then return end -- not lfs
  end
  patched[lfs] = true

  local function attrs(key, kind, size, mode)
    local u, g = ids()
    return {
      mode = kind, dev = 0, ino = ino_of(key), nlink = kind == "directory" and 2 or 1, uid = u,
      gid = g, rdev = 0, access = MTIME, modification = MTIME, change = MTIME, size = size,
      permissions = perm_string(mode), blocks = floor((size + 4095) / 4096) * 8, blksize = 4096,
    }
  end

  local function make_attributes(orig, link)
    return function(...)
      local n = select("#", ...)
      local path, what = ...
      local p, err = checkstr(path, 1, n)
      if err then return error(err, 1) end
      local key, kind, size, mode, ovr = lookup(p)
      if not key then return orig(...) end
      if ovr then return orig(ovr, select(2, ...)) end
      if kind == "notdir" then
        return nil, "cannot obtain information from file '" .. p .. "': Not a directory", 20
      end
      if kind == "directory" and o.attributes(p, "mode") == "directory" then return orig(...) end
      if link and what == "target" then
        return nil, "could not obtain link target: Invalid argument", 22
      end
      local a = attrs(key, kind, size, mode)
      if type(what) == "string" or type(what) == "number" then
        local v = a[tostring(what)]
        if v == nil then return error("invalid attribute name '" .. tostring(what) .. "'", 1) end
        return v
      end
      local t = type(what) == "table" and what or {}
      for k, v in pairs(a) do t[k] = v end
      return t
    end
  end
  lfs.attributes = make_attributes(o.attributes, false)
  lfs.symlinkattributes = make_attributes(o.symlinkattributes, true)

  local dirs = setmetatable({}, { __mode = "k" })
  local dproto = newproxy(true)
  local DIR = getmetatable(dproto)

  local function dir_iter(...)
    local u = ...
    local d = dirs[u]
    if not d then
      local msg = "directory metatable expected, got " .. got(u, 1, select("#", ...))
      return error(argmsg(1, msg), 1)
    end
    if d.closed then return error(argmsg(1, "closed directory"), 1) end
    local i = d.i + 1
    local name = d.names[i]
    if name == nil then
      d.closed = true
      return
    end
    d.i = i
    return name
  end
  DIR.__index = { next = dir_iter, close = function(d)
    local s = dirs[d]
    if s then s.closed = true end
  end }
  function DIR.__gc() end

  lfs.dir = function(...)
    local n = select("#", ...)
    local path = ...
    local p, err = checkstr(path, 1, n)
    if err then return error(err, 1) end
    local key, kind = lookup(p)
    if not key then return o.dir(...) end
    if kind ~= "directory" then return error("cannot open " .. p .. ": Not a directory", 1) end
    -- Disk entries in the disk's order ("." and ".." among them), then the embedded ones it
    -- lacks, sorted.
    local names, seen = {}, {}
    local ok, it, d = pcall(o.dir, p)
    if ok then
      for name in it, d do
        names[#names + 1] = name
        seen[name] = true
      end
    else
      names[1], names[2] = ".", ".."
    end
    local emb = merged(key, nil)
    for i = 1, #emb do
      if not seen[emb[i]] then names[#names + 1] = emb[i] end
    end
    local u = newproxy(dproto)
    dirs[u] = { names = names, i = 0 }
    return dir_iter, u
  end
end

---------------------------------------------------------------------------------------------------
-- require of a Lua module that is an asset along package.path (a plugin directory shipped as
-- assets, a module name computed at run time). LuaJIT's Lua-file searcher is the third from the
-- end of package.loaders (before the C and all-in-one searchers; the bundle's own comes before
-- it). Its search (lib_package.c: searchpath) is done over the assets first; any miss, or a
-- readable file on disk along an earlier template, goes to it unchanged, messages included.

-- The searchers as the program started with them; the boot's stubs call searchers[i] in the
-- place of each.
local searchers = {}
for i = 1, #o.searchers do searchers[i] = o.searchers[i] end
M.searchers = searchers
if #searchers >= 3 then
  local at = #searchers - 2
  local search_lua, pkg = searchers[at], package
  local function filename_of(template, fname)
    return (gsub(template, "%?", function() return fname end))
  end
  searchers[at] = function(...)
    local name = ...
    local path = pkg.path
    if type(name) ~= "string" or type(path) ~= "string" then return search_lua(...) end
    local fname = gsub(name, "%.", "/")
    local k = 0
    for template in gmatch(path, "[^;]+") do
      k = k + 1
      local filename = filename_of(template, fname)
      local key, kind, _, _, ovr = lookup(filename)
      if kind == "file" then
        local j = 0
        for earlier in gmatch(path, "[^;]+") do
          j = j + 1
          if j == k then break end
          local f = o_open(filename_of(earlier, fname), "r")
          if f then
            f:close()
            return search_lua(...)
          end
        end
        local f, err = load_asset(filename, key, kind, ovr)
        if f then return f end
        err = format("error loading module '%s' from file '%s':\n\t%s", name, filename, err)
        return error(err, 1)
      end
    end
    return search_lua(...)
  end
end

---------------------------------------------------------------------------------------------------
-- Patch luv and lfs in the table their loader returns, wherever they load from (the bundle's
-- searcher, package.preload, package.cpath): each searcher is wrapped so that the loader it finds
-- for those names patches the module before require caches it. Other names go through untouched.

-- (luv or lfs already loaded when the boot ran is patched by the boot, through `patchers`.)

local patchers = { luv = patch_luv, uv = patch_luv, lfs = patch_lfs }
M.patchers = patchers

for i = 1, #searchers do
  local searcher = searchers[i]
  searchers[i] = function(name, ...)
    local patch = patchers[name]
    if not patch then return searcher(name, ...) end
    local loader, extra = searcher(name, ...)
    if type(loader) ~= "function" then return loader, extra end
    return function(...)
      local m = loader(...)
      local t = type(m) == "table" and m or package.loaded[name]
      if type(t) == "table" then patch(t) end
      return m
    end, extra
  end
end

return M
