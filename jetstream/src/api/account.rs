//! `$JS.API.INFO`: the account's JetStream usage and limits.

use serde::Serialize;

use crate::api::{Response, ResponseBody, API_LEVEL};

pub(crate) const ACCOUNT_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.account_info_response";

/// Usage and limits; field order as the reference writes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// Bytes held by memory streams.
    pub memory: u64,
    /// Bytes held by file streams.
    pub storage: u64,
    /// Bytes reserved by streams' `max_bytes`.
    pub reserved_memory: u64,
    /// Bytes reserved by file streams' `max_bytes`.
    pub reserved_storage: u64,
    /// Streams the account has.
    pub streams: u64,
    /// Consumers on all its streams.
    pub consumers: u64,
    /// What the account may use.
    pub limits: AccountLimits,
    /// The server's JetStream domain, when it has one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// The account's API calls so far.
    pub api: ApiStats,
}

/// -1 is unlimited, the default for an account without configured limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountLimits {
    /// Bytes all its memory streams may hold together.
    pub max_memory: i64,
    /// Bytes all its file streams may hold together.
    pub max_storage: i64,
    /// Streams it may have.
    pub max_streams: i64,
    /// The consumer limit of each of its streams.
    pub max_consumers: i64,
    /// The most unacked messages a consumer may allow (`max_ack_pending`).
    pub max_ack_pending: i64,
    /// The largest `max_bytes` a memory stream may set.
    pub memory_max_stream_bytes: i64,
    /// The largest `max_bytes` a file stream may set.
    pub storage_max_stream_bytes: i64,
    /// Every stream must set `max_bytes`.
    pub max_bytes_required: bool,
}

impl Default for AccountLimits {
    fn default() -> Self {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
            max_ack_pending: -1,
            memory_max_stream_bytes: -1,
            storage_max_stream_bytes: -1,
            max_bytes_required: false,
        }
    }
}

/// API requests served to the account, and how many failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiStats {
    /// The JetStream API level the server speaks ([`API_LEVEL`]).
    pub level: u32,
    /// Requests served.
    pub total: u64,
    /// Requests answered with an error.
    pub errors: u64,
}

impl Default for ApiStats {
    fn default() -> Self {
        ApiStats {
            level: API_LEVEL,
            total: 0,
            errors: 0,
        }
    }
}

/// The body of the account info response: the info, or nothing on error.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AccountInfoBody {
    /// Absent when the request failed.
    #[serde(flatten)]
    pub info: Option<AccountInfo>,
}

impl ResponseBody for AccountInfoBody {
    const TYPE: &'static str = ACCOUNT_INFO_RESPONSE;
}

pub(crate) type AccountInfoResponse = Response<AccountInfoBody>;

impl AccountInfoResponse {
    pub(crate) fn info(info: AccountInfo) -> Self {
        Self::ok(AccountInfoBody { info: Some(info) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    // As nats-server 2.14.0 answered with one stream and two API calls.
    #[test]
    fn matches_reference_bytes() {
        let info = AccountInfo {
            streams: 1,
            api: ApiStats {
                total: 1,
                ..ApiStats::default()
            },
            ..AccountInfo::default()
        };
        let json = String::from_utf8(AccountInfoResponse::info(info.clone()).to_json()).unwrap();
        assert_eq!(
            json,
            r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"reserved_memory":0,"reserved_storage":0,"streams":1,"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,"max_bytes_required":false},"api":{"level":4,"total":1,"errors":0}}"#
        );
        let with_domain = AccountInfo {
            domain: "hub".into(),
            ..info
        };
        let json = String::from_utf8(AccountInfoResponse::info(with_domain).to_json()).unwrap();
        assert!(
            json.contains(r#""max_bytes_required":false},"domain":"hub","api":{"#),
            "{json}"
        );
    }

    #[test]
    fn error_form() {
        let json = String::from_utf8(
            AccountInfoResponse::error(ApiError::not_enabled_for_account()).to_json(),
        )
        .unwrap();
        assert_eq!(
            json,
            r#"{"type":"io.nats.jetstream.api.v1.account_info_response","error":{"code":503,"err_code":10039,"description":"JetStream not enabled for account"}}"#
        );
    }
}
