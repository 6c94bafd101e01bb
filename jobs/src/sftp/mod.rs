//! The SFTP source: a small client on `russh` + `russh-sftp` that prep uses
//! to list a directory and procurement to download the listed files.
//!
//! - [`host_key`]: the pinned server key (`source.host_key`).
//! - [`secret`]: the private key from Secrets Manager.
//! - [`client`]: connect (time-limited), check the host key, authenticate,
//!   list, stat, open.
//! - [`download`]: one file into `data/`, atomic, resumed after a drop.
//! - [`glob`]: `source.glob` on file names.
//!
//! Exit codes: a host key that is not the pinned one or a bad setting is
//! 78, a refused key or file 77, a missing file 66, a file that changed
//! since the listing 65, and a connection that cannot be made or keeps
//! dropping 75.

pub mod client;
pub mod download;
pub mod glob;
pub mod host_key;
pub mod secret;

pub use client::{RemoteFile, Session, SftpClient, remote_path};
pub use download::download;
