//! `kaledger serve`: open the data directory, replay, bind the address and hand the engine
//! and the listener to the HTTP server the binary gives ([`Serve`]), which serves until
//! SIGINT/SIGTERM, then stops taking requests, lets the writer finish its queue and syncs.

use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use super::CliResult;
use crate::engine::Engine;

/// Default time to receive a complete request head (and the keep-alive idle time): far more
/// than any client on a working network needs; well under the 40 s a trickle used to get.
pub const HEADER_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Default time to receive a whole request body from its head: an 8 MiB batch at 300 KB/s.
pub const BODY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// The HTTP server: serves an opened engine on a bound listener with these options until a
/// shutdown signal, then drains the writer. The binary passes one built from the API, so
/// the command line itself knows nothing of HTTP.
pub type Serve =
    fn(Arc<Engine>, TcpListener, &ServeOptions) -> Result<(), Box<dyn std::error::Error>>;

/// Timeouts and the connection limit of the HTTP server, as plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// Time to receive a complete request head (also the idle timeout of a kept-alive
    /// connection).
    pub header_timeout: Duration,
    /// Time to receive a whole request body once its head arrived.
    pub body_timeout: Duration,
    /// Most open connections; `None` lets the server derive it from the open-files limit.
    pub max_connections: Option<usize>,
}

/// Timeouts and the connection limit of the HTTP server (README, "Limits and timeouts").
#[derive(Debug, Clone, clap::Args)]
pub struct TransportArgs {
    /// Milliseconds to receive a complete request head, counted from the accept and, on a
    /// kept-alive connection, from the end of the previous response (so also the idle
    /// timeout).
    #[arg(long, env = "KALEDGER_HEADER_TIMEOUT_MS", default_value_t = HEADER_TIMEOUT_DEFAULT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Milliseconds to receive a whole request body once its head arrived (then 408).
    #[arg(long, env = "KALEDGER_BODY_TIMEOUT_MS", default_value_t = BODY_TIMEOUT_DEFAULT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Most open connections [default: the open-files limit minus 96, at most 4096].
    #[arg(long, env = "KALEDGER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
}

impl TransportArgs {
    /// The options these arguments give.
    pub fn options(&self) -> ServeOptions {
        ServeOptions {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections.map(|n| n as usize),
        }
    }
}

/// Runs the server on `listen` until a shutdown signal.
pub fn run(data: &Path, listen: &str, transport: &TransportArgs, serve: Serve) -> CliResult {
    super::init_tracing();
    let engine = Arc::new(Engine::open(data)?);
    tracing::info!(events = engine.replayed.0, replay_ms = engine.replayed.1.as_millis() as u64, data = %data.display(), "log replayed");
    serve_engine(engine, listen, transport, serve)
}

/// Binds `listen`, prints the address, and serves an opened engine with `serve`.
pub fn serve_engine(
    engine: Arc<Engine>,
    listen: &str,
    transport: &TransportArgs,
    serve: Serve,
) -> CliResult {
    let listener =
        TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let address = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when listening on :0.
    println!("kaledger listening on http://{address}");
    serve(engine, listener, &transport.options())?;
    Ok(ExitCode::SUCCESS)
}
