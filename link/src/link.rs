//! Request/reply, channel subscriptions and JetStream API calls over a
//! [`Port`]: replies come back on one muxed inbox subscription per link.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::{Msg, MsgRef, Port, PortError, SubId};

/// How long a JetStream API call may take.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a waiting request looks whether the server still runs.
const LIVENESS_CHECK: Duration = Duration::from_millis(100);

/// Why a call over the link got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiCallError {
    /// The JetStream API answered with an error (the one error type the
    /// server's API, tern-jetstream, uses).
    Api(tern_jetstream::error::ApiError),
    /// No reply within the bound.
    Timeout,
    /// The server behind the link has stopped.
    Closed,
    /// The subject was refused before anything was sent.
    InvalidSubject(String),
    /// A reply that could not be read.
    Protocol(String),
}

impl std::fmt::Display for ApiCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiCallError::Api(e) => write!(f, "{e} (status {})", e.code),
            ApiCallError::Timeout => f.write_str("no reply in time"),
            ApiCallError::Closed => f.write_str("the server has stopped"),
            ApiCallError::InvalidSubject(s) => write!(f, "invalid subject {s:?}"),
            ApiCallError::Protocol(e) => write!(f, "unreadable reply: {e}"),
        }
    }
}

impl std::error::Error for ApiCallError {}

impl From<PortError> for ApiCallError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Closed => ApiCallError::Closed,
            PortError::InvalidSubject(s) => ApiCallError::InvalidSubject(s),
        }
    }
}

impl ApiCallError {
    /// The JetStream error code, for an API error.
    pub fn err_code(&self) -> Option<u16> {
        match self {
            ApiCallError::Api(e) => Some(e.err_code),
            _ => None,
        }
    }
}

/// Requests waiting for their reply on the link's inbox, by token.
type Pending = HashMap<u64, oneshot::Sender<Msg>>;

/// A connection for one in-process user over a port.
pub struct Link {
    port: Arc<dyn Port>,
    pending: Arc<Mutex<Pending>>,
    inbox_prefix: String,
    next: AtomicU64,
    inbox: SubId,
}

impl Link {
    /// A link over `port`, with its reply inbox subscribed.
    pub fn new(port: Arc<dyn Port>) -> Result<Link, PortError> {
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let waiting = pending.clone();
        let inbox_prefix = format!("_TKV.{}", port.unique_token());
        let inbox = port.subscribe(
            &format!("{inbox_prefix}.*"),
            None,
            Box::new(move |m: &MsgRef<'_>| {
                let token = m
                    .subject
                    .rsplit(|&b| b == b'.')
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse::<u64>().ok());
                if let Some(tx) = token.and_then(|t| waiting.lock().remove(&t)) {
                    let _ = tx.send(Msg::copy(m));
                }
            }),
        )?;
        Ok(Link {
            port,
            pending,
            inbox_prefix,
            next: AtomicU64::new(1),
            inbox,
        })
    }

    /// The port under the link.
    pub fn port(&self) -> &Arc<dyn Port> {
        &self.port
    }

    /// Publishes a message.
    pub fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<(), PortError> {
        self.port.publish(subject, reply, headers, payload)
    }

    /// Publishes with a reply subject on the link's inbox and waits (at
    /// most `timeout`) for the one reply.
    pub async fn request(
        &self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Msg, ApiCallError> {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(token, tx);
        let reply = format!("{}.{token}", self.inbox_prefix);
        if let Err(e) = self.publish(subject, Some(&reply), headers, payload) {
            self.pending.lock().remove(&token);
            return Err(e.into());
        }
        // Waits in short slices so a server that stops meanwhile ends the
        // wait at once rather than at the timeout.
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = rx;
        loop {
            let slice = (deadline - tokio::time::Instant::now()).min(LIVENESS_CHECK);
            match tokio::time::timeout(slice, &mut rx).await {
                Ok(Ok(msg)) => return Ok(msg),
                Ok(Err(_)) => return Err(ApiCallError::Closed),
                Err(_) => {
                    let over = tokio::time::Instant::now() >= deadline;
                    if over || !self.port.is_open() {
                        self.pending.lock().remove(&token);
                        return Err(if over {
                            ApiCallError::Timeout
                        } else {
                            ApiCallError::Closed
                        });
                    }
                }
            }
        }
    }

    /// A fresh subject only this link listens on (for a subscription's
    /// deliveries).
    pub fn new_inbox(&self) -> String {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}_S.{token}", self.inbox_prefix)
    }

    /// Subscribes; deliveries arrive on the receiver until
    /// [`Link::unsubscribe`].
    pub fn subscribe(&self, subject: &str) -> Result<(SubId, crate::Receiver), PortError> {
        self.queue_subscribe(subject, None)
    }

    /// Subscribes as a member of `queue` (one member gets each message),
    /// or alone without one.
    pub fn queue_subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<(SubId, crate::Receiver), PortError> {
        let (tx, mut rx) = crate::queue::queue();
        let id = self.port.subscribe(
            subject,
            queue,
            Box::new(move |m: &MsgRef<'_>| tx.send_copy(m)),
        )?;
        // A receiver dropped ends its subscription (as a dropped async-nats
        // subscriber does): nobody would take what keeps arriving.
        let port = Arc::downgrade(&self.port);
        rx.on_drop(Box::new(move || {
            if let Some(port) = port.upgrade() {
                port.unsubscribe(id);
            }
        }));
        Ok((id, rx))
    }

    /// Ends a subscription.
    pub fn unsubscribe(&self, id: SubId) {
        self.port.unsubscribe(id);
    }

    /// A JetStream API call: the JSON reply, or its error.
    pub async fn api(
        &self,
        subject: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ApiCallError> {
        let payload = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).map_err(|e| ApiCallError::Protocol(e.to_string()))?
        };
        let reply = self.request(subject, None, &payload, API_TIMEOUT).await?;
        let value: serde_json::Value = serde_json::from_slice(&reply.payload)
            .map_err(|e| ApiCallError::Protocol(e.to_string()))?;
        match value.get("error") {
            Some(err) => Err(api_error(err)),
            None => Ok(value),
        }
    }

    /// A JetStream API call with typed request and reply (the reply's
    /// `error`, when present, is the call's error).
    pub async fn api_typed<Q, R>(&self, subject: &str, request: &Q) -> Result<R, ApiCallError>
    where
        Q: serde::Serialize,
        R: serde::de::DeserializeOwned,
    {
        let body =
            serde_json::to_value(request).map_err(|e| ApiCallError::Protocol(e.to_string()))?;
        let value = self.api(subject, &body).await?;
        serde_json::from_value(value).map_err(|e| ApiCallError::Protocol(e.to_string()))
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.port.unsubscribe(self.inbox);
    }
}

/// The `{"code","err_code","description"}` of an error reply.
pub fn api_error(err: &serde_json::Value) -> ApiCallError {
    match serde_json::from_value(err.clone()) {
        Ok(e) => ApiCallError::Api(e),
        Err(e) => ApiCallError::Protocol(format!("unreadable error {err}: {e}")),
    }
}
