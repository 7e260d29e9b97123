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
    tgz_entries(&std::fs::read(slug).unwrap())
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

/// A Platform API double on loopback: documented request shapes in, documented responses out.
/// `fail_upload` makes the blob upload answer 500.
fn fake_api(fail_upload: bool) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    http_double(move |req, port| {
        let (status, reply) = match (req.method.as_str(), req.path.as_str()) {
                ("POST", "/apps/my-app/slugs") => (
                    "201 Created",
                    format!(
                        r#"{{"id":"slug-1","blob":{{"method":"put","url":"http://127.0.0.1:{port}/upload/slug-1"}},"stack":{{"name":"heroku-24"}}}}"#
                    ),
                ),
                ("POST", "/apps/locked-app/slugs") => (
                    "401 Unauthorized",
                    r#"{"id":"unauthorized","message":"Invalid credentials provided."}"#.to_owned(),
                ),
                ("POST", "/apps/gone-app/slugs") => (
                    "404 Not Found",
                    r#"{"id":"not_found","message":"Couldn't find that app."}"#.to_owned(),
                ),
                ("POST", "/apps/bad-stack/slugs") => (
                    "422 Unprocessable Entity",
                    r#"{"id":"invalid_params","message":"Stack is not supported."}"#.to_owned(),
                ),
                ("POST", "/apps/down-app/slugs") => {
                    ("503 Service Unavailable", "<html>maintenance</html>".to_owned())
                }
                // Control characters in Heroku's answers (issue 13, item 18).
                ("POST", "/apps/evil-app/slugs") => (
                    "422 Unprocessable Entity",
                    r#"{"id":"bad\u001b[31m_params","message":"Stack\u001b]0;pwned\u0007 is\r not\u009b supported.\n"}"#.to_owned(),
                ),
                ("POST", "/apps/evil-ids/slugs") => (
                    "201 Created",
                    format!(
                        r#"{{"id":"slug-\u001b[2J","blob":{{"method":"put","url":"http://127.0.0.1:{port}/upload/evil"}}}}"#
                    ),
                ),
                ("PUT", "/upload/evil") => ("200 OK", String::new()),
                ("POST", "/apps/evil-ids/releases") => (
                    "201 Created",
                    r#"{"id":"release-\u001b[2J\u202e","version":8}"#.to_owned(),
                ),
                ("POST", "/apps/evil-method/slugs") => (
                    "201 Created",
                    r#"{"id":"slug-2","blob":{"method":"P\u001b[0mUT","url":"http://127.0.0.1:9/x"}}"#.to_owned(),
                ),
                ("PUT", "/upload/slug-1") if fail_upload => {
                    ("500 Internal Server Error", String::new())
                }
                ("PUT", "/upload/slug-1") => ("200 OK", String::new()),
                ("POST", "/apps/my-app/releases") => (
                    "201 Created",
                    r#"{"id":"release-1","version":7,"status":"succeeded"}"#.to_owned(),
                ),
                _ => ("404 Not Found", r#"{"id":"not_found","message":"no route"}"#.to_owned()),
            };
        (status, Vec::new(), reply)
    })
}

fn deploy(dir: &std::path::Path, port: u16, app: &str, key: Option<&str>, extra: &[&str]) -> Run {
    let url = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(bundle_bin());
    cmd.current_dir(dir)
        .args(["heroku", "deploy", "server", "--app", app, "--api-url", &url])
        .args(extra);
    match key {
        Some(k) => cmd.env("HEROKU_API_KEY", k),
        None => cmd.env_remove("HEROKU_API_KEY"),
    };
    run(&mut cmd)
}

#[test]
fn deploy_runs_the_platform_api_sequence() {
    let (dir, _) = app();
    let (port, seen) = fake_api(false);
    let r = deploy(dir.path(), port, "my-app", Some("test-key"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for step in [
        "creating a slug for my-app",
        "uploading slug slug-1",
        "releasing slug slug-1 on my-app",
        "release release-1, v7",
    ] {
        assert!(r.stderr.contains(step), "{step:?} in {}", r.stderr);
    }
    assert!(
        !r.stderr.contains("test-key") && !r.stdout.contains("test-key"),
        "the key is never printed"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let (create, upload, release) = (&seen[0], &seen[1], &seen[2]);
    for api in [create, release] {
        assert_eq!(api.header("Accept"), Some("application/vnd.heroku+json; version=3"));
        assert_eq!(api.header("Authorization"), Some("Bearer test-key"));
        assert_eq!(api.header("Content-Type"), Some("application/json"));
    }
    let body: serde_json::Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["process_types"], serde_json::json!({ "web": "./server" }));
    assert_eq!(body["stack"], "heroku-24");
    // The checksum is the SHA-256 of the uploaded bytes.
    use sha2::Digest;
    let digest: String =
        sha2::Sha256::digest(&upload.body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(body["checksum"], format!("SHA256:{digest}"));
    assert_eq!((upload.method.as_str(), upload.path.as_str()), ("PUT", "/upload/slug-1"));
    assert_eq!(upload.header("Authorization"), None, "the key does not go to the blob store");
    let release_body: serde_json::Value = serde_json::from_slice(&release.body).unwrap();
    assert_eq!(release_body, serde_json::json!({ "slug": "slug-1" }));
}

#[test]
fn deploy_errors() {
    let (dir, _) = app();
    let (port, seen) = fake_api(true);
    let r = deploy(dir.path(), port, "locked-app", Some("bad"), &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("creating the slug: HTTP 401 (unauthorized): Invalid credentials provided."),
        "{}",
        r.stderr
    );
    let r = deploy(dir.path(), port, "gone-app", Some("k"), &[]);
    assert!(r.stderr.contains("HTTP 404 (not_found): Couldn't find that app."), "{}", r.stderr);
    let r = deploy(dir.path(), port, "bad-stack", Some("k"), &[]);
    assert!(
        r.stderr.contains("HTTP 422 (invalid_params): Stack is not supported."),
        "{}",
        r.stderr
    );
    let r = deploy(dir.path(), port, "down-app", Some("k"), &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("creating the slug: HTTP 503"), "{}", r.stderr);
    // An upload that fails: no release is created.
    let r = deploy(dir.path(), port, "my-app", Some("k"), &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("uploading the slug: HTTP 500"), "{}", r.stderr);
    assert!(
        !seen.lock().unwrap().iter().any(|s| s.path.ends_with("/releases")),
        "released after a failed upload"
    );
    // Missing key, bad app name, bad process type: refused before any request.
    let before = seen.lock().unwrap().len();
    for (app, key, extra, needle) in [
        ("my-app", None, vec![], "HEROKU_API_KEY is not set"),
        ("My_App", Some("k"), vec![], "not a Heroku app name"),
        ("my-app", Some("k"), vec!["--process", "we b=x"], "not a process type"),
    ] {
        let r = deploy(dir.path(), port, app, key, &extra);
        assert_eq!(r.code, 1, "{app}");
        assert!(r.stderr.contains(needle), "{needle:?} in {}", r.stderr);
    }
    assert_eq!(seen.lock().unwrap().len(), before, "no request for refused input");
}

#[test]
fn deploy_dry_run_prints_the_requests_without_secrets() {
    let (dir, _) = app();
    let r = deploy(dir.path(), 9, "my-app", Some("secret-key"), &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("POST http://127.0.0.1:9/apps/my-app/slugs"), "{}", r.stdout);
    assert!(r.stdout.contains("\"stack\":\"heroku-24\""), "{}", r.stdout);
    assert!(r.stdout.contains("POST http://127.0.0.1:9/apps/my-app/releases"), "{}", r.stdout);
    assert!(!r.stdout.contains("secret-key"), "{}", r.stdout);
}

fn skopeo() -> &'static str {
    assert!(
        run(Command::new("skopeo").arg("--version")).code == 0,
        "skopeo is needed to validate images (apt-get install skopeo)"
    );
    "skopeo"
}

/// A temporary directory holding the example server, bundled as `server`.
fn example_server_in_tempdir() -> tempfile::TempDir {
    let dir = tempdir();
    let server = dir.path().join("server");
    let r = bundle(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/server"),
        &["main.lua", "-o", server.to_str().unwrap(), "-q"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

#[test]
fn oci_image_is_accepted_by_skopeo_and_reproducible() {
    let dir = example_server_in_tempdir();
    for out in ["a.tar", "b.tar"] {
        let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
            "oci",
            "server",
            "-o",
            out,
            "--tag",
            "example:1",
            "--port-env",
            "9000",
        ]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let a = std::fs::read(dir.path().join("a.tar")).unwrap();
    assert!(a == std::fs::read(dir.path().join("b.tar")).unwrap(), "the image is deterministic");
    for transport in ["oci-archive", "docker-archive"] {
        let r = run(Command::new(skopeo())
            .args(["inspect", "--raw"])
            .arg(format!("{transport}:{}", dir.path().join("a.tar").display())));
        assert_eq!(r.code, 0, "{transport}: {}", r.stderr);
        let r = run(Command::new(skopeo())
            .arg("inspect")
            .arg(format!("{transport}:{}", dir.path().join("a.tar").display())));
        assert_eq!(r.code, 0, "{transport}: {}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["Env"], serde_json::json!(["PORT=9000"]), "{transport}");
        assert_eq!(v["Architecture"], "amd64");
    }
    let copied = dir.path().join("copied");
    let r = run(Command::new(skopeo())
        .arg("copy")
        .arg(format!("oci-archive:{}", dir.path().join("a.tar").display()))
        .arg(format!("dir:{}", copied.display())));
    assert_eq!(r.code, 0, "skopeo copy: {}", r.stderr);
}

#[test]
fn oci_image_runs_the_server_from_its_root_filesystem() {
    let dir = example_server_in_tempdir();
    let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
        "oci",
        "server",
        "-o",
        "image.tar",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Unpack the one layer, as a container runtime would.
    let unpacked = dir.path().join("image");
    std::fs::create_dir_all(&unpacked).unwrap();
    assert_eq!(
        run(Command::new("tar")
            .arg("-xf")
            .arg(dir.path().join("image.tar"))
            .arg("-C")
            .arg(&unpacked))
        .code,
        0
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    let layer = unpacked.join(manifest[0]["Layers"][0].as_str().unwrap());
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(&root).unwrap();
    let r = run(Command::new("tar").arg("-xzf").arg(&layer).arg("-C").arg(&root));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(root.join("app/server").is_file() && root.join("tmp").is_dir());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(root.join("app/server")).unwrap().permissions().mode() & 0o777,
        0o555
    );
    let Some(_proc) = mount_proc(&root) else {
        eprintln!(
            "SKIPPED oci_image_runs_the_server_from_its_root_filesystem: cannot mount /proc here"
        );
        return;
    };
    let Some(chroot) = chroot_available(&root) else {
        eprintln!("SKIPPED oci_image_runs_the_server_from_its_root_filesystem: chroot needs root");
        return;
    };
    let port = free_port();
    let mut cmd = Command::new(chroot);
    cmd.arg(&root).arg("/app/server").env_clear().env("PORT", port.to_string());
    let _server = start(cmd);
    assert_eq!(get(port, "/"), ("HTTP/1.1 200 OK".into(), "hello from a single binary\n".into()));
}

#[test]
fn oci_bad_inputs() {
    let (dir, _) = app();
    let r = run(Command::new(bundle_bin())
        .current_dir(dir.path())
        .args(["oci", "main.lua", "-o", "x.tar"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a bundled executable"), "{}", r.stderr);
    let r = run(Command::new(bundle_bin())
        .current_dir(dir.path())
        .args(["oci", "server", "-o", "x.tar", "--tag", "Bad:Tag!"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not an image reference"), "{}", r.stderr);
    assert!(!dir.path().join("x.tar").exists());
}

/// No control character but the line ends reaches the terminal.
fn assert_no_raw_controls(text: &str) {
    assert!(
        !text.chars().any(|c| c != '\n' && (c.is_control() || c == '\u{202e}')),
        "a control character reaches the terminal: {text:?}"
    );
}

/// `server` copied to `name` in the same directory.
fn renamed(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let to = dir.join(name);
    std::fs::copy(dir.join("server"), &to).unwrap();
    to
}

#[test]
fn issue13_binary_named_procfile_is_refused() {
    let (dir, _) = app();
    for name in ["Procfile", "procfile"] {
        renamed(dir.path(), name);
        let r = run(Command::new(bundle_bin())
            .current_dir(dir.path())
            .args(["heroku", "slug", name, "-o", "slug.tgz"]));
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "an executable named '{name}' would collide with the Procfile the slug holds (./app/Procfile)"
            )),
            "{}",
            r.stderr
        );
        assert!(!dir.path().join("slug.tgz").exists());
        let r = run(Command::new(bundle_bin())
            .current_dir(dir.path())
            .args(["heroku", "deploy", name, "--app", "my-app", "--dry-run"])
            .args(["--process", "web=./server"]));
        assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        assert!(r.stderr.contains("would collide with the Procfile"), "{}", r.stderr);
    }
}

#[test]
fn issue13_oci_layer_paths_cannot_collide() {
    use bundle::deploy::oci::{build, Image};
    use std::collections::BTreeMap;
    let image = |name: &str| Image {
        name: name.to_owned(),
        binary: b"\x7fELF".to_vec(),
        tag: "x:1".into(),
        port: 5000,
        cmd: Vec::new(),
    };
    let runtime = |files: &[&str]| -> BTreeMap<String, Vec<u8>> {
        files.iter().map(|f| ((*f).to_owned(), b"lib".to_vec())).collect()
    };
    let libc = "/lib/x86_64-linux-gnu/libc.so.6";
    assert!(build(&image("server"), &runtime(&[libc])).is_ok());
    for (name, files, needle) in [
        // The executable named like a runtime file in /app.
        ("libc.so.6", vec![libc, "/app/libc.so.6"], "would collide with another file"),
        // A runtime file where the image needs a directory.
        ("server", vec![libc, "/app"], "needs a directory there"),
        ("server", vec!["/tmp"], "needs a directory there"),
        ("server", vec!["/lib", libc], "needs a directory there"),
        // The same entry spelt twice.
        ("server", vec![libc, &libc[1..]], "would collide with another file"),
        // Names that are not one path component.
        ("../lib/x86_64-linux-gnu/libc.so.6", vec![libc], "not a file name"),
        ("..", vec![libc], "not a file name"),
        ("server", vec!["/lib/../etc/passwd"], "not a plain path"),
    ] {
        let err = build(&image(name), &runtime(&files)).err();
        let err = err.unwrap_or_else(|| panic!("{name} {files:?}: built")).to_string();
        assert!(err.contains(needle), "{name} {files:?}: {needle:?} in {err}");
    }

    // The image's own files live outside the layer: an executable named like one of them is
    // kept apart.
    let (dir, _) = app();
    renamed(dir.path(), "manifest.json");
    let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
        "oci",
        "manifest.json",
        "-o",
        "image.tar",
        "--tag",
        "x:1",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut outer = tar::Archive::new(std::fs::File::open(dir.path().join("image.tar")).unwrap());
    let names: Vec<String> = outer
        .entries()
        .unwrap()
        .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| *n == "manifest.json").count(), 1, "{names:?}");
}

#[test]
fn issue13_default_procfile_command_is_quoted_for_the_shell() {
    let (dir, _) = app();
    let name = "a b$(touch pwned)'c;*";
    renamed(dir.path(), name);
    let r = run(Command::new(bundle_bin())
        .current_dir(dir.path())
        .args(["heroku", "slug", name, "-o", "slug.tgz"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let command = r#"./'a b$(touch pwned)'\''c;*'"#;
    assert_eq!(r.stdout, format!("{}\n", serde_json::json!({ "web": command })));
    let e = entries(&dir.path().join("slug.tgz"));
    assert_eq!(e[1].0, "./app/Procfile");
    assert_eq!(e[1].2, format!("web: {command}\n").as_bytes());
    assert_eq!(e[2].0, format!("./app/{name}"));
    // The command runs the executable, and nothing else, under sh and bash.
    for shell in ["sh", "bash"] {
        let r = run(Command::new(shell)
            .arg("-c")
            .arg(command)
            .current_dir(dir.path())
            .env("PORT", "5000"));
        assert_eq!((r.code, r.stdout.as_str()), (0, "5000\n"), "{shell}: {}", r.stderr);
    }
    assert!(!dir.path().join("pwned").exists(), "the name's $(...) ran");
    // A plain name stays unquoted.
    renamed(dir.path(), "srv-1.2_x");
    let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
        "heroku",
        "slug",
        "srv-1.2_x",
        "-o",
        "slug2.tgz",
    ]));
    assert_eq!(r.stdout, "{\"web\":\"./srv-1.2_x\"}\n", "{}", r.stderr);
}

#[test]
fn issue13_procfile_refuses_line_breaks_and_control_characters() {
    let (dir, _) = app();
    let slug = |args: &[&str]| {
        let r = run(Command::new(bundle_bin())
            .current_dir(dir.path())
            .args(["heroku", "slug"])
            .args(args)
            .args(["-o", "bad.tgz"]));
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(!dir.path().join("bad.tgz").exists(), "{args:?}");
        assert_no_raw_controls(&r.stderr);
        r.stderr
    };
    // The binary's name, in the default command.
    for (name, needle) in [
        ("a\nworker: evil", "a newline (\\n)"),
        ("a\rworker: evil", "a carriage return (\\r)"),
        ("ser\x1bver", "the control character \\x1b"),
        ("ser\u{85}ver", "the control character \\u{85}"),
        ("ser\u{2028}ver", "the control character \\u{2028}"),
    ] {
        renamed(dir.path(), name);
        let err = slug(&[name]);
        assert!(err.contains(needle), "{name:?}: {needle:?} in {err}");
        assert!(err.contains("rename the executable"), "{err}");
    }
    // --process TYPE=COMMAND.
    for (spec, needle) in [
        ("web=./server\nworker: ./evil", "the command has a newline (\\n)"),
        ("web=./server\rworker: ./evil", "the command has a carriage return (\\r)"),
        ("web=./server\u{0b}x", "the command has the control character \\x0b"),
        ("web=./server\u{2029}x", "the command has the control character \\u{2029}"),
        ("w\u{e9}b=./server", "'w\u{e9}b' is not a process type Heroku accepts"),
        ("w\nb=./server", "'w\\nb' is not a process type Heroku accepts"),
        ("web:x=./server", "is not a process type Heroku accepts"),
    ] {
        let err = slug(&["server", "--process", spec]);
        assert!(err.contains(needle), "{spec:?}: {needle:?} in {err}");
    }
    // A tab is one more blank in a command line.
    let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args([
        "heroku",
        "slug",
        "server",
        "--process",
        "web=./server\t--x",
        "-o",
        "ok.tgz",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn issue13_file_names_in_messages_are_escaped() {
    let (dir, _) = app();
    let name = "evil\x1b[2J\x07.lua";
    std::fs::write(dir.path().join(name), "print(1)\n").unwrap();
    for args in [
        vec!["heroku", "slug", name, "--process", "web=./x", "-o", "s.tgz"],
        vec!["heroku", "deploy", name, "--app", "my-app", "--dry-run", "--process", "web=./x"],
        vec!["oci", name, "-o", "i.tar"],
    ] {
        let r = run(Command::new(bundle_bin()).current_dir(dir.path()).args(&args));
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_no_raw_controls(&r.stderr);
        assert!(r.stderr.contains("evil\\x1b[2J\\x07.lua"), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("not a bundled executable"), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn issue13_api_texts_are_escaped() {
    let (dir, _) = app();
    let (port, seen) = fake_api(false);
    let r = deploy(dir.path(), port, "evil-app", Some("k"), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_raw_controls(&r.stderr);
    assert!(
        r.stderr.contains(
            "creating the slug: HTTP 422 (bad\\x1b[31m_params): Stack\\x1b]0;pwned\\x07 is\\r not\\u{9b} supported.\\n"
        ),
        "{}",
        r.stderr
    );

    let r = deploy(dir.path(), port, "evil-method", Some("k"), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_no_raw_controls(&r.stderr);
    assert!(r.stderr.contains("an upload by P\\x1b[0mUT, not PUT"), "{}", r.stderr);

    let r = deploy(dir.path(), port, "evil-ids", Some("k"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_raw_controls(&r.stderr);
    for line in [
        "uploading slug slug-\\x1b[2J",
        "releasing slug slug-\\x1b[2J on evil-ids",
        "release release-\\x1b[2J\\u{202e}, v8",
    ] {
        assert!(r.stderr.contains(line), "{line:?} in {}", r.stderr);
    }
    // Heroku gets its own id back, unchanged.
    let seen = seen.lock().unwrap().clone();
    let release = seen.iter().find(|s| s.path == "/apps/evil-ids/releases").unwrap();
    let body: serde_json::Value = serde_json::from_slice(&release.body).unwrap();
    assert_eq!(body, serde_json::json!({ "slug": "slug-\u{1b}[2J" }));
}
