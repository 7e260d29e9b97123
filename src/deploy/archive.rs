//! Deterministic tar and gzip for what `bundle` ships (Heroku slugs, OCI layers and images):
//! entries get zero times, owners and names, and the names are written exactly as given (the tar
//! crate's path setter would drop the leading `./` that Heroku's slug layout has).

/// A tar header for `name` (at most 99 bytes), written as is.
pub fn header(
    name: &str,
    mode: u32,
    size: u64,
    kind: tar::EntryType,
) -> Result<tar::Header, String> {
    let mut h = tar::Header::new_gnu();
    let field = &mut h.as_old_mut().name;
    if name.len() >= field.len() {
        return Err(format!("file name too long for the archive: {name}"));
    }
    field[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    let _ = h.set_username("");
    let _ = h.set_groupname("");
    h.set_cksum();
    Ok(h)
}

/// One entry to write: name, mode, contents (`None` for a directory).
pub type Entry<'a> = (String, u32, Option<&'a [u8]>);

/// A tar of `entries`, in the order given.
pub fn tar(entries: &[Entry]) -> Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, mode, data) in entries {
        let (kind, size) = match data {
            None => (tar::EntryType::Directory, 0),
            Some(d) => (tar::EntryType::Regular, d.len() as u64),
        };
        tar.append(&header(name, *mode, size, kind)?, data.unwrap_or_default())
            .map_err(|e| e.to_string())?;
    }
    tar.into_inner().map_err(|e| e.to_string())
}

/// gzip without a time stamp in the header.
pub fn gzip(bytes: &[u8], level: flate2::Compression) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), level);
    gz.write_all(bytes).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_kept_and_output_is_reproducible() {
        let entries = vec![
            ("./app/".to_owned(), 0o755, None),
            ("./app/x".to_owned(), 0o644, Some(&b"x"[..])),
        ];
        let a =
            super::gzip(&super::tar(&entries).unwrap(), flate2::Compression::default()).unwrap();
        assert_eq!(
            a,
            super::gzip(&super::tar(&entries).unwrap(), flate2::Compression::default()).unwrap()
        );
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&a[..]));
        let names: Vec<Vec<u8>> =
            archive.entries().unwrap().map(|e| e.unwrap().path_bytes().into_owned()).collect();
        assert_eq!(names, vec![b"./app/".to_vec(), b"./app/x".to_vec()]);
        assert!(super::header(&"x".repeat(100), 0, 0, tar::EntryType::Regular).is_err());
    }
}
