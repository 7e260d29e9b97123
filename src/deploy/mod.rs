//! After the build: deploying an executable to Heroku (`heroku`, `stacks`) or as a container
//! image (`oci`), with the deterministic archives they need (`archive`).

pub mod archive;
pub mod heroku;
pub mod oci;
pub mod stacks;
