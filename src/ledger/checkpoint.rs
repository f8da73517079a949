//! Checkpoint files: the in-memory state as opaque bytes, with the log position and head
//! hash it stands at, so a start replays only the tail of the log. This layer knows the
//! file format only; what the payload holds (and its format number) is the caller's.
//!
//! A file `checkpoint-{position:020}.bin`:
//! `b"KALCKPT\0"` ‖ format u32 LE ‖ position u64 LE ‖ head hash \[32\] ‖ payload length u64 LE
//! ‖ SHA-256 of the payload \[32\] ‖ payload.
//!
//! A file is written under a temporary name, synced, renamed into place and the directory
//! synced: a crash leaves either the whole file under its final name or only a temporary
//! one, which loading ignores and the next write removes.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::envelope::HASH_BYTES;
use super::store::{io_error, sync_dir, LedgerError};

/// The first bytes of every checkpoint file.
pub const MAGIC: [u8; 8] = *b"KALCKPT\0";
/// How many valid checkpoints a write keeps (the newest and one before it).
pub const KEEP: usize = 2;
/// Bytes before the payload.
const HEADER_BYTES: usize = 8 + 4 + 8 + HASH_BYTES + 8 + 32;
const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".bin";
/// Buffers between a payload and its file (a checkpoint is tens of MB: it streams).
const READ_BUFFER_BYTES: usize = 1 << 20;
const WRITE_BUFFER_BYTES: usize = 1 << 20;
/// Appended to the final name while a file is being written.
const TEMP_SUFFIX: &str = ".tmp";

/// A checkpoint read back whole and verified, its payload decoded by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<T> {
    pub position: u64,
    pub head_hash: [u8; HASH_BYTES],
    pub value: T,
    pub path: PathBuf,
}

/// Why a checkpoint file was passed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// Written by a build with another payload format.
    #[error("payload format {found}, not the one this build reads")]
    ForeignFormat { found: u32 },
    /// Shorter than its header says.
    #[error("truncated")]
    Truncated,
    /// Bad magic, a checksum that does not match, a header that disagrees with the name,
    /// or a payload the caller could not decode.
    #[error("corrupt ({0})")]
    Corrupt(String),
    /// The file could not be read.
    #[error("unreadable: {0}")]
    Unreadable(String),
}

/// A checkpoint file passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// What [`load_newest`] found: the newest valid checkpoint, and every newer file it skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOutcome<T> {
    pub loaded: Option<Loaded<T>>,
    pub skipped: Vec<Skipped>,
}

/// The file name of the checkpoint at `position`.
pub fn file_name(position: u64) -> String {
    format!("{PREFIX}{position:020}{SUFFIX}")
}

/// The position a checkpoint file name stands for; None for any other name (temporary
/// files included).
fn position_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a checkpoint file; `length` and `checksum` describe the payload after it.
fn encode_header(
    format: u32,
    position: u64,
    head_hash: &[u8; HASH_BYTES],
    length: u64,
    checksum: &[u8; 32],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_BYTES);
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&format.to_le_bytes());
    bytes.extend_from_slice(&position.to_le_bytes());
    bytes.extend_from_slice(head_hash);
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(checksum);
    bytes
}

/// Reads `N` bytes at `at` (the caller has checked the length).
fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("length checked")
}

/// What a header says of the payload after it.
struct Header {
    head_hash: [u8; HASH_BYTES],
    length: u64,
    checksum: [u8; 32],
}

/// Checks a header (the first bytes of a file of `file_length` bytes): the magic, the
/// format, the position its name gives and the payload's length.
fn decode_header(
    bytes: &[u8],
    file_length: u64,
    format: u32,
    position: u64,
) -> Result<Header, SkipReason> {
    if bytes.len() < HEADER_BYTES {
        // A file cut inside its magic is as likely a torn write as a foreign file.
        return Err(if MAGIC.starts_with(&bytes[..bytes.len().min(8)]) {
            SkipReason::Truncated
        } else {
            SkipReason::Corrupt("bad magic".to_string())
        });
    }
    if bytes[..8] != MAGIC {
        return Err(SkipReason::Corrupt("bad magic".to_string()));
    }
    let found = u32::from_le_bytes(array(bytes, 8));
    if found != format {
        return Err(SkipReason::ForeignFormat { found });
    }
    let stated = u64::from_le_bytes(array(bytes, 12));
    if stated != position {
        return Err(SkipReason::Corrupt(format!(
            "header says position {stated}"
        )));
    }
    let length = u64::from_le_bytes(array(bytes, 20 + HASH_BYTES));
    let available = file_length - HEADER_BYTES as u64;
    if length > available {
        return Err(SkipReason::Truncated);
    }
    if length < available {
        return Err(SkipReason::Corrupt("bytes after the payload".to_string()));
    }
    Ok(Header {
        head_hash: array(bytes, 20),
        length,
        checksum: array(bytes, 28 + HASH_BYTES),
    })
}

/// A reader or writer that hashes (SHA-256) and counts what passes through it.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Hashing<T> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    fn checksum(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads the checkpoint file at `path`, which stands for `position`: checks its header,
/// hands the payload to `decode` as it streams from the file (never whole in memory), and
/// keeps the result only when the whole payload matches its checksum.
fn read_file<T>(
    path: &Path,
    format: u32,
    position: u64,
    decode: &mut dyn FnMut(&mut dyn Read, u64) -> Result<T, String>,
) -> Result<Loaded<T>, SkipReason> {
    let unreadable = |e: std::io::Error| SkipReason::Unreadable(e.to_string());
    let mut file = File::open(path).map_err(unreadable)?;
    let file_length = file.metadata().map_err(unreadable)?.len();
    let mut head = Vec::with_capacity(HEADER_BYTES);
    (&mut file)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    let header = decode_header(&head, file_length, format, position)?;
    // Hashed in the buffer's large reads, not in the decoder's many small ones.
    let hashing = Hashing::new(file.take(header.length));
    let mut buffered = BufReader::with_capacity(READ_BUFFER_BYTES, hashing);
    let decoded = decode(&mut buffered, header.length);
    std::io::copy(&mut buffered, &mut std::io::sink()).map_err(unreadable)?;
    let payload = buffered.into_inner();
    if payload.bytes != header.length {
        return Err(SkipReason::Truncated);
    }
    if payload.checksum() != header.checksum {
        return Err(SkipReason::Corrupt("checksum mismatch".to_string()));
    }
    let value = decoded.map_err(|e| SkipReason::Corrupt(format!("does not decode: {e}")))?;
    Ok(Loaded {
        position,
        head_hash: header.head_hash,
        value,
        path: path.to_path_buf(),
    })
}

/// Reads a payload to its end and keeps nothing: checking a file without decoding it.
fn skip_payload(payload: &mut dyn Read, _length: u64) -> Result<(), String> {
    std::io::copy(payload, &mut std::io::sink())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The checkpoint files in `dir` (temporary files left out), newest position first. A
/// missing directory has none.
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, std::io::Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(position) = entry.file_name().to_str().and_then(position_of) {
            files.push((position, entry.path()));
        }
    }
    files.sort_unstable_by_key(|(position, _)| std::cmp::Reverse(*position));
    Ok(files)
}

/// Loads the newest checkpoint of payload `format` in `dir` that reads back whole and that
/// `decode` (given the payload and its length) accepts; every newer file that does not is skipped, named in a warning and in
/// the outcome.
pub fn load_newest<T>(
    dir: &Path,
    format: u32,
    mut decode: impl FnMut(&mut dyn Read, u64) -> Result<T, String>,
) -> LoadOutcome<T> {
    let mut outcome = LoadOutcome {
        loaded: None,
        skipped: Vec::new(),
    };
    let files = match list(dir) {
        Ok(files) => files,
        Err(e) => {
            let reason = SkipReason::Unreadable(e.to_string());
            tracing::warn!(path = %dir.display(), %reason, "checkpoint directory skipped");
            outcome.skipped.push(Skipped {
                path: dir.to_path_buf(),
                reason,
            });
            return outcome;
        }
    };
    for (position, path) in files {
        match read_file(&path, format, position, &mut decode) {
            Ok(loaded) => {
                outcome.loaded = Some(loaded);
                break;
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "checkpoint skipped");
                outcome.skipped.push(Skipped { path, reason });
            }
        }
    }
    outcome
}

/// Writes the checkpoint at `position` into `dir` (created when missing), its payload
/// streamed by `fill` straight into the file, and returns its path; then removes
/// checkpoints older than the newest [`KEEP`] valid ones, files that fail to verify, and
/// temporary files a crash left behind.
pub fn write_with(
    dir: &Path,
    format: u32,
    position: u64,
    head_hash: &[u8; HASH_BYTES],
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<PathBuf, LedgerError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    remove_temporary(dir)?;
    let path = dir.join(file_name(position));
    let temp = dir.join(format!("{}{TEMP_SUFFIX}", file_name(position)));
    let mut file = File::create(&temp).map_err(io_error(&temp))?;
    (|| {
        // The header goes in last, once the payload's length and checksum are known.
        file.write_all(&[0; HEADER_BYTES])?;
        let hashing = Hashing::new(&mut file);
        let mut buffered = BufWriter::with_capacity(WRITE_BUFFER_BYTES, hashing);
        fill(&mut buffered)?;
        let payload = buffered.into_inner().map_err(|e| e.into_error())?;
        let (length, checksum) = (payload.bytes, payload.checksum());
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&encode_header(
            format, position, head_hash, length, &checksum,
        ))?;
        file.sync_all()
    })()
    .map_err(io_error(&temp))?;
    drop(file);
    fs::rename(&temp, &path).map_err(io_error(&path))?;
    sync_dir(dir)?;
    prune(dir, format, position)?;
    Ok(path)
}

/// Removes the temporary files of writes that did not finish.
fn remove_temporary(dir: &Path) -> Result<(), LedgerError> {
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let is_temporary = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.strip_suffix(TEMP_SUFFIX).and_then(position_of).is_some());
        if is_temporary {
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(())
}

/// Keeps the newest [`KEEP`] valid checkpoints (the one just written at `written` counts
/// without being read again) and files of another format newer than the last kept; removes
/// the rest.
fn prune(dir: &Path, format: u32, written: u64) -> Result<(), LedgerError> {
    let files = list(dir).map_err(io_error(dir))?;
    let mut valid = 0;
    for (position, path) in files {
        let keep = if valid >= KEEP {
            false
        } else if position == written {
            true
        } else {
            match read_file(&path, format, position, &mut skip_payload) {
                Ok(_) => true,
                Err(SkipReason::ForeignFormat { .. }) => continue,
                Err(_) => false,
            }
        };
        if keep {
            valid += 1;
        } else {
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: u32 = 7;

    /// [`write_with`] of a payload at hand.
    fn write(
        dir: &Path,
        format: u32,
        position: u64,
        head_hash: &[u8; HASH_BYTES],
        payload: &[u8],
    ) -> Result<PathBuf, LedgerError> {
        write_with(dir, format, position, head_hash, |out| {
            out.write_all(payload)
        })
    }

    /// The newest checkpoint, its payload read back as bytes.
    fn load(dir: &Path, format: u32) -> LoadOutcome<Vec<u8>> {
        load_newest(dir, format, |payload, _| {
            let mut bytes = Vec::new();
            payload.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            Ok(bytes)
        })
    }

    /// The bytes of a whole checkpoint file.
    fn encode_file(format: u32, position: u64, head: &[u8; HASH_BYTES], payload: &[u8]) -> Vec<u8> {
        let checksum: [u8; 32] = Sha256::digest(payload).into();
        let mut bytes = encode_header(format, position, head, payload.len() as u64, &checksum);
        bytes.extend_from_slice(payload);
        bytes
    }

    fn hash(byte: u8) -> [u8; HASH_BYTES] {
        [byte; HASH_BYTES]
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_written_checkpoint_loads_back_with_its_position_and_hash() {
        // Proves the round trip, the file name, and the directory being created on demand.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("checkpoints");
        let path = write(&dir, FORMAT, 42, &hash(9), b"state bytes").unwrap();
        assert_eq!(path, dir.join("checkpoint-00000000000000000042.bin"));
        let outcome = load(&dir, FORMAT);
        assert_eq!(outcome.skipped, vec![]);
        assert_eq!(
            outcome.loaded,
            Some(Loaded {
                position: 42,
                head_hash: hash(9),
                value: b"state bytes".to_vec(),
                path,
            })
        );
        let empty = write(&dir, FORMAT, 43, &hash(1), b"").unwrap();
        assert_eq!(load(&dir, FORMAT).loaded.unwrap().path, empty);
    }

    #[test]
    fn a_missing_directory_loads_nothing_and_skips_nothing() {
        // Proves a first start (no checkpoint yet) is not an error.
        let temp = tempfile::tempdir().unwrap();
        assert_eq!(
            load(&temp.path().join("none"), FORMAT),
            LoadOutcome {
                loaded: None,
                skipped: vec![]
            }
        );
    }

    #[test]
    fn a_payload_the_caller_cannot_decode_is_skipped_for_the_one_before() {
        // Proves a checkpoint whose checksum holds but whose payload the caller refuses is
        // passed over as corrupt, and the older one loads.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, FORMAT, 1, &hash(1), b"good").unwrap();
        write(dir, FORMAT, 2, &hash(2), b"bad").unwrap();
        let outcome = load_newest(dir, FORMAT, |payload, _| {
            let mut bytes = Vec::new();
            payload.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            if bytes == b"bad" {
                return Err("refused".to_string());
            }
            Ok(bytes)
        });
        assert_eq!(outcome.loaded.unwrap().value, b"good");
        assert_eq!(
            outcome.skipped[0].reason,
            SkipReason::Corrupt("does not decode: refused".to_string())
        );
    }

    #[test]
    fn a_truncated_newest_file_is_skipped_for_the_one_before() {
        // Proves a torn file (cut in the payload, or in the header) falls back to the older one.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, FORMAT, 10, &hash(1), b"older").unwrap();
        let newest = write(dir, FORMAT, 20, &hash(2), b"newer payload").unwrap();
        for cut in [HEADER_BYTES + 3, 30, 5] {
            let bytes = fs::read(&newest).unwrap();
            fs::write(&newest, &bytes[..cut]).unwrap();
            let outcome = load(dir, FORMAT);
            assert_eq!(
                outcome.skipped,
                vec![Skipped {
                    path: newest.clone(),
                    reason: SkipReason::Truncated
                }],
                "cut at {cut}"
            );
            let loaded = outcome.loaded.unwrap();
            assert_eq!((loaded.position, loaded.value), (10, b"older".to_vec()));
            fs::write(&newest, encode_file(FORMAT, 20, &hash(2), b"newer payload")).unwrap();
        }
    }

    #[test]
    fn a_flipped_byte_or_a_wrong_magic_is_corrupt() {
        // Proves the checksum covers the payload and the magic is checked.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, FORMAT, 1, &hash(1), b"first").unwrap();
        let path = write(dir, FORMAT, 2, &hash(2), b"second").unwrap();
        let good = fs::read(&path).unwrap();
        for at in [0, HEADER_BYTES + 2, HEADER_BYTES - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            fs::write(&path, &bad).unwrap();
            let outcome = load(dir, FORMAT);
            assert!(
                matches!(
                    outcome.skipped[..],
                    [Skipped {
                        reason: SkipReason::Corrupt(_),
                        ..
                    }]
                ),
                "byte {at}: {:?}",
                outcome.skipped
            );
            assert_eq!(outcome.loaded.unwrap().position, 1);
        }
    }

    #[test]
    fn another_format_is_skipped_as_foreign() {
        // Proves a checkpoint of another payload format is never decoded as this one.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, FORMAT, 1, &hash(1), b"mine").unwrap();
        let foreign = write(dir, FORMAT + 1, 2, &hash(2), b"theirs").unwrap();
        let outcome = load(dir, FORMAT);
        assert_eq!(
            outcome.skipped,
            vec![Skipped {
                path: foreign,
                reason: SkipReason::ForeignFormat { found: FORMAT + 1 }
            }]
        );
        assert_eq!(outcome.loaded.unwrap().value, b"mine");
    }

    #[test]
    fn temporary_leftovers_are_ignored_and_then_removed() {
        // Proves a write killed before its rename leaves nothing that loads, and the next
        // write clears it.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        write(dir, FORMAT, 1, &hash(1), b"done").unwrap();
        let leftover = dir.join(format!("{}{TEMP_SUFFIX}", file_name(2)));
        fs::write(&leftover, &encode_file(FORMAT, 2, &hash(2), b"half")[..40]).unwrap();
        fs::write(dir.join("notes.txt"), b"unrelated").unwrap();
        let outcome = load(dir, FORMAT);
        assert_eq!(outcome.skipped, vec![]);
        assert_eq!(outcome.loaded.unwrap().position, 1);
        write(dir, FORMAT, 3, &hash(3), b"next").unwrap();
        assert_eq!(
            names(dir),
            vec![file_name(1), file_name(3), "notes.txt".to_string()]
        );
    }

    #[test]
    fn a_write_keeps_the_newest_valid_checkpoints_only() {
        // Proves pruning keeps KEEP valid files, drops older ones and corrupt ones, and
        // counts only files that verify.
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        for position in 1..=4 {
            write(dir, FORMAT, position, &hash(1), b"x").unwrap();
        }
        assert_eq!(names(dir), vec![file_name(3), file_name(4)]);
        fs::write(dir.join(file_name(4)), b"KALC").unwrap();
        write(dir, FORMAT, 5, &hash(1), b"y").unwrap();
        assert_eq!(names(dir), vec![file_name(3), file_name(5)]);
        let foreign = write(dir, FORMAT + 1, 6, &hash(1), b"z").unwrap();
        assert_eq!(foreign, dir.join(file_name(6)));
        write(dir, FORMAT, 7, &hash(1), b"w").unwrap();
        assert_eq!(names(dir), vec![file_name(5), file_name(6), file_name(7)]);
    }
}
