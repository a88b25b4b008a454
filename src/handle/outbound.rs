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
    ClientClosed,
    ProtocolError,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    /// The socket failed on read (a reset, say), not a clean close.
    ReadError,
    StaleConnection,
    MaxConnectionsExceeded,
    ServerShutdown,
    LameDuck,
    AuthenticationTimeout,
    AuthenticationViolation,
    TlsHandshakeFailure,
    MaxSubscriptionsExceeded,
    /// Closed by `$SYS.REQ.SERVER.<id>.KICK`.
    Kicked,
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

pub struct Outbound {
    pub(super) state: Mutex<OutState>,
    pub(super) wake: Notify,
    max_pending: usize,
}

impl Outbound {
    pub fn new(max_pending: usize) -> Self {
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

    /// Messages and bytes queued to this client so far.
    /// The most bytes that may wait for the writer before the client is
    /// cut off as a slow consumer.
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

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

    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().closed
    }

    pub(super) fn wake_writer(&self) {
        self.wake.notify_one();
    }

    /// Swaps the pending bytes into `spare` (which must be empty) for the
    /// writer, returning the close reason if the connection is closing.
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
    pub fn note(&mut self, handle: Arc<Handle>) {
        self.noted.push(handle);
    }

    pub fn flush(&mut self) {
        for handle in self.noted.drain(..) {
            if let Some(out) = handle.outbound() {
                out.wake_writer();
            }
        }
    }
}
