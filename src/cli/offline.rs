//! Offline commands on a stopped ledger: verify, rebuild, export, token.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

use super::CliResult;
use crate::domain::vocab::Role;
use crate::domain::Command;
use crate::engine::{replay, replay_through, Engine, LineHome, WriteMeta};
use crate::kernel::token::new_token;
use crate::ledger::envelope::hash_hex;
use crate::ledger::{Actor, Envelope, LogStore, VerifyReport};
use crate::queries::audit::{AuditEvent, VerifyResponse};

/// The actor recorded for offline administration.
pub fn cli_actor() -> Actor {
    Actor {
        name: "cli".to_string(),
        role: Role::Admin.to_string(),
    }
}

fn meta() -> WriteMeta {
    WriteMeta::new(cli_actor(), None, &[], uuid::Uuid::new_v4().to_string())
}

/// Refuses a directory that holds no ledger, so that a mistyped `--data` given to a
/// command that only reads fails instead of creating an empty ledger and reporting on it
/// (an empty chain "verifies").
pub fn existing_ledger(data: &Path) -> Result<(), Box<dyn std::error::Error>> {
    // sled keeps its data in the file `db`; `LogStore::open` syncs that same file.
    if data.join("db").is_file() {
        Ok(())
    } else if data.join("ledger").join("db").is_file() {
        // `kaledger demo` keeps its ledger one level down, beside its own files.
        Err(format!(
            "no ledger in {0}, but there is one in {0}/ledger (a demo directory); use --data {0}/ledger",
            data.display()
        )
        .into())
    } else {
        Err(format!(
            "no ledger in {}; check --data (or KALEDGER_DATA)",
            data.display()
        )
        .into())
    }
}

/// `kaledger verify`: prints the report as JSON; exit 1 when the chain is broken.
pub fn verify(data: &Path) -> CliResult {
    existing_ledger(data)?;
    let store = LogStore::open(data)?;
    let report = store.verify()?;
    let broken = matches!(report, VerifyReport::Broken { .. });
    if let VerifyReport::Broken {
        first_bad_position,
        reason,
        ..
    } = &report
    {
        eprintln!("kaledger: chain broken at position {first_bad_position}: {reason}");
    }
    println!("{}", serde_json::to_string(&VerifyResponse::from(report))?);
    Ok(if broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `kaledger rebuild`: replays the log (or its positions up to `through`) into fresh
/// projections and prints their digest.
pub fn rebuild(data: &Path, through: Option<u64>) -> CliResult {
    existing_ledger(data)?;
    let store = LogStore::open(data)?;
    let replayed = match through {
        None => replay(&store, &LineHome::temporary(data)?)?,
        Some(through) => {
            let replayed = replay_through(&store, &LineHome::temporary(data)?, through)?;
            if replayed.head.position != through {
                return Err(format!(
                    "--through {through} is past the end of the log ({}); give a position up to it",
                    replayed.head.position
                )
                .into());
            }
            replayed
        }
    };
    let seconds = replayed.elapsed.as_secs_f64().max(1e-9);
    let report = serde_json::json!({
        "events": replayed.events,
        "through_position": replayed.read.head_position(),
        "head_hash": hash_hex(&replayed.head.hash),
        "digest": replayed.read.digest(),
        "state_digest": replayed.state.digest(),
        "elapsed_ms": replayed.elapsed.as_millis() as u64,
        "events_per_second": (replayed.events as f64 / seconds).round() as u64,
    });
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// `kaledger export`: the whole log as JSONL.
pub fn export(data: &Path, output: Option<&Path>) -> CliResult {
    existing_ledger(data)?;
    let store = LogStore::open(data)?;
    let sink: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::new(sink);
    let mut count = 0u64;
    for item in store.iter_from(1) {
        let (_, bytes) = item?;
        let envelope = Envelope::open(&bytes)?;
        serde_json::to_writer(&mut out, &AuditEvent::from_envelope(&envelope))?;
        out.write_all(b"\n")?;
        count += 1;
    }
    out.flush()?;
    if output.is_some() {
        eprintln!("exported {count} events");
    }
    Ok(ExitCode::SUCCESS)
}

/// `kaledger token create`: prints only the token.
pub fn token_create(data: &Path, name: &str, role: Role) -> CliResult {
    let engine = Engine::open(data)?;
    let token = issue_token(&engine, name, role);
    engine.shutdown_blocking();
    println!("{}", token?);
    Ok(ExitCode::SUCCESS)
}

/// Issues a token through an opened engine and returns it; used by `token create` and `demo`.
pub fn issue_token(
    engine: &Engine,
    name: &str,
    role: Role,
) -> Result<String, Box<dyn std::error::Error>> {
    let (token, token_sha256) =
        new_token().map_err(|e| format!("no randomness for a token: {e}"))?;
    engine.submit_blocking(
        Command::IssueToken {
            name: name.to_string(),
            role,
            token_sha256,
        },
        meta(),
    )?;
    Ok(token)
}

/// `kaledger token list`.
pub fn token_list(data: &Path) -> CliResult {
    existing_ledger(data)?;
    let engine = Engine::open(data)?;
    println!(
        "{:<24} {:<8} {:<28} {:<28}",
        "NAME", "ROLE", "CREATED", "REVOKED"
    );
    for t in engine.read().tokens.list() {
        println!(
            "{:<24} {:<8} {:<28} {:<28}",
            t.name,
            t.role,
            t.created_at,
            t.revoked_at.as_deref().unwrap_or("-")
        );
    }
    engine.shutdown_blocking();
    Ok(ExitCode::SUCCESS)
}

/// `kaledger token revoke`.
pub fn token_revoke(data: &Path, name: &str, reason: Option<String>) -> CliResult {
    existing_ledger(data)?;
    let engine = Engine::open(data)?;
    let result = engine.submit_blocking(
        Command::RevokeToken {
            name: name.to_string(),
            reason,
        },
        meta(),
    );
    engine.shutdown_blocking();
    result?;
    eprintln!("revoked token {name}");
    Ok(ExitCode::SUCCESS)
}

/// `kaledger report pareto`.
pub fn report_pareto(
    data: &Path,
    as_of: Option<chrono::NaiveDate>,
    window_months: u32,
    currency: Option<&str>,
    format: &str,
) -> CliResult {
    if format != "json" && format != "csv" {
        return Err(format!("unknown format \"{format}\"; expected json or csv").into());
    }
    existing_ledger(data)?;
    let store = LogStore::open(data)?;
    let replayed = replay(&store, &LineHome::of_data_dir(&store)?)?;
    let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let report =
        crate::queries::pareto::pareto_report(&replayed.read, as_of, window_months, currency)?;
    if format == "csv" {
        print!("{}", crate::queries::pareto::pareto_csv(&report));
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `kaledger report liability`.
pub fn report_liability(data: &Path, as_of: Option<chrono::NaiveDate>, format: &str) -> CliResult {
    if format != "json" && format != "csv" {
        return Err(format!("unknown format \"{format}\"; expected json or csv").into());
    }
    existing_ledger(data)?;
    let engine = Engine::open(data)?;
    let today = chrono::Utc::now().date_naive();
    let as_of = as_of.unwrap_or(today);
    let report = {
        let read = engine.read();
        crate::queries::liability::liability(&read, as_of, read.head_position(), today)
    };
    engine.shutdown_blocking();
    let report = report?;
    if format == "csv" {
        print!("{}", crate::queries::liability::liability_csv(&report));
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
