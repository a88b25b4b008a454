//! Compaction: a sealed segment whose stored messages fill less than half
//! of it (removed inside the stream: KV updates, out-of-order acks,
//! purges by subject) is rewritten holding only those, and its index
//! blocks are rewritten to cover only them. Removals from the head need
//! none of this: whole segments go (`commit.rs`).
//!
//! The new segment is written and synced before the checkpoint's durable
//! commit that points the blocks at it; the old one is recorded as doomed
//! in that commit and deleted at the checkpoint after (a reader on
//! another thread may still hold blocks read before the commit). A crash
//! before the commit leaves the new file unreferenced: it is named after
//! the count of committed compactions, which an open deletes.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::*;
use crate::store::schema::{SegmentUse, META_COMPACTIONS};
use crate::store::wal::APPEND_FRAME_EXTRA;

/// Compacted segments are numbered from here, above any log generation
/// (one per 8 MiB logged), so the two kinds never share a number.
pub(super) const COMPACTED_BASE: u64 = 1 << 62;
/// Segments smaller than this are left alone: little to give back.
const COMPACT_MIN_BYTES: u64 = 1 << 20;
/// After a compaction fails (a full disk), the next try waits this long.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
/// A compacted segment's header: its magic, then its generation (u64 LE).
const MAGIC: &[u8; 8] = b"TERNSEG\x01";
const HEADER_LEN: u64 = 16;

/// A compaction written and synced, to be committed with a checkpoint.
pub(super) struct Compaction {
    pub(super) old: u64,
    pub(super) new: u64,
    used: SegmentUse,
    /// Block rows that go, with the subjects they name.
    removed: Vec<(u64, Vec<String>)>,
    /// Block rows that replace them, with the subjects they name.
    added: Vec<(u64, Vec<u8>, Vec<String>)>,
}

impl RedbStore {
    /// The generation the next compaction writes.
    pub(super) fn next_compacted(compactions: u64) -> u64 {
        COMPACTED_BASE + compactions
    }

    /// Deletes the segment a compaction wrote but never committed (a
    /// crash between the two).
    pub(super) fn delete_uncommitted_compaction(path: &Path, compactions: u64) {
        let file = SegmentFiles::sealed_path(path, Self::next_compacted(compactions));
        match std::fs::remove_file(&file) {
            Ok(()) => tracing::info!(
                "deleted {}: a compaction a crash interrupted",
                file.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("deleting {}: {e}", file.display()),
        }
    }

    /// Compacts one segment if one is mostly dead; a failure is logged
    /// (the segment stays as it is) and pauses compaction for a while.
    pub(super) fn compact_one(&mut self) -> Option<Compaction> {
        if self.txn.is_some() || !self.staged.is_empty() {
            return None;
        }
        if self
            .compact_paused_until
            .is_some_and(|until| std::time::Instant::now() < until)
        {
            return None;
        }
        let g = self.compaction_candidate()?;
        let new = Self::next_compacted(self.compactions);
        let path = SegmentFiles::sealed_path(&self.path, new);
        match self.write_compacted(g, new, &path) {
            Ok(c) => Some(c),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                tracing::warn!(
                    "JetStream stream file {}: compacting segment {g} failed: {e}",
                    self.path.display()
                );
                self.compact_paused_until = Some(std::time::Instant::now() + RETRY_AFTER);
                None
            }
        }
    }

    /// A sealed segment whose stored records take less than half its
    /// file.
    fn compaction_candidate(&mut self) -> Option<u64> {
        let active = self.wal.generation();
        let maybe: Vec<(u64, u64)> = self
            .index
            .segments
            .iter()
            .filter(|(&g, used)| g != active && used.msgs > 0)
            .map(|(&g, used)| {
                // Log segments frame each record; compacted ones do not.
                let framing = if g >= COMPACTED_BASE {
                    0
                } else {
                    used.msgs * APPEND_FRAME_EXTRA
                };
                (g, used.bytes + framing)
            })
            .collect();
        // Sealed files do not change: each is sized once.
        for (g, live) in maybe {
            let len = match self.segment_lens.get(&g) {
                Some(&len) => len,
                None => match self.segments.len(g) {
                    Ok(len) => *self.segment_lens.entry(g).or_insert(len),
                    Err(e) => {
                        tracing::warn!("{e}");
                        continue;
                    }
                },
            };
            if len >= COMPACT_MIN_BYTES && live * 2 < len {
                return Some(g);
            }
        }
        None
    }

    /// Writes the stored records of segment `old` into a new segment
    /// `new` at `path` (synced), and the blocks that will point at it.
    fn write_compacted(&self, old: u64, new: u64, path: &Path) -> Result<Compaction, StoreError> {
        let used = self
            .index
            .segments
            .get(&old)
            .copied()
            .ok_or_else(|| StoreError::corrupt(format!("segment {old} is not indexed")))?;
        let rows = self.blocks_naming(old, used)?;
        let io = |e| StoreError::io(format!("writing compacted segment {}", path.display()), e);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&new.to_le_bytes()).map_err(io)?;
        let mut offset = HEADER_LEN;
        let mut moved = SegmentUse {
            first: u64::MAX,
            ..SegmentUse::default()
        };
        let mut removed = Vec::with_capacity(rows.len());
        let mut added = Vec::new();
        let mut builder = BlockBuilder::default();
        let mut next_seq = None;
        let finish = |builder: &mut BlockBuilder,
                      added: &mut Vec<(u64, Vec<u8>, Vec<String>)>|
         -> Result<(), StoreError> {
            if builder.is_empty() {
                return Ok(());
            }
            let (key, value) = builder.finish();
            let subjects = Block::parse(key, &value)?.owned_subjects()?;
            added.push((key, value, subjects));
            Ok(())
        };
        for (key, value) in &rows {
            let block = Block::parse(*key, value)?;
            removed.push((*key, block.owned_subjects()?));
            let mut live = Vec::new();
            for seq in block.key()..block.end() {
                if self.index.is_stored(seq) {
                    live.push((seq, block.entry(seq)?));
                }
            }
            let locs: Vec<(u64, Loc)> = live.iter().map(|(seq, e)| (*seq, e.loc)).collect();
            let records = self.read_records(&locs)?;
            for ((seq, e), record) in live.iter().zip(records) {
                let loc = Loc {
                    generation: new,
                    offset,
                    len: e.loc.len,
                };
                // A block covers consecutive sequences: a removed one
                // ends it.
                if next_seq != Some(*seq) || !builder.fits(loc) {
                    finish(&mut builder, &mut added)?;
                }
                out.write_all(&record).map_err(io)?;
                builder.push(*seq, loc, e.time_ns, e.subject);
                next_seq = Some(seq + 1);
                offset += u64::from(e.loc.len);
                moved.msgs += 1;
                moved.bytes += u64::from(e.loc.len);
                moved.first = moved.first.min(*seq);
                moved.end = moved.end.max(seq + 1);
            }
        }
        finish(&mut builder, &mut added)?;
        if (moved.msgs, moved.bytes) != (used.msgs, used.bytes) {
            return Err(StoreError::corrupt(format!(
                "segment {old} is counted with {} messages ({} bytes) but its blocks name {} ({} \
                 bytes)",
                used.msgs, used.bytes, moved.msgs, moved.bytes
            )));
        }
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_data().map_err(io)?;
        Ok(Compaction {
            old,
            new,
            used: moved,
            removed,
            added,
        })
    }

    /// The block rows whose records are in segment `g` (searched over
    /// its span), as (key, value).
    fn blocks_naming(&self, g: u64, used: SegmentUse) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let read = self.db.begin_read()?;
        let blocks = read.open_table(BLOCKS)?;
        let mut rows = Vec::new();
        for row in blocks.range(used.first..used.end)? {
            let (key, value) = row?;
            if Block::parse(key.value(), value.value())?.generation() == g {
                rows.push((key.value(), value.value().to_vec()));
            }
        }
        Ok(rows)
    }

    /// The blocks of segments left with no message (removed inside the
    /// stream, so the first sequence does not pass them), with the
    /// subjects they name: they go with their segments. Segments whose
    /// span is not recorded keep theirs until the first sequence passes.
    pub(super) fn blocks_of_dead(
        &self,
        dead: &[u64],
    ) -> Result<Vec<(u64, Vec<String>)>, StoreError> {
        let mut out = Vec::new();
        for g in dead {
            let Some(used) = self.index.segments.get(g).copied() else {
                continue;
            };
            if used.end == u64::MAX || used.first >= used.end {
                continue;
            }
            for (key, value) in self.blocks_naming(*g, used)? {
                out.push((key, Block::parse(key, &value)?.owned_subjects()?));
            }
        }
        Ok(out)
    }

    /// Points the index at the compacted segment, in the checkpoint's
    /// transaction.
    pub(super) fn apply_compaction(
        &self,
        c: &Compaction,
        txn: &WriteTransaction,
    ) -> Result<(), StoreError> {
        let mut blocks = txn.open_table(BLOCKS)?;
        let mut subject_blocks = txn.open_table(SUBJECT_BLOCKS)?;
        for (key, subjects) in &c.removed {
            blocks.remove(key)?;
            for subject in subjects {
                subject_blocks.remove((subject.as_str(), *key))?;
            }
        }
        for (key, value, subjects) in &c.added {
            blocks.insert(key, value.as_slice())?;
            for subject in subjects {
                subject_blocks.insert((subject.as_str(), *key), ())?;
            }
        }
        let mut rows = txn.open_table(SEGMENTS)?;
        rows.remove(c.old)?;
        rows.insert(c.new, (c.used.msgs, c.used.bytes))?;
        let mut spans = txn.open_table(SEGMENT_SPANS)?;
        spans.remove(c.old)?;
        spans.insert(c.new, (c.used.first, c.used.end))?;
        txn.open_table(META)?.insert(
            META_COMPACTIONS,
            (self.compactions + 1).to_le_bytes().as_slice(),
        )?;
        Ok(())
    }

    /// After the commit: the index in memory follows.
    pub(super) fn compaction_committed(&mut self, c: Compaction) {
        self.index.segments.remove(&c.old);
        self.dirty_segments.remove(&c.old);
        self.segment_lens.remove(&c.old);
        self.index.segments.insert(c.new, c.used);
        self.compactions += 1;
    }
}
