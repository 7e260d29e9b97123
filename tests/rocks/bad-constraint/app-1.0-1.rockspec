package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
dependencies = { "lua >= 5.1", "strutil >= 5.0" }
build = { type = "builtin", modules = {}, install = { bin = { app = "bin/app.lua" } } }
