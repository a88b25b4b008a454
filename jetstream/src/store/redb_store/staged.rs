//! Index rows not yet in redb: the locations (and subjects) of the
//! messages appended since the last checkpoint.
//!
//! Inserting two redb rows per message on the stream's shard took about
//! half of its time under load (perf, 256 publishes in flight). The rows
//! are kept here instead, in sequence order and without an allocation per
//! message, and go into redb at the checkpoint in one pass: the log
//! already holds every record, so a crash loses nothing (recovery replays
//! the log from the checkpoint, which rebuilds them).

use std::collections::VecDeque;

use super::Loc;

/// One staged message.
#[derive(Clone, Copy, Debug)]
pub(super) struct Row {
    pub(super) loc: Loc,
    pub(super) time_ns: i64,
    /// Its subject in `Staged::names`.
    name_at: u32,
    name_len: u32,
    /// Cleared when the message is removed before its row reached redb.
    pub(super) live: bool,
}

/// The rows of sequences `base..base + rows.len()`.
#[derive(Debug, Default)]
pub(super) struct Staged {
    base: u64,
    rows: VecDeque<Row>,
    /// The subjects, one after another.
    names: Vec<u8>,
}

impl Staged {
    pub(super) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether `seq` has a row here (live or not).
    pub(super) fn holds(&self, seq: u64) -> bool {
        seq >= self.base && seq - self.base < self.rows.len() as u64
    }

    /// Stages the row of `seq`, the next sequence after the last staged.
    pub(super) fn push(&mut self, seq: u64, subject: &str, time_ns: i64, loc: Loc) {
        if self.rows.is_empty() {
            self.base = seq;
            self.names.clear();
        }
        debug_assert_eq!(seq, self.base + self.rows.len() as u64);
        let name_at = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.extend_from_slice(subject.as_bytes());
        self.rows.push_back(Row {
            loc,
            time_ns,
            name_at,
            name_len: subject.len() as u32,
            live: true,
        });
    }

    /// The live row of `seq`.
    pub(super) fn get(&self, seq: u64) -> Option<&Row> {
        if !self.holds(seq) {
            return None;
        }
        self.rows
            .get((seq - self.base) as usize)
            .filter(|row| row.live)
    }

    /// A row's subject.
    pub(super) fn subject(&self, row: &Row) -> &str {
        let at = row.name_at as usize;
        let bytes = &self.names[at..at + row.name_len as usize];
        // Pushed from a `&str`, cut at its own boundaries.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// Marks `seq` removed; returns its row as it was.
    pub(super) fn remove(&mut self, seq: u64) -> Option<Row> {
        if !self.holds(seq) {
            return None;
        }
        let row = self.rows.get_mut((seq - self.base) as usize)?;
        if !row.live {
            return None;
        }
        row.live = false;
        Some(*row)
    }

    /// The live rows from `from` on, in sequence order.
    pub(super) fn live_from(&self, from: u64) -> impl Iterator<Item = (u64, &Row)> + '_ {
        let skip = from.saturating_sub(self.base) as usize;
        let base = self.base;
        self.rows
            .iter()
            .enumerate()
            .skip(skip)
            .filter(|(_, row)| row.live)
            .map(move |(i, row)| (base + i as u64, row))
    }

    /// The last live sequence on `subject`.
    pub(super) fn last_on(&self, subject: &str) -> Option<u64> {
        let base = self.base;
        self.rows
            .iter()
            .enumerate()
            .rev()
            .find(|(_, row)| row.live && self.subject(row) == subject)
            .map(|(i, _)| base + i as u64)
    }

    /// Takes every row out (for redb), leaving nothing staged.
    pub(super) fn drain(&mut self) -> Drain<'_> {
        Drain {
            seq: self.base,
            staged: self,
        }
    }

    pub(super) fn clear(&mut self) {
        self.rows.clear();
        self.names.clear();
    }
}

/// The rows leaving `Staged`, with their sequences and subjects.
pub(super) struct Drain<'a> {
    staged: &'a mut Staged,
    seq: u64,
}

impl Drain<'_> {
    /// The next row, live or not: (sequence, row, subject). Index blocks
    /// cover consecutive sequences, so removed ones are handed out too.
    pub(super) fn next_row(&mut self) -> Option<(u64, Row, &str)> {
        let row = self.staged.rows.pop_front()?;
        let seq = self.seq;
        self.seq += 1;
        let at = row.name_at as usize;
        let bytes = &self.staged.names[at..at + row.name_len as usize];
        Some((seq, row, std::str::from_utf8(bytes).unwrap_or_default()))
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        self.staged.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(offset: u64) -> Loc {
        Loc {
            generation: 1,
            offset,
            len: 10,
        }
    }

    #[test]
    fn rows_are_found_by_sequence_and_subject_until_removed() {
        let mut s = Staged::default();
        s.push(5, "a", 1, loc(100));
        s.push(6, "b.c", 2, loc(110));
        s.push(7, "a", 3, loc(120));
        assert!(s.holds(5) && s.holds(7) && !s.holds(4) && !s.holds(8));
        assert_eq!(s.get(6).map(|r| s.subject(r)), Some("b.c"));
        assert_eq!(s.last_on("a"), Some(7));
        assert_eq!(s.remove(7).map(|r| r.loc.offset), Some(120));
        assert!(s.remove(7).is_none());
        assert!(s.get(7).is_none());
        assert_eq!(s.last_on("a"), Some(5));
        let live: Vec<u64> = s.live_from(6).map(|(seq, _)| seq).collect();
        assert_eq!(live, vec![6]);
    }

    #[test]
    fn draining_yields_every_row_and_empties() {
        let mut s = Staged::default();
        s.push(1, "x", 1, loc(16));
        s.push(2, "y", 2, loc(26));
        s.push(3, "z", 3, loc(36));
        s.remove(2);
        let mut got = Vec::new();
        {
            let mut d = s.drain();
            while let Some((seq, row, subject)) = d.next_row() {
                got.push((seq, row.live, subject.to_string()));
            }
        }
        let want = [(1, true, "x"), (2, false, "y"), (3, true, "z")];
        let want: Vec<(u64, bool, String)> = want
            .iter()
            .map(|&(q, l, s)| (q, l, s.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(s.is_empty());
        s.push(9, "w", 4, loc(46));
        assert!(s.holds(9) && !s.holds(3));
        assert_eq!(s.get(9).map(|r| s.subject(r)), Some("w"));
    }
}
