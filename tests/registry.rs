//! Pushing images to a registry (issue 20, points 1 and 2): `bundle oci --push` against a real
//! registry server (Debian's `docker-registry`, started here on loopback with its storage in a
//! temporary directory), checked with `skopeo`; credentials against its htpasswd mode; bearer
//! tokens, refusals and rejected manifests against a small registry double; and `bundle heroku
//! container` against the real registry plus a Platform API double that checks the formation
//! request. No test uses the network, and no credential may appear in any output.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;

/// bcrypt (cost 4, to keep the registry quick) of `right-password`, for user `alice`.
const ALICE: &str = "alice:$2b$04$mU0F/j4ONMstZsiZYHj5TuDz58N7RoyC0fwctOFJojsYDI6e1POBC";
/// bcrypt of `heroku-test-key-123`, for Heroku's user `_`.
const HEROKU_USER: &str = "_:$2b$04$AZ3In4OY2h3FwOp7PK7L3O8krhZAoOFi.SHKkFWrsLWtKH.e6lhMS";
const HEROKU_KEY: &str = "heroku-test-key-123";

fn docker_registry() -> &'static str {
    let bin = "/usr/bin/docker-registry";
    assert!(
        Path::new(bin).exists(),
        "Debian's docker-registry is needed for the push tests (apt-get install docker-registry)"
    );
    bin
}

fn skopeo(args: &[&str]) -> Run {
    let r = run(Command::new("skopeo").args(args));
    assert!(r.code != 127, "skopeo is needed (apt-get install skopeo)");
    r
}

/// A `docker-registry` on 127.0.0.1, storage in a temporary directory; killed when dropped.
struct Registry {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts one, with htpasswd authentication for the `users` lines if any.
    fn start(users: &[&str]) -> Registry {
        let dir = tempdir();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if !users.is_empty() {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, users.join("\n") + "\n").unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: bundle-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(docker_registry())
            .arg("serve")
            .arg(&config_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let registry = Registry { child, port, _dir: dir };
        // Ready when /v2/ answers (200, or 401 with authentication).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !matches!(status_of(port, "/v2/"), Some(200 | 401)) {
            assert!(std::time::Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The status of `GET path` on 127.0.0.1:`port` (HTTP/1.0: the server closes the connection),
/// or `None` while nothing answers.
fn status_of(port: u16, path: &str) -> Option<u16> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A directory with an empty Docker configuration, so that `~/.docker/config.json` of the
/// machine never takes part.
fn no_docker_config() -> tempfile::TempDir {
    tempdir()
}

/// A bundled `server` in a temporary directory (with `extra` build flags and files).
fn server(files: &[(&str, &str)], args: &[&str]) -> tempfile::TempDir {
    let dir = tempdir();
    write_tree(dir.path(), files);
    let r = bundle(dir.path(), args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

fn hello() -> tempfile::TempDir {
    server(&[("main.lua", "print('hello')\n")], &["main.lua", "-o", "server", "-q"])
}

/// `bundle ARGS` in `dir`, with `docker_config` as `$DOCKER_CONFIG` and no Heroku key unless
/// `key` is given.
fn bundle_with(dir: &Path, docker_config: &Path, key: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = bundle_cmd(dir, args);
    cmd.env("DOCKER_CONFIG", docker_config).env("HOME", docker_config);
    match key {
        Some(k) => cmd.env("HEROKU_API_KEY", k),
        None => cmd.env_remove("HEROKU_API_KEY"),
    };
    run(&mut cmd)
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The files of an image archive, by path.
fn archive_files(tar_path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(path, data);
    }
    files
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn push_matches_the_archive_and_a_second_push_uploads_nothing() {
    let dir = hello();
    let docker = no_docker_config();
    let registry = Registry::start(&[]);
    let reference = format!("{}/demo/server:v1", registry.host());
    let started = std::time::Instant::now();
    let r = bundle_with(
        dir.path(),
        docker.path(),
        None,
        &["oci", "server", "-o", "image.tar", "--push", &reference, "--insecure"],
    );
    let first = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&r.stderr, "bundle: pushing blob sha256:"), 2, "{}", r.stderr);
    assert!(r.stderr.contains("2 blobs uploaded, 0 already present"), "{}", r.stderr);

    // What the archive holds is what the registry now serves, byte for byte.
    let files = archive_files(&dir.path().join("image.tar"));
    let index = json(std::str::from_utf8(&files["index.json"]).unwrap());
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest_bytes = &files[&format!("blobs/sha256/{}", &manifest_digest[7..])];
    let manifest = json(std::str::from_utf8(manifest_bytes).unwrap());
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    assert!(r.stderr.contains(&format!("image id {config_digest}")), "{}", r.stderr);

    let url = format!("docker://{reference}");
    let inspect = skopeo(&["inspect", "--tls-verify=false", &url]);
    assert_eq!(inspect.code, 0, "{}", inspect.stderr);
    let inspect = json(&inspect.stdout);
    assert_eq!(inspect["Digest"], manifest_digest.as_str());
    assert_eq!(inspect["Layers"], serde_json::json!([layer_digest]));
    assert_eq!(inspect["Env"], serde_json::json!(["PORT=8080"]));
    let raw = skopeo(&["inspect", "--tls-verify=false", "--raw", &url]);
    assert_eq!(raw.stdout.as_bytes(), &manifest_bytes[..], "the pushed manifest is the archive's");
    let config = skopeo(&["inspect", "--tls-verify=false", "--config", "--raw", &url]);
    assert_eq!(
        config.stdout.as_bytes(),
        &files[&format!("blobs/sha256/{}", &config_digest[7..])][..],
        "the pushed config is the archive's"
    );
    let copied = dir.path().join("copied");
    let copy =
        skopeo(&["copy", "--src-tls-verify=false", &url, &format!("dir:{}", copied.display())]);
    assert_eq!(copy.code, 0, "skopeo copy: {}", copy.stderr);
    assert_eq!(
        std::fs::read(copied.join(&layer_digest[7..])).unwrap(),
        files[&format!("blobs/sha256/{}", &layer_digest[7..])],
        "the layer comes back whole"
    );

    // Again: every blob is found, none is uploaded.
    let started = std::time::Instant::now();
    let r = bundle_with(
        dir.path(),
        docker.path(),
        None,
        &["oci", "server", "--push", &reference, "--insecure"],
    );
    let second = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&r.stderr, " already present\n"), 2, "{}", r.stderr);
    assert_eq!(count(&r.stderr, "pushing blob"), 0, "{}", r.stderr);
    assert!(r.stderr.contains("0 blobs uploaded, 2 already present"), "{}", r.stderr);
    eprintln!(
        "measured: first push {:.2}s (2 blobs uploaded), second {:.2}s (0 uploaded, 2 present)",
        first.as_secs_f64(),
        second.as_secs_f64()
    );

    // Docker's v2 schema 2 manifest, on request: the same blobs, Docker's media types.
    let docker_ref = format!("{}/demo/server:docker", registry.host());
    let r = bundle_with(
        dir.path(),
        docker.path(),
        None,
        &["oci", "server", "--push", &docker_ref, "--insecure", "--manifest", "docker"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&r.stderr, " already present\n"), 2, "same repository, same blobs");
    let raw =
        skopeo(&["inspect", "--tls-verify=false", "--raw", &format!("docker://{docker_ref}")]);
    let raw = json(&raw.stdout);
    assert_eq!(raw["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(raw["config"]["mediaType"], "application/vnd.docker.container.image.v1+json");
    assert_eq!(raw["config"]["digest"], config_digest.as_str());
    assert_eq!(raw["layers"][0]["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip");
}

#[test]
fn basic_auth_credentials_from_the_flag_and_docker_config() {
    let dir = hello();
    let docker = no_docker_config();
    let registry = Registry::start(&[ALICE]);
    let reference = format!("{}/private/server", registry.host());
    let push = |docker: &Path, creds: Option<&str>| {
        let mut args = vec!["oci", "server", "--push", &reference, "--insecure"];
        if let Some(c) = creds {
            args.extend(["--creds", c]);
        }
        bundle_with(dir.path(), docker, None, &args)
    };
    // No credentials at all.
    let r = push(docker.path(), None);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("{}: connecting: HTTP 401", registry.host())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("no credentials"), "{}", r.stderr);
    // The wrong password: the registry, the status and the user are named, the password never.
    let r = push(docker.path(), Some("alice:wrong-password"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("{}: connecting: HTTP 401", registry.host()))
            && r.stderr.contains("as user 'alice', credentials from --creds"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("wrong-password") && !r.stdout.contains("wrong-password"));
    assert!(!r.stderr.contains("pushing blob"), "nothing is uploaded: {}", r.stderr);
    // The right ones.
    let r = push(docker.path(), Some("alice:right-password"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&r.stderr, "pushing blob"), 2, "{}", r.stderr);
    assert!(!r.stderr.contains("right-password"));
    // Docker's config.json (`docker login`), found through $DOCKER_CONFIG.
    let logged_in = tempdir();
    std::fs::write(
        logged_in.path().join("config.json"),
        format!(
            r#"{{"auths":{{"http://{}":{{"auth":"YWxpY2U6cmlnaHQtcGFzc3dvcmQ="}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let r = push(logged_in.path(), None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(count(&r.stderr, " already present\n"), 2, "{}", r.stderr);
    // --creds wins over config.json.
    let r = push(logged_in.path(), Some("alice:wrong-password"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    // A config.json that is not JSON is named, its content is not shown.
    std::fs::write(logged_in.path().join("config.json"), "{\"auths\": right-password").unwrap();
    let r = push(logged_in.path(), None);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("config.json: not valid JSON"), "{}", r.stderr);
    assert!(!r.stderr.contains("right-password"), "{}", r.stderr);
    let r = push(docker.path(), Some("alice"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--creds: expected USER:PASSWORD"), "{}", r.stderr);
}

/// A registry double that stores nothing: blobs are absent, uploads and manifests succeed, or
/// fail as the repository's name says (`rejects/...`, `oci-averse/...`, `forbidden/...`), and
/// `tokened/...` wants a bearer token from `/token`, which wants alice's basic credentials.
fn registry_double() -> (u16, Arc<Mutex<Vec<Seen>>>) {
    http_double(|req, port| {
        let path = req.path.as_str();
        let tokened = path.starts_with("/v2/tokened/");
        if path.starts_with("/token") {
            // base64("alice:right-password")
            return if req.header("Authorization") == Some("Basic YWxpY2U6cmlnaHQtcGFzc3dvcmQ=") {
                ("200 OK", Vec::new(), r#"{"token":"secret-token-42"}"#.into())
            } else {
                (
                    "401 Unauthorized",
                    Vec::new(),
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.into(),
                )
            };
        }
        if tokened && req.header("Authorization") != Some("Bearer secret-token-42") {
            let challenge = format!(
                r#"Bearer realm="http://127.0.0.1:{port}/token",service="double",scope="repository:tokened/app:pull""#
            );
            return (
                "401 Unauthorized",
                vec![("WWW-Authenticate".into(), challenge)],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                    .into(),
            );
        }
        // `elsewhere/...` wants basic credentials and hands uploads off to another origin.
        if path.starts_with("/v2/elsewhere/")
            && req.header("Authorization") != Some("Basic YWxpY2U6cmlnaHQtcGFzc3dvcmQ=")
        {
            return (
                "401 Unauthorized",
                vec![("WWW-Authenticate".into(), r#"Basic realm="double""#.into())],
                String::new(),
            );
        }
        if req.method == "POST" && path.starts_with("/v2/elsewhere/") {
            let location = format!("http://localhost:{port}/v2/upload/handed-off?sig=1");
            return ("202 Accepted", vec![("Location".into(), location)], String::new());
        }
        let manifest_type = req.header("Content-Type").unwrap_or("");
        match req.method.as_str() {
            "GET" if path == "/v2/" => ok("200 OK"),
            "HEAD" => ok("404 Not Found"),
            "POST" if path.starts_with("/v2/forbidden/") => (
                "403 Forbidden",
                Vec::new(),
                r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#.into(),
            ),
            "POST" => (
                "202 Accepted",
                vec![("Location".into(), "/v2/upload/session-1?_state=abc".into())],
                String::new(),
            ),
            "PUT" if path.starts_with("/v2/upload/") => ok("201 Created"),
            "PUT" if path.starts_with("/v2/rejects/") => (
                "400 Bad Request",
                Vec::new(),
                r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"layers from bundle are not welcome here\u001b[2J"}]}"#.into(),
            ),
            "PUT" if path.starts_with("/v2/oci-averse/") && manifest_type.contains("oci") => (
                "415 Unsupported Media Type",
                Vec::new(),
                r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"unsupported media type"}]}"#.into(),
            ),
            "PUT" => ok("201 Created"),
            _ => ok("404 Not Found"),
        }
    })
}

#[test]
fn bearer_tokens_refusals_and_rejected_manifests() {
    let dir = hello();
    let docker = no_docker_config();
    let (port, seen) = registry_double();
    let push = |repo: &str, extra: &[&str]| {
        let reference = format!("127.0.0.1:{port}/{repo}:t");
        let mut args = vec!["oci", "server", "--push", &reference, "--insecure"];
        args.extend(extra);
        bundle_with(dir.path(), docker.path(), None, &args)
    };

    // A bearer challenge is answered with a token fetched with the basic credentials.
    let r = push("tokened/app", &["--creds", "alice:right-password"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = seen.lock().unwrap().clone();
    let token = log.iter().find(|s| s.path.starts_with("/token")).expect("a token request");
    assert!(
        token.path.contains("service=double")
            && token.path.contains("scope=repository%3Atokened%2Fapp%3Apull%2Cpush"),
        "{}",
        token.path
    );
    let manifest = log.iter().find(|s| s.path == "/v2/tokened/app/manifests/t").unwrap();
    assert_eq!(manifest.header("Authorization"), Some("Bearer secret-token-42"));
    assert_eq!(manifest.header("Content-Type"), Some("application/vnd.oci.image.manifest.v1+json"));
    let uploads: Vec<&Seen> =
        log.iter().filter(|s| s.method == "PUT" && s.path.starts_with("/v2/upload/")).collect();
    assert_eq!(uploads.len(), 2);
    assert!(uploads.iter().all(|u| u.path.contains("_state=abc&digest=sha256%3A")));
    for text in [&r.stdout, &r.stderr] {
        assert!(!text.contains("secret-token-42") && !text.contains("right-password"));
    }
    // A token service that refuses the credentials.
    let r = push("tokened/app", &["--creds", "alice:wrong-password"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "127.0.0.1:{port}: getting a token from http://127.0.0.1:{port}/token: HTTP 401: UNAUTHORIZED bad credentials (as user 'alice'"
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("wrong-password"));

    // An upload handed off to another origin gets none of the registry's credentials.
    let r = push("elsewhere/app", &["--creds", "alice:right-password"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = seen.lock().unwrap().clone();
    let handed: Vec<&Seen> =
        log.iter().filter(|s| s.path.starts_with("/v2/upload/handed-off?sig=1&digest=")).collect();
    assert_eq!(handed.len(), 2, "{log:#?}");
    assert!(handed.iter().all(|s| s.header("Authorization").is_none()));

    // 403: the registry's error is shown.
    let r = push("forbidden/app", &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("127.0.0.1:{port}: starting the upload of blob sha256:"))
            && r.stderr.contains(
                "HTTP 403: DENIED requested access to the resource is denied (no credentials"
            ),
        "{}",
        r.stderr
    );

    // A rejected manifest: the registry's error body, escaped; with auto, the Docker manifest
    // was tried too.
    let r = push("rejects/app", &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "pushing the Docker v2 schema 2 manifest: HTTP 400: MANIFEST_INVALID manifest invalid (layers from bundle are not welcome here\\x1b[2J)"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains('\u{1b}'));
    let r = push("rejects/app", &["--manifest", "oci"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("pushing the manifest: HTTP 400: MANIFEST_INVALID"), "{}", r.stderr);

    // A registry that wants Docker's media types gets them.
    let r = push("oci-averse/app", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("pushing a Docker v2 schema 2 manifest instead"), "{}", r.stderr);
    assert!(r.stderr.contains("(Docker v2 schema 2 manifest sha256:"), "{}", r.stderr);
    let log = seen.lock().unwrap().clone();
    let last = log.iter().rev().find(|s| s.path == "/v2/oci-averse/app/manifests/t").unwrap();
    let body = json(std::str::from_utf8(&last.body).unwrap());
    assert_eq!(body["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
}

#[test]
fn unreachable_registries_and_bad_references() {
    let dir = hello();
    let docker = no_docker_config();
    // Nothing listens on a port that was free a moment ago.
    let port = free_port();
    let reference = format!("127.0.0.1:{port}/app");
    let r = bundle_with(
        dir.path(),
        docker.path(),
        None,
        &["oci", "server", "--push", &reference, "--insecure"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "cannot reach the registry 127.0.0.1:{port} (http://127.0.0.1:{port}/v2/)"
        )),
        "{}",
        r.stderr
    );
    // Without --insecure, HTTPS, and the message says what a plain-HTTP registry needs.
    let r = bundle_with(dir.path(), docker.path(), None, &["oci", "server", "--push", &reference]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("needs --insecure"), "{}", r.stderr);

    // References refused before any connection: one line each, in a snapshot.
    let mut shown = String::new();
    for bad in [
        "127.0.0.1:5000",
        "127.0.0.1:5000/",
        "registry.heroku.com",
        "server",
        "localhost:5000/:v1",
        "127.0.0.1:5000/App",
        "127.0.0.1:5000/app:-v1",
        "http://127.0.0.1:5000/app",
        "127.0.0.1:5000/app@sha256:0000",
    ] {
        let r = bundle_with(dir.path(), docker.path(), None, &["oci", "server", "--push", bad]);
        assert_eq!(r.code, 1, "{bad}: {}", r.stderr);
        shown.push_str(&r.stderr);
    }
    let r = bundle_with(
        dir.path(),
        docker.path(),
        None,
        &["oci", "server", "--push", "registry.example.com/app", "--insecure"],
    );
    assert_eq!(r.code, 1);
    shown.push_str(&r.stderr);
    insta::assert_snapshot!(shown);
    // Neither -o nor --push: a usage error.
    let r = bundle_with(dir.path(), docker.path(), None, &["oci", "server"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// A Platform API double: `PATCH /apps/my-app/formation` succeeds, `/apps/broken-app/...`
/// answers 422.
fn platform_double() -> (u16, Arc<Mutex<Vec<Seen>>>) {
    http_double(|req, _| match (req.method.as_str(), req.path.as_str()) {
        ("PATCH", "/apps/my-app/formation") => {
            ("200 OK", Vec::new(), r#"[{"type":"web","quantity":1,"size":"basic"}]"#.into())
        }
        ("PATCH", "/apps/broken-app/formation") => (
            "422 Unprocessable Entity",
            Vec::new(),
            r#"{"id":"invalid_params","message":"Couldn't find that docker image."}"#.into(),
        ),
        _ => ("404 Not Found", Vec::new(), r#"{"id":"not_found","message":"no route"}"#.into()),
    })
}

fn heroku_container(
    dir: &Path,
    api: u16,
    registry: &str,
    app: &str,
    key: Option<&str>,
    extra: &[&str],
) -> Run {
    let docker = no_docker_config();
    let api = format!("http://127.0.0.1:{api}");
    let registry = format!("http://{registry}");
    let mut args = vec![
        "heroku",
        "container",
        "server",
        "--app",
        app,
        "--api-url",
        &api,
        "--registry-url",
        &registry,
    ];
    args.extend(extra);
    bundle_with(dir, docker.path(), key, &args)
}

fn assert_no_key(r: &Run) {
    assert!(
        !r.stdout.contains(HEROKU_KEY) && !r.stderr.contains(HEROKU_KEY),
        "the key is printed: {r:?}"
    );
}

/// The config digest of an image in the registry, as skopeo reads it, and its config.
fn image_config(reference: &str) -> (String, serde_json::Value) {
    let url = format!("docker://{reference}");
    let creds = format!("_:{HEROKU_KEY}");
    let skopeo = |extra: &[&str]| {
        let mut args = vec!["inspect", "--tls-verify=false", "--creds", &creds];
        args.extend(extra);
        args.push(&url);
        skopeo(&args)
    };
    let raw = skopeo(&["--raw"]);
    assert_eq!(raw.code, 0, "{reference}: {}", raw.stderr);
    let manifest = json(&raw.stdout);
    assert_eq!(manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    let config = skopeo(&["--config", "--raw"]);
    assert_eq!(config.code, 0, "{}", config.stderr);
    use sha2::Digest;
    let digest: String =
        sha2::Sha256::digest(config.stdout.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(manifest["config"]["digest"], format!("sha256:{digest}").as_str());
    (format!("sha256:{digest}"), json(&config.stdout))
}

#[test]
fn heroku_container_pushes_then_releases_the_config_digest() {
    let dir = hello();
    let registry = Registry::start(&[HEROKU_USER]);
    let (api, seen) = platform_double();
    let r = heroku_container(dir.path(), api, &registry.host(), "my-app", Some(HEROKU_KEY), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_key(&r);
    assert!(
        r.stderr
            .contains(&format!("pushing the web image to {}/my-app/web:latest", registry.host())),
        "{}",
        r.stderr
    );
    assert_eq!(count(&r.stderr, "pushing blob"), 2, "{}", r.stderr);
    assert!(r.stderr.contains("releasing web on my-app"), "{}", r.stderr);
    let (digest, config) = image_config(&format!("{}/my-app/web:latest", registry.host()));
    assert_eq!(config["config"]["Entrypoint"], serde_json::json!(["/app/server"]));
    assert!(r.stderr.contains(&format!("released web={digest} on my-app")), "{}", r.stderr);

    let log = seen.lock().unwrap().clone();
    assert_eq!(log.len(), 1, "{log:#?}");
    let patch = &log[0];
    assert_eq!((patch.method.as_str(), patch.path.as_str()), ("PATCH", "/apps/my-app/formation"));
    assert_eq!(
        patch.header("Accept"),
        Some("application/vnd.heroku+json; version=3.docker-releases")
    );
    assert_eq!(patch.header("Authorization"), Some(format!("Bearer {HEROKU_KEY}").as_str()));
    assert_eq!(patch.header("Content-Type"), Some("application/json"));
    assert_eq!(
        json(std::str::from_utf8(&patch.body).unwrap()),
        serde_json::json!({ "updates": [{ "type": "web", "docker_image": digest }] })
    );

    // Again: nothing to upload.
    let r = heroku_container(dir.path(), api, &registry.host(), "my-app", Some(HEROKU_KEY), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("(0 blobs uploaded, 2 already present"), "{}", r.stderr);

    // The dry run shows the requests, with the digests, and no key.
    let before = seen.lock().unwrap().len();
    let r = heroku_container(
        dir.path(),
        api,
        &registry.host(),
        "my-app",
        Some(HEROKU_KEY),
        &["--dry-run"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_key(&r);
    assert!(
        r.stdout.contains(&format!("PATCH http://127.0.0.1:{api}/apps/my-app/formation")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Authorization: Bearer <HEROKU_API_KEY>"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(&format!(r#"{{"updates":[{{"docker_image":"{digest}","type":"web"}}]}}"#)),
        "{}",
        r.stdout
    );
    assert_eq!(seen.lock().unwrap().len(), before, "the dry run sends nothing");
}

#[test]
fn heroku_container_one_image_per_entry_point() {
    let dir = server(
        &[("web.lua", "print('web')\n"), ("worker.lua", "print('worker')\n")],
        &["--entry", "web=web.lua", "--entry", "worker=worker.lua", "-o", "server", "-q"],
    );
    let registry = Registry::start(&[HEROKU_USER]);
    let (api, seen) = platform_double();
    let r = heroku_container(dir.path(), api, &registry.host(), "my-app", Some(HEROKU_KEY), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_key(&r);
    let mut updates = Vec::new();
    for kind in ["web", "worker"] {
        let (digest, config) = image_config(&format!("{}/my-app/{kind}:latest", registry.host()));
        assert_eq!(config["config"]["Cmd"], serde_json::json!([kind]), "{kind}");
        updates.push(serde_json::json!({ "type": kind, "docker_image": digest }));
    }
    let log = seen.lock().unwrap().clone();
    assert_eq!(
        json(std::str::from_utf8(&log[0].body).unwrap()),
        serde_json::json!({ "updates": updates })
    );
    // --process TYPE=ARGS: the arguments become the image's command.
    let r = heroku_container(
        dir.path(),
        api,
        &registry.host(),
        "my-app",
        Some(HEROKU_KEY),
        &["--process", "web=./server worker --fast"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, config) = image_config(&format!("{}/my-app/web:latest", registry.host()));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["worker", "--fast"]));
    let r = heroku_container(
        dir.path(),
        api,
        &registry.host(),
        "my-app",
        Some(HEROKU_KEY),
        &["--process", "clock"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--process clock: server has no entry point 'clock'"),
        "{}",
        r.stderr
    );
}

#[test]
fn heroku_container_failures() {
    let dir = hello();
    let registry = Registry::start(&[HEROKU_USER]);
    let (api, seen) = platform_double();
    // No key: refused before any request.
    let r = heroku_container(dir.path(), api, &registry.host(), "my-app", None, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HEROKU_API_KEY is not set"), "{}", r.stderr);
    // A key the registry refuses: the push fails, nothing is released, the key is not shown.
    let r = heroku_container(dir.path(), api, &registry.host(), "my-app", Some("not-the-key"), &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "pushing the web image: {}: connecting: HTTP 401: UNAUTHORIZED authentication required (as user '_', credentials from HEROKU_API_KEY); nothing was released",
            registry.host()
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-key"));
    assert!(seen.lock().unwrap().is_empty(), "released after a failed push");
    // The Platform API refuses the release: Heroku's id and message.
    let r =
        heroku_container(dir.path(), api, &registry.host(), "broken-app", Some(HEROKU_KEY), &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "releasing the images: HTTP 422 (invalid_params): Couldn't find that docker image."
        ),
        "{}",
        r.stderr
    );
    assert_no_key(&r);
    // A registry that is not there.
    let closed = format!("127.0.0.1:{}", free_port());
    let r = heroku_container(dir.path(), api, &closed, "my-app", Some(HEROKU_KEY), &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("pushing the web image: cannot reach the registry {closed}")),
        "{}",
        r.stderr
    );
    assert_no_key(&r);
    // Plain HTTP to another machine is refused.
    let r = bundle_with(
        dir.path(),
        dir.path(),
        Some(HEROKU_KEY),
        &[
            "heroku",
            "container",
            "server",
            "--app",
            "my-app",
            "--registry-url",
            "http://registry.example.com",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("plain HTTP is allowed to a loopback registry only"), "{}", r.stderr);
}
