//! `bundle inspect --sbom`: the bill of materials (the MANIFEST record) as a CycloneDX 1.5 JSON
//! SBOM (<https://cyclonedx.org/docs/1.5/json/>). The executable is the metadata's component;
//! every LuaRocks rock is a `library` component with its version and licence; every payload
//! entry a `file` component (a packed shared library a `library`) with its SHA-256, its origin
//! and who pulled it in as properties. Dependencies: the executable on the rocks and the files
//! outside rocks, each rock on its files. No timestamp or serial number: the same executable
//! gives the same document.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::output::bom::Bom;

/// The CycloneDX document for the executable called `name` whose bill of materials is `bom`.
pub fn sbom(name: &str, bom: &Bom) -> Value {
    let version = bom.bundler.strip_prefix("bundle ").unwrap_or(&bom.bundler);
    let mut rocks: BTreeMap<String, (Value, Vec<String>)> = BTreeMap::new();
    let mut components = Vec::new();
    let mut top = Vec::new();
    for e in &bom.entries {
        let shown = if e.name.is_empty() { "(main)" } else { e.name.as_str() };
        let reference = format!("entry:{shown}");
        let mut properties = vec![
            json!({"name": "bundle:entry", "value": shown}),
            json!({"name": "bundle:kind", "value": e.kind}),
            json!({"name": "bundle:origin", "value": e.origin.kind}),
        ];
        if !e.origin.root.is_empty() {
            properties.push(json!({"name": "bundle:root", "value": e.origin.root}));
        }
        if !e.required_by.is_empty() {
            properties.push(json!({"name": "bundle:required-by", "value": e.required_by}));
        }
        if !e.path.is_empty() {
            properties.push(json!({"name": "bundle:path", "value": e.path}));
        }
        let mut component = json!({
            "type": if e.kind == "library" { "library" } else { "file" },
            "bom-ref": reference,
            "name": e.soname.clone().unwrap_or_else(|| if e.path.is_empty() { shown.to_owned() } else { e.path.clone() }),
            "hashes": [{"alg": "SHA-256", "content": e.sha256}],
            "properties": properties,
        });
        if let Some(so) = &e.soname {
            component["description"] = json!(format!("shared library {so}, from {}", e.path));
        }
        components.push(component);
        match &e.origin.rock {
            Some(rock) => {
                let key = format!("rock:{}@{}", rock.name, rock.version);
                let (_, files) = rocks.entry(key.clone()).or_insert_with(|| {
                    let mut c = json!({
                        "type": "library",
                        "bom-ref": key,
                        "name": rock.name,
                        "version": rock.version,
                        "properties": [{"name": "bundle:tree", "value": e.origin.root}],
                    });
                    if let Some(l) = &rock.license {
                        c["licenses"] = json!([{"license": {"name": l}}]);
                    }
                    (c, Vec::new())
                });
                files.push(reference);
            }
            None => top.push(reference),
        }
    }
    let mut dependencies = Vec::new();
    let rock_refs: Vec<String> = rocks.keys().cloned().collect();
    for (key, (component, files)) in rocks {
        components.push(component);
        dependencies.push(json!({"ref": key, "dependsOn": files}));
    }
    top.extend(rock_refs);
    dependencies.insert(0, json!({"ref": "app", "dependsOn": top}));
    let mut properties = vec![json!({"name": "bundle:luajit", "value": bom.luajit})];
    properties.extend(bom.flags.iter().map(|f| json!({"name": "bundle:flag", "value": f})));
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "bundle", "version": version}]},
            "component": {"type": "application", "bom-ref": "app", "name": name},
            "properties": properties,
        },
        "components": components,
        "dependencies": dependencies,
    })
}
