//! The server's counters, kept apart from the server so the pieces that
//! bump them (connections, delivery, monitoring) need only this.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

/// Counters the server keeps (monitoring reads them).
#[derive(Default)]
pub struct Stats {
    /// Messages published by clients.
    pub in_msgs: AtomicU64,
    /// Payload bytes published by clients.
    pub in_bytes: AtomicU64,
    /// Messages sent to clients that have closed (live ones keep their
    /// own counts).
    pub closed_out_msgs: AtomicU64,
    /// Bytes sent to clients that have closed.
    pub closed_out_bytes: AtomicU64,
    /// Clients cut off for not keeping up.
    pub slow_consumers: AtomicU64,
    /// Clients closed for not answering pings.
    pub stale_connections: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
    /// Clients refused for their credentials.
    pub auth_failures: AtomicU64,
    /// Times a fast producer waited for a connection it fed to catch up
    /// (varz `stalled_clients`).
    pub stalls: AtomicU64,
}

/// Monitoring requests served per endpoint (varz `http_req_stats`).
pub type RequestStats = parking_lot::Mutex<BTreeMap<String, u64>>;
