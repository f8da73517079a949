//! Golden bytes: the stored envelope and payload formats are frozen. If one of these
//! tests fails, a change altered what is on disk: add a new format or schema version
//! with an upcast instead of editing the old one.

use std::str::FromStr;

use chrono::NaiveDate;
use kaledger::domain::events::*;
use kaledger::domain::vocab::{Role, Scope, Segment, Stage};
use kaledger::ledger::envelope::{Actor, Envelope, GENESIS_HASH};
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn sample_sale() -> SaleRecorded {
    SaleRecorded {
        account_id: "KA-1".into(),
        invoice_id: "INV-7".into(),
        line: 2,
        sku: "SKU-1".into(),
        category: "beverages".into(),
        quantity: d("12"),
        net_amount: d("345.60"),
        cost_amount: Some(d("250.00")),
        currency: "CNY".into(),
        occurred_on: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
    }
}

fn sample_envelope() -> Envelope {
    Envelope {
        event_type: "SaleRecorded".into(),
        schema_version: 1,
        position: 41,
        stream: "account/KA-1".into(),
        stream_version: 7,
        event_id: uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
        recorded_at_micros: 1_777_622_400_123_456,
        actor: Actor { name: "erp-feed".into(), role: "ingest".into() },
        idempotency_key: Some("k-1".into()),
        request_id: "req-1".into(),
        payload: Event::SaleRecorded(sample_sale()).encode_payload(),
        prev_hash: GENESIS_HASH,
        hash: [0; 32],
    }
}

const ENVELOPE_V1_HEX: &str = "010c0000000000000053616c655265636f72646564010029000000000000000c000000000000006163636f756e742f4b412d310700000000000000019000000000700080000000000000014042b4f7bc50060008000000000000006572702d666565640600000000000000696e676573740103000000000000006b2d3105000000000000007265712d317f0000000000000004000000000000004b412d310500000000000000494e562d37020000000500000000000000534b552d3109000000000000006265766572616765730200000000000000313206000000000000003334352e36300106000000000000003235302e30300300000000000000434e590a00000000000000323032362d30352d3031000000000000000000000000000000000000000000000000000000000000000005422c511e3f597f7477736764d7acf047e0d1c22742432e62a34aa271bacb61";

#[test]
fn envelope_v1_bytes_are_frozen() {
    // Proves the format-1 envelope layout and its chain hash have not changed.
    let mut envelope = sample_envelope();
    let bytes = envelope.seal();
    assert_eq!(bytes[0], 1, "format byte");
    assert_eq!(hex::encode(&bytes), ENVELOPE_V1_HEX);
    let opened = Envelope::open(&bytes).unwrap();
    assert_eq!(opened, envelope);
    assert!(Envelope::hash_matches(&bytes, &GENESIS_HASH, 41));
    assert!(!Envelope::hash_matches(&bytes, &GENESIS_HASH, 42), "the position is part of the hash");
}

#[test]
fn corrupt_envelopes_are_errors_not_panics() {
    // Proves every truncation and every single-byte flip of an envelope decodes to an
    // error or to a different envelope whose hash no longer matches — never a panic.
    let mut envelope = sample_envelope();
    let bytes = envelope.seal();
    for cut in 0..bytes.len() {
        let _ = Envelope::open(&bytes[..cut]);
        assert!(!Envelope::hash_matches(&bytes[..cut], &GENESIS_HASH, 41));
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x5a;
        let _ = Envelope::open(&flipped);
        assert!(!Envelope::hash_matches(&flipped, &GENESIS_HASH, 41), "flip at byte {i} went unnoticed");
    }
}

/// One sample of every event type at schema version 1, with its pinned payload bytes.
fn samples() -> Vec<(Event, &'static str)> {
    let date = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
    vec![
        (
            Event::AccountOpened(AccountOpened {
                account_id: "KA-1".into(),
                name: "Carrefour".into(),
                scope: Scope::Global,
                segment: Some(Segment::Economic),
                manager: Some("li.wei".into()),
                currency: "CNY".into(),
                stage: Stage::Cooperative,
            }),
            "04000000000000004b412d3109000000000000004361727265666f75720000000001000000000106000000000000006c692e7765690300000000000000434e5902000000",
        ),
        (
            Event::AccountUpdated(AccountUpdated { account_id: "KA-1".into(), name: "Carrefour CN".into(), scope: Scope::National, segment: None, manager: None }),
            "04000000000000004b412d310c000000000000004361727265666f757220434e010000000000",
        ),
        (
            Event::RelationshipStageChanged(RelationshipStageChanged { account_id: "KA-1".into(), from: Stage::Basic, to: Stage::Integrated, reason: Some("JV".into()) }),
            "04000000000000004b412d3101000000040000000102000000000000004a56",
        ),
        (Event::AccountClosed(AccountClosed { account_id: "KA-1".into(), reason: None }), "04000000000000004b412d3100"),
        (Event::SaleRecorded(sample_sale()), "04000000000000004b412d310500000000000000494e562d37020000000500000000000000534b552d3109000000000000006265766572616765730200000000000000313206000000000000003334352e36300106000000000000003235302e30300300000000000000434e590a00000000000000323032362d30352d3031"),
        (
            Event::SaleReturned(SaleReturned {
                account_id: "KA-1".into(),
                return_id: "R-1".into(),
                invoice_id: "INV-7".into(),
                line: 2,
                quantity: d("1.5"),
                net_amount: d("43.20"),
                cost_amount: d("31.25"),
                occurred_on: date,
                sale_occurred_on: NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
            }),
            "04000000000000004b412d310300000000000000522d310500000000000000494e562d37020000000300000000000000312e35050000000000000034332e3230050000000000000033312e32350a00000000000000323032362d30352d30310a00000000000000323032362d30342d3330",
        ),
        (Event::TokenIssued(TokenIssued { name: "erp".into(), role: Role::Ingest, token_sha256: "ab".repeat(32) }), "030000000000000065727004000000400000000000000061626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162"),
        (Event::TokenRevoked(TokenRevoked { name: "erp".into(), reason: Some("rotated".into()) }), "0300000000000000657270010700000000000000726f7461746564"),
    ]
}

#[test]
fn payload_v1_bytes_are_frozen_and_round_trip() {
    // Proves each event type's v1 payload bytes are pinned and decode back to the event,
    // decimals included (bincode cannot use rust_decimal's default serde form).
    for (event, pinned) in samples() {
        let bytes = event.encode_payload();
        assert_eq!(hex::encode(&bytes), pinned, "{} payload bytes changed", event.type_name());
        let decoded = Event::decode(event.type_name(), 1, &bytes).unwrap();
        assert_eq!(decoded, event);
    }
    assert_eq!(EVENT_TYPES.len(), samples().len(), "every event type has a golden sample");
}

#[test]
fn unknown_types_and_versions_are_refused() {
    // Proves an unknown event type or a future schema version is an error, not a guess.
    let bytes = Event::SaleRecorded(sample_sale()).encode_payload();
    assert!(Event::decode("SaleRecorded", 2, &bytes).is_err());
    assert!(Event::decode("NoSuchEvent", 1, &bytes).is_err());
    assert!(Event::decode("AccountOpened", 1, &bytes).is_err());
}
