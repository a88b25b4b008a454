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

mod wire;

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use crate::api::stream::{StreamConfig, StreamSource};
use crate::error::ApiError;
use crate::headers;
use crate::outbox::OutMsg;
use crate::stream::{Inbound, Provenance, PublishError, Stream};
use crate::transform::SubjectTransform;

const NANOS: i64 = 1_000_000_000;
/// The origin consumer's heartbeat.
const HEARTBEAT_NS: i64 = NANOS;
/// Silence longer than this means the consumer is gone (the reference's
/// health check interval; also the consumer's inactive threshold).
const STALLED_NS: i64 = 10 * NANOS;
/// How long a create request may go unanswered.
const CREATE_WAIT_NS: i64 = 30 * NANOS;
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
            [
                format!("{}.{token}.{key}", deliver_prefix(src, mirror)),
                format!("$JSC.R.{token}.{key}"),
            ]
        })
        .collect()
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
struct Origin {
    src: StreamSource,
    iname: String,
    /// The last token of its deliver and reply subjects.
    key: String,
    /// `subject_transforms`, compiled (`None` for one that only filters).
    transforms: Vec<Option<SubjectTransform>>,
    /// The last origin sequence copied and the consumer sequence it came
    /// with.
    sseq: u64,
    dseq: u64,
    lag: u64,
    /// When anything last came from the origin (0: never).
    heard_ns: i64,
    /// The consumer delivering now ("" while there is none).
    cname: String,
    /// Whether a consumer is asked for or delivering.
    engaged: bool,
    /// A create request sent and not answered yet, since then.
    asked_ns: Option<i64>,
    last_request_ns: i64,
    retry_at_ns: Option<i64>,
    fails: u32,
    err: Option<ApiError>,
}

impl Origin {
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
        }
    }

    /// The subject a copy is stored under: the first transform that maps
    /// it, or the origin's.
    fn map_subject(&self, subject: &str) -> Option<String> {
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
    token: String,
    stream: String,
    account: String,
    mirror: bool,
    origins: Vec<Origin>,
    /// Stale consumers already asked to go.
    told_to_go: HashSet<String>,
    /// Sources whose resume point is still to be read from the store.
    unresolved: bool,
}

impl Sourcing {
    /// The mirror or sources of `config`; `None` for a stream with
    /// neither.
    pub(crate) fn new(config: &StreamConfig, account: &str, now: i64) -> Option<Sourcing> {
        let mirror = config.mirror.is_some();
        let origins: Vec<Origin> = config
            .mirror
            .iter()
            .chain(config.sources.iter())
            .map(Origin::new)
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
    pub(crate) fn update(&mut self, config: &StreamConfig, now: i64, out: &mut Vec<OutMsg>) {
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
    fn schedule(&mut self, i: usize, now: i64) {
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
    fn cancel(&mut self, i: usize, out: &mut Vec<OutMsg>) {
        give_up(&self.origins[i], out);
        let o = &mut self.origins[i];
        o.cname.clear();
        o.engaged = false;
        o.asked_ns = None;
        o.dseq = 0;
    }

    /// Asks a consumer given up that still delivers to go.
    fn tell_stale_to_go(&mut self, i: usize, consumer: &str, out: &mut Vec<OutMsg>) {
        if self.told_to_go.contains(consumer) {
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
    fn classify(&self, via: &str) -> Option<(bool, usize)> {
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
    fn request(&mut self, i: usize, state: &crate::store::StoreState, now: i64) -> OutMsg {
        let name = self.consumer_name(i);
        let mirror = self.mirror;
        let o = &mut self.origins[i];
        o.engaged = true;
        o.asked_ns = Some(now);
        o.last_request_ns = now;
        o.retry_at_ns = None;
        o.cname.clear();
        o.dseq = 0;
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
    if !mirror && state.first_seq > 1 && state.last_ts != 0 {
        return ("by_start_time", None, Some(state.last_ts));
    }
    ("all", None, None)
}

impl Stream {
    /// Gives the stream its mirror or sources (or takes them away).
    pub(crate) fn set_sourcing(&mut self, sourcing: Option<Sourcing>) {
        self.sourcing = sourcing;
    }

    /// Takes the stream's mirror or sources out (to hand to the stream
    /// reopened in its place).
    pub(crate) fn take_sourcing(&mut self) -> Option<Sourcing> {
        self.sourcing.take()
    }

    /// Handles a message captured on one of the stream's sourcing
    /// subjects (`via`): a create reply, a copy, a heartbeat or a
    /// flow-control request.
    pub(crate) fn sourcing_traffic(
        &mut self,
        via: &str,
        msg: &Inbound,
        now: i64,
        out: &mut Vec<OutMsg>,
    ) {
        let Some(sourcing) = self.sourcing.as_ref() else {
            return;
        };
        let Some((is_reply, i)) = sourcing.classify(via) else {
            return;
        };
        if is_reply {
            self.on_created(i, msg, now, out);
        } else {
            self.on_delivery(i, msg, now, out);
        }
    }

    /// The deadlines of the mirror or sources.
    pub(crate) fn next_sourcing_deadline(&self) -> Option<i64> {
        self.sourcing.as_ref().and_then(Sourcing::next_deadline)
    }

    /// Sends due requests, gives up on silent consumers and unanswered
    /// requests.
    pub(crate) fn tick_sourcing(&mut self, now: i64, out: &mut Vec<OutMsg>) {
        if self.sourcing.as_ref().is_some_and(|s| s.unresolved) {
            self.resolve_source_starts();
        }
        let state = self.store.state();
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        for i in 0..s.origins.len() {
            let o = &s.origins[i];
            if o.asked_ns.is_some_and(|t| t + CREATE_WAIT_NS <= now) {
                s.origins[i].fails += 1;
                s.cancel(i, out);
                s.schedule(i, now);
                continue;
            }
            if !o.cname.is_empty() && o.heard_ns + STALLED_NS <= now {
                tracing::debug!(
                    "JetStream stream '{}': no word from '{}' for {}s, asking again",
                    s.stream,
                    o.src.name,
                    STALLED_NS / NANOS
                );
                s.cancel(i, out);
                s.schedule(i, now);
                continue;
            }
            if o.retry_at_ns.is_some_and(|t| t <= now) {
                if s.mirror {
                    // Where the stream stands now.
                    s.origins[i].sseq = state.last_seq;
                }
                let req = s.request(i, &state, now);
                out.push(req);
            }
        }
    }

    /// Finds, for each source, the last origin sequence the stream holds
    /// a copy of, reading the stored copies from the newest back until
    /// every source is found (the reference's start-up scan).
    fn resolve_source_starts(&mut self) {
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        s.unresolved = false;
        let mut missing: HashSet<String> = s
            .origins
            .iter()
            .filter(|o| o.sseq == 0)
            .map(|o| o.iname.clone())
            .collect();
        let state = self.store.state();
        if missing.is_empty() || state.msgs == 0 {
            return;
        }
        let mut found: HashMap<String, u64> = HashMap::new();
        let mut seq = state.last_seq;
        while seq >= state.first_seq.max(1) && !missing.is_empty() {
            let Ok(Some(m)) = self.store.get(seq) else {
                seq -= 1;
                continue;
            };
            seq -= 1;
            let Some(value) = m
                .headers
                .as_deref()
                .and_then(|h| headers::get(h, "Nats-Stream-Source"))
            else {
                continue;
            };
            let Some((stream, iname, origin_seq)) = wire::parse_source_header(value) else {
                continue;
            };
            if iname.is_empty() {
                // The old form names only the stream: it counts for every
                // source of that stream.
                let hits: Vec<String> = s
                    .origins
                    .iter()
                    .filter(|o| missing.contains(&o.iname))
                    .filter(|o| {
                        stream == o.src.name
                            || o.src.external.as_ref().is_some_and(|e| {
                                stream == format!("{}:{}", o.src.name, wire::hash(&e.api))
                            })
                    })
                    .map(|o| o.iname.clone())
                    .collect();
                for h in hits {
                    missing.remove(&h);
                    found.insert(h, origin_seq);
                }
            } else if missing.remove(&iname) {
                found.insert(iname, origin_seq);
            }
        }
        for o in &mut s.origins {
            if let Some(seq) = found.get(&o.iname) {
                o.sseq = *seq;
            }
        }
    }

    fn on_created(&mut self, i: usize, msg: &Inbound, now: i64, out: &mut Vec<OutMsg>) {
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        if s.origins[i].asked_ns.is_none() {
            return;
        }
        s.origins[i].asked_ns = None;
        let reply: serde_json::Value = match serde_json::from_slice(&msg.payload) {
            Ok(v) => v,
            Err(_) => {
                tracing::warn!(
                    "JetStream stream '{}': bad consumer create response from '{}': {:?}",
                    s.stream,
                    s.origins[i].src.name,
                    String::from_utf8_lossy(&msg.payload)
                );
                s.origins[i].err = Some(ApiError::invalid_json("bad consumer create response"));
                s.origins[i].fails += 1;
                s.cancel(i, out);
                s.schedule(i, now);
                return;
            }
        };
        if let Some(err) = reply.get("error") {
            let err: ApiError = serde_json::from_value(err.clone())
                .unwrap_or_else(|_| ApiError::store_failed("consumer create failed"));
            tracing::warn!(
                "JetStream error response for create {} consumer of '{}' for stream '{}': {}",
                if s.mirror { "mirror" } else { "source" },
                s.origins[i].src.name,
                s.stream,
                err.description
            );
            let o = &mut s.origins[i];
            o.err = Some(err);
            o.fails += 1;
            o.engaged = false;
            s.schedule(i, now);
            return;
        }
        let name = reply
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let delivered = reply
            .pointer("/delivered/stream_seq")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let mirror = s.mirror;
        {
            let o = &mut s.origins[i];
            o.cname = name;
            o.err = None;
            o.fails = 0;
            o.dseq = 0;
            o.heard_ns = now;
        }
        if mirror {
            // An origin that starts past what the mirror holds (its first
            // messages are gone): the mirror's sequence moves up to it.
            let last = self.store.state().last_seq;
            if last < delivered {
                if let Err(e) = self.store.skip(delivered - last) {
                    tracing::warn!("JetStream stream '{}': {e}", self.policy().name);
                }
            }
            let last = self.store.state().last_seq;
            if let Some(s) = self.sourcing.as_mut() {
                s.origins[i].sseq = delivered.max(last);
            }
        }
    }

    fn on_delivery(&mut self, i: usize, msg: &Inbound, now: i64, out: &mut Vec<OutMsg>) {
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        s.origins[i].heard_ns = now;
        if wire::is_control(msg.headers.as_deref(), &msg.payload) {
            if let Some(reply) = &msg.reply {
                // Flow control: say we keep up.
                out.push(OutMsg::to_inbox(reply, None));
                return;
            }
            let h = msg.headers.as_deref().unwrap_or_default();
            let last = headers::get(h, "Nats-Last-Consumer").and_then(|v| v.parse::<u64>().ok());
            if last.is_some_and(|l| l > 0 && l != s.origins[i].dseq) {
                // A delivery went missing: start again from what we have.
                s.cancel(i, out);
                s.schedule(i, now);
            } else if let Some(fc) = headers::get(h, "Nats-Consumer-Stalled") {
                out.push(OutMsg::to_inbox(fc, None));
            }
            return;
        }
        let Some(d) = msg.reply.as_deref().and_then(wire::delivery) else {
            return;
        };
        if d.consumer != s.origins[i].cname {
            s.tell_stale_to_go(i, d.consumer, out);
            return;
        }
        if d.deliveries > 1 {
            return;
        }
        let mirror = s.mirror;
        let o = &mut s.origins[i];
        let (old_sseq, old_dseq) = (o.sseq, o.dseq);
        if d.stream_seq <= o.sseq {
            if d.consumer_seq == o.dseq + 1 {
                o.dseq += 1;
            }
            return;
        }
        // The next origin sequence, or the next delivery past messages
        // the origin removed (a mirror skips them too); anything else
        // means deliveries went missing.
        let in_order = (mirror && d.stream_seq == o.sseq + 1) || d.consumer_seq == o.dseq + 1;
        if !in_order {
            s.cancel(i, out);
            s.schedule(i, now);
            return;
        }
        o.dseq = d.consumer_seq;
        o.sseq = d.stream_seq;
        o.lag = d.pending.saturating_sub(1);
        let subject = o.map_subject(&msg.subject);
        let stored = if mirror {
            self.store_mirrored(msg, subject, &d)
        } else {
            self.store_sourced(i, msg, subject, &d)
        };
        if let Err(e) = stored {
            let Some(s) = self.sourcing.as_mut() else {
                return;
            };
            let name = s.origins[i].src.name.clone();
            match &e {
                PublishError::Api(api) => {
                    tracing::debug!(
                        "JetStream stream '{}': copy of '{name}' {} refused: {}",
                        s.stream,
                        d.stream_seq,
                        api.description
                    );
                }
                PublishError::Store(e) => {
                    tracing::warn!(
                        "JetStream stream '{}': error storing a copy of '{name}': {e}",
                        s.stream
                    );
                }
            }
            let o = &mut s.origins[i];
            o.sseq = old_sseq;
            o.dseq = old_dseq;
            o.fails += 1;
            s.cancel(i, out);
            s.schedule(i, now);
        }
    }

    /// Stores a mirror's copy at the origin's sequence, with its time.
    fn store_mirrored(
        &mut self,
        msg: &Inbound,
        subject: Option<String>,
        d: &wire::Delivery<'_>,
    ) -> Result<(), PublishError> {
        let last = self.store.state().last_seq;
        if d.stream_seq <= last {
            return Ok(());
        }
        if d.stream_seq > last + 1 {
            self.store.skip(d.stream_seq - last - 1)?;
        }
        let headers = wire::without_prefix(msg.headers.as_deref(), "Nats-Expected-");
        let headers = wire::without_prefix(headers.as_deref(), "Nats-Batch-");
        let copy = Inbound {
            subject: subject.unwrap_or_else(|| msg.subject.clone()),
            reply: None,
            headers: headers.map(Bytes::from),
            payload: msg.payload.clone(),
        };
        self.publish_copy(&copy, Provenance::Mirror { time_ns: d.time_ns })
    }

    /// Stores a source's copy as a new message saying where it came from.
    fn store_sourced(
        &mut self,
        i: usize,
        msg: &Inbound,
        subject: Option<String>,
        d: &wire::Delivery<'_>,
    ) -> Result<(), PublishError> {
        let Some(s) = self.sourcing.as_ref() else {
            return Ok(());
        };
        let origin_subject = msg.subject.clone();
        let value = wire::source_header(&s.origins[i].iname, d.stream_seq, &origin_subject);
        let h =
            headers::HeaderBlock::without(msg.headers.as_deref(), "Nats-Stream-Source").finish();
        let h = wire::without_prefix(Some(&h), "Nats-Expected-");
        let h = wire::without_prefix(h.as_deref(), "Nats-Batch-");
        let mut block = headers::HeaderBlock::from_existing(h.as_deref());
        block.add("Nats-Stream-Source", value);
        let copy = Inbound {
            subject: subject.unwrap_or(origin_subject),
            reply: None,
            headers: Some(Bytes::from(block.finish())),
            payload: msg.payload.clone(),
        };
        self.publish_copy(&copy, Provenance::Source)
    }
}

/// Asks origin `o`'s current consumer to go.
fn give_up(o: &Origin, out: &mut Vec<OutMsg>) {
    if !o.cname.is_empty() {
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
