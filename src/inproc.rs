//! An in-process connection to the server: an internal client (no socket)
//! that publishes, subscribes, and makes requests on a muxed inbox, so an
//! embedding program (the in-process KV and object store) speaks to
//! JetStream exactly as a NATS client does, without the network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Handle, InternalMsg};
use crate::router::Subscription;
use crate::Server;
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

/// A message delivered to the link.
#[derive(Clone, Debug)]
pub struct Msg {
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

impl Msg {
    fn copy(m: &InternalMsg<'_>) -> Msg {
        Msg {
            subject: String::from_utf8_lossy(m.subject).into_owned(),
            reply: m.reply.map(|r| String::from_utf8_lossy(r).into_owned()),
            headers: m.headers.map(Bytes::copy_from_slice),
            payload: Bytes::copy_from_slice(m.payload),
        }
    }
}

#[derive(Debug)]
pub enum LinkError {
    /// No reply within the bound.
    Timeout,
    /// The server is shutting down.
    Closed,
}

/// Where each subscription's deliveries go, by sid.
#[derive(Default)]
struct Routes {
    /// Requests waiting on the muxed inbox, by token.
    pending: HashMap<u64, oneshot::Sender<Msg>>,
    subs: HashMap<u64, mpsc::UnboundedSender<Msg>>,
}

pub struct Link {
    server: Arc<Server>,
    client: Arc<Handle>,
    routes: Arc<Mutex<Routes>>,
    inbox_prefix: String,
    next: AtomicU64,
    _inbox_sub: Arc<Subscription>,
}

/// The request sid; subscriptions get sids from 1 up.
const INBOX_SID: u64 = 0;

impl Link {
    pub fn new(server: Arc<Server>) -> Link {
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let r = routes.clone();
        let client = server.internal_client(Box::new(move |m: &InternalMsg<'_>| {
            let sid: u64 = std::str::from_utf8(m.sid)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX);
            let mut routes = r.lock();
            if sid == INBOX_SID {
                let token = m
                    .subject
                    .rsplit(|&b| b == b'.')
                    .next()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse::<u64>().ok());
                if let Some(tx) = token.and_then(|t| routes.pending.remove(&t)) {
                    let _ = tx.send(Msg::copy(m));
                }
            } else if let Some(tx) = routes.subs.get(&sid) {
                if tx.send(Msg::copy(m)).is_err() {
                    routes.subs.remove(&sid);
                }
            }
        }));
        let inbox_prefix = format!("_TKV.{}", server.next_inbox_token());
        let inbox_sub = server.subscribe_internal(
            &client,
            &format!("{inbox_prefix}.*"),
            None,
            &INBOX_SID.to_string(),
        );
        Link {
            server,
            client,
            routes,
            inbox_prefix,
            next: AtomicU64::new(1),
            _inbox_sub: inbox_sub,
        }
    }

    /// Direct readers of file streams, when JetStream runs.
    pub fn reader(&self, stream: &str) -> Option<tern_jetstream::store::StoreReader> {
        self.server
            .jetstream_readers()?
            .get(stream)
            .filter(|r| r.is_current())
    }

    pub fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        self.server.publish_internal(
            subject.as_bytes(),
            reply.map(str::as_bytes),
            headers,
            payload,
        );
    }

    /// Publishes with a reply subject on the muxed inbox and waits for the
    /// one reply.
    pub async fn request(
        &self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Msg, LinkError> {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.routes.lock().pending.insert(token, tx);
        let reply = format!("{}.{token}", self.inbox_prefix);
        self.publish(subject, Some(&reply), headers, payload);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(msg)) => Ok(msg),
            Ok(Err(_)) => Err(LinkError::Closed),
            Err(_) => {
                self.routes.lock().pending.remove(&token);
                Err(LinkError::Timeout)
            }
        }
    }

    /// A fresh subject only this link listens on.
    pub fn new_inbox(&self) -> String {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}_S.{token}", self.inbox_prefix)
    }

    /// Subscribes; deliveries arrive on the receiver until it is dropped
    /// and the subscription removed.
    pub fn subscribe(&self, subject: &str) -> (Arc<Subscription>, mpsc::UnboundedReceiver<Msg>) {
        let sid = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes.lock().subs.insert(sid, tx);
        let sub = self
            .server
            .subscribe_internal(&self.client, subject, None, &sid.to_string());
        (sub, rx)
    }

    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        self.server.unsubscribe_internal(sub);
    }
}

/// An error reply of the JetStream API, or no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiCallError {
    Api {
        code: u16,
        err_code: u32,
        description: String,
    },
    Timeout,
    Closed,
    /// A reply that could not be read.
    Protocol(String),
}

impl From<LinkError> for ApiCallError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Timeout => ApiCallError::Timeout,
            LinkError::Closed => ApiCallError::Closed,
        }
    }
}

/// How long a JetStream API call may take.
pub const API_TIMEOUT: Duration = Duration::from_secs(10);

impl Link {
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
}

/// The `{"code","err_code","description"}` of an error reply.
pub fn api_error(err: &serde_json::Value) -> ApiCallError {
    ApiCallError::Api {
        code: u16::try_from(err["code"].as_u64().unwrap_or(0)).unwrap_or(0),
        err_code: u32::try_from(err["err_code"].as_u64().unwrap_or(0)).unwrap_or(0),
        description: err["description"].as_str().unwrap_or("").to_string(),
    }
}

/// Where an ordered consumer starts.
#[derive(Clone, Copy, Debug)]
pub enum DeliverFrom {
    All,
    New,
    LastPerSubject,
    Sequence(u64),
}

/// A delivery of an ordered consumer, with what its ack subject tells.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub msg: Msg,
    pub stream_seq: u64,
    pub time_ns: i64,
    /// Messages still pending after this one.
    pub pending: u64,
}

/// An ordered push consumer as the clients create it (ephemeral, ack
/// none, flow control, heartbeats, memory state) delivering to an inbox
/// of the link. Flow-control requests are answered as their place in the
/// queue is reached, so no more than the server's window waits here.
pub struct Ordered {
    link: Arc<Link>,
    stream: String,
    consumer: String,
    sub: Arc<Subscription>,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Messages the consumer had to deliver when created.
    pub initial_pending: u64,
}

impl Ordered {
    pub async fn start(
        link: &Arc<Link>,
        stream: &str,
        filter: &str,
        from: DeliverFrom,
        headers_only: bool,
    ) -> Result<Ordered, ApiCallError> {
        let inbox = link.new_inbox();
        let (sub, rx) = link.subscribe(&inbox);
        let mut config = serde_json::json!({
            "deliver_subject": inbox,
            "ack_policy": "none",
            "max_deliver": 1,
            "flow_control": true,
            "idle_heartbeat": 5_000_000_000i64,
            "mem_storage": true,
            "num_replicas": 1,
            "filter_subject": filter,
            "headers_only": headers_only,
        });
        let policy = match from {
            DeliverFrom::All => "all",
            DeliverFrom::New => "new",
            DeliverFrom::LastPerSubject => "last_per_subject",
            DeliverFrom::Sequence(seq) => {
                config["opt_start_seq"] = serde_json::json!(seq.max(1));
                "by_start_sequence"
            }
        };
        config["deliver_policy"] = serde_json::json!(policy);
        let body = serde_json::json!({ "stream_name": stream, "config": config });
        let info = match link
            .api(&format!("$JS.API.CONSUMER.CREATE.{stream}"), &body)
            .await
        {
            Ok(info) => info,
            Err(e) => {
                link.unsubscribe(&sub);
                return Err(e);
            }
        };
        Ok(Ordered {
            link: link.clone(),
            stream: stream.to_string(),
            consumer: info["name"].as_str().unwrap_or_default().to_string(),
            sub,
            rx,
            initial_pending: info["num_pending"].as_u64().unwrap_or(0),
        })
    }

    /// The next delivered message; `None` once the server is gone.
    pub async fn next(&mut self) -> Option<Delivered> {
        loop {
            let msg = self.rx.recv().await?;
            if let Some(d) = self.delivered(msg) {
                return Some(d);
            }
        }
    }

    /// As `next`, for a poll-based reader.
    pub fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Delivered>> {
        loop {
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(msg)) => {
                    if let Some(d) = self.delivered(msg) {
                        return std::task::Poll::Ready(Some(d));
                    }
                }
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(None),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    }

    /// A data message; heartbeats give none and flow-control requests are
    /// answered.
    fn delivered(&self, msg: Msg) -> Option<Delivered> {
        let reply = msg.reply.as_deref()?;
        if reply.starts_with("$JS.FC.") {
            self.link.publish(reply, None, None, b"");
            return None;
        }
        // $JS.ACK.<stream>.<consumer>.<delivered>.<seq>.<cseq>.<ts>.<pending>
        let tokens: Vec<&str> = reply.split('.').collect();
        if tokens.len() != 9 {
            return None;
        }
        Some(Delivered {
            stream_seq: tokens[5].parse().ok()?,
            time_ns: tokens[7].parse().ok()?,
            pending: tokens[8].parse().ok()?,
            msg,
        })
    }
}

impl Drop for Ordered {
    fn drop(&mut self) {
        self.link.unsubscribe(&self.sub);
        // The ephemeral consumer would go by itself once idle; say so now.
        let subject = format!("$JS.API.CONSUMER.DELETE.{}.{}", self.stream, self.consumer);
        self.link
            .publish(&subject, Some(&self.link.new_inbox()), None, b"");
    }
}
