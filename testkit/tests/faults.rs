//! The fault proxy in front of a real moto, driven by the AWS SDKs the
//! project uses: each fault reaches the SDK as AWS's own would (a throttle
//! is retried as a throttle, a 5xx as transient), a reset after the request
//! leaves the call done upstream, a reset before leaves it undone, answers
//! pass unchanged, and a seed replays the same faults.

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use testkit::MotoServer;
use testkit::faults::{FaultKind, FaultProxy, FaultSpec};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// SDK configuration for `endpoint`, `attempts` tries a call, backoff short.
fn config(endpoint: &str, attempts: u32) -> aws_types::SdkConfig {
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5));
    testkit::aws::sdk_config_at(endpoint).into_builder().retry_config(retry).build()
}

fn s3(endpoint: &str, attempts: u32) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&config(endpoint, attempts)).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn proxy(moto: &MotoServer, spec: &str) -> FaultProxy {
    FaultProxy::start_for_url(&moto.endpoint(), spec.parse().unwrap()).unwrap()
}

async fn object(client: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let got = client.get_object().bucket("bkt").key(key).send().await.ok()?;
    Some(got.body.collect().await.unwrap().into_bytes().to_vec())
}

#[test]
fn each_service_throttles_in_its_own_shape_and_the_sdk_retries_it_as_a_throttle() {
    let moto = MotoServer::start().unwrap();
    let rt = runtime();
    let throttling = proxy(&moto, "throttle=1");
    rt.block_on(async {
        let url = throttling.url();
        let e = s3(&url, 1).list_buckets().send().await.unwrap_err();
        assert_eq!(e.code(), Some("SlowDown"), "{e:?}");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
        let batch = aws_sdk_batch::Client::new(&config(&url, 1));
        let e = batch.describe_job_queues().send().await.unwrap_err();
        assert_eq!(e.code(), Some("TooManyRequestsException"), "{e:?}");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(429));
        let efs = aws_sdk_efs::Client::new(&config(&url, 1));
        let e = efs.describe_file_systems().send().await.unwrap_err();
        assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");

        // With three attempts each call is tried three times: the SDK took
        // every shape for a retryable error.
        let before = throttling.requests();
        let _ = s3(&url, 3).list_buckets().send().await.unwrap_err();
        let _ = aws_sdk_batch::Client::new(&config(&url, 3)).describe_job_queues().send().await.unwrap_err();
        let _ = aws_sdk_efs::Client::new(&config(&url, 3)).describe_file_systems().send().await.unwrap_err();
        assert_eq!(throttling.requests() - before, 9);
    });
    let report = throttling.report();
    assert_eq!(report["injected"]["throttle"], 12, "{report:#}");
    assert_eq!(report["by_operation"]["batch DescribeJobQueues"]["throttle"], 4, "{report:#}");
    assert_eq!(report["by_operation"]["elasticfilesystem DescribeFileSystems"]["throttle"], 4, "{report:#}");
}

#[test]
fn server_errors_are_transient_and_answers_pass_unchanged() {
    let moto = MotoServer::start().unwrap();
    let rt = runtime();
    let failing = proxy(&moto, "seed=1,error=1,ops=ListBuckets");
    rt.block_on(async {
        let client = s3(&failing.url(), 3);
        let e = client.list_buckets().send().await.unwrap_err();
        let status = e.raw_response().map(|r| r.status().as_u16());
        assert!(matches!(status, Some(500 | 503)), "{e:?}");
        assert_eq!(failing.requests(), 3, "a 5xx is retried");

        // Other operations pass: bodies, HEAD's length, errors of moto's own.
        client.create_bucket().bucket("bkt").send().await.unwrap();
        let body = vec![7u8; 300_000];
        client.put_object().bucket("bkt").key("k").body(ByteStream::from(body.clone())).send().await.unwrap();
        let head = client.head_object().bucket("bkt").key("k").send().await.unwrap();
        assert_eq!(head.content_length(), Some(300_000));
        assert_eq!(object(&client, "k").await, Some(body));
        let e = client.get_object().bucket("bkt").key("missing").send().await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchKey"));
    });
    let report = failing.report();
    assert_eq!(report["injected"]["error"], 3, "{report:#}");
}

#[test]
fn a_reset_after_the_request_leaves_the_call_done_and_a_reset_before_leaves_it_undone() {
    let moto = MotoServer::start().unwrap();
    let rt = runtime();
    let direct = s3(&moto.endpoint(), 1);
    rt.block_on(direct.create_bucket().bucket("bkt").send()).unwrap();
    for (kind, done) in [("reset-after", true), ("reset-before", false)] {
        let resetting = proxy(&moto, &format!("{kind}=1,ops=PutObject"));
        let key = format!("{kind}.txt");
        rt.block_on(async {
            let put = s3(&resetting.url(), 1)
                .put_object()
                .bucket("bkt")
                .key(&key)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await;
            assert!(put.is_err(), "{kind}: the client heard an answer");
            assert_eq!(object(&direct, &key).await.is_some(), done, "{kind}");
        });
        let kinds: Vec<FaultKind> = resetting.injected().iter().map(|i| i.kind).collect();
        assert_eq!(kinds.len(), 1, "{kind}");
        assert_eq!(kinds[0].as_str(), kind);
    }
}

#[test]
fn the_same_seed_replays_the_same_faults_and_retries_get_through() {
    let moto = MotoServer::start().unwrap();
    let rt = runtime();
    rt.block_on(s3(&moto.endpoint(), 1).create_bucket().bucket("bkt").send()).unwrap();
    let mut logs = vec![];
    for _ in 0..2 {
        let faulty = proxy(&moto, "seed=42,rate=0.4,latency=0.1,latency-ms=5");
        rt.block_on(async {
            let client = s3(&faulty.url(), 8);
            for i in 0..30 {
                let key = format!("k{i}");
                client
                    .put_object()
                    .bucket("bkt")
                    .key(&key)
                    .body(ByteStream::from(key.clone().into_bytes()))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(object(&client, &key).await, Some(key.into_bytes()));
            }
        });
        logs.push(faulty.injected());
    }
    assert_eq!(logs[0], logs[1]);
    let kinds: std::collections::BTreeSet<_> = logs[0].iter().map(|i| i.kind).collect();
    assert_eq!(kinds.len(), 5, "every kind was drawn: {kinds:?}");
}

#[test]
fn an_upstream_off_loopback_is_refused() {
    let e = FaultProxy::start("10.0.0.1:80".parse().unwrap(), FaultSpec::default()).err().unwrap();
    assert!(e.to_string().contains("loopback"), "{e}");
}

/// EFS's CreateAccessPoint is idempotent on its ClientToken in AWS; the
/// project's moto server (tools/moto_server.py) makes moto so too. A call
/// whose answer was lost and that the SDK retried makes one access point.
#[test]
fn a_create_access_point_retried_after_a_lost_answer_makes_one() {
    let spec = (0..1000)
        .map(|seed| {
            format!("seed={seed},reset-after=0.5,ops=CreateAccessPoint").parse::<FaultSpec>().unwrap()
        })
        .find(|s| {
            s.draw("elasticfilesystem", "CreateAccessPoint", 0).failure == Some(FaultKind::ResetAfter)
                && s.draw("elasticfilesystem", "CreateAccessPoint", 1).failure.is_none()
        })
        .expect("a seed");
    let moto = MotoServer::start().unwrap();
    let lost_answer = FaultProxy::start_for_url(&moto.endpoint(), spec).unwrap();
    runtime().block_on(async {
        let direct = aws_sdk_efs::Client::new(&config(&moto.endpoint(), 1));
        let fs = direct.create_file_system().creation_token("fs-token").send().await.unwrap();
        let efs = aws_sdk_efs::Client::new(&config(&lost_answer.url(), 3));
        let made = efs
            .create_access_point()
            .client_token("ap-token")
            .file_system_id(fs.file_system_id())
            .send()
            .await
            .unwrap();
        let listed =
            direct.describe_access_points().file_system_id(fs.file_system_id()).send().await.unwrap();
        let ids: Vec<_> = listed.access_points().iter().filter_map(|a| a.access_point_id()).collect();
        assert_eq!(ids, [made.access_point_id().unwrap()]);
    });
    assert_eq!(lost_answer.injected().len(), 1);
}
