//! Tamper evidence on disk (DESIGN §9 "a flipped byte in the data directory is found by
//! verify at the right position"): a ledger written by the real binary is edited inside
//! sled's `log` tree — one byte of one stored envelope — and then `kaledger verify` must
//! exit non-zero naming that position, and a server started on it must answer
//! `GET /v1/audit/verify` with `ok: false` and the same position.
//!
//! The edit goes through sled itself (open the tree, rewrite one chunk), so it models
//! someone with write access to the data directory editing an event; sled's own checksums
//! are recomputed and cannot catch it. Only the hash chain can.

use std::path::Path;
use std::str::FromStr;

use kaledger::ledger::envelope::Envelope;
use kaledger::ledger::store::chunk_entries;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::{cli_token, http_client, http_get, http_post, run_cli, Server};

/// The sale line whose event gets edited: its invoice is unique and its amount recognisable.
const TARGET_INVOICE: &str = "INV-TAMPER";
const TARGET_AMOUNT: &str = "777.77";

/// A stopped ledger: a token, an account, 40 sale lines of which line 21 of
/// `TARGET_INVOICE` carries `TARGET_AMOUNT`. Returns the admin token and the position of
/// that line's event.
fn ledger(data: &Path) -> (String, u64) {
    let token = cli_token(data, "tamper-admin", "admin");
    let server = Server::start(data);
    let http = http_client();
    let (status, body) = http_post(
        &http,
        &server.base,
        &token,
        "/v1/accounts",
        &json!({"account_id": "tamper", "name": "Tamper Ltd", "scope": "national", "currency": "CNY"}),
    );
    assert_eq!(status, 201, "{body}");
    let lines: Vec<Value> = (1..=40)
        .map(|line| {
            let net = if line == 21 { TARGET_AMOUNT } else { "10.00" };
            crate::support::sale("tamper", TARGET_INVOICE, line, net)
        })
        .collect();
    let (status, body) = http_post(
        &http,
        &server.base,
        &token,
        "/v1/sales",
        &json!({ "lines": lines }),
    );
    assert_eq!(status, 201, "{body}");
    // Position 1 is the token, 2 the account, 3.. the lines in order.
    let position = body["first_position"].as_u64().expect("first_position") + 20;
    let (status, events) = http_get(
        &http,
        &server.base,
        &token,
        &format!("/v1/audit/events?after={}&limit=1", position - 1),
    );
    assert_eq!(status, 200, "{events}");
    assert_eq!(
        events["events"][0]["data"]["net_amount"], TARGET_AMOUNT,
        "{events}"
    );
    server.stop();
    (token, position)
}

/// Rewrites the stored envelope at `position` through sled, applying `edit` to its bytes.
fn edit_stored_envelope(data: &Path, position: u64, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut edit = Some(edit);
    let db = sled::Config::new()
        .path(data)
        .open()
        .expect("open sled directly");
    let log = db.open_tree("log").expect("log tree");
    let (key, chunk) = log
        .range(..=position.to_be_bytes())
        .next_back()
        .expect("a chunk at or before the position")
        .expect("read chunk");
    let first = u64::from_be_bytes(key.as_ref().try_into().expect("8-byte key"));
    let entries = chunk_entries(first, &chunk).expect("chunk decodes");
    // Rebuild the chunk with the one envelope edited (format 1: [1] ‖ (len u32 LE ‖ bytes)*).
    let mut rebuilt = vec![1u8];
    let mut edited = false;
    for (p, bytes) in &entries {
        let mut bytes = bytes.to_vec();
        if p == position {
            let before = bytes.clone();
            (edit.take().expect("one envelope per position"))(&mut bytes);
            assert_ne!(before, bytes, "the edit changed nothing");
            edited = true;
        }
        rebuilt.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        rebuilt.extend_from_slice(&bytes);
    }
    assert!(edited, "position {position} is not in chunk {first}");
    log.insert(key, rebuilt).expect("write chunk");
    db.flush().expect("flush");
}

/// Index of `needle` in `haystack` (exactly one occurrence).
fn find_once(haystack: &[u8], needle: &[u8]) -> usize {
    let hits: Vec<usize> = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "expected one occurrence, found {hits:?}");
    hits[0]
}

/// `kaledger verify` must exit 1, name `position` on stderr and in its JSON report.
fn assert_verify_names(data: &Path, position: u64) -> Value {
    let out = run_cli(["verify".as_ref(), "--data".as_ref(), data.as_os_str()]);
    assert_eq!(
        out.code,
        Some(1),
        "verify should fail: {} {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("chain broken at position {position}")),
        "stderr does not name position {position}: {}",
        out.stderr
    );
    let report = out.json();
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_bad_position"], position, "{report}");
    assert_eq!(report["verified_through"], position - 1, "{report}");
    report
}

/// A server on the edited ledger answers `GET /v1/audit/verify` with the same position;
/// returns what it shows for that event.
fn assert_server_names(data: &Path, token: &str, position: u64) -> Value {
    let server = Server::start(data);
    let http = http_client();
    let (status, verify) = http_get(&http, &server.base, token, "/v1/audit/verify");
    assert_eq!(status, 200, "{verify}");
    assert_eq!(verify["ok"], false, "{verify}");
    assert_eq!(verify["first_bad_position"], position, "{verify}");
    assert!(
        verify["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{verify}"
    );
    let (status, events) = http_get(
        &http,
        &server.base,
        token,
        &format!("/v1/audit/events?after={}&limit=1", position - 1),
    );
    assert_eq!(status, 200, "{events}");
    server.stop();
    events["events"][0].clone()
}

// Proves that raising the amount of one stored sale (one payload byte, still a valid
// event) is found by `kaledger verify` and by `GET /v1/audit/verify` at that position.
#[test]
fn an_edited_amount_in_the_log_is_found_at_its_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (token, position) = ledger(&data);
    let amount = Decimal::from_str(TARGET_AMOUNT).unwrap().serialize();
    edit_stored_envelope(&data, position, |bytes| {
        // The decimal's 16 stored bytes: flags, then the 96-bit mantissa little-endian.
        // Adding 2^16 to the mantissa turns 777.77 into 1433.13.
        let at = find_once(bytes, &amount);
        bytes[at + 6] += 1;
        assert!(
            Envelope::open(bytes).is_ok(),
            "the edit must keep the envelope decodable"
        );
    });
    assert_verify_names(&data, position);
    let event = assert_server_names(&data, &token, position);
    assert_eq!(
        event["data"]["net_amount"], "1433.13",
        "the server shows the edited amount: {event}"
    );
}

// Proves that a changed character of a stored id (payload) is found at its position.
#[test]
fn an_edited_id_in_the_log_is_found_at_its_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (token, position) = ledger(&data);
    edit_stored_envelope(&data, position, |bytes| {
        let at = find_once(bytes, TARGET_INVOICE.as_bytes());
        bytes[at + TARGET_INVOICE.len() - 1] = b'X';
    });
    assert_verify_names(&data, position);
    let event = assert_server_names(&data, &token, position);
    assert_eq!(event["data"]["invoice_id"], "INV-TAMPEX", "{event}");
}

// Proves that a flipped byte of a stored hash is found at that position (the event's own
// hash no longer matches, before the next event's link is even looked at).
#[test]
fn a_flipped_hash_byte_is_found_at_its_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (token, position) = ledger(&data);
    edit_stored_envelope(&data, position, |bytes| {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
    });
    assert_verify_names(&data, position);
    assert_server_names(&data, &token, position);
}

// Proves that an edit that leaves the event undecodable (its type name) is named by
// `verify`, and that the server refuses to start on it, naming the position, rather than
// serving a ledger it cannot replay.
#[test]
fn an_undecodable_event_is_named_and_the_server_refuses_to_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (_token, position) = ledger(&data);
    edit_stored_envelope(&data, position, |bytes| {
        let at = find_once(bytes, b"SaleRecorded");
        bytes[at] = b'X';
    });
    assert_verify_names(&data, position);
    // A start from a checkpoint reads only the log after it (`verify` reads all of it);
    // without a checkpoint the whole log is replayed, and the bad event refuses the start.
    std::fs::remove_dir_all(data.join(kaledger::engine::checkpoint::CHECKPOINT_DIR))
        .expect("the clean stop left a checkpoint");
    let out = run_cli([
        "serve".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    assert!(
        !out.success(),
        "the server started on an undecodable log: {}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains(&format!("corrupt log at position {position}")),
        "the refusal does not name position {position}: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
