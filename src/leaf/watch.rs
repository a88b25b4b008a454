//! What one leaf node connection tells the other side of our interest:
//! a hub tells its leaf all of the account's interest but the leaf's own,
//! a leaf tells its hub only its own clients' (not what it learned from
//! the hub or its routes). Counted per subject and queue, so the other
//! side hears LS+ once and LS- when the last goes.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::handle::Handle;
use crate::permissions::Permissions;
use crate::router::{SubWatcher, Subscription};

/// One leaf connection's view of its account's interest.
pub struct LeafInterest {
    handle: Arc<Handle>,
    /// We are the leaf: only local interest goes to the hub.
    to_hub: bool,
    /// `deny_imports`: what we take nothing on is not asked for.
    deny: Option<Arc<Permissions>>,
    counts: Mutex<HashMap<(Bytes, Option<Bytes>), u32>>,
}

impl LeafInterest {
    pub fn new(handle: Arc<Handle>, to_hub: bool, deny: Option<Arc<Permissions>>) -> Self {
        LeafInterest {
            handle,
            to_hub,
            deny,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the other side should hear of `sub`.
    fn wants(&self, sub: &Subscription) -> bool {
        if Arc::ptr_eq(&sub.client, &self.handle) {
            return false;
        }
        if self.to_hub && sub.client.is_remote() {
            return false;
        }
        // JetStream's API answers its own server's clients; across a leaf
        // connection it is reached through the domain's prefix.
        if sub.client.is_internal() && sub.subject.starts_with(b"$JS.API.") {
            return false;
        }
        if let Some(deny) = &self.deny {
            if !deny.may_subscribe(&sub.subject, None) {
                return false;
            }
        }
        true
    }

    /// Counts `sub` in or out; the LS+/LS- line to send, if any.
    pub fn line(&self, sub: &Subscription, added: bool) -> Option<Vec<u8>> {
        if !self.wants(sub) {
            return None;
        }
        let mut counts = self.counts.lock();
        let key = (sub.subject.clone(), sub.queue.clone());
        let count = counts.entry(key.clone()).or_insert(0);
        if added {
            *count += 1;
        } else {
            *count = count.saturating_sub(1);
        }
        let now = *count;
        if now == 0 {
            counts.remove(&key);
        }
        let send = match (&sub.queue, added) {
            (None, true) => now == 1,
            (None, false) => now == 0,
            (Some(_), _) => true,
        };
        send.then(|| interest_line(now > 0, &sub.subject, sub.queue.as_deref(), now))
    }

    /// Sends what `line` made of a change.
    fn send(&self, line: &[u8]) {
        if let Some(out) = self.handle.outbound() {
            out.send_now(|b| b.extend_from_slice(line));
        }
    }
}

impl SubWatcher for LeafInterest {
    fn changed(&self, sub: &Subscription, added: bool) {
        if let Some(line) = self.line(sub, added) {
            self.send(&line);
        }
    }
}

/// `LS+ <subject> [<queue> <weight>]` or `LS- <subject> [<queue>]`.
pub fn interest_line(add: bool, subject: &[u8], queue: Option<&[u8]>, weight: u32) -> Vec<u8> {
    let mut line = Vec::with_capacity(subject.len() + 24);
    line.extend_from_slice(if add { b"LS+ " } else { b"LS- " });
    line.extend_from_slice(subject);
    if let Some(q) = queue {
        line.push(b' ');
        line.extend_from_slice(q);
        if add {
            line.push(b' ');
            line.extend_from_slice(weight.to_string().as_bytes());
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}
