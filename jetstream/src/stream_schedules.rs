//! Message schedules on a stream (the schedules' state is `schedule`):
//! the checks a client's publish meets, finding the schedules again at
//! start-up, and firing the ones that are due.

use bytes::Bytes;

use crate::error::{
    ApiError, MESSAGE_SCHEDULES_DISABLED, MESSAGE_SCHEDULES_ROLLUP_INVALID,
    MESSAGE_SCHEDULES_SCHEDULER_INVALID, MESSAGE_SCHEDULES_SOURCE_INVALID,
    MESSAGE_SCHEDULES_TARGET_INVALID, MESSAGE_SCHEDULES_TTL_INVALID,
};
use crate::headers;
use crate::schedule::{
    format_seconds, pattern_of, schedule_ttl_ok, Entry, NEXT, RETRY_NS, SCHEDULER, SCHEDULE_ROLLUP,
    SCHEDULE_TTL, SOURCE, TARGET, TIME_ZONE,
};
use crate::stream::{Inbound, Provenance, Stream};
use crate::subject::{is_valid_literal_subject, subjects_overlap};

impl Stream {
    /// The schedule checks of a client's publish, in the reference's
    /// order; `true` when the stored message must gain `Nats-Rollup: sub`
    /// (a schedule replaces the one before it on its subject).
    pub(crate) fn check_schedule<'h>(
        &self,
        header: &impl Fn(&'static str) -> Option<&'h str>,
        hdrs: Option<&[u8]>,
        subject: &str,
    ) -> Result<bool, ApiError> {
        let p = self.policy();
        let allowed = p.allow_msg_schedules;
        let mut add_rollup = false;
        let pattern = match hdrs.map(pattern_of) {
            Some(Err(e)) => {
                return Err(if allowed {
                    e
                } else {
                    MESSAGE_SCHEDULES_DISABLED.into()
                })
            }
            Some(Ok(p)) => p,
            None => None,
        };
        if pattern.is_some() {
            if !allowed {
                return Err(MESSAGE_SCHEDULES_DISABLED.into());
            }
            if header(SCHEDULE_TTL).is_some_and(|v| !schedule_ttl_ok(v)) {
                return Err(MESSAGE_SCHEDULES_TTL_INVALID.into());
            }
            if header(SCHEDULE_ROLLUP).is_some_and(|v| !v.is_empty() && v != "sub") {
                return Err(MESSAGE_SCHEDULES_ROLLUP_INVALID.into());
            }
            if header(SCHEDULE_TTL).is_some() && !p.allow_msg_ttl {
                return Err(ApiError::ttl_disabled());
            }
            let literal = |s: &str| is_valid_literal_subject(s.as_bytes());
            let target = header(TARGET).filter(|t| literal(t) && *t != subject);
            let Some(target) = target else {
                return Err(MESSAGE_SCHEDULES_TARGET_INVALID.into());
            };
            let source = header(SOURCE);
            if let Some(src) = source {
                if src == target || src == subject || !literal(src) {
                    return Err(MESSAGE_SCHEDULES_SOURCE_INVALID.into());
                }
            }
            let in_stream = |s: &str| p.subjects.iter().any(|own| subjects_overlap(own, s));
            if !in_stream(target) {
                return Err(MESSAGE_SCHEDULES_TARGET_INVALID.into());
            }
            if source.is_some_and(|s| !in_stream(s)) {
                return Err(MESSAGE_SCHEDULES_SOURCE_INVALID.into());
            }
            match header("Nats-Rollup") {
                None => add_rollup = true,
                Some(v) if v.eq_ignore_ascii_case("sub") => {}
                Some(_) => return Err(MESSAGE_SCHEDULES_ROLLUP_INVALID.into()),
            }
        }
        // Only a schedule's own copies carry these, and only as written.
        let next = header(NEXT).filter(|v| !v.is_empty());
        let scheduler = header(SCHEDULER).filter(|v| !v.is_empty());
        if let Some(next) = next {
            let scheduler_ok =
                scheduler.is_some_and(|s| is_valid_literal_subject(s.as_bytes()) && s != subject);
            if next != "purge" || !scheduler_ok {
                return Err(MESSAGE_SCHEDULES_SCHEDULER_INVALID.into());
            }
            if !allowed {
                return Err(MESSAGE_SCHEDULES_DISABLED.into());
            }
        } else if scheduler.is_some() {
            return Err(MESSAGE_SCHEDULES_SCHEDULER_INVALID.into());
        }
        Ok(add_rollup)
    }

    /// Finds the stored schedules again (at start-up).
    pub(crate) fn rebuild_schedules(&mut self) -> Result<(), crate::store::StoreError> {
        let mut seq = self.store.state().first_seq;
        while let Some(m) = self.store.next_matching(">", seq)? {
            self.schedules
                .on_stored(m.seq, &m.subject, m.headers.as_deref(), m.time_ns);
            seq = m.seq + 1;
        }
        Ok(())
    }

    pub(crate) fn next_schedule_deadline(&self) -> Option<i64> {
        self.schedules.next_deadline()
    }

    /// Runs the schedules that are due: each stores its copy on its
    /// target.
    pub(crate) fn run_schedules(&mut self, now: i64) {
        let mut due: Vec<(String, Entry)> = self
            .schedules
            .entries
            .iter()
            .filter(|(_, e)| e.due_ns <= now)
            .map(|(s, e)| (s.clone(), *e))
            .collect();
        due.sort_by_key(|(_, e)| e.seq);
        for (subject, entry) in due {
            self.fire(&subject, entry, now);
        }
    }

    fn fire(&mut self, subject: &str, entry: Entry, now: i64) {
        let schedule = match self.store.get(entry.seq) {
            Ok(Some(m)) => m,
            // Gone (deleted, purged, expired): so is its schedule.
            _ => {
                self.schedules.entries.remove(subject);
                return;
            }
        };
        let h = schedule.headers.as_deref().unwrap_or_default();
        let (Ok(Some(pattern)), Some(target)) = (pattern_of(h), headers::get(h, TARGET)) else {
            self.schedules.entries.remove(subject);
            return;
        };
        let target = target.to_string();
        let ttl = headers::get(h, SCHEDULE_TTL).map(str::to_string);
        let rollup = headers::get(h, SCHEDULE_ROLLUP)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        // The body and headers: the source subject's last message, or the
        // schedule's own.
        let from = headers::get(h, SOURCE)
            .and_then(|src| self.store.last_matching(src).ok().flatten())
            .unwrap_or_else(|| schedule.clone());
        let mut out = headers::HeaderBlock::new();
        for (k, v) in headers::lines(from.headers.as_deref().unwrap_or_default()) {
            let dropped = k.starts_with("Nats-Schedule")
                || k.starts_with("Nats-Expected-")
                || matches!(k, "Nats-Msg-Id" | "Nats-TTL" | "Nats-Rollup");
            if !dropped {
                out.add(k, v);
            }
        }
        out.add(SCHEDULER, subject);
        let next = if pattern.is_once() {
            None
        } else {
            pattern.next(entry.due_ns, now)
        };
        match next {
            None => out.add(NEXT, "purge"),
            Some(t) => out.add(NEXT, format_seconds(t, headers::get(h, TIME_ZONE))),
        };
        if let Some(ttl) = &ttl {
            out.add("Nats-TTL", ttl);
        }
        if let Some(r) = &rollup {
            out.add("Nats-Rollup", r);
        }
        let copy = Inbound {
            subject: target,
            reply: None,
            headers: Some(Bytes::from(out.finish())),
            payload: from.payload.clone(),
        };
        if self.publish_copy(&copy, Provenance::Scheduled).is_err() {
            if let Some(e) = self.schedules.entries.get_mut(subject) {
                e.due_ns = now + RETRY_NS;
            }
            return;
        }
        if next.is_none() {
            // A one-shot schedule is done: its message goes.
            self.schedules.entries.remove(subject);
            if let Err(e) = self.purge_reported(subject, None, None, false) {
                tracing::warn!("JetStream stream '{}': {e}", self.policy().name);
            }
        }
    }
}
