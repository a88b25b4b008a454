//! Removing messages: single removals, and purges (everything, below a
//! sequence, by subject, keeping the newest), settling the index once per
//! batch.

use super::*;
use crate::store::schema::block_row;

impl RedbStore {
    /// Removes the given sequences (absent ones are skipped), then settles
    /// per-subject first/last, `first_seq` and the gaps once for the batch.
    pub(super) fn remove_seqs(&mut self, seqs: &[u64]) -> Result<u64, StoreError> {
        let old_first = self.index.first_seq;
        let mut removed = Vec::with_capacity(seqs.len());
        // Each removal is accounted from its entry (segment, size,
        // subject) and entered as a gap at once, so a sequence listed
        // twice goes once; the gaps below the new first are let go after.
        let stale = {
            let txn = begin(&self.db, &mut self.txn)?;
            let blocks = txn.open_table(BLOCKS)?;
            let mut gone = Gone {
                ix: &mut self.index,
                dirty: &mut self.dirty,
                dirty_segments: &mut self.dirty_segments,
                stale: HashSet::new(),
            };
            let mut current: Option<crate::store::schema::BlockRow<'_>> = None;
            for &seq in seqs {
                if !gone.ix.is_stored(seq) {
                    continue;
                }
                if self.staged.holds(seq) {
                    // Its entry never reached redb.
                    let Some(row) = self.staged.remove(seq) else {
                        continue;
                    };
                    let subject = self.staged.subject(&row);
                    gone.account(seq, row.loc.generation, row.loc.len, subject)?;
                } else {
                    let covered = current.as_ref().is_some_and(|(key, value)| {
                        Block::parse(*key, value.value()).is_ok_and(|b| b.covers(seq))
                    });
                    if !covered {
                        current = block_row(&blocks, seq)?;
                    }
                    let Some((key, value)) = &current else {
                        return Err(StoreError::corrupt(format!(
                            "message {seq} is indexed but in no index block"
                        )));
                    };
                    let e = Block::parse(*key, value.value())?.entry(seq)?;
                    gone.account(seq, e.loc.generation, e.loc.len, e.subject)?;
                }
                gone.ix.deleted.insert(seq);
                removed.push(seq);
            }
            gone.stale
        };
        if removed.is_empty() {
            return Ok(0);
        }
        removed.sort_unstable();
        let was_removed = |seq: u64| removed.binary_search(&seq).is_ok();

        // The new first sequence, and the gaps below it let go.
        let ix = &mut self.index;
        if ix.msgs == 0 {
            ix.first_seq = ix.last_seq + 1;
            ix.first_ts = 0;
        } else if let Some((_, end)) = ix.deleted.run_of(old_first) {
            ix.first_seq = end;
        }
        let new_first = ix.first_seq;
        let below = ix.deleted.split_below(new_first);
        if ix.msgs > 0 && new_first != old_first {
            let Some((_, time_ns)) = self.locate_with_time(new_first)? else {
                return Err(StoreError::corrupt("messages counted but none stored"));
            };
            self.index.first_ts = time_ns;
        }

        // Subjects whose first or last went: found again in the index.
        let mut bounds = Vec::with_capacity(stale.len());
        for subject in &stale {
            let Some(ss) = self.index.subjects.get(subject.as_str()).copied() else {
                continue;
            };
            let (mut first, mut last) = (Some(ss.first_seq), Some(ss.last_seq));
            if ss.msgs == 1 && !was_removed(ss.last_seq) {
                first = last;
            } else if ss.msgs == 1 && !was_removed(ss.first_seq) {
                last = first;
            } else {
                if was_removed(ss.first_seq) {
                    first = self.subject_next(subject, ss.first_seq + 1)?;
                }
                if was_removed(ss.last_seq) {
                    last = self.subject_last(subject)?;
                }
            }
            let (Some(first), Some(last)) = (first, last) else {
                return Err(StoreError::corrupt(format!(
                    "subject {subject} has no sequences"
                )));
            };
            bounds.push((subject, first, last));
        }
        for (subject, first, last) in bounds {
            if let Some(ss) = self.index.subjects.get_mut(subject.as_str()) {
                ss.first_seq = first;
                ss.last_seq = last;
            }
        }

        // The gap rows follow the runs: those below the new first go, and
        // each run a removal joined is written again over the rows it
        // took in.
        let mut touched: Vec<(u64, u64)> = removed
            .iter()
            .filter(|&&s| s > new_first)
            .filter_map(|&s| self.index.deleted.run_of(s))
            .collect();
        touched.dedup();
        let txn = begin(&self.db, &mut self.txn)?;
        let mut gaps = txn.open_table(GAPS)?;
        if !below.is_empty() {
            let gone: Vec<u64> = gaps
                .range(..new_first)?
                .map(|row| row.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()?;
            for start in gone {
                gaps.remove(start)?;
            }
        }
        for (start, end) in touched {
            let taken: Vec<u64> = gaps
                .range(start..end)?
                .map(|row| row.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()?;
            for key in taken {
                gaps.remove(key)?;
            }
            gaps.insert(start, end)?;
        }
        drop(gaps);
        if new_first > old_first {
            // Blocks wholly below the first sequence go, with the rows
            // naming them.
            let mut blocks = txn.open_table(BLOCKS)?;
            let mut subject_blocks = txn.open_table(SUBJECT_BLOCKS)?;
            let mut passed: Vec<(u64, Vec<String>)> = Vec::new();
            for row in blocks.range(..new_first)? {
                let (key, value) = row?;
                let block = Block::parse(key.value(), value.value())?;
                if block.end() > new_first {
                    break;
                }
                passed.push((block.key(), block.owned_subjects()?));
            }
            for (key, subjects) in passed {
                blocks.remove(key)?;
                for subject in subjects {
                    subject_blocks.remove((subject.as_str(), key))?;
                }
            }
        }
        Ok(removed.len() as u64)
    }

    /// Moves `last_seq` on by `n`: the skipped sequences become a gap
    /// run, or with nothing stored `first_seq` moves past them. Staged
    /// rows go into the transaction first: they cover consecutive
    /// sequences only.
    pub(super) fn skip_in_txn(&mut self, n: u64) -> Result<(), StoreError> {
        self.flush_staged()?;
        // The state row changes: the checkpoint must write it.
        begin(&self.db, &mut self.txn)?;
        let ix = &mut self.index;
        let start = ix.last_seq + 1;
        ix.last_seq += n;
        if ix.msgs == 0 {
            ix.first_seq = ix.last_seq + 1;
            ix.first_ts = 0;
            return Ok(());
        }
        ix.deleted.insert_run(start, start + n);
        let Some((run_start, run_end)) = ix.deleted.run_of(start) else {
            return Ok(());
        };
        let txn = begin(&self.db, &mut self.txn)?;
        let mut gaps = txn.open_table(GAPS)?;
        let taken: Vec<u64> = gaps
            .range(run_start..run_end)?
            .map(|row| row.map(|(k, _)| k.value()))
            .collect::<Result<_, _>>()?;
        for key in taken {
            gaps.remove(key)?;
        }
        gaps.insert(run_start, run_end)?;
        Ok(())
    }

    pub(super) fn purge_all(&mut self) -> Result<u64, StoreError> {
        self.staged.clear();
        let txn = begin(&self.db, &mut self.txn)?;
        let purged = self.index.msgs;
        if purged > 0 || !self.index.deleted.is_empty() {
            txn.delete_table(BLOCKS)?;
            txn.delete_table(SUBJECT_BLOCKS)?;
            txn.delete_table(SUBJECTS)?;
            txn.delete_table(GAPS)?;
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
    pub(super) fn purge_below(&mut self, cutoff: u64) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let mut chunk = Vec::with_capacity(PURGE_CHUNK);
            self.walk(self.index.first_seq, |seq, _, _| {
                if seq >= cutoff {
                    return false;
                }
                chunk.push(seq);
                chunk.len() < PURGE_CHUNK
            })?;
            if chunk.is_empty() {
                return Ok(purged);
            }
            purged += self.remove_seqs(&chunk)?;
        }
    }

    pub(super) fn purge_in_txn(
        &mut self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        let keep = keep.filter(|&k| k > 0);
        let all = filter_is_all(filter);
        if !(all && keep.is_none() && below_seq.is_none_or(|b| b > self.index.last_seq)) {
            // Purges read redb's rows: the staged ones go there first.
            self.flush_staged()?;
        }
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
        for (subject, ss) in subjects.iter().filter(|(_, ss)| ss.first_seq < limit) {
            self.walk_subject(subject, ss.first_seq, |seq| {
                if seq >= limit {
                    return false;
                }
                seqs.push(seq);
                true
            })?;
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
    /// `keep` covers them all. Counted down from the last in memory: the
    /// stored sequences are the span less the gaps.
    pub(super) fn oldest_of_newest(&self, keep: u64) -> Result<Option<u64>, StoreError> {
        let ix = &self.index;
        if keep >= ix.msgs || keep == 0 {
            return Ok(None);
        }
        let mut counted = 0;
        let mut seq = ix.last_seq;
        while seq >= ix.first_seq {
            if !ix.deleted.contains(seq) {
                counted += 1;
                if counted == keep {
                    return Ok(Some(seq));
                }
            }
            seq -= 1;
        }
        Err(StoreError::corrupt("fewer messages stored than counted"))
    }
}

/// What removing a message changes besides its rows: the totals, its
/// subject's summary and its segment's use.
struct Gone<'a> {
    ix: &'a mut Index,
    dirty: &'a mut HashSet<String>,
    dirty_segments: &'a mut HashSet<u64>,
    /// Subjects whose first or last sequence went.
    stale: HashSet<String>,
}

impl Gone<'_> {
    fn account(
        &mut self,
        seq: u64,
        generation: u64,
        len: u32,
        subject: &str,
    ) -> Result<(), StoreError> {
        let ix = &mut *self.ix;
        match ix.subjects.get_mut(subject) {
            Some(ss) if ss.msgs > 1 => {
                ss.msgs -= 1;
                if seq == ss.first_seq || seq == ss.last_seq {
                    RedbStore::mark_dirty(&mut self.stale, subject);
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
        RedbStore::mark_dirty(self.dirty, subject);
        if let Some(used) = ix.segments.get_mut(&generation) {
            used.msgs = used.msgs.saturating_sub(1);
            used.bytes = used.bytes.saturating_sub(u64::from(len));
            self.dirty_segments.insert(generation);
        }
        ix.msgs = ix.msgs.saturating_sub(1);
        ix.bytes = ix.bytes.saturating_sub(record::stored_size_of_record(len));
        Ok(())
    }
}
