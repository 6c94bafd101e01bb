//! The Runtime API stand-in, with the test playing the function's part
//! over HTTP as a `bootstrap` does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use testkit::http::{self, Response};
use testkit::lambda_runtime::blocking::RuntimeApi;
use testkit::lambda_runtime::{FunctionReply, Outcome, RuntimeApiConfig};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

fn next(api: &str) -> Response {
    http::send(api, "GET", NEXT, &[], b"").unwrap()
}

fn post(api: &str, path: &str, body: &serde_json::Value) -> u16 {
    http::post_json(api, path, body).unwrap()
}

#[test]
fn an_event_goes_out_on_next_and_the_response_comes_back() {
    let api = RuntimeApi::start().unwrap();
    let host = api.host_port();
    assert_eq!(api.next_calls(), 0);
    let id = api.push(json!({"n": 1}));
    let event = next(&host);
    assert_eq!(event.status, 200);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&event.body).unwrap(), json!({"n": 1}));
    assert_eq!(event.header("Lambda-Runtime-Aws-Request-Id"), Some(id.as_str()));
    assert_eq!(
        event.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:function:test")
    );
    let deadline: u128 = event.header("Lambda-Runtime-Deadline-Ms").unwrap().parse().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    assert!(deadline > now + 290_000 && deadline <= now + 300_000, "deadline {deadline}, now {now}");
    assert!(event.header("Lambda-Runtime-Trace-Id").is_some());

    assert_eq!(
        post(&host, &format!("/2018-06-01/runtime/invocation/{id}/response"), &json!({"ok": true})),
        202
    );
    let outcome = api.wait(&id, Duration::from_secs(10));
    assert_eq!(outcome, Some(Outcome::Response(json!({"ok": true}))));
    assert_eq!(api.wait(&id, Duration::ZERO), outcome, "asked again, the same outcome");
    assert_eq!(api.next_calls(), 1);
    assert!(api.wait_first_next(Duration::ZERO).is_some());
}

#[test]
fn next_is_held_until_an_event_is_queued() {
    let api = RuntimeApi::start().unwrap();
    let host = api.host_port();
    let function = std::thread::spawn(move || next(&host));
    let first = api.wait_first_next(Duration::from_secs(10)).expect("the function asks");
    assert!(!function.is_finished(), "answered with nothing queued");
    let id = api.push(json!("late"));
    let event = function.join().unwrap();
    assert_eq!(event.header("Lambda-Runtime-Aws-Request-Id"), Some(id.as_str()));
    assert_eq!(event.body, br#""late""#);
    assert_eq!(api.wait_first_next(Duration::ZERO), Some(first), "the first call stays the first");
}

#[test]
fn errors_come_back_typed_init_errors_are_kept_and_unknown_ids_refused() {
    let api = RuntimeApi::start().unwrap();
    let host = api.host_port();
    let id = api.push(json!({}));
    next(&host);
    let error = json!({"errorType": "Throttled", "errorMessage": "slow down"});
    assert_eq!(post(&host, &format!("/2018-06-01/runtime/invocation/{id}/error"), &error), 202);
    let outcome = api.wait(&id, Duration::from_secs(10)).unwrap();
    assert_eq!((outcome.error_type(), outcome.error_message()), ("Throttled", "slow down"));
    assert_eq!(
        post(&host, &format!("/2018-06-01/runtime/invocation/{id}/response"), &json!(1)),
        400,
        "answered twice"
    );
    assert_eq!(post(&host, "/2018-06-01/runtime/invocation/nobody/response", &json!(1)), 400);
    assert_eq!(api.init_error(), None);
    assert_eq!(post(&host, "/2018-06-01/runtime/init/error", &json!({"errorType": "Init"})), 202);
    assert_eq!(api.init_error().as_deref(), Some(r#"{"errorType":"Init"}"#));
    assert_eq!(api.wait("never-pushed", Duration::ZERO), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forgotten_invocation_gets_no_reply_and_its_late_answer_is_refused() {
    let api = testkit::lambda_runtime::RuntimeApi::start(RuntimeApiConfig {
        function_arn: "arn:aws:lambda:local:000000000000:function:prep".into(),
        deadline: Duration::from_secs(900),
        request_id_prefix: "prep".into(),
    })
    .await
    .unwrap();
    let host = api.host_port();
    let pending = api.queue(json!({"x": 1}));
    assert_eq!(pending.id, "prep-00000000");
    let handed_out = {
        let host = host.clone();
        tokio::task::spawn_blocking(move || next(&host)).await.unwrap()
    };
    assert_eq!(
        handed_out.header("Lambda-Runtime-Invoked-Function-Arn"),
        Some("arn:aws:lambda:local:000000000000:function:prep")
    );
    api.forget(&pending.id);
    let late = format!("/2018-06-01/runtime/invocation/{}/response", pending.id);
    let status = tokio::task::spawn_blocking(move || post(&host, &late, &json!(1))).await.unwrap();
    assert_eq!(status, 400);
    assert!(pending.reply.await.is_err(), "no reply for a forgotten invocation");

    let answered = api.queue(json!(2));
    let host = api.host_port();
    let reply_path = format!("/2018-06-01/runtime/invocation/{}/error", answered.id);
    tokio::task::spawn_blocking(move || {
        next(&host);
        http::post(&host, &reply_path, &[], "not json")
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(answered.reply.await.unwrap(), FunctionReply::Error(b"not json".to_vec()), "the body as sent");
}
