//! given / when / then tests of `decide`: no storage, no async.

use proptest::prelude::*;

use super::commands::{OpenAccount, ReturnLineInput, SaleLineInput};
use super::vocab::{Scope, Stage};
use super::*;

struct Given {
    state: LedgerState,
}

struct Then {
    state: LedgerState,
    result: Result<Decision, DomainError>,
}

fn given(events: Vec<Event>) -> Given {
    let mut state = LedgerState::default();
    for e in &events {
        state.apply(e);
    }
    Given { state }
}

impl Given {
    fn when(self, command: Command) -> Then {
        let result = decide(&self.state, &command);
        Then {
            state: self.state,
            result,
        }
    }
}

impl Then {
    fn then_events(self) -> (Vec<Event>, usize) {
        let d = self
            .result
            .unwrap_or_else(|e| panic!("expected events, got {e:?}"));
        (d.events, d.duplicates)
    }

    fn then_error(self, code: &str) -> DomainError {
        let e = self.result.expect_err("expected a refusal");
        assert_eq!(e.code(), code, "{e:?}");
        e
    }
}

fn opened(id: &str) -> Event {
    let c = OpenAccount {
        account_id: id.into(),
        name: id.into(),
        scope: Scope::Local,
        segment: None,
        manager: None,
        currency: "CNY".into(),
        stage: Stage::Basic,
    };
    decide(&LedgerState::default(), &Command::OpenAccount(c))
        .unwrap()
        .events
        .remove(0)
}

fn sale_input(account: &str, invoice: &str, line: u32, quantity: &str, net: &str) -> SaleLineInput {
    SaleLineInput {
        account_id: Some(account.into()),
        invoice_id: Some(invoice.into()),
        line: Some(line.to_string()),
        sku: Some("SKU-1".into()),
        category: Some("dairy".into()),
        quantity: Some(quantity.into()),
        net_amount: Some(net.into()),
        cost_amount: Some("0.00".into()),
        currency: None,
        occurred_on: Some("2026-03-15".into()),
    }
}

fn return_input(
    account: &str,
    return_id: &str,
    invoice: &str,
    line: u32,
    quantity: &str,
    net: &str,
) -> ReturnLineInput {
    ReturnLineInput {
        account_id: Some(account.into()),
        return_id: Some(return_id.into()),
        invoice_id: Some(invoice.into()),
        line: Some(line.to_string()),
        quantity: Some(quantity.into()),
        net_amount: Some(net.into()),
        cost_amount: None,
        occurred_on: Some("2026-03-20".into()),
    }
}

fn recorded(events: Vec<Event>, command: Command) -> Vec<Event> {
    let mut all = events;
    let mut state = LedgerState::default();
    all.iter().for_each(|e| state.apply(e));
    all.extend(decide(&state, &command).unwrap().events);
    all
}

#[test]
fn sale_is_recorded_with_the_account_currency() {
    // Proves a valid line becomes one SaleRecorded with the currency resolved.
    let (events, duplicates) = given(vec![opened("KA-1")])
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10", "100.00")],
        })
        .then_events();
    assert_eq!(duplicates, 0);
    match &events[..] {
        [Event::SaleRecorded(s)] => assert_eq!(
            (s.currency.as_str(), s.net_amount.to_string().as_str()),
            ("CNY", "100.00")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_bad_line_is_listed_and_nothing_is_recorded() {
    // Proves one bad line refuses the batch and each bad field of each line is named.
    let mut bad = sale_input("KA-1", "I-2", 1, "-1", "abc");
    bad.occurred_on = Some("2026-02-30".into());
    let lines = vec![
        sale_input("KA-1", "I-1", 1, "10", "100.00"),
        bad,
        sale_input("nobody", "I-3", 1, "1", "1.00"),
    ];
    let e = given(vec![opened("KA-1")])
        .when(Command::RecordSales { lines })
        .then_error("invalid_lines");
    let codes: Vec<(Option<usize>, &str, &str)> = e
        .field_errors()
        .iter()
        .map(|f| (f.index, f.field.as_str(), f.code.as_str()))
        .collect();
    assert!(
        codes.contains(&(Some(1), "quantity", "not_positive")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(Some(1), "net_amount", "invalid_decimal")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(Some(1), "occurred_on", "invalid_date")),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(Some(2), "account_id", "unknown_account")),
        "{codes:?}"
    );
    assert!(!codes.iter().any(|c| c.0 == Some(0)));
}

#[test]
fn identical_repeat_is_a_duplicate_and_a_changed_one_conflicts() {
    // Proves natural-key dedupe: same content counts as duplicate, other content is a conflict.
    let history = recorded(
        vec![opened("KA-1")],
        Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10", "100.00")],
        },
    );
    let (events, duplicates) = given(history.clone())
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10.0", "100")],
        })
        .then_events();
    assert_eq!(
        (events.len(), duplicates),
        (0, 1),
        "10.0 and 10 are the same quantity"
    );
    given(history)
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "11", "100.00")],
        })
        .then_error("duplicate_line_conflict");
}

#[test]
fn amounts_beyond_the_minor_unit_are_refused() {
    // Proves money keeps to the currency's minor unit: 0.001 CNY is not an amount.
    let e = given(vec![opened("KA-1")])
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "1", "1.005")],
        })
        .then_error("invalid_lines");
    assert_eq!(e.field_errors()[0].code, "too_many_decimals");
}

#[test]
fn returns_never_exceed_the_sale_even_across_batches() {
    // Proves cumulative returns are capped by the sold quantity and amount.
    let history = recorded(
        vec![opened("KA-1")],
        Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10", "100.00")],
        },
    );
    let history = recorded(
        history,
        Command::RecordReturns {
            lines: vec![return_input("KA-1", "R-1", "I-1", 1, "6", "60.00")],
        },
    );
    let e = given(history.clone())
        .when(Command::RecordReturns {
            lines: vec![return_input("KA-1", "R-2", "I-1", 1, "5", "40.00")],
        })
        .then_error("invalid_lines");
    assert_eq!(e.field_errors()[0].code, "return_exceeds_sale");
    let (events, _) = given(history)
        .when(Command::RecordReturns {
            lines: vec![return_input("KA-1", "R-2", "I-1", 1, "4", "40.00")],
        })
        .then_events();
    assert_eq!(events.len(), 1);
}

#[test]
fn return_carries_its_sale_date_and_a_prorated_cost() {
    // Proves a return counts in its sale's period and, without a stated cost, takes its share.
    let mut sale = sale_input("KA-1", "I-1", 1, "3", "90.00");
    sale.cost_amount = Some("10.00".into());
    let history = recorded(
        vec![opened("KA-1")],
        Command::RecordSales { lines: vec![sale] },
    );
    let (events, _) = given(history)
        .when(Command::RecordReturns {
            lines: vec![return_input("KA-1", "R-1", "I-1", 1, "1", "30.00")],
        })
        .then_events();
    match &events[..] {
        [Event::SaleReturned(r)] => {
            assert_eq!(r.cost_amount.to_string(), "3.33");
            assert_eq!(r.sale_occurred_on.to_string(), "2026-03-15");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn closed_accounts_take_returns_but_no_sales() {
    // Proves closing stops new sales while late returns still count.
    let history = recorded(
        vec![opened("KA-1")],
        Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10", "100.00")],
        },
    );
    let history = recorded(
        history,
        Command::CloseAccount {
            account_id: "KA-1".into(),
            reason: None,
            expected_version: None,
        },
    );
    let e = given(history.clone())
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-2", 1, "1", "1.00")],
        })
        .then_error("invalid_lines");
    assert_eq!(e.field_errors()[0].code, "account_closed");
    given(history)
        .when(Command::RecordReturns {
            lines: vec![return_input("KA-1", "R-1", "I-1", 1, "1", "10.00")],
        })
        .then_events();
}

#[test]
fn expected_version_mismatch_is_a_conflict() {
    // Proves optimistic concurrency on a stream.
    let then = given(vec![opened("KA-1")]).when(Command::ChangeStage {
        account_id: "KA-1".into(),
        stage: Stage::Integrated,
        reason: None,
        expected_version: Some(0),
    });
    assert_eq!(then.state.stream_version("account/KA-1"), 1);
    then.then_error("version_conflict");
    given(vec![opened("KA-1")])
        .when(Command::ChangeStage {
            account_id: "KA-1".into(),
            stage: Stage::Integrated,
            reason: None,
            expected_version: Some(1),
        })
        .then_events();
}

#[test]
fn batch_size_is_bounded() {
    // Proves empty and oversized batches are refused before any line is looked at.
    given(vec![])
        .when(Command::RecordSales { lines: vec![] })
        .then_error("empty_batch");
    let lines = vec![SaleLineInput::default(); crate::domain::limits::BATCH_LINES_MAX + 1];
    given(vec![])
        .when(Command::RecordSales { lines })
        .then_error("too_many_lines");
}

#[test]
fn a_retried_line_of_a_closed_account_is_still_a_duplicate() {
    // Proves an ERP retry of a line recorded before the close counts as a duplicate, while
    // a new line is refused as account_closed.
    let history = recorded(
        vec![opened("KA-1")],
        Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10", "100.00")],
        },
    );
    let history = recorded(
        history,
        Command::CloseAccount {
            account_id: "KA-1".into(),
            reason: None,
            expected_version: None,
        },
    );
    let (events, duplicates) = given(history.clone())
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "10", "100.00")],
        })
        .then_events();
    assert_eq!((events.len(), duplicates), (0, 1));
    let e = given(history)
        .when(Command::RecordSales {
            lines: vec![sale_input("KA-1", "I-1", 1, "11", "100.00")],
        })
        .then_error("invalid_lines");
    assert_eq!(e.field_errors()[0].code, "account_closed");
}

#[test]
fn business_dates_outside_plausible_years_are_refused() {
    // Proves typo years (0026, 20266) are invalid dates, while 1900 and 2999 pass.
    assert!(crate::kernel::date::parse_date("0026-03-01").is_none());
    assert!(crate::kernel::date::parse_date("0000-01-01").is_none());
    assert!(crate::kernel::date::parse_date("1900-01-01").is_some());
    assert!(crate::kernel::date::parse_date("2999-12-31").is_some());
    assert!(crate::kernel::date::parse_date("2026-02-29").is_none());
}

#[test]
fn an_update_that_changes_nothing_is_refused() {
    // Proves PATCH {} records no empty AccountUpdated event.
    let update = commands::UpdateAccount {
        account_id: "KA-1".into(),
        ..Default::default()
    };
    let e = given(vec![opened("KA-1")])
        .when(Command::UpdateAccount(update))
        .then_error("validation_failed");
    assert_eq!(e.field_errors()[0].code, "nothing_to_change");
}

fn program(id: &str) -> commands::DefineProgram {
    use std::str::FromStr;
    let d = |s: &str| rust_decimal::Decimal::from_str(s).unwrap();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    commands::DefineProgram {
        program_id: id.into(),
        name: "Volume".into(),
        currency: "CNY".into(),
        period: crate::rules::calendar::PeriodKind::Quarterly,
        starts_on: day("2026-01-01"),
        ends_on: day("2026-12-31"),
        basis: crate::rules::rebates::RebateBasis::NetRevenue,
        method: crate::rules::rebates::RebateMethod::AllUnits,
        tiers: vec![crate::rules::rebates::RebateTier {
            from: d("0"),
            rate: d("2"),
        }],
        cap: None,
        scope_skus: None,
        scope_categories: Some(vec!["dairy".into()]),
        eligible_tiers: None,
    }
}

fn day(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn programs_are_validated_and_unique() {
    // Proves a program with every field wrong lists each problem, and ids are unique.
    let mut bad = program("P 1");
    bad.currency = "XXX".into();
    bad.ends_on = bad.starts_on;
    bad.scope_skus = Some(vec![]);
    let e = given(vec![])
        .when(Command::DefineProgram(bad))
        .then_error("validation_failed");
    let codes: Vec<&str> = e.field_errors().iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "invalid_id",
            "unknown_currency",
            "ends_before_start",
            "empty_scope"
        ]
    );
    let history = recorded(vec![], Command::DefineProgram(program("P1")));
    given(history)
        .when(Command::DefineProgram(program("P1")))
        .then_error("program_exists");
}

#[test]
fn enrollment_needs_the_program_currency_and_no_open_enrollment() {
    // Proves only accounts of the program's currency enroll, once at a time, and unenroll ends it.
    let mut usd = opened("KA-USD");
    if let Event::AccountOpened(a) = &mut usd {
        a.currency = "USD".into();
    }
    let history = recorded(
        vec![opened("KA-1"), usd],
        Command::DefineProgram(program("P1")),
    );
    let e = given(history.clone())
        .when(Command::Enroll {
            program_id: "P1".into(),
            account_id: "KA-USD".into(),
            effective_from: day("2026-01-01"),
        })
        .then_error("validation_failed");
    assert_eq!(e.field_errors()[0].code, "currency_mismatch");
    let history = recorded(
        history,
        Command::Enroll {
            program_id: "P1".into(),
            account_id: "KA-1".into(),
            effective_from: day("2026-02-01"),
        },
    );
    given(history.clone())
        .when(Command::Enroll {
            program_id: "P1".into(),
            account_id: "KA-1".into(),
            effective_from: day("2026-03-01"),
        })
        .then_error("already_enrolled");
    let history = recorded(
        history,
        Command::Unenroll {
            program_id: "P1".into(),
            account_id: "KA-1".into(),
            effective_to: day("2026-06-30"),
        },
    );
    let mut state = LedgerState::default();
    history.iter().for_each(|e| state.apply(e));
    let p = state.programs.get("P1").unwrap();
    assert!(
        p.counts("KA-1", day("2026-06-30"))
            && !p.counts("KA-1", day("2026-07-01"))
            && !p.counts("KA-1", day("2026-01-31"))
    );
    assert!(p.in_scope("SKU-9", "dairy") && !p.in_scope("SKU-9", "snacks"));
    given(history)
        .when(Command::Unenroll {
            program_id: "P1".into(),
            account_id: "KA-1".into(),
            effective_to: day("2026-07-30"),
        })
        .then_error("not_enrolled");
}

#[test]
fn a_program_ends_early_once() {
    // Proves an early end must fall inside the program and can happen once.
    let history = recorded(vec![], Command::DefineProgram(program("P1")));
    let e = given(history.clone())
        .when(Command::EndProgram {
            program_id: "P1".into(),
            ends_on: day("2027-01-01"),
            reason: "late".into(),
        })
        .then_error("validation_failed");
    assert_eq!(e.field_errors()[0].code, "invalid_end_date");
    let history = recorded(
        history,
        Command::EndProgram {
            program_id: "P1".into(),
            ends_on: day("2026-09-30"),
            reason: "replaced".into(),
        },
    );
    given(history)
        .when(Command::EndProgram {
            program_id: "P1".into(),
            ends_on: day("2026-08-31"),
            reason: "again".into(),
        })
        .then_error("program_ended");
}

fn proposal(
    kind: crate::rules::rebates::SettlementKind,
    entitlement: &str,
    actor: &str,
    today: &str,
) -> Command {
    use std::str::FromStr;
    let d = |s: &str| rust_decimal::Decimal::from_str(s).unwrap();
    let rebate = crate::rules::rebates::compute(
        &[crate::rules::rebates::RebateTier {
            from: d("0"),
            rate: d("2"),
        }],
        crate::rules::rebates::RebateMethod::AllUnits,
        crate::rules::rebates::RebateBasis::NetRevenue,
        d(entitlement) * d("50"),
        None,
        "CNY",
    )
    .unwrap();
    Command::ProposeSettlement(commands::ProposeSettlement {
        program_id: "P1".into(),
        account_id: "KA-1".into(),
        period: "2026-Q1".parse().unwrap(),
        kind,
        reference: "CN-1".into(),
        computation: events::SettlementComputation {
            entitlement: rebate.entitlement,
            rebate,
            eligible: true,
            reason: None,
            previously_approved: d("0"),
            pending: d("0"),
            through_position: 1,
        },
        today: day(today),
        actor: actor.into(),
    })
}

fn settlement_amount_of(events: &[Event]) -> String {
    match events {
        [Event::SettlementProposed(p)] => p.amount.to_string(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn settlements_net_partials_finals_and_clawbacks() {
    // Proves partial then final netting, a negative delta (clawback) after late returns,
    // one pending proposal at a time, and no final before the period ends.
    use crate::rules::rebates::SettlementKind::*;
    let history = recorded(vec![opened("KA-1")], Command::DefineProgram(program("P1")));
    let history = recorded(
        history,
        Command::Enroll {
            program_id: "P1".into(),
            account_id: "KA-1".into(),
            effective_from: day("2026-01-01"),
        },
    );
    let (events, _) = given(history.clone())
        .when(proposal(Partial, "1000.00", "fin-1", "2026-03-15"))
        .then_events();
    assert_eq!(settlement_amount_of(&events), "1000.00");
    let history = recorded(history, proposal(Partial, "1000.00", "fin-1", "2026-03-15"));
    let id = "P1.KA-1.2026-Q1.1".to_string();
    given(history.clone())
        .when(proposal(Partial, "1200.00", "fin-1", "2026-03-20"))
        .then_error("pending_settlement_exists");
    given(history.clone())
        .when(Command::ApproveSettlement {
            settlement_id: id.clone(),
            actor: "fin-1".into(),
            note: None,
        })
        .then_error("same_actor_approval");
    let history = recorded(
        history,
        Command::ApproveSettlement {
            settlement_id: id.clone(),
            actor: "fin-2".into(),
            note: None,
        },
    );
    given(history.clone())
        .when(Command::ApproveSettlement {
            settlement_id: id,
            actor: "fin-2".into(),
            note: None,
        })
        .then_error("settlement_decided");
    given(history.clone())
        .when(proposal(Final, "1500.00", "fin-1", "2026-03-31"))
        .then_error("period_not_ended");
    given(history.clone())
        .when(proposal(Delta, "1500.00", "fin-1", "2026-04-10"))
        .then_error("no_final_yet");
    let (events, _) = given(history.clone())
        .when(proposal(Final, "1500.00", "fin-1", "2026-04-10"))
        .then_events();
    assert_eq!(settlement_amount_of(&events), "500.00");
    let history = recorded(history, proposal(Final, "1500.00", "fin-1", "2026-04-10"));
    let history = recorded(
        history,
        Command::ApproveSettlement {
            settlement_id: "P1.KA-1.2026-Q1.2".into(),
            actor: "fin-2".into(),
            note: None,
        },
    );
    // Late returns lower the entitlement to 1400.00: the delta claws 100.00 back.
    let (events, _) = given(history.clone())
        .when(proposal(Delta, "1400.00", "fin-1", "2026-05-02"))
        .then_events();
    assert_eq!(settlement_amount_of(&events), "-100.00");
    given(history)
        .when(proposal(Delta, "1500.00", "fin-1", "2026-05-02"))
        .then_error("nothing_to_settle");
}

proptest! {
    #[test]
    fn retrying_any_accepted_batch_records_nothing(quantities in proptest::collection::vec((1u32..1000, 0u32..100_000), 1..40)) {
        // Proves that a batch, once applied, is all duplicates the second time.
        let lines: Vec<SaleLineInput> = quantities.iter().enumerate()
            .map(|(i, (q, cents))| sale_input("KA-1", &format!("I-{}", i / 3), (i % 3) as u32 + 1, &q.to_string(), &format!("{}.{:02}", cents / 100, cents % 100)))
            .collect();
        let history = recorded(vec![opened("KA-1")], Command::RecordSales { lines: lines.clone() });
        let (events, duplicates) = given(history).when(Command::RecordSales { lines: lines.clone() }).then_events();
        prop_assert_eq!(events.len(), 0);
        prop_assert_eq!(duplicates, lines.len());
    }

    #[test]
    fn returns_stay_within_the_sale(returns in proptest::collection::vec((1u32..8, 0u32..5000), 1..20)) {
        // Proves that whatever sequence of returns is attempted, accepted ones never sum past the sale.
        let mut history = recorded(vec![opened("KA-1")], Command::RecordSales { lines: vec![sale_input("KA-1", "I-1", 1, "20", "100.00")] });
        for (i, (q, cents)) in returns.iter().enumerate() {
            let mut state = LedgerState::default();
            history.iter().for_each(|e| state.apply(e));
            let command = Command::RecordReturns { lines: vec![return_input("KA-1", &format!("R-{i}"), "I-1", 1, &q.to_string(), &format!("{}.{:02}", cents / 100, cents % 100))] };
            if let Ok(d) = decide(&state, &command) {
                history.extend(d.events);
            }
        }
        let mut state = LedgerState::default();
        history.iter().for_each(|e| state.apply(e));
        let sold = state.book.sold(&("KA-1".to_string(), "I-1".to_string(), 1)).expect("recorded");
        prop_assert!(sold.returned_quantity <= sold.quantity);
        prop_assert!(sold.returned_net <= sold.net_amount);
        prop_assert!(sold.returned_cost <= sold.cost_amount);
    }

    #[test]
    fn decimal_parser_never_panics(text in "\\PC{0,40}") {
        // Proves arbitrary text gives a decimal or None, never a panic.
        let _ = crate::kernel::decimal::parse_plain_decimal(&text);
        let _ = crate::kernel::date::parse_date(&text);
    }
}

/// The digest of `fields` as one update per length and one per field (what
/// `state::fingerprint_bytes` must equal whichever way it feeds the hasher).
fn fingerprint_reference(fields: &[&[u8]]) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update((field.len() as u64).to_le_bytes());
        hasher.update(field);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&hasher.finalize()[..16]);
    out
}

#[test]
fn fingerprint_is_the_same_through_the_stack_buffer_and_field_by_field() {
    // Proves the one-buffer fast path hashes exactly the bytes of the field-by-field form,
    // at the edges of the buffer (empty lists and fields, exactly full, one byte over).
    let long = vec![b'x'; 300];
    let at_edge = vec![b'y'; 256 - 8 - 8];
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![],
        vec![b""],
        vec![b"SKU-1", b"CAT", b"", b"-", b"CNY"],
        vec![&at_edge, b""],
        vec![&at_edge, b"z"],
        vec![&long],
        vec![b"a", &long, b"b"],
    ];
    for fields in cases {
        assert_eq!(
            state::fingerprint_bytes(&fields),
            fingerprint_reference(&fields),
            "{:?}",
            fields.iter().map(|f| f.len()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn needs_name_an_invoice_once_per_run_of_its_lines() {
    // Proves consecutive lines of one invoice ask for it once, while every invoice (and a
    // later run of the same one) is still asked for.
    let lines = vec![
        sale_input("KA-1", "I-1", 1, "1", "1.00"),
        sale_input("KA-1", "I-1", 2, "1", "1.00"),
        sale_input("KA-2", "I-1", 1, "1", "1.00"),
        sale_input("KA-1", "I-1", 3, "1", "1.00"),
    ];
    let mut needs = book::Needs::default();
    needs.add_command(&Command::RecordSales { lines });
    let pair = |a: &str, i: &str| (a.to_string(), i.to_string());
    assert_eq!(
        needs.invoices,
        vec![
            pair("KA-1", "I-1"),
            pair("KA-2", "I-1"),
            pair("KA-1", "I-1")
        ]
    );
}

#[test]
fn a_repeat_within_one_batch_is_a_duplicate_and_a_changed_one_a_conflict() {
    // Proves the batch's own keys (borrowed from its input) tell repeats apart as the
    // recorded lines do: same content counts once, other content is refused.
    let same = given(vec![opened("KA-1")])
        .when(Command::RecordSales {
            lines: vec![
                sale_input("KA-1", "I-1", 1, "2", "10.00"),
                sale_input("KA-1", "I-1", 1, "2", "10.00"),
                sale_input("KA-1", "I-1", 2, "2", "10.00"),
            ],
        })
        .then_events();
    assert_eq!((same.0.len(), same.1), (2, 1));
    let changed = given(vec![opened("KA-1")]).when(Command::RecordSales {
        lines: vec![
            sale_input("KA-1", "I-1", 1, "2", "10.00"),
            sale_input("KA-1", "I-1", 1, "3", "10.00"),
        ],
    });
    match changed.result {
        Err(DomainError::DuplicateLineConflict(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].index, Some(1));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}
