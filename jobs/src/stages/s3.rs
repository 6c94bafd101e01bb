//! The S3 client and the classification of its errors into exit codes.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::exit::{ExitCode, JobError};
use crate::sdk_config::{self, Service};

/// A client from the standard chain ([`sdk_config`]): env credentials,
/// region, and `AWS_ENDPOINT_URL` (how the tests reach moto). Path-style addressing
/// when an endpoint override is set, since local servers have no
/// per-bucket DNS names.
pub async fn client() -> aws_sdk_s3::Client {
    let shared = sdk_config::load(Service::S3).await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared);
    if sdk_config::configured_endpoint(Service::S3).is_some() {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// Maps an SDK error to a [`JobError`]: missing buckets/keys are
/// permanent (66), access errors permanent (77), other client errors 65,
/// and everything transport-level, throttling or 5xx retryable (75).
pub fn classify<E>(what: &str, err: SdkError<E, HttpResponse>) -> JobError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = match &err {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NotFound") => ExitCode::NoInput,
            Some("AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AllAccessDisabled") => {
                ExitCode::NoPermission
            }
            Some(
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestTimeout"
                | "InternalError"
                | "ServiceUnavailable",
            ) => ExitCode::TempFail,
            _ if status >= 500 || status == 429 => ExitCode::TempFail,
            _ if status == 404 => ExitCode::NoInput,
            _ if status == 403 => ExitCode::NoPermission,
            _ => ExitCode::DataError,
        },
        SdkError::ConstructionFailure(_) => ExitCode::Config,
        _ => ExitCode::TempFail,
    };
    JobError::new(code, format!("{what}: {detail}"))
}

/// Retries `op` on retryable errors with exponential backoff (the SDK
/// already retries single requests; this covers streamed bodies that fail
/// half-way, which the SDK cannot replay).
pub async fn with_retries<T, F, Fut>(what: &str, attempts: u32, mut op: F) -> Result<T, JobError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, JobError>>,
{
    let mut delay = std::time::Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.exit.is_retryable() && attempt < attempts => {
                tracing::warn!(attempt, error = %e, "{what}: retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::body::SdkBody;

    /// The exit code for a service error with S3 error code `code` and
    /// HTTP status `status`.
    fn code_for(code: Option<&str>, status: u16) -> ExitCode {
        let mut meta = ErrorMetadata::builder().message("test");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        classify("get s3://b/k", SdkError::service_error(GetObjectError::generic(meta.build()), raw)).exit
    }

    #[test]
    fn throttling_and_server_errors_are_retryable_the_rest_permanent() {
        // Throttling and server trouble: retry.
        for (code, status) in [
            (Some("SlowDown"), 503),
            (Some("Throttling"), 400),
            (Some("ThrottlingException"), 400),
            (Some("RequestTimeout"), 400),
            (Some("InternalError"), 500),
            (Some("ServiceUnavailable"), 503),
            (None, 503),
            (None, 429),
            (Some("SomethingNew"), 502),
        ] {
            assert_eq!(code_for(code, status), ExitCode::TempFail, "{code:?} {status}");
        }
        // What a retry would meet again.
        assert_eq!(code_for(Some("NoSuchKey"), 404), ExitCode::NoInput);
        assert_eq!(code_for(Some("NoSuchBucket"), 404), ExitCode::NoInput);
        assert_eq!(code_for(None, 404), ExitCode::NoInput);
        assert_eq!(code_for(Some("AccessDenied"), 403), ExitCode::NoPermission);
        assert_eq!(code_for(None, 403), ExitCode::NoPermission);
        assert_eq!(code_for(Some("InvalidArgument"), 400), ExitCode::DataError);
    }
}
