//! Backups of a ledger, running or stopped, and their restore and check. The file format
//! is `ledger::backup`; this layer adds what the log alone cannot know: the projections
//! digest at the backup position, and which idempotency records belong to it.

use std::io::{Read, Write};

use super::idempotency::IdempotencyRecord;
use super::{replay, replay_chunks, Engine, LineHome, Replayed};
use crate::ledger::backup::{
    write_backup as write_file, BackupCounts, BackupError, BackupHeader, BackupReader, BackupRecord,
};
use crate::ledger::codec;
use crate::ledger::envelope::hash_hex;
use crate::ledger::store::Head;
use crate::ledger::LogStore;

/// The HTTP header of `GET /v1/admin/backup` that names the backup's last position (the
/// server sets it, `kaledger backup --url` reads it; here so that the CLI needs no `api`).
pub const BACKUP_POSITION_HEADER: &str = "kaledger-backup-position";
/// The HTTP header that names the hash of the backup's last event.
pub const BACKUP_HEAD_HASH_HEADER: &str = "kaledger-backup-head-hash";

/// Records (chunks and idempotency records) a restore writes per sled batch.
const RESTORE_BATCH_RECORDS: usize = 1024;
/// Bytes a restore gathers at most before writing a batch (one chunk can be large).
const RESTORE_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// Where a backup stands: an acknowledged head and the projections digest at it.
#[derive(Debug, Clone)]
pub struct BackupPoint {
    pub head: Head,
    pub digest: String,
}

impl BackupPoint {
    /// The point of a replayed (stopped) ledger: its whole log.
    pub fn of(replayed: &Replayed) -> BackupPoint {
        BackupPoint {
            head: replayed.head,
            digest: replayed.read.digest(),
        }
    }

    fn header(&self) -> BackupHeader {
        BackupHeader {
            position: self.head.position,
            head_hash: self.head.hash,
            created_at_micros: chrono::Utc::now().timestamp_micros(),
            digest: Some(self.digest.clone()),
        }
    }
}

impl Engine {
    /// The acknowledged head and the projections digest at it, read under one read guard:
    /// the writer applies a group to the read models only once it is durable, so the
    /// read models' head is acknowledged and every chunk up to it is on disk.
    pub fn backup_point(&self) -> BackupPoint {
        let read = self.read();
        BackupPoint {
            head: read.head(),
            digest: read.digest(),
        }
    }
}

/// True when a stored idempotency record belongs in a backup through `through`: its
/// request recorded events, all at or before `through`. A record of a later request
/// would replay an answer whose events the backup lacks; a record of a request that
/// recorded nothing cannot be placed, and without it a retry is simply decided again
/// (recording nothing again when its lines are in the log).
fn idempotency_within(value: &[u8], through: u64) -> bool {
    codec::decode::<IdempotencyRecord>(value)
        .ok()
        .and_then(|record| record.outcome.last_position)
        .is_some_and(|last| last <= through)
}

/// Writes a backup of `store` through `point` to `out`; the log may grow meanwhile.
pub fn write_backup<W: Write>(
    store: &LogStore,
    point: &BackupPoint,
    out: W,
) -> Result<BackupCounts, BackupError> {
    let through = point.head.position;
    write_file(
        store,
        &point.header(),
        |value| idempotency_within(value, through),
        out,
    )
}

/// What a backup proved when it was read through and replayed.
#[derive(Debug, Clone)]
pub struct CheckedBackup {
    pub header: BackupHeader,
    pub counts: BackupCounts,
    /// The projections digest of the replayed backup.
    pub digest: String,
}

/// Compares a replay with the header: the same head and, when the header has one, the
/// same projections digest.
fn compare(header: &BackupHeader, replayed: &Replayed) -> Result<String, BackupError> {
    let verified_through = replayed.head.position;
    if replayed.head.position != header.position || replayed.head.hash != header.head_hash {
        return Err(BackupError::Damaged {
            verified_through,
            reason: format!(
                "the replay ends at {} with hash {}, the header says {} with {}",
                replayed.head.position,
                hash_hex(&replayed.head.hash),
                header.position,
                hash_hex(&header.head_hash)
            ),
        });
    }
    let digest = replayed.read.digest();
    match &header.digest {
        Some(stated) if *stated != digest => Err(BackupError::Damaged {
            verified_through,
            reason: format!(
                "the projections digest replayed at position {} is {digest}, the backup says {stated}",
                header.position
            ),
        }),
        _ => Ok(digest),
    }
}

/// Reads a backup through (header, chain from position 1, framing, trailer) and replays
/// it in memory, comparing the head and the projections digest with the header's.
/// Writes nothing.
pub fn check_backup<R: Read + Send>(input: R) -> Result<CheckedBackup, BackupError> {
    let mut reader = BackupReader::open(input)?;
    let header = reader.header().clone();
    let home = LineHome::temporary(&std::env::temp_dir())?;
    let replayed = replay_chunks(reader.chunks(), &home, u64::MAX);
    // The reader's own error names the damage better than the replay's wrapper of it.
    if let Some(error) = reader.take_error() {
        return Err(error);
    }
    let replayed = replayed?;
    if !reader.finished() {
        return Err(BackupError::Damaged {
            verified_through: reader.verified_through(),
            reason: "the replay stopped before the trailer".to_string(),
        });
    }
    let digest = compare(&header, &replayed)?;
    Ok(CheckedBackup {
        header,
        counts: reader.counts(),
        digest,
    })
}

/// Restores a backup into `store`, a new and empty data directory: every chunk and
/// idempotency record exactly as stored, each checked as it is read; then syncs, replays
/// the store and compares its head and digest with the header's. On an error the store
/// holds part of the backup: the caller discards it.
pub fn restore_backup<R: Read>(input: R, store: &LogStore) -> Result<CheckedBackup, BackupError> {
    let mut reader = BackupReader::open(input)?;
    let header = reader.header().clone();
    if store.last_position()? != 0 {
        return Err(BackupError::NotABackup(format!(
            "the target {} already holds a log",
            store.path().display()
        )));
    }
    let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut records: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut pending_bytes = 0;
    while let Some(record) = reader.next_record()? {
        match record {
            BackupRecord::Chunk { first, bytes } => {
                pending_bytes += bytes.len();
                chunks.push((first, bytes));
            }
            BackupRecord::Idempotency { key, value } => {
                pending_bytes += key.len() + value.len();
                records.push((key, value));
            }
        }
        if chunks.len() + records.len() >= RESTORE_BATCH_RECORDS
            || pending_bytes >= RESTORE_BATCH_BYTES
        {
            store.insert_raw(&chunks, &records)?;
            chunks.clear();
            records.clear();
            pending_bytes = 0;
        }
    }
    store.insert_raw(&chunks, &records)?;
    store.sync()?;
    let replayed = replay(store, &LineHome::of_data_dir(store)?)?;
    let digest = compare(&header, &replayed)?;
    Ok(CheckedBackup {
        header,
        counts: reader.counts(),
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::WriteOutcome;

    fn record(last_position: Option<u64>) -> Vec<u8> {
        codec::encode(&IdempotencyRecord {
            fingerprint: [7; 32],
            outcome: WriteOutcome {
                recorded: last_position.map_or(0, |_| 2),
                duplicates: 0,
                first_position: last_position.map(|p| p - 1),
                last_position,
                replayed: false,
            },
        })
    }

    #[test]
    fn a_backup_keeps_the_idempotency_records_of_its_own_events() {
        // Proves a backup through N keeps the record of a request whose events end at or
        // before N, and leaves out one whose events come later, one that recorded nothing,
        // and bytes that are not a record.
        assert!(idempotency_within(&record(Some(5)), 5));
        assert!(idempotency_within(&record(Some(5)), 9));
        assert!(!idempotency_within(&record(Some(6)), 5));
        assert!(!idempotency_within(&record(None), 5));
        assert!(!idempotency_within(b"not a record", 5));
    }
}
