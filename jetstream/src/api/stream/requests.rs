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
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub deleted_details: bool,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub subjects_filter: String,
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
}

/// STREAM.NAMES and STREAM.LIST: optional; `subject` keeps the streams
/// whose subjects collide with it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamNamesRequest {
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
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
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
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
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub filter: String,
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub seq: u64,
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
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub seq: u64,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub last_by_subj: String,
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "nullable"
    )]
    pub next_by_subj: String,
    /// Direct get only: up to this many messages, then an EOB status.
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub batch: i64,
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
    #[serde(skip_serializing_if = "is_zero_u64", deserialize_with = "nullable")]
    pub up_to_seq: u64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::api::time::opt"
    )]
    pub up_to_time: Option<i64>,
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
    #[serde(deserialize_with = "nullable")]
    pub seq: u64,
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub no_erase: bool,
}

/// The `type` values of the stream endpoints' responses.
pub const STREAM_CREATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub const STREAM_UPDATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub const STREAM_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub const STREAM_NAMES_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_names_response";
pub const STREAM_LIST_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_list_response";
pub const STREAM_DELETE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_delete_response";
pub const STREAM_PURGE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_purge_response";
pub const STREAM_MSG_GET_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";
pub const STREAM_MSG_DELETE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_msg_delete_response";
pub const STREAM_SNAPSHOT_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_snapshot_response";
pub const STREAM_RESTORE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_restore_response";

/// stream_create: the info plus `did_create` (true also on an idempotent
/// re-create with the same config).
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateBody {
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
    #[serde(skip_serializing_if = "is_false")]
    pub did_create: bool,
}

impl ResponseBody for CreateBody {
    const TYPE: &'static str = STREAM_CREATE_RESPONSE;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct UpdateBody {
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

impl ResponseBody for UpdateBody {
    const TYPE: &'static str = STREAM_UPDATE_RESPONSE;
}

/// stream_info: paging (0/0/0 unless a subjects filter was given) first.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InfoBody {
    #[serde(flatten)]
    pub paged: Paged,
    #[serde(flatten)]
    pub info: Option<StreamInfo>,
}

impl ResponseBody for InfoBody {
    const TYPE: &'static str = STREAM_INFO_RESPONSE;
}

/// stream_names: `streams` is `null`, not `[]`, when there are none.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NamesBody {
    #[serde(flatten)]
    pub paged: Paged,
    pub streams: Option<Vec<String>>,
}

impl ResponseBody for NamesBody {
    const TYPE: &'static str = STREAM_NAMES_RESPONSE;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ListBody {
    #[serde(flatten)]
    pub paged: Paged,
    pub streams: Vec<StreamInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub offline: BTreeMap<String, String>,
}

impl ResponseBody for ListBody {
    const TYPE: &'static str = STREAM_LIST_RESPONSE;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DeleteBody {
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

impl ResponseBody for DeleteBody {
    const TYPE: &'static str = STREAM_DELETE_RESPONSE;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PurgeBody {
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
    pub purged: u64,
}

impl ResponseBody for PurgeBody {
    const TYPE: &'static str = STREAM_PURGE_RESPONSE;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MsgGetBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<StoredMsg>,
}

impl ResponseBody for MsgGetBody {
    const TYPE: &'static str = STREAM_MSG_GET_RESPONSE;
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MsgDeleteBody {
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

impl ResponseBody for MsgDeleteBody {
    const TYPE: &'static str = STREAM_MSG_DELETE_RESPONSE;
}

pub type StreamCreateResponse = Response<CreateBody>;
pub type StreamUpdateResponse = Response<UpdateBody>;
pub type StreamInfoResponse = Response<InfoBody>;
pub type StreamNamesResponse = Response<NamesBody>;
pub type StreamListResponse = Response<ListBody>;
pub type StreamDeleteResponse = Response<DeleteBody>;
pub type StreamPurgeResponse = Response<PurgeBody>;
pub type MsgGetResponse = Response<MsgGetBody>;
pub type MsgDeleteResponse = Response<MsgDeleteBody>;

/// Shorthands for the success forms.
impl StreamCreateResponse {
    pub fn created(info: StreamInfo, did_create: bool) -> Self {
        Self::ok(CreateBody {
            info: Some(info),
            did_create,
        })
    }
}

impl StreamUpdateResponse {
    pub fn updated(info: StreamInfo) -> Self {
        Self::ok(UpdateBody { info: Some(info) })
    }
}

impl StreamInfoResponse {
    pub fn info(info: StreamInfo, paged: Paged) -> Self {
        Self::ok(InfoBody {
            paged,
            info: Some(info),
        })
    }
}

impl StreamDeleteResponse {
    pub fn deleted() -> Self {
        Self::ok(DeleteBody { success: true })
    }
}

impl StreamPurgeResponse {
    pub fn purged(purged: u64) -> Self {
        Self::ok(PurgeBody {
            success: true,
            purged,
        })
    }
}

impl MsgDeleteResponse {
    pub fn deleted() -> Self {
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
