//! Read models fed by events, in log order. They apply facts and never re-decide: every
//! rule lives in domain/. Everything here is rebuilt from the log at start (`replay`).

pub mod accounts;
pub mod accruals;
mod as_of;
pub mod facts;
pub mod sales;
pub mod tokens;

use crate::domain::state::FastMap;

use serde::{Deserialize, Serialize};
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
use crate::domain::events::{account_stream, ACCOUNT_STREAM_PREFIX};
use crate::ledger::envelope::{format_micros, hash_hex};
use crate::ledger::store::Head;
use crate::ledger::Envelope;
use crate::ledger::{LedgerError, LogStore};

pub use accounts::{AccountView, AccountsProjection};
pub use tokens::{TokenView, TokensProjection};

/// Everything the API reads, kept in memory and updated after each durable group.
/// Checkpoints hold all of it but what is on disk (line facts, times).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadModel {
    head: Option<Head>,
    /// recorded_at of position 1 (for the digest).
    first_recorded_at: Option<i64>,
    /// Where `known_at` times become positions (see [`Times`]).
    #[serde(skip)]
    times: Times,
    /// Positions of each stream's events other than sale and return lines (whose positions
    /// are their line facts').
    streams: FastMap<String, Vec<u64>>,
    /// Events per stream, lines included.
    stream_counts: FastMap<String, u64>,
    /// Positions of each event type but sale and return lines (found by scanning the log).
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

/// The recorded_at of every position: in memory when no log is attached (replays of a
/// backup or for tests), else read from the log itself, whose `recorded_at` strictly
/// increases, by binary search.
#[derive(Clone, Default)]
struct Times {
    /// True once the times are the log's to keep (read models of a data directory).
    in_log: bool,
    log: Option<Arc<LogStore>>,
    /// recorded_at of each position (index = position − 1) while no log is attached.
    in_memory: Vec<i64>,
}

impl std::fmt::Debug for Times {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Times")
            .field("from_log", &self.log.is_some())
            .field("in_memory", &self.in_memory.len())
            .finish()
    }
}

/// Times are equal whatever holds them: the log's are the log's.
impl PartialEq for Times {
    fn eq(&self, other: &Times) -> bool {
        self.in_log || other.in_log || self.in_memory == other.in_memory
    }
}

impl Times {
    fn push(&mut self, recorded_at_micros: i64) {
        if !self.in_log {
            self.in_memory.push(recorded_at_micros);
        }
    }

    /// The last position at or before `head` recorded at or before `t`.
    fn cutoff(&self, t: i64, head: u64) -> Result<u64, LedgerError> {
        let Some(log) = &self.log else {
            if self.in_log {
                return Err(LedgerError::Storage(
                    "known_at needs the log, which this read model was not given".to_string(),
                ));
            }
            let through = (head as usize).min(self.in_memory.len());
            return Ok(self.in_memory[..through].partition_point(|r| *r <= t) as u64);
        };
        // Invariant: positions below `low` are at or before t; those from `high` on after.
        let (mut low, mut high) = (1, head + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            if log.envelope_at(middle)?.recorded_at_micros <= t {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low - 1)
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
    /// Applies one stored event. Positions must arrive gapless and in order. Fails only
    /// when a recomputation cannot read the stored line facts.
    pub fn apply(&mut self, envelope: &EventMeta<'_>, event: &Event) -> Result<(), LedgerError> {
        assert_eq!(
            envelope.position,
            self.head_position() + 1,
            "read model positions must be gapless"
        );
        self.times.push(envelope.recorded_at_micros);
        self.first_recorded_at
            .get_or_insert(envelope.recorded_at_micros);
        match self.stream_counts.get_mut(envelope.stream) {
            Some(count) => *count += 1,
            None => {
                self.stream_counts.insert(envelope.stream.to_string(), 1);
            }
        }
        // A sale or return line's position is its line fact's; other events are listed.
        match event.line_effect() {
            Some(line) => {
                self.daily_mut(line.account_id).add_line(&line);
                self.breakdown_mut(line.account_id).add_line(&line);
            }
            None => {
                push_position(&mut self.streams, envelope.stream, envelope.position);
                push_position(&mut self.types, event.type_name(), envelope.position);
            }
        }
        self.accounts
            .apply(envelope.position, envelope.recorded_at_micros, event);
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

    /// Leaves the `recorded_at` of each position to the log (given later with
    /// [`ReadModel::attach_log`]) instead of keeping them in memory.
    pub fn keep_times_in_log(&mut self) {
        self.times = Times {
            in_log: true,
            log: self.times.log.take(),
            in_memory: Vec::new(),
        };
    }

    /// Reads `known_at` times from `log` from now on instead of keeping them.
    pub fn attach_log(&mut self, log: Arc<LogStore>) {
        self.times = Times {
            in_log: true,
            log: Some(log),
            in_memory: Vec::new(),
        };
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
        self.head.map_or(0, |h| h.position)
    }

    /// The head: position, hash, recorded_at.
    pub fn head(&self) -> Head {
        self.head.unwrap_or(Head::EMPTY)
    }

    /// Positions of a stream's events at or before `cutoff`, in order, after `after`, at
    /// most `limit` of them (an account's sales and returns are read from its line facts).
    pub fn stream_positions(
        &self,
        stream: &str,
        after: u64,
        cutoff: u64,
        limit: usize,
    ) -> Result<Vec<u64>, LedgerError> {
        let listed = self.streams.get(stream).map(Vec::as_slice).unwrap_or(&[]);
        let mut positions: Vec<u64> = listed
            .iter()
            .copied()
            .filter(|p| *p > after && *p <= cutoff)
            .collect();
        if let Some(account_id) = account_of_stream(stream) {
            let facts = self.accruals.facts.through(account_id, cutoff)?;
            positions.extend(facts.iter().map(|f| f.position).filter(|p| *p > after));
            positions.sort_unstable();
        }
        positions.truncate(limit);
        Ok(positions)
    }

    /// Positions of all events of one type, in order: None for sale and return lines,
    /// which are not listed (most of the log is lines: scan it).
    pub fn type_positions(&self, type_name: &str) -> Option<&[u64]> {
        if is_line_type(type_name) {
            return None;
        }
        Some(self.types.get(type_name).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// The version as of `cutoff` of a stream that holds no sale or return lines
    /// (programs, contests, seasons); an account's is [`ReadModel::account_version_at`].
    pub fn stream_version_at(&self, stream: &str, cutoff: u64) -> u64 {
        self.streams
            .get(stream)
            .map_or(0, |p| p.partition_point(|p| *p <= cutoff)) as u64
    }

    /// An account stream's version as of `cutoff`: its other events and its lines.
    pub fn account_version_at(&self, account_id: &str, cutoff: u64) -> Result<u64, LedgerError> {
        let stream = account_stream(account_id);
        if cutoff >= self.head_position() {
            return Ok(self.stream_counts.get(&stream).copied().unwrap_or(0));
        }
        let lines = self.accruals.facts.count_through(account_id, cutoff)?;
        Ok(self.stream_version_at(&stream, cutoff) + lines.total())
    }

    /// The account as known at `cutoff`, with its sale and return lines then.
    pub fn account_at(
        &self,
        account_id: &str,
        cutoff: u64,
    ) -> Result<Option<AccountView>, LedgerError> {
        match self.accounts.described(account_id, cutoff) {
            Some(view) => self.with_lines(view, cutoff).map(Some),
            None => Ok(None),
        }
    }

    /// `view` (an account as described at `cutoff`) with its sale and return lines then:
    /// counted in memory at the head, read from one stored run of line facts before it.
    pub fn with_lines(
        &self,
        mut view: AccountView,
        cutoff: u64,
    ) -> Result<AccountView, LedgerError> {
        let facts = &self.accruals.facts;
        let counts = if cutoff >= self.head_position() {
            facts.count(&view.account_id)
        } else {
            facts.count_through(&view.account_id, cutoff)?
        };
        view.sale_lines = counts.sales;
        view.return_lines = counts.returns;
        Ok(view)
    }

    /// A digest of every read model, to compare a live server with a rebuild from the log.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        let cutoff = self.head_position();
        hasher.update(format!("head|{}|{}\n", cutoff, hash_hex(&self.head().hash)));
        for account in self.accounts.list_described(None, cutoff) {
            let counts = self.accruals.facts.count(&account.account_id);
            hasher.update(format!("{account:?}|{}|{}\n", counts.sales, counts.returns));
            hasher.update(format!(
                "v|{}\n",
                self.stream_counts
                    .get(&account_stream(&account.account_id))
                    .copied()
                    .unwrap_or(0)
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
            .stream_counts
            .iter()
            .map(|(s, count)| (s.as_str(), *count))
            .collect();
        streams.sort_unstable();
        for (stream, count) in streams {
            hasher.update(format!("s|{stream}|{count}\n"));
        }
        hasher.update(format!(
            "recorded_at|{}|{}\n",
            self.first_recorded_at
                .map(format_micros)
                .unwrap_or_default(),
            self.head
                .map(|h| format_micros(h.recorded_at_micros))
                .unwrap_or_default()
        ));
        hex::encode(hasher.finalize())
    }
}

/// The account whose stream `stream` is, when it is an account's.
fn account_of_stream(stream: &str) -> Option<&str> {
    stream.strip_prefix(ACCOUNT_STREAM_PREFIX)
}

/// True for the event types of sale and return lines.
fn is_line_type(type_name: &str) -> bool {
    matches!(type_name, "SaleRecorded" | "SaleReturned")
}
