package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
build = {
   type = "builtin"
   modules = { app = "bin/app.lua" },
}
