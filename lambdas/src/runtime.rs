//! What both binaries do before and around `lambda_runtime::run`: JSON logs
//! on stderr, a clear exit (not a panic) when the Lambda environment is
//! incomplete, and one AWS SDK configuration per container.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use tracing_subscriber::EnvFilter;

use crate::error::LambdaError;

/// Variables `lambda_runtime` reads at start-up and would panic without.
/// Lambda always sets them; a hand-started binary may not.
pub const REQUIRED_RUNTIME_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// JSON lines on stderr (Lambda forwards both streams to CloudWatch; stdout
/// stays free). Level from `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL` (set by
/// Lambda's advanced logging controls), else `info`.
pub fn init_logging() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().map(|l| l.to_ascii_lowercase()))
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
}

/// Checks the Lambda runtime environment; the error names what is missing.
pub fn check_runtime_env() -> Result<(), String> {
    let missing: Vec<&str> = REQUIRED_RUNTIME_ENV
        .iter()
        .copied()
        .filter(|name| std::env::var_os(name).is_none_or(|v| v.is_empty()))
        .collect();
    if let Some(bad) =
        std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").ok().filter(|m| m.parse::<i32>().is_err())
    {
        return Err(format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={bad:?} is not an integer"));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not running in a Lambda environment: {} not set", missing.join(", ")))
    }
}

/// Standard retry mode (exponential backoff with jitter, throttling and
/// transient errors retried) with a short first backoff: a Lambda has a
/// deadline, and the state machine's own `Retry` on `Throttled` backs off
/// further when these attempts run out.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(5))
}

/// Connect and per-attempt limits well inside a Lambda timeout, so a hung
/// connection becomes a retry, then an `AwsUnavailable` error, not a
/// function timeout.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(20))
        .build()
}

/// The SDK configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`), loaded once per container. Credentials resolve
/// lazily on the first request, so this does no network I/O in Lambda,
/// where `AWS_REGION` is always set.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// An S3 client for `sdk`. Path-style addressing when an endpoint override
/// is set, for all services or for S3 alone (moto and other stand-ins on
/// 127.0.0.1 cannot serve `<bucket>.127.0.0.1`).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let overridden = sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(overridden).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An SQS client for `sdk` (a queue-fed source).
pub fn sqs_client(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}

/// An AWS Batch client for `sdk`.
pub fn batch_client(sdk: &SdkConfig) -> aws_sdk_batch::Client {
    aws_sdk_batch::Client::new(sdk)
}

/// An ECS client for `sdk` (the watcher's DescribeTasks).
pub fn ecs_client(sdk: &SdkConfig) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(sdk)
}

/// A single-threaded tokio runtime: one invocation runs at a time in a
/// Lambda container, and one thread starts faster and uses less memory.
/// Blocking work (EFS writes) goes to `spawn_blocking`.
pub fn tokio_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// The whole `main` of a function: logs, environment check, one SDK
/// configuration and the clients `make_deps` builds from it (once per
/// container), then `lambda_runtime::run` over `handler` until the runtime
/// API goes away. Handler errors become Lambda errors whose `errorType` is
/// the [`crate::ErrorKind`]; nothing here panics on bad input.
pub fn serve<D, F, Fut, R>(
    name: &'static str,
    make_deps: impl FnOnce(&SdkConfig) -> D,
    handler: F,
) -> ExitCode
where
    D: Clone + 'static,
    F: Fn(D, serde_json::Value) -> Fut + 'static,
    Fut: Future<Output = Result<R, LambdaError>>,
    R: Serialize,
{
    init_logging();
    if let Err(message) = check_runtime_env() {
        tracing::error!(function = name, "{message}");
        return ExitCode::FAILURE;
    }
    let rt = match tokio_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(function = name, "cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = rt.block_on(async move {
        let sdk = load_sdk_config().await;
        let deps = make_deps(&sdk);
        let handler = &handler;
        lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<serde_json::Value>| {
            let deps = deps.clone();
            async move {
                let response = handler(deps, event.payload).await?;
                serde_json::to_value(response).map_err(|e| LambdaError::internal(format!("response: {e}")))
            }
        }))
        .await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(function = name, "runtime stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
