//! Arbitrary bytes into every decoder of stored bytes: the owned and borrowed envelope
//! decoders, the chain-hash check, the chunk framing, and each event type's payload
//! decoder. Each must return an error on bad input, never panic; where both envelope
//! decoders accept the bytes they must agree, and a decoded payload must round-trip.

#![no_main]

use kaledger::domain::events::{Event, EVENT_TYPES};
use kaledger::ledger::envelope::{Envelope, EnvelopeRef, GENESIS_HASH};
use kaledger::ledger::store::chunk_entries;
use libfuzzer_sys::fuzz_target;

fn envelope(bytes: &[u8]) {
    let owned = Envelope::open(bytes);
    let borrowed = EnvelopeRef::open(bytes);
    match (&owned, &borrowed) {
        (Ok(o), Ok(b)) => {
            assert_eq!(
                (
                    o.event_type.as_str(),
                    o.schema_version,
                    o.position,
                    o.stream.as_str()
                ),
                (b.event_type, b.schema_version, b.position, b.stream)
            );
            assert_eq!(
                (
                    o.recorded_at_micros,
                    o.actor.name.as_str(),
                    o.payload.as_slice(),
                    o.prev_hash,
                    o.hash
                ),
                (
                    b.recorded_at_micros,
                    b.actor_name,
                    b.payload,
                    b.prev_hash,
                    b.hash
                )
            );
            let _ = o.recorded_at_rfc3339();
            // What replay does next with a decoded envelope.
            if let Ok(event) = Event::decode(b.event_type, b.schema_version, b.payload) {
                let _ = event.stream();
                let _ = event.payload_json();
            }
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "the envelope decoders disagree: owned {:?}, borrowed {:?}",
            owned.as_ref().map(|_| "ok"),
            borrowed.as_ref().map(|_| "ok")
        ),
    }
    let _ = Envelope::hash_matches(bytes, &GENESIS_HASH, 1);
}

fuzz_target!(|data: &[u8]| {
    envelope(data);
    if let Ok(entries) = chunk_entries(1, data) {
        for (_, bytes) in &entries {
            envelope(bytes);
        }
    }
    for type_name in EVENT_TYPES {
        for version in [1u16, 2] {
            if let Ok(event) = Event::decode(type_name, version, data) {
                assert_eq!(event.type_name(), *type_name);
                let _ = event.stream();
                let _ = event.payload_json();
                let again = Event::decode(type_name, version, &event.encode_payload())
                    .expect("a decoded payload re-encodes to a decodable one");
                assert_eq!(again, event, "payload round trip");
            }
        }
    }
});
