//! JetStream for one account: the registry of streams, recovery at start,
//! and the API thread that answers `$JS.API.>` requests. Work on a
//! stream's data runs on that stream's shard (`writer`); this
//! thread owns only the registry, so no lock guards it.

pub use crate::registry::direct_get_inline;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

pub use crate::config::{
    streams_dir, ApiRequest, EngineError, JetStreamConfig, DEFAULT_API_QUEUE_LIMIT,
};
use crate::error::ApiError;
pub use crate::outbox::{now_ns, OutMsg, Outbox};
pub(crate) use crate::outbox::{spin_recv, SPIN};

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
#[non_exhaustive]
pub enum ApiRefused {
    /// At `request_queue_limit`: answer 429.
    Full,
    /// JetStream is shutting down: the API thread takes no more requests.
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
        captures: Arc<dyn crate::writer::Captures>,
    ) -> Result<JetStream, EngineError> {
        let dir = streams_dir(&config.store_dir, &config.account);
        std::fs::create_dir_all(&dir).map_err(|source| EngineError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let limit = config.api_queue_limit;
        let mut registry = crate::registry::Registry::new(config, outbox, captures)
            .map_err(EngineError::StartWriters)?;
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

    /// Where the server hands `$JS.API` requests over.
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
