//! Key accounts over HTTP: open, read, list with filters and a cursor, update with
//! expected_version, relationship stage, close, and reads as of an earlier instant.

use axum::http::StatusCode;
use kaledger::domain::vocab::Role;
use serde_json::{json, Value};

use crate::support::{assert_problem, error_triples, sale, Reply, TestApp};

async fn open(app: &TestApp, body: Value) -> Reply {
    app.post(Role::Manager, "/v1/accounts", body).await
}

/// The account ids of a list answer, in order.
fn ids(reply: &Reply) -> Vec<String> {
    reply.body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["account_id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_opens_reads_back_and_bad_ones_are_refused() {
    // Proves opening returns the full view at version 1, a read returns the same, and a
    // duplicate id, bad id, unknown currency or unknown scope is refused without writing.
    let app = TestApp::new().await;
    let reply = open(&app, json!({"account_id": "KA-1", "name": "  Carrefour China ", "scope": "global", "segment": "strategic", "manager": "li.wei", "currency": "CNY"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let body = &reply.body;
    assert_eq!(body["account_id"], "KA-1");
    assert_eq!(body["name"], "Carrefour China", "names are trimmed");
    assert_eq!(body["scope"], "global");
    assert_eq!(body["segment"], "strategic");
    assert_eq!(body["manager"], "li.wei");
    assert_eq!(body["currency"], "CNY");
    assert_eq!(body["relationship_stage"], "exploratory");
    assert_eq!(body["status"], "open");
    assert_eq!(body["closed_at"], Value::Null);
    assert_eq!(body["version"], 1);
    assert!(
        body["opened_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{}",
        reply.text
    );
    let read = app.get(Role::Auditor, "/v1/accounts/KA-1").await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, reply.body);

    let with_stage = open(&app, json!({"account_id": "KA-2", "name": "Suguo", "scope": "local", "currency": "CNY", "relationship_stage": "cooperative"})).await;
    assert_eq!(
        with_stage.status,
        StatusCode::CREATED,
        "{}",
        with_stage.text
    );
    assert_eq!(with_stage.body["relationship_stage"], "cooperative");
    assert_eq!(with_stage.body["segment"], Value::Null);
    assert_eq!(with_stage.body["manager"], Value::Null);

    let head = app.head();
    let reply = open(
        &app,
        json!({"account_id": "KA-1", "name": "Again", "scope": "national", "currency": "CNY"}),
    )
    .await;
    assert_problem(&reply, StatusCode::CONFLICT, "account_exists");
    let reply = open(
        &app,
        json!({"account_id": "bad id!", "name": "X", "scope": "national", "currency": "CNY"}),
    )
    .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&reply),
        vec![(None, "account_id".to_string(), "invalid_id".to_string())]
    );
    let reply = open(
        &app,
        json!({"account_id": "KA-3", "name": "X", "scope": "national", "currency": "XXX"}),
    )
    .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&reply),
        vec![(None, "currency".to_string(), "unknown_currency".to_string())]
    );
    let reply = open(&app, json!({"account_id": "KA-3", "name": " ", "scope": "national", "currency": "CNY", "manager": "no way"})).await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(
        error_triples(&reply),
        vec![
            (None, "name".to_string(), "missing".to_string()),
            (None, "manager".to_string(), "invalid_id".to_string())
        ]
    );
    let reply = open(
        &app,
        json!({"account_id": "KA-3", "name": "X", "scope": "planetary", "currency": "CNY"}),
    )
    .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = open(&app, json!({"account_id": "KA-3", "name": "X", "scope": "local", "currency": "CNY", "colour": "red"})).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = app
        .post_bytes(
            Role::Manager,
            "/v1/accounts",
            "application/json",
            &[],
            b"{\"account_id\":".to_vec(),
        )
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "malformed_json");
    let reply = app
        .post_bytes(
            Role::Manager,
            "/v1/accounts",
            "text/plain",
            &[],
            b"KA-3".to_vec(),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(app.head(), head, "refusals wrote something");

    let reply = app.get(Role::Auditor, "/v1/accounts/KA-404").await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_filters_and_pages_with_a_cursor() {
    // Proves the list is in id order, pages through next_after without gaps or repeats,
    // filters by scope, segment, manager and status, and refuses bad parameters.
    let app = TestApp::new().await;
    let accounts = [
        ("A-1", "global", Some("strategic"), Some("m1")),
        ("A-2", "national", Some("economic"), Some("m2")),
        ("A-3", "local", None, Some("m1")),
        ("A-4", "global", Some("strategic"), None),
        ("A-5", "local", Some("group"), Some("m1")),
        ("A-6", "national", Some("important"), Some("m2")),
        ("A-7", "local", Some("strategic"), None),
    ];
    // Opened out of order: the list is by id, not by opening.
    for (id, scope, segment, manager) in accounts.iter().rev() {
        let reply = open(&app, json!({"account_id": id, "name": format!("Account {id}"), "scope": scope, "segment": segment, "manager": manager, "currency": "CNY"})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = "/v1/accounts?limit=3".to_string();
    loop {
        let reply = app.get(Role::Auditor, &path).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        pages.push(ids(&reply).len());
        seen.extend(ids(&reply));
        match reply.body["next_after"].as_str() {
            Some(next) => {
                assert_eq!(Some(next.to_string()), seen.last().cloned());
                path = format!("/v1/accounts?limit=3&after={next}");
            }
            None => break,
        }
    }
    assert_eq!(pages, vec![3, 3, 1]);
    assert_eq!(seen, vec!["A-1", "A-2", "A-3", "A-4", "A-5", "A-6", "A-7"]);
    // An exact last page has no next cursor.
    let reply = app.get(Role::Auditor, "/v1/accounts?limit=7").await;
    assert_eq!(ids(&reply).len(), 7);
    assert_eq!(reply.body["next_after"], Value::Null);
    assert!(reply.body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .all(|a| a["version"] == 1));

    let app_ref = &app;
    let filter = |query: &'static str| async move {
        ids(&app_ref
            .get(Role::Auditor, &format!("/v1/accounts?{query}"))
            .await)
    };
    assert_eq!(filter("scope=local").await, vec!["A-3", "A-5", "A-7"]);
    assert_eq!(filter("segment=strategic").await, vec!["A-1", "A-4", "A-7"]);
    assert_eq!(filter("manager=m1").await, vec!["A-1", "A-3", "A-5"]);
    assert_eq!(
        filter("scope=global&segment=strategic").await,
        vec!["A-1", "A-4"]
    );
    assert_eq!(filter("manager=m2&after=A-2").await, vec!["A-6"]);
    assert_eq!(filter("status=closed").await, Vec::<String>::new());
    // Filtered pages keep the cursor right: limit counts matches, not scanned accounts.
    let reply = app
        .get(Role::Auditor, "/v1/accounts?scope=local&limit=2")
        .await;
    assert_eq!(ids(&reply), vec!["A-3", "A-5"]);
    assert_eq!(reply.body["next_after"], "A-5");
    let reply = app
        .get(Role::Auditor, "/v1/accounts?scope=local&limit=2&after=A-5")
        .await;
    assert_eq!(ids(&reply), vec!["A-7"]);
    assert_eq!(reply.body["next_after"], Value::Null);

    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/A-2/close",
            json!({"reason": "merged"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(filter("status=closed").await, vec!["A-2"]);
    assert_eq!(filter("status=open&manager=m2").await, vec!["A-6"]);

    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
        ("limit=ten", "invalid_query"),
        ("status=asleep", "invalid_query"),
        ("scope=planetary", "invalid_query"),
        ("colour=red", "invalid_query"),
        ("known_at=yesterday", "invalid_known_at"),
    ] {
        let reply = app
            .get(Role::Auditor, &format!("/v1/accounts?{query}"))
            .await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, code);
    }
    let reply = app.get(Role::Auditor, "/v1/accounts?limit=1000").await;
    assert_eq!(ids(&reply).len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_checks_expected_version_and_null_clears() {
    // Proves PATCH applies with the right expected_version and is 409 version_conflict
    // with the wrong one; absent fields stay, null clears segment and manager.
    let app = TestApp::new().await;
    let reply = open(&app, json!({"account_id": "KA-1", "name": "Lianhua", "scope": "national", "segment": "important", "manager": "m1", "currency": "CNY"})).await;
    assert_eq!(reply.body["version"], 1);

    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"expected_version": 1, "name": "Lianhua Supermarket"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["name"], "Lianhua Supermarket");
    assert_eq!(reply.body["segment"], "important");
    assert_eq!(reply.body["manager"], "m1");
    assert_eq!(reply.body["version"], 2);

    let head = app.head();
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"expected_version": 1, "name": "Stale"}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "version_conflict");
    assert_eq!(
        reply.body["context"],
        json!({"stream": "account/KA-1", "expected_version": 1, "actual_version": 2})
    );
    assert_eq!(app.head(), head);
    assert_eq!(
        app.get(Role::Auditor, "/v1/accounts/KA-1").await.body["name"],
        "Lianhua Supermarket"
    );

    let reply = app
        .patch(
            Role::Admin,
            "/v1/accounts/KA-1",
            json!({"manager": null, "scope": "global"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["manager"], Value::Null);
    assert_eq!(
        reply.body["segment"], "important",
        "an absent segment stays"
    );
    assert_eq!(reply.body["scope"], "global");
    assert_eq!(reply.body["version"], 3);
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"expected_version": 3, "segment": null, "manager": "m2"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        (reply.body["segment"].clone(), reply.body["manager"].clone()),
        (Value::Null, json!("m2"))
    );
    assert_eq!(
        reply.body,
        app.get(Role::Auditor, "/v1/accounts/KA-1").await.body
    );

    let head = app.head();
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-404",
            json!({"name": "Ghost"}),
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
    let reply = app
        .patch(Role::Manager, "/v1/accounts/KA-1", json!({"name": ""}))
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"currency": "USD"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"expected_version": "four"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    assert_eq!(app.head(), head);
    // The audit trail holds the full new values of each update.
    let updates = app
        .audit_events("stream=account/KA-1&type=AccountUpdated")
        .await;
    assert_eq!(updates.len(), 3);
    assert_eq!(updates[1]["data"]["manager"], Value::Null);
    assert_eq!(updates[2]["data"]["segment"], Value::Null);
    assert_eq!(updates[2]["version"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_changes_and_an_unchanged_stage_is_refused() {
    // Proves a stage change is recorded with its version, the same stage again is 422
    // stage_unchanged, a stale expected_version is 409, and an unknown stage is 422.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let reply = app.post(Role::Manager, "/v1/accounts/KA-1/stage", json!({"stage": "cooperative", "reason": "signed the annual plan", "expected_version": 1})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["relationship_stage"], "cooperative");
    assert_eq!(reply.body["version"], 2);
    let head = app.head();
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "cooperative"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "stage_unchanged");
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "integrated", "expected_version": 1}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "version_conflict");
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "married"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-404/stage",
            json!({"stage": "basic"}),
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "basic", "reason": "x".repeat(201)}),
        )
        .await;
    assert_problem(
        &reply,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(app.head(), head);
    // Stages may move back as well as forward.
    let reply = app
        .post(
            Role::Admin,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "basic"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["relationship_stage"], "basic");
    let changes = app.audit_events("type=RelationshipStageChanged").await;
    let moves: Vec<(&str, &str)> = changes
        .iter()
        .map(|e| {
            (
                e["data"]["from"].as_str().unwrap_or(""),
                e["data"]["to"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![("exploratory", "cooperative"), ("cooperative", "basic")]
    );
    assert_eq!(changes[0]["data"]["reason"], "signed the annual plan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_account_refuses_sales_but_accepts_returns() {
    // Proves closing records status and time, then sales for the account are refused
    // (account_closed) while returns of its earlier sales are still recorded, and the
    // account refuses further changes.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let reply = app
        .post(
            Role::Ingest,
            "/v1/sales",
            json!({"lines": [sale("KA-1", "INV-1", 1, "100.00")]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/close",
            json!({"reason": "contract ended"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["status"], "closed");
    assert!(reply.body["closed_at"].is_string(), "{}", reply.text);
    assert_eq!(reply.body["sale_lines"], 1);
    assert_eq!(reply.body["version"], 3);

    let head = app.head();
    let reply = app
        .post(
            Role::Ingest,
            "/v1/sales",
            json!({"lines": [sale("KA-1", "INV-2", 1, "50.00")]}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_lines");
    assert_eq!(
        error_triples(&reply),
        vec![(
            Some(0),
            "account_id".to_string(),
            "account_closed".to_string()
        )]
    );
    assert_eq!(app.head(), head);

    let ret = json!({"lines": [{"account_id": "KA-1", "return_id": "R1", "invoice_id": "INV-1", "line": 1, "quantity": "1", "net_amount": "10.00", "occurred_on": "2026-04-01"}]});
    let reply = app.post(Role::Ingest, "/v1/returns", ret).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["recorded"], 1);
    assert_eq!(app.head(), head + 1);
    let read = app.get(Role::Auditor, "/v1/accounts/KA-1").await;
    assert_eq!(
        (
            read.body["return_lines"].as_u64(),
            read.body["status"].as_str()
        ),
        (Some(1), Some("closed"))
    );

    let head = app.head();
    let reply = app
        .post(Role::Manager, "/v1/accounts/KA-1/close", json!({}))
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "account_closed");
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"name": "Reopened?"}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "account_closed");
    let reply = app
        .post(
            Role::Manager,
            "/v1/accounts/KA-1/stage",
            json!({"stage": "basic"}),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "account_closed");
    let reply = app
        .post(Role::Manager, "/v1/accounts/KA-404/close", json!({}))
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
    assert_eq!(app.head(), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_at_answers_as_the_log_stood_then() {
    // Proves reads with known_at see the account as recorded at that instant: the old
    // name and version before an update, and 404 before it was opened.
    let app = TestApp::new().await;
    app.open_account("KA-1", "CNY").await;
    let reply = app
        .patch(
            Role::Manager,
            "/v1/accounts/KA-1",
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    app.open_account("KA-2", "EUR").await;

    let events = app.audit_events("").await;
    let at = |event_type: &str| -> String {
        events
            .iter()
            .find(|e| e["type"] == event_type)
            .and_then(|e| e["recorded_at"].as_str())
            .unwrap_or_else(|| panic!("no {event_type}"))
            .to_string()
    };
    let opened_at = at("AccountOpened");
    let updated_at = at("AccountUpdated");
    let before_open = events
        .iter()
        .rev()
        .find(|e| e["type"] == "TokenIssued")
        .and_then(|e| e["recorded_at"].as_str())
        .expect("token event")
        .to_string();
    assert!(before_open < opened_at && opened_at < updated_at);

    let then = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/KA-1?known_at={opened_at}"),
        )
        .await;
    assert_eq!(then.status, StatusCode::OK, "{}", then.text);
    assert_eq!(then.body["name"], "Account KA-1");
    assert_eq!(then.body["version"], 1);
    assert_eq!(then.body["opened_at"], opened_at);
    let now = app.get(Role::Auditor, "/v1/accounts/KA-1").await;
    assert_eq!(
        (now.body["name"].as_str(), now.body["version"].as_u64()),
        (Some("Renamed"), Some(2))
    );
    let at_update = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/KA-1?known_at={updated_at}"),
        )
        .await;
    assert_eq!(at_update.body, now.body);

    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts/KA-1?known_at={before_open}"),
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
    let reply = app
        .get(
            Role::Auditor,
            "/v1/accounts/KA-1?known_at=2000-01-01T00:00:00Z",
        )
        .await;
    assert_problem(&reply, StatusCode::NOT_FOUND, "account_not_found");
    // Offsets other than Z name the same instant (the '+' must be percent-encoded).
    let far_future = app
        .get(
            Role::Auditor,
            "/v1/accounts/KA-1?known_at=2999-01-01T08:00:00%2B08:00",
        )
        .await;
    assert_eq!(far_future.body, now.body);

    // The list answers as of the instant too.
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts?known_at={updated_at}"),
        )
        .await;
    assert_eq!(ids(&reply), vec!["KA-1"]);
    assert_eq!(reply.body["accounts"][0]["name"], "Renamed");
    let reply = app
        .get(Role::Auditor, &format!("/v1/accounts?known_at={opened_at}"))
        .await;
    assert_eq!(reply.body["accounts"][0]["name"], "Account KA-1");
    assert_eq!(reply.body["accounts"][0]["version"], 1);
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/accounts?known_at={before_open}"),
        )
        .await;
    assert_eq!(ids(&reply), Vec::<String>::new());

    // Audit events honour known_at as well.
    let reply = app
        .get(
            Role::Auditor,
            &format!("/v1/audit/events?stream=account/KA-1&known_at={opened_at}"),
        )
        .await;
    assert_eq!(
        reply.body["events"].as_array().map(Vec::len),
        Some(1),
        "{}",
        reply.text
    );

    let reply = app
        .get(
            Role::Auditor,
            "/v1/accounts/KA-1?known_at=2026-13-01T00:00:00Z",
        )
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_known_at");
}
