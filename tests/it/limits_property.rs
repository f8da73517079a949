//! Issue 10, defect 1: for random definitions within the named limits (programs of every
//! basis and method with caps, a contest with cash prizes and a min_metric, a tier policy)
//! and random sales and returns, including values exactly at the limits and a ledger filled
//! to its sale total, every report and query answers 200 and settlements can be proposed
//! and approved: no accepted input can overflow a figure the ledger computes.

use axum::http::StatusCode;
use kaledger::domain::limits::{LEDGER_TOTAL_MAX, PER_UNIT_RATE_MAX, THRESHOLD_MAX};
use kaledger::domain::vocab::Role;
use kaledger::kernel::limits::LINE_VALUE_MAX;
use kaledger::rules::contests::PRIZE_AMOUNT_MAX;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::{assert_problem, TestApp};

/// Cases: each opens a ledger and records up to a thousand lines.
const CASES: u32 = 12;
const QUARTERS: [&str; 4] = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"];

/// A value picked by a selector: 0 → the smallest, 1 → the largest, else `random`.
fn pick(selector: u8, smallest: Decimal, largest: Decimal, random: Decimal) -> Decimal {
    match selector % 4 {
        0 => smallest,
        1 => largest,
        _ => random,
    }
}

#[derive(Debug, Clone)]
struct ProgramSpec {
    basis: usize,
    incremental: bool,
    /// (selector, random) of each tier's rate; `from` grows by the steps.
    rates: Vec<(u8, u32)>,
    steps: Vec<(u8, u64)>,
    cap: Option<(u8, u64)>,
}

#[derive(Debug, Clone)]
struct LineSpec {
    account: usize,
    /// Day offset from 2024-01-01 (two years of days).
    day: u64,
    net: (u8, u64),
    cost: (u8, u64),
    quantity: (u8, u32),
    returned: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    programs: Vec<ProgramSpec>,
    accounts: usize,
    lines: Vec<LineSpec>,
    /// Fill the ledger to exactly its sale total with lines of the largest value.
    fill: bool,
    metric: usize,
    min_metric: Option<(u8, u64)>,
    prizes: Vec<(u8, u64)>,
    policy_threshold: (u8, u64),
}

fn program_spec() -> impl Strategy<Value = ProgramSpec> {
    (
        0..3usize,
        any::<bool>(),
        prop::collection::vec((any::<u8>(), 1..10_000u32), 1..4),
        prop::collection::vec((any::<u8>(), 1..1_000_000_000u64), 3),
        prop::option::of((any::<u8>(), 0..1_000_000_000u64)),
    )
        .prop_map(|(basis, incremental, rates, steps, cap)| ProgramSpec {
            basis,
            incremental,
            rates,
            steps,
            cap,
        })
}

fn line_spec() -> impl Strategy<Value = LineSpec> {
    (
        0..3usize,
        0..730u64,
        (any::<u8>(), 1..100_000_000_000u64),
        (any::<u8>(), 1..100_000_000_000u64),
        (any::<u8>(), 1..1_000u32),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(account, day, net, cost, quantity, returned)| LineSpec {
            account,
            day,
            net,
            cost,
            quantity,
            returned,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(program_spec(), 1..4),
        1..4usize,
        prop::collection::vec(line_spec(), 1..25),
        prop::bool::weighted(0.3),
        0..3usize,
        prop::option::of((any::<u8>(), 0..1_000_000_000u64)),
        prop::collection::vec((any::<u8>(), 1..1_000_000_000u64), 1..4),
        (any::<u8>(), 1..1_000_000_000u64),
    )
        .prop_map(
            |(programs, accounts, lines, fill, metric, min_metric, prizes, policy_threshold)| {
                Scenario {
                    programs,
                    accounts,
                    lines,
                    fill,
                    metric,
                    min_metric,
                    prizes,
                    policy_threshold,
                }
            },
        )
}

const BASES: [&str; 3] = ["net_revenue", "quantity", "gross_margin"];

/// The program's definition: rates at 0, at the basis's largest rate or random; `from`
/// thresholds increasing, the last possibly exactly at THRESHOLD_MAX; a cap possibly at it.
fn program_body(index: usize, p: &ProgramSpec) -> Value {
    let rate_max = if p.basis == 1 {
        PER_UNIT_RATE_MAX
    } else {
        Decimal::ONE_HUNDRED
    };
    let mut from = Decimal::ZERO;
    let mut tiers = Vec::new();
    for (i, (selector, random)) in p.rates.iter().enumerate() {
        if i > 0 {
            let (step_selector, step) = p.steps[i - 1];
            from = if step_selector % 4 == 1 && i == p.rates.len() - 1 {
                THRESHOLD_MAX
            } else {
                from + Decimal::new(step as i64, 2)
            };
        }
        let rate = pick(
            *selector,
            Decimal::ZERO,
            rate_max,
            Decimal::new(i64::from(*random), 2).min(rate_max),
        );
        tiers.push(json!({"from": from.to_string(), "rate": rate.to_string()}));
    }
    let mut body = json!({"program_id": format!("P{index}"), "name": format!("Program {index}"),
        "currency": "CNY", "period": "quarterly", "starts_on": "2025-01-01",
        "ends_on": "2025-12-31", "basis": BASES[p.basis],
        "method": if p.incremental { "incremental" } else { "all_units" }, "tiers": tiers});
    if let Some((selector, random)) = p.cap {
        let cap = pick(
            selector,
            Decimal::ZERO,
            THRESHOLD_MAX,
            Decimal::new(random as i64, 2),
        );
        body["cap"] = json!(cap.to_string());
    }
    body
}

fn day(offset: u64) -> String {
    (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(offset)).to_string()
}

/// The sale line of a spec (invoice `INV-{index}`): amounts at one minor unit, at the
/// line limit or random; quantities at one millionth, at the limit or random.
fn sale_body(index: usize, l: &LineSpec) -> Value {
    let cents = |(s, r): (u8, u64)| {
        pick(
            s,
            Decimal::new(1, 2),
            LINE_VALUE_MAX,
            Decimal::new(r as i64, 2),
        )
    };
    let quantity = pick(
        l.quantity.0,
        Decimal::new(1, 6),
        LINE_VALUE_MAX,
        Decimal::from(l.quantity.1),
    );
    json!({"account_id": format!("a{}", l.account), "invoice_id": format!("INV-{index}"),
        "line": 1, "sku": "SKU-1", "category": "beverages", "quantity": quantity.to_string(),
        "net_amount": cents(l.net).to_string(), "cost_amount": cents(l.cost).to_string(),
        "occurred_on": day(l.day)})
}

/// Asserts 2xx and returns the body.
#[track_caller]
fn ok(reply: &crate::support::Reply, what: &str) -> Value {
    assert!(
        reply.status.is_success(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    reply.body.clone()
}

async fn define_everything(app: &TestApp, s: &Scenario) {
    let threshold = pick(
        s.policy_threshold.0,
        Decimal::ZERO,
        THRESHOLD_MAX,
        Decimal::new(s.policy_threshold.1 as i64, 2),
    );
    let tier = |name: &str, criteria: Value| {
        json!({"name": name, "criteria": criteria,
        "entitlements": {"max_discount_pct": "5", "supply_priority": 1, "contest_eligible": true}})
    };
    let policy = json!({"effective_from": "2024-01-01", "window_months": 12, "tiers": [
        tier("gold", json!({"min_net_revenue": threshold.to_string()})), tier("base", json!({}))]});
    ok(
        &app.post(Role::Admin, "/v1/tier-policy", policy).await,
        "policy",
    );
    for (i, p) in s.programs.iter().enumerate() {
        ok(
            &app.post(Role::Finance, "/v1/rebate-programs", program_body(i, p))
                .await,
            "program",
        );
    }
    for a in 0..s.accounts {
        app.open_account(&format!("a{a}"), "CNY").await;
        for i in 0..s.programs.len() {
            let body = json!({"account_id": format!("a{a}"), "effective_from": "2025-01-01"});
            let path = format!("/v1/rebate-programs/P{i}/enrollments");
            ok(&app.post(Role::Finance, &path, body).await, "enroll");
        }
    }
    let prizes: Vec<Value> = s
        .prizes
        .iter()
        .enumerate()
        .map(|(i, (selector, random))| {
            let amount = pick(
                *selector,
                Decimal::new(1, 2),
                PRIZE_AMOUNT_MAX,
                Decimal::new(*random as i64, 2),
            );
            json!({"rank": i + 1, "kind": "cash", "amount": amount.to_string()})
        })
        .collect();
    let metric = ["net_revenue", "quantity", "growth_pct"][s.metric];
    let mut contest = json!({"contest_id": "C1", "name": "Contest", "currency": "CNY",
        "starts_on": "2025-01-01", "ends_on": "2025-06-30",
        "metric": metric, "prizes": prizes});
    if let Some((selector, random)) = s.min_metric {
        let min = pick(
            selector,
            Decimal::ZERO,
            LINE_VALUE_MAX,
            Decimal::new(random as i64, 2),
        );
        contest["min_metric"] = json!(min.to_string());
    }
    ok(
        &app.post(Role::Admin, "/v1/contests", contest).await,
        "contest",
    );
}

/// Records the lines (or fills the ledger to its total) and returns some of them.
async fn record_lines(app: &TestApp, s: &Scenario) {
    let lines: Vec<Value> = if s.fill {
        let count = (LEDGER_TOTAL_MAX / LINE_VALUE_MAX)
            .to_string()
            .parse::<usize>()
            .unwrap();
        (0..count)
            .map(|i| {
                let max = LINE_VALUE_MAX.to_string();
                json!({"account_id": format!("a{}", i % s.accounts), "invoice_id": format!("FILL-{i}"),
                    "line": 1, "sku": "SKU-1", "category": "beverages", "quantity": max,
                    "net_amount": max, "cost_amount": max, "occurred_on": day(366 + (i as u64 % 365))})
            })
            .collect()
    } else {
        s.lines
            .iter()
            .filter(|l| l.account < s.accounts)
            .enumerate()
            .map(|(i, l)| sale_body(i, l))
            .collect()
    };
    if lines.is_empty() {
        // Every generated line named an account the scenario did not open: nothing to record
        // (an empty batch is refused with 422 `empty_batch`, rightly).
        return;
    }
    ok(
        &app.post(Role::Ingest, "/v1/sales", json!({"lines": lines}))
            .await,
        "sales",
    );
    if s.fill {
        // The ledger is at its total: one more minor unit is refused, nothing written.
        let one = json!({"account_id": "a0", "invoice_id": "ONE-MORE", "line": 1, "sku": "SKU-1",
            "category": "beverages", "quantity": "1", "net_amount": "0.01", "occurred_on": "2025-03-01"});
        let reply = app
            .post(Role::Ingest, "/v1/sales", json!({"lines": [one]}))
            .await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
        assert_eq!(
            reply.body["errors"][0]["code"], "ledger_total_exceeded",
            "{}",
            reply.text
        );
        return;
    }
    let returns: Vec<Value> = s
        .lines
        .iter()
        .filter(|l| l.account < s.accounts)
        .enumerate()
        .filter(|(_, l)| l.returned)
        .map(|(i, l)| {
            // The cost is stated: deriving it is the return-cost rules' business.
            let sale = sale_body(i, l);
            json!({"account_id": sale["account_id"], "return_id": format!("R-{i}"),
                "invoice_id": sale["invoice_id"], "line": 1, "quantity": sale["quantity"],
                "net_amount": sale["net_amount"], "cost_amount": sale["cost_amount"],
                "occurred_on": "2025-12-31"})
        })
        .collect();
    if !returns.is_empty() {
        ok(
            &app.post(Role::Ingest, "/v1/returns", json!({"lines": returns}))
                .await,
            "returns",
        );
    }
}

/// Every read of the reports and queries answers 200.
async fn read_everything(app: &TestApp, s: &Scenario) {
    let mut paths = vec![
        "/v1/reports/liability?as_of=2025-12-31".to_string(),
        "/v1/reports/liability?as_of=2025-12-31&format=csv".to_string(),
        "/v1/reports/pareto?as_of=2025-12-31".to_string(),
        "/v1/reports/pareto?as_of=2025-12-31&format=csv".to_string(),
        "/v1/contests/C1/standings".to_string(),
        "/v1/contests/C1/awards".to_string(),
    ];
    for i in 0..s.programs.len() {
        for q in QUARTERS {
            paths.push(format!("/v1/rebate-programs/P{i}/accruals?period={q}"));
        }
    }
    for a in 0..s.accounts {
        paths.push(format!("/v1/accounts/a{a}/rebates?period=2025"));
        paths.push(format!("/v1/accounts/a{a}/entitlements?as_of=2025-12-31"));
        paths.push(format!(
            "/v1/accounts/a{a}/sales-summary?from=2024-01&to=2025-12"
        ));
    }
    for path in &paths {
        ok(&app.get(Role::Finance, path).await, path);
    }
}

/// Proposes and approves a partial then a final settlement of every (program, account,
/// quarter) that has anything to settle; each answers 201/200 or a business refusal.
async fn settle_everything(app: &TestApp, s: &Scenario) {
    for i in 0..s.programs.len() {
        for a in 0..s.accounts {
            for q in QUARTERS {
                for kind in ["partial", "final"] {
                    let body = json!({"program_id": format!("P{i}"), "account_id": format!("a{a}"),
                        "period": q, "kind": kind, "reference": format!("CN-{i}-{a}-{q}-{kind}")});
                    let reply = app.post(Role::Finance, "/v1/settlements", body).await;
                    if reply.status == StatusCode::UNPROCESSABLE_ENTITY {
                        assert_eq!(reply.code(), "nothing_to_settle", "{}", reply.text);
                        continue;
                    }
                    let id = ok(&reply, "propose")["settlement_id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    ok(
                        &app.get(Role::Finance, &format!("/v1/settlements/{id}/explain"))
                            .await,
                        "explain",
                    );
                    let approve = format!("/v1/settlements/{id}/approve");
                    ok(&app.post(Role::Admin, &approve, json!({})).await, "approve");
                }
            }
        }
    }
}

/// Runs `kaledger report liability` on the stopped ledger in `data`; asserts it succeeded
/// (a panic would exit 101).
fn cli_report(data: &std::path::Path, format: &str) {
    let out = crate::support::run_cli([
        "report".as_ref(),
        "liability".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--as-of".as_ref(),
        "2025-12-31".as_ref(),
        "--format".as_ref(),
        format.as_ref(),
    ]);
    assert!(out.success(), "{}\n{}", out.stdout, out.stderr);
}

/// Defines, records, reads, settles, closes and reads again; with `cli`, also runs
/// `kaledger report liability` on the stopped ledger.
fn run(s: &Scenario, cli: bool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outer = tempfile::tempdir().expect("temp dir");
    let ledger = outer.path().join("ledger");
    runtime.block_on(async {
        let app = TestApp::open_at(tempfile::tempdir().expect("temp dir"), &ledger).await;
        define_everything(&app, s).await;
        record_lines(&app, s).await;
        read_everything(&app, s).await;
        settle_everything(&app, s).await;
        let close = app
            .post(Role::Admin, "/v1/contests/C1/close", json!({}))
            .await;
        ok(&close, "close");
        read_everything(&app, s).await;
        app.engine.shutdown().await;
    });
    if cli {
        cli_report(&ledger, "json");
        cli_report(&ledger, "csv");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn every_report_answers_200_for_inputs_within_the_limits(s in scenario()) {
        // Proves random definitions and lines within (and at) the named limits never make a report, a query or a settlement fail.
        run(&s, false);
    }
}

#[test]
fn a_ledger_filled_to_its_total_at_every_largest_rate_still_reports() {
    // Proves the worst case the limits allow: three programs (one per basis) at their
    // largest rates and no cap, the ledger filled to its sale total with lines at the line
    // limit, then every report, settlement and the contest close answer 200, and
    // `kaledger report liability` succeeds on the stopped ledger (JSON and CSV).
    let largest = |basis: usize| ProgramSpec {
        basis,
        incremental: basis == 2,
        rates: vec![(7, 1), (1, 0)],
        steps: vec![(7, 1), (7, 1), (7, 1)],
        cap: None,
    };
    run(
        &Scenario {
            programs: vec![largest(0), largest(1), largest(2)],
            accounts: 2,
            lines: Vec::new(),
            fill: true,
            metric: 0,
            min_metric: None,
            prizes: vec![(1, 0), (1, 0), (1, 0)],
            policy_threshold: (1, 0),
        },
        true,
    );
}
