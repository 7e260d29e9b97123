package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
build = {
   type = "builtin",
   modules = { ["app.native"] = { sources = { "csrc/native.c" }, defines = { "ANSWER=42" } } },
   install = { bin = { app = "bin/app.lua" } },
}
