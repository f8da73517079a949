//! The single writer thread and its group commit.
//!
//! Group commit: the writer takes the first waiting request, then every request already
//! queued (up to [`GROUP_LINES_MAX`] lines), decides each in order against the state as
//! left by the previous one, makes all their events durable at once (`LogStore::append`:
//! one WAL frame written and synced), and only then applies them to the read models and
//! replies.

use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Checkpointer;
use super::idempotency::{scoped_key, GroupKeys};
use super::{restore, EngineError, LineHome, Metrics, WriteMeta, WriteOutcome};
use crate::domain::book::Needs;
use crate::domain::{decide, Command, DomainError, Event, LedgerState};
use crate::ledger::codec;
use crate::ledger::envelope::Sealing;
use crate::ledger::store::Head;
use crate::ledger::{LedgerError, LogStore};
use crate::projections::{EventMeta, ReadModel};

/// Lines (events) one group gathers at most before it is committed: a few full batches,
/// so one group's flush stays in the tens of milliseconds.
pub const GROUP_LINES_MAX: usize = 40_000;

/// One write waiting for the writer, with where to send its answer.
pub(super) struct WriteRequest {
    pub(super) command: Command,
    pub(super) meta: WriteMeta,
    pub(super) reply: oneshot::Sender<Result<WriteOutcome, EngineError>>,
}

/// What the writer's channel carries: a write, or the request to stop.
pub(super) enum WriterMessage {
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

/// The single writer: owns the decision state and the chain head.
pub(super) struct Writer {
    store: Arc<LogStore>,
    /// Where the natural-key records and line facts are kept (the data directory's
    /// derived stores).
    home: LineHome,
    state: LedgerState,
    head: Head,
    read: Arc<RwLock<ReadModel>>,
    metrics: Arc<Metrics>,
    /// Set when writes stop until [`Writer::recover`] has reopened the stores and replayed
    /// the log.
    stopped: Option<Stopped>,
    /// Writes checkpoints of the state in the background.
    checkpointer: Checkpointer,
    /// When recovery was last tried (at most once per [`RECOVERY_INTERVAL`]).
    last_recovery: Option<Instant>,
    /// Frees what each group leaves behind.
    disposal: Disposal,
}

/// What a committed group leaves behind: its commands and its staged events.
type Leftovers = (Vec<Command>, Vec<Applied>);

/// Frees groups' leftovers on a thread of its own (a 10,000-line batch leaves some
/// 100,000 small strings), off the writer's path. When that thread could not start, or
/// is still two groups behind, the writer frees them itself.
struct Disposal {
    sender: Option<std::sync::mpsc::SyncSender<Leftovers>>,
}

impl Disposal {
    fn start() -> Disposal {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Leftovers>(2);
        let started = std::thread::Builder::new()
            .name("kaledger-free".to_string())
            .spawn(move || receiver.into_iter().for_each(drop));
        Disposal {
            sender: started.ok().map(|_| sender),
        }
    }

    fn dispose(&self, leftovers: Leftovers) {
        if let Some(sender) = &self.sender {
            // A full or closed channel hands the leftovers back: they are dropped here.
            let _ = sender.try_send(leftovers);
        }
    }
}

/// Why writes are stopped.
struct Stopped {
    /// What callers are told.
    reason: String,
    /// True when only the derived state fell behind a durable group (the log is sound):
    /// recovery then replays without reopening sled. False when a group could not be made
    /// durable nor undone in sled's memory (sled 0.34 keeps a failed flush's IO error until
    /// the database is opened again): the decision state may hold events that are not on
    /// disk.
    derived_only: bool,
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

/// What a group has decided so far, waiting for its one durable append.
#[derive(Default)]
struct Decided {
    /// The sealed envelopes as stored: (position, bytes).
    staged: Vec<(u64, Vec<u8>)>,
    /// The same events with what the read models need of their envelopes, once durable.
    applied: Vec<Applied>,
    /// The actor names of the group's requests that staged events (`Applied::actor`).
    actors: Vec<String>,
    /// The idempotency records of the group's requests.
    keys: GroupKeys,
}

/// A staged event and what the read models need of its envelope ([`EventMeta`]): the
/// envelope itself is only kept as its stored bytes.
struct Applied {
    position: u64,
    stream: String,
    recorded_at_micros: i64,
    hash: [u8; 32],
    /// Index of the request's actor name in [`Decided::actors`].
    actor: usize,
    event: Event,
}

impl Applied {
    fn meta<'a>(&'a self, actors: &'a [String]) -> EventMeta<'a> {
        EventMeta {
            position: self.position,
            stream: &self.stream,
            recorded_at_micros: self.recorded_at_micros,
            hash: self.hash,
            actor_name: actors.get(self.actor).map_or("", String::as_str),
        }
    }
}

/// Encodes each event's payload, once, here; a payload too large to decode again refuses
/// the whole command.
fn encode_payloads(events: &[Event]) -> Result<Vec<Vec<u8>>, EngineError> {
    let payloads: Vec<Vec<u8>> = events.iter().map(Event::encode_payload).collect();
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
    Ok(payloads)
}

impl Writer {
    /// A writer that continues the log at `head`, deciding against `state`.
    pub(super) fn new(
        store: Arc<LogStore>,
        home: LineHome,
        state: LedgerState,
        head: Head,
        read: Arc<RwLock<ReadModel>>,
        metrics: Arc<Metrics>,
        checkpointer: Checkpointer,
    ) -> Writer {
        Writer {
            store,
            home,
            state,
            head,
            read,
            metrics,
            stopped: None,
            checkpointer,
            last_recovery: None,
            disposal: Disposal::start(),
        }
    }

    /// Starts the writer's thread: it serves `receiver` until a shutdown or until every
    /// sender is gone.
    pub(super) fn spawn(
        self,
        receiver: mpsc::Receiver<WriterMessage>,
    ) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("kaledger-writer".to_string())
            .spawn(move || self.run(receiver))
    }

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
        if let LineHome::Store(lines) = &self.home {
            if let Err(e) = lines.settle() {
                tracing::warn!(error = %e, "derived stores not settled at shutdown");
            }
        }
        if self.stopped.is_none() {
            let read = self.read.read().unwrap_or_else(|p| p.into_inner());
            self.checkpointer.finish(&self.state, &read);
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
            let reason = self
                .stopped
                .as_ref()
                .map(|s| s.reason.clone())
                .unwrap_or_default();
            for request in requests {
                let _ = request
                    .reply
                    .send(Err(EngineError::Unavailable(reason.clone())));
            }
            return;
        }
        if let Err(e) = self.load_records(&requests) {
            tracing::error!(error = %e, "could not read the natural-key records; group refused");
            for request in requests {
                let _ = request
                    .reply
                    .send(Err(EngineError::Unavailable(e.to_string())));
            }
            return;
        }
        let request_count = requests.len();
        let mut decided = Decided::default();
        let mut replies: Vec<Reply> = Vec::with_capacity(requests.len());
        let mut commands = Vec::with_capacity(requests.len());
        for request in requests {
            let result = self.decide_one(&request, &mut decided);
            replies.push((request.reply, result));
            commands.push(request.command);
        }
        let Decided {
            staged,
            mut applied,
            actors,
            keys,
        } = decided;
        let idempotency_writes = keys.writes;
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
        if let Err(e) = self.apply_durable(&applied, &actors) {
            // The group is on disk and is answered; what is derived from it is rebuilt from
            // the log before the next write is decided.
            tracing::error!(error = %e, "derived state not updated after a durable group; recovering");
            self.metrics.writes_stopped.set(1);
            self.stopped = Some(Stopped {
                reason: format!("derived state could not be updated ({e})"),
                derived_only: true,
            });
        }
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
        self.disposal.dispose((commands, applied));
    }

    /// Puts at hand in the decision state the natural-key records the group's commands
    /// look up.
    fn load_records(&mut self, requests: &[WriteRequest]) -> Result<(), LedgerError> {
        let LineHome::Store(store) = &self.home else {
            return Ok(());
        };
        let mut needs = Needs::default();
        for request in requests {
            needs.add_command(&request.command);
        }
        store.load(&mut self.state.book, &needs)?;
        Ok(())
    }

    /// Applies a durable group to the read models, then writes what it changed in the
    /// derived stores (records and facts, each marked with the head) and empties the book.
    fn apply_durable(&mut self, applied: &[Applied], actors: &[String]) -> Result<(), LedgerError> {
        let changes = self.state.book.take_changes();
        if applied.is_empty() {
            return Ok(());
        }
        let mut read = self.read.write().unwrap_or_else(|p| p.into_inner());
        for a in applied {
            read.apply(&a.meta(actors), &a.event)?;
        }
        read.write_facts()?;
        if let LineHome::Store(store) = &self.home {
            // Written even when no record changed: the mark says the records reflect the
            // head (a checkpoint past it would otherwise be passed over).
            store.write_records(&changes, self.head.position)?;
        }
        if self.checkpointer.due(self.head.position) {
            // The one stall a checkpoint costs the writer: copying the state.
            let started = Instant::now();
            let copy = (self.state.clone(), read.clone());
            tracing::info!(
                position = self.head.position,
                copy_ms = started.elapsed().as_secs_f64() * 1e3,
                "checkpoint state copied"
            );
            self.checkpointer.hand_over(copy.0, copy.1);
        }
        Ok(())
    }

    /// Decides one request against the state as the group left it: answers a retry from
    /// its remembered record, else stages the decided events and remembers the answer.
    fn decide_one(
        &mut self,
        request: &WriteRequest,
        decided: &mut Decided,
    ) -> Result<WriteOutcome, EngineError> {
        let meta = &request.meta;
        let scoped = meta
            .idempotency_key
            .as_deref()
            .map(|k| scoped_key(&meta.actor, k));
        if let (Some(scoped), Some(key)) = (&scoped, &meta.idempotency_key) {
            let earlier = decided
                .keys
                .earlier(&self.store, scoped)
                .map_err(|e| EngineError::Unavailable(e.to_string()))?;
            if let Some(record) = earlier {
                return record.answer(&meta.fingerprint, key);
            }
        }
        let decision = decide(&self.state, &request.command)?;
        let payloads = encode_payloads(&decision.events)?;
        let first_position = self.stage(decision.events, payloads, meta, decided);
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
            decided
                .keys
                .remember(scoped, meta.fingerprint, outcome.clone());
        }
        Ok(outcome)
    }

    /// Seals `events` (with their encoded `payloads`) after the head, applies them to the
    /// decision state and stages them in the group. Returns the first position they took,
    /// None when there are none.
    fn stage(
        &mut self,
        events: Vec<Event>,
        payloads: Vec<Vec<u8>>,
        meta: &WriteMeta,
        decided: &mut Decided,
    ) -> Option<u64> {
        let mut first_position = None;
        if events.is_empty() {
            return None;
        }
        // Room for the whole decision at once: a 10,000-line batch would otherwise grow
        // (and copy) both vectors a dozen times.
        decided.staged.reserve(events.len());
        decided.applied.reserve(events.len());
        let actor = decided.actors.len();
        decided.actors.push(meta.actor.name.clone());
        for (event, payload) in events.into_iter().zip(payloads) {
            let position = self.head.position + 1;
            let stream = event.stream();
            let stream_version = self.state.stream_version(&stream) + 1;
            let recorded_at_micros = now_micros().max(self.head.recorded_at_micros + 1);
            let (bytes, hash) = Sealing {
                event_type: event.type_name(),
                schema_version: event.schema_version(),
                position,
                stream: &stream,
                stream_version,
                event_id: uuid::Uuid::now_v7(),
                recorded_at_micros,
                actor: &meta.actor,
                idempotency_key: meta.idempotency_key.as_deref(),
                request_id: &meta.request_id,
                payload: &payload,
                prev_hash: self.head.hash,
            }
            .seal();
            self.state.apply_in_stream(&stream, &event);
            self.head = Head {
                position,
                hash,
                recorded_at_micros,
            };
            first_position.get_or_insert(position);
            decided.staged.push((position, bytes));
            decided.applied.push(Applied {
                position,
                stream,
                recorded_at_micros,
                hash,
                actor,
                event,
            });
        }
        first_position
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
            .and_then(|()| restore(&self.store, &self.home).map_err(|e| e.to_string()))
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
                self.stopped = Some(Stopped {
                    reason: format!(
                        "writes are stopped: a group could not be written to disk and sled cannot undo it in memory ({e}); \
                         they resume by themselves once the data directory accepts writes again"
                    ),
                    derived_only: false,
                });
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
        // The derived stores are opened again either way (fjall refuses every write after
        // a failed one); sled only when the log itself failed.
        let derived = match &self.home {
            LineHome::Store(store) => store.reopen().map_err(LedgerError::from),
            LineHome::Memory => Ok(()),
        };
        let derived_only = self.stopped.as_ref().is_some_and(|s| s.derived_only);
        let reopened = if derived_only {
            derived.and_then(|()| restore(&self.store, &self.home))
        } else {
            derived
                .and_then(|()| self.store.reopen())
                .and_then(|()| self.store.sync().map(|_| ()))
                .and_then(|()| restore(&self.store, &self.home))
        };
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
                let mut read = replayed.read;
                read.attach_log(self.store.clone());
                *self.read.write().unwrap_or_else(|p| p.into_inner()) = read;
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
