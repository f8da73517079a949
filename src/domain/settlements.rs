//! Rebate settlements (two-phase: proposed, then approved or rejected by another actor),
//! with the positions that recorded each step so reads can answer `known_at`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{Event, SettlementComputation};
use super::limits::Overflow;
use super::state::FastMap;
use super::stored::{self, checkpoint_form};
use crate::rules::rebates::SettlementKind;

/// A settlement and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Settlement {
    pub settlement_id: String,
    pub program_id: String,
    pub account_id: String,
    pub period: String,
    pub kind: SettlementKind,
    pub reference: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub amount: Decimal,
    pub computation: SettlementComputation,
    /// `proposed`, `approved` or `rejected`.
    pub status: String,
    pub proposed_by: String,
    pub decided_by: Option<String>,
    /// The approval note or the rejection reason.
    pub decision_note: Option<String>,
    #[serde(skip)]
    pub proposed_at: u64,
    #[serde(skip)]
    pub decided_at: Option<u64>,
}

impl Settlement {
    /// The settlement as known at `cutoff` (None when proposed later).
    pub fn at(&self, cutoff: u64) -> Option<Settlement> {
        if self.proposed_at > cutoff {
            return None;
        }
        if self.decided_at.is_some_and(|d| d > cutoff) {
            return Some(Settlement {
                status: "proposed".to_string(),
                decided_by: None,
                decision_note: None,
                decided_at: None,
                ..self.clone()
            });
        }
        Some(self.clone())
    }
}

/// Money settled so far for one (program, account, period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    pub approved: Decimal,
    pub pending: Decimal,
    pub final_approved: bool,
    pub has_pending: bool,
}

/// The checkpoint form of a [`Settlement`]: every field, the positions included.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Settlement")]
#[allow(dead_code)] // a mirror: serde reads and builds `Settlement` through it
struct SettlementRecord {
    settlement_id: String,
    program_id: String,
    account_id: String,
    period: String,
    kind: SettlementKind,
    reference: String,
    #[serde(with = "stored::decimal")]
    amount: Decimal,
    computation: SettlementComputation,
    status: String,
    proposed_by: String,
    decided_by: Option<String>,
    decision_note: Option<String>,
    proposed_at: u64,
    decided_at: Option<u64>,
}
checkpoint_form!(Settlement, SettlementRecord);

/// Every settlement by id, and ids by (program, account, period).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settlements {
    #[serde(with = "stored::checkpoint")]
    by_id: FastMap<String, Settlement>,
    by_key: FastMap<(String, String, String), Vec<String>>,
}

impl Settlements {
    /// Records an event's facts at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        match event {
            Event::SettlementProposed(e) => {
                let key = (e.program_id.clone(), e.account_id.clone(), e.period.clone());
                self.by_key
                    .entry(key)
                    .or_default()
                    .push(e.settlement_id.clone());
                self.by_id.insert(
                    e.settlement_id.clone(),
                    Settlement {
                        settlement_id: e.settlement_id.clone(),
                        program_id: e.program_id.clone(),
                        account_id: e.account_id.clone(),
                        period: e.period.clone(),
                        kind: e.kind,
                        reference: e.reference.clone(),
                        amount: e.amount,
                        computation: e.computation.clone(),
                        status: "proposed".to_string(),
                        proposed_by: e.proposed_by.clone(),
                        decided_by: None,
                        decision_note: None,
                        proposed_at: position,
                        decided_at: None,
                    },
                );
            }
            Event::SettlementApproved(e) => {
                if let Some(s) = self.by_id.get_mut(&e.settlement_id) {
                    s.status = "approved".to_string();
                    s.decided_by = Some(e.approved_by.clone());
                    s.decision_note = e.note.clone();
                    s.decided_at = Some(position);
                }
            }
            Event::SettlementRejected(e) => {
                if let Some(s) = self.by_id.get_mut(&e.settlement_id) {
                    s.status = "rejected".to_string();
                    s.decided_by = Some(e.rejected_by.clone());
                    s.decision_note = Some(e.reason.clone());
                    s.decided_at = Some(position);
                }
            }
            _ => {}
        }
    }

    /// Every settlement, one line each, in a stable order (for the projections digest).
    pub fn digest_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .by_id
            .iter()
            .map(|(id, s)| format!("{id}|{s:?}"))
            .collect();
        lines.sort_unstable();
        lines
    }

    /// A settlement as it stands now.
    pub fn get(&self, settlement_id: &str) -> Option<&Settlement> {
        self.by_id.get(settlement_id)
    }

    /// Settlements of (program, account, period) as known at `cutoff`, in proposal order.
    pub fn of(
        &self,
        program_id: &str,
        account_id: &str,
        period: &str,
        cutoff: u64,
    ) -> Vec<Settlement> {
        self.by_key
            .get(&(
                program_id.to_string(),
                account_id.to_string(),
                period.to_string(),
            ))
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
            .filter_map(|s| s.at(cutoff))
            .collect()
    }

    /// What is approved and pending for (program, account, period) as known at `cutoff`
    /// (an overflow is impossible within `limits`, see there).
    pub fn settled(
        &self,
        program_id: &str,
        account_id: &str,
        period: &str,
        cutoff: u64,
    ) -> Result<Settled, Overflow> {
        let mut settled = Settled::default();
        for s in self.of(program_id, account_id, period, cutoff) {
            match s.status.as_str() {
                "approved" => {
                    settled.approved = settled.approved.checked_add(s.amount).ok_or(Overflow)?;
                    settled.final_approved |= s.kind == SettlementKind::Final;
                }
                "proposed" => {
                    settled.pending = settled.pending.checked_add(s.amount).ok_or(Overflow)?;
                    settled.has_pending = true;
                }
                _ => {}
            }
        }
        Ok(settled)
    }

    /// The periods of a program (of one account, when given) that hold an approved or
    /// pending settlement now, each once, in label order (the money an early end or an
    /// enrollment end must not cut off).
    pub fn held_periods(&self, program_id: &str, account_id: Option<&str>) -> Vec<String> {
        let mut periods: Vec<String> = self
            .by_key
            .iter()
            .filter(|((program, account, _), _)| {
                program == program_id && account_id.is_none_or(|a| a == account)
            })
            .filter(|(_, ids)| {
                ids.iter()
                    .filter_map(|id| self.by_id.get(id))
                    .any(|s| s.status == "approved" || s.status == "proposed")
            })
            .map(|((_, _, period), _)| period.clone())
            .collect();
        periods.sort();
        periods.dedup();
        periods
    }

    /// Every (program, account, period) with a settlement, as known at `cutoff`.
    pub fn keys(&self, cutoff: u64) -> Vec<(String, String, String)> {
        let mut keys: Vec<_> = self
            .by_key
            .iter()
            .filter(|(_, ids)| {
                ids.iter()
                    .filter_map(|id| self.by_id.get(id))
                    .any(|s| s.proposed_at <= cutoff)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }
}

/// The settlement ids are made from the program, account, period and a sequence number,
/// so they read well in an audit and are the same on replay.
pub fn settlement_id(program_id: &str, account_id: &str, period: &str, sequence: usize) -> String {
    format!("{program_id}.{account_id}.{period}.{sequence}")
}
