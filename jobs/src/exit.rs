//! Exit codes of the job binaries, and the error type that carries one.
//!
//! AWS Batch retries a job according to its job definition's
//! `retryStrategy.evaluateOnExit`, which matches on the container's exit code.
//! The codes follow BSD `sysexits.h` so that one rule separates the two kinds:
//! `75` (EX_TEMPFAIL) means "the same attempt may succeed later" (network,
//! throttling, an EFS hiccup) and every other non-zero code means "retrying
//! cannot help" (bad config, bad data schema, a bug). A job definition uses:
//!
//! ```json
//! "evaluateOnExit": [
//!   {"onExitCode": "75", "action": "RETRY"},
//!   {"onExitCode": "*",  "action": "EXIT"}
//! ]
//! ```

use std::fmt;

/// The process exit codes every stage binary uses (see docs/jobs.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// The stage finished (records rejected by validation are not a failure).
    Success = 0,
    /// Bad command line or environment (missing `RUN_ID`, bad index). Permanent.
    Usage = 64,
    /// Input data or run layout content is malformed (bad run.json, a node
    /// slice that is not a list, an unsafe path from data). Permanent.
    DataError = 65,
    /// An input the stage needs does not exist (run.json, the node's prep
    /// slice, an S3 object). Permanent: an earlier stage did not produce it.
    NoInput = 66,
    /// A bug: an invariant inside the job failed. Permanent.
    Software = 70,
    /// A transient failure: network, throttling, 5xx, a timed-out or
    /// interrupted I/O on EFS. The only code a retry strategy should retry.
    TempFail = 75,
    /// Access denied by S3 or the file system. Permanent until IAM changes.
    NoPermission = 77,
    /// The run config asks for something this build cannot do (unknown
    /// transform, invalid rule set, unsupported layout_version). Permanent.
    Config = 78,
}

// The job definitions retry this code by default (the pipeline's contract).
const _: () = assert!(ExitCode::TempFail as i32 == contract::retry::RETRYABLE_EXIT_CODE);

impl ExitCode {
    /// The numeric code passed to `std::process::exit`.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// True only for [`ExitCode::TempFail`]: the code a retry strategy retries.
    pub fn is_retryable(self) -> bool {
        self == ExitCode::TempFail
    }

    /// All codes, for docs and tests.
    pub const ALL: [ExitCode; 8] = [
        ExitCode::Success,
        ExitCode::Usage,
        ExitCode::DataError,
        ExitCode::NoInput,
        ExitCode::Software,
        ExitCode::TempFail,
        ExitCode::NoPermission,
        ExitCode::Config,
    ];
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ExitCode::Success => "success",
            ExitCode::Usage => "usage",
            ExitCode::DataError => "data_error",
            ExitCode::NoInput => "no_input",
            ExitCode::Software => "software",
            ExitCode::TempFail => "temp_fail",
            ExitCode::NoPermission => "no_permission",
            ExitCode::Config => "config",
        };
        write!(f, "{name}({})", self.code())
    }
}

/// An error that knows which exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// The exit code the binary terminates with.
    pub exit: ExitCode,
    /// What happened, for logs and the error line.
    pub message: String,
}

impl JobError {
    /// An error with an explicit exit code.
    pub fn new(exit: ExitCode, message: impl Into<String>) -> Self {
        JobError { exit, message: message.into() }
    }

    /// A transient failure (exit 75).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(ExitCode::TempFail, message)
    }

    /// Bad data or layout content (exit 65).
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ExitCode::DataError, message)
    }

    /// Bad or unsupported configuration (exit 78).
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Config, message)
    }

    /// Wraps an I/O error on `what`, classified by [`io_exit_code`].
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        Self::new(io_exit_code(&err), format!("{what}: {err}"))
    }

    /// Prefixes the message with context, keeping the exit code.
    pub fn context(self, what: impl fmt::Display) -> Self {
        JobError { exit: self.exit, message: format!("{what}: {}", self.message) }
    }
}

/// Classifies an I/O error: missing files are permanent (an earlier stage
/// did not write them), permission errors are permanent, so are errors a
/// retry would meet again because names from the data clash with each
/// other or with the file system (a key `a` next to `a/b`, a name too
/// long): everything else on a network file system (EIO, ETIMEDOUT,
/// ESTALE, ENOSPC, interrupted calls) may pass on a retry.
pub fn io_exit_code(err: &std::io::Error) -> ExitCode {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound => ExitCode::NoInput,
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => ExitCode::NoPermission,
        ErrorKind::InvalidData
        | ErrorKind::InvalidInput
        | ErrorKind::InvalidFilename
        | ErrorKind::AlreadyExists
        | ErrorKind::NotADirectory
        | ErrorKind::IsADirectory
        | ErrorKind::DirectoryNotEmpty => ExitCode::DataError,
        _ => ExitCode::TempFail,
    }
}

/// The result type of everything a stage does.
pub type JobResult<T> = Result<T, JobError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// What the file system says is sorted into errors a retry can cure
    /// and errors it would meet again.
    #[test]
    fn io_errors_are_classified_by_whether_a_retry_can_help() {
        use std::io::{Error, ErrorKind};
        let code = |errno: i32| io_exit_code(&Error::from_raw_os_error(errno));
        // Names from the data that clash or do not fit: permanent.
        assert_eq!(code(libc::ENAMETOOLONG), ExitCode::DataError);
        assert_eq!(code(libc::ENOTDIR), ExitCode::DataError);
        assert_eq!(code(libc::EISDIR), ExitCode::DataError);
        assert_eq!(code(libc::EEXIST), ExitCode::DataError);
        assert_eq!(code(libc::ENOTEMPTY), ExitCode::DataError);
        assert_eq!(code(libc::EROFS), ExitCode::NoPermission);
        assert_eq!(code(libc::EACCES), ExitCode::NoPermission);
        assert_eq!(code(libc::ENOENT), ExitCode::NoInput);
        // A network file system's hiccups: retryable.
        for errno in [libc::EIO, libc::ETIMEDOUT, libc::ESTALE, libc::EINTR, libc::EAGAIN, libc::ENOSPC] {
            assert_eq!(code(errno), ExitCode::TempFail, "errno {errno}");
        }
        assert_eq!(io_exit_code(&Error::new(ErrorKind::InvalidData, "x")), ExitCode::DataError);
    }

    #[test]
    fn only_tempfail_is_retryable() {
        let retryable: Vec<_> = ExitCode::ALL.iter().filter(|c| c.is_retryable()).collect();
        assert_eq!(retryable, vec![&ExitCode::TempFail]);
        assert_eq!(ExitCode::TempFail.code(), 75);
        assert_eq!(ExitCode::Config.code(), 78);
        assert_eq!(ExitCode::DataError.code(), 65);
    }

    #[test]
    fn io_errors_are_classified() {
        let nf = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(io_exit_code(&nf), ExitCode::NoInput);
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert_eq!(io_exit_code(&eio), ExitCode::TempFail);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(io_exit_code(&denied), ExitCode::NoPermission);
    }
}
