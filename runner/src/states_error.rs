//! The error a state fails with: what the interpreter, the limits, the
//! local Batch and the local Lambdas all report, in its own file so none
//! of them has to import another for it.

/// A States error: `Error` name and `Cause` text, as Step Functions has them.
#[derive(Debug, Clone, PartialEq)]
pub struct StatesError {
    pub error: String,
    pub cause: String,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError { error: error.into(), cause: cause.into() }
    }
}
