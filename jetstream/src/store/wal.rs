//! The write-ahead log beside a stream's redb file: the durability point of
//! `RedbStore`. Every change to the store is logged as it is made; a
//! commit writes the batch's records in one `write` and, unless syncs are
//! relaxed, one `fdatasync`. redb then commits the same changes without a
//! sync, and a periodic durable redb commit (a checkpoint) covers the whole
//! log, which then starts over under the next generation number.
//!
//! Layout: a 16-byte header (`TERNWAL\x01`, then the generation as u64 LE)
//! followed by frames `u32 LE body length, u32 LE CRC-32C of the body,
//! body`. Every redb commit records the log position it covers
//! (generation and offset); recovery replays the frames past that
//! position when the log is of the recorded generation, and stops at the
//! first torn or damaged frame (a crash mid-write), cutting it off.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::record;
use super::StoreError;

const MAGIC: &[u8; 8] = b"TERNWAL\x01";
const HEADER_LEN: u64 = 16;
const FRAME_HEAD: usize = 8;
/// Bytes of an append's frame besides its record: the frame head, the op
/// and the sequence.
pub(super) const APPEND_FRAME_EXTRA: u64 = FRAME_HEAD as u64 + 1 + 8;

const OP_APPEND: u8 = 1;
const OP_REMOVE: u8 = 2;
const OP_PURGE: u8 = 3;
const OP_MSG_ID: u8 = 4;
const OP_FORGET_IDS: u8 = 5;
const OP_CONFIG: u8 = 6;
const OP_CONSUMER: u8 = 7;
const OP_CONSUMER_REMOVED: u8 = 8;
const OP_SKIP: u8 = 9;
const OP_BATCH: u8 = 10;

const PURGE_FILTER: u8 = 1;
const PURGE_BELOW: u8 = 2;
const PURGE_KEEP: u8 = 4;

/// One logged change, as replayed.
#[derive(Debug, PartialEq)]
pub(super) enum Op {
    /// A message stored at `seq`; `record` is its `record.rs` encoding,
    /// found at offset `at` of the log's file.
    Append {
        seq: u64,
        record: Vec<u8>,
        at: u64,
    },
    Remove {
        seq: u64,
    },
    Purge {
        filter: Option<String>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    },
    MsgId {
        id: String,
        seq: u64,
        time_ns: i64,
    },
    ForgetIds(Vec<String>),
    Config(Vec<u8>),
    /// A consumer's document: name length u32, name, document.
    Consumer {
        name: String,
        doc: Vec<u8>,
    },
    ConsumerRemoved(String),
    /// `n` sequences from `start` on skipped (a mirror's origin removed
    /// them).
    Skip {
        start: u64,
        n: u64,
    },
    /// The next `n` appends stand or fall together (an atomic batch): a
    /// log that ends before the last of them is cut back to this frame.
    Batch {
        n: u64,
    },
}

/// What recovery found wrong with a log, beyond a torn last write (which
/// is cut quietly: that batch was never acknowledged).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LogDamage {
    /// The store existed but its log was missing or shorter than its
    /// header: whatever was logged since the last checkpoint is gone.
    Missing,
    /// A frame at `offset` fails its length, CRC or decoding, and `lost`
    /// intact frames follow it: the log was damaged in the middle, and is
    /// cut at `offset`.
    Damaged { offset: u64, lost: usize },
    /// The store covers the log past its end (the log was cut short);
    /// there is nothing to replay.
    Short { covered: u64, end: u64 },
}

impl std::fmt::Display for LogDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogDamage::Missing => f.write_str(
                "the write-ahead log is missing; changes since the last checkpoint, if any, are lost",
            ),
            LogDamage::Damaged { offset, lost } => write!(
                f,
                "the write-ahead log is damaged at offset {offset}; it was cut there and {lost} intact records after it are lost"
            ),
            LogDamage::Short { covered, end } => write!(
                f,
                "the write-ahead log ends at {end}, before the checkpoint's position {covered}; nothing to replay"
            ),
        }
    }
}

pub(super) struct Wal {
    file: File,
    generation: u64,
    /// Bytes in the file: header plus every frame written.
    len: u64,
    /// Frames of the batch not yet written to the file.
    pending: Vec<u8>,
    /// Frames were written since the last `fdatasync`.
    unsynced: bool,
    /// Frames logged since the last checkpoint.
    frames: u64,
    /// Where the file stood at the last checkpoint: what is logged past
    /// it is what a crash would replay.
    checkpoint_len: u64,
}

impl Wal {
    /// Opens (or creates) the log for a store whose last commit covered
    /// the log up to `covered` (generation, offset), and returns the
    /// changes to replay: the frames past that offset in a log of that
    /// generation. A log of an older generation was covered by a
    /// checkpoint and is dropped.
    /// `store_existed`: the store was not created by this open, so its
    /// log must be there. Damage is returned, to be reported.
    pub(super) fn open(
        path: &Path,
        covered: (u64, u64),
        store_existed: bool,
    ) -> Result<(Wal, Vec<Op>, Option<LogDamage>), StoreError> {
        let (generation, offset) = covered;
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
        // The header, then only what the store does not cover yet: the
        // frames before that hold records the store points at, which
        // recovery has no business reading (or cutting).
        let mut bytes = vec![0u8; file_len.min(HEADER_LEN) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, 0)
            .map_err(|e| io_err(path, e))?;
        let mut wal = Wal {
            file,
            generation,
            len: file_len,
            pending: Vec::new(),
            unsynced: false,
            frames: 0,
            checkpoint_len: HEADER_LEN,
        };
        if bytes.len() < HEADER_LEN as usize {
            // New, or cut before its header was whole: nothing was logged
            // (a log is never left without its header by this code). A
            // checkpoint that sealed the last log and crashed before the
            // next began leaves none, with nothing logged since.
            let damage = (store_existed && !existed).then_some(LogDamage::Missing);
            wal.start_over(generation).map_err(|e| io_err(path, e))?;
            return Ok((wal, Vec::new(), damage));
        }
        if &bytes[..8] != MAGIC {
            return Err(StoreError::corrupt(format!(
                "{}: not a tern log (bad magic)",
                path.display()
            )));
        }
        let logged = u64::from_le_bytes(take8(&bytes[8..16]));
        if logged < generation {
            // A checkpoint sealed this log (its messages are in redb,
            // pointing into it) and crashed before renaming it: seal it
            // now and begin the next.
            let sealed = path.with_extension(format!("{logged}.seg"));
            std::fs::rename(path, &sealed).map_err(|e| io_err(path, e))?;
            wal.file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(|e| io_err(path, e))?;
            wal.start_over(generation).map_err(|e| io_err(path, e))?;
            return Ok((wal, Vec::new(), None));
        }
        if logged > generation {
            return Err(StoreError::corrupt(format!(
                "{}: log generation {logged} is ahead of the store's {generation}",
                path.display()
            )));
        }
        let start = offset.max(HEADER_LEN);
        if start > file_len {
            // The log ends before the position the store covers: records
            // the store points at past the end are gone.
            wal.file
                .seek(SeekFrom::Start(file_len))
                .map_err(|e| io_err(path, e))?;
            let damage = LogDamage::Short {
                covered: offset,
                end: file_len,
            };
            return Ok((wal, Vec::new(), Some(damage)));
        }
        let mut body = vec![0u8; (file_len - start) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&wal.file, &mut body, start)
            .map_err(|e| io_err(path, e))?;
        let (mut frames, mut good) = decode_frames(&body);
        let mut damage = None;
        if good < body.len() {
            let lost = count_intact_after(&body, good);
            if lost > 0 {
                damage = Some(LogDamage::Damaged {
                    offset: start + good as u64,
                    lost,
                });
            }
        }
        // A batch cut short by the crash was never acknowledged.
        if let Some((kept, at)) = unfinished_batch(&frames) {
            frames.truncate(kept);
            good = at;
        }
        let end = start + good as u64;
        wal.checkpoint_len = start;
        let ops = placed(frames, start);
        wal.frames = ops.len() as u64;
        if end < wal.len {
            // A torn last write: it was never acknowledged.
            wal.file.set_len(end).map_err(|e| io_err(path, e))?;
            wal.len = end;
        }
        wal.file
            .seek(SeekFrom::Start(end))
            .map_err(|e| io_err(path, e))?;
        Ok((wal, ops, damage))
    }

    /// The changes written to the file past `covered` (a store going
    /// back to its last checkpoint replays them); nothing when the log is
    /// of another generation.
    pub(super) fn written_since(&self, covered: (u64, u64)) -> Result<Vec<Op>, StoreError> {
        let start = covered.1.max(HEADER_LEN);
        if covered.0 != self.generation || start >= self.len {
            return Ok(Vec::new());
        }
        let mut body = vec![0u8; (self.len - start) as usize];
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut body, start)
            .map_err(|e| StoreError::io("reading the log back", e))?;
        let (mut frames, good) = decode_frames(&body);
        if good < body.len() {
            return Err(StoreError::corrupt(format!(
                "the log reads back damaged at offset {}",
                start + good as u64
            )));
        }
        if let Some((kept, _)) = unfinished_batch(&frames) {
            frames.truncate(kept);
        }
        Ok(placed(frames, start))
    }

    /// Whether the log at `path` holds intact frames past `covered` that
    /// a store covering that position would replay. A log that is not a
    /// tern log, or is ahead of the store, is an error (as `open` says).
    pub(super) fn has_frames_past(path: &Path, covered: (u64, u64)) -> Result<bool, StoreError> {
        // The header and the length only: the log also holds the records
        // of stored messages, which start-up must not read.
        let file = match File::open(path) {
            Ok(f) => f,
            // Missing: `open` reports it (the store exists).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(io_err(path, e)),
        };
        let file_len = file.metadata().map_err(|e| io_err(path, e))?.len();
        if file_len < HEADER_LEN {
            return Ok(false);
        }
        let mut bytes = [0u8; HEADER_LEN as usize];
        std::os::unix::fs::FileExt::read_exact_at(&file, &mut bytes, 0)
            .map_err(|e| io_err(path, e))?;
        if &bytes[..8] != MAGIC {
            return Err(StoreError::corrupt(format!(
                "{}: not a tern log (bad magic)",
                path.display()
            )));
        }
        let logged = u64::from_le_bytes(take8(&bytes[8..16]));
        if logged > covered.0 {
            return Err(StoreError::corrupt(format!(
                "{}: log generation {logged} is ahead of the store's {}",
                path.display(),
                covered.0
            )));
        }
        if logged < covered.0 {
            return Ok(false);
        }
        // Anything past the covered position, intact or not, is for a
        // proper open to replay or to report.
        Ok(file_len > covered.1.max(HEADER_LEN))
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The header's length: where the frames of a new log begin.
    pub(super) const START: u64 = HEADER_LEN;

    /// Bytes logged since the last checkpoint (written or not).
    pub(super) fn logged_bytes(&self) -> u64 {
        self.len - self.checkpoint_len + self.pending.len() as u64
    }

    /// A checkpoint covers everything written so far.
    pub(super) fn mark_checkpoint(&mut self) {
        self.checkpoint_len = self.len;
        self.frames = 0;
    }

    /// The bytes of a record logged but not written to the file yet, if
    /// `offset` is in the pending batch.
    pub(super) fn unwritten(&self, offset: u64, len: u32) -> Option<&[u8]> {
        let at = usize::try_from(offset.checked_sub(self.len)?).ok()?;
        self.pending.get(at..at + len as usize)
    }

    /// A handle for reading the log's file from other threads.
    pub(super) fn read_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// Frames logged since the last checkpoint (what a replay would redo).
    pub(super) fn logged_frames(&self) -> u64 {
        self.frames
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub(super) fn is_unsynced(&self) -> bool {
        self.unsynced
    }

    /// Logs a message; returns where its record will be in the file
    /// (offset, length), which is where it stays.
    pub(super) fn append(
        &mut self,
        seq: u64,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        time_ns: i64,
    ) -> Result<(u64, u32), StoreError> {
        let start = self.begin_frame(OP_APPEND);
        self.pending.extend_from_slice(&seq.to_le_bytes());
        let record_at = self.pending.len();
        if let Err(e) = record::encode_into(&mut self.pending, subject, headers, payload, time_ns) {
            self.pending.truncate(start);
            return Err(e);
        }
        let len = u32::try_from(self.pending.len() - record_at).map_err(|_| {
            self.pending.truncate(start);
            StoreError::TooLarge {
                what: "message",
                bytes: payload.len(),
            }
        })?;
        self.end_frame(start);
        Ok((self.len + record_at as u64, len))
    }

    pub(super) fn remove(&mut self, seq: u64) {
        let start = self.begin_frame(OP_REMOVE);
        self.pending.extend_from_slice(&seq.to_le_bytes());
        self.end_frame(start);
    }

    pub(super) fn purge(
        &mut self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) {
        let start = self.begin_frame(OP_PURGE);
        let mut flags = 0;
        for (set, bit) in [
            (filter.is_some(), PURGE_FILTER),
            (below_seq.is_some(), PURGE_BELOW),
            (keep.is_some(), PURGE_KEEP),
        ] {
            if set {
                flags |= bit;
            }
        }
        self.pending.push(flags);
        self.pending
            .extend_from_slice(&below_seq.unwrap_or(0).to_le_bytes());
        self.pending
            .extend_from_slice(&keep.unwrap_or(0).to_le_bytes());
        self.pending
            .extend_from_slice(filter.unwrap_or("").as_bytes());
        self.end_frame(start);
    }

    pub(super) fn batch(&mut self, n: u64) {
        let at = self.begin_frame(OP_BATCH);
        self.pending.extend_from_slice(&n.to_le_bytes());
        self.end_frame(at);
    }

    pub(super) fn skip(&mut self, start: u64, n: u64) {
        let at = self.begin_frame(OP_SKIP);
        self.pending.extend_from_slice(&start.to_le_bytes());
        self.pending.extend_from_slice(&n.to_le_bytes());
        self.end_frame(at);
    }

    pub(super) fn msg_id(&mut self, id: &str, seq: u64, time_ns: i64) {
        let start = self.begin_frame(OP_MSG_ID);
        self.pending.extend_from_slice(&seq.to_le_bytes());
        self.pending.extend_from_slice(&time_ns.to_le_bytes());
        self.pending.extend_from_slice(id.as_bytes());
        self.end_frame(start);
    }

    pub(super) fn forget_ids(&mut self, ids: &[String]) {
        let start = self.begin_frame(OP_FORGET_IDS);
        for id in ids {
            let len = u32::try_from(id.len()).unwrap_or(u32::MAX);
            self.pending.extend_from_slice(&len.to_le_bytes());
            self.pending.extend_from_slice(id.as_bytes());
        }
        self.end_frame(start);
    }

    pub(super) fn config(&mut self, json: &[u8]) {
        let start = self.begin_frame(OP_CONFIG);
        self.pending.extend_from_slice(json);
        self.end_frame(start);
    }

    pub(super) fn consumer(&mut self, name: &str, doc: &[u8]) {
        let start = self.begin_frame(OP_CONSUMER);
        let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
        self.pending.extend_from_slice(&len.to_le_bytes());
        self.pending.extend_from_slice(name.as_bytes());
        self.pending.extend_from_slice(doc);
        self.end_frame(start);
    }

    pub(super) fn consumer_removed(&mut self, name: &str) {
        let start = self.begin_frame(OP_CONSUMER_REMOVED);
        self.pending.extend_from_slice(name.as_bytes());
        self.end_frame(start);
    }

    /// Forgets the frames not yet written (the batch was abandoned).
    pub(super) fn discard_pending(&mut self) {
        self.pending.clear();
    }

    /// Writes the pending frames in one call; with `sync`, waits until
    /// they are on disk. On failure the file is cut back to where the
    /// batch began, so a later replay cannot bring back a batch that was
    /// reported failed.
    pub(super) fn flush(&mut self, sync: bool) -> std::io::Result<()> {
        let before = self.len;
        if !self.pending.is_empty() {
            let result = self.file.write_all(&self.pending);
            if let Err(e) = result {
                self.pending.clear();
                let _ = self.cut_back(self.len);
                return Err(e);
            }
            self.len += self.pending.len() as u64;
            self.pending.clear();
            self.unsynced = true;
        }
        if sync {
            if let Err(e) = self.sync() {
                // The batch is reported failed, so it must not come back
                // on replay: cut it off (the kernel may have dropped the
                // pages, or may still write them).
                if let Err(cut) = self.cut_back(before) {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("{e}; cutting the log back also failed: {cut}"),
                    ));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Makes every written frame durable.
    pub(super) fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            let started = std::time::Instant::now();
            self.file.sync_data()?;
            crate::metrics::store()
                .fsync_seconds
                .observe(started.elapsed().as_secs_f64());
            self.unsynced = false;
        }
        Ok(())
    }

    /// Cuts the file back to `len` bytes (a batch written but not
    /// committed to redb).
    pub(super) fn cut_back(&mut self, len: u64) -> std::io::Result<()> {
        self.file.set_len(len)?;
        self.file.seek(SeekFrom::Start(len))?;
        self.len = len;
        self.file.sync_data()
    }

    pub(super) fn written_len(&self) -> u64 {
        self.len
    }

    /// Seals this log as the segment of its generation (`path` is where
    /// it is) and begins an empty one under `generation` at `path`. The
    /// caller's durable commit already covers everything logged here.
    /// Returns the sealed file's path.
    pub(super) fn seal_and_begin(
        &mut self,
        path: &Path,
        generation: u64,
    ) -> std::io::Result<std::path::PathBuf> {
        self.sync()?;
        let sealed = path.with_extension(format!("{}.seg", self.generation));
        std::fs::rename(path, &sealed)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        self.start_over(generation)?;
        Ok(sealed)
    }

    /// Writes an empty log's header under `generation`.
    fn start_over(&mut self, generation: u64) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&generation.to_le_bytes());
        // No sync of its own: until frames follow, a lost header reads as
        // an empty or older log (nothing to replay), and the sync of the
        // first frames covers it.
        self.file.write_all(&header)?;
        self.generation = generation;
        self.len = HEADER_LEN;
        self.checkpoint_len = HEADER_LEN;
        self.pending.clear();
        self.unsynced = false;
        self.frames = 0;
        Ok(())
    }

    fn begin_frame(&mut self, op: u8) -> usize {
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0u8; FRAME_HEAD]);
        self.pending.push(op);
        start
    }

    fn end_frame(&mut self, start: usize) {
        self.frames += 1;
        let body = &self.pending[start + FRAME_HEAD..];
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let crc = crc32(body);
        self.pending[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(path.display().to_string(), e)
}

/// Decoded frames read from `start`, appends given their record's offset
/// in the file.
fn placed(frames: Vec<(usize, Op)>, start: u64) -> Vec<Op> {
    frames
        .into_iter()
        .map(|(at, op)| match op {
            Op::Append { seq, record, .. } => Op::Append {
                seq,
                record,
                // The frame's head, its op byte, then the sequence.
                at: start + at as u64 + FRAME_HEAD as u64 + 1 + 8,
            },
            other => other,
        })
        .collect()
}

fn take8(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[..8]);
    out
}

/// Where the last batch frame starts, when fewer appends than it
/// announced follow it: (frames to keep, byte offset to cut at).
fn unfinished_batch(frames: &[(usize, Op)]) -> Option<(usize, usize)> {
    let mut open: Option<(usize, usize, u64)> = None;
    for (i, (at, op)) in frames.iter().enumerate() {
        match op {
            Op::Batch { n } if *n > 0 => open = Some((i, *at, *n)),
            Op::Append { .. } => {
                if let Some((_, _, left)) = &mut open {
                    *left -= 1;
                    if *left == 0 {
                        open = None;
                    }
                }
            }
            _ => {}
        }
    }
    open.map(|(i, at, _)| (i, at))
}

/// Decodes whole, intact frames from the start of `bytes`; returns them
/// with their offsets and how many bytes they span. Decoding stops at the
/// first frame that is cut short, fails its CRC or does not parse.
fn decode_frames(bytes: &[u8]) -> (Vec<(usize, Op)>, usize) {
    let mut ops = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= FRAME_HEAD {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let body_start = at + FRAME_HEAD;
        let Some(body_end) = body_start.checked_add(len as usize) else {
            break;
        };
        if len == 0 || body_end > bytes.len() {
            break;
        }
        let body = &bytes[body_start..body_end];
        if crc32(body) != crc {
            break;
        }
        let Some(op) = decode_op(body) else {
            break;
        };
        ops.push((at, op));
        at = body_end;
    }
    (ops, at)
}

/// The intact frames after a bad one at `bad`: a torn last write leaves
/// none (only the rest of its own frame), damage in the middle leaves the
/// frames that followed. Each offset past `bad` is tried as a frame start.
fn count_intact_after(bytes: &[u8], bad: usize) -> usize {
    let mut at = bad + 1;
    while at + FRAME_HEAD <= bytes.len() {
        let (frames, span) = decode_frames(&bytes[at..]);
        if !frames.is_empty() {
            return frames.len() + count_intact_after(&bytes[at..], span);
        }
        at += 1;
    }
    0
}

fn decode_op(body: &[u8]) -> Option<Op> {
    let (&kind, rest) = body.split_first()?;
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(take8(b.get(at..at + 8)?)))
    };
    match kind {
        OP_APPEND => Some(Op::Append {
            seq: u64_at(rest, 0)?,
            record: rest.get(8..)?.to_vec(),
            at: 0,
        }),
        OP_REMOVE => Some(Op::Remove {
            seq: u64_at(rest, 0)?,
        }),
        OP_PURGE => {
            let flags = *rest.first()?;
            let below = u64_at(rest, 1)?;
            let keep = u64_at(rest, 9)?;
            let filter = std::str::from_utf8(rest.get(17..)?).ok()?;
            Some(Op::Purge {
                filter: (flags & PURGE_FILTER != 0).then(|| filter.to_owned()),
                below_seq: (flags & PURGE_BELOW != 0).then_some(below),
                keep: (flags & PURGE_KEEP != 0).then_some(keep),
            })
        }
        OP_MSG_ID => Some(Op::MsgId {
            seq: u64_at(rest, 0)?,
            time_ns: u64_at(rest, 8)? as i64,
            id: std::str::from_utf8(rest.get(16..)?).ok()?.to_owned(),
        }),
        OP_FORGET_IDS => {
            let mut ids = Vec::new();
            let mut at = 0;
            while at < rest.len() {
                let len = u32::from_le_bytes(rest.get(at..at + 4)?.try_into().ok()?) as usize;
                let id = rest.get(at + 4..at + 4 + len)?;
                ids.push(std::str::from_utf8(id).ok()?.to_owned());
                at += 4 + len;
            }
            Some(Op::ForgetIds(ids))
        }
        OP_CONFIG => Some(Op::Config(rest.to_vec())),
        OP_CONSUMER => {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let name = std::str::from_utf8(rest.get(4..4 + len)?).ok()?.to_owned();
            Some(Op::Consumer {
                name,
                doc: rest.get(4 + len..)?.to_vec(),
            })
        }
        OP_CONSUMER_REMOVED => Some(Op::ConsumerRemoved(
            std::str::from_utf8(rest).ok()?.to_owned(),
        )),
        OP_BATCH => Some(Op::Batch {
            n: u64_at(rest, 0)?,
        }),
        OP_SKIP => Some(Op::Skip {
            start: u64_at(rest, 0)?,
            n: u64_at(rest, 8)?,
        }),
        _ => None,
    }
}

/// CRC-32C (Castagnoli) tables for slicing by 8: `TABLES[0]` is the
/// classic byte table, `TABLES[k]` advances a byte k positions further.
const TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[t - 1][i];
            tables[t][i] = (prev >> 8) ^ tables[0][(prev & 0xFF) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
};

/// CRC-32C of a frame body: enough to tell a torn or damaged frame. The
/// processor's CRC32 instruction when it has one (object chunks of
/// 128 KiB go through this), else eight bytes a step from tables.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the feature the function needs was just detected.
            return unsafe { crc32c_sse42(bytes) };
        }
    }
    crc32c_tables(bytes)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(bytes: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut crc = u64::from(!0u32);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        crc = _mm_crc32_u64(crc, word);
    }
    let mut crc = crc as u32;
    for &b in chunks.remainder() {
        crc = _mm_crc32_u8(crc, b);
    }
    !crc
}

fn crc32c_tables(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = TABLES[7][(lo & 0xFF) as usize]
            ^ TABLES[6][((lo >> 8) & 0xFF) as usize]
            ^ TABLES[5][((lo >> 16) & 0xFF) as usize]
            ^ TABLES[4][(lo >> 24) as usize]
            ^ TABLES[3][(hi & 0xFF) as usize]
            ^ TABLES[2][((hi >> 8) & 0xFF) as usize]
            ^ TABLES[1][((hi >> 16) & 0xFF) as usize]
            ^ TABLES[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = TABLES[0][((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_ops(wal: &mut Wal) {
        wal.append(1, "a.b", Some(b"NATS/1.0\r\nX: y\r\n\r\n"), b"hello", 42)
            .expect("append");
        wal.remove(1);
        wal.purge(Some("a.*"), Some(7), None);
        wal.purge(None, None, Some(3));
        wal.msg_id("id-1", 2, 99);
        wal.forget_ids(&["x".into(), "yz".into()]);
        wal.config(b"{}");
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_tables(b"123456789"), 0xE306_9283);
        assert_eq!(crc32(b""), 0);
        // Every length around the 8-byte step, the fast forms against the
        // bytewise one.
        let data: Vec<u8> = (0..100u32).map(|i| (i * 37 % 256) as u8).collect();
        for len in 0..data.len() {
            let mut slow = !0u32;
            for &b in &data[..len] {
                slow = TABLES[0][((slow ^ u32::from(b)) & 0xFF) as usize] ^ (slow >> 8);
            }
            assert_eq!(crc32(&data[..len]), !slow, "length {len}");
            assert_eq!(crc32c_tables(&data[..len]), !slow, "length {len}");
        }
    }

    #[test]
    fn written_frames_replay_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, ops, _) = Wal::open(&path, (3, HEADER_LEN), false).expect("open");
        assert!(ops.is_empty());
        sample_ops(&mut wal);
        wal.flush(true).expect("flush");
        drop(wal);
        let (_, ops, _) = Wal::open(&path, (3, HEADER_LEN), false).expect("reopen");
        assert_eq!(ops.len(), 7);
        assert!(matches!(&ops[0], Op::Append { seq: 1, .. }));
        assert_eq!(ops[1], Op::Remove { seq: 1 });
        assert_eq!(
            ops[2],
            Op::Purge {
                filter: Some("a.*".into()),
                below_seq: Some(7),
                keep: None
            }
        );
        assert_eq!(
            ops[3],
            Op::Purge {
                filter: None,
                below_seq: None,
                keep: Some(3)
            }
        );
        assert_eq!(
            ops[4],
            Op::MsgId {
                id: "id-1".into(),
                seq: 2,
                time_ns: 99
            }
        );
        assert_eq!(ops[5], Op::ForgetIds(vec!["x".into(), "yz".into()]));
        assert_eq!(ops[6], Op::Config(b"{}".to_vec()));
    }

    #[test]
    fn a_batch_cut_short_is_dropped_whole_and_the_log_cut_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("open");
        wal.append(1, "a", None, b"x", 1).expect("append");
        wal.batch(2);
        wal.append(2, "a", None, b"y", 2).expect("append");
        wal.msg_id("m", 2, 2);
        wal.append(3, "a", None, b"z", 3).expect("append");
        wal.batch(3);
        wal.append(4, "a", None, b"w", 4).expect("append");
        wal.append(5, "a", None, b"v", 5).expect("append");
        wal.flush(true).expect("flush");
        drop(wal);
        let (wal, ops, damage) = Wal::open(&path, (0, HEADER_LEN), false).expect("reopen");
        assert!(damage.is_none(), "a batch cut short is not damage");
        let kinds: Vec<String> = ops
            .iter()
            .map(|op| match op {
                Op::Append { seq, .. } => format!("append {seq}"),
                Op::Batch { n } => format!("batch {n}"),
                Op::MsgId { .. } => "id".into(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["append 1", "batch 2", "append 2", "id", "append 3"]);
        // The file ends where the unfinished batch began.
        let end = wal.written_len();
        drop(wal);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), end);
        let (_, again, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("reopen");
        assert_eq!(again.len(), 5);
    }

    #[test]
    fn unflushed_frames_are_not_replayed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("open");
        wal.remove(5);
        drop(wal);
        let (_, ops, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("reopen");
        assert!(ops.is_empty());
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_the_rest_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("open");
        wal.remove(1);
        wal.remove(2);
        wal.flush(true).expect("flush");
        let full = wal.written_len();
        drop(wal);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open file");
        file.set_len(full - 3).expect("cut");
        drop(file);
        let (wal, ops, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("reopen");
        assert_eq!(ops, vec![Op::Remove { seq: 1 }]);
        assert!(wal.written_len() < full - 3);
    }

    #[test]
    fn a_damaged_frame_ends_the_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("open");
        wal.remove(1);
        wal.remove(2);
        wal.flush(true).expect("flush");
        drop(wal);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        std::fs::write(&path, &bytes).expect("write");
        let (_, ops, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("reopen");
        assert_eq!(ops, vec![Op::Remove { seq: 1 }]);
    }

    #[test]
    fn an_older_generation_is_dropped_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (4, HEADER_LEN), false).expect("open");
        wal.remove(1);
        wal.flush(true).expect("flush");
        drop(wal);
        let (wal, ops, _) = Wal::open(&path, (5, HEADER_LEN), false).expect("newer store");
        assert!(ops.is_empty());
        assert_eq!(wal.generation(), 5);
        drop(wal);
        assert!(matches!(
            Wal::open(&path, (4, HEADER_LEN), false),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn frames_the_store_covers_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("open");
        wal.remove(1);
        wal.flush(true).expect("flush");
        let covered = wal.written_len();
        wal.remove(2);
        wal.flush(true).expect("flush");
        drop(wal);
        let (_, ops, _) = Wal::open(&path, (0, covered), false).expect("reopen");
        assert_eq!(ops, vec![Op::Remove { seq: 2 }]);
    }

    #[test]
    fn a_failed_batch_is_cut_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (mut wal, _, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("open");
        wal.remove(1);
        wal.flush(true).expect("flush");
        let before = wal.written_len();
        wal.remove(2);
        wal.flush(true).expect("flush");
        wal.cut_back(before).expect("cut back");
        wal.remove(3);
        wal.flush(true).expect("flush");
        drop(wal);
        let (_, ops, _) = Wal::open(&path, (0, HEADER_LEN), false).expect("reopen");
        assert_eq!(ops, vec![Op::Remove { seq: 1 }, Op::Remove { seq: 3 }]);
    }

    /// Ten remove frames of 17 bytes each (8 head, op, seq), flushed.
    fn ten_frames(path: &Path) -> u64 {
        let (mut wal, _, _) = Wal::open(path, (0, HEADER_LEN), false).expect("open");
        for seq in 1..=10 {
            wal.remove(seq);
        }
        wal.flush(true).expect("flush");
        wal.written_len()
    }

    #[test]
    fn a_torn_tail_is_not_reported_as_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let full = ten_frames(&path);
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.set_len(full - 5).expect("cut");
        let (_, ops, damage) = Wal::open(&path, (0, HEADER_LEN), true).expect("reopen");
        assert_eq!(ops.len(), 9);
        assert_eq!(damage, None);
    }

    #[test]
    fn damage_in_the_middle_is_reported_with_what_was_lost() {
        let frame = 17u64;
        for bad_frame in [0u64, 3, 8] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("s.wal");
            let full = ten_frames(&path);
            let mut bytes = std::fs::read(&path).expect("read");
            let at = (HEADER_LEN + bad_frame * frame + 12) as usize;
            bytes[at] ^= 0xFF;
            std::fs::write(&path, &bytes).expect("write");
            let (wal, ops, damage) = Wal::open(&path, (0, HEADER_LEN), true).expect("reopen");
            assert_eq!(ops.len() as u64, bad_frame, "frame {bad_frame}");
            let offset = HEADER_LEN + bad_frame * frame;
            let lost = (9 - bad_frame) as usize;
            assert_eq!(damage, Some(LogDamage::Damaged { offset, lost }));
            assert_eq!(wal.written_len(), offset, "cut at the damage");
            assert!(full > offset);
        }
    }

    #[test]
    fn a_missing_log_of_an_existing_store_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let (_, _, damage) = Wal::open(&path, (2, HEADER_LEN), true).expect("open");
        assert_eq!(damage, Some(LogDamage::Missing));
        let fresh = dir.path().join("new.wal");
        let (_, _, damage) = Wal::open(&fresh, (0, HEADER_LEN), false).expect("open");
        assert_eq!(damage, None);
    }

    #[test]
    fn a_log_shorter_than_the_store_covers_opens_with_nothing_to_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.wal");
        let full = ten_frames(&path);
        let (_, ops, damage) = Wal::open(&path, (0, full + 100), true).expect("open");
        assert!(ops.is_empty());
        assert!(matches!(damage, Some(LogDamage::Short { .. })));
    }
}
