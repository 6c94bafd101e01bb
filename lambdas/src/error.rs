//! The one error type both functions return. Its [`ErrorKind`] becomes the
//! Lambda error's `errorType`, which is what a Step Functions `Retry` or
//! `Catch` matches on (`"ErrorEquals": ["Throttled"]`), so the kinds say
//! what happened and whether trying again can help.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use batch_jobs::{ExitCode, JobError};

/// What went wrong, as the state machine sees it (`errorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The event is malformed or asks for something impossible (missing or
    /// mistyped field, bad run id, items_per_node 0...). Permanent.
    InvalidEvent,
    /// The source holds something a run cannot use (an S3 key that is not a
    /// safe relative path under the prefix). Permanent until the data changes.
    InvalidSource,
    /// `runs/<run_id>/` already holds a different run (other config, other
    /// slices). Permanent: use a new run id.
    LayoutConflict,
    /// AWS throttled us and the SDK's own retries (with backoff) ran out.
    /// Retry later.
    Throttled,
    /// AWS could not be reached or answered 5xx / timed out. Retry.
    AwsUnavailable,
    /// AWS refused the request (access denied, no such bucket, validation).
    /// Permanent until the deployment changes.
    AwsRequestFailed,
    /// A transient EFS error (EIO, ETIMEDOUT, ESTALE, ENOSPC). Retry.
    StorageUnavailable,
    /// A permanent EFS error (permission denied, unreadable existing file).
    StorageFailed,
    /// A bug in this function.
    Internal,
}

impl ErrorKind {
    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidEvent => "InvalidEvent",
            ErrorKind::InvalidSource => "InvalidSource",
            ErrorKind::LayoutConflict => "LayoutConflict",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::AwsUnavailable => "AwsUnavailable",
            ErrorKind::AwsRequestFailed => "AwsRequestFailed",
            ErrorKind::StorageUnavailable => "StorageUnavailable",
            ErrorKind::StorageFailed => "StorageFailed",
            ErrorKind::Internal => "Internal",
        }
    }

    /// True for the kinds a state machine should retry.
    pub fn is_retryable(self) -> bool {
        contract::retry::RETRYABLE_LAMBDA_ERRORS.contains(&self.as_str())
    }

    /// Every kind, for docs and tests.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::InvalidEvent,
        ErrorKind::InvalidSource,
        ErrorKind::LayoutConflict,
        ErrorKind::Throttled,
        ErrorKind::AwsUnavailable,
        ErrorKind::AwsRequestFailed,
        ErrorKind::StorageUnavailable,
        ErrorKind::StorageFailed,
        ErrorKind::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a handler returns: a kind and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct LambdaError {
    /// The `errorType`.
    pub kind: ErrorKind,
    /// The `errorMessage`.
    pub message: String,
}

impl LambdaError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        LambdaError { kind, message: message.into() }
    }

    /// A malformed or impossible event.
    pub fn invalid_event(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidEvent, message)
    }

    /// A bug.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Classifies a failed AWS SDK call on `what` (e.g. `ListObjectsV2 s3://b/p`).
    ///
    /// The SDK has already retried throttling and transient errors with
    /// exponential backoff ([`crate::runtime::retry_config`]); what reaches
    /// here is what those retries could not fix.
    pub fn from_sdk<E>(what: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = match &err {
            SdkError::ServiceError(context) => context.err().code().map(str::to_string),
            _ => None,
        };
        let kind = match &err {
            SdkError::ConstructionFailure(_) => ErrorKind::Internal,
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorKind::AwsUnavailable,
            _ if code.as_deref().is_some_and(is_throttling_code) || status == Some(429) => {
                ErrorKind::Throttled
            }
            _ if status.is_some_and(|s| s >= 500) => ErrorKind::AwsUnavailable,
            SdkError::ResponseError(_) => ErrorKind::AwsUnavailable,
            _ => ErrorKind::AwsRequestFailed,
        };
        let detail = DisplayErrorContext(&err);
        let message = match (code, status) {
            (Some(code), Some(status)) => format!("{what}: {code} (HTTP {status}): {detail}"),
            (None, Some(status)) => format!("{what}: HTTP {status}: {detail}"),
            _ => format!("{what}: {detail}"),
        };
        LambdaError::new(kind, message)
    }

    /// Classifies an error of the run layout library (EFS side). `conflict`
    /// is the kind a data/config error means in the caller's context
    /// (writing over an existing run: [`ErrorKind::LayoutConflict`]).
    pub fn from_layout(err: JobError, conflict: ErrorKind) -> Self {
        let kind = match err.exit {
            ExitCode::TempFail => ErrorKind::StorageUnavailable,
            ExitCode::NoPermission | ExitCode::NoInput => ErrorKind::StorageFailed,
            ExitCode::DataError | ExitCode::Config | ExitCode::Usage => conflict,
            ExitCode::Software | ExitCode::Success => ErrorKind::Internal,
        };
        LambdaError::new(kind, err.message)
    }
}

/// Error codes AWS services use for "slow down" (S3's `SlowDown` is a 503,
/// Batch's `TooManyRequestsException` a 429).
fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "RequestThrottled"
    )
}

impl From<LambdaError> for lambda_runtime::Diagnostic {
    fn from(err: LambdaError) -> Self {
        lambda_runtime::Diagnostic { error_type: err.kind.as_str().to_string(), error_message: err.message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_the_kind_name() {
        let d: lambda_runtime::Diagnostic = LambdaError::new(ErrorKind::LayoutConflict, "x").into();
        assert_eq!(d.error_type, "LayoutConflict");
        assert_eq!(d.error_message, "x");
    }

    #[test]
    fn only_transient_kinds_are_retryable() {
        let retryable: Vec<_> =
            ErrorKind::ALL.iter().filter(|k| k.is_retryable()).map(|k| k.as_str()).collect();
        assert_eq!(retryable, ["Throttled", "AwsUnavailable", "StorageUnavailable"]);
    }

    #[test]
    fn layout_errors_map_by_exit_code() {
        let e = LambdaError::from_layout(JobError::retryable("eio"), ErrorKind::LayoutConflict);
        assert_eq!(e.kind, ErrorKind::StorageUnavailable);
        let e = LambdaError::from_layout(JobError::data("differs"), ErrorKind::LayoutConflict);
        assert_eq!(e.kind, ErrorKind::LayoutConflict);
        let e = LambdaError::from_layout(
            JobError::new(ExitCode::NoPermission, "denied"),
            ErrorKind::LayoutConflict,
        );
        assert_eq!(e.kind, ErrorKind::StorageFailed);
    }
}
