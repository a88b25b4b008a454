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

    pub(super) fn rollback(&mut self) {
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
        self.applying
            .store(false, std::sync::atomic::Ordering::Release);
        result
    }

    pub(super) fn commit_logged(&mut self, may_sync: bool, acked: bool) -> Result<(), StoreError> {
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
