//! Peak seasons and supply-priority allocation over HTTP (issue 5, DESIGN §5.6, §6), driven
//! in-process: declare, request, withdraw, revise, the what-if plan and its hash, commit only
//! while current (409 stale_plan otherwise), the committed allocations, the refusals, and a
//! property test that the plan does not depend on the order requests arrive in.

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, sale_on, sell, TestApp};

/// A season with the given products (sku, capacity) and reserves (priority, percent).
fn season(id: &str, products: &[(&str, u64)], reserves: &[(u32, &str)]) -> Value {
    json!({"season_id": id, "name": format!("Season {id}"), "starts_on": "2027-01-15",
        "ends_on": "2027-02-28",
        "products": products.iter().map(|(sku, c)| json!({"sku": sku, "capacity": c})).collect::<Vec<_>>(),
        "reserves": reserves.iter().map(|(p, pct)| json!({"priority": p, "min_share_pct": pct})).collect::<Vec<_>>()})
}

async fn declare(app: &TestApp, body: Value) -> Value {
    let reply = app.post(Role::Planner, "/v1/seasons", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// Posts requests (account, sku, quantity) as the planner and asserts they were recorded.
async fn request(app: &TestApp, season: &str, requests: &[(&str, &str, u64)]) -> Value {
    let body: Vec<Value> = requests
        .iter()
        .map(|(a, sku, q)| json!({"account_id": a, "sku": sku, "quantity": q}))
        .collect();
    let reply = app
        .post(
            Role::Planner,
            &format!("/v1/seasons/{season}/requests"),
            json!({ "requests": body }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

async fn plan(app: &TestApp, season: &str, body: Value) -> Value {
    let reply = app
        .post(Role::Planner, &format!("/v1/seasons/{season}/plan"), body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// (account, allocated) of every line of a sku plan.
fn allocated(sku: &Value) -> Vec<(String, u64)> {
    sku["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["account_id"].as_str().unwrap().to_string(),
                l["allocated"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Publishes strategic (priority 1) / key (2) / general (3) and moves accounts into tiers
/// with overrides from 2027-01-01.
async fn tiers(app: &TestApp, placements: &[(&str, &str)]) {
    let tier = |name: &str, criteria: Value, priority: u32| {
        json!({"name": name, "criteria": criteria,
            "entitlements": {"max_discount_pct": "5", "supply_priority": priority, "contest_eligible": true}})
    };
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2026-01-01", "window_months": 12, "tiers": [
                tier("strategic", json!({"min_net_revenue": "1000000"}), 1),
                tier("key", json!({"min_net_revenue": "100000"}), 2),
                tier("general", json!({}), 3)]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    for (account, tier) in placements {
        let reply = app
            .post(
                Role::Admin,
                &format!("/v1/accounts/{account}/tier-overrides"),
                json!({"tier": tier, "valid_from": "2027-01-01", "reason": "test placement"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
}

#[tokio::test]
async fn three_equal_requests_split_34_33_33_and_commit_records_the_plan() {
    // Proves 100 units over three equal requests in one class give 34 / 33 / 33 with the
    // extra unit to the lowest account_id, the plan reports tier, priority, fill rate and
    // reason, commit with the plan's hash records it, and the allocations read it back.
    let app = TestApp::new().await;
    for id in ["KA-3", "KA-1", "KA-2"] {
        app.open_account(id, "CNY").await;
    }
    declare(&app, season("CNY27", &[("S1", 100)], &[])).await;
    request(
        &app,
        "CNY27",
        &[("KA-3", "S1", 60), ("KA-1", "S1", 60), ("KA-2", "S1", 60)],
    )
    .await;
    let body = plan(&app, "CNY27", json!({})).await;
    let sku = &body["skus"][0];
    assert_eq!(
        (
            sku["capacity"].as_u64(),
            sku["requested"].as_u64(),
            sku["allocated"].as_u64()
        ),
        (Some(100), Some(180), Some(100))
    );
    assert_eq!(
        allocated(sku),
        vec![
            ("KA-1".into(), 34),
            ("KA-2".into(), 33),
            ("KA-3".into(), 33)
        ]
    );
    let line = &sku["lines"][0];
    assert_eq!(line["tier"], "unclassified");
    assert_eq!(line["priority"], 100);
    assert_eq!(line["fill_pct"], "56.67");
    assert!(
        line["reason"].as_str().unwrap().contains("pro rata"),
        "{line}"
    );
    assert_eq!(body["what_if"], false);
    let hash = body["plan_hash"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 64);
    assert_eq!(
        plan(&app, "CNY27", json!({})).await["plan_hash"],
        hash,
        "same inputs, same hash"
    );

    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/CNY27/commit",
            json!({"plan_hash": hash}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["plan_hash"], hash);
    let committed = app.audit_events("type=AllocationCommitted").await;
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0]["stream"], "season/CNY27");

    let reply = app
        .get(
            Role::Auditor,
            "/v1/seasons/CNY27/allocations?account_id=KA-2",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(allocated(&reply.body["skus"][0]), vec![("KA-2".into(), 33)]);
    let reply = app.get(Role::Auditor, "/v1/seasons/CNY27").await;
    assert_eq!(reply.body["status"], "committed");
    assert_eq!(reply.body["plan_hash"], hash);
    assert_eq!(reply.body["products"][0]["requested"], 180);

    // A committed season no longer changes.
    let head = app.head();
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/CNY27/requests",
            json!({"requests": [{"account_id": "KA-1", "sku": "S1", "quantity": 1}]}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "season_committed");
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/CNY27/commit",
            json!({"plan_hash": hash}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "season_committed");
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn classes_are_served_in_priority_order_and_reserves_are_honoured() {
    // Proves priority comes from the tier on starts_on, strategic is served before key
    // before general, and a general class reserve of 10 % is kept from higher classes.
    let app = TestApp::new().await;
    for id in ["KA-S", "KA-K", "KA-G"] {
        app.open_account(id, "CNY").await;
    }
    tiers(&app, &[("KA-S", "strategic"), ("KA-K", "key")]).await;
    declare(
        &app,
        season("PEAK", &[("S1", 200), ("S2", 1000)], &[(3, "10")]),
    )
    .await;
    request(
        &app,
        "PEAK",
        &[
            ("KA-S", "S1", 150),
            ("KA-K", "S1", 150),
            ("KA-G", "S1", 150),
            ("KA-S", "S2", 100),
            ("KA-G", "S2", 100),
        ],
    )
    .await;
    let body = plan(&app, "PEAK", json!({})).await;
    let s1 = &body["skus"][0];
    // Reserve for priority 3: floor(200 × 10 %) = 20; pool 180: strategic takes 150, key 30.
    assert_eq!(
        allocated(s1),
        vec![
            ("KA-S".into(), 150),
            ("KA-K".into(), 30),
            ("KA-G".into(), 20)
        ]
    );
    let tiers: Vec<(&str, u64)> = s1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["tier"].as_str().unwrap(), l["priority"].as_u64().unwrap()))
        .collect();
    assert_eq!(tiers, vec![("strategic", 1), ("key", 2), ("general", 3)]);
    assert!(
        s1["lines"][2]["reason"]
            .as_str()
            .unwrap()
            .starts_with("reserve"),
        "{s1}"
    );
    assert_eq!(s1["classes"][2]["reserved"], 20);
    let s2 = &body["skus"][1];
    assert_eq!(
        allocated(s2),
        vec![("KA-S".into(), 100), ("KA-G".into(), 100)]
    );
    assert_eq!(s2["lines"][0]["fill_pct"], "100.00");
    for sku in body["skus"].as_array().unwrap() {
        let total: u64 = allocated(sku).iter().map(|(_, units)| units).sum();
        assert!(total <= sku["capacity"].as_u64().unwrap());
        for line in sku["lines"].as_array().unwrap() {
            assert!(line["allocated"].as_u64() <= line["requested"].as_u64());
        }
    }
}

#[tokio::test]
async fn a_stale_plan_hash_is_refused_and_what_if_plans_are_not_committable() {
    // Proves a plan reviewed before a new request, a withdrawal, a capacity revision or a
    // tier change is refused with 409 stale_plan and nothing written; a what-if plan with a
    // capacity override reports what_if and its hash is not the season's.
    let app = TestApp::new().await;
    for id in ["KA-1", "KA-2"] {
        app.open_account(id, "CNY").await;
    }
    declare(&app, season("SPRING", &[("S1", 100)], &[])).await;
    let recorded = request(&app, "SPRING", &[("KA-1", "S1", 80), ("KA-2", "S1", 80)]).await;
    assert_eq!(
        recorded["request_ids"],
        json!(["SPRING-000001", "SPRING-000002"])
    );
    let reviewed = plan(&app, "SPRING", json!({})).await["plan_hash"].clone();

    let what_if = plan(
        &app,
        "SPRING",
        json!({"capacities": [{"sku": "S1", "capacity": 160}]}),
    )
    .await;
    assert_eq!(what_if["what_if"], true);
    assert_eq!(
        allocated(&what_if["skus"][0]),
        vec![("KA-1".into(), 80), ("KA-2".into(), 80)]
    );
    assert_ne!(what_if["plan_hash"], reviewed);
    let head = app.head();
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/commit",
            json!({"plan_hash": what_if["plan_hash"]}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "stale_plan");
    assert_eq!(app.head(), head);

    // A new request makes the reviewed plan stale.
    request(&app, "SPRING", &[("KA-2", "S1", 10)]).await;
    let head = app.head();
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/commit",
            json!({"plan_hash": reviewed}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "stale_plan");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("plan_hash is now"),
        "{}",
        reply.text
    );
    assert_eq!(app.head(), head, "a stale commit writes nothing");

    // Withdrawing it brings the same plan, and the same hash, back.
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/requests/SPRING-000003/withdraw",
            json!({"reason": "entered twice"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["status"], "withdrawn");
    assert_eq!(plan(&app, "SPRING", json!({})).await["plan_hash"], reviewed);
    let again = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/requests/SPRING-000003/withdraw",
            json!({}),
        )
        .await;
    assert_problem(&again, StatusCode::CONFLICT, "request_withdrawn");

    // A capacity revision changes the plan.
    let reply = app
        .send(
            axum::http::Method::PUT,
            "/v1/seasons/SPRING/capacity",
            Some(app.token(Role::Planner)),
            &[("content-type", "application/json")],
            json!({"products": [{"sku": "S1", "capacity": 120}], "reason": "second ship"})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["products"][0]["capacity"], 120);
    assert_eq!(reply.body["products"][0]["declared_capacity"], 100);
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/commit",
            json!({"plan_hash": reviewed}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "stale_plan");

    // A tier change before starts_on changes the priorities, and so the plan.
    let current = plan(&app, "SPRING", json!({})).await["plan_hash"].clone();
    tiers(&app, &[("KA-2", "strategic")]).await;
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/commit",
            json!({"plan_hash": current}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "stale_plan");
    let fresh = plan(&app, "SPRING", json!({})).await;
    assert_eq!(allocated(&fresh["skus"][0])[0], ("KA-2".into(), 80));
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/SPRING/commit",
            json!({"plan_hash": fresh["plan_hash"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn bad_seasons_and_requests_are_refused_and_write_nothing() {
    // Proves the stable codes: reserves over 100 %, duplicate skus, capacity and quantity
    // bounds, unknown skus and accounts per request line, unknown seasons and requests,
    // 403 for roles without the right, and nothing written on any refusal.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let head = app.head();
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons",
            season("BAD", &[("S1", 10), ("S1", 5)], &[(1, "60"), (2, "50")]),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let codes: Vec<String> = error_triples(&reply)
        .into_iter()
        .map(|(_, _, c)| c)
        .collect();
    assert!(codes.contains(&"duplicate_sku".to_string()), "{codes:?}");
    assert!(codes.iter().any(|c| c.contains("reserve")), "{codes:?}");
    let reply = app
        .post(Role::Planner, "/v1/seasons", season("BAD", &[], &[]))
        .await;
    assert_eq!(error_triples(&reply)[0].2, "missing_products");
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons",
            season("BAD", &[("S1", 10_000_000_000_000)], &[]),
        )
        .await;
    assert_eq!(error_triples(&reply)[0].2, "invalid_quantity");
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons",
            json!({"season_id": "BAD", "name": "x", "starts_on": "2027-01-01", "ends_on": "2027-01-31",
                "products": [{"sku": "S1", "capacity": 1.5}]}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = app
        .post(Role::Manager, "/v1/seasons", season("X", &[("S1", 1)], &[]))
        .await;
    assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.head(), head);

    declare(&app, season("OK", &[("S1", 10)], &[])).await;
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons",
            season("OK", &[("S1", 10)], &[]),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "season_exists");
    let head = app.head();
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/OK/requests",
            json!({"requests": [
                {"account_id": "KA-1", "sku": "S1", "quantity": 5},
                {"account_id": "KA-404", "sku": "S1", "quantity": 5},
                {"account_id": "KA-1", "sku": "S9", "quantity": 5},
                {"account_id": "KA-1", "sku": "S1", "quantity": 0},
                {"account_id": "KA-1", "sku": "S1", "quantity": 1, "request_id": "R1"},
                {"account_id": "KA-1", "sku": "S1", "quantity": 1, "request_id": "R1"}
            ]}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![
            (Some(1), "account_id".into(), "account_not_found".into()),
            (Some(2), "sku".into(), "unknown_sku".into()),
            (Some(3), "quantity".into(), "invalid_quantity".into()),
            (Some(5), "request_id".into(), "request_exists".into()),
        ]
    );
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/OK/requests",
            json!({"requests": []}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "empty_batch");
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/NOPE/requests",
            json!({"requests": [{"account_id": "KA-1", "sku": "S1", "quantity": 1}]}),
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "season_not_found");
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/OK/requests/R404/withdraw",
            json!({}),
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "request_not_found");
    let reply = app
        .post(
            Role::Planner,
            "/v1/seasons/OK/plan",
            json!({"capacities": [{"sku": "S9", "capacity": 5}]}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let reply = app
        .post(Role::Auditor, "/v1/seasons/OK/plan", json!({}))
        .await;
    assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
    let reply = app.get(Role::Auditor, "/v1/seasons/OK/allocations").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "not_committed");
    let reply = app
        .send(
            axum::http::Method::PUT,
            "/v1/seasons/OK/capacity",
            Some(app.token(Role::Planner)),
            &[("content-type", "application/json")],
            json!({"products": [{"sku": "S1", "capacity": 10}]})
                .to_string()
                .into_bytes(),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "capacity_unchanged",
    );
    assert_eq!(app.head(), head, "refusals write nothing");
}

/// Builds a ledger with 4 accounts (two in tier key by sales), one season with two skus,
/// and the requests in the given order; returns the plan.
async fn plan_for(requests: &[(usize, usize, u64)]) -> Value {
    let app = TestApp::new().await;
    let accounts = ["KA-1", "KA-2", "KA-3", "KA-4"];
    for id in accounts {
        app.open_account(id, "CNY").await;
    }
    tiers(&app, &[]).await;
    sell(
        &app,
        vec![
            sale_on("KA-2", "I2", 1, "200000.00", "1.00", "2026-06-01"),
            sale_on("KA-4", "I4", 1, "200000.00", "1.00", "2026-06-01"),
        ],
    )
    .await;
    declare(&app, season("P", &[("S1", 97), ("S2", 13)], &[(3, "15")])).await;
    let skus = ["S1", "S2"];
    let list: Vec<(&str, &str, u64)> = requests
        .iter()
        .map(|(a, s, q)| (accounts[*a], skus[*s], *q))
        .collect();
    if !list.is_empty() {
        request(&app, "P", &list).await;
    }
    plan(&app, "P", json!({})).await
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Proves the plan, hash included, is the same whatever order the requests arrive in,
    /// and never gives more than capacity or than an account asked.
    #[test]
    fn the_plan_does_not_depend_on_request_order(
        (requests, order) in proptest::collection::vec((0usize..4, 0usize..2, 1u64..60), 1..12)
            .prop_flat_map(|r| { let n = r.len(); (Just(r), Just((0..n).collect::<Vec<_>>()).prop_shuffle()) })
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let shuffled: Vec<_> = order.iter().map(|i| requests[*i]).collect();
        let (a, b) = runtime.block_on(async { (plan_for(&requests).await, plan_for(&shuffled).await) });
        prop_assert_eq!(&a["plan_hash"], &b["plan_hash"]);
        prop_assert_eq!(&a["skus"], &b["skus"]);
        for sku in a["skus"].as_array().unwrap() {
            let total: u64 = allocated(sku).iter().map(|(_, u)| u).sum();
            prop_assert!(total <= sku["capacity"].as_u64().unwrap());
            for line in sku["lines"].as_array().unwrap() {
                prop_assert!(line["allocated"].as_u64() <= line["requested"].as_u64());
            }
        }
    }
}
