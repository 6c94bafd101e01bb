//! A stand-in for the Lambda Runtime API (2018-06-01) on 127.0.0.1, the
//! API a function's `bootstrap` polls: `GET /runtime/invocation/next` is
//! held until an invocation is queued (as Lambda does), and what the
//! function POSTs to `/response` or `/error` goes back to whoever queued
//! it; `/init/error` is kept and logged.
//!
//! - [`RuntimeApi`]: the async core (the local runner's functions);
//! - [`blocking::RuntimeApi`]: push/wait/invoke for sync tests and benches.

pub mod blocking;
mod core;

pub use self::core::{FunctionReply, Pending, RuntimeApi, RuntimeApiConfig};
pub use blocking::Outcome;
