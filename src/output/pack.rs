//! Packs compiled units and preload names into a payload (`bundle_runtime::format`), each entry
//! its own zstd frame so that a `require` decodes only its module.

use bundle_runtime::format::{flags, FormatError, Kind, NewEntry, Totals, Writer};

use crate::output::program::Program;

/// zstd level: decoding speed barely depends on it; past 5 the size barely does either. For the
/// 300 modules of benches/gen_apps.py, level 9 stores 0.24% less (2 KB of 890 KB) for 17 ms more
/// of bundling (88 against 72 ms of CPU); level 3 stores 1.1% more for 2 ms less.
pub const ZSTD_LEVEL: i32 = 5;

/// Builds the payload bytes: the compiled units, the libraries native modules need (with the
/// records of who needs what), preloads, the SIGPIPE policy, the interpreter, if any, and how
/// an entry point is chosen and started (default entry, baked arguments, hermetic mode).
pub fn pack(program: &Program) -> Result<(Vec<u8>, Totals), FormatError> {
    let mut writer = Writer::new(ZSTD_LEVEL);
    for lib in &program.libraries {
        writer.add(NewEntry {
            name: lib.name.clone().into_bytes(),
            chunkname: [b"@".as_slice(), lib.path.as_os_str().as_encoded_bytes()].concat(),
            kind: Kind::Native,
            flags: flags::LIBRARY,
            data: lib.bytes.clone(),
        });
    }
    for (name, needs) in &program.needs {
        let needs: Vec<&[u8]> = needs.iter().map(|n| n.as_bytes()).collect();
        writer.needs(name.as_bytes(), &needs);
    }
    let start = &program.start;
    if start.ignore_sigpipe {
        writer.ignore_sigpipe();
    }
    for u in &program.units {
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
    for a in &program.files.assets {
        writer.asset(a.mount.as_bytes(), a.mode, a.bytes.clone());
    }
    if let Some(overlay) = &program.files.overlay {
        writer.assets_overlay(&overlay.boot.data, &overlay.chunk.data);
    }
    for p in &start.preloads {
        writer.preload(p.as_bytes());
    }
    if let Some(i) = &start.interpreter {
        writer.interpreter(i.chunk.data.clone(), i.env.as_deref());
    }
    // Entry points are the units named `/NAME` (written above); these records say how one is
    // chosen and what it is given.
    if let Some(name) = &start.interpreter_entry {
        writer.interpreter_entry(name.as_bytes());
    }
    if let Some(name) = &start.default_entry {
        writer.default_entry(name.as_bytes());
    }
    for (entry, args) in &start.args {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        writer.args(entry.as_bytes(), &args);
    }
    if start.hermetic {
        writer.hermetic();
    }
    if !program.manifest.is_empty() {
        writer.manifest(&program.manifest);
    }
    writer.finish()
}
