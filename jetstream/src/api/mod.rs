//! The JetStream API's JSON: request bodies, replies and PubAcks, as
//! nats-server 2.14 reads and writes them on `$JS.API.>`.
//!
//! Pure data: handlers elsewhere decode a request with [`json::decode`]
//! (Go's error texts, strict fields), run the checks here (e.g.
//! [`stream::StreamConfig::validate_create`]), act, and publish
//! [`Response::to_json`] to the reply subject. Every reply is
//! `{"type":"io.nats.jetstream.api.v1.<kind>_response", ...}`; a failure
//! adds `"error":{code,err_code,description}` (from [`crate::error`]) and
//! drops the success fields. Times are Unix nanoseconds in memory and
//! RFC 3339 on the wire ([`time`]); durations are integer nanoseconds.

#[macro_use]
mod wire;
pub mod account;
pub mod consumer;
pub mod json;
pub mod pub_ack;
pub mod stream;
pub mod time;

pub use json::{decode, decode_optional, parse_json};
pub use pub_ack::PubAck;
pub use time::{format_time, parse_time};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// The JetStream API level this server speaks (2.14).
pub const API_LEVEL: u32 = 4;

/// The nats-server version whose behaviour tern matches, as stream
/// metadata reports it.
pub const SERVER_VERSION: &str = "2.14.0";

/// Page sizes the reference uses: STREAM.NAMES, STREAM.LIST, and the
/// per-subject counts of STREAM.INFO with a `subjects_filter`.
pub(crate) const NAMES_LIMIT: i64 = 1024;
pub(crate) const LIST_LIMIT: i64 = 256;
pub(crate) const SUBJECTS_LIMIT: i64 = 100_000;

/// A response's endpoint-specific part, and its `type`.
pub(crate) trait ResponseBody: Serialize + Default {
    const TYPE: &'static str;
}

/// One JS API reply: `type`, then `error` on failure, then the body.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Response<B: ResponseBody> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    #[serde(flatten)]
    pub body: B,
}

impl<B: ResponseBody> Response<B> {
    pub fn ok(body: B) -> Self {
        Response {
            kind: B::TYPE,
            error: None,
            body,
        }
    }

    /// The failure form: the error and whatever the body's default shows
    /// (the reference keeps some zero fields, e.g. `"purged":0`).
    pub fn error(err: ApiError) -> Self {
        Response {
            kind: B::TYPE,
            error: Some(err),
            body: B::default(),
        }
    }

    /// The reply's bytes, with Go's string escaping.
    pub fn to_json(&self) -> Vec<u8> {
        json::to_json(self)
    }
}

/// Paging fields of list-like replies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged {
    /// How many items there are in all.
    pub total: i64,
    /// Where this page starts.
    pub offset: i64,
    /// The most items a page holds.
    pub limit: i64,
}
