//! A relay in front of an HTTP/1.1 server that can damage its answers (flip
//! a bit of the last byte of each response body), as a faulty network path
//! would: the seed of a fault-injecting proxy. One upstream connection per
//! request; bodies by Content-Length only (what moto sends). And a plain
//! TCP relay that cuts its first connections after some bytes
//! ([`start_cutting`]), for protocols that must survive a dropped link.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// What the relay does to each response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passes it on as it came.
    None,
    /// Flips the lowest bit of the last body byte.
    FlipLastBodyBit,
}

/// Relays 127.0.0.1:PORT (returned) to `upstream` for as long as the
/// process runs.
pub fn start(upstream: SocketAddr, fault: Fault) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            std::thread::spawn(move || {
                if let Err(e) = relay(client, upstream, fault) {
                    tracing::debug!(error = %e, "relay connection ended");
                }
            });
        }
    });
    Ok(addr)
}

fn relay(client: TcpStream, upstream: SocketAddr, fault: Fault) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    loop {
        let Some((head, body)) = message(&mut from_client, true)? else { return Ok(()) };
        let is_head = head.starts_with(b"HEAD ");
        let mut up = TcpStream::connect(upstream)?;
        up.write_all(&head)?;
        up.write_all(&body)?;
        let mut from_up = BufReader::new(up);
        let Some((response_head, mut response_body)) = message(&mut from_up, !is_head)? else {
            return Ok(());
        };
        if fault == Fault::FlipLastBodyBit
            && let Some(last) = response_body.last_mut()
        {
            *last ^= 1;
        }
        to_client.write_all(&response_head)?;
        to_client.write_all(&response_body)?;
    }
}

/// One HTTP/1.1 message: its head (through the blank line) and its body by
/// Content-Length; `None` when the peer closed.
fn message(r: &mut impl BufRead, has_body: bool) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let mut body = vec![0; if has_body { length } else { 0 }];
    r.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

/// Relays raw TCP from 127.0.0.1:PORT (returned) to `upstream`, and cuts
/// each of the first `cut_connections` connections (both directions) once
/// `after_bytes` bytes have gone from `upstream` to the client, as a
/// dropped network path would; later connections pass untouched.
pub fn start_cutting(
    upstream: SocketAddr,
    after_bytes: u64,
    cut_connections: usize,
) -> std::io::Result<SocketAddr> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let accepted = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let cut = accepted.fetch_add(1, Ordering::SeqCst) < cut_connections;
            std::thread::spawn(move || {
                if let Err(e) = relay_tcp(client, upstream, cut.then_some(after_bytes)) {
                    tracing::debug!(error = %e, "tcp relay connection ended");
                }
            });
        }
    });
    Ok(addr)
}

fn relay_tcp(client: TcpStream, upstream: SocketAddr, cut_after: Option<u64>) -> std::io::Result<()> {
    use std::io::Read;
    use std::net::Shutdown;
    let up = TcpStream::connect(upstream)?;
    let (mut up_read, mut client_write) = (up.try_clone()?, client.try_clone()?);
    let (mut client_read, mut up_write) = (client.try_clone()?, up.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut up_write);
        let _ = up_write.shutdown(Shutdown::Write);
    });
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = up_read.read(&mut buf)?;
        if n == 0 {
            let _ = client_write.shutdown(Shutdown::Write);
            return Ok(());
        }
        let n = match cut_after {
            Some(limit) => n.min((limit - sent.min(limit)) as usize),
            None => n,
        };
        client_write.write_all(&buf[..n])?;
        sent += n as u64;
        if cut_after.is_some_and(|limit| sent >= limit) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = up.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
