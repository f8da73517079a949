//! sled storage of the log: tree `log` holds chunks of consecutive envelopes (key: first
//! position of the chunk, u64 BE), tree `idempotency` (scoped key → stored outcome).
//! An append puts a group in sled's memory (one batch per tree) and makes it durable with
//! one frame in the write-ahead file (`wal.rs`): one positional write and one `fdatasync`.
//! sled is flushed, followed by `sync_data` on its data file (DESIGN §4: sled's flush ends
//! in `sync_file_range`, which does not survive a power cut), when a WAL segment is full,
//! for a group too large for the WAL, and at a clean stop. Opening replays the frames
//! sled lacks, so every reader of a data directory sees every acknowledged group.
//!
//! Why chunks: sled 0.34 copies a whole leaf (up to 17 entries) on every insert, so one
//! entry per event cost ~7 µs of sled time per event and 3× the bytes on disk; chunks of
//! up to [`CHUNK_EVENTS_MAX`] envelopes cut both by ~10× (measured with
//! examples/sled_probe.rs) while leaves stay below sled's blob threshold (sled writes
//! blobs to separate files it does not fsync). A chunk never spans two groups, so an
//! append never rewrites an earlier chunk.
//!
//! Chunk format 1: `[0x01] ‖ body`, body = `(len u32 LE ‖ envelope bytes)*`.
//! Chunk format 2: `[0x02] ‖ body length u32 LE ‖ LZ4 block of the body` (docs/decisions.md:
//! envelopes in a chunk repeat their type, stream, actor and each other's hashes, and LZ4
//! cuts a chunk to ~0.43 of its size). Appends write format 2 unless it is not smaller;
//! both are read forever (data directories and backups carry chunks as stored).

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use super::codec::DECODE_BYTES_MAX;
use super::envelope::{Envelope, GENESIS_HASH, HASH_BYTES};
use super::wal::{self, Wal};

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
    #[error("the data directory is closed for reopening after a storage error; try again")]
    Closed,
}

/// Maps an IO error on `path` to [`LedgerError::Io`] (for `map_err`).
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Syncs a directory, so that files created or renamed in it survive a power cut.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

impl From<sled::Error> for LedgerError {
    fn from(e: sled::Error) -> Self {
        LedgerError::Storage(e.to_string())
    }
}

/// The last entry of the log: where the next append continues the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// How long the durable part of an append took: writing the group out (its WAL frame, or
/// sled's flush when the group went to sled directly or filled a segment) and the
/// `fdatasync` after it.
#[derive(Debug, Clone, Copy)]
pub struct AppendTimings {
    pub flush: Duration,
    pub sync: Duration,
}

/// The sled database of one data directory. It can be closed and opened again in place
/// ([`LogStore::reopen`]): after a failed flush sled 0.34 keeps the IO error and refuses
/// every later write until the database is opened again.
pub struct LogStore {
    /// None only while a reopen is in progress or failed.
    inner: RwLock<Option<Open>>,
    path: PathBuf,
    /// Bytes per WAL segment: [`wal::SEGMENT_BYTES`], smaller in tests.
    wal_segment_bytes: u64,
}

/// The open database.
struct Open {
    db: sled::Db,
    log: sled::Tree,
    idempotency: sled::Tree,
    /// sled's data file, opened once, to `sync_data` after each flush.
    data_file: File,
    /// The write-ahead file every group goes through (only the writer appends).
    wal: Mutex<Wal>,
}

/// sled's page cache (its default is 1 GiB, which a replay of a large log fills): the log
/// is read in order at start and by position afterwards, so a small cache serves it.
pub const LOG_CACHE_BYTES: u64 = 64 << 20;

/// Most envelopes in one sled entry: 16 × ~240 bytes keeps a full leaf (17 entries) near
/// 64 KiB, under sled's 128 KiB blob threshold at the default segment size.
pub const CHUNK_EVENTS_MAX: usize = 16;
/// Longest body (the `(len u32 LE ‖ envelope bytes)*` part) a chunk may hold: a full chunk
/// of envelopes at the decode limit. A compressed chunk claiming more is refused before
/// anything is allocated.
pub const CHUNK_BODY_BYTES_MAX: u64 = CHUNK_EVENTS_MAX as u64 * (DECODE_BYTES_MAX + 4);
/// The format byte of an uncompressed chunk.
const CHUNK_FORMAT_V1: u8 = 1;
/// The format byte of an LZ4-compressed chunk.
const CHUNK_FORMAT_LZ4: u8 = 2;
/// An LZ4 block expands at most 255× (one length byte adds at most 255 bytes of match):
/// a claimed body length beyond this many times the compressed bytes is damage.
const LZ4_EXPANSION_MAX: u64 = 256;

/// Encodes consecutive envelopes as one chunk: format 2 (LZ4) when that is smaller than
/// format 1, which it is for all but tiny or incompressible chunks.
fn encode_chunk(envelopes: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut chunk =
        Vec::with_capacity(1 + envelopes.iter().map(|(_, b)| b.len() + 4).sum::<usize>());
    chunk.push(CHUNK_FORMAT_V1);
    for (_, bytes) in envelopes {
        chunk.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        chunk.extend_from_slice(bytes);
    }
    let body = &chunk[1..];
    let compressed = lz4_flex::block::compress(body);
    if 1 + 4 + compressed.len() >= chunk.len() {
        return chunk;
    }
    let mut packed = Vec::with_capacity(1 + 4 + compressed.len());
    packed.push(CHUNK_FORMAT_LZ4);
    packed.extend_from_slice(&(body.len() as u32).to_le_bytes());
    packed.extend_from_slice(&compressed);
    packed
}

/// The body of a chunk: borrowed from a format-1 chunk, decompressed from a format-2 one
/// (after checking its claimed length against [`CHUNK_BODY_BYTES_MAX`] and what LZ4 can
/// expand to).
fn chunk_body(
    chunk: &[u8],
    corrupt: impl Fn(&str) -> LedgerError,
) -> Result<Cow<'_, [u8]>, LedgerError> {
    let (&format, rest) = chunk.split_first().ok_or_else(|| corrupt("empty"))?;
    match format {
        CHUNK_FORMAT_V1 => Ok(Cow::Borrowed(rest)),
        CHUNK_FORMAT_LZ4 => {
            let (len, compressed) = match rest.split_first_chunk::<4>() {
                Some((len, compressed)) => (u64::from(u32::from_le_bytes(*len)), compressed),
                None => return Err(corrupt("compressed body without its length")),
            };
            if len > CHUNK_BODY_BYTES_MAX || len > compressed.len() as u64 * LZ4_EXPANSION_MAX {
                return Err(corrupt(&format!(
                    "claims a body of {len} bytes from {} compressed",
                    compressed.len()
                )));
            }
            let mut body = vec![0; len as usize];
            match lz4_flex::block::decompress_into(compressed, &mut body) {
                Ok(n) if n == body.len() => Ok(Cow::Owned(body)),
                Ok(n) => Err(corrupt(&format!("body of {n} bytes, {len} claimed"))),
                Err(e) => Err(corrupt(&format!(
                    "compressed body does not decompress: {e}"
                ))),
            }
        }
        other => Err(corrupt(&format!("unknown format byte {other}"))),
    }
}

/// The envelopes of one chunk, framing checked: its body (borrowed from the stored chunk, or
/// decompressed) and where each envelope lies in it. Never empty.
#[derive(Debug)]
pub struct ChunkEntries<'a> {
    first: u64,
    body: Cow<'a, [u8]>,
    /// Start and end of each envelope in `body`, in position order.
    spans: Vec<(usize, usize)>,
}

impl ChunkEntries<'_> {
    /// The envelopes as (position, bytes), in position order.
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            position: self.first,
            body: &self.body,
            spans: self.spans.iter(),
        }
    }

    /// The last envelope as (position, bytes).
    pub fn last(&self) -> (u64, &[u8]) {
        let &(start, end) = self.spans.last().expect("a chunk is never empty");
        (
            self.first + self.spans.len() as u64 - 1,
            &self.body[start..end],
        )
    }

    /// How many envelopes the chunk holds (1 to [`CHUNK_EVENTS_MAX`]).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Always false: a chunk that holds no envelope does not decode.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl<'b> IntoIterator for &'b ChunkEntries<'_> {
    type Item = (u64, &'b [u8]);
    type IntoIter = ChunkIter<'b>;
    fn into_iter(self) -> ChunkIter<'b> {
        self.iter()
    }
}

/// The envelopes of a [`ChunkEntries`] as (position, bytes), in position order.
pub struct ChunkIter<'b> {
    position: u64,
    body: &'b [u8],
    spans: std::slice::Iter<'b, (usize, usize)>,
}

impl<'b> Iterator for ChunkIter<'b> {
    type Item = (u64, &'b [u8]);
    fn next(&mut self) -> Option<(u64, &'b [u8])> {
        let &(start, end) = self.spans.next()?;
        self.position += 1;
        Some((self.position - 1, &self.body[start..end]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

/// The envelopes of a chunk stored under `first` (format 1 or 2), framing checked; iterate
/// `&chunk_entries(..)?` for (position, bytes). Damage is [`LedgerError::Corrupt`].
pub fn chunk_entries(first: u64, chunk: &[u8]) -> Result<ChunkEntries<'_>, LedgerError> {
    let corrupt = |reason: &str| LedgerError::Corrupt {
        position: first,
        reason: format!("chunk: {reason}"),
    };
    let body = chunk_body(chunk, corrupt)?;
    let mut spans = Vec::with_capacity(CHUNK_EVENTS_MAX);
    let mut at = 0;
    while at < body.len() {
        if body.len() - at < 4 || spans.len() >= CHUNK_EVENTS_MAX {
            return Err(corrupt("bad framing"));
        }
        let len = u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]]);
        let start = at + 4;
        if body.len() - start < len as usize {
            return Err(corrupt("entry runs past the end"));
        }
        at = start + len as usize;
        spans.push((start, at));
    }
    if spans.is_empty() {
        return Err(corrupt("no entries"));
    }
    Ok(ChunkEntries { first, body, spans })
}

/// Splits a group's envelopes into chunk (key position, chunk bytes) pairs.
fn chunks_of(entries: &[(u64, Vec<u8>)]) -> Vec<(u64, Vec<u8>)> {
    entries
        .chunks(CHUNK_EVENTS_MAX)
        .map(|c| (c[0].0, encode_chunk(c)))
        .collect()
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

/// A read guard on an open database.
struct OpenGuard<'a>(RwLockReadGuard<'a, Option<Open>>);

impl std::ops::Deref for OpenGuard<'_> {
    type Target = Open;
    fn deref(&self) -> &Open {
        // `LogStore::db` hands out guards only over `Some`.
        self.0.as_ref().expect("checked open")
    }
}

/// Checks that the envelope stored at `position` continues the chain after `prev`: its
/// hash, that it decodes, its position, its link and an increasing `recorded_at`. Returns
/// the new head, or why the envelope breaks the chain. Used by `verify` and by backups.
pub fn next_link(prev: &Head, position: u64, bytes: &[u8]) -> Result<Head, String> {
    if !Envelope::hash_matches(bytes, &prev.hash, position) {
        return Err(
            "stored hash does not match SHA-256(prev_hash ‖ position ‖ envelope)".to_string(),
        );
    }
    let envelope = Envelope::open(bytes).map_err(|e| format!("envelope does not decode: {e}"))?;
    if envelope.position != position {
        return Err(format!("envelope says position {}", envelope.position));
    }
    if envelope.prev_hash != prev.hash {
        return Err("prev_hash does not link to the previous event".to_string());
    }
    if envelope.recorded_at_micros <= prev.recorded_at_micros {
        return Err("recorded_at does not increase".to_string());
    }
    Ok(Head {
        position,
        hash: envelope.hash,
        recorded_at_micros: envelope.recorded_at_micros,
    })
}

/// The last position stored in `log` (0 for an empty log), from its last chunk alone.
fn last_in(log: &sled::Tree) -> Result<u64, LedgerError> {
    match log.last()? {
        None => Ok(0),
        Some((k, v)) => Ok(chunk_entries(position_of(&k)?, &v)?.last().0),
    }
}

/// The chunks of a WAL frame re-cut to hold only the positions after `after` (sled holds
/// the frame's start).
fn chunks_after(chunks: &[(u64, Vec<u8>)], after: u64) -> Result<Vec<(u64, Vec<u8>)>, LedgerError> {
    let mut entries = Vec::new();
    for (first, chunk) in chunks {
        for (position, bytes) in &chunk_entries(*first, chunk)? {
            if position > after {
                entries.push((position, bytes.to_vec()));
            }
        }
    }
    Ok(chunks_of(&entries))
}

/// Puts a group in sled's trees (in memory until a flush): its chunks in one batch, its
/// idempotency records in another.
fn insert_group(
    db: &Open,
    chunks: &[(u64, Vec<u8>)],
    records: &[(Vec<u8>, Vec<u8>)],
) -> Result<(), LedgerError> {
    if !chunks.is_empty() {
        let mut batch = sled::Batch::default();
        for (first, chunk) in chunks {
            batch.insert(&key(*first), chunk.as_slice());
        }
        db.log.apply_batch(batch)?;
    }
    if !records.is_empty() {
        let mut batch = sled::Batch::default();
        for (k, v) in records {
            batch.insert(k.as_slice(), v.as_slice());
        }
        db.idempotency.apply_batch(batch)?;
    }
    Ok(())
}

impl LogStore {
    /// Opens sled and recovers from the WAL. The second result is the recovery's: when it
    /// failed, the database is open for reads and its WAL refuses writes.
    fn open_db(
        path: &Path,
        wal_segment_bytes: u64,
    ) -> Result<(Open, Result<(), LedgerError>), LedgerError> {
        let open = LogStore::open_sled(path, wal_segment_bytes)?;
        let recovered = LogStore::recover(path, &open, wal_segment_bytes);
        let mut wal = open.wal.lock().unwrap_or_else(|p| p.into_inner());
        let recovered = match recovered {
            Ok(recovered) => {
                *wal = recovered;
                Ok(())
            }
            Err(e) => {
                *wal = Wal::failed(path, wal_segment_bytes, e.to_string());
                Err(e)
            }
        };
        drop(wal);
        Ok((open, recovered))
    }

    /// Applies to sled every WAL frame past sled's head (the idempotency records of every
    /// frame that sled lacks, too), flushes and syncs sled, and returns the WAL ready for a
    /// new epoch. A frame that starts past the position after
    /// the log's end is [`LedgerError::Corrupt`]: positions would be missing.
    fn recover(path: &Path, db: &Open, wal_segment_bytes: u64) -> Result<Wal, LedgerError> {
        let mut applied = last_in(&db.log)?;
        let end = wal::scan(&path.join(wal::WAL_DIR), |frame| {
            let mut chunks = Vec::new();
            if frame.has_events() && frame.last > applied {
                if frame.first > applied + 1 {
                    return Err(LedgerError::Corrupt {
                        position: applied + 1,
                        reason: format!(
                            "the log ends at position {applied} and its write-ahead log continues at {}: positions {} to {} are in neither",
                            frame.first,
                            applied + 1,
                            frame.first - 1
                        ),
                    });
                }
                chunks = if frame.first > applied {
                    frame.chunks
                } else {
                    chunks_after(&frame.chunks, applied)?
                };
                applied = frame.last;
            }
            let mut records = Vec::new();
            for (k, v) in frame.records {
                if db.idempotency.get(&k)?.as_deref() != Some(v.as_slice()) {
                    records.push((k, v));
                }
            }
            insert_group(db, &chunks, &records)
        })?;
        // Always: sled may hold what an earlier process wrote but never synced (kill -9
        // keeps the page cache), and the next frames open a new epoch on the promise that
        // sled is durable through its head.
        LogStore::sync_sled(path, db)?;
        Ok(Wal::after(path, wal_segment_bytes, end))
    }

    fn open_sled(path: &Path, wal_segment_bytes: u64) -> Result<Open, LedgerError> {
        std::fs::create_dir_all(path).map_err(io_error(path))?;
        let db = sled::Config::new()
            .path(path)
            // Durability comes from our explicit flush per group, never from the timer.
            .flush_every_ms(None)
            .cache_capacity(LOG_CACHE_BYTES)
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
        let data_file = File::open(&data_path).map_err(io_error(&data_path))?;
        Ok(Open {
            db,
            log,
            idempotency,
            data_file,
            wal: Mutex::new(Wal::failed(
                path,
                wal_segment_bytes,
                "not recovered yet".to_string(),
            )),
        })
    }

    /// Opens (or creates) the data directory and replays into sled what its WAL holds
    /// beyond sled's head. A directory held by another process gives
    /// [`LedgerError::Locked`] with a message that says what to do.
    pub fn open(path: &Path) -> Result<LogStore, LedgerError> {
        LogStore::open_with_wal_segment(path, wal::SEGMENT_BYTES)
    }

    /// [`LogStore::open`] with WAL segments of `wal_segment_bytes` (tests use small ones
    /// to switch segments often).
    pub fn open_with_wal_segment(
        path: &Path,
        wal_segment_bytes: u64,
    ) -> Result<LogStore, LedgerError> {
        let (open, recovered) = LogStore::open_db(path, wal_segment_bytes)?;
        recovered?;
        Ok(LogStore {
            inner: RwLock::new(Some(open)),
            path: path.to_path_buf(),
            wal_segment_bytes,
        })
    }

    /// Closes the database and opens it again from what is on disk (sled's files, then
    /// the WAL), dropping whatever sled held only in memory (a group that was not made
    /// durable). Fails while another handle (an iterator still being read) keeps the old
    /// database open, or when the recovery cannot flush sled (a full disk): the database
    /// then serves reads and refuses writes; try again later.
    pub fn reopen(&self) -> Result<(), LedgerError> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        drop(inner.take());
        let (open, recovered) = LogStore::open_db(&self.path, self.wal_segment_bytes)?;
        *inner = Some(open);
        recovered
    }

    /// The open database, or [`LedgerError::Closed`].
    fn db(&self) -> Result<OpenGuard<'_>, LedgerError> {
        let guard = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(LedgerError::Closed);
        }
        Ok(OpenGuard(guard))
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last entry, or [`Head::EMPTY`].
    pub fn head(&self) -> Result<Head, LedgerError> {
        let last = self.db()?.log.last()?;
        match last {
            None => Ok(Head::EMPTY),
            Some((k, v)) => {
                let entries = chunk_entries(position_of(&k)?, &v)?;
                let (position, bytes) = entries.last();
                let envelope = Envelope::open(bytes).map_err(|e| LedgerError::Corrupt {
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

    /// The last position (0 for an empty log), from the last chunk alone.
    pub fn last_position(&self) -> Result<u64, LedgerError> {
        last_in(&self.db()?.log)
    }

    /// Durably appends a group: its envelopes in chunks in one sled batch, the idempotency
    /// records in another (in memory), then one WAL frame written and synced. A group too
    /// large for the WAL, or one that finds the current segment full, is made durable by
    /// flushing sled instead (and the WAL starts a new epoch). Returns only when all of it
    /// is on disk. After an error nothing of the group was acknowledged; whether it reached
    /// the disk is settled by [`LogStore::remove`] or, when that refuses, a reopen.
    pub fn append(
        &self,
        entries: &[(u64, Vec<u8>)],
        idempotency: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<AppendTimings, LedgerError> {
        let db = self.db()?;
        let mut wal = db.wal.lock().unwrap_or_else(|p| p.into_inner());
        wal.usable()?;
        let chunks = chunks_of(entries);
        insert_group(&db, &chunks, idempotency)?;
        let bytes = wal::frame_bytes(&chunks, idempotency);
        if wal.takes(bytes) && wal.fits(bytes) {
            let last = entries.last().map_or(0, |(position, _)| *position);
            let timings = wal.write(&chunks, idempotency, last)?;
            return Ok(AppendTimings {
                flush: timings.write,
                sync: timings.sync,
            });
        }
        // sled made durable takes this group and every frame before it.
        let timings = LogStore::sync_sled(&self.path, &db)?;
        let switch = !wal.fits(bytes);
        wal.sled_flushed(switch);
        Ok(timings)
    }

    /// Flushes sled and syncs its data file; used at shutdown and after a reopen.
    pub fn sync(&self) -> Result<AppendTimings, LedgerError> {
        let db = self.db()?;
        LogStore::sync_sled(&self.path, &db)
    }

    fn sync_sled(path: &Path, db: &Open) -> Result<AppendTimings, LedgerError> {
        let started = Instant::now();
        db.db.flush()?;
        let flushed = Instant::now();
        db.data_file
            .sync_data()
            .map_err(io_error(&path.join("db")))?;
        Ok(AppendTimings {
            flush: flushed - started,
            sync: flushed.elapsed(),
        })
    }

    /// The stored bytes of the envelope at a position.
    pub fn get(&self, position: u64) -> Result<Option<Vec<u8>>, LedgerError> {
        let found = self.db()?.log.range(..=key(position)).next_back();
        let Some((k, chunk)) = found.transpose()? else {
            return Ok(None);
        };
        let entries = chunk_entries(position_of(&k)?, &chunk)?;
        Ok(entries
            .iter()
            .find(|(p, _)| *p == position)
            .map(|(_, bytes)| bytes.to_vec()))
    }

    /// The envelope at a position, decoded (its hash is not checked: that is
    /// [`LogStore::verify`]). Every failure is [`LedgerError::Corrupt`] naming the
    /// position: one the log should hold (1 to its last) that is not stored, not decodable
    /// or says another position, and also one past the end of the log or 0, which a reader
    /// only asks for when its own state and the log disagree.
    pub fn envelope_at(&self, position: u64) -> Result<Envelope, LedgerError> {
        let corrupt = |reason: String| LedgerError::Corrupt { position, reason };
        let Some(bytes) = self.get(position)? else {
            let last = self.last_position()?;
            return Err(corrupt(if position == 0 {
                "there is no position 0; the log starts at 1".to_string()
            } else if position > last {
                format!("past the end of the log, which ends at position {last}")
            } else {
                format!("missing from the log, which ends at position {last}")
            }));
        };
        let envelope = Envelope::open(&bytes)
            .map_err(|e| corrupt(format!("envelope does not decode: {e}")))?;
        if envelope.position != position {
            return Err(corrupt(format!(
                "envelope says position {}",
                envelope.position
            )));
        }
        Ok(envelope)
    }

    /// Stored chunks from the one holding `from`, in position order: (first position, bytes).
    pub fn chunks_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), LedgerError>> {
        // The iterator keeps its own handle on the tree (so a reopen waits until it is done).
        let log = match self.db() {
            Ok(db) => Some(db.log.clone()),
            Err(_) => None,
        };
        let closed = log.is_none().then_some(Err(LedgerError::Closed));
        let start = match log
            .as_ref()
            .and_then(|l| l.range(..=key(from.max(1))).next_back())
        {
            Some(Ok((k, _))) => position_of(&k).unwrap_or(from),
            _ => from,
        };
        let items = log.map(|l| l.range(key(start)..)).into_iter().flatten();
        closed.into_iter().chain(items.map(|item| {
            let (k, v) = item?;
            Ok((position_of(&k)?, v))
        }))
    }

    /// Stored envelopes from `from` (inclusive) in position order, copied out of their chunks.
    pub fn iter_from(
        &self,
        from: u64,
    ) -> impl Iterator<Item = Result<(u64, Vec<u8>), LedgerError>> + '_ {
        self.chunks_from(from).flat_map(move |chunk| {
            let entries: Vec<Result<(u64, Vec<u8>), LedgerError>> = match chunk {
                Err(e) => vec![Err(e)],
                Ok((first, bytes)) => match chunk_entries(first, &bytes) {
                    Err(e) => vec![Err(e)],
                    Ok(entries) => entries
                        .iter()
                        .filter(|(p, _)| *p >= from)
                        .map(|(p, b)| Ok((p, b.to_vec())))
                        .collect(),
                },
            };
            entries
        })
    }

    /// Every idempotency record in key order, as stored (for backups). Records written
    /// while the iteration runs may or may not be seen.
    pub fn idempotency_records(
        &self,
    ) -> impl Iterator<Item = Result<(sled::IVec, sled::IVec), LedgerError>> {
        let tree = match self.db() {
            Ok(db) => Ok(db.idempotency.clone()),
            Err(e) => Err(e),
        };
        let (closed, tree) = match tree {
            Ok(tree) => (None, Some(tree)),
            Err(e) => (Some(Err(e)), None),
        };
        let items = tree.map(|t| t.iter()).into_iter().flatten();
        closed
            .into_iter()
            .chain(items.map(|item| item.map_err(LedgerError::from)))
    }

    /// Inserts stored chunks (first position, bytes as stored) and idempotency records as
    /// they are, in one batch each: a restore into a new data directory, which checked them
    /// first. Durable only after [`LogStore::sync`].
    pub fn insert_raw(
        &self,
        chunks: &[(u64, Vec<u8>)],
        idempotency: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), LedgerError> {
        let db = self.db()?;
        let mut batch = sled::Batch::default();
        for (first, chunk) in chunks {
            batch.insert(&key(*first), chunk.as_slice());
        }
        db.log.apply_batch(batch)?;
        let mut batch = sled::Batch::default();
        for (k, v) in idempotency {
            batch.insert(k.as_slice(), v.as_slice());
        }
        db.idempotency.apply_batch(batch)?;
        Ok(())
    }

    /// An idempotency record.
    pub fn idempotency_get(&self, key: &[u8]) -> Result<Option<sled::IVec>, LedgerError> {
        Ok(self.db()?.idempotency.get(key)?)
    }

    /// Bytes sled uses on disk.
    pub fn size_on_disk(&self) -> Result<u64, LedgerError> {
        Ok(self.db()?.db.size_on_disk()?)
    }

    /// Recomputes the chain from position 1 and names the first bad position: a gap,
    /// a chunk or envelope that does not decode, a broken link or hash, or a
    /// non-increasing timestamp.
    pub fn verify(&self) -> Result<VerifyReport, LedgerError> {
        self.verify_through(u64::MAX)
    }

    /// [`LogStore::verify`] of the positions up to `through` (a server verifies what it has
    /// acknowledged; entries after it belong to a group not yet, or never, made durable).
    pub fn verify_through(&self, through: u64) -> Result<VerifyReport, LedgerError> {
        let mut prev = Head::EMPTY;
        for chunk in self.chunks_from(1) {
            let (first, bytes) = chunk?;
            if first > through {
                break;
            }
            let expected = prev.position + 1;
            let broken = |first_bad_position: u64, reason: String, through: u64| {
                Ok(VerifyReport::Broken {
                    first_bad_position,
                    reason,
                    verified_through: through,
                })
            };
            if first != expected {
                return broken(
                    expected,
                    format!("position {expected} is missing (next stored is {first})"),
                    prev.position,
                );
            }
            let entries = match chunk_entries(first, &bytes) {
                Ok(entries) => entries,
                Err(e) => return broken(expected, e.to_string(), prev.position),
            };
            for (position, bytes) in &entries {
                if position > through {
                    break;
                }
                match next_link(&prev, position, bytes) {
                    Ok(head) => prev = head,
                    Err(reason) => return broken(position, reason, prev.position),
                }
            }
        }
        Ok(VerifyReport::Ok {
            verified_through: prev.position,
            head_hash: prev.hash,
        })
    }

    /// Removes the entries of a group that failed to become durable (never acknowledged):
    /// the same `entries` that were given to [`LogStore::append`]. Refused after a failed
    /// WAL write (its frame may be on disk, and the positions must not be reused before a
    /// reopen has settled that).
    pub fn remove(
        &self,
        entries: &[(u64, Vec<u8>)],
        idempotency_keys: &[Vec<u8>],
    ) -> Result<(), LedgerError> {
        let db = self.db()?;
        db.wal.lock().unwrap_or_else(|p| p.into_inner()).usable()?;
        let mut batch = sled::Batch::default();
        for (first, _) in chunks_of(entries) {
            batch.remove(&key(first));
        }
        db.log.apply_batch(batch)?;
        let mut batch = sled::Batch::default();
        for k in idempotency_keys {
            batch.remove(k.as_slice());
        }
        db.idempotency.apply_batch(batch)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Actor;
    use sha2::Digest;

    /// A sealed envelope that says it is at `says`, and its stored bytes.
    fn sealed(says: u64) -> (Envelope, Vec<u8>) {
        let mut envelope = Envelope {
            event_type: "Probe".to_string(),
            schema_version: 1,
            position: says,
            stream: "probe".to_string(),
            stream_version: says,
            event_id: uuid::Uuid::from_u128(u128::from(says)),
            recorded_at_micros: 1_000 + says as i64,
            actor: Actor {
                name: "test".to_string(),
                role: "admin".to_string(),
            },
            idempotency_key: None,
            request_id: format!("r{says}"),
            payload: vec![says as u8; 3],
            prev_hash: GENESIS_HASH,
            hash: [0; HASH_BYTES],
        };
        let bytes = envelope.seal();
        (envelope, bytes)
    }

    /// The position and reason of a `Corrupt` error; panics on anything else.
    fn corrupt_at(result: Result<Envelope, LedgerError>) -> (u64, String) {
        match result {
            Err(LedgerError::Corrupt { position, reason }) => (position, reason),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn envelope_at_reads_a_stored_envelope_and_names_a_position_it_cannot() {
        // Proves envelope_at gives back the envelope stored at a position, and that a
        // position the log lacks below its end, one past its end, 0, an envelope that
        // does not decode and one that says another position are each `Corrupt` at the
        // position asked for, saying which.
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let (position, reason) = corrupt_at(store.envelope_at(1));
        assert_eq!(position, 1);
        assert!(reason.contains("past the end") && reason.ends_with("position 0"));
        let (one, one_bytes) = sealed(1);
        let (two, two_bytes) = sealed(2);
        let (four, four_bytes) = sealed(4);
        store
            .append(&[(1, one_bytes), (2, two_bytes)], &[])
            .unwrap();
        store.append(&[(4, four_bytes)], &[]).unwrap();
        assert_eq!(store.envelope_at(1).unwrap(), one);
        assert_eq!(store.envelope_at(2).unwrap(), two);
        assert_eq!(store.envelope_at(4).unwrap(), four);
        let (position, reason) = corrupt_at(store.envelope_at(3));
        assert_eq!(position, 3);
        assert!(reason.contains("missing") && reason.ends_with("position 4"));
        let (position, reason) = corrupt_at(store.envelope_at(5));
        assert_eq!(position, 5);
        assert!(reason.contains("past the end") && reason.ends_with("position 4"));
        let (position, reason) = corrupt_at(store.envelope_at(0));
        assert_eq!(position, 0);
        assert!(reason.contains("no position 0"));
        let (_, says_seven) = sealed(7);
        store
            .append(&[(5, says_seven), (6, vec![9, 9, 9])], &[])
            .unwrap();
        let (position, reason) = corrupt_at(store.envelope_at(5));
        assert_eq!(position, 5);
        assert_eq!(reason, "envelope says position 7");
        let (position, reason) = corrupt_at(store.envelope_at(6));
        assert_eq!(position, 6);
        assert!(reason.starts_with("envelope does not decode"));
    }

    /// A format-1 chunk of `envelopes`, built by hand (what earlier versions stored).
    fn format_1_chunk(envelopes: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut chunk = vec![CHUNK_FORMAT_V1];
        for (_, bytes) in envelopes {
            chunk.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            chunk.extend_from_slice(bytes);
        }
        chunk
    }

    /// Every envelope of the chunks, copied out, in order.
    fn read_back(chunks: &[(u64, Vec<u8>)]) -> Vec<(u64, Vec<u8>)> {
        let mut back = Vec::new();
        for (first, bytes) in chunks {
            let entries = chunk_entries(*first, bytes).unwrap();
            assert_eq!(entries.last(), entries.iter().last().unwrap());
            back.extend(entries.iter().map(|(p, b)| (p, b.to_vec())));
        }
        back
    }

    /// The `Corrupt` reason of a chunk that must not decode.
    fn refused(first: u64, chunk: &[u8]) -> String {
        match chunk_entries(first, chunk) {
            Err(LedgerError::Corrupt { position, reason }) => {
                assert_eq!(position, first);
                reason
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn chunks_round_trip_and_refuse_bad_framing() {
        // Proves a group splits into chunks of at most CHUNK_EVENTS_MAX that give back every
        // envelope at its position, that format-1 chunks (written by earlier versions) still
        // read, and that broken framing is an error, not a panic.
        let entries: Vec<(u64, Vec<u8>)> = (10..50)
            .map(|p| (p, vec![p as u8; (p % 7) as usize + 1]))
            .collect();
        let chunks = chunks_of(&entries);
        assert_eq!(chunks.len(), 3);
        assert_eq!(read_back(&chunks), entries);
        let format_1: Vec<(u64, Vec<u8>)> = entries
            .chunks(CHUNK_EVENTS_MAX)
            .map(|c| (c[0].0, format_1_chunk(c)))
            .collect();
        assert_eq!(read_back(&format_1), entries);
        let (first, bytes) = &format_1[0];
        assert_eq!(
            chunk_entries(*first, bytes).unwrap().len(),
            CHUNK_EVENTS_MAX
        );
        for cut in 0..bytes.len() {
            let _ = chunk_entries(*first, &bytes[..cut]);
        }
        assert!(chunk_entries(1, &[]).is_err());
        assert!(chunk_entries(1, &[3]).is_err());
        assert!(chunk_entries(1, &[1]).is_err());
        assert!(chunk_entries(1, &[1, 9, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn compressed_chunks_round_trip_and_refuse_damage() {
        // Proves real envelopes are stored as format-2 chunks under 2/3 of their format-1
        // size and read back exactly; incompressible ones stay format 1; and a damaged
        // format-2 chunk (cut short, a changed byte, a claimed length that is wrong or
        // beyond the limits) is `Corrupt` or other bytes, never a panic or a huge
        // allocation.
        let entries: Vec<(u64, Vec<u8>)> = (1..=40).map(|p| (p, sealed(p).1)).collect();
        let chunks = chunks_of(&entries);
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|(_, c)| c[0] == CHUNK_FORMAT_LZ4));
        let plain: usize = entries.iter().map(|(_, b)| b.len() + 4).sum::<usize>() + 3;
        let packed: usize = chunks.iter().map(|(_, c)| c.len()).sum();
        assert!(packed * 3 < plain * 2, "{packed} of {plain} bytes");
        assert_eq!(read_back(&chunks), entries);

        let noise: Vec<(u64, Vec<u8>)> = (1..=16)
            .map(|p| (p, sha2::Sha256::digest([p as u8]).to_vec()))
            .collect();
        let noisy = chunks_of(&noise);
        assert_eq!(noisy[0].1[0], CHUNK_FORMAT_V1);
        assert_eq!(read_back(&noisy), noise);

        let (first, chunk) = &chunks[0];
        for cut in 0..chunk.len() {
            refused(*first, &chunk[..cut]);
        }
        for at in 0..chunk.len() {
            let mut damaged = chunk.clone();
            damaged[at] ^= 0x5a;
            if let Ok(read) = chunk_entries(*first, &damaged) {
                assert!(read.len() <= CHUNK_EVENTS_MAX);
            }
        }
        let claim = |len: u32| {
            let mut damaged = chunk.clone();
            damaged[1..5].copy_from_slice(&len.to_le_bytes());
            damaged
        };
        let body_len = u32::from_le_bytes(chunk[1..5].try_into().unwrap());
        assert!(refused(*first, &claim(u32::MAX)).contains("claims a body of"));
        let beyond_lz4 = (chunk.len() - 5) as u32 * LZ4_EXPANSION_MAX as u32 + 1;
        assert!(refused(*first, &claim(beyond_lz4)).contains("claims a body of"));
        refused(*first, &claim(body_len - 1));
        refused(*first, &claim(body_len + 1));
        assert!(u64::from(u32::MAX) > CHUNK_BODY_BYTES_MAX);
        assert!(refused(1, &[CHUNK_FORMAT_LZ4, 0, 0, 0]).contains("without its length"));
        refused(1, &[CHUNK_FORMAT_LZ4, 0, 0, 0, 0]);
    }

    #[test]
    fn a_log_mixing_chunk_formats_reads_and_verifies() {
        // Proves a data directory whose first chunks are format 1 (stored by an earlier
        // version) and whose later ones are format 2 verifies, and reads every envelope.
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let mut prev = Head::EMPTY;
        let mut entries = Vec::new();
        for position in 1..=40 {
            let (mut envelope, _) = sealed(position);
            envelope.prev_hash = prev.hash;
            let bytes = envelope.seal();
            prev = next_link(&prev, position, &bytes).unwrap();
            entries.push((position, bytes));
        }
        let (old, new) = entries.split_at(20);
        let old_chunks: Vec<(u64, Vec<u8>)> = old
            .chunks(CHUNK_EVENTS_MAX)
            .map(|c| (c[0].0, format_1_chunk(c)))
            .collect();
        store.insert_raw(&old_chunks, &[]).unwrap();
        store.append(new, &[]).unwrap();
        let formats: Vec<u8> = store.chunks_from(1).map(|c| c.unwrap().1[0]).collect();
        assert_eq!(formats, [1, 1, 2, 2]);
        assert_eq!(
            store.verify().unwrap(),
            VerifyReport::Ok {
                verified_through: 40,
                head_hash: prev.hash
            }
        );
        assert_eq!(store.head().unwrap(), prev);
        assert_eq!(store.last_position().unwrap(), 40);
        let all: Vec<(u64, Vec<u8>)> = store.iter_from(1).map(Result::unwrap).collect();
        assert_eq!(all, entries);
        for (position, bytes) in &entries {
            assert_eq!(store.get(*position).unwrap().as_ref(), Some(bytes));
        }
    }

    /// `n` chained envelopes from position 1, as stored, and the head after them.
    fn chain(n: u64) -> (Vec<(u64, Vec<u8>)>, Head) {
        let mut prev = Head::EMPTY;
        let mut entries = Vec::new();
        for position in 1..=n {
            let (mut envelope, _) = sealed(position);
            envelope.prev_hash = prev.hash;
            let bytes = envelope.seal();
            prev = next_link(&prev, position, &bytes).unwrap();
            entries.push((position, bytes));
        }
        (entries, prev)
    }

    /// Copies a data directory (sled's files and the WAL) as a crash would leave it: sled
    /// not flushed.
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    /// Appends `entries` in groups of `sizes` (cycled), each with one idempotency record
    /// named after its first position; returns the records.
    fn append_groups(
        store: &LogStore,
        entries: &[(u64, Vec<u8>)],
        sizes: &[usize],
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut records = Vec::new();
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at == entries.len() {
                break;
            }
            let group = &entries[at..(at + size).min(entries.len())];
            let record = (format!("key-{}", group[0].0).into_bytes(), vec![7; 5]);
            store.append(group, std::slice::from_ref(&record)).unwrap();
            records.push(record);
            at += group.len();
        }
        records
    }

    fn assert_holds(store: &LogStore, entries: &[(u64, Vec<u8>)], head: Head) {
        assert_eq!(
            store.verify().unwrap(),
            VerifyReport::Ok {
                verified_through: head.position,
                head_hash: head.hash
            }
        );
        let all: Vec<(u64, Vec<u8>)> = store.iter_from(1).map(Result::unwrap).collect();
        assert_eq!(all, entries);
    }

    #[test]
    fn acknowledged_groups_come_back_from_the_wal_after_a_kill() {
        // Proves that when sled's files are as of its last flush (what a power cut leaves:
        // sled's later writes were never synced) and the WAL as written, the data
        // directory opens with every appended event, the same hashes and every
        // idempotency record, through segment switches and groups too large for a segment
        // (written to sled directly); and that appends continue and recover again.
        let dir = tempfile::tempdir().unwrap();
        let segment = 8 << 10;
        let store = LogStore::open_with_wal_segment(dir.path(), segment).unwrap();
        let (entries, head) = chain(640);
        let mut records = append_groups(&store, &entries[..600], &[1, 3, 1, 2, 200, 1, 5]);
        store.sync().unwrap();
        let crashed = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), crashed.path());
        std::fs::remove_dir_all(crashed.path().join(wal::WAL_DIR)).unwrap();
        // At most one segment switch after sled's copy: its frames are all in the WAL.
        records.extend(append_groups(&store, &entries[600..612], &[1]));
        copy_dir(
            &dir.path().join(wal::WAL_DIR),
            &crashed.path().join(wal::WAL_DIR),
        );
        drop(store);

        let recovered = LogStore::open_with_wal_segment(crashed.path(), segment).unwrap();
        let (_, at_612) = chain(612);
        assert_holds(&recovered, &entries[..612], at_612);
        assert_eq!(recovered.head().unwrap(), at_612);
        for (k, v) in &records {
            let stored = recovered.idempotency_get(k).unwrap();
            assert_eq!(stored.as_deref(), Some(&v[..]));
        }
        append_groups(&recovered, &entries[612..], &[4]);
        let again = tempfile::tempdir().unwrap();
        copy_dir(crashed.path(), again.path());
        drop(recovered);
        let store = LogStore::open_with_wal_segment(again.path(), segment).unwrap();
        assert_holds(&store, &entries, head);
    }

    #[test]
    fn a_torn_last_frame_is_dropped_and_the_groups_before_it_recover() {
        // Proves a last WAL frame cut short (power lost during its write: never
        // acknowledged) is ignored, and every group before it recovers and verifies.
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let (entries, _) = chain(30);
        append_groups(&store, &entries[..29], &[2, 1]);
        let (segment, before_last) = store.db().unwrap().wal.lock().unwrap().next_frame_at();
        store.append(&entries[29..], &[]).unwrap();
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        drop(store);
        let path = copy
            .path()
            .join(wal::WAL_DIR)
            .join(format!("wal-{segment}"));
        let file = File::options().write(true).open(path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, &[0; 64], before_last + 40).unwrap();
        let recovered = LogStore::open(copy.path()).unwrap();
        let (_, head) = chain(29);
        assert_holds(&recovered, &entries[..29], head);
    }

    #[test]
    fn a_gap_between_sled_and_the_wal_is_corruption() {
        // Proves that a WAL whose first event lies past the position after sled's head
        // (positions in neither) refuses to open with `Corrupt` at the first missing
        // position, instead of a log with a hole.
        let dir = tempfile::tempdir().unwrap();
        let (entries, _) = chain(8);
        let mut wal = Wal::after(
            dir.path(),
            wal::SEGMENT_BYTES,
            wal::ScanEnd {
                epoch: 0,
                newest: None,
            },
        );
        wal.write(&chunks_of(&entries[4..]), &[], 8).unwrap();
        match LogStore::open(dir.path()) {
            Err(LedgerError::Corrupt { position, reason }) => {
                assert_eq!(position, 1);
                assert!(reason.contains("positions 1 to 4"), "{reason}");
            }
            other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn a_failed_wal_write_refuses_writes_until_a_reopen() {
        // Proves that after a frame's write fails the store refuses appends and removals
        // (the frame may be on disk; its positions must not be reused), that a reopen
        // recovers from what the disk holds and appends resume, and the chain verifies.
        let dir = tempfile::tempdir().unwrap();
        let store = LogStore::open(dir.path()).unwrap();
        let (entries, head) = chain(3);
        store.append(&entries[..1], &[]).unwrap();
        store
            .db()
            .unwrap()
            .wal
            .lock()
            .unwrap()
            .break_current_segment();
        assert!(store.append(&entries[1..2], &[]).is_err());
        assert!(store.remove(&entries[1..2], &[]).is_err());
        assert!(store.append(&entries[1..2], &[]).is_err());
        store.reopen().unwrap();
        // The refused group was never acknowledged; sled, healthy, may have written it
        // when it closed (as a restart would keep whatever reached the disk).
        let kept = store.last_position().unwrap();
        assert!(kept == 1 || kept == 2, "{kept}");
        store.append(&entries[kept as usize..], &[]).unwrap();
        assert_holds(&store, &entries, head);
    }
}
