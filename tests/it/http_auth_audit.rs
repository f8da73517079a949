//! Authentication and role rights on every endpoint, token administration, the audit
//! trail (filters, paging, chain links, actors), and the token-free system endpoints.

use axum::http::{Method, StatusCode};
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, sale, sale_on, Reply, TestApp};

/// What an endpoint needs, as DESIGN §6 states it (written out here rather than taken
/// from the implementation, so the test checks the code against the contract).
#[derive(Clone, Copy, Debug)]
enum Need {
    /// Every role but ingest.
    Read,
    /// manager and admin.
    ManageAccounts,
    /// ingest and admin.
    Ingest,
    /// admin only.
    Tokens,
    /// Tier policy and overrides: admin only.
    Policy,
    /// Discounts: manager and admin.
    Discounts,
    /// Rebate programs, enrollments, settlements, contest awards paid: finance and admin.
    Programs,
    /// Contests: manager and admin.
    Contests,
    /// Seasons, requests, plan, commit: planner and admin.
    Seasons,
    /// A backup of the whole ledger: admin only.
    Backup,
}

fn allowed(need: Need, role: Role) -> bool {
    let roles: &[Role] = match need {
        Need::Read => &[
            Role::Auditor,
            Role::Manager,
            Role::Finance,
            Role::Planner,
            Role::Admin,
        ],
        Need::ManageAccounts => &[Role::Manager, Role::Admin],
        Need::Ingest => &[Role::Ingest, Role::Admin],
        Need::Tokens | Need::Policy | Need::Backup => &[Role::Admin],
        Need::Discounts | Need::Contests => &[Role::Manager, Role::Admin],
        Need::Programs => &[Role::Finance, Role::Admin],
        Need::Seasons => &[Role::Planner, Role::Admin],
    };
    roles.contains(&role)
}

/// One call of the matrix.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    need: Need,
}

/// Every protected endpoint, with a body that succeeds when made by `role` (each role
/// works on its own account and token names, so the calls do not collide).
fn calls(role: Role) -> Vec<Call> {
    let call = |method: Method, path: String, body: Option<Value>, need: Need| Call {
        method,
        path,
        body,
        need,
    };
    let account = format!("ACC-{role}");
    vec![
        call(
            Method::POST,
            "/v1/accounts".into(),
            Some(
                json!({"account_id": format!("NEW-{role}"), "name": "New", "scope": "local", "currency": "CNY"}),
            ),
            Need::ManageAccounts,
        ),
        call(Method::GET, "/v1/accounts".into(), None, Need::Read),
        call(
            Method::GET,
            format!("/v1/accounts/{account}"),
            None,
            Need::Read,
        ),
        call(
            Method::GET,
            format!("/v1/accounts/{account}?known_at=2999-01-01T00:00:00Z"),
            None,
            Need::Read,
        ),
        call(
            Method::PATCH,
            format!("/v1/accounts/{account}"),
            Some(json!({"name": "Renamed"})),
            Need::ManageAccounts,
        ),
        call(
            Method::POST,
            format!("/v1/accounts/{account}/stage"),
            Some(json!({"stage": "basic"})),
            Need::ManageAccounts,
        ),
        call(
            Method::POST,
            "/v1/sales".into(),
            Some(json!({"lines": [sale(&account, "INV-2", 1, "5.00")]})),
            Need::Ingest,
        ),
        call(
            Method::POST,
            "/v1/returns".into(),
            Some(
                json!({"lines": [{"account_id": account, "return_id": "R1", "invoice_id": "INV-1", "line": 1, "quantity": "1", "net_amount": "1.00", "occurred_on": "2026-03-20"}]}),
            ),
            Need::Ingest,
        ),
        // Everything that works on the open account comes before it is closed.
    ]
    .into_iter()
    .chain(incentive_calls(role))
    .chain([
        call(
            Method::POST,
            format!("/v1/accounts/{account}/close"),
            Some(json!({"reason": "test"})),
            Need::ManageAccounts,
        ),
        call(
            Method::GET,
            "/v1/audit/events?limit=5".into(),
            None,
            Need::Read,
        ),
        call(Method::GET, "/v1/audit/head".into(), None, Need::Read),
        call(Method::GET, "/v1/audit/verify".into(), None, Need::Read),
        call(
            Method::GET,
            "/v1/audit/projections".into(),
            None,
            Need::Read,
        ),
        call(Method::GET, "/v1/tokens".into(), None, Need::Tokens),
        call(Method::GET, "/v1/admin/backup".into(), None, Need::Backup),
        call(
            Method::POST,
            "/v1/tokens".into(),
            Some(json!({"name": format!("new-{role}"), "role": "auditor"})),
            Need::Tokens,
        ),
        call(
            Method::POST,
            format!("/v1/tokens/victim-{role}/revoke"),
            Some(json!({"reason": "test"})),
            Need::Tokens,
        ),
    ])
    .collect()
}

/// The calls of tiers, discounts, reports, rebates, settlements, contests and seasons for
/// `role`, on the things `app_for_matrix` prepared for it.
fn incentive_calls(role: Role) -> Vec<Call> {
    let call = |method: Method, path: String, body: Option<Value>, need: Need| Call {
        method,
        path,
        body,
        need,
    };
    let get = |path: String| call(Method::GET, path, None, Need::Read);
    let account = format!("ACC-{role}");
    let program = format!("PRG-{role}");
    vec![
        // Tiers (a policy and an override effective in 2030 change nothing measured here).
        call(
            Method::POST,
            "/v1/tier-policy".into(),
            Some(json!({"effective_from": "2030-01-01", "tiers": matrix_tiers()})),
            Need::Policy,
        ),
        get("/v1/tier-policy".into()),
        get(format!(
            "/v1/accounts/{account}/entitlements?as_of=2026-06-30"
        )),
        get(format!(
            "/v1/accounts/{account}/sales-summary?from=2026-01&to=2026-12"
        )),
        call(
            Method::POST,
            format!("/v1/accounts/{account}/tier-overrides"),
            Some(json!({"tier": "gold", "valid_from": "2030-01-01", "reason": "matrix"})),
            Need::Policy,
        ),
        get(format!("/v1/accounts/{account}/tier-overrides")),
        call(
            Method::POST,
            format!("/v1/accounts/{account}/tier-overrides/ovr-1/revoke"),
            Some(json!({"reason": "matrix"})),
            Need::Policy,
        ),
        // Discounts.
        call(
            Method::POST,
            "/v1/discounts".into(),
            Some(
                json!({"discount_id": format!("DSC-{role}"), "account_id": account, "percent": "1",
                "scope": "all", "valid_from": "2026-06-01", "reason": "matrix"}),
            ),
            Need::Discounts,
        ),
        get(format!("/v1/discounts/DREV-{role}")),
        call(
            Method::POST,
            format!("/v1/discounts/DREV-{role}/revoke"),
            Some(json!({"effective_on": "2026-07-01"})),
            Need::Discounts,
        ),
        get(format!("/v1/accounts/{account}/discounts?on=2026-06-15")),
        // Reports.
        get("/v1/reports/pareto?as_of=2026-06-30&currency=CNY".into()),
        get("/v1/reports/liability?as_of=2026-12-31".into()),
        get("/v1/reports/liability?as_of=2026-12-31&format=csv".into()),
        // Rebate programs.
        call(
            Method::POST,
            "/v1/rebate-programs".into(),
            Some(matrix_program(&format!("NEWPRG-{role}"))),
            Need::Programs,
        ),
        get("/v1/rebate-programs".into()),
        get(format!("/v1/rebate-programs/{program}")),
        call(
            Method::POST,
            format!("/v1/rebate-programs/ENR-{role}/enrollments"),
            Some(json!({"account_id": account, "effective_from": "2026-01-01"})),
            Need::Programs,
        ),
        get(format!("/v1/rebate-programs/ENR-{role}/enrollments")),
        call(
            Method::POST,
            format!("/v1/rebate-programs/ENR-{role}/enrollments/{account}/end"),
            Some(json!({"effective_to": "2026-12-31"})),
            Need::Programs,
        ),
        call(
            Method::POST,
            format!("/v1/rebate-programs/END-{role}/end"),
            Some(json!({"ends_on": "2026-06-30", "reason": "matrix"})),
            Need::Programs,
        ),
        get(format!(
            "/v1/rebate-programs/{program}/accruals?period=2026-Q1"
        )),
        get(format!("/v1/accounts/{account}/rebates?period=2026-Q1")),
        // Settlements (the ones to approve and reject were proposed by another actor).
        call(
            Method::POST,
            "/v1/settlements".into(),
            Some(
                json!({"program_id": program, "account_id": account, "period": "2026-Q3",
                "kind": "final", "reference": "CN-matrix"}),
            ),
            Need::Programs,
        ),
        get(format!("/v1/settlements/{program}.{account}.2026-Q1.1")),
        get(format!(
            "/v1/settlements/{program}.{account}.2026-Q1.1/explain"
        )),
        call(
            Method::POST,
            format!("/v1/settlements/{program}.{account}.2026-Q1.1/approve"),
            Some(json!({"note": "matrix"})),
            Need::Programs,
        ),
        call(
            Method::POST,
            format!("/v1/settlements/{program}.{account}.2026-Q2.1/reject"),
            Some(json!({"reason": "matrix"})),
            Need::Programs,
        ),
        // Contests.
        call(
            Method::POST,
            "/v1/contests".into(),
            Some(matrix_contest(&format!("NEWCON-{role}"))),
            Need::Contests,
        ),
        get("/v1/contests".into()),
        get(format!("/v1/contests/CLOSE-{role}")),
        get(format!(
            "/v1/contests/CLOSE-{role}/standings?as_of=2026-03-31"
        )),
        call(
            Method::POST,
            format!("/v1/contests/CLOSE-{role}/close"),
            Some(json!({})),
            Need::Contests,
        ),
        get("/v1/contests/PAID/awards".into()),
        call(
            Method::POST,
            format!("/v1/contests/PAID/awards/{account}/paid"),
            Some(json!({"reference": "PAY-matrix"})),
            Need::Programs,
        ),
        // Seasons.
        call(
            Method::POST,
            "/v1/seasons".into(),
            Some(matrix_season(&format!("NEWSEA-{role}"))),
            Need::Seasons,
        ),
        get("/v1/seasons".into()),
        get(format!("/v1/seasons/SEA-{role}")),
        call(
            Method::PUT,
            format!("/v1/seasons/SEA-{role}/capacity"),
            Some(json!({"products": [{"sku": "S1", "capacity": 77}], "reason": "matrix"})),
            Need::Seasons,
        ),
        call(
            Method::POST,
            format!("/v1/seasons/SEA-{role}/requests"),
            Some(json!({"requests": [{"account_id": account, "sku": "S1", "quantity": 5}]})),
            Need::Seasons,
        ),
        get(format!("/v1/seasons/SEA-{role}/requests")),
        call(
            Method::POST,
            format!("/v1/seasons/SEA-{role}/requests/WR/withdraw"),
            Some(json!({"reason": "matrix"})),
            Need::Seasons,
        ),
        call(
            Method::POST,
            format!("/v1/seasons/SEA-{role}/plan"),
            Some(json!({})),
            Need::Seasons,
        ),
        call(
            Method::POST,
            format!("/v1/seasons/COM-{role}/commit"),
            Some(json!({"plan_hash": "COMMIT_HASH"})),
            Need::Seasons,
        ),
        get("/v1/seasons/DONE/allocations".into()),
    ]
}

/// gold (≥ 1,000,000) and basic tiers; basic allows 5 % discounts and contests.
fn matrix_tiers() -> Value {
    json!([
        {"name": "gold", "criteria": {"min_net_revenue": "1000000"},
         "entitlements": {"max_discount_pct": "10", "supply_priority": 1, "contest_eligible": true}},
        {"name": "basic",
         "entitlements": {"max_discount_pct": "5", "supply_priority": 2, "contest_eligible": true}}
    ])
}

/// A quarterly CNY program over 2026 paying 2 % from the first yuan.
fn matrix_program(id: &str) -> Value {
    json!({"program_id": id, "name": "Matrix", "currency": "CNY", "period": "quarterly",
        "starts_on": "2026-01-01", "ends_on": "2026-12-31", "basis": "net_revenue",
        "method": "all_units", "tiers": [{"from": "0", "rate": "2"}]})
}

/// A Q1 2026 CNY net-revenue contest with one cash prize of 60.00.
fn matrix_contest(id: &str) -> Value {
    json!({"contest_id": id, "name": "Matrix", "currency": "CNY", "starts_on": "2026-01-01",
        "ends_on": "2026-03-31", "metric": "net_revenue",
        "prizes": [{"rank": 1, "kind": "cash", "amount": "60.00"}]})
}

/// A 2027 season of one sku S1 with 100 units.
fn matrix_season(id: &str) -> Value {
    json!({"season_id": id, "name": "Matrix", "starts_on": "2027-01-15", "ends_on": "2027-02-15",
        "products": [{"sku": "S1", "capacity": 100}]})
}

/// Sends a call with a raw Authorization header value (or none).
async fn send_call(app: &TestApp, call: &Call, authorization: Option<&str>) -> Reply {
    let mut headers = vec![];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    let body = match &call.body {
        Some(b) => {
            headers.push(("content-type", "application/json"));
            let mut text = b.to_string();
            if text.contains("COMMIT_HASH") {
                // The commit call sends the hash of the plan as it stands, as a planner would.
                let season = call.path.split('/').nth(3).expect("season id");
                let hash = kaledger::queries::seasons::plan(
                    &app.engine.read(),
                    season,
                    &std::collections::BTreeMap::new(),
                )
                .expect("plan")
                .plan_hash;
                text = text.replace("COMMIT_HASH", &hash);
            }
            text.into_bytes()
        }
        None => Vec::new(),
    };
    app.send(call.method.clone(), &call.path, None, &headers, body)
        .await
}

/// Asserts a setup step succeeded.
#[track_caller]
fn ok(reply: Reply) -> Reply {
    assert!(reply.status.is_success(), "{}", reply.text);
    reply
}

/// An app with, for every role, an account ACC-{role} holding one sale (INV-1 line 1)
/// and a spare token victim-{role}; plus what the incentive calls work on: a tier policy,
/// an override and a discount to revoke, programs with two settlements proposed by another
/// actor, contests to close and a closed one with a cash award for every account, seasons
/// with a request to withdraw and one to commit, and a committed season.
async fn app_for_matrix() -> TestApp {
    let app = TestApp::new().await;
    ok(app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2024-01-01", "tiers": matrix_tiers()}),
        )
        .await);
    for role in Role::ALL {
        app.open_account(&format!("ACC-{role}"), "CNY").await;
        let reply = app
            .post(
                Role::Ingest,
                "/v1/sales",
                json!({"lines": [sale(&format!("ACC-{role}"), "INV-1", 1, "10.00")]}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let reply = app
            .post(
                Role::Admin,
                "/v1/tokens",
                json!({"name": format!("victim-{role}"), "role": "auditor"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        prepare_incentives(&app, *role).await;
    }
    // Every account sold 10.00 in Q1 2026: all tie for the one 60.00 prize, 10.00 each.
    ok(app
        .post(Role::Manager, "/v1/contests", matrix_contest("PAID"))
        .await);
    ok(app
        .post(Role::Manager, "/v1/contests/PAID/close", json!({}))
        .await);
    ok(app
        .post(Role::Planner, "/v1/seasons", matrix_season("DONE"))
        .await);
    ok(app
        .post(
            Role::Planner,
            "/v1/seasons/DONE/requests",
            json!({"requests": [{"account_id": "ACC-admin", "sku": "S1", "quantity": 5}]}),
        )
        .await);
    let hash = kaledger::queries::seasons::plan(
        &app.engine.read(),
        "DONE",
        &std::collections::BTreeMap::new(),
    )
    .expect("plan")
    .plan_hash;
    ok(app
        .post(
            Role::Planner,
            "/v1/seasons/DONE/commit",
            json!({"plan_hash": hash}),
        )
        .await);
    app
}

/// What the incentive calls of `role` work on.
async fn prepare_incentives(app: &TestApp, role: Role) {
    let account = format!("ACC-{role}");
    let program = format!("PRG-{role}");
    ok(app
        .post(
            Role::Ingest,
            "/v1/sales",
            json!({"lines": [
                sale_on(&account, "INV-Q2", 1, "20.00", "1.00", "2026-05-15"),
                sale_on(&account, "INV-Q3", 1, "30.00", "1.00", "2026-08-15")
            ]}),
        )
        .await);
    ok(app
        .post(
            Role::Admin,
            &format!("/v1/accounts/{account}/tier-overrides"),
            json!({"tier": "gold", "valid_from": "2030-01-01", "reason": "matrix"}),
        )
        .await);
    ok(app
        .post(
            Role::Manager,
            "/v1/discounts",
            json!({"discount_id": format!("DREV-{role}"), "account_id": account, "percent": "1",
                "scope": "all", "valid_from": "2026-06-01", "reason": "matrix"}),
        )
        .await);
    for id in [
        program.clone(),
        format!("ENR-{role}"),
        format!("END-{role}"),
    ] {
        ok(app
            .post(Role::Finance, "/v1/rebate-programs", matrix_program(&id))
            .await);
    }
    ok(app
        .post(
            Role::Finance,
            &format!("/v1/rebate-programs/{program}/enrollments"),
            json!({"account_id": account, "effective_from": "2026-01-01"}),
        )
        .await);
    for period in ["2026-Q1", "2026-Q2"] {
        let asked = kaledger::queries::settlements::Proposal {
            program_id: program.to_string(),
            account_id: account.to_string(),
            period: period.parse().expect("a period"),
            kind: kaledger::rules::rebates::SettlementKind::Final,
            reference: "CN-setup".into(),
        };
        let today = chrono::Utc::now().date_naive();
        let proposal = kaledger::queries::settlements::proposal(
            &app.engine.read(),
            asked,
            "matrix-setup",
            today,
        )
        .expect("proposal");
        let command = kaledger::domain::Command::ProposeSettlement(proposal);
        let actor = kaledger::ledger::Actor {
            name: "matrix-setup".into(),
            role: "finance".into(),
        };
        app.engine
            .submit(
                command,
                kaledger::engine::WriteMeta::new(actor, None, &[], "setup".into()),
            )
            .await
            .expect("propose");
    }
    ok(app
        .post(
            Role::Manager,
            "/v1/contests",
            matrix_contest(&format!("CLOSE-{role}")),
        )
        .await);
    for season in [format!("SEA-{role}"), format!("COM-{role}")] {
        ok(app
            .post(Role::Planner, "/v1/seasons", matrix_season(&season))
            .await);
        ok(app
            .post(
                Role::Planner,
                &format!("/v1/seasons/{season}/requests"),
                json!({"requests": [{"request_id": "WR", "account_id": account, "sku": "S1", "quantity": 150}]}),
            )
            .await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_a_missing_or_bad_token() {
    // Proves every protected endpoint answers 401 unauthorized problem+json with
    // WWW-Authenticate: Bearer when the token is missing, unknown or malformed, and
    // writes nothing.
    let app = app_for_matrix().await;
    let head = app.head();
    let unknown = format!("Bearer kal_{}", "0".repeat(64));
    let admin_basic = format!("Basic {}", app.token(Role::Admin));
    let authorizations: Vec<Option<&str>> = vec![
        None,
        Some(&unknown),
        Some("Bearer "),
        Some("Bearer"),
        Some(&admin_basic),
        Some("kal_nothing"),
        Some("Bearer not a token"),
    ];
    for call in calls(Role::Admin) {
        for authorization in &authorizations {
            let reply = send_call(&app, &call, *authorization).await;
            assert_problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(
                reply
                    .headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "{} {} with {authorization:?}",
                call.method,
                call.path
            );
        }
    }
    assert_eq!(app.head(), head);
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    let lowercase = format!("bearer {}", app.token(Role::Auditor));
    let reply = app
        .send(
            Method::GET,
            "/v1/audit/head",
            None,
            &[("authorization", &lowercase)],
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_holds_exactly_its_rights() {
    // Proves the role matrix of DESIGN §6 on every endpoint: 403 forbidden (and nothing
    // written) for a role without the right, success for each role with it.
    let app = app_for_matrix().await;
    for role in Role::ALL {
        let token = format!("Bearer {}", app.token(*role));
        for call in calls(*role) {
            let head = app.head();
            let reply = send_call(&app, &call, Some(&token)).await;
            let what = format!("{role} {} {}: {}", call.method, call.path, reply.text);
            if allowed(call.need, *role) {
                assert!(reply.status.is_success(), "{what}");
                // The CSV report and the backup file are the answers that are not JSON.
                assert!(
                    reply.body.is_object()
                        || call.path.contains("format=csv")
                        || call.path == "/v1/admin/backup",
                    "{what}"
                );
            } else {
                assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
                assert_eq!(app.head(), head, "{what}");
            }
        }
    }
    // What the allowed calls wrote carries the caller as actor.
    let closed = app
        .get(Role::Auditor, "/v1/audit/events?type=AccountClosed")
        .await;
    let actors: Vec<&str> = closed.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actors, vec!["test-manager", "test-admin"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_issued_listed_and_revoked() {
    // Proves an admin issues a token shown once, lists tokens without their secret, and a
    // revoked token is refused with 401 from then on.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let reply = app
        .post(
            Role::Admin,
            "/v1/tokens",
            json!({"name": "erp-feed", "role": "ingest"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        (reply.body["name"].as_str(), reply.body["role"].as_str()),
        (Some("erp-feed"), Some("ingest"))
    );
    let token = reply.body["token"]
        .as_str()
        .expect("token shown once")
        .to_string();
    assert!(
        token.starts_with("kal_") && token.len() == 4 + 64,
        "{token}"
    );
    let bearer = format!("Bearer {token}");
    let sales = json!({"lines": [sale("KA-1", "INV-1", 1, "10.00")]})
        .to_string()
        .into_bytes();
    let reply = app
        .send(
            Method::POST,
            "/v1/sales",
            None,
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            sales.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let events = app.audit_events("type=SaleRecorded").await;
    assert_eq!(
        (
            events[0]["actor"].as_str(),
            events[0]["actor_role"].as_str()
        ),
        (Some("erp-feed"), Some("ingest"))
    );

    let list = app.get(Role::Admin, "/v1/tokens").await;
    assert_eq!(list.status, StatusCode::OK);
    let tokens = list.body["tokens"].as_array().expect("tokens");
    let feed = tokens
        .iter()
        .find(|t| t["name"] == "erp-feed")
        .expect("listed");
    assert_eq!(
        (feed["role"].as_str(), feed["created_by"].as_str()),
        (Some("ingest"), Some("test-admin"))
    );
    assert_eq!(feed["revoked_at"], Value::Null);
    assert!(
        !list.text.contains(&token) && !list.text.contains("kal_"),
        "the list must not show secrets"
    );
    assert!(
        !app.audit_events("")
            .await
            .iter()
            .any(|e| e.to_string().contains(&token)),
        "no event holds a token"
    );

    let head = app.head();
    let reply = app
        .post(
            Role::Admin,
            "/v1/tokens",
            json!({"name": "erp-feed", "role": "auditor"}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "token_exists");
    let reply = app
        .post(
            Role::Admin,
            "/v1/tokens",
            json!({"name": "bad name", "role": "auditor"}),
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
            "/v1/tokens",
            json!({"name": "x", "role": "superuser"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert_eq!(app.head(), head);

    let reply = app
        .post(
            Role::Admin,
            "/v1/tokens/erp-feed/revoke",
            json!({"reason": "rotated"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.body["revoked_at"].is_string(), "{}", reply.text);
    let head = app.head();
    let reply = app
        .send(
            Method::POST,
            "/v1/sales",
            None,
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            sales,
        )
        .await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.head(), head);
    let reply = app
        .post(Role::Admin, "/v1/tokens/erp-feed/revoke", json!({}))
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "token_revoked");
    let reply = app
        .post(Role::Admin, "/v1/tokens/nobody/revoke", json!({}))
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "token_not_found");
    assert_eq!(app.head(), head);
    let revoked = app.audit_events("type=TokenRevoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        (revoked[0]["stream"].as_str(), revoked[0]["actor"].as_str()),
        (Some("system"), Some("test-admin"))
    );
    assert_eq!(revoked[0]["data"]["name"], "erp-feed");

    // An admin may revoke its own token; it is refused right after.
    let reply = app
        .post(Role::Admin, "/v1/tokens/test-admin/revoke", json!({}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app.get(Role::Admin, "/v1/tokens").await;
    assert_problem(&reply, StatusCode::UNAUTHORIZED, "unauthorized");
}

/// A small history: two accounts, five sales, one update, one return.
async fn app_with_history() -> TestApp {
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    app.open_account("KA-2", "EUR").await;
    let lines = vec![
        sale("KA-1", "INV-1", 1, "10.00"),
        sale("KA-1", "INV-1", 2, "20.00"),
        sale("KA-2", "INV-1", 1, "30.00"),
        sale("KA-1", "INV-2", 1, "40.00"),
        sale("KA-2", "INV-2", 1, "50.00"),
    ];
    let reply = app
        .post(Role::Ingest, "/v1/sales", json!({"lines": lines}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = app
        .patch(Role::Manager, "/v1/accounts/KA-1", json!({"name": "Metro"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let reply = app
        .post(Role::Ingest, "/v1/returns", json!({"lines": [{"account_id": "KA-2", "return_id": "R1", "invoice_id": "INV-1", "line": 1, "quantity": "1", "net_amount": "3.00", "occurred_on": "2026-03-20"}]}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    app
}

fn positions(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["position"].as_u64().unwrap_or(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_filter_and_page_over_every_event_once() {
    // Proves the events list filters by stream, type and after, honours limit, and paging
    // through next_after visits every matching event exactly once, in position order.
    let app = app_with_history().await;
    let head = app.head();
    assert_eq!(head, 6 + 2 + 5 + 1 + 1);
    let all = app.audit_events("").await;
    assert_eq!(positions(&all), (1..=head).collect::<Vec<_>>());

    // Page by 2: every event once.
    let mut paged = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let reply = app
            .get(
                Role::Auditor,
                &format!("/v1/audit/events?limit=2&after={after}"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let events = reply.body["events"].as_array().expect("events").clone();
        assert!(events.len() <= 2);
        pages += 1;
        paged.extend(events);
        match reply.body["next_after"].as_u64() {
            Some(next) => {
                assert_eq!(
                    Some(next),
                    paged.last().and_then(|e| e["position"].as_u64())
                );
                after = next;
            }
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_eq!(pages, head.div_ceil(2));
    // Without a limit, the default page holds them all here; an exact page has no cursor.
    let reply = app
        .get(Role::Auditor, &format!("/v1/audit/events?limit={head}"))
        .await;
    assert_eq!(
        reply.body["events"].as_array().map(Vec::len),
        Some(head as usize)
    );
    assert_eq!(reply.body["next_after"], Value::Null);

    let stream = app.audit_events("stream=account/KA-1").await;
    assert!(stream.iter().all(|e| e["stream"] == "account/KA-1"));
    let versions: Vec<u64> = stream
        .iter()
        .map(|e| e["version"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4, 5]);
    let types: Vec<&str> = stream
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        vec![
            "AccountOpened",
            "SaleRecorded",
            "SaleRecorded",
            "SaleRecorded",
            "AccountUpdated"
        ]
    );

    let sales = app.audit_events("type=SaleRecorded").await;
    assert_eq!(positions(&sales), vec![9, 10, 11, 12, 13]);
    let both = app
        .audit_events("stream=account/KA-2&type=SaleRecorded")
        .await;
    assert_eq!(positions(&both), vec![11, 13]);
    let system = app.audit_events("stream=system").await;
    assert_eq!(system.len(), 6);
    assert!(system
        .iter()
        .all(|e| e["type"] == "TokenIssued" && e["actor"] == "test-setup"));
    assert!(app.audit_events("stream=account/KA-404").await.is_empty());
    assert!(app.audit_events("type=TokenRevoked").await.is_empty());

    // after and limit together, with each filter.
    let reply = app
        .get(
            Role::Auditor,
            "/v1/audit/events?type=SaleRecorded&after=10&limit=2",
        )
        .await;
    assert_eq!(
        positions(reply.body["events"].as_array().expect("events")),
        vec![11, 12]
    );
    assert_eq!(reply.body["next_after"], 12);
    let reply = app
        .get(
            Role::Auditor,
            "/v1/audit/events?stream=account/KA-1&type=SaleRecorded&limit=1&after=9",
        )
        .await;
    assert_eq!(
        positions(reply.body["events"].as_array().expect("events")),
        vec![10]
    );
    assert_eq!(reply.body["next_after"], 10);
    let reply = app
        .get(
            Role::Auditor,
            "/v1/audit/events?stream=account/KA-1&type=SaleRecorded&limit=1&after=10",
        )
        .await;
    assert_eq!(
        positions(reply.body["events"].as_array().expect("events")),
        vec![12]
    );
    assert_eq!(reply.body["next_after"], Value::Null);
    let reply = app
        .get(Role::Auditor, &format!("/v1/audit/events?after={head}"))
        .await;
    assert_eq!(reply.body, json!({"events": [], "next_after": null}));

    for (query, code) in [
        ("type=SaleMade", "invalid_query"),
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("after=-1", "invalid_query"),
        ("colour=red", "invalid_query"),
        ("known_at=now", "invalid_known_at"),
    ] {
        let reply = app
            .get(Role::Auditor, &format!("/v1/audit/events?{query}"))
            .await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_links_every_event_and_verifies() {
    // Proves each event's prev_hash is the previous event's hash, the head is the last
    // event, verify recomputes the chain to the head, and recorded_at strictly increases.
    let app = app_with_history().await;
    let events = app.audit_events("").await;
    let hex64 = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    assert!(events
        .iter()
        .all(|e| hex64(&e["hash"]) && hex64(&e["prev_hash"])));
    for pair in events.windows(2) {
        assert_eq!(
            pair[1]["prev_hash"], pair[0]["hash"],
            "chain broken at {}",
            pair[1]["position"]
        );
        assert!(
            pair[1]["recorded_at"].as_str() > pair[0]["recorded_at"].as_str(),
            "recorded_at must increase"
        );
        assert_ne!(pair[1]["event_id"], pair[0]["event_id"]);
    }
    let mut hashes: Vec<&str> = events
        .iter()
        .map(|e| e["hash"].as_str().unwrap_or(""))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), events.len(), "hashes are unique");
    assert!(events.iter().all(|e| e["schema_version"] == 1));

    let last = events.last().expect("events");
    let head = app.get(Role::Auditor, "/v1/audit/head").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(
        head.body,
        json!({"position": last["position"], "hash": last["hash"], "recorded_at": last["recorded_at"]})
    );
    let verify = app.get(Role::Auditor, "/v1/audit/verify").await;
    assert_eq!(verify.status, StatusCode::OK);
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    assert_eq!(verify.body["verified_through"], last["position"]);
    assert_eq!(verify.body["head_hash"], last["hash"]);
    let projections = app.get(Role::Auditor, "/v1/audit/projections").await;
    assert_eq!(projections.body["through_position"], last["position"]);
    assert!(hex64(&projections.body["digest"]), "{}", projections.text);
    // Reading changes nothing: the digest is stable.
    assert_eq!(
        app.get(Role::Finance, "/v1/audit/projections").await.body,
        projections.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_record_actor_key_and_request_id() {
    // Proves each event records the token name and role that caused it, the
    // Idempotency-Key, and the request id that the response also carries.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let reply = app
        .post_with(
            Role::Ingest,
            "/v1/sales",
            &[
                ("idempotency-key", "feed-7"),
                ("x-request-id", "req-from-client"),
            ],
            json!({"lines": [sale("KA-1", "INV-1", 1, "1.00")]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(
        reply
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-from-client")
    );
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "basic"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let generated = reply
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id is made up")
        .to_string();
    assert!(!generated.is_empty());

    let events = app.audit_events("stream=account/KA-1").await;
    let seen: Vec<(&str, &str, &str, Value, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or(""),
                e["actor"].as_str().unwrap_or(""),
                e["actor_role"].as_str().unwrap_or(""),
                e["idempotency_key"].clone(),
                e["request_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(seen[0].0, "AccountOpened");
    assert_eq!(
        (seen[0].1, seen[0].2, seen[0].3.clone()),
        ("test-manager", "manager", Value::Null)
    );
    assert!(!seen[0].4.is_empty(), "the request id is recorded");
    assert_eq!(
        seen[1],
        (
            "SaleRecorded",
            "test-ingest",
            "ingest",
            json!("feed-7"),
            "req-from-client"
        )
    );
    assert_eq!(
        seen[2],
        (
            "RelationshipStageChanged",
            "test-admin",
            "admin",
            Value::Null,
            generated.as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_endpoints_need_no_token() {
    // Proves /healthz, /metrics and /v1/openapi.json answer without a token: liveness with
    // the head, Prometheus text with appends and requests, and an OpenAPI document that
    // lists the endpoints.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let reply = app
        .post(
            Role::Ingest,
            "/v1/sales",
            json!({"lines": [sale("KA-1", "INV-1", 1, "1.00")]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let head = app.head();

    let health = app
        .send(Method::GET, "/healthz", None, &[], Vec::new())
        .await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({"status": "ok", "head_position": head}));
    // A bad token does not spoil a token-free endpoint.
    let health = app
        .send(
            Method::GET,
            "/healthz",
            None,
            &[("authorization", "Bearer nonsense")],
            Vec::new(),
        )
        .await;
    assert_eq!(health.status, StatusCode::OK);

    let metrics = app
        .send(Method::GET, "/metrics", None, &[], Vec::new())
        .await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("text/plain")));
    assert!(
        metrics
            .text
            .lines()
            .any(|l| l == format!("kaledger_events_appended_total {head}")),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .lines()
            .any(|l| l == format!("kaledger_head_position {head}")),
        "{}",
        metrics.text
    );
    let sales_line = metrics
        .text
        .lines()
        .find(|l| {
            l.starts_with("kaledger_http_requests_total{") && l.contains(r#"route="/v1/sales""#)
        })
        .unwrap_or_else(|| panic!("no request count for /v1/sales:\n{}", metrics.text));
    assert!(
        sales_line.contains(r#"method="POST""#)
            && sales_line.contains(r#"status="201""#)
            && sales_line.ends_with(" 1"),
        "{sales_line}"
    );
    assert!(
        metrics.text.contains("kaledger_flush_seconds"),
        "{}",
        metrics.text
    );

    let openapi = app
        .send(Method::GET, "/v1/openapi.json", None, &[], Vec::new())
        .await;
    assert_eq!(openapi.status, StatusCode::OK);
    assert!(
        openapi.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        openapi.text
    );
    let paths = openapi.body["paths"].as_object().expect("paths");
    for path in [
        "/v1/sales",
        "/v1/returns",
        "/v1/accounts",
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/stage",
        "/v1/accounts/{id}/close",
        "/v1/audit/events",
        "/v1/audit/head",
        "/v1/audit/verify",
        "/v1/tokens",
        "/v1/tokens/{name}/revoke",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "openapi lacks {path}");
    }
    assert!(paths["/v1/accounts/{id}"]["patch"].is_object());
    assert!(openapi.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods_are_problems() {
    // Proves an unknown route is 404 not_found and a known route with the wrong method is
    // 405, both problem+json, with or without a token.
    let app = TestApp::new().await;
    for (method, path) in [
        (Method::GET, "/v1/nope"),
        (Method::POST, "/v1/sale"),
        (Method::GET, "/v1/accounts/KA-1/nope"),
        (Method::GET, "/"),
        (Method::GET, "/v2/accounts"),
    ] {
        let reply = app.send(method.clone(), path, None, &[], Vec::new()).await;
        assert_problem(&reply, StatusCode::NOT_FOUND, "not_found");
        let reply = app
            .send(method, path, Some(app.token(Role::Admin)), &[], Vec::new())
            .await;
        assert_problem(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    for (method, path) in [
        (Method::GET, "/v1/sales"),
        (Method::DELETE, "/v1/sales"),
        (Method::PUT, "/v1/accounts"),
        (Method::DELETE, "/v1/accounts/KA-1"),
        (Method::GET, "/v1/accounts/KA-1/close"),
        (Method::POST, "/v1/audit/events"),
        (Method::POST, "/healthz"),
    ] {
        let reply = app
            .send(
                method.clone(),
                path,
                Some(app.token(Role::Admin)),
                &[],
                Vec::new(),
            )
            .await;
        assert_problem(&reply, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        assert!(
            reply.headers.get("allow").is_some(),
            "{method} {path}: 405 should say what is allowed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_the_right_gets_403_whatever_body_it_sends() {
    // Proves the role check comes before the body is parsed: a wrong role learns nothing
    // about what a valid body would be, and nothing is written.
    let app = TestApp::new().await;
    let head = app.head();
    for (path, body) in [
        ("/v1/accounts", "{not json"),
        ("/v1/accounts", r#"{"unknown_field":1}"#),
        ("/v1/tokens", "{not json"),
        ("/v1/sales", "{not json"),
    ] {
        let reply = app
            .send(
                Method::POST,
                path,
                Some(app.token(Role::Auditor)),
                &[("content-type", "application/json")],
                body.as_bytes().to_vec(),
            )
            .await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(app.head(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_covers_every_protected_endpoint_of_the_openapi_document() {
    // Proves the role matrix above is complete: every operation the OpenAPI document lists
    // with bearer security is called by it (so a new endpoint cannot skip the auth checks),
    // and documents its 401 and 403 answers as problem+json.
    let app = TestApp::new().await;
    let doc = app
        .send(Method::GET, "/v1/openapi.json", None, &[], Vec::new())
        .await
        .body;
    let calls = calls(Role::Admin);
    let matches = |template: &str, path: &str| {
        let path = path.split('?').next().unwrap_or("");
        let (t, p): (Vec<&str>, Vec<&str>) =
            (template.split('/').collect(), path.split('/').collect());
        t.len() == p.len()
            && t.iter()
                .zip(&p)
                .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
    };
    let mut missing = Vec::new();
    let mut protected = 0;
    for (template, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            if operation.get("security").is_none() {
                continue;
            }
            protected += 1;
            if operation.get("requestBody").is_some() {
                for status in ["400", "422"] {
                    assert!(
                        operation["responses"][status]["content"]["application/problem+json"]
                            .is_object(),
                        "{method} {template} takes a body but does not document {status}"
                    );
                }
            }
            for status in ["401", "403"] {
                assert!(
                    operation["responses"][status]["content"]["application/problem+json"]
                        .is_object(),
                    "{method} {template} does not document {status} as problem+json"
                );
            }
            let covered = calls.iter().any(|c| {
                c.method.as_str().eq_ignore_ascii_case(method) && matches(template, &c.path)
            });
            if !covered {
                missing.push(format!("{method} {template}"));
            }
        }
    }
    assert!(
        protected >= 55,
        "only {protected} protected operations found"
    );
    assert!(missing.is_empty(), "not in the role matrix: {missing:?}");
}

#[tokio::test]
async fn openapi_parameters_are_where_their_routes_take_them() {
    // Proves every operation of the OpenAPI document declares exactly its route's `{…}`
    // segments as required path parameters and every other parameter in the query (or a
    // header), so a generated client sends `?as_of=…&limit=…` instead of inventing paths.
    let app = TestApp::new().await;
    let doc = app
        .send(Method::GET, "/v1/openapi.json", None, &[], Vec::new())
        .await
        .body;
    let mut wrong = Vec::new();
    let mut query_parameters = 0;
    for (template, operations) in doc["paths"].as_object().expect("paths") {
        let mut segments: Vec<&str> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        segments.sort_unstable();
        for (method, operation) in operations.as_object().expect("operations") {
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut in_path = Vec::new();
            for p in &parameters {
                let (name, place) = (
                    p["name"].as_str().unwrap_or(""),
                    p["in"].as_str().unwrap_or(""),
                );
                match place {
                    "path" if p["required"] == true => in_path.push(name),
                    "query" if p["required"] != true => query_parameters += 1,
                    "header" => {}
                    _ => wrong.push(format!(
                        "{method} {template}: {name} in {place}, required {}",
                        p["required"]
                    )),
                }
            }
            in_path.sort_unstable();
            if in_path != segments {
                wrong.push(format!(
                    "{method} {template}: path parameters {in_path:?}, route has {segments:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "misplaced parameters: {wrong:#?}");
    assert!(
        query_parameters >= 30,
        "only {query_parameters} query parameters documented"
    );
}
