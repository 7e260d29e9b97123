--- Greetings for everyone.
-- @module greet
local M = {}

--- Say hello.
-- Uses *markdown* and `code`, like @{string.format}.
-- @string name who to greet
-- @treturn string the greeting
-- @see lfs.attributes
function M.hello(name)
  return "hello, " .. name
end

--- Say goodbye.
-- @tparam string name who is leaving
-- @tparam[opt=false] boolean loud shout it
-- @treturn string the farewell
function M.bye(name, loud)
  local s = "bye, " .. name
  return loud and s:upper() or s
end

return M
