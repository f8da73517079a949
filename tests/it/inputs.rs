//! Inputs that used to slip through or leave traces: returns that complete a line, decimals
//! written with too many places or with whitespace, money rendered with its minor units, and
//! free text carrying control or bidi characters.

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{Reply, TestApp};

/// A sale line of KA-1 with its content spelled out (cost omitted when None).
fn sale_line(invoice: &str, quantity: &str, net: &str, cost: Option<&str>) -> Value {
    let mut l = json!({"account_id": "KA-1", "invoice_id": invoice, "line": 1, "sku": "SKU-1", "category": "beverages",
        "quantity": quantity, "net_amount": net, "occurred_on": "2026-03-15"});
    if let Some(c) = cost {
        l["cost_amount"] = json!(c);
    }
    l
}

/// A return line of KA-1 against line 1 of `invoice` (cost omitted).
fn return_line(return_id: &str, invoice: &str, quantity: &str, net: &str) -> Value {
    json!({"account_id": "KA-1", "return_id": return_id, "invoice_id": invoice, "line": 1,
        "quantity": quantity, "net_amount": net, "occurred_on": "2026-03-20"})
}

async fn post_lines(app: &TestApp, path: &str, lines: Vec<Value>) -> Reply {
    app.post(Role::Ingest, path, json!({"lines": lines})).await
}

#[track_caller]
fn assert_created(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
}

/// The stored cost_amount of every SaleReturned event, in log order.
async fn return_costs(app: &TestApp) -> Vec<String> {
    app.audit_events("type=SaleReturned")
        .await
        .iter()
        .map(|e| e["data"]["cost_amount"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_that_complete_a_line_take_the_cost_that_remains() {
    // Proves three 1-unit returns of a 3-unit sale costing 10.00 take 3.33, 3.33 and 3.34
    // (the last completes the line), so the month shows net, quantity and margin all zero,
    // in separate requests and within one batch.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let sales = vec![
        sale_line("INV-1", "3", "30.00", Some("10.00")),
        sale_line("INV-2", "3", "30.00", Some("10.00")),
    ];
    assert_created(&post_lines(&app, "/v1/sales", sales).await);
    for id in ["R1", "R2", "R3"] {
        let reply = post_lines(
            &app,
            "/v1/returns",
            vec![return_line(id, "INV-1", "1", "10.00")],
        )
        .await;
        assert_created(&reply);
    }
    let batch = ["B1", "B2", "B3"]
        .iter()
        .map(|id| return_line(id, "INV-2", "1", "10.00"))
        .collect();
    assert_created(&post_lines(&app, "/v1/returns", batch).await);
    assert_eq!(
        return_costs(&app).await,
        ["3.33", "3.33", "3.34", "3.33", "3.33", "3.34"]
    );
    let summary = app
        .get(
            Role::Manager,
            "/v1/accounts/KA-1/sales-summary?from=2026-03&to=2026-03",
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    let month = &summary.body["months"][0];
    assert_eq!(month["net_revenue"], "0.00", "{}", summary.text);
    assert_eq!(month["gross_margin"], "0.00", "{}", summary.text);
    assert_eq!(month["quantity"], "0", "{}", summary.text);
}
