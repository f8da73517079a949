//! Checkpoints of the in-memory state: the decision state and the read models, with the
//! log position and hash they reflect, in `<data>/checkpoints` (file format:
//! `ledger::checkpoint`). A start loads the newest usable one and replays the log after
//! it; one that is missing, of another format, truncated, corrupt, of another log, ahead
//! of the log or of the derived stores is passed over with a log line, and the whole log
//! is replayed. The log stays the only truth.
//!
//! The writer takes one every [`CHECKPOINT_EVENTS`] events: it clones the state (a copy
//! in memory; its length is logged) and a background thread encodes and writes it.
//! A clean stop writes one at the head, so the next start replays nothing.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::derived::StoreMarks;
use crate::domain::LedgerState;
use crate::ledger::checkpoint;
use crate::ledger::codec;
use crate::ledger::store::Head;
use crate::ledger::{LedgerError, LogStore};
use crate::projections::ReadModel;

/// The format of a checkpoint's payload; a checkpoint of another is passed over.
pub const CHECKPOINT_FORMAT: u32 = 2;
/// Events between two checkpoints (named limit): bounds the replay after a kill -9.
pub const CHECKPOINT_EVENTS: u64 = 500_000;
/// The checkpoints' folder inside a data directory.
pub const CHECKPOINT_DIR: &str = "checkpoints";

/// What a checkpoint holds, as written.
#[derive(Serialize)]
struct BodyRef<'a> {
    state: &'a LedgerState,
    read: &'a ReadModel,
}

/// What a checkpoint holds, as read.
#[derive(Deserialize)]
struct Body {
    state: LedgerState,
    read: ReadModel,
}

/// State and read models as a checkpoint left them, to replay the log after.
pub struct Start {
    pub state: LedgerState,
    pub read: ReadModel,
    pub head: Head,
}

/// The checkpoints' folder of a data directory.
pub fn dir_of(data: &Path) -> PathBuf {
    data.join(CHECKPOINT_DIR)
}

/// Writes a checkpoint of `state` and `read` (at the read models' head) into `dir`.
pub fn write(dir: &Path, state: &LedgerState, read: &ReadModel) -> Result<PathBuf, LedgerError> {
    let head = read.head();
    checkpoint::write_with(dir, CHECKPOINT_FORMAT, head.position, &head.hash, |out| {
        codec::encode_checkpoint_into(out, &BodyRef { state, read })
    })
}

/// The newest usable checkpoint of the data directory of `store`, or None (each reason
/// logged) when the log must be replayed from its start.
pub fn load(store: &LogStore, marks: StoreMarks) -> Option<Start> {
    let dir = dir_of(store.path());
    let loaded = checkpoint::load_newest(&dir, CHECKPOINT_FORMAT, |payload, length| {
        codec::decode_checkpoint_from::<Body>(payload, length).map_err(|e| e.to_string())
    })
    .loaded?;
    let path = loaded.path.display().to_string();
    let pass = |reason: String| {
        tracing::warn!(path = %path, %reason, "checkpoint passed over; replaying the whole log");
        None
    };
    if loaded.position > marks.records || loaded.position > marks.facts {
        return pass(format!(
            "the derived stores reflect positions {} and {}, behind it",
            marks.records, marks.facts
        ));
    }
    match store.envelope_at(loaded.position) {
        Ok(envelope) if envelope.hash == loaded.head_hash => {}
        Ok(_) => return pass("the log holds another event at its position".to_string()),
        Err(e) => return pass(format!("its position is not in the log: {e}")),
    }
    let body = loaded.value;
    let head = body.read.head();
    if head.position != loaded.position || head.hash != loaded.head_hash {
        return pass("its read models stand at another position than its header".to_string());
    }
    Some(Start {
        state: body.state,
        read: body.read,
        head,
    })
}

/// The background writer of checkpoints: at most one waits while one is written, and a
/// checkpoint asked for while both are taken is skipped (the next one comes soon).
pub struct Checkpointer {
    sender: Option<SyncSender<(LedgerState, ReadModel)>>,
    thread: Option<JoinHandle<()>>,
    /// The position of the last checkpoint handed over or written.
    pub last_position: u64,
    dir: PathBuf,
}

impl Checkpointer {
    /// A checkpointer writing into `dir`; `last_position` is the newest checkpoint's.
    pub fn start(dir: PathBuf, last_position: u64) -> std::io::Result<Checkpointer> {
        let (sender, receiver) = sync_channel::<(LedgerState, ReadModel)>(1);
        let target = dir.clone();
        let thread = std::thread::Builder::new()
            .name("kaledger-checkpoint".to_string())
            .spawn(move || {
                for (state, read) in receiver {
                    let position = read.head_position();
                    match write(&target, &state, &read) {
                        Ok(path) => {
                            tracing::info!(position, path = %path.display(), "checkpoint written")
                        }
                        Err(e) => tracing::warn!(position, error = %e, "checkpoint not written"),
                    }
                }
            })?;
        Ok(Checkpointer {
            sender: Some(sender),
            thread: Some(thread),
            last_position,
            dir,
        })
    }

    /// True when [`CHECKPOINT_EVENTS`] events were applied since the last checkpoint.
    pub fn due(&self, head: u64) -> bool {
        head >= self.last_position.saturating_add(CHECKPOINT_EVENTS)
    }

    /// Hands copies of the state to the background thread.
    pub fn hand_over(&mut self, state: LedgerState, read: ReadModel) {
        let position = read.head_position();
        let Some(sender) = &self.sender else { return };
        match sender.try_send((state, read)) {
            Ok(()) => self.last_position = position,
            Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => self.sender = None,
        }
    }

    /// Waits for the background thread, then writes a checkpoint of the final state (a
    /// clean stop: the next start replays nothing).
    pub fn finish(&mut self, state: &LedgerState, read: &ReadModel) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if read.head_position() == 0 || read.head_position() == self.last_position {
            return;
        }
        match write(&self.dir, state, read) {
            Ok(_) => self.last_position = read.head_position(),
            Err(e) => tracing::warn!(error = %e, "checkpoint at stop not written"),
        }
    }
}
