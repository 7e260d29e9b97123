-- Minimal HTTP/1.1 request parsing and response heads for the example server.
local M = {}

local reasons = {
  [200] = "OK", [404] = "Not Found", [405] = "Method Not Allowed", [500] = "Internal Server Error",
}

--- Parses the request line and headers; nil while the head is incomplete.
function M.parse_request(data)
  local head_end = data:find("\r\n\r\n", 1, true)
  if not head_end then return nil end
  local method, target = data:match("^(%u+) (%S+) HTTP/1%.[01]\r\n")
  if not method then return { method = "BAD", path = "" } end
  local path, query = target:match("^([^?]*)%??(.*)$")
  return { method = method, path = path, query = query ~= "" and query or nil }
end

local function unescape(s)
  s = s:gsub("%+", " ")
  return (s:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end))
end

--- The value of parameter `name` in a query string ("a=1&name=x%20y"), decoded; or nil.
function M.param(query, name)
  for key, value in (query or ""):gmatch("([^&=]+)=([^&]*)") do
    if unescape(key) == name then return unescape(value) end
  end
  return nil
end

function M.response_head(status, ctype, length)
  return ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n")
    :format(status, reasons[status] or "Unknown", ctype, length)
end

return M
