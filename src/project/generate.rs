//! Writes a `builtin` rockspec for a program (issue 16, "the other direction"): its own Lua
//! modules and C modules under `build.modules`, its main script as `build.install.bin`, the
//! rocks it uses as dependencies pinned with `~>` at the installed major.minor, and
//! placeholders, marked `FIXME`, for what only a person can say (where the sources are, what
//! the program is, its licence).
//!
//! The text is deterministic (every table sorted by key) and is accepted by `luarocks lint`:
//! rockspec format 3.0, a `name-version-revision` version, a licence field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::project::rockspec::CModule;
use crate::project::version::Version;

/// What the rockspec describes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    /// The rock's name (`myapp`).
    pub package: String,
    /// `version-revision` (`1.0-1`, `dev-1`).
    pub version: String,
    /// `source.url`; a placeholder when `None`.
    pub url: Option<String>,
    /// `description.summary`; a placeholder when `None`.
    pub summary: Option<String>,
    /// `description.license`; a placeholder when `None`.
    pub license: Option<String>,
    /// `description.homepage`; a placeholder when `None`.
    pub homepage: Option<String>,
    /// The program's own Lua modules: module name → path relative to the rockspec.
    pub lua_modules: BTreeMap<String, String>,
    /// Its C modules with their sources (paths relative to the rockspec).
    pub c_modules: BTreeMap<String, CModule>,
    /// Commands: name → script (the main script), installed by LuaRocks into `bin/`.
    pub bin: BTreeMap<String, String>,
    /// Rocks the program uses: name → installed version. `lua`, `luajit` are the runtime's
    /// and left out (the rockspec says `lua ~> 5.1` itself).
    pub dependencies: BTreeMap<String, Version>,
}

/// Why no rockspec can be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "\"{0}\" cannot be a rock's name: use letters, digits, '.', '-' and '_', starting with a letter or digit"
    )]
    Package(String),
    #[error(
        "\"{0}\" cannot be a rockspec's version: write the program's version, a dash and the rockspec's revision, such as \"1.0-1\" or \"dev-1\""
    )]
    Version(String),
}

/// The file name LuaRocks expects for the rockspec of `program` (`myapp-1.0-1.rockspec`).
pub fn file_name(program: &Program) -> String {
    format!("{}-{}.rockspec", program.package.to_lowercase(), program.version)
}

/// `~> major.minor` of an installed version (`1.2.3-1` → `~> 1.2`; `3-1` → `~> 3`), or `None`
/// when it does not start with a number (`scm-1`, `dev-1`): any version then.
pub fn pessimistic(version: &Version) -> Option<String> {
    let mut numbers: Vec<&str> = Vec::new();
    for part in version.without_revision().split('.').take(2) {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            numbers.push(&part[..digits]);
        }
        // `2.0rc1` gives `2.0`; nothing after a part that is not only digits.
        if digits == 0 || digits < part.len() {
            break;
        }
    }
    (!numbers.is_empty()).then(|| format!("~> {}", numbers.join(".")))
}

/// The rockspec's text.
pub fn rockspec(program: &Program) -> Result<String, GenerateError> {
    let package = &program.package;
    let name_ok = package.starts_with(|c: char| c.is_ascii_alphanumeric())
        && package.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !name_ok {
        return Err(GenerateError::Package(package.clone()));
    }
    let version_ok = program.version.rsplit_once('-').is_some_and(|(v, rev)| {
        !v.is_empty()
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            && !rev.is_empty()
            && rev.chars().all(|c| c.is_ascii_digit())
    });
    if !version_ok {
        return Err(GenerateError::Version(program.version.clone()));
    }

    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "-- The rockspec of {package}, written by `bundle rockspec`.");
    let _ = writeln!(w, "-- Fill in the fields marked FIXME; `luarocks lint` checks the result,");
    let _ = writeln!(w, "-- `luarocks make` installs the program from its source directory.");
    let _ = writeln!(w, "rockspec_format = \"3.0\"");
    let _ = writeln!(w, "package = {}", quote(package));
    let _ = writeln!(w, "version = {}", quote(&program.version));

    let _ = writeln!(w, "source = {{");
    field(
        w,
        1,
        "url",
        program.url.as_deref(),
        &format!("git+https://FIXME.invalid/{package}.git"),
        "where LuaRocks fetches the sources: a git URL or an archive's",
    );
    let _ = writeln!(w, "}}");

    let _ = writeln!(w, "description = {{");
    field(
        w,
        1,
        "summary",
        program.summary.as_deref(),
        &format!("FIXME: what {package} does, in one line"),
        "what the program does, in one line",
    );
    field(w, 1, "license", program.license.as_deref(), "FIXME", "the licence, such as \"MIT\"");
    field(
        w,
        1,
        "homepage",
        program.homepage.as_deref(),
        &format!("https://FIXME.invalid/{package}"),
        "the project's home page",
    );
    let _ = writeln!(w, "}}");

    let _ = writeln!(w, "dependencies = {{");
    let _ = writeln!(w, "   -- The program was bundled for LuaJIT, a Lua 5.1.");
    let _ = writeln!(w, "   {},", quote("lua ~> 5.1"));
    for (rock, version) in &program.dependencies {
        if matches!(rock.as_str(), "lua" | "luajit" | "luabitop") {
            continue;
        }
        match pessimistic(version) {
            Some(c) => {
                let _ = writeln!(w, "   {},", quote(&format!("{rock} {c}")));
            }
            None => {
                let _ = writeln!(w, "   {}, -- installed: {version}", quote(rock));
            }
        }
    }
    let _ = writeln!(w, "}}");

    let _ = writeln!(w, "build = {{");
    let _ = writeln!(w, "   type = \"builtin\",");
    let _ = writeln!(w, "   modules = {{");
    // One sorted list: a module is either Lua or C.
    let mut modules: BTreeMap<&str, Option<&CModule>> = BTreeMap::new();
    for name in program.lua_modules.keys() {
        modules.insert(name, None);
    }
    for (name, c) in &program.c_modules {
        modules.insert(name, Some(c));
    }
    for (name, c) in modules {
        match c {
            None => {
                let _ =
                    writeln!(w, "      [{}] = {},", quote(name), quote(&program.lua_modules[name]));
            }
            Some(c) => {
                let _ = writeln!(w, "      [{}] = {{", quote(name));
                for (key, list) in [
                    ("sources", &c.sources),
                    ("defines", &c.defines),
                    ("incdirs", &c.incdirs),
                    ("libraries", &c.libraries),
                    ("libdirs", &c.libdirs),
                ] {
                    if !list.is_empty() {
                        let items: Vec<String> = list.iter().map(|s| quote(s)).collect();
                        let _ = writeln!(w, "         {key} = {{ {} }},", items.join(", "));
                    }
                }
                let _ = writeln!(w, "      }},");
            }
        }
    }
    let _ = writeln!(w, "   }},");
    if !program.bin.is_empty() {
        let _ = writeln!(w, "   install = {{");
        let _ = writeln!(w, "      bin = {{");
        for (name, path) in &program.bin {
            let _ = writeln!(w, "         [{}] = {},", quote(name), quote(path));
        }
        let _ = writeln!(w, "      }},");
        let _ = writeln!(w, "   }},");
    }
    let _ = writeln!(w, "}}");
    Ok(out)
}

/// `key = value,` at `depth`, or the placeholder after a `-- FIXME:` line saying what to write.
fn field(
    out: &mut String,
    depth: usize,
    key: &str,
    value: Option<&str>,
    placeholder: &str,
    what: &str,
) {
    let indent = "   ".repeat(depth);
    match value {
        Some(v) => {
            let _ = writeln!(out, "{indent}{key} = {},", quote(v));
        }
        None => {
            let _ = writeln!(out, "{indent}-- FIXME: {what}.");
            let _ = writeln!(out, "{indent}{key} = {},", quote(placeholder));
        }
    }
}

/// A Lua string literal: `"`, `\` and control characters escaped (Lua 5.1 manual §2.1).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                // A decimal escape of three digits, so that a digit after it is not read as
                // part of it.
                let _ = write!(out, "\\{:03}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pessimistic_constraints() {
        let p = |s: &str| pessimistic(&Version::parse(s));
        assert_eq!(p("1.2.3-1").as_deref(), Some("~> 1.2"));
        assert_eq!(p("3-1").as_deref(), Some("~> 3"));
        assert_eq!(p("2.0rc1-1").as_deref(), Some("~> 2.0"));
        assert_eq!(p("20180920-2").as_deref(), Some("~> 20180920"));
        assert_eq!(p("1rc2.3-1").as_deref(), Some("~> 1"));
        assert_eq!(p("scm-1"), None);
        assert_eq!(p("dev-1"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\009e""#);
        assert_eq!(quote("ü"), "\"ü\"");
    }

    #[test]
    fn names_and_versions_checked() {
        let p = Program { package: "my app".into(), version: "1.0-1".into(), ..Program::default() };
        assert!(matches!(rockspec(&p), Err(GenerateError::Package(_))));
        let p = Program { package: "app".into(), version: "1.0".into(), ..Program::default() };
        assert!(matches!(rockspec(&p), Err(GenerateError::Version(_))));
        let p = Program { package: "App".into(), version: "dev-1".into(), ..Program::default() };
        assert_eq!(file_name(&p), "app-dev-1.rockspec");
        assert!(rockspec(&p)
            .unwrap()
            .contains("   -- FIXME: the licence, such as \"MIT\".\n   license = \"FIXME\",\n"));
    }
}
