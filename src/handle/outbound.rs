//! A socket client's outbound buffer: frames appended by any publisher,
//! written by the connection's writer task in large batches.

use bytes::{BufMut, BytesMut};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::Notify;

use super::Handle;
use crate::proto::write::Frame;

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed its end of the socket, or was closed quietly to
    /// sign in again after a reload.
    ClientClosed,
    /// The client broke the protocol (a parse error, a bad op).
    ProtocolError,
    /// More bytes waited for the client than `max_pending`.
    SlowConsumerPendingBytes,
    /// A write to the client did not finish within `write_deadline`.
    SlowConsumerWriteDeadline,
    /// A write to the socket failed.
    WriteError,
    /// The socket failed on read (a reset, say), not a clean close.
    ReadError,
    /// The client left `ping_max` PINGs unanswered.
    StaleConnection,
    /// Over a connection limit: the server's `max_connections` (also when a
    /// reload lowers it) or the account's limit from its JWT.
    MaxConnectionsExceeded,
    /// The server is shutting down.
    ServerShutdown,
    /// Lame duck mode closed it; shown as a shutdown, as the reference does.
    LameDuck,
    /// The client did not sign in within the authorization timeout.
    AuthenticationTimeout,
    /// The client's credentials were refused.
    AuthenticationViolation,
    /// The TLS handshake failed or did not finish in time.
    TlsHandshakeFailure,
    /// The user may have no subscriptions at all (a JWT limit of 0).
    MaxSubscriptionsExceeded,
    /// Closed by `$SYS.REQ.SERVER.<id>.KICK`.
    Kicked,
    /// A second route to a server already routed to.
    DuplicateRoute,
    /// A route from a server of another cluster.
    ClusterNameConflict,
    /// A route from a server with this server's name.
    DuplicateServerName,
}

impl std::fmt::Display for CloseReason {
    /// The reference's words, as its debug log and /connz show them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ProtocolError => "Protocol Violation",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::LameDuck => "Server Shutdown",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::TlsHandshakeFailure => "TLS Handshake Failure",
            CloseReason::MaxSubscriptionsExceeded => "Maximum Subscriptions Exceeded",
            CloseReason::Kicked => "Kicked",
            CloseReason::DuplicateRoute => "Duplicate Route",
            CloseReason::ClusterNameConflict => "Cluster Name Conflict",
            CloseReason::DuplicateServerName => "Duplicate Server Name",
        })
    }
}

impl CloseReason {
    /// Pending data is dropped rather than written.
    fn drops_pending(self) -> bool {
        matches!(
            self,
            CloseReason::SlowConsumerPendingBytes
                | CloseReason::SlowConsumerWriteDeadline
                | CloseReason::WriteError
        )
    }
}

/// What happened to an appended frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Appended {
    /// Buffered, and the caller must wake the writer after its batch.
    Marked,
    /// Buffered; someone already owes the writer a wake-up.
    Noted,
    /// The connection is closed; the frame was dropped.
    Closed,
    /// The frame pushed pending bytes over the limit: the connection is
    /// now closed as a slow consumer.
    SlowConsumer,
}

pub(super) struct OutState {
    pub(super) buf: BytesMut,
    /// Noted in some reader's flush set since the writer last took the buffer.
    marked: bool,
    pub(super) closed: Option<CloseReason>,
    /// Messages and payload bytes queued to this client (monitoring).
    out_msgs: u64,
    out_bytes: u64,
}

/// A socket client's pending bytes and its close state, shared by every
/// publisher that appends to it and the one writer task that drains it.
pub struct Outbound {
    pub(super) state: Mutex<OutState>,
    pub(super) wake: Notify,
    max_pending: usize,
}

impl Outbound {
    /// An empty buffer that closes the client once more than `max_pending`
    /// bytes wait.
    pub(crate) fn new(max_pending: usize) -> Self {
        Outbound {
            state: Mutex::new(OutState {
                buf: BytesMut::new(),
                marked: false,
                closed: None,
                out_msgs: 0,
                out_bytes: 0,
            }),
            wake: Notify::new(),
            max_pending,
        }
    }

    /// Appends a MSG or HMSG frame for subscription `sid` and counts it.
    pub fn append_frame(&self, frame: &Frame<'_>, sid: &[u8]) -> Appended {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return Appended::Closed;
        }
        frame.append(&mut st.buf, sid);
        // Counted under the lock already held: free on the hot path.
        st.out_msgs += 1;
        st.out_bytes += frame.message.len() as u64;
        self.after_append_locked(&mut st)
    }

    /// The most bytes that may wait for the writer before the client is
    /// cut off as a slow consumer.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// Messages and bytes (headers and payload) queued to this client so
    /// far.
    pub fn out_counts(&self) -> (u64, u64) {
        let st = self.state.lock();
        (st.out_msgs, st.out_bytes)
    }

    /// Bytes waiting for the writer.
    pub fn pending_bytes(&self) -> usize {
        self.state.lock().buf.len()
    }

    /// Appends protocol bytes (PONG, +OK, -ERR, INFO).
    pub fn append_raw(&self, bytes: &[u8]) -> Appended {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return Appended::Closed;
        }
        st.buf.put_slice(bytes);
        self.after_append_locked(&mut st)
    }

    /// Appends with a closure writing into the buffer.
    pub fn append_with(&self, write: impl FnOnce(&mut BytesMut)) -> Appended {
        let mut st = self.state.lock();
        if st.closed.is_some() {
            return Appended::Closed;
        }
        write(&mut st.buf);
        self.after_append_locked(&mut st)
    }

    /// Appends outside any read batch and wakes the writer at once.
    pub fn send_now(&self, write: impl FnOnce(&mut BytesMut)) {
        if self.append_with(write) != Appended::Closed {
            self.wake.notify_one();
        }
    }

    fn after_append_locked(&self, st: &mut OutState) -> Appended {
        if st.buf.len() > self.max_pending {
            st.closed = Some(CloseReason::SlowConsumerPendingBytes);
            st.buf = BytesMut::new();
            self.wake.notify_one();
            return Appended::SlowConsumer;
        }
        if st.marked {
            Appended::Noted
        } else {
            st.marked = true;
            Appended::Marked
        }
    }

    /// Closes the connection for `reason`, once: a later close keeps the
    /// first reason. Slow consumers and write errors drop what is pending;
    /// otherwise the writer sends it first.
    pub fn close(&self, reason: CloseReason) {
        let mut st = self.state.lock();
        if st.closed.is_none() {
            st.closed = Some(reason);
            if reason.drops_pending() {
                st.buf = BytesMut::new();
            }
        }
        drop(st);
        self.wake.notify_one();
    }

    /// Why the connection closed; `None` while it is open.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().closed
    }

    pub(super) fn wake_writer(&self) {
        self.wake.notify_one();
    }

    /// Waits until there is something for the writer (or a close).
    pub async fn wait_for_work(&self) {
        self.wake.notified().await;
    }

    /// Swaps the pending bytes into `spare` for the writer; the close
    /// reason once the connection is closing.
    pub fn take_pending(&self, spare: &mut BytesMut) -> Option<CloseReason> {
        let mut st = self.state.lock();
        std::mem::swap(&mut st.buf, spare);
        st.marked = false;
        st.closed
    }
}

/// The clients a reader appended to during one read batch; each is woken
/// once when the batch is done.
#[derive(Default)]
pub struct FlushSet {
    noted: Vec<Arc<Handle>>,
}

impl FlushSet {
    /// Notes a client appended to; it is woken at `flush`.
    pub fn note(&mut self, handle: Arc<Handle>) {
        self.noted.push(handle);
    }

    /// Wakes the writer of every noted client, and forgets them.
    pub fn flush(&mut self) {
        for handle in self.noted.drain(..) {
            if let Some(out) = handle.outbound() {
                out.wake_writer();
            }
        }
    }
}
