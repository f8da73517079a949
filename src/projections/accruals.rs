//! Rebate accruals: for each program, account and period, the totals of the lines that
//! count (DESIGN §5.4), kept incrementally as sales and returns arrive. A return counts
//! against its sale's period, and only when its sale counted. Enrollment changes and early
//! ends recompute the affected (program, account) from the account's line facts, which
//! also answer `known_at` questions by position.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::facts::Facts;
use crate::domain::events::Event;
use crate::domain::programs::{Program, Programs};
use crate::domain::state::{FastMap, Names};
use crate::ledger::LedgerError;
use crate::rules::calendar::{month_index, Period};
use crate::rules::rebates::RebateBasis;

pub use crate::derived::LineFact;

/// Totals of the counted lines of one (program, account, period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccrualTotals {
    #[serde(with = "crate::kernel::stored::decimal")]
    pub net: Decimal,
    #[serde(with = "crate::kernel::stored::decimal")]
    pub cost: Decimal,
    #[serde(with = "crate::kernel::stored::decimal")]
    pub quantity: Decimal,
    pub lines: u64,
}

impl AccrualTotals {
    /// The basis a program measures.
    pub fn basis(&self, kind: RebateBasis) -> Decimal {
        match kind {
            RebateBasis::NetRevenue => self.net,
            RebateBasis::Quantity => self.quantity,
            RebateBasis::GrossMargin => self.net.saturating_sub(self.cost),
        }
    }

    /// Saturating sums: apply cannot fail, and by `domain::limits` every total of a
    /// currency stays within ±2·10^18, so saturation never happens on accepted input.
    fn add(&mut self, line: &LineFact) {
        self.net = self.net.saturating_add(line.net);
        self.cost = self.cost.saturating_add(line.cost);
        self.quantity = self.quantity.saturating_add(line.quantity);
        self.lines += 1;
    }
}

/// The period of a program that holds `date`, clipped to the program's days.
pub fn program_period(program: &Program, date: NaiveDate) -> Period {
    program.period_of(date)
}

/// True when the line counts for the program as it stands (enrollment on the sale date,
/// scope, program days).
pub fn line_counts(program: &Program, names: &Names, account_id: &str, line: &LineFact) -> bool {
    program.counts(account_id, line.sale_date)
        && program.in_scope(names.name(line.sku), names.name(line.category))
}

/// Line facts of every account and the live accrual totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accruals {
    names: Names,
    /// Every account's line facts (on disk when a store is attached).
    pub facts: Facts,
    /// program → account → period start month index → totals (nested so reads look up by
    /// `&str` without building keys).
    totals: FastMap<String, FastMap<String, BTreeMap<i32, AccrualTotals>>>,
}

impl Accruals {
    /// Applies an event at `position`; `programs` must already include it. Fails only when
    /// a recomputation cannot read the account's stored lines.
    pub fn apply(
        &mut self,
        position: u64,
        event: &Event,
        programs: &Programs,
    ) -> Result<(), LedgerError> {
        match event {
            Event::SaleRecorded(_) | Event::SaleReturned(_) => {
                if let Some(effect) = event.line_effect() {
                    let line = LineFact {
                        position,
                        sale_date: effect.sale_on,
                        sku: self.names.intern(effect.sku),
                        category: self.names.intern(effect.category),
                        net: effect.net,
                        cost: effect.cost,
                        quantity: effect.quantity,
                        returned: matches!(event, Event::SaleReturned(_)),
                    };
                    self.add_line(effect.account_id, line, programs);
                }
            }
            Event::AccountEnrolled(e) => {
                self.recompute(&e.program_id, &e.account_id, programs, position)?
            }
            Event::AccountUnenrolled(e) => {
                self.recompute(&e.program_id, &e.account_id, programs, position)?
            }
            Event::RebateProgramEnded(e) => {
                if let Some(program) = programs.get(&e.program_id) {
                    let mut accounts: Vec<String> = program
                        .enrollments
                        .iter()
                        .map(|x| x.account_id.clone())
                        .collect();
                    accounts.sort();
                    accounts.dedup();
                    for account in accounts {
                        self.recompute(&e.program_id, &account, programs, position)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn add_line(&mut self, account_id: &str, line: LineFact, programs: &Programs) {
        for program in programs.enrolled(account_id) {
            if line_counts(program, &self.names, account_id, &line) {
                let period = program_period(program, line.sale_date);
                self.totals_mut(&program.program_id, account_id)
                    .entry(month_index(period.start))
                    .or_default()
                    .add(&line);
            }
        }
        self.facts.push(account_id, line);
    }

    /// Recomputes one (program, account) from the account's lines through `position` (the
    /// event being applied: a store being caught up may hold later ones).
    fn recompute(
        &mut self,
        program_id: &str,
        account_id: &str,
        programs: &Programs,
        position: u64,
    ) -> Result<(), LedgerError> {
        let Some(program) = programs.get(program_id) else {
            return Ok(());
        };
        let totals = self.totals_of(program, account_id, position)?;
        *self.totals_mut(program_id, account_id) = totals;
        Ok(())
    }

    /// The live totals of (program, account), created on first use.
    fn totals_mut(
        &mut self,
        program_id: &str,
        account_id: &str,
    ) -> &mut BTreeMap<i32, AccrualTotals> {
        if !self.totals.contains_key(program_id) {
            self.totals
                .insert(program_id.to_string(), FastMap::default());
        }
        let accounts = self.totals.get_mut(program_id).expect("inserted above");
        if !accounts.contains_key(account_id) {
            accounts.insert(account_id.to_string(), BTreeMap::new());
        }
        accounts.get_mut(account_id).expect("inserted above")
    }

    /// The totals by period of (program, account) computed from the lines recorded at or
    /// before `cutoff`; `program` must be the program as known at that cutoff.
    pub fn totals_of(
        &self,
        program: &Program,
        account_id: &str,
        cutoff: u64,
    ) -> Result<BTreeMap<i32, AccrualTotals>, LedgerError> {
        let mut totals: BTreeMap<i32, AccrualTotals> = BTreeMap::new();
        for line in self.facts.through(account_id, cutoff)? {
            if line_counts(program, &self.names, account_id, &line) {
                totals
                    .entry(month_index(program_period(program, line.sale_date).start))
                    .or_default()
                    .add(&line);
            }
        }
        Ok(totals)
    }

    /// The live totals of (program, account) for the period starting in month `period_start`.
    pub fn live(&self, program_id: &str, account_id: &str, period_start: i32) -> AccrualTotals {
        self.totals
            .get(program_id)
            .and_then(|accounts| accounts.get(account_id))
            .and_then(|by_period| by_period.get(&period_start))
            .copied()
            .unwrap_or_default()
    }

    /// The lines of an account that count for (program, period) as known at `cutoff`.
    pub fn contributing(
        &self,
        program: &Program,
        account_id: &str,
        period_start: i32,
        cutoff: u64,
    ) -> Result<Vec<LineFact>, LedgerError> {
        let mut lines = self.facts.through(account_id, cutoff)?;
        lines.retain(|l| {
            line_counts(program, &self.names, account_id, l)
                && month_index(program_period(program, l.sale_date).start) == period_start
        });
        Ok(lines)
    }

    /// Every live total, one line each, in a stable order (for the projections digest).
    pub fn digest_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (program, accounts) in &self.totals {
            for (account, periods) in accounts {
                lines.push(format!("{program}|{account}|{periods:?}"));
            }
        }
        let mut facts: Vec<String> = self
            .facts
            .counts()
            .iter()
            .map(|(account, count)| format!("f|{account}|{}|{}", count.sales, count.returns))
            .collect();
        lines.append(&mut facts);
        lines.sort_unstable();
        lines
    }

    /// Every sale and return of an account at or before `cutoff`, in log order.
    pub fn lines(&self, account_id: &str, cutoff: u64) -> Result<Vec<LineFact>, LedgerError> {
        self.facts.through(account_id, cutoff)
    }

    /// The name of an interned sku or category id.
    pub fn name(&self, id: u32) -> &str {
        self.names.name(id)
    }
}
