//! A stream's mirror or sources at work on its shard (the state and the
//! requests are `sourcing`): create replies, copies, heartbeats and flow
//! control in; copies stored at the origin's sequence (a mirror) or with
//! `Nats-Stream-Source` (a source); consumers given up and asked for again.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use crate::error::ApiError;
use crate::headers;
use crate::outbox::OutMsg;
use crate::sourcing::{wire, EarlyMsg, Sourcing, CREATE_WAIT_NS, EARLY_KEPT, NANOS, STALLED_NS};
use crate::stream::{Inbound, Provenance, PublishError, Stream};

impl Stream {
    /// Gives the stream its mirror or sources (or takes them away).
    pub(crate) fn set_sourcing(&mut self, sourcing: Option<Sourcing>) {
        self.sourcing = sourcing;
    }

    /// Takes the stream's mirror or sources out (to hand to the stream
    /// reopened in its place).
    pub(crate) fn take_sourcing(&mut self) -> Option<Sourcing> {
        self.sourcing.take()
    }

    /// Handles a message captured on one of the stream's sourcing
    /// subjects (`via`): a create reply, a copy, a heartbeat or a
    /// flow-control request.
    pub(crate) fn sourcing_traffic(
        &mut self,
        via: &str,
        msg: &Inbound,
        now: i64,
        out: &mut Vec<OutMsg>,
    ) {
        let Some(sourcing) = self.sourcing.as_ref() else {
            return;
        };
        let Some((is_reply, i)) = sourcing.classify(via) else {
            return;
        };
        if is_reply {
            self.on_created(i, msg, now, out);
        } else {
            self.on_delivery(i, msg, now, out);
        }
    }

    /// The deadlines of the mirror or sources.
    pub(crate) fn next_sourcing_deadline(&self) -> Option<i64> {
        self.sourcing.as_ref().and_then(Sourcing::next_deadline)
    }

    /// Sends due requests, gives up on silent consumers and unanswered
    /// requests.
    pub(crate) fn tick_sourcing(&mut self, now: i64, out: &mut Vec<OutMsg>) {
        if self.sourcing.as_ref().is_some_and(|s| s.unresolved) {
            self.resolve_source_starts();
        }
        let state = self.store.state();
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        for i in 0..s.origins.len() {
            let o = &s.origins[i];
            if o.asked_ns.is_some_and(|t| t + CREATE_WAIT_NS <= now) {
                s.origins[i].fails += 1;
                s.cancel(i, out);
                s.schedule(i, now);
                continue;
            }
            if !o.cname.is_empty() && o.heard_ns + STALLED_NS <= now {
                tracing::debug!(
                    "JetStream stream '{}': no word from '{}' for {}s, asking again",
                    s.stream,
                    o.src.name,
                    STALLED_NS / NANOS
                );
                s.cancel(i, out);
                s.schedule(i, now);
                continue;
            }
            if o.retry_at_ns.is_some_and(|t| t <= now) {
                if s.mirror {
                    // Where the stream stands now.
                    s.origins[i].sseq = state.last_seq;
                }
                let req = s.request(i, &state, now);
                out.push(req);
            }
        }
    }

    /// Finds, for each source, the last origin sequence the stream holds
    /// a copy of, reading the stored copies from the newest back until
    /// every source is found (the reference's start-up scan).
    fn resolve_source_starts(&mut self) {
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        s.unresolved = false;
        let mut missing: HashSet<String> = s
            .origins
            .iter()
            .filter(|o| o.sseq == 0)
            .map(|o| o.iname.clone())
            .collect();
        let state = self.store.state();
        if missing.is_empty() || state.msgs == 0 {
            return;
        }
        let mut found: HashMap<String, u64> = HashMap::new();
        let mut seq = state.last_seq;
        while seq >= state.first_seq.max(1) && !missing.is_empty() {
            let Ok(Some(m)) = self.store.get(seq) else {
                seq -= 1;
                continue;
            };
            seq -= 1;
            let Some(value) = m
                .headers
                .as_deref()
                .and_then(|h| headers::get(h, "Nats-Stream-Source"))
            else {
                continue;
            };
            let Some((stream, iname, origin_seq)) = wire::parse_source_header(value) else {
                continue;
            };
            if iname.is_empty() {
                // The old form names only the stream: it counts for every
                // source of that stream.
                let hits: Vec<String> = s
                    .origins
                    .iter()
                    .filter(|o| missing.contains(&o.iname))
                    .filter(|o| {
                        stream == o.src.name
                            || o.src.external.as_ref().is_some_and(|e| {
                                stream == format!("{}:{}", o.src.name, wire::hash(&e.api))
                            })
                    })
                    .map(|o| o.iname.clone())
                    .collect();
                for h in hits {
                    missing.remove(&h);
                    found.insert(h, origin_seq);
                }
            } else if missing.remove(&iname) {
                found.insert(iname, origin_seq);
            }
        }
        for o in &mut s.origins {
            if let Some(seq) = found.get(&o.iname) {
                o.sseq = *seq;
            }
        }
    }

    fn on_created(&mut self, i: usize, msg: &Inbound, now: i64, out: &mut Vec<OutMsg>) {
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        if s.origins[i].asked_ns.is_none() {
            return;
        }
        s.origins[i].asked_ns = None;
        let reply: serde_json::Value = match serde_json::from_slice(&msg.payload) {
            Ok(v) => v,
            Err(_) => {
                tracing::warn!(
                    "JetStream stream '{}': bad consumer create response from '{}': {:?}",
                    s.stream,
                    s.origins[i].src.name,
                    String::from_utf8_lossy(&msg.payload)
                );
                s.origins[i].err = Some(ApiError::invalid_json("bad consumer create response"));
                s.origins[i].fails += 1;
                s.cancel(i, out);
                s.schedule(i, now);
                return;
            }
        };
        if let Some(err) = reply.get("error") {
            let err: ApiError = serde_json::from_value(err.clone())
                .unwrap_or_else(|_| ApiError::store_failed("consumer create failed"));
            tracing::warn!(
                "JetStream error response for create {} consumer of '{}' for stream '{}': {}",
                if s.mirror { "mirror" } else { "source" },
                s.origins[i].src.name,
                s.stream,
                err.description
            );
            let o = &mut s.origins[i];
            o.err = Some(err);
            o.fails += 1;
            o.engaged = false;
            s.schedule(i, now);
            return;
        }
        let name = reply
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let delivered = reply
            .pointer("/delivered/stream_seq")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let mirror = s.mirror;
        let acks_by_fc = reply
            .pointer("/config/ack_policy")
            .and_then(serde_json::Value::as_str)
            == Some("flow_control");
        if s.origins[i].is_durable() && !acks_by_fc {
            let o = &mut s.origins[i];
            o.err = Some(if mirror {
                crate::error::MIRROR_CONSUMER_REQUIRES_ACK_FC.into()
            } else {
                crate::error::SOURCE_CONSUMER_REQUIRES_ACK_FC.into()
            });
            o.fails += 1;
            o.engaged = false;
            s.schedule(i, now);
            return;
        }
        {
            let o = &mut s.origins[i];
            if !mirror && o.sseq < delivered {
                o.sseq = delivered;
            }
            o.cname = name;
            o.err = None;
            o.fails = 0;
            o.dseq = 0;
            o.heard_ns = now;
        }
        if mirror {
            // An origin that starts past what the mirror holds (its first
            // messages are gone): the mirror's sequence moves up to it.
            let last = self.store.state().last_seq;
            if last < delivered {
                if let Err(e) = self.store.skip(delivered - last) {
                    tracing::warn!("JetStream stream '{}': {e}", self.policy().name);
                }
            }
            let last = self.store.state().last_seq;
            if let Some(s) = self.sourcing.as_mut() {
                s.origins[i].sseq = delivered.max(last);
            }
        }
        // What came before this reply, in order.
        let early = self
            .sourcing
            .as_mut()
            .map(|s| std::mem::take(&mut s.origins[i].early))
            .unwrap_or_default();
        for m in early {
            let msg = Inbound {
                subject: m.subject,
                reply: m.reply,
                headers: m.headers,
                payload: m.payload,
            };
            self.on_delivery(i, &msg, now, out);
        }
    }

    fn on_delivery(&mut self, i: usize, msg: &Inbound, now: i64, out: &mut Vec<OutMsg>) {
        let Some(s) = self.sourcing.as_mut() else {
            return;
        };
        s.origins[i].heard_ns = now;
        let o = &mut s.origins[i];
        if o.asked_ns.is_some() && o.cname.is_empty() {
            // Its consumer's create reply is still on its way.
            if o.early.len() < EARLY_KEPT {
                o.early.push(EarlyMsg {
                    subject: msg.subject.clone(),
                    reply: msg.reply.clone(),
                    headers: msg.headers.clone(),
                    payload: msg.payload.clone(),
                });
            }
            return;
        }
        if wire::is_control(msg.headers.as_deref(), &msg.payload) {
            if let Some(reply) = &msg.reply {
                // Flow control: say we keep up, and how far we are (a
                // consumer acking by flow control acks up to there).
                let o = &s.origins[i];
                let mut h = headers::HeaderBlock::new();
                h.add("Nats-Last-Consumer", o.dseq);
                h.add("Nats-Last-Stream", o.sseq);
                out.push(OutMsg::to_inbox(reply, Some(h.finish())));
                return;
            }
            let h = msg.headers.as_deref().unwrap_or_default();
            let last = headers::get(h, "Nats-Last-Consumer").and_then(|v| v.parse::<u64>().ok());
            if last.is_some_and(|l| l > 0 && l != s.origins[i].dseq) {
                // A delivery went missing: start again from what we have.
                s.cancel(i, out);
                s.schedule(i, now);
            } else if let Some(fc) = headers::get(h, "Nats-Consumer-Stalled") {
                out.push(OutMsg::to_inbox(fc, None));
            }
            return;
        }
        let Some(d) = msg.reply.as_deref().and_then(wire::delivery) else {
            return;
        };
        if d.consumer != s.origins[i].cname {
            s.tell_stale_to_go(i, d.consumer, out);
            return;
        }
        if d.deliveries > 1 {
            return;
        }
        let mirror = s.mirror;
        let o = &mut s.origins[i];
        let (old_sseq, old_dseq) = (o.sseq, o.dseq);
        if d.stream_seq <= o.sseq {
            if d.consumer_seq == o.dseq + 1 {
                o.dseq += 1;
            }
            return;
        }
        // The next origin sequence, or the next delivery past messages
        // the origin removed (a mirror skips them too); anything else
        // means deliveries went missing.
        let in_order = (mirror && d.stream_seq == o.sseq + 1) || d.consumer_seq == o.dseq + 1;
        if !in_order {
            s.cancel(i, out);
            s.schedule(i, now);
            return;
        }
        o.dseq = d.consumer_seq;
        o.sseq = d.stream_seq;
        o.lag = d.pending.saturating_sub(1);
        let subject = o.map_subject(&msg.subject);
        let stored = if mirror {
            self.store_mirrored(msg, subject, &d)
        } else {
            self.store_sourced(i, msg, subject, &d)
        };
        if let Err(e) = stored {
            let Some(s) = self.sourcing.as_mut() else {
                return;
            };
            let name = s.origins[i].src.name.clone();
            match &e {
                PublishError::Api(api) => {
                    tracing::debug!(
                        "JetStream stream '{}': copy of '{name}' {} refused: {}",
                        s.stream,
                        d.stream_seq,
                        api.description
                    );
                }
                PublishError::Store(e) => {
                    tracing::warn!(
                        "JetStream stream '{}': error storing a copy of '{name}': {e}",
                        s.stream
                    );
                }
            }
            let o = &mut s.origins[i];
            o.sseq = old_sseq;
            o.dseq = old_dseq;
            o.fails += 1;
            s.cancel(i, out);
            s.schedule(i, now);
        }
    }

    /// Stores a mirror's copy at the origin's sequence, with its time.
    fn store_mirrored(
        &mut self,
        msg: &Inbound,
        subject: Option<String>,
        d: &wire::Delivery<'_>,
    ) -> Result<(), PublishError> {
        let last = self.store.state().last_seq;
        if d.stream_seq <= last {
            return Ok(());
        }
        if d.stream_seq > last + 1 {
            self.store.skip(d.stream_seq - last - 1)?;
        }
        let headers = wire::without_prefix(msg.headers.as_deref(), "Nats-Expected-");
        let headers = wire::without_prefix(headers.as_deref(), "Nats-Batch-");
        let copy = Inbound {
            subject: subject.unwrap_or_else(|| msg.subject.clone()),
            reply: None,
            headers: headers.map(Bytes::from),
            payload: msg.payload.clone(),
        };
        self.publish_copy(&copy, Provenance::Mirror { time_ns: d.time_ns })
    }

    /// Stores a source's copy as a new message saying where it came from.
    fn store_sourced(
        &mut self,
        i: usize,
        msg: &Inbound,
        subject: Option<String>,
        d: &wire::Delivery<'_>,
    ) -> Result<(), PublishError> {
        let Some(s) = self.sourcing.as_ref() else {
            return Ok(());
        };
        let origin_subject = msg.subject.clone();
        let value = wire::source_header(&s.origins[i].iname, d.stream_seq, &origin_subject);
        let h =
            headers::HeaderBlock::without(msg.headers.as_deref(), "Nats-Stream-Source").finish();
        let h = wire::without_prefix(Some(&h), "Nats-Expected-");
        let h = wire::without_prefix(h.as_deref(), "Nats-Batch-");
        let mut block = headers::HeaderBlock::from_existing(h.as_deref());
        block.add("Nats-Stream-Source", value);
        let copy = Inbound {
            subject: subject.unwrap_or(origin_subject),
            reply: None,
            headers: Some(Bytes::from(block.finish())),
            payload: msg.payload.clone(),
        };
        self.publish_copy(&copy, Provenance::Source)
    }
}
