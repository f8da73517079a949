//! Property tests of entitlements at the engine level: for random sales, returns, stages
//! and policies, the read model's answer equals a brute-force recomputation straight from
//! the raw inputs submitted, and a replay of the log answers the same as the live engine.

use chrono::{Datelike, Days, NaiveDate};
use kaledger::domain::commands::{OpenAccount, ReturnLineInput, SaleLineInput};
use kaledger::domain::incentives::Entitlement;
use kaledger::domain::vocab::{Scope, Stage};
use kaledger::domain::Command;
use kaledger::engine::{replay, Engine, LineHome, WriteMeta};
use kaledger::ledger::Actor;
use kaledger::rules::calendar::window_start;
use kaledger::rules::tiers::{TierCriteria, TierDefinition, TierEntitlements};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};
use std::sync::Arc;

/// Cases per property: each opens a sled directory, so keep the suite fast.
const CASES: u32 = 48;
/// The sales span two years from this day.
const SPAN_DAYS: u64 = 730;

fn span_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("date")
}

fn cents(amount: i64) -> Decimal {
    Decimal::new(amount, 2)
}

/// A sale as generated: account, day offset, quantity, net cents, cost cents (None: no cost).
#[derive(Debug, Clone)]
struct SaleSpec {
    account: usize,
    day: u64,
    quantity: u32,
    net_cents: i64,
    cost_cents: Option<i64>,
}

/// A return as generated, against sale `sale` (modulo the number of sales).
#[derive(Debug, Clone)]
struct ReturnSpec {
    sale: usize,
    delay_days: u64,
    quantity: u32,
    net_per_mille: i64,
    /// Some(share per mille of the cost left) to state the cost; None to let it be prorated.
    cost_per_mille: Option<i64>,
}

/// A tier's criteria as generated (each optional) and its entitlements.
#[derive(Debug, Clone)]
struct TierSpec {
    min_net_cents: Option<i64>,
    min_margin_hundredths: Option<i64>,
    min_active_months: Option<u32>,
    min_stage: Option<usize>,
    max_discount: u32,
    contest_eligible: bool,
}

#[derive(Debug, Clone)]
struct PolicySpec {
    effective_day: u64,
    window_months: u32,
    tiers: Vec<TierSpec>,
}

#[derive(Debug, Clone)]
struct Scenario {
    stages: Vec<usize>,
    sales: Vec<SaleSpec>,
    returns: Vec<ReturnSpec>,
    policies: Vec<PolicySpec>,
    as_of_days: Vec<u64>,
}

fn sale_spec(accounts: usize) -> impl Strategy<Value = SaleSpec> {
    (
        0..accounts,
        0..SPAN_DAYS,
        1u32..20,
        prop_oneof![Just(0i64), 1i64..400_000],
        prop_oneof![Just(None), (0i64..=150).prop_map(Some)],
    )
        .prop_map(|(account, day, quantity, net_cents, cost_share)| SaleSpec {
            account,
            day,
            quantity,
            net_cents,
            // Cost as a percent of net (up to 150 %: losses happen), or unknown.
            cost_cents: cost_share.map(|share| net_cents * share / 100),
        })
}

fn return_spec() -> impl Strategy<Value = ReturnSpec> {
    (
        0usize..1000,
        0u64..200,
        1u32..20,
        0i64..=1000,
        prop_oneof![Just(None), (0i64..=1000).prop_map(Some)],
    )
        .prop_map(
            |(sale, delay_days, quantity, net_per_mille, cost_per_mille)| ReturnSpec {
                sale,
                delay_days,
                quantity,
                net_per_mille,
                cost_per_mille,
            },
        )
}

fn tier_spec() -> impl Strategy<Value = TierSpec> {
    (
        prop_oneof![Just(None), (0i64..3_000_000).prop_map(Some)],
        prop_oneof![Just(None), (0i64..6000).prop_map(Some)],
        prop_oneof![Just(None), (0u32..14).prop_map(Some)],
        prop_oneof![Just(None), (0usize..5).prop_map(Some)],
        0u32..=20,
        any::<bool>(),
    )
        .prop_map(
            |(
                min_net_cents,
                min_margin_hundredths,
                min_active_months,
                min_stage,
                max_discount,
                contest_eligible,
            )| {
                TierSpec {
                    min_net_cents,
                    min_margin_hundredths,
                    min_active_months,
                    min_stage,
                    max_discount,
                    contest_eligible,
                }
            },
        )
}

fn policy_spec() -> impl Strategy<Value = PolicySpec> {
    (
        0..SPAN_DAYS,
        1u32..=24,
        prop::collection::vec(tier_spec(), 2..=4),
    )
        .prop_map(|(effective_day, window_months, tiers)| PolicySpec {
            effective_day,
            window_months,
            tiers,
        })
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..=3).prop_flat_map(|accounts| {
        (
            prop::collection::vec(0usize..5, accounts),
            prop::collection::vec(sale_spec(accounts), 1..40),
            prop::collection::vec(return_spec(), 0..12),
            prop::collection::vec(policy_spec(), 1..=2),
            // As-of days from a month before the span to half a year after it.
            prop::collection::vec(0u64..(SPAN_DAYS + 210), 1..6),
        )
            .prop_map(|(stages, sales, returns, policies, as_of_days)| Scenario {
                stages,
                sales,
                returns,
                policies,
                as_of_days,
            })
    })
}

fn account_id(index: usize) -> String {
    format!("KA-{index}")
}

fn day(offset: u64) -> NaiveDate {
    span_start() + Days::new(offset)
}

/// as_of days start a month before the span.
fn as_of_day(offset: u64) -> NaiveDate {
    span_start() - Days::new(30) + Days::new(offset)
}

fn tier_definitions(policy: &PolicySpec) -> Vec<TierDefinition> {
    let last = policy.tiers.len() - 1;
    policy
        .tiers
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut criteria = TierCriteria {
                min_net_revenue: spec.min_net_cents.map(cents),
                min_margin_pct: spec.min_margin_hundredths.map(cents),
                min_active_months: spec.min_active_months,
                min_stage: spec.min_stage.map(|s| Stage::ALL[s]),
            };
            if i == last {
                criteria = TierCriteria::default();
            } else if criteria.is_empty() {
                // Every tier but the last needs a criterion.
                criteria.min_active_months = Some(1);
            }
            TierDefinition {
                name: format!("tier-{i}"),
                criteria,
                entitlements: TierEntitlements {
                    max_discount_pct: Decimal::from(spec.max_discount),
                    supply_priority: i as u32 + 1,
                    contest_eligible: spec.contest_eligible,
                },
            }
        })
        .collect()
}

/// A sale as submitted: its raw facts, kept for the brute force.
#[derive(Debug, Clone)]
struct RawSale {
    account: String,
    on: NaiveDate,
    quantity: Decimal,
    net: Decimal,
    cost: Option<Decimal>,
}

/// A return as submitted (with the cost we stated or the proration we expect).
#[derive(Debug, Clone)]
struct RawReturn {
    sale: usize,
    quantity: Decimal,
    net: Decimal,
    cost: Decimal,
}

/// What a policy version looks like to the brute force.
#[derive(Debug, Clone)]
struct RawPolicy {
    version: u32,
    effective_from: NaiveDate,
    window_months: u32,
    tiers: Vec<TierDefinition>,
}

fn meta() -> WriteMeta {
    WriteMeta::new(
        Actor {
            name: "property".into(),
            role: "admin".into(),
        },
        None,
        &[],
        "property".into(),
    )
}

fn submit(engine: &Engine, command: Command) {
    engine
        .submit_blocking(command, meta())
        .unwrap_or_else(|e| panic!("command refused: {e}"));
}

/// The returns the generator asked for, clipped to what is left of each sale, with the
/// cost a stated share of the cost left or prorated (round(cost × q / sold q), capped; all
/// that is left when the return completes the line).
fn plan_returns(sales: &[RawSale], specs: &[ReturnSpec]) -> Vec<(RawReturn, u64, bool)> {
    let mut left: Vec<(Decimal, Decimal, Decimal)> = sales
        .iter()
        .map(|s| (s.quantity, s.net, s.cost.unwrap_or(s.net)))
        .collect();
    let mut planned = Vec::new();
    for spec in specs {
        let index = spec.sale % sales.len();
        let sold = &sales[index];
        let (quantity_left, net_left, cost_left) = left[index];
        let quantity = Decimal::from(spec.quantity).min(quantity_left);
        if quantity <= Decimal::ZERO {
            continue;
        }
        let net = (net_left * Decimal::from(spec.net_per_mille) / Decimal::from(1000))
            .round_dp_with_strategy(2, RoundingStrategy::ToZero);
        let stated = spec.cost_per_mille.is_some();
        let cost = match spec.cost_per_mille {
            Some(per_mille) => (cost_left * Decimal::from(per_mille) / Decimal::from(1000))
                .round_dp_with_strategy(2, RoundingStrategy::ToZero),
            // A return that completes the line takes exactly the cost that remains.
            None if quantity == quantity_left => cost_left.max(Decimal::ZERO),
            None => (sold.cost.unwrap_or(sold.net) * quantity / sold.quantity)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .min(cost_left.max(Decimal::ZERO)),
        };
        left[index] = (quantity_left - quantity, net_left - net, cost_left - cost);
        planned.push((
            RawReturn {
                sale: index,
                quantity,
                net,
                cost,
            },
            spec.delay_days,
            stated,
        ));
    }
    planned
}

/// What the brute force expects of one entitlement answer.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    tier: String,
    policy_version: Option<u32>,
    window_start: NaiveDate,
    net_revenue: Decimal,
    gross_margin: Decimal,
    margin_pct: Option<Decimal>,
    active_months: u32,
    max_discount_pct: Decimal,
    supply_priority: u32,
    contest_eligible: bool,
    next_tier: Option<(String, Vec<String>)>,
}

/// The criteria of a tier that the metrics fail, by name, in field order.
fn failing(
    criteria: &TierCriteria,
    net: Decimal,
    margin_pct: Option<Decimal>,
    active: u32,
    stage: Stage,
) -> Vec<String> {
    let mut names = Vec::new();
    if criteria.min_net_revenue.is_some_and(|m| net < m) {
        names.push("min_net_revenue".to_string());
    }
    if let Some(m) = criteria.min_margin_pct {
        if margin_pct.is_none_or(|actual| actual < m) {
            names.push("min_margin_pct".to_string());
        }
    }
    if criteria.min_active_months.is_some_and(|m| active < m) {
        names.push("min_active_months".to_string());
    }
    if criteria.min_stage.is_some_and(|m| stage < m) {
        names.push("min_stage".to_string());
    }
    names
}

/// Recomputes an entitlement from the raw inputs by plain loops.
fn brute_force(
    account: &str,
    stage: Stage,
    as_of: NaiveDate,
    sales: &[RawSale],
    returns: &[RawReturn],
    policies: &[RawPolicy],
) -> Expected {
    let policy = policies
        .iter()
        .filter(|p| p.effective_from <= as_of)
        .max_by_key(|p| (p.effective_from, p.version));
    let window_months = policy.map_or(12, |p| p.window_months);
    let start = window_start(as_of, window_months);
    let in_window = |on: NaiveDate| start <= on && on <= as_of;
    let month_of = |on: NaiveDate| on.year() * 12 + on.month0() as i32;
    let mut net = Decimal::ZERO;
    let mut cost = Decimal::ZERO;
    let mut by_month = std::collections::BTreeMap::<i32, Decimal>::new();
    for sale in sales
        .iter()
        .filter(|s| s.account == account && in_window(s.on))
    {
        net += sale.net;
        cost += sale.cost.unwrap_or(sale.net);
        *by_month.entry(month_of(sale.on)).or_default() += sale.net;
    }
    for ret in returns {
        let sale = &sales[ret.sale];
        if sale.account == account && in_window(sale.on) {
            net -= ret.net;
            cost -= ret.cost;
            *by_month.entry(month_of(sale.on)).or_default() -= ret.net;
        }
    }
    let gross_margin = net - cost;
    let margin_pct = (net > Decimal::ZERO).then(|| {
        let mut pct = (gross_margin * Decimal::ONE_HUNDRED / net)
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        pct.rescale(2);
        pct
    });
    let active_months = by_month.values().filter(|n| **n > Decimal::ZERO).count() as u32;
    let (tier, version, entitlements, next_tier) = match policy {
        None => (
            "unclassified".to_string(),
            None,
            (Decimal::ZERO, 100, true),
            None,
        ),
        Some(p) => {
            let index = p
                .tiers
                .iter()
                .position(|t| {
                    failing(&t.criteria, net, margin_pct, active_months, stage).is_empty()
                })
                .unwrap_or(p.tiers.len() - 1);
            let t = &p.tiers[index];
            let next = index.checked_sub(1).map(|better| {
                let b = &p.tiers[better];
                (
                    b.name.clone(),
                    failing(&b.criteria, net, margin_pct, active_months, stage),
                )
            });
            (
                t.name.clone(),
                Some(p.version),
                (
                    t.entitlements.max_discount_pct,
                    t.entitlements.supply_priority,
                    t.entitlements.contest_eligible,
                ),
                next,
            )
        }
    };
    Expected {
        tier,
        policy_version: version,
        window_start: start,
        net_revenue: net,
        gross_margin,
        margin_pct,
        active_months,
        max_discount_pct: entitlements.0,
        supply_priority: entitlements.1,
        contest_eligible: entitlements.2,
        next_tier,
    }
}

/// The parts of an answer the brute force recomputes.
fn observed(e: &Entitlement) -> Expected {
    Expected {
        tier: e.tier.clone(),
        policy_version: e.policy_version,
        window_start: e.metrics.window_start,
        net_revenue: e.metrics.net_revenue,
        gross_margin: e.metrics.gross_margin,
        margin_pct: e.metrics.margin_pct,
        active_months: e.metrics.active_months,
        max_discount_pct: e.entitlements.max_discount_pct,
        supply_priority: e.entitlements.supply_priority,
        contest_eligible: e.entitlements.contest_eligible,
        next_tier: e.next_tier.as_ref().map(|n| {
            (
                n.name.clone(),
                n.shortfalls.iter().map(|s| s.criterion.clone()).collect(),
            )
        }),
    }
}

/// A submitted scenario: the engine, the raw inputs, and an instant after the policies,
/// the first `half` of the sales and their returns, but before the other sales and returns.
struct Submitted {
    engine: Arc<Engine>,
    sales: Vec<RawSale>,
    returns: Vec<RawReturn>,
    policies: Vec<RawPolicy>,
    half: usize,
    known_at: String,
}

/// Submits the scenario to a fresh engine.
fn run_scenario(dir: &std::path::Path, scenario: &Scenario) -> Submitted {
    let engine = Arc::new(Engine::open(dir).expect("open engine"));
    for (i, stage) in scenario.stages.iter().enumerate() {
        submit(
            &engine,
            Command::OpenAccount(OpenAccount {
                account_id: account_id(i),
                name: format!("Account {i}"),
                scope: Scope::National,
                segment: None,
                manager: None,
                currency: "CNY".into(),
                stage: Stage::ALL[*stage],
            }),
        );
    }
    let sales: Vec<RawSale> = scenario
        .sales
        .iter()
        .map(|s| RawSale {
            account: account_id(s.account),
            on: day(s.day),
            quantity: Decimal::from(s.quantity),
            net: cents(s.net_cents),
            cost: s.cost_cents.map(cents),
        })
        .collect();
    let lines: Vec<SaleLineInput> = sales
        .iter()
        .enumerate()
        .map(|(i, s)| SaleLineInput {
            account_id: Some(s.account.clone()),
            invoice_id: Some(format!("INV-{i}")),
            line: Some("1".into()),
            sku: Some(format!("SKU-{}", i % 3)),
            category: Some("beverages".into()),
            quantity: Some(s.quantity.to_string()),
            net_amount: Some(s.net.to_string()),
            cost_amount: s.cost.map(|c| c.to_string()),
            currency: None,
            occurred_on: Some(s.on.to_string()),
        })
        .collect();
    // The policies go in between two halves of the sales, so positions interleave.
    let half = lines.len() / 2;
    if half > 0 {
        submit(
            &engine,
            Command::RecordSales {
                lines: lines[..half].to_vec(),
            },
        );
    }
    let mut policies = Vec::new();
    for (i, spec) in scenario.policies.iter().enumerate() {
        let tiers = tier_definitions(spec);
        submit(
            &engine,
            Command::PublishTierPolicy {
                effective_from: day(spec.effective_day),
                window_months: spec.window_months,
                tiers: tiers.clone(),
                expected_version: None,
            },
        );
        policies.push(RawPolicy {
            version: i as u32 + 1,
            effective_from: day(spec.effective_day),
            window_months: spec.window_months,
            tiers,
        });
    }
    let planned = plan_returns(&sales, &scenario.returns);
    let return_lines: Vec<(usize, ReturnLineInput)> = planned
        .iter()
        .enumerate()
        .map(|(i, (r, delay, stated))| {
            (
                r.sale,
                ReturnLineInput {
                    account_id: Some(sales[r.sale].account.clone()),
                    return_id: Some(format!("RET-{i}")),
                    invoice_id: Some(format!("INV-{}", r.sale)),
                    line: Some("1".into()),
                    quantity: Some(r.quantity.to_string()),
                    net_amount: Some(r.net.to_string()),
                    cost_amount: stated.then(|| r.cost.to_string()),
                    occurred_on: Some((sales[r.sale].on + Days::new(*delay)).to_string()),
                },
            )
        })
        .collect();
    // Returns of the first half's sales before the instant, the others after it (each
    // sale's returns stay together and in order, so the clipping above still holds).
    let (early, late): (Vec<_>, Vec<_>) =
        return_lines.into_iter().partition(|(sale, _)| *sale < half);
    let submit_returns = |group: Vec<(usize, ReturnLineInput)>| {
        if !group.is_empty() {
            submit(
                &engine,
                Command::RecordReturns {
                    lines: group.into_iter().map(|(_, line)| line).collect(),
                },
            );
        }
    };
    submit_returns(early);
    // Pauses around the instant so that events before and after get distinct recorded_at.
    std::thread::sleep(std::time::Duration::from_millis(3));
    let known_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    std::thread::sleep(std::time::Duration::from_millis(3));
    if half < lines.len() {
        submit(
            &engine,
            Command::RecordSales {
                lines: lines[half..].to_vec(),
            },
        );
    }
    submit_returns(late);
    let returns = planned.into_iter().map(|(r, _, _)| r).collect();
    Submitted {
        engine,
        sales,
        returns,
        policies,
        half,
        known_at,
    }
}

/// Reads entitlements over HTTP (in-process) as an auditor: `(account, as_of)` → JSON.
fn http_entitlements(
    engine: &Arc<Engine>,
    known_at: &str,
    asks: &[(String, NaiveDate)],
) -> Vec<serde_json::Value> {
    use tower::ServiceExt;
    let (token, token_sha256) = kaledger::kernel::token::new_token().expect("randomness");
    submit(
        engine,
        Command::IssueToken {
            name: "property-auditor".into(),
            role: kaledger::domain::vocab::Role::Auditor,
            token_sha256,
        },
    );
    let router = kaledger::api::router(engine.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut answers = Vec::new();
        for (id, as_of) in asks {
            let request = axum::http::Request::builder()
                .uri(format!(
                    "/v1/accounts/{id}/entitlements?as_of={as_of}&known_at={known_at}"
                ))
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            assert_eq!(response.status(), axum::http::StatusCode::OK);
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .expect("body")
                .to_bytes();
            answers.push(serde_json::from_slice(&bytes).expect("JSON"));
        }
        answers
    })
}

/// The parts of an HTTP answer the brute force recomputes (decimals compared by value).
fn observed_json(e: &serde_json::Value) -> Expected {
    let decimal =
        |v: &serde_json::Value| v.as_str().map(|s| s.parse::<Decimal>().expect("decimal"));
    let max_discount_pct =
        decimal(&e["entitlements"]["max_discount_pct"]).expect("max_discount_pct");
    Expected {
        tier: e["tier"].as_str().expect("tier").to_string(),
        policy_version: e["policy_version"].as_u64().map(|v| v as u32),
        window_start: e["metrics"]["window_start"]
            .as_str()
            .expect("window_start")
            .parse()
            .expect("date"),
        net_revenue: decimal(&e["metrics"]["net_revenue"]).expect("net_revenue"),
        gross_margin: decimal(&e["metrics"]["gross_margin"]).expect("gross_margin"),
        margin_pct: decimal(&e["metrics"]["margin_pct"]),
        active_months: e["metrics"]["active_months"]
            .as_u64()
            .expect("active_months") as u32,
        max_discount_pct,
        supply_priority: e["entitlements"]["supply_priority"]
            .as_u64()
            .expect("priority") as u32,
        contest_eligible: e["entitlements"]["contest_eligible"]
            .as_bool()
            .expect("contest"),
        next_tier: e["next_tier"].as_object().map(|n| {
            (
                n["name"].as_str().expect("name").to_string(),
                n["shortfalls"]
                    .as_array()
                    .expect("shortfalls")
                    .iter()
                    .map(|s| s["criterion"].as_str().expect("criterion").to_string())
                    .collect(),
            )
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn entitlements_equal_a_brute_force_recomputation_and_replay_equals_live(scenario in scenario()) {
        // Proves for random sales, returns, stages and policies that every entitlement equals a recomputation from the raw inputs, live and after replay.
        let dir = tempfile::tempdir().expect("temp dir");
        let Submitted { engine, sales, returns, policies, half, known_at } = run_scenario(dir.path(), &scenario);
        let replayed = replay(engine.store(), &LineHome::Memory).expect("replay");
        {
            let live = engine.read();
            prop_assert!(replayed.read == *live, "the replayed read model differs from the live one");
            let cutoff = live.head_position();
            for (i, stage) in scenario.stages.iter().enumerate() {
                let id = account_id(i);
                let stage = Stage::ALL[*stage];
                let account = live.accounts.described(&id, cutoff).expect("account");
                prop_assert_eq!(account.relationship_stage, stage);
                for offset in &scenario.as_of_days {
                    let as_of = as_of_day(*offset);
                    let answer = live.incentives.entitlement(&id, as_of, cutoff, live.daily(&id), stage);
                    let expected = brute_force(&id, stage, as_of, &sales, &returns, &policies);
                    prop_assert_eq!(observed(&answer), expected, "{} as of {}", id, as_of);
                    prop_assert_eq!(&answer.criteria_tier, &answer.tier);
                    prop_assert_eq!(answer.source.as_str(), "criteria");
                    prop_assert_eq!(answer.metrics.window_end, as_of);
                    let again = replayed.read.incentives.entitlement(
                        &id, as_of, replayed.read.head_position(), replayed.read.daily(&id), stage);
                    prop_assert_eq!(again, answer);
                }
            }
        }
        // Over HTTP as known at the instant before the second half of the sales and its returns.
        let asks: Vec<(String, NaiveDate)> = (0..scenario.stages.len())
            .flat_map(|i| scenario.as_of_days.iter().map(move |d| (account_id(i), as_of_day(*d))))
            .collect();
        let answers = http_entitlements(&engine, &known_at, &asks);
        for ((id, as_of), answer) in asks.iter().zip(&answers) {
            let index: usize = id.trim_start_matches("KA-").parse().expect("index");
            let stage = Stage::ALL[scenario.stages[index]];
            let known_returns: Vec<RawReturn> = returns.iter().filter(|r| r.sale < half).cloned().collect();
            let expected = brute_force(id, stage, *as_of, &sales[..half], &known_returns, &policies);
            prop_assert_eq!(observed_json(answer), expected, "{} as of {} known at {}", id, as_of, known_at);
        }
        engine.shutdown_blocking();
    }
}
