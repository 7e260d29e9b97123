//! The leaves every stage may use: Lua's naming rules and built-ins (`lua`), the target's
//! facts (`target`, `stub`, `native`), diagnostics, checked inputs, clean-up on interruption,
//! tables, the runtime's own Lua files. They import nothing of the pipeline.

pub mod cleanup;
pub mod diag;
pub mod input;
pub mod lua;
pub mod native;
pub mod remap;
pub mod runtime_lua;
pub mod shell;
pub mod size;
pub mod stub;
pub mod table;
pub mod target;
