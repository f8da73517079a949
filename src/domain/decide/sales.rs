//! Decisions on sale and return lines, in batches of up to `BATCH_LINES_MAX` (DESIGN §4):
//! every field of every line checked at once, identical repeats counted rather than
//! recorded twice, conflicting repeats refused, and a return never more than what its sale
//! has left.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{check_batch_size, Decision};
use crate::domain::commands::{ReturnLineInput, SaleLineInput};
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::*;
use crate::domain::ids::is_valid_id;
use crate::domain::limits::BatchTotals;
use crate::domain::money::{
    is_known_currency, minor_unit_places, prorate_return_cost, ReturnableLine,
};
use crate::domain::state::{sale_fingerprint, AccountFacts, LedgerState, SaleKey, SoldLine};
use crate::kernel::date::parse_date;
use crate::kernel::decimal::{parse_plain_decimal, written_places};
use crate::kernel::fast::FastMap;
use crate::kernel::limits::{LINE_VALUE_MAX, QUANTITY_PLACES_MAX};

/// What a batch has come to so far, line by line.
struct Batch {
    /// Field errors of invalid lines (422 `invalid_lines`).
    errors: Vec<FieldError>,
    /// Lines recorded before with other content (409 `duplicate_line_conflict`).
    conflicts: Vec<FieldError>,
    events: Vec<Event>,
    /// Identical repeats of lines recorded before.
    duplicates: usize,
}

impl Batch {
    fn with_capacity(lines: usize) -> Batch {
        Batch {
            errors: Vec::new(),
            conflicts: Vec::new(),
            events: Vec::with_capacity(lines),
            duplicates: 0,
        }
    }

    /// The whole batch or nothing: its invalid lines first, then its conflicting ones.
    fn finish(self) -> Result<Decision, DomainError> {
        if !self.errors.is_empty() {
            return Err(DomainError::InvalidLines(self.errors));
        }
        if !self.conflicts.is_empty() {
            return Err(DomainError::DuplicateLineConflict(self.conflicts));
        }
        Ok(Decision {
            events: self.events,
            duplicates: self.duplicates,
        })
    }
}

/// The amounts a sale or return line states, once valid.
#[derive(Clone, Copy)]
struct LineAmounts {
    quantity: Decimal,
    net_amount: Decimal,
    /// `None` when the line leaves the cost out.
    cost_amount: Option<Decimal>,
}

/// Collects the field errors of one line while its fields are parsed.
struct LineCheck<'e> {
    index: usize,
    errors: &'e mut Vec<FieldError>,
    failed: bool,
}

impl<'e> LineCheck<'e> {
    fn new(index: usize, errors: &'e mut Vec<FieldError>) -> LineCheck<'e> {
        LineCheck {
            index,
            errors,
            failed: false,
        }
    }

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
        self.id_ref(field, value).map(str::to_string)
    }

    /// [`LineCheck::id`] borrowed from the input.
    fn id_ref<'v>(&mut self, field: &str, value: &'v Option<String>) -> Option<&'v str> {
        let v = self.required(field, value)?;
        if is_valid_id(v) {
            Some(v)
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

    /// The account a line names; `unknown_account` when there is none, the message ending
    /// with `remedy`.
    fn account<'s>(
        &mut self,
        state: &'s LedgerState,
        account_id: Option<&str>,
        remedy: &str,
    ) -> Option<&'s AccountFacts> {
        let id = account_id?;
        let found = state.accounts.get(id);
        if found.is_none() {
            self.fail(
                "account_id",
                "unknown_account",
                format!("account \"{id}\" does not exist{remedy}"),
            );
        }
        found
    }

    /// The quantity (> 0), net amount and optional cost (≥ 0) of a sale or return line, the
    /// amounts in the places of the account's currency (two while the account is unknown).
    fn amounts(
        &mut self,
        account: Option<&AccountFacts>,
        quantity: &Option<String>,
        net_amount: &Option<String>,
        cost_amount: &Option<String>,
    ) -> Option<LineAmounts> {
        let money_places = account.map(|a| minor_unit_places(&a.currency)).unwrap_or(2);
        let quantity = self
            .required("quantity", quantity)
            .and_then(|v| self.decimal("quantity", v, QUANTITY_PLACES_MAX, true));
        let net_amount = self
            .required("net_amount", net_amount)
            .and_then(|v| self.money("net_amount", v, money_places));
        let cost_amount = match cost_amount.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => self.money("cost_amount", v, money_places).map(Some),
            None => Some(None),
        };
        Some(LineAmounts {
            quantity: quantity?,
            net_amount: net_amount?,
            cost_amount: cost_amount?,
        })
    }

    /// `unknown_currency` or `currency_mismatch` when a line states a currency other than
    /// its account's.
    fn currency(&mut self, account: &AccountFacts, currency: Option<&str>) {
        let Some(c) = currency.filter(|c| !c.is_empty()) else {
            return;
        };
        if !is_known_currency(c) {
            self.fail(
                "currency",
                "unknown_currency",
                format!("unknown currency \"{c}\"; expected an ISO 4217 code such as CNY"),
            );
        } else if c != account.currency {
            self.fail(
                "currency",
                "currency_mismatch",
                format!("account trades in {}, not {c}", account.currency),
            );
        }
    }
}

/// Records sale lines, all or nothing; an identical repeat of a recorded line counts as a
/// duplicate, a line with the same key and other content is a conflict.
pub fn record_sales(state: &LedgerState, lines: &[SaleLineInput]) -> Result<Decision, DomainError> {
    check_batch_size(lines.len())?;
    let mut batch = Batch::with_capacity(lines.len());
    // Keys recorded earlier in this same batch, with their fingerprints.
    // (Keyed by the input's own strings: no key is copied per line.)
    let mut in_batch: FastMap<(&str, &str, u32), [u8; 16]> =
        FastMap::with_capacity_and_hasher(lines.len(), Default::default());
    // Running sale totals per currency, bounded by `limits::LEDGER_TOTAL_MAX`.
    let mut totals = BatchTotals::default();
    for (index, input) in lines.iter().enumerate() {
        let mut check = LineCheck::new(index, &mut batch.errors);
        let Some(SaleLine {
            event,
            account,
            key,
        }) = sale_line(&mut check, state, input)
        else {
            continue;
        };
        let fingerprint = sale_fingerprint(&event);
        let recorded = state
            .book
            .sold_line(key.0, key.1, key.2)
            .map(|s| s.fingerprint)
            .or_else(|| in_batch.get(&key).copied());
        match recorded {
            Some(f) if f == fingerprint => batch.duplicates += 1,
            _ if account.closed => check.fail(
                "account_id",
                "account_closed",
                format!("account \"{}\" is closed and accepts no sales", key.0),
            ),
            Some(_) => batch.conflicts.push(FieldError::new(
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
                    batch.errors.push(e);
                    continue;
                }
                in_batch.insert(key, fingerprint);
                batch.events.push(Event::SaleRecorded(event));
            }
        }
    }
    batch.finish()
}

/// A valid sale line: its event, its account and its natural key (account, invoice,
/// line) as the input writes it.
struct SaleLine<'s, 'i> {
    event: SaleRecorded,
    account: &'s AccountFacts,
    key: (&'i str, &'i str, u32),
}

/// A sale line's event and its account, or `None` once its field errors are noted.
fn sale_line<'s, 'i>(
    check: &mut LineCheck,
    state: &'s LedgerState,
    input: &'i SaleLineInput,
) -> Option<SaleLine<'s, 'i>> {
    let account_id = check.id_ref("account_id", &input.account_id);
    let invoice_id = check.id_ref("invoice_id", &input.invoice_id);
    let line = check.line_number(&input.line);
    let sku = check.id("sku", &input.sku);
    let category = check.id("category", &input.category);
    let occurred_on = check.date("occurred_on", &input.occurred_on);
    // A closed account is refused by the caller, after a retry of a line recorded before
    // the close has had the chance to count as a duplicate.
    let account = check.account(state, account_id, "; open it first");
    let amounts = check.amounts(
        account,
        &input.quantity,
        &input.net_amount,
        &input.cost_amount,
    );
    if let Some(a) = account {
        check.currency(a, input.currency.as_deref());
    }
    if check.failed {
        return None;
    }
    let (account, amounts) = (account?, amounts?);
    let key = (account_id?, invoice_id?, line?);
    let event = SaleRecorded {
        account_id: key.0.to_string(),
        invoice_id: key.1.to_string(),
        line: key.2,
        sku: sku?,
        category: category?,
        quantity: amounts.quantity,
        net_amount: amounts.net_amount,
        cost_amount: amounts.cost_amount,
        currency: account.currency.clone(),
        occurred_on: occurred_on?,
    };
    Some(SaleLine {
        event,
        account,
        key,
    })
}

/// What is returned of a sold line so far, including earlier lines of this batch.
#[derive(Clone, Copy, Default)]
struct Returned {
    quantity: Decimal,
    net: Decimal,
    cost: Decimal,
}

/// A return line's fields once valid, before it is held against its sale.
struct ReturnLine<'s> {
    account_id: String,
    return_id: String,
    invoice_id: String,
    line: u32,
    occurred_on: NaiveDate,
    account: &'s AccountFacts,
    amounts: LineAmounts,
}

/// Records return lines, all or nothing: each against a recorded sale line, dated on or
/// after it, and with what that line has left (after earlier lines of the batch).
pub fn record_returns(
    state: &LedgerState,
    lines: &[ReturnLineInput],
) -> Result<Decision, DomainError> {
    check_batch_size(lines.len())?;
    let mut batch = Batch::with_capacity(lines.len());
    let mut returned_in_batch: HashMap<SaleKey, Returned> = HashMap::new();
    let mut keys_in_batch: HashSet<(String, String, String, u32)> = HashSet::new();
    for (index, input) in lines.iter().enumerate() {
        let mut check = LineCheck::new(index, &mut batch.errors);
        let Some(r) = return_line(&mut check, state, input) else {
            continue;
        };
        let (account_id, return_id, invoice_id, line) =
            (&r.account_id, &r.return_id, &r.invoice_id, r.line);
        let sale_key = (account_id.clone(), invoice_id.clone(), line);
        let Some(sold) = state.book.sold(&sale_key) else {
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
        if let Some(previous) = state.book.returned(&return_key) {
            let a = r.amounts;
            if previous.same_as(a.quantity, a.net_amount, a.cost_amount, r.occurred_on) {
                batch.duplicates += 1;
            } else {
                batch.conflicts.push(FieldError::new(Some(index), "return_id", "duplicate_line_conflict", format!("return {return_id} of invoice {invoice_id} line {line} was already recorded with different content")));
            }
            continue;
        }
        if !keys_in_batch.insert(return_key) {
            check.fail("return_id", "duplicate_in_batch", format!("return {return_id} of invoice {invoice_id} line {line} appears twice in this batch"));
            continue;
        }
        let earlier = returned_in_batch
            .get(&sale_key)
            .copied()
            .unwrap_or_default();
        let Some(cost_amount) = held_against_sale(&mut check, &r, sold, earlier) else {
            continue;
        };
        let (quantity, net_amount) = (r.amounts.quantity, r.amounts.net_amount);
        returned_in_batch.insert(
            sale_key,
            Returned {
                quantity: earlier.quantity + quantity,
                net: earlier.net + net_amount,
                cost: earlier.cost + cost_amount,
            },
        );
        batch.events.push(Event::SaleReturned(SaleReturned {
            account_id: r.account_id,
            return_id: r.return_id,
            invoice_id: r.invoice_id,
            line,
            quantity,
            net_amount,
            cost_amount,
            occurred_on: r.occurred_on,
            sale_occurred_on: sold.occurred_on,
            sku: state.names.name(sold.sku).to_string(),
            category: state.names.name(sold.category).to_string(),
        }));
    }
    batch.finish()
}

/// A return line's fields, or `None` once its field errors are noted.
fn return_line<'s>(
    check: &mut LineCheck,
    state: &'s LedgerState,
    input: &ReturnLineInput,
) -> Option<ReturnLine<'s>> {
    let account_id = check.id("account_id", &input.account_id);
    let return_id = check.id("return_id", &input.return_id);
    let invoice_id = check.id("invoice_id", &input.invoice_id);
    let line = check.line_number(&input.line);
    let occurred_on = check.date("occurred_on", &input.occurred_on);
    let account = check.account(state, account_id.as_deref(), "");
    let amounts = check.amounts(
        account,
        &input.quantity,
        &input.net_amount,
        &input.cost_amount,
    );
    if check.failed {
        return None;
    }
    Some(ReturnLine {
        account_id: account_id?,
        return_id: return_id?,
        invoice_id: invoice_id?,
        line: line?,
        occurred_on: occurred_on?,
        account: account?,
        amounts: amounts?,
    })
}

/// The return's cost once it is held against its sale: dated on or after the sale, no
/// more than the line has left of quantity, net and cost (after `earlier` returns of this
/// batch); a cost left out is prorated. `None` once the line's errors are noted.
fn held_against_sale(
    check: &mut LineCheck,
    r: &ReturnLine,
    sold: &SoldLine,
    earlier: Returned,
) -> Option<Decimal> {
    let LineAmounts {
        quantity,
        net_amount,
        cost_amount: stated_cost,
    } = r.amounts;
    let occurred_on = r.occurred_on;
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
    let quantity_left = sold.quantity - sold.returned_quantity - earlier.quantity;
    let net_left = sold.net_amount - sold.returned_net - earlier.net;
    let cost_left = sold.cost_amount - sold.returned_cost - earlier.cost;
    if quantity > quantity_left {
        check.fail(
            "quantity",
            "return_exceeds_sale",
            format!(
                "returning {quantity} but only {quantity_left} of the sold {} is left to return",
                sold.quantity
            ),
        );
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
            &r.account.currency,
        ),
    };
    if check.failed {
        return None;
    }
    if cost_amount.is_none() {
        check.fail(
            "cost_amount",
            "too_large",
            "the prorated cost overflows".to_string(),
        );
    }
    cost_amount
}
