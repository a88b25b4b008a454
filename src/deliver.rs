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
/// received it.
pub fn deliver_all(
    account: &Account,
    stats: &Stats,
    result: &MatchResult,
    frame: &Frame<'_>,
    skip: Option<u64>,
    flush: &mut FlushSet,
) -> bool {
    let mut delivered = false;
    for sub in &result.plain {
        delivered |= deliver_one(account, stats, sub, frame, skip, flush);
    }
    for group in &result.queues {
        for sub in group.rotation() {
            if deliver_one(account, stats, sub, frame, skip, flush) {
                delivered = true;
                break;
            }
        }
    }
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
