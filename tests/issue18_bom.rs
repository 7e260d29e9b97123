//! Issue 18, points 3-5: the bill of materials (the MANIFEST record, `inspect --json`, a
//! CycloneDX SBOM validated by the CycloneDX Python library), `--remap-path-prefix` (two
//! checkouts give byte-identical executables), size accounting (`bundle size`, the build
//! summary, `--max-size`) and `bundle diff`, with every bad input of the issue.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bundle, run, tempdir, write_tree};

/// A small program: a main script, a module beside it and one found through an absolute -I.
fn project(dir: &Path) {
    write_tree(
        dir,
        &[
            ("main.lua", "local m = require 'mod'\nlocal u = require 'util'\nprint(m.hi(), u.twice(21))\nif arg[1] then u.boom() end\n"),
            ("mod.lua", "return { hi = function() return 'hi' end }\n"),
            ("lib/util.lua", "local M = {}\nfunction M.twice(x) return x * 2 end\nfunction M.boom() error('boom') end\nreturn M\n"),
        ],
    );
}

fn canonical(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().canonicalize().expect("canonical temp dir")
}

fn inspect_json(dir: &Path, app: &str) -> serde_json::Value {
    let r = bundle(dir, &["inspect", "--json", app]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).expect("inspect --json is JSON")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn issue18_manifest_records_sources_hashes_origins_and_requirers() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let include = dir.join("lib");
    let r = bundle(&dir, &["main.lua", "-I", include.to_str().unwrap(), "--strip", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = inspect_json(&dir, "app");
    let m = &j["manifest"];
    assert_eq!(m["schema"], 1);
    assert!(m["bundler"].as_str().unwrap().starts_with("bundle "), "{m}");
    assert!(!m["luajit"].as_str().unwrap().is_empty(), "{m}");
    let flags: Vec<&str> =
        m["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(flags, [format!("--include={}", include.display()).as_str(), "--strip"]);
    let entry = |name: &str| {
        m["entries"].as_array().unwrap().iter().find(|e| e["name"] == name).cloned().unwrap()
    };
    let util = entry("util");
    // Under the main script's directory: relative, as luajit's chunk names are.
    assert_eq!(util["path"], "./lib/util.lua");
    assert_eq!(util["sha256"], sha256_hex(&std::fs::read(include.join("util.lua")).unwrap()));
    assert_eq!(util["origin"]["kind"], "include");
    assert_eq!(util["origin"]["root"], "./lib");
    assert_eq!(util["required_by"], "(main):2");
    let main = entry("");
    assert_eq!(main["origin"]["kind"], "main");
    assert_eq!(entry("mod")["origin"]["kind"], "main");
    assert_eq!(entry("mod")["required_by"], "(main):1");
    // The record is optional and not read at start-up: the program runs as before.
    let out = run(Command::new(dir.join("app")).current_dir("/"));
    assert_eq!((out.code, out.stdout.as_str()), (0, "hi\t42\n"), "{}", out.stderr);
}

/// Where the test's Python with cyclonedx-python-lib is: .ci/run installs it into
/// target/sbom-venv; a local run makes it there on first use.
fn cyclonedx_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sbom-venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        let made = run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        assert_eq!(made.code, 0, "python3 -m venv (apt-get install python3-venv): {}", made.stderr);
    }
    let check = run(Command::new(&python).args(["-c", "import cyclonedx.validation.json"]));
    if check.code != 0 {
        let pip = run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "-q",
            "cyclonedx-python-lib[json-validation]",
        ]));
        assert_eq!(pip.code, 0, "pip install cyclonedx-python-lib: {}", pip.stderr);
    }
    python
}

#[test]
fn issue18_sbom_of_an_app_with_a_luarocks_tree_validates_with_cyclonedx() {
    let t = tempdir();
    let dir = canonical(&t);
    // A local rock, installed into a tree by the real luarocks, as tests/rockspec_e2e.rs does.
    let rock = dir.join("rock");
    write_tree(
        &rock,
        &[
            ("greet.lua", "return { hello = function(n) return 'hello ' .. n end }\n"),
            (
                "greet-1.2-1.rockspec",
                "package = 'greet'\nversion = '1.2-1'\nsource = { url = 'file://greet.lua' }\n\
                 description = { summary = 'greets', license = 'MIT/X11' }\n\
                 dependencies = { 'lua >= 5.1' }\n\
                 build = { type = 'builtin', modules = { greet = 'greet.lua' } }\n",
            ),
        ],
    );
    let tree = dir.join("tree");
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let made = run(Command::new("luarocks")
        .current_dir(&rock)
        .env("HOME", &home)
        .env_remove("LUAROCKS_CONFIG")
        .args(["make", "--tree", tree.to_str().unwrap(), "greet-1.2-1.rockspec"]));
    assert_eq!(made.code, 0, "luarocks make: {}{}", made.stdout, made.stderr);
    let app = dir.join("app");
    write_tree(&app, &[("main.lua", "print(require('greet').hello('x'))\n")]);
    let r = bundle(&app, &["main.lua", "--tree", tree.to_str().unwrap(), "-o", "prog"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = inspect_json(&app, "prog");
    let greet =
        j["manifest"]["entries"].as_array().unwrap().iter().find(|e| e["name"] == "greet").unwrap();
    assert_eq!(greet["origin"]["kind"], "tree");
    assert_eq!(greet["origin"]["rock"]["name"], "greet");
    assert_eq!(greet["origin"]["rock"]["version"], "1.2-1");
    assert_eq!(greet["origin"]["rock"]["license"], "MIT/X11");
    // The build summary attributes the rock's bytes to it.
    assert!(r.stderr.contains("rock greet 1.2-1"), "{}", r.stderr);

    let s = bundle(&app, &["inspect", "--sbom", "prog"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let doc: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(doc["specVersion"], "1.5");
    let rock_component =
        doc["components"].as_array().unwrap().iter().find(|c| c["bom-ref"] == "rock:greet@1.2-1");
    assert_eq!(rock_component.unwrap()["licenses"][0]["license"]["name"], "MIT/X11");
    let file = app.join("sbom.json");
    std::fs::write(&file, &s.stdout).unwrap();
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\n\
                  from cyclonedx.schema import SchemaVersion\n\
                  err = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
                  print(err if err else 'valid')\nsys.exit(1 if err else 0)\n";
    let v = run(Command::new(cyclonedx_python()).args(["-c", script]).arg(&file));
    assert_eq!((v.code, v.stdout.trim()), (0, "valid"), "{}", v.stderr);
}

#[test]
fn issue18_bad_sbom_of_an_executable_without_manifest() {
    let t = tempdir();
    let dir = canonical(&t);
    std::fs::write(dir.join("notes.txt"), "not a program").unwrap();
    let r = bundle(&dir, &["inspect", "--sbom", "notes.txt"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not an executable made by bundle"), "{}", r.stderr);
}

#[test]
fn issue18_remapped_builds_from_two_checkouts_are_byte_identical() {
    let (a, b) = (tempdir(), tempdir());
    let mut built = Vec::new();
    for t in [&a, &b] {
        let dir = canonical(t);
        project(&dir);
        let include = dir.join("lib");
        let remap = format!("{}=/app", dir.display());
        let r = bundle(
            &dir,
            &[
                "main.lua",
                "-I",
                include.to_str().unwrap(),
                "--remap-path-prefix",
                &remap,
                "-o",
                "app",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        built.push(std::fs::read(dir.join("app")).unwrap());
        // Tracebacks name the remapped path.
        let out = run(Command::new("./app").arg("x").current_dir(&dir));
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("/app/lib/util.lua:3: boom"), "{}", out.stderr);
        assert!(!out.stderr.contains(&dir.display().to_string()), "{}", out.stderr);
        let j = inspect_json(&dir, "app");
        let text = j["manifest"].to_string();
        assert!(
            text.contains("\"./lib/util.lua\"") && text.contains("--include=/app/lib"),
            "{text}"
        );
        assert!(!text.contains(&dir.display().to_string()), "{text}");
    }
    assert!(built[0] == built[1], "the two remapped builds differ");
    // Without the flag, the path stays as luajit shows it (the default is unchanged).
    let dir = canonical(&a);
    let include = dir.join("lib");
    let r = bundle(&dir, &["main.lua", "-I", include.to_str().unwrap(), "-o", "plain"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = run(Command::new(dir.join("plain")).arg("x").current_dir("/"));
    let shown = format!("{}:3: boom", include.join("util.lua").display());
    assert!(out.stderr.contains(&shown), "{}", out.stderr);
}

#[test]
fn issue18_bad_remap_without_equals_is_a_usage_error() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let r = bundle(&dir, &["main.lua", "--remap-path-prefix", "/nowhere", "-o", "app"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("'/nowhere' has no '='; expected FROM=TO"), "{}", r.stderr);
    assert!(!dir.join("app").exists());
}

#[test]
fn issue18_max_size_fails_with_the_table_and_writes_nothing() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let inc = dir.join("lib");
    let inc = inc.to_str().unwrap();
    let r = bundle(&dir, &["main.lua", "-I", inc, "--max-size", "10K", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("more than --max-size 10240"), "{}", r.stderr);
    assert!(r.stderr.contains("stub") && r.stderr.contains("PULLED IN BY"), "{}", r.stderr);
    assert!(r.stderr.contains("util"), "{}", r.stderr);
    assert!(!dir.join("app").exists(), "nothing is written");
    let r = bundle(&dir, &["main.lua", "-I", inc, "--max-size", "1GiB", "-o", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The summary shows the table, -q does not.
    assert!(r.stderr.contains("STORED") && r.stderr.contains("stub"), "{}", r.stderr);
    let q = bundle(&dir, &["main.lua", "-I", inc, "-q", "-o", "app2"]);
    assert_eq!((q.code, q.stderr.as_str()), (0, ""));
}

#[test]
fn issue18_bad_max_size_unit_lists_the_accepted_units() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let r = bundle(&dir, &["main.lua", "--max-size", "5MB", "-o", "app"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown unit 'MB'"), "{}", r.stderr);
    assert!(r.stderr.contains("B, K, KiB, M, MiB, G or GiB"), "{}", r.stderr);
}

#[test]
fn issue18_size_table_snapshot() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let remap = format!("{}=/app", dir.display());
    let include = dir.join("lib");
    let r = bundle(
        &dir,
        &["main.lua", "-I", include.to_str().unwrap(), "--remap-path-prefix", &remap, "-o", "app"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = bundle(&dir, &["size", "app"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    // The stub's, the payload's records' and the file's sizes change with every change of the
    // runtime and the format.
    let j: serde_json::Value =
        serde_json::from_str(&bundle(&dir, &["size", "--json", "app"]).stdout).unwrap();
    // Their lines are left out; the stub's width (7 digits) keeps the columns' widths.
    let table: String = s
        .stdout
        .lines()
        .filter(|l| {
            !l.starts_with("total ") && !l.contains(" stub ") && !l.contains("payload index")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(j["stub"].as_u64().unwrap() > 0 && j["payload_overhead"].as_u64().unwrap() > 0);
    insta::assert_snapshot!(table);
    let groups = j["groups"].as_array().unwrap();
    let root = groups.iter().find(|g| g["name"] == "root ./lib").unwrap();
    assert_eq!(root["pulled_in_by"][0], "(main):2");
}

#[test]
fn issue18_diff_shows_the_changed_added_and_removed_modules() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let include = dir.join("lib");
    let inc = include.to_str().unwrap();
    assert_eq!(bundle(&dir, &["main.lua", "-I", inc, "-o", "old"]).code, 0);
    std::fs::write(include.join("util.lua"), "local M = {}\nfunction M.twice(x) return x + x end\nfunction M.boom() error('boom, a longer message') end\nreturn M\n").unwrap();
    write_tree(&dir, &[("extra.lua", "return 1\n")]);
    std::fs::write(
        dir.join("main.lua"),
        "local u = require 'util'\nrequire 'extra'\nprint(u.twice(21))\n",
    )
    .unwrap();
    assert_eq!(bundle(&dir, &["main.lua", "-I", inc, "-o", "new"]).code, 0);
    let d = bundle(&dir, &["diff", "old", "new"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    let lines: Vec<Vec<&str>> = d.stdout.lines().map(|l| l.split('\t').collect()).collect();
    let find = |status: &str, name: &str| lines.iter().find(|l| l[0] == status && l[1] == name);
    assert!(find("changed", "util").is_some(), "{}", d.stdout);
    assert!(find("changed", "(main)").is_some(), "{}", d.stdout);
    assert!(find("added", "extra").is_some_and(|l| l[2] == "-"), "{}", d.stdout);
    assert!(find("removed", "mod").is_some_and(|l| l[3] == "-"), "{}", d.stdout);
    let total = lines.last().unwrap();
    assert_eq!(total[0], "total", "{}", d.stdout);
    // Same build twice: nothing but the total.
    let same = bundle(&dir, &["diff", "new", "new"]);
    assert!(same.stdout.starts_with("total\t\t"), "{}", same.stdout);
    let j: serde_json::Value =
        serde_json::from_str(&bundle(&dir, &["diff", "--json", "old", "new"]).stdout).unwrap();
    assert!(j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "util" && c["status"] == "changed"));
}

#[test]
fn issue18_bad_diff_of_a_file_that_is_not_a_bundle() {
    let t = tempdir();
    let dir = canonical(&t);
    project(&dir);
    let inc = dir.join("lib");
    assert_eq!(bundle(&dir, &["main.lua", "-I", inc.to_str().unwrap(), "-o", "app"]).code, 0);
    let r = bundle(&dir, &["diff", "app", "main.lua"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("main.lua: not an executable made by bundle"), "{}", r.stderr);
    let r = bundle(&dir, &["size", "/bin/true"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("/bin/true"), "{}", r.stderr);
}
