//! Breaks a replay of a data directory into its stages and times each:
//! `cargo run --release --example replay_profile -- DIR`.

use std::time::Instant;

use kaledger::domain::{Event, LedgerState};
use kaledger::ledger::{Envelope, LogStore};
use kaledger::projections::ReadModel;

fn main() {
    let dir = std::env::args().nth(1).expect("usage: replay_profile DIR");
    let t = Instant::now();
    let store = LogStore::open(std::path::Path::new(&dir)).expect("open");
    println!(
        "open:                 {:>8.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let n = store.iter_from(1).map(|r| r.expect("read").1.len()).count();
    println!(
        "iterate {n} entries:  {:>8.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut bytes = 0usize;
    let mut payload = 0usize;
    for item in store.iter_from(1) {
        let (_, b) = item.expect("read");
        bytes += b.len();
        payload += Envelope::open(&b).expect("envelope").payload.len();
    }
    println!(
        "+ open envelopes:     {:>8.0} ms  ({bytes} envelope bytes, {payload} payload bytes)",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut events = Vec::with_capacity(n);
    for item in store.iter_from(1) {
        let (_, b) = item.expect("read");
        let e = kaledger::ledger::envelope::EnvelopeRef::open(&b).expect("envelope");
        let ev = Event::decode(e.event_type, e.schema_version, e.payload).expect("event");
        let e = Envelope::open(&b).expect("envelope");
        events.push((e, ev));
    }
    println!(
        "+ decode events:      {:>8.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut state = LedgerState::default();
    let events2 = events.clone();
    let t = Instant::now();
    for (e, ev) in events2 {
        state.apply_owned(&e.stream, ev);
    }
    println!(
        "state.apply only:     {:>8.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut read = ReadModel::default();
    for (e, ev) in &events {
        read.apply(&kaledger::projections::EventMeta::from(e), ev);
    }
    println!(
        "read.apply only:      {:>8.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}
