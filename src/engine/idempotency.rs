//! Idempotency: a request with an idempotency key is remembered with its answer, under
//! its actor's name, so a retry gets the same answer and a different request with the
//! same key is refused.

use serde::{Deserialize, Serialize};

use super::WriteOutcome;
use crate::ledger::envelope::Actor;

/// The idempotency record: fingerprint of the first request and its outcome.
#[derive(Serialize, Deserialize)]
pub(super) struct IdempotencyRecord {
    pub(super) fingerprint: [u8; 32],
    pub(super) outcome: WriteOutcome,
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
