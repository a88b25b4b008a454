//! What the store's write path measures for `/metrics`: commit latency,
//! group-commit batch size and `fdatasync` time as histograms (process
//! wide: every engine in the process adds to them), and each stream's
//! ingest queue depth (per engine, read on demand).
//!
//! Recording is a few relaxed atomic adds per commit, never per message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A histogram with fixed upper bounds, in the Prometheus manner:
/// `counts[i]` holds observations at most `bounds[i]` (not cumulative;
/// the exposition sums them), the last slot those above every bound.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    /// The sum of observations, as f64 bits (added with a CAS loop).
    sum: AtomicU64,
}

/// Seconds: 50 us to 2.5 s.
pub const SECONDS_BOUNDS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5,
];
/// Messages per commit: 1 to 1024 (a shard's largest pass).
pub const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

impl Histogram {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    pub(crate) fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// `(upper bound, cumulative count)` per bucket, `+Inf` last (as
    /// `f64::INFINITY`), then the sum and the count.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            total += c.load(Ordering::Relaxed);
            let bound = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, total));
        }
        (
            buckets,
            f64::from_bits(self.sum.load(Ordering::Relaxed)),
            total,
        )
    }
}

/// The store's histograms.
pub struct StoreMetrics {
    /// One stream's commit of a pass: log write, sync and redb commit.
    pub commit_seconds: Histogram,
    /// Messages a commit made durable.
    pub commit_batch_messages: Histogram,
    /// One `fdatasync` of a stream's log.
    pub fsync_seconds: Histogram,
}

/// The process's store metrics.
pub fn store() -> &'static StoreMetrics {
    static STORE: std::sync::OnceLock<StoreMetrics> = std::sync::OnceLock::new();
    STORE.get_or_init(|| StoreMetrics {
        commit_seconds: Histogram::new(SECONDS_BOUNDS),
        commit_batch_messages: Histogram::new(BATCH_BOUNDS),
        fsync_seconds: Histogram::new(SECONDS_BOUNDS),
    })
}

/// Something with a queue depth to report: a stream's ingest queue.
pub(crate) trait Depth: Send + Sync {
    fn name(&self) -> &str;
    /// Messages waiting for the stream's writer.
    fn depth(&self) -> usize;
}

/// The live ingest queues of one engine.
#[derive(Default)]
pub struct IngestQueues {
    queues: Mutex<Vec<Weak<dyn Depth>>>,
}

impl IngestQueues {
    pub(crate) fn add(&self, q: Weak<dyn Depth>) {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        queues.retain(|q| q.strong_count() > 0);
        queues.push(q);
    }

    /// `(stream, messages queued)` for every live stream, by name.
    pub fn depths(&self) -> Vec<(String, usize)> {
        let queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<(String, usize)> = queues
            .iter()
            .filter_map(Weak::upgrade)
            .map(|q: Arc<dyn Depth>| (q.name().to_string(), q.depth()))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_with_inf_last() {
        let h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.5, 1.5, 9.0] {
            h.observe(v);
        }
        let (buckets, sum, count) = h.snapshot();
        assert_eq!(buckets, [(1.0, 1), (2.0, 3), (f64::INFINITY, 4)]);
        assert!((sum - 12.5).abs() < 1e-9);
        assert_eq!(count, 4);
    }
}
