package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
build = { type = "scons", install = { bin = { app = "bin/app.lua" } } }
