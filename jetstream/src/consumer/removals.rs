//! How removals reach a consumer, as the reference's stores report them:
//! single removals (with their subject), purges (which move the consumer),
//! removals it never hears of (which stay pending), and the counts the
//! reference keeps for it (see `jetstream/DESIGN.md`, "Consumers").

use std::collections::BTreeSet;

use super::{all_filters, Consumer};
use crate::api::consumer::{AckPolicy, DeliverPolicy};
use crate::store::{Store, StoreError};

impl Consumer {
    /// After a filter update: notes the pending messages the new filters
    /// do not match (see `unmatched`).
    /// (A message that went while unmatched was never reported, and stays
    /// pending whatever the filters become.)
    pub fn note_unmatched_pending(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let seqs: Vec<u64> = self.pending.keys().copied().collect();
        for seq in seqs {
            if let Some(m) = store.get(seq)? {
                if self.matches_subject(&m.subject) {
                    self.unmatched.remove(&seq);
                } else {
                    self.unmatched.insert(seq);
                }
            }
        }
        Ok(())
    }

    /// Messages were removed from the stream: counts are redone, and a
    /// pending message that is gone is settled like an ack, as the
    /// reference does (returns what that releases).
    pub fn on_removed(&mut self, store: &dyn Store, now: i64) -> Vec<u64> {
        self.num_pending = None;
        self.ahead.clear();
        let state = store.state();
        let below_first = self
            .pending
            .range(..state.first_seq.max(1))
            .map(|(&s, _)| s);
        // Interior gaps are rare: only then is each pending one looked up.
        let mut gone: Vec<u64> = below_first.collect();
        if state.num_deleted > 0 || state.msgs == 0 {
            gone.extend(
                self.pending
                    .range(state.first_seq.max(1)..)
                    .map(|(&s, _)| s)
                    .filter(|&s| !store.contains(s)),
            );
        }
        let mut released = Vec::new();
        for seq in gone {
            if !self.unmatched.contains(&seq) {
                released.extend(self.acknowledge(seq, None, now));
            }
        }
        let pending = &self.pending;
        self.unmatched.retain(|s| pending.contains_key(s));
        released
    }

    /// Whether message `seq` on `subject` is one this consumer counts as
    /// still to deliver.
    pub fn counts_as_pending(&self, seq: u64, subject: &str) -> bool {
        (seq >= self.next_sseq || self.initial.contains(&seq)) && self.matches_subject(subject)
    }

    /// Deliver last-per-subject: counts afresh as the reference does (the
    /// subjects whose last message is at or past the position).
    pub fn recount_last_per_subject(&mut self, store: &dyn Store) {
        if self.config.deliver_policy != DeliverPolicy::LastPerSubject {
            return;
        }
        let live = self.live_sseq();
        let mut subjects = BTreeSet::new();
        for f in all_filters(&self.filters) {
            for (subject, ss) in store.subjects_matching(&f) {
                if ss.last_seq >= live {
                    subjects.insert(subject);
                }
            }
        }
        self.lps_pending = Some(i64::try_from(subjects.len()).unwrap_or(i64::MAX));
    }

    /// A message was stored (before any removal the publish caused).
    pub fn note_new_message(&mut self, subject: &str) {
        if self.lps_pending.is_some() && self.matches_subject(subject) {
            if let Some(n) = &mut self.lps_pending {
                *n += 1;
            }
        }
    }

    /// Whether this consumer keeps a count that single removal reports
    /// change (deliver last per subject).
    pub fn keeps_lps_count(&self) -> bool {
        self.lps_pending.is_some()
    }

    /// Message `seq` on `subject` was removed and reported one by one.
    pub fn on_removal_reported(&mut self, seq: u64, subject: &str) {
        let ahead = seq >= self.live_sseq() && self.matches_subject(subject);
        if let Some(n) = &mut self.lps_pending {
            if ahead {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// A removed message this consumer counted was not reported to it.
    pub fn note_stale_pending(&mut self) {
        self.stale_pending += 1;
    }

    /// Counts are taken afresh, as the reference's are after a purge of
    /// many messages or a filter change.
    pub fn forget_stale_pending(&mut self) {
        self.stale_pending = 0;
    }

    /// The reference's stream position: while last-per-subject messages
    /// are still to go, where its skip list has it (`skip_pos`).
    pub(super) fn live_sseq(&self) -> u64 {
        if self.initial.is_empty() {
            self.next_sseq
        } else {
            self.skip_pos
        }
    }

    /// The stream was purged, as the reference's consumers take it:
    /// the position moves up to `start` (the first message left that this
    /// purge concerns; 0 when none is left, which means past `last`), the
    /// ack floor follows and pending messages below it are dropped. A
    /// consumer `wider` than a filtered purge stays put but drops pending
    /// messages that are gone. With nothing pending, the floor is the
    /// position.
    pub fn on_purged(&mut self, start: u64, last: u64, wider: bool, store: &dyn Store) {
        let mut sseq = start;
        if sseq == 0 && !wider {
            sseq = last + 1;
        }
        if self.next_sseq < sseq {
            self.next_sseq = sseq;
        }
        if self.ack_floor.1 < sseq {
            self.ack_floor.1 = sseq - 1;
            let floor = self.ack_floor.1;
            let gone: Vec<u64> = self
                .pending
                .keys()
                .copied()
                .filter(|&seq| seq <= floor || (wider && !store.contains(seq)))
                .collect();
            for seq in gone {
                if let Some(p) = self.pending.remove(&seq) {
                    self.timers.remove(&(p.deadline, seq));
                    self.redeliver.remove(&seq);
                    self.ack_floor.0 = self.ack_floor.0.max(p.cseq);
                }
            }
        }
        let live = if self.initial.is_empty() {
            self.next_sseq
        } else {
            self.skip_pos = self.skip_pos.max(sseq);
            self.skip_pos
        };
        let pos = live.saturating_sub(1);
        self.delivered.1 = self.delivered.1.max(pos);
        if self.pending.is_empty() {
            self.ack_floor = (self.delivered.0, pos);
        }
        let next = self.next_sseq;
        self.redeliver.retain(|&seq| seq >= next);
        self.recount();
        self.dirty = true;
    }

    /// Pending messages that are gone now were taken without a word to
    /// this consumer: they stay pending (see `unmatched`).
    pub fn keep_gone_pending(&mut self, store: &dyn Store) {
        let gone: Vec<u64> = self
            .pending
            .keys()
            .copied()
            .filter(|&seq| !store.contains(seq))
            .collect();
        self.unmatched.extend(gone);
    }

    /// Whether a message this consumer has pending is gone from the stream.
    pub fn has_gone_pending(&self, store: &dyn Store) -> bool {
        self.pending.keys().any(|&seq| !store.contains(seq))
    }

    /// Stamps ack activity whatever the ack policy.
    pub fn stamp_ack_activity(&mut self, now: i64) {
        self.ack_active = Some(now);
    }

    /// An ack reached an explicit-ack consumer (ack activity is stamped
    /// whether or not the message was still pending).
    pub fn note_ack_activity(&mut self, now: i64) {
        if self.config.ack_policy == AckPolicy::Explicit {
            self.ack_active = Some(now);
        }
    }

    /// Counts are redone on the next look (messages went without
    /// touching this consumer's pending ones).
    pub fn recount(&mut self) {
        self.num_pending = None;
        self.ahead.clear();
    }

    /// Whether a purge of `subject` concerns this consumer as a whole: one
    /// of its filters equals it or lies inside it (the reference's
    /// `isEqualOrSubsetMatch`; an unfiltered consumer never does).
    pub fn filter_within(&self, subject: &str) -> bool {
        self.filters
            .iter()
            .any(|f| f == subject || crate::subject::is_subset(f, subject))
    }

    /// Whether the consumer sees at least all of `subject` (unfiltered, or
    /// a filter that contains it).
    pub fn filter_contains(&self, subject: &str) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| f == subject || crate::subject::is_subset(subject, f))
    }
}
