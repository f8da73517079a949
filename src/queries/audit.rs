//! The audit log's output forms: one stored event as the audit trail shows it (also the
//! line of `kaledger export`), and the outcome of recomputing the hash chain (the answer
//! of `GET /v1/audit/verify` and of `kaledger verify`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::QueryError;
use crate::domain::Event;
use crate::ledger::envelope::hash_hex;
use crate::ledger::{Envelope, VerifyReport};
use crate::projections::ReadModel;

/// One stored event as the audit trail shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub position: u64,
    pub stream: String,
    pub version: u64,
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub schema_version: u16,
    pub recorded_at: String,
    pub actor: String,
    pub actor_role: String,
    pub idempotency_key: Option<String>,
    pub request_id: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// The audit form of an envelope (also the line format of `kaledger export`).
    pub fn from_envelope(envelope: &Envelope) -> AuditEvent {
        let data = Event::decode(
            &envelope.event_type,
            envelope.schema_version,
            &envelope.payload,
        )
        .map(|e| e.payload_json())
        .unwrap_or(serde_json::Value::Null);
        AuditEvent {
            position: envelope.position,
            stream: envelope.stream.clone(),
            version: envelope.stream_version,
            event_id: envelope.event_id.to_string(),
            event_type: envelope.event_type.clone(),
            schema_version: envelope.schema_version,
            recorded_at: envelope.recorded_at_rfc3339(),
            actor: envelope.actor.name.clone(),
            actor_role: envelope.actor.role.clone(),
            idempotency_key: envelope.idempotency_key.clone(),
            request_id: envelope.request_id.clone(),
            data,
            prev_hash: hash_hex(&envelope.prev_hash),
            hash: hash_hex(&envelope.hash),
        }
    }
}

/// Outcome of recomputing the hash chain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    pub ok: bool,
    pub verified_through: u64,
    pub head_hash: Option<String>,
    pub first_bad_position: Option<u64>,
    pub reason: Option<String>,
}

impl From<VerifyReport> for VerifyResponse {
    fn from(report: VerifyReport) -> Self {
        match report {
            VerifyReport::Ok {
                verified_through,
                head_hash,
            } => VerifyResponse {
                ok: true,
                verified_through,
                head_hash: Some(hash_hex(&head_hash)),
                first_bad_position: None,
                reason: None,
            },
            VerifyReport::Broken {
                first_bad_position,
                reason,
                verified_through,
            } => VerifyResponse {
                ok: false,
                verified_through,
                head_hash: None,
                first_bad_position: Some(first_bad_position),
                reason: Some(reason),
            },
        }
    }
}

/// Which events an audit page lists.
#[derive(Debug, Default)]
pub struct EventFilter<'a> {
    pub stream: Option<&'a str>,
    pub event_type: Option<&'a str>,
    /// Positions after this one.
    pub after: u64,
}

/// The positions an audit page may read, in log order, as known at `cutoff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidates {
    /// These positions (at most `limit + 1`, except with both a stream and a type, where
    /// every position of the stream is listed and the type is checked on each envelope).
    Listed(Vec<u64>),
    /// Every position after `after` through `through`, each envelope read and checked
    /// against the filter: sale and return lines, most of the log, are not listed.
    Scan { after: u64, through: u64 },
}

impl Candidates {
    /// The positions, in order.
    pub fn positions(self) -> Box<dyn Iterator<Item = u64> + Send> {
        match self {
            Candidates::Listed(positions) => Box::new(positions.into_iter()),
            Candidates::Scan { after, through } => Box::new(after.saturating_add(1)..=through),
        }
    }
}

/// The positions an audit page reads (see [`Candidates`]).
pub fn event_positions(
    read: &ReadModel,
    filter: &EventFilter<'_>,
    cutoff: u64,
    limit: usize,
) -> Result<Candidates, QueryError> {
    let after = filter.after;
    let page = limit.saturating_add(1);
    Ok(match (filter.stream, filter.event_type) {
        (Some(stream), Some(_)) => {
            Candidates::Listed(read.stream_positions(stream, after, cutoff, usize::MAX)?)
        }
        (Some(stream), None) => {
            Candidates::Listed(read.stream_positions(stream, after, cutoff, page)?)
        }
        (None, Some(t)) => match read.type_positions(t) {
            Some(listed) => Candidates::Listed(
                listed
                    .iter()
                    .copied()
                    .filter(|p| *p > after && *p <= cutoff)
                    .take(page)
                    .collect(),
            ),
            None => Candidates::Scan {
                after,
                through: cutoff,
            },
        },
        (None, None) => Candidates::Scan {
            after,
            through: cutoff,
        },
    })
}
