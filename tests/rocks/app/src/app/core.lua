local M = {}

function M.banner(s)
  return "== " .. s .. " =="
end

return M
