-- The recorder of `bundle --trace`, run as the first preload of the executable that a traced
-- build runs (never shipped). A template: src/graph/trace.rs replaces the values mark below with the
-- log file's path and the build's Lua and C search paths, as Lua string literals.
--
-- It records, one tab-separated line each, flushed at once so that an os.exit or a crash keeps
-- what came before:
--   module <TAB> NAME <TAB> lua|c <TAB> FILE   a module a filesystem searcher loaded
--   file <TAB> PATH                            a file read through io.open/io.lines/loadfile/dofile
-- Modules the bundle serves are not recorded: its searcher comes before the filesystem's.
local LOG, LUA_PATH, C_PATH = @VALUES@

local open, type, find, concat = io.open, type, string.find, table.concat
local log = assert(open(LOG, "a"))
local function note(...)
  local line = concat({ ... }, "\t")
  -- A path with a newline would break the log's lines: skip it.
  if not find(line, "\n", 1, true) then
    log:write(line, "\n")
    log:flush()
  end
end

-- The build's search path, so that the traced run finds what the build would.
package.path, package.cpath = LUA_PATH, C_PATH

-- package.loaders: 1 preload, 2 the bundle, 3 Lua files, 4 C libraries, 5 all-in-one C roots.
local loaders = package.loaders
for i = 3, #loaders do
  local search, kind = loaders[i], i == 3 and "lua" or "c"
  loaders[i] = function(name, ...)
    local found = search(name, ...)
    if type(found) == "function" and type(name) == "string" then
      local where = kind == "lua" and package.searchpath(name, package.path)
        or package.searchpath(name, package.cpath)
        or package.searchpath((name:match("^[^.]+")), package.cpath)
      note("module", name, kind, where or "")
    end
    return found
  end
end

local function reads(mode)
  return mode == nil or (type(mode) == "string" and mode:sub(1, 1) == "r")
end

io.open = function(path, mode, ...)
  local f, err, code = open(path, mode, ...)
  if f and type(path) == "string" and reads(mode) then
    note("file", path)
  end
  return f, err, code
end

local lines, loadfile_, dofile_ = io.lines, loadfile, dofile
io.lines = function(path, ...)
  if type(path) == "string" then
    note("file", path)
  end
  return lines(path, ...)
end
loadfile = function(path, ...)
  if type(path) == "string" then
    note("file", path)
  end
  return loadfile_(path, ...)
end
dofile = function(path, ...)
  if type(path) == "string" then
    note("file", path)
  end
  return dofile_(path, ...)
end
