//! Named bounds on every definition input, on batches and on the ledger's running sale
//! totals, chosen so that no accepted input can overflow any figure the ledger computes.
//!
//! # Why these bounds are enough (`Decimal::MAX` ≈ 7.9 × 10^28)
//!
//! 1. **Lines.** Every sale line's net, cost and quantity is ≥ 0 and ≤ 10^15
//!    (`kernel::limits::LINE_VALUE_MAX`); a return takes at most what its line has left. The
//!    running totals of all recorded sale lines of one currency are each ≤
//!    [`LEDGER_TOTAL_MAX`] = 10^18 (refused per line with `ledger_total_exceeded`). Hence any
//!    sum over any subset of a currency's sales and returns (an account, a month, a window,
//!    a program period, a sku) lies in [−10^18, 10^18], and a gross margin (net − cost)
//!    in [−2·10^18, 2·10^18]: every basis, tier metric, contest metric, sales summary and
//!    Pareto total is bounded by 2·10^18.
//! 2. **Rebates.** A money rate is ≤ [`PERCENT_RATE_MAX`] = 100 %, a per-unit rate ≤
//!    [`PER_UNIT_RATE_MAX`] = 10^6; so one term `slice × rate` is ≤ 2·10^18 × 100 = 2·10^20
//!    (before ÷100) or 10^18 × 10^6 = 10^24, and an entitlement is ≤ its basis's lines ×
//!    the largest rate. Within one program, each line counts for one (account, period) at
//!    most, so Σ entitlements over the rows of a program ≤ 2·10^24 (per-unit) and ≤
//!    2·10^18 (percent). Caps only lower an entitlement.
//! 3. **Settlements.** At most one is pending per row; an approved partial adds at most
//!    what remained, a final or delta brings `approved` to the entitlement of the day. So a
//!    row's approved and pending lie in [0, the largest entitlement it ever had], which is
//!    bounded by its lines as in 2, and its outstanding (entitlement − approved) and
//!    clawback in [−that, that]. Per program each of these sums is ≤ 2·10^24.
//! 4. **Reports.** With at most [`PROGRAMS_MAX`] = 1,000 programs, each liability total is
//!    ≤ 1,000 × 2·10^24 = 2·10^27; contest awards add ≤ [`CONTESTS_MAX`] × 100 prizes ×
//!    10^15 = 10^20. Every sum stays ≥ 39× below `Decimal::MAX`.
//! 5. **Divisions.** Growth and margin percents divide by a baseline or net revenue ≥ the
//!    smallest step of a line (10^-6 for quantities, one minor unit for money), so they are
//!    ≤ 2·10^18 / 10^-6 × 100 = 2·10^26. Pareto shares divide a part by a whole ≥ it.
//! 6. **Thresholds.** Tier `from`, caps and policy money thresholds are ≤
//!    [`THRESHOLD_MAX`] (= the ledger total; a larger one could never be reached) and are
//!    only compared or subtracted from a basis, so they cannot overflow either.
//!
//! Sums in reports and projections still use checked arithmetic: a ledger written before
//! these limits may hold larger values, and such a figure is then an error, not a panic.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::error::{DomainError, FieldError};
use super::state::LedgerState;
use super::stored;
use crate::rules::rebates::{RebateBasis, RebateTier};
use crate::rules::tiers::TierDefinition;

/// Running total per currency of the net, the cost and the quantity of all recorded sale
/// lines, each: a thousand lines at the largest value, or a hundred million ordinary ones.
pub const LEDGER_TOTAL_MAX: Decimal = Decimal::from_parts(2_808_348_672, 232_830_643, 0, false, 0); // 10^18

/// Largest percent rate of a money basis: a rebate of more than the whole basis is a typo.
pub const PERCENT_RATE_MAX: Decimal = Decimal::ONE_HUNDRED;

/// Largest per-unit rate of the quantity basis, in currency units: a million per unit
/// covers machines and vehicles; it bounds an entitlement to 10^24 (see the module text).
pub const PER_UNIT_RATE_MAX: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// Largest tier `from`, cap or policy money threshold: the ledger total, since a larger
/// one could never be reached.
pub const THRESHOLD_MAX: Decimal = LEDGER_TOTAL_MAX;

/// Most rebate programs in a ledger: a key-account team runs tens a year; bounds every
/// liability total to 1,000 programs' worth.
pub const PROGRAMS_MAX: usize = 1_000;

/// Most sales contests in a ledger: a few a month over decades; bounds unpaid awards.
pub const CONTESTS_MAX: usize = 1_000;

/// Most products a season may declare: a peak season's scarce lines are tens, not thousands;
/// the limit bounds a plan at 10,000 accounts × 500 skus.
pub const SEASON_PRODUCTS_MAX: usize = 500;

/// Largest batch accepted in one request: big enough for an ERP extract page, small enough
/// that one request's validation and sled batch stay in the low milliseconds.
pub const BATCH_LINES_MAX: usize = 10_000;

fn push(errors: &mut Vec<FieldError>, field: String, code: &str, message: String) {
    errors.push(FieldError::new(None, &field, code, message));
}

/// Problems of a program's rates, thresholds and cap against the limits: `rate_too_large`
/// (above 100 % for money bases, above [`PER_UNIT_RATE_MAX`] per unit for quantity),
/// `threshold_too_large` (a `from` above [`THRESHOLD_MAX`]) and `cap_too_large`.
pub fn program_inputs(
    errors: &mut Vec<FieldError>,
    basis: RebateBasis,
    tiers: &[RebateTier],
    cap: Option<Decimal>,
) {
    let (rate_max, unit) = if basis.is_money() {
        (PERCENT_RATE_MAX, "% of a money basis")
    } else {
        (PER_UNIT_RATE_MAX, " per unit of the quantity basis")
    };
    for (i, tier) in tiers.iter().enumerate() {
        if tier.rate > rate_max {
            push(
                errors,
                format!("tiers[{i}].rate"),
                "rate_too_large",
                format!(
                    "rate \"{}\" is above the largest rate, {rate_max}{unit}; check the figure",
                    tier.rate
                ),
            );
        }
        if tier.from > THRESHOLD_MAX {
            push(
                errors,
                format!("tiers[{i}].from"),
                "threshold_too_large",
                format!(
                    "from \"{}\" is above {THRESHOLD_MAX}, more than a ledger can ever record; lower it",
                    tier.from
                ),
            );
        }
    }
    if let Some(cap) = cap.filter(|c| *c > THRESHOLD_MAX) {
        push(
            errors,
            "cap".into(),
            "cap_too_large",
            format!("cap \"{cap}\" is above {THRESHOLD_MAX}; leave the cap out for no cap"),
        );
    }
}

/// Problems of a tier policy's money thresholds: `threshold_too_large` when a
/// `min_net_revenue` is above [`THRESHOLD_MAX`].
pub fn policy_thresholds(tiers: &[TierDefinition]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, tier) in tiers.iter().enumerate() {
        if let Some(amount) = tier.criteria.min_net_revenue.filter(|a| *a > THRESHOLD_MAX) {
            push(
                &mut errors,
                format!("tiers[{i}].criteria.min_net_revenue"),
                "threshold_too_large",
                format!(
                    "min_net_revenue \"{amount}\" is above {THRESHOLD_MAX}, more than a ledger can ever record; lower it"
                ),
            );
        }
    }
    errors
}

/// 409 `too_many_programs` when the ledger already holds [`PROGRAMS_MAX`] programs.
pub fn room_for_program(state: &LedgerState) -> Result<(), DomainError> {
    if state.programs.len() >= PROGRAMS_MAX {
        return Err(DomainError::Conflict {
            code: "too_many_programs",
            message: format!(
                "the ledger already holds {PROGRAMS_MAX} rebate programs, the most it accepts (the limit keeps every liability total exact); define new schedules as tiers of an existing program's successor only after raising the limit"
            ),
        });
    }
    Ok(())
}

/// 409 `too_many_contests` when the ledger already holds [`CONTESTS_MAX`] contests.
pub fn room_for_contest(state: &LedgerState) -> Result<(), DomainError> {
    if state.contests.len() >= CONTESTS_MAX {
        return Err(DomainError::Conflict {
            code: "too_many_contests",
            message: format!(
                "the ledger already holds {CONTESTS_MAX} contests, the most it accepts; ask to raise the limit"
            ),
        });
    }
    Ok(())
}

/// Net, cost and quantity of the sale lines of one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleTotals {
    #[serde(with = "stored::decimal")]
    pub net: Decimal,
    #[serde(with = "stored::decimal")]
    pub cost: Decimal,
    #[serde(with = "stored::decimal")]
    pub quantity: Decimal,
}

impl SaleTotals {
    /// The totals with one more line; `None` when any total would pass
    /// [`LEDGER_TOTAL_MAX`] (or overflow), naming the field that would.
    pub fn plus(
        &self,
        net: Decimal,
        cost: Decimal,
        quantity: Decimal,
    ) -> Result<SaleTotals, &'static str> {
        let add = |total: Decimal, value: Decimal, field: &'static str| {
            total
                .checked_add(value)
                .filter(|sum| *sum <= LEDGER_TOTAL_MAX)
                .ok_or(field)
        };
        Ok(SaleTotals {
            net: add(self.net, net, "net_amount")?,
            cost: add(self.cost, cost, "cost_amount")?,
            quantity: add(self.quantity, quantity, "quantity")?,
        })
    }

    /// Records a line that is already in the log: never fails, saturates instead (a log
    /// written before the limit may hold more).
    pub fn record(&mut self, net: Decimal, cost: Decimal, quantity: Decimal) {
        self.net = self.net.saturating_add(net);
        self.cost = self.cost.saturating_add(cost);
        self.quantity = self.quantity.saturating_add(quantity);
    }
}

/// The running totals of a batch being decided, on top of the recorded ones.
#[derive(Debug, Default)]
pub struct BatchTotals {
    by_currency: std::collections::HashMap<String, SaleTotals>,
}

impl BatchTotals {
    /// Admits one new sale line of line `index`, or says which field passes the ledger
    /// total (`ledger_total_exceeded`).
    pub fn admit(
        &mut self,
        state: &LedgerState,
        index: usize,
        currency: &str,
        (net, cost, quantity): (Decimal, Decimal, Decimal),
    ) -> Result<(), FieldError> {
        // One currency key per batch, not per line: this runs for every sale line.
        if !self.by_currency.contains_key(currency) {
            let recorded = state.sale_totals.get(currency).copied().unwrap_or_default();
            self.by_currency.insert(currency.to_string(), recorded);
        }
        let current = self.by_currency.get_mut(currency).expect("inserted above");
        match current.plus(net, cost, quantity) {
            Ok(next) => {
                *current = next;
                Ok(())
            }
            Err(field) => Err(FieldError::new(
                Some(index),
                field,
                "ledger_total_exceeded",
                format!(
                    "recording this line would take the ledger's total {field} in {currency} past {LEDGER_TOTAL_MAX}; check the figure"
                ),
            )),
        }
    }
}

pub use crate::kernel::sums::{checked_sum, Overflow};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_have_the_documented_values() {
        // Proves the hand-built constants are exactly 10^18 and 10^6.
        assert_eq!(
            LEDGER_TOTAL_MAX,
            Decimal::from(1_000_000_000_000_000_000u64)
        );
        assert_eq!(PER_UNIT_RATE_MAX, Decimal::from(1_000_000u64));
    }

    #[test]
    fn the_worst_report_total_fits_decimal() {
        // Proves the argument's largest figure, PROGRAMS_MAX × (2 × ledger total ×
        // per-unit rate) for each of five liability totals, is below Decimal::MAX.
        let per_program = (LEDGER_TOTAL_MAX * Decimal::TWO)
            .checked_mul(PER_UNIT_RATE_MAX)
            .unwrap();
        let all = per_program
            .checked_mul(Decimal::from(PROGRAMS_MAX as u64))
            .unwrap()
            .checked_mul(Decimal::from(5u64))
            .unwrap();
        assert!(all < Decimal::MAX / Decimal::from(7u64));
    }

    #[test]
    fn a_line_past_the_ledger_total_is_refused_naming_the_field() {
        // Proves the batch check names the first total that would pass the limit.
        let state = LedgerState::default();
        let mut batch = BatchTotals::default();
        let big = LEDGER_TOTAL_MAX / Decimal::TWO;
        assert!(batch
            .admit(&state, 0, "CNY", (big, Decimal::ZERO, Decimal::ONE))
            .is_ok());
        assert!(batch
            .admit(&state, 1, "CNY", (big, Decimal::ZERO, Decimal::ONE))
            .is_ok());
        let refused = batch
            .admit(
                &state,
                2,
                "CNY",
                (Decimal::ONE, Decimal::ZERO, Decimal::ONE),
            )
            .unwrap_err();
        assert_eq!(
            (refused.index, refused.field.as_str(), refused.code.as_str()),
            (Some(2), "net_amount", "ledger_total_exceeded")
        );
        assert!(batch
            .admit(&state, 3, "EUR", (big, Decimal::ZERO, Decimal::ONE))
            .is_ok());
    }
}
