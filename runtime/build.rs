//! Link settings of the stub.
//!
//! Lazy binding (`-z lazy`, as Debian builds `luajit`): with `-z now` the dynamic loader resolves
//! every imported symbol before `main`, most of which a short program never calls; that costs
//! about a tenth of a `hello` run (callgrind: 563k → 502k instructions). The price is the
//! partial RELRO that luajit also has; the bundler's build.rs builds the stub with
//! `-C relro-level=partial`, without which rustc's `-z now` wins over this flag.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,lazy");
    }
}
