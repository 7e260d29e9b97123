local M = {}

function M.hello(who)
  return ("Hello, %s!"):format(who)
end

return M
