//! The async Runtime API: queued invocations, in-flight replies, and what
//! the function did (how often it asked for work, when first, init error).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::http::{self, Request, Response};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// What the function is told about itself with each invocation.
#[derive(Debug, Clone)]
pub struct RuntimeApiConfig {
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// How long after handing an invocation out its deadline is
    /// (`Lambda-Runtime-Deadline-Ms`).
    pub deadline: Duration,
    /// Request ids are `{prefix}-{n:08}`, n from 0.
    pub request_id_prefix: String,
}

/// What the function POSTed for one invocation, body as sent.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionReply {
    /// `POST .../{id}/response`.
    Response(Vec<u8>),
    /// `POST .../{id}/error`.
    Error(Vec<u8>),
}

/// A queued invocation: its request id, and where its reply will arrive
/// (closed without a reply if the stand-in stops or the id is forgotten).
pub struct Pending {
    pub id: String,
    pub reply: oneshot::Receiver<FunctionReply>,
}

struct Invocation {
    id: String,
    payload: Value,
    reply: oneshot::Sender<FunctionReply>,
}

struct Shared {
    config: RuntimeApiConfig,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<FunctionReply>>>,
    next_calls: AtomicU64,
    first_next: watch::Sender<Option<Instant>>,
    init_error: Mutex<Option<String>>,
}

/// The stand-in, serving until dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    send: mpsc::UnboundedSender<Invocation>,
    shared: Arc<Shared>,
    seq: AtomicU64,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.stop();
    }
}

impl RuntimeApi {
    /// Serves on a free 127.0.0.1 port, on the current tokio runtime.
    pub async fn start(config: RuntimeApiConfig) -> std::io::Result<Self> {
        let (send, receive) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            queue: tokio::sync::Mutex::new(receive),
            in_flight: Mutex::new(HashMap::new()),
            next_calls: AtomicU64::new(0),
            first_next: watch::Sender::new(None),
            init_error: Mutex::new(None),
        });
        let serving = shared.clone();
        let (addr, server) = http::serve(move |request| handle(serving.clone(), request)).await?;
        Ok(RuntimeApi { addr, send, shared, seq: AtomicU64::new(0), server })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Stops serving (as dropping does): the listener and every
    /// connection close.
    pub fn stop(&self) {
        self.server.abort();
    }

    /// Queues `payload` for the function's next `GET next`.
    pub fn queue(&self, payload: Value) -> Pending {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n:08}", self.shared.config.request_id_prefix);
        let (reply, answer) = oneshot::channel();
        // The receiver lives in `shared`, which this struct holds: the send
        // cannot fail while `self` exists.
        let _ = self.send.send(Invocation { id: id.clone(), payload, reply });
        Pending { id, reply: answer }
    }

    /// Drops the reply slot of `id` (its function died): a late POST for
    /// it is refused.
    pub fn forget(&self, id: &str) {
        if let Ok(mut in_flight) = self.shared.in_flight.lock() {
            in_flight.remove(id);
        }
    }

    /// How many times the function asked for an invocation.
    pub fn next_calls(&self) -> u64 {
        self.shared.next_calls.load(Ordering::Relaxed)
    }

    /// When the function first asked for an invocation, once it has
    /// (`None` only if the stand-in stopped first).
    pub async fn first_next(&self) -> Option<Instant> {
        let mut seen = self.shared.first_next.subscribe();
        seen.wait_for(Option::is_some).await.ok().and_then(|at| *at)
    }

    /// The body of a POSTed init error, if any.
    pub fn init_error(&self) -> Option<String> {
        self.shared.init_error.lock().ok().and_then(|e| e.clone())
    }
}

async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let path = request.path().to_string();
    let path = path.as_str();
    let Request { method, body, .. } = request;
    match method.as_str() {
        "GET" if path == NEXT => next(&shared).await,
        "POST" if path == INIT_ERROR => {
            let body = String::from_utf8_lossy(&body).into_owned();
            tracing::error!(body = %body, "function init error");
            if let Ok(mut init_error) = shared.init_error.lock() {
                *init_error = Some(body);
            }
            accepted()
        }
        "POST" => match path.strip_prefix(INVOCATION).and_then(|rest| rest.split_once('/')) {
            Some((id, "response")) => reply(&shared, id, FunctionReply::Response(body)),
            Some((id, "error")) => reply(&shared, id, FunctionReply::Error(body)),
            _ => not_found(),
        },
        _ => not_found(),
    }
}

/// Holds the request until an invocation is queued, then hands it out.
async fn next(shared: &Shared) -> Response {
    shared.next_calls.fetch_add(1, Ordering::Relaxed);
    shared.first_next.send_if_modified(|first| {
        let is_first = first.is_none();
        if is_first {
            *first = Some(Instant::now());
        }
        is_first
    });
    let invocation = shared.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return Response::json(500, &json!({"errorMessage": "runtime API shutting down"}));
    };
    let deadline_ms = SystemTime::now()
        .checked_add(shared.config.deadline)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let response = Response::json(200, &invocation.payload)
        .with_header("Lambda-Runtime-Aws-Request-Id", &invocation.id)
        .with_header("Lambda-Runtime-Deadline-Ms", &deadline_ms.to_string())
        .with_header("Lambda-Runtime-Invoked-Function-Arn", &shared.config.function_arn)
        .with_header("Lambda-Runtime-Trace-Id", &format!("Root=1-local-{}", invocation.id));
    if let Ok(mut in_flight) = shared.in_flight.lock() {
        in_flight.insert(invocation.id, invocation.reply);
    }
    response
}

fn reply(shared: &Shared, id: &str, posted: FunctionReply) -> Response {
    let waiting = shared.in_flight.lock().ok().and_then(|mut in_flight| in_flight.remove(id));
    let Some(waiting) = waiting else {
        return Response::json(400, &json!({"errorMessage": "unknown request id"}));
    };
    // Whoever queued it may have stopped waiting; the function did its part.
    let _ = waiting.send(posted);
    accepted()
}

fn accepted() -> Response {
    Response::json(202, &json!({"status": "OK"}))
}

fn not_found() -> Response {
    Response::json(404, &json!({"errorMessage": "not found"}))
}
