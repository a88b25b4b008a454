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

/// Text held in shared bytes (a subject, a reply subject): cloning or
/// keeping it copies nothing. Always valid UTF-8.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(bytes::Bytes);

impl Text {
    /// Text over `bytes` (copied, lossily, only when not UTF-8).
    fn from_bytes(bytes: bytes::Bytes) -> Text {
        if std::str::from_utf8(&bytes).is_ok() {
            Text(bytes)
        } else {
            Text(bytes::Bytes::from(
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Checked when made; never empty by accident.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(bytes::Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// A message kept. Its subject, reply, headers and payload share one
/// buffer: keeping a message costs one allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    /// The subject it was published to.
    pub subject: Text,
    /// Where replies go, if anywhere.
    pub reply: Option<Text>,
    /// The header block, if any.
    pub headers: Option<bytes::Bytes>,
    /// The payload.
    pub payload: bytes::Bytes,
}

impl Msg {
    /// An owned copy of a delivered message.
    pub fn copy(m: &MsgRef<'_>) -> Msg {
        Msg::copy_into(m, &mut bytes::BytesMut::new(), 0)
    }

    /// An owned copy of a delivered message, written into `arena`: many
    /// messages share one allocation of at least `chunk` bytes (a fresh
    /// one when the arena has too little room left), which is freed when
    /// the last of them is dropped.
    pub(crate) fn copy_into(m: &MsgRef<'_>, arena: &mut bytes::BytesMut, chunk: usize) -> Msg {
        let reply_len = m.reply.map_or(0, <[u8]>::len);
        let headers_len = m.headers.map_or(0, <[u8]>::len);
        let len = m.subject.len() + reply_len + headers_len + m.payload.len();
        if arena.capacity() - arena.len() < len {
            *arena = bytes::BytesMut::with_capacity(len.max(chunk));
        }
        let buf = arena;
        buf.extend_from_slice(m.subject);
        if let Some(r) = m.reply {
            buf.extend_from_slice(r);
        }
        if let Some(h) = m.headers {
            buf.extend_from_slice(h);
        }
        buf.extend_from_slice(m.payload);
        let mut all = buf.split().freeze();
        let subject = all.split_to(m.subject.len());
        let reply = m.reply.map(|_| Text::from_bytes(all.split_to(reply_len)));
        let headers = m.headers.map(|_| all.split_to(headers_len));
        Msg {
            subject: Text::from_bytes(subject),
            reply,
            headers,
            payload: all,
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

impl PortError {
    /// Checks a subject to publish to, as every port must.
    pub fn check_subject(subject: &str) -> Result<(), PortError> {
        if tern_jetstream::subject::is_valid_subject(subject.as_bytes()) {
            Ok(())
        } else {
            Err(PortError::InvalidSubject(subject.to_string()))
        }
    }

    /// Checks a subscription's subject (wildcards allowed) and queue name.
    pub fn check_subscription(subject: &str, queue: Option<&str>) -> Result<(), PortError> {
        Self::check_subject(subject)?;
        match queue {
            Some(q) if !tern_jetstream::subject::is_valid_queue(q.as_bytes()) => {
                Err(PortError::InvalidSubject(subject.to_string()))
            }
            _ => Ok(()),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_message_splits_its_one_buffer_right() {
        let m = Msg::copy(&MsgRef {
            subject: b"orders.new",
            reply: Some(b"_INBOX.1"),
            headers: Some(b"NATS/1.0\r\nA: b\r\n\r\n"),
            payload: b"hello",
        });
        assert_eq!(m.subject, "orders.new");
        assert_eq!(m.reply.as_ref().map(Text::as_str), Some("_INBOX.1"));
        assert_eq!(m.headers.as_deref(), Some(&b"NATS/1.0\r\nA: b\r\n\r\n"[..]));
        assert_eq!(&m.payload[..], b"hello");
        let bare = Msg::copy(&MsgRef {
            subject: b"s",
            reply: None,
            headers: None,
            payload: b"",
        });
        assert_eq!(
            (bare.subject.as_str(), bare.reply, bare.headers),
            ("s", None, None)
        );
        let odd = Msg::copy(&MsgRef {
            subject: b"bad\xff",
            reply: None,
            headers: None,
            payload: b"",
        });
        assert_eq!(odd.subject, "bad\u{fffd}");
    }
}
