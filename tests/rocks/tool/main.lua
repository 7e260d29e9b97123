-- A program with no rockspec: `bundle rockspec main.lua` writes one.
local util = require "lib.util"
local strutil = require "strutil"
local cgreet = require "cgreet"
local lpegish = require "lpegish"

print(util.twice(strutil.upper("tool")))
print(cgreet.greet("tool"), cgreet.platform, lpegish.built_by)
