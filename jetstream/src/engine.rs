//! JetStream for one account: the registry of streams, recovery at start,
//! and the API thread that answers `$JS.API.>` requests. Work on a
//! stream's data runs on that stream's shard (`writer`); this
//! thread owns only the registry, so no lock guards it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;

use crate::api::stream::StreamConfig;
use crate::error::ApiError;
use crate::store::{MemStore, RedbStore, Store};
use crate::writer::{IngestLimits, StreamInbox};

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
    /// The account whose JetStream this is: its streams live in
    /// `<store_dir>/<account>/streams`.
    pub account: String,
    /// The account's limits (`-1`: none), reported in account info;
    /// `max_streams` is enforced at stream create.
    pub limits: crate::api::account::AccountLimits,
    pub max_memory: i64,
    pub max_storage: i64,
    /// `None`: commit durably before every ack (the default). A period: the
    /// reference's relaxed `sync_interval`, syncing once per period.
    pub sync_interval: Option<std::time::Duration>,
    /// Reported as the cluster leader in stream info.
    pub server_name: String,
    /// Each stream's queue limits (`max_buffered_msgs`/`max_buffered_size`).
    pub ingest: IngestLimits,
    /// API requests queued before more are refused with 429
    /// (`request_queue_limit`).
    pub api_queue_limit: usize,
    /// Shard threads running the streams' storage work.
    pub shards: usize,
    /// Called on a shard thread after idle streams closed their files, at
    /// most once a second: where the program's allocator can hand the
    /// freed memory back to the system (tern calls mimalloc's collect).
    pub release_memory: Option<fn()>,
}

impl JetStreamConfig {
    /// A config with the reference's defaults for everything but the
    /// directory.
    pub fn new(store_dir: PathBuf) -> Self {
        JetStreamConfig {
            store_dir,
            account: "$G".to_string(),
            limits: crate::api::account::AccountLimits::default(),
            max_memory: -1,
            max_storage: -1,
            sync_interval: None,
            server_name: String::new(),
            ingest: IngestLimits::default(),
            api_queue_limit: DEFAULT_API_QUEUE_LIMIT,
            shards: crate::writer::default_shards(),
            release_memory: None,
        }
    }
}

/// The reference's default `request_queue_limit`.
pub const DEFAULT_API_QUEUE_LIMIT: usize = 10_000;

/// One `$JS.API` request.
pub struct ApiRequest {
    pub subject: String,
    pub reply: String,
    pub headers: Option<Bytes>,
    pub payload: Bytes,
}

pub(crate) enum ApiOp {
    Request(ApiRequest),
    Stop,
}

/// Where API requests are handed over.
#[derive(Clone)]
pub struct ApiInbox {
    tx: Sender<ApiOp>,
    queued: Arc<AtomicUsize>,
    limit: usize,
}

/// Why an API request was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiRefused {
    /// At `request_queue_limit`: answer 429.
    Full,
    Stopped,
}

impl ApiInbox {
    /// Queues a request without blocking.
    pub fn offer(&self, req: ApiRequest) -> Result<(), ApiRefused> {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiRefused::Full);
        }
        self.tx.send(ApiOp::Request(req)).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            ApiRefused::Stopped
        })
    }
}

/// The reply to an API request refused because the queue is full: the
/// 429 status with the error JSON.
pub fn api_refusal() -> (&'static [u8], Vec<u8>) {
    let mut body = b"{\"error\":".to_vec();
    body.extend_from_slice(&crate::api::json::to_json(&ApiError::too_many_requests()));
    body.push(b'}');
    (b"NATS/1.0 429 Too Many Requests\r\n\r\n", body)
}

/// The header marking the server's own monitoring requests: answered,
/// not counted in the account's API statistics.
pub use crate::registry::MONITOR_HEADER;

/// The answer to an API request (`$JS.API.…`) from an account without
/// JetStream on a server with it: the endpoint's response with 503/10039,
/// as the reference sends. `None` for subjects that are not endpoints.
pub fn not_enabled_reply(subject: &str) -> Option<Vec<u8>> {
    let rest = subject.strip_prefix("$JS.API.")?;
    let tokens: Vec<&str> = rest.split('.').collect();
    crate::registry::endpoint_error(&tokens, ApiError::not_enabled_for_account())
}

/// Why JetStream could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum EngineError {
    /// The store directory could not be created.
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store directory could not be read (recovery).
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A stream writer thread could not be started.
    StartWriters(std::io::Error),
    /// The API thread could not be started.
    StartApiThread(std::io::Error),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::CreateDir { path, source } => {
                write!(f, "could not create {}: {source}", path.display())
            }
            EngineError::ReadDir { path, source } => {
                write!(f, "reading {}: {source}", path.display())
            }
            EngineError::StartWriters(e) => write!(f, "could not start the stream writers: {e}"),
            EngineError::StartApiThread(e) => write!(f, "could not start the API thread: {e}"),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::CreateDir { source, .. } | EngineError::ReadDir { source, .. } => {
                Some(source)
            }
            EngineError::StartWriters(e) | EngineError::StartApiThread(e) => Some(e),
        }
    }
}

/// A running JetStream.
pub struct JetStream {
    inbox: ApiInbox,
    thread: JoinHandle<()>,
    readers: Arc<crate::store::Readers>,
    queues: Arc<crate::metrics::IngestQueues>,
}

impl JetStream {
    /// Recovers every stored stream, then starts answering the API. A
    /// stream that cannot be opened is skipped with a warning and retried
    /// in the background; only a store directory that cannot be used
    /// stops JetStream.
    pub fn start(
        config: JetStreamConfig,
        outbox: Arc<dyn Outbox>,
    ) -> Result<JetStream, EngineError> {
        let dir = streams_dir(&config.store_dir, &config.account);
        std::fs::create_dir_all(&dir).map_err(|source| EngineError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let limit = config.api_queue_limit;
        let mut registry =
            crate::registry::Registry::new(config, outbox).map_err(EngineError::StartWriters)?;
        registry.recover(&dir)?;
        let readers = registry.readers();
        let queues = registry.ingest_queues();
        let (tx, rx) = std::sync::mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let counted = queued.clone();
        let thread = std::thread::Builder::new()
            .name("jetstream-api".into())
            .spawn(move || serve(registry, &rx, &counted))
            .map_err(EngineError::StartApiThread)?;
        Ok(JetStream {
            inbox: ApiInbox { tx, queued, limit },
            thread,
            readers,
            queues,
        })
    }

    /// The streams' ingest queues (their depths, for `/metrics`).
    pub fn ingest_queues(&self) -> Arc<crate::metrics::IngestQueues> {
        self.queues.clone()
    }

    /// Readers of the file streams' committed messages, for in-process
    /// reads that skip the shards.
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

/// The API thread hands freed memory back once it has been idle this
/// long after work (what it allocated for streams is freed on their
/// shards, and only its own collect returns it).
const RELEASE_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

fn serve(mut registry: crate::registry::Registry, rx: &Receiver<ApiOp>, queued: &AtomicUsize) {
    let release = registry.release_memory();
    let mut release_at: Option<std::time::Instant> = None;
    loop {
        let timer = [registry.next_retry(), release_at]
            .into_iter()
            .flatten()
            .min();
        match next_op(rx, timer) {
            Next::Op(ApiOp::Request(req)) => {
                queued.fetch_sub(1, Ordering::AcqRel);
                registry.handle(&req);
                if release.is_some() {
                    release_at = Some(std::time::Instant::now() + RELEASE_IDLE);
                }
            }
            Next::Op(ApiOp::Stop) | Next::Closed => break,
            Next::Timer => {
                registry.retry_broken();
                if release_at.is_some_and(|at| at <= std::time::Instant::now()) {
                    release_at = None;
                    if let Some(f) = release {
                        f();
                    }
                }
            }
        }
    }
    registry.stop_all();
}

enum Next {
    Op(ApiOp),
    Timer,
    Closed,
}

/// How long the API thread and the shards look for their next work before
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

fn next_op(rx: &Receiver<ApiOp>, timer: Option<std::time::Instant>) -> Next {
    match spin_recv(rx, SPIN) {
        Ok(Some(op)) => return Next::Op(op),
        Ok(None) => {}
        Err(()) => return Next::Closed,
    }
    match timer {
        Some(at) => {
            match rx.recv_timeout(at.saturating_duration_since(std::time::Instant::now())) {
                Ok(op) => Next::Op(op),
                Err(RecvTimeoutError::Timeout) => Next::Timer,
                Err(RecvTimeoutError::Disconnected) => Next::Closed,
            }
        }
        None => rx.recv().map_or(Next::Closed, Next::Op),
    }
}

/// `<store_dir>/jetstream/<account>/streams`, one redb file per stream.
pub fn streams_dir(root: &Path, account: &str) -> PathBuf {
    root.join(account).join("streams")
}

/// Unix time now, in nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Opens the store a stream's config asks for (a new stream).
pub(crate) fn open_store(
    config: &StreamConfig,
    dir: &Path,
    sync_interval: Option<std::time::Duration>,
) -> Result<(Box<dyn Store>, Option<PathBuf>), ApiError> {
    if config.storage == crate::api::stream::StorageType::Memory {
        return Ok((Box::new(MemStore::new()), None));
    }
    let path = dir.join(crate::store::file_name(&config.name));
    let opened = crate::store::contain_panic(|| RedbStore::open(&path));
    let mut store = opened.map_err(|e| ApiError::store_failed(e.to_string()))?;
    store.set_sync_interval(sync_interval);
    Ok((Box::new(store), Some(path)))
}

#[cfg(test)]
mod tests {
    use super::{api_refusal, ApiInbox, ApiRefused, ApiRequest};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn request() -> ApiRequest {
        ApiRequest {
            subject: "$JS.API.INFO".into(),
            reply: "r".into(),
            headers: None,
            payload: bytes::Bytes::new(),
        }
    }

    #[test]
    fn the_api_queue_refuses_past_its_limit_with_429() {
        let (tx, rx) = std::sync::mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let inbox = ApiInbox {
            tx,
            queued: queued.clone(),
            limit: 2,
        };
        assert_eq!(inbox.offer(request()), Ok(()));
        assert_eq!(inbox.offer(request()), Ok(()));
        assert_eq!(inbox.offer(request()), Err(ApiRefused::Full));
        // The API thread taking one makes room for one.
        assert!(rx.try_recv().is_ok());
        queued.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        assert_eq!(inbox.offer(request()), Ok(()));
        drop(rx);
        queued.store(0, std::sync::atomic::Ordering::Release);
        assert_eq!(inbox.offer(request()), Err(ApiRefused::Stopped));
        let (headers, body) = api_refusal();
        assert_eq!(headers, b"NATS/1.0 429 Too Many Requests\r\n\r\n");
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"error":{"code":429,"err_code":10167,"description":"too many requests"}}"#
        );
    }
}
