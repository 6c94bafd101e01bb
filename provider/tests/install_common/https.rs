//! Files served by path over HTTPS on 127.0.0.1 with a self-signed
//! certificate Terraform trusts through SSL_CERT_FILE (Go's x509 reads it):
//! what a network mirror or a provider registry looks like to Terraform.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Files served by path over HTTPS/1.1, one request per connection.
pub struct HttpsFileServer {
    addr: SocketAddr,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    cert_dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpsFileServer {
    /// Serves on a free 127.0.0.1 port, on its own runtime (the tests block
    /// on Terraform) with a certificate for 127.0.0.1 and localhost made here.
    pub fn start() -> HttpsFileServer {
        let key = rcgen::KeyPair::generate().expect("key");
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let params = rcgen::CertificateParams::new(names).expect("params");
        let cert = params.self_signed(&key).expect("certificate");
        let cert_dir = tempfile::Builder::new().prefix("mirror-ca-").tempdir().expect("cert dir");
        std::fs::write(cert_dir.path().join("ca.pem"), cert.pem()).expect("write cert");

        let tls =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
                .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let served = files.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, served) = (acceptor.clone(), served.clone());
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        let _ = answer(stream, &served).await;
                    }
                });
            }
        });
        HttpsFileServer { addr, files, cert_dir, runtime: Some(runtime) }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The self-signed certificate, for SSL_CERT_FILE.
    pub fn ca_file(&self) -> PathBuf {
        self.cert_dir.path().join("ca.pem")
    }

    /// Serves `body` at `path` (absolute, e.g. `/v1/providers/...`).
    pub fn put(&self, path: &str, body: Vec<u8>) {
        self.files.lock().expect("files").insert(path.to_string(), body);
    }
}

impl Drop for HttpsFileServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Reads one request's head and answers it from `files` (404 otherwise).
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    files: &Mutex<HashMap<String, Vec<u8>>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let body = files.lock().map_err(|_| std::io::Error::other("poisoned"))?.get(&path).cloned();
    let (status, body, kind) = match body {
        Some(b) if path.ends_with(".zip") => ("200 OK", b, "application/zip"),
        Some(b) => ("200 OK", b, "application/json"),
        None => ("404 Not Found", b"not found".to_vec(), "text/plain"),
    };
    let response_head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(response_head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}
