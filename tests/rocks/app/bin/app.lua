local core = require "app.core"
local fast = require "app.fast"
local strutil = require "strutil"
local cgreet = require "cgreet"
local lpegish = require "lpegish"

print(core.banner(strutil.upper("app")), strutil.version)
print(cgreet.greet(arg[1] or "world"), cgreet.platform)
print("lpegish", lpegish.built_by, lpegish.version)
print("fast", fast.answer(), fast.platform)
print("words", #strutil.words("a b  c"), select("#", ...))
io.stderr:write("app: to stderr\n")
if arg[1] == "fail" then
  error("failing on purpose")
end
os.exit(tonumber(arg[2]) or 0)
