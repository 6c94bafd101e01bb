//! Terraform's StopProvider (sent on Ctrl-C): the operation in progress
//! gives up at its next poll instead of waiting out its timeout, and
//! returns what exists so far, so the state keeps it.
//!
//! The provider owns one [`StopSignal`]; each resource operation runs in
//! its scope ([`scoped`]), and the waits read it from there
//! ([`current`]), so nothing has to pass it down through every call.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone)]
pub struct StopSignal(Arc<watch::Sender<bool>>);

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal(Arc::new(watch::Sender::new(false)))
    }
}

impl StopSignal {
    pub fn request(&self) {
        self.0.send_replace(true);
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once a stop is requested (at once if it already was).
    pub async fn requested(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`, so this cannot fail early.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

tokio::task_local! {
    static CURRENT: StopSignal;
}

/// Runs `operation` with `signal` as the stop signal its waits obey.
pub async fn scoped<F: Future>(signal: StopSignal, operation: F) -> F::Output {
    CURRENT.scope(signal, operation).await
}

/// The stop signal of the operation running on this task, if any.
pub fn current() -> Option<StopSignal> {
    CURRENT.try_with(Clone::clone).ok()
}
