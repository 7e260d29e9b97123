//! `bundle size APP`, the build summary's size table, `--max-size` and `bundle diff OLD NEW`:
//! where an executable's bytes go, read from its payload index (raw and stored bytes of every
//! entry) and its bill of materials (the MANIFEST record: which rock or search root each entry
//! came from and who pulled it in). Works on bytes in memory, so that the build can show the
//! table of an executable it has not written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bundle_runtime::carrier::{self, LocateError};
use bundle_runtime::format::{Kind, Payload, Record};
use serde::Serialize;

use crate::base::table;
use crate::inspect::InspectError;
use crate::output::bom::{sha256_hex, Bom, BomEntry};

/// Where the bytes of one executable go.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    /// Size of the whole file.
    pub file: u64,
    /// Everything outside the payload: the stub's code and data, the ELF headers.
    pub stub: u64,
    /// The payload's header, index, strings, records and trailer (everything but the entries'
    /// stored bytes).
    pub payload_overhead: u64,
    /// By rock, search root, the runtime, the native libraries, the assets; largest first.
    pub groups: Vec<Group>,
    /// Every entry, largest first.
    pub entries: Vec<EntrySize>,
}

/// The entries of one rock, search root or kind.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `rock lpeg 1.0.2-1`, `root /app`, `native libraries`, `assets`, `runtime`.
    pub name: String,
    pub raw: u64,
    pub stored: u64,
    pub entries: usize,
    /// Who pulled its entries in from outside it (`(main):3`, `-m`), in order, deduplicated.
    pub pulled_in_by: Vec<String>,
}

/// One payload entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntrySize {
    /// The entry's name, `(main)` for the main script.
    pub name: String,
    pub kind: String,
    pub group: String,
    pub raw: u64,
    pub stored: u64,
    /// Who pulled it in (from the bill of materials); empty when unknown.
    pub pulled_in_by: String,
    /// SHA-256 of the entry's decoded bytes, for `diff`.
    #[serde(skip)]
    pub hash: String,
}

/// Reads `path` as an executable made by bundle.
pub fn read_app(path: &Path) -> Result<Vec<u8>, InspectError> {
    if path.is_dir() {
        return Err(InspectError::Directory(path.to_path_buf()));
    }
    crate::base::input::read(path)
        .map_err(|source| InspectError::Read { path: path.to_path_buf(), source })
}

/// The group an entry of the bill of materials belongs to.
fn group_of(e: &BomEntry) -> String {
    match (e.kind.as_str(), e.origin.kind.as_str(), &e.origin.rock) {
        ("library", ..) => "native libraries".to_owned(),
        ("asset", ..) => "assets".to_owned(),
        (_, "runtime", _) => "runtime".to_owned(),
        (_, "tree", Some(r)) => format!("rock {} {}", r.name, r.version),
        (_, "tree", None) => format!("tree {}", e.origin.root),
        (_, _, _) => format!("root {}", e.origin.root),
    }
}

/// The bill of materials a payload carries, if any.
pub fn manifest(p: &Payload) -> Result<Option<Bom>, String> {
    for r in p.records() {
        if let Record::Manifest(sealed) = r.map_err(|e| e.to_string())? {
            let value = sealed.verified("MANIFEST").map_err(|e| e.to_string())?;
            return Bom::decode(value).map(Some);
        }
    }
    Ok(None)
}

/// Where the bytes of the executable `image` go. `path` names it in errors.
pub fn sizes(path: &Path, image: &[u8]) -> Result<Sizes, InspectError> {
    sizes_with(path, image, true)
}

/// [`sizes`], with each entry decoded and hashed only when `hashes` (what `diff` compares):
/// the build's own summary of the executable it just wrote goes without.
pub fn sizes_with(path: &Path, image: &[u8], hashes: bool) -> Result<Sizes, InspectError> {
    let located = match carrier::locate(image) {
        Ok(l) => l,
        Err(LocateError::NotFound) if !image.starts_with(b"\x7fELF") => {
            return Err(InspectError::NotExecutable(path.to_path_buf()))
        }
        Err(source) => return Err(InspectError::Payload { path: path.to_path_buf(), source }),
    };
    let damaged = |source| InspectError::Payload {
        path: path.to_path_buf(),
        source: LocateError::Damaged { carrier: located.carrier, source },
    };
    let p = Payload::parse(&image[located.range.clone()]).map_err(damaged)?;
    let bom = manifest(&p)
        .map_err(|reason| InspectError::Manifest { path: path.to_path_buf(), reason })?;
    let mut entries = Vec::new();
    for e in p.entries() {
        let e = e.map_err(damaged)?;
        let name = String::from_utf8_lossy(e.name).into_owned();
        let known = bom.as_ref().and_then(|b| b.entry(&name));
        let group = match known {
            Some(k) => group_of(k),
            None if e.is_library() => "native libraries".to_owned(),
            None if e.kind == Kind::Asset => "assets".to_owned(),
            None => "modules".to_owned(),
        };
        let hash = if hashes { sha256_hex(&e.decode().map_err(damaged)?) } else { String::new() };
        entries.push(EntrySize {
            name: if e.is_main() { "(main)".to_owned() } else { name },
            kind: if e.is_library() { "library".to_owned() } else { e.kind.to_string() },
            group,
            raw: e.raw_len,
            stored: e.stored.len() as u64,
            pulled_in_by: known.map(|k| k.required_by.clone()).unwrap_or_default(),
            hash,
        });
    }
    entries.sort_by(|a, b| b.stored.cmp(&a.stored).then_with(|| a.name.cmp(&b.name)));
    let group_by_name: BTreeMap<&str, &str> =
        entries.iter().map(|e| (e.name.as_str(), e.group.as_str())).collect();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for e in &entries {
        let g = groups.entry(e.group.clone()).or_insert_with(|| Group {
            name: e.group.clone(),
            raw: 0,
            stored: 0,
            entries: 0,
            pulled_in_by: Vec::new(),
        });
        g.raw += e.raw;
        g.stored += e.stored;
        g.entries += 1;
        // `(main):3` → `(main)`: a require from inside the group is not what pulled it in.
        let by = e.pulled_in_by.rsplit_once(':').map_or(e.pulled_in_by.as_str(), |(m, _)| m);
        let inside = group_by_name.get(by).is_some_and(|g| *g == e.group);
        if !e.pulled_in_by.is_empty() && !inside && !g.pulled_in_by.contains(&e.pulled_in_by) {
            g.pulled_in_by.push(e.pulled_in_by.clone());
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| b.stored.cmp(&a.stored).then_with(|| a.name.cmp(&b.name)));
    let stored: u64 = entries.iter().map(|e| e.stored).sum();
    let payload_len = located.range.len() as u64;
    Ok(Sizes {
        file: image.len() as u64,
        stub: image.len() as u64 - payload_len,
        payload_overhead: payload_len.saturating_sub(stored),
        groups,
        entries,
    })
}

impl Sizes {
    /// The table `bundle size` prints: the parts (stub, payload overhead, each group) largest
    /// first, then every entry largest first.
    pub fn render(&self) -> String {
        self.render_top(usize::MAX)
    }

    /// [`Sizes::render`] with only the `limit` largest entries (the build summary's table).
    pub fn render_top(&self, limit: usize) -> String {
        let n = |v: u64| v.to_string();
        let mut parts = vec![
            ["STORED", "RAW", "PART", "ENTRIES", "PULLED IN BY"].map(String::from),
            [n(self.stub), n(self.stub), "stub".into(), "-".into(), "-".into()],
            [
                n(self.payload_overhead),
                n(self.payload_overhead),
                "payload index and records".into(),
                "-".into(),
                "-".into(),
            ],
        ];
        for g in &self.groups {
            let by = match g.pulled_in_by.len() {
                0 => "-".to_owned(),
                1..=3 => g.pulled_in_by.join(", "),
                k => format!("{}, and {} more", g.pulled_in_by[..3].join(", "), k - 3),
            };
            parts.push([n(g.stored), n(g.raw), g.name.clone(), n(g.entries as u64), by]);
        }
        parts[1..].sort_by(|a, b| {
            let size = |r: &[String; 5]| r[0].parse::<u64>().unwrap_or(0);
            size(b).cmp(&size(a)).then_with(|| a[2].cmp(&b[2]))
        });
        let mut rows =
            vec![["STORED", "RAW", "ENTRY", "KIND", "PART", "PULLED IN BY"].map(String::from)];
        for e in self.entries.iter().take(limit) {
            rows.push([
                n(e.stored),
                n(e.raw),
                e.name.clone(),
                e.kind.clone(),
                e.group.clone(),
                if e.pulled_in_by.is_empty() { "-".into() } else { e.pulled_in_by.clone() },
            ]);
        }
        let more = match self.entries.len().saturating_sub(limit) {
            0 => String::new(),
            k => format!("({k} smaller entries: bundle size APP)\n"),
        };
        format!(
            "total {} bytes\n{}\n{}{more}",
            self.file,
            table::render(&parts, &[0, 1, 3]),
            table::render(&rows, &[0, 1])
        )
    }
}

/// How one entry differs between two executables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `added`, `removed` or `changed`.
    pub status: &'static str,
    pub name: String,
    /// Stored bytes in the old and new executable (`None` where it is absent).
    pub old: Option<u64>,
    pub new: Option<u64>,
    pub old_raw: Option<u64>,
    pub new_raw: Option<u64>,
}

impl Change {
    /// New stored size minus old.
    pub fn delta(&self) -> i64 {
        self.new.unwrap_or(0) as i64 - self.old.unwrap_or(0) as i64
    }
}

/// `bundle diff`: what changed between two executables.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub old: PathBuf,
    pub new: PathBuf,
    /// By name.
    pub changes: Vec<Change>,
    pub old_size: u64,
    pub new_size: u64,
    pub old_stub: u64,
    pub new_stub: u64,
}

/// Compares the entries of `old` and `new` by name and by the SHA-256 of their decoded bytes.
pub fn diff(old: &Path, new: &Path) -> Result<Diff, InspectError> {
    let a = sizes(old, &read_app(old)?)?;
    let b = sizes(new, &read_app(new)?)?;
    let by_name = |s: &Sizes| -> BTreeMap<String, EntrySize> {
        s.entries.iter().map(|e| (e.name.clone(), e.clone())).collect()
    };
    let (olds, news) = (by_name(&a), by_name(&b));
    let mut changes = Vec::new();
    let names: std::collections::BTreeSet<&String> = olds.keys().chain(news.keys()).collect();
    for name in names {
        let (o, n) = (olds.get(name), news.get(name));
        let status = match (o, n) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(o), Some(n)) if o.hash != n.hash => "changed",
            _ => continue,
        };
        changes.push(Change {
            status,
            name: name.clone(),
            old: o.map(|e| e.stored),
            new: n.map(|e| e.stored),
            old_raw: o.map(|e| e.raw),
            new_raw: n.map(|e| e.raw),
        });
    }
    Ok(Diff {
        old: old.to_path_buf(),
        new: new.to_path_buf(),
        changes,
        old_size: a.file,
        new_size: b.file,
        old_stub: a.stub,
        new_stub: b.stub,
    })
}

impl Diff {
    /// One tab-separated line per change, `STATUS NAME OLD NEW DELTA` (stored bytes, `-` where
    /// absent), then `stub` when it changed and `total`: stable, for scripts and CI logs.
    pub fn render(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let mut out = String::new();
        for c in &self.changes {
            let name = c.name.escape_default().to_string();
            out.push_str(&format!(
                "{}\t{name}\t{}\t{}\t{:+}\n",
                c.status,
                opt(c.old),
                opt(c.new),
                c.delta()
            ));
        }
        let line =
            |what: &str, o: u64, n: u64| format!("{what}\t\t{o}\t{n}\t{:+}\n", n as i64 - o as i64);
        if self.old_stub != self.new_stub {
            out.push_str(&line("stub", self.old_stub, self.new_stub));
        }
        out.push_str(&line("total", self.old_size, self.new_size));
        out
    }
}
