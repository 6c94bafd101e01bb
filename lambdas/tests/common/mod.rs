//! Fixtures shared by the lambdas tests: moto set up for S3 and Batch, the
//! compiled functions started against a runtime-API stand-in, and fake AWS
//! endpoints for what moto cannot show (throttling, RUNNABLE children).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_batch::types::{
    ArrayProperties, CeState, CeType, ComputeEnvironmentOrder, ContainerProperties, JobDependency, JqState,
    KeyValuePair, ResourceRequirement, ResourceType,
};
use serde_json::{Value, json};
use testkit::http;

/// A pipeline run config (contract version 1) over an S3 source.
pub fn s3_config(efs: &Path, bucket: &str, prefix: &str, suffix: &str, items_per_node: u32) -> Value {
    json!({
        "version": 1,
        "pipeline": "test",
        "efs_mount_path": efs.display().to_string(),
        "source": {"type": "s3", "bucket": bucket, "prefix": prefix, "suffix": suffix},
        "items_per_node": items_per_node,
        "max_nodes": 10000,
        "balance": "count",
        "transform": {"kind": "csv_validate", "rules": {"builtin": "ghcn-daily"}},
        "egress": {"bucket": "out", "prefix": "results"},
        "job_definitions": {"procurement": "p", "processing": "q", "egress": "e"},
        "job_queue": "queue"
    })
}

/// A pipeline run config over synthetic ids.
pub fn synthetic_config(efs: &Path, count: u64, items_per_node: u32) -> Value {
    json!({
        "version": 1,
        "pipeline": "test",
        "efs_mount_path": efs.display().to_string(),
        "source": {"type": "synthetic", "count": count},
        "items_per_node": items_per_node,
        "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
        "egress": {"bucket": "out", "prefix": "results"}
    })
}

/// Creates `bucket` and puts `keys` (body: `size` bytes), 32 at a time.
pub async fn put_objects(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[(String, usize)]) {
    let _ = s3.create_bucket().bucket(bucket).send().await;
    for chunk in keys.chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for (key, size) in chunk {
            let put = s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(vec![b'x'; *size]));
            set.spawn(async move { put.send().await });
        }
        while let Some(done) = set.join_next().await {
            done.expect("put task").expect("put_object");
        }
    }
}

/// moto's Batch without docker: jobs go straight to SUCCEEDED (or FAILED
/// when the server runs with `MOTO_SIMPLE_BATCH_FAIL_AFTER=0`).
pub fn use_simple_batch(endpoint: &str) {
    moto_batch_role(endpoint);
    let addr = endpoint.trim_start_matches("http://");
    let status = http::post_json(addr, "/moto-api/config", &json!({"batch": {"use_docker": false}}))
        .expect("moto config");
    assert!((200..300).contains(&status), "moto config answered {status}");
}

/// The IAM role moto wants to exist before it creates a compute
/// environment (IAM's query API by hand: no IAM SDK just for this).
pub fn moto_batch_role(endpoint: &str) {
    let addr = endpoint.trim_start_matches("http://");
    let body = "Action=CreateRole&Version=2010-05-08&RoleName=batch&AssumeRolePolicyDocument=%7B%7D";
    let status = http::post(
        addr,
        "/",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"),
        ],
        body,
    )
    .expect("iam CreateRole");
    assert!((200..300).contains(&status), "CreateRole answered {status}");
}

/// A job queue and a job definition in moto; returns their ARNs.
pub async fn batch_queue(batch: &aws_sdk_batch::Client) -> (String, String) {
    let ce = batch
        .create_compute_environment()
        .compute_environment_name("test-ce")
        .r#type(CeType::Unmanaged)
        .state(CeState::Enabled)
        .service_role("arn:aws:iam::123456789012:role/batch")
        .send()
        .await
        .expect("compute environment");
    let queue = batch
        .create_job_queue()
        .job_queue_name("test-queue")
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(ce.compute_environment_arn().unwrap_or_default())
                .build(),
        )
        .send()
        .await
        .expect("job queue");
    let def = batch
        .register_job_definition()
        .job_definition_name("test-def")
        .r#type(aws_sdk_batch::types::JobDefinitionType::Container)
        .container_properties(
            ContainerProperties::builder()
                .image("scratch")
                .resource_requirements(
                    ResourceRequirement::builder().r#type(ResourceType::Vcpu).value("1").build(),
                )
                .resource_requirements(
                    ResourceRequirement::builder().r#type(ResourceType::Memory).value("128").build(),
                )
                .environment(KeyValuePair::builder().name("STAGE").value("test").build())
                .command("true")
                .build(),
        )
        .send()
        .await
        .expect("job definition");
    (
        queue.job_queue_arn().unwrap_or_default().to_string(),
        def.job_definition_arn().unwrap_or_default().to_string(),
    )
}

/// Submits the three stages as arrays of `size` with N_TO_N dependencies,
/// as the state machine does; returns stage -> job id.
pub async fn submit_run(
    batch: &aws_sdk_batch::Client,
    queue: &str,
    def: &str,
    size: i32,
) -> Vec<(String, String)> {
    let mut ids: Vec<(String, String)> = Vec::new();
    for stage in ["procurement", "processing", "egress"] {
        let mut submit = batch
            .submit_job()
            .job_name(format!("run-{stage}"))
            .job_queue(queue)
            .job_definition(def)
            .array_properties(ArrayProperties::builder().size(size).build());
        if let Some((_, previous)) = ids.last() {
            submit = submit.depends_on(
                JobDependency::builder()
                    .job_id(previous)
                    .r#type(aws_sdk_batch::types::ArrayJobDependency::NToN)
                    .build(),
            );
        }
        let out = submit.send().await.expect("submit_job");
        ids.push((stage.to_string(), out.job_id().unwrap_or_default().to_string()));
    }
    ids
}

/// moto with extra environment (testkit's fixture takes none), on a free
/// 127.0.0.1 port; killed when dropped.
pub struct OwnMoto {
    child: Child,
    pub endpoint: String,
}

impl OwnMoto {
    pub fn start(env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(testkit::paths::moto_server_bin());
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("moto_server");
        let addr = format!("127.0.0.1:{port}");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            // A moto that died is the failure; the 30 s only keeps one that
            // never listens from hanging the suite (no claim about speed).
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited before listening: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnMoto { child, endpoint: format!("http://{addr}") }
    }
}

impl Drop for OwnMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SDK config for any endpoint (moto or a fake), dummy credentials.
pub fn sdk_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .retry_config(batch_lambdas::runtime::retry_config())
        .timeout_config(batch_lambdas::runtime::timeout_config())
        .build()
}

/// A compiled function (`CARGO_BIN_EXE_prep`...) talking to `api`, with
/// only the environment Lambda would give it plus `extra`. Killed on drop.
pub struct FunctionProcess {
    pub child: Child,
    pub stderr_path: tempfile::TempPath,
}

impl FunctionProcess {
    pub fn start(bin: &str, api: &str, aws_endpoint: &str, extra: &[(&str, String)]) -> Self {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "test-fn")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test-fn")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", aws_endpoint)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.reopen().unwrap());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        FunctionProcess { child, stderr_path: stderr.into_temp_path() }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Still running (it must survive every error it reports).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory standing in for EFS: on tmpfs (`/dev/shm`) when
/// there is one, because this machine's root file system needs ~200 µs per
/// mkdir and seconds to delete 40,000 directories, which would make a
/// 10,000-node test a minute long for reasons that are not ours.
pub fn efs_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new().prefix("efs-").tempdir_in(shm)
    {
        return dir;
    }
    tempfile::Builder::new().prefix("efs-").tempdir().expect("temp dir")
}

/// Prep's clients, all against moto, and no EFS root (each test passes its
/// own directory in the event).
pub fn prep_deps(moto: &testkit::MotoServer) -> batch_lambdas::prep::PrepDeps {
    let sdk = testkit::aws::sdk_config(moto);
    batch_lambdas::prep::PrepDeps {
        s3: batch_lambdas::runtime::s3_client(&sdk),
        sqs: batch_lambdas::runtime::sqs_client(&sdk),
        secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        efs_root: None,
    }
}
