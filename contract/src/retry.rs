//! What is retried: by the state machine (Lambda error types) and by the
//! job definitions (exit codes).

/// The error types prep and watcher return for transient trouble
/// (throttling, AWS APIs unavailable, EFS unavailable), which the state
/// machine's Lambda tasks retry; every other type is final.
pub const RETRYABLE_LAMBDA_ERRORS: [&str; 3] = ["Throttled", "AwsUnavailable", "StorageUnavailable"];

/// The exit code a job uses for a transient failure (EX_TEMPFAIL: network,
/// throttling, interrupted I/O), and the one the job definitions retry by
/// default; every other non-zero code is final.
pub const RETRYABLE_EXIT_CODE: i32 = 75;
