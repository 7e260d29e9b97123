//! The set of Lua units to pack: the main script and every module, read from disk with the chunk
//! name each will carry at run time. (Automatic discovery of `require`d modules builds on this.)

use std::path::Path;

use crate::plan::{BuildPlan, Input};
use crate::Error;

/// A Lua file and what the runtime needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Module name; `None` for the main script.
    pub name: Option<String>,
    /// The path as the user wrote it, for messages.
    pub display: String,
    /// Chunk name for `luaL_loadbuffer`, see [`chunkname`].
    pub chunkname: String,
    pub source: Vec<u8>,
}

impl Unit {
    pub fn is_main(&self) -> bool {
        self.name.is_none()
    }
}

/// The chunk name `luajit main.lua`, run from the main script's directory, gives the file:
/// the main script is `@main.lua`; a module found through the default `./?.lua` template is
/// `@./lib/util.lua`; a file outside that directory keeps its absolute path, as a search-path
/// template with an absolute directory would give it.
pub fn chunkname(root: &Path, path: &Path, is_main: bool) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if is_main => format!("@{}", rel.display()),
        Ok(rel) => format!("@./{}", rel.display()),
        Err(_) => format!("@{}", path.display()),
    }
}

fn read(input: &Input, root: &Path) -> Result<Unit, Error> {
    let source = std::fs::read(&input.path)
        .map_err(|source| Error::Read { path: input.display.clone().into(), source })?;
    Ok(Unit {
        name: input.name.clone(),
        display: input.display.clone(),
        chunkname: chunkname(root, &input.path, input.name.is_none()),
        source,
    })
}

/// Reads the main script and the modules of `plan`.
pub fn collect(plan: &BuildPlan) -> Result<Vec<Unit>, Error> {
    std::iter::once(&plan.main).chain(&plan.modules).map(|i| read(i, &plan.root)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunknames_follow_luajit() {
        let root = Path::new("/app");
        assert_eq!(chunkname(root, Path::new("/app/main.lua"), true), "@main.lua");
        assert_eq!(chunkname(root, Path::new("/app/lib/util.lua"), false), "@./lib/util.lua");
        assert_eq!(chunkname(root, Path::new("/app/pkg/init.lua"), false), "@./pkg/init.lua");
        assert_eq!(
            chunkname(root, Path::new("/usr/share/lua/5.1/x.lua"), false),
            "@/usr/share/lua/5.1/x.lua"
        );
    }
}
