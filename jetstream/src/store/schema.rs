//! The redb file of one stream: its tables, key and record encodings,
//! format version, and the rebuilding of the in-memory index from them
//! (`jetstream/DESIGN.md` describes the layout).

use std::collections::HashMap;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use super::blocks::{Block, BlockBuilder};
use super::gaps::Gaps;
use super::segments::Loc;
use super::{StoreError, SubjectState};
use crate::subject::{has_wildcard, matches};

/// first seq of a run -> where the run's records are, with their times
/// and subjects (`blocks.rs`). The records are in the log segments
/// (`segments.rs`).
pub(super) const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("msg_blocks");
/// (subject, block) -> (): the blocks holding messages on a subject, for
/// per-subject first/next lookups after removals. A row may outlive its
/// subject's messages in that block (removed inside the stream); it goes
/// with the block.
pub(super) const SUBJECT_BLOCKS: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("subject_blocks");
/// Format 2's row per message, read only to convert a file to format 3.
const V2_MESSAGES: TableDefinition<u64, (u64, u64, u32, i64, &str)> =
    TableDefinition::new("msg_locations");
const V2_SUBJECT_SEQS: TableDefinition<(&str, u64), ()> = TableDefinition::new("subject_seqs");
/// generation -> (messages, record bytes) still stored in that segment;
/// a sealed segment left with none is deleted at a checkpoint.
pub(super) const SEGMENTS: TableDefinition<u64, (u64, u64)> = TableDefinition::new("segments");
/// generation -> (first, end): the index blocks naming that segment have
/// keys in first..end (a segment holds a run of sequences), so compaction
/// finds them without reading every block. A segment without a row (or a
/// store without the table) is searched over all blocks.
pub(super) const SEGMENT_SPANS: TableDefinition<u64, (u64, u64)> =
    TableDefinition::new("segment_spans");
/// subject -> (msgs, first_seq, last_seq), written once per commit.
pub(super) const SUBJECTS: TableDefinition<&str, (u64, u64, u64)> =
    TableDefinition::new("subjects");
/// Interior gaps: runs of removed sequences in (first_seq, last_seq],
/// start -> end (exclusive), as `gaps.rs` keeps them.
pub(super) const GAPS: TableDefinition<u64, u64> = TableDefinition::new("gaps");
/// Format 3's row per removed sequence, read only to convert a file.
const V3_DELETED: TableDefinition<u64, ()> = TableDefinition::new("deleted");
/// Nats-Msg-Id -> (seq, time_ns) of publishes within the duplicate
/// window, so a restart rebuilds the window without reading messages.
pub(super) const MSG_IDS: TableDefinition<&str, (u64, i64)> = TableDefinition::new("msg_ids");
/// Named records: `format`, `state`, `config`.
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Durable consumers: name -> their saved document.
pub(super) const CONSUMERS: TableDefinition<&str, &[u8]> = TableDefinition::new("consumers");

/// u32 LE: the on-disk format version.
pub(super) const META_FORMAT: &str = "format";
/// first_seq, last_seq, last_ts, msgs, bytes: five 8-byte LE integers.
pub(super) const META_STATE: &str = "state";
/// The stream config document as saved.
pub(super) const META_CONFIG: &str = "config";
/// Two u64 LE: the write-ahead log position (generation, offset) this
/// commit covers; the log's frames past it are replayed at open. Absent
/// means generation 0 from its start.
pub(super) const META_WAL_POSITION: &str = "wal_position";
/// u64 LE each: sealed segments a checkpoint let go of, whose files may
/// still be there (a crash, or a failed delete): an open deletes them.
/// Absent in a store converted from format 2, which an open then sweeps.
pub(super) const META_DOOMED: &str = "doomed";
/// u64 LE: compactions committed; the next one writes the segment of
/// generation `COMPACTED_BASE` + this, and an open deletes that file if a
/// crash left it before its commit.
pub(super) const META_COMPACTIONS: &str = "compactions";
/// 1: records in redb (before segments); 2: records in log segments, a
/// row per message; 3: a row per block of messages; 4: gaps as runs.
const FORMAT_VERSION: u32 = 4;
const STATE_BYTES: usize = 40;

/// What the tables say, kept in memory.
#[derive(Debug, Default)]
pub(super) struct Index {
    pub(super) msgs: u64,
    pub(super) bytes: u64,
    pub(super) first_seq: u64,
    pub(super) first_ts: i64,
    pub(super) last_seq: u64,
    pub(super) last_ts: i64,
    pub(super) subjects: HashMap<String, SubjectState>,
    pub(super) deleted: Gaps,
    /// What each segment still holds.
    pub(super) segments: std::collections::BTreeMap<u64, SegmentUse>,
}

/// The stored messages a segment still holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SegmentUse {
    pub(super) msgs: u64,
    pub(super) bytes: u64,
    /// Where its blocks' keys lie (`SEGMENT_SPANS`): `first..end`, or
    /// `0..u64::MAX` when not recorded; `0..0` for a segment not yet
    /// holding any.
    pub(super) first: u64,
    pub(super) end: u64,
}

impl Index {
    pub(super) fn is_stored(&self, seq: u64) -> bool {
        self.msgs > 0
            && (self.first_seq..=self.last_seq).contains(&seq)
            && !self.deleted.contains(seq)
    }

    pub(super) fn encode_state(&self) -> [u8; STATE_BYTES] {
        let mut out = [0; STATE_BYTES];
        let fields = [
            self.first_seq,
            self.last_seq,
            u64::from_le_bytes(self.last_ts.to_le_bytes()),
            self.msgs,
            self.bytes,
        ];
        for (chunk, field) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        out
    }

    pub(super) fn decode_state(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.len() != STATE_BYTES {
            return Err(StoreError::corrupt(format!(
                "state record of {} bytes, expected {STATE_BYTES}",
                bytes.len()
            )));
        }
        let mut fields = bytes.chunks_exact(8).map(|c| {
            let mut b = [0; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        });
        let mut next = || fields.next().unwrap_or_default();
        self.first_seq = next();
        self.last_seq = next();
        self.last_ts = i64::from_le_bytes(next().to_le_bytes());
        self.msgs = next();
        self.bytes = next();
        Ok(())
    }

    pub(super) fn matching<'a>(&'a self, filter: &'a str) -> Vec<(&'a str, SubjectState)> {
        if has_wildcard(filter.as_bytes()) {
            self.subjects
                .iter()
                .filter(|(s, _)| matches(filter.as_bytes(), s.as_bytes()))
                .map(|(s, ss)| (s.as_str(), *ss))
                .collect()
        } else {
            self.subjects
                .get_key_value(filter)
                .map(|(s, ss)| (s.as_str(), *ss))
                .into_iter()
                .collect()
        }
    }
}

pub(super) fn subject_row(ss: &SubjectState) -> (u64, u64, u64) {
    (ss.msgs, ss.first_seq, ss.last_seq)
}

/// Creates the tables and the format record of a new file; checks the
/// format of an existing one.
/// Creates the tables of a new file; true when the file already had them.
pub(super) fn init(db: &Database) -> Result<bool, StoreError> {
    {
        let read = db.begin_read()?;
        match read.open_table(META) {
            Ok(meta) => {
                let format = meta
                    .get(META_FORMAT)?
                    .ok_or_else(|| StoreError::corrupt("no format record"))?;
                let version = <[u8; 4]>::try_from(format.value())
                    .map(u32::from_le_bytes)
                    .map_err(|_| StoreError::corrupt("bad format record"))?;
                if version == 1 {
                    return Err(StoreError::corrupt(
                        "store format 1, written by an earlier tern, keeps messages inside the \
                         redb file; this tern keeps them in log segments (format 4) and does \
                         not convert: back the stream up with the earlier tern \
                         (`nats stream backup`) and restore it here",
                    ));
                }
                if version == 2 || version == 3 {
                    drop(format);
                    drop(meta);
                    drop(read);
                    migrate(db, version)?;
                    return Ok(true);
                }
                if version != FORMAT_VERSION {
                    return Err(StoreError::corrupt(format!(
                        "store format {version}; this build reads format {FORMAT_VERSION}"
                    )));
                }
                return Ok(true);
            }
            Err(TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Not synced: a new file lost in a crash is created again at the next
    // open, and the log beside it replays what was logged (the first
    // checkpoint is the first durable commit).
    let mut txn = db.begin_write()?;
    txn.set_durability(redb::Durability::None)
        .map_err(|e| StoreError::db("making the first commit unsynced", e))?;
    {
        txn.open_table(BLOCKS)?;
        txn.open_table(SEGMENTS)?;
        txn.open_table(SEGMENT_SPANS)?;
        txn.open_table(SUBJECT_BLOCKS)?;
        txn.open_table(SUBJECTS)?;
        txn.open_table(GAPS)?;
        let mut meta = txn.open_table(META)?;
        meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
        meta.insert(META_STATE, Index::default().encode_state().as_slice())?;
    }
    txn.commit()?;
    Ok(false)
}

/// Rebuilds the index from the last commit: the state record, the subject
/// summary and the gaps, plus one read for the first message's time.
pub(super) fn load_index(db: &Database) -> Result<Index, StoreError> {
    let read = db.begin_read()?;
    let mut ix = Index::default();
    {
        let meta = read.open_table(META)?;
        let state = meta
            .get(META_STATE)?
            .ok_or_else(|| StoreError::corrupt("no state record"))?;
        ix.decode_state(state.value())?;
    }
    for entry in read.open_table(SUBJECTS)?.iter()? {
        let (subject, row) = entry?;
        let (msgs, first_seq, last_seq) = row.value();
        let ss = SubjectState {
            msgs,
            first_seq,
            last_seq,
        };
        ix.subjects.insert(subject.value().to_owned(), ss);
    }
    for entry in read.open_table(GAPS)?.iter()? {
        let (start, end) = entry?;
        ix.deleted.insert_run(start.value(), end.value());
    }
    if ix.msgs > 0 {
        let blocks = read.open_table(BLOCKS)?;
        let first = entry_of(&blocks, ix.first_seq)?.ok_or_else(|| {
            StoreError::corrupt(format!("first message {} is not stored", ix.first_seq))
        })?;
        ix.first_ts = first.1;
    }
    let spans = match read.open_table(SEGMENT_SPANS) {
        Ok(t) => Some(t),
        Err(TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(e.into()),
    };
    for entry in read.open_table(SEGMENTS)?.iter()? {
        let (generation, row) = entry?;
        let (msgs, bytes) = row.value();
        let span = match &spans {
            Some(t) => t.get(generation.value())?.map(|v| v.value()),
            None => None,
        };
        let (first, end) = span.unwrap_or((0, u64::MAX));
        ix.segments.insert(
            generation.value(),
            SegmentUse {
                msgs,
                bytes,
                first,
                end,
            },
        );
    }
    let counted: u64 = ix.subjects.values().map(|ss| ss.msgs).sum();
    let span = if ix.msgs == 0 {
        0
    } else {
        ix.last_seq + 1 - ix.first_seq
    };
    if counted != ix.msgs || span != ix.msgs + ix.deleted.len() {
        return Err(StoreError::corrupt(format!(
            "index disagrees: {} messages, {counted} by subject, {} gaps in {}..={}",
            ix.msgs,
            ix.deleted.len(),
            ix.first_seq,
            ix.last_seq
        )));
    }
    Ok(ix)
}

/// The log position the last commit covered; `None` when none was
/// recorded (a new file).
pub(super) fn load_wal_position(db: &Database) -> Result<Option<(u64, u64)>, StoreError> {
    let read = db.begin_read()?;
    let meta = read.open_table(META)?;
    match meta.get(META_WAL_POSITION)? {
        None => Ok(None),
        Some(v) => decode_wal_position(v.value()).map(Some),
    }
}

pub(super) fn encode_wal_position(generation: u64, offset: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&generation.to_le_bytes());
    out[8..].copy_from_slice(&offset.to_le_bytes());
    out
}

pub(super) fn decode_wal_position(bytes: &[u8]) -> Result<(u64, u64), StoreError> {
    let bad = || StoreError::corrupt("bad log position record");
    let generation = <[u8; 8]>::try_from(bytes.get(..8).ok_or_else(bad)?).map_err(|_| bad())?;
    let offset = <[u8; 8]>::try_from(bytes.get(8..16).ok_or_else(bad)?).map_err(|_| bad())?;
    Ok((u64::from_le_bytes(generation), u64::from_le_bytes(offset)))
}

/// A `msg_blocks` row as read: its key and its value.
pub(super) type BlockRow<'a> = (u64, redb::AccessGuard<'a, &'static [u8]>);

/// The block row covering `seq`, if there is one.
pub(super) fn block_row<T>(blocks: &T, seq: u64) -> Result<Option<BlockRow<'_>>, StoreError>
where
    T: ReadableTable<u64, &'static [u8]>,
{
    let Some(row) = blocks.range(..=seq)?.next_back() else {
        return Ok(None);
    };
    let (key, value) = row?;
    let key = key.value();
    let covers = Block::parse(key, value.value())?.covers(seq);
    Ok(covers.then_some((key, value)))
}

/// Where the record of `seq` is, and its time, from its block.
pub(super) fn entry_of<T>(blocks: &T, seq: u64) -> Result<Option<(Loc, i64)>, StoreError>
where
    T: ReadableTable<u64, &'static [u8]>,
{
    match block_row(blocks, seq)? {
        Some((key, value)) => {
            let e = Block::parse(key, value.value())?.entry(seq)?;
            Ok(Some((e.loc, e.time_ns)))
        }
        None => Ok(None),
    }
}

/// Converts a format 2 file (a row per message) or a format 3 one (a row
/// per gap) to format 4, in one durable commit: the messages' records do
/// not move.
fn migrate(db: &Database, version: u32) -> Result<(), StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_quick_repair(true);
    if version == 2 {
        blocks_from_v2(&txn)?;
    }
    gaps_from_rows(&txn)?;
    txn.open_table(META)?
        .insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())?;
    txn.commit()?;
    Ok(())
}

/// Format 3's (and 2's) row per removed sequence into runs.
fn gaps_from_rows(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut gaps = Gaps::default();
    {
        let old = txn.open_table(V3_DELETED)?;
        for row in old.iter()? {
            gaps.insert(row?.0.value());
        }
    }
    let mut runs = txn.open_table(GAPS)?;
    for (start, end) in gaps.runs() {
        runs.insert(start, end)?;
    }
    drop(runs);
    txn.delete_table(V3_DELETED)?;
    Ok(())
}

/// Format 2's row per message into index blocks.
fn blocks_from_v2(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    {
        let old = txn.open_table(V2_MESSAGES)?;
        let mut blocks = txn.open_table(BLOCKS)?;
        let mut subject_blocks = txn.open_table(SUBJECT_BLOCKS)?;
        let mut builder = BlockBuilder::default();
        let mut subjects: Vec<String> = Vec::new();
        let mut flush =
            |builder: &mut BlockBuilder, subjects: &mut Vec<String>| -> Result<(), StoreError> {
                if builder.is_empty() {
                    return Ok(());
                }
                let (key, value) = builder.finish();
                blocks.insert(key, value.as_slice())?;
                subjects.sort_unstable();
                subjects.dedup();
                for s in subjects.drain(..) {
                    subject_blocks.insert((s.as_str(), key), ())?;
                }
                Ok(())
            };
        let mut next_seq = None;
        let mut from = 0;
        loop {
            // Read a chunk, then write: no row of the table being read is
            // held while the transaction writes.
            let mut chunk = Vec::with_capacity(4096);
            for row in old.range(from..)?.take(4096) {
                let (seq, row) = row?;
                let (generation, offset, len, time_ns, subject) = row.value();
                let loc = Loc {
                    generation,
                    offset,
                    len,
                };
                chunk.push((seq.value(), loc, time_ns, subject.to_owned()));
            }
            let Some(last) = chunk.last().map(|c| c.0) else {
                break;
            };
            from = last + 1;
            for (seq, loc, time_ns, subject) in chunk {
                // Blocks cover consecutive sequences: a removed one ends it.
                if next_seq != Some(seq) || !builder.fits(loc) {
                    flush(&mut builder, &mut subjects)?;
                }
                builder.push(seq, loc, time_ns, &subject);
                subjects.push(subject);
                next_seq = Some(seq + 1);
            }
        }
        flush(&mut builder, &mut subjects)?;
    }
    txn.delete_table(V2_MESSAGES)?;
    txn.delete_table(V2_SUBJECT_SEQS)?;
    Ok(())
}

/// The `doomed` record: `None` when there is none.
pub(super) fn load_doomed(db: &Database) -> Result<Option<Vec<u64>>, StoreError> {
    let read = db.begin_read()?;
    let meta = read.open_table(META)?;
    let Some(v) = meta.get(META_DOOMED)? else {
        return Ok(None);
    };
    let bytes = v.value();
    if bytes.len() % 8 != 0 {
        return Err(StoreError::corrupt("bad doomed segments record"));
    }
    Ok(Some(
        bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(take_u64(c)))
            .collect(),
    ))
}

fn take_u64(c: &[u8]) -> [u8; 8] {
    let mut b = [0; 8];
    b.copy_from_slice(c);
    b
}

/// How many compactions were committed (`META_COMPACTIONS`).
pub(super) fn load_compactions(db: &Database) -> Result<u64, StoreError> {
    let read = db.begin_read()?;
    let meta = read.open_table(META)?;
    let Some(v) = meta.get(META_COMPACTIONS)? else {
        return Ok(0);
    };
    <[u8; 8]>::try_from(v.value())
        .map(u64::from_le_bytes)
        .map_err(|_| StoreError::corrupt("bad compactions record"))
}

pub(super) fn encode_doomed(generations: &[u64]) -> Vec<u8> {
    generations.iter().flat_map(|g| g.to_le_bytes()).collect()
}
