//! What a connection to another server does the same whether it is a
//! route or a leaf node connection: PINGs for liveness, room in the read
//! buffer, and why the connection closed when the server closed it.

use std::time::Duration;

use bytes::BytesMut;

use crate::handle::{CloseReason, Handle};

/// Read buffer growth step of a server-to-server connection.
pub const READ_BUFFER: usize = 64 * 1024;

/// Liveness as the reference checks routes and leafs: a PING every
/// `ping_interval`, and `ping_max` unanswered ones mean the peer hangs
/// with its socket open (stale).
pub struct Liveness {
    pinger: tokio::time::Interval,
    pings_out: u32,
    ping_max: u32,
}

/// What a PING time brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ping {
    /// Send one.
    Send,
    /// Too many went unanswered: close as stale.
    Stale,
}

impl Liveness {
    pub fn new(interval: Duration, ping_max: u32) -> Self {
        Liveness {
            pinger: tokio::time::interval_at(tokio::time::Instant::now() + interval, interval),
            pings_out: 0,
            ping_max,
        }
    }

    /// Waits for the next PING time.
    pub async fn due(&mut self) -> Ping {
        self.pinger.tick().await;
        if self.pings_out >= self.ping_max {
            return Ping::Stale;
        }
        self.pings_out += 1;
        Ping::Send
    }

    /// A PONG came back.
    pub fn answered(&mut self) {
        self.pings_out = 0;
    }
}

/// Makes room for the next read.
pub fn reserve_read(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(READ_BUFFER);
    }
}

/// Why the server closed `handle` (shutdown when it says nothing).
pub fn close_reason(handle: &Handle) -> CloseReason {
    handle
        .outbound()
        .and_then(|o| o.close_reason())
        .unwrap_or(CloseReason::ServerShutdown)
}
