//! JetStream for one account: the registry of streams, recovery at start,
//! and the API thread that answers `$JS.API.>` requests. Work on a
//! stream's data runs on that stream's writer thread (`writer`); this
//! thread owns only the registry, so no lock guards it.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::api::stream::StreamConfig;
use crate::error::ApiError;
use crate::store::{MemStore, RedbStore, Store};
use crate::stream::Stream;
use crate::writer::{self, StreamInbox};

/// A message JetStream sends: routed by the subscriptions of `to`, written
/// with `subject` (a pull delivery reaches the requester's inbox under the
/// message's own subject, as the reference sends it).
#[derive(Clone, Debug)]
pub struct OutMsg {
    pub to: String,
    pub subject: String,
    pub reply: Option<String>,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

impl OutMsg {
    /// A message without a reply subject to an inbox (a status, an empty
    /// ack reply), routed and written with the same subject.
    pub fn to_inbox(inbox: &str, headers: Option<Vec<u8>>) -> OutMsg {
        OutMsg {
            to: inbox.to_string(),
            subject: inbox.to_string(),
            reply: None,
            headers: headers.map(Bytes::from),
            payload: Bytes::new(),
        }
    }
}

/// How the server publishes for JetStream and routes publishes to it.
pub trait Outbox: Send + Sync + 'static {
    /// Sends many messages, waking each receiver once for all of them.
    fn send(&self, msgs: &[OutMsg]) {
        for m in msgs {
            match &m.reply {
                Some(r) => self.publish_with_reply(&m.to, r, m.headers.as_deref(), &m.payload),
                None => self.publish(&m.to, m.headers.as_deref(), &m.payload),
            }
        }
    }

    /// Whether anyone subscribes to `subject` (in `queue`, when given).
    fn has_interest(&self, _subject: &str, _queue: Option<&str>) -> bool {
        true
    }

    /// Publishes a message (an API reply, an ack, a delivery).
    fn publish(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]);
    /// Publishes many payloads without headers (a batch of acks); the
    /// server may wake each receiver once for all of them.
    fn publish_batch(&self, msgs: &[(String, Vec<u8>)]) {
        for (subject, payload) in msgs {
            self.publish(subject, None, payload);
        }
    }

    /// Publishes with a reply subject (deliveries that expect acks).
    fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
    );
    /// From now on, publishes on `subjects` go to `inbox` (replacing any
    /// earlier capture for `stream`).
    fn capture(&self, stream: &str, subjects: &[String], inbox: StreamInbox);
    /// Stops capturing for `stream`.
    fn release(&self, stream: &str);
}

#[derive(Clone, Debug)]
pub struct JetStreamConfig {
    /// `<store_dir>/jetstream`.
    pub store_dir: PathBuf,
    pub max_memory: i64,
    pub max_storage: i64,
    /// `None`: commit durably before every ack (the default). A period: the
    /// reference's relaxed `sync_interval`, syncing once per period.
    pub sync_interval: Option<std::time::Duration>,
    /// Reported as the cluster leader in stream info.
    pub server_name: String,
}

/// One `$JS.API` request.
pub struct ApiRequest {
    pub subject: String,
    pub reply: String,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

enum ApiOp {
    Request(ApiRequest),
    Stop,
}

/// Requests queued before the API refuses more.
const API_QUEUE: usize = 65_536;

/// Where API requests are handed over.
#[derive(Clone)]
pub struct ApiInbox {
    tx: SyncSender<ApiOp>,
}

impl ApiInbox {
    /// Queues a request without blocking; false when the queue is full.
    pub fn offer(&self, req: ApiRequest) -> bool {
        match self.tx.try_send(ApiOp::Request(req)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

#[derive(Debug)]
pub struct EngineError(pub String);

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineError {}

/// A running JetStream.
pub struct JetStream {
    inbox: ApiInbox,
    thread: JoinHandle<()>,
    readers: Arc<crate::store::Readers>,
}

impl JetStream {
    /// Recovers every stored stream, then starts answering the API.
    pub fn start(
        config: JetStreamConfig,
        outbox: Arc<dyn Outbox>,
    ) -> Result<JetStream, EngineError> {
        let dir = streams_dir(&config.store_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError(format!("could not create {}: {e}", dir.display())))?;
        let mut registry = crate::registry::Registry::new(config, outbox);
        registry.recover(&dir)?;
        let readers = registry.readers();
        let (tx, rx) = std::sync::mpsc::sync_channel(API_QUEUE);
        let thread = std::thread::Builder::new()
            .name("jetstream-api".into())
            .spawn(move || serve(registry, &rx))
            .map_err(|e| EngineError(format!("could not start the API thread: {e}")))?;
        Ok(JetStream {
            inbox: ApiInbox { tx },
            thread,
            readers,
        })
    }

    /// Readers of the file streams' committed messages, for in-process
    /// reads that skip the stream threads.
    pub fn readers(&self) -> Arc<crate::store::Readers> {
        self.readers.clone()
    }

    pub fn api_inbox(&self) -> ApiInbox {
        self.inbox.clone()
    }

    /// Stops the API and every stream, each committing what it has.
    pub fn shutdown(self) {
        let _ = self.inbox.tx.send(ApiOp::Stop);
        let _ = self.thread.join();
    }
}

fn serve(mut registry: crate::registry::Registry, rx: &Receiver<ApiOp>) {
    while let Some(op) = next_op(rx) {
        match op {
            ApiOp::Request(req) => registry.handle(&req),
            ApiOp::Stop => break,
        }
    }
    registry.stop_all();
}

/// How long the API and stream threads look for their next work before
/// they sleep: work that follows its predecessor closely (a client's next
/// request) then costs no thread wake-up.
pub(crate) const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The next item if one arrives within `spin`: `Ok(None)` when none did,
/// `Err(())` when the sender is gone.
pub(crate) fn spin_recv<T>(rx: &Receiver<T>, spin: std::time::Duration) -> Result<Option<T>, ()> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(item) => return Ok(Some(item)),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(()),
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        if start.elapsed() >= spin {
            return Ok(None);
        }
        std::hint::spin_loop();
    }
}

fn next_op(rx: &Receiver<ApiOp>) -> Option<ApiOp> {
    match spin_recv(rx, SPIN) {
        Ok(Some(op)) => Some(op),
        Ok(None) => rx.recv().ok(),
        Err(()) => None,
    }
}

/// `<store_dir>/jetstream/$G/streams`, one redb file per stream.
pub fn streams_dir(root: &Path) -> PathBuf {
    root.join("$G").join("streams")
}

/// Unix time now, in nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Opens the store a stream's config asks for.
pub(crate) fn open_store(
    config: &StreamConfig,
    dir: &Path,
    sync_interval: Option<std::time::Duration>,
) -> Result<(Box<dyn Store>, Option<PathBuf>), ApiError> {
    if config.storage == crate::api::stream::StorageType::Memory {
        return Ok((Box::new(MemStore::new()), None));
    }
    let path = dir.join(format!("{}.redb", config.name));
    let mut store = RedbStore::open(&path).map_err(|e| ApiError::store_failed(e.to_string()))?;
    store.set_sync_interval(sync_interval);
    Ok((Box::new(store), Some(path)))
}

/// Starts a stream's writer on its store.
pub(crate) fn start_stream(
    config: &StreamConfig,
    store: Box<dyn Store>,
    outbox: &Arc<dyn Outbox>,
) -> Result<(StreamInbox, JoinHandle<()>), ApiError> {
    let stream = Stream::new(crate::stream::Policy::from_config(config), store, now_ns())
        .map_err(|e| ApiError::store_failed(e.to_string()))?;
    writer::spawn(stream, outbox.clone()).map_err(|e| ApiError::store_failed(e.to_string()))
}
