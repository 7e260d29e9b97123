//! `bundle verify` beyond the payload and `bundle sign` (issue 18): the payload checked as
//! before ([`super::verify`]), then the image hash and the signature ([`crate::trust`]), each
//! failure naming the region of the file it concerns.

use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use bundle_runtime::carrier;
use bundle_runtime::format::{self, Payload};

use crate::output::emit;
use crate::trust::{check_image, find_payload, sign, ImageError};

/// What `bundle verify` found in an intact executable.
#[derive(Debug, Clone)]
pub struct Verified {
    pub report: super::Report,
    /// The image hash, when the executable records one.
    pub image_hash: Option<[u8; 32]>,
    /// The signer's fingerprint, when `--key` was given.
    pub signer: Option<String>,
}

/// `bundle verify FILE [--key PUB]`: the payload (structure, checksum, everything
/// `verify_all` checks), then the image hash, then the signature. Each failure names where the
/// file is damaged.
pub fn verify_file(path: &Path, key: Option<&Path>) -> anyhow::Result<Verified> {
    let public = key.map(sign::read_public).transpose()?;
    let checked = super::verify(path);
    if let Err(e @ (super::InspectError::Read { .. } | super::InspectError::Directory(_))) = checked
    {
        return Err(e.into());
    }
    let bytes =
        crate::base::input::read(path).with_context(|| format!("reading {}", path.display()))?;
    let report = match checked {
        Ok(r) => r,
        Err(e) => {
            // The payload could not be read where the runtime looks: an intact one elsewhere
            // (the headers that point to it damaged) lets the image hash name the damage.
            if let Some((_, range)) = find_payload(&bytes) {
                if let Ok(p) = Payload::parse(&bytes[range.clone()]) {
                    if let Err(ImageError::Damaged(what)) = check_image(&bytes, range, &p) {
                        anyhow::bail!("{}: {what}", path.display());
                    }
                }
            }
            return Err(damaged_payload(&bytes, e));
        }
    };
    let range = carrier::locate(&bytes)?.range;
    let p = Payload::parse(&bytes[range.clone()])?;
    let image_hash = match check_image(&bytes, range.clone(), &p) {
        Ok(h) => Some(h),
        Err(ImageError::NoHash) if public.is_none() => None,
        Err(e) => anyhow::bail!("{}: {e}", path.display()),
    };
    let signer = match (public, key) {
        (Some(public), Some(key)) => Some(
            sign::verify(&bytes, range, &public, key)
                .with_context(|| format!("{}", path.display()))?,
        ),
        _ => None,
    };
    Ok(Verified { report, image_hash, signer })
}

/// The payload's own error, with the region of the file it concerns.
fn damaged_payload(bytes: &[u8], e: super::InspectError) -> anyhow::Error {
    let region = match carrier::locate(bytes) {
        Ok(l) if l.carrier == carrier::Carrier::Trailer => {
            format!("the payload or its trailer (bytes {:#x}..{:#x})", l.range.start, l.range.end)
        }
        Ok(l) => format!("the payload (bytes {:#x}..{:#x})", l.range.start, l.range.end),
        Err(carrier::LocateError::Damaged { carrier: carrier::Carrier::Trailer, .. }) => {
            "the trailer (the payload's footer at the end of the file)".to_owned()
        }
        Err(_) => match trailer_by_header(bytes) {
            Some(r) => format!(
                "the trailer (the payload's footer at bytes {:#x}..{:#x}: checksum, length, end magic)",
                r.end - format::FOOTER_LEN,
                r.end
            ),
            None => "the payload".to_owned(),
        },
    };
    anyhow::anyhow!("{e} [damaged: {region}]")
}

/// A payload header whose declared length ends exactly at the end of `bytes` (before a
/// signature block): a trailer whose footer no longer says where it starts.
fn trailer_by_header(bytes: &[u8]) -> Option<Range<usize>> {
    let end = bytes.len() - carrier::signature_block_len(bytes);
    let magic = format::MAGIC;
    bytes[..end].windows(magic.len()).enumerate().filter(|(_, w)| *w == magic).find_map(|(i, _)| {
        let len = bytes.get(i + 40..i + 48)?.try_into().ok().map(u64::from_le_bytes)?;
        (i as u64).checked_add(len).filter(|e| *e == end as u64).map(|_| i..end)
    })
}

/// `bundle sign FILE --key KEY`: signs `path` in place (replacing any signature), atomically,
/// after checking it as `verify` does; a damaged or unsealed executable is not signed.
pub fn sign_file(path: &Path, key: &Path) -> anyhow::Result<String> {
    let private = sign::read_private(key)?;
    let verified = verify_file(path, None)?;
    if verified.image_hash.is_none() {
        anyhow::bail!("{}: {}", path.display(), ImageError::NoHash);
    }
    let bytes =
        crate::base::input::read(path).with_context(|| format!("reading {}", path.display()))?;
    let range = carrier::locate(&bytes)?.range;
    let signed = sign::sign(&bytes, range, &private)?;
    // The file itself is replaced (a symlink keeps pointing to it), with its mode.
    let target =
        std::fs::canonicalize(path).with_context(|| format!("reading {}", path.display()))?;
    let mode = std::fs::metadata(&target)
        .with_context(|| format!("reading {}", path.display()))?
        .permissions()
        .mode()
        & 0o7777;
    emit::write_atomically_with_mode(&target, &signed, mode, &emit::Inputs::of([key]))?;
    Ok(sign::fingerprint(private.public_key()))
}
