-- examples/server: a small HTTP/1.1 server on luv (libuv), answering on $PORT.
--   GET /            text greeting
--   GET /json        a JSON document (lua-cjson)
--   GET /echo?x=...  the query string back, as JSON
--   anything else    404
-- Run:  PORT=8080 luajit main.lua      or, bundled:  bundle main.lua -o server && PORT=8080 ./server
local uv = require("luv")
local cjson = require("cjson")
local http = require("http")

local port = tonumber(os.getenv("PORT") or "8080")
local requests = 0

local routes = {
  ["/"] = function()
    return 200, "text/plain", "hello from a single binary\n"
  end,
  ["/json"] = function()
    return 200, "application/json", cjson.encode({ ok = true, requests = requests, server = "bundle-example" })
  end,
  ["/echo"] = function(query)
    return 200, "application/json", cjson.encode({ query = query or "" })
  end,
}

local function respond(client, status, ctype, body)
  local head = http.response_head(status, ctype, #body)
  -- A peer that reset the connection makes the write fail: that is its problem, not ours.
  client:write(head .. body, function()
    if not client:is_closing() then client:close() end
  end)
end

local server = uv.new_tcp()
assert(server:bind("0.0.0.0", port))
assert(server:listen(128, function(err)
  assert(not err, err)
  local client = uv.new_tcp()
  server:accept(client)
  local buffer = ""
  client:read_start(function(read_err, chunk)
    if read_err or not chunk then
      if not client:is_closing() then client:close() end
      return
    end
    buffer = buffer .. chunk
    local request = http.parse_request(buffer)
    if not request then return end -- incomplete: wait for more
    client:read_stop()
    requests = requests + 1
    local handler = routes[request.path]
    if request.method ~= "GET" then
      respond(client, 405, "text/plain", "method not allowed\n")
    elseif handler then
      respond(client, handler(request.query))
    else
      respond(client, 404, "text/plain", "not found\n")
    end
  end)
end))

-- Ignore SIGPIPE through libuv, so a client that resets cannot end the server under luajit
-- either (the bundle can also be built with --sigpipe ignore).
local sigpipe = uv.new_signal()
sigpipe:start("sigpipe", function() end)

io.stdout:write(("listening on port %d\n"):format(port))
io.stdout:flush()
uv.run()
