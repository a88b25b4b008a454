//! The interior gaps of a stream (sequences removed between its first and
//! last) as runs: a bucket whose keys are replaced behind one that stays
//! removes one sequence per update, and as runs those gaps cost a few
//! bytes per run of removals instead of a row and a tree node each.

use std::collections::BTreeMap;

/// Removed sequences, as disjoint runs `start..end` that never touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Gaps {
    runs: BTreeMap<u64, u64>,
    count: u64,
}

impl Gaps {
    /// Sequences held.
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The run holding `seq`, as `(start, end)`.
    pub(crate) fn run_of(&self, seq: u64) -> Option<(u64, u64)> {
        let (&start, &end) = self.runs.range(..=seq).next_back()?;
        (seq < end).then_some((start, end))
    }

    pub(crate) fn contains(&self, seq: u64) -> bool {
        self.run_of(seq).is_some()
    }

    /// Adds `seq`, joining the runs it touches; false if it was held.
    pub(crate) fn insert(&mut self, seq: u64) -> bool {
        self.insert_run(seq, seq.saturating_add(1)) == 1
    }

    /// Adds `start..end`, joining the runs it touches or overlaps;
    /// returns how many sequences were new.
    pub(crate) fn insert_run(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let (mut lo, mut hi) = (start, end);
        let mut held = 0;
        // Runs that overlap or touch start..end: from the last starting
        // at or before `start`, through those starting at or before `end`.
        let first = self
            .runs
            .range(..=start)
            .next_back()
            .filter(|(_, &e)| e >= start)
            .map_or(start, |(&s, _)| s);
        let joined: Vec<(u64, u64)> = self
            .runs
            .range(first..=end)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in joined {
            self.runs.remove(&s);
            held += e.min(end).saturating_sub(s.max(start));
            lo = lo.min(s);
            hi = hi.max(e);
        }
        self.runs.insert(lo, hi);
        let new = (end - start) - held;
        self.count += new;
        new
    }

    /// Takes the sequences below `at` out, and returns them.
    pub(crate) fn split_below(&mut self, at: u64) -> Gaps {
        let mut above = self.runs.split_off(&at);
        // A run starting below `at` may reach past it.
        if let Some((&s, &e)) = self.runs.iter().next_back() {
            if e > at {
                self.runs.insert(s, at);
                above.insert(at, e);
            }
        }
        let below = std::mem::replace(&mut self.runs, above);
        let below_count = below.iter().map(|(s, e)| e - s).sum();
        self.count -= below_count;
        Gaps {
            runs: below,
            count: below_count,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.runs.clear();
        self.count = 0;
    }

    /// The runs, in order, as `(start, end)`.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.runs.iter().map(|(&s, &e)| (s, e))
    }

    /// Every sequence, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs.iter().flat_map(|(&s, &e)| s..e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Random inserts and splits agree with a plain set.
    #[test]
    fn agrees_with_a_set() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..50 {
            let mut gaps = Gaps::default();
            let mut set = BTreeSet::new();
            for _ in 0..300 {
                match next(10) {
                    0 => {
                        let at = next(200);
                        let below = gaps.split_below(at);
                        let kept = set.split_off(&at);
                        let gone = std::mem::replace(&mut set, kept);
                        assert_eq!(below.iter().collect::<Vec<_>>(), Vec::from_iter(gone));
                        assert_eq!(below.len(), below.iter().count() as u64);
                    }
                    1 => {
                        let s = next(200);
                        let e = s + next(6);
                        let new = (s..e).filter(|q| set.insert(*q)).count() as u64;
                        assert_eq!(gaps.insert_run(s, e), new);
                    }
                    _ => {
                        let q = next(200);
                        assert_eq!(gaps.insert(q), set.insert(q));
                    }
                }
                assert_eq!(gaps.len(), set.len() as u64);
                assert_eq!(gaps.iter().collect::<Vec<_>>(), Vec::from_iter(set.clone()));
                let runs: Vec<_> = gaps.runs().collect();
                for w in runs.windows(2) {
                    assert!(w[0].1 < w[1].0, "runs touch: {runs:?}");
                }
                let q = next(210);
                assert_eq!(gaps.contains(q), set.contains(&q));
            }
        }
    }

    #[test]
    fn neighbours_join() {
        let mut g = Gaps::default();
        for q in [5, 7, 6, 9, 8, 4] {
            assert!(g.insert(q));
        }
        assert!(!g.insert(6));
        assert_eq!(g.runs().collect::<Vec<_>>(), [(4, 10)]);
        assert_eq!(g.run_of(9), Some((4, 10)));
        assert_eq!(g.run_of(10), None);
        let below = g.split_below(6);
        assert_eq!(below.runs().collect::<Vec<_>>(), [(4, 6)]);
        assert_eq!(g.runs().collect::<Vec<_>>(), [(6, 10)]);
        assert_eq!((below.len(), g.len()), (2, 4));
    }
}
