//! An in-process connection to the server: an internal client (no socket)
//! that publishes, subscribes, and makes requests on a muxed inbox, so an
//! embedding program (the in-process KV and object store) speaks to
//! JetStream exactly as a NATS client does, without the network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use crate::client::{Handle, InternalMsg};
use crate::router::Subscription;
use crate::Server;
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
