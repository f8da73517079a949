//! Property test over the request decoders and the write commands (DESIGN §9 "fuzzed and
//! malformed requests: no 5xx, no panic, nothing written"): random sequences of valid and
//! invalid sale and return batches, account commands and garbage bodies go to an in-process
//! app. A small model predicts which batches must be accepted and what they record.
//!
//! Invariants after every request:
//! - the answer is 2xx, or 4xx `application/problem+json` with a `code` and a matching
//!   `status`; never 5xx;
//! - a refusal writes nothing (the head does not move);
//! - an acceptance moves the head by exactly what it reports, from the old head + 1
//!   (positions stay gapless), and recorded + duplicates = lines sent;
//! - a batch of valid lines is accepted, a batch with an invalid line is refused.
//!
//! At the end: per account, the net of the accepted sales minus the accepted returns equals
//! the sales summary and the audit events; the audit positions are exactly 1..=head; the
//! account's line counts equal the model's.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use axum::http::StatusCode;
use kaledger::domain::vocab::{Role, Stage};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::{Reply, TestApp};

/// Cases (each a fresh ledger and a sequence of requests).
const CASES: u32 = 24;
/// Account ids the requests draw from; two are opened at the start, the others by the requests.
const ACCOUNTS: &[&str] = &["fz-a", "fz-b", "fz-c", "fz-ghost"];

/// One sale line: natural key from small ranges (so duplicates and conflicts happen),
/// content, and an optional corruption that makes it invalid.
#[derive(Debug, Clone)]
struct SaleGen {
    account: usize,
    invoice: u8,
    line: u8,
    net_cents: u64,
    quantity: u8,
    month: u8,
    day: u8,
    /// Content variant: same key with another variant is a conflicting line.
    variant: u8,
    corruption: Option<u8>,
}

#[derive(Debug, Clone)]
struct ReturnGen {
    /// Index into the recorded sales (modulo their count).
    sale: usize,
    return_id: u8,
    quantity: u8,
    net_cents: u64,
    /// Days after the sale (negative: before it).
    days_after: i8,
    corruption: Option<u8>,
}

#[derive(Debug, Clone)]
enum Op {
    Sales(Vec<SaleGen>),
    Returns(Vec<ReturnGen>),
    Open {
        account: usize,
        currency: u8,
        corruption: Option<u8>,
    },
    Stage {
        account: usize,
        stage: usize,
        expected_version: Option<u64>,
    },
    Rename {
        account: usize,
        name: u8,
        expected_version: Option<u64>,
    },
    Close {
        account: usize,
    },
    Garbage {
        path: u8,
        content_type: u8,
        body: Vec<u8>,
    },
}

/// Kinds of invalid sale lines.
const SALE_CORRUPTIONS: u8 = 12;

fn sale_gen() -> impl Strategy<Value = SaleGen> {
    (
        (0..ACCOUNTS.len(), 0u8..5, 1u8..4, 0u64..2_000_000, 1u8..20),
        (1u8..=12, 1u8..=28, 0u8..4),
        prop::option::weighted(0.12, 0..SALE_CORRUPTIONS),
    )
        .prop_map(
            |((account, invoice, line, net_cents, quantity), (month, day, variant), corruption)| {
                SaleGen {
                    account,
                    invoice,
                    line,
                    net_cents,
                    quantity,
                    month,
                    day,
                    variant,
                    corruption,
                }
            },
        )
}

fn return_gen() -> impl Strategy<Value = ReturnGen> {
    (
        any::<usize>(),
        0u8..3,
        1u8..4,
        0u64..60_000,
        -3i8..40,
        prop::option::weighted(0.1, 0u8..6),
    )
        .prop_map(
            |(sale, return_id, quantity, net_cents, days_after, corruption)| ReturnGen {
                sale,
                return_id,
                quantity,
                net_cents,
                days_after,
                corruption,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(sale_gen(), 0..8).prop_map(Op::Sales),
        3 => prop::collection::vec(return_gen(), 1..4).prop_map(Op::Returns),
        2 => (0..ACCOUNTS.len(), 0u8..5, prop::option::weighted(0.3, 0u8..5))
            .prop_map(|(account, currency, corruption)| Op::Open { account, currency, corruption }),
        1 => (0..ACCOUNTS.len(), 0..Stage::ALL.len(), prop::option::of(0u64..4))
            .prop_map(|(account, stage, expected_version)| Op::Stage { account, stage, expected_version }),
        1 => (0..ACCOUNTS.len(), 0u8..3, prop::option::of(0u64..4))
            .prop_map(|(account, name, expected_version)| Op::Rename { account, name, expected_version }),
        1 => (0..ACCOUNTS.len() - 1).prop_map(|account| Op::Close { account }),
        1 => (0u8..3, 0u8..4, prop::collection::vec(any::<u8>(), 0..80))
            .prop_map(|(path, content_type, body)| Op::Garbage { path, content_type, body }),
    ]
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn date(month: u8, day: u8) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, u32::from(month), u32::from(day)).expect("date")
}

/// A return line the model expects a batch to record: (sale index, key, line, quantity, net).
type RecordedReturn = (
    usize,
    (String, String, String, u32),
    Value,
    Decimal,
    Decimal,
);

/// A recorded sale line in the model.
#[derive(Debug, Clone)]
struct Sold {
    key: (String, String, u32),
    json: Value,
    net: Decimal,
    quantity: Decimal,
    on: chrono::NaiveDate,
    returned_quantity: Decimal,
    returned_net: Decimal,
}

/// What the ledger must contain.
#[derive(Default)]
struct Model {
    /// Open or closed accounts: id → (currency, closed).
    accounts: HashMap<String, (String, bool)>,
    sales: Vec<Sold>,
    sale_index: HashMap<(String, String, u32), usize>,
    /// (account, return id, invoice, line) → the line as sent.
    returns: HashMap<(String, String, String, u32), Value>,
    returned_net: BTreeMap<String, Decimal>,
    return_lines: BTreeMap<String, u64>,
}

impl Model {
    fn net_of(&self, account: &str) -> Decimal {
        let sold: Decimal = self
            .sales
            .iter()
            .filter(|s| s.key.0 == account)
            .map(|s| s.net)
            .sum();
        sold - self.returned_net.get(account).copied().unwrap_or_default()
    }
}

/// The JSON of a sale line and whether it is valid on its own (before account checks).
fn sale_json(g: &SaleGen) -> (Value, bool) {
    let mut line = json!({
        "account_id": ACCOUNTS[g.account],
        "invoice_id": format!("INV-{}", g.invoice),
        "line": g.line,
        "sku": format!("SKU-{}", g.variant),
        "category": "beverages",
        "quantity": g.quantity.to_string(),
        "net_amount": money(g.net_cents + u64::from(g.variant)),
        "cost_amount": money(g.net_cents / 2),
        "occurred_on": date(g.month, g.day).to_string(),
    });
    let Some(c) = g.corruption else {
        return (line, true);
    };
    match c {
        0 => line["net_amount"] = json!("-5.00"),
        1 => line["net_amount"] = json!("12,50"),
        2 => line["net_amount"] = json!("1.234"),
        3 => line["occurred_on"] = json!("2026-02-30"),
        4 => {
            line.as_object_mut().expect("object").remove("invoice_id");
        }
        5 => line["quantity"] = json!("0"),
        6 => line["net_amount"] = json!(12.5),
        7 => line["surprise"] = json!(1),
        8 => line["net_amount"] = json!("10000000000000000"),
        9 => line["currency"] = json!("ZZZ"),
        10 => line["account_id"] = json!(""),
        _ => line["line"] = json!(-1),
    }
    (line, false)
}

/// Checks the shape of a refusal and that it wrote nothing.
fn check_refusal(what: &str, reply: &Reply, head_before: u64, head_after: u64) {
    assert!(
        reply.status.is_client_error(),
        "{what}: expected a 4xx, got {} {}",
        reply.status,
        reply.text
    );
    assert_eq!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{what}: {}",
        reply.text
    );
    assert!(!reply.code().is_empty(), "{what}: no code: {}", reply.text);
    assert_eq!(
        reply.body["status"],
        reply.status.as_u16(),
        "{what}: {}",
        reply.text
    );
    assert_eq!(
        head_after, head_before,
        "{what}: a refusal wrote something: {}",
        reply.text
    );
}

/// Checks an accepted batch: counts add up and positions continue from the old head.
fn check_batch_accepted(
    what: &str,
    reply: &Reply,
    lines: usize,
    recorded: u64,
    head_before: u64,
    head_after: u64,
) {
    assert!(
        reply.status == StatusCode::CREATED || reply.status == StatusCode::OK,
        "{what}: expected acceptance, got {} {}",
        reply.status,
        reply.text
    );
    assert_eq!(
        (
            reply.body["recorded"].as_u64(),
            reply.body["duplicates"].as_u64()
        ),
        (Some(recorded), Some(lines as u64 - recorded)),
        "{what}: {}",
        reply.text
    );
    assert_eq!(head_after, head_before + recorded, "{what}: {}", reply.text);
    if recorded > 0 {
        assert_eq!(reply.status, StatusCode::CREATED, "{what}");
        assert_eq!(reply.body["first_position"], head_before + 1, "{what}");
        assert_eq!(reply.body["last_position"], head_after, "{what}");
    }
}

async fn post_sales(app: &TestApp, model: &mut Model, gens: &[SaleGen]) {
    let mut lines = Vec::new();
    let mut valid = !gens.is_empty();
    let mut keys_in_batch = HashSet::new();
    let mut new_lines: Vec<Sold> = Vec::new();
    for g in gens {
        let (line, ok) = sale_json(g);
        valid &= ok;
        let account = ACCOUNTS[g.account].to_string();
        // A closed account takes no new sales, but a retried line recorded before the
        // close still counts as a duplicate.
        let closed = match model.accounts.get(&account) {
            Some((_, closed)) => *closed,
            None => {
                valid = false;
                false
            }
        };
        let key = (account, format!("INV-{}", g.invoice), u32::from(g.line));
        if !keys_in_batch.insert(key.clone()) {
            valid = false;
        }
        match model.sale_index.get(&key) {
            Some(&i) if model.sales[i].json == line => {}
            Some(_) => valid = false,
            None if closed => valid = false,
            None if ok => new_lines.push(Sold {
                key,
                json: line.clone(),
                net: Decimal::from_str(line["net_amount"].as_str().expect("net")).expect("decimal"),
                quantity: Decimal::from(g.quantity),
                on: date(g.month, g.day),
                returned_quantity: Decimal::ZERO,
                returned_net: Decimal::ZERO,
            }),
            None => {}
        }
        lines.push(line);
    }
    let before = app.head();
    let reply = app
        .post(Role::Ingest, "/v1/sales", json!({ "lines": lines }))
        .await;
    let after = app.head();
    let what = format!("POST /v1/sales {}", json!({ "lines": lines }));
    if !valid {
        check_refusal(&what, &reply, before, after);
        return;
    }
    check_batch_accepted(
        &what,
        &reply,
        lines.len(),
        new_lines.len() as u64,
        before,
        after,
    );
    for sold in new_lines {
        model.sale_index.insert(sold.key.clone(), model.sales.len());
        model.sales.push(sold);
    }
}

async fn post_returns(app: &TestApp, model: &mut Model, gens: &[ReturnGen]) {
    let mut lines = Vec::new();
    let mut valid = true;
    let mut keys_in_batch = HashSet::new();
    // Per sale: quantity and net returned earlier in this batch.
    let mut in_batch: HashMap<usize, (Decimal, Decimal)> = HashMap::new();
    let mut recorded: Vec<RecordedReturn> = Vec::new();
    let mut duplicates = 0u64;
    for g in gens {
        if model.sales.is_empty() {
            // No sale yet: a return of an unknown line.
            let line = json!({"account_id": ACCOUNTS[0], "return_id": "R-0", "invoice_id": "INV-NONE", "line": 1,
                "quantity": "1", "net_amount": "1.00", "occurred_on": "2026-06-01"});
            lines.push(line);
            valid = false;
            continue;
        }
        let index = g.sale % model.sales.len();
        let sold = &model.sales[index];
        let on = sold.on + chrono::Duration::days(i64::from(g.days_after));
        let mut line = json!({"account_id": sold.key.0, "return_id": format!("R-{}", g.return_id),
            "invoice_id": sold.key.1, "line": sold.key.2, "quantity": g.quantity.to_string(),
            "net_amount": money(g.net_cents), "occurred_on": on.to_string()});
        let quantity = Decimal::from(g.quantity);
        let net = Decimal::new(g.net_cents as i64, 2);
        if let Some(c) = g.corruption {
            valid = false;
            match c {
                0 => line["quantity"] = json!("-1"),
                1 => line["net_amount"] = json!("abc"),
                2 => line["occurred_on"] = json!("tomorrow"),
                3 => line["invoice_id"] = json!("INV-NOPE"),
                4 => line["cost_amount"] = json!("0.001"),
                _ => {
                    line.as_object_mut().expect("object").remove("return_id");
                }
            }
            lines.push(line);
            continue;
        }
        let key = (
            sold.key.0.clone(),
            format!("R-{}", g.return_id),
            sold.key.1.clone(),
            sold.key.2,
        );
        // Closed accounts still take late returns (README).
        if let Some(previous) = model.returns.get(&key) {
            if *previous == line {
                duplicates += 1;
            } else {
                valid = false;
            }
            lines.push(line);
            continue;
        }
        if !keys_in_batch.insert(key.clone()) {
            valid = false;
        }
        let earlier = in_batch.entry(index).or_default();
        if on < sold.on
            || quantity > sold.quantity - sold.returned_quantity - earlier.0
            || net > sold.net - sold.returned_net - earlier.1
        {
            valid = false;
        }
        earlier.0 += quantity;
        earlier.1 += net;
        recorded.push((index, key, line.clone(), quantity, net));
        lines.push(line);
    }
    let before = app.head();
    let reply = app
        .post(Role::Ingest, "/v1/returns", json!({ "lines": lines }))
        .await;
    let after = app.head();
    let what = format!("POST /v1/returns {}", json!({ "lines": lines }));
    if !valid {
        check_refusal(&what, &reply, before, after);
        return;
    }
    check_batch_accepted(
        &what,
        &reply,
        lines.len(),
        recorded.len() as u64,
        before,
        after,
    );
    let _ = duplicates;
    for (index, key, line, quantity, net) in recorded {
        let sold = &mut model.sales[index];
        sold.returned_quantity += quantity;
        sold.returned_net += net;
        *model.returned_net.entry(key.0.clone()).or_default() += net;
        *model.return_lines.entry(key.0.clone()).or_default() += 1;
        model.returns.insert(key, line);
    }
}

/// Account commands: the model predicts only opening; the others are checked for the
/// invariants (acceptance writes one event, refusal nothing) and tracked by their answer.
async fn account_command(app: &TestApp, model: &mut Model, op: &Op) {
    let before = app.head();
    let (what, reply, expected_ok) = match op {
        Op::Open {
            account,
            currency,
            corruption,
        } => {
            let id = ACCOUNTS[*account];
            let currency_code = ["CNY", "USD", "EUR", "ZZZ", ""][*currency as usize];
            let mut body = json!({"account_id": id, "name": format!("Account {id}"), "scope": "national", "currency": currency_code});
            let mut ok = *currency < 3 && !model.accounts.contains_key(id);
            if let Some(c) = corruption {
                ok = false;
                match c {
                    0 => body["account_id"] = json!("has space"),
                    1 => body["scope"] = json!("planet"),
                    2 => {
                        body.as_object_mut().expect("object").remove("name");
                    }
                    3 => body["relationship_stage"] = json!("best-friends"),
                    _ => body["extra"] = json!(true),
                }
            }
            let reply = app.post(Role::Manager, "/v1/accounts", body.clone()).await;
            if reply.status == StatusCode::CREATED {
                model
                    .accounts
                    .insert(id.to_string(), (currency_code.to_string(), false));
            }
            (format!("POST /v1/accounts {body}"), reply, Some(ok))
        }
        Op::Stage {
            account,
            stage,
            expected_version,
        } => {
            let id = ACCOUNTS[*account];
            let mut body = json!({"stage": Stage::ALL[*stage].as_str(), "reason": "fuzz"});
            if let Some(v) = expected_version {
                body["expected_version"] = json!(v);
            }
            let path = format!("/v1/accounts/{id}/stage");
            let reply = app.post(Role::Manager, &path, body.clone()).await;
            (format!("POST {path} {body}"), reply, None)
        }
        Op::Rename {
            account,
            name,
            expected_version,
        } => {
            let id = ACCOUNTS[*account];
            let mut body = json!({"name": format!("Name {name}")});
            if let Some(v) = expected_version {
                body["expected_version"] = json!(v);
            }
            let path = format!("/v1/accounts/{id}");
            let reply = app.patch(Role::Manager, &path, body.clone()).await;
            (format!("PATCH {path} {body}"), reply, None)
        }
        Op::Close { account } => {
            let id = ACCOUNTS[*account];
            let path = format!("/v1/accounts/{id}/close");
            let reply = app
                .post(Role::Manager, &path, json!({"reason": "fuzz"}))
                .await;
            if reply.status.is_success() {
                if let Some(entry) = model.accounts.get_mut(id) {
                    entry.1 = true;
                }
            }
            (format!("POST {path}"), reply, None)
        }
        _ => unreachable!("not an account command"),
    };
    let after = app.head();
    if reply.status.is_success() {
        assert!(
            expected_ok.unwrap_or(true),
            "{what}: accepted but should be refused: {}",
            reply.text
        );
        assert_eq!(after, before + 1, "{what}: {}", reply.text);
    } else {
        assert_ne!(
            expected_ok,
            Some(true),
            "{what}: refused but valid: {}",
            reply.text
        );
        check_refusal(&what, &reply, before, after);
    }
}

async fn garbage(app: &TestApp, path: u8, content_type: u8, body: &[u8]) {
    let path = ["/v1/sales", "/v1/returns", "/v1/accounts"][path as usize];
    let content_type = [
        "application/json",
        "text/csv",
        "text/plain",
        "application/x-www-form-urlencoded",
    ][content_type as usize];
    let mut bytes = body.to_vec();
    // Half the time something JSON-ish, so the decoder gets past the first byte.
    if body.first().is_some_and(|b| b % 2 == 0) {
        bytes = format!(
            "{{\"lines\":[{{\"account_id\":{}}}]}}",
            String::from_utf8_lossy(body)
        )
        .into_bytes();
    }
    let before = app.head();
    let role = if path == "/v1/accounts" {
        Role::Manager
    } else {
        Role::Ingest
    };
    let reply = app
        .post_bytes(role, path, content_type, &[], bytes.clone())
        .await;
    let after = app.head();
    let what = format!(
        "POST {path} ({content_type}) {:?}",
        String::from_utf8_lossy(&bytes)
    );
    // Random bytes can form a valid CSV header with no rows or similar; whatever the
    // answer, it is never a 5xx and a refusal writes nothing.
    assert!(
        !reply.status.is_server_error(),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    if !reply.status.is_success() {
        check_refusal(&what, &reply, before, after);
    }
}

/// The final cross-checks against the sales summary, the audit log and the accounts.
async fn check_totals(app: &TestApp, model: &Model) {
    let head = app.head();
    let events = app.audit_events("").await;
    let positions: Vec<u64> = events
        .iter()
        .map(|e| e["position"].as_u64().expect("position"))
        .collect();
    assert_eq!(
        positions,
        (1..=head).collect::<Vec<u64>>(),
        "positions are not gapless"
    );
    let mut audit_net: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut audit_lines: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for e in &events {
        let sign = match e["type"].as_str() {
            Some("SaleRecorded") => Decimal::ONE,
            Some("SaleReturned") => Decimal::NEGATIVE_ONE,
            _ => continue,
        };
        let account = e["data"]["account_id"]
            .as_str()
            .expect("account")
            .to_string();
        let net =
            Decimal::from_str(e["data"]["net_amount"].as_str().expect("net")).expect("decimal");
        *audit_net.entry(account.clone()).or_default() += sign * net;
        *audit_lines
            .entry((
                account,
                if sign > Decimal::ZERO {
                    "sale"
                } else {
                    "return"
                },
            ))
            .or_default() += 1;
    }
    for id in model.accounts.keys() {
        let expected = model.net_of(id);
        assert_eq!(
            audit_net.get(id).copied().unwrap_or_default(),
            expected,
            "{id}: audit net differs from the accepted lines"
        );
        let reply = app
            .get(
                Role::Auditor,
                &format!("/v1/accounts/{id}/sales-summary?from=2026-01&to=2026-12"),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let summary: Decimal = reply.body["months"]
            .as_array()
            .expect("months")
            .iter()
            .map(|m| {
                Decimal::from_str(m["net_revenue"].as_str().expect("net_revenue")).expect("decimal")
            })
            .sum();
        assert_eq!(
            summary, expected,
            "{id}: sales summary differs: {}",
            reply.text
        );
        let account = app.get(Role::Auditor, &format!("/v1/accounts/{id}")).await;
        let sold = model.sales.iter().filter(|s| s.key.0 == *id).count() as u64;
        assert_eq!(account.body["sale_lines"], sold, "{}", account.text);
        assert_eq!(
            account.body["return_lines"],
            model.return_lines.get(id).copied().unwrap_or(0),
            "{}",
            account.text
        );
        assert_eq!(
            audit_lines.get(&(id.clone(), "sale")).copied().unwrap_or(0),
            sold
        );
    }
    let verify = app.get(Role::Auditor, "/v1/audit/verify").await;
    assert_eq!(
        (
            verify.body["ok"].as_bool(),
            verify.body["verified_through"].as_u64()
        ),
        (Some(true), Some(head)),
        "{}",
        verify.text
    );
}

async fn run(ops: Vec<Op>) -> (usize, usize) {
    let app = TestApp::new().await;
    let mut model = Model::default();
    // Start with two accounts so that most batches have somewhere to go.
    for (id, currency) in [("fz-a", "CNY"), ("fz-b", "USD")] {
        app.open_account(id, currency).await;
        model
            .accounts
            .insert(id.to_string(), (currency.to_string(), false));
    }
    for op in &ops {
        match op {
            Op::Sales(lines) => post_sales(&app, &mut model, lines).await,
            Op::Returns(lines) => post_returns(&app, &mut model, lines).await,
            Op::Garbage {
                path,
                content_type,
                body,
            } => garbage(&app, *path, *content_type, body).await,
            other => account_command(&app, &mut model, other).await,
        }
    }
    check_totals(&app, &model).await;
    let counts = (model.sales.len(), model.returns.len());
    app.engine.shutdown().await;
    counts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    // Proves the invariants in the module doc for random request sequences.
    #[test]
    fn random_requests_keep_the_ledger_consistent(ops in prop::collection::vec(op(), 10..60)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run(ops));
    }
}

// Proves the generator reaches both sides: over a fixed seed's worth of sequences, some
// sales and some returns are accepted (so the sums above compare something).
#[test]
fn the_generator_records_sales_and_returns() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (mut sales, mut returns) = (0, 0);
    for _ in 0..6 {
        let ops = prop::collection::vec(op(), 40..60)
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        let (s, r) = runtime.block_on(run(ops));
        sales += s;
        returns += r;
    }
    assert!(
        sales > 20 && returns > 3,
        "only {sales} sales and {returns} returns recorded"
    );
}
