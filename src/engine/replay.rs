//! Replay: the log read from position 1, each envelope decoded once, applied to fresh
//! decision state and read models.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checkpoint::{self, Start};
use crate::derived::LineStore;
use crate::domain::book::{LineBook, Needs};
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
    /// Events replayed (after the checkpoint, when one was loaded).
    pub events: u64,
    /// The position of the checkpoint the replay started from (0: the log's start).
    pub checkpoint: u64,
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

/// Where replayed line records and facts go: kept in memory (a backup's replay, tests),
/// or written to derived stores on disk, which are caught up from the marks they hold.
#[derive(Clone)]
pub enum LineHome {
    Memory,
    Store(Arc<LineStore>),
}

impl LineHome {
    /// The data directory's own derived stores (`<data>/derived`), emptied first when they
    /// claim positions past the end of the log (a log restored or cut behind them).
    pub fn of_data_dir(store: &LogStore) -> Result<LineHome, LedgerError> {
        let dir = store.path().join(DERIVED_DIR);
        let mut derived = LineStore::open(&dir)?;
        let marks = derived.marks()?;
        let head = store.last_position()?;
        if marks.records > head || marks.facts > head {
            tracing::warn!(
                records = marks.records,
                facts = marks.facts,
                head,
                "derived stores are ahead of the log; rebuilding them"
            );
            drop(derived);
            derived = LineStore::open_empty(&dir)?;
        }
        Ok(LineHome::Store(Arc::new(derived)))
    }

    /// Fresh derived stores in a temporary directory under `parent`, removed when the
    /// last handle is dropped (a rebuild that must not trust the data directory's own).
    pub fn temporary(parent: &Path) -> Result<LineHome, LedgerError> {
        Ok(LineHome::Store(Arc::new(LineStore::temporary(parent)?)))
    }
}

/// The derived stores' folder inside a data directory.
pub const DERIVED_DIR: &str = "derived";

/// Replays the whole log into fresh state and read models, catching up `home`.
pub fn replay(store: &LogStore, home: &LineHome) -> Result<Replayed, LedgerError> {
    replay_chunks(store.chunks_from(1), home, u64::MAX)
}

/// [`replay`] of the positions up to `through` only: the ledger as it stood then (`home`
/// must not be the data directory's own stores, which reflect the whole log).
pub fn replay_through(
    store: &LogStore,
    home: &LineHome,
    through: u64,
) -> Result<Replayed, LedgerError> {
    replay_chunks(store.chunks_from(1), home, through)
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
    mut expected: u64,
    through: u64,
    state_sender: SyncSender<Batch>,
    sender: SyncSender<Batch>,
) -> Result<(), LedgerError>
where
    I: Iterator<Item = Result<(u64, B), LedgerError>>,
    B: AsRef<[u8]>,
{
    let mut batch = Vec::with_capacity(REPLAY_BATCH_EVENTS);
    'chunks: for chunk in chunks {
        let (first, chunk) = chunk?;
        for (position, bytes) in &chunk_entries(first, chunk.as_ref())? {
            if position > through {
                break 'chunks;
            }
            if position < expected {
                // The first chunk may begin before a checkpoint's position.
                continue;
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

/// Events applied between two writes of the derived stores during replay: bounds the
/// records and facts waiting in memory.
const REPLAY_WRITE_EVENTS: u64 = 65_536;

/// The decision state's side of a replay into derived stores: records at or before the
/// store's mark are there already; later ones are loaded before their events apply and
/// written after.
struct RecordSync {
    store: Arc<LineStore>,
    through: u64,
}

impl RecordSync {
    /// Applies a batch of events to `state`, keeping the store's natural-key records.
    fn apply(
        &mut self,
        state: &mut LedgerState,
        batch: &[DecodedEvent],
    ) -> Result<(), LedgerError> {
        let split = batch.partition_point(|d| d.position <= self.through);
        let (known, new) = batch.split_at(split);
        for decoded in known {
            state.apply_in_stream(&decoded.stream, &decoded.event);
        }
        // Records of events the store holds already: dropped, never written twice.
        let _ = state.book.take_changes();
        let Some(last) = new.last() else {
            return Ok(());
        };
        let mut needs = Needs::default();
        for decoded in new {
            match &decoded.event {
                Event::SaleRecorded(e) => needs.add_sale(e),
                Event::SaleReturned(e) => needs.add_return(e),
                _ => {}
            }
        }
        self.store.load(&mut state.book, &needs)?;
        for decoded in new {
            state.apply_in_stream(&decoded.stream, &decoded.event);
        }
        self.store
            .write_records(&state.book.take_changes(), last.position)?;
        self.through = last.position;
        Ok(())
    }
}

/// Applies decoded batches to the decision state, in order.
fn apply_state(
    state: &mut LedgerState,
    home: &LineHome,
    batches: Receiver<Batch>,
) -> Result<(), LedgerError> {
    let mut sync = match home {
        LineHome::Memory => None,
        LineHome::Store(store) => {
            state.book = LineBook::backed();
            Some(RecordSync {
                store: store.clone(),
                through: store.marks()?.records,
            })
        }
    };
    for batch in batches {
        match &mut sync {
            Some(sync) => sync.apply(state, &batch)?,
            None => {
                for decoded in batch.iter() {
                    state.apply_in_stream(&decoded.stream, &decoded.event);
                }
            }
        }
    }
    Ok(())
}

/// Applies decoded batches to the read models, in order, writing their line facts to the
/// derived store every [`REPLAY_WRITE_EVENTS`]. Returns the head.
fn apply_read(
    read: &mut ReadModel,
    home: &LineHome,
    batches: Receiver<Batch>,
) -> Result<Head, LedgerError> {
    if let LineHome::Store(store) = home {
        read.attach_facts(store.clone(), store.marks()?.facts);
        read.keep_times_in_log();
    }
    let mut head = read.head();
    let mut written = head.position;
    for batch in batches {
        for decoded in batch.iter() {
            let meta = EventMeta {
                position: decoded.position,
                stream: &decoded.stream,
                recorded_at_micros: decoded.recorded_at_micros,
                hash: decoded.hash,
                actor_name: &decoded.actor_name,
            };
            read.apply(&meta, &decoded.event)?;
            head = Head {
                position: decoded.position,
                hash: decoded.hash,
                recorded_at_micros: decoded.recorded_at_micros,
            };
        }
        if head.position >= written + REPLAY_WRITE_EVENTS {
            read.write_facts()?;
            written = head.position;
        }
    }
    read.write_facts()?;
    Ok(head)
}

/// [`replay`] of stored chunks (first position, bytes) from any source: a data directory
/// or a backup file, up to position `through`, with line records and facts kept in `home`.
pub fn replay_chunks<I, B>(
    chunks: I,
    home: &LineHome,
    through: u64,
) -> Result<Replayed, LedgerError>
where
    I: Iterator<Item = Result<(u64, B), LedgerError>> + Send,
    B: AsRef<[u8]>,
{
    replay_after(chunks, home, through, None)
}

/// The state at the data directory's head: its newest usable checkpoint (when its derived
/// stores are in `home`) and the log after it, or the whole log.
pub fn restore(store: &LogStore, home: &LineHome) -> Result<Replayed, LedgerError> {
    let start = match home {
        LineHome::Store(derived) => checkpoint::load(store, derived.marks()?),
        LineHome::Memory => None,
    };
    let from = start.as_ref().map_or(1, |s| s.head.position + 1);
    replay_after(store.chunks_from(from), home, u64::MAX, start)
}

/// [`replay_chunks`] from `start` (a checkpoint's state) when given, else from scratch.
fn replay_after<I, B>(
    chunks: I,
    home: &LineHome,
    through: u64,
    start: Option<Start>,
) -> Result<Replayed, LedgerError>
where
    I: Iterator<Item = Result<(u64, B), LedgerError>> + Send,
    B: AsRef<[u8]>,
{
    let started = Instant::now();
    let (mut state, mut read, first) = match start {
        Some(start) => (start.state, start.read, start.head.position + 1),
        None => (LedgerState::default(), ReadModel::default(), 1),
    };
    let head = std::thread::scope(|scope| -> Result<Head, LedgerError> {
        // The reader hands each decoded batch to two appliers: the decision state and the
        // read models are independent, so they apply on their own threads.
        let (sender, receiver) = sync_channel::<Batch>(4);
        let (state_sender, state_receiver) = sync_channel::<Batch>(4);
        let state = &mut state;
        let state_applier = scope.spawn(move || apply_state(state, home, state_receiver));
        let reader =
            scope.spawn(move || read_batches(chunks, first, through, state_sender, sender));
        let read_result = apply_read(&mut read, home, receiver);
        // When an applier fails, the reader stops at its next hand-over.
        let reader_result = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let state_result = state_applier
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        reader_result?;
        state_result?;
        read_result
    })?;
    Ok(Replayed {
        state,
        read,
        head,
        events: head.position + 1 - first,
        checkpoint: first - 1,
        elapsed: started.elapsed(),
    })
}
