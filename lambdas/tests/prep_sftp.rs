//! The prep handler over an SFTP source: a real OpenSSH server (testkit's
//! `sshd` fixture), the private key in moto's Secrets Manager, a
//! temporary directory as EFS.

mod common;

use std::os::unix::ffi::OsStrExt;

use batch_jobs::RunLayout;
use batch_jobs::layout::SourceSpec;
use batch_lambdas::ErrorKind;
use batch_lambdas::prep::{self, Mode, PrepDeps, PrepStatus};
use serde_json::{Value, json};
use testkit::{MotoServer, SshServer};

struct Env {
    sshd: SshServer,
    _moto: MotoServer,
    deps: PrepDeps,
    key_arn: String,
    efs: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        let sshd = SshServer::start().unwrap();
        let moto = MotoServer::start().unwrap();
        let sdk = testkit::aws::sdk_config(&moto);
        let deps = PrepDeps {
            s3: batch_lambdas::runtime::s3_client(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            sqs: batch_lambdas::runtime::sqs_client(&sdk),
            efs_root: None,
        };
        let secret = deps
            .secrets
            .create_secret()
            .name("feed-key")
            .secret_string(sshd.client_key().private.clone())
            .send()
            .await
            .unwrap();
        let key_arn = secret.arn().unwrap().to_string();
        Env { sshd, _moto: moto, deps, key_arn, efs: common::efs_dir() }
    }

    fn source(&self) -> Value {
        json!({
            "type": "sftp",
            "host": "127.0.0.1",
            "port": self.sshd.port(),
            "user": self.sshd.user(),
            "private_key_secret_arn": self.key_arn,
            "host_key": self.sshd.known_hosts_line(),
            "directory": self.sshd.root().display().to_string(),
            "glob": "*.xml",
        })
    }

    fn event(&self, source: Value, items_per_node: u32, run_id: &str) -> Value {
        json!({
            "config": {
                "version": 1,
                "pipeline": "test",
                "efs_mount_path": self.efs.path().display().to_string(),
                "source": source,
                "items_per_node": items_per_node,
                "balance": "count",
                "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
                "egress": {"bucket": "out", "prefix": "results"}
            },
            "overrides": {"run_id": run_id}
        })
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.sshd.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_directory_is_no_work() {
    let env = Env::new().await;
    env.write("readme.txt", b"not matched by the glob");
    let out = prep::handle(&env.deps, env.event(env.source(), 10, "r1")).await.unwrap();
    assert_eq!(out.status, PrepStatus::NoWork);
    assert_eq!((out.array_size, out.items, out.bytes), (0, 0, Some(0)));
    assert!(out.source.starts_with("sftp://"), "{}", out.source);
    assert!(!RunLayout::new(env.efs.path(), "r1").unwrap().run_dir().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_files_are_listed_and_split_with_size_and_mtime() {
    let env = Env::new().await;
    for i in 0..10_000 {
        env.write(&format!("f{i:05}.xml"), &vec![b'x'; i % 13]);
    }
    let out = prep::handle(&env.deps, env.event(env.source(), 100, "r1")).await.unwrap();
    assert_eq!(out.status, PrepStatus::Ready);
    assert_eq!((out.items, out.array_size, out.mode), (10_000, 100, Mode::Array));
    assert_eq!((out.node_items.min, out.node_items.max), (100, 100));
    assert_eq!(out.bytes, Some((0..10_000u64).map(|i| i % 13).sum()));
    let layout = RunLayout::new(env.efs.path(), "r1").unwrap();
    let config = layout.read_config().unwrap();
    let SourceSpec::Sftp(source) = &config.source else { panic!("{:?}", config.source) };
    assert_eq!(source.port, env.sshd.port());
    let mut all = Vec::new();
    for i in 0..100 {
        let slice = layout.node(i).read_slice().unwrap();
        assert!(slice.items.is_empty());
        all.extend(slice.files);
    }
    let paths: Vec<String> = all.iter().map(|f| f.path.clone()).collect();
    let expected: Vec<String> = (0..10_000).map(|i| format!("f{i:05}.xml")).collect();
    assert_eq!(paths, expected, "every file once, in order");
    let meta = std::fs::metadata(env.sshd.root().join("f00012.xml")).unwrap();
    assert_eq!(all[12].size, 12);
    assert_eq!(all[12].mtime, std::os::unix::fs::MetadataExt::mtime(&meta) as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_from_the_server_are_refused_for_the_whole_listing() {
    let env = Env::new().await;
    env.write("good.xml", b"<a/>");
    env.write("evil\nname.xml", b"<a/>");
    env.write("tab\there.xml", b"<a/>");
    env.write("back\\slash.xml", b"<a/>");
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.xml");
    std::fs::write(env.sshd.root().join(latin1), b"<a/>").unwrap();
    let err = prep::handle(&env.deps, env.event(env.source(), 10, "r1")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSource, "{}", err.message);
    assert!(err.message.starts_with("4 file(s)"), "{}", err.message);
    for reason in ["control character", "backslash", "not valid UTF-8"] {
        assert!(err.message.contains(reason), "{reason}: {}", err.message);
    }
    assert!(!RunLayout::new(env.efs.path(), "r1").unwrap().run_dir().exists());

    // Names the jobs keep for themselves.
    let env = Env::new().await;
    env.write("a.xml", b"<a/>");
    env.write("a.xml.rejects.jsonl", b"");
    let mut source = env.source();
    source["glob"] = json!("*");
    let err = prep::handle(&env.deps, env.event(source, 10, "r2")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidSource, "{}", err.message);
    assert!(err.message.contains("a.xml.rejects.jsonl"), "{}", err.message);
}

#[tokio::test(flavor = "multi_thread")]
async fn source_settings_are_checked_and_named() {
    let env = Env::new().await;
    env.write("a.xml", b"<a/>");
    let mut source = env.source();
    source["host_key"] = json!("accept-new");
    let err = prep::handle(&env.deps, env.event(source, 10, "r1")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidEvent);
    assert!(err.message.starts_with("config.source.host_key: "), "{}", err.message);

    let mut source = env.source();
    source["recursve"] = json!(true);
    let err = prep::handle(&env.deps, env.event(source, 10, "r1")).await.unwrap_err();
    assert!(err.message.contains("recursve"), "{}", err.message);

    // A well-formed pin of another key: refused when the server shows its own.
    let mut source = env.source();
    source["host_key"] = json!("SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw");
    let err = prep::handle(&env.deps, env.event(source, 10, "r1")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidEvent, "{}", err.message);
    assert!(err.message.starts_with("source.host_key: "), "{}", err.message);

    // A server that does not answer is worth retrying.
    let mut source = env.source();
    source["port"] = json!(std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let err = prep::handle(&env.deps, env.event(source, 10, "r1")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::AwsUnavailable, "{}", err.message);
    assert!(err.kind.is_retryable());
}

/// An incremental SFTP source: after a run's files are recorded done (the
/// done records egress writes from each node's ledger.json), the next prep
/// takes only the new file and the files whose size or mtime changed.
#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_source_fetches_only_new_or_changed_files() {
    let env = Env::new().await;
    env.deps.s3.create_bucket().bucket("out").send().await.unwrap();
    for name in ["a", "b", "c"] {
        env.write(&format!("{name}.xml"), b"<r/>");
    }
    let mut source = env.source();
    source["incremental"] = json!(true);
    let first = prep::handle(&env.deps, env.event(source.clone(), 10, "r1")).await.unwrap();
    assert_eq!(first.ledger.unwrap().claimed, 3);
    let layout = RunLayout::new(env.efs.path(), "r1").unwrap();
    for i in 0..first.array_size {
        let ledger = layout.node(i).read_ledger().unwrap().expect("ledger.json");
        for entry in ledger.inputs {
            let batch_jobs::layout::InputIdentity::Sftp { host, port, path, .. } = &entry.input else {
                panic!("{:?}", entry.input)
            };
            assert_eq!((host.as_str(), *port), ("127.0.0.1", env.sshd.port()));
            assert!(path.starts_with(&env.sshd.root().display().to_string()), "{path}");
            let body = json!({"input": entry.input, "run_id": "r1", "index": i}).to_string();
            env.deps
                .s3
                .put_object()
                .bucket(&ledger.bucket)
                .key(batch_jobs::layout::done_key(&ledger.prefix, &entry.id))
                .body(body.into_bytes().into())
                .send()
                .await
                .unwrap();
        }
    }
    env.write("d.xml", b"<r/>"); // new
    env.write("b.xml", b"<r>longer</r>"); // another size
    let c = std::fs::File::options().write(true).open(env.sshd.root().join("c.xml")).unwrap();
    c.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap(); // another mtime
    let second = prep::handle(&env.deps, env.event(source, 10, "r2")).await.unwrap();
    assert_eq!(second.status, PrepStatus::Ready);
    let summary = second.ledger.unwrap();
    assert_eq!((summary.listed, summary.done, summary.claimed), (4, 1, 3), "{summary:?}");
    let layout = RunLayout::new(env.efs.path(), "r2").unwrap();
    let mut files: Vec<String> = (0..second.array_size)
        .flat_map(|i| layout.node(i).read_slice().unwrap().files.into_iter().map(|f| f.path))
        .collect();
    files.sort();
    assert_eq!(files, ["b.xml", "c.xml", "d.xml"]);
}
