//! Every account's line facts: on disk in the derived store when one is attached (the
//! engine's read models), else in memory (replays of a backup, unit tests). Facts applied
//! since the last write wait in `pending` until the engine writes them with the position
//! they reflect ([`Facts::write`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::derived::{LineCounts, LineFact, LineStore};
use crate::domain::state::FastMap;
use crate::ledger::LedgerError;

/// Line facts by account: counts in memory, the facts themselves on disk. A checkpoint
/// holds the counts only: it is taken when nothing is pending.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facts {
    #[serde(skip)]
    store: Option<Arc<LineStore>>,
    /// Facts not yet in the store (every fact when there is no store), by account.
    #[serde(skip)]
    pending: FastMap<String, Vec<LineFact>>,
    /// Every account's sale and return lines, stored or pending.
    counts: FastMap<String, LineCounts>,
    /// The position the store reflects: facts at or before it are stored already.
    #[serde(skip)]
    stored_through: u64,
}

/// Two fact sets are equal when they hold the same number of facts per account and the
/// same pending ones (the stored ones are the log's).
impl PartialEq for Facts {
    fn eq(&self, other: &Facts) -> bool {
        self.counts == other.counts
            && (self.store.is_some() || other.store.is_some() || self.pending == other.pending)
    }
}

impl Facts {
    /// Facts kept in `store`, which reflects the log through `stored_through`.
    pub fn attach(&mut self, store: Arc<LineStore>, stored_through: u64) {
        self.store = Some(store);
        self.stored_through = stored_through;
    }

    /// Adds a fact of `account_id` (positions increasing); one the store holds already is
    /// only counted.
    pub fn push(&mut self, account_id: &str, fact: LineFact) {
        match self.counts.get_mut(account_id) {
            Some(counts) => counts.add(&fact),
            None => {
                let mut counts = LineCounts::default();
                counts.add(&fact);
                self.counts.insert(account_id.to_string(), counts);
            }
        }
        if self.store.is_some() && fact.position <= self.stored_through {
            return;
        }
        match self.pending.get_mut(account_id) {
            Some(facts) => facts.push(fact),
            None => {
                self.pending.insert(account_id.to_string(), vec![fact]);
            }
        }
    }

    /// Writes the pending facts to the store, which then reflects `position`. Without a
    /// store, nothing to do.
    pub fn write(&mut self, position: u64) -> Result<(), LedgerError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        if position <= self.stored_through {
            return Ok(());
        }
        store.append_facts(&self.pending, position)?;
        self.pending.clear();
        self.stored_through = position;
        Ok(())
    }

    /// An account's facts at or before `cutoff`, in log order.
    pub fn through(&self, account_id: &str, cutoff: u64) -> Result<Vec<LineFact>, LedgerError> {
        let mut facts = match &self.store {
            Some(store) => store.facts_through(account_id, cutoff.min(self.stored_through))?,
            None => Vec::new(),
        };
        if let Some(pending) = self.pending.get(account_id) {
            facts.extend(pending.iter().take_while(|f| f.position <= cutoff).cloned());
        }
        Ok(facts)
    }

    /// An account's sale and return lines at or before `cutoff` (one stored run read).
    pub fn count_through(&self, account_id: &str, cutoff: u64) -> Result<LineCounts, LedgerError> {
        let mut counts = match &self.store {
            Some(store) => store.fact_count_through(account_id, cutoff.min(self.stored_through))?,
            None => LineCounts::default(),
        };
        if let Some(pending) = self.pending.get(account_id) {
            pending
                .iter()
                .take_while(|f| f.position <= cutoff)
                .for_each(|fact| counts.add(fact));
        }
        Ok(counts)
    }

    /// An account's sale and return lines now (every fact applied).
    pub fn count(&self, account_id: &str) -> LineCounts {
        self.counts.get(account_id).copied().unwrap_or_default()
    }

    /// Per-account counts, for the projections digest.
    pub fn counts(&self) -> &FastMap<String, LineCounts> {
        &self.counts
    }
}
