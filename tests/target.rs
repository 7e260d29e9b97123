//! The `Target` of a build (issue 14): every fact about the machine the output runs on comes
//! from the stub, once per build. Here: the `jit.*` tools an interpreter ships are those of the
//! stub's own VM, and a `--stub` whose LuaJIT is another one gets none (with a warning),
//! rather than tools whose `jit.vmdef` refuses to load.

mod common;

use std::process::Command;

use common::*;

/// The embedded stub with its `.bundle_luajit` version marker changed by one character.
fn stub_of_another_luajit() -> Vec<u8> {
    let mut stub = bundle::base::stub::EMBEDDED.to_vec();
    let version = bundle::base::stub::luajit_of(&stub);
    assert!(version.starts_with("LuaJIT 2.1."), "the embedded stub names its VM: {version:?}");
    let at = {
        use object::{Object, ObjectSection};
        let file = object::File::parse(stub.as_slice()).expect("an ELF file");
        let section = file.section_by_name(".bundle_luajit").expect("the marker section");
        section.file_range().expect("the marker is in the file").0 as usize
    };
    assert_eq!(&stub[at..at + version.len()], version.as_bytes());
    let last = at + version.len() - 1;
    stub[last] = if stub[last] == b'0' { b'1' } else { b'0' };
    assert_ne!(bundle::base::stub::luajit_of(&stub), version);
    stub
}

#[test]
fn an_interpreter_gets_the_jit_tools_of_its_own_vm_only() {
    let dir = tempdir();
    let d = dir.path();
    write_exe(&d.join("same.stub"), bundle::base::stub::EMBEDDED);
    write_exe(&d.join("other.stub"), &stub_of_another_luajit());

    // The same VM through --stub: the tools travel, -jv works as in luajit.
    let r = bundle(d, &["--stub", "same.stub", "-o", "same"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("jit.* tools"), "{}", r.stderr);
    let v = run(Command::new(d.join("same")).args(["-jv", "-e", "for i = 1, 100 do end"]));
    assert_eq!(v.code, 0, "{v:?}");
    assert!(v.stderr.contains("[TRACE   1"), "{v:?}");

    // Another VM: a warning that names both versions, and no tool in the executable.
    let r = bundle(d, &["--stub", "other.stub", "-o", "other"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("is not the LuaJIT this bundle was built with")
            && r.stderr.contains("the interpreter gets no jit.* tools"),
        "{}",
        r.stderr
    );
    let listed = run(Command::new(bundle_bin()).args(["inspect", "--json"]).arg(d.join("other")));
    assert_eq!(listed.code, 0, "{listed:?}");
    assert!(!listed.stdout.contains("\"jit.v\""), "{}", listed.stdout);
    let same = run(Command::new(bundle_bin()).args(["inspect", "--json"]).arg(d.join("same")));
    assert!(same.stdout.contains("\"jit.v\""), "{}", same.stdout);
    // Without its tools, -jv fails the way a luajit installed without them does.
    let v = run(Command::new(d.join("other")).args(["-jv", "-e", "print(1)"]));
    assert_eq!(v.code, 1, "{v:?}");
    assert!(v.stderr.contains("unknown luaJIT command or jit.* modules not installed"), "{v:?}");
}

#[test]
fn the_target_is_the_stubs_machine() {
    let target = bundle::base::stub::target(
        &bundle::base::target::StubChoice::Embedded,
        bundle::base::target::Store::Source,
    )
    .expect("the embedded stub");
    let expected = match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        other => panic!("add the multiarch tuple of {other} to this test"),
    };
    assert_eq!(target.multiarch, expected);
    assert!(target.jit_tools, "the embedded stub's tools are its own");
    let usr_lib = std::path::Path::new("/usr/lib").join(expected);
    assert!(target.libraries.system.contains(&usr_lib), "{:?}", target.libraries);
}

/// A stub reads one payload format, and says which in its marker: a `--stub` of another format
/// is refused at bundle time, naming the file, instead of making an executable it would refuse.
#[test]
fn a_stub_of_another_payload_format_is_refused() {
    let mut stub = bundle::base::stub::EMBEDDED.to_vec();
    let marker = bundle_runtime::STUB_MARKER;
    assert_eq!(marker[15] as u16, bundle_runtime::format::VERSION);
    let at = stub.windows(marker.len()).position(|w| w == marker).expect("the marker");
    stub[at + 15] -= 1;
    let dir = app(&[("main.lua", "print(1)\n")]);
    write_exe(&dir.path().join("old.stub"), &stub);
    let r = bundle(dir.path(), &["main.lua", "--stub", "old.stub", "-o", "app"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("old.stub") && r.stderr.contains("another payload format version"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("app").exists());
}
