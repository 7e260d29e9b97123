//! Pushing an image ([`crate::deploy::oci::Built`]) to a container registry with the OCI
//! distribution API (opencontainers/distribution-spec, spec.md, "Pushing blobs" and "Pushing
//! Manifests"): `GET /v2/` first; for each blob, `HEAD /v2/<name>/blobs/<digest>` and, only when
//! it is absent, `POST /v2/<name>/blobs/uploads/` then `PUT <Location>&digest=<digest>`; then
//! `PUT /v2/<name>/manifests/<tag>`. The manifest is OCI's, or Docker's image manifest v2
//! schema 2 for registries that want it (Heroku's); the blobs are the same bytes either way.
//!
//! Authentication follows Docker's token protocol (distribution/docs/spec/auth/token.md): a 401
//! carrying `WWW-Authenticate: Bearer realm="...",service="..."` is answered by fetching a token
//! from the realm (`GET realm?service=...&scope=repository:<name>:pull,push`, with the basic
//! credentials if there are any) and sending `Authorization: Bearer <token>`; a `Basic`
//! challenge is answered with the basic credentials. These come from `--creds USER:PASS`, else
//! from Docker's `config.json` (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, the
//! base64 `auth` of the registry's `auths` entry), else there are none. No password or token is
//! ever part of a message: errors name where the credentials came from and the user, nothing
//! more, and a registry's answer is shown with any secret in it masked.
//!
//! Talks HTTPS through `ureq`; plain HTTP only to a loopback registry (127.0.0.0/8, ::1,
//! `localhost`) and only when asked (`--insecure`).

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::deploy::oci::{Blob, Built, ManifestFormat, OciError};
use crate::deploy::printable;

/// Why a push failed. Every text from a registry goes through [`printable`].
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A reference or URL that names no registry or no repository, or is malformed.
    #[error("{}", printable(.0))]
    Reference(String),
    #[error("{}", printable(.0))]
    Invalid(String),
    #[error("cannot reach the registry {registry} ({url}): {}{hint}", printable(reason))]
    Unreachable { registry: String, url: String, reason: String, hint: String },
    /// A registry (or its token service) answered a step with an error status.
    #[error("{registry}: {step}: HTTP {status}{}", printable(detail))]
    Http { registry: String, step: String, status: u16, detail: String },
    /// Docker's `config.json` could not be used (its content is never shown).
    #[error("{}: {}", printable(&path.display().to_string()), printable(reason))]
    DockerConfig { path: PathBuf, reason: String },
    #[error(transparent)]
    Oci(#[from] OciError),
}

/// An image reference to push to: `host[:port]/repository[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]` as written (`docker.io` for Docker Hub).
    pub registry: String,
    /// `name/more`, lowercase (`library/name` for an official Docker Hub image).
    pub repository: String,
    pub tag: String,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

/// Docker's rule: the first component of a reference is a registry when it has a `.` or a `:`
/// or is `localhost` (distribution/reference, normalize.go); otherwise the reference is Docker
/// Hub's.
fn looks_like_host(component: &str) -> bool {
    component.contains(['.', ':']) || component == "localhost" || component.starts_with('[')
}

/// `host[:port]`, with `host` a DNS name, an IPv4 address or a bracketed IPv6 address.
fn valid_registry(registry: &str) -> bool {
    let (host, port, ipv6) = match registry.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, p)) if h.parse::<std::net::Ipv6Addr>().is_ok() => (h, p, true),
            _ => return false,
        },
        None => match registry.split_once(':') {
            Some((h, _)) => (h, &registry[h.len()..], false),
            None => (registry, "", false),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && p.parse::<u16>().is_ok()
        });
    let host_ok = ipv6
        || (!host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    host_ok && port_ok
}

/// A repository component: lowercase letters and digits, separated by `.`, `_`, `__` or `-`s
/// (distribution/reference's grammar, loosened to any run of separators between alphanumerics).
fn valid_component(c: &str) -> bool {
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    c.starts_with(alnum)
        && c.ends_with(alnum)
        && c.chars().all(|ch| alnum(ch) || "._-".contains(ch))
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    (1..=128).contains(&t.len())
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Reference {
    /// Parses `host[:port]/repository[/more][:tag]` (tag `latest` when none). `user/repo` is
    /// Docker Hub's (`docker.io/user/repo`), and `docker.io/name` is `docker.io/library/name`,
    /// as with `docker push`; a bare `name` is refused, as a reference that names no registry
    /// (`docker push name` would push to Docker Hub's `library/`, which only Docker may do).
    pub fn parse(text: &str) -> Result<Reference, RegistryError> {
        let bad = |why: String| Err(RegistryError::Reference(format!("--push {text}: {why}")));
        if text.is_empty() {
            return bad("the reference is empty; write HOST[:PORT]/REPOSITORY[:TAG]".into());
        }
        if text.contains("://") {
            return bad("write the reference without a scheme, HOST[:PORT]/REPOSITORY[:TAG] (--insecure allows plain HTTP to a loopback registry)".into());
        }
        if text.contains('@') {
            return bad("a digest reference (@sha256:...) cannot be pushed to; give a tag, HOST/REPOSITORY:TAG".into());
        }
        let Some((first, rest)) = text.split_once('/') else {
            return if looks_like_host(text) {
                bad(format!("names a registry but no repository; write {text}/REPOSITORY[:TAG], e.g. {text}/my-app:latest"))
            } else {
                bad(format!("names no registry; write HOST[:PORT]/REPOSITORY[:TAG] (for Docker Hub, docker.io/USER/{text})"))
            };
        };
        let (registry, path) =
            if looks_like_host(first) { (first, rest) } else { ("docker.io", text) };
        if !valid_registry(registry) {
            return bad(format!("'{registry}' is not a registry host (HOST or HOST:PORT)"));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) => (r, t),
            None => (path, "latest"),
        };
        if repository.is_empty() {
            return bad(format!("names the registry {registry} but no repository; write {registry}/REPOSITORY[:TAG]"));
        }
        if let Some(c) = repository.split('/').find(|c| !valid_component(c)) {
            let shown =
                if c.is_empty() { "an empty component".to_owned() } else { format!("'{c}'") };
            return bad(format!("{shown} is not a repository name component (lowercase letters and digits, separated by '.', '_' or '-')"));
        }
        if !valid_tag(tag) {
            return bad(format!(
                "'{tag}' is not a tag (letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-')"
            ));
        }
        let docker_hub = matches!(registry, "docker.io" | "index.docker.io");
        let repository = if docker_hub && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        Ok(Reference { registry: registry.to_owned(), repository, tag: tag.to_owned() })
    }
}

/// The host of `host[:port]` (brackets of an IPv6 address removed).
fn host_of(registry: &str) -> &str {
    match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    }
}

/// Whether `registry` (`host[:port]`) is on this machine: `localhost`, 127.0.0.0/8 or ::1.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where a registry answers: its `host[:port]` and whether it speaks plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`, as the user wrote it.
    pub registry: String,
    /// Plain HTTP (a loopback registry, `--insecure`).
    pub plain_http: bool,
}

impl Endpoint {
    /// The endpoint of `reference`: HTTPS, or plain HTTP with `insecure`, which only a loopback
    /// registry may be.
    pub fn of(reference: &Reference, insecure: bool) -> Result<Endpoint, RegistryError> {
        if insecure && !is_loopback(&reference.registry) {
            return Err(RegistryError::Reference(format!(
                "--insecure allows plain HTTP to a loopback registry only (127.0.0.0/8, ::1, localhost), not {}; a remote registry is reached over HTTPS",
                reference.registry
            )));
        }
        Ok(Endpoint { registry: reference.registry.clone(), plain_http: insecure })
    }

    /// The endpoint a URL names: `https://host[:port]`, or `http://` for a loopback host.
    pub fn from_url(flag: &str, url: &str) -> Result<Endpoint, RegistryError> {
        let (plain_http, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (true, rest)
        } else {
            return Err(RegistryError::Reference(format!(
                "{flag} {url}: expected https://HOST[:PORT] (or http:// for a loopback registry)"
            )));
        };
        let registry = rest.trim_end_matches('/');
        if !valid_registry(registry) {
            return Err(RegistryError::Reference(format!(
                "{flag} {url}: expected https://HOST[:PORT], without a path"
            )));
        }
        if plain_http && !is_loopback(registry) {
            return Err(RegistryError::Reference(format!(
                "{flag} {url}: plain HTTP is allowed to a loopback registry only (127.0.0.0/8, ::1, localhost); use https://"
            )));
        }
        Ok(Endpoint { registry: registry.to_owned(), plain_http })
    }

    /// `scheme://host[:port]`; Docker Hub's API lives at `registry-1.docker.io`.
    fn base(&self) -> String {
        let host = match self.registry.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        };
        format!("{}://{host}", if self.plain_http { "http" } else { "https" })
    }
}

/// Basic credentials, and where they came from (for messages; the password never is shown).
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    /// `--creds`, `/root/.docker/config.json`, `HEROKU_API_KEY`, ...
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    /// Parses `USER:PASS` (`--creds`).
    pub fn parse(text: &str) -> Result<Credentials, RegistryError> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(Credentials {
                user: user.to_owned(),
                password: password.to_owned(),
                source: "--creds".into(),
            }),
            // The text may be a password: never echo it.
            _ => Err(RegistryError::Invalid(
                "--creds: expected USER:PASSWORD, both non-empty".into(),
            )),
        }
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// Docker's configuration file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(Path::new(&dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| Path::new(&h).join(".docker/config.json"))
}

/// The credentials Docker's `config.json` at `path` holds for `registry` (an `auths` entry
/// keyed by `host[:port]`, with or without `https://` and a path; Docker Hub's is
/// `https://index.docker.io/v1/`), from its base64 `auth` (`user:password`). A missing file or
/// entry is no credentials; a file that cannot be read is an error. Credential helpers
/// (`credsStore`, `credHelpers`) are not run.
pub fn docker_config_credentials(
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let fail = |reason: &str| RegistryError::DockerConfig {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(&e.to_string())),
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        fail("not valid JSON (Docker's config.json; fix or move it, or give --creds)")
    })?;
    let Some(auths) = json.get("auths").and_then(|a| a.as_object()) else { return Ok(None) };
    let hub = matches!(registry, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    let key_host = |key: &str| -> String {
        let rest = key.trim_start_matches("https://").trim_start_matches("http://");
        rest.split('/').next().unwrap_or(rest).to_owned()
    };
    let entry = auths.iter().find(|(key, _)| {
        let host = key_host(key);
        host == registry
            || (hub
                && matches!(
                    host.as_str(),
                    "docker.io" | "index.docker.io" | "registry-1.docker.io"
                ))
    });
    let Some((key, entry)) = entry else { return Ok(None) };
    let Some(auth) = entry.get("auth").and_then(|a| a.as_str()).filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| fail(&format!("auths.\"{key}\".auth is not base64 of USER:PASSWORD")))?;
    let Some((user, password)) = decoded.split_once(':').filter(|(u, _)| !u.is_empty()) else {
        return Err(fail(&format!("auths.\"{key}\".auth is not base64 of USER:PASSWORD")));
    };
    Ok(Some(Credentials {
        user: user.to_owned(),
        password: password.to_owned(),
        source: path.display().to_string(),
    }))
}

/// The credentials for `registry`: `given` (`--creds`), else Docker's `config.json`, else none.
pub fn credentials_for(
    registry: &str,
    given: Option<Credentials>,
) -> Result<Option<Credentials>, RegistryError> {
    if given.is_some() {
        return Ok(given);
    }
    match docker_config_path() {
        Some(path) => docker_config_credentials(&path, registry),
        None => Ok(None),
    }
}

/// Which manifest to push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OCI's, then Docker's v2 schema 2 if the registry refuses it as invalid or unsupported.
    Auto,
    Only(ManifestFormat),
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The digest of the manifest pushed (`sha256:...`).
    pub manifest_digest: String,
    pub format: ManifestFormat,
    /// Blobs uploaded, and blobs the registry already had.
    pub uploaded: usize,
    pub present: usize,
}

/// A response, read whole.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `sha256:0123456789ab`: a digest shortened for progress lines.
pub fn short(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// `text` percent-encoded for a URL query (RFC 3986 unreserved characters kept).
fn query_escape(text: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The parameters of a `WWW-Authenticate` challenge: its scheme (lowercase) and
/// `key="value"` pairs (RFC 7235 §4.1; quoted values may hold commas).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        params.push((key, value.to_owned()));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_ascii_lowercase(), params)
}

/// A session with one registry, for one repository: the agent, the credentials and the
/// `Authorization` that the last challenge asked for.
pub struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
    repository: String,
    creds: Option<Credentials>,
    auth: Option<String>,
    /// The token, to mask it should a registry echo it.
    token: Option<String>,
}

impl Client {
    pub fn new(endpoint: Endpoint, repository: &str, creds: Option<Credentials>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(std::time::Duration::from_secs(30)))
            .timeout_global(Some(std::time::Duration::from_secs(600)))
            .build()
            .into();
        Client {
            agent,
            endpoint,
            repository: repository.to_owned(),
            creds,
            auth: None,
            token: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}{path}", self.endpoint.base(), self.repository)
    }

    /// `text` with the password and the token masked.
    fn masked(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let secrets = [self.creds.as_ref().map(|c| c.password.as_str()), self.token.as_deref()];
        for secret in secrets.into_iter().flatten().filter(|s| s.len() >= 3) {
            out = out.replace(secret, "<hidden>");
        }
        out
    }

    /// One request, without answering challenges.
    fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        auth: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Answer, RegistryError> {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let unreachable = |reason: String| RegistryError::Unreachable {
            registry: self.endpoint.registry.clone(),
            url: url.to_owned(),
            reason,
            hint: if !self.endpoint.plain_http && is_loopback(&self.endpoint.registry) {
                " (a plain-HTTP loopback registry needs --insecure)".into()
            } else {
                String::new()
            },
        };
        let sent = match body {
            Some(b) => request.body(b).map(|r| self.agent.run(r)),
            None => request.body(()).map(|r| self.agent.run(r)),
        }
        .map_err(|e| {
            RegistryError::Invalid(format!("{url}: not a request bundle can make: {e}"))
        })?;
        let mut response = sent.map_err(|e| unreachable(self.masked(&e.to_string())))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            response.body_mut().with_config().limit(1 << 20).read_to_vec().unwrap_or_default()
        };
        Ok(Answer { status, headers, body })
    }

    /// A request, answering one authentication challenge (a 401 with `WWW-Authenticate`) and
    /// sending it again.
    fn send(
        &mut self,
        step: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Answer, RegistryError> {
        let answer = self.raw(method, url, headers, self.auth.as_deref(), body)?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let Some(challenge) = answer.header("www-authenticate").map(str::to_owned) else {
            return Err(self.refused(step, &answer));
        };
        self.answer_challenge(step, &challenge)?;
        if self.auth.is_none() {
            // A Basic challenge and no credentials to answer it with.
            return Err(self.refused(step, &answer));
        }
        let again = self.raw(method, url, headers, self.auth.as_deref(), body)?;
        if again.status == 401 || again.status == 403 {
            return Err(self.refused(step, &again));
        }
        Ok(again)
    }

    /// Sets `self.auth` as `challenge` asks.
    fn answer_challenge(&mut self, step: &str, challenge: &str) -> Result<(), RegistryError> {
        let (scheme, params) = parse_challenge(challenge);
        let param = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        match scheme.as_str() {
            "basic" => {
                self.auth = self.creds.as_ref().map(Credentials::basic);
                Ok(())
            }
            "bearer" => {
                let realm = param("realm").ok_or_else(|| {
                    RegistryError::Invalid(format!(
                        "{}: {step}: the registry asks for a bearer token but names no realm to get it from",
                        self.endpoint.registry
                    ))
                })?;
                let token = self.fetch_token(&realm, param("service").as_deref())?;
                self.auth = Some(format!("Bearer {token}"));
                self.token = Some(token);
                Ok(())
            }
            other => Err(RegistryError::Invalid(format!(
                "{}: {step}: the registry asks for '{other}' authentication, which bundle does not speak (Basic and Bearer only)",
                self.endpoint.registry
            ))),
        }
    }

    /// A token from `realm` for pulling and pushing the repository (Docker's token protocol),
    /// with the basic credentials if there are any. They are sent over HTTPS only, or to a
    /// loopback realm.
    fn fetch_token(&self, realm: &str, service: Option<&str>) -> Result<String, RegistryError> {
        let step = format!("getting a token from {realm}");
        let realm_host = realm
            .strip_prefix("https://")
            .or_else(|| realm.strip_prefix("http://"))
            .map(|r| r.split(['/', '?']).next().unwrap_or(r));
        let Some(realm_host) = realm_host else {
            return Err(RegistryError::Invalid(format!(
                "{}: the token realm '{realm}' is not an http(s) URL",
                self.endpoint.registry
            )));
        };
        if realm.starts_with("http://") && !is_loopback(realm_host) {
            return Err(RegistryError::Invalid(format!(
                "{}: the token realm {realm} is plain HTTP on another machine; bundle sends credentials over HTTPS only",
                self.endpoint.registry
            )));
        }
        let mut url = realm.to_owned();
        url.push(if realm.contains('?') { '&' } else { '?' });
        if let Some(service) = service {
            url.push_str(&format!("service={}&", query_escape(service)));
        }
        url.push_str(&format!(
            "scope={}",
            query_escape(&format!("repository:{}:pull,push", self.repository))
        ));
        let basic = self.creds.as_ref().map(Credentials::basic);
        let answer = self.raw("GET", &url, &[], basic.as_deref(), None)?;
        if !(200..300).contains(&answer.status) {
            return Err(self.refused(&step, &answer));
        }
        let json: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            RegistryError::Invalid(format!(
                "{}: {step}: the answer is not JSON",
                self.endpoint.registry
            ))
        })?;
        json.get("token")
            .or_else(|| json.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "{}: {step}: the answer has no token",
                    self.endpoint.registry
                ))
            })
    }

    /// The error for a failed step: its status, the registry's error codes and messages (or
    /// the start of its body), and for 401/403 which credentials were tried.
    fn refused(&self, step: &str, answer: &Answer) -> RegistryError {
        let mut detail = String::new();
        let json: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
        let errors = json.as_ref().and_then(|j| j.get("errors")).and_then(|e| e.as_array());
        if let Some(errors) = errors.filter(|e| !e.is_empty()) {
            let shown: Vec<String> = errors
                .iter()
                .map(|e| {
                    let field = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let mut one = format!("{} {}", field("code"), field("message"));
                    match e.get("detail") {
                        None | Some(serde_json::Value::Null) => {}
                        Some(serde_json::Value::String(s)) => one.push_str(&format!(" ({s})")),
                        Some(d) => one.push_str(&format!(" ({d})")),
                    }
                    one.trim().to_owned()
                })
                .collect();
            detail = format!(": {}", shown.join("; "));
        } else {
            let text = String::from_utf8_lossy(&answer.body);
            let text = text.trim();
            if !text.is_empty() {
                let cut: String = text.chars().take(400).collect();
                let more = if cut.len() < text.len() { "..." } else { "" };
                detail = format!(": {cut}{more}");
            }
        }
        if matches!(answer.status, 401 | 403) {
            detail.push_str(&match &self.creds {
                Some(c) => format!(" (as user '{}', credentials from {})", c.user, c.source),
                None => " (no credentials: give --creds USER:PASSWORD or log in with docker login)"
                    .into(),
            });
        }
        RegistryError::Http {
            registry: self.endpoint.registry.clone(),
            step: step.to_owned(),
            status: answer.status,
            detail: self.masked(&detail),
        }
    }

    /// `GET /v2/`: the registry speaks the API, and the credentials (if it wants any) hold.
    pub fn check(&mut self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.endpoint.base());
        let answer = self.send("connecting", "GET", &url, &[], None)?;
        match answer.status {
            200..=299 => Ok(()),
            404 => Err(RegistryError::Http {
                registry: self.endpoint.registry.clone(),
                step: "connecting".into(),
                status: 404,
                detail: ": no /v2/ API there; is it a container registry?".into(),
            }),
            _ => Err(self.refused("connecting", &answer)),
        }
    }

    /// Pushes one blob unless the registry has it; `true` if it was uploaded.
    pub fn push_blob(
        &mut self,
        blob: &Blob,
        progress: &mut dyn FnMut(&str),
    ) -> Result<bool, RegistryError> {
        let short = short(&blob.digest);
        let url = self.url(&format!("/blobs/{}", blob.digest));
        let answer = self.send(&format!("checking blob {short}"), "HEAD", &url, &[], None)?;
        match answer.status {
            200..=299 => {
                progress(&format!("blob {short} already present"));
                return Ok(false);
            }
            404 => {}
            _ => return Err(self.refused(&format!("checking blob {short}"), &answer)),
        }
        progress(&format!("pushing blob {short} ({} bytes)", blob.data.len()));
        let step = format!("starting the upload of blob {short}");
        let answer = self.send(
            &step,
            "POST",
            &self.url("/blobs/uploads/"),
            &[("Content-Length", "0")],
            Some(&[]),
        )?;
        if answer.status != 202 {
            return Err(self.refused(&step, &answer));
        }
        let location = answer.header("location").ok_or_else(|| {
            RegistryError::Invalid(format!(
                "{}: {step}: the registry gave no Location to upload to",
                self.endpoint.registry
            ))
        })?;
        let mut put = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else if location.starts_with('/') {
            format!("{}{location}", self.endpoint.base())
        } else {
            return Err(RegistryError::Invalid(format!(
                "{}: {step}: the upload Location '{location}' is not a URL",
                self.endpoint.registry
            )));
        };
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest={}", query_escape(&blob.digest)));
        let step = format!("uploading blob {short}");
        let length = blob.data.len().to_string();
        let headers = [("Content-Type", "application/octet-stream"), ("Content-Length", &length)];
        // An upload elsewhere (a storage service the registry hands off to) gets no credentials
        // of the registry's, and never over plain HTTP to another machine.
        let base = format!("{}/", self.endpoint.base());
        let answer = if put.starts_with(&base) {
            self.send(&step, "PUT", &put, &headers, Some(&blob.data))?
        } else {
            let host = put.split("://").nth(1).and_then(|r| r.split(['/', '?']).next());
            if put.starts_with("http://") && !host.is_some_and(is_loopback) {
                return Err(RegistryError::Invalid(format!(
                    "{}: {step}: the registry asks for an upload over plain HTTP to another machine ({}); refused",
                    self.endpoint.registry,
                    host.unwrap_or("?")
                )));
            }
            self.raw("PUT", &put, &headers, None, Some(&blob.data))?
        };
        if !(200..300).contains(&answer.status) {
            return Err(self.refused(&step, &answer));
        }
        Ok(true)
    }

    /// Pushes `manifest` as `tag`; the digest the registry gives (or its own).
    fn push_manifest(
        &mut self,
        tag: &str,
        format: ManifestFormat,
        manifest: &[u8],
    ) -> Result<Result<String, Answer>, RegistryError> {
        let url = self.url(&format!("/manifests/{tag}"));
        let answer = self.send(
            "pushing the manifest",
            "PUT",
            &url,
            &[("Content-Type", format.manifest_type())],
            Some(manifest),
        )?;
        if !(200..300).contains(&answer.status) {
            return Ok(Err(answer));
        }
        use sha2::Digest;
        let digest: String =
            sha2::Sha256::digest(manifest).iter().map(|b| format!("{b:02x}")).collect();
        Ok(Ok(format!("sha256:{digest}")))
    }

    /// Pushes `built` as `tag` of the repository: its blobs (those the registry lacks), then its
    /// manifest in `format`.
    pub fn push(
        &mut self,
        tag: &str,
        built: &Built,
        format: Format,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Pushed, RegistryError> {
        self.check()?;
        let (mut uploaded, mut present) = (0, 0);
        for blob in built.blobs() {
            if self.push_blob(blob, progress)? {
                uploaded += 1;
            } else {
                present += 1;
            }
        }
        let first = match format {
            Format::Auto => ManifestFormat::Oci,
            Format::Only(f) => f,
        };
        let pushed = |this: &mut Client, f: ManifestFormat| {
            let manifest = built.manifest(f)?;
            this.push_manifest(tag, f, &manifest)
        };
        let answer = match pushed(self, first)? {
            Ok(digest) => {
                return Ok(Pushed { manifest_digest: digest, format: first, uploaded, present })
            }
            Err(answer) => answer,
        };
        // Refused as invalid or unsupported: a registry that wants Docker's media types.
        if format == Format::Auto && matches!(answer.status, 400 | 415) {
            let why = self.refused("pushing the OCI manifest", &answer);
            progress(&format!("{why}; pushing a Docker v2 schema 2 manifest instead"));
            match pushed(self, ManifestFormat::Docker)? {
                Ok(digest) => {
                    return Ok(Pushed {
                        manifest_digest: digest,
                        format: ManifestFormat::Docker,
                        uploaded,
                        present,
                    })
                }
                Err(answer) => {
                    return Err(self.refused("pushing the Docker v2 schema 2 manifest", &answer))
                }
            }
        }
        Err(self.refused("pushing the manifest", &answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("127.0.0.1:5000/app:v1").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("127.0.0.1:5000", "app", "v1")
        );
        let r = Reference::parse("registry.heroku.com/my-app/web").unwrap();
        assert_eq!((r.repository.as_str(), r.tag.as_str()), ("my-app/web", "latest"));
        let r = Reference::parse("user/app:2").unwrap();
        assert_eq!((r.registry.as_str(), r.repository.as_str()), ("docker.io", "user/app"));
        assert_eq!(Reference::parse("docker.io/ubuntu").unwrap().repository, "library/ubuntu");
        assert_eq!(Reference::parse("localhost/a/b/c:t").unwrap().repository, "a/b/c");
        assert_eq!(Reference::parse("[::1]:5000/a").unwrap().registry, "[::1]:5000");
        for bad in [
            "",
            "127.0.0.1:5000",
            "127.0.0.1:5000/",
            "registry.heroku.com",
            "app",
            "host.io/:t",
            "host.io/App",
            "host.io/a//b",
            "host.io/a:",
            "host.io/a:-x",
            "http://host.io/a",
            "host.io/a@sha256:00",
            "host:99999/a",
            "ho st.io/a",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        let e = Reference::parse("127.0.0.1:5000").unwrap_err().to_string();
        assert!(e.contains("no repository"), "{e}");
    }

    #[test]
    fn loopback_and_endpoints() {
        for yes in ["127.0.0.1:5000", "127.1.2.3", "localhost:80", "[::1]:5000"] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in ["10.0.0.1:5000", "example.com", "[::2]:1", "localhost.example.com"] {
            assert!(!is_loopback(no), "{no}");
        }
        let remote = Reference::parse("example.com/a").unwrap();
        assert!(Endpoint::of(&remote, true).is_err());
        assert_eq!(Endpoint::of(&remote, false).unwrap().base(), "https://example.com");
        assert!(Endpoint::from_url("--registry-url", "http://example.com").is_err());
        assert!(Endpoint::from_url("--registry-url", "ftp://127.0.0.1").is_err());
        assert!(Endpoint::from_url("--registry-url", "https://r.io/path").is_err());
        let e = Endpoint::from_url("--registry-url", "http://127.0.0.1:8/").unwrap();
        assert_eq!(e.base(), "http://127.0.0.1:8");
        let hub = Reference::parse("docker.io/u/a").unwrap();
        assert_eq!(Endpoint::of(&hub, false).unwrap().base(), "https://registry-1.docker.io");
    }

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "bearer");
        assert_eq!(
            p,
            vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull,push".into())
            ]
        );
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!((s.as_str(), p.len()), ("basic", 1));
        assert_eq!(query_escape("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
    }

    #[test]
    fn credentials_are_never_shown() {
        let c = Credentials::parse("alice:s3cret").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        let e = Credentials::parse("s3cret").unwrap_err().to_string();
        assert!(!e.contains("s3cret"), "{e}");
        assert_eq!(c.basic(), "Basic YWxpY2U6czNjcmV0");
    }

    #[test]
    fn docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        assert!(docker_config_credentials(&path, "r.io").unwrap().is_none());
        std::fs::write(
            &path,
            r#"{"auths":{"https://r.io/v1/":{"auth":"YWxpY2U6czNjcmV0"},"https://index.docker.io/v1/":{"auth":"Ym9iOnB3"}}}"#,
        )
        .unwrap();
        let c = docker_config_credentials(&path, "r.io").unwrap().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("alice", "s3cret"));
        assert_eq!(docker_config_credentials(&path, "docker.io").unwrap().unwrap().user, "bob");
        assert!(docker_config_credentials(&path, "other.io").unwrap().is_none());
        std::fs::write(&path, r#"{"auths":{"r.io":{"auth":"!!"}}}"#).unwrap();
        assert!(docker_config_credentials(&path, "r.io").is_err());
        std::fs::write(&path, "{not json").unwrap();
        assert!(docker_config_credentials(&path, "r.io").is_err());
    }
}
