//! Native (C) modules: checks that a shared object can be packed for the stub (ELF, same
//! architecture, exports the `luaopen_*` function Lua's C loader would call), and finds the
//! shared libraries it needs (`DT_NEEDED`, read with goblin) the way the dynamic loader would on
//! this machine: `DT_RPATH`, `LD_LIBRARY_PATH`, `DT_RUNPATH`, the directories of
//! `/etc/ld.so.conf`, then the default and multiarch directories. Libraries of the base system
//! (glibc's own and libgcc_s) are left to the target machine.

use std::path::{Path, PathBuf};

use goblin::elf::Elf;

use crate::base::target::LibrarySearch;

/// Libraries every glibc system has: never packed.
pub const BASE_SYSTEM: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libgcc_s.so.1",
    "libutil.so.1",
    "libresolv.so.2",
];

/// Whether `soname` is part of the base system (glibc, its dynamic loader, libgcc_s).
pub fn is_base_system(soname: &str) -> bool {
    BASE_SYSTEM.contains(&soname)
        || soname.starts_with("ld-linux")
        || soname.starts_with("linux-vdso")
}

/// What the checks found in a shared object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub needed: Vec<String>,
    pub soname: Option<String>,
    rpath: Vec<String>,
    runpath: Vec<String>,
}

fn machine_name(m: u16) -> String {
    goblin::elf::header::machine_to_str(m).to_lowercase()
}

/// Why a file cannot be packed as a C module or library; the text completes "C module 'x' at
/// FILE: ..." or "it needs LIB (FILE), which is ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NativeError {
    #[error("not an ELF shared object")]
    NotElf,
    #[error("built for {found}, but the stub is {stub}")]
    Machine { found: String, stub: String },
    #[error("not a shared object (ELF type is not ET_DYN)")]
    NotShared,
    #[error("it does not export {0}")]
    NoSymbol(String),
    #[error("not a readable ELF file")]
    Unreadable,
}

/// Parses `bytes` as a shared object for machine `machine`; with `luaopen`, also checks that
/// the symbol is defined and exported.
pub fn check(bytes: &[u8], machine: u16, luaopen: Option<&[u8]>) -> Result<Object, NativeError> {
    // goblin is not promised to be panic-free on hostile input: contain it.
    let parsed = std::panic::catch_unwind(|| -> Result<Object, NativeError> {
        let elf = Elf::parse(bytes).map_err(|_| NativeError::NotElf)?;
        if elf.header.e_machine != machine {
            return Err(NativeError::Machine {
                found: machine_name(elf.header.e_machine),
                stub: machine_name(machine),
            });
        }
        if elf.header.e_type != goblin::elf::header::ET_DYN {
            return Err(NativeError::NotShared);
        }
        if let Some(sym) = luaopen {
            let found = elf.dynsyms.iter().any(|s| {
                s.st_shndx != 0
                    && elf.dynstrtab.get_at(s.st_name).is_some_and(|n| n.as_bytes() == sym)
            });
            if !found {
                return Err(NativeError::NoSymbol(String::from_utf8_lossy(sym).into_owned()));
            }
        }
        Ok(Object {
            needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
            soname: elf.soname.map(str::to_owned),
            rpath: elf.rpaths.iter().flat_map(|r| r.split(':')).map(str::to_owned).collect(),
            runpath: elf.runpaths.iter().flat_map(|r| r.split(':')).map(str::to_owned).collect(),
        })
    });
    parsed.unwrap_or(Err(NativeError::Unreadable))
}

/// The ELF machine of an executable (the stub).
pub fn machine_of(bytes: &[u8]) -> Option<u16> {
    std::panic::catch_unwind(|| Elf::parse_header(bytes).ok().map(|h| h.e_machine)).ok().flatten()
}

/// Directories named in `/etc/ld.so.conf` and the files it includes.
fn ld_so_conf_dirs(path: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    for line in
        text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty())
    {
        if let Some(pattern) = line.strip_prefix("include") {
            if depth > 4 {
                continue;
            }
            let pattern = pattern.trim();
            let pattern = if Path::new(pattern).is_absolute() {
                PathBuf::from(pattern)
            } else {
                path.parent().unwrap_or(Path::new("/")).join(pattern)
            };
            // Only `dir/*.conf`-style patterns occur in practice.
            let (dir, suffix) = match pattern.to_str().and_then(|p| p.rsplit_once("/*")) {
                Some((d, s)) => (PathBuf::from(d), s.to_owned()),
                None => {
                    ld_so_conf_dirs(&pattern, depth + 1, out);
                    continue;
                }
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(&suffix))
                .collect();
            files.sort();
            for f in files {
                ld_so_conf_dirs(&f, depth + 1, out);
            }
        } else {
            out.push(PathBuf::from(line));
        }
    }
}

impl Object {
    /// An object that needs nothing and has no search paths of its own.
    pub fn empty() -> Self {
        Object { needed: Vec::new(), soname: None, rpath: Vec::new(), runpath: Vec::new() }
    }

    /// The object's own DT_RPATH directories, `$ORIGIN` expanded, if it has no DT_RUNPATH (a
    /// RUNPATH disables the RPATHs, its own and those inherited from the loading chain).
    pub fn rpath_dirs(&self, origin: &Path) -> Vec<PathBuf> {
        if self.runpath.is_empty() {
            self.rpath.iter().map(|p| expand_origin(p, origin)).collect()
        } else {
            Vec::new()
        }
    }
}

fn expand_origin(p: &str, origin: &Path) -> PathBuf {
    let o = origin.display().to_string();
    PathBuf::from(p.replace("${ORIGIN}", &o).replace("$ORIGIN", &o))
}

/// Where the dynamic loader would look for the libraries `object` (which lives in `origin`, the
/// directory as opened, symlinks not resolved) needs, in order (ld.so(8)): its DT_RPATH and those
/// of the objects that loaded it (`inherited`), unless it has a DT_RUNPATH; LD_LIBRARY_PATH; its
/// DT_RUNPATH; the directories of /etc/ld.so.conf; the default and multiarch directories.
pub fn search_dirs(
    object: &Object,
    origin: &Path,
    inherited: &[PathBuf],
    machine: &LibrarySearch,
) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if object.runpath.is_empty() {
        dirs.extend(object.rpath_dirs(origin));
        dirs.extend(inherited.iter().cloned());
    }
    dirs.extend(machine.env.iter().cloned());
    dirs.extend(object.runpath.iter().map(|p| expand_origin(p, origin)));
    dirs.extend(machine.system.iter().cloned());
    dirs
}

/// This machine's part of the library search for code of multiarch tuple `multiarch`:
/// LD_LIBRARY_PATH, then the directories of /etc/ld.so.conf followed by the default and
/// multiarch directories.
pub fn library_search(multiarch: &str) -> LibrarySearch {
    let env = std::env::var_os("LD_LIBRARY_PATH")
        .map(|ld| std::env::split_paths(&ld).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    let mut system = Vec::new();
    ld_so_conf_dirs(Path::new("/etc/ld.so.conf"), 0, &mut system);
    for d in ["/lib", "/usr/lib"] {
        if !multiarch.is_empty() {
            system.push(Path::new(d).join(multiarch));
        }
        system.push(PathBuf::from(d));
    }
    LibrarySearch { env, system }
}

/// Finds `needed` for `object`: the first directory holding a file of that name.
pub fn find_library(
    needed: &str,
    object: &Object,
    origin: &Path,
    inherited: &[PathBuf],
    machine: &LibrarySearch,
) -> Result<PathBuf, Vec<PathBuf>> {
    if needed.contains('/') {
        let p = PathBuf::from(needed);
        return if p.is_file() { Ok(p) } else { Err(vec![p]) };
    }
    let dirs = search_dirs(object, origin, inherited, machine);
    dirs.iter().map(|d| d.join(needed)).find(|p| p.is_file()).ok_or(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> LibrarySearch {
        let m = machine_of(crate::base::stub::EMBEDDED).unwrap();
        library_search(crate::base::target::multiarch_of(m))
    }

    #[test]
    fn base_system_is_left_out() {
        for s in
            ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libgcc_s.so.1", "libpthread.so.0"]
        {
            assert!(is_base_system(s), "{s}");
        }
        assert!(!is_base_system("libuv.so.1"));
    }

    #[test]
    fn the_stub_is_checked_against_its_own_machine() {
        let m = machine_of(crate::base::stub::EMBEDDED).unwrap();
        assert_eq!(check(b"not elf", m, None).unwrap_err(), NativeError::NotElf);
        let err = check(crate::base::stub::EMBEDDED, m, Some(b"luaopen_nothing")).unwrap_err();
        assert_eq!(err.to_string(), "it does not export luaopen_nothing");
        // The stub exports the Lua C API.
        assert!(check(crate::base::stub::EMBEDDED, m, Some(b"luaopen_base")).is_ok());
    }

    #[test]
    fn rpath_order_follows_ld_so() {
        let with_rpath = Object {
            needed: vec![],
            soname: None,
            rpath: vec!["$ORIGIN/deps".into()],
            runpath: vec![],
        };
        let dirs =
            search_dirs(&with_rpath, Path::new("/m"), &[PathBuf::from("/inherited")], &host());
        assert_eq!(&dirs[..2], &[PathBuf::from("/m/deps"), PathBuf::from("/inherited")]);
        let with_runpath = Object { runpath: vec!["/run".into()], ..with_rpath };
        let dirs =
            search_dirs(&with_runpath, Path::new("/m"), &[PathBuf::from("/inherited")], &host());
        assert!(!dirs.contains(&PathBuf::from("/m/deps")), "a RUNPATH disables RPATH");
        assert!(!dirs.contains(&PathBuf::from("/inherited")));
        assert!(dirs.contains(&PathBuf::from("/run")));
    }

    #[test]
    fn libc_is_found_where_the_loader_finds_it() {
        let empty = Object { needed: vec![], soname: None, rpath: vec![], runpath: vec![] };
        let found = find_library("libc.so.6", &empty, Path::new("/"), &[], &host())
            .expect("libc on this machine");
        assert!(found.ends_with("libc.so.6"));
        assert!(
            find_library("libdoes-not-exist.so.9", &empty, Path::new("/"), &[], &host()).is_err()
        );
    }
}
