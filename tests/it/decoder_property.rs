//! Property tests of the stored-bytes decoders (the fast, stable-toolchain companion of
//! `fuzz/fuzz_targets/envelope.rs`): random bytes and randomly corrupted real envelopes,
//! chunks and payloads go through `Envelope::open`, `EnvelopeRef::open`, `chunk_entries`
//! and `Event::decode` for every type name. They must answer errors, never panic; the owned
//! and borrowed envelope decoders must agree; a corrupted envelope must never pass the
//! chain-hash check; a payload that decodes must round-trip.

use kaledger::domain::events::{Event, EVENT_TYPES};
use kaledger::ledger::envelope::{Envelope, EnvelopeRef, GENESIS_HASH};
use kaledger::ledger::store::chunk_entries;
use proptest::prelude::*;

use crate::envelope_golden::{sample_envelope, samples};

/// Cases per property: a few thousand decodes of each kind in well under a second.
const CASES: u32 = 1500;

/// Every decoder on `bytes`; panics only on a broken property.
fn decode_everything(bytes: &[u8]) {
    let owned = Envelope::open(bytes);
    let borrowed = EnvelopeRef::open(bytes);
    match (&owned, &borrowed) {
        (Ok(o), Ok(b)) => {
            assert_eq!(
                (
                    o.event_type.as_str(),
                    o.position,
                    o.stream.as_str(),
                    o.payload.as_slice(),
                    o.hash
                ),
                (b.event_type, b.position, b.stream, b.payload, b.hash)
            );
            if let Ok(event) = Event::decode(b.event_type, b.schema_version, b.payload) {
                let _ = event.payload_json();
            }
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "owned and borrowed envelope decoders disagree on {}",
            hex::encode(bytes)
        ),
    }
    if let Ok(entries) = chunk_entries(7, bytes) {
        for (_, entry) in &entries {
            let _ = Envelope::open(entry);
            let _ = EnvelopeRef::open(entry);
        }
    }
    for type_name in EVENT_TYPES {
        if let Ok(event) = Event::decode(type_name, 1, bytes) {
            let again = Event::decode(type_name, 1, &event.encode_payload())
                .expect("re-encoded payload decodes");
            assert_eq!(again, event);
            let _ = event.payload_json();
        }
        assert!(Event::decode(type_name, 2, bytes).is_err());
    }
}

/// A sealed sample envelope (a sale, position 41).
fn sealed() -> Vec<u8> {
    sample_envelope().seal()
}

/// Format-1 chunk of `envelopes`.
fn chunk(envelopes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![1u8];
    for e in envelopes {
        out.extend_from_slice(&(e.len() as u32).to_le_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// One corruption: flip, overwrite, insert or delete bytes at random places.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Edit::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Edit::Set(i, x)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), 1usize..9).prop_map(|(i, n)| Edit::Delete(i, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Flip(i, x) if !bytes.is_empty() => bytes[i % len] ^= x,
            Edit::Set(i, x) if !bytes.is_empty() => bytes[i % len] = *x,
            Edit::Insert(i, v) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, n) if !bytes.is_empty() => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Truncate(i) => bytes.truncate(i % len),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    // Proves arbitrary bytes never make a decoder panic.
    #[test]
    fn random_bytes_are_errors_not_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        decode_everything(&bytes);
        let mut framed = vec![1u8];
        framed.extend_from_slice(&bytes);
        decode_everything(&framed);
    }

    // Proves a corrupted envelope never panics a decoder and never passes the chain check.
    #[test]
    fn corrupted_envelopes_fail_the_chain_check(edits in prop::collection::vec(edit(), 1..4)) {
        let original = sealed();
        let mut bytes = original.clone();
        apply(&mut bytes, &edits);
        decode_everything(&bytes);
        if bytes != original {
            prop_assert!(!Envelope::hash_matches(&bytes, &GENESIS_HASH, 41));
        }
    }

    // Proves a corrupted chunk of real envelopes never panics, and that every envelope it
    // still yields either is an original one or fails the chain check.
    #[test]
    fn corrupted_chunks_never_yield_a_valid_forgery(edits in prop::collection::vec(edit(), 1..4), count in 1usize..5) {
        let original = sealed();
        let mut bytes = chunk(&vec![original.clone(); count]);
        apply(&mut bytes, &edits);
        decode_everything(&bytes);
        if let Ok(entries) = chunk_entries(41, &bytes) {
            for (_, entry) in &entries {
                prop_assert!(entry == original.as_slice() || !Envelope::hash_matches(entry, &GENESIS_HASH, 41));
            }
        }
    }

    // Proves corrupted payloads of every event type are errors or other valid events, never panics.
    #[test]
    fn corrupted_payloads_are_errors_not_panics(which in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..4)) {
        let all = samples();
        let (event, _) = &all[which.index(all.len())];
        let mut bytes = event.encode_payload();
        apply(&mut bytes, &edits);
        decode_everything(&bytes);
    }
}
