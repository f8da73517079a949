//! Read models fed by events, in log order. They apply facts and never re-decide: every
//! rule lives in domain/. Everything here is rebuilt from the log at start (`replay`).

pub mod accounts;
pub mod accruals;
mod as_of;
pub mod facts;
pub mod sales;
pub mod tokens;

use crate::domain::state::FastMap;

use sha2::{Digest, Sha256};

use crate::domain::contests::Contests;
use crate::domain::daily::DailySales;
use crate::domain::events::Event;
use crate::domain::incentives::Incentives;
use crate::domain::programs::Programs;
use crate::domain::seasons::Seasons;
use crate::domain::settlements::Settlements;
use std::sync::Arc;

use crate::derived::LineStore;
use crate::ledger::envelope::{format_micros, hash_hex};
use crate::ledger::store::Head;
use crate::ledger::Envelope;
use crate::ledger::LedgerError;

pub use accounts::{AccountView, AccountsProjection};
pub use tokens::{TokenView, TokensProjection};

/// Everything the API reads, kept in memory and updated after each durable group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadModel {
    head: Option<Head>,
    /// recorded_at of each position (index = position − 1); strictly increasing, so
    /// `known_at` maps to a log prefix by binary search.
    recorded_at: Vec<i64>,
    streams: FastMap<String, Vec<u64>>,
    types: FastMap<String, Vec<u64>>,
    pub accounts: AccountsProjection,
    pub tokens: TokensProjection,
    /// Per-day sales totals by account (returns on their sale's day).
    pub daily: FastMap<String, DailySales>,
    /// Sales by month, sku and category, by account.
    pub breakdown: FastMap<String, sales::SalesBreakdown>,
    /// Tier policies, overrides and discounts with their positions.
    pub incentives: Incentives,
    /// Rebate programs and enrollments with their positions.
    pub programs: Programs,
    /// Rebate accruals by program, account and period, and every account's line facts.
    pub accruals: accruals::Accruals,
    /// Rebate settlements with their positions.
    pub settlements: Settlements,
    /// Sales contests with their positions.
    pub contests: Contests,
    /// Peak seasons, requests and committed plans with their positions.
    pub seasons: Seasons,
}

/// What the read models need of an event's envelope.
#[derive(Debug, Clone, Copy)]
pub struct EventMeta<'a> {
    pub position: u64,
    pub stream: &'a str,
    pub recorded_at_micros: i64,
    pub hash: [u8; 32],
    /// The token name that caused the event (kept for token events).
    pub actor_name: &'a str,
}

impl<'a> From<&'a Envelope> for EventMeta<'a> {
    fn from(e: &'a Envelope) -> Self {
        EventMeta {
            position: e.position,
            stream: &e.stream,
            recorded_at_micros: e.recorded_at_micros,
            hash: e.hash,
            actor_name: &e.actor.name,
        }
    }
}

/// Appends a position to a keyed index without allocating the key when it exists.
fn push_position(index: &mut FastMap<String, Vec<u64>>, key: &str, position: u64) {
    match index.get_mut(key) {
        Some(positions) => positions.push(position),
        None => {
            index.insert(key.to_string(), vec![position]);
        }
    }
}

impl ReadModel {
    /// An empty read model with room for `events` positions.
    pub fn with_capacity(events: usize) -> ReadModel {
        ReadModel {
            recorded_at: Vec::with_capacity(events),
            ..ReadModel::default()
        }
    }

    /// Applies one stored event. Positions must arrive gapless and in order. Fails only
    /// when a recomputation cannot read the stored line facts.
    pub fn apply(&mut self, envelope: &EventMeta<'_>, event: &Event) -> Result<(), LedgerError> {
        assert_eq!(
            envelope.position,
            self.recorded_at.len() as u64 + 1,
            "read model positions must be gapless"
        );
        self.recorded_at.push(envelope.recorded_at_micros);
        push_position(&mut self.streams, envelope.stream, envelope.position);
        push_position(&mut self.types, event.type_name(), envelope.position);
        self.accounts
            .apply(envelope.position, envelope.recorded_at_micros, event);
        if let Some(line) = event.line_effect() {
            self.daily_mut(line.account_id).add_line(&line);
            self.breakdown_mut(line.account_id).add_line(&line);
        }
        match event {
            Event::TierPolicyPublished(_)
            | Event::TierOverrideGranted(_)
            | Event::TierOverrideRevoked(_)
            | Event::DiscountGranted(_)
            | Event::DiscountRevoked(_) => self.incentives.apply(envelope.position, event),
            Event::RebateProgramDefined(_)
            | Event::RebateProgramEnded(_)
            | Event::AccountEnrolled(_)
            | Event::AccountUnenrolled(_) => self.programs.apply(envelope.position, event),
            Event::ContestDefined(_) | Event::ContestClosed(_) | Event::ContestAwardPaid(_) => {
                self.contests.apply(envelope.position, event)
            }
            Event::SeasonDeclared(_)
            | Event::CapacityRevised(_)
            | Event::AllocationRequested(_)
            | Event::AllocationRequestWithdrawn(_)
            | Event::AllocationCommitted(_) => self.seasons.apply(envelope.position, event),
            _ => {}
        }
        self.tokens
            .apply(envelope.recorded_at_micros, envelope.actor_name, event);
        self.settlements.apply(envelope.position, event);
        self.accruals
            .apply(envelope.position, event, &self.programs)?;
        self.head = Some(Head {
            position: envelope.position,
            hash: envelope.hash,
            recorded_at_micros: envelope.recorded_at_micros,
        });
        Ok(())
    }

    /// Keeps the line facts in `store` from now on; it reflects the log through
    /// `stored_through` (facts at or before it are not written again).
    pub fn attach_facts(&mut self, store: Arc<LineStore>, stored_through: u64) {
        self.accruals.facts.attach(store, stored_through);
    }

    /// Writes the line facts applied since the last write to the store, which then
    /// reflects the head.
    pub fn write_facts(&mut self) -> Result<(), LedgerError> {
        let head = self.head_position();
        self.accruals.facts.write(head)
    }

    fn breakdown_mut(&mut self, account_id: &str) -> &mut sales::SalesBreakdown {
        if !self.breakdown.contains_key(account_id) {
            self.breakdown
                .insert(account_id.to_string(), sales::SalesBreakdown::default());
        }
        self.breakdown.get_mut(account_id).expect("inserted above")
    }

    fn daily_mut(&mut self, account_id: &str) -> &mut DailySales {
        if !self.daily.contains_key(account_id) {
            self.daily
                .insert(account_id.to_string(), DailySales::default());
        }
        self.daily.get_mut(account_id).expect("inserted above")
    }

    /// The per-day totals of an account (empty when it has none).
    pub fn daily(&self, account_id: &str) -> Option<&DailySales> {
        self.daily.get(account_id)
    }

    /// The last applied position (0 for an empty log).
    pub fn head_position(&self) -> u64 {
        self.recorded_at.len() as u64
    }

    /// The head: position, hash, recorded_at.
    pub fn head(&self) -> Head {
        self.head.unwrap_or(Head::EMPTY)
    }

    /// Positions of a stream's events, in order.
    pub fn stream_positions(&self, stream: &str) -> &[u64] {
        self.streams.get(stream).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Positions of all events of one type, in order.
    pub fn type_positions(&self, type_name: &str) -> &[u64] {
        self.types.get(type_name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A stream's version as of `cutoff`.
    pub fn stream_version_at(&self, stream: &str, cutoff: u64) -> u64 {
        self.stream_positions(stream)
            .partition_point(|p| *p <= cutoff) as u64
    }

    /// A digest of every read model, to compare a live server with a rebuild from the log.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        let cutoff = self.head_position();
        hasher.update(format!("head|{}|{}\n", cutoff, hash_hex(&self.head().hash)));
        for account in self.accounts.list(None, cutoff) {
            hasher.update(format!("{account:?}\n"));
            hasher.update(format!(
                "v|{}\n",
                self.stream_version_at(
                    &crate::domain::events::account_stream(&account.account_id),
                    cutoff
                )
            ));
        }
        let mut daily: Vec<_> = self.daily.iter().collect();
        daily.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (account, days) in daily {
            hasher.update(format!("d|{account}|{days:?}\n"));
        }
        for token in self.tokens.list() {
            hasher.update(format!("{token:?}\n"));
        }
        for program in self.programs.list(None, cutoff) {
            hasher.update(format!("{program:?}\n"));
        }
        let lines = self
            .incentives
            .digest_lines()
            .into_iter()
            .chain(self.settlements.digest_lines())
            .chain(self.accruals.digest_lines())
            .chain(self.contests.digest_lines())
            .chain(self.seasons.digest_lines());
        for line in lines {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        let mut streams: Vec<_> = self
            .streams
            .iter()
            .map(|(s, p)| (s.as_str(), p.len()))
            .collect();
        streams.sort_unstable();
        for (stream, count) in streams {
            hasher.update(format!("s|{stream}|{count}\n"));
        }
        hasher.update(format!(
            "recorded_at|{}|{}\n",
            self.recorded_at
                .first()
                .map(|t| format_micros(*t))
                .unwrap_or_default(),
            self.recorded_at
                .last()
                .map(|t| format_micros(*t))
                .unwrap_or_default()
        ));
        hex::encode(hasher.finalize())
    }
}
