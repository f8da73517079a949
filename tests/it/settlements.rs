//! Rebate settlements and the liability report over HTTP (issue 4, DESIGN §5.4, §6), driven
//! in-process: partial and final netting, clawback deltas after late returns, segregation of
//! duties, the refusals, eligibility, explain down to the log positions, `known_at`, the
//! liability report in JSON and CSV, and `kaledger report liability` on the real binary.
//!
//! The server's "today" is the real UTC date, so ended periods are in 2025 and the period
//! that has not ended is in 2027; the programs span both.

use std::path::Path;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use kaledger::domain::vocab::Role;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::{
    assert_problem, cli_token, give_back, http_client, http_get, http_post, run_cli, sell, Reply,
    Server, TestApp,
};

/// The contract's tier table: 0 / 10,000 / 50,000 at 2 / 4 / 5 %.
fn volume_tiers() -> Value {
    json!([{"from": "0", "rate": "2"}, {"from": "10000", "rate": "4"}, {"from": "50000", "rate": "5"}])
}

/// A quarterly all-units net-revenue program in `currency` over 2025–2027.
fn program(id: &str, currency: &str) -> Value {
    json!({"program_id": id, "name": format!("Program {id}"), "currency": currency,
        "period": "quarterly", "starts_on": "2025-01-01", "ends_on": "2027-12-31",
        "basis": "net_revenue", "method": "all_units", "tiers": volume_tiers()})
}

/// A one-line sale of SKU-1 (beverages), 10 units, net `net`, cost 100.00, on `on`.
fn sale(account: &str, invoice: &str, net: &str, on: &str) -> Value {
    json!({"account_id": account, "invoice_id": invoice, "line": 1, "sku": "SKU-1",
        "category": "beverages", "quantity": "10", "net_amount": net, "cost_amount": "100.00",
        "occurred_on": on})
}

/// A return of line 1 of `invoice`.
fn return_of(
    account: &str,
    return_id: &str,
    invoice: &str,
    quantity: &str,
    net: &str,
    on: &str,
) -> Value {
    json!({"account_id": account, "return_id": return_id, "invoice_id": invoice, "line": 1,
        "quantity": quantity, "net_amount": net, "occurred_on": on})
}

/// An app with the CNY program VOL and these CNY accounts enrolled in it from 2025-01-01.
async fn app_with(accounts: &[&str]) -> TestApp {
    let app = TestApp::new().await;
    define(&app, program("VOL", "CNY")).await;
    for account in accounts {
        app.open_account(account, "CNY").await;
        enroll(&app, "VOL", account).await;
    }
    app
}

/// Defines a program as finance and asserts 201.
async fn define(app: &TestApp, body: Value) {
    let reply = app.post(Role::Finance, "/v1/rebate-programs", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
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

/// Proposes a settlement of VOL as `role`, returning the raw reply.
async fn try_propose(app: &TestApp, role: Role, account: &str, period: &str, kind: &str) -> Reply {
    app.post(
        role,
        "/v1/settlements",
        json!({"program_id": "VOL", "account_id": account, "period": period, "kind": kind,
            "reference": format!("CN-{account}-{period}-{kind}")}),
    )
    .await
}

/// Proposes a settlement of VOL as finance and asserts 201.
async fn propose(app: &TestApp, account: &str, period: &str, kind: &str) -> Value {
    let reply = try_propose(app, Role::Finance, account, period, kind).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// Approves a settlement as admin (not its finance proposer) and asserts 200.
async fn approve(app: &TestApp, id: &str) -> Value {
    let reply = app
        .post(
            Role::Admin,
            &format!("/v1/settlements/{id}/approve"),
            json!({"note": "checked"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// A settlement as read by an auditor (asserts 200).
async fn settlement(app: &TestApp, id: &str) -> Value {
    let reply = app
        .get(Role::Auditor, &format!("/v1/settlements/{id}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The accrual row of one account in VOL's period.
async fn row(app: &TestApp, period: &str, account: &str) -> Value {
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/rebate-programs/VOL/accruals?period={period}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|r| r["account_id"] == account)
        .unwrap_or_else(|| panic!("no row for {account} in {}", reply.text))
        .clone()
}

/// (entitlement, approved, pending, outstanding, status) of an accrual or liability row.
fn money(row: &Value) -> [&str; 5] {
    let field = |name: &str| -> &str {
        row[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {row}"))
    };
    [
        field("entitlement"),
        field("approved"),
        field("pending"),
        field("outstanding"),
        field("status"),
    ]
}

/// The liability report as JSON (asserts 200).
async fn liability(app: &TestApp, as_of: &str) -> Value {
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/reports/liability?as_of={as_of}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// A decimal string of a JSON value.
fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .expect("decimal")
}

/// Now, RFC 3339 with microseconds, with a pause on both sides so that events before and
/// after it get different recorded_at instants.
async fn instant_between_writes() -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    tokio::time::sleep(Duration::from_millis(5)).await;
    now
}

#[tokio::test]
async fn a_partial_then_a_final_net_to_the_final_entitlement() {
    // Proves a partial pays the entitlement to date, a final after more sales pays entitlement − approved, and the approved settlements then sum to the final entitlement with the period final.
    let app = app_with(&["KA-1"]).await;
    sell(&app, vec![sale("KA-1", "INV-1", "12000.00", "2025-02-01")]).await;

    // 12,000 reaches the 4 % tier: 480.00 to date. A retry with the same Idempotency-Key
    // answers the same settlement and writes nothing more.
    let body = json!({"program_id": "VOL", "account_id": "KA-1", "period": "2025-Q1",
        "kind": "partial", "reference": "CN-KA-1-2025-Q1-partial"});
    let key = [("idempotency-key", "propose-1")];
    let first = app
        .post_with(Role::Finance, "/v1/settlements", &key, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let head = app.head();
    let retry = app
        .post_with(Role::Finance, "/v1/settlements", &key, body)
        .await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
    assert_eq!(retry.body, first.body);
    assert_eq!(app.head(), head, "a retried proposal wrote again");
    let partial = first.body;
    assert_eq!(partial["settlement_id"], "VOL.KA-1.2025-Q1.1");
    assert_eq!(partial["status"], "proposed");
    assert_eq!(partial["kind"], "partial");
    assert_eq!(partial["amount"], "480.00");
    assert_eq!(partial["proposed_by"], "test-finance");
    assert_eq!(partial["reference"], "CN-KA-1-2025-Q1-partial");
    let computation = &partial["computation"];
    assert_eq!(computation["rebate"]["basis"], "12000.00");
    assert_eq!(computation["rebate"]["tier_index"], 1);
    assert_eq!(computation["rebate"]["rate"], "4");
    assert_eq!(computation["rebate"]["entitlement"], "480.00");
    assert_eq!(computation["eligible"], true);
    assert_eq!(computation["reason"], Value::Null);
    assert_eq!(computation["entitlement"], "480.00");
    assert_eq!(computation["previously_approved"], "0.00");
    assert_eq!(computation["pending"], "0.00");
    assert!(computation["through_position"].as_u64().expect("position") > 0);

    // While proposed it is pending, not approved.
    let pending = row(&app, "2025-Q1", "KA-1").await;
    assert_eq!(
        money(&pending),
        ["480.00", "0.00", "480.00", "480.00", "open"]
    );

    let approved = approve(&app, "VOL.KA-1.2025-Q1.1").await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decided_by"], "test-admin");
    assert_eq!(approved["decision_note"], "checked");
    assert_eq!(approved["amount"], "480.00");
    let after_partial = row(&app, "2025-Q1", "KA-1").await;
    assert_eq!(
        money(&after_partial),
        ["480.00", "480.00", "0.00", "0.00", "open"]
    );

    // Later sales lift the basis to 52,000 and the tier to 5 %: 2600.00 in all.
    sell(&app, vec![sale("KA-1", "INV-2", "40000.00", "2025-03-10")]).await;
    let grown = row(&app, "2025-Q1", "KA-1").await;
    assert_eq!(
        money(&grown),
        ["2600.00", "480.00", "0.00", "2120.00", "open"]
    );

    let last = propose(&app, "KA-1", "2025-Q1", "final").await;
    assert_eq!(last["settlement_id"], "VOL.KA-1.2025-Q1.2");
    assert_eq!(last["kind"], "final");
    assert_eq!(last["amount"], "2120.00");
    assert_eq!(last["computation"]["rebate"]["basis"], "52000.00");
    assert_eq!(last["computation"]["rebate"]["tier_index"], 2);
    assert_eq!(last["computation"]["rebate"]["rate"], "5");
    assert_eq!(last["computation"]["entitlement"], "2600.00");
    assert_eq!(last["computation"]["previously_approved"], "480.00");
    assert_eq!(last["computation"]["pending"], "0.00");
    approve(&app, "VOL.KA-1.2025-Q1.2").await;

    let closed = row(&app, "2025-Q1", "KA-1").await;
    assert_eq!(
        money(&closed),
        ["2600.00", "2600.00", "0.00", "0.00", "final"]
    );
    let mut sum = Decimal::ZERO;
    for id in ["VOL.KA-1.2025-Q1.1", "VOL.KA-1.2025-Q1.2"] {
        let s = settlement(&app, id).await;
        assert_eq!(s["status"], "approved", "{s}");
        sum += dec(&s["amount"]);
    }
    assert_eq!(sum, dec(&closed["entitlement"]));
    assert_eq!(sum.to_string(), "2600.00");

    // Once final, neither another partial nor another final may be proposed.
    let head = app.head();
    for kind in ["partial", "final"] {
        let refused = try_propose(&app, Role::Finance, "KA-1", "2025-Q1", kind).await;
        assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "already_final");
    }
    // With nothing changed since the final, a delta has nothing to settle.
    let nothing = try_propose(&app, Role::Finance, "KA-1", "2025-Q1", "delta").await;
    assert_problem(
        &nothing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing_to_settle",
    );
    assert_eq!(app.head(), head, "a refused proposal wrote something");
}

#[tokio::test]
async fn a_late_return_after_the_final_makes_a_negative_delta_clawback() {
    // Proves a return recorded after the approved final lowers the entitlement, outstanding goes negative (a clawback due in the liability report, also while the delta is pending), and the approved negative delta brings outstanding and the total due back to 0.
    let app = app_with(&["KA-1"]).await;
    sell(&app, vec![sale("KA-1", "INV-1", "60000.00", "2025-02-01")]).await;
    let last = propose(&app, "KA-1", "2025-Q1", "final").await;
    assert_eq!(last["amount"], "3000.00");
    approve(&app, "VOL.KA-1.2025-Q1.1").await;
    assert_eq!(
        money(&row(&app, "2025-Q1", "KA-1").await),
        ["3000.00", "3000.00", "0.00", "0.00", "final"]
    );

    // Returned in Q2, counted against Q1: 45,000 falls to the 4 % tier, 1800.00.
    give_back(
        &app,
        vec![return_of(
            "KA-1",
            "RET-1",
            "INV-1",
            "3",
            "15000.00",
            "2025-05-10",
        )],
    )
    .await;
    let owed = row(&app, "2025-Q1", "KA-1").await;
    assert_eq!(owed["basis"], "45000.00");
    assert_eq!(
        money(&owed),
        ["1800.00", "3000.00", "0.00", "-1200.00", "final"]
    );
    let report = liability(&app, "2025-12-31").await;
    assert_eq!(report["as_of"], "2025-12-31");
    assert_eq!(
        report["rows"].as_array().expect("rows").len(),
        1,
        "{report}"
    );
    assert_eq!(
        money(&report["rows"][0]),
        ["1800.00", "3000.00", "0.00", "-1200.00", "final"]
    );
    assert_eq!(
        report["totals"],
        json!([{"currency": "CNY", "entitlement": "1800.00", "approved": "3000.00",
            "pending": "0.00", "outstanding": "-1200.00", "clawbacks_due": "1200.00"}])
    );

    // A partial cannot claw back; a delta can.
    let partial = try_propose(&app, Role::Finance, "KA-1", "2025-Q1", "partial").await;
    assert_problem(&partial, StatusCode::UNPROCESSABLE_ENTITY, "already_final");
    let delta = propose(&app, "KA-1", "2025-Q1", "delta").await;
    assert_eq!(delta["settlement_id"], "VOL.KA-1.2025-Q1.2");
    assert_eq!(delta["kind"], "delta");
    assert_eq!(delta["amount"], "-1200.00");
    assert_eq!(delta["computation"]["entitlement"], "1800.00");
    assert_eq!(delta["computation"]["previously_approved"], "3000.00");
    assert_eq!(delta["computation"]["rebate"]["basis"], "45000.00");
    assert_eq!(delta["computation"]["rebate"]["rate"], "4");

    // Pending: the clawback is still due, and shows as pending.
    assert_eq!(
        money(&row(&app, "2025-Q1", "KA-1").await),
        ["1800.00", "3000.00", "-1200.00", "-1200.00", "final"]
    );
    let pending = liability(&app, "2025-12-31").await;
    assert_eq!(
        money(&pending["rows"][0]),
        ["1800.00", "3000.00", "-1200.00", "-1200.00", "final"]
    );
    assert_eq!(
        pending["totals"],
        json!([{"currency": "CNY", "entitlement": "1800.00", "approved": "3000.00",
            "pending": "-1200.00", "outstanding": "-1200.00", "clawbacks_due": "1200.00"}])
    );

    approve(&app, "VOL.KA-1.2025-Q1.2").await;
    assert_eq!(
        money(&row(&app, "2025-Q1", "KA-1").await),
        ["1800.00", "1800.00", "0.00", "0.00", "final"]
    );
    let settled = liability(&app, "2025-12-31").await;
    assert_eq!(
        money(&settled["rows"][0]),
        ["1800.00", "1800.00", "0.00", "0.00", "final"]
    );
    assert_eq!(
        settled["totals"],
        json!([{"currency": "CNY", "entitlement": "1800.00", "approved": "1800.00",
            "pending": "0.00", "outstanding": "0.00", "clawbacks_due": "0.00"}])
    );
    // 3000.00 − 1200.00: the approved settlements sum to the entitlement again.
    let sum = dec(&settlement(&app, "VOL.KA-1.2025-Q1.1").await["amount"])
        + dec(&settlement(&app, "VOL.KA-1.2025-Q1.2").await["amount"]);
    assert_eq!(sum.to_string(), "1800.00");
}

#[tokio::test]
async fn approval_needs_another_actor_and_one_proposal_pends_at_a_time() {
    // Proves the proposer cannot approve (403 same_actor_approval, nothing written), a second pending proposal is refused, the proposer may withdraw, a new proposal follows, and a decided settlement cannot be decided again.
    let app = app_with(&["KA-1"]).await;
    sell(&app, vec![sale("KA-1", "INV-1", "5000.00", "2025-02-01")]).await;
    let first = propose(&app, "KA-1", "2025-Q1", "partial").await;
    assert_eq!(first["amount"], "100.00");
    let id = "VOL.KA-1.2025-Q1.1";

    let head = app.head();
    let own = app
        .post(
            Role::Finance,
            &format!("/v1/settlements/{id}/approve"),
            json!({}),
        )
        .await;
    assert_problem(&own, StatusCode::FORBIDDEN, "same_actor_approval");
    assert_eq!(app.head(), head, "a refused approval wrote something");
    let still = settlement(&app, id).await;
    assert_eq!(still["status"], "proposed");
    assert_eq!(still["decided_by"], Value::Null);

    for kind in ["partial", "final"] {
        let second = try_propose(&app, Role::Finance, "KA-1", "2025-Q1", kind).await;
        assert_problem(&second, StatusCode::CONFLICT, "pending_settlement_exists");
        // Not even another actor may open a second one.
        let other = try_propose(&app, Role::Admin, "KA-1", "2025-Q1", kind).await;
        assert_problem(&other, StatusCode::CONFLICT, "pending_settlement_exists");
    }
    assert_eq!(app.head(), head, "a refused proposal wrote something");

    // The proposer withdraws it, with a reason.
    let blank = app
        .post(
            Role::Finance,
            &format!("/v1/settlements/{id}/reject"),
            json!({"reason": "  "}),
        )
        .await;
    assert_problem(
        &blank,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let withdrawn = app
        .post(
            Role::Finance,
            &format!("/v1/settlements/{id}/reject"),
            json!({"reason": "wrong credit note"}),
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
    assert_eq!(withdrawn.body["status"], "rejected");
    assert_eq!(withdrawn.body["decided_by"], "test-finance");
    assert_eq!(withdrawn.body["decision_note"], "wrong credit note");
    assert_eq!(
        money(&row(&app, "2025-Q1", "KA-1").await),
        ["100.00", "0.00", "0.00", "100.00", "open"]
    );

    // A fresh proposal, approved (with no body at all) by a second finance token with another name.
    let again = propose(&app, "KA-1", "2025-Q1", "partial").await;
    assert_eq!(again["settlement_id"], "VOL.KA-1.2025-Q1.2");
    assert_eq!(again["amount"], "100.00");
    let issued = app
        .post(
            Role::Admin,
            "/v1/tokens",
            json!({"name": "second-finance", "role": "finance"}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let second_finance = issued.body["token"].as_str().expect("token").to_string();
    let approve_path = "/v1/settlements/VOL.KA-1.2025-Q1.2/approve";
    let approved = app
        .send(
            Method::POST,
            approve_path,
            Some(&second_finance),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["decided_by"], "second-finance");
    assert_eq!(approved.body["proposed_by"], "test-finance");

    // Decided is decided: approving twice, or rejecting either one now, is refused.
    let head = app.head();
    let twice = app.post(Role::Admin, approve_path, json!({})).await;
    assert_problem(&twice, StatusCode::CONFLICT, "settlement_decided");
    let late_reject = app
        .post(
            Role::Admin,
            "/v1/settlements/VOL.KA-1.2025-Q1.2/reject",
            json!({"reason": "too late"}),
        )
        .await;
    assert_problem(&late_reject, StatusCode::CONFLICT, "settlement_decided");
    let rejected_approve = app
        .post(
            Role::Admin,
            &format!("/v1/settlements/{id}/approve"),
            json!({}),
        )
        .await;
    assert_problem(
        &rejected_approve,
        StatusCode::CONFLICT,
        "settlement_decided",
    );
    let unknown = app
        .post(
            Role::Admin,
            "/v1/settlements/VOL.KA-1.2025-Q1.9/approve",
            json!({}),
        )
        .await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "settlement_not_found");
    let unknown_read = app
        .get(Role::Auditor, "/v1/settlements/VOL.KA-1.2025-Q1.9")
        .await;
    assert_problem(&unknown_read, StatusCode::NOT_FOUND, "settlement_not_found");
    assert_eq!(app.head(), head, "a refused decision wrote something");
    assert_eq!(
        money(&row(&app, "2025-Q1", "KA-1").await),
        ["100.00", "100.00", "0.00", "0.00", "open"]
    );
}

#[tokio::test]
async fn proposals_out_of_order_or_with_nothing_to_settle_are_refused() {
    // Proves final before the period ends (period_not_ended), delta without an approved final (no_final_yet), partial with nothing to settle, and bad periods, programs or accounts are refused with stable codes and nothing written; a partial in the open period works.
    let app = app_with(&["KA-1", "KA-2"]).await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "5000.00", "2025-02-01"),
            sale("KA-1", "INV-2", "20000.00", "2027-05-01"),
        ],
    )
    .await;
    let head = app.head();
    let early = try_propose(&app, Role::Finance, "KA-1", "2027-Q2", "final").await;
    assert_problem(&early, StatusCode::UNPROCESSABLE_ENTITY, "period_not_ended");
    let delta = try_propose(&app, Role::Finance, "KA-1", "2025-Q1", "delta").await;
    assert_problem(&delta, StatusCode::UNPROCESSABLE_ENTITY, "no_final_yet");
    // KA-2 sold nothing: no entitlement.
    let nothing = try_propose(&app, Role::Finance, "KA-2", "2025-Q1", "partial").await;
    assert_problem(
        &nothing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing_to_settle",
    );
    let month = try_propose(&app, Role::Finance, "KA-1", "2025-02", "partial").await;
    assert_problem(&month, StatusCode::UNPROCESSABLE_ENTITY, "period_mismatch");
    let malformed = try_propose(&app, Role::Finance, "KA-1", "2025-Q5", "partial").await;
    assert_problem(
        &malformed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_period",
    );
    let no_program = app
        .post(
            Role::Finance,
            "/v1/settlements",
            json!({"program_id": "NOPE", "account_id": "KA-1", "period": "2025-Q1",
                "kind": "partial", "reference": "CN-1"}),
        )
        .await;
    assert_problem(&no_program, StatusCode::NOT_FOUND, "program_not_found");
    let stranger = try_propose(&app, Role::Finance, "KA-9", "2025-Q1", "partial").await;
    assert_problem(&stranger, StatusCode::NOT_FOUND, "account_not_found");
    assert_eq!(app.head(), head, "a refused proposal wrote something");
    app.open_account("KA-3", "CNY").await;
    let head = app.head();
    let outsider = try_propose(&app, Role::Finance, "KA-3", "2025-Q1", "partial").await;
    assert_problem(&outsider, StatusCode::CONFLICT, "not_enrolled");
    let bad_kind = app
        .post(
            Role::Finance,
            "/v1/settlements",
            json!({"program_id": "VOL", "account_id": "KA-1", "period": "2025-Q1",
                "kind": "bonus", "reference": "CN-1"}),
        )
        .await;
    assert!(
        bad_kind.status == StatusCode::BAD_REQUEST
            || bad_kind.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        bad_kind.text
    );
    assert_eq!(app.head(), head, "a refused proposal wrote something");

    // During the period a partial is allowed: 20,000 × 4 %.
    let open = propose(&app, "KA-1", "2027-Q2", "partial").await;
    assert_eq!(open["amount"], "800.00");
    assert_eq!(open["settlement_id"], "VOL.KA-1.2027-Q2.1");
    approve(&app, "VOL.KA-1.2027-Q2.1").await;
    // Everything to date is settled: a second partial has nothing left.
    let again = try_propose(&app, Role::Finance, "KA-1", "2027-Q2", "partial").await;
    assert_problem(
        &again,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing_to_settle",
    );
    // Still no final before the period ends, settled or not.
    let early = try_propose(&app, Role::Finance, "KA-1", "2027-Q2", "final").await;
    assert_problem(&early, StatusCode::UNPROCESSABLE_ENTITY, "period_not_ended");
}

#[tokio::test]
async fn a_tier_outside_the_eligible_ones_earns_zero_and_nothing_to_settle() {
    // Proves an account whose tier is not eligible has entitlement 0.00 with the reason, a partial is refused as nothing_to_settle, and a final settles 0.00 storing the reason; an eligible account settles its rebate.
    let app = TestApp::new().await;
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2024-01-01", "window_months": 12, "tiers": [
                {"name": "gold", "criteria": {"min_net_revenue": "100000"},
                 "entitlements": {"max_discount_pct": "5", "supply_priority": 1, "contest_eligible": true}},
                {"name": "bronze", "criteria": {},
                 "entitlements": {"max_discount_pct": "1", "supply_priority": 2, "contest_eligible": true}}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let mut body = program("VOL", "CNY");
    body["eligible_tiers"] = json!(["gold"]);
    define(&app, body).await;
    for account in ["KA-1", "KA-2"] {
        app.open_account(account, "CNY").await;
        enroll(&app, "VOL", account).await;
    }
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "120000.00", "2025-02-01"),
            sale("KA-2", "INV-2", "20000.00", "2025-02-01"),
        ],
    )
    .await;
    let reason = "tier bronze on 2025-03-31 is not eligible (eligible: gold)";
    let bronze = row(&app, "2025-Q1", "KA-2").await;
    assert_eq!(bronze["eligible"], false);
    assert_eq!(bronze["reason"], reason);
    assert_eq!(bronze["basis"], "20000.00");
    assert_eq!(money(&bronze), ["0.00", "0.00", "0.00", "0.00", "open"]);

    let head = app.head();
    let partial = try_propose(&app, Role::Finance, "KA-2", "2025-Q1", "partial").await;
    assert_problem(
        &partial,
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing_to_settle",
    );
    assert_eq!(app.head(), head, "a refused proposal wrote something");

    // A final of 0.00 closes the period and keeps why in its computation.
    let last = propose(&app, "KA-2", "2025-Q1", "final").await;
    assert_eq!(last["amount"], "0.00");
    assert_eq!(last["computation"]["eligible"], false);
    assert_eq!(last["computation"]["reason"], reason);
    assert_eq!(last["computation"]["entitlement"], "0.00");
    // The rebate the tier table would give is kept beside it: 20,000 × 4 %.
    assert_eq!(last["computation"]["rebate"]["entitlement"], "800.00");
    let explained = app
        .get(Role::Auditor, "/v1/settlements/VOL.KA-2.2025-Q1.1/explain")
        .await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.text);
    assert_eq!(
        explained.body["arithmetic"][1],
        format!("not eligible: {reason}; entitlement 0")
    );

    let gold = propose(&app, "KA-1", "2025-Q1", "partial").await;
    assert_eq!(gold["amount"], "6000.00");
    assert_eq!(gold["computation"]["eligible"], true);
    assert_eq!(gold["computation"]["reason"], Value::Null);
}

#[tokio::test]
async fn explain_lists_every_contributing_line_with_its_log_position_and_the_arithmetic() {
    // Proves explain lists exactly the sale and return lines counted in the settled period (positions equal to the SaleRecorded / SaleReturned events), the program's tier table and the arithmetic, and leaves out other periods and accounts.
    let app = app_with(&["KA-1", "KA-2"]).await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "12000.00", "2025-01-10"),
            sale("KA-1", "INV-2", "7000.00", "2025-04-10"),
            sale("KA-2", "INV-3", "9000.00", "2025-02-01"),
        ],
    )
    .await;
    sell(&app, vec![sale("KA-1", "INV-4", "40000.00", "2025-03-10")]).await;
    // A Q2 return of a Q1 sale counts against Q1.
    give_back(
        &app,
        vec![return_of(
            "KA-1",
            "RET-1",
            "INV-1",
            "2",
            "2000.00",
            "2025-04-20",
        )],
    )
    .await;
    let proposed = propose(&app, "KA-1", "2025-Q1", "partial").await;
    assert_eq!(proposed["amount"], "2500.00");

    let position_of = |events: &[Value], key: &str, value: &str| -> u64 {
        events
            .iter()
            .find(|e| e["data"][key] == value)
            .unwrap_or_else(|| panic!("no event with {key} {value}"))["position"]
            .as_u64()
            .expect("position")
    };
    let sales = app.audit_events("type=SaleRecorded").await;
    assert_eq!(sales.len(), 4);
    let returns = app.audit_events("type=SaleReturned").await;
    assert_eq!(returns.len(), 1);
    let inv1 = position_of(&sales, "invoice_id", "INV-1");
    let inv4 = position_of(&sales, "invoice_id", "INV-4");
    let ret1 = position_of(&returns, "return_id", "RET-1");

    let reply = app
        .get(Role::Auditor, "/v1/settlements/VOL.KA-1.2025-Q1.1/explain")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let explained = &reply.body;
    assert_eq!(
        explained["settlement"]["settlement_id"],
        "VOL.KA-1.2025-Q1.1"
    );
    assert_eq!(explained["settlement"]["amount"], "2500.00");
    assert_eq!(explained["program_basis"], "net_revenue");
    assert_eq!(explained["method"], "all_units");
    assert_eq!(explained["tiers"], volume_tiers());
    assert_eq!(
        explained["arithmetic"],
        json!([
            "50000.00 × 5% = 2500.00",
            "partial settlement: entitlement 2500.00 − approved 0.00 − pending 0.00 = 2500.00"
        ])
    );
    let lines = explained["lines"].as_array().expect("lines");
    let summary: Vec<(u64, &str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["position"].as_u64().expect("position"),
                l["kind"].as_str().expect("kind"),
                l["sale_date"].as_str().expect("sale_date"),
                l["net_amount"].as_str().expect("net_amount"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (inv1, "sale", "2025-01-10", "12000.00"),
            (inv4, "sale", "2025-03-10", "40000.00"),
            (ret1, "return", "2025-01-10", "-2000.00"),
        ]
    );
    for line in lines {
        assert_eq!(line["sku"], "SKU-1");
        assert_eq!(line["category"], "beverages");
    }
    assert_eq!(lines[0]["quantity"], "10");
    assert_eq!(lines[0]["cost_amount"], "100.00");
    assert_eq!(lines[2]["quantity"], "-2");
    // The lines add up to the basis.
    let basis: Decimal = lines.iter().map(|l| dec(&l["net_amount"])).sum();
    assert_eq!(
        basis,
        dec(&explained["settlement"]["computation"]["rebate"]["basis"])
    );

    // A final after approval explains the netting against what was approved.
    approve(&app, "VOL.KA-1.2025-Q1.1").await;
    propose(&app, "KA-1", "2025-Q1", "final").await;
    let last = app
        .get(Role::Auditor, "/v1/settlements/VOL.KA-1.2025-Q1.2/explain")
        .await;
    assert_eq!(last.status, StatusCode::OK, "{}", last.text);
    assert_eq!(
        last.body["arithmetic"][1],
        "final settlement: entitlement 2500.00 − approved 2500.00 = 0.00"
    );
    let missing = app.get(Role::Auditor, "/v1/settlements/NOPE/explain").await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "settlement_not_found");
}

#[tokio::test]
async fn known_at_shows_a_settlement_as_it_stood_before_its_approval() {
    // Proves GET /v1/settlements/{id}?known_at= before the approval shows it proposed (undecided), before the proposal answers 404, and now shows it approved; accrual rows follow the same instant.
    let app = app_with(&["KA-1"]).await;
    sell(&app, vec![sale("KA-1", "INV-1", "12000.00", "2025-02-01")]).await;
    let before_proposal = instant_between_writes().await;
    propose(&app, "KA-1", "2025-Q1", "partial").await;
    let before_approval = instant_between_writes().await;
    approve(&app, "VOL.KA-1.2025-Q1.1").await;

    let then = app
        .get(
            Role::Auditor,
            &format!("/v1/settlements/VOL.KA-1.2025-Q1.1?known_at={before_approval}"),
        )
        .await;
    assert_eq!(then.status, StatusCode::OK, "{}", then.text);
    assert_eq!(then.body["status"], "proposed");
    assert_eq!(then.body["decided_by"], Value::Null);
    assert_eq!(then.body["decision_note"], Value::Null);
    assert_eq!(then.body["amount"], "480.00");
    let now = settlement(&app, "VOL.KA-1.2025-Q1.1").await;
    assert_eq!(now["status"], "approved");
    assert_eq!(now["decided_by"], "test-admin");
    let earlier = app
        .get(
            Role::Auditor,
            &format!("/v1/settlements/VOL.KA-1.2025-Q1.1?known_at={before_proposal}"),
        )
        .await;
    assert_problem(&earlier, StatusCode::NOT_FOUND, "settlement_not_found");

    let accrual_then = app
        .get(
            Role::Auditor,
            &format!("/v1/rebate-programs/VOL/accruals?period=2025-Q1&known_at={before_approval}"),
        )
        .await;
    assert_eq!(accrual_then.status, StatusCode::OK, "{}", accrual_then.text);
    assert_eq!(
        money(&accrual_then.body["accounts"][0]),
        ["480.00", "0.00", "480.00", "480.00", "open"]
    );
}

/// A ledger with CNY and USD programs and settlements in several states (see the test).
async fn two_currency_app() -> TestApp {
    let app = app_with(&["KA-1", "KA-2"]).await;
    define(&app, program("USD-VOL", "USD")).await;
    app.open_account("KA-U", "USD").await;
    enroll(&app, "USD-VOL", "KA-U").await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "12000.00", "2025-02-01"),
            sale("KA-2", "INV-2", "5000.00", "2025-05-01"),
            sale("KA-U", "INV-U", "20000.00", "2025-03-01"),
        ],
    )
    .await;
    propose(&app, "KA-1", "2025-Q1", "partial").await;
    approve(&app, "VOL.KA-1.2025-Q1.1").await;
    sell(&app, vec![sale("KA-1", "INV-3", "40000.00", "2025-03-10")]).await;
    propose(&app, "KA-2", "2025-Q2", "partial").await;
    app
}

#[tokio::test]
async fn the_liability_report_lists_rows_and_totals_per_currency_in_json_and_csv() {
    // Proves the liability rows (entitlement, approved, pending, outstanding, status) and per-currency totals for a CNY and a USD program, in JSON and CSV, and that as_of leaves out periods not started by then.
    let app = two_currency_app().await;
    let report = liability(&app, "2025-12-31").await;
    assert_eq!(report["as_of"], "2025-12-31");
    let row = |program: &str, account: &str, period: &str, currency: &str, m: [&str; 5]| {
        json!({"kind": "rebate", "program_id": program, "account_id": account, "period": period,
            "currency": currency, "entitlement": m[0], "approved": m[1], "pending": m[2],
            "outstanding": m[3], "status": m[4]})
    };
    let cny_q1 = row(
        "VOL",
        "KA-1",
        "2025-Q1",
        "CNY",
        ["2600.00", "480.00", "0.00", "2120.00", "open"],
    );
    let cny_q2 = row(
        "VOL",
        "KA-2",
        "2025-Q2",
        "CNY",
        ["100.00", "0.00", "100.00", "100.00", "open"],
    );
    let usd_q1 = row(
        "USD-VOL",
        "KA-U",
        "2025-Q1",
        "USD",
        ["800.00", "0.00", "0.00", "800.00", "open"],
    );
    let mut rows = report["rows"].as_array().expect("rows").clone();
    rows.sort_by_key(|r| r.to_string());
    let mut expected = vec![cny_q1.clone(), cny_q2, usd_q1.clone()];
    expected.sort_by_key(|r| r.to_string());
    assert_eq!(rows, expected);
    assert_eq!(
        report["totals"],
        json!([
            {"currency": "CNY", "entitlement": "2700.00", "approved": "480.00",
             "pending": "100.00", "outstanding": "2220.00", "clawbacks_due": "0.00"},
            {"currency": "USD", "entitlement": "800.00", "approved": "0.00",
             "pending": "0.00", "outstanding": "800.00", "clawbacks_due": "0.00"}
        ])
    );

    // By the end of Q1 the Q2 period has not started.
    let q1 = liability(&app, "2025-03-31").await;
    let mut q1_rows = q1["rows"].as_array().expect("rows").clone();
    q1_rows.sort_by_key(|r| r.to_string());
    let mut q1_expected = vec![cny_q1, usd_q1];
    q1_expected.sort_by_key(|r| r.to_string());
    assert_eq!(q1_rows, q1_expected);
    assert_eq!(q1["totals"][0]["entitlement"], "2600.00");
    assert_eq!(q1["totals"][0]["pending"], "0.00");

    let csv = app
        .get(
            Role::Auditor,
            "/v1/reports/liability?as_of=2025-12-31&format=csv",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let mut lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines.remove(0),
        "kind,program_id,account_id,period,currency,entitlement,approved,pending,outstanding,status"
    );
    let totals: Vec<&str> = lines.split_off(3);
    lines.sort();
    assert_eq!(
        lines,
        [
            "rebate,USD-VOL,KA-U,2025-Q1,USD,800.00,0.00,0.00,800.00,open",
            "rebate,VOL,KA-1,2025-Q1,CNY,2600.00,480.00,0.00,2120.00,open",
            "rebate,VOL,KA-2,2025-Q2,CNY,100.00,0.00,100.00,100.00,open",
        ]
    );
    assert_eq!(
        totals,
        [
            "total,,,,CNY,2700.00,480.00,100.00,2220.00,clawbacks_due=0.00",
            "total,,,,USD,800.00,0.00,0.00,800.00,clawbacks_due=0.00",
        ]
    );

    let bad = app
        .get(
            Role::Auditor,
            "/v1/reports/liability?as_of=2025-12-31&format=xml",
        )
        .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, "invalid_query");
    let finance = app
        .get(Role::Finance, "/v1/reports/liability?as_of=2025-12-31")
        .await;
    assert_eq!(finance.status, StatusCode::OK, "{}", finance.text);
}

#[tokio::test]
async fn only_finance_and_admin_propose_approve_or_reject() {
    // Proves auditor, manager, ingest and planner get 403 on propose, approve and reject, and nothing is written.
    let app = app_with(&["KA-1"]).await;
    sell(&app, vec![sale("KA-1", "INV-1", "5000.00", "2025-02-01")]).await;
    propose(&app, "KA-1", "2025-Q1", "partial").await;
    let head = app.head();
    for role in [Role::Auditor, Role::Manager, Role::Ingest, Role::Planner] {
        let proposed = try_propose(&app, role, "KA-1", "2025-Q1", "partial").await;
        assert_problem(&proposed, StatusCode::FORBIDDEN, "forbidden");
        let approved = app
            .post(
                role,
                "/v1/settlements/VOL.KA-1.2025-Q1.1/approve",
                json!({}),
            )
            .await;
        assert_problem(&approved, StatusCode::FORBIDDEN, "forbidden");
        let rejected = app
            .post(
                role,
                "/v1/settlements/VOL.KA-1.2025-Q1.1/reject",
                json!({"reason": "no"}),
            )
            .await;
        assert_problem(&rejected, StatusCode::FORBIDDEN, "forbidden");
    }
    let anonymous = app
        .send(
            Method::POST,
            "/v1/settlements/VOL.KA-1.2025-Q1.1/approve",
            None,
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.head(), head, "a refused write wrote something");
    assert_eq!(
        settlement(&app, "VOL.KA-1.2025-Q1.1").await["status"],
        "proposed"
    );
}

/// Runs `kaledger report liability` on a stopped ledger; asserts success.
fn report_liability(data: &Path, as_of: &str, format: &str) -> String {
    let out = run_cli([
        "report".as_ref(),
        "liability".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--as-of".as_ref(),
        as_of.as_ref(),
        "--format".as_ref(),
        format.as_ref(),
    ]);
    assert!(
        out.success(),
        "report liability failed: {}\n{}",
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// POSTs on a real server and asserts the status.
fn post_ok(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let (got, reply) = http_post(client, base, token, path, &body);
    assert_eq!(got, status, "POST {path}: {reply}");
    reply
}

#[test]
fn the_report_liability_command_prints_what_the_server_reported() {
    // Proves `kaledger report liability` on a ledger made by the real binary prints the same JSON rows and totals as the HTTP report, with exact amounts, and the same CSV.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("ledger");
    let finance = cli_token(&data, "ops-finance", "finance");
    let admin = cli_token(&data, "ops-admin", "admin");
    let manager = cli_token(&data, "ops-manager", "manager");
    let ingest = cli_token(&data, "ops-ingest", "ingest");
    let server = Server::start(&data);
    let client = http_client();
    let base = server.base.clone();
    post_ok(
        &client,
        &base,
        &manager,
        "/v1/accounts",
        json!({"account_id": "KA-1", "name": "Account KA-1", "scope": "national", "currency": "CNY"}),
        201,
    );
    post_ok(
        &client,
        &base,
        &finance,
        "/v1/rebate-programs",
        program("VOL", "CNY"),
        201,
    );
    post_ok(
        &client,
        &base,
        &finance,
        "/v1/rebate-programs/VOL/enrollments",
        json!({"account_id": "KA-1", "effective_from": "2025-01-01"}),
        201,
    );
    post_ok(
        &client,
        &base,
        &ingest,
        "/v1/sales",
        json!({"lines": [sale("KA-1", "INV-1", "60000.00", "2025-02-01"),
                         sale("KA-1", "INV-2", "12000.00", "2025-05-01")]}),
        201,
    );
    let settlement = |kind: &str, period: &str| {
        json!({"program_id": "VOL", "account_id": "KA-1", "period": period, "kind": kind,
            "reference": "CN-1"})
    };
    post_ok(
        &client,
        &base,
        &finance,
        "/v1/settlements",
        settlement("final", "2025-Q1"),
        201,
    );
    post_ok(
        &client,
        &base,
        &admin,
        "/v1/settlements/VOL.KA-1.2025-Q1.1/approve",
        json!({}),
        200,
    );
    post_ok(
        &client,
        &base,
        &ingest,
        "/v1/returns",
        json!({"lines": [return_of("KA-1", "RET-1", "INV-1", "3", "15000.00", "2025-07-01")]}),
        201,
    );
    post_ok(
        &client,
        &base,
        &finance,
        "/v1/settlements",
        settlement("partial", "2025-Q2"),
        201,
    );
    let (status, over_http) = http_get(
        &client,
        &base,
        &admin,
        "/v1/reports/liability?as_of=2025-12-31",
    );
    assert_eq!(status, 200, "{over_http}");
    server.stop();

    let printed: Value =
        serde_json::from_str(&report_liability(&data, "2025-12-31", "json")).expect("json");
    assert_eq!(printed, over_http);
    assert_eq!(
        printed["rows"],
        json!([
            {"kind": "rebate", "program_id": "VOL", "account_id": "KA-1", "period": "2025-Q1",
             "currency": "CNY", "entitlement": "1800.00", "approved": "3000.00", "pending": "0.00",
             "outstanding": "-1200.00", "status": "final"},
            {"kind": "rebate", "program_id": "VOL", "account_id": "KA-1", "period": "2025-Q2",
             "currency": "CNY", "entitlement": "480.00", "approved": "0.00", "pending": "480.00",
             "outstanding": "480.00", "status": "open"}
        ])
    );
    assert_eq!(
        printed["totals"],
        json!([{"currency": "CNY", "entitlement": "2280.00", "approved": "3000.00",
            "pending": "480.00", "outstanding": "-720.00", "clawbacks_due": "1200.00"}])
    );
    let csv = report_liability(&data, "2025-12-31", "csv");
    assert_eq!(
        csv,
        "kind,program_id,account_id,period,currency,entitlement,approved,pending,outstanding,status\n\
         rebate,VOL,KA-1,2025-Q1,CNY,1800.00,3000.00,0.00,-1200.00,final\n\
         rebate,VOL,KA-1,2025-Q2,CNY,480.00,0.00,480.00,480.00,open\n\
         total,,,,CNY,2280.00,3000.00,480.00,-720.00,clawbacks_due=1200.00\n"
    );
    // Only Q1 had started by the end of March.
    let march: Value =
        serde_json::from_str(&report_liability(&data, "2025-03-31", "json")).expect("json");
    assert_eq!(march["rows"].as_array().expect("rows").len(), 1);
}

#[test]
fn the_report_liability_command_reads_the_demo_ledger() {
    // Proves `kaledger report liability` on a `kaledger demo --no-serve` ledger prints well-formed JSON and CSV (rebate rows and unpaid contest awards): each row's outstanding is entitlement − approved, totals add the rows per currency, the CSV has a line per row and total (structure only: the demo fixtures change).
    let dir = tempfile::tempdir().expect("temp dir");
    let demo_dir = dir.path().join("demo");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let out = run_cli([
        "demo".as_ref(),
        "--no-serve".as_ref(),
        "--data".as_ref(),
        demo_dir.as_os_str(),
        "--fixtures".as_ref(),
        fixtures.as_os_str(),
    ]);
    assert!(out.success(), "demo failed: {}\n{}", out.stdout, out.stderr);
    let ledger = demo_dir.join("ledger");
    let report: Value =
        serde_json::from_str(&report_liability(&ledger, "2030-12-31", "json")).expect("json");
    assert_eq!(report["as_of"], "2030-12-31");
    let rows = report["rows"].as_array().expect("rows");
    let totals = report["totals"].as_array().expect("totals");
    let mut sums: std::collections::BTreeMap<String, [Decimal; 5]> = Default::default();
    for r in rows {
        for key in ["program_id", "account_id", "period", "currency", "status"] {
            assert!(r[key].is_string(), "{key} in {r}");
        }
        match r["kind"].as_str() {
            Some("rebate") => assert!(r["status"] == "open" || r["status"] == "final", "{r}"),
            Some("contest_award") => assert_eq!(r["status"], "unpaid", "{r}"),
            _ => panic!("unknown kind in {r}"),
        }
        assert_eq!(
            dec(&r["outstanding"]),
            dec(&r["entitlement"]) - dec(&r["approved"]),
            "{r}"
        );
        let sum = sums
            .entry(r["currency"].as_str().expect("currency").to_string())
            .or_default();
        let outstanding = dec(&r["outstanding"]);
        sum[0] += dec(&r["entitlement"]);
        sum[1] += dec(&r["approved"]);
        sum[2] += dec(&r["pending"]);
        sum[3] += outstanding;
        if outstanding < Decimal::ZERO {
            sum[4] -= outstanding;
        }
    }
    assert_eq!(totals.len(), sums.len(), "{report}");
    for (total, (currency, sum)) in totals.iter().zip(&sums) {
        assert_eq!(total["currency"], currency.as_str());
        let got = [
            dec(&total["entitlement"]),
            dec(&total["approved"]),
            dec(&total["pending"]),
            dec(&total["outstanding"]),
            dec(&total["clawbacks_due"]),
        ];
        assert_eq!(&got, sum, "{total}");
    }
    let csv = report_liability(&ledger, "2030-12-31", "csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "kind,program_id,account_id,period,currency,entitlement,approved,pending,outstanding,status"
    );
    assert_eq!(lines.len(), 1 + rows.len() + totals.len());
    assert!(lines[1..=rows.len()]
        .iter()
        .all(
            |l| (l.starts_with("rebate,") || l.starts_with("contest_award,"))
                && l.split(',').count() == 10
        ));
    assert!(lines[1 + rows.len()..]
        .iter()
        .all(|l| l.starts_with("total,") && l.split(',').count() == 10));
}
