//! The in-process connection port: what a program inside the server's
//! process needs to speak NATS without a socket. A [`Port`] publishes
//! (with headers), subscribes (wildcards, queue groups) with a callback
//! per subscription, makes unique inbox tokens, and hands out readers of
//! a stream's committed messages. The `tern` server implements it with its
//! internal clients; [`Link`] builds request/reply, subscriptions as
//! channels and typed JetStream API calls on any port, and [`Ordered`] the
//! ordered push consumer the clients use for watchers and object reads.
//!
//! The embedded KV (`tern-kv`) and object store (`tern-objstore`) stand on
//! this crate and `tern-jetstream` only, never on the server crate, so
//! they can be tested against [`fake::FakePort`].

#![warn(missing_docs)]

pub mod fake;
mod link;
mod ordered;
mod queue;

use std::sync::Arc;

pub use link::{api_error, ApiCallError, Link, API_TIMEOUT};
pub use ordered::{DeliverFrom, Delivered, Ordered};
pub use queue::Receiver;

/// A message as a subscription's callback sees it: borrowed from the
/// router, to be copied only by those who keep it.
#[derive(Clone, Copy, Debug)]
pub struct MsgRef<'a> {
    /// The subject it was published to.
    pub subject: &'a [u8],
    /// Where replies go, if anywhere.
    pub reply: Option<&'a [u8]>,
    /// The header block (`NATS/1.0\r\n...`), if any.
    pub headers: Option<&'a [u8]>,
    /// The payload.
    pub payload: &'a [u8],
}

/// A message kept: subject, reply, headers and payload owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    /// The subject it was published to.
    pub subject: String,
    /// Where replies go, if anywhere.
    pub reply: Option<String>,
    /// The header block, if any.
    pub headers: Option<bytes::Bytes>,
    /// The payload.
    pub payload: bytes::Bytes,
}

impl Msg {
    /// An owned copy of a delivered message.
    pub fn copy(m: &MsgRef<'_>) -> Msg {
        Msg {
            subject: String::from_utf8_lossy(m.subject).into_owned(),
            reply: m.reply.map(|r| String::from_utf8_lossy(r).into_owned()),
            headers: m.headers.map(bytes::Bytes::copy_from_slice),
            payload: bytes::Bytes::copy_from_slice(m.payload),
        }
    }
}

/// Runs for each message a subscription receives, on the publisher's
/// task: it must be quick and must not block (copy and hand over).
pub type Deliver = Box<dyn Fn(&MsgRef<'_>) + Send + Sync>;

/// Names one subscription of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubId(pub u64);

/// Why a port refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PortError {
    /// The server behind the port has stopped.
    Closed,
    /// A subject (or queue name) NATS does not accept.
    InvalidSubject(String),
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::Closed => f.write_str("the server has stopped"),
            PortError::InvalidSubject(s) => write!(f, "invalid subject {s:?}"),
        }
    }
}

impl std::error::Error for PortError {}

/// The connection an in-process user has to the server.
pub trait Port: Send + Sync + 'static {
    /// Publishes `payload` (with `headers`, and `reply` for answers) to
    /// `subject`.
    fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<(), PortError>;

    /// Subscribes to `subject` (wildcards allowed), in `queue` when given;
    /// `deliver` runs for each message until [`Port::unsubscribe`].
    fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
        deliver: Deliver,
    ) -> Result<SubId, PortError>;

    /// Ends a subscription (nothing if it already ended).
    fn unsubscribe(&self, id: SubId);

    /// A token no other inbox of this server uses.
    fn unique_token(&self) -> String;

    /// Whether the server behind the port still runs (a request waiting
    /// for its reply gives up once it does not).
    fn is_open(&self) -> bool;

    /// A reader of `stream`'s committed messages, when the stream is a
    /// file stream of the port's account that is open and current (reads
    /// through it block: call it off the async workers).
    fn committed(&self, stream: &str) -> Option<tern_jetstream::store::StoreReader>;
}

/// A shared port.
pub type SharedPort = Arc<dyn Port>;
