//! AWS SDK configuration pointing at a test's moto server, so tests can
//! check the AWS side of what Terraform did.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_types::SdkConfig;

use crate::MotoServer;

pub fn sdk_config(moto: &MotoServer) -> SdkConfig {
    sdk_config_at(&moto.endpoint())
}

/// The same, for another endpoint in front of moto (a fault proxy).
pub fn sdk_config_at(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            Credentials::new("testing", "testing", None, None, "testkit"),
        ))
        .build()
}
