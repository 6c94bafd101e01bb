//! The Runtime API for sync tests and benches: push an event, wait for the
//! function's outcome, see when it first asked for work. It runs the async
//! core on its own runtime, so it works inside or outside an async test.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

use super::core::{self, FunctionReply, RuntimeApiConfig};

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// POST .../response with this JSON (null if it was not JSON).
    Response(Value),
    /// POST .../error with `errorType` / `errorMessage` (empty if absent).
    Error { error_type: String, error_message: String },
}

impl Outcome {
    pub fn from_reply(reply: &FunctionReply) -> Self {
        match reply {
            FunctionReply::Response(body) => {
                Outcome::Response(serde_json::from_slice(body).unwrap_or(Value::Null))
            }
            FunctionReply::Error(body) => {
                let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let text = |key: &str| body[key].as_str().unwrap_or_default().to_string();
                Outcome::Error { error_type: text("errorType"), error_message: text("errorMessage") }
            }
        }
    }

    pub fn response(&self) -> &Value {
        match self {
            Outcome::Response(v) => v,
            Outcome::Error { error_type, error_message } => {
                panic!("expected a response, got {error_type}: {error_message}")
            }
        }
    }

    pub fn error_type(&self) -> &str {
        match self {
            Outcome::Error { error_type, .. } => error_type,
            Outcome::Response(v) => panic!("expected an error, got {v}"),
        }
    }

    pub fn error_message(&self) -> &str {
        match self {
            Outcome::Error { error_message, .. } => error_message,
            Outcome::Response(v) => panic!("expected an error, got {v}"),
        }
    }
}

/// The stand-in. Dropping it stops the listener and its connections; a
/// function blocked in `next` sees its connection close.
pub struct RuntimeApi {
    api: core::RuntimeApi,
    runtime: Option<Runtime>,
    waiting: Mutex<HashMap<String, oneshot::Receiver<FunctionReply>>>,
    answered: Mutex<HashMap<String, Outcome>>,
}

impl RuntimeApi {
    /// For a function named `test` in us-east-1, deadlines 5 minutes out.
    pub fn start() -> std::io::Result<Self> {
        Self::start_with(RuntimeApiConfig {
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:test".into(),
            deadline: Duration::from_secs(300),
            request_id_prefix: "req".into(),
        })
    }

    pub fn start_with(config: RuntimeApiConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testkit-lambda-runtime")
            .enable_all()
            .build()?;
        let api = block_on(runtime.handle(), core::RuntimeApi::start(config))?;
        Ok(RuntimeApi { api, runtime: Some(runtime), waiting: Mutex::default(), answered: Mutex::default() })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.api.host_port()
    }

    /// Queues an event; returns its request id.
    pub fn push(&self, event: Value) -> String {
        let pending = self.api.queue(event);
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).insert(pending.id.clone(), pending.reply);
        pending.id
    }

    /// Waits up to `limit` for the outcome of `id` (asked again, the same
    /// outcome).
    pub fn wait(&self, id: &str, limit: Duration) -> Option<Outcome> {
        if let Some(outcome) = self.answered.lock().unwrap_or_else(PoisonError::into_inner).get(id) {
            return Some(outcome.clone());
        }
        let mut reply = self.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(id)?;
        match block_on(self.handle()?, async { tokio::time::timeout(limit, &mut reply).await }) {
            Ok(Ok(reply)) => {
                let outcome = Outcome::from_reply(&reply);
                self.answered
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_string(), outcome.clone());
                Some(outcome)
            }
            // The stand-in refused or lost the reply slot: no outcome ever.
            Ok(Err(_)) => None,
            Err(_) => {
                self.waiting.lock().unwrap_or_else(PoisonError::into_inner).insert(id.to_string(), reply);
                None
            }
        }
    }

    /// Queues `event` and waits (60 s at most) for its outcome.
    pub fn invoke(&self, event: Value) -> Outcome {
        let id = self.push(event);
        self.wait(&id, Duration::from_secs(60)).unwrap_or_else(|| panic!("no answer to {id} within 60 s"))
    }

    /// When the function first asked for an event (waits up to `limit`).
    pub fn wait_first_next(&self, limit: Duration) -> Option<Instant> {
        block_on(self.handle()?, async { tokio::time::timeout(limit, self.api.first_next()).await })
            .ok()
            .flatten()
    }

    /// How many times the function asked for an event.
    pub fn next_calls(&self) -> u64 {
        self.api.next_calls()
    }

    /// A POSTed init error, if any.
    pub fn init_error(&self) -> Option<String> {
        self.api.init_error()
    }

    fn handle(&self) -> Option<&Handle> {
        self.runtime.as_ref().map(Runtime::handle)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Dropping a runtime inside an async test would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs `future` to completion on `runtime` from a thread of its own, so
/// the caller may itself be inside an async runtime (where blocking on
/// another would panic). A timer in `future` must be made inside it (an
/// `async` block), where it finds `runtime`'s clock.
fn block_on<F>(runtime: &Handle, future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| runtime.block_on(future))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
