//! Atomic batch publish on a stream (the staging is `atomic_batch`):
//! a batch message staged or, at the commit, the whole batch checked
//! against the stream as it grows and stored in one durable commit.

use std::collections::{HashMap, HashSet};

use crate::atomic_batch::{BatchMsg, Step};
use crate::error::{
    ApiError, ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE, ATOMIC_PUBLISH_INCOMPLETE_BATCH,
    ATOMIC_PUBLISH_UNSUPPORTED_HEADER_BATCH, STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID,
    STREAM_ROLLUP_FAILED,
};
use crate::fast_batch::{self, Op, Spec};
use crate::headers;
use crate::stream::{Batched, Inbound, Provenance, PublishError, Rollup, Stored, Stream};

impl Stream {
    /// A publish that is part of an atomic batch: staged, or the commit
    /// that stores the whole batch (or none of it).
    pub(crate) fn publish_batched(
        &mut self,
        msg: &Inbound,
        id: &str,
        now: i64,
    ) -> Result<Stored, PublishError> {
        let p = self.policy();
        if p.sealed {
            return Err(ApiError::stream_sealed().into());
        }
        let body = msg.headers.as_ref().map_or(0, |h| h.len()) + msg.payload.len();
        if p.max_msg_size > 0 && body as i64 > p.max_msg_size {
            return Err(ApiError::message_too_large().into());
        }
        let allowed = p.allow_atomic;
        let staged = BatchMsg {
            subject: msg.subject.clone(),
            headers: msg.headers.clone(),
            payload: msg.payload.clone(),
        };
        let step = self.batches.stage(id, &staged, allowed, now);
        self.note_abandoned();
        match step? {
            Step::Staged => Ok(Stored {
                seq: 0,
                duplicate: false,
                rolled_up: None,
                val: None,
                batch: Some(Batched::Staged),
            }),
            Step::Commit(msgs) => self.commit_batch(id, &msgs, now),
        }
    }

    /// Drops idle batches (the shard's timer).
    pub(crate) fn expire_batches(&mut self, now: i64) {
        self.batches.expire(now);
        self.fast.expire(now);
        self.note_abandoned();
    }

    pub(crate) fn next_batch_deadline(&self) -> Option<i64> {
        [self.batches.next_deadline(), self.fast.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn note_abandoned(&mut self) {
        let name = self.policy().name.clone();
        for (id, reason) in self.batches.take_abandoned() {
            self.after_commit
                .push(crate::advisory::batch_abandoned(&name, &id, reason));
        }
    }

    fn commit_batch(
        &mut self,
        id: &str,
        msgs: &[BatchMsg],
        now: i64,
    ) -> Result<Stored, PublishError> {
        let msgs: Vec<Inbound> = msgs
            .iter()
            .map(|m| Inbound {
                subject: m.subject.clone(),
                reply: None,
                headers: m.headers.clone(),
                payload: m.payload.clone(),
            })
            .collect();
        let msgs = msgs.as_slice();
        self.check_batch(msgs)?;
        self.store.begin_batch(msgs.len() as u64)?;
        let mut last = None;
        for m in msgs {
            let before = self.store.state().msgs;
            let stored = self.publish_as(m, now, Provenance::Client)?;
            self.after_publish(stored.seq, &m.subject, before, stored.rolled_up.as_ref());
            last = Some(stored);
        }
        let Some(last) = last else {
            return Err(ApiError::from(ATOMIC_PUBLISH_INCOMPLETE_BATCH).into());
        };
        let count = msgs
            .last()
            .and_then(|m| m.headers.as_deref())
            .and_then(|h| headers::get(h, "Nats-Batch-Sequence"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(msgs.len() as u64);
        Ok(Stored {
            val: None,
            batch: Some(Batched::Committed {
                id: id.to_string(),
                count,
            }),
            ..last
        })
    }

    /// Checks every message of a batch against the stream as it will be
    /// when the ones before it are stored (the reference's checks at
    /// commit): any failure refuses the whole batch.
    fn check_batch(&self, msgs: &[Inbound]) -> Result<(), ApiError> {
        let state = self.store.state();
        let p = self.policy();
        let mut written: HashSet<String> = HashSet::new();
        let mut ids: HashSet<&str> = HashSet::new();
        let mut per_subject: HashMap<String, u64> = HashMap::new();
        let (mut count, mut bytes) = (state.msgs, state.bytes);
        for (k, m) in msgs.iter().enumerate() {
            let h = m.headers.as_deref();
            let header = |key| h.and_then(|h| headers::get(h, key));
            if header("Nats-Expected-Last-Msg-Id").is_some() {
                return Err(ATOMIC_PUBLISH_UNSUPPORTED_HEADER_BATCH
                    .with(&[("header", &"Nats-Expected-Last-Msg-Id")]));
            }
            let mapped = p
                .subject_transform
                .as_ref()
                .and_then(|t| t.apply(&m.subject));
            let subject = mapped.as_deref().unwrap_or(&m.subject);
            self.check_incr(&header, &m.payload)?;
            if let Some(expected) = header("Nats-Expected-Stream") {
                if expected != p.name {
                    return Err(ApiError::stream_not_match());
                }
            }
            if let Some(v) = header("Nats-TTL") {
                if !p.allow_msg_ttl && crate::stream::parse_ttl(v).is_ok_and(|t| t.is_some()) {
                    return Err(ApiError::ttl_disabled());
                }
            }
            if let Some(id) = header("Nats-Msg-Id").filter(|id| !id.is_empty()) {
                if self.has_msg_id(id) || !ids.insert(id) {
                    return Err(ATOMIC_PUBLISH_CONTAINS_DUPLICATE_MESSAGE.into());
                }
            }
            if let Some(v) = header("Nats-Expected-Last-Sequence") {
                let at = state.last_seq + k as u64;
                if v.parse::<u64>().ok() != Some(at) {
                    return Err(ApiError::wrong_last_sequence(at));
                }
                if k > 0 {
                    return Err(crate::error::STREAM_WRONG_LAST_SEQUENCE_CONSTANT.into());
                }
            }
            match header("Nats-Expected-Last-Subject-Sequence") {
                Some(v) => {
                    let on =
                        header("Nats-Expected-Last-Subject-Sequence-Subject").unwrap_or(subject);
                    if written.contains(on) {
                        return Err(crate::error::STREAM_WRONG_LAST_SEQUENCE_CONSTANT.into());
                    }
                    let last = self.store.subject_state(on).map_or(0, |s| s.last_seq);
                    if v.parse::<u64>().ok() != Some(last) {
                        return Err(ApiError::wrong_last_sequence(last));
                    }
                }
                None if header("Nats-Expected-Last-Subject-Sequence-Subject").is_some() => {
                    return Err(STREAM_EXPECTED_LAST_SEQ_PER_SUBJECT_INVALID.into());
                }
                None => {}
            }
            let rollup = self.check_rollup(header("Nats-Rollup"))?;
            match rollup {
                Some(Rollup::Subject) if written.contains(subject) => {
                    return Err(STREAM_ROLLUP_FAILED.with(&[("err", &"batch rollup sub invalid")]));
                }
                Some(Rollup::All) if k > 0 => {
                    return Err(STREAM_ROLLUP_FAILED.with(&[("err", &"batch rollup all invalid")]));
                }
                _ => {}
            }
            if p.discard_new {
                let size = self.store.size_of(subject, h, &m.payload);
                let on_subject = per_subject
                    .entry(subject.to_string())
                    .or_insert_with(|| self.store.subject_state(subject).map_or(0, |s| s.msgs));
                let at_subject_limit =
                    p.max_msgs_per_subject > 0 && *on_subject >= p.max_msgs_per_subject as u64;
                if at_subject_limit && p.discard_new_per_subject && rollup.is_none() {
                    return Err(ApiError::store_failed(
                        crate::error::MAX_MSGS_PER_SUBJECT_EXCEEDED,
                    ));
                }
                if p.max_msgs > 0 && count >= p.max_msgs as u64 && !at_subject_limit {
                    return Err(ApiError::store_failed(crate::error::MAX_MSGS_EXCEEDED));
                }
                if p.max_bytes > 0 && bytes + size > p.max_bytes as u64 && !at_subject_limit {
                    return Err(ApiError::store_failed(crate::error::MAX_BYTES_EXCEEDED));
                }
                *on_subject += 1;
                count += 1;
                bytes += size;
            }
            written.insert(subject.to_string());
        }
        Ok(())
    }
}

impl Stream {
    /// A fast batch message (its reply subject ends in `.$FI`): stored as
    /// it comes, answered with the batch's flow, gap and error messages,
    /// and at the end its PubAck; a refusal of the batch itself is a
    /// plain error PubAck.
    pub(crate) fn publish_fast(
        &mut self,
        msg: &Inbound,
        parsed: Result<Spec, ()>,
        now: i64,
    ) -> Result<Stored, PublishError> {
        use crate::error::{
            BATCH_PUBLISH_DISABLED, BATCH_PUBLISH_INVALID_BATCH_ID, BATCH_PUBLISH_INVALID_PATTERN,
            BATCH_PUBLISH_UNKNOWN_BATCH_ID,
        };
        let p = self.policy();
        if p.sealed {
            return Err(ApiError::stream_sealed().into());
        }
        let body = msg.headers.as_ref().map_or(0, |h| h.len()) + msg.payload.len();
        if p.max_msg_size > 0 && body as i64 > p.max_msg_size {
            return Err(ApiError::message_too_large().into());
        }
        if !p.allow_batched {
            return Err(ApiError::from(BATCH_PUBLISH_DISABLED).into());
        }
        let Ok(spec) = parsed else {
            return Err(ApiError::from(BATCH_PUBLISH_INVALID_PATTERN).into());
        };
        if spec.id.len() > fast_batch::MAX_ID_LEN {
            return Err(ApiError::from(BATCH_PUBLISH_INVALID_BATCH_ID).into());
        }
        let id = spec.id.as_str();
        if !self.fast.open.contains_key(id) {
            if spec.seq != 1 {
                return Err(ApiError::from(BATCH_PUBLISH_UNKNOWN_BATCH_ID).into());
            }
            self.fast.open(&spec, now)?;
        }
        let mut replies = Vec::new();
        let Some(b) = self.fast.open.get_mut(id) else {
            return Err(ApiError::from(BATCH_PUBLISH_UNKNOWN_BATCH_ID).into());
        };
        b.deadline_ns = now + 10_000_000_000;
        if spec.op == Op::Ping {
            if spec.seq > b.lseq {
                replies.push(fast_batch::gap(b.lseq + 1, spec.seq + 1));
                if b.gap_ok {
                    b.lseq = spec.seq;
                    b.pseq = b.lseq;
                    let (fseq, am) = (b.fseq, b.ack_messages);
                    let flow = self.fast.flow_ack(id);
                    replies.push(flow.unwrap_or_else(|| fast_batch::ack(fseq, am)));
                } else {
                    replies.push(self.fast_commit(id));
                }
            } else {
                replies.push(fast_batch::ack(b.fseq, b.ack_messages));
            }
            return Ok(fast_replies(replies));
        }
        // Gaps: reported; the end of a `fail` batch, passed over in `ok`.
        b.lseq += 1;
        if b.lseq != spec.seq {
            if spec.seq > b.lseq {
                replies.push(fast_batch::gap(b.lseq, spec.seq));
            }
            if b.gap_ok && spec.seq > b.lseq {
                b.lseq = spec.seq;
            } else {
                b.lseq -= 1;
                replies.push(self.fast_commit(id));
                return Ok(fast_replies(replies));
            }
        }
        let commit = matches!(spec.op, Op::Commit | Op::CommitEob);
        if spec.op == Op::CommitEob {
            // The end-of-batch message is not stored.
            b.lseq -= 1;
            b.pseq = b.lseq;
            replies.push(self.fast_commit(id));
            return Ok(fast_replies(replies));
        }
        if spec.seq == 1 && !commit {
            replies.push(fast_batch::ack(0, b.ack_messages));
        }
        let before = self.store.state().msgs;
        match self.publish_as(msg, now, Provenance::Client) {
            Ok(stored) => {
                if !stored.duplicate {
                    self.after_publish(stored.seq, &msg.subject, before, stored.rolled_up.as_ref());
                }
                if let Some(b) = self.fast.open.get_mut(id) {
                    if !stored.duplicate {
                        b.sseq = stored.seq;
                    }
                    b.pseq = b.lseq;
                }
                if commit {
                    replies.push(self.fast_commit(id));
                } else if let Some(flow) = self.fast.flow_ack(id) {
                    replies.push(flow);
                }
                Ok(fast_replies(replies))
            }
            Err(PublishError::Api(e)) => {
                let Some(b) = self.fast.open.get_mut(id) else {
                    return Err(e.into());
                };
                if !b.gap_ok && b.lseq == 1 {
                    // A batch failing at once: a publish's error.
                    self.fast.close(id);
                    return Err(e.into());
                }
                replies.push(fast_batch::err(spec.seq, &e));
                if !b.gap_ok {
                    b.lseq -= 1;
                    replies.push(self.fast_commit(id));
                }
                Ok(fast_replies(replies))
            }
            Err(e) => {
                self.fast.close(id);
                Err(e)
            }
        }
    }

    /// Ends fast batch `id`: the PubAck for what it stored.
    fn fast_commit(&mut self, id: &str) -> Vec<u8> {
        let (sseq, count) = self.fast.open.get(id).map_or((0, 0), |b| (b.sseq, b.lseq));
        self.fast.close(id);
        crate::api::PubAck {
            stream: self.policy().name.clone(),
            seq: sseq,
            batch: Some((id.to_string(), count)),
            ..crate::api::PubAck::default()
        }
        .to_json()
    }
}

/// A fast batch message's answers, sent in order once the batch is
/// durable.
fn fast_replies(replies: Vec<Vec<u8>>) -> Stored {
    Stored {
        seq: 0,
        duplicate: false,
        rolled_up: None,
        val: None,
        batch: Some(Batched::Replies(replies)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::stream::StreamConfig;
    use crate::store::MemStore;
    use crate::stream::Policy;

    const SEC: i64 = 1_000_000_000;

    fn stream() -> Stream {
        let config = StreamConfig {
            name: "B".into(),
            subjects: vec!["b.>".into()],
            allow_atomic: true,
            ..StreamConfig::default()
        };
        Stream::new(Policy::from_config(&config), Box::new(MemStore::new()), 0).expect("stream")
    }

    fn msg(seq: u64, commit: bool) -> Inbound {
        let mut h = headers::HeaderBlock::new();
        h.add("Nats-Batch-Id", "x");
        h.add("Nats-Batch-Sequence", seq);
        if commit {
            h.add("Nats-Batch-Commit", 1);
        }
        Inbound {
            subject: format!("b.{seq}"),
            reply: Some("r".into()),
            headers: Some(bytes::Bytes::from(h.finish())),
            payload: bytes::Bytes::from_static(b"p"),
        }
    }

    #[test]
    fn a_batch_is_stored_at_its_commit_and_an_idle_one_is_dropped() {
        let mut s = stream();
        let staged = s.publish(&msg(1, false), 0).expect("staged");
        assert_eq!(staged.batch, Some(Batched::Staged));
        assert_eq!(
            s.store().state().msgs,
            0,
            "nothing stored before the commit"
        );
        let done = s.publish(&msg(2, true), SEC).expect("commit");
        assert_eq!(
            (done.seq, done.batch),
            (
                2,
                Some(Batched::Committed {
                    id: "x".into(),
                    count: 2
                })
            )
        );
        assert_eq!(s.store().state().msgs, 2);
        // An idle batch goes after 10 s, with an advisory.
        s.publish(&msg(1, false), 2 * SEC).expect("staged");
        assert_eq!(s.next_batch_deadline(), Some(12 * SEC));
        s.expire_batches(12 * SEC);
        assert_eq!(s.next_batch_deadline(), None);
        let sent = s.take_after_commit();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, "$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.B");
        let body: serde_json::Value = serde_json::from_slice(&sent[0].payload).expect("json");
        assert_eq!(body["reason"], "timeout");
        let late = s.publish(&msg(2, true), 13 * SEC).expect_err("gone");
        assert!(matches!(late, PublishError::Api(e) if e.err_code == 10176));
        assert_eq!(s.store().state().msgs, 2);
    }
}
