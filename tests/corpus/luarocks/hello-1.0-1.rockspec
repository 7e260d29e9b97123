package = "hello"
version = "1.0-1"
source = { url = "." }
description = { summary = "A greeting.", license = "MIT" }
dependencies = { "lua >= 5.1" }
build = {
  type = "builtin",
  modules = { hello = "src/hello.lua" },
}
