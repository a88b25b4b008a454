//! JetStream API errors, as clients see them:
//! `{"code":<http-ish>,"err_code":<jetstream code>,"description":"..."}`.
//!
//! Every error the API returns is built from one row of the table
//! (`error/table.rs`), which mirrors the reference's `server/errors.json` (same codes, same
//! texts, same `{placeholder}` names), so conformance tests can compare the
//! descriptions byte for byte. A row is an [`ErrorDef`]; the constructors on
//! [`ApiError`] fill in its placeholders. Rows without a constructor are used
//! as `ApiError::from(ROW)`.

use std::fmt;

use serde::{Deserialize, Serialize};

mod table;
pub(crate) use table::*;

/// An error as sent in a JS API response or a PubAck.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP-like status: 400 for a bad request, 404 for something
    /// missing, 500/503 for a server-side failure.
    pub code: u16,
    /// The JetStream error code (`10059` = stream not found, ...), stable
    /// across releases: what programs should match on.
    pub err_code: u16,
    /// The text for people, exactly as the reference words it.
    pub description: String,
}

/// Like the reference's `ApiError.Error()`: `description (err_code)`.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description, self.err_code)
    }
}

impl std::error::Error for ApiError {}

/// One row of errors.json. `description` may hold `{name}` placeholders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ErrorDef {
    pub code: u16,
    pub err_code: u16,
    pub description: &'static str,
}

impl ErrorDef {
    /// The error with each `{name}` placeholder replaced by its value.
    pub fn with(self, args: &[(&str, &dyn fmt::Display)]) -> ApiError {
        let mut description = self.description.to_string();
        for (name, value) in args {
            description = description.replace(&format!("{{{name}}}"), &value.to_string());
        }
        ApiError {
            code: self.code,
            err_code: self.err_code,
            description,
        }
    }
}

impl From<ErrorDef> for ApiError {
    fn from(def: ErrorDef) -> Self {
        def.with(&[])
    }
}

// ---------------------------------------------------------------------------
// Texts the reference passes into the `{err}` rows above from more than one
// place (the API handlers and the stream state machine).
// ---------------------------------------------------------------------------

/// 10110, the purge of a `deny_purge` stream.
pub(crate) const PURGE_NOT_PERMITTED: &str = "stream purge not permitted";
/// 10057, the delete of a message in a `deny_delete` stream.
pub(crate) const MSG_DELETE_NOT_PERMITTED: &str = "message delete not permitted";
/// 10057, deleting a sequence at or below the last one that is not there.
pub(crate) const MSG_DELETE_NO_MESSAGE: &str = "no message found";
/// 10057, deleting a sequence above the stream's last one.
pub(crate) const MSG_DELETE_EOF: &str = "stream store EOF";
/// 10111, a `Nats-Rollup` header on a stream without `allow_rollup_hdrs`.
pub(crate) const ROLLUP_NOT_PERMITTED: &str = "rollup not permitted";
/// 10077 with discard new, one per limit.
pub(crate) const MAX_MSGS_EXCEEDED: &str = "maximum messages exceeded";
pub(crate) const MAX_BYTES_EXCEEDED: &str = "maximum bytes exceeded";
pub(crate) const MAX_MSGS_PER_SUBJECT_EXCEEDED: &str = "maximum messages per subject exceeded";

/// Go's `%q` for the texts that embed a client's value: double quotes,
/// backslash escapes, `\xNN` for other control bytes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl ApiError {
    pub(crate) fn bad_request() -> Self {
        BAD_REQUEST.into()
    }

    /// 10025 `invalid JSON: <err>`; `err` is the Go decoder's text
    /// (`api::json` produces it).
    pub fn invalid_json(err: impl fmt::Display) -> Self {
        INVALID_JSON.with(&[("err", &err)])
    }

    pub(crate) fn not_empty_request() -> Self {
        NOT_EMPTY_REQUEST.into()
    }

    pub(crate) fn not_enabled_for_account() -> Self {
        NOT_ENABLED_FOR_ACCOUNT.into()
    }

    pub(crate) fn insufficient_resources() -> Self {
        INSUFFICIENT_RESOURCES.into()
    }

    /// 429/10167: a stream's or the API's ingest queue is full.
    pub fn too_many_requests() -> Self {
        STREAM_TOO_MANY_REQUESTS.into()
    }

    pub(crate) fn maximum_streams_limit() -> Self {
        MAXIMUM_STREAMS_LIMIT.into()
    }

    pub(crate) fn required_api_level() -> Self {
        REQUIRED_API_LEVEL.into()
    }

    pub(crate) fn pedantic(err: impl fmt::Display) -> Self {
        PEDANTIC.with(&[("err", &err)])
    }

    pub(crate) fn stream_not_found() -> Self {
        STREAM_NOT_FOUND.into()
    }

    /// 10056: the name in the request subject differs from the body's.
    pub fn stream_name_mismatch() -> Self {
        STREAM_MISMATCH.into()
    }

    /// 10058: create of an existing stream with a different configuration.
    pub fn stream_name_in_use() -> Self {
        STREAM_NAME_EXIST.into()
    }

    /// 10060: `Nats-Expected-Stream` names another stream.
    pub fn stream_not_match() -> Self {
        STREAM_NOT_MATCH.into()
    }

    pub(crate) fn subjects_overlap() -> Self {
        STREAM_SUBJECT_OVERLAP.into()
    }

    /// 10052 with the given text (the stream config checks).
    pub fn stream_invalid_config(err: impl fmt::Display) -> Self {
        STREAM_INVALID_CONFIG.with(&[("err", &err)])
    }

    pub(crate) fn stream_name_contains_path_separators() -> Self {
        STREAM_NAME_CONTAINS_PATH_SEPARATORS.into()
    }

    pub(crate) fn stream_replicas_not_supported() -> Self {
        STREAM_REPLICAS_NOT_SUPPORTED.into()
    }

    pub(crate) fn stream_mirror_not_updatable() -> Self {
        STREAM_MIRROR_NOT_UPDATABLE.into()
    }

    pub(crate) fn replicas_count_negative() -> Self {
        REPLICAS_COUNT_CANNOT_BE_NEGATIVE.into()
    }

    pub(crate) fn stream_sealed() -> Self {
        STREAM_SEALED.into()
    }

    /// 10054: the message (headers included) is over `max_msg_size`.
    pub fn message_too_large() -> Self {
        STREAM_MESSAGE_EXCEEDS_MAXIMUM.into()
    }

    /// 10071 `wrong last sequence: <seq>`, `seq` being the actual last.
    pub fn wrong_last_sequence(seq: u64) -> Self {
        STREAM_WRONG_LAST_SEQUENCE.with(&[("seq", &seq)])
    }

    /// 10070 `wrong last msg ID: <id>`, `id` being the actual last (may be empty).
    pub fn wrong_last_msg_id(id: &str) -> Self {
        STREAM_WRONG_LAST_MSG_ID.with(&[("id", &id)])
    }

    /// 10077 with the given text, e.g. [`MAX_MSGS_EXCEEDED`].
    pub fn store_failed(err: impl fmt::Display) -> Self {
        STREAM_STORE_FAILED.with(&[("err", &err)])
    }

    /// 10037 (STREAM.MSG.GET and friends).
    pub fn no_message_found() -> Self {
        NO_MESSAGE_FOUND.into()
    }

    pub(crate) fn sequence_not_found(seq: u64) -> Self {
        SEQUENCE_NOT_FOUND.with(&[("seq", &seq)])
    }

    /// 10057 with the given text, e.g. [`MSG_DELETE_NO_MESSAGE`].
    pub fn msg_delete_failed(err: impl fmt::Display) -> Self {
        STREAM_MSG_DELETE_FAILED.with(&[("err", &err)])
    }

    /// 10057 `no message found`: the sequence is not in the stream.
    pub fn msg_delete_not_found() -> Self {
        Self::msg_delete_failed(MSG_DELETE_NO_MESSAGE)
    }

    pub(crate) fn msg_delete_not_permitted() -> Self {
        Self::msg_delete_failed(MSG_DELETE_NOT_PERMITTED)
    }

    /// 10110 with the given text.
    pub fn purge_failed(err: impl fmt::Display) -> Self {
        STREAM_PURGE_FAILED.with(&[("err", &err)])
    }

    pub(crate) fn purge_not_permitted() -> Self {
        Self::purge_failed(PURGE_NOT_PERMITTED)
    }

    pub(crate) fn rollup_not_permitted() -> Self {
        STREAM_ROLLUP_FAILED.with(&[("err", &ROLLUP_NOT_PERMITTED)])
    }

    /// 10111 `rollup value invalid: "<value>"`.
    pub fn rollup_invalid(value: &str) -> Self {
        let text = format!("rollup value invalid: {}", go_quote(value));
        STREAM_ROLLUP_FAILED.with(&[("err", &text)])
    }

    pub(crate) fn ttl_invalid() -> Self {
        MESSAGE_TTL_INVALID.into()
    }

    pub(crate) fn ttl_disabled() -> Self {
        MESSAGE_TTL_DISABLED.into()
    }

    /// 10012 with the given text (e.g. `ack policy can not be updated`).
    pub fn consumer_create(err: impl fmt::Display) -> Self {
        CONSUMER_CREATE.with(&[("err", &err)])
    }

    pub(crate) fn consumer_not_found() -> Self {
        CONSUMER_NOT_FOUND.into()
    }

    /// 10148: action `create` on an existing consumer with another config.
    pub fn consumer_already_exists() -> Self {
        CONSUMER_ALREADY_EXISTS.into()
    }

    /// 10149: action `update` on a missing consumer.
    pub fn consumer_does_not_exist() -> Self {
        CONSUMER_DOES_NOT_EXIST.into()
    }

    /// 10094 with the given text (start position rules).
    pub fn consumer_invalid_policy(err: impl fmt::Display) -> Self {
        CONSUMER_INVALID_POLICY.with(&[("err", &err)])
    }

    pub(crate) fn maximum_consumers_limit() -> Self {
        MAXIMUM_CONSUMERS_LIMIT.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_filled() {
        let cases: &[(ApiError, u16, u16, &str)] = &[
            (ApiError::bad_request(), 400, 10003, "bad request"),
            (
                ApiError::invalid_json("unexpected EOF"),
                400,
                10025,
                "invalid JSON: unexpected EOF",
            ),
            (
                ApiError::stream_invalid_config("max age can not be negative"),
                500,
                10052,
                "max age can not be negative",
            ),
            (
                ApiError::message_too_large(),
                400,
                10054,
                "message size exceeds maximum allowed",
            ),
            (
                ApiError::stream_name_mismatch(),
                400,
                10056,
                "stream name in subject does not match request",
            ),
            (
                ApiError::stream_name_in_use(),
                400,
                10058,
                "stream name already in use with a different configuration",
            ),
            (ApiError::stream_not_found(), 404, 10059, "stream not found"),
            (
                ApiError::stream_not_match(),
                400,
                10060,
                "expected stream does not match",
            ),
            (
                ApiError::subjects_overlap(),
                400,
                10065,
                "subjects overlap with an existing stream",
            ),
            (
                ApiError::wrong_last_msg_id(""),
                400,
                10070,
                "wrong last msg ID: ",
            ),
            (
                ApiError::wrong_last_sequence(2),
                400,
                10071,
                "wrong last sequence: 2",
            ),
            (
                ApiError::stream_replicas_not_supported(),
                500,
                10074,
                "replicas > 1 not supported in non-clustered mode",
            ),
            (
                ApiError::store_failed(MAX_MSGS_PER_SUBJECT_EXCEEDED),
                503,
                10077,
                "maximum messages per subject exceeded",
            ),
            (ApiError::no_message_found(), 404, 10037, "no message found"),
            (
                ApiError::msg_delete_not_permitted(),
                500,
                10057,
                "message delete not permitted",
            ),
            (
                ApiError::msg_delete_not_found(),
                500,
                10057,
                "no message found",
            ),
            (
                ApiError::stream_sealed(),
                400,
                10109,
                "invalid operation on sealed stream",
            ),
            (
                ApiError::purge_not_permitted(),
                500,
                10110,
                "stream purge not permitted",
            ),
            (
                ApiError::rollup_not_permitted(),
                500,
                10111,
                "rollup not permitted",
            ),
            (
                ApiError::rollup_invalid("bad"),
                500,
                10111,
                "rollup value invalid: \"bad\"",
            ),
            (
                ApiError::ttl_invalid(),
                400,
                10165,
                "invalid per-message TTL",
            ),
            (
                ApiError::ttl_disabled(),
                400,
                10166,
                "per-message TTL is disabled",
            ),
            (
                ApiError::not_enabled_for_account(),
                503,
                10039,
                "JetStream not enabled for account",
            ),
            (
                ApiError::from(NOT_ENABLED),
                503,
                10076,
                "JetStream not enabled",
            ),
            (
                ApiError::from(STORAGE_RESOURCES_EXCEEDED),
                500,
                10047,
                "insufficient storage resources available",
            ),
            (
                ApiError::from(MEMORY_RESOURCES_EXCEEDED),
                500,
                10028,
                "insufficient memory resources available",
            ),
            (
                ApiError::required_api_level(),
                412,
                10185,
                "JetStream minimum api level required",
            ),
            (
                ApiError::stream_name_contains_path_separators(),
                400,
                10128,
                "Stream name can not contain path separators",
            ),
            (
                ApiError::not_empty_request(),
                400,
                10038,
                "expected an empty request payload",
            ),
            (
                ApiError::pedantic("max_msgs must be set to -1"),
                400,
                10157,
                "pedantic mode: max_msgs must be set to -1",
            ),
            (
                STREAM_EXTERNAL_API_OVERLAP
                    .with(&[("prefix", &"$JS.API"), ("subject", &"$JS.API")]),
                400,
                10021,
                "stream external api prefix $JS.API must not overlap with $JS.API",
            ),
        ];
        for (err, code, err_code, text) in cases {
            assert_eq!(
                (err.code, err.err_code, err.description.as_str()),
                (*code, *err_code, *text)
            );
        }
    }

    #[test]
    fn wire_form_and_display() {
        let e = ApiError::wrong_last_sequence(2);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 2"}"#
        );
        assert_eq!(e.to_string(), "wrong last sequence: 2 (10071)");
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("b.*"), r#""b.*""#);
        assert_eq!(go_quote("a\"b\\c\n\x01"), r#""a\"b\\c\n\x01""#);
    }
}
