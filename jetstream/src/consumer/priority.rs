//! ADR-42 priority groups on pull consumers: the checks a pull request's
//! group fields get, which waiting request a message goes to (overflow
//! thresholds, prioritized order, the pinned client), and the pin itself.

use super::pull::{self, status, status_pending};
use super::{status_to, Consumer, OutMsg, PriorityPolicy, Store, StoreError, Waiting};

/// A pinned-client consumer's pin (ADR-42): the client holding it gets
/// every message until it stops pulling for `priority_timeout` or an
/// UNPIN takes it back.
#[derive(Clone, Debug)]
pub(super) struct Pin {
    pub(super) id: String,
    pub(super) group: String,
    pub(super) since: i64,
    pub(super) expires_at: i64,
}

impl Waiting {
    /// Its place in a prioritized queue: a request without priority group
    /// fields comes after every one with them, as in the reference.
    pub(super) fn priority(&self) -> i64 {
        self.group
            .as_ref()
            .map_or(i64::from(i32::MAX), |g| g.priority)
    }
}

impl Consumer {
    /// A pull request's priority group fields, checked as the reference
    /// checks them: two mismatches are answered with a 400 while the
    /// request still waits (so does the reference), the others refuse it.
    pub(super) fn check_priority_group(
        &mut self,
        g: &pull::PriorityGroup,
        reply: &str,
        now: i64,
        out: &mut Vec<OutMsg>,
    ) -> bool {
        let policy = self.config.priority_policy;
        if (g.min_pending != 0 || g.min_ack_pending != 0) && policy != PriorityPolicy::Overflow {
            out.push(status_to(
                reply,
                status(400, "Bad Request - Not a Overflow Priority consumer"),
            ));
        }
        if !g.id.is_empty() && policy != PriorityPolicy::PinnedClient {
            out.push(status_to(
                reply,
                status(400, "Bad Request - Not a Pinned Client Priority consumer"),
            ));
        }
        let refusal = if !(0..=9).contains(&g.priority) {
            Some("Bad Request - Priority must be between 0 and 9")
        } else if policy == PriorityPolicy::None {
            None
        } else if g.group.is_empty() {
            Some("Bad Request - Priority Group missing")
        } else if !self.config.priority_groups.contains(&g.group) {
            Some("Bad Request - Invalid Priority Group")
        } else {
            None
        };
        if let Some(text) = refusal {
            out.push(status_to(reply, status(400, text)));
            return false;
        }
        if policy != PriorityPolicy::None {
            let ttl = self.config.pinned_ttl;
            if let Some(pin) = &mut self.pin {
                if g.id == pin.id {
                    // Its holder is still pulling: the pin lasts.
                    pin.expires_at = now.saturating_add(ttl);
                } else if !g.id.is_empty() {
                    out.push(status_to(reply, status(423, "Nats-Pin-Id mismatch")));
                    return false;
                }
            }
        }
        true
    }

    /// UNPIN: the group's pin is taken back; the next request without an
    /// id gets a new one.
    pub fn unpin(&mut self, group: &str) {
        self.pin = None;
        self.events.push(crate::advisory::DeliveryEvent::Unpinned {
            group: group.to_string(),
            reason: "admin",
        });
    }

    /// Queues a request behind every one of its priority or a lower one.
    pub(super) fn insert_by_priority(&mut self, w: Waiting) {
        let p = w.priority();
        let at = self
            .waiting
            .iter()
            .position(|o| o.priority() > p)
            .unwrap_or(self.waiting.len());
        self.waiting.insert(at, w);
    }

    /// Which waiting request the next message goes to: the first, except
    /// that an overflow consumer passes over requests whose thresholds
    /// (`min_pending`, `min_ack_pending`) the consumer is under. `None`:
    /// none may have it now.
    pub(super) fn pick_waiting(
        &mut self,
        store: &dyn Store,
        now: i64,
        out: &mut Vec<OutMsg>,
    ) -> Result<Option<usize>, StoreError> {
        if self.waiting.is_empty() {
            return Ok(None);
        }
        if self.config.priority_policy == PriorityPolicy::PinnedClient {
            return Ok(self.pick_pinned(now, out));
        }
        if self.config.priority_policy != PriorityPolicy::Overflow {
            return Ok(Some(0));
        }
        let needs_count = self.waiting.iter().any(|w| {
            w.group
                .as_ref()
                .is_some_and(|g| g.min_pending > 0 || g.min_ack_pending > 0)
        });
        // Messages pending, the one about to go included.
        let pending = if needs_count {
            match self.lps_pending {
                Some(n) => n.max(0),
                None => i64::try_from(self.count_pending(store)? + self.stale_pending)
                    .unwrap_or(i64::MAX),
            }
        } else {
            0
        };
        let ack_pending = self.pending.len() as i64;
        Ok(self.waiting.iter().position(|w| match &w.group {
            Some(g) if g.min_pending > 0 || g.min_ack_pending > 0 => {
                (g.min_pending > 0 && g.min_pending <= pending)
                    || (g.min_ack_pending > 0 && g.min_ack_pending <= ack_pending)
            }
            _ => true,
        }))
    }

    /// Pinned client: the pin holder's first waiting request. Without a
    /// pin, the first request without an id takes a new one; requests
    /// with another id are told 423 and dropped; requests without an id
    /// wait while someone else holds the pin.
    pub(super) fn pick_pinned(&mut self, now: i64, out: &mut Vec<OutMsg>) -> Option<usize> {
        let mut i = 0;
        while i < self.waiting.len() {
            let w = &self.waiting[i];
            let id = w.group.as_ref().map_or("", |g| g.id.as_str());
            match &self.pin {
                Some(pin) if id == pin.id => return Some(i),
                Some(_) if id.is_empty() => {
                    i += 1;
                    continue;
                }
                None if id.is_empty() => {
                    let group = w
                        .group
                        .as_ref()
                        .map(|g| g.group.clone())
                        .unwrap_or_default();
                    let pin = Pin {
                        id: crate::advisory::event_id(),
                        group: group.clone(),
                        since: now,
                        expires_at: now.saturating_add(self.config.pinned_ttl),
                    };
                    self.events.push(crate::advisory::DeliveryEvent::Pinned {
                        group,
                        id: pin.id.clone(),
                    });
                    // The request holds the pin from now on: should the
                    // pin go (UNPIN, timeout) while it still waits, it is
                    // told 423 like any request with an old id.
                    if let Some(g) = &mut self.waiting[i].group {
                        g.id = pin.id.clone();
                    }
                    self.pin = Some(pin);
                    return Some(i);
                }
                _ => {
                    let w = self.waiting.remove(i).unwrap_or_else(|| unreachable!());
                    out.push(status_to(
                        &w.reply,
                        status_pending(
                            423,
                            "Nats-Wrong-Pin-Id",
                            w.batch_left,
                            w.bytes_left.unwrap_or(0),
                        ),
                    ));
                }
            }
        }
        None
    }
}
