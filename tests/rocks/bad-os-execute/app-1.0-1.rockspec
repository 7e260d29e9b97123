package = "app"
version = "1.0-1"
source = { url = "git+https://example.com/app.git" }
os.execute("touch pwned")
build = { type = "builtin", modules = {}, install = { bin = { app = "bin/app.lua" } } }
