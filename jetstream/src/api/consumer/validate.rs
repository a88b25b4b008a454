//! The reference's consumer checks, in its order and with its texts, as
//! nats-server 2.14.0 answers on the wire:
//!
//! 1. Subject: [`CreateConsumerRequest::check_subject`] checks the API
//!    subject against the body (`jsConsumerCreate`): stream name,
//!    durable/name, filter token.
//! 2. Config: [`ConsumerConfig::validate`] applies the defaults
//!    (`setConsumerConfigDefaults`), then the config rules
//!    (`checkConsumerCfg`), given the stream.
//! 3. Action: [`decide_action`] weighs the request's `action` against an
//!    existing consumer of that name, and what an update may change
//!    (`checkNewConsumerConfig`).
//! 4. New consumer: [`check_new_consumer`], for a consumer that does not
//!    exist yet, checks the stream's max_consumers and the workqueue rules.
//!
//! The engine supplies what these cannot know: the stream's config, the
//! other consumers' filters, and whether a push consumer is bound.

use super::config::*;
use super::requests::CreateConsumerRequest;
use crate::api::stream::{is_subset_match, RetentionPolicy, StreamConfig};
use crate::duration::format_go_duration;
use crate::error::*;
use crate::subject::{is_valid_literal_subject, is_valid_subject, subjects_overlap};

pub(crate) const MAX_NAME_LEN: usize = 255;
pub(crate) const MAX_DESCRIPTION_LEN: usize = 4096;
/// Sum of key and value lengths.
pub const MAX_METADATA_LEN: usize = 128 * 1024;
const NANOS_PER_MS: i64 = 1_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;
/// `ack_wait` when acks are expected and none is set.
pub const DEFAULT_ACK_WAIT: i64 = 30 * NANOS_PER_SEC;
/// `max_ack_pending` when acks are expected and none is set.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// `max_waiting` of a pull consumer when none is set.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// `inactive_threshold` of an ephemeral when neither it nor the stream sets one.
pub const DEFAULT_INACTIVE_THRESHOLD: i64 = 5 * NANOS_PER_SEC;
/// `priority_timeout` of a `pinned_client` consumer when none is set.
pub const DEFAULT_PINNED_TTL: i64 = 120 * NANOS_PER_SEC;
/// The heartbeat an `ack_policy: flow_control` consumer runs with.
pub const FLOW_CONTROL_ACK_HEARTBEAT: i64 = NANOS_PER_SEC;
const MIN_HEARTBEAT: i64 = 100 * NANOS_PER_MS;
const MIN_MAX_EXPIRES: i64 = NANOS_PER_MS;
const MAX_GROUP_NAME_LEN: usize = 16;

/// Server and account limits that bound consumers (0 = no limit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsumerLimits {
    /// `jetstream { limits { max_ack_pending } }` of the server.
    pub server_max_ack_pending: i64,
    /// `jetstream { limits { max_request_batch } }` of the server.
    pub server_max_request_batch: i64,
    /// The account's `max_ack_pending` limit.
    pub account_max_ack_pending: i64,
    /// The account's limit on a stream's consumers.
    pub account_max_consumers: i64,
}

/// A consumer name (durable or chosen): no `.`, `*`, `>`, whitespace or
/// path separators.
pub fn is_valid_consumer_name(name: &str) -> bool {
    crate::api::stream::is_valid_name(name)
}

fn invalid_config(text: impl std::fmt::Display) -> ApiError {
    ApiError::stream_invalid_config(text)
}

impl ConsumerConfig {
    /// Fills in the reference's defaults, then checks the config against
    /// the stream. On error `self` is left as it was. An ephemeral left
    /// without an inactive threshold (by itself and the stream) gets 5 s.
    pub fn validate(
        &mut self,
        stream: &StreamConfig,
        limits: &ConsumerLimits,
        pedantic: bool,
    ) -> Result<(), ApiError> {
        let mut cfg = self.clone();
        cfg.set_defaults(stream, limits, pedantic)?;
        cfg.check(stream, limits)?;
        if !cfg.is_durable() && cfg.inactive_threshold == 0 {
            cfg.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD;
        }
        *self = cfg;
        Ok(())
    }

    /// `setConsumerConfigDefaults`.
    pub(crate) fn set_defaults(
        &mut self,
        stream: &StreamConfig,
        limits: &ConsumerLimits,
        pedantic: bool,
    ) -> Result<(), ApiError> {
        let pedantic_err = |text: &str| Err(ApiError::pedantic(text));
        if self.max_deliver == 0 || self.max_deliver < -1 {
            if pedantic && self.max_deliver < -1 {
                return pedantic_err("max_deliver must be set to -1");
            }
            self.max_deliver = -1;
        }
        let never_negative: [(&mut i64, &str); 6] = [
            (&mut self.max_waiting, "max_waiting must not be negative"),
            (
                &mut self.max_ack_pending,
                "max_ack_pending must be set to -1",
            ),
            (&mut self.max_batch, "max_batch must not be negative"),
            (&mut self.max_expires, "max_expires must not be negative"),
            (&mut self.max_bytes, "max_bytes must not be negative"),
            (
                &mut self.idle_heartbeat,
                "idle_heartbeat must not be negative",
            ),
        ];
        for (value, text) in never_negative {
            // max_ack_pending keeps -1 ("unlimited"); the others reset to 0.
            let is_ack_pending = text.starts_with("max_ack_pending");
            let floor = if is_ack_pending { -1 } else { 0 };
            if *value < floor {
                if pedantic {
                    return pedantic_err(text);
                }
                *value = floor;
            }
        }
        for (value, text) in [
            (
                &mut self.inactive_threshold,
                "inactive_threshold must not be negative",
            ),
            (
                &mut self.pinned_ttl,
                "priority_timeout must not be negative",
            ),
        ] {
            if *value < 0 {
                if pedantic {
                    return pedantic_err(text);
                }
                *value = 0;
            }
        }
        if self.is_pull() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if self.ack_wait == 0 && matches!(self.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
            self.ack_wait = DEFAULT_ACK_WAIT;
        }
        if let Some(&first) = self.backoff.first() {
            if pedantic && self.ack_wait != first {
                return pedantic_err("first backoff value has to equal batch AckWait");
            }
            self.ack_wait = first;
        }
        let stream_limits = &stream.consumer_limits;
        if self.max_ack_pending == 0 {
            if pedantic && stream_limits.max_ack_pending > 0 {
                return pedantic_err(
                    "max_ack_pending must be set if it's configured in stream limits",
                );
            }
            self.max_ack_pending = stream_limits.max_ack_pending;
        }
        if self.inactive_threshold == 0 {
            if pedantic && stream_limits.inactive_threshold > 0 {
                return pedantic_err(
                    "inactive_threshold must be set if it's configured in stream limits",
                );
            }
            self.inactive_threshold = stream_limits.inactive_threshold;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            let mut pending = DEFAULT_MAX_ACK_PENDING;
            for limit in [
                limits.server_max_ack_pending,
                limits.account_max_ack_pending,
            ] {
                if limit > 0 && limit < pending {
                    pending = limit;
                }
            }
            self.max_ack_pending = pending;
        }
        if self.is_pull() && self.max_batch == 0 && limits.server_max_request_batch > 0 {
            if pedantic {
                return pedantic_err(
                    "max_request_batch must be set if it's JetStream limits are set",
                );
            }
            self.max_batch = limits.server_max_request_batch;
        }
        if self.priority_policy == PriorityPolicy::PinnedClient && self.pinned_ttl == 0 {
            self.pinned_ttl = DEFAULT_PINNED_TTL;
        }
        if self.ack_policy == AckPolicy::FlowControl && !pedantic {
            self.flow_control = true;
            self.idle_heartbeat = FLOW_CONTROL_ACK_HEARTBEAT;
        }
        Ok(())
    }

    /// `checkConsumerCfg`, after the defaults.
    pub(crate) fn check(
        &self,
        stream: &StreamConfig,
        limits: &ConsumerLimits,
    ) -> Result<(), ApiError> {
        self.check_names_and_replicas(stream)?;
        self.check_acks()?;
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(CONSUMER_DESCRIPTION_TOO_LONG.with(&[("max", &MAX_DESCRIPTION_LEN)]));
        }
        self.check_mode(stream, limits)?;
        self.check_limits(stream, limits)?;
        if self.direct {
            if self.is_pull() {
                return Err(CONSUMER_DIRECT_REQUIRES_PUSH.into());
            }
            if self.is_durable() {
                return Err(CONSUMER_DIRECT_REQUIRES_EPHEMERAL.into());
            }
        }
        self.check_filters()?;
        self.check_start()?;
        self.check_rest(stream)
    }

    fn check_names_and_replicas(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        if !self.name.is_empty() && !is_valid_consumer_name(&self.name) {
            return Err(invalid_config(
                "consumer name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.is_durable() && !is_valid_consumer_name(&self.durable_name) {
            return Err(invalid_config(
                "consumer durable name can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        // A standalone server has one replica: more is refused as for streams.
        if self.num_replicas > 1 || self.num_replicas > stream.num_replicas.max(1) {
            return Err(ApiError::stream_replicas_not_supported());
        }
        if self.num_replicas < 0 {
            return Err(ApiError::replicas_count_negative());
        }
        Ok(())
    }

    fn check_acks(&self) -> Result<(), ApiError> {
        if self.backoff.iter().any(|b| *b < 0) {
            return Err(CONSUMER_BACKOFF_NEGATIVE.into());
        }
        if self.ack_wait < 0 {
            return Err(CONSUMER_ACK_WAIT_NEGATIVE.into());
        }
        if self.ack_policy == AckPolicy::FlowControl {
            if self.is_pull() {
                return Err(CONSUMER_ACK_FC_REQUIRES_PUSH.into());
            }
            if !self.flow_control {
                return Err(CONSUMER_ACK_FC_REQUIRES_FC.into());
            }
            if self.idle_heartbeat != FLOW_CONTROL_ACK_HEARTBEAT {
                return Err(invalid_config(
                    "flow control ack policy heartbeat needs to be 1s",
                ));
            }
            if self.max_ack_pending <= 0 {
                return Err(CONSUMER_ACK_FC_REQUIRES_MAX_ACK_PENDING.into());
            }
            if self.ack_wait != 0 || !self.backoff.is_empty() {
                return Err(CONSUMER_ACK_FC_REQUIRES_NO_ACK_WAIT.into());
            }
            if self.max_deliver > 0 {
                return Err(CONSUMER_ACK_FC_REQUIRES_NO_MAX_DELIVER.into());
            }
        }
        check_backoff(self)
    }

    /// Push-only and pull-only settings.
    fn check_mode(&self, stream: &StreamConfig, limits: &ConsumerLimits) -> Result<(), ApiError> {
        if self.is_push() {
            let subject = self.deliver_subject.as_bytes();
            if is_valid_subject(subject) && !is_valid_literal_subject(subject) {
                return Err(CONSUMER_DELIVER_TO_WILDCARDS.into());
            }
            if !is_valid_subject(subject) {
                return Err(CONSUMER_INVALID_DELIVER_SUBJECT.into());
            }
            if stream
                .subjects
                .iter()
                .any(|s| is_subset_match(&self.deliver_subject, s))
            {
                return Err(CONSUMER_DELIVER_CYCLE.into());
            }
            if self.max_waiting != 0 {
                return Err(CONSUMER_PUSH_MAX_WAITING.into());
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED.into());
            }
            if self.idle_heartbeat > 0 && self.idle_heartbeat < MIN_HEARTBEAT {
                return Err(CONSUMER_SMALL_HEARTBEAT.into());
            }
            return Ok(());
        }
        if self.ack_policy == AckPolicy::None && stream.retention == RetentionPolicy::WorkQueue {
            return Err(CONSUMER_PULL_REQUIRES_ACK.into());
        }
        if self.rate_limit > 0 {
            return Err(CONSUMER_PULL_WITH_RATE_LIMIT.into());
        }
        if self.idle_heartbeat > 0 {
            return Err(CONSUMER_HB_REQUIRES_PUSH.into());
        }
        if self.flow_control {
            return Err(CONSUMER_FC_REQUIRES_PUSH.into());
        }
        if self.max_expires != 0 && self.max_expires < MIN_MAX_EXPIRES {
            return Err(CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL.into());
        }
        let batch_limit = limits.server_max_request_batch;
        if batch_limit > 0 && self.max_batch > batch_limit {
            return Err(CONSUMER_MAX_REQUEST_BATCH_EXCEEDED.with(&[("limit", &batch_limit)]));
        }
        Ok(())
    }

    /// max_ack_pending and inactive_threshold against server, account and
    /// stream limits.
    fn check_limits(&self, stream: &StreamConfig, limits: &ConsumerLimits) -> Result<(), ApiError> {
        let stream_limits = &stream.consumer_limits;
        for limit in [
            limits.server_max_ack_pending,
            limits.account_max_ack_pending,
            stream_limits.max_ack_pending,
        ] {
            if limit > 0 && self.max_ack_pending > limit {
                return Err(CONSUMER_MAX_PENDING_ACK_EXCESS.with(&[("limit", &limit)]));
            }
        }
        let limit = stream_limits.inactive_threshold;
        if limit > 0 && self.inactive_threshold > limit {
            let limit = format_go_duration(limit);
            return Err(CONSUMER_INACTIVE_THRESHOLD_EXCESS.with(&[("limit", &limit)]));
        }
        Ok(())
    }

    fn check_filters(&self) -> Result<(), ApiError> {
        if !self.filter_subject.is_empty() && !self.filter_subjects.is_empty() {
            return Err(CONSUMER_DUPLICATE_FILTER_SUBJECTS.into());
        }
        if !self.filter_subject.is_empty() && !is_valid_subject(self.filter_subject.as_bytes()) {
            return Err(invalid_config("invalid subject"));
        }
        if self.filter_subjects.iter().any(String::is_empty) {
            return Err(CONSUMER_EMPTY_FILTER.into());
        }
        let filters = self.filters();
        for (i, subject) in filters.iter().enumerate() {
            if !is_valid_subject(subject.as_bytes()) {
                return Err(invalid_config("invalid subject"));
            }
            let overlaps = filters
                .iter()
                .enumerate()
                .any(|(j, other)| i != j && is_subset_match(subject, other));
            if overlaps {
                return Err(CONSUMER_OVERLAPPING_SUBJECT_FILTERS.into());
            }
        }
        Ok(())
    }

    /// The deliver policy against `opt_start_seq`/`opt_start_time`.
    fn check_start(&self) -> Result<(), ApiError> {
        let policy = self.deliver_policy;
        let also_set = |what: &str| {
            Err(ApiError::consumer_invalid_policy(format!(
                "consumer delivery policy is deliver {}, but optional start {what} is also set",
                policy.words()
            )))
        };
        let not_set = |what: &str| {
            Err(ApiError::consumer_invalid_policy(format!(
                "consumer delivery policy is deliver {}, but optional {what} is not set",
                policy.words()
            )))
        };
        let seq = self.opt_start_seq > 0;
        let time = self.opt_start_time.is_some();
        match policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                if seq {
                    return also_set("sequence");
                }
                if time {
                    return also_set("time");
                }
            }
            DeliverPolicy::LastPerSubject => {
                if seq {
                    return also_set("sequence");
                }
                if time {
                    return also_set("time");
                }
                if self.filter_subject.is_empty() && self.filter_subjects.is_empty() {
                    return not_set("filter subject");
                }
            }
            DeliverPolicy::ByStartSequence => {
                if !seq {
                    return not_set("start sequence");
                }
                if time {
                    return also_set("time");
                }
            }
            DeliverPolicy::ByStartTime => {
                if !time {
                    return not_set("start time");
                }
                // The reference's text really says "start start sequence".
                if seq {
                    return also_set("start sequence");
                }
            }
        }
        Ok(())
    }

    /// Sampling, flow control, name agreement, metadata, priority groups.
    fn check_rest(&self, stream: &StreamConfig) -> Result<(), ApiError> {
        if !self.sample_freq.is_empty() {
            let digits = self
                .sample_freq
                .strip_suffix('%')
                .unwrap_or(&self.sample_freq);
            if let Err(err) = go_atoi(digits) {
                return Err(CONSUMER_INVALID_SAMPLING.with(&[("err", &err)]));
            }
            if go_atoi(digits).is_ok_and(|n| n < 0) {
                return Err(CONSUMER_INVALID_SAMPLING.with(&[("err", &"<nil>")]));
            }
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS.into());
        }
        if self.is_durable() && !self.name.is_empty() && self.name != self.durable_name {
            return Err(CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH.into());
        }
        let metadata_len: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            let limit = format!("{}KB", MAX_METADATA_LEN / 1024);
            return Err(CONSUMER_METADATA_LENGTH.with(&[("limit", &limit)]));
        }
        self.check_priority()?;
        if stream
            .placement
            .as_ref()
            .is_some_and(|p| !p.preferred.is_empty())
        {
            return Err(invalid_config(
                "preferred server not permitted in placement",
            ));
        }
        Ok(())
    }

    fn check_priority(&self) -> Result<(), ApiError> {
        if self.priority_policy == PriorityPolicy::None {
            if !self.priority_groups.is_empty() {
                return Err(CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE.into());
            }
            if self.pinned_ttl > 0 {
                return Err(CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE.into());
            }
            return Ok(());
        }
        if self.is_push() {
            return Err(CONSUMER_PUSH_WITH_PRIORITY_GROUP.into());
        }
        if self.priority_groups.is_empty() {
            return Err(CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP.into());
        }
        for group in &self.priority_groups {
            if group.is_empty() {
                return Err(CONSUMER_EMPTY_GROUP_NAME.into());
            }
            if !is_valid_group_name(group) {
                return Err(CONSUMER_INVALID_GROUP_NAME.into());
            }
        }
        Ok(())
    }
}

/// 10116 when there are more backoff steps than deliveries.
fn check_backoff(cfg: &ConsumerConfig) -> Result<(), ApiError> {
    let steps = cfg.backoff.len();
    if steps > 0
        && cfg.max_deliver != -1
        && i64::try_from(steps).unwrap_or(i64::MAX) > cfg.max_deliver
    {
        return Err(CONSUMER_MAX_DELIVER_BACKOFF.into());
    }
    Ok(())
}

/// `^[a-zA-Z0-9/_=-]{1,16}$`.
pub(crate) fn is_valid_group_name(group: &str) -> bool {
    group.len() <= MAX_GROUP_NAME_LEN
        && group
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'=' | b'-'))
}

/// Why Go's `strconv.Atoi` refused a number; `Display` is Go's text.
#[derive(Debug)]
enum AtoiError {
    /// Not an optional sign followed by digits.
    Syntax(String),
    /// Digits that do not fit 64 bits.
    Range(String),
}

impl std::fmt::Display for AtoiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AtoiError::Syntax(s) => {
                write!(f, "strconv.Atoi: parsing {}: invalid syntax", quoted(s))
            }
            AtoiError::Range(s) => {
                write!(f, "strconv.Atoi: parsing {}: value out of range", quoted(s))
            }
        }
    }
}

/// Go's `strconv.Atoi`.
fn go_atoi(s: &str) -> Result<i64, AtoiError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AtoiError::Syntax(s.to_owned()));
    }
    s.parse::<i64>().map_err(|_| AtoiError::Range(s.to_owned()))
}

/// What an accepted create request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActionOutcome {
    /// No consumer of that name: create it (after [`check_new_consumer`]).
    Create,
    /// The consumer exists: store the new config (it may equal the old).
    Update,
}

/// The `action` against the consumer already registered under the name,
/// if any. `new` is validated; its `pause_until` is replaced by the
/// existing one (the reference changes pauses only through PAUSE).
/// `old_deliver_bound`: the existing push consumer's deliver subject still
/// has subscribers (then it may not move to another subject).
///
/// `wq_others`: on a workqueue stream, the other consumers' filters; an
/// update must keep its partition unique among them (checked, as the
/// reference does, before what the update may change).
pub(crate) fn decide_action(
    action: ConsumerAction,
    existing: Option<&ConsumerConfig>,
    new: &mut ConsumerConfig,
    old_deliver_bound: bool,
    wq_others: Option<&[Vec<String>]>,
) -> Result<ActionOutcome, ApiError> {
    let Some(old) = existing else {
        if action == ConsumerAction::Update {
            return Err(ApiError::consumer_does_not_exist());
        }
        return Ok(ActionOutcome::Create);
    };
    new.pause_until = old.pause_until;
    new.set_static_metadata();
    if action == ConsumerAction::Create && new != old {
        return Err(ApiError::consumer_already_exists());
    }
    if let Some(others) = wq_others {
        if !partition_unique(&new.filters(), others) {
            return Err(CONSUMER_WQ_CONSUMER_NOT_UNIQUE.into());
        }
    }
    check_update(old, new, old_deliver_bound)?;
    Ok(ActionOutcome::Update)
}

/// `checkNewConsumerConfig` as 2.14.0 has it: what an existing consumer's
/// config may not change. Filters, limits, description, metadata, storage
/// and replicas may change.
pub fn check_update(
    old: &ConsumerConfig,
    new: &ConsumerConfig,
    old_deliver_bound: bool,
) -> Result<(), ApiError> {
    if old == new {
        return Ok(());
    }
    let instant = |t: Option<Timestamp>| t.map(|t| t.nanos);
    let refusal = if old.deliver_policy != new.deliver_policy {
        Some("deliver policy can not be updated")
    } else if old.opt_start_seq != new.opt_start_seq {
        Some("start sequence can not be updated")
    } else if instant(old.opt_start_time) != instant(new.opt_start_time) {
        Some("start time can not be updated")
    } else if old.ack_policy != new.ack_policy {
        Some("ack policy can not be updated")
    } else if old.replay_policy != new.replay_policy {
        Some("replay policy can not be updated")
    } else if old.idle_heartbeat != new.idle_heartbeat {
        Some("heart beats can not be updated")
    } else if old.flow_control != new.flow_control {
        Some("flow control can not be updated")
    } else if old.deliver_subject != new.deliver_subject && old.is_pull() {
        Some("can not update pull consumer to push based")
    } else if old.deliver_subject != new.deliver_subject && new.is_pull() {
        Some("can not update push consumer to pull based")
    } else {
        None
    };
    if let Some(text) = refusal {
        return Err(ApiError::consumer_create(text));
    }
    if old.deliver_subject != new.deliver_subject && old_deliver_bound {
        return Err(CONSUMER_NAME_EXIST.into());
    }
    if old.max_waiting != new.max_waiting {
        return Err(ApiError::consumer_create("max waiting can not be updated"));
    }
    check_backoff(new)
}

/// The rules for a consumer that does not exist yet: the stream's
/// `max_consumers` (or the account's, when stricter) against
/// `existing_count`, then, on a workqueue stream, explicit acks, filters
/// that no other consumer's filters overlap, and deliver all.
/// `others` holds the other (non-direct) consumers' [`filters`](ConsumerConfig::filters).
pub(crate) fn check_new_consumer(
    stream: &StreamConfig,
    limits: &ConsumerLimits,
    new: &ConsumerConfig,
    existing_count: usize,
    others: &[Vec<String>],
) -> Result<(), ApiError> {
    let mut max = stream.max_consumers;
    let account = limits.account_max_consumers;
    if max <= 0 || (account > 0 && account < max) {
        max = account;
    }
    if max > 0 && i64::try_from(existing_count).unwrap_or(i64::MAX) >= max {
        return Err(ApiError::maximum_consumers_limit());
    }
    if stream.retention != RetentionPolicy::WorkQueue || new.direct || new.sourcing {
        return Ok(());
    }
    if !matches!(new.ack_policy, AckPolicy::Explicit | AckPolicy::FlowControl) {
        return Err(CONSUMER_WQ_REQUIRES_EXPLICIT_ACK.into());
    }
    // The reference (2.14) checks the partition before the deliver policy.
    if existing_count > 0 {
        let filters = new.filters();
        if filters.is_empty() {
            return Err(CONSUMER_WQ_MULTIPLE_UNFILTERED.into());
        }
        if !partition_unique(&filters, others) {
            return Err(CONSUMER_WQ_CONSUMER_NOT_UNIQUE.into());
        }
    }
    if new.deliver_policy != DeliverPolicy::All {
        return Err(CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL.into());
    }
    Ok(())
}

/// Whether no subject matched by `filters` is also claimed by one of
/// `others` (an unfiltered consumer claims everything); also checked on
/// an update of a workqueue consumer (10100, see `decide_action`).
pub fn partition_unique(filters: &[String], others: &[Vec<String>]) -> bool {
    others.iter().all(|other| {
        !other.is_empty()
            && filters
                .iter()
                .all(|f| other.iter().all(|o| !subjects_overlap(f, o)))
    })
}

impl CreateConsumerRequest {
    /// `jsConsumerCreate`'s checks of the request subject against the
    /// body, before the config checks. Sets `config.name` from the subject
    /// (the reference ignores a different name in the body).
    pub(crate) fn check_subject(&mut self, subject: &CreateSubject<'_>) -> Result<(), ApiError> {
        if subject.stream != self.stream_name {
            return Err(ApiError::stream_name_mismatch());
        }
        let cfg = &mut self.config;
        match subject.kind {
            CreateKind::Ephemeral => {
                if cfg.is_durable() {
                    return Err(CONSUMER_EPHEMERAL_WITH_DURABLE_NAME.into());
                }
            }
            CreateKind::Named { consumer, filter } => {
                if consumer.contains(['/', '\\']) {
                    return Err(CONSUMER_NAME_CONTAINS_PATH_SEPARATORS.into());
                }
                if cfg.is_durable() && cfg.durable_name != consumer {
                    return Err(CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT.into());
                }
                consumer.clone_into(&mut cfg.name);
                if let Some(filter) = filter {
                    if !cfg.filter_subjects.is_empty() {
                        return Err(CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED.into());
                    }
                    if cfg.filter_subject != filter {
                        return Err(CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH.into());
                    }
                }
            }
            CreateKind::LegacyDurable { consumer } => {
                if consumer.contains(['/', '\\']) {
                    return Err(CONSUMER_NAME_CONTAINS_PATH_SEPARATORS.into());
                }
                if !cfg.is_durable() {
                    return Err(CONSUMER_DURABLE_NAME_NOT_SET.into());
                }
                if cfg.durable_name != consumer {
                    return Err(CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT.into());
                }
            }
        }
        // A durable is named after itself.
        if cfg.is_durable() && cfg.name.is_empty() {
            cfg.name.clone_from(&cfg.durable_name);
        }
        if cfg.name.contains(['/', '\\']) || cfg.durable_name.contains(['/', '\\']) {
            return Err(CONSUMER_NAME_CONTAINS_PATH_SEPARATORS.into());
        }
        if cfg.is_durable() && cfg.durable_name.len() > MAX_NAME_LEN {
            return Err(CONSUMER_NAME_TOO_LONG.with(&[("max", &MAX_NAME_LEN)]));
        }
        Ok(())
    }
}

/// Which create endpoint a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CreateKind<'a> {
    /// `CONSUMER.CREATE.<S>`: the server picks a name unless the body has one.
    Ephemeral,
    /// `CONSUMER.CREATE.<S>.<C>[.<filter...>]`.
    Named {
        consumer: &'a str,
        filter: Option<&'a str>,
    },
    /// `CONSUMER.DURABLE.CREATE.<S>.<C>`.
    LegacyDurable { consumer: &'a str },
}

/// The parts of a create request's subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CreateSubject<'a> {
    pub stream: &'a str,
    pub kind: CreateKind<'a>,
}

impl<'a> CreateSubject<'a> {
    /// Splits `$JS.API.CONSUMER.CREATE.<S>[.<C>[.<filter>]]` or
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<S>.<C>` (without a domain prefix);
    /// `None` for any other shape (the reference does not answer those).
    pub fn parse(subject: &'a str) -> Option<Self> {
        if let Some(rest) = subject.strip_prefix("$JS.API.CONSUMER.DURABLE.CREATE.") {
            let (stream, consumer) = rest.split_once('.')?;
            if consumer.contains('.') || stream.is_empty() || consumer.is_empty() {
                return None;
            }
            return Some(CreateSubject {
                stream,
                kind: CreateKind::LegacyDurable { consumer },
            });
        }
        let rest = subject.strip_prefix("$JS.API.CONSUMER.CREATE.")?;
        let mut parts = rest.splitn(3, '.');
        let stream = parts.next().filter(|s| !s.is_empty())?;
        let kind = match parts.next() {
            None => CreateKind::Ephemeral,
            Some(consumer) => CreateKind::Named {
                consumer,
                filter: parts.next(),
            },
        };
        Some(CreateSubject { stream, kind })
    }
}
