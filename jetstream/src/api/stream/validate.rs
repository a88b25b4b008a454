//! The reference's stream config checks, in its order and with its texts:
//! `checkStreamCfg` ([`StreamConfig::validate`]), the extra create rules
//! ([`StreamConfig::validate_create`]) and `configUpdateCheck`
//! ([`StreamConfig::check_update`]). Behaviour follows nats-server 2.14.0 as observed on
//! the wire where it differs from later sources (it accepts counters with
//! schedules, schedules with discard new, and replicas > 1 on update).
//!
//! Checks that need other streams or account limits (subject overlap 10065,
//! source cycles, mirror max_msg_size against the origin, `mirror_direct`
//! inherited from the origin, max-bytes-required) are the caller's.

use std::collections::HashSet;

use super::config::*;
use crate::error::*;
use crate::subject::{is_valid_literal_subject, is_valid_subject};
use crate::transform::check_mapping;

pub(crate) const MAX_NAME_LEN: usize = 255;
pub(crate) const MAX_DESCRIPTION_LEN: usize = 4096;
/// Sum of key and value lengths.
pub const MAX_METADATA_LEN: usize = 128 * 1024;
pub(crate) const MAX_REPLICAS: i64 = 5;
const NANOS_PER_MS: i64 = 1_000_000;
const NANOS_PER_SEC: i64 = 1_000_000_000;
/// The duplicate window a stream gets when none (or 0) is configured.
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120 * NANOS_PER_SEC;
const MIN_AGE: i64 = 100 * NANOS_PER_MS;
const MIN_DELETE_MARKER_TTL: i64 = NANOS_PER_SEC;

/// The prefix external JS APIs must not overlap.
const JS_API_PREFIX: &str = "$JS.API";

/// A stream (or mirror/source) name: non-empty, without `.`, `*`, `>`,
/// whitespace or path separators.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| {
            matches!(
                c,
                ' ' | '\t' | '\r' | '\n' | '\x0c' | '.' | '*' | '>' | '\\' | '/'
            )
        })
}

fn invalid(text: impl std::fmt::Display) -> ApiError {
    ApiError::stream_invalid_config(text)
}

/// Whether some literal subject matches both (wildcards allowed in either);
/// the subject grammar's own check, under the name the validation uses.
pub use crate::subject::subjects_overlap as subjects_collide;

/// Whether every subject `subject` matches is also matched by `test`.
pub fn is_subset_match(subject: &str, test: &str) -> bool {
    let (mut x, mut y) = (subject.split('.'), test.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(s), Some(t)) => {
                if t == ">" {
                    return true;
                }
                if s == ">" || (t != "*" && (s == "*" || s != t)) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

impl StreamConfig {
    /// Applies the reference's defaults and rules. On error `self` is left
    /// as it was. Clears `pedantic`.
    pub fn validate(&mut self) -> Result<(), ApiError> {
        let mut cfg = self.clone();
        let pedantic = std::mem::take(&mut cfg.pedantic);
        cfg.check_identity()?;
        cfg.apply_limits(pedantic)?;
        cfg.check_features(pedantic)?;
        cfg.check_mirror()?;
        cfg.check_sources()?;
        cfg.check_subjects()?;
        cfg.check_transforms(pedantic)?;
        if cfg.placement.as_ref() == Some(&Placement::default()) {
            cfg.placement = None;
        }
        if cfg
            .placement
            .as_ref()
            .is_some_and(|p| !p.preferred.is_empty())
        {
            return Err(invalid("preferred server not permitted in placement"));
        }
        *self = cfg;
        Ok(())
    }

    /// STREAM.CREATE: the rules around [`validate`](Self::validate) (the
    /// caller has already matched the name in the subject, 10056).
    pub fn validate_create(&mut self) -> Result<(), ApiError> {
        if self.name.contains(['/', '\\']) {
            return Err(ApiError::stream_name_contains_path_separators());
        }
        if self.sealed {
            return Err(invalid("stream configuration for create can not be sealed"));
        }
        self.validate()?;
        if self.num_replicas > 1 {
            return Err(ApiError::stream_replicas_not_supported());
        }
        Ok(())
    }

    fn check_identity(&self) -> Result<(), ApiError> {
        if !is_valid_name(&self.name) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if self.name.len() > MAX_NAME_LEN {
            return Err(invalid(format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(invalid(format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let metadata_len: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(invalid(format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }
        Ok(())
    }

    fn apply_limits(&mut self, pedantic: bool) -> Result<(), ApiError> {
        if self.num_replicas == 0 {
            self.num_replicas = 1;
        }
        if self.num_replicas > MAX_REPLICAS {
            return Err(invalid(format!("maximum replicas is {MAX_REPLICAS}")));
        }
        if self.num_replicas < 0 {
            return Err(ApiError::replicas_count_negative());
        }
        // 0 and anything below -1 mean "unlimited", which is written -1.
        let unlimited = |v: &mut i64, field: &str| {
            if *v == 0 || *v < -1 {
                if pedantic && *v < -1 {
                    return Err(ApiError::pedantic(format!("{field} must be set to -1")));
                }
                *v = -1;
            }
            Ok(())
        };
        unlimited(&mut self.max_msgs, "max_msgs")?;
        unlimited(&mut self.max_msgs_per_subject, "max_msgs_per_subject")?;
        unlimited(&mut self.max_bytes, "max_bytes")?;
        let mut max_msg_size = i64::from(self.max_msg_size);
        unlimited(&mut max_msg_size, "max_msg_size")?;
        self.max_msg_size = max_msg_size as i32; // -1 or the original value
        unlimited(&mut self.max_consumers, "max_consumers")?;

        if self.max_age < 0 {
            return Err(invalid("max age can not be negative"));
        }
        if self.max_age != 0 && self.max_age < MIN_AGE {
            return Err(invalid("max age needs to be >= 100ms"));
        }
        if self.duplicate_window == 0 && self.mirror.is_none() && self.sources.is_empty() {
            if self.max_age != 0 && self.max_age < DEFAULT_DUPLICATE_WINDOW {
                if pedantic {
                    return Err(ApiError::pedantic(
                        "duplicate window cannot be bigger than max age",
                    ));
                }
                self.duplicate_window = self.max_age;
            } else {
                self.duplicate_window = DEFAULT_DUPLICATE_WINDOW;
            }
        }
        if self.duplicate_window < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        if self.max_age != 0 && self.duplicate_window > self.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if self.duplicate_window > 0 && self.duplicate_window < MIN_AGE {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }
        Ok(())
    }

    /// Rollups, counters, per-subject discard, delete markers, schedules
    /// and persistence: the flags that require or exclude each other.
    fn check_features(&mut self, pedantic: bool) -> Result<(), ApiError> {
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        if self.allow_msg_counter {
            if self.discard == DiscardPolicy::New {
                return Err(invalid("counter stream cannot use discard new"));
            }
            if self.allow_msg_ttl {
                return Err(invalid("counter stream cannot use message TTLs"));
            }
            if self.retention != RetentionPolicy::Limits {
                return Err(invalid("counter stream can only use limits retention"));
            }
        }
        if self.discard_new_per_subject {
            if self.discard != DiscardPolicy::New {
                return Err(invalid(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if self.max_msgs_per_subject <= 0 {
                return Err(invalid(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if self.subject_delete_marker_ttl > 0 {
            if self.subject_delete_marker_ttl < MIN_DELETE_MARKER_TTL {
                return Err(invalid(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            // Markers are messages with a TTL that roll up their subject,
            // so they switch both features on (pedantic refuses instead).
            if !self.allow_msg_ttl {
                if pedantic {
                    return Err(invalid(
                        "subject delete marker cannot be set if message TTLs are disabled",
                    ));
                }
                self.allow_msg_ttl = true;
            }
            if !self.allow_rollup_hdrs {
                if pedantic {
                    return Err(invalid(
                        "subject delete marker cannot be set if roll-ups are disabled",
                    ));
                }
                self.allow_rollup_hdrs = true;
                self.deny_purge = false;
            }
        } else if self.subject_delete_marker_ttl < 0 {
            return Err(invalid("subject delete marker TTL must not be negative"));
        }
        if self.allow_msg_schedules && !self.allow_rollup_hdrs {
            if pedantic {
                return Err(invalid(
                    "message scheduling cannot be set if roll-ups are disabled",
                ));
            }
            self.allow_rollup_hdrs = true;
            self.deny_purge = false;
        }
        if self.persist_mode == PersistMode::Async {
            if self.storage != StorageType::File {
                return Err(invalid(
                    "async persist mode is only supported on file storage",
                ));
            }
            if self.num_replicas > 1 {
                return Err(invalid(
                    "async persist mode is not supported on replicated streams",
                ));
            }
            if self.allow_atomic {
                return Err(invalid(
                    "async persist mode is not supported with atomic batch publish",
                ));
            }
        }
        Ok(())
    }

    fn check_mirror(&self) -> Result<(), ApiError> {
        let Some(mirror) = &self.mirror else {
            return Ok(());
        };
        let refuse = [
            (self.first_seq > 0, MIRROR_WITH_FIRST_SEQ),
            (!self.subjects.is_empty(), MIRROR_WITH_SUBJECTS),
            (!self.sources.is_empty(), MIRROR_WITH_SOURCES),
            (self.allow_msg_counter, MIRROR_WITH_COUNTERS),
            (self.allow_atomic, MIRROR_WITH_ATOMIC_PUBLISH),
            (self.allow_batched, MIRROR_WITH_BATCH_PUBLISH),
            (self.allow_msg_schedules, MIRROR_WITH_MSG_SCHEDULES),
            (
                mirror
                    .consumer
                    .as_ref()
                    .is_some_and(|c| !consumer_source_ok(mirror, c)),
                MIRROR_DURABLE_CONSUMER_CFG_INVALID,
            ),
            (
                !mirror.filter_subject.is_empty() && !mirror.subject_transforms.is_empty(),
                MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED,
            ),
        ];
        if let Some((_, def)) = refuse.into_iter().find(|(bad, _)| *bad) {
            return Err(def.into());
        }
        if self.subject_delete_marker_ttl > 0 {
            // Markers would take sequence numbers the origin does not have.
            return Err(invalid("subject delete markers forbidden on mirrors"));
        }
        for (i, tr) in mirror.subject_transforms.iter().enumerate() {
            if !tr.src.is_empty() && !is_valid_subject(tr.src.as_bytes()) {
                let err = format!("invalid subject {}", tr.src);
                return Err(MIRROR_INVALID_SUBJECT_FILTER.with(&[("err", &err)]));
            }
            if let Err(err) = check_mapping(&tr.src, &tr.dest) {
                return Err(MIRROR_INVALID_TRANSFORM_DESTINATION.with(&[("err", &err)]));
            }
            let overlaps = mirror
                .subject_transforms
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && subjects_collide(&tr.src, &other.src));
            if overlaps {
                return Err(MIRROR_OVERLAPPING_SUBJECT_FILTERS.into());
            }
        }
        match &mirror.external {
            None if !is_valid_name(&mirror.name) => Err(MIRROR_INVALID_STREAM_NAME.into()),
            None => Ok(()),
            Some(ext) => check_external(ext),
        }
    }

    fn check_sources(&self) -> Result<(), ApiError> {
        if !self.sources.is_empty() && self.allow_msg_schedules {
            return Err(SOURCE_WITH_MSG_SCHEDULES.into());
        }
        let mut inames = HashSet::new();
        let mut cnames = HashSet::new();
        for src in &self.sources {
            if !is_valid_name(&src.name) {
                return Err(SOURCE_INVALID_STREAM_NAME.into());
            }
            if !inames.insert(index_name(src)) {
                return Err(SOURCE_DUPLICATE_DETECTED.into());
            }
            if !src.filter_subject.is_empty() && !src.subject_transforms.is_empty() {
                return Err(SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED.into());
            }
            for tr in &src.subject_transforms {
                if !tr.src.is_empty() && !is_valid_subject(tr.src.as_bytes()) {
                    let err = format!("invalid subject {}", tr.src);
                    return Err(SOURCE_INVALID_SUBJECT_FILTER.with(&[("err", &err)]));
                }
                if let Err(err) = check_mapping(&tr.src, &tr.dest) {
                    return Err(SOURCE_INVALID_TRANSFORM_DESTINATION.with(&[("err", &err)]));
                }
            }
            for (i, tr) in src.subject_transforms.iter().enumerate() {
                let overlaps = src
                    .subject_transforms
                    .iter()
                    .enumerate()
                    .any(|(j, other)| j != i && is_subset_match(&tr.src, &other.src));
                if overlaps {
                    return Err(SOURCE_OVERLAPPING_SUBJECT_FILTERS.into());
                }
            }
            if let Some(consumer) = &src.consumer {
                if !consumer_source_ok(src, consumer) {
                    return Err(SOURCE_DURABLE_CONSUMER_CFG_INVALID.into());
                }
                // One consumer on the origin can feed only one source.
                let api = src.external.as_ref().map_or("", |e| e.api.as_str());
                if !cnames.insert((src.name.as_str(), api, consumer.name.as_str())) {
                    return Err(SOURCE_DURABLE_CONSUMER_DUPLICATE_DETECTED.into());
                }
            }
            if let Some(ext) = &src.external {
                check_external(ext)?;
            }
        }
        Ok(())
    }

    fn check_subjects(&mut self) -> Result<(), ApiError> {
        if self.subjects.is_empty() {
            if self.mirror.is_none() && self.sources.is_empty() {
                self.subjects.push(self.name.clone());
            }
            return Ok(());
        }
        if self.mirror.is_some() {
            return Err(MIRROR_WITH_SUBJECTS.into());
        }
        let mut seen = HashSet::new();
        for (i, subj) in self.subjects.iter().enumerate() {
            if !is_valid_subject(subj.as_bytes()) {
                return Err(invalid("invalid subject"));
            }
            if !seen.insert(subj.as_str()) {
                return Err(invalid("duplicate subjects detected"));
            }
            if subj == ">" {
                if !self.no_ack {
                    return Err(invalid("capturing all subjects requires no-ack to be true"));
                }
                if self.num_replicas != 1 {
                    return Err(invalid("capturing all subjects requires replicas of 1"));
                }
            }
            // A stream acking its own API or system traffic would answer
            // requests meant for the server.
            if !self.no_ack {
                let js_api = ["$JS.>", "$JSC.>", "$NRG.>"]
                    .iter()
                    .any(|ns| subjects_collide(subj, ns));
                if js_api && !is_subset_match(subj, "$JS.EVENT.>") {
                    return Err(invalid(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    ));
                }
                if subjects_collide(subj, "$SYS.>") && !is_subset_match(subj, "$SYS.ACCOUNT.>") {
                    return Err(invalid(
                        "subjects that overlap with system api require no-ack to be true",
                    ));
                }
            }
            if let Some(other) = self.subjects[i + 1..]
                .iter()
                .find(|t| subjects_collide(t, subj))
            {
                return Err(invalid(format!(
                    "subject {} overlaps with {}",
                    go_quote(subj),
                    go_quote(other)
                )));
            }
        }
        Ok(())
    }

    fn check_transforms(&mut self, pedantic: bool) -> Result<(), ApiError> {
        if let Some(tr) = &self.subject_transform {
            if !tr.src.is_empty() && !is_valid_subject(tr.src.as_bytes()) {
                let err = format!("invalid subject {}", tr.src);
                return Err(STREAM_TRANSFORM_INVALID_SOURCE.with(&[("err", &err)]));
            }
            if let Err(err) = check_mapping(&tr.src, &tr.dest) {
                return Err(STREAM_TRANSFORM_INVALID_DESTINATION.with(&[("err", &err)]));
            }
        }
        let Some(rp) = &mut self.republish else {
            return Ok(());
        };
        if rp.src.is_empty() {
            if pedantic {
                return Err(ApiError::pedantic("republish source can not be empty"));
            }
            rp.src = ">".to_string();
        }
        // `>` to `>` over a single transformed subject republishes the
        // transformed subjects.
        if let Some(tr) = &self.subject_transform {
            if rp.src == ">"
                && rp.dest == ">"
                && self.subjects.len() == 1
                && tr.src == self.subjects[0]
            {
                if pedantic {
                    return Err(ApiError::pedantic(
                        "implicit republish based on subject transform",
                    ));
                }
                rp.src = tr.dest.clone();
                rp.dest = tr.dest.clone();
            }
        }
        if self.subjects.iter().any(|s| subjects_collide(&rp.dest, s)) {
            return Err(invalid(
                "stream configuration for republish destination forms a cycle",
            ));
        }
        if check_mapping(&rp.src, &rp.dest).is_err() {
            return Err(invalid(format!(
                "stream configuration for republish with transform from '{}' to '{}' not valid",
                rp.src, rp.dest
            )));
        }
        Ok(())
    }
}

/// A durable consumer used for sourcing needs a valid name and a literal
/// deliver subject, and takes the place of the start and filter options.
fn consumer_source_ok(src: &StreamSource, c: &StreamConsumerSource) -> bool {
    is_valid_name(&c.name)
        && is_valid_literal_subject(c.deliver_subject.as_bytes())
        && src.opt_start_seq == 0
        && src.opt_start_time.is_none()
        && src.filter_subject.is_empty()
}

/// What makes two sources the same: origin (and its API), filters and
/// transform destinations, empty ones read as `>`.
fn index_name(src: &StreamSource) -> (String, String, String, String) {
    let api = src
        .external
        .as_ref()
        .map(|e| e.api.clone())
        .unwrap_or_default();
    let or_all = |s: &str| {
        if s.is_empty() {
            ">".to_string()
        } else {
            s.to_string()
        }
    };
    let (filters, dests) = if src.subject_transforms.is_empty() {
        (or_all(&src.filter_subject), ">".to_string())
    } else {
        let join = |f: fn(&SubjectTransform) -> &str| {
            let parts: Vec<String> = src
                .subject_transforms
                .iter()
                .map(|t| or_all(f(t)))
                .collect();
            parts.join("\x0c")
        };
        (join(|t| &t.src), join(|t| &t.dest))
    };
    (src.name.clone(), api, filters, dests)
}

fn check_external(ext: &ExternalStream) -> Result<(), ApiError> {
    if !ext.deliver.is_empty() && !is_valid_literal_subject(ext.deliver.as_bytes()) {
        return Err(STREAM_INVALID_EXTERNAL_DELIVERY_SUBJ.with(&[("prefix", &ext.deliver)]));
    }
    if !ext.api.is_empty() {
        if !is_valid_literal_subject(ext.api.as_bytes()) {
            return Err(invalid(format!(
                "stream external api prefix {} must be a valid subject without wildcards",
                go_quote(&ext.api)
            )));
        }
        if subjects_collide(&ext.api, JS_API_PREFIX) {
            return Err(STREAM_EXTERNAL_API_OVERLAP
                .with(&[("prefix", &ext.api), ("subject", &JS_API_PREFIX)]));
        }
    }
    Ok(())
}

impl StreamConfig {
    /// STREAM.UPDATE: validates `new` and refuses changes the reference does
    /// not allow; sealing forces its limits. The caller has already checked the
    /// subject's name (10056) and that the stream exists (10059).
    pub fn check_update(old: &StreamConfig, new: &mut StreamConfig) -> Result<(), ApiError> {
        new.validate()?;
        let refusal = if new.name != old.name {
            Some("stream configuration name must match original")
        } else if new.storage != old.storage {
            Some("stream configuration update can not change storage type")
        } else if new.retention != old.retention
            && (old.retention == RetentionPolicy::WorkQueue
                || new.retention == RetentionPolicy::WorkQueue)
        {
            Some("stream configuration update can not change retention policy to/from workqueue")
        } else if old.sealed && !new.sealed {
            Some("stream configuration update can not unseal a sealed stream")
        } else if old.deny_delete && !new.deny_delete {
            Some("stream configuration update can not cancel deny message deletes")
        } else if old.deny_purge && !new.deny_purge {
            Some("stream configuration update can not cancel deny purge")
        } else {
            None
        };
        if let Some(text) = refusal {
            return Err(invalid(text));
        }
        // Dropping the mirror promotes the stream; changing it is refused.
        if new.mirror.is_some() && new.mirror != old.mirror {
            return Err(ApiError::stream_mirror_not_updatable());
        }
        let refusal = if old.allow_msg_ttl && !new.allow_msg_ttl {
            Some("message TTL status can not be disabled")
        } else if old.allow_msg_counter != new.allow_msg_counter {
            Some("stream configuration update can not change message counter setting")
        } else if old.allow_msg_schedules && !new.allow_msg_schedules {
            Some("message schedules can not be disabled")
        } else if old.persist_mode != new.persist_mode {
            Some("stream configuration update can not change persist mode")
        } else {
            None
        };
        if let Some(text) = refusal {
            return Err(invalid(text));
        }
        if new.sealed {
            new.max_age = 0;
            new.discard = DiscardPolicy::New;
            new.deny_delete = true;
            new.deny_purge = true;
            new.allow_rollup_hdrs = false;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
