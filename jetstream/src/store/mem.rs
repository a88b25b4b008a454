//! `MemStore`: a stream's messages in RAM, for `storage: memory` streams
//! and as the oracle the redb store is tested against.
//!
//! Messages sit in a `BTreeMap` by sequence; each subject keeps the set of
//! its sequences, so per-subject first/last stay exact after removals, and
//! the interior gaps are a set of their own. Invariant: the stored
//! sequences and `deleted` together are exactly `first_seq..=last_seq`
//! (once anything was stored), and `first_seq` is stored unless empty.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

use super::gaps::Gaps;
use super::{filter_is_all, Store, StoreError, StoreState, StoredMsg, SubjectState};
use crate::subject::{has_wildcard, matches};

/// How many messages a wildcard `next_matching` reads in sequence order
/// before it asks each matching subject's index instead: dense matches are
/// found by the scan, sparse ones by a bounded number of index lookups.
pub(super) const NEXT_SCAN_MSGS: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct MemStore {
    msgs: BTreeMap<u64, StoredMsg>,
    /// Stored sequences of each subject; a subject with none is absent.
    subjects: HashMap<String, BTreeSet<u64>>,
    /// Removed sequences in `(first_seq, last_seq]`.
    deleted: Gaps,
    bytes: u64,
    first_seq: u64,
    last_seq: u64,
    last_ts: i64,
    config: Option<Vec<u8>>,
}

impl MemStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes one message without settling `first_seq` and the gaps.
    fn take(&mut self, seq: u64) -> bool {
        let Some(msg) = self.msgs.remove(&seq) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(mem_size(&msg));
        if let Some(seqs) = self.subjects.get_mut(&msg.subject) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.subjects.remove(&msg.subject);
            }
        }
        true
    }

    /// After removing `removed`: moves `first_seq` to the first stored
    /// message (or past the end) and records the interior gaps. Gaps are
    /// recorded only now so that purging a prefix never fills the set.
    fn settle(&mut self, removed: &[u64]) {
        let first = self.msgs.keys().next().map_or(self.last_seq + 1, |&s| s);
        if first != self.first_seq {
            self.first_seq = first;
            self.deleted.split_below(first);
        }
        for &seq in removed.iter().filter(|&&s| s > first) {
            self.deleted.insert(seq);
        }
    }

    fn remove_seqs(&mut self, seqs: impl IntoIterator<Item = u64>) -> u64 {
        let removed: Vec<u64> = seqs.into_iter().filter(|&s| self.take(s)).collect();
        if !removed.is_empty() {
            self.settle(&removed);
        }
        removed.len() as u64
    }

    fn purge_all(&mut self) -> u64 {
        let purged = self.msgs.len() as u64;
        self.msgs.clear();
        self.subjects.clear();
        self.deleted.clear();
        self.bytes = 0;
        self.first_seq = self.last_seq + 1;
        purged
    }

    /// Stored subjects matching `filter` with their sequences.
    fn matching<'a>(
        &'a self,
        filter: &'a str,
    ) -> Box<dyn Iterator<Item = (&'a String, &'a BTreeSet<u64>)> + 'a> {
        if has_wildcard(filter.as_bytes()) {
            Box::new(
                self.subjects
                    .iter()
                    .filter(move |(s, _)| matches(filter.as_bytes(), s.as_bytes())),
            )
        } else {
            Box::new(self.subjects.get_key_value(filter).into_iter())
        }
    }

    /// The sequences a filtered purge removes, ascending.
    fn purge_candidates(
        &self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Vec<u64> {
        let below = below_seq.unwrap_or(u64::MAX);
        let mut seqs: Vec<u64> = match (filter, keep) {
            (f, None) if filter_is_all(f) => {
                return self.msgs.range(..below).map(|(&s, _)| s).collect()
            }
            (f, _) if filter_is_all(f) => self.msgs.keys().copied().collect(),
            (Some(f), _) => {
                let mut seqs: Vec<u64> = self
                    .matching(f)
                    .flat_map(|(_, set)| set.iter().copied())
                    .collect();
                seqs.sort_unstable();
                seqs
            }
            (None, _) => Vec::new(),
        };
        if let Some(keep) = keep {
            let remove = seqs
                .len()
                .saturating_sub(usize::try_from(keep).unwrap_or(usize::MAX));
            seqs.truncate(remove);
        }
        let end = seqs.partition_point(|&s| s < below);
        seqs.truncate(end);
        seqs
    }

    fn msg(&self, seq: Option<u64>) -> Option<StoredMsg> {
        seq.and_then(|s| self.msgs.get(&s)).cloned()
    }
}

fn subject_state(seqs: &BTreeSet<u64>) -> SubjectState {
    SubjectState {
        msgs: seqs.len() as u64,
        first_seq: seqs.first().copied().unwrap_or(0),
        last_seq: seqs.last().copied().unwrap_or(0),
    }
}

impl Store for MemStore {
    fn is_memory(&self) -> bool {
        true
    }

    fn size_of(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) -> u64 {
        super::memory_stored_size(subject, headers, payload)
    }

    fn state(&self) -> StoreState {
        StoreState {
            msgs: self.msgs.len() as u64,
            bytes: self.bytes,
            first_seq: self.first_seq,
            first_ts: self.msgs.values().next().map_or(0, |m| m.time_ns),
            last_seq: self.last_seq,
            last_ts: self.last_ts,
            num_deleted: self.deleted.len(),
            num_subjects: self.subjects.len() as u64,
        }
    }

    fn append(
        &mut self,
        subject: &str,
        headers: Option<Bytes>,
        payload: Bytes,
        time_ns: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.last_seq + 1;
        if self.msgs.is_empty() {
            self.first_seq = seq;
        }
        let msg = StoredMsg {
            seq,
            subject: subject.to_owned(),
            headers,
            payload,
            time_ns,
        };
        self.bytes += mem_size(&msg);
        match self.subjects.get_mut(subject) {
            Some(seqs) => {
                seqs.insert(seq);
            }
            None => {
                self.subjects
                    .insert(subject.to_owned(), BTreeSet::from([seq]));
            }
        }
        self.msgs.insert(seq, msg);
        self.last_seq = seq;
        self.last_ts = time_ns;
        Ok(seq)
    }

    fn remove(&mut self, seq: u64) -> Result<bool, StoreError> {
        Ok(self.remove_seqs([seq]) == 1)
    }

    fn skip(&mut self, n: u64) -> Result<(), StoreError> {
        if n == 0 {
            return Ok(());
        }
        let start = self.last_seq + 1;
        self.last_seq += n;
        if self.msgs.is_empty() {
            self.first_seq = self.last_seq + 1;
        } else {
            self.deleted.insert_run(start, start + n);
        }
        Ok(())
    }

    fn purge(
        &mut self,
        filter: Option<&str>,
        below_seq: Option<u64>,
        keep: Option<u64>,
    ) -> Result<u64, StoreError> {
        let keep = keep.filter(|&k| k > 0);
        if filter_is_all(filter) && keep.is_none() {
            match below_seq {
                None => return Ok(self.purge_all()),
                Some(below) if below > self.last_seq => {
                    let purged = self.purge_all();
                    if below > self.last_seq + 1 {
                        self.first_seq = below;
                        self.last_seq = below - 1;
                    }
                    return Ok(purged);
                }
                Some(_) => {}
            }
        }
        let seqs = self.purge_candidates(filter, below_seq, keep);
        Ok(self.remove_seqs(seqs))
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn get(&self, seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        Ok(self.msgs.get(&seq).cloned())
    }

    fn contains(&self, seq: u64) -> bool {
        self.msgs.contains_key(&seq)
    }

    fn next_matching(&self, filter: &str, from_seq: u64) -> Result<Option<StoredMsg>, StoreError> {
        let from = from_seq.max(self.first_seq);
        if filter == ">" {
            return Ok(self.msgs.range(from..).next().map(|(_, m)| m.clone()));
        }
        if !has_wildcard(filter.as_bytes()) {
            let seq = self
                .subjects
                .get(filter)
                .and_then(|seqs| seqs.range(from..).next().copied());
            return Ok(self.msg(seq));
        }
        let mut scanned = 0;
        let mut resume = None;
        for (&seq, msg) in self.msgs.range(from..) {
            if matches(filter.as_bytes(), msg.subject.as_bytes()) {
                return Ok(Some(msg.clone()));
            }
            scanned += 1;
            if scanned == NEXT_SCAN_MSGS {
                resume = Some(seq + 1);
                break;
            }
        }
        let Some(resume) = resume else {
            return Ok(None);
        };
        let seq = self
            .matching(filter)
            .filter_map(|(_, seqs)| seqs.range(resume..).next().copied())
            .min();
        Ok(self.msg(seq))
    }

    fn last_matching(&self, filter: &str) -> Result<Option<StoredMsg>, StoreError> {
        if filter == ">" {
            return Ok(self.msgs.values().next_back().cloned());
        }
        let seq = self
            .matching(filter)
            .filter_map(|(_, seqs)| seqs.last().copied())
            .max();
        Ok(self.msg(seq))
    }

    fn subject_state(&self, subject: &str) -> Option<SubjectState> {
        self.subjects.get(subject).map(subject_state)
    }

    fn subjects_matching(&self, filter: &str) -> Vec<(String, SubjectState)> {
        let mut out: Vec<(String, SubjectState)> = self
            .matching(filter)
            .map(|(s, seqs)| (s.clone(), subject_state(seqs)))
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn deleted(&self) -> Vec<u64> {
        self.deleted.iter().collect()
    }

    fn save_config(&mut self, config_json: &[u8]) -> Result<(), StoreError> {
        self.config = Some(config_json.to_vec());
        Ok(())
    }

    fn load_config(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.config.clone())
    }
}

fn mem_size(msg: &StoredMsg) -> u64 {
    super::memory_stored_size(&msg.subject, msg.headers.as_deref(), &msg.payload)
}
