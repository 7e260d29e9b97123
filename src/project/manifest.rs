//! What a LuaRocks tree has installed, read from its manifest
//! (`<tree>/lib/luarocks/rocks-5.1/manifest`), and whether a rockspec's dependencies are met.
//!
//! The manifest is Lua, evaluated in the sandbox of [`crate::project::eval`]. LuaRocks writes
//! it (luarocks/manif/writer.lua) as:
//!
//! ```lua
//! repository = { hello = { ["1.0-1"] = { { arch = "installed", modules = { hello = "hello.lua" },
//!                                         commands = { hello = "hello" } } } } }
//! modules = { hello = { "hello/1.0-1" } }   -- module → the rocks providing it, the one in use first
//! commands = { hello = { "hello/1.0-1" } }
//! ```
//!
//! In the tree, a module path of the manifest is under `share/lua/5.1/` for Lua files and
//! `lib/lua/5.1/` for C modules; commands are under `bin/`.
//!
//! Dependencies are checked as LuaRocks checks them (luarocks/deps.lua): a dependency is met by
//! any installed version that satisfies all its constraints, in any of the trees; `lua` (5.1)
//! and, with LuaJIT, `luajit` and `luabitop` are provided by the runtime
//! (luarocks/util.lua `get_rocks_provided`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::project::eval::{self, EvalError, Value};
use crate::project::rockspec::Rockspec;
use crate::project::version::{Dependency, Version};

/// Where a tree's manifest is, under its root.
pub const MANIFEST: &str = "lib/luarocks/rocks-5.1/manifest";
/// Where a tree keeps Lua modules and C modules.
pub const LUA_DIR: &str = "share/lua/5.1";
pub const LIB_DIR: &str = "lib/lua/5.1";

/// Why a tree cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: not a directory; a LuaRocks tree is a directory such as lua_modules (luarocks init) or one given to luarocks --tree", root.display())]
    NoTree { root: PathBuf },
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{}: {field} must be {expected}, not {found}; is this a manifest LuaRocks wrote?", path.display())]
    Type { path: PathBuf, field: String, expected: &'static str, found: &'static str },
}

/// A rock and version, as the manifest's `modules` names them (`hello/1.0-1`).
#[derive(Debug, Clone, PartialEq)]
pub struct RockRef {
    pub name: String,
    pub version: Version,
}

impl fmt::Display for RockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// One installed version of a rock.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    pub name: String,
    pub version: Version,
    /// Module → its path under the tree's module directory ([`LUA_DIR`] or [`LIB_DIR`]).
    pub modules: BTreeMap<String, String>,
    /// Command → its path under `bin/`.
    pub commands: BTreeMap<String, String>,
}

/// A LuaRocks tree and what its manifest says it holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    pub root: PathBuf,
    /// Rock → its installed versions, newest first.
    pub rocks: BTreeMap<String, Vec<Installed>>,
    /// Module → the rocks that provide it, the one whose file is in use first.
    pub modules: BTreeMap<String, Vec<RockRef>>,
}

impl Tree {
    /// Reads the tree at `root`. A tree without a manifest (nothing installed yet) is empty.
    /// The root is made absolute (symlinks kept, as the graph keeps them in its units' paths),
    /// so that a module found through `--tree lua_modules` is seen to be under it.
    pub fn open(root: &Path) -> Result<Tree, ManifestError> {
        if !root.is_dir() {
            return Err(ManifestError::NoTree { root: root.to_path_buf() });
        }
        let root: &PathBuf = &std::path::absolute(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect();
        let path = root.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(text) => Tree::parse(root, &path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Tree { root: root.to_path_buf(), ..Tree::default() })
            }
            Err(source) => Err(EvalError::Read { path, source }.into()),
        }
    }

    /// Reads a manifest's text (`path` is named in messages) as the one of the tree at `root`.
    pub fn parse(root: &Path, path: &Path, text: &[u8]) -> Result<Tree, ManifestError> {
        let known = ["repository", "modules", "commands", "dependencies"];
        let env = eval::evaluate(path, text, "manifest", &known)?;
        let reader = Reader { path };
        let mut rocks = BTreeMap::new();
        for (name, versions) in reader.map(env.get("repository"), "repository")? {
            let mut list = Vec::new();
            for (version, entries) in reader.map(Some(versions), &format!("repository.{name}"))? {
                let field = format!("repository.{name}[\"{version}\"]");
                let Value::Table(entries) = entries else {
                    return Err(reader.type_error(&field, "a table", entries));
                };
                // The entry LuaRocks wrote on installing; a server's manifest has others.
                let entry = entries
                    .array()
                    .find(|e| {
                        matches!(e, Value::Table(t) if t.get("arch") == Some(&Value::String("installed".into())))
                    })
                    .or_else(|| entries.array().next());
                let (modules, commands) = match entry {
                    Some(Value::Table(e)) => (
                        reader.strings(e.get("modules"), &format!("{field}.modules"))?,
                        reader.strings(e.get("commands"), &format!("{field}.commands"))?,
                    ),
                    _ => Default::default(),
                };
                list.push(Installed {
                    name: name.to_owned(),
                    version: Version::parse(version),
                    modules,
                    commands,
                });
            }
            list.sort_by(|a, b| b.version.compare(&a.version));
            rocks.insert(name.to_owned(), list);
        }
        let mut modules = BTreeMap::new();
        for (module, providers) in reader.map(env.get("modules"), "modules")? {
            let field = format!("modules{}", eval::Key::Str(module.to_owned()));
            let Value::Table(list) = providers else {
                return Err(reader.type_error(&field, "a list of \"rock/version\"", providers));
            };
            let mut refs = Vec::new();
            for v in list.array() {
                let Value::String(s) = v else {
                    return Err(reader.type_error(&field, "a list of \"rock/version\"", v));
                };
                if let Some((name, version)) = s.split_once('/') {
                    refs.push(RockRef { name: name.to_owned(), version: Version::parse(version) });
                }
            }
            modules.insert(module.to_owned(), refs);
        }
        Ok(Tree { root: root.to_path_buf(), rocks, modules })
    }

    /// The rock (and version) whose file of `module` is in use.
    pub fn provider(&self, module: &str) -> Option<&RockRef> {
        self.modules.get(module).and_then(|list| list.first())
    }

    /// The file of `module` in use, under the tree's Lua or C module directory.
    pub fn module_path(&self, module: &str) -> Option<PathBuf> {
        let by = self.provider(module)?;
        let file = self.installed(&by.name, &by.version)?.modules.get(module)?;
        let dir = if file.ends_with(".lua") { LUA_DIR } else { LIB_DIR };
        Some(self.root.join(dir).join(file))
    }

    /// The installed versions of `rock`, newest first (none: empty).
    pub fn versions(&self, rock: &str) -> &[Installed] {
        self.rocks.get(&rock.to_lowercase()).map_or(&[], Vec::as_slice)
    }

    /// One installed version of `rock`.
    pub fn installed(&self, rock: &str, version: &Version) -> Option<&Installed> {
        self.versions(rock).iter().find(|i| i.version.as_str() == version.as_str())
    }

    /// Where LuaRocks keeps an installed rock's rockspec and rock_manifest.
    pub fn rock_dir(&self, rock: &str, version: &Version) -> PathBuf {
        self.root.join("lib/luarocks/rocks-5.1").join(rock).join(version.as_str())
    }
}

/// For the bill of materials: every module of the LuaRocks tree at `root` and the rock whose
/// file of it is in use, with `description.license` of that rock's installed rockspec
/// (`<tree>/lib/luarocks/rocks-5.1/<rock>/<version>/<rock>-<version>.rockspec`, read with the
/// sandboxed evaluation of `project::rockspec`): module → (rock, version, licence). Empty for a
/// tree without a manifest.
pub fn rocks_by_module(
    root: &Path,
    multiarch: &str,
) -> BTreeMap<String, (String, String, Option<String>)> {
    let Ok(tree) = Tree::open(root) else { return BTreeMap::new() };
    let vars = crate::project::rockspec::Vars::new(multiarch);
    let mut licences: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for module in tree.modules.keys() {
        let Some(r) = tree.provider(module) else { continue };
        let key = (r.name.clone(), r.version.as_str().to_owned());
        let license = licences
            .entry(key.clone())
            .or_insert_with(|| {
                let file = tree
                    .rock_dir(&r.name, &r.version)
                    .join(format!("{}-{}.rockspec", key.0, key.1));
                crate::project::rockspec::load(&file, &vars).ok()?.description.license
            })
            .clone();
        out.insert(module.clone(), (key.0, key.1, license));
    }
    out
}

/// What the runtime provides in place of rocks: `lua` 5.1 and, with LuaJIT, `luajit` and
/// `luabitop` at LuaJIT's version.
#[derive(Debug, Clone, PartialEq)]
pub struct Runtime {
    pub lua: Version,
    pub luajit: Option<Version>,
}

impl Runtime {
    /// The runtime of a LuaJIT of `version` (`2.1.1700008891`, or `LuaJIT 2.1...` as
    /// `jit.version` and `Target::luajit` write it); `None` for a plain Lua 5.1.
    pub fn new(luajit: Option<&str>) -> Runtime {
        let luajit = luajit.map(|v| {
            let v = v.trim().strip_prefix("LuaJIT ").unwrap_or(v.trim());
            Version::parse(&format!("{v}-1"))
        });
        Runtime { lua: Version::parse("5.1-1"), luajit }
    }

    /// The version the runtime provides of `rock`, for a rockspec of `format`: LuaRocks
    /// provides `luajit` to rockspecs of format 3.0 and later only.
    pub fn provides(&self, rock: &str, format: &str) -> Option<&Version> {
        match rock {
            "lua" => Some(&self.lua),
            "luabitop" => self.luajit.as_ref(),
            "luajit" if !Version::parse(format).is_lower_than(&Version::parse("3.0")) => {
                self.luajit.as_ref()
            }
            _ => None,
        }
    }
}

/// What meets a dependency.
#[derive(Debug, Clone, PartialEq)]
pub enum Provision {
    /// The runtime itself (`lua`, `luajit`).
    Runtime(Version),
    /// An installed rock of the tree at `root`.
    Tree { root: PathBuf, version: Version },
}

/// A dependency and what meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Satisfied {
    pub dependency: Dependency,
    pub by: Provision,
}

/// A dependency nothing meets, and what is installed of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsatisfied {
    pub dependency: Dependency,
    /// Every installed version, with its tree (or the runtime's, with no tree), newest first.
    pub installed: Vec<(Version, Option<PathBuf>)>,
}

impl fmt::Display for Unsatisfied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.dependency)?;
        if self.installed.is_empty() {
            return write!(f, "not installed");
        }
        let list: Vec<String> = self
            .installed
            .iter()
            .map(|(v, tree)| match tree {
                Some(t) => format!("{v} (in {})", t.display()),
                None => format!("{v} (the runtime's)"),
            })
            .collect();
        write!(f, "installed is {}, which does not satisfy it", list.join(", "))
    }
}

/// A rockspec's unmet dependencies.
#[derive(Debug, thiserror::Error)]
#[error("{}: {} not satisfied in {}:\n{}", path.display(), if unsatisfied.len() == 1 { "a dependency is" } else { "dependencies are" }, trees_text(trees), unsatisfied.iter().map(|u| format!("  {u}")).collect::<Vec<_>>().join("\n"))]
pub struct DependencyError {
    /// The rockspec.
    pub path: PathBuf,
    /// The trees searched.
    pub trees: Vec<PathBuf>,
    pub unsatisfied: Vec<Unsatisfied>,
}

fn trees_text(trees: &[PathBuf]) -> String {
    if trees.is_empty() {
        return "no tree (and the runtime)".to_owned();
    }
    let list: Vec<String> = trees.iter().map(|t| t.display().to_string()).collect();
    format!("{} (and the runtime)", list.join(", "))
}

/// Checks `rockspec`'s dependencies against the runtime and the trees: what meets each (the
/// newest matching version, the runtime first), or every one that nothing meets.
pub fn check(
    rockspec: &Rockspec,
    trees: &[Tree],
    runtime: &Runtime,
) -> Result<Vec<Satisfied>, DependencyError> {
    let mut satisfied = Vec::new();
    let mut unsatisfied = Vec::new();
    for dep in &rockspec.dependencies {
        if let Some(v) = runtime.provides(&dep.name, &rockspec.format) {
            // LuaRocks does not look further for a rock the runtime provides.
            if dep.matches(v) {
                satisfied
                    .push(Satisfied { dependency: dep.clone(), by: Provision::Runtime(v.clone()) });
            } else {
                unsatisfied.push(Unsatisfied {
                    dependency: dep.clone(),
                    installed: vec![(v.clone(), None)],
                });
            }
            continue;
        }
        let mut installed: Vec<(Version, Option<PathBuf>)> = trees
            .iter()
            .flat_map(|t| {
                t.versions(&dep.name).iter().map(|i| (i.version.clone(), Some(t.root.clone())))
            })
            .collect();
        // Newest first; among equals, the first tree (the sort is stable).
        installed.sort_by(|a, b| b.0.compare(&a.0));
        match installed.iter().find(|(v, _)| dep.matches(v)) {
            Some((version, Some(root))) => satisfied.push(Satisfied {
                dependency: dep.clone(),
                by: Provision::Tree { root: root.clone(), version: version.clone() },
            }),
            _ => unsatisfied.push(Unsatisfied { dependency: dep.clone(), installed }),
        }
    }
    if unsatisfied.is_empty() {
        Ok(satisfied)
    } else {
        Err(DependencyError {
            path: rockspec.path.clone(),
            trees: trees.iter().map(|t| t.root.clone()).collect(),
            unsatisfied,
        })
    }
}

/// Reads the manifest's tables, naming fields in errors.
struct Reader<'a> {
    path: &'a Path,
}

impl Reader<'_> {
    fn type_error(&self, field: &str, expected: &'static str, found: &Value) -> ManifestError {
        ManifestError::Type {
            path: self.path.to_path_buf(),
            field: field.to_owned(),
            expected,
            found: found.kind(),
        }
    }

    /// A table keyed by strings (absent: empty).
    fn map<'t>(
        &self,
        value: Option<&'t Value>,
        field: &str,
    ) -> Result<Vec<(&'t str, &'t Value)>, ManifestError> {
        match value {
            None => Ok(Vec::new()),
            Some(Value::Table(t)) => Ok(t.fields().collect()),
            Some(other) => Err(self.type_error(field, "a table", other)),
        }
    }

    /// A table of strings keyed by strings.
    fn strings(
        &self,
        value: Option<&Value>,
        field: &str,
    ) -> Result<BTreeMap<String, String>, ManifestError> {
        let mut out = BTreeMap::new();
        for (k, v) in self.map(value, field)? {
            let Value::String(s) = v else {
                return Err(self.type_error(&format!("{field}.{k}"), "a string", v));
            };
            out.insert(k.to_owned(), s.clone());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::rockspec::{self, Vars};

    /// The manifest `luarocks make` wrote for tests/corpus/luarocks/hello-1.0-1.rockspec, with
    /// a second, older version and a C module added.
    const MANIFEST_TEXT: &str = r#"commands = {}
dependencies = {
   hello = {
      ["1.0-1"] = {
         { constraints = { { op = ">=", version = { 5, 1, string = "5.1" } } }, name = "lua" }
      }
   }
}
modules = {
   hello = { "hello/1.0-1", "hello/0.9-2" },
   ["hello.core"] = { "hello/1.0-1" },
}
repository = {
   hello = {
      ["0.9-2"] = { { arch = "installed", commands = {}, dependencies = {}, modules = { hello = "hello.lua" } } },
      ["1.0-1"] = {
         { arch = "installed", commands = { hello = "hello" }, dependencies = {},
           modules = { hello = "hello.lua", ["hello.core"] = "hello/core.so" } }
      }
   }
}
"#;

    fn tree(root: &str) -> Tree {
        Tree::parse(Path::new(root), Path::new("manifest"), MANIFEST_TEXT.as_bytes()).unwrap()
    }

    #[test]
    fn reads_what_is_installed() {
        let t = tree("/t");
        let versions: Vec<&str> = t.versions("hello").iter().map(|i| i.version.as_str()).collect();
        assert_eq!(versions, ["1.0-1", "0.9-2"]);
        assert_eq!(t.versions("Hello").len(), 2);
        assert!(t.versions("nope").is_empty());
        assert_eq!(t.provider("hello").unwrap().to_string(), "hello 1.0-1");
        assert_eq!(t.module_path("hello").unwrap(), Path::new("/t/share/lua/5.1/hello.lua"));
        assert_eq!(t.module_path("hello.core").unwrap(), Path::new("/t/lib/lua/5.1/hello/core.so"));
        assert_eq!(t.versions("hello")[0].commands["hello"], "hello");
        assert_eq!(
            t.rock_dir("hello", &Version::parse("1.0-1")),
            Path::new("/t/lib/luarocks/rocks-5.1/hello/1.0-1")
        );
    }

    /// `bundle rockspec main.lua --tree lua_modules`: the graph's paths are absolute, and
    /// the tree's root must be too for its modules to be told from the program's own.
    #[test]
    fn a_relative_tree_is_opened_absolute() {
        let cwd = std::env::current_dir().unwrap();
        let rel = Path::new("./src/../src/project");
        let t = Tree::open(rel).unwrap();
        assert!(t.root.is_absolute(), "{}", t.root.display());
        assert_eq!(t.root, cwd.join("src/../src/project"));
    }

    #[test]
    fn a_bad_manifest_is_named() {
        let e =
            Tree::parse(Path::new("/t"), Path::new("m"), b"repository = { x = 1 }").unwrap_err();
        assert_eq!(
            e.to_string(),
            "m: repository.x must be a table, not a number; is this a manifest LuaRocks wrote?"
        );
        let e = Tree::parse(
            Path::new("/t"),
            Path::new("m"),
            b"repository = {\n x = os.getenv('HOME') }",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("m:2: the manifest calls os.getenv"), "{e}");
        assert!(matches!(
            Tree::open(Path::new("/nonexistent/tree")),
            Err(ManifestError::NoTree { .. })
        ));
    }

    fn spec(deps: &str, format: &str) -> Rockspec {
        let text = format!(
            r#"rockspec_format = "{format}" package = "app" version = "1.0-1" dependencies = {{ {deps} }} build = {{ type = "none" }}"#
        );
        rockspec::parse(Path::new("app-1.0-1.rockspec"), text.as_bytes(), &Vars::new("")).unwrap()
    }

    #[test]
    fn dependencies_checked_against_trees_and_runtime() {
        let trees = [tree("/a"), tree("/b")];
        let rt = Runtime::new(Some("LuaJIT 2.1.1700008891"));
        let ok =
            check(&spec(r#""lua >= 5.1", "hello ~> 0.9", "luajit >= 2.1""#, "3.0"), &trees, &rt)
                .unwrap();
        assert_eq!(ok[0].by, Provision::Runtime(Version::parse("5.1-1")));
        assert_eq!(
            ok[1].by,
            Provision::Tree { root: "/a".into(), version: Version::parse("0.9-2") }
        );
        assert!(matches!(&ok[2].by, Provision::Runtime(v) if v.as_str() == "2.1.1700008891-1"));

        let e = check(&spec(r#""lua >= 5.3", "hello >= 2.0", "other""#, "3.0"), &trees[..1], &rt)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "app-1.0-1.rockspec: dependencies are not satisfied in /a (and the runtime):\n  \
             lua >= 5.3: installed is 5.1-1 (the runtime's), which does not satisfy it\n  \
             hello >= 2.0: installed is 1.0-1 (in /a), 0.9-2 (in /a), which does not satisfy it\n  \
             other: not installed"
        );
        // Before format 3.0, LuaRocks does not provide `luajit`.
        let e = check(&spec(r#""luajit""#, "1.0"), &[], &rt).unwrap_err();
        assert_eq!(e.unsatisfied.len(), 1);
    }
}
