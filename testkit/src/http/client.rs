//! One-shot blocking clients for a test's setup calls (moto's
//! `/moto-api/config`, an IAM query by hand): no SDK needed for them.

use std::io::{Read, Write};
use std::net::TcpStream;

/// A one-shot POST with a JSON body; returns the status code.
pub fn post_json(addr: &str, path: &str, body: &serde_json::Value) -> std::io::Result<u16> {
    post(addr, path, &[("Content-Type", "application/json")], &body.to_string())
}

/// A one-shot POST to `addr` (`host:port`); returns the status code.
pub fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    write!(stream, "{head}\r\n{body}")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad answer: {answer}")))
}
