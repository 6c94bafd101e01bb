//! The server for sync handlers: its own tokio runtime, each request
//! handled on a blocking thread, so a handler may block (wait on a lock or
//! a condition, long-poll) without stalling other connections.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::runtime::Runtime;

use super::{Request, Response, serve_listener};

/// A running server; stops (listener and connections) when dropped.
pub struct Server {
    addr: SocketAddr,
    runtime: Option<Runtime>,
}

impl Server {
    /// Serves `handler` on a free 127.0.0.1 port. Works inside or outside
    /// a tokio runtime.
    pub fn start<H>(handler: H) -> std::io::Result<Self>
    where
        H: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        // Bound here, synchronously, so the port is known on return.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testkit-http")
            .enable_io()
            .enable_time()
            .build()?;
        let handler = Arc::new(handler);
        runtime.spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::error!(error = %e, "cannot serve the bound listener");
                    return;
                }
            };
            serve_listener(listener, move |request| {
                let handler = handler.clone();
                async move {
                    tokio::task::spawn_blocking(move || handler(&request))
                        .await
                        .unwrap_or_else(|e| Response::new(500, format!("handler failed: {e}")))
                }
            })
            .await
        });
        Ok(Server { addr, runtime: Some(runtime) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Not a plain drop: dropping a runtime inside another one (an async
        // test) panics. A handler still blocked is left to finish alone.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
