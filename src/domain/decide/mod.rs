//! `decide(state, command) -> events`: every business rule of the ledger's write side.
//! Pure: no IO, no clock, no storage. A refusal writes nothing.

pub mod contests;
pub mod incentives;
pub mod programs;
pub mod seasons;
pub mod settlements;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::domain::commands::{
    Command, OpenAccount, ReturnLineInput, SaleLineInput, UpdateAccount, BATCH_LINES_MAX,
};
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::*;
use crate::domain::ids::is_valid_id;
use crate::domain::money::{
    is_known_currency, minor_unit_places, prorate_return_cost, ReturnableLine,
};
use crate::domain::state::{sale_fingerprint, LedgerState, SaleKey};

pub use crate::kernel::decimal::{parse_plain_decimal, written_places};
pub use crate::kernel::limits::{
    BUSINESS_YEAR_MAX, BUSINESS_YEAR_MIN, LINE_VALUE_MAX, QUANTITY_PLACES_MAX, TEXT_LENGTH_MAX,
};

/// The events a command produced, and how many of its lines were identical repeats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub events: Vec<Event>,
    pub duplicates: usize,
}

impl Decision {
    fn events(events: Vec<Event>) -> Decision {
        Decision {
            events,
            duplicates: 0,
        }
    }
}

/// Decides a command against the state.
pub fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::PublishTierPolicy {
            effective_from,
            window_months,
            tiers,
            expected_version,
        } => incentives::publish_policy(
            state,
            *effective_from,
            *window_months,
            tiers,
            *expected_version,
        ),
        Command::GrantTierOverride {
            account_id,
            tier,
            valid_from,
            valid_to,
            reason,
        } => incentives::grant_override(state, account_id, tier, *valid_from, *valid_to, reason),
        Command::RevokeTierOverride {
            account_id,
            override_id,
            reason,
        } => incentives::revoke_override(state, account_id, override_id, reason.as_deref()),
        Command::GrantDiscount(c) => incentives::grant_discount(state, c),
        Command::DefineProgram(c) => programs::define(state, c),
        Command::ProposeSettlement(c) => settlements::propose(state, c),
        Command::ApproveSettlement {
            settlement_id,
            actor,
            note,
        } => settlements::approve(state, settlement_id, actor, note.as_deref()),
        Command::RejectSettlement {
            settlement_id,
            actor,
            reason,
        } => settlements::reject(state, settlement_id, actor, reason),
        Command::EndProgram {
            program_id,
            ends_on,
            reason,
        } => programs::end(state, program_id, *ends_on, reason),
        Command::Enroll {
            program_id,
            account_id,
            effective_from,
        } => programs::enroll(state, program_id, account_id, *effective_from),
        Command::Unenroll {
            program_id,
            account_id,
            effective_to,
        } => programs::unenroll(state, program_id, account_id, *effective_to),
        Command::RevokeDiscount {
            discount_id,
            effective_on,
            reason,
        } => incentives::revoke_discount(state, discount_id, *effective_on, reason.as_deref()),
        Command::DefineContest(c) => contests::define(state, c),
        Command::CloseContest {
            contest_id,
            standings,
            through_position,
            today,
        } => contests::close(state, contest_id, standings, *through_position, *today),
        Command::MarkAwardPaid {
            contest_id,
            account_id,
            paid_on,
            reference,
            today,
            actor,
        } => contests::mark_paid(
            state, contest_id, account_id, *paid_on, reference, *today, actor,
        ),
        Command::DeclareSeason(c) => seasons::declare(state, c),
        Command::ReviseCapacity {
            season_id,
            products,
            reason,
        } => seasons::revise(state, season_id, products, reason.as_deref()),
        Command::RequestAllocation {
            season_id,
            requests,
        } => seasons::request(state, season_id, requests),
        Command::WithdrawRequest {
            season_id,
            request_id,
            reason,
        } => seasons::withdraw(state, season_id, request_id, reason.as_deref()),
        Command::CommitAllocation {
            season_id,
            plan_hash,
        } => seasons::commit(state, season_id, plan_hash),
        Command::OpenAccount(c) => open_account(state, c),
        Command::UpdateAccount(c) => update_account(state, c),
        Command::ChangeStage {
            account_id,
            stage,
            reason,
            expected_version,
        } => {
            let facts = open_account_facts(state, account_id, *expected_version)?;
            if facts.stage == *stage {
                return Err(DomainError::StageUnchanged {
                    account_id: account_id.clone(),
                    stage: stage.to_string(),
                });
            }
            check_text(None, "reason", reason.as_deref())?;
            Ok(Decision::events(vec![Event::RelationshipStageChanged(
                RelationshipStageChanged {
                    account_id: account_id.clone(),
                    from: facts.stage,
                    to: *stage,
                    reason: reason.clone(),
                },
            )]))
        }
        Command::CloseAccount {
            account_id,
            reason,
            expected_version,
        } => {
            open_account_facts(state, account_id, *expected_version)?;
            check_text(None, "reason", reason.as_deref())?;
            Ok(Decision::events(vec![Event::AccountClosed(
                AccountClosed {
                    account_id: account_id.clone(),
                    reason: reason.clone(),
                },
            )]))
        }
        Command::RecordSales { lines } => record_sales(state, lines),
        Command::RecordReturns { lines } => record_returns(state, lines),
        Command::IssueToken {
            name,
            role,
            token_sha256,
        } => {
            if !is_valid_id(name) {
                return Err(DomainError::Validation(vec![FieldError::new(
                    None,
                    "name",
                    "invalid_id",
                    format!("token name \"{name}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
                )]));
            }
            if state.tokens.contains_key(name) {
                return Err(DomainError::TokenExists(name.clone()));
            }
            Ok(Decision::events(vec![Event::TokenIssued(TokenIssued {
                name: name.clone(),
                role: *role,
                token_sha256: token_sha256.clone(),
            })]))
        }
        Command::RevokeToken { name, reason } => {
            match state.tokens.get(name) {
                None => return Err(DomainError::TokenNotFound(name.clone())),
                Some(t) if !t.active => return Err(DomainError::TokenAlreadyRevoked(name.clone())),
                Some(_) => {}
            }
            check_text(None, "reason", reason.as_deref())?;
            Ok(Decision::events(vec![Event::TokenRevoked(TokenRevoked {
                name: name.clone(),
                reason: reason.clone(),
            })]))
        }
    }
}

pub(crate) fn check_text(
    index: Option<usize>,
    field: &str,
    text: Option<&str>,
) -> Result<(), DomainError> {
    if let Some(t) = text {
        crate::domain::text::refuse_chars(index, field, t)?;
        if t.chars().count() > TEXT_LENGTH_MAX {
            return Err(DomainError::Validation(vec![FieldError::new(
                index,
                field,
                "too_long",
                format!("at most {TEXT_LENGTH_MAX} characters"),
            )]));
        }
    }
    Ok(())
}

fn check_expected_version(
    state: &LedgerState,
    stream: &str,
    expected: Option<u64>,
) -> Result<(), DomainError> {
    let actual = state.stream_version(stream);
    match expected {
        Some(expected) if expected != actual => Err(DomainError::VersionConflict {
            stream: stream.to_string(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// The facts of an existing, open account, after the optional version check.
fn open_account_facts<'s>(
    state: &'s LedgerState,
    account_id: &str,
    expected_version: Option<u64>,
) -> Result<&'s crate::domain::state::AccountFacts, DomainError> {
    let facts = state
        .accounts
        .get(account_id)
        .ok_or_else(|| DomainError::AccountNotFound(account_id.to_string()))?;
    check_expected_version(state, &account_stream(account_id), expected_version)?;
    if facts.closed {
        return Err(DomainError::AccountClosed(account_id.to_string()));
    }
    Ok(facts)
}

fn open_account(state: &LedgerState, c: &OpenAccount) -> Result<Decision, DomainError> {
    let mut errors = Vec::new();
    if !is_valid_id(&c.account_id) {
        errors.push(FieldError::new(
            None,
            "account_id",
            "invalid_id",
            format!(
                "\"{}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$",
                c.account_id
            ),
        ));
    }
    check_name(&c.name, &mut errors);
    if !is_known_currency(&c.currency) {
        errors.push(FieldError::new(
            None,
            "currency",
            "unknown_currency",
            format!(
                "unknown currency \"{}\"; expected an ISO 4217 code such as CNY",
                c.currency
            ),
        ));
    }
    check_manager(c.manager.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if state.accounts.contains_key(&c.account_id) {
        return Err(DomainError::AccountExists(c.account_id.clone()));
    }
    Ok(Decision::events(vec![Event::AccountOpened(
        AccountOpened {
            account_id: c.account_id.clone(),
            name: c.name.trim().to_string(),
            scope: c.scope,
            segment: c.segment,
            manager: c.manager.clone(),
            currency: c.currency.clone(),
            stage: c.stage,
        },
    )]))
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let trimmed = name.trim();
    if let Some(error) = crate::domain::text::check_chars(None, "name", name) {
        errors.push(error);
    } else if crate::domain::text::is_blank(trimmed) {
        errors.push(FieldError::new(
            None,
            "name",
            "missing",
            "name must not be empty",
        ));
    } else if trimmed.chars().count() > TEXT_LENGTH_MAX {
        errors.push(FieldError::new(
            None,
            "name",
            "too_long",
            format!("at most {TEXT_LENGTH_MAX} characters"),
        ));
    }
}

fn check_manager(manager: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(m) = manager {
        if !is_valid_id(m) {
            errors.push(FieldError::new(
                None,
                "manager",
                "invalid_id",
                format!("manager \"{m}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
            ));
        }
    }
}

fn update_account(state: &LedgerState, c: &UpdateAccount) -> Result<Decision, DomainError> {
    let facts = open_account_facts(state, &c.account_id, c.expected_version)?;
    if c.name.is_none() && c.scope.is_none() && c.segment.is_none() && c.manager.is_none() {
        return Err(DomainError::Validation(vec![FieldError::new(
            None,
            "body",
            "nothing_to_change",
            "give at least one of name, scope, segment, manager",
        )]));
    }
    let mut errors = Vec::new();
    if let Some(name) = &c.name {
        check_name(name, &mut errors);
    }
    if let Some(manager) = &c.manager {
        check_manager(manager.as_deref(), &mut errors);
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    Ok(Decision::events(vec![Event::AccountUpdated(
        AccountUpdated {
            account_id: c.account_id.clone(),
            name: c
                .name
                .as_ref()
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|| facts.name.clone()),
            scope: c.scope.unwrap_or(facts.scope),
            segment: c.segment.unwrap_or(facts.segment),
            manager: c.manager.clone().unwrap_or_else(|| facts.manager.clone()),
        },
    )]))
}

/// Collects the field errors of one line while its fields are parsed.
struct LineCheck<'e> {
    index: usize,
    errors: &'e mut Vec<FieldError>,
    failed: bool,
}

impl LineCheck<'_> {
    fn fail(&mut self, field: &str, code: &str, message: String) {
        self.failed = true;
        self.errors
            .push(FieldError::new(Some(self.index), field, code, message));
    }

    fn required<'v>(&mut self, field: &str, value: &'v Option<String>) -> Option<&'v str> {
        // Taken as written: a value with spaces is refused by its own check, never trimmed.
        match value.as_deref() {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                self.fail(field, "missing", format!("{field} is required"));
                None
            }
        }
    }

    fn id(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let v = self.required(field, value)?;
        if is_valid_id(v) {
            Some(v.to_string())
        } else {
            self.fail(
                field,
                "invalid_id",
                format!("\"{v}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
            );
            None
        }
    }

    fn line_number(&mut self, value: &Option<String>) -> Option<u32> {
        let v = self.required("line", value)?;
        match v.parse::<u32>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                self.fail(
                    "line",
                    "invalid_line",
                    format!("line \"{v}\" must be a whole number from 1 to {}", u32::MAX),
                );
                None
            }
        }
    }

    fn date(&mut self, field: &str, value: &Option<String>) -> Option<NaiveDate> {
        let v = self.required(field, value)?;
        match parse_date(v) {
            Some(d) => Some(d),
            None => {
                self.fail(
                    field,
                    "invalid_date",
                    format!("\"{v}\" is not a date; expected YYYY-MM-DD"),
                );
                None
            }
        }
    }

    /// A decimal with at most `places_max` places, within (0, max] when `positive`, else [0, max].
    fn decimal(
        &mut self,
        field: &str,
        value: &str,
        places_max: u32,
        positive: bool,
    ) -> Option<Decimal> {
        let Some(d) = parse_plain_decimal(value) else {
            self.fail(
                field,
                "invalid_decimal",
                format!("\"{value}\" is not a decimal number; write it like \"1234.50\""),
            );
            return None;
        };
        if positive && d <= Decimal::ZERO {
            self.fail(
                field,
                "not_positive",
                format!("{field} must be greater than 0, got {value}"),
            );
            None
        } else if d < Decimal::ZERO {
            self.fail(
                field,
                "negative_amount",
                format!("{field} must not be negative, got {value}"),
            );
            None
        } else if written_places(value) > places_max {
            self.fail(
                field,
                "too_many_decimals",
                format!("{field} \"{value}\" has more than {places_max} decimal places"),
            );
            None
        } else if d > LINE_VALUE_MAX {
            self.fail(
                field,
                "too_large",
                format!("{field} {value} exceeds {LINE_VALUE_MAX}"),
            );
            None
        } else {
            Some(d)
        }
    }

    /// A money amount (≥ 0) with at most the currency's `places` as written, stored with
    /// exactly those places ("100" becomes "100.00"), so every sum keeps the minor unit.
    fn money(&mut self, field: &str, value: &str, places: u32) -> Option<Decimal> {
        let mut amount = self.decimal(field, value, places, false)?;
        amount.rescale(places);
        Some(amount)
    }
}

/// Parses `YYYY-MM-DD` strictly (no times, no other forms).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    use chrono::Datelike;
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (BUSINESS_YEAR_MIN..=BUSINESS_YEAR_MAX).contains(&d.year()))
}

fn check_batch_size(count: usize) -> Result<(), DomainError> {
    if count == 0 {
        return Err(DomainError::EmptyBatch);
    }
    if count > BATCH_LINES_MAX {
        return Err(DomainError::TooManyLines {
            count,
            max: BATCH_LINES_MAX,
        });
    }
    Ok(())
}

fn record_sales(state: &LedgerState, lines: &[SaleLineInput]) -> Result<Decision, DomainError> {
    check_batch_size(lines.len())?;
    let mut errors = Vec::new();
    let mut conflicts = Vec::new();
    let mut events = Vec::with_capacity(lines.len());
    let mut duplicates = 0;
    // Keys recorded earlier in this same batch, with their fingerprints.
    let mut in_batch: HashMap<SaleKey, [u8; 16]> = HashMap::new();
    // Running sale totals per currency, bounded by `limits::LEDGER_TOTAL_MAX`.
    let mut totals = crate::domain::limits::BatchTotals::default();
    for (index, input) in lines.iter().enumerate() {
        let mut check = LineCheck {
            index,
            errors: &mut errors,
            failed: false,
        };
        let account_id = check.id("account_id", &input.account_id);
        let invoice_id = check.id("invoice_id", &input.invoice_id);
        let line = check.line_number(&input.line);
        let sku = check.id("sku", &input.sku);
        let category = check.id("category", &input.category);
        let occurred_on = check.date("occurred_on", &input.occurred_on);
        let account = account_id
            .as_deref()
            .and_then(|id| match state.accounts.get(id) {
                None => {
                    check.fail(
                        "account_id",
                        "unknown_account",
                        format!("account \"{id}\" does not exist; open it first"),
                    );
                    None
                }
                // A closed account is refused below, after a retry of a line recorded
                // before the close has had the chance to count as a duplicate.
                Some(a) => Some(a),
            });
        let money_places = account.map(|a| minor_unit_places(&a.currency)).unwrap_or(2);
        let quantity = check
            .required("quantity", &input.quantity)
            .and_then(|v| check.decimal("quantity", v, QUANTITY_PLACES_MAX, true));
        let net_amount = check
            .required("net_amount", &input.net_amount)
            .and_then(|v| check.money("net_amount", v, money_places));
        let cost_amount = match input.cost_amount.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => check.money("cost_amount", v, money_places).map(Some),
            None => Some(None),
        };
        if let (Some(a), Some(c)) = (account, input.currency.as_deref().filter(|c| !c.is_empty())) {
            if !is_known_currency(c) {
                check.fail(
                    "currency",
                    "unknown_currency",
                    format!("unknown currency \"{c}\"; expected an ISO 4217 code such as CNY"),
                );
            } else if c != a.currency {
                check.fail(
                    "currency",
                    "currency_mismatch",
                    format!("account trades in {}, not {c}", a.currency),
                );
            }
        }
        if check.failed {
            continue;
        }
        let (
            Some(account_id),
            Some(invoice_id),
            Some(line),
            Some(sku),
            Some(category),
            Some(occurred_on),
            Some(account),
            Some(quantity),
            Some(net_amount),
            Some(cost_amount),
        ) = (
            account_id,
            invoice_id,
            line,
            sku,
            category,
            occurred_on,
            account,
            quantity,
            net_amount,
            cost_amount,
        )
        else {
            continue;
        };
        let event = SaleRecorded {
            account_id,
            invoice_id,
            line,
            sku,
            category,
            quantity,
            net_amount,
            cost_amount,
            currency: account.currency.clone(),
            occurred_on,
        };
        let key = (
            event.account_id.clone(),
            event.invoice_id.clone(),
            event.line,
        );
        let fingerprint = sale_fingerprint(&event);
        let recorded = state
            .sales
            .get(&key)
            .map(|s| s.fingerprint)
            .or_else(|| in_batch.get(&key).copied());
        match recorded {
            Some(f) if f == fingerprint => duplicates += 1,
            _ if account.closed => check.fail(
                "account_id",
                "account_closed",
                format!("account \"{}\" is closed and accepts no sales", key.0),
            ),
            Some(_) => conflicts.push(FieldError::new(
                Some(index),
                "line",
                "duplicate_line_conflict",
                format!(
                    "account {} invoice {} line {} was already recorded with different content",
                    key.0, key.1, key.2
                ),
            )),
            None => {
                let cost = event.cost_amount.unwrap_or(event.net_amount);
                let amounts = (event.net_amount, cost, event.quantity);
                if let Err(e) = totals.admit(state, index, &event.currency, amounts) {
                    errors.push(e);
                    continue;
                }
                in_batch.insert(key, fingerprint);
                events.push(Event::SaleRecorded(event));
            }
        }
    }
    if !errors.is_empty() {
        return Err(DomainError::InvalidLines(errors));
    }
    if !conflicts.is_empty() {
        return Err(DomainError::DuplicateLineConflict(conflicts));
    }
    Ok(Decision { events, duplicates })
}

/// What is returned of a sold line so far, including earlier lines of this batch.
#[derive(Clone, Copy, Default)]
struct Returned {
    quantity: Decimal,
    net: Decimal,
    cost: Decimal,
}

fn record_returns(state: &LedgerState, lines: &[ReturnLineInput]) -> Result<Decision, DomainError> {
    check_batch_size(lines.len())?;
    let mut errors = Vec::new();
    let mut conflicts = Vec::new();
    let mut events = Vec::with_capacity(lines.len());
    let mut duplicates = 0;
    let mut returned_in_batch: HashMap<SaleKey, Returned> = HashMap::new();
    let mut keys_in_batch: HashSet<(String, String, String, u32)> = HashSet::new();
    for (index, input) in lines.iter().enumerate() {
        let mut check = LineCheck {
            index,
            errors: &mut errors,
            failed: false,
        };
        let account_id = check.id("account_id", &input.account_id);
        let return_id = check.id("return_id", &input.return_id);
        let invoice_id = check.id("invoice_id", &input.invoice_id);
        let line = check.line_number(&input.line);
        let occurred_on = check.date("occurred_on", &input.occurred_on);
        let account = account_id.as_deref().and_then(|id| {
            let found = state.accounts.get(id);
            if found.is_none() {
                check.fail(
                    "account_id",
                    "unknown_account",
                    format!("account \"{id}\" does not exist"),
                );
            }
            found
        });
        let money_places = account.map(|a| minor_unit_places(&a.currency)).unwrap_or(2);
        let quantity = check
            .required("quantity", &input.quantity)
            .and_then(|v| check.decimal("quantity", v, QUANTITY_PLACES_MAX, true));
        let net_amount = check
            .required("net_amount", &input.net_amount)
            .and_then(|v| check.money("net_amount", v, money_places));
        let stated_cost = match input.cost_amount.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => check.money("cost_amount", v, money_places).map(Some),
            None => Some(None),
        };
        let (
            Some(account_id),
            Some(return_id),
            Some(invoice_id),
            Some(line),
            Some(occurred_on),
            Some(account),
            Some(quantity),
            Some(net_amount),
            Some(stated_cost),
        ) = (
            account_id,
            return_id,
            invoice_id,
            line,
            occurred_on,
            account,
            quantity,
            net_amount,
            stated_cost,
        )
        else {
            continue;
        };
        let sale_key = (account_id.clone(), invoice_id.clone(), line);
        let Some(sold) = state.sales.get(&sale_key) else {
            check.fail(
                "line",
                "unknown_sale_line",
                format!("account {account_id} has no recorded invoice {invoice_id} line {line}"),
            );
            continue;
        };
        let return_key = (
            account_id.clone(),
            return_id.clone(),
            invoice_id.clone(),
            line,
        );
        if let Some(previous) = state.returns.get(&return_key) {
            if previous.same_as(quantity, net_amount, stated_cost, occurred_on) {
                duplicates += 1;
            } else {
                conflicts.push(FieldError::new(Some(index), "return_id", "duplicate_line_conflict", format!("return {return_id} of invoice {invoice_id} line {line} was already recorded with different content")));
            }
            continue;
        }
        if !keys_in_batch.insert(return_key) {
            check.fail("return_id", "duplicate_in_batch", format!("return {return_id} of invoice {invoice_id} line {line} appears twice in this batch"));
            continue;
        }
        if occurred_on < sold.occurred_on {
            check.fail(
                "occurred_on",
                "return_before_sale",
                format!(
                    "return dated {occurred_on} precedes the sale dated {}",
                    sold.occurred_on
                ),
            );
        }
        let earlier = returned_in_batch
            .get(&sale_key)
            .copied()
            .unwrap_or_default();
        let quantity_left = sold.quantity - sold.returned_quantity - earlier.quantity;
        let net_left = sold.net_amount - sold.returned_net - earlier.net;
        let cost_left = sold.cost_amount - sold.returned_cost - earlier.cost;
        if quantity > quantity_left {
            check.fail("quantity", "return_exceeds_sale", format!("returning {quantity} but only {quantity_left} of the sold {} is left to return", sold.quantity));
        }
        if net_amount > net_left {
            check.fail(
                "net_amount",
                "return_exceeds_sale",
                format!(
                    "returning {net_amount} but only {net_left} of the sold {} is left to return",
                    sold.net_amount
                ),
            );
        }
        let cost_amount = match stated_cost {
            Some(c) if c > cost_left => {
                check.fail(
                    "cost_amount",
                    "return_exceeds_sale",
                    format!("returning cost {c} but only {cost_left} is left to return"),
                );
                None
            }
            Some(c) => Some(c),
            None => prorate_return_cost(
                &ReturnableLine {
                    sold_quantity: sold.quantity,
                    sold_cost: sold.cost_amount,
                    quantity_left,
                    cost_left,
                },
                quantity,
                &account.currency,
            ),
        };
        if check.failed {
            continue;
        }
        let Some(cost_amount) = cost_amount else {
            check.fail(
                "cost_amount",
                "too_large",
                "the prorated cost overflows".to_string(),
            );
            continue;
        };
        returned_in_batch.insert(
            sale_key,
            Returned {
                quantity: earlier.quantity + quantity,
                net: earlier.net + net_amount,
                cost: earlier.cost + cost_amount,
            },
        );
        events.push(Event::SaleReturned(SaleReturned {
            account_id,
            return_id,
            invoice_id,
            line,
            quantity,
            net_amount,
            cost_amount,
            occurred_on,
            sale_occurred_on: sold.occurred_on,
            sku: state.names.name(sold.sku).to_string(),
            category: state.names.name(sold.category).to_string(),
        }));
    }
    if !errors.is_empty() {
        return Err(DomainError::InvalidLines(errors));
    }
    if !conflicts.is_empty() {
        return Err(DomainError::DuplicateLineConflict(conflicts));
    }
    Ok(Decision { events, duplicates })
}
