//! One consumer's state machine: what it has delivered, what waits for an
//! ack, what is due again, and the pull requests waiting on it. It runs on
//! its stream's shard, reads the stream's store, and produces the
//! messages to send (`OutMsg`); the writer sends them after its commit.
//!
//! Times are Unix nanoseconds (`now`), so deadlines survive nothing but are
//! easy to test; every deadline the consumer has is reported by
//! `next_deadline` and handled by `tick`.

pub mod ack;
pub(crate) mod persist;
mod priority;
pub mod pull;
mod removals;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::api::consumer::{
    AckPolicy, ConsumerConfig, ConsumerCounts, ConsumerInfo, DeliverPolicy, PriorityPolicy,
    ReplayPolicy, SequenceInfo,
};
use crate::headers::HeaderBlock;
use crate::outbox::{OutMsg, Outbox};
use crate::store::{Store, StoreError, StoredMsg};
use crate::subject::matches;
use ack::{ack_subject, AckKind};
use pull::{heartbeat, status, status_pending, PullRequest};

/// Flow control: a request after this many bytes pushed since the last...
const FC_REQUEST_BYTES: u64 = 1 << 20;
/// ...and no more pushing past this many without a reply.
const FC_WINDOW_BYTES: u64 = 2 << 20;
const MIN_PULL_EXPIRES: i64 = 1_000_000;
/// How often a push consumer without interest looks again for a
/// subscriber on its deliver subject.
const INTEREST_POLL: i64 = 50_000_000;
/// Messages read ahead at once for a consumer with at most one filter...
const READ_AHEAD: usize = 256;
/// ...or about this many bytes of them, whichever is fewer: 256 object
/// store chunks of 128 KiB would hold 32 MiB per consumer.
const READ_AHEAD_BYTES: usize = 1 << 20;
/// The first read ahead, before the consumer knows its message sizes.
const READ_AHEAD_FIRST: usize = 16;

/// A delivered message waiting for its ack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The consumer sequence of its first delivery (the ack floor uses it).
    pub cseq: u64,
    /// How many times it was delivered.
    pub deliveries: u64,
    /// When it is due again if not acked (0: not timed).
    pub deadline: i64,
    /// When it was last delivered (a sampled ack's `ack_time` counts
    /// from there).
    pub delivered_at: i64,
}

/// A pull request waiting for messages.
#[derive(Clone, Debug)]
struct Waiting {
    reply: String,
    batch_left: i64,
    /// Remaining byte budget; `None` when the request set none.
    bytes_left: Option<i64>,
    expires_at: Option<i64>,
    no_wait: bool,
    heartbeat: i64,
    next_heartbeat: i64,
    delivered: u64,
    /// Its priority group fields (JSON requests only).
    group: Option<pull::PriorityGroup>,
}

/// What an ack did, for the stream and the acker.
#[derive(Debug, Default)]
pub struct AckOutcome {
    /// Answer the ack's reply subject with an empty message.
    pub reply: bool,
    /// Stream sequences this consumer no longer needs (for retention).
    pub released: Vec<u64>,
    /// `+NXT`: a pull request to serve on the ack's reply subject.
    pub next: Option<Vec<u8>>,
}

pub(crate) struct Consumer {
    pub name: String,
    pub stream: String,
    pub config: ConsumerConfig,
    pub created_ns: i64,
    filters: Vec<String>,
    delivered: (u64, u64),
    delivered_active: Option<i64>,
    ack_floor: (u64, u64),
    ack_active: Option<i64>,
    /// The next stream sequence to look at for new messages.
    next_sseq: u64,
    pending: BTreeMap<u64, Pending>,
    /// Due for redelivery now.
    redeliver: BTreeSet<u64>,
    /// deliver_policy last_per_subject: the last message of each matching
    /// subject at creation, still to deliver (new ones follow from
    /// `next_sseq`).
    initial: BTreeSet<u64>,
    /// While `initial` lasts, the reference's stream position: its first
    /// message at first, then one past each one taken (delivered, or read
    /// and found gone), raised by purges.
    skip_pos: u64,
    /// Pending messages whose removal this consumer will not hear of, so
    /// they stay pending: ones a filter update left outside the filters
    /// (the reference tells a consumer of a removed message only when its
    /// filters match the subject), and ones a purge took without telling
    /// (see `Stream::after_purge`).
    unmatched: BTreeSet<u64>,
    /// The last read found a last-per-subject message gone (see `peek`).
    initial_gone: bool,
    /// After such a read the reference's consumer waits to be woken (a new
    /// message for it, a pull request, an ack) before it reads again.
    gap_stall: bool,
    /// Messages the reference still counts in num_pending though they
    /// went: a purge that takes one message tells only the consumers whose
    /// filters match the purge's subject (see `Stream::after_purge`), and
    /// the others keep counting it until they count again.
    stale_pending: u64,
    /// Deliver last-per-subject only: num_pending as the reference keeps
    /// it. It counts subjects whose last message is still ahead when it
    /// counts afresh (creation, a filter change, a purge of several
    /// messages), then +1 per new message, -1 per delivery and per
    /// reported removal ahead of the position. Like the reference's, it
    /// can go below zero (removals of messages it had not counted), and
    /// reads as 0 then.
    lps_pending: Option<i64>,
    /// Whether the stream had ack retention (interest, workqueue) when
    /// this consumer started: the reference decides then whether an
    /// ack-none consumer's deliveries count as acks for retention.
    pub started_with_ack_retention: bool,
    /// (deadline, stream seq) of pending messages.
    timers: BTreeSet<(i64, u64)>,
    waiting: VecDeque<Waiting>,
    /// New messages read ahead (from `next_sseq` on), so a delivery does
    /// not cost a store read of its own; dropped on any removal.
    ahead: VecDeque<StoredMsg>,
    /// How many messages the next read ahead asks for: as many of the
    /// sizes last read as fit in `READ_AHEAD_BYTES`.
    ahead_msgs: usize,
    /// Matching messages at or past `next_sseq`; `None` when it must be
    /// counted again (after removals).
    num_pending: Option<u64>,
    /// Push: the deliver subject had interest at the last look...
    pub(crate) push_bound: bool,
    /// ...taken then.
    interest_checked: i64,
    next_heartbeat: i64,
    fc_bytes: u64,
    fc_outstanding: Option<String>,
    stalled: bool,
    /// Replay original: (wall time, message time) of the first message
    /// replayed.
    replay_origin: Option<(i64, i64)>,
    /// rate_limit_bps: when the bytes sent so far are paid for.
    rate_next: i64,
    /// Delivery is held until then (replay original, rate limit).
    held_until: Option<i64>,
    /// Since when the consumer has had no interest and no waiting pulls.
    idle_since: Option<i64>,
    /// Durable state changed since it was last saved.
    pub dirty: bool,
    /// Deliveries to announce as advisories after the batch (NAKs,
    /// terminations, max deliveries reached).
    pub events: Vec<crate::advisory::DeliveryEvent>,
    /// Pinned client: who holds the pin.
    pin: Option<priority::Pin>,
}

/// The stored sequences after which a consumer with `config` starts.
/// Where a new consumer starts, as the reference selects it: by the
/// deliver policy, then clamped to what the stream holds (an empty,
/// never-used stream starts at 1; past the end at `last_seq + 1`; before
/// the first stored message at `first_seq`). An explicit start sequence is
/// only moved up to `first_seq`.
fn start_sequence(
    config: &ConsumerConfig,
    filters: &[String],
    store: &dyn Store,
    one_per_subject: bool,
) -> Result<u64, StoreError> {
    let state = store.state();
    let opt = config.opt_start_seq;
    let mut seq = 0;
    if opt > 0 {
        seq = opt;
    } else {
        match config.deliver_policy {
            DeliverPolicy::All => seq = state.first_seq,
            DeliverPolicy::Last if filters.is_empty() => seq = state.last_seq,
            DeliverPolicy::Last => {
                // The newest of the filters' last messages; none leaves 0,
                // which the clamp below moves to the first message.
                for f in filters {
                    for (_, ss) in store.subjects_matching(f) {
                        seq = seq.max(ss.last_seq);
                    }
                }
            }
            // With one message per subject every message is its subject's
            // last: the reference starts such a consumer like deliver all.
            DeliverPolicy::LastPerSubject if one_per_subject => seq = state.first_seq,
            DeliverPolicy::LastPerSubject => {
                let mut start = u64::MAX;
                for f in all_filters(filters) {
                    for (_, ss) in store.subjects_matching(&f) {
                        start = start.min(ss.last_seq);
                    }
                }
                seq = if start == u64::MAX {
                    state.last_seq
                } else {
                    start
                };
            }
            DeliverPolicy::ByStartTime => {
                let at = config.opt_start_time.map_or(0, |t| t.nanos);
                seq = state.first_seq.max(1);
                loop {
                    match store.next_matching(">", seq)? {
                        Some(m) if m.time_ns < at => seq = m.seq + 1,
                        Some(m) => break seq = m.seq,
                        None => break seq = state.last_seq + 1,
                    }
                }
                // A filtered consumer skips ahead to the first message of
                // its filters from there, unless that is the last message
                // (the reference's shortcut, kept as it is).
                let mut nearest = state.last_seq;
                for f in filters {
                    if let Some(m) = store.next_matching(f, state.first_seq)? {
                        if m.seq >= seq && m.seq < nearest {
                            nearest = m.seq;
                        }
                    }
                }
                if !filters.is_empty() && nearest > seq && nearest < state.last_seq {
                    seq = nearest;
                }
            }
            DeliverPolicy::New | DeliverPolicy::ByStartSequence => seq = state.last_seq + 1,
        }
    }
    if state.first_seq == 0 && opt == 0 {
        seq = 1;
    } else if seq > state.last_seq && opt == 0 {
        seq = state.last_seq + 1;
    } else if seq < state.first_seq {
        seq = state.first_seq;
    }
    Ok(seq)
}

fn single_filter(filters: &[String]) -> String {
    if filters.len() == 1 {
        filters[0].clone()
    } else {
        ">".to_string()
    }
}

fn all_filters(filters: &[String]) -> Vec<String> {
    if filters.is_empty() {
        vec![">".to_string()]
    } else {
        filters.to_vec()
    }
}

impl Consumer {
    /// A new consumer positioned by its deliver policy.
    /// `one_per_subject`: the stream keeps one message per subject
    /// (`max_msgs_per_subject` 1).
    pub fn new(
        stream: &str,
        name: &str,
        config: ConsumerConfig,
        created_ns: i64,
        store: &dyn Store,
        one_per_subject: bool,
    ) -> Result<Consumer, StoreError> {
        let filters = config.filters();
        let start = start_sequence(&config, &filters, store, one_per_subject)?;
        let before = start.saturating_sub(1);
        let mut initial = BTreeSet::new();
        let mut next_sseq = start;
        if config.deliver_policy == DeliverPolicy::LastPerSubject && !one_per_subject {
            for f in all_filters(&filters) {
                initial.extend(
                    store
                        .subjects_matching(&f)
                        .into_iter()
                        .map(|(_, ss)| ss.last_seq),
                );
            }
            // With no subject to start from, the reference's next read is
            // the last message (which its filters do not match).
            let last = store.state().last_seq;
            if initial.len() == 1 && initial.first() == Some(&last) {
                // One subject, whose last is the stream's last message:
                // the reference drops its skip list at once (the position
                // is already where it resumes) and reads on from there.
                initial.clear();
                next_sseq = last;
            } else if !initial.is_empty() {
                next_sseq = last + 1;
            }
        }
        let mut c = Consumer {
            name: name.to_string(),
            stream: stream.to_string(),
            config,
            created_ns,
            filters,
            delivered: (0, before),
            delivered_active: None,
            ack_floor: (0, before),
            ack_active: None,
            next_sseq,
            pending: BTreeMap::new(),
            redeliver: BTreeSet::new(),
            skip_pos: initial.first().copied().unwrap_or(0),
            initial,
            unmatched: BTreeSet::new(),
            initial_gone: false,
            gap_stall: false,
            stale_pending: 0,
            lps_pending: None,
            started_with_ack_retention: false,
            timers: BTreeSet::new(),
            waiting: VecDeque::new(),
            ahead: VecDeque::new(),
            ahead_msgs: READ_AHEAD_FIRST,
            num_pending: None,
            push_bound: false,
            interest_checked: created_ns,
            next_heartbeat: 0,
            fc_bytes: 0,
            fc_outstanding: None,
            stalled: false,
            replay_origin: None,
            rate_next: 0,
            held_until: None,
            idle_since: Some(created_ns),
            dirty: true,
            events: Vec::new(),
            pin: None,
        };
        c.count_pending(store)?;
        Ok(c)
    }

    pub fn is_durable(&self) -> bool {
        self.config.is_durable()
    }

    /// Whether its state is kept in the stream's store.
    pub fn is_persisted(&self) -> bool {
        self.is_durable() && !self.config.mem_storage
    }

    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// How far this consumer is done with messages, as the reference's
    /// interest check reads its state: the ack floor, or what it
    /// delivered while messages are pending.
    pub fn released_upto(&self) -> u64 {
        if self.pending.is_empty() {
            self.floor().1
        } else {
            self.floor().1.max(self.delivered.1)
        }
    }

    /// The stream sequence of the ack floor.
    pub fn ack_floor_stream_seq(&self) -> u64 {
        self.floor().1
    }

    /// The ack floor: an ack-none consumer's moves with each delivery.
    fn floor(&self) -> (u64, u64) {
        if self.config.ack_policy == AckPolicy::None {
            self.delivered
        } else {
            self.ack_floor
        }
    }

    pub fn matches_subject(&self, subject: &str) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|f| matches(f.as_bytes(), subject.as_bytes()))
    }

    /// `sample_freq`: an ack of a pending message is reported as a metric
    /// that often (`"50%"` or `"50"`; the reference draws 0-99 and samples
    /// when the draw is at most the percentage).
    fn sample_ack(&mut self, target: &ack::AckTarget<'_>, now: i64) {
        if self.config.ack_policy != AckPolicy::Explicit || self.config.sample_freq.is_empty() {
            return;
        }
        let freq: i64 = self
            .config
            .sample_freq
            .trim_end_matches('%')
            .trim()
            .parse()
            .unwrap_or(0);
        let sampled = match freq {
            f if f <= 0 => false,
            f if f >= 100 => true,
            f => i64::from(crate::transform::random_below(100)) <= f,
        };
        let Some(p) = self.pending.get(&target.stream_seq).filter(|_| sampled) else {
            return;
        };
        self.events
            .push(crate::advisory::DeliveryEvent::AckSampled {
                consumer_seq: target.consumer_seq,
                stream_seq: target.stream_seq,
                deliveries: target.deliveries,
                ack_time: now.saturating_sub(p.delivered_at),
            });
    }

    /// CONSUMER.RESET (ADR-60): delivery starts over at `seq` (0: just
    /// past the ack floor) with the consumer sequence from 1, and what
    /// waited for an ack is forgotten. A sequence below where the deliver
    /// policy starts is refused with the reference's reason.
    pub fn reset(&mut self, seq: u64, store: &dyn Store) -> Result<u64, &'static str> {
        let seq = if seq == 0 {
            self.floor().1 + 1
        } else {
            match self.config.deliver_policy {
                DeliverPolicy::All => seq,
                DeliverPolicy::ByStartSequence if seq < self.config.opt_start_seq => {
                    return Err("below start seq")
                }
                DeliverPolicy::ByStartSequence => seq,
                DeliverPolicy::ByStartTime => {
                    let at = self.config.opt_start_time.map_or(0, |t| t.nanos);
                    let mut first = store.state().first_seq.max(1);
                    while let Ok(Some(m)) = store.next_matching(">", first) {
                        if m.time_ns >= at {
                            break;
                        }
                        first = m.seq + 1;
                    }
                    if seq < first {
                        return Err("below start time");
                    }
                    seq
                }
                _ => return Err("not allowed"),
            }
        }
        .max(1);
        self.pending.clear();
        self.redeliver.clear();
        self.timers.clear();
        self.initial.clear();
        self.unmatched.clear();
        self.skip_pos = 0;
        self.initial_gone = false;
        self.gap_stall = false;
        self.stale_pending = 0;
        self.lps_pending = None;
        self.next_sseq = seq;
        self.delivered = (0, seq - 1);
        self.ack_floor = (0, seq - 1);
        self.delivered_active = None;
        self.ack_active = None;
        self.replay_origin = None;
        self.ahead.clear();
        self.num_pending = None;
        self.dirty = true;
        Ok(seq)
    }

    /// A new config from an update (filters may change).
    pub fn update_config(&mut self, config: ConsumerConfig) {
        if config.filters() != self.filters {
            self.stale_pending = 0;
        }
        self.filters = config.filters();
        self.config = config;
        self.num_pending = None;
        self.ahead.clear();
        self.dirty = true;
    }

    /// Whether this consumer is done with stream message `seq`: an
    /// explicit-ack one once it has moved past it and it is not pending;
    /// the others once their ack floor has, as the reference decides
    /// (messages they skipped past as unmatched are still theirs, should
    /// a filter change make them match).
    pub fn has_released(&self, seq: u64) -> bool {
        match self.config.ack_policy {
            AckPolicy::Explicit => {
                seq < self.next_sseq
                    && !self.pending.contains_key(&seq)
                    && !self.initial.contains(&seq)
            }
            _ => seq <= self.floor().1,
        }
    }

    /// A message was stored in the stream.
    pub fn on_stored(&mut self, seq: u64, subject: &str) {
        if seq >= self.next_sseq && self.matches_subject(subject) {
            self.gap_stall = false;
            if let Some(n) = &mut self.num_pending {
                *n += 1;
            }
        }
    }

    fn count_pending(&mut self, store: &dyn Store) -> Result<u64, StoreError> {
        if let Some(n) = self.num_pending {
            return Ok(n);
        }
        let from = self.next_sseq;
        let state = store.state();
        // Last-per-subject messages that have gone stay queued (the
        // reference's skip list keeps them, and its read of one ends a
        // pass, see `peek`) but are not counted.
        let mut initial_left = 0;
        for &seq in &self.initial {
            if store.contains(seq) {
                initial_left += 1;
            }
        }
        let n = if self.filters.is_empty() {
            if state.msgs == 0 || from > state.last_seq {
                0
            } else if from <= state.first_seq {
                state.msgs
            } else {
                let gaps = store.deleted().iter().filter(|&&s| s >= from).count() as u64;
                (state.last_seq - from + 1).saturating_sub(gaps)
            }
        } else {
            let mut n = 0;
            for f in &self.filters {
                for (subject, ss) in store.subjects_matching(f) {
                    if ss.first_seq >= from {
                        n += ss.msgs;
                    } else if ss.last_seq >= from {
                        let mut seq = from;
                        while let Some(m) = store.next_matching(&subject, seq)? {
                            n += 1;
                            seq = m.seq + 1;
                        }
                    }
                }
            }
            n
        };
        let n = n + initial_left;
        self.num_pending = Some(n);
        Ok(n)
    }

    /// num_pending as the reference reports it: the count, plus what it
    /// still counts though gone, within what the stream could hold past
    /// the position (the reference clamps it so when it reports it).
    fn reported_pending(&mut self, store: &dyn Store) -> Result<u64, StoreError> {
        if let Some(n) = self.lps_pending {
            // Clamped as the reference clamps it when it reports it.
            let state = store.state();
            let live = self.live_sseq();
            let n = if live > state.last_seq {
                0
            } else if n > 0 {
                let room = state.msgs.min(state.last_seq - live + 1);
                n.min(i64::try_from(room).unwrap_or(i64::MAX))
            } else {
                n
            };
            self.lps_pending = Some(n);
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let count = self.count_pending(store)?;
        if self.stale_pending == 0 {
            return Ok(count);
        }
        let state = store.state();
        let total = if self.next_sseq > state.last_seq {
            0
        } else {
            (count + self.stale_pending)
                .min(state.msgs)
                .min(state.last_seq - self.next_sseq + 1)
        };
        self.stale_pending = total.saturating_sub(count);
        Ok(total.max(count))
    }

    pub fn counts(&mut self, store: &dyn Store) -> Result<ConsumerCounts, StoreError> {
        let num_pending = self.reported_pending(store)?;
        let floor = self.floor();
        // The reference moves an ack-none consumer's floor with each
        // delivery but stamps it only when those deliveries went through
        // its ack path (see `Stream::ack_none_releases`).
        let floor_active = self.ack_active;
        // The reference reports the delivered pair it last stored (on a
        // delivery, a purge, at creation), except that its memory store
        // counts an all-zero pair as none stored and reports the live
        // position instead (which a read that found the end moves).
        let delivered_stream = if self.delivered == (0, 0) && store.is_memory() {
            // Its next read: the oldest last-per-subject message still to
            // go, else the next new one.
            self.live_sseq().saturating_sub(1)
        } else {
            self.delivered.1
        };
        Ok(ConsumerCounts {
            delivered: SequenceInfo {
                consumer_seq: self.delivered.0,
                stream_seq: delivered_stream,
                last_active: self.delivered_active,
            },
            ack_floor: SequenceInfo {
                consumer_seq: floor.0,
                stream_seq: floor.1,
                last_active: floor_active,
            },
            num_ack_pending: self.pending.len() as u64,
            num_redelivered: self.pending.values().filter(|p| p.deliveries > 1).count() as u64,
            num_waiting: self.waiting.len() as u64,
            num_pending,
            push_bound: self.config.is_push() && self.push_bound,
            // The reference reports the first group only (one pin).
            priority_groups: self
                .config
                .priority_groups
                .first()
                .map(|group| crate::api::consumer::PriorityGroupState {
                    group: group.clone(),
                    pinned_client_id: self.pin.as_ref().map(|p| p.id.clone()).unwrap_or_default(),
                    pinned_ts: self.pin.as_ref().map_or(0, |p| p.since),
                })
                .into_iter()
                .collect(),
        })
    }

    pub fn info(
        &mut self,
        store: &dyn Store,
        now: i64,
        server_version: &str,
    ) -> Result<ConsumerInfo, StoreError> {
        let counts = self.counts(store)?;
        Ok(ConsumerInfo::build(
            &self.stream,
            &self.name,
            self.created_ns,
            self.config.with_dynamic_metadata(server_version),
            &counts,
            now,
        ))
    }

    /// The earliest time `tick` has work.
    pub fn next_deadline(&self) -> Option<i64> {
        let mut next: Option<i64> = None;
        let mut at = |t: i64| next = Some(next.map_or(t, |n: i64| n.min(t)));
        if let Some(&(t, _)) = self.timers.first() {
            at(t);
        }
        if let Some(t) = self.held_until {
            at(t);
        }
        for w in &self.waiting {
            if let Some(e) = w.expires_at {
                at(e);
            }
            if w.heartbeat > 0 {
                at(w.next_heartbeat);
            }
        }
        if self.config.is_push() && !self.push_bound {
            at(self.interest_checked + INTEREST_POLL);
        }
        if let Some(pin) = &self.pin {
            at(pin.expires_at);
        }
        if self.config.is_push() && self.config.idle_heartbeat > 0 && self.push_bound {
            at(self.next_heartbeat);
        }
        if let Some(since) = self.idle_since {
            if self.config.inactive_threshold > 0 {
                at(since + self.config.inactive_threshold);
            }
        }
        if let Some(p) = self.config.pause_until {
            if p.nanos > 0 {
                at(p.nanos);
            }
        }
        next
    }

    /// Handles what is due at `now`: ack_wait expiries, pull expiries and
    /// heartbeats. Returns false when an inactive consumer should go.
    pub fn tick(&mut self, now: i64, out: &mut Vec<OutMsg>) -> bool {
        while let Some(&(t, seq)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, seq));
            if let Some(p) = self.pending.get_mut(&seq) {
                p.deadline = 0;
                let deliveries = p.deliveries;
                if self.at_max_deliver(deliveries) {
                    self.exhaust(seq);
                } else {
                    self.redeliver.insert(seq);
                }
            }
        }
        let mut i = 0;
        while i < self.waiting.len() {
            let w = &mut self.waiting[i];
            if w.expires_at.is_some_and(|e| e <= now) {
                let w = self.waiting.remove(i).unwrap_or_else(|| unreachable!());
                out.push(status_to(
                    &w.reply,
                    status_pending(
                        408,
                        "Request Timeout",
                        w.batch_left,
                        w.bytes_left.unwrap_or(0),
                    ),
                ));
                continue;
            }
            if w.heartbeat > 0 && w.next_heartbeat <= now {
                w.next_heartbeat = now + w.heartbeat;
                let hb = heartbeat(self.delivered.0, self.delivered.1, None);
                out.push(status_to(&w.reply, hb));
            }
            i += 1;
        }
        if self.config.is_push()
            && self.config.idle_heartbeat > 0
            && self.push_bound
            && self.next_heartbeat <= now
        {
            self.next_heartbeat = now + self.config.idle_heartbeat;
            // Acking by flow control: a quiet consumer with messages
            // pending asks for the acks.
            if self.config.ack_policy == AckPolicy::FlowControl
                && !self.pending.is_empty()
                && self.fc_outstanding.is_none()
            {
                self.request_flow_control(now, self.delivered.0, out);
            }
            let hb = heartbeat(
                self.delivered.0,
                self.delivered.1,
                self.stalled
                    .then_some(())
                    .and(self.fc_outstanding.as_deref()),
            );
            out.push(status_to(&self.config.deliver_subject, hb));
        }
        if self.held_until.is_some_and(|t| t <= now) {
            self.held_until = None;
        }
        if self.pin.as_ref().is_some_and(|p| p.expires_at <= now) {
            if let Some(pin) = self.pin.take() {
                self.events.push(crate::advisory::DeliveryEvent::Unpinned {
                    group: pin.group,
                    reason: "timeout",
                });
            }
        }
        if self
            .config
            .pause_until
            .is_some_and(|p| p.nanos <= now && p.nanos > 0)
        {
            self.config.pause_until = None;
            self.dirty = true;
        }
        !self.idle_since.is_some_and(|since| {
            self.config.inactive_threshold > 0 && since + self.config.inactive_threshold <= now
        })
    }

    /// Notes whether anyone is listening (push) or waiting (pull).
    pub fn refresh_activity(&mut self, outbox: &dyn Outbox, now: i64) {
        let active = if self.config.is_push() {
            let group = (!self.config.deliver_group.is_empty())
                .then_some(self.config.deliver_group.as_str());
            let bound = outbox.has_interest(&self.config.deliver_subject, group);
            self.interest_checked = now;
            if bound && !self.push_bound {
                self.next_heartbeat = now + self.config.idle_heartbeat;
            }
            self.push_bound = bound;
            bound
        } else {
            // A pull request whose requester went away is dropped without
            // a word, as the reference drops it when it next looks.
            self.waiting.retain(|w| outbox.has_interest(&w.reply, None));
            !self.waiting.is_empty()
        };
        if active {
            self.idle_since = None;
        } else if self.idle_since.is_none() {
            self.idle_since = Some(now);
        }
    }

    /// A pull request arrived on `reply`.
    pub fn on_pull(
        &mut self,
        body: &[u8],
        reply: &str,
        store: &dyn Store,
        now: i64,
        out: &mut Vec<OutMsg>,
    ) -> Vec<u64> {
        if self.config.is_push() {
            out.push(status_to(reply, status(409, "Consumer is push based")));
            return Vec::new();
        }
        self.gap_stall = false;
        let req: PullRequest = match pull::parse_pull(body) {
            Ok(r) => r,
            Err(e) => {
                out.push(status_to(reply, status(400, &format!("Bad Request - {e}"))));
                return Vec::new();
            }
        };
        let c = &self.config;
        if c.max_batch > 0 && req.batch > c.max_batch {
            let text = format!("Exceeded MaxRequestBatch of {}", c.max_batch);
            out.push(status_to(reply, status(409, &text)));
            return Vec::new();
        }
        if c.max_expires > 0 && req.expires > c.max_expires {
            let text = format!(
                "Exceeded MaxRequestExpires of {}",
                crate::duration::format_go_duration(c.max_expires)
            );
            out.push(status_to(reply, status(409, &text)));
            return Vec::new();
        }
        if c.max_bytes > 0 && req.max_bytes > c.max_bytes {
            let text = format!("Exceeded MaxRequestMaxBytes of {}", c.max_bytes);
            out.push(status_to(reply, status(409, &text)));
            return Vec::new();
        }
        if let Some(g) = &req.group {
            if !self.check_priority_group(g, reply, now, out) {
                return Vec::new();
            }
        }
        if req.idle_heartbeat > 0
            && (req.expires <= 0 || req.idle_heartbeat.saturating_mul(2) > req.expires)
        {
            out.push(status_to(
                reply,
                status(400, "Bad Request - heartbeat value too large"),
            ));
            return Vec::new();
        }
        if req.expires != 0 && req.expires < MIN_PULL_EXPIRES {
            let bytes = req.max_bytes;
            out.push(status_to(
                reply,
                status_pending(408, "Request Timeout", req.batch, bytes),
            ));
            return Vec::new();
        }
        if req.no_wait {
            // As the reference: nothing to give and nothing to wait for is
            // a 404 now; fewer messages than the requests already waiting
            // want is a 408 now; otherwise the request waits its turn and
            // ends at the end of the stream.
            let msgs_pending = self
                .reported_pending(store)
                .unwrap_or(0)
                .saturating_add(self.redeliver.len() as u64);
            if msgs_pending == 0 && req.expires == 0 {
                out.push(status_to(reply, status(404, "No Messages")));
                return Vec::new();
            }
            if msgs_pending > 0 {
                let batch_pending: i64 = self
                    .waiting
                    .iter()
                    .filter(|w| w.expires_at.is_none_or(|e| e > now))
                    .map(|w| w.batch_left)
                    .sum();
                if (msgs_pending as i64) < batch_pending {
                    out.push(status_to(reply, status(408, "Requests Pending")));
                    return Vec::new();
                }
            }
        }
        let max_waiting = usize::try_from(self.config.max_waiting).unwrap_or(0);
        if max_waiting > 0 && self.waiting.len() >= max_waiting {
            out.push(status_to(reply, status(409, "Exceeded MaxWaiting")));
            return Vec::new();
        }
        let w = Waiting {
            reply: reply.to_string(),
            batch_left: req.batch,
            bytes_left: (req.max_bytes > 0).then_some(req.max_bytes),
            expires_at: (req.expires > 0).then_some(now + req.expires),
            no_wait: req.no_wait,
            heartbeat: req.idle_heartbeat,
            next_heartbeat: now + req.idle_heartbeat,
            delivered: 0,
            group: req.group,
        };
        if self.config.priority_policy == PriorityPolicy::Prioritized {
            self.insert_by_priority(w);
        } else {
            self.waiting.push_back(w);
        }
        self.idle_since = None;
        self.deliver(store, now, out).unwrap_or_default()
    }

    /// Tells every waiting request the consumer is gone.
    pub fn on_deleted(&mut self, out: &mut Vec<OutMsg>) {
        for w in self.waiting.drain(..) {
            out.push(status_to(&w.reply, status(409, "Consumer Deleted")));
        }
    }

    /// Sends a flow-control request on the deliver subject.
    fn request_flow_control(&mut self, now: i64, salt: u64, out: &mut Vec<OutMsg>) {
        let fc = format!(
            "$JS.FC.{}.{}.{}",
            self.stream,
            self.name,
            random_suffix(now, salt)
        );
        out.push(OutMsg {
            to: self.config.deliver_subject.clone(),
            subject: self.config.deliver_subject.clone(),
            reply: Some(fc.clone()),
            headers: Some(Bytes::from(status(100, "FlowControl Request"))),
            payload: Bytes::new(),
        });
        self.fc_outstanding = Some(fc);
    }

    /// Flow control answered: pushing resumes. A consumer acking by flow
    /// control (a durable one a mirror or source reads through) takes the
    /// answer's last sequences as an ack of everything up to them;
    /// returns the stream sequences that releases.
    pub fn on_flow_control_reply(
        &mut self,
        subject: &str,
        headers: Option<&[u8]>,
        now: i64,
    ) -> Vec<u64> {
        if self.fc_outstanding.as_deref() != Some(subject) {
            return Vec::new();
        }
        self.fc_outstanding = None;
        self.stalled = false;
        self.fc_bytes = 0;
        if self.config.ack_policy != AckPolicy::FlowControl {
            return Vec::new();
        }
        let h = headers.unwrap_or_default();
        let num = |key| {
            crate::headers::get(h, key)
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let (dseq, sseq) = (num("Nats-Last-Consumer").max(0), num("Nats-Last-Stream"));
        if sseq <= 0 {
            return Vec::new();
        }
        self.acknowledge(sseq as u64, Some(dseq as u64), now)
    }

    fn ack_wait_for(&self, deliveries: u64) -> i64 {
        let b = &self.config.backoff;
        if b.is_empty() {
            if self.config.ack_wait > 0 {
                self.config.ack_wait
            } else {
                crate::api::consumer::DEFAULT_ACK_WAIT
            }
        } else {
            let i = usize::try_from(deliveries.saturating_sub(1))
                .unwrap_or(usize::MAX)
                .min(b.len() - 1);
            b[i]
        }
    }

    /// Delivers what it can: to waiting pull requests, or to the deliver
    /// subject while it has interest. Returns the stream sequences released
    /// on delivery (ack none), for retention.
    pub fn deliver(
        &mut self,
        store: &dyn Store,
        now: i64,
        out: &mut Vec<OutMsg>,
    ) -> Result<Vec<u64>, StoreError> {
        let mut released = Vec::new();
        if self.config.is_paused_at(now) || self.gap_stall {
            return Ok(released);
        }
        let ack_none = self.config.ack_policy == AckPolicy::None;
        loop {
            let push = self.config.is_push();
            if push {
                if !self.push_bound || self.stalled {
                    break;
                }
            } else if self.waiting.is_empty() {
                break;
            }
            if !ack_none
                && self.config.max_ack_pending > 0
                && self.pending.len() as i64 >= self.config.max_ack_pending
                && self.redeliver.is_empty()
            {
                break;
            }
            let Some((msg, source)) = self.peek(store, now, &mut released)? else {
                if std::mem::take(&mut self.initial_gone) {
                    self.gap_stall = true;
                } else {
                    self.at_end(store);
                }
                self.end_no_wait_requests(out);
                break;
            };
            // The pull request this message goes to.
            let wi = if push {
                0
            } else {
                match self.pick_waiting(store, now, out)? {
                    Some(i) => i,
                    None => break,
                }
            };
            let redelivery = source == Source::Redelivery;
            if push && self.config.rate_limit > 0 && self.rate_next > now {
                self.held_until = Some(self.rate_next);
                break;
            }
            if !redelivery && self.config.replay_policy == ReplayPolicy::Original {
                // New messages go out spaced as they were stored.
                let (wall, first) = *self.replay_origin.get_or_insert((now, msg.time_ns));
                let due = wall.saturating_add(msg.time_ns - first);
                if due > now {
                    self.held_until = Some(due);
                    break;
                }
                self.held_until = None;
            }
            let deliveries = if redelivery {
                self.pending.get(&msg.seq).map_or(1, |p| p.deliveries + 1)
            } else {
                1
            };
            let cseq = self.delivered.0 + 1;
            // The reference's count as it stands (unclamped, unlike in
            // info), less this delivery; never below 0.
            let taken = u64::from(!redelivery);
            let pending_after = match self.lps_pending {
                Some(n) => u64::try_from(n - i64::from(!redelivery)).unwrap_or(0),
                None => (self.count_pending(store)? + self.stale_pending).saturating_sub(taken),
            };
            let reply = ack_subject(
                &self.stream,
                &self.name,
                deliveries,
                msg.seq,
                cseq,
                msg.time_ns,
                pending_after,
            );
            let (mut headers, payload) = if self.config.headers_only {
                let mut h = HeaderBlock::from_existing(msg.headers.as_deref());
                h.add("Nats-Msg-Size", msg.payload.len());
                (Some(Bytes::from(h.finish())), Bytes::new())
            } else {
                (msg.headers.clone(), msg.payload.clone())
            };
            if let (false, Some(pin)) = (push, &self.pin) {
                // The pin holder learns its id from every message.
                let mut h = HeaderBlock::from_existing(headers.as_deref());
                h.add("Nats-Pin-Id", &pin.id);
                headers = Some(Bytes::from(h.finish()));
            }
            let size = (msg.subject.len()
                + reply.len()
                + headers.as_ref().map_or(0, Bytes::len)
                + payload.len()) as i64;
            let to = if push {
                self.config.deliver_subject.clone()
            } else {
                let w = &mut self.waiting[wi];
                if let Some(left) = w.bytes_left {
                    if size > left {
                        let w = self.waiting.remove(wi).unwrap_or_else(|| unreachable!());
                        out.push(status_to(
                            &w.reply,
                            status_pending(
                                409,
                                "Message Size Exceeds MaxBytes",
                                w.batch_left,
                                left,
                            ),
                        ));
                        continue;
                    }
                }
                w.reply.clone()
            };
            // Take it.
            match source {
                Source::Redelivery => {
                    self.redeliver.remove(&msg.seq);
                }
                Source::Initial | Source::New => {
                    if source == Source::Initial {
                        self.initial.remove(&msg.seq);
                        self.skip_pos = msg.seq + 1;
                    } else {
                        self.next_sseq = msg.seq + 1;
                    }
                    if let Some(n) = &mut self.num_pending {
                        *n = n.saturating_sub(1);
                    }
                    if let Some(n) = &mut self.lps_pending {
                        *n -= 1;
                    }
                }
            }
            self.delivered.0 = cseq;
            self.delivered.1 = self.delivered.1.max(msg.seq);
            self.delivered_active = Some(now);
            if ack_none {
                released.push(msg.seq);
            } else {
                let wait = self.ack_wait_for(deliveries);
                let deadline = now.saturating_add(wait);
                let entry = self.pending.entry(msg.seq).or_insert(Pending {
                    cseq,
                    deliveries: 0,
                    deadline: 0,
                    delivered_at: now,
                });
                if entry.deadline != 0 {
                    self.timers.remove(&(entry.deadline, msg.seq));
                }
                entry.deliveries = deliveries;
                entry.deadline = deadline;
                entry.delivered_at = now;
                self.timers.insert((deadline, msg.seq));
            }
            self.dirty = true;
            out.push(OutMsg {
                to,
                subject: msg.subject.clone(),
                reply: Some(reply),
                headers,
                payload,
            });
            if push {
                self.next_heartbeat = now + self.config.idle_heartbeat;
                if self.config.rate_limit > 0 {
                    // rate_limit_bps is bits per second.
                    let bits = (size as u128) * 8 * 1_000_000_000;
                    let ns = i64::try_from(bits / u128::from(self.config.rate_limit))
                        .unwrap_or(i64::MAX);
                    self.rate_next = self.rate_next.max(now).saturating_add(ns);
                }
                if self.config.flow_control {
                    self.fc_bytes += size as u64;
                    // Acking by flow control, a full window of pending
                    // messages asks for it too.
                    let acks_due = self.config.ack_policy == AckPolicy::FlowControl
                        && self.config.max_ack_pending > 0
                        && self.pending.len() as i64 >= self.config.max_ack_pending;
                    if self.fc_outstanding.is_none()
                        && (self.fc_bytes >= FC_REQUEST_BYTES || acks_due)
                    {
                        self.request_flow_control(now, cseq, out);
                    } else if self.fc_outstanding.is_some() && self.fc_bytes >= FC_WINDOW_BYTES {
                        self.stalled = true;
                    }
                }
            } else {
                let w = &mut self.waiting[wi];
                w.batch_left -= 1;
                w.delivered += 1;
                w.next_heartbeat = now + w.heartbeat;
                if let Some(left) = &mut w.bytes_left {
                    *left -= size;
                }
                if w.batch_left <= 0 {
                    let w = self.waiting.remove(wi).unwrap_or_else(|| unreachable!());
                    if let Some(left) = w.bytes_left {
                        out.push(status_to(
                            &w.reply,
                            status_pending(409, "Batch Completed", 0, left),
                        ));
                    }
                } else if self.waiting.len() > 1 {
                    // Requests take turns, one message each, as in the
                    // reference: to the back of the queue (of its priority,
                    // for a prioritized consumer).
                    if let Some(w) = self.waiting.remove(wi) {
                        if self.config.priority_policy == PriorityPolicy::Prioritized {
                            self.insert_by_priority(w);
                        } else {
                            self.waiting.push_back(w);
                        }
                    }
                }
            }
        }
        Ok(released)
    }

    /// The next message to deliver: a due redelivery first, else the next
    /// new matching one.
    fn peek(
        &mut self,
        store: &dyn Store,
        now: i64,
        released: &mut Vec<u64>,
    ) -> Result<Option<(StoredMsg, Source)>, StoreError> {
        while let Some(&seq) = self.redeliver.first() {
            let deliveries = self.pending.get(&seq).map_or(0, |p| p.deliveries);
            if self.at_max_deliver(deliveries) {
                self.exhaust(seq);
                continue;
            }
            match store.get(seq)? {
                Some(m) => return Ok(Some((m, Source::Redelivery))),
                None => {
                    // Gone from the stream: the reference terminates it
                    // here, an ack in all but name.
                    self.redeliver.remove(&seq);
                    released.extend(self.acknowledge(seq, None, now));
                }
            }
        }
        if let Some(&seq) = self.initial.first() {
            match store.get(seq)? {
                Some(m) => return Ok(Some((m, Source::Initial))),
                None => {
                    // The reference's read of a last-per-subject message
                    // that has gone ends that pass as the end of the
                    // stream does (no_wait requests get their 404); the
                    // next pass goes on with the rest.
                    self.initial.remove(&seq);
                    self.skip_pos = seq + 1;
                    self.initial_gone = true;
                    return Ok(None);
                }
            }
        }
        if self.filters.len() <= 1 {
            while self.ahead.front().is_some_and(|m| m.seq < self.next_sseq) {
                self.ahead.pop_front();
            }
            if self.ahead.is_empty() {
                let filter = single_filter(&self.filters);
                let read = store.scan(&filter, self.next_sseq, self.ahead_msgs)?;
                let bytes: usize = read.iter().map(|m| m.payload.len() + m.subject.len()).sum();
                if !read.is_empty() {
                    self.ahead_msgs =
                        (READ_AHEAD_BYTES * read.len() / bytes.max(1)).clamp(1, READ_AHEAD);
                }
                self.ahead.extend(read);
            }
            return Ok(self.ahead.front().map(|m| (m.clone(), Source::New)));
        }
        let mut best: Option<StoredMsg> = None;
        for f in all_filters(&self.filters) {
            if let Some(m) = store.next_matching(&f, self.next_sseq)? {
                if best.as_ref().is_none_or(|b| m.seq < b.seq) {
                    best = Some(m);
                }
            }
        }
        Ok(best.map(|m| (m, Source::New)))
    }

    /// An ack arrived for stream sequence `seq`.
    /// Whether acks mean anything to this consumer (not ack policy none).
    pub fn takes_acks(&self) -> bool {
        self.config.ack_policy != AckPolicy::None
    }

    pub fn on_ack(&mut self, target: &ack::AckTarget<'_>, kind: AckKind, now: i64) -> AckOutcome {
        let seq = target.stream_seq;
        let mut out = AckOutcome::default();
        self.gap_stall = false;
        if seq >= self.next_sseq {
            // Never delivered: the reference ignores it, and answers
            // only the kinds it does not check (nak, progress, unknown).
            out.reply = matches!(
                kind,
                AckKind::Nak(_) | AckKind::InProgress | AckKind::Unknown
            );
            // +NXT still asks for more.
            if let AckKind::Next(body) = kind {
                out.next = Some(body);
            }
            return out;
        }
        out.reply = true;
        if matches!(kind, AckKind::Ack | AckKind::Next(_)) {
            self.sample_ack(target, now);
        }
        match kind {
            AckKind::Ack => {
                out.released = self.acknowledge_from(target, now);
            }
            AckKind::Term(reason) => {
                if let Some(p) = self.pending.get(&seq) {
                    self.events
                        .push(crate::advisory::DeliveryEvent::Terminated {
                            consumer_seq: target.consumer_seq,
                            stream_seq: seq,
                            deliveries: p.deliveries,
                            reason,
                        });
                }
                out.released = self.acknowledge_from(target, now);
            }
            AckKind::Next(body) => {
                out.released = self.acknowledge_from(target, now);
                out.next = Some(body);
            }
            AckKind::Nak(delay) => {
                // The reference ignores a NAK whose delivery is at or
                // below its ack floor's consumer sequence (a purge can
                // move that floor past messages still pending).
                let dseq = target.consumer_seq;
                if dseq <= self.ack_floor.0 || dseq > self.delivered.0 {
                    return out;
                }
                if let Some(p) = self.pending.get_mut(&seq) {
                    self.events.push(crate::advisory::DeliveryEvent::Nak {
                        consumer_seq: dseq,
                        stream_seq: seq,
                        deliveries: p.deliveries,
                    });
                    self.timers.remove(&(p.deadline, seq));
                    match delay {
                        Some(d) => {
                            p.deadline = now.saturating_add(d);
                            self.timers.insert((p.deadline, seq));
                        }
                        None => {
                            // Queued for redelivery even past max_deliver:
                            // the reference drops it from pending only
                            // when its next read reaches it (`peek`).
                            p.deadline = 0;
                            self.redeliver.insert(seq);
                        }
                    }
                    self.delivered_active = Some(now);
                    self.dirty = true;
                }
            }
            AckKind::InProgress => {
                let wait = self
                    .pending
                    .get(&seq)
                    .map(|p| p.deliveries)
                    .map(|d| self.ack_wait_for(d));
                if let (Some(p), Some(wait)) = (self.pending.get_mut(&seq), wait) {
                    self.timers.remove(&(p.deadline, seq));
                    p.deadline = now.saturating_add(wait);
                    self.timers.insert((p.deadline, seq));
                }
            }
            AckKind::Unknown => {}
        }
        out
    }

    /// The end of the stream: no_wait requests end with a 404, except one
    /// that also has an expiry and got nothing (it waits for that). A
    /// consumer held back by max_ack_pending is not at the end: its
    /// no_wait requests keep waiting, unanswered, as the reference's do.
    fn end_no_wait_requests(&mut self, out: &mut Vec<OutMsg>) {
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for w in self.waiting.drain(..) {
            if w.no_wait && (w.expires_at.is_none() || w.delivered > 0) {
                out.push(status_to(&w.reply, status(404, "No Messages")));
            } else {
                kept.push_back(w);
            }
        }
        self.waiting = kept;
    }

    /// Nothing more to deliver: the next read starts past the stream's
    /// last message, as the reference's does when its read finds the end.
    /// What `delivered` reports does not move (see `counts`).
    fn at_end(&mut self, store: &dyn Store) {
        if !self.redeliver.is_empty() || !self.initial.is_empty() {
            return;
        }
        let last = store.state().last_seq;
        if self.next_sseq <= last {
            self.next_sseq = last + 1;
            self.ahead.clear();
            self.dirty = true;
        }
        // Past the end the reference knows nothing is pending.
        self.stale_pending = 0;
        if self.lps_pending.is_some() && self.live_sseq() > last {
            self.lps_pending = Some(0);
        }
    }

    /// Whether a message delivered this many times may not go again.
    fn at_max_deliver(&self, deliveries: u64) -> bool {
        let max = self.config.max_deliver;
        max > 0 && i64::try_from(deliveries).unwrap_or(i64::MAX) >= max
    }

    /// A message that reached max_deliver and is due again leaves pending,
    /// as with the reference (2.14), which leaves the ack floor where it
    /// was until the next ack moves it; it is not acked (retention keeps
    /// it).
    fn exhaust(&mut self, seq: u64) {
        self.redeliver.remove(&seq);
        if let Some(p) = self.pending.remove(&seq) {
            self.timers.remove(&(p.deadline, seq));
            self.dirty = true;
            self.events
                .push(crate::advisory::DeliveryEvent::MaxDeliveries {
                    stream_seq: seq,
                    deliveries: p.deliveries,
                });
        }
    }

    /// An ack (or term) received: `acknowledge`, plus what the reference
    /// does for one that finds nothing pending: it still counts as ack
    /// activity (for ack-all, when above the floor) and acks the message to
    /// the stream, and moves no floor.
    fn acknowledge_from(&mut self, target: &ack::AckTarget<'_>, now: i64) -> Vec<u64> {
        let seq = target.stream_seq;
        if self.pending.contains_key(&seq) {
            return self.acknowledge(seq, Some(target.consumer_seq), now);
        }
        let counts = match self.config.ack_policy {
            AckPolicy::Explicit => true,
            AckPolicy::All => target.consumer_seq > self.ack_floor.0 && seq > self.ack_floor.1,
            _ => false,
        };
        if counts {
            self.ack_active = Some(now);
            // Still an ack to the stream: on a workqueue or interest
            // stream the message goes when nobody else needs it (a
            // message dropped at max_deliver, say).
            return vec![seq];
        }
        Vec::new()
    }

    /// Removes acked sequences from pending and moves the floor; returns
    /// the sequences released.
    /// `ack_dseq`: the delivery sequence the ack named (an ack-all floor
    /// takes it, as the reference's store does); for a removal, none.
    fn acknowledge(&mut self, seq: u64, ack_dseq: Option<u64>, now: i64) -> Vec<u64> {
        let mut released = Vec::new();
        match self.config.ack_policy {
            AckPolicy::None => return released,
            AckPolicy::All | AckPolicy::FlowControl => {
                let acked = self.pending.get(&seq).map(|p| ack_dseq.unwrap_or(p.cseq));
                // At or below the floor (a purge can move the floor's
                // consumer sequence past messages still pending) the
                // reference takes it as done: nothing moves.
                if acked.is_some_and(|c| c <= self.ack_floor.0 || seq <= self.ack_floor.1) {
                    return released;
                }
                let upto: Vec<u64> = self.pending.range(..=seq).map(|(&s, _)| s).collect();
                for s in upto {
                    if let Some(p) = self.pending.remove(&s) {
                        self.timers.remove(&(p.deadline, s));
                        self.redeliver.remove(&s);
                        released.push(s);
                    }
                }
                // The floor is the acked message itself, as the
                // reference's ack-all sets it.
                if let Some(cseq) = acked.filter(|&c| c > self.ack_floor.0) {
                    self.ack_active = Some(now);
                    self.ack_floor = (cseq, seq);
                    self.dirty = true;
                    return released;
                }
            }
            _ => {
                if let Some(p) = self.pending.remove(&seq) {
                    self.timers.remove(&(p.deadline, seq));
                    self.redeliver.remove(&seq);
                    released.push(seq);
                    self.ack_active = Some(now);
                    self.settle_floor(p.cseq, seq);
                    self.dirty = true;
                }
            }
        }
        released
    }

    /// The floor after pending message `seq` (first delivered as `cseq`)
    /// was settled, as the reference's consumer store moves it: with
    /// nothing pending, to what was delivered; after the delivery right
    /// above the floor, up to just below the next pending message; else
    /// not at all.
    fn settle_floor(&mut self, cseq: u64, seq: u64) {
        if self.pending.is_empty() {
            self.ack_floor = self.delivered;
        } else if cseq == self.ack_floor.0 + 1 {
            self.ack_floor = (cseq, seq);
            if let Some((&next, p)) = self.pending.range(seq + 1..).next() {
                if next <= self.delivered.1 && p.cseq > 0 {
                    self.ack_floor = (p.cseq - 1, next - 1);
                }
            }
        }
    }
}

/// Where a delivery comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Redelivery,
    /// The last message of a subject (deliver last_per_subject).
    Initial,
    New,
}

fn status_to(reply: &str, headers: Vec<u8>) -> OutMsg {
    OutMsg::to_inbox(reply, Some(headers))
}

/// Four alphanumerics, different from one request to the next.
fn random_suffix(now: i64, cseq: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = (now as u64) ^ cseq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// An ephemeral's generated name: eight alphanumerics.
pub fn ephemeral_name(now: i64, salt: u64) -> String {
    let mut s = random_suffix(now, salt);
    s.push_str(&random_suffix(now.rotate_left(17), salt.wrapping_add(7)));
    s
}
