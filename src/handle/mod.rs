//! What the router delivers to: a client's `Handle`. A socket client's
//! handle holds its outbound buffer (`Outbound`) and what monitoring shows
//! of it (`ConnInfo`); an internal client's holds a callback run on the
//! publisher's task. The handle knows nothing of accounts or servers: the
//! connection that owns it binds those (`server::Connection`).

pub mod conn_info;
mod outbound;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

pub use outbound::{Appended, CloseReason, FlushSet, Outbound};

use crate::proto::write::Frame;

/// One message as an internal client sees it.
pub struct InternalMsg<'a> {
    /// The subject it was published on.
    pub subject: &'a [u8],
    /// The id of the internal subscription that matched.
    pub sid: &'a [u8],
    /// The reply subject, if the publisher gave one.
    pub reply: Option<&'a [u8]>,
    /// The header block (`NATS/1.0` line and headers), if the message has one.
    pub headers: Option<&'a [u8]>,
    /// The message body.
    pub payload: &'a [u8],
}

/// Runs on the publisher's task: it must be quick and must not block; copy
/// what is needed and hand it to a channel.
pub type InternalCallback = Box<dyn Fn(&InternalMsg<'_>) + Send + Sync>;

/// Where a client's deliveries go.
#[non_exhaustive]
pub enum Sink {
    /// A socket client: frames go to its outbound buffer for its writer task.
    Socket(Outbound),
    /// An internal client: the callback runs for each message.
    Internal(InternalCallback),
}

/// What the router holds for a client.
pub struct Handle {
    /// The client id (`cid`): unique for the server's life, internal clients
    /// included.
    pub id: u64,
    /// Where its deliveries go.
    pub sink: Sink,
    /// Tells the reader task that someone else closed the connection.
    closing: Notify,
    /// The client sent CONNECT with protocol 1: it takes INFO updates
    /// (such as lame duck mode) at any time.
    async_info: AtomicBool,
    /// The client negotiated headers; without them it gets messages with
    /// the header block stripped, as MSG.
    headers: AtomicBool,
    /// Set at CONNECT for a user with response permission: the reply
    /// subjects delivered to it, which it may then publish to.
    responses: std::sync::OnceLock<crate::permissions::Responses>,
    /// What monitoring shows of a socket connection.
    info: Option<Box<conn_info::ConnInfo>>,
    /// A configuration reload asks the reader to check the client again.
    reauthorize: AtomicBool,
    /// Another server: a route (deliveries go out as RMSG/HMSG under the
    /// account the subscription's `sid` names; its interest is never
    /// relayed to other routes) or a leaf node connection (LMSG/HMSG).
    remote: Remote,
    /// A WebSocket client: its INFO lists the cluster's WebSocket URLs.
    websocket: AtomicBool,
}

/// What kind of peer a server-to-server connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    /// A client (or an internal one).
    None,
    /// Another server of the cluster.
    Route,
    /// A leaf node connection to a server that is our leaf (we are its hub).
    Leaf,
    /// A leaf node connection to our hub (we are the leaf).
    Hub,
}

impl Handle {
    /// Open reply subjects, for a user with response permission.
    #[inline]
    pub fn responses(&self) -> Option<&crate::permissions::Responses> {
        self.responses.get()
    }

    /// Gives the connection response permission (once, at sign-in).
    pub fn allow_responses(&self, rule: crate::permissions::ResponseRule) {
        let _ = self.responses.set(crate::permissions::Responses::new(rule));
    }

    /// A socket client from `peer`.
    pub fn socket(id: u64, max_pending: usize, peer: std::net::SocketAddr) -> Self {
        Handle {
            id,
            sink: Sink::Socket(Outbound::new(max_pending)),
            closing: Notify::new(),
            async_info: AtomicBool::new(false),
            headers: AtomicBool::new(false),
            responses: std::sync::OnceLock::new(),
            info: Some(Box::new(conn_info::ConnInfo::new(peer))),
            reauthorize: AtomicBool::new(false),
            remote: Remote::None,
            websocket: AtomicBool::new(false),
        }
    }

    /// Marks a WebSocket client.
    pub fn set_websocket(&self) {
        self.websocket.store(true, Ordering::Release);
    }

    /// Whether it is a WebSocket client.
    pub fn is_websocket(&self) -> bool {
        self.websocket.load(Ordering::Acquire)
    }

    /// A route to another server from `peer`.
    pub fn route(id: u64, max_pending: usize, peer: std::net::SocketAddr) -> Self {
        Handle {
            remote: Remote::Route,
            headers: AtomicBool::new(true),
            ..Handle::socket(id, max_pending, peer)
        }
    }

    /// A leaf node connection with `peer`: our hub (`to_hub`) or our leaf.
    pub fn leaf(id: u64, max_pending: usize, peer: std::net::SocketAddr, to_hub: bool) -> Self {
        Handle {
            remote: if to_hub { Remote::Hub } else { Remote::Leaf },
            headers: AtomicBool::new(true),
            ..Handle::socket(id, max_pending, peer)
        }
    }

    /// Whether this is a route to another server.
    #[inline]
    pub fn is_route(&self) -> bool {
        self.remote == Remote::Route
    }

    /// Whether this is a leaf node connection (either side).
    #[inline]
    pub fn is_leaf(&self) -> bool {
        matches!(self.remote, Remote::Leaf | Remote::Hub)
    }

    /// Whether this is the leaf node connection to our hub.
    #[inline]
    pub fn is_hub(&self) -> bool {
        self.remote == Remote::Hub
    }

    /// A route or a leaf node connection: another server.
    #[inline]
    pub fn is_remote(&self) -> bool {
        self.remote != Remote::None
    }

    /// Whether this is an internal client (JetStream, the system account).
    #[inline]
    pub fn is_internal(&self) -> bool {
        matches!(self.sink, Sink::Internal(_))
    }

    /// An internal client: deliveries run `callback`.
    pub fn internal(id: u64, callback: InternalCallback) -> Self {
        Handle {
            id,
            sink: Sink::Internal(callback),
            closing: Notify::new(),
            async_info: AtomicBool::new(false),
            headers: AtomicBool::new(true),
            responses: std::sync::OnceLock::new(),
            info: None,
            reauthorize: AtomicBool::new(false),
            remote: Remote::None,
            websocket: AtomicBool::new(false),
        }
    }

    /// What monitoring shows of a socket connection; `None` for
    /// internal clients.
    pub fn conn_info(&self) -> Option<&conn_info::ConnInfo> {
        self.info.as_deref()
    }

    /// The connection's figures now (`None` for internal clients).
    pub fn snapshot(&self) -> Option<conn_info::ConnSnapshot> {
        let info = self.info.as_deref()?;
        let out = self.outbound()?;
        Some(info.snapshot(self.id, out.pending_bytes(), out.out_counts()))
    }

    /// Whether the client takes INFO updates at any time (CONNECT with
    /// protocol 1), such as the lame duck notice.
    pub fn wants_async_info(&self) -> bool {
        self.async_info.load(Ordering::Acquire)
    }

    /// Records whether the client negotiated headers, at CONNECT.
    pub(crate) fn set_headers(&self, on: bool) {
        self.headers.store(on, Ordering::Release);
    }

    /// Records whether the client takes async INFO, at CONNECT.
    pub(crate) fn set_async_info(&self, on: bool) {
        self.async_info.store(on, Ordering::Release);
    }

    /// The outbound buffer of a socket client; `None` for internal clients.
    pub fn outbound(&self) -> Option<&Outbound> {
        match &self.sink {
            Sink::Socket(out) => Some(out),
            Sink::Internal(_) => None,
        }
    }

    /// Delivers one message for subscription `sid`; socket deliveries are
    /// noted in `flush` so the writer is woken once per read batch.
    pub fn deliver(
        self: &Arc<Self>,
        frame: &Frame<'_>,
        sid: &[u8],
        flush: &mut FlushSet,
    ) -> Appended {
        match &self.sink {
            Sink::Socket(out) => {
                let appended = if self.remote == Remote::Route {
                    out.append_with(|b| frame.append_routed(b, sid, &[]))
                } else if self.is_leaf() {
                    out.append_with(|b| frame.append_leaf(b, &[]))
                } else if frame.header_len.is_some() && !self.headers.load(Ordering::Relaxed) {
                    out.append_with(|b| frame.append_without_headers(b, sid))
                } else {
                    out.append_frame(frame, sid)
                };
                flush.noted(self, appended);
                appended
            }
            Sink::Internal(callback) => {
                let (headers, payload) = frame.headers_and_payload();
                callback(&InternalMsg {
                    subject: frame.subject,
                    sid,
                    reply: frame.reply,
                    headers,
                    payload,
                });
                Appended::Noted
            }
        }
    }

    /// Closes the connection for `reason`: the writer flushes what it may
    /// and stops, the reader is told to stop.
    pub fn close(&self, reason: CloseReason) {
        if let Some(out) = self.outbound() {
            out.close(reason);
        }
        self.closing.notify_one();
    }

    /// Resolves when someone else has closed the connection (or asked for a
    /// re-check); the reader task waits on it beside its socket.
    pub(crate) async fn closed(&self) {
        self.closing.notified().await;
    }

    /// After a configuration reload: the reader checks the client's
    /// credentials and permissions again (woken as for a close, which
    /// keeps the read loop to one wake-up source).
    pub fn request_reauthorize(&self) {
        self.reauthorize.store(true, Ordering::Release);
        self.closing.notify_one();
    }

    /// Whether a re-check was asked for (and clears the request).
    pub fn take_reauthorize(&self) -> bool {
        self.reauthorize.swap(false, Ordering::AcqRel)
    }
}
