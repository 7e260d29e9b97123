-- Start-up logic shared by the Rust stub and the C file of `bundle --emit-c`.
-- Called once, before any user code, with the host's searcher for bundled modules.
local searcher = ...
-- Right after package.preload's searcher: preload overrides keep working, and the filesystem
-- searchers still serve whatever the bundle does not hold (Lua 5.1 manual, §5.3 `require`).
table.insert(package.loaders, 2, searcher)
