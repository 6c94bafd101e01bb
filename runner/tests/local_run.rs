//! `batch-pipeline run` end to end: the real prep/watcher/job binaries,
//! moto for S3, a temp dir as EFS.

mod binaries;

use std::path::{Path, PathBuf};
use std::process::Command;

use binaries::{build_binaries, definition, outcome, run_command, runner};
use serde_json::{Value, json};

/// What `data "batch_state_machine_definition"` produces for pipeline "t".
fn provider_definition() -> Value {
    use provider::aws::state_machine::{DefinitionInput, definition};
    let arn = |kind: &str| format!("arn:aws:batch:us-east-1:000000000000:{kind}");
    let (queue, later_queue, procurement, processing, egress) = (
        arn("job-queue/t-queue"),
        arn("job-queue/t-stages-queue"),
        arn("job-definition/t-procurement:1"),
        arn("job-definition/t-processing:1"),
        arn("job-definition/t-egress:1"),
    );
    definition(&DefinitionInput {
        job_queue_arn: &queue,
        later_stages_job_queue_arn: Some(&later_queue),
        job_definition_arns: [&procurement, &processing, &egress],
        prep_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:t-prep",
        watcher_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:t-watcher",
        poll_seconds: 30,
        timeout_seconds: 3600,
    })
}

/// The runner's tests and `make bench` execute tests/fixtures/definition.json;
/// it must be byte for byte what the provider generates today, so the runner
/// is tested against the real definition, not a copy that drifted.
/// `UPDATE_FIXTURES=1 cargo test -p batch-runner --test local_run fixture` rewrites it.
#[test]
fn fixture_is_the_providers_definition() {
    let generated = serde_json::to_string_pretty(&provider_definition()).unwrap() + "\n";
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(definition(), &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(definition()).unwrap();
    assert!(
        on_disk == generated,
        "{} differs from the provider's definition; rerun with UPDATE_FIXTURES=1",
        definition().display()
    );
}

/// Every Lambda task of the definition retries exactly the error types
/// prep and watcher call transient (and the Lambda service's own), so a
/// DescribeJobs outage or an EFS hiccup does not end a run whose jobs go
/// on running, and a bad event is not retried.
#[test]
fn lambda_tasks_retry_the_transient_error_kinds_and_only_those() {
    use batch_lambdas::error::ErrorKind;
    let definition = provider_definition();
    let states = definition["States"].as_object().unwrap();
    let lambda_tasks: Vec<_> =
        states.iter().filter(|(_, s)| s["Resource"] == "arn:aws:states:::lambda:invoke").collect();
    assert_eq!(lambda_tasks.len(), 6, "Prep, Watch and the four Summarize tasks");
    for (name, state) in lambda_tasks {
        let retried: Vec<&str> = state["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap().iter().filter_map(|e| e.as_str()))
            .collect();
        for kind in ErrorKind::ALL {
            assert_eq!(retried.contains(&kind.as_str()), kind.is_retryable(), "{name}: {kind}");
        }
    }
}

/// A run configuration as batch_pipeline's run_config emits it.
fn run_config(count: u64, per_node: u64) -> Value {
    json!({
        "version": 1,
        "pipeline": "t",
        "efs_mount_path": "/mnt/efs",
        "source": {"type": "synthetic", "count": count, "format": "yelp-jsonl"},
        "items_per_node": per_node,
        "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
        "egress": {"bucket": "out", "prefix": "results"},
    })
}

fn input(dir: &Path, count: u64, per_node: u64) -> PathBuf {
    write_json(dir, "input.json", &json!({ "config": run_config(count, per_node), "overrides": {} }))
}

fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, value.to_string()).unwrap();
    p
}

struct Env {
    moto: testkit::MotoServer,
    dir: tempfile::TempDir,
}

fn setup() -> Env {
    build_binaries();
    let moto = testkit::MotoServer::start().expect("moto");
    let env = moto.aws_env();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let conf = testkit::aws::sdk_config(&moto);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build(),
        );
        s3.create_bucket().bucket("out").send().await.expect("create bucket");
    });
    drop(env);
    Env { moto, dir: tempfile::tempdir().unwrap() }
}

fn run(env: &Env, args: &[&str], count: u64, per_node: u64) -> (bool, Value, String) {
    run_definition(env, &definition(), args, count, per_node)
}

fn run_definition(
    env: &Env,
    definition: &Path,
    args: &[&str],
    count: u64,
    per_node: u64,
) -> (bool, Value, String) {
    run_input(env, definition, args, &input(env.dir.path(), count, per_node))
}

fn run_input(env: &Env, definition: &Path, args: &[&str], input: &Path) -> (bool, Value, String) {
    let summary = env.dir.path().join("summary.json");
    let out = run_command(definition, input, &env.dir.path().join("efs"), &summary)
        .args(args)
        .envs(env.moto.aws_env())
        .output()
        .unwrap();
    outcome(&out, &summary)
}

/// The Step Functions console's "Start execution" offers
/// `{"Comment": "Insert your JSON here"}`, and the module documents that an
/// execution started by hand may leave `overrides` out; without `config`
/// such a run failed at Prep. With `default_config` (the module passes the
/// pipeline's run_config) the definition puts the pipeline's run
/// configuration in place of a missing `config`; an input's own `config`
/// still wins.
#[test]
fn the_consoles_default_input_runs_the_pipelines_run_config() {
    use provider::aws::state_machine::with_default_config;
    let env = setup();
    let console = write_json(env.dir.path(), "console.json", &json!({"Comment": "Insert your JSON here"}));
    let empty = write_json(env.dir.path(), "empty.json", &json!({}));

    // Without a default (the data source's default_config unset): no
    // config, no run.
    let (ok, s, stderr) = run_input(&env, &definition(), &[], &console);
    assert!(!ok, "{stderr}\n{s:#}");
    assert_eq!(s["status"], "FAILED", "{stderr}");

    let definition = with_default_config(provider_definition(), &run_config(40, 10));
    let definition = write_json(env.dir.path(), "definition-with-default.json", &definition);
    for (name, input) in [("console", &console), ("{}", &empty)] {
        let (ok, s, stderr) = run_input(&env, &definition, &[], input);
        assert!(ok, "{name}: {stderr}\n{s:#}");
        assert_eq!(s["status"], "SUCCEEDED", "{name}");
        assert_eq!(s["records_in"], 40, "{name}");
        assert_eq!(s["array_size"], 4, "{name}");
    }
    // An input with its own config is run as given, not the default.
    let own = write_json(env.dir.path(), "own.json", &json!({ "config": run_config(20, 10) }));
    let (ok, s, stderr) = run_input(&env, &definition, &[], &own);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["records_in"], 20);
    assert_eq!(s["array_size"], 2);
}

#[test]
fn full_run_counts_add_up() {
    let env = setup();
    let (ok, s, stderr) = run(&env, &[], 400, 40);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["status"], "SUCCEEDED");
    assert_eq!(s["final_state"], "Succeeded");
    assert_eq!(s["array_size"], 10);
    assert_eq!(s["records_in"], 400);
    assert_eq!(s["stages"]["procurement"]["records_out"], 400);
    let (clean, rejected) = (s["records_clean"].as_u64().unwrap(), s["records_rejected"].as_u64().unwrap());
    assert_eq!(clean + rejected, 400);
    assert!(s["output_objects"].as_u64().unwrap() >= 10, "{s:#}");
    for st in ["procurement", "processing", "egress"] {
        assert_eq!(s["stages"][st]["succeeded"], 10, "{st}");
    }
    assert!(stderr.contains("records in 400"), "{stderr}");

    // The run summary: in the execution's output (totals and the key), on
    // EFS, and the same bytes in the egress bucket.
    let run_id = s["run_id"].as_str().unwrap();
    let totals = &s["run_summary"];
    assert_eq!(totals["status"], "SUCCEEDED", "{s:#}");
    assert_eq!(totals["summary_key"], format!("results/{run_id}/_run_summary.json"));
    assert_eq!((totals["nodes"].as_u64(), totals["nodes_succeeded"].as_u64()), (Some(10), Some(10)));
    assert_eq!(totals["nodes_failed"], 0);
    assert_eq!(totals["records_in"], 400);
    assert_eq!(totals["records_out"], s["records_clean"]);
    assert_eq!(totals["records_rejected"], s["records_rejected"]);
    assert_eq!(totals["objects"], s["output_objects"]);
    assert_eq!(totals["inputs_listed"], 400);
    let on_efs = std::fs::read(totals["summary_path"].as_str().unwrap()).unwrap();
    assert_eq!(s3_object(&env, &format!("results/{run_id}/_run_summary.json")), on_efs);
    let file: Value = serde_json::from_slice(&on_efs).unwrap();
    assert_eq!(file["status"], "SUCCEEDED");
    assert_eq!(file["error"], Value::Null);
    for st in ["procurement", "processing", "egress"] {
        assert_eq!(file["stages"][st]["succeeded"], 10, "{st}");
        assert_eq!(file["stages"][st]["failed_indices"], "", "{st}");
    }
    assert!(file["totals"]["object_bytes"].as_u64().unwrap() > 0, "{file:#}");
    assert!(file["elapsed_seconds"].is_u64() && file["started_at"].is_string(), "{file:#}");
}

/// The egress bucket's object `key`, read from moto.
fn s3_object(env: &Env, key: &str) -> Vec<u8> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let conf = testkit::aws::sdk_config(&env.moto);
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build(),
        );
        let got = s3.get_object().bucket("out").key(key).send().await.expect("get_object");
        got.body.collect().await.unwrap().into_bytes().to_vec()
    })
}

#[test]
fn one_item_runs_as_three_plain_jobs_and_no_work_submits_nothing() {
    let env = setup();
    // One id: prep answers mode "single" and the definition's single branch
    // submits plain jobs (AWS Batch has no array of size 1).
    let (ok, s, stderr) = run(&env, &[], 1, 40);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["prep"]["mode"], "single");
    assert_eq!(s["array_size"], 1);
    assert_eq!(s["records_in"], 1);
    for st in ["procurement", "processing", "egress"] {
        assert_eq!(s["stages"][st]["succeeded"], 1, "{st}");
    }
    // No ids: prep says NO_WORK and the run ends in the NoWork Succeed state.
    let (ok, s, stderr) = run(&env, &[], 0, 40);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["final_state"], "NoWork");
    assert_eq!(s["stages"], json!({}), "no job was submitted");
}

#[test]
fn permanent_failure_fails_one_index_and_rerun_completes_it() {
    let env = setup();
    // Index 3's processing exits 65 (data error: permanent); index 5's
    // procurement exits 75 once (retryable) and succeeds on its retry.
    let (ok, s, stderr) = run(
        &env,
        &["--inject-failure", "processing:3:65", "--inject-failure", "procurement:5:75:1"],
        400,
        40,
    );
    assert!(!ok);
    assert_eq!(s["status"], "FAILED", "{stderr}");
    assert_eq!(s["error"], "PipelineRunFailed");
    assert_eq!(s["error"], "PipelineRunFailed", "{}\n{stderr}", s["cause"]);
    assert_eq!(s["failed_indices"]["processing"], json!("3"));
    assert_eq!(s["failed_indices"]["egress"], json!("3"));
    assert_eq!((s["rerun_indices"].as_str(), s["rerun_count"].as_u64()), (Some("3"), Some(1)));
    assert_eq!(s["stages"]["procurement"]["retries"], 1);
    assert_eq!(s["stages"]["egress"]["succeeded"], 9);
    // N_TO_N: egress 3 never started (its processing node failed), the
    // other nine did.
    assert_eq!(s["stages"]["egress"]["ran"], 9);
    assert_eq!(s["stages"]["processing"]["ran"], 10);
    // The Fail cause is the watcher's bounded line, pointing at the full lists.
    let cause = s["cause"].as_str().unwrap();
    assert!(cause.contains("processing FAILED: 1 of 10 failed (indices 3)"), "{cause}");
    let run_id = s["run_id"].as_str().unwrap().to_string();
    assert!(cause.ends_with(&format!("runs/{run_id}/failed_indices.json]")), "{cause}");
    let recorded: Value =
        serde_json::from_slice(&std::fs::read(s["failed_indices_file"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(recorded["rerun_indices"], "3");
    assert_eq!(recorded["failed_indices"]["processing"], "3");
    assert!(s["limits"]["history_events"].as_u64().unwrap() > 30, "{s:#}");
    // The failed run was summarized too, before its Fail state, which kept
    // its error and cause (above).
    assert_eq!(s["final_state"], "RunFailed");
    let key = format!("results/{run_id}/_run_summary.json");
    assert_eq!(s["run_summary"]["status"], "FAILED", "{s:#}");
    assert_eq!(s["run_summary"]["summary_key"], key.as_str());
    assert_eq!(
        (s["run_summary"]["nodes_succeeded"].as_u64(), s["run_summary"]["nodes_failed"].as_u64()),
        (Some(9), Some(1))
    );
    let failed_summary = std::fs::read(s["run_summary"]["summary_path"].as_str().unwrap()).unwrap();
    assert_eq!(s3_object(&env, &key), failed_summary);
    let file: Value = serde_json::from_slice(&failed_summary).unwrap();
    assert_eq!(
        (file["status"].as_str(), file["error"].as_str()),
        (Some("FAILED"), Some("PipelineRunFailed"))
    );
    assert_eq!(file["cause"], s["cause"]);
    assert_eq!(file["stages"]["processing"]["failed_indices"], "3");
    assert_eq!(
        (file["stages"]["processing"]["succeeded"].as_u64(), file["stages"]["processing"]["failed"].as_u64()),
        (Some(9), Some(1))
    );
    assert_eq!(
        file["stages"]["egress"]["not_finished"], 0,
        "egress 3 FAILED in Batch (its dependency failed): {file:#}"
    );
    assert_eq!(file["rerun_indices"], "3");
    // Inputs processed: the fetched files of the nine nodes that finished.
    let run_dir = std::path::PathBuf::from(s["run_dir"].as_str().unwrap());
    let marker: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("nodes/0/procurement.done.json")).unwrap())
            .unwrap();
    let per_node = marker["files"].as_array().unwrap().len() as u64;
    assert!(per_node > 0);
    assert_eq!(file["totals"]["inputs_processed"], 9 * per_node);

    let (ok, s, stderr) = run(&env, &["--rerun-failed", &run_id], 400, 40);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["run_id"], run_id.as_str());
    for st in ["procurement", "processing", "egress"] {
        assert_eq!(s["stages"][st]["ran"], 1, "{st}: only index 3 reruns");
        assert_eq!(s["stages"][st]["succeeded"], 10);
    }
    // The rerun's summary replaces the failed run's at the same key.
    assert_eq!(s["run_summary"]["status"], "SUCCEEDED", "{s:#}");
    assert_eq!(s["run_summary"]["nodes_succeeded"], 10);
    assert_eq!(s["run_summary"]["records_in"], 400);
    let rerun_summary = std::fs::read(s["run_summary"]["summary_path"].as_str().unwrap()).unwrap();
    assert_eq!(s3_object(&env, &key), rerun_summary);
    let efs = env.dir.path().join("efs");
    assert_eq!(batch_runner::run::unfinished_indices(&efs, &run_id).unwrap().1, Vec::<u32>::new());
    // The rerun set also takes what failed_indices.json names (ranges), so
    // a list written by hand reruns those nodes.
    let file = efs.join("runs").join(&run_id).join("failed_indices.json");
    let mut edited = recorded.clone();
    edited["rerun_indices"] = json!("0-1,8");
    std::fs::write(&file, edited.to_string()).unwrap();
    assert_eq!(batch_runner::run::rerun_indices(&efs, &run_id).unwrap(), [0, 1, 8]);
    edited["rerun_indices"] = json!("7-10");
    std::fs::write(&file, edited.to_string()).unwrap();
    let err = batch_runner::run::rerun_indices(&efs, &run_id).unwrap_err().to_string();
    assert!(err.contains("index 10 is outside the array (size 10)"), "{err}");
}

/// Every node of a large run fails at once (one bad image tag does it in
/// AWS): the run still ends as PipelineRunFailed, not with a data-limit
/// error; every payload stays under 256 KiB (the summary reports the
/// largest), the cause under its limit with the ranges and a pointer, and
/// the full list is on disk. `ALL_FAIL_NODES` (default 10,000, AWS
/// Batch's largest array) sets the size.
#[test]
fn every_node_of_a_large_run_failing_ends_as_pipeline_run_failed_within_the_limits() {
    let nodes: u64 = std::env::var("ALL_FAIL_NODES").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let env = setup();
    let bins = env.dir.path().join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    let built = runner().parent().unwrap().to_path_buf();
    for b in ["prep", "watcher", "processing", "egress"] {
        std::os::unix::fs::symlink(built.join(b), bins.join(b)).unwrap();
    }
    // A stage that fails at once, not retried (exit 1 is no retry code).
    std::os::unix::fs::symlink("/bin/false", bins.join("procurement")).unwrap();
    let started = std::time::Instant::now();
    let (ok, s, stderr) = run(&env, &["--bin-dir", bins.to_str().unwrap(), "--no-progress"], nodes, 1);
    let elapsed = started.elapsed();
    assert!(!ok);
    assert_eq!(s["error"], "PipelineRunFailed", "{stderr}\n{}", s["cause"]);
    assert_eq!(s["final_state"], "RunFailed");
    assert_eq!(s["array_size"], nodes);
    let all = format!("0-{}", nodes - 1);
    for stage in ["procurement", "processing", "egress"] {
        assert_eq!(s["stages"][stage]["failed"], nodes, "{stage}");
        assert_eq!(s["failed_indices"][stage], all.as_str(), "{stage}");
        // Nothing is left running: every stage is over, none terminated.
        assert_eq!(s["stages"][stage]["status"], "FAILED", "{stage}");
        assert_eq!(s["stages"][stage]["terminated"], 0, "{stage}");
    }
    let cause = s["cause"].as_str().unwrap();
    assert!(cause.chars().count() <= 4096, "{}", cause.len());
    assert!(cause.contains(&format!("egress FAILED: {nodes} of {nodes} failed (indices {all})")), "{cause}");
    assert!(cause.contains("failed_indices.json]"), "{cause}");
    let recorded: Value =
        serde_json::from_slice(&std::fs::read(s["failed_indices_file"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(recorded["rerun_indices"], all.as_str());
    assert_eq!(recorded["rerun_count"], nodes);
    // The summary of 10,000 failed nodes was written, its answer small.
    let totals = &s["run_summary"];
    assert_eq!(
        (totals["nodes"].as_u64(), totals["nodes_failed"].as_u64()),
        (Some(nodes), Some(nodes)),
        "{s:#}"
    );
    assert_eq!(totals["nodes_succeeded"], 0);
    assert!(serde_json::to_vec(totals).unwrap().len() < 1024);
    let file: Value =
        serde_json::from_slice(&std::fs::read(totals["summary_path"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(file["stages"]["processing"]["failed_indices"], all.as_str());
    let largest = s["limits"]["largest_payload_bytes"].as_u64().unwrap();
    assert!(largest < 256 * 1024, "{largest} bytes at {}", s["limits"]["largest_payload_at"]);
    eprintln!(
        "{nodes} nodes all failed in {:.1} s: largest payload {largest} bytes ({}), {} history events",
        elapsed.as_secs_f64(),
        s["limits"]["largest_payload_at"],
        s["limits"]["history_events"]
    );
}

/// The real binaries in `<dir>/bin`, but a procurement that hangs, having
/// written its pid to `<dir>/procurement<index>.pid`.
fn hanging_procurement(env: &Env) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bins = env.dir.path().join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    let built = runner().parent().unwrap().to_path_buf();
    for b in ["prep", "watcher", "processing", "egress"] {
        std::os::unix::fs::symlink(built.join(b), bins.join(b)).unwrap();
    }
    let pid_file = format!("{}/procurement${{AWS_BATCH_JOB_ARRAY_INDEX:-0}}.pid", env.dir.path().display());
    let script = bins.join("procurement");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}\nexec sleep 600\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bins
}

/// Whether process `pid` ends within five seconds.
fn ends_soon(pid: &str) -> bool {
    (0..250).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        !Path::new(&format!("/proc/{pid}")).exists()
    })
}

/// A run that fails while its jobs still run terminates them: past its
/// deadline (the watcher says timed_out), and when a later SubmitJob fails
/// for good. The hung procurement nodes are killed by the termination
/// (their attempt log says so; the runner's own end would leave none), and
/// every node of every submitted stage counts as terminated.
#[test]
fn a_late_or_failed_run_terminates_the_jobs_it_submitted() {
    let env = setup();
    let bins = hanging_procurement(&env);
    let fixture_def: Value = serde_json::from_slice(&std::fs::read(definition()).unwrap()).unwrap();
    let bin_dir = bins.to_str().unwrap();
    let procurement_pids = |env: &Env| -> Vec<String> {
        (0..2)
            .map(|i| {
                let f = env.dir.path().join(format!("procurement{i}.pid"));
                std::fs::read_to_string(f).map(|p| p.trim().to_string()).unwrap_or_default()
            })
            .collect()
    };

    // The deadline: 3 s after the start, polled every second.
    let mut def = fixture_def.clone();
    def["States"]["Watch"]["Parameters"]["Payload"]["timeout_seconds"] = json!(3);
    def["States"]["Wait"]["Seconds"] = json!(1);
    let path = env.dir.path().join("deadline.json");
    std::fs::write(&path, def.to_string()).unwrap();
    let (ok, s, stderr) = run_definition(&env, &path, &["--bin-dir", bin_dir], 80, 40);
    assert!(!ok);
    assert_eq!(s["error"], "PipelineRunTimedOut", "{stderr}\n{s:#}");
    assert_eq!(s["final_state"], "Failed");
    assert!(
        s["cause"].as_str().unwrap().starts_with("the run did not finish within timeout_seconds=3"),
        "{s:#}"
    );
    assert!(s["elapsed_s"].as_f64().unwrap() < 30.0, "{s:#}");
    for stage in ["procurement", "processing", "egress"] {
        assert_eq!(s["stages"][stage]["terminated"], 2, "{stage}: {s:#}");
        assert_eq!(s["stages"][stage]["status"], "FAILED", "{stage}");
    }
    assert_eq!(s["stages"]["processing"]["ran"], 0);
    let logs = PathBuf::from(s["logs"].as_str().unwrap());
    for (i, pid) in procurement_pids(&env).iter().enumerate() {
        assert!(!pid.is_empty(), "procurement {i} never started");
        assert!(ends_soon(pid), "procurement {i} ({pid}) was left running");
        let log = std::fs::read_to_string(logs.join(format!("procurement-{i}-attempt1.log"))).unwrap();
        assert!(log.contains("the job was terminated"), "{log}");
        std::fs::remove_file(env.dir.path().join(format!("procurement{i}.pid"))).unwrap();
    }

    // SubmitJob of egress fails for good: procurement and processing,
    // already submitted, are terminated; egress never existed.
    let mut def = fixture_def;
    def["States"]["SubmitEgress"]["Parameters"]["JobDefinition"] =
        json!("arn:aws:batch:us-east-1:000000000000:job-definition/t-unknown:1");
    let path = env.dir.path().join("submit.json");
    std::fs::write(&path, def.to_string()).unwrap();
    let (ok, s, stderr) = run_definition(&env, &path, &["--bin-dir", bin_dir], 80, 40);
    assert!(!ok);
    assert_eq!(s["error"], "SubmitJobFailed", "{stderr}\n{s:#}");
    assert!(s["cause"].as_str().unwrap().contains("t-unknown"), "{s:#}");
    assert!(s["stages"].get("egress").is_none(), "{s:#}");
    for stage in ["procurement", "processing"] {
        assert_eq!(s["stages"][stage]["terminated"], 2, "{stage}: {s:#}");
    }
    // The failure comes right after the submits: a node may have been
    // cancelled before it started; one that started was killed.
    let logs = PathBuf::from(s["logs"].as_str().unwrap());
    for (i, pid) in procurement_pids(&env).iter().enumerate().filter(|(_, pid)| !pid.is_empty()) {
        assert!(ends_soon(pid), "procurement {i} ({pid}) was left running");
        let log = std::fs::read_to_string(logs.join(format!("procurement-{i}-attempt1.log"))).unwrap();
        assert!(log.contains("the job was terminated"), "{log}");
    }
}

/// SIGTERM to the runner while a node runs: the execution ends as
/// `States.Aborted`, the running child is killed rather than orphaned,
/// and the summary is still written.
#[test]
fn a_stopped_runner_kills_its_children_and_writes_the_summary() {
    let env = setup();
    let bins = hanging_procurement(&env);
    let pid_file = env.dir.path().join("procurement0.pid");
    let summary = env.dir.path().join("summary.json");
    let mut child = Command::new(runner())
        .arg("run")
        .arg("--definition")
        .arg(definition())
        .arg("--input")
        .arg(input(env.dir.path(), 1, 40))
        .arg("--efs-dir")
        .arg(env.dir.path().join("efs"))
        .arg("--bin-dir")
        .arg(&bins)
        .arg("--summary-json")
        .arg(&summary)
        .envs(env.moto.aws_env())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The deadlines below are no claim about speed: they only turn a
    // runner that never gets there into a failure instead of a hung suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !pid_file.exists() {
        assert!(std::time::Instant::now() < deadline, "procurement never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sleeper = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the runner did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let s: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["status"], "FAILED");
    assert_eq!(s["error"], "States.Aborted", "{s:#}");
    // The hung procurement is gone (killed, then reaped once orphaned).
    assert!(ends_soon(&sleeper), "procurement {sleeper} was left running");
}

#[test]
fn unknown_state_type_is_refused_naming_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut def: Value = serde_json::from_slice(&std::fs::read(definition()).unwrap()).unwrap();
    def["States"]["Wait"] = json!({"Type": "Parallel", "Branches": [], "Next": "Watch"});
    let p = dir.path().join("def.json");
    std::fs::write(&p, def.to_string()).unwrap();
    let out = Command::new(runner())
        .arg("run")
        .arg("--definition")
        .arg(&p)
        .arg("--input")
        .arg(input(dir.path(), 10, 5))
        .arg("--efs-dir")
        .arg(dir.path().join("efs"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("\"Wait\"") && stderr.contains("Parallel"), "{stderr}");
}

/// A run id AWS Batch would refuse in a job name (a dot, as in an
/// execution or `overrides.run_id` named `2024.06.01`) runs: the jobs are
/// named from prep's `job_name_id`. Named from the run id itself, as the
/// definition did before, the local Batch refuses the SubmitJob as AWS
/// does, after prep has written the run.
#[test]
fn a_run_id_with_a_dot_runs_under_job_names_batch_accepts() {
    let env = setup();
    let dotted = write_json(
        env.dir.path(),
        "dotted.json",
        &json!({"config": run_config(40, 20), "overrides": {"run_id": "2024.06.01"}}),
    );
    let (ok, s, stderr) = run_input(&env, &definition(), &[], &dotted);
    assert!(ok, "{stderr}\n{s:#}");
    assert_eq!(s["status"], "SUCCEEDED");
    assert_eq!(s["run_id"], "2024.06.01");
    assert_eq!(s["records_in"], 40);

    let old =
        std::fs::read_to_string(definition()).unwrap().replace("$.prep.run.job_name_id", "$.prep.run.run_id");
    let old_definition =
        write_json(env.dir.path(), "old-definition.json", &serde_json::from_str(&old).unwrap());
    let again = write_json(
        env.dir.path(),
        "again.json",
        &json!({"config": run_config(40, 20), "overrides": {"run_id": "2024.06.02"}}),
    );
    let (ok, s, stderr) = run_input(&env, &old_definition, &[], &again);
    assert!(!ok, "{stderr}\n{s:#}");
    assert_eq!(s["error"], "SubmitJobFailed", "{s:#}");
    assert!(s["cause"].as_str().unwrap_or("").contains("AWS Batch SubmitJob"), "{s:#}");
}
