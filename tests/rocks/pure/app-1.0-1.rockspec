-- No C module: bundle needs no C compiler for it.
package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
dependencies = { "lua >= 5.1", "strutil ~> 1.2" }
build = { type = "builtin", modules = {}, install = { bin = { app = "bin/app.lua" } } }
