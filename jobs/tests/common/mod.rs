//! What the integration tests that talk to S3 share.

use testkit::MotoServer;

/// An S3 client for `moto` with its dummy credentials (path-style: a
/// local server has no per-bucket host names).
pub fn s3_client(moto: &MotoServer) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
