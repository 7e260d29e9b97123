-- A C module that compiles, and a main script that requires a module nobody provides: the
-- build fails after the C module's static archive was written for --emit-c.
package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
build = {
   type = "builtin",
   modules = { ["app.native"] = "csrc/native.c" },
   install = { bin = { app = "bin/app.lua" } },
}
