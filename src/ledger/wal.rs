//! The write-ahead file in front of sled (docs/decisions.md, "A write-ahead file in front
//! of sled"): a group is durable after one positional write and one `fdatasync` into a
//! segment file whose blocks already exist, so the sync commits no metadata. sled takes
//! the same group in memory and is flushed only when a segment is full (or at a clean
//! stop); [`LogStore::open`](super::LogStore::open) replays the frames sled lacks.
//!
//! Two segments, `<data>/wal/wal-0` and `wal-1`, each at most [`SEGMENT_BYTES`]. A segment
//! is zero-filled ahead of the frames in steps of [`GROW_BYTES`] (each step synced, and the
//! directory when the file is new), so a frame never extends its file.
//!
//! A frame: header `magic ‖ epoch u64 ‖ body length u32 ‖ first u64 ‖ last u64` (LE), the
//! body `chunk count u32 ‖ (first u64 ‖ len u32 ‖ chunk)* ‖ record count u32 ‖
//! (key len u32 ‖ key ‖ value len u32 ‖ value)*`, then SHA-256 of header and body. The
//! chunks are the bytes sled stores under each key (LZ4 chunks, ~0.43 of the envelopes).
//! A frame without events has first = last = 0.
//!
//! Epochs: every frame carries one; it grows by one each time sled has been flushed
//! through everything written before (a segment switch, a group written straight to sled,
//! a recovery). A scan reads a segment from offset 0 while frames check out: the right
//! magic, an epoch not lower than the previous frame's, a body inside the file, the
//! checksum, and within one epoch positions that continue the previous frame. Anything
//! else (zeros, a torn frame, a stale frame of an earlier round through the segment,
//! which has a lower epoch) ends the segment. The segment whose first frame has the lower
//! epoch is read first.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::store::{io_error, sync_dir, LedgerError};

/// Most bytes one segment holds: 64 MiB is ~160,000 single-line groups between two sled
/// flushes, and what a recovery reads at most per segment.
pub const SEGMENT_BYTES: u64 = 64 << 20;
/// Zero-filled bytes a segment grows by ahead of its frames: a data directory that takes
/// few writes (every test) holds 1 MiB per segment, not 64, and one step (~1 ms) is paid
/// once per ~2,500 single-line groups.
pub const GROW_BYTES: u64 = 1 << 20;
/// Largest frame written to the WAL; a larger group goes to sled directly (one sled flush
/// and `sync_data`): its write time dwarfs the 0.4 ms the WAL saves, and writing its bytes
/// twice would cost bandwidth.
pub const FRAME_BYTES_MAX: u64 = 1 << 20;
/// The folder of the segments, inside the data directory.
pub const WAL_DIR: &str = "wal";

const MAGIC: [u8; 4] = *b"KLW1";
const HEADER_BYTES: usize = 4 + 8 + 4 + 8 + 8;
const CHECKSUM_BYTES: usize = 32;

/// One group as the WAL holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub epoch: u64,
    /// First and last position of the group's events; both 0 when it has none.
    pub first: u64,
    pub last: u64,
    /// (first position, chunk as sled stores it), in position order.
    pub chunks: Vec<(u64, Vec<u8>)>,
    /// Idempotency records (scoped key, stored record).
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Bytes the frame of a group takes.
pub fn frame_bytes(chunks: &[(u64, Vec<u8>)], records: &[(Vec<u8>, Vec<u8>)]) -> u64 {
    let chunks: usize = chunks.iter().map(|(_, c)| 12 + c.len()).sum();
    let records: usize = records.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    (HEADER_BYTES + 4 + chunks + 4 + records + CHECKSUM_BYTES) as u64
}

/// Encodes a frame (header, body, checksum).
pub fn encode(
    epoch: u64,
    chunks: &[(u64, Vec<u8>)],
    records: &[(Vec<u8>, Vec<u8>)],
    last: u64,
) -> Vec<u8> {
    let total = frame_bytes(chunks, records) as usize;
    let body_len = total - HEADER_BYTES - CHECKSUM_BYTES;
    let first = chunks.first().map_or(0, |(first, _)| *first);
    let last = if chunks.is_empty() { 0 } else { last };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&first.to_le_bytes());
    out.extend_from_slice(&last.to_le_bytes());
    out.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
    for (first, chunk) in chunks {
        out.extend_from_slice(&first.to_le_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for (key, value) in records {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// A reader over a frame's body that answers None when the body runs out.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A length-prefixed byte string.
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = self.u32()?;
        self.take(len).map(<[u8]>::to_vec)
    }
}

/// The chunks and records of a frame body; None when its framing is wrong.
type Body = (Vec<(u64, Vec<u8>)>, Vec<(Vec<u8>, Vec<u8>)>);

/// Reads the body of a frame whose checksum matched; None when its framing is wrong.
fn decode_body(body: &[u8]) -> Option<Body> {
    let mut at = Cursor(body);
    let chunk_count = at.u32()?;
    // Counts are bounded by the bytes each entry needs, so a bad count allocates little.
    let mut chunks = Vec::with_capacity(chunk_count.min(body.len() / 12));
    for _ in 0..chunk_count {
        let first = at.u64()?;
        chunks.push((first, at.bytes()?));
    }
    let record_count = at.u32()?;
    let mut records = Vec::with_capacity(record_count.min(body.len() / 8));
    for _ in 0..record_count {
        let key = at.bytes()?;
        records.push((key, at.bytes()?));
    }
    at.0.is_empty().then_some((chunks, records))
}

/// Decodes a whole frame (header, body, checksum); None when it is not one.
pub fn decode(bytes: &[u8]) -> Option<Frame> {
    let header = read_header(bytes.get(..HEADER_BYTES)?)?;
    if bytes.len() != header.total() {
        return None;
    }
    let (covered, checksum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
    if Sha256::digest(covered).as_slice() != checksum {
        return None;
    }
    let (chunks, records) = decode_body(&covered[HEADER_BYTES..])?;
    let frame = Frame {
        epoch: header.epoch,
        first: header.first,
        last: header.last,
        chunks,
        records,
    };
    frame.positions_consistent().then_some(frame)
}

impl Frame {
    /// The chunk keys start at `first`, increase, and stay at or below `last`; a frame
    /// without chunks says 0 for both.
    fn positions_consistent(&self) -> bool {
        match (self.chunks.first(), self.chunks.last()) {
            (None, _) | (_, None) => self.first == 0 && self.last == 0,
            (Some((first, _)), Some((last_key, _))) => {
                *first == self.first
                    && self.first >= 1
                    && *last_key <= self.last
                    && self.chunks.windows(2).all(|w| w[0].0 < w[1].0)
            }
        }
    }

    /// True when the frame holds events.
    pub fn has_events(&self) -> bool {
        !self.chunks.is_empty()
    }
}

/// The fixed part of a frame.
struct Header {
    epoch: u64,
    body_len: u32,
    first: u64,
    last: u64,
}

impl Header {
    fn total(&self) -> usize {
        HEADER_BYTES + self.body_len as usize + CHECKSUM_BYTES
    }
}

fn read_header(bytes: &[u8]) -> Option<Header> {
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    if bytes.len() != HEADER_BYTES || bytes[..4] != MAGIC {
        return None;
    }
    Some(Header {
        epoch: u64_at(4),
        body_len: u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")),
        first: u64_at(16),
        last: u64_at(24),
    })
}

fn segment_path(dir: &Path, segment: usize) -> PathBuf {
    dir.join(format!("wal-{segment}"))
}

/// Reads the valid frames of one segment from offset 0, in order.
struct SegmentScan {
    reader: Option<BufReader<File>>,
    /// Bytes of the file not read yet.
    left: u64,
    /// Epoch and last position of the previous frame with events.
    previous: Option<(u64, u64)>,
    /// Epoch of the previous frame.
    epoch: u64,
    path: PathBuf,
}

impl SegmentScan {
    fn open(dir: &Path, segment: usize) -> Result<SegmentScan, LedgerError> {
        let path = segment_path(dir, segment);
        let (reader, left) = match File::open(&path) {
            Ok(file) => {
                let len = file.metadata().map_err(io_error(&path))?.len();
                (Some(BufReader::with_capacity(1 << 20, file)), len)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0),
            Err(e) => return Err(io_error(&path)(e)),
        };
        Ok(SegmentScan {
            reader,
            left,
            previous: None,
            epoch: 0,
            path,
        })
    }

    /// The next valid frame, None at the segment's end (whatever ends it).
    fn next_frame(&mut self) -> Result<Option<Frame>, LedgerError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        if self.left < (HEADER_BYTES + CHECKSUM_BYTES) as u64 {
            return Ok(None);
        }
        let mut bytes = vec![0; HEADER_BYTES];
        reader
            .read_exact(&mut bytes)
            .map_err(io_error(&self.path))?;
        let Some(header) = read_header(&bytes) else {
            return Ok(None);
        };
        if header.epoch < self.epoch || header.total() as u64 > self.left {
            return Ok(None);
        }
        bytes.resize(header.total(), 0);
        reader
            .read_exact(&mut bytes[HEADER_BYTES..])
            .map_err(io_error(&self.path))?;
        let Some(frame) = decode(&bytes) else {
            return Ok(None);
        };
        if let Some((epoch, last)) = self.previous {
            if frame.has_events() && epoch == frame.epoch && frame.first != last + 1 {
                return Ok(None);
            }
        }
        self.left -= bytes.len() as u64;
        self.epoch = frame.epoch;
        if frame.has_events() {
            self.previous = Some((frame.epoch, frame.last));
        }
        Ok(Some(frame))
    }
}

/// What a scan found: where the next frames go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanEnd {
    /// Highest epoch of a valid frame (0: none).
    pub epoch: u64,
    /// The segment read last (the one holding the newest frames), if any held a frame.
    pub newest: Option<usize>,
}

/// Reads every valid frame of both segments in epoch order and hands each to `visit`.
pub fn scan(
    dir: &Path,
    mut visit: impl FnMut(Frame) -> Result<(), LedgerError>,
) -> Result<ScanEnd, LedgerError> {
    let mut scans = [SegmentScan::open(dir, 0)?, SegmentScan::open(dir, 1)?];
    let firsts = [scans[0].next_frame()?, scans[1].next_frame()?];
    let mut order: Vec<(u64, usize, Frame)> = firsts
        .into_iter()
        .enumerate()
        .filter_map(|(segment, frame)| frame.map(|f| (f.epoch, segment, f)))
        .collect();
    order.sort_by_key(|(epoch, segment, _)| (*epoch, *segment));
    let mut end = ScanEnd {
        epoch: 0,
        newest: None,
    };
    for (_, segment, first) in order {
        let mut next = Some(first);
        while let Some(frame) = next {
            end.epoch = end.epoch.max(frame.epoch);
            visit(frame)?;
            next = scans[segment].next_frame()?;
        }
        end.newest = Some(segment);
    }
    Ok(end)
}

/// The writing end of the WAL.
pub struct Wal {
    dir: PathBuf,
    segment_bytes: u64,
    files: [Option<File>; 2],
    /// Bytes of each segment zero-filled and synced (frames may go below this).
    allocated: [u64; 2],
    current: usize,
    offset: u64,
    epoch: u64,
    /// Set after a frame's write or sync failed: the frame may or may not be on disk, so
    /// nothing is appended (and nothing removed from sled) until the store reopens and
    /// recovers from what the disk holds.
    failed: Option<String>,
}

/// How long the WAL write of one frame took.
#[derive(Debug, Clone, Copy)]
pub struct FrameTimings {
    pub write: Duration,
    pub sync: Duration,
}

impl Wal {
    /// The WAL after a recovery (`end` from [`scan`]; sled holds everything the scan
    /// found): a new epoch at the start of the segment after the newest.
    pub fn after(data: &Path, segment_bytes: u64, end: ScanEnd) -> Wal {
        Wal {
            dir: data.join(WAL_DIR),
            segment_bytes,
            files: [None, None],
            allocated: [0, 0],
            current: end.newest.map_or(0, |newest| 1 - newest),
            offset: 0,
            epoch: end.epoch + 1,
            failed: None,
        }
    }

    /// The WAL of a store whose recovery did not finish: it refuses every write.
    pub fn failed(data: &Path, segment_bytes: u64, reason: String) -> Wal {
        let mut wal = Wal::after(
            data,
            segment_bytes,
            ScanEnd {
                epoch: 0,
                newest: None,
            },
        );
        wal.failed = Some(reason);
        wal
    }

    /// Err when a failed write left the WAL unusable until a reopen.
    pub fn usable(&self) -> Result<(), LedgerError> {
        match &self.failed {
            None => Ok(()),
            Some(reason) => Err(LedgerError::Storage(format!(
                "the write-ahead log is unusable until the data directory reopens: {reason}"
            ))),
        }
    }

    /// True when a frame of `bytes` goes to the WAL, false when its group must go to
    /// sled directly (too large).
    pub fn takes(&self, bytes: u64) -> bool {
        bytes <= FRAME_BYTES_MAX.min(self.segment_bytes)
    }

    /// True when a frame of `bytes` fits in what is left of the current segment.
    pub fn fits(&self, bytes: u64) -> bool {
        self.offset + bytes <= self.segment_bytes
    }

    /// Records that sled was flushed through every frame written so far: a new epoch, in
    /// the other segment from its start when `switch`.
    pub fn sled_flushed(&mut self, switch: bool) {
        self.epoch += 1;
        if switch {
            self.current = 1 - self.current;
            self.offset = 0;
        }
    }

    /// Writes one frame at the current offset and syncs it. A failure to grow the segment
    /// wrote no frame byte and leaves the WAL usable; a failed frame write or sync makes it
    /// unusable ([`Wal::usable`]).
    pub fn write(
        &mut self,
        chunks: &[(u64, Vec<u8>)],
        records: &[(Vec<u8>, Vec<u8>)],
        last: u64,
    ) -> Result<FrameTimings, LedgerError> {
        self.usable()?;
        let frame = encode(self.epoch, chunks, records, last);
        let end = self.offset + frame.len() as u64;
        self.grow(end)?;
        let segment = self.current;
        let path = segment_path(&self.dir, segment);
        let file = self.files[segment]
            .as_ref()
            .expect("grow opened the segment");
        let started = Instant::now();
        let written = file.write_all_at(&frame, self.offset);
        let wrote = Instant::now();
        let result = written.and_then(|()| file.sync_data());
        if let Err(e) = result {
            self.failed = Some(format!("writing {}: {e}", path.display()));
            return Err(io_error(&path)(e));
        }
        self.offset = end;
        Ok(FrameTimings {
            write: wrote - started,
            sync: wrote.elapsed(),
        })
    }

    /// Zero-fills the current segment through `end` (rounded up to [`GROW_BYTES`]), syncs
    /// it, and syncs the folders when the file or the folder is new.
    fn grow(&mut self, end: u64) -> Result<(), LedgerError> {
        let segment = self.current;
        if self.files[segment].is_none() {
            self.open_segment(segment)?;
        }
        if end <= self.allocated[segment] {
            return Ok(());
        }
        let path = segment_path(&self.dir, segment);
        let target = end.div_ceil(GROW_BYTES).saturating_mul(GROW_BYTES);
        let target = target.min(self.segment_bytes.max(end));
        let file = self.files[segment].as_ref().expect("opened above");
        let zeros = vec![0u8; GROW_BYTES as usize];
        let mut at = self.allocated[segment];
        while at < target {
            let n = (target - at).min(GROW_BYTES);
            file.write_all_at(&zeros[..n as usize], at)
                .map_err(io_error(&path))?;
            at += n;
        }
        file.sync_data().map_err(io_error(&path))?;
        self.allocated[segment] = target;
        Ok(())
    }

    /// Opens (or creates, syncing its folder) a segment file.
    fn open_segment(&mut self, segment: usize) -> Result<(), LedgerError> {
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
            if let Some(parent) = self.dir.parent() {
                sync_dir(parent)?;
            }
        }
        let path = segment_path(&self.dir, segment);
        let existed = path.is_file();
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error(&path))?;
        if !existed {
            sync_dir(&self.dir)?;
        }
        self.allocated[segment] = file.metadata().map_err(io_error(&path))?.len();
        self.files[segment] = Some(file);
        Ok(())
    }
}

#[cfg(test)]
impl Wal {
    /// The segment and offset the next frame goes to.
    pub(crate) fn next_frame_at(&self) -> (usize, u64) {
        (self.current, self.offset)
    }

    /// Swaps the current segment's file for a read-only handle, so the next frame's write
    /// fails as a broken disk would.
    pub(crate) fn break_current_segment(&mut self) {
        let path = segment_path(&self.dir, self.current);
        self.files[self.current] = Some(File::open(path).expect("segment exists"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(first: u64, count: u64) -> Vec<(u64, Vec<u8>)> {
        (0..count)
            .map(|i| (first + 16 * i, vec![first as u8 ^ i as u8; 20 + i as usize]))
            .collect()
    }

    fn records(n: u8) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..n).map(|i| (vec![b'k', i], vec![i; 9])).collect()
    }

    /// Every frame of the data directory's WAL, in scan order.
    fn scanned(data: &Path) -> (Vec<Frame>, ScanEnd) {
        let mut frames = Vec::new();
        let end = scan(&data.join(WAL_DIR), |f| {
            frames.push(f);
            Ok(())
        })
        .unwrap();
        (frames, end)
    }

    fn fresh(data: &Path, segment_bytes: u64) -> Wal {
        Wal::after(
            data,
            segment_bytes,
            ScanEnd {
                epoch: 0,
                newest: None,
            },
        )
    }

    #[test]
    fn a_frame_round_trips_and_any_cut_or_changed_byte_is_refused() {
        // Proves a frame decodes to what was encoded (events and records, and a frame of
        // records only), its size is what frame_bytes says, and a cut or a changed byte
        // anywhere makes it no frame at all, without a panic.
        let (c, r) = (chunks(17, 3), records(2));
        let bytes = encode(7, &c, &r, 60);
        assert_eq!(bytes.len() as u64, frame_bytes(&c, &r));
        let expected = Frame {
            epoch: 7,
            first: 17,
            last: 60,
            chunks: c.clone(),
            records: r.clone(),
        };
        assert_eq!(decode(&bytes), Some(expected));
        let only_records = decode(&encode(8, &[], &r, 99)).unwrap();
        assert_eq!((only_records.first, only_records.last), (0, 0));
        assert!(!only_records.has_events());
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x20;
            assert_eq!(decode(&damaged), None, "byte {at} changed");
        }
        // Chunk keys that do not start at `first` or do not increase are refused even
        // under a valid checksum.
        assert_eq!(
            decode(&encode(1, &[(5, vec![1]), (3, vec![2])], &[], 9)),
            None
        );
        assert_eq!(decode(&encode(1, &[(5, vec![1])], &[], 4)), None);
    }

    #[test]
    fn a_torn_or_damaged_last_frame_ends_the_scan_and_earlier_frames_stay() {
        // Proves the scan gives back the frames written, and that a last frame cut short
        // (zeros where its end should be) or with a changed byte is left out while every
        // frame before it is read.
        let dir = tempfile::tempdir().unwrap();
        let mut wal = fresh(dir.path(), SEGMENT_BYTES);
        let mut offsets = Vec::new();
        for n in 0..3u64 {
            offsets.push(wal.next_frame_at().1);
            wal.write(&chunks(1 + 48 * n, 3), &records(n as u8), 48 * (n + 1))
                .unwrap();
        }
        let (frames, end) = scanned(dir.path());
        assert_eq!(frames.len(), 3);
        assert_eq!(
            end,
            ScanEnd {
                epoch: 1,
                newest: Some(0)
            }
        );
        assert_eq!(frames[2].records, records(2));
        let path = segment_path(&dir.path().join(WAL_DIR), 0);
        let file = File::options().write(true).open(&path).unwrap();
        let last_end = wal.next_frame_at().1;
        let original = std::fs::read(&path).unwrap();
        file.write_all_at(&[0; 40], last_end - 40).unwrap();
        assert_eq!(scanned(dir.path()).0, frames[..2]);
        file.write_all_at(&original[..last_end as usize], 0)
            .unwrap();
        assert_eq!(scanned(dir.path()).0, frames);
        file.write_all_at(&[0xff], offsets[2] + 50).unwrap();
        assert_eq!(scanned(dir.path()).0, frames[..2]);
    }

    #[test]
    fn segments_switch_by_epoch_and_stale_frames_end_a_segment() {
        // Proves frames go to the other segment after a switch with a higher epoch, the
        // scan reads the older segment first, an epoch raised in place (sled flushed)
        // may leave a gap in positions, and frames of an earlier round through a segment
        // (a lower epoch) are never read after the new round's frames.
        let dir = tempfile::tempdir().unwrap();
        let mut wal = fresh(dir.path(), 4096);
        let mut written: Vec<(u64, u64)> = Vec::new();
        let mut position = 1;
        let mut write = |wal: &mut Wal, position: &mut u64| {
            wal.write(&chunks(*position, 2), &[], *position + 31)
                .unwrap();
            written.push((wal.epoch, *position));
            *position += 32;
        };
        for _ in 0..5 {
            write(&mut wal, &mut position);
        }
        wal.sled_flushed(false);
        position += 10;
        write(&mut wal, &mut position);
        let firsts = |data: &Path| -> Vec<(u64, u64)> {
            scanned(data).0.iter().map(|f| (f.epoch, f.first)).collect()
        };
        assert_eq!(
            firsts(dir.path()).len(),
            6,
            "a gap after an epoch raised in place"
        );
        assert!(!wal.fits(4096 - 100));
        wal.sled_flushed(true);
        for _ in 0..7 {
            write(&mut wal, &mut position);
        }
        wal.sled_flushed(true);
        write(&mut wal, &mut position);
        write(&mut wal, &mut position);
        // Segment 0's first round (epochs 1 and 2) was partly overwritten by its second
        // (epoch 4): the scan gives segment 1 (epoch 3), then the two new frames of
        // segment 0, and stops at the stale third frame of the first round.
        assert_eq!(firsts(dir.path()), written[6..]);
        assert_eq!(
            scanned(dir.path()).1,
            ScanEnd {
                epoch: 4,
                newest: Some(0)
            }
        );
        assert_eq!(written[5].0, 2);
        assert!(!wal.takes(4097) && wal.takes(4096));
    }
}
