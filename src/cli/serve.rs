//! `kaledger serve`: open the data directory, replay, serve until SIGINT/SIGTERM, then
//! stop taking requests, let the writer finish its queue and sync.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::CliResult;
use crate::engine::Engine;

/// Runs the server on `listen` until a shutdown signal.
pub fn run(data: &Path, listen: &str) -> CliResult {
    super::init_tracing();
    let engine = Arc::new(Engine::open(data)?);
    tracing::info!(events = engine.replayed.0, replay_ms = engine.replayed.1.as_millis() as u64, data = %data.display(), "log replayed");
    serve_engine(engine, listen, || {})
}

/// Serves an opened engine; `on_ready` runs once the socket is bound.
pub fn serve_engine(engine: Arc<Engine>, listen: &str, on_ready: impl FnOnce()) -> CliResult {
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
        on_ready();
        let app = crate::api::router(engine.clone());
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
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
