//! Backup files: a copy of the log as of one acknowledged position, written while the log
//! grows, and read back with every check a restore needs.
//!
//! Consistent without stopping writers: the log is append-only, a chunk never spans two
//! groups, and a group is on disk before its head is acknowledged. So for a head N
//! captured at the start, the chunks whose first position is ≤ N hold exactly positions
//! 1..=N, whatever is appended while they are read.
//!
//! Format 1 (integers little-endian):
//!
//! ```text
//! header   "KLBACKUP" ‖ version u16 = 1 ‖ position u64 ‖ head hash [32] ‖
//!          created_at µs i64 ‖ digest length u8 ‖ projections digest (ASCII hex, or none)
//! records  0x01 ‖ first position u64 ‖ length u32 ‖ chunk bytes exactly as stored
//!          (chunk format 1 or 2, see ledger::store)
//!          0x02 ‖ key length u32 ‖ key ‖ value length u32 ‖ value   (idempotency record)
//! trailer  0xFF ‖ chunks u64 ‖ events u64 ‖ idempotency records u64 ‖
//!          SHA-256 of every byte of the file before these 32 [32]
//! ```
//!
//! Chunks come first, in position order, then idempotency records. A file that ends
//! before its trailer was cut short; a changed byte breaks the chain (in a chunk) or the
//! trailer's SHA-256 (anywhere).

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use super::envelope::{hash_hex, Envelope, GENESIS_HASH, HASH_BYTES};
use super::store::{chunk_entries, next_link, Head, LedgerError, LogStore, CHUNK_BODY_BYTES_MAX};

/// The first bytes of every backup file.
pub const BACKUP_MAGIC: &[u8; 8] = b"KLBACKUP";
/// The only backup layout so far; a reader refuses any other.
pub const BACKUP_FORMAT_V1: u16 = 1;
const TAG_CHUNK: u8 = 0x01;
const TAG_IDEMPOTENCY: u8 = 0x02;
const TAG_TRAILER: u8 = 0xFF;
/// Longest chunk record a reader accepts: a full format-1 chunk of envelopes at the decode
/// limit (a format-2 chunk is written only when smaller; a longer length prefix is damage,
/// and must not make the reader allocate it).
const CHUNK_RECORD_BYTES_MAX: u64 = CHUNK_BODY_BYTES_MAX + 1;
/// Longest idempotency key or value a reader accepts: keys are a token name and a key of
/// at most 255 bytes, values a fingerprint and an outcome, both far below this.
const IDEMPOTENCY_PART_BYTES_MAX: u64 = 64 * 1024;
/// Longest projections digest in a header (a SHA-256 in hex takes 64).
const DIGEST_BYTES_MAX: usize = 128;

/// What a backup holds before its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHeader {
    /// The last position in the backup: the acknowledged head when it was started.
    pub position: u64,
    pub head_hash: [u8; HASH_BYTES],
    pub created_at_micros: i64,
    /// The projections digest at `position`, when the writer could capture it with the head.
    pub digest: Option<String>,
}

/// What a backup holds, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupCounts {
    pub chunks: u64,
    pub events: u64,
    pub idempotency_records: u64,
    /// Bytes of the whole file.
    pub bytes: u64,
}

/// Why a backup could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a kaledger backup: {0}")]
    NotABackup(String),
    /// A position that is missing or does not continue the chain.
    #[error("backup broken at position {first_bad_position}: {reason}")]
    Broken {
        first_bad_position: u64,
        verified_through: u64,
        reason: String,
    },
    /// Damage outside the chain: framing, counts, the trailer or its checksum.
    #[error("backup damaged: {reason}")]
    Damaged {
        verified_through: u64,
        reason: String,
    },
}

/// A `Write` that counts and hashes what passes through.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(bytes)?;
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

fn header_bytes(header: &BackupHeader) -> Result<Vec<u8>, BackupError> {
    let digest = header.digest.as_deref().unwrap_or("");
    if digest.len() > DIGEST_BYTES_MAX {
        return Err(BackupError::NotABackup(format!(
            "a digest of {} bytes does not fit a header",
            digest.len()
        )));
    }
    let mut bytes = Vec::with_capacity(64 + digest.len());
    bytes.extend_from_slice(BACKUP_MAGIC);
    bytes.extend_from_slice(&BACKUP_FORMAT_V1.to_le_bytes());
    bytes.extend_from_slice(&header.position.to_le_bytes());
    bytes.extend_from_slice(&header.head_hash);
    bytes.extend_from_slice(&header.created_at_micros.to_le_bytes());
    bytes.push(digest.len() as u8);
    bytes.extend_from_slice(digest.as_bytes());
    Ok(bytes)
}

/// Writes a backup of positions 1..=`header.position` of `store`, then the idempotency
/// records `keep_idempotency` accepts (given the stored value), then the trailer. The
/// log may grow meanwhile; `header.position` must be an acknowledged head.
pub fn write_backup<W: Write>(
    store: &LogStore,
    header: &BackupHeader,
    keep_idempotency: impl Fn(&[u8]) -> bool,
    out: W,
) -> Result<BackupCounts, BackupError> {
    let mut out = Hashing {
        inner: out,
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut counts = BackupCounts::default();
    out.put(&header_bytes(header)?)?;
    let mut last_hash = GENESIS_HASH;
    if header.position > 0 {
        for chunk in store.chunks_from(1) {
            let (first, bytes) = chunk?;
            let entries = chunk_entries(first, &bytes)?;
            let corrupt = |reason: String| LedgerError::Corrupt {
                position: first,
                reason,
            };
            if first != counts.events + 1 {
                return Err(corrupt(format!("missing; the log holds {first} next")).into());
            }
            let (last, last_bytes) = entries.last();
            if last > header.position {
                return Err(corrupt(format!(
                    "the chunk runs past the backup position {} (to {last})",
                    header.position
                ))
                .into());
            }
            out.put(&[TAG_CHUNK])?;
            out.put(&first.to_le_bytes())?;
            out.put(&(bytes.len() as u32).to_le_bytes())?;
            out.put(&bytes)?;
            counts.chunks += 1;
            counts.events = last;
            if last == header.position {
                last_hash = Envelope::open(last_bytes)
                    .map_err(|e| corrupt(e.to_string()))?
                    .hash;
                break;
            }
        }
    }
    if counts.events != header.position || last_hash != header.head_hash {
        return Err(LedgerError::Corrupt {
            position: counts.events + 1,
            reason: format!(
                "the log does not hold the head to back up ({} with hash {})",
                header.position,
                hash_hex(&header.head_hash)
            ),
        }
        .into());
    }
    for record in store.idempotency_records() {
        let (key, value) = record?;
        if keep_idempotency(&value) {
            out.put(&[TAG_IDEMPOTENCY])?;
            out.put(&(key.len() as u32).to_le_bytes())?;
            out.put(&key)?;
            out.put(&(value.len() as u32).to_le_bytes())?;
            out.put(&value)?;
            counts.idempotency_records += 1;
        }
    }
    out.put(&[TAG_TRAILER])?;
    for n in [counts.chunks, counts.events, counts.idempotency_records] {
        out.put(&n.to_le_bytes())?;
    }
    let checksum: [u8; HASH_BYTES] = out.hasher.clone().finalize().into();
    out.put(&checksum)?;
    out.inner.flush()?;
    counts.bytes = out.bytes;
    Ok(counts)
}

/// One record of a backup, checked.
#[derive(Debug)]
pub enum BackupRecord {
    /// A chunk as stored, whose envelopes continue the chain.
    Chunk { first: u64, bytes: Vec<u8> },
    /// An idempotency record as stored.
    Idempotency { key: Vec<u8>, value: Vec<u8> },
}

/// Reads a backup record by record, checking the header, the framing, the chain from
/// position 1, the counts and the checksum of the trailer, and that nothing follows it.
pub struct BackupReader<R> {
    input: Hashing<R>,
    header: BackupHeader,
    prev: Head,
    counts: BackupCounts,
    done: bool,
    /// True once a trailer matched everything read.
    finished: bool,
    /// The error that ended [`BackupReader::chunks`] (which can only yield a `LedgerError`).
    error: Option<BackupError>,
}

impl<R: Read> Hashing<R> {
    fn take(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_exact(buf)?;
        self.hasher.update(&*buf);
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn u64(&mut self) -> std::io::Result<u64> {
        let mut b = [0; 8];
        self.take(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        let mut b = [0; 4];
        self.take(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// `len` bytes, allocated as they arrive (a damaged length cannot allocate wildly).
    fn bytes(&mut self, len: u64) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        (&mut self.inner).take(len).read_to_end(&mut buf)?;
        if (buf.len() as u64) < len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.hasher.update(&buf);
        self.bytes += len;
        Ok(buf)
    }
}

impl<R: Read> BackupReader<R> {
    /// Reads and checks the header.
    pub fn open(input: R) -> Result<BackupReader<R>, BackupError> {
        let mut input = Hashing {
            inner: input,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let short = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                BackupError::NotABackup("the file ends inside its header".to_string())
            }
            _ => BackupError::Io(e),
        };
        let mut magic = [0; 8];
        input.take(&mut magic).map_err(short)?;
        if &magic != BACKUP_MAGIC {
            return Err(BackupError::NotABackup(
                "it does not start with KLBACKUP".to_string(),
            ));
        }
        let mut version = [0; 2];
        input.take(&mut version).map_err(short)?;
        let version = u16::from_le_bytes(version);
        if version != BACKUP_FORMAT_V1 {
            return Err(BackupError::NotABackup(format!(
                "format version {version}; this kaledger reads version {BACKUP_FORMAT_V1}"
            )));
        }
        let position = input.u64().map_err(short)?;
        let mut head_hash = [0; HASH_BYTES];
        input.take(&mut head_hash).map_err(short)?;
        let created_at_micros = input.u64().map_err(short)? as i64;
        let mut digest_len = [0; 1];
        input.take(&mut digest_len).map_err(short)?;
        let digest = input.bytes(u64::from(digest_len[0])).map_err(short)?;
        let digest = match String::from_utf8(digest) {
            Ok(d) if d.is_empty() => None,
            Ok(d) if d.len() <= DIGEST_BYTES_MAX && d.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(d)
            }
            _ => {
                return Err(BackupError::NotABackup(
                    "the header's digest is not hex".to_string(),
                ))
            }
        };
        Ok(BackupReader {
            input,
            header: BackupHeader {
                position,
                head_hash,
                created_at_micros,
                digest,
            },
            prev: Head::EMPTY,
            counts: BackupCounts::default(),
            done: false,
            finished: false,
            error: None,
        })
    }

    /// The header.
    pub fn header(&self) -> &BackupHeader {
        &self.header
    }

    /// What was read so far (all of it once [`BackupReader::next_record`] gave `None`).
    pub fn counts(&self) -> BackupCounts {
        BackupCounts {
            bytes: self.input.bytes,
            ..self.counts
        }
    }

    /// The last position whose chain was checked.
    pub fn verified_through(&self) -> u64 {
        self.prev.position
    }

    /// True once the whole file was read and its trailer matched.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The error that ended [`BackupReader::chunks`], if one did.
    pub fn take_error(&mut self) -> Option<BackupError> {
        self.error.take()
    }

    /// The next record, checked; `None` after a trailer that matches everything read.
    pub fn next_record(&mut self) -> Result<Option<BackupRecord>, BackupError> {
        if self.done {
            return Ok(None);
        }
        let result = self.read_record();
        match &result {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.done = true;
                self.finished = true;
            }
            Err(_) => self.done = true,
        }
        result
    }

    /// The chunks alone, for a replay; the first error ends them as
    /// [`LedgerError::Corrupt`] (the error itself: [`BackupReader::take_error`]).
    pub fn chunks(&mut self) -> impl Iterator<Item = Result<(u64, Vec<u8>), LedgerError>> + '_ {
        std::iter::from_fn(move || loop {
            match self.next_record() {
                Ok(Some(BackupRecord::Chunk { first, bytes })) => return Some(Ok((first, bytes))),
                Ok(Some(BackupRecord::Idempotency { .. })) => continue,
                Ok(None) => return None,
                Err(e) => {
                    let corrupt = LedgerError::Corrupt {
                        position: self.prev.position + 1,
                        reason: e.to_string(),
                    };
                    self.error = Some(e);
                    return Some(Err(corrupt));
                }
            }
        })
    }

    fn broken(&self, position: u64, reason: String) -> BackupError {
        BackupError::Broken {
            first_bad_position: position,
            verified_through: self.prev.position,
            reason,
        }
    }

    fn damaged(&self, reason: String) -> BackupError {
        BackupError::Damaged {
            verified_through: self.prev.position,
            reason,
        }
    }

    /// An input error: the end of the file where more was due means it was cut short.
    fn input_error(&self, e: std::io::Error) -> BackupError {
        if e.kind() != std::io::ErrorKind::UnexpectedEof {
            return BackupError::Io(e);
        }
        if self.prev.position < self.header.position {
            self.broken(
                self.prev.position + 1,
                format!(
                    "the file ends after {} bytes, before position {}: it was cut short",
                    self.input.bytes,
                    self.prev.position + 1
                ),
            )
        } else {
            self.damaged(format!(
                "the file ends after {} bytes, before its trailer: it was cut short",
                self.input.bytes
            ))
        }
    }

    fn read_record(&mut self) -> Result<Option<BackupRecord>, BackupError> {
        let mut tag = [0; 1];
        self.input.take(&mut tag).map_err(|e| self.input_error(e))?;
        match tag[0] {
            TAG_CHUNK => self.read_chunk().map(Some),
            TAG_IDEMPOTENCY => self.read_idempotency().map(Some),
            TAG_TRAILER => self.read_trailer().map(|()| None),
            other if self.prev.position < self.header.position => Err(self.broken(
                self.prev.position + 1,
                format!(
                    "unknown record tag {other:#04x} where position {} was due",
                    self.prev.position + 1
                ),
            )),
            other => Err(self.damaged(format!("unknown record tag {other:#04x}"))),
        }
    }

    fn read_chunk(&mut self) -> Result<BackupRecord, BackupError> {
        let expected = self.prev.position + 1;
        if self.counts.idempotency_records > 0 {
            return Err(self.broken(
                expected,
                "a chunk after the idempotency records".to_string(),
            ));
        }
        let first = self.input.u64().map_err(|e| self.input_error(e))?;
        let len = u64::from(self.input.u32().map_err(|e| self.input_error(e))?);
        if first != expected {
            return Err(self.broken(
                expected,
                format!("position {expected} is missing (the next chunk starts at {first})"),
            ));
        }
        if len > CHUNK_RECORD_BYTES_MAX {
            return Err(self.broken(expected, format!("a chunk of {len} bytes is too long")));
        }
        let bytes = self.input.bytes(len).map_err(|e| self.input_error(e))?;
        let entries =
            chunk_entries(first, &bytes).map_err(|e| self.broken(expected, e.to_string()))?;
        let mut prev = self.prev;
        for (position, envelope) in &entries {
            if position > self.header.position {
                return Err(self.broken(
                    position,
                    format!("past the backup position {}", self.header.position),
                ));
            }
            prev = next_link(&prev, position, envelope)
                .map_err(|reason| self.broken(position, reason))?;
            self.prev = prev;
        }
        self.counts.chunks += 1;
        self.counts.events = self.prev.position;
        Ok(BackupRecord::Chunk { first, bytes })
    }

    fn read_idempotency(&mut self) -> Result<BackupRecord, BackupError> {
        if self.prev.position < self.header.position {
            return Err(self.broken(
                self.prev.position + 1,
                "an idempotency record before the last chunk".to_string(),
            ));
        }
        let part = |reader: &mut Self, what: &str| -> Result<Vec<u8>, BackupError> {
            let len = u64::from(reader.input.u32().map_err(|e| reader.input_error(e))?);
            if len > IDEMPOTENCY_PART_BYTES_MAX {
                return Err(reader.damaged(format!("an idempotency {what} of {len} bytes")));
            }
            reader.input.bytes(len).map_err(|e| reader.input_error(e))
        };
        let key = part(self, "key")?;
        let value = part(self, "value")?;
        self.counts.idempotency_records += 1;
        Ok(BackupRecord::Idempotency { key, value })
    }

    fn read_trailer(&mut self) -> Result<(), BackupError> {
        if self.prev.position < self.header.position {
            return Err(self.broken(
                self.prev.position + 1,
                format!(
                    "the trailer comes before position {} (the header says {})",
                    self.prev.position + 1,
                    self.header.position
                ),
            ));
        }
        if self.prev.hash != self.header.head_hash {
            return Err(self.damaged(format!(
                "the chain ends with hash {}, the header says {}",
                hash_hex(&self.prev.hash),
                hash_hex(&self.header.head_hash)
            )));
        }
        let mut stated = [0u64; 3];
        for n in &mut stated {
            *n = self.input.u64().map_err(|e| self.input_error(e))?;
        }
        let expected: [u8; HASH_BYTES] = self.input.hasher.clone().finalize().into();
        let mut checksum = [0; HASH_BYTES];
        self.input
            .take(&mut checksum)
            .map_err(|e| self.input_error(e))?;
        let read = [
            self.counts.chunks,
            self.counts.events,
            self.counts.idempotency_records,
        ];
        if stated != read {
            return Err(self.damaged(format!(
                "the trailer counts (chunks, events, idempotency records) {stated:?}, the file holds {read:?}"
            )));
        }
        if checksum != expected {
            return Err(self.damaged(
                "the SHA-256 of the file does not match its trailer: some byte was changed"
                    .to_string(),
            ));
        }
        let mut extra = [0; 1];
        match self.input.inner.read(&mut extra) {
            Ok(0) => Ok(()),
            Ok(_) => Err(self.damaged("bytes follow the trailer".to_string())),
            Err(e) => Err(BackupError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::envelope::Actor;

    /// A store of `events` sealed envelopes appended in groups of 5, and one idempotency
    /// record; returns it with its head.
    fn store_with(dir: &std::path::Path, events: u64) -> (LogStore, Head) {
        let store = LogStore::open(dir).expect("open");
        let mut head = Head::EMPTY;
        let mut group = Vec::new();
        for position in 1..=events {
            let mut envelope = Envelope {
                event_type: "Probe".to_string(),
                schema_version: 1,
                position,
                stream: "probe".to_string(),
                stream_version: position,
                event_id: uuid::Uuid::from_u128(u128::from(position)),
                recorded_at_micros: 1_000 + position as i64,
                actor: Actor {
                    name: "test".to_string(),
                    role: "admin".to_string(),
                },
                idempotency_key: None,
                request_id: String::new(),
                payload: vec![position as u8; 3],
                prev_hash: head.hash,
                hash: [0; HASH_BYTES],
            };
            group.push((position, envelope.seal()));
            head = Head {
                position,
                hash: envelope.hash,
                recorded_at_micros: envelope.recorded_at_micros,
            };
            if group.len() == 5 || position == events {
                store
                    .append(&group, &[(b"key".to_vec(), b"value".to_vec())])
                    .expect("append");
                group.clear();
            }
        }
        (store, head)
    }

    fn backup_of(store: &LogStore, head: &Head) -> Vec<u8> {
        let header = BackupHeader {
            position: head.position,
            head_hash: head.hash,
            created_at_micros: 1,
            digest: Some("ab".repeat(32)),
        };
        let mut bytes = Vec::new();
        write_backup(store, &header, |_| true, &mut bytes).expect("backup");
        bytes
    }

    fn read_through(bytes: &[u8]) -> Result<BackupCounts, BackupError> {
        let mut reader = BackupReader::open(bytes)?;
        while reader.next_record()?.is_some() {}
        Ok(reader.counts())
    }

    #[test]
    fn a_backup_reads_back_and_every_cut_or_changed_byte_is_refused() {
        // Proves a backup of a log reads back with its counts, and that every prefix of it
        // and every single flipped bit anywhere in it is an error, never a panic or a
        // silent success.
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, head) = store_with(dir.path(), 23);
        let bytes = backup_of(&store, &head);
        let counts = read_through(&bytes).expect("a sound backup");
        assert_eq!(
            (counts.chunks, counts.events, counts.idempotency_records),
            (5, 23, 1)
        );
        assert_eq!(counts.bytes, bytes.len() as u64);
        for cut in 0..bytes.len() {
            assert!(read_through(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for index in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[index] ^= 0x10;
            assert!(read_through(&changed).is_err(), "byte {index} changed");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(read_through(&longer).is_err());
    }

    #[test]
    fn a_backup_stops_at_its_position_while_the_log_grows() {
        // Proves a backup through an earlier head holds exactly the positions up to it, even
        // though the store holds more, and that a head the log does not hold is refused.
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, _) = store_with(dir.path(), 12);
        let mut at_ten = Head::EMPTY;
        for item in store.iter_from(1).take(10) {
            let (position, bytes) = item.expect("entry");
            at_ten = next_link(&at_ten, position, &bytes).expect("link");
        }
        let bytes = backup_of(&store, &at_ten);
        let mut reader = BackupReader::open(&bytes[..]).expect("open");
        while reader.next_record().expect("record").is_some() {}
        assert_eq!((reader.header().position, reader.counts().events), (10, 10));
        let wrong = Head {
            hash: [9; HASH_BYTES],
            ..at_ten
        };
        let header = BackupHeader {
            position: wrong.position,
            head_hash: wrong.hash,
            created_at_micros: 1,
            digest: None,
        };
        assert!(write_backup(&store, &header, |_| true, Vec::new()).is_err());
    }
}
