//! The table: one row per error of the reference's `server/errors.json`
//! (2.14), with its HTTP-like code, JetStream code and description, so
//! conformance tests can compare descriptions byte for byte. Names are the
//! reference's constants without the `JS` prefix and the `Err`/`ErrF`
//! suffix. Keep rows sorted by err_code.

// A whole copy of errors.json: rows tern does not return yet stay, ready
// for the code that will.
#![allow(dead_code)]

use super::ErrorDef;

const fn row(code: u16, err_code: u16, description: &'static str) -> ErrorDef {
    ErrorDef {
        code,
        err_code,
        description,
    }
}

pub(crate) const ACCOUNT_RESOURCES_EXCEEDED: ErrorDef =
    row(400, 10002, "resource limits exceeded for account");
pub(crate) const BAD_REQUEST: ErrorDef = row(400, 10003, "bad request");
pub(crate) const SNAPSHOT_DELIVER_SUBJECT_INVALID: ErrorDef =
    row(400, 10015, "deliver subject not valid");
pub(crate) const CONSUMER_CREATE: ErrorDef = row(500, 10012, "{err}");
pub(crate) const CONSUMER_NAME_EXIST: ErrorDef = row(400, 10013, "consumer name already in use");
pub(crate) const CONSUMER_NOT_FOUND: ErrorDef = row(404, 10014, "consumer not found");
pub(crate) const CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT: ErrorDef = row(
    400,
    10017,
    "consumer name in subject does not match durable name in request",
);
pub(crate) const CONSUMER_DURABLE_NAME_NOT_SET: ErrorDef = row(
    400,
    10018,
    "consumer expected to be durable but a durable name was not set",
);
pub(crate) const CONSUMER_EPHEMERAL_WITH_DURABLE_NAME: ErrorDef = row(
    400,
    10020,
    "consumer expected to be ephemeral but a durable name was set in request",
);
pub(crate) const STREAM_EXTERNAL_API_OVERLAP: ErrorDef = row(
    400,
    10021,
    "stream external api prefix {prefix} must not overlap with {subject}",
);
pub(crate) const STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS: ErrorDef = row(
    400,
    10022,
    "stream external delivery prefix {prefix} overlaps with stream subject {subject}",
);
pub(crate) const INSUFFICIENT_RESOURCES: ErrorDef = row(503, 10023, "insufficient resources");
pub(crate) const STREAM_INVALID_EXTERNAL_DELIVERY_SUBJ: ErrorDef = row(
    400,
    10024,
    "stream external delivery prefix {prefix} must not contain wildcards",
);
pub(crate) const INVALID_JSON: ErrorDef = row(400, 10025, "invalid JSON: {err}");
pub(crate) const MAXIMUM_CONSUMERS_LIMIT: ErrorDef =
    row(400, 10026, "maximum consumers limit reached");
pub(crate) const MAXIMUM_STREAMS_LIMIT: ErrorDef =
    row(400, 10027, "maximum number of streams reached");
pub(crate) const MEMORY_RESOURCES_EXCEEDED: ErrorDef =
    row(500, 10028, "insufficient memory resources available");
pub(crate) const MIRROR_CONSUMER_SETUP_FAILED: ErrorDef = row(500, 10029, "{err}");
pub(crate) const MIRROR_MAX_MESSAGE_SIZE_TOO_BIG: ErrorDef = row(
    400,
    10030,
    "stream mirror must have max message size >= source",
);
pub(crate) const MIRROR_WITH_SOURCES: ErrorDef = row(
    400,
    10031,
    "stream mirrors can not also contain other sources",
);
pub(crate) const MIRROR_WITH_START_SEQ_AND_TIME: ErrorDef = row(
    400,
    10032,
    "stream mirrors can not have both start seq and start time configured",
);
pub(crate) const MIRROR_WITH_SUBJECT_FILTERS: ErrorDef = row(
    400,
    10033,
    "stream mirrors can not contain filtered subjects",
);
pub(crate) const MIRROR_WITH_SUBJECTS: ErrorDef =
    row(400, 10034, "stream mirrors can not contain subjects");
pub(crate) const NO_ACCOUNT: ErrorDef = row(503, 10035, "account not found");
pub(crate) const NO_MESSAGE_FOUND: ErrorDef = row(404, 10037, "no message found");
pub(crate) const NOT_EMPTY_REQUEST: ErrorDef = row(400, 10038, "expected an empty request payload");
pub(crate) const NOT_ENABLED_FOR_ACCOUNT: ErrorDef =
    row(503, 10039, "JetStream not enabled for account");
pub(crate) const SEQUENCE_NOT_FOUND: ErrorDef = row(400, 10043, "sequence {seq} not found");
pub(crate) const SOURCE_CONSUMER_SETUP_FAILED: ErrorDef = row(500, 10045, "{err}");
pub(crate) const SOURCE_MAX_MESSAGE_SIZE_TOO_BIG: ErrorDef = row(
    400,
    10046,
    "stream source must have max message size >= target",
);
pub(crate) const STORAGE_RESOURCES_EXCEEDED: ErrorDef =
    row(500, 10047, "insufficient storage resources available");
pub(crate) const STREAM_CREATE: ErrorDef = row(500, 10049, "{err}");
pub(crate) const STREAM_DELETE: ErrorDef = row(500, 10050, "{err}");
pub(crate) const STREAM_GENERAL: ErrorDef = row(500, 10051, "{err}");
pub(crate) const STREAM_INVALID_CONFIG: ErrorDef = row(500, 10052, "{err}");
pub(crate) const STREAM_LIMITS: ErrorDef = row(500, 10053, "{err}");
pub(crate) const STREAM_MESSAGE_EXCEEDS_MAXIMUM: ErrorDef =
    row(400, 10054, "message size exceeds maximum allowed");
pub(crate) const STREAM_MIRROR_NOT_UPDATABLE: ErrorDef =
    row(400, 10055, "stream mirror configuration can not be updated");
pub(crate) const STREAM_MISMATCH: ErrorDef =
    row(400, 10056, "stream name in subject does not match request");
pub(crate) const STREAM_MSG_DELETE_FAILED: ErrorDef = row(500, 10057, "{err}");
pub(crate) const STREAM_NAME_EXIST: ErrorDef = row(
    400,
    10058,
    "stream name already in use with a different configuration",
);
pub(crate) const STREAM_NOT_FOUND: ErrorDef = row(404, 10059, "stream not found");
pub(crate) const STREAM_NOT_MATCH: ErrorDef = row(400, 10060, "expected stream does not match");
pub(crate) const STREAM_REPLICAS_NOT_UPDATABLE: ErrorDef =
    row(400, 10061, "Replicas configuration can not be updated");
pub(crate) const STREAM_RESTORE: ErrorDef = row(500, 10062, "restore failed: {err}");
pub(crate) const STREAM_SEQUENCE_NOT_MATCH: ErrorDef =
    row(503, 10063, "expected stream sequence does not match");
pub(crate) const STREAM_SNAPSHOT: ErrorDef = row(500, 10064, "snapshot failed: {err}");
pub(crate) const STREAM_SUBJECT_OVERLAP: ErrorDef =
    row(400, 10065, "subjects overlap with an existing stream");
pub(crate) const STREAM_UPDATE: ErrorDef = row(500, 10069, "{err}");
pub(crate) const STREAM_WRONG_LAST_MSG_ID: ErrorDef = row(400, 10070, "wrong last msg ID: {id}");
pub(crate) const STREAM_WRONG_LAST_SEQUENCE: ErrorDef =
    row(400, 10071, "wrong last sequence: {seq}");
pub(crate) const STREAM_REPLICAS_NOT_SUPPORTED: ErrorDef = row(
    500,
    10074,
    "replicas > 1 not supported in non-clustered mode",
);
pub(crate) const NOT_ENABLED: ErrorDef = row(503, 10076, "JetStream not enabled");
pub(crate) const STREAM_STORE_FAILED: ErrorDef = row(503, 10077, "{err}");
pub(crate) const CONSUMER_DELIVER_TO_WILDCARDS: ErrorDef =
    row(400, 10079, "consumer deliver subject has wildcards");
pub(crate) const CONSUMER_PUSH_MAX_WAITING: ErrorDef =
    row(400, 10080, "consumer in push mode can not set max waiting");
pub(crate) const CONSUMER_DELIVER_CYCLE: ErrorDef =
    row(400, 10081, "consumer deliver subject forms a cycle");
pub(crate) const CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED: ErrorDef = row(
    400,
    10082,
    "consumer requires ack policy for max ack pending",
);
pub(crate) const CONSUMER_SMALL_HEARTBEAT: ErrorDef =
    row(400, 10083, "consumer idle heartbeat needs to be >= 100ms");
pub(crate) const CONSUMER_PULL_REQUIRES_ACK: ErrorDef = row(
    400,
    10084,
    "consumer in pull mode requires explicit ack policy on workqueue stream",
);
pub(crate) const CONSUMER_PULL_WITH_RATE_LIMIT: ErrorDef = row(
    400,
    10086,
    "consumer in pull mode can not have rate limit set",
);
pub(crate) const CONSUMER_HB_REQUIRES_PUSH: ErrorDef = row(
    400,
    10088,
    "consumer idle heartbeat requires a push based consumer",
);
pub(crate) const CONSUMER_FC_REQUIRES_PUSH: ErrorDef = row(
    400,
    10089,
    "consumer flow control requires a push based consumer",
);
pub(crate) const CONSUMER_DIRECT_REQUIRES_PUSH: ErrorDef =
    row(400, 10090, "consumer direct requires a push based consumer");
pub(crate) const CONSUMER_DIRECT_REQUIRES_EPHEMERAL: ErrorDef =
    row(400, 10091, "consumer direct requires an ephemeral consumer");
pub(crate) const CONSUMER_INVALID_POLICY: ErrorDef = row(400, 10094, "{err}");
pub(crate) const CONSUMER_INVALID_SAMPLING: ErrorDef = row(
    400,
    10095,
    "failed to parse consumer sampling configuration: {err}",
);
pub(crate) const STREAM_INVALID: ErrorDef = row(500, 10096, "stream not valid");
pub(crate) const STREAM_HEADER_EXCEEDS_MAXIMUM: ErrorDef =
    row(400, 10097, "header size exceeds maximum allowed of 64k");
pub(crate) const CONSUMER_WQ_REQUIRES_EXPLICIT_ACK: ErrorDef =
    row(400, 10098, "workqueue stream requires explicit ack");
pub(crate) const CONSUMER_WQ_MULTIPLE_UNFILTERED: ErrorDef = row(
    400,
    10099,
    "multiple non-filtered consumers not allowed on workqueue stream",
);
pub(crate) const CONSUMER_WQ_CONSUMER_NOT_UNIQUE: ErrorDef = row(
    400,
    10100,
    "filtered consumer not unique on workqueue stream",
);
pub(crate) const CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL: ErrorDef = row(
    400,
    10101,
    "consumer must be deliver all on workqueue stream",
);
pub(crate) const CONSUMER_NAME_TOO_LONG: ErrorDef = row(
    400,
    10102,
    "consumer name is too long, maximum allowed is {max}",
);
pub(crate) const CONSUMER_DESCRIPTION_TOO_LONG: ErrorDef = row(
    400,
    10107,
    "consumer description is too long, maximum allowed is {max}",
);
pub(crate) const CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS: ErrorDef = row(
    400,
    10108,
    "consumer with flow control also needs heartbeats",
);
pub(crate) const STREAM_SEALED: ErrorDef = row(400, 10109, "invalid operation on sealed stream");
pub(crate) const STREAM_PURGE_FAILED: ErrorDef = row(500, 10110, "{err}");
pub(crate) const STREAM_ROLLUP_FAILED: ErrorDef = row(500, 10111, "{err}");
pub(crate) const CONSUMER_INVALID_DELIVER_SUBJECT: ErrorDef =
    row(400, 10112, "invalid push consumer deliver subject");
pub(crate) const STREAM_MAX_BYTES_REQUIRED: ErrorDef = row(
    400,
    10113,
    "account requires a stream config to have max bytes set",
);
pub(crate) const CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL: ErrorDef = row(
    400,
    10115,
    "consumer max request expires needs to be >= 1ms",
);
pub(crate) const CONSUMER_MAX_DELIVER_BACKOFF: ErrorDef = row(
    400,
    10116,
    "max deliver is required to be > length of backoff values",
);
pub(crate) const STREAM_INFO_MAX_SUBJECTS: ErrorDef =
    row(500, 10117, "subject details would exceed maximum allowed");
pub(crate) const STREAM_OFFLINE: ErrorDef = row(500, 10118, "stream is offline");
pub(crate) const NO_LIMITS: ErrorDef = row(
    400,
    10120,
    "no JetStream default or applicable tiered limit present",
);
pub(crate) const CONSUMER_MAX_PENDING_ACK_EXCESS: ErrorDef = row(
    400,
    10121,
    "consumer max ack pending exceeds system limit of {limit}",
);
pub(crate) const STREAM_MAX_STREAM_BYTES_EXCEEDED: ErrorDef = row(
    400,
    10122,
    "stream max bytes exceeds account limit max stream bytes",
);
pub(crate) const CONSUMER_MAX_REQUEST_BATCH_EXCEEDED: ErrorDef = row(
    400,
    10125,
    "consumer max request batch exceeds server limit of {limit}",
);
pub(crate) const CONSUMER_NAME_CONTAINS_PATH_SEPARATORS: ErrorDef =
    row(400, 10127, "Consumer name can not contain path separators");
pub(crate) const STREAM_NAME_CONTAINS_PATH_SEPARATORS: ErrorDef =
    row(400, 10128, "Stream name can not contain path separators");
pub(crate) const STREAM_NAME_EXIST_RESTORE_FAILED: ErrorDef =
    row(400, 10130, "stream name already in use, cannot restore");
pub(crate) const CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH: ErrorDef = row(
    400,
    10131,
    "Consumer create request did not match filtered subject from create subject",
);
pub(crate) const CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH: ErrorDef = row(
    400,
    10132,
    "Consumer Durable and Name have to be equal if both are provided",
);
pub(crate) const REPLICAS_COUNT_CANNOT_BE_NEGATIVE: ErrorDef =
    row(400, 10133, "replicas count cannot be negative");
pub(crate) const CONSUMER_METADATA_LENGTH: ErrorDef = row(
    400,
    10135,
    "consumer metadata exceeds maximum size of {limit}",
);
pub(crate) const CONSUMER_DUPLICATE_FILTER_SUBJECTS: ErrorDef = row(
    400,
    10136,
    "consumer cannot have both FilterSubject and FilterSubjects specified",
);
pub(crate) const CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED: ErrorDef = row(
    400,
    10137,
    "consumer with multiple subject filters cannot use subject based API",
);
pub(crate) const CONSUMER_OVERLAPPING_SUBJECT_FILTERS: ErrorDef =
    row(400, 10138, "consumer subject filters cannot overlap");
pub(crate) const CONSUMER_EMPTY_FILTER: ErrorDef = row(
    400,
    10139,
    "consumer filter in FilterSubjects cannot be empty",
);
pub(crate) const SOURCE_DUPLICATE_DETECTED: ErrorDef =
    row(400, 10140, "duplicate source configuration detected");
pub(crate) const SOURCE_INVALID_STREAM_NAME: ErrorDef =
    row(400, 10141, "sourced stream name is invalid");
pub(crate) const MIRROR_INVALID_STREAM_NAME: ErrorDef =
    row(400, 10142, "mirrored stream name is invalid");
pub(crate) const MIRROR_WITH_FIRST_SEQ: ErrorDef = row(
    400,
    10143,
    "stream mirrors can not have first sequence configured",
);
pub(crate) const SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED: ErrorDef = row(
    400,
    10144,
    "source with multiple subject transforms cannot also have a single subject filter",
);
pub(crate) const SOURCE_INVALID_SUBJECT_FILTER: ErrorDef =
    row(400, 10145, "source transform source: {err}");
pub(crate) const SOURCE_INVALID_TRANSFORM_DESTINATION: ErrorDef =
    row(400, 10146, "source transform: {err}");
pub(crate) const SOURCE_OVERLAPPING_SUBJECT_FILTERS: ErrorDef =
    row(400, 10147, "source filters can not overlap");
pub(crate) const CONSUMER_ALREADY_EXISTS: ErrorDef = row(400, 10148, "consumer already exists");
pub(crate) const CONSUMER_DOES_NOT_EXIST: ErrorDef = row(400, 10149, "consumer does not exist");
pub(crate) const MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED: ErrorDef = row(
    400,
    10150,
    "mirror with multiple subject transforms cannot also have a single subject filter",
);
pub(crate) const MIRROR_INVALID_SUBJECT_FILTER: ErrorDef =
    row(400, 10151, "mirror transform source: {err}");
pub(crate) const MIRROR_OVERLAPPING_SUBJECT_FILTERS: ErrorDef =
    row(400, 10152, "mirror subject filters can not overlap");
pub(crate) const CONSUMER_INACTIVE_THRESHOLD_EXCESS: ErrorDef = row(
    400,
    10153,
    "consumer inactive threshold exceeds system limit of {limit}",
);
pub(crate) const MIRROR_INVALID_TRANSFORM_DESTINATION: ErrorDef =
    row(400, 10154, "mirror transform: {err}");
pub(crate) const STREAM_TRANSFORM_INVALID_SOURCE: ErrorDef =
    row(400, 10155, "stream transform source: {err}");
pub(crate) const STREAM_TRANSFORM_INVALID_DESTINATION: ErrorDef =
    row(400, 10156, "stream transform: {err}");
pub(crate) const PEDANTIC: ErrorDef = row(400, 10157, "pedantic mode: {err}");
pub(crate) const STREAM_DUPLICATE_MESSAGE_CONFLICT: ErrorDef =
    row(409, 10158, "duplicate message id is in process");
pub(crate) const CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP: ErrorDef = row(
    400,
    10159,
    "Setting PriorityPolicy requires at least one PriorityGroup to be set",
);
pub(crate) const CONSUMER_INVALID_PRIORITY_GROUP: ErrorDef = row(
    400,
    10160,
    "Provided priority group does not exist for this consumer",
);
pub(crate) const CONSUMER_EMPTY_GROUP_NAME: ErrorDef =
    row(400, 10161, "Group name cannot be an empty string");
pub(crate) const CONSUMER_INVALID_GROUP_NAME: ErrorDef = row(
    400,
    10162,
    "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
);
pub(crate) const STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_NOT_READY: ErrorDef = row(
    503,
    10163,
    "expected last sequence per subject temporarily unavailable",
);
pub(crate) const STREAM_WRONG_LAST_SEQUENCE_CONSTANT: ErrorDef =
    row(400, 10164, "wrong last sequence");
pub(crate) const MESSAGE_TTL_INVALID: ErrorDef = row(400, 10165, "invalid per-message TTL");
pub(crate) const MESSAGE_TTL_DISABLED: ErrorDef = row(400, 10166, "per-message TTL is disabled");
pub(crate) const STREAM_TOO_MANY_REQUESTS: ErrorDef = row(429, 10167, "too many requests");
pub(crate) const CONSUMER_INVALID_RESET: ErrorDef = row(400, 10204, "invalid reset: {err}");
pub(crate) const MESSAGE_INCR_DISABLED: ErrorDef = row(400, 10168, "message counters is disabled");
pub(crate) const MESSAGE_INCR_MISSING: ErrorDef =
    row(400, 10169, "message counter increment is missing");
pub(crate) const MESSAGE_INCR_PAYLOAD: ErrorDef = row(400, 10170, "message counter has payload");
pub(crate) const MESSAGE_INCR_INVALID: ErrorDef =
    row(400, 10171, "message counter increment is invalid");
pub(crate) const MESSAGE_COUNTER_BROKEN: ErrorDef = row(400, 10172, "message counter is broken");
pub(crate) const MIRROR_WITH_COUNTERS: ErrorDef =
    row(400, 10173, "stream mirrors can not also calculate counters");
pub(crate) const ATOMIC_PUBLISH_DISABLED: ErrorDef = row(400, 10174, "atomic publish is disabled");
pub(crate) const ATOMIC_PUBLISH_MISSING_SEQ: ErrorDef =
    row(400, 10175, "atomic publish sequence is missing");
pub(crate) const ATOMIC_PUBLISH_INCOMPLETE_BATCH: ErrorDef =
    row(400, 10176, "atomic publish batch is incomplete");
pub(crate) const ATOMIC_PUBLISH_UNSUPPORTED_HEADER_BATCH: ErrorDef = row(
    400,
    10177,
    "atomic publish unsupported header used: {header}",
);
pub(crate) const CONSUMER_PUSH_WITH_PRIORITY_GROUP: ErrorDef = row(
    400,
    10178,
    "priority groups can not be used with push consumers",
);
pub(crate) const ATOMIC_PUBLISH_INVALID_BATCH_ID: ErrorDef =
    row(400, 10179, "atomic publish batch ID is invalid");
pub(crate) const STREAM_MIN_LAST_SEQ: ErrorDef = row(412, 10180, "min last sequence");
pub(crate) const CONSUMER_ACK_WAIT_NEGATIVE: ErrorDef =
    row(400, 10183, "consumer ack wait needs to be positive");
pub(crate) const CONSUMER_BACKOFF_NEGATIVE: ErrorDef =
    row(400, 10184, "consumer backoff needs to be positive");
pub(crate) const REQUIRED_API_LEVEL: ErrorDef =
    row(412, 10185, "JetStream minimum api level required");
pub(crate) const MIRROR_WITH_MSG_SCHEDULES: ErrorDef =
    row(400, 10186, "stream mirrors can not also schedule messages");
pub(crate) const SOURCE_WITH_MSG_SCHEDULES: ErrorDef =
    row(400, 10187, "stream source can not also schedule messages");
pub(crate) const MESSAGE_SCHEDULES_DISABLED: ErrorDef =
    row(400, 10188, "message schedules is disabled");
pub(crate) const MESSAGE_SCHEDULES_PATTERN_INVALID: ErrorDef =
    row(400, 10189, "message schedules pattern is invalid");
pub(crate) const MESSAGE_SCHEDULES_TARGET_INVALID: ErrorDef =
    row(400, 10190, "message schedules target is invalid");
pub(crate) const MESSAGE_SCHEDULES_TTL_INVALID: ErrorDef =
    row(400, 10191, "message schedules invalid per-message TTL");
pub(crate) const MESSAGE_SCHEDULES_ROLLUP_INVALID: ErrorDef =
    row(400, 10192, "message schedules invalid rollup");
pub(crate) const MESSAGE_SCHEDULES_SCHEDULER_INVALID: ErrorDef =
    row(400, 10212, "message schedules invalid scheduler");
pub(crate) const MESSAGE_SCHEDULES_TIME_ZONE_INVALID: ErrorDef =
    row(400, 10223, "message schedules time zone is invalid");
pub(crate) const STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID: ErrorDef = row(
    400,
    10193,
    "missing sequence for expected last sequence per subject",
);
pub(crate) const STREAM_OFFLINE_REASON: ErrorDef = row(500, 10194, "stream is offline: {err}");
pub(crate) const CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE: ErrorDef = row(
    400,
    10196,
    "consumer can not have priority groups when policy is none",
);
pub(crate) const CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE: ErrorDef = row(
    400,
    10197,
    "PinnedTTL cannot be set when PriorityPolicy is none",
);
pub(crate) const MIRROR_WITH_ATOMIC_PUBLISH: ErrorDef = row(
    400,
    10198,
    "stream mirrors can not also use atomic publishing",
);
pub(crate) const ATOMIC_PUBLISH_TOO_LARGE_BATCH: ErrorDef =
    row(400, 10199, "atomic publish batch is too large: {size}");
pub(crate) const ATOMIC_PUBLISH_INVALID_BATCH_COMMIT: ErrorDef =
    row(400, 10200, "atomic publish batch commit is invalid");
pub(crate) const ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE: ErrorDef = row(
    400,
    10201,
    "atomic publish batch contains duplicate message id",
);
pub(crate) const MESSAGE_SCHEDULES_SOURCE_INVALID: ErrorDef =
    row(400, 10203, "message schedules source is invalid");
pub(crate) const BATCH_PUBLISH_DISABLED: ErrorDef = row(400, 10205, "batch publish is disabled");
pub(crate) const BATCH_PUBLISH_INVALID_PATTERN: ErrorDef =
    row(400, 10206, "batch publish pattern is invalid");
pub(crate) const BATCH_PUBLISH_INVALID_BATCH_ID: ErrorDef =
    row(400, 10207, "batch publish ID is invalid");
pub(crate) const BATCH_PUBLISH_UNKNOWN_BATCH_ID: ErrorDef =
    row(400, 10208, "batch publish ID unknown");
pub(crate) const MIRROR_WITH_BATCH_PUBLISH: ErrorDef = row(
    400,
    10209,
    "stream mirrors can not also use batch publishing",
);
pub(crate) const ATOMIC_PUBLISH_TOO_MANY_INFLIGHT: ErrorDef =
    row(429, 10210, "atomic publish too many inflight");
pub(crate) const BATCH_PUBLISH_TOO_MANY_INFLIGHT: ErrorDef =
    row(429, 10211, "batch publish too many inflight");
pub(crate) const MIRROR_DURABLE_CONSUMER_CFG_INVALID: ErrorDef =
    row(400, 10213, "stream mirror consumer config is invalid");
pub(crate) const MIRROR_CONSUMER_REQUIRES_ACK_FC: ErrorDef = row(
    400,
    10214,
    "stream mirror consumer requires flow control ack policy",
);
pub(crate) const SOURCE_DURABLE_CONSUMER_CFG_INVALID: ErrorDef =
    row(400, 10215, "stream source consumer config is invalid");
pub(crate) const SOURCE_DURABLE_CONSUMER_DUPLICATE_DETECTED: ErrorDef =
    row(400, 10216, "duplicate stream source consumer detected");
pub(crate) const SOURCE_CONSUMER_REQUIRES_ACK_FC: ErrorDef = row(
    400,
    10217,
    "stream source consumer requires flow control ack policy",
);
pub(crate) const CONSUMER_ACK_FC_REQUIRES_PUSH: ErrorDef = row(
    400,
    10218,
    "flow control ack policy requires a push based consumer",
);
pub(crate) const CONSUMER_ACK_FC_REQUIRES_FC: ErrorDef =
    row(400, 10219, "flow control ack policy requires flow control");
pub(crate) const CONSUMER_ACK_FC_REQUIRES_MAX_ACK_PENDING: ErrorDef = row(
    400,
    10220,
    "flow control ack policy requires max ack pending",
);
pub(crate) const CONSUMER_ACK_FC_REQUIRES_NO_ACK_WAIT: ErrorDef = row(
    400,
    10221,
    "flow control ack policy requires unset ack wait",
);
pub(crate) const CONSUMER_ACK_FC_REQUIRES_NO_MAX_DELIVER: ErrorDef = row(
    400,
    10222,
    "flow control ack policy requires unset max deliver",
);
pub(crate) const STREAM_RECONFIGURE_IN_PROGRESS: ErrorDef =
    row(400, 10226, "stream reconfiguration already in progress");
