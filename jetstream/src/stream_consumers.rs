//! A stream's consumers, driven from its shard: acks, flow-control
//! replies and pull requests captured for the stream come here; after each
//! commit the consumers deliver; their timers run with the stream's; acks
//! release messages on workqueue and interest streams; durable consumers
//! are saved in the stream's store within the group commit.

use crate::api::consumer::AckPolicy;
use crate::api::stream::RetentionPolicy;
use crate::consumer::ack::{parse_ack_body, parse_ack_subject, ACK_PREFIX};
use crate::consumer::pull::NEXT_PREFIX;
use crate::consumer::Consumer;
use crate::outbox::{OutMsg, Outbox};
use crate::store::StoreError;
use crate::stream::{Inbound, Purged, Stream};

const FC_PREFIX: &str = "$JS.FC.";

/// The reference answers a request nobody subscribes to with a 503; these
/// subjects have no subscriber there when the consumer does not exist.
fn no_responders(reply: &str, subject: &str) -> OutMsg {
    OutMsg::to_inbox(reply, Some(crate::headers::no_responders(subject)))
}

/// Whether a captured message is consumer traffic rather than a publish.
pub fn is_consumer_traffic(subject: &str) -> bool {
    subject.starts_with("$JS.")
        && (subject.starts_with(ACK_PREFIX)
            || subject.starts_with(FC_PREFIX)
            || subject.starts_with(NEXT_PREFIX))
}

impl Stream {
    /// Whether acks remove messages: workqueue and interest retention.
    fn ack_retention(&self) -> Option<RetentionPolicy> {
        let p = self.policy();
        if p.workqueue_retention {
            Some(RetentionPolicy::WorkQueue)
        } else if p.interest_retention {
            Some(RetentionPolicy::Interest)
        } else {
            None
        }
    }

    /// Handles an ack, a flow-control reply or a pull request.
    pub fn consumer_traffic(&mut self, msg: &Inbound, now: i64, out: &mut Vec<OutMsg>) {
        let subject = msg.subject.as_str();
        if subject.starts_with(ACK_PREFIX) {
            let Some(target) = parse_ack_subject(subject) else {
                if let Some(r) = &msg.reply {
                    out.push(no_responders(r, subject));
                }
                return;
            };
            let ours = target.stream == self.policy().name;
            let store = self.store.as_ref();
            // A consumer without acks takes none: the reference does not
            // subscribe its ack subjects, so a request finds no responder.
            let Some(c) = self
                .consumers
                .get_mut(target.consumer)
                .filter(|c| ours && c.takes_acks())
            else {
                if let Some(r) = &msg.reply {
                    out.push(no_responders(r, subject));
                }
                return;
            };
            let outcome = c.on_ack(&target, parse_ack_body(&msg.payload), now);
            let mut released = outcome.released;
            match (&outcome.next, &msg.reply) {
                (Some(body), Some(reply)) => {
                    released.extend(c.on_pull(body, reply, store, now, out))
                }
                (None, Some(reply)) if outcome.reply => out.push(OutMsg::to_inbox(reply, None)),
                _ => {}
            }
            self.release(&released);
        } else if let Some(rest) = subject.strip_prefix(FC_PREFIX) {
            let mut parts = rest.splitn(3, '.');
            let (_stream, consumer) = (parts.next(), parts.next());
            if let Some(c) = consumer.and_then(|n| self.consumers.get_mut(n)) {
                let released = c.on_flow_control_reply(subject, msg.headers.as_deref(), now);
                self.release(&released);
            }
        } else if let Some(rest) = subject.strip_prefix(NEXT_PREFIX) {
            let Some(reply) = &msg.reply else {
                return;
            };
            let consumer = rest
                .split_once('.')
                .map(|(_, c)| c)
                .filter(|c| !c.contains('.'));
            let path = self.ack_none_releases;
            let store = self.store.as_ref();
            let Some(c) = consumer.and_then(|n| self.consumers.get_mut(n)) else {
                out.push(no_responders(reply, subject));
                return;
            };
            let released = c.on_pull(&msg.payload, reply, store, now, out);
            let released = ack_none_delivered(c, released, path, now);
            self.release(&released);
        }
    }

    /// After a publish: consumers count the new message, or recount when
    /// the publish also removed messages (limits, rollups).
    ///
    /// A rollup is a purge to the consumers (of its subject with keep 1,
    /// or of all), as the reference runs it.
    pub fn after_publish(
        &mut self,
        seq: u64,
        subject: &str,
        msgs_before: u64,
        rolled_up: Option<&Purged>,
    ) {
        // Every consumer hears of the new message first (the reference
        // signals it as it stores it), whatever else the publish did.
        if !self.consumers.is_empty() && self.store.contains(seq) {
            for c in self.consumers.values_mut() {
                c.note_new_message(subject);
            }
        }
        self.report_removals();
        if let Some(r) = rolled_up {
            self.after_purge(r);
            self.after_removals();
        } else if self.store.state().msgs == msgs_before + 1 {
            for c in self.consumers.values_mut() {
                c.on_stored(seq, subject);
            }
        } else {
            self.after_removals();
        }
    }

    /// Tells the consumers of the messages the limits removed, one by one
    /// as the reference's stores report them.
    pub fn report_removals(&mut self) {
        for (seq, subject) in std::mem::take(&mut self.limit_removals) {
            self.report_removal(seq, &subject);
        }
    }

    /// Tells the consumers of one removed message.
    pub fn report_removal(&mut self, seq: u64, subject: &str) {
        for c in self.consumers.values_mut() {
            c.on_removal_reported(seq, subject);
        }
    }

    /// After a purge (`filter` as the request gave it, "" for none), the
    /// consumers move as the reference's do: those the purge concerns
    /// as a whole up to the first message it left, those wider than a
    /// filtered purge only drop pending messages that are gone.
    ///
    /// Where the reference's store reports the removals one by one, each
    /// pending message taken reaches its consumer as a term once the purge
    /// has moved it: for a filtered purge, its memory store always; its
    /// file store when one message went, naming the purge's subject (or
    /// ">" for an unfiltered purge it does in place, `in_place`: with
    /// keep, or seq 1), so only consumers whose filters match that
    /// subject as a literal hear of it. An explicit-ack consumer counts
    /// such a term as ack activity even when the purge already dropped
    /// the message.
    ///
    /// `took`: the stream's first message the purge could take, as it was
    /// before (when one message went, the one that went). When the file
    /// store reports a single removal, it names the purge's subject (or
    /// ">"), so consumers whose filters do not match that keep counting
    /// the message; the memory store reports each message of a filtered
    /// purge with its own subject; other purges of several recount every
    /// consumer.
    pub fn after_purge(&mut self, p: &Purged) {
        let (filter, purged, in_place) = (p.filter.as_str(), p.purged, p.in_place);
        let took = &p.took;
        let state = self.store.state();
        let (first, last) = (state.first_seq, state.last_seq);
        let filtered = !filter.is_empty();
        let start = if filtered {
            match self.store.next_matching(filter, first) {
                Ok(m) => m.map_or(0, |m| m.seq),
                Err(e) => {
                    tracing::error!("stream {}: {e}", self.policy().name);
                    0
                }
            }
        } else {
            first
        };
        let store = self.store.as_ref();
        let memory = store.is_memory();
        // The memory store's filtered purges go message by message (">"
        // is no filter to it).
        let one_by_one = memory && filtered && filter != ">";
        let now = crate::outbox::now_ns();
        // The subject the single removal is reported with, when the file
        // store reports it so.
        let notice = if memory || purged != 1 {
            None
        } else if filtered {
            Some(filter)
        } else if in_place {
            Some(">")
        } else {
            None
        };
        let mut released = Vec::new();
        for c in self.consumers.values_mut() {
            let mut recount = false;
            match (notice, took) {
                (Some(subject), Some((seq, msg_subject)))
                    if !c.matches_subject(subject) && c.counts_as_pending(*seq, msg_subject) =>
                {
                    c.note_stale_pending();
                }
                (Some(subject), Some((seq, _))) => c.on_removal_reported(*seq, subject),
                (Some(_), None) => {}
                // Nothing went: the stores report nothing.
                (None, _) if purged == 0 => {}
                (None, _) if one_by_one => {
                    for (seq, subject) in &p.removed {
                        c.on_removal_reported(*seq, subject);
                    }
                }
                (None, _) => {
                    c.forget_stale_pending();
                    recount = true;
                }
            }
            // Settled like an ack: what the memory store reports one by
            // one (each with its own subject), or the file store's single
            // notice, to the consumers its subject matches (as a literal:
            // a filtered consumer inside a wildcard purge is not told).
            let settles = if memory {
                one_by_one
            } else {
                notice.is_some_and(|n| c.matches_subject(n))
            };
            if settles && c.has_gone_pending(store) {
                c.note_ack_activity(now);
            }
            if !filtered || c.filter_within(filter) {
                c.on_purged(start, last, false, store);
            } else if c.filter_contains(filter) {
                c.on_purged(first, last, true, store);
            } else {
                c.recount();
            }
            if settles {
                released.extend(c.on_removed(store, now));
            } else {
                c.keep_gone_pending(store);
            }
            if recount {
                c.recount_last_per_subject(store);
            }
        }
        self.release(&released);
    }

    /// Messages were removed (purge, delete, expiry): counts are redone.
    pub fn after_removals(&mut self) {
        let now = crate::outbox::now_ns();
        let store = self.store.as_ref();
        let mut released = Vec::new();
        for c in self.consumers.values_mut() {
            released.extend(c.on_removed(store, now));
        }
        if !released.is_empty() {
            self.release(&released);
        }
    }

    /// Every consumer delivers what it can.
    pub fn deliver_consumers(&mut self, outbox: &dyn Outbox, now: i64, out: &mut Vec<OutMsg>) {
        if self.consumers.is_empty() {
            return;
        }
        let mut released = Vec::new();
        let path = self.ack_none_releases;
        let store = self.store.as_ref();
        for c in self.consumers.values_mut() {
            c.refresh_activity(outbox, now);
            match c.deliver(store, now, out) {
                Ok(r) => released.extend(ack_none_delivered(c, r, path, now)),
                Err(e) => tracing::error!("consumer {}: {e}", c.name),
            }
            // What acks and timers noticed goes out with the batch.
            for event in c.events.drain(..) {
                out.extend(crate::advisory::delivery(
                    outbox, &c.stream, &c.name, &event,
                ));
            }
        }
        self.release(&released);
    }

    /// Runs the consumers' timers; removes consumers idle past their
    /// inactive threshold.
    pub fn tick_consumers(&mut self, outbox: &dyn Outbox, now: i64, out: &mut Vec<OutMsg>) {
        if self.next_sourcing_deadline().is_some_and(|at| at <= now) {
            self.tick_sourcing(now, out);
        }
        if self.next_batch_deadline().is_some_and(|at| at <= now) {
            self.expire_batches(now);
        }
        if self.next_schedule_deadline().is_some_and(|at| at <= now) {
            self.run_schedules(now);
        }
        let mut gone = Vec::new();
        for c in self.consumers.values_mut() {
            c.refresh_activity(outbox, now);
            if !c.tick(now, out) {
                gone.push(c.name.clone());
            }
        }
        for name in gone {
            if let Err(e) = self.remove_consumer(&name, out) {
                tracing::error!("consumer {name}: {e}");
            }
        }
        self.deliver_consumers(outbox, now, out);
    }

    /// How many consumers clients see: a mirror's or source's `direct`
    /// consumer is neither listed nor counted, as in the reference.
    pub fn public_consumers(&self) -> usize {
        self.consumers.values().filter(|c| !c.config.direct).count()
    }

    /// The consumers' next deadline, or the mirror's or sources'.
    pub fn next_consumer_deadline(&self) -> Option<i64> {
        self.consumers
            .values()
            .filter_map(Consumer::next_deadline)
            .chain(self.next_sourcing_deadline())
            .chain(self.next_batch_deadline())
            .chain(self.next_schedule_deadline())
            .min()
    }

    /// Saves every durable consumer whose state changed (same commit as the
    /// stream's writes).
    pub fn save_consumers(&mut self) -> Result<(), StoreError> {
        for c in self.consumers.values_mut() {
            if c.dirty {
                c.dirty = false;
                if c.is_persisted() {
                    self.store.save_consumer(&c.name, &c.encode())?;
                }
            }
        }
        Ok(())
    }

    /// Restores the durable consumers saved in the store.
    pub fn load_consumers(&mut self, now: i64) -> Result<(), StoreError> {
        let name = self.policy().name.clone();
        for (cname, doc) in self.store.load_consumers()? {
            let mut c = Consumer::decode(&name, &cname, &doc, self.store.as_ref(), now)?;
            c.started_with_ack_retention = self.ack_retention().is_some();
            c.recount_last_per_subject(self.store.as_ref());
            self.consumers.insert(cname, c);
        }
        Ok(())
    }

    /// Deletes a consumer: waiting pulls are told, its saved state goes, and
    /// on an interest stream the messages nobody else needs go too.
    pub fn remove_consumer(&mut self, name: &str, out: &mut Vec<OutMsg>) -> Result<(), StoreError> {
        let Some(mut c) = self.consumers.remove(name) else {
            return Ok(());
        };
        c.on_deleted(out);
        if c.is_persisted() {
            self.store.remove_consumer(name)?;
        }
        if self.ack_retention() == Some(RetentionPolicy::Interest) {
            if self.consumers.is_empty() {
                // Nobody is interested in anything: the reference purges,
                // which moves even an empty stream's first sequence on.
                self.store.purge(None, None, None)?;
                return Ok(());
            }
            // From its ack floor on, as the reference looks when a consumer goes.
            self.drop_unneeded(c.ack_floor_stream_seq())?;
        }
        Ok(())
    }

    /// On an interest stream, removes the messages from `from` on that no
    /// consumer needs any more (after a consumer went, or changed its
    /// filters as the reference's update cleans up).
    pub fn drop_unneeded(&mut self, from: u64) -> Result<(), StoreError> {
        if self.ack_retention() != Some(RetentionPolicy::Interest) {
            return Ok(());
        }
        let mut seq = from.max(self.store.state().first_seq);
        let mut unneeded = Vec::new();
        while let Some(m) = self.store.next_matching(">", seq)? {
            if !self.needed(m.seq, &m.subject) {
                unneeded.push(m.seq);
            }
            seq = m.seq + 1;
        }
        self.remove_unneeded(unneeded)
    }

    /// Removes messages no consumer needs. Nobody had them pending (that
    /// would be a need), so the consumers only count again.
    fn remove_unneeded(&mut self, seqs: impl IntoIterator<Item = u64>) -> Result<(), StoreError> {
        let mut removed = false;
        for seq in seqs {
            self.store.remove(seq)?;
            removed = true;
        }
        if removed {
            for c in self.consumers.values_mut() {
                c.recount();
            }
        }
        Ok(())
    }

    /// The stream became an interest stream: each consumer lets go of the
    /// messages it matches up to its ack floor (to what it delivered,
    /// while it has messages pending), and those no consumer still needs
    /// go, as the reference checks each consumer's state on the change.
    /// Messages no consumer matches stay.
    pub fn after_interest_retention(&mut self) -> Result<(), StoreError> {
        if self.ack_retention() != Some(RetentionPolicy::Interest) {
            return Ok(());
        }
        let state = self.store.state();
        let first = state.first_seq;
        let mut unneeded = std::collections::BTreeSet::new();
        for c in self.consumers.values() {
            // The reference gives up on a consumer whose ack floor is past
            // the stream's last message (it started beyond the end).
            if c.ack_floor_stream_seq() > state.last_seq {
                continue;
            }
            let upto = c.released_upto();
            let mut seq = first;
            while seq <= upto {
                let Some(m) = self.store.next_matching(">", seq)? else {
                    break;
                };
                if m.seq > upto {
                    break;
                }
                if c.matches_subject(&m.subject) && !self.needed(m.seq, &m.subject) {
                    unneeded.insert(m.seq);
                }
                seq = m.seq + 1;
            }
        }
        self.remove_unneeded(unneeded)
    }

    /// Whether a consumer still has to see (or ack) message `seq`.
    fn needed(&self, seq: u64, subject: &str) -> bool {
        self.consumers
            .values()
            .any(|c| c.matches_subject(subject) && !c.has_released(seq))
    }

    /// Workqueue and interest streams drop what every interested consumer
    /// has acked.
    fn release(&mut self, seqs: &[u64]) {
        if seqs.is_empty() || self.ack_retention().is_none() {
            return;
        }
        for &seq in seqs {
            let subject = match self.store.get(seq) {
                Ok(Some(m)) => m.subject,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!("stream {}: {e}", self.policy().name);
                    continue;
                }
            };
            if !self.needed(seq, &subject) {
                if let Err(e) = self.store.remove(seq) {
                    tracing::error!("stream {}: {e}", self.policy().name);
                }
            }
        }
    }
}

/// What deliveries of consumer `c` release for retention. An ack-none
/// consumer that started on a stream without ack retention releases
/// nothing (the reference decides that when the consumer starts); one
/// that started with it, on a stream without the release path
/// (`Stream::ack_none_releases`), counts its deliveries as ack activity
/// instead.
fn ack_none_delivered(c: &mut Consumer, released: Vec<u64>, path: bool, now: i64) -> Vec<u64> {
    if released.is_empty() || c.config.ack_policy != AckPolicy::None {
        return released;
    }
    if !c.started_with_ack_retention {
        return Vec::new();
    }
    if path {
        return released;
    }
    c.stamp_ack_activity(now);
    Vec::new()
}
