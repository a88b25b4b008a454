//! Delivery of one message to what the router matched: every plain
//! subscription, one member of each queue group.

use std::sync::Arc;

use super::{Appended, CloseReason, FlushSet};
use crate::proto::write::Frame;
use crate::router::{AfterDelivery, MatchResult, Subscription};
use crate::server::Server;

/// Delivers to every match, skipping subscriptions of client `skip` (a
/// publisher that asked for no echo). True if anyone received it.
pub fn deliver_all(
    server: &Server,
    result: &MatchResult,
    frame: &Frame<'_>,
    skip: Option<u64>,
    flush: &mut FlushSet,
) -> bool {
    let mut delivered = false;
    for sub in &result.plain {
        delivered |= deliver_one(server, sub, frame, skip, flush);
    }
    for group in &result.queues {
        for sub in group.rotation() {
            if deliver_one(server, sub, frame, skip, flush) {
                delivered = true;
                break;
            }
        }
    }
    delivered
}

/// Delivers to one subscription, honouring its auto-unsubscribe limit.
pub fn deliver_one(
    server: &Server,
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
        sub.client.account().router.remove(sub);
    }
    if sub.client.deliver(frame, &sub.sid, flush) == Appended::SlowConsumer {
        server.slow_consumer(&sub.client, CloseReason::SlowConsumerPendingBytes);
    }
    true
}
