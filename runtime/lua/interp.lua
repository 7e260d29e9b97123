-- The interpreter of an executable bundled with no main script: `luajit`'s command line
-- (luajit.c: collectargs, runargs, handle_luainit, handle_script, dotty), in Lua, shared by the
-- Rust stub and the C file of `bundle --emit-c`.
--
-- The host runs this chunk in a coroutine, with only the base and string libraries open, and
-- passes a table:
--   progname  string, or nil when argv[0] is empty (messages then have no prefix)
--   argv      the command line, argv[0] .. argv[argc - 1]
--   argc      number of arguments
--   isatty    whether stdin is a terminal
--   preloads  module names to require before the command-line options (`bundle -l`)
--   banner    (optional) the `-v` line: LUAJIT_VERSION " -- " LUAJIT_COPYRIGHT ". " LUAJIT_URL
--   hermetic  (optional) true for a hermetic executable: the environment is ignored as with -E
--             (LUA_INIT included); the host has already emptied the paths and searchers
-- It asks the host for what only C can do by yielding a request:
--   "openlibs", noenv        open the standard libraries (and the bundle's searcher), with
--                            LUA_NOENV set first when noenv is true, as luajit.c does for -E;
--   "docall", f, ...         call f(...) on the main thread under luajit.c's `docall` (traceback
--                            handler, SIGINT handling): the user's code sees exactly luajit's
--                            stack, none of this file's frames;
--   "pcall", f, ...          lua_pcall(f, ...) on the main thread, no message handler.
-- Both calls resume with (status, results... | error object). The chunk returns the exit status.
local host = ...
local yield = coroutine.yield
local sub, byte, find = string.sub, string.byte, string.find
local argv, argc = host.argv, host.argc

local LUA_OK, LUA_ERRSYNTAX = 0, 3

-- luajit.c's collectargs: the index of the script (or argc), or -1 for a usage error.
local FLAGS_INTERACTIVE, FLAGS_VERSION, FLAGS_EXEC, FLAGS_OPTION, FLAGS_NOENV = 1, 2, 4, 8, 16
local function collectargs()
  local flags = {}
  local i = 1
  while i < argc do
    local a = argv[i]
    if byte(a, 1) ~= 45 then return i, flags end -- not an option: the script
    local c, tail = sub(a, 2, 2), #a > 2
    if c == "-" then
      if tail then return -1 end
      return i + 1, flags
    elseif c == "" then
      return i, flags
    elseif c == "i" or c == "v" then
      if tail then return -1 end
      if c == "i" then flags[FLAGS_INTERACTIVE] = true end
      flags[FLAGS_VERSION] = true
    elseif c == "e" or c == "j" or c == "l" then
      if c == "e" then flags[FLAGS_EXEC] = true end
      flags[FLAGS_OPTION] = true
      if not tail then
        i = i + 1
        if i >= argc then return -1 end
      end
    elseif c == "O" then -- luajit: no flag
    elseif c == "b" then
      if next(flags) ~= nil then return -1 end -- -b must come first
      flags[FLAGS_EXEC] = true
      return i + 1, flags
    elseif c == "E" then
      flags[FLAGS_NOENV] = true
    else
      return -1
    end
    i = i + 1
  end
  return i, flags
end

local argn, flags = collectargs()
yield("openlibs", argn >= 0 and flags[FLAGS_NOENV] == true)

-- From here on every library is open; capture what the user's code could replace.
local globals = _G
local loaded = package.loaded
local loadstring, loadfile, unpack, type, tostring = loadstring, loadfile, unpack, type, tostring
local ipairs, rawget, select, match, getenv = ipairs, rawget, select, string.match, os.getenv
local stdin, stdout, stderr = io.stdin, io.stdout, io.stderr
local progname = host.progname

-- luajit.c's l_message and report: C strings, so a message ends at its first NUL.
local function l_message(msg)
  if progname then stderr:write(progname, ": ") end
  stderr:write((match(msg, "^[^%z]*")), "\n")
  stderr:flush()
end

local function tocstring(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  return nil
end

local function report(status, msg)
  if status ~= LUA_OK and msg ~= nil then
    l_message(tocstring(msg) or "(error object is not a string)")
  end
  return status
end

local function print_usage()
  stderr:write("usage: ", progname or "luajit", [[ [options]... [script [args]...].
Available options are:
  -e chunk  Execute string 'chunk'.
  -l name   Require library 'name'.
  -b ...    Save or list bytecode.
  -j cmd    Perform LuaJIT control command.
  -O[opt]   Control LuaJIT optimizations.
  -i        Enter interactive mode after executing 'script'.
  -v        Show version information.
  -E        Ignore environment variables.
  --        Stop handling options.
  -         Execute stdin and stop handling options.
]])
  stderr:flush()
end

if argn < 0 then
  print_usage()
  return 1
end

local function docall(f, ...) return yield("docall", f, ...) end
local function pcall_main(f, ...) return yield("pcall", f, ...) end

-- A load result as luajit.c sees it: status 0 and the function, or an error status and message.
local function loaded_status(f, err)
  if f then return LUA_OK, f end
  return LUA_ERRSYNTAX, err
end

local function dochunk(f, err)
  local status, msg = loaded_status(f, err)
  if status == LUA_OK then status, msg = docall(f) end
  return report(status, msg)
end

local function dostring(s, name) return dochunk(loadstring(s, name)) end
local function dofile(name) return dochunk(loadfile(name)) end

local function dolibrary(name) return report(docall(globals.require, name)) end

-- The bundler writes the stub's LuaJIT banner in here; a C host passes the one it was built with.
local BANNER = "@LUAJIT_BANNER@"

local function print_version()
  local banner = host.banner or BANNER
  if banner == "" then banner = loaded.jit.version end
  stdout:write(banner, "\n")
end

local function print_jit_status()
  local s = { loaded.jit.status() }
  stdout:write(s[1] and "JIT: ON" or "JIT: OFF")
  for i = 2, #s do
    local f = tocstring(s[i])
    if not f then break end
    stdout:write(" ", f)
  end
  stdout:write("\n")
end

-- arg: the script at index 0, its arguments after it, the interpreter and its options before.
local function createargtable()
  local t = {}
  for i = 0, argc - 1 do t[i - argn] = argv[i] end
  globals.arg = t
end

-- The REPL (luajit.c's dotty), with the prompts of _PROMPT and _PROMPT2 when they are strings.
local function write_prompt(firstline)
  local p = tocstring(globals[firstline and "_PROMPT" or "_PROMPT2"])
  stdout:write(p or (firstline and "> " or ">> "))
  stdout:flush()
end

local function pushline(firstline)
  write_prompt(firstline)
  local line = stdin:read("*l")
  if line == nil then return nil end
  line = match(line, "^[^%z]*")
  if firstline and byte(line, 1) == 61 then line = "return " .. sub(line, 2) end -- "=expr"
  return line
end

-- Whether a load failed only because the input ended too soon.
local function incomplete(status, msg)
  if status ~= LUA_ERRSYNTAX then return false end
  local at = find(msg, "'<eof>'", 1, true)
  return at ~= nil and at == #msg - 6
end

local function loadline()
  local line = pushline(true)
  if not line then return nil end
  while true do
    local status, f = loaded_status(loadstring(line, "=stdin"))
    if not incomplete(status, f) then return status, f end
    local more = pushline(false)
    if not more then return nil end
    line = line .. "\n" .. more
  end
end

local function pack(...) return { n = select("#", ...), ... } end

local function dotty()
  local saved = progname
  progname = nil
  while true do
    local status, f = loadline()
    if status == nil then break end
    if status ~= LUA_OK then
      report(status, f)
    else
      local r = pack(docall(f))
      if r[1] ~= LUA_OK then
        report(r[1], r[2])
      elseif r.n > 1 then -- results to print
        local st, err = pcall_main(globals.print, unpack(r, 2, r.n))
        if st ~= LUA_OK then
          l_message("error calling 'print' (" .. (tocstring(err) or "(null)") .. ")")
        end
      end
    end
  end
  stdout:write("\n")
  stdout:flush()
  progname = saved
end

local function handle_script()
  local fname = argv[argn]
  if fname == "-" and argv[argn - 1] ~= "--" then fname = nil end -- stdin
  local status, f = loaded_status(loadfile(fname))
  if status == LUA_OK then
    -- The arguments as they are now in arg: LUA_INIT or -e may have changed them.
    local a, n = globals.arg, 0
    local args = {}
    if type(a) == "table" then
      while true do
        local v = rawget(a, n + 1)
        if v == nil then break end
        n = n + 1
        args[n] = v
      end
    end
    status, f = docall(f, unpack(args, 1, n))
  end
  return report(status, f)
end

-- -j and -O: LuaJIT control commands, from the jit library or a jit.* module.
local function loadjitmodule(name)
  local st, mod = pcall_main(globals.require, "jit." .. name)
  if st ~= LUA_OK then
    local msg = tocstring(mod)
    if not (msg and sub(msg, 1, 7) == "module ") then return nil, report(1, mod) end
  else
    local start = mod.start
    if start ~= nil then return start end
  end
  l_message("unknown luaJIT command or jit.* modules not installed")
  return nil, 1
end

local function runcmdopt(f, opt)
  local args, n = {}, 0
  if opt and opt ~= "" then
    local from = 1
    while true do
      local comma = find(opt, ",", from, true)
      local piece = sub(opt, from, (comma or 0) - 1)
      n = n + 1
      if piece ~= "" then args[n] = piece end
      if not comma then break end
      from = comma + 1
    end
  end
  return report(pcall_main(f, unpack(args, 1, n)))
end

local function dojitcmd(cmd)
  local eq = find(cmd, "=", 1, true)
  local name = eq and sub(cmd, 1, eq - 1) or cmd
  local f = loaded.jit[name]
  if type(f) ~= "function" then
    local err
    f, err = loadjitmodule(name)
    if not f then return err end
  end
  return runcmdopt(f, eq and sub(cmd, eq + 1) or nil)
end

local function dojitopt(opt) return runcmdopt(loaded["jit.opt"].start, opt) end

local function dobytecode(i)
  local start, err = loadjitmodule("bcsave")
  if not start then return err end
  local args, n = {}, 0
  if #argv[i] > 2 then n = 1; args[1] = "-" .. sub(argv[i], 3) end
  for j = i + 1, argc - 1 do n = n + 1; args[n] = argv[j] end
  report(pcall_main(start, unpack(args, 1, n)))
  return -1
end

local function runargs()
  local i = 1
  while i < argn do
    local a = argv[i]
    local c, rest = sub(a, 2, 2), sub(a, 3)
    if c == "e" or c == "l" or c == "j" then
      if rest == "" then i = i + 1; rest = argv[i] end
      local status
      if c == "e" then
        status = dostring(rest, "=(command line)")
      elseif c == "l" then
        status = dolibrary(rest)
      else
        status = dojitcmd(rest)
      end
      if status ~= LUA_OK then return 1 end
    elseif c == "O" then
      if dojitopt(rest) ~= LUA_OK then return 1 end
    elseif c == "b" then
      return dobytecode(i)
    end
    i = i + 1
  end
  return LUA_OK
end

-- luajit.c's pmain, from createargtable on; the bundle's preloads run as if they were the first
-- -l options.
local function main()
  createargtable()
  if not flags[FLAGS_NOENV] and not host.hermetic then
    local init = getenv("LUA_INIT")
    if init ~= nil then
      local status
      if byte(init, 1) == 64 then status = dofile(sub(init, 2)) else status = dostring(init, "=LUA_INIT") end
      if status ~= LUA_OK then return status end
    end
  end
  if flags[FLAGS_VERSION] then print_version() end
  for _, name in ipairs(host.preloads) do
    if dolibrary(name) ~= LUA_OK then return 1 end
  end
  local status = runargs()
  if status ~= LUA_OK then return status end
  if argc > argn then
    status = handle_script()
    if status ~= LUA_OK then return status end
  end
  if flags[FLAGS_INTERACTIVE] then
    print_jit_status()
    dotty()
  elseif argc == argn and not (flags[FLAGS_EXEC] or flags[FLAGS_VERSION]) then
    if host.isatty then
      print_version()
      print_jit_status()
      dotty()
    else
      dofile(nil) -- stdin as a script; luajit.c exits with 0 whatever it does
    end
  end
  return LUA_OK
end

local status = main()
return (status ~= nil and status > 0) and 1 or 0
