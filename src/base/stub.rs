//! The stub an executable starts from: the host stub built into `bundle` by build.rs, or a file
//! given with `--stub`, checked to be a stub (its `.bundle_stub` marker) without a payload.

use std::path::PathBuf;

use object::{Object, ObjectSection};

use crate::base::target::{Linkage, Store, StubChoice, Target};

/// The host stub, embedded at build time.
pub static EMBEDDED: &[u8] = include_bytes!(env!("BUNDLE_EMBEDDED_STUB"));

/// The same stub linked statically (build.rs); empty when this `bundle` was built without one.
pub static EMBEDDED_STATIC: &[u8] = include_bytes!(env!("BUNDLE_EMBEDDED_STATIC_STUB"));

/// Whether this `bundle` carries a static stub.
pub fn has_static() -> bool {
    !EMBEDDED_STATIC.is_empty()
}

/// Why a stub cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StubError {
    #[error("cannot read stub {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a bundle stub ({reason})", path.display())]
    NotAStub { path: PathBuf, reason: NotAStub },
    #[error("{}: {reason}", path.display())]
    Incompatible { path: PathBuf, reason: Incompatible },
    #[error("--static: this bundle was built without a static stub (see build.rs)")]
    NoStatic,
}

/// Why a file is not a stub this bundler can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAStub {
    #[error("not an executable this bundler reads: {0}")]
    Unreadable(String),
    #[error("it has no .bundle_stub marker section")]
    NoMarker,
    #[error("its marker names another payload format version")]
    OtherFormat,
    #[error("it already carries a payload: give the bare stub")]
    HasPayload,
    #[error("not an ELF executable")]
    NotElf,
}

/// Why a stub cannot take what this bundler compiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incompatible {
    #[error("not an executable this bundler reads: {0}")]
    Unreadable(String),
    #[error("the stub is a {bits}-bit {endian}-endian executable, and LuaJIT bytecode built here is 64-bit little-endian: use --source")]
    Bytecode { bits: u8, endian: &'static str },
}

/// Checks that `bytes` is a stub this bundler can write payloads for.
pub fn check(bytes: &[u8]) -> Result<(), NotAStub> {
    let file = object::File::parse(bytes).map_err(|e| NotAStub::Unreadable(e.to_string()))?;
    let marker = file.section_by_name(bundle_runtime::STUB_SECTION).ok_or(NotAStub::NoMarker)?;
    let data = marker.data().map_err(|e| NotAStub::Unreadable(e.to_string()))?;
    if data != bundle_runtime::STUB_MARKER {
        return Err(NotAStub::OtherFormat);
    }
    if file.section_by_name(bundle_runtime::format::SECTION_NAME).is_some() {
        return Err(NotAStub::HasPayload);
    }
    if bytes.len() >= bundle_runtime::format::FOOTER_LEN
        && bundle_runtime::format::declared_len(bytes).is_ok()
    {
        return Err(NotAStub::HasPayload);
    }
    Ok(())
}

/// Whether bytecode compiled here (64-bit, little-endian LuaJIT with GC64) loads in the stub:
/// LuaJIT refuses bytecode of another word size or byte order.
pub fn bytecode_compatible(bytes: &[u8]) -> Result<(), Incompatible> {
    let file = object::File::parse(bytes).map_err(|e| Incompatible::Unreadable(e.to_string()))?;
    if !file.is_64() || !file.is_little_endian() {
        return Err(Incompatible::Bytecode {
            bits: if file.is_64() { 64 } else { 32 },
            endian: if file.is_little_endian() { "little" } else { "big" },
        });
    }
    Ok(())
}

/// The build's [`Target`]: the stub `choice` names, read and checked once, and its machine.
pub fn target(choice: &StubChoice, store: Store) -> Result<Target, StubError> {
    let stub = load(choice, store)?;
    let machine = crate::base::native::machine_of(&stub).ok_or_else(|| StubError::NotAStub {
        path: match choice {
            StubChoice::File(p) => p.clone(),
            StubChoice::Embedded | StubChoice::EmbeddedStatic => "(embedded stub)".into(),
        },
        reason: NotAStub::NotElf,
    })?;
    let linkage = linkage_of(&stub);
    let multiarch = crate::base::target::multiarch_of(machine);
    let luajit = luajit_of(&stub);
    let ours = crate::base::runtime_lua::luajit_version();
    Ok(Target {
        jit_tools: !ours.is_empty() && luajit == ours,
        libraries: crate::base::native::library_search(multiarch),
        stub,
        machine,
        multiarch,
        luajit,
        linkage,
    })
}

/// How `exe` is linked: static when it has no dynamic loader (`PT_INTERP`).
pub fn linkage_of(exe: &[u8]) -> Linkage {
    match goblin::elf::Elf::parse(exe) {
        Ok(elf) if elf.interpreter.is_none() => Linkage::Static,
        _ => Linkage::Dynamic,
    }
}

/// The LuaJIT version the stub was built with (its `.bundle_luajit` marker); empty if it has
/// none.
pub fn luajit_of(stub: &[u8]) -> String {
    let Ok(file) = object::File::parse(stub) else { return String::new() };
    file.section_by_name(bundle_runtime::LUAJIT_SECTION)
        .and_then(|s| s.data().ok())
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default()
}

/// The stub's bytes, checked.
pub fn load(
    choice: &StubChoice,
    store: Store,
) -> Result<std::borrow::Cow<'static, [u8]>, StubError> {
    match choice {
        StubChoice::Embedded => Ok(EMBEDDED.into()),
        StubChoice::EmbeddedStatic if has_static() => Ok(EMBEDDED_STATIC.into()),
        StubChoice::EmbeddedStatic => Err(StubError::NoStatic),
        StubChoice::File(path) => {
            let bytes = crate::base::input::read(path)
                .map_err(|source| StubError::Read { path: path.clone(), source })?;
            check(&bytes).map_err(|reason| StubError::NotAStub { path: path.clone(), reason })?;
            if !matches!(store, Store::Source) {
                bytecode_compatible(&bytes)
                    .map_err(|reason| StubError::Incompatible { path: path.clone(), reason })?;
            }
            Ok(bytes.into())
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_stub_is_a_stub() {
        super::check(super::EMBEDDED).unwrap();
        assert_eq!(super::linkage_of(super::EMBEDDED), super::Linkage::Dynamic);
        if super::has_static() {
            super::check(super::EMBEDDED_STATIC).unwrap();
            assert_eq!(super::linkage_of(super::EMBEDDED_STATIC), super::Linkage::Static);
        }
    }

    #[test]
    fn a_32_bit_stub_needs_source() {
        use object::write::{Object, StreamingBuffer};
        use object::{Architecture, BinaryFormat, Endianness, SectionKind};
        let mut obj = Object::new(BinaryFormat::Elf, Architecture::I386, Endianness::Little);
        let id = obj.add_section(
            Vec::new(),
            bundle_runtime::STUB_SECTION.as_bytes().to_vec(),
            SectionKind::ReadOnlyData,
        );
        obj.append_section_data(id, &bundle_runtime::STUB_MARKER, 1);
        let mut bytes = Vec::new();
        obj.emit(&mut StreamingBuffer::new(&mut bytes)).unwrap();
        super::check(&bytes).unwrap();
        let err = super::bytecode_compatible(&bytes).unwrap_err().to_string();
        assert!(err.contains("32-bit") && err.contains("--source"), "{err}");
        super::bytecode_compatible(super::EMBEDDED).unwrap();
    }

    #[test]
    fn random_bytes_are_not_a_stub() {
        assert!(super::check(b"#!/bin/sh\necho hi\n").is_err());
    }
}
