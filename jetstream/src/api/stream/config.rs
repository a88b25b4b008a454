//! `StreamConfig` as it is on the wire: the body of STREAM.CREATE/UPDATE and
//! the `config` echoed in every StreamInfo.
//!
//! Field order, names and `omitempty` rules follow the reference's Go struct,
//! so a validated config serializes to the bytes nats-server 2.14 echoes.
//! Durations are integer nanoseconds. Unknown fields are refused (the
//! reference runs strict), `null` leaves a field at its default (as Go
//! does), and the enums refuse unknown strings with Go's wording.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::json::nullable;
pub(crate) use crate::api::wire::{is_false, is_zero_i32, is_zero_i64, is_zero_u64};
use crate::api::API_LEVEL;

fn no_tags(tags: &Option<Vec<String>>) -> bool {
    tags.as_ref().is_none_or(Vec::is_empty)
}

wire_enum! {
    /// When messages leave the stream besides its limits.
    RetentionPolicy {
        /// Only the limits remove messages.
        #[default]
        Limits = "limits",
        /// A message goes once every consumer interested in it acked it.
        Interest = "interest",
        /// A message goes once its (single) consumer acked it.
        WorkQueue = "workqueue",
    }
}

wire_enum! {
    /// What a full stream does with a new message.
    DiscardPolicy {
        /// Remove the oldest messages to make room.
        #[default]
        Old = "old",
        /// Refuse the new message.
        New = "new",
    }
}

wire_enum! {
    /// Where a stream keeps its messages.
    StorageType {
        /// On disk (one redb file and log per stream), surviving restarts.
        #[default]
        File = "file",
        /// In RAM, lost at shutdown.
        Memory = "memory",
    }
}

wire_enum! {
    /// How stored messages are compressed. Accepted and echoed; tern stores
    /// uncompressed either way.
    Compression {
        /// Not compressed.
        #[default]
        None = "none",
        /// S2 (Snappy-compatible) compression.
        S2 = "s2",
    }
    unknown = "unknown compression algorithm"
}

wire_enum! {
    /// `async` trades fsync-per-batch for throughput (file storage only).
    PersistMode {
        /// Each batch is synced before its publishes are acked.
        #[default]
        Default = "default",
        /// The reference acks publishes before their batch is synced; tern
        /// accepts it and syncs as for `default`.
        Async = "async",
    }
}

impl PersistMode {
    fn is_default(&self) -> bool {
        *self == PersistMode::Default
    }
}

/// Where a clustered stream may be placed. Kept for the echo only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Placement {
    /// The cluster to place it in.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub cluster: String,
    /// `Some(vec![])` (sent as `[]`) differs from `None`: the reference
    /// then keeps an otherwise empty placement and echoes `"placement":{}`.
    #[serde(skip_serializing_if = "no_tags")]
    pub tags: Option<Vec<String>>,
    /// The server to prefer as leader.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub preferred: String,
}

/// A subject mapping: `src` (may hold wildcards) to `dest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubjectTransform {
    /// The subjects to map (empty: all).
    #[serde(deserialize_with = "nullable")]
    pub src: String,
    /// What they become; `{{wildcard(1)}}` and friends refer to `src`'s wildcards.
    #[serde(deserialize_with = "nullable")]
    pub dest: String,
}

/// Re-sending each stored message to another subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RePublish {
    /// Which stored subjects are re-sent (empty: all).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub src: String,
    /// The subject they are re-sent to (a mapping of `src`).
    #[serde(deserialize_with = "nullable")]
    pub dest: String,
    /// Send the headers and the payload's size, not the payload.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub headers_only: bool,
}

/// Another account's or domain's JS API, for a mirror or source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalStream {
    /// The API prefix to reach the origin through (`$JS.<domain>.API`).
    #[serde(deserialize_with = "nullable")]
    pub api: String,
    /// The prefix the origin's deliveries come in under.
    #[serde(deserialize_with = "nullable")]
    pub deliver: String,
}

/// A durable consumer on the origin used for sourcing (2.14).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConsumerSource {
    /// The durable consumer's name on the origin.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub name: String,
    /// The subject it delivers to.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub deliver_subject: String,
}

/// A mirror's origin or one of a stream's sources.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamSource {
    /// The origin stream.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Start from this sequence of the origin.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub opt_start_seq: u64,
    /// Unix nanoseconds. An offset given in the request is normalised to UTC
    /// (the reference echoes the offset as sent).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::api::time::opt"
    )]
    pub opt_start_time: Option<i64>,
    /// Only the origin's messages on subjects matching this.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub filter_subject: String,
    /// Filters that also rename the subjects (instead of `filter_subject`).
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Set when the origin is in another account or domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// A durable consumer on the origin to read through (2.14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<StreamConsumerSource>,
}

/// Defaults for the stream's consumers; `{}` when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerLimits {
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub inactive_threshold: i64,
    /// The `max_ack_pending` a consumer gets when it sets none.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_ack_pending: i64,
}

/// A stream's configuration. After [`StreamConfig::validate`] every default
/// the reference fills in is set (limits -1, file storage, one replica, the
/// duplicate window, `subjects = [name]`), so serializing it gives the echo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// The stream's name (no `.`, `*`, `>`, whitespace or path separators).
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Free text for people.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub description: String,
    /// The subjects whose publishes it stores (wildcards allowed).
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub subjects: Vec<String>,
    /// When messages leave besides the limits.
    pub retention: RetentionPolicy,
    /// Consumers it may have (-1: no limit).
    #[serde(deserialize_with = "nullable")]
    pub max_consumers: i64,
    /// Messages it keeps (-1: no limit).
    #[serde(deserialize_with = "nullable")]
    pub max_msgs: i64,
    /// Bytes it keeps (-1: no limit).
    #[serde(deserialize_with = "nullable")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 keeps messages forever.
    #[serde(deserialize_with = "nullable")]
    pub max_age: i64,
    /// Messages it keeps per subject (-1: no limit); KV history uses it.
    #[serde(deserialize_with = "nullable")]
    pub max_msgs_per_subject: i64,
    /// The largest message it accepts, headers included (-1: no limit).
    #[serde(skip_serializing_if = "is_zero_i32", deserialize_with = "nullable")]
    pub max_msg_size: i32,
    /// What a full stream does with a new message.
    pub discard: DiscardPolicy,
    /// File or memory.
    pub storage: StorageType,
    /// Copies in a cluster; a standalone server keeps 1.
    #[serde(deserialize_with = "nullable")]
    pub num_replicas: i64,
    /// Store publishes without answering them with a PubAck.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub no_ack: bool,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub duplicate_window: i64,
    /// Where a cluster places it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The stream this one copies; a mirror has no subjects of its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    /// Streams whose messages are copied into this one.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub sources: Vec<StreamSource>,
    /// How stored messages are compressed.
    pub compression: Compression,
    /// The sequence the first message gets (a new stream only).
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub first_seq: u64,
    /// Renames publishes before they are stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    /// Re-sends each stored message to another subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    /// Serve `$JS.API.DIRECT.GET` (reads without the API's JSON).
    #[serde(deserialize_with = "nullable")]
    pub allow_direct: bool,
    /// A mirror answers direct gets for its origin too.
    #[serde(deserialize_with = "nullable")]
    pub mirror_direct: bool,
    /// With discard new: refuse a message over `max_msgs_per_subject` too.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub discard_new_per_subject: bool,
    /// Read-only for good: no publishes, deletes, purges or expiry.
    #[serde(deserialize_with = "nullable")]
    pub sealed: bool,
    /// Refuse deleting single messages.
    #[serde(deserialize_with = "nullable")]
    pub deny_delete: bool,
    /// Refuse purges.
    #[serde(deserialize_with = "nullable")]
    pub deny_purge: bool,
    /// Honour the `Nats-Rollup` header (a publish that replaces a subject's or the stream's messages).
    #[serde(deserialize_with = "nullable")]
    pub allow_rollup_hdrs: bool,
    /// Defaults for its consumers.
    #[serde(deserialize_with = "nullable")]
    pub consumer_limits: ConsumerLimits,
    /// Honour the per-message `Nats-TTL` header.
    #[serde(deserialize_with = "nullable")]
    pub allow_msg_ttl: bool,
    /// Nanoseconds; enables delete markers (and with them TTLs and rollups).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub subject_delete_marker_ttl: i64,
    /// A counter stream: publishes carry `Nats-Incr` and the stream keeps totals.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_msg_counter: bool,
    /// Allow atomic batch publishes.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_atomic: bool,
    /// Allow scheduled messages (`Nats-Schedule`).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_msg_schedules: bool,
    /// When a publish is acked relative to its sync.
    #[serde(skip_serializing_if = "PersistMode::is_default")]
    pub persist_mode: PersistMode,
    /// Allow fast (non-atomic) batch publishes.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_batched: bool,
    /// Sorted, as Go writes maps.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nullable"
    )]
    pub metadata: BTreeMap<String, String>,
    /// Request-only (`StreamConfigRequest.pedantic`): turn the silent
    /// corrections of `validate` into errors. Never echoed or stored;
    /// `validate` clears it so stored configs compare equal.
    #[serde(skip_serializing, deserialize_with = "nullable")]
    pub pedantic: bool,
}

/// Metadata keys the server owns.
pub(crate) const META_REQUIRED_LEVEL: &str = "_nats.req.level";
pub(crate) const META_SERVER_LEVEL: &str = "_nats.level";
pub(crate) const META_SERVER_VERSION: &str = "_nats.ver";

impl StreamConfig {
    /// The API level a server needs to honour this config, as the reference
    /// records it in `_nats.req.level`: TTLs 1; counters, atomic publish,
    /// schedules and async persistence 2; fast batch publish 4.
    pub fn required_api_level(&self) -> u32 {
        let mut level = 0;
        if self.allow_msg_ttl || self.subject_delete_marker_ttl > 0 {
            level = 1;
        }
        if self.allow_msg_counter
            || self.allow_atomic
            || self.allow_msg_schedules
            || self.persist_mode == PersistMode::Async
        {
            level = 2;
        }
        if self.allow_batched {
            level = 4;
        }
        level
    }

    /// What the reference stores on create/update: `_nats.req.level` set,
    /// the per-response keys dropped.
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(META_SERVER_LEVEL);
        self.metadata.remove(META_SERVER_VERSION);
        self.metadata.insert(
            META_REQUIRED_LEVEL.to_string(),
            self.required_api_level().to_string(),
        );
    }

    /// The config as create/update/info responses show it: with the
    /// server's `_nats.ver` and `_nats.level` added (STREAM.LIST shows the
    /// stored config without them).
    pub fn with_dynamic_metadata(&self, server_version: &str) -> StreamConfig {
        let mut cfg = self.clone();
        cfg.metadata
            .insert(META_SERVER_LEVEL.to_string(), API_LEVEL.to_string());
        cfg.metadata
            .insert(META_SERVER_VERSION.to_string(), server_version.to_string());
        cfg
    }
}
