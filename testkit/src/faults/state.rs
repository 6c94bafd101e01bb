//! What the proxy's connections share: the plan, the per-operation call
//! counts the draws are keyed by, and the log of what was injected.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::spec::{Draw, FaultKind, FaultSpec};

/// One fault injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// The request's number at the proxy, from 0.
    pub request: u64,
    pub service: String,
    pub operation: String,
    pub kind: FaultKind,
}

/// What the proxy's connections share: the plan, the per-operation call
/// counts the draws are keyed by, and the log.
pub(super) struct State {
    pub(super) spec: FaultSpec,
    pub(super) requests: AtomicU64,
    calls: Mutex<HashMap<(String, String), u64>>,
    pub(super) log: Mutex<Vec<Injection>>,
}

impl State {
    pub(super) fn new(spec: FaultSpec) -> Self {
        State { spec, requests: AtomicU64::new(0), calls: Mutex::default(), log: Mutex::default() }
    }

    pub(super) fn draw(&self, service: &str, operation: &str) -> Draw {
        let request = self.requests.fetch_add(1, Ordering::SeqCst);
        if !self.spec.applies_to(service, operation) {
            return Draw::default();
        }
        let nth = {
            let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            let n = calls.entry((service.to_string(), operation.to_string())).or_default();
            *n += 1;
            *n - 1
        };
        let draw = self.spec.draw(service, operation, nth);
        let kinds = draw.failure.into_iter().chain(draw.delayed.then_some(FaultKind::Latency));
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        for kind in kinds {
            tracing::info!(request, service, operation, %kind, "fault injected");
            log.push(Injection { request, service: service.into(), operation: operation.into(), kind });
        }
        draw
    }
}
