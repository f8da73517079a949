//! The one place bincode is used (1.3.3; RUSTSEC-2025-0141 marks it unmaintained, see
//! SECURITY.md). Everything stored goes through `encode`/`decode` (the log) and
//! `encode_checkpoint_into`/`decode_checkpoint_from` (checkpoints of the in-memory state,
//! streamed), so replacing bincode is a change to this file plus golden-bytes tests.
//!
//! The options are pinned: variable-length little-endian integers (lengths of strings
//! mostly take one byte), no trailing bytes, and a decode limit so corrupt length prefixes cannot allocate wildly.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Largest value we ever decode; a stored event is far smaller, so anything bigger is corrupt.
pub const DECODE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Largest event payload the domain may record: half the decode limit, so an envelope
/// around it always decodes again. Only whole-plan events come near it (a committed season
/// plan of 2,000 accounts × 50 skus is ~5 MB); the writer refuses a command with a bigger one.
pub const PAYLOAD_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Why stored bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CodecError {
    #[error("malformed bytes: {0}")]
    Malformed(String),
    #[error("unknown envelope format byte {0}")]
    UnknownFormat(u8),
    #[error("envelope too short ({0} bytes)")]
    Truncated(usize),
    #[error("unknown event type {type_name} version {schema_version}")]
    UnknownEvent {
        type_name: String,
        schema_version: u16,
    },
}

fn options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .reject_trailing_bytes()
}

/// Encodes a value in the frozen storage form.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our stored types are plain structs of strings, integers and byte arrays: serializing
    // them into a Vec cannot fail, so a failure here is our bug.
    options()
        .serialize(value)
        .expect("storage types always serialize")
}

/// Appends a value in the frozen storage form to `buf` (the same bytes as [`encode`]).
pub fn encode_into<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    // As in `encode`: writing plain storage types into a Vec cannot fail.
    options()
        .serialize_into(buf, value)
        .expect("storage types always serialize")
}

/// Decodes a value that borrows strings and bytes from `bytes` (no copies).
pub fn decode_borrowed<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, CodecError> {
    options()
        .with_limit(DECODE_BYTES_MAX)
        .deserialize(bytes)
        .map_err(|e| CodecError::Malformed(e.to_string()))
}

/// Decodes a value stored by [`encode`]; corrupt input gives an error, never a panic.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    options()
        .with_limit(DECODE_BYTES_MAX)
        .deserialize(bytes)
        .map_err(|e| CodecError::Malformed(e.to_string()))
}

/// Encodes a checkpoint payload (the in-memory state) into `out`, in the same options as
/// [`encode`]. Fails only when `out` does (the state is maps and vectors of the same plain
/// values as events).
pub fn encode_checkpoint_into<T: Serialize>(
    out: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    options().serialize_into(out, value).map_err(|e| match *e {
        bincode::ErrorKind::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    })
}

/// Decodes a payload written by [`encode_checkpoint_into`] as it streams from `input`, of
/// `length` bytes. A checkpoint of a large ledger is far bigger than [`DECODE_BYTES_MAX`],
/// so the only limit is the input itself: a corrupt length prefix can claim no more than
/// the bytes that are there.
pub fn decode_checkpoint_from<T: DeserializeOwned>(
    input: &mut dyn std::io::Read,
    length: u64,
) -> Result<T, CodecError> {
    options()
        .with_limit(length)
        .deserialize_from(input)
        .map_err(|e| CodecError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_payload_round_trips_and_a_lying_length_is_refused() {
        // Proves checkpoint payloads have no fixed size limit, yet a length prefix that
        // claims more than the input gives an error instead of an allocation.
        let big = vec![7u8; (DECODE_BYTES_MAX as usize) + 10];
        let mut bytes = Vec::new();
        encode_checkpoint_into(&mut bytes, &(1u64, big.clone())).unwrap();
        let decode = |bytes: &[u8]| -> Result<(u64, Vec<u8>), CodecError> {
            decode_checkpoint_from(&mut &bytes[..], bytes.len() as u64)
        };
        assert_eq!(decode(&bytes), Ok((1, big)));
        let mut lying = Vec::new();
        encode_checkpoint_into(&mut lying, &(1u64, u64::MAX)).unwrap();
        assert!(decode(&lying).is_err());
        assert!(decode(&bytes[..3]).is_err());
    }
}
