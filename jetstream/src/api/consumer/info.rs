//! What the API reports about a consumer: `ConsumerInfo`, built from the
//! stored config and a plain [`ConsumerCounts`] the engine fills in.
//! Output only.

use crate::api::wire::{is_false, is_zero_i64};
use serde::Serialize;

use super::config::ConsumerConfig;
use crate::api::stream::ClusterInfo;

/// A consumer sequence and the stream sequence it maps to, with the time
/// of the last such event (Unix nanoseconds; `None` until there is one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SequenceInfo {
    /// The consumer's sequence of the delivery.
    pub consumer_seq: u64,
    /// The stream sequence of the message delivered.
    pub stream_seq: u64,
    /// When that happened.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::api::time::opt::serialize"
    )]
    pub last_active: Option<i64>,
}

/// One priority group's pin (ADR-42). `pinned_ts` is always written,
/// Go's zero time when nothing is pinned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PriorityGroupState {
    /// The group's name.
    pub group: String,
    /// The client the group is pinned to, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pinned_client_id: String,
    /// When the pin was given (Unix nanoseconds, 0 when none).
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub pinned_ts: i64,
}

/// The counters the consumer engine keeps; everything in ConsumerInfo that
/// is not config or time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerCounts {
    /// Last delivered: consumer seq, stream seq, when.
    pub delivered: SequenceInfo,
    /// Everything at or below is acked.
    pub ack_floor: SequenceInfo,
    /// Deliveries not acked yet.
    pub num_ack_pending: u64,
    /// Messages delivered more than once and not acked yet.
    pub num_redelivered: u64,
    /// Pull requests waiting.
    pub num_waiting: u64,
    /// Stream messages matching the filters not yet delivered.
    pub num_pending: u64,
    /// A push consumer whose deliver subject has a subscriber.
    pub push_bound: bool,
    /// One entry per configured priority group.
    pub priority_groups: Vec<PriorityGroupState>,
}

/// The body of consumer_create/info responses and each CONSUMER.LIST entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConsumerInfo {
    /// The stream the consumer reads.
    pub stream_name: String,
    /// The consumer's name.
    pub name: String,
    /// When it was created (Unix nanoseconds).
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub created: i64,
    /// Its configuration.
    pub config: ConsumerConfig,
    /// The last delivery.
    pub delivered: SequenceInfo,
    /// Everything at or below this is acked.
    pub ack_floor: SequenceInfo,
    /// Deliveries not acked yet.
    pub num_ack_pending: u64,
    /// Messages delivered more than once and not acked yet.
    pub num_redelivered: u64,
    /// Pull requests waiting.
    pub num_waiting: u64,
    /// Matching stream messages not delivered yet.
    pub num_pending: u64,
    /// A standalone reference leaves it out; set it to name a leader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// A push consumer whose deliver subject has a subscriber.
    #[serde(skip_serializing_if = "is_false")]
    pub push_bound: bool,
    /// Paused by CONSUMER.PAUSE (until `config.pause_until`).
    #[serde(skip_serializing_if = "is_false")]
    pub paused: bool,
    /// Nanoseconds until the pause ends.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
    /// When the info was gathered.
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub ts: i64,
    /// One entry per configured priority group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<PriorityGroupState>,
}

impl ConsumerInfo {
    /// The info at `now` (Unix nanoseconds). `config` is shown as given:
    /// pass [`ConsumerConfig::with_dynamic_metadata`] for create/info
    /// replies, the stored config for CONSUMER.LIST entries.
    pub fn build(
        stream_name: &str,
        name: &str,
        created: i64,
        config: ConsumerConfig,
        counts: &ConsumerCounts,
        now: i64,
    ) -> ConsumerInfo {
        let pause_remaining = config
            .pause_until
            .map_or(0, |t| t.nanos.saturating_sub(now))
            .max(0);
        ConsumerInfo {
            stream_name: stream_name.to_string(),
            name: name.to_string(),
            created,
            config,
            delivered: counts.delivered,
            ack_floor: counts.ack_floor,
            num_ack_pending: counts.num_ack_pending,
            num_redelivered: counts.num_redelivered,
            num_waiting: counts.num_waiting,
            num_pending: counts.num_pending,
            cluster: None,
            push_bound: counts.push_bound,
            paused: pause_remaining > 0,
            pause_remaining,
            ts: now,
            priority_groups: counts.priority_groups.clone(),
        }
    }
}
