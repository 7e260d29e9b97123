-- examples/server: a small HTTP/1.1 server on luv (libuv), answering on $PORT.
--   GET /                text greeting
--   GET /json            a JSON document (lua-cjson)
--   GET /echo?x=...      the query string back, as JSON
--   GET /index.html      public/index.html
--   GET /static/NAME     public/NAME (style.css, logo.png), read with luv's uv.fs_* calls
--   GET /hello?name=...  templates/hello.html rendered (read with io.open at each request)
--   anything else        404
-- Run from this directory:  PORT=8080 luajit main.lua
-- Bundled with its files:   bundle main.lua -o server --asset public --asset templates
--                           PORT=8080 ./server   (from any directory: the files are inside)
local uv = require("luv")
local cjson = require("cjson")
local http = require("http")
local template = require("template")

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
  ["/hello"] = function(query)
    local vars = { name = http.param(query, "name") or "world", requests = requests }
    local page = template.render("templates/hello.html", vars)
    if not page then return 500, "text/plain", "no template\n" end
    return 200, "text/html; charset=utf-8", page
  end,
}

local types = { html = "text/html; charset=utf-8", css = "text/css", png = "image/png" }

local function respond(client, status, ctype, body)
  local head = http.response_head(status, ctype, #body)
  -- A peer that reset the connection makes the write fail: that is its problem, not ours.
  client:write(head .. body, function()
    if not client:is_closing() then client:close() end
  end)
end

-- public/NAME, read asynchronously with luv (open, fstat, read, close), then answered.
local function serve_static(client, name)
  if name == "" or name:find("..", 1, true) or name:find("^/") then
    return respond(client, 404, "text/plain", "not found\n")
  end
  uv.fs_open("public/" .. name, "r", 0, function(open_err, fd)
    if open_err then return respond(client, 404, "text/plain", "not found\n") end
    uv.fs_fstat(fd, function(stat_err, stat)
      if stat_err or stat.type ~= "file" then
        uv.fs_close(fd)
        return respond(client, 404, "text/plain", "not found\n")
      end
      uv.fs_read(fd, stat.size, 0, function(read_err, data)
        uv.fs_close(fd)
        if read_err then return respond(client, 500, "text/plain", "cannot read\n") end
        respond(client, 200, types[name:match("%.(%w+)$")] or "application/octet-stream", data)
      end)
    end)
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
    elseif request.path == "/index.html" then
      serve_static(client, "index.html")
    elseif request.path:sub(1, 8) == "/static/" then
      serve_static(client, request.path:sub(9))
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
