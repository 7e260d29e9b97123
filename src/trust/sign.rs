//! Ed25519 signatures over an executable (docs/FORMAT.md, "Signature block"): the keys are the
//! OpenSSH files users already have (`ssh-keygen -t ed25519`), read with the `ssh-key` crate,
//! which also signs and verifies (through `ed25519-dalek`). Nothing here is hand-written crypto.
//!
//! The signature lives in a block appended after everything else in the file, which neither the
//! image hash nor the payload covers: adding, replacing or removing it changes no signed byte.

use std::ops::Range;
use std::path::{Path, PathBuf};

use bundle_runtime::carrier;
use bundle_runtime::format::{self, record, Payload};
use sha2::{Digest, Sha256};
use signature::{Signer, Verifier};
use ssh_key::public::Ed25519PublicKey;
use ssh_key::{Algorithm, HashAlg, PrivateKey, PublicKey};

/// The environment variable that holds the passphrase of an encrypted private key.
pub const PASSPHRASE_ENV: &str = "BUNDLE_KEY_PASSPHRASE";

/// What the signed message starts with (docs/FORMAT.md, "Signature block").
const DOMAIN: &[u8] = b"bundle-signature-v1\0";
/// The value's algorithm byte for Ed25519.
const ED25519: u8 = 1;
/// Value: algorithm, public key, signature.
const VALUE_LEN: usize = 1 + 32 + 64;

/// Why a key cannot be used, or a signature does not hold.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("{}: is {found}, not an Ed25519 key; bundle signs with Ed25519 keys only (make one with `ssh-keygen -t ed25519`)", path.display())]
    NotEd25519 { path: PathBuf, found: String },
    #[error("{}: the private key is encrypted and no passphrase is available: set {PASSPHRASE_ENV} to its passphrase (bundle never prompts)", .0.display())]
    Encrypted(PathBuf),
    #[error("{}: the passphrase in {PASSPHRASE_ENV} does not decrypt the private key", .0.display())]
    BadPassphrase(PathBuf),
    #[error("the executable is not signed (no signature block at its end): sign it with `bundle sign FILE --key KEY`")]
    Unsigned,
    #[error("the signature block is damaged: {0}")]
    BadBlock(String),
    #[error("signed by another key ({signer}), not by {} ({expected})", path.display())]
    OtherKey { signer: String, expected: String, path: PathBuf },
    #[error("the signature does not match the executable's bytes: the stub or the payload changed after signing (key {0})")]
    Mismatch(String),
}

/// A public key: what `verify --key` checks against.
pub fn read_public(path: &Path) -> Result<PublicKey, SignError> {
    let text = std::fs::read(path)
        .map_err(|e| SignError::Key { path: path.to_path_buf(), reason: e.to_string() })?;
    let key = match std::str::from_utf8(&text).ok().map(|t| PublicKey::from_openssh(t.trim())) {
        Some(Ok(key)) => key,
        // A private key file implies its public key (readable without the passphrase).
        _ => PrivateKey::from_openssh(&text).map_err(|e| not_a_key(path, &e))?.public_key().clone(),
    };
    ed25519_only(path, key.algorithm())?;
    Ok(key)
}

/// A private key, decrypted with [`PASSPHRASE_ENV`] when it is encrypted.
pub fn read_private(path: &Path) -> Result<PrivateKey, SignError> {
    let text = std::fs::read(path)
        .map_err(|e| SignError::Key { path: path.to_path_buf(), reason: e.to_string() })?;
    let key = PrivateKey::from_openssh(&text).map_err(|e| {
        if PublicKey::from_openssh(String::from_utf8_lossy(&text).trim()).is_ok() {
            SignError::Key {
                path: path.to_path_buf(),
                reason: "is a public key; signing needs the private key (the file without .pub)"
                    .into(),
            }
        } else {
            not_a_key(path, &e)
        }
    })?;
    ed25519_only(path, key.algorithm())?;
    if !key.is_encrypted() {
        return Ok(key);
    }
    let pass = std::env::var_os(PASSPHRASE_ENV)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| SignError::Encrypted(path.to_path_buf()))?;
    key.decrypt(pass.as_encoded_bytes()).map_err(|_| SignError::BadPassphrase(path.to_path_buf()))
}

fn not_a_key(path: &Path, e: &ssh_key::Error) -> SignError {
    SignError::Key {
        path: path.to_path_buf(),
        reason: format!(
            "not an OpenSSH key file ({e}); give a key made by `ssh-keygen -t ed25519`"
        ),
    }
}

fn ed25519_only(path: &Path, algorithm: Algorithm) -> Result<(), SignError> {
    if algorithm == Algorithm::Ed25519 {
        return Ok(());
    }
    let found = match &algorithm {
        Algorithm::Rsa { .. } => "an RSA key (ssh-rsa)".to_owned(),
        Algorithm::Ecdsa { .. } => format!("an ECDSA key ({})", algorithm.as_str()),
        Algorithm::Dsa => "a DSA key (ssh-dss)".to_owned(),
        other => format!("a {} key", other.as_str()),
    };
    Err(SignError::NotEd25519 { path: path.to_path_buf(), found })
}

/// The key's fingerprint as `ssh-keygen -l` prints it (`SHA256:...`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The message a signature covers (docs/FORMAT.md, "Signature block"): the domain, the image
/// hash, the payload's SHA-256, its XXH3 checksum, its length and the format version.
fn message(image: &[u8], payload: Range<usize>) -> Vec<u8> {
    let bytes = &image[payload.clone()];
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&super::image_hash(image, payload));
    m.extend_from_slice(&Sha256::digest(bytes));
    let sum = bytes.len().checked_sub(format::FOOTER_LEN).map(|n| &bytes[n..n + 8]);
    m.extend_from_slice(sum.unwrap_or(&[0; 8]));
    m.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    m.extend_from_slice(&format::VERSION.to_le_bytes());
    m
}

/// `image` without its signature block, if any, then a new one by `key`. `payload` is where
/// its payload is.
pub fn sign(image: &[u8], payload: Range<usize>, key: &PrivateKey) -> Result<Vec<u8>, SignError> {
    let unsigned = &image[..image.len() - carrier::signature_block_len(image)];
    let keypair = key.key_data().ed25519().ok_or_else(|| SignError::Key {
        path: PathBuf::from("key"),
        reason: "bundle internal error: not an Ed25519 key".into(),
    })?;
    let sig = keypair
        .try_sign(&message(unsigned, payload))
        .map_err(|e| SignError::BadBlock(format!("signing failed: {e}")))?;
    let mut value = vec![ED25519];
    value.extend_from_slice(&keypair.public.0);
    value.extend_from_slice(sig.as_bytes());
    debug_assert_eq!(value.len(), VALUE_LEN);
    let mut out = unsigned.to_vec();
    let block_len = 6 + value.len() + 16;
    out.extend_from_slice(&record::SIGNATURE.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&value);
    out.extend_from_slice(&(block_len as u64).to_le_bytes());
    out.extend_from_slice(&record::SIGNATURE_MAGIC);
    Ok(out)
}

/// The public key of the signature block at the end of `image`; `None` when there is none.
pub fn signer(image: &[u8]) -> Result<Option<PublicKey>, SignError> {
    Ok(block(image)?.map(|(public, _)| public))
}

/// The signature block's key and signature.
fn block(image: &[u8]) -> Result<Option<(PublicKey, ssh_key::Signature)>, SignError> {
    let len = carrier::signature_block_len(image);
    if len == 0 {
        if image.ends_with(&record::SIGNATURE_MAGIC) {
            return Err(SignError::BadBlock("its length or record header is wrong".into()));
        }
        return Ok(None);
    }
    let value = &image[image.len() - len + 6..image.len() - 16];
    if value.len() != VALUE_LEN || value[0] != ED25519 {
        return Err(SignError::BadBlock(format!(
            "it holds {} bytes of algorithm {}, not an Ed25519 signature",
            value.len(),
            value.first().copied().unwrap_or_default()
        )));
    }
    let mut public = [0; 32];
    public.copy_from_slice(&value[1..33]);
    let sig = ssh_key::Signature::new(Algorithm::Ed25519, value[33..].to_vec())
        .map_err(|e| SignError::BadBlock(e.to_string()))?;
    Ok(Some((PublicKey::from(Ed25519PublicKey(public)), sig)))
}

/// Checks the signature at the end of `image` (payload at `payload`) against `expected` (read
/// from `path`); the signer's fingerprint on success.
pub fn verify(
    image: &[u8],
    payload: Range<usize>,
    expected: &PublicKey,
    path: &Path,
) -> Result<String, SignError> {
    let (signer, sig) = block(image)?.ok_or(SignError::Unsigned)?;
    if signer.key_data() != expected.key_data() {
        return Err(SignError::OtherKey {
            signer: fingerprint(&signer),
            expected: fingerprint(expected),
            path: path.to_path_buf(),
        });
    }
    let unsigned = &image[..image.len() - carrier::signature_block_len(image)];
    Verifier::verify(expected.key_data(), &message(unsigned, payload), &sig)
        .map_err(|_| SignError::Mismatch(fingerprint(expected)))?;
    Ok(fingerprint(expected))
}

/// Whether `p` carries an image hash: only a sealed executable is signed.
pub fn sealed(p: &Payload) -> bool {
    matches!(super::recorded(p), Ok(Some(_)))
}

/// `image` (a sealed executable) signed with the private key at `key`.
pub fn sign_file_bytes(image: &[u8], key: &Path) -> Result<Vec<u8>, SignError> {
    let private = read_private(key)?;
    let range = carrier::locate(image)
        .map_err(|e| SignError::BadBlock(format!("bundle internal error: {e}")))?
        .range;
    sign(image, range, &private)
}
