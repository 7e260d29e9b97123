-- examples/hello: the smallest real program with a module, used by the README's quick start.
local greet = require("lib.greet")

local who = arg[1] or "world"
print(greet.hello(who))
print(("bundled with %s, %d argument(s)"):format(jit.version, select("#", ...)))
