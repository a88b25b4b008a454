//! What the API reports about a stream: `StreamInfo` (config, state,
//! times) and the message form of STREAM.MSG.GET. Output only.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::config::{is_zero_u64, ExternalStream, StreamConfig, SubjectTransform};
use crate::api::json::base64;
use crate::error::ApiError;

/// A stream's counters. Times are Unix nanoseconds, 0 for "none" (written
/// as Go's zero time). After a purge of everything `first_seq` is
/// `last_seq + 1` and `first_ts` is 0, as the reference reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamState {
    pub messages: u64,
    pub bytes: u64,
    pub first_seq: u64,
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub first_ts: i64,
    pub last_seq: u64,
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub last_ts: i64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_subjects: u64,
    /// Per-subject counts; only with a `subjects_filter` in the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_deleted: u64,
    /// Only with `deleted_details` in the request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostData>,
    pub consumer_count: u64,
}

/// Messages the store found damaged on recovery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LostData {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msgs: Vec<u64>,
    pub bytes: u64,
}

/// `cluster` in StreamInfo; a standalone server names itself leader.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
}

/// How a mirror or source is keeping up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamSourceInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    pub lag: u64,
    /// Nanoseconds since it was last active; -1 never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
}

/// The body of stream_create/update/info responses and each STREAM.LIST
/// entry. The create response omits `cluster`; info includes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub config: StreamConfig,
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub created: i64,
    pub state: StreamState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
    /// When the info was gathered.
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub ts: i64,
}

/// A message as STREAM.MSG.GET returns it, headers and data in base64.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoredMsg {
    pub subject: String,
    pub seq: u64,
    /// The raw header block (`NATS/1.0\r\n...`), when the message has one
    /// and the request did not ask for `no_hdr`.
    #[serde(skip_serializing_if = "bytes_empty", serialize_with = "as_base64")]
    pub hdrs: Vec<u8>,
    #[serde(skip_serializing_if = "bytes_empty", serialize_with = "as_base64")]
    pub data: Vec<u8>,
    #[serde(serialize_with = "crate::api::time::serialize")]
    pub time: i64,
}

fn bytes_empty(b: &[u8]) -> bool {
    b.is_empty()
}

fn as_base64<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64(b))
}
