//! The writer thread of one stream: it owns the stream's state machine and
//! store, takes every queued publish, stores them in one batch, commits
//! once (group commit), and only then sends their acks. Other work on the
//! stream (info, gets, purges) runs here too, between batches, so the
//! store has a single user and needs no lock.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::api::PubAck;
use crate::engine::{now_ns, OutMsg, Outbox};
use crate::error::ApiError;
use crate::stream::{Inbound, PublishError, Stream};

/// Publishes stored per commit at most; a bound keeps ack latency fair
/// under a flood.
const MAX_BATCH: usize = 1024;
/// Queued operations a stream takes before publishes are refused.
pub const INBOX_CAPACITY: usize = 65_536;

/// Work for a stream's writer thread.
pub enum StreamOp {
    Publish(Inbound),
    /// Runs with the stream after everything before it is committed; its
    /// writes are committed right after it.
    Run(Box<dyn FnOnce(&mut Stream) + Send>),
    Stop,
}

/// Where publishes captured for a stream are handed over.
#[derive(Clone)]
pub struct StreamInbox {
    tx: SyncSender<StreamOp>,
}

impl StreamInbox {
    /// Queues a publish without blocking; false when the stream is full or
    /// gone (the publisher then gets no ack and retries).
    pub fn offer(&self, msg: Inbound) -> bool {
        match self.tx.try_send(StreamOp::Publish(msg)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Queues work on the stream's thread, waiting for room.
    pub fn run(&self, f: impl FnOnce(&mut Stream) + Send + 'static) -> bool {
        self.tx.send(StreamOp::Run(Box::new(f))).is_ok()
    }

    pub(crate) fn stop(&self) {
        let _ = self.tx.send(StreamOp::Stop);
    }
}

/// Starts a stream's writer thread.
pub fn spawn(
    mut stream: Stream,
    outbox: Arc<dyn Outbox>,
) -> std::io::Result<(StreamInbox, JoinHandle<()>)> {
    // Durable consumers saved in the store come back with their stream.
    stream.load_consumers(now_ns()).map_err(|e| {
        std::io::Error::other(format!("stream {}: consumers: {e}", stream.policy().name))
    })?;
    let (tx, rx) = std::sync::mpsc::sync_channel(INBOX_CAPACITY);
    let name = format!("stream-{}", stream.policy().name);
    let handle = std::thread::Builder::new().name(name).spawn(move || {
        Writer {
            stream,
            outbox,
            acks: Vec::new(),
            out: Vec::new(),
            published: false,
        }
        .run(&rx)
    })?;
    Ok((StreamInbox { tx }, handle))
}

struct Writer {
    stream: Stream,
    outbox: Arc<dyn Outbox>,
    /// Acks owed for the batch being written: (reply subject, ack JSON).
    acks: Vec<(String, Vec<u8>)>,
    /// Consumer deliveries and replies, sent after the commit.
    out: Vec<OutMsg>,
    /// The batch stored messages (its commit must be synced).
    published: bool,
}

impl Writer {
    fn run(mut self, rx: &Receiver<StreamOp>) {
        loop {
            let first = match self.wait(rx) {
                Some(op) => op,
                None => {
                    self.expire();
                    continue;
                }
            };
            let mut op = Some(first);
            let mut taken = 0;
            while let Some(next) = op.take() {
                match next {
                    StreamOp::Publish(msg) => self.publish(&msg),
                    StreamOp::Run(f) => {
                        self.commit();
                        f(&mut self.stream);
                        self.stream.after_removals();
                    }
                    StreamOp::Stop => {
                        self.commit();
                        self.sync(true);
                        return;
                    }
                }
                taken += 1;
                if taken < MAX_BATCH {
                    op = rx.try_recv().ok();
                }
            }
            self.commit();
            self.expire();
        }
    }

    /// The next operation, or `None` when an expiry or a relaxed sync is
    /// due first.
    fn wait(&self, rx: &Receiver<StreamOp>) -> Option<StreamOp> {
        let expiry = self
            .stream
            .next_expiry_ns()
            .map(|at| Duration::from_nanos(u64::try_from(at - now_ns()).unwrap_or(0)));
        let sync = self
            .stream
            .store()
            .sync_deadline()
            .map(|at| at.saturating_duration_since(std::time::Instant::now()));
        let consumers = self
            .stream
            .next_consumer_deadline()
            .map(|at| Duration::from_nanos(u64::try_from(at - now_ns()).unwrap_or(0)));
        let timeout = [expiry, sync, consumers].into_iter().flatten().min();
        let spin = timeout.map_or(crate::engine::SPIN, |t| t.min(crate::engine::SPIN));
        match crate::engine::spin_recv(rx, spin) {
            Ok(Some(op)) => return Some(op),
            Ok(None) => {}
            Err(()) => return Some(StreamOp::Stop),
        }
        match timeout {
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(op) => Some(op),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(StreamOp::Stop),
            },
            None => Some(rx.recv().unwrap_or(StreamOp::Stop)),
        }
    }

    fn publish(&mut self, msg: &Inbound) {
        if crate::stream_consumers::is_consumer_traffic(&msg.subject) {
            self.stream.consumer_traffic(msg, now_ns(), &mut self.out);
            return;
        }
        self.published = true;
        let before = self.stream.store().state().msgs;
        let result = self.stream.publish(msg, now_ns());
        if let Ok(stored) = &result {
            if !stored.duplicate {
                self.stream.after_publish(stored.seq, &msg.subject, before);
            }
        }
        let Some(reply) = &msg.reply else {
            return;
        };
        let name = &self.stream.policy().name;
        let ack = match result {
            Ok(stored) => PubAck::ok(name, stored.seq, stored.duplicate),
            Err(PublishError::Api(e)) => PubAck::error(name, &e),
            Err(PublishError::Store(e)) => {
                tracing::error!("stream {name}: store failed: {e}");
                PubAck::error(name, &ApiError::store_failed(e.to_string()))
            }
        };
        self.acks.push((reply.clone(), ack));
    }

    /// Makes the batch durable, then acks it. A failed commit turns every
    /// owed ack into an error: nothing of the batch may be reported stored.
    fn commit(&mut self) {
        if let Err(e) = self.stream.save_consumers() {
            tracing::error!(
                "stream {}: saving consumers: {e}",
                self.stream.policy().name
            );
        }
        let published = std::mem::take(&mut self.published);
        // Published messages are durable once logged: the acks go out
        // before redb applies the batch. Consumer state alone is written
        // without a sync, as the reference does not sync it per ack.
        let result = if published {
            self.stream.store_mut().make_durable()
        } else {
            Ok(())
        };
        if let Err(e) = result {
            let name = self.stream.policy().name.clone();
            tracing::error!("stream {name}: commit failed: {e}");
            let err = ApiError::store_failed(e.to_string());
            for (_, ack) in &mut self.acks {
                *ack = PubAck::error(&name, &err);
            }
        }
        self.outbox.publish_batch(&self.acks);
        self.acks.clear();
        // Durable, so consumers may see it; redb applies it after.
        self.stream
            .deliver_consumers(&*self.outbox, now_ns(), &mut self.out);
        if !self.out.is_empty() {
            self.outbox.send(&self.out);
            self.out.clear();
        }
        let applied = if published {
            self.stream.store_mut().commit()
        } else {
            self.stream.store_mut().commit_unsynced()
        };
        if let Err(e) = applied {
            tracing::error!("stream {}: commit failed: {e}", self.stream.policy().name);
        }
    }

    /// Syncs relaxed commits whose interval is up (all of them when
    /// `force`, as on shutdown).
    fn sync(&mut self, force: bool) {
        let Some(at) = self.stream.store().sync_deadline() else {
            return;
        };
        if force || at <= std::time::Instant::now() {
            if let Err(e) = self.stream.store_mut().sync() {
                tracing::error!("stream {}: sync failed: {e}", self.stream.policy().name);
            }
        }
    }

    fn expire(&mut self) {
        self.sync(false);
        if self
            .stream
            .next_consumer_deadline()
            .is_some_and(|at| at <= now_ns())
        {
            self.stream
                .tick_consumers(&*self.outbox, now_ns(), &mut self.out);
            self.commit();
        }
        match self.stream.expire(now_ns()) {
            Ok(0) => {}
            Ok(_) => {
                self.stream.after_removals();
                // Like a publish: durable first, so readers of committed
                // data step aside until redb has it, and consumers see
                // markers only once a direct get would find them too.
                self.published = true;
                self.commit();
            }
            Err(e) => tracing::error!("stream {}: expiry failed: {e}", self.stream.policy().name),
        }
    }
}
