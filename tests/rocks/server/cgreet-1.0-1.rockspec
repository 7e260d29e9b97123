-- A builtin C rock: a define, an include directory, and a Linux override of the defines
-- (lists merge by index: the second define is added on Linux).
package = "cgreet"
version = "1.0-1"
source = {
   url = "file://@DIST@/cgreet-1.0.tar.gz",
   dir = "cgreet-1.0",
}
description = { summary = "Greetings in C", license = "MIT" }
dependencies = { "lua >= 5.1" }
build = {
   type = "builtin",
   modules = {
      cgreet = {
         sources = { "csrc/cgreet.c" },
         defines = { "CGREET_GREETING=\"hello\"" },
         incdirs = { "csrc/include" },
      },
   },
   platforms = {
      linux = { modules = { cgreet = { defines = { [2] = "CGREET_LINUX" } } } },
      windows = { modules = { cgreet = { defines = { [2] = "CGREET_WINDOWS" } } } },
   },
}
