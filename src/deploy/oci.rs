//! `bundle oci`: a container image of a bundled executable, built without Docker, as one tar
//! that is both an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`, OCI image-spec
//! v1) and a docker-archive (`manifest.json` pointing at the same blobs), so that `docker load`,
//! `podman load` and `skopeo copy oci-archive:`/`docker-archive:` all accept it.
//!
//! One layer holds the executable at `/app/<name>` (mode 0555), an empty `/tmp` (for the native
//! modules' fallback directory) and, for a dynamically linked executable, the glibc runtime
//! files it needs, taken from this machine: the dynamic loader and the base-system libraries its
//! `DT_NEEDED` (and its packed libraries') name. The config sets the entrypoint (the
//! executable), `Cmd` (a program of entry points: its default entry) and defaults `PORT`. Everything is deterministic: sorted entries, zero times and owners.
//!
//! [`image`] gives the image as data (config and layer blobs, the manifest in OCI or Docker v2
//! schema 2 form) for a push (`registry`); [`archive`] writes those same blobs as the tar.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::Digest;

use crate::deploy::printable;

/// Why no image was made. Messages are shown through [`printable`]: a file name never puts a
/// control character on the terminal.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error("{}", printable(.0))]
    Invalid(String),
    #[error("{}: {}", printable(&path.display().to_string()), printable(&source.to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What goes into the image.
#[derive(Debug, Clone)]
pub struct Image {
    /// File name of the executable inside `/app`.
    pub name: String,
    pub binary: Vec<u8>,
    /// `repository:tag`.
    pub tag: String,
    /// Default value of `PORT`.
    pub port: u16,
    /// The image's `Cmd`, the arguments after the entrypoint: the default entry of a program
    /// of entry points (`docker run IMAGE worker` runs another); empty for none.
    pub cmd: Vec<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> OciError + '_ {
    move |source| OciError::Io { path: path.to_path_buf(), source }
}

/// The glibc runtime files `binary` needs, from this machine: image path → contents.
pub fn runtime_files(binary: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, OciError> {
    let elf = goblin::elf::Elf::parse(binary)
        .map_err(|e| OciError::Invalid(format!("not an ELF executable: {e}")))?;
    let mut files = BTreeMap::new();
    let Some(interp) = elf.interpreter else { return Ok(files) };
    let interp = interp.to_owned();
    files.insert(interp.clone(), std::fs::read(&interp).map_err(io(Path::new(&interp)))?);
    // The base system, transitively (libm needs libc, ...), found as the loader would.
    let mut queue: Vec<String> = elf.libraries.iter().map(|s| (*s).to_owned()).collect();
    let mut seen = std::collections::BTreeSet::new();
    // Base-system libraries are looked up in the system directories of the binary's machine
    // only.
    let none = crate::base::native::Object::empty();
    let multiarch = crate::base::target::multiarch_of(elf.header.e_machine);
    let system = crate::base::target::LibrarySearch {
        env: Vec::new(),
        system: crate::base::native::library_search(multiarch).system,
    };
    while let Some(lib) = queue.pop() {
        if !seen.insert(lib.clone()) || lib.starts_with("ld-linux") {
            continue;
        }
        let path = crate::base::native::find_library(&lib, &none, Path::new("/"), &[], &system)
            .map_err(|_| {
                OciError::Invalid(format!("{lib} is needed but not found on this machine"))
            })?;
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        if let Ok(dep) = goblin::elf::Elf::parse(&bytes) {
            queue.extend(dep.libraries.iter().map(|s| (*s).to_owned()));
        }
        let shown = path.parent().unwrap_or(Path::new("/lib")).join(&lib).display().to_string();
        files.insert(shown, bytes);
    }
    Ok(files)
}

/// Files of a tar: path → (mode, contents).
type Files = BTreeMap<String, (u32, Vec<u8>)>;

/// `path` as a tar entry name (no leading `/`), or an error when it is not a plain path inside
/// the archive (empty, or with an empty, `.` or `..` component).
fn entry_name(path: &str) -> Result<&str, OciError> {
    let name = path.trim_start_matches('/');
    if name.is_empty() || name.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(OciError::Invalid(format!("'{path}' is not a plain path inside the image")));
    }
    Ok(name)
}

/// Adds `path` to `files`, refusing a path another file already takes (`/x` and `x` are the
/// same entry).
fn add(
    files: &mut Files,
    path: &str,
    mode: u32,
    data: Vec<u8>,
    what: &str,
) -> Result<(), OciError> {
    let name = entry_name(path)?.to_owned();
    if files.contains_key(&name) {
        return Err(OciError::Invalid(format!(
            "/{name}: {what} would collide with another file the image holds there"
        )));
    }
    files.insert(name, (mode, data));
    Ok(())
}

/// A tar of `files`, with the directories they are in and `dirs`, sorted. A path that would be
/// both a file and a directory is refused.
fn tar_of(files: &Files, dirs: &[(&str, u32)]) -> Result<Vec<u8>, OciError> {
    let mut all_dirs: BTreeMap<String, u32> =
        dirs.iter().map(|(d, m)| ((*d).to_owned(), *m)).collect();
    for path in files.keys() {
        entry_name(path)?;
        let mut p = Path::new(path.trim_start_matches('/')).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            all_dirs.entry(format!("{}/", d.display())).or_insert(0o755);
            p = d.parent();
        }
    }
    if let Some(path) =
        files.keys().find(|p| all_dirs.contains_key(&format!("{}/", p.trim_start_matches('/'))))
    {
        return Err(OciError::Invalid(format!(
            "/{}: the image needs a directory there and a file would take its place",
            path.trim_start_matches('/')
        )));
    }
    let mut entries: Vec<crate::deploy::archive::Entry> =
        all_dirs.into_iter().map(|(d, m)| (d, m, None)).collect();
    entries.extend(
        files
            .iter()
            .map(|(p, (m, data))| (p.trim_start_matches('/').to_owned(), *m, Some(&data[..]))),
    );
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    crate::deploy::archive::tar(&entries)
        .map_err(|e| OciError::Invalid(format!("writing the image: {e}")))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, OciError> {
    crate::deploy::archive::gzip(bytes, flate2::Compression::default())
        .map_err(|e| OciError::Invalid(format!("compressing the layer: {e}")))
}

/// The media types of a manifest and its descriptors: OCI image-spec v1, or Docker's image
/// manifest v2 schema 2 (which some registries, Heroku's among them, require). The blobs are the
/// same bytes in both; only the manifest that points at them differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Oci,
    Docker,
}

impl ManifestFormat {
    /// The manifest's own media type (its `Content-Type` when pushed).
    pub fn manifest_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => "application/vnd.oci.image.manifest.v1+json",
            ManifestFormat::Docker => "application/vnd.docker.distribution.manifest.v2+json",
        }
    }

    fn config_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => "application/vnd.oci.image.config.v1+json",
            ManifestFormat::Docker => "application/vnd.docker.container.image.v1+json",
        }
    }

    fn layer_type(self) -> &'static str {
        match self {
            ManifestFormat::Oci => "application/vnd.oci.image.layer.v1.tar+gzip",
            ManifestFormat::Docker => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        }
    }
}

/// One content-addressed blob of an image.
#[derive(Debug, Clone)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    pub data: Vec<u8>,
}

impl Blob {
    fn of(data: Vec<u8>) -> Blob {
        Blob { digest: format!("sha256:{}", sha256_hex(&data)), data }
    }

    /// The hex part of the digest (the file name under `blobs/sha256/`).
    fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// A built image as data: its config and its one layer, from which the manifest (in either
/// format), the archive of [`build`] and a registry push ([`crate::deploy::registry`]) are made.
#[derive(Debug, Clone)]
pub struct Built {
    /// The config JSON; its digest is the image id (`docker inspect --format {{.Id}}`).
    pub config: Blob,
    /// The gzipped layer tar.
    pub layer: Blob,
}

impl Built {
    /// The manifest in `format`, as the bytes to store or push.
    pub fn manifest(&self, format: ManifestFormat) -> Result<Vec<u8>, OciError> {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": format.manifest_type(),
            "config": {
                "mediaType": format.config_type(),
                "digest": self.config.digest,
                "size": self.config.data.len(),
            },
            "layers": [{
                "mediaType": format.layer_type(),
                "digest": self.layer.digest,
                "size": self.layer.data.len(),
            }],
        });
        serde_json::to_vec(&manifest).map_err(|e| OciError::Invalid(e.to_string()))
    }

    /// The blobs a manifest points at, config first.
    pub fn blobs(&self) -> [&Blob; 2] {
        [&self.config, &self.layer]
    }
}

/// Builds the image's config and layer. The executable's name must be one plain path
/// component, and no two files of the layer may take the same path (the executable and a
/// runtime file, a file where a directory goes): either would silently lose a file.
pub fn image(image: &Image, runtime: &BTreeMap<String, Vec<u8>>) -> Result<Built, OciError> {
    let name = &image.name;
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(OciError::Invalid(format!(
            "'{name}' is not a file name the image can hold as /app/NAME"
        )));
    }
    let mut files = Files::new();
    for (path, bytes) in runtime {
        add(&mut files, path, 0o755, bytes.clone(), "the runtime file")?;
    }
    add(
        &mut files,
        &format!("/app/{name}"),
        0o555,
        image.binary.clone(),
        &format!("the executable '{name}'"),
    )?;
    let layer_tar = tar_of(&files, &[("tmp/", 0o1777)])?;
    let layer = gzip(&layer_tar)?;
    let diff_id = sha256_hex(&layer_tar);
    let mut run = serde_json::json!({
        "Entrypoint": [format!("/app/{}", image.name)],
        "Env": [format!("PORT={}", image.port)],
        "ExposedPorts": { format!("{}/tcp", image.port): {} },
        "WorkingDir": "/app",
    });
    if !image.cmd.is_empty() {
        run["Cmd"] = serde_json::json!(image.cmd);
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": run,
        "rootfs": { "type": "layers", "diff_ids": [format!("sha256:{diff_id}")] },
        "history": [{ "created_by": "bundle oci" }],
    });
    let config = serde_json::to_vec(&config).map_err(|e| OciError::Invalid(e.to_string()))?;
    Ok(Built { config: Blob::of(config), layer: Blob::of(layer) })
}

/// Builds the image archive: [`image`], then [`archive`] with the image's tag.
pub fn build(image_of: &Image, runtime: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, OciError> {
    archive(&image(image_of, runtime)?, &image_of.tag)
}

/// The archive of a built image, tagged `tag` (`repository:tag`): an OCI layout whose index
/// points at the OCI manifest, and a docker-archive `manifest.json` over the same blobs.
pub fn archive(built: &Built, tag: &str) -> Result<Vec<u8>, OciError> {
    let manifest = Blob::of(built.manifest(ManifestFormat::Oci)?);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest.digest,
            "size": manifest.data.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag.rsplit_once(':').map_or("latest", |(_, t)| t), "io.containerd.image.name": tag },
        }],
    });
    let docker = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", built.config.hex()),
        "RepoTags": [tag],
        "Layers": [format!("blobs/sha256/{}", built.layer.hex())],
    }]);
    let mut out = Files::new();
    out.insert("oci-layout".into(), (0o644, br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    out.insert(
        "index.json".into(),
        (0o644, serde_json::to_vec(&index).map_err(|e| OciError::Invalid(e.to_string()))?),
    );
    out.insert(
        "manifest.json".into(),
        (0o644, serde_json::to_vec(&docker).map_err(|e| OciError::Invalid(e.to_string()))?),
    );
    for blob in [&built.config, &manifest, &built.layer] {
        out.insert(format!("blobs/sha256/{}", blob.hex()), (0o644, blob.data.clone()));
    }
    tar_of(&out, &[])
}

/// Checks a `repository:tag` reference (lowercase repository path, tag of `[\w][\w.-]{0,127}`).
pub fn valid_tag(tag: &str) -> bool {
    let (repo, t) =
        tag.rsplit_once(':').filter(|(r, _)| !r.ends_with('/')).unwrap_or((tag, "latest"));
    let repo_ok = !repo.is_empty()
        && repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
    let tag_ok = !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    repo_ok && tag_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(valid_tag("server:latest"));
        assert!(valid_tag("registry.heroku.com/my-app/web"));
        assert!(!valid_tag("Server:1"));
        assert!(!valid_tag("server:"));
        assert!(!valid_tag(""));
    }
}
