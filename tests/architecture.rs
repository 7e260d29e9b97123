//! The shape of `src/` (docs/ARCHITECTURE.md): no module imports another that imports it back,
//! directly or through others, and the leaves (Lua facts, target facts, plain data) import
//! nothing of the pipeline. Read from the source text, as a reader would: every `crate::name`
//! path outside comments is an edge from the file's module to `name`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module file of `src/` (but `main` and `lib`) as its path: `cli`, `graph`,
/// `graph::scan`, with the text of its own code (unit tests may reach anything).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(&p, &format!("{prefix}{stem}::"), out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let name = match stem.as_str() {
                    "mod" => prefix.trim_end_matches("::").to_owned(),
                    _ => format!("{prefix}{stem}"),
                };
                if name == "main" || name == "lib" {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                out.insert(name, code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut out);
    out
}

/// Module → the crate modules it names: every `crate::a::b` path outside comments is an edge to
/// the longest module it starts with. With `folders`, a module is its top-level name (`graph`
/// for `graph::scan`), as a reader of the tree sees it.
fn imports_at(folders: bool) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let top =
        |m: &str| if folders { m.split("::").next().unwrap().to_owned() } else { m.to_owned() };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, code) in &modules {
        let from = top(m);
        let deps = graph.entry(from.clone()).or_default();
        for line in code.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let mut target = String::new();
                let mut candidate = String::new();
                for part in path.split("::").filter(|p| !p.is_empty()) {
                    if !candidate.is_empty() {
                        candidate.push_str("::");
                    }
                    candidate.push_str(part);
                    if modules.contains_key(&candidate) {
                        target = candidate.clone();
                    }
                }
                if !target.is_empty() && top(&target) != from {
                    deps.insert(top(&target));
                }
            }
        }
    }
    graph
}

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    imports_at(false)
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    at: &str,
    path: &mut Vec<String>,
    seen: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    for next in &graph[at] {
        if next == start {
            let mut c = path.clone();
            c.push(start.to_owned());
            return Some(c);
        }
        if seen.insert(next.clone()) {
            path.push(next.clone());
            if let Some(c) = cycle_from(graph, start, next, path, seen) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for folders in [false, true] {
        let graph = imports_at(folders);
        assert!(graph.len() > 6, "the modules of src/ were read: {graph:?}");
        for m in graph.keys() {
            let mut path = vec![m.clone()];
            if let Some(cycle) = cycle_from(&graph, m, m, &mut path, &mut BTreeSet::new()) {
                panic!("import cycle: {}", cycle.join(" → "));
            }
        }
    }
}

/// The tree's layers (docs/ARCHITECTURE.md), lowest first: a module imports only from its own
/// layer or lower ones.
const LAYERS: &[&[&str]] = &[
    &["base"],
    &["graph"],
    &["compile"],
    &["output"],
    // Image hashes and signatures (issue 18): sealing an executable the output stage attached.
    &["trust"],
    &["inspect"],
    &["deploy"],
    // LuaRocks projects: rockspecs, trees, generated rockspecs (base and graph only).
    &["project"],
    // The parsed flags (low-level arguments), then the plan checked from them.
    &["cli"],
    &["plan"],
];

#[test]
fn stages_import_only_lower_layers() {
    let rank = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let graph = imports_at(true);
    for (m, deps) in &graph {
        let mine = rank(m).unwrap_or_else(|| panic!("{m} is in no layer of LAYERS"));
        for d in deps {
            let theirs = rank(d).unwrap_or_else(|| panic!("{d} is in no layer of LAYERS"));
            assert!(theirs <= mine, "{m} imports {d}, a higher layer");
        }
    }
}

#[test]
fn leaves_import_nothing_of_the_pipeline() {
    let graph = imports();
    let leaves: Vec<&String> = graph.keys().filter(|m| m.starts_with("base::")).collect();
    assert!(leaves.len() >= 8, "{leaves:?}");
    for leaf in leaves {
        assert!(
            graph[leaf].iter().all(|d| d.starts_with("base::")),
            "{leaf} imports {:?}",
            graph[leaf]
        );
    }
    assert!(graph["graph::scan"].is_empty(), "the scanner is a leaf of the graph stage");
}
