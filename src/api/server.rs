//! The API served: the router over [`super::transport`] on a listener the caller bound,
//! until SIGINT/SIGTERM, then a graceful drain and the writer's last sync.

use std::sync::Arc;

use super::transport::{self, Limits};
use crate::engine::Engine;

/// Serves the API for `engine` on `listener` with `limits` until SIGINT or SIGTERM, then
/// stops taking requests, lets the writer finish its queue and syncs. Runs its own
/// multi-threaded runtime and returns when the engine has shut down.
pub fn serve(
    engine: Arc<Engine>,
    listener: std::net::TcpListener,
    limits: Limits,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tracing::info!(
            header_timeout_ms = limits.header_timeout.as_millis() as u64,
            body_timeout_ms = limits.body_timeout.as_millis() as u64,
            max_connections = limits.max_connections,
            "transport limits"
        );
        let app = super::router(engine.clone());
        transport::serve(listener, app, limits, engine.clone(), shutdown_signal()).await;
        tracing::info!("shutting down: draining the writer and syncing");
        engine.shutdown().await;
        Ok(())
    })
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
