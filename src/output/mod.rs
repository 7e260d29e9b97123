//! The output stage: one [`program::Program`] rendered by a back end, an executable (`pack` the
//! payload, `emit` it onto the stub) or one C file (`emit_c`). Every write goes through
//! [`emit::write_with`], which never replaces an input and leaves nothing partial.

pub mod bom;
pub mod emit;
pub mod emit_c;
pub mod linkage;
pub mod pack;
pub mod program;
