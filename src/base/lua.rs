//! Facts about Lua itself, shared by every stage and importing none: what a module name may
//! be, and which modules the runtime provides (Lua 5.1 manual §5.3; LuaJIT's extensions).

/// Modules the runtime itself provides, never looked up, never packed: the keys of
/// `package.loaded` and `package.preload` in a fresh LuaJIT state (checked by a test).
pub const BUILTIN_MODULES: &[&str] = &[
    "_G",
    "bit",
    "coroutine",
    "debug",
    "ffi",
    "io",
    "jit",
    "jit.opt",
    "jit.profile",
    "jit.util",
    "math",
    "os",
    "package",
    "string",
    "string.buffer",
    "table",
    "table.clear",
    "table.new",
];

/// Whether the runtime provides `name` itself (never looked up, never packed). LuaJIT's Lua-side
/// `jit.*` tools (`jit.v`, `jit.dump`, ...) are not built in: they are looked up like any module.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_MODULES.contains(&name)
}

/// A module name as `require` would receive it: non-empty dot-separated parts, none of them
/// empty, no path separators or characters that cannot appear in a file name template.
pub fn valid_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| !c.is_whitespace() && !matches!(c, '/' | '\\' | '?' | ';' | '\0'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_matches_a_fresh_luajit_state() {
        let lua = unsafe { mlua::Lua::unsafe_new() };
        let names: Vec<String> = lua
            .load("local t = {} for _, where in ipairs{package.loaded, package.preload} do for k in pairs(where) do t[#t+1] = k end end table.sort(t) return t")
            .eval()
            .unwrap();
        assert_eq!(names, BUILTIN_MODULES);
    }

    #[test]
    fn module_names() {
        for ok in ["a", "a.b", "socket.core", "lib_x.y-z", "ü"] {
            assert!(valid_module_name(ok), "{ok}");
        }
        for bad in ["", ".", "a.", ".a", "a..b", "a/b", "a b", "a?", "a;b"] {
            assert!(!valid_module_name(bad), "{bad:?}");
        }
    }
}
