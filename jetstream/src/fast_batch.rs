//! Fast batch publish (`allow_batched`, 2.14): a batch spelled out in
//! the reply subject, `<prefix>.<id>.<flow>.<fail|ok>.<seq>.<op>.$FI`
//! (op 0 start, 1 append, 2 commit, 3 commit at end of batch, 4 ping).
//! Each message is stored as it comes (not atomically); the publisher
//! is paced by `{"type":"ack"}` messages every so many stored messages,
//! told of gaps (`{"type":"gap"}`) and failures (`{"type":"err"}`), and
//! gets a PubAck with `batch` and `count` at the commit. A gap ends the
//! batch in `fail` mode, and is passed over in `ok` mode.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::ApiError;

/// The reply subject's end that marks a fast batch message.
pub(crate) const SUFFIX: &str = ".$FI";
const MAX_PER_STREAM: usize = 1000;
const MAX_TOTAL: usize = 50_000;
const TIMEOUT_NS: i64 = 10_000_000_000;
pub(crate) const MAX_ID_LEN: usize = 64;
/// The most messages between acks the server grants.
const MAX_ACK_MESSAGES: u16 = 500;

static OPEN_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// What a reply subject says of its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spec {
    pub id: String,
    pub flow: u16,
    pub gap_ok: bool,
    pub seq: u64,
    pub op: Op,
}

/// The operation of a fast batch message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Start,
    Append,
    Commit,
    CommitEob,
    Ping,
}

/// Reads a fast batch reply subject: `None` when it is not one, `Some(Err)`
/// when it ends like one but does not parse (the reference's invalid
/// pattern).
pub(crate) fn parse(reply: &str) -> Option<Result<Spec, ()>> {
    let body = reply.strip_suffix(SUFFIX)?;
    let mut parts = body.rsplitn(6, '.');
    let parsed = (|| {
        let op = match parts.next()?.parse::<i64>().ok()? {
            0 => Op::Start,
            1 => Op::Append,
            2 => Op::Commit,
            3 => Op::CommitEob,
            4 => Op::Ping,
            _ => return None,
        };
        let seq = parts.next()?.parse::<i64>().ok().filter(|s| *s >= 1)? as u64;
        if (seq == 1 && op == Op::CommitEob)
            || (op == Op::Start && seq != 1)
            || (op == Op::Append && seq <= 1)
        {
            return None;
        }
        let gap_ok = match parts.next()? {
            "ok" => true,
            "fail" => false,
            _ => return None,
        };
        let flow = parts.next()?.parse::<i64>().unwrap_or(0);
        let flow = if flow <= 0 {
            10
        } else {
            flow.min(i64::from(u16::MAX)) as u16
        };
        let id = parts.next()?.to_string();
        // Something must come before the id (the inbox prefix).
        parts.next()?;
        Some(Spec {
            id,
            flow,
            gap_ok,
            seq,
            op,
        })
    })();
    Some(parsed.ok_or(()))
}

/// One open fast batch.
#[derive(Debug)]
pub(crate) struct Batch {
    pub gap_ok: bool,
    /// The client's most messages between acks.
    pub max_ack: u16,
    /// Messages between acks now.
    pub ack_messages: u16,
    /// The last batch sequence received, the last stored, and the one
    /// the last ack was for.
    pub lseq: u64,
    pub pseq: u64,
    pub fseq: u64,
    /// The stream sequence of the last stored message.
    pub sseq: u64,
    pub deadline_ns: i64,
}

/// One stream's open fast batches.
#[derive(Default)]
pub(crate) struct FastBatches {
    pub open: HashMap<String, Batch>,
}

impl Drop for FastBatches {
    fn drop(&mut self) {
        OPEN_TOTAL.fetch_sub(self.open.len(), Ordering::AcqRel);
    }
}

impl FastBatches {
    /// Opens batch `spec.id` (its first message): the limits, and the
    /// pace it starts at.
    pub(crate) fn open(&mut self, spec: &Spec, now: i64) -> Result<(), ApiError> {
        if self.open.len() >= MAX_PER_STREAM {
            return Err(crate::error::BATCH_PUBLISH_TOO_MANY_INFLIGHT.into());
        }
        if OPEN_TOTAL.fetch_add(1, Ordering::AcqRel) >= MAX_TOTAL {
            OPEN_TOTAL.fetch_sub(1, Ordering::AcqRel);
            return Err(crate::error::BATCH_PUBLISH_TOO_MANY_INFLIGHT.into());
        }
        let ack_messages = if self.open.is_empty() {
            MAX_ACK_MESSAGES.min(spec.flow)
        } else {
            1
        };
        self.open.insert(
            spec.id.clone(),
            Batch {
                gap_ok: spec.gap_ok,
                max_ack: spec.flow,
                ack_messages,
                lseq: 0,
                pseq: 0,
                fseq: 0,
                sseq: 0,
                deadline_ns: now + TIMEOUT_NS,
            },
        );
        Ok(())
    }

    pub(crate) fn close(&mut self, id: &str) {
        if self.open.remove(id).is_some() {
            OPEN_TOTAL.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<i64> {
        self.open.values().map(|b| b.deadline_ns).min()
    }

    /// Drops idle batches, silently (as the reference).
    pub(crate) fn expire(&mut self, now: i64) {
        let due: Vec<String> = self
            .open
            .iter()
            .filter(|(_, b)| b.deadline_ns <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.close(&id);
        }
    }

    /// The flow ack owed once messages up to `pseq` are stored, if one
    /// is (at most one, for the newest step), with the pace adjusted to
    /// the number of batches sharing the stream.
    pub(crate) fn flow_ack(&mut self, id: &str) -> Option<Vec<u8>> {
        let n = self.open.len().max(1);
        let b = self.open.get_mut(id)?;
        let am = u64::from(b.ack_messages.max(1));
        if b.pseq < b.fseq + am {
            return None;
        }
        b.fseq += (b.pseq - b.fseq) / am * am;
        let share = u16::try_from(usize::from(MAX_ACK_MESSAGES) / n)
            .unwrap_or(MAX_ACK_MESSAGES)
            .clamp(1, b.max_ack.max(1));
        if b.ack_messages < share {
            b.ack_messages = (b.ack_messages.saturating_mul(2)).min(share);
        } else if b.ack_messages > share {
            b.ack_messages = (b.ack_messages / 2).max(share);
        }
        Some(ack(b.fseq, b.ack_messages))
    }
}

/// `{"type":"ack","seq":N,"msgs":M}`.
pub(crate) fn ack(seq: u64, msgs: u16) -> Vec<u8> {
    format!(r#"{{"type":"ack","seq":{seq},"msgs":{msgs}}}"#).into_bytes()
}

/// `{"type":"gap","last_seq":E,"seq":S}`.
pub(crate) fn gap(expected: u64, current: u64) -> Vec<u8> {
    format!(r#"{{"type":"gap","last_seq":{expected},"seq":{current}}}"#).into_bytes()
}

/// `{"type":"err","seq":S,"error":{...}}`.
pub(crate) fn err(seq: u64, e: &ApiError) -> Vec<u8> {
    let mut out = format!(r#"{{"type":"err","seq":{seq},"error":"#).into_bytes();
    out.extend_from_slice(&crate::api::json::to_json(e));
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_parse_as_the_reference_reads_them() {
        let spec = parse("_INBOX.x.b1.100.fail.1.0.$FI")
            .expect("fast")
            .expect("valid");
        assert_eq!(
            (spec.id.as_str(), spec.flow, spec.gap_ok, spec.seq, spec.op),
            ("b1", 100, false, 1, Op::Start)
        );
        let spec = parse("p.b.0.ok.7.2.$FI").expect("fast").expect("valid");
        assert_eq!((spec.flow, spec.gap_ok, spec.op), (10, true, Op::Commit));
        assert_eq!(parse("_INBOX.abc"), None);
        for bad in [
            "p.b.1.fail.2.0.$FI",
            "p.b.1.fail.1.1.$FI",
            "p.b.1.fail.1.3.$FI",
            "p.b.1.maybe.1.0.$FI",
            "p.b.1.fail.1.9.$FI",
            "b.1.fail.1.0.$FI",
        ] {
            assert_eq!(parse(bad), Some(Err(())), "{bad}");
        }
    }
}
