//! The bill of materials (docs/FORMAT.md, "MANIFEST"; docs/INSPECT.md): for every payload
//! entry, the file it came from (paths remapped), the SHA-256 of the bytes read, where it was
//! found (the main script's directory, an `-I` or `LUA_PATH` root, a LuaRocks tree and its
//! rock) and who pulled it in; for every packed library its SONAME and file; and the bundler,
//! the LuaJIT and the build flags. Written as the optional MANIFEST record, compact JSON, which
//! the runtime never reads; `bundle inspect`, `size` and `diff` do.
//!
//! Deterministic: entries sorted by name, fields in declaration order, no hash maps, no times.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::base::remap::Remap;
use crate::graph::unit::{Origin as UnitOrigin, UnitKind};
use crate::graph::Graph;
use crate::output::program::Files;

/// Version of the MANIFEST document; changes when a field changes meaning or disappears.
pub const SCHEMA: u32 = 1;

/// The whole bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bom {
    pub schema: u32,
    /// `bundle 0.1.0`.
    pub bundler: String,
    /// The stub's LuaJIT version (`Target::luajit`).
    pub luajit: String,
    /// The flags that shaped the program, normalised (`--include=/app/lib`, `--strip`).
    pub flags: Vec<String>,
    /// One per payload entry that came from a file or the runtime, by entry name.
    pub entries: Vec<BomEntry>,
}

/// One payload entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BomEntry {
    /// The payload entry's name: empty for the main script, `/NAME` for an entry point's
    /// script, `?MOUNT` for an asset, the DT_NEEDED name for a library.
    pub name: String,
    /// `lua`, `native`, `library` or `asset`.
    pub kind: String,
    /// The file read: `./`-relative under the main script's directory, else absolute and
    /// remapped; empty for what the runtime ships.
    pub path: String,
    /// SHA-256 of the bytes read (before compiling), hexadecimal.
    pub sha256: String,
    /// Bytes read.
    pub size: u64,
    pub origin: Origin,
    /// Who pulled it in: `main.lua:3` (a require), `-m`, `-l`, `--entry`, `--trace`,
    /// `--asset`, `bundle` (the runtime), or the module a library is needed by.
    pub required_by: String,
    /// A library's DT_SONAME, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soname: Option<String>,
}

/// Where an entry was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// `main` (the main script's directory), `include` (`-I`), `path` (`LUA_PATH`/`LUA_CPATH`
    /// or the default path), `tree` (a LuaRocks tree), `runtime`, `asset`, `system` (a library
    /// found by the loader's search).
    pub kind: String,
    /// The root directory, remapped; empty when there is none.
    pub root: String,
    /// For a tree: the rock whose file it is, when the tree's manifest says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rock: Option<Rock>,
}

/// A LuaRocks rock.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rock {
    pub name: String,
    pub version: String,
    /// `description.license` of the installed rockspec, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
}

/// A directory modules are found under, and for a LuaRocks tree the rock of each module.
#[derive(Debug, Clone)]
pub struct Root {
    /// `main`, `include`, `path` or `tree`.
    pub kind: &'static str,
    pub dir: PathBuf,
    /// Module name → its rock (trees only).
    pub rocks: BTreeMap<String, Rock>,
}

impl Bom {
    /// The JSON value of the MANIFEST record.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a MANIFEST record's value.
    pub fn decode(value: &[u8]) -> Result<Bom, String> {
        serde_json::from_slice(value).map_err(|e| format!("the MANIFEST record is not valid: {e}"))
    }

    /// The entry named `name`.
    pub fn entry(&self, name: &str) -> Option<&BomEntry> {
        self.entries.binary_search_by(|e| e.name.as_str().cmp(name)).ok().map(|i| &self.entries[i])
    }
}

/// SHA-256 of `bytes`, hexadecimal.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The bill of materials of a program made of `graph` and `files`. `roots` are the places
/// modules are looked up from (the longest that holds a file is its origin); `remap` rewrites
/// every path recorded.
pub fn build(
    graph: &Graph,
    files: &Files,
    roots: &[Root],
    remap: &Remap,
    luajit: &str,
    flags: &[String],
) -> Bom {
    let canonical: Vec<(PathBuf, &Root)> =
        roots.iter().map(|r| (r.dir.canonicalize().unwrap_or_else(|_| r.dir.clone()), r)).collect();
    // Files under the main script's directory are recorded relative to it (`./lib/util.lua`),
    // as luajit's chunk names show them: the default build does not depend on where the
    // project is. Anything else is absolute, remapped.
    let main = canonical.iter().find(|(_, r)| r.kind == "main").map(|(d, _)| d.clone());
    let shown = |path: &Path| -> String {
        match main.as_deref().and_then(|m| path.strip_prefix(m).ok()) {
            Some(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
            Some(rel) => format!("./{}", rel.to_string_lossy()),
            None => remap.text(path),
        }
    };
    let origin_of = |path: &Path, module: Option<&str>| -> Origin {
        let found = canonical
            .iter()
            .filter(|(dir, _)| path.starts_with(dir))
            .max_by_key(|(dir, _)| dir.components().count());
        match found {
            Some((dir, root)) => Origin {
                kind: root.kind.to_owned(),
                root: shown(dir),
                rock: module.and_then(|m| root.rocks.get(m)).cloned(),
            },
            None => Origin {
                kind: "path".to_owned(),
                root: path.parent().map(&shown).unwrap_or_default(),
                rock: None,
            },
        }
    };
    let mut entries = Vec::new();
    for u in &graph.units {
        let required_by = match &u.origin {
            UnitOrigin::Main => String::new(),
            UnitOrigin::Entry(_) => "--entry".to_owned(),
            UnitOrigin::Explicit | UnitOrigin::Glob(_) => "-m".to_owned(),
            UnitOrigin::Preload => "-l".to_owned(),
            UnitOrigin::Runtime => "bundle".to_owned(),
            UnitOrigin::Traced => "--trace".to_owned(),
            UnitOrigin::Required { by, line } => match graph.units.get(*by) {
                Some(b) => format!("{}:{line}", b.label()),
                None => String::new(),
            },
        };
        let origin = if u.runtime {
            Origin { kind: "runtime".into(), root: String::new(), rock: None }
        } else if u.is_main() || u.entry().is_some() {
            Origin {
                kind: "main".into(),
                root: u.path.parent().map(&shown).unwrap_or_default(),
                rock: None,
            }
        } else {
            origin_of(&u.path, u.name.as_deref())
        };
        entries.push(BomEntry {
            name: u.name.clone().unwrap_or_default(),
            kind: match u.kind {
                UnitKind::Lua => "lua",
                UnitKind::Native => "native",
            }
            .to_owned(),
            path: if u.runtime { String::new() } else { shown(&u.path) },
            sha256: sha256_hex(&u.source),
            size: u.source.len() as u64,
            origin,
            required_by,
            soname: None,
        });
    }
    for (name, lib) in &graph.libraries {
        entries.push(BomEntry {
            name: name.clone(),
            kind: "library".to_owned(),
            path: shown(&lib.path),
            sha256: sha256_hex(&lib.bytes),
            size: lib.bytes.len() as u64,
            origin: Origin {
                kind: "system".into(),
                root: lib.path.parent().map(&shown).unwrap_or_default(),
                rock: None,
            },
            required_by: lib.needed_by.clone(),
            soname: soname(&lib.bytes),
        });
    }
    for a in &files.assets {
        let name = bundle_runtime::format::asset_name(a.mount.as_bytes());
        entries.push(BomEntry {
            name: String::from_utf8_lossy(&name).into_owned(),
            kind: "asset".to_owned(),
            path: shown(&a.file),
            sha256: sha256_hex(&a.bytes),
            size: a.bytes.len() as u64,
            origin: Origin { kind: "asset".into(), root: String::new(), rock: None },
            required_by: "--asset".to_owned(),
            soname: None,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    Bom {
        schema: SCHEMA,
        bundler: format!("bundle {}", env!("CARGO_PKG_VERSION")),
        luajit: luajit.to_owned(),
        flags: flags.to_vec(),
        entries,
    }
}

/// A shared object's DT_SONAME.
fn soname(bytes: &[u8]) -> Option<String> {
    // goblin is not promised to be panic-free on hostile input: contain it.
    std::panic::catch_unwind(|| goblin::elf::Elf::parse(bytes).ok()?.soname.map(str::to_owned))
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_finds_entries() {
        let bom = Bom {
            schema: SCHEMA,
            bundler: "bundle 0".into(),
            luajit: "2.1".into(),
            flags: vec!["--strip".into()],
            entries: vec![BomEntry {
                name: "a".into(),
                kind: "lua".into(),
                path: "/app/a.lua".into(),
                sha256: sha256_hex(b""),
                size: 0,
                origin: Origin { kind: "main".into(), root: "/app".into(), rock: None },
                required_by: "(main):1".into(),
                soname: None,
            }],
        };
        assert_eq!(Bom::decode(&bom.encode()).unwrap(), bom);
        assert!(bom.entry("a").is_some() && bom.entry("b").is_none());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(Bom::decode(b"{").unwrap_err().contains("MANIFEST"));
    }
}
