//! `kaledger demo`: a fresh data directory with the demo data set, one token per role,
//! example requests, and a running server.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::fixtures::{generate, FixtureSpec};
use super::import::{import_file, Kind};
use super::offline::issue_token;
use super::CliResult;
use crate::domain::vocab::Role;
use crate::engine::Engine;

/// File that marks a directory as made by `kaledger demo`, so a later demo may empty it.
const DEMO_MARKER: &str = ".kaledger-demo";

/// Runs the demo.
pub fn run(data: &Path, listen: &str, fixtures: &Path, no_serve: bool) -> CliResult {
    super::init_tracing();
    prepare_directory(data)?;
    let fixtures = if fixtures.join("sales.csv").exists() {
        fixtures.to_path_buf()
    } else {
        let generated = data.join("fixtures");
        eprintln!(
            "{} not found; generating the demo data set into {}",
            fixtures.display(),
            generated.display()
        );
        generate(&FixtureSpec::demo(), &generated)?;
        generated
    };
    let engine = Arc::new(Engine::open(&data.join("ledger"))?);
    for (file, kind) in [
        ("accounts.csv", Kind::Accounts),
        ("sales.csv", Kind::Sales),
        ("returns.csv", Kind::Returns),
    ] {
        let summary = import_file(&engine, Some(kind), &fixtures.join(file), true)?;
        eprintln!("loaded {file}: {} recorded", summary.recorded);
    }
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let name = format!("demo-{role}");
        tokens.push((*role, issue_token(&engine, &name, *role)?));
    }
    let base = format!("http://{listen}");
    println!(
        "\nkaledger demo: data in {} ({} events)",
        data.display(),
        engine.read().head_position()
    );
    println!("\nTokens (shown once):");
    for (role, token) in &tokens {
        println!("  {:<8} {token}", role.as_str());
    }
    let token_of = |role: Role| {
        tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    println!("\nTry:");
    println!(
        "  export AUDITOR={} MANAGER={} INGEST={}",
        token_of(Role::Auditor),
        token_of(Role::Manager),
        token_of(Role::Ingest)
    );
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" '{base}/v1/accounts?scope=global'");
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" {base}/v1/accounts/carrefour");
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" '{base}/v1/audit/events?stream=account/carrefour&limit=3'");
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" {base}/v1/audit/verify");
    println!("  curl -s -X POST -H \"Authorization: Bearer $INGEST\" -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \\");
    println!("       -d '{{\"lines\":[{{\"account_id\":\"carrefour\",\"invoice_id\":\"INV-DEMO-1\",\"line\":1,\"sku\":\"SKU-BEV-001\",\"category\":\"beverages\",\"quantity\":\"12\",\"net_amount\":\"345.60\",\"cost_amount\":\"250.00\",\"occurred_on\":\"2026-11-20\"}}]}}' {base}/v1/sales");
    println!("  curl -s {base}/v1/openapi.json | head -c 300; curl -s {base}/metrics | grep kaledger_events");
    if no_serve {
        engine.shutdown_blocking();
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nServing; stop with Ctrl-C.");
    super::serve::serve_engine(engine, listen, || {})
}

/// Empties an earlier demo directory; refuses to touch any other non-empty directory.
fn prepare_directory(data: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if data.exists() {
        let is_demo = data.join(DEMO_MARKER).exists();
        let is_empty = std::fs::read_dir(data)?.next().is_none();
        if !is_demo && !is_empty {
            return Err(format!(
                "{} exists and was not made by `kaledger demo`; pass another --data",
                data.display()
            )
            .into());
        }
        if is_demo {
            std::fs::remove_dir_all(data)?;
        }
    }
    std::fs::create_dir_all(data)?;
    std::fs::write(
        data.join(DEMO_MARKER),
        b"made by kaledger demo; emptied by the next demo\n",
    )?;
    Ok(())
}
