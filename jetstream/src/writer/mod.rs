//! The stream writers: a fixed pool of shard threads (about one per core)
//! runs the storage work of every stream. A stream is attached to one
//! shard for its life; the shard owns its state machine and store, takes
//! every queued operation for all its streams in one pass, stores each
//! stream's publishes in that stream's batch, commits each touched stream
//! once (group commit), and only then sends their acks.
//!
//! What a stream costs at rest: its state machine and store, a slot in its
//! shard's map and an entry in the shard's timer heap; no thread and no
//! preallocated queue. Each stream's queue is bounded by messages and
//! bytes (the reference's ingest limits); a publish past them is refused
//! with the reference's 429 at once.
//!
//! A panic or an I/O failure in one stream's work ends that stream's work
//! only (`slot`): its owed acks become errors, its later requests are
//! answered with errors, and the shard retries it with a backoff, reopening
//! its files where they must be reopened.

mod shard;
mod slot;

pub use slot::{panic_is_a_retry, panic_text};

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::error::ApiError;
use crate::outbox::Outbox;
use crate::store::{Readers, StoreError};
use crate::stream::{Inbound, Stream};

/// A stream's queue limits: messages and bytes waiting for its shard.
/// Defaults are the reference's (`max_buffered_msgs`, `max_buffered_size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    /// Messages that may wait before publishes are refused.
    pub max_msgs: usize,
    /// Bytes (subject, headers and payload) that may wait.
    pub max_bytes: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        IngestLimits {
            max_msgs: 100_000,
            max_bytes: 128 << 20,
        }
    }
}

/// Reopens a file stream from its files after a failure (`Err`: why not).
pub(crate) type Reopen = Box<dyn FnMut() -> Result<Stream, StoreError> + Send>;

/// Work on a stream's data: `work` runs with the stream once everything
/// queued before it is committed (its writes are committed right after);
/// `failed` runs instead when the stream cannot be used, so every caller
/// hears back.
pub(crate) struct Job {
    work: Box<dyn FnOnce(&mut Stream) + Send>,
    failed: Box<dyn FnOnce(&ApiError) + Send>,
}

/// Work for a stream.
pub(crate) enum StreamOp {
    Publish(Inbound),
    /// A message captured on one of the stream's mirror or source
    /// subjects (`via`): a copy, a heartbeat, flow control or a reply.
    Sourced {
        via: String,
        msg: Inbound,
    },
    Run(Job),
}

pub(crate) enum ShardMsg {
    Attach(Box<Attachment>),
    Op {
        id: u64,
        op: StreamOp,
        /// Bytes counted against the queue's limit.
        size: usize,
    },
    /// Commits and closes the stream, then says so.
    Detach {
        id: u64,
        done: Sender<()>,
    },
    Stop,
}

pub(crate) struct Attachment {
    id: u64,
    /// `None`: attached parked, opened on first use.
    stream: Option<Stream>,
    queue: Arc<Queue>,
    reopen: Option<Reopen>,
    /// Close its files at once if it is idle (a stream recovered at
    /// start-up: thousands of them must not all stay open).
    park: bool,
}

/// What the publishers and the shard share about one stream's queue.
pub(crate) struct Queue {
    id: u64,
    name: String,
    tx: Sender<ShardMsg>,
    msgs: AtomicUsize,
    bytes: AtomicUsize,
    limits: IngestLimits,
    /// When a full queue was last reported (unix seconds): one warning a
    /// second at most, as the reference rate-limits it.
    warned_at: AtomicI64,
    /// Why the stream is failed, while it is.
    failure: Mutex<Option<String>>,
    /// Stored bytes and consumers after the last commit (account info
    /// reads them without a round trip to every stream).
    stored_bytes: AtomicU64,
    consumers: AtomicU64,
}

impl crate::metrics::Depth for Queue {
    fn name(&self) -> &str {
        &self.name
    }

    fn depth(&self) -> usize {
        self.msgs.load(Ordering::Relaxed)
    }
}

impl Queue {
    /// Counts a message in, unless that takes the queue past its limits
    /// (a single message larger than the byte limit still goes alone).
    fn reserve(&self, size: usize) -> bool {
        let n = self.msgs.fetch_add(1, Ordering::AcqRel);
        let b = self.bytes.fetch_add(size, Ordering::AcqRel);
        if n >= self.limits.max_msgs || (n > 0 && b + size > self.limits.max_bytes) {
            self.release(size);
            return false;
        }
        true
    }

    fn release(&self, size: usize) {
        self.msgs.fetch_sub(1, Ordering::AcqRel);
        self.bytes.fetch_sub(size, Ordering::AcqRel);
    }

    fn warn_full(&self) {
        let now = crate::outbox::now_ns() / crate::stream::NANOS_PER_SEC;
        let last = self.warned_at.load(Ordering::Relaxed);
        if now > last
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                "Dropping messages due to excessive stream ingest rate on '$G' > '{}': queue limit reached",
                self.name
            );
        }
    }

    /// Records what the stream stores and how many consumers it has.
    pub(crate) fn note_state(&self, s: &Stream) {
        self.stored_bytes
            .store(s.store().state().bytes, Ordering::Relaxed);
        self.consumers
            .store(s.consumers.len() as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_failure(&self, why: Option<String>) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) = why;
    }
}

/// Why a publish was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refused {
    /// The stream's queue is at its limit: answer 429.
    Full,
    /// The stream is gone.
    Gone,
}

/// How the server routes publishes to the streams that capture them.
pub trait Captures: Send + Sync + 'static {
    /// From now on, publishes on `subjects` go to `inbox` (replacing any
    /// earlier capture for `stream`).
    /// Messages on `sourcing` (a mirror's or sources' deliver and reply
    /// subjects, no wildcards) go to `inbox.offer_sourced` with the
    /// subject they came through.
    fn capture(&self, stream: &str, subjects: &[String], sourcing: &[String], inbox: StreamInbox);
    /// Stops capturing for `stream`.
    fn release(&self, stream: &str);
}

/// Where work for one stream is handed over.
#[derive(Clone)]
pub struct StreamInbox {
    q: Arc<Queue>,
}

/// Bytes a queued publish holds.
fn inbound_size(m: &Inbound) -> usize {
    m.subject.len()
        + m.reply.as_ref().map_or(0, String::len)
        + m.headers.as_ref().map_or(0, |h| h.len())
        + m.payload.len()
}

impl StreamInbox {
    /// Queues a publish without blocking.
    pub fn offer(&self, msg: Inbound) -> Result<(), Refused> {
        let size = inbound_size(&msg);
        if !self.q.reserve(size) {
            self.q.warn_full();
            return Err(Refused::Full);
        }
        let op = ShardMsg::Op {
            id: self.q.id,
            op: StreamOp::Publish(msg),
            size,
        };
        self.q.tx.send(op).map_err(|_| {
            self.q.release(size);
            Refused::Gone
        })
    }

    /// Queues a message captured on the sourcing subject `via` without
    /// blocking (a full queue drops it: the origin's consumer is asked
    /// again from where the stream stands once the gap shows).
    pub fn offer_sourced(&self, via: &str, msg: Inbound) -> Result<(), Refused> {
        let size = inbound_size(&msg) + via.len();
        if !self.q.reserve(size) {
            self.q.warn_full();
            return Err(Refused::Full);
        }
        let op = ShardMsg::Op {
            id: self.q.id,
            op: StreamOp::Sourced {
                via: via.to_string(),
                msg,
            },
            size,
        };
        self.q.tx.send(op).map_err(|_| {
            self.q.release(size);
            Refused::Gone
        })
    }

    /// Queues work on the stream; `failed` answers instead when the stream
    /// cannot run it. False when the stream's shard is gone (neither runs).
    pub(crate) fn run(
        &self,
        work: impl FnOnce(&mut Stream) + Send + 'static,
        failed: impl FnOnce(&ApiError) + Send + 'static,
    ) -> bool {
        let job = Job {
            work: Box::new(work),
            failed: Box::new(failed),
        };
        let op = ShardMsg::Op {
            id: self.q.id,
            op: StreamOp::Run(job),
            size: 0,
        };
        match self.q.tx.send(op) {
            Ok(()) => true,
            Err(std::sync::mpsc::SendError(msg)) => {
                // The shard is gone: the caller still hears back.
                if let ShardMsg::Op {
                    op: StreamOp::Run(job),
                    ..
                } = msg
                {
                    (job.failed)(&ApiError::store_failed("the stream writers have stopped"));
                }
                false
            }
        }
    }

    /// Commits what the stream has, closes its store and forgets it; waits
    /// until that is done (so its files may be removed).
    pub fn stop(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        let detach = ShardMsg::Detach {
            id: self.q.id,
            done,
        };
        if self.q.tx.send(detach).is_ok() {
            let _ = wait.recv();
        }
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.q.name
    }

    /// Why the stream is failed, if it is.
    pub fn failure(&self) -> Option<String> {
        self.q
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stored bytes as of the stream's last commit.
    pub fn stored_bytes(&self) -> u64 {
        self.q.stored_bytes.load(Ordering::Relaxed)
    }

    /// Consumers as of the stream's last commit.
    pub fn consumer_count(&self) -> u64 {
        self.q.consumers.load(Ordering::Relaxed)
    }

    /// Records what the stream stores and its consumers now (before a
    /// reply that changed them goes out, so an account info after the
    /// reply counts it).
    pub(crate) fn note_state(&self, s: &Stream) {
        self.q.note_state(s);
    }
}

/// The header and body of the reference's answer to a publish refused
/// because the stream's queue is full.
pub fn refusal_ack(stream: &str) -> (&'static [u8], Vec<u8>) {
    (
        b"NATS/1.0 429 Too Many Requests\r\n\r\n",
        crate::api::PubAck::error(stream, &ApiError::too_many_requests()),
    )
}

struct ShardHandle {
    tx: Sender<ShardMsg>,
    thread: Option<JoinHandle<()>>,
}

/// The shard threads.
pub(crate) struct WriterPool {
    shards: Vec<ShardHandle>,
    next_id: AtomicU64,
    /// Every stream's queue, for its depth in `/metrics`.
    queues: Arc<crate::metrics::IngestQueues>,
}

/// Shards for this machine: one per core (at least two, so one stream's
/// fsync does not hold up every other stream), at most 16.
pub(crate) fn default_shards() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZero::get)
        .clamp(2, 16)
}

impl WriterPool {
    pub fn start(
        threads: usize,
        outbox: &Arc<dyn Outbox>,
        readers: &Arc<Readers>,
        release_memory: Option<fn()>,
    ) -> std::io::Result<WriterPool> {
        let mut shards = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let shard = shard::Shard::new(outbox.clone(), readers.clone(), release_memory);
            let thread = std::thread::Builder::new()
                .name(format!("js-shard-{i}"))
                .spawn(move || shard.run(&rx))?;
            shards.push(ShardHandle {
                tx,
                thread: Some(thread),
            });
        }
        Ok(WriterPool {
            shards,
            next_id: AtomicU64::new(1),
            queues: Arc::default(),
        })
    }

    /// The streams' ingest queues.
    pub fn ingest_queues(&self) -> Arc<crate::metrics::IngestQueues> {
        self.queues.clone()
    }

    /// Hands a stream to a shard; its durable consumers come back with it.
    /// `park`: an idle file stream closes its files at once.
    pub fn attach(
        &self,
        mut stream: Stream,
        reopen: Option<Reopen>,
        limits: IngestLimits,
        park: bool,
    ) -> Result<StreamInbox, StoreError> {
        stream.load_consumers(crate::outbox::now_ns())?;
        let name = stream.policy().name.clone();
        let bytes = stream.store().state().bytes;
        let consumers = stream.consumers.len() as u64;
        self.hand_over(
            &name,
            Some(stream),
            (bytes, consumers),
            reopen,
            limits,
            park,
        )
    }

    /// Hands a stream that is not open to a shard: its files are opened
    /// (by `reopen`) on its first work. `bytes`: what it stores, for the
    /// account's totals meanwhile.
    pub fn attach_parked(
        &self,
        name: &str,
        bytes: u64,
        reopen: Reopen,
        limits: IngestLimits,
    ) -> Result<StreamInbox, StoreError> {
        self.hand_over(name, None, (bytes, 0), Some(reopen), limits, false)
    }

    fn hand_over(
        &self,
        name: &str,
        stream: Option<Stream>,
        (bytes, consumers): (u64, u64),
        reopen: Option<Reopen>,
        limits: IngestLimits,
        park: bool,
    ) -> Result<StreamInbox, StoreError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shard = &self.shards[(id as usize) % self.shards.len()];
        let queue = Arc::new(Queue {
            id,
            name: name.to_string(),
            tx: shard.tx.clone(),
            msgs: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            limits,
            warned_at: AtomicI64::new(0),
            failure: Mutex::new(None),
            stored_bytes: AtomicU64::new(bytes),
            consumers: AtomicU64::new(consumers),
        });
        let weak: std::sync::Weak<dyn crate::metrics::Depth> = Arc::downgrade(&queue) as _;
        self.queues.add(weak);
        let attachment = Attachment {
            id,
            stream,
            queue: queue.clone(),
            reopen,
            park,
        };
        shard
            .tx
            .send(ShardMsg::Attach(Box::new(attachment)))
            .map_err(|_| StoreError::Stopped {
                what: "the stream writers have stopped",
            })?;
        Ok(StreamInbox { q: queue })
    }

    /// Commits and closes every stream, then ends the threads.
    pub fn stop(&mut self) {
        for shard in &self.shards {
            let _ = shard.tx.send(ShardMsg::Stop);
        }
        for shard in &mut self.shards {
            if let Some(t) = shard.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for WriterPool {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
