//! POST /v1/sales and /v1/returns over HTTP: bad input is a 4xx problem that writes
//! nothing, batches are atomic, repeats change nothing, returns never exceed their sale.

use std::sync::Arc;

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, sale, Reply, TestApp};

/// A fresh app with one open CNY account, KA-1.
async fn app_with_account() -> TestApp {
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    app
}

/// A sale line with its content spelled out.
fn sale_line(
    invoice: &str,
    line: u32,
    quantity: &str,
    net: &str,
    cost: Option<&str>,
    on: &str,
) -> Value {
    let mut l = json!({"account_id": "KA-1", "invoice_id": invoice, "line": line, "sku": "SKU-1", "category": "beverages",
        "quantity": quantity, "net_amount": net, "occurred_on": on});
    if let Some(c) = cost {
        l["cost_amount"] = json!(c);
    }
    l
}

/// A return line against KA-1 (cost omitted).
fn return_line(
    return_id: &str,
    invoice: &str,
    line: u32,
    quantity: &str,
    net: &str,
    on: &str,
) -> Value {
    json!({"account_id": "KA-1", "return_id": return_id, "invoice_id": invoice, "line": line,
        "quantity": quantity, "net_amount": net, "occurred_on": on})
}

async fn post_sales(app: &TestApp, lines: Vec<Value>) -> Reply {
    app.post(Role::Ingest, "/v1/sales", json!({"lines": lines}))
        .await
}

async fn post_returns(app: &TestApp, lines: Vec<Value>) -> Reply {
    app.post(Role::Ingest, "/v1/returns", json!({"lines": lines}))
        .await
}

/// A request body case: name, path, content type, body, expected status and code.
type BodyCase = (
    &'static str,
    &'static str,
    &'static str,
    Vec<u8>,
    StatusCode,
    &'static str,
);
/// A refused return: name, the line, and the expected (field, code) pairs sorted.
type ReturnCase = (&'static str, Value, Vec<(&'static str, &'static str)>);

#[track_caller]
fn assert_recorded(reply: &Reply, status: StatusCode, recorded: u64, duplicates: u64) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.body["recorded"], recorded, "{}", reply.text);
    assert_eq!(reply.body["duplicates"], duplicates, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_4xx_problems_and_write_nothing() {
    // Proves malformed JSON, unknown fields, float amounts, wrong media types and bad CSV
    // headers each get a 4xx problem+json with a stable code, and nothing is written.
    let app = app_with_account().await;
    let head = app.head();
    let good = sale("KA-1", "INV-1", 1, "100.00");
    let mut unknown_line_field = good.clone();
    unknown_line_field["discount"] = json!("5");
    let mut float_amount = good.clone();
    float_amount["net_amount"] = json!(12.5);
    let mut object_amount = good.clone();
    object_amount["quantity"] = json!({"value": 1});
    let cases: Vec<BodyCase> = vec![
        (
            "truncated JSON",
            "/v1/sales",
            "application/json",
            br#"{"lines":[{"account_id":"KA-1""#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "not JSON at all",
            "/v1/sales",
            "application/json",
            b"lines=1".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "empty body",
            "/v1/sales",
            "application/json",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "trailing garbage",
            "/v1/returns",
            "application/json",
            br#"{"lines":[]} x"#.to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "unknown top-level field",
            "/v1/sales",
            "application/json",
            json!({"lines": [good.clone()], "source": "erp"})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "unknown line field",
            "/v1/sales",
            "application/json",
            json!({"lines": [unknown_line_field]})
                .to_string()
                .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "JSON float amount",
            "/v1/sales",
            "application/json",
            json!({"lines": [float_amount]}).to_string().into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "object as quantity",
            "/v1/sales",
            "application/json",
            json!({"lines": [object_amount]}).to_string().into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "lines missing",
            "/v1/sales",
            "application/json",
            b"{}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "lines not an array",
            "/v1/returns",
            "application/json",
            br#"{"lines":{}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "empty batch",
            "/v1/sales",
            "application/json",
            br#"{"lines":[]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
        ),
        (
            "empty returns batch",
            "/v1/returns",
            "application/json",
            br#"{"lines":[]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
        ),
        (
            "text/plain",
            "/v1/sales",
            "text/plain",
            b"hello".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "xml",
            "/v1/returns",
            "application/xml",
            b"<lines/>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "CSV unknown column",
            "/v1/sales",
            "text/csv",
            b"account_id,invoice_id,line,colour\nKA-1,INV-1,1,red\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_column",
        ),
        (
            "CSV returns unknown column",
            "/v1/returns",
            "text/csv",
            b"account_id,sku\nKA-1,S\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_column",
        ),
        (
            "JSON not UTF-8",
            "/v1/sales",
            "application/json",
            vec![0xff, 0xfe, 0x00],
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "JSON null",
            "/v1/sales",
            "application/json",
            b"null".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "null line",
            "/v1/sales",
            "application/json",
            br#"{"lines":[null]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "repeated field",
            "/v1/sales",
            "application/json",
            br#"{"lines":[{"account_id":"KA-1","account_id":"KA-2"}]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "deeply nested",
            "/v1/sales",
            "application/json",
            format!("{{\"lines\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            "CSV header not UTF-8",
            "/v1/sales",
            "text/csv",
            vec![0xff, 0xfe, b',', b'\n'],
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_csv",
        ),
        (
            "CSV row not UTF-8",
            "/v1/sales",
            "text/csv",
            [
                SALES_CSV_HEADER.as_bytes(),
                b"KA-1,INV-1,1,SKU-1,beverages,10,\xff,1.00,CNY,2026-03-15\n",
            ]
            .concat(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "malformed_csv",
        ),
        (
            "CSV header only",
            "/v1/sales",
            "text/csv",
            SALES_CSV_HEADER.as_bytes().to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_batch",
        ),
    ];
    for (name, path, content_type, body, status, code) in cases {
        let reply = app
            .post_bytes(Role::Ingest, path, content_type, &[], body)
            .await;
        assert!(reply.status.is_client_error(), "{name}: {}", reply.text);
        assert_problem(&reply, status, code);
        assert_eq!(app.head(), head, "{name} wrote something");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_line_values_are_refused_with_stable_codes() {
    // Proves each kind of bad value on a line is a 422 invalid_lines naming the line,
    // field and code, and writes nothing.
    let app = app_with_account().await;
    app.open_account("KA-JPY", "JPY").await;
    let head = app.head();
    let with = |field: &str, value: Value| {
        let mut l = sale("KA-1", "INV-1", 1, "100.00");
        l[field] = value;
        l
    };
    let without = |field: &str| {
        let mut l = sale("KA-1", "INV-1", 1, "100.00");
        l.as_object_mut().expect("object").remove(field);
        l
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "negative amount",
            with("net_amount", json!("-5.00")),
            "net_amount",
            "negative_amount",
        ),
        (
            "negative cost",
            with("cost_amount", json!("-0.01")),
            "cost_amount",
            "negative_amount",
        ),
        (
            "non-numeric amount",
            with("net_amount", json!("abc")),
            "net_amount",
            "invalid_decimal",
        ),
        (
            "exponent amount",
            with("net_amount", json!("1e3")),
            "net_amount",
            "invalid_decimal",
        ),
        (
            "thousands separator",
            with("net_amount", json!("1,000.00")),
            "net_amount",
            "invalid_decimal",
        ),
        (
            "plus sign",
            with("net_amount", json!("+5")),
            "net_amount",
            "invalid_decimal",
        ),
        (
            "zero quantity",
            with("quantity", json!("0")),
            "quantity",
            "not_positive",
        ),
        (
            "negative quantity",
            with("quantity", json!(-3)),
            "quantity",
            "not_positive",
        ),
        (
            "sub-cent amount",
            with("net_amount", json!("1.234")),
            "net_amount",
            "too_many_decimals",
        ),
        (
            "amount beyond Decimal",
            with("net_amount", json!("99999999999999999999999999999999999")),
            "net_amount",
            "invalid_decimal",
        ),
        (
            "line beyond u32",
            with("line", json!(4_294_967_296u64)),
            "line",
            "invalid_line",
        ),
        (
            "negative line",
            with("line", json!(-1)),
            "line",
            "invalid_line",
        ),
        (
            "huge amount",
            with("net_amount", json!("10000000000000000")),
            "net_amount",
            "too_large",
        ),
        (
            "February 30th",
            with("occurred_on", json!("2026-02-30")),
            "occurred_on",
            "invalid_date",
        ),
        (
            "slashed date",
            with("occurred_on", json!("2026/03/01")),
            "occurred_on",
            "invalid_date",
        ),
        (
            "date with time",
            with("occurred_on", json!("2026-03-01T00:00:00Z")),
            "occurred_on",
            "invalid_date",
        ),
        (
            "unknown account",
            with("account_id", json!("NOPE")),
            "account_id",
            "unknown_account",
        ),
        (
            "wrong currency",
            with("currency", json!("USD")),
            "currency",
            "currency_mismatch",
        ),
        (
            "unknown currency",
            with("currency", json!("XYZ")),
            "currency",
            "unknown_currency",
        ),
        ("missing sku", without("sku"), "sku", "missing"),
        (
            "null invoice",
            with("invoice_id", Value::Null),
            "invoice_id",
            "missing",
        ),
        (
            "bad invoice id",
            with("invoice_id", json!("INV 1")),
            "invoice_id",
            "invalid_id",
        ),
        ("line zero", with("line", json!(0)), "line", "invalid_line"),
        (
            "line not a number",
            with("line", json!("first")),
            "line",
            "invalid_line",
        ),
    ];
    for (name, line, field, code) in cases {
        let reply = post_sales(&app, vec![line]).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
        assert_eq!(
            error_triples(&reply),
            vec![(Some(0), field.to_string(), code.to_string())],
            "{name}: {}",
            reply.text
        );
        assert_eq!(app.head(), head, "{name} wrote something");
    }
    // JPY has no minor unit: a yen amount with decimals is refused.
    let mut yen = sale("KA-JPY", "INV-1", 1, "100.50");
    yen["cost_amount"] = json!("1");
    let reply = post_sales(&app, vec![yen]).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(0),
            "net_amount".to_string(),
            "too_many_decimals".to_string()
        )]
    );
    assert_eq!(app.head(), head);
    // "-0.00" is zero, not negative: accepted, and recorded as plain zero.
    let reply = post_sales(&app, vec![sale("KA-1", "INV-0", 1, "-0.00")]).await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 0);
    let recorded = app.audit_events("type=SaleRecorded").await;
    assert_eq!(recorded[0]["data"]["net_amount"], "0.00");
    assert_recorded(
        &post_sales(&app, vec![sale("KA-1", "INV-0", 1, "0")]).await,
        StatusCode::OK,
        0,
        1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_line_refuses_the_whole_batch_and_lists_every_bad_line() {
    // Proves a batch is atomic: bad lines among good ones record nothing, and the answer
    // lists every bad line with its index, field and code.
    let app = app_with_account().await;
    let head = app.head();
    let mut bad_date = sale("KA-1", "INV-1", 2, "20.00");
    bad_date["occurred_on"] = json!("2026-13-01");
    let mut two_faults = sale("KA-9", "INV-1", 4, "-1");
    two_faults["quantity"] = json!("x");
    let lines = vec![
        sale("KA-1", "INV-1", 1, "10.00"),
        bad_date,
        sale("KA-1", "INV-1", 3, "30.00"),
        two_faults,
        sale("KA-1", "INV-1", 5, "50.00"),
    ];
    let reply = post_sales(&app, lines).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    let mut errors = error_triples(&reply);
    errors.sort();
    assert_eq!(
        errors,
        vec![
            (
                Some(1),
                "occurred_on".to_string(),
                "invalid_date".to_string()
            ),
            (
                Some(3),
                "account_id".to_string(),
                "unknown_account".to_string()
            ),
            (
                Some(3),
                "net_amount".to_string(),
                "negative_amount".to_string()
            ),
            (
                Some(3),
                "quantity".to_string(),
                "invalid_decimal".to_string()
            ),
        ],
        "{}",
        reply.text
    );
    assert!(reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .all(|e| e["message"].as_str().is_some_and(|m| !m.is_empty())));
    assert_eq!(app.head(), head);
    // The good lines alone go through, with consecutive positions.
    let reply = post_sales(
        &app,
        vec![
            sale("KA-1", "INV-1", 1, "10.00"),
            sale("KA-1", "INV-1", 3, "30.00"),
            sale("KA-1", "INV-1", 5, "50.00"),
        ],
    )
    .await;
    assert_recorded(&reply, StatusCode::CREATED, 3, 0);
    assert_eq!(reply.body["first_position"], head + 1);
    assert_eq!(reply.body["last_position"], head + 3);
    assert_eq!(app.head(), head + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_413_and_write_nothing() {
    // Proves 10,001 lines is 413 too_many_lines and a 50 MB body is 413 body_too_large
    // (JSON or CSV, sales or returns), never a 5xx, and nothing is written.
    let app = app_with_account().await;
    let head = app.head();
    let lines: Vec<Value> = (1..=10_001)
        .map(|i| sale("KA-1", "INV-BIG", i, "1.00"))
        .collect();
    let reply = post_sales(&app, lines).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "too_many_lines");
    assert_eq!(app.head(), head);
    let returns: Vec<Value> = (1..=10_001)
        .map(|i| return_line(&format!("R{i}"), "INV-BIG", 1, "1", "1.00", "2026-03-16"))
        .collect();
    let reply = post_returns(&app, returns).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "too_many_lines");
    assert_eq!(app.head(), head);

    // 50 MB: a JSON batch padded with whitespace, and a CSV of repeated rows.
    let mut json_body = br#"{"lines":["#.to_vec();
    json_body.resize(50 * 1024 * 1024, b' ');
    json_body.extend_from_slice(b"]}");
    let mut csv_body = SALES_CSV_HEADER.as_bytes().to_vec();
    let row = b"KA-1,INV-1,1,SKU-1,beverages,10,100.00,1.00,CNY,2026-03-15\n";
    while csv_body.len() < 50 * 1024 * 1024 {
        csv_body.extend_from_slice(row);
    }
    for (path, content_type, body) in [
        ("/v1/sales", "application/json", &json_body),
        ("/v1/returns", "application/json", &json_body),
        ("/v1/sales", "text/csv", &csv_body),
    ] {
        let reply = app
            .post_bytes(Role::Ingest, path, content_type, &[], body.clone())
            .await;
        assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");
        assert_eq!(app.head(), head);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_of_10000_lines_is_accepted() {
    // Proves the limit is exactly 10,000: a batch of that size is recorded whole, gapless.
    let app = app_with_account().await;
    let head = app.head();
    let lines: Vec<Value> = (1..=10_000)
        .map(|i| sale("KA-1", "INV-FULL", i, "1.00"))
        .collect();
    let reply = post_sales(&app, lines).await;
    assert_recorded(&reply, StatusCode::CREATED, 10_000, 0);
    assert_eq!(reply.body["first_position"], head + 1);
    assert_eq!(reply.body["last_position"], head + 10_000);
    assert_eq!(app.head(), head + 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_that_do_not_fit_the_sale_are_refused() {
    // Proves a return exceeding the sale's quantity or amount, dated before it, or of an
    // unknown line or account is a 422 naming the line and field, and writes nothing.
    let app = app_with_account().await;
    let reply = post_sales(
        &app,
        vec![sale_line(
            "INV-1",
            1,
            "10",
            "100.00",
            Some("60.00"),
            "2026-03-15",
        )],
    )
    .await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 0);
    let head = app.head();
    let mut stated_cost = return_line("R1", "INV-1", 1, "1", "10.00", "2026-03-20");
    stated_cost["cost_amount"] = json!("60.01");
    let mut other_account = return_line("R1", "INV-1", 1, "1", "10.00", "2026-03-20");
    other_account["account_id"] = json!("KA-404");
    let cases: Vec<ReturnCase> = vec![
        (
            "quantity beyond the sale",
            return_line("R1", "INV-1", 1, "11", "10.00", "2026-03-20"),
            vec![("quantity", "return_exceeds_sale")],
        ),
        (
            "amount beyond the sale",
            return_line("R1", "INV-1", 1, "1", "100.01", "2026-03-20"),
            vec![("net_amount", "return_exceeds_sale")],
        ),
        (
            "both beyond the sale",
            return_line("R1", "INV-1", 1, "10.5", "150.00", "2026-03-20"),
            vec![
                ("net_amount", "return_exceeds_sale"),
                ("quantity", "return_exceeds_sale"),
            ],
        ),
        (
            "cost beyond the sale",
            stated_cost,
            vec![("cost_amount", "return_exceeds_sale")],
        ),
        (
            "return before the sale",
            return_line("R1", "INV-1", 1, "1", "10.00", "2026-03-14"),
            vec![("occurred_on", "return_before_sale")],
        ),
        (
            "unknown invoice",
            return_line("R1", "INV-2", 1, "1", "10.00", "2026-03-20"),
            vec![("line", "unknown_sale_line")],
        ),
        (
            "unknown line",
            return_line("R1", "INV-1", 2, "1", "10.00", "2026-03-20"),
            vec![("line", "unknown_sale_line")],
        ),
        (
            "unknown account",
            other_account,
            vec![("account_id", "unknown_account")],
        ),
        (
            "bad return date",
            return_line("R1", "INV-1", 1, "1", "10.00", "2026-02-30"),
            vec![("occurred_on", "invalid_date")],
        ),
        (
            "negative return amount",
            return_line("R1", "INV-1", 1, "1", "-10.00", "2026-03-20"),
            vec![("net_amount", "negative_amount")],
        ),
    ];
    for (name, line, expected) in cases {
        let reply = post_returns(&app, vec![line]).await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
        let mut errors = error_triples(&reply);
        errors.sort();
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(f, c)| (Some(0), f.to_string(), c.to_string()))
            .collect();
        assert_eq!(errors, expected, "{name}: {}", reply.text);
        assert_eq!(app.head(), head, "{name} wrote something");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_returns_accumulate_until_the_sale_is_used_up() {
    // Proves returns count cumulatively against the sale, across requests and within one
    // batch, in both quantity and amount.
    let app = app_with_account().await;
    let reply = post_sales(
        &app,
        vec![sale_line(
            "INV-1",
            1,
            "10",
            "100.00",
            Some("60.00"),
            "2026-03-15",
        )],
    )
    .await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 0);

    let reply = post_returns(
        &app,
        vec![return_line("R1", "INV-1", 1, "4", "40.00", "2026-03-20")],
    )
    .await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 0);
    // 4 + 7 > 10 in quantity, though 40 + 50 ≤ 100 in amount.
    let head = app.head();
    let reply = post_returns(
        &app,
        vec![return_line("R2", "INV-1", 1, "7", "50.00", "2026-03-21")],
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(0),
            "quantity".to_string(),
            "return_exceeds_sale".to_string()
        )]
    );
    // 40 + 60.01 > 100 in amount, though 4 + 1 ≤ 10 in quantity.
    let reply = post_returns(
        &app,
        vec![return_line("R2", "INV-1", 1, "1", "60.01", "2026-03-21")],
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(0),
            "net_amount".to_string(),
            "return_exceeds_sale".to_string()
        )]
    );
    assert_eq!(app.head(), head);

    // Within one batch: each of R2 and R3 fits alone, together they exceed; the second is named.
    let reply = post_returns(
        &app,
        vec![
            return_line("R2", "INV-1", 1, "3", "30.00", "2026-03-21"),
            return_line("R3", "INV-1", 1, "4", "40.00", "2026-03-22"),
        ],
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    let mut errors = error_triples(&reply);
    errors.sort();
    assert_eq!(
        errors,
        vec![
            (
                Some(1),
                "net_amount".to_string(),
                "return_exceeds_sale".to_string()
            ),
            (
                Some(1),
                "quantity".to_string(),
                "return_exceeds_sale".to_string()
            )
        ]
    );
    assert_eq!(app.head(), head);
    // The same return twice in one batch is refused.
    let reply = post_returns(
        &app,
        vec![
            return_line("R2", "INV-1", 1, "1", "1.00", "2026-03-21"),
            return_line("R2", "INV-1", 1, "1", "1.00", "2026-03-21"),
        ],
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(1),
            "return_id".to_string(),
            "duplicate_in_batch".to_string()
        )]
    );
    assert_eq!(app.head(), head);

    // Exactly what is left (6 units, 60.00) is accepted in one batch of two; then nothing more.
    let reply = post_returns(
        &app,
        vec![
            return_line("R2", "INV-1", 1, "2", "20.00", "2026-03-21"),
            return_line("R3", "INV-1", 1, "4", "40.00", "2026-03-22"),
        ],
    )
    .await;
    assert_recorded(&reply, StatusCode::CREATED, 2, 0);
    let reply = post_returns(
        &app,
        vec![return_line(
            "R4",
            "INV-1",
            1,
            "0.000001",
            "0.00",
            "2026-03-23",
        )],
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(0),
            "quantity".to_string(),
            "return_exceeds_sale".to_string()
        )]
    );
    let returned = app.audit_events("type=SaleReturned").await;
    let quantities: Vec<&str> = returned
        .iter()
        .map(|e| e["data"]["quantity"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(quantities, vec!["4", "2", "4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omitted_return_cost_is_prorated_from_the_sale() {
    // Proves a return without cost_amount takes the sale's cost pro rata to quantity,
    // rounded to the minor unit and never beyond what is left; a stated cost is kept; a
    // sale without cost counts its net amount as cost.
    let app = app_with_account().await;
    let sales = vec![
        sale_line("INV-1", 1, "3", "90.00", Some("10.00"), "2026-03-15"),
        sale_line("INV-1", 2, "4", "80.00", None, "2026-03-15"),
        sale_line("INV-1", 3, "5", "50.00", Some("20.00"), "2026-03-15"),
    ];
    assert_recorded(&post_sales(&app, sales).await, StatusCode::CREATED, 3, 0);
    let mut stated = return_line("R1", "INV-1", 3, "1", "10.00", "2026-03-20");
    stated["cost_amount"] = json!("7.00");
    let returns = vec![
        return_line("R1", "INV-1", 1, "1", "30.00", "2026-03-20"),
        return_line("R2", "INV-1", 1, "2", "60.00", "2026-03-21"),
        return_line("R1", "INV-1", 2, "1", "20.00", "2026-03-20"),
        stated,
    ];
    assert_recorded(
        &post_returns(&app, returns).await,
        StatusCode::CREATED,
        4,
        0,
    );
    let events = app.audit_events("type=SaleReturned").await;
    let costs: Vec<(&str, u64, &str)> = events
        .iter()
        .map(|e| {
            (
                e["data"]["return_id"].as_str().unwrap_or(""),
                e["data"]["line"].as_u64().unwrap_or(0),
                e["data"]["cost_amount"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // 10.00 × 1/3 = 3.33; then 10.00 × 2/3 = 6.67 = exactly what is left; 80.00 × 1/4 = 20.00.
    assert_eq!(
        costs,
        vec![
            ("R1", 1, "3.33"),
            ("R2", 1, "6.67"),
            ("R1", 2, "20.00"),
            ("R1", 3, "7.00")
        ]
    );
    assert!(events
        .iter()
        .all(|e| e["data"]["sale_occurred_on"] == "2026-03-15"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_batch_twice_without_a_key_changes_nothing() {
    // Proves an identical repeat of a batch (no Idempotency-Key) is answered 200 with
    // every line a duplicate, and writes nothing; likewise for returns.
    let app = app_with_account().await;
    let lines = vec![
        sale("KA-1", "INV-1", 1, "10.00"),
        sale("KA-1", "INV-1", 2, "20.00"),
        sale("KA-1", "INV-2", 1, "30.00"),
    ];
    let first = post_sales(&app, lines.clone()).await;
    assert_recorded(&first, StatusCode::CREATED, 3, 0);
    let head = app.head();
    assert_eq!(first.body["last_position"], head);
    let second = post_sales(&app, lines).await;
    assert_recorded(&second, StatusCode::OK, 0, 3);
    assert_eq!(second.body["first_position"], Value::Null);
    assert_eq!(second.body["last_position"], Value::Null);
    assert!(second.headers.get("idempotent-replayed").is_none());
    assert_eq!(app.head(), head);
    // Amounts written differently but equal ("10" vs "10.00") are the same line.
    let mut respelled = sale("KA-1", "INV-1", 1, "10");
    respelled["quantity"] = json!(10);
    respelled["cost_amount"] = json!("1.0");
    assert_recorded(
        &post_sales(&app, vec![respelled, sale("KA-1", "INV-3", 1, "5.00")]).await,
        StatusCode::CREATED,
        1,
        1,
    );
    let head = app.head();

    let returns = vec![return_line("R1", "INV-1", 1, "1", "1.00", "2026-03-20")];
    assert_recorded(
        &post_returns(&app, returns.clone()).await,
        StatusCode::CREATED,
        1,
        0,
    );
    assert_recorded(&post_returns(&app, returns).await, StatusCode::OK, 0, 1);
    assert_eq!(app.head(), head + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_answer() {
    // Proves a retry with the same Idempotency-Key and body gets the first answer again
    // (flagged idempotent-replayed) and writes nothing; the same key with another body is
    // 422 idempotency_key_reused; a malformed key is 400.
    let app = app_with_account().await;
    let batch =
        json!({"lines": [sale("KA-1", "INV-1", 1, "10.00"), sale("KA-1", "INV-1", 2, "20.00")]});
    let key = [("idempotency-key", "batch-2026-03-15-a")];
    let first = app
        .post_with(Role::Ingest, "/v1/sales", &key, batch.clone())
        .await;
    assert_recorded(&first, StatusCode::CREATED, 2, 0);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let head = app.head();
    let second = app
        .post_with(Role::Ingest, "/v1/sales", &key, batch.clone())
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert_eq!(second.body, first.body);
    assert_eq!(
        second
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(app.head(), head);
    // The event carries the key.
    let events = app.audit_events("type=SaleRecorded").await;
    assert!(
        events
            .iter()
            .all(|e| e["idempotency_key"] == "batch-2026-03-15-a"),
        "{events:?}"
    );

    let other = json!({"lines": [sale("KA-1", "INV-1", 3, "30.00")]});
    let reply = app
        .post_with(Role::Ingest, "/v1/sales", &key, other.clone())
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(app.head(), head);
    // The same key on the other endpoint is another request too.
    let reply = app
        .post_with(
            Role::Ingest,
            "/v1/returns",
            &key,
            json!({"lines": [return_line("R1", "INV-1", 1, "1", "1.00", "2026-03-20")]}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );
    assert_eq!(app.head(), head);

    let too_long = "k".repeat(256);
    for bad in ["has space", too_long.as_str()] {
        let reply = app
            .post_with(
                Role::Ingest,
                "/v1/sales",
                &[("idempotency-key", bad)],
                other.clone(),
            )
            .await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_idempotency_key");
    }
    assert_eq!(app.head(), head);

    // A refused request does not burn its key: the fixed retry goes through once.
    let retry_key = [("idempotency-key", "retry-1")];
    let reply = app
        .post_with(
            Role::Ingest,
            "/v1/sales",
            &retry_key,
            json!({"lines": [sale("KA-1", "INV-9", 1, "-1")]}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    let fixed = json!({"lines": [sale("KA-1", "INV-9", 1, "1.00")]});
    let reply = app
        .post_with(Role::Ingest, "/v1/sales", &retry_key, fixed.clone())
        .await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 0);
    let again = app
        .post_with(Role::Ingest, "/v1/sales", &retry_key, fixed)
        .await;
    assert_eq!(again.body, reply.body);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(app.head(), head + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_repeat_of_a_natural_key_is_409() {
    // Proves a line that repeats a recorded (account, invoice, line) — or return key — with
    // different content is 409 duplicate_line_conflict naming the line, and writes nothing.
    let app = app_with_account().await;
    assert_recorded(
        &post_sales(&app, vec![sale("KA-1", "INV-1", 1, "10.00")]).await,
        StatusCode::CREATED,
        1,
        0,
    );
    let head = app.head();
    let reply = post_sales(
        &app,
        vec![
            sale("KA-1", "INV-1", 2, "5.00"),
            sale("KA-1", "INV-1", 1, "10.01"),
        ],
    )
    .await;
    assert_problem(&reply, StatusCode::CONFLICT, "duplicate_line_conflict");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(1),
            "line".to_string(),
            "duplicate_line_conflict".to_string()
        )]
    );
    assert_eq!(app.head(), head);
    // Twice in one batch with different content.
    let reply = post_sales(
        &app,
        vec![
            sale("KA-1", "INV-2", 1, "5.00"),
            sale("KA-1", "INV-2", 1, "6.00"),
        ],
    )
    .await;
    assert_problem(&reply, StatusCode::CONFLICT, "duplicate_line_conflict");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(1),
            "line".to_string(),
            "duplicate_line_conflict".to_string()
        )]
    );
    assert_eq!(app.head(), head);
    // Twice in one batch with the same content: one event, one duplicate.
    assert_recorded(
        &post_sales(
            &app,
            vec![
                sale("KA-1", "INV-2", 1, "5.00"),
                sale("KA-1", "INV-2", 1, "5.00"),
            ],
        )
        .await,
        StatusCode::CREATED,
        1,
        1,
    );
    let head = app.head();

    assert_recorded(
        &post_returns(
            &app,
            vec![return_line("R1", "INV-1", 1, "1", "1.00", "2026-03-20")],
        )
        .await,
        StatusCode::CREATED,
        1,
        0,
    );
    let reply = post_returns(
        &app,
        vec![return_line("R1", "INV-1", 1, "2", "1.00", "2026-03-20")],
    )
    .await;
    assert_problem(&reply, StatusCode::CONFLICT, "duplicate_line_conflict");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(0),
            "return_id".to_string(),
            "duplicate_line_conflict".to_string()
        )]
    );
    assert_eq!(app.head(), head + 1);
}

/// The header of a sales CSV, every column.
const SALES_CSV_HEADER: &str = "account_id,invoice_id,line,sku,category,quantity,net_amount,cost_amount,currency,occurred_on\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_ingestion_matches_json_and_dedupes_against_it() {
    // Proves text/csv carries the same lines as JSON: same validation, same events, and
    // natural-key dedupe across the two formats.
    let app = app_with_account().await;
    assert_recorded(
        &post_sales(
            &app,
            vec![
                sale("KA-1", "INV-1", 1, "10.00"),
                sale("KA-1", "INV-1", 2, "20.00"),
            ],
        )
        .await,
        StatusCode::CREATED,
        2,
        0,
    );
    let head = app.head();
    // Columns in another order, a column left out (currency), quoting, and a new line.
    let csv =
        "occurred_on,account_id,invoice_id,line,sku,category,quantity,net_amount,cost_amount\n\
               2026-03-15,KA-1,INV-1,1,SKU-1,beverages,10,10.00,1.00\n\
               2026-03-15,KA-1,INV-1,2,SKU-1,\"beverages\",10,20,1\n\
               2026-03-15,KA-1,INV-1,3,SKU-1,beverages,10,30.00,\n";
    let reply = app
        .post_bytes(
            Role::Ingest,
            "/v1/sales",
            "text/csv; charset=utf-8",
            &[],
            csv.as_bytes().to_vec(),
        )
        .await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 2);
    assert_eq!(reply.body["first_position"], head + 1);
    assert_eq!(app.head(), head + 1);
    let events = app.audit_events("type=SaleRecorded").await;
    let last = &events.last().expect("events")["data"];
    assert_eq!(
        (
            last["line"].as_u64(),
            last["net_amount"].as_str(),
            last["currency"].as_str()
        ),
        (Some(3), Some("30.00"), Some("CNY"))
    );
    assert_eq!(
        last["cost_amount"],
        Value::Null,
        "an empty CSV field is an absent cost"
    );
    // The JSON form of a CSV-ingested line is a duplicate too.
    let mut json_line = sale("KA-1", "INV-1", 3, "30.00");
    json_line
        .as_object_mut()
        .expect("object")
        .remove("cost_amount");
    assert_recorded(
        &post_sales(&app, vec![json_line]).await,
        StatusCode::OK,
        0,
        1,
    );

    // A bad CSV row is reported by its zero-based data row index.
    let bad = format!("{SALES_CSV_HEADER}KA-1,INV-2,1,SKU-1,beverages,10,5.00,,CNY,2026-03-15\nKA-1,INV-2,2,SKU-1,beverages,10,5.00,,USD,2026-02-30\n");
    let reply = app
        .post_bytes(Role::Ingest, "/v1/sales", "text/csv", &[], bad.into_bytes())
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    let mut errors = error_triples(&reply);
    errors.sort();
    assert_eq!(
        errors,
        vec![
            (
                Some(1),
                "currency".to_string(),
                "currency_mismatch".to_string()
            ),
            (
                Some(1),
                "occurred_on".to_string(),
                "invalid_date".to_string()
            )
        ]
    );
    assert_eq!(app.head(), head + 1);
    // A row with the wrong number of fields is a 422, not a 5xx.
    let ragged = format!("{SALES_CSV_HEADER}KA-1,INV-2,1\n");
    let reply = app
        .post_bytes(
            Role::Ingest,
            "/v1/sales",
            "text/csv",
            &[],
            ragged.into_bytes(),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "malformed_csv");

    // A UTF-8 byte-order mark (common in spreadsheet exports) is not part of the first column name.
    let bom = format!(
        "\u{feff}{SALES_CSV_HEADER}KA-1,INV-1,3,SKU-1,beverages,10,30.00,,CNY,2026-03-15\n"
    );
    assert_recorded(
        &app.post_bytes(Role::Ingest, "/v1/sales", "text/csv", &[], bom.into_bytes())
            .await,
        StatusCode::OK,
        0,
        1,
    );

    // Returns as CSV, cost omitted, dedupe against the JSON form.
    let returns_csv = "account_id,return_id,invoice_id,line,quantity,net_amount,occurred_on\nKA-1,R1,INV-1,1,5,5.00,2026-03-20\n";
    let reply = app
        .post_bytes(
            Role::Ingest,
            "/v1/returns",
            "text/csv",
            &[],
            returns_csv.as_bytes().to_vec(),
        )
        .await;
    assert_recorded(&reply, StatusCode::CREATED, 1, 0);
    assert_recorded(
        &post_returns(
            &app,
            vec![return_line("R1", "INV-1", 1, "5", "5.00", "2026-03-20")],
        )
        .await,
        StatusCode::OK,
        0,
        1,
    );
    let returned = app.audit_events("type=SaleReturned").await;
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0]["data"]["cost_amount"], "0.50");
    assert_eq!(app.head(), head + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_single_line_posts_get_gapless_positions() {
    // Proves 50 concurrent one-line posts are all recorded, each at its own position, and
    // together they fill the log without a gap or a repeat.
    let app = Arc::new(app_with_account().await);
    let head = app.head();
    let mut tasks = Vec::new();
    for i in 1..=50u32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            post_sales(&app, vec![sale("KA-1", &format!("INV-C{i}"), 1, "10.00")]).await
        }));
    }
    let mut positions = Vec::new();
    for task in tasks {
        let reply = task.await.expect("task");
        assert_recorded(&reply, StatusCode::CREATED, 1, 0);
        assert_eq!(reply.body["first_position"], reply.body["last_position"]);
        positions.push(reply.body["first_position"].as_u64().expect("position"));
    }
    positions.sort_unstable();
    let expected: Vec<u64> = (head + 1..=head + 50).collect();
    assert_eq!(positions, expected);
    assert_eq!(app.head(), head + 50);
    let events = app.audit_events("type=SaleRecorded").await;
    let logged: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(logged, expected);
    let verify = app.get(Role::Auditor, "/v1/audit/verify").await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    assert_eq!(verify.body["verified_through"], head + 50);
}

/// A JSON batch `{"<key>":[<element> × 10,001, "x" × 1,000]}`: one line too many, then
/// elements of the wrong type that a parser reading the whole array would stumble on.
fn one_line_too_many_then_garbage(key: &str, element: &str) -> Vec<u8> {
    let mut body = format!("{{\"{key}\":[");
    for _ in 0..=kaledger::domain::limits::BATCH_LINES_MAX {
        body.push_str(element);
        body.push(',');
    }
    body.push_str(&vec!["\"x\""; 1_000].join(","));
    body.push_str("]}");
    body.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_batches_are_cut_at_line_10001_while_parsing() {
    // Proves the line limit is enforced while the body is parsed, for JSON and CSV: a body
    // with 10,001 lines followed by garbage is a 413 too_many_lines (a parser that read it
    // whole would answer 422 about the garbage), and a 2.79-million-element JSON body just
    // under the body limit is a 413 too_many_lines; nothing is written.
    let app = app_with_account().await;
    let head = app.head();
    let planner_requests = one_line_too_many_then_garbage(
        "requests",
        r#"{"account_id":"KA-1","sku":"SKU-1","quantity":1}"#,
    );
    for (role, path, body) in [
        (
            Role::Ingest,
            "/v1/sales",
            one_line_too_many_then_garbage("lines", "{}"),
        ),
        (
            Role::Ingest,
            "/v1/returns",
            one_line_too_many_then_garbage("lines", "{}"),
        ),
        (Role::Planner, "/v1/seasons/S1/requests", planner_requests),
    ] {
        let reply = app
            .post_bytes(role, path, "application/json", &[], body)
            .await;
        assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "too_many_lines");
    }
    let mut csv = SALES_CSV_HEADER.as_bytes().to_vec();
    for i in 0..=kaledger::domain::limits::BATCH_LINES_MAX {
        csv.extend_from_slice(
            format!("KA-1,INV-1,{},SKU-1,beverages,1,1.00,,,2026-03-15\n", i + 1).as_bytes(),
        );
    }
    csv.extend_from_slice(b"a row,with the wrong number of fields\n");
    let reply = app
        .post_bytes(Role::Ingest, "/v1/sales", "text/csv", &[], csv)
        .await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "too_many_lines");

    let elements = 2_790_000;
    let mut huge = b"{\"lines\":[".to_vec();
    huge.extend_from_slice(&b"{},".repeat(elements - 1));
    huge.extend_from_slice(b"{}]}");
    assert!(huge.len() <= kaledger::api::BODY_BYTES_MAX);
    let reply = app
        .post_bytes(Role::Ingest, "/v1/sales", "application/json", &[], huge)
        .await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "too_many_lines");
    assert_eq!(app.head(), head);
}

#[tokio::test]
async fn millions_of_elements_in_a_definition_array_are_refused_before_the_typed_parse() {
    // Proves every JSON write body, not only batches, is bounded while it is parsed: a
    // contest with 2.79 million `{}` prizes and a rebate program with 2.79 million tiers
    // (each just under the body limit) are 413 too_many_items, not a typed parse of millions
    // of structs answered 422; nothing is written.
    let app = app_with_account().await;
    let head = app.head();
    for (role, path, field) in [
        (Role::Manager, "/v1/contests", "prizes"),
        (Role::Finance, "/v1/rebate-programs", "tiers"),
    ] {
        let elements = 2_790_000;
        let mut huge = format!("{{\"{field}\":[").into_bytes();
        huge.extend_from_slice(&b"{},".repeat(elements - 1));
        huge.extend_from_slice(b"{}]}");
        assert!(huge.len() <= kaledger::api::BODY_BYTES_MAX);
        let reply = app
            .post_bytes(role, path, "application/json", &[], huge)
            .await;
        assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "too_many_items");
    }
    assert_eq!(app.head(), head);
}
