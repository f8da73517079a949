//! `kaledger serve`: open the data directory, replay, serve until SIGINT/SIGTERM, then
//! stop taking requests, let the writer finish its queue and sync.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::CliResult;
use crate::api::transport::{self, Limits};
use crate::engine::Engine;

/// Timeouts and the connection limit of the HTTP server (README, "Limits and timeouts").
#[derive(Debug, Clone, clap::Args)]
pub struct TransportArgs {
    /// Milliseconds to receive a complete request head, counted from the accept and, on a
    /// kept-alive connection, from the end of the previous response (so also the idle
    /// timeout).
    #[arg(long, env = "KALEDGER_HEADER_TIMEOUT_MS", default_value_t = transport::HEADER_TIMEOUT_DEFAULT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Milliseconds to receive a whole request body once its head arrived (then 408).
    #[arg(long, env = "KALEDGER_BODY_TIMEOUT_MS", default_value_t = transport::BODY_TIMEOUT_DEFAULT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Most open connections [default: the open-files limit minus 96, at most 4096].
    #[arg(long, env = "KALEDGER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
}

impl TransportArgs {
    /// The limits, with the connection limit derived from `RLIMIT_NOFILE` when not given.
    pub fn limits(&self) -> Limits {
        Limits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self
                .max_connections
                .map(|n| n as usize)
                .unwrap_or_else(transport::default_max_connections),
        }
    }
}

/// Runs the server on `listen` until a shutdown signal.
pub fn run(data: &Path, listen: &str, transport: &TransportArgs) -> CliResult {
    super::init_tracing();
    let engine = Arc::new(Engine::open(data)?);
    tracing::info!(events = engine.replayed.0, replay_ms = engine.replayed.1.as_millis() as u64, data = %data.display(), "log replayed");
    serve_engine(engine, listen, transport, || {})
}

/// Serves an opened engine; `on_ready` runs once the socket is bound.
pub fn serve_engine(
    engine: Arc<Engine>,
    listen: &str,
    transport: &TransportArgs,
    on_ready: impl FnOnce(),
) -> CliResult {
    let limits = transport.limits();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let address = listener.local_addr()?;
        // Tests and scripts read this line to learn the port when listening on :0.
        println!("kaledger listening on http://{address}");
        tracing::info!(
            header_timeout_ms = limits.header_timeout.as_millis() as u64,
            body_timeout_ms = limits.body_timeout.as_millis() as u64,
            max_connections = limits.max_connections,
            "transport limits"
        );
        on_ready();
        let app = crate::api::router(engine.clone());
        transport::serve(listener, app, limits, engine.clone(), shutdown_signal()).await;
        tracing::info!("shutting down: draining the writer and syncing");
        engine.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
