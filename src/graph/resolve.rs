//! Module name → file, with exactly the semantics of `package.searchpath` (Lua 5.1 manual §5.3,
//! LuaJIT's lib_package.c): dots become directory separators, the templates of a path are tried
//! in order, every `?` replaced, and the first file that can be opened wins. Lua files are looked
//! up on the Lua path, then C modules on the C path, then (for `a.b`) the C path's all-in-one
//! library `a` — the order of `package.loaders`.
//!
//! The search path, in order: the main script's directory (`?.lua`, `?/init.lua`); each `-I DIR`
//! (`DIR/?.lua;DIR/?/init.lua`, and `DIR/?.so` for C); `LUA_PATH`, else `LUA_PATH_5_1` (and the
//! `CPATH` pair) with `;;` expanded to LuaJIT's default path — the default path itself when the
//! variable is unset, as for luajit; each `--tree DIR`, a LuaRocks tree (`DIR/share/lua/5.1`,
//! `DIR/lib/lua/5.1`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The default Lua path: LuaJIT 2.1's `LUA_PATH_DEFAULT` (luaconf.h) followed by the
/// distribution's Lua directory, as Debian's and Ubuntu's `luajit` have it. Used when
/// `LUA_PATH` is unset, and for `;;` in it.
pub const LUAJIT_DEFAULT_PATH: &str = "./?.lua;/usr/local/share/luajit-2.1/?.lua;/usr/local/share/lua/5.1/?.lua;/usr/local/share/lua/5.1/?/init.lua;/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua";

/// The default C path: LuaJIT's `LUA_CPATH_DEFAULT` with the distribution's directory for
/// `multiarch` (the target's tuple, see `Target`) before `loadall.so`, as Debian's `luajit` has
/// it (the stub is built with the same default, see build.rs).
pub fn luajit_default_cpath(multiarch: &str) -> String {
    let multiarch = match multiarch {
        "" => String::new(),
        m => format!("/usr/lib/{m}/lua/5.1/?.so;"),
    };
    format!("./?.so;/usr/local/lib/lua/5.1/?.so;{multiarch}/usr/lib/lua/5.1/?.so;/usr/local/lib/lua/5.1/loadall.so")
}

/// One search-path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The template as `luajit` would use it, e.g. `./?.lua` or `/usr/share/lua/5.1/?.lua`;
    /// expanding it gives the file name luajit would report (and the chunk name). Bytes, as
    /// file names are: a directory whose name is not UTF-8 is searched all the same.
    pub text: Vec<u8>,
    /// Directory that a relative `text` is relative to; `None` for the current directory.
    pub base: Option<PathBuf>,
}

/// Bytes as a path (Unix file names are bytes).
pub fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// A file name's bytes, for messages.
pub fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

impl Template {
    fn new(text: impl Into<Vec<u8>>, base: Option<&Path>) -> Self {
        Template { text: text.into(), base: base.map(Path::to_path_buf) }
    }

    /// The file name for `name` (dots already replaced): as shown, and as opened.
    pub fn expand(&self, name_path: &str) -> (Vec<u8>, PathBuf) {
        let mut shown = Vec::with_capacity(self.text.len() + name_path.len());
        for &b in &self.text {
            if b == b'?' {
                shown.extend_from_slice(name_path.as_bytes());
            } else {
                shown.push(b);
            }
        }
        let fs = match &self.base {
            Some(base) if path_of(&shown).is_relative() => base.join(path_of(&shown)),
            _ => path_of(&shown).to_path_buf(),
        };
        (shown, fs)
    }
}

/// Where a module was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A Lua file: the name luajit would show for it, and its path.
    Lua { shown: Vec<u8>, path: PathBuf },
    /// A C module (shared library) on the C path.
    C { shown: Vec<u8>, path: PathBuf },
}

/// The module was not found: every file name tried, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    pub tried: Vec<String>,
}

/// The Lua and C search paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPath {
    pub lua: Vec<Template>,
    pub c: Vec<Template>,
}

/// What the search path is made of.
#[derive(Debug, Clone, Default)]
pub struct SearchConfig {
    /// Directory of the main script.
    pub root: PathBuf,
    pub includes: Vec<PathBuf>,
    pub trees: Vec<PathBuf>,
    /// `LUA_PATH` (or, unset, `LUA_PATH_5_1`), if set, as bytes.
    pub env_path: Option<Vec<u8>>,
    /// `LUA_CPATH` (or, unset, `LUA_CPATH_5_1`), if set, as bytes.
    pub env_cpath: Option<Vec<u8>>,
}

impl SearchConfig {
    /// Reads the path variables from the environment.
    pub fn with_env(mut self) -> Self {
        // LuaJIT reads only LUA_PATH/LUA_CPATH; the `_5_1` names (which LuaRocks may set) are
        // used only when the plain ones are unset, so that a set LUA_PATH means what it means
        // to luajit.
        let var = |a: &str, b: &str| {
            std::env::var_os(a).or_else(|| std::env::var_os(b)).map(|v| v.as_bytes().to_vec())
        };
        self.env_path = var("LUA_PATH", "LUA_PATH_5_1");
        self.env_cpath = var("LUA_CPATH", "LUA_CPATH_5_1");
        self
    }
}

/// Splits a `;`-separated path into templates, `;;` expanded to `default` (LuaJIT's setpath);
/// empty entries are skipped as lib_package.c's pushnexttemplate does.
fn split_env(path: &[u8], default: &str) -> Vec<Template> {
    let mut expanded = Vec::with_capacity(path.len() + default.len() + 2);
    let mut i = 0;
    while i < path.len() {
        if path[i..].starts_with(b";;") {
            expanded.push(b';');
            expanded.extend_from_slice(default.as_bytes());
            expanded.push(b';');
            i += 2;
        } else {
            expanded.push(path[i]);
            i += 1;
        }
    }
    expanded
        .split(|&b| b == b';')
        .filter(|t| !t.is_empty())
        .map(|t| Template::new(t, None))
        .collect()
}

/// A directory's bytes, without a trailing `/`, followed by `tail`.
fn dir_template(dir: &Path, tail: &str) -> Vec<u8> {
    let mut t = dir.as_os_str().as_bytes().to_vec();
    if t.len() > 1 && t.ends_with(b"/") {
        t.pop();
    }
    t.extend_from_slice(tail.as_bytes());
    t
}

impl SearchPath {
    /// The search path of `cfg` for a target of multiarch tuple `multiarch`.
    pub fn new(cfg: &SearchConfig, multiarch: &str) -> Self {
        let mut sp = SearchPath::default();
        let root = Some(cfg.root.as_path());
        sp.lua.push(Template::new("./?.lua", root));
        sp.lua.push(Template::new("./?/init.lua", root));
        for dir in &cfg.includes {
            sp.lua.push(Template::new(dir_template(dir, "/?.lua"), None));
            sp.lua.push(Template::new(dir_template(dir, "/?/init.lua"), None));
            sp.c.push(Template::new(dir_template(dir, "/?.so"), None));
        }
        // Unset, the variables mean the default path, as for luajit.
        let path = cfg.env_path.clone().unwrap_or_else(|| LUAJIT_DEFAULT_PATH.into());
        sp.lua.extend(split_env(&path, LUAJIT_DEFAULT_PATH));
        let default_cpath = luajit_default_cpath(multiarch);
        let cpath = cfg.env_cpath.clone().unwrap_or_else(|| default_cpath.clone().into_bytes());
        sp.c.extend(split_env(&cpath, &default_cpath));
        for tree in &cfg.trees {
            sp.lua.push(Template::new(dir_template(tree, "/share/lua/5.1/?.lua"), None));
            sp.lua.push(Template::new(dir_template(tree, "/share/lua/5.1/?/init.lua"), None));
            sp.c.push(Template::new(dir_template(tree, "/lib/lua/5.1/?.so"), None));
        }
        sp
    }

    /// Finds `name` as `require` would, trying the Lua path, the C path, then the C path's
    /// all-in-one library for the first component of a dotted name.
    pub fn resolve(&self, name: &str) -> Result<Found, NotFound> {
        let name_path = name.replace('.', "/");
        let mut tried = Vec::new();
        if let Some((shown, path)) = search(&self.lua, &name_path, &mut tried) {
            return Ok(Found::Lua { shown, path });
        }
        if let Some((shown, path)) = search(&self.c, &name_path, &mut tried) {
            return Ok(Found::C { shown, path });
        }
        if let Some((root, _)) = name.split_once('.') {
            if let Some((shown, path)) = search(&self.c, root, &mut tried) {
                return Ok(Found::C { shown, path });
            }
        }
        Err(NotFound { tried })
    }

    /// Every module under `prefix` (`prefix.*`): files below `prefix/` in any Lua template's
    /// directory, as module names, sorted and deduplicated.
    pub fn modules_under(&self, prefix: &str) -> Vec<String> {
        let prefix_path = prefix.replace('.', "/");
        let mut names = Vec::new();
        for t in &self.lua {
            let Some(q) = t.text.iter().position(|&b| b == b'?') else { continue };
            let (before, after) = (&t.text[..q], &t.text[q + 1..]);
            // The part after `?` names the file (`.lua`, `/init.lua`): it must be text.
            let Ok(after) = std::str::from_utf8(after) else { continue };
            if after.contains('?') {
                continue;
            }
            let mut text = before.to_vec();
            text.extend_from_slice(prefix_path.as_bytes());
            let (_, dir) = Template { text, base: t.base.clone() }.expand("");
            walk(&dir, &mut |file: &Path| {
                let Ok(rel) = file.strip_prefix(&dir) else { return };
                let rel = rel.to_string_lossy();
                // `?/init.lua`: the file must be `init.lua` itself or end in `/init.lua`.
                let stem = match after.strip_prefix('/') {
                    Some(file) if rel == file => Some(""),
                    Some(_) => rel.strip_suffix(after),
                    None => rel.strip_suffix(after),
                };
                let Some(stem) = stem else { return };
                if stem.is_empty() {
                    return;
                }
                // `x/init.lua` seen through `?.lua` is the package `x`, found via `?/init.lua`;
                // but where `x.lua` exists, `x` is that file, and `x/init.lua` is only reachable
                // as the module `x.init` (LuaRocks' `luarocks.cmd.init`).
                if after == ".lua" && (stem == "init" || stem.ends_with("/init")) {
                    let package = stem.strip_suffix("init").unwrap_or("").trim_end_matches('/');
                    let sibling = if package.is_empty() {
                        dir.with_extension("lua")
                    } else {
                        dir.join(format!("{package}.lua"))
                    };
                    if !sibling.is_file() {
                        return;
                    }
                }
                let name = format!("{prefix}.{}", stem.replace('/', "."));
                if crate::base::lua::valid_module_name(&name) {
                    names.push(name);
                }
            });
        }
        names.sort();
        names.dedup();
        names
    }
}

fn search(
    templates: &[Template],
    name_path: &str,
    tried: &mut Vec<String>,
) -> Option<(Vec<u8>, PathBuf)> {
    for t in templates {
        let (shown, path) = t.expand(name_path);
        // lib_package.c's readable(): fopen(name, "r") succeeds. On Linux that includes
        // directories, which the graph stage then reports.
        if std::fs::File::open(&path).is_ok() {
            return Some((shown, path));
        }
        tried.push(lossy(&shown).into_owned());
    }
    None
}

/// Calls `f` for every file below `dir`, in sorted order. Symlinked directories are followed,
/// each directory at most once (by device and inode), so a link loop ends.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    walk_once(dir, f, &mut std::collections::HashSet::new());
}

fn walk_once(
    dir: &Path,
    f: &mut dyn FnMut(&Path),
    seen: &mut std::collections::HashSet<(u64, u64)>,
) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else { return };
    if !seen.insert((meta.dev(), meta.ino())) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk_once(&p, f, seen);
        } else {
            f(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "app/a.lua",
            "app/pkg/init.lua",
            "app/pkg/x.lua",
            "app/pkg/myinit.lua",
            "app/pkg/sub/y.lua",
            "vendor/a.lua",
            "vendor/v.lua",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "return 1").unwrap();
        }
        dir
    }

    #[test]
    fn first_template_wins_and_names_follow_luajit() {
        let t = tree();
        let cfg = SearchConfig {
            root: t.path().join("app"),
            includes: vec![t.path().join("vendor")],
            ..Default::default()
        };
        let sp = SearchPath::new(&cfg, "x86_64-linux-gnu");
        assert_eq!(
            sp.resolve("a"),
            Ok(Found::Lua { shown: b"./a.lua".to_vec(), path: t.path().join("app/./a.lua") })
        );
        assert!(
            matches!(sp.resolve("pkg"), Ok(Found::Lua { shown, .. }) if shown == b"./pkg/init.lua")
        );
        assert!(
            matches!(sp.resolve("v"), Ok(Found::Lua { shown, .. }) if shown.ends_with(b"vendor/v.lua"))
        );
        let err = sp.resolve("nope.x").unwrap_err();
        assert_eq!(err.tried[0], "./nope/x.lua");
        assert_eq!(err.tried[1], "./nope/x/init.lua");
        assert!(err.tried.iter().any(|t| t.ends_with("vendor/nope/x/init.lua")));
        assert!(
            err.tried.iter().any(|t| t.ends_with("vendor/nope.so")),
            "all-in-one C root: {:?}",
            err.tried
        );
    }

    #[test]
    fn env_paths_expand_double_semicolon() {
        let cfg = SearchConfig { env_path: Some(b"/x/?.lua;;".to_vec()), ..Default::default() };
        let sp = SearchPath::new(&cfg, "x86_64-linux-gnu");
        let texts: Vec<String> = sp.lua.iter().map(|t| lossy(&t.text).into_owned()).collect();
        assert_eq!(texts[2], "/x/?.lua");
        assert_eq!(texts[3..].join(";"), LUAJIT_DEFAULT_PATH);
        let unset = SearchPath::new(&SearchConfig::default(), "x86_64-linux-gnu");
        let texts: Vec<String> = unset.lua.iter().map(|t| lossy(&t.text).into_owned()).collect();
        assert_eq!(texts[2..].join(";"), LUAJIT_DEFAULT_PATH, "unset means the default");
    }

    #[test]
    fn directories_that_are_not_utf8_are_searched() {
        let t = tree();
        let odd = t.path().join(OsStr::from_bytes(b"dir\xff"));
        std::fs::create_dir(&odd).unwrap();
        std::fs::write(odd.join("m.lua"), "return 1").unwrap();
        let sp = SearchPath::new(
            &SearchConfig {
                root: t.path().join("app"),
                includes: vec![odd.clone()],
                ..Default::default()
            },
            "",
        );
        let Ok(Found::Lua { shown, path }) = sp.resolve("m") else { panic!("not found") };
        assert!(shown.ends_with(b"dir\xff/m.lua"), "{shown:?}");
        assert_eq!(path, odd.join("m.lua"));
    }

    #[test]
    fn glob_lists_submodules() {
        let t = tree();
        let sp =
            SearchPath::new(&SearchConfig { root: t.path().join("app"), ..Default::default() }, "");
        assert_eq!(sp.modules_under("pkg"), vec!["pkg.myinit", "pkg.sub.y", "pkg.x"]);
        // Beside `pkg/x.lua`, `pkg/x/init.lua` is the module `pkg.x.init`; with no
        // `pkg/sub.lua`, `pkg/sub/init.lua` is the package `pkg.sub`.
        for f in ["app/pkg/x/init.lua", "app/pkg/sub/init.lua"] {
            std::fs::create_dir_all(t.path().join(f).parent().unwrap()).unwrap();
            std::fs::write(t.path().join(f), "return 1").unwrap();
        }
        assert_eq!(
            sp.modules_under("pkg"),
            vec!["pkg.myinit", "pkg.sub", "pkg.sub.y", "pkg.x", "pkg.x.init"]
        );
        assert!(sp.modules_under("none").is_empty());
        // A directory link loop ends.
        std::os::unix::fs::symlink(".", t.path().join("app/pkg/loop")).unwrap();
        std::os::unix::fs::symlink(".", t.path().join("app/pkg/loop2")).unwrap();
        assert_eq!(sp.modules_under("pkg").len(), 5);
    }
}
