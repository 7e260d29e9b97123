//! LuaRocks projects (issue 16): a rockspec and the trees its dependencies are installed in.
//!
//! - [`rockspec`]: a rockspec evaluated in the sandbox of [`eval`] and read into a
//!   [`rockspec::Rockspec`]: its modules (Lua files, C sources with their flags), commands,
//!   dependencies and the external libraries found on this machine, with the `platforms`
//!   overrides merged as LuaRocks merges them on Linux;
//! - [`version`]: LuaRocks' version numbers, constraints (`>=`, `~>`, ...) and dependency
//!   strings;
//! - [`manifest`]: what a LuaRocks tree has installed (`lib/luarocks/rocks-5.1/manifest`): which
//!   rock provides a module, which versions of a rock are there, whether a rockspec's
//!   dependencies are met;
//! - [`generate`]: the other direction, a `builtin` rockspec written for a program;
//! - [`cbuild`]: a rockspec's C modules compiled with this machine's C compiler;
//! - [`luarocks`]: the real `luarocks`, run to install a project's dependencies.
//!
//! All but `cbuild` and `luarocks` read and write plain data. They read LuaRocks' files as
//! LuaRocks 3 does (re-implemented from its source, cited where it matters). The layer may
//! import `base` and `graph` (tests/architecture.rs).

pub mod cbuild;
pub mod eval;
pub mod generate;
pub mod luarocks;
pub mod manifest;
pub mod rockspec;
pub mod version;
