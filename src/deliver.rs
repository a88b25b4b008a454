//! Delivery of one message to what a router matched: every plain
//! subscription, one member of each queue group. A receiver that cannot
//! keep up is cut off here, counted on the server's and its account's
//! figures.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tracing::info;

use crate::account::Account;
use crate::handle::{Appended, CloseReason, FlushSet, Handle};
use crate::proto::write::Frame;
use crate::router::{AfterDelivery, MatchResult, Subscription};
use crate::stats::Stats;

/// Delivers to every match in `account`'s router, skipping subscriptions
/// of client `skip` (a publisher that asked for no echo). True if anyone
/// received it. A route whose server has interest gets one RMSG for the
/// message, naming the queue groups it was picked for.
pub fn deliver_all(
    account: &Account,
    stats: &Stats,
    result: &MatchResult,
    frame: &Frame<'_>,
    skip: Option<u64>,
    flush: &mut FlushSet,
) -> bool {
    let mut delivered = false;
    let mut routed = Remotes::default();
    for sub in &result.plain {
        if sub.client.is_remote() {
            delivered |= routed.note(sub, None);
            continue;
        }
        delivered |= deliver_one(account, stats, sub, frame, skip, flush);
    }
    for group in &result.queues {
        // Members here and on routes first; leaf nodes only when none of
        // them takes it, as the reference picks.
        let mut taken = false;
        for sub in group.rotation().filter(|s| !s.client.is_leaf()) {
            taken = if sub.client.is_remote() {
                routed.note(sub, Some(&group.name))
            } else {
                deliver_one(account, stats, sub, frame, skip, flush)
            };
            if taken {
                break;
            }
        }
        if !taken {
            for sub in group.rotation().filter(|s| s.client.is_leaf()) {
                if routed.note(sub, Some(&group.name)) {
                    taken = true;
                    break;
                }
            }
        }
        delivered |= taken;
    }
    send_remote(account, stats, frame, &routed, flush);
    delivered
}

/// The other servers one message goes to, each with the queue groups it
/// was picked for. The first is kept inline: one route or leaf (the
/// common case) costs no allocation.
#[derive(Default)]
struct Remotes<'a> {
    first: Option<Remote<'a>>,
    rest: Vec<Remote<'a>>,
}

/// A server's subscription (its handle and account), and queue groups.
type Remote<'a> = (&'a Arc<Subscription>, Vec<&'a [u8]>);

impl<'a> Remotes<'a> {
    /// Notes that the server of `sub` gets the message (for `queue`, when
    /// a queue member); one entry per server.
    fn note(&mut self, sub: &'a Arc<Subscription>, queue: Option<&'a [u8]>) -> bool {
        if sub.is_closed() {
            return false;
        }
        let same = |r: &Remote<'_>| Arc::ptr_eq(&r.0.client, &sub.client);
        let entry = match &mut self.first {
            None => self.first.insert((sub, Vec::new())),
            Some(first) if same(first) => first,
            Some(_) => match self.rest.iter().position(same) {
                Some(at) => &mut self.rest[at],
                None => {
                    self.rest.push((sub, Vec::new()));
                    let last = self.rest.len() - 1;
                    &mut self.rest[last]
                }
            },
        };
        if let Some(q) = queue {
            entry.1.push(q);
        }
        true
    }

    fn iter(&self) -> impl Iterator<Item = &Remote<'a>> {
        self.first.iter().chain(self.rest.iter())
    }
}

/// Sends one RMSG (route) or LMSG (leaf node) to each remote server
/// noted, naming the queue groups it was picked for.
fn send_remote(
    account: &Account,
    stats: &Stats,
    frame: &Frame<'_>,
    routed: &Remotes<'_>,
    flush: &mut FlushSet,
) {
    for (sub, queues) in routed.iter() {
        let Some(out) = sub.client.outbound() else {
            continue;
        };
        // A route subscription's sid is the account's name.
        let appended = if sub.client.is_route() {
            out.append_with(|b| frame.append_routed(b, &sub.sid, queues))
        } else {
            out.append_with(|b| frame.append_leaf(b, queues))
        };
        match appended {
            Appended::Marked | Appended::Behind => flush.noted(&sub.client, appended),
            Appended::SlowConsumer => slow_consumer(
                stats,
                account,
                &sub.client,
                CloseReason::SlowConsumerPendingBytes,
            ),
            _ => {}
        }
    }
}

/// Delivers a message that came from another server (`from`, a route or
/// a leaf node connection): to local subscriptions, to leaf nodes other
/// than `from`, to routes only when `to_routes` (never for what a route
/// brought: one hop), and to one member of each queue group the sender
/// picked this server for (`queues`), a local one first.
#[allow(clippy::too_many_arguments)]
pub fn deliver_from_remote(
    account: &Account,
    stats: &Stats,
    result: &MatchResult,
    frame: &Frame<'_>,
    queues: &[&[u8]],
    from: &Arc<Handle>,
    to_routes: bool,
    flush: &mut FlushSet,
) -> bool {
    let allowed = |sub: &Subscription| {
        if sub.client.is_route() {
            to_routes
        } else {
            !Arc::ptr_eq(&sub.client, from)
        }
    };
    let mut delivered = false;
    let mut routed = Remotes::default();
    for sub in &result.plain {
        if !sub.client.is_remote() {
            delivered |= deliver_one(account, stats, sub, frame, None, flush);
        } else if allowed(sub) {
            delivered |= routed.note(sub, None);
        }
    }
    for group in &result.queues {
        if !queues.contains(&&group.name[..]) {
            continue;
        }
        let mut taken = false;
        for sub in group.rotation().filter(|s| !s.client.is_remote()) {
            if deliver_one(account, stats, sub, frame, None, flush) {
                taken = true;
                break;
            }
        }
        if !taken {
            for sub in group
                .rotation()
                .filter(|s| s.client.is_remote() && allowed(s))
            {
                if routed.note(sub, Some(&group.name)) {
                    taken = true;
                    break;
                }
            }
        }
        delivered |= taken;
    }
    send_remote(account, stats, frame, &routed, flush);
    delivered
}

/// Delivers to one subscription of `account`, honouring its
/// auto-unsubscribe limit.
pub fn deliver_one(
    account: &Account,
    stats: &Stats,
    sub: &Arc<Subscription>,
    frame: &Frame<'_>,
    skip: Option<u64>,
    flush: &mut FlushSet,
) -> bool {
    if skip == Some(sub.client.id) || !sub.admits(frame.subject) {
        return false;
    }
    if let (Some(open), Some(reply)) = (sub.client.responses(), frame.reply) {
        open.record(reply);
    }
    let Some(after) = sub.reserve_delivery() else {
        return false;
    };
    if after == AfterDelivery::Remove && sub.close() {
        account.router.remove(sub);
    }
    if sub.client.deliver(frame, &sub.sid, flush) == Appended::SlowConsumer {
        slow_consumer(
            stats,
            account,
            &sub.client,
            CloseReason::SlowConsumerPendingBytes,
        );
    }
    true
}

/// Cuts off a client of `account` that cannot keep up, and counts it. The
/// pending-bytes case is logged here; the writer that hit its deadline
/// logs its own (it knows the deadline).
pub fn slow_consumer(stats: &Stats, account: &Account, handle: &Handle, reason: CloseReason) {
    stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
    account.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
    if reason != CloseReason::SlowConsumerWriteDeadline {
        info!(
            "cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
            handle.id,
            handle.outbound().map_or(0, |o| o.max_pending())
        );
    }
    handle.close(reason);
}
