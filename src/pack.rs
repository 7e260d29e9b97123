//! Packs compiled units and preload names into a payload (`bundle_runtime::format`), each entry
//! its own zstd frame so that a `require` decodes only its module.

use bundle_runtime::format::{flags, FormatError, Kind, NewEntry, Totals, Writer};

use crate::compile::Compiled;
use crate::graph::Graph;

/// What the payload records besides the units: the run-time settings of the program.
#[derive(Debug, Clone, Default)]
pub struct Settings<'a> {
    /// Modules to require before the main chunk (`-l`), in order.
    pub preloads: &'a [String],
    /// `--sigpipe ignore`.
    pub ignore_sigpipe: bool,
    /// The interpreter chunk, if the executable carries one, and the `--interpreter-env`
    /// variable that selects it over a main script.
    pub interpreter: Option<(&'a Compiled, Option<&'a str>)>,
}

/// zstd level: the payload is written once and decoded on every run, and decoding speed barely
/// depends on the level, so spend some bundle time on size.
pub const ZSTD_LEVEL: i32 = 9;

/// Builds the payload bytes: the compiled units, the libraries native modules need (with the
/// records of who needs what), preloads, the SIGPIPE policy and the interpreter, if any.
pub fn pack(
    units: &[Compiled],
    graph: &Graph,
    settings: &Settings,
) -> Result<(Vec<u8>, Totals), FormatError> {
    let mut writer = Writer::new(ZSTD_LEVEL);
    for (name, lib) in &graph.libraries {
        writer.add(NewEntry {
            name: name.clone().into_bytes(),
            chunkname: [b"@".as_slice(), lib.path.as_os_str().as_encoded_bytes()].concat(),
            kind: Kind::Native,
            flags: flags::LIBRARY,
            data: lib.bytes.clone(),
        });
        if !lib.needs.is_empty() {
            let needs: Vec<&[u8]> = lib.needs.iter().map(|n| n.as_bytes()).collect();
            writer.needs(name.as_bytes(), &needs);
        }
    }
    for u in graph.units.iter().filter(|u| !u.needs.is_empty()) {
        let needs: Vec<&[u8]> = u.needs.iter().map(|n| n.as_bytes()).collect();
        writer.needs(u.label().as_bytes(), &needs);
    }
    if settings.ignore_sigpipe {
        writer.ignore_sigpipe();
    }
    for u in units {
        // A module served by another module's library records that module's name as its data.
        let (flags, data) = match &u.shares {
            Some(owner) => (flags::SHARED, owner.clone().into_bytes()),
            None => (0, u.data.clone()),
        };
        writer.add(NewEntry {
            name: u.name.clone().unwrap_or_default().into_bytes(),
            chunkname: u.chunkname.clone(),
            kind: u.kind,
            flags,
            data,
        });
    }
    for p in settings.preloads {
        writer.preload(p.as_bytes());
    }
    if let Some((chunk, env)) = settings.interpreter {
        writer.interpreter(chunk.data.clone(), env);
    }
    writer.finish()
}
