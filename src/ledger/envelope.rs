//! The frozen, versioned envelope around every event, and the hash chain.
//!
//! Stored form, format 1: `[0x01] ‖ bincode(EnvelopeBodyV1) ‖ hash[32]`, where
//! `hash = SHA-256(prev_hash ‖ position (u64 BE) ‖ bytes before the hash)`.
//! The golden-bytes test in tests/it pins this layout: never change it, add a format 2.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::codec::{self, CodecError};

/// The format byte of the only envelope layout so far.
pub const FORMAT_V1: u8 = 1;
/// Bytes of a SHA-256 digest.
pub const HASH_BYTES: usize = 32;
/// The `prev_hash` of position 1.
pub const GENESIS_HASH: [u8; HASH_BYTES] = [0; HASH_BYTES];

/// Who caused an event: the token's name and role (or `cli`/`admin` for offline commands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub name: String,
    pub role: String,
}

/// Format-1 body, in field order. Frozen.
#[derive(Serialize, Deserialize)]
struct EnvelopeBodyV1 {
    event_type: String,
    schema_version: u16,
    position: u64,
    stream: String,
    stream_version: u64,
    event_id: [u8; 16],
    recorded_at_micros: i64,
    actor_name: String,
    actor_role: String,
    idempotency_key: Option<String>,
    request_id: String,
    payload: Vec<u8>,
    prev_hash: [u8; HASH_BYTES],
}

/// Format-1 body written from borrowed fields: serializes to the same bytes as
/// [`EnvelopeBodyV1`] (a `&str` as a `String`, the payload's bytes as its `Vec<u8>`).
#[derive(Serialize)]
struct EnvelopeBodyV1Out<'a> {
    event_type: &'a str,
    schema_version: u16,
    position: u64,
    stream: &'a str,
    stream_version: u64,
    event_id: [u8; 16],
    recorded_at_micros: i64,
    actor_name: &'a str,
    actor_role: &'a str,
    idempotency_key: Option<&'a str>,
    request_id: &'a str,
    payload: PayloadBytes<'a>,
    prev_hash: [u8; HASH_BYTES],
}

impl EnvelopeBodyV1Out<'_> {
    /// Bytes the stored envelope takes at most: the variable parts plus a bound on the
    /// fixed ones (format byte, varint integers and lengths, id, hashes).
    fn size_hint(&self) -> usize {
        const FIXED_MAX: usize = 1 + 3 + 9 + 9 + 16 + 9 + 1 + 7 * 9 + 2 * HASH_BYTES;
        FIXED_MAX
            + self.event_type.len()
            + self.stream.len()
            + self.actor_name.len()
            + self.actor_role.len()
            + self.idempotency_key.map_or(0, str::len)
            + self.request_id.len()
            + self.payload.0.len()
    }
}

/// A payload serialized as one byte string. bincode writes a byte string exactly as it
/// writes a `Vec<u8>` (the length, then the bytes), without a call per byte.
struct PayloadBytes<'a>(&'a [u8]);

impl Serialize for PayloadBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Format-1 body read in place: the same layout as [`EnvelopeBodyV1`], borrowing its
/// strings and payload from the stored bytes (replay reads a million of them).
#[derive(Deserialize)]
struct EnvelopeBodyV1Ref<'a> {
    #[serde(borrow)]
    event_type: &'a str,
    schema_version: u16,
    position: u64,
    #[serde(borrow)]
    stream: &'a str,
    stream_version: u64,
    event_id: [u8; 16],
    recorded_at_micros: i64,
    #[serde(borrow)]
    actor_name: &'a str,
    #[serde(borrow)]
    actor_role: &'a str,
    #[serde(borrow)]
    idempotency_key: Option<&'a str>,
    #[serde(borrow)]
    request_id: &'a str,
    #[serde(borrow)]
    payload: &'a [u8],
    prev_hash: [u8; HASH_BYTES],
}

/// The parts of a stored envelope that replay needs, borrowed from the stored bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvelopeRef<'a> {
    pub event_type: &'a str,
    pub schema_version: u16,
    pub position: u64,
    pub stream: &'a str,
    pub recorded_at_micros: i64,
    pub actor_name: &'a str,
    pub payload: &'a [u8],
    pub prev_hash: [u8; HASH_BYTES],
    pub hash: [u8; HASH_BYTES],
}

impl<'a> EnvelopeRef<'a> {
    /// Decodes stored bytes without copying; like [`Envelope::open`] it does not check the hash.
    pub fn open(bytes: &'a [u8]) -> Result<EnvelopeRef<'a>, CodecError> {
        if bytes.len() < 1 + HASH_BYTES {
            return Err(CodecError::Truncated(bytes.len()));
        }
        if bytes[0] != FORMAT_V1 {
            return Err(CodecError::UnknownFormat(bytes[0]));
        }
        let body_end = bytes.len() - HASH_BYTES;
        let body: EnvelopeBodyV1Ref<'a> = codec::decode_borrowed(&bytes[1..body_end])?;
        let mut hash = [0u8; HASH_BYTES];
        hash.copy_from_slice(&bytes[body_end..]);
        let _ = (
            body.stream_version,
            body.event_id,
            body.actor_role,
            body.idempotency_key,
            body.request_id,
        );
        Ok(EnvelopeRef {
            event_type: body.event_type,
            schema_version: body.schema_version,
            position: body.position,
            stream: body.stream,
            recorded_at_micros: body.recorded_at_micros,
            actor_name: body.actor_name,
            payload: body.payload,
            prev_hash: body.prev_hash,
            hash,
        })
    }
}

/// One stored event with its metadata and chain links.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub event_type: String,
    pub schema_version: u16,
    pub position: u64,
    pub stream: String,
    pub stream_version: u64,
    pub event_id: uuid::Uuid,
    /// Microseconds since the Unix epoch, UTC; strictly increasing along the log.
    pub recorded_at_micros: i64,
    pub actor: Actor,
    pub idempotency_key: Option<String>,
    pub request_id: String,
    pub payload: Vec<u8>,
    pub prev_hash: [u8; HASH_BYTES],
    pub hash: [u8; HASH_BYTES],
}

/// The chain hash of an envelope's bytes (without the hash itself).
pub fn chain_hash(prev_hash: &[u8; HASH_BYTES], position: u64, body: &[u8]) -> [u8; HASH_BYTES] {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(position.to_be_bytes());
    hasher.update(body);
    hasher.finalize().into()
}

/// The fields of an envelope to seal, borrowed from where the writer has them (the
/// request's metadata, the event's names): seals to the same bytes as the [`Envelope`]
/// holding these fields, without copying them into one first.
#[derive(Debug, Clone, Copy)]
pub struct Sealing<'a> {
    pub event_type: &'a str,
    pub schema_version: u16,
    pub position: u64,
    pub stream: &'a str,
    pub stream_version: u64,
    pub event_id: uuid::Uuid,
    pub recorded_at_micros: i64,
    pub actor: &'a Actor,
    pub idempotency_key: Option<&'a str>,
    pub request_id: &'a str,
    pub payload: &'a [u8],
    pub prev_hash: [u8; HASH_BYTES],
}

impl Sealing<'_> {
    /// The stored bytes and the chain hash they end with. The body is serialized from the
    /// borrowed fields straight after the format byte, in the one buffer that is hashed and
    /// returned (no copies of the strings or the payload).
    pub fn seal(&self) -> (Vec<u8>, [u8; HASH_BYTES]) {
        let body = EnvelopeBodyV1Out {
            event_type: self.event_type,
            schema_version: self.schema_version,
            position: self.position,
            stream: self.stream,
            stream_version: self.stream_version,
            event_id: *self.event_id.as_bytes(),
            recorded_at_micros: self.recorded_at_micros,
            actor_name: &self.actor.name,
            actor_role: &self.actor.role,
            idempotency_key: self.idempotency_key,
            request_id: self.request_id,
            payload: PayloadBytes(self.payload),
            prev_hash: self.prev_hash,
        };
        let mut bytes = Vec::with_capacity(body.size_hint());
        bytes.push(FORMAT_V1);
        codec::encode_into(&mut bytes, &body);
        let hash = chain_hash(&self.prev_hash, self.position, &bytes);
        bytes.extend_from_slice(&hash);
        (bytes, hash)
    }
}

impl Envelope {
    /// Encodes the envelope, computing and filling in its hash; returns the stored bytes
    /// (see [`Sealing::seal`]).
    pub fn seal(&mut self) -> Vec<u8> {
        let (bytes, hash) = Sealing {
            event_type: &self.event_type,
            schema_version: self.schema_version,
            position: self.position,
            stream: &self.stream,
            stream_version: self.stream_version,
            event_id: self.event_id,
            recorded_at_micros: self.recorded_at_micros,
            actor: &self.actor,
            idempotency_key: self.idempotency_key.as_deref(),
            request_id: &self.request_id,
            payload: &self.payload,
            prev_hash: self.prev_hash,
        }
        .seal();
        self.hash = hash;
        bytes
    }

    /// Decodes stored bytes. It does not check the hash: that is [`Envelope::hash_matches`].
    pub fn open(bytes: &[u8]) -> Result<Envelope, CodecError> {
        if bytes.len() < 1 + HASH_BYTES {
            return Err(CodecError::Truncated(bytes.len()));
        }
        if bytes[0] != FORMAT_V1 {
            return Err(CodecError::UnknownFormat(bytes[0]));
        }
        let body_end = bytes.len() - HASH_BYTES;
        let body: EnvelopeBodyV1 = codec::decode(&bytes[1..body_end])?;
        let mut hash = [0u8; HASH_BYTES];
        hash.copy_from_slice(&bytes[body_end..]);
        Ok(Envelope {
            event_type: body.event_type,
            schema_version: body.schema_version,
            position: body.position,
            stream: body.stream,
            stream_version: body.stream_version,
            event_id: uuid::Uuid::from_bytes(body.event_id),
            recorded_at_micros: body.recorded_at_micros,
            actor: Actor {
                name: body.actor_name,
                role: body.actor_role,
            },
            idempotency_key: body.idempotency_key,
            request_id: body.request_id,
            payload: body.payload,
            prev_hash: body.prev_hash,
            hash,
        })
    }

    /// True when the stored hash equals the one recomputed from the stored bytes.
    pub fn hash_matches(stored: &[u8], prev_hash: &[u8; HASH_BYTES], position: u64) -> bool {
        if stored.len() < 1 + HASH_BYTES {
            return false;
        }
        let body_end = stored.len() - HASH_BYTES;
        chain_hash(prev_hash, position, &stored[..body_end])[..] == stored[body_end..]
    }

    /// `recorded_at` as RFC 3339 with microseconds, e.g. `2026-05-01T08:00:00.123456Z`.
    pub fn recorded_at_rfc3339(&self) -> String {
        format_micros(self.recorded_at_micros)
    }
}

/// Renders microseconds since the epoch as RFC 3339 UTC with six decimals.
pub fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| micros.to_string())
}

/// Lowercase hex of a hash.
pub fn hash_hex(hash: &[u8; HASH_BYTES]) -> String {
    hex::encode(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope as the owned format-1 body encodes it.
    fn sealed_from_owned(envelope: &Envelope) -> Vec<u8> {
        let body = EnvelopeBodyV1 {
            event_type: envelope.event_type.clone(),
            schema_version: envelope.schema_version,
            position: envelope.position,
            stream: envelope.stream.clone(),
            stream_version: envelope.stream_version,
            event_id: *envelope.event_id.as_bytes(),
            recorded_at_micros: envelope.recorded_at_micros,
            actor_name: envelope.actor.name.clone(),
            actor_role: envelope.actor.role.clone(),
            idempotency_key: envelope.idempotency_key.clone(),
            request_id: envelope.request_id.clone(),
            payload: envelope.payload.clone(),
            prev_hash: envelope.prev_hash,
        };
        let mut bytes = vec![FORMAT_V1];
        bytes.extend_from_slice(&codec::encode(&body));
        let hash = chain_hash(&envelope.prev_hash, envelope.position, &bytes);
        bytes.extend_from_slice(&hash);
        bytes
    }

    #[test]
    fn seal_writes_the_bytes_of_the_owned_body() {
        // Proves the borrowed body encodes exactly like `EnvelopeBodyV1`, with and without
        // an idempotency key, and for payloads whose length takes one or several bytes.
        for (key, payload_len) in [
            (None, 0),
            (Some("k-1"), 250),
            (None, 251),
            (Some(""), 70_000),
        ] {
            let mut envelope = Envelope {
                event_type: "SaleRecorded".into(),
                schema_version: 1,
                position: 300_000,
                stream: "account/KA-1".into(),
                stream_version: 65_536,
                event_id: uuid::Uuid::from_u128(7),
                recorded_at_micros: 1_777_622_400_123_456,
                actor: Actor {
                    name: "erp-feed".into(),
                    role: "ingest".into(),
                },
                idempotency_key: key.map(str::to_string),
                request_id: "req-1".into(),
                payload: (0..payload_len).map(|i| (i % 251) as u8).collect(),
                prev_hash: [9; HASH_BYTES],
                hash: [0; HASH_BYTES],
            };
            let expected = sealed_from_owned(&envelope);
            assert_eq!(envelope.seal(), expected);
            assert_eq!(envelope.hash[..], expected[expected.len() - HASH_BYTES..]);
        }
    }
}
