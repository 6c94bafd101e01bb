//! The one HTTP server, driven over real sockets as its clients drive it.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::read_response;
use testkit::http::{self, MAX_BODY, Request, Response, Server};

/// Answers with what it received, so a test can see what the server read.
fn echo(request: &Request) -> Response {
    Response::json(
        200,
        &serde_json::json!({
            "method": request.method, "target": request.target, "path": request.path(),
            "body": String::from_utf8_lossy(&request.body), "x-test": request.header("X-Test"),
        }),
    )
}

#[test]
fn sized_and_chunked_requests_share_one_kept_alive_connection() {
    let server = Server::start(echo).unwrap();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    let mut read = BufReader::new(stream.try_clone().unwrap());
    stream.write_all(b"POST /a?x=1 HTTP/1.1\r\nX-Test: one\r\nContent-Length: 5\r\n\r\nhello").unwrap();
    let (status, body) = read_response(&mut read);
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        seen,
        serde_json::json!({"method": "POST", "target": "/a?x=1", "path": "/a", "body": "hello", "x-test": "one"})
    );
    stream
        .write_all(
            b"PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n",
        )
        .unwrap();
    let (status, body) = read_response(&mut read);
    let seen: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, seen["method"].as_str(), seen["body"].as_str()), (200, Some("PUT"), Some("abcdefg")));
}

#[test]
fn garbage_and_oversized_bodies_are_refused_with_400_and_the_connection_closed() {
    let server = Server::start(echo).unwrap();
    let oversized = format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
    for request in ["NONSENSE\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", oversized.as_str()]
    {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 "), "{request:?}: {answer}");
    }
}

#[test]
fn a_blocked_handler_does_not_hold_up_other_connections() {
    let (release, released) = mpsc::channel::<()>();
    let released = Mutex::new(released);
    let server = Server::start(move |request| match request.path() {
        "/hold" => {
            let held = released.lock().unwrap().recv_timeout(Duration::from_secs(10)).is_ok();
            Response::new(if held { 200 } else { 504 }, "")
        }
        _ => Response::new(204, ""),
    })
    .unwrap();
    let addr = server.addr().to_string();
    let holder = std::thread::spawn(move || http::post(&addr, "/hold", &[], ""));
    // Answered while /hold is still blocked in its handler.
    assert_eq!(http::post(&server.addr().to_string(), "/other", &[], "").unwrap(), 204);
    release.send(()).unwrap();
    assert_eq!(holder.join().unwrap().unwrap(), 200);
}

#[test]
fn a_dropped_server_stops_listening() {
    let server = Server::start(echo).unwrap();
    let addr = server.addr();
    drop(server);
    // The runtime shuts down in the background; 10 s only bounds the wait.
    let started = Instant::now();
    while TcpStream::connect(addr).is_ok() {
        assert!(started.elapsed() < Duration::from_secs(10), "still listening on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn async_handlers_and_aws_replies() {
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let (addr, serving) = http::serve(move |request: Request| {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            match request.path() {
                "/ok" => Response::aws_json(&serde_json::json!({"jobs": []})),
                _ => Response::aws_error(429, "TooManyRequestsException", "slow down"),
            }
        }
    })
    .await
    .unwrap();
    let addr = addr.to_string();
    let (ok, throttled) = tokio::task::spawn_blocking(move || {
        (http::send(&addr, "POST", "/ok", &[], b"{}"), http::send(&addr, "POST", "/busy", &[], b"{}"))
    })
    .await
    .unwrap();
    let (ok, throttled) = (ok.unwrap(), throttled.unwrap());
    assert_eq!((ok.status, ok.body.as_slice()), (200, br#"{"jobs":[]}"#.as_slice()));
    assert_eq!(ok.header("content-type"), Some("application/json"));
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("X-Amzn-ErrorType"), Some("TooManyRequestsException"));
    assert_eq!(throttled.body, br#"{"message":"slow down"}"#);
    assert_eq!(*calls.lock().unwrap(), 2);
    serving.abort();
}
