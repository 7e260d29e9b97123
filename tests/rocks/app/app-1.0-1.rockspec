-- The app: its own Lua module, its own C module (a define, an include directory, a Linux
-- override), its main script as build.install.bin, and the three rocks of the server.
rockspec_format = "3.0"
package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
description = { summary = "The app of tests/rockspec_e2e.rs", license = "MIT" }
dependencies = {
   "lua >= 5.1",
   "strutil ~> 1.2",
   "cgreet >= 1.0, < 2.0",
   "lpegish == 0.9",
}
build = {
   type = "builtin",
   modules = {
      ["app.core"] = "src/app/core.lua",
      ["app.fast"] = {
         sources = { "csrc/fast.c" },
         defines = { "FAST_BASE=40" },
         incdirs = { "csrc/include" },
      },
   },
   platforms = {
      linux = { modules = { ["app.fast"] = { defines = { [2] = "FAST_LINUX" } } } },
   },
   install = { bin = { app = "bin/app.lua" } },
}
