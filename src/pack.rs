//! Packs compiled units and preload names into a payload (`bundle_runtime::format`), each entry
//! its own zstd frame so that a `require` decodes only its module.

use bundle_runtime::format::{FormatError, NewEntry, Totals, Writer};

use crate::compile::Compiled;

/// zstd level: the payload is written once and decoded on every run, and decoding speed barely
/// depends on the level, so spend some bundle time on size.
pub const ZSTD_LEVEL: i32 = 9;

/// Builds the payload bytes.
pub fn pack(units: &[Compiled], preloads: &[String]) -> Result<(Vec<u8>, Totals), FormatError> {
    let mut writer = Writer::new(ZSTD_LEVEL);
    for u in units {
        writer.add(NewEntry {
            name: u.name.clone().unwrap_or_default().into_bytes(),
            chunkname: u.chunkname.clone().into_bytes(),
            kind: u.kind,
            data: u.data.clone(),
        });
    }
    for p in preloads {
        writer.preload(p.as_bytes());
    }
    writer.finish()
}
