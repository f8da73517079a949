//! Golden bytes: the stored envelope and payload formats are frozen. If one of these
//! tests fails, a change altered what is on disk: add a new format or schema version
//! with an upcast instead of editing the old one.

use std::str::FromStr;

use chrono::NaiveDate;
use kaledger::domain::events::*;
use kaledger::domain::vocab::{Role, Scope, Segment, Stage};
use kaledger::ledger::envelope::{Actor, Envelope, GENESIS_HASH};
use kaledger::rules::allocation::ClassAllocation;
use kaledger::rules::calendar::PeriodKind;
use kaledger::rules::contests::{AwardedPrize, ContestMetric, Prize, PrizeKind, Standing};
use kaledger::rules::rebates::{
    RebateBasis, RebateComputation, RebateMethod, RebateTier, SettlementKind,
};
use kaledger::rules::tiers::{TierCriteria, TierDefinition, TierEntitlements};
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

pub(crate) fn sample_envelope() -> Envelope {
    Envelope {
        event_type: "SaleRecorded".into(),
        schema_version: 1,
        position: 41,
        stream: "account/KA-1".into(),
        stream_version: 7,
        event_id: uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
        recorded_at_micros: 1_777_622_400_123_456,
        actor: Actor {
            name: "erp-feed".into(),
            role: "ingest".into(),
        },
        idempotency_key: Some("k-1".into()),
        request_id: "req-1".into(),
        payload: Event::SaleRecorded(sample_sale()).encode_payload(),
        prev_hash: GENESIS_HASH,
        hash: [0; 32],
    }
}

const ENVELOPE_V1_HEX: &str = "010c53616c655265636f7264656401290c6163636f756e742f4b412d310701900000000070008000000000000001fd808468ef79a10c00086572702d6665656406696e6765737401036b2d31057265712d3159044b412d3105494e562d370205534b552d310962657665726167657310000000000c00000000000000000000001000000200008700000000000000000000011000000200a8610000000000000000000003434e59fc3293160000000000000000000000000000000000000000000000000000000000000000001dbc45215e456788def23a877acffd1e1481d681bd1c5302020c588366682d47";

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
    assert!(
        !Envelope::hash_matches(&bytes, &GENESIS_HASH, 42),
        "the position is part of the hash"
    );
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
        assert!(
            !Envelope::hash_matches(&flipped, &GENESIS_HASH, 41),
            "flip at byte {i} went unnoticed"
        );
    }
}

/// One sample of every event type at schema version 1, with its pinned payload bytes.
pub(crate) fn samples() -> Vec<(Event, &'static str)> {
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
            "044b412d31094361727265666f757200010001066c692e77656903434e5902",
        ),
        (
            Event::AccountUpdated(AccountUpdated { account_id: "KA-1".into(), name: "Carrefour CN".into(), scope: Scope::National, segment: None, manager: None }),
            "044b412d310c4361727265666f757220434e010000",
        ),
        (
            Event::RelationshipStageChanged(RelationshipStageChanged { account_id: "KA-1".into(), from: Stage::Basic, to: Stage::Integrated, reason: Some("JV".into()) }),
            "044b412d31010401024a56",
        ),
        (Event::AccountClosed(AccountClosed { account_id: "KA-1".into(), reason: None }), "044b412d3100"),
        (Event::SaleRecorded(sample_sale()), "044b412d3105494e562d370205534b552d310962657665726167657310000000000c00000000000000000000001000000200008700000000000000000000011000000200a8610000000000000000000003434e59fc32931600"),
        (
            Event::SaleReturned(SaleReturned {
                account_id: "KA-1".into(),
                return_id: "R-1".into(),
                invoice_id: "INV-7".into(),
                line: 2,
                sku: "SKU-1".into(),
                category: "beverages".into(),
                quantity: d("1.5"),
                net_amount: d("43.20"),
                cost_amount: d("31.25"),
                occurred_on: date,
                sale_occurred_on: NaiveDate::from_ymd_opt(2026, 4, 30).unwrap(),
            }),
            "044b412d3103522d3105494e562d370205534b552d310962657665726167657310000001000f00000000000000000000001000000200e010000000000000000000001000000200350c00000000000000000000fc32931600fc30931600",
        ),
        (Event::TokenIssued(TokenIssued { name: "erp".into(), role: Role::Ingest, token_sha256: "ab".repeat(32) }), "03657270044061626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162"),
        (Event::TokenRevoked(TokenRevoked { name: "erp".into(), reason: Some("rotated".into()) }), "036572700107726f7461746564"),
        (
            Event::TierPolicyPublished(TierPolicyPublished {
                version: 2,
                effective_from: date,
                window_months: 12,
                tiers: vec![
                    TierDefinition {
                        name: "key".into(),
                        criteria: TierCriteria { min_net_revenue: Some(d("1000000")), min_margin_pct: Some(d("8.5")), min_active_months: Some(9), min_stage: Some(Stage::Cooperative) },
                        entitlements: TierEntitlements { max_discount_pct: d("5"), supply_priority: 2, contest_eligible: true },
                    },
                    TierDefinition {
                        name: "general".into(),
                        criteria: TierCriteria::default(),
                        entitlements: TierEntitlements { max_discount_pct: d("0"), supply_priority: 4, contest_eligible: false },
                    },
                ],
            }),
            "02fc329316000c02036b657901100000000040420f00000000000000000001100000010055000000000000000000000001090102100000000005000000000000000000000002010767656e6572616c0000000010000000000000000000000000000000000400",
        ),
        (
            Event::TierOverrideGranted(TierOverrideGranted {
                account_id: "KA-1".into(),
                override_id: "ovr-1".into(),
                tier: "key".into(),
                valid_from: date,
                valid_to: Some(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
                reason: "board decision".into(),
            }),
            "044b412d31056f76722d31036b6579fc3293160001fc1a9516000e626f617264206465636973696f6e",
        ),
        (Event::TierOverrideRevoked(TierOverrideRevoked { account_id: "KA-1".into(), override_id: "ovr-1".into(), reason: None }), "044b412d31056f76722d3100"),
        (
            Event::DiscountGranted(DiscountGranted {
                discount_id: "D-1".into(),
                account_id: "KA-1".into(),
                percent: d("2.5"),
                scope: DiscountScope::Category,
                scope_value: Some("beverages".into()),
                valid_from: date,
                valid_to: None,
                reason: "shelf".into(),
                tier: "key".into(),
                ceiling_pct: d("5"),
            }),
            "03442d31044b412d311000000100190000000000000000000000010109626576657261676573fc3293160000057368656c66036b65791000000000050000000000000000000000",
        ),
        (
            Event::DiscountRevoked(DiscountRevoked { account_id: "KA-1".into(), discount_id: "D-1".into(), effective_on: date, reason: Some("ended".into()) }),
            "03442d31044b412d31fc329316000105656e646564",
        ),
        (
            Event::RebateProgramDefined(RebateProgramDefined {
                program_id: "VOL".into(),
                name: "Quarterly volume".into(),
                currency: "CNY".into(),
                period: PeriodKind::Quarterly,
                starts_on: date,
                ends_on: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
                basis: RebateBasis::NetRevenue,
                method: RebateMethod::AllUnits,
                tiers: vec![RebateTier { from: d("0"), rate: d("2") }, RebateTier { from: d("10000"), rate: d("4.5") }],
                cap: Some(d("50000.00")),
                scope_skus: vec![],
                scope_categories: vec!["beverages".into()],
                eligible_tiers: vec!["key".into(), "strategic".into()],
            }),
            "03564f4c10517561727465726c7920766f6c756d6503434e5901fc32931600fc1a95160000000210000000000000000000000000000000001000000000020000000000000000000000100000000010270000000000000000000010000001002d0000000000000000000000011000000200404b4c00000000000000000000010962657665726167657302036b657909737472617465676963",
        ),
        (
            Event::RebateProgramEnded(RebateProgramEnded { program_id: "VOL".into(), ends_on: date, reason: "replaced".into() }),
            "03564f4cfc32931600087265706c61636564",
        ),
        (
            Event::AccountEnrolled(AccountEnrolled { program_id: "VOL".into(), account_id: "KA-1".into(), effective_from: date }),
            "03564f4c044b412d31fc32931600",
        ),
        (
            Event::AccountUnenrolled(AccountUnenrolled { program_id: "VOL".into(), account_id: "KA-1".into(), effective_to: date }),
            "03564f4c044b412d31fc32931600",
        ),
        (
            Event::SettlementProposed(SettlementProposed {
                settlement_id: "VOL.KA-1.2026-Q2.1".into(),
                program_id: "VOL".into(),
                account_id: "KA-1".into(),
                period: "2026-Q2".into(),
                kind: SettlementKind::Partial,
                reference: "CN-1".into(),
                amount: d("2300.00"),
                computation: SettlementComputation {
                    rebate: RebateComputation {
                        basis_kind: RebateBasis::NetRevenue,
                        basis: d("60000.00"),
                        tier_index: Some(2),
                        rate: Some(d("5")),
                        method: RebateMethod::Incremental,
                        unrounded: d("2300.0000"),
                        cap: None,
                        capped: false,
                        entitlement: d("2300.00"),
                        arithmetic: "10000 × 2% + 40000 × 4% + 10000 × 5% = 2300.00".into(),
                    },
                    eligible: true,
                    reason: None,
                    entitlement: d("2300.00"),
                    previously_approved: d("0.00"),
                    pending: d("0.00"),
                    through_position: 41,
                },
                proposed_by: "fin-1".into(),
            }),
            "12564f4c2e4b412d312e323032362d51322e3103564f4c044b412d3107323032362d51320004434e2d311000000200708203000000000000000000001000000200808d5b0000000000000000000102011000000000050000000000000000000000011000000400c0f35e0100000000000000000000100000020070820300000000000000000031313030303020c397203225202b20343030303020c397203425202b20313030303020c397203525203d20323330302e30300100100000020070820300000000000000000010000002000000000000000000000000001000000200000000000000000000000000290566696e2d31",
        ),
        (
            Event::SettlementApproved(SettlementApproved { settlement_id: "VOL.KA-1.2026-Q2.1".into(), program_id: "VOL".into(), approved_by: "fin-2".into(), note: None }),
            "12564f4c2e4b412d312e323032362d51322e3103564f4c0566696e2d3200",
        ),
        (
            Event::SettlementRejected(SettlementRejected { settlement_id: "VOL.KA-1.2026-Q2.1".into(), program_id: "VOL".into(), rejected_by: "fin-2".into(), reason: "wrong period".into() }),
            "12564f4c2e4b412d312e323032362d51322e3103564f4c0566696e2d320c77726f6e6720706572696f64",
        ),
        (
            Event::ContestDefined(ContestDefined {
                contest_id: "Q3".into(),
                name: "Q3 sprint".into(),
                currency: "CNY".into(),
                starts_on: date,
                ends_on: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
                metric: ContestMetric::NetRevenue,
                scope_skus: vec![],
                scope_categories: vec!["BEV".into()],
                eligible_tiers: vec!["key".into()],
                min_metric: Some(d("1000.00")),
                prizes: vec![
                    Prize { rank: 1, kind: PrizeKind::Cash, amount: Some(d("1500.00")), description: None },
                    Prize { rank: 2, kind: PrizeKind::Goods, amount: None, description: Some("Trip".into()) },
                ],
            }),
            "02513309513320737072696e7403434e59fc32931600fc629416000000010342455601036b6579011000000200a08601000000000000000000020100011000000200f0490200000000000000000000020100010454726970",
        ),
        (
            Event::ContestClosed(ContestClosed {
                contest_id: "Q3".into(),
                closed_on: date,
                through_position: 41,
                standings: vec![Standing {
                    rank: Some(1),
                    account_id: "KA-1".into(),
                    metric: Some(d("90000.00")),
                    eligible: true,
                    reason: None,
                    prizes: vec![AwardedPrize { kind: PrizeKind::Cash, amount: Some(d("750.00")), description: None }],
                    tie_expanded: true,
                }],
            }),
            "025133fc3293160029010101044b412d3101100000020040548900000000000000000001000100011000000200f824010000000000000000000001",
        ),
        (
            Event::ContestAwardPaid(ContestAwardPaid { contest_id: "Q3".into(), account_id: "KA-1".into(), amount: d("750.00"), paid_on: date, reference: "PAY-7".into(), paid_by: "fin-1".into() }),
            "025133044b412d311000000200f82401000000000000000000fc32931600055041592d370566696e2d31",
        ),
        (
            Event::SeasonDeclared(SeasonDeclared {
                season_id: "CNY".into(),
                name: "Spring festival".into(),
                starts_on: date,
                ends_on: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
                products: vec![SeasonProduct { sku: "S1".into(), capacity: 1000 }],
                reserves: vec![SeasonReserve { priority: 3, min_share_pct: d("10") }],
            }),
            "03434e590f537072696e6720666573746976616cfc32931600fc6294160001025331fbe803010310000000000a0000000000000000000000",
        ),
        (
            Event::CapacityRevised(CapacityRevised { season_id: "CNY".into(), sku: "S1".into(), from: 1000, to: 800, reason: Some("late ship".into()) }),
            "03434e59025331fbe803fb200301096c6174652073686970",
        ),
        (
            Event::AllocationRequested(AllocationRequested { season_id: "CNY".into(), request_id: "CNY-000001".into(), account_id: "KA-1".into(), sku: "S1".into(), quantity: 600 }),
            "03434e590a434e592d303030303031044b412d31025331fb5802",
        ),
        (
            Event::AllocationRequestWithdrawn(AllocationRequestWithdrawn { season_id: "CNY".into(), request_id: "CNY-000001".into(), account_id: "KA-1".into(), reason: None }),
            "03434e590a434e592d303030303031044b412d3100",
        ),
        (
            Event::AllocationCommitted(AllocationCommitted {
                season_id: "CNY".into(),
                plan_hash: "ab".repeat(32),
                skus: vec![SkuPlan {
                    sku: "S1".into(),
                    capacity: 1000,
                    requested: 1400,
                    allocated: 1000,
                    classes: vec![ClassAllocation { priority: 1, accounts: 1, requested: 600, reserved: 0, allocated: 600 }],
                    lines: vec![PlanLine {
                        account_id: "KA-1".into(),
                        tier: "key".into(),
                        priority: 1,
                        requested: 600,
                        allocated: 600,
                        fill_pct: d("100.00"),
                        reason: "priority class".into(),
                    }],
                }],
            }),
            "03434e59406162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616201025331fbe803fb7805fbe803010101fb580200fb580201044b412d31036b657901fb5802fb580210000002001027000000000000000000000e7072696f7269747920636c617373",
        ),
    ]
}

#[test]
fn payload_v1_bytes_are_frozen_and_round_trip() {
    // Proves each event type's v1 payload bytes are pinned and decode back to the event,
    // decimals included (bincode cannot use rust_decimal's default serde form).
    for (event, pinned) in samples() {
        let bytes = event.encode_payload();
        assert_eq!(
            hex::encode(&bytes),
            pinned,
            "{} payload bytes changed",
            event.type_name()
        );
        let decoded = Event::decode(event.type_name(), 1, &bytes).unwrap();
        assert_eq!(decoded, event);
    }
    assert_eq!(
        EVENT_TYPES.len(),
        samples().len(),
        "every event type has a golden sample"
    );
}

#[test]
fn unknown_types_and_versions_are_refused() {
    // Proves an unknown event type or a future schema version is an error, not a guess.
    let bytes = Event::SaleRecorded(sample_sale()).encode_payload();
    assert!(Event::decode("SaleRecorded", 2, &bytes).is_err());
    assert!(Event::decode("NoSuchEvent", 1, &bytes).is_err());
    assert!(Event::decode("AccountOpened", 1, &bytes).is_err());
}
