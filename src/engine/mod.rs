//! The engine joins the layers: one writer thread decides commands against the domain
//! state, appends their events to the log in durable groups, then updates the read models
//! and answers. Readers share the read models behind a lock.
//!
//! Group commit: the writer takes the first waiting request, then every request already
//! queued (up to [`GROUP_LINES_MAX`] lines), decides each in order against the state as
//! left by the previous one, writes all their events in one sled batch, flushes once,
//! syncs the data file once, and only then applies them to the read models and replies.

pub mod backup;
pub mod metrics;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::domain::{decide, Command, DomainError, Event, LedgerState};
use crate::ledger::codec;
use crate::ledger::envelope::Actor;
use crate::ledger::envelope::EnvelopeRef;
use crate::ledger::store::chunk_entries;
use crate::ledger::store::Head;
use crate::ledger::{Envelope, LedgerError, LogStore};
use crate::projections::{EventMeta, ReadModel};
pub use metrics::Metrics;

/// Requests waiting for the writer: enough to keep a group full under 64+ concurrent
/// clients, few enough that a stalled disk pushes back on callers quickly.
pub const CHANNEL_DEPTH: usize = 4096;
/// Lines (events) one group gathers at most before it is committed: a few full batches,
/// so one group's flush stays in the tens of milliseconds.
pub const GROUP_LINES_MAX: usize = 40_000;

/// Who asks, and how to recognise a retry.
#[derive(Debug, Clone)]
pub struct WriteMeta {
    pub actor: Actor,
    pub idempotency_key: Option<String>,
    /// SHA-256 of what identifies the request (method, path, body); compared on retries.
    pub fingerprint: [u8; 32],
    pub request_id: String,
}

impl WriteMeta {
    /// Metadata for a request: `fingerprint_parts` are hashed in order.
    pub fn new(
        actor: Actor,
        idempotency_key: Option<String>,
        fingerprint_parts: &[&[u8]],
        request_id: String,
    ) -> WriteMeta {
        let mut hasher = Sha256::new();
        for part in fingerprint_parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        WriteMeta {
            actor,
            idempotency_key,
            fingerprint: hasher.finalize().into(),
            request_id,
        }
    }
}

/// What a write did. Stored with the idempotency key so a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOutcome {
    pub recorded: u64,
    pub duplicates: u64,
    pub first_position: Option<u64>,
    pub last_position: Option<u64>,
    /// True when this answer is the stored answer of an earlier request with the same key.
    pub replayed: bool,
}

/// The idempotency record: fingerprint of the first request and its outcome.
#[derive(Serialize, Deserialize)]
struct IdempotencyRecord {
    fingerprint: [u8; 32],
    outcome: WriteOutcome,
}

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("idempotency key \"{0}\" was already used with a different request")]
    IdempotencyKeyReused(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

struct WriteRequest {
    command: Command,
    meta: WriteMeta,
    reply: oneshot::Sender<Result<WriteOutcome, EngineError>>,
}

enum WriterMessage {
    Write(Box<WriteRequest>),
    Shutdown(oneshot::Sender<()>),
}

impl WriterMessage {
    fn lines(&self) -> usize {
        match self {
            WriterMessage::Write(r) => match &r.command {
                Command::RecordSales { lines } => lines.len(),
                Command::RecordReturns { lines } => lines.len(),
                _ => 1,
            },
            WriterMessage::Shutdown(_) => 0,
        }
    }
}

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

/// Decodes one stored envelope for replay; a bad one is `Corrupt` at its position.
fn decode_stored(position: u64, bytes: &[u8]) -> Result<DecodedEvent, LedgerError> {
    let corrupt = |reason: String| LedgerError::Corrupt { position, reason };
    let envelope = EnvelopeRef::open(bytes).map_err(|e| corrupt(e.to_string()))?;
    let event = Event::decode(
        envelope.event_type,
        envelope.schema_version,
        envelope.payload,
    )
    .map_err(|e| corrupt(e.to_string()))?;
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
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Arc<Vec<DecodedEvent>>>(4);
        let (state_sender, state_receiver) =
            std::sync::mpsc::sync_channel::<Arc<Vec<DecodedEvent>>>(4);
        let state = &mut state;
        let state_applier = scope.spawn(move || {
            for batch in state_receiver {
                for decoded in batch.iter() {
                    state.apply_in_stream(&decoded.stream, &decoded.event);
                }
            }
        });
        let reader = scope.spawn(move || -> Result<(), LedgerError> {
            let mut batch = Vec::with_capacity(REPLAY_BATCH_EVENTS);
            let mut expected = 1;
            'chunks: for chunk in chunks {
                let (first, chunk) = chunk?;
                for (position, bytes) in chunk_entries(first, chunk.as_ref())? {
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
        });
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

/// A running ledger: the writer thread and the shared read models.
pub struct Engine {
    sender: mpsc::Sender<WriterMessage>,
    read: Arc<RwLock<ReadModel>>,
    store: Arc<LogStore>,
    metrics: Arc<Metrics>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// How long the start-up replay took, and how many events it read.
    pub replayed: (u64, Duration),
}

impl Engine {
    /// Opens the data directory, replays the log and starts the writer.
    pub fn open(path: &Path) -> Result<Engine, LedgerError> {
        let store = Arc::new(LogStore::open(path)?);
        let replayed = replay(&store)?;
        let metrics = Arc::new(Metrics::new());
        metrics.head_position.set(replayed.head.position as i64);
        let read = Arc::new(RwLock::new(replayed.read));
        let (sender, receiver) = mpsc::channel(CHANNEL_DEPTH);
        let writer = Writer {
            store: store.clone(),
            state: replayed.state,
            head: replayed.head,
            read: read.clone(),
            metrics: metrics.clone(),
            stopped: None,
            last_recovery: None,
        };
        let handle = std::thread::Builder::new()
            .name("kaledger-writer".to_string())
            .spawn(move || writer.run(receiver))
            .map_err(|source| LedgerError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Engine {
            sender,
            read,
            store,
            metrics,
            writer: Mutex::new(Some(handle)),
            replayed: (replayed.events, replayed.elapsed),
        })
    }

    /// Submits a command and waits until it is durable (or refused).
    pub async fn submit(
        &self,
        command: Command,
        meta: WriteMeta,
    ) -> Result<WriteOutcome, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(WriterMessage::Write(Box::new(WriteRequest {
                command,
                meta,
                reply,
            })))
            .await
            .map_err(|_| EngineError::Unavailable("the writer has stopped".to_string()))?;
        answer
            .await
            .map_err(|_| EngineError::Unavailable("the writer has stopped".to_string()))?
    }

    /// [`Engine::submit`] for callers outside an async runtime (the CLI).
    pub fn submit_blocking(
        &self,
        command: Command,
        meta: WriteMeta,
    ) -> Result<WriteOutcome, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .blocking_send(WriterMessage::Write(Box::new(WriteRequest {
                command,
                meta,
                reply,
            })))
            .map_err(|_| EngineError::Unavailable("the writer has stopped".to_string()))?;
        answer
            .blocking_recv()
            .map_err(|_| EngineError::Unavailable("the writer has stopped".to_string()))?
    }

    /// The read models, as of the last durable group.
    pub fn read(&self) -> RwLockReadGuard<'_, ReadModel> {
        // A poisoned lock means a panic while applying events: our bug; keep serving the
        // last state rather than turning every read into a panic.
        self.read
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The log store (reads of envelopes, verification).
    pub fn store(&self) -> &LogStore {
        &self.store
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Stops the writer after the requests already queued, and syncs the log.
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self
            .sender
            .send(WriterMessage::Shutdown(done))
            .await
            .is_ok()
        {
            let _ = wait.await;
        }
        let handle = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }

    /// [`Engine::shutdown`] for callers outside an async runtime.
    pub fn shutdown_blocking(&self) {
        let (done, wait) = oneshot::channel();
        if self
            .sender
            .blocking_send(WriterMessage::Shutdown(done))
            .is_ok()
        {
            let _ = wait.blocking_recv();
        }
        if let Some(handle) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

/// The single writer: owns the decision state and the chain head.
struct Writer {
    store: Arc<LogStore>,
    state: LedgerState,
    head: Head,
    read: Arc<RwLock<ReadModel>>,
    metrics: Arc<Metrics>,
    /// Set when a group could not be made durable and could not be undone in sled's memory
    /// (sled 0.34 keeps a failed flush's IO error until the database is opened again):
    /// the decision state may then hold events that are not on disk, so no write is decided
    /// until [`Writer::recover`] has reopened the store and replayed it.
    stopped: Option<String>,
    /// When recovery was last tried (at most once per [`RECOVERY_INTERVAL`]).
    last_recovery: Option<Instant>,
}

/// Least time between two attempts to reopen the store after a failed flush.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);

type Reply = (
    oneshot::Sender<Result<WriteOutcome, EngineError>>,
    Result<WriteOutcome, EngineError>,
);

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn scoped_key(actor: &Actor, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(actor.name.len() + key.len() + 1);
    k.extend_from_slice(actor.name.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<WriterMessage>) {
        let mut shutdown: Option<oneshot::Sender<()>> = None;
        while shutdown.is_none() {
            let Some(first) = receiver.blocking_recv() else {
                break;
            };
            let mut lines = first.lines();
            let mut group = vec![first];
            while lines < GROUP_LINES_MAX {
                match receiver.try_recv() {
                    Ok(message) => {
                        lines += message.lines();
                        group.push(message);
                    }
                    Err(_) => break,
                }
            }
            let mut requests = Vec::with_capacity(group.len());
            for message in group {
                match message {
                    WriterMessage::Write(r) => requests.push(*r),
                    WriterMessage::Shutdown(done) => shutdown = Some(done),
                }
            }
            self.commit_group(requests);
        }
        if let Err(e) = self.store.sync() {
            tracing::error!(error = %e, "final sync at shutdown failed");
        }
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    /// Decides, appends durably, applies and answers one group.
    fn commit_group(&mut self, requests: Vec<WriteRequest>) {
        if requests.is_empty() {
            return;
        }
        if self.stopped.is_some() && !self.recover() {
            let reason = self.stopped.clone().unwrap_or_default();
            for request in requests {
                let _ = request
                    .reply
                    .send(Err(EngineError::Unavailable(reason.clone())));
            }
            return;
        }
        let request_count = requests.len();
        let mut staged: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut applied: Vec<(Envelope, Event)> = Vec::new();
        let mut idempotency_writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut pending_keys: HashMap<Vec<u8>, IdempotencyRecord> = HashMap::new();
        let mut replies: Vec<Reply> = Vec::with_capacity(requests.len());
        for request in requests {
            let result = self.decide_one(
                &request,
                &mut staged,
                &mut applied,
                &mut idempotency_writes,
                &mut pending_keys,
            );
            replies.push((request.reply, result));
        }
        if !staged.is_empty() || !idempotency_writes.is_empty() {
            match self.store.append(&staged, &idempotency_writes) {
                Ok(timings) => {
                    self.metrics
                        .flush_seconds
                        .observe(timings.flush.as_secs_f64());
                    self.metrics
                        .sync_seconds
                        .observe(timings.sync.as_secs_f64());
                    self.metrics.groups_committed.inc();
                    self.metrics.group_events.observe(staged.len() as f64);
                    self.metrics.group_requests.observe(request_count as f64);
                    self.metrics.events_appended.inc_by(staged.len() as u64);
                    self.metrics.head_position.set(self.head.position as i64);
                }
                Err(e) => {
                    self.metrics.append_failures.inc();
                    tracing::error!(error = %e, events = staged.len(), "group commit failed; rolling back");
                    self.roll_back(&staged, &idempotency_writes);
                    for (_, result) in replies.iter_mut() {
                        if result.is_ok() {
                            *result = Err(EngineError::Unavailable(e.to_string()));
                        }
                    }
                    applied.clear();
                }
            }
        }
        if !applied.is_empty() {
            let mut read = self.read.write().unwrap_or_else(|p| p.into_inner());
            for (envelope, event) in &applied {
                read.apply(&EventMeta::from(envelope), event);
            }
        }
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
    }

    fn decide_one(
        &mut self,
        request: &WriteRequest,
        staged: &mut Vec<(u64, Vec<u8>)>,
        applied: &mut Vec<(Envelope, Event)>,
        idempotency_writes: &mut Vec<(Vec<u8>, Vec<u8>)>,
        pending_keys: &mut HashMap<Vec<u8>, IdempotencyRecord>,
    ) -> Result<WriteOutcome, EngineError> {
        let meta = &request.meta;
        let scoped = meta
            .idempotency_key
            .as_deref()
            .map(|k| scoped_key(&meta.actor, k));
        if let (Some(scoped), Some(key)) = (&scoped, &meta.idempotency_key) {
            let earlier = match pending_keys.get(scoped) {
                Some(record) => Some((record.fingerprint, record.outcome.clone())),
                None => match self.store.idempotency_get(scoped) {
                    Ok(Some(bytes)) => codec::decode::<IdempotencyRecord>(&bytes)
                        .ok()
                        .map(|r| (r.fingerprint, r.outcome)),
                    Ok(None) => None,
                    Err(e) => return Err(EngineError::Unavailable(e.to_string())),
                },
            };
            if let Some((fingerprint, outcome)) = earlier {
                return if fingerprint == meta.fingerprint {
                    Ok(WriteOutcome {
                        replayed: true,
                        ..outcome
                    })
                } else {
                    Err(EngineError::IdempotencyKeyReused(key.clone()))
                };
            }
        }
        let decision = decide(&self.state, &request.command)?;
        // Encoded once, here; a payload too large to decode again refuses the whole command.
        let payloads: Vec<Vec<u8>> = decision.events.iter().map(Event::encode_payload).collect();
        if let Some(size) = payloads
            .iter()
            .map(Vec::len)
            .find(|size| *size > codec::PAYLOAD_BYTES_MAX)
        {
            return Err(DomainError::Refused {
                code: "event_too_large",
                message: format!(
                    "an event of this command takes {size} bytes, more than the {} one event may hold; split it (a season into smaller seasons)",
                    codec::PAYLOAD_BYTES_MAX
                ),
            }
            .into());
        }
        let mut first_position = None;
        for (event, payload) in decision.events.into_iter().zip(payloads) {
            let position = self.head.position + 1;
            let stream = event.stream();
            let stream_version = self.state.stream_version(&stream) + 1;
            let recorded_at_micros = now_micros().max(self.head.recorded_at_micros + 1);
            let mut envelope = Envelope {
                event_type: event.type_name().to_string(),
                schema_version: event.schema_version(),
                position,
                stream,
                stream_version,
                event_id: uuid::Uuid::now_v7(),
                recorded_at_micros,
                actor: meta.actor.clone(),
                idempotency_key: meta.idempotency_key.clone(),
                request_id: meta.request_id.clone(),
                payload,
                prev_hash: self.head.hash,
                hash: [0; 32],
            };
            let bytes = envelope.seal();
            self.state.apply_in_stream(&envelope.stream, &event);
            self.head = Head {
                position,
                hash: envelope.hash,
                recorded_at_micros,
            };
            first_position.get_or_insert(position);
            staged.push((position, bytes));
            applied.push((envelope, event));
        }
        let recorded = first_position
            .map(|f| self.head.position - f + 1)
            .unwrap_or(0);
        let outcome = WriteOutcome {
            recorded,
            duplicates: decision.duplicates as u64,
            first_position,
            last_position: first_position.map(|_| self.head.position),
            replayed: false,
        };
        if let Some(scoped) = scoped {
            let record = IdempotencyRecord {
                fingerprint: meta.fingerprint,
                outcome: outcome.clone(),
            };
            idempotency_writes.push((scoped.clone(), codec::encode(&record)));
            pending_keys.insert(scoped, record);
        }
        Ok(outcome)
    }

    /// Undoes a group that could not be made durable: removes its entries from sled's
    /// trees (they were never acknowledged) and rebuilds the decision state from the log.
    /// When sled refuses the removal (it keeps a failed flush's error), writes stop until
    /// the store is reopened: answering from a state that holds the refused group would
    /// acknowledge lines that are not on disk.
    fn roll_back(&mut self, staged: &[(u64, Vec<u8>)], idempotency_writes: &[(Vec<u8>, Vec<u8>)]) {
        let keys: Vec<Vec<u8>> = idempotency_writes.iter().map(|(k, _)| k.clone()).collect();
        let undone = self
            .store
            .remove(staged, &keys)
            .map_err(|e| e.to_string())
            .and_then(|()| replay(&self.store).map_err(|e| e.to_string()))
            .and_then(|replayed| {
                let expected = self.head.position - staged.len() as u64;
                if replayed.head.position == expected {
                    Ok(replayed)
                } else {
                    Err(format!(
                        "the log ends at {} after the roll-back, not at {expected}",
                        replayed.head.position
                    ))
                }
            });
        match undone {
            Ok(replayed) => {
                self.state = replayed.state;
                self.head = replayed.head;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not undo the failed group in memory; writes stop until the store reopens");
                self.metrics.writes_stopped.set(1);
                self.stopped = Some(format!(
                    "writes are stopped: a group could not be written to disk and sled cannot undo it in memory ({e}); \
                     they resume by themselves once the data directory accepts writes again"
                ));
                self.last_recovery = Some(Instant::now());
            }
        }
    }

    /// After writes stopped: reopens the store from disk, replays the log into the
    /// decision state and the read models (whatever of the refused group reached the disk
    /// is then part of the log, as after a restart), and resumes. False while the store
    /// cannot be reopened or recovery was tried less than [`RECOVERY_INTERVAL`] ago.
    fn recover(&mut self) -> bool {
        if self
            .last_recovery
            .is_some_and(|t| t.elapsed() < RECOVERY_INTERVAL)
        {
            return false;
        }
        self.last_recovery = Some(Instant::now());
        let reopened = self
            .store
            .reopen()
            .and_then(|()| self.store.sync().map(|_| ()))
            .and_then(|()| replay(&self.store));
        match reopened {
            Ok(replayed) => {
                tracing::warn!(
                    head = replayed.head.position,
                    "the store reopened after a failed flush; writes resume"
                );
                self.state = replayed.state;
                self.head = replayed.head;
                self.metrics
                    .head_position
                    .set(replayed.head.position as i64);
                *self.read.write().unwrap_or_else(|p| p.into_inner()) = replayed.read;
                self.stopped = None;
                self.metrics.writes_stopped.set(0);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the store cannot reopen yet; writes stay stopped");
                false
            }
        }
    }
}
