//! What monitoring shows of a socket connection (`/connz`): when and from
//! where it came, who it signed in as, its traffic and round trip. The
//! reader task writes it (counters once per read batch, details at
//! CONNECT); monitoring reads it from any thread. A closed connection's
//! last picture is kept in a bounded ring (`ClosedRing`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Nanoseconds since the Unix epoch.
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// What the client said of itself at CONNECT and who it signed in as.
#[derive(Debug, Clone, Default)]
pub struct ConnDetails {
    /// The client's `name` from CONNECT.
    pub name: String,
    /// The client library's language (`lang`), as CONNECT gave it.
    pub lang: String,
    /// The client library's version, as CONNECT gave it.
    pub version: String,
    /// The user as the reference reports it (`authorized_user`): the
    /// user name, the NKey, or the JWT's subject.
    pub user: String,
    /// The account the client was bound to at sign-in.
    pub account: String,
    /// The user JWT the client signed in with; empty without one.
    pub jwt: String,
    /// The negotiated TLS version (`1.3`); empty on a plain connection.
    pub tls_version: String,
    /// The negotiated TLS cipher suite; empty on a plain connection.
    pub tls_cipher: String,
}

/// The live figures of one socket connection.
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// When the connection was accepted.
    pub start: SystemTime,
    /// Unix nanoseconds of the last message or subscription change.
    last_activity: AtomicU64,
    in_msgs: AtomicU64,
    in_bytes: AtomicU64,
    /// The last measured PING round trip, in nanoseconds (0: not yet).
    rtt: AtomicU64,
    subscriptions: AtomicUsize,
    details: Mutex<ConnDetails>,
}

impl ConnInfo {
    /// Figures for a connection accepted now from `peer`, all zero.
    pub fn new(peer: SocketAddr) -> Self {
        let start = SystemTime::now();
        ConnInfo {
            peer,
            start,
            last_activity: AtomicU64::new(unix_nanos(start)),
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            rtt: AtomicU64::new(0),
            subscriptions: AtomicUsize::new(0),
            details: Mutex::new(ConnDetails::default()),
        }
    }

    /// Counts a read batch's messages (once per batch, not per message)
    /// and marks the connection active.
    pub fn count_inbound(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.touch();
    }

    /// Marks the connection active now.
    pub fn touch(&self) {
        self.last_activity
            .store(unix_nanos(SystemTime::now()), Ordering::Relaxed);
    }

    /// Records a measured PING round trip; stored as at least 1ns, since 0
    /// means not measured.
    pub fn set_rtt(&self, rtt: std::time::Duration) {
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.rtt.store(ns, Ordering::Relaxed);
    }

    /// A subscription was made (and the connection was active).
    pub fn subscription_added(&self) {
        self.subscriptions.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }

    /// A subscription ended (unsubscribed, or its auto-unsubscribe
    /// limit reached).
    pub fn subscription_removed(&self) {
        self.subscriptions.fetch_sub(1, Ordering::Relaxed);
    }

    /// Changes the details (at CONNECT, after a TLS handshake).
    pub fn update(&self, f: impl FnOnce(&mut ConnDetails)) {
        f(&mut self.details.lock());
    }

    /// A consistent copy of the figures, with the outbound side's.
    pub fn snapshot(&self, cid: u64, pending: usize, out: (u64, u64)) -> ConnSnapshot {
        ConnSnapshot {
            cid,
            peer: self.peer,
            start: unix_nanos(self.start),
            last_activity: self.last_activity.load(Ordering::Relaxed),
            rtt: self.rtt.load(Ordering::Relaxed),
            pending,
            in_msgs: self.in_msgs.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_msgs: out.0,
            out_bytes: out.1,
            subscriptions: self.subscriptions.load(Ordering::Relaxed),
            details: self.details.lock().clone(),
            stop: None,
            subs: Vec::new(),
        }
    }
}

/// One subscription as `/connz?subs=detail` lists it.
#[derive(Debug, Clone)]
pub struct SubSnapshot {
    /// The subject subscribed to.
    pub subject: String,
    /// The queue group, if any.
    pub queue: Option<String>,
    /// The client's subscription id.
    pub sid: String,
    /// Messages delivered to it so far.
    pub msgs: u64,
    /// Its auto-unsubscribe limit (0: none).
    pub max: u64,
}

/// A connection's figures at one moment; closed ones carry when and why
/// they closed, and their subscriptions at the end.
#[derive(Debug, Clone)]
pub struct ConnSnapshot {
    /// The connection id (`cid`), unique in this server's life.
    pub cid: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Unix nanoseconds.
    pub start: u64,
    /// Unix nanoseconds of the last message or subscription change.
    pub last_activity: u64,
    /// Nanoseconds; 0 when not measured.
    pub rtt: u64,
    /// Bytes waiting in its outbound buffer.
    pub pending: usize,
    /// Messages the client published.
    pub in_msgs: u64,
    /// Bytes (headers and payload) of those messages.
    pub in_bytes: u64,
    /// Messages delivered to the client.
    pub out_msgs: u64,
    /// Bytes (headers and payload) of those messages.
    pub out_bytes: u64,
    /// Subscriptions it holds.
    pub subscriptions: usize,
    /// What it said at CONNECT and who it signed in as.
    pub details: ConnDetails,
    /// Unix nanoseconds and the reason, once closed.
    pub stop: Option<(u64, String)>,
    /// Its subscriptions, filled in only where they are shown (closed
    /// connections, `subs=detail`); empty otherwise.
    pub subs: Vec<SubSnapshot>,
}

/// The most recently closed connections, oldest dropped first
/// (`max_closed_clients`, 10,000 by default as in the reference).
pub struct ClosedRing {
    cap: usize,
    ring: Mutex<VecDeque<ConnSnapshot>>,
}

impl ClosedRing {
    /// A ring keeping at most `cap` closed connections (0: none).
    pub fn new(cap: usize) -> Self {
        ClosedRing {
            cap,
            ring: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether closed connections are kept at all.
    pub fn enabled(&self) -> bool {
        self.cap > 0
    }

    /// Keeps a closed connection's last picture, dropping the oldest when
    /// full.
    pub fn push(&self, snap: ConnSnapshot) {
        if self.cap == 0 {
            return;
        }
        let mut ring = self.ring.lock();
        while ring.len() >= self.cap {
            ring.pop_front();
        }
        ring.push_back(snap);
    }

    /// Every kept connection, oldest first.
    pub fn all(&self) -> Vec<ConnSnapshot> {
        self.ring.lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(cid: u64) -> ConnSnapshot {
        ConnInfo::new("127.0.0.1:1".parse().unwrap()).snapshot(cid, 0, (0, 0))
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let ring = ClosedRing::new(2);
        for cid in 1..=3 {
            ring.push(snap(cid));
        }
        let kept: Vec<u64> = ring.all().iter().map(|s| s.cid).collect();
        assert_eq!(kept, [2, 3]);
        let off = ClosedRing::new(0);
        off.push(snap(1));
        assert!(off.all().is_empty());
    }
}
