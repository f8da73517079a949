//! `kaledger` binary: the composition root. Parses the command line and runs it, giving the
//! command line the HTTP API as its server (the command line imports nothing of the API).

use std::net::TcpListener;
use std::sync::Arc;

use kaledger::api::transport::{default_max_connections, Limits};
use kaledger::cli::serve::ServeOptions;
use kaledger::engine::Engine;

/// mimalloc: replay and ingestion allocate and free millions of small strings; glibc's
/// malloc spent a quarter of replay time in its free lists.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Serves the API with the command line's options; an absent connection limit is derived
/// from the open-files limit.
fn serve(
    engine: Arc<Engine>,
    listener: TcpListener,
    options: &ServeOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let limits = Limits {
        header_timeout: options.header_timeout,
        body_timeout: options.body_timeout,
        max_connections: options
            .max_connections
            .unwrap_or_else(default_max_connections),
    };
    kaledger::api::server::serve(engine, listener, limits)?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    kaledger::cli::main(serve)
}
