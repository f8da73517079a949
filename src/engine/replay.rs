//! Replay: the log read from position 1, each envelope decoded once, applied to fresh
//! decision state and read models.

use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::{Event, LedgerState};
use crate::ledger::envelope::EnvelopeRef;
use crate::ledger::store::{chunk_entries, Head};
use crate::ledger::{LedgerError, LogStore};
use crate::projections::{EventMeta, ReadModel};

/// The result of replaying the log from position 1.
pub struct Replayed {
    pub state: LedgerState,
    pub read: ReadModel,
    pub head: Head,
    pub events: u64,
    pub elapsed: Duration,
}

/// Events decoded per hand-over between the replay threads: large enough that the
/// channel costs nothing per event, small enough to keep both threads busy.
const REPLAY_BATCH_EVENTS: usize = 4096;

/// One decoded event on its way from the reading thread to the applying one.
struct DecodedEvent {
    position: u64,
    stream: String,
    recorded_at_micros: i64,
    hash: [u8; 32],
    /// Only token events keep their actor (the read models need no other).
    actor_name: String,
    event: Event,
}

/// Decoded events handed over at once, shared by both appliers.
type Batch = Arc<Vec<DecodedEvent>>;

/// Replays the whole log into fresh state and read models. Two threads: one iterates
/// sled and decodes envelopes and payloads, the other applies them in order.
pub fn replay(store: &LogStore) -> Result<Replayed, LedgerError> {
    let expected_events = usize::try_from(store.last_position()?).unwrap_or(0);
    replay_chunks(store.chunks_from(1), expected_events, u64::MAX)
}

/// [`replay`] of the positions up to `through` only: the ledger as it stood then.
pub fn replay_through(store: &LogStore, through: u64) -> Result<Replayed, LedgerError> {
    let expected_events = usize::try_from(store.last_position()?.min(through)).unwrap_or(0);
    replay_chunks(store.chunks_from(1), expected_events, through)
}

/// Decodes the event of the envelope at `position` from its type, schema version and
/// payload; one that does not decode is `Corrupt` at its position. The one decoding of
/// the log's events: replay and [`super::Engine::event_at`] both use it.
pub(super) fn decode_event(
    position: u64,
    event_type: &str,
    schema_version: u16,
    payload: &[u8],
) -> Result<Event, LedgerError> {
    Event::decode(event_type, schema_version, payload).map_err(|e| LedgerError::Corrupt {
        position,
        reason: e.to_string(),
    })
}

/// Decodes one stored envelope for replay; a bad one is `Corrupt` at its position.
fn decode_stored(position: u64, bytes: &[u8]) -> Result<DecodedEvent, LedgerError> {
    let envelope = EnvelopeRef::open(bytes).map_err(|e| LedgerError::Corrupt {
        position,
        reason: e.to_string(),
    })?;
    let event = decode_event(
        position,
        envelope.event_type,
        envelope.schema_version,
        envelope.payload,
    )?;
    // Only the token events need their actor's name in the read models (who issued it).
    let actor_name = match event {
        Event::TokenIssued(_) | Event::TokenRevoked(_) => envelope.actor_name.to_string(),
        _ => String::new(),
    };
    Ok(DecodedEvent {
        position,
        stream: envelope.stream.to_string(),
        recorded_at_micros: envelope.recorded_at_micros,
        hash: envelope.hash,
        actor_name,
        event,
    })
}

/// The reading side of replay: decodes the chunks' envelopes in position order up to
/// `through`, refusing a gap, and hands them in batches to both appliers. Stops early
/// when an applier is gone.
fn read_batches<I, B>(
    chunks: I,
    through: u64,
    state_sender: SyncSender<Batch>,
    sender: SyncSender<Batch>,
) -> Result<(), LedgerError>
where
    I: Iterator<Item = Result<(u64, B), LedgerError>>,
    B: AsRef<[u8]>,
{
    let mut batch = Vec::with_capacity(REPLAY_BATCH_EVENTS);
    let mut expected = 1;
    'chunks: for chunk in chunks {
        let (first, chunk) = chunk?;
        for (position, bytes) in &chunk_entries(first, chunk.as_ref())? {
            if position > through {
                break 'chunks;
            }
            if position != expected {
                return Err(LedgerError::Corrupt {
                    position: expected,
                    reason: format!("missing; next stored is {position}"),
                });
            }
            expected += 1;
            batch.push(decode_stored(position, bytes)?);
            if batch.len() == REPLAY_BATCH_EVENTS {
                let full = Arc::new(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(REPLAY_BATCH_EVENTS),
                ));
                if state_sender.send(full.clone()).is_err() || sender.send(full).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if !batch.is_empty() {
        let last = Arc::new(batch);
        let _ = state_sender.send(last.clone());
        let _ = sender.send(last);
    }
    Ok(())
}

/// [`replay`] of stored chunks (first position, bytes) from any source: a data directory
/// or a backup file, up to position `through`. `expected_events` only pre-sizes the state.
pub fn replay_chunks<I, B>(
    chunks: I,
    expected_events: usize,
    through: u64,
) -> Result<Replayed, LedgerError>
where
    I: Iterator<Item = Result<(u64, B), LedgerError>> + Send,
    B: AsRef<[u8]>,
{
    let started = Instant::now();
    let mut state = LedgerState::with_capacity(expected_events);
    let mut read = ReadModel::with_capacity(expected_events);
    let mut head = Head::EMPTY;
    std::thread::scope(|scope| -> Result<(), LedgerError> {
        // The reader hands each decoded batch to two appliers: the decision state and the
        // read models are independent, so they apply on their own threads.
        let (sender, receiver) = sync_channel::<Batch>(4);
        let (state_sender, state_receiver) = sync_channel::<Batch>(4);
        let state = &mut state;
        let state_applier = scope.spawn(move || {
            for batch in state_receiver {
                for decoded in batch.iter() {
                    state.apply_in_stream(&decoded.stream, &decoded.event);
                }
            }
        });
        let reader = scope.spawn(move || read_batches(chunks, through, state_sender, sender));
        for batch in receiver {
            for decoded in batch.iter() {
                let meta = EventMeta {
                    position: decoded.position,
                    stream: &decoded.stream,
                    recorded_at_micros: decoded.recorded_at_micros,
                    hash: decoded.hash,
                    actor_name: &decoded.actor_name,
                };
                read.apply(&meta, &decoded.event);
                head = Head {
                    position: decoded.position,
                    hash: decoded.hash,
                    recorded_at_micros: decoded.recorded_at_micros,
                };
            }
        }
        let read_result = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        state_applier
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        read_result
    })?;
    Ok(Replayed {
        state,
        read,
        head,
        events: head.position,
        elapsed: started.elapsed(),
    })
}
