//! Atomic batch publish (ADR-50, `allow_atomic`): messages carrying
//! `Nats-Batch-Id` and `Nats-Batch-Sequence` are staged in memory, each
//! answered with an empty reply, until one carries `Nats-Batch-Commit`
//! (`1`: it is the last; `eob`: the batch ended before it). Then every
//! message is checked against the stream as it will be when the earlier
//! ones are stored, and either all are stored, in one durable commit
//! (a log frame announces how many appends stand or fall together), or
//! none is. A batch idle for 10 s is dropped with an advisory, as are
//! batches that skip a sequence or grow past 1,000 messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use crate::error::{
    ApiError, ATOMIC_PUBLISH_DISABLED, ATOMIC_PUBLISH_INCOMPLETE_BATCH,
    ATOMIC_PUBLISH_INVALID_BATCH_COMMIT, ATOMIC_PUBLISH_INVALID_BATCH_ID,
    ATOMIC_PUBLISH_MISSING_SEQ, ATOMIC_PUBLISH_TOO_LARGE_BATCH, ATOMIC_PUBLISH_TOO_MANY_INFLIGHT,
};
use crate::headers;

/// Messages a batch may hold.
pub(crate) const MAX_MSGS: u64 = 1000;
/// Batches open at once on one stream.
const MAX_PER_STREAM: usize = 50;
/// Batches open at once on the server.
const MAX_TOTAL: usize = 1000;
/// How long a batch may wait for its next message.
const TIMEOUT_NS: i64 = 10_000_000_000;
/// The longest batch id.
const MAX_ID_LEN: usize = 64;

/// Batches open on every stream of the process.
static OPEN_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// One stream's open batches.
#[derive(Default)]
pub(crate) struct AtomicBatches {
    open: HashMap<String, Open>,
    /// Advisories of batches dropped, for sending after the commit.
    abandoned: Vec<(String, &'static str)>,
}

/// A staged message.
pub(crate) struct BatchMsg {
    pub(crate) subject: String,
    pub(crate) headers: Option<Bytes>,
    pub(crate) payload: Bytes,
}

struct Open {
    msgs: Vec<BatchMsg>,
    last: u64,
    deadline_ns: i64,
}

impl Drop for AtomicBatches {
    fn drop(&mut self) {
        OPEN_TOTAL.fetch_sub(self.open.len(), Ordering::AcqRel);
    }
}

/// What a batch message did.
pub(crate) enum Step {
    /// Staged: answered with an empty reply.
    Staged,
    /// The commit: the batch's messages, in order.
    Commit(Vec<BatchMsg>),
}

/// The batch id in a publish's headers, if it is part of one.
pub(crate) fn batch_id(headers: Option<&[u8]>) -> Option<&str> {
    headers
        .and_then(|h| headers::get(h, "Nats-Batch-Id"))
        .filter(|id| !id.is_empty())
}

impl AtomicBatches {
    fn drop_batch(&mut self, id: &str, reason: Option<&'static str>) {
        if self.open.remove(id).is_some() {
            OPEN_TOTAL.fetch_sub(1, Ordering::AcqRel);
            if let Some(reason) = reason {
                self.abandoned.push((id.to_string(), reason));
            }
        }
    }

    /// Drops every open batch (atomic publish turned off).
    pub(crate) fn clear(&mut self) {
        OPEN_TOTAL.fetch_sub(self.open.len(), Ordering::AcqRel);
        self.open.clear();
    }

    /// When the next open batch times out.
    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.open.values().map(|o| o.deadline_ns).min()
    }

    /// Drops the batches idle past their deadline.
    pub(crate) fn expire(&mut self, now: i64) {
        let due: Vec<String> = self
            .open
            .iter()
            .filter(|(_, o)| o.deadline_ns <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.drop_batch(&id, Some("timeout"));
        }
    }

    /// The advisories of batches dropped since the last call.
    pub(crate) fn take_abandoned(&mut self) -> Vec<(String, &'static str)> {
        std::mem::take(&mut self.abandoned)
    }

    /// Takes one message of batch `id`, as the reference checks it.
    pub(crate) fn stage(
        &mut self,
        id: &str,
        msg: &BatchMsg,
        allowed: bool,
        now: i64,
    ) -> Result<Step, ApiError> {
        let h = msg.headers.as_deref();
        let header = |key| h.and_then(|h| headers::get(h, key));
        if !allowed {
            return Err(ATOMIC_PUBLISH_DISABLED.into());
        }
        if id.len() > MAX_ID_LEN {
            return Err(ATOMIC_PUBLISH_INVALID_BATCH_ID.into());
        }
        let seq = match header("Nats-Batch-Sequence").filter(|v| !v.is_empty()) {
            None => return Err(ATOMIC_PUBLISH_MISSING_SEQ.into()),
            // Not a number: as large as can be (the reference's -1).
            Some(v) => v.parse::<u64>().unwrap_or(u64::MAX),
        };
        let too_large = || ATOMIC_PUBLISH_TOO_LARGE_BATCH.with(&[("size", &MAX_MSGS.to_string())]);
        if !self.open.contains_key(id) {
            if seq != 1 {
                return Err(if seq > MAX_MSGS {
                    too_large()
                } else {
                    ATOMIC_PUBLISH_INCOMPLETE_BATCH.into()
                });
            }
            if self.open.len() >= MAX_PER_STREAM
                || OPEN_TOTAL.fetch_add(1, Ordering::AcqRel) >= MAX_TOTAL
            {
                if self.open.len() < MAX_PER_STREAM {
                    OPEN_TOTAL.fetch_sub(1, Ordering::AcqRel);
                }
                return Err(ATOMIC_PUBLISH_TOO_MANY_INFLIGHT.into());
            }
            self.open.insert(
                id.to_string(),
                Open {
                    msgs: Vec::new(),
                    last: 0,
                    deadline_ns: now + TIMEOUT_NS,
                },
            );
        }
        let (commit, eob) = match header("Nats-Batch-Commit") {
            None => (false, false),
            Some("1") => (true, false),
            Some("eob") => (true, true),
            Some(_) => {
                self.drop_batch(id, None);
                return Err(ATOMIC_PUBLISH_INVALID_BATCH_COMMIT.into());
            }
        };
        let Some(open) = self.open.get_mut(id) else {
            return Err(ATOMIC_PUBLISH_INCOMPLETE_BATCH.into());
        };
        if seq != open.last + 1 || open.deadline_ns <= now || (seq == 1 && eob) {
            self.drop_batch(id, Some("incomplete"));
            return Err(ATOMIC_PUBLISH_INCOMPLETE_BATCH.into());
        }
        if seq > MAX_MSGS {
            self.drop_batch(id, Some("large"));
            return Err(too_large());
        }
        open.last = seq;
        open.deadline_ns = now + TIMEOUT_NS;
        if eob {
            // The end-of-batch message is not stored: the last one
            // stored says it committed.
            if let Some(last) = open.msgs.last_mut() {
                let mut h = headers::HeaderBlock::from_existing(last.headers.as_deref());
                h.add("Nats-Batch-Commit", 1);
                last.headers = Some(Bytes::from(h.finish()));
            }
        } else {
            let headers = msg.headers.as_deref().map(|h| {
                Bytes::from(
                    headers::HeaderBlock::without(Some(h), "Nats-Required-Api-Level").finish(),
                )
            });
            open.msgs.push(BatchMsg {
                subject: msg.subject.clone(),
                headers,
                payload: msg.payload.clone(),
            });
        }
        if !commit {
            return Ok(Step::Staged);
        }
        let msgs = self.open.remove(id).map(|o| o.msgs).unwrap_or_default();
        OPEN_TOTAL.fetch_sub(1, Ordering::AcqRel);
        Ok(Step::Commit(msgs))
    }
}
