//! The prep Lambda function (`bootstrap` of the prep zip). The same
//! function summarizes a finished run (`{"action": "summarize", ...}`):
//! it is the one with the EFS mount.

use batch_lambdas::prep::{self, PrepDeps};
use batch_lambdas::{LambdaError, summary};

fn to_json<T: serde::Serialize>(answer: T) -> Result<serde_json::Value, LambdaError> {
    serde_json::to_value(answer).map_err(|e| LambdaError::internal(e.to_string()))
}

fn main() -> std::process::ExitCode {
    batch_lambdas::runtime::serve("prep", PrepDeps::from_env, |deps, event| async move {
        if summary::is_summarize(&event) {
            return to_json(summary::handle(&deps, event).await?);
        }
        to_json(prep::handle(&deps, event).await?)
    })
}
