local g = require("greet.core")
print(g.hello(), g.hello("Lua"), g.twice(21), g.loud, g.file)
print(type(g.built), package.loaded["greet.core"] == g)
