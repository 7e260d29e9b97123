-- A pure-Lua rock. @DIST@ is replaced by the test with the directory of the source archives.
package = "strutil"
version = "1.2.0-1"
source = {
   url = "file://@DIST@/strutil-1.2.0.tar.gz",
   dir = "strutil-1.2.0",
}
description = { summary = "String helpers", license = "MIT" }
dependencies = { "lua >= 5.1" }
build = {
   type = "builtin",
   modules = { strutil = "src/strutil.lua" },
}
