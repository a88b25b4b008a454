//! What the API reports about a stream: `StreamInfo` (config, state,
//! times) and the message form of STREAM.MSG.GET. Written by the API;
//! read back by in-process clients (the embedded KV and object store).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::config::{is_zero_u64, ExternalStream, StreamConfig, SubjectTransform};
use crate::api::json::base64;
use crate::error::ApiError;

/// A stream's counters. Times are Unix nanoseconds, 0 for "none" (written
/// as Go's zero time). After a purge of everything `first_seq` is
/// `last_seq + 1` and `first_ts` is 0, as the reference reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes they count for (the reference's per-message sizes).
    pub bytes: u64,
    /// The first sequence still stored.
    pub first_seq: u64,
    /// When that message was stored.
    #[serde(
        serialize_with = "crate::api::time::serialize",
        deserialize_with = "crate::api::time::deserialize"
    )]
    pub first_ts: i64,
    /// The last sequence assigned.
    pub last_seq: u64,
    /// When the message at `last_seq` was stored.
    #[serde(
        serialize_with = "crate::api::time::serialize",
        deserialize_with = "crate::api::time::deserialize"
    )]
    pub last_ts: i64,
    /// Distinct subjects stored.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_subjects: u64,
    /// Per-subject counts; only with a `subjects_filter` in the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects: Option<BTreeMap<String, u64>>,
    /// Sequences between first and last that are gone.
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub num_deleted: u64,
    /// Only with `deleted_details` in the request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<u64>,
    /// Messages found damaged on recovery, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<LostData>,
    /// Consumers the stream has.
    pub consumer_count: u64,
}

/// Messages the store found damaged on recovery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LostData {
    /// Their sequences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub msgs: Vec<u64>,
    /// Their bytes.
    pub bytes: u64,
}

/// `cluster` in StreamInfo; a standalone server names itself leader.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterInfo {
    /// The cluster's name (empty when standalone).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The server leading the stream.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub leader: String,
}

/// How a mirror or source is keeping up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSourceInfo {
    /// The origin stream.
    pub name: String,
    /// Set when the origin is in another account or domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
    /// Origin messages not copied yet.
    pub lag: u64,
    /// Nanoseconds since it was last active; -1 never.
    pub active: i64,
    /// Why copying fails, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// The origin subjects copied.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// Filters that also rename them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
}

/// The body of stream_create/update/info responses and each STREAM.LIST
/// entry. The create response omits `cluster`; info includes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamInfo {
    /// The stream's configuration.
    pub config: StreamConfig,
    /// When it was created (Unix nanoseconds).
    #[serde(
        serialize_with = "crate::api::time::serialize",
        deserialize_with = "crate::api::time::deserialize"
    )]
    pub created: i64,
    /// Its counters.
    pub state: StreamState,
    /// The server's JetStream domain, when it has one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Who leads it (info replies only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// How the mirror keeps up, for a mirror.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSourceInfo>,
    /// How each source keeps up.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSourceInfo>,
    /// When the info was gathered.
    #[serde(
        serialize_with = "crate::api::time::serialize",
        deserialize_with = "crate::api::time::deserialize"
    )]
    pub ts: i64,
}

/// A message as STREAM.MSG.GET returns it, headers and data in base64.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredMsg {
    /// The subject it was published to.
    pub subject: String,
    /// Its sequence in the stream.
    pub seq: u64,
    /// The raw header block (`NATS/1.0\r\n...`), when the message has one
    /// and the request did not ask for `no_hdr`.
    #[serde(
        skip_serializing_if = "bytes_empty",
        serialize_with = "as_base64",
        deserialize_with = "from_base64"
    )]
    pub hdrs: Vec<u8>,
    /// The payload.
    #[serde(
        skip_serializing_if = "bytes_empty",
        serialize_with = "as_base64",
        deserialize_with = "from_base64"
    )]
    pub data: Vec<u8>,
    /// When it was stored (Unix nanoseconds).
    #[serde(
        serialize_with = "crate::api::time::serialize",
        deserialize_with = "crate::api::time::deserialize"
    )]
    pub time: i64,
}

fn bytes_empty(b: &[u8]) -> bool {
    b.is_empty()
}

fn as_base64<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64(b))
}

fn from_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    use ::base64::Engine as _;
    ::base64::engine::general_purpose::STANDARD
        .decode(String::deserialize(d)?)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::stream::{
        MsgGetBody, MsgGetResponse, NamesBody, StreamInfoResponse, StreamNamesResponse,
    };
    use crate::api::Paged;

    // A whole reply (`type`, paging and all) reads back as its body.
    #[test]
    fn replies_read_back_as_written() {
        let info = StreamInfo {
            config: StreamConfig {
                name: "KV_b".into(),
                subjects: vec!["$KV.b.>".into()],
                max_msgs_per_subject: 5,
                max_age: 2_000_000_000,
                sealed: true,
                metadata: [("_nats.ver".to_string(), "2.14.0".to_string())].into(),
                ..StreamConfig::default()
            },
            created: 1_795_313_285_494_839_765,
            state: StreamState {
                messages: 2,
                bytes: 66,
                first_seq: 1,
                last_seq: 3,
                last_ts: 1_795_313_285_100_000_000,
                num_deleted: 1,
                deleted: vec![2],
                lost: Some(LostData {
                    msgs: vec![4],
                    bytes: 9,
                }),
                ..StreamState::default()
            },
            cluster: Some(ClusterInfo {
                leader: "N".into(),
                ..ClusterInfo::default()
            }),
            sources: vec![StreamSourceInfo {
                name: "S".into(),
                active: -1,
                error: Some(ApiError::bad_request()),
                ..StreamSourceInfo::default()
            }],
            ts: 1_795_313_285_000_000_001,
            ..StreamInfo::default()
        };
        let reply = StreamInfoResponse::info(info.clone(), Paged::default()).to_json();
        assert_eq!(serde_json::from_slice::<StreamInfo>(&reply).unwrap(), info);

        let names = StreamNamesResponse::ok(NamesBody {
            paged: Paged {
                total: 2,
                offset: 0,
                limit: 1024,
            },
            streams: Some(vec!["A".into(), "B".into()]),
        })
        .to_json();
        let read: NamesBody = serde_json::from_slice(&names).unwrap();
        assert_eq!(
            (read.paged.total, read.streams),
            (2, Some(vec!["A".into(), "B".into()]))
        );

        let msg = StoredMsg {
            subject: "q.a".into(),
            seq: 7,
            hdrs: b"NATS/1.0\r\nA: b\r\n\r\n".to_vec(),
            data: b"hello".to_vec(),
            time: 1_795_313_285_494_839_765,
        };
        let got = MsgGetResponse::ok(MsgGetBody {
            message: Some(msg.clone()),
        })
        .to_json();
        let read: MsgGetBody = serde_json::from_slice(&got).unwrap();
        assert_eq!(read.message, Some(msg));
    }
}
