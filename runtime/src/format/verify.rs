//! [`Payload::verify_all`]: every check docs/FORMAT.md, "Verification", lists, on everything at
//! once, for `bundle verify` and `bundle inspect`. Not for the start-up path: it decodes every
//! entry. What a record must be by itself is [`Record::check`]'s; what is checked here is how
//! entries and records fit together.

use std::collections::BTreeMap;

use super::record::{self, Record};
use super::{label, quoted, Decoder, Entry, FormatError, Kind, Payload};

/// How deep the runtime follows NEEDS records from a native module: its libraries are at depth
/// 1, theirs at 2, and so on; a library deeper than this is an error (it also ends a cycle).
pub const MAX_LIBRARY_DEPTH: usize = 32;

impl<'a> Payload<'a> {
    /// Every check there is, for `bundle verify` and `bundle inspect`; the first problem found is
    /// the error. What [`Payload::parse`] checks at start-up (structure, checksum), that the
    /// index is sorted ([`Payload::check_order`]), then what the runtime would find only when
    /// the program reaches it: every entry read ([`Payload::entry`]), its data matching its
    /// checksum ([`Entry::verified`]) and decoded in full to its `raw_len`, the entries' data
    /// following each other in index order and filling the data section (so that every byte of
    /// the payload is covered by a checksum that was checked), its kind and flags
    /// consistent (at most one main script, of Lua source or bytecode; `LIBRARY` and `SHARED`
    /// only on native entries, never both; a `SHARED` entry served by a native module that holds
    /// code, see [`Payload::library_owner`]; bytecode that starts with LuaJIT's signature and
    /// source that does not; no NUL in a Lua chunk name), every record readable and
    /// well-formed ([`Record::check`]), every name a record holds resolved (NEEDS: a native
    /// entry holding code, then library entries, without cycles and at most
    /// [`MAX_LIBRARY_DEPTH`] deep), and something to run. docs/FORMAT.md, "Verification", lists
    /// the same. Not for the start-up path: it decodes everything.
    pub fn verify_all(&self) -> Result<(), FormatError> {
        if !self.checksum_ok() {
            return Err(FormatError::ChecksumMismatch {
                stored: self.checksum,
                computed: self.computed,
            });
        }
        self.check_order()?;
        let mut decoder = Decoder::new()?;
        let data_start = self.data_start();
        let mut next = data_start;
        for i in 0..self.entry_count {
            let e = self.entry(i)?;
            self.check_entry(&e, &mut decoder)?;
            if e.offset != next {
                return Err(FormatError::InvalidEntry {
                    entry: label(e.name),
                    reason: format!(
                        "its data starts at offset {} of the data section, where {} was expected \
                         (each entry's data follows the previous entry's)",
                        e.offset - data_start,
                        next - data_start
                    ),
                });
            }
            next = e.offset + e.stored.len() as u64;
        }
        let data_end = self.total_len() - super::FOOTER_LEN as u64;
        if next != data_end {
            return Err(FormatError::BadHeader(
                "the data section holds bytes that belong to no entry",
            ));
        }
        self.check_records()
    }

    /// One entry's consistency and content (see [`Payload::verify_all`]).
    fn check_entry(&self, e: &Entry<'a>, decoder: &mut Decoder) -> Result<(), FormatError> {
        let bad = |reason: String| Err(FormatError::InvalidEntry { entry: label(e.name), reason });
        let (library, shared) = (e.is_library(), e.is_shared());
        if library && shared {
            return bad("it has both the LIBRARY and the SHARED flag".into());
        }
        if (library || shared) && e.kind != Kind::Native {
            let flag = if library { "LIBRARY" } else { "SHARED" };
            return bad(format!("it has the {flag} flag but is of kind {}, not native", e.kind));
        }
        if e.is_main() && !e.kind.is_lua() {
            return bad(format!("it is of kind {}, not Lua source or bytecode", e.kind));
        }
        if e.kind.is_lua() && e.chunkname.contains(&0) {
            return bad("its chunk name contains a NUL byte".into());
        }
        if let Some(name) = e.name.strip_prefix(&[super::ENTRY_PREFIX]) {
            if !e.kind.is_lua() {
                return bad(format!(
                    "its name starts with '/', which makes it an entry point, but it is of kind \
                     {}, not Lua source or bytecode",
                    e.kind
                ));
            }
            if !record::is_entry_name(name) {
                return bad("it is an entry point without a name, or with '/' in it".into());
            }
        }
        if let Some(key) = e.asset_key() {
            let normal = !key.is_empty()
                && key != b"/"
                && !key.ends_with(b"/")
                && key
                    .split(|b| *b == b'/')
                    .enumerate()
                    .all(|(i, p)| !matches!(p, b"." | b"..") && (i == 0 || !p.is_empty()));
            if !normal {
                return bad("its mount is not a normalised path".into());
            }
        }
        if shared {
            self.library_owner(e)?;
        }
        let data = e.decode_with(decoder)?;
        match e.kind.chunk_mode().and_then(|mode| mode.refuses(&data)) {
            Some(reason) => bad(reason.into()),
            None => Ok(()),
        }
    }

    /// The records, and the names they hold (see [`Payload::verify_all`]).
    fn check_records(&self) -> Result<(), FormatError> {
        let bad = |reason: String| Err(FormatError::BadRecord(reason));
        let mut needs: BTreeMap<&'a [u8], Vec<&'a [u8]>> = BTreeMap::new();
        let mut args: Vec<&'a [u8]> = Vec::new();
        let (mut default_entry, mut interpreter_entry) = (None, None);
        // How many there are of each record allowed once, by tag: (count, name).
        let mut once: BTreeMap<u16, (usize, &'static str)> = BTreeMap::new();
        for r in self.records() {
            let r = r?;
            r.check()?;
            if r.at_most_once() {
                once.entry(r.tag()).or_insert((0, r.name())).0 += 1;
            }
            match r {
                Record::Args(a) => args.push(a.entry()),
                Record::DefaultEntry(name) => default_entry = Some(name),
                Record::InterpreterEntry(name) => interpreter_entry = Some(name),
                _ => {}
            }
            if let Record::Needs(n) = r {
                let owner = n.entry();
                let who = quoted(owner);
                match self.lookup(owner)? {
                    Some(e) if e.kind == Kind::Native && !e.is_shared() => {}
                    Some(_) => {
                        return bad(format!(
                            "the NEEDS record of {who} is for an entry that is not a native \
                             module or library holding code"
                        ))
                    }
                    None => {
                        return bad(format!(
                            "the NEEDS record of {who} is for an entry the payload lacks"
                        ))
                    }
                }
                let libs: Vec<&'a [u8]> = n.libraries().collect();
                for lib in &libs {
                    if self.library(lib)?.is_none() {
                        return bad(format!(
                            "the NEEDS record of {who} names the library {}, which the payload \
                             lacks (no native entry with the LIBRARY flag has that name)",
                            quoted(lib)
                        ));
                    }
                }
                if needs.insert(owner, libs).is_some() {
                    return bad(format!("there are two NEEDS records for {who}"));
                }
            }
        }
        for &(count, name) in once.values() {
            if count > 1 {
                return bad(format!("there are {count} {name} records; at most one is allowed"));
            }
        }
        let has = |tag| once.contains_key(&tag);
        let main = self.main()?.is_some();
        let (interpreter, env) = (has(record::INTERPRETER), has(record::INTERPRETER_ENV));
        if env && !interpreter {
            return bad("an INTERPRETER_ENV record comes without an INTERPRETER record".into());
        }
        if env && !main {
            return bad("an INTERPRETER_ENV record comes without a main script".into());
        }
        let entry_points = self.entry_points()?;
        if let Some(name) = interpreter_entry {
            if !interpreter {
                return bad(
                    "an INTERPRETER_ENTRY record comes without an INTERPRETER record".into()
                );
            }
            if entry_points.contains(&name) {
                return bad(format!(
                    "the INTERPRETER_ENTRY record names {}, which is also an entry point",
                    quoted(name)
                ));
            }
        }
        let is_entry =
            |name: &[u8]| entry_points.contains(&name) || interpreter_entry == Some(name);
        if let Some(name) = default_entry {
            if !is_entry(name) {
                return bad(format!(
                    "the DEFAULT_ENTRY record names {}, which is neither an entry point nor the \
                     interpreter entry",
                    quoted(name)
                ));
            }
        }
        args.sort_unstable();
        if let Some(w) = args.windows(2).find(|w| w[0] == w[1]) {
            return bad(match w[0] {
                b"" => "there are two ARGS records for the program".into(),
                name => format!("there are two ARGS records for the entry {}", quoted(name)),
            });
        }
        if let Some(name) = args.iter().find(|n| !n.is_empty() && !is_entry(n)) {
            return bad(format!(
                "the ARGS record for {} names neither an entry point nor the interpreter entry",
                quoted(name)
            ));
        }
        if !main && !interpreter && entry_points.is_empty() {
            return Err(FormatError::NothingToRun);
        }
        let has_assets =
            self.asset_children(b"")?.is_some() || self.asset_children(b"/")?.is_some();
        for (tag, name) in [(record::ASSETS, "ASSETS"), (record::ASSETS_OVERLAY, "ASSETS_OVERLAY")]
        {
            if has_assets != has(tag) {
                return bad(if has_assets {
                    format!("the payload has assets but no {name} record to read them")
                } else {
                    format!("an {name} record comes without assets")
                });
            }
        }
        let mut heights = BTreeMap::new();
        let mut chain = Vec::new();
        for lib in needs.values().flatten() {
            library_height(lib, &needs, &mut heights, &mut chain)?;
        }
        Ok(())
    }
}

/// The number of libraries on the longest NEEDS chain that starts at `lib` (itself included),
/// checked against [`MAX_LIBRARY_DEPTH`] for `lib` at depth `chain.len() + 1`; an error for a
/// cycle. `heights` remembers what is done, so each library is walked once.
fn library_height<'a>(
    lib: &'a [u8],
    needs: &BTreeMap<&'a [u8], Vec<&'a [u8]>>,
    heights: &mut BTreeMap<&'a [u8], usize>,
    chain: &mut Vec<&'a [u8]>,
) -> Result<usize, FormatError> {
    let shown = |chain: &[&[u8]], last: &[u8]| {
        chain.iter().chain([&last]).map(|n| quoted(n)).collect::<Vec<_>>().join(" -> ")
    };
    let height = match heights.get(lib) {
        Some(h) => *h,
        None => {
            if let Some(at) = chain.iter().position(|n| *n == lib) {
                return Err(FormatError::BadRecord(format!(
                    "the NEEDS records form a cycle: {}",
                    shown(&chain[at..], lib)
                )));
            }
            if chain.len() >= MAX_LIBRARY_DEPTH {
                return Err(FormatError::BadRecord(format!(
                    "libraries need each other more than {MAX_LIBRARY_DEPTH} deep: {}",
                    shown(chain, lib)
                )));
            }
            chain.push(lib);
            let mut height = 1;
            for dep in needs.get(lib).into_iter().flatten() {
                height = height.max(1 + library_height(dep, needs, heights, chain)?);
            }
            chain.pop();
            heights.insert(lib, height);
            height
        }
    };
    if chain.len() + height > MAX_LIBRARY_DEPTH {
        return Err(FormatError::BadRecord(format!(
            "libraries need each other more than {MAX_LIBRARY_DEPTH} deep, below {}",
            shown(chain, lib)
        )));
    }
    Ok(height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{INTERPRETER, INTERPRETER_ENV, NEEDS};
    use crate::format::testing::{entry, field, get_u64, put_u64, reseal, sample};
    use crate::format::{flags, NewEntry, Writer};

    #[test]
    fn issue13_a_wrong_decoded_length_is_found_by_verify_all() {
        // Entry 1 (a) is one zstd frame: the index claims one byte more than the frame holds.
        let mut bytes = sample();
        let raw = get_u64(&bytes, field(1, 32));
        put_u64(&mut bytes, field(1, 32), raw + 1);
        reseal(&mut bytes);
        let p = Payload::parse(&bytes).expect("entries are decoded only when loaded");
        let err = p.verify_all().unwrap_err();
        let want = format!(
            "entry 'a' could not be decompressed: its zstd frame holds {raw} bytes, the index \
             says {}",
            raw + 1
        );
        assert_eq!(err.to_string(), want);
        // Loading it (what the runtime does on require) fails the same way.
        let a = p.module(b"a").unwrap().unwrap();
        assert_eq!(a.decode_with(&mut Decoder::new().unwrap()).unwrap_err().to_string(), want);

        // A stored entry (b.c, entry 2) whose raw length is not its stored length.
        let mut bytes = sample();
        put_u64(&mut bytes, field(2, 32), 6);
        reseal(&mut bytes);
        let err = Payload::parse(&bytes).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry 'b.c' is invalid: it is stored as is, yet its decoded length (6 bytes) \
             differs from its stored length (7 bytes)"
        );

        // A zstd entry whose data goes on after the frame (here into b.c's data).
        let mut bytes = sample();
        let stored = get_u64(&bytes, field(1, 24));
        put_u64(&mut bytes, field(1, 24), stored + 1);
        reseal(&mut bytes);
        let err = Payload::parse(&bytes).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "entry 'a' could not be decompressed: 1 byte follows its zstd frame"
        );
    }

    /// A payload with a main script, a native module with a library, an interpreter; `edit`
    /// changes the writer first.
    fn native_payload(edit: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new(3);
        w.add(entry("", "@main.lua", Kind::LuaSource, b"print(1)\n"));
        w.add(entry("luv", "@luv.so", Kind::Native, b"\x7fELF module"));
        w.add(NewEntry {
            flags: flags::LIBRARY,
            ..entry("libuv.so.1", "@libuv.so.1", Kind::Native, b"\x7fELF lib")
        });
        w.add(NewEntry {
            flags: flags::SHARED,
            ..entry("luv.extra", "@luv.so", Kind::Native, b"luv")
        });
        w.needs(b"luv", &[b"libuv.so.1"]);
        w.interpreter(b"\x1bLJ\x02interp".to_vec(), Some("APP_LUA"));
        w.ignore_sigpipe();
        edit(&mut w);
        w.finish().unwrap().0
    }

    fn library(name: &str) -> NewEntry {
        NewEntry { flags: flags::LIBRARY, ..entry(name, "@lib", Kind::Native, b"\x7fELF") }
    }

    /// A native module `other` that needs `lib00.so`, which needs `lib01.so`... `n` libraries.
    fn chain_of_libraries(w: &mut Writer, n: usize) {
        w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
        let names: Vec<String> = (0..n).map(|i| format!("lib{i:02}.so")).collect();
        w.needs(b"other", &[names[0].as_bytes()]);
        for n in &names {
            w.add(library(n));
        }
        for pair in names.windows(2) {
            w.needs(pair[0].as_bytes(), &[pair[1].as_bytes()]);
        }
    }

    #[test]
    fn issue13_verify_all_resolves_every_reference() {
        let ok = native_payload(|_| {});
        Payload::parse(&ok).unwrap().verify_all().expect("a well-formed payload verifies");
        let deep = native_payload(|w| chain_of_libraries(w, MAX_LIBRARY_DEPTH));
        Payload::parse(&deep).unwrap().verify_all().expect("32 libraries deep is what loads");
        Payload::parse(&sample()).unwrap().verify_all().expect("the sample verifies");
        let main = |w: &mut Writer| w.add(entry("", "@m.lua", Kind::LuaSource, b"x()"));
        type Edit = Box<dyn Fn(&mut Writer)>;
        let cases: Vec<(&str, Edit, &str)> = vec![
            (
                "NEEDS names a missing library",
                Box::new(|w| w.needs(b"luv.extra2", &[b"libnope.so.1"])),
                "invalid payload record: the NEEDS record of 'luv.extra2' is for an entry the \
                 payload lacks",
            ),
            (
                "NEEDS names a missing library",
                Box::new(|w| {
                    w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
                    w.needs(b"other", &[b"libnope.so.1"]);
                }),
                "invalid payload record: the NEEDS record of 'other' names the library \
                 'libnope.so.1', which the payload lacks (no native entry with the LIBRARY flag \
                 has that name)",
            ),
            (
                "NEEDS names a module as a library",
                Box::new(|w| {
                    w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
                    w.needs(b"other", &[b"luv"]);
                }),
                "names the library 'luv', which the payload lacks",
            ),
            (
                "NEEDS for a SHARED entry",
                Box::new(|w| w.needs(b"luv.extra", &[b"libuv.so.1"])),
                "the NEEDS record of 'luv.extra' is for an entry that is not a native module or \
                 library holding code",
            ),
            (
                "NEEDS for a Lua entry",
                Box::new(|w| w.needs(b"", &[b"libuv.so.1"])),
                "a NEEDS record names no entry",
            ),
            (
                "two NEEDS for one entry",
                Box::new(|w| w.needs(b"luv", &[b"libuv.so.1"])),
                "there are two NEEDS records for 'luv'",
            ),
            (
                "an empty library name",
                Box::new(|w| {
                    w.add(entry("other", "@other.so", Kind::Native, b"\x7fELF"));
                    w.records.push((NEEDS, b"other\0libuv.so.1\0".to_vec()));
                }),
                "the NEEDS record of 'other' holds an empty library name",
            ),
            (
                "a cycle of libraries",
                Box::new(|w| {
                    w.add(library("liba.so"));
                    w.add(library("libb.so"));
                    w.needs(b"libuv.so.1", &[b"liba.so"]);
                    w.needs(b"liba.so", &[b"libb.so"]);
                    w.needs(b"libb.so", &[b"liba.so"]);
                }),
                "the NEEDS records form a cycle: 'libb.so' -> 'liba.so' -> 'libb.so'",
            ),
            (
                "libraries 33 deep",
                Box::new(|w| chain_of_libraries(w, 33)),
                "libraries need each other more than 32 deep",
            ),
            (
                "SHARED names a missing module",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.so", Kind::Native, b"nope")
                    })
                }),
                "shared native entry 's' names no native module holding a library",
            ),
            (
                "SHARED names a library",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.so", Kind::Native, b"libuv.so.1")
                    })
                }),
                "shared native entry 's' names no native module holding a library",
            ),
            (
                "SHARED names a SHARED entry",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.so", Kind::Native, b"luv.extra")
                    })
                }),
                "shared native entry 's' names no native module holding a library",
            ),
            (
                "SHARED on Lua source",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED,
                        ..entry("s", "@s.lua", Kind::LuaSource, b"luv")
                    })
                }),
                "entry 's' is invalid: it has the SHARED flag but is of kind lua-source, not \
                 native",
            ),
            (
                "LIBRARY and SHARED",
                Box::new(|w| {
                    w.add(NewEntry {
                        flags: flags::SHARED | flags::LIBRARY,
                        ..entry("s", "@s.so", Kind::Native, b"luv")
                    })
                }),
                "entry 's' is invalid: it has both the LIBRARY and the SHARED flag",
            ),
            (
                "LIBRARY on an asset",
                Box::new(|w| {
                    w.add(NewEntry { flags: flags::LIBRARY, ..entry("d", "@d", Kind::Asset, b"") })
                }),
                "entry 'd' is invalid: unknown flags are set (0x0001)",
            ),
            (
                "bytecode without the signature",
                Box::new(|w| w.add(entry("b", "@b.lua", Kind::LuaBytecode, b"return 1"))),
                "entry 'b' is invalid: it is marked as LuaJIT bytecode but does not start with \
                 its signature",
            ),
            (
                "source that is bytecode",
                Box::new(|w| w.add(entry("b", "@b.lua", Kind::LuaSource, b"\x1bLJ\x02"))),
                "entry 'b' is invalid: it is marked as Lua source but starts like bytecode",
            ),
            (
                "a NUL in a chunk name",
                Box::new(|w| w.add(entry("b", "@b\0.lua", Kind::LuaSource, b"return 1"))),
                "entry 'b' is invalid: its chunk name contains a NUL byte",
            ),
            (
                "two SIGPIPE records",
                Box::new(|w| w.ignore_sigpipe()),
                "invalid payload record: there are 2 SIGPIPE records; at most one is allowed",
            ),
            (
                "a SIGPIPE record of 2",
                Box::new(|w| w.records[3].1 = vec![2]),
                "invalid payload record: the SIGPIPE record holds 2, not 0 or 1",
            ),
            (
                "two INTERPRETER records",
                Box::new(|w| w.records.push((INTERPRETER, b"x".to_vec()))),
                "there are 2 INTERPRETER records; at most one is allowed",
            ),
            (
                "an INTERPRETER_ENV with '='",
                Box::new(|w| w.records[2].1 = b"A=B".to_vec()),
                "the INTERPRETER_ENV record holds 'A=B', not an environment variable name",
            ),
            (
                "an empty PRELOAD",
                Box::new(|w| w.preload("")),
                "invalid payload record: a PRELOAD record names no module",
            ),
            (
                "an unknown required record",
                Box::new(|w| w.records.push((0x0042, Vec::new()))),
                "payload record with tag 0x0042 is required but not understood by this runtime",
            ),
        ];
        for (what, edit, want) in &cases {
            let bytes = native_payload(|w| edit(w));
            let p = Payload::parse(&bytes).unwrap_or_else(|e| panic!("{what}: parse: {e}"));
            let err = p.verify_all().expect_err(what).to_string();
            assert!(err.contains(want), "{what}: {err}");
        }
        // Issue 17: entry points and the records that name them.
        let entries = |edit: &dyn Fn(&mut Writer)| {
            let mut w = Writer::new(3);
            w.add(entry("/web", "@web.lua", Kind::LuaSource, b"print(1)"));
            w.add(entry("/worker", "@worker.lua", Kind::LuaSource, b"print(2)"));
            edit(&mut w);
            let bytes = w.finish().unwrap().0;
            Payload::parse(&bytes).unwrap().verify_all().map_err(|e| e.to_string())
        };
        entries(&|_| {}).expect("entry points alone are something to run");
        entries(&|w| {
            w.args(b"", &[b"-v"]);
            w.args(b"web", &[b"..."]);
            w.default_entry(b"worker");
            w.hermetic();
            w.interpreter(b"-- interp".to_vec(), None);
            w.interpreter_entry(b"lua");
            w.args(b"lua", &[b"-i"]);
        })
        .expect("every issue 17 record");
        entries(&|w| {
            w.interpreter(b"-- interp".to_vec(), None);
            w.interpreter_entry(b"lua");
            w.default_entry(b"lua");
        })
        .expect("the interpreter entry as the default");
        let refused: Vec<(&str, Edit, &str)> = vec![
            (
                "ARGS for no entry",
                Box::new(|w| w.args(b"nope", &[b"x"])),
                "the ARGS record for 'nope' names neither an entry point nor the interpreter entry",
            ),
            (
                "two ARGS for one entry",
                Box::new(|w| {
                    w.args(b"web", &[b"x"]);
                    w.args(b"web", &[b"y"]);
                }),
                "there are two ARGS records for the entry 'web'",
            ),
            (
                "two ARGS for the program",
                Box::new(|w| {
                    w.args(b"", &[b"x"]);
                    w.args(b"", &[]);
                }),
                "there are two ARGS records for the program",
            ),
            (
                "DEFAULT_ENTRY naming nothing",
                Box::new(|w| w.default_entry(b"lua")),
                "the DEFAULT_ENTRY record names 'lua', which is neither an entry point nor the \
                 interpreter entry",
            ),
            (
                "two DEFAULT_ENTRY records",
                Box::new(|w| {
                    w.default_entry(b"web");
                    w.default_entry(b"worker");
                }),
                "there are 2 DEFAULT_ENTRY records; at most one is allowed",
            ),
            (
                "two HERMETIC records",
                Box::new(|w| {
                    w.hermetic();
                    w.hermetic();
                }),
                "there are 2 HERMETIC records; at most one is allowed",
            ),
            (
                "INTERPRETER_ENTRY without an interpreter",
                Box::new(|w| w.interpreter_entry(b"lua")),
                "an INTERPRETER_ENTRY record comes without an INTERPRETER record",
            ),
            (
                "INTERPRETER_ENTRY naming an entry point",
                Box::new(|w| {
                    w.interpreter(b"-- interp".to_vec(), None);
                    w.interpreter_entry(b"web");
                }),
                "the INTERPRETER_ENTRY record names 'web', which is also an entry point",
            ),
            (
                "an entry point that is not Lua",
                Box::new(|w| w.add(entry("/bin", "@bin", Kind::Native, b"\x7fELF"))),
                "entry '/bin' is invalid: its name starts with '/', which makes it an entry \
                 point, but it is of kind native",
            ),
            (
                "an entry point without a name",
                Box::new(|w| w.add(entry("/", "@x.lua", Kind::LuaSource, b"x()"))),
                "entry '/' is invalid: it is an entry point without a name, or with '/' in it",
            ),
            (
                "an entry point with '/' in its name",
                Box::new(|w| w.add(entry("/a/b", "@x.lua", Kind::LuaSource, b"x()"))),
                "entry '/a/b' is invalid: it is an entry point without a name, or with '/'",
            ),
        ];
        for (what, edit, want) in &refused {
            let err = entries(&|w| edit(w)).expect_err(what);
            assert!(err.contains(want), "{what}: {err}");
        }

        // The records the interpreter needs, and something to run.
        let mut w = Writer::new(3);
        w.records.push((INTERPRETER_ENV, b"APP".to_vec()));
        main(&mut w);
        let err = Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid payload record: an INTERPRETER_ENV record comes without an INTERPRETER record"
        );
        let mut w = Writer::new(3);
        w.interpreter(b"-- interp".to_vec(), Some("APP"));
        let err = Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid payload record: an INTERPRETER_ENV record comes without a main script"
        );
        let mut w = Writer::new(3);
        w.interpreter(b"-- interp".to_vec(), None);
        Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().expect("interpreter only");
        let empty = Writer::new(3).finish().unwrap().0;
        assert_eq!(Payload::parse(&empty).unwrap().verify_all(), Err(FormatError::NothingToRun));
        // A main script that is not Lua.
        let mut w = Writer::new(3);
        w.add(entry("", "@main", Kind::Native, b"data"));
        let err = Payload::parse(&w.finish().unwrap().0).unwrap().verify_all().unwrap_err();
        assert_eq!(
            err.to_string(),
            "the main script is invalid: it is of kind native, not Lua source or bytecode"
        );
    }
}
