//! Writes the executable: the stub with the payload in its `.bundle` ELF section (rewritten with
//! `object`'s ELF builder), loaded with the program in a read-only `PT_LOAD` of its own where the
//! stub has a `PT_NOTE` header to give up (docs/FORMAT.md, carriers), non-allocated otherwise;
//! `strip` keeps it either way. A stub that is not ELF gets the payload appended as a trailer. The file appears atomically:
//! a temporary file in the target directory, made executable, then renamed over the output.
//!
//! Every file `bundle` writes goes through here, checked against [`Inputs`], the identities
//! (device and inode) of every file the command read: no output ever replaces an input, however
//! it is named (another path, a symlink, a hard link). A target that is not a regular file
//! (a device, FIFO or socket) is refused too, since the rename would replace it. The temporary
//! file is removed if anything fails, and on SIGINT/SIGTERM/SIGHUP ([`crate::base::cleanup`]).

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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
    #[error("{} is also an input ({}); refusing to overwrite it: choose another output path", output.display(), input.display())]
    OverwritesInput { output: PathBuf, input: PathBuf },
    #[error("{}: is not a regular file (a device, FIFO or socket); give a file path", .0.display())]
    NotAFile(PathBuf),
}

/// The identities of every file a command reads, so that no output replaces one of them.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    ids: Vec<((u64, u64), PathBuf)>,
}

impl Inputs {
    /// Records `path`, if it exists (a file that is not there cannot be overwritten).
    pub fn add(&mut self, path: &Path) {
        if let Ok(m) = std::fs::metadata(path) {
            self.ids.push(((m.dev(), m.ino()), path.to_path_buf()));
        }
    }

    /// Inputs made of `paths`.
    pub fn of<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Self {
        let mut inputs = Inputs::default();
        for p in paths {
            inputs.add(p);
        }
        inputs
    }

    /// Refuses `output` when it is (by identity, through any link) one of the inputs, or exists
    /// as something other than a regular file.
    pub fn check(&self, output: &Path) -> Result<(), EmitError> {
        let Ok(m) = std::fs::metadata(output) else { return Ok(()) };
        if !m.is_file() {
            return Err(EmitError::NotAFile(output.to_path_buf()));
        }
        match self.ids.iter().find(|(id, _)| *id == (m.dev(), m.ino())) {
            Some((_, input)) => Err(EmitError::OverwritesInput {
                output: output.to_path_buf(),
                input: input.clone(),
            }),
            None => Ok(()),
        }
    }
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
    // The program header that can become the payload's PT_LOAD (see `loadable_slot`).
    let slot = loadable_slot(&builder);
    let section = builder.sections.add();
    section.name = SECTION_NAME.as_bytes().into();
    section.sh_type = elf::SHT_PROGBITS;
    section.sh_flags = elf::SectionFlags(0);
    section.sh_addralign = 1;
    section.sh_size = payload.len() as u64;
    section.data = SectionData::Data(payload.into());
    if let Some(id) = slot {
        // Loaded by the kernel (or by ld.so when run as `ld.so ./app`): the runtime finds the
        // payload in its own memory, through its program headers, without opening any file.
        section.sh_flags = elf::SHF_ALLOC;
        let ends =
            builder.segments.iter().filter(|s| s.id() != id).try_fold((0u64, 0u64), |(o, a), s| {
                let end_offset = s.p_offset.checked_add(s.p_filesz)?;
                let end_addr = s.p_vaddr.checked_add(s.p_memsz)?;
                Some((o.max(end_offset), a.max(end_addr)))
            });
        let align = builder.load_align.max(1);
        // A stub whose program headers overflow, or whose alignment is not a power of two, is
        // not one this bundler lays out: it is refused rather than written wrong.
        let Some((end_offset, end_addr)) =
            ends.filter(|(_, a)| align.is_power_of_two() && a.checked_add(align).is_some())
        else {
            return Err(EmitError::Elf("the stub's program headers are out of range".into()));
        };
        let segment = builder.segments.get_mut(id);
        segment.p_type = elf::PT_LOAD;
        segment.p_flags = elf::PF_R;
        segment.p_align = align;
        segment.sections.clear();
        segment.p_offset = end_offset;
        // p_vaddr ≡ p_offset (mod align), past every other segment.
        let addr = ((end_addr + align - 1) & !(align - 1)) + (end_offset & (align - 1));
        segment.p_vaddr = addr;
        segment.p_paddr = addr;
        segment.p_filesz = 0;
        segment.p_memsz = 0;
        segment.append_section(section);
    }
    let mut out = Vec::with_capacity(stub.len() + payload.len() + 256);
    builder.write(&mut out).map_err(|e| EmitError::Elf(e.to_string()))?;
    Ok(out)
}

/// The `PT_NOTE` program header of `builder`, if it can carry the payload instead: the table
/// of program headers cannot grow (sections follow it), so the payload's `PT_LOAD` takes the
/// place of the notes' header. The notes themselves stay in the file, as sections; only the
/// kernel's and ld.so's view of them goes, which a program never reads (a core dump loses the
/// build id). The slot must come after every `PT_LOAD`, since loaders expect them sorted.
fn loadable_slot(builder: &Builder) -> Option<object::build::elf::SegmentId> {
    let mut last_load = None;
    let mut note = None;
    for (i, s) in builder.segments.iter().enumerate() {
        match s.p_type {
            elf::PT_LOAD => last_load = Some(i),
            elf::PT_NOTE if note.is_none() => note = Some((i, s.id())),
            _ => {}
        }
    }
    match (note, last_load) {
        (Some((i, id)), Some(last)) if i > last => Some(id),
        _ => None,
    }
}

/// Writes `bytes` to `path` with mode 0755, atomically: either the whole new file is there, or
/// whatever was there before is untouched. `path` must not be one of `inputs`.
pub fn write_atomically(path: &Path, bytes: &[u8], inputs: &Inputs) -> Result<(), EmitError> {
    write_atomically_with_mode(path, bytes, 0o755, inputs)
}

/// [`write_atomically`] with another mode.
pub fn write_atomically_with_mode(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    inputs: &Inputs,
) -> Result<(), EmitError> {
    write_with(path, mode, inputs, |tmp| {
        let mut f = std::fs::OpenOptions::new().write(true).open(tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })
}

/// Makes `path` (mode `mode`) with `fill`, which writes a temporary path in the same directory,
/// then renames it over `path`, after checking `path` against `inputs`. The temporary file is
/// removed on any failure, and on an interrupting signal.
pub fn write_with(
    path: &Path,
    mode: u32,
    inputs: &Inputs,
    fill: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), EmitError> {
    let fail = |source| EmitError::Write { path: path.to_path_buf(), source };
    inputs.check(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".bundle-").tempfile_in(dir).map_err(fail)?;
    let _registered = crate::base::cleanup::register(tmp.path(), false);
    fill(tmp.path()).map_err(fail)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode)).map_err(fail)?;
    // Checked again right before the rename: the inputs were read long before.
    inputs.check(path)?;
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
        let a = attach(crate::base::stub::EMBEDDED, &payload).unwrap();
        let b = attach(crate::base::stub::EMBEDDED, &payload).unwrap();
        assert_eq!(a, b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app");
        write_atomically(&path, &a, &Inputs::default()).unwrap();
        let image = std::fs::read(&path).unwrap();
        let located = bundle_runtime::carrier::locate(&image).unwrap();
        assert_eq!(located.carrier, bundle_runtime::carrier::Carrier::Section);
        assert_eq!(&image[located.range], &payload[..]);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }

    #[test]
    fn an_input_is_never_overwritten_through_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("main.lua");
        std::fs::write(&input, "print(1)").unwrap();
        std::os::unix::fs::symlink(&input, dir.path().join("sym")).unwrap();
        std::fs::hard_link(&input, dir.path().join("hard")).unwrap();
        let inputs = Inputs::of([input.as_path()]);
        for name in ["main.lua", "sym", "hard"] {
            let err = write_atomically(&dir.path().join(name), b"x", &inputs).unwrap_err();
            assert!(matches!(err, EmitError::OverwritesInput { .. }), "{name}: {err}");
        }
        assert_eq!(std::fs::read(&input).unwrap(), b"print(1)");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 3, "no temporary file left");
        write_atomically(&dir.path().join("other"), b"x", &inputs).unwrap();
    }

    #[test]
    fn non_elf_stub_gets_a_trailer() {
        let (payload, _) = Writer::new(3).finish().unwrap();
        let out = attach(b"not elf", &payload).unwrap();
        assert_eq!(&out[..7], b"not elf");
        assert_eq!(&out[7..], &payload[..]);
    }
}
