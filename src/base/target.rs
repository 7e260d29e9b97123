//! What the output is built for: the stub it starts from, the machine it runs on, and how Lua
//! is stored in it (the bytecode flavour of that stub's LuaJIT). Plain data, importing nothing
//! of the pipeline; `stub::target` computes it once per build.

use std::borrow::Cow;
use std::path::PathBuf;

/// Every fact about the machine the output runs on, as one build sees it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The stub the output starts from, read and checked once.
    pub stub: Cow<'static, [u8]>,
    /// `e_machine` of the stub: native code must be built for it.
    pub machine: u16,
    /// The Debian multiarch tuple of that machine (`x86_64-linux-gnu`), which names the
    /// directories of its C modules (`/usr/lib/<multiarch>/lua/5.1`) and libraries; empty for
    /// a machine without one.
    pub multiarch: &'static str,
    /// Where the dynamic loader looks for libraries, read once per build.
    pub libraries: LibrarySearch,
    /// The `LuaJIT x.y.z` version of the stub's VM, from its marker.
    pub luajit: String,
    /// Whether the `jit.*` tools embedded in this bundler (`runtime_lua`) are that VM's: their
    /// `jit.vmdef` refuses any other VM. Without them, an interpreter has no `-jv`, `-jdump`
    /// or `-b`, as a luajit installed without its tools.
    pub jit_tools: bool,
    /// Whether the stub has a dynamic loader (`PT_INTERP`) and can load C modules.
    pub linkage: Linkage,
}

/// How an executable is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linkage {
    /// With the dynamic loader and the system's libc: loads C modules.
    Dynamic,
    /// glibc linked in, no `PT_INTERP`: runs with no library on the machine, loads no C code.
    Static,
}

impl std::fmt::Display for Linkage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Linkage::Dynamic => "dynamic",
            Linkage::Static => "static",
        })
    }
}

/// `--static`, `--dynamic`, or neither: which stub the build starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkChoice {
    /// Static when the program loads no C code (src/output/linkage.rs decides).
    #[default]
    Auto,
    Static,
    Dynamic,
}

/// The machine's part of the shared-library search (ld.so(8)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibrarySearch {
    /// `LD_LIBRARY_PATH`.
    pub env: Vec<PathBuf>,
    /// The directories of `/etc/ld.so.conf`, then the default and multiarch directories.
    pub system: Vec<PathBuf>,
}

/// The multiarch tuple of the machine `bundle` runs on (for what is looked up on this machine
/// before the stub is read: a rockspec's external libraries).
pub fn host_multiarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => multiarch_of(62),
        "aarch64" => multiarch_of(183),
        "x86" => multiarch_of(3),
        "arm" => multiarch_of(40),
        "riscv64" => multiarch_of(243),
        "powerpc64" => multiarch_of(21),
        "s390x" => multiarch_of(22),
        _ => "",
    }
}

/// The Debian multiarch tuple for ELF machine `machine`.
pub fn multiarch_of(machine: u16) -> &'static str {
    // e_machine values (elf.h).
    match machine {
        62 => "x86_64-linux-gnu",
        183 => "aarch64-linux-gnu",
        3 => "i386-linux-gnu",
        40 => "arm-linux-gnueabihf",
        243 => "riscv64-linux-gnu",
        21 => "powerpc64le-linux-gnu",
        22 => "s390x-linux-gnu",
        _ => "",
    }
}

/// How Lua units are stored in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// LuaJIT bytecode; `strip` drops debug info (line numbers, local names).
    Bytecode { strip: bool },
    /// The source text, syntax-checked.
    Source,
}

/// Which stub the executable starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubChoice {
    /// The stub built into this `bundle`.
    Embedded,
    /// The statically linked stub built into this `bundle`.
    EmbeddedStatic,
    /// A stub file given with `--stub`.
    File(PathBuf),
}
