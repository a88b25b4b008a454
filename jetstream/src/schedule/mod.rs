//! Message schedules (ADR-51, `allow_msg_schedules`): a message with
//! `Nats-Schedule` is stored on its subject (rolling up the schedule
//! before it) and, when the schedule fires, the stream stores a copy on
//! `Nats-Schedule-Target` with `Nats-Scheduler` and `Nats-Schedule-Next`
//! headers, as the reference does. One schedule per subject; a plain
//! message on the subject, or the schedule message going, cancels it.
//! The schedules are found again at start-up by reading the stream.

mod pattern;
mod zone;

use std::collections::HashMap;

use crate::error::{
    ApiError, MESSAGE_SCHEDULES_PATTERN_INVALID, MESSAGE_SCHEDULES_TIME_ZONE_INVALID,
};
use crate::headers;
pub(crate) use pattern::Pattern;

pub(crate) const SCHEDULE: &str = "Nats-Schedule";
pub(crate) const TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
pub(crate) const SCHEDULE_TTL: &str = "Nats-Schedule-TTL";
pub(crate) const SCHEDULE_ROLLUP: &str = "Nats-Schedule-Rollup";
pub(crate) const TARGET: &str = "Nats-Schedule-Target";
pub(crate) const SOURCE: &str = "Nats-Schedule-Source";
pub(crate) const SCHEDULER: &str = "Nats-Scheduler";
pub(crate) const NEXT: &str = "Nats-Schedule-Next";
/// A produced message that could not be stored is tried again after this.
pub(crate) const RETRY_NS: i64 = 1_000_000_000;

/// One subject's schedule: its message and when it fires next.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) due_ns: i64,
}

/// A stream's schedules, by the subject of their messages.
#[derive(Default)]
pub(crate) struct Schedules {
    pub(crate) entries: HashMap<String, Entry>,
}

/// The schedule a header block asks for, read with its zone.
pub(crate) fn pattern_of(h: &[u8]) -> Result<Option<Pattern>, ApiError> {
    let offset = match headers::get(h, TIME_ZONE) {
        None => None,
        Some(name) => Some(zone::offset(name).ok_or(MESSAGE_SCHEDULES_TIME_ZONE_INVALID)?),
    };
    match headers::get(h, SCHEDULE).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Pattern::parse(v, offset)
            .map(Some)
            .map_err(|_| MESSAGE_SCHEDULES_PATTERN_INVALID.into()),
    }
}

/// A `Nats-Schedule-TTL`: `never`, a Go duration of a second or more, or
/// whole seconds.
pub(crate) fn schedule_ttl_ok(v: &str) -> bool {
    v == "never"
        || v.parse::<u64>().is_ok()
        || crate::duration::parse_go_duration(v).is_some_and(|ns| ns >= 1_000_000_000)
}

impl Schedules {
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.entries.values().map(|e| e.due_ns).min()
    }

    /// Takes note of a stored message: a schedule on its subject starts
    /// (or replaces the one before), a plain message cancels it, and a
    /// produced message sets its schedule's next run.
    pub(crate) fn on_stored(&mut self, seq: u64, subject: &str, h: Option<&[u8]>, time_ns: i64) {
        let pattern = h.and_then(|h| pattern_of(h).ok().flatten());
        let scheduler = h
            .and_then(|h| headers::get(h, SCHEDULER))
            .filter(|v| !v.is_empty());
        match pattern {
            Some(p) => {
                if let Some(due_ns) = p.next(time_ns, time_ns) {
                    self.entries
                        .insert(subject.to_string(), Entry { seq, due_ns });
                }
            }
            None if scheduler.is_none() => {
                self.entries.remove(subject);
            }
            None => {}
        }
        let next = h.and_then(|h| headers::get(h, NEXT));
        if let (Some(next), Some(scheduler)) = (next.filter(|n| *n != "purge"), scheduler) {
            if let (Some(t), Some(e)) = (
                crate::api::time::parse_time(next),
                self.entries.get_mut(scheduler),
            ) {
                e.due_ns = t;
            }
        }
    }
}

/// RFC 3339 in whole seconds, in the schedule's zone (`zone`, from its
/// `Nats-Schedule-Time-Zone`) as Go formats it: `Z` for a zero offset,
/// else `+hh:mm`.
pub(crate) fn format_seconds(ns: i64, zone: Option<&str>) -> String {
    format_at_offset(ns, zone.and_then(zone::offset).unwrap_or(0))
}

fn format_at_offset(ns: i64, offset: i32) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    if offset == 0 {
        return crate::api::time::format_time(secs * 1_000_000_000);
    }
    let local = crate::api::time::format_time((secs + i64::from(offset)) * 1_000_000_000);
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    format!(
        "{}{sign}{:02}:{:02}",
        local.trim_end_matches('Z'),
        abs / 3600,
        abs / 60 % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_run_times_carry_the_zone_offset() {
        let t = 1_700_000_000_500_000_000;
        assert_eq!(super::format_at_offset(t, 0), "2023-11-14T22:13:20Z");
        assert_eq!(
            super::format_at_offset(t, 9 * 3600),
            "2023-11-15T07:13:20+09:00"
        );
        assert_eq!(
            super::format_at_offset(t, -(5 * 3600 + 1800)),
            "2023-11-14T16:43:20-05:30"
        );
    }
}
