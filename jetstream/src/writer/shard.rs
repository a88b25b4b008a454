//! One shard thread: its streams, their queued work and their timers.
//!
//! The thread takes everything queued (up to `MAX_BATCH` operations, for
//! any of its streams), applies each to its stream in order, then commits
//! every stream it touched, once. Timers (expiry, relaxed syncs,
//! consumers' deadlines, failure retries) are one heap for the whole
//! shard: a stream pushes its next deadline when it changes, and stale
//! entries are skipped when they come up.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

use super::slot::Slot;
use super::{ShardMsg, StreamOp};
use crate::error::ApiError;
use crate::outbox::Outbox;
use crate::store::Readers;

/// Operations taken per pass at most; a bound keeps ack latency fair
/// under a flood.
const MAX_BATCH: usize = 1024;
/// The least wait after a stream's timer ran before it runs again.
const TIMER_FLOOR: std::time::Duration = std::time::Duration::from_millis(1);
/// The timer entry that is not a stream's: the next memory release.
const RELEASE_TIMER: u64 = 0;

/// Stream ids are small sequential integers: they hash as themselves.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type SlotMap = HashMap<u64, Slot, std::hash::BuildHasherDefault<IdHasher>>;

pub(super) struct Shard {
    slots: SlotMap,
    /// (deadline, stream id); an entry is live only while it equals the
    /// slot's `timer`.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Streams with work in the current pass, to commit at its end.
    touched: Vec<u64>,
    outbox: Arc<dyn Outbox>,
    readers: Arc<Readers>,
    release_memory: Option<fn()>,
    /// Streams parked since memory was last released.
    parked: usize,
    released_at: Instant,
    release_pending: bool,
    pass_started: Instant,
    /// Streams committed to since the shard was last quiet: their readers
    /// are brought up to date when it goes quiet.
    unsettled: Vec<u64>,
    /// The current pass has publishes in it.
    pass_published: bool,
}

/// How long the shard waits for work before it settles its streams (their
/// readers then see every commit without a round trip through it): long
/// enough that a steady load never pays for it.
const SETTLE_AFTER: std::time::Duration = std::time::Duration::from_millis(1);

/// How often at most the shard hands freed memory back.
const RELEASE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Threads that sync a pass's streams side by side at most (the shard's
/// own and helpers): one stream's `fdatasync` need not wait for another's.
const SYNC_THREADS: usize = 4;

/// Makes each stream's batch durable; when several need a sync, on a few
/// threads at once (the file system merges concurrent syncs into fewer
/// journal commits).
fn prepare_all(batch: &mut [(u64, Slot)]) {
    let syncing = batch.iter().filter(|(_, s)| s.needs_sync()).count();
    if syncing < 2 {
        for (_, slot) in batch.iter_mut() {
            slot.prepare();
        }
        return;
    }
    // Only the streams that sync are spread; the rest are cheap.
    let (mut sync, mut rest): (Vec<&mut Slot>, Vec<&mut Slot>) = batch
        .iter_mut()
        .map(|(_, s)| s)
        .partition(|s| s.needs_sync());
    let chunk = sync.len().div_ceil(syncing.min(SYNC_THREADS));
    std::thread::scope(|scope| {
        let mut parts = sync.chunks_mut(chunk);
        let own = parts.next();
        for part in parts {
            scope.spawn(move || {
                for slot in part.iter_mut() {
                    slot.prepare();
                }
            });
        }
        for slot in own.into_iter().flatten() {
            slot.prepare();
        }
    });
    for slot in &mut rest {
        slot.prepare();
    }
}

enum Wake {
    Msg(ShardMsg),
    Timer,
    Closed,
}

impl Shard {
    pub(super) fn new(
        outbox: Arc<dyn Outbox>,
        readers: Arc<Readers>,
        release_memory: Option<fn()>,
    ) -> Self {
        Shard {
            slots: SlotMap::default(),
            timers: BinaryHeap::new(),
            touched: Vec::new(),
            outbox,
            readers,
            release_memory,
            parked: 0,
            released_at: Instant::now(),
            release_pending: false,
            pass_started: Instant::now(),
            unsettled: Vec::new(),
            pass_published: false,
        }
    }

    pub(super) fn run(mut self, rx: &Receiver<ShardMsg>) {
        loop {
            let first = match self.wait(rx) {
                Wake::Msg(m) => m,
                Wake::Timer => {
                    self.run_timers();
                    continue;
                }
                Wake::Closed => break,
            };
            let mut next = Some(first);
            let mut taken = 0;
            // One clock read a pass: when its streams were last active.
            self.pass_started = Instant::now();
            while let Some(msg) = next.take() {
                if !self.handle(msg) {
                    self.stop_all();
                    return;
                }
                taken += 1;
                if taken < MAX_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            self.commit_touched();
            // Reads only (through the shard, as readers are behind): bring
            // the readers up to date, so the next reads need no shard.
            if !std::mem::take(&mut self.pass_published) && !self.unsettled.is_empty() {
                self.settle_all();
            }
            self.run_timers();
        }
        self.stop_all();
    }

    /// False on `Stop`.
    fn handle(&mut self, msg: ShardMsg) -> bool {
        match msg {
            ShardMsg::Attach(a) => {
                let id = a.id;
                let mut slot = Slot::new(a.stream, a.queue, a.reopen);
                if a.park && slot.park_if_idle(&self.readers) {
                    self.parked += 1;
                }
                self.slots.insert(id, slot);
                self.reschedule(id);
            }
            ShardMsg::Op { id, op, size } => self.op(id, op, size),
            ShardMsg::Detach { id, done } => {
                if let Some(mut slot) = self.slots.remove(&id) {
                    self.touched.retain(|t| *t != id);
                    slot.close(&*self.outbox);
                }
                let _ = done.send(());
            }
            ShardMsg::Stop => return false,
        }
        true
    }

    fn op(&mut self, id: u64, op: StreamOp, size: usize) {
        let Some(slot) = self.slots.get_mut(&id) else {
            // Detached meanwhile: its callers still hear back.
            if let StreamOp::Run(job) = op {
                (job.failed)(&ApiError::stream_not_found());
            }
            return;
        };
        if let StreamOp::Publish(_) | StreamOp::Sourced { .. } = &op {
            slot.queue.release(size);
            self.pass_published = true;
        }
        if !slot.touched {
            slot.touched = true;
            self.touched.push(id);
        }
        slot.apply(op, &*self.outbox, &self.readers, self.pass_started);
    }

    fn commit_touched(&mut self) {
        let touched = std::mem::take(&mut self.touched);
        let mut batch: Vec<(u64, Slot)> = touched
            .iter()
            .filter_map(|id| self.slots.remove(id).map(|s| (*id, s)))
            .collect();
        prepare_all(&mut batch);
        for (id, mut slot) in batch {
            slot.touched = false;
            slot.commit(&*self.outbox, &self.readers);
            self.slots.insert(id, slot);
        }
        for id in &touched {
            self.reschedule(*id);
            if !self.unsettled.contains(id) {
                self.unsettled.push(*id);
            }
        }
        self.touched = touched;
        self.touched.clear();
    }

    /// Pushes the stream's next deadline if it changed.
    fn reschedule(&mut self, id: u64) {
        self.reschedule_after(id, None);
    }

    /// The same, but never earlier than `not_before`: a timer that ran and
    /// left its deadline in the past must not spin the shard.
    fn reschedule_after(&mut self, id: u64, not_before: Option<Instant>) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let next = match (slot.next_deadline(), not_before) {
            (Some(at), Some(min)) => Some(at.max(min)),
            (next, _) => next,
        };
        if next != slot.timer {
            slot.timer = next;
            if let Some(at) = next {
                self.timers.push(Reverse((at, id)));
            }
        }
        // Stale entries pile up when deadlines move often; rebuild the
        // heap from the live ones before it outgrows the streams.
        if self.timers.len() > 4 * self.slots.len() + 1024 {
            self.timers = self
                .slots
                .iter()
                .filter_map(|(id, s)| s.timer.map(|at| Reverse((at, *id))))
                .collect();
            self.release_pending = false;
        }
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            if slot.timer != Some(at) {
                continue;
            }
            slot.timer = None;
            if slot.on_timer(&*self.outbox, &self.readers) {
                self.parked += 1;
            }
            self.reschedule_after(id, Some(now + TIMER_FLOOR));
        }
        if self.parked > 0 {
            if let Some(release) = self.release_memory {
                if self.released_at.elapsed() >= RELEASE_EVERY {
                    release();
                    self.parked = 0;
                    self.released_at = Instant::now();
                    self.release_pending = false;
                } else if !self.release_pending {
                    // Once more when the interval is up.
                    let at = self.released_at + RELEASE_EVERY;
                    self.timers.push(Reverse((at, RELEASE_TIMER)));
                    self.release_pending = true;
                }
            }
        }
    }

    /// The next message, or a timer that is due first. Work that follows
    /// its predecessor closely costs no thread wake-up (the short spin).
    fn wait(&mut self, rx: &Receiver<ShardMsg>) -> Wake {
        let next_timer = loop {
            match self.timers.peek().copied() {
                Some(Reverse((at, id))) => {
                    let live = id == RELEASE_TIMER
                        || self.slots.get(&id).is_some_and(|s| s.timer == Some(at));
                    if live {
                        break Some(at);
                    }
                    self.timers.pop();
                }
                None => break None,
            }
        };
        let timeout = next_timer.map(|at| at.saturating_duration_since(Instant::now()));
        let spin = timeout.map_or(crate::outbox::SPIN, |t| t.min(crate::outbox::SPIN));
        match crate::outbox::spin_recv(rx, spin) {
            Ok(Some(m)) => return Wake::Msg(m),
            Ok(None) => {}
            Err(()) => return Wake::Closed,
        }
        if !self.unsettled.is_empty() && timeout.is_none_or(|t| t > SETTLE_AFTER) {
            match rx.recv_timeout(SETTLE_AFTER) {
                Ok(m) => return Wake::Msg(m),
                Err(RecvTimeoutError::Timeout) => self.settle_all(),
                Err(RecvTimeoutError::Disconnected) => return Wake::Closed,
            }
            // Waited a while: the timer may be due now.
            if next_timer.is_some_and(|at| at <= Instant::now()) {
                return Wake::Timer;
            }
        }
        let timeout = next_timer.map(|at| at.saturating_duration_since(Instant::now()));
        match timeout {
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(m) => Wake::Msg(m),
                Err(RecvTimeoutError::Timeout) => Wake::Timer,
                Err(RecvTimeoutError::Disconnected) => Wake::Closed,
            },
            None => rx.recv().map_or(Wake::Closed, Wake::Msg),
        }
    }

    /// Brings the readers of the streams committed to since the last time
    /// up to date.
    fn settle_all(&mut self) {
        for id in std::mem::take(&mut self.unsettled) {
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.settle(&*self.outbox, &self.readers);
            }
        }
    }

    fn stop_all(&mut self) {
        self.commit_touched();
        for (_, mut slot) in self.slots.drain() {
            slot.close(&*self.outbox);
        }
    }
}
