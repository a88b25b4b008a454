//! Message storage for one stream, behind one trait with two
//! implementations: `MemStore` (RAM; also the oracle every store test is
//! run against) and `RedbStore` (one redb file per stream).
//!
//! A store keeps its index (totals, per-subject counts, first/last
//! sequences) in memory, so state queries are cheap. Writes change the
//! index at once and are made durable together by `commit`: the stream's
//! writer applies a whole batch of publishes, then commits once (group
//! commit), then acks them.

mod blocks;
mod error;
mod gaps;
mod mem;
mod record;
mod redb_store;
mod schema;
mod segments;
mod wal;

pub use error::StoreError;
pub(crate) use mem::MemStore;
pub(crate) use redb_store::RedbStore;
pub(crate) use segments::SegmentFiles;
/// CRC-32C (Castagnoli), as the log uses and Snappy framing does.
pub(crate) use wal::crc32 as crc32c;

use bytes::Bytes;

/// One stored message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMsg {
    /// Its sequence in the stream.
    pub seq: u64,
    /// The subject it was published to.
    pub subject: String,
    /// The raw header block (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<Bytes>,
    /// The message body.
    pub payload: Bytes,
    /// Unix time in nanoseconds when it was stored.
    pub time_ns: i64,
}

/// The reference's file-store message size: record overhead plus subject,
/// headers and payload, and a header-length field when there are headers.
pub(crate) fn stored_size(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    const RECORD_OVERHEAD: u64 = 30;
    const HEADER_LEN_FIELD: u64 = 4;
    let hdr = headers.map_or(0, |h| h.len() as u64 + HEADER_LEN_FIELD);
    RECORD_OVERHEAD + subject.len() as u64 + hdr + payload.len() as u64
}

/// The reference's memory-store message size.
pub(crate) fn memory_stored_size(subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
    const OVERHEAD: u64 = 16;
    OVERHEAD + subject.len() as u64 + headers.map_or(0, <[u8]>::len) as u64 + payload.len() as u64
}

/// Totals of a stream's stored messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoreState {
    pub msgs: u64,
    pub bytes: u64,
    /// First sequence still stored; `last_seq + 1` when emptied, and 0
    /// (with `last_seq` 0) while nothing was ever stored, as the reference
    /// reports a new stream.
    pub first_seq: u64,
    /// Time of the first stored message; 0 when empty.
    pub first_ts: i64,
    /// The newest sequence ever assigned (it stays when that message is
    /// removed).
    pub last_seq: u64,
    /// Time of the message stored at `last_seq`, kept after its removal.
    pub last_ts: i64,
    /// Sequences between first and last that were removed (interior gaps;
    /// a removed `last_seq` counts).
    pub num_deleted: u64,
    pub num_subjects: u64,
}

/// Per-subject totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubjectState {
    pub msgs: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// Storage of one stream's messages. Reads see every write made so far,
/// committed or not; `commit` makes the writes since the last commit
/// durable, all or nothing.
pub(crate) trait Store: Send {
    fn state(&self) -> StoreState;

    /// Whether this is the memory store (a few of the reference's
    /// behaviours differ by storage type, and tern follows them).
    fn is_memory(&self) -> bool {
        false
    }

    /// What a message counts for in `bytes` and `max_bytes` in this kind
    /// of store (the reference counts file and memory differently).
    fn size_of(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        stored_size(subject, headers, payload)
    }

    /// Stores a message at `last_seq + 1` and returns that sequence.
    fn append(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        time_ns: i64,
    ) -> Result<u64, StoreError>;

    /// Moves `last_seq` on by `n` without storing anything: a mirror
    /// following its origin past messages removed there. The skipped
    /// sequences are gaps; when nothing is stored, `first_seq` moves past
    /// them instead (the reference's `SkipMsgs`).
    fn skip(&mut self, n: u64) -> Result<(), StoreError>;

    /// The next `n` appends stand or fall together (an atomic batch):
    /// a durable store marks them so a crash keeps all or none.
    fn begin_batch(&mut self, _n: u64) -> Result<(), StoreError> {
        Ok(())
    }

    /// Removes one message; false if it was not stored.
    fn remove(&mut self, seq: u64) -> Result<bool, StoreError>;

    /// Removes messages: those matching `filter` (all when `None` or
    /// `">"`), below sequence `below_seq` when given, leaving the newest
    /// `keep` (of the matching ones) when given. Returns how many were
    /// removed. Purging everything leaves `first_seq = last_seq + 1`.
    ///
    /// `below_seq` is literal: `Some(1)` removes nothing (mapping the JS
    /// API's `seq` 0/1 to "no bound" is the caller's job); `keep: Some(0)`
    /// keeps nothing. A purge of every subject without `keep` whose
    /// `below_seq` is past `last_seq + 1` also moves the sequence, as the
    /// reference's compact does: `first_seq = below_seq`,
    /// `last_seq = below_seq - 1`, so the next message gets `below_seq`.
    fn purge(
        &mut self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError>;

    /// Makes every write since the last commit durable (for RAM, a no-op).
    /// When a write or the commit fails, a durable store returns to its
    /// last committed state, as after a crash: the uncommitted writes are
    /// lost and must not be acked.
    fn commit(&mut self) -> Result<(), StoreError>;

    /// Makes the writes since the last commit durable without applying
    /// them yet: they may be acked now, and `commit` applies them. A store
    /// without that split makes them durable in `commit`.
    fn make_durable(&mut self) -> Result<(), StoreError> {
        self.commit()
    }

    /// Commits like `commit`, but a durable store may leave the sync to its
    /// next sync deadline (for consumer state, which the reference does
    /// not sync per ack either).
    fn commit_unsynced(&mut self) -> Result<(), StoreError> {
        self.commit()
    }

    /// Remembers a publish's Nats-Msg-Id with the message (same commit).
    fn record_msg_id(&mut self, _id: &str, _seq: u64, _time_ns: i64) -> Result<(), StoreError> {
        Ok(())
    }

    /// Forgets ids that left the duplicate window.
    fn forget_msg_ids(&mut self, _ids: &[String]) -> Result<(), StoreError> {
        Ok(())
    }

    /// The recorded ids: (id, seq, time_ns).
    fn msg_ids(&self) -> Result<Vec<(String, u64, i64)>, StoreError> {
        Ok(Vec::new())
    }

    /// With a relaxed sync interval: when the commits made since the last
    /// durable one must be synced (`None`: nothing waits).
    fn sync_deadline(&self) -> Option<std::time::Instant> {
        None
    }

    /// Makes every commit so far durable.
    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The stream has gone quiet: bring what other threads read (a
    /// `reader`) up to date with every commit, cheaply (no sync).
    fn settle(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether the store can still be used: a file store whose backend
    /// failed (redb refuses everything after an I/O error) must be
    /// reopened.
    fn check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError>;

    /// Whether `seq` is stored, from the index (no read).
    fn contains(&self, seq: u64) -> bool {
        self.get(seq).ok().flatten().is_some()
    }

    /// The first message with sequence >= `from_seq` whose subject matches
    /// `filter` (wildcards allowed; `">"` matches every subject).
    fn next_matching(&self, filter: &str, from_seq: u64) -> Result<Option<StoredMsg>, StoreError>;

    /// Up to `max` messages matching `filter` from `from_seq` on, in order
    /// (a consumer's read-ahead; one read instead of one per message).
    fn scan(&self, filter: &str, from_seq: u64, max: usize) -> Result<Vec<StoredMsg>, StoreError> {
        let mut out = Vec::new();
        let mut seq = from_seq;
        while out.len() < max {
            match self.next_matching(filter, seq)? {
                Some(m) => {
                    seq = m.seq + 1;
                    out.push(m);
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// The newest message whose subject matches `filter` (wildcards allowed).
    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError>;

    fn subject_state(&self, subject: &str) -> Option<SubjectState>;

    /// Per-subject totals of the stored subjects matching `filter`, sorted
    /// by subject.
    fn subjects_matching(&self, filter: &str) -> Vec<(String, SubjectState)>;

    /// Sequences removed between first and last (interior gaps), ascending.
    fn deleted(&self) -> Vec<u64>;

    /// Keeps a durable consumer's document (config and state) with the
    /// messages, in the same commit.
    fn save_consumer(&mut self, _name: &str, _doc: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }

    fn remove_consumer(&mut self, _name: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// A handle that reads committed messages from any thread, without the
    /// writer (file stores only).
    fn reader(&self) -> Option<StoreReader> {
        None
    }

    /// The saved consumers: (name, document).
    fn load_consumers(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(Vec::new())
    }

    /// Keeps the stream's config document with the messages, for recovery.
    fn save_config(&mut self, config_json: &[u8]) -> Result<(), StoreError>;

    fn load_config(&self) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Reads a file store's committed messages from any thread (redb serves
/// concurrent readers beside its one writer): what an embedding program's
/// KV get uses instead of a round trip through the stream's shard.
#[derive(Clone)]
pub struct StoreReader {
    pub(crate) db: std::sync::Arc<redb::Database>,
    /// Set while a batch is acked (logged) but not yet in redb.
    pub(crate) applying: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The log's files, where the records are.
    pub(crate) segments: std::sync::Arc<SegmentFiles>,
}

impl StoreReader {
    /// Whether every acked write is visible here; when not, a read must
    /// go through the stream's shard (it runs after the batch lands).
    pub fn is_current(&self) -> bool {
        !self.applying.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The newest committed message on `subject` (a literal subject).
    pub fn last_for_subject(&self, subject: &str) -> Result<Option<StoredMsg>, StoreError> {
        contain_panic(|| {
            use redb::ReadableDatabase;
            let read = self.db.begin_read()?;
            let last = match read.open_table(schema::SUBJECTS)?.get(subject)? {
                Some(row) => row.value().2,
                None => return Ok(None),
            };
            // A subject's last message is stored by definition: no need
            // to ask the state and the gaps.
            let blocks = read.open_table(schema::BLOCKS)?;
            let Some((loc, _)) = schema::entry_of(&blocks, last)? else {
                return Ok(None);
            };
            Ok(Some(record::decode_shared(self.segments.read(loc)?, last)?))
        })
    }

    /// The committed message at `seq`.
    pub fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        contain_panic(|| {
            use redb::ReadableDatabase;
            let read = self.db.begin_read()?;
            self.read_stored(&read, seq)
        })
    }

    /// The message at `seq` if the committed index says it is stored
    /// (blocks keep the entries of removed messages).
    fn read_stored(
        &self,
        read: &redb::ReadTransaction,
        seq: u64,
    ) -> Result<Option<StoredMsg>, StoreError> {
        let mut ix = schema::Index::default();
        if let Some(state) = read.open_table(schema::META)?.get(schema::META_STATE)? {
            ix.decode_state(state.value())?;
        }
        if ix.msgs == 0 || seq < ix.first_seq || seq > ix.last_seq {
            return Ok(None);
        }
        if let Some(run) = read.open_table(schema::GAPS)?.range(..=seq)?.next_back() {
            if run?.1.value() > seq {
                return Ok(None);
            }
        }
        let blocks = read.open_table(schema::BLOCKS)?;
        let Some((loc, _)) = schema::entry_of(&blocks, seq)? else {
            return Ok(None);
        };
        Ok(Some(record::decode_shared(self.segments.read(loc)?, seq)?))
    }
}

/// Runs a read of a file that may be damaged: redb panics on some damage,
/// and a reader runs on threads that serve other streams too.
pub(crate) fn contain_panic<R>(f: impl FnOnce() -> Result<R, StoreError>) -> Result<R, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(StoreError::corrupt("reading the stream's file panicked")))
}

/// Stream names this long or longer are kept in files named by a prefix
/// and a hash: `<name>.redb` must fit the file system's 255 bytes, and
/// names may have up to 255.
const LONG_NAME_BYTES: usize = 200;

/// The file a file stream is kept in: `<name>.redb`, or for a long name a
/// prefix of it and a hash of the whole, `<prefix>~<hash>.redb` (the name
/// itself is kept inside the file, with the config).
pub(crate) fn file_name(stream: &str) -> String {
    if stream.len() < LONG_NAME_BYTES {
        return format!("{stream}.redb");
    }
    let mut cut = LONG_NAME_BYTES / 2;
    while !stream.is_char_boundary(cut) {
        cut -= 1;
    }
    // FNV-1a, 64 bits: stable across builds and platforms.
    let hash = stream.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{}~{hash:016x}.redb", &stream[..cut])
}

/// The readers of the file streams, by stream name; the registry keeps
/// it current as streams come and go.
#[derive(Default)]
pub struct Readers {
    map: std::sync::RwLock<std::collections::HashMap<String, StoreReader>>,
    /// The streams that allow direct gets (`allow_direct`).
    direct: std::sync::RwLock<std::collections::HashSet<String>>,
}

impl Readers {
    /// Drops every reader (at shutdown: the files they hold open close).
    pub fn clear(&self) {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The reader of a file stream's committed messages; `None` for a
    /// memory stream, an unknown one, or one whose files are closed.
    pub fn get(&self, stream: &str) -> Option<StoreReader> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(stream)
            .cloned()
    }

    /// The reader of a stream that allows direct gets, when every acked
    /// write is visible through it.
    pub fn direct(&self, stream: &str) -> Option<StoreReader> {
        let allowed = self
            .direct
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(stream);
        self.get(stream).filter(|r| allowed && r.is_current())
    }

    pub(crate) fn set_direct(&self, stream: &str, allowed: bool) {
        let mut set = self
            .direct
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if allowed {
            set.insert(stream.to_string());
        } else {
            set.remove(stream);
        }
    }

    pub(crate) fn set(&self, stream: &str, reader: Option<StoreReader>) {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match reader {
            Some(r) => {
                map.insert(stream.to_string(), r);
            }
            None => {
                map.remove(stream);
            }
        }
    }
}

/// True when a purge filter selects every subject.
pub(crate) fn filter_is_all(filter: Option<&str>) -> bool {
    filter.is_none_or(|f| f == ">")
}

#[cfg(test)]
mod tests;
