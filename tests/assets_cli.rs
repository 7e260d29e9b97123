//! `--asset` at the command line (issue 15): what `inspect` and `extract` make of the assets of
//! an executable, what `--trace` says of the files a program read, and every bad input refused
//! with a message naming its path, exit status 1 and nothing written.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// A program with a tree of assets (one compressible, one executable, one setuid) and one file
/// mounted at an absolute path, built from source so that every size but the overlay's is
/// the files' own.
fn asset_app() -> tempfile::TempDir {
    let dir = app(&[
        ("main.lua", "print(io.open(\"public/style.css\"):read(\"*a\"))\n"),
        ("public/style.css", "body { color: red }\n"),
        ("public/big.txt", &"a".repeat(3000)),
        ("public/bin/tool.sh", "#!/bin/sh\necho tool\n"),
        ("public/bin/suid", "not really a program\n"),
        ("conf/app.toml", "port = 5000\n"),
    ]);
    let p = dir.path();
    chmod(&p.join("public/style.css"), 0o644);
    chmod(&p.join("public/big.txt"), 0o600);
    chmod(&p.join("public/bin/tool.sh"), 0o755);
    chmod(&p.join("public/bin/suid"), 0o4755);
    chmod(&p.join("conf/app.toml"), 0o640);
    let b = bundle(
        p,
        &[
            "main.lua",
            "--source",
            "-o",
            "app",
            "-q",
            "--asset",
            "public",
            "--asset",
            "conf/app.toml=/etc/app/app.toml",
        ],
    );
    assert_eq!(b.code, 0, "{}", b.stderr);
    dir
}

/// `inspect`'s table with what depends on the stub's build masked (as tests/inspect.rs does),
/// and the payload's size too: it holds the overlay (runtime/lua/assets.lua).
fn masked_inspect(dir: &Path) -> String {
    let r = bundle(dir, &["inspect", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut masked = Vec::new();
    for line in r.stdout.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let mut out = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let prev = if i > 0 { words[i - 1] } else { "" };
            let next = words.get(i + 1).copied().unwrap_or("");
            out.push(if line.starts_with("file ") && next.starts_with("bytes)") {
                "([size]"
            } else if line.starts_with("payload ") && prev == "offset" {
                "[offset],"
            } else if line.starts_with("payload ") && next.starts_with("bytes,") {
                "[size]"
            } else if line.starts_with("payload ") && prev == "checksum" {
                "[checksum]"
            } else if line.starts_with("image hash ") && prev == "sha256" {
                "[sha256]"
            } else if line.starts_with("glibc ") && next == "or" {
                "[glibc]"
            } else {
                w
            });
        }
        masked.push(out.join(" "));
    }
    masked.join("\n")
}

#[test]
fn inspect_lists_assets_by_mount() {
    let dir = asset_app();
    insta::assert_snapshot!("inspect_assets", masked_inspect(dir.path()));
    let r = bundle(dir.path(), &["inspect", "--json", "app"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let assets = v["payload"]["assets"].as_array().unwrap();
    let mounts: Vec<&str> = assets.iter().map(|a| a["mount"].as_str().unwrap()).collect();
    assert_eq!(
        mounts,
        [
            "/etc/app/app.toml",
            "public/big.txt",
            "public/bin/suid",
            "public/bin/tool.sh",
            "public/style.css"
        ]
    );
    let big = &assets[1];
    assert_eq!((big["size"].as_u64(), big["codec"].as_str()), (Some(3000), Some("zstd")));
    assert!(big["stored"].as_u64().unwrap() < 100, "{big}");
    assert_eq!(big["mode"], 0o600);
    assert_eq!(assets[0]["mode"], 0o640);
    assert_eq!(assets[2]["mode"], 0o4755);
    assert_eq!(
        (assets[4]["size"].as_u64(), assets[4]["stored"].as_u64(), assets[4]["codec"].as_str()),
        (Some(20), Some(20), Some("stored"))
    );
    // The index keeps them too, as the format names them.
    let entries = v["payload"]["entries"].as_array().unwrap();
    let asset_entries: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "asset")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(asset_entries.len(), 5);
    assert_eq!(asset_entries[0], "?/etc/app/app.toml");
    assert_eq!(v["payload"]["totals"]["entries"], 6);
    // A build without assets has an empty list.
    let plain = app(&[("main.lua", "print(1)\n")]);
    assert_eq!(bundle(plain.path(), &["main.lua", "-o", "app", "-q"]).code, 0);
    let r = bundle(plain.path(), &["inspect", "--json", "app"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["payload"]["assets"], serde_json::json!([]));
    assert!(!bundle(plain.path(), &["inspect", "app"]).stdout.contains("ASSET"));
}

#[test]
fn extract_writes_assets_at_their_mounts_with_their_modes() {
    let dir = asset_app();
    let p = dir.path();
    let r = bundle(p, &["extract", "app", "-d", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut listed: Vec<&str> = r.stdout.lines().collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "out/etc/app/app.toml",
            "out/main.lua",
            "out/public/big.txt",
            "out/public/bin/suid",
            "out/public/bin/tool.sh",
            "out/public/style.css",
        ]
    );
    let out = p.join("out");
    for (mount, source, mode) in [
        ("public/style.css", "public/style.css", 0o644),
        ("public/big.txt", "public/big.txt", 0o600),
        ("public/bin/tool.sh", "public/bin/tool.sh", 0o755),
        // setuid, setgid and sticky bits are not handed out by a payload.
        ("public/bin/suid", "public/bin/suid", 0o755),
        // An absolute mount lands under the directory, its leading '/' dropped.
        ("etc/app/app.toml", "conf/app.toml", 0o640),
    ] {
        let written = out.join(mount);
        assert_eq!(std::fs::read(&written).unwrap(), std::fs::read(p.join(source)).unwrap());
        assert_eq!(mode_of(&written), mode, "{mount}");
    }
    assert_only(&out, &["etc", "main.lua", "public"]);
    assert_only(&out.join("public"), &["big.txt", "bin", "style.css"]);
    // Nothing is overwritten without --force, modules and assets alike, and nothing is
    // written when one file is refused.
    std::fs::remove_file(out.join("main.lua")).unwrap();
    std::fs::write(out.join("public/style.css"), "edited").unwrap();
    let again = bundle(p, &["extract", "app", "-d", "out"]);
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(
        again.stderr.contains(": already exists (use --force to overwrite)"),
        "{}",
        again.stderr
    );
    assert!(!out.join("main.lua").exists());
    assert_eq!(std::fs::read_to_string(out.join("public/style.css")).unwrap(), "edited");
    assert_only(&out.join("public"), &["big.txt", "bin", "style.css"]);
    let forced = bundle(p, &["extract", "app", "-d", "out", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("public/style.css")).unwrap(),
        "body { color: red }\n"
    );
    assert_only(&out.join("public"), &["big.txt", "bin", "style.css"]);
    // A symlink on the way is refused, even with --force.
    std::fs::remove_dir_all(out.join("etc")).unwrap();
    let elsewhere = tempdir();
    std::os::unix::fs::symlink(elsewhere.path(), out.join("etc")).unwrap();
    let linked = bundle(p, &["extract", "app", "-d", "out", "--force"]);
    assert_eq!(linked.code, 1);
    assert!(linked.stderr.contains("is a symbolic link"), "{}", linked.stderr);
    assert_only(elsewhere.path(), &[]);
}

#[test]
fn trace_lists_only_files_that_are_not_assets_and_suggests_flags() {
    let outside = tempdir();
    let outside_file = outside.path().join("outside.txt");
    std::fs::write(&outside_file, "o").unwrap();
    let dir = app(&[
        ("public/style.css", "body {}\n"),
        ("conf/app.toml", "port = 1\n"),
        ("data.txt", "d"),
        ("extra/a.txt", "a"),
        ("extra/b.txt", "b"),
    ]);
    let main = format!(
        r#"local function slurp(p) local f = assert(io.open(p)); local s = f:read("*a"); f:close(); return s end
print(#slurp("public/style.css"), #slurp("{}/public/style.css"), #slurp("/etc/app/app.toml"))
print(slurp("data.txt"), slurp("extra/a.txt"), slurp("./extra/b.txt"), slurp("{}"))
"#,
        dir.path().display(),
        outside_file.display()
    );
    std::fs::write(dir.path().join("main.lua"), main).unwrap();
    let p = dir.path();
    let b = bundle(
        p,
        &[
            "main.lua",
            "-o",
            "app",
            "--asset",
            "public",
            "--asset",
            "conf/app.toml=/etc/app/app.toml",
            "--trace",
            "--",
        ],
    );
    assert_eq!(b.code, 0, "{}", b.stderr);
    let lines: Vec<&str> = b.stderr.lines().collect();
    let outside_shown = outside_file.display().to_string();
    // The embedded files, read by relative or absolute path, are not candidates.
    let want = format!(
        "bundle: --trace: files the program read (asset candidates, not bundled): ./extra/b.txt, {outside_shown}, data.txt, extra/a.txt"
    );
    assert!(lines.contains(&want.as_str()), "{want}\nnot in\n{}", b.stderr);
    let want = format!(
        "bundle: --trace: to embed them, add: --asset data.txt --asset extra --asset {outside_shown}"
    );
    assert!(lines.contains(&want.as_str()), "{want}\nnot in\n{}", b.stderr);
    // (The build summary's size table lists the embedded files; the trace's lines must not.)
    let mut traced = lines.iter().filter(|l| l.starts_with("bundle: --trace"));
    assert!(!traced.any(|l| l.contains("style.css") || l.contains("app.toml")), "{}", b.stderr);
    // What the trace ran is what was built: it reads its assets from itself.
    let r = run(Command::new(p.join("app")).current_dir(p));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "8\t8\t9\nd\ta\tb\to\n");
    // When every file read is embedded, there is nothing to suggest.
    let b = bundle(
        p,
        &[
            "main.lua",
            "-o",
            "app2",
            "--asset",
            "public",
            "--asset",
            "conf/app.toml=/etc/app/app.toml",
            "--asset",
            "data.txt",
            "--asset",
            "extra",
            "--asset",
            &outside_shown,
            "--trace",
            "--",
        ],
    );
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert!(!b.stderr.contains("asset candidates"), "{}", b.stderr);
    assert!(!b.stderr.contains("to embed them"), "{}", b.stderr);
}

/// Every name in `dir`, recursively, with the bytes of each file.
fn snapshot(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let bytes = if meta.is_file() && meta.len() < 1 << 20 {
                Some(std::fs::read(&path).unwrap())
            } else {
                None
            };
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.push((path.strip_prefix(dir).unwrap().display().to_string(), bytes));
        }
    }
    out.sort();
    out
}

/// `bundle ARGS` in `dir` fails with status 1 and one error naming each of `needles`, and
/// leaves `dir` exactly as it was: no output, no temporary file, no input changed.
fn refused(dir: &Path, args: &[&str], needles: &[&str]) {
    let before = snapshot(dir);
    let r = bundle(dir, args);
    assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
    assert!(r.stderr.starts_with("bundle: error: "), "{args:?}: {}", r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "{args:?}: {n:?} not in {}", r.stderr);
    }
    assert_eq!(snapshot(dir), before, "{args:?} changed the directory");
}

fn with_public() -> tempfile::TempDir {
    app(&[
        ("main.lua", "print(1)\n"),
        ("public/x.css", "x {}\n"),
        ("public/sub/y.js", "y()\n"),
        ("secret.txt", "s"),
        ("a.txt", "a"),
        ("b.txt", "b"),
    ])
}

#[test]
fn a_symlink_leaving_the_tree_is_refused() {
    let dir = with_public();
    let p = dir.path();
    std::os::unix::fs::symlink("../../secret.txt", p.join("public/sub/leak")).unwrap();
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "public"],
        &["--asset public/sub/leak: a symlink to ", "secret.txt, outside the tree "],
    );
    // A link that stays inside is followed.
    std::fs::remove_file(p.join("public/sub/leak")).unwrap();
    std::os::unix::fs::symlink("../x.css", p.join("public/sub/same.css")).unwrap();
    let b = bundle(p, &["main.lua", "-o", "app", "-q", "--asset", "public"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
}

#[test]
fn dot_dot_in_a_mount_is_refused() {
    let dir = with_public();
    refused(
        dir.path(),
        &["main.lua", "-o", "app", "--asset", "public=../x"],
        &["--asset public=../x: the mount '../x' contains '..'"],
    );
    refused(
        dir.path(),
        &["main.lua", "-o", "app", "--asset", "a.txt=/srv/../../etc/passwd"],
        &["--asset a.txt=/srv/../../etc/passwd", "contains '..'"],
    );
}

#[test]
fn two_assets_at_one_path_are_refused() {
    let dir = with_public();
    let p = dir.path();
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "a.txt=conf", "--asset", "b.txt=conf"],
        &["two assets claim the path conf: a.txt and b.txt"],
    );
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "public", "--asset", "a.txt=public/sub/y.js"],
        &["two assets claim the path public/sub/y.js: public/sub/y.js and a.txt"],
    );
}

#[test]
fn a_fifo_in_the_tree_is_refused() {
    let dir = with_public();
    let p = dir.path();
    let made = run(Command::new("mkfifo").arg(p.join("public/sub/pipe")));
    assert_eq!(made.code, 0, "{}", made.stderr);
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "public"],
        &["--asset public/sub/pipe: is a FIFO; an asset is a regular file or a directory of them"],
    );
}

#[test]
fn a_file_over_4_gib_is_refused() {
    let dir = with_public();
    let p = dir.path();
    // Sparse: no disk space is used.
    let f = std::fs::File::create(p.join("public/huge.bin")).unwrap();
    f.set_len((4 << 30) + 1).unwrap();
    drop(f);
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "public"],
        &["--asset public/huge.bin: 4294967297 bytes, more than the 4 GiB an asset may have"],
    );
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "public/huge.bin=/big"],
        &["--asset public/huge.bin: 4294967297 bytes"],
    );
}

#[test]
fn a_file_name_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let dir = with_public();
    let p = dir.path();
    std::fs::write(p.join("public").join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")), "x")
        .unwrap();
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "public"],
        &["--asset public/caf\u{fffd}.txt: the name is not UTF-8; rename the file"],
    );
}

#[test]
fn a_missing_asset_is_refused() {
    let dir = with_public();
    refused(
        dir.path(),
        &["main.lua", "-o", "app", "--asset", "public", "--asset", "nope/x.css"],
        &["--asset nope/x.css: no such file or directory"],
    );
}

// An unreadable asset (mode 000) cannot be tested here: the tests run as root, which reads any
// file whatever its mode, and lists any directory. `graph::assets` reports it as
// "--asset PATH: cannot read it: REASON" before anything is written.

#[test]
fn no_input_is_overwritten_by_the_output() {
    let dir = with_public();
    let p = dir.path();
    // The output is one of the assets.
    refused(
        p,
        &["main.lua", "-o", "public/x.css", "--asset", "public"],
        &["public/x.css is also an input (public/x.css); refusing to overwrite it"],
    );
    assert_eq!(std::fs::read_to_string(p.join("public/x.css")).unwrap(), "x {}\n");
    refused(
        p,
        &["main.lua", "-o", "public/x.css", "--asset", "public/x.css=/srv/x.css"],
        &["public/x.css is also an input"],
    );
    // An asset names the output of an earlier build.
    let b = bundle(p, &["main.lua", "-o", "app", "-q"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    refused(
        p,
        &["main.lua", "-o", "app", "--asset", "app"],
        &["app is also an input (app); refusing to overwrite it"],
    );
    // An output that does not exist yet, inside an asset directory: the next build would embed
    // it.
    refused(
        p,
        &["main.lua", "-o", "public/app", "--asset", "public"],
        &["output public/app is inside the asset directory public: the next build would embed it"],
    );
    let excluded = bundle(
        p,
        &["main.lua", "-o", "public/app", "--asset", "public", "--asset-exclude", "app", "-q"],
    );
    assert_eq!(excluded.code, 0, "{}", excluded.stderr);
    std::fs::remove_file(p.join("public/app")).unwrap();
    // Through a symlink to an asset too.
    std::os::unix::fs::symlink("public/sub/y.js", p.join("out.js")).unwrap();
    refused(
        p,
        &["main.lua", "-o", "out.js", "--asset", "public"],
        &["public/sub/y.js is also an input (public/sub/y.js); refusing to overwrite it"],
    );
}

/// A module stored as source that is also an asset lands on one path: written once when the
/// bytes agree, refused when they differ.
#[test]
fn extract_writes_a_module_that_is_also_an_asset_once() {
    let dir = app(&[
        ("main.lua", "print(require('lib.util').x)\n"),
        ("lib/util.lua", "return { x = 1 }\n"),
        ("other.lua", "return { x = 2 }\n"),
    ]);
    let p = dir.path();
    let b = bundle(p, &["main.lua", "--source", "-o", "app", "-q", "--asset", "lib"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let r = bundle(p, &["extract", "app", "-d", "out"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "out/main.lua\nout/lib/util.lua\n");
    let b = bundle(
        p,
        &["main.lua", "--source", "-o", "app2", "-q", "--asset", "other.lua=lib/util.lua"],
    );
    assert_eq!(b.code, 0, "{}", b.stderr);
    let r = bundle(p, &["extract", "app2", "-d", "out2"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("two entries would be written to out2/lib/util.lua"), "{}", r.stderr);
    assert_only(&p.join("out2"), &[]);
}
