-- A rock its own Makefile builds (it generates its module) and installs.
package = "lpegish"
version = "0.9-1"
source = {
   url = "file://@DIST@/lpegish-0.9.tar.gz",
   dir = "lpegish-0.9",
}
description = { summary = "Built by make", license = "MIT" }
dependencies = { "lua >= 5.1" }
build = {
   type = "make",
   build_variables = { CFLAGS = "$(CFLAGS)" },
   install_variables = { LUADIR = "$(LUADIR)" },
}
