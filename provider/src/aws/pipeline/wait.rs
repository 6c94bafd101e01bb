//! Polling until AWS reports a state, within the operation's timeout.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::stop::StopSignal;
use crate::tfplugin::{Diagnostic, Diagnostics};

/// What one poll saw.
pub enum Poll<T> {
    Ready(T),
    Pending(String),
    Failed(String),
}

/// Polls `check` until Ready, Failed or the deadline. The interval grows
/// from `first` to 10 s so quick changes (moto, small updates) finish fast
/// without hammering the API on slow ones.
pub async fn until<T, F, Fut>(
    what: &str,
    deadline: Instant,
    first: Duration,
    mut check: F,
) -> Result<T, Diagnostics>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, Diagnostics>>,
{
    let mut interval = first;
    let stop = crate::aws::stop::current();
    let stopped = |last: &str| -> Diagnostics {
        Diagnostic::error(
            format!("Stopped while waiting for {what}"),
            format!(
                "Terraform asked the provider to stop (interrupted). Last state: {last}. What exists so far is kept in the state; apply again to finish."
            ),
        )
        .into()
    };
    if stop.as_ref().is_some_and(StopSignal::is_requested) {
        return Err(stopped("not checked"));
    }
    loop {
        let last = match check().await? {
            Poll::Ready(v) => return Ok(v),
            Poll::Failed(reason) => {
                return Err(Diagnostic::error(format!("{what} failed"), reason).into());
            }
            Poll::Pending(state) => state,
        };
        if Instant::now() + interval > deadline {
            return Err(Diagnostic::error(
                format!("Timed out waiting for {what}"),
                format!("Last state: {last}. Raise the `timeouts` of this resource if AWS is just slow."),
            )
            .into());
        }
        match &stop {
            Some(stop) => tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.requested() => return Err(stopped(&last)),
            },
            None => tokio::time::sleep(interval).await,
        }
        interval = (interval * 2).min(Duration::from_secs(10));
    }
}

pub use crate::aws::errors::aws_error;
