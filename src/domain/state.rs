//! The state commands are decided against: what must be known to accept or refuse a
//! command. `apply` only records facts; every rule lives in `decide`.

pub use crate::kernel::fast::FastMap;

use chrono::Datelike;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::book::LineBook;
use super::contests::Contests;
use super::daily::DailySales;
use super::events::{Event, LineEffect, SaleRecorded, SaleReturned};
use super::incentives::Incentives;
use super::limits::SaleTotals;
use super::programs::Programs;
use super::seasons::Seasons;
use super::settlements::Settlements;
use super::vocab::{Role, Scope, Segment, Stage};

/// What the decider knows of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountFacts {
    pub name: String,
    pub scope: Scope,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
    pub currency: String,
    pub stage: Stage,
    pub closed: bool,
}

pub use super::book::{ReturnKey, ReturnedLine, SaleKey, SoldLine};

/// Interned short names (skus, categories): a million sold lines share a few hundred of
/// them, so each line keeps a u32 instead of two strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Names {
    ids: FastMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    /// The id of a name, assigning the next one on first sight.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The name of an id given by [`Names::intern`].
    pub fn name(&self, id: u32) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// What the decider knows of a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenFacts {
    pub role: Role,
    pub active: bool,
}

/// The decision state of the whole ledger. Checkpoints hold all of it but the book (the
/// records at hand while a group is decided, empty between groups).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerState {
    pub accounts: FastMap<String, AccountFacts>,
    pub stream_versions: FastMap<String, u64>,
    /// The natural-key records of sale and return lines at hand (see [`LineBook`]).
    #[serde(skip)]
    pub book: LineBook,
    pub tokens: FastMap<String, TokenFacts>,
    /// Interned sku and category names of the sold lines.
    pub names: Names,
    /// Per-day sales totals by account (for tier metrics as of any date).
    pub daily: FastMap<String, DailySales>,
    /// Tier policies, overrides and discounts (positions are not known here: all 0).
    pub incentives: Incentives,
    /// Rebate programs and enrollments (positions are not known here: all 0).
    pub programs: Programs,
    /// Rebate settlements (positions are not known here: all 0).
    pub settlements: Settlements,
    /// Sales contests (positions are not known here: all 0).
    pub contests: Contests,
    /// Peak seasons and their requests (positions are not known here: all 0).
    pub seasons: Seasons,
    /// Running totals of all recorded sale lines per currency (bounded by
    /// `limits::LEDGER_TOTAL_MAX`).
    pub sale_totals: FastMap<String, SaleTotals>,
}

/// A content digest of the fields of a line, in order, as 16 bytes (each field
/// length-prefixed, so no two field lists run together into the same input).
pub fn fingerprint_bytes(fields: &[&[u8]]) -> [u8; 16] {
    // The input is gathered in one stack buffer and hashed in one call when it fits (a
    // sale line's does): the same bytes as one update per length and per field, without
    // the hasher's per-call buffering.
    const STACK: usize = 256;
    let mut hasher = Sha256::new();
    let total: usize = fields.iter().map(|f| 8 + f.len()).sum();
    if total <= STACK {
        let mut buffer = [0u8; STACK];
        let mut at = 0;
        for field in fields {
            buffer[at..at + 8].copy_from_slice(&(field.len() as u64).to_le_bytes());
            buffer[at + 8..at + 8 + field.len()].copy_from_slice(field);
            at += 8 + field.len();
        }
        hasher.update(&buffer[..at]);
    } else {
        for field in fields {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field);
        }
    }
    let digest = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

impl LedgerState {
    /// The version of a stream: the number of events in it (0 when it has none).
    pub fn stream_version(&self, stream: &str) -> u64 {
        self.stream_versions.get(stream).copied().unwrap_or(0)
    }

    /// Records an event's facts. Called for every event, in log order, live and on replay.
    pub fn apply(&mut self, event: &Event) {
        self.apply_in_stream(&event.stream(), event);
    }

    /// Counts a recorded sale in its day's and its currency's totals; the sold line to keep
    /// under its key.
    fn record_sale(&mut self, e: &SaleRecorded) -> SoldLine {
        self.add_line(&e.line_effect());
        self.record_sale_totals(e);
        let fingerprint = sale_fingerprint(e);
        let (sku, category) = (self.names.intern(&e.sku), self.names.intern(&e.category));
        SoldLine {
            sku,
            category,
            fingerprint,
            quantity: e.quantity,
            net_amount: e.net_amount,
            cost_amount: e.cost_amount.unwrap_or(e.net_amount),
            occurred_on: e.occurred_on,
            returned_quantity: Decimal::ZERO,
            returned_net: Decimal::ZERO,
            returned_cost: Decimal::ZERO,
        }
    }

    /// Takes a return back from its sale's day and from its sold line, and keeps it to tell
    /// a repeat.
    fn record_return(&mut self, e: &SaleReturned) {
        self.add_line(&e.line_effect());
        self.book.record_return(e);
    }

    /// Adds a sale or return line to its account's daily totals.
    fn add_line(&mut self, line: &LineEffect) {
        self.daily_mut(line.account_id).add_line(line);
    }

    /// The daily totals of an account, created on first use.
    pub fn daily_mut(&mut self, account_id: &str) -> &mut DailySales {
        if !self.daily.contains_key(account_id) {
            self.daily
                .insert(account_id.to_string(), DailySales::default());
        }
        self.daily.get_mut(account_id).expect("inserted above")
    }

    /// Adds a recorded sale line to its currency's running totals.
    fn record_sale_totals(&mut self, e: &SaleRecorded) {
        let cost = e.cost_amount.unwrap_or(e.net_amount);
        match self.sale_totals.get_mut(&e.currency) {
            Some(totals) => totals.record(e.net_amount, cost, e.quantity),
            None => {
                let mut totals = SaleTotals::default();
                totals.record(e.net_amount, cost, e.quantity);
                self.sale_totals.insert(e.currency.clone(), totals);
            }
        }
    }

    fn bump_stream(&mut self, stream: &str) {
        match self.stream_versions.get_mut(stream) {
            Some(version) => *version += 1,
            None => {
                self.stream_versions.insert(stream.to_string(), 1);
            }
        }
    }

    /// [`LedgerState::apply`] when the caller already has the event's stream name.
    pub fn apply_in_stream(&mut self, stream: &str, event: &Event) {
        self.bump_stream(stream);
        match event {
            Event::AccountOpened(e) => {
                self.accounts.insert(
                    e.account_id.clone(),
                    AccountFacts {
                        name: e.name.clone(),
                        scope: e.scope,
                        segment: e.segment,
                        manager: e.manager.clone(),
                        currency: e.currency.clone(),
                        stage: e.stage,
                        closed: false,
                    },
                );
            }
            Event::AccountUpdated(e) => {
                if let Some(a) = self.accounts.get_mut(&e.account_id) {
                    a.name = e.name.clone();
                    a.scope = e.scope;
                    a.segment = e.segment;
                    a.manager = e.manager.clone();
                }
            }
            Event::RelationshipStageChanged(e) => {
                if let Some(a) = self.accounts.get_mut(&e.account_id) {
                    a.stage = e.to;
                }
            }
            Event::AccountClosed(e) => {
                if let Some(a) = self.accounts.get_mut(&e.account_id) {
                    a.closed = true;
                }
            }
            Event::SaleRecorded(e) => {
                let sold = self.record_sale(e);
                self.book
                    .record_sale(&e.account_id, &e.invoice_id, e.line, sold);
            }
            Event::SaleReturned(e) => self.record_return(e),
            Event::TierPolicyPublished(_)
            | Event::TierOverrideGranted(_)
            | Event::TierOverrideRevoked(_)
            | Event::DiscountGranted(_)
            | Event::DiscountRevoked(_) => self.incentives.apply(0, event),
            Event::RebateProgramDefined(_)
            | Event::RebateProgramEnded(_)
            | Event::AccountEnrolled(_)
            | Event::AccountUnenrolled(_) => self.programs.apply(0, event),
            Event::SettlementProposed(_)
            | Event::SettlementApproved(_)
            | Event::SettlementRejected(_) => self.settlements.apply(0, event),
            Event::ContestDefined(_) | Event::ContestClosed(_) | Event::ContestAwardPaid(_) => {
                self.contests.apply(0, event)
            }
            Event::SeasonDeclared(_)
            | Event::CapacityRevised(_)
            | Event::AllocationRequested(_)
            | Event::AllocationRequestWithdrawn(_)
            | Event::AllocationCommitted(_) => self.seasons.apply(0, event),
            Event::TokenIssued(e) => {
                self.tokens.insert(
                    e.name.clone(),
                    TokenFacts {
                        role: e.role,
                        active: true,
                    },
                );
            }
            Event::TokenRevoked(e) => {
                if let Some(t) = self.tokens.get_mut(&e.name) {
                    t.active = false;
                }
            }
        }
    }

    /// A digest of the whole state, independent of hash-map order: equal digests mean a
    /// replay produced exactly the live state.
    pub fn digest(&self) -> String {
        let mut lines: Vec<String> = self.book.digest_lines();
        for (id, a) in &self.accounts {
            lines.push(format!("a|{id}|{a:?}"));
        }
        for (s, v) in &self.stream_versions {
            lines.push(format!("s|{s}|{v}"));
        }
        for (k, v) in &self.tokens {
            lines.push(format!("t|{k}|{v:?}"));
        }
        lines.sort_unstable();
        let mut hasher = Sha256::new();
        for line in &lines {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }
}

/// The fingerprint of a recorded sale: every field but the natural key, numbers normalized
/// so that "10" and "10.00" are the same quantity (each decimal as the 16 bytes of its
/// normalized form, the date as its day number: no text is formatted per line).
pub fn sale_fingerprint(e: &SaleRecorded) -> [u8; 16] {
    let number = |d: Decimal| {
        let normalized = d.normalize();
        if normalized.is_zero() {
            Decimal::ZERO.serialize()
        } else {
            normalized.serialize()
        }
    };
    let cost = e.cost_amount.map(number);
    let day = e.occurred_on.num_days_from_ce().to_le_bytes();
    fingerprint_bytes(&[
        e.sku.as_bytes(),
        e.category.as_bytes(),
        &number(e.quantity),
        &number(e.net_amount),
        cost.as_ref().map_or(&b"-"[..], |c| &c[..]),
        e.currency.as_bytes(),
        &day,
    ])
}
