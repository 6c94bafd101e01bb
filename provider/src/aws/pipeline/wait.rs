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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::aws::stop::{self, StopSignal};

    /// With an hour between polls, the wait can only end promptly if the
    /// stop request cuts the sleep short. The outer timeout is no
    /// performance bound: it only keeps a regression (the sleep waited
    /// out) from hanging the suite for an hour.
    #[tokio::test]
    async fn a_stop_request_cuts_the_sleep_between_polls_short() {
        let signal = StopSignal::default();
        let checks = Arc::new(AtomicUsize::new(0));
        let first_check = Arc::new(tokio::sync::Notify::new());
        let requester = signal.clone();
        let checked = first_check.clone();
        tokio::spawn(async move {
            // Only once the wait has seen a state and gone to sleep.
            checked.notified().await;
            requester.request();
        });
        let hour = Duration::from_secs(3600);
        let wait = until("job queue q", Instant::now() + 2 * hour, hour, || {
            let (checks, first_check) = (checks.clone(), first_check.clone());
            async move {
                checks.fetch_add(1, Ordering::SeqCst);
                first_check.notify_one();
                Ok::<_, Diagnostics>(Poll::<()>::Pending("UPDATING".into()))
            }
        });
        let result = tokio::time::timeout(Duration::from_secs(300), stop::scoped(signal, wait))
            .await
            .expect("the stop request ended the hour-long sleep");
        let Err(diagnostics) = result else { panic!("a stopped wait is an error") };
        let d = &diagnostics.0[0];
        assert_eq!(d.summary, "Stopped while waiting for job queue q");
        assert!(d.detail.contains("Last state: UPDATING"), "{d:?}");
        assert_eq!(checks.load(Ordering::SeqCst), 1, "no poll after the stop");
    }

    #[tokio::test]
    async fn a_stop_requested_before_the_wait_polls_nothing() {
        let signal = StopSignal::default();
        signal.request();
        let checks = AtomicUsize::new(0);
        let wait =
            until("job queue q", Instant::now() + Duration::from_secs(60), Duration::from_secs(1), || {
                checks.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Diagnostics>(Poll::<()>::Ready(())) }
            });
        let Err(diagnostics) = stop::scoped(signal, wait).await else { panic!("stopped before it began") };
        assert!(diagnostics.0[0].detail.contains("Last state: not checked"), "{diagnostics:?}");
        assert_eq!(checks.load(Ordering::SeqCst), 0);
    }
}
