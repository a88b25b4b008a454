//! The subject router of one account: subscriptions by subject, with a
//! shared match cache for literal subjects invalidated by a generation
//! counter. Connections keep their own small cache in front of it
//! (`LocalCache`). The router delivers to client handles, never to sockets,
//! so internal clients (JetStream, embedded programs) route the same way.

mod cache;
mod trie;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::handle::Handle;
use crate::permissions::Permissions;
pub use cache::LocalCache;
use cache::SharedCache;
use trie::Trie;

/// One subscription: a client's interest in a subject, maybe in a queue group.
pub struct Subscription {
    /// The client the messages go to.
    pub client: Arc<Handle>,
    /// The client's id for the subscription, echoed in each MSG.
    pub sid: Bytes,
    /// The subject, wildcards allowed.
    pub subject: Bytes,
    /// The queue group; members of one group share the messages, each going
    /// to one of them.
    pub queue: Option<Bytes>,
    /// Auto-unsubscribe after this many deliveries; 0 = never.
    max: AtomicU64,
    delivered: AtomicU64,
    closed: AtomicBool,
    /// A wildcard subscription whose subject overlaps the user's subscribe
    /// deny list: messages on denied subjects are not delivered to it (as
    /// the reference filters them).
    deny: Option<Arc<Permissions>>,
}

/// Whether a subscription should stay after a delivery.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AfterDelivery {
    /// The subscription stays.
    Keep,
    /// The auto-unsubscribe limit was reached with this delivery.
    Remove,
}

impl Subscription {
    /// A live subscription with no auto-unsubscribe limit and no deny filter.
    pub fn new(client: Arc<Handle>, sid: Bytes, subject: Bytes, queue: Option<Bytes>) -> Self {
        Subscription {
            client,
            sid,
            subject,
            queue,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            deny: None,
        }
    }

    /// Filters deliveries through `perms`' subscribe deny list, when this
    /// subscription's subject could match a denied one.
    #[must_use]
    pub fn with_deny_filter(mut self, perms: &Arc<Permissions>) -> Self {
        if perms.deny_overlaps(&self.subject) {
            self.deny = Some(perms.clone());
        }
        self
    }

    /// Whether a message on `subject` may reach this subscription.
    #[inline]
    pub fn admits(&self, subject: &[u8]) -> bool {
        self.deny
            .as_ref()
            .is_none_or(|p| !p.denies_delivery(subject))
    }

    /// Whether it was closed (unsubscribed, its limit reached, or its client
    /// gone); a closed subscription takes no more messages.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks it closed; true for the caller that closed it first (who
    /// also takes it off its connection's count).
    pub fn close(&self) -> bool {
        let first = !self.closed.swap(true, Ordering::AcqRel);
        if first {
            if let Some(info) = self.client.conn_info() {
                info.subscription_removed();
            }
        }
        first
    }

    /// The auto-unsubscribe limit (0: none).
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Acquire)
    }

    /// Deliveries claimed so far (the `msgs` monitoring shows).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Acquire)
    }

    /// Sets the auto-unsubscribe limit; `Remove` if it is already reached.
    pub fn set_max(&self, max: u64) -> AfterDelivery {
        self.max.store(max, Ordering::Release);
        if max > 0 && self.delivered() >= max {
            AfterDelivery::Remove
        } else {
            AfterDelivery::Keep
        }
    }

    /// Claims one delivery, or `None` if the subscription is closed or its
    /// auto-unsubscribe limit is used up. The limit is claimed atomically, so
    /// publishers on other connections never deliver past it.
    pub fn reserve_delivery(&self) -> Option<AfterDelivery> {
        if self.is_closed() {
            return None;
        }
        // Every delivery counts: a limit set later includes earlier ones.
        let before = self.delivered.fetch_add(1, Ordering::AcqRel);
        let max = self.max.load(Ordering::Acquire);
        if max == 0 {
            return Some(AfterDelivery::Keep);
        }
        if before >= max {
            None
        } else if before + 1 == max {
            Some(AfterDelivery::Remove)
        } else {
            Some(AfterDelivery::Keep)
        }
    }
}

/// The members of one queue group that matched a subject.
pub struct QueueMatch {
    /// The queue group's name.
    pub name: Bytes,
    /// The group's matching subscriptions; one of them gets each message.
    pub members: Vec<Arc<Subscription>>,
    next: AtomicUsize,
}

impl QueueMatch {
    /// The members in the order to try for the next message: a rotating start
    /// spreads messages evenly.
    pub fn rotation(&self) -> impl Iterator<Item = &Arc<Subscription>> {
        let n = self.members.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        (0..n).map(move |i| &self.members[(start + i) % n])
    }
}

/// Every subscription a subject matched.
#[derive(Default)]
pub struct MatchResult {
    /// Matching subscriptions outside any queue group: each gets the message.
    pub plain: Vec<Arc<Subscription>>,
    /// Matching queue groups: one member of each gets the message.
    pub queues: Vec<QueueMatch>,
}

impl MatchResult {
    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }

    /// Plain subscriptions plus queue groups, as the reference counts a
    /// match's fanout.
    pub fn fanout(&self) -> usize {
        self.plain.len() + self.queues.len()
    }

    fn add_queue_member(&mut self, name: &Bytes, sub: &Arc<Subscription>) {
        match self.queues.iter_mut().find(|q| q.name == *name) {
            Some(q) => q.members.push(sub.clone()),
            None => self.queues.push(QueueMatch {
                name: name.clone(),
                members: vec![sub.clone()],
                next: AtomicUsize::new(0),
            }),
        }
    }
}

/// Told of every change in an account's local interest: the routes pass
/// it on to the other servers of the cluster (RS+/RS-).
pub trait InterestWatcher: Send + Sync {
    /// `subject` (in `queue`) now has `count` local subscriptions, one
    /// more (`added`) or one fewer than before.
    fn changed(&self, subject: &[u8], queue: Option<&[u8]>, count: u32, added: bool);
}

/// Local subscriptions counted by subject and queue, and who is told.
struct Interest {
    watcher: Arc<dyn InterestWatcher>,
    counts: std::collections::HashMap<(Bytes, Option<Bytes>), u32>,
}

/// Whether a subscription is interest other servers should hear of: not
/// one a route made (interest is never relayed), and not JetStream's own
/// API (each server answers its own clients, as a standalone server).
fn propagates(sub: &Subscription) -> bool {
    let jetstream_api = sub.client.is_internal() && sub.subject.starts_with(b"$JS.API.");
    // A hub's interest stays with its leaf (the leaf's cluster has its
    // own connections to the hub).
    !(sub.client.is_route() || sub.client.is_hub() || jetstream_api)
}

/// Told of every subscription added to or removed from a router (a leaf
/// node connection filters what its server should hear of).
pub trait SubWatcher: Send + Sync {
    /// `sub` was added (`added`) or removed.
    fn changed(&self, sub: &Subscription, added: bool);
}

/// The router of one account.
#[derive(Default)]
pub struct Router {
    /// Watchers of every change, and whether there are any (read without
    /// the lock).
    watchers: Mutex<Vec<Arc<dyn SubWatcher>>>,
    watched: AtomicBool,
    /// Counted only once a watcher is installed (a clustered server).
    interest: Mutex<Option<Interest>>,
    trie: RwLock<Trie>,
    /// Bumped on every change, before the shared cache is cleared, so a
    /// lookup that raced a change never caches a stale result.
    generation: AtomicU64,
    cache: Mutex<SharedCache>,
    inserts: AtomicU64,
    removes: AtomicU64,
}

/// What `/subsz` reports of a router, in the reference's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouterStats {
    /// Subscriptions held.
    pub num_subscriptions: usize,
    /// Subjects in the shared match cache.
    pub num_cache: usize,
    /// Subscriptions added since the router was made.
    pub num_inserts: u64,
    /// Subscriptions removed since the router was made.
    pub num_removes: u64,
    /// Lookups through the shared cache.
    pub num_matches: u64,
    /// Share of those lookups the cache answered, from 0 to 1.
    pub cache_hit_rate: f64,
    /// The largest fanout among cached results.
    pub max_fanout: usize,
    /// The mean fanout of cached results.
    pub avg_fanout: f64,
}

impl RouterStats {
    /// Sums the routers of several accounts (fanout: the largest, and the
    /// mean weighted by cache entries; hit rate over all matches).
    pub fn add(&mut self, other: &RouterStats) {
        let hits = self.cache_hit_rate * self.num_matches as f64
            + other.cache_hit_rate * other.num_matches as f64;
        let fanned =
            self.avg_fanout * self.num_cache as f64 + other.avg_fanout * other.num_cache as f64;
        self.num_subscriptions += other.num_subscriptions;
        self.num_cache += other.num_cache;
        self.num_inserts += other.num_inserts;
        self.num_removes += other.num_removes;
        self.num_matches += other.num_matches;
        self.max_fanout = self.max_fanout.max(other.max_fanout);
        self.cache_hit_rate = if self.num_matches > 0 {
            hits / self.num_matches as f64
        } else {
            0.0
        };
        self.avg_fanout = if self.num_cache > 0 {
            fanned / self.num_cache as f64
        } else {
            0.0
        };
    }
}

/// A subscription as monitoring lists it.
pub fn sub_snapshot(s: &Subscription) -> crate::handle::conn_info::SubSnapshot {
    crate::handle::conn_info::SubSnapshot {
        subject: String::from_utf8_lossy(&s.subject).into_owned(),
        queue: s
            .queue
            .as_ref()
            .map(|q| String::from_utf8_lossy(q).into_owned()),
        sid: String::from_utf8_lossy(&s.sid).into_owned(),
        msgs: s.delivered(),
        max: s.max(),
    }
}

impl Router {
    /// A router with no subscriptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// A counter bumped by every insert and removal: a cached match is valid
    /// only while it is unchanged.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Adds a subscription; matches take it from the next lookup on.
    pub fn insert(&self, sub: Arc<Subscription>) {
        let mut trie = self.trie.write();
        self.interest_changed(&sub, 1);
        trie.insert(sub);
        self.inserts.fetch_add(1, Ordering::Relaxed);
        self.changed_locked();
    }

    /// Removes the subscription; false if it was not there.
    pub fn remove(&self, sub: &Arc<Subscription>) -> bool {
        let mut trie = self.trie.write();
        let removed = trie.remove(sub);
        if removed {
            self.interest_changed(sub, -1);
            self.removes.fetch_add(1, Ordering::Relaxed);
            self.changed_locked();
        }
        removed
    }

    /// Removes many subscriptions under one lock (a closing connection).
    pub fn remove_all<'a>(&self, subs: impl IntoIterator<Item = &'a Arc<Subscription>>) {
        let mut trie = self.trie.write();
        let mut any = false;
        for sub in subs {
            let removed = trie.remove(sub);
            if removed {
                self.interest_changed(sub, -1);
                self.removes.fetch_add(1, Ordering::Relaxed);
            }
            any |= removed;
        }
        if any {
            self.changed_locked();
        }
    }

    /// Counts a local subscription in or out and tells the watcher.
    /// Caller holds the trie's write lock, so changes are told in order.
    fn interest_changed(&self, sub: &Subscription, delta: i32) {
        if self.watched.load(Ordering::Acquire) {
            for w in self.watchers.lock().iter() {
                w.changed(sub, delta > 0);
            }
        }
        if !propagates(sub) {
            return;
        }
        let mut guard = self.interest.lock();
        let Some(interest) = guard.as_mut() else {
            return;
        };
        let key = (sub.subject.clone(), sub.queue.clone());
        let count = interest.counts.entry(key).or_insert(0);
        *count = count.saturating_add_signed(delta);
        let now = *count;
        if now == 0 {
            interest
                .counts
                .remove(&(sub.subject.clone(), sub.queue.clone()));
        }
        interest
            .watcher
            .changed(&sub.subject, sub.queue.as_deref(), now, delta > 0);
    }

    /// Starts counting local interest and telling `watcher` of each change
    /// (counting what is subscribed already).
    pub fn watch_interest(&self, watcher: Arc<dyn InterestWatcher>) {
        let trie = self.trie.write();
        let mut counts = std::collections::HashMap::new();
        trie.for_each(|sub| {
            if propagates(sub) {
                *counts
                    .entry((sub.subject.clone(), sub.queue.clone()))
                    .or_insert(0u32) += 1;
            }
        });
        *self.interest.lock() = Some(Interest { watcher, counts });
    }

    /// Tells `watcher` of every change from now on, after passing every
    /// subscription there is to `dump` (under the lock: nothing is missed
    /// or told twice).
    pub fn watch_subs(&self, watcher: Arc<dyn SubWatcher>, mut dump: impl FnMut(&Subscription)) {
        let trie = self.trie.write();
        trie.for_each(|s| dump(s));
        self.watchers.lock().push(watcher);
        self.watched.store(true, Ordering::Release);
    }

    /// Stops telling `watcher`.
    pub fn unwatch_subs(&self, watcher: &Arc<dyn SubWatcher>) {
        let _trie = self.trie.write();
        let mut ws = self.watchers.lock();
        ws.retain(|w| !Arc::ptr_eq(w, watcher));
        self.watched.store(!ws.is_empty(), Ordering::Release);
    }

    /// The local interest counted (for a route that just connected),
    /// passed to `f` under the lock so nothing changes in between.
    pub fn with_local_interest(&self, mut f: impl FnMut(&[u8], Option<&[u8]>, u32)) {
        let _trie = self.trie.read();
        if let Some(interest) = self.interest.lock().as_ref() {
            for ((subject, queue), n) in &interest.counts {
                f(subject, queue.as_deref(), *n);
            }
        }
    }

    /// Caller holds the trie's write lock.
    fn changed_locked(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.lock().clear();
    }

    /// Number of subscriptions.
    pub fn count(&self) -> usize {
        self.trie.read().count()
    }

    /// Calls `f` with every subscription (monitoring; holds the read
    /// lock throughout, so `f` must be quick).
    pub fn for_each(&self, f: impl FnMut(&Arc<Subscription>)) {
        self.trie.read().for_each(f);
    }

    /// The router's figures for `/subsz`.
    pub fn stats(&self) -> RouterStats {
        let num_subscriptions = self.count();
        let cache = self.cache.lock();
        let (lookups, hits) = cache.counts();
        let fanouts = cache.fanouts();
        let num_cache = fanouts.len();
        RouterStats {
            num_subscriptions,
            num_cache,
            num_inserts: self.inserts.load(Ordering::Relaxed),
            num_removes: self.removes.load(Ordering::Relaxed),
            num_matches: lookups,
            cache_hit_rate: if lookups > 0 {
                hits as f64 / lookups as f64
            } else {
                0.0
            },
            max_fanout: fanouts.iter().copied().max().unwrap_or(0),
            avg_fanout: if num_cache > 0 {
                fanouts.iter().sum::<usize>() as f64 / num_cache as f64
            } else {
                0.0
            },
        }
    }

    /// Every subscription matching `subject`, through the shared cache.
    pub fn lookup(&self, subject: &[u8]) -> Arc<MatchResult> {
        if let Some(hit) = self.cache.lock().get(subject) {
            return hit;
        }
        let generation = self.generation();
        let result = Arc::new(self.trie.read().matches(subject));
        let mut cache = self.cache.lock();
        if self.generation() == generation {
            cache.insert(subject, result.clone());
        }
        result
    }

    /// Matches without any cache (for tests and one-off lookups).
    pub fn lookup_uncached(&self, subject: &[u8]) -> MatchResult {
        self.trie.read().matches(subject)
    }
}

#[cfg(test)]
mod tests;
