//! Payload format v2: the bytes a bundled executable carries, read by the stub runtime and
//! written by the bundler. `docs/FORMAT.md` is the normative specification; this module is its
//! only implementation.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header (48) | index (entry_count × 40) | strings | records | data | footer (24)
//! ```
//!
//! The footer ends with its own magic and repeats the total length, so a payload can be found
//! from its last byte: that is what lets the same bytes ride in an ELF section or at the end of
//! a file (`carrier`, beside this module, finds them). An XXH3-64 checksum over the header,
//! index, strings and records is verified by [`Payload::parse`] before any entry can be read,
//! and each index entry holds the XXH3-64 of its own data, verified before that data is first
//! used ([`Entry::verified`]): start-up does not grow with the size of the entries. LuaJIT does
//! not verify bytecode, so a flipped bit in a bytecode entry could crash the process; the
//! checksums are what make a damaged executable report an error instead.
//!
//! Every read of payload bytes goes through a bounds-checked helper (`layout`); nothing here
//! indexes a slice with an unchecked offset, and nothing here panics on any input.
//!
//! One file per part of the format:
//!
//! - `layout`: magics, version, sizes; the header, an index entry and the footer field by
//!   field, shared by reader and writer.
//! - `entry`: the index: what an entry holds ([`Kind`], and how each kind is treated), its
//!   [`flags`], the main script's name, [`Entry`] as read.
//! - [`record`]: the records section, every record one variant of [`Record`], whose tag,
//!   decoding, encoding and checks are that variant's arms.
//! - `read`: [`Payload`]: parsing with the start-up checks, lookups, what the records say.
//! - `verify`: [`Payload::verify_all`], every check at once, for `bundle verify` and `inspect`.
//! - `decode`: how entries are stored ([`Codec`]) and decoded ([`Decoder`]).
//! - `write`: [`Writer`], which lays a payload out from [`NewEntry`]s and [`Record`]s.
//! - `error`: [`FormatError`], and how names appear in messages.
//!
//! **Adding an entry kind** is a variant of [`Kind`] (its tag and its row of rules, both in
//! `entry`) and its line in docs/FORMAT.md. **Adding a record** is a variant of [`Record`] with
//! its arms (all in `record`) and its row in docs/FORMAT.md; [`Writer::record`] writes any
//! record and [`Payload::records`] reads them.

/// Declares a `#[repr($repr)]` enum of tag values and what is derived from its list, so that
/// each value is written once: `ALL`, `TryFrom<$repr>` (an unknown value is `$unknown(value)`)
/// and `name()`, the variant's name as docs/FORMAT.md and messages write it. The round-trip
/// tests walk `ALL`.
macro_rules! tags {
    (
        $(#[$attr:meta])*
        pub enum $enum:ident: $repr:ty, unknown: $unknown:path {
            $( $(#[$vattr:meta])* $variant:ident = $value:literal, $name:literal; )+
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr($repr)]
        pub enum $enum {
            $( $(#[$vattr])* $variant = $value, )+
        }

        impl $enum {
            /// Every value, in the order declared.
            pub const ALL: &'static [$enum] = &[$($enum::$variant),+];

            /// The name docs/FORMAT.md and messages use.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $enum::$variant => $name, )+
                }
            }
        }

        impl TryFrom<$repr> for $enum {
            type Error = FormatError;
            fn try_from(v: $repr) -> Result<Self, FormatError> {
                match v {
                    $( $value => Ok($enum::$variant), )+
                    other => Err($unknown(other)),
                }
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

mod decode;
mod entry;
mod error;
mod layout;
mod read;
pub mod record;
mod verify;
mod write;

#[cfg(test)]
mod testing;

pub use decode::{Codec, Decoder};
pub use entry::{
    asset_name, entry_point_name, flags, ChunkMode, Entry, Kind, ASSET_PREFIX, ENTRY_PREFIX,
};
pub use error::{escaped, label, quoted, FormatError};
pub use layout::{
    checksum, declared_len, footer_checksum, END_MAGIC, ENTRY_LEN, FOOTER_LEN, HEADER_LEN, MAGIC,
    MAX_RAW_LEN, SECTION_NAME, VERSION,
};
pub use read::Payload;
pub use record::{Args, ImageHash, ImageRegion, Needs, Record, Records, Sealed};
pub use verify::MAX_LIBRARY_DEPTH;
pub use write::{reseal, with_record, NewEntry, Totals, Writer};
