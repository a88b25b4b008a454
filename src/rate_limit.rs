//! Rate-limited log lines for rejections (failed sign-ins, refused and
//! failed connections): a flood of hostile clients must not flood the log.
//! Each kind logs up to `PER_SECOND` lines a second; past that, lines are
//! counted and the next line logged says how many were left out.

use std::sync::atomic::{AtomicU64, Ordering};

/// Lines of one kind logged per second at most.
const PER_SECOND: u64 = 10;

/// One kind of rejection's budget.
pub struct RateLimit {
    /// The second the budget is for (Unix seconds) and lines logged in it,
    /// packed as `second << 16 | count` so one atomic holds both.
    window: AtomicU64,
    suppressed: AtomicU64,
}

impl RateLimit {
    pub const fn new() -> Self {
        RateLimit {
            window: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether a line may be logged at Unix second `now`; if so, how many
    /// were left out before it.
    pub fn admit_at(&self, now: u64) -> Option<u64> {
        loop {
            let cur = self.window.load(Ordering::Relaxed);
            let (second, count) = (cur >> 16, cur & 0xFFFF);
            let next = if second == now {
                if count >= PER_SECOND {
                    self.suppressed.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                cur + 1
            } else {
                (now << 16) | 1
            };
            if self
                .window
                .compare_exchange(cur, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return Some(self.suppressed.swap(0, Ordering::Relaxed));
            }
        }
    }

    /// `admit_at` now.
    pub fn admit(&self) -> Option<u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.admit_at(now)
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::new()
    }
}

/// Failed sign-ins.
pub static AUTH_FAILURES: RateLimit = RateLimit::new();
/// Connections refused or failing before they start (limits, TLS).
pub static REFUSED_CONNECTIONS: RateLimit = RateLimit::new();

/// Logs `line` at error level under `limit`, noting lines left out.
pub fn error_limited(limit: &RateLimit, line: std::fmt::Arguments<'_>) {
    match limit.admit() {
        Some(0) => tracing::error!("{line}"),
        Some(n) => tracing::error!("{line} ({n} similar lines suppressed)"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_second_then_a_count() {
        let l = RateLimit::new();
        for _ in 0..PER_SECOND {
            assert_eq!(l.admit_at(100), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(l.admit_at(100), None);
        }
        assert_eq!(l.admit_at(101), Some(5));
        assert_eq!(l.admit_at(101), Some(0));
    }
}
