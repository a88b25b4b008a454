//! One stream's state machine: a publish in, a stored message (or an
//! error) out, with the headers' expectations, deduplication and the
//! stream's limits applied. It owns the stream's store and is driven by the
//! stream's shard; it does no I/O of its own beyond the store.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use bytes::Bytes;

use crate::error::ApiError;
use crate::headers;
use crate::store::{Store, StoreError, StoredMsg};

pub(crate) const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The parts of a stream's configuration that govern its writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    pub name: String,
    /// Values <= 0 mean unlimited, as in the reference.
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    /// Nanoseconds; 0 = keep forever.
    pub max_age_ns: i64,
    pub discard_new: bool,
    pub discard_new_per_subject: bool,
    pub duplicate_window_ns: i64,
    pub allow_rollup: bool,
    pub sealed: bool,
    pub allow_msg_ttl: bool,
    /// When max_age removes a subject's last message, a delete marker with
    /// this TTL takes its place (0 = no markers).
    pub subject_delete_marker_ttl_ns: i64,
    /// Interest retention: a message nobody is interested in is not kept.
    pub interest_retention: bool,
    /// Workqueue retention: a message goes once its consumer acked it.
    pub workqueue_retention: bool,
    /// `subject_transform`: a published subject its source matches is
    /// stored under the mapped one (checked first, as the reference does).
    pub subject_transform: Option<crate::transform::SubjectTransform>,
    /// `republish`: stored messages on its source are re-sent to the
    /// mapped subject; `true` for headers only.
    pub republish: Option<(crate::transform::SubjectTransform, bool)>,
    /// `allow_msg_counter`: publishes carry `Nats-Incr` and store totals.
    pub allow_msg_counter: bool,
    /// `allow_atomic`: atomic batch publish.
    pub allow_atomic: bool,
    /// `allow_batched`: fast batch publish.
    pub allow_batched: bool,
    /// `allow_msg_schedules`: `Nats-Schedule` messages fire copies.
    pub allow_msg_schedules: bool,
    /// The stream's subjects (schedule targets must be among them).
    pub subjects: Vec<String>,
}

impl Policy {
    /// The least per-message TTL: with delete markers on and a history
    /// over one message, a shorter `Nats-TTL` is raised to the marker TTL
    /// (whole seconds), so a key's history cannot outlive its marker.
    pub fn min_msg_ttl_ns(&self) -> Option<i64> {
        let secs = self.subject_delete_marker_ttl_ns / NANOS_PER_SEC;
        (secs > 0 && self.max_msgs_per_subject != 1).then_some(secs * NANOS_PER_SEC)
    }

    pub fn from_config(c: &crate::api::stream::StreamConfig) -> Self {
        use crate::api::stream::DiscardPolicy;
        Policy {
            name: c.name.clone(),
            max_msgs: c.max_msgs,
            max_bytes: c.max_bytes,
            max_msgs_per_subject: c.max_msgs_per_subject,
            max_msg_size: i64::from(c.max_msg_size),
            max_age_ns: c.max_age,
            discard_new: c.discard == DiscardPolicy::New,
            discard_new_per_subject: c.discard_new_per_subject,
            duplicate_window_ns: c.duplicate_window,
            allow_rollup: c.allow_rollup_hdrs,
            sealed: c.sealed,
            allow_msg_ttl: c.allow_msg_ttl,
            subject_delete_marker_ttl_ns: c.subject_delete_marker_ttl,
            interest_retention: c.retention == crate::api::stream::RetentionPolicy::Interest,
            workqueue_retention: c.retention == crate::api::stream::RetentionPolicy::WorkQueue,
            // Validated with the config: one that does not compile was
            // refused then.
            subject_transform: c
                .subject_transform
                .as_ref()
                .filter(|t| !t.dest.is_empty())
                .and_then(|t| crate::transform::SubjectTransform::new(&t.src, &t.dest).ok()),
            allow_msg_counter: c.allow_msg_counter,
            allow_atomic: c.allow_atomic,
            allow_batched: c.allow_batched,
            allow_msg_schedules: c.allow_msg_schedules,
            subjects: c.subjects.clone(),
            republish: c.republish.as_ref().and_then(|r| {
                crate::transform::SubjectTransform::new(&r.src, &r.dest)
                    .ok()
                    .map(|t| (t, r.headers_only))
            }),
        }
    }
}

/// A message offered to the stream.
pub struct Inbound {
    /// The subject it was published to.
    pub subject: String,
    /// Where the PubAck goes (`None`: nobody waits for one).
    pub reply: Option<String>,
    /// The header block (`Nats-Msg-Id`, `Nats-Expected-*`, ...), if any.
    pub headers: Option<Bytes>,
    /// The message body.
    pub payload: Bytes,
}

/// Where a message to store comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Provenance {
    /// A client's publish: every check applies.
    Client,
    /// A mirror's copy: stored with the origin's time.
    Mirror { time_ns: i64 },
    /// A source's copy.
    Source,
    /// A schedule's copy, produced by the stream itself.
    Scheduled,
}

impl Provenance {
    /// A copy of a message another stream accepted: stored as it is
    /// (its counter increment, its TTL) without this stream's transform.
    fn is_copy(self) -> bool {
        self != Provenance::Client
    }
}

/// A stored publish.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stored {
    pub seq: u64,
    /// The Nats-Msg-Id was seen within the duplicate window: nothing new
    /// was stored and `seq` is the original's.
    pub duplicate: bool,
    /// A rollup header purged the stream, for the consumers.
    pub rolled_up: Option<Purged>,
    /// A counter stream's new total for the subject (the ack's `val`).
    pub val: Option<String>,
    /// Part of an atomic batch: staged, or the commit that stored it.
    pub batch: Option<Batched>,
}

/// What an atomic batch's message came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Batched {
    /// Staged until the commit: answered with an empty reply.
    Staged,
    /// The batch is stored (the ack's `batch` and `count`); the
    /// consumers were told of each message.
    Committed { id: String, count: u64 },
    /// A fast batch message: these answers go to its reply subject, in
    /// order (the consumers were told of what it stored).
    Replies(Vec<Vec<u8>>),
}

/// What a purge took, as the consumers hear of it (see
/// `Stream::after_purge`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Purged {
    /// The purge's subject ("" for all).
    pub filter: String,
    /// How many messages it took.
    pub purged: u64,
    /// An unfiltered purge the reference's file store does in place
    /// (with keep, or seq 1), reporting a single removal itself.
    pub in_place: bool,
    /// The first message it could take (the one that went, when one did).
    pub took: Option<(u64, String)>,
    /// A filtered purge of a memory stream: the messages it took, which
    /// the reference's memory store reports one by one. Only gathered
    /// while some consumer keeps a count they change (last per subject).
    pub removed: Vec<(u64, String)>,
}

/// Why a publish was refused.
#[derive(Debug)]
pub(crate) enum PublishError {
    Api(ApiError),
    Store(StoreError),
}

impl From<ApiError> for PublishError {
    fn from(e: ApiError) -> Self {
        PublishError::Api(e)
    }
}

impl From<StoreError> for PublishError {
    fn from(e: StoreError) -> Self {
        PublishError::Store(e)
    }
}

/// Message ids seen within the duplicate window, oldest first.
#[derive(Default)]
struct Dedupe {
    ids: HashMap<String, (u64, i64)>,
    order: VecDeque<(i64, String)>,
}

impl Dedupe {
    fn get(&self, id: &str) -> Option<u64> {
        self.ids.get(id).map(|(seq, _)| *seq)
    }

    fn insert(&mut self, id: String, seq: u64, time_ns: i64) {
        self.order.push_back((time_ns, id.clone()));
        self.ids.insert(id, (seq, time_ns));
    }

    /// Drops ids older than the cutoff; returns them.
    fn expire(&mut self, cutoff_ns: i64) -> Vec<String> {
        let mut gone = Vec::new();
        while let Some((t, _)) = self.order.front() {
            if *t >= cutoff_ns {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                if self.ids.get(&id).is_some_and(|(_, seen)| *seen < cutoff_ns) {
                    self.ids.remove(&id);
                    gone.push(id);
                }
            }
        }
        gone
    }
}

pub(crate) struct Stream {
    policy: Policy,
    pub(crate) store: Box<dyn Store>,
    dedupe: Dedupe,
    last_msg_id: Option<String>,
    /// Per-message TTL deadlines: (expires at ns, seq).
    ttls: BinaryHeap<Reverse<(i64, u64)>>,
    /// The stream's consumers, by name (they run on this thread too).
    pub(crate) consumers: std::collections::BTreeMap<String, crate::consumer::Consumer>,
    /// Whether deliveries of an ack-none consumer release messages. The
    /// reference sets up that path when it opens a stream with interest
    /// (or workqueue) retention; a stream updated from limits to interest
    /// lacks it until it is opened again: those deliveries keep the
    /// message and count as ack activity instead.
    pub(crate) ack_none_releases: bool,
    /// Messages the limits removed one by one since the consumers last
    /// heard (`Stream::report_removals`).
    pub(crate) limit_removals: Vec<(u64, String)>,
    /// Sent once the batch is durable (`Stream::take_after_commit`):
    /// RePublish copies of its stored messages, advisories of atomic
    /// batches dropped.
    pub(crate) after_commit: Vec<crate::outbox::OutMsg>,
    /// Atomic batches being staged.
    pub(crate) batches: crate::atomic_batch::AtomicBatches,
    /// Fast batches being stored.
    pub(crate) fast: crate::fast_batch::FastBatches,
    /// The schedules of `Nats-Schedule` messages.
    pub(crate) schedules: crate::schedule::Schedules,
    /// The mirror or sources this stream copies from, if any.
    pub(crate) sourcing: Option<crate::sourcing::Sourcing>,
}

/// What a RePublish copy says about the stored message.
struct RePublished<'a> {
    stream: &'a str,
    subject: &'a str,
    seq: u64,
    time_ns: i64,
    /// The subject's previous sequence (0: none).
    last: u64,
}

impl RePublished<'_> {
    /// The copy sent to `to`: the message's headers with the reference's
    /// added after them (in its order), and the payload, or its size in
    /// `Nats-Msg-Size` instead when only headers go.
    fn message(
        &self,
        to: String,
        headers: Option<&[u8]>,
        payload: &Bytes,
        headers_only: bool,
    ) -> crate::outbox::OutMsg {
        use std::fmt::Write;
        let mut h = match headers {
            // Without the blank line that ends the block.
            Some(h) if h.ends_with(b"\r\n\r\n") => {
                String::from_utf8_lossy(&h[..h.len() - 2]).into_owned()
            }
            _ => "NATS/1.0\r\n".to_string(),
        };
        let _ = write!(
            h,
            "Nats-Stream: {}\r\nNats-Subject: {}\r\nNats-Sequence: {}\r\nNats-Time-Stamp: {}\r\nNats-Last-Sequence: {}\r\n",
            self.stream,
            self.subject,
            self.seq,
            crate::api::time::format_time(self.time_ns),
            self.last
        );
        if headers_only {
            let _ = write!(h, "Nats-Msg-Size: {}\r\n", payload.len());
        }
        h.push_str("\r\n");
        crate::outbox::OutMsg {
            subject: to.clone(),
            to,
            reply: None,
            headers: Some(Bytes::from(h)),
            payload: if headers_only {
                Bytes::new()
            } else {
                payload.clone()
            },
        }
    }
}

/// How a rollup header asks to trim the stream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rollup {
    Subject,
    All,
}

impl Stream {
    /// Wraps a store (new or recovered); rebuilds the dedupe window and
    /// TTL deadlines from the stored messages.
    pub fn new(policy: Policy, store: Box<dyn Store>, now_ns: i64) -> Result<Self, StoreError> {
        let ack_none_releases = policy.interest_retention || policy.workqueue_retention;
        let mut s = Stream {
            ack_none_releases,
            limit_removals: Vec::new(),
            after_commit: Vec::new(),
            batches: crate::atomic_batch::AtomicBatches::default(),
            fast: crate::fast_batch::FastBatches::default(),
            schedules: crate::schedule::Schedules::default(),
            policy,
            store,
            dedupe: Dedupe::default(),
            last_msg_id: None,
            ttls: BinaryHeap::new(),
            consumers: std::collections::BTreeMap::new(),
            sourcing: None,
        };
        s.recover(now_ns)?;
        if s.policy.allow_msg_schedules {
            s.rebuild_schedules()?;
        }
        Ok(s)
    }

    fn recover(&mut self, now_ns: i64) -> Result<(), StoreError> {
        let state = self.store.state();
        let cutoff = now_ns - self.policy.duplicate_window_ns;
        // The window comes from the recorded ids, not from reading back
        // through the messages; an id counts only while its message is
        // still stored, as in the reference.
        let mut recent = Vec::new();
        let mut stale = Vec::new();
        for (id, seq, t) in self.store.msg_ids()? {
            if t >= cutoff && self.store.get(seq)?.is_some() {
                recent.push((seq, t, id));
            } else {
                stale.push(id);
            }
        }
        self.store.forget_msg_ids(&stale)?;
        recent.sort();
        for (seq, t, id) in recent {
            self.dedupe.insert(id, seq, t);
        }
        if let Some(last) = self.store.get(state.last_seq)? {
            self.last_msg_id = last
                .headers
                .as_deref()
                .and_then(|h| headers::get(h, "Nats-Msg-Id"))
                .map(str::to_string);
        }
        if self.policy.allow_msg_ttl {
            let mut seq = state.first_seq;
            while let Some(m) = self.store.next_matching(">", seq)? {
                if let Some(ttl) = m
                    .headers
                    .as_deref()
                    .and_then(|h| headers::get(h, "Nats-TTL"))
                {
                    if let Ok(Some(ns)) = parse_ttl(ttl) {
                        self.ttls.push(Reverse((m.time_ns + ns, m.seq)));
                    }
                }
                seq = m.seq + 1;
            }
        }
        Ok(())
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn set_policy(&mut self, policy: Policy) {
        if !policy.allow_atomic {
            self.batches.clear();
        }
        let schedules_on = policy.allow_msg_schedules && !self.policy.allow_msg_schedules;
        self.policy = policy;
        // Turned on: the schedules already stored start.
        if schedules_on {
            if let Err(e) = self.rebuild_schedules() {
                tracing::warn!("JetStream stream '{}': {e}", self.policy.name);
            }
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn store_mut(&mut self) -> &mut dyn Store {
        self.store.as_mut()
    }

    /// Stores one published message, or says why not (a message of an
    /// atomic batch is staged until its commit).
    pub fn publish(&mut self, msg: &Inbound, now_ns: i64) -> Result<Stored, PublishError> {
        if let Some(fast) = msg.reply.as_deref().and_then(crate::fast_batch::parse) {
            return self.publish_fast(msg, fast, now_ns);
        }
        if let Some(id) = crate::atomic_batch::batch_id(msg.headers.as_deref()) {
            let id = id.to_string();
            return self.publish_batched(msg, &id, now_ns);
        }
        self.publish_as(msg, now_ns, Provenance::Client)
    }

    /// Whether `id` was published within the duplicate window.
    pub(crate) fn has_msg_id(&self, id: &str) -> bool {
        self.dedupe.get(id).is_some()
    }

    /// Stores a mirror's or source's copy and tells the consumers.
    pub(crate) fn publish_copy(
        &mut self,
        msg: &Inbound,
        provenance: Provenance,
    ) -> Result<(), PublishError> {
        let before = self.store.state().msgs;
        let stored = self.publish_as(msg, crate::outbox::now_ns(), provenance)?;
        if !stored.duplicate {
            self.after_publish(stored.seq, &msg.subject, before, stored.rolled_up.as_ref());
        }
        Ok(())
    }

    pub(crate) fn publish_as(
        &mut self,
        msg: &Inbound,
        now_ns: i64,
        provenance: Provenance,
    ) -> Result<Stored, PublishError> {
        let copy = provenance.is_copy();
        let mapped = self
            .policy
            .subject_transform
            .as_ref()
            .filter(|_| !copy)
            .and_then(|t| t.apply(&msg.subject));
        let subject = mapped.as_deref().unwrap_or(&msg.subject);
        let p = &self.policy;
        if p.sealed {
            return Err(ApiError::stream_sealed().into());
        }
        let hdrs = msg.headers.as_deref();
        let header = |key| hdrs.and_then(|h| headers::get(h, key));
        let incr = if copy {
            None
        } else {
            self.check_incr(&header, &msg.payload)?
        };
        let p = &self.policy;
        if let Some(expected) = header("Nats-Expected-Stream") {
            if expected != p.name {
                return Err(ApiError::stream_not_match().into());
            }
        }
        // The reference's order: a TTL the stream does not allow, the
        // expected sequences, then the duplicate check, then the expected
        // last id (a duplicate with a wrong expected sequence is refused).
        if let Some(v) = header("Nats-TTL").filter(|_| !copy) {
            if !p.allow_msg_ttl && parse_ttl(v).is_ok_and(|ttl| ttl.is_some()) {
                return Err(ApiError::ttl_disabled().into());
            }
        }
        self.check_sequences(&header, subject)?;
        let schedule_rollup = if copy {
            false
        } else {
            self.check_schedule(&header, hdrs, subject)?
        };
        let p = &self.policy;
        let expired = self.dedupe.expire(now_ns - p.duplicate_window_ns);
        self.store.forget_msg_ids(&expired)?;
        let msg_id = header("Nats-Msg-Id").filter(|id| !id.is_empty());
        if let Some(seq) = msg_id.and_then(|id| self.dedupe.get(id)) {
            return Ok(Stored {
                seq,
                duplicate: true,
                rolled_up: None,
                val: None,
                batch: None,
            });
        }
        self.check_last_msg_id(&header)?;
        // A schedule replaces the one before it on its subject.
        let rollup = if schedule_rollup {
            Some(Rollup::Subject)
        } else {
            self.check_rollup(header("Nats-Rollup"))?
        };
        let mut ttl_ns = self.check_ttl(header("Nats-TTL"))?;
        // A counter: the subject's new total is what is stored.
        let total = match incr {
            Some(incr) => Some(self.counter_total(subject, &incr)?),
            None if self.policy.allow_msg_counter && !copy => {
                return Err(ApiError::from(crate::error::MESSAGE_INCR_MISSING).into())
            }
            None => None,
        };
        let payload = match &total {
            Some(t) => Bytes::from(crate::counter::body_of(t)),
            None => msg.payload.clone(),
        };
        let mut stored_headers = msg.headers.clone();
        if schedule_rollup {
            let mut h = headers::HeaderBlock::from_existing(hdrs);
            h.add("Nats-Rollup", "sub");
            stored_headers = Some(Bytes::from(h.finish()));
        }
        if let Some(floor) = self.policy.min_msg_ttl_ns() {
            if ttl_ns.is_some_and(|ns| ns < floor) {
                // As the reference: the TTL is raised to the marker TTL
                // and the stored header says so (moved to the end).
                let mut h = headers::HeaderBlock::without(hdrs, "Nats-TTL");
                h.add("Nats-TTL", floor / NANOS_PER_SEC);
                stored_headers = Some(Bytes::from(h.finish()));
                ttl_ns = Some(floor);
            }
        }
        let hdrs = stored_headers.as_deref();
        let size = self.store.size_of(subject, hdrs, &payload);
        let p = &self.policy;
        let body_len = hdrs.map_or(0, <[u8]>::len) + payload.len();
        if p.max_msg_size > 0 && body_len as i64 > p.max_msg_size {
            return Err(ApiError::message_too_large().into());
        }
        // An interest stream without interest in the subject counts the
        // message in the sequence but keeps nothing: the reference skips it
        // before its store's discard-new checks and limits, and a rollup
        // purges with nothing kept.
        let no_interest =
            p.interest_retention && !self.consumers.values().any(|c| c.matches_subject(subject));
        if p.discard_new && !no_interest {
            self.check_discard_new(subject, size, rollup.is_some())?;
        }
        // RePublish: where to, and the subject's last sequence before
        // this one (gap detection for lightweight clients).
        let republish = self
            .policy
            .republish
            .as_ref()
            .and_then(|(t, headers_only)| {
                let to = t.apply(subject)?;
                let last = self
                    .store
                    .subject_state(subject)
                    .map_or(0, |ss| ss.last_seq);
                Some((to, last, *headers_only))
            });
        let republish_headers = republish.as_ref().map(|_| stored_headers.clone());
        let schedule_headers = self
            .policy
            .allow_msg_schedules
            .then(|| stored_headers.clone())
            .flatten();
        let time_ns = match provenance {
            Provenance::Mirror { time_ns } => time_ns,
            _ => now_ns,
        };
        let seq = self
            .store
            .append(subject, stored_headers, payload.clone(), time_ns)?;
        let rolled_up = if no_interest {
            self.store.remove(seq)?;
            match rollup {
                Some(Rollup::Subject) => Some(self.roll_up(subject, None)?),
                Some(Rollup::All) => Some(self.roll_up("", None)?),
                None => None,
            }
        } else {
            // Limits first, as the reference applies them when it stores
            // the message; the rollup's purge comes after (so a stream at
            // max_msgs loses its oldest message and the rolled-up ones).
            // A pending message the limits take is reported to its consumer
            // one by one, after a rollup's purge has moved it (see
            // `after_purge`): ack activity all the same.
            let gone_before: Vec<bool> = if rollup.is_some() {
                let store = self.store.as_ref();
                self.consumers
                    .values()
                    .map(|c| c.has_gone_pending(store))
                    .collect()
            } else {
                Vec::new()
            };
            self.enforce_limits(subject)?;
            if rollup.is_some() {
                let store = self.store.as_ref();
                for (c, before) in self.consumers.values_mut().zip(gone_before) {
                    if !before && c.has_gone_pending(store) {
                        c.note_ack_activity(now_ns);
                    }
                }
            }
            match rollup {
                Some(Rollup::Subject) => Some(self.roll_up(subject, Some(seq))?),
                Some(Rollup::All) => Some(self.roll_up("", Some(seq))?),
                None => None,
            }
        };
        if let Some(id) = msg_id {
            self.dedupe.insert(id.to_string(), seq, now_ns);
            self.store.record_msg_id(id, seq, now_ns)?;
        }
        // Expected-Last-Msg-Id compares with the newest stored message's
        // id, which is none when that message carried none.
        self.last_msg_id = msg_id.map(str::to_string);
        if let Some(ttl) = ttl_ns {
            self.ttls.push(Reverse((time_ns + ttl, seq)));
        }
        if self.policy.allow_msg_schedules {
            self.schedules
                .on_stored(seq, subject, schedule_headers.as_deref(), time_ns);
        }
        if let (Some((to, last, headers_only)), Some(headers)) = (republish, republish_headers) {
            let copy = RePublished {
                stream: &self.policy.name,
                subject,
                seq,
                time_ns,
                last,
            };
            self.after_commit
                .push(copy.message(to, headers.as_deref(), &payload, headers_only));
        }
        Ok(Stored {
            seq,
            duplicate: false,
            rolled_up,
            val: total.map(|t| t.to_string()),
            batch: None,
        })
    }

    /// `Nats-Incr`, checked as the reference checks it before anything
    /// else: an integer, on a counter stream, without a body, and not
    /// with headers that ask for conditions or a rollup.
    pub(crate) fn check_incr<'h>(
        &self,
        header: &impl Fn(&'static str) -> Option<&'h str>,
        payload: &[u8],
    ) -> Result<Option<crate::counter::BigInt>, ApiError> {
        use crate::error::{MESSAGE_INCR_DISABLED, MESSAGE_INCR_INVALID, MESSAGE_INCR_PAYLOAD};
        let Some(text) = header("Nats-Incr").filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let incr = crate::counter::BigInt::parse(text).ok_or(MESSAGE_INCR_INVALID)?;
        if !self.policy.allow_msg_counter {
            return Err(MESSAGE_INCR_DISABLED.into());
        }
        if !payload.is_empty() {
            return Err(MESSAGE_INCR_PAYLOAD.into());
        }
        let conflicting = [
            "Nats-Rollup",
            "Nats-Expected-Stream",
            "Nats-Expected-Last-Msg-Id",
            "Nats-Expected-Last-Subject-Sequence-Subject",
            "Nats-Expected-Last-Sequence",
            "Nats-Expected-Last-Subject-Sequence",
        ];
        if conflicting
            .iter()
            .any(|h| header(h).is_some_and(|v| !v.is_empty()))
        {
            return Err(MESSAGE_INCR_INVALID.into());
        }
        Ok(Some(incr))
    }

    /// The subject's total after `incr`: its last message's plus `incr`.
    fn counter_total(
        &self,
        subject: &str,
        incr: &crate::counter::BigInt,
    ) -> Result<crate::counter::BigInt, PublishError> {
        let last = match self.store.subject_state(subject) {
            Some(ss) => self.store.get(ss.last_seq)?,
            None => None,
        };
        let initial = match last {
            Some(m) => crate::counter::value_of(&m.payload)
                .ok_or_else(|| ApiError::from(crate::error::MESSAGE_COUNTER_BROKEN))?,
            None => crate::counter::BigInt::zero(),
        };
        Ok(initial.add(incr))
    }

    /// The RePublish copies since the last call (the batch is durable:
    /// they may go).
    pub(crate) fn take_after_commit(&mut self) -> Vec<crate::outbox::OutMsg> {
        std::mem::take(&mut self.after_commit)
    }

    /// The expected-sequence headers, per subject first, as the
    /// reference checks them.
    fn check_sequences<'h>(
        &self,
        header: &impl Fn(&'static str) -> Option<&'h str>,
        subject: &str,
    ) -> Result<(), ApiError> {
        let state = self.store.state();
        if let Some(v) = header("Nats-Expected-Last-Subject-Sequence") {
            let filter = header("Nats-Expected-Last-Subject-Sequence-Subject").unwrap_or(subject);
            let last = self.last_seq_for(filter);
            if v.parse::<u64>().ok() != Some(last) {
                return Err(ApiError::wrong_last_sequence(last));
            }
        }
        if let Some(v) = header("Nats-Expected-Last-Sequence") {
            if v.parse::<u64>().ok() != Some(state.last_seq) {
                return Err(ApiError::wrong_last_sequence(state.last_seq));
            }
        }
        Ok(())
    }

    fn check_last_msg_id<'h>(
        &self,
        header: &impl Fn(&'static str) -> Option<&'h str>,
    ) -> Result<(), ApiError> {
        if let Some(v) = header("Nats-Expected-Last-Msg-Id") {
            let last = self.last_msg_id.as_deref().unwrap_or("");
            if v != last {
                return Err(ApiError::wrong_last_msg_id(last));
            }
        }
        Ok(())
    }

    /// The last sequence stored for a subject (wildcards allowed), 0 if none.
    fn last_seq_for(&self, filter: &str) -> u64 {
        self.store
            .subjects_matching(filter)
            .iter()
            .map(|(_, s)| s.last_seq)
            .max()
            .unwrap_or(0)
    }

    /// A rollup's purge: of `filter` ("" for all, which the file store
    /// does in place as it keeps one) below `below` (all of it when the
    /// new message itself went).
    fn roll_up(&mut self, filter: &str, below: Option<u64>) -> Result<Purged, StoreError> {
        self.purge_reported(filter, below, None, filter.is_empty())
    }

    /// Purges `filter` ("" for all) below `below`, keeping `keep`, and
    /// notes what the consumers are to hear of it.
    pub fn purge_reported(
        &mut self,
        filter: &str,
        below: Option<u64>,
        keep: Option<u64>,
        in_place: bool,
    ) -> Result<Purged, StoreError> {
        let first_seq = self.store.state().first_seq;
        let matching = if filter.is_empty() { ">" } else { filter };
        let took = self
            .store
            .next_matching(matching, first_seq)?
            .map(|m| (m.seq, m.subject))
            .filter(|(seq, _)| below.is_none_or(|b| *seq < b));
        let one_by_one = !filter.is_empty()
            && filter != ">"
            && self.store.is_memory()
            && self.consumers.values().any(|c| c.keeps_lps_count());
        let candidates = if one_by_one {
            self.store
                .scan(matching, first_seq, usize::MAX)?
                .into_iter()
                .filter(|m| below.is_none_or(|b| m.seq < b))
                .map(|m| (m.seq, m.subject))
                .collect()
        } else {
            Vec::new()
        };
        let store_filter = Some(filter).filter(|f| !f.is_empty() && *f != ">");
        let purged = self.store.purge(store_filter, below, keep)?;
        let store = self.store.as_ref();
        let removed = candidates
            .into_iter()
            .filter(|(seq, _)| !store.contains(*seq))
            .collect();
        Ok(Purged {
            filter: filter.to_string(),
            purged,
            in_place,
            took,
            removed,
        })
    }

    pub(crate) fn check_rollup(&self, value: Option<&str>) -> Result<Option<Rollup>, ApiError> {
        let Some(v) = value else {
            return Ok(None);
        };
        if !self.policy.allow_rollup {
            return Err(ApiError::rollup_not_permitted());
        }
        match v {
            "sub" => Ok(Some(Rollup::Subject)),
            "all" => Ok(Some(Rollup::All)),
            _ => Err(ApiError::rollup_invalid(v)),
        }
    }

    fn check_ttl(&self, value: Option<&str>) -> Result<Option<i64>, ApiError> {
        let Some(v) = value else {
            return Ok(None);
        };
        if !self.policy.allow_msg_ttl {
            return Err(ApiError::ttl_disabled());
        }
        parse_ttl(v).map_err(|InvalidTtl| ApiError::ttl_invalid())
    }

    /// Discard new, as the reference's stores check it: the per-subject
    /// limit first (a rollup passes, it restores the limit itself); a
    /// subject at its limit gives up its oldest message, so neither
    /// max_msgs nor (when that message is at least as big) max_bytes
    /// refuses it.
    fn check_discard_new(&self, subject: &str, size: u64, rollup: bool) -> Result<(), ApiError> {
        let p = &self.policy;
        let state = self.store.state();
        let subject_state = self.store.subject_state(subject);
        let at_subject_limit = p.max_msgs_per_subject > 0
            && subject_state.as_ref().map_or(0, |s| s.msgs) >= p.max_msgs_per_subject as u64;
        if at_subject_limit && p.discard_new_per_subject && !rollup {
            return Err(ApiError::store_failed(
                crate::error::MAX_MSGS_PER_SUBJECT_EXCEEDED,
            ));
        }
        if p.max_msgs > 0 && state.msgs >= p.max_msgs as u64 && !at_subject_limit {
            return Err(ApiError::store_failed(crate::error::MAX_MSGS_EXCEEDED));
        }
        if p.max_bytes > 0 && state.bytes + size > p.max_bytes as u64 {
            let replaced = match subject_state.filter(|_| at_subject_limit) {
                Some(ss) => self
                    .store
                    .get(ss.first_seq)
                    .map_err(|e| ApiError::store_failed(e.to_string()))?,
                None => None,
            };
            let room = replaced.is_some_and(|m| {
                self.store
                    .size_of(&m.subject, m.headers.as_deref(), &m.payload)
                    >= size
            });
            if !room {
                return Err(ApiError::store_failed(crate::error::MAX_BYTES_EXCEEDED));
            }
        }
        Ok(())
    }

    /// Applies lowered limits at once (after a config update), oldest
    /// first, as the reference trims on update. With discard new it keeps
    /// what is stored over lowered max_msgs/max_bytes (an object store
    /// shrunk below its size keeps its objects); new messages are refused
    /// until there is room.
    /// After an update: `old_per_subject` is the per-subject limit the
    /// stream had before it.
    pub fn trim_to_limits(&mut self, old_per_subject: i64) -> Result<(), StoreError> {
        // As the reference (2.14): a per-subject limit lowered from a
        // positive value, or set where it was 0, trims whatever the
        // discard policy (one set where it was -1, unlimited, applies at
        // each subject's next message); the stream-wide limits trim only
        // with discard old.
        // The stream-wide limits first, then the per-subject one, in the
        // reference's order.
        if !self.policy.discard_new {
            self.enforce_limits("")?;
        }
        let per = self.policy.max_msgs_per_subject;
        if per > 0 && (old_per_subject == 0 || per < old_per_subject) {
            let over: Vec<String> = self
                .store
                .subjects_matching(">")
                .into_iter()
                .filter(|(_, s)| s.msgs > per as u64)
                .map(|(subject, _)| subject)
                .collect();
            for subject in over {
                self.trim_subject(&subject, per as u64)?;
            }
        }
        self.store.commit()
    }

    /// Removes a subject's oldest messages down to `keep`.
    fn trim_subject(&mut self, subject: &str, keep: u64) -> Result<(), StoreError> {
        while let Some(s) = self.store.subject_state(subject) {
            if s.msgs <= keep {
                break;
            }
            self.store.remove(s.first_seq)?;
            self.limit_removals.push((s.first_seq, subject.to_string()));
        }
        Ok(())
    }

    /// Discard-old limits after a write: oldest first.
    fn enforce_limits(&mut self, subject: &str) -> Result<(), StoreError> {
        let p = self.policy.clone();
        if p.max_msgs_per_subject > 0 && !subject.is_empty() {
            self.trim_subject(subject, p.max_msgs_per_subject as u64)?;
        }
        // With discard new the limits refused what would not fit; what a
        // subject's rollup or per-subject limit let in over them stays, as
        // the reference's stores trim for discard old only.
        if p.discard_new {
            return Ok(());
        }
        loop {
            let state = self.store.state();
            let over_msgs = p.max_msgs > 0 && state.msgs > p.max_msgs as u64;
            let over_bytes = p.max_bytes > 0 && state.bytes > p.max_bytes as u64;
            if !(over_msgs || over_bytes) || state.msgs == 0 {
                return Ok(());
            }
            self.remove_first()?;
        }
    }

    fn remove_first(&mut self) -> Result<(), StoreError> {
        let first = self.store.state().first_seq;
        if let Some(m) = self.store.next_matching(">", first)? {
            self.store.remove(m.seq)?;
            self.limit_removals.push((m.seq, m.subject));
        }
        Ok(())
    }

    /// Removes what max_age and per-message TTLs say has expired; returns
    /// how many were removed.
    pub fn expire(&mut self, now_ns: i64) -> Result<u64, StoreError> {
        let mut removed = 0;
        if self.policy.max_age_ns > 0 {
            let cutoff = now_ns - self.policy.max_age_ns;
            loop {
                let state = self.store.state();
                if state.msgs == 0 {
                    break;
                }
                let Some(m) = self.store.next_matching(">", state.first_seq)? else {
                    break;
                };
                if m.time_ns > cutoff {
                    break;
                }
                self.store.remove(m.seq)?;
                removed += 1;
                // A marker that ages out leaves nothing behind.
                if !is_marker(&m) && self.store.subject_state(&m.subject).is_none() {
                    self.place_delete_marker(&m.subject, now_ns)?;
                }
            }
        }
        while let Some(Reverse((at, seq))) = self.ttls.peek().copied() {
            if at > now_ns {
                break;
            }
            self.ttls.pop();
            let Some(m) = self.store.get(seq)? else {
                continue;
            };
            self.store.remove(seq)?;
            removed += 1;
            if !is_marker(&m) && self.store.subject_state(&m.subject).is_none() {
                self.place_delete_marker(&m.subject, now_ns)?;
            }
        }
        Ok(removed)
    }

    /// The marker the reference leaves when max_age removed a subject's
    /// last message: an empty message saying why, which expires itself.
    fn place_delete_marker(&mut self, subject: &str, now_ns: i64) -> Result<(), StoreError> {
        let ttl = self.policy.subject_delete_marker_ttl_ns;
        if ttl <= 0 {
            return Ok(());
        }
        let mut h = headers::HeaderBlock::new();
        h.add("Nats-Marker-Reason", "MaxAge")
            .add("Nats-TTL", crate::duration::format_go_duration(ttl))
            .add("Nats-Rollup", "sub");
        let seq =
            self.store
                .append(subject, Some(Bytes::from(h.finish())), Bytes::new(), now_ns)?;
        self.ttls.push(Reverse((now_ns + ttl, seq)));
        Ok(())
    }

    /// When `expire` next has work, if ever.
    pub fn next_expiry_ns(&self) -> Option<i64> {
        let age = (self.policy.max_age_ns > 0 && self.store.state().msgs > 0)
            .then(|| self.store.state().first_ts + self.policy.max_age_ns);
        let ttl = self.ttls.peek().map(|Reverse((at, _))| *at);
        match (age, ttl) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        }
    }
}

/// Whether `m` is a delete marker the stream placed itself.
fn is_marker(m: &StoredMsg) -> bool {
    m.headers
        .as_deref()
        .is_some_and(|h| headers::get(h, "Nats-Marker-Reason").is_some())
}

/// A `Nats-TTL` value: `never`, a Go duration or whole seconds; under one
/// second (or zero) is invalid. `Ok(None)` = never expires.
pub fn parse_ttl(v: &str) -> Result<Option<i64>, InvalidTtl> {
    if v.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    let ns = match v.parse::<i64>() {
        Ok(secs) => secs.checked_mul(NANOS_PER_SEC).ok_or(InvalidTtl)?,
        Err(_) => crate::duration::parse_go_duration(v).ok_or(InvalidTtl)?,
    };
    if ns < NANOS_PER_SEC {
        return Err(InvalidTtl);
    }
    Ok(Some(ns))
}

/// A `Nats-TTL` header that is not a valid TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidTtl;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    const SEC: i64 = NANOS_PER_SEC;

    fn policy() -> Policy {
        Policy {
            name: "M".into(),
            max_msgs: -1,
            max_bytes: -1,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            max_age_ns: SEC,
            discard_new: false,
            discard_new_per_subject: false,
            duplicate_window_ns: SEC,
            allow_rollup: false,
            sealed: false,
            allow_msg_ttl: true,
            subject_delete_marker_ttl_ns: SEC,
            interest_retention: false,
            workqueue_retention: false,
            subject_transform: None,
            republish: None,
            allow_msg_counter: false,
            allow_atomic: false,
            allow_batched: false,
            allow_msg_schedules: false,
            subjects: Vec::new(),
        }
    }

    fn publish(s: &mut Stream, subject: &str, now: i64) -> u64 {
        let msg = Inbound {
            subject: subject.into(),
            reply: None,
            headers: None,
            payload: Bytes::from_static(b"x"),
        };
        s.publish(&msg, now).expect("publish").seq
    }

    #[test]
    fn max_age_leaves_markers_that_age_out_without_markers() {
        let mut s = Stream::new(policy(), Box::new(MemStore::new()), 0).expect("stream");
        publish(&mut s, "m.a", 0);
        publish(&mut s, "m.b", 0);
        publish(&mut s, "m.a", 0);
        assert_eq!(s.expire(SEC * 3 / 2).expect("expire"), 3);
        let st = s.store().state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 4, 5));
        let marker = s.store().get(5).expect("get").expect("marker");
        assert_eq!(marker.subject, "m.a");
        assert_eq!(
            marker.headers.as_deref(),
            Some(&b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 1s\r\nNats-Rollup: sub\r\n\r\n"[..])
        );
        assert!(marker.payload.is_empty());
        s.expire(SEC * 3).expect("expire markers");
        let st = s.store().state();
        assert_eq!((st.msgs, st.last_seq), (0, 5), "markers leave no markers");
    }

    fn publish_ttl(s: &mut Stream, subject: &str, ttl: &str, now: i64) -> u64 {
        let mut h = headers::HeaderBlock::new();
        h.add("Nats-TTL", ttl).add("Other", "kept");
        let msg = Inbound {
            subject: subject.into(),
            reply: None,
            headers: Some(Bytes::from(h.finish())),
            payload: Bytes::from_static(b"x"),
        };
        s.publish(&msg, now).expect("publish").seq
    }

    #[test]
    fn ttl_expiry_of_a_subjects_last_message_leaves_a_marker() {
        let mut p = policy();
        p.max_age_ns = 0;
        p.subject_delete_marker_ttl_ns = 2 * SEC;
        p.max_msgs_per_subject = 1;
        let mut s = Stream::new(p, Box::new(MemStore::new()), 0).expect("stream");
        publish_ttl(&mut s, "t.a", "1", 0);
        publish(&mut s, "t.b", 0);
        assert_eq!(s.next_expiry_ns(), Some(SEC), "history 1: TTL not raised");
        assert_eq!(s.expire(SEC).expect("expire"), 1);
        let marker = s.store().get(3).expect("get").expect("marker");
        assert_eq!(marker.subject, "t.a");
        assert_eq!(
            marker.headers.as_deref(),
            Some(&b"NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: 2s\r\nNats-Rollup: sub\r\n\r\n"[..])
        );
        assert_eq!(s.next_expiry_ns(), Some(3 * SEC));
        assert_eq!(s.expire(3 * SEC).expect("expire marker"), 1);
        let st = s.store().state();
        assert_eq!((st.msgs, st.last_seq), (1, 3), "a marker leaves no marker");
    }

    #[test]
    fn ttl_below_the_marker_ttl_is_raised_when_history_is_kept() {
        let mut p = policy();
        p.max_age_ns = 0;
        p.subject_delete_marker_ttl_ns = 3 * SEC;
        p.max_msgs_per_subject = 5;
        let mut s = Stream::new(p, Box::new(MemStore::new()), 0).expect("stream");
        publish_ttl(&mut s, "t.a", "1", 0);
        publish_ttl(&mut s, "t.b", "10s", 0);
        let raised = s.store().get(1).expect("get").expect("t.a");
        assert_eq!(
            raised.headers.as_deref(),
            Some(&b"NATS/1.0\r\nOther: kept\r\nNats-TTL: 3\r\n\r\n"[..])
        );
        let kept = s.store().get(2).expect("get").expect("t.b");
        assert_eq!(
            headers::get(kept.headers.as_deref().unwrap_or_default(), "Nats-TTL"),
            Some("10s")
        );
        assert_eq!(s.next_expiry_ns(), Some(3 * SEC));
    }

    #[test]
    fn interest_stream_without_consumers_keeps_nothing() {
        let mut p = policy();
        p.interest_retention = true;
        let mut s = Stream::new(p, Box::new(MemStore::new()), 0).expect("stream");
        assert_eq!(publish(&mut s, "a", 0), 1);
        assert_eq!(publish(&mut s, "a", 0), 2);
        let st = s.store().state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 3, 2));
    }

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl("never"), Ok(None));
        assert_eq!(parse_ttl("5"), Ok(Some(5 * SEC)));
        assert_eq!(parse_ttl("1m"), Ok(Some(60 * SEC)));
        assert_eq!(parse_ttl("500ms"), Err(InvalidTtl));
        assert_eq!(parse_ttl("0"), Err(InvalidTtl));
        assert_eq!(parse_ttl("junk"), Err(InvalidTtl));
    }
}
