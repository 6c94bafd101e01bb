//! Lambda functions as local processes: the real `bootstrap` binary of each
//! function, started once, fed invocations through the test kit's Lambda
//! Runtime API (2018-06-01) on 127.0.0.1; what it answers becomes the
//! task's result or its `StatesError`, as Step Functions would see it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use testkit::lambda_runtime::{FunctionReply, Pending, RuntimeApi, RuntimeApiConfig};

use crate::states_error::StatesError;

/// Lambda's longest timeout: the runner gives each invocation as long.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

/// One function: its process and its Runtime API endpoint.
pub struct LambdaFunction {
    name: String,
    api: RuntimeApi,
    child: tokio::sync::Mutex<tokio::process::Child>,
    timeout: Duration,
}

impl LambdaFunction {
    /// Starts `bin` with the Lambda environment plus `env`; its stderr goes to `log`.
    pub async fn start(
        name: &str,
        bin: PathBuf,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        let api = RuntimeApi::start(RuntimeApiConfig {
            function_arn: format!("arn:aws:lambda:local:000000000000:function:{name}"),
            deadline: FUNCTION_TIMEOUT,
            request_id_prefix: name.to_string(),
        })
        .await?;
        let log_file =
            std::fs::File::create(&log).map_err(|e| anyhow::anyhow!("creating {}: {e}", log.display()))?;
        let child = tokio::process::Command::new(&bin)
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting function {name} ({}): {e}", bin.display()))?;
        tracing::info!(function = name, bin = %bin.display(), api = %api.host_port(), "function started");
        Ok(LambdaFunction {
            name: name.to_string(),
            api,
            child: tokio::sync::Mutex::new(child),
            timeout: FUNCTION_TIMEOUT,
        })
    }

    pub async fn invoke(&self, payload: Value) -> Result<Value, StatesError> {
        let Pending { id, reply } = self.api.queue(payload);
        let mut child = self.child.lock().await;
        let wait_exit = child.wait();
        tokio::select! {
            r = reply => r.map_or_else(|_| Err(StatesError::new("Lambda.ServiceException", "no answer")), task_result),
            status = wait_exit => {
                self.api.forget(&id);
                Err(StatesError::new("Lambda.Unknown", format!("function {} exited: {:?}", self.name, status.map(|s| s.to_string()))))
            }
            _ = tokio::time::sleep(self.timeout) => Err(StatesError::new("States.Timeout", format!("function {} timed out", self.name))),
        }
    }

    pub async fn stop(&self) {
        let _ = self.child.lock().await.kill().await;
        self.api.stop();
    }
}

/// The task's result as Step Functions reports a Lambda task: the response
/// JSON, or the function's `errorType` (`Lambda.Unknown` without one) with
/// the raw error body as the cause; a response that is not JSON is the
/// service's fault.
fn task_result(reply: FunctionReply) -> Result<Value, StatesError> {
    match reply {
        FunctionReply::Response(body) => serde_json::from_slice(&body)
            .map_err(|e| StatesError::new("Lambda.ServiceException", format!("response is not JSON: {e}"))),
        FunctionReply::Error(body) => {
            let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let error_type = parsed.get("errorType").and_then(Value::as_str).unwrap_or("Lambda.Unknown");
            Err(StatesError::new(error_type, String::from_utf8_lossy(&body).into_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use testkit::lambda_runtime::FunctionReply;

    use super::task_result;

    #[test]
    fn a_reply_becomes_the_task_result_step_functions_reports() {
        let ok = task_result(FunctionReply::Response(br#"{"status":"READY"}"#.to_vec()));
        assert_eq!(ok.ok(), Some(json!({"status": "READY"})));

        let typed = br#"{"errorType":"Throttled","errorMessage":"slow down"}"#;
        let err = task_result(FunctionReply::Error(typed.to_vec())).unwrap_err();
        assert_eq!(err.error, "Throttled");
        assert_eq!(err.cause, String::from_utf8_lossy(typed), "the cause is the raw body");

        let untyped = task_result(FunctionReply::Error(b"boom".to_vec())).unwrap_err();
        assert_eq!((untyped.error.as_str(), untyped.cause.as_str()), ("Lambda.Unknown", "boom"));

        let garbled = task_result(FunctionReply::Response(b"not json".to_vec())).unwrap_err();
        assert_eq!(garbled.error, "Lambda.ServiceException");
        assert!(garbled.cause.starts_with("response is not JSON"), "{}", garbled.cause);
    }
}
