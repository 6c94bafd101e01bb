//! Egress deleting a queue-fed run's messages (prep/messages.json), as the
//! binaries run, against moto's SQS and S3: a message goes only once every
//! node holding its objects has uploaded, a retried egress is harmless, a
//! node that never finishes keeps its messages.
#![cfg(feature = "aws")]

use std::process::Output;

use batch_jobs::layout::{
    EgressSpec, NodeMessages, NodeSlice, QueueMessage, RunConfig, RunLayout, SourceSpec, Stage,
    SyntheticFormat,
};
use batch_jobs::transform::TransformSpec;
use testkit::MotoServer;

mod common;

struct Env {
    moto: MotoServer,
    efs: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Env {
    fn new() -> Env {
        let moto = MotoServer::start().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let s3 = common::s3_client(&moto);
        let conf = aws_sdk_sqs::config::Builder::new()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .endpoint_url(moto.endpoint())
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .build();
        let sqs = aws_sdk_sqs::Client::from_conf(conf);
        let queue_url = rt.block_on(async {
            s3.create_bucket().bucket("egress").send().await.unwrap();
            sqs.create_queue().queue_name("work").send().await.unwrap().queue_url.unwrap()
        });
        Env { moto, efs: tempfile::tempdir().unwrap(), rt, sqs, queue_url }
    }

    /// Sends `bodies` and receives them (visibility one hour): each body's
    /// message id and receipt handle.
    fn receive(&self, bodies: &[&str]) -> Vec<(String, String, String)> {
        self.rt.block_on(async {
            for body in bodies {
                self.sqs.send_message().queue_url(&self.queue_url).message_body(*body).send().await.unwrap();
            }
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(3600)
                .send()
                .await
                .unwrap();
            out.messages()
                .iter()
                .map(|m| {
                    (
                        m.body().unwrap().to_string(),
                        m.message_id().unwrap().to_string(),
                        m.receipt_handle().unwrap().to_string(),
                    )
                })
                .collect()
        })
    }

    /// (visible, in flight) messages of the queue.
    fn depth(&self) -> (u64, u64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        self.rt.block_on(async {
            let attrs = self
                .sqs
                .get_queue_attributes()
                .queue_url(&self.queue_url)
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

    fn stage(&self, stage: Stage, run_id: &str, index: u32) -> Output {
        common::stage_command(&self.moto, self.efs.path(), stage, run_id, index).output().unwrap()
    }

    fn node(&self, run_id: &str, index: u32) -> Output {
        let mut last = None;
        for stage in Stage::ALL {
            let out = self.stage(stage, run_id, index);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{stage} {index}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            last = Some(out);
        }
        last.unwrap()
    }
}

/// A two-node run with synthetic data whose nodes hold these messages.
fn run_with_messages(env: &Env, run_id: &str, messages: [Vec<QueueMessage>; 2]) -> RunLayout {
    let layout = RunLayout::new(env.efs.path(), run_id).unwrap();
    let config = RunConfig::new(
        run_id,
        2,
        SourceSpec::Synthetic { format: SyntheticFormat::YelpJsonl, records_per_id: 1 },
        TransformSpec::JsonlCalc { calculations: vec!["review_score = stars * review_count".into()] },
        Some(EgressSpec {
            bucket: "egress".into(),
            prefix: "out".into(),
            multipart_threshold_bytes: 16 << 20,
            part_size_bytes: 8 << 20,
        }),
    );
    layout.create_run(&config).unwrap();
    layout.write_node_slices(&[NodeSlice::range(0, 0, 5), NodeSlice::range(1, 5, 10)]).unwrap();
    for (index, list) in messages.into_iter().enumerate() {
        let node = layout.node(index as u32);
        let written = NodeMessages::new(index as u32, &env.queue_url, list);
        node.write_messages(&written).unwrap();
        assert_eq!(node.read_messages().unwrap(), Some(written));
    }
    layout
}

fn message(received: &(String, String, String), nodes: &[u32]) -> QueueMessage {
    QueueMessage { message_id: received.1.clone(), receipt_handle: received.2.clone(), nodes: nodes.to_vec() }
}

fn log_line(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.contains("queue messages deleted")).collect()
}

#[test]
fn a_message_goes_once_every_node_holding_its_objects_has_uploaded() {
    let env = Env::new();
    let got = env.receive(&["only-0", "only-1", "both"]);
    let by_body = |b: &str| got.iter().find(|m| m.0 == b).unwrap();
    let (only0, only1, both) = (by_body("only-0"), by_body("only-1"), by_body("both"));
    run_with_messages(
        &env,
        "q1",
        [
            vec![message(only0, &[0]), message(both, &[0, 1])],
            vec![message(only1, &[1]), message(both, &[0, 1])],
        ],
    );
    assert_eq!(env.depth(), (0, 3));

    // Node 0 done: its own message goes, the shared one waits for node 1.
    let out = env.node("q1", 0);
    let line = log_line(&out);
    assert!(line.contains("\"deleted\":1") && line.contains("\"waiting\":1"), "{line}");
    assert_eq!(env.depth(), (0, 2));

    // Egress 0 retried (AWS Batch's retry, or a rerun): nothing more to
    // delete, and a handle already used is not a failure.
    let again = env.stage(Stage::Egress, "q1", 0);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(env.depth(), (0, 2));

    // Node 1 done: its message and the shared one go.
    let out = env.node("q1", 1);
    let line = log_line(&out);
    assert!(line.contains("\"waiting\":0"), "{line}");
    assert_eq!(env.depth(), (0, 0));
}

#[test]
fn a_node_that_does_not_finish_keeps_its_messages_and_a_run_without_a_queue_touches_none() {
    let env = Env::new();
    let got = env.receive(&["a", "b"]);
    run_with_messages(&env, "q2", [vec![message(&got[0], &[0])], vec![message(&got[1], &[1])]]);
    env.node("q2", 0);
    // Node 1 got as far as processing only.
    for stage in [Stage::Procurement, Stage::Processing] {
        assert_eq!(env.stage(stage, "q2", 1).status.code(), Some(0));
    }
    assert_eq!(env.depth(), (0, 1), "node 1's message is still in flight, to come back");

    // A run that is not queue-fed has no messages.json: egress deletes nothing.
    let layout = RunLayout::new(env.efs.path(), "plain").unwrap();
    let config = RunConfig::new(
        "plain",
        1,
        SourceSpec::Synthetic { format: SyntheticFormat::YelpJsonl, records_per_id: 1 },
        TransformSpec::JsonlCalc { calculations: vec!["review_score = stars * review_count".into()] },
        Some(EgressSpec {
            bucket: "egress".into(),
            prefix: "out".into(),
            multipart_threshold_bytes: 16 << 20,
            part_size_bytes: 8 << 20,
        }),
    );
    layout.create_run(&config).unwrap();
    layout.write_slice(&NodeSlice::range(0, 0, 3)).unwrap();
    let out = env.node("plain", 0);
    assert!(log_line(&out).is_empty());
    assert_eq!(env.depth(), (0, 1));
}
