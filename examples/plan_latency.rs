//! Allocation plan latency (DESIGN §8, issue 5): an in-process ledger in a temp directory
//! with a tier policy, 2,000 accounts with a year of sales (so they fall into different
//! tiers and priority classes), one season of 50 skus with reserves, and a request from
//! every account for every sku (100,000 requests); then times the what-if plan
//! (`api::seasons::plan_now`, what `POST /v1/seasons/{id}/plan` runs) and the commit.
//!
//! `cargo run --release --example plan_latency [ACCOUNTS] [SKUS] [RUNS]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use kaledger::domain::commands::{AllocationRequestInput, DeclareSeason, SaleLineInput};
use kaledger::domain::events::{SeasonProduct, SeasonReserve};
use kaledger::domain::vocab::{Scope, Stage};
use kaledger::domain::Command;
use kaledger::engine::{Engine, WriteMeta};
use kaledger::ledger::Actor;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

/// The server's allocator (see `src/main.rs`), so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn meta() -> WriteMeta {
    let actor = Actor {
        name: "plan-bench".into(),
        role: "admin".into(),
    };
    WriteMeta::new(actor, None, &[], "bench".into())
}

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let accounts = arg(1, 2000);
    let skus = arg(2, 50);
    let runs = arg(3, 30);
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Arc::new(Engine::open(dir.path()).expect("open engine"));
    let submit = |command: Command| {
        engine.submit_blocking(command, meta()).expect("command");
    };
    let policy: Vec<kaledger::rules::tiers::TierDefinition> = serde_json::from_value(serde_json::json!([
        {"name": "strategic", "criteria": {"min_net_revenue": "2000000"},
         "entitlements": {"max_discount_pct": "8", "supply_priority": 1, "contest_eligible": true}},
        {"name": "key", "criteria": {"min_net_revenue": "1000000"},
         "entitlements": {"max_discount_pct": "5", "supply_priority": 2, "contest_eligible": true}},
        {"name": "major", "criteria": {"min_net_revenue": "250000"},
         "entitlements": {"max_discount_pct": "3", "supply_priority": 3, "contest_eligible": true}},
        {"name": "general",
         "entitlements": {"max_discount_pct": "1", "supply_priority": 4, "contest_eligible": false}}
    ]))
    .expect("policy");
    submit(Command::PublishTierPolicy {
        effective_from: "2026-01-01".parse().unwrap(),
        window_months: 12,
        tiers: policy,
        expected_version: None,
    });
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let setup = Instant::now();
    for a in 0..accounts {
        submit(Command::OpenAccount(
            kaledger::domain::commands::OpenAccount {
                account_id: format!("KA-{a:05}"),
                name: format!("Account {a}"),
                scope: Scope::National,
                segment: None,
                manager: None,
                currency: "CNY".into(),
                stage: Stage::Cooperative,
            },
        ));
    }
    // One sale per account per month of 2026 with a Pareto-ish spread of sizes.
    let mut lines = Vec::new();
    for a in 0..accounts {
        let monthly: u64 = if a % 20 == 0 {
            rng.random_range(150_000..300_000)
        } else if a % 5 == 0 {
            rng.random_range(60_000..150_000)
        } else {
            rng.random_range(1_000..40_000)
        };
        for month in 1..=12 {
            lines.push(SaleLineInput {
                account_id: Some(format!("KA-{a:05}")),
                invoice_id: Some(format!("INV-{a}-{month}")),
                line: Some("1".into()),
                sku: Some("SKU-0".into()),
                category: Some("cat".into()),
                quantity: Some("10".into()),
                net_amount: Some(format!("{monthly}.00")),
                cost_amount: None,
                currency: None,
                occurred_on: Some(format!("2026-{month:02}-15")),
            });
            if lines.len() == 10_000 {
                submit(Command::RecordSales {
                    lines: std::mem::take(&mut lines),
                });
            }
        }
    }
    if !lines.is_empty() {
        submit(Command::RecordSales { lines });
    }
    submit(Command::DeclareSeason(DeclareSeason {
        season_id: "BENCH".into(),
        name: "Bench season".into(),
        starts_on: "2027-01-15".parse().unwrap(),
        ends_on: "2027-02-20".parse().unwrap(),
        products: (0..skus)
            .map(|s| SeasonProduct {
                sku: format!("SKU-{s:03}"),
                capacity: rng.random_range(20_000..80_000),
            })
            .collect(),
        reserves: vec![
            SeasonReserve {
                priority: 3,
                min_share_pct: Decimal::new(10, 0),
            },
            SeasonReserve {
                priority: 4,
                min_share_pct: Decimal::new(5, 0),
            },
        ],
    }));
    let mut requests = Vec::new();
    for a in 0..accounts {
        for s in 0..skus {
            requests.push(AllocationRequestInput {
                request_id: None,
                account_id: format!("KA-{a:05}"),
                sku: format!("SKU-{s:03}"),
                quantity: rng.random_range(1..100),
            });
            if requests.len() == 10_000 {
                submit(Command::RequestAllocation {
                    season_id: "BENCH".into(),
                    requests: std::mem::take(&mut requests),
                });
            }
        }
    }
    if !requests.is_empty() {
        submit(Command::RequestAllocation {
            season_id: "BENCH".into(),
            requests,
        });
    }
    println!(
        "setup: {accounts} accounts, {skus} skus, {} requests, {} events in {:.1} s",
        accounts * skus,
        engine.read().head_position(),
        setup.elapsed().as_secs_f64()
    );

    let mut times = Vec::with_capacity(runs);
    let mut hash = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let read = engine.read();
        let plan =
            kaledger::queries::seasons::plan(&read, "BENCH", &BTreeMap::new()).expect("plan");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        hash = plan.plan_hash;
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "plan ({runs} runs): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
    // The same plan through the API's router in-process: the handler, its auth and the
    // JSON answer (~100,000 lines), without a network hop.
    let (token, token_sha256) = kaledger::kernel::token::new_token().expect("randomness");
    submit(Command::IssueToken {
        name: "plan-bench".into(),
        role: kaledger::domain::vocab::Role::Planner,
        token_sha256,
    });
    let router = kaledger::api::router(engine.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut api_times = Vec::with_capacity(runs);
    let mut answer_bytes = 0;
    for _ in 0..runs {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let request = axum::http::Request::post("/v1/seasons/BENCH/plan")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .expect("request");
        let started = Instant::now();
        let body = runtime.block_on(async {
            let response = router.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), 200);
            response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
        });
        api_times.push(started.elapsed().as_secs_f64() * 1000.0);
        answer_bytes = body.len();
    }
    api_times.sort_by(f64::total_cmp);
    let api_pct = |p: f64| api_times[((api_times.len() - 1) as f64 * p).round() as usize];
    println!(
        "POST /v1/seasons/BENCH/plan through the router ({runs} runs, {:.1} MB JSON): p50 {:.1} ms, p99 {:.1} ms",
        answer_bytes as f64 / 1e6,
        api_pct(0.5),
        api_pct(0.99)
    );
    let started = Instant::now();
    submit(Command::CommitAllocation {
        season_id: "BENCH".into(),
        plan_hash: hash,
    });
    println!(
        "commit (decider recomputes the plan, records {} lines): {:.1} ms",
        accounts * skus,
        started.elapsed().as_secs_f64() * 1000.0
    );
    engine.shutdown_blocking();
}
