//! Lambda functions as local processes: the real `bootstrap` binary of each
//! function, started once, fed invocations through a Lambda Runtime API
//! (2018-06-01) served on 127.0.0.1 by this module.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::http::{self, Request, Response};
use crate::states_error::StatesError;

type Reply = oneshot::Sender<Result<Value, StatesError>>;

struct Invocation {
    id: String,
    payload: Value,
    reply: Reply,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<HashMap<String, Reply>>,
    arn: String,
}

/// One function: its process and its Runtime API endpoint.
pub struct LambdaFunction {
    name: String,
    send: mpsc::Sender<Invocation>,
    shared: Arc<Shared>,
    child: tokio::sync::Mutex<tokio::process::Child>,
    server: tokio::task::JoinHandle<()>,
    seq: AtomicU64,
    timeout: Duration,
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn handle(shared: Arc<Shared>, req: Request) -> Response {
    const NEXT: &str = "/2018-06-01/runtime/invocation/next";
    const PREFIX: &str = "/2018-06-01/runtime/invocation/";
    if req.method == "GET" && req.path == NEXT {
        let inv = shared.queue.lock().await.recv().await;
        let Some(inv) = inv else {
            return Response::json(500, &json!({"errorMessage": "runner shutting down"}));
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64 + 900_000)
            .unwrap_or(0);
        let mut resp = Response::json(200, &inv.payload);
        resp.headers.extend([
            ("Lambda-Runtime-Aws-Request-Id".into(), inv.id.clone()),
            ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
            ("Lambda-Runtime-Invoked-Function-Arn".into(), shared.arn.clone()),
            ("Lambda-Runtime-Trace-Id".into(), format!("Root=1-local-{}", inv.id)),
        ]);
        if let Ok(mut m) = shared.in_flight.lock() {
            m.insert(inv.id, inv.reply);
        }
        return resp;
    }
    if req.method == "POST" {
        if let Some(rest) = req.path.strip_prefix(PREFIX) {
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let reply = shared.in_flight.lock().ok().and_then(|mut m| m.remove(id));
            let Some(reply) = reply else {
                return Response::json(400, &json!({"errorMessage": "unknown request id"}));
            };
            let result = match kind {
                "response" => serde_json::from_slice(&req.body).map_err(|e| {
                    StatesError::new("Lambda.ServiceException", format!("response is not JSON: {e}"))
                }),
                _ => {
                    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                    let ty =
                        body.get("errorType").and_then(Value::as_str).unwrap_or("Lambda.Unknown").to_string();
                    Err(StatesError::new(ty, String::from_utf8_lossy(&req.body).into_owned()))
                }
            };
            let _ = reply.send(result);
            return Response::json(202, &json!({"status": "OK"}));
        }
        if req.path == "/2018-06-01/runtime/init/error" {
            tracing::error!(body = %String::from_utf8_lossy(&req.body), "function init error");
            return Response::json(202, &json!({"status": "OK"}));
        }
    }
    Response::json(404, &json!({"errorMessage": "not found"}))
}

impl LambdaFunction {
    /// Starts `bin` with the Lambda environment plus `env`; its stderr goes to `log`.
    pub async fn start(
        name: &str,
        bin: PathBuf,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        let (send, recv) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(recv),
            in_flight: Mutex::new(HashMap::new()),
            arn: format!("arn:aws:lambda:local:000000000000:function:{name}"),
        });
        let s = shared.clone();
        let (addr, server) = http::serve(move |req| handle(s.clone(), req)).await?;
        let log_file =
            std::fs::File::create(&log).map_err(|e| anyhow::anyhow!("creating {}: {e}", log.display()))?;
        let child = tokio::process::Command::new(&bin)
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting function {name} ({}): {e}", bin.display()))?;
        tracing::info!(function = name, bin = %bin.display(), api = %addr, "function started");
        Ok(LambdaFunction {
            name: name.to_string(),
            send,
            shared,
            child: tokio::sync::Mutex::new(child),
            server,
            seq: AtomicU64::new(0),
            timeout: Duration::from_secs(900),
        })
    }

    pub async fn invoke(&self, payload: Value) -> Result<Value, StatesError> {
        let id = format!("{}-{:08}", self.name, self.seq.fetch_add(1, Ordering::Relaxed));
        let (reply, answer) = oneshot::channel();
        self.send
            .send(Invocation { id: id.clone(), payload, reply })
            .await
            .map_err(|_| StatesError::new("Lambda.ServiceException", "function queue closed"))?;
        let mut child = self.child.lock().await;
        let wait_exit = child.wait();
        tokio::select! {
            r = answer => r.unwrap_or_else(|_| Err(StatesError::new("Lambda.ServiceException", "no answer"))),
            status = wait_exit => {
                if let Ok(mut m) = self.shared.in_flight.lock() { m.remove(&id); }
                Err(StatesError::new("Lambda.Unknown", format!("function {} exited: {:?}", self.name, status.map(|s| s.to_string()))))
            }
            _ = tokio::time::sleep(self.timeout) => Err(StatesError::new("States.Timeout", format!("function {} timed out", self.name))),
        }
    }

    pub async fn stop(&self) {
        let _ = self.child.lock().await.kill().await;
        self.server.abort();
    }
}
