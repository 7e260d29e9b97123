//! The Lua the runtime ships besides the program: the interpreter that an executable with no
//! main script runs (runtime/lua/interp.lua, `luajit`'s command line) and LuaJIT's own `jit.*`
//! tools (`jit.v`, `jit.dump`, `jit.p`, `jit.bcsave`, ...), taken from the very LuaJIT build the
//! stub links: their `jit.vmdef` is generated per VM and refuses any other.
//!
//! build.rs copies them out of that build (see there); they are embedded here so that `bundle`
//! needs no LuaJIT installation.

use include_dir::{include_dir, Dir};

static JIT: Dir<'static> = include_dir!("$OUT_DIR/luajit/jit");

/// `LUAJIT_VERSION " -- " LUAJIT_COPYRIGHT ". " LUAJIT_URL` of the stub's LuaJIT, as
/// `luajit -v` prints it; empty when build.rs had no LuaJIT build to read it from.
const BANNER: &str = include_str!(concat!(env!("OUT_DIR"), "/luajit/banner.txt"));

const INTERPRETER: &str = include_str!("../../runtime/lua/interp.lua");

/// The overlay that makes embedded files readable (docs/ASSETS.md), loaded by its boot when
/// the program first needs it.
const ASSETS: &str = include_str!("../../runtime/lua/assets.lua");

/// The overlay's boot, run at start-up by the host of a program with assets: stubs that load
/// the overlay on first use (issue 19).
const ASSETS_BOOT: &str = include_str!("../../runtime/lua/assets_boot.lua");

/// The asset overlay's source.
pub fn assets_source() -> Vec<u8> {
    ASSETS.as_bytes().to_vec()
}

/// The overlay boot's source.
pub fn assets_boot_source() -> Vec<u8> {
    ASSETS_BOOT.as_bytes().to_vec()
}

/// The version part of [`BANNER`] (`LuaJIT 2.1.1788856981`): what a stub's `.bundle_luajit`
/// marker must say for the embedded tools to be its VM's. Empty without a LuaJIT build.
pub fn luajit_version() -> &'static str {
    BANNER.split(" -- ").next().unwrap_or("")
}

/// The placeholder in interp.lua that receives [`BANNER`].
const BANNER_MARK: &str = "@LUAJIT_BANNER@";

/// The interpreter's source, with the stub's banner written in (same lines as the file, so
/// that a message from it points at the right line of runtime/lua/interp.lua).
pub fn interpreter_source() -> Vec<u8> {
    // The banner is a C string literal's contents; keep it only if it needs no escaping in Lua.
    let plain = BANNER.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    INTERPRETER.replacen(BANNER_MARK, if plain { BANNER } else { "" }, 1).into_bytes()
}

/// The source of runtime module `name` (`jit.v` → jit/v.lua), if the runtime ships it.
pub fn jit_module(name: &str) -> Option<&'static [u8]> {
    let file = name.strip_prefix("jit.").filter(|f| !f.contains(['.', '/']))?;
    JIT.get_file(format!("{file}.lua")).map(|f| f.contents())
}

/// Modules that runtime module `name` loads under a name computed at run time, for code of
/// ELF machine `machine`: `jit.dump` loads the disassembler of `jit.arch`, and the x64 one
/// builds on the x86 one.
pub fn computed_requires(name: &str, machine: u16) -> &'static [&'static str] {
    use goblin::elf::header as elf;
    match (name, machine) {
        ("jit.dump", elf::EM_X86_64) => &["jit.dis_x64"],
        ("jit.dump", elf::EM_386) => &["jit.dis_x86"],
        ("jit.dump", elf::EM_AARCH64) => &["jit.dis_arm64"],
        ("jit.dump", elf::EM_ARM) => &["jit.dis_arm"],
        ("jit.dump", elf::EM_PPC) => &["jit.dis_ppc"],
        ("jit.dis_x64", _) => &["jit.dis_x86"],
        _ => &[],
    }
}

/// The runtime modules an interpreter ships: every tool `-j` and `-b` can load, with what they
/// need for `machine`.
pub const INTERPRETER_TOOLS: &[&str] =
    &["jit.bc", "jit.bcsave", "jit.dump", "jit.p", "jit.v", "jit.vmdef", "jit.zone"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_and_the_banner_come_from_the_stub_luajit() {
        if BANNER.is_empty() {
            eprintln!("built with BUNDLE_STUB and no BUNDLE_LUAJIT_DIR: no tools to check");
            return;
        }
        for name in INTERPRETER_TOOLS {
            assert!(jit_module(name).is_some(), "{name} missing");
        }
        let vmdef = String::from_utf8_lossy(jit_module("jit.vmdef").unwrap()).into_owned();
        let version = BANNER.split(" -- ").next().unwrap();
        assert!(version.starts_with("LuaJIT 2.1"), "{BANNER}");
        assert!(vmdef.contains(&format!("== \"{version}\"")), "vmdef is for another VM");
        let src = String::from_utf8(interpreter_source()).unwrap();
        assert!(src.contains(BANNER) && !src.contains(BANNER_MARK));
        assert_eq!(src.lines().count(), INTERPRETER.lines().count());
        assert!(jit_module("jit.nosuch").is_none() && jit_module("jit.v.x").is_none());
        assert!(jit_module("jit.dis_x86").is_some());
    }
}
