//! Mirrors and sources: a stream that copies another stream's messages
//! (its origin) does it as the reference does, through the JetStream API,
//! so the origin may be local, in another account or behind another
//! domain's API prefix. For each origin it asks for a push consumer
//! (`direct`, `sourcing`, ack none, flow control, a heartbeat a second)
//! delivering to a subject only this stream captures, and stores what
//! arrives on the stream's own shard:
//!
//! - a mirror stores each message at the origin's sequence with the
//!   origin's time, skipping the sequences the origin no longer has;
//! - a source stores it as a new message with a `Nats-Stream-Source`
//!   header saying which origin sequence it copies, which is where a
//!   restart resumes (the stored copies are read back from the newest).
//!
//! A gap in the deliveries, a heartbeat that says one was missed, ten
//! seconds without a word, a create request without an answer for thirty,
//! or a copy the stream refuses: the consumer is given up (and asked to
//! go), and a new one is asked for from where the stream stands, after
//! the reference's back-off.

pub(crate) mod wire;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use crate::api::stream::{StreamConfig, StreamSource};
use crate::error::ApiError;
use crate::headers;
use crate::outbox::OutMsg;
use crate::transform::SubjectTransform;

pub(crate) const NANOS: i64 = 1_000_000_000;
/// The origin consumer's heartbeat.
const HEARTBEAT_NS: i64 = NANOS;
/// Silence longer than this means the consumer is gone (the reference's
/// health check interval; also the consumer's inactive threshold).
pub(crate) const STALLED_NS: i64 = 10 * NANOS;
/// How long a create request may go unanswered.
pub(crate) const CREATE_WAIT_NS: i64 = 30 * NANOS;
/// Requests for one origin at most this often.
const RETRY_THRESHOLD_NS: i64 = 2 * NANOS;
/// Back-off: 10 s per failure so far, at most two minutes.
const BACKOFF_STEP_NS: i64 = 10 * NANOS;
const BACKOFF_MAX_NS: i64 = 120 * NANOS;
/// Stale consumers remembered as told to go.
const STALE_KEPT: usize = 64;

/// The token in this stream's deliver and reply subjects: the same for
/// the registry (which captures them) and the stream (which uses them),
/// different in every process, so a restarted server never takes a
/// delivery meant for the one before.
pub(crate) fn token_for(account: &str, stream: &str) -> String {
    static NONCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(wire::random_token);
    wire::hash(&format!("{nonce} {account} {stream}"))
}

/// The subjects a stream with a mirror or sources must capture, each
/// handed to the stream with the message (`StreamInbox::offer_sourced`):
/// per origin, where its consumer delivers and where its create reply
/// comes. One subject per origin for all its consumers: a consumer given
/// up that still delivers is told by its name (in the ack subject) and
/// asked to go.
pub(crate) fn capture_subjects(config: &StreamConfig, token: &str) -> Vec<String> {
    let mirror = config.mirror.is_some();
    config
        .mirror
        .iter()
        .chain(config.sources.iter())
        .flat_map(|src| {
            let key = wire::hash(&wire::index_name(src));
            // A durable consumer delivers where it was made to.
            let deliver = match durable(src) {
                Some((_, subject)) => subject.to_string(),
                None => format!("{}.{token}.{key}", deliver_prefix(src, mirror)),
            };
            [deliver, format!("$JSC.R.{token}.{key}")]
        })
        .collect()
}

/// A durable consumer on the origin to read through (2.14): its name
/// and deliver subject.
fn durable(src: &StreamSource) -> Option<(&str, &str)> {
    src.consumer
        .as_ref()
        .filter(|c| !c.name.is_empty() && !c.deliver_subject.is_empty())
        .map(|c| (c.name.as_str(), c.deliver_subject.as_str()))
}

/// `$JS.M`/`$JS.S`, or the external deliver prefix's `.M`/`.S`.
fn deliver_prefix(src: &StreamSource, mirror: bool) -> String {
    let kind = if mirror { "M" } else { "S" };
    match src.external.as_ref().filter(|e| !e.deliver.is_empty()) {
        Some(e) => format!("{}.{kind}", e.deliver).replace("..", "."),
        None => format!("$JS.{kind}"),
    }
}

/// One origin and how far the stream has copied it.
pub(crate) struct Origin {
    pub(crate) src: StreamSource,
    pub(crate) iname: String,
    /// The last token of its deliver and reply subjects.
    pub(crate) key: String,
    /// `subject_transforms`, compiled (`None` for one that only filters).
    pub(crate) transforms: Vec<Option<SubjectTransform>>,
    /// The last origin sequence copied and the consumer sequence it came
    /// with.
    pub(crate) sseq: u64,
    pub(crate) dseq: u64,
    pub(crate) lag: u64,
    /// When anything last came from the origin (0: never).
    pub(crate) heard_ns: i64,
    /// The consumer delivering now ("" while there is none).
    pub(crate) cname: String,
    /// Whether a consumer is asked for or delivering.
    pub(crate) engaged: bool,
    /// A create request sent and not answered yet, since then.
    pub(crate) asked_ns: Option<i64>,
    pub(crate) last_request_ns: i64,
    pub(crate) retry_at_ns: Option<i64>,
    pub(crate) fails: u32,
    pub(crate) err: Option<ApiError>,
    /// Deliveries that came before the create reply naming their
    /// consumer (both travel separately): handled once it comes.
    pub(crate) early: Vec<EarlyMsg>,
    /// The stream already held messages when this source was added
    /// (recovered, or added by an update): with no copy of it found, it
    /// starts after the stream's last message time, as the reference's.
    pub(crate) joined_late: bool,
}

/// A delivery kept until its consumer's create reply comes.
pub(crate) struct EarlyMsg {
    pub(crate) subject: String,
    pub(crate) reply: Option<String>,
    pub(crate) headers: Option<Bytes>,
    pub(crate) payload: Bytes,
}

/// Early deliveries kept at most (flow control keeps far fewer in
/// flight); past this they are dropped, and the gap is asked for again.
pub(crate) const EARLY_KEPT: usize = 10_000;

impl Origin {
    /// Whether it reads through a durable consumer of the user's.
    pub(crate) fn is_durable(&self) -> bool {
        durable(&self.src).is_some()
    }

    fn new(src: &StreamSource) -> Origin {
        let transforms = src
            .subject_transforms
            .iter()
            .map(|t| {
                (!t.dest.is_empty())
                    .then(|| SubjectTransform::new(&t.src, &t.dest).ok())
                    .flatten()
            })
            .collect();
        Origin {
            src: src.clone(),
            iname: wire::index_name(src),
            key: wire::hash(&wire::index_name(src)),
            transforms,
            sseq: 0,
            dseq: 0,
            lag: 0,
            heard_ns: 0,
            cname: String::new(),
            engaged: false,
            asked_ns: None,
            last_request_ns: 0,
            retry_at_ns: None,
            fails: 0,
            err: None,
            early: Vec::new(),
            joined_late: false,
        }
    }

    /// The subject a copy is stored under: the first transform that maps
    /// it, or the origin's.
    pub(crate) fn map_subject(&self, subject: &str) -> Option<String> {
        self.transforms
            .iter()
            .flatten()
            .find_map(|t| t.apply(subject))
    }

    fn api_subject(&self, rest: &str) -> String {
        let subject = format!("$JS.API.{rest}");
        match self.src.external.as_ref().filter(|e| !e.api.is_empty()) {
            Some(e) => subject.replacen("$JS.API", &e.api, 1).replace("..", "."),
            None => subject,
        }
    }

    /// The filters the origin's consumer takes.
    fn filters(&self) -> Vec<String> {
        if !self.src.filter_subject.is_empty() {
            return vec![self.src.filter_subject.clone()];
        }
        self.src
            .subject_transforms
            .iter()
            .map(|t| t.src.clone())
            .collect()
    }
}

/// A stream's mirror or sources, on its shard.
pub(crate) struct Sourcing {
    pub(crate) token: String,
    pub(crate) stream: String,
    pub(crate) account: String,
    pub(crate) mirror: bool,
    pub(crate) origins: Vec<Origin>,
    /// Stale consumers already asked to go.
    pub(crate) told_to_go: HashSet<String>,
    /// Sources whose resume point is still to be read from the store.
    pub(crate) unresolved: bool,
}

impl Sourcing {
    /// The mirror or sources of `config`; `None` for a stream with
    /// neither.
    /// `holds_msgs`: the stream has messages already (recovered).
    pub(crate) fn new(
        config: &StreamConfig,
        account: &str,
        now: i64,
        holds_msgs: bool,
    ) -> Option<Sourcing> {
        let mirror = config.mirror.is_some();
        let origins: Vec<Origin> = config
            .mirror
            .iter()
            .chain(config.sources.iter())
            .map(|src| Origin {
                joined_late: holds_msgs,
                ..Origin::new(src)
            })
            .collect();
        if origins.is_empty() {
            return None;
        }
        let mut s = Sourcing {
            token: token_for(account, &config.name),
            stream: config.name.clone(),
            account: account.to_string(),
            mirror,
            origins,
            told_to_go: HashSet::new(),
            unresolved: !mirror,
        };
        for i in 0..s.origins.len() {
            s.schedule(i, now);
        }
        Some(s)
    }

    /// Takes a new config's sources: those kept keep their progress, new
    /// ones start, removed ones' consumers are asked to go.
    pub(crate) fn update(
        &mut self,
        config: &StreamConfig,
        now: i64,
        holds_msgs: bool,
        out: &mut Vec<OutMsg>,
    ) {
        let wanted: Vec<&StreamSource> =
            config.mirror.iter().chain(config.sources.iter()).collect();
        let mut kept = Vec::new();
        let old = std::mem::take(&mut self.origins);
        let mut old: HashMap<String, Origin> =
            old.into_iter().map(|o| (o.iname.clone(), o)).collect();
        for src in wanted {
            let iname = wire::index_name(src);
            match old.remove(&iname) {
                Some(o) => kept.push(o),
                None => {
                    let mut o = Origin::new(src);
                    o.joined_late = holds_msgs;
                    // A new source starts from its own configuration, or
                    // from where copies of it were left (a source
                    // removed and added back).
                    o.sseq = 0;
                    kept.push(o);
                    self.unresolved = !self.mirror;
                }
            }
        }
        for (_, o) in old {
            give_up(&o, out);
        }
        self.origins = kept;
        for i in 0..self.origins.len() {
            if !self.origins[i].engaged && self.origins[i].retry_at_ns.is_none() {
                self.schedule(i, now);
            }
        }
    }

    /// Starts every origin again from what the store holds (after the
    /// stream's writes failed and it went back to its last commit).
    pub(crate) fn restart(&mut self, now: i64, out: &mut Vec<OutMsg>) {
        for i in 0..self.origins.len() {
            self.cancel(i, out);
            self.origins[i].sseq = 0;
            self.schedule(i, now);
        }
        self.unresolved = !self.mirror;
    }

    /// Asks every origin's consumer to go (the stream is going away).
    pub(crate) fn stop(&mut self, out: &mut Vec<OutMsg>) {
        for i in 0..self.origins.len() {
            self.cancel(i, out);
            self.origins[i].retry_at_ns = None;
        }
    }

    /// When the shard must next look at the origins.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.origins
            .iter()
            .flat_map(|o| {
                let stall = (!o.cname.is_empty()).then_some(o.heard_ns + STALLED_NS);
                [o.retry_at_ns, o.asked_ns.map(|t| t + CREATE_WAIT_NS), stall]
            })
            .flatten()
            .min()
    }

    /// What `mirror`/`sources` in stream info report.
    pub(crate) fn info(&self, now: i64) -> Vec<crate::api::stream::StreamSourceInfo> {
        self.origins
            .iter()
            .map(|o| crate::api::stream::StreamSourceInfo {
                name: o.src.name.clone(),
                external: o.src.external.clone(),
                lag: o.lag,
                active: if o.heard_ns == 0 {
                    -1
                } else {
                    (now - o.heard_ns).max(0)
                },
                error: o.err.clone(),
                filter_subject: o.src.filter_subject.clone(),
                subject_transforms: o.src.subject_transforms.clone(),
            })
            .collect()
    }

    pub(crate) fn is_mirror(&self) -> bool {
        self.mirror
    }

    /// Sets the next request for origin `i`: at once the first time
    /// (after a little jitter), later after the threshold and back-off.
    pub(crate) fn schedule(&mut self, i: usize, now: i64) {
        let o = &mut self.origins[i];
        let jitter = 100_000_000 + i64::from(crate::transform::random_below(100)) * 1_000_000;
        let mut delay = jitter;
        if o.last_request_ns > 0 {
            delay += (RETRY_THRESHOLD_NS - (now - o.last_request_ns)).max(0);
            delay += (BACKOFF_STEP_NS * i64::from(o.fails)).min(BACKOFF_MAX_NS);
        }
        o.retry_at_ns = Some(now + delay);
    }

    /// Drops origin `i`'s consumer (asking it to go) and any request in
    /// flight.
    pub(crate) fn cancel(&mut self, i: usize, out: &mut Vec<OutMsg>) {
        give_up(&self.origins[i], out);
        let o = &mut self.origins[i];
        o.cname.clear();
        o.engaged = false;
        o.asked_ns = None;
        o.dseq = 0;
        o.early.clear();
    }

    /// Asks a consumer given up that still delivers to go.
    pub(crate) fn tell_stale_to_go(&mut self, i: usize, consumer: &str, out: &mut Vec<OutMsg>) {
        if self.told_to_go.contains(consumer) || durable(&self.origins[i].src).is_some() {
            return;
        }
        delete_consumer(&self.origins[i], consumer, out);
        if self.told_to_go.len() >= STALE_KEPT {
            self.told_to_go.clear();
        }
        self.told_to_go.insert(consumer.to_string());
    }

    /// The consumer name the reference gives: stable per stream (and per
    /// source when one stream is sourced twice).
    fn consumer_name(&self, i: usize) -> String {
        let stable = wire::hash(&format!("{} {}", self.stream, self.account));
        if self.mirror {
            return format!("JS_MIRROR_{stable}");
        }
        let o = &self.origins[i];
        let twice = self
            .origins
            .iter()
            .filter(|other| other.src.name == o.src.name)
            .count()
            > 1;
        let id = if twice {
            wire::hash(&format!("{stable} {}", o.iname))
        } else {
            wire::hash(&stable)
        };
        format!("JS_SRC_{id}")
    }

    /// Which origin a captured subject is for, and whether it is where
    /// create replies come.
    pub(crate) fn classify(&self, via: &str) -> Option<(bool, usize)> {
        if let Some(i) = self
            .origins
            .iter()
            .position(|o| durable(&o.src).is_some_and(|(_, d)| d == via))
        {
            return Some((false, i));
        }
        let mut parts = via.rsplitn(3, '.');
        let key = parts.next()?;
        if parts.next()? != self.token {
            return None;
        }
        let is_reply = parts.next()? == "$JSC.R";
        let i = self.origins.iter().position(|o| o.key == key)?;
        Some((is_reply, i))
    }

    /// The create request for origin `i`, starting after `start_seq`
    /// (the last origin sequence the stream holds; 0 for none).
    pub(crate) fn request(
        &mut self,
        i: usize,
        state: &crate::store::StoreState,
        now: i64,
    ) -> OutMsg {
        let name = self.consumer_name(i);
        let mirror = self.mirror;
        let o = &mut self.origins[i];
        o.engaged = true;
        o.asked_ns = Some(now);
        o.early.clear();
        o.last_request_ns = now;
        o.retry_at_ns = None;
        o.cname.clear();
        o.dseq = 0;
        if let Some((cname, _)) = durable(&o.src) {
            // A durable consumer is the user's: it is reset to its ack
            // floor, not created.
            let subject = o.api_subject(&format!("CONSUMER.RESET.{}.{cname}", o.src.name));
            return OutMsg {
                to: subject.clone(),
                subject,
                reply: Some(format!("$JSC.R.{}.{}", self.token, o.key)),
                headers: None,
                payload: Bytes::new(),
            };
        }
        let deliver = format!(
            "{}.{}.{}",
            deliver_prefix(&o.src, mirror),
            self.token,
            o.key
        );
        let mut config = serde_json::Map::new();
        let mut set = |k: &str, v: serde_json::Value| {
            config.insert(k.to_string(), v);
        };
        set("name", name.clone().into());
        set("deliver_subject", deliver.into());
        // Where to start: after what the stream holds, or as configured
        // when it holds nothing yet.
        let (policy, seq, time) = start_point(o, state, mirror);
        set("deliver_policy", policy.into());
        if let Some(seq) = seq {
            set("opt_start_seq", seq.into());
        }
        if let Some(t) = time {
            set("opt_start_time", crate::api::time::format_time(t).into());
        }
        set("ack_policy", "none".into());
        set("ack_wait", (22 * 3600 * NANOS).into());
        set("max_deliver", 1.into());
        let filters = o.filters();
        let single = filters.len() == 1 && !filters[0].is_empty();
        if single {
            set("filter_subject", filters[0].clone().into());
        } else if filters.len() > 1 {
            set("filter_subjects", filters.clone().into());
        }
        set("replay_policy", "instant".into());
        set("idle_heartbeat", HEARTBEAT_NS.into());
        set("flow_control", true.into());
        set("direct", true.into());
        set("sourcing", true.into());
        set("inactive_threshold", STALLED_NS.into());
        let (k_stream, k_acc) = if mirror {
            ("_nats.mirror.stream", "_nats.mirror.acc")
        } else {
            ("_nats.src.stream", "_nats.src.acc")
        };
        set(
            "metadata",
            serde_json::json!({ k_stream: self.stream, k_acc: self.account }),
        );
        let body = serde_json::json!({ "stream_name": o.src.name, "config": config });
        let subject = if single {
            o.api_subject(&format!(
                "CONSUMER.CREATE.{}.{name}.{}",
                o.src.name, filters[0]
            ))
        } else {
            o.api_subject(&format!("CONSUMER.CREATE.{}", o.src.name))
        };
        let mut h = headers::HeaderBlock::new();
        h.add("Nats-Required-Api-Level", 4);
        OutMsg {
            to: subject.clone(),
            subject,
            reply: Some(format!("$JSC.R.{}.{}", self.token, o.key)),
            headers: Some(Bytes::from(h.finish())),
            payload: Bytes::from(body.to_string()),
        }
    }
}

/// The deliver policy and start of a new consumer for `o`.
fn start_point(
    o: &Origin,
    state: &crate::store::StoreState,
    mirror: bool,
) -> (&'static str, Option<u64>, Option<i64>) {
    let fresh = if mirror {
        state.msgs == 0 && state.first_seq == 0
    } else {
        o.sseq == 0
    };
    if !fresh {
        let next = if mirror {
            state.last_seq + 1
        } else {
            o.sseq + 1
        };
        return ("by_start_sequence", Some(next), None);
    }
    if o.src.opt_start_seq > 0 {
        return ("by_start_sequence", Some(o.src.opt_start_seq), None);
    }
    if let Some(t) = o.src.opt_start_time {
        // A source does not go back before what the stream already holds.
        let t = if !mirror && state.last_ts != 0 && t < state.last_ts {
            state.last_ts
        } else {
            t
        };
        return ("by_start_time", None, Some(t));
    }
    if !mirror && o.joined_late && state.first_seq > 1 && state.last_ts != 0 {
        return ("by_start_time", None, Some(state.last_ts));
    }
    ("all", None, None)
}

/// Asks origin `o`'s current consumer to go (not a durable one: that is
/// the user's).
pub(crate) fn give_up(o: &Origin, out: &mut Vec<OutMsg>) {
    if !o.cname.is_empty() && durable(&o.src).is_none() {
        delete_consumer(o, &o.cname, out);
    }
}

/// A consumer delete request to the origin, unanswered (best effort: a
/// consumer that misses it stops on its own once nobody listens).
fn delete_consumer(o: &Origin, consumer: &str, out: &mut Vec<OutMsg>) {
    let delete = o.api_subject(&format!("CONSUMER.DELETE.{}.{consumer}", o.src.name));
    out.push(OutMsg {
        to: delete.clone(),
        subject: delete,
        reply: None,
        headers: None,
        payload: Bytes::new(),
    });
}
