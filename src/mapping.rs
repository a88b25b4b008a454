//! Subject mappings (`mappings { }` at the top of the config, for the
//! global account, and in each account): a client's publish to a mapped
//! subject is routed under another, chosen by weight among the
//! destinations, with the subject-transform functions of
//! `tern_jetstream::transform` (Kafka-style partitions of a subject
//! space, canary splits). Applied after the publish permission check and
//! before routing, as the reference does; subscriptions are not mapped.

use tern_jetstream::subject::{has_wildcard, is_valid_subject, matches};
use tern_jetstream::transform::SubjectTransform;

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

#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    src: String,
    wildcard: bool,
    bands: Vec<Band>,
}

/// What a mapping makes of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// No mapping matches, or its weights kept the subject.
    Keep,
    /// Routed under this subject instead.
    To(String),
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

/// An account's mappings, in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mappings {
    entries: Vec<Mapping>,
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
        let bands = general
            .into_iter()
            .map(|(transform, w)| {
                upto = upto.saturating_add(w);
                Band { transform, upto }
            })
            .collect();
        let mapping = Mapping {
            src: src.to_owned(),
            wildcard: has_wildcard(src.as_bytes()),
            bands,
        };
        match self.entries.iter_mut().find(|m| m.src == src) {
            Some(existing) => *existing = mapping,
            None => self.entries.push(mapping),
        }
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
            return Mapped::Keep;
        };
        let band = match m.bands.as_slice() {
            [only] if only.upto == 100 => only,
            bands => {
                let roll = tern_jetstream::transform::random_below(100);
                match bands.iter().find(|b| u32::from(b.upto) > roll) {
                    Some(b) => b,
                    None => return Mapped::Drop,
                }
            }
        };
        let (Some(transform), Ok(subject)) = (&band.transform, std::str::from_utf8(subject)) else {
            return Mapped::Keep;
        };
        transform.apply(subject).map_or(Mapped::Keep, Mapped::To)
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
    fn weights_split_the_traffic_and_the_rest_is_kept() {
        let mut m = Mappings::default();
        m.add("w", &[dest("a", 30), dest("b", 20)]).expect("add");
        let mut counts = std::collections::HashMap::new();
        for _ in 0..4000 {
            let got = match m.select(b"w") {
                Mapped::To(s) => s,
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
