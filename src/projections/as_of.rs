//! The one mechanism that answers `known_at`. A time becomes a position
//! ([`ReadModel::cutoff`]: the last event recorded at or before it); every read model then
//! answers as of that position. Definitions (accounts, policies, programs, contests,
//! seasons, settlements) keep their versions by position and answer `at(cutoff)`; sales
//! keep one line fact per sale and return, with its position, and every sales figure as of
//! a cutoff — per-day totals, the monthly breakdown, accrual totals, the lines behind a
//! settlement — is a fold of the lines at or before it. At the head the live totals are
//! the answer, and equal that fold.

use std::borrow::Cow;

use super::accruals::LineFact;
use super::sales::SalesBreakdown;
use super::ReadModel;
use crate::domain::daily::DailySales;
use crate::domain::events::LineEffect;
use crate::ledger::LedgerError;

impl ReadModel {
    /// The last position recorded at or before `known_at_micros` (the whole log when None).
    /// Fails only when the log cannot be read.
    pub fn cutoff(&self, known_at_micros: Option<i64>) -> Result<u64, LedgerError> {
        match known_at_micros {
            None => Ok(self.head_position()),
            Some(t) => self.times.cutoff(t, self.head_position()),
        }
    }

    /// An account's sales and returns recorded at or before `cutoff`, in log order.
    pub fn lines_at(&self, account_id: &str, cutoff: u64) -> Result<Vec<LineFact>, LedgerError> {
        self.accruals.lines(account_id, cutoff)
    }

    /// A line fact read back as the effect its event had (`Event::line_effect`).
    fn effect_of<'a>(&'a self, account_id: &'a str, line: &LineFact) -> LineEffect<'a> {
        LineEffect {
            account_id,
            sale_on: line.sale_date,
            sku: self.accruals.name(line.sku),
            category: self.accruals.name(line.category),
            net: line.net,
            cost: line.cost,
            quantity: line.quantity,
        }
    }

    /// An account's per-day totals as of `cutoff` (empty when it has none).
    pub fn daily_at(
        &self,
        account_id: &str,
        cutoff: u64,
    ) -> Result<Cow<'_, DailySales>, LedgerError> {
        if cutoff >= self.head_position() {
            return Ok(match self.daily(account_id) {
                Some(daily) => Cow::Borrowed(daily),
                None => Cow::Owned(DailySales::default()),
            });
        }
        let mut daily = DailySales::default();
        for line in self.lines_at(account_id, cutoff)? {
            daily.add_line(&self.effect_of(account_id, &line));
        }
        Ok(Cow::Owned(daily))
    }

    /// An account's sales by month, sku and category as of `cutoff`.
    pub fn breakdown_at(
        &self,
        account_id: &str,
        cutoff: u64,
    ) -> Result<Cow<'_, SalesBreakdown>, LedgerError> {
        if cutoff >= self.head_position() {
            return Ok(match self.breakdown.get(account_id) {
                Some(breakdown) => Cow::Borrowed(breakdown),
                None => Cow::Owned(SalesBreakdown::default()),
            });
        }
        let mut breakdown = SalesBreakdown::default();
        for line in self.lines_at(account_id, cutoff)? {
            breakdown.add_line(&self.effect_of(account_id, &line));
        }
        Ok(Cow::Owned(breakdown))
    }
}
