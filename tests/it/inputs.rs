//! Inputs that used to slip through or leave traces: returns that complete a line, decimals
//! written with too many places or with whitespace, money rendered with its minor units, and
//! free text carrying control or bidi characters.

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, Reply, TestApp};

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

/// A program body of CNY with one 2 % tier from 0 and the given cap.
fn program_with_cap(id: &str, cap: &str) -> Value {
    json!({"program_id": id, "name": format!("Program {id}"), "currency": "CNY",
        "period": "quarterly", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "basis": "net_revenue", "method": "all_units", "tiers": [{"from": "0", "rate": "2"}], "cap": cap})
}

/// A CNY contest body with one cash prize of `amount` and the given min_metric.
fn contest_with(id: &str, metric: &str, amount: &str, min_metric: &str) -> Value {
    json!({"contest_id": id, "name": format!("Contest {id}"), "currency": "CNY",
        "starts_on": "2026-01-01", "ends_on": "2026-03-31", "metric": metric, "min_metric": min_metric,
        "prizes": [{"rank": 1, "kind": "cash", "amount": amount}]})
}

/// The (index, field, code) of each error of a refusal.
fn triples(reply: &Reply) -> Vec<(Option<u64>, String, String)> {
    crate::support::error_triples(reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amounts_with_more_places_than_the_currency_are_refused_as_written() {
    // Proves trailing zeros count: "5.1000000000000000000000000000" is too_many_decimals
    // for a CNY amount, "100.0" for a JPY one, a 7-place quantity too, in sales, returns,
    // program caps, contest prizes and money min_metric; nothing is written.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    app.open_account("JP-1", "JPY").await;
    let head = app.head();
    let mut jpy = sale_line("INV-J", "1", "100.0", None);
    jpy["account_id"] = json!("JP-1");
    let lines = vec![
        sale_line("INV-1", "1", "5.1000000000000000000000000000", None),
        sale_line("INV-2", "1", "5.00", Some("1.000")),
        sale_line("INV-3", "1.0000000", "5.00", None),
        jpy,
    ];
    let reply = post_lines(&app, "/v1/sales", lines).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert_eq!(reply.code(), "invalid_lines", "{}", reply.text);
    let expected = [
        (0, "net_amount"),
        (1, "cost_amount"),
        (2, "quantity"),
        (3, "net_amount"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(i, f)| (Some(*i), f.to_string(), "too_many_decimals".to_string()))
        .collect();
    assert_eq!(triples(&reply), expected);
    assert_created(
        &post_lines(
            &app,
            "/v1/sales",
            vec![sale_line("INV-1", "3", "30.00", None)],
        )
        .await,
    );
    let mut ret = return_line("R1", "INV-1", "1", "10.000");
    ret["cost_amount"] = json!("1.0");
    let reply = post_lines(&app, "/v1/returns", vec![ret]).await;
    assert_eq!(reply.code(), "invalid_lines", "{}", reply.text);
    assert_eq!(
        triples(&reply),
        [(
            Some(0),
            "net_amount".to_string(),
            "too_many_decimals".to_string()
        )]
    );
    let after_sale = app.head();
    let reply = app
        .post(
            Role::Finance,
            "/v1/rebate-programs",
            program_with_cap("P1", "5000.000"),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(
        triples(&reply).contains(&(None, "cap".into(), "too_many_decimals".into())),
        "{}",
        reply.text
    );
    let reply = app
        .post(
            Role::Manager,
            "/v1/contests",
            contest_with("C1", "net_revenue", "1500.000", "10.001"),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    let errors = triples(&reply);
    assert!(
        errors.contains(&(None, "prizes[0].amount".into(), "too_many_decimals".into())),
        "{}",
        reply.text
    );
    assert!(
        errors.contains(&(None, "min_metric".into(), "too_many_decimals".into())),
        "{}",
        reply.text
    );
    // A quantity contest's min_metric may carry a quantity's places.
    let reply = app
        .post(
            Role::Manager,
            "/v1/contests",
            contest_with("C2", "quantity", "1500.00", "10.001"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(app.head(), after_sale + 1);
    assert_eq!(after_sale, head + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whitespace_in_a_decimal_is_refused_not_trimmed() {
    // Proves " 5", "5 " and " 1.00" are invalid_decimal in JSON and CSV sales and returns
    // (they used to be trimmed and accepted), and nothing is written.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    assert_created(
        &post_lines(
            &app,
            "/v1/sales",
            vec![sale_line("INV-0", "3", "30.00", None)],
        )
        .await,
    );
    let head = app.head();
    let lines = vec![
        sale_line("INV-1", " 5", "5.00", None),
        sale_line("INV-2", "5", "5.00 ", None),
        sale_line("INV-3", "5", "5.00", Some(" 1.00")),
    ];
    let reply = post_lines(&app, "/v1/sales", lines).await;
    assert_eq!(reply.code(), "invalid_lines", "{}", reply.text);
    let codes = triples(&reply);
    assert_eq!(
        codes,
        [
            (
                Some(0),
                "quantity".to_string(),
                "invalid_decimal".to_string()
            ),
            (
                Some(1),
                "net_amount".to_string(),
                "invalid_decimal".to_string()
            ),
            (
                Some(2),
                "cost_amount".to_string(),
                "invalid_decimal".to_string()
            ),
        ]
    );
    let reply = post_lines(
        &app,
        "/v1/returns",
        vec![return_line("R1", "INV-0", "1 ", "1.00")],
    )
    .await;
    assert_eq!(
        triples(&reply),
        [(
            Some(0),
            "quantity".to_string(),
            "invalid_decimal".to_string()
        )],
        "{}",
        reply.text
    );
    let csv = "account_id,invoice_id,line,sku,category,quantity,net_amount,occurred_on\n\
               KA-1,INV-4,1,SKU-1,beverages, 5,5.00,2026-03-15\n";
    let reply = app
        .send(
            axum::http::Method::POST,
            "/v1/sales",
            Some(app.token(Role::Ingest)),
            &[("content-type", "text/csv")],
            csv.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(reply.code(), "invalid_lines", "{}", reply.text);
    assert_eq!(
        triples(&reply),
        [(
            Some(0),
            "quantity".to_string(),
            "invalid_decimal".to_string()
        )]
    );
    // A definition's decimals take the same plain form: no spaces, `+`, `_` or exponent
    // (its body does not parse).
    for cap in [" 5.00", "+5.00", "5_000.00", "5e3"] {
        let reply = app
            .post(
                Role::Finance,
                "/v1/rebate-programs",
                program_with_cap("P1", cap),
            )
            .await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }
    assert_eq!(app.head(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_is_stored_and_shown_with_exactly_the_minor_units() {
    // Proves a sale written "100" is stored as "100.00" (JPY "100" stays "100"), that
    // sums, margins, a derived return cost and the explain lines are shown with the
    // currency's places (never "-0"), and that quantities keep their own rendering.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    app.open_account("JP-1", "JPY").await;
    let mut jpy = sale_line("INV-J", "2", "100", Some("40"));
    jpy["account_id"] = json!("JP-1");
    let sales = vec![
        sale_line("INV-1", "2", "100", Some("0")),
        sale_line("INV-2", "1", "0.5", None),
        jpy,
    ];
    assert_created(&post_lines(&app, "/v1/sales", sales).await);
    assert_created(
        &post_lines(
            &app,
            "/v1/returns",
            vec![return_line("R1", "INV-1", "1", "50")],
        )
        .await,
    );
    let sold = app.audit_events("type=SaleRecorded").await;
    let stored: Vec<(&str, &str)> = sold
        .iter()
        .map(|e| {
            (
                e["data"]["net_amount"].as_str().unwrap_or(""),
                e["data"]["cost_amount"].as_str().unwrap_or("null"),
            )
        })
        .collect();
    assert_eq!(
        stored,
        [("100.00", "0.00"), ("0.50", "null"), ("100", "40")]
    );
    let returned = app.audit_events("type=SaleReturned").await;
    assert_eq!(returned[0]["data"]["net_amount"], "50.00");
    assert_eq!(returned[0]["data"]["cost_amount"], "0.00");
    let summary = app
        .get(
            Role::Manager,
            "/v1/accounts/KA-1/sales-summary?from=2026-03&to=2026-03",
        )
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    let march = &summary.body["months"][0];
    assert_eq!(march["net_revenue"], "50.50", "{}", summary.text);
    assert_eq!(march["gross_margin"], "50.00", "{}", summary.text);
    assert_eq!(march["quantity"], "2", "{}", summary.text);
    let jp = app
        .get(
            Role::Manager,
            "/v1/accounts/JP-1/sales-summary?from=2026-03&to=2026-03",
        )
        .await;
    assert_eq!(jp.body["months"][0]["gross_margin"], "60", "{}", jp.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_money_figure_in_reads_and_reports_has_the_minor_units() {
    // Proves accruals, settlement and explain lines (a derived return cost of 0 shows
    // "0.00", never "-0"), liability, Pareto (JSON and CSV), entitlement metrics and
    // contest standings write money with exactly two places when the lines were written
    // "100" and "50"; quantities and percentages keep their own form.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let program = json!({"program_id": "P", "name": "Program P", "currency": "CNY",
        "period": "quarterly", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "basis": "net_revenue", "method": "all_units", "tiers": [{"from": "0", "rate": "2"}]});
    assert_created(
        &app.post(Role::Finance, "/v1/rebate-programs", program)
            .await,
    );
    let enrollment = json!({"account_id": "KA-1", "effective_from": "2026-01-01"});
    assert_created(
        &app.post(
            Role::Finance,
            "/v1/rebate-programs/P/enrollments",
            enrollment,
        )
        .await,
    );
    let contest = json!({"contest_id": "C", "name": "Contest C", "currency": "CNY",
        "starts_on": "2026-01-01", "ends_on": "2026-03-31", "metric": "net_revenue",
        "prizes": [{"rank": 1, "kind": "cash", "amount": "1500"}]});
    assert_created(&app.post(Role::Manager, "/v1/contests", contest).await);
    assert_created(
        &post_lines(
            &app,
            "/v1/sales",
            vec![sale_line("INV-1", "2", "100", Some("0"))],
        )
        .await,
    );
    assert_created(
        &post_lines(
            &app,
            "/v1/returns",
            vec![return_line("R1", "INV-1", "1", "50")],
        )
        .await,
    );

    let accruals = app
        .get(
            Role::Finance,
            "/v1/rebate-programs/P/accruals?period=2026-Q1",
        )
        .await;
    let row = &accruals.body["accounts"][0];
    for (field, value) in [
        ("basis", "50.00"),
        ("entitlement", "1.00"),
        ("approved", "0.00"),
        ("pending", "0.00"),
        ("outstanding", "1.00"),
    ] {
        assert_eq!(row[field], value, "{field}: {}", accruals.text);
    }
    let proposed = app
        .post(
            Role::Finance,
            "/v1/settlements",
            json!({"program_id": "P", "account_id": "KA-1",
            "period": "2026-Q1", "kind": "final", "reference": "CN-1"}),
        )
        .await;
    assert_created(&proposed);
    assert_eq!(proposed.body["amount"], "1.00", "{}", proposed.text);
    let id = proposed.body["settlement_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let explained = app
        .get(Role::Auditor, &format!("/v1/settlements/{id}/explain"))
        .await;
    assert_eq!(explained.status, StatusCode::OK, "{}", explained.text);
    let lines: Vec<(String, String, String)> = explained.body["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    let text = |f: &str| l[f].as_str().unwrap_or("").to_string();
                    (text("net_amount"), text("cost_amount"), text("quantity"))
                })
                .collect()
        })
        .unwrap_or_default();
    let expected = [("100.00", "0.00", "2"), ("-50.00", "0.00", "-1")];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(n, c, q)| (n.to_string(), c.to_string(), q.to_string()))
        .collect();
    assert_eq!(lines, expected, "{}", explained.text);
    let computation = &explained.body["settlement"]["computation"];
    assert_eq!(
        computation["previously_approved"], "0.00",
        "{}",
        explained.text
    );
    assert_eq!(
        computation["rebate"]["basis"], "50.00",
        "{}",
        explained.text
    );

    let liability = app
        .get(Role::Finance, "/v1/reports/liability?as_of=2026-03-31")
        .await;
    assert_eq!(liability.status, StatusCode::OK, "{}", liability.text);
    assert_eq!(
        liability.body["rows"][0]["pending"], "1.00",
        "{}",
        liability.text
    );
    assert_eq!(
        liability.body["totals"][0]["approved"], "0.00",
        "{}",
        liability.text
    );

    let pareto = app
        .get(
            Role::Finance,
            "/v1/reports/pareto?as_of=2026-03-31&window_months=3",
        )
        .await;
    assert_eq!(pareto.status, StatusCode::OK, "{}", pareto.text);
    assert_eq!(pareto.body["total_net_revenue"], "50.00", "{}", pareto.text);
    assert_eq!(
        pareto.body["rows"][0]["net_revenue"], "50.00",
        "{}",
        pareto.text
    );
    let csv = app
        .get(
            Role::Finance,
            "/v1/reports/pareto?as_of=2026-03-31&window_months=3&format=csv",
        )
        .await;
    assert!(csv.text.contains("1,KA-1,50.00,"), "{}", csv.text);

    let entitlement = app
        .get(
            Role::Manager,
            "/v1/accounts/KA-1/entitlements?as_of=2026-03-31",
        )
        .await;
    assert_eq!(entitlement.status, StatusCode::OK, "{}", entitlement.text);
    assert_eq!(
        entitlement.body["metrics"]["net_revenue"], "50.00",
        "{}",
        entitlement.text
    );
    assert_eq!(
        entitlement.body["metrics"]["gross_margin"], "50.00",
        "{}",
        entitlement.text
    );

    let standings = app
        .get(Role::Manager, "/v1/contests/C/standings?as_of=2026-03-31")
        .await;
    assert_eq!(standings.status, StatusCode::OK, "{}", standings.text);
    let first = &standings.body["standings"][0];
    assert_eq!(first["metric"], "50.00", "{}", standings.text);
    let contest = app.get(Role::Manager, "/v1/contests/C").await;
    assert_eq!(
        contest.body["prizes"][0]["amount"], "1500.00",
        "{}",
        contest.text
    );
}

/// Asserts a 422 whose errors include (field, code), and returns nothing else.
#[track_caller]
fn assert_field_error(reply: &Reply, field: &str, code: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert!(
        triples(reply)
            .iter()
            .any(|(_, f, c)| f == field && c == code),
        "expected {field} {code}: {}",
        reply.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_with_control_or_bidi_characters_is_refused() {
    // Proves NUL, ANSI escapes, DEL, C1 and right-to-left overrides are refused with
    // invalid_text naming the field in account names (open and update), reasons, program
    // and contest names, prize descriptions and settlement references, and that names of
    // only zero-width characters are refused as missing; nothing is written.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let head = app.head();
    for name in [
        "Acme\u{0}",
        "\u{1b}[31mAcme\u{1b}[0m",
        "Acme\u{7f}",
        "Acme\u{9b}",
        "Acme \u{202E}gpj.exe",
        "\u{2067}Acme",
    ] {
        let reply = app
            .post(
                Role::Manager,
                "/v1/accounts",
                json!({"account_id": "KA-2", "name": name, "scope": "national", "currency": "CNY"}),
            )
            .await;
        assert_field_error(&reply, "name", "invalid_text");
        let reply = app
            .patch(Role::Manager, "/v1/accounts/KA-1", json!({"name": name}))
            .await;
        assert_field_error(&reply, "name", "invalid_text");
    }
    for name in [
        "\u{200B}",
        "\u{200B}\u{200D}\u{2060}",
        " \u{FEFF} ",
        "\u{00AD}",
    ] {
        let reply = app
            .post(
                Role::Manager,
                "/v1/accounts",
                json!({"account_id": "KA-2", "name": name, "scope": "national", "currency": "CNY"}),
            )
            .await;
        assert_field_error(&reply, "name", "missing");
    }
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/close",
            json!({"reason": "merged\u{1b}[2J"}),
        )
        .await;
    assert_field_error(&reply, "reason", "invalid_text");
    let mut program = program_with_cap("P\u{202E}", "100.00");
    program["program_id"] = json!("P1");
    program["name"] = json!("Volume \u{202E}2026");
    let reply = app
        .post(Role::Finance, "/v1/rebate-programs", program)
        .await;
    assert_field_error(&reply, "name", "invalid_text");
    let mut program = program_with_cap("P2", "100.00");
    program["name"] = json!("\u{200B}\u{200C}");
    let reply = app
        .post(Role::Finance, "/v1/rebate-programs", program)
        .await;
    assert_field_error(&reply, "name", "invalid_name");
    let contest = json!({"contest_id": "C1", "name": "Spring \u{0}", "currency": "CNY",
        "starts_on": "2026-01-01", "ends_on": "2026-03-31", "metric": "quantity",
        "prizes": [{"rank": 1, "kind": "goods", "description": "TV\u{1b}[5m"}]});
    let reply = app.post(Role::Manager, "/v1/contests", contest).await;
    assert_field_error(&reply, "name", "invalid_text");
    assert_field_error(&reply, "prizes[0].description", "invalid_text");
    assert_eq!(app.head(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_in_other_scripts_and_with_emoji_keep_working() {
    // Proves Chinese, Arabic and Hebrew names and a name with an emoji ZWJ sequence inside
    // are accepted and stored as written (trimmed of surrounding spaces only).
    let app = TestApp::new().await;
    let names = [
        ("CN-1", "北京华联超市"),
        ("AR-1", "شركة الأغذية المتحدة"),
        ("HE-1", "סופר פארם"),
        ("EM-1", "Team 👨\u{200D}👩\u{200D}👧 North ❤\u{FE0F}"),
    ];
    for (id, name) in names {
        let reply = app
            .post(Role::Manager, "/v1/accounts", json!({"account_id": id, "name": format!("  {name} "), "scope": "national", "currency": "CNY"}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let read = app.get(Role::Manager, &format!("/v1/accounts/{id}")).await;
        assert_eq!(read.body["name"], name, "{}", read.text);
    }
    let program = json!({"program_id": "CN-P", "name": "春季返利计划", "currency": "CNY",
        "period": "quarterly", "starts_on": "2026-01-01", "ends_on": "2026-12-31",
        "basis": "net_revenue", "method": "all_units", "tiers": [{"from": "0", "rate": "2"}]});
    assert_created(
        &app.post(Role::Finance, "/v1/rebate-programs", program)
            .await,
    );
}

// Proves `kaledger import` takes CSV and JSONL values as written: a quantity " 5" in a CSV
// cell and a net amount "5.00 " in JSONL are refused (invalid_decimal, exit non-zero) and
// record no sale, while the accounts imported before them stay.
#[test]
fn import_refuses_decimals_with_spaces() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    };
    let accounts = write(
        "accounts.csv",
        "account_id,name,scope,currency\ncarrefour,Carrefour,global,CNY\n",
    );
    let csv = write(
        "sales.csv",
        "account_id,invoice_id,line,sku,category,quantity,net_amount,occurred_on\n\
         carrefour,INV-1,1,SKU-1,beverages, 5,5.00,2026-01-10\n",
    );
    let jsonl = write(
        "sales.jsonl",
        "{\"account_id\":\"carrefour\",\"invoice_id\":\"INV-2\",\"line\":1,\"sku\":\"SKU-1\",\"category\":\"beverages\",\"quantity\":\"1\",\"net_amount\":\"5.00 \",\"occurred_on\":\"2026-01-10\"}\n",
    );
    let data_arg = data.as_os_str();
    let out = crate::support::run_cli([
        "import".as_ref(),
        "--data".as_ref(),
        data_arg,
        accounts.as_os_str(),
    ]);
    assert!(out.success(), "{}", out.stderr);
    for file in [&csv, &jsonl] {
        let out = crate::support::run_cli([
            "import".as_ref(),
            "--data".as_ref(),
            data_arg,
            file.as_os_str(),
        ]);
        assert!(!out.success(), "{file:?} was accepted: {}", out.stderr);
        assert!(out.stderr.contains("invalid_decimal"), "{}", out.stderr);
    }
    let verify = crate::support::run_cli(["verify".as_ref(), "--data".as_ref(), data_arg]);
    assert!(verify.success(), "{}", verify.stderr);
    assert_eq!(
        verify.json()["verified_through"],
        json!(1),
        "{}",
        verify.stdout
    );
}
