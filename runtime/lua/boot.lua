-- Start-up logic shared by the Rust stub and the C file of `bundle --emit-c`.
-- Called once, before any user code, with the host's searcher for bundled modules and a
-- function telling whether the bundle holds any module whose name starts with a prefix.
local searcher, has_module_under = ...
-- Right after package.preload's searcher: preload overrides keep working, and the filesystem
-- searchers still serve whatever the bundle does not hold (Lua 5.1 manual, §5.3 `require`).
table.insert(package.loaders, 2, searcher)
-- Last: a searcher that finds nothing, but ends require's "module 'a.b.c' not found" message
-- with a hint when the bundle holds other modules under 'a.b' (a plugin the build left out).
local loaders, match = package.loaders, string.match
loaders[#loaders + 1] = function(name)
  local parent = type(name) == "string" and match(name, "^(.+)%.[^.]+$")
  if parent and has_module_under(parent .. ".") then
    return "\n\tbundle: this executable holds other modules under '" .. parent
      .. "'; rebuild with -m '" .. parent .. ".*' (or -m " .. name
      .. ", or --trace -- ARGS) to include '" .. name .. "'"
  end
end
