local M = { version = "1.2.0" }

function M.upper(s)
  return (s:upper())
end

function M.words(s)
  local out = {}
  for w in s:gmatch("%S+") do out[#out + 1] = w end
  return out
end

return M
