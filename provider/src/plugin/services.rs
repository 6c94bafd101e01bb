//! go-plugin's housekeeping services, served beside the provider:
//! controller (Shutdown), stdio (we forward nothing: logs go to stderr,
//! which go-plugin reads directly) and broker (unused by Terraform providers,
//! but the client opens it).

use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::watch;
use tonic::{Request, Response, Status, Streaming};

use crate::proto::plugin::{self as pb, grpc_broker_server, grpc_controller_server, grpc_stdio_server};

/// Fires once when the process should stop serving.
#[derive(Clone)]
pub struct ShutdownSignal {
    tx: watch::Sender<bool>,
}

impl ShutdownSignal {
    pub fn new() -> Self {
        ShutdownSignal { tx: watch::channel(false).0 }
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves when `trigger` has been called (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        // Err only if the sender is gone, which cannot happen while self lives.
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

/// The stream type tonic's generated traits use for server streams.
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

pub struct Controller {
    pub shutdown: ShutdownSignal,
}

#[tonic::async_trait]
impl grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        tracing::debug!("shutdown requested by terraform");
        self.shutdown.trigger();
        Ok(Response::new(pb::Empty {}))
    }
}

pub struct Stdio {
    pub shutdown: ShutdownSignal,
}

#[tonic::async_trait]
impl grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<BoxStream<pb::StdioData>>, Status> {
        Ok(Response::new(never_yields(self.shutdown.clone())))
    }
}

pub struct Broker {
    pub shutdown: ShutdownSignal,
}

#[tonic::async_trait]
impl grpc_broker_server::GrpcBroker for Broker {
    async fn start_stream(
        &self,
        request: Request<Streaming<pb::ConnInfo>>,
    ) -> Result<Response<BoxStream<pb::ConnInfo>>, Status> {
        // Nothing is brokered; drain what the client sends so its side of the
        // stream never blocks.
        let mut inbound = request.into_inner();
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        Ok(Response::new(never_yields(self.shutdown.clone())))
    }
}

/// A stream that yields nothing and ends at shutdown, so graceful shutdown
/// is never held up by a stream the client keeps open.
fn never_yields<T: Send + 'static>(shutdown: ShutdownSignal) -> BoxStream<T> {
    Box::pin(futures_util::stream::unfold(Some(shutdown), |state| async move {
        if let Some(shutdown) = state {
            shutdown.wait().await;
        }
        None::<(Result<T, Status>, Option<ShutdownSignal>)>
    }))
}
