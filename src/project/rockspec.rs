//! A rockspec read as LuaRocks 3 reads it for a Linux build, into plain data ([`Rockspec`]).
//!
//! The file is evaluated in the sandbox of [`crate::project::eval`]; then, as LuaRocks does
//! (luarocks/rockspecs.lua, luarocks/build.lua, luarocks/build/builtin.lua, luarocks/deps.lua;
//! re-implemented, not copied):
//!
//! - the `platforms` tables of `build`, `dependencies`, `build_dependencies`,
//!   `external_dependencies` and `source` are merged into them, `unix` then `linux` (least
//!   specific first), deeply: a table merges into a table key by key, anything else replaces.
//!   Lists merge by index too, so `platforms.linux.sources = {"b.c"}` replaces the first
//!   source, not appends (LuaRocks' behaviour, kept);
//! - `build` (or `build.type`) may be absent from format 3.0 on, meaning `builtin`; `module` is
//!   the old name of `builtin`; `make`, `cmake` and `command` build with tools of their own,
//!   whose installed modules a caller takes from the tree LuaRocks installed them in
//!   ([`Backend::FromTree`]);
//! - a `builtin` module whose value is a string ending in `.lua` is a Lua module; any other
//!   string is a C module of that one source; a table is a C module whose sources are its list
//!   part or its `sources` field, with `defines`, `incdirs`, `libraries`, `libdirs` (each a
//!   string or a list);
//! - without `external_dependencies`, each library a C module links becomes one
//!   (`libraries = {"z"}` gives `Z`, and `$(Z_INCDIR)`, `$(Z_LIBDIR)` as the module's
//!   directories if it names none);
//! - each external dependency is looked for under `NAME_DIR` if given, else `DEPS_DIR`, else
//!   the usual prefixes (`/usr/local`, `/usr`, `/`): its header in `include/`, its library
//!   (`libNAME.a`, `libNAME.so`, `libNAME.so.*`) in `lib/`, `lib/<multiarch>/`, `lib64/`, its
//!   program in `bin/`; `NAME_INCDIR`, `NAME_LIBDIR`, `NAME_BINDIR` replace those directories.
//!   What is found sets `NAME_DIR`, `NAME_INCDIR`, `NAME_LIBDIR`, `NAME_BINDIR`;
//! - `$(NAME)` in a C module's `defines`, `incdirs`, `libraries` and `libdirs` is replaced by
//!   that variable. LuaRocks drops an unknown one with a warning; bundle refuses it, naming it.
//!
//! Not read: `hooks`, `test`, `deploy`, `supported_platforms`, `build.variables` and the
//! tool-specific fields of `make`/`cmake`/`command` builds (LuaRocks runs those).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::project::eval::{self, EvalError, Table, Value};
use crate::project::version::{Dependency, Version, VersionError};

/// The platforms whose overrides apply on Linux, least specific first (luarocks/core/cfg.lua:
/// Linux's platform set in `platform_order`).
pub const PLATFORMS: [&str; 2] = ["unix", "linux"];

/// The build types LuaRocks has back ends for (`module` is also read, as `builtin`).
pub const BUILD_TYPES: [&str; 5] = ["builtin", "make", "cmake", "command", "none"];

/// The newest rockspec format this reader knows (LuaRocks 3's).
pub const FORMAT: &str = "3.0";

/// The globals a rockspec may set (LuaRocks' rockspec schema, formats 1.0 to 3.0): reading
/// one that is unset gives nil; reading any other is refused.
const GLOBALS: &[&str] = &[
    "rockspec_format",
    "package",
    "version",
    "description",
    "dependencies",
    "build_dependencies",
    "test_dependencies",
    "supported_platforms",
    "external_dependencies",
    "source",
    "build",
    "hooks",
    "deploy",
    "test",
];

/// Why a rockspec cannot be used. Each message names the file, the field, and what to write.
#[derive(Debug, thiserror::Error)]
pub enum RockspecError {
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{}: {field} is missing; a rockspec must set it", path.display())]
    Missing { path: PathBuf, field: String },
    #[error("{}: {field} must be {expected}, not {found}", path.display())]
    Type { path: PathBuf, field: String, expected: &'static str, found: &'static str },
    #[error(
        "{}: version \"{version}\" is not a rockspec version: write the software's version, a dash and the rockspec's revision, such as \"1.0-1\"",
        path.display()
    )]
    Version { path: PathBuf, version: String },
    #[error(
        "{}: rockspec_format \"{format}\" is newer than the newest format bundle reads ({FORMAT})",
        path.display()
    )]
    Format { path: PathBuf, format: String },
    #[error("{}: {field}: {source}", path.display())]
    Dependency { path: PathBuf, field: String, source: VersionError },
    #[error(
        "{}: {field} is missing; before rockspec_format 3.0 a rockspec must say how it is built (build = {{ type = \"builtin\", modules = {{ ... }} }})",
        path.display()
    )]
    NoBuild { path: PathBuf, field: &'static str },
    #[error(
        "{}: unknown build type \"{build_type}\"; LuaRocks' build types are builtin, make, cmake, command and none (a custom back end of a luarocks-build-* rock is not supported)",
        path.display()
    )]
    UnknownBuildType { path: PathBuf, build_type: String },
    #[error(
        "{}: build.modules is missing; list the modules (build.modules = {{ name = \"src/name.lua\" }}): bundle does not guess them from the source tree as LuaRocks 3 does",
        path.display()
    )]
    NoModules { path: PathBuf },
    #[error(
        "{}: {field} has no sources; give them as a list ({{\"src/a.c\", \"src/b.c\"}}) or as sources = ...",
        path.display()
    )]
    NoSources { path: PathBuf, field: String },
    #[error("{}: {missing}", path.display())]
    External { path: PathBuf, missing: Box<NotFound> },
    #[error(
        "{}: {field} uses $({variable}), which is not set; set it with {variable}=VALUE",
        path.display()
    )]
    Variable { path: PathBuf, field: String, variable: String },
    #[error("bad variable \"{text}\": expected NAME=VALUE, such as ZLIB_DIR=/opt/zlib")]
    Assignment { text: String },
}

/// An external dependency that is not on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "external dependency {name}: {kind} {wanted} not found in {looked}; install it (its development package), or say where it is with {name}_DIR=<prefix> or {variable}=<directory>"
)]
pub struct NotFound {
    /// The dependency's name in the rockspec (`ZLIB`).
    pub name: String,
    /// `header`, `library` or `program`.
    pub kind: &'static str,
    /// The file as the rockspec names it, with the names tried (`z (libz.a, libz.so, ...)`).
    pub wanted: String,
    /// The directories searched, comma-separated.
    pub looked: String,
    /// The variable that names the directory (`ZLIB_INCDIR`).
    pub variable: String,
}

/// The variables a rockspec is read with: those given (`NAME_DIR=...`, `NAME_INCDIR=...`,
/// `NAME_LIBDIR=...`, `DEPS_DIR=...`, or any `$(NAME)` a module uses) and where external
/// dependencies are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    /// Given values; they win over what the search finds.
    pub given: BTreeMap<String, String>,
    /// Where external dependencies are looked for, in order.
    pub prefixes: Vec<PathBuf>,
    /// The Debian multiarch tuple of the machine the modules are built for
    /// (`base::target::Target::multiarch`): libraries are also looked for in `lib/<tuple>`.
    pub multiarch: String,
}

impl Vars {
    /// No variables given; LuaRocks' prefixes for Unix.
    pub fn new(multiarch: &str) -> Vars {
        Vars {
            given: BTreeMap::new(),
            prefixes: ["/usr/local", "/usr", "/"].map(PathBuf::from).to_vec(),
            multiarch: multiarch.to_owned(),
        }
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: &str) {
        self.given.insert(name.to_owned(), value.to_owned());
    }

    /// Sets a variable from `NAME=VALUE` (LuaRocks' command-line form).
    pub fn assign(&mut self, text: &str) -> Result<(), RockspecError> {
        let bad = || RockspecError::Assignment { text: text.to_owned() };
        let (name, value) = text.split_once('=').ok_or_else(bad)?;
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(bad());
        }
        self.set(name, value);
        Ok(())
    }
}

/// A rockspec, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Rockspec {
    /// The file it was read from.
    pub path: PathBuf,
    /// `rockspec_format`, `1.0` when absent.
    pub format: String,
    /// `package` as written; [`Rockspec::name`] is the rock's name.
    pub package: String,
    /// `version` (`1.0-1`).
    pub version: Version,
    /// `source`, if present.
    pub source: Option<Source>,
    pub description: Description,
    /// `dependencies` (after the platform overrides).
    pub dependencies: Vec<Dependency>,
    /// `build_dependencies` (format 3.0).
    pub build_dependencies: Vec<Dependency>,
    /// `external_dependencies` (or those derived from the C modules' `libraries`), by name.
    pub external_dependencies: BTreeMap<String, External>,
    /// Every variable the C modules' flags were substituted with: those given, then those the
    /// external dependencies' search set (`ZLIB_DIR`, `ZLIB_INCDIR`, `ZLIB_LIBDIR`,
    /// `ZLIB_BINDIR`), and LuaRocks' `LIB_EXTENSION` and `OBJ_EXTENSION`.
    pub variables: BTreeMap<String, String>,
    pub build: Build,
}

impl Rockspec {
    /// The rock's name: `package` in lower case, as LuaRocks names it.
    pub fn name(&self) -> String {
        self.package.to_lowercase()
    }

    /// The directory the module paths are relative to when LuaRocks builds the rockspec in
    /// place (`luarocks make`): the rockspec's own.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// The file name LuaRocks expects for this rockspec (`name-1.0-1.rockspec`).
    pub fn file_name(&self) -> String {
        format!("{}-{}.rockspec", self.name(), self.version)
    }
}

/// `source`: where LuaRocks fetches the sources from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    pub tag: Option<String>,
    pub branch: Option<String>,
    pub dir: Option<String>,
    pub file: Option<String>,
    pub md5: Option<String>,
}

/// `description`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    pub summary: Option<String>,
    pub detailed: Option<String>,
    pub homepage: Option<String>,
    pub license: Option<String>,
    pub maintainer: Option<String>,
    pub issues_url: Option<String>,
    pub labels: Vec<String>,
}

/// One of `external_dependencies`: the files that show it is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct External {
    /// A header (`zlib.h`), looked for in `include/`.
    pub header: Option<String>,
    /// A library (`z`, or a file name `libz.so`), looked for in `lib/` and its kin.
    pub library: Option<String>,
    /// A program, looked for in `bin/`.
    pub program: Option<String>,
}

/// `build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub backend: Backend,
    /// `build.install`: files installed whatever the build type.
    pub install: Install,
    /// `build.copy_directories`.
    pub copy_directories: Vec<String>,
}

/// What builds the rock's modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `builtin` (or `module`): the modules, by the name `require` uses.
    Builtin { modules: BTreeMap<String, Module> },
    /// `make`, `cmake` or `command`: the rock's own tools build it, so its installed modules
    /// are taken from the tree after LuaRocks built them (the tree's manifest lists them).
    FromTree { tool: Tool },
    /// `none`: nothing is built; only `build.install` is installed.
    Nothing,
}

/// A build type whose build LuaRocks runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Make,
    Cmake,
    Command,
}

impl Tool {
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Make => "make",
            Tool::Cmake => "cmake",
            Tool::Command => "command",
        }
    }
}

/// A `builtin` module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Module {
    /// A Lua file, relative to [`Rockspec::dir`].
    Lua { path: String },
    /// A C module built from sources.
    C(CModule),
}

/// A C module of a `builtin` build, its variables substituted. Paths are relative to
/// [`Rockspec::dir`] unless absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CModule {
    pub sources: Vec<String>,
    /// `NAME` or `NAME=VALUE` (`-D`).
    pub defines: Vec<String>,
    /// `-I` directories.
    pub incdirs: Vec<String>,
    /// `-l` names.
    pub libraries: Vec<String>,
    /// `-L` directories.
    pub libdirs: Vec<String>,
}

/// `build.install`: name → file. `lua` is keyed by module name, `bin` by the command's name,
/// `lib` and `conf` by their installed path; list entries are keyed by their file's name
/// (its stem for `lua`), where LuaRocks installs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Install {
    pub lua: BTreeMap<String, String>,
    pub lib: BTreeMap<String, String>,
    pub conf: BTreeMap<String, String>,
    pub bin: BTreeMap<String, String>,
}

/// Reads the rockspec at `path` with `vars`.
pub fn load(path: &Path, vars: &Vars) -> Result<Rockspec, RockspecError> {
    let source = std::fs::read(path)
        .map_err(|source| EvalError::Read { path: path.to_path_buf(), source })?;
    parse(path, &source, vars)
}

/// Reads a rockspec from its text; `path` is only named in messages and gives
/// [`Rockspec::dir`].
pub fn parse(path: &Path, source: &[u8], vars: &Vars) -> Result<Rockspec, RockspecError> {
    let env = eval::evaluate(path, source, "rockspec", GLOBALS)?;
    Reader { path }.rockspec(env, vars)
}

/// Reads fields, naming them in errors.
struct Reader<'a> {
    path: &'a Path,
}

impl Reader<'_> {
    fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }

    fn type_error(&self, field: &str, expected: &'static str, found: &Value) -> RockspecError {
        RockspecError::Type {
            path: self.path(),
            field: field.to_owned(),
            expected,
            found: found.kind(),
        }
    }

    fn string(&self, value: Option<&Value>, field: &str) -> Result<Option<String>, RockspecError> {
        match value {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.type_error(field, "a string", other)),
        }
    }

    fn required(&self, value: Option<&Value>, field: &str) -> Result<String, RockspecError> {
        self.string(value, field)?
            .ok_or_else(|| RockspecError::Missing { path: self.path(), field: field.to_owned() })
    }

    fn table(&self, value: Option<Value>, field: &str) -> Result<Option<Table>, RockspecError> {
        match value {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => Err(self.type_error(field, "a table", &other)),
        }
    }

    /// A list of strings: its array part, each element a string.
    fn strings(&self, table: &Table, field: &str) -> Result<Vec<String>, RockspecError> {
        table
            .array()
            .enumerate()
            .map(|(k, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(self.type_error(&format!("{field}[{}]", k + 1), "a string", other)),
            })
            .collect()
    }

    /// A flag of a C module: a string (or number), or a list of them (builtin.lua `add_flags`).
    fn flags(&self, value: Option<&Value>, field: &str) -> Result<Vec<String>, RockspecError> {
        match value {
            None => Ok(Vec::new()),
            Some(Value::Table(t)) => t
                .array()
                .enumerate()
                .map(|(k, v)| {
                    v.to_text().ok_or_else(|| {
                        self.type_error(&format!("{field}[{}]", k + 1), "a string", v)
                    })
                })
                .collect(),
            Some(v) => v
                .to_text()
                .map(|s| vec![s])
                .ok_or_else(|| self.type_error(field, "a string or a list of strings", v)),
        }
    }

    /// Merges `table.platforms.unix` then `.linux` into `table` (rockspecs.lua
    /// `platform_overrides`, util.lua `deep_merge`).
    fn overrides(&self, table: &mut Table, field: &str) -> Result<(), RockspecError> {
        let Some(platforms) = table.remove("platforms") else { return Ok(()) };
        let platforms =
            self.table(Some(platforms), &format!("{field}.platforms"))?.unwrap_or_default();
        for platform in PLATFORMS {
            let Some(over) = platforms.get(platform) else { continue };
            let Value::Table(over) = over else {
                return Err(self.type_error(
                    &format!("{field}.platforms.{platform}"),
                    "a table",
                    over,
                ));
            };
            deep_merge(table, over);
        }
        Ok(())
    }

    /// A section that takes platform overrides, merged.
    fn section(&self, env: &mut Table, field: &str) -> Result<Option<Table>, RockspecError> {
        let Some(mut table) = self.table(env.remove(field), field)? else { return Ok(None) };
        self.overrides(&mut table, field)?;
        Ok(Some(table))
    }

    fn dependencies(&self, env: &mut Table, field: &str) -> Result<Vec<Dependency>, RockspecError> {
        let Some(table) = self.section(env, field)? else { return Ok(Vec::new()) };
        self.strings(&table, field)?
            .iter()
            .enumerate()
            .map(|(k, text)| {
                Dependency::parse(text).map_err(|source| RockspecError::Dependency {
                    path: self.path(),
                    field: format!("{field}[{}]", k + 1),
                    source,
                })
            })
            .collect()
    }

    fn rockspec(&self, mut env: Table, vars: &Vars) -> Result<Rockspec, RockspecError> {
        let format = self.string(env.get("rockspec_format"), "rockspec_format")?;
        if let Some(f) = &format {
            if Version::parse(FORMAT).is_lower_than(&Version::parse(f)) {
                return Err(RockspecError::Format { path: self.path(), format: f.clone() });
            }
        }
        let format = format.unwrap_or_else(|| "1.0".to_owned());
        let at_least_3 = !Version::parse(&format).is_lower_than(&Version::parse("3.0"));
        let package = self.required(env.get("package"), "package")?;
        let version_text = self.required(env.get("version"), "version")?;
        if !valid_version(&version_text) {
            return Err(RockspecError::Version { path: self.path(), version: version_text });
        }

        let source = match self.section(&mut env, "source")? {
            None => None,
            Some(t) => Some(Source {
                url: self.required(t.get("url"), "source.url")?,
                tag: self.string(t.get("tag"), "source.tag")?,
                branch: self.string(t.get("branch"), "source.branch")?,
                dir: self.string(t.get("dir"), "source.dir")?,
                file: self.string(t.get("file"), "source.file")?,
                md5: self.string(t.get("md5"), "source.md5")?,
            }),
        };
        let description = match self.table(env.remove("description"), "description")? {
            None => Description::default(),
            Some(t) => {
                let s = |k: &str| self.string(t.get(k), &format!("description.{k}"));
                let labels = match self.table(t.get("labels").cloned(), "description.labels")? {
                    Some(l) => self.strings(&l, "description.labels")?,
                    None => Vec::new(),
                };
                Description {
                    summary: s("summary")?,
                    detailed: s("detailed")?,
                    homepage: s("homepage")?,
                    license: s("license")?,
                    maintainer: s("maintainer")?,
                    issues_url: s("issues_url")?,
                    labels,
                }
            }
        };
        let dependencies = self.dependencies(&mut env, "dependencies")?;
        let build_dependencies = self.dependencies(&mut env, "build_dependencies")?;
        let externals_given = match self.section(&mut env, "external_dependencies")? {
            None => None,
            Some(t) => {
                let mut out = BTreeMap::new();
                for (name, value) in t.fields() {
                    let field = format!("external_dependencies.{name}");
                    let Value::Table(e) = value else {
                        return Err(self.type_error(&field, "a table", value));
                    };
                    let s = |k: &str| self.string(e.get(k), &format!("{field}.{k}"));
                    out.insert(
                        name.to_owned(),
                        External {
                            header: s("header")?,
                            library: s("library")?,
                            program: s("program")?,
                        },
                    );
                }
                Some(out)
            }
        };

        let build = match self.section(&mut env, "build")? {
            Some(b) => b,
            None if at_least_3 => Table::default(),
            None => return Err(RockspecError::NoBuild { path: self.path(), field: "build" }),
        };
        let build_type = match self.string(build.get("type"), "build.type")? {
            Some(t) => t,
            None if at_least_3 => "builtin".to_owned(),
            None => return Err(RockspecError::NoBuild { path: self.path(), field: "build.type" }),
        };
        let install = self.install(&build)?;
        let copy_directories =
            match self.table(build.get("copy_directories").cloned(), "build.copy_directories")? {
                Some(t) => self.strings(&t, "build.copy_directories")?,
                None => Vec::new(),
            };

        let mut variables: BTreeMap<String, String> =
            [("LIB_EXTENSION", "so"), ("OBJ_EXTENSION", "o")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        variables.extend(vars.given.clone());
        let (backend, external_dependencies) = match build_type.as_str() {
            "builtin" | "module" => {
                let Some(modules) = self.table(build.get("modules").cloned(), "build.modules")?
                else {
                    return Err(RockspecError::NoModules { path: self.path() });
                };
                let mut modules = self.modules(&modules)?;
                let externals = match externals_given {
                    Some(e) => e,
                    None => derive_externals(&mut modules),
                };
                for (name, e) in &externals {
                    variables.extend(self.find_external(name, e, vars)?);
                }
                let mut out = BTreeMap::new();
                for (name, module) in modules {
                    out.insert(name.clone(), self.substitute(&name, module, &variables)?);
                }
                (Backend::Builtin { modules: out }, externals)
            }
            "make" => (Backend::FromTree { tool: Tool::Make }, externals_given.unwrap_or_default()),
            "cmake" => {
                (Backend::FromTree { tool: Tool::Cmake }, externals_given.unwrap_or_default())
            }
            "command" => {
                (Backend::FromTree { tool: Tool::Command }, externals_given.unwrap_or_default())
            }
            "none" => (Backend::Nothing, externals_given.unwrap_or_default()),
            other => {
                return Err(RockspecError::UnknownBuildType {
                    path: self.path(),
                    build_type: other.to_owned(),
                })
            }
        };

        Ok(Rockspec {
            path: self.path(),
            format,
            package,
            version: Version::parse(&version_text),
            source,
            description,
            dependencies,
            build_dependencies,
            external_dependencies,
            variables,
            build: Build { backend, install, copy_directories },
        })
    }

    fn install(&self, build: &Table) -> Result<Install, RockspecError> {
        let Some(install) = self.table(build.get("install").cloned(), "build.install")? else {
            return Ok(Install::default());
        };
        let part = |key: &str| -> Result<BTreeMap<String, String>, RockspecError> {
            let field = format!("build.install.{key}");
            let Some(t) = self.table(install.get(key).cloned(), &field)? else {
                return Ok(BTreeMap::new());
            };
            let mut out = BTreeMap::new();
            for (k, v) in &t.0 {
                let item = format!("{field}{k}");
                let Value::String(file) = v else {
                    return Err(self.type_error(&item, "a file name (a string)", v));
                };
                let name = match k {
                    eval::Key::Str(s) => s.clone(),
                    _ => {
                        let base = file.rsplit('/').next().unwrap_or(file);
                        match key {
                            "lua" => base.strip_suffix(".lua").unwrap_or(base).to_owned(),
                            _ => base.to_owned(),
                        }
                    }
                };
                out.insert(name, file.clone());
            }
            Ok(out)
        };
        Ok(Install { lua: part("lua")?, lib: part("lib")?, conf: part("conf")?, bin: part("bin")? })
    }

    /// `build.modules`, before substitution.
    fn modules(&self, modules: &Table) -> Result<BTreeMap<String, Module>, RockspecError> {
        let mut out = BTreeMap::new();
        for (key, value) in &modules.0 {
            let eval::Key::Str(name) = key else {
                return Err(RockspecError::Type {
                    path: self.path(),
                    field: format!("build.modules{key}"),
                    expected:
                        "keyed by a module name (build.modules = { [\"a.b\"] = \"src/a/b.lua\" })",
                    found: "a list item",
                });
            };
            let field = format!("build.modules{key}");
            let module = match value {
                // builtin.lua: a string whose extension is `lua` is a Lua file; any other
                // string is the one source of a C module.
                Value::String(s) if s.rsplit_once('.').is_some_and(|(_, ext)| ext == "lua") => {
                    Module::Lua { path: s.clone() }
                }
                Value::String(s) => {
                    Module::C(CModule { sources: vec![s.clone()], ..CModule::default() })
                }
                Value::Table(t) => {
                    let sources = if t.0.contains_key(&eval::Key::Int(1)) {
                        self.strings(t, &field)?
                    } else {
                        self.flags(t.get("sources"), &format!("{field}.sources"))?
                    };
                    if sources.is_empty() {
                        return Err(RockspecError::NoSources { path: self.path(), field });
                    }
                    Module::C(CModule {
                        sources,
                        defines: self.flags(t.get("defines"), &format!("{field}.defines"))?,
                        incdirs: self.flags(t.get("incdirs"), &format!("{field}.incdirs"))?,
                        libraries: self.flags(t.get("libraries"), &format!("{field}.libraries"))?,
                        libdirs: self.flags(t.get("libdirs"), &format!("{field}.libdirs"))?,
                    })
                }
                other => {
                    return Err(self.type_error(&field, "a file name or a table of sources", other))
                }
            };
            out.insert(name.clone(), module);
        }
        Ok(out)
    }

    /// Replaces `$(NAME)` in a C module's flags (util.lua `variable_substitutions`).
    fn substitute(
        &self,
        name: &str,
        module: Module,
        variables: &BTreeMap<String, String>,
    ) -> Result<Module, RockspecError> {
        let Module::C(c) = module else { return Ok(module) };
        let field = format!("build.modules{}", eval::Key::Str(name.to_owned()));
        let all = |list: Vec<String>, what: &str| -> Result<Vec<String>, RockspecError> {
            list.into_iter()
                .map(|s| {
                    substitute(&s, variables).map_err(|variable| RockspecError::Variable {
                        path: self.path(),
                        field: format!("{field}.{what}"),
                        variable,
                    })
                })
                .collect()
        };
        Ok(Module::C(CModule {
            sources: c.sources,
            defines: all(c.defines, "defines")?,
            incdirs: all(c.incdirs, "incdirs")?,
            libraries: all(c.libraries, "libraries")?,
            libdirs: all(c.libdirs, "libdirs")?,
        }))
    }

    /// Looks for one external dependency (deps.lua `check_external_dependency`) and returns
    /// the variables it sets.
    fn find_external(
        &self,
        name: &str,
        external: &External,
        vars: &Vars,
    ) -> Result<BTreeMap<String, String>, RockspecError> {
        let given = |suffix: &str| vars.given.get(&format!("{name}_{suffix}")).map(PathBuf::from);
        let prefixes = match (given("DIR"), vars.given.get("DEPS_DIR")) {
            (Some(dir), _) => vec![dir],
            (None, Some(dir)) => vec![PathBuf::from(dir)],
            (None, None) => vars.prefixes.clone(),
        };
        let mut lib_subdirs = vec!["lib".to_owned()];
        if !vars.multiarch.is_empty() {
            lib_subdirs.push(format!("lib/{}", vars.multiarch));
        }
        lib_subdirs.push("lib64".to_owned());
        // In the order LuaRocks checks them (sorted by name), with unix's file patterns.
        let kinds = [
            Kind {
                dirname: "BINDIR",
                kind: "program",
                subdirs: vec!["bin".to_owned()],
                file: external.program.as_ref(),
                patterns: &["?"],
            },
            Kind {
                dirname: "INCDIR",
                kind: "header",
                subdirs: vec!["include".to_owned()],
                file: external.header.as_ref(),
                patterns: &["?.h"],
            },
            Kind {
                dirname: "LIBDIR",
                kind: "library",
                subdirs: lib_subdirs,
                file: external.library.as_ref(),
                patterns: &["lib?.a", "lib?.so", "lib?.so.*"],
            },
        ];
        // The directories searched for each kind, over all prefixes; the last failure.
        let mut looked: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut failure: Option<Missing> = None;
        'prefix: for prefix in &prefixes {
            let mut found = BTreeMap::new();
            for Kind { dirname, kind, subdirs, file, patterns } in &kinds {
                let paths: Vec<PathBuf> = match given(dirname) {
                    Some(d) => vec![d],
                    None => subdirs.iter().map(|s| prefix.join(s)).collect(),
                };
                let mut dir = paths[0].clone();
                if let Some(file) = file {
                    let names = candidate_names(file, patterns);
                    let hit = names.iter().find_map(|n| paths.iter().find(|d| exists_in(d, n)));
                    match hit {
                        Some(d) => dir = d.clone(),
                        None => {
                            let seen = looked.entry(dirname).or_default();
                            for p in &paths {
                                let p = p.display().to_string();
                                if !seen.contains(&p) {
                                    seen.push(p);
                                }
                            }
                            failure = Some(Missing { kind, dirname, file: (*file).clone(), names });
                            continue 'prefix;
                        }
                    }
                }
                found.insert(format!("{name}_{dirname}"), dir.display().to_string());
            }
            found.insert(format!("{name}_DIR"), prefix.display().to_string());
            return Ok(found);
        }
        let Some(f) = failure else {
            // No prefix at all to search.
            return Err(RockspecError::External {
                path: self.path(),
                missing: Box::new(NotFound {
                    name: name.to_owned(),
                    kind: "prefix",
                    wanted: "directory".to_owned(),
                    looked: "no directory (no prefix to search)".to_owned(),
                    variable: format!("{name}_DIR"),
                }),
            });
        };
        let wanted = if f.names.len() == 1 && f.names[0] == f.file {
            f.file.clone()
        } else {
            format!("{} ({})", f.file, f.names.join(", "))
        };
        Err(RockspecError::External {
            path: self.path(),
            missing: Box::new(NotFound {
                name: name.to_owned(),
                kind: f.kind,
                wanted,
                looked: looked.get(f.dirname).map(|l| l.join(", ")).unwrap_or_default(),
                variable: format!("{name}_{}", f.dirname),
            }),
        })
    }
}

/// One kind of file of an external dependency, and where it is looked for.
struct Kind<'a> {
    /// The variable's suffix (`INCDIR`).
    dirname: &'static str,
    kind: &'static str,
    /// Under each prefix.
    subdirs: Vec<String>,
    /// The file the rockspec names, if it names one.
    file: Option<&'a String>,
    /// `?` is the file's name.
    patterns: &'static [&'static str],
}

/// The first file of an external dependency that could not be found.
struct Missing {
    kind: &'static str,
    dirname: &'static str,
    file: String,
    names: Vec<String>,
}

/// `^[%w.]+-[%d]+$` (the rockspec schema's version pattern).
fn valid_version(text: &str) -> bool {
    text.rsplit_once('-').is_some_and(|(v, rev)| {
        !v.is_empty()
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            && !rev.is_empty()
            && rev.chars().all(|c| c.is_ascii_digit())
    })
}

/// util.lua `deep_merge`: `src`'s tables merge into `dst`'s tables, anything else replaces.
fn deep_merge(dst: &mut Table, src: &Table) {
    for (k, v) in &src.0 {
        match v {
            Value::Table(sub) => {
                let slot = dst.0.entry(k.clone()).or_insert_with(|| Value::Table(Table::default()));
                match slot {
                    Value::Table(d) => deep_merge(d, sub),
                    other => *other = v.clone(),
                }
            }
            _ => {
                dst.0.insert(k.clone(), v.clone());
            }
        }
    }
}

/// builtin.lua `autodetect_external_dependencies`: without `external_dependencies`, every
/// library a C module links is one, named after it (`z` → `Z`, `c++` → `CPP`), and a module
/// that names no include or library directories gets that dependency's.
fn derive_externals(modules: &mut BTreeMap<String, Module>) -> BTreeMap<String, External> {
    let mut out = BTreeMap::new();
    for module in modules.values_mut() {
        let Module::C(c) = module else { continue };
        if c.libraries.is_empty() {
            continue;
        }
        let (mut incdirs, mut libdirs) = (Vec::new(), Vec::new());
        for lib in &c.libraries {
            let upper: String = lib
                .to_uppercase()
                .replace('+', "P")
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            incdirs.push(format!("$({upper}_INCDIR)"));
            libdirs.push(format!("$({upper}_LIBDIR)"));
            out.insert(upper, External { library: Some(lib.clone()), ..External::default() });
        }
        if c.incdirs.is_empty() {
            c.incdirs = incdirs;
        }
        if c.libdirs.is_empty() {
            c.libdirs = libdirs;
        }
    }
    out
}

/// `$(NAME)` (a letter, then letters, digits or `_`) replaced by its value; the first unknown
/// name is the error.
fn substitute(text: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("$(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let len = after.find(')').filter(|&n| {
            let name = &after[..n];
            n >= 2
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        match len {
            Some(n) => {
                let name = &after[..n];
                out.push_str(variables.get(name).ok_or_else(|| name.to_owned())?);
                rest = &after[n + 1..];
            }
            None => {
                out.push_str("$(");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The names a file of an external dependency may have (deps.lua `add_patterns_for_file`):
/// a bare name through every pattern (`z` → `libz.a`, `libz.so`, `libz.so.*`); a file name as
/// is, after the names its stem gives; names with `*` last.
fn candidate_names(file: &str, patterns: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let through = |stem: &str, names: &mut Vec<String>| {
        names.extend(patterns.iter().map(|p| p.replace('?', stem)));
    };
    if has_extension(file) {
        for p in patterns {
            if let Some(stem) = deconstruct(file, p) {
                through(&stem, &mut names);
            }
        }
        names.push(file.to_owned());
    } else {
        through(file, &mut names);
    }
    // Stable: plain names first, in order, then globs.
    let (plain, globs): (Vec<String>, Vec<String>) =
        names.into_iter().partition(|n| !n.contains('*'));
    let mut out: Vec<String> = Vec::new();
    for n in plain.into_iter().chain(globs) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// `%.[a-z]+$` or `%.[a-z]+%.`: the name has an extension.
fn has_extension(file: &str) -> bool {
    file.match_indices('.').any(|(at, _)| {
        let tail = &file[at + 1..];
        let n = tail.bytes().take_while(u8::is_ascii_lowercase).count();
        n > 0 && (n == tail.len() || tail.as_bytes()[n] == b'.')
    })
}

/// The `?` of `pattern` when `file` matches it (`libz.so` and `lib?.so` give `z`); `*`
/// matches anything.
fn deconstruct(file: &str, pattern: &str) -> Option<String> {
    let (before, after) = pattern.split_once('?')?;
    let rest = file.strip_prefix(before)?;
    // Greedy, as Lua's `(.*)`: the longest capture whose remainder matches.
    (0..=rest.len())
        .rev()
        .filter(|&n| rest.is_char_boundary(n))
        .find(|&n| glob_match(after, &rest[n..]))
        .map(|n| rest[..n].to_owned())
}

/// `*` matches any run of characters; everything else itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else { return false };
            (0..=rest.len())
                .filter(|&n| rest.is_char_boundary(n))
                .any(|n| glob_match(tail, &rest[n..]))
        }
    }
}

/// Whether `dir` holds a file named `name` (a `*` in it matches any entry).
fn exists_in(dir: &Path, name: &str) -> bool {
    if !name.contains('*') {
        return dir.join(name).is_file();
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| glob_match(name, &e.file_name().to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Rockspec, RockspecError> {
        let mut vars = Vars::new("x86_64-linux-gnu");
        vars.prefixes = vec![PathBuf::from("/nonexistent-prefix")];
        parse(Path::new("dir/t-1.0-1.rockspec"), text.as_bytes(), &vars)
    }

    #[test]
    fn minimal_pure_lua() {
        let r = read(
            r#"package = "Foo" version = "1.0-1"
               build = { type = "builtin", modules = { foo = "src/foo.lua", ["foo.bar"] = "src/foo/bar.lua" } }"#,
        )
        .unwrap();
        assert_eq!(r.name(), "foo");
        assert_eq!(r.file_name(), "foo-1.0-1.rockspec");
        assert_eq!(r.dir(), Path::new("dir"));
        assert_eq!(r.format, "1.0");
        let Backend::Builtin { modules } = &r.build.backend else { panic!() };
        assert_eq!(modules["foo.bar"], Module::Lua { path: "src/foo/bar.lua".into() });
    }

    #[test]
    fn version_must_have_a_revision() {
        let e = read(r#"package = "a" version = "1.0" build = { type = "none" }"#).unwrap_err();
        assert!(matches!(e, RockspecError::Version { .. }), "{e}");
        assert!(valid_version("1.0.beta-12"));
        assert!(!valid_version("1.0-"));
        assert!(!valid_version("1 0-1"));
    }

    #[test]
    fn format_3_defaults_to_builtin_but_needs_modules() {
        let e = read(r#"rockspec_format = "3.0" package = "a" version = "1.0-1""#).unwrap_err();
        assert!(matches!(e, RockspecError::NoModules { .. }), "{e}");
        let e = read(r#"package = "a" version = "1.0-1""#).unwrap_err();
        assert!(matches!(e, RockspecError::NoBuild { field: "build", .. }), "{e}");
        let e = read(r#"package = "a" version = "1.0-1" build = {}"#).unwrap_err();
        assert!(matches!(e, RockspecError::NoBuild { field: "build.type", .. }), "{e}");
        let e = read(r#"rockspec_format = "3.1" package = "a" version = "1.0-1""#).unwrap_err();
        assert!(matches!(e, RockspecError::Format { .. }), "{e}");
    }

    #[test]
    fn module_is_builtin_and_other_types() {
        let r = read(r#"package = "a" version = "1-1" build = { type = "module", modules = { a = "a.lua" } }"#)
            .unwrap();
        assert!(matches!(r.build.backend, Backend::Builtin { .. }));
        for (t, tool) in [("make", Tool::Make), ("cmake", Tool::Cmake), ("command", Tool::Command)]
        {
            let r = read(&format!(r#"package = "a" version = "1-1" build = {{ type = "{t}" }}"#))
                .unwrap();
            assert_eq!(r.build.backend, Backend::FromTree { tool });
        }
        let r = read(
            r#"package = "a" version = "1-1" build = { type = "none", install = { bin = { "bin/tool", x = "src/x.lua" }, lua = { "src/m.lua" } } }"#,
        )
        .unwrap();
        assert_eq!(r.build.backend, Backend::Nothing);
        assert_eq!(r.build.install.bin["tool"], "bin/tool");
        assert_eq!(r.build.install.bin["x"], "src/x.lua");
        assert_eq!(r.build.install.lua["m"], "src/m.lua");
        let e =
            read(r#"package = "a" version = "1-1" build = { type = "rust-mlua" }"#).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("\"rust-mlua\"")
                && text.contains("builtin, make, cmake, command and none"),
            "{text}"
        );
    }

    #[test]
    fn c_modules_in_every_form() {
        let r = read(
            r#"package = "a" version = "1-1"
               build = { type = "builtin", modules = {
                 one = "src/one.c",
                 two = { "src/two.c", "src/util.c", defines = "TWO" },
                 three = { sources = "src/three.c", defines = { "X=1", 2 }, incdirs = { "inc" }, libdirs = "libs" },
               } }"#,
        )
        .unwrap();
        let Backend::Builtin { modules } = &r.build.backend else { panic!() };
        assert_eq!(
            modules["one"],
            Module::C(CModule { sources: vec!["src/one.c".into()], ..Default::default() })
        );
        let Module::C(two) = &modules["two"] else { panic!() };
        assert_eq!(two.sources, ["src/two.c", "src/util.c"]);
        assert_eq!(two.defines, ["TWO"]);
        let Module::C(three) = &modules["three"] else { panic!() };
        assert_eq!(three.sources, ["src/three.c"]);
        assert_eq!(three.defines, ["X=1", "2"]);
        assert_eq!(three.incdirs, ["inc"]);
        assert_eq!(three.libdirs, ["libs"]);
        let e = read(r#"package = "a" version = "1-1" build = { type = "builtin", modules = { x = { defines = "A" } } }"#)
            .unwrap_err();
        assert!(
            matches!(&e, RockspecError::NoSources { field, .. } if field == "build.modules.x"),
            "{e}"
        );
        let e = read(
            r#"package = "a" version = "1-1" build = { type = "builtin", modules = { x = true } }"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "dir/t-1.0-1.rockspec: build.modules.x must be a file name or a table of sources, not a boolean");
    }

    #[test]
    fn platform_overrides_merge_unix_then_linux() {
        let r = read(
            r#"package = "a" version = "1-1"
               dependencies = { "lua >= 5.1", "x", platforms = { linux = { [2] = "y" }, windows = { "z" } } }
               build = { type = "builtin",
                 modules = { m = { sources = { "m.c", "common.c" }, defines = { "A" } } },
                 platforms = {
                   unix = { modules = { m = { defines = { "UNIX" }, libraries = { "m" } } } },
                   linux = { modules = { m = { defines = { [2] = "LINUX" } }, extra = "extra.lua" } },
                   win32 = { modules = { m = { defines = { "WIN" } } } },
                 } }
               external_dependencies = { platforms = { unix = { } } }"#,
        )
        .unwrap();
        let deps: Vec<String> = r.dependencies.iter().map(ToString::to_string).collect();
        assert_eq!(deps, ["lua >= 5.1", "y"]);
        let Backend::Builtin { modules } = &r.build.backend else { panic!() };
        let Module::C(m) = &modules["m"] else { panic!() };
        // Lists merge by index, as LuaRocks' deep_merge does.
        assert_eq!(m.defines, ["UNIX", "LINUX"]);
        assert_eq!(m.sources, ["m.c", "common.c"]);
        assert_eq!(m.libraries, ["m"]);
        assert_eq!(modules["extra"], Module::Lua { path: "extra.lua".into() });
    }

    #[test]
    fn variables_substituted_and_unknown_ones_refused() {
        let text = r#"package = "a" version = "1-1"
            external_dependencies = { FOO = { header = "foo.h", library = "foo" } }
            build = { type = "builtin", modules = { m = { sources = "m.c",
              incdirs = { "$(FOO_INCDIR)" }, libdirs = { "$(FOO_LIBDIR)" }, libraries = { "foo" },
              defines = { "EXT=\"$(LIB_EXTENSION)\"", "LITERAL=$(" } } } }"#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("include")).unwrap();
        std::fs::create_dir_all(dir.path().join("lib/x86_64-linux-gnu")).unwrap();
        std::fs::write(dir.path().join("include/foo.h"), "").unwrap();
        std::fs::write(dir.path().join("lib/x86_64-linux-gnu/libfoo.so.1"), "").unwrap();
        let mut vars = Vars::new("x86_64-linux-gnu");
        vars.prefixes = vec![PathBuf::from("/nonexistent-prefix"), dir.path().to_path_buf()];
        let r = parse(Path::new("a-1-1.rockspec"), text.as_bytes(), &vars).unwrap();
        let Backend::Builtin { modules } = &r.build.backend else { panic!() };
        let Module::C(m) = &modules["m"] else { panic!() };
        let prefix = dir.path().display().to_string();
        assert_eq!(m.incdirs, [format!("{prefix}/include")]);
        assert_eq!(m.libdirs, [format!("{prefix}/lib/x86_64-linux-gnu")]);
        assert_eq!(m.defines, ["EXT=\"so\"", "LITERAL=$("]);
        assert_eq!(r.variables["FOO_DIR"], prefix);

        let e = read(r#"package = "a" version = "1-1" build = { type = "builtin", modules = { m = { sources = "m.c", incdirs = "$(LUA_INCDIR)" } } }"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/t-1.0-1.rockspec: build.modules.m.incdirs uses $(LUA_INCDIR), which is not set; set it with LUA_INCDIR=VALUE"
        );
        let mut vars = Vars::new("");
        vars.assign("LUA_INCDIR=/opt/lj/include").unwrap();
        assert!(
            vars.assign("=x").is_err() && vars.assign("1A=x").is_err() && vars.assign("A").is_err()
        );
        let r = parse(
            Path::new("a-1-1.rockspec"),
            br#"package = "a" version = "1-1" build = { type = "builtin", modules = { m = { sources = "m.c", incdirs = "$(LUA_INCDIR)/x" } } }"#,
            &vars,
        )
        .unwrap();
        let Backend::Builtin { modules } = &r.build.backend else { panic!() };
        let Module::C(m) = &modules["m"] else { panic!() };
        assert_eq!(m.incdirs, ["/opt/lj/include/x"]);
    }

    #[test]
    fn externals_derived_from_libraries() {
        let mut modules = BTreeMap::from([(
            "m".to_owned(),
            Module::C(CModule {
                sources: vec!["m.c".into()],
                libraries: vec!["stdc++".into(), "z".into()],
                ..Default::default()
            }),
        )]);
        let e = derive_externals(&mut modules);
        assert_eq!(e.keys().collect::<Vec<_>>(), ["STDCPP", "Z"]);
        let Module::C(m) = &modules["m"] else { panic!() };
        assert_eq!(m.incdirs, ["$(STDCPP_INCDIR)", "$(Z_INCDIR)"]);
    }

    #[test]
    fn missing_external_names_file_and_variable() {
        let e = read(
            r#"package = "a" version = "1-1" external_dependencies = { ZLIB = { header = "zlib.h" } }
               build = { type = "builtin", modules = { m = "m.c" } }"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "dir/t-1.0-1.rockspec: external dependency ZLIB: header zlib.h not found in /nonexistent-prefix/include; install it (its development package), or say where it is with ZLIB_DIR=<prefix> or ZLIB_INCDIR=<directory>"
        );
        let e = read(
            r#"package = "a" version = "1-1" external_dependencies = { SSL = { library = "ssl" } }
               build = { type = "builtin", modules = { m = "m.c" } }"#,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("library ssl (libssl.a, libssl.so, libssl.so.*) not found in /nonexistent-prefix/lib, /nonexistent-prefix/lib/x86_64-linux-gnu, /nonexistent-prefix/lib64"), "{text}");
        assert!(text.contains("SSL_LIBDIR=<directory>"), "{text}");
    }

    #[test]
    fn file_names() {
        let lib = ["lib?.a", "lib?.so", "lib?.so.*"];
        assert_eq!(candidate_names("z", &lib), ["libz.a", "libz.so", "libz.so.*"]);
        assert_eq!(candidate_names("libz.so", &lib), ["libz.a", "libz.so", "libz.so.*"]);
        assert_eq!(candidate_names("zlib.h", &["?.h"]), ["zlib.h"]);
        assert_eq!(candidate_names("openssl/ssl.h", &["?.h"]), ["openssl/ssl.h"]);
        assert!(glob_match("libz.so.*", "libz.so.1.2.13"));
        assert!(!glob_match("libz.so.*", "libz.so"));
        assert!(
            has_extension("libz.so.1")
                && has_extension("a.h")
                && !has_extension("z")
                && !has_extension("x.1")
        );
    }

    #[test]
    fn substitution() {
        let v = BTreeMap::from([("AB".to_owned(), "1".to_owned())]);
        assert_eq!(substitute("x$(AB)y$(AB)", &v).unwrap(), "x1y1");
        assert_eq!(substitute("$(A) $(", &v).unwrap(), "$(A) $(");
        assert_eq!(substitute("$(CD)", &v).unwrap_err(), "CD");
    }
}
