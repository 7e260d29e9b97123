//! `bundle inspect` and `bundle verify`: what an executable made by bundle holds, read without
//! running it. The executable side (format, architecture, interpreter, `DT_NEEDED`, the newest
//! glibc symbol version it needs) comes from goblin; the payload side from the runtime's own
//! format reader, so inspect and the runtime can never disagree on what a payload means.
//!
//! The JSON form (`--json`) is documented in docs/INSPECT.md; its `schema` field changes when a
//! field changes meaning or disappears.

pub mod extract;
pub mod integrity;
pub mod links;
pub mod sbom;
pub mod size;

use std::path::{Path, PathBuf};

use bundle_runtime::carrier::{self, Carrier, LocateError};
use bundle_runtime::format::{Kind, Payload};
use serde::Serialize;

/// Version of the JSON document.
pub const SCHEMA: u32 = 1;

/// Why a file cannot be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: is a directory, not an executable", .0.display())]
    Directory(PathBuf),
    #[error("{}: not an executable made by bundle (no ELF header and no payload trailer)", .0.display())]
    NotExecutable(PathBuf),
    #[error("{}: {source}", path.display())]
    Payload {
        path: PathBuf,
        #[source]
        source: LocateError,
    },
    #[error("{}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
}

/// Everything `inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub file: String,
    pub size: u64,
    pub executable: Option<Executable>,
    pub payload: PayloadInfo,
    /// The image hash and the signature (docs/FORMAT.md, "Image hash", "Signature block").
    pub integrity: Integrity,
    /// The bill of materials (the MANIFEST record), when the executable carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<crate::output::bom::Bom>,
}

/// What protects the bytes outside the payload.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Integrity {
    /// The recorded SHA-256 of the executable outside the payload, hexadecimal; null for an
    /// executable without an IMAGE_HASH record.
    pub image_hash: Option<String>,
    /// Whether the file's bytes still hash to it; null without one.
    pub image_hash_ok: Option<bool>,
    /// The signature block at the end of the file, if any.
    pub signature: Option<SignatureInfo>,
}

/// A signature block.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureInfo {
    /// `ed25519`.
    pub algorithm: String,
    /// The signer's public key fingerprint, as `ssh-keygen -l` prints it (`SHA256:...`).
    pub fingerprint: String,
}

/// The executable around the payload.
#[derive(Debug, Clone, Serialize)]
pub struct Executable {
    /// `elf64` or `elf32`.
    pub format: String,
    pub arch: String,
    pub endian: String,
    /// No `.symtab`: `strip` ran on it.
    pub stripped: bool,
    /// The dynamic loader (`PT_INTERP`), if dynamically linked.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` libraries, in order.
    pub needed: Vec<String>,
    /// The newest `GLIBC_x.y` symbol version required by the executable or a packed native
    /// library: the oldest glibc it can run on.
    pub min_glibc: Option<String>,
}

/// The payload. Its JSON form adds `assets`, the asset entries described by mount
/// ([`PayloadInfo::assets`]), after the fields below.
#[derive(Debug, Clone)]
pub struct PayloadInfo {
    pub format_version: u16,
    /// `section` (ELF section `.bundle`) or `trailer` (end of file).
    pub carrier: String,
    pub offset: u64,
    pub size: u64,
    /// XXH3-64, hexadecimal.
    pub checksum: String,
    pub checksum_ok: bool,
    /// Chunk name of the main script; `null` for an interpreter build.
    pub main: Option<String>,
    /// The interpreter (`luajit`'s command line), if the executable carries one.
    pub interpreter: Option<InterpreterInfo>,
    pub preloads: Vec<String>,
    /// The entry points (`--entry`), sorted by name, the interpreter entry among them.
    pub entry_points: Vec<EntryPointInfo>,
    /// The entry run when neither the executable's name nor its first argument names one.
    pub default_entry: Option<String>,
    /// The program's baked arguments (`--args`), for the main script and every entry point
    /// without its own.
    pub args: Option<Vec<String>>,
    /// Whether the program serves only what it carries (`--hermetic`).
    pub hermetic: bool,
    pub entries: Vec<EntryInfo>,
    pub totals: Totals,
    /// Shared libraries the packed native code needs that are neither packed nor part of the
    /// base system (left out with `--no-lib`): the target machine must provide them.
    pub external_libraries: Vec<String>,
}

/// The interpreter part of a payload.
#[derive(Debug, Clone, Serialize)]
pub struct InterpreterInfo {
    /// Size of the interpreter chunk.
    pub size: u64,
    /// With a main script: the environment variable that selects the interpreter.
    pub env: Option<String>,
}

/// One entry point of a program (`--entry NAME=FILE`, `--entry NAME=@interpreter`).
#[derive(Debug, Clone, Serialize)]
pub struct EntryPointInfo {
    /// The name it is run by: the executable's name (a link) or its first argument.
    pub name: String,
    /// Chunk name of its script; `null` for the interpreter entry.
    pub chunkname: Option<String>,
    /// Whether it runs the interpreter (luajit's command line).
    pub interpreter: bool,
    /// The arguments baked into it: its own (`--entry-args`), else the program's (`--args`),
    /// which the interpreter entry never takes; `...` marks where the user's go, `${VAR}` and
    /// `${VAR:-default}` expand at run time.
    pub args: Option<Vec<String>>,
}

/// One payload entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryInfo {
    /// Module name; empty for the main script.
    pub name: String,
    /// `lua-source`, `lua-bytecode`, `native` or `asset`.
    pub kind: String,
    pub chunkname: String,
    /// `stored` or `zstd`.
    pub codec: String,
    pub raw: u64,
    pub stored: u64,
    /// For a C module served by another module's library: that module's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shares: Option<String>,
    /// For an asset: its permission bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

impl EntryInfo {
    /// For an asset, its mount: the name without the `?` that marks asset names
    /// (docs/FORMAT.md, "Assets").
    pub fn mount(&self) -> Option<&str> {
        if self.kind == Kind::Asset.to_string() {
            self.name.strip_prefix(char::from(bundle_runtime::format::ASSET_PREFIX))
        } else {
            None
        }
    }
}

/// A file the program carries (`--asset`), by the path the program opens it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetInfo {
    /// Relative (`public/style.css`, resolved against the working directory at run time) or
    /// absolute (`/etc/app.conf`).
    pub mount: String,
    /// Size of the file.
    pub size: u64,
    /// Size in the executable.
    pub stored: u64,
    /// `stored` or `zstd`.
    pub codec: String,
    /// Permission bits (`0o644` is 420).
    pub mode: u32,
}

impl PayloadInfo {
    /// The asset entries, in index order (by mount).
    pub fn assets(&self) -> Vec<AssetInfo> {
        self.entries
            .iter()
            .filter_map(|e| {
                Some(AssetInfo {
                    mount: e.mount()?.to_owned(),
                    size: e.raw,
                    stored: e.stored,
                    codec: e.codec.clone(),
                    mode: e.mode.unwrap_or(0),
                })
            })
            .collect()
    }
}

/// The JSON form: the fields in declaration order, then `assets`. Written by hand because
/// `assets` is a view of `entries`, not a field: there is one list of entries to keep right.
impl Serialize for PayloadInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("PayloadInfo", 17)?;
        out.serialize_field("format_version", &self.format_version)?;
        out.serialize_field("carrier", &self.carrier)?;
        out.serialize_field("offset", &self.offset)?;
        out.serialize_field("size", &self.size)?;
        out.serialize_field("checksum", &self.checksum)?;
        out.serialize_field("checksum_ok", &self.checksum_ok)?;
        out.serialize_field("main", &self.main)?;
        out.serialize_field("interpreter", &self.interpreter)?;
        out.serialize_field("preloads", &self.preloads)?;
        out.serialize_field("entry_points", &self.entry_points)?;
        out.serialize_field("default_entry", &self.default_entry)?;
        out.serialize_field("args", &self.args)?;
        out.serialize_field("hermetic", &self.hermetic)?;
        out.serialize_field("entries", &self.entries)?;
        out.serialize_field("totals", &self.totals)?;
        out.serialize_field("external_libraries", &self.external_libraries)?;
        out.serialize_field("assets", &self.assets())?;
        out.end()
    }
}

/// Sums over the entries.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub entries: usize,
    pub raw: u64,
    pub stored: u64,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `GLIBC_2.34` → (2, 34); other version names are not glibc's.
fn glibc_version(name: &str) -> Option<Vec<u32>> {
    let v = name.strip_prefix("GLIBC_")?;
    v.split('.').map(|p| p.parse().ok()).collect()
}

/// The newest GLIBC_* version an ELF file's version-needs section names.
pub fn min_glibc(bytes: &[u8]) -> Option<Vec<u32>> {
    // goblin is not promised to be panic-free on hostile input: contain it.
    std::panic::catch_unwind(|| {
        let elf = goblin::elf::Elf::parse(bytes).ok()?;
        let verneed = elf.verneed.as_ref()?;
        verneed
            .iter()
            .flat_map(|need| {
                need.iter().filter_map(|aux| elf.dynstrtab.get_at(aux.vna_name)).collect::<Vec<_>>()
            })
            .filter_map(glibc_version)
            .max()
    })
    .ok()
    .flatten()
}

fn executable(bytes: &[u8], native: &[Vec<u8>]) -> Option<Executable> {
    let parsed = std::panic::catch_unwind(|| {
        let elf = goblin::elf::Elf::parse(bytes).ok()?;
        Some(Executable {
            format: if elf.is_64 { "elf64" } else { "elf32" }.to_owned(),
            arch: goblin::elf::header::machine_to_str(elf.header.e_machine).to_lowercase(),
            endian: if elf.little_endian { "little" } else { "big" }.to_owned(),
            stripped: !elf
                .section_headers
                .iter()
                .any(|s| s.sh_type == goblin::elf::section_header::SHT_SYMTAB),
            interpreter: elf.interpreter.map(str::to_owned),
            needed: elf.libraries.iter().map(|s| (*s).to_owned()).collect(),
            min_glibc: None,
        })
    })
    .ok()
    .flatten();
    parsed.map(|mut e| {
        e.min_glibc = std::iter::once(bytes)
            .chain(native.iter().map(Vec::as_slice))
            .filter_map(min_glibc)
            .max()
            .map(|v| v.iter().map(u32::to_string).collect::<Vec<_>>().join("."));
        e
    })
}

/// Reads `path` and the payload it carries. A payload whose checksum does not match is still
/// described (with `checksum_ok: false`); one whose structure is broken is an error, and so is
/// an intact one that fails any check of [`Payload::verify_all`].
pub fn inspect(path: &Path) -> Result<Report, InspectError> {
    if path.is_dir() {
        return Err(InspectError::Directory(path.to_path_buf()));
    }
    let bytes = crate::base::input::read(path)
        .map_err(|source| InspectError::Read { path: path.to_path_buf(), source })?;
    let is_elf = bytes.starts_with(b"\x7fELF");
    let located = match carrier::locate(&bytes) {
        Ok(l) => l,
        Err(LocateError::NotFound) if !is_elf => {
            return Err(InspectError::NotExecutable(path.to_path_buf()))
        }
        Err(source) => return Err(InspectError::Payload { path: path.to_path_buf(), source }),
    };
    let damaged = |source| InspectError::Payload {
        path: path.to_path_buf(),
        source: LocateError::Damaged { carrier: located.carrier, source },
    };
    let payload_bytes = &bytes[located.range.clone()];
    let p = Payload::parse_unverified(payload_bytes).map_err(damaged)?;
    // An intact payload is checked in full: everything the runtime would check, at start-up or
    // when the program reaches it, so that a crafted payload is not described as a good one. A
    // damaged one is described as far as it can be read (`checksum_ok: false`).
    if p.checksum_ok() {
        p.verify_all().map_err(damaged)?;
    }
    let mut entries = Vec::new();
    let mut native = Vec::new();
    let mut packed_libraries = Vec::new();
    for e in p.entries() {
        let e = e.map_err(damaged)?;
        // Only a verified payload's native libraries are decoded.
        let shared = e.flags & bundle_runtime::format::flags::SHARED != 0;
        if e.kind == Kind::Native && p.checksum_ok() && !shared {
            native.push(e.decode().map_err(damaged)?);
        }
        if e.flags & bundle_runtime::format::flags::LIBRARY != 0 {
            packed_libraries.push(lossy(e.name));
        }
        entries.push(EntryInfo {
            name: lossy(e.name),
            kind: e.kind.to_string(),
            chunkname: lossy(e.chunkname),
            codec: match e.codec {
                bundle_runtime::format::Codec::Stored => "stored",
                bundle_runtime::format::Codec::Zstd => "zstd",
            }
            .to_owned(),
            raw: e.raw_len,
            stored: e.stored.len() as u64,
            shares: shared.then(|| lossy(e.stored)),
            mode: e.mode(),
        });
    }
    let main = p.main().map_err(damaged)?.map(|m| lossy(m.chunkname));
    let preloads = p.preloads().map_err(damaged)?.into_iter().map(lossy).collect();
    let interpreter = match p.interpreter().map_err(damaged)? {
        Some(chunk) => Some(InterpreterInfo {
            size: chunk.len() as u64,
            env: p.interpreter_env().map_err(damaged)?.map(lossy),
        }),
        None => None,
    };
    let entry_points = entry_points(&p).map_err(damaged)?;
    let default_entry = p.default_entry().map_err(damaged)?.map(lossy);
    let args = p.args_for(b"").map_err(damaged)?.map(|a| a.into_iter().map(lossy).collect());
    let hermetic = p.hermetic().map_err(damaged)?;
    let manifest = size::manifest(&p)
        .map_err(|reason| InspectError::Manifest { path: path.to_path_buf(), reason })?;
    let totals = Totals {
        entries: entries.len(),
        raw: entries.iter().map(|e| e.raw).sum(),
        stored: entries.iter().map(|e| e.stored).sum(),
    };
    let mut external_libraries: Vec<String> = native
        .iter()
        .filter_map(|bytes| {
            std::panic::catch_unwind(|| {
                goblin::elf::Elf::parse(bytes)
                    .ok()
                    .map(|e| e.libraries.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            })
            .ok()
            .flatten()
        })
        .flatten()
        .filter(|l| !crate::base::native::is_base_system(l) && !packed_libraries.contains(l))
        .collect();
    external_libraries.sort();
    external_libraries.dedup();
    let integrity = integrity(&bytes, located.range.clone(), &p);
    Ok(Report {
        integrity,
        schema: SCHEMA,
        file: path.display().to_string(),
        size: bytes.len() as u64,
        executable: if is_elf { executable(&bytes, &native) } else { None },
        payload: PayloadInfo {
            format_version: bundle_runtime::format::VERSION,
            carrier: match located.carrier {
                Carrier::Section => "section",
                Carrier::Trailer => "trailer",
            }
            .to_owned(),
            offset: located.range.start as u64,
            size: p.total_len(),
            checksum: format!("{:016x}", p.checksum()),
            checksum_ok: p.checksum_ok(),
            main,
            interpreter,
            preloads,
            entry_points,
            default_entry,
            args,
            hermetic,
            entries,
            totals,
            external_libraries,
        },
        manifest,
    })
}

/// The image hash `p` records, whether `bytes` match it, and the signature block's signer.
fn integrity(bytes: &[u8], range: std::ops::Range<usize>, p: &Payload) -> Integrity {
    let recorded = crate::trust::recorded(p).ok().flatten().and_then(|h| h.hash().copied());
    let hex = |h: &[u8]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
    Integrity {
        image_hash: recorded.map(|h| hex(&h)),
        image_hash_ok: recorded.map(|h| crate::trust::image_hash(bytes, range) == h),
        signature: crate::trust::sign::signer(bytes).ok().flatten().map(|k| SignatureInfo {
            algorithm: "ed25519".into(),
            fingerprint: crate::trust::sign::fingerprint(&k),
        }),
    }
}

/// The entry points of `p`, the interpreter entry among them, sorted by name.
fn entry_points(p: &Payload) -> Result<Vec<EntryPointInfo>, bundle_runtime::format::FormatError> {
    let args = |name: &[u8]| -> Result<Option<Vec<String>>, _> {
        Ok(p.args_for(name)?.map(|a| a.into_iter().map(lossy).collect()))
    };
    let mut out = Vec::new();
    for name in p.entry_points()? {
        out.push(EntryPointInfo {
            name: lossy(name),
            chunkname: p.entry_point(name)?.map(|e| lossy(e.chunkname)),
            interpreter: false,
            args: args(name)?,
        });
    }
    if let Some(name) = p.interpreter_entry()? {
        // The interpreter entry takes only its own arguments, never the program's
        // (runtime/host/host.c, `push_argv`): its command line is luajit's.
        let mut own = None;
        for r in p.records() {
            if let bundle_runtime::format::Record::Args(a) = r? {
                if a.entry() == name && own.is_none() {
                    own = Some(a.args().map(lossy).collect());
                }
            }
        }
        out.push(EntryPointInfo {
            name: lossy(name),
            chunkname: None,
            interpreter: true,
            args: own,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Checks structure, checksum and everything else [`Payload::verify_all`] checks (every entry
/// decoded, every reference resolved); `Ok` only if the payload is intact and the runtime would
/// find nothing wrong with it.
pub fn verify(path: &Path) -> Result<Report, InspectError> {
    let report = inspect(path)?;
    if !report.payload.checksum_ok {
        // Re-parse strictly for the precise message.
        let bytes = crate::base::input::read(path)
            .map_err(|source| InspectError::Read { path: path.to_path_buf(), source })?;
        let located = carrier::locate(&bytes)
            .map_err(|source| InspectError::Payload { path: path.to_path_buf(), source })?;
        if let Err(source) = Payload::parse(&bytes[located.range]) {
            return Err(InspectError::Payload {
                path: path.to_path_buf(),
                source: LocateError::Damaged { carrier: located.carrier, source },
            });
        }
    }
    Ok(report)
}

/// Text read from a payload, for the terminal: control and other invisible characters escaped
/// (`\u{1b}`, `\n`), so that a crafted name cannot move the cursor or forge lines. The JSON form
/// needs nothing of the kind: its strings are escaped by JSON's rules.
fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '\'' | '"' => out.push(c),
            c => out.extend(c.escape_debug()),
        }
    }
    out
}

fn ratio(raw: u64, stored: u64) -> String {
    if raw == 0 {
        "-".to_owned()
    } else {
        format!("{:.0}%", stored as f64 * 100.0 / raw as f64)
    }
}

/// The human-readable form.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "file         {} ({} bytes)", r.file, r.size);
    if let Some(e) = &r.executable {
        let linking =
            if e.interpreter.is_some() { "dynamically linked" } else { "statically linked" };
        let stripped = if e.stripped { "stripped" } else { "not stripped" };
        let _ = writeln!(
            out,
            "executable   {} {} {}-endian, {linking}, {stripped}",
            e.format, e.arch, e.endian
        );
        if let Some(i) = &e.interpreter {
            let _ = writeln!(out, "interpreter  {}", shown(i));
        }
        if !e.needed.is_empty() {
            let needed: Vec<String> = e.needed.iter().map(|n| shown(n)).collect();
            let _ = writeln!(out, "needed       {}", needed.join(", "));
        }
        if let Some(g) = &e.min_glibc {
            let _ = writeln!(out, "glibc        {g} or newer");
        }
    }
    let p = &r.payload;
    let _ = writeln!(
        out,
        "payload      format {}, {} at offset {}, {} bytes, checksum {} ({})",
        p.format_version,
        p.carrier,
        p.offset,
        p.size,
        p.checksum,
        if p.checksum_ok { "ok" } else { "MISMATCH: damaged" }
    );
    let integrity = &r.integrity;
    let _ = match (&integrity.image_hash, integrity.image_hash_ok) {
        (Some(h), Some(ok)) => writeln!(
            out,
            "image hash   sha256 {h} ({})",
            if ok { "ok" } else { "MISMATCH: damaged outside the payload; see bundle verify" }
        ),
        _ => writeln!(out, "image hash   none (made before image hashes, or not sealed)"),
    };
    let _ = match &integrity.signature {
        Some(s) => writeln!(out, "signature    {} {}", s.algorithm, s.fingerprint),
        None => writeln!(out, "signature    none"),
    };
    let main = match (&p.main, p.entry_points.is_empty()) {
        (Some(m), _) => shown(m),
        (None, true) => "(none: interpreter)".to_owned(),
        (None, false) => "(none: entry points)".to_owned(),
    };
    let _ = writeln!(out, "main         {main}");
    let width = p.entry_points.iter().map(|e| e.name.chars().count()).max().unwrap_or(0);
    let script_width = p
        .entry_points
        .iter()
        .map(|e| e.chunkname.as_deref().map_or(13, |c| shown(c).chars().count()))
        .max()
        .unwrap_or(0);
    for e in &p.entry_points {
        let script = match &e.chunkname {
            Some(c) => shown(c),
            None => "(interpreter)".to_owned(),
        };
        let args = e.args.as_deref().map(baked).unwrap_or_default();
        let line =
            format!("entry        {:<width$}  {script:<script_width$}  {args}", shown(&e.name));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if let Some(d) = &p.default_entry {
        let _ = writeln!(out, "default      {}", shown(d));
    }
    if let Some(a) = &p.args {
        let _ = writeln!(out, "args         {}", baked(a));
    }
    if p.hermetic {
        let _ = writeln!(
            out,
            "hermetic     yes: modules only from the executable (no filesystem searchers, LUA_PATH and LUA_CPATH ignored)"
        );
    }
    if let Some(i) = &p.interpreter {
        let when = match &i.env {
            Some(env) => format!("when ${} is set", shown(env)),
            None => "always".to_owned(),
        };
        let _ = writeln!(out, "interpreter  luajit's command line, {} bytes, {when}", i.size);
    }
    if !p.preloads.is_empty() {
        let preloads: Vec<String> = p.preloads.iter().map(|n| shown(n)).collect();
        let _ = writeln!(out, "preloads     {}", preloads.join(", "));
    }
    if !p.external_libraries.is_empty() {
        let external: Vec<String> = p.external_libraries.iter().map(|n| shown(n)).collect();
        let _ =
            writeln!(out, "not packed   {} (the target must provide them)", external.join(", "));
    }
    out.push('\n');
    // Assets have a table of their own, by mount: their entry names (`?` + mount) and empty
    // chunk names would only be noise among the modules.
    let code: Vec<&EntryInfo> = p.entries.iter().filter(|e| e.mount().is_none()).collect();
    let mut rows = vec![["NAME", "KIND", "CHUNK NAME", "RAW", "STORED", "RATIO"].map(String::from)];
    for e in &code {
        rows.push([
            match e.name.strip_prefix(char::from(bundle_runtime::format::ENTRY_PREFIX)) {
                _ if e.name.is_empty() => "(main)".to_owned(),
                Some(entry) if e.kind.starts_with("lua") => format!("(entry {})", shown(entry)),
                _ => shown(&e.name),
            },
            match &e.shares {
                Some(owner) => format!("{} (in {})", e.kind, shown(owner)),
                None => e.kind.clone(),
            },
            shown(&e.chunkname),
            e.raw.to_string(),
            e.stored.to_string(),
            ratio(e.raw, e.stored),
        ]);
    }
    let (raw, stored) = sums(code.iter().map(|e| (e.raw, e.stored)));
    rows.push([
        format!("total: {}", plural(code.len(), "entry", "entries")),
        String::new(),
        String::new(),
        raw.to_string(),
        stored.to_string(),
        ratio(raw, stored),
    ]);
    out.push_str(&crate::base::table::render(&rows, &[3, 4, 5]));
    let assets = p.assets();
    if !assets.is_empty() {
        out.push('\n');
        let mut rows =
            vec![["ASSET", "MODE", "CODEC", "SIZE", "STORED", "RATIO"].map(String::from)];
        for a in &assets {
            rows.push([
                shown(&a.mount),
                format!("{:04o}", a.mode),
                a.codec.clone(),
                a.size.to_string(),
                a.stored.to_string(),
                ratio(a.size, a.stored),
            ]);
        }
        let (size, stored) = sums(assets.iter().map(|a| (a.size, a.stored)));
        rows.push([
            format!("total: {}", plural(assets.len(), "asset", "assets")),
            String::new(),
            String::new(),
            size.to_string(),
            stored.to_string(),
            ratio(size, stored),
        ]);
        out.push_str(&crate::base::table::render(&rows, &[1, 3, 4, 5]));
    }
    out
}

/// Baked arguments as one line that `--args` would read back, escaped for the terminal.
fn baked(args: &[String]) -> String {
    shown(&crate::base::shell::join(args))
}

/// `1 entry`, `3 entries`.
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Sums of (raw, stored) pairs.
fn sums(pairs: impl Iterator<Item = (u64, u64)>) -> (u64, u64) {
    pairs.fold((0, 0), |(r, s), (a, b)| (r.saturating_add(a), s.saturating_add(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_compare_numerically() {
        assert_eq!(glibc_version("GLIBC_2.34"), Some(vec![2, 34]));
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
        assert!(glibc_version("GLIBC_2.9") < glibc_version("GLIBC_2.17"));
        assert_eq!(glibc_version("GCC_3.0"), None);
    }

    #[test]
    fn the_embedded_stub_needs_some_glibc() {
        let v = min_glibc(crate::base::stub::EMBEDDED).expect("the stub links glibc");
        assert_eq!(v[0], 2);
    }

    /// Issue 13, item 18: what a crafted payload names reaches the terminal escaped.
    #[test]
    fn issue13_render_escapes_what_the_payload_names() {
        let evil = "x\u{1b}]0;title\u{7}\ny\r\u{202e}";
        let entry = |name: &str| EntryInfo {
            name: name.into(),
            kind: "native".into(),
            chunkname: format!("@{evil}"),
            codec: "stored".into(),
            raw: 1,
            stored: 1,
            shares: Some(evil.into()),
            mode: None,
        };
        let report = Report {
            integrity: Integrity::default(),
            schema: SCHEMA,
            file: "app".into(),
            size: 1,
            manifest: None,
            executable: None,
            payload: PayloadInfo {
                format_version: 1,
                carrier: "section".into(),
                offset: 0,
                size: 0,
                checksum: String::new(),
                checksum_ok: true,
                main: Some(format!("@{evil}")),
                interpreter: Some(InterpreterInfo { size: 1, env: Some(evil.into()) }),
                preloads: vec![evil.into()],
                entry_points: vec![EntryPointInfo {
                    name: evil.into(),
                    chunkname: Some(format!("@{evil}")),
                    interpreter: false,
                    args: Some(vec![evil.into()]),
                }],
                default_entry: Some(evil.into()),
                args: Some(vec![evil.into()]),
                hermetic: false,
                entries: vec![
                    entry(""),
                    entry(evil),
                    EntryInfo {
                        name: format!("?{evil}"),
                        kind: "asset".into(),
                        chunkname: String::new(),
                        mode: Some(0o644),
                        shares: None,
                        ..entry("")
                    },
                ],
                totals: Totals { entries: 3, raw: 3, stored: 3 },
                external_libraries: vec![evil.into()],
            },
        };
        let out = render(&report);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(!out.contains('\u{202e}'), "{out:?}");
        assert!(out.contains("x\\u{1b}]0;title\\u{7}\\ny\\r\\u{202e}"), "{out}");
        let asset_row = out.lines().find(|l| l.contains("0644")).expect("an asset row");
        assert!(asset_row.starts_with("x\\u{1b}]0;title"), "{out}");
        assert_eq!(shown("it's \"a\\b\""), "it's \"a\\b\"", "printable text is kept as is");
    }
}
