//! The AWS SDK configuration every job client starts from: the standard
//! chain (env credentials, region, `AWS_ENDPOINT_URL` and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>`), the jobs' retry policy, and the HTTP
//! client for where the service is.
//!
//! Where the environment already holds the credentials and the region
//! (as in a local run; in AWS Batch the credentials come from the
//! container endpoint and the chain still runs), they are taken from it
//! directly, as the default chains would take them first.
//!
//! Why the HTTP client is chosen here: the SDK's default client loads the
//! system's root certificates in every process that makes a request
//! (`SSL_CERT_FILE` and every file of `SSL_CERT_DIR`, parsed from PEM).
//! That was half the CPU of an egress node of 40 records against a local
//! S3 (~5 of ~10 ms; BENCHMARKS.md, "Local runner"), and a local run
//! starts 10,000 of them. When the service's endpoint is plain HTTP (a
//! stand-in on loopback) no certificate is ever checked, so the client
//! gets an empty trust store instead: the same requests, and an `https`
//! URL it might still meet fails on its certificate rather than being
//! trusted. Everywhere else (AWS: https endpoints) nothing changes.

use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};

/// The services the jobs call, as their endpoint variables name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// S3 (`AWS_ENDPOINT_URL_S3`).
    S3,
    /// SQS (`AWS_ENDPOINT_URL_SQS`).
    Sqs,
    /// Secrets Manager (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).
    SecretsManager,
}

impl Service {
    /// The service's own endpoint variable (it wins over `AWS_ENDPOINT_URL`).
    pub fn endpoint_env(self) -> &'static str {
        match self {
            Service::S3 => "AWS_ENDPOINT_URL_S3",
            Service::Sqs => "AWS_ENDPOINT_URL_SQS",
            Service::SecretsManager => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        }
    }
}

/// The endpoint `service` is reached at when an override is set: its own
/// variable, else `AWS_ENDPOINT_URL`, as the SDK resolves them (an empty
/// variable counts as unset); none when
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` tells the SDK to ignore them.
pub fn endpoint_override(service: Service, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    if env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return None;
    }
    let set = |name: &str| env(name).filter(|url| !url.trim().is_empty());
    set(service.endpoint_env()).or_else(|| set("AWS_ENDPOINT_URL"))
}

/// [`endpoint_override`] from this process's environment: what both the
/// HTTP client's choice here and the S3 client's path-style addressing
/// go by, so the two cannot disagree.
pub fn configured_endpoint(service: Service) -> Option<String> {
    endpoint_override(service, process_env)
}

/// A variable of this process's environment; empty counts as unset.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// True if `url` is plain HTTP, where TLS roots are never used.
pub fn is_plain_http(url: &str) -> bool {
    url.trim().get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
}

/// The shared configuration for clients of `service`.
pub async fn load(service: Service) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).retry_config(
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(std::time::Duration::from_millis(200)),
    );
    // What the default chains would find first anyway, given directly: the
    // chains build an STS client, an IMDS client and profile readers for
    // their later links (~0.4 ms of a process that uploads four objects).
    if process_env("AWS_ACCESS_KEY_ID").is_some() && process_env("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader
            .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    if let Some(region) = process_env("AWS_REGION").or_else(|| process_env("AWS_DEFAULT_REGION")) {
        loader = loader.region(aws_config::Region::new(region));
    }
    let endpoint = configured_endpoint(service);
    if endpoint.as_deref().is_some_and(is_plain_http) {
        match plain_http_client() {
            Ok(client) => loader = loader.http_client(client),
            // Not expected (an empty trust store always builds); the SDK's
            // default client is correct, only slower to start.
            Err(e) => tracing::debug!(error = %e, "no TLS-free HTTP client; using the default"),
        }
    }
    loader.load().await
}

/// The SDK's own hyper client, with rustls on aws-lc as the default one,
/// but a trust store with no roots: nothing is read from disk.
fn plain_http_client()
-> Result<aws_smithy_runtime_api::client::http::SharedHttpClient, aws_smithy_http_client::HttpClientError> {
    let context =
        TlsContext::builder().with_trust_store(TrustStore::empty().with_native_roots(false)).build()?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_service_variable_wins_over_the_global_one() {
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2"),
        ]);
        assert_eq!(endpoint_override(Service::S3, &env).as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(endpoint_override(Service::Sqs, &env).as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(endpoint_override(Service::SecretsManager, env_of(&[])), None);
        assert_eq!(endpoint_override(Service::S3, env_of(&[("AWS_ENDPOINT_URL_S3", " ")])), None);
        // An empty service variable does not hide the global one.
        let env = env_of(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1"), ("AWS_ENDPOINT_URL_S3", "")]);
        assert_eq!(endpoint_override(Service::S3, &env).as_deref(), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn endpoints_the_sdk_is_told_to_ignore_are_not_overrides() {
        // The SDK then goes to AWS over https, which needs the roots.
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE"),
        ]);
        assert_eq!(endpoint_override(Service::S3, &env), None);
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false"),
        ]);
        assert_eq!(endpoint_override(Service::S3, &env).as_deref(), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn only_plain_http_skips_the_roots() {
        assert!(is_plain_http("http://127.0.0.1:4566"));
        assert!(is_plain_http(" HTTP://localhost"));
        assert!(!is_plain_http("https://s3.us-east-1.amazonaws.com"));
        assert!(!is_plain_http("http:/"));
        assert!(!is_plain_http(""));
    }

    #[test]
    fn the_client_without_roots_builds() {
        assert!(plain_http_client().is_ok());
    }
}
