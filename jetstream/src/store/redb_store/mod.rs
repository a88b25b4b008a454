//! `RedbStore`: one stream's messages in one redb file.
//!
//! The index (totals, per-subject summary, interior gaps) lives in memory
//! and answers state queries; the tables hold the messages and what
//! recovery needs to rebuild that index without reading every message.
//! Writes go into one write transaction that stays open until `commit`,
//! and reads made meanwhile go through it, so they see those writes.
//! Tables, encodings and the recovery contract: `jetstream/DESIGN.md`.
//! Here: opening, recovery and the `Store` methods; commits and
//! checkpoints are in `commit`, removals and purges in `removal`, record
//! reads in `reads`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::blocks::{Block, BlockBuilder};
use super::mem::NEXT_SCAN_MSGS;
use super::record;
use super::schema::{
    encode_doomed, encode_wal_position, init, load_index, load_wal_position, subject_row, Index,
    BLOCKS, CONSUMERS, GAPS, META, META_CONFIG, META_DOOMED, META_STATE, META_WAL_POSITION,
    MSG_IDS, SEGMENTS, SEGMENT_SPANS, SUBJECTS, SUBJECT_BLOCKS,
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

/// While segments are being compacted, a quiet stream checkpoints this
/// often (one segment each time).
const COMPACT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `$body` with `$table` open on the pending write transaction (so
/// uncommitted writes are seen) or else on a read transaction that ends
/// with the call: an open read transaction would stop page reuse.
macro_rules! with_table {
    ($store:expr, $($def:expr),+; |$($table:ident),+| $body:expr) => {
        match &$store.txn {
            Some(txn) => {
                $(let $table = txn.open_table($def)?;)+
                let out = $body;
                out
            }
            None => {
                let read = $store.db.begin_read()?;
                $(let $table = read.open_table($def)?;)+
                let out = $body;
                out
            }
        }
    };
    ($store:expr, $def:expr, |$table:ident| $body:expr) => {
        with_table!($store, $def; |$table| $body)
    };
}

mod commit;
mod compact;
#[cfg(test)]
pub(super) const COMPACTED_BASE_FOR_TESTS: u64 = compact::COMPACTED_BASE;
mod reads;
mod removal;
mod staged;

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
    /// The `MESSAGES` and `SUBJECT_SEQS` rows of the messages appended
    /// since the last checkpoint, which writes them (`staged.rs`).
    staged: staged::Staged,
    /// Sealed segments let go of whose files are not deleted yet (a
    /// failed delete, or a compacted segment kept for one checkpoint).
    doomed: Vec<u64>,
    /// Compactions committed (`compact.rs`): names the next one's file.
    compactions: u64,
    /// Sizes of sealed segment files, as compaction looked them up.
    segment_lens: std::collections::HashMap<u64, u64>,
    /// The last checkpoint compacted a segment: there may be more to do,
    /// and the old one to delete, even if nothing more is logged.
    compaction_pending: bool,
    /// Compaction failed: not tried again before this.
    compact_paused_until: Option<std::time::Instant>,
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
        // Segments a checkpoint let go of but may not have deleted: the
        // ones it recorded; a store converted from format 2 (no record)
        // is swept once. A store that never sealed a log has none (and
        // listing a directory of 10,000 streams at every open would not
        // do).
        let mut doomed = Vec::new();
        let listed = match super::schema::load_doomed(&db)? {
            Some(recorded) => recorded,
            None if wal.generation() > 0 => SegmentFiles::sealed_on_disk(path)?
                .into_iter()
                .filter(|g| *g < wal.generation() && !index.segments.contains_key(g))
                .collect(),
            None => Vec::new(),
        };
        for generation in listed {
            if let Err(e) = segments.delete(generation) {
                tracing::warn!("{e}");
                doomed.push(generation);
            }
        }
        let compactions = super::schema::load_compactions(&db)?;
        Self::delete_uncommitted_compaction(path, compactions);
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
            staged: staged::Staged::default(),
            doomed,
            compactions,
            segment_lens: std::collections::HashMap::new(),
            compaction_pending: false,
            compact_paused_until: None,
            sync_every: None,
            last_sync: now,
            last_checkpoint: now,
        };
        if !ops.is_empty() {
            for op in ops {
                store.replay(op)?;
            }
            store.apply_and_checkpoint()?;
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
            // Its appends follow (a batch cut short was dropped by the
            // log's recovery).
            Op::Batch { .. } => {}
            Op::Skip { start, n } => {
                if start != self.index.last_seq + 1 {
                    return Err(StoreError::corrupt(format!(
                        "log skips from {start} after {}",
                        self.index.last_seq
                    )));
                }
                self.skip_in_txn(n)?;
            }
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

    fn mark_dirty(dirty: &mut HashSet<String>, subject: &str) {
        if !dirty.contains(subject) {
            dirty.insert(subject.to_owned());
        }
    }

    /// Indexes the message whose record the log holds at `loc`.
    fn append_in_txn(&mut self, subject: &str, time_ns: i64, loc: Loc) -> Result<u64, StoreError> {
        let seq = self.index.last_seq + 1;
        self.staged.push(seq, subject, time_ns, loc);
        let size = record::stored_size_of_record(loc.len);
        let used = self.index.segments.entry(loc.generation).or_default();
        used.msgs += 1;
        used.bytes += u64::from(loc.len);
        if used.end == 0 {
            used.first = seq;
        }
        used.end = used.end.max(seq + 1);
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

    /// Relaxes commits as the reference's `sync_interval`: the log is
    /// written at every commit (so a process crash loses nothing) but
    /// synced only once per `every` (`None`: at every commit).
    pub fn set_sync_interval(&mut self, every: Option<std::time::Duration>) {
        self.sync_every = every;
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
            num_deleted: ix.deleted.len(),
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

    fn begin_batch(&mut self, n: u64) -> Result<(), StoreError> {
        self.write(|s| {
            s.wal.batch(n);
            Ok(())
        })
    }

    fn skip(&mut self, n: u64) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        self.write(|s| {
            let start = s.index.last_seq + 1;
            s.skip_in_txn(n)?;
            s.wal.skip(start, n);
            Ok(())
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
            // A quiet stream goes on compacting, a segment at a time.
            return self
                .compaction_pending
                .then(|| self.last_checkpoint + COMPACT_EVERY);
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
        if self.wal.logged_bytes() > 0
            || self.txn.is_some()
            || !self.staged.is_empty()
            || self.compaction_pending
        {
            self.checkpoint_now(None)?;
        }
        Ok(())
    }

    fn commit_unsynced(&mut self) -> Result<(), StoreError> {
        self.commit_with(false)
    }

    fn settle(&mut self) -> Result<(), StoreError> {
        if self.wal.has_pending() || (self.txn.is_none() && self.staged.is_empty()) {
            return Ok(());
        }
        // Everything logged is written: redb may cover it all.
        self.apply_to_redb(None)?;
        self.publish_applying();
        Ok(())
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
        if !self.wal.has_pending() {
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
            self.publish_applying();
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
        let Some(loc) = self.locate(seq)? else {
            return Err(StoreError::corrupt(format!(
                "message {seq} is indexed but not stored"
            )));
        };
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
        let mut scanned = 0;
        let mut found: Option<Result<(u64, Loc), u64>> = None;
        self.walk(from, |seq, loc, subject| {
            if filter == ">" || matches(filter.as_bytes(), subject.as_bytes()) {
                found = Some(Ok((seq, loc)));
                return false;
            }
            scanned += 1;
            if scanned == NEXT_SCAN_MSGS {
                found = Some(Err(seq + 1));
                return false;
            }
            true
        })?;
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
        let mut locs = Vec::with_capacity(max.min(1024));
        self.walk(from, |seq, loc, _| {
            locs.push((seq, loc));
            locs.len() < max
        })?;
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
        self.index.deleted.iter().collect()
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
