//! One HTTP/1.1 server for every stand-in: 127.0.0.1 only, keep-alive
//! (until the client sends `Connection: close`), Content-Length and chunked
//! request bodies up to [`MAX_BODY`], 400 (and the connection closed) on a
//! request it cannot read.
//!
//! - [`serve`]: async handlers on the caller's tokio runtime (the local
//!   runner's Lambda Runtime API and Batch API, async tests);
//! - [`Server`]: a blocking facade for sync handlers, each request handled
//!   on a blocking thread so a handler may block (a long poll, a lock);
//! - [`post`], [`post_json`], [`send`]: one-shot blocking clients;
//! - [`Response::aws_json`], [`Response::aws_error`]: AWS's JSON protocol
//!   replies, for stand-ins of AWS services.

mod blocking;
mod client;
mod message;
mod server;
pub(crate) mod wire;

pub use blocking::Server;
pub use client::{post, post_json, send};
pub use message::{Request, Response};
pub use server::{serve, serve_listener};
pub use wire::MAX_BODY;
