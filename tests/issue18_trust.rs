//! Issue 18, points 1 and 2: whole-file integrity (the IMAGE_HASH record) and Ed25519
//! signatures (`--sign`, `bundle sign`, `verify --key`), with keys made by the real
//! `ssh-keygen`. Every region of the file is damaged in turn and `verify` must name it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn built(dir: &Path) -> PathBuf {
    write_tree(dir, &[("main.lua", "print('hello from ' .. (arg[0] or '?'))\n")]);
    let r = bundle(dir, &["main.lua", "-o", "app", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir.join("app")
}

fn keygen(dir: &Path, name: &str, kind: &str, pass: &str) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", pass, "-C", "test", "-f"]).arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "ssh-keygen: {}", r.stderr);
    path
}

fn pub_of(key: &Path) -> PathBuf {
    key.with_extension("pub")
}

fn verify(file: &Path, key: Option<&Path>) -> Run {
    let mut cmd = Command::new(bundle_bin());
    cmd.arg("verify").arg(file);
    if let Some(k) = key {
        cmd.arg("--key").arg(k);
    }
    run(&mut cmd)
}

fn sign(file: &Path, key: &Path) -> Run {
    run(Command::new(bundle_bin()).arg("sign").arg(file).arg("--key").arg(key))
}

/// A copy of `image` with one byte flipped at `at`, as `name`.
fn damaged(dir: &Path, image: &[u8], name: &str, at: usize) -> PathBuf {
    let mut bytes = image.to_vec();
    bytes[at] ^= 0x40;
    let path = dir.join(name);
    write_exe(&path, &bytes);
    path
}

fn section(image: &[u8], name: &str) -> (usize, usize) {
    let elf = goblin::elf::Elf::parse(image).unwrap();
    let s = elf
        .section_headers
        .iter()
        .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(name))
        .unwrap_or_else(|| panic!("the stub has {name}"));
    (s.sh_offset as usize, s.sh_size as usize)
}

fn assert_names(r: &Run, region: &str) {
    assert_eq!(r.code, 1, "{region}: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(region), "expected {region:?} in: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn issue18_verify_names_every_damaged_region() {
    let dir = tempdir();
    let app = built(dir.path());
    let ok = verify(&app, None);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains(": ok (1 entries") && ok.stdout.contains("image sha256"),
        "{}",
        ok.stdout
    );
    let image = std::fs::read(&app).unwrap();
    let elf = goblin::elf::Elf::parse(&image).unwrap();
    let (phoff, shoff) = (elf.header.e_phoff as usize, elf.header.e_shoff as usize);
    let (payload_at, payload_len) = section(&image, ".bundle");
    let mut cases = vec![
        // e_entry: the file still parses, so only the hash can tell.
        (0x18, "ELF header (bytes 0x0..0x40) changed"),
        // The first program header's p_align.
        (phoff + 0x37, "program headers"),
        // The second section header's sh_addralign.
        (shoff + 64 + 0x30, "section header table"),
        (payload_at + payload_len / 2, "damaged: the payload (bytes"),
    ];
    let text = section(&image, ".text");
    cases.push((text.0 + text.1 / 2, "section .text ("));
    let rodata = section(&image, ".rodata");
    cases.push((rodata.0 + rodata.1 / 2, "section .rodata ("));
    let data = section(&image, ".data");
    cases.push((data.0 + data.1 / 2, "section .data ("));
    for (i, (at, region)) in cases.into_iter().enumerate() {
        let file = damaged(dir.path(), &image, &format!("damaged{i}"), at);
        assert_names(&verify(&file, None), region);
    }
    // Bytes appended to the file.
    let mut longer = image.clone();
    longer.extend_from_slice(b"junk");
    let file = dir.path().join("longer");
    write_exe(&file, &longer);
    assert_names(&verify(&file, None), "4 bytes were appended after the end of the file");
    // Cut short: the section header table is gone.
    let file = dir.path().join("shorter");
    write_exe(&file, &image[..image.len() - 100]);
    assert_names(&verify(&file, None), "section header table (bytes");
    // inspect shows the hash and whether it holds.
    let r = run(Command::new(bundle_bin()).args(["inspect", "--json"]).arg(&app));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["integrity"]["image_hash"].as_str().unwrap().len(), 64);
    assert_eq!(v["integrity"]["image_hash_ok"], true);
    assert!(v["integrity"]["signature"].is_null());
    let r = run(Command::new(bundle_bin()).arg("inspect").arg(&app));
    assert!(r.stdout.contains("image hash   sha256 "), "{}", r.stdout);
    assert!(r.stdout.contains("signature    none"), "{}", r.stdout);
}

#[test]
fn issue18_a_trailer_and_its_stub_are_named() {
    let dir = tempdir();
    let mut w = bundle_runtime::format::Writer::new(3);
    w.add(bundle_runtime::format::NewEntry {
        name: vec![],
        chunkname: b"@main.lua".to_vec(),
        kind: bundle_runtime::format::Kind::LuaSource,
        flags: 0,
        data: b"print(1)".to_vec(),
    });
    let (payload, _) = w.finish().unwrap();
    let image = bundle::trust::seal(b"#!/not/an/elf/stub\n", &payload).unwrap();
    let file = dir.path().join("trailer");
    write_exe(&file, &image);
    let ok = verify(&file, None);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // The end magic, then the length, of the footer at the end of the file.
    for (i, back) in [1, 10].into_iter().enumerate() {
        let file = damaged(dir.path(), &image, &format!("t{i}"), image.len() - back);
        assert_names(&verify(&file, None), "the trailer");
    }
    let file = damaged(dir.path(), &image, "t-stub", 3);
    assert_names(&verify(&file, None), "stub (bytes 0x0..0x13) changed");
    // A signature block after a trailer leaves the payload where the runtime finds it.
    let key = keygen(dir.path(), "k", "ed25519", "");
    let r = sign(&file.with_file_name("trailer"), &key);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify(&dir.path().join("trailer"), Some(&pub_of(&key)));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn issue18_sign_and_verify_round_trip() {
    let dir = tempdir();
    let app = built(dir.path());
    let key = keygen(dir.path(), "id_ed25519", "ed25519", "");
    let other = keygen(dir.path(), "other", "ed25519", "");
    // Unsigned, with --key: a clear failure.
    let r = verify(&app, Some(&pub_of(&key)));
    assert_names(&r, "is not signed");
    let unsigned = std::fs::read(&app).unwrap();
    let r = sign(&app, &key);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fingerprint = run(Command::new("ssh-keygen").arg("-lf").arg(pub_of(&key)));
    let fp = fingerprint.stdout.split_whitespace().nth(1).unwrap().to_owned();
    assert!(r.stdout.contains(&fp), "{} vs {fp}", r.stdout);
    let signed = std::fs::read(&app).unwrap();
    // The signature changed no byte before it: the image hash and the checksum still hold.
    assert_eq!(&signed[..unsigned.len()], &unsigned[..]);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&app).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o755);
    // It still runs, and verifies by the public key or the private key file.
    let out = run(&mut Command::new(&app));
    assert_eq!(out.stdout, format!("hello from {}\n", app.display()));
    for k in [pub_of(&key), key.clone()] {
        let r = verify(&app, Some(&k));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stdout.contains(&format!("signed by {fp}")), "{}", r.stdout);
    }
    // inspect shows the signer.
    let r = run(Command::new(bundle_bin()).args(["inspect", "--json"]).arg(&app));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["integrity"]["signature"]["fingerprint"], fp.as_str());
    // Signing again replaces the signature (one block, same length).
    let r = sign(&app, &other);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&app).unwrap().len(), signed.len());
    // A wrong key.
    assert_names(&verify(&app, Some(&pub_of(&key))), "signed by another key");
    let r = sign(&app, &key);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A tampered stub: found by the image hash...
    let (text, len) = section(&signed, ".text");
    let file = damaged(dir.path(), &signed, "stub-tampered", text + len / 3);
    assert_names(&verify(&file, Some(&pub_of(&key))), "section .text");
    // ... and by the signature when the tamperer also rewrote the image hash and checksum.
    let mut forged = std::fs::read(&file).unwrap();
    let (at, plen) = section(&forged, ".bundle");
    let old = bundle::trust::image_hash(&signed, at..at + plen);
    let new = bundle::trust::image_hash(&forged, at..at + plen);
    let payload = &mut forged[at..at + plen];
    let pos = payload.windows(32).position(|w| w == old).expect("the recorded hash");
    payload[pos..pos + 32].copy_from_slice(&new);
    bundle_runtime::format::reseal(payload).unwrap();
    let file = dir.path().join("forged");
    write_exe(&file, &forged);
    assert_eq!(verify(&file, None).code, 0, "the forgery is consistent without a key");
    assert_names(&verify(&file, Some(&pub_of(&key))), "the signature does not match");
    // A tampered payload.
    let file = damaged(dir.path(), &signed, "payload-tampered", at + plen / 2);
    assert_names(&verify(&file, Some(&pub_of(&key))), "the payload");
}

#[test]
fn issue18_sign_at_bundle_time() {
    let dir = tempdir();
    write_tree(dir.path(), &[("main.lua", "print('signed')\n")]);
    let key = keygen(dir.path(), "k", "ed25519", "");
    let r = bundle(dir.path(), &["main.lua", "-o", "app", "-q", "--sign", "k"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify(&dir.path().join("app"), Some(&pub_of(&key)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // An encrypted key: a passphrase from the environment, else a clear error and no output.
    keygen(dir.path(), "enc", "ed25519", "secret");
    let r = bundle(dir.path(), &["main.lua", "-o", "app2", "-q", "--sign", "enc"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("enc: the private key is encrypted"), "{}", r.stderr);
    assert!(r.stderr.contains("BUNDLE_KEY_PASSPHRASE"), "{}", r.stderr);
    assert!(!dir.path().join("app2").exists(), "nothing written");
    let mut cmd = bundle_cmd(dir.path(), &["main.lua", "-o", "app2", "-q", "--sign", "enc"]);
    let r = run(cmd.env("BUNDLE_KEY_PASSPHRASE", "secret"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verify(&dir.path().join("app2"), Some(&dir.path().join("enc.pub"))).code, 0);
    let mut cmd = bundle_cmd(dir.path(), &["main.lua", "-o", "app3", "-q", "--sign", "enc"]);
    let r = run(cmd.env("BUNDLE_KEY_PASSPHRASE", "wrong"));
    assert!(r.stderr.contains("does not decrypt"), "{}", r.stderr);
    assert!(!dir.path().join("app3").exists());
    // The key is an input: never the output.
    let r = bundle(dir.path(), &["main.lua", "-o", "k", "-q", "--sign", "k"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(std::fs::read_to_string(&key).unwrap().contains("OPENSSH PRIVATE KEY"));
}

#[test]
fn issue18_keys_that_are_not_ed25519_or_not_keys() {
    let dir = tempdir();
    let app = built(dir.path());
    let rsa = keygen(dir.path(), "rsa", "rsa", "");
    let ecdsa = keygen(dir.path(), "ecdsa", "ecdsa", "");
    for (key, found) in [
        (rsa.clone(), "is an RSA key (ssh-rsa), not an Ed25519 key"),
        (ecdsa.clone(), "is an ECDSA key (ecdsa-sha2-nistp256), not an Ed25519 key"),
    ] {
        let r = sign(&app, &key);
        assert_names(&r, &format!("{}: {found}", key.display()));
        let r = verify(&app, Some(&pub_of(&key)));
        assert_names(&r, found);
    }
    let text = dir.path().join("main.lua");
    assert_names(&sign(&app, &text), "not an OpenSSH key file");
    let ed = keygen(dir.path(), "ed", "ed25519", "");
    assert_names(&sign(&app, &pub_of(&ed)), "is a public key; signing needs the private key");
    assert_names(&sign(&app, &dir.path().join("missing")), "missing");
    // An encrypted key without a passphrase never prompts.
    let enc = keygen(dir.path(), "enc", "ed25519", "secret");
    let r = run(Command::new(bundle_bin())
        .arg("sign")
        .arg(&app)
        .arg("--key")
        .arg(&enc)
        .env_remove("BUNDLE_KEY_PASSPHRASE")
        .stdin(std::process::Stdio::null()));
    assert_names(&r, "the private key is encrypted and no passphrase is available");
    // A damaged executable is not signed, and not touched.
    let image = std::fs::read(&app).unwrap();
    let bad = damaged(dir.path(), &image, "bad", 0x18);
    let before = std::fs::read(&bad).unwrap();
    assert_names(&sign(&bad, &ed), "ELF header");
    assert_eq!(std::fs::read(&bad).unwrap(), before);
    // Not a bundle at all.
    assert_eq!(sign(&text, &ed).code, 1);
}
