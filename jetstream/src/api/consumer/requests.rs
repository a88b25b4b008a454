//! Consumer endpoint bodies: what a request may carry and what each
//! response holds besides `type`/`error` (see [`crate::api::Response`]).
//!
//! Error forms differ per endpoint, as in the reference: consumer_names
//! and consumer_list keep `total/offset/limit` at 0 and `"consumers":[]`,
//! consumer_pause keeps `"paused":false,"pause_until":<zero time>`; the
//! others carry nothing but the error. `Response::error` gets this from
//! each body's `Default`.

use crate::api::wire::{is_false, is_zero_i64};
use serde::{Deserialize, Serialize};

use super::config::{ConsumerAction, ConsumerConfig, Timestamp};
use super::info::ConsumerInfo;
use crate::api::json::{nullable, Request};
use crate::api::{Paged, Response, ResponseBody, LIST_LIMIT, NAMES_LIMIT};

/// CONSUMER.CREATE (all three subject forms) and CONSUMER.DURABLE.CREATE.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreateConsumerRequest {
    /// The stream, as the request subject names it.
    #[serde(deserialize_with = "nullable")]
    pub stream_name: String,
    /// The consumer to create or update.
    #[serde(deserialize_with = "nullable")]
    pub config: ConsumerConfig,
    /// Create, update, or either.
    pub action: ConsumerAction,
    /// Turn the silent corrections of the defaults into errors (10157).
    #[serde(skip_serializing_if = "is_false", deserialize_with = "nullable")]
    pub pedantic: bool,
}

/// CONSUMER.NAMES and CONSUMER.LIST: optional; a body that is not JSON is
/// ignored (decode it with [`crate::api::decode_optional`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerNamesRequest {
    /// How many names to skip (paging).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
}

/// CONSUMER.LIST; its own type because the reference names it in errors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerListRequest {
    /// How many consumers to skip (paging).
    #[serde(skip_serializing_if = "is_zero_i64", deserialize_with = "nullable")]
    pub offset: i64,
}

/// CONSUMER.PAUSE: a time pauses until then; an empty body (or no time,
/// or a past one) resumes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerPauseRequest {
    /// Pause until this time; absent or past resumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<Timestamp>,
}

/// The `type` values of the consumer endpoints' responses.
pub(crate) const CONSUMER_CREATE_RESPONSE: &str =
    "io.nats.jetstream.api.v1.consumer_create_response";
pub(crate) const CONSUMER_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_info_response";
pub(crate) const CONSUMER_NAMES_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_names_response";
pub(crate) const CONSUMER_LIST_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_list_response";
pub(crate) const CONSUMER_DELETE_RESPONSE: &str =
    "io.nats.jetstream.api.v1.consumer_delete_response";
pub(crate) const CONSUMER_PAUSE_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_pause_response";
pub(crate) const CONSUMER_UNPIN_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_unpin_response";

/// CONSUMER.UNPIN: the priority group whose pin is taken back.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsumerUnpinRequest {
    /// The group.
    pub group: String,
}

impl Request for ConsumerUnpinRequest {
    const GO_TYPE: &'static str = "server.JSApiConsumerUnpinRequest";
}

/// consumer_unpin: nothing but the type (or the error).
#[derive(Clone, Debug, Default, Serialize)]
pub struct UnpinBody {}

impl ResponseBody for UnpinBody {
    const TYPE: &'static str = CONSUMER_UNPIN_RESPONSE;
}

pub(crate) type ConsumerUnpinResponse = Response<UnpinBody>;

pub(crate) const CONSUMER_RESET_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_reset_response";

/// CONSUMER.RESET: where delivery starts over (0 or absent: past the ack
/// floor).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsumerResetRequest {
    /// The stream sequence delivery starts over at.
    pub seq: u64,
}

impl Request for ConsumerResetRequest {
    const GO_TYPE: &'static str = "server.JSApiConsumerResetRequest";
}

/// consumer_reset: the consumer's info after the reset, and where it
/// starts over.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ResetBody {
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<ConsumerInfo>,
    /// The stream sequence delivery starts over at (0 in an error reply,
    /// as the reference writes it).
    pub reset_seq: u64,
}

impl ResponseBody for ResetBody {
    const TYPE: &'static str = CONSUMER_RESET_RESPONSE;
}

pub(crate) type ConsumerResetResponse = Response<ResetBody>;

/// consumer_create: the info of the created or updated consumer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateBody {
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<ConsumerInfo>,
}

impl ResponseBody for CreateBody {
    const TYPE: &'static str = CONSUMER_CREATE_RESPONSE;
}

/// consumer_info: the consumer's info.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InfoBody {
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<ConsumerInfo>,
}

impl ResponseBody for InfoBody {
    const TYPE: &'static str = CONSUMER_INFO_RESPONSE;
}

/// consumer_names: `consumers` is `[]` when there are none (unlike
/// stream_names' `null`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NamesBody {
    /// Which page of the names this is.
    #[serde(flatten)]
    pub paged: Paged,
    /// The consumers' names, sorted.
    pub consumers: Vec<String>,
}

impl ResponseBody for NamesBody {
    const TYPE: &'static str = CONSUMER_NAMES_RESPONSE;
}

/// consumer_list: a page of consumer infos.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ListBody {
    /// Which page of the consumers this is.
    #[serde(flatten)]
    pub paged: Paged,
    /// Their infos, sorted by name.
    pub consumers: Vec<ConsumerInfo>,
    /// Consumers that did not answer in time (clustered servers); tern leaves it empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl ResponseBody for ListBody {
    const TYPE: &'static str = CONSUMER_LIST_RESPONSE;
}

/// consumer_delete: whether the consumer went.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeleteBody {
    /// True when it was deleted.
    #[serde(skip_serializing_if = "is_false")]
    pub success: bool,
}

impl ResponseBody for DeleteBody {
    const TYPE: &'static str = CONSUMER_DELETE_RESPONSE;
}

/// consumer_pause: the pause as stored, in UTC; `pause_remaining` only
/// while paused.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PauseBody {
    /// Whether the consumer is paused now.
    pub paused: bool,
    /// When the pause ends (Go's zero time when not paused).
    pub pause_until: Timestamp,
    /// Nanoseconds until then.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub pause_remaining: i64,
}

impl ResponseBody for PauseBody {
    const TYPE: &'static str = CONSUMER_PAUSE_RESPONSE;
}

pub(crate) type ConsumerCreateResponse = Response<CreateBody>;
pub(crate) type ConsumerInfoResponse = Response<InfoBody>;
pub(crate) type ConsumerNamesResponse = Response<NamesBody>;
pub(crate) type ConsumerListResponse = Response<ListBody>;
pub(crate) type ConsumerDeleteResponse = Response<DeleteBody>;
pub(crate) type ConsumerPauseResponse = Response<PauseBody>;

impl ConsumerCreateResponse {
    pub(crate) fn created(info: ConsumerInfo) -> Self {
        Self::ok(CreateBody { info: Some(info) })
    }
}

impl ConsumerInfoResponse {
    pub(crate) fn info(info: ConsumerInfo) -> Self {
        Self::ok(InfoBody { info: Some(info) })
    }
}

impl ConsumerNamesResponse {
    /// One page of `names` (sorted by the caller, as the reference sorts).
    pub(crate) fn page(names: &[String], offset: i64) -> Self {
        let (paged, consumers) = page(names, offset, NAMES_LIMIT);
        Self::ok(NamesBody { paged, consumers })
    }
}

impl ConsumerListResponse {
    /// One page of `infos` (sorted by name by the caller).
    pub(crate) fn page(infos: &[ConsumerInfo], offset: i64) -> Self {
        let (paged, consumers) = page(infos, offset, LIST_LIMIT);
        Self::ok(ListBody {
            paged,
            consumers,
            missing: Vec::new(),
        })
    }
}

impl ConsumerDeleteResponse {
    pub(crate) fn deleted() -> Self {
        Self::ok(DeleteBody { success: true })
    }
}

impl ConsumerPauseResponse {
    /// The reply to PAUSE at `now` for the consumer's new `pause_until`
    /// (`None` after a resume).
    pub(crate) fn pause(pause_until: Option<Timestamp>, now: i64) -> Self {
        let until = pause_until.map(Timestamp::to_utc).unwrap_or_default();
        let remaining = until.nanos.saturating_sub(now).max(0);
        Self::ok(PauseBody {
            paused: remaining > 0,
            pause_until: until,
            pause_remaining: remaining,
        })
    }
}

/// The reference's paging: `offset` is clamped to the total (negative to
/// 0) and at most `limit` items follow it.
pub fn page<T: Clone>(items: &[T], offset: i64, limit: i64) -> (Paged, Vec<T>) {
    let total = items.len();
    let start = usize::try_from(offset.max(0))
        .unwrap_or(usize::MAX)
        .min(total);
    let count = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
    let end = start.saturating_add(count).min(total);
    let paged = Paged {
        total: i64::try_from(total).unwrap_or(i64::MAX),
        offset: i64::try_from(start).unwrap_or(i64::MAX),
        limit,
    };
    (paged, items[start..end].to_vec())
}

// The reference's Go type names, for `json: cannot unmarshal X into Go
// value of type ...`.
impl Request for CreateConsumerRequest {
    const GO_TYPE: &'static str = "server.CreateConsumerRequest";
}

impl Request for ConsumerNamesRequest {
    const GO_TYPE: &'static str = "server.JSApiConsumersRequest";
}

impl Request for ConsumerListRequest {
    const GO_TYPE: &'static str = "server.JSApiConsumersRequest";
}

impl Request for ConsumerPauseRequest {
    const GO_TYPE: &'static str = "server.JSApiConsumerPauseRequest";
}
