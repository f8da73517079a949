//! sled storage of the log: one tree `log` (position u64 BE → envelope bytes) and one tree
//! `idempotency` (scoped key → stored outcome). Appends are one sled batch per group,
//! one `flush`, then `sync_data` on sled's data file (DESIGN §4: sled's flush ends in
//! `sync_file_range`, which does not survive a power cut).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::envelope::{Envelope, GENESIS_HASH, HASH_BYTES};

/// Why the log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("data directory {path} is in use by another process (a running `kaledger serve`?); stop it, or use the HTTP API")]
    Locked { path: PathBuf },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("io error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt log at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    #[error("the writer has stopped")]
    WriterStopped,
}

impl From<sled::Error> for LedgerError {
    fn from(e: sled::Error) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

/// The last entry of the log: where the next append continues the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: u64,
    pub hash: [u8; HASH_BYTES],
    pub recorded_at_micros: i64,
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        position: 0,
        hash: GENESIS_HASH,
        recorded_at_micros: 0,
    };
}

/// Result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    Ok {
        verified_through: u64,
        head_hash: [u8; HASH_BYTES],
    },
    Broken {
        first_bad_position: u64,
        reason: String,
        verified_through: u64,
    },
}

/// How long the durable part of an append took.
#[derive(Debug, Clone, Copy)]
pub struct AppendTimings {
    pub flush: Duration,
    pub sync: Duration,
}

/// The sled database of one data directory.
pub struct LogStore {
    db: sled::Db,
    log: sled::Tree,
    idempotency: sled::Tree,
    /// sled's data file, opened once, to `sync_data` after each flush.
    data_file: File,
    path: PathBuf,
}

fn key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

fn position_of(key: &[u8]) -> Result<u64, LedgerError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| LedgerError::Corrupt {
        position: 0,
        reason: format!("log key of {} bytes", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

impl LogStore {
    /// Opens (or creates) the data directory. A directory held by another process gives
    /// [`LedgerError::Locked`] with a message that says what to do.
    pub fn open(path: &Path) -> Result<LogStore, LedgerError> {
        std::fs::create_dir_all(path).map_err(|source| LedgerError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let db = sled::Config::new()
            .path(path)
            // Durability comes from our explicit flush per group, never from the timer.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    LedgerError::Locked {
                        path: path.to_path_buf(),
                    }
                }
                other => LedgerError::from(other),
            })?;
        let log = db.open_tree("log")?;
        let idempotency = db.open_tree("idempotency")?;
        let data_path = path.join("db");
        let data_file = File::open(&data_path).map_err(|source| LedgerError::Io {
            path: data_path,
            source,
        })?;
        Ok(LogStore {
            db,
            log,
            idempotency,
            data_file,
            path: path.to_path_buf(),
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last entry, or [`Head::EMPTY`].
    pub fn head(&self) -> Result<Head, LedgerError> {
        match self.log.last()? {
            None => Ok(Head::EMPTY),
            Some((k, v)) => {
                let position = position_of(&k)?;
                let envelope = Envelope::open(&v).map_err(|e| LedgerError::Corrupt {
                    position,
                    reason: e.to_string(),
                })?;
                Ok(Head {
                    position,
                    hash: envelope.hash,
                    recorded_at_micros: envelope.recorded_at_micros,
                })
            }
        }
    }

    /// The last position (0 for an empty log), read from the last key alone.
    pub fn last_position(&self) -> Result<u64, LedgerError> {
        match self.log.last()? {
            None => Ok(0),
            Some((k, _)) => position_of(&k),
        }
    }

    /// Durably appends a group: one sled batch for the log, one for idempotency records,
    /// one flush, one `sync_data`. Returns only when all of it is on disk.
    pub fn append(
        &self,
        entries: &[(u64, Vec<u8>)],
        idempotency: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<AppendTimings, LedgerError> {
        if !entries.is_empty() {
            let mut batch = sled::Batch::default();
            for (position, bytes) in entries {
                batch.insert(&key(*position), bytes.as_slice());
            }
            self.log.apply_batch(batch)?;
        }
        if !idempotency.is_empty() {
            let mut batch = sled::Batch::default();
            for (k, v) in idempotency {
                batch.insert(k.as_slice(), v.as_slice());
            }
            self.idempotency.apply_batch(batch)?;
        }
        self.sync()
    }

    /// Flushes sled and syncs its data file; used after appends and at shutdown.
    pub fn sync(&self) -> Result<AppendTimings, LedgerError> {
        let started = Instant::now();
        self.db.flush()?;
        let flushed = Instant::now();
        self.data_file
            .sync_data()
            .map_err(|source| LedgerError::Io {
                path: self.path.join("db"),
                source,
            })?;
        Ok(AppendTimings {
            flush: flushed - started,
            sync: flushed.elapsed(),
        })
    }

    /// The stored bytes at a position.
    pub fn get(&self, position: u64) -> Result<Option<sled::IVec>, LedgerError> {
        Ok(self.log.get(key(position))?)
    }

    /// Stored entries from `from` (inclusive) in position order.
    pub fn iter_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), LedgerError>> {
        self.log.range(key(from)..).map(|item| {
            let (k, v) = item?;
            Ok((position_of(&k)?, v))
        })
    }

    /// An idempotency record.
    pub fn idempotency_get(&self, key: &[u8]) -> Result<Option<sled::IVec>, LedgerError> {
        Ok(self.idempotency.get(key)?)
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> Result<u64, LedgerError> {
        Ok(self.db.size_on_disk()?)
    }

    /// Recomputes the chain from position 1 and names the first bad position: a gap,
    /// bytes that do not decode, a broken link or hash, or a non-increasing timestamp.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        let mut prev = Head::EMPTY;
        for item in self.log.iter() {
            let expected = prev.position + 1;
            let (k, bytes) = item?;
            let position = position_of(&k)?;
            let broken = |reason: String| {
                Ok(VerifyReport::Broken {
                    first_bad_position: expected,
                    reason,
                    verified_through: prev.position,
                })
            };
            if position != expected {
                return broken(format!(
                    "position {expected} is missing (next stored is {position})"
                ));
            }
            if !Envelope::hash_matches(&bytes, &prev.hash, position) {
                return broken(
                    "stored hash does not match SHA-256(prev_hash ‖ position ‖ envelope)"
                        .to_string(),
                );
            }
            let envelope = match Envelope::open(&bytes) {
                Ok(e) => e,
                Err(e) => return broken(format!("envelope does not decode: {e}")),
            };
            if envelope.position != position {
                return broken(format!("envelope says position {}", envelope.position));
            }
            if envelope.prev_hash != prev.hash {
                return broken("prev_hash does not link to the previous event".to_string());
            }
            if envelope.recorded_at_micros <= prev.recorded_at_micros {
                return broken("recorded_at does not increase".to_string());
            }
            prev = Head {
                position,
                hash: envelope.hash,
                recorded_at_micros: envelope.recorded_at_micros,
            };
        }
        Ok(VerifyReport::Ok {
            verified_through: prev.position,
            head_hash: prev.hash,
        })
    }
}

impl LogStore {
    /// Removes entries of a group that failed to become durable (never acknowledged).
    pub fn remove(
        &self,
        positions: &[u64],
        idempotency_keys: &[Vec<u8>],
    ) -> Result<(), LedgerError> {
        let mut batch = sled::Batch::default();
        for position in positions {
            batch.remove(&key(*position));
        }
        self.log.apply_batch(batch)?;
        let mut batch = sled::Batch::default();
        for k in idempotency_keys {
            batch.remove(k.as_slice());
        }
        self.idempotency.apply_batch(batch)?;
        Ok(())
    }
}
