//! Writes the executable: the stub with the payload in its `.bundle` ELF section (rewritten with
//! `object`'s ELF builder; a non-allocated section, so the loaded image is untouched and `strip`
//! keeps it), or appended as a trailer for a stub that is not ELF. The file appears atomically:
//! a temporary file in the target directory, made executable, then renamed over the output.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use object::build::elf::{Builder, SectionData};
use object::elf;

use bundle_runtime::format::SECTION_NAME;

/// Why the executable could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error("cannot add the payload section to the stub: {0}")]
    Elf(String),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The stub with `payload` attached.
pub fn attach(stub: &[u8], payload: &[u8]) -> Result<Vec<u8>, EmitError> {
    if !matches!(
        object::FileKind::parse(stub),
        Ok(object::FileKind::Elf32 | object::FileKind::Elf64)
    ) {
        let mut out = Vec::with_capacity(stub.len() + payload.len());
        out.extend_from_slice(stub);
        out.extend_from_slice(payload);
        return Ok(out);
    }
    let mut builder = Builder::read(stub).map_err(|e| EmitError::Elf(e.to_string()))?;
    let section = builder.sections.add();
    section.name = SECTION_NAME.as_bytes().into();
    section.sh_type = elf::SHT_PROGBITS;
    section.sh_flags = elf::SectionFlags(0);
    section.sh_addralign = 1;
    section.data = SectionData::Data(payload.into());
    let mut out = Vec::with_capacity(stub.len() + payload.len() + 256);
    builder.write(&mut out).map_err(|e| EmitError::Elf(e.to_string()))?;
    Ok(out)
}

/// Writes `bytes` to `path` with mode 0755, atomically: either the whole new file is there, or
/// whatever was there before is untouched.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), EmitError> {
    write_atomically_with_mode(path, bytes, 0o755)
}

/// [`write_atomically`] with another mode.
pub fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EmitError> {
    let fail = |source| EmitError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".bundle-").tempfile_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bundle_runtime::format::Writer;

    #[test]
    fn section_round_trip_and_determinism() {
        let (payload, _) = Writer::new(3).finish().unwrap();
        let a = attach(crate::stub::EMBEDDED, &payload).unwrap();
        let b = attach(crate::stub::EMBEDDED, &payload).unwrap();
        assert_eq!(a, b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app");
        write_atomically(&path, &a).unwrap();
        let image = std::fs::read(&path).unwrap();
        let located = bundle_runtime::carrier::locate(&image).unwrap();
        assert_eq!(located.carrier, bundle_runtime::carrier::Carrier::Section);
        assert_eq!(&image[located.range], &payload[..]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn non_elf_stub_gets_a_trailer() {
        let (payload, _) = Writer::new(3).finish().unwrap();
        let out = attach(b"not elf", &payload).unwrap();
        assert_eq!(&out[..7], b"not elf");
        assert_eq!(&out[7..], &payload[..]);
    }
}
