//! Idempotency: a request with an idempotency key is remembered with its answer, under
//! its actor's name, so a retry gets the same answer and a different request with the
//! same key is refused.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{EngineError, WriteOutcome};
use crate::ledger::codec;
use crate::ledger::envelope::Actor;
use crate::ledger::{LedgerError, LogStore};

/// The idempotency record: fingerprint of the first request and its outcome.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct IdempotencyRecord {
    pub(super) fingerprint: [u8; 32],
    pub(super) outcome: WriteOutcome,
}

impl IdempotencyRecord {
    /// The answer to a request that comes with this record's key: the remembered outcome,
    /// marked replayed, when it is the same request (same fingerprint); refused otherwise.
    pub(super) fn answer(
        self,
        fingerprint: &[u8; 32],
        key: &str,
    ) -> Result<WriteOutcome, EngineError> {
        if self.fingerprint == *fingerprint {
            Ok(WriteOutcome {
                replayed: true,
                ..self.outcome
            })
        } else {
            Err(EngineError::IdempotencyKeyReused(key.to_string()))
        }
    }
}

/// The key a record is stored under: the actor's name, a zero byte, the client's key
/// (two clients may choose the same key).
pub(super) fn scoped_key(actor: &Actor, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(actor.name.len() + key.len() + 1);
    k.extend_from_slice(actor.name.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The records one group remembers: written with its append, and seen before it by a
/// retry later in the same group.
#[derive(Default)]
pub(super) struct GroupKeys {
    /// (scoped key, encoded record), as the append stores them.
    pub(super) writes: Vec<(Vec<u8>, Vec<u8>)>,
    pending: HashMap<Vec<u8>, IdempotencyRecord>,
}

impl GroupKeys {
    /// The record remembered under `scoped`: this group's, else the stored one. A stored
    /// record that does not decode counts as none (the request is decided again).
    pub(super) fn earlier(
        &self,
        store: &LogStore,
        scoped: &[u8],
    ) -> Result<Option<IdempotencyRecord>, LedgerError> {
        if let Some(record) = self.pending.get(scoped) {
            return Ok(Some(record.clone()));
        }
        Ok(store
            .idempotency_get(scoped)?
            .and_then(|bytes| codec::decode::<IdempotencyRecord>(&bytes).ok()))
    }

    /// Remembers the answer to a request under its scoped key.
    pub(super) fn remember(
        &mut self,
        scoped: Vec<u8>,
        fingerprint: [u8; 32],
        outcome: WriteOutcome,
    ) {
        let record = IdempotencyRecord {
            fingerprint,
            outcome,
        };
        self.writes.push((scoped.clone(), codec::encode(&record)));
        self.pending.insert(scoped, record);
    }
}
