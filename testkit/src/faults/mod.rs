//! A fault-injecting HTTP proxy for AWS stand-ins (moto, the local
//! runner's Batch API, the embedded S3), on 127.0.0.1 only: what a real
//! AWS endpoint does under load, on purpose and reproducibly.
//!
//! Per request, drawn from a seed: the service's own throttling error,
//! a 500 or 503, a connection reset before the request reaches the
//! upstream, a reset after it did (the call succeeded, the client never
//! heard: the case retries must be idempotent against), or added latency;
//! filtered by service and operation ([`FaultSpec`]). Everything injected
//! is logged ([`FaultProxy::injected`], [`FaultProxy::report`]).
//!
//! - `spec.rs`: the plan and the seeded draw;
//! - `classify.rs`: a request's service and operation;
//! - `shapes.rs`: each protocol's error answers;
//! - `state.rs`: what the connections share: the counts and the log;
//! - `relay.rs`: the connections, forwarding and resets.

mod classify;
mod relay;
mod shapes;
mod spec;
mod state;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use tokio::runtime::Runtime;

pub use spec::{Draw, FaultKind, FaultSpec, seeded_unit};
pub use state::Injection;
use state::State;

/// A running proxy in front of one upstream; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<Runtime>,
}

impl FaultProxy {
    /// Listens on a free 127.0.0.1 port and relays to `upstream` (which
    /// must be on loopback too), injecting what `spec` draws. Works inside
    /// or outside a tokio runtime (it runs on its own).
    pub fn start(upstream: SocketAddr, spec: FaultSpec) -> std::io::Result<Self> {
        if !upstream.ip().is_loopback() {
            return Err(std::io::Error::other(format!(
                "fault proxy: upstream {upstream} is not on loopback"
            )));
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testkit-faults")
            .enable_io()
            .enable_time()
            .build()?;
        let state = Arc::new(State::new(spec));
        let shared = state.clone();
        runtime.spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!(error = %e, "fault proxy: cannot serve the bound listener");
                    return;
                }
            };
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(relay::connection(stream, upstream, shared.clone()));
                    }
                    Err(e) => tracing::debug!(error = %e, "fault proxy: accept failed"),
                }
            }
        });
        Ok(FaultProxy { addr, state, runtime: Some(runtime) })
    }

    /// [`FaultProxy::start`] in front of an `http://127.0.0.1:PORT` endpoint.
    pub fn start_for_url(upstream: &str, spec: FaultSpec) -> std::io::Result<Self> {
        let host = upstream.strip_prefix("http://").unwrap_or(upstream).trim_end_matches('/');
        let addr = host
            .parse()
            .map_err(|_| std::io::Error::other(format!("fault proxy: {upstream:?} is not http://IP:PORT")))?;
        Self::start(addr, spec)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for an endpoint override.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Every fault injected so far, in order.
    pub fn injected(&self) -> Vec<Injection> {
        self.state.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Requests seen and faults injected, by kind and by
    /// `service operation`.
    pub fn report(&self) -> Value {
        let mut by_kind: BTreeMap<&str, u64> = FaultKind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
        let mut by_operation: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
        for i in self.injected() {
            *by_kind.entry(i.kind.as_str()).or_default() += 1;
            *by_operation
                .entry(format!("{} {}", i.service, i.operation))
                .or_default()
                .entry(i.kind.as_str())
                .or_default() += 1;
        }
        json!({"requests": self.requests(), "injected": by_kind, "by_operation": by_operation})
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Not a plain drop: dropping a runtime inside another one panics.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
