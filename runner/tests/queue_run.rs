//! Queue-fed runs end to end: S3 event notifications in moto's SQS, the
//! real prep/watcher/job binaries through `batch-pipeline run`, a temp dir
//! as EFS. What a run must never do: lose a message, or delete one whose
//! object it did not finish.

mod binaries;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use binaries::{build_binaries, definition, outcome, run_command, runner};
use serde_json::{Value, json};

/// A test's moto, its SQS queue (with a dead-letter queue after
/// `max_receives` receives), the source bucket `src` and egress bucket `out`.
struct Queue {
    moto: testkit::MotoServer,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    url: String,
    dlq_url: String,
}

impl Queue {
    fn start(max_receives: u32) -> Queue {
        build_binaries();
        let moto = testkit::MotoServer::start().expect("moto");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let conf = testkit::aws::sdk_config(&moto);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build(),
        );
        let sqs = aws_sdk_sqs::Client::new(&conf);
        let (url, dlq_url) = rt.block_on(async {
            for bucket in ["src", "out"] {
                s3.create_bucket().bucket(bucket).send().await.expect("create bucket");
            }
            let dlq_url = sqs.create_queue().queue_name("work-dlq").send().await.unwrap().queue_url.unwrap();
            let dlq_arn = sqs
                .get_queue_attributes()
                .queue_url(&dlq_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
                .clone();
            let redrive =
                json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()});
            let url = sqs
                .create_queue()
                .queue_name("work")
                .attributes(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy, redrive.to_string())
                .send()
                .await
                .unwrap()
                .queue_url
                .unwrap();
            (url, dlq_url)
        });
        Queue { moto, dir: tempfile::tempdir().unwrap(), rt, s3, sqs, url, dlq_url }
    }

    /// Puts `key` (two JSON lines) into `src`.
    fn put(&self, key: &str) {
        let body = "{\"stars\": 4, \"review_count\": 10}\n{\"stars\": 2, \"review_count\": 3}\n";
        self.rt.block_on(async {
            self.s3
                .put_object()
                .bucket("src")
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        });
    }

    /// Sends a message body as S3 would.
    fn send(&self, body: &str) {
        self.rt.block_on(async {
            self.sqs.send_message().queue_url(&self.url).message_body(body).send().await.unwrap();
        });
    }

    /// Sends the ObjectCreated notification of `key` in `bucket`.
    fn notify(&self, bucket: &str, key: &str) {
        self.send(&created_event(bucket, key));
    }

    /// Every message body visible in `queue_url` now (received with a
    /// zero visibility timeout, so the queue is left as it was apart from
    /// the receive counts, which this receive raises by one).
    fn bodies(&self, queue_url: &str) -> Vec<String> {
        self.rt.block_on(async {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
            out.messages().iter().filter_map(|m| m.body().map(String::from)).collect()
        })
    }

    /// How many messages `queue_url` holds, visible or in flight.
    fn depth(&self, queue_url: &str) -> (u64, u64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        self.rt.block_on(async {
            let attrs = self
                .sqs
                .get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(A::ApproximateNumberOfMessages)
                .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap();
            let n = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
            (n(A::ApproximateNumberOfMessages), n(A::ApproximateNumberOfMessagesNotVisible))
        })
    }

    /// Keys under `out/results/<run_id>/` (the run's uploaded results).
    fn outputs(&self, run_id: &str) -> BTreeSet<String> {
        self.rt.block_on(async {
            let out = self
                .s3
                .list_objects_v2()
                .bucket("out")
                .prefix(format!("results/{run_id}/"))
                .send()
                .await
                .unwrap();
            out.contents().iter().filter_map(|o| o.key().map(String::from)).collect()
        })
    }

    /// One `batch-pipeline run` of the queue source.
    fn run(&self, args: &[&str], max_messages: u32, visibility: u32) -> (bool, Value, String) {
        let config = json!({
            "version": 1,
            "pipeline": "t",
            "efs_mount_path": "/mnt/efs",
            "source": {
                "type": "sqs", "queue_url": self.url, "bucket": "src", "prefix": "in/", "suffix": ".jsonl",
                "max_messages": max_messages, "visibility_timeout_seconds": visibility,
            },
            "items_per_node": 2,
            "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
            "egress": {"bucket": "out", "prefix": "results"},
        });
        let input = self.dir.path().join("input.json");
        std::fs::write(&input, json!({"config": config, "overrides": {"trigger": "schedule"}}).to_string())
            .unwrap();
        let summary = self.dir.path().join("summary.json");
        let out = run_command(&definition(), &input, &self.dir.path().join("efs"), &summary)
            .arg("--no-progress")
            .args(args)
            .envs(self.moto.aws_env())
            .output()
            .unwrap();
        outcome(&out, &summary)
    }

    fn efs(&self) -> PathBuf {
        self.dir.path().join("efs")
    }

    /// Checks every request moto recorded since `start-recording` against
    /// AWS's service models (tests/contract/aws_contract.py): moto accepts
    /// a ReceiveMessage or DeleteMessageBatch that SQS would refuse.
    /// Returns the checker's report.
    fn check_contract(&self) -> String {
        self.moto.recorder("stop-recording").expect("stop recording");
        let checker = testkit::paths::repo_root().join("tests/contract/aws_contract.py");
        let python = testkit::paths::tools_venv().join("bin/python");
        let out =
            Command::new(python).arg(checker).arg(self.moto.recording_path()).output().expect("checker");
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "requests AWS would refuse:\n{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        report
    }
}

fn created_event(bucket: &str, key: &str) -> String {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-06T09:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "queue",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": key, "size": 60, "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B"}}
    }]})
    .to_string()
}

/// The key a message body announces (`None` for anything else).
fn announced(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v["Records"][0]["s3"]["object"]["key"].as_str().map(String::from)
}

fn wait_for_visibility(seconds: u64) {
    std::thread::sleep(std::time::Duration::from_millis(seconds * 1000 + 300));
}

/// Six objects on three nodes; node 1's processing fails for good. Its
/// two messages come back after the visibility timeout; the other nodes'
/// messages (with a duplicate event of one of their objects) are gone; a
/// message for an object deleted since and S3's test event are deleted by
/// prep (recorded in queue.json); a malformed message is left alone. The
/// next run processes node 1's objects and deletes their messages; the
/// malformed message ends in the dead-letter queue after its receives, and
/// the run after that finds the queue empty (NO_WORK).
#[test]
fn a_failed_nodes_messages_come_back_and_everything_else_is_deleted_once_done() {
    // Three receives: the first run's, this test's look at what came
    // back (a receive too), the second run's; the third run's receive
    // moves what is still there to the dead-letter queue.
    let q = Queue::start(3);
    let keys: Vec<String> = (0..6).map(|i| format!("in/part-{i}.jsonl")).collect();
    for key in &keys {
        q.put(key);
        q.notify("src", key);
    }
    q.notify("src", &keys[4]); // S3 delivering an event twice
    q.notify("src", "in/deleted-since.jsonl"); // never there (or deleted)
    q.send(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"src"}"#);
    q.send("{\"Records\": [truncated");
    q.notify("src", "in/part+7.txt"); // outside the suffix filter: done without work
    assert_eq!(q.depth(&q.url), (11, 0));

    q.moto.recorder("start-recording").expect("record");
    let (ok, s, stderr) = q.run(&["--inject-failure", "processing:1:65"], 100, 3);
    assert!(!ok, "{stderr}");
    assert_eq!(s["error"], "PipelineRunFailed", "{s:#}");
    assert_eq!(s["array_size"], 3, "{s:#}");
    assert_eq!(s["failed_indices"]["processing"], "1");
    assert_eq!(
        s["prep"]["queue"],
        json!({"received": 11, "kept": 7, "duplicates": 1, "deleted": 3, "left": 1}),
        "{s:#}"
    );
    let run_id = s["run_id"].as_str().unwrap().to_string();
    // Nodes 0 and 2 uploaded; node 1 did not.
    let outputs = q.outputs(&run_id);
    assert!(outputs.iter().any(|k| k.starts_with(&format!("results/{run_id}/0/"))), "{outputs:?}");
    assert!(outputs.iter().any(|k| k.starts_with(&format!("results/{run_id}/2/"))), "{outputs:?}");
    assert!(!outputs.iter().any(|k| k.starts_with(&format!("results/{run_id}/1/"))), "{outputs:?}");
    // Node 1's two messages are in flight; the malformed one was made
    // visible again at once (so it reaches the dead-letter queue in a few
    // receives, not a few visibility timeouts); nothing else is left.
    assert_eq!(q.depth(&q.url), (1, 2));
    let record: Value = serde_json::from_slice(
        &std::fs::read(q.efs().join("runs").join(&run_id).join("queue.json")).unwrap(),
    )
    .unwrap();
    let reasons: Vec<&str> =
        record["skipped"].as_array().unwrap().iter().filter_map(|s| s["reason"].as_str()).collect();
    assert!(reasons.iter().any(|r| r.contains("no longer exists")), "{record:#}");
    assert!(reasons.iter().any(|r| r.contains("s3:TestEvent")), "{record:#}");
    assert!(reasons.iter().any(|r| r.starts_with("not an S3 event notification: line 1")), "{record:#}");

    wait_for_visibility(3);
    let back: BTreeSet<Option<String>> = q.bodies(&q.url).iter().map(|b| announced(b)).collect();
    assert_eq!(
        back,
        [None, Some(keys[2].clone()), Some(keys[3].clone())].into(),
        "node 1's messages and the malformed one"
    );

    // The next run takes them again: node 1's objects are processed and
    // their messages deleted; the malformed one is left (its second receive).
    let (ok, s, stderr) = q.run(&[], 100, 3);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(
        s["prep"]["queue"],
        json!({"received": 3, "kept": 2, "duplicates": 0, "deleted": 0, "left": 1})
    );
    let second = s["run_id"].as_str().unwrap().to_string();
    let outputs = q.outputs(&second);
    assert!(outputs.iter().any(|k| k.ends_with("part-2.jsonl")), "{outputs:?}");
    assert!(outputs.iter().any(|k| k.ends_with("part-3.jsonl")), "{outputs:?}");

    // Its third receive moves the malformed message to the dead-letter
    // queue; the queue is empty: NO_WORK, nothing submitted.
    wait_for_visibility(3);
    let (ok, s, stderr) = q.run(&[], 100, 3);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["final_state"], "NoWork", "{s:#}");
    assert_eq!(s["stages"], json!({}));
    assert_eq!(q.depth(&q.url), (0, 0));
    let dead = q.bodies(&q.dlq_url);
    assert_eq!(dead, ["{\"Records\": [truncated"]);

    let report = q.check_contract();
    for op in ["sqs.ReceiveMessage", "sqs.DeleteMessageBatch", "s3.HeadObject"] {
        assert!(report.contains(&format!("  {op}\n")), "{op} was never checked:\n{report}");
    }
}

/// The pause switch stops new runs, never the one going: a notification
/// that arrives while a run works is not taken by it and waits in the
/// queue, untouched (never received), for the next run. The run's
/// procurement here is a wrapper that sends one more notification (as S3
/// would for an object uploaded meanwhile) before doing its work.
#[test]
fn a_notification_arriving_during_a_run_waits_untouched_for_the_next() {
    let q = Queue::start(5);
    for i in 0..3 {
        let key = format!("in/early-{i}.jsonl");
        q.put(&key);
        q.notify("src", &key);
    }
    q.put("in/late.jsonl");
    let bin_dir = q.dir.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let built = runner().parent().unwrap().to_path_buf();
    for name in ["prep", "watcher", "processing", "egress"] {
        std::os::unix::fs::symlink(built.join(name), bin_dir.join(name)).unwrap();
    }
    let send = format!(
        "import boto3, sys; boto3.client('sqs', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing').send_message(QueueUrl='{}', \
         MessageBody=sys.argv[1])",
        q.moto.endpoint(),
        q.url
    );
    let wrapper = bin_dir.join("procurement");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\n[ \"$AWS_BATCH_JOB_ARRAY_INDEX\" = 0 ] && {python} -c \"{send}\" '{body}'\nexec {real} \"$@\"\n",
            python = testkit::paths::tools_venv().join("bin/python").display(),
            body = created_event("src", "in/late.jsonl"),
            real = built.join("procurement").display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let (ok, s, stderr) = q.run(&["--bin-dir", bin_dir.to_str().unwrap()], 100, 60);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["prep"]["queue"]["received"], 3, "{s:#}");
    assert_eq!(q.depth(&q.url), (1, 0), "the late notification waits, visible");
    let (ok, s, stderr) = q.run(&[], 100, 60);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["prep"]["queue"]["received"], 1);
    let outputs = q.outputs(s["run_id"].as_str().unwrap());
    assert!(outputs.iter().any(|k| k.ends_with("late.jsonl")), "{outputs:?}");
    assert_eq!(q.depth(&q.url), (0, 0));
}

/// A run takes at most `max_messages`; what it does not take stays in the
/// queue untouched, as do messages sent while it runs (the pause switch
/// stops new runs, never a queue's messages).
#[test]
fn a_run_takes_at_most_max_messages_and_the_rest_stay_queued() {
    let q = Queue::start(5);
    for i in 0..5 {
        let key = format!("in/x{i}.jsonl");
        q.put(&key);
        q.notify("src", &key);
    }
    let (ok, s, stderr) = q.run(&[], 3, 60);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["prep"]["queue"]["received"], 3);
    assert_eq!(s["prep"]["items"], 3);
    assert_eq!(q.depth(&q.url), (2, 0), "three deleted, two never received");
}

/// Notifications as S3 itself sends them (moto's S3 delivering to its SQS):
/// the test event a new notification configuration sends, keys URL-encoded
/// (`+` for a space), the notification's own prefix/suffix filter, and an
/// object written twice (two events, one object processed once, both
/// messages deleted).
#[test]
fn notifications_from_s3_itself_run_with_their_encoded_keys() {
    let q = Queue::start(5);
    q.rt.block_on(async {
        let arn = q
            .sqs
            .get_queue_attributes()
            .queue_url(&q.url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        use aws_sdk_s3::types::{
            Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
            QueueConfiguration, S3KeyFilter,
        };
        let filter = S3KeyFilter::builder()
            .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value("in/").build())
            .filter_rules(FilterRule::builder().name(FilterRuleName::Suffix).value(".jsonl").build())
            .build();
        let queue = QueueConfiguration::builder()
            .id("queue")
            .queue_arn(arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(NotificationConfigurationFilter::builder().key(filter).build())
            .build()
            .unwrap();
        q.s3.put_bucket_notification_configuration()
            .bucket("src")
            .notification_configuration(
                NotificationConfiguration::builder().queue_configurations(queue).build(),
            )
            .send()
            .await
            .unwrap();
    });
    for key in ["in/a b+c.jsonl", "in/café/d.jsonl", "in/skip.txt", "in/a b+c.jsonl"] {
        q.put(key);
    }
    assert_eq!(q.depth(&q.url), (4, 0), "the test event and three Object Created events");

    let (ok, s, stderr) = q.run(&[], 100, 60);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(
        s["prep"]["queue"],
        json!({"received": 4, "kept": 3, "duplicates": 1, "deleted": 1, "left": 0})
    );
    assert_eq!(s["prep"]["items"], 2);
    let outputs = q.outputs(s["run_id"].as_str().unwrap());
    assert!(outputs.iter().any(|k| k.ends_with("/a b+c.jsonl")), "{outputs:?}");
    assert!(outputs.iter().any(|k| k.ends_with("/café/d.jsonl")), "{outputs:?}");
    assert_eq!(q.depth(&q.url), (0, 0));
}
