//! Accounts read model: every version of every account, so reads can answer `known_at`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::events::Event;
use crate::domain::vocab::{Scope, Segment, Stage};
use crate::ledger::envelope::format_micros;

/// An account as a reader sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub account_id: String,
    pub name: String,
    pub scope: Scope,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
    pub currency: String,
    pub relationship_stage: Stage,
    /// `open` or `closed`.
    pub status: String,
    pub opened_at: String,
    pub closed_at: Option<String>,
    /// Sale lines recorded for the account.
    pub sale_lines: u64,
    /// Return lines recorded for the account.
    pub return_lines: u64,
}

/// One account's descriptive versions. Its line counts are not here: they are the
/// accrual line facts' (`ReadModel::account_at` adds them), so memory holds nothing per line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct AccountHistory {
    versions: Vec<(u64, AccountView)>,
}

impl AccountHistory {
    fn at(&self, cutoff: u64) -> Option<AccountView> {
        let index = self.versions.partition_point(|(p, _)| *p <= cutoff);
        Some(self.versions[..index].last()?.1.clone())
    }
}

/// All versions of each account, by account id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountsProjection {
    history: BTreeMap<String, AccountHistory>,
}

impl AccountsProjection {
    /// Applies one event at `position`, recorded at `recorded_at_micros`.
    pub fn apply(&mut self, position: u64, recorded_at_micros: i64, event: &Event) {
        // Formatting the instant costs more than the rest of a sale's apply: only do it
        // for the rare descriptive events that keep it.
        let recorded_at = || format_micros(recorded_at_micros);
        let account_id = match event {
            Event::AccountOpened(e) => {
                let view = AccountView {
                    account_id: e.account_id.clone(),
                    name: e.name.clone(),
                    scope: e.scope,
                    segment: e.segment,
                    manager: e.manager.clone(),
                    currency: e.currency.clone(),
                    relationship_stage: e.stage,
                    status: "open".to_string(),
                    opened_at: recorded_at(),
                    closed_at: None,
                    sale_lines: 0,
                    return_lines: 0,
                };
                let history = AccountHistory {
                    versions: vec![(position, view)],
                };
                self.history.insert(e.account_id.clone(), history);
                return;
            }
            Event::AccountUpdated(e) => &e.account_id,
            Event::RelationshipStageChanged(e) => &e.account_id,
            Event::AccountClosed(e) => &e.account_id,
            Event::SaleRecorded(_) | Event::SaleReturned(_) => return,
            Event::TierPolicyPublished(_)
            | Event::TierOverrideGranted(_)
            | Event::TierOverrideRevoked(_)
            | Event::DiscountGranted(_)
            | Event::DiscountRevoked(_) => return,
            Event::RebateProgramDefined(_)
            | Event::RebateProgramEnded(_)
            | Event::AccountEnrolled(_)
            | Event::AccountUnenrolled(_) => return,
            Event::SettlementProposed(_)
            | Event::SettlementApproved(_)
            | Event::SettlementRejected(_) => return,
            Event::TokenIssued(_) | Event::TokenRevoked(_) => return,
            Event::ContestDefined(_) | Event::ContestClosed(_) | Event::ContestAwardPaid(_) => {
                return
            }
            Event::SeasonDeclared(_)
            | Event::CapacityRevised(_)
            | Event::AllocationRequested(_)
            | Event::AllocationRequestWithdrawn(_)
            | Event::AllocationCommitted(_) => return,
        };
        let Some(history) = self.history.get_mut(account_id) else {
            return;
        };
        let Some((_, latest)) = history.versions.last() else {
            return;
        };
        let mut next = latest.clone();
        match event {
            Event::AccountUpdated(e) => {
                next.name = e.name.clone();
                next.scope = e.scope;
                next.segment = e.segment;
                next.manager = e.manager.clone();
            }
            Event::RelationshipStageChanged(e) => next.relationship_stage = e.to,
            Event::AccountClosed(_) => {
                next.status = "closed".to_string();
                next.closed_at = Some(recorded_at());
            }
            _ => return,
        }
        history.versions.push((position, next));
    }

    /// The account as described at `cutoff` (a log position), its line counts zero: a
    /// reader wants `ReadModel::account_at`, which adds them.
    pub fn described(&self, account_id: &str, cutoff: u64) -> Option<AccountView> {
        self.history.get(account_id)?.at(cutoff)
    }

    /// Accounts after `after` in id order, as described at `cutoff` (line counts zero:
    /// `ReadModel::with_lines` adds them).
    pub fn list_described<'s>(
        &'s self,
        after: Option<&str>,
        cutoff: u64,
    ) -> impl Iterator<Item = AccountView> + 's {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Unbounded,
        };
        self.history
            .range((start, Bound::Unbounded))
            .filter_map(move |(_, history)| history.at(cutoff))
    }

    /// Number of accounts (any status).
    pub fn len(&self) -> usize {
        self.history.len()
    }

    /// True when no account has been opened.
    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }
}
