//! terraform-provider-batch: a Terraform provider for AWS Batch pipelines.
//!
//! - [`tfplugin`]: the generic plugin protocol 6 layer (values, schemas, gRPC).
//! - [`plugin`]: go-plugin's side of the process: handshake, TLS, serving.
//! - [`aws`]: the provider itself: configuration, AWS clients, resources.

pub mod aws;
pub mod logging;
pub mod plugin;
pub mod tfplugin;

pub mod proto {
    //! Code generated from proto/ at build time.
    pub mod tfplugin6 {
        tonic::include_proto!("tfplugin6");
    }
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}
