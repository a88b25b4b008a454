//! `ConsumerConfig` as it is on the wire: the `config` of CONSUMER.CREATE
//! and the one echoed in every ConsumerInfo.
//!
//! Field order, names and `omitempty` rules follow the reference's Go
//! struct, so a config after [`ConsumerConfig::validate`] serializes to the
//! bytes nats-server 2.14 echoes. Durations are integer nanoseconds; `null`
//! leaves a field at its default; unknown fields are refused.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::api::json::nullable;
use crate::api::stream::{META_REQUIRED_LEVEL, META_SERVER_LEVEL, META_SERVER_VERSION};
use crate::api::time::{format_time, parse_time_go, TimeParseError};
use crate::api::wire::{is_false, is_zero_i64, is_zero_u64};
use crate::api::API_LEVEL;
use crate::error::go_quote;

wire_enum! {
    /// Where a new consumer starts in the stream.
    DeliverPolicy {
        /// From the first message stored.
        #[default]
        All = "all",
        /// From the last message stored.
        Last = "last",
        /// Only messages stored after the consumer was created.
        New = "new",
        /// From `opt_start_seq`.
        ByStartSequence = "by_start_sequence",
        /// From the first message stored at or after `opt_start_time`.
        ByStartTime = "by_start_time",
        /// The last message of each matching subject, then new ones.
        LastPerSubject = "last_per_subject",
    }
}

impl DeliverPolicy {
    /// The policy as the reference's error texts name it (`deliver last per subject`).
    pub fn words(self) -> &'static str {
        match self {
            DeliverPolicy::All => "all",
            DeliverPolicy::Last => "last",
            DeliverPolicy::New => "new",
            DeliverPolicy::ByStartSequence => "by start sequence",
            DeliverPolicy::ByStartTime => "by start time",
            DeliverPolicy::LastPerSubject => "last per subject",
        }
    }
}

wire_enum! {
    /// How deliveries are acknowledged. Absent means `none`.
    /// `flow_control` (2.14) acks by answering flow-control requests; push only.
    AckPolicy {
        /// Nothing is acked: a delivered message counts as done.
        #[default]
        None = "none",
        /// An ack covers its message and every earlier one.
        All = "all",
        /// Each message is acked on its own.
        Explicit = "explicit",
        /// Answering a flow-control request acks what came before it.
        FlowControl = "flow_control",
    }
}

wire_enum! {
    /// How fast stored messages are sent to the consumer.
    ReplayPolicy {
        /// As fast as the consumer takes them.
        #[default]
        Instant = "instant",
        /// With the gaps between their original publish times.
        Original = "original",
    }
}

wire_enum! {
    /// ADR-42 priority groups on pull consumers.
    PriorityPolicy {
        /// No priority groups: every waiting pull is served in turn.
        #[default]
        None = "none",
        /// Pulls that set `min_pending`/`min_ack_pending` are served only
        /// past those thresholds.
        Overflow = "overflow",
        /// One client at a time is served, until it stops pulling.
        PinnedClient = "pinned_client",
        /// Pulls with a lower `priority` value are served first.
        Prioritized = "prioritized",
    }
    unknown_prefix = "unknown priority policy: "
}

impl PriorityPolicy {
    fn is_none(&self) -> bool {
        *self == PriorityPolicy::None
    }
}

wire_enum! {
    /// CreateConsumerRequest's `action`: `""` (or absent) creates or updates.
    ConsumerAction {
        /// Create the consumer, or update it when it exists.
        #[default]
        CreateOrUpdate = "",
        /// Create only: an existing consumer with another config is 10148.
        Create = "create",
        /// Update only: a missing consumer is 10149.
        Update = "update",
    }
    unknown_prefix = "unknown consumer action: "
}

/// A Go `time.Time` as a request gave it: the instant (Unix nanoseconds,
/// 0 for Go's zero time) and the UTC offset it was written with. The
/// reference echoes config times in the offset they were sent in, and its
/// create-equality check tells `01:00+01:00` from `00:00Z` although both
/// are the same instant; update checks compare instants ([`Self::nanos`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The instant, in Unix nanoseconds (0: Go's zero time).
    pub nanos: i64,
    /// Seconds east of UTC.
    pub offset_secs: i32,
}

impl Timestamp {
    pub(crate) fn utc(nanos: i64) -> Self {
        Timestamp {
            nanos,
            offset_secs: 0,
        }
    }

    /// The same instant written in UTC (what PAUSE replies show).
    pub fn to_utc(self) -> Self {
        Timestamp::utc(self.nanos)
    }

    /// Go's `IsZero`: the zero time, whatever the offset.
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Parses RFC 3339 with Go's error texts, keeping the offset.
    pub(crate) fn parse(s: &str) -> Result<Self, TimeParseError> {
        let nanos = parse_time_go(s)?;
        Ok(Timestamp {
            nanos,
            offset_secs: offset_of(s),
        })
    }
}

/// The `+hh:mm`/`-hh:mm` suffix of a time that parsed, in seconds.
fn offset_of(s: &str) -> i32 {
    let b = s.as_bytes();
    if b.len() < 6 || s.ends_with('Z') {
        return 0;
    }
    let tail = &b[b.len() - 6..];
    let digits = |i: usize| i32::from(tail[i] - b'0') * 10 + i32::from(tail[i + 1] - b'0');
    let secs = digits(1) * 3600 + digits(4) * 60;
    if tail[0] == b'-' {
        -secs
    } else {
        secs
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offset_secs == 0 || self.nanos == 0 {
            return f.write_str(&format_time(self.nanos));
        }
        let local = format_time(self.nanos + i64::from(self.offset_secs) * 1_000_000_000);
        let sign = if self.offset_secs < 0 { '-' } else { '+' };
        let off = self.offset_secs.unsigned_abs();
        write!(
            f,
            "{}{sign}{:02}:{:02}",
            local.trim_end_matches('Z'),
            off / 3600,
            off / 60 % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Timestamp::parse(&s).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(
                "Time.UnmarshalJSON: input is not a JSON string",
            )),
        }
    }
}

/// A consumer's configuration. After [`ConsumerConfig::validate`] the
/// defaults the reference fills in are set (max_deliver -1, max_waiting 512
/// for pull, ack_wait 30 s and max_ack_pending 1000 when acking, ...), so
/// serializing it gives the echo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerConfig {
    /// Set for a durable consumer: its name, kept until deleted.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub durable_name: String,
    /// The consumer's name (for an ephemeral: chosen by the client instead of the server).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub name: String,
    /// Free text for people.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub description: String,
    /// Where in the stream the consumer starts.
    #[serde(deserialize_with = "nullable")]
    pub deliver_policy: DeliverPolicy,
    /// The first stream sequence, with `by_start_sequence`.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub opt_start_seq: u64,
    /// The first message time, with `by_start_time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<Timestamp>,
    /// How deliveries are acknowledged.
    #[serde(deserialize_with = "nullable")]
    pub ack_policy: AckPolicy,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub ack_wait: i64,
    /// Deliveries of one message before it is given up on (-1: no limit).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_deliver: i64,
    /// Nanoseconds per redelivery.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub backoff: Vec<i64>,
    /// Only messages on subjects matching this (wildcards allowed).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub filter_subject: String,
    /// Several filters; a message matching any of them is delivered.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub filter_subjects: Vec<String>,
    /// How fast stored messages are sent.
    #[serde(deserialize_with = "nullable")]
    pub replay_policy: ReplayPolicy,
    /// Bits per second.
    #[serde(
        rename = "rate_limit_bps",
        skip_serializing_if = "is_zero_u64",
        deserialize_with = "nullable"
    )]
    pub rate_limit: u64,
    /// `"<n>"` or `"<n>%"`: percentage of acks sampled into metrics.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub sample_freq: String,
    /// Pull only: requests that may wait at once.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_waiting: i64,
    /// Deliveries that may be unacked at once before delivery pauses (-1: no limit).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_ack_pending: i64,
    /// Push only: the server asks the client to confirm it keeps up.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub flow_control: bool,
    /// Deliver the headers and the payload's size only, not the payload.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub headers_only: bool,
    /// Pull only: the largest `batch` a request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_batch: i64,
    /// Pull only, nanoseconds: the longest `expires` a request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_expires: i64,
    /// Pull only: the largest `max_bytes` a request may ask for.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_bytes: i64,
    /// Set: a push consumer delivering here. Empty: a pull consumer.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub deliver_subject: String,
    /// Push only: the queue group the deliveries go to.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub deliver_group: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub idle_heartbeat: i64,
    /// Nanoseconds of inactivity before the consumer is deleted.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub inactive_threshold: i64,
    /// Always echoed; 0 means "as the stream".
    #[serde(deserialize_with = "nullable")]
    pub num_replicas: i64,
    /// Keep the consumer's state in memory only, even on a file stream.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub mem_storage: bool,
    /// Internal consumers (mirrors/sources); accepted from clients too.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub direct: bool,
    /// A durable consumer that feeds another stream's source (2.14).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub sourcing: bool,
    /// Sorted, as Go writes maps.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub metadata: BTreeMap<String, String>,
    /// Deliveries stop until this time (CONSUMER.PAUSE changes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
    /// The priority groups pull requests must name.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub priority_groups: Vec<String>,
    /// How the priority groups share the messages.
    #[serde(
        skip_serializing_if = "PriorityPolicy::is_none",
        deserialize_with = "nullable"
    )]
    pub priority_policy: PriorityPolicy,
    /// Nanoseconds a pinned client keeps its pin without pulling.
    #[serde(
        rename = "priority_timeout",
        skip_serializing_if = "is_zero_i64",
        deserialize_with = "nullable"
    )]
    pub pinned_ttl: i64,
}

impl ConsumerConfig {
    /// Durable: has a `durable_name` (a `name` alone is an ephemeral with a
    /// chosen name, deleted after `inactive_threshold`).
    pub fn is_durable(&self) -> bool {
        !self.durable_name.is_empty()
    }

    pub(crate) fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    pub(crate) fn is_pull(&self) -> bool {
        self.deliver_subject.is_empty()
    }

    /// The consumer's filters: `filter_subject` or `filter_subjects`
    /// (empty: the whole stream).
    pub fn filters(&self) -> Vec<String> {
        if self.filter_subject.is_empty() {
            self.filter_subjects.clone()
        } else {
            vec![self.filter_subject.clone()]
        }
    }

    /// Whether the consumer is paused at `now` (Unix nanoseconds).
    pub fn is_paused_at(&self, now: i64) -> bool {
        self.pause_until.is_some_and(|t| t.nanos > now)
    }

    /// The API level a server needs to honour this config, as the reference
    /// records it in `_nats.req.level`.
    pub fn required_api_level(&self) -> u32 {
        let mut level = 0;
        if self.pause_until.is_some_and(|t| !t.is_zero()) {
            level = 1;
        }
        if !self.priority_policy.is_none()
            || self.pinned_ttl != 0
            || !self.priority_groups.is_empty()
        {
            level = 1;
        }
        if self.ack_policy == AckPolicy::FlowControl {
            level = 4;
        }
        level
    }

    /// What the reference stores: `_nats.req.level` set, the per-response
    /// keys dropped (a client's values for them are overwritten).
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(META_SERVER_LEVEL);
        self.metadata.remove(META_SERVER_VERSION);
        self.metadata.insert(
            META_REQUIRED_LEVEL.to_string(),
            self.required_api_level().to_string(),
        );
    }

    /// The config as create/info replies show it: `_nats.ver` and
    /// `_nats.level` added (CONSUMER.LIST shows the stored config).
    pub fn with_dynamic_metadata(&self, server_version: &str) -> ConsumerConfig {
        let mut cfg = self.clone();
        cfg.metadata
            .insert(META_SERVER_LEVEL.to_string(), API_LEVEL.to_string());
        cfg.metadata
            .insert(META_SERVER_VERSION.to_string(), server_version.to_string());
        cfg
    }
}

/// Go's `%q` of a name, for messages that quote one.
pub(crate) fn quoted(s: &str) -> String {
    go_quote(s)
}
