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
        #[default]
        Limits = "limits",
        Interest = "interest",
        WorkQueue = "workqueue",
    }
}

wire_enum! {
    /// What a full stream does with a new message.
    DiscardPolicy {
        #[default]
        Old = "old",
        New = "new",
    }
}

wire_enum! {
    StorageType {
        #[default]
        File = "file",
        Memory = "memory",
    }
}

wire_enum! {
    Compression {
        #[default]
        None = "none",
        S2 = "s2",
    }
    unknown = "unknown compression algorithm"
}

wire_enum! {
    /// `async` trades fsync-per-batch for throughput (file storage only).
    PersistMode {
        #[default]
        Default = "default",
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
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub cluster: String,
    /// `Some(vec![])` (sent as `[]`) differs from `None`: the reference
    /// then keeps an otherwise empty placement and echoes `"placement":{}`.
    #[serde(skip_serializing_if = "no_tags")]
    pub tags: Option<Vec<String>>,
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
    #[serde(deserialize_with = "nullable")]
    pub src: String,
    #[serde(deserialize_with = "nullable")]
    pub dest: String,
}

/// Re-sending each stored message to another subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RePublish {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub src: String,
    #[serde(deserialize_with = "nullable")]
    pub dest: String,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub headers_only: bool,
}

/// Another account's or domain's JS API, for a mirror or source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalStream {
    #[serde(deserialize_with = "nullable")]
    pub api: String,
    #[serde(deserialize_with = "nullable")]
    pub deliver: String,
}

/// A durable consumer on the origin used for sourcing (2.14).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConsumerSource {
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub name: String,
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
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub opt_start_seq: u64,
    /// Unix nanoseconds. An offset given in the request is normalised to UTC
    /// (the reference echoes the offset as sent).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::api::time::opt"
    )]
    pub opt_start_time: Option<i64>,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub subject_transforms: Vec<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
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
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_ack_pending: i64,
}

/// A stream's configuration. After [`StreamConfig::validate`] every default
/// the reference fills in is set (limits -1, file storage, one replica, the
/// duplicate window, `subjects = [name]`), so serializing it gives the echo.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub subjects: Vec<String>,
    pub retention: RetentionPolicy,
    #[serde(deserialize_with = "nullable")]
    pub max_consumers: i64,
    #[serde(deserialize_with = "nullable")]
    pub max_msgs: i64,
    #[serde(deserialize_with = "nullable")]
    pub max_bytes: i64,
    /// Nanoseconds; 0 keeps messages forever.
    #[serde(deserialize_with = "nullable")]
    pub max_age: i64,
    #[serde(deserialize_with = "nullable")]
    pub max_msgs_per_subject: i64,
    #[serde(skip_serializing_if = "is_zero_i32", deserialize_with = "nullable")]
    pub max_msg_size: i32,
    pub discard: DiscardPolicy,
    pub storage: StorageType,
    #[serde(deserialize_with = "nullable")]
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub no_ack: bool,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub sources: Vec<StreamSource>,
    pub compression: Compression,
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub first_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    #[serde(deserialize_with = "nullable")]
    pub allow_direct: bool,
    #[serde(deserialize_with = "nullable")]
    pub mirror_direct: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub discard_new_per_subject: bool,
    #[serde(deserialize_with = "nullable")]
    pub sealed: bool,
    #[serde(deserialize_with = "nullable")]
    pub deny_delete: bool,
    #[serde(deserialize_with = "nullable")]
    pub deny_purge: bool,
    #[serde(deserialize_with = "nullable")]
    pub allow_rollup_hdrs: bool,
    #[serde(deserialize_with = "nullable")]
    pub consumer_limits: ConsumerLimits,
    #[serde(deserialize_with = "nullable")]
    pub allow_msg_ttl: bool,
    /// Nanoseconds; enables delete markers (and with them TTLs and rollups).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub subject_delete_marker_ttl: i64,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_msg_counter: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_atomic: bool,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub allow_msg_schedules: bool,
    #[serde(skip_serializing_if = "PersistMode::is_default")]
    pub persist_mode: PersistMode,
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
pub const META_REQUIRED_LEVEL: &str = "_nats.req.level";
pub const META_SERVER_LEVEL: &str = "_nats.level";
pub const META_SERVER_VERSION: &str = "_nats.ver";

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
