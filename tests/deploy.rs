//! Deploying the single binary: the Heroku slug (layout, modes, Procfile, determinism) and the
//! stack check.

mod common;

use std::process::Command;

use common::*;

fn app() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print(os.getenv('PORT'))\n")]);
    assert_eq!(bundle(dir.path(), &["main.lua", "-o", "server", "-q"]).code, 0);
    let exe = dir.path().join("server");
    (dir, exe)
}

fn entries(slug: &std::path::Path) -> Vec<(String, u32, Vec<u8>)> {
    let bytes = std::fs::read(slug).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
        let mode = e.header().mode().unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        out.push((path, mode, data));
    }
    out
}

#[test]
fn slug_layout_procfile_and_process_types() {
    let (dir, exe) = app();
    let r = run(Command::new(bundle_bin())
        .current_dir(dir.path())
        .args(["heroku", "slug", "server", "-o", "slug.tgz"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "{\"web\":\"./server\"}\n");
    let e = entries(&dir.path().join("slug.tgz"));
    let names: Vec<(&str, u32)> = e.iter().map(|(p, m, _)| (p.as_str(), *m)).collect();
    assert_eq!(names, vec![("./app/", 0o755), ("./app/Procfile", 0o644), ("./app/server", 0o755)]);
    assert_eq!(e[1].2, b"web: ./server\n");
    assert!(e[2].2 == std::fs::read(&exe).unwrap(), "the executable, byte for byte");

    let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
        "heroku",
        "slug",
        "server",
        "-o",
        "slug2.tgz",
        "--process",
        "web=./server --port $PORT",
        "--process",
        "worker=./server worker",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "{\"web\":\"./server --port $PORT\",\"worker\":\"./server worker\"}\n");
    assert_eq!(
        entries(&dir.path().join("slug2.tgz"))[1].2,
        b"web: ./server --port $PORT\nworker: ./server worker\n"
    );
}

#[test]
fn slug_is_reproducible() {
    let (dir, _) = app();
    for out in ["a.tgz", "b.tgz"] {
        let r = run(Command::new(bundle_bin())
            .current_dir(dir.path())
            .args(["heroku", "slug", "server", "-o", out]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert!(
        std::fs::read(dir.path().join("a.tgz")).unwrap()
            == std::fs::read(dir.path().join("b.tgz")).unwrap()
    );
}

#[test]
fn slug_bad_inputs() {
    let (dir, _) = app();
    for (args, needle) in [
        (vec!["main.lua"], "not a bundled executable"),
        (vec!["server", "--process", "we b=./server"], "not a process type Heroku accepts"),
        (vec!["server", "--process", "web"], "expected TYPE=COMMAND"),
        (vec!["server", "--process", "web=./a", "--process", "web=./b"], "given twice"),
        (
            vec!["server", "--stack", "cedar-14"],
            "unknown stack 'cedar-14' (known: heroku-22, heroku-24)",
        ),
    ] {
        let mut full = vec!["heroku", "slug"];
        full.extend(args);
        full.extend(["-o", "bad.tgz"]);
        let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args(&full));
        assert_eq!(r.code, 1, "{full:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{full:?}: expected {needle:?} in {}", r.stderr);
        assert!(!dir.path().join("bad.tgz").exists());
    }
}

#[test]
fn inspect_checks_stacks() {
    let (dir, exe) = app();
    for stack in ["heroku-22", "heroku-24"] {
        let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe).args(["--stack", stack]));
        assert_eq!(r.code, 0, "{stack}: {}", r.stderr);
        assert!(r.stderr.contains(&format!("runs on {stack}")), "{}", r.stderr);
    }
    let r = run(Command::new(bundle_bin()).arg("inspect").arg(&exe).args(["--stack", "nope"]));
    assert_eq!(r.code, 1);
    drop(dir);
}
