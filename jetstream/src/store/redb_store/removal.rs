//! Removing messages: single removals, and purges (everything, below a
//! sequence, by subject, keeping the newest), settling the index once per
//! batch.

use super::*;

impl RedbStore {
    /// Removes the given sequences (absent ones are skipped), then settles
    /// per-subject first/last, `first_seq` and the gaps once for the batch.
    pub(super) fn remove_seqs(&mut self, seqs: &[u64]) -> Result<u64, StoreError> {
        let txn = begin(&self.db, &mut self.txn)?;
        let mut messages = txn.open_table(MESSAGES)?;
        let mut subject_seqs = txn.open_table(SUBJECT_SEQS)?;
        let ix = &mut self.index;
        let old_first = ix.first_seq;
        let mut removed = Vec::with_capacity(seqs.len());
        let mut gone = Gone {
            ix,
            dirty: &mut self.dirty,
            dirty_segments: &mut self.dirty_segments,
            stale: HashSet::new(),
        };
        for &seq in seqs {
            if self.staged.holds(seq) {
                // Its rows never reached redb.
                let Some(row) = self.staged.remove(seq) else {
                    continue;
                };
                let subject = self.staged.subject(&row);
                gone.account(seq, row.loc.generation, row.loc.len, subject)?;
            } else {
                let Some(guard) = messages.remove(seq)? else {
                    continue;
                };
                let (generation, _, len, _, subject) = guard.value();
                subject_seqs.remove((subject, seq))?;
                gone.account(seq, generation, len, subject)?;
            }
            removed.push(seq);
        }
        let Gone { ix, stale, .. } = gone;
        let mut sorted = removed.clone();
        sorted.sort_unstable();
        let was_removed = |seq: u64| sorted.binary_search(&seq).is_ok();
        for subject in &stale {
            let Some(ss) = ix.subjects.get_mut(subject.as_str()) else {
                continue;
            };
            if ss.msgs == 1 && !was_removed(ss.last_seq) {
                ss.first_seq = ss.last_seq;
                continue;
            }
            if ss.msgs == 1 && !was_removed(ss.first_seq) {
                ss.last_seq = ss.first_seq;
                continue;
            }
            // Rows staged since the checkpoint come after redb's.
            let staged_here = !self.staged.is_empty() && ss.last_seq >= self.staged.base();
            let mut seqs =
                subject_seqs.range((subject.as_str(), 0)..=(subject.as_str(), u64::MAX))?;
            let first = match seqs.next() {
                Some(entry) => Some(entry?.0.value().1),
                None if staged_here => self.staged.first_on(subject, 0),
                None => None,
            };
            let Some(first) = first else {
                return Err(StoreError::corrupt(format!(
                    "subject {subject} has no sequences"
                )));
            };
            let last = match staged_here.then(|| self.staged.last_on(subject)).flatten() {
                Some(last) => last,
                None => match seqs.next_back() {
                    Some(entry) => entry?.0.value().1,
                    None => first,
                },
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
        } else if was_removed(old_first) {
            let first = match messages.first()? {
                Some((k, v)) => Some((k.value(), v.value().3)),
                None => self
                    .staged
                    .live_from(0)
                    .next()
                    .map(|(seq, row)| (seq, row.time_ns)),
            };
            let Some((seq, time_ns)) = first else {
                return Err(StoreError::corrupt("messages counted but none stored"));
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

    pub(super) fn purge_all(&mut self) -> Result<u64, StoreError> {
        self.staged.clear();
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
    pub(super) fn purge_below(&mut self, cutoff: u64) -> Result<u64, StoreError> {
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
    pub(super) fn oldest_of_newest(&self, keep: u64) -> Result<Option<u64>, StoreError> {
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
    fn account(&mut self, seq: u64, generation: u64, len: u32, subject: &str) -> Result<(), StoreError> {
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
