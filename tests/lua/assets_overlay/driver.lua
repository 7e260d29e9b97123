-- Driver of tests/assets_overlay.rs. Run by luajit (Debian's, or the stub's own) as
--   luajit driver.lua setup ROOT
--   luajit driver.lua run SIDE SECTION ROOT CWD ABS [noabs]
-- `setup` writes the on-disk trees under ROOT. `run` runs the cases of SECTION (cases.lua) in the
-- working directory CWD with absolute mounts under ABS: SIDE "fake" installs
-- runtime/lua/assets.lua (through its boot, runtime/lua/assets_boot.lua) over a fake `raw` holding the data set in memory (ROOT/ovr as the
-- override in the "override" section), SIDE "disk" runs the same cases on a real copy of the
-- files with no overlay. The two outputs must be the same. The environment gives ASSETS_LUA and
-- ASSETS_BOOT (the files under test) and RUN_ID (a name for what this run writes).
local here = arg[0]:match("^(.*)/[^/]*$")
local mode = arg[1]

local function data(abs) return dofile(here .. "/files.lua")(abs) end

-- Writes `entries` ({path, bytes, mode}) under `base` ("" for absolute paths), with luv.
local function write_tree(uv, base, entries)
  for _, e in ipairs(entries) do
    local path = e[1]:sub(1, 1) == "/" and e[1] or base .. "/" .. e[1]
    local dir = ""
    for part in path:gmatch("([^/]+)/") do
      dir = dir .. "/" .. part
      -- Only the directories made here (0755 despite the umask): never /tmp or its parents.
      if uv.fs_mkdir(dir, 493) then uv.fs_chmod(dir, 493) end
    end
    local f = assert(io.open(path, "wb"))
    f:write(e[2])
    f:close()
    assert(uv.fs_chmod(path, e[3] or 420))
  end
end

if mode == "setup" then
  local uv = require("luv")
  local root = arg[2]
  local fake_abs = root .. "/abs-fake"
  -- The disk side: every asset on disk, plus the files only the disk has.
  local d = data(root .. "/abs-real")
  write_tree(uv, root .. "/diskcwd", d.embedded)
  write_tree(uv, root .. "/diskcwd", d.disk_only)
  -- The disk side of the override run: the same with the override's contents.
  d = data(root .. "/abs-real-ovr")
  write_tree(uv, root .. "/diskovr", d.embedded)
  write_tree(uv, root .. "/diskovr", d.disk_only)
  write_tree(uv, root .. "/diskovr", d.override)
  -- The overlaid side: only what the disk has besides the assets.
  d = data(fake_abs)
  write_tree(uv, root .. "/fakecwd", d.disk_only)
  write_tree(uv, root .. "/fakecwd", d.shadowed)
  -- The override directory: OVERRIDE/K for relative keys, OVERRIDE/A for absolute keys /A.
  for _, e in ipairs(d.override) do
    local p = e[1]:sub(1, 1) == "/" and e[1] or "/" .. e[1]
    write_tree(uv, "", { { root .. "/ovr" .. p, e[2] } })
  end
  uv.fs_mkdir(root .. "/mat", 448)
  return
end

assert(mode == "run", "usage: driver.lua setup ROOT | run SIDE SECTION ROOT CWD ABS [noabs]")
local side, section, root, cwd, abs, noabs = arg[2], arg[3], arg[4], arg[5], arg[6], arg[7]
local fake = side == "fake"

-- The fake `raw`: the host's primitives over an in-memory table, as the contract says.
local counts = { stat = 0, cwd = 0, read = 0, list = 0 }
local api
if fake then
  local o_open = io.open
  local d = data(abs)
  local files, dirs = {}, {}
  local function add_dir(key, name, kind)
    local dir = dirs[key]
    if not dir then
      dir = {}
      dirs[key] = dir
      if key ~= "" and key ~= "/" then
        local parent, base = key:match("^(.*)/([^/]+)$")
        if not parent then parent, base = "", key end
        if parent == "" and key:sub(1, 1) == "/" then parent = "/" end
        add_dir(parent, base, "directory")
      end
    end
    if name then dir[name] = kind end
  end
  for _, e in ipairs(d.embedded) do
    local key = e[1]
    if not (noabs and key:sub(1, 1) == "/") then
      files[key] = { data = e[2], mode = e[3] or 420 }
      local parent, base = key:match("^(.*)/([^/]+)$")
      if not parent then parent, base = "", key end
      if parent == "" and key:sub(1, 1) == "/" then parent = "/" end
      add_dir(parent, base, "file")
    end
  end
  local raw = {}
  function raw.stat(key)
    counts.stat = counts.stat + 1
    assert(type(key) == "string" and key ~= "", "raw.stat: not a key: " .. tostring(key))
    local f = files[key]
    if f then return "file", #f.data, f.mode end
    if dirs[key] and key ~= "/" then return "directory", 0, 493 end
    return nil
  end
  function raw.read(key, offset, length)
    counts.read = counts.read + 1
    local f = files[key]
    if not f then return nil end
    offset = offset or 0
    assert(offset >= 0, "raw.read: negative offset")
    if length then return f.data:sub(offset + 1, offset + length) end
    return f.data:sub(offset + 1)
  end
  function raw.list(key)
    counts.list = counts.list + 1
    local dir = dirs[key]
    if not dir then return nil end
    local names, kinds = {}, {}
    for name in pairs(dir) do names[#names + 1] = name end
    table.sort(names)
    for i, name in ipairs(names) do kinds[i] = dir[name] end
    return names, kinds
  end
  function raw.cwd()
    counts.cwd = counts.cwd + 1
    return cwd
  end
  function raw.materialize(key)
    local f = files[key]
    if not f then return nil, key .. ": not an embedded file" end
    local p = root .. "/mat/" .. key:gsub("/", "%%")
    local out = o_open(p, "wb")
    out:write(f.data)
    out:close()
    return p
  end
  if section == "override" then raw.override = root .. "/ovr" end
  if section == "expect" then
    -- A luv loaded before the overlay (under the name luvit gives it) is patched in place.
    local so = assert(package.searchpath("luv", package.cpath))
    package.loaded.uv = assert(package.loadlib(so, "luaopen_luv"))()
  end
  -- As the host loads them: stripped bytecode named "=[C]", the boot (ASSETS_BOOT) at once,
  -- the overlay (ASSETS_LUA) when the boot asks for it.
  local loadfile, getenv = loadfile, os.getenv -- the boot replaces loadfile
  local function stripped(path)
    return assert(load(string.dump(assert(loadfile(path)), true), "=[C]"))
  end
  local function overlay()
    counts.overlay = (counts.overlay or 0) + 1
    return stripped(getenv("ASSETS_LUA")), raw
  end
  local chunk = stripped(getenv("ASSETS_BOOT"))
  assert(select("#", chunk(overlay, nil)) == 0, "assets_boot.lua returns nothing")
  api = require("bundle/assets")
end

local uv = require("luv")
local lfs = require("lfs")

-- Printing: values quoted so that bytes and types show.
local buffer = {}
local function q(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub("[%c\"\\\128-\255]", function(c)
      if c == "\n" then return "\\n" end
      return ("\\%d"):format(c:byte())
    end) .. '"'
  elseif t == "number" then
    if v ~= v then return "nan" end
    return tostring(v)
  elseif t == "userdata" then
    local ft = io.type(v)
    if ft then return "<" .. ft .. ">" end
    return "<userdata>"
  elseif t == "table" then
    return "<table>"
  end
  return tostring(v)
end
local function show(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = q((select(i, ...))) end
  buffer[#buffer + 1] = table.concat(parts, " ")
end

local ctx = {
  show = show, q = q, uv = uv, lfs = lfs, api = api, fake = fake, abs = abs, cwd = cwd,
  counts = counts, root = root, numbers = data(abs).numbers,
}
local failures = 0
function ctx.expect(what, got, want)
  if got ~= want then
    failures = failures + 1
    show("FAIL " .. what, got, want)
  end
end

local cases = dofile(here .. "/cases.lua")[section]
local stdout = io.stdout
for _, case in ipairs(cases) do
  buffer = {}
  local ok, err = xpcall(function() case[2](ctx) end, debug.traceback)
  if not ok then show("ERROR", err) end
  uv.run() -- callbacks of the async cases
  local text = table.concat(buffer, "\n")
  -- What legitimately differs between the sides: where the files are.
  text = text:gsub((abs:gsub("%p", "%%%0")), "$ABS"):gsub((cwd:gsub("%p", "%%%0")), "$CWD")
  stdout:write("== ", case[1], "\n", text, "\n")
end
if section:match("^expect") then stdout:write(("expect: %d failure(s)\n"):format(failures)) end
