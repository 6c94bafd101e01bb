//! The process side of a Terraform plugin (go-plugin's conventions):
//! handshake, AutoMTLS and serving the gRPC services.

pub mod handshake;
pub mod serve;
pub mod services;
pub mod tls;
