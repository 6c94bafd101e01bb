//! A stand-in for the Lambda Runtime API (2018-06-01) on 127.0.0.1: hands
//! out queued events on `GET /runtime/invocation/next` (holding the request
//! until one is queued, as Lambda does), and records what the function
//! POSTs back to `/response` or `/error`.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::http::{Request, Response, Server};

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// POST .../response with this JSON.
    Response(serde_json::Value),
    /// POST .../error with `errorType` / `errorMessage`.
    Error { error_type: String, error_message: String },
}

impl Outcome {
    pub fn response(&self) -> &serde_json::Value {
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

#[derive(Default)]
struct State {
    queue: VecDeque<(String, serde_json::Value)>,
    outcomes: HashMap<String, Outcome>,
    first_next: Option<Instant>,
    next_calls: u32,
    init_error: Option<String>,
    counter: u64,
}

/// The stand-in. Dropping it stops the listener; a function blocked in
/// `next` then sees its connection close when the test kills it.
pub struct RuntimeApi {
    server: Server,
    state: Arc<(Mutex<State>, Condvar)>,
}

const PREFIX: &str = "/2018-06-01/runtime";

impl RuntimeApi {
    pub fn start() -> std::io::Result<Self> {
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let shared = state.clone();
        let server = Server::start(move |req| handle(&shared, req))?;
        Ok(RuntimeApi { server, state })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.server.addr().to_string()
    }

    /// Queues an event; returns its request id.
    pub fn push(&self, event: serde_json::Value) -> String {
        let (lock, cvar) = &*self.state;
        let mut s = lock.lock().unwrap();
        s.counter += 1;
        let id = format!("req-{:04}", s.counter);
        s.queue.push_back((id.clone(), event));
        cvar.notify_all();
        id
    }

    /// Waits for the outcome of `id`.
    pub fn wait(&self, id: &str, limit: Duration) -> Option<Outcome> {
        let (lock, cvar) = &*self.state;
        let deadline = Instant::now() + limit;
        let mut s = lock.lock().unwrap();
        loop {
            if let Some(o) = s.outcomes.get(id) {
                return Some(o.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = cvar.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// Queues `event` and waits (60 s at most) for its outcome.
    pub fn invoke(&self, event: serde_json::Value) -> Outcome {
        let id = self.push(event);
        self.wait(&id, Duration::from_secs(60)).unwrap_or_else(|| panic!("no answer to {id} within 60 s"))
    }

    /// When the function first asked for an event (waits up to `limit`).
    pub fn wait_first_next(&self, limit: Duration) -> Option<Instant> {
        let (lock, cvar) = &*self.state;
        let deadline = Instant::now() + limit;
        let mut s = lock.lock().unwrap();
        loop {
            if s.first_next.is_some() {
                return s.first_next;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            s = cvar.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// How many times the function asked for an event.
    pub fn next_calls(&self) -> u32 {
        self.state.0.lock().unwrap().next_calls
    }

    /// A POSTed init error, if any.
    pub fn init_error(&self) -> Option<String> {
        self.state.0.lock().unwrap().init_error.clone()
    }
}

fn handle(state: &Arc<(Mutex<State>, Condvar)>, req: &Request) -> Response {
    let (lock, cvar) = &**state;
    let path = req.path();
    let Some(rest) = path.strip_prefix(PREFIX) else { return Response::new(404, "not found") };
    if req.method == "GET" && rest == "/invocation/next" {
        let mut s = lock.lock().unwrap();
        s.next_calls += 1;
        if s.first_next.is_none() {
            s.first_next = Some(Instant::now());
            cvar.notify_all();
        }
        let (id, event) = loop {
            if let Some(item) = s.queue.pop_front() {
                break item;
            }
            s = cvar.wait(s).unwrap();
        };
        let deadline =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64 + 300_000;
        return Response::json(200, &event)
            .with_header("Lambda-Runtime-Aws-Request-Id", &id)
            .with_header("Lambda-Runtime-Deadline-Ms", &deadline.to_string())
            .with_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:test",
            )
            .with_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0");
    }
    if req.method == "POST" && rest == "/init/error" {
        let mut s = lock.lock().unwrap();
        s.init_error = Some(String::from_utf8_lossy(&req.body).into_owned());
        cvar.notify_all();
        return Response::json(202, &serde_json::json!({"status": "OK"}));
    }
    if req.method == "POST"
        && let Some(inner) = rest.strip_prefix("/invocation/")
        && let Some((id, kind)) = inner.split_once('/')
    {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
        let outcome = match kind {
            "response" => Outcome::Response(body),
            "error" => Outcome::Error {
                error_type: body["errorType"].as_str().unwrap_or_default().to_string(),
                error_message: body["errorMessage"].as_str().unwrap_or_default().to_string(),
            },
            _ => return Response::new(404, "not found"),
        };
        let mut s = lock.lock().unwrap();
        s.outcomes.insert(id.to_string(), outcome);
        cvar.notify_all();
        return Response::json(202, &serde_json::json!({"status": "OK"}));
    }
    Response::new(404, "not found")
}
