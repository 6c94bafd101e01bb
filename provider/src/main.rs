//! terraform-provider-batch: the process Terraform launches.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use provider::aws::provider::BatchProvider;
use provider::plugin::handshake::{self, MAGIC_COOKIE_KEY};
use provider::plugin::serve::{ServeOptions, Transport, serve};

/// Terraform provider for AWS Batch N_TO_N array-job pipelines.
///
/// Terraform starts this program itself; run it by hand only with --debug.
#[derive(Parser)]
#[command(version = PROVIDER_VERSION, about)]
struct Args {
    /// Serve without Terraform's handshake and print a TF_REATTACH_PROVIDERS
    /// value to paste into the shell running terraform (for a debugger).
    #[arg(long)]
    debug: bool,
    /// Listen on 127.0.0.1 (within PLUGIN_MIN_PORT..PLUGIN_MAX_PORT) instead
    /// of a unix socket.
    #[arg(long)]
    tcp: bool,
}

/// The version this binary reports: the release's (scripts/release.sh sets
/// BATCH_PROVIDER_VERSION when it builds), else the crate's.
const PROVIDER_VERSION: &str = match option_env!("BATCH_PROVIDER_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

/// The source address users write in required_providers.
const PROVIDER_ADDRESS: &str = "registry.terraform.io/batch-pipeline/batch";

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging();
    tracing::info!(version = PROVIDER_VERSION, pid = std::process::id(), "terraform-provider-batch starting");

    if !args.debug {
        let cookie = std::env::var(MAGIC_COOKIE_KEY).ok();
        let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").ok();
        if let Err(e) = handshake::negotiate(cookie.as_deref(), versions.as_deref()) {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let tls_disabled = std::env::var_os("TF_DISABLE_PLUGIN_TLS").is_some_and(|v| !v.is_empty());
    let client_cert_pem =
        if args.debug || tls_disabled { None } else { std::env::var("PLUGIN_CLIENT_CERT").ok() };
    let options = ServeOptions {
        transport: if args.tcp { Transport::Tcp } else { Transport::Unix },
        client_cert_pem,
        debug: args.debug,
        provider_address: PROVIDER_ADDRESS.to_string(),
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(Arc::new(BatchProvider::new()), options));
    // Don't wait for stray blocking tasks (e.g. an SDK call abandoned at Shutdown).
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "provider failed");
            eprintln!("terraform-provider-batch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout carries the handshake). go-plugin reads each
/// stderr line as a JSON log entry when it can, so entries use its field
/// names (@level, @message, @module); the level comes from TF_LOG_PROVIDER
/// or TF_LOG as with any provider, warnings by default.
fn init_logging() {
    let level = std::env::var("TF_LOG_PROVIDER")
        .or_else(|_| std::env::var("TF_LOG"))
        .ok()
        .and_then(|l| match l.to_ascii_lowercase().as_str() {
            "trace" | "json" => Some(tracing::Level::TRACE),
            "debug" => Some(tracing::Level::DEBUG),
            "info" => Some(tracing::Level::INFO),
            "warn" => Some(tracing::Level::WARN),
            "error" => Some(tracing::Level::ERROR),
            _ => None,
        })
        .unwrap_or(tracing::Level::WARN);
    // Our own events at the chosen level; the gRPC and HTTP stacks only when
    // something is wrong (their debug output drowns everything else).
    let filter =
        tracing_subscriber::EnvFilter::new(format!("warn,provider={level},terraform_provider_batch={level}"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .event_format(provider::logging::HclogJson)
        .try_init();
}
