//! Reading the index and the records: where a sequence's record is (its
//! block, or the rows staged since the checkpoint), walks in sequence
//! order, per-subject next and last, and the reads of one record or of a
//! run of close ones.

use super::*;
use crate::store::blocks::Block;
use crate::store::schema::block_row;

/// Records further apart than this in one segment are read apart.
const RUN_GAP: u64 = 16 << 10;

impl RedbStore {
    /// Where the record of `seq` is (whether it is still stored is the
    /// index's answer).
    pub(super) fn locate(&self, seq: u64) -> Result<Option<Loc>, StoreError> {
        if self.staged.holds(seq) {
            return Ok(self.staged.get(seq).map(|row| row.loc));
        }
        with_table!(self, BLOCKS, |blocks| match block_row(&blocks, seq)? {
            Some((key, value)) =>
                Ok::<_, StoreError>(Some(Block::parse(key, value.value())?.entry(seq)?.loc,)),
            None => Ok(None),
        })
    }

    /// Where the record of `seq` is and its time (for a new first).
    pub(super) fn locate_with_time(&self, seq: u64) -> Result<Option<(Loc, i64)>, StoreError> {
        if self.staged.holds(seq) {
            return Ok(self.staged.get(seq).map(|row| (row.loc, row.time_ns)));
        }
        with_table!(self, BLOCKS, |blocks| crate::store::schema::entry_of(
            &blocks, seq
        ))
    }

    /// Visits the stored messages from `from` on, in sequence order,
    /// until `visit` says stop.
    pub(super) fn walk(
        &self,
        from: u64,
        mut visit: impl FnMut(u64, Loc, &str) -> bool,
    ) -> Result<(), StoreError> {
        let ix = &self.index;
        let go_on = with_table!(self, BLOCKS, |blocks| {
            let start = match blocks.range(..=from)?.next_back() {
                Some(row) => row?.0.value(),
                None => from,
            };
            let mut go_on = true;
            'rows: for row in blocks.range(start..)? {
                let (key, value) = row?;
                let block = Block::parse(key.value(), value.value())?;
                for seq in from.max(block.key())..block.end() {
                    if !ix.is_stored(seq) {
                        continue;
                    }
                    let e = block.entry(seq)?;
                    if !visit(seq, e.loc, e.subject) {
                        go_on = false;
                        break 'rows;
                    }
                }
            }
            Ok::<_, StoreError>(go_on)
        })?;
        if go_on {
            for (seq, row) in self.staged.live_from(from) {
                if !visit(seq, row.loc, self.staged.subject(row)) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Visits the stored sequences on `subject` from `from` on, in
    /// order, until `visit` says stop: through the blocks naming it, then
    /// the staged rows (which come after).
    pub(super) fn walk_subject(
        &self,
        subject: &str,
        from: u64,
        mut visit: impl FnMut(u64) -> bool,
    ) -> Result<(), StoreError> {
        let ix = &self.index;
        let go_on = with_table!(self, BLOCKS, SUBJECT_BLOCKS; |blocks, subject_blocks| {
            let start = match subject_blocks.range((subject, 0)..=(subject, from))?.next_back() {
                Some(row) => row?.0.value().1,
                None => from,
            };
            let mut go_on = true;
            'rows: for row in subject_blocks.range((subject, start)..=(subject, u64::MAX))? {
                let key = row?.0.value().1;
                let Some(value) = blocks.get(key)? else {
                    return Err(StoreError::corrupt(format!(
                        "subject {subject} names index block {key}, which is not there"
                    )));
                };
                let block = Block::parse(key, value.value())?;
                for seq in from.max(key)..block.end() {
                    if ix.is_stored(seq) && block.entry(seq)?.subject == subject && !visit(seq) {
                        go_on = false;
                        break 'rows;
                    }
                }
            }
            Ok::<_, StoreError>(go_on)
        })?;
        if go_on {
            for (seq, row) in self.staged.live_from(from) {
                if self.staged.subject(row) == subject && !visit(seq) {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The first stored sequence >= `from` on `subject`.
    pub(super) fn subject_next(&self, subject: &str, from: u64) -> Result<Option<u64>, StoreError> {
        let mut found = None;
        self.walk_subject(subject, from, |seq| {
            found = Some(seq);
            false
        })?;
        Ok(found)
    }

    /// The last stored sequence on `subject`.
    pub(super) fn subject_last(&self, subject: &str) -> Result<Option<u64>, StoreError> {
        if let Some(seq) = self.staged.last_on(subject) {
            return Ok(Some(seq));
        }
        let ix = &self.index;
        with_table!(self, BLOCKS, SUBJECT_BLOCKS; |blocks, subject_blocks| {
            for row in subject_blocks.range((subject, 0)..=(subject, u64::MAX))?.rev() {
                let key = row?.0.value().1;
                let Some(value) = blocks.get(key)? else {
                    continue;
                };
                let block = Block::parse(key, value.value())?;
                for seq in (key..block.end()).rev() {
                    if ix.is_stored(seq) && block.entry(seq)?.subject == subject {
                        return Ok(Some(seq));
                    }
                }
            }
            Ok::<_, StoreError>(None)
        })
    }

    /// The first stored sequence >= `from` among `subjects` (a subject
    /// whose first is past `from` needs no lookup).
    pub(super) fn first_of_subjects(
        &self,
        subjects: &[(&str, SubjectState)],
        from: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mut best: Option<u64> = None;
        for &(subject, ss) in subjects {
            if ss.last_seq < from || best.is_some_and(|b| b <= ss.first_seq.max(from)) {
                continue;
            }
            let seq = if ss.first_seq >= from {
                Some(ss.first_seq)
            } else {
                self.subject_next(subject, from)?
            };
            best = match (best, seq) {
                (Some(b), Some(s)) => Some(b.min(s)),
                (b, s) => b.or(s),
            };
        }
        Ok(best)
    }

    pub(super) fn get_opt(&self, seq: Option<u64>) -> Result<Option<StoredMsg>, StoreError> {
        match seq {
            Some(seq) => self.get(seq),
            None => Ok(None),
        }
    }

    /// A record's bytes: from the batch not yet written, or from its
    /// segment.
    pub(super) fn read_record(&self, loc: Loc) -> Result<Bytes, StoreError> {
        if loc.generation == self.wal.generation() {
            if let Some(bytes) = self.wal.unwritten(loc.offset, loc.len) {
                return Ok(Bytes::copy_from_slice(bytes));
            }
        }
        self.segments.read(loc)
    }

    /// Many records, in order; those lying close together in one segment
    /// come with one read.
    pub(super) fn read_records(&self, locs: &[(u64, Loc)]) -> Result<Vec<Bytes>, StoreError> {
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
}
