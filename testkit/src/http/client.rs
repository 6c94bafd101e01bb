//! One-shot blocking clients for a test's setup calls (moto's
//! `/moto-api/config`, an IAM query by hand) and for playing a stand-in's
//! client in its tests: no SDK needed for them.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::Response;

/// A one-shot POST with a JSON body; returns the status code.
pub fn post_json(addr: &str, path: &str, body: &serde_json::Value) -> std::io::Result<u16> {
    post(addr, path, &[("Content-Type", "application/json")], &body.to_string())
}

/// A one-shot POST to `addr` (`host:port`); returns the status code.
pub fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<u16> {
    send(addr, "POST", path, headers, body.as_bytes()).map(|response| response.status)
}

/// One request on a fresh connection (`Connection: close`, so only for a
/// server that honours it), read to the end: the status, the headers, and
/// the body as sent (a chunked body is left chunked).
pub fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_response(&answer)
        .ok_or_else(|| std::io::Error::other(format!("bad answer: {}", String::from_utf8_lossy(&answer))))
}

fn parse_response(answer: &[u8]) -> Option<Response> {
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Response { status, headers, body: answer[head_end + 4..].to_vec() })
}
