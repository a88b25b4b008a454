//! Match caches for literal subjects: one shared per router, one small one
//! per connection in front of it. Both are keyed by the subject bytes and
//! hashed with a fast non-cryptographic hash: subjects are not secret and
//! the shared cache is bounded, so flooding only costs a clear.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use bytes::Bytes;

use super::{MatchResult, Router};

/// Entries kept before a cache is cleared and refilled.
const SHARED_CACHE_ENTRIES: usize = 8192;
const LOCAL_CACHE_ENTRIES: usize = 256;

/// The FxHash mix: one multiply per word, plenty for short subject keys.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

type FxMap<V> = HashMap<Bytes, V, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
pub struct SharedCache {
    map: FxMap<Arc<MatchResult>>,
    /// Lookups and hits (`/subsz` num_matches, cache_hit_rate), counted
    /// under the lock already held.
    lookups: u64,
    hits: u64,
}

impl SharedCache {
    pub fn get(&mut self, subject: &[u8]) -> Option<Arc<MatchResult>> {
        self.lookups += 1;
        let hit = self.map.get(subject).cloned();
        self.hits += u64::from(hit.is_some());
        hit
    }

    /// Lookups and hits so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.lookups, self.hits)
    }

    /// How many subscriptions each cached subject reaches.
    pub fn fanouts(&self) -> Vec<usize> {
        self.map.values().map(|r| r.fanout()).collect()
    }

    pub fn insert(&mut self, subject: &[u8], result: Arc<MatchResult>) {
        if self.map.len() >= SHARED_CACHE_ENTRIES {
            self.map.clear();
        }
        self.map.insert(Bytes::copy_from_slice(subject), result);
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

/// A connection's own cache: no lock, valid while the router's generation
/// is the one it was filled at.
#[derive(Default)]
pub struct LocalCache {
    generation: u64,
    map: FxMap<Arc<MatchResult>>,
}

impl LocalCache {
    /// Every subscription matching `subject`: from this cache while the
    /// router's generation is unchanged, else through the router's lookup.
    pub fn lookup(&mut self, router: &Router, subject: &[u8]) -> Arc<MatchResult> {
        let generation = router.generation();
        if generation != self.generation {
            self.map.clear();
            self.generation = generation;
        } else if let Some(hit) = self.map.get(subject) {
            return hit.clone();
        }
        let result = router.lookup(subject);
        // The generation may have moved during the lookup; the entry is
        // then dropped on the next call, when the mismatch is seen.
        if self.map.len() >= LOCAL_CACHE_ENTRIES {
            self.map.clear();
        }
        self.map
            .insert(Bytes::copy_from_slice(subject), result.clone());
        result
    }
}
