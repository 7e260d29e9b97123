-- A lua-http server and client in one cqueues loop, on a loopback port chosen by the kernel.
local cqueues = require "cqueues"
local http_server = require "http.server"
local http_headers = require "http.headers"
local http_request = require "http.request"
local digest = require "openssl.digest"

local function hex(s)
  return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

local server = assert(http_server.listen {
  host = "127.0.0.1",
  port = 0,
  onstream = function(_, stream)
    local req = stream:get_headers()
    local body = "you asked for " .. req:get(":path") .. "\n"
    local res = http_headers.new()
    res:append(":status", "200")
    res:append("content-type", "text/plain")
    res:append("x-sha256", hex(digest.new("sha256"):final(body)))
    assert(stream:write_headers(res, false))
    assert(stream:write_chunk(body, true))
  end,
})
assert(server:listen())
local _, host, port = server:localname()

local cq = cqueues.new()
cq:wrap(function() assert(server:loop()) end)
cq:wrap(function()
  for _, path in ipairs { "/hello", "/bundle?x=1" } do
    local req = http_request.new_from_uri(string.format("http://%s:%d%s", host, port, path))
    local headers, stream = assert(req:go(10))
    print(headers:get(":status"), headers:get("content-type"), headers:get("x-sha256"))
    io.write(assert(stream:get_body_as_string()))
    stream:shutdown()
  end
  server:close()
end)
assert(cq:loop())

-- The libraries' modules this run loaded: a module missing from the bundle would otherwise go
-- unnoticed where a `pcall(require, ...)` fallback takes over (compat53 does that).
local loaded = {}
for name in pairs(package.loaded) do
  for _, lib in ipairs { "http", "cqueues", "_cqueues", "openssl", "_openssl", "compat53" } do
    if name == lib or name:sub(1, #lib + 1) == lib .. "." then
      loaded[#loaded + 1] = name
    end
  end
end
table.sort(loaded)
print(table.concat(loaded, " "))
print("done")
