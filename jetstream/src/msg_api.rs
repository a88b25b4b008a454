//! The message-level stream API, run on a stream's shard: purge,
//! message get and delete, and direct get (raw message replies).

use crate::api::format_time;
use crate::api::stream::{MsgGetRequest, PurgeRequest, StoredMsg as ApiMsg};
use crate::error::ApiError;
use crate::headers::HeaderBlock;
use crate::outbox::Outbox;
use crate::store::StoredMsg;
use crate::stream::{Purged, Stream};

fn store_err(e: impl std::fmt::Display) -> ApiError {
    ApiError::store_failed(e.to_string())
}

/// Purges as asked (the request already checked); how many were removed.
pub fn purge(s: &mut Stream, req: &PurgeRequest) -> Result<u64, ApiError> {
    let filter = Some(req.filter.as_str()).filter(|f| !f.is_empty() && *f != ">");
    // The API's keep is "none" at 0, its seq at 0 and 1: the reference's
    // filtered purges and its file store purge everything for seq 1 (its
    // memory store alone purges nothing when unfiltered, the odd one out;
    // tern does as the rest). The store's bounds are literal.
    let below = (req.seq > 1).then_some(req.seq);
    let keep = (req.keep > 0).then_some(req.keep);
    // The file store's seq-1 purge removes messages one by one, so on an
    // empty stream it changes nothing (a whole purge would move the first
    // sequence on).
    let in_place_on_nothing =
        filter.is_none() && req.seq == 1 && keep.is_none() && s.store().state().msgs == 0;
    let in_place = filter.is_none() && (keep.is_some() || req.seq == 1);
    let report = if in_place_on_nothing {
        Purged {
            filter: req.filter.clone(),
            purged: 0,
            in_place,
            took: None,
            removed: Vec::new(),
        }
    } else {
        s.purge_reported(&req.filter, below, keep, in_place)
            .map_err(store_err)?
    };
    let purged = report.purged;
    s.after_purge(&report);
    s.store_mut().commit().map_err(store_err)?;
    Ok(purged)
}

/// Removes one message. A miss is told as the reference's stores tell it:
/// the memory store only knows "sequence N not found"; the file store says
/// "stream store EOF" past its last message and "no message found" below
/// its first (or for 0), and "sequence N not found" for a gap in between.
pub fn msg_delete(s: &mut Stream, memory: bool, seq: u64) -> Result<(), ApiError> {
    let state = s.store().state();
    if !memory {
        if seq > state.last_seq {
            return Err(ApiError::msg_delete_failed(crate::error::MSG_DELETE_EOF));
        }
        if seq == 0 || seq < state.first_seq {
            return Err(ApiError::msg_delete_not_found());
        }
    }
    // Erasing overwrites the bytes in the reference's files; a redb record
    // is gone once removed, so both forms end the same.
    let subject = s.store().get(seq).map_err(store_err)?.map(|m| m.subject);
    if !s.store_mut().remove(seq).map_err(store_err)? {
        return Err(ApiError::sequence_not_found(seq));
    }
    if let Some(subject) = subject {
        s.report_removal(seq, &subject);
    }
    s.store_mut().commit().map_err(store_err)?;
    // One removal, reported with its subject: a consumer that had it
    // pending takes it as a term.
    s.after_removals();
    Ok(())
}

/// Why a get found nothing usable.
enum GetMiss {
    NotFound,
    BadRequest,
}

/// The one message a single-message get asks for.
fn find(s: &Stream, req: &MsgGetRequest) -> Result<StoredMsg, GetMiss> {
    let store = s.store();
    let last = Some(req.last_by_subj.as_str()).filter(|x| !x.is_empty());
    let next = Some(req.next_by_subj.as_str()).filter(|x| !x.is_empty());
    let found = match (last, next) {
        (Some(_), Some(_)) => return Err(GetMiss::BadRequest),
        (Some(_), None) if req.seq > 0 => return Err(GetMiss::BadRequest),
        (Some(subj), None) => store.last_matching(subj),
        (None, Some(subj)) => match req.start_time {
            Some(ns) => first_at_or_after(s, subj, ns),
            None => store.next_matching(subj, req.seq.max(1)),
        },
        (None, None) => match req.start_time {
            Some(ns) => first_at_or_after(s, ">", ns),
            None if req.seq == 0 => return Err(GetMiss::BadRequest),
            None => store.get(req.seq),
        },
    };
    found.ok().flatten().ok_or(GetMiss::NotFound)
}

fn first_at_or_after(
    s: &Stream,
    filter: &str,
    ns: i64,
) -> Result<Option<StoredMsg>, crate::store::StoreError> {
    let mut seq = s.store().state().first_seq;
    while let Some(m) = s.store().next_matching(filter, seq)? {
        if m.time_ns >= ns {
            return Ok(Some(m));
        }
        seq = m.seq + 1;
    }
    Ok(None)
}

/// The message a STREAM.MSG.GET asks for (the request already checked).
pub fn msg_get(s: &mut Stream, req: &MsgGetRequest) -> Result<ApiMsg, ApiError> {
    let m = find(s, req).map_err(|miss| match miss {
        GetMiss::NotFound => ApiError::no_message_found(),
        GetMiss::BadRequest => ApiError::bad_request(),
    })?;
    let hdrs = match &m.headers {
        Some(h) if !req.no_hdr => h.to_vec(),
        _ => Vec::new(),
    };
    Ok(ApiMsg {
        subject: m.subject,
        seq: m.seq,
        hdrs,
        data: m.payload.to_vec(),
        time: m.time_ns,
    })
}

/// Answers a DIRECT.GET with the raw message (headers first as stored,
/// then the stream's), or with a status line.
pub fn direct_get(
    s: &mut Stream,
    stream: &str,
    outbox: &dyn Outbox,
    reply: &str,
    payload: &[u8],
    last_by_subject: Option<&str>,
) {
    let status = |code, text: &str| {
        outbox.publish(reply, Some(&HeaderBlock::status(code, text).finish()), b"")
    };
    let req = match last_by_subject {
        Some(subj) => {
            // This form takes no body.
            if !payload.is_empty() {
                return status(408, "Malformed Request");
            }
            MsgGetRequest {
                last_by_subj: subj.to_string(),
                ..MsgGetRequest::default()
            }
        }
        None if payload.is_empty() => return status(408, "Empty Request"),
        None => match serde_json::from_slice::<MsgGetRequest>(payload) {
            Ok(r) => r,
            Err(_) => return status(408, "Malformed Request"),
        },
    };
    // As the reference: a body that asks for nothing is "empty", one
    // that asks for two things at once is "bad".
    if last_by_subject.is_none() {
        if let Some(why) = direct_request_problem(&req) {
            return status(408, why);
        }
    }
    if req.batch > 0 || !req.multi_last.is_empty() {
        return direct_batch(s, stream, outbox, reply, &req);
    }
    match find(s, &req) {
        Ok(m) => send_direct(outbox, reply, stream, &m, None),
        Err(GetMiss::NotFound) => status(404, "Message Not Found"),
        Err(GetMiss::BadRequest) => status(408, "Bad Request"),
    }
}

/// Why a direct get body cannot be served, in the reference's words.
fn direct_request_problem(req: &MsgGetRequest) -> Option<&'static str> {
    let (seq, last, next) = (
        req.seq > 0,
        !req.last_by_subj.is_empty(),
        !req.next_by_subj.is_empty(),
    );
    let (multi, start) = (!req.multi_last.is_empty(), req.start_time.is_some());
    if !seq && !last && !next && !multi && !start {
        return Some("Empty Request");
    }
    let conflict = (last && (seq || start || next || multi || req.batch > 0))
        || (seq && start)
        || (next && multi)
        || (req.up_to_seq > 0 && req.up_to_time.is_some());
    conflict.then_some("Bad Request")
}

/// One raw message; batch replies add the pending count and the previous
/// sequence.
pub(crate) fn send_direct(
    outbox: &dyn Outbox,
    reply: &str,
    stream: &str,
    m: &StoredMsg,
    batch: Option<(u64, u64)>,
) {
    let mut h = HeaderBlock::from_existing(m.headers.as_deref());
    h.add("Nats-Stream", stream)
        .add("Nats-Subject", &m.subject)
        .add("Nats-Sequence", m.seq)
        .add("Nats-Time-Stamp", format_time(m.time_ns));
    if let Some((pending, last)) = batch {
        h.add("Nats-Num-Pending", pending)
            .add("Nats-Last-Sequence", last);
    }
    outbox.publish(reply, Some(&h.finish()), &m.payload);
}

/// A batched direct get: up to `batch` messages from `seq` (or the last
/// message of each `multi_last` subject), then `204 EOB`.
fn direct_batch(s: &Stream, stream: &str, outbox: &dyn Outbox, reply: &str, req: &MsgGetRequest) {
    let mut msgs = Vec::new();
    let max_bytes = usize::try_from(req.max_bytes)
        .ok()
        .filter(|b| *b > 0)
        .unwrap_or(usize::MAX);
    let mut bytes = 0usize;
    let up_to = if req.up_to_seq > 0 {
        req.up_to_seq
    } else {
        u64::MAX
    };
    let multi = !req.multi_last.is_empty();
    if multi {
        for subj in &req.multi_last {
            if let Ok(Some(m)) = s.store().last_matching(subj) {
                if m.seq <= up_to {
                    msgs.push(m);
                }
            }
        }
        msgs.sort_by_key(|m| m.seq);
        msgs.dedup_by_key(|m| m.seq);
    } else {
        let filter = Some(req.next_by_subj.as_str())
            .filter(|f| !f.is_empty())
            .unwrap_or(">");
        let mut seq = req.seq.max(1);
        let batch = usize::try_from(req.batch).unwrap_or(1).max(1);
        while msgs.len() < batch {
            let Ok(Some(m)) = s.store().next_matching(filter, seq) else {
                break;
            };
            if m.seq > up_to {
                break;
            }
            bytes += m.payload.len() + m.headers.as_ref().map_or(0, |h| h.len());
            if bytes > max_bytes && !msgs.is_empty() {
                break;
            }
            seq = m.seq + 1;
            msgs.push(m);
        }
    }
    if msgs.is_empty() {
        let h = HeaderBlock::status(404, "Message Not Found").finish();
        outbox.publish(reply, Some(&h), b"");
        return;
    }
    let last_seq = s.store().state().last_seq;
    let mut previous = 0;
    let total = msgs.len() as u64;
    let filter = Some(req.next_by_subj.as_str())
        .filter(|f| !f.is_empty())
        .unwrap_or(">");
    let pending_after = |i: usize, seq: u64| {
        if multi {
            total - 1 - i as u64
        } else {
            matching_after(s, filter, seq)
        }
    };
    for (i, m) in msgs.iter().enumerate() {
        send_direct(
            outbox,
            reply,
            stream,
            m,
            Some((pending_after(i, m.seq), previous)),
        );
        previous = m.seq;
    }
    // What the batch left behind, when it was cut short.
    let mut eob = HeaderBlock::status(204, "EOB");
    eob.add("Nats-Num-Pending", pending_after(msgs.len() - 1, previous))
        .add("Nats-Last-Sequence", previous);
    if multi {
        eob.add(
            "Nats-UpTo-Sequence",
            if req.up_to_seq > 0 {
                req.up_to_seq
            } else {
                last_seq
            },
        );
    }
    outbox.publish(reply, Some(&eob.finish()), b"");
}

/// How many messages matching `filter` are stored after `seq`.
fn matching_after(s: &Stream, filter: &str, seq: u64) -> u64 {
    let mut count = 0;
    let mut next = seq + 1;
    while let Ok(Some(m)) = s.store().next_matching(filter, next) {
        count += 1;
        next = m.seq + 1;
    }
    count
}
