//! The `batch` provider: its configuration and the types it serves.

use std::sync::Arc;

use async_trait::async_trait;

use super::clients::{AwsClients, ClientSlot};
use super::config::{self, ProviderConfig};
use super::stop::StopSignal;
use crate::tfplugin::{DataSource, Diagnostics, Provider, Resource, Schema, Value};

#[derive(Default)]
pub struct BatchProvider {
    clients: ClientSlot,
    stop: StopSignal,
}

impl BatchProvider {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Provider for BatchProvider {
    fn schema(&self) -> Schema {
        config::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        ProviderConfig::parse(config, false).err().unwrap_or_default()
    }

    async fn configure(&self, config: &Value, terraform_version: &str) -> Diagnostics {
        tracing::debug!(terraform_version, "configuring provider");
        let parsed = match ProviderConfig::parse(config, true) {
            Ok(c) => c,
            Err(d) => return d,
        };
        match AwsClients::build(&parsed).await {
            Ok(clients) => {
                self.clients.set(clients);
                Diagnostics::new()
            }
            Err(d) => d,
        }
    }

    async fn stop(&self) {
        tracing::info!("stop requested: waits in progress give up at their next poll");
        self.stop.request();
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        #[allow(unused_mut)]
        let mut resources: Vec<Arc<dyn Resource>> =
            vec![Arc::new(super::pipeline::Pipeline::new(self.clients.clone(), self.stop.clone()))];
        #[cfg(feature = "test-resources")]
        resources.push(Arc::new(super::test_bucket::TestBucket::new(self.clients.clone())));
        resources
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        #[allow(unused_mut)]
        let mut sources: Vec<Arc<dyn DataSource>> =
            vec![Arc::new(super::state_machine::StateMachineDefinition)];
        #[cfg(feature = "test-resources")]
        sources.push(Arc::new(super::test_bucket::TestBucketData::new(self.clients.clone())));
        sources
    }
}
