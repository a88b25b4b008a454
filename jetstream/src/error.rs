//! JetStream API errors, as clients see them:
//! `{"code":<http-ish>,"err_code":<jetstream code>,"description":"..."}`.
//!
//! Every error the API returns is built from one row of the table below,
//! which mirrors the reference's `server/errors.json` (same codes, same
//! texts, same `{placeholder}` names), so conformance tests can compare the
//! descriptions byte for byte. A row is an [`ErrorDef`]; the constructors on
//! [`ApiError`] fill in its placeholders. Rows without a constructor are used
//! as `ApiError::from(ROW)`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error as sent in a JS API response or a PubAck.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
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
pub struct ErrorDef {
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

const fn row(code: u16, err_code: u16, description: &'static str) -> ErrorDef {
    ErrorDef {
        code,
        err_code,
        description,
    }
}

// ---------------------------------------------------------------------------
// The table. Names are the reference's constants without the `JS` prefix and
// the `Err`/`ErrF` suffix. Keep rows sorted by err_code.
// ---------------------------------------------------------------------------

pub const ACCOUNT_RESOURCES_EXCEEDED: ErrorDef =
    row(400, 10002, "resource limits exceeded for account");
pub const BAD_REQUEST: ErrorDef = row(400, 10003, "bad request");
pub const CONSUMER_CREATE: ErrorDef = row(500, 10012, "{err}");
pub const CONSUMER_NAME_EXIST: ErrorDef = row(400, 10013, "consumer name already in use");
pub const CONSUMER_NOT_FOUND: ErrorDef = row(404, 10014, "consumer not found");
pub const CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT: ErrorDef = row(
    400,
    10017,
    "consumer name in subject does not match durable name in request",
);
pub const CONSUMER_DURABLE_NAME_NOT_SET: ErrorDef = row(
    400,
    10018,
    "consumer expected to be durable but a durable name was not set",
);
pub const CONSUMER_EPHEMERAL_WITH_DURABLE_NAME: ErrorDef = row(
    400,
    10020,
    "consumer expected to be ephemeral but a durable name was set in request",
);
pub const STREAM_EXTERNAL_API_OVERLAP: ErrorDef = row(
    400,
    10021,
    "stream external api prefix {prefix} must not overlap with {subject}",
);
pub const STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS: ErrorDef = row(
    400,
    10022,
    "stream external delivery prefix {prefix} overlaps with stream subject {subject}",
);
pub const INSUFFICIENT_RESOURCES: ErrorDef = row(503, 10023, "insufficient resources");
pub const STREAM_INVALID_EXTERNAL_DELIVERY_SUBJ: ErrorDef = row(
    400,
    10024,
    "stream external delivery prefix {prefix} must not contain wildcards",
);
pub const INVALID_JSON: ErrorDef = row(400, 10025, "invalid JSON: {err}");
pub const MAXIMUM_CONSUMERS_LIMIT: ErrorDef = row(400, 10026, "maximum consumers limit reached");
pub const MAXIMUM_STREAMS_LIMIT: ErrorDef = row(400, 10027, "maximum number of streams reached");
pub const MEMORY_RESOURCES_EXCEEDED: ErrorDef =
    row(500, 10028, "insufficient memory resources available");
pub const MIRROR_CONSUMER_SETUP_FAILED: ErrorDef = row(500, 10029, "{err}");
pub const MIRROR_MAX_MESSAGE_SIZE_TOO_BIG: ErrorDef = row(
    400,
    10030,
    "stream mirror must have max message size >= source",
);
pub const MIRROR_WITH_SOURCES: ErrorDef = row(
    400,
    10031,
    "stream mirrors can not also contain other sources",
);
pub const MIRROR_WITH_START_SEQ_AND_TIME: ErrorDef = row(
    400,
    10032,
    "stream mirrors can not have both start seq and start time configured",
);
pub const MIRROR_WITH_SUBJECT_FILTERS: ErrorDef = row(
    400,
    10033,
    "stream mirrors can not contain filtered subjects",
);
pub const MIRROR_WITH_SUBJECTS: ErrorDef =
    row(400, 10034, "stream mirrors can not contain subjects");
pub const NO_ACCOUNT: ErrorDef = row(503, 10035, "account not found");
pub const NO_MESSAGE_FOUND: ErrorDef = row(404, 10037, "no message found");
pub const NOT_EMPTY_REQUEST: ErrorDef = row(400, 10038, "expected an empty request payload");
pub const NOT_ENABLED_FOR_ACCOUNT: ErrorDef = row(503, 10039, "JetStream not enabled for account");
pub const SEQUENCE_NOT_FOUND: ErrorDef = row(400, 10043, "sequence {seq} not found");
pub const SOURCE_CONSUMER_SETUP_FAILED: ErrorDef = row(500, 10045, "{err}");
pub const SOURCE_MAX_MESSAGE_SIZE_TOO_BIG: ErrorDef = row(
    400,
    10046,
    "stream source must have max message size >= target",
);
pub const STORAGE_RESOURCES_EXCEEDED: ErrorDef =
    row(500, 10047, "insufficient storage resources available");
pub const STREAM_CREATE: ErrorDef = row(500, 10049, "{err}");
pub const STREAM_DELETE: ErrorDef = row(500, 10050, "{err}");
pub const STREAM_GENERAL: ErrorDef = row(500, 10051, "{err}");
pub const STREAM_INVALID_CONFIG: ErrorDef = row(500, 10052, "{err}");
pub const STREAM_LIMITS: ErrorDef = row(500, 10053, "{err}");
pub const STREAM_MESSAGE_EXCEEDS_MAXIMUM: ErrorDef =
    row(400, 10054, "message size exceeds maximum allowed");
pub const STREAM_MIRROR_NOT_UPDATABLE: ErrorDef =
    row(400, 10055, "stream mirror configuration can not be updated");
pub const STREAM_MISMATCH: ErrorDef =
    row(400, 10056, "stream name in subject does not match request");
pub const STREAM_MSG_DELETE_FAILED: ErrorDef = row(500, 10057, "{err}");
pub const STREAM_NAME_EXIST: ErrorDef = row(
    400,
    10058,
    "stream name already in use with a different configuration",
);
pub const STREAM_NOT_FOUND: ErrorDef = row(404, 10059, "stream not found");
pub const STREAM_NOT_MATCH: ErrorDef = row(400, 10060, "expected stream does not match");
pub const STREAM_REPLICAS_NOT_UPDATABLE: ErrorDef =
    row(400, 10061, "Replicas configuration can not be updated");
pub const STREAM_RESTORE: ErrorDef = row(500, 10062, "restore failed: {err}");
pub const STREAM_SEQUENCE_NOT_MATCH: ErrorDef =
    row(503, 10063, "expected stream sequence does not match");
pub const STREAM_SNAPSHOT: ErrorDef = row(500, 10064, "snapshot failed: {err}");
pub const STREAM_SUBJECT_OVERLAP: ErrorDef =
    row(400, 10065, "subjects overlap with an existing stream");
pub const STREAM_UPDATE: ErrorDef = row(500, 10069, "{err}");
pub const STREAM_WRONG_LAST_MSG_ID: ErrorDef = row(400, 10070, "wrong last msg ID: {id}");
pub const STREAM_WRONG_LAST_SEQUENCE: ErrorDef = row(400, 10071, "wrong last sequence: {seq}");
pub const STREAM_REPLICAS_NOT_SUPPORTED: ErrorDef = row(
    500,
    10074,
    "replicas > 1 not supported in non-clustered mode",
);
pub const NOT_ENABLED: ErrorDef = row(503, 10076, "JetStream not enabled");
pub const STREAM_STORE_FAILED: ErrorDef = row(503, 10077, "{err}");
pub const CONSUMER_DELIVER_TO_WILDCARDS: ErrorDef =
    row(400, 10079, "consumer deliver subject has wildcards");
pub const CONSUMER_PUSH_MAX_WAITING: ErrorDef =
    row(400, 10080, "consumer in push mode can not set max waiting");
pub const CONSUMER_DELIVER_CYCLE: ErrorDef =
    row(400, 10081, "consumer deliver subject forms a cycle");
pub const CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED: ErrorDef = row(
    400,
    10082,
    "consumer requires ack policy for max ack pending",
);
pub const CONSUMER_SMALL_HEARTBEAT: ErrorDef =
    row(400, 10083, "consumer idle heartbeat needs to be >= 100ms");
pub const CONSUMER_PULL_REQUIRES_ACK: ErrorDef = row(
    400,
    10084,
    "consumer in pull mode requires explicit ack policy on workqueue stream",
);
pub const CONSUMER_PULL_WITH_RATE_LIMIT: ErrorDef = row(
    400,
    10086,
    "consumer in pull mode can not have rate limit set",
);
pub const CONSUMER_HB_REQUIRES_PUSH: ErrorDef = row(
    400,
    10088,
    "consumer idle heartbeat requires a push based consumer",
);
pub const CONSUMER_FC_REQUIRES_PUSH: ErrorDef = row(
    400,
    10089,
    "consumer flow control requires a push based consumer",
);
pub const CONSUMER_DIRECT_REQUIRES_PUSH: ErrorDef =
    row(400, 10090, "consumer direct requires a push based consumer");
pub const CONSUMER_DIRECT_REQUIRES_EPHEMERAL: ErrorDef =
    row(400, 10091, "consumer direct requires an ephemeral consumer");
pub const CONSUMER_INVALID_POLICY: ErrorDef = row(400, 10094, "{err}");
pub const CONSUMER_INVALID_SAMPLING: ErrorDef = row(
    400,
    10095,
    "failed to parse consumer sampling configuration: {err}",
);
pub const STREAM_INVALID: ErrorDef = row(500, 10096, "stream not valid");
pub const STREAM_HEADER_EXCEEDS_MAXIMUM: ErrorDef =
    row(400, 10097, "header size exceeds maximum allowed of 64k");
pub const CONSUMER_WQ_REQUIRES_EXPLICIT_ACK: ErrorDef =
    row(400, 10098, "workqueue stream requires explicit ack");
pub const CONSUMER_WQ_MULTIPLE_UNFILTERED: ErrorDef = row(
    400,
    10099,
    "multiple non-filtered consumers not allowed on workqueue stream",
);
pub const CONSUMER_WQ_CONSUMER_NOT_UNIQUE: ErrorDef = row(
    400,
    10100,
    "filtered consumer not unique on workqueue stream",
);
pub const CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL: ErrorDef = row(
    400,
    10101,
    "consumer must be deliver all on workqueue stream",
);
pub const CONSUMER_NAME_TOO_LONG: ErrorDef = row(
    400,
    10102,
    "consumer name is too long, maximum allowed is {max}",
);
pub const CONSUMER_DESCRIPTION_TOO_LONG: ErrorDef = row(
    400,
    10107,
    "consumer description is too long, maximum allowed is {max}",
);
pub const CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS: ErrorDef = row(
    400,
    10108,
    "consumer with flow control also needs heartbeats",
);
pub const STREAM_SEALED: ErrorDef = row(400, 10109, "invalid operation on sealed stream");
pub const STREAM_PURGE_FAILED: ErrorDef = row(500, 10110, "{err}");
pub const STREAM_ROLLUP_FAILED: ErrorDef = row(500, 10111, "{err}");
pub const CONSUMER_INVALID_DELIVER_SUBJECT: ErrorDef =
    row(400, 10112, "invalid push consumer deliver subject");
pub const STREAM_MAX_BYTES_REQUIRED: ErrorDef = row(
    400,
    10113,
    "account requires a stream config to have max bytes set",
);
pub const CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL: ErrorDef = row(
    400,
    10115,
    "consumer max request expires needs to be >= 1ms",
);
pub const CONSUMER_MAX_DELIVER_BACKOFF: ErrorDef = row(
    400,
    10116,
    "max deliver is required to be > length of backoff values",
);
pub const STREAM_INFO_MAX_SUBJECTS: ErrorDef =
    row(500, 10117, "subject details would exceed maximum allowed");
pub const STREAM_OFFLINE: ErrorDef = row(500, 10118, "stream is offline");
pub const NO_LIMITS: ErrorDef = row(
    400,
    10120,
    "no JetStream default or applicable tiered limit present",
);
pub const CONSUMER_MAX_PENDING_ACK_EXCESS: ErrorDef = row(
    400,
    10121,
    "consumer max ack pending exceeds system limit of {limit}",
);
pub const STREAM_MAX_STREAM_BYTES_EXCEEDED: ErrorDef = row(
    400,
    10122,
    "stream max bytes exceeds account limit max stream bytes",
);
pub const CONSUMER_MAX_REQUEST_BATCH_EXCEEDED: ErrorDef = row(
    400,
    10125,
    "consumer max request batch exceeds server limit of {limit}",
);
pub const CONSUMER_NAME_CONTAINS_PATH_SEPARATORS: ErrorDef =
    row(400, 10127, "Consumer name can not contain path separators");
pub const STREAM_NAME_CONTAINS_PATH_SEPARATORS: ErrorDef =
    row(400, 10128, "Stream name can not contain path separators");
pub const STREAM_NAME_EXIST_RESTORE_FAILED: ErrorDef =
    row(400, 10130, "stream name already in use, cannot restore");
pub const CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH: ErrorDef = row(
    400,
    10131,
    "Consumer create request did not match filtered subject from create subject",
);
pub const CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH: ErrorDef = row(
    400,
    10132,
    "Consumer Durable and Name have to be equal if both are provided",
);
pub const REPLICAS_COUNT_CANNOT_BE_NEGATIVE: ErrorDef =
    row(400, 10133, "replicas count cannot be negative");
pub const CONSUMER_METADATA_LENGTH: ErrorDef = row(
    400,
    10135,
    "consumer metadata exceeds maximum size of {limit}",
);
pub const CONSUMER_DUPLICATE_FILTER_SUBJECTS: ErrorDef = row(
    400,
    10136,
    "consumer cannot have both FilterSubject and FilterSubjects specified",
);
pub const CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED: ErrorDef = row(
    400,
    10137,
    "consumer with multiple subject filters cannot use subject based API",
);
pub const CONSUMER_OVERLAPPING_SUBJECT_FILTERS: ErrorDef =
    row(400, 10138, "consumer subject filters cannot overlap");
pub const CONSUMER_EMPTY_FILTER: ErrorDef = row(
    400,
    10139,
    "consumer filter in FilterSubjects cannot be empty",
);
pub const SOURCE_DUPLICATE_DETECTED: ErrorDef =
    row(400, 10140, "duplicate source configuration detected");
pub const SOURCE_INVALID_STREAM_NAME: ErrorDef = row(400, 10141, "sourced stream name is invalid");
pub const MIRROR_INVALID_STREAM_NAME: ErrorDef = row(400, 10142, "mirrored stream name is invalid");
pub const MIRROR_WITH_FIRST_SEQ: ErrorDef = row(
    400,
    10143,
    "stream mirrors can not have first sequence configured",
);
pub const SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED: ErrorDef = row(
    400,
    10144,
    "source with multiple subject transforms cannot also have a single subject filter",
);
pub const SOURCE_INVALID_SUBJECT_FILTER: ErrorDef =
    row(400, 10145, "source transform source: {err}");
pub const SOURCE_INVALID_TRANSFORM_DESTINATION: ErrorDef =
    row(400, 10146, "source transform: {err}");
pub const SOURCE_OVERLAPPING_SUBJECT_FILTERS: ErrorDef =
    row(400, 10147, "source filters can not overlap");
pub const CONSUMER_ALREADY_EXISTS: ErrorDef = row(400, 10148, "consumer already exists");
pub const CONSUMER_DOES_NOT_EXIST: ErrorDef = row(400, 10149, "consumer does not exist");
pub const MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED: ErrorDef = row(
    400,
    10150,
    "mirror with multiple subject transforms cannot also have a single subject filter",
);
pub const MIRROR_INVALID_SUBJECT_FILTER: ErrorDef =
    row(400, 10151, "mirror transform source: {err}");
pub const MIRROR_OVERLAPPING_SUBJECT_FILTERS: ErrorDef =
    row(400, 10152, "mirror subject filters can not overlap");
pub const CONSUMER_INACTIVE_THRESHOLD_EXCESS: ErrorDef = row(
    400,
    10153,
    "consumer inactive threshold exceeds system limit of {limit}",
);
pub const MIRROR_INVALID_TRANSFORM_DESTINATION: ErrorDef =
    row(400, 10154, "mirror transform: {err}");
pub const STREAM_TRANSFORM_INVALID_SOURCE: ErrorDef =
    row(400, 10155, "stream transform source: {err}");
pub const STREAM_TRANSFORM_INVALID_DESTINATION: ErrorDef =
    row(400, 10156, "stream transform: {err}");
pub const PEDANTIC: ErrorDef = row(400, 10157, "pedantic mode: {err}");
pub const STREAM_DUPLICATE_MESSAGE_CONFLICT: ErrorDef =
    row(409, 10158, "duplicate message id is in process");
pub const CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP: ErrorDef = row(
    400,
    10159,
    "Setting PriorityPolicy requires at least one PriorityGroup to be set",
);
pub const CONSUMER_EMPTY_GROUP_NAME: ErrorDef =
    row(400, 10161, "Group name cannot be an empty string");
pub const CONSUMER_INVALID_GROUP_NAME: ErrorDef = row(
    400,
    10162,
    "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
);
pub const STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY: ErrorDef = row(
    503,
    10163,
    "expected last sequence per subject temporarily unavailable",
);
pub const STREAM_WRONG_LAST_SEQUENCE_CONSTANT: ErrorDef = row(400, 10164, "wrong last sequence");
pub const MESSAGE_TTL_INVALID: ErrorDef = row(400, 10165, "invalid per-message TTL");
pub const MESSAGE_TTL_DISABLED: ErrorDef = row(400, 10166, "per-message TTL is disabled");
pub const STREAM_TOO_MANY_REQUESTS: ErrorDef = row(429, 10167, "too many requests");
pub const MESSAGE_INCR_DISABLED: ErrorDef = row(400, 10168, "message counters is disabled");
pub const MESSAGE_INCR_MISSING: ErrorDef = row(400, 10169, "message counter increment is missing");
pub const MESSAGE_INCR_PAYLOAD: ErrorDef = row(400, 10170, "message counter has payload");
pub const MESSAGE_INCR_INVALID: ErrorDef = row(400, 10171, "message counter increment is invalid");
pub const MESSAGE_COUNTER_BROKEN: ErrorDef = row(400, 10172, "message counter is broken");
pub const MIRROR_WITH_COUNTERS: ErrorDef =
    row(400, 10173, "stream mirrors can not also calculate counters");
pub const ATOMIC_PUBLISH_DISABLED: ErrorDef = row(400, 10174, "atomic publish is disabled");
pub const ATOMIC_PUBLISH_MISSING_SEQ: ErrorDef =
    row(400, 10175, "atomic publish sequence is missing");
pub const ATOMIC_PUBLISH_INCOMPLETE_BATCH: ErrorDef =
    row(400, 10176, "atomic publish batch is incomplete");
pub const ATOMIC_PUBLISH_UNSUPPORTED_HEADER_BATCH: ErrorDef = row(
    400,
    10177,
    "atomic publish unsupported header used: {header}",
);
pub const CONSUMER_PUSH_WITH_PRIORITY_GROUP: ErrorDef = row(
    400,
    10178,
    "priority groups can not be used with push consumers",
);
pub const ATOMIC_PUBLISH_INVALID_BATCH_ID: ErrorDef =
    row(400, 10179, "atomic publish batch ID is invalid");
pub const STREAM_MIN_LAST_SEQ: ErrorDef = row(412, 10180, "min last sequence");
pub const CONSUMER_ACK_WAIT_NEGATIVE: ErrorDef =
    row(400, 10183, "consumer ack wait needs to be positive");
pub const CONSUMER_BACKOFF_NEGATIVE: ErrorDef =
    row(400, 10184, "consumer backoff needs to be positive");
pub const REQUIRED_API_LEVEL: ErrorDef = row(412, 10185, "JetStream minimum api level required");
pub const MIRROR_WITH_MSG_SCHEDULES: ErrorDef =
    row(400, 10186, "stream mirrors can not also schedule messages");
pub const SOURCE_WITH_MSG_SCHEDULES: ErrorDef =
    row(400, 10187, "stream source can not also schedule messages");
pub const MESSAGE_SCHEDULES_DISABLED: ErrorDef = row(400, 10188, "message schedules is disabled");
pub const MESSAGE_SCHEDULES_PATTERN_INVALID: ErrorDef =
    row(400, 10189, "message schedules pattern is invalid");
pub const MESSAGE_SCHEDULES_TARGET_INVALID: ErrorDef =
    row(400, 10190, "message schedules target is invalid");
pub const MESSAGE_SCHEDULES_TTL_INVALID: ErrorDef =
    row(400, 10191, "message schedules invalid per-message TTL");
pub const MESSAGE_SCHEDULES_ROLLUP_INVALID: ErrorDef =
    row(400, 10192, "message schedules invalid rollup");
pub const STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID: ErrorDef = row(
    400,
    10193,
    "missing sequence for expected last sequence per subject",
);
pub const STREAM_OFFLINE_REASON: ErrorDef = row(500, 10194, "stream is offline: {err}");
pub const CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE: ErrorDef = row(
    400,
    10196,
    "consumer can not have priority groups when policy is none",
);
pub const CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE: ErrorDef = row(
    400,
    10197,
    "PinnedTTL cannot be set when PriorityPolicy is none",
);
pub const MIRROR_WITH_ATOMIC_PUBLISH: ErrorDef = row(
    400,
    10198,
    "stream mirrors can not also use atomic publishing",
);
pub const ATOMIC_PUBLISH_TOO_LARGE_BATCH: ErrorDef =
    row(400, 10199, "atomic publish batch is too large: {size}");
pub const ATOMIC_PUBLISH_INVALID_BATCH_COMMIT: ErrorDef =
    row(400, 10200, "atomic publish batch commit is invalid");
pub const ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE: ErrorDef = row(
    400,
    10201,
    "atomic publish batch contains duplicate message id",
);
pub const MESSAGE_SCHEDULES_SOURCE_INVALID: ErrorDef =
    row(400, 10203, "message schedules source is invalid");
pub const BATCH_PUBLISH_DISABLED: ErrorDef = row(400, 10205, "batch publish is disabled");
pub const BATCH_PUBLISH_INVALID_PATTERN: ErrorDef =
    row(400, 10206, "batch publish pattern is invalid");
pub const BATCH_PUBLISH_INVALID_BATCH_ID: ErrorDef = row(400, 10207, "batch publish ID is invalid");
pub const BATCH_PUBLISH_UNKNOWN_BATCH_ID: ErrorDef = row(400, 10208, "batch publish ID unknown");
pub const MIRROR_WITH_BATCH_PUBLISH: ErrorDef = row(
    400,
    10209,
    "stream mirrors can not also use batch publishing",
);
pub const ATOMIC_PUBLISH_TOO_MANY_INFLIGHT: ErrorDef =
    row(429, 10210, "atomic publish too many inflight");
pub const BATCH_PUBLISH_TOO_MANY_INFLIGHT: ErrorDef =
    row(429, 10211, "batch publish too many inflight");
pub const MIRROR_DURABLE_CONSUMER_CFG_INVALID: ErrorDef =
    row(400, 10213, "stream mirror consumer config is invalid");
pub const MIRROR_CONSUMER_REQUIRES_ACK_FC: ErrorDef = row(
    400,
    10214,
    "stream mirror consumer requires flow control ack policy",
);
pub const SOURCE_DURABLE_CONSUMER_CFG_INVALID: ErrorDef =
    row(400, 10215, "stream source consumer config is invalid");
pub const SOURCE_DURABLE_CONSUMER_DUPLICATE_DETECTED: ErrorDef =
    row(400, 10216, "duplicate stream source consumer detected");
pub const SOURCE_CONSUMER_REQUIRES_ACK_FC: ErrorDef = row(
    400,
    10217,
    "stream source consumer requires flow control ack policy",
);
pub const CONSUMER_ACK_FC_REQUIRES_PUSH: ErrorDef = row(
    400,
    10218,
    "flow control ack policy requires a push based consumer",
);
pub const CONSUMER_ACK_FC_REQUIRES_FC: ErrorDef =
    row(400, 10219, "flow control ack policy requires flow control");
pub const CONSUMER_ACK_FC_REQUIRES_MAX_ACK_PENDING: ErrorDef = row(
    400,
    10220,
    "flow control ack policy requires max ack pending",
);
pub const CONSUMER_ACK_FC_REQUIRES_NO_ACK_WAIT: ErrorDef = row(
    400,
    10221,
    "flow control ack policy requires unset ack wait",
);
pub const CONSUMER_ACK_FC_REQUIRES_NO_MAX_DELIVER: ErrorDef = row(
    400,
    10222,
    "flow control ack policy requires unset max deliver",
);
pub const STREAM_RECONFIGURE_IN_PROGRESS: ErrorDef =
    row(400, 10226, "stream reconfiguration already in progress");

// ---------------------------------------------------------------------------
// Texts the reference passes into the `{err}` rows above from more than one
// place (the API handlers and the stream state machine).
// ---------------------------------------------------------------------------

/// 10110, the purge of a `deny_purge` stream.
pub const PURGE_NOT_PERMITTED: &str = "stream purge not permitted";
/// 10057, the delete of a message in a `deny_delete` stream.
pub const MSG_DELETE_NOT_PERMITTED: &str = "message delete not permitted";
/// 10057, deleting a sequence at or below the last one that is not there.
pub const MSG_DELETE_NO_MESSAGE: &str = "no message found";
/// 10057, deleting a sequence above the stream's last one.
pub const MSG_DELETE_EOF: &str = "stream store EOF";
/// 10111, a `Nats-Rollup` header on a stream without `allow_rollup_hdrs`.
pub const ROLLUP_NOT_PERMITTED: &str = "rollup not permitted";
/// 10077 with discard new, one per limit.
pub const MAX_MSGS_EXCEEDED: &str = "maximum messages exceeded";
pub const MAX_BYTES_EXCEEDED: &str = "maximum bytes exceeded";
pub const MAX_MSGS_PER_SUBJECT_EXCEEDED: &str = "maximum messages per subject exceeded";

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
    pub fn bad_request() -> Self {
        BAD_REQUEST.into()
    }

    /// 10025 `invalid JSON: <err>`; `err` is the Go decoder's text
    /// (`api::json` produces it).
    pub fn invalid_json(err: impl fmt::Display) -> Self {
        INVALID_JSON.with(&[("err", &err)])
    }

    pub fn not_empty_request() -> Self {
        NOT_EMPTY_REQUEST.into()
    }

    pub fn not_enabled() -> Self {
        NOT_ENABLED.into()
    }

    pub fn not_enabled_for_account() -> Self {
        NOT_ENABLED_FOR_ACCOUNT.into()
    }

    pub fn insufficient_resources() -> Self {
        INSUFFICIENT_RESOURCES.into()
    }

    /// 429/10167: a stream's or the API's ingest queue is full.
    pub fn too_many_requests() -> Self {
        STREAM_TOO_MANY_REQUESTS.into()
    }

    pub fn storage_resources_exceeded() -> Self {
        STORAGE_RESOURCES_EXCEEDED.into()
    }

    pub fn memory_resources_exceeded() -> Self {
        MEMORY_RESOURCES_EXCEEDED.into()
    }

    pub fn maximum_streams_limit() -> Self {
        MAXIMUM_STREAMS_LIMIT.into()
    }

    pub fn required_api_level() -> Self {
        REQUIRED_API_LEVEL.into()
    }

    pub fn pedantic(err: impl fmt::Display) -> Self {
        PEDANTIC.with(&[("err", &err)])
    }

    pub fn stream_not_found() -> Self {
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

    pub fn subjects_overlap() -> Self {
        STREAM_SUBJECT_OVERLAP.into()
    }

    /// 10052 with the given text (the stream config checks).
    pub fn stream_invalid_config(err: impl fmt::Display) -> Self {
        STREAM_INVALID_CONFIG.with(&[("err", &err)])
    }

    pub fn stream_name_contains_path_separators() -> Self {
        STREAM_NAME_CONTAINS_PATH_SEPARATORS.into()
    }

    pub fn stream_replicas_not_supported() -> Self {
        STREAM_REPLICAS_NOT_SUPPORTED.into()
    }

    pub fn stream_mirror_not_updatable() -> Self {
        STREAM_MIRROR_NOT_UPDATABLE.into()
    }

    pub fn replicas_count_negative() -> Self {
        REPLICAS_COUNT_CANNOT_BE_NEGATIVE.into()
    }

    pub fn stream_create_failed(err: impl fmt::Display) -> Self {
        STREAM_CREATE.with(&[("err", &err)])
    }

    pub fn stream_update_failed(err: impl fmt::Display) -> Self {
        STREAM_UPDATE.with(&[("err", &err)])
    }

    pub fn stream_delete_failed(err: impl fmt::Display) -> Self {
        STREAM_DELETE.with(&[("err", &err)])
    }

    pub fn stream_general(err: impl fmt::Display) -> Self {
        STREAM_GENERAL.with(&[("err", &err)])
    }

    pub fn stream_sealed() -> Self {
        STREAM_SEALED.into()
    }

    /// 10054: the message (headers included) is over `max_msg_size`.
    pub fn message_too_large() -> Self {
        STREAM_MESSAGE_EXCEEDS_MAXIMUM.into()
    }

    pub fn header_too_large() -> Self {
        STREAM_HEADER_EXCEEDS_MAXIMUM.into()
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

    pub fn sequence_not_found(seq: u64) -> Self {
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

    pub fn msg_delete_not_permitted() -> Self {
        Self::msg_delete_failed(MSG_DELETE_NOT_PERMITTED)
    }

    /// 10110 with the given text.
    pub fn purge_failed(err: impl fmt::Display) -> Self {
        STREAM_PURGE_FAILED.with(&[("err", &err)])
    }

    pub fn purge_not_permitted() -> Self {
        Self::purge_failed(PURGE_NOT_PERMITTED)
    }

    pub fn rollup_not_permitted() -> Self {
        STREAM_ROLLUP_FAILED.with(&[("err", &ROLLUP_NOT_PERMITTED)])
    }

    /// 10111 `rollup value invalid: "<value>"`.
    pub fn rollup_invalid(value: &str) -> Self {
        let text = format!("rollup value invalid: {}", go_quote(value));
        STREAM_ROLLUP_FAILED.with(&[("err", &text)])
    }

    pub fn ttl_invalid() -> Self {
        MESSAGE_TTL_INVALID.into()
    }

    pub fn ttl_disabled() -> Self {
        MESSAGE_TTL_DISABLED.into()
    }

    pub fn duplicate_message_conflict() -> Self {
        STREAM_DUPLICATE_MESSAGE_CONFLICT.into()
    }

    /// 10012 with the given text (e.g. `ack policy can not be updated`).
    pub fn consumer_create(err: impl fmt::Display) -> Self {
        CONSUMER_CREATE.with(&[("err", &err)])
    }

    pub fn consumer_not_found() -> Self {
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

    pub fn maximum_consumers_limit() -> Self {
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
            (ApiError::not_enabled(), 503, 10076, "JetStream not enabled"),
            (
                ApiError::storage_resources_exceeded(),
                500,
                10047,
                "insufficient storage resources available",
            ),
            (
                ApiError::memory_resources_exceeded(),
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
