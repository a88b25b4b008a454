//! `RedbStore`: one stream's messages in one redb file.
//!
//! The index (totals, per-subject summary, interior gaps) lives in memory
//! and answers state queries; the tables hold the messages and what
//! recovery needs to rebuild that index without reading every message.
//! Writes go into one write transaction that stays open until `commit`,
//! and reads made meanwhile go through it, so they see those writes.
//! Tables, encodings and the recovery contract: `jetstream/DESIGN.md`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::mem::NEXT_SCAN_MSGS;
use super::record;
use super::schema::{
    encode_wal_position, init, load_index, load_wal_position, subject_row, Index, CONSUMERS,
    DELETED, MESSAGES, META, META_CONFIG, META_STATE, META_WAL_POSITION, MSG_IDS, SEGMENTS,
    SUBJECTS, SUBJECT_SEQS,
};
use super::segments::{Loc, SegmentFiles, SEGMENT_BYTES};
use super::wal::{LogDamage, Op, Wal};
use super::{filter_is_all, Store, StoreError, StoreState, StoredMsg, SubjectState};
use crate::subject::{has_wildcard, matches};

/// redb's page cache per stream file (its default is 1 GiB per database).
/// Small, as it is per stream and the OS caches the file anyway: a stream
/// of large messages (object store chunks) fills it with pages used once,
/// and at 64 MiB a 256 MiB object put took RSS 105 MiB over idle.
const CACHE_BYTES: usize = 8 << 20;
/// Messages a purge removes per round, bounding the sequences held in RAM.
const PURGE_CHUNK: usize = 4096;
/// A checkpoint (durable redb commit, log restarted) once this many
/// changes are logged, bounding the replay after a crash (replay costs per
/// change, about 3 us)...
const CHECKPOINT_FRAMES: u64 = 8192;
/// ...or this many bytes (large messages: a checkpoint rewrites redb's
/// pages, so not at every batch of them)...
const CHECKPOINT_BYTES: u64 = 64 << 20;
/// ...or once the oldest logged change is this old.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `$body` with `$table` open on the pending write transaction (so
/// uncommitted writes are seen) or else on a read transaction that ends
/// with the call: an open read transaction would stop page reuse.
macro_rules! with_table {
    ($store:expr, $def:expr, |$table:ident| $body:expr) => {
        match &$store.txn {
            Some(txn) => {
                let $table = txn.open_table($def)?;
                let out = $body;
                out
            }
            None => {
                let read = $store.db.begin_read()?;
                let $table = read.open_table($def)?;
                let out = $body;
                out
            }
        }
    };
}

/// What `RedbStore::peek` read.
#[derive(Debug)]
pub struct Peek {
    /// The stream config document, if one was saved.
    pub config: Option<Vec<u8>>,
    pub msgs: u64,
    pub bytes: u64,
    /// Durable consumers are saved: the stream must run to serve them.
    pub has_consumers: bool,
}

/// redb's page cache for a peek (a few pages are read).
const PEEK_CACHE_BYTES: usize = 256 << 10;

pub struct RedbStore {
    /// The writes since the last commit; declared before `db` so it is
    /// dropped (aborted) first.
    txn: Option<WriteTransaction>,
    db: Arc<Database>,
    index: Index,
    /// Subjects whose `SUBJECTS` row is stale; written at commit.
    dirty: HashSet<String>,
    /// A purge of everything deleted tables that commit must recreate.
    dropped_tables: bool,
    /// Set when going back to the last commit failed: writes are refused.
    failed: Option<Arc<StoreError>>,
    /// Set when a failed batch could not be cut from the log (or was
    /// acked from it): writes are refused for good (until a restart
    /// replays the log). What broke it, and the failure.
    log_broken: Option<(&'static str, Arc<StoreError>)>,
    /// `make_durable` wrote the batch's log; `commit` applies it to redb.
    log_durable: bool,
    /// Shared with readers: a logged batch is not in redb yet.
    applying: Arc<std::sync::atomic::AtomicBool>,
    /// The durability point and the home of every message's record:
    /// every change is logged here and the log is synced at commit; redb
    /// itself commits without a sync and keeps where each record is.
    wal: Wal,
    /// The stream's redb file (the log and segments are named after it).
    path: PathBuf,
    /// The log's files, for reads (shared with `StoreReader`s).
    segments: Arc<SegmentFiles>,
    /// Segments whose `SEGMENTS` row is stale; written at commit.
    dirty_segments: HashSet<u64>,
    /// `sync_interval` relaxed: commits write the log without syncing it,
    /// and it is synced once this much time has passed since the last
    /// sync (`None` = every commit syncs).
    sync_every: Option<std::time::Duration>,
    last_sync: std::time::Instant,
    last_checkpoint: std::time::Instant,
}

/// The pending write transaction, begun if there is none. A free function
/// so that it borrows only these two fields.
fn begin<'a>(
    db: &Database,
    slot: &'a mut Option<WriteTransaction>,
) -> Result<&'a WriteTransaction, StoreError> {
    let txn = match slot.take() {
        Some(txn) => txn,
        None => begin_unsynced(db)?,
    };
    Ok(slot.insert(txn))
}

/// A new write transaction that commits without a sync: the log is the
/// durability point (see `RedbStore::checkpoint`).
fn begin_unsynced(db: &Database) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(redb::Durability::None)
        .map_err(|e| StoreError::db("making a transaction unsynced", e))?;
    Ok(txn)
}

impl RedbStore {
    /// Creates the file or opens it, rebuilds the index from its last
    /// checkpoint and replays the log beside it (`<name>.wal`) on top.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)?;
        let db = Arc::new(db);
        let existed = init(&db)?;
        let index = load_index(&db)?;
        let covered = load_wal_position(&db)?.unwrap_or((0, Wal::START));
        let (wal, ops, damage) = Wal::open(&Self::wal_path(path), covered, existed)?;
        if let Some(damage) = damage {
            let holds = index
                .segments
                .get(&wal.generation())
                .map_or(0, |used| used.msgs);
            if holds > 0 && matches!(damage, LogDamage::Missing | LogDamage::Short { .. }) {
                // The log is where the records are: without it, those
                // messages cannot be read. Refused, not served shorter.
                return Err(StoreError::corrupt(format!(
                    "{damage}; it held the records of {holds} stored messages"
                )));
            }
            tracing::warn!("JetStream stream file {}: {damage}", path.display());
        }
        let segments = Arc::new(SegmentFiles::new(path));
        segments.adopt(
            wal.generation(),
            Arc::new(
                wal.read_handle()
                    .map_err(|e| StoreError::io("opening the log for reads", e))?,
            ),
        );
        // Segments a checkpoint let go of but did not get to delete.
        for generation in SegmentFiles::sealed_on_disk(path)? {
            if generation < wal.generation() && !index.segments.contains_key(&generation) {
                segments.delete(generation)?;
            }
        }
        let now = std::time::Instant::now();
        let mut store = Self {
            txn: None,
            db,
            index,
            dirty: HashSet::new(),
            dropped_tables: false,
            failed: None,
            log_broken: None,
            log_durable: false,
            applying: Arc::default(),
            wal,
            path: path.to_path_buf(),
            segments,
            dirty_segments: HashSet::new(),
            sync_every: None,
            last_sync: now,
            last_checkpoint: now,
        };
        if !ops.is_empty() {
            for op in ops {
                store.replay(op)?;
            }
            if let Some(txn) = store.txn.take() {
                store.commit_txn(txn)?;
            }
            store.checkpoint()?;
        }
        Ok(store)
    }

    /// Reads what start-up needs from a stream file without opening it
    /// for writing (redb marks a file it opens for writing and syncs that
    /// mark, and again at close: five syncs a stream, which 10,000 streams
    /// at start-up cannot afford). `None` when the file cannot be read
    /// that way (it needs redb's repair after a crash) or its log has
    /// changes to replay: the caller opens it properly.
    pub fn peek(path: &Path) -> Result<Option<Peek>, StoreError> {
        let Ok(db) = Database::builder()
            .set_cache_size(PEEK_CACHE_BYTES)
            .open_read_only(path)
        else {
            // Needing repair, or damaged: a proper open repairs it or
            // reports what is really wrong.
            return Ok(None);
        };
        let read = db.begin_read()?;
        let meta = match read.open_table(META) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut ix = Index::default();
        if let Some(state) = meta.get(META_STATE)? {
            ix.decode_state(state.value())?;
        }
        let covered = match meta.get(META_WAL_POSITION)? {
            Some(v) => super::schema::decode_wal_position(v.value())?,
            None => (0, Wal::START),
        };
        if Wal::has_frames_past(&Self::wal_path(path), covered)? {
            return Ok(None);
        }
        let config = meta.get(META_CONFIG)?.map(|v| v.value().to_vec());
        let has_consumers = match read.open_table(CONSUMERS) {
            Ok(t) => !ReadableTableMetadata::is_empty(&t)?,
            Err(redb::TableError::TableDoesNotExist(_)) => false,
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Peek {
            config,
            msgs: ix.msgs,
            bytes: ix.bytes,
            has_consumers,
        }))
    }

    /// The log kept beside a stream file.
    pub fn wal_path(path: &Path) -> std::path::PathBuf {
        path.with_extension("wal")
    }

    /// Applies one logged change again (recovery), without logging it.
    fn replay(&mut self, op: Op) -> Result<(), StoreError> {
        match op {
            Op::Append { seq, record, at } => {
                let msg = record::summary(&record, seq)?;
                if seq != self.index.last_seq + 1 {
                    return Err(StoreError::corrupt(format!(
                        "log appends {seq} after {}",
                        self.index.last_seq
                    )));
                }
                let loc = Loc {
                    generation: self.wal.generation(),
                    offset: at,
                    len: u32::try_from(record.len())
                        .map_err(|_| StoreError::corrupt("a logged record over 4 GiB"))?,
                };
                self.append_in_txn(msg.subject, msg.time_ns, loc)?;
            }
            Op::Remove { seq } => {
                if self.index.is_stored(seq) {
                    self.remove_seqs(&[seq])?;
                }
            }
            Op::Purge {
                filter,
                below_seq,
                keep,
            } => {
                self.purge_in_txn(filter.as_deref(), below_seq, keep)?;
            }
            Op::MsgId { id, seq, time_ns } => self.msg_id_in_txn(&id, seq, time_ns)?,
            Op::ForgetIds(ids) => self.forget_ids_in_txn(&ids)?,
            Op::Config(json) => self.config_in_txn(&json)?,
            Op::Consumer { name, doc } => self.consumer_in_txn(&name, Some(&doc))?,
            Op::ConsumerRemoved(name) => self.consumer_in_txn(&name, None)?,
        }
        Ok(())
    }

    fn msg_id_in_txn(&mut self, id: &str, seq: u64, time_ns: i64) -> Result<(), StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        txn.open_table(MSG_IDS)?.insert(id, (seq, time_ns))?;
        Ok(())
    }

    fn forget_ids_in_txn(&mut self, ids: &[String]) -> Result<(), StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        let mut table = txn.open_table(MSG_IDS)?;
        for id in ids {
            table.remove(id.as_str())?;
        }
        Ok(())
    }

    fn consumer_in_txn(&mut self, name: &str, doc: Option<&[u8]>) -> Result<(), StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        let mut table = txn.open_table(CONSUMERS)?;
        match doc {
            Some(doc) => {
                table.insert(name, doc)?;
            }
            None => {
                table.remove(name)?;
            }
        }
        Ok(())
    }

    fn config_in_txn(&mut self, json: &[u8]) -> Result<(), StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        txn.open_table(META)?.insert(META_CONFIG, json)?;
        Ok(())
    }

    /// A durable redb commit that covers everything logged so far (the
    /// log synced first: redb points into it). When the log has grown past
    /// `SEGMENT_BYTES` it is sealed as a segment and the next generation
    /// begins. Sealed segments left with no message are let go of in the
    /// same commit and deleted after it. A crash before the seal leaves a
    /// log of an older generation than recorded, which the next open
    /// seals.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.wal
            .sync()
            .map_err(|e| StoreError::io("syncing the log", e))?;
        let active = self.wal.generation();
        let seal = !self.wal.has_pending() && self.wal.written_len() >= SEGMENT_BYTES;
        let position = if seal {
            (active + 1, Wal::START)
        } else {
            (active, self.wal.written_len())
        };
        let dead: Vec<u64> = self
            .index
            .segments
            .iter()
            .filter(|(&g, u)| u.msgs == 0 && (g < active || (seal && g == active)))
            .map(|(&g, _)| g)
            .collect();
        let mut txn = self.db.begin_write()?;
        // Crash recovery then takes under a millisecond instead of a walk
        // over the whole file.
        txn.set_quick_repair(true);
        {
            txn.open_table(META)?.insert(
                META_WAL_POSITION,
                encode_wal_position(position.0, position.1).as_slice(),
            )?;
            let mut rows = txn.open_table(SEGMENTS)?;
            for g in &dead {
                rows.remove(g)?;
            }
        }
        txn.commit()?;
        for g in &dead {
            self.index.segments.remove(g);
            self.dirty_segments.remove(g);
        }
        if seal {
            let path = Self::wal_path(&self.path);
            self.wal
                .seal_and_begin(&path, active + 1)
                .map_err(|e| StoreError::io("sealing the log", e))?;
            let reads = self
                .wal
                .read_handle()
                .map_err(|e| StoreError::io("opening the log for reads", e))?;
            self.segments.adopt(active + 1, Arc::new(reads));
        } else {
            self.wal.mark_checkpoint();
        }
        for g in dead {
            if g == active && !seal {
                continue;
            }
            if let Err(e) = self.segments.delete(g) {
                // Deleted at the next open instead.
                tracing::warn!("{e}");
            }
        }
        let now = std::time::Instant::now();
        self.last_checkpoint = now;
        self.last_sync = now;
        Ok(())
    }

    fn checkpoint_due(&self) -> bool {
        let logged = self.wal.logged_bytes();
        logged >= CHECKPOINT_BYTES
            || self.wal.logged_frames() >= CHECKPOINT_FRAMES
            || (logged > 0 && self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY)
    }

    /// Runs a mutation; if it fails, goes back to the last commit, since
    /// the transaction and the index may disagree after a partial write.
    fn write<R>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        if let Some(e) = self.unusable() {
            return Err(e);
        }
        if self.failed.is_some() {
            self.rollback();
            if let Some(e) = self.unusable() {
                return Err(e);
            }
        }
        let result = op(self);
        if result.is_err() {
            self.rollback();
        }
        result
    }

    fn rollback(&mut self) {
        self.txn = None;
        self.wal.discard_pending();
        self.dirty.clear();
        self.dirty_segments.clear();
        self.dropped_tables = false;
        match load_index(&self.db) {
            Ok(index) => {
                self.index = index;
                self.failed = None;
            }
            Err(e) => self.failed = Some(Arc::new(e)),
        }
    }

    /// The error for a store that refuses writes, if it does.
    fn unusable(&self) -> Option<StoreError> {
        let (why, source) = match (&self.log_broken, &self.failed) {
            (Some((why, e)), _) => (*why, e),
            (None, Some(e)) => ("going back to the last commit failed", e),
            (None, None) => return None,
        };
        Some(StoreError::Unusable {
            why,
            source: Arc::clone(source),
        })
    }

    fn mark_dirty(dirty: &mut HashSet<String>, subject: &str) {
        if !dirty.contains(subject) {
            dirty.insert(subject.to_owned());
        }
    }

    /// Indexes the message whose record the log holds at `loc`.
    fn append_in_txn(&mut self, subject: &str, time_ns: i64, loc: Loc) -> Result<u64, StoreError> {
        let seq = self.index.last_seq + 1;
        let txn = begin(&self.db, &mut self.txn)?;
        txn.open_table(MESSAGES)?
            .insert(seq, (loc.generation, loc.offset, loc.len, time_ns, subject))?;
        txn.open_table(SUBJECT_SEQS)?.insert((subject, seq), ())?;
        let size = record::stored_size_of_record(loc.len);
        let used = self.index.segments.entry(loc.generation).or_default();
        used.msgs += 1;
        used.bytes += u64::from(loc.len);
        self.dirty_segments.insert(loc.generation);

        let ix = &mut self.index;
        if ix.msgs == 0 {
            ix.first_seq = seq;
            ix.first_ts = time_ns;
        }
        ix.msgs += 1;
        ix.bytes += size;
        ix.last_seq = seq;
        ix.last_ts = time_ns;
        match ix.subjects.get_mut(subject) {
            Some(ss) => {
                ss.msgs += 1;
                ss.last_seq = seq;
            }
            None => {
                let ss = SubjectState {
                    msgs: 1,
                    first_seq: seq,
                    last_seq: seq,
                };
                ix.subjects.insert(subject.to_owned(), ss);
            }
        }
        Self::mark_dirty(&mut self.dirty, subject);
        Ok(seq)
    }

    /// Removes the given sequences (absent ones are skipped), then settles
    /// per-subject first/last, `first_seq` and the gaps once for the batch.
    fn remove_seqs(&mut self, seqs: &[u64]) -> Result<u64, StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        let mut messages = txn.open_table(MESSAGES)?;
        let mut subject_seqs = txn.open_table(SUBJECT_SEQS)?;
        let ix = &mut self.index;
        let old_first = ix.first_seq;
        let mut removed = Vec::with_capacity(seqs.len());
        let mut stale = HashSet::new();
        for &seq in seqs {
            let Some(guard) = messages.remove(seq)? else {
                continue;
            };
            let (generation, _, len, _, subject) = guard.value();
            subject_seqs.remove((subject, seq))?;
            match ix.subjects.get_mut(subject) {
                Some(ss) if ss.msgs > 1 => {
                    ss.msgs -= 1;
                    if seq == ss.first_seq || seq == ss.last_seq {
                        Self::mark_dirty(&mut stale, subject);
                    }
                }
                Some(_) => {
                    ix.subjects.remove(subject);
                }
                None => {
                    return Err(StoreError::corrupt(format!(
                        "message {seq}: subject {subject} is not in the index"
                    )))
                }
            }
            Self::mark_dirty(&mut self.dirty, subject);
            if let Some(used) = ix.segments.get_mut(&generation) {
                used.msgs = used.msgs.saturating_sub(1);
                used.bytes = used.bytes.saturating_sub(u64::from(len));
                self.dirty_segments.insert(generation);
            }
            ix.msgs = ix.msgs.saturating_sub(1);
            ix.bytes = ix.bytes.saturating_sub(record::stored_size_of_record(len));
            removed.push(seq);
        }
        for subject in &stale {
            let Some(ss) = ix.subjects.get_mut(subject.as_str()) else {
                continue;
            };
            let mut seqs =
                subject_seqs.range((subject.as_str(), 0)..=(subject.as_str(), u64::MAX))?;
            let first = match seqs.next() {
                Some(entry) => entry?.0.value().1,
                None => {
                    return Err(StoreError::corrupt(format!(
                        "subject {subject} has no sequences"
                    )))
                }
            };
            let last = match seqs.next_back() {
                Some(entry) => entry?.0.value().1,
                None => first,
            };
            ss.first_seq = first;
            ss.last_seq = last;
        }
        if removed.is_empty() {
            return Ok(0);
        }
        if ix.msgs == 0 {
            ix.first_seq = ix.last_seq + 1;
            ix.first_ts = 0;
        } else if removed.contains(&old_first) {
            let (seq, time_ns) = match messages.first()? {
                Some((k, v)) => (k.value(), v.value().3),
                None => return Err(StoreError::corrupt("messages counted but none stored")),
            };
            ix.first_seq = seq;
            ix.first_ts = time_ns;
        }
        let mut deleted = txn.open_table(DELETED)?;
        if ix.first_seq != old_first {
            let kept = ix.deleted.split_off(&ix.first_seq);
            for &seq in &ix.deleted {
                deleted.remove(seq)?;
            }
            ix.deleted = kept;
        }
        for &seq in removed.iter().filter(|&&s| s > ix.first_seq) {
            ix.deleted.insert(seq);
            deleted.insert(seq, ())?;
        }
        Ok(removed.len() as u64)
    }

    fn purge_all(&mut self) -> Result<u64, StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        let purged = self.index.msgs;
        if purged > 0 || !self.index.deleted.is_empty() {
            txn.delete_table(MESSAGES)?;
            txn.delete_table(SUBJECT_SEQS)?;
            txn.delete_table(SUBJECTS)?;
            txn.delete_table(DELETED)?;
            self.dropped_tables = true;
        }
        let ix = &mut self.index;
        for (g, used) in ix.segments.iter_mut() {
            *used = Default::default();
            self.dirty_segments.insert(*g);
        }
        ix.subjects.clear();
        ix.deleted.clear();
        ix.msgs = 0;
        ix.bytes = 0;
        ix.first_seq = ix.last_seq + 1;
        ix.first_ts = 0;
        self.dirty.clear();
        Ok(purged)
    }

    /// Removes every message below `cutoff`, a chunk at a time.
    fn purge_below(&mut self, cutoff: u64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let chunk = {
                let txn = begin(&self.db, &mut self.txn)?;
                let messages = txn.open_table(MESSAGES)?;
                let mut chunk = Vec::with_capacity(PURGE_CHUNK);
                for entry in messages.range(..cutoff)?.take(PURGE_CHUNK) {
                    chunk.push(entry?.0.value());
                }
                chunk
            };
            if chunk.is_empty() {
                return Ok(purged);
            }
            purged += self.remove_seqs(&chunk)?;
        }
    }

    fn purge_in_txn(
        &mut self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        let keep = keep.filter(|&k| k > 0);
        let all = filter_is_all(filter);
        if all && keep.is_none() {
            match below_seq {
                None => return self.purge_all(),
                Some(below) if below > self.index.last_seq => {
                    let purged = self.purge_all()?;
                    if below > self.index.last_seq + 1 {
                        self.index.first_seq = below;
                        self.index.last_seq = below - 1;
                    }
                    return Ok(purged);
                }
                Some(_) => {}
            }
        }
        if self.index.msgs == 0 {
            return Ok(0);
        }
        let below = below_seq.unwrap_or(u64::MAX);
        if all {
            let mut cutoff = below;
            if let Some(keep) = keep {
                match self.oldest_of_newest(keep)? {
                    Some(oldest_kept) => cutoff = cutoff.min(oldest_kept),
                    None => return Ok(0),
                }
            }
            return self.purge_below(cutoff);
        }
        let Some(filter) = filter else {
            return Ok(0);
        };
        let subjects: Vec<(String, SubjectState)> = self
            .index
            .matching(filter)
            .into_iter()
            .map(|(s, ss)| (s.to_owned(), ss))
            .collect();
        let matched: u64 = subjects.iter().map(|(_, ss)| ss.msgs).sum();
        if keep.is_some_and(|k| k >= matched) {
            return Ok(0);
        }
        // With `keep` the newest are counted over all matching messages,
        // so every sequence is gathered before `below` applies.
        let limit = if keep.is_some() { u64::MAX } else { below };
        let mut seqs = Vec::new();
        {
            let txn = begin(&self.db, &mut self.txn)?;
            let subject_seqs = txn.open_table(SUBJECT_SEQS)?;
            for (subject, ss) in subjects.iter().filter(|(_, ss)| ss.first_seq < limit) {
                let start = (subject.as_str(), ss.first_seq);
                for entry in subject_seqs.range(start..(subject.as_str(), limit))? {
                    seqs.push(entry?.0.value().1);
                }
            }
        }
        seqs.sort_unstable();
        if let Some(keep) = keep {
            seqs.truncate(
                seqs.len()
                    .saturating_sub(usize::try_from(keep).unwrap_or(usize::MAX)),
            );
        }
        seqs.truncate(seqs.partition_point(|&s| s < below));
        let mut purged = 0;
        for chunk in seqs.chunks(PURGE_CHUNK) {
            purged += self.remove_seqs(chunk)?;
        }
        Ok(purged)
    }

    /// The oldest sequence among the newest `keep` messages; `None` when
    /// `keep` covers them all.
    fn oldest_of_newest(&self, keep: u64) -> Result<Option<u64>, StoreError> {
        if keep >= self.index.msgs {
            return Ok(None);
        }
        let skip = self.index.msgs - keep;
        with_table!(self, MESSAGES, |messages| {
            let mut range = messages.range::<u64>(..)?;
            let entry = if keep <= skip {
                range.nth_back(usize::try_from(keep - 1).unwrap_or(usize::MAX))
            } else {
                range.nth(usize::try_from(skip).unwrap_or(usize::MAX))
            };
            match entry {
                Some(entry) => Ok(Some(entry?.0.value())),
                None => Err(StoreError::corrupt("fewer messages stored than counted")),
            }
        })
    }

    /// Commits redb without a sync: the log already holds the changes.
    fn commit_txn(&mut self, txn: WriteTransaction) -> Result<(), StoreError> {
        {
            let mut subjects = txn.open_table(SUBJECTS)?;
            for subject in self.dirty.drain() {
                match self.index.subjects.get(&subject) {
                    Some(ss) => {
                        subjects.insert(subject.as_str(), subject_row(ss))?;
                    }
                    None => {
                        subjects.remove(subject.as_str())?;
                    }
                }
            }
            let mut rows = txn.open_table(SEGMENTS)?;
            for g in self.dirty_segments.drain() {
                if let Some(used) = self.index.segments.get(&g) {
                    rows.insert(g, (used.msgs, used.bytes))?;
                }
            }
            let mut meta = txn.open_table(META)?;
            meta.insert(META_STATE, self.index.encode_state().as_slice())?;
            // Flushed before this commit: the log up to here is applied.
            let position = encode_wal_position(self.wal.generation(), self.wal.written_len());
            meta.insert(META_WAL_POSITION, position.as_slice())?;
            if self.dropped_tables {
                txn.open_table(MESSAGES)?;
                txn.open_table(SUBJECT_SEQS)?;
                txn.open_table(DELETED)?;
            }
        }
        self.dropped_tables = false;
        txn.commit()?;
        Ok(())
    }

    /// Relaxes commits as the reference's `sync_interval`: the log is
    /// written at every commit (so a process crash loses nothing) but
    /// synced only once per `every` (`None`: at every commit).
    pub fn set_sync_interval(&mut self, every: Option<std::time::Duration>) {
        self.sync_every = every;
    }

    /// The first stored sequence >= `from` among `subjects`, through their
    /// index rows (a subject whose first is past `from` needs no lookup).
    fn first_of_subjects(
        &self,
        subjects: &[(&str, SubjectState)],
        from: u64,
    ) -> Result<Option<u64>, StoreError> {
        with_table!(self, SUBJECT_SEQS, |subject_seqs| {
            let mut best: Option<u64> = None;
            for &(subject, ss) in subjects {
                if ss.last_seq < from || best.is_some_and(|b| b <= ss.first_seq.max(from)) {
                    continue;
                }
                let seq = if ss.first_seq >= from {
                    Some(ss.first_seq)
                } else {
                    match subject_seqs
                        .range((subject, from)..=(subject, u64::MAX))?
                        .next()
                    {
                        Some(entry) => Some(entry?.0.value().1),
                        None => None,
                    }
                };
                best = match (best, seq) {
                    (Some(b), Some(s)) => Some(b.min(s)),
                    (b, s) => b.or(s),
                };
            }
            Ok::<_, StoreError>(best)
        })
    }

    fn get_opt(&self, seq: Option<u64>) -> Result<Option<StoredMsg>, StoreError> {
        match seq {
            Some(seq) => self.get(seq),
            None => Ok(None),
        }
    }
}

impl Store for RedbStore {
    fn state(&self) -> StoreState {
        let ix = &self.index;
        StoreState {
            msgs: ix.msgs,
            bytes: ix.bytes,
            first_seq: ix.first_seq,
            first_ts: ix.first_ts,
            last_seq: ix.last_seq,
            last_ts: ix.last_ts,
            num_deleted: ix.deleted.len() as u64,
            num_subjects: ix.subjects.len() as u64,
        }
    }

    fn append(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        time_ns: i64,
    ) -> Result<u64, StoreError> {
        self.write(|s| {
            let seq = s.index.last_seq + 1;
            let (offset, len) =
                s.wal
                    .append(seq, subject, headers.as_deref(), &payload, time_ns)?;
            let loc = Loc {
                generation: s.wal.generation(),
                offset,
                len,
            };
            s.append_in_txn(subject, time_ns, loc)
        })
    }

    fn remove(&mut self, seq: u64) -> Result<bool, StoreError> {
        if !self.index.is_stored(seq) {
            return Ok(false);
        }
        self.write(|s| {
            let removed = s.remove_seqs(&[seq])? == 1;
            if removed {
                s.wal.remove(seq);
            }
            Ok(removed)
        })
    }

    fn purge(
        &mut self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        self.write(|s| {
            let purged = s.purge_in_txn(filter, below_seq, keep)?;
            s.wal.purge(filter, below_seq, keep);
            Ok(purged)
        })
    }

    fn record_msg_id(&mut self, id: &str, seq: u64, time_ns: i64) -> Result<(), StoreError> {
        self.write(|s| {
            s.msg_id_in_txn(id, seq, time_ns)?;
            s.wal.msg_id(id, seq, time_ns);
            Ok(())
        })
    }

    fn forget_msg_ids(&mut self, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(|s| {
            s.forget_ids_in_txn(ids)?;
            s.wal.forget_ids(ids);
            Ok(())
        })
    }

    fn msg_ids(&self) -> Result<Vec<(String, u64, i64)>, StoreError> {
        fn collect(
            t: &impl ReadableTable<&'static str, (u64, i64)>,
        ) -> Result<Vec<(String, u64, i64)>, StoreError> {
            let mut out = Vec::new();
            for entry in t.iter()? {
                let (k, v) = entry?;
                let (seq, time) = v.value();
                out.push((k.value().to_string(), seq, time));
            }
            Ok(out)
        }
        match &self.txn {
            Some(txn) => collect(&txn.open_table(MSG_IDS)?),
            None => {
                let read = self.db.begin_read()?;
                match read.open_table(MSG_IDS) {
                    Ok(t) => collect(&t),
                    Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    fn sync_deadline(&self) -> Option<std::time::Instant> {
        if self.wal.logged_bytes() == 0 {
            return None;
        }
        let checkpoint = self.last_checkpoint + CHECKPOINT_EVERY;
        match self.sync_every {
            Some(every) if self.wal.is_unsynced() => Some(checkpoint.min(self.last_sync + every)),
            _ => Some(checkpoint),
        }
    }

    /// Commits what is pending and checkpoints: everything so far durable
    /// in redb itself, and the log empty.
    fn sync(&mut self) -> Result<(), StoreError> {
        self.commit()?;
        if self.wal.logged_bytes() > 0 {
            self.checkpoint()?;
        }
        Ok(())
    }

    fn commit_unsynced(&mut self) -> Result<(), StoreError> {
        self.commit_with(false)
    }

    fn check(&self) -> Result<(), StoreError> {
        if let Some(e) = self.unusable() {
            return Err(e);
        }
        let read = self.db.begin_read()?;
        read.open_table(META)?.get(META_STATE)?;
        Ok(())
    }

    fn make_durable(&mut self) -> Result<(), StoreError> {
        if self.txn.is_none() && !self.wal.has_pending() {
            return Ok(());
        }
        if let Some((why, source)) = &self.log_broken {
            return Err(StoreError::Unusable {
                why,
                source: Arc::clone(source),
            });
        }
        // Readers fall back to the stream's shard until redb has it.
        self.applying
            .store(true, std::sync::atomic::Ordering::Release);
        if let Err(e) = self.flush_log(true) {
            self.applying
                .store(false, std::sync::atomic::Ordering::Release);
            return Err(e);
        }
        self.log_durable = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.commit_with(true)
    }
    fn contains(&self, seq: u64) -> bool {
        self.index.is_stored(seq)
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        if !self.index.is_stored(seq) {
            return Ok(None);
        }
        let loc = with_table!(self, MESSAGES, |messages| match messages.get(seq)? {
            Some(row) => row_loc(&row.value()),
            None => {
                return Err(StoreError::corrupt(format!(
                    "message {seq} is indexed but not stored"
                )));
            }
        });
        Ok(Some(record::decode_shared(self.read_record(loc)?, seq)?))
    }

    fn next_matching(&self, filter: &str, from_seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        let from = from_seq.max(self.index.first_seq);
        if self.index.msgs == 0 || from > self.index.last_seq {
            return Ok(None);
        }
        if !has_wildcard(filter.as_bytes()) {
            let subjects = self.index.matching(filter);
            return self.get_opt(self.first_of_subjects(&subjects, from)?);
        }
        // Read in sequence order first: matches are usually dense.
        let found = with_table!(self, MESSAGES, |messages| {
            let mut found = None;
            for (scanned, entry) in messages.range(from..)?.enumerate() {
                let (seq, row) = entry?;
                let (seq, row) = (seq.value(), row.value());
                if filter == ">" || matches(filter.as_bytes(), row.4.as_bytes()) {
                    found = Some(Ok((seq, row_loc(&row))));
                    break;
                }
                if scanned + 1 == NEXT_SCAN_MSGS {
                    found = Some(Err(seq + 1));
                    break;
                }
            }
            found
        });
        let resume = match found {
            None => return Ok(None),
            Some(Ok((seq, loc))) => {
                return Ok(Some(record::decode_shared(self.read_record(loc)?, seq)?))
            }
            Some(Err(resume)) => resume,
        };
        let subjects = self.index.matching(filter);
        self.get_opt(self.first_of_subjects(&subjects, resume)?)
    }

    fn scan(&self, filter: &str, from_seq: u64, max: usize) -> Result<Vec<StoredMsg>, StoreError> {
        let from = from_seq.max(self.index.first_seq);
        if self.index.msgs == 0 || from > self.index.last_seq || max == 0 {
            return Ok(Vec::new());
        }
        if filter != ">" {
            // Sparse filters go through the subject index, one at a time.
            let mut out = Vec::new();
            let mut seq = from;
            while out.len() < max {
                match self.next_matching(filter, seq)? {
                    Some(m) => {
                        seq = m.seq + 1;
                        out.push(m);
                    }
                    None => break,
                }
            }
            return Ok(out);
        }
        let locs = with_table!(self, MESSAGES, |messages| {
            let mut locs = Vec::with_capacity(max.min(1024));
            for entry in messages.range(from..)?.take(max) {
                let (seq, row) = entry?;
                locs.push((seq.value(), row_loc(&row.value())));
            }
            locs
        });
        let records = self.read_records(&locs)?;
        locs.iter()
            .zip(records)
            .map(|((seq, _), record)| record::decode_shared(record, *seq))
            .collect()
    }

    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        if self.index.msgs == 0 {
            return Ok(None);
        }
        let last = self
            .index
            .matching(filter)
            .into_iter()
            .map(|(_, ss)| ss.last_seq)
            .max();
        self.get_opt(last)
    }

    fn subject_state(&self, subject: &str) -> Option<SubjectState> {
        self.index.subjects.get(subject).copied()
    }

    fn subjects_matching(&self, filter: &str) -> Vec<(String, SubjectState)> {
        let mut out: Vec<(String, SubjectState)> = self
            .index
            .matching(filter)
            .into_iter()
            .map(|(s, ss)| (s.to_owned(), ss))
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn deleted(&self) -> Vec<u64> {
        self.index.deleted.iter().copied().collect()
    }

    fn save_config(&mut self, config_json: &[u8]) -> Result<(), StoreError> {
        self.write(|s| {
            s.config_in_txn(config_json)?;
            s.wal.config(config_json);
            Ok(())
        })
    }

    fn save_consumer(&mut self, name: &str, doc: &[u8]) -> Result<(), StoreError> {
        self.write(|s| {
            s.consumer_in_txn(name, Some(doc))?;
            s.wal.consumer(name, doc);
            Ok(())
        })
    }

    fn remove_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.write(|s| {
            s.consumer_in_txn(name, None)?;
            s.wal.consumer_removed(name);
            Ok(())
        })
    }

    fn load_consumers(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        fn collect(
            t: &impl ReadableTable<&'static str, &'static [u8]>,
        ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
            let mut out = Vec::new();
            for entry in t.iter()? {
                let (k, v) = entry?;
                out.push((k.value().to_string(), v.value().to_vec()));
            }
            Ok(out)
        }
        match &self.txn {
            Some(txn) => collect(&txn.open_table(CONSUMERS)?),
            None => {
                let read = self.db.begin_read()?;
                match read.open_table(CONSUMERS) {
                    Ok(t) => collect(&t),
                    Err(redb::TableError::TableDoesNotExist(_)) => Ok(Vec::new()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    fn reader(&self) -> Option<super::StoreReader> {
        Some(super::StoreReader {
            db: self.db.clone(),
            applying: self.applying.clone(),
            segments: self.segments.clone(),
        })
    }

    fn load_config(&self) -> Result<Option<Vec<u8>>, StoreError> {
        with_table!(self, META, |meta| Ok(meta
            .get(META_CONFIG)?
            .map(|v| v.value().to_vec())))
    }
}

/// Where a `MESSAGES` row says the record is.
pub(super) fn row_loc(row: &(u64, u64, u32, i64, &str)) -> Loc {
    Loc {
        generation: row.0,
        offset: row.1,
        len: row.2,
    }
}

/// Records further apart than this in one segment are read apart.
const RUN_GAP: u64 = 16 << 10;

impl RedbStore {
    /// A record's bytes: from the batch not yet written, or from its
    /// segment.
    fn read_record(&self, loc: Loc) -> Result<Bytes, StoreError> {
        if loc.generation == self.wal.generation() {
            if let Some(bytes) = self.wal.unwritten(loc.offset, loc.len) {
                return Ok(Bytes::copy_from_slice(bytes));
            }
        }
        self.segments.read(loc)
    }

    /// Many records, in order; those lying close together in one segment
    /// come with one read.
    fn read_records(&self, locs: &[(u64, Loc)]) -> Result<Vec<Bytes>, StoreError> {
        let mut out = Vec::with_capacity(locs.len());
        let mut run: Vec<Loc> = Vec::new();
        let written = |l: &Loc| {
            l.generation != self.wal.generation() || self.wal.unwritten(l.offset, l.len).is_none()
        };
        for (_, loc) in locs {
            let joins = run.last().is_some_and(|prev| {
                prev.generation == loc.generation
                    && loc.offset >= prev.offset + u64::from(prev.len)
                    && loc.offset - (prev.offset + u64::from(prev.len)) <= RUN_GAP
            });
            if (!joins || !written(loc)) && !run.is_empty() {
                out.extend(self.segments.read_run(&run)?);
                run.clear();
            }
            if written(loc) {
                run.push(*loc);
            } else {
                out.push(self.read_record(*loc)?);
            }
        }
        if !run.is_empty() {
            out.extend(self.segments.read_run(&run)?);
        }
        Ok(out)
    }

    /// Writes the batch's log records (synced unless relaxed), then
    /// commits redb without a sync. If redb fails, the log is cut back so
    /// a replay cannot bring back a batch reported failed.
    /// Writes the pending log frames (synced unless `may_sync` is false or
    /// syncs are relaxed); on failure the batch is abandoned.
    fn flush_log(&mut self, may_sync: bool) -> Result<(), StoreError> {
        let sync_now = may_sync
            && self
                .sync_every
                .is_none_or(|every| self.last_sync.elapsed() >= every);
        if let Err(e) = self.wal.flush(sync_now) {
            self.rollback();
            return Err(StoreError::io("writing the log", e));
        }
        if sync_now {
            self.last_sync = std::time::Instant::now();
        }
        Ok(())
    }

    fn commit_with(&mut self, may_sync: bool) -> Result<(), StoreError> {
        // The log was written and synced by `make_durable` (the batch may
        // already be acked): it must stay whatever happens to redb.
        let acked = std::mem::take(&mut self.log_durable);
        let result = self.commit_logged(may_sync, acked);
        self.applying
            .store(false, std::sync::atomic::Ordering::Release);
        result
    }

    fn commit_logged(&mut self, may_sync: bool, acked: bool) -> Result<(), StoreError> {
        let txn = match self.txn.take() {
            Some(txn) => txn,
            None if self.wal.has_pending() => match begin_unsynced(&self.db) {
                Ok(txn) => txn,
                Err(e) => {
                    self.rollback();
                    return Err(e);
                }
            },
            None => return Ok(()),
        };
        let before = self.wal.written_len();
        if let Err(e) = self.flush_log(may_sync) {
            drop(txn);
            return Err(e);
        }
        if let Err(e) = self.commit_txn(txn) {
            if acked {
                // Acked from the log: keep it, so a restart replays the
                // batch; until then nothing more is written. The caller
                // hears the failure as what broke the store (one error
                // value cannot be both kept and returned).
                self.rollback();
                let e = Arc::new(e);
                let why = "applying a logged batch failed";
                self.log_broken = Some((why, Arc::clone(&e)));
                return Err(StoreError::Unusable { why, source: e });
            }
            let cut = self.wal.cut_back(before);
            self.rollback();
            if let Err(cut) = cut {
                // The log may still replay the failed batch: stop writing.
                let cut = StoreError::io("cutting a failed batch from the log", cut);
                self.log_broken = Some(("log could not be cut back", Arc::new(cut)));
            }
            return Err(e);
        }
        if self.checkpoint_due() {
            if let Err(e) = self.checkpoint() {
                // The batch is safe in the log; the next commit retries.
                tracing::warn!("checkpoint failed: {e}");
            }
        }
        Ok(())
    }
}
