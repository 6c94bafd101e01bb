//! Serving the provider the way go-plugin expects: bind a listener, print
//! the handshake line, serve gRPC (over mutual TLS when Terraform asks for
//! it) until Terraform calls Shutdown, then exit promptly.

use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use crate::proto::plugin::{grpc_broker_server, grpc_controller_server, grpc_stdio_server};
use crate::proto::tfplugin6::provider_server::ProviderServer;
use crate::tfplugin::provider::Provider;
use crate::tfplugin::server::ProtocolServer;

use super::handshake::handshake_line;
use super::services::{Broker, Controller, ShutdownSignal, Stdio};
use super::tls;

/// Terraform's states can be large; go-plugin allows messages up to 2 GiB.
const MAX_MESSAGE_BYTES: usize = i32::MAX as usize;
/// After Shutdown, Terraform waits about two seconds before it kills the
/// process and complains; we are gone well before that.
const EXIT_DEADLINE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Unix,
    Tcp,
}

pub struct ServeOptions {
    pub transport: Transport,
    /// PEM of the client certificate: serve mutual TLS; None: plaintext.
    pub client_cert_pem: Option<String>,
    /// Debug mode: print TF_REATTACH_PROVIDERS instead of the handshake
    /// line, and stop on Ctrl-C instead of ignoring it.
    pub debug: bool,
    pub provider_address: String,
}

/// A connection the gRPC server reads: a plain socket or a TLS session.
struct Conn(Box<dyn Io>);

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

enum Listener {
    /// The directory holds the socket; it is removed when dropped.
    Unix {
        listener: UnixListener,
        _dir: tempfile::TempDir,
    },
    Tcp(TcpListener),
}

impl Listener {
    fn bind(transport: Transport) -> Result<(Listener, String, String)> {
        match transport {
            Transport::Unix => {
                let base = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(std::env::temp_dir);
                let dir = tempfile::Builder::new()
                    .prefix("plugin")
                    .tempdir_in(&base)
                    .with_context(|| format!("creating a socket directory in {}", base.display()))?;
                let path = dir.path().join("provider.sock");
                let listener =
                    UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
                Ok((Listener::Unix { listener, _dir: dir }, "unix".into(), path.display().to_string()))
            }
            Transport::Tcp => {
                let (min, max) = port_range()?;
                for port in min..=max {
                    if let Ok(std_listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                        std_listener.set_nonblocking(true)?;
                        let listener = TcpListener::from_std(std_listener)?;
                        let addr = listener.local_addr()?.to_string();
                        return Ok((Listener::Tcp(listener), "tcp".into(), addr));
                    }
                }
                bail!("no free port on 127.0.0.1 between {min} and {max} (PLUGIN_MIN_PORT..PLUGIN_MAX_PORT)")
            }
        }
    }

    async fn accept(&self) -> std::io::Result<Box<dyn Io>> {
        Ok(match self {
            Listener::Unix { listener, .. } => Box::new(listener.accept().await?.0),
            Listener::Tcp(l) => Box::new(l.accept().await?.0),
        })
    }
}

fn port_range() -> Result<(u16, u16)> {
    let read = |name: &str, default: u16| -> Result<u16> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => v.parse().with_context(|| format!("{name}={v:?} is not a port number")),
            _ => Ok(default),
        }
    };
    let (min, max) = (read("PLUGIN_MIN_PORT", 10000)?, read("PLUGIN_MAX_PORT", 25000)?);
    if min > max {
        bail!("PLUGIN_MIN_PORT {min} is above PLUGIN_MAX_PORT {max}");
    }
    Ok((min, max))
}

/// Serves until Shutdown (or Ctrl-C in debug mode). Returns when done.
pub async fn serve<P: Provider>(provider: Arc<P>, options: ServeOptions) -> Result<()> {
    let tls_acceptor = match &options.client_cert_pem {
        Some(pem) => {
            let client_cert = tls::parse_client_cert(pem)?;
            let identity = tls::generate_server_identity().context("making the server certificate")?;
            let config = tls::server_config(&identity, client_cert)?;
            Some((TlsAcceptor::from(Arc::new(config)), identity.cert_der))
        }
        None => None,
    };

    let (listener, network, address) = Listener::bind(options.transport)?;
    let shutdown = ShutdownSignal::new();
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_service_status("plugin", tonic_health::ServingStatus::Serving).await;

    let provider_service = ProviderServer::new(ProtocolServer::new(provider))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let router = tonic::transport::Server::builder()
        .add_service(provider_service)
        .add_service(grpc_controller_server::GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(grpc_stdio_server::GrpcStdioServer::new(Stdio { shutdown: shutdown.clone() }))
        .add_service(grpc_broker_server::GrpcBrokerServer::new(Broker { shutdown: shutdown.clone() }))
        .add_service(health_service);

    // Connections arrive through a channel so that a slow or failed TLS
    // handshake never blocks the accept loop.
    let (conn_tx, conn_rx) = mpsc::channel::<std::io::Result<Conn>>(16);
    let acceptor = tls_acceptor.as_ref().map(|(a, _)| a.clone());
    let accept_shutdown = shutdown.clone();
    let accept_task = tokio::spawn(async move {
        loop {
            let io = tokio::select! {
                _ = accept_shutdown.wait() => break,
                accepted = listener.accept() => match accepted {
                    Ok(io) => io,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let tx = conn_tx.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let conn = match acceptor {
                    Some(acceptor) => match acceptor.accept(io).await {
                        Ok(tls) => Conn(Box::new(tls)),
                        Err(e) => {
                            tracing::warn!(error = %e, "TLS handshake with terraform failed");
                            return;
                        }
                    },
                    None => Conn(io),
                };
                let _ = tx.send(Ok(conn)).await;
            });
        }
        // Keeps the socket directory until serving ends.
        drop(listener);
    });

    announce(&options, &network, &address, tls_acceptor.as_ref().map(|(_, c)| c.as_ref()))?;

    if options.debug {
        let s = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            s.trigger();
        });
    } else {
        // Terraform handles Ctrl-C itself and tells us what to do (StopProvider,
        // then Shutdown); the interrupt it forwards to the process group must
        // not kill us mid-request.
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                tracing::debug!("ignoring interrupt; terraform will stop the provider");
            }
        });
    }

    let stop = shutdown.clone();
    let serving =
        router.serve_with_incoming_shutdown(ReceiverStream::new(conn_rx), async move { stop.wait().await });
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => result.context("gRPC server failed")?,
        _ = async { shutdown.wait().await; tokio::time::sleep(EXIT_DEADLINE).await } => {
            tracing::debug!("connections still open at the exit deadline; exiting anyway");
        }
    }
    accept_task.abort();
    Ok(())
}

fn announce(options: &ServeOptions, network: &str, address: &str, cert: Option<&[u8]>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if options.debug {
        let reattach = serde_json::json!({
            options.provider_address.clone(): {
                "Protocol": "grpc",
                "ProtocolVersion": super::handshake::APP_PROTOCOL_VERSION,
                "Pid": std::process::id(),
                "Test": true,
                "Addr": { "Network": network, "String": address },
            }
        });
        writeln!(
            out,
            "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{reattach}'\n"
        )?;
    } else {
        writeln!(out, "{}", handshake_line(network, address, cert))?;
    }
    out.flush()?;
    Ok(())
}
