//! Reading records: where a `msg_locations` row says a record is, and
//! the reads of one record or of a run of close ones.

use super::*;

/// Where a `MESSAGES` row says the record is.
pub(in crate::store) fn row_loc(row: &(u64, u64, u32, i64, &str)) -> Loc {
    Loc {
        generation: row.0,
        offset: row.1,
        len: row.2,
    }
}

/// Records further apart than this in one segment are read apart.
const RUN_GAP: u64 = 16 << 10;

impl RedbStore {
    /// The first stored sequence >= `from` among `subjects`, through their
    /// index rows (a subject whose first is past `from` needs no lookup).
    pub(super) fn first_of_subjects(
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
                        // Not in redb: among the rows staged since.
                        None if !self.staged.is_empty() && ss.last_seq >= self.staged.base() => {
                            self.staged.first_on(subject, from)
                        }
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
