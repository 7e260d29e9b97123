//! Builds the host stub (`runtime/`, binary `bundle-stub`) and hands its path to the bundler,
//! which embeds it with `include_bytes!`: the installed `bundle` then needs no other file.
//!
//! The stub is built by a nested `cargo build --profile stub` into a target directory of its
//! own (sharing the outer one would deadlock on its lock). `BUNDLE_STUB` names a prebuilt stub
//! instead, e.g. for packaging or cross builds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BUNDLE_STUB");
    if let Some(stub) = env::var_os("BUNDLE_STUB") {
        println!("cargo:rerun-if-changed={}", Path::new(&stub).display());
        println!("cargo:rustc-env=BUNDLE_EMBEDDED_STUB={}", Path::new(&stub).display());
        return;
    }
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    for watched in ["runtime/src", "runtime/lua", "runtime/Cargo.toml", "Cargo.toml", "Cargo.lock"]
    {
        println!("cargo:rerun-if-changed={}", manifest_dir.join(watched).display());
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: share one stub build between the
    // debug and release builds of the bundler by placing it beside the profiles.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("stub-build"))
        .unwrap_or_else(|| out_dir.join("stub-build"));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&manifest_dir)
        .args(["build", "--quiet", "--package", "bundle-runtime", "--bin", "bundle-stub"])
        .args(["--profile", "stub", "--target-dir"])
        .arg(&target_dir);
    if let Ok(target) = env::var("TARGET") {
        cmd.args(["--target", &target]);
    }
    // What the outer build set up for itself must not leak into the stub's build.
    for var in
        ["RUSTC_WORKSPACE_WRAPPER", "RUSTC_WRAPPER", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"]
    {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_ENCODED_RUSTFLAGS")
            || key.starts_with("CARGO_PROFILE_")
            || key == "RUSTFLAGS"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    // Partial RELRO and lazy binding, as Debian links `luajit` (see runtime/build.rs): `-z now`
    // resolves every imported symbol before `main`, a tenth of a short program's run.
    cmd.env("CARGO_ENCODED_RUSTFLAGS", "-Crelro-level=partial");
    let status = cmd.status().expect("running cargo to build the stub");
    assert!(status.success(), "building the stub runtime failed (see the errors above)");
    let target = env::var("TARGET").unwrap_or_default();
    let stub = target_dir.join(&target).join("stub").join("bundle-stub");
    assert!(stub.is_file(), "the stub build did not produce {}", stub.display());
    println!("cargo:rustc-env=BUNDLE_EMBEDDED_STUB={}", stub.display());
}
