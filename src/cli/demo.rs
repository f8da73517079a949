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
use crate::input::contests::{DefineContestRequest, MarkPaidRequest};
use crate::input::discounts::GrantDiscountRequest;
use crate::input::programs::{DefineProgramRequest, EnrollRequest};
use crate::input::sales::{ReturnLineJson, SaleLineJson};
use crate::input::seasons::DeclareSeasonRequest;
use crate::input::settlements::ProposeRequest;
use crate::input::tiers::{GrantOverrideRequest, PublishPolicyRequest};

/// File that marks a directory as made by `kaledger demo`, so a later demo may empty it.
const DEMO_MARKER: &str = ".kaledger-demo";

/// Runs the demo.
pub fn run(
    data: &Path,
    listen: &str,
    fixtures: &Path,
    no_serve: bool,
    transport: &super::serve::TransportArgs,
    serve: super::serve::Serve,
) -> CliResult {
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
    load_incentives(&engine, &fixtures)?;
    load_rebates(&engine, &fixtures)?;
    load_contests(&engine, &fixtures)?;
    load_seasons(&engine, &fixtures)?;
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
        "  export AUDITOR={} MANAGER={} FINANCE={} PLANNER={} INGEST={} ADMIN={}",
        token_of(Role::Auditor),
        token_of(Role::Manager),
        token_of(Role::Finance),
        token_of(Role::Planner),
        token_of(Role::Ingest),
        token_of(Role::Admin)
    );
    println!("  K={base}");
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" '{base}/v1/accounts?scope=global'");
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" {base}/v1/accounts/carrefour");
    println!("  curl -s -H \"Authorization: Bearer $MANAGER\" '{base}/v1/accounts/gome/entitlements?as_of=2026-10-31'");
    println!("  curl -s -H \"Authorization: Bearer $FINANCE\" '{base}/v1/rebate-programs/VOL-2026/accruals?period=2026-Q2'");
    println!("  curl -s -H \"Authorization: Bearer $FINANCE\" {base}/v1/settlements/VOL-2026.walmart.2026-Q1.1/explain");
    println!(
        "  curl -s -H \"Authorization: Bearer $FINANCE\" '{base}/v1/reports/liability?format=csv'"
    );
    println!("  curl -s -H \"Authorization: Bearer $AUDITOR\" '{base}/v1/reports/pareto?as_of=2026-10-31'");
    println!(
        "  curl -s -H \"Authorization: Bearer $MANAGER\" {base}/v1/contests/MOON-2026-Q3/standings"
    );
    println!(
        "  curl -s -X POST -H \"Authorization: Bearer $PLANNER\" {base}/v1/seasons/CNY-2027/plan"
    );
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
    super::serve::serve_engine(engine, listen, transport, serve)
}

/// A tier override of `incentives.json`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoOverride {
    account_id: String,
    #[serde(flatten)]
    grant: GrantOverrideRequest,
}

/// `incentives.json`: tier overrides and discounts.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoIncentives {
    overrides: Vec<DemoOverride>,
    discounts: Vec<GrantDiscountRequest>,
}

/// Publishes `tier-policy.json` (a list of versions) and grants `incentives.json`, through
/// the same decisions as the API (a discount above its tier's ceiling is refused here too).
fn load_incentives(engine: &Engine, fixtures: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use crate::domain::Command;
    let policy_path = fixtures.join("tier-policy.json");
    if !policy_path.exists() {
        eprintln!(
            "{} not found; no tier policy (every account is unclassified)",
            policy_path.display()
        );
        return Ok(());
    }
    let meta = || {
        crate::engine::WriteMeta::new(
            super::offline::cli_actor(),
            None,
            &[],
            uuid::Uuid::new_v4().to_string(),
        )
    };
    let policies: Vec<PublishPolicyRequest> = serde_json::from_slice(&std::fs::read(&policy_path)?)
        .map_err(|e| format!("{}: {e}", policy_path.display()))?;
    for p in policies {
        let window_months = p
            .window_months
            .unwrap_or(crate::domain::incentives::DEFAULT_WINDOW_MONTHS);
        engine.submit_blocking(
            Command::PublishTierPolicy {
                effective_from: p.effective_from,
                window_months,
                tiers: p.tiers,
                expected_version: None,
            },
            meta(),
        )?;
    }
    let incentives_path = fixtures.join("incentives.json");
    if !incentives_path.exists() {
        return Ok(());
    }
    let incentives: DemoIncentives = serde_json::from_slice(&std::fs::read(&incentives_path)?)
        .map_err(|e| format!("{}: {e}", incentives_path.display()))?;
    for o in incentives.overrides {
        let command = Command::GrantTierOverride {
            account_id: o.account_id,
            tier: o.grant.tier,
            valid_from: o.grant.valid_from,
            valid_to: o.grant.valid_to,
            reason: o.grant.reason,
        };
        engine.submit_blocking(command, meta())?;
    }
    for d in incentives.discounts {
        let command = Command::GrantDiscount(d.into());
        engine.submit_blocking(command, meta())?;
    }
    eprintln!("loaded the tier policy, overrides and discounts");
    Ok(())
}

/// An enrollment of `rebates.json`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoEnrollment {
    program_id: String,
    #[serde(flatten)]
    enroll: EnrollRequest,
}

/// A settlement of `rebates.json`: proposed by one demo finance user, approved by another.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoSettlement {
    #[serde(flatten)]
    proposal: ProposeRequest,
    proposed_by: String,
    approved_by: Option<String>,
}

/// `rebates.json`: rebate programs, enrollments, settlements, and late returns followed by
/// the settlements they call for (a clawback).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoRebates {
    programs: Vec<DefineProgramRequest>,
    enrollments: Vec<DemoEnrollment>,
    #[serde(default)]
    settlements: Vec<DemoSettlement>,
    #[serde(default)]
    late_returns: Vec<ReturnLineJson>,
    #[serde(default)]
    after_late_returns: Vec<DemoSettlement>,
}

/// Proposes (and approves, when the demo says who) one settlement, as the API does.
fn settle(
    engine: &std::sync::Arc<Engine>,
    s: DemoSettlement,
) -> Result<(), Box<dyn std::error::Error>> {
    use crate::domain::Command;
    use crate::queries::settlements::{proposal, proposed, Proposal};
    let meta = |name: &str| {
        let actor = crate::ledger::Actor {
            name: name.to_string(),
            role: "finance".to_string(),
        };
        crate::engine::WriteMeta::new(actor, None, &[], uuid::Uuid::new_v4().to_string())
    };
    let asked = Proposal {
        program_id: s.proposal.program_id,
        account_id: s.proposal.account_id,
        period: s.proposal.period.parse()?,
        kind: s.proposal.kind,
        reference: s.proposal.reference,
    };
    let today = chrono::Utc::now().date_naive();
    let command = proposal(&engine.read(), asked, &s.proposed_by, today)?;
    let outcome = engine.submit_blocking(
        Command::ProposeSettlement(command.clone()),
        meta(&s.proposed_by),
    )?;
    if let Some(approver) = s.approved_by {
        let position = outcome
            .last_position
            .ok_or("the proposal recorded nothing")?;
        let id = proposed(&engine.read(), &command, position)?.settlement_id;
        engine.submit_blocking(
            Command::ApproveSettlement {
                settlement_id: id,
                actor: approver.clone(),
                note: None,
            },
            meta(&approver),
        )?;
    }
    Ok(())
}

/// Defines the programs of `rebates.json` and enrolls its accounts, through the same
/// decisions as the API.
fn load_rebates(
    engine: &std::sync::Arc<Engine>,
    fixtures: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use crate::domain::Command;
    let path = fixtures.join("rebates.json");
    if !path.exists() {
        return Ok(());
    }
    let meta = || {
        crate::engine::WriteMeta::new(
            super::offline::cli_actor(),
            None,
            &[],
            uuid::Uuid::new_v4().to_string(),
        )
    };
    let rebates: DemoRebates = serde_json::from_slice(&std::fs::read(&path)?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for p in rebates.programs {
        let command = Command::DefineProgram(p.into());
        engine.submit_blocking(command, meta())?;
    }
    for e in rebates.enrollments {
        engine.submit_blocking(
            Command::Enroll {
                program_id: e.program_id,
                account_id: e.enroll.account_id,
                effective_from: e.enroll.effective_from,
            },
            meta(),
        )?;
    }
    for s in rebates.settlements {
        settle(engine, s)?;
    }
    if !rebates.late_returns.is_empty() {
        let lines = rebates.late_returns.into_iter().map(Into::into).collect();
        engine.submit_blocking(Command::RecordReturns { lines }, meta())?;
    }
    for s in rebates.after_late_returns {
        settle(engine, s)?;
    }
    eprintln!("loaded the rebate programs, enrollments, settlements and a late-return clawback");
    Ok(())
}

/// A cash award of `contests.json` marked paid.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoPayment {
    contest_id: String,
    account_id: String,
    paid_by: String,
    #[serde(flatten)]
    paid: MarkPaidRequest,
}

/// `contests.json`: the sales a contest measures, the contests, which to close, which
/// awards are paid.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoContests {
    #[serde(default)]
    sales: Vec<SaleLineJson>,
    contests: Vec<DefineContestRequest>,
    #[serde(default)]
    close: Vec<String>,
    #[serde(default)]
    paid: Vec<DemoPayment>,
}

/// A batch of requests of `seasons.json`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoRequests {
    season_id: String,
    requests: Vec<crate::domain::commands::AllocationRequestInput>,
}

/// A withdrawal of `seasons.json`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoWithdrawal {
    season_id: String,
    request_id: String,
    reason: Option<String>,
}

/// `seasons.json`: seasons, requests and withdrawals; the plan is left for the planner.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoSeasons {
    seasons: Vec<DeclareSeasonRequest>,
    #[serde(default)]
    requests: Vec<DemoRequests>,
    #[serde(default)]
    withdrawals: Vec<DemoWithdrawal>,
}

/// Write metadata of a demo step done by `name`.
fn demo_meta(name: &str, role: &str) -> crate::engine::WriteMeta {
    let actor = crate::ledger::Actor {
        name: name.to_string(),
        role: role.to_string(),
    };
    crate::engine::WriteMeta::new(actor, None, &[], uuid::Uuid::new_v4().to_string())
}

/// Records the contest sales, defines the contests, closes the ended ones (standings
/// computed as the API does) and marks the paid awards.
fn load_contests(
    engine: &std::sync::Arc<Engine>,
    fixtures: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use crate::domain::Command;
    let path = fixtures.join("contests.json");
    if !path.exists() {
        return Ok(());
    }
    let demo: DemoContests = serde_json::from_slice(&std::fs::read(&path)?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !demo.sales.is_empty() {
        let lines = demo.sales.into_iter().map(Into::into).collect();
        engine.submit_blocking(
            Command::RecordSales { lines },
            demo_meta("demo-ingest", "ingest"),
        )?;
    }
    for c in demo.contests {
        engine.submit_blocking(
            Command::DefineContest(c.into()),
            demo_meta("demo-manager", "manager"),
        )?;
    }
    let today = chrono::Utc::now().date_naive();
    for id in demo.close {
        let command = crate::queries::contests::close_command(&engine.read(), &id, today)?;
        engine.submit_blocking(command, demo_meta("demo-manager", "manager"))?;
    }
    for p in demo.paid {
        let command = Command::MarkAwardPaid {
            contest_id: p.contest_id,
            account_id: p.account_id,
            paid_on: p.paid.paid_on.unwrap_or(today),
            reference: p.paid.reference,
            today,
            actor: p.paid_by.clone(),
        };
        engine.submit_blocking(command, demo_meta(&p.paid_by, "finance"))?;
    }
    eprintln!("loaded the sales contests (one closed with a tie for second, one running)");
    Ok(())
}

/// Declares the seasons, records their requests and withdrawals; nothing is committed.
fn load_seasons(engine: &Engine, fixtures: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use crate::domain::Command;
    let path = fixtures.join("seasons.json");
    if !path.exists() {
        return Ok(());
    }
    let demo: DemoSeasons = serde_json::from_slice(&std::fs::read(&path)?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = || demo_meta("demo-planner", "planner");
    for s in demo.seasons {
        engine.submit_blocking(Command::DeclareSeason(s.into()), meta())?;
    }
    for r in demo.requests {
        let command = Command::RequestAllocation {
            season_id: r.season_id,
            requests: r.requests,
        };
        engine.submit_blocking(command, meta())?;
    }
    for w in demo.withdrawals {
        let command = Command::WithdrawRequest {
            season_id: w.season_id,
            request_id: w.request_id,
            reason: w.reason,
        };
        engine.submit_blocking(command, meta())?;
    }
    eprintln!("loaded the spring-festival season and its requests (demand over capacity)");
    Ok(())
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
