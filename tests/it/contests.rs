//! Sales contests over HTTP (issue 5, DESIGN §5.5, §6), driven in-process: live standings
//! with competition ranking and pooled prizes over ties, growth without a baseline,
//! ineligible tiers, the refusals, close once, and cash awards in the liability report
//! until marked paid.
//!
//! The server's "today" is the real UTC date, so closable contests ran in Q1 2026 and the
//! one that is not over ends in 2099.

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, sale_on, sell, TestApp};

/// A Q1 2026 net-revenue contest in CNY paying 1,500 / 1,000 / 500.
fn podium_contest(id: &str) -> Value {
    json!({"contest_id": id, "name": format!("Contest {id}"), "currency": "CNY",
    "starts_on": "2026-01-01", "ends_on": "2026-03-31", "metric": "net_revenue",
    "prizes": [
        {"rank": 1, "kind": "cash", "amount": "1500.00"},
        {"rank": 2, "kind": "cash", "amount": "1000.00"},
        {"rank": 3, "kind": "cash", "amount": "500.00"}
    ]})
}

async fn define(app: &TestApp, body: Value) -> Value {
    let reply = app.post(Role::Manager, "/v1/contests", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

async fn standings(app: &TestApp, id: &str, as_of: &str) -> Value {
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/contests/{id}/standings?as_of={as_of}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// (rank, account, metric, reason, cash amounts) of one standing.
type Line = (
    Option<u64>,
    String,
    Option<String>,
    Option<String>,
    Vec<String>,
);

/// The lines of each standing.
fn summary(body: &Value) -> Vec<Line> {
    body["standings"]
        .as_array()
        .expect("standings")
        .iter()
        .map(|s| {
            (
                s["rank"].as_u64(),
                s["account_id"].as_str().unwrap().to_string(),
                s["metric"].as_str().map(str::to_string),
                s["reason"].as_str().map(str::to_string),
                s["prizes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["kind"] == "cash")
                    .map(|p| p["amount"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// Five CNY accounts with Q1 2026 net revenue A 90,000, B and C 60,000, D 30,000, E none,
/// plus a USD account that does not take part.
async fn five_accounts() -> TestApp {
    let app = TestApp::new().await;
    for id in ["KA-A", "KA-B", "KA-C", "KA-D", "KA-E"] {
        app.open_account(id, "CNY").await;
    }
    app.open_account("KA-USD", "USD").await;
    sell(
        &app,
        vec![
            sale_on("KA-A", "A1", 1, "50000.00", "1.00", "2026-01-10"),
            sale_on("KA-A", "A1", 2, "40000.00", "1.00", "2026-03-31"),
            sale_on("KA-B", "B1", 1, "60000.00", "1.00", "2026-02-01"),
            sale_on("KA-C", "C1", 1, "60000.00", "1.00", "2026-03-01"),
            sale_on("KA-D", "D1", 1, "30000.00", "1.00", "2026-01-05"),
            // Outside the window: does not count.
            sale_on("KA-D", "D2", 1, "99000.00", "1.00", "2026-04-01"),
            sale_on("KA-USD", "U1", 1, "99000.00", "1.00", "2026-02-01"),
        ],
    )
    .await;
    app
}

#[tokio::test]
async fn ties_rank_1_2_2_4_and_split_the_pooled_prizes() {
    // Proves standard competition ranking (1, 2, 2, 4), the 1,000 + 500 of ranks 2–3 split
    // 750.00 each over the tie for second, nobody receiving the third prize, and the account
    // without sales listed with a reason.
    let app = five_accounts().await;
    define(&app, podium_contest("Q1")).await;
    let body = standings(&app, "Q1", "2026-06-30").await;
    assert_eq!(body["status"], "open");
    assert_eq!(body["window_end"], "2026-03-31");
    assert_eq!(
        summary(&body),
        vec![
            (
                Some(1),
                "KA-A".into(),
                s("90000.00"),
                None,
                vec!["1500.00".into()]
            ),
            (
                Some(2),
                "KA-B".into(),
                s("60000.00"),
                None,
                vec!["750.00".into()]
            ),
            (
                Some(2),
                "KA-C".into(),
                s("60000.00"),
                None,
                vec!["750.00".into()]
            ),
            (Some(4), "KA-D".into(), s("30000.00"), None, vec![]),
            (
                None,
                "KA-E".into(),
                s("0.00"),
                s("metric_not_positive"),
                vec![]
            ),
        ]
    );
    let lines = body["standings"].as_array().unwrap();
    assert_eq!(lines[0]["tie_expanded"], false);
    assert_eq!(lines[1]["tie_expanded"], true);
    assert_eq!(lines[3]["tie_expanded"], false);

    // Live standings part-way: only January counts.
    let january = standings(&app, "Q1", "2026-01-31").await;
    assert_eq!(
        summary(&january)[..2],
        [
            (
                Some(1),
                "KA-A".into(),
                s("50000.00"),
                None,
                vec!["1500.00".into()]
            ),
            (
                Some(2),
                "KA-D".into(),
                s("30000.00"),
                None,
                vec!["1000.00".into()]
            ),
        ]
    );
}

#[tokio::test]
async fn close_records_the_standings_once_and_awards_join_the_liability_until_paid() {
    // Proves close records ContestClosed with the standings, a second close is a 409, cash
    // awards are liability rows of kind contest_award until marked paid, paying twice is a
    // 409, and only finance or admin may mark an award paid.
    let app = five_accounts().await;
    define(&app, podium_contest("Q1")).await;
    let reply = app
        .post(Role::Manager, "/v1/contests/Q1/close", json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["status"], "closed");
    assert_eq!(summary(&reply.body)[2].4, vec!["750.00".to_string()]);
    let closed = app.audit_events("type=ContestClosed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["stream"], "contest/Q1");
    assert_eq!(closed[0]["data"]["standings"][1]["account_id"], "KA-B");

    let head = app.head();
    let again = app
        .post(Role::Manager, "/v1/contests/Q1/close", json!({}))
        .await;
    assert_problem(&again, StatusCode::CONFLICT, "contest_closed");
    assert_eq!(app.head(), head, "a refused close writes nothing");

    // Later sales do not change the recorded result.
    sell(
        &app,
        vec![sale_on("KA-D", "D3", 1, "500000.00", "1.00", "2026-02-02")],
    )
    .await;
    assert_eq!(
        summary(&standings(&app, "Q1", "2026-03-31").await)[0].1,
        "KA-A"
    );

    let liability = app
        .get(Role::Finance, "/v1/reports/liability?as_of=2099-01-01")
        .await;
    assert_eq!(liability.status, StatusCode::OK, "{}", liability.text);
    let awards: Vec<(String, String)> = liability.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "contest_award")
        .map(|r| {
            assert_eq!(r["program_id"], "Q1");
            assert_eq!(r["outstanding"], r["entitlement"]);
            (
                r["account_id"].as_str().unwrap().into(),
                r["outstanding"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        awards,
        vec![
            ("KA-A".into(), "1500.00".into()),
            ("KA-B".into(), "750.00".into()),
            ("KA-C".into(), "750.00".into()),
        ]
    );
    assert_eq!(liability.body["totals"][0]["outstanding"], "3000.00");

    let forbidden = app
        .post(
            Role::Manager,
            "/v1/contests/Q1/awards/KA-B/paid",
            json!({"reference": "PAY-1"}),
        )
        .await;
    assert_problem(&forbidden, StatusCode::FORBIDDEN, "forbidden");
    let paid = app
        .post(
            Role::Finance,
            "/v1/contests/Q1/awards/KA-B/paid",
            json!({"reference": "PAY-1"}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    assert_eq!(paid.body["status"], "paid");
    assert_eq!(paid.body["cash"], "750.00");
    assert_eq!(paid.body["payment"]["reference"], "PAY-1");
    let twice = app
        .post(
            Role::Finance,
            "/v1/contests/Q1/awards/KA-B/paid",
            json!({"reference": "PAY-2"}),
        )
        .await;
    assert_problem(&twice, StatusCode::CONFLICT, "award_already_paid");
    let nothing_won = app
        .post(
            Role::Finance,
            "/v1/contests/Q1/awards/KA-D/paid",
            json!({"reference": "PAY-3"}),
        )
        .await;
    assert_problem(&nothing_won, StatusCode::NOT_FOUND, "award_not_found");

    let after = app
        .get(
            Role::Finance,
            "/v1/reports/liability?as_of=2099-01-01&format=csv",
        )
        .await;
    assert!(
        after.text.contains(
            "contest_award,Q1,KA-A,2026-01-01..2026-03-31,CNY,1500.00,0.00,0.00,1500.00,unpaid"
        ),
        "{}",
        after.text
    );
    assert!(
        !after.text.contains("contest_award,Q1,KA-B"),
        "{}",
        after.text
    );
    let awards = app.get(Role::Auditor, "/v1/contests/Q1/awards").await;
    let statuses: Vec<(&str, &str)> = awards.body["awards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account_id"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![("KA-A", "unpaid"), ("KA-B", "paid"), ("KA-C", "unpaid")]
    );
}

#[tokio::test]
async fn an_odd_cent_goes_to_the_lowest_account_id() {
    // Proves a pooled prize that does not split evenly gives its leftover minor units one
    // each by account_id ascending, and the shares add up to the prize.
    let app = TestApp::new().await;
    for id in ["KA-1", "KA-2", "KA-3"] {
        app.open_account(id, "CNY").await;
        sell(
            &app,
            vec![sale_on(
                id,
                &format!("I-{id}"),
                1,
                "100.00",
                "1.00",
                "2026-02-01",
            )],
        )
        .await;
    }
    define(
        &app,
        json!({"contest_id": "ODD", "name": "Odd", "currency": "CNY", "starts_on": "2026-01-01",
            "ends_on": "2026-03-31", "metric": "quantity",
            "prizes": [{"rank": 1, "kind": "cash", "amount": "100.00"}, {"rank": 2, "kind": "cash", "amount": "0.01"}]}),
    )
    .await;
    let body = standings(&app, "ODD", "2026-03-31").await;
    assert_eq!(
        summary(&body),
        vec![
            (Some(1), "KA-1".into(), s("10"), None, vec!["33.34".into()]),
            (Some(1), "KA-2".into(), s("10"), None, vec!["33.34".into()]),
            (Some(1), "KA-3".into(), s("10"), None, vec!["33.33".into()]),
        ]
    );
}

#[tokio::test]
async fn growth_without_a_baseline_and_ineligible_tiers_are_listed_not_ranked() {
    // Proves growth_pct = (M − M_prev) / M_prev × 100 against the same window a year
    // earlier, an account with no sales then is listed with "no_baseline", an account whose
    // tier may not win contests is listed with its reason, and eligible_tiers excludes the
    // tiers it does not name.
    let app = TestApp::new().await;
    for id in ["KA-G", "KA-N", "KA-X"] {
        app.open_account(id, "CNY").await;
    }
    let tier = |name: &str, criteria: Value, priority: u32, contest: bool| {
        json!({"name": name, "criteria": criteria,
            "entitlements": {"max_discount_pct": "5", "supply_priority": priority, "contest_eligible": contest}})
    };
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2024-01-01", "window_months": 12,
                "tiers": [tier("key", json!({"min_net_revenue": "1000"}), 1, true), tier("general", json!({}), 2, false)]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    sell(
        &app,
        vec![
            sale_on("KA-G", "G0", 1, "1000.00", "1.00", "2025-02-01"),
            sale_on("KA-G", "G1", 1, "1500.00", "1.00", "2026-02-01"),
            sale_on("KA-N", "N1", 1, "5000.00", "1.00", "2026-02-01"),
            // KA-X sells little: tier "general", which may not win contests.
            sale_on("KA-X", "X0", 1, "10.00", "1.00", "2025-02-01"),
            sale_on("KA-X", "X1", 1, "500.00", "1.00", "2026-02-01"),
        ],
    )
    .await;
    define(
        &app,
        json!({"contest_id": "GROW", "name": "Growth", "currency": "CNY", "starts_on": "2026-01-01",
            "ends_on": "2026-03-31", "metric": "growth_pct",
            "prizes": [{"rank": 1, "kind": "goods", "description": "Espresso machine"}]}),
    )
    .await;
    let body = standings(&app, "GROW", "2026-03-31").await;
    assert_eq!(
        summary(&body),
        vec![
            (Some(1), "KA-G".into(), s("50.00"), None, vec![]),
            (None, "KA-N".into(), None, s("no_baseline"), vec![]),
            (
                None,
                "KA-X".into(),
                s("4900.00"),
                s("tier_not_contest_eligible"),
                vec![]
            ),
        ]
    );
    assert_eq!(
        body["standings"][0]["prizes"][0]["description"],
        "Espresso machine"
    );
    assert_eq!(body["standings"][2]["eligible"], false);

    define(
        &app,
        json!({"contest_id": "NONE", "name": "Strategic only", "currency": "CNY", "starts_on": "2026-01-01",
            "ends_on": "2026-03-31", "metric": "net_revenue", "eligible_tiers": ["strategic"],
            "prizes": [{"rank": 1, "kind": "cash", "amount": "10.00"}]}),
    )
    .await;
    let body = standings(&app, "NONE", "2026-03-31").await;
    assert!(body["standings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["rank"].is_null() && s["eligible"] == false));
    assert_eq!(body["standings"][0]["reason"], "tier_not_eligible");
}

#[tokio::test]
async fn scope_limits_the_lines_that_count() {
    // Proves a contest scoped to a category counts only those lines.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let mut snack = sale_on("KA-1", "S1", 1, "700.00", "1.00", "2026-02-01");
    snack["category"] = json!("snacks");
    sell(
        &app,
        vec![
            snack,
            sale_on("KA-1", "S1", 2, "300.00", "1.00", "2026-02-01"),
        ],
    )
    .await;
    let mut body = podium_contest("SNACK");
    body["scope"] = json!({"categories": ["snacks"]});
    define(&app, body).await;
    let body = standings(&app, "SNACK", "2026-03-31").await;
    assert_eq!(body["standings"][0]["metric"], "700.00");
}

#[tokio::test]
async fn bad_definitions_and_early_closes_are_refused_and_write_nothing() {
    // Proves the stable 422 codes of a bad definition (duplicate and zero ranks, cash
    // without an amount or in too many places, goods without a description, a window that
    // ends before it starts, an unknown currency), 409 on a duplicate id, 422 on closing
    // before the end, 404 on an unknown contest, 403 for roles without the right.
    let app = TestApp::new().await;
    let head = app.head();
    let reply = app
        .post(
            Role::Manager,
            "/v1/contests",
            json!({"contest_id": "BAD", "name": "Bad", "currency": "CNY", "starts_on": "2026-03-31",
            "ends_on": "2026-01-01", "metric": "net_revenue",
            "prizes": [
                {"rank": 1, "kind": "cash"},
                {"rank": 1, "kind": "cash", "amount": "5.001"},
                {"rank": 0, "kind": "goods"}
            ]}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let codes: Vec<(String, String)> = error_triples(&reply)
        .into_iter()
        .map(|(_, field, code)| (field, code))
        .collect();
    for expected in [
        ("ends_on", "ends_before_start"),
        ("prizes[0].amount", "missing_amount"),
        ("prizes[1].rank", "duplicate_rank"),
        ("prizes[1].amount", "too_many_decimals"),
        ("prizes[2].rank", "invalid_rank"),
        ("prizes[2].description", "missing_description"),
    ] {
        assert!(
            codes.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing from {codes:?}"
        );
    }
    let mut unknown = podium_contest("X");
    unknown["currency"] = json!("XXQ");
    let reply = app.post(Role::Manager, "/v1/contests", unknown).await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(error_triples(&reply)[0].2, "unknown_currency");
    let mut no_prizes = podium_contest("X");
    no_prizes["prizes"] = json!([]);
    let reply = app.post(Role::Manager, "/v1/contests", no_prizes).await;
    assert_eq!(error_triples(&reply)[0].2, "missing_prizes");
    let reply = app
        .post(
            Role::Manager,
            "/v1/contests",
            json!({"contest_id": "X", "metric": "fame"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = app
        .post(Role::Planner, "/v1/contests", podium_contest("X"))
        .await;
    assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.head(), head, "refusals write nothing");

    define(&app, podium_contest("Q1")).await;
    let reply = app
        .post(Role::Manager, "/v1/contests", podium_contest("Q1"))
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "contest_exists");

    let mut future = podium_contest("LATER");
    future["ends_on"] = json!("2099-12-31");
    define(&app, future).await;
    let head = app.head();
    let reply = app
        .send(
            axum::http::Method::POST,
            "/v1/contests/LATER/close",
            Some(app.token(Role::Manager)),
            &[],
            Vec::new(),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "contest_not_over");
    let reply = app
        .post(Role::Manager, "/v1/contests/NOPE/close", json!({}))
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "contest_not_found");
    let reply = app
        .post(
            Role::Finance,
            "/v1/contests/Q1/awards/KA-1/paid",
            json!({"reference": "P"}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "contest_open");
    assert_eq!(app.head(), head, "refusals write nothing");
    let reply = app.get(Role::Auditor, "/v1/contests/NOPE/standings").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "contest_not_found");
    let reply = app
        .get(Role::Auditor, "/v1/contests/Q1/standings?as_of=yesterday")
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_query");

    let list = app.get(Role::Auditor, "/v1/contests?limit=1").await;
    assert_eq!(list.body["contests"][0]["contest_id"], "LATER");
    assert_eq!(list.body["next_after"], "LATER");
}
