//! The proxy's connections: each request read whole, a fault drawn for it,
//! then answered by the fault or passed to the upstream on a fresh
//! connection and its answer passed back as it came (HEAD lengths,
//! chunked bodies and all).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::spec::FaultKind;
use super::state::State;
use super::{classify, shapes};
use crate::http::Request;
use crate::http::wire::{read_request_body, read_request_head, write_response};

/// The largest upstream answer relayed (a test's objects are small; an
/// answer past this is a bug in the test, not a reason to buffer on).
const MAX_ANSWER: usize = 256 << 20;

pub(super) async fn connection(stream: TcpStream, upstream: SocketAddr, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let head = match read_request_head(&mut read).await {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "fault proxy: unreadable request");
                return;
            }
        };
        // The proxy takes the body itself; the upstream gets it whole.
        let expects_continue = head
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue"));
        if expects_continue && write.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
            return;
        }
        let body = match read_request_body(&mut read, &head).await {
            Ok(body) => body,
            Err(_) => return,
        };
        let request = Request { method: head.method, target: head.target, headers: head.headers, body };
        let closes = request.closes_connection();
        let service = classify::service(&request);
        let operation = classify::operation(&request, &service);
        let draw = state.draw(&service, &operation);
        if draw.delayed {
            tokio::time::sleep(state.spec.latency).await;
        }
        let answered = match draw.failure {
            Some(FaultKind::Throttle) => {
                write_response(&mut write, &shapes::throttle(&request, &service)).await
            }
            Some(FaultKind::ServerError) => {
                write_response(&mut write, &shapes::server_error(&request, &service, draw.unavailable)).await
            }
            Some(FaultKind::ResetBefore) => return reset(read, write),
            Some(FaultKind::ResetAfter) => {
                if let Err(e) = forward(&request, upstream).await {
                    tracing::debug!(error = %e, "fault proxy: upstream failed under reset-after");
                }
                return reset(read, write);
            }
            Some(FaultKind::Latency) | None => match forward(&request, upstream).await {
                Ok(answer) => write.write_all(&answer).await,
                Err(e) => {
                    tracing::warn!(error = %e, %upstream, "fault proxy: upstream unreachable");
                    let gateway = crate::http::Response::new(502, format!("upstream: {e}"));
                    write_response(&mut write, &gateway).await
                }
            },
        };
        if answered.is_err() || closes {
            let _ = write.shutdown().await;
            return;
        }
    }
}

/// Resets the connection (RST, not FIN): what a client sees when a load
/// balancer or a NAT drops it.
fn reset(read: BufReader<OwnedReadHalf>, write: OwnedWriteHalf) {
    if let Ok(stream) = read.into_inner().reunite(write) {
        // A zero linger does not block on drop; it makes the close an RST.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
    }
}

/// Sends `request` to `upstream` on a fresh connection and returns the
/// answer's bytes as the client should get them.
async fn forward(request: &Request, upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    const HOP_BY_HOP: [&str; 6] =
        ["content-length", "transfer-encoding", "connection", "keep-alive", "expect", "proxy-connection"];
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", request.body.len()));
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(head.as_bytes()).await?;
    up.write_all(&request.body).await?;
    let mut up = BufReader::new(up);
    // Interim (1xx) answers are the proxy's business, not the client's.
    let (status_line, headers) = loop {
        let (line, headers) = read_response_head(&mut up).await?;
        let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if !(100..200).contains(&status) {
            break (line, headers);
        }
    };
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let header =
        |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
    let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    let bodiless = request.method == "HEAD" || status == 204 || status == 304;
    let mut body = Vec::new();
    let mut add_length = false;
    if bodiless {
    } else if chunked {
        read_chunked_raw(&mut up, &mut body).await?;
    } else if let Some(n) = length {
        if n > MAX_ANSWER {
            return Err(std::io::Error::other(format!("answer of {n} bytes is past the proxy's limit")));
        }
        body.resize(n, 0);
        up.read_exact(&mut body).await?;
    } else {
        // Framed by the upstream's close: given a length for the client,
        // whose connection stays open.
        (&mut up).take(MAX_ANSWER as u64 + 1).read_to_end(&mut body).await?;
        add_length = true;
    }
    let mut answer = format!("{}\r\n", status_line.trim_end());
    for (name, value) in &headers {
        if !name.eq_ignore_ascii_case("connection") && !name.eq_ignore_ascii_case("keep-alive") {
            answer.push_str(&format!("{name}:{value}\r\n"));
        }
    }
    if add_length {
        answer.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    answer.push_str("\r\n");
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    Ok(bytes)
}

/// A status line and its headers (values as sent, leading space kept).
async fn read_response_head<R: AsyncBufRead + Unpin>(
    read: &mut R,
) -> std::io::Result<(String, Vec<(String, String)>)> {
    let mut line = String::new();
    if read.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "upstream closed before answering",
        ));
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if read.read_line(&mut h).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "upstream closed in the headers",
            ));
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            return Ok((line, headers));
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.push((name.to_string(), value.to_string()));
        }
    }
}

/// A chunked body copied as it is framed, through the last chunk and the
/// trailers' blank line.
async fn read_chunked_raw<R: AsyncBufRead + Unpin>(read: &mut R, out: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        let mut size_line = String::new();
        if read.read_line(&mut size_line).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "upstream closed in a chunk"));
        }
        out.extend_from_slice(size_line.as_bytes());
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| std::io::Error::other("bad chunk size from upstream"))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                let mut trailer = String::new();
                if read.read_line(&mut trailer).await? == 0 {
                    return Ok(());
                }
                out.extend_from_slice(trailer.as_bytes());
                if trailer.trim_end().is_empty() {
                    return Ok(());
                }
            }
        }
        if out.len() + size > MAX_ANSWER {
            return Err(std::io::Error::other("chunked answer past the proxy's limit"));
        }
        let start = out.len();
        out.resize(start + size + 2, 0);
        read.read_exact(&mut out[start..]).await?;
    }
}
