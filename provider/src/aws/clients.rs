//! AWS SDK clients built once per ConfigureProvider and shared by every
//! resource and data source.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;

use super::config::ProviderConfig;
use crate::tfplugin::{Diagnostic, Diagnostics};

pub struct AwsClients {
    pub batch: aws_sdk_batch::Client,
    pub efs: aws_sdk_efs::Client,
    pub s3: aws_sdk_s3::Client,
    pub region: String,
    pub default_tags: BTreeMap<String, String>,
}

/// A service's config from the shared one, with the service's own endpoint
/// override applied when the provider block sets one.
macro_rules! service_config {
    ($svc:ident, $builder:expr, $endpoint:expr) => {{
        let mut builder: $svc::config::Builder = $builder;
        if let Some(url) = $endpoint {
            builder = builder.endpoint_url(url);
        }
        builder.build()
    }};
}

impl AwsClients {
    pub async fn build(config: &ProviderConfig) -> Result<AwsClients, Diagnostics> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let attempts = config.max_retries.unwrap_or(3) + 1;
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(attempts));
        let mut sdk = loader.load().await;
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            return Err(Diagnostic::error(
                "No AWS region",
                "Set `region` in the provider block, or AWS_REGION, or a region in your AWS profile.",
            )
            .into());
        };
        if let Some(arn) = &config.assume_role_arn {
            sdk = assume_role(sdk, arn, config).await;
        }
        Ok(AwsClients {
            batch: aws_sdk_batch::Client::from_conf(service_config!(
                aws_sdk_batch,
                aws_sdk_batch::config::Builder::from(&sdk),
                config.endpoints.get("batch")
            )),
            efs: aws_sdk_efs::Client::from_conf(service_config!(
                aws_sdk_efs,
                aws_sdk_efs::config::Builder::from(&sdk),
                config.endpoints.get("efs")
            )),
            // Path-style addressing when an endpoint is overridden: moto and
            // LocalStack serve every bucket on one host.
            s3: aws_sdk_s3::Client::from_conf(service_config!(
                aws_sdk_s3,
                aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.endpoint_for("s3").is_some()),
                config.endpoints.get("s3")
            )),
            region,
            default_tags: config.default_tags.clone(),
        })
    }
}

/// Every call then runs as the role; the base credentials only call STS
/// (through the `sts` endpoint override when one is set).
async fn assume_role(sdk: SdkConfig, arn: &str, config: &ProviderConfig) -> SdkConfig {
    let mut sts_sdk = sdk.to_builder();
    if let Some(url) = config.endpoint_for("sts") {
        sts_sdk.set_endpoint_url(Some(url.to_string()));
    }
    let provider = AssumeRoleProvider::builder(arn)
        .session_name("terraform-provider-batch")
        .configure(&sts_sdk.build())
        .build()
        .await;
    sdk.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
}

/// Where resources find the clients once ConfigureProvider has run.
#[derive(Clone, Default)]
pub struct ClientSlot(Arc<RwLock<Option<Arc<AwsClients>>>>);

impl ClientSlot {
    pub fn set(&self, clients: AwsClients) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(Arc::new(clients));
        }
    }

    pub fn get(&self) -> Result<Arc<AwsClients>, Diagnostics> {
        self.0.read().ok().and_then(|slot| slot.clone()).ok_or_else(|| {
            Diagnostic::error(
                "Provider not configured",
                "ConfigureProvider has not run; this is a bug in Terraform or the provider.",
            )
            .into()
        })
    }
}
