//! Making writes durable: the log's flush and sync, redb's commit of a
//! batch, checkpoints (and sealing the log as a segment), and going back
//! to the last commit when a write fails.

use super::*;

impl RedbStore {
    /// A durable redb commit that covers everything logged so far (the
    /// log synced first: redb points into it). When the log has grown past
    /// `SEGMENT_BYTES` it is sealed as a segment and the next generation
    /// begins. Sealed segments left with no message are let go of in the
    /// same commit and deleted after it. A crash before the seal leaves a
    /// log of an older generation than recorded, which the next open
    /// seals.
    pub(super) fn checkpoint(&mut self) -> Result<(), StoreError> {
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
            .filter(|(&g, u)| u.msgs == 0 && (g != active || seal))
            .map(|(&g, _)| g)
            .collect();
        let dead_blocks = self.blocks_of_dead(&dead)?;
        let compaction = self.compact_one();
        // Recorded with the commit that lets them go: an open after a
        // crash deletes what is left of them. A compacted segment is
        // deleted one checkpoint later: readers on other threads may
        // still be reading it through blocks they read before.
        let mut doomed = self.doomed.clone();
        doomed.extend(&dead);
        doomed.sort_unstable();
        doomed.dedup();
        let mut recorded = doomed.clone();
        recorded.extend(compaction.as_ref().map(|c| c.old));
        let committed = (|| {
            let mut txn = self.db.begin_write()?;
            // Crash recovery then takes under a millisecond instead of a
            // walk over the whole file.
            txn.set_quick_repair(true);
            {
                let mut meta = txn.open_table(META)?;
                meta.insert(
                    META_WAL_POSITION,
                    encode_wal_position(position.0, position.1).as_slice(),
                )?;
                meta.insert(META_DOOMED, encode_doomed(&recorded).as_slice())?;
                let mut rows = txn.open_table(SEGMENTS)?;
                let mut spans = txn.open_table(SEGMENT_SPANS)?;
                for g in &dead {
                    rows.remove(g)?;
                    spans.remove(g)?;
                }
                let mut blocks = txn.open_table(BLOCKS)?;
                let mut subject_blocks = txn.open_table(SUBJECT_BLOCKS)?;
                for (key, subjects) in &dead_blocks {
                    blocks.remove(key)?;
                    for subject in subjects {
                        subject_blocks.remove((subject.as_str(), *key))?;
                    }
                }
            }
            if let Some(c) = &compaction {
                self.apply_compaction(c, &txn)?;
            }
            txn.commit()?;
            Ok::<_, StoreError>(())
        })();
        if let Err(e) = committed {
            if let Some(c) = &compaction {
                let _ = std::fs::remove_file(SegmentFiles::sealed_path(&self.path, c.new));
            }
            return Err(e);
        }
        for g in &dead {
            self.index.segments.remove(g);
            self.dirty_segments.remove(g);
            self.segment_lens.remove(g);
        }
        let compacted = compaction.map(|c| {
            let old = c.old;
            self.compaction_committed(c);
            old
        });
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
        self.doomed.clear();
        for g in doomed {
            if let Err(e) = self.segments.delete(g) {
                // Tried again at the next checkpoint, or at the next open.
                tracing::warn!("{e}");
                self.doomed.push(g);
            }
        }
        self.compaction_pending = compacted.is_some();
        self.doomed.extend(compacted);
        let now = std::time::Instant::now();
        self.last_checkpoint = now;
        self.last_sync = now;
        Ok(())
    }

    pub(super) fn checkpoint_due(&self) -> bool {
        let logged = self.wal.logged_bytes();
        logged >= CHECKPOINT_BYTES
            || self.wal.logged_frames() >= CHECKPOINT_FRAMES
            || (logged > 0 && self.last_checkpoint.elapsed() >= CHECKPOINT_EVERY)
    }

    /// Runs a mutation; if it fails, goes back to the last commit, since
    /// the transaction and the index may disagree after a partial write.
    pub(super) fn write<R>(
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

    /// Goes back to what the log holds: the last checkpoint, plus the
    /// log written since replayed on top (those batches may be acked);
    /// the batch not yet written is forgotten.
    pub(super) fn rollback(&mut self) {
        self.txn = None;
        self.wal.discard_pending();
        self.dirty.clear();
        self.dirty_segments.clear();
        self.dropped_tables = false;
        self.staged.clear();
        match self.reload() {
            Ok(()) => self.failed = None,
            Err(e) => {
                self.txn = None;
                self.staged.clear();
                self.failed = Some(Arc::new(e));
            }
        }
        self.publish_applying();
    }

    fn reload(&mut self) -> Result<(), StoreError> {
        self.index = load_index(&self.db)?;
        let covered = load_wal_position(&self.db)?.unwrap_or((0, Wal::START));
        for op in self.wal.written_since(covered)? {
            self.replay(op)?;
        }
        Ok(())
    }

    /// Tells readers whether redb lacks changes the store has made
    /// (then their reads go through the stream's shard).
    pub(super) fn publish_applying(&self) {
        let behind = self.txn.is_some() || !self.staged.is_empty();
        self.applying
            .store(behind, std::sync::atomic::Ordering::Release);
    }

    /// Writes the staged message rows into the write transaction, as
    /// index blocks (a block wholly below the first sequence is left out:
    /// those messages are gone already). Each subject a block names gets
    /// its `SUBJECT_BLOCKS` row.
    pub(super) fn flush_staged(&mut self) -> Result<(), StoreError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let txn = begin(&self.db, &mut self.txn)?;
        let mut blocks = txn.open_table(BLOCKS)?;
        let mut subject_blocks = txn.open_table(SUBJECT_BLOCKS)?;
        let first_seq = self.index.first_seq;
        let mut builder = BlockBuilder::default();
        let mut put = |builder: &mut BlockBuilder, end: u64| {
            if builder.is_empty() {
                return Ok::<_, StoreError>(());
            }
            let (key, value) = builder.finish();
            if end > first_seq {
                for subject in Block::parse(key, &value)?.subjects()? {
                    subject_blocks.insert((subject, key), ())?;
                }
                blocks.insert(key, value.as_slice())?;
            }
            Ok(())
        };
        let mut rows = self.staged.drain();
        let mut end = 0;
        while let Some((seq, row, subject)) = rows.next_row() {
            if !builder.fits(row.loc) {
                put(&mut builder, end)?;
            }
            builder.push(seq, row.loc, row.time_ns, subject);
            end = seq + 1;
        }
        put(&mut builder, end)?;
        Ok(())
    }

    /// Everything since the last checkpoint into redb (the staged rows,
    /// the summaries), then a checkpoint.
    pub(super) fn apply_and_checkpoint(&mut self) -> Result<(), StoreError> {
        self.flush_staged()?;
        if let Some(txn) = self.txn.take() {
            self.commit_txn(txn)?;
        }
        self.publish_applying();
        self.checkpoint()
    }

    /// The error for a store that refuses writes, if it does.
    pub(super) fn unusable(&self) -> Option<StoreError> {
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

    /// Commits redb without a sync: the log already holds the changes.
    pub(super) fn commit_txn(&mut self, txn: WriteTransaction) -> Result<(), StoreError> {
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
            let mut spans = txn.open_table(SEGMENT_SPANS)?;
            for g in self.dirty_segments.drain() {
                if let Some(used) = self.index.segments.get(&g) {
                    rows.insert(g, (used.msgs, used.bytes))?;
                    if used.end != u64::MAX {
                        spans.insert(g, (used.first, used.end))?;
                    }
                }
            }
            let mut meta = txn.open_table(META)?;
            meta.insert(META_STATE, self.index.encode_state().as_slice())?;
            // Flushed before this commit: the log up to here is applied.
            let position = encode_wal_position(self.wal.generation(), self.wal.written_len());
            meta.insert(META_WAL_POSITION, position.as_slice())?;
            if self.dropped_tables {
                txn.open_table(BLOCKS)?;
                txn.open_table(SUBJECT_BLOCKS)?;
                txn.open_table(GAPS)?;
            }
        }
        self.dropped_tables = false;
        txn.commit()?;
        Ok(())
    }

    /// Writes the batch's log records (synced unless relaxed), then
    /// commits redb without a sync. If redb fails, the log is cut back so
    /// a replay cannot bring back a batch reported failed.
    /// Writes the pending log frames (synced unless `may_sync` is false or
    /// syncs are relaxed); on failure the batch is abandoned.
    pub(super) fn flush_log(&mut self, may_sync: bool) -> Result<(), StoreError> {
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

    pub(super) fn commit_with(&mut self, may_sync: bool) -> Result<(), StoreError> {
        // The log was written and synced by `make_durable` (the batch may
        // already be acked): it must stay whatever happens to redb.
        let acked = std::mem::take(&mut self.log_durable);
        let result = self.commit_logged(may_sync, acked);
        self.publish_applying();
        result
    }

    /// Writes (and syncs) the batch's log: that makes it durable. redb is
    /// brought up to date only at checkpoints; until then the write
    /// transaction stays open and the new messages' rows staged.
    pub(super) fn commit_logged(&mut self, may_sync: bool, acked: bool) -> Result<(), StoreError> {
        if self.txn.is_none() && self.staged.is_empty() && !self.wal.has_pending() {
            return Ok(());
        }
        let before = self.wal.written_len();
        self.flush_log(may_sync)?;
        if !self.checkpoint_due() {
            return Ok(());
        }
        self.checkpoint_now(if acked { None } else { Some(before) })
    }

    /// Applies everything to redb and checkpoints. If redb fails, the
    /// batch not yet acknowledged (written to the log from `unacked_from`)
    /// is cut from the log, the store goes back to what the log holds and
    /// refuses writes until reopened; a failed checkpoint alone is retried
    /// at the next commit.
    pub(super) fn checkpoint_now(&mut self, unacked_from: Option<u64>) -> Result<(), StoreError> {
        self.apply_to_redb(unacked_from)?;
        self.publish_applying();
        if let Err(e) = self.checkpoint() {
            // The batch is safe in the log; the next commit retries.
            tracing::warn!("checkpoint failed: {e}");
        }
        Ok(())
    }

    /// Writes the staged entries and commits redb's transaction (no
    /// sync: the log has it all). On failure, as `checkpoint_now` says.
    pub(super) fn apply_to_redb(&mut self, unacked_from: Option<u64>) -> Result<(), StoreError> {
        let applied = self.flush_staged().and_then(|()| match self.txn.take() {
            Some(txn) => self.commit_txn(txn),
            None => Ok(()),
        });
        if let Err(e) = applied {
            if let Some(before) = unacked_from {
                if let Err(cut) = self.wal.cut_back(before) {
                    let cut = StoreError::io("cutting a failed batch from the log", cut);
                    self.log_broken = Some(("log could not be cut back", Arc::new(cut)));
                }
            }
            self.rollback();
            let e = Arc::new(e);
            let why = "applying the log to redb failed";
            if self.log_broken.is_none() {
                self.log_broken = Some((why, Arc::clone(&e)));
            }
            return Err(StoreError::Unusable { why, source: e });
        }
        Ok(())
    }
}
