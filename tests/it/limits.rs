//! Issue 10, defects 1 and 2: definitions beyond the named limits are refused so that no
//! accepted input can overflow a report, and a program's early end can never fall inside a
//! period that holds approved or pending money (which the liability report always shows).

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, sell, Reply, TestApp};

/// A monthly program over 2025 with one tier of `rate` on `basis`.
fn program(id: &str, basis: &str, rate: &str) -> Value {
    json!({"program_id": id, "name": format!("Program {id}"), "currency": "CNY",
        "period": "quarterly", "starts_on": "2025-01-01", "ends_on": "2025-12-31",
        "basis": basis, "method": "all_units", "tiers": [{"from": "0", "rate": rate}]})
}

/// A one-line sale of `quantity` units for `net` on `on`.
fn sale(account: &str, invoice: &str, quantity: &str, net: &str, on: &str) -> Value {
    json!({"account_id": account, "invoice_id": invoice, "line": 1, "sku": "SKU-1",
        "category": "beverages", "quantity": quantity, "net_amount": net,
        "cost_amount": "1.00", "occurred_on": on})
}

/// Enrolls an account from 2025-01-01 as finance and asserts 201.
async fn enroll(app: &TestApp, program: &str, account: &str) {
    let reply = app
        .post(
            Role::Finance,
            &format!("/v1/rebate-programs/{program}/enrollments"),
            json!({"account_id": account, "effective_from": "2025-01-01"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

/// The liability report as JSON (asserts 200).
async fn liability(app: &TestApp, as_of: &str) -> Value {
    let reply = app
        .get(
            Role::Finance,
            &format!("/v1/reports/liability?as_of={as_of}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The liability row of (program, account, period), if listed.
fn row<'a>(report: &'a Value, program: &str, account: &str, period: &str) -> Option<&'a Value> {
    report["rows"].as_array().and_then(|rows| {
        rows.iter().find(|r| {
            r["program_id"] == program && r["account_id"] == account && r["period"] == period
        })
    })
}

#[tokio::test]
async fn the_reported_quantity_rate_of_5e28_is_refused_naming_the_field() {
    // Proves the exact input of the report (quantity basis, rate 5e28) is refused with 422
    // validation_failed on tiers[0].rate, and that nothing is defined.
    let app = TestApp::new().await;
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program("BIG", "quantity", "50000000000000000000000000000"),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert!(
        error_triples(&reply)
            .iter()
            .any(|(_, field, code)| field == "tiers[0].rate" && code == "rate_too_large"),
        "{}",
        reply.text
    );
    let read = app.get(Role::Finance, "/v1/rebate-programs/BIG").await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.text);
}

#[tokio::test]
async fn the_reported_net_revenue_rate_of_1e27_is_refused() {
    // Proves a percent rate above 100 (the report's 1e27 written out, and a plain 100.01)
    // is refused with 422 naming tiers[0].rate, the report's exponent form "1e27" is not a
    // plain decimal (422 invalid_body), while 100 itself is accepted.
    let app = TestApp::new().await;
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program("PCT", "net_revenue", "1e27"),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    for rate in ["1000000000000000000000000000", "100.01"] {
        let reply = app
            .post(
                Role::Finance,
                "/v1/rebate-programs",
                program("PCT", "net_revenue", rate),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{rate}: {}",
            reply.text
        );
        assert!(
            reply.text.contains("tiers[0].rate"),
            "{rate}: {}",
            reply.text
        );
    }
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program("PCT", "net_revenue", "100"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

#[tokio::test]
async fn a_quantity_program_at_the_rate_limit_with_two_accounts_still_reports() {
    // Proves the report's scenario at the limits (two enrolled accounts, one sale each of
    // the largest line) answers 200 on the liability report in JSON and CSV and on the
    // account's rebates, instead of panicking.
    let app = TestApp::new().await;
    let rate = kaledger::domain::limits::PER_UNIT_RATE_MAX.to_string();
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program("BIG", "quantity", &rate),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    for account in ["a1", "a2"] {
        app.open_account(account, "CNY").await;
        enroll(&app, "BIG", account).await;
        let big = "1000000000000000";
        sell(&app, vec![sale(account, "INV-1", big, big, "2025-02-01")]).await;
    }
    let report = liability(&app, "2025-12-31").await;
    assert_eq!(report["rows"].as_array().map(Vec::len), Some(2), "{report}");
    let csv = app
        .get(
            Role::Finance,
            "/v1/reports/liability?as_of=2025-12-31&format=csv",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    let rebates = app
        .get(Role::Finance, "/v1/accounts/a1/rebates?period=2025-Q1")
        .await;
    assert_eq!(rebates.status, StatusCode::OK, "{}", rebates.text);
}

/// Proposes a final settlement of (program, account, period) as finance and approves it
/// as admin; returns the approved amount.
async fn settle(app: &TestApp, program: &str, account: &str, period: &str) -> String {
    let reply = app
        .post(
            Role::Finance,
            "/v1/settlements",
            json!({"program_id": program, "account_id": account, "period": period,
                "kind": "final", "reference": format!("CN-{account}-{period}")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.body["settlement_id"].as_str().unwrap().to_string();
    let reply = app
        .post(
            Role::Admin,
            &format!("/v1/settlements/{id}/approve"),
            json!({"note": "checked"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["amount"].as_str().unwrap().to_string()
}

/// Posts an early end of `program` as finance.
async fn end(app: &TestApp, program: &str, ends_on: &str) -> Reply {
    app.post(
        Role::Finance,
        &format!("/v1/rebate-programs/{program}/end"),
        json!({"ends_on": ends_on, "reason": "contract renegotiated"}),
    )
    .await
}

/// A ledger with program VOL (net revenue, 2 %), metro enrolled, and one 50,000.00 sale
/// of metro on `day`.
async fn metro_in_vol_with_a_sale_on(day: &str) -> TestApp {
    let app = TestApp::new().await;
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program("VOL", "net_revenue", "2"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    app.open_account("metro", "CNY").await;
    enroll(&app, "VOL", "metro").await;
    sell(&app, vec![sale("metro", "INV-1", "10", "50000.00", day)]).await;
    app
}

#[tokio::test]
async fn a_back_dated_end_cannot_erase_an_approved_settlement() {
    // Proves the report's scenario: after an approved settlement of 2025-Q2, ending the
    // program on 2025-01-01 is refused with 409 settled_period_after_end naming the period
    // in `context`, the liability report is unchanged, and an end on the period's last
    // day is accepted with the approved money still listed as approved.
    let app = metro_in_vol_with_a_sale_on("2025-05-10").await;
    let amount = settle(&app, "VOL", "metro", "2025-Q2").await;
    assert_eq!(amount, "1000.00");
    let before = liability(&app, "2025-12-31").await;

    let reply = end(&app, "VOL", "2025-01-01").await;
    assert_problem(&reply, StatusCode::CONFLICT, "settled_period_after_end");
    assert_eq!(reply.body["context"]["period"], "2025-Q2", "{}", reply.text);
    assert_eq!(
        reply.body["context"]["period_end"], "2025-06-30",
        "{}",
        reply.text
    );
    let reply = end(&app, "VOL", "2025-06-29").await;
    assert_problem(&reply, StatusCode::CONFLICT, "settled_period_after_end");
    assert_eq!(liability(&app, "2025-12-31").await, before);

    let reply = end(&app, "VOL", "2025-06-30").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let after = liability(&app, "2025-12-31").await;
    let kept = row(&after, "VOL", "metro", "2025-Q2").expect("the settled row stays");
    assert_eq!(kept["approved"], "1000.00", "{after}");
    assert_eq!(kept["outstanding"], "0.00", "{after}");
    assert_eq!(after["totals"][0]["approved"], "1000.00", "{after}");
}

#[tokio::test]
async fn a_pending_settlement_also_holds_its_period_against_an_early_end() {
    // Proves a proposed (not yet approved) settlement blocks an end before its period's
    // last day just as an approved one does.
    let app = metro_in_vol_with_a_sale_on("2025-08-10").await;
    let reply = app
        .post(
            Role::Finance,
            "/v1/settlements",
            json!({"program_id": "VOL", "account_id": "metro", "period": "2025-Q3",
                "kind": "partial", "reference": "CN-1"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = end(&app, "VOL", "2025-03-31").await;
    assert_problem(&reply, StatusCode::CONFLICT, "settled_period_after_end");
    assert_eq!(reply.body["context"]["period"], "2025-Q3", "{}", reply.text);
    let report = liability(&app, "2025-12-31").await;
    let pending = row(&report, "VOL", "metro", "2025-Q3").expect("the pending row");
    assert_eq!(pending["pending"], "1000.00", "{report}");
}

#[tokio::test]
async fn a_back_dated_enrollment_end_cannot_erase_an_approved_settlement_either() {
    // Proves the same guard for an account's enrollment: after an approved settlement of
    // 2025-Q2, ending metro's enrollment on 2025-04-30 is refused with 409
    // settled_period_after_end, while an end on 2025-06-30 is accepted and the approved
    // money stays in the liability report with its entitlement unchanged.
    let app = metro_in_vol_with_a_sale_on("2025-05-10").await;
    settle(&app, "VOL", "metro", "2025-Q2").await;
    let path = "/v1/rebate-programs/VOL/enrollments/metro/end";
    let reply = app
        .post(Role::Finance, path, json!({"effective_to": "2025-04-30"}))
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "settled_period_after_end");
    assert_eq!(reply.body["context"]["period"], "2025-Q2", "{}", reply.text);
    let reply = app
        .post(Role::Finance, path, json!({"effective_to": "2025-06-30"}))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let report = liability(&app, "2025-12-31").await;
    let kept = row(&report, "VOL", "metro", "2025-Q2").expect("the settled row stays");
    assert_eq!(kept["entitlement"], "1000.00", "{report}");
    assert_eq!(kept["approved"], "1000.00", "{report}");
}
