//! The engine joins the layers: one writer thread decides commands against the domain
//! state, appends their events to the log in durable groups, then updates the read models
//! and answers. Readers share the read models behind a lock.
//!
//! The parts: `writer` (the single writer thread and its group commit), `replay`
//! (fresh state and read models from the log), `idempotency` (the remembered answers to
//! retried requests), [`backup`] and [`metrics`].

pub mod backup;
pub mod checkpoint;
mod idempotency;
pub mod metrics;
mod replay;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::domain::{Command, DomainError, Event};
use crate::ledger::envelope::Actor;
use crate::ledger::{Envelope, LedgerError, LogStore};
use crate::projections::ReadModel;
pub use metrics::Metrics;
pub use replay::{replay, replay_chunks, replay_through, restore, LineHome, Replayed, DERIVED_DIR};
pub use writer::GROUP_LINES_MAX;
use writer::{WriteRequest, Writer, WriterMessage};

/// Requests waiting for the writer: enough to keep a group full under 64+ concurrent
/// clients, few enough that a stalled disk pushes back on callers quickly.
pub const CHANNEL_DEPTH: usize = 4096;

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

/// One event of the log and the envelope it is stored in ([`Engine::event_at`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub envelope: Envelope,
    pub event: Event,
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
        let home = LineHome::of_data_dir(&store)?;
        let replayed = restore(&store, &home)?;
        let metrics = Arc::new(Metrics::new());
        metrics.head_position.set(replayed.head.position as i64);
        let mut read = replayed.read;
        read.attach_log(store.clone());
        let read = Arc::new(RwLock::new(read));
        let (sender, receiver) = mpsc::channel(CHANNEL_DEPTH);
        let checkpointer =
            checkpoint::Checkpointer::start(checkpoint::dir_of(path), replayed.checkpoint)
                .map_err(|source| LedgerError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
        let writer = Writer::new(
            store.clone(),
            home,
            replayed.state,
            replayed.head,
            read.clone(),
            metrics.clone(),
            checkpointer,
        );
        let handle = writer.spawn(receiver).map_err(|source| LedgerError::Io {
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

    /// The event at a log position with its envelope, decoded as replay decodes it. Every
    /// failure is [`LedgerError::Corrupt`] naming the position: one the log lacks (below
    /// its end or past it, see [`LogStore::envelope_at`]) or whose event does not decode.
    /// Ask for positions the read models name: the log may already hold a group that is
    /// not yet durable, or that a failed flush will roll back.
    pub fn event_at(&self, position: u64) -> Result<StoredEvent, LedgerError> {
        let envelope = self.store.envelope_at(position)?;
        let event = replay::decode_event(
            position,
            &envelope.event_type,
            envelope.schema_version,
            &envelope.payload,
        )?;
        Ok(StoredEvent { envelope, event })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commands::OpenAccount;
    use crate::domain::vocab::{Scope, Stage};

    fn meta() -> WriteMeta {
        let actor = Actor {
            name: "test".into(),
            role: "admin".into(),
        };
        WriteMeta::new(actor, None, &[], "test".into())
    }

    fn open_account(engine: &Engine, account_id: &str) {
        let command = Command::OpenAccount(OpenAccount {
            account_id: account_id.into(),
            name: format!("Account {account_id}"),
            scope: Scope::National,
            segment: None,
            manager: None,
            currency: "CNY".into(),
            stage: Stage::ALL[0],
        });
        engine.submit_blocking(command, meta()).unwrap();
    }

    /// The position and reason of a `Corrupt` error; panics on anything else.
    fn corrupt_at(result: Result<StoredEvent, LedgerError>) -> (u64, String) {
        match result {
            Err(LedgerError::Corrupt { position, reason }) => (position, reason),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn event_at_decodes_the_stored_event_and_names_a_position_it_cannot() {
        // Proves event_at gives the envelope and event written at a position, and that a
        // position the log lacks, one past its end and an event that does not decode are
        // each `Corrupt` at the position asked for.
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(dir.path()).unwrap();
        for account_id in ["KA-1", "KA-2", "KA-3"] {
            open_account(&engine, account_id);
        }
        let stored = engine.event_at(2).unwrap();
        assert_eq!(stored.envelope.position, 2);
        assert_eq!(stored.envelope.event_type, stored.event.type_name());
        assert!(matches!(&stored.event, Event::AccountOpened(e) if e.account_id == "KA-2"));
        let (position, reason) = corrupt_at(engine.event_at(4));
        assert_eq!(position, 4);
        assert!(reason.contains("past the end"));
        // Each request was its own group, so position 2 is a chunk of its own.
        engine.store().remove(&[(2, Vec::new())], &[]).unwrap();
        let (position, reason) = corrupt_at(engine.event_at(2));
        assert_eq!(position, 2);
        assert!(reason.contains("missing"));
        let mut unknown = engine.store().envelope_at(3).unwrap();
        unknown.position = 4;
        unknown.event_type = "NoSuchEvent".into();
        engine.store().append(&[(4, unknown.seal())], &[]).unwrap();
        let (position, reason) = corrupt_at(engine.event_at(4));
        assert_eq!(position, 4);
        assert!(reason.contains("NoSuchEvent"), "{reason}");
        engine.shutdown_blocking();
    }
}
