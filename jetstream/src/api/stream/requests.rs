//! Stream endpoint bodies: what a request may carry and what each response
//! holds besides `type`/`error` (see [`crate::api::Response`]).
//!
//! Error forms differ per endpoint, as in the reference: stream_info's
//! keeps `total/offset/limit` at 0, stream_names' `"streams":null`,
//! stream_list's `"streams":[]`, stream_purge's `"purged":0`; the others
//! carry nothing but the error. `Response::error` gets this from each
//! body's `Default`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::{is_false, is_zero_i64, is_zero_u64, StreamConfig};
use super::info::{StoredMsg, StreamInfo};
use crate::api::json::{nullable, Request};
use crate::api::{Paged, Response, ResponseBody};
use crate::error::ApiError;

/// STREAM.INFO: optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamInfoRequest {
    /// List the removed sequences in `state.deleted`.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub deleted_details: bool,
    /// Count messages per subject for the subjects matching this.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub subjects_filter: String,
    /// How many of those subjects to skip (paging).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
}

/// STREAM.NAMES and STREAM.LIST: optional; `subject` keeps the streams
/// whose subjects collide with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamNamesRequest {
    /// How many names to skip (paging).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
    /// Only streams whose subjects collide with this one.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub subject: String,
}

/// STREAM.LIST: the same fields as [`StreamNamesRequest`]; its own type
/// because the reference names it in decode errors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamListRequest {
    /// How many streams to skip (paging).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
    /// Only streams whose subjects collide with this one.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub subject: String,
}

/// STREAM.PURGE: optional. `seq` purges below it, `keep` leaves the newest
/// N; `filter` limits either to matching subjects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PurgeRequest {
    /// Only messages on subjects matching this.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub filter: String,
    /// Purge the messages below this sequence.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub seq: u64,
    /// Keep this many of the newest messages.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub keep: u64,
}

impl PurgeRequest {
    /// `seq` and `keep` together are a bad request (10003).
    pub fn check(&self) -> Result<(), ApiError> {
        if self.seq > 0 && self.keep > 0 {
            return Err(ApiError::bad_request());
        }
        Ok(())
    }
}

/// STREAM.MSG.GET and DIRECT.GET.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsgGetRequest {
    /// The message at this sequence (or, with `next_by_subj`, the first from it).
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub seq: u64,
    /// The last message on this subject.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub last_by_subj: String,
    /// The first message on this subject (wildcards allowed) from `seq`.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub next_by_subj: String,
    /// Direct get only: up to this many messages, then an EOB status.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub batch: i64,
    /// Direct get only: stop a batch once this many bytes were sent.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub max_bytes: i64,
    /// Unix nanoseconds: the first message at or after this time.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::api::time::opt"
    )]
    pub start_time: Option<i64>,
    /// Direct get only: the last message of each of these subjects.
    #[serde(skip_serializing_if = "Vec::is_empty", deserialize_with = "nullable")]
    pub multi_last: Vec<String>,
    /// With `multi_last`: as the stream was at this sequence.
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub up_to_seq: u64,
    /// With `multi_last`: as the stream was at this time (Unix nanoseconds).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::api::time::opt"
    )]
    pub up_to_time: Option<i64>,
    /// Direct get only: leave the stored headers out.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub no_hdr: bool,
}

impl MsgGetRequest {
    /// The reference's checks for STREAM.MSG.GET (JSON reply, one message):
    /// no batching, and exactly one way to pick the message (`next_by_subj`
    /// may filter a `seq` or `start_time`). Otherwise 10003.
    pub fn check_single(&self) -> Result<(), ApiError> {
        let seq = self.seq > 0;
        let last = !self.last_by_subj.is_empty();
        let next = !self.next_by_subj.is_empty();
        let time = self.start_time.is_some();
        let conflicting = (seq && last)
            || (!seq && !last && !next && !time)
            || (seq && time)
            || (time && last)
            || (last && next);
        if self.batch > 0 || self.max_bytes > 0 || conflicting {
            return Err(ApiError::bad_request());
        }
        Ok(())
    }
}

/// STREAM.MSG.DELETE: required (an empty body is 10003). `no_erase`
/// skips overwriting the message's bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MsgDeleteRequest {
    /// The message to delete.
    #[serde(deserialize_with = "nullable")]
    pub seq: u64,
    /// Skip overwriting the message's bytes on disk.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub no_erase: bool,
}

/// The `type` values of the stream endpoints' responses.
pub(crate) const STREAM_CREATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub(crate) const STREAM_UPDATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub(crate) const STREAM_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub(crate) const STREAM_NAMES_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_names_response";
pub(crate) const STREAM_LIST_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_list_response";
pub(crate) const STREAM_DELETE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
pub(crate) const STREAM_PURGE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
pub(crate) const STREAM_MSG_GET_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
pub(crate) const STREAM_MSG_DELETE_RESPONSE: &str =
    "io.nats.jetstream.api.v1.stream_msg_delete_response";

/// stream_create: the info plus `did_create` (true also on an idempotent
/// re-create with the same config).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateBody {
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
    /// The stream was created (or already existed with this config).
    #[serde(skip_serializing_if = "is_false")]
    pub did_create: bool,
}

impl ResponseBody for CreateBody {
    const TYPE: &'static str = STREAM_CREATE_RESPONSE;
}

/// stream_update: the stream's info after the update.
#[derive(Clone, Debug, Default, Serialize)]
pub struct UpdateBody {
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

impl ResponseBody for UpdateBody {
    const TYPE: &'static str = STREAM_UPDATE_RESPONSE;
}

/// stream_info: paging (0/0/0 unless a subjects filter was given) first.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InfoBody {
    /// Which page of the per-subject counts this is.
    #[serde(flatten)]
    pub paged: Paged,
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

impl ResponseBody for InfoBody {
    const TYPE: &'static str = STREAM_INFO_RESPONSE;
}

/// stream_names: `streams` is `null`, not `[]`, when there are none.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NamesBody {
    /// Which page of the names this is.
    #[serde(flatten)]
    pub paged: Paged,
    /// The streams' names, sorted.
    pub streams: Option<Vec<String>>,
}

impl ResponseBody for NamesBody {
    const TYPE: &'static str = STREAM_NAMES_RESPONSE;
}

/// stream_list: a page of stream infos; `streams` is `[]` when there are none.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ListBody {
    /// Which page of the streams this is.
    #[serde(flatten)]
    pub paged: Paged,
    /// Their infos, sorted by name.
    pub streams: Vec<StreamInfo>,
    /// Streams that did not answer in time (clustered servers); tern leaves it empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Streams that are offline (clustered servers), with why; tern leaves it empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub offline: BTreeMap<String, String>,
}

impl ResponseBody for ListBody {
    const TYPE: &'static str = STREAM_LIST_RESPONSE;
}

/// stream_delete: whether the stream went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeleteBody {
    /// True when it was deleted.
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

impl ResponseBody for DeleteBody {
    const TYPE: &'static str = STREAM_DELETE_RESPONSE;
}

/// stream_purge: how many messages went; `purged` is kept (0) on error.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PurgeBody {
    /// True when the purge ran.
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
    /// Messages removed.
    pub purged: u64,
}

impl ResponseBody for PurgeBody {
    const TYPE: &'static str = STREAM_PURGE_RESPONSE;
}

/// stream_msg_get: the message asked for.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MsgGetBody {
    /// Absent when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMsg>,
}

impl ResponseBody for MsgGetBody {
    const TYPE: &'static str = STREAM_MSG_GET_RESPONSE;
}

/// stream_msg_delete: whether the message went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MsgDeleteBody {
    /// True when it was deleted.
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

impl ResponseBody for MsgDeleteBody {
    const TYPE: &'static str = STREAM_MSG_DELETE_RESPONSE;
}

pub(crate) type StreamCreateResponse = Response<CreateBody>;
pub(crate) type StreamUpdateResponse = Response<UpdateBody>;
pub(crate) type StreamInfoResponse = Response<InfoBody>;
pub(crate) type StreamNamesResponse = Response<NamesBody>;
pub(crate) type StreamListResponse = Response<ListBody>;
pub(crate) type StreamDeleteResponse = Response<DeleteBody>;
pub(crate) type StreamPurgeResponse = Response<PurgeBody>;
pub(crate) type MsgGetResponse = Response<MsgGetBody>;
pub(crate) type MsgDeleteResponse = Response<MsgDeleteBody>;

/// Shorthands for the success forms.
impl StreamCreateResponse {
    pub(crate) fn created(info: StreamInfo, did_create: bool) -> Self {
        Self::ok(CreateBody {
            info: Some(info),
            did_create,
        })
    }
}

impl StreamUpdateResponse {
    pub(crate) fn updated(info: StreamInfo) -> Self {
        Self::ok(UpdateBody { info: Some(info) })
    }
}

impl StreamInfoResponse {
    pub(crate) fn info(info: StreamInfo, paged: Paged) -> Self {
        Self::ok(InfoBody {
            paged,
            info: Some(info),
        })
    }
}

impl StreamDeleteResponse {
    pub(crate) fn deleted() -> Self {
        Self::ok(DeleteBody { success: true })
    }
}

impl StreamPurgeResponse {
    pub(crate) fn purged(purged: u64) -> Self {
        Self::ok(PurgeBody {
            success: true,
            purged,
        })
    }
}

impl MsgDeleteResponse {
    pub(crate) fn deleted() -> Self {
        Self::ok(MsgDeleteBody { success: true })
    }
}

// The reference's Go type names, for `json: cannot unmarshal X into Go
// value of type ...`.
impl Request for StreamConfig {
    const GO_TYPE: &'static str = "server.StreamConfigRequest";
}

impl Request for StreamInfoRequest {
    const GO_TYPE: &'static str = "server.JSApiStreamInfoRequest";
}

impl Request for StreamNamesRequest {
    const GO_TYPE: &'static str = "server.JSApiStreamNamesRequest";
}

impl Request for StreamListRequest {
    const GO_TYPE: &'static str = "server.JSApiStreamListRequest";
}

impl Request for PurgeRequest {
    const GO_TYPE: &'static str = "server.JSApiStreamPurgeRequest";
}

impl Request for MsgGetRequest {
    const GO_TYPE: &'static str = "server.JSApiMsgGetRequest";
}

impl Request for MsgDeleteRequest {
    const GO_TYPE: &'static str = "server.JSApiMsgDeleteRequest";
}

/// `$JS.API.STREAM.SNAPSHOT.<stream>`: where the archive goes and how.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SnapshotRequest {
    /// The subject the chunks are sent to (required).
    pub deliver_subject: String,
    /// Leave the consumers out.
    pub no_consumers: bool,
    /// Bytes a chunk (default 128 KiB; 1 KiB to 1 MiB).
    pub chunk_size: i64,
    /// Bytes in flight unacknowledged (default 8 MiB; 1 KiB to 32 MiB).
    pub window_size: i64,
    /// Check every message first.
    pub jsck: bool,
}

impl Request for SnapshotRequest {
    const GO_TYPE: &'static str = "server.JSApiStreamSnapshotRequest";
}

/// `$JS.API.STREAM.RESTORE.<stream>`: the config to restore under (and
/// the state it had, which a single server does not use).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RestoreRequest {
    pub config: StreamConfig,
    pub state: serde_json::Value,
}

impl Request for RestoreRequest {
    const GO_TYPE: &'static str = "server.JSApiStreamRestoreRequest";
}

pub(crate) const STREAM_SNAPSHOT_RESPONSE: &str =
    "io.nats.jetstream.api.v1.stream_snapshot_response";
pub(crate) const STREAM_RESTORE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_restore_response";

/// stream_snapshot: the config and state the archive holds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SnapshotBody {
    /// Absent when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<StreamConfig>,
    /// Absent when the request failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<crate::api::stream::StreamState>,
}

impl ResponseBody for SnapshotBody {
    const TYPE: &'static str = STREAM_SNAPSHOT_RESPONSE;
}

/// stream_restore: where to send the archive's chunks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RestoreBody {
    /// Absent when the request failed.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
}

impl ResponseBody for RestoreBody {
    const TYPE: &'static str = STREAM_RESTORE_RESPONSE;
}

pub(crate) type StreamSnapshotResponse = Response<SnapshotBody>;
pub(crate) type StreamRestoreResponse = Response<RestoreBody>;
