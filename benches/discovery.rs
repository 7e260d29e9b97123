//! Scan + resolve of the 300-module workload (`benches/gen_apps.py`), in process: the
//! graph stage alone (read, lex, resolve every module), target ≤ 20 ms.
//!
//! `cargo bench --bench discovery`

use std::path::Path;
use std::process::Command;

use bundle::cli::GraphArgs;
use bundle::plan::BuildPlan;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/gen_apps.py");
    let root = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new("python3")
        .arg(&gen)
        .arg(root.path())
        .output()
        .expect("python3 runs benches/gen_apps.py");
    assert!(out.status.success(), "gen_apps.py: {}", String::from_utf8_lossy(&out.stderr));
    let main = root.path().join("big/main.lua");
    let plan = BuildPlan::for_graph(Some(&main), &GraphArgs::default()).expect("a plan");
    let target = bundle::base::stub::target(&plan.stub, plan.store).expect("the stub");
    let graph = bundle::graph::build(&plan.graph, &target).expect("the graph");
    assert_eq!(graph.units.len(), 301, "main + 300 modules");
    c.bench_function("scan + resolve big (300 modules)", |b| {
        b.iter(|| bundle::graph::build(&plan.graph, &target).expect("the graph"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
