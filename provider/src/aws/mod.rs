//! The AWS side of the provider: configuration, clients and resources.

pub mod clients;
pub mod config;
pub mod errors;
pub mod pipeline;
pub mod provider;
pub mod state_machine;
pub mod stop;
pub mod tags_all;
#[cfg(feature = "test-resources")]
pub mod test_bucket;
