//! Tier policy, entitlements, overrides, discounts and the Pareto report over HTTP
//! (issue 3, DESIGN §5.2, §5.3, §6), driven in-process, plus the demo data set and
//! `kaledger report pareto` through the real binary.

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, run_cli, sale_on, Reply, TestApp};

/// A tier as JSON: name, criteria, max discount, supply priority, contest eligibility.
fn tier(name: &str, criteria: Value, max_discount: &str, priority: u32, contest: bool) -> Value {
    json!({"name": name, "criteria": criteria,
        "entitlements": {"max_discount_pct": max_discount, "supply_priority": priority, "contest_eligible": contest}})
}

/// gold (5000 net, 20 % margin, 3 active months) / silver (1000 net) / bronze.
fn standard_tiers() -> Vec<Value> {
    vec![
        tier(
            "gold",
            json!({"min_net_revenue": "5000", "min_margin_pct": "20", "min_active_months": 3}),
            "10",
            1,
            true,
        ),
        tier("silver", json!({"min_net_revenue": "1000"}), "5", 2, true),
        tier("bronze", json!({}), "1", 3, false),
    ]
}

/// Publishes a policy as admin and asserts it was recorded; returns the policy.
async fn publish(
    app: &TestApp,
    effective_from: &str,
    window_months: u32,
    tiers: Vec<Value>,
) -> Value {
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": effective_from, "window_months": window_months, "tiers": tiers}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// Records sale lines as the ingest role and asserts they were recorded.
async fn sell(app: &TestApp, lines: Vec<Value>) {
    let count = lines.len();
    let reply = app
        .post(Role::Ingest, "/v1/sales", json!({ "lines": lines }))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["recorded"], count as u64, "{}", reply.text);
}

/// The entitlement answer of an account on a day, read as an auditor.
async fn entitlement(app: &TestApp, account: &str, as_of: &str) -> Value {
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/{account}/entitlements?as_of={as_of}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The entitlement answer as the ledger stood at `known_at`.
async fn entitlement_known_at(app: &TestApp, account: &str, as_of: &str, known_at: &str) -> Value {
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/{account}/entitlements?as_of={as_of}&known_at={known_at}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// An app with accounts opened (CNY).
async fn app_with(accounts: &[&str]) -> TestApp {
    let app = TestApp::new().await;
    for account in accounts {
        app.open_account(account, "CNY").await;
    }
    app
}

/// Now, RFC 3339 with microseconds and a `Z` (safe in a query string), after a short pause
/// on both sides so that events before and after it get different recorded_at instants.
async fn instant_between_writes() -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(5)).await;
    now
}

async fn grant_discount(app: &TestApp, role: Role, body: Value) -> Reply {
    app.post(role, "/v1/discounts", body).await
}

fn percents(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list of discounts")
        .iter()
        .map(|d| d["percent"].as_str().expect("percent").to_string())
        .collect()
}

#[tokio::test]
async fn window_edges_count_the_first_and_last_day_and_not_the_day_before() {
    // Proves the window (D − 1 month, D] counts a sale on its first and on its last day and not one the day before it.
    let app = app_with(&["KA-1"]).await;
    publish(
        &app,
        "2025-01-01",
        1,
        vec![
            tier("silver", json!({"min_net_revenue": "100.00"}), "5", 2, true),
            tier("bronze", json!({}), "1", 3, false),
        ],
    )
    .await;
    sell(
        &app,
        vec![
            sale_on("KA-1", "INV-1", 1, "60.00", "30.00", "2026-03-01"),
            sale_on("KA-1", "INV-1", 2, "40.00", "20.00", "2026-03-31"),
            sale_on("KA-1", "INV-1", 3, "1000.00", "500.00", "2026-02-28"),
        ],
    )
    .await;

    let at_end = entitlement(&app, "KA-1", "2026-03-31").await;
    assert_eq!(at_end["metrics"]["window_start"], "2026-03-01");
    assert_eq!(at_end["metrics"]["window_end"], "2026-03-31");
    assert_eq!(at_end["metrics"]["net_revenue"], "100.00", "{at_end}");
    assert_eq!(at_end["metrics"]["gross_margin"], "50.00");
    assert_eq!(at_end["metrics"]["margin_pct"], "50.00");
    assert_eq!(at_end["metrics"]["active_months"], 1);
    assert_eq!(at_end["tier"], "silver", "{at_end}");
    assert_eq!(at_end["source"], "criteria");
    assert_eq!(at_end["policy_version"], 1);

    // One day earlier the sale of 03-31 is after the window: only 03-01 counts (02-28 is outside).
    let day_before = entitlement(&app, "KA-1", "2026-03-30").await;
    assert_eq!(day_before["metrics"]["window_start"], "2026-03-01");
    assert_eq!(
        day_before["metrics"]["net_revenue"], "60.00",
        "{day_before}"
    );
    assert_eq!(day_before["tier"], "bronze");

    // as_of 2026-03-28: window (02-28, 03-28] starts 03-01, so 02-28 is the day before it.
    let start_edge = entitlement(&app, "KA-1", "2026-03-28").await;
    assert_eq!(start_edge["metrics"]["window_start"], "2026-03-01");
    assert_eq!(
        start_edge["metrics"]["net_revenue"], "60.00",
        "{start_edge}"
    );
    // as_of 2026-03-27: window starts 02-28 and takes it in.
    let wider = entitlement(&app, "KA-1", "2026-03-27").await;
    assert_eq!(wider["metrics"]["window_start"], "2026-02-28");
    assert_eq!(wider["metrics"]["net_revenue"], "1060.00", "{wider}");
    assert_eq!(wider["metrics"]["active_months"], 2);
    assert_eq!(wider["tier"], "silver");
}

#[tokio::test]
async fn exactly_at_a_threshold_qualifies_and_one_cent_below_does_not() {
    // Proves min_net_revenue is inclusive: 1000.00 reaches silver, 999.99 stays bronze with a gap of 0.01.
    let app = app_with(&["AT", "BELOW"]).await;
    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    sell(
        &app,
        vec![
            sale_on("AT", "INV-1", 1, "1000.00", "900.00", "2026-02-10"),
            sale_on("BELOW", "INV-2", 1, "999.99", "900.00", "2026-02-10"),
        ],
    )
    .await;
    let at = entitlement(&app, "AT", "2026-06-30").await;
    assert_eq!(at["tier"], "silver", "{at}");
    assert_eq!(at["entitlements"]["max_discount_pct"], "5");
    assert_eq!(at["entitlements"]["supply_priority"], 2);
    let below = entitlement(&app, "BELOW", "2026-06-30").await;
    assert_eq!(below["tier"], "bronze", "{below}");
    assert_eq!(below["entitlements"]["contest_eligible"], false);
    assert_eq!(
        below["next_tier"],
        json!({"index": 1, "name": "silver", "shortfalls": [
            {"criterion": "min_net_revenue", "required": "1000", "actual": "999.99", "gap": "0.01"}]})
    );
}

#[tokio::test]
async fn a_later_return_moves_the_account_down_on_its_sales_day() {
    // Proves a return dated later lowers the window of its sale's day, moving the account from silver to bronze.
    let app = app_with(&["KA-1"]).await;
    publish(&app, "2025-01-01", 1, standard_tiers()).await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "1000.00",
            "600.00",
            "2026-03-10",
        )],
    )
    .await;
    assert_eq!(
        entitlement(&app, "KA-1", "2026-03-31").await["tier"],
        "silver"
    );
    let reply = app
        .post(
            Role::Ingest,
            "/v1/returns",
            json!({"lines": [{"account_id": "KA-1", "return_id": "RET-1", "invoice_id": "INV-1", "line": 1,
                "quantity": "1", "net_amount": "100.00", "occurred_on": "2026-04-05"}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let march = entitlement(&app, "KA-1", "2026-03-31").await;
    assert_eq!(march["metrics"]["net_revenue"], "900.00", "{march}");
    // The prorated cost of 1 of 10 units (60.00) leaves margin 400.00 − 40.00.
    assert_eq!(march["metrics"]["gross_margin"], "360.00");
    assert_eq!(march["tier"], "bronze");
    assert_eq!(march["next_tier"]["shortfalls"][0]["gap"], "100.00");
    // The return does not count in April's window (its sale was in March).
    let april = entitlement(&app, "KA-1", "2026-04-30").await;
    // (03-30, 04-30]: 04-30 minus a month is 03-30 (no clamping needed), the window starts a day later.
    assert_eq!(april["metrics"]["window_start"], "2026-03-31");
    assert_eq!(april["metrics"]["net_revenue"], "0.00", "{april}");
    // The net revenue shortfall shows the account's figure and the gap as money.
    let shortfall = &april["next_tier"]["shortfalls"][0];
    assert_eq!(shortfall["criterion"], "min_net_revenue", "{april}");
    assert_eq!(shortfall["actual"], "0.00", "{april}");
    assert!(
        shortfall["gap"]
            .as_str()
            .is_some_and(|g| g.ends_with(".00")),
        "{april}"
    );
    assert_eq!(april["metrics"]["margin_pct"], Value::Null);
    assert_eq!(april["metrics"]["active_months"], 0);
}

#[tokio::test]
async fn a_one_off_bulk_buyer_is_kept_out_by_min_active_months() {
    // Proves one huge order in one month fails min_active_months (1 of 3) while a steady buyer over 3 months reaches gold.
    let app = app_with(&["BULK", "STEADY"]).await;
    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    let mut lines = vec![sale_on(
        "BULK",
        "INV-B",
        1,
        "90000.00",
        "45000.00",
        "2026-05-20",
    )];
    for (i, day) in ["2026-04-03", "2026-05-03", "2026-06-03"]
        .iter()
        .enumerate()
    {
        lines.push(sale_on(
            "STEADY",
            "INV-S",
            i as u32 + 1,
            "2000.00",
            "1000.00",
            day,
        ));
    }
    sell(&app, lines).await;

    let bulk = entitlement(&app, "BULK", "2026-06-30").await;
    assert_eq!(bulk["criteria_tier"], "silver", "{bulk}");
    assert_eq!(bulk["metrics"]["net_revenue"], "90000.00");
    assert_eq!(bulk["metrics"]["margin_pct"], "50.00");
    assert_eq!(bulk["metrics"]["active_months"], 1);
    assert_eq!(
        bulk["next_tier"],
        json!({"index": 0, "name": "gold", "shortfalls": [
            {"criterion": "min_active_months", "required": "3", "actual": "1", "gap": "2"}]})
    );

    let steady = entitlement(&app, "STEADY", "2026-06-30").await;
    assert_eq!(steady["tier"], "gold", "{steady}");
    assert_eq!(steady["metrics"]["net_revenue"], "6000.00");
    assert_eq!(steady["metrics"]["active_months"], 3);
    assert_eq!(
        steady["next_tier"],
        Value::Null,
        "the best tier has no next tier"
    );
    assert_eq!(steady["entitlements"]["max_discount_pct"], "10");
}

#[tokio::test]
async fn a_low_margin_giant_is_kept_out_by_min_margin_pct() {
    // Proves a high-volume account at 5 % margin fails gold's 20 % (gap 15.00) while exactly 20.00 % qualifies.
    let app = app_with(&["GIANT", "EXACT"]).await;
    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    let mut lines = Vec::new();
    for (i, day) in ["2026-01-10", "2026-02-10", "2026-03-10", "2026-04-10"]
        .iter()
        .enumerate()
    {
        lines.push(sale_on(
            "GIANT",
            "INV-G",
            i as u32 + 1,
            "250000.00",
            "237500.00",
            day,
        ));
        lines.push(sale_on(
            "EXACT",
            "INV-E",
            i as u32 + 1,
            "1250.00",
            "1000.00",
            day,
        ));
    }
    sell(&app, lines).await;

    let giant = entitlement(&app, "GIANT", "2026-04-30").await;
    assert_eq!(giant["tier"], "silver", "{giant}");
    assert_eq!(giant["metrics"]["net_revenue"], "1000000.00");
    assert_eq!(giant["metrics"]["gross_margin"], "50000.00");
    assert_eq!(giant["metrics"]["margin_pct"], "5.00");
    assert_eq!(giant["metrics"]["active_months"], 4);
    assert_eq!(
        giant["next_tier"]["shortfalls"],
        json!([{"criterion": "min_margin_pct", "required": "20", "actual": "5.00", "gap": "15.00"}])
    );

    let exact = entitlement(&app, "EXACT", "2026-04-30").await;
    assert_eq!(exact["metrics"]["margin_pct"], "20.00", "{exact}");
    assert_eq!(exact["metrics"]["net_revenue"], "5000.00");
    assert_eq!(exact["tier"], "gold", "{exact}");
}

#[tokio::test]
async fn next_tier_lists_every_failing_criterion_with_required_actual_and_gap() {
    // Proves the explanation lists all failing criteria of the next better tier, in field order, including min_stage.
    let app = app_with(&["KA-1"]).await;
    publish(
        &app,
        "2025-01-01",
        12,
        vec![
            tier(
                "top",
                json!({"min_net_revenue": "5000", "min_margin_pct": "30", "min_active_months": 3, "min_stage": "cooperative"}),
                "8",
                1,
                true,
            ),
            tier("rest", json!({}), "0", 9, false),
        ],
    )
    .await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "1200.50",
            "1000.00",
            "2026-03-10",
        )],
    )
    .await;
    let answer = entitlement(&app, "KA-1", "2026-06-30").await;
    assert_eq!(answer["tier"], "rest");
    assert_eq!(answer["relationship_stage"], "exploratory");
    assert_eq!(
        answer["metrics"]["margin_pct"], "16.70",
        "200.50 / 1200.50 = 16.7014…"
    );
    assert_eq!(
        answer["next_tier"],
        json!({"index": 0, "name": "top", "shortfalls": [
            {"criterion": "min_net_revenue", "required": "5000", "actual": "1200.50", "gap": "3799.50"},
            {"criterion": "min_margin_pct", "required": "30", "actual": "16.70", "gap": "13.30"},
            {"criterion": "min_active_months", "required": "3", "actual": "1", "gap": "2"},
            {"criterion": "min_stage", "required": "cooperative", "actual": "exploratory", "gap": null}]})
    );
}

#[tokio::test]
async fn overrides_win_until_valid_to_and_until_revoked() {
    // Proves an active override decides the tier (source override, criteria_tier kept) and stops after valid_to and after revoke.
    let app = app_with(&["KA-1"]).await;
    // Without a policy no override can be granted.
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "gold", "valid_from": "2026-01-01", "reason": "board decision"}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&reply),
        [(None, "tier".to_string(), "no_policy".to_string())]
    );

    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "1500.00",
            "1000.00",
            "2025-11-10",
        )],
    )
    .await;
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "platinum", "valid_from": "2026-01-01", "reason": "board decision"}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&reply),
        [(None, "tier".to_string(), "unknown_tier".to_string())]
    );

    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "gold", "valid_from": "2026-01-01", "valid_to": "2026-06-30", "reason": "framework agreement"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["override_id"], "ovr-1");
    assert_eq!(reply.body["tier"], "gold");
    assert_eq!(reply.body["revoked"], false);

    let inside = entitlement(&app, "KA-1", "2026-06-30").await;
    assert_eq!(inside["tier"], "gold", "{inside}");
    assert_eq!(inside["source"], "override");
    assert_eq!(inside["criteria_tier"], "silver");
    assert_eq!(inside["entitlements"]["max_discount_pct"], "10");
    assert_eq!(inside["entitlements"]["supply_priority"], 1);
    assert_eq!(inside["override"]["override_id"], "ovr-1");
    assert_eq!(inside["override"]["reason"], "framework agreement");
    // The explanation stays the criteria's: what silver lacks to reach gold.
    assert_eq!(inside["next_tier"]["name"], "gold");

    let before = entitlement(&app, "KA-1", "2025-12-31").await;
    assert_eq!(
        (before["tier"].as_str(), before["source"].as_str()),
        (Some("silver"), Some("criteria"))
    );
    let after = entitlement(&app, "KA-1", "2026-07-01").await;
    assert_eq!(after["tier"], "silver", "{after}");
    assert_eq!(after["source"], "criteria");
    assert_eq!(after["override"], Value::Null);

    // An open-ended override, then revoked.
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "bronze", "valid_from": "2026-07-01", "reason": "payment arrears"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["override_id"], "ovr-2");
    let demoted = entitlement(&app, "KA-1", "2026-08-01").await;
    assert_eq!(
        (demoted["tier"].as_str(), demoted["source"].as_str()),
        (Some("bronze"), Some("override"))
    );
    assert_eq!(demoted["criteria_tier"], "silver");

    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides/ovr-2/revoke",
            json!({"reason": "arrears paid"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["revoked"], true);
    let restored = entitlement(&app, "KA-1", "2026-08-01").await;
    assert_eq!(
        (restored["tier"].as_str(), restored["source"].as_str()),
        (Some("silver"), Some("criteria"))
    );
    let again = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides/ovr-2/revoke",
            json!({}),
        )
        .await;
    assert_problem(&again, StatusCode::CONFLICT, "override_revoked");
    let missing = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides/ovr-9/revoke",
            json!({}),
        )
        .await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "override_not_found");

    let list = app
        .get(Role::Auditor, "/v1/accounts/KA-1/tier-overrides")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let listed: Vec<(String, bool)> = list.body["overrides"]
        .as_array()
        .expect("overrides")
        .iter()
        .map(|o| {
            (
                o["override_id"].as_str().unwrap().to_string(),
                o["revoked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("ovr-1".to_string(), false), ("ovr-2".to_string(), true)]
    );
}

#[tokio::test]
async fn policy_versions_apply_from_their_effective_date() {
    // Proves the policy in force on as_of is the latest version effective by then: v1 before v2's effective_from, v2 from it.
    let app = app_with(&["KA-1"]).await;
    let v1 = publish(&app, "2025-01-01", 12, standard_tiers()).await;
    assert_eq!(v1["version"], 1);
    let mut stricter = standard_tiers();
    stricter[1]["criteria"]["min_net_revenue"] = json!("3000");
    let v2 = publish(&app, "2026-01-01", 12, stricter).await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["effective_from"], "2026-01-01");
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "2000.00",
            "1000.00",
            "2025-12-15",
        )],
    )
    .await;

    let old = entitlement(&app, "KA-1", "2025-12-31").await;
    assert_eq!(
        (old["policy_version"].as_u64(), old["tier"].as_str()),
        (Some(1), Some("silver")),
        "{old}"
    );
    let new = entitlement(&app, "KA-1", "2026-01-01").await;
    assert_eq!(
        (new["policy_version"].as_u64(), new["tier"].as_str()),
        (Some(2), Some("bronze")),
        "{new}"
    );
    assert_eq!(new["metrics"]["net_revenue"], "2000.00");
    assert_eq!(new["next_tier"]["shortfalls"][0]["required"], "3000");
    let none = entitlement(&app, "KA-1", "2024-12-31").await;
    assert_eq!(
        none["tier"], "unclassified",
        "no version is in force yet: {none}"
    );
    assert_eq!(none["policy_version"], Value::Null);

    let read = app
        .get(Role::Auditor, "/v1/tier-policy?on=2025-12-31")
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_eq!(read.body["on"], "2025-12-31");
    assert_eq!(read.body["current"]["version"], 1);
    assert_eq!(read.body["versions"].as_array().map(Vec::len), Some(2));
    let read = app
        .get(Role::Auditor, "/v1/tier-policy?on=2026-01-01")
        .await;
    assert_eq!(read.body["current"]["version"], 2);
    assert_eq!(
        read.body["current"]["tiers"][1]["criteria"]["min_net_revenue"],
        "3000"
    );
    let read = app
        .get(Role::Auditor, "/v1/tier-policy?on=2024-06-01")
        .await;
    assert_eq!(read.body["current"], Value::Null);

    // expected_version guards against publishing over a version not seen.
    let stale = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2027-01-01", "tiers": standard_tiers(), "expected_version": 1}),
        )
        .await;
    assert_problem(&stale, StatusCode::CONFLICT, "version_conflict");
    let fresh = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2027-01-01", "tiers": standard_tiers(), "expected_version": 2}),
        )
        .await;
    assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.text);
    assert_eq!(fresh.body["version"], 3);
    assert_eq!(fresh.body["window_months"], 12, "the default window");
}

#[tokio::test]
async fn known_at_answers_as_the_ledger_stood_then() {
    // Proves known_at hides sales, policies, overrides and discounts recorded after that instant.
    let app = app_with(&["KA-1"]).await;
    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "600.00",
            "300.00",
            "2026-03-10",
        )],
    )
    .await;
    let t1 = instant_between_writes().await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            2,
            "600.00",
            "300.00",
            "2026-03-11",
        )],
    )
    .await;
    let t2 = instant_between_writes().await;
    let mut generous = standard_tiers();
    generous[0]["criteria"] = json!({"min_net_revenue": "1000"});
    publish(&app, "2026-01-01", 12, generous).await;
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "bronze", "valid_from": "2026-01-01", "reason": "audit hold"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let t3 = instant_between_writes().await;
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides/ovr-1/revoke",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

    let at_t1 = entitlement_known_at(&app, "KA-1", "2026-06-30", &t1).await;
    assert_eq!(at_t1["metrics"]["net_revenue"], "600.00", "{at_t1}");
    assert_eq!(
        (at_t1["tier"].as_str(), at_t1["policy_version"].as_u64()),
        (Some("bronze"), Some(1))
    );
    let at_t2 = entitlement_known_at(&app, "KA-1", "2026-06-30", &t2).await;
    assert_eq!(at_t2["metrics"]["net_revenue"], "1200.00", "{at_t2}");
    assert_eq!(
        (at_t2["tier"].as_str(), at_t2["policy_version"].as_u64()),
        (Some("silver"), Some(1))
    );
    // At t3 the override was active; it was revoked after t3.
    let at_t3 = entitlement_known_at(&app, "KA-1", "2026-06-30", &t3).await;
    assert_eq!(
        (at_t3["tier"].as_str(), at_t3["source"].as_str()),
        (Some("bronze"), Some("override")),
        "{at_t3}"
    );
    assert_eq!(at_t3["criteria_tier"], "gold");
    assert_eq!(at_t3["policy_version"], 2);
    let now = entitlement(&app, "KA-1", "2026-06-30").await;
    assert_eq!(
        (now["tier"].as_str(), now["source"].as_str()),
        (Some("gold"), Some("criteria")),
        "{now}"
    );

    let policies = app
        .get(
            Role::Auditor,
            &format!("/v1/tier-policy?on=2026-06-30&known_at={t2}"),
        )
        .await;
    assert_eq!(policies.status, StatusCode::OK, "{}", policies.text);
    assert_eq!(policies.body["versions"].as_array().map(Vec::len), Some(1));
    assert_eq!(policies.body["current"]["version"], 1);
    let overrides = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/KA-1/tier-overrides?known_at={t3}"),
        )
        .await;
    assert_eq!(
        overrides.body["overrides"][0]["revoked"], false,
        "{}",
        overrides.text
    );
    let overrides = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/KA-1/tier-overrides?known_at={t2}"),
        )
        .await;
    assert_eq!(overrides.body["overrides"], json!([]), "{}", overrides.text);

    // The instant of an audited event answers with that event included.
    let events = app.audit_events("type=SaleRecorded").await;
    let first_sale_at = events[0]["recorded_at"]
        .as_str()
        .expect("recorded_at")
        .to_string();
    let at_first = entitlement_known_at(&app, "KA-1", "2026-06-30", &first_sale_at).await;
    assert_eq!(at_first["metrics"]["net_revenue"], "600.00", "{at_first}");

    // Filtering accounts by tier as known then uses the ledger of then, too.
    let listed = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts?tier=bronze&as_of=2026-06-30&known_at={t1}"),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(
        listed.body["accounts"][0]["account_id"], "KA-1",
        "{}",
        listed.text
    );
    let listed = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts?tier=bronze&as_of=2026-06-30&known_at={t2}"),
        )
        .await;
    assert_eq!(listed.body["accounts"], json!([]), "{}", listed.text);

    // Discounts as known then: not yet granted, then granted and not yet revoked.
    let granted = grant_discount(
        &app,
        Role::Manager,
        json!({"discount_id": "D-K", "account_id": "KA-1", "percent": "10", "scope": "all",
            "valid_from": "2026-03-15", "reason": "gold terms"}),
    )
    .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text);
    let t4 = instant_between_writes().await;
    let revoked = app
        .post(
            Role::Manager,
            "/v1/discounts/D-K/revoke",
            json!({"effective_on": "2026-03-20"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    let discounts_at = |known_at: Option<&str>| {
        let path = match known_at {
            Some(t) => format!("/v1/accounts/KA-1/discounts?on=2026-04-01&known_at={t}"),
            None => "/v1/accounts/KA-1/discounts?on=2026-04-01".to_string(),
        };
        let app = &app;
        async move {
            let reply = app.get(Role::Auditor, &path).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.body
        }
    };
    let at_t3 = discounts_at(Some(&t3)).await;
    assert_eq!(at_t3["all"], json!([]), "{at_t3}");
    let at_t4 = discounts_at(Some(&t4)).await;
    assert_eq!(percents(&at_t4["applicable"]), ["10"], "{at_t4}");
    assert_eq!(at_t4["all"][0]["revoked_from"], Value::Null);
    let now = discounts_at(None).await;
    assert_eq!(now["applicable"], json!([]), "{now}");
    assert_eq!(now["all"][0]["revoked_from"], "2026-03-20");

    let bad = app
        .get(
            Role::Auditor,
            "/v1/accounts/KA-1/entitlements?as_of=2026-06-30&known_at=yesterday",
        )
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, "invalid_known_at");
}

#[tokio::test]
async fn without_a_policy_every_account_is_unclassified() {
    // Proves that with no policy the tier is unclassified with its fixed entitlements, metrics over 12 months and no next tier.
    let app = app_with(&["KA-1"]).await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "500.00",
            "400.00",
            "2026-01-15",
        )],
    )
    .await;
    let answer = entitlement(&app, "KA-1", "2026-06-30").await;
    assert_eq!(answer["account_id"], "KA-1");
    assert_eq!(answer["as_of"], "2026-06-30");
    assert_eq!(answer["tier"], "unclassified", "{answer}");
    assert_eq!(answer["criteria_tier"], "unclassified");
    assert_eq!(answer["source"], "criteria");
    assert_eq!(answer["policy_version"], Value::Null);
    assert_eq!(
        answer["entitlements"],
        json!({"max_discount_pct": "0", "supply_priority": 100, "contest_eligible": true})
    );
    assert_eq!(answer["metrics"]["window_start"], "2025-07-01");
    assert_eq!(answer["metrics"]["net_revenue"], "500.00");
    assert_eq!(answer["metrics"]["margin_pct"], "20.00");
    assert_eq!(answer["next_tier"], Value::Null);
    assert_eq!(answer["override"], Value::Null);

    let listed = app
        .get(
            Role::Auditor,
            "/v1/accounts?tier=unclassified&as_of=2026-06-30",
        )
        .await;
    assert_eq!(
        listed.body["accounts"][0]["tier"], "unclassified",
        "{}",
        listed.text
    );
    let missing = app
        .get(
            Role::Auditor,
            "/v1/accounts/NOPE/entitlements?as_of=2026-06-30",
        )
        .await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "account_not_found");
    // Any discount exceeds the unclassified ceiling of 0.
    let refused = grant_discount(
        &app,
        Role::Manager,
        json!({"discount_id": "D-1", "account_id": "KA-1", "percent": "0.5", "scope": "all",
            "valid_from": "2026-06-01", "reason": "welcome"}),
    )
    .await;
    assert_problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount_exceeds_entitlement",
    );
    assert_eq!(refused.body["context"]["tier"], "unclassified");
    assert_eq!(refused.body["context"]["ceiling_pct"], "0");
}

#[tokio::test]
async fn discounts_respect_the_ceiling_and_the_highest_applicable_wins() {
    // Proves the ceiling refusal (tier and ceiling as of valid_from), scopes, highest-wins, validity and revoke from effective_on.
    let app = app_with(&["KA-1"]).await;
    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    sell(
        &app,
        vec![sale_on(
            "KA-1",
            "INV-1",
            1,
            "1500.00",
            "1000.00",
            "2026-02-10",
        )],
    )
    .await;
    let base = |id: &str, percent: &str, scope: &str, value: Option<&str>| {
        let mut body = json!({"discount_id": id, "account_id": "KA-1", "percent": percent, "scope": scope,
            "valid_from": "2026-03-01", "valid_to": "2026-12-31", "reason": "annual terms"});
        if let Some(v) = value {
            body["scope_value"] = json!(v);
        }
        body
    };

    // Silver's ceiling is 5: 5.01 is refused, naming the tier and the ceiling.
    let refused = grant_discount(&app, Role::Manager, base("D-X", "5.01", "all", None)).await;
    assert_problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount_exceeds_entitlement",
    );
    assert_eq!(
        refused.body["context"],
        json!({"tier": "silver", "ceiling_pct": "5", "percent": "5.01", "on": "2026-03-01"})
    );
    // As of a valid_from before the sale the account is bronze (ceiling 1).
    let mut early = base("D-Y", "2", "all", None);
    early["valid_from"] = json!("2026-01-01");
    let refused = grant_discount(&app, Role::Manager, early).await;
    assert_problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount_exceeds_entitlement",
    );
    assert_eq!(refused.body["context"]["tier"], "bronze");
    assert_eq!(refused.body["context"]["ceiling_pct"], "1");
    assert_eq!(refused.body["context"]["on"], "2026-01-01");

    let granted = grant_discount(
        &app,
        Role::Manager,
        base("D-CAT", "5", "category", Some("beverages")),
    )
    .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text);
    assert_eq!(granted.body["tier"], "silver");
    assert_eq!(granted.body["ceiling_pct"], "5");
    let granted = grant_discount(&app, Role::Admin, base("D-SKU", "4", "sku", Some("SKU-9"))).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text);
    let mut all = base("D-ALL", "3", "all", None);
    all["valid_to"] = json!("2026-06-30");
    let granted = grant_discount(&app, Role::Manager, all).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.text);
    let duplicate = grant_discount(&app, Role::Manager, base("D-ALL", "1", "all", None)).await;
    assert_problem(&duplicate, StatusCode::CONFLICT, "discount_exists");

    let app = &app;
    let on = |query: &str| {
        let path = format!("/v1/accounts/KA-1/discounts?{query}");
        async move {
            let reply = app.get(Role::Auditor, &path).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.body
        }
    };
    let both = on("on=2026-04-01&sku=SKU-9&category=beverages").await;
    assert_eq!(percents(&both["applicable"]), ["5", "4", "3"], "{both}");
    assert_eq!(both["effective"]["discount_id"], "D-CAT");
    assert_eq!(both["all"].as_array().map(Vec::len), Some(3));
    let sku_only = on("on=2026-04-01&sku=SKU-9&category=snacks").await;
    assert_eq!(percents(&sku_only["applicable"]), ["4", "3"]);
    assert_eq!(sku_only["effective"]["discount_id"], "D-SKU");
    let category_only = on("on=2026-04-01&sku=SKU-1&category=beverages").await;
    assert_eq!(percents(&category_only["applicable"]), ["5", "3"]);
    let neither = on("on=2026-04-01").await;
    assert_eq!(percents(&neither["applicable"]), ["3"]);
    assert_eq!(neither["effective"]["discount_id"], "D-ALL");
    // Validity: before valid_from nothing; D-ALL ends with 06-30 inclusive.
    let before = on("on=2026-02-28&sku=SKU-9&category=beverages").await;
    assert_eq!(before["applicable"], json!([]));
    assert_eq!(before["effective"], Value::Null);
    let last_day = on("on=2026-06-30").await;
    assert_eq!(percents(&last_day["applicable"]), ["3"]);
    let after = on("on=2026-07-01&sku=SKU-9").await;
    assert_eq!(percents(&after["applicable"]), ["4"]);

    // Revoking the 5 % from 05-01: it applies on 04-30 and not from 05-01.
    let revoked = app
        .post(
            Role::Manager,
            "/v1/discounts/D-CAT/revoke",
            json!({"effective_on": "2026-05-01", "reason": "shelf deal ended"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.body["revoked_from"], "2026-05-01");
    let eve = on("on=2026-04-30&category=beverages").await;
    assert_eq!(percents(&eve["applicable"]), ["5", "3"]);
    let from = on("on=2026-05-01&category=beverages").await;
    assert_eq!(percents(&from["applicable"]), ["3"]);
    assert_eq!(from["effective"]["discount_id"], "D-ALL");
    let again = app
        .post(
            Role::Manager,
            "/v1/discounts/D-CAT/revoke",
            json!({"effective_on": "2026-06-01"}),
        )
        .await;
    assert_problem(&again, StatusCode::CONFLICT, "discount_revoked");
    let missing = app
        .post(
            Role::Manager,
            "/v1/discounts/D-NONE/revoke",
            json!({"effective_on": "2026-06-01"}),
        )
        .await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "discount_not_found");
}

#[tokio::test]
async fn accounts_can_be_listed_by_tier() {
    // Proves GET /v1/accounts?tier=&as_of= lists exactly the accounts in that tier on that day, each with its tier.
    let app = app_with(&["A-GOLD", "B-SILVER", "C-BRONZE", "D-SILVER"]).await;
    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    let mut lines = Vec::new();
    for (i, day) in ["2026-01-05", "2026-02-05", "2026-03-05"]
        .iter()
        .enumerate()
    {
        lines.push(sale_on(
            "A-GOLD",
            "INV-A",
            i as u32 + 1,
            "3000.00",
            "1500.00",
            day,
        ));
    }
    lines.push(sale_on(
        "B-SILVER",
        "INV-B",
        1,
        "1000.00",
        "900.00",
        "2026-03-05",
    ));
    lines.push(sale_on(
        "C-BRONZE",
        "INV-C",
        1,
        "10.00",
        "9.00",
        "2026-03-05",
    ));
    lines.push(sale_on(
        "D-SILVER",
        "INV-D",
        1,
        "4000.00",
        "100.00",
        "2026-03-05",
    ));
    sell(&app, lines).await;

    let app = &app;
    let listed = |tier: &str, as_of: &str| {
        let path = format!("/v1/accounts?tier={tier}&as_of={as_of}");
        let tier = tier.to_string();
        async move {
            let reply = app.get(Role::Auditor, &path).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            reply.body["accounts"]
                .as_array()
                .expect("accounts")
                .iter()
                .map(|a| {
                    assert_eq!(a["tier"], tier, "{a}");
                    a["account_id"].as_str().unwrap().to_string()
                })
                .collect::<Vec<String>>()
        }
    };
    assert_eq!(listed("gold", "2026-03-31").await, ["A-GOLD"]);
    assert_eq!(
        listed("silver", "2026-03-31").await,
        ["B-SILVER", "D-SILVER"]
    );
    assert_eq!(listed("bronze", "2026-03-31").await, ["C-BRONZE"]);
    // Before any sale everyone is bronze; a year later the windows empty again.
    assert_eq!(listed("bronze", "2025-12-31").await.len(), 4);
    assert_eq!(listed("gold", "2027-03-05").await, Vec::<String>::new());
    // On 2027-03-04 the window starts 2026-03-05: only the sales of that day count.
    assert_eq!(
        listed("silver", "2027-03-04").await,
        ["A-GOLD", "B-SILVER", "D-SILVER"]
    );
    assert_eq!(listed("bronze", "2027-03-05").await.len(), 4);
    let unfiltered = app.get(Role::Auditor, "/v1/accounts").await;
    assert!(
        unfiltered.body["accounts"][0].get("tier").is_none(),
        "no tier unless filtered: {}",
        unfiltered.text
    );
}

#[tokio::test]
async fn pareto_report_ranks_accounts_with_shares_in_json_and_csv() {
    // Proves the Pareto report ranks by net revenue in the window with shares, cumulative shares and the top-20 % share.
    let app = app_with(&["A", "B", "C", "D", "E"]).await;
    let mut lines = Vec::new();
    for (i, (account, net)) in [
        ("A", "100.00"),
        ("B", "500.00"),
        ("C", "150.00"),
        ("D", "200.00"),
        ("E", "50.00"),
    ]
    .iter()
    .enumerate()
    {
        lines.push(sale_on(
            account,
            "INV-P",
            i as u32 + 1,
            net,
            "0.00",
            "2026-05-15",
        ));
    }
    // Outside a 1-month window ending 2026-05-31, inside the 12-month one.
    lines.push(sale_on("E", "INV-P", 9, "1000.00", "0.00", "2026-04-30"));
    sell(&app, lines).await;

    let reply = app
        .get(
            Role::Auditor,
            "/v1/reports/pareto?as_of=2026-05-31&window_months=1",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let report = &reply.body;
    assert_eq!(report["currency"], "CNY");
    assert_eq!(report["as_of"], "2026-05-31");
    assert_eq!(report["window_start"], "2026-05-01");
    assert_eq!(report["total_net_revenue"], "1000.00");
    assert_eq!(report["accounts"], 5);
    assert_eq!(report["top_20_percent_accounts"], 1);
    assert_eq!(report["top_20_percent_share_pct"], "50.00");
    let rows: Vec<(u64, String, String, String, String)> = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["rank"].as_u64().unwrap(),
                r["account_id"].as_str().unwrap().into(),
                r["net_revenue"].as_str().unwrap().into(),
                r["share_pct"].as_str().unwrap().into(),
                r["cumulative_share_pct"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(u64, String, String, String, String)> = [
        (1, "B", "500.00", "50.00", "50.00"),
        (2, "D", "200.00", "20.00", "70.00"),
        (3, "C", "150.00", "15.00", "85.00"),
        (4, "A", "100.00", "10.00", "95.00"),
        (5, "E", "50.00", "5.00", "100.00"),
    ]
    .iter()
    .map(|(r, a, n, s, c)| {
        (
            *r,
            a.to_string(),
            n.to_string(),
            s.to_string(),
            c.to_string(),
        )
    })
    .collect();
    assert_eq!(rows, expected);

    let csv = app
        .get(
            Role::Auditor,
            "/v1/reports/pareto?as_of=2026-05-31&window_months=1&format=csv",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(
        csv.text,
        "rank,account_id,net_revenue,share_pct,cumulative_share_pct,currency\n\
         1,B,500.00,50.00,50.00,CNY\n2,D,200.00,20.00,70.00,CNY\n3,C,150.00,15.00,85.00,CNY\n\
         4,A,100.00,10.00,95.00,CNY\n5,E,50.00,5.00,100.00,CNY\n"
    );

    // Over 12 months E's April sale counts and E leads.
    let year = app
        .get(Role::Auditor, "/v1/reports/pareto?as_of=2026-05-31")
        .await;
    assert_eq!(year.body["window_months"], 12);
    assert_eq!(year.body["rows"][0]["account_id"], "E");
    assert_eq!(year.body["rows"][0]["net_revenue"], "1050.00");
    assert_eq!(
        year.body["top_20_percent_share_pct"], "52.50",
        "1050 / 2000"
    );

    let bad = app
        .get(
            Role::Auditor,
            "/v1/reports/pareto?as_of=2026-05-31&window_months=37",
        )
        .await;
    assert_problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_window");
    let bad = app
        .get(
            Role::Auditor,
            "/v1/reports/pareto?as_of=2026-05-31&format=xml",
        )
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, "invalid_query");
    let bad = app
        .get(Role::Auditor, "/v1/reports/pareto?as_of=31.05.2026")
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test]
async fn only_the_right_roles_may_write_policy_overrides_and_discounts() {
    // Proves policy and overrides are admin only, discounts manager or admin (403 otherwise, 401 without a token).
    let app = app_with(&["KA-1"]).await;
    let policy = json!({"effective_from": "2025-01-01", "tiers": standard_tiers()});
    for role in [
        Role::Auditor,
        Role::Manager,
        Role::Finance,
        Role::Planner,
        Role::Ingest,
    ] {
        let reply = app.post(role, "/v1/tier-policy", policy.clone()).await;
        assert_problem(&reply, StatusCode::FORBIDDEN, reply.code());
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{role}: {}",
            reply.text
        );
    }
    let unauthenticated = app
        .send(
            axum::http::Method::POST,
            "/v1/tier-policy",
            None,
            &[("content-type", "application/json")],
            policy.to_string().into_bytes(),
        )
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(Role::Auditor, "/v1/tier-policy").await.body["versions"],
        json!([])
    );
    let reply = app.post(Role::Admin, "/v1/tier-policy", policy).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    let grant = json!({"tier": "gold", "valid_from": "2026-01-01", "reason": "board"});
    for role in [
        Role::Auditor,
        Role::Manager,
        Role::Finance,
        Role::Planner,
        Role::Ingest,
    ] {
        let reply = app
            .post(role, "/v1/accounts/KA-1/tier-overrides", grant.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{role}: {}",
            reply.text
        );
    }
    let reply = app
        .post(Role::Admin, "/v1/accounts/KA-1/tier-overrides", grant)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/tier-overrides/ovr-1/revoke",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);

    let discount = |id: &str| {
        json!({"discount_id": id, "account_id": "KA-1", "percent": "1", "scope": "all",
            "valid_from": "2026-02-01", "reason": "terms"})
    };
    for role in [Role::Auditor, Role::Finance, Role::Planner, Role::Ingest] {
        let reply = app.post(role, "/v1/discounts", discount("D-R")).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{role}: {}",
            reply.text
        );
        let reply = app
            .post(
                role,
                "/v1/discounts/D-R/revoke",
                json!({"effective_on": "2026-03-01"}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{role}: {}",
            reply.text
        );
    }
    assert_eq!(
        app.post(Role::Manager, "/v1/discounts", discount("D-M"))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(Role::Admin, "/v1/discounts", discount("D-A"))
            .await
            .status,
        StatusCode::CREATED
    );
    // Nothing the refused requests sent was recorded.
    let ids: Vec<String> = app
        .get(Role::Auditor, "/v1/accounts/KA-1/discounts?on=2026-03-01")
        .await
        .body["all"]
        .as_array()
        .expect("all")
        .iter()
        .map(|d| d["discount_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["D-M", "D-A"]);
}

#[tokio::test]
async fn bad_input_gets_problem_json_with_stable_codes() {
    // Proves bad dates, unknown fields, non-numeric percents and invalid policies are 400/422 problems, each with its code, and write nothing.
    let app = app_with(&["KA-1"]).await;
    let head = app.head();

    let bad_date = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2026-02-30", "tiers": standard_tiers()}),
        )
        .await;
    assert_problem(&bad_date, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let unknown_field = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2026-01-01", "tiers": standard_tiers(), "colour": "blue"}),
        )
        .await;
    assert_problem(
        &unknown_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let mut nested_unknown = standard_tiers();
    nested_unknown[0]["criteria"]["min_revenue"] = json!("1");
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2026-01-01", "tiers": nested_unknown}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let malformed = app
        .post_bytes(
            Role::Admin,
            "/v1/tier-policy",
            "application/json",
            &[],
            b"{\"effective_from\":".to_vec(),
        )
        .await;
    assert_problem(&malformed, StatusCode::BAD_REQUEST, "malformed_json");

    // An invalid policy: every violation named at once.
    let invalid = json!({"effective_from": "2026-01-01", "window_months": 0, "tiers": [
        {"name": "gold", "criteria": {"min_net_revenue": "-1", "min_margin_pct": "101"},
         "entitlements": {"max_discount_pct": "150", "supply_priority": 0, "contest_eligible": true}},
        {"name": "Gold", "criteria": {}, "entitlements": {"max_discount_pct": "1", "supply_priority": 2, "contest_eligible": true}},
        {"name": "unclassified", "criteria": {"min_active_months": 1},
         "entitlements": {"max_discount_pct": "1", "supply_priority": 3, "contest_eligible": true}}]});
    let reply = app.post(Role::Admin, "/v1/tier-policy", invalid).await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let found: Vec<(String, String)> = error_triples(&reply)
        .into_iter()
        .map(|(_, f, c)| (f, c))
        .collect();
    let expected: Vec<(String, String)> = [
        ("window_months", "invalid_window"),
        ("tiers[0].criteria.min_net_revenue", "negative_amount"),
        ("tiers[0].criteria.min_margin_pct", "percent_out_of_range"),
        (
            "tiers[0].entitlements.max_discount_pct",
            "percent_out_of_range",
        ),
        (
            "tiers[0].entitlements.supply_priority",
            "invalid_supply_priority",
        ),
        ("tiers[1].name", "duplicate_tier_name"),
        ("tiers[1].criteria", "tier_without_criteria"),
        ("tiers[2].name", "reserved_tier_name"),
        ("tiers[2].criteria", "last_tier_has_criteria"),
    ]
    .iter()
    .map(|(f, c)| (f.to_string(), c.to_string()))
    .collect();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(found_sorted, expected_sorted, "{}", reply.text);
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2026-01-01", "tiers": []}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&reply),
        [(None, "tiers".to_string(), "no_tiers".to_string())]
    );
    let mut bad_name = standard_tiers();
    bad_name[2]["name"] = json!("no spaces please");
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2026-01-01", "window_months": 37, "tiers": bad_name}),
        )
        .await;
    let codes: Vec<String> = error_triples(&reply)
        .into_iter()
        .map(|(_, _, c)| c)
        .collect();
    assert_eq!(codes, ["invalid_window", "invalid_id"], "{}", reply.text);
    assert_eq!(app.head(), head, "refused policies wrote nothing");

    publish(&app, "2025-01-01", 12, standard_tiers()).await;
    let head = app.head();
    let discount = |percent: Value| {
        json!({"discount_id": "D-1", "account_id": "KA-1", "percent": percent, "scope": "all",
            "valid_from": "2026-02-01", "reason": "terms"})
    };
    let reply = app
        .post(Role::Manager, "/v1/discounts", discount(json!("abc")))
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = app
        .post(Role::Manager, "/v1/discounts", discount(json!("0")))
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error_triples(&reply)[0].2, "percent_out_of_range");
    let reply = app
        .post(Role::Manager, "/v1/discounts", discount(json!("0.125")))
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error_triples(&reply)[0].2, "too_many_decimals");
    let mut no_value = discount(json!("1"));
    no_value["scope"] = json!("sku");
    let reply = app.post(Role::Manager, "/v1/discounts", no_value).await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error_triples(&reply)[0].1, "scope_value");
    let mut bad_scope = discount(json!("1"));
    bad_scope["scope"] = json!("region");
    let reply = app.post(Role::Manager, "/v1/discounts", bad_scope).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let mut inverted = discount(json!("1"));
    inverted["valid_to"] = json!("2026-01-01");
    let reply = app.post(Role::Manager, "/v1/discounts", inverted).await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error_triples(&reply)[0].2, "invalid_validity");
    let mut unknown_account = discount(json!("1"));
    unknown_account["account_id"] = json!("NOPE");
    let reply = app
        .post(Role::Manager, "/v1/discounts", unknown_account)
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "gold", "valid_from": "2026-01-01", "reason": "   "}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/tier-overrides",
            json!({"tier": "gold", "valid_from": "2026-13-01", "reason": "board"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert_eq!(
        app.head(),
        head,
        "refused discounts and overrides wrote nothing"
    );

    for path in [
        "/v1/accounts/KA-1/entitlements?as_of=2026-02-30",
        "/v1/accounts/KA-1/entitlements?as_of=yesterday",
        "/v1/accounts/KA-1/entitlements?as_of=2026-01-01&colour=blue",
        "/v1/accounts/KA-1/discounts?on=2026/01/01",
        "/v1/tier-policy?on=2026-1-1",
        "/v1/accounts?tier=gold&as_of=20260101",
    ] {
        let reply = app.get(Role::Auditor, path).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_query");
    }
}

/// The demo's entitlement of an account on a day.
async fn demo_entitlement(app: &TestApp, account: &str, as_of: &str) -> Value {
    entitlement(app, account, as_of).await
}

#[tokio::test]
async fn the_demo_shows_meaningful_tiers_and_the_cli_pareto_report_matches_http() {
    // Proves the demo's policy places walmart, gome, ka-0060 and carrefour as intended and `kaledger report pareto` equals the HTTP report.
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = dir.path().join("demo");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let out = run_cli([
        "demo".as_ref(),
        "--no-serve".as_ref(),
        "--data".as_ref(),
        demo.as_os_str(),
        "--fixtures".as_ref(),
        fixtures.as_os_str(),
    ]);
    assert!(out.success(), "demo failed: {}\n{}", out.stdout, out.stderr);
    let ledger = demo.join("ledger");

    // The CLI first (sled allows one process per directory).
    let cli_json = run_cli([
        "report".as_ref(),
        "pareto".as_ref(),
        "--data".as_ref(),
        ledger.as_os_str(),
        "--as-of".as_ref(),
        "2026-10-31".as_ref(),
    ]);
    assert!(cli_json.success(), "report failed: {}", cli_json.stderr);
    let cli_report = cli_json.json();
    let cli_csv = run_cli([
        "report".as_ref(),
        "pareto".as_ref(),
        "--data".as_ref(),
        ledger.as_os_str(),
        "--as-of".as_ref(),
        "2026-10-31".as_ref(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    assert!(cli_csv.success(), "report failed: {}", cli_csv.stderr);
    let bad = run_cli([
        "report".as_ref(),
        "pareto".as_ref(),
        "--data".as_ref(),
        ledger.as_os_str(),
        "--format".as_ref(),
        "xml".as_ref(),
    ]);
    assert!(!bad.success());
    assert!(
        bad.stderr.contains("unknown format \"xml\""),
        "{}",
        bad.stderr
    );

    // The report's own arithmetic: rows sum to the total, the last cumulative share is 100.
    let rows = cli_report["rows"].as_array().expect("rows");
    assert!(rows.len() >= 10, "{cli_report}");
    assert_eq!(cli_report["accounts"], rows.len() as u64);
    assert_eq!(cli_report["window_start"], "2025-11-01");
    let total: rust_decimal::Decimal = rows
        .iter()
        .map(|r| {
            r["net_revenue"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        total.to_string(),
        cli_report["total_net_revenue"].as_str().unwrap()
    );
    assert_eq!(rows.last().unwrap()["cumulative_share_pct"], "100.00");
    assert_eq!(rows[0]["account_id"], "walmart");
    let top = cli_report["top_20_percent_accounts"].as_u64().unwrap() as usize;
    assert_eq!(top, (rows.len() * 20).div_ceil(100));
    assert_eq!(
        cli_report["top_20_percent_share_pct"],
        rows[top - 1]["cumulative_share_pct"],
        "the top-20 % share is the cumulative share of the last top account"
    );
    let csv_lines: Vec<&str> = cli_csv.stdout.lines().collect();
    assert_eq!(
        csv_lines[0],
        "rank,account_id,net_revenue,share_pct,cumulative_share_pct,currency"
    );
    assert_eq!(csv_lines.len(), rows.len() + 1);
    assert_eq!(
        csv_lines[1],
        format!(
            "1,walmart,{},{},{},CNY",
            rows[0]["net_revenue"].as_str().unwrap(),
            rows[0]["share_pct"].as_str().unwrap(),
            rows[0]["cumulative_share_pct"].as_str().unwrap()
        )
    );

    let app = TestApp::open_at(dir, &ledger).await;
    let http = app
        .get(Role::Finance, "/v1/reports/pareto?as_of=2026-10-31")
        .await;
    assert_eq!(http.status, StatusCode::OK, "{}", http.text);
    assert_eq!(http.body, cli_report, "CLI and HTTP reports differ");
    let http_csv = app
        .get(
            Role::Finance,
            "/v1/reports/pareto?as_of=2026-10-31&format=csv",
        )
        .await;
    assert_eq!(http_csv.text, cli_csv.stdout);

    let walmart = demo_entitlement(&app, "walmart", "2026-10-31").await;
    assert_eq!(
        (walmart["tier"].as_str(), walmart["source"].as_str()),
        (Some("strategic"), Some("criteria")),
        "{walmart}"
    );
    assert_eq!(walmart["policy_version"], 2);
    assert_eq!(walmart["next_tier"], Value::Null);

    let gome = demo_entitlement(&app, "gome", "2026-10-31").await;
    assert_ne!(gome["tier"], "key", "{gome}");
    assert_ne!(gome["tier"], "strategic", "{gome}");
    assert_eq!(gome["next_tier"]["name"], "key", "{gome}");
    let gome_shortfalls = gome["next_tier"]["shortfalls"]
        .as_array()
        .expect("shortfalls");
    assert_eq!(
        gome_shortfalls.len(),
        1,
        "only the margin keeps gome out: {gome}"
    );
    assert_eq!(gome_shortfalls[0]["criterion"], "min_margin_pct");
    assert_eq!(gome_shortfalls[0]["required"], "8");
    let revenue: rust_decimal::Decimal = gome["metrics"]["net_revenue"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(revenue >= rust_decimal::Decimal::from(1_000_000), "{gome}");

    let bulk = demo_entitlement(&app, "ka-0060", "2025-06-30").await;
    assert_eq!(bulk["tier"], "general", "{bulk}");
    assert_eq!(bulk["policy_version"], 1);
    let shortfalls = bulk["next_tier"]["shortfalls"]
        .as_array()
        .expect("shortfalls");
    assert!(
        shortfalls
            .iter()
            .any(|s| s["criterion"] == "min_active_months"),
        "min_active_months keeps the one-off buyer out: {bulk}"
    );
    assert!(
        !shortfalls
            .iter()
            .any(|s| s["criterion"] == "min_net_revenue"),
        "its revenue alone would qualify: {bulk}"
    );

    let carrefour = demo_entitlement(&app, "carrefour", "2026-10-31").await;
    assert_eq!(
        (carrefour["tier"].as_str(), carrefour["source"].as_str()),
        (Some("strategic"), Some("override")),
        "{carrefour}"
    );
    assert_eq!(carrefour["override"]["valid_to"], "2026-12-31");
    assert_ne!(carrefour["criteria_tier"], Value::Null);

    // The demo's discounts: walmart's 6 % beverages beats its 4 % on all.
    let discounts = app
        .get(
            Role::Auditor,
            "/v1/accounts/walmart/discounts?on=2026-06-01&category=beverages",
        )
        .await;
    assert_eq!(
        percents(&discounts.body["applicable"]),
        ["6", "4"],
        "{}",
        discounts.text
    );
    let strategic = app
        .get(
            Role::Auditor,
            "/v1/accounts?tier=strategic&as_of=2026-10-31&limit=1000",
        )
        .await;
    let ids: Vec<&str> = strategic.body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["account_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"walmart") && ids.contains(&"carrefour"),
        "{ids:?}"
    );
    assert!(!ids.contains(&"gome"), "{ids:?}");
}
