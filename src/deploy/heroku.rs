//! `bundle heroku slug`: a Heroku slug from a bundled executable, following "Creating slugs from
//! scratch" (devcenter.heroku.com/articles/platform-api-deploying-slugs): a gzipped tarball whose
//! entries live under `./app/`, the executable at mode 0755, and a `Procfile`. The bytes depend
//! only on the inputs: sorted entries, fixed times and owners, a gzip header without a time.

use std::path::Path;

use crate::deploy::stacks::{self, Stack};
use crate::inspect;

/// Why no slug was made. Every message is shown through [`printable`]: a file name or a text
/// from Heroku's API never puts a control character on the terminal.
#[derive(Debug, thiserror::Error)]
pub enum HerokuError {
    #[error("{}", printable(.0))]
    Invalid(String),
    #[error("{}: not a bundled executable ({}); build it first: bundle app.lua -o app", printable(&path.display().to_string()), printable(reason))]
    NotBundled { path: std::path::PathBuf, reason: String },
    #[error("{}", printable(&.0.to_string()))]
    Stack(crate::deploy::stacks::Mismatch),
    #[error(transparent)]
    Http(HttpError),
    /// A container image that could not be built or pushed: nothing was released.
    #[error("pushing the {kind} image: {source}; nothing was released")]
    Push {
        kind: String,
        #[source]
        source: crate::deploy::registry::RegistryError,
    },
    #[error("{}: {}", printable(&path.display().to_string()), printable(&source.to_string()))]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub use crate::deploy::printable;

/// Whether a Procfile line cannot carry `c` literally: a line break (`\n`, `\r`, vertical tab,
/// form feed, NEL, U+2028, U+2029) would start another process line, and the other control
/// characters (tab aside) have no place in a command.
fn breaks_procfile(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `c` named for a message: `a newline (\n)`, `the control character \x1b`.
fn describe(c: char) -> String {
    let shown = printable(&c.to_string());
    match c {
        '\n' => format!("a newline ({shown})"),
        '\r' => format!("a carriage return ({shown})"),
        _ => format!("the control character {shown}"),
    }
}

/// `word` as one word of `sh -c`/`bash -c` (which run Procfile commands): kept as is when it
/// has only characters no shell treats specially, single-quoted otherwise (a `'` inside becomes
/// `'\''`).
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-+,@%:/".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// One process type of the Procfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub kind: String,
    pub command: String,
}

/// Heroku's rule for process type names: `^[-\w]{1,128}$`, where `\w` is ASCII
/// (`[A-Za-z0-9_]`).
pub fn valid_process_type(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name.chars().all(|c| c == '-' || c == '_' || c.is_ascii_alphanumeric())
}

/// Checks a process for the Procfile (`TYPE: COMMAND` lines) and the `process_types` JSON:
/// a valid type and a one-line command without control characters.
pub fn check_process(p: &Process) -> Result<(), HerokuError> {
    if !valid_process_type(&p.kind) {
        return Err(HerokuError::Invalid(format!(
            "'{}' is not a process type Heroku accepts (ASCII letters, digits, '-' and '_', 1 to 128)",
            p.kind
        )));
    }
    if p.command.trim().is_empty() {
        return Err(HerokuError::Invalid(format!(
            "process type '{}': the command is empty",
            p.kind
        )));
    }
    if let Some(c) = p.command.chars().find(|&c| breaks_procfile(c)) {
        return Err(HerokuError::Invalid(format!(
            "process type '{}': the command '{}' has {}; a Procfile command is one line without control characters",
            p.kind,
            p.command,
            describe(c)
        )));
    }
    Ok(())
}

/// Parses `TYPE=COMMAND`.
pub fn parse_process(spec: &str) -> Result<Process, HerokuError> {
    let (kind, command) = spec.split_once('=').ok_or_else(|| {
        HerokuError::Invalid(format!(
            "--process {spec}: expected TYPE=COMMAND, e.g. web='./server'"
        ))
    })?;
    if !valid_process_type(kind) {
        return Err(HerokuError::Invalid(format!(
            "--process {spec}: '{kind}' is not a process type Heroku accepts (ASCII letters, digits, '-' and '_', 1 to 128)"
        )));
    }
    if command.trim().is_empty() {
        return Err(HerokuError::Invalid(format!(
            "--process {spec}: the command must be one non-empty line"
        )));
    }
    if let Some(c) = command.chars().find(|&c| breaks_procfile(c)) {
        return Err(HerokuError::Invalid(format!(
            "--process {spec}: the command has {}; a Procfile command must be one line without control characters",
            describe(c)
        )));
    }
    Ok(Process { kind: kind.to_owned(), command: command.to_owned() })
}

/// The processes to declare: the ones given; else, for a program of entry points (`entries`,
/// the names of its scripts' entries), one per entry, `NAME: ./<binary name> NAME`; else `web:
/// ./<binary name>`. The name is quoted for the shell when it needs it (`web: ./'my server'`);
/// a name with a control character is refused.
pub fn processes(
    binary: &Path,
    given: &[String],
    entries: &[String],
) -> Result<Vec<Process>, HerokuError> {
    let mut out: Vec<Process> = Vec::new();
    for spec in given {
        let p = parse_process(spec)?;
        if out.iter().any(|q| q.kind == p.kind) {
            return Err(HerokuError::Invalid(format!("process type '{}' is given twice", p.kind)));
        }
        out.push(p);
    }
    if out.is_empty() {
        let name = file_name(binary)?;
        if let Some(c) = name.chars().find(|&c| breaks_procfile(c)) {
            return Err(HerokuError::Invalid(format!(
                "{}: the file name has {}, which the Procfile's command (web: ./NAME) cannot carry; rename the executable",
                binary.display(),
                describe(c)
            )));
        }
        let command = format!("./{}", shell_word(&name));
        if entries.is_empty() {
            out.push(Process { kind: "web".into(), command: command.clone() });
        }
        // The executable runs the entry its first argument names (docs/ENTRIES.md).
        for entry in entries {
            let p = Process { kind: entry.clone(), command: format!("{command} {entry}") };
            check_process(&p)?;
            out.push(p);
        }
    }
    Ok(out)
}

fn file_name(binary: &Path) -> Result<String, HerokuError> {
    binary.file_name().and_then(|n| n.to_str()).map(str::to_owned).ok_or_else(|| {
        HerokuError::Invalid(format!("{}: needs a UTF-8 file name", binary.display()))
    })
}

/// The `process_types` object of the Platform API's slug creation, as JSON.
pub fn process_types_json(processes: &[Process]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = processes
        .iter()
        .map(|p| (p.kind.clone(), serde_json::Value::String(p.command.clone())))
        .collect();
    serde_json::Value::Object(map)
}

/// Checks that `binary` is an intact bundled executable that runs on `stack` (if given), and
/// returns its bytes.
pub fn checked_binary(binary: &Path, stack: Option<Stack>) -> Result<Vec<u8>, HerokuError> {
    checked_app(binary, stack).map(|(bytes, _)| bytes)
}

/// [`checked_binary`], with what `inspect` says of it.
pub fn checked_app(
    binary: &Path,
    stack: Option<Stack>,
) -> Result<(Vec<u8>, inspect::Report), HerokuError> {
    let report = inspect::verify(binary).map_err(|e| HerokuError::NotBundled {
        path: binary.to_path_buf(),
        reason: e.to_string(),
    })?;
    if let Some(stack) = stack {
        stacks::check(&report, stack).map_err(HerokuError::Stack)?;
    }
    let bytes = std::fs::read(binary)
        .map_err(|source| HerokuError::Io { path: binary.to_path_buf(), source })?;
    Ok((bytes, report))
}

/// The entries of a bundled program that become process types: its entry points with a
/// script, by name (the interpreter entry is for one-off `heroku run ./app lua`, not a dyno).
pub fn process_entries(report: &inspect::Report) -> Vec<String> {
    let entries = report.payload.entry_points.iter().filter(|e| !e.interpreter);
    entries.map(|e| e.name.clone()).collect()
}

/// The stack called `name`, or an error listing the known ones.
pub fn stack(name: &str) -> Result<Stack, HerokuError> {
    stacks::find(name).ok_or_else(|| {
        HerokuError::Invalid(format!("unknown stack '{name}' (known: {})", stacks::names()))
    })
}

/// The slug: `./app/`, `./app/Procfile`, `./app/<binary>`, gzipped, deterministic. A binary
/// named `Procfile` (in any case: a case-insensitive file system would merge the two) is
/// refused, as is a name that is not one plain path component.
pub fn slug(
    binary_name: &str,
    binary: &[u8],
    processes: &[Process],
) -> Result<Vec<u8>, HerokuError> {
    if binary_name.is_empty()
        || binary_name == "."
        || binary_name == ".."
        || binary_name.contains(['/', '\0'])
    {
        return Err(HerokuError::Invalid(format!(
            "'{binary_name}' is not a file name the slug can hold as ./app/NAME"
        )));
    }
    if binary_name.eq_ignore_ascii_case("Procfile") {
        return Err(HerokuError::Invalid(format!(
            "an executable named '{binary_name}' would collide with the Procfile the slug holds (./app/Procfile); rename it, e.g. bundle app.lua -o server"
        )));
    }
    for p in processes {
        check_process(p)?;
    }
    let procfile: String =
        processes.iter().map(|p| format!("{}: {}\n", p.kind, p.command)).collect();
    let mut entries: Vec<crate::deploy::archive::Entry> = vec![
        ("./app/".to_owned(), 0o755, None),
        (format!("./app/{binary_name}"), 0o755, Some(binary)),
        ("./app/Procfile".to_owned(), 0o644, Some(procfile.as_bytes())),
    ];
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let fail = |e: String| HerokuError::Invalid(format!("building the slug: {e}"));
    let tar = crate::deploy::archive::tar(&entries).map_err(fail)?;
    crate::deploy::archive::gzip(&tar, flate2::Compression::best()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_types_follow_herokus_rule() {
        assert!(valid_process_type("web"));
        assert!(valid_process_type("worker-2_x"));
        assert!(!valid_process_type(""));
        assert!(!valid_process_type("we b"));
        assert!(!valid_process_type(&"x".repeat(129)));
        assert!(parse_process("web").is_err());
        assert!(parse_process("web=").is_err());
        assert_eq!(parse_process("worker=./app worker").unwrap().command, "./app worker");
    }

    #[test]
    fn printable_escapes_every_control_character_once() {
        assert_eq!(
            printable("a\nb\r\t\x1b[2J\x07\x7f\u{9b}\u{202e}é\\x"),
            "a\\nb\\r\\t\\x1b[2J\\x07\\x7f\\u{9b}\\u{202e}é\\x"
        );
        let once = printable("\x1b]0;x\x07");
        assert_eq!(printable(&once), once);
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("server-1.2_x"), "server-1.2_x");
        assert_eq!(shell_word("my server"), "'my server'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$(x)"), "'$(x)'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn app_names() {
        for ok in ["my-app", "abc", "a1-2b", "01234567-89ab-cdef-0123-456789abcdef"] {
            assert!(valid_app_name(ok), "{ok}");
        }
        for bad in ["", "ab", "My-App", "1app", "app-", "a_b", &"a".repeat(31)] {
            assert!(!valid_app_name(bad), "{bad}");
        }
    }

    #[test]
    fn checksum_is_sha256_hex() {
        assert_eq!(
            checksum(b""),
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn slug_is_deterministic_and_laid_out_under_app() {
        let procs = vec![Process { kind: "web".into(), command: "./server".into() }];
        let a = slug("server", b"\x7fELF...", &procs).unwrap();
        assert_eq!(a, slug("server", b"\x7fELF...", &procs).unwrap());
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&a[..]));
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            seen.push((path, h.mode().unwrap(), h.mtime().unwrap()));
        }
        assert_eq!(
            seen,
            vec![
                ("./app/".to_owned(), 0o755, 0),
                ("./app/Procfile".to_owned(), 0o644, 0),
                ("./app/server".to_owned(), 0o755, 0)
            ]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// `bundle heroku deploy`: the Platform API sequence (devcenter.heroku.com/articles/platform-api-
// reference, "Slug Create", "Release Create"): create a slug with its process types, stack and
// checksum → upload the tarball with the method and URL Heroku returns → create a release.

/// The Platform API's default base URL.
pub const API_URL: &str = "https://api.heroku.com";
/// The Accept header that selects version 3 of the Platform API.
pub const ACCEPT: &str = "application/vnd.heroku+json; version=3";

/// An HTTP step that failed. Heroku's `id` and `message` are shown through [`printable`].
#[derive(Debug, thiserror::Error)]
#[error("{step}: HTTP {status}{}{}", id.as_ref().map(|i| format!(" ({})", printable(i))).unwrap_or_default(), message.as_ref().map(|m| format!(": {}", printable(m))).unwrap_or_default())]
pub struct HttpError {
    pub step: &'static str,
    pub status: u16,
    /// Heroku's error `id` (`unauthorized`, `not_found`, ...).
    pub id: Option<String>,
    pub message: Option<String>,
}

/// Heroku's rule for app names (3 to 30 characters: lowercase letters, digits and dashes,
/// starting with a letter, not ending with a dash), or an app id (UUID).
/// Checks `--app` and reads the API key from `HEROKU_API_KEY`: an error when it is unset and the
/// requests are to be sent; `None` for a dry run without one.
pub fn api_key(app: &str, dry_run: bool) -> Result<Option<String>, HerokuError> {
    if !valid_app_name(app) {
        return Err(HerokuError::Invalid(format!(
            "--app {app}: not a Heroku app name (3 to 30 lowercase letters, digits and dashes, starting with a letter) nor an app id"
        )));
    }
    let key = std::env::var("HEROKU_API_KEY").ok().filter(|k| !k.trim().is_empty());
    if key.is_none() && !dry_run {
        return Err(HerokuError::Invalid(
            "HEROKU_API_KEY is not set: create a key with `heroku authorizations:create` and export it".into(),
        ));
    }
    Ok(key)
}

pub fn valid_app_name(name: &str) -> bool {
    let uuid = name.len() == 36
        && name.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let named = (3..=30).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    uuid || named
}

/// What a deploy needs.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub app: String,
    pub api_url: String,
    pub stack: Stack,
    pub processes: Vec<Process>,
    /// The slug tarball.
    pub slug: Vec<u8>,
}

/// The result of a deploy, for display: the ids Heroku returned, through [`printable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub slug_id: String,
    pub release_id: String,
    pub version: Option<u64>,
}

/// The SHA-256 checksum in the Platform API's form, `SHA256:<hex>`.
pub fn checksum(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    format!("SHA256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

impl Deploy {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api_url.trim_end_matches('/'))
    }

    /// The body of "Slug Create".
    pub fn slug_request(&self) -> serde_json::Value {
        serde_json::json!({
            "process_types": process_types_json(&self.processes),
            "stack": self.stack.name,
            "checksum": checksum(&self.slug),
        })
    }

    /// The requests a deploy makes, for `--dry-run` (the key and the tarball are never shown).
    pub fn describe(&self) -> String {
        format!(
            "POST {}\n  Accept: {ACCEPT}\n  Authorization: Bearer <HEROKU_API_KEY>\n  Content-Type: application/json\n  {}\n\
             PUT <blob.url from the response>\n  Content-Type: (empty)\n  <{} bytes of slug>\n\
             POST {}\n  Accept: {ACCEPT}\n  Authorization: Bearer <HEROKU_API_KEY>\n  Content-Type: application/json\n  {{\"slug\":\"<id from the first response>\"}}\n",
            self.url(&format!("/apps/{}/slugs", self.app)),
            self.slug_request(),
            self.slug.len(),
            self.url(&format!("/apps/{}/releases", self.app)),
        )
    }

    /// Runs the three steps with `key`, reporting each through `progress`.
    pub fn run(&self, key: &str, progress: &mut dyn FnMut(&str)) -> Result<Released, HerokuError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(300)))
            .build()
            .into();
        let auth = format!("Bearer {key}");
        let api = |step: &'static str,
                   path: String,
                   body: serde_json::Value|
         -> Result<serde_json::Value, HerokuError> {
            let response = agent
                .post(&self.url(&path))
                .header("Accept", ACCEPT)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes());
            json_response(step, response)
        };
        progress(&format!(
            "creating a slug for {} ({} bytes, {})",
            self.app,
            self.slug.len(),
            self.stack.name
        ));
        let slug =
            api("creating the slug", format!("/apps/{}/slugs", self.app), self.slug_request())?;
        let slug_id = string_field(&slug, &["id"], "creating the slug")?;
        let method = string_field(&slug, &["blob", "method"], "creating the slug")?;
        let url = string_field(&slug, &["blob", "url"], "creating the slug")?;
        if !method.eq_ignore_ascii_case("put") {
            return Err(HerokuError::Invalid(format!(
                "creating the slug: Heroku asked for an upload by {method}, not PUT"
            )));
        }
        progress(&format!("uploading slug {}", printable(&slug_id)));
        let upload = agent.put(&url).header("Content-Type", "").send(&self.slug[..]);
        match upload {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                return Err(HttpError {
                    step: "uploading the slug",
                    status: r.status().as_u16(),
                    id: None,
                    message: None,
                }
                .into());
            }
            Err(e) => {
                return Err(HerokuError::Invalid(format!(
                    "uploading the slug: {e}; no release was created"
                )))
            }
        }
        progress(&format!("releasing slug {} on {}", printable(&slug_id), self.app));
        let release = api(
            "creating the release",
            format!("/apps/{}/releases", self.app),
            serde_json::json!({ "slug": slug_id }),
        )?;
        Ok(Released {
            slug_id: printable(&slug_id),
            release_id: printable(&string_field(&release, &["id"], "creating the release")?),
            version: release.get("version").and_then(serde_json::Value::as_u64),
        })
    }
}

impl From<HttpError> for HerokuError {
    fn from(e: HttpError) -> Self {
        HerokuError::Http(e)
    }
}

fn json_response(
    step: &'static str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<serde_json::Value, HerokuError> {
    let mut response = response.map_err(|e| HerokuError::Invalid(format!("{step}: {e}")))?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    if !(200..300).contains(&status) {
        let field = |k: &str| {
            json.as_ref().and_then(|j| j.get(k)).and_then(|v| v.as_str()).map(str::to_owned)
        };
        return Err(HttpError { step, status, id: field("id"), message: field("message") }.into());
    }
    json.ok_or_else(|| HerokuError::Invalid(format!("{step}: the response is not JSON")))
}

fn string_field(v: &serde_json::Value, path: &[&str], step: &str) -> Result<String, HerokuError> {
    let mut at = v;
    for k in path {
        at = at.get(k).ok_or_else(|| {
            HerokuError::Invalid(format!("{step}: the response has no {}", path.join(".")))
        })?;
    }
    at.as_str()
        .map(str::to_owned)
        .ok_or_else(|| HerokuError::Invalid(format!("{step}: {} is not a string", path.join("."))))
}

// ---------------------------------------------------------------------------------------------
// `bundle heroku container`: Heroku's container registry and runtime (devcenter.heroku.com/
// articles/container-registry-and-runtime, "Using a CI/CD platform"): push an image per process
// type to `registry.heroku.com/<app>/<type>` (user `_`, the API key as password), then release
// them all with one "Formation Batch Update" carrying each image's id (its config digest).

/// Heroku's container registry.
pub const REGISTRY_URL: &str = "https://registry.heroku.com";
/// The Accept header of the Platform API variant that releases container images.
pub const DOCKER_RELEASES_ACCEPT: &str = "application/vnd.heroku+json; version=3.docker-releases";

/// One process type of a container release: its image runs the executable with `cmd` (the
/// image's `Cmd`, after the entrypoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerProcess {
    pub kind: String,
    pub cmd: Vec<String>,
}

/// The process types to push: the ones given (`TYPE`, or `TYPE=ARGS` with the executable's
/// arguments, split at white space; a leading `./NAME` or `/app/NAME` is the executable itself
/// and dropped, so that a Procfile command works too); else, for a program of entry points
/// (`entries`), one per entry, running it; else `web`, running `default_entry` if any. A bare
/// `TYPE` runs the entry of that name, or, for a program without entries, the program.
pub fn container_processes(
    binary_name: &str,
    given: &[String],
    entries: &[String],
    default_entry: Option<&str>,
) -> Result<Vec<ContainerProcess>, HerokuError> {
    let mut out: Vec<ContainerProcess> = Vec::new();
    for spec in given {
        let (kind, args) = match spec.split_once('=') {
            Some((k, a)) => (k, Some(a)),
            None => (spec.as_str(), None),
        };
        if !valid_process_type(kind) {
            return Err(HerokuError::Invalid(format!(
                "--process {spec}: '{kind}' is not a process type Heroku accepts (ASCII letters, digits, '-' and '_', 1 to 128)"
            )));
        }
        if out.iter().any(|p| p.kind == kind) {
            return Err(HerokuError::Invalid(format!("process type '{kind}' is given twice")));
        }
        let cmd = match args {
            Some(args) => {
                if let Some(c) = args.chars().find(|&c| breaks_procfile(c)) {
                    return Err(HerokuError::Invalid(format!(
                        "--process {spec}: the arguments have {}; give them on one line",
                        describe(c)
                    )));
                }
                let mut words: Vec<String> = args.split_whitespace().map(str::to_owned).collect();
                let own = [format!("./{binary_name}"), format!("/app/{binary_name}")];
                if words.first().is_some_and(|w| own.contains(w)) {
                    words.remove(0);
                }
                words
            }
            None if entries.iter().any(|e| e == kind) => vec![kind.to_owned()],
            None if entries.is_empty() => Vec::new(),
            None => {
                return Err(HerokuError::Invalid(format!(
                    "--process {kind}: {binary_name} has no entry point '{kind}' (it has {}); say what the process runs, e.g. --process {kind}={}",
                    entries.join(", "),
                    entries[0]
                )))
            }
        };
        out.push(ContainerProcess { kind: kind.to_owned(), cmd });
    }
    if out.is_empty() {
        if entries.is_empty() {
            let cmd = default_entry.map(|e| vec![e.to_owned()]).unwrap_or_default();
            out.push(ContainerProcess { kind: "web".into(), cmd });
        }
        for entry in entries {
            if !valid_process_type(entry) {
                return Err(HerokuError::Invalid(format!(
                    "entry point '{entry}' is not a process type Heroku accepts; name the processes with --process TYPE=ARGS"
                )));
            }
            out.push(ContainerProcess { kind: entry.clone(), cmd: vec![entry.clone()] });
        }
    }
    Ok(out)
}

/// What a container release needs: one built image per process type.
#[derive(Debug, Clone)]
pub struct Container {
    pub app: String,
    pub api_url: String,
    pub registry: crate::deploy::registry::Endpoint,
    pub images: Vec<(ContainerProcess, crate::deploy::oci::Built)>,
}

impl Container {
    fn formation_url(&self) -> String {
        format!("{}/apps/{}/formation", self.api_url.trim_end_matches('/'), self.app)
    }

    /// The repository of a process type's image: `<app>/<type>`.
    pub fn repository(&self, kind: &str) -> String {
        format!("{}/{kind}", self.app)
    }

    /// The body of "Formation Batch Update": each process type with its image id.
    pub fn formation_request(&self) -> serde_json::Value {
        let updates: Vec<serde_json::Value> = self
            .images
            .iter()
            .map(|(p, built)| serde_json::json!({ "type": p.kind, "docker_image": built.config.digest }))
            .collect();
        serde_json::json!({ "updates": updates })
    }

    /// The requests a release makes, for `--dry-run` (the key is never shown).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (p, built) in &self.images {
            let repo = self.repository(&p.kind);
            out.push_str(&format!(
                "PUSH {}/{repo}:latest (Docker v2 schema 2 manifest; Cmd {})\n  Authorization: Basic <_:HEROKU_API_KEY> (or the token its challenge asks for)\n",
                self.registry.registry,
                serde_json::json!(p.cmd),
            ));
            for blob in built.blobs() {
                out.push_str(&format!(
                    "  HEAD /v2/{repo}/blobs/{}, if absent POST /v2/{repo}/blobs/uploads/ and PUT ?digest= ({} bytes)\n",
                    blob.digest,
                    blob.data.len()
                ));
            }
            out.push_str(&format!("  PUT /v2/{repo}/manifests/latest\n"));
        }
        out.push_str(&format!(
            "PATCH {}\n  Accept: {DOCKER_RELEASES_ACCEPT}\n  Authorization: Bearer <HEROKU_API_KEY>\n  Content-Type: application/json\n  {}\n",
            self.formation_url(),
            self.formation_request()
        ));
        out
    }

    /// Pushes every image with `key`, then releases them, reporting each step through
    /// `progress`. Returns the number of blobs uploaded and already present.
    pub fn run(
        &self,
        key: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(usize, usize), HerokuError> {
        use crate::deploy::registry::{Client, Credentials, Format};
        let (mut uploaded, mut present) = (0, 0);
        for (p, built) in &self.images {
            let repo = self.repository(&p.kind);
            progress(&format!(
                "pushing the {} image to {}/{repo}:latest",
                p.kind, self.registry.registry
            ));
            let creds = Credentials {
                user: "_".into(),
                password: key.to_owned(),
                source: "HEROKU_API_KEY".into(),
            };
            let mut client = Client::new(self.registry.clone(), &repo, Some(creds));
            let pushed = client
                .push(
                    "latest",
                    built,
                    Format::Only(crate::deploy::oci::ManifestFormat::Docker),
                    progress,
                )
                .map_err(|source| HerokuError::Push { kind: p.kind.clone(), source })?;
            uploaded += pushed.uploaded;
            present += pushed.present;
        }
        let kinds: Vec<&str> = self.images.iter().map(|(p, _)| p.kind.as_str()).collect();
        progress(&format!("releasing {} on {}", kinds.join(", "), self.app));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(300)))
            .build()
            .into();
        let response = agent
            .patch(&self.formation_url())
            .header("Accept", DOCKER_RELEASES_ACCEPT)
            .header("Authorization", &format!("Bearer {key}"))
            .header("Content-Type", "application/json")
            .send(self.formation_request().to_string().as_bytes());
        json_response("releasing the images", response)?;
        Ok((uploaded, present))
    }
}
