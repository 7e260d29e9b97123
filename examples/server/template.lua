-- Templates for the example server: `{{name}}` in a file becomes the value of vars.name,
-- HTML-escaped. The file is read at each render, so that with BUNDLE_ASSETS_OVERRIDE an edited
-- template shows at the next request, bundled or not.
local M = {}

local escapes = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

function M.escape(s)
  return (tostring(s):gsub("[&<>\"']", escapes))
end

--- The template at `path` rendered with `vars`; nil and a message when it cannot be read.
function M.render(path, vars)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return (text:gsub("{{(%w+)}}", function(name) return M.escape(vars[name] or "") end))
end

return M
