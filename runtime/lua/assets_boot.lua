-- The asset overlay's first stage (issue 19: start-up of a program with assets within 2% of the
-- same program without them). This is the chunk the host runs at start-up, only when the
-- program carries assets, after the standard libraries and the bundle's searcher are installed
-- and before any user code (the -l preloads included). It receives `overlay`, a function of
-- the host that returns the overlay chunk (runtime/lua/assets.lua, ~1,400 lines, stored
-- beside this one), loaded, and `raw`, the primitives it takes; and `trace`, which prints a
-- BUNDLE_TRACE=startup line (nil when tracing is off). The overlay is loaded and run only when
-- the program first needs it: its load and run cost a hello ~550,000 instructions, which a
-- program that never reads a file should not pay. What runs here is kept small for the same
-- reason (each closure, table and constant is paid for at every start, and again at lua_close).
--
-- What is installed here, in the place of each function the overlay replaces (io.open,
-- io.lines, io.type, io.close, loadfile, dofile, package.preload["bundle/assets"], each
-- package.loaders entry), is a stub that loads the overlay on its first call and then
-- tail-calls the overlay's function with the arguments as given. So the functions the program
-- sees are the same from start to end (a program that saves `local open = io.open` before it
-- reads anything sees embedded files through it), and since a tail call leaves no frame in
-- LuaJIT, the overlay's function runs in the stub's frame: error messages (the name the caller
-- used, the caller's position) and tracebacks are those the overlay gives when called
-- directly. A searcher's stub loads the overlay only for names it has something to do with:
-- the Lua-file searcher (assets along package.path) for every name, the others for luv, uv and
-- lfs, which the overlay patches when they load; every other name goes to the original
-- searcher as before.
--
-- The originals are captured here, at start-up, and handed to the overlay when it loads: what
-- it wraps is what the program started with, whatever the program did to io, loadfile, dofile
-- or package.loaders before its first use of a file.
local overlay, trace = ...

local type = type
local io, package = io, package
local open, lines, iotype, close = io.open, io.lines, io.type, io.close
local o_loadfile, o_dofile = loadfile, dofile
local loaders = package.loaders
local n = type(loaders) == "table" and #loaders or 0
local searchers = {}
for i = 1, n do searchers[i] = loaders[i] end

local impl
local function full()
  if not impl then
    local chunk, raw = overlay()
    impl = chunk({
      raw = raw, io = io, package = package, open = open, lines = lines, type = iotype,
      close = close, loadfile = o_loadfile, dofile = o_dofile, searchers = searchers,
    })
    if trace then trace("asset overlay loaded (first use of a file)") end
  end
  return impl
end

local function stub(name) return function(...) return (impl or full())[name](...) end end
io.open, io.lines, io.type, io.close = stub("open"), stub("lines"), stub("type"), stub("close")
loadfile, dofile = stub("loadfile"), stub("dofile")
package.preload["bundle/assets"] = stub("preload")

-- The Lua-file searcher (the third from the end, as the overlay finds it) looks for every name
-- among the assets along package.path (with an empty path, as in hermetic mode, it has none to
-- look at and goes straight to the original); the others go to the overlay for the names whose
-- loaders it wraps (its `patchers`: luv, uv, lfs).
local at = n >= 3 and n - 2
for i = 1, n do
  local original = searchers[i]
  loaders[i] = function(name, ...)
    if (i == at and package.path ~= "") or name == "luv" or name == "uv" or name == "lfs" then
      return (impl or full()).searchers[i](name, ...)
    end
    return original(name, ...)
  end
end

-- luv or lfs loaded before any user code (by the host) is patched now, as the overlay did when
-- it ran at start-up; later, only through the searchers above.
local loaded = package.loaded
if loaded.luv or loaded.uv or loaded.lfs then
  for _, name in ipairs({ "luv", "uv", "lfs" }) do
    local m = loaded[name]
    if type(m) == "table" then (impl or full()).patchers[name](m) end
  end
end
