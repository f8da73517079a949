//! Rebate programs, enrollments and accruals over HTTP (issue 4, DESIGN §5.4, §6), driven
//! in-process: the worked numbers of the contract, what counts (scope, enrollment days,
//! program days, returns against their sale's period), eligibility, `known_at`, validation
//! codes and role checks. Settlements and the liability report are not built yet.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, give_back, sell, TestApp};

/// The contract's tier table: 0 / 10,000 / 50,000 at 2 / 4 / 5 %.
fn volume_tiers() -> Value {
    json!([{"from": "0", "rate": "2"}, {"from": "10000", "rate": "4"}, {"from": "50000", "rate": "5"}])
}

/// A quarterly CNY program over 2026 measuring net revenue with the contract's tiers.
fn program(id: &str, method: &str) -> Value {
    json!({"program_id": id, "name": format!("Program {id}"), "currency": "CNY",
        "period": "quarterly", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "basis": "net_revenue", "method": method, "tiers": volume_tiers()})
}

/// A sale line with its sku, category, quantity, amounts and day.
#[allow(clippy::too_many_arguments)]
fn line(
    account: &str,
    invoice: &str,
    sku: &str,
    category: &str,
    quantity: &str,
    net: &str,
    cost: Option<&str>,
    occurred_on: &str,
) -> Value {
    let mut line = json!({"account_id": account, "invoice_id": invoice, "line": 1, "sku": sku,
        "category": category, "quantity": quantity, "net_amount": net, "occurred_on": occurred_on});
    if let Some(cost) = cost {
        line["cost_amount"] = json!(cost);
    }
    line
}

/// A one-line sale of SKU-1 (beverages), 10 units, net `net`, on `on`.
fn sale(account: &str, invoice: &str, net: &str, on: &str) -> Value {
    line(account, invoice, "SKU-1", "beverages", "10", net, None, on)
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

/// An app with CNY accounts opened.
async fn app_with(accounts: &[&str]) -> TestApp {
    let app = TestApp::new().await;
    for account in accounts {
        app.open_account(account, "CNY").await;
    }
    app
}

/// Defines a program as finance and asserts 201.
async fn define(app: &TestApp, body: Value) -> Value {
    let reply = app.post(Role::Finance, "/v1/rebate-programs", body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// Enrolls an account as finance and asserts 201.
async fn enroll(app: &TestApp, program: &str, account: &str, from: &str) {
    let reply = app
        .post(
            Role::Finance,
            &format!("/v1/rebate-programs/{program}/enrollments"),
            json!({"account_id": account, "effective_from": from}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

/// A program's accruals for a period, read as an auditor (asserts 200).
async fn accruals(app: &TestApp, program: &str, query: &str) -> Value {
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/rebate-programs/{program}/accruals?{query}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

/// The accrual row of one account in a program's period.
async fn row(app: &TestApp, program: &str, period: &str, account: &str) -> Value {
    let body = accruals(app, program, &format!("period={period}")).await;
    body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|r| r["account_id"] == account)
        .unwrap_or_else(|| panic!("no row for {account} in {body}"))
        .clone()
}

/// (basis, lines, entitlement) of a row.
fn summary(row: &Value) -> (String, u64, String) {
    (
        row["basis"].as_str().expect("basis").to_string(),
        row["lines"].as_u64().expect("lines"),
        row["entitlement"]
            .as_str()
            .expect("entitlement")
            .to_string(),
    )
}

/// The account ids listed in an accruals answer.
fn account_ids(body: &Value) -> Vec<String> {
    body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|r| r["account_id"].as_str().expect("id").to_string())
        .collect()
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
async fn worked_numbers_of_the_contract_come_out_of_the_api() {
    // Proves the contract's numbers through the API: basis 60,000 gives 3000.00 all-units and 2300.00 incremental, 9,999 gives 199.98 both, 10,000 gives 400.00 vs 200.00.
    let app = app_with(&["KA-1", "KA-2", "KA-3"]).await;
    define(&app, program("VOL-A", "all_units")).await;
    define(&app, program("VOL-I", "incremental")).await;
    for account in ["KA-1", "KA-2", "KA-3"] {
        enroll(&app, "VOL-A", account, "2026-01-01").await;
        enroll(&app, "VOL-I", account, "2026-01-01").await;
    }
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "25000.00", "2026-04-01"),
            sale("KA-1", "INV-2", "30000.00", "2026-05-15"),
            sale("KA-1", "INV-3", "5000.00", "2026-06-30"),
            sale("KA-2", "INV-4", "9999.00", "2026-04-20"),
            sale("KA-3", "INV-5", "10000.00", "2026-06-01"),
        ],
    )
    .await;

    let all_units = accruals(&app, "VOL-A", "period=2026-Q2").await;
    assert_eq!(all_units["program_id"], "VOL-A");
    assert_eq!(all_units["period"], "2026-Q2");
    assert_eq!(all_units["period_start"], "2026-04-01");
    assert_eq!(all_units["period_end"], "2026-06-30");
    assert_eq!(account_ids(&all_units), ["KA-1", "KA-2", "KA-3"]);
    let first = &all_units["accounts"][0];
    assert_eq!(first["account_id"], "KA-1");
    assert_eq!(first["basis"], "60000.00");
    assert_eq!(first["lines"], 3);
    assert_eq!(first["tier_index"], 2);
    assert_eq!(first["rate"], "5");
    assert_eq!(first["entitlement"], "3000.00");
    assert_eq!(first["capped"], false);
    assert_eq!(first["eligible"], true);
    assert_eq!(first["reason"], Value::Null);
    assert_eq!(first["approved"], "0.00");
    assert_eq!(first["pending"], "0.00");
    assert_eq!(first["outstanding"], "3000.00");
    assert_eq!(first["status"], "open");
    assert_eq!(first["arithmetic"], "60000.00 × 5% = 3000.00");
    let second = &all_units["accounts"][1];
    assert_eq!(
        (
            &second["tier_index"],
            &second["rate"],
            &second["entitlement"]
        ),
        (&json!(0), &json!("2"), &json!("199.98"))
    );
    let third = &all_units["accounts"][2];
    assert_eq!(
        (&third["tier_index"], &third["rate"], &third["entitlement"]),
        (&json!(1), &json!("4"), &json!("400.00"))
    );

    let incremental = accruals(&app, "VOL-I", "period=2026-Q2").await;
    let first = &incremental["accounts"][0];
    assert_eq!(first["basis"], "60000.00");
    assert_eq!(first["tier_index"], 2);
    assert_eq!(first["rate"], "5");
    assert_eq!(first["entitlement"], "2300.00");
    assert_eq!(first["outstanding"], "2300.00");
    assert_eq!(
        first["arithmetic"],
        "10000.00 × 2% + 40000.00 × 4% + 10000.00 × 5% = 2300.00"
    );
    assert_eq!(incremental["accounts"][1]["entitlement"], "199.98");
    assert_eq!(incremental["accounts"][2]["entitlement"], "200.00");

    // The other quarters of the year hold nothing for them.
    let q1 = row(&app, "VOL-A", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&q1), ("0.00".into(), 0, "0.00".into()));
    assert_eq!(
        (&q1["approved"], &q1["pending"], &q1["outstanding"]),
        (&json!("0.00"), &json!("0.00"), &json!("0.00"))
    );
}

#[tokio::test]
async fn a_cap_replaces_a_larger_rebate_before_the_one_rounding() {
    // Proves a cap per account and period replaces a larger exact rebate (capped true) and leaves a smaller one alone.
    let app = app_with(&["KA-1", "KA-2"]).await;
    let mut body = program("CAP", "all_units");
    body["cap"] = json!("2500.00");
    let defined = define(&app, body).await;
    assert_eq!(defined["cap"], "2500.00");
    enroll(&app, "CAP", "KA-1", "2026-01-01").await;
    enroll(&app, "CAP", "KA-2", "2026-01-01").await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "60000.00", "2026-02-01"),
            sale("KA-2", "INV-2", "49999.99", "2026-02-01"),
        ],
    )
    .await;
    let capped = row(&app, "CAP", "2026-Q1", "KA-1").await;
    assert_eq!(capped["entitlement"], "2500.00");
    assert_eq!(capped["capped"], true);
    assert_eq!(capped["outstanding"], "2500.00");
    assert_eq!(
        capped["arithmetic"],
        "60000.00 × 5% = 3000.00, capped at 2500.00"
    );
    // 49,999.99 × 4 % = 1999.9996, under the cap, rounded once to 2000.00.
    let under = row(&app, "CAP", "2026-Q1", "KA-2").await;
    assert_eq!(under["entitlement"], "2000.00");
    assert_eq!(under["capped"], false);
    assert_eq!(
        under["arithmetic"],
        "49999.99 × 4% = 1999.9996, rounded to 2000.00"
    );
}

#[tokio::test]
async fn a_return_after_the_period_lowers_the_basis_of_its_sales_period() {
    // Proves a return dated in Q2 of a Q1 sale lowers the Q1 basis (tier and all) and not the Q2 one.
    let app = app_with(&["KA-1"]).await;
    define(&app, program("VOL", "all_units")).await;
    enroll(&app, "VOL", "KA-1", "2026-01-01").await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "12000.00", "2026-03-20"),
            sale("KA-1", "INV-2", "1000.00", "2026-04-15"),
        ],
    )
    .await;
    let before = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&before), ("12000.00".into(), 1, "480.00".into()));
    give_back(
        &app,
        vec![return_of(
            "KA-1",
            "RET-1",
            "INV-1",
            "5",
            "3000.00",
            "2026-04-10",
        )],
    )
    .await;
    // 9,000 falls back below the 10,000 tier: 2 % of it.
    let q1 = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&q1), ("9000.00".into(), 2, "180.00".into()));
    assert_eq!(q1["tier_index"], 0);
    let q2 = row(&app, "VOL", "2026-Q2", "KA-1").await;
    assert_eq!(summary(&q2), ("1000.00".into(), 1, "20.00".into()));
}

#[tokio::test]
async fn scope_by_category_and_by_sku_counts_only_matching_lines_and_their_returns() {
    // Proves a category scope counts only lines of its categories, a sku scope only its skus, and a return counts only when its sale did.
    let app = app_with(&["KA-1"]).await;
    let mut by_category = program("CAT", "all_units");
    by_category["scope"] = json!({"categories": ["beverages"]});
    define(&app, by_category).await;
    let mut by_sku = program("SKU", "all_units");
    by_sku["scope"] = json!({"skus": ["SKU-A", "SKU-X"]});
    let defined = define(&app, by_sku).await;
    assert_eq!(defined["scope_skus"], json!(["SKU-A", "SKU-X"]));
    assert_eq!(defined["scope_categories"], json!([]));
    enroll(&app, "CAT", "KA-1", "2026-01-01").await;
    enroll(&app, "SKU", "KA-1", "2026-01-01").await;
    sell(
        &app,
        vec![
            line(
                "KA-1",
                "INV-A",
                "SKU-A",
                "beverages",
                "1",
                "1000.00",
                None,
                "2026-05-01",
            ),
            line(
                "KA-1",
                "INV-B",
                "SKU-B",
                "beverages",
                "1",
                "2000.00",
                None,
                "2026-05-01",
            ),
            line(
                "KA-1",
                "INV-C",
                "SKU-C",
                "snacks",
                "1",
                "4000.00",
                None,
                "2026-05-01",
            ),
        ],
    )
    .await;
    give_back(
        &app,
        vec![
            return_of("KA-1", "RET-B", "INV-B", "1", "500.00", "2026-05-02"),
            return_of("KA-1", "RET-C", "INV-C", "1", "1000.00", "2026-05-02"),
        ],
    )
    .await;
    // Beverages: 1000 + 2000 − 500 over three lines; the snacks sale and its return stay out.
    let category = row(&app, "CAT", "2026-Q2", "KA-1").await;
    assert_eq!(summary(&category), ("2500.00".into(), 3, "50.00".into()));
    // SKU-A only.
    let sku = row(&app, "SKU", "2026-Q2", "KA-1").await;
    assert_eq!(summary(&sku), ("1000.00".into(), 1, "20.00".into()));
}

#[tokio::test]
async fn enrollment_counts_sales_from_its_first_day_and_retroactively() {
    // Proves sales dated before effective_from never count (nor their returns), sales from that day on count, including those recorded before the enrollment event.
    let app = app_with(&["KA-1", "KA-2"]).await;
    define(&app, program("VOL", "all_units")).await;
    // Recorded before the enrollment exists.
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "100.00", "2026-01-31"),
            sale("KA-1", "INV-2", "200.00", "2026-02-01"),
            sale("KA-1", "INV-3", "400.00", "2026-02-10"),
        ],
    )
    .await;
    enroll(&app, "VOL", "KA-1", "2026-02-01").await;
    let retro = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&retro), ("600.00".into(), 2, "12.00".into()));
    // Recorded after the enrollment: the day before still does not count.
    sell(
        &app,
        vec![
            sale("KA-1", "INV-4", "800.00", "2026-01-15"),
            sale("KA-1", "INV-5", "1600.00", "2026-03-31"),
        ],
    )
    .await;
    let after = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&after), ("2200.00".into(), 3, "44.00".into()));
    // A return of the uncounted sale of 2026-01-31 does not count either.
    give_back(
        &app,
        vec![return_of(
            "KA-1",
            "RET-1",
            "INV-1",
            "1",
            "50.00",
            "2026-02-20",
        )],
    )
    .await;
    let after = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&after), ("2200.00".into(), 3, "44.00".into()));
    let enrollments = app
        .get(Role::Auditor, "/v1/rebate-programs/VOL/enrollments")
        .await;
    assert_eq!(enrollments.status, StatusCode::OK, "{}", enrollments.text);
    assert_eq!(
        enrollments.body,
        json!({"program_id": "VOL", "enrollments": [
            {"account_id": "KA-1", "effective_from": "2026-02-01", "effective_to": null}]})
    );
    // An account never enrolled is not listed at all.
    let all = accruals(&app, "VOL", "period=2026-Q1").await;
    assert_eq!(account_ids(&all), ["KA-1"]);
}

#[tokio::test]
async fn unenrollment_stops_counting_after_effective_to_and_reenrollment_resumes() {
    // Proves lines up to effective_to count and later ones do not, a return of a counted sale still counts, and a later re-enrollment counts again.
    let app = app_with(&["KA-1"]).await;
    define(&app, program("VOL", "all_units")).await;
    enroll(&app, "VOL", "KA-1", "2026-01-01").await;
    sell(&app, vec![sale("KA-1", "INV-1", "1000.00", "2026-02-15")]).await;
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/enrollments/KA-1/end",
            json!({"effective_to": "2026-02-15"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["enrollments"],
        json!([{"account_id": "KA-1", "effective_from": "2026-01-01", "effective_to": "2026-02-15"}])
    );
    sell(
        &app,
        vec![
            sale("KA-1", "INV-2", "2000.00", "2026-02-16"),
            sale("KA-1", "INV-3", "4000.00", "2026-03-05"),
        ],
    )
    .await;
    give_back(
        &app,
        vec![return_of(
            "KA-1",
            "RET-1",
            "INV-1",
            "1",
            "100.00",
            "2026-03-01",
        )],
    )
    .await;
    let q1 = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&q1), ("900.00".into(), 2, "18.00".into()));
    // Not enrolled in Q2 at all: not listed.
    let q2 = accruals(&app, "VOL", "period=2026-Q2").await;
    assert_eq!(account_ids(&q2), Vec::<String>::new());
    // Re-enrolling overlapping the old span is refused; from a later day it counts again.
    let overlapping = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/enrollments",
            json!({"account_id": "KA-1", "effective_from": "2026-02-15"}),
        )
        .await;
    assert_problem(
        &overlapping,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&overlapping),
        [(
            None,
            "effective_from".to_string(),
            "overlapping_enrollment".to_string()
        )]
    );
    enroll(&app, "VOL", "KA-1", "2026-03-01").await;
    let again = row(&app, "VOL", "2026-Q1", "KA-1").await;
    assert_eq!(summary(&again), ("4900.00".into(), 3, "98.00".into()));
    // Ending an enrollment that is not open.
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/enrollments/KA-9/end",
            json!({"effective_to": "2026-03-31"}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "not_enrolled");
}

#[tokio::test]
async fn an_early_end_stops_counting_later_lines_and_shortens_the_last_period() {
    // Proves an early end keeps lines up to the new last day, drops later ones (recorded before or after the end), clips the period and refuses later periods.
    let app = app_with(&["KA-1"]).await;
    define(&app, program("VOL", "all_units")).await;
    enroll(&app, "VOL", "KA-1", "2026-01-01").await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "1000.00", "2026-05-15"),
            sale("KA-1", "INV-2", "2000.00", "2026-05-16"),
        ],
    )
    .await;
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/end",
            json!({"ends_on": "2026-05-15", "reason": "budget cut"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["ends_on"], "2026-05-15");
    assert_eq!(reply.body["defined_ends_on"], "2026-12-31");
    assert_eq!(reply.body["ended_reason"], "budget cut");
    sell(&app, vec![sale("KA-1", "INV-3", "4000.00", "2026-06-01")]).await;
    let q2 = accruals(&app, "VOL", "period=2026-Q2").await;
    assert_eq!(q2["period_start"], "2026-04-01");
    assert_eq!(q2["period_end"], "2026-05-15");
    assert_eq!(
        summary(&q2["accounts"][0]),
        ("1000.00".into(), 1, "20.00".into())
    );
    let q3 = app
        .get(
            Role::Auditor,
            "/v1/rebate-programs/VOL/accruals?period=2026-Q3",
        )
        .await;
    assert_problem(
        &q3,
        StatusCode::UNPROCESSABLE_ENTITY,
        "period_outside_program",
    );
    let again = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/end",
            json!({"ends_on": "2026-05-01", "reason": "again"}),
        )
        .await;
    assert_problem(&again, StatusCode::CONFLICT, "program_ended");
}

#[tokio::test]
async fn gross_margin_and_quantity_bases_measure_margin_and_units() {
    // Proves gross_margin measures net − cost (a line without cost counts zero margin) and quantity measures units at an amount per unit, returns included.
    let app = app_with(&["KA-1"]).await;
    let mut margin = program("MARGIN", "all_units");
    margin["basis"] = json!("gross_margin");
    margin["tiers"] = json!([{"from": "0", "rate": "10"}]);
    define(&app, margin).await;
    for (id, method) in [("UNITS-A", "all_units"), ("UNITS-I", "incremental")] {
        let mut units = program(id, method);
        units["basis"] = json!("quantity");
        units["tiers"] = json!([{"from": "0", "rate": "0.50"}, {"from": "100", "rate": "0.75"}]);
        define(&app, units).await;
    }
    for id in ["MARGIN", "UNITS-A", "UNITS-I"] {
        enroll(&app, id, "KA-1", "2026-01-01").await;
    }
    sell(
        &app,
        vec![
            line(
                "KA-1",
                "INV-1",
                "SKU-1",
                "beverages",
                "80",
                "1000.00",
                Some("600.00"),
                "2026-07-01",
            ),
            line(
                "KA-1",
                "INV-2",
                "SKU-2",
                "beverages",
                "40",
                "500.00",
                None,
                "2026-08-01",
            ),
        ],
    )
    .await;
    let margin = row(&app, "MARGIN", "2026-Q3", "KA-1").await;
    assert_eq!(summary(&margin), ("400.00".into(), 2, "40.00".into()));
    // 120 units: all-units 120 × 0.75, incremental 100 × 0.50 + 20 × 0.75.
    let all_units = row(&app, "UNITS-A", "2026-Q3", "KA-1").await;
    assert_eq!(summary(&all_units), ("120".into(), 2, "90.00".into()));
    assert_eq!(all_units["rate"], "0.75");
    let incremental = row(&app, "UNITS-I", "2026-Q3", "KA-1").await;
    assert_eq!(summary(&incremental), ("120".into(), 2, "65.00".into()));
    // 30 units back with 300.00 net and 150.00 cost: 90 units, margin 400 − 150.
    give_back(
        &app,
        vec![json!({"account_id": "KA-1", "return_id": "RET-1", "invoice_id": "INV-1", "line": 1,
            "quantity": "30", "net_amount": "300.00", "cost_amount": "150.00", "occurred_on": "2026-10-02"})],
    )
    .await;
    let margin = row(&app, "MARGIN", "2026-Q3", "KA-1").await;
    assert_eq!(summary(&margin), ("250.00".into(), 3, "25.00".into()));
    let all_units = row(&app, "UNITS-A", "2026-Q3", "KA-1").await;
    assert_eq!(summary(&all_units), ("90".into(), 3, "45.00".into()));
    let incremental = row(&app, "UNITS-I", "2026-Q3", "KA-1").await;
    assert_eq!(summary(&incremental), ("90".into(), 3, "45.00".into()));
}

#[tokio::test]
async fn an_account_outside_the_eligible_tiers_earns_zero_with_the_reason() {
    // Proves an account whose tier at period end is not eligible gets entitlement 0.00 with a reason while its basis still shows, and an eligible one earns.
    let app = app_with(&["KA-1", "KA-2"]).await;
    let reply = app
        .post(
            Role::Admin,
            "/v1/tier-policy",
            json!({"effective_from": "2025-01-01", "window_months": 12, "tiers": [
                {"name": "gold", "criteria": {"min_net_revenue": "100000"},
                 "entitlements": {"max_discount_pct": "5", "supply_priority": 1, "contest_eligible": true}},
                {"name": "bronze", "criteria": {},
                 "entitlements": {"max_discount_pct": "1", "supply_priority": 2, "contest_eligible": true}}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let mut body = program("TOP", "all_units");
    body["eligible_tiers"] = json!(["gold"]);
    define(&app, body).await;
    enroll(&app, "TOP", "KA-1", "2026-01-01").await;
    enroll(&app, "TOP", "KA-2", "2026-01-01").await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "120000.00", "2026-02-01"),
            sale("KA-2", "INV-2", "20000.00", "2026-02-01"),
        ],
    )
    .await;
    let gold = row(&app, "TOP", "2026-Q1", "KA-1").await;
    assert_eq!(gold["eligible"], true);
    assert_eq!(gold["reason"], Value::Null);
    assert_eq!(gold["entitlement"], "6000.00");
    let bronze = row(&app, "TOP", "2026-Q1", "KA-2").await;
    assert_eq!(bronze["eligible"], false);
    assert_eq!(bronze["basis"], "20000.00");
    assert_eq!(bronze["entitlement"], "0.00");
    assert_eq!(bronze["outstanding"], "0.00");
    assert_eq!(bronze["capped"], false);
    assert_eq!(
        bronze["reason"],
        "tier bronze on 2026-03-31 is not eligible (eligible: gold)"
    );
}

#[tokio::test]
async fn a_period_of_the_wrong_kind_or_outside_the_program_is_refused() {
    // Proves period_mismatch for a month or year asked of a quarterly program, period_outside_program before or after it, 400 for a malformed period, 404 for an unknown program.
    let app = app_with(&["KA-1"]).await;
    let mut body = program("VOL", "all_units");
    body["starts_on"] = json!("2026-02-15");
    body["ends_on"] = json!("2026-06-30");
    define(&app, body).await;
    enroll(&app, "VOL", "KA-1", "2026-01-01").await;
    for period in ["2026-05", "2026"] {
        let reply = app
            .get(
                Role::Auditor,
                &format!("/v1/rebate-programs/VOL/accruals?period={period}"),
            )
            .await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "period_mismatch");
    }
    for period in ["2025-Q4", "2026-Q3"] {
        let reply = app
            .get(
                Role::Auditor,
                &format!("/v1/rebate-programs/VOL/accruals?period={period}"),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "period_outside_program",
        );
    }
    let reply = app
        .get(
            Role::Auditor,
            "/v1/rebate-programs/VOL/accruals?period=2026-Q5",
        )
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_period");
    let reply = app
        .get(
            Role::Auditor,
            "/v1/rebate-programs/NOPE/accruals?period=2026-Q1",
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "program_not_found");
    // The first quarter is clipped to the program's first day; a sale before it does not count.
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "100.00", "2026-02-14"),
            sale("KA-1", "INV-2", "300.00", "2026-02-15"),
        ],
    )
    .await;
    let q1 = accruals(&app, "VOL", "period=2026-Q1").await;
    assert_eq!(q1["period_start"], "2026-02-15");
    assert_eq!(q1["period_end"], "2026-03-31");
    assert_eq!(
        summary(&q1["accounts"][0]),
        ("300.00".into(), 1, "6.00".into())
    );
}

#[tokio::test]
async fn known_at_answers_as_the_ledger_stood_before_a_late_sale() {
    // Proves known_at reads the accrual (and the enrollments) as recorded at that instant: before a late sale its basis and tier are lower, before the enrollment the account is absent.
    let app = app_with(&["KA-1"]).await;
    define(&app, program("VOL", "all_units")).await;
    let before_enrollment = instant_between_writes().await;
    enroll(&app, "VOL", "KA-1", "2026-01-01").await;
    sell(&app, vec![sale("KA-1", "INV-1", "12000.00", "2026-04-10")]).await;
    let before_late_sale = instant_between_writes().await;
    sell(&app, vec![sale("KA-1", "INV-2", "40000.00", "2026-05-20")]).await;

    let then = accruals(
        &app,
        "VOL",
        &format!("period=2026-Q2&known_at={before_late_sale}"),
    )
    .await;
    let then_row = &then["accounts"][0];
    assert_eq!(summary(then_row), ("12000.00".into(), 1, "480.00".into()));
    assert_eq!(then_row["tier_index"], 1);
    let now = row(&app, "VOL", "2026-Q2", "KA-1").await;
    assert_eq!(summary(&now), ("52000.00".into(), 2, "2600.00".into()));
    assert_eq!(now["tier_index"], 2);
    let earlier = accruals(
        &app,
        "VOL",
        &format!("period=2026-Q2&known_at={before_enrollment}"),
    )
    .await;
    assert_eq!(account_ids(&earlier), Vec::<String>::new());
}

#[tokio::test]
async fn program_validation_refuses_bad_tables_dates_scopes_and_enrollments_with_stable_codes() {
    // Proves each invalid program or enrollment is refused with its 422/409/404 code and the field it is about.
    let app = app_with(&["KA-1"]).await;
    app.open_account("KA-EUR", "EUR").await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            json!({"tiers": [{"from": "100", "rate": "2"}]}),
            vec![("tiers[0].from", "first_tier_not_zero")],
        ),
        (
            json!({"tiers": [{"from": "0", "rate": "2"}, {"from": "500", "rate": "3"}, {"from": "500", "rate": "4"}]}),
            vec![("tiers[2].from", "tiers_not_increasing")],
        ),
        (
            json!({"tiers": [{"from": "0", "rate": "-1"}]}),
            vec![("tiers[0].rate", "negative_rate")],
        ),
        (
            json!({"currency": "XYZ"}),
            vec![("currency", "unknown_currency")],
        ),
        (
            json!({"starts_on": "2026-06-30", "ends_on": "2026-06-30"}),
            vec![("ends_on", "ends_before_start")],
        ),
        (
            json!({"scope": {"skus": []}}),
            vec![("scope.skus", "empty_scope")],
        ),
        (
            json!({"scope": {"categories": []}, "eligible_tiers": []}),
            vec![
                ("scope.categories", "empty_scope"),
                ("eligible_tiers", "empty_scope"),
            ],
        ),
    ];
    for (i, (change, expected)) in cases.into_iter().enumerate() {
        let mut body = program(&format!("BAD-{i}"), "all_units");
        for (key, value) in change.as_object().expect("object") {
            body[key] = value.clone();
        }
        let reply = app.post(Role::Finance, "/v1/rebate-programs", body).await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        let expected: Vec<(Option<u64>, String, String)> = expected
            .into_iter()
            .map(|(field, code)| (None, field.to_string(), code.to_string()))
            .collect();
        assert_eq!(error_triples(&reply), expected, "case {i}: {}", reply.text);
    }
    // Nothing refused was recorded.
    let list = app.get(Role::Auditor, "/v1/rebate-programs").await;
    assert_eq!(list.body["programs"], json!([]));

    define(&app, program("VOL", "all_units")).await;
    let twice = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program("VOL", "incremental"),
        )
        .await;
    assert_problem(&twice, StatusCode::CONFLICT, "program_exists");

    let mismatch = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/enrollments",
            json!({"account_id": "KA-EUR", "effective_from": "2026-01-01"}),
        )
        .await;
    assert_problem(
        &mismatch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&mismatch),
        [(
            None,
            "account_id".to_string(),
            "currency_mismatch".to_string()
        )]
    );
    enroll(&app, "VOL", "KA-1", "2026-01-01").await;
    let again = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/VOL/enrollments",
            json!({"account_id": "KA-1", "effective_from": "2026-03-01"}),
        )
        .await;
    assert_problem(&again, StatusCode::CONFLICT, "already_enrolled");
    let unknown = app
        .post(
            Role::Finance,
            "/v1/rebate-programs/NOPE/enrollments",
            json!({"account_id": "KA-1", "effective_from": "2026-01-01"}),
        )
        .await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "program_not_found");
    let missing = app.get(Role::Auditor, "/v1/rebate-programs/NOPE").await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "program_not_found");

    for ends_on in ["2025-12-31", "2026-12-31", "2027-03-01"] {
        let reply = app
            .post(
                Role::Finance,
                "/v1/rebate-programs/VOL/end",
                json!({"ends_on": ends_on, "reason": "wrong day"}),
            )
            .await;
        assert_problem(
            &reply,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert_eq!(
            error_triples(&reply),
            [(None, "ends_on".to_string(), "invalid_end_date".to_string())],
            "ends_on {ends_on}"
        );
    }
    // Programs are immutable: the stream holds the definition and the enrollment only.
    let program = app.get(Role::Auditor, "/v1/rebate-programs/VOL").await;
    assert_eq!(program.status, StatusCode::OK, "{}", program.text);
    assert_eq!(program.body["method"], "all_units");
    assert_eq!(program.body["ends_on"], "2026-12-31");
    assert_eq!(program.body["ended_reason"], Value::Null);
    assert_eq!(program.body["enrolled_accounts"], 1);
    assert_eq!(program.body["version"], 2);
}

#[tokio::test]
async fn only_finance_and_admin_write_programs_and_enrollments() {
    // Proves program and enrollment writes are 403 for auditor, manager, planner and ingest, 401 without a token, and allowed for finance and admin; every role but ingest may read.
    let app = app_with(&["KA-1"]).await;
    for role in [Role::Auditor, Role::Manager, Role::Planner, Role::Ingest] {
        let reply = app
            .post(role, "/v1/rebate-programs", program("P-X", "all_units"))
            .await;
        assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
    }
    let anonymous = app
        .send(
            Method::POST,
            "/v1/rebate-programs",
            None,
            &[("content-type", "application/json")],
            program("P-X", "all_units").to_string().into_bytes(),
        )
        .await;
    assert_problem(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
    define(&app, program("P-F", "all_units")).await;
    let by_admin = app
        .post(
            Role::Admin,
            "/v1/rebate-programs",
            program("P-A", "all_units"),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::CREATED, "{}", by_admin.text);

    for role in [Role::Auditor, Role::Manager, Role::Planner, Role::Ingest] {
        let writes = [
            (
                "/v1/rebate-programs/P-F/enrollments",
                json!({"account_id": "KA-1", "effective_from": "2026-01-01"}),
            ),
            (
                "/v1/rebate-programs/P-F/enrollments/KA-1/end",
                json!({"effective_to": "2026-03-31"}),
            ),
            (
                "/v1/rebate-programs/P-F/end",
                json!({"ends_on": "2026-06-30", "reason": "no"}),
            ),
        ];
        for (path, body) in writes {
            let reply = app.post(role, path, body).await;
            assert_problem(&reply, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    let reply = app
        .post(
            Role::Admin,
            "/v1/rebate-programs/P-F/enrollments",
            json!({"account_id": "KA-1", "effective_from": "2026-01-01"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    // Nothing the refused callers sent was recorded.
    let enrollments = app
        .get(Role::Manager, "/v1/rebate-programs/P-F/enrollments")
        .await;
    assert_eq!(
        enrollments.body["enrollments"],
        json!([{"account_id": "KA-1", "effective_from": "2026-01-01", "effective_to": null}])
    );
    // Ingest records sales and returns only, so it may not read programs either.
    let ingest = app.get(Role::Ingest, "/v1/rebate-programs").await;
    assert_problem(&ingest, StatusCode::FORBIDDEN, "forbidden");
    for role in [Role::Auditor, Role::Manager, Role::Planner, Role::Finance] {
        let list = app.get(role, "/v1/rebate-programs").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let ids: Vec<&str> = list.body["programs"]
            .as_array()
            .expect("programs")
            .iter()
            .map(|p| p["program_id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, ["P-A", "P-F"]);
    }
}

#[tokio::test]
async fn account_rebates_lists_every_program_period_overlapping_the_asked_one() {
    // Proves /v1/accounts/{id}/rebates?period=2026 lists each quarter of a quarterly program and the year of an annual one, each with its own basis and entitlement.
    let app = app_with(&["KA-1"]).await;
    define(&app, program("QTR", "all_units")).await;
    let mut annual = program("YEAR", "incremental");
    annual["period"] = json!("annual");
    define(&app, annual).await;
    enroll(&app, "QTR", "KA-1", "2026-01-01").await;
    enroll(&app, "YEAR", "KA-1", "2026-01-01").await;
    sell(
        &app,
        vec![
            sale("KA-1", "INV-1", "5000.00", "2026-02-01"),
            sale("KA-1", "INV-2", "20000.00", "2026-05-01"),
            sale("KA-1", "INV-3", "60000.00", "2026-08-01"),
        ],
    )
    .await;
    let reply = app
        .get(Role::Auditor, "/v1/accounts/KA-1/rebates?period=2026")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["account_id"], "KA-1");
    assert_eq!(reply.body["period"], "2026");
    let rows: Vec<(String, String, String, String)> = reply.body["accruals"]
        .as_array()
        .expect("accruals")
        .iter()
        .map(|r| {
            (
                r["program_id"].as_str().expect("program").to_string(),
                r["period"].as_str().expect("period").to_string(),
                r["basis"].as_str().expect("basis").to_string(),
                r["entitlement"].as_str().expect("entitlement").to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String)> = [
        ("QTR", "2026-Q1", "5000.00", "100.00"),
        ("QTR", "2026-Q2", "20000.00", "800.00"),
        ("QTR", "2026-Q3", "60000.00", "3000.00"),
        ("QTR", "2026-Q4", "0.00", "0.00"),
        // 85,000: 10,000 × 2 % + 40,000 × 4 % + 35,000 × 5 %.
        ("YEAR", "2026", "85000.00", "3550.00"),
    ]
    .iter()
    .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
    .collect();
    assert_eq!(rows, expected);
    // A quarter asks one row per program; a month asks the program period holding it.
    let reply = app
        .get(Role::Auditor, "/v1/accounts/KA-1/rebates?period=2026-05")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let periods: Vec<&str> = reply.body["accruals"]
        .as_array()
        .expect("accruals")
        .iter()
        .map(|r| r["period"].as_str().expect("period"))
        .collect();
    assert_eq!(periods, ["2026-Q2", "2026"]);
    let unknown = app
        .get(Role::Auditor, "/v1/accounts/KA-9/rebates?period=2026")
        .await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "account_not_found");
}
