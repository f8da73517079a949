//! Checked sums of money and metrics: overflow is a value, never a panic.

use rust_decimal::Decimal;

/// A sum or product that overflowed decimal arithmetic: impossible for inputs within the
/// limits, so it only reports a ledger written before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a figure overflows decimal arithmetic; the ledger holds values beyond the named limits")]
pub struct Overflow;

/// The sum of `values`, or `None` on overflow (for report totals).
pub fn checked_sum(values: impl IntoIterator<Item = Decimal>) -> Option<Decimal> {
    values
        .into_iter()
        .try_fold(Decimal::ZERO, |sum, v| sum.checked_add(v))
}
