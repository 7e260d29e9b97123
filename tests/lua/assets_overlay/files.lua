-- The data set of tests/assets_overlay.rs: what is embedded (and, for the disk side, copied to
-- disk), what only the disk holds, and what the development override replaces.
-- Returns a function of the absolute mount prefix.
return function(abs)
  local big = {}
  for i = 1, 3000 do
    big[#big + 1] = ("line %04d %s\n"):format(i, ("x"):rep(i % 50))
  end
  big[#big + 1] = ("y"):rep(70000) .. "\nlast line without newline"
  -- Larger than what assets.lua fetches whole (1 MiB): read by chunks.
  local huge = {}
  for i = 1, 40000 do
    huge[#huge + 1] = ("%05d %s\n"):format(i, ("z"):rep(i % 61))
  end
  local bin = {}
  for i = 0, 255 do bin[#bin + 1] = string.char(i) end
  local numbers = {
    "1e x", "0x zz", "- 5", ". 5", "1. x", ".5x", "inf x", "infinity!", "nan(12)x", "infin x",
    "  12  13", "0x1p4 ", "0x1.8p1x", "1e+5e", "--5", "+.e", "0x.p", "12345678901234567890123",
    "1e400", "-0", "0x", "1e-", "nAn", "0X1F", "\n\n42\n", "", "   ", "+7", "-inf", "1.5.5",
    "0xg", "00012", "-0x10", "1E2", "3e-2", "\t-.25e+1;",
  }
  local embedded = {
    { "hello.txt", "hello\nworld\n" },
    { "lines.txt", "one\ntwo\r\n\nthree" },
    { "nums.txt", "  12 -3.5e2 0x1F inf\n nan 1e x 0x zz 7" },
    { "bin.dat", table.concat(bin) .. table.concat(bin) },
    { "big.txt", table.concat(big) },
    { "huge.txt", table.concat(huge) },
    { "empty.txt", "" },
    { "shadow.txt", "embedded version\n" },
    { "public/index.html", "<h1>hi</h1>\n" },
    { "public/css/site.css", "body { color: red }\n" },
    { "public/js/app.js", "console.log(1)\n" },
    { "lua/mod.lua", "local a = ...\nreturn 'mod', a, 42\n" },
    { "lua/err.lua", "local function f()\n  error('boom')\nend\nf()\nreturn 1\n" },
    { "lua/level2.lua", "local function f()\n  error('up', 2)\nend\nf()\n" },
    { "lua/syntax.lua", "local x = 1\nx = = 2\n" },
    { "lua/env.lua", "return x, y\n" },
    { "lua/shebang.lua", "#!/usr/bin/env luajit\nreturn 'shebang', ...\n" },
    { "lua/bc.luac", string.dump(assert(loadstring("return 'bytecode', ...", "=bc"))) },
    { "bin/tool.sh", "#!/bin/sh\necho tool\n", 493 },
    { "config/app.conf", "name=app\n" },
    { abs .. "/etc/x.conf", "abs=1\n" },
    { abs .. "/etc/sub/y.conf", "y\n" },
  }
  for i, s in ipairs(numbers) do
    embedded[#embedded + 1] = { ("num/%02d.txt"):format(i), s }
  end
  return {
    embedded = embedded,
    -- On disk beside the assets, in both working directories.
    disk_only = {
      { "public/disk-only.txt", "disk only\n" },
      { "diskdir/a.txt", "a\n" },
    },
    -- On disk in the overlaid working directory only, where an asset shadows it.
    shadowed = { { "shadow.txt", "disk version\n" } },
    -- What BUNDLE_ASSETS_OVERRIDE holds in the override run.
    override = {
      { "config/app.conf", "name=override\n" },
      { "lua/mod.lua", "local a = ...\nreturn 'overridden', a\n" },
      { abs .. "/etc/x.conf", "abs=override\n" },
    },
    numbers = #numbers,
  }
end
