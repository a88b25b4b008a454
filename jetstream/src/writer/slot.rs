//! One stream on its shard: the batch being written (owed acks, consumer
//! deliveries), its commit, its timers, and what happens when its storage
//! fails.
//!
//! Every call into the stream runs under `catch_unwind`: a panic inside
//! the store (redb on a damaged file) ends this stream's work, not the
//! shard. A failed stream answers publishes with error acks and requests
//! with errors, and is retried with a backoff: a store that still reads is
//! given writes again, one that does not is reopened from its files. A
//! failure is logged when it starts, when its cause changes and when it
//! ends, never per attempt.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Job, Queue, Reopen, StreamOp};
use crate::api::PubAck;
use crate::error::ApiError;
use crate::outbox::{now_ns, OutMsg, Outbox};
use crate::store::{Readers, StoreError};
use crate::stream::{Batched, Inbound, PublishError, Stored, Stream};

/// The first retry of a failed stream, doubled per failed retry up to
/// `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// A file stream with nothing to do for this long closes its files and
/// frees its store (a few KB stay); the next work on it opens them again.
/// Thousands of idle KV buckets then cost memory and descriptors only
/// while used.
const PARK_AFTER: Duration = if cfg!(test) {
    Duration::from_millis(300)
} else {
    Duration::from_secs(5)
};

/// Tries, 1 ms apart, to reopen a parked file that a reader still holds.
const BUSY_RETRIES: usize = 50;

struct Failure {
    /// What publishes are answered with meanwhile.
    error: ApiError,
    /// Why, as logged.
    reason: String,
    /// Whether a full disk is the cause (the log line changes with it).
    no_space: bool,
    retry_at: Instant,
    backoff: Duration,
    /// A retry let writes through again; the next durable write decides
    /// whether the stream has recovered.
    probing: bool,
}

pub(super) struct Slot {
    pub(super) queue: Arc<Queue>,
    /// `None` while parked, or once a panic took it or a reopen failed.
    stream: Option<Stream>,
    /// Idle: the files are closed, and the next work opens them.
    parked: bool,
    last_active: Instant,
    failure: Option<Failure>,
    reopen: Option<Reopen>,
    /// Acks owed for the batch being written: (reply subject, ack JSON).
    acks: Vec<(String, Vec<u8>)>,
    /// Consumer deliveries and replies, sent after the commit.
    out: Vec<OutMsg>,
    /// The batch stored messages (its commit must be synced).
    published: bool,
    /// A write of the batch failed: the store went back to its last
    /// commit, so none of the batch's publishes may be acked.
    batch_error: Option<StoreError>,
    pub(super) touched: bool,
    /// `prepare` ran for the batch (and panicked, when set).
    prepared: bool,
    prepare_panic: Option<Panic>,
    /// When the batch's commit began (`prepare`), for the commit latency
    /// histogram.
    commit_started: Option<Instant>,
    /// The deadline this slot has in the shard's heap.
    pub(super) timer: Option<Instant>,
    /// The mirror or sources of a stream closed after a failure, for the
    /// stream opened in its place.
    kept_sourcing: Option<crate::sourcing::Sourcing>,
}

/// The text of a panic's payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

std::thread_local! {
    /// Set while a failed stream is retried: a panic then is the known
    /// failure again, not news for the log.
    static RETRYING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic on this thread is a failed stream's retry failing
/// again (a panic hook may leave it unlogged: the stream's failure was
/// logged when it began).
pub fn panic_is_a_retry() -> bool {
    RETRYING.with(std::cell::Cell::get)
}

/// Runs a retry of a failed stream with its panics marked as expected.
fn retrying<R>(f: impl FnOnce() -> R) -> R {
    RETRYING.with(|r| r.set(true));
    let out = f();
    RETRYING.with(|r| r.set(false));
    out
}

/// A panic caught in a stream's storage work; `Display` is its message.
#[derive(Debug)]
struct Panic(String);

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs `f`, catching a panic in it.
fn guard<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Panic(panic_text(&*p)))
}

/// Drops a stream whose work panicked; a second panic in its destructor
/// is contained too (what it held is then leaked).
fn discard(stream: Option<Stream>) {
    if let Some(s) = stream {
        let _ = guard(move || drop(s));
    }
}

fn ns_to_instant(at_ns: i64, now_ns: i64, now: Instant) -> Instant {
    now + Duration::from_nanos(u64::try_from(at_ns - now_ns).unwrap_or(0))
}

impl Slot {
    /// A slot for a running stream, or for a parked one (`None`: its
    /// files are opened by `reopen` on first use).
    pub(super) fn new(stream: Option<Stream>, queue: Arc<Queue>, reopen: Option<Reopen>) -> Self {
        Slot {
            queue,
            parked: stream.is_none() && reopen.is_some(),
            stream,
            last_active: Instant::now(),
            failure: None,
            reopen,
            acks: Vec::new(),
            out: Vec::new(),
            published: false,
            batch_error: None,
            touched: false,
            prepared: false,
            prepare_panic: None,
            commit_started: None,
            timer: None,
            kept_sourcing: None,
        }
    }

    fn name(&self) -> &str {
        &self.queue.name
    }

    /// Publishes are refused while the stream is failed and not probing.
    fn writes_refused(&self) -> bool {
        self.stream.is_none() || self.failure.as_ref().is_some_and(|f| !f.probing)
    }

    fn error(&self) -> ApiError {
        match &self.failure {
            Some(f) => f.error.clone(),
            None => ApiError::store_failed("stream unavailable"),
        }
    }

    pub(super) fn apply(
        &mut self,
        op: StreamOp,
        outbox: &dyn Outbox,
        readers: &Readers,
        now: Instant,
    ) {
        self.last_active = now;
        self.unpark(readers);
        match op {
            StreamOp::Publish(msg) => self.publish(&msg, readers),
            StreamOp::Sourced { via, msg } => self.sourced(&via, &msg, readers),
            StreamOp::Run(job) => self.run_job(job, outbox, readers),
        }
    }

    fn run_job(&mut self, job: Job, outbox: &dyn Outbox, readers: &Readers) {
        self.commit(outbox, readers);
        let Job { work, failed } = job;
        let Some(stream) = self.stream.as_mut() else {
            return failed(&self.error());
        };
        // Jobs that remove messages tell the consumers themselves, each as
        // the reference's store reports that kind of removal.
        let ran = guard(|| work(stream));
        if let Err(why) = ran {
            self.panicked(&why, outbox, readers);
            failed(&self.error());
        }
    }

    fn publish(&mut self, msg: &Inbound, readers: &Readers) {
        if crate::stream_consumers::is_consumer_traffic(&msg.subject) {
            return self.consumer_traffic(msg, readers);
        }
        if self.writes_refused() {
            if let Some(reply) = &msg.reply {
                let ack = PubAck::error(self.name(), &self.error());
                self.acks.push((reply.clone(), ack));
            }
            return;
        }
        self.published = true;
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let out = guard(|| {
            let before = stream.store().state().msgs;
            let result = stream.publish(msg, now_ns());
            if let Ok(stored) = &result {
                // A batch's commit told the consumers of each message.
                if !stored.duplicate && stored.batch.is_none() {
                    stream.after_publish(
                        stored.seq,
                        &msg.subject,
                        before,
                        stored.rolled_up.as_ref(),
                    );
                }
            }
            result
        });
        let result = match out {
            Ok(r) => r,
            Err(why) => {
                // The owed acks (this one included) are answered by the
                // failure; nothing of the batch is reported stored.
                if let Some(reply) = &msg.reply {
                    self.acks.push((reply.clone(), Vec::new()));
                }
                return self.panicked_pending(&why, readers);
            }
        };
        let Some(reply) = &msg.reply else {
            if let Err(PublishError::Store(e)) = result {
                self.batch_error.get_or_insert(e);
            }
            return;
        };
        let name = self.name();
        let ack = match result {
            Ok(Stored {
                batch: Some(Batched::Staged),
                ..
            }) => {
                // A staged batch message: an empty reply, at once.
                self.out.push(OutMsg::to_inbox(reply, None));
                return;
            }
            Ok(Stored {
                batch: Some(Batched::Replies(replies)),
                ..
            }) => {
                // A fast batch's answers, once what it stored is durable.
                for r in replies {
                    self.acks.push((reply.clone(), r));
                }
                return;
            }
            Ok(stored) => PubAck {
                stream: name.to_string(),
                seq: stored.seq,
                duplicate: stored.duplicate,
                val: stored.val,
                batch: match stored.batch {
                    Some(Batched::Committed { id, count }) => Some((id, count)),
                    _ => None,
                },
                ..PubAck::default()
            }
            .to_json(),
            Err(PublishError::Api(e)) => PubAck::error(name, &e),
            Err(PublishError::Store(e)) => {
                let ack = PubAck::error(name, &failure_error(&e));
                self.batch_error.get_or_insert(e);
                ack
            }
        };
        self.acks.push((reply.clone(), ack));
    }

    /// A mirror's or source's message: stored (or not) by the stream's
    /// sourcing; a failed write fails the batch like a publish's.
    fn sourced(&mut self, via: &str, msg: &Inbound, readers: &Readers) {
        if self.writes_refused() {
            // The copy is lost here; the origin's consumer is asked
            // again from what the stream holds once it recovers.
            return;
        }
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        self.published = true;
        let out = &mut self.out;
        if let Err(why) = guard(|| stream.sourcing_traffic(via, msg, now_ns(), out)) {
            self.panicked_pending(&why, readers);
        }
    }

    fn consumer_traffic(&mut self, msg: &Inbound, readers: &Readers) {
        let Some(stream) = self.stream.as_mut() else {
            // As if the consumer did not exist: a pull gets the 503.
            if let Some(reply) = &msg.reply {
                if msg.subject.starts_with(crate::consumer::pull::NEXT_PREFIX) {
                    let h = crate::headers::no_responders(&msg.subject);
                    self.out.push(OutMsg::to_inbox(reply, Some(h)));
                }
            }
            return;
        };
        let out = &mut self.out;
        if let Err(why) = guard(|| stream.consumer_traffic(msg, now_ns(), out)) {
            self.panicked_pending(&why, readers);
        }
    }

    /// Makes the batch durable, acks it, delivers to consumers, then has
    /// redb apply it. Any failure turns the batch's acks into errors.
    /// Whether the batch has a log to sync: what `prepare` is worth
    /// running beside other streams for.
    pub(super) fn needs_sync(&self) -> bool {
        self.published && self.batch_error.is_none() && self.stream.is_some()
    }

    /// The first half of a commit, which may run on a helper thread beside
    /// other streams' (their syncs then overlap): consumer state saved and
    /// the batch's log written and synced. `commit` does the rest.
    pub(super) fn prepare(&mut self) {
        if self.prepared {
            return;
        }
        self.prepared = true;
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        if self.published {
            self.commit_started = Some(Instant::now());
        }
        let (published, failed) = (self.published, self.batch_error.is_some());
        let name = &self.queue.name;
        let done = guard(|| {
            if let Err(e) = stream.save_consumers() {
                tracing::error!("JetStream stream '{name}': saving consumers: {e}");
            }
            // Published messages are durable once logged: the acks go
            // out before redb applies the batch. Consumer state alone is
            // written without a sync, as the reference does not sync it
            // per ack.
            if published && !failed {
                stream.store_mut().make_durable().err()
            } else {
                None
            }
        });
        match done {
            Ok(None) => {}
            Ok(Some(e)) => self.batch_error = Some(e),
            Err(why) => self.prepare_panic = Some(why),
        }
    }

    pub(super) fn commit(&mut self, outbox: &dyn Outbox, readers: &Readers) {
        self.prepare();
        self.prepared = false;
        if let Some(why) = self.prepare_panic.take() {
            return self.panicked(&why, outbox, readers);
        }
        let published = std::mem::take(&mut self.published);
        let started = self.commit_started.take();
        let batch = self.acks.len();
        let Some(stream) = self.stream.as_mut() else {
            self.send_acks(outbox);
            return;
        };
        let (acks, out, batch_error) = (&mut self.acks, &mut self.out, &mut self.batch_error);
        let queue = &self.queue;
        let name = &queue.name;
        let result = guard(|| {
            let mut trouble = batch_error.take();
            if trouble.is_some() {
                // The store went back to its last commit: recount.
                stream.after_removals();
            }
            if let Some(e) = &trouble {
                let err = failure_error(e);
                for (_, ack) in acks.iter_mut() {
                    *ack = PubAck::error(name, &err);
                }
            }
            // Before the acks: an account info after an ack counts it.
            queue.note_state(stream);
            outbox.publish_batch(acks);
            acks.clear();
            // Durable: RePublish copies go (not those of a failed batch).
            let republished = stream.take_after_commit();
            if trouble.is_none() && !republished.is_empty() {
                outbox.send(&republished);
            }
            // Durable, so consumers may see it; redb applies it after.
            stream.deliver_consumers(outbox, now_ns(), out);
            if !out.is_empty() {
                outbox.send(out);
                out.clear();
            }
            let applied = if published {
                stream.store_mut().commit()
            } else {
                stream.store_mut().commit_unsynced()
            };
            if let Err(e) = applied {
                trouble.get_or_insert(e);
            }
            trouble
        });
        match result {
            Ok(None) => {
                if published {
                    self.recovered();
                }
                if let Some(at) = started {
                    let m = crate::metrics::store();
                    m.commit_seconds.observe(at.elapsed().as_secs_f64());
                    m.commit_batch_messages.observe(batch as f64);
                }
                self.note_state();
            }
            Ok(Some(e)) => self.fail(&e),
            Err(why) => self.panicked(&why, outbox, readers),
        }
    }

    fn note_state(&self) {
        if let Some(s) = &self.stream {
            self.queue.note_state(s);
        }
    }

    fn send_acks(&mut self, outbox: &dyn Outbox) {
        if !self.acks.is_empty() {
            let err = self.error();
            let name = self.queue.name.clone();
            for (_, ack) in &mut self.acks {
                if ack.is_empty() {
                    *ack = PubAck::error(&name, &err);
                }
            }
            outbox.publish_batch(&self.acks);
            self.acks.clear();
        }
        if !self.out.is_empty() {
            outbox.send(&self.out);
            self.out.clear();
        }
    }

    /// A write failed: writes are refused until the retry.
    /// The shard has gone quiet: the stream's readers are brought up to
    /// date (see `Store::settle`).
    pub(super) fn settle(&mut self, outbox: &dyn Outbox, readers: &Readers) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        match guard(|| stream.store_mut().settle()) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fail(&e),
            Err(why) => self.panicked(&why, outbox, readers),
        }
    }

    fn fail(&mut self, e: &StoreError) {
        self.fail_as("writes failing", e);
    }

    /// Takes the stream out of the slot, keeping its mirror or sources
    /// for the stream opened in its place.
    fn take_stream(&mut self) -> Option<Stream> {
        let mut stream = self.stream.take()?;
        if let Some(sourcing) = stream.take_sourcing() {
            self.kept_sourcing = Some(sourcing);
        }
        Some(stream)
    }

    /// The same, saying what failed.
    fn fail_as(&mut self, what: &str, e: &StoreError) {
        // The store went back to its last commit: copying starts again
        // from there.
        if let Some(sourcing) = self.stream.as_mut().and_then(|s| s.sourcing.as_mut()) {
            sourcing.restart(now_ns(), &mut self.out);
        }
        if self.failure.is_some() {
            // Failing again: a longer wait, logged only if the cause changed.
            return self.retry_later(Some(e));
        }
        let reason = e.to_string();
        tracing::error!(
            "JetStream stream '{}': {what}, retrying with backoff: {reason}",
            self.queue.name
        );
        self.failure = Some(Failure {
            error: failure_error(e),
            reason: reason.clone(),
            no_space: e.is_no_space(),
            retry_at: Instant::now() + FIRST_RETRY,
            backoff: FIRST_RETRY,
            probing: false,
        });
        self.queue.set_failure(Some(reason));
    }

    fn recovered(&mut self) {
        if let Some(f) = self.failure.take() {
            tracing::info!(
                "JetStream stream '{}': recovered (was: {})",
                self.queue.name,
                f.reason
            );
            self.queue.set_failure(None);
        }
    }

    /// A panic during a publish: the batch cannot be trusted, so its acks
    /// become errors at the commit, which finds the stream gone.
    fn panicked_pending(&mut self, why: &Panic, readers: &Readers) {
        self.stop_after_panic(why);
        readers.set(&self.queue.name, None);
    }

    /// A panic outside a publish: the owed acks go out as errors now.
    fn panicked(&mut self, why: &Panic, outbox: &dyn Outbox, readers: &Readers) {
        self.stop_after_panic(why);
        readers.set(&self.queue.name, None);
        self.out.clear();
        self.send_acks(outbox);
    }

    fn stop_after_panic(&mut self, why: &Panic) {
        // Nothing of the batch may be reported stored: `send_acks` fills
        // emptied acks with the failure.
        for (_, ack) in &mut self.acks {
            ack.clear();
        }
        tracing::error!(
            "JetStream stream '{}': storage work panicked, stream stopped: {why}",
            self.queue.name
        );
        let stream = self.take_stream();
        discard(stream);
        self.published = false;
        self.batch_error = None;
        let reason = format!("stream failed: {why}");
        let now = Instant::now();
        self.failure = Some(Failure {
            error: ApiError::store_failed(&reason),
            reason: reason.clone(),
            no_space: false,
            retry_at: now + FIRST_RETRY,
            backoff: FIRST_RETRY,
            probing: false,
        });
        self.queue.set_failure(Some(reason));
    }

    /// The next time this stream needs its shard without a message.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        if let Some(f) = &self.failure {
            if !f.probing {
                return Some(f.retry_at);
            }
        }
        let s = self.stream.as_ref()?;
        let (now, now_ns) = (Instant::now(), now_ns());
        let expiry = s.next_expiry_ns().map(|at| ns_to_instant(at, now_ns, now));
        let consumers = s
            .next_consumer_deadline()
            .map(|at| ns_to_instant(at, now_ns, now));
        // Not while failing: a probing stream leaves the disk to publishes.
        let sync = if self.failure.is_some() {
            None
        } else {
            s.store().sync_deadline()
        };
        let park = self.parkable().then(|| self.last_active + PARK_AFTER);
        [expiry, consumers, sync, park].into_iter().flatten().min()
    }

    /// A file stream that is healthy and has nothing pending: no
    /// consumers (their state lives here), no timers, no unsynced log.
    fn parkable(&self) -> bool {
        let Some(s) = &self.stream else {
            return false;
        };
        self.reopen.is_some()
            && self.failure.is_none()
            && self.acks.is_empty()
            && self.out.is_empty()
            && s.consumers.is_empty()
            && s.sourcing.is_none()
            && s.next_expiry_ns().is_none()
            && s.store().sync_deadline().is_none()
    }

    /// Parks at once if there is nothing to keep the stream open for.
    pub(super) fn park_if_idle(&mut self, readers: &Readers) -> bool {
        if self.parkable() {
            self.park(readers);
            return true;
        }
        false
    }

    /// Closes the files of an idle stream.
    fn park(&mut self, readers: &Readers) {
        readers.set(&self.queue.name, None);
        self.note_state();
        if let Some(s) = self.take_stream() {
            if guard(move || drop(s)).is_err() {
                tracing::warn!(
                    "JetStream stream '{}': closing its files panicked",
                    self.queue.name
                );
            }
        }
        self.parked = true;
    }

    /// Opens a parked stream's files again; a failure to do so is a
    /// failure of the stream (answered, retried).
    fn unpark(&mut self, readers: &Readers) {
        if !self.parked {
            return;
        }
        self.parked = false;
        if let Some(Err(e)) = self.open_files(readers) {
            self.fail_as("its files cannot be opened", &e);
        }
    }

    /// Opens the stream's files with `reopen`; on success the stream and
    /// its reader are back. `None`: nothing to open from (memory).
    fn open_files(&mut self, readers: &Readers) -> Option<Result<(), StoreError>> {
        let reopen = self.reopen.as_mut()?;
        // A reader on another thread may hold the closed file a moment
        // longer (redb locks it): wait for it briefly.
        let mut opened = guard(&mut *reopen);
        for _ in 0..BUSY_RETRIES {
            if !matches!(opened, Ok(Err(StoreError::Busy { .. }))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
            opened = guard(&mut *reopen);
        }
        Some(match opened {
            Ok(Ok(mut stream)) => {
                readers.set(&self.queue.name, stream.store().reader());
                if let Some(mut sourcing) = self.kept_sourcing.take() {
                    sourcing.restart(now_ns(), &mut self.out);
                    stream.set_sourcing(Some(sourcing));
                }
                self.stream = Some(stream);
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(why) => Err(StoreError::Panicked {
                context: "opening",
                message: why.0,
            }),
        })
    }

    /// A deadline came: park an idle stream, retry a failure, or run the
    /// stream's timers. True when it parked.
    pub(super) fn on_timer(&mut self, outbox: &dyn Outbox, readers: &Readers) -> bool {
        if self.parkable() && Instant::now() >= self.last_active + PARK_AFTER {
            self.park(readers);
            return true;
        }
        if let Some(f) = &self.failure {
            if !f.probing {
                if Instant::now() < f.retry_at {
                    return false;
                }
                self.retry(outbox, readers);
                if self.writes_refused() {
                    return false;
                }
            }
        }
        self.timers_due(outbox, readers);
        false
    }

    fn retry(&mut self, outbox: &dyn Outbox, readers: &Readers) {
        let health = match &self.stream {
            Some(s) => guard(|| s.store().check()).unwrap_or_else(|why| {
                Err(StoreError::Panicked {
                    context: "health check",
                    message: why.0,
                })
            }),
            None => Err(StoreError::Stopped {
                what: "stream stopped",
            }),
        };
        match health {
            Ok(()) => {
                if let Some(f) = &mut self.failure {
                    f.probing = true;
                    self.queue
                        .set_failure(Some(format!("recovering: {}", f.reason)));
                }
            }
            Err(_) => self.reopen(outbox, readers),
        }
    }

    /// Closes the stream's files and opens them again (what redb needs
    /// after an I/O error, and a panicked stream needs anyway).
    fn reopen(&mut self, outbox: &dyn Outbox, readers: &Readers) {
        if self.reopen.is_none() {
            // A memory stream has nothing to reopen from.
            return self.retry_later(None);
        }
        let name = self.queue.name.clone();
        if let Some(s) = self.take_stream() {
            readers.set(&name, None);
            if guard(move || drop(s)).is_err() {
                tracing::warn!("JetStream stream '{name}': closing its files panicked");
            }
        }
        match retrying(|| self.open_files(readers)) {
            Some(Ok(())) => {
                self.recovered();
                self.note_state();
                let mut out = std::mem::take(&mut self.out);
                if let Some(s) = self.stream.as_mut() {
                    if guard(|| s.deliver_consumers(outbox, now_ns(), &mut out)).is_err() {
                        out.clear();
                    }
                }
                self.out = out;
                self.send_acks(outbox);
            }
            Some(Err(e)) => self.retry_later(Some(&e)),
            None => self.retry_later(None),
        }
    }

    fn retry_later(&mut self, e: Option<&StoreError>) {
        let now = Instant::now();
        if let Some(f) = &mut self.failure {
            f.probing = false;
            f.backoff = (f.backoff * 2).min(MAX_RETRY);
            f.retry_at = now + f.backoff;
            if let Some(e) = e {
                let no_space = e.is_no_space();
                if no_space != f.no_space {
                    tracing::error!("JetStream stream '{}': still failing: {e}", self.queue.name);
                }
                f.no_space = no_space;
                f.error = failure_error(e);
                f.reason = e.to_string();
                self.queue.set_failure(Some(f.reason.clone()));
            }
        }
    }

    /// Relaxed syncs, consumers' deadlines and expiry.
    fn timers_due(&mut self, outbox: &dyn Outbox, readers: &Readers) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let out = &mut self.out;
        let probing = self.failure.is_some();
        let ran = guard(|| -> Result<(bool, bool), StoreError> {
            let now = now_ns();
            // A probing stream lets publishes test the disk; a checkpoint
            // that fails would take redb down with it.
            if !probing
                && stream
                    .store()
                    .sync_deadline()
                    .is_some_and(|at| at <= Instant::now())
            {
                stream.store_mut().sync()?;
            }
            let ticked = stream.next_consumer_deadline().is_some_and(|at| at <= now);
            if ticked {
                stream.tick_consumers(outbox, now, out);
            }
            let expired = stream.expire(now)? > 0;
            if expired {
                stream.after_removals();
            }
            Ok((ticked, expired))
        });
        match ran {
            Ok(Ok((ticked, expired))) => {
                if expired {
                    // Like a publish: durable first, so readers of
                    // committed data step aside until redb has it, and
                    // consumers see markers only once a direct get would
                    // find them too.
                    self.published = true;
                }
                if ticked || expired || !self.out.is_empty() {
                    self.commit(outbox, readers);
                }
            }
            Ok(Err(e)) => self.fail(&e),
            Err(why) => self.panicked(&why, outbox, readers),
        }
    }

    /// Commits and syncs what the stream has, then closes it.
    pub(super) fn close(&mut self, outbox: &dyn Outbox) {
        self.parked = false;
        let readers = Readers::default();
        self.commit(outbox, &readers);
        if let Some(s) = self.stream.as_mut() {
            let synced = guard(|| {
                if s.store().sync_deadline().is_some() {
                    s.store_mut().sync()
                } else {
                    Ok(())
                }
            });
            match synced {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!("JetStream stream '{}': sync: {e}", self.name()),
                Err(why) => tracing::error!("JetStream stream '{}': sync: {why}", self.name()),
            }
        }
        self.send_acks(outbox);
        discard(self.stream.take());
    }
}

/// What a publish hears when the store fails: insufficient resources for
/// a full disk, as the reference reports it, else the store's failure.
fn failure_error(e: &StoreError) -> ApiError {
    if e.is_no_space() {
        ApiError::insufficient_resources()
    } else {
        ApiError::store_failed(e)
    }
}
