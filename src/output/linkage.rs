//! Which of the two embedded stubs an executable starts from: the static one (glibc linked in,
//! no `PT_INTERP`: it runs on a machine with no library at all, and starts without the dynamic
//! loader's work) or the dynamic one (the system's libc and loader: it can load C modules).
//!
//! Left to itself (no `--static` or `--dynamic`), the build links statically exactly when
//! nothing in the program can load C code, so that the choice never changes what it does: no
//! C module packed; every module it requires packed (none left to the run-time search, which
//! may find a C module there: not found here, left out with `-x`, or a C module here); no
//! interpreter, whose command line may `require` anything; no file that requires `"ffi"`
//! (`ffi.load`, and `ffi.C` beyond the executable's own symbols), names `package.loadlib`, or
//! requires a name computed at run time. A static executable still loads Lua modules from
//! disk; a C module asked for at run time (`--static`, or code the scan cannot see, such as
//! `load("require 'lfs'")`) fails with an error that names `--dynamic`
//! (runtime/host/host.c, `static_searcher`).

use crate::base::target::{LinkChoice, Linkage};
use crate::graph::scan::Target;
use crate::graph::{Graph, UnitKind, Unpacked};

/// Why a program cannot be linked statically.
#[derive(Debug, thiserror::Error)]
pub enum LinkageError {
    #[error(
        "--static: {module} is a C module ({path}), which a statically linked executable \
         cannot load; drop --static, or leave the module out with -x {module}"
    )]
    CModule { module: String, path: String },
}

/// The linkage chosen for a build, and why it is dynamic when it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub linkage: Linkage,
    /// What made the program dynamic: `None` when it is static, or dynamic by `--dynamic`.
    pub reason: Option<String>,
}

/// What in the program may load C code, first found: a packed C module; a name it requires
/// that is left to the run-time search (a C module on this machine, a module not found here or
/// left out with `-x`, which the machine it runs on may have as a C module); the interpreter; a
/// require of `"ffi"`; `package.loadlib`; a require whose name is computed at run time.
pub fn loads_c(graph: &Graph, interpreter: bool) -> Option<String> {
    if let Some(u) = graph.units.iter().find(|u| u.kind == UnitKind::Native) {
        let name = u.name.as_deref().unwrap_or(&u.display);
        return Some(format!("it packs the C module {name} ({})", u.display));
    }
    for (name, (why, _)) in &graph.unpacked {
        let reason = match why {
            Unpacked::CModule { shown, .. } => format!("{name} is a C module here ({shown})"),
            Unpacked::Missing { .. } | Unpacked::Directory { .. } => {
                format!("{name} is left to the run-time search, where it may be a C module")
            }
            Unpacked::Excluded => format!("-x {name} leaves it to the run-time search"),
            Unpacked::Provided { .. } => continue,
        };
        return Some(reason);
    }
    if interpreter {
        return Some("it carries the interpreter, which may load any C module".to_owned());
    }
    for u in graph.units.iter().filter(|u| u.kind == UnitKind::Lua) {
        if let Some(site) = u.sites.iter().find(|s| s.name() == Some(b"ffi")) {
            return Some(format!("{}:{} requires \"ffi\"", u.display, site.line));
        }
        if let Some(site) = u.sites.iter().find(|s| s.target == Target::Loadlib) {
            return Some(format!("{}:{} uses package.loadlib", u.display, site.line));
        }
        let open = u
            .sites
            .iter()
            .find(|s| matches!(s.target, Target::Computed | Target::Prefix(_) | Target::Value));
        if let Some(site) = open {
            return Some(format!(
                "{}:{} requires a name computed at run time, which may be a C module",
                u.display, site.line
            ));
        }
    }
    None
}

/// The first C module that a require names and the build found but did not pack.
fn unpacked_c_module(graph: &Graph) -> Option<(&str, &str)> {
    graph.unpacked.iter().find_map(|(name, (why, _))| match why {
        Unpacked::CModule { shown, .. } => Some((name.as_str(), shown.as_str())),
        _ => None,
    })
}

/// Decides the linkage for `choice`; `static_available` says whether this bundler carries a
/// static stub (a `--static` without one is refused when the stub is loaded).
pub fn decide(
    choice: LinkChoice,
    graph: &Graph,
    interpreter: bool,
    static_available: bool,
) -> Result<Decision, LinkageError> {
    match choice {
        LinkChoice::Dynamic => Ok(Decision { linkage: Linkage::Dynamic, reason: None }),
        LinkChoice::Static => {
            if let Some(u) = graph.units.iter().find(|u| u.kind == UnitKind::Native) {
                let module = u.name.clone().unwrap_or_else(|| u.display.clone());
                return Err(LinkageError::CModule { module, path: u.display.clone() });
            }
            if let Some((name, shown)) = unpacked_c_module(graph) {
                return Err(LinkageError::CModule {
                    module: name.to_owned(),
                    path: shown.to_owned(),
                });
            }
            Ok(Decision { linkage: Linkage::Static, reason: None })
        }
        LinkChoice::Auto => {
            let reason = match loads_c(graph, interpreter) {
                Some(r) => Some(r),
                None if !static_available => Some("this bundle has no static stub".to_owned()),
                None => None,
            };
            let linkage = if reason.is_some() { Linkage::Dynamic } else { Linkage::Static };
            Ok(Decision { linkage, reason })
        }
    }
}
