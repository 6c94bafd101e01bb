//! HTTP/1.1 on the wire: reading one request, writing one response.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Request, Response};

/// The largest request body read; a larger one is a bad request (a stand-in
/// must not be made to buffer without bound).
pub const MAX_BODY: usize = 64 << 20;

fn bad(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// A request's line and headers, and how its body is framed.
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    length: usize,
    chunked: bool,
}

/// The next request on a connection; `None` when the peer closed it
/// between requests.
pub(super) async fn read_request<R: AsyncBufRead + Unpin>(read: &mut R) -> std::io::Result<Option<Request>> {
    let Some(head) = read_request_head(read).await? else { return Ok(None) };
    let body = read_request_body(read, &head).await?;
    Ok(Some(Request { method: head.method, target: head.target, headers: head.headers, body }))
}

/// The next request's line and headers, the body left unread (a proxy
/// answers `Expect: 100-continue` in between); `None` when the peer closed
/// the connection between requests.
pub(crate) async fn read_request_head<R: AsyncBufRead + Unpin>(
    read: &mut R,
) -> std::io::Result<Option<RequestHead>> {
    let mut line = String::new();
    if read.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().ok_or_else(|| bad("no method"))?.to_string();
    let target = parts.next().ok_or_else(|| bad("no target"))?.to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if read.read_line(&mut h).await? == 0 {
            return Err(bad("eof in headers"));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().map_err(|_| bad("bad content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            chunked = true;
        }
        headers.push((name.to_string(), value.to_string()));
    }
    Ok(Some(RequestHead { method, target, headers, length, chunked }))
}

/// The body `head` announced (chunked bodies joined).
pub(crate) async fn read_request_body<R: AsyncBufRead + Unpin>(
    read: &mut R,
    head: &RequestHead,
) -> std::io::Result<Vec<u8>> {
    if head.chunked { read_chunked(read).await } else { read_sized(read, head.length).await }
}

async fn read_sized<R: AsyncBufRead + Unpin>(read: &mut R, length: usize) -> std::io::Result<Vec<u8>> {
    if length > MAX_BODY {
        return Err(bad("body too large"));
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await?;
    Ok(body)
}

async fn read_chunked<R: AsyncBufRead + Unpin>(read: &mut R) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        read.read_line(&mut size).await?;
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| bad("bad chunk size"))?;
        if body.len() + n > MAX_BODY {
            return Err(bad("body too large"));
        }
        // The chunk and its CRLF (after the last, empty chunk: the CRLF
        // that ends the message; trailers are not supported).
        let mut chunk = vec![0; n + 2];
        read.read_exact(&mut chunk).await?;
        if n == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    write: &mut W,
    response: &Response,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
        response.status,
        reason(response.status),
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    write.write_all(head.as_bytes()).await?;
    write.write_all(&response.body).await?;
    write.flush().await
}

/// Clients ignore the reason phrase; a familiar one makes captures readable.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
