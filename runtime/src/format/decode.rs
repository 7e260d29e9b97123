//! How an entry's bytes are stored ([`Codec`]) and turned back into what was packed
//! ([`Entry::decode`], with a reusable zstd [`Decoder`]). The checks of docs/FORMAT.md,
//! "Verification", that concern an entry's content when it is loaded are made here.

use super::{label, Entry, FormatError};

/// Entries up to this size are decompressed in one shot into a buffer reserved from the
/// declared size; larger ones are streamed, so that a hostile header cannot make the runtime
/// reserve more than this up front.
const ONE_SHOT_LIMIT: usize = 16 << 20;

tags! {
    /// How an entry's bytes are stored: the index's `codec` byte.
    pub enum Codec: u8, unknown: FormatError::UnknownCodec {
        /// Stored as is.
        Stored = 0, "stored";
        /// One zstd frame.
        Zstd = 1, "zstd";
    }
}

/// A reusable zstd decompression context.
pub struct Decoder(zstd::bulk::Decompressor<'static>);

impl Decoder {
    pub fn new() -> Result<Self, FormatError> {
        zstd::bulk::Decompressor::new().map(Decoder).map_err(|e| FormatError::Zstd(e.to_string()))
    }
}

impl Entry<'_> {
    /// Decodes the entry into a fresh buffer.
    pub fn decode(&self) -> Result<Vec<u8>, FormatError> {
        self.decode_with(&mut Decoder::new()?)
    }

    /// Decodes the entry with a reusable decoder (one decompression context for many entries).
    /// Its stored bytes are verified against its checksum first ([`Entry::verified`]). The
    /// result has exactly `raw_len` bytes, or this is an error; a zstd entry must be exactly
    /// one frame that states its decoded size, and that size must be `raw_len`.
    pub fn decode_with(&self, decoder: &mut Decoder) -> Result<Vec<u8>, FormatError> {
        self.verified()?;
        let fail = |reason: String| FormatError::Decompress { entry: label(self.name), reason };
        let no_memory = |_| fail(format!("not enough memory for {} bytes", self.raw_len));
        let raw_len = usize::try_from(self.raw_len)
            .map_err(|_| fail(format!("{} bytes are too many for this machine", self.raw_len)))?;
        if self.codec == Codec::Zstd {
            // The frame states its own size: a mismatch is a damaged entry, found before a
            // possibly huge allocation. And it is the entry's only content: nothing may follow it.
            match zstd::zstd_safe::get_frame_content_size(self.stored) {
                Ok(Some(n)) if n == self.raw_len => {}
                Ok(Some(n)) => {
                    return Err(fail(format!(
                        "its zstd frame holds {n} bytes, the index says {}",
                        self.raw_len
                    )))
                }
                Ok(None) => return Err(fail("its zstd frame does not state its size".into())),
                Err(_) => return Err(fail("its data does not start with a zstd frame".into())),
            }
            match zstd::zstd_safe::find_frame_compressed_size(self.stored) {
                Ok(n) if n == self.stored.len() => {}
                Ok(n) => {
                    return Err(fail(match self.stored.len().saturating_sub(n) {
                        1 => "1 byte follows its zstd frame".to_owned(),
                        more => format!("{more} bytes follow its zstd frame"),
                    }))
                }
                Err(code) => {
                    return Err(fail(format!(
                        "its zstd frame is damaged ({})",
                        zstd::zstd_safe::get_error_name(code)
                    )))
                }
            }
        }
        let mut out = Vec::new();
        let damaged = |e: std::io::Error| fail(format!("its zstd frame is damaged ({e})"));
        match self.codec {
            Codec::Stored => {
                out.try_reserve_exact(raw_len).map_err(no_memory)?;
                out.extend_from_slice(self.stored);
            }
            // One-shot into a buffer of the declared size: the fast path for module-sized entries.
            Codec::Zstd if raw_len <= ONE_SHOT_LIMIT => {
                out.try_reserve_exact(raw_len).map_err(no_memory)?;
                decoder.0.decompress_to_buffer(self.stored, &mut out).map_err(damaged)?;
            }
            // Larger: stream, so that memory grows with what the frame really produces, not with
            // what a (possibly hostile) header claims. Found by fuzzing: a 12-byte frame
            // declaring 3 GiB made the one-shot path reserve 3 GiB.
            Codec::Zstd => {
                use std::io::Read;
                let stream =
                    zstd::stream::read::Decoder::with_buffer(self.stored).map_err(damaged)?;
                stream.take(self.raw_len + 1).read_to_end(&mut out).map_err(damaged)?;
            }
        }
        if out.len() as u64 != self.raw_len {
            return Err(fail(format!(
                "it decodes to {} bytes, the index says {}",
                out.len(),
                self.raw_len
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Kind;

    /// A zstd frame whose header declares 3 GiB but that holds nothing: decoding fails without
    /// reserving the declared size (regression: fuzz/regressions/oom-zstd-frame-declares-3gib.bin).
    #[test]
    fn a_lying_frame_header_does_not_allocate_its_claim() {
        // Magic, frame header descriptor (FCS 4 bytes, single segment), size 3 GiB, then one
        // last, empty raw block.
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa0];
        frame.extend_from_slice(&(3u32 << 30).to_le_bytes());
        frame.extend_from_slice(&[0x01, 0x00, 0x00]);
        let e = Entry {
            name: b"x",
            chunkname: b"@x",
            kind: Kind::LuaSource,
            codec: Codec::Zstd,
            flags: 0,
            stored: &frame,
            raw_len: 3 << 30,
            offset: 0,
            checksum: crate::format::checksum(&frame),
        };
        // zstd itself refuses a window this large when streaming; either way, an error and no
        // 3 GiB reservation (the one-shot path is the one that reserved it).
        let err = e.decode().unwrap_err();
        assert!(matches!(err, FormatError::Decompress { .. }), "{err}");
    }

    #[test]
    fn issue13_messages_speak_to_users() {
        // No Option's Debug form: a frame that does not state its size, and one that does.
        let frame = zstd::bulk::compress(&b"x".repeat(100), 3).unwrap();
        let mut e = Entry {
            name: b"m",
            chunkname: b"@m",
            kind: Kind::LuaSource,
            codec: Codec::Zstd,
            flags: 0,
            stored: &frame,
            raw_len: 94,
            offset: 0,
            checksum: crate::format::checksum(&frame),
        };
        assert_eq!(
            e.decode().unwrap_err().to_string(),
            "entry 'm' could not be decompressed: its zstd frame holds 100 bytes, the index says 94"
        );
        let mut no_size = Vec::new();
        let mut enc = zstd::stream::write::Encoder::new(&mut no_size, 3).unwrap();
        enc.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut enc, b"abc").unwrap();
        enc.finish().unwrap();
        e.stored = &no_size;
        e.checksum = crate::format::checksum(&no_size);
        e.raw_len = 3;
        assert_eq!(
            e.decode().unwrap_err().to_string(),
            "entry 'm' could not be decompressed: its zstd frame does not state its size"
        );
        e.stored = b"not zstd";
        e.checksum = crate::format::checksum(b"not zstd");
        e.name = b"";
        assert_eq!(
            e.decode().unwrap_err().to_string(),
            "the main script could not be decompressed: its data does not start with a zstd frame"
        );
        for err in [
            FormatError::BadEntry { index: 0, reason: String::new() },
            FormatError::Zstd(String::new()),
        ] {
            assert!(!format!("{err}").contains("Some("), "{err}");
        }
    }
}
