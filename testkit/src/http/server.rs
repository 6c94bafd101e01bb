//! The server loop: accept on 127.0.0.1, one task per connection, requests
//! on a connection answered in order (keep-alive).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::wire::{read_request, write_response};
use super::{Request, Response};

/// Serves `handler` on a fresh 127.0.0.1 port, on the current tokio
/// runtime, until the returned task is aborted (which also closes every
/// open connection).
pub async fn serve<H, F>(handler: H) -> std::io::Result<(SocketAddr, JoinHandle<()>)>
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((addr, tokio::spawn(serve_listener(listener, handler))))
}

/// Serves `handler` on `listener` until this future is dropped; the
/// connections are its tasks, so they end with it.
pub async fn serve_listener<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let handler = Arc::new(handler);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, handler.clone()));
                }
                Err(e) => tracing::debug!(error = %e, "accept failed"),
            },
            // Reaps finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection<H, F>(stream: TcpStream, handler: Arc<H>)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let request = match read_request(&mut read).await {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "bad HTTP request");
                let refusal = Response::new(400, Vec::new()).with_header("Connection", "close");
                let _ = write_response(&mut write, &refusal).await;
                let _ = write.shutdown().await;
                return;
            }
        };
        let close = request.closes_connection();
        let response = handler(request).await;
        if write_response(&mut write, &response).await.is_err() || close {
            let _ = write.shutdown().await;
            return;
        }
    }
}
