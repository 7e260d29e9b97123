//! The shape of `src/` (docs/ARCHITECTURE.md): no module imports another that imports it back,
//! directly or through others, and the leaves (Lua facts, target facts, plain data) import
//! nothing of the pipeline. Read from the source text, as a reader would: every `crate::name`
//! path outside comments is an edge from the file's module to `name`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the crate modules it names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "rs").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .filter(|m| m != "main" && m != "lib")
        .collect();
    modules.sort();
    let known: BTreeSet<String> = modules.iter().cloned().collect();
    let mut graph = BTreeMap::new();
    for m in &modules {
        let text = std::fs::read_to_string(src.join(format!("{m}.rs"))).unwrap();
        // Unit tests may reach anything; only the module's own code counts.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut deps = BTreeSet::new();
        for line in code.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                rest = &rest[at + "crate::".len()..];
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if known.contains(&name) && &name != m {
                    deps.insert(name);
                }
            }
        }
        graph.insert(m.clone(), deps);
    }
    graph
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
    let graph = imports();
    assert!(graph.len() > 10, "the modules of src/ were read: {graph:?}");
    for m in graph.keys() {
        let mut path = vec![m.clone()];
        if let Some(cycle) = cycle_from(&graph, m, m, &mut path, &mut BTreeSet::new()) {
            panic!("import cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn leaves_import_nothing_of_the_pipeline() {
    let graph = imports();
    for leaf in ["lua", "target", "scan", "diag", "table", "archive", "input", "cleanup"] {
        assert!(graph[leaf].is_empty(), "{leaf} imports {:?}", graph[leaf]);
    }
    // Lower stages never import the plan or the command line.
    for stage in ["scan", "resolve", "compile", "pack", "emit", "unit", "native", "trace"] {
        for high in ["plan", "cli"] {
            assert!(!graph[stage].contains(high), "{stage} imports {high}");
        }
    }
}
