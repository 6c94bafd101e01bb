//! `source.private_key_secret_arn`: the SSH private key, read from Secrets
//! Manager once per process and held in memory only (never written to
//! disk or logged).

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use russh::keys::PrivateKey;

use crate::exit::{ExitCode, JobError, JobResult};

/// A Secrets Manager client from the standard chain (env credentials,
/// region, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`, which
/// is how the tests reach moto).
pub async fn client() -> aws_sdk_secretsmanager::Client {
    let shared = crate::sdk_config::load(crate::sdk_config::Service::SecretsManager).await;
    aws_sdk_secretsmanager::Client::new(&shared)
}

/// The private key held by the secret `arn` (its string value, OpenSSH or
/// PEM format, unencrypted).
pub async fn private_key(client: &aws_sdk_secretsmanager::Client, arn: &str) -> JobResult<PrivateKey> {
    let what = format!("source.private_key_secret_arn {arn}");
    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|err| {
        let code = match &err {
            SdkError::ServiceError(e) => match e.err().code() {
                Some("ResourceNotFoundException") => ExitCode::NoInput,
                Some("AccessDeniedException" | "UnrecognizedClientException") => ExitCode::NoPermission,
                Some("InvalidRequestException" | "InvalidParameterException" | "DecryptionFailure") => {
                    ExitCode::Config
                }
                _ => ExitCode::TempFail,
            },
            _ => ExitCode::TempFail,
        };
        let detail = aws_sdk_secretsmanager::error::DisplayErrorContext(&err);
        JobError::new(code, format!("{what}: GetSecretValue: {detail}"))
    })?;
    let text = out.secret_string().ok_or_else(|| {
        JobError::config(format!("{what}: the secret has no string value (a binary secret?)"))
    })?;
    parse_private_key(text).map_err(|e| e.context(what))
}

/// Parses a private key; the error never quotes the text.
pub fn parse_private_key(text: &str) -> JobResult<PrivateKey> {
    russh::keys::decode_secret_key(text, None).map_err(|e| {
        JobError::config(format!(
            "not an unencrypted OpenSSH or PEM private key ({})",
            match e {
                russh::keys::Error::KeyIsEncrypted => "it is encrypted".to_string(),
                other => other.to_string(),
            }
        ))
    })
}
