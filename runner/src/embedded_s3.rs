//! The embedded S3 of the data plane (`--s3-dir`): an S3 server on
//! 127.0.0.1 that keeps buckets as directories of a local folder (s3s-fs,
//! with a faster PutObject of its own: store.rs),
//! so the jobs' PUTs and GETs do not queue behind moto, which serves S3
//! on one core at ~2.7 ms of CPU a request. The jobs reach it as they reach
//! any stand-in, through `AWS_ENDPOINT_URL_S3`, with the same signed
//! requests they make in AWS: SigV4 is verified against the credentials
//! they get, and a PUT's `x-amz-checksum-*` (egress sends CRC64-NVME) is
//! checked against the bytes received (`BadDigest` otherwise), as S3 does.
//! Keys with `.` or `..` segments are refused (keys.rs): here a key is a
//! file path.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod keys;
mod store;
pub use store::INLINE_PUT_BYTES;

/// A running server; dropped, it stops accepting connections.
pub struct EmbeddedS3 {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl EmbeddedS3 {
    /// Serves the buckets under `root` (one directory per bucket; created
    /// if absent) on a free port of 127.0.0.1, accepting requests signed
    /// with `access_key`/`secret_key` only.
    pub async fn start(root: &Path, access_key: &str, secret_key: &str) -> Result<Self> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating the S3 directory {}", root.display()))?;
        let store = store::Store::new(root)?;
        let service = {
            let mut b = S3ServiceBuilder::new(store);
            b.set_auth(SimpleAuth::from_single(access_key, secret_key));
            b.set_access(keys::KeysStayInTheirBucket);
            b.build()
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("binding the embedded S3 server")?;
        let addr = listener.local_addr()?;
        let accept = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let socket = match listener.accept().await {
                    Ok((socket, _)) => socket,
                    Err(e) => {
                        // Out of descriptors and the like: the client retries.
                        tracing::warn!("embedded S3: accepting a connection: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("embedded S3 connection: {e}");
                    }
                });
            }
        });
        tracing::info!(%addr, root = %root.display(), "embedded S3 serving");
        Ok(EmbeddedS3 { addr, accept })
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_S3`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
