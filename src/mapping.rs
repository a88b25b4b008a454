//! Subject mappings (`mappings { }` at the top of the config, for the
//! global account, and in each account): a client's publish to a mapped
//! subject is routed under another, chosen by weight among the
//! destinations, with the subject-transform functions of
//! `tern_jetstream::transform` (Kafka-style partitions of a subject
//! space, canary splits). Applied after the publish permission check and
//! before routing, as the reference does; subscriptions are not mapped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tern_jetstream::subject::{has_wildcard, is_valid_subject, matches};
use tern_jetstream::transform::SubjectTransform;

/// Subjects whose mapping each thread remembers, at most.
const CACHED_SUBJECTS: usize = 4096;

/// Distinguishes mapping sets (an account's, after each reload) in the
/// per-thread caches.
static NEXT_SET: AtomicU64 = AtomicU64::new(1);

/// A cached result's key: the mapping set's id and the subject.
type CachedKey = (u64, Box<[u8]>);

thread_local! {
    /// The results of deterministic mappings this thread computed: by
    /// mapping set and subject. A mapped publish of a subject seen before
    /// costs a lookup instead of matching and transforming again (a
    /// `partition` mapping took about 130 ns a publish, measured).
    static CACHE: RefCell<HashMap<CachedKey, Mapped>> =
        RefCell::new(HashMap::default());
}

/// One destination as configured: a subject (with transform functions),
/// its weight in percent, and the cluster it is for (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDest {
    /// The destination subject, transform functions allowed.
    pub subject: String,
    /// Percent of the matching publishes that go there.
    pub weight: u8,
    /// The cluster it is for (`cluster`), if any.
    pub cluster: Option<String>,
}

/// One destination, compiled: the transform (`None`: the subject stays as
/// published) and the upper bound of its weight band (cumulative, 1-100).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Band {
    transform: Option<SubjectTransform>,
    upto: u8,
}

impl Band {
    /// Whether a subject always gets the same result here (no `random`).
    fn is_deterministic(&self) -> bool {
        self.transform
            .as_ref()
            .is_none_or(SubjectTransform::is_deterministic)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    src: String,
    wildcard: bool,
    bands: Vec<Band>,
    /// What a literal source with one deterministic destination always
    /// maps to, worked out once.
    fixed: Option<Mapped>,
}

/// What a mapping makes of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping matches, or its weights kept the subject.
    Keep,
    /// Routed under this subject instead.
    To(Arc<str>),
    /// The weights chose no destination (the source was listed with less
    /// than 100%): the message goes nowhere, as with the reference.
    Drop,
}

impl Mapped {
    /// The subject to route under (`subject` when kept), `None` when
    /// dropped.
    pub fn route<'a>(&'a self, subject: &'a [u8]) -> Option<&'a [u8]> {
        match self {
            Mapped::Keep => Some(subject),
            Mapped::To(to) => Some(to.as_bytes()),
            Mapped::Drop => None,
        }
    }
}

/// A cache key looked up by a borrowed subject (no allocation on a hit).
trait CacheKey {
    fn parts(&self) -> (u64, &[u8]);
}

impl CacheKey for CachedKey {
    fn parts(&self) -> (u64, &[u8]) {
        (self.0, &self.1)
    }
}

impl CacheKey for (u64, &[u8]) {
    fn parts(&self) -> (u64, &[u8]) {
        (self.0, self.1)
    }
}

impl<'a> std::borrow::Borrow<dyn CacheKey + 'a> for CachedKey {
    fn borrow(&self) -> &(dyn CacheKey + 'a) {
        self
    }
}

impl PartialEq for dyn CacheKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn CacheKey + '_ {}

impl std::hash::Hash for dyn CacheKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

/// An account's mappings, in the order they were added.
#[derive(Debug, Clone)]
pub struct Mappings {
    entries: Vec<Mapping>,
    /// This set's id in the per-thread caches.
    id: u64,
}

/// Equal when the mappings are (the cache id is not part of the value).
impl PartialEq for Mappings {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Mappings {}

impl Default for Mappings {
    fn default() -> Self {
        Mappings {
            entries: Vec::new(),
            id: NEXT_SET.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl Mappings {
    /// No mapping at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds (or replaces) the mapping of `src`; the errors are the
    /// reference's. Destinations for a cluster are checked but not used:
    /// a server outside a cluster takes the others.
    pub fn add(&mut self, src: &str, dests: &[MapDest]) -> Result<(), String> {
        if !is_valid_subject(src.as_bytes()) {
            return Err("invalid subject".to_string());
        }
        let mut seen = std::collections::HashSet::new();
        let mut totals: std::collections::HashMap<Option<&str>, u32> =
            std::collections::HashMap::new();
        let mut general = Vec::new();
        for d in dests {
            if !seen.insert(d.subject.as_str()) {
                return Err(format!("duplicate entry for {:?}", d.subject));
            }
            if d.weight > 100 {
                return Err("individual weights need to be <= 100".to_string());
            }
            let total = totals.entry(d.cluster.as_deref()).or_default();
            *total += u32::from(d.weight);
            if *total > 100 {
                return Err("total weight needs to be <= 100".to_string());
            }
            let transform = SubjectTransform::new(src, &d.subject).map_err(|e| e.to_string())?;
            if d.cluster.is_none() {
                general.push((Some(transform), d.weight));
            }
        }
        // What the weights leave of 100 keeps the subject as published,
        // unless the source is itself listed (then the rest is dropped).
        let listed: u32 = general.iter().map(|(_, w)| u32::from(*w)).sum();
        if listed != 100 && !seen.contains(src) {
            let rest = if general.is_empty() {
                100
            } else {
                100 - listed
            };
            general.push((None, u8::try_from(rest).unwrap_or(100)));
        }
        general.sort_by_key(|(_, w)| *w);
        let mut upto = 0u8;
        let bands: Vec<Band> = general
            .into_iter()
            .map(|(transform, w)| {
                upto = upto.saturating_add(w);
                Band { transform, upto }
            })
            .collect();
        let wildcard = has_wildcard(src.as_bytes());
        let fixed = match bands.as_slice() {
            [only] if !wildcard && only.upto == 100 && only.is_deterministic() => {
                Some(Self::apply(only, src.as_bytes()))
            }
            _ => None,
        };
        let mapping = Mapping {
            src: src.to_owned(),
            wildcard,
            bands,
            fixed,
        };
        match self.entries.iter_mut().find(|m| m.src == src) {
            Some(existing) => *existing = mapping,
            None => self.entries.push(mapping),
        }
        // Results cached for the set as it was are not this set's.
        self.id = NEXT_SET.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Where a publish to `subject` goes. `partition(n)` without tokens
    /// hashes the whole subject. (The reference, for a literal source
    /// matched before any other mapping was tried, hashes an empty token
    /// list instead; which mapping it tries first follows Go's map order,
    /// so that is not reproduced.)
    pub fn select(&self, subject: &[u8]) -> Mapped {
        let Some(m) = self.entries.iter().find(|m| {
            if m.wildcard {
                matches(m.src.as_bytes(), subject)
            } else {
                m.src.as_bytes() == subject
            }
        }) else {
            // Finding no match is as cheap as a cache lookup, and unique
            // subjects (inboxes) would only churn the cache.
            return Mapped::Keep;
        };
        if let Some(fixed) = &m.fixed {
            return fixed.clone();
        }
        let band = match m.bands.as_slice() {
            [only] if only.upto == 100 => only,
            bands => {
                // Weighted: a new roll each publish, nothing to remember.
                let roll = tern_jetstream::transform::random_below(100);
                return match bands.iter().find(|b| u32::from(b.upto) > roll) {
                    Some(b) => Self::apply(b, subject),
                    None => Mapped::Drop,
                };
            }
        };
        if !band.is_deterministic() {
            return Self::apply(band, subject);
        }
        let key = (self.id, subject);
        if let Some(hit) = CACHE.with(|c| c.borrow().get(&key as &dyn CacheKey).cloned()) {
            return hit;
        }
        let mapped = Self::apply(band, subject);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHED_SUBJECTS {
                c.clear();
            }
            c.insert((self.id, subject.into()), mapped.clone());
        });
        mapped
    }

    /// `subject` through one destination's transform.
    fn apply(band: &Band, subject: &[u8]) -> Mapped {
        let (Some(transform), Ok(subject)) = (&band.transform, std::str::from_utf8(subject)) else {
            return Mapped::Keep;
        };
        transform
            .apply(subject)
            .map_or(Mapped::Keep, |s| Mapped::To(s.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(subject: &str, weight: u8) -> MapDest {
        MapDest {
            subject: subject.into(),
            weight,
            cluster: None,
        }
    }

    #[test]
    fn plain_and_wildcard_mappings() {
        let mut m = Mappings::default();
        m.add("foo", &[dest("bar", 100)]).expect("add");
        m.add("orders.*.*", &[dest("o.$2.{{partition(3,1)}}", 100)])
            .expect("add");
        assert_eq!(m.select(b"foo"), Mapped::To("bar".into()));
        assert_eq!(m.select(b"fo"), Mapped::Keep);
        let Mapped::To(got) = m.select(b"orders.a.b") else {
            panic!("not mapped");
        };
        assert!(got.starts_with("o.b."), "{got}");
        assert_eq!(
            m.select(b"orders.a.b"),
            Mapped::To(got),
            "same key, same partition"
        );
        // Replaced, not added twice.
        m.add("foo", &[dest("baz", 100)]).expect("add");
        assert_eq!(m.select(b"foo"), Mapped::To("baz".into()));
        assert_eq!(m.entries.len(), 2);
    }

    #[test]
    fn cached_results_belong_to_their_set() {
        let mut one = Mappings::default();
        one.add("a.*", &[dest("x.$1", 100)]).expect("add");
        let mut two = Mappings::default();
        two.add("a.*", &[dest("y.$1", 100)]).expect("add");
        for _ in 0..2 {
            assert_eq!(one.select(b"a.k"), Mapped::To("x.k".into()));
            assert_eq!(two.select(b"a.k"), Mapped::To("y.k".into()));
        }
        // Changed after results were cached: the new destination.
        one.add("a.*", &[dest("z.$1", 100)]).expect("add");
        assert_eq!(one.select(b"a.k"), Mapped::To("z.k".into()));
        // `random` is never remembered.
        let mut r = Mappings::default();
        r.add("r.*", &[dest("r.{{random(1000)}}", 100)])
            .expect("add");
        let seen: std::collections::HashSet<_> = (0..50)
            .map(|_| match r.select(b"r.k") {
                Mapped::To(s) => s.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(seen.len() > 1, "{seen:?}");
    }

    #[test]
    fn weights_split_the_traffic_and_the_rest_is_kept() {
        let mut m = Mappings::default();
        m.add("w", &[dest("a", 30), dest("b", 20)]).expect("add");
        let mut counts = std::collections::HashMap::new();
        for _ in 0..4000 {
            let got = match m.select(b"w") {
                Mapped::To(s) => s.to_string(),
                Mapped::Keep => "w".to_string(),
                Mapped::Drop => "dropped".to_string(),
            };
            *counts.entry(got).or_insert(0u32) += 1;
        }
        let share = |k: &str| counts.get(k).copied().unwrap_or(0);
        assert!((1000..1400).contains(&share("a")), "{counts:?}");
        assert!((600..1000).contains(&share("b")), "{counts:?}");
        assert!((1800..2200).contains(&share("w")), "{counts:?}");
        // The source listed: what is left is dropped, not kept.
        let mut m = Mappings::default();
        m.add("x", &[dest("x", 50)]).expect("add");
        let kept = (0..2000)
            .filter(|_| m.select(b"x") == Mapped::To("x".into()))
            .count();
        let dropped = (0..2000).filter(|_| m.select(b"x") == Mapped::Drop).count();
        assert!((800..1200).contains(&dropped), "{dropped}");
        assert!((800..1200).contains(&kept), "{kept}");
    }

    #[test]
    fn bad_mappings_are_refused_as_the_reference_does() {
        let mut m = Mappings::default();
        assert_eq!(
            m.add("a", &[dest("b", 60), dest("c", 50)]),
            Err("total weight needs to be <= 100".to_string())
        );
        assert_eq!(
            m.add("a", &[dest("b", 10), dest("b", 10)]),
            Err("duplicate entry for \"b\"".to_string())
        );
        assert_eq!(
            m.add("a.*", &[dest("{{wildcard(2)}}", 100)]),
            Err(
                "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
                    .to_string()
            )
        );
        assert!(m.is_empty());
    }
}

#[cfg(test)]
mod speed {
    /// By hand (`cargo test --release --lib mapping_cost -- --ignored
    /// --nocapture`): what a mapped publish pays for its mapping.
    #[test]
    #[ignore = "a measurement, by hand"]
    fn mapping_cost() {
        let mut m = super::Mappings::default();
        let dest = |s: &str| super::MapDest {
            subject: s.into(),
            weight: 100,
            cluster: None,
        };
        m.add("orders.*.*", &[dest("part.{{partition(8,1,2)}}.$1.$2")])
            .expect("mapping");
        m.add("plain", &[dest("renamed")]).expect("mapping");
        for subject in [&b"orders.eu.12345"[..], b"plain", b"unmapped.subject"] {
            let n = 2_000_000;
            let start = std::time::Instant::now();
            let mut keep = 0usize;
            for _ in 0..n {
                if let super::Mapped::To(s) = m.select(subject) {
                    keep += s.len();
                }
            }
            let per = start.elapsed().as_nanos() as f64 / n as f64;
            eprintln!(
                "{}: {per:.0} ns per publish ({keep})",
                String::from_utf8_lossy(subject)
            );
        }
    }
}
