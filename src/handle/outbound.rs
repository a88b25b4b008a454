//! A socket client's outbound buffer: frames appended by any publisher,
//! written by the connection's writer task in large batches.

use bytes::{BufMut, BytesMut};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;
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
    /// Buffered, someone owes the writer a wake-up, and more than the
    /// stall threshold waits: a client producer should stall.
    Behind,
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
    /// A producer waits for the writer to take the buffer (a stall).
    stalled: bool,
    /// Bytes the writer took and is writing now.
    in_flight: usize,
}

/// A socket client's pending bytes and its close state, shared by every
/// publisher that appends to it and the one writer task that drains it.
pub struct Outbound {
    pub(super) state: Mutex<OutState>,
    pub(super) wake: Notify,
    /// Tells stalled producers the writer took the buffer.
    drained: Notify,
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
                stalled: false,
                in_flight: 0,
            }),
            wake: Notify::new(),
            drained: Notify::new(),
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
            if Self::over_stall_threshold(st, self.max_pending) {
                Appended::Behind
            } else {
                Appended::Noted
            }
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
        st.in_flight = spare.len();
        if std::mem::take(&mut st.stalled) {
            self.drained.notify_waiters();
        }
        st.closed
    }

    /// More than three quarters of `max_pending` wait, counting what the
    /// writer is writing now: producers should stall (the reference's
    /// threshold).
    fn over_stall_threshold(st: &OutState, max_pending: usize) -> bool {
        st.closed.is_none() && st.buf.len() + st.in_flight > max_pending / 4 * 3
    }

    /// A fast producer's stall, as the reference's: while more than three
    /// quarters of `max_pending` wait, the producer waits until the
    /// writer takes them or `limit` passes (cut short when the limit is
    /// already exceeded: the slow consumer check decides then). Returns
    /// how long it waited.
    pub async fn stall(&self, limit: Duration) -> Duration {
        let notified = self.drained.notified();
        tokio::pin!(notified);
        {
            let mut st = self.state.lock();
            if !Self::over_stall_threshold(&st, self.max_pending) {
                return Duration::ZERO;
            }
            st.stalled = true;
            // Registered under the lock: the writer's take cannot slip
            // between the check and the wait.
            notified.as_mut().enable();
        }
        let start = tokio::time::Instant::now();
        let _ = tokio::time::timeout(limit, notified).await;
        start.elapsed()
    }

    /// Bytes not yet written: waiting, and being written now.
    pub fn unwritten_bytes(&self) -> usize {
        let st = self.state.lock();
        st.buf.len() + st.in_flight
    }

    /// Whether a producer appending here should stall.
    pub fn wants_stall(&self) -> bool {
        Self::over_stall_threshold(&self.state.lock(), self.max_pending)
    }
}

/// The clients a reader appended to during one read batch; each is woken
/// once when the batch is done.
#[derive(Default)]
pub struct FlushSet {
    noted: Vec<Arc<Handle>>,
    /// Woken connections with more than the stall threshold waiting: a
    /// client producer waits for them after the batch.
    behind: Vec<Arc<Handle>>,
    /// This set's producer stalls (a client's reader).
    stalls: bool,
}

/// The shortest and longest wait for one connection that is behind, and
/// the most a client producer waits per read batch (the reference's 2 ms,
/// 5 ms and 10 ms).
const STALL_MIN: Duration = Duration::from_millis(2);
const STALL_MAX: Duration = Duration::from_millis(5);
const STALL_TOTAL: Duration = Duration::from_millis(10);

impl FlushSet {
    /// Notes a client appended to; it is woken at `flush`.
    pub fn note(&mut self, handle: Arc<Handle>) {
        self.noted.push(handle);
    }

    /// Notes what an append returned: a first append (the writer is woken
    /// at `flush`), or one to a connection that is behind (a stalling
    /// producer waits for it).
    pub fn noted(&mut self, handle: &Arc<Handle>, appended: Appended) {
        match appended {
            Appended::Marked => self.noted.push(handle.clone()),
            Appended::Behind
                if self.stalls && !self.behind.iter().any(|h| Arc::ptr_eq(h, handle)) =>
            {
                self.behind.push(handle.clone());
            }
            _ => {}
        }
    }

    /// Wakes the writer of every noted client, and forgets them (keeping
    /// the ones that are behind, for `stall`).
    pub fn flush(&mut self) {
        for handle in self.noted.drain(..) {
            if let Some(out) = handle.outbound() {
                out.wake_writer();
                if self.stalls
                    && out.wants_stall()
                    && !self.behind.iter().any(|h| Arc::ptr_eq(h, &handle))
                {
                    self.behind.push(handle);
                }
            }
        }
    }

    /// A client producer's stall after its batch: waits for each
    /// connection it fed that is behind (2 ms each, 5 ms for one past its
    /// limit, 10 ms in all), so a fast publisher slows to what a route,
    /// leaf or subscriber takes instead of cutting it off. Routes and
    /// leaf connections do not stall, as in the reference. Returns how
    /// many times it waited.
    pub async fn stall(&mut self) -> u64 {
        let mut waited = Duration::ZERO;
        let mut stalls = 0;
        for handle in std::mem::take(&mut self.behind) {
            let Some(out) = handle.outbound() else {
                continue;
            };
            if waited >= STALL_TOTAL {
                break;
            }
            let full = out.unwritten_bytes() >= out.max_pending();
            let limit = if full { STALL_MAX } else { STALL_MIN };
            let took = out.stall(limit.min(STALL_TOTAL - waited)).await;
            if !took.is_zero() {
                stalls += 1;
            }
            waited += took;
        }
        stalls
    }

    /// A set for a producer that stalls (a client's reader).
    pub fn stalling() -> Self {
        FlushSet {
            stalls: true,
            ..FlushSet::default()
        }
    }

    /// Whether the last flush found a connection behind.
    pub fn is_behind(&self) -> bool {
        !self.behind.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_producer_stalls_while_the_writer_is_behind_and_goes_on_when_it_takes() {
        let out = Arc::new(Outbound::new(1000));
        assert_eq!(out.append_raw(&[b'x'; 500]), Appended::Marked);
        // Under three quarters: no stall.
        assert_eq!(out.append_raw(&[b'x'; 200]), Appended::Noted);
        assert_eq!(out.stall(Duration::from_secs(5)).await, Duration::ZERO);
        // Over it: every further append says so.
        assert_eq!(out.append_raw(&[b'x'; 100]), Appended::Behind);
        assert!(out.wants_stall());
        // The writer takes the buffer while a producer waits: it goes on
        // at once, though what was taken is still being written.
        let writer = out.clone();
        let taking = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut spare = BytesMut::new();
            writer.take_pending(&mut spare);
            spare.len()
        });
        let waited = out.stall(Duration::from_secs(5)).await;
        assert_eq!(taking.await.expect("writer"), 800);
        assert!(waited < Duration::from_secs(1), "{waited:?}");
        // Being written counts: still behind until the writer is done.
        assert_eq!(out.unwritten_bytes(), 800);
        assert!(out.wants_stall());
        let mut spare = BytesMut::new();
        out.take_pending(&mut spare);
        assert!(!out.wants_stall());
        // With nobody taking, the stall ends at its limit.
        out.append_raw(&[b'x'; 900]);
        let waited = out.stall(Duration::from_millis(10)).await;
        assert!(waited >= Duration::from_millis(10), "{waited:?}");
    }
}
